#!/usr/bin/env python3
"""The benchmark's baseline: a Python handler in the usual crhelper + boto3 style doing the procedure's IAM calls
one after the other (no confirmation, no state store), through the same endpoint (AWS_ENDPOINT_URL) as the function.

  bench_baseline.py create ROLE RESPONSE_URL   cold process: import boto3, create the node role, PUT the response
  bench_baseline.py repair ROLE RUNS           warm: RUNS single-policy repairs; prints the median in ms
"""
import json
import statistics
import sys
import time
import urllib.request

import boto3

POLICIES = [
    "arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy",
    "arn:aws:iam::aws:policy/AmazonEC2ContainerRegistryPullOnly",
    "arn:aws:iam::aws:policy/AmazonEKS_CNI_Policy",
]
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}


def iam():
    return boto3.client("iam", region_name="us-east-1")


def create(role, url):
    c = iam()
    arn = c.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST),
                        Tags=[{"Key": "managed", "Value": "true"}])["Role"]["Arn"]
    for p in POLICIES:
        c.attach_role_policy(RoleName=role, PolicyArn=p)
    c.create_instance_profile(InstanceProfileName=role)
    c.add_role_to_instance_profile(InstanceProfileName=role, RoleName=role)
    body = json.dumps({"Status": "SUCCESS", "PhysicalResourceId": role, "StackId": "s", "RequestId": "r",
                       "LogicalResourceId": "l", "Data": {"Arn": arn}}).encode()
    urllib.request.urlopen(urllib.request.Request(url, data=body, method="PUT", headers={"Content-Type": ""}))


def repair(role, runs):
    c = iam()
    times = []
    for _ in range(int(runs)):
        c.detach_role_policy(RoleName=role, PolicyArn=POLICIES[0])
        started = time.perf_counter()
        r = c.get_role(RoleName=role)["Role"]
        attached = {p["PolicyArn"] for p in c.list_attached_role_policies(RoleName=role)["AttachedPolicies"]}
        c.list_instance_profiles_for_role(RoleName=role)
        for p in POLICIES:
            if p not in attached:
                c.attach_role_policy(RoleName=role, PolicyArn=p)
        c.tag_role(RoleName=role, Tags=[{"Key": "repairs", "Value": str(int(time.time()))}])
        times.append((time.perf_counter() - started) * 1000)
        assert r["RoleName"] == role
    print(f"{statistics.median(times):.1f}")


if __name__ == "__main__":
    {"create": create, "repair": repair}[sys.argv[1]](*sys.argv[2:])
