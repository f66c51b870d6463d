//! The market as the engine sees it, whichever venue adapter read it: order books and the rules a
//! usable one keeps, a market's trading parameters and fee curve, the paper fill model, a followed
//! wallet's trade with its dedupe key, and the positions the venue says we hold.
//!
//! Pure data and pure functions. The adapters (`polymarket`) parse their wire forms into these
//! types at their edge; the engine and the risk manager never see a wire type.
//!
//! | module | job |
//! | --- | --- |
//! | `book` | [`OrderBook`] best first, and [`OrderBook::check_sane`]: the rules a book must keep, each refusal with its [`BookCause`] |
//! | `book_hash` | [`BookHash`]: the venue's hash of a snapshot, carried to recordings, hex held as bytes |
//! | `book_refusals` | refused books counted per cause, logged at most once per cause a minute |
//! | `market_info` | [`ClobMarketInfo`]: a market's tokens, tick size, smallest order, fee curve |
//! | `fees` | the taker [`FeeCurve`] |
//! | `paper_fill` | the paper fill model: walk the book, fees, slippage, partial fills |
//! | `whale_trade` | [`WhaleTrade`] and its exact dedupe [`TradeKey`] |
//! | `names` | [`NameCatalogue`]: market questions, outcome names and whale labels, with short-id fallbacks |
//! | `regime` | [`RegimeTracker`]: a token's recent mids in constant memory, and the rule naming its [`Regime`] (trend, range, volatile) |
//! | `venue_position` | [`VenuePosition`]: one position of our wallet as the venue states it |

mod book;
mod book_hash;
mod book_refusals;
mod fees;
mod market_info;
mod names;
mod paper_fill;
mod regime;
mod venue_position;
mod whale_trade;

#[cfg(test)]
pub(crate) use book::arbitrary::book as arbitrary_book;
pub use book::{BookCause, BookError, OrderBook, PriceLevel};
pub use book_hash::{BookHash, HashForm};
pub use book_refusals::{BookRefusalCounts, BookRefusals, SharedBookRefusals};
pub use fees::{FeeCurve, FeeError};
pub use market_info::ClobMarketInfo;
pub use names::{
    MAX_NAME_CHARS, MAX_OUTCOMES, MarketName, NameCatalogue, NameSource, OutcomeName, beside, clean_name, named,
    short_id,
};
pub use paper_fill::{FillError, FillRequest, LevelFill, PaperFill, simulate_fill};
pub use regime::{Regime, RegimeTracker, classify_path};
pub use venue_position::VenuePosition;
pub use whale_trade::{TradeKey, TradeKeyError, WhaleTrade};
