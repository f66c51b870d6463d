#!/usr/bin/env bash
# Verifies config/whale-trader.service with systemd-analyze. systemd checks that ExecStart points
# at an executable, so the freshly built binary is linked at the unit's install path for the check
# (and the link removed afterwards) when nothing is installed there yet.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-target/debug/whale-trader}"
installed=/opt/whale-trader/bin/whale-trader
created=""
if [ ! -e "$installed" ]; then
  mkdir -p "$(dirname "$installed")"
  ln -s "$(realpath "$binary")" "$installed"
  created="$installed"
fi
trap '[ -n "$created" ] && rm -f "$created"' EXIT
systemd-analyze verify config/whale-trader.service
echo "systemd-analyze verify config/whale-trader.service: ok"
