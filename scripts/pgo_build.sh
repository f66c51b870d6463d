#!/usr/bin/env bash
# The packaged build (`dist` profile), optimised with a profile of the daemon's own work (PGO).
#
# Usage, from anywhere in the repository (needs `rustup component add llvm-tools` and python3):
#
#     scripts/pgo_build.sh                    # writes target/dist/whale-trader, as `cargo build --profile dist` would
#     scripts/pgo_build.sh --features live    # further arguments go to both `cargo build`s
#
# Three steps, about three times a plain `cargo build --profile dist`:
#   1. an instrumented build (in a directory under target/ removed at the end: its flags name that
#      directory, so no later run could reuse it), which counts every branch and call it takes;
#   2. the counts of a representative run: the README's daemon in paper mode on a generated six-hour
#      day of twenty markets (scripts/soak.py: feeds, engine, store, logs, alerts, control API), then
#      `replay` of that day and of the bundled sample session, each from JSON and from its compact twin;
#   3. the `dist` build again, laid out and inlined by those counts.
# The training never reads the replay benchmark's session (BENCHMARKS.md, "Sixth round"): the replay
# measured there is faster because the same code is hot in every session, not because the build has seen it.
# Code the training never runs (the live venue adapters) is compiled as rarely taken: it stays
# correct, and its cost is the network's anyway.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

profdata=$(find "$(rustc --print sysroot)" -name llvm-profdata -type f 2>/dev/null | head -n 1)
if [[ -z "$profdata" ]]; then
    echo "error: llvm-profdata not found in the toolchain; install it with: rustup component add llvm-tools" >&2
    exit 2
fi

# Under target/, not /tmp: the instrumented build takes a few GB, and /tmp may be memory.
mkdir -p target
work=$(mktemp -d "$repo/target/pgo.XXXXXX")
trap 'rm -rf "$work"' EXIT

echo "== 1/3 instrumented build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$work/raw" \
    cargo build --profile dist --target-dir "$work/target" "$@"
instrumented="$work/target/dist/whale-trader"

echo "== 2/3 training run" >&2
# Each process of the instrumented binary writes its own counts here on exit.
export LLVM_PROFILE_FILE="$work/raw/%p-%m.profraw"
# The soak judges memory growth too; here only its run matters (an instrumented binary is larger).
python3 scripts/soak.py --binary "$instrumented" --hours 6 --speed 720 --max-growth-mb-per-hour 1000 \
    --workspace "$work/soak"
# A session replayed from JSON, then converted and replayed from its compact twin.
replay_both_forms() {
    local config=$1 session=$2
    "$instrumented" --config "$config" replay --session "$session" > /dev/null
    "$instrumented" convert "$session" > /dev/null
    "$instrumented" --config "$config" replay --session "$session" > /dev/null
}
replay_both_forms "$work/soak/config/default.toml" "$work/soak/data/soak_session.jsonl"
mkdir "$work/sample"
cp data/sample_session.jsonl "$work/sample/"
replay_both_forms config/default.toml "$work/sample/sample_session.jsonl"
unset LLVM_PROFILE_FILE
"$profdata" merge -o "$work/merged.profdata" "$work/raw"

echo "== 3/3 optimised build" >&2
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$work/merged.profdata -Cllvm-args=-pgo-warn-missing-function=false" \
    cargo build --profile dist "$@"
echo "wrote $repo/target/dist/whale-trader (profile-guided)" >&2
