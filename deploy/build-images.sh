#!/usr/bin/env bash
# Builds every image Wharf runs from, here (no registry) or anywhere. Idempotent: an image is
# rebuilt only when the files it is built from changed (their hash is a label on the image).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[images] $*" >&2; }

bash deploy/base/build-base.sh

# build NAME CONTEXT [DOCKERFILE]
build() {
  local name=$1 context=$2 dockerfile=${3:-$2/Dockerfile}
  local hash
  hash=$( (find "$context" -type f -print0 | sort -z | xargs -0 sha256sum; sha256sum "$dockerfile") | sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{ index .Config.Labels "wharf.build-hash" }}' "$name" 2>/dev/null || true)" = "$hash" ]; then
    log "$name is current"
    return
  fi
  log "building $name"
  local out
  if ! out=$(docker build -q --label "wharf.build-hash=$hash" -t "$name" -f "$dockerfile" "$context" 2>&1); then
    echo "$out" >&2
    log "building $name failed"
    return 1
  fi
}

build wharf/postgres:dev deploy/postgres
build wharf/nats:dev deploy/nats

# The workload image: Debian's static busybox, copied in from the build machine.
if [ ! -x /bin/busybox ] || ! file /bin/busybox 2>/dev/null | grep -q static; then
  if ! dpkg -s busybox-static >/dev/null 2>&1; then
    log "installing busybox-static"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
  fi
fi
mkdir -p deploy/workload/.context
cp -f deploy/workload/Dockerfile deploy/workload/.context/Dockerfile
cmp -s /bin/busybox deploy/workload/.context/busybox 2>/dev/null || cp -f /bin/busybox deploy/workload/.context/busybox
build wharf/busybox:dev deploy/workload/.context

# The services (one image, `wharf api|state|scheduler|agent|lb`) and the host (its own Docker
# engine plus the agent), both from the context staged by deploy/services/stage.sh: compiled
# code, production node_modules and the Node.js binary, so the builds need no network but
# Debian's mirror for the host's docker.io. WHARF_SKIP_COMPILE=1 reuses the current dist/.
if [ "${WHARF_SKIP_COMPILE:-}" != "1" ]; then
  log "compiling (npm run build)"
  npm run build --silent
fi
bash deploy/services/stage.sh
build wharf/services:dev deploy/services/.context deploy/services/.context/Dockerfile
build wharf/host:dev deploy/services/.context deploy/services/.context/Dockerfile.host
