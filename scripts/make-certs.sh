#!/usr/bin/env bash
# Makes the certificates for mutual TLS on Wharf's internal gRPC: a private CA and, signed by
# it, one certificate and key per service (state, scheduler, api, lb, agent).
#
#   scripts/make-certs.sh DIR [--san NAME | --san SERVICE=NAME]... [--days N] [--force]
#
#   DIR            where the files go (made if missing): ca.crt, ca.key, and SERVICE.crt,
#                  SERVICE.key for each service
#   --san NAME     one more DNS name or IP address on every service certificate
#   --san SERVICE=NAME   ... on that service's certificate only (e.g. agent=host-1,
#                  agent=10.0.0.7, scheduler=scheduler-2)
#   --days N       how long the certificates are valid (825; the CA: 3650)
#   --force        make every certificate again, the CA too (all the others then need the new
#                  ones); without it existing files are kept, and a service certificate is made
#                  again only when it is missing, not signed by this CA, or lacks a name asked for
#
# Every service certificate names its service (the host name clients dial in docker-compose.yml
# and the e2e topology: state, scheduler, api, lb, agent) and localhost, 127.0.0.1 and ::1, and
# serves as both server and client certificate. Give each process its own three files:
#   GRPC_TLS_CA=DIR/ca.crt GRPC_TLS_CERT=DIR/state.crt GRPC_TLS_KEY=DIR/state.key   (for state)
# Agents are dialled at the address they advertise (AGENT_ADVERTISE_ADDRESS): put those names
# on the agent certificate with --san agent=NAME, or set GRPC_TLS_AGENT_NAME=agent on the
# scheduler and api so that they check agents' certificates against the name `agent`.
# ca.key signs certificates: keep it away from the hosts (only ca.crt is needed there).
set -euo pipefail

SERVICES=(state scheduler api lb agent)
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2; exit "${1:-2}"; }
log() { echo "[make-certs] $*" >&2; }

dir=""
days=825
force=0
sans=()
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage 0 ;;
    --san) [ $# -ge 2 ] || usage; sans+=("$2"); shift 2 ;;
    --san=*) sans+=("${1#--san=}"); shift ;;
    --days) [ $# -ge 2 ] || usage; days="$2"; shift 2 ;;
    --days=*) days="${1#--days=}"; shift ;;
    --force) force=1; shift ;;
    -*) echo "make-certs: unknown option $1" >&2; usage ;;
    *) [ -z "$dir" ] || usage; dir="$1"; shift ;;
  esac
done
[ -n "$dir" ] || usage
[[ "$days" =~ ^[1-9][0-9]*$ ]] || { echo "make-certs: --days must be a whole number of days" >&2; exit 2; }
for s in "${sans[@]+"${sans[@]}"}"; do
  if [[ "$s" == *=* ]]; then
    case " ${SERVICES[*]} " in *" ${s%%=*} "*) ;; *)
      echo "make-certs: --san $s: ${s%%=*} is not one of ${SERVICES[*]}" >&2; exit 2 ;;
    esac
    name="${s#*=}"
  else
    name="$s"
  fi
  [[ "$name" =~ ^[A-Za-z0-9*.:-]+$ ]] || { echo "make-certs: --san $s: not a host name or IP address" >&2; exit 2; }
done
command -v openssl >/dev/null || { echo "make-certs: openssl is needed (apt-get install openssl)" >&2; exit 1; }

# One subjectAltName entry: an IP address or a DNS name.
san_entry() {
  if [[ "$1" =~ ^[0-9.]+$ || "$1" == *:* ]]; then echo "IP:$1"; else echo "DNS:$1"; fi
}

