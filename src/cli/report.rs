//! `whale-trader report`: the HTML report, charts and `report.json` from the store of the
//! configured mode and feed source (read-only: works whether the daemon runs or not); and the
//! same report for `replay --report`, from the replay's audit records.

use std::path::Path;
use std::process::ExitCode;

use chrono::{NaiveDate, NaiveTime};

use crate::clock::Timestamp;
use crate::config::Config;
use crate::engine::audit::AuditRecord;
use crate::history::Names;
use crate::report::{Figures, Ledger, LedgerSettings, ReportError, Written, write_report};
use crate::store::{SqliteStore, Store, StoreError};

use super::exit;

/// Longest `--since` / `--until` accepted (an RFC 3339 time with an offset and nanoseconds is 35).
const MAX_TIME_CHARS: usize = 40;

#[derive(Debug, thiserror::Error)]
pub enum ReportTimeError {
    #[error("{flag} = {value:?}: must be a date (2026-12-01, UTC) or an RFC 3339 time (2026-12-01T08:00:00Z)")]
    Bad { flag: &'static str, value: String },
}

fn parse_time(flag: &'static str, value: &str, end_of_day: bool) -> Result<Timestamp, ReportTimeError> {
    let value = value.trim();
    let bad = || ReportTimeError::Bad { flag, value: value.chars().take(MAX_TIME_CHARS).collect() };
    if value.len() > MAX_TIME_CHARS {
        return Err(bad());
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        let date = if end_of_day { date.succ_opt().ok_or_else(bad)? } else { date };
        return Ok(Timestamp(date.and_time(NaiveTime::MIN).and_utc().timestamp_millis()));
    }
    chrono::DateTime::parse_from_rfc3339(value).map(|t| Timestamp(t.timestamp_millis())).map_err(|_| bad())
}

/// `--since`: trades opened at or after this date's start (UTC) or this time.
pub fn parse_since(value: &str) -> Result<Timestamp, ReportTimeError> {
    parse_time("--since", value, false)
}

/// `--until`: trades opened before the end of this date (UTC) or before this time.
pub fn parse_until(value: &str) -> Result<Timestamp, ReportTimeError> {
    parse_time("--until", value, true)
}

fn store_ledger(config: &Config, since: Timestamp, until: Timestamp) -> Result<Ledger, StoreError> {
    let path = config.store.path_for(config.daemon.mode, config.feed.source);
    let mut store = SqliteStore::open_read_only(&path, config.store.busy_timeout())?;
    let records = store.trades()?;
    let rows = store.report_rows(since, until)?;
    let mut names = Names::from_config(config);
    for market in store.status()?.market_names {
        names.market_titles.entry(market.condition_id.to_ascii_lowercase()).or_insert(market.question);
    }
    Ok(Ledger::from_store(
        format!("store {}", path.display()),
        &LedgerSettings::from_config(config),
        &records,
        &rows,
        &names,
        since,
        until,
    ))
}

/// `whale-trader report --out DIR [--since] [--until]`.
pub fn report(config: &Config, out: &Path, since: Option<Timestamp>, until: Option<Timestamp>) -> ExitCode {
    let (since, until) = (since.unwrap_or(Timestamp(i64::MIN)), until.unwrap_or(Timestamp(i64::MAX)));
    if since >= until {
        eprintln!("error: --since must be before --until");
        return ExitCode::from(exit::BAD_CONFIG);
    }
    let ledger = match store_ledger(config, since, until) {
        Ok(ledger) => ledger,
        Err(e) => {
            eprintln!("error: the store cannot be read: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    finish(write_report(&ledger, out))
}

/// `replay --report DIR`: the report of a replay's audit records.
pub fn replay_report(config: &Config, session: &Path, records: &[AuditRecord], out: &Path) -> ExitCode {
    let settings = LedgerSettings::from_config(config);
    match Ledger::from_audit(format!("replay {}", session.display()), &settings, records) {
        Ok(ledger) => finish(write_report(&ledger, out)),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

fn finish(result: Result<(Figures, Written), ReportError>) -> ExitCode {
    match result {
        Ok((figures, written)) => {
            eprintln!(
                "report: {} closed trades, {} open, realised P&L {}; wrote {}, {} and {} chart files",
                figures.closed_trades,
                figures.open_trades,
                crate::alerts::usd(figures.total_pnl),
                written.html.display(),
                written.json.display(),
                written.charts.len()
            );
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("error: writing the report: {e}");
            ExitCode::from(exit::FAILURE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_date_until_means_the_end_of_that_day_and_bad_input_names_the_flag() {
        assert_eq!(parse_since("2026-12-01").unwrap(), Timestamp(1_796_083_200_000));
        assert_eq!(parse_until("2026-12-01").unwrap(), Timestamp(1_796_083_200_000 + 86_400_000));
        assert_eq!(parse_until("2026-12-01T08:00:00Z").unwrap(), Timestamp(1_796_083_200_000 + 8 * 3_600_000));
        let e = parse_until("yesterday").unwrap_err().to_string();
        assert!(e.starts_with("--until = \"yesterday\""), "{e}");
    }
}
