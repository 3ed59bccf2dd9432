#!/usr/bin/env bash
# Starts Wharf on this machine (`npm run up`): Postgres, NATS, state, scheduler, api, lb and one
# agent whose tasks run on this machine's Docker engine, from docker-compose.yml. Works on a
# fresh Debian machine with Node.js: installs what is missing (npm dependencies, Docker engine,
# docker-compose), builds the images locally, starts the stack and waits until the api is ready
# and the agent has registered.
#   (default) then shows it working: scripts/demo.mjs registers a task definition, runs a task,
#            waits for RUNNING, fetches its page through the published port and stops it
#   --no-demo   only start the stack
#   --tls       internal gRPC over mutual TLS: makes a CA and the services' certificates in
#               .wharf/tls (scripts/make-certs.sh; kept and reused) and adds deploy/compose.tls.yml
# Environment: WHARF_API_PORT (4700), WHARF_HOST_ADDRESS (where tasks' published ports are
# reachable; default the docker0 gateway, which both this machine and the lb container reach),
# WHARF_LB_PORTS (8080-8089), WHARF_WAIT_SECONDS (180), COMPOSE_PROJECT_NAME (wharf),
# WHARF_AGENT_JOIN (token: the agent registers with a join token, which this script makes with
# `wharf admin join-token create` and keeps in .wharf/join-token.env, reusing it while state
# still accepts it; open: any agent may join, development only), WHARF_JOIN_TOKEN (use this
# token instead).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { echo "[up] $*" >&2; }
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi

demo=1
tls=0
for arg in "$@"; do
  case "$arg" in
    --demo) demo=1 ;;
    --no-demo) demo=0 ;;
    --tls) tls=1 ;;
    *) echo "usage: scripts/up.sh [--no-demo] [--tls]" >&2; exit 2 ;;
  esac
done

export COMPOSE_PROJECT_NAME="${COMPOSE_PROJECT_NAME:-wharf}"
export WHARF_API_PORT="${WHARF_API_PORT:-4700}"

if [ ! -d node_modules ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
bash scripts/ensure-docker.sh

# docker-compose: Debian's v1, or the v2 plugin where there is one.
if command -v docker-compose >/dev/null 2>&1; then
  COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
  COMPOSE=(docker compose)
else
  log "installing Debian's docker-compose"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq docker-compose >/dev/null
  COMPOSE=(docker-compose)
fi

bash deploy/build-images.sh

if [ "$tls" = 1 ]; then
  export WHARF_TLS_DIR="${WHARF_TLS_DIR:-./.wharf/tls}"
  log "certificates for mutual TLS on internal gRPC in $WHARF_TLS_DIR (scripts/make-certs.sh)"
  bash scripts/make-certs.sh "$WHARF_TLS_DIR"
  # deploy/compose.tls.yml mounts in each service only ca.crt and its own certificate and key
  # (never ca.key). State, scheduler, api and lb run as uid 10001 in their image and must read
  # their key (0600): it is given to that uid. The agent runs as root: its key stays as it is.
  for svc in state scheduler api lb; do
    if [ "$(stat -c %u "$WHARF_TLS_DIR/$svc.key")" != 10001 ]; then
      $SUDO chown 10001 "$WHARF_TLS_DIR/$svc.key"
    fi
  done
  COMPOSE+=(-f docker-compose.yml -f deploy/compose.tls.yml)
fi

if [ -z "${WHARF_HOST_ADDRESS:-}" ]; then
  # This machine's address on Docker's default bridge: tasks' published ports answer there both
  # from this machine and from the lb container (127.0.0.1 would be the lb's own loopback).
  WHARF_HOST_ADDRESS=$(docker network inspect bridge -f '{{range .IPAM.Config}}{{.Gateway}}{{end}}' 2>/dev/null || true)
  if [ -z "$WHARF_HOST_ADDRESS" ] && command -v ip >/dev/null 2>&1; then
    bridge=$(docker network inspect bridge -f '{{index .Options "com.docker.network.bridge.name"}}' 2>/dev/null || true)
    WHARF_HOST_ADDRESS=$(ip -4 -o addr show "${bridge:-docker0}" 2>/dev/null | awk '{split($4, a, "/"); print a[1]; exit}')
  fi
  WHARF_HOST_ADDRESS="${WHARF_HOST_ADDRESS:-127.0.0.1}"
fi
export WHARF_HOST_ADDRESS

# Everything but the agent first: it needs a join token, which state makes.
log "starting the stack (${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME up -d)"
"${COMPOSE[@]}" up -d --remove-orphans postgres nats state scheduler api lb

endpoint="http://127.0.0.1:$WHARF_API_PORT"
mkdir -p .wharf
if [ "${WHARF_API_AUTH:-sigv4}" = "dev" ]; then
  auth_note="DEVELOPMENT MODE (WHARF_API_AUTH=dev): the api accepts any credentials"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-wharf}" AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-wharf}"
