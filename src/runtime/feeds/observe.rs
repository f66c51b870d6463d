//! What `/metrics` shows of the live feeds: per followed whale its feed lag (now minus the block
//! time of its last trade, when we handed that trade on), polls, failures and rows; for the price
//! feed the watched and stale tokens and those without a book; for the resolution watcher its
//! checks, failures by cause and the inputs it handed to the engine.

use rust_decimal::Decimal;
use tokio::sync::watch;

use super::names::NamesSnapshot;
use super::resolution::ResolutionSnapshot;
use crate::api::{MetricKind, PromText, WhaleFamily, WhaleRow};
use crate::polymarket::{PriceFeedSnapshot, WalletFeedStatus, WhaleFeedSnapshot};

/// The feeds' published state; cheap to clone.
#[derive(Clone)]
pub struct FeedsObserved {
    pub whales: watch::Receiver<WhaleFeedSnapshot>,
    pub prices: watch::Receiver<PriceFeedSnapshot>,
    pub resolution: watch::Receiver<ResolutionSnapshot>,
    pub names: watch::Receiver<NamesSnapshot>,
}

impl FeedsObserved {
    /// Appends the feeds' metric families to `text`.
    pub fn write_metrics(&self, text: &mut PromText) {
        write_whale_metrics(text, &self.whales.borrow());
        write_price_metrics(text, &self.prices.borrow());
        write_resolution_metrics(text, &self.resolution.borrow());
        write_names_metrics(text, &self.names.borrow());
    }
}

fn seconds(ms: Option<i64>) -> Option<Decimal> {
    ms.map(|ms| Decimal::new(ms, 3))
}

fn count(n: u64) -> Option<Decimal> {
    Some(Decimal::from(n))
}

fn write_whale_metrics(text: &mut PromText, snapshot: &WhaleFeedSnapshot) {
    let families: [WhaleFamily<WalletFeedStatus>; 10] = [
        (
            "whale_trader_whale_feed_lag_seconds",
            MetricKind::Gauge,
            "Feed lag of the whale's last trade: when it was handed on minus its block time.",
            |s| seconds(s.last_lag_ms),
        ),
        ("whale_trader_whale_feed_lag_max_seconds", MetricKind::Gauge, "Largest feed lag seen for the whale.", |s| {
            seconds(s.max_lag_ms)
        }),
        ("whale_trader_whale_feed_trades_total", MetricKind::Counter, "Whale trades handed to the engine.", |s| {
            count(s.trades_emitted)
        }),
        ("whale_trader_whale_feed_polls_total", MetricKind::Counter, "Polls of the whale's activity.", |s| {
            count(s.polls)
        }),
        (
            "whale_trader_whale_feed_consecutive_failures",
            MetricKind::Gauge,
            "Polls failed in a row (0 when the last one succeeded).",
            |s| count(u64::from(s.consecutive_failures)),
        ),
        (
            "whale_trader_whale_feed_malformed_rows_total",
            MetricKind::Counter,
            "Rows logged and skipped because they could not be read.",
            |s| count(s.malformed_rows),
        ),
        (
            "whale_trader_whale_feed_rows_cut_total",
            MetricKind::Counter,
            "Rows past the page size asked for: the venue answered a longer page; cut, not read.",
            |s| count(s.rows_cut),
        ),
        (
            "whale_trader_whale_feed_duplicates_total",
            MetricKind::Counter,
            "Rows read again (overlapping windows, restarts) and recognised.",
            |s| count(s.duplicates_skipped),
        ),
        (
            "whale_trader_whale_feed_held_back_total",
            MetricKind::Counter,
            "Trades not copied because they predate start-up.",
            |s| count(s.held_back_before_start),
        ),
        (
            "whale_trader_whale_feed_watermark_seconds",
            MetricKind::Gauge,
            "Unix time up to which the whale's trades have been read.",
            |s| seconds(Some(s.watermark.millis())),
        ),
    ];
    let rows: Vec<WhaleRow<'_, WalletFeedStatus>> = snapshot
        .wallets
        .iter()
        .map(|(wallet, status)| (wallet.as_str(), status.label.as_deref().unwrap_or(""), status))
        .collect();
    text.per_whale(&families, &rows);
}

fn write_price_metrics(text: &mut PromText, snapshot: &PriceFeedSnapshot) {
    text.single(
        "whale_trader_price_feed_watched_tokens",
        MetricKind::Gauge,
        "Tokens whose books the price feed polls (open positions and pending orders).",
        snapshot.tokens.len(),
    );
    text.single(
        "whale_trader_price_feed_stale_tokens",
        MetricKind::Gauge,
        "Watched tokens without a fresh book.",
        snapshot.stale_tokens,
    );
    text.single(
        "whale_trader_price_feed_consecutive_failures",
        MetricKind::Gauge,
        "Book polls failed in a row.",
        snapshot.consecutive_failures,
    );
    text.single(
        "whale_trader_price_feed_tokens_without_book",
        MetricKind::Gauge,
        "Watched tokens the venue has no book for any more (closed or resolved markets).",
        snapshot.tokens_without_book,
    );
    text.single(
        "whale_trader_price_feed_missing_books_total",
        MetricKind::Counter,
        "Watched tokens found without a book (absent from POST /books, confirmed by GET /book), each disappearance once.",
        snapshot.missing_books_total,
    );
}

