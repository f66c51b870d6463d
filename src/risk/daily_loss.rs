//! The daily loss limit: when today's P&L (realised plus unrealised) falls below minus the stricter
//! of `max_daily_loss_usd` and `max_daily_loss_percent` of start-of-day equity, trading is `Halted`
//! until the next trading day.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::exact;

use super::config::DailyLossConfig;

const DAY_MS: i64 = 86_400_000;

/// The largest loss (a positive USD amount) allowed today.
pub fn daily_loss_limit(config: &DailyLossConfig, start_of_day_equity: Decimal) -> Decimal {
    let by_percent = (start_of_day_equity * config.max_daily_loss_percent / Decimal::ONE_HUNDRED).max(Decimal::ZERO);
    config.max_daily_loss_usd.min(by_percent)
}

/// True when today's P&L is beyond the limit (a loss exactly at the limit is still allowed).
pub fn is_breached(daily_pnl: Decimal, limit: Decimal) -> bool {
    exact::lt(daily_pnl, -limit)
}

/// The trading day `now` falls in, counted from the epoch; days start `day_start_utc_minutes`
/// after UTC midnight.
pub fn trading_day(now: Timestamp, day_start_utc_minutes: u32) -> i64 {
    now.millis().saturating_sub(i64::from(day_start_utc_minutes) * 60_000).div_euclid(DAY_MS)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn limit_is_the_stricter_and_boundary_is_exclusive() {
        let config = DailyLossConfig::default();
        assert_eq!(daily_loss_limit(&config, dec!(10000)), dec!(500)); // 5 % of 10k
        assert_eq!(daily_loss_limit(&config, dec!(40000)), dec!(1000));
        let table = [(dec!(-499.99), false), (dec!(-500), false), (dec!(-500.01), true), (dec!(10), false)];
        for (pnl, breached) in table {
            assert_eq!(is_breached(pnl, dec!(500)), breached, "pnl {pnl}");
        }
    }

    #[test]
    fn trading_days_start_at_the_configured_minute() {
        assert_eq!(trading_day(Timestamp(DAY_MS - 1), 0), 0);
        assert_eq!(trading_day(Timestamp(DAY_MS), 0), 1);
        // Days starting at 01:00 UTC: 00:30 on day 1 still belongs to day 0.
        assert_eq!(trading_day(Timestamp(DAY_MS + 30 * 60_000), 60), 0);
        assert_eq!(trading_day(Timestamp(DAY_MS + 60 * 60_000), 60), 1);
        assert_eq!(trading_day(Timestamp(-1), 0), -1);
    }
}
