#!/usr/bin/env bash
# Distribution plan for "org-shared-base", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1 (partition aws), platform linux, build 2026-11-24T09-00-00Z version 3, plan ec0e4b848ae0aedb.
# 5 tasks: 2 AMI copies in 2 regions, 2 launch permission changes, 1 SSM parameter.
# assumption: no AMI name is configured for us-east-1: Image Builder names the AMI after the recipe and the build date; the recipe name is unknown (give --recipe-name or a get-image response), so the plan shows {{recipe-name}} and the script asks for RECIPE_NAME
# Review it, then run it with the owner account's credentials:
#   bash org-shared-base.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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

BUILD_AMI="${1:?usage: $0 BUILD_AMI_ID (the AMI Image Builder built in the source region)}"
expect_id '^ami-[0-9a-f]{8,17}$' "$BUILD_AMI" 'the build AMI id'
CALLER_ACCOUNT=$(aws sts get-caller-identity --region us-east-1 --query Account --output text)
expect_id '^[0-9]{12}$' "$CALLER_ACCOUNT" 'the caller account'
OWNER_ACCOUNT=123456789012
if [[ "$CALLER_ACCOUNT" != "$OWNER_ACCOUNT" ]]; then
  echo "run this with credentials of the owner account $OWNER_ACCOUNT, not $CALLER_ACCOUNT" >&2
  exit 1
fi

# What has run, for the report on failure.
TASKS=(
  copy-image:eu-central-1
  modify-image-attribute:eu-central-1
  put-ssm-parameter:eu-central-1:123456789012:/golden/al2023/latest
  copy-image:eu-west-1
  modify-image-attribute:eu-west-1
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

# The caller's AMI named NAME in REGION, pending or available, or nothing: a rerun reuses
# a copy made before (a failed one is not reused: it would stop every rerun).
find_image() {
  local region=$1 name=$2 found
  shift 2
  found=$("$@" aws ec2 describe-images --region "$region" --owners self \
    --filters "Name=name,Values=$name" 'Name=state,Values=pending,available' \
    --query 'Images[0].ImageId' --output text)
  [[ $found == None ]] || printf '%s\n' "$found"
}

# `aws ec2 wait image-available` gives up after 10 minutes; copies of large AMIs take longer.
wait_for_image() {
  local region=$1 image=$2 state
  shift 2
  until "$@" aws ec2 wait image-available --region "$region" --image-ids "$image"; do
    state=$("$@" aws ec2 describe-images --region "$region" --image-ids "$image" --query 'Images[0].State' --output text)
    if [[ "$state" != pending ]]; then
      echo "$image in $region is $state, not available" >&2
      return 1
    fi
  done
}

# The value of an SSM parameter, or nothing when it does not exist (or cannot be read:
# then put-parameter fails and the script stops).
parameter_value() {
  local region=$1 name=$2
  shift 2
  "$@" aws ssm get-parameter --region "$region" --name "$name" --query Parameter.Value --output text 2>/dev/null || true
}

# ---- eu-central-1

# copy-image:eu-central-1: copy the AMI from us-east-1 as "base-al2023 2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
begin_task copy-image:eu-central-1
AMI_eu_central_1=$(find_image eu-central-1 'base-al2023 2026-11-24T09-00-00Z')
if [[ -z $AMI_eu_central_1 ]]; then
  AMI_eu_central_1=$(aws ec2 copy-image --region eu-central-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'base-al2023 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 --client-token imgship-ec0e4b84-6cc48ef0c0362256 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_eu_central_1" copy-image:eu-central-1
printf '%s: %s\n' copy-image:eu-central-1 "$AMI_eu_central_1"
end_task
wait_for_image eu-central-1 "$AMI_eu_central_1"

# modify-image-attribute:eu-central-1: let organizations arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5; OUs arn:aws:organizations::123456789012:ou/o-a1b2c3d4e5/ou-ab12-cd34ef56 launch the AMI
begin_task modify-image-attribute:eu-central-1
aws ec2 modify-image-attribute --region eu-central-1 --image-id "$AMI_eu_central_1" --launch-permission '{"Add":[{"OrganizationArn":"arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5"},{"OrganizationalUnitArn":"arn:aws:organizations::123456789012:ou/o-a1b2c3d4e5/ou-ab12-cd34ef56"}]}'
end_task

# put-ssm-parameter:eu-central-1:123456789012:/golden/al2023/latest: store the AMI id in SSM parameter /golden/al2023/latest
begin_task put-ssm-parameter:eu-central-1:123456789012:/golden/al2023/latest
if [[ "$(parameter_value eu-central-1 /golden/al2023/latest)" != "$AMI_eu_central_1" ]]; then
  aws ssm put-parameter --region eu-central-1 --name /golden/al2023/latest --value "$AMI_eu_central_1" --type String --overwrite --data-type aws:ec2:image > /dev/null
fi
end_task

# ---- eu-west-1

# copy-image:eu-west-1: copy the AMI from us-east-1 as "base-al2023 2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-west-1:123456789012:key/11112222-3333-4444-5555-666677778888
begin_task copy-image:eu-west-1
AMI_eu_west_1=$(find_image eu-west-1 'base-al2023 2026-11-24T09-00-00Z')
if [[ -z $AMI_eu_west_1 ]]; then
  AMI_eu_west_1=$(aws ec2 copy-image --region eu-west-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'base-al2023 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/11112222-3333-4444-5555-666677778888 --client-token imgship-ec0e4b84-3caebb834d1cba42 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_eu_west_1" copy-image:eu-west-1
printf '%s: %s\n' copy-image:eu-west-1 "$AMI_eu_west_1"
end_task
wait_for_image eu-west-1 "$AMI_eu_west_1"

# modify-image-attribute:eu-west-1: let organizations arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5 launch the AMI
begin_task modify-image-attribute:eu-west-1
aws ec2 modify-image-attribute --region eu-west-1 --image-id "$AMI_eu_west_1" --launch-permission '{"Add":[{"OrganizationArn":"arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5"}]}'
end_task

echo "distribution done"
