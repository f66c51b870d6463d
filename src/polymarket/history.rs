//! A wallet's past: its trades between two times, read with the live feed's route, paging and
//! overlap-and-dedupe rules (`whale_feed`, `cursor`), and a token's price history from the CLOB
//! (`GET /prices-history`). For `whale-trader fetch-history`.
//!
//! The trades are read in windows like the feed's polls: each window starts `overlap_secs` below
//! the newest trade read so far and is paged to its end; the wallet's [`WalletCursor`] admits each
//! trade once, however many pages or windows repeat it. The walk ends when a window brings nothing
//! new inside the dates (a v1 walk stopped by the offset cap continues from its newest row).

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::config::WhaleFeedConfig;
use super::cursor::{Admission, WalletCursor};
use super::data_api::{ActivityRow, SkippedRows};
use super::exact_decimal;
use super::http::{HttpClient, HttpError, endpoint};
use super::whale_feed::{PageRef, WhaleFeedError, fetch_activity_page, next_page};
use crate::clock::Timestamp;
use crate::market::WhaleTrade;

/// Why a wallet's trades or a token's prices could not be read.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum HistoryError {
    #[error("wallet {wallet}: {source}")]
    Feed { wallet: String, source: WhaleFeedError },
    #[error(
        "wallet {wallet}: more than {max_pages} activity pages between the dates; narrow --since/--until or raise \
         polymarket.fetch_history.max_pages_per_wallet"
    )]
    TooManyPages { wallet: String, max_pages: u32 },
    #[error("prices of token {token}: {source}")]
    Prices { token: String, source: HttpError },
    #[error("prices of token {token}: the answer is not {{\"history\":[{{\"t\":…,\"p\":…}}]}} ({detail})")]
    MalformedPrices { token: String, detail: String },
}

/// One wallet's trades between two times, each once, oldest first.
#[derive(Debug, Default)]
pub struct WalletHistory {
    pub trades: Vec<WhaleTrade>,
    /// Rows read again (the overlap of two windows, a page repeating a row), skipped.
    pub duplicates: u64,
    /// Rows that were not this wallet's trades or could not be read, by cause.
    pub skipped: SkippedRows,
    pub pages: u32,
}

/// Reads `wallet`'s trades from `since` to `until` (both included, whole seconds).
pub async fn wallet_trades(
    http: &HttpClient,
    base_url: &str,
    settings: &WhaleFeedConfig,
    max_pages: u32,
    wallet: &str,
    (since, until): (Timestamp, Timestamp),
) -> Result<WalletHistory, HistoryError> {
    let feed_error = |source| HistoryError::Feed { wallet: wallet.to_owned(), source };
    let mut cursor = WalletCursor::fresh(since, 0, settings.overlap_secs, None);
    // The first window starts at `since` itself, not an overlap below it.
    let mut first_window = true;
    let mut history = WalletHistory::default();
    let until_secs = until.millis().div_euclid(1000);
    loop {
        let window_start = if first_window { since.millis().div_euclid(1000) } else { cursor.window_start_secs() };
        first_window = false;
        let mut page_ref = PageRef::First;
        let mut newest: Option<Timestamp> = None;
        let mut new_rows = 0usize;
        loop {
            if history.pages >= max_pages {
                return Err(HistoryError::TooManyPages { wallet: wallet.to_owned(), max_pages });
            }
            let mut page =
                fetch_activity_page(http, base_url, settings, wallet, (window_start, Some(until_secs)), &page_ref)
                    .await
                    .map_err(feed_error)?;
            history.pages += 1;
            history.skipped.merge(std::mem::take(&mut page.skipped));
            for row in &page.rows {
                let ActivityRow::Trade(trade) = row else { continue };
                if trade.wallet != wallet {
                    history.skipped.add("another_wallet", format_args!("row of wallet {}", trade.wallet));
                    continue;
                }
                if trade.timestamp < since || trade.timestamp > until {
                    continue;
                }
                newest = newest.max(Some(trade.timestamp));
                match cursor.admit(trade) {
                    Admission::New | Admission::BeforeStart => {
                        cursor.record(trade);
                        history.trades.push(trade.clone());
                        new_rows += 1;
                    }
                    Admission::Duplicate | Admission::BelowHorizon => history.duplicates += 1,
                }
            }
            match next_page(settings, &page_ref, &page) {
                Some(next) => page_ref = next,
                None => break,
            }
        }
        match newest {
            Some(newest) if new_rows > 0 => cursor.advance(newest),
            _ => break,
        }
    }
    history.trades.sort_by_key(WhaleTrade::key);
    Ok(history)
}

