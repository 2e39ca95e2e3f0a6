"""Writes tests/corpus/: malformed payloads, each named for what must happen to it.

  cfn-*      a CloudFormation request with a usable ResponseURL: exactly one FAILED response, readable Reason
  noreply-*  a CloudFormation request without a usable ResponseURL: logged, no response, no crash
  event-*    an EventBridge event: logged and ignored (or handled), never an error
  other-*    neither: logged and ignored
  raw-*      not JSON at all: the runtime rejects it; the process lives on
Run: python3 scripts/make_corpus.py  (deterministic)
"""
import copy
import json
import os
import shutil

OUT = os.path.join(os.path.dirname(__file__), "..", "tests", "corpus")
URL = "http://127.0.0.1:8765/cfn-response?X-Amz-Signature=corpus"
STACK = "arn:aws:cloudformation:us-east-1:123456789012:stack/corpus/0f0e0d0c-0b0a-0908-0706-050403020100"
BASE = {
    "RequestType": "Create",
    "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:guard",
    "ResponseURL": URL,
    "StackId": STACK,
    "RequestId": "corpus-request",
    "ResourceType": "Custom::EksNodeRole",
    "LogicalResourceId": "NodeRole",
    "ResourceProperties": {"ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:guard"},
}
EVENT = {
    "version": "0", "id": "corpus-event", "detail-type": "AWS API Call via CloudTrail", "source": "aws.iam",
    "account": "123456789012", "time": "2026-11-29T08:00:00Z", "region": "us-east-1", "resources": [],
    "detail": {"eventSource": "iam.amazonaws.com", "eventName": "DetachRolePolicy",
               "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/x", "sessionContext": {"sessionIssuer": {}}},
               "requestParameters": {"roleName": "corpus-role", "policyArn": "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy"},
               "readOnly": "False", "eventID": "e"},
}
files = {}

def put(name, value):
    assert name not in files, name
    files[name] = value

def req(**over):
    r = copy.deepcopy(BASE)
    for k, v in over.items():
        if v is KeyError:
            r.pop(k, None)
        else:
            r[k] = v
    return r

def props(**p):
    r = req()
    r["ResourceProperties"].update(p)
    return r

# Wrong RequestType.
for i, rt in enumerate(["create", "Replace", "", "DELETE", 5, None, ["Create"], {"Type": "Create"}]):
    put(f"cfn-request-type-{i}", req(RequestType=rt))
# Missing or wrong-typed envelope fields.
for f in ["StackId", "RequestId", "LogicalResourceId", "ResourceType"]:
    put(f"cfn-missing-{f}", req(**{f: KeyError}))
    put(f"cfn-number-{f}", req(**{f: 42}))
    put(f"cfn-null-{f}", req(**{f: None}))
for kind in ["Update", "Delete"]:
    put(f"cfn-{kind.lower()}-without-physical-id", req(RequestType=kind))
put("cfn-update-old-properties-list", dict(req(RequestType="Update", PhysicalResourceId="x"), OldResourceProperties=[1]))
for i, v in enumerate([[], "props", 7, True]):
    put(f"cfn-properties-wrong-type-{i}", req(ResourceProperties=v))
for i, sid in enumerate(["not-an-arn", "arn:aws:s3:::bucket", "arn:aws:cloudformation:us-east-1:12:stack/x/y", "arn:nope:cloudformation:us-east-1:123456789012:stack/x/y", "arn:aws:cloudformation:us-east-1:123456789012:stack//y"]):
    put(f"cfn-bad-stack-id-{i}", req(StackId=sid))
# Property values of the wrong type or shape.
wrong = {
    "RoleName": [["a"], {"x": 1}, "a b", "é", "x" * 65, "role/with/slash"],
    "Path": ["nodes", "/a b/", "//", 5, ["/"]],
    "IpFamily": ["dual", "", "ipv 4", 4],
    "AttachCniPolicy": ["yes", "1", 1, "", ["true"]],
    "CreateInstanceProfile": ["no", "0", {"v": True}],
    "AdoptExistingRole": ["maybe", 2],
    "Remediation": ["fix", "DRY RUN", 0],
    "PermissionsBoundary": ["Boundary", "arn:aws:iam::aws:role/x", ["arn:aws:iam::aws:policy/x"], "arn:aws-cn:iam::aws:policy/x"],
    "AdditionalPolicyArns": [{"a": 1}, [1, 2], ["nope"], [None], "arn:aws:iam::aws:policy/a b", [["x"]]],
    "Tags": ["team=platform", {"Key": "a", "Value": "b"}, [{"Key": "a"}], [{"Value": "b"}], [{"Key": "aws:x", "Value": "b"}],
             [{"Key": "", "Value": "b"}], [{"Key": "a", "Value": "b*"}], [{"Key": "a", "Value": "1"}, {"Key": "A", "Value": "2"}], [1, 2]],
    "Description": ["\u0000", "🚀 nodes", "x" * 1001],
}
for prop, values in wrong.items():
    for i, v in enumerate(values):
        put(f"cfn-prop-{prop}-{i}", props(**{prop: v}))
