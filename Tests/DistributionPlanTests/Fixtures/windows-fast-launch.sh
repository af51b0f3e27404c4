#!/usr/bin/env bash
# Distribution plan for "windows-server-2022", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1, platform windows, build 2026-11-24T09-00-00Z version 3.
# 4 tasks: 1 AMI copy in 1 region, 1 license association, 2 fast launch settings.
# Review it, then run it with the owner account's credentials:
#   bash windows-server-2022.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
set -euo pipefail

BUILD_AMI="${1:?usage: $0 BUILD_AMI_ID (the AMI built in us-east-1)}"
CALLER_ACCOUNT=$(aws sts get-caller-identity --query Account --output text)
OWNER_ACCOUNT=123456789012
if [[ "$CALLER_ACCOUNT" != "$OWNER_ACCOUNT" ]]; then
  echo "run this with credentials of the owner account $OWNER_ACCOUNT, not $CALLER_ACCOUNT" >&2
  exit 1
fi

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

# associate-licenses:us-east-1: associate 1 license configuration(s)
aws license-manager update-license-specifications-for-resource --region us-east-1 --resource-arn "arn:aws:ec2:us-east-1::image/${BUILD_AMI}" --add-license-specifications '[{"LicenseConfigurationArn":"arn:aws:license-manager:us-east-1:123456789012:license-configuration:lic-0123456789abcdef0123456789abcdef"}]'

# enable-fast-launch:us-east-1:0: pre-provision 10 snapshots for fast launch
aws ec2 enable-fast-launch --region us-east-1 --image-id "$BUILD_AMI" --resource-type snapshot --snapshot-configuration '{"TargetResourceCount":10}' --launch-template '{"LaunchTemplateId":"lt-0a1b2c3d4e5f6a7b8","Version":"3"}' --max-parallel-launches 6

# ---- us-west-2

# copy-image:us-west-2: copy the AMI from us-east-1 as "WinServer2022-2026-11-24T09-00-00Z-v3"
AMI_us_west_2=$(aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name WinServer2022-2026-11-24T09-00-00Z-v3 --query ImageId --output text)
echo "copy-image:us-west-2: $AMI_us_west_2"
wait_for_image us-west-2 "$AMI_us_west_2"

# enable-fast-launch:us-west-2:0: pre-provision the default number of snapshots for fast launch
aws ec2 enable-fast-launch --region us-west-2 --image-id "$AMI_us_west_2" --resource-type snapshot --max-parallel-launches 10

echo "distribution done"
