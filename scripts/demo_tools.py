"""Helpers for the local demo (run with the project's .venv python; AWS_ENDPOINT_URL points at moto).

  listen PORT DIR                  a ResponseURL stand-in: records each PUT body as DIR/NNN.json
  prepare TABLE                    what an installation provides: the state table, a Lambda function for stacks to
                                   name as ServiceToken, and AWS's IPv6 CNI policy (CreateIpv6CniPolicy=true)
  stack NAME LOGICAL...            a CloudFormation stack holding Custom::EksNodeRole resources (moto keeps it
                                   CREATE_IN_PROGRESS until the function answers); prints its StackId
  aim FILE STACK_ID OUT URL [NAME] writes FILE as OUT with StackId, ResponseURL (and RoleName) replaced
  cfn-stand-in PORT MOTO STATE     CloudFormation as it reports a custom resource, in front of moto (which shows
                                   the stack's status for every resource and no physical id): DescribeStacks and
                                   DescribeStackResource(s) of the stacks in STATE are answered from it, every
                                   other request goes on to moto
  modelled-stack STATE NAME LOGICAL  a stack kept in STATE (not in moto); prints its StackId
  phase STATE REQUEST              shows REQUEST's stack and resource as CloudFormation does while it sends it
  answered STATE REQUEST RESPONSE  records the answer as CloudFormation does (the resource's id, the stack done)
  status STACK_ID                  prints the stack's status and outputs
  show ROLE                        prints the role as IAM reports it
  item ROLE TABLE                  prints the role's state item, the function's authority
  make-role NAME SVC               creates a role outside the tool (for the adoption demo)
  notify-setup                     a rule on the default bus sending the guard's notifications to an SQS queue
  notifications                    prints (and removes) the notifications that arrived in that queue
  cluster NAME IPFAMILY NG=ROLE... an EKS cluster with managed node groups using the given roles
"""
import io
import json
import os
import sys
import zipfile
import http.client
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer, ThreadingHTTPServer
from xml.sax.saxutils import escape

import boto3


def client(service):
    return boto3.client(service, region_name="us-east-1")


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


def prepare(table):
    client("dynamodb").create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    iam = client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="eks-node-role-guard-guard", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("bootstrap", "#!/bin/sh\n")
    client("lambda").create_function(
        FunctionName="eks-node-role-guard", Runtime="provided.al2023", Role=role, Handler="bootstrap",
        Code={"ZipFile": code.getvalue()},
    )
    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["ec2:AssignIpv6Addresses", "ec2:DescribeInstances", "ec2:DescribeTags",
                                       "ec2:DescribeNetworkInterfaces", "ec2:DescribeInstanceTypes"], "Resource": "*"},
        {"Effect": "Allow", "Action": ["ec2:CreateTags"], "Resource": ["arn:aws:ec2:*:*:network-interface/*"]}]}
    iam.create_policy(PolicyName="AmazonEKS_CNI_IPv6_Policy", PolicyDocument=json.dumps(doc))
    print(f"  state table {table}, function eks-node-role-guard, AWS's AmazonEKS_CNI_IPv6_Policy")


def stack(name, *logical_ids):
    token = "arn:aws:lambda:us-east-1:123456789012:function:eks-node-role-guard"
    resources = {l: {"Type": "Custom::EksNodeRole", "Properties": {"ServiceToken": token}} for l in logical_ids}
    first = logical_ids[0]
    outputs = {
        "NodeRoleArn": {"Value": {"Fn::GetAtt": [first, "Arn"]}},
        "InstanceProfileArn": {"Value": {"Fn::GetAtt": [first, "InstanceProfileArn"]}},
    }
    body = json.dumps({"Resources": resources, "Outputs": outputs})
    print(client("cloudformation").create_stack(StackName=name, TemplateBody=body)["StackId"])


def aim(path, stack_id, out, url, role_name=None):
    event = json.load(open(path))
    event["StackId"] = stack_id
    event["ResponseURL"] = url
    if role_name:
        event["ResourceProperties"]["RoleName"] = role_name
    json.dump(event, open(out, "w"))


def _load(state):
    try:
        return json.load(open(state))
    except FileNotFoundError:
        return {}


def _save(state, stacks):
    tmp = state + ".tmp"
    json.dump(stacks, open(tmp, "w"))
    os.replace(tmp, state)


def modelled_stack(state, name, logical):
    stack_id = f"arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/{uuid.uuid4()}"
    stacks = _load(state)
    stacks[stack_id] = {"name": name, "status": "CREATE_IN_PROGRESS",
                        "resources": {logical: {"status": "CREATE_IN_PROGRESS", "physical": None}}}
    _save(state, stacks)
    print(stack_id)