else
  # Requests must be signed with an access key Wharf issued: make one for this machine's user
  # (state may still be starting, hence the retries). The secret is shown nowhere else.
  log "making an access key (wharf admin access-key create)"
  creds=""
  for _ in $(seq 1 90); do
    if creds=$("${COMPOSE[@]}" exec -T api wharf admin access-key create --name "quickstart-$(date +%Y%m%d%H%M%S)" --format env 2>/dev/null); then
      break
    fi
    creds=""
    sleep 2
  done
  if [ -z "$creds" ]; then
    log "could not make an access key; see '${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME logs api state'"
    exit 1
  fi
  (umask 077 && printf '%s\nAWS_DEFAULT_REGION=us-east-1\n' "$creds" | tr -d '\r' > .wharf/credentials.env)
  set -a
  # shellcheck disable=SC1091
  . .wharf/credentials.env
  set +a
  auth_note="requests are signed with the access key in .wharf/credentials.env (SigV4)"
fi
# The agent's join token (state requires one unless WHARF_AGENT_JOIN=open): the one given, or
# the one this script made before while state still lists it as Active for the agent's cluster
# (WHARF_CLUSTER) or any cluster, or a new one for the agent's cluster (never expiring; revoke
# it with `wharf admin join-token revoke ID`).
cluster="${WHARF_CLUSTER:-default}"
if [ "${WHARF_AGENT_JOIN:-token}" = "token" ] && [ -z "${WHARF_JOIN_TOKEN:-}" ]; then
  token_file=.wharf/join-token.env
  if [ -f "$token_file" ]; then
    saved=$(sed -n 's/^WHARF_JOIN_TOKEN=//p' "$token_file" | tr -d '\r')
    saved_id=$(printf '%s' "$saved" | cut -d_ -f2)
    listed=$("${COMPOSE[@]}" exec -T api wharf admin join-token list 2>/dev/null || true)
    # `list` prints one JSON object a line; cluster "*" is a token for any cluster.
    if [ -n "$saved_id" ] && printf '%s\n' "$listed" | SAVED_ID="$saved_id" CLUSTER="$cluster" node -e '
      const lines = require("fs").readFileSync(0, "utf8").split("\n");
      const usable = lines.some((line) => {
        let t;
        try { t = JSON.parse(line); } catch { return false; }
        return t.joinTokenId === process.env.SAVED_ID && t.status === "Active" &&
          (t.cluster === process.env.CLUSTER || t.cluster === "*");
      });
      process.exit(usable ? 0 : 1);'; then
      WHARF_JOIN_TOKEN="$saved"
      log "reusing the agent's join token in $token_file"
    else
      log "the join token in $token_file is not an active one for cluster $cluster: making another"
    fi
  fi
  if [ -z "${WHARF_JOIN_TOKEN:-}" ]; then
    log "making the agent's join token (wharf admin join-token create --cluster $cluster)"
    line=""
    for _ in $(seq 1 30); do
      if line=$("${COMPOSE[@]}" exec -T api wharf admin join-token create --cluster "$cluster" \
        --description quickstart-agent --format env 2>/dev/null); then
        break
      fi
      line=""
      sleep 2
    done
    if [ -z "$line" ]; then
      log "could not make a join token for cluster $cluster (does it exist? WHARF_CLUSTER); see '${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME logs api state'"
      exit 1
    fi
    (umask 077 && printf '%s\n' "$line" | tr -d '\r' > "$token_file")
    WHARF_JOIN_TOKEN=$(sed -n 's/^WHARF_JOIN_TOKEN=//p' "$token_file")
  fi
