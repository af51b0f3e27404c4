#!/usr/bin/env bash
# Distribution plan for "sql-server-golden-image", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1, platform linux, build 2026-11-24T09-00-00Z version 3.
# 13 tasks: 4 AMI copies in 2 regions and 2 other accounts, 2 license associations, 3 launch template versions, 2 default version changes, 2 SSM parameters.
# Review it, then run it with the owner account's credentials:
#   bash sql-server-golden-image.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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

# copy-image:us-east-1:444455556666: copy the AMI into account 444455556666 through EC2ImageBuilderDistributionCrossAccountRole
share_build_image 444455556666
AMI_us_east_1_444455556666=$(in_account 444455556666 aws ec2 copy-image --region us-east-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name sql-server-3-2026-11-24T09-00-00Z --description 'SQL Server 2022 on Windows Server 2022' --encrypted --kms-key-id arn:aws:kms:us-east-1:123456789012:alias/golden-images --tag-specifications '[{"ResourceType":"image","Tags":[{"Key":"Application","Value":"sql-server"},{"Key":"Release","Value":"{{ imagebuilder:buildVersion }}"}]}]' --query ImageId --output text)
echo "copy-image:us-east-1:444455556666: $AMI_us_east_1_444455556666"

# associate-licenses:us-east-1: associate 1 license configuration(s)
aws license-manager update-license-specifications-for-resource --region us-east-1 --resource-arn "arn:aws:ec2:us-east-1::image/${BUILD_AMI}" --add-license-specifications '[{"LicenseConfigurationArn":"arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0a1b2c3d4e5f60718293a4b5c6d7e8f9"}]'

# create-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd: new version of lt-0aaaabbbbccccdddd launching the AMI
VERSION_us_east_1_lt_0aaaabbbbccccdddd=$(aws ec2 create-launch-template-version --region us-east-1 --launch-template-id lt-0aaaabbbbccccdddd --source-version '$Latest' --launch-template-data "{\"ImageId\":\"${BUILD_AMI}\"}" --query LaunchTemplateVersion.VersionNumber --output text)
echo "create-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd: version $VERSION_us_east_1_lt_0aaaabbbbccccdddd"

# set-default-launch-template-version:us-east-1:lt-0aaaabbbbccccdddd: make that version the default of lt-0aaaabbbbccccdddd
aws ec2 modify-launch-template --region us-east-1 --launch-template-id lt-0aaaabbbbccccdddd --default-version "$VERSION_us_east_1_lt_0aaaabbbbccccdddd"
wait_for_image us-east-1 "$AMI_us_east_1_444455556666" in_account 444455556666

# create-launch-template-version:us-east-1:lt-0eeeeffff00001111: new version of lt-0eeeeffff00001111 launching the AMI
VERSION_us_east_1_lt_0eeeeffff00001111=$(in_account 444455556666 aws ec2 create-launch-template-version --region us-east-1 --launch-template-id lt-0eeeeffff00001111 --source-version '$Latest' --launch-template-data "{\"ImageId\":\"${AMI_us_east_1_444455556666}\"}" --query LaunchTemplateVersion.VersionNumber --output text)
echo "create-launch-template-version:us-east-1:lt-0eeeeffff00001111: version $VERSION_us_east_1_lt_0eeeeffff00001111"

# set-default-launch-template-version:us-east-1:lt-0eeeeffff00001111: make that version the default of lt-0eeeeffff00001111
in_account 444455556666 aws ec2 modify-launch-template --region us-east-1 --launch-template-id lt-0eeeeffff00001111 --default-version "$VERSION_us_east_1_lt_0eeeeffff00001111"

# put-ssm-parameter:us-east-1:123456789012:/golden/sql-server/latest: store the AMI id in SSM parameter /golden/sql-server/latest
aws ssm put-parameter --region us-east-1 --name /golden/sql-server/latest --value "$BUILD_AMI" --type String --overwrite --data-type aws:ec2:image

# put-ssm-parameter:us-east-1:444455556666:/shared/sql-server/latest: store the AMI id in SSM parameter /shared/sql-server/latest
in_account 444455556666 aws ssm put-parameter --region us-east-1 --name /shared/sql-server/latest --value "$AMI_us_east_1_444455556666" --type String --overwrite --data-type aws:ec2:image

# ---- us-west-2

# copy-image:us-west-2: copy the AMI from us-east-1 as "sql-server-3-2026-11-24T09-00-00Z", encrypted with arn:aws:kms:us-west-2:123456789012:alias/golden-images
AMI_us_west_2=$(aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name sql-server-3-2026-11-24T09-00-00Z --encrypted --kms-key-id arn:aws:kms:us-west-2:123456789012:alias/golden-images --query ImageId --output text)
echo "copy-image:us-west-2: $AMI_us_west_2"
wait_for_image us-west-2 "$AMI_us_west_2"

# copy-image:us-west-2:444455556666: copy the AMI into account 444455556666 through EC2ImageBuilderDistributionCrossAccountRole
AMI_us_west_2_444455556666=$(in_account 444455556666 aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name sql-server-3-2026-11-24T09-00-00Z --encrypted --kms-key-id arn:aws:kms:us-west-2:123456789012:alias/golden-images --query ImageId --output text)
echo "copy-image:us-west-2:444455556666: $AMI_us_west_2_444455556666"

# copy-image:us-west-2:777788889999: copy the AMI into account 777788889999 through EC2ImageBuilderDistributionCrossAccountRole
share_build_image 777788889999
AMI_us_west_2_777788889999=$(in_account 777788889999 aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name sql-server-3-2026-11-24T09-00-00Z --encrypted --kms-key-id arn:aws:kms:us-west-2:123456789012:alias/golden-images --query ImageId --output text)
echo "copy-image:us-west-2:777788889999: $AMI_us_west_2_777788889999"

# associate-licenses:us-west-2: associate 1 license configuration(s)
aws license-manager update-license-specifications-for-resource --region us-west-2 --resource-arn "arn:aws:ec2:us-west-2::image/${AMI_us_west_2}" --add-license-specifications '[{"LicenseConfigurationArn":"arn:aws:license-manager:us-west-2:123456789012:license-configuration:lic-99887766554433221100ffeeddccbbaa"}]'
wait_for_image us-west-2 "$AMI_us_west_2_777788889999" in_account 777788889999

# create-launch-template-version:us-west-2:lt-0222233334444aaaa: new version of lt-0222233334444aaaa launching the AMI
VERSION_us_west_2_lt_0222233334444aaaa=$(in_account 777788889999 aws ec2 create-launch-template-version --region us-west-2 --launch-template-id lt-0222233334444aaaa --source-version '$Latest' --launch-template-data "{\"ImageId\":\"${AMI_us_west_2_777788889999}\"}" --query LaunchTemplateVersion.VersionNumber --output text)
echo "create-launch-template-version:us-west-2:lt-0222233334444aaaa: version $VERSION_us_west_2_lt_0222233334444aaaa"

# The plan is done when every copy is available.
wait_for_image us-west-2 "$AMI_us_west_2_444455556666" in_account 444455556666

echo "distribution done"
