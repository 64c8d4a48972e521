#!/usr/bin/env bash
# One command from a fresh checkout to a running relay: installs what is missing, builds, and
# starts Holdfast with its managed local Redis (data under ./var/) on 127.0.0.1:2525.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
[ -d node_modules ] || npm ci --no-audit --no-fund
npm run build --silent
[ -f config/holdfast.yaml ] || cp config/holdfast.example.yaml config/holdfast.yaml
echo "starting Holdfast with config/holdfast.yaml (Ctrl-C stops it and its Redis)"
exec node bin/holdfast.js start --config config/holdfast.yaml
