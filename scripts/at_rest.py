#!/usr/bin/env python3
"""At rest: the README's first quick-start run (`whale-trader run` on config/default.toml: paper mode, the
bundled sample session replayed at replay_speed 40, then idling), measured as a whole process.

Usage (python3, standard library only; Linux, it reads /proc):

    cargo build --release
    python3 scripts/at_rest.py --binary target/release/whale-trader
    python3 scripts/at_rest.py --binary target/release/whale-trader --runs 3 --json

The daemon runs in a throw-away workspace (a copy of config/default.toml and data/sample_session.jsonl,
its own SQLite store and logs) with the control API on a free loopback port. Extra settings go through the
environment, e.g. `--env WHALE_TRADER__STORE__DISK_KEEP_WARM_MICROS=0`.

Figures per run:
  - rss_mb: VmRSS from /proc/<pid>/status at --settle seconds after start (default 60 s: the replay of the
    sample session takes about a minute at replay_speed 40);
  - cpu_percent: (utime + stime) over the next --idle seconds, in percent of one core;
  - page_faults_per_sec: minor and major page faults over the idle window (code the daemon released from its
    resident set after start-up and runs again comes back through these);
  - threads and wake-ups: per thread, voluntary + involuntary context switches over the idle window, per
    second (a thread that sleeps and wakes makes one voluntary switch per wake-up).
The verdict (exit 1 when it fails): RSS at most --max-rss-mb, CPU at most --max-cpu-percent.
"""

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procfs import cpu_ticks_and_faults, status_kb, stop, vm_rss_kb  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def threads(pid):
    """{tid: (name, voluntary + involuntary switches)} of every live thread."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                fields = dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)
        except FileNotFoundError:
            continue
        switches = int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
        out[tid] = (fields["Name"].strip(), switches)
    return out


def workspace():
    work = Path(tempfile.mkdtemp(prefix="whale-at-rest-"))
    (work / "config").mkdir()
    (work / "data").mkdir()
    shutil.copy(REPO / "config" / "default.toml", work / "config" / "default.toml")
    shutil.copy(REPO / "data" / "sample_session.jsonl", work / "data" / "sample_session.jsonl")
    return work


@contextlib.contextmanager
def default_run(binary, env_items=()):
    """The README's first command (`whale-trader run`) in a throw-away workspace; yields the process and
    stops it (SIGTERM, then SIGKILL after 30 s) and removes the workspace on the way out."""
    work = workspace()
    env = dict(os.environ)
    env["WHALE_TRADER__API__PORT"] = str(free_port())
    env["WHALE_TRADER__LOGGING__CONSOLE"] = "off"
    for item in env_items:
        key, _, value = item.partition("=")
        env[key] = value
    binary = str(Path(binary).resolve())
    proc = subprocess.Popen([binary, "run"], cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        stop(proc, timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def one_run(args):
    with default_run(args.binary, args.env) as proc:
        start = time.monotonic()
        peak_kb = 0
        while time.monotonic() - start < args.settle:
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited {proc.returncode}: {proc.stderr.read().decode()[-2000:]}")
            peak_kb = max(peak_kb, vm_rss_kb(proc.pid))
            time.sleep(0.5)
        rss_kb, anon_kb, file_kb = status_kb(proc.pid, "VmRSS", "RssAnon", "RssFile")
        (before_ticks, before_faults), before_threads = cpu_ticks_and_faults(proc.pid), threads(proc.pid)
        t0 = time.monotonic()
        time.sleep(args.idle)
        (after_ticks, after_faults), after_threads = cpu_ticks_and_faults(proc.pid), threads(proc.pid)
        t1 = time.monotonic()
        rss_end_kb = vm_rss_kb(proc.pid)
        span = t1 - t0
        per_thread = []
        for tid, (name, switches) in sorted(after_threads.items(), key=lambda kv: int(kv[0])):
            base = before_threads.get(tid, (name, 0))[1]
            per_thread.append({"tid": int(tid), "name": name, "wakeups_per_sec": round((switches - base) / span, 2)})
        return {
            "rss_mb": round(rss_kb / 1024, 1),
            "rss_anon_mb": round(anon_kb / 1024, 1),
            "rss_file_mb": round(file_kb / 1024, 1),
            "rss_end_mb": round(rss_end_kb / 1024, 1),
            "peak_rss_mb": round(max(peak_kb, rss_kb, rss_end_kb) / 1024, 1),
            "cpu_percent": round(100 * (after_ticks - before_ticks) / CLK_TCK / span, 3),
            "threads": len(after_threads),
            "wakeups_per_sec": round(sum(t["wakeups_per_sec"] for t in per_thread), 2),
            "page_faults_per_sec": round((after_faults - before_faults) / span, 2),
            "per_thread": per_thread,
        }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "whale-trader"))
    parser.add_argument("--settle", type=float, default=60.0, help="seconds from start to the RSS reading")
    parser.add_argument("--idle", type=float, default=60.0, help="seconds of idling over which CPU is measured")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--env", action="append", default=[], help="KEY=VALUE for the daemon's environment")
    parser.add_argument("--max-rss-mb", type=float, default=20.0)
    parser.add_argument("--max-cpu-percent", type=float, default=0.1)
    parser.add_argument("--json", action="store_true", help="print every run's figures as JSON")
    args = parser.parse_args()

    runs = []
    for i in range(args.runs):
        run = one_run(args)
        runs.append(run)
        print(
            f"run {i + 1}: RSS {run['rss_mb']} MB after {args.settle:.0f} s (anon {run['rss_anon_mb']}, "
            f"file {run['rss_file_mb']}; peak {run['peak_rss_mb']}, "
            f"{run['rss_end_mb']} at the end), CPU {run['cpu_percent']} % of a core over {args.idle:.0f} s idle, "
            f"{run['threads']} threads, {run['wakeups_per_sec']} wake-ups/s, "
            f"{run['page_faults_per_sec']} page faults/s",
            file=sys.stderr,
        )
        for t in run["per_thread"]:
            if t["wakeups_per_sec"] > 0:
                print(f"    {t['name']:<20} {t['wakeups_per_sec']:>8.2f} /s", file=sys.stderr)
    rss = statistics.median(r["rss_mb"] for r in runs)
    cpu = statistics.median(r["cpu_percent"] for r in runs)
    wake = statistics.median(r["wakeups_per_sec"] for r in runs)
    print(f"median of {len(runs)}: RSS {rss} MB, CPU {cpu} %, {wake} wake-ups/s (load average {os.getloadavg()[0]:.2f})")
    if args.json:
        print(json.dumps(runs, indent=1))
    ok = rss <= args.max_rss_mb and cpu <= args.max_cpu_percent
    print("PASS" if ok else f"FAIL (limits: RSS {args.max_rss_mb} MB, CPU {args.max_cpu_percent} %)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
