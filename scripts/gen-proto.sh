#!/usr/bin/env bash
# Regenerates libs/proto/src/generated from proto/ with buf + ts-proto, offline.
# With --check, generates into a temporary folder and fails if the committed code is stale.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--check" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  npx buf generate --template buf.gen.yaml -o "$tmp" >/dev/null
  if ! diff -r "$tmp/libs/proto/src/generated" libs/proto/src/generated; then
    echo "libs/proto/src/generated is stale: run 'npm run proto' and commit the result" >&2
    exit 1
  fi
  echo "generated gRPC code is up to date"
else
  rm -rf libs/proto/src/generated
  npx buf generate --template buf.gen.yaml
  npx prettier --log-level warn --write libs/proto/src/generated >/dev/null 2>&1 || true
fi
