#!/usr/bin/env python3
"""Soak: a generated day of trading replayed through the daemon at simulated speed, its memory and
file descriptors sampled, and the growth per simulated hour judged.

THE DATA IS SYNTHETIC. The session has the shapes of the real payloads (see
scripts/gen_sample_session.py) and churns everything the daemon keeps per market and per
position: markets are listed, traded, resolved and replaced by new ones all day, the followed
whales buy and sell, prices random-walk so that stops, take-profits and trailing stops fire, and
the day rolls over at midnight UTC. The protectors that would halt trading for the rest of the day
(consecutive losses, drawdown, daily loss, the breaker) are set out of reach, so that the churn
lasts the whole day; every other setting is the default config's.

Usage (python3, standard library only):

    cargo build --release
    python3 scripts/soak.py --binary target/release/whale-trader            # 24 h at 720x: 2 min
    python3 scripts/soak.py --binary target/debug/whale-trader --hours 2    # a quick look

The daemon runs in a throw-away workspace (the repository's config/default.toml, the generated
session as its replay file, paper mode, its own SQLite store), as `whale-trader run` does under
systemd. Every sample reads /proc/<pid>/status (VmRSS) and counts /proc/<pid>/fd. Simulated time
is read off the wall clock (the replay feed paces events by `replay_speed`); the script checks at
the end that the daemon kept pace, so that the mapping holds.

Verdict (exit 1 when it fails): resident memory grows by less than `--max-growth-mb-per-hour`
(least squares over the samples after the first simulated hour, the warm-up), and the usual count
of open file descriptors in the last simulated hour is no higher than in the second.
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_sample_session as sample  # noqa: E402  (the same wire shapes and whale wallets)
from procfs import stop, vm_rss_kb  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
TICK = 0.01
BOOK_EVERY_S = 15
MARKET_LIFETIME_S = (2 * 3600, 6 * 3600)
WHALE_TRADE_EVERY_S = (60, 240)


class Day(sample.Session):
    """A day of random trading on `markets` concurrently listed markets."""

    def __init__(self, seed, hours, markets):
        super().__init__(seed)  # the whales of the default config, the id generator, emit()
        self.length_s = int(hours * 3600)
        self.markets = []
        self.bid = {}
        self.serial = 0
        self.live = []  # (market name, closes at t_s)
        self.held = {w: [] for w in self.whales}  # markets each whale bought and has not sold
        for _ in range(markets):
            self.list_market(0)

    def list_market(self, t_s):
        name = f"D{self.serial}"
        self.serial += 1
        self.markets.append(
            {
                "name": name,
                "condition": self.ids.condition(),
                "yes": self.ids.token(),
                "no": self.ids.token(),
                "title": f"Soak market {name}: will it happen?",
            }
        )
        self.bid[name] = round(self.rng.uniform(0.2, 0.8), 2)
        self.market_info(t_s, name)
        self.live.append((name, t_s + self.rng.randint(*MARKET_LIFETIME_S)))

    def build(self):
        t = 0
        next_trade = self.rng.randint(*WHALE_TRADE_EVERY_S)
        while t < self.length_s:
            for i, (name, closes_at) in enumerate(list(self.live)):
                if t >= closes_at:
                    self.resolution(t, name, self.rng.choice(["yes", "no"]))
                    self.live.remove((name, closes_at))
                    for held in self.held.values():
                        if name in held:
                            held.remove(name)
                    self.list_market(t)
                    continue
                if (t + i) % BOOK_EVERY_S == 0:
                    step = self.rng.choice([-2, -1, -1, 0, 0, 0, 1, 1, 2]) * TICK
                    self.bid[name] = min(0.95, max(0.05, round(self.bid[name] + step, 2)))
                    self.book(t, name, self.bid[name])
            if t >= next_trade:
                self.trade(t)
                next_trade = t + self.rng.randint(*WHALE_TRADE_EVERY_S)
            t += 1
        self.lines.sort(key=lambda line: (line[0], line[1]))
        return [dict(ts=ts, **record) for ts, _, record in self.lines]

    def trade(self, t):
        whale = self.rng.choice(list(self.whales))
        held = self.held[whale]
        if held and self.rng.random() < 0.4:
            name = held.pop(self.rng.randrange(len(held)))
            self.whale_trade(t, whale, name, "SELL", 800.0, self.bid[name])
            return
        name, _ = self.rng.choice(self.live)
        # At the ask the book shows now, as a whale trade seen a few seconds late would be.
        self.whale_trade(t, whale, name, "BUY", 800.0, round(self.bid[name] + TICK, 2))
        held.append(name)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sample_process(pid):
    return vm_rss_kb(pid) / 1024, len(os.listdir(f"/proc/{pid}/fd"))


def slope_per_hour(points):
    """Least-squares slope of (hour, value) points."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / var if var else 0.0