def sending(kind, physical, held):
    """The phase CloudFormation is in when it sends a request (test_support::cfn_model::sending)."""
    if kind == "Create":
        return "CREATE_IN_PROGRESS", "CREATE_IN_PROGRESS", None
    if kind == "Update":
        return "UPDATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", physical
    if held and physical and held != physical:
        return "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE", held
    return "DELETE_IN_PROGRESS", "DELETE_IN_PROGRESS", physical


def phase(state, request):
    req = json.load(open(request))
    stacks = _load(state)
    stack = stacks.get(req["StackId"])
    if stack is None:
        return
    logical = req["LogicalResourceId"]
    held = stack["resources"].get(logical, {}).get("physical")
    stack["status"], status, physical = sending(req["RequestType"], req.get("PhysicalResourceId"), held)
    stack["resources"][logical] = {"status": status, "physical": physical}
    _save(state, stacks)


def answered(state, request, response):
    req, resp = json.load(open(request)), json.load(open(response))
    stacks = _load(state)
    stack = stacks.get(req["StackId"])
    if stack is None:
        return
    kind, ok = req["RequestType"], resp["Status"] == "SUCCESS"
    r = stack["resources"][req["LogicalResourceId"]]
    r["status"] = {"Create": "CREATE", "Update": "UPDATE"}.get(kind, "DELETE") + ("_COMPLETE" if ok else "_FAILED")
    if kind == "Create" or (kind == "Update" and ok):
        r["physical"] = resp["PhysicalResourceId"]
    stack["status"] = ("CREATE_COMPLETE" if kind == "Create" else "DELETE_COMPLETE" if kind == "Delete" else
                       "UPDATE_COMPLETE") if ok else {"Create": "ROLLBACK_IN_PROGRESS"}.get(kind, "UPDATE_ROLLBACK_IN_PROGRESS")
    _save(state, stacks)


NS = "http://cloudformation.amazonaws.com/doc/2010-05-15/"


def _resource_xml(stack_id, stack, logical, r):
    physical = f"<PhysicalResourceId>{escape(r['physical'])}</PhysicalResourceId>" if r.get("physical") else ""
    return (f"<StackId>{escape(stack_id)}</StackId><StackName>{escape(stack['name'])}</StackName>"
            f"<LogicalResourceId>{escape(logical)}</LogicalResourceId>{physical}<ResourceType>Custom::EksNodeRole</ResourceType>"
            f"<Timestamp>2026-12-03T00:00:00Z</Timestamp><LastUpdatedTimestamp>2026-12-03T00:00:00Z</LastUpdatedTimestamp>"
            f"<ResourceStatus>{r['status']}</ResourceStatus>")


def _answer(state, form):
    action, stack_id = form.get("Action"), form.get("StackName")
    stack = _load(state).get(stack_id)
    if stack is None:
        return None
    meta = "<ResponseMetadata><RequestId>cfn-stand-in</RequestId></ResponseMetadata>"
    if action == "DescribeStacks":
        return 200, (f"<DescribeStacksResponse xmlns=\"{NS}\"><DescribeStacksResult><Stacks><member><StackId>{escape(stack_id)}</StackId>"
                     f"<StackName>{escape(stack['name'])}</StackName><CreationTime>2026-12-03T00:00:00Z</CreationTime>"
                     f"<StackStatus>{stack['status']}</StackStatus></member></Stacks></DescribeStacksResult>{meta}</DescribeStacksResponse>")
    if action == "DescribeStackResource":
        logical = form.get("LogicalResourceId")
        r = stack["resources"].get(logical)
        if r is None:
            return 400, (f"<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>ValidationError</Code><Message>"
                         f"Resource {escape(logical or '')} does not exist for stack {escape(stack['name'])}</Message></Error>"
                         f"<RequestId>cfn-stand-in</RequestId></ErrorResponse>")
        return 200, (f"<DescribeStackResourceResponse xmlns=\"{NS}\"><DescribeStackResourceResult><StackResourceDetail>"
                     f"{_resource_xml(stack_id, stack, logical, r)}</StackResourceDetail></DescribeStackResourceResult>{meta}</DescribeStackResourceResponse>")
    if action == "DescribeStackResources":
        members = "".join(f"<member>{_resource_xml(stack_id, stack, l, r)}</member>" for l, r in stack["resources"].items())
        return 200, (f"<DescribeStackResourcesResponse xmlns=\"{NS}\"><DescribeStackResourcesResult><StackResources>{members}"
                     f"</StackResources></DescribeStackResourcesResult>{meta}</DescribeStackResourcesResponse>")
    return None


