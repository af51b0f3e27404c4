#!/usr/bin/env bash
# Distribution plan for "org-shared-base", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1, platform linux, build 2026-11-24T09-00-00Z version 3.
# 5 tasks: 2 AMI copies in 2 regions, 2 launch permission changes, 1 SSM parameter.
# Review it, then run it with the owner account's credentials:
#   bash org-shared-base.sh ami-0123456789abcdef0   # the AMI Image Builder built in us-east-1
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

# ---- eu-central-1

# copy-image:eu-central-1: copy the AMI from us-east-1 as "base-al2023 2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0
AMI_eu_central_1=$(aws ec2 copy-image --region eu-central-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'base-al2023 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-central-1:123456789012:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0 --query ImageId --output text)
echo "copy-image:eu-central-1: $AMI_eu_central_1"
wait_for_image eu-central-1 "$AMI_eu_central_1"

# modify-image-attribute:eu-central-1: let organizations arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5; OUs arn:aws:organizations::123456789012:ou/o-a1b2c3d4e5/ou-ab12-cd34ef56 launch the AMI
aws ec2 modify-image-attribute --region eu-central-1 --image-id "$AMI_eu_central_1" --launch-permission '{"Add":[{"OrganizationArn":"arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5"},{"OrganizationalUnitArn":"arn:aws:organizations::123456789012:ou/o-a1b2c3d4e5/ou-ab12-cd34ef56"}]}'

# put-ssm-parameter:eu-central-1:123456789012:/golden/al2023/latest: store the AMI id in SSM parameter /golden/al2023/latest
aws ssm put-parameter --region eu-central-1 --name /golden/al2023/latest --value "$AMI_eu_central_1" --type String --overwrite --data-type aws:ec2:image

# ---- eu-west-1

# copy-image:eu-west-1: copy the AMI from us-east-1 as "base-al2023 2026-11-24T09-00-00Z", encrypted with arn:aws:kms:eu-west-1:123456789012:key/11112222-3333-4444-5555-666677778888
AMI_eu_west_1=$(aws ec2 copy-image --region eu-west-1 --source-region us-east-1 --source-image-id "$BUILD_AMI" --name 'base-al2023 2026-11-24T09-00-00Z' --encrypted --kms-key-id arn:aws:kms:eu-west-1:123456789012:key/11112222-3333-4444-5555-666677778888 --query ImageId --output text)
echo "copy-image:eu-west-1: $AMI_eu_west_1"
wait_for_image eu-west-1 "$AMI_eu_west_1"

# modify-image-attribute:eu-west-1: let organizations arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5 launch the AMI
aws ec2 modify-image-attribute --region eu-west-1 --image-id "$AMI_eu_west_1" --launch-permission '{"Add":[{"OrganizationArn":"arn:aws:organizations::123456789012:organization/o-a1b2c3d4e5"}]}'

echo "distribution done"