/// The latest time a price point may carry (2100-01-01, in seconds): past it, `t` is not seconds
/// (milliseconds, say) or not a time at all.
const LATEST_POINT_SECS: i64 = 4_102_444_800;

/// One point of a token's price history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PricePoint {
    pub at: Timestamp,
    pub price: Decimal,
}

/// A token's price history, oldest first, each time once.
#[derive(Debug, Default)]
pub struct PriceHistory {
    pub points: Vec<PricePoint>,
    /// Points that could not be read (or were outside 0..=1), by cause.
    pub skipped: SkippedRows,
    /// Points past `max_points`, not read.
    pub cut: usize,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    history: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
struct WirePoint {
    t: i64,
    #[serde(deserialize_with = "exact_decimal::required")]
    p: Decimal,
}

/// Reads a `GET /prices-history` answer, keeping the first `max_points` points.
pub fn parse_prices_history(body: &[u8], max_points: usize) -> Result<PriceHistory, String> {
    let envelope: Envelope<'_> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut history = PriceHistory { cut: envelope.history.len().saturating_sub(max_points), ..Default::default() };
    for raw in envelope.history.into_iter().take(max_points) {
        match serde_json::from_str::<WirePoint>(raw.get()) {
            Ok(point) if !(0..=LATEST_POINT_SECS).contains(&point.t) => {
                history.skipped.add("time_out_of_range", format_args!("t = {}", point.t))
            }
            Ok(point) if point.p < Decimal::ZERO || point.p > Decimal::ONE => {
                history.skipped.add("price_out_of_range", format_args!("p = {}", point.p))
            }
            Ok(point) => history.points.push(PricePoint { at: Timestamp::from_secs(point.t), price: point.p }),
            Err(e) => history.skipped.add("unreadable", e),
        }
    }
    // Oldest first, one point per time (the later one in the answer wins).
    history.points.reverse();
    history.points.sort_by_key(|p| p.at);
    history.points.dedup_by_key(|p| p.at);
    Ok(history)
}

/// `GET /prices-history?market=TOKEN&startTs=…&endTs=…&fidelity=…`
pub async fn token_prices(
    http: &HttpClient,
    clob_url: &str,
    token: &str,
    (since, until): (Timestamp, Timestamp),
    fidelity_minutes: u32,
    max_points: usize,
) -> Result<PriceHistory, HistoryError> {
    let prices_error = |source| HistoryError::Prices { token: token.to_owned(), source };
    let mut url = endpoint(clob_url, "prices-history").map_err(prices_error)?;
    url.query_pairs_mut()
        .append_pair("market", token)
        .append_pair("startTs", &since.millis().div_euclid(1000).to_string())
        .append_pair("endTs", &until.millis().div_euclid(1000).to_string())
        .append_pair("fidelity", &fidelity_minutes.to_string());
    let body = http.get(&url).await.map_err(prices_error)?;
    parse_prices_history(&body, max_points)
        .map_err(|detail| HistoryError::MalformedPrices { token: token.to_owned(), detail })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn price_points_are_read_exactly_sorted_and_bounded() {
        let body =
            br#"{"history":[{"t":30,"p":0.5699999},{"t":10,"p":"0.41"},{"t":20,"p":1.5},{"t":"x"},{"t":40,"p":0.6}]}"#;
        let history = parse_prices_history(body, 4).unwrap_or_else(|e| panic!("{e}"));
        let got: Vec<(i64, String)> = history.points.iter().map(|p| (p.at.millis(), p.price.to_string())).collect();
        assert_eq!(got, vec![(10_000, "0.41".into()), (30_000, "0.5699999".into())]);
        assert_eq!(history.cut, 1);
        assert_eq!(history.skipped.total(), 2);
    }

    #[test]
    fn an_answer_without_a_history_array_is_an_error() {
        assert!(parse_prices_history(br#"{"error":"bad market"}"#, 10).is_err());
        assert!(parse_prices_history(b"<html>", 10).is_err());
    }

    #[test]
    fn a_repeated_time_keeps_the_later_point() {
        let body = br#"{"history":[{"t":10,"p":0.4},{"t":10,"p":0.45}]}"#;
        let history = parse_prices_history(body, 10).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(history.points.len(), 1);
        assert_eq!(history.points[0].price.to_string(), "0.45");
    }
}
