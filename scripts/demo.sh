#!/usr/bin/env bash
# The cutover demo: everything happens under ./demo (recreated each time), against orgsim on loopback.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/.venv/bin"
demo="$root/demo"
rm -rf "$demo"
mkdir -p "$demo/scratch"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "cutover init: the Elaro production runbook as a file"
"$bin/cutover" -C "$demo/scratch" init
say "cutover plan: every step, its kind, what it checks, the equivalent sf command"
"$bin/cutover" -C "$demo/scratch" plan
