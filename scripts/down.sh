#!/usr/bin/env bash
# Stops what `npm run up` started (`npm run down`): the compose stack, then the task containers
# its agent left on this machine's engine (labelled com.wharf.container-instance-arn with one of
# this stack's container instances). Data volumes (Postgres, NATS, the agent's) are kept unless
# --volumes is given.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[down] $*" >&2; }

volumes=()
for arg in "$@"; do
  case "$arg" in
    -v|--volumes) volumes=(--volumes) ;;
    *) echo "usage: scripts/down.sh [--volumes]" >&2; exit 2 ;;
  esac
done

export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-wharf}"
if ! docker info >/dev/null 2>&1; then
  log "no Docker engine answers; nothing to stop"
  exit 0
fi
if command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  log "neither docker-compose nor docker compose is installed"
  exit 1
fi

# Which container instances this stack has had: the api knows (while it is up), and up.sh kept
# a list in .wharf/compose-instances. Their task containers are removed after the stack stops;
# containers of other clusters, tests or agents on this engine are left alone.
mkdir -p .wharf
api_port="${WHARF_API_PORT:-4700}"
{ cat .wharf/compose-instances 2>/dev/null || true
  WHARF_ENDPOINT="http://127.0.0.1:$api_port" node scripts/demo.mjs instances 2>/dev/null || true
} | sort -u | grep -E '^arn:' > .wharf/compose-instances.tmp || true
mv -f .wharf/compose-instances.tmp .wharf/compose-instances

log "stopping the stack (${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME down ${volumes[*]:-})"
"${COMPOSE[@]}" down --remove-orphans "${volumes[@]}"

# The agent stops its tasks only when told to; what it left behind goes now.
tasks=()
while read -r arn; do
  [ -n "$arn" ] || continue
  mapfile -t -O "${#tasks[@]}" tasks < <(docker ps -aq --filter "label=com.wharf.container-instance-arn=$arn")
done < .wharf/compose-instances
if [ "${#tasks[@]}" -gt 0 ]; then
  log "removing ${#tasks[@]} task container(s) the agent left"
  docker rm -f "${tasks[@]}" >/dev/null
fi
# With --volumes the instances are gone for good (a new database registers new ones).
if [ "${#volumes[@]}" -gt 0 ]; then rm -f .wharf/compose-instances; fi
log "stopped"