# Unknown properties, typos.
put("cfn-typo-ipfamily", props(IPFamily="ipv6"))
put("cfn-typo-rolename", props(Rolename="x"))
put("cfn-unknown-many", props(**{f"Unknown{i}": "x" for i in range(300)}))
# Huge and strange strings.
put("cfn-huge-role-name", props(RoleName="r" * 100_000))
put("cfn-huge-property-name", props(**{"P" * 50_000: "x"}))
put("cfn-huge-tags", props(Tags=[{"Key": f"k{i}", "Value": "v" * 256} for i in range(60)]))
put("cfn-unicode-role-name", props(RoleName="nöde-rôle"))
put("cfn-rtl-role-name", props(RoleName="\u202erole"))
put("cfn-emoji-tag-key", props(Tags=[{"Key": "🔥", "Value": "x"}]))
put("cfn-zero-width", props(RoleName="role\u200b"))
put("cfn-control-chars", props(Path="/a\tb/"))
# Requests with no usable ResponseURL.
for i, u in enumerate([None, 5, "", "not a url", "https://evil.example.com/x", "ftp://127.0.0.1/x", "http://10.0.0.1/x"]):
    put(f"noreply-response-url-{i}", req(ResponseURL=u))
# EventBridge events, odd.
def ev(detail=None, **over):
    e = copy.deepcopy(EVENT)
    if detail is not None:
        e["detail"] = detail
    e.update(over)
    return e
for i, d in enumerate([None, "text", 5, [], {}, {"eventName": None}, {"eventName": 5}, {"requestParameters": None, "eventName": "DetachRolePolicy"},
                       {"eventName": "DetachRolePolicy", "requestParameters": {"roleName": 5}},
                       {"eventName": "DetachRolePolicy", "requestParameters": {"roleName": "bad name!"}},
                       {"eventName": "DetachRolePolicy", "requestParameters": {"roleName": "x" * 10000}},
                       {"eventName": "DeleteInstanceProfile", "requestParameters": {}},
                       {"eventName": "DeletePolicy", "requestParameters": {"policyArn": None}},
                       {"eventName": "DeleteRole", "requestParameters": {"roleName": None}},
                       {"eventName": "DetachRolePolicy", "userIdentity": None, "requestParameters": {"roleName": "corpus-role"}},
                       {"eventName": "DetachRolePolicy", "userIdentity": {"type": 5, "sessionContext": "x"}, "requestParameters": {"roleName": "corpus-role"}},
                       {"eventName": "DetachRolePolicy", "errorCode": None, "readOnly": "maybe", "requestParameters": {"roleName": "corpus-role"}},
                       {"eventName": "TagRole", "requestParameters": {"roleName": "corpus-role"}}]):
    put(f"event-detail-{i}", ev(detail=d))
for i, (dt, src) in enumerate([("Object Created", "aws.s3"), ("EC2 Instance State-change Notification", "aws.ec2"), ("", ""), (None, "aws.iam"),
                               ("AWS API Call via CloudTrail", None), (5, 5), ("Scheduled Event", "aws.iam"), ("AWS Console Sign In via CloudTrail", "aws.signin"),
                               ("aws api call via cloudtrail", "aws.iam"), ("AWS API Call via CloudTrail", "aws.ec2")]):
    put(f"event-type-{i}", ev(**{"detail-type": dt, "source": src}))
# Neither shape.
for i, v in enumerate([[], "", 0, True, None, {}, {"hello": "world"}, {"RequestType": "Create"}, {"ResponseURL": URL}, {"source": "aws.iam"}, [BASE]]):
    put(f"other-{i}", v)
# Not JSON.
raw = {
    "raw-truncated-request": json.dumps(BASE)[:60],
    "raw-truncated-event": json.dumps(EVENT)[:120],
    "raw-empty": "",
    "raw-garbage": "\x00\x01\x02not json",
    "raw-trailing-comma": '{"RequestType": "Create",}',
    "raw-single-quotes": "{'RequestType': 'Create'}",
    "raw-deep-nesting": "[" * 5000 + "]" * 5000,
    "raw-bad-utf8": "{\"RequestType\": \"\udcff\"}",
}

shutil.rmtree(OUT, ignore_errors=True)
os.makedirs(OUT)
for name, value in files.items():
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(value, f, ensure_ascii=False)
for name, text in raw.items():
    with open(os.path.join(OUT, name + ".txt"), "wb") as f:
        f.write(text.encode("utf-8", "surrogateescape"))
print(len(files) + len(raw), "payloads")
