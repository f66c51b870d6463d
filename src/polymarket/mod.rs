//! Polymarket adapters: the whale feed (Data API), the price feed (CLOB books), market parameters
//! and status, and the pieces of the live trading client (L2 signing, V2 order bodies).
//!
//! | module | job |
//! | --- | --- |
//! | `config` | `[polymarket]`: hosts, poll intervals, limits, retry policy, credentials |
//! | `exact_decimal` | JSON numbers and strings to `Decimal` without passing through `f64` |
//! | `data_api` | v1/v2 activity rows and pages, normalised; malformed rows skipped |
//! | `gamma` | market names (question, outcome names, end date) from Gamma `/markets`; malformed rows set aside |
//! | `http` | rate limit, timeout, retries with backoff and jitter, `Retry-After` |
//! | `cursor` | a wallet's watermark and bounded dedupe memory (pure) |
//! | `whale_feed` | the per-wallet pollers that feed the engine |
//! | `history` | a wallet's past trades (the feed's paging and dedupe) and a token's `/prices-history`, for `fetch-history` |
//! | `book` | CLOB books and `/clob-markets` parameters read from the wire into `market` types |
//! | `scan` | a borrowed, allocation-free reader for a payload's plain shape, in front of serde |
//! | `market_data` | public CLOB reads: `/book`, `/books`, `/clob-markets`, `/markets` |
//! | `market_status` | a market's status from `/markets/{condition_id}`: closed, accepting orders, winner |
//! | `staleness` | which watched tokens have a fresh price (pure) |
//! | `price_feed` | the book poller for the tokens the engine watches |
//! | `auth` | L2 HMAC request signing (`POLY_*` headers) |
//! | `order` | V2 order amounts (6-decimal fixed point) and the `POST /order` body |
//! | `signer` | EIP-712 V2 order signatures via the official SDK (cargo feature `live`) |
//! | `trading` | the L2-authenticated trading client: post, cancel, status, open orders, trades, balance |
//! | `wallet` | our own wallet (live): the collateral balance and the positions, parsed and bounded |

mod auth;
mod book;
mod config;
mod cursor;
mod data_api;
mod exact_decimal;
mod gamma;
mod history;
mod http;
mod market_data;
mod market_status;
mod order;
mod outage;
mod price_feed;
mod scan;
#[cfg(feature = "live")]
mod signer;
mod staleness;
mod trading;
mod wallet;
mod whale_feed;

pub use auth::{AuthError, L2Credentials, l2_headers, l2_signature};
pub use book::{ParsedBooks, parse_books};
pub(crate) use book::{scan_book, settle_wire_book};
pub use config::{
    CredentialsConfig, DataApiVersion, FetchHistoryConfig, HttpConfig, MarketWsConfig, NamesConfig, PolymarketConfig,
    PriceFeedConfig, RedeemConfig, ResolutionConfig, WalletConfig, WhaleFeedConfig,
};
pub use cursor::{Admission, CursorState, WalletCursor};
pub use data_api::{
    ActivityPage, ActivityRow, DataApiError, Redemption, parse_v1_page, parse_v1_row, parse_v2_page, parse_v2_row,
};
pub use exact_decimal::decimal_from_json_text;
pub use gamma::{
    GAMMA_BATCH, GammaClient, GammaError, GammaMarkets, GammaRowError, MAX_GAMMA_BODY_BYTES, parse_gamma_markets,
};
pub use history::{
    HistoryError, PriceHistory, PricePoint, WalletHistory, parse_prices_history, token_prices, wallet_trades,
};
pub use http::{HttpClient, HttpError, RetryPolicy, endpoint};
pub(crate) use http::{retry_after, root_cause};
pub use market_data::{ClobMarketData, MarketDataError};
pub use market_status::{MAX_MARKET_BODY_BYTES, MarketStatus, MarketStatusError, MarketToken};
pub use order::{
    OrderAmounts, OrderError, OrderType, OrderWire, PostOrderRequest, UnsignedOrder, ZERO_BYTES32, limit_order_amounts,
    salt_for_client_order_id,
};
pub use price_feed::{BookUpdate, PriceEvent, PriceFeedHandle, PriceFeedSnapshot, spawn_price_feed};
pub(crate) use scan::Scan;
#[cfg(feature = "live")]
pub use signer::{OrderSignature, OrderSigner, SignError};
pub use staleness::{StalenessTracker, TokenFreshness};
pub use trading::{
    CancelResponse, ClobTrade, ClobTradingClient, ListFilter, OpenOrder, PostOrderResponse, TradingError,
};
pub use wallet::{
    MAX_BALANCE_BODY_BYTES, MAX_POSITIONS_PAGE_BYTES, PositionsPage, PositionsReading, WalletError, parse_balance,
    parse_positions_page, read_positions,
};
pub use whale_feed::{
    FeedStart, FollowedWallet, WalletFeedStatus, WhaleFeedError, WhaleFeedHandle, WhaleFeedSnapshot, spawn_whale_feed,
    spawn_whale_feed_with_held_back,
};
