#!/usr/bin/env bash
# Distribution plan for "vm-exports", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1, platform linux, build 2026-11-24T09-00-00Z version 3.
# 5 tasks: 2 AMI copies in 2 regions, 3 S3 exports.
# Review it, then run it with the owner account's credentials:
#   bash vm-exports.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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

# export-image:us-east-1: export the AMI as VMDK to s3://appliance-exports/vmware/export-ami-<id>.vmdk
EXPORT_us_east_1=$(aws ec2 export-image --region us-east-1 --image-id "$BUILD_AMI" --disk-image-format VMDK --s3-export-location '{"S3Bucket":"appliance-exports","S3Prefix":"vmware/"}' --role-name vmimport --query ExportImageTaskId --output text)
echo "export-image:us-east-1: export task $EXPORT_us_east_1 (aws ec2 describe-export-image-tasks --region us-east-1 --export-image-task-ids $EXPORT_us_east_1)"

# ---- us-east-2

# copy-image:us-east-2: copy the AMI from us-east-1 as "appliance 2026-11-24T09-00-00Z"
AMI_us_east_2=$(aws ec2 copy-image --region us-east-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'appliance 2026-11-24T09-00-00Z' --query ImageId --output text)
echo "copy-image:us-east-2: $AMI_us_east_2"
wait_for_image us-east-2 "$AMI_us_east_2"

# export-image:us-east-2: export the AMI as VHD to s3://appliance-exports-ohio/hyperv/export-ami-<id>.vhd
EXPORT_us_east_2=$(aws ec2 export-image --region us-east-2 --image-id "$AMI_us_east_2" --disk-image-format VHD --s3-export-location '{"S3Bucket":"appliance-exports-ohio","S3Prefix":"hyperv/"}' --role-name vmimport --query ExportImageTaskId --output text)
echo "export-image:us-east-2: export task $EXPORT_us_east_2 (aws ec2 describe-export-image-tasks --region us-east-2 --export-image-task-ids $EXPORT_us_east_2)"

# ---- us-west-2

# copy-image:us-west-2: copy the AMI from us-east-1 as "appliance 2026-11-24T09-00-00Z"
AMI_us_west_2=$(aws ec2 copy-image --region us-west-2 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'appliance 2026-11-24T09-00-00Z' --query ImageId --output text)
echo "copy-image:us-west-2: $AMI_us_west_2"
wait_for_image us-west-2 "$AMI_us_west_2"

# export-image:us-west-2: export the AMI as RAW to s3://appliance-exports-oregon/export-ami-<id>.raw
EXPORT_us_west_2=$(aws ec2 export-image --region us-west-2 --image-id "$AMI_us_west_2" --disk-image-format RAW --s3-export-location '{"S3Bucket":"appliance-exports-oregon"}' --role-name vmimport --query ExportImageTaskId --output text)
echo "export-image:us-west-2: export task $EXPORT_us_west_2 (aws ec2 describe-export-image-tasks --region us-west-2 --export-image-task-ids $EXPORT_us_west_2)"

echo "distribution done"
