#!/usr/bin/env python3
"""Generate the bundled sample session `data/sample_session.jsonl`.

THE DATA IS SYNTHETIC. The wallets, markets, token ids, books and trades below are made up by
this script; they only have the *shapes* of the real Polymarket payloads, so that the replay
feed drives the daemon through exactly the code paths the live feeds use.

Usage (python3, standard library only; the output is byte-for-byte the same on every run):

    python3 scripts/gen_sample_session.py                 # writes data/sample_session.jsonl
    python3 scripts/gen_sample_session.py --out other.jsonl --seed 7

Format: JSON lines, one event each, in time order. Every line has `ts` (milliseconds since the
epoch, when the event reaches the daemon) and `type`:

* `market`      - `{"market": <CLOB /clob-markets/{condition_id} object>}`: tokens and outcome
                  labels (`t`), tick size (`mts`), minimum order size (`mos`), fee curve (`fd`).
* `book`        - `{"book": <CLOB GET /book object>}`: bids ascending and asks descending (best
                  last, as the real API does), decimal strings, a 13-digit millisecond timestamp.
* `whale_trade` - `{"trade": <Data API v1 /trades row>}`: camelCase, numbers as JSON numbers, the
                  trade's own `timestamp` in seconds (a few seconds before `ts`: the feed lag).
* `resolution`  - `{"condition_id": "0x..", "winning_token_id": "..."}`: the market resolved.

What the session shows in paper mode with `config/default.toml`
(three followed whales, ten markets; every quiet market gets a fresh book every 15 s):

    copies opened ............ alpha, bravo and crash whales' BUYs within the rules
    rejections ............... below_minimum_size (a $30 whale trade), price_moved (the ask ran
                               away from the whale's price), max_positions_per_whale (bravo's
                               4th), double_fire (alpha again on the same market and side),
                               stale_price (a market whose book stopped updating),
                               circuit_breaker_open (an entry while the breaker cools down)
    exits .................... stop_loss, take_profit, trailing_stop, whale_exit (bravo sells),
                               market_resolved (settled at 1)
    circuit breaker .......... three crash-whale positions gap down together; realised plus
                               unrealised P&L falls below -3 % of equity and trading moves to
                               `reducing`

The scenario is a fixed script; the seed only picks ids, hashes and the quiet books' depth.
"""

import argparse
import json
import random
from pathlib import Path

SESSION_START_MS = 1_767_607_200_000  # 2026-01-05T10:00:00Z
QUIET_BOOK_EVERY_S = 15
SESSION_LENGTH_S = 40 * 60
FEED_LAG_S = 6  # a whale trade reaches the daemon this long after its block time
TICK = 0.01


class Ids:
    """Deterministic fake identifiers in the real formats."""

    def __init__(self, rng):
        self.rng = rng

    def hex(self, digits):
        return "".join(self.rng.choice("0123456789abcdef") for _ in range(digits))

    def wallet(self):
        return "0x" + self.hex(40)

    def condition(self):
        return "0x" + self.hex(64)

    def token(self):
        # CLOB token ids are decimal uint256 values, usually 76-77 digits.
        return str(self.rng.randrange(10**75, 10**77))