# The names on SERVICE's certificate, comma-separated.
names_for() {
  local svc="$1" list=("DNS:$1" "DNS:localhost" "IP:127.0.0.1" "IP:::1") s
  for s in "${sans[@]+"${sans[@]}"}"; do
    if [[ "$s" == *=* ]]; then
      local target="${s%%=*}" name="${s#*=}"
      [ "$target" = "$svc" ] && list+=("$(san_entry "$name")")
    else
      list+=("$(san_entry "$s")")
    fi
  done
  local IFS=,
  echo "${list[*]}"
}

# Whether SVC's certificate exists, is signed by the CA, is not about to expire and names
# every entry of NAMES (as openssl prints them: "DNS:x", "IP Address:1.2.3.4").
cert_ok() {
  local svc="$1" names="$2" text entry
  [ -f "$dir/$svc.crt" ] && [ -f "$dir/$svc.key" ] || return 1
  openssl verify -CAfile "$dir/ca.crt" "$dir/$svc.crt" >/dev/null 2>&1 || return 1
  openssl x509 -in "$dir/$svc.crt" -noout -checkend 86400 >/dev/null 2>&1 || return 1
  text=$(openssl x509 -in "$dir/$svc.crt" -noout -text)
  IFS=, read -ra entries <<<"$names"
  for entry in "${entries[@]}"; do
    case "$entry" in
      IP:::1) grep -q "IP Address:0:0:0:0:0:0:0:1" <<<"$text" || return 1 ;;
      IP:*) grep -q "IP Address:${entry#IP:}\([,[:space:]]\|$\)" <<<"$text" || return 1 ;;
      DNS:*) grep -q "$entry\([,[:space:]]\|$\)" <<<"$text" || return 1 ;;
    esac
  done
}

# Runs openssl, showing what it said only when it fails (it is chatty on success).
ssl() {
  local said
  if ! said=$(openssl "$@" 2>&1); then
    printf '%s\n' "$said" >&2
    echo "make-certs: openssl $1 failed (above)" >&2
    exit 1
  fi
}

mkdir -p "$dir"
umask 077
# Files are made in a scratch directory in DIR and moved into place once whole: a failure
# leaves the previous ones, and the move replaces a key that belongs to a service's user by now
# (scripts/up.sh gives the keys of the services that run as uid 10001 to that uid), which
# whoever owns DIR may replace but not write.
work=$(mktemp -d "$dir/.make-certs.XXXXXX")
trap 'rm -rf "$work"' EXIT
# Certificates are public; keys are readable by their owner only. Only files made now are
# chmod-ed: a kept key may belong to another user.
install_pair() { # NAME: $work/NAME.crt and .key → DIR
  chmod 644 "$work/$1.crt"
  chmod 600 "$work/$1.key"
  mv -f "$work/$1.key" "$dir/$1.key"
  mv -f "$work/$1.crt" "$dir/$1.crt"
}

if [ "$force" = 1 ] || [ ! -f "$dir/ca.crt" ] || [ ! -f "$dir/ca.key" ]; then
  log "making the CA ($dir/ca.crt, $dir/ca.key)"
  ssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -days 3650 -subj "/CN=Wharf internal CA" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign" \
    -keyout "$work/ca.key" -out "$work/ca.crt"
  install_pair ca
  force=1
else
  log "keeping the CA in $dir"
fi

for svc in "${SERVICES[@]}"; do
  names=$(names_for "$svc")
  if [ "$force" = 0 ] && cert_ok "$svc" "$names"; then
    log "keeping $svc.crt"
    continue
  fi
  log "making $svc.crt ($names)"
  printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=%s\n' \
    "$names" >"$work/$svc.ext"
  ssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
    -subj "/CN=$svc/O=Wharf" -keyout "$work/$svc.key" -out "$work/$svc.csr"
  ssl x509 -req -in "$work/$svc.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
    -CAserial "$work/ca.srl" -CAcreateserial -days "$days" -sha256 -extfile "$work/$svc.ext" \
    -out "$work/$svc.crt"
  install_pair "$svc"
done
log "done: $dir (CA ca.crt; ${SERVICES[*]}: SERVICE.crt, SERVICE.key)"
