#!/usr/bin/env bash
# Distribution plan for "web-app-distribution", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1 (partition aws), platform linux, build 2026-11-24T09-00-00Z version 3, plan c2459412dae9c884.
# 12 tasks: 4 AMI copies in 2 regions and 2 other accounts, 2 build AMI shares, 1 build AMI tagging, 1 launch permission change, 1 launch template version, 1 default version change, 1 SSM parameter, 1 S3 export.
# assumption: kmsKeyId arn:aws:kms:us-east-1:123456789012:key/1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d in the source region us-east-1 encrypts only the copies made there for target accounts; the build AMI keeps the encryption its recipe gave it
# Review it, then run it with the owner account's credentials:
#   bash web-app-distribution.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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
  share-build-image:222222222222
  share-build-image:333333333333
  modify-image-attribute:us-east-1
  put-ssm-parameter:us-east-1:123456789012:/images/web-app/latest
  copy-image:eu-west-1
  copy-image:eu-west-1:222222222222
  copy-image:eu-west-1:333333333333
  create-launch-template-version:eu-west-1:lt-0123456789abcdef0
  set-default-launch-template-version:eu-west-1:lt-0123456789abcdef0
  copy-image:ap-southeast-2
  export-image:ap-southeast-2
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

# Runs a command in another account through the role Image Builder assumes there, in a
# subshell that holds only that role's credentials. Fails closed: no credentials, no command.
in_account() {
  local account=$1 role credentials key secret token
  shift
  expect_id '^[0-9]{12}$' "$account" 'the target account'
  role="arn:aws:iam::${account}:role/EC2ImageBuilderDistributionCrossAccountRole"
  if ! credentials=$(aws sts assume-role --region us-east-1 --role-arn "$role" --role-session-name imgship-distribution \
      --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text); then
    echo "cannot assume $role; stopping before anything runs in account $account" >&2
    return 1
  fi
  read -r key secret token <<<"$credentials"
  if [[ -z $key || -z $secret || -z $token || $key == None ]]; then
    echo "assume-role $role gave no credentials; stopping" >&2
    return 1
  fi
  (
    unset AWS_PROFILE AWS_DEFAULT_PROFILE
    export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token
    "$@"
  )
}

# Launch permission on the build AMI and create-volume permission on its snapshots.
share_build_image() {
  local account=$1 snapshots snapshot
  aws ec2 modify-image-attribute --region us-east-1 --image-id "$BUILD_AMI" --launch-permission "Add=[{UserId=${account}}]"
  snapshots=$(aws ec2 describe-images --region us-east-1 --image-ids "$BUILD_AMI" \
    --query 'Images[0].BlockDeviceMappings[].Ebs.SnapshotId' --output text)
  for snapshot in $snapshots; do
    [[ $snapshot != None ]] || continue
    expect_id '^snap-[0-9a-f]+$' "$snapshot" 'a snapshot of the build AMI'
    aws ec2 modify-snapshot-attribute --region us-east-1 --snapshot-id "$snapshot" \
      --attribute createVolumePermission --operation-type add --user-ids "$account"
  done
}

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

# The latest version of a launch template if it already launches IMAGE, or nothing.
version_launching() {
  local region=$1 template=$2 image=$3 latest number launched
  shift 3
  latest=$("$@" aws ec2 describe-launch-template-versions --region "$region" --launch-template-id "$template" \
    --versions '$Latest' --query 'LaunchTemplateVersions[0].[VersionNumber,LaunchTemplateData.ImageId]' --output text)
  read -r number launched <<<"$latest"
  [[ $launched != "$image" ]] || printf '%s\n' "$number"
}

# The value of an SSM parameter, or nothing when it does not exist (or cannot be read:
# then put-parameter fails and the script stops).
parameter_value() {
  local region=$1 name=$2
  shift 2
  "$@" aws ssm get-parameter --region "$region" --name "$name" --query Parameter.Value --output text 2>/dev/null || true
}

# ---- us-east-1 (source region)

