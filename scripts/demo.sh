#!/usr/bin/env bash
# The local demo: the function binary under the cargo-lambda Runtime API emulator, moto as IAM, DynamoDB (the
# state table), CloudFormation (the stacks that send the requests) and Lambda, a local ResponseURL listener;
# replays events/ and shows the role and its state item after each request.
# Everything it starts runs on free loopback ports and is stopped (by pid) when it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh main
echo "building the function and the audit (debug profile)…"
cargo build --quiet --bin eks-node-role-guard --bin eks-node-role-audit

PY=.venv/bin/python
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listening on port $1 ($2)" >&2
  exit 1
}

moto_port=$(free_port)
MOTO_IAM_LOAD_MANAGED_POLICIES=true .venv/bin/moto_server -H 127.0.0.1 -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
listen_port=$(free_port)
$PY scripts/demo_tools.py listen "$listen_port" "$work/responses" &
pids+=($!)
# CloudFormation as it reports a custom resource (moto reports the stack's status for every resource and no
# physical id): the function reaches AWS through this stand-in, which answers for the lifecycle stack.
cfn_state="$work/cfn-stacks.json"
cfn_port=$(free_port)
$PY scripts/demo_tools.py cfn-stand-in "$cfn_port" "http://127.0.0.1:$moto_port" "$cfn_state" &
pids+=($!)
emu_port=$(free_port)
.venv/bin/cargo-lambda lambda watch --only-lambda-apis --invoke-address 127.0.0.1 -P "$emu_port" >"$work/emulator.log" 2>&1 &
pids+=($!)
wait_port "$moto_port" moto
wait_port "$listen_port" "ResponseURL listener"
wait_port "$emu_port" "Runtime API emulator"
wait_port "$cfn_port" "CloudFormation stand-in"

export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port" AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing \
  AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
table=eks-node-role-guard-state
echo "━━ installation (what template.yaml provides)"
$PY scripts/demo_tools.py prepare "$table"
$PY scripts/demo_tools.py notify-setup

AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$emu_port/.rt" AWS_LAMBDA_FUNCTION_NAME=_ \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 AWS_LAMBDA_FUNCTION_VERSION='$LATEST' \
  AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/eks-node-role-guard AWS_LAMBDA_LOG_STREAM_NAME=local \
  STATE_TABLE_NAME="$table" GUARD_EXECUTION_ROLE_NAME=eks-node-role-guard-guard \
  ALLOW_INSECURE_RESPONSE_URL=true LOG_FORMAT=${LOG_FORMAT:-json} \
  FUNCTION_TIMEOUT_SECONDS=120 AWS_ENDPOINT_URL="http://127.0.0.1:$cfn_port" \
  target/debug/eks-node-role-guard >"$work/function.log" 2>&1 &
pids+=($!)

invoke() { .venv/bin/cargo-lambda lambda invoke --invoke-address 127.0.0.1 -P "$emu_port" --data-file "$1"; }

replay() { # event-file stack-id role-to-show
  local ev=$1 stack=$2 role=$3
  $PY scripts/demo_tools.py aim "events/$ev.json" "$stack" "$work/$ev.json" "http://127.0.0.1:$listen_port/cfn-response"
  $PY scripts/demo_tools.py phase "$cfn_state" "$work/$ev.json"
  local before
  before=$(ls "$work/responses" 2>/dev/null | wc -l)
  echo
  echo "━━ $ev ($(grep -o '"RequestType": "[A-Za-z]*"' "events/$ev.json" | cut -d'"' -f4))"
  invoke "$work/$ev.json" >/dev/null
  local latest
  latest=$(ls "$work/responses" | tail -n 1)
  if [ "$(ls "$work/responses" | wc -l)" -gt "$before" ]; then
    $PY scripts/demo_tools.py answered "$cfn_state" "$work/$ev.json" "$work/responses/$latest"
    echo "  response received at the ResponseURL:"
    $PY -c 'import json,sys; r=json.load(open(sys.argv[1])); print("    Status:", r["Status"]); print("    PhysicalResourceId:", r["PhysicalResourceId"]); [print("    Reason:", r["Reason"]) for _ in [0] if r.get("Reason")]; [print(f"    Data.{k}: {v}") for k,v in sorted(r["Data"].items())]' "$work/responses/$latest"
  else
    echo "  (no response received)"
  fi
  $PY scripts/demo_tools.py show "$role"
  $PY scripts/demo_tools.py item "$role" "$table"
}

echo
echo "━━ a stack that CloudFormation completes: the function answers moto's own ResponseURL"
complete=$($PY scripts/demo_tools.py stack demo-eks-complete NodeRole)
$PY scripts/demo_tools.py aim events/cfn-create-ipv4.json "$complete" "$work/complete.json" \
  "$AWS_ENDPOINT_URL/cloudformation_us-east-1/cfnresponse?stack=$complete" demo-complete-nodes
