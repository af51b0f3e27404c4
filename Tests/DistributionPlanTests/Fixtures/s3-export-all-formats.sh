#!/usr/bin/env bash
# Distribution plan for "vm-exports", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1 (partition aws), platform linux, build 2026-11-24T09-00-00Z version 3, plan c5a8dba805df924e.
# 5 tasks: 2 AMI copies in 2 regions, 3 S3 exports.
# Review it, then run it with the owner account's credentials:
#   bash vm-exports.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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
  export-image:us-east-1
  copy-image:us-east-2
  export-image:us-east-2
  copy-image:us-west-2
  export-image:us-west-2
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

# export-image:us-east-1: export the AMI as VMDK to s3://appliance-exports/vmware/<export task id>.vmdk
begin_task export-image:us-east-1
EXPORT_us_east_1=$(aws ec2 export-image --region us-east-1 --image-id "$BUILD_AMI" --disk-image-format VMDK --s3-export-location '{"S3Bucket":"appliance-exports","S3Prefix":"vmware/"}' --role-name vmimport --client-token imgship-c5a8dba8-776b30beb133974f --query ExportImageTaskId --output text)
expect_id '^export-ami-[0-9a-z]+$' "$EXPORT_us_east_1" export-image:us-east-1
printf '%s: export task %s (aws ec2 describe-export-image-tasks --region %s --export-image-task-ids %s)\n' export-image:us-east-1 "$EXPORT_us_east_1" us-east-1 "$EXPORT_us_east_1"
end_task

# ---- us-east-2

# copy-image:us-east-2: copy the AMI from us-east-1 as "appliance 2026-11-24T09-00-00Z"
begin_task copy-image:us-east-2
AMI_us_east_2=$(find_image us-east-2 'appliance 2026-11-24T09-00-00Z')
if [[ -z $AMI_us_east_2 ]]; then
  AMI_us_east_2=$(aws ec2 copy-image --region us-east-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'appliance 2026-11-24T09-00-00Z' --client-token imgship-c5a8dba8-40db9f0269406d71 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_us_east_2" copy-image:us-east-2
printf '%s: %s\n' copy-image:us-east-2 "$AMI_us_east_2"
end_task
wait_for_image us-east-2 "$AMI_us_east_2"

# export-image:us-east-2: export the AMI as VHD to s3://appliance-exports-ohio/hyperv/<export task id>.vhd
begin_task export-image:us-east-2
EXPORT_us_east_2=$(aws ec2 export-image --region us-east-2 --image-id "$AMI_us_east_2" --disk-image-format VHD --s3-export-location '{"S3Bucket":"appliance-exports-ohio","S3Prefix":"hyperv/"}' --role-name vmimport --client-token imgship-c5a8dba8-cdeb95fd898b2dac --query ExportImageTaskId --output text)
expect_id '^export-ami-[0-9a-z]+$' "$EXPORT_us_east_2" export-image:us-east-2
printf '%s: export task %s (aws ec2 describe-export-image-tasks --region %s --export-image-task-ids %s)\n' export-image:us-east-2 "$EXPORT_us_east_2" us-east-2 "$EXPORT_us_east_2"
end_task

# ---- us-west-2

# copy-image:us-west-2: copy the AMI from us-east-1 as "appliance 2026-11-24T09-00-00Z"
begin_task copy-image:us-west-2
AMI_us_west_2=$(find_image us-west-2 'appliance 2026-11-24T09-00-00Z')
if [[ -z $AMI_us_west_2 ]]; then
  AMI_us_west_2=$(aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'appliance 2026-11-24T09-00-00Z' --client-token imgship-c5a8dba8-d27b51efc920607f --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_us_west_2" copy-image:us-west-2
printf '%s: %s\n' copy-image:us-west-2 "$AMI_us_west_2"
end_task
wait_for_image us-west-2 "$AMI_us_west_2"

# export-image:us-west-2: export the AMI as RAW to s3://appliance-exports-oregon/<export task id>.raw
begin_task export-image:us-west-2
EXPORT_us_west_2=$(aws ec2 export-image --region us-west-2 --image-id "$AMI_us_west_2" --disk-image-format RAW --s3-export-location '{"S3Bucket":"appliance-exports-oregon"}' --role-name vmimport --client-token imgship-c5a8dba8-0ab01a64b2b24dce --query ExportImageTaskId --output text)
expect_id '^export-ami-[0-9a-z]+$' "$EXPORT_us_west_2" export-image:us-west-2
printf '%s: export task %s (aws ec2 describe-export-image-tasks --region %s --export-image-task-ids %s)\n' export-image:us-west-2 "$EXPORT_us_west_2" us-west-2 "$EXPORT_us_west_2"
end_task

echo "distribution done"
