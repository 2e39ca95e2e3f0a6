"""Helpers for the local demo (run with the project's .venv python).

  listen PORT DIR      a ResponseURL stand-in: records each PUT body as DIR/NNN.json and prints it
  show ROLE            prints the role as IAM (moto at AWS_ENDPOINT_URL) reports it
  make-role NAME SVC   creates a role outside the tool (for the adoption demo)
"""
import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer


def listen(port, out_dir):
    os.makedirs(out_dir, exist_ok=True)

    class Handler(BaseHTTPRequestHandler):
        def do_PUT(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            n = len(os.listdir(out_dir))
            with open(os.path.join(out_dir, f"{n:03}.json"), "wb") as f:
                f.write(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    HTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def iam():
    import boto3

    return boto3.client("iam", region_name="us-east-1")


def show(role):
    c = iam()
    try:
        r = c.get_role(RoleName=role)["Role"]
    except c.exceptions.NoSuchEntityException:
        print(f"  role {role}: (does not exist)")
        return
    trust = r["AssumeRolePolicyDocument"]
    principals = [s.get("Principal", {}).get("Service") for s in trust.get("Statement", [])]
    print(f"  role {role}  path={r['Path']}  arn={r['Arn']}")
    print(f"    trust: {json.dumps(principals)} may sts:AssumeRole")
    pols = c.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
    print("    policies: " + ", ".join(sorted(p["PolicyName"] for p in pols)))
    profiles = c.list_instance_profiles_for_role(RoleName=role)["InstanceProfiles"]
    print("    instance profile: " + (", ".join(p["InstanceProfileName"] for p in profiles) or "(none)"))
    if r.get("PermissionsBoundary"):
        print("    boundary: " + r["PermissionsBoundary"]["PermissionsBoundaryArn"])
    tags = {t["Key"]: t["Value"] for t in r.get("Tags", [])}
    mine = {k.split(":", 1)[1]: v for k, v in tags.items() if k.startswith("eks-node-role-guard:") and k != "eks-node-role-guard:stack-id"}
    other = {k: v for k, v in tags.items() if not k.startswith("eks-node-role-guard:")}
    print(f"    management tags: {json.dumps(mine)}")
    if other:
        print(f"    tags: {json.dumps(other)}")


def make_role(name, service):
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    c = iam()
    c.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    c.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
    c.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")
    print(f"  created {name} outside the tool: trusts {service}, has AmazonEKSWorkerNodePolicy + AmazonEKS_CNI_Policy")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"listen": listen, "show": show, "make-role": make_role}[cmd](*args)
