#!/usr/bin/env bash
# Distribution plan for "windows-server-2022", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1 (partition aws), platform windows, build 2026-11-24T09-00-00Z version 3, plan 462bb2d1a33c6719.
# 5 tasks: 1 AMI copy in 1 region, 1 build AMI tagging, 1 license association, 2 fast launch settings.
# Review it, then run it with the owner account's credentials:
#   bash windows-server-2022.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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
  tag-build-image:us-east-1
  associate-licenses:us-east-1
  enable-fast-launch:us-east-1:0
  copy-image:us-west-2
  enable-fast-launch:us-west-2:0
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

# ---- us-east-1 (source region)

# tag-build-image:us-east-1: tag the build AMI with OS=Windows Server 2022
begin_task tag-build-image:us-east-1
aws ec2 create-tags --region us-east-1 --resources "$BUILD_AMI" --tags '[{"Key":"OS","Value":"Windows Server 2022"}]'
end_task

# associate-licenses:us-east-1: associate 1 license configuration(s)
begin_task associate-licenses:us-east-1
associated=$(aws license-manager list-license-specifications-for-resource --region us-east-1 --resource-arn "arn:aws:ec2:us-east-1::image/${BUILD_AMI}" --query 'LicenseSpecifications[].LicenseConfigurationArn' --output text)
missing=()
for license in arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef; do
  [[ $'\t'"$associated"$'\t' == *$'\t'"$license"$'\t'* ]] || missing+=("{\"LicenseConfigurationArn\":\"$license\"}")
done
if (( ${#missing[@]} > 0 )); then
  aws license-manager update-license-specifications-for-resource --region us-east-1 --resource-arn "arn:aws:ec2:us-east-1::image/${BUILD_AMI}" --add-license-specifications "[$(IFS=,; echo "${missing[*]}")]"
fi
end_task

# enable-fast-launch:us-east-1:0: pre-provision 10 snapshots for fast launch
begin_task enable-fast-launch:us-east-1:0
aws ec2 enable-fast-launch --region us-east-1 --image-id "$BUILD_AMI" --resource-type snapshot --snapshot-configuration '{"TargetResourceCount":10}' --launch-template '{"LaunchTemplateId":"lt-0a1b2c3d4e5f6a7b8","Version":"3"}' --max-parallel-launches 6 > /dev/null
end_task

# ---- us-west-2

# copy-image:us-west-2: copy the AMI from us-east-1 as "WinServer2022-2026-11-24T09-00-00Z-v3"
begin_task copy-image:us-west-2
AMI_us_west_2=$(find_image us-west-2 WinServer2022-2026-11-24T09-00-00Z-v3)
if [[ -z $AMI_us_west_2 ]]; then
  AMI_us_west_2=$(aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name WinServer2022-2026-11-24T09-00-00Z-v3 --client-token imgship-462bb2d1-22a5cc21d5dbc7f6 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_us_west_2" copy-image:us-west-2
printf '%s: %s\n' copy-image:us-west-2 "$AMI_us_west_2"
end_task
wait_for_image us-west-2 "$AMI_us_west_2"

# enable-fast-launch:us-west-2:0: pre-provision the default number of snapshots for fast launch
begin_task enable-fast-launch:us-west-2:0
aws ec2 enable-fast-launch --region us-west-2 --image-id "$AMI_us_west_2" --resource-type snapshot --max-parallel-launches 10 > /dev/null
end_task

echo "distribution done"