# tag-build-image:us-east-1: tag the build AMI with Team=platform, CostCenter=1234
begin_task tag-build-image:us-east-1
aws ec2 create-tags --region us-east-1 --resources "$BUILD_AMI" --tags '[{"Key":"Team","Value":"platform"},{"Key":"CostCenter","Value":"1234"}]'
end_task

# share-build-image:222222222222: share the build AMI and its snapshots with account 222222222222, which copies it into eu-west-1
begin_task share-build-image:222222222222
share_build_image 222222222222
end_task

# share-build-image:333333333333: share the build AMI and its snapshots with account 333333333333, which copies it into eu-west-1
begin_task share-build-image:333333333333
share_build_image 333333333333
end_task

# modify-image-attribute:us-east-1: let accounts 222222222222 launch the AMI
begin_task modify-image-attribute:us-east-1
aws ec2 modify-image-attribute --region us-east-1 --image-id "$BUILD_AMI" --launch-permission '{"Add":[{"UserId":"222222222222"}]}'
end_task

# put-ssm-parameter:us-east-1:123456789012:/images/web-app/latest: store the AMI id in SSM parameter /images/web-app/latest
begin_task put-ssm-parameter:us-east-1:123456789012:/images/web-app/latest
if [[ "$(parameter_value us-east-1 /images/web-app/latest)" != "$BUILD_AMI" ]]; then
  aws ssm put-parameter --region us-east-1 --name /images/web-app/latest --value "$BUILD_AMI" --type String --overwrite --data-type aws:ec2:image > /dev/null
fi
end_task

# ---- eu-west-1

