//! The decision audit, read back: the trade audit trail the daemon wrote, one record per signal
//! (a whale trade copied or refused) with its reason code, sizing inputs, risk snapshot and
//! outcome, exported as JSON lines or CSV, and summarised (rejections by reason, hit rate, R
//! multiples, performance by market regime). `whale-trader audit export|summary`.
//!
//! | module | job |
//! | --- | --- |
//! | `trail` | the trail files, rotated ones included, read oldest first; bad lines counted per cause |
//! | `signals` | records → signals joined with their closes (pure), bounds, the summary |

pub mod signals;
pub mod trail;

use std::io::Write;

pub use signals::{Signal, Summary, render_summary, signals, summarise, within};
pub use trail::{Trail, read_trail};

use crate::clock::Timestamp;

/// Why the trail could not be read or the export written.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("cannot read {path}: {reason}")]
    Io { path: String, reason: String },
    #[error("no trade audit trail (trade_audit.log) in {dir}")]
    NoTrail { dir: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("until = {value}: must be a date (2026-12-01, UTC, the whole day included) or an RFC 3339 time")]
    BadUntil { value: String },
}

/// `--until`: a date includes its whole day (signals before the next midnight, UTC); a time is
/// the exclusive end itself.
pub fn parse_until(value: &str) -> Result<Timestamp, AuditError> {
    let bad = || AuditError::BadUntil { value: value.chars().take(64).collect() };
    let trimmed = value.trim();
    if let Ok(date) = chrono::NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        let next = date.succ_opt().ok_or_else(bad)?;
        return Ok(Timestamp(next.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis()));
    }
    crate::history::parse_since(trimmed).map_err(|_| bad())
}

/// Every signal as one JSON object per line.
pub fn write_json(signals: &[Signal], out: &mut dyn Write) -> std::io::Result<()> {
    for signal in signals {
        serde_json::to_writer(&mut *out, signal)?;
        out.write_all(b"\n")?;
    }
    Ok(())
}

/// Every signal as a CSV row under a flat header; decimals as text, absent values empty.
pub fn write_csv(signals: &[Signal], out: &mut dyn Write) -> Result<(), csv::Error> {
    if signals.is_empty() {
        // `serialize` writes the header with the first row; an empty export still has one.
        out.write_all(csv_header()?.as_bytes())?;
        return Ok(());
    }
    let mut writer = csv::Writer::from_writer(out);
    for signal in signals {
        writer.serialize(signal)?;
    }
    writer.flush()?;
    Ok(())
}

/// The CSV header line: the signal's field names in their order, as `serialize` writes them.
fn csv_header() -> Result<String, csv::Error> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.serialize(Signal::default())?;
    let bytes = writer.into_inner().map_err(|e| csv::Error::from(std::io::Error::other(e.to_string())))?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text.lines().next().map(|h| format!("{h}\n")).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn csv_quotes_commas_and_quotes_and_keeps_decimals_as_text() {
        let signal = Signal {
            decided_at: "2026-01-05T10:00:00.000Z".into(),
            market_title: "Will \"it\" rain, or not?".into(),
            size: Some(dec!(94.330)),
            ..Signal::default()
        };
        let mut out = Vec::new();
        write_csv(&[signal], &mut out).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(out).unwrap_or_else(|e| panic!("{e}"));
        let mut lines = text.lines();
        assert!(lines.next().is_some_and(|h| h.starts_with("decided_at,whale_trade_id,decision,")), "{text}");
        let row = lines.next().unwrap_or_default();
        assert!(row.contains(r#""Will ""it"" rain, or not?""#), "{row}");
        assert!(row.contains(",94.330,"), "{row}");
        let mut empty = Vec::new();
        write_csv(&[], &mut empty).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            String::from_utf8_lossy(&empty).lines().collect::<Vec<_>>(),
            text.lines().take(1).collect::<Vec<_>>()
        );
    }

    #[test]
    fn until_a_date_includes_that_day() {
        assert_eq!(parse_until("2026-01-05").map(|t| t.millis()).ok(), Some(1_767_657_600_000));
        assert_eq!(parse_until("2026-01-05T10:00:00Z").map(|t| t.millis()).ok(), Some(1_767_607_200_000));
        assert!(matches!(parse_until("yesterday"), Err(AuditError::BadUntil { .. })));
    }
}
