//! The shared vocabulary of whale-trader: the words the engine, the risk manager, the store and the
//! alerts all use, so that none of them depends on another just to name a side, a state or a reason.
//!
//! - [`Side`], [`WhaleVerdict`], [`TradingState`], [`ReasonCode`] and [`ExitReason`]: small `Copy` enums with stable
//!   snake_case names (`as_str()`, serde) that appear in the audit trail, metrics and reports.
//! - [`WhaleId`], [`MarketId`], [`TokenId`]: wallet, market (condition id) and outcome-token strings
//!   interned to `u32` at the edge by an [`Interner`], so that hot paths compare and hash integers,
//!   never strings. [`IdHashMap`] is a hash map tuned for these integer keys.
//! - [`ClientOrderId`] and [`SourceTradeId`]: 64-bit order and whale-trade identities for duplicate
//!   detection.
//! - [`exact`]: `Decimal` comparisons without the library's rescaling call, for the hot paths that
//!   compare values of different scales (a price `0.501` against `1`, a notional against a limit).

mod codes;
pub mod exact;
mod ids;

pub use codes::{ExitReason, ReasonCode, Side, TradingState, WhaleVerdict};
pub use ids::{ClientOrderId, IdHashMap, IdHashSet, IdHasher, Interner, MarketId, SourceTradeId, TokenId, WhaleId};
