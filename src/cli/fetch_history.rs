//! `whale-trader fetch-history WALLET… [--since] [--until] --out FILE`: a replayable session from
//! wallets' public trades and the traded markets' price history (see [`crate::session::fetch`]).
//! Progress goes to stderr: a redrawn bar on a terminal, one plain line per unit otherwise.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use crate::clock::{Clock, SystemClock, Timestamp};
use crate::config::Config;
use crate::session::HeaderWallet;
use crate::session::fetch::{FetchEvent, FetchRequest, fetch_history};

use super::exit;

/// The most wallets one session is built from.
pub const MAX_WALLETS: usize = 100;

/// The window read when `--since` is not given: this many days before `--until`.
pub const DEFAULT_DAYS: i64 = 30;

/// A command-line argument that cannot be used: which one, its value, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{argument} {value:?}: {rule}")]
pub struct ArgumentError {
    pub argument: String,
    pub value: String,
    pub rule: String,
}

fn bad(argument: impl Into<String>, value: &str, rule: impl Into<String>) -> ArgumentError {
    ArgumentError { argument: argument.into(), value: value.chars().take(100).collect(), rule: rule.into() }
}

/// Reads `--since` / `--until`: a date (UTC midnight; for `--until` the end of that day) or an
/// RFC 3339 time.
pub fn parse_date(argument: &str, value: &str, end_of_day: bool) -> Result<Timestamp, ArgumentError> {
    let rule = "must be a date (2026-12-01, UTC) or an RFC 3339 time (2026-12-01T08:00:00Z)";
    let trimmed = value.trim();
    if trimmed.len() > 64 {
        return Err(bad(argument, value, rule));
    }
    if let Ok(date) = chrono::NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        let start = date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp_millis();
        return Ok(Timestamp::from_millis(if end_of_day { start + 86_400_000 - 1 } else { start }));
    }
    chrono::DateTime::parse_from_rfc3339(trimmed)
        .map(|t| Timestamp::from_millis(t.timestamp_millis()))
        .map_err(|_| bad(argument, value, rule))
}

/// Checks the arguments against each other and the clock; names the wallets from the config.
pub fn request(
    config: &Config,
    wallets: &[String],
    since: Option<&str>,
    until: Option<&str>,
    out: &Path,
    now: Timestamp,
) -> Result<FetchRequest, ArgumentError> {
    if wallets.is_empty() {
        return Err(bad("WALLET", "", "give at least one wallet"));
    }
    if wallets.len() > MAX_WALLETS {
        return Err(bad("WALLET", &wallets.len().to_string(), format!("at most {MAX_WALLETS} wallets per session")));
    }
    let mut named: Vec<HeaderWallet> = Vec::with_capacity(wallets.len());
    for (index, wallet) in wallets.iter().enumerate() {
        let address = wallet.trim().to_ascii_lowercase();
        if !crate::config::is_wallet_address(&address) {
            return Err(bad(
                format!("WALLET {}", index + 1),
                wallet,
                "must be a proxy wallet: 0x followed by 40 hex digits",
            ));
        }
        if named.iter().any(|w| w.address == address) {
            return Err(bad(format!("WALLET {}", index + 1), wallet, "is given twice"));
        }
        let label =
            config.copy.whales.iter().find(|w| w.address.eq_ignore_ascii_case(&address)).and_then(|w| w.label.clone());
        named.push(HeaderWallet { address, label });
    }
    let until_ts = match until {
        Some(text) => parse_date("--until", text, true)?,
        None => now,
    };
    // Nothing after now has happened yet: a window reaching into the future ends now.
    let until_ts = until_ts.min(now);
    let since_ts = match since {
        Some(text) => parse_date("--since", text, false)?,
        None => until_ts.plus_millis(-DEFAULT_DAYS * 86_400_000),
    };
    if since_ts >= until_ts {
        return Err(bad(
            "--since",
            since.unwrap_or_default(),
            format!("must be before --until ({}, capped at now)", until_ts.to_rfc3339()),
        ));
    }
    if since_ts.millis() < 0 {
        return Err(bad("--since", since.unwrap_or_default(), "must be after 1970-01-01"));
    }
    if out.as_os_str().is_empty() || out.is_dir() {
        return Err(bad("--out", &out.display().to_string(), "must be a file path"));
    }
    Ok(FetchRequest { wallets: named, since: since_ts, until: until_ts, out: out.to_path_buf(), now })
}

