//! The console as a person reads it: `10:01:00 INFO trade opened  trade_id=T000001 whale=alpha
//! price=0.51 whale_price=0.505`, not a module path and a 78-digit token id.
//!
//! The files keep every field exactly (JSON, full ids, every digit); only this rendering shortens,
//! in the message and every field:
//! wallet and market ids (`0x` and 40 or more hex digits) to their ends, token ids (20 or more
//! decimal digits) the same, and numbers with more than [`MAX_FRACTION_DIGITS`] decimals (a float
//! the Data API printed, `0.5049999999999999`) rounded. Fields that repeat the line (`event`, the
//! record's own `timestamp`, `mode`) are left out, and so are operation timings (they have
//! `performance.log`) and the audit records (`trade_audit.log` keeps them; the console tells the
//! same decisions in the engine's one-line narration and the console alerts, with names).

use std::fmt::{self, Write as _};
use std::str::FromStr;

use rust_decimal::Decimal;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::clock::{Clock, SystemClock};

/// Decimals a console number keeps; more is float noise to a reader.
pub const MAX_FRACTION_DIGITS: u32 = 6;

/// Fields the console leaves out: the message already says what they say.
const REDUNDANT: &[&str] = &["event", "timestamp", "mode"];

/// The human console's line format.
#[derive(Debug, Default, Clone, Copy)]
pub struct HumanFormat;

impl<S, N> FormatEvent<S, N> for HumanFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(&self, _ctx: &FmtContext<'_, S, N>, mut writer: Writer<'_>, event: &Event<'_>) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let time = SystemClock.now().to_datetime().format("%H:%M:%S");
        let level = *event.metadata().level();
        let (on, off) = if writer.has_ansi_escapes() { (level_colour(level), "\x1b[0m") } else { ("", "") };
        write!(writer, "{time} {on}{level:>5}{off} {}", readable(&fields.message))?;
        // Warnings and errors name where they come from: the reader may need to look it up.
        if level <= Level::WARN {
            write!(writer, " [{}]", event.metadata().target())?;
        }
        for (name, value) in &fields.rest {
            write!(writer, "  {name}={}", readable(value))?;
        }
        writeln!(writer)
    }
}

fn level_colour(level: Level) -> &'static str {
    match level {
        Level::ERROR => "\x1b[31m",
        Level::WARN => "\x1b[33m",
        Level::INFO => "\x1b[32m",
        _ => "\x1b[2m",
    }
}

#[derive(Default)]
struct Fields {
    message: String,
    rest: Vec<(&'static str, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.push(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.push(field, format!("{value:?}"));
    }
}

impl Fields {
    fn push(&mut self, field: &Field, value: String) {
        match field.name() {
            "message" => self.message = value,
            name if REDUNDANT.contains(&name) => {}
            name => self.rest.push((name, value)),
        }
    }
}

/// One field's value as the console shows it (see the module's rules).
pub fn readable(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    // Token by token, so that ids and numbers inside a sentence (a `detail`) are shortened too.
    let mut token = String::new();
    for c in value.chars() {
        if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            token.push(c);
        } else {
            out.push_str(&readable_token(&token));
            token.clear();
            out.push(c);
        }
    }
    out.push_str(&readable_token(&token));
    out
}

fn readable_token(token: &str) -> String {
    let hex = token.strip_prefix("0x").filter(|h| h.len() >= 40 && h.bytes().all(|b| b.is_ascii_hexdigit()));
    if hex.is_some() {
        return format!("{}…{}", &token[..8], &token[token.len() - 4..]);
    }
    if token.len() >= 20 && token.bytes().all(|b| b.is_ascii_digit()) {
        return format!("{}…{}", &token[..6], &token[token.len() - 4..]);
    }
    if let Some((_, fraction)) = token.split_once('.')
        && fraction.len() > MAX_FRACTION_DIGITS as usize
        && let Ok(number) = Decimal::from_str(token)
    {
        let mut rounded = String::new();
        let _ = write!(rounded, "{}", number.round_dp(MAX_FRACTION_DIGITS).normalize());
        return rounded;
    }
    token.to_owned()
}

#[cfg(test)]
mod tests {
    use super::readable;

    #[test]
    fn float_noise_is_rounded_and_exact_figures_kept() {
        assert_eq!(readable("0.5049999999999999"), "0.505");
        assert_eq!(readable("48.1083"), "48.1083");
        assert_eq!(readable("-212.40"), "-212.40");
        assert_eq!(readable("1.0000001"), "1");
    }

    #[test]
    fn long_ids_are_shortened_to_their_ends_even_inside_sentences() {
        assert_eq!(readable("0xc6ef18652fcf021e6ec53aa6627746e629f41aca"), "0xc6ef18…1aca");
        assert_eq!(
            readable("token 98211938843675217127486305264175077645433345938301250598993614900251466880816 refused"),
            "token 982119…0816 refused"
        );
        // Short hex (a transaction prefix, a colour) and ordinary numbers stay as they are.
        assert_eq!(readable("0xabc order#12 T000001"), "0xabc order#12 T000001");
    }
}