# copy-image:eu-west-1: copy the AMI from us-east-1 as "web-app 2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111
begin_task copy-image:eu-west-1
AMI_eu_west_1=$(find_image eu-west-1 'web-app 2026-11-24T09-00-00Z')
if [[ -z $AMI_eu_west_1 ]]; then
  AMI_eu_west_1=$(aws ec2 copy-image --region eu-west-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'web-app 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111 --client-token imgship-c2459412-04a71878335fc0c3 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_eu_west_1" copy-image:eu-west-1
printf '%s: %s\n' copy-image:eu-west-1 "$AMI_eu_west_1"
end_task

# copy-image:eu-west-1:222222222222: copy the AMI into account 222222222222 as "web-app 2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111
# in account 222222222222, as arn:aws:iam::222222222222:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task copy-image:eu-west-1:222222222222
AMI_eu_west_1_222222222222=$(find_image eu-west-1 'web-app 2026-11-24T09-00-00Z' in_account 222222222222)
if [[ -z $AMI_eu_west_1_222222222222 ]]; then
  AMI_eu_west_1_222222222222=$(in_account 222222222222 aws ec2 copy-image --region eu-west-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'web-app 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111 --client-token imgship-c2459412-9eb0d30991518f8b --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_eu_west_1_222222222222" copy-image:eu-west-1:222222222222
printf '%s: %s\n' copy-image:eu-west-1:222222222222 "$AMI_eu_west_1_222222222222"
end_task

# copy-image:eu-west-1:333333333333: copy the AMI into account 333333333333 as "web-app 2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111
# in account 333333333333, as arn:aws:iam::333333333333:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task copy-image:eu-west-1:333333333333
AMI_eu_west_1_333333333333=$(find_image eu-west-1 'web-app 2026-11-24T09-00-00Z' in_account 333333333333)
if [[ -z $AMI_eu_west_1_333333333333 ]]; then
  AMI_eu_west_1_333333333333=$(in_account 333333333333 aws ec2 copy-image --region eu-west-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'web-app 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111 --client-token imgship-c2459412-f707e8cdf7023857 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_eu_west_1_333333333333" copy-image:eu-west-1:333333333333
printf '%s: %s\n' copy-image:eu-west-1:333333333333 "$AMI_eu_west_1_333333333333"
end_task
wait_for_image eu-west-1 "$AMI_eu_west_1_333333333333" in_account 333333333333

# create-launch-template-version:eu-west-1:lt-0123456789abcdef0: new version of lt-0123456789abcdef0 launching the AMI
# in account 333333333333, as arn:aws:iam::333333333333:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task create-launch-template-version:eu-west-1:lt-0123456789abcdef0
VERSION_eu_west_1_lt_0123456789abcdef0=$(version_launching eu-west-1 lt-0123456789abcdef0 "$AMI_eu_west_1_333333333333" in_account 333333333333)
if [[ -z $VERSION_eu_west_1_lt_0123456789abcdef0 ]]; then
  VERSION_eu_west_1_lt_0123456789abcdef0=$(in_account 333333333333 aws ec2 create-launch-template-version --region eu-west-1 --launch-template-id lt-0123456789abcdef0 --source-version '$Latest' --launch-template-data "{\"ImageId\":\"${AMI_eu_west_1_333333333333}\"}" --client-token imgship-c2459412-0e567d8adac04b29 --query LaunchTemplateVersion.VersionNumber --output text)
fi
expect_id '^[0-9]+$' "$VERSION_eu_west_1_lt_0123456789abcdef0" create-launch-template-version:eu-west-1:lt-0123456789abcdef0
printf '%s: version %s\n' create-launch-template-version:eu-west-1:lt-0123456789abcdef0 "$VERSION_eu_west_1_lt_0123456789abcdef0"
end_task

# set-default-launch-template-version:eu-west-1:lt-0123456789abcdef0: make that version the default of lt-0123456789abcdef0
# in account 333333333333, as arn:aws:iam::333333333333:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task set-default-launch-template-version:eu-west-1:lt-0123456789abcdef0
in_account 333333333333 aws ec2 modify-launch-template --region eu-west-1 --launch-template-id lt-0123456789abcdef0 --default-version "$VERSION_eu_west_1_lt_0123456789abcdef0"
end_task

# ---- ap-southeast-2

# copy-image:ap-southeast-2: copy the AMI from us-east-1 as "web-app 2026-11-24T09-00-00Z"
begin_task copy-image:ap-southeast-2
AMI_ap_southeast_2=$(find_image ap-southeast-2 'web-app 2026-11-24T09-00-00Z')
if [[ -z $AMI_ap_southeast_2 ]]; then
  AMI_ap_southeast_2=$(aws ec2 copy-image --region ap-southeast-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'web-app 2026-11-24T09-00-00Z' --client-token imgship-c2459412-cdb2fb7343b17d0c --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_ap_southeast_2" copy-image:ap-southeast-2
printf '%s: %s\n' copy-image:ap-southeast-2 "$AMI_ap_southeast_2"
end_task
wait_for_image ap-southeast-2 "$AMI_ap_southeast_2"

# export-image:ap-southeast-2: export the AMI as VMDK to s3://exports-syd/web-app/<export task id>.vmdk
begin_task export-image:ap-southeast-2
EXPORT_ap_southeast_2=$(aws ec2 export-image --region ap-southeast-2 --image-id "$AMI_ap_southeast_2" --disk-image-format VMDK --s3-export-location '{"S3Bucket":"exports-syd","S3Prefix":"web-app/"}' --role-name vmimport --client-token imgship-c2459412-9c6094dbd5d2581f --query ExportImageTaskId --output text)
expect_id '^export-ami-[0-9a-z]+$' "$EXPORT_ap_southeast_2" export-image:ap-southeast-2
printf '%s: export task %s (aws ec2 describe-export-image-tasks --region %s --export-image-task-ids %s)\n' export-image:ap-southeast-2 "$EXPORT_ap_southeast_2" ap-southeast-2 "$EXPORT_ap_southeast_2"
end_task

# The plan is done when every copy is available.
wait_for_image eu-west-1 "$AMI_eu_west_1"
wait_for_image eu-west-1 "$AMI_eu_west_1_222222222222" in_account 222222222222

echo "distribution done"
