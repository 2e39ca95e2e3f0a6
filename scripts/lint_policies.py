#!/usr/bin/env python3
"""Lints the function's IAM policies with parliament (offline), as CloudFormation would render them.

The template's policies are rendered with sample parameter values (every condition branch that widens the reach
taken: boundaries allowed, the stack's own IPv6 CNI policy) and each policy document is analysed with
parliament's own and community auditors. Any finding of a blocking kind fails the run: a privilege-escalation
path, an unknown action or condition key, a malformed document or ARN.

Usage: scripts/lint_policies.py [template.yaml | policy.json ...]   (run with the project virtualenv's python)
A `.json` argument is one policy document as written (e.g. the SCPs of docs/scps/), linted as it stands.
"""
import json
import sys

import yaml
from parliament import analyze_policy_string

BLOCKING = {
    "PRIVILEGE_ESCALATION",
    "MALFORMED",
    "MALFORMED_JSON",
    "UNKNOWN_ACTION",
    "UNKNOWN_PREFIX",
    "UNKNOWN_CONDITION_FOR_ACTION",
    "UNKNOWN_OPERATOR",
    "INVALID_ARN",
    "RESOURCE_POLICY_PRIVILEGE_ESCALATION",
}

PARAMETERS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "eks-node-role-guard",
    "RolePathPrefix": "/",
    "RoleNamePrefix": "",
    "AdoptableRoleNames": ["eksNodeRole", "AmazonEKSNodeRole", "NodeInstanceRole", "AmazonEKSAutoNodeRole"],
    "AllowedAdditionalPolicyArns": [
        "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore",
        "arn:aws:iam::aws:policy/CloudWatchAgentServerPolicy",
    ],
    "AllowedPermissionsBoundaryArns": ["arn:aws:iam::123456789012:policy/eks-node-boundary"],
    "ExistingStateTableName": "",
    "OperatorRoleArn": "arn:aws:iam::123456789012:role/operator",
    "DeployerPrincipalArns": ["arn:aws:iam::123456789012:role/deployer"],
    "Ipv6CniPolicy": "arn:aws:iam::123456789012:policy/eks-node-role-guard-AmazonEKS_CNI_IPv6_Policy",
    "GuardLogGroup.Arn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/x:*",
    "DeadLetterQueue.Arn": "arn:aws:sqs:us-east-1:123456789012:dlq",
}
CONDITIONS = {
    "WithDeployers": True,
    "CreateStateTable": True,
    "WithIpv6CniPolicy": True,
    "WithBoundaries": True,
    "WithOperator": True,
    "WithNotifications": True,
    "WithRoleNamePrefix": True,
}


class Tagged:
    def __init__(self, tag, value):
        self.tag, self.value = tag, value


def loader():
    class L(yaml.SafeLoader):
        pass

    def construct(l, suffix, node):
        if isinstance(node, yaml.ScalarNode):
            v = l.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            v = l.construct_sequence(node, deep=True)
        else:
            v = l.construct_mapping(node, deep=True)
        return Tagged(suffix, v)

    L.add_multi_constructor("!", construct)
    return L


def sub(text, extra=None):
    names = dict(PARAMETERS, **(extra or {}))
    out, i = "", 0
    while i < len(text):
        j = text.find("${", i)
        if j < 0:
            return out + text[i:]
        k = text.index("}", j)
        key = text[j + 2 : k]
        value = names[key]
        out += text[i:j] + (",".join(value) if isinstance(value, list) else value)
        i = k + 1
    return out


def resolve(v):
    if isinstance(v, Tagged):
        t, x = v.tag, v.value
        if t == "Ref":
            return PARAMETERS[x] if x != "AWS::NoValue" else None
        if t == "Sub":
            if isinstance(x, list):
                return sub(x[0], {k: resolve(val) for k, val in x[1].items()})
            return sub(x)
        if t == "GetAtt":
            return PARAMETERS[x if isinstance(x, str) else ".".join(x)]
        if t == "Join":
            parts = [resolve(p) for p in (resolve(x[1]) if isinstance(x[1], Tagged) else x[1])]
            flat = []
            for p in parts:
                if p is not None:
                    flat.extend(p if isinstance(p, list) else [p])
            return x[0].join(flat)
        if t == "Split":
            return resolve(x[1]).split(x[0])
        if t == "If":
            return resolve(x[1] if CONDITIONS[x[0]] else x[2])
        raise ValueError(f"unsupported !{t}")
    if isinstance(v, list):
        return [r for r in (resolve(i) for i in v) if r is not None]
    if isinstance(v, dict):
        return {k: resolve(val) for k, val in v.items()}
    return v


def documents(path):
    """(name, policy document) pairs: the GuardRole's policies, rendered, or one JSON document."""
    if path.endswith(".json"):
        return [(path.rsplit("/", 1)[-1], json.load(open(path)))]
    template = yaml.load(open(path), Loader=loader())
    role = template["Resources"]["GuardRole"]["Properties"]
    return [(policy["PolicyName"], resolve(policy["PolicyDocument"])) for policy in role["Policies"]]


def main():
    paths = sys.argv[1:] or ["template.yaml"]
    failed = 0
    for name, doc in [d for path in paths for d in documents(path)]:
        result = analyze_policy_string(json.dumps(doc), include_community_auditors=True)
        findings = [f for f in result.findings]
        blocking = [f for f in findings if f.issue in BLOCKING]
        others = sorted({f.issue for f in findings if f.issue not in BLOCKING})
        print(f"{name}: {len(doc['Statement'])} statements, "
              f"{len(blocking)} blocking finding(s); other findings: {', '.join(others) or 'none'}")
        for f in blocking:
            print(f"  {f.issue}: {f.detail} {f.location}")
        failed += len(blocking)
    if failed:
        sys.exit(f"parliament: {failed} blocking finding(s)")


if __name__ == "__main__":
    main()