$PY scripts/demo_tools.py status "$complete"
echo "  function answered: $(invoke "$work/complete.json")"
$PY scripts/demo_tools.py status "$complete"

echo
echo "━━ a stack through its whole lifecycle (Create, Update, drift, Delete), CloudFormation's phases shown by the stand-in"
stack=$($PY scripts/demo_tools.py modelled-stack "$cfn_state" demo-eks NodeRole)
replay cfn-create-ipv4 "$stack" demo-eks-node-role
replay cfn-update-ipv6 "$stack" demo-eks-node-role

echo
echo "━━ drift: someone detaches AmazonEKSWorkerNodePolicy in the console; CloudTrail's event arrives"
$PY -c 'import boto3; boto3.client("iam").detach_role_policy(RoleName="demo-eks-node-role", PolicyArn="arn:aws:iam::aws:policy/AmazonEKSWorkerNodePolicy")'
$PY scripts/demo_tools.py show demo-eks-node-role | grep '    policies:'
# CloudTrail's event, stamped now (it reaches EventBridge seconds to minutes after the call).
$PY -c 'import json,sys,datetime; e=json.load(open(sys.argv[1])); e["time"]=e["detail"]["eventTime"]=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"); json.dump(e,open(sys.argv[2],"w"))' \
  events/drift-detach-role-policy.json "$work/detach-now.json"
echo "  function answered: $(invoke "$work/detach-now.json")"
$PY scripts/demo_tools.py show demo-eks-node-role | grep '    policies:'
echo "  decision log: $(grep '"message":"decision"' "$work/function.log" | tail -n 1 | cut -c1-300)"
$PY scripts/demo_tools.py notifications

echo
echo "━━ audit: every node role of the account checked against the procedure (eks-node-role-audit)"
$PY scripts/demo_tools.py make-role legacy-nodes ec2.amazonaws.com
$PY scripts/demo_tools.py cluster demo ipv6 managed=demo-eks-node-role legacy=legacy-nodes
set +e
STATE_TABLE_NAME="$table" target/debug/eks-node-role-audit --adopt-snippet | sed 's/^/  /'
echo "  exit code: ${PIPESTATUS[0]} (0 no node role non-compliant, 1 findings, 2 could not check)"
set -e

echo
echo "━━ hostile: a Delete that no stack sent (the completed stack's id, copied) is refused; nothing changes"
$PY scripts/demo_tools.py aim events/cfn-delete.json "$complete" "$work/forged.json" \
  "http://127.0.0.1:$listen_port/cfn-response" demo-complete-nodes
invoke "$work/forged.json" >/dev/null
$PY -c 'import json,sys,os; d=sys.argv[1]; r=json.load(open(os.path.join(d, sorted(os.listdir(d))[-1]))); print("  Status:", r["Status"]); print("  Reason:", r["Reason"])' "$work/responses"
$PY scripts/demo_tools.py show demo-complete-nodes | sed -n 1,3p

echo
echo "━━ hostile: the label of a managed role copied onto a Lambda role gives it nothing"
$PY scripts/demo_tools.py make-role app-fn lambda.amazonaws.com >/dev/null
$PY -c 'import boto3; c=boto3.client("iam"); t=[x for x in c.get_role(RoleName="demo-eks-node-role")["Role"]["Tags"] if x["Key"].startswith("eks-node-role-guard:")]; c.tag_role(RoleName="app-fn", Tags=t)'
sed 's/demo-eks-node-role/app-fn/' events/drift-update-assume-role-policy.json >"$work/copied.json"
echo "  function answered: $(invoke "$work/copied.json")"
echo "  (the role has no state item: the event was dismissed without a single IAM call)"
$PY scripts/demo_tools.py show app-fn | grep trust

replay cfn-delete "$stack" demo-eks-node-role
echo
echo "━━ adoption: a node role made by hand before the tool existed (AmazonEKSNodeRole is a declared name)"
$PY scripts/demo_tools.py make-role AmazonEKSNodeRole ssm.amazonaws.com
replay cfn-create-adopt "$stack" AmazonEKSNodeRole
replay cfn-delete-adopt "$stack" AmazonEKSNodeRole
replay cfn-create-invalid "$stack" demo-eks-node-role

echo
echo "function log: $(grep -c . "$work/function.log") JSON lines, e.g.:"
grep '"applied"' "$work/function.log" | head -n 3 | sed 's/^/  /'
echo
echo "demo finished; stopping moto, the emulator, the listener and the function."
