//! Health checks of the live Polymarket side: the whale feed's and the price
//! feed's freshness, read from the snapshots the feeds publish, and the venue's reachability
//! (`GET {clob_url}/time`, the cheapest CLOB call). A failing feed is *unhealthy*, not critical:
//! the engine already holds trading in `reducing` itself when prices go stale.

use std::sync::Arc;
use std::time::Duration;

use super::feeds::FeedsObserved;
use crate::clock::{Clock, Timestamp};
use crate::health::{ComponentHealth, HealthError, HealthMonitor};
use crate::polymarket::{PriceFeedSnapshot, WhaleFeedSnapshot};

/// Polls that fail in a row before a feed counts as unhealthy.
const FAILURES_IN_A_ROW: u32 = 3;

/// Registers `whale_feed`, `price_feed` and `venue`.
pub fn register_feed_checks(
    monitor: &HealthMonitor,
    feeds: &FeedsObserved,
    clob_url: &str,
    whale_poll: Duration,
    clock: Arc<dyn Clock>,
) -> Result<(), HealthError> {
    let whales = feeds.whales.clone();
    let whale_clock = clock.clone();
    // A wallet with no successful poll for ten poll intervals (at least a minute) has gone quiet.
    let quiet_after_ms = i64::try_from((whale_poll * 10).max(Duration::from_secs(60)).as_millis()).unwrap_or(i64::MAX);
    monitor.registry().register("whale_feed", move || {
        std::future::ready(whale_feed_health(&whales.borrow(), whale_clock.now(), quiet_after_ms))
    })?;
    let prices = feeds.prices.clone();
    monitor.registry().register("price_feed", move || std::future::ready(price_feed_health(&prices.borrow())))?;
    let client = reqwest::Client::builder().connect_timeout(Duration::from_secs(5)).build().ok();
    let url = format!("{}/time", clob_url.trim_end_matches('/'));
    monitor.registry().register("venue", move || {
        let (client, url) = (client.clone(), url.clone());
        async move {
            let Some(client) = client else { return ComponentHealth::unhealthy("no HTTP client could be built") };
            match client.get(&url).send().await {
                Ok(answer) if answer.status().is_success() => ComponentHealth::healthy("CLOB reachable"),
                Ok(answer) => ComponentHealth::unhealthy(format!("CLOB answered HTTP {}", answer.status().as_u16())),
                Err(e) => ComponentHealth::unhealthy(format!("CLOB unreachable: {}", e.without_url())),
            }
        }
    })?;
    Ok(())
}

fn whale_feed_health(snapshot: &WhaleFeedSnapshot, now: Timestamp, quiet_after_ms: i64) -> ComponentHealth {
    let mut problems = Vec::new();
    for (wallet, status) in &snapshot.wallets {
        let name = status.label.clone().unwrap_or_else(|| wallet.clone());
        if status.consecutive_failures >= FAILURES_IN_A_ROW {
            let error = status.last_error.as_deref().unwrap_or("unknown error");
            problems.push(format!("{name}: {} polls failed in a row ({error})", status.consecutive_failures));
        } else if let Some(at) = status.last_success_at
            && now.millis_since(at) > quiet_after_ms
        {
            problems.push(format!("{name}: no successful poll for {} s", now.millis_since(at) / 1000));
        }
    }
    if problems.is_empty() {
        ComponentHealth::healthy(format!("{} wallet(s) polled", snapshot.wallets.len()))
    } else {
        ComponentHealth::unhealthy(problems.join("; "))
    }
}

fn price_feed_health(snapshot: &PriceFeedSnapshot) -> ComponentHealth {
    if snapshot.consecutive_failures >= FAILURES_IN_A_ROW {
        let error = snapshot.last_error.as_deref().unwrap_or("unknown error");
        return ComponentHealth::unhealthy(format!(
            "{} polls failed in a row ({error})",
            snapshot.consecutive_failures
        ));
    }
    if snapshot.stale_tokens > 0 {
        return ComponentHealth::degraded(format!(
            "{} of {} watched token(s) without a fresh book",
            snapshot.stale_tokens,
            snapshot.tokens.len()
        ));
    }
    ComponentHealth::healthy(format!("{} token(s) fresh", snapshot.tokens.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::health::HealthStatus;
    use crate::polymarket::WalletFeedStatus;

    #[test]
    fn a_wallet_failing_or_quiet_makes_the_whale_feed_unhealthy() {
        let now = Timestamp::from_secs(1_000);
        let mut snapshot = WhaleFeedSnapshot::default();
        let ok = WalletFeedStatus { last_success_at: Some(Timestamp::from_secs(990)), ..Default::default() };
        snapshot.wallets.insert("0xa".into(), ok.clone());
        assert_eq!(whale_feed_health(&snapshot, now, 60_000).status, HealthStatus::Healthy);
        let failing = WalletFeedStatus { consecutive_failures: 3, last_error: Some("HTTP 500".into()), ..ok.clone() };
        snapshot.wallets.insert("0xb".into(), failing);
        let health = whale_feed_health(&snapshot, now, 60_000);
        assert_eq!(health.status, HealthStatus::Unhealthy);
        assert!(health.message.contains("0xb: 3 polls failed in a row (HTTP 500)"), "{}", health.message);
        snapshot.wallets.remove("0xb");
        let quiet = WalletFeedStatus { last_success_at: Some(Timestamp::from_secs(900)), ..ok };
        snapshot.wallets.insert("0xc".into(), quiet);
        assert!(whale_feed_health(&snapshot, now, 60_000).message.contains("no successful poll for 100 s"));
    }

    #[test]
    fn stale_tokens_degrade_the_price_feed_and_failures_make_it_unhealthy() {
        let mut snapshot = PriceFeedSnapshot::default();
        assert_eq!(price_feed_health(&snapshot).status, HealthStatus::Healthy);
        snapshot.stale_tokens = 1;
        assert_eq!(price_feed_health(&snapshot).status, HealthStatus::Degraded);
        snapshot.consecutive_failures = 4;
        assert_eq!(price_feed_health(&snapshot).status, HealthStatus::Unhealthy);
    }
}
