#!/usr/bin/env bash
# Distribution plan for "fleet-container", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1 (partition aws), platform linux, build 2026-11-24T09-00-00Z version 3, plan e81cf0a8d77aae37.
# 2 tasks: 2 container distributions.
# assumption: no AMI name is configured for us-east-1: Image Builder names the AMI after the recipe and the build date; the recipe name is unknown (give --recipe-name or a get-image response), so the plan shows {{recipe-name}} and the script asks for RECIPE_NAME
# Review it, then run it with the owner account's credentials:
#   bash fleet-container.sh
# Container distribution pushes CONTAINER_IMAGE, a local image reference, with docker.
# A rerun after a failure picks up where it stopped: copies, template versions and parameters that
# are already there are reused, and CopyImage, CreateLaunchTemplateVersion and ExportImage carry client tokens.
set -euo pipefail
shopt -s inherit_errexit

# Stops unless VALUE (what the AWS CLI printed) matches PATTERN: nothing unexpected is used.
expect_id() {
  local pattern=$1 value=$2 what=$3
  if [[ ! $value =~ $pattern ]]; then
    echo "$what: expected a value matching $pattern, got '$value'" >&2
    return 1
  fi
}

CONTAINER_IMAGE="${CONTAINER_IMAGE:?set CONTAINER_IMAGE to the container image to distribute}"
CALLER_ACCOUNT=$(aws sts get-caller-identity --region us-east-1 --query Account --output text)
expect_id '^[0-9]{12}$' "$CALLER_ACCOUNT" 'the caller account'
OWNER_ACCOUNT=123456789012
if [[ "$CALLER_ACCOUNT" != "$OWNER_ACCOUNT" ]]; then
  echo "run this with credentials of the owner account $OWNER_ACCOUNT, not $CALLER_ACCOUNT" >&2
  exit 1
fi

# What has run, for the report on failure.
TASKS=(
  distribute-container:eu-central-1
  distribute-container:eu-west-3
)
COMPLETED=()
CURRENT=''
begin_task() { CURRENT=$1; echo "imgship plan: $1" >&2; }
end_task() { COMPLETED+=("$CURRENT"); CURRENT=''; }
report() {
  local status=$? task done
  (( status != 0 )) || return 0
  echo "stopped with status $status${CURRENT:+ in task $CURRENT}" >&2
  echo "completed: ${COMPLETED[*]:-none}" >&2
  for task in "${TASKS[@]}"; do
    done=no
    [[ " ${COMPLETED[*]} " != *" $task "* ]] || done=yes
    [[ $done == yes ]] || echo "not done: $task" >&2
  done
  echo 'running the script again resumes: what is already there is reused' >&2
}
trap report EXIT

# ---- eu-central-1

# distribute-container:eu-central-1: push the container image to ECR fleet/agent with tags latest, stable
begin_task distribute-container:eu-central-1
registry="${OWNER_ACCOUNT}.dkr.ecr.eu-central-1.amazonaws.com"
aws ecr get-login-password --region eu-central-1 | docker login --username AWS --password-stdin "$registry"
docker tag "$CONTAINER_IMAGE" "$registry"/fleet/agent:latest
docker push "$registry"/fleet/agent:latest
docker tag "$CONTAINER_IMAGE" "$registry"/fleet/agent:stable
docker push "$registry"/fleet/agent:stable
end_task

# ---- eu-west-3

# distribute-container:eu-west-3: push the container image to ECR fleet/agent with tags latest
begin_task distribute-container:eu-west-3
registry="${OWNER_ACCOUNT}.dkr.ecr.eu-west-3.amazonaws.com"
aws ecr get-login-password --region eu-west-3 | docker login --username AWS --password-stdin "$registry"
docker tag "$CONTAINER_IMAGE" "$registry"/fleet/agent:latest
docker push "$registry"/fleet/agent:latest
end_task

echo "distribution done"
