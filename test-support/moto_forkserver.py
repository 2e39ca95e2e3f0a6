"""A moto server per test in ~50 ms instead of ~1.5 s: one Python process imports moto, builds the backends the
tests use (IAM with the AWS managed policies, DynamoDB, CloudFormation, STS, Lambda, EventBridge, KMS, EKS) once,
then forks a fresh server for each test that asks. Every child starts from the same empty, warmed state and is
independent of every other: the same moto, without paying its start-up per test.

    python moto_forkserver.py SOCKET WATCH_PID

A client connects to the Unix socket SOCKET and sends one line, the pid of the test process; it reads back one
JSON line {"pid": child, "port": port}: a moto server already listening on 127.0.0.1:port. The child exits when it
is killed (the test stops it by pid) or when the test process is gone. This server exits when WATCH_PID is gone.
scripts/test.sh starts it and stops it by pid; without it, test-support starts moto_server itself.
"""

import json
import os
import random
import signal
import socket
import sys
import threading
import time


def warm(app):
    """One harmless request per service the tests use, so each service's app and us-east-1 backend exist before
    the fork (IAM loads its ~1,300 managed policies here)."""
    from werkzeug.test import Client

    client = Client(app)
    auth = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=x"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    queries = {
        "iam": "Action=ListRoles&Version=2010-05-08",
        "sts": "Action=GetCallerIdentity&Version=2011-06-15",
        "cloudformation": "Action=ListStacks&Version=2010-05-15",
    }
    for service, body in queries.items():
        client.post("/", data=body, headers={**form, "Authorization": auth.format(service)})
    targets = {
        "dynamodb": "DynamoDB_20120810.ListTables",
        "events": "AWSEvents.ListEventBuses",
        "kms": "TrentService.ListKeys",
    }
    for service, target in targets.items():
        client.post(
            "/",
            data="{}",
            headers={
                "Content-Type": "application/x-amz-json-1.1",
                "X-Amz-Target": target,
                "Authorization": auth.format(service),
            },
        )
    client.get("/2015-03-31/functions/", headers={"Authorization": auth.format("lambda")})
    client.get("/clusters", headers={"Authorization": auth.format("eks")})


def alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def exit_when_gone(pid):
    def watch():
        while alive(pid):
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, daemon=True).start()


def serve_child(app, conn, watch_pid):
    """In the forked child: listen on a free loopback port, say which, serve until killed or orphaned."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    random.seed()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    os.environ["MOTO_PORT"] = str(port)
    server = make_server(
        "127.0.0.1", port, app, threaded=True, request_handler=MotoRequestHandler, fd=sock.fileno()
    )
    conn.sendall((json.dumps({"pid": os.getpid(), "port": port}) + "\n").encode())
    conn.close()
    exit_when_gone(watch_pid)
    server.serve_forever()
    os._exit(0)


def main():
    path, watch_pid = sys.argv[1], int(sys.argv[2])
    os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True
    warm(app)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped as they exit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    exit_when_gone(watch_pid)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path + ".tmp")
    listener.listen(64)
    os.rename(path + ".tmp", path)  # the socket appears only once it accepts
    while True:
        conn, _ = listener.accept()
        try:
            line = conn.makefile().readline()
            test_pid = int(line.strip())
        except (ValueError, OSError):
            conn.close()
            continue
        if os.fork() == 0:
            listener.close()
            serve_child(app, conn, test_pid)
        conn.close()


if __name__ == "__main__":
    main()
