-- whale-trader store, schema version 6: trade plans, every decision on one and every close, so
-- that the batch summary, the signal analytics and an audit read them after a restart.
--
-- plan_decisions: one row per plan received (a duplicate plan id is a new row, refused);
--   seq:          order of arrival;
--   plan_id:      the plan's id ('' when it had none);
--   decided_at:   when (ms);
--   outcome:      `approved` or `rejected`; reason: the reason code of a refusal, NULL otherwise;
--   symbol, quality_tier, regime, score: from the plan when it had them (for queries);
--   decision_json: the whole decision (plan, size, staged order or refusal), as the daemon reads it back.
-- plan_closes: one row per closed plan, with its outcome in USD and R.
CREATE TABLE plan_decisions (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    plan_id       TEXT NOT NULL,
    decided_at    INTEGER NOT NULL,
    outcome       TEXT NOT NULL CHECK (outcome IN ('approved', 'rejected')),
    reason        TEXT,
    symbol        TEXT,
    quality_tier  TEXT,
    regime        TEXT,
    score         TEXT,
    decision_json TEXT NOT NULL
) STRICT;
CREATE INDEX plan_decisions_at ON plan_decisions (decided_at);

CREATE TABLE plan_closes (
    plan_id     TEXT PRIMARY KEY,
    closed_at   INTEGER NOT NULL,
    exit_price  TEXT NOT NULL,
    pnl_usd     TEXT NOT NULL,
    r_multiple  TEXT NOT NULL,
    close_json  TEXT NOT NULL
) STRICT;
