#!/usr/bin/env bash
# Builds the model image (model-container/Dockerfile) from exactly the files its content tag covers, with
# BuildKit, for linux/amd64. The pipeline's Image stage runs this script and nothing else; a developer runs it
# the same way to reproduce an image locally (needs Docker, Node and `npm ci`).
#
#   scripts/build-image.sh
#       local build only: tags churn-model:<content tag> in the local Docker engine
#   IMAGE_REPOSITORY_URI=<account>.dkr.ecr.<region>.amazonaws.com/<repo> scripts/build-image.sh
#       if the repository has no image with the content tag: build, log in, push. Either way: wait for the
#       push scan, fail on findings at FAIL_ON_SEVERITY or above, write IMAGE_TAG and IMAGE_URI (by digest)
#       to IMAGE_OUTPUT.
#
# Environment:
#   IMAGE_REPOSITORY_URI  ECR repository to publish to (unset: local build only)
#   FAIL_ON_SEVERITY      CRITICAL (default), HIGH, MEDIUM, LOW, INFORMATIONAL, UNDEFINED or NONE (never fail)
#   PYTHON_IMAGE          another base image, <name>:<tag>@sha256:<64 hex>; enters the content tag
#   IMAGE_OUTPUT          where IMAGE_TAG=... and IMAGE_URI=... are written (default .image-build/image.env)
#   LOCAL_IMAGE_NAME      image name of a local build (default churn-model)
#   AWS_REGION            region of the repository (CodeBuild sets it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

fail() { echo "build-image: $*" >&2; exit 1; }

SEVERITIES=(CRITICAL HIGH MEDIUM LOW INFORMATIONAL UNDEFINED)
FAIL_ON_SEVERITY="${FAIL_ON_SEVERITY:-CRITICAL}"
if [ "$FAIL_ON_SEVERITY" != NONE ] && [[ " ${SEVERITIES[*]} " != *" $FAIL_ON_SEVERITY "* ]]; then
  fail "FAIL_ON_SEVERITY=$FAIL_ON_SEVERITY is not one of ${SEVERITIES[*]} NONE"
fi
build_args=()
if [ -n "${PYTHON_IMAGE:-}" ]; then
  # A tag alone can move: only a digest names one base image, and the content tag must name one image.
  [[ "$PYTHON_IMAGE" =~ ^[a-z0-9./_:-]+@sha256:[0-9a-f]{64}$ ]] ||
    fail "PYTHON_IMAGE=$PYTHON_IMAGE is not pinned by digest; give <name>:<tag>@sha256:<64 hex digits>"
  build_args=(--build-arg "PYTHON_IMAGE=$PYTHON_IMAGE")
fi
TS_NODE="$ROOT/node_modules/.bin/ts-node"
[ -x "$TS_NODE" ] || fail "$TS_NODE not found; run npm ci first"

context="$(mktemp -d)"
trap 'rm -rf "$context"' EXIT
# One implementation of the tag and the context: infra/lib/image-context.ts.
tag="$("$TS_NODE" --transpile-only scripts/image-context.ts --stage "$context" "${build_args[@]}")"
echo "build-image: content tag $tag"

build() {
  DOCKER_BUILDKIT=1 docker build --platform linux/amd64 --file "$context/model-container/Dockerfile" \
    --tag "$1" "${build_args[@]}" "$context"
}

if [ -z "${IMAGE_REPOSITORY_URI:-}" ]; then
  build "${LOCAL_IMAGE_NAME:-churn-model}:$tag"
  echo "build-image: built ${LOCAL_IMAGE_NAME:-churn-model}:$tag (local only; set IMAGE_REPOSITORY_URI to publish)"
  exit 0
fi

[[ "$IMAGE_REPOSITORY_URI" =~ ^([0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com[a-z.]*)/([a-z0-9._/-]+)$ ]] ||
  fail "IMAGE_REPOSITORY_URI=$IMAGE_REPOSITORY_URI is not an ECR repository URI (<account>.dkr.ecr.<region>.amazonaws.com/<name>)"
registry="${BASH_REMATCH[1]}"
repository="${BASH_REMATCH[2]}"
region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
[ -n "$region" ] || fail "AWS_REGION is not set; the region of $IMAGE_REPOSITORY_URI is needed to log in"

# Prints the digest of the image tagged $tag, or nothing when the repository has no such image; any other error
# (access denied, no repository) stops the build rather than being taken for "absent".
image_digest() {
  local out err
  err="$(mktemp)"
  if out="$(aws ecr describe-images --repository-name "$repository" --image-ids "imageTag=$tag" \
      --query 'imageDetails[0].imageDigest' --output text 2>"$err")"; then
    rm -f "$err"
    echo "$out"
  elif grep -q ImageNotFoundException "$err"; then
    rm -f "$err"
  else
    cat "$err" >&2
    rm -f "$err"
    fail "could not look up $repository:$tag (above)"
  fi
}

digest="$(image_digest)"
if [ -n "$digest" ]; then
  echo "build-image: $repository:$tag exists ($digest); skipping the build"
else
  build "$IMAGE_REPOSITORY_URI:$tag"
  aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
  docker push "$IMAGE_REPOSITORY_URI:$tag"
  digest="$(image_digest)"
  [ -n "$digest" ] || fail "pushed $IMAGE_REPOSITORY_URI:$tag but the repository does not list it"
fi
[[ "$digest" =~ ^sha256:[0-9a-f]{64}$ ]] || fail "unexpected digest '$digest' for $repository:$tag"

# The push scan gates reused images too: an image that failed the gate keeps its immutable tag, and a later run
# must not let it through by skipping the build.
aws ecr wait image-scan-complete --repository-name "$repository" --image-id "imageDigest=$digest"
counts="$(aws ecr describe-image-scan-findings --repository-name "$repository" --image-id "imageDigest=$digest" \
  --query 'imageScanFindings.findingSeverityCounts' --output json)"
echo "build-image: scan findings by severity: $counts"
if [ "$FAIL_ON_SEVERITY" != NONE ]; then
  blocking="$(node -e '
    const [counts, threshold, ...order] = process.argv.slice(1);
    const found = JSON.parse(counts || "null") ?? {};
    const gated = order.slice(0, order.indexOf(threshold) + 1);
    console.log(gated.filter((s) => (found[s] ?? 0) > 0).map((s) => `${s}=${found[s]}`).join(" "));
  ' "$counts" "$FAIL_ON_SEVERITY" "${SEVERITIES[@]}")"
  [ -z "$blocking" ] || fail "$IMAGE_REPOSITORY_URI@$digest has findings at $FAIL_ON_SEVERITY or above: $blocking"
fi

uri="$registry/$repository@$digest"
output="${IMAGE_OUTPUT:-.image-build/image.env}"
mkdir -p "$(dirname "$output")"
printf 'IMAGE_TAG=%s\nIMAGE_URI=%s\n' "$tag" "$uri" > "$output"
echo "build-image: IMAGE_URI=$uri"
