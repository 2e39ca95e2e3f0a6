#!/usr/bin/env bash
# Installs the pinned local stand-ins into project-local virtualenvs (idempotent, fast when already there).
#   .venv      moto server (IAM, DynamoDB, CloudFormation, STS, Lambda), cargo-lambda (Runtime API emulator, arm64
#              builds), cfn-lint, ziglang, parliament (offline IAM policy linter)
#   .venv-sam  aws-sam-cli (its pins conflict with moto's, so it lives alone)
#   .venv-checkov checkov (same reason)
set -euo pipefail
cd "$(dirname "$0")/.."

MAIN_PKGS=("moto[server]==5.2.5" "cargo-lambda==1.9.2" "cfn-lint==1.58.0" "ziglang==0.17.0" "parliament==1.6.4")
SAM_PKGS=("aws-sam-cli==1.170.0")
CHECKOV_PKGS=("checkov==3.3.30")

python=${PYTHON:-python3}

ensure_venv() { # dir stamp pkgs...
  local dir=$1; shift
  local stamp="$dir/.installed"
  local want="$*"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
  echo "setup: installing $want into $dir" >&2
  [ -x "$dir/bin/python" ] || "$python" -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
  echo "$want" > "$stamp"
}

what=${1:-main}
case "$what" in
  main) ensure_venv .venv "${MAIN_PKGS[@]}" ;;
  sam) ensure_venv .venv-sam "${SAM_PKGS[@]}" ;;
  checkov) ensure_venv .venv-checkov "${CHECKOV_PKGS[@]}" ;;
  all)
    ensure_venv .venv "${MAIN_PKGS[@]}"
    ensure_venv .venv-sam "${SAM_PKGS[@]}"
    ensure_venv .venv-checkov "${CHECKOV_PKGS[@]}"
    ;;
  *) echo "usage: scripts/setup.sh [main|sam|checkov|all]" >&2; exit 2 ;;
esac
