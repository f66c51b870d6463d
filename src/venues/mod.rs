//! Crypto venues for trade plans: Binance (spot and USDⓈ-M futures) and Bybit (v5 unified: spot
//! and linear), each read into the same few shapes so that the plan executor and the engine never
//! see a venue's wire form.
//!
//! | file | job |
//! | --- | --- |
//! | `config.rs` | `[venues.binance]`, `[venues.bybit]`: URLs (production and testnet), timings, bounds, keys |
//! | `types.rs` | an order as sent, its state at the venue, a book ticker, a position, a balance |
//! | `rules.rs` | a symbol's trading rules (tick, step, minimums, leverage) and the rounding they ask for (pure) |
//! | `error.rs` | why a venue call failed, and the venue's refusals by cause |
//! | `json.rs` | reading the venues' answers: fields, decimals, the error naming the field |
//! | `http.rs` | the one HTTP path both venues share: bounded answers, server-time offset, 429/418 back-off |
//! | `binance/` | [`BinanceClient`]: Binance's signing rule (HMAC-SHA256 of the query), endpoints and wire forms |
//! | `bybit/` | Bybit v5's signing rule (HMAC-SHA256 of timestamp, key, window and payload), endpoints and wire forms |
//! | `executor/` | the plan executor over [`VenueApi`]: orders followed to their end, reconciled after a restart, the open plans' prices |
//! | `client.rs` | [`VenueApi`]: the calls the plan executor makes, whichever venue answers |

pub mod binance;
pub mod bybit;
pub mod client;
pub mod config;
pub mod error;
pub mod executor;
pub mod http;
pub mod json;
pub mod rules;
pub mod types;

pub use binance::BinanceClient;
pub use bybit::BybitClient;
pub use client::VenueApi;
pub use config::{VenueConfig, VenueMarket, VenueRefusal, VenuesConfig};
pub use error::{RefusalReason, VenueError};
pub use http::{Answer, VenueHttp};
pub use rules::{RuleBreach, SymbolRules};
pub use types::{Balance, BookTicker, OrderRequest, OrderState, OrderStatus, OrderType, VenuePosition, venue_symbol};

use std::fmt;

use serde::{Deserialize, Serialize};

/// Which crypto venue trade plans go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    Binance,
    Bybit,
}

impl VenueKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VenueKind::Binance => "binance",
            VenueKind::Bybit => "bybit",
        }
    }
}

impl fmt::Display for VenueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
