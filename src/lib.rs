//! # whale-trader
//!
//! Copy-trades chosen Polymarket "whale" wallets under strict, provable risk control.
//!
//! Sources feed one engine, which owns the pure risk manager and emits order intents and events
//! to sinks.
//!
//! ```text
//!  sources (async tasks)         core (one task, synchronous logic)        sinks (async tasks)
//!  polymarket / replay feeds ─┐                                          ┌─► executors (copy, plans)
//!  control commands, plans   ─┼─ mpsc ─► engine ─► risk (pure) ─► intents ┼─► store (SQLite)
//!  executor fills, timers    ─┘                                          ├─► alerts ─► channels
//!                                                                         └─► telemetry ─► exporters
//!  health monitor ── watch ──► control API, alerts
//! ```
//!
//! # Layout
//!
//! The vocabulary everything shares:
//!
//! - [`domain`]: interned ids, sides, trading states, reason and exit codes.
//! - [`market`]: the market as the core sees it, whichever venue read it: order books and the
//!   rules a usable one keeps, market parameters and fee curves, the paper fill model, whale trades
//!   with their dedupe key, the positions the venue says we hold, and the names a person reads
//!   (market questions, outcome names, whale labels, short ids when unknown), and the market
//!   regime (trend, range, volatile) a token's recent mids show.
//! - [`clock`]: time as a parameter (the only place that reads the wall or monotonic clock).
//! - [`config`]: the TOML file, `.env` and `WHALE_TRADER__…` overrides, validated as a whole.
//!
//! The decision core, pure and synchronous (no tokio, no I/O):
//!
//! - [`risk`]: the risk manager. `risk::manager` holds its state; its jobs are files of their own:
//!   `checks` (the pre-trade pipeline), `evaluation` (prices, stops, breaker, loss limits,
//!   drawdown), `fills` (fill accounting), `control` (halt, resume, kill), `wallet_truth` (live
//!   equity from the wallet) and `persistence` (metrics, export, restore); the rules themselves
//!   are `breaker`, `daily_loss`, `drawdown`, `limits`, `safeguards`, `sizing`, `stops`, `state`;
//!   `r_multiple` is the one definition of a trade's initial risk and R (the engine's `risk_usd`,
//!   the report and the audit summary); `manager::plan_checks` checks, opens and closes trade plans
//!   against `plan_book` (open plans, their risk per asset and in total, plan ids, firings);
//!   `manager::plan_positions` applies a venue's reports and prices to the plans' positions (pure).
//! - [`plans`]: the signal path's vocabulary and pure rules: a trade plan as it arrives and
//!   complete (`plan`), its validation (`validate`), the seed's sizing formula (`sizing`), the
//!   decision every sink reads (`decision`), its orders and their reports at a venue
//!   (`execution`), its position managed by its stop and targets (`position`), and its messages
//!   (`format`: the seed's signal message and batch summary per medium, split within each
//!   medium's limit).
//! - [`engine`]: the copy-trading engine's one step. `engine::core` holds the [`engine::Engine`];
//!   `whale_trades` (intake and dedupe), `copy_entry`, `copy_exit`, `exits`, `fills`, `prices`,
//!   `resolution`, `restore`, `control`, `wallet` and `plans` (a trade plan decided by the same
//!   risk manager, its order staged for the plan executor) are its jobs; `copy_rules` and
//!   `exit_policy` the pure rules it applies; `replay` the engine stepped in a plain loop with
//!   simulated time.
//!
//! Adapters at the edges (async I/O, converting to and from the core's types):
//!
//! - [`polymarket`]: the Data API, CLOB and Gamma clients, the whale and price feeds, market status
//!   and names, order signing; each reads its wire form into `market` types. One HTTP client
//!   with retries, rate limits and outages (`http`, `outage`: one line per outage, back-off
//!   across polls).
//! - [`session`]: recorded sessions, a source that drives the engine from a file: the format,
//!   its optional header, bounded reading, the plain-loop replay, the way back (an input to its
//!   line, the daily files a recording writes), `fetch` (a session built from wallets' public
//!   trades and price history, resumable) and the decision diff of two replays (`compare`).
//! - `live` (feature `live`): the live executor on the CLOB and the on-chain redeemer.
//! - [`venues`]: the crypto venues trade plans execute on, Binance (spot, USDⓈ-M futures) and
//!   Bybit (v5: spot, linear), behind one [`venues::VenueApi`] (signed REST, server time, symbol
//!   rules, 429/418 holds), and the plan executor over it (`venues::executor`: orders written ahead,
//!   followed to their end, reconciled after a restart; the open plans' prices for their stops).
//! - [`store`]: the embedded SQLite store (write-ahead orders, fills, positions, risk state,
//!   recovery) behind one writer task.
//! - [`alerts`]: the dispatcher, its policy (dedupe, throttle, quiet hours), silences and its channels.
//! - [`health`]: system figures, component checks and the hold health may put on trading.
//! - [`logging`]: rotating JSON logs, the audit trail, per-call-site rate limits, timings, and
//!   the human console (`human`: short ids, no float noise).
//! - [`api`]: the local control API (`/health`, `/metrics`, `/status`, control POSTs, trade plans
//!   at `/signals`) and its client.
//! - [`telegram`]: two-way control from a Telegram chat (long-polled `getUpdates`, commands
//!   through the control API's path, answers by `sendMessage`).
//! - [`audit`]: the decision audit read back from the trail files: one record per signal with its
//!   sizing, risk snapshot, regime and outcome (`audit export` as JSON lines or CSV), and its
//!   summary (`audit summary`: rejections by reason, hit rate, R multiples, by market regime).
//! - [`history`]: trade history, profit and daily P&L computed from the store's trade records
//!   (pure), for `GET /trades`, `/profit`, `/daily` and the CLI verbs of the same names.
//! - [`telemetry`]: typed events (signals, orders, fills, closes, trading states) on a bounded queue
//!   that drops rather than waits, exported to a rotated JSON-lines file and an HTTP NDJSON sink
//!   (drops counted and alerted), and the trade plans' analytics (by tier and regime, R:R, hit rate).
//! - [`report`]: `report` and `replay --report`: a ledger of trades (from the store or a replay's
//!   audit records), its figures (pure), `plotters` charts (PNG, SVG) and a self-contained HTML page.
//!
//! Putting it together:
//!
//! - [`runtime`]: the daemon. `runtime::start` builds it, one builder per subsystem (`store`,
//!   `alerts`, `engine`, `feeds`, `health`, `control`); `engine_task` is the async actor around the
//!   engine's step, `replay_feed` the daemon's paced replay, `feeds` the live feeds' tasks,
//!   `supervisor`, `signals` and `daemon` the task tree and the orderly stop, `silences` the one
//!   entry point for silence commands (API, Telegram), `closing_summary` what a replayed session
//!   did, told when its last event is recorded, `session_recorder` the `[record]` writer of every
//!   input the engine steps (a session file a replay reproduces the day from), `plans` the trade
//!   plans' inbox directory and batch summary.
//! - [`cli`]: the `whale-trader` command line (`locate`: which config and env file a command
//!   reads, from any directory).
//!
//! ## A trade's path, one shape per layer
//!
//! Each concept has one type in each layer that needs its own shape, converted in one place:
//!
//! | concept | source edge | core | store / observers (text edge) |
//! | --- | --- | --- | --- |
//! | whale trade | wire rows → [`market::WhaleTrade`] in `polymarket::data_api` | [`market::WhaleTrade`], dedupe by [`market::TradeKey`] | `store::SeenWhaleTrade` (key text) |
//! | decision | | [`engine::WhaleTradeDecision`] with a typed [`engine::DecisionOutcome`] | `store::DecisionRecord` in `engine::journal` |
//! | order | | [`risk::OrderIntent`], [`risk::Approved`] (only risk makes one; executors take only it) | `store::OrderRecord` in `engine::journal` |
//! | fill | venue answers → [`engine::ExecutionReport`] | [`risk::Fill`] | `store::FillRecord` in `engine::journal` |
//! | position | | [`risk::Position`] (limits, stops, reservations; interned ids) and `engine::portfolio::Trade` (the copy's accounting) | [`engine::PositionUpdate`] → `store::PositionRecord` in `engine::journal`; [`engine::view::PositionView`] for `/status`; audit records at the log |
//!
//! [`domain`] holds the words all of them share ([`domain::Side`], [`domain::WhaleVerdict`],
//! [`domain::ReasonCode`], …), so that no layer keeps its own copy of them.
//!
//! Decision logic (risk, sizing, copy rules) is pure and synchronous; the async I/O lives in thin
//! adapters around it so that replay and tests drive exactly the daemon's code.

#![deny(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod audit;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod health;
pub mod history;
#[cfg(feature = "live")]
pub mod live;
pub mod logging;
pub mod market;
pub mod plans;
pub mod polymarket;
pub mod report;
pub mod risk;
pub mod runtime;
pub mod session;
pub mod store;
pub mod telegram;
pub mod telemetry;
pub mod venues;
