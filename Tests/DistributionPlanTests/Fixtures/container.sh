#!/usr/bin/env bash
# Distribution plan for "api-container", as AWS CLI commands; written by imgship plan, never run by it.
# Source region us-east-1, platform linux, build 2026-11-24T09-00-00Z version 3.
# 2 tasks: 2 container distributions.
# Review it, then run it with the owner account's credentials:
#   bash api-container.sh
# Container distribution pushes CONTAINER_IMAGE, a local image reference, with docker.
set -euo pipefail

CONTAINER_IMAGE="${CONTAINER_IMAGE:?set CONTAINER_IMAGE to the container image to distribute}"
CALLER_ACCOUNT=$(aws sts get-caller-identity --query Account --output text)
OWNER_ACCOUNT=123456789012
if [[ "$CALLER_ACCOUNT" != "$OWNER_ACCOUNT" ]]; then
  echo "run this with credentials of the owner account $OWNER_ACCOUNT, not $CALLER_ACCOUNT" >&2
  exit 1
fi

# ---- us-east-1 (source region)

# distribute-container:us-east-1: push the container image to ECR api-service with tags latest, 1.4.0
registry="${OWNER_ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com"
aws ecr get-login-password --region us-east-1 | docker login --username AWS --password-stdin "$registry"
docker tag "$CONTAINER_IMAGE" "$registry"/api-service:latest
docker push "$registry"/api-service:latest
docker tag "$CONTAINER_IMAGE" "$registry"/api-service:1.4.0
docker push "$registry"/api-service:1.4.0

# ---- eu-west-1

# distribute-container:eu-west-1: push the container image to ECR api-service with tags latest
registry="${OWNER_ACCOUNT}.dkr.ecr.eu-west-1.amazonaws.com"
aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin "$registry"
docker tag "$CONTAINER_IMAGE" "$registry"/api-service:latest
docker push "$registry"/api-service:latest

echo "distribution done"