def money(x):
    """A price or size as the CLOB writes it: a decimal string without float noise."""
    text = f"{x:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class Session:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.lines = []  # (ts_ms, order, dict)
        self.order = 0
        self.whales = {
            "alpha": self.ids.wallet(),
            "bravo": self.ids.wallet(),
            "crash": self.ids.wallet(),
        }
        self.markets = []
        for i in range(10):
            self.markets.append(
                {
                    "name": f"M{i}",
                    "condition": self.ids.condition(),
                    "yes": self.ids.token(),
                    "no": self.ids.token(),
                    "title": f"Synthetic market {i}: will it happen?",
                }
            )
        # The current best bid of each market's Yes token; the ask is one tick above it.
        self.bid = {m["name"]: 0.50 for m in self.markets}
        self.bid.update({"M1": 0.30, "M2": 0.45, "M3": 0.60, "M4": 0.40, "M8": 0.55})
        self.quiet_until = {m["name"]: SESSION_LENGTH_S for m in self.markets}
        self.quiet_until["M8"] = 100  # M8's book stops updating: its entries become stale_price
        self.moves = {}  # market name -> [(t_s, bid)] in script order

    def market(self, name):
        return next(m for m in self.markets if m["name"] == name)

    def emit(self, t_s, record):
        self.lines.append((SESSION_START_MS + int(t_s * 1000), self.order, record))
        self.order += 1

    # --- event builders, each in the real wire shape -------------------------------------------

    def market_info(self, t_s, name):
        m = self.market(name)
        info = {
            "c": m["condition"],
            "t": [{"t": m["yes"], "o": "Yes"}, {"t": m["no"], "o": "No"}],
            "mts": TICK,
            "mos": 5,
            "nr": False,
            "ao": True,
            "fd": {"r": 0.05, "e": 1, "to": True},
        }
        self.emit(t_s, {"type": "market", "market": info})

    def move(self, t_s, name, bid):
        """A scripted price move: a book at `t_s`, and every later quiet book keeps the new price."""
        self.moves.setdefault(name, []).append((t_s, bid))
        self.book(t_s, name, bid)

    def bid_at(self, name, t_s):
        bid = self.bid[name]
        for at, moved_to in self.moves.get(name, []):
            if at <= t_s:
                bid = moved_to
        return bid

    def book(self, t_s, name, best_bid):
        m = self.market(name)
        best_ask = round(best_bid + TICK, 2)
        depth = [400 + self.rng.randrange(0, 200) for _ in range(4)]
        # Real books list bids ascending and asks descending: the best level is the LAST element.
        bids = [
            {"price": money(best_bid - TICK * k), "size": money(depth[k])} for k in range(3, -1, -1) if best_bid - TICK * k > 0
        ]
        asks = [{"price": money(best_ask + TICK * k), "size": money(depth[k])} for k in range(3, -1, -1) if best_ask + TICK * k < 1]
        ts_ms = SESSION_START_MS + int(t_s * 1000)
        book = {
            "market": m["condition"],
            "asset_id": m["yes"],
            "timestamp": str(ts_ms),
            "hash": self.ids.hex(40),
            "bids": bids,
            "asks": asks,
            "min_order_size": "5",
            "tick_size": money(TICK),
            "neg_risk": False,
            "last_trade_price": money(best_bid),
        }
        self.emit(t_s, {"type": "book", "book": book})

    def whale_trade(self, t_s, whale, name, side, size, price):
        m = self.market(name)
        block_time_s = (SESSION_START_MS // 1000) + int(t_s) - FEED_LAG_S
        row = {
            "proxyWallet": self.whales[whale],
            "side": side,
            "asset": m["yes"],
            "conditionId": m["condition"],
            "size": size,
            "price": price,
            "timestamp": block_time_s,
            "title": m["title"],
            "slug": f"synthetic-market-{name.lower()}",
            "icon": "",
            "eventSlug": f"synthetic-event-{name.lower()}",
            "outcome": "Yes",
            "outcomeIndex": 0,
            "name": whale,
            "pseudonym": f"Synthetic-{whale.capitalize()}",
            "bio": "",
            "profileImage": "",
            "profileImageOptimized": "",
            "transactionHash": "0x" + self.ids.hex(64),
        }
        self.emit(t_s, {"type": "whale_trade", "trade": row})

    def resolution(self, t_s, name, winner="yes"):
        m = self.market(name)
        self.emit(t_s, {"type": "resolution", "condition_id": m["condition"], "winning_token_id": m[winner]})

    # --- the script ------------------------------------------------------------------------------

    def build(self):
        for m in self.markets:
            self.market_info(0, m["name"])
        self.script()
        # Quiet books: every market's Yes token gets a fresh book every 15 s (at a per-market offset).
        for i, m in enumerate(self.markets):
            t = 1 + i
            while t < self.quiet_until[m["name"]]:
                self.book(t, m["name"], self.bid_at(m["name"], t))
                t += QUIET_BOOK_EVERY_S
        self.lines.sort(key=lambda line: (line[0], line[1]))
        return [dict(ts=ts, **record) for ts, _, record in self.lines]

    def script(self):
        # Copies and rejections at entry.
        self.whale_trade(60, "alpha", "M0", "BUY", 400.0, 0.5049999999999999)  # copy -> A1 (float noise on purpose)
        self.whale_trade(75, "alpha", "M1", "BUY", 100.0, 0.30)  # $30 < $100 -> below_minimum_size
        self.move(89, "M2", 0.52)  # M2's ask runs away to 0.53 ...
        self.whale_trade(90, "bravo", "M2", "BUY", 1000.0, 0.45)  # ... 17.8 % above 0.45 -> price_moved
        self.whale_trade(120, "bravo", "M3", "BUY", 1000.0, 0.61)  # copy -> B1
        self.whale_trade(150, "bravo", "M4", "BUY", 1000.0, 0.41)  # copy -> B2
        self.whale_trade(180, "bravo", "M5", "BUY", 1000.0, 0.51)  # copy -> B3
        self.whale_trade(210, "bravo", "M6", "BUY", 1000.0, 0.51)  # 4th of bravo -> max_positions_per_whale
        self.whale_trade(240, "alpha", "M0", "BUY", 500.0, 0.51)  # same market and side in 15 min -> double_fire
        self.whale_trade(300, "alpha", "M8", "BUY", 500.0, 0.56)  # M8 has no book since t=91 -> stale_price
        self.whale_trade(330, "alpha", "M7", "BUY", 500.0, 0.51)  # copy -> A2, held to resolution

        # Exits.
        self.move(400, "M0", 0.44)  # A1: 0.51 -> 0.44 is -13.7 % -> stop_loss
        self.move(460, "M3", 0.78)  # B1: 0.61 -> 0.78 is +27.9 % -> take_profit
        self.move(520, "M4", 0.45)  # B2 climbs ...
        self.move(535, "M4", 0.48)  # ... to its best, +17 % (below take-profit) ...
        self.move(550, "M4", 0.45)  # ... and gives back 6.25 % -> trailing_stop
        self.whale_trade(600, "bravo", "M5", "SELL", 1000.0, 0.52)  # bravo exits M5 -> our B3 whale_exit
        self.resolution(660, "M7", "yes")  # A2 settles at 1 -> market_resolved

        # The circuit breaker: the crash whale's three positions gap down one after another.
        self.whale_trade(700, "crash", "M9", "BUY", 2000.0, 0.51)  # copy -> C1
        self.whale_trade(720, "crash", "M6", "BUY", 2000.0, 0.51)  # copy -> C2
        self.whale_trade(740, "crash", "M2", "BUY", 2000.0, 0.53)  # copy -> C3
        self.move(800, "M9", 0.25)  # -51 %: stop_loss
        self.move(801, "M6", 0.25)  # -51 %: stop_loss
        self.move(802, "M2", 0.25)  # -53 %: stop_loss; today's P&L < -$300 -> breaker trips
        self.whale_trade(900, "alpha", "M1", "BUY", 1000.0, 0.31)  # entry while reducing -> circuit_breaker_open


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=int, default=20260105, help="seed for ids, hashes and book depth")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "data" / "sample_session.jsonl")
    args = parser.parse_args()
    lines = Session(args.seed).build()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(json.dumps(line, separators=(",", ":")) + "\n")
    print(f"wrote {len(lines)} events to {args.out}")


if __name__ == "__main__":
    main()
