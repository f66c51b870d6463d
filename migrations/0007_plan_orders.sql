-- whale-trader store, schema version 7: the orders trade plans send to a crypto venue, written
-- ahead of sending (a restart asks the venue about every one not finished, by its client order id,
-- and never sends it again) and updated with what the venue reported.
--
-- plan_orders: one row per order;
--   client_order_id: ours, as the venue keeps it (Binance newClientOrderId, Bybit orderLinkId);
--   kind:           `entry` or `exit (<reason>)`;
--   price:          the limit price, NULL for a market order;
--   status:         `staged` (written, maybe sent), `working` (the venue has it), `done`, `refused`;
--   filled, average_price, fee: cumulative, as the venue last reported them;
--   order_json:     the whole order as the daemon reads it back.
CREATE TABLE plan_orders (
    client_order_id TEXT PRIMARY KEY,
    plan_id         TEXT NOT NULL,
    symbol          TEXT NOT NULL,
    side            TEXT NOT NULL,
    kind            TEXT NOT NULL,
    price           TEXT,
    units           TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('staged', 'working', 'done', 'refused')),
    venue_order_id  TEXT,
    filled          TEXT NOT NULL DEFAULT '0',
    average_price   TEXT NOT NULL DEFAULT '0',
    fee             TEXT NOT NULL DEFAULT '0',
    refusal         TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    order_json      TEXT NOT NULL
) STRICT;
CREATE INDEX plan_orders_plan ON plan_orders (plan_id);