fi
export WHARF_JOIN_TOKEN="${WHARF_JOIN_TOKEN:-}"
"${COMPOSE[@]}" up -d agent

log "waiting for the api at $endpoint and for the agent to register"
if ! WHARF_ENDPOINT="$endpoint" node scripts/demo.mjs wait; then
  "${COMPOSE[@]}" ps >&2 || true
  for svc in state scheduler api agent; do
    echo "--- last log lines of $svc" >&2
    "${COMPOSE[@]}" logs --no-color --tail=15 "$svc" >&2 || true
  done
  log "Wharf did not become ready; see '${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME logs'"
  exit 1
fi

# Remember this stack's container instances: `npm run down` removes the task containers left
# with their label, and no one else's.
{ cat .wharf/compose-instances 2>/dev/null || true; WHARF_ENDPOINT="$endpoint" node scripts/demo.mjs instances || true; } \
  | sort -u > .wharf/compose-instances.tmp && mv -f .wharf/compose-instances.tmp .wharf/compose-instances

cat <<MSG

Wharf is up.
  ECS API        $endpoint   (aws ecs --endpoint-url $endpoint ...)
  auth           $auth_note
  task ports     published on $WHARF_HOST_ADDRESS (this machine's Docker engine runs the tasks)
  lb listeners   127.0.0.1:${WHARF_LB_PORTS:-8080-8089}
  logs           ${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME logs -f
  stop           npm run down   (npm run down -- --volumes also drops the data)

Try it with the AWS CLI:
  set -a; . .wharf/credentials.env; set +a      # (dev mode: any AWS_ACCESS_KEY_ID/SECRET)
  aws ecs --endpoint-url $endpoint register-task-definition --family hello \\
    --container-definitions '[{"name":"web","image":"wharf/busybox:dev","memory":32,"essential":true,
      "command":["httpd","-f","-p","8000","-h","/"],"portMappings":[{"containerPort":8000}]}]'
  aws ecs --endpoint-url $endpoint run-task --cluster default --task-definition hello
  aws ecs --endpoint-url $endpoint describe-tasks --cluster default --tasks <taskArn from run-task>
  aws ecs --endpoint-url $endpoint stop-task --cluster default --task <taskArn>
or without it:  node scripts/demo.mjs   (WHARF_ENDPOINT=$endpoint, with those variables set)
More keys:       ${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME exec api wharf admin access-key create --name NAME
                 (list, revoke ID: wharf admin access-key list | revoke ID)
More agents:     ${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME exec api wharf admin join-token create --cluster default
                 gives a token for WHARF_JOIN_TOKEN (list, revoke ID: wharf admin join-token list | revoke ID)
By hand:         set -a; . .wharf/join-token.env; set +a; ${COMPOSE[*]} -p $COMPOSE_PROJECT_NAME up -d
                 (the agent needs WHARF_JOIN_TOKEN set)

MSG

if [ "$demo" = 1 ]; then
  WHARF_ENDPOINT="$endpoint" WHARF_HOST_ADDRESS="$WHARF_HOST_ADDRESS" node scripts/demo.mjs
fi