fn write_resolution_metrics(text: &mut PromText, snapshot: &ResolutionSnapshot) {
    text.single(
        "whale_trader_resolution_watched_markets",
        MetricKind::Gauge,
        "Markets whose status the resolution watcher checks (open positions and pending orders).",
        snapshot.watched_markets,
    );
    text.single(
        "whale_trader_resolution_checks_total",
        MetricKind::Counter,
        "Market statuses read (GET /markets/{condition_id}).",
        snapshot.checks_total,
    );
    let failures = "whale_trader_resolution_check_failures_total";
    text.family(failures, MetricKind::Counter, "Market status checks that failed, by cause; checked again next time.");
    for (cause, count) in [
        ("http", snapshot.failed_http_total),
        ("not_found", snapshot.not_found_total),
        ("malformed", snapshot.malformed_total),
    ] {
        text.sample(failures, &[("cause", cause)], count);
    }
    let inputs = "whale_trader_resolution_inputs_total";
    text.family(inputs, MetricKind::Counter, "What the resolution watcher told the engine, by kind.");
    for (kind, count) in [
        ("resolution", snapshot.resolutions_sent_total),
        ("market_closed", snapshot.closed_sent_total),
        ("market_reopened", snapshot.reopened_sent_total),
    ] {
        text.sample(inputs, &[("kind", kind)], count);
    }
}

fn write_names_metrics(text: &mut PromText, snapshot: &NamesSnapshot) {
    text.single(
        "whale_trader_market_names",
        MetricKind::Gauge,
        "Markets named in the engine's catalogue (from whale trades, Gamma and the store's cache).",
        snapshot.markets_named,
    );
    text.single(
        "whale_trader_gamma_requests_total",
        MetricKind::Counter,
        "Gamma GET /markets requests answered.",
        snapshot.requests_total,
    );
    text.single(
        "whale_trader_gamma_failures_total",
        MetricKind::Counter,
        "Gamma requests that failed after their retries; the markets keep their short ids until the next try.",
        snapshot.failed_total,
    );
    text.single(
        "whale_trader_gamma_markets_named_total",
        MetricKind::Counter,
        "Markets Gamma named and the engine was given.",
        snapshot.markets_fetched_total,
    );
    text.single(
        "whale_trader_gamma_malformed_rows_total",
        MetricKind::Counter,
        "Gamma market rows that could not be read (skipped).",
        snapshot.malformed_rows_total,
    );
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::clock::Timestamp;

    #[test]
    fn lag_is_shown_per_whale_in_seconds_and_absent_before_the_first_trade() {
        let mut wallets = BTreeMap::new();
        let traded = WalletFeedStatus {
            label: Some("alpha".into()),
            watermark: Timestamp::from_secs(1_700_000_000),
            last_lag_ms: Some(10_800),
            max_lag_ms: Some(167_000),
            trades_emitted: 3,
            ..WalletFeedStatus::default()
        };
        wallets.insert("0xaa".to_string(), traded);
        wallets.insert("0xbb".to_string(), WalletFeedStatus::default());
        let (_tx, whales) = watch::channel(WhaleFeedSnapshot { wallets });
        let (_ptx, prices) = watch::channel(PriceFeedSnapshot {
            tokens_without_book: 1,
            missing_books_total: 2,
            ..PriceFeedSnapshot::default()
        });
        let (_rtx, resolution) = watch::channel(ResolutionSnapshot {
            watched_markets: 1,
            not_found_total: 3,
            resolutions_sent_total: 1,
            ..ResolutionSnapshot::default()
        });
        let mut text = PromText::new();
        let (_ntx, names) =
            watch::channel(NamesSnapshot { markets_named: 2, malformed_rows_total: 4, ..NamesSnapshot::default() });
        FeedsObserved { whales, prices, resolution, names }.write_metrics(&mut text);
        let body = text.finish();
        assert!(body.contains("whale_trader_whale_feed_lag_seconds{whale=\"0xaa\",label=\"alpha\"} 10.800"), "{body}");
        assert!(body.contains("whale_trader_whale_feed_lag_max_seconds{whale=\"0xaa\",label=\"alpha\"} 167.000"));
        assert!(!body.contains("whale_trader_whale_feed_lag_seconds{whale=\"0xbb\""), "no lag before a trade");
        assert!(body.contains("whale_trader_whale_feed_trades_total{whale=\"0xbb\",label=\"\"} 0"));
        assert!(
            body.contains("whale_trader_whale_feed_watermark_seconds{whale=\"0xaa\",label=\"alpha\"} 1700000000.000")
        );
        assert!(body.contains("whale_trader_price_feed_watched_tokens 0"));
        assert!(body.contains("whale_trader_price_feed_tokens_without_book 1"), "{body}");
        assert!(body.contains("whale_trader_price_feed_missing_books_total 2"), "{body}");
        assert!(body.contains("whale_trader_resolution_watched_markets 1"), "{body}");
        assert!(body.contains("whale_trader_market_names 2"), "{body}");
        assert!(body.contains("whale_trader_gamma_malformed_rows_total 4"), "{body}");
        assert!(body.contains("whale_trader_resolution_check_failures_total{cause=\"not_found\"} 3"), "{body}");
        assert!(body.contains("whale_trader_resolution_inputs_total{kind=\"resolution\"} 1"), "{body}");
    }
}
