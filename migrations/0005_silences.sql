-- whale-trader store, schema version 5: alert silences, so that an operator's "not now" survives a
-- restart and stays on the record after it ends.
--
-- One row per silence, written when it is added, when its hit count moves and when it is ended.
--   id:            `S0001`, `S0002`, … in order of creation;
--   matchers_json: what it matches, `[{"key":"whale","value":"Alice"}, ...]` (all must match);
--   created_at, expires_at: when it began and when it ends by itself (ms);
--   created_by:    `cli`, `api` or `telegram:<chat>`;
--   reason:        why, as given ('' when none);
--   hits:          alerts it held back (never decreases);
--   expired_at, expired_by: set when someone ended it early, NULL otherwise.
CREATE TABLE silences (
    id            TEXT PRIMARY KEY,
    matchers_json TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    created_by    TEXT NOT NULL,
    reason        TEXT NOT NULL,
    hits          INTEGER NOT NULL CHECK (hits >= 0),
    expired_at    INTEGER,
    expired_by    TEXT
) STRICT;
