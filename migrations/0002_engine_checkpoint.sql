-- whale-trader store, schema version 2: the engine's checkpoint.
--
-- One row: everything the engine needs to resume exactly where it stopped, besides the risk manager's
-- own state (risk_state.state_json) and the rows of the other tables. It is written in the same
-- transaction as the orders, fills, positions and decisions of the input it follows, so the store never
-- holds a decision without the checkpoint that knows about it.
--   source: what the engine was reading (e.g. `replay:data/sample_session.jsonl`, or `polymarket`);
--   cursor: for a replayed session, the number of the last message whose effects are in this row
--           (a restart resumes after it); NULL for live feeds, which resume from the whale watermarks.
CREATE TABLE engine_checkpoint (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    source     TEXT NOT NULL,
    cursor     INTEGER,
    state_json TEXT NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;
