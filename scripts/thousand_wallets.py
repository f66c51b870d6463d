#!/usr/bin/env python3
"""A daemon following 1,000 wallets: does it keep its poll cadence, and how much memory does it take?

THE DATA IS SYNTHETIC; the wire shapes are the Data API's. The script generates a config with
--wallets followed wallets (`[[copy.whales]]`, random proxy addresses), starts a loopback stand-in of
the Data API (`GET /v2/activity`, answers in the shape of the captured fixture
data_api_v2_activity_user.json: `{data: [...], pagination: {...}}`) and of the CLOB routes the daemon
may ask for a whale's token (`GET /book`, `POST /books`, `GET /clob-markets/{id}`, `GET /markets/{id}`),
and runs the release daemon on it (`whale-trader run`, paper mode, `feed.source = "polymarket"`) for
--minutes. Every wallet has a few trades from before start-up (held back, re-read by every poll's
overlap window); now and then a wallet makes a new, small trade (below `copy.min_whale_trade_usd`, so
the daemon reads, dedupes and decides it without needing an order book).

Usage (python3, standard library only; Linux, it reads /proc):

    cargo build --release
    python3 scripts/thousand_wallets.py --binary target/release/whale-trader              # 1,000 wallets, 3 min
    python3 scripts/thousand_wallets.py --wallets 1000 --interval-ms 15000 --rps 100 --minutes 5

Cadence: the stand-in logs every `GET /v2/activity` (monotonic time, wallet). Per wallet, the intervals
between two polls after its first one; the report gives their median and p99 over all wallets against
the configured `poll_interval_ms`, and how many wallets were polled at all. The configured interval must
be one the rate limit allows: wallets / (interval in s) requests per second at most `requests_per_sec`
(the script refuses otherwise; the daemon says so at start-up too). Memory: VmRSS from /proc/<pid>/status
sampled every 0.5 s, and VmHWM at the end.

Verdict (exit 1 when it fails): every wallet polled, median interval within 5 % of the configured one,
p99 within 25 %, and peak RSS under --max-rss-mb (64).
"""

import argparse
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent))
from procfs import cpu_ticks_and_faults, status_kb, stop, vm_rss_kb  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "polymarket"
# The shape of one activity row, from the captured fixture (copied here in case the fixture is not at
# hand): every key the Data API sends, with its type.
ROW_TEMPLATE = {
    "proxy_wallet": "",
    "timestamp": 0,
    "condition_id": "",
    "type": "TRADE",
    "size": 0.0,
    "usdc_size": 0.0,
    "transaction_hash": "",
    "price": 0.0,
    "token_id": "",
    "side": "BUY",
    "outcome_index": 0,
    "title": "Will the highest temperature in Dallas be between 100-101\u00b0F on September 14?",
    "slug": "highest-temperature-in-dallas-on-september-14-2026-100-101f",
    "icon": "https://polymarket-upload.s3.us-east-2.amazonaws.com/highest-temperature-in-dallas.jpg",
    "event_slug": "",
    "outcome": "Yes",
    "name": "",
    "pseudonym": "",
    "bio": "",
    "profile_image": "",
    "profile_image_optimized": "",
}


def load_row_template():
    """The fixture's first row when the fixtures are at hand, else the copy above."""
    path = FIXTURES / "data_api_v2_activity_user.json"
    try:
        row = json.loads(path.read_text())["data"][0]
    except (OSError, ValueError, KeyError, IndexError):
        return dict(ROW_TEMPLATE)
    return row


def hex_id(rng, digits):
    return "0x" + "".join(rng.choice("0123456789abcdef") for _ in range(digits))


class Venue:
    """The stand-in's state: each wallet's rows, and the request log."""

    def __init__(self, wallets, rng, template, start_secs):
        self.lock = threading.Lock()
        self.rows = {}
        self.template = template
        self.rng = rng
        self.polls = []  # (monotonic seconds, wallet)
        self.other_requests = {}
        self.markets = [(hex_id(rng, 64), str(rng.getrandbits(250))) for _ in range(50)]
        for wallet in wallets:
            rows = []
            for _ in range(3):
                rows.append(self.row(wallet, start_secs - rng.randint(30, 900), usd=rng.uniform(50, 2000)))
            self.rows[wallet] = sorted(rows, key=lambda r: r["timestamp"])

    def row(self, wallet, secs, usd):
        market, token = self.rng.choice(self.markets)
        price = round(self.rng.uniform(0.05, 0.95), 2)
        row = dict(self.template)
        row.update(
            proxy_wallet=wallet,
            timestamp=int(secs),
            condition_id=market,
            token_id=token,
            transaction_hash=hex_id(self.rng, 64),
            side=self.rng.choice(["BUY", "SELL"]),
            price=price,
            usdc_size=round(usd, 4),
            size=round(usd / price, 2),
        )
        return row

    def new_trade(self, wallet):
        # Below copy.min_whale_trade_usd (100): decided without a book.
        with self.lock:
            self.rows[wallet].append(self.row(wallet, time.time(), usd=self.rng.uniform(5, 50)))

    def activity(self, wallet, start, limit):
        with self.lock:
            self.polls.append((time.monotonic(), wallet))
            rows = [r for r in self.rows.get(wallet, []) if r["timestamp"] >= start][:limit]
        return {"data": rows, "pagination": {"limit": limit, "offset": 0, "has_more": False, "next_cursor": None}}