def usual(values):
    """The most common value (the lowest of a tie)."""
    return min(set(values), key=lambda v: (-values.count(v), v))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", type=Path, default=REPO / "target" / "release" / "whale-trader")
    parser.add_argument("--hours", type=float, default=24)
    parser.add_argument("--speed", type=int, default=720, help="simulated seconds per wall second")
    parser.add_argument("--markets", type=int, default=20, help="markets listed at any time")
    parser.add_argument("--seed", type=int, default=20260105)
    parser.add_argument("--interval", type=float, default=0.25, help="wall seconds between samples")
    parser.add_argument("--max-growth-mb-per-hour", type=float, default=1.0)
    parser.add_argument("--json", type=Path, help="also write the samples and the verdict here")
    parser.add_argument("--keep", action="store_true", help="keep the workspace (logs, store) and print its path")
    parser.add_argument("--workspace", type=Path, help="work in this new directory (kept) instead of a throw-away one")
    args = parser.parse_args()
    if args.hours < 2:
        # The first simulated hour is warm-up; the judgement compares the second hour with the last.
        parser.error(f"--hours {args.hours}: at least 2 simulated hours (one of warm-up, one to judge)")
    if args.workspace and args.workspace.exists():
        parser.error(f"--workspace {args.workspace}: already exists; the soak needs a new directory")

    if args.workspace:
        args.workspace.mkdir(parents=True)
        work, args.keep = args.workspace.resolve(), True
    else:
        work = Path(tempfile.mkdtemp(prefix="whale-trader-soak-"))
    (work / "config").mkdir()
    (work / "data").mkdir()
    shutil.copy(REPO / "config" / "default.toml", work / "config" / "default.toml")
    session = work / "data" / "soak_session.jsonl"
    lines = Day(args.seed, args.hours, args.markets).build()
    with session.open("w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
    print(f"session: {len(lines)} events over {args.hours:g} simulated hours ({session.stat().st_size / 1e6:.1f} MB)")

    env = {k: v for k, v in os.environ.items() if not k.startswith("WHALE_TRADER") and k != "NOTIFY_SOCKET"}
    env.update(
        {
            "WHALE_TRADER__FEED__REPLAY_PATH": str(session),
            "WHALE_TRADER__FEED__REPLAY_SPEED": str(args.speed),
            "WHALE_TRADER__API__PORT": str(free_port()),
            # The protectors that halt trading for the day would end the churn a soak is for: a
            # random walk loses often enough to trip them within the first hours.
            "WHALE_TRADER__RISK__DRAWDOWN__MAX_CONSECUTIVE_LOSSES": "0",
            "WHALE_TRADER__RISK__DRAWDOWN__MAX_DRAWDOWN_PERCENT": "98",
            "WHALE_TRADER__RISK__DRAWDOWN__EMERGENCY_DRAWDOWN_PERCENT": "99",
            "WHALE_TRADER__RISK__DAILY_LOSS__MAX_DAILY_LOSS_USD": "1000000",
            "WHALE_TRADER__RISK__DAILY_LOSS__MAX_DAILY_LOSS_PERCENT": "99",
            "WHALE_TRADER__RISK__CIRCUIT_BREAKER__LOSS_THRESHOLD_USD": "1000000",
            "WHALE_TRADER__RISK__CIRCUIT_BREAKER__LOSS_THRESHOLD_PERCENT": "99",
        }
    )
    wall_s = args.hours * 3600 / args.speed
    console = (work / "console.out").open("wb")
    daemon = subprocess.Popen(
        [str(args.binary.resolve()), "run"], cwd=work, env=env, stdout=console, stderr=subprocess.STDOUT
    )
    started = time.monotonic()
    samples = []  # (simulated hour, rss MB, fds)
    try:
        while True:
            elapsed = time.monotonic() - started
            if daemon.poll() is not None:
                sys.exit(f"the daemon exited early with {daemon.returncode}; see {work}")
            if elapsed > wall_s + 2:
                break
            rss, fds = sample_process(daemon.pid)
            samples.append((elapsed * args.speed / 3600, rss, fds))
            time.sleep(args.interval)
    finally:
        stop(daemon, timeout=30)
        console.close()

    main_log = (work / "logs" / "main.log").read_text(encoding="utf-8", errors="replace")
    finished = [json.loads(line) for line in main_log.splitlines() if "replay finished" in line]
    if not finished:
        sys.exit(f"the replay did not finish within {wall_s:.0f} s of wall time: the daemon fell behind; see {work}")
    sent = finished[-1].get("fields", finished[-1]).get("sent")

    after_warm_up = [s for s in samples if s[0] >= 1.0]
    growth = slope_per_hour([(h, rss) for h, rss, _ in after_warm_up])
    # Descriptors opened for a moment (a /proc read, a log rotation) are not growth: the judgement
    # compares the usual count of the second simulated hour with that of the last one.
    fds_start = usual([fds for h, _, fds in after_warm_up if h < 2.0])
    fds_end = usual([fds for h, _, fds in after_warm_up if h >= args.hours - 1.0])
    fds_max = max(fds for _, _, fds in after_warm_up)
    verdict = {
        "hours": args.hours,
        "speed": args.speed,
        "events": len(lines),
        "events_sent": sent,
        "samples": len(samples),
        "rss_mb_at_1h": round(after_warm_up[0][1], 1),
        "rss_mb_at_end": round(after_warm_up[-1][1], 1),
        "rss_mb_max": round(max(rss for _, rss, _ in samples), 1),
        "rss_growth_mb_per_hour": round(growth, 3),
        "fds_usual_hour_2": fds_start,
        "fds_usual_last_hour": fds_end,
        "fds_max_after_1h": fds_max,
        "ok": growth < args.max_growth_mb_per_hour and fds_end <= fds_start,
    }
    print(json.dumps(verdict, indent=2))
    if args.json:
        args.json.write_text(json.dumps({"verdict": verdict, "samples": samples}, indent=1))
    if args.keep:
        print(f"workspace kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    sys.exit(0 if verdict["ok"] else 1)


if __name__ == "__main__":
    main()
