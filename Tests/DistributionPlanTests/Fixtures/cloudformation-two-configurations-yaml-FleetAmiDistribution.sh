#!/usr/bin/env bash
# Distribution plan for "fleet-ami", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1 (partition aws), platform linux, build 2026-11-24T09-00-00Z version 3, plan 08b259549f506b15.
# 5 tasks: 2 AMI copies in 2 regions, 2 launch permission changes, 1 SSM parameter.
# assumption: no AMI name is configured for us-east-1: Image Builder names the AMI after the recipe and the build date; the recipe name is unknown (give --recipe-name or a get-image response), so the plan shows {{recipe-name}} and the script asks for RECIPE_NAME
# Review it, then run it with the owner account's credentials:
#   bash fleet-ami.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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
  put-ssm-parameter:eu-central-1:123456789012:/fleet/ami/latest
  copy-image:eu-west-3
  modify-image-attribute:eu-west-3
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

# copy-image:eu-central-1: copy the AMI from us-east-1 as "fleet-2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-central-1:123456789012:key/0f0e0d0c-0b0a-0908-0706-050403020100
begin_task copy-image:eu-central-1
AMI_eu_central_1=$(find_image eu-central-1 fleet-2026-11-24T09-00-00Z)
if [[ -z $AMI_eu_central_1 ]]; then
  AMI_eu_central_1=$(aws ec2 copy-image --region eu-central-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name fleet-2026-11-24T09-00-00Z --encrypted --kms-key-id arn:aws:kms:eu-central-1:123456789012:key/0f0e0d0c-0b0a-0908-0706-050403020100 --client-token imgship-08b25954-5f017f988e7daaca --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_eu_central_1" copy-image:eu-central-1
printf '%s: %s\n' copy-image:eu-central-1 "$AMI_eu_central_1"
end_task
wait_for_image eu-central-1 "$AMI_eu_central_1"

# modify-image-attribute:eu-central-1: let OUs arn:aws:organizations::123456789012:ou/o-a1b2c3d4e5/ou-ab12-cdef3456 launch the AMI
begin_task modify-image-attribute:eu-central-1
aws ec2 modify-image-attribute --region eu-central-1 --image-id "$AMI_eu_central_1" --launch-permission '{"Add":[{"OrganizationalUnitArn":"arn:aws:organizations::123456789012:ou/o-a1b2c3d4e5/ou-ab12-cdef3456"}]}'
end_task

# put-ssm-parameter:eu-central-1:123456789012:/fleet/ami/latest: store the AMI id in SSM parameter /fleet/ami/latest
begin_task put-ssm-parameter:eu-central-1:123456789012:/fleet/ami/latest
if [[ "$(parameter_value eu-central-1 /fleet/ami/latest)" != "$AMI_eu_central_1" ]]; then
  aws ssm put-parameter --region eu-central-1 --name /fleet/ami/latest --value "$AMI_eu_central_1" --type String --overwrite --data-type aws:ec2:image > /dev/null
fi
end_task

# ---- eu-west-3

# copy-image:eu-west-3: copy the AMI from us-east-1 as "fleet-2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-west-3:123456789012:key/0f0e0d0c-0b0a-0908-0706-050403020101
begin_task copy-image:eu-west-3
AMI_eu_west_3=$(find_image eu-west-3 fleet-2026-11-24T09-00-00Z)
if [[ -z $AMI_eu_west_3 ]]; then
  AMI_eu_west_3=$(aws ec2 copy-image --region eu-west-3 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name fleet-2026-11-24T09-00-00Z --encrypted --kms-key-id arn:aws:kms:eu-west-3:123456789012:key/0f0e0d0c-0b0a-0908-0706-050403020101 --client-token imgship-08b25954-4875a971523f8020 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_eu_west_3" copy-image:eu-west-3
printf '%s: %s\n' copy-image:eu-west-3 "$AMI_eu_west_3"
end_task
wait_for_image eu-west-3 "$AMI_eu_west_3"

# modify-image-attribute:eu-west-3: let OUs arn:aws:organizations::123456789012:ou/o-a1b2c3d4e5/ou-ab12-cdef3456 launch the AMI
begin_task modify-image-attribute:eu-west-3
aws ec2 modify-image-attribute --region eu-west-3 --image-id "$AMI_eu_west_3" --launch-permission '{"Add":[{"OrganizationalUnitArn":"arn:aws:organizations::123456789012:ou/o-a1b2c3d4e5/ou-ab12-cdef3456"}]}'
end_task

echo "distribution done"