pub fn fetch(config: &Config, wallets: &[String], since: Option<&str>, until: Option<&str>, out: &Path) -> ExitCode {
    let request = match request(config, wallets, since, until, out, SystemClock.now()) {
        Ok(request) => request,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(exit::BAD_CONFIG);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    let mut display = Display::new(std::io::stderr().is_terminal());
    eprintln!(
        "fetch-history: {} wallet(s), {} to {}, into {}",
        request.wallets.len(),
        request.since.to_rfc3339(),
        request.until.to_rfc3339(),
        request.out.display()
    );
    let result = runtime.block_on(fetch_history(&config.polymarket, &request, &mut |event| display.show(&event)));
    display.end();
    match result {
        Ok(summary) => {
            println!(
                "wrote {} ({} lines: {} whale trades, {} markets, {} books approximated from prices, {} resolutions{})",
                request.out.display(),
                summary.lines,
                summary.trades,
                summary.markets,
                summary.books,
                summary.resolutions,
                if summary.resumed_units > 0 {
                    format!("; {} unit(s) done by an earlier run", summary.resumed_units)
                } else {
                    String::new()
                }
            );
            println!("replay it: whale-trader replay --session {}", request.out.display());
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!(
                "what was fetched is kept in {}.partial; run the same command again to continue",
                request.out.display()
            );
            ExitCode::from(exit::FAILURE)
        }
    }
}

/// Progress on stderr: a bar redrawn in place on a terminal, plain lines otherwise.
struct Display {
    terminal: bool,
    drawn: bool,
}

const BAR_WIDTH: usize = 24;

impl Display {
    fn new(terminal: bool) -> Self {
        Self { terminal, drawn: false }
    }

    fn show(&mut self, event: &FetchEvent) {
        let text = self.render(event);
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(text.as_bytes());
        let _ = err.flush();
    }

    /// What `event` adds to stderr: on a terminal the unit line is redrawn in place (no newline)
    /// and a warning first ends the bar's line; otherwise one line each.
    fn render(&mut self, event: &FetchEvent) -> String {
        match event {
            FetchEvent::Warning(text) => {
                let end_bar = if std::mem::take(&mut self.drawn) { "\n" } else { "" };
                format!("{end_bar}warning: {text}\n")
            }
            FetchEvent::Unit { stage, index, total, what, detail, resumed } => {
                let done = index + 1;
                let note = if *resumed { "done by an earlier run" } else { detail.as_str() };
                if self.terminal {
                    let filled = BAR_WIDTH * done / (*total).max(1);
                    let bar = format!("{}{}", "#".repeat(filled), "-".repeat(BAR_WIDTH - filled.min(BAR_WIDTH)));
                    let line: String =
                        format!("{stage:<7} [{bar}] {done}/{total} {what}: {note}").chars().take(160).collect();
                    self.drawn = true;
                    format!("\r\x1b[2K{line}")
                } else {
                    format!("fetch-history: {stage} {done}/{total} {what}: {note}\n")
                }
            }
        }
    }

    fn end(&mut self) {
        if self.drawn {
            eprintln!();
            self.drawn = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WALLET: &str = "0xc6ef18652fcf021e6ec53aa6627746e629f41aca";
    const NOW: Timestamp = Timestamp::from_millis(1_767_607_200_000); // 2026-01-05T10:00:00Z

    fn try_request(wallets: &[&str], since: Option<&str>, until: Option<&str>) -> Result<FetchRequest, ArgumentError> {
        let wallets: Vec<String> = wallets.iter().map(|w| (*w).to_owned()).collect();
        request(&Config::default(), &wallets, since, until, Path::new("out.jsonl"), NOW)
    }

    #[test]
    fn dates_are_whole_days_or_exact_times_and_the_window_ends_now_at_the_latest() {
        let r = try_request(&[WALLET], Some("2026-01-01"), Some("2026-01-02")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.since.to_rfc3339(), "2026-01-01T00:00:00.000Z");
        assert_eq!(r.until.to_rfc3339(), "2026-01-02T23:59:59.999Z");
        let r =
            try_request(&[WALLET], Some("2026-01-01T08:00:00Z"), Some("2027-01-01")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((r.since.to_rfc3339().as_str(), r.until), ("2026-01-01T08:00:00.000Z", NOW));
        let r = try_request(&[WALLET], None, None).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.since, NOW.plus_millis(-DEFAULT_DAYS * 86_400_000));
    }

    #[test]
    fn bad_arguments_say_which_argument_which_value_and_why() {
        type Case<'a> = (&'a [&'a str], Option<&'a str>, Option<&'a str>, &'a str);
        let cases: [Case<'_>; 5] = [
            (&["0x123"], None, None, r#"WALLET 1 "0x123": must be a proxy wallet"#),
            (&[WALLET, "0xC6EF18652FCF021E6EC53AA6627746E629F41ACA"], None, None, "WALLET 2"),
            (&[WALLET], Some("yesterday"), None, r#"--since "yesterday": must be a date"#),
            (&[WALLET], Some("2026-01-03"), Some("2026-01-02"), r#"--since "2026-01-03": must be before --until"#),
            (&[], None, None, "give at least one wallet"),
        ];
        for (wallets, since, until, expected) in cases {
            match try_request(wallets, since, until) {
                Err(e) => assert!(e.to_string().contains(expected), "{e} lacks {expected}"),
                Ok(r) => panic!("{wallets:?} {since:?} {until:?} accepted: {r:?}"),
            }
        }
    }

    #[test]
    fn a_configured_whale_is_named_by_its_label() {
        let mut config = Config::default();
        config.copy.whales = vec![crate::config::WhaleConfig {
            address: WALLET.to_owned(),
            label: Some("alpha".into()),
            ..Default::default()
        }];
        let upper = WALLET.to_ascii_uppercase().replacen("0X", "0x", 1);
        let other = "0x554e43cf5e1986336385c3e29d08576c837f6c78";
        let r = request(&config, &[upper, other.to_owned()], None, None, Path::new("o.jsonl"), NOW)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.wallets[0], HeaderWallet { address: WALLET.to_owned(), label: Some("alpha".into()) });
        assert_eq!(r.wallets[1], HeaderWallet { address: other.to_owned(), label: None });
    }

    #[test]
    fn progress_is_a_bar_redrawn_in_place_on_a_terminal_and_plain_lines_elsewhere() {
        let unit = |index| FetchEvent::Unit {
            stage: "prices",
            index,
            total: 4,
            what: "token 7".into(),
            detail: "3 price point(s)".into(),
            resumed: false,
        };
        let mut bar = Display::new(true);
        assert_eq!(
            bar.render(&unit(1)),
            format!("\r\x1b[2Kprices  [{}{}] 2/4 token 7: 3 price point(s)", "#".repeat(12), "-".repeat(12))
        );
        assert_eq!(bar.render(&FetchEvent::Warning("cut".into())), "\nwarning: cut\n");
        assert_eq!(bar.render(&FetchEvent::Warning("again".into())), "warning: again\n");
        let mut plain = Display::new(false);
        assert_eq!(plain.render(&unit(3)), "fetch-history: prices 4/4 token 7: 3 price point(s)\n");
    }
}
