#!/usr/bin/env bash
# Verifies config/whale-trader.service with systemd-analyze: the unit is valid, its security
# exposure scores 2.5 or lower ("OK"), and, when strace is installed, every system call the daemon
# makes during a short paper run is allowed by the unit's SystemCallFilter= (so the filter cannot
# kill the daemon with SIGSYS/EPERM in production).
#
# systemd checks that ExecStart points at an executable, so the freshly built binary is linked at
# the unit's install path for the check (and the link removed afterwards) when nothing is
# installed there yet.
set -euo pipefail
cd "$(dirname "$0")/.."
binary="${1:-target/debug/whale-trader}"
unit=config/whale-trader.service
max_exposure=2.5
installed=/opt/whale-trader/bin/whale-trader
created=""
workdir=""
cleanup() {
  [ -n "$created" ] && rm -f "$created"
  [ -n "$workdir" ] && rm -rf "$workdir"
  return 0
}
trap cleanup EXIT
if [ ! -e "$installed" ]; then
  mkdir -p "$(dirname "$installed")"
  ln -s "$(realpath "$binary")" "$installed"
  created="$installed"
fi
systemd-analyze verify "$unit"
echo "systemd-analyze verify $unit: ok"

# "→ Overall exposure level for whale-trader.service: 1.1 OK 🙂"
report=$(systemd-analyze security --offline=true "$unit" 2>&1)
exposure=$(printf '%s\n' "$report" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9][0-9.]*\).*/\1/p')
if [ -z "$exposure" ]; then
  printf '%s\n' "$report" >&2
  echo "systemd-analyze security: no \"Overall exposure level\" line" >&2
  exit 1
fi
if ! awk -v e="$exposure" -v max="$max_exposure" 'BEGIN { exit !(e <= max) }'; then
  printf '%s\n' "$report" | grep '✗' >&2 || true
  echo "systemd-analyze security $unit: exposure $exposure is above $max_exposure" >&2
  exit 1
fi
echo "systemd-analyze security $unit: exposure $exposure (at most $max_exposure): ok"

if ! command -v strace >/dev/null; then
  echo "strace is not installed: the daemon's system calls were not checked against SystemCallFilter="
  exit 0
fi
# A sandbox that forbids ptrace makes strace fail on any program: say so rather than blame the unit.
if ! strace -qq -o /dev/null true 2>/dev/null; then
  echo "strace cannot trace here (ptrace is not permitted): the daemon's system calls were not checked against SystemCallFilter="
  exit 0
fi

# Every syscall of a SystemCallFilter= group, nested groups expanded.
expand() {
  local group=$1 line
  systemd-analyze syscall-filter "$group" | sed -e 's/#.*//' -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' \
    | tail -n +2 | while read -r line; do
      [ -z "$line" ] && continue
      case "$line" in
        @*) expand "$line" ;;
        *) echo "$line" ;;
      esac
    done
}
# The allow list and the deny lists as the unit writes them: `SystemCallFilter=@a @b` allows,
# `SystemCallFilter=~@c @d` then removes.
allowed=$(grep '^SystemCallFilter=[^~]' "$unit" | sed 's/^SystemCallFilter=//' | tr ' ' '\n' | while read -r g; do expand "$g"; done | sort -u)
denied=$(grep '^SystemCallFilter=~' "$unit" | sed 's/^SystemCallFilter=~//' | tr ' ' '\n' | while read -r g; do expand "$g"; done | sort -u)
permitted=$(comm -23 <(printf '%s\n' "$allowed") <(printf '%s\n' "$denied"))

# A short paper run on the sample session, with the control API queried, then SIGTERM.
workdir=$(mktemp -d)
mkdir -p "$workdir/config"
cp config/default.toml "$workdir/config/default.toml"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
bin=$(realpath "$binary")
# The unit runs the daemon as an unprivileged user; as root, SQLite would fchown() its files (a
# @privileged call that unprivileged processes never make), so the run drops to nobody.
as_user=()
if [ "$(id -u)" = 0 ]; then
  chown -R nobody: "$workdir"
  as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi
(
  cd "$workdir"
  env -u NOTIFY_SOCKET WHALE_TRADER__API__PORT="$port" WHALE_TRADER__API__TOKEN=verify-unit-token \
    WHALE_TRADER__FEED__REPLAY_PATH="$OLDPWD/data/sample_session.jsonl" \
    "${as_user[@]}" strace -f -qq -c -o "$workdir/syscalls.txt" "$bin" run >"$workdir/console.out" 2>&1
) &
tracer=$!
daemon=""
for _ in $(seq 1 100); do
  daemon=$(pgrep -P "$tracer" -x whale-trader || true)
  [ -z "$daemon" ] && daemon=$(pgrep -P "$(pgrep -P "$tracer" | head -1)" -x whale-trader 2>/dev/null || true)
  if [ -n "$daemon" ] && (cd "$workdir" && WHALE_TRADER__API__PORT="$port" WHALE_TRADER__API__TOKEN=verify-unit-token \
      "$bin" status >/dev/null 2>&1); then
    break
  fi
  sleep 0.2
done
if [ -z "$daemon" ]; then
  cat "$workdir/console.out" >&2
  echo "the daemon did not start under strace" >&2
  exit 1
fi
# Let the health monitor take a sample (it reads /proc) before stopping.
sleep 2
kill -TERM "$daemon"
wait "$tracer" || { cat "$workdir/console.out" >&2; echo "the daemon did not exit cleanly under strace" >&2; exit 1; }
# Calls the daemon makes only when no tracer is attached, so that strace never sees them: it
# releases its start-up code with madvise() once up, and skips that under a debugger.
untraced_only="madvise"
used=$( (awk '$NF ~ /^[a-z_0-9]+$/ && $NF != "total" && $NF != "syscall" { print $NF }' "$workdir/syscalls.txt"
  printf '%s\n' $untraced_only) | sort -u)
outside=$(comm -23 <(printf '%s\n' "$used") <(printf '%s\n' "$permitted"))
if [ -n "$outside" ]; then
  echo "the daemon made system calls that $unit's SystemCallFilter= does not allow:" >&2
  printf '  %s\n' $outside >&2
  exit 1
fi
echo "strace: the daemon's $(printf '%s\n' "$used" | wc -l) distinct system calls are all allowed by SystemCallFilter=: ok"
