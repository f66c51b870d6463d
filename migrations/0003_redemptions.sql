-- whale-trader store, schema version 3: on-chain redemptions of winning positions (live mode).
--
-- A row is written by the engine in the same transaction as the settlement of the position it redeems
-- (status `pending`), before the redeemer sees it. The redeemer signs the transaction, records its hash,
-- nonce and raw bytes here (status `sent`) BEFORE broadcasting it, then records how it ended
-- (`confirmed` or `failed`). After a restart a `sent` row is reconciled by its hash (the same raw
-- transaction is broadcast again if the node never saw it: same nonce, same hash, never a second
-- redemption) and a `pending` row is sent.
--   redemption_id: `<condition id>/<trade id of the first winning position settled>`;
--   shares:        winning shares held when the market resolved (decimal text), what the redemption pays in USD;
--   outcome:       the winning token's label (a neg-risk redemption names its amount by Yes / No);
--   neg_risk:      1 when the market redeems through the NegRiskAdapter;
--   detail:        how it ended (the receipt's block and gas, or why it failed).
CREATE TABLE redemptions (
    redemption_id TEXT PRIMARY KEY,
    condition_id  TEXT NOT NULL,
    token_id      TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    shares        TEXT NOT NULL,
    neg_risk      INTEGER NOT NULL CHECK (neg_risk IN (0, 1)),
    status        TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'confirmed', 'failed')),
    tx_hash       TEXT,
    nonce         INTEGER,
    raw_tx        TEXT,
    detail        TEXT,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
) STRICT;

-- What a restart must finish: the redeemer reads these at start.
CREATE INDEX redemptions_not_final ON redemptions (status) WHERE status IN ('pending', 'sent');
