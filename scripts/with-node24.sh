#!/usr/bin/env bash
# Runs a command with Node 24 first on PATH (installed on first use by ensure-node.sh), so every npm
# script works the same in any shell, whatever node the machine has.
set -euo pipefail
bin="$(bash "$(dirname "$0")/ensure-node.sh")"
export PATH="$bin:$PATH"
exec "$@"
