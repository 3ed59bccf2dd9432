#!/usr/bin/env bash
# Makes sure a Docker engine answers on /var/run/docker.sock: installs Debian's docker.io
# and starts dockerd when needed. Idempotent; safe to run before every test run.
set -euo pipefail

log() { echo "[ensure-docker] $*" >&2; }
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

if docker info >/dev/null 2>&1; then
  exit 0
fi

if ! command -v dockerd >/dev/null 2>&1; then
  log "installing Debian's docker.io"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker.io iptables >/dev/null
fi

if ! pgrep -x dockerd >/dev/null 2>&1; then
  log "starting dockerd (log: /var/log/wharf-dockerd.log)"
  # setsid: its own session, so it outlives the shell (and process group) that started it.
  $SUDO setsid sh -c 'nohup dockerd >/var/log/wharf-dockerd.log 2>&1 &' </dev/null
fi

for _ in $(seq 1 60); do
  if docker info >/dev/null 2>&1; then
    log "Docker engine is up"
    exit 0
  fi
  sleep 1
done
log "dockerd did not answer within 60 s; see /var/log/wharf-dockerd.log"
tail -20 /var/log/wharf-dockerd.log >&2 || true
exit 1
