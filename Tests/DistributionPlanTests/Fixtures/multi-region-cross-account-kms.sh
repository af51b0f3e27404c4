#!/usr/bin/env bash
# Distribution plan for "web-app-distribution", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1, platform linux, build 2026-11-24T09-00-00Z version 3.
# 9 tasks: 4 AMI copies in 2 regions and 2 other accounts, 1 launch permission change, 1 launch template version, 1 default version change, 1 SSM parameter, 1 S3 export.
# Review it, then run it with the owner account's credentials:
#   bash web-app-distribution.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
set -euo pipefail

BUILD_AMI="${1:?usage: $0 BUILD_AMI_ID (the AMI built in us-east-1)}"
CALLER_ACCOUNT=$(aws sts get-caller-identity --query Account --output text)
OWNER_ACCOUNT=123456789012
if [[ "$CALLER_ACCOUNT" != "$OWNER_ACCOUNT" ]]; then
  echo "run this with credentials of the owner account $OWNER_ACCOUNT, not $CALLER_ACCOUNT" >&2
  exit 1
fi

# Runs a command in another account through the role Image Builder assumes there.
in_account() {
  local account=$1 credentials key secret token
  shift
  credentials=$(aws sts assume-role --role-arn "arn:aws:iam::${account}:role/EC2ImageBuilderDistributionCrossAccountRole" \
    --role-session-name imgship-distribution --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
  read -r key secret token <<<"$credentials"
  AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_SESSION_TOKEN=$token "$@"
}

# A target account copies the build AMI itself, so it needs launch permission on the AMI
# and create-volume permission on its snapshots.
share_build_image() {
  local account=$1 snapshot
  aws ec2 modify-image-attribute --region us-east-1 --image-id "$BUILD_AMI" --launch-permission "Add=[{UserId=${account}}]"
  for snapshot in $(aws ec2 describe-images --region us-east-1 --image-ids "$BUILD_AMI" \
      --query 'Images[0].BlockDeviceMappings[].Ebs.SnapshotId' --output text); do
    aws ec2 modify-snapshot-attribute --region us-east-1 --snapshot-id "$snapshot" \
      --attribute createVolumePermission --operation-type add --user-ids "$account"
  done
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

# modify-image-attribute:us-east-1: let accounts 222222222222 launch the AMI
aws ec2 modify-image-attribute --region us-east-1 --image-id "$BUILD_AMI" --launch-permission '{"Add":[{"UserId":"222222222222"}]}'

# put-ssm-parameter:us-east-1:123456789012:/images/web-app/latest: store the AMI id in SSM parameter /images/web-app/latest
aws ssm put-parameter --region us-east-1 --name /images/web-app/latest --value "$BUILD_AMI" --type String --overwrite --data-type aws:ec2:image

# ---- eu-west-1

# copy-image:eu-west-1: copy the AMI from us-east-1 as "web-app 2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111
AMI_eu_west_1=$(aws ec2 copy-image --region eu-west-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'web-app 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111 --query ImageId --output text)
echo "copy-image:eu-west-1: $AMI_eu_west_1"
wait_for_image eu-west-1 "$AMI_eu_west_1"

# copy-image:eu-west-1:222222222222: copy the AMI into account 222222222222 through EC2ImageBuilderDistributionCrossAccountRole
share_build_image 222222222222
AMI_eu_west_1_222222222222=$(in_account 222222222222 aws ec2 copy-image --region eu-west-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'web-app 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111 --query ImageId --output text)
echo "copy-image:eu-west-1:222222222222: $AMI_eu_west_1_222222222222"

# copy-image:eu-west-1:333333333333: copy the AMI into account 333333333333 through EC2ImageBuilderDistributionCrossAccountRole
share_build_image 333333333333
AMI_eu_west_1_333333333333=$(in_account 333333333333 aws ec2 copy-image --region eu-west-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'web-app 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/aaaabbbb-cccc-dddd-eeee-ffff00001111 --query ImageId --output text)
echo "copy-image:eu-west-1:333333333333: $AMI_eu_west_1_333333333333"
wait_for_image eu-west-1 "$AMI_eu_west_1_333333333333" in_account 333333333333

# create-launch-template-version:eu-west-1:lt-0123456789abcdef0: new version of lt-0123456789abcdef0 launching the AMI
VERSION_eu_west_1_lt_0123456789abcdef0=$(in_account 333333333333 aws ec2 create-launch-template-version --region eu-west-1 --launch-template-id lt-0123456789abcdef0 --source-version '$Latest' --launch-template-data "{\"ImageId\":\"${AMI_eu_west_1_333333333333}\"}" --query LaunchTemplateVersion.VersionNumber --output text)
echo "create-launch-template-version:eu-west-1:lt-0123456789abcdef0: version $VERSION_eu_west_1_lt_0123456789abcdef0"

# set-default-launch-template-version:eu-west-1:lt-0123456789abcdef0: make that version the default of lt-0123456789abcdef0
in_account 333333333333 aws ec2 modify-launch-template --region eu-west-1 --launch-template-id lt-0123456789abcdef0 --default-version "$VERSION_eu_west_1_lt_0123456789abcdef0"

# ---- ap-southeast-2

# copy-image:ap-southeast-2: copy the AMI from us-east-1 as "web-app 2026-11-24T09-00-00Z"
AMI_ap_southeast_2=$(aws ec2 copy-image --region ap-southeast-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'web-app 2026-11-24T09-00-00Z' --query ImageId --output text)
echo "copy-image:ap-southeast-2: $AMI_ap_southeast_2"
wait_for_image ap-southeast-2 "$AMI_ap_southeast_2"

# export-image:ap-southeast-2: export the AMI as VMDK to s3://exports-syd/web-app/export-ami-<id>.vmdk
EXPORT_ap_southeast_2=$(aws ec2 export-image --region ap-southeast-2 --image-id "$AMI_ap_southeast_2" --disk-image-format VMDK --s3-export-location '{"S3Bucket":"exports-syd","S3Prefix":"web-app/"}' --role-name vmimport --query ExportImageTaskId --output text)
echo "export-image:ap-southeast-2: export task $EXPORT_ap_southeast_2 (aws ec2 describe-export-image-tasks --region ap-southeast-2 --export-image-task-ids $EXPORT_ap_southeast_2)"

# The plan is done when every copy is available.
wait_for_image eu-west-1 "$AMI_eu_west_1_222222222222" in_account 222222222222

echo "distribution done"
