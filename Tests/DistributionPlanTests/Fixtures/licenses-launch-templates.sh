#!/usr/bin/env bash
# Distribution plan for "sql-server-golden-image", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1 (partition aws), platform linux, build 2026-11-24T09-00-00Z version 3, plan 4ff570656cfbe09b.
# 16 tasks: 4 AMI copies in 2 regions and 2 other accounts, 2 build AMI shares, 1 build AMI tagging, 2 license associations, 3 launch template versions, 2 default version changes, 2 SSM parameters.
# assumption: kmsKeyId arn:aws:kms:us-east-1:123456789012:alias/golden-images in the source region us-east-1 encrypts only the copies made there for target accounts; the build AMI keeps the encryption its recipe gave it
# assumption: amiTags Release in us-east-1 is applied as written, "{{ imagebuilder:buildVersion }}": Image Builder documents its {{ }} variables for AMI names, not for tags
# Review it, then run it with the owner account's credentials:
#   bash sql-server-golden-image.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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
  share-build-image:444455556666
  share-build-image:777788889999
  copy-image:us-east-1:444455556666
  associate-licenses:us-east-1
  create-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd
  set-default-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd
  create-launch-template-version:us-east-1:lt-0eeeeffff00001111
  set-default-launch-template-version:us-east-1:lt-0eeeeffff00001111
  put-ssm-parameter:us-east-1:123456789012:/golden/sql-server/latest
  put-ssm-parameter:us-east-1:444455556666:/shared/sql-server/latest
  copy-image:us-west-2
  copy-image:us-west-2:444455556666
  copy-image:us-west-2:777788889999
  associate-licenses:us-west-2
  create-launch-template-version:us-west-2:lt-0222233334444aaaa
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

# tag-build-image:us-east-1: tag the build AMI with Application=sql-server, Release={{ imagebuilder:buildVersion }}
begin_task tag-build-image:us-east-1
aws ec2 create-tags --region us-east-1 --resources "$BUILD_AMI" --tags '[{"Key":"Application","Value":"sql-server"},{"Key":"Release","Value":"{{ imagebuilder:buildVersion }}"}]'
end_task

# share-build-image:444455556666: share the build AMI and its snapshots with account 444455556666, which copies it into us-east-1, us-west-2
begin_task share-build-image:444455556666
share_build_image 444455556666
end_task

# share-build-image:777788889999: share the build AMI and its snapshots with account 777788889999, which copies it into us-west-2
begin_task share-build-image:777788889999
share_build_image 777788889999
end_task

