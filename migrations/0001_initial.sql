-- whale-trader store, schema version 1.
-- Money, prices and sizes are decimal TEXT (exact; readable in the sqlite3 shell).
-- Times are INTEGER milliseconds since the Unix epoch, UTC.
-- Applied by the store inside one transaction; `schema_version` records it.
-- Lists of allowed values are written as `=` / `<>` chains, never `IN (...)` of more than two
-- constants: SQLite evaluates such a list through a temporary b-tree that it builds and drops on
-- every insert, which was half the CPU of an insert (see BENCHMARKS.md, store).

-- Which mode (paper, live, dry-run) this file belongs to: a file never serves two modes.
CREATE TABLE store_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;

CREATE TABLE positions (
    position_id      TEXT PRIMARY KEY,
    whale_wallet     TEXT NOT NULL,
    market_id        TEXT NOT NULL,          -- the market's condition id
    token_id         TEXT NOT NULL,
    outcome          TEXT NOT NULL,
    side             TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    size             TEXT NOT NULL,
    entry_price      TEXT NOT NULL,
    opened_at        INTEGER NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    high_water_price TEXT,                   -- trailing stop; written coalesced
    exit_price       TEXT,
    realised_pnl     TEXT,
    closed_at        INTEGER,
    exit_reason      TEXT
) STRICT;
CREATE INDEX positions_open ON positions (position_id) WHERE status = 'open';

-- Order intents, written ahead of sending. The client order id is unique forever.
-- No foreign key to positions: an entry order is written before its position exists.
CREATE TABLE orders (
    client_order_id TEXT PRIMARY KEY,
    venue_order_id  TEXT,
    position_id     TEXT,
    whale_trade_key TEXT,
    token_id        TEXT NOT NULL,
    side            TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    limit_price     TEXT NOT NULL,
    size            TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('entry', 'exit')),
    status          TEXT NOT NULL CHECK (status = 'pending' OR status = 'submitted' OR status = 'partially_filled'
                                         OR status = 'filled' OR status = 'cancelled' OR status = 'rejected'
                                         OR status = 'unknown'),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
) STRICT;
-- Not final: pending, submitted, partially_filled or unknown (reads use exactly these terms).
CREATE INDEX orders_not_final ON orders (client_order_id)
    WHERE status <> 'filled' AND status <> 'cancelled' AND status <> 'rejected';
CREATE INDEX orders_by_whale_trade ON orders (whale_trade_key) WHERE whale_trade_key IS NOT NULL;

CREATE TABLE fills (
    fill_id         TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL REFERENCES orders (client_order_id),
    price           TEXT NOT NULL,
    size            TEXT NOT NULL,
    fee             TEXT NOT NULL,
    filled_at       INTEGER NOT NULL
) STRICT;
CREATE INDEX fills_by_order ON fills (client_order_id);

-- One row: the risk manager's exported state plus the figures a human reads.
CREATE TABLE risk_state (
    id                  INTEGER PRIMARY KEY CHECK (id = 1),
    state_json          TEXT NOT NULL CHECK (json_valid(state_json)),
    trading_state       TEXT NOT NULL,
    reason              TEXT,
    peak_equity         TEXT NOT NULL,
    start_of_day_equity TEXT NOT NULL,
    daily_pnl           TEXT NOT NULL,
    breaker_trips       INTEGER NOT NULL,
    loss_streak         INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL
) STRICT;

CREATE TABLE trading_state_changes (
    id         INTEGER PRIMARY KEY,
    from_state TEXT NOT NULL,
    to_state   TEXT NOT NULL,
    reason     TEXT NOT NULL,
    detail     TEXT,
    changed_at INTEGER NOT NULL
) STRICT;

CREATE TABLE seen_whale_trades (
    dedupe_key TEXT PRIMARY KEY,
    wallet     TEXT NOT NULL,
    traded_at  INTEGER NOT NULL,
    decision   TEXT NOT NULL CHECK (decision = 'approved' OR decision = 'rejected' OR decision = 'skipped')
) STRICT;
CREATE INDEX seen_whale_trades_by_time ON seen_whale_trades (traded_at);

CREATE TABLE whale_watermarks (
    wallet    TEXT PRIMARY KEY,
    watermark INTEGER NOT NULL
) STRICT;

-- Every approval, rejection and skip, with its reason code.
CREATE TABLE decision_audit (
    id              INTEGER PRIMARY KEY,
    whale_trade_key TEXT NOT NULL,
    wallet          TEXT NOT NULL,
    market_id       TEXT NOT NULL,
    token_id        TEXT NOT NULL,
    decision        TEXT NOT NULL CHECK (decision = 'approved' OR decision = 'rejected' OR decision = 'skipped'),
    reason_code     TEXT NOT NULL,
    detail          TEXT,
    decided_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX decision_audit_by_time ON decision_audit (decided_at);

CREATE TABLE alert_outbox (
    alert_id     TEXT PRIMARY KEY,
    priority     TEXT NOT NULL,
    title        TEXT NOT NULL,
    body_json    TEXT NOT NULL CHECK (json_valid(body_json)),
    created_at   INTEGER NOT NULL,
    delivered_at INTEGER
) STRICT;
CREATE INDEX alert_outbox_undelivered ON alert_outbox (created_at) WHERE delivered_at IS NULL;