def fixture_or(name, fallback):
    try:
        return json.loads((FIXTURES / name).read_text())
    except (OSError, ValueError):
        return fallback


def make_handler(venue):
    book = fixture_or("clob_book.json", {"bids": [], "asks": []})
    market_info = fixture_or("clob_clob_markets_info.json", [{}])[0]
    market_status = fixture_or("clob_market_resolved_docs_shape.json", {})
    tokens = {market: token for market, token in venue.markets}
    month_ahead = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30 * 86400))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def send_json(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def count(self, route):
            with venue.lock:
                venue.other_requests[route] = venue.other_requests.get(route, 0) + 1

        def do_GET(self):
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            if url.path == "/v2/activity":
                start = int(query.get("start", "0") or 0)
                limit = int(query.get("limit", "500") or 500)
                return self.send_json(200, venue.activity(query.get("user", ""), start, limit))
            if url.path == "/book":
                self.count("GET /book")
                token = query.get("token_id", "")
                return self.send_json(200, dict(book, asset_id=token, timestamp=str(int(time.time() * 1000))))
            if url.path == "/time":
                self.count("GET /time")
                return self.send_json(200, int(time.time()))
            if url.path.startswith("/clob-markets/"):
                self.count("GET /clob-markets")
                market = url.path.rsplit("/", 1)[1]
                info = dict(market_info, c=market, mts=0.01, nr=False)
                info["t"] = [{"t": tokens.get(market, "2"), "o": "Yes"}, {"t": "1", "o": "No"}]
                return self.send_json(200, info)
            if url.path.startswith("/markets/"):
                self.count("GET /markets")
                market = url.path.rsplit("/", 1)[1]
                status = dict(market_status, condition_id=market, closed=False, accepting_orders=True)
                status["end_date_iso"] = month_ahead
                status["tokens"] = [
                    {"token_id": tokens.get(market, "2"), "outcome": "Yes", "price": "0.5", "winner": False},
                    {"token_id": "1", "outcome": "No", "price": "0.5", "winner": False},
                ]
                return self.send_json(200, status)
            self.count(f"GET {url.path}")
            return self.send_json(404, {"error": "not found"})

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            url = urlparse(self.path)
            if url.path == "/books":
                self.count("POST /books")
                try:
                    wanted = [item.get("token_id", "") for item in json.loads(body or b"[]")]
                except (ValueError, AttributeError):
                    wanted = []
                now = str(int(time.time() * 1000))
                return self.send_json(200, [dict(book, asset_id=t, timestamp=now) for t in wanted])
            self.count(f"POST {url.path}")
            return self.send_json(404, {"error": "not found"})

    return Handler


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config_with_wallets(wallets):
    """config/default.toml with its [[copy.whales]] replaced by `wallets`."""
    text = (REPO / "config" / "default.toml").read_text()
    blocks = list(re.finditer(r"^\[\[copy\.whales\]\]\n(?:(?!\[).*\n)*", text, flags=re.M))
    if not blocks:
        raise SystemExit("config/default.toml has no [[copy.whales]] to replace")
    generated = "".join(
        f'[[copy.whales]]\naddress = "{w}"\nlabel = "generated {i + 1}"\nmultiplier = 1\n\n' for i, w in enumerate(wallets)
    )
    return text[: blocks[0].start()] + generated + text[blocks[-1].end() :]


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--binary", default=str(REPO / "target" / "release" / "whale-trader"))
    parser.add_argument("--wallets", type=int, default=1000)
    parser.add_argument("--interval-ms", type=int, default=15000, help="polymarket.whale_feed.poll_interval_ms")
    parser.add_argument("--rps", type=int, default=100, help="polymarket.whale_feed.requests_per_sec (at most 100)")
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--new-trades-per-sec", type=float, default=2.0, help="new small trades, random wallets")
    parser.add_argument("--max-rss-mb", type=float, default=64.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the workspace (its logs) and print its path")
    args = parser.parse_args()

    needed = args.wallets * 1000 / args.interval_ms
    if needed > args.rps:
        raise SystemExit(
            f"{args.wallets} wallets every {args.interval_ms} ms need {needed:.0f} requests/s, more than --rps {args.rps}"
        )
    rng = random.Random(args.seed)
    wallets = sorted({hex_id(rng, 40) for _ in range(args.wallets)})
    venue = Venue(wallets, rng, load_row_template(), int(time.time()))
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(venue))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"

    work = Path(tempfile.mkdtemp(prefix="whale-1000-"))
    (work / "config").mkdir()
    (work / "config" / "default.toml").write_text(config_with_wallets(wallets))
    env = dict(os.environ)
    env.update(
        {
            "WHALE_TRADER__FEED__SOURCE": "polymarket",
            "WHALE_TRADER__POLYMARKET__DATA_API_URL": url,
            "WHALE_TRADER__POLYMARKET__CLOB_URL": url,
            "WHALE_TRADER__POLYMARKET__GAMMA_URL": f"{url}/gamma",
            "WHALE_TRADER__POLYMARKET__WHALE_FEED__POLL_INTERVAL_MS": str(args.interval_ms),
            "WHALE_TRADER__POLYMARKET__WHALE_FEED__REQUESTS_PER_SEC": str(args.rps),
            "WHALE_TRADER__API__PORT": str(free_port()),
            "WHALE_TRADER__LOGGING__CONSOLE": "off",
        }
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        [str(Path(args.binary).resolve()), "run"], cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    peak_kb, samples, next_trade = 0, [], started
    try:
        while time.monotonic() - started < args.minutes * 60:
            if proc.poll() is not None:
                raise SystemExit(f"daemon exited {proc.returncode}: {proc.stderr.read().decode()[-3000:]}")
            rss = vm_rss_kb(proc.pid)
            peak_kb = max(peak_kb, rss)
            samples.append((time.monotonic() - started, rss))
            while args.new_trades_per_sec > 0 and next_trade <= time.monotonic():
                venue.new_trade(rng.choice(wallets))
                next_trade += 1 / args.new_trades_per_sec
            time.sleep(0.5)
        (hwm_kb,) = status_kb(proc.pid, "VmHWM")
        cpu_ticks, _ = cpu_ticks_and_faults(proc.pid)
    finally:
        rc = stop(proc, timeout=60)
        server.shutdown()
    elapsed = time.monotonic() - started

    with venue.lock:
        polls = list(venue.polls)
        other = dict(venue.other_requests)
    by_wallet = {}
    for at, wallet in polls:
        by_wallet.setdefault(wallet, []).append(at)
    intervals = []
    for times in by_wallet.values():
        intervals.extend(b - a for a, b in zip(times, times[1:]))
    configured = args.interval_ms / 1000
    polled = sum(1 for w in wallets if w in by_wallet)
    median = statistics.median(intervals) if intervals else float("inf")
    p99 = percentile(intervals, 0.99) if intervals else float("inf")
    late = [s for s in samples if s[0] >= 60]
    print(f"{args.wallets} wallets, poll_interval_ms {args.interval_ms}, requests_per_sec {args.rps}, {elapsed:.0f} s")
    print(f"  polls: {len(polls)} ({len(polls) / elapsed:.1f}/s; rate limit {args.rps}/s), wallets polled {polled}/{len(wallets)}")
    print(
        f"  interval between two polls of a wallet: median {median:.3f} s ({median / configured:.3f}x), "
        f"p99 {p99:.3f} s ({p99 / configured:.3f}x), max {max(intervals, default=0):.3f} s; configured {configured:.3f} s"
    )
    print(
        f"  RSS: peak {peak_kb / 1024:.1f} MB (VmHWM {hwm_kb / 1024:.1f} MB), "
        f"after 60 s {min((r for _, r in late), default=0) / 1024:.1f}-{max((r for _, r in late), default=0) / 1024:.1f} MB; "
        f"CPU {100 * cpu_ticks / os.sysconf('SC_CLK_TCK') / elapsed:.1f} % of a core on average"
    )
    if other:
        print(f"  other requests: {other}")
    print(f"  daemon exit code {rc}; load average {os.getloadavg()[0]:.2f}")
    if args.keep:
        print(f"  workspace kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    ok = (
        polled == len(wallets)
        and median <= configured * 1.05
        and median >= configured * 0.95
        and p99 <= configured * 1.25
        and peak_kb / 1024 < args.max_rss_mb
        and rc == 0
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