# copy-image:us-east-1:444455556666: copy the AMI into account 444455556666 as "sql-server-3-2026-11-24T09-00-00Z", encrypted with arn:aws:kms:us-east-1:123456789012:alias/golden-images
# in account 444455556666, as arn:aws:iam::444455556666:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task copy-image:us-east-1:444455556666
AMI_us_east_1_444455556666=$(find_image us-east-1 sql-server-3-2026-11-24T09-00-00Z in_account 444455556666)
if [[ -z $AMI_us_east_1_444455556666 ]]; then
  AMI_us_east_1_444455556666=$(in_account 444455556666 aws ec2 copy-image --region us-east-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name sql-server-3-2026-11-24T09-00-00Z --description 'SQL Server 2022 on Windows Server 2022' --encrypted --kms-key-id arn:aws:kms:us-east-1:123456789012:alias/golden-images --tag-specifications '[{"ResourceType":"image","Tags":[{"Key":"Application","Value":"sql-server"},{"Key":"Release","Value":"{{ imagebuilder:buildVersion }}"}]}]' --client-token imgship-4ff57065-f7c439bbf345a90d --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_us_east_1_444455556666" copy-image:us-east-1:444455556666
printf '%s: %s\n' copy-image:us-east-1:444455556666 "$AMI_us_east_1_444455556666"
end_task

# associate-licenses:us-east-1: associate 1 license configuration(s)
begin_task associate-licenses:us-east-1
associated=$(aws license-manager list-license-specifications-for-resource --region us-east-1 --resource-arn "arn:aws:ec2:us-east-1::image/${BUILD_AMI}" --query 'LicenseSpecifications[].LicenseConfigurationArn' --output text)
missing=()
for license in arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0a1b2c3d4e5f60718293a4b5c6d7e8f9; do
  [[ $'\t'"$associated"$'\t' == *$'\t'"$license"$'\t'* ]] || missing+=("{\"LicenseConfigurationArn\":\"$license\"}")
done
if (( ${#missing[@]} > 0 )); then
  aws license-manager update-license-specifications-for-resource --region us-east-1 --resource-arn "arn:aws:ec2:us-east-1::image/${BUILD_AMI}" --add-license-specifications "[$(IFS=,; echo "${missing[*]}")]"
fi
end_task

# create-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd: new version of lt-0aaaabbbbccccdddd launching the AMI
begin_task create-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd
VERSION_us_east_1_lt_0aaaabbbbccccdddd=$(version_launching us-east-1 lt-0aaaabbbbccccdddd "$BUILD_AMI")
if [[ -z $VERSION_us_east_1_lt_0aaaabbbbccccdddd ]]; then
  VERSION_us_east_1_lt_0aaaabbbbccccdddd=$(aws ec2 create-launch-template-version --region us-east-1 --launch-template-id lt-0aaaabbbbccccdddd --source-version '$Latest' --launch-template-data "{\"ImageId\":\"${BUILD_AMI}\"}" --client-token imgship-4ff57065-e8b8269034e305ab --query LaunchTemplateVersion.VersionNumber --output text)
fi
expect_id '^[0-9]+$' "$VERSION_us_east_1_lt_0aaaabbbbccccdddd" create-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd
printf '%s: version %s\n' create-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd "$VERSION_us_east_1_lt_0aaaabbbbccccdddd"
end_task

# set-default-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd: make that version the default of lt-0aaaabbbbccccdddd
begin_task set-default-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd
aws ec2 modify-launch-template --region us-east-1 --launch-template-id lt-0aaaabbbbccccdddd --default-version "$VERSION_us_east_1_lt_0aaaabbbbccccdddd"
end_task
wait_for_image us-east-1 "$AMI_us_east_1_444455556666" in_account 444455556666

# create-launch-template-version:us-east-1:lt-0eeeeffff00001111: new version of lt-0eeeeffff00001111 launching the AMI
# in account 444455556666, as arn:aws:iam::444455556666:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task create-launch-template-version:us-east-1:lt-0eeeeffff00001111
VERSION_us_east_1_lt_0eeeeffff00001111=$(version_launching us-east-1 lt-0eeeeffff00001111 "$AMI_us_east_1_444455556666" in_account 444455556666)
if [[ -z $VERSION_us_east_1_lt_0eeeeffff00001111 ]]; then
  VERSION_us_east_1_lt_0eeeeffff00001111=$(in_account 444455556666 aws ec2 create-launch-template-version --region us-east-1 --launch-template-id lt-0eeeeffff00001111 --source-version '$Latest' --launch-template-data "{\"ImageId\":\"${AMI_us_east_1_444455556666}\"}" --client-token imgship-4ff57065-91ed7f6346c0da93 --query LaunchTemplateVersion.VersionNumber --output text)
fi
expect_id '^[0-9]+$' "$VERSION_us_east_1_lt_0eeeeffff00001111" create-launch-template-version:us-east-1:lt-0eeeeffff00001111
printf '%s: version %s\n' create-launch-template-version:us-east-1:lt-0eeeeffff00001111 "$VERSION_us_east_1_lt_0eeeeffff00001111"
end_task

# set-default-launch-template-version:us-east-1:lt-0eeeeffff00001111: make that version the default of lt-0eeeeffff00001111
# in account 444455556666, as arn:aws:iam::444455556666:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task set-default-launch-template-version:us-east-1:lt-0eeeeffff00001111
in_account 444455556666 aws ec2 modify-launch-template --region us-east-1 --launch-template-id lt-0eeeeffff00001111 --default-version "$VERSION_us_east_1_lt_0eeeeffff00001111"
end_task

# put-ssm-parameter:us-east-1:123456789012:/golden/sql-server/latest: store the AMI id in SSM parameter /golden/sql-server/latest
begin_task put-ssm-parameter:us-east-1:123456789012:/golden/sql-server/latest
if [[ "$(parameter_value us-east-1 /golden/sql-server/latest)" != "$BUILD_AMI" ]]; then
  aws ssm put-parameter --region us-east-1 --name /golden/sql-server/latest --value "$BUILD_AMI" --type String --overwrite --data-type aws:ec2:image > /dev/null
fi
end_task

# put-ssm-parameter:us-east-1:444455556666:/shared/sql-server/latest: store the AMI id in SSM parameter /shared/sql-server/latest
# in account 444455556666, as arn:aws:iam::444455556666:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task put-ssm-parameter:us-east-1:444455556666:/shared/sql-server/latest
if [[ "$(parameter_value us-east-1 /shared/sql-server/latest in_account 444455556666)" != "$AMI_us_east_1_444455556666" ]]; then
  in_account 444455556666 aws ssm put-parameter --region us-east-1 --name /shared/sql-server/latest --value "$AMI_us_east_1_444455556666" --type String --overwrite --data-type aws:ec2:image > /dev/null
fi
end_task

# ---- us-west-2

# copy-image:us-west-2: copy the AMI from us-east-1 as "sql-server-3-2026-11-24T09-00-00Z", encrypted with arn:aws:kms:us-west-2:123456789012:alias/golden-images
begin_task copy-image:us-west-2
AMI_us_west_2=$(find_image us-west-2 sql-server-3-2026-11-24T09-00-00Z)
if [[ -z $AMI_us_west_2 ]]; then
  AMI_us_west_2=$(aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name sql-server-3-2026-11-24T09-00-00Z --encrypted --kms-key-id arn:aws:kms:us-west-2:123456789012:alias/golden-images --client-token imgship-4ff57065-be0790f9d1939ec8 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_us_west_2" copy-image:us-west-2
printf '%s: %s\n' copy-image:us-west-2 "$AMI_us_west_2"
end_task

# copy-image:us-west-2:444455556666: copy the AMI into account 444455556666 as "sql-server-3-2026-11-24T09-00-00Z", encrypted with arn:aws:kms:us-west-2:123456789012:alias/golden-images
# in account 444455556666, as arn:aws:iam::444455556666:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task copy-image:us-west-2:444455556666
AMI_us_west_2_444455556666=$(find_image us-west-2 sql-server-3-2026-11-24T09-00-00Z in_account 444455556666)
if [[ -z $AMI_us_west_2_444455556666 ]]; then
  AMI_us_west_2_444455556666=$(in_account 444455556666 aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name sql-server-3-2026-11-24T09-00-00Z --encrypted --kms-key-id arn:aws:kms:us-west-2:123456789012:alias/golden-images --client-token imgship-4ff57065-f92a4bbcb2bca496 --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_us_west_2_444455556666" copy-image:us-west-2:444455556666
printf '%s: %s\n' copy-image:us-west-2:444455556666 "$AMI_us_west_2_444455556666"
end_task

# copy-image:us-west-2:777788889999: copy the AMI into account 777788889999 as "sql-server-3-2026-11-24T09-00-00Z", encrypted with arn:aws:kms:us-west-2:123456789012:alias/golden-images
# in account 777788889999, as arn:aws:iam::777788889999:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task copy-image:us-west-2:777788889999
AMI_us_west_2_777788889999=$(find_image us-west-2 sql-server-3-2026-11-24T09-00-00Z in_account 777788889999)
if [[ -z $AMI_us_west_2_777788889999 ]]; then
  AMI_us_west_2_777788889999=$(in_account 777788889999 aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name sql-server-3-2026-11-24T09-00-00Z --encrypted --kms-key-id arn:aws:kms:us-west-2:123456789012:alias/golden-images --client-token imgship-4ff57065-ed46b436ce71e89a --query ImageId --output text)
fi
expect_id '^ami-[0-9a-f]{8,17}$' "$AMI_us_west_2_777788889999" copy-image:us-west-2:777788889999
printf '%s: %s\n' copy-image:us-west-2:777788889999 "$AMI_us_west_2_777788889999"
end_task
wait_for_image us-west-2 "$AMI_us_west_2"

# associate-licenses:us-west-2: associate 1 license configuration(s)
begin_task associate-licenses:us-west-2
associated=$(aws license-manager list-license-specifications-for-resource --region us-west-2 --resource-arn "arn:aws:ec2:us-west-2::image/${AMI_us_west_2}" --query 'LicenseSpecifications[].LicenseConfigurationArn' --output text)
missing=()
for license in arn:aws:license-manager:us-west-2:123456789012:license-configuration:lic-99887766554433221100ffeeddccbbaa; do
  [[ $'\t'"$associated"$'\t' == *$'\t'"$license"$'\t'* ]] || missing+=("{\"LicenseConfigurationArn\":\"$license\"}")
done
if (( ${#missing[@]} > 0 )); then
  aws license-manager update-license-specifications-for-resource --region us-west-2 --resource-arn "arn:aws:ec2:us-west-2::image/${AMI_us_west_2}" --add-license-specifications "[$(IFS=,; echo "${missing[*]}")]"
fi
end_task
wait_for_image us-west-2 "$AMI_us_west_2_777788889999" in_account 777788889999

# create-launch-template-version:us-west-2:lt-0222233334444aaaa: new version of lt-0222233334444aaaa launching the AMI
# in account 777788889999, as arn:aws:iam::777788889999:role/EC2ImageBuilderDistributionCrossAccountRole
begin_task create-launch-template-version:us-west-2:lt-0222233334444aaaa
VERSION_us_west_2_lt_0222233334444aaaa=$(version_launching us-west-2 lt-0222233334444aaaa "$AMI_us_west_2_777788889999" in_account 777788889999)
if [[ -z $VERSION_us_west_2_lt_0222233334444aaaa ]]; then
  VERSION_us_west_2_lt_0222233334444aaaa=$(in_account 777788889999 aws ec2 create-launch-template-version --region us-west-2 --launch-template-id lt-0222233334444aaaa --source-version '$Latest' --launch-template-data "{\"ImageId\":\"${AMI_us_west_2_777788889999}\"}" --client-token imgship-4ff57065-8d0c3025bbbbb558 --query LaunchTemplateVersion.VersionNumber --output text)
fi
expect_id '^[0-9]+$' "$VERSION_us_west_2_lt_0222233334444aaaa" create-launch-template-version:us-west-2:lt-0222233334444aaaa
printf '%s: version %s\n' create-launch-template-version:us-west-2:lt-0222233334444aaaa "$VERSION_us_west_2_lt_0222233334444aaaa"
end_task

# The plan is done when every copy is available.
wait_for_image us-west-2 "$AMI_us_west_2_444455556666" in_account 444455556666

echo "distribution done"
