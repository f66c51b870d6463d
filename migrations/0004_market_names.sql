-- whale-trader store, schema version 4: the names of markets, cached so that a restart shows them
-- at once, even while the Gamma API does not answer.
--
-- One row per market (condition id), replaced whenever its names change.
--   question:      the market's question (Gamma) or title (a whale trade), as a person reads it;
--   slug:          its URL slug, '' when unknown;
--   end_date:      when it is scheduled to end (RFC 3339, as Gamma gives it), NULL when unknown;
--   outcomes_json: its outcome tokens and their names, `[["<token id>", "Yes"], ...]`;
--   source:        `gamma` (the Gamma API's market object) or `trade` (a whale trade's own fields);
--   fetched_at:    when the names were learned (ms); Gamma names older than
--                  `polymarket.names.refresh_hours` are read again.
CREATE TABLE market_names (
    condition_id  TEXT PRIMARY KEY,
    question      TEXT NOT NULL,
    slug          TEXT NOT NULL,
    end_date      TEXT,
    outcomes_json TEXT NOT NULL,
    source        TEXT NOT NULL CHECK (source IN ('gamma', 'trade')),
    fetched_at    INTEGER NOT NULL
) STRICT;
