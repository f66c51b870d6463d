//! # whale-trader
//!
//! Copy-trades chosen Polymarket "whale" wallets under strict, provable risk control.
//!
//! The modules follow the architecture of `DESIGN.md`: sources feed one engine, which owns
//! the pure risk manager and emits order intents and events to sinks.
//!
//! ```text
//!  sources (async tasks)         core (one task, synchronous logic)        sinks (async tasks)
//!  polymarket / replay feeds ─┐                                          ┌─► executor
//!  control commands          ─┼─ mpsc ─► engine ─► risk (pure) ─► intents ┼─► store (SQLite)
//!  executor fills, timers    ─┘                                          └─► alerts ─► channels
//!  health monitor ── watch ──► control API, alerts
//! ```
//!
//! | module | part of the design |
//! | --- | --- |
//! | [`config`] | `config/default.toml`, `.env` and `WHALE_TRADER__…` overrides; validation of every section |
//! | [`clock`] | time as a parameter: the system clock for the daemon, a simulated one for replay and tests |
//! | [`engine`] | the engine: one task, one input queue; copy rules, position monitor, audit events |
//! | [`risk`] | the risk manager: pure, synchronous checks, trading states and reason codes |
//! | [`polymarket`] | adapters to the Polymarket Data API and CLOB: whale feed, price feed, order signing |
//! | `live` | the live executor: signed FAK orders on the CLOB, reconciliation, kill-switch cancels (feature `live`) |
//! | [`store`] | the embedded SQLite store: write-ahead orders, fills, risk state, recovery |
//! | [`alerts`] | the alert dispatcher and its channels |
//! | [`logging`] | rotating JSON log files, the trade audit trail and operation timings |
//! | [`api`] | the local control API: /health, /metrics, /status and the control POSTs |
//! | [`runtime`] | the daemon: tasks, channels, supervisor, signals, systemd notification |
//! | [`cli`] | the `whale-trader` command line |
//!
//! Decision logic (risk, sizing, copy rules) is pure and synchronous; the async I/O lives in thin
//! adapters around it so that replay and tests drive exactly the daemon's code.

#![deny(unsafe_code)]

pub mod alerts;
pub mod api;
pub mod cli;
pub mod clock;
pub mod config;
pub mod domain;
pub mod engine;
pub mod health;
#[cfg(feature = "live")]
pub mod live;
pub mod logging;
pub mod polymarket;
pub mod risk;
pub mod runtime;
pub mod store;
