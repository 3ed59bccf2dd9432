#!/usr/bin/env bash
# Runs every test: static checks, unit, integration (real Postgres and NATS in containers)
# and e2e (the whole topology in containers, two hosts with their own Docker engines).
# Installs and starts what it needs (Docker engine, images), so it works on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export TESTCONTAINERS_RYUK_DISABLED=true

step() { echo; echo "=== $* ($(date +%T))"; }

[ -d node_modules ] || { step "npm ci"; npm ci --no-audit --no-fund; }
step "generated gRPC code is current"; bash scripts/gen-proto.sh --check
step "typecheck"; npx tsc --noEmit -p tsconfig.json
step "lint"; npx eslint .
step "format"; npx prettier --check apps libs test
step "unit tests"; npx jest --selectProjects unit
step "Docker engine"; bash scripts/ensure-docker.sh
step "images"; bash deploy/build-images.sh
step "integration tests"; npx jest --selectProjects integration --runInBand
step "e2e tests"; npx jest --selectProjects e2e --runInBand
