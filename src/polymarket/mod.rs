//! Polymarket adapters (issue 4): the whale feed (Data API), the price feed (CLOB books), the
//! paper fill model, and the pieces of the live trading client (L2 signing, V2 order bodies).
//!
//! | module | job |
//! | --- | --- |
//! | `config` | `[polymarket]`: hosts, poll intervals, limits, retry policy, credentials |
//! | `exact_decimal` | JSON numbers and strings to `Decimal` without passing through `f64` |
//! | `trade` | [`WhaleTrade`] and its exact dedupe [`TradeKey`] |
//! | `data_api` | v1/v2 activity rows and pages, normalised; malformed rows skipped |
//! | `http` | rate limit, timeout, retries with backoff and jitter, `Retry-After` |
//! | `cursor` | a wallet's watermark and bounded dedupe memory (pure) |
//! | `whale_feed` | the per-wallet pollers that feed the engine |

mod config;
mod cursor;
mod data_api;
mod exact_decimal;
mod http;
mod trade;
mod whale_feed;

pub use config::{
    CredentialsConfig, DataApiVersion, HttpConfig, MarketWsConfig, PolymarketConfig, PriceFeedConfig, WhaleFeedConfig,
};
pub use cursor::{Admission, CursorState, WalletCursor};
pub use data_api::{
    ActivityPage, ActivityRow, DataApiError, Redemption, parse_v1_page, parse_v1_row, parse_v2_page, parse_v2_row,
};
pub use exact_decimal::decimal_from_json_text;
pub use http::{HttpClient, HttpError, RetryPolicy, endpoint};
pub use trade::{Side, TradeKey, WhaleTrade};
pub use whale_feed::{
    FeedStart, FollowedWallet, WalletFeedStatus, WhaleFeedError, WhaleFeedHandle, WhaleFeedSnapshot, spawn_whale_feed,
};