def cfn_stand_in(port, moto, state):
    target = urllib.parse.urlparse(moto)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _any(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if "x-www-form-urlencoded" in self.headers.get("Content-Type", "") and b"Action=Describe" in body:
                form = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode()).items()}
                got = _answer(state, form)
                if got is not None:
                    code, xml = got
                    data = xml.encode()
                    self.send_response(code)
                    self.send_header("Content-Type", "text/xml")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
            conn = http.client.HTTPConnection(target.hostname, target.port, timeout=60)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            conn.close()

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(port)), Handler).serve_forever()


def status(stack_id):
    s = client("cloudformation").describe_stacks(StackName=stack_id)["Stacks"][0]
    print(f"  stack {s['StackName']}: {s['StackStatus']}")
    for o in s.get("Outputs", []):
        print(f"    output {o['OutputKey']}: {o['OutputValue']}")


def show(role):
    c = client("iam")
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
    label = {k.split(":", 1)[1]: v for k, v in tags.items() if k.startswith("eks-node-role-guard:") and k != "eks-node-role-guard:stack-id"}
    other = {k: v for k, v in tags.items() if not k.startswith("eks-node-role-guard:")}
    print(f"    label (for people; decides nothing): {json.dumps(label)}")
    if other:
        print(f"    tags: {json.dumps(other)}")


def item(role, table):
    got = client("dynamodb").get_item(TableName=table, Key={"pk": {"S": role.lower()}}, ConsistentRead=True)
    i = got.get("Item")
    if not i:
        print(f"  state item {role.lower()}: (none)")
        return
    d = json.loads(i["desired"]["S"])
    print(f"  state item {i['pk']['S']}: phase={i['phase']['S']} roleId={i.get('roleId', {}).get('S', '-')} "
          f"owner={i['ownerStackId']['S'].split('/')[1]}/{i['ownerLogicalId']['S']} version={i['version']['N']}")
    print(f"    desired: ipFamily={d['ipFamily']} attachCni={d['attachCni']} adopted={d['adopted']} "
          f"remediation={d['remediation']} extra={d['extraPolicies']}")
    print(f"    breaker: {len(i['repairs']['L'])} repair(s) in the window; trail: {[t['S'] for t in i['trail']['L']][-3:]}")


def make_role(name, service):
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    c = client("iam")
    c.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
    c.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")
    c.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy")
    print(f"  created {name} outside the tool: trusts {service}, has AmazonEKSWorkerNodePolicy + AmazonEKS_CNI_Policy")


QUEUE = "demo-guard-notifications"


def notify_setup():
    client("sqs").create_queue(QueueName=QUEUE)
    events = client("events")
    events.put_rule(Name=QUEUE, EventPattern=json.dumps({"source": ["eks-node-role-guard"]}))
    events.put_targets(Rule=QUEUE, Targets=[{"Id": "q", "Arn": f"arn:aws:sqs:us-east-1:123456789012:{QUEUE}"}])
    print("  a rule on the default bus sends the guard's notifications to an SQS queue (as the template's mail rule would)")


def notifications():
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName=QUEUE)["QueueUrl"]
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    for m in got:
        e = json.loads(m["Body"])
        print(f"  notification: {e['detail-type']}: {e['detail']['summary']}")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    if not got:
        print("  (no notification)")


def cluster(name, family, *node_groups):
    iam, eks = client("iam"), client("eks")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "eks.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName=f"{name}-cluster", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    eks.create_cluster(name=name, roleArn=role, resourcesVpcConfig={"subnetIds": ["subnet-1"]},
                       kubernetesNetworkConfig={"ipFamily": family})
    for ng in node_groups:
        ng_name, ng_role = ng.split("=")
        eks.create_nodegroup(clusterName=name, nodegroupName=ng_name, subnets=["subnet-1"],
                             nodeRole=f"arn:aws:iam::123456789012:role/{ng_role}")
    print(f"  cluster {name} ({family}) with node groups {', '.join(node_groups)}")


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"listen": listen, "prepare": prepare, "stack": stack, "aim": aim, "status": status, "show": show,
     "item": item, "make-role": make_role, "notify-setup": notify_setup, "notifications": notifications,
     "cluster": cluster, "cfn-stand-in": cfn_stand_in, "modelled-stack": modelled_stack, "phase": phase,
     "answered": answered}[cmd](*args)
