#!/usr/bin/env bash
# Provides the base image `debian:bookworm-slim` for Wharf's Dockerfiles. Where a registry is
# reachable it is pulled; here none is, so a minimal Debian bookworm root filesystem is made
# with debootstrap and imported under the same name. Idempotent: does nothing if it exists.
set -euo pipefail
IMAGE="${WHARF_BASE_IMAGE:-debian:bookworm-slim}"
log() { echo "[base-image] $*" >&2; }

if docker image inspect "$IMAGE" >/dev/null 2>&1; then exit 0; fi
if timeout 60 docker pull "$IMAGE" >/dev/null 2>&1; then log "pulled $IMAGE"; exit 0; fi

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
fi
MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
root=$(mktemp -d /tmp/wharf-rootfs.XXXXXX)
trap 'rm -rf "$root"' EXIT
log "debootstrap bookworm from $MIRROR (about 20 s)"
debootstrap --variant=minbase bookworm "$root" "$MIRROR" >/tmp/wharf-debootstrap.log 2>&1 || {
  tail -20 /tmp/wharf-debootstrap.log >&2; exit 1; }
echo "deb $MIRROR bookworm main" > "$root/etc/apt/sources.list"
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
tar -C "$root" -c . | docker import - "$IMAGE" >/dev/null
log "imported $IMAGE"
