//! The `whale-trader` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::{self, LoadOptions};
use crate::runtime;

mod audit;
mod control;
pub(crate) mod fetch_history;
mod locate;
mod replay;
mod report;
mod signals;
mod silence;

/// Exit codes shared by every command (see the README).
pub mod exit {
    /// Clean stop.
    pub const OK: u8 = 0;
    /// Runtime failure: a task died, the store is unreadable, the grace period ran out.
    pub const FAILURE: u8 = 1;
    /// Bad configuration or usage.
    pub const BAD_CONFIG: u8 = 2;
}

/// Copy-trades chosen Polymarket whale wallets under strict, provable risk control.
#[derive(Debug, Parser)]
#[command(name = "whale-trader", version, about, long_about = None)]
pub struct Cli {
    /// The TOML configuration file [default: $WHALE_TRADER_CONFIG, else /etc/whale-trader/config.toml
    /// when it exists, else config/default.toml].
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,

    /// The env file holding secrets; a missing file is fine [default: $WHALE_TRADER_ENV_FILE, else
    /// .env when it exists, else /etc/whale-trader/whale-trader.env when it exists].
    #[arg(long, global = true)]
    pub env_file: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon until SIGTERM / SIGINT.
    Run {
        /// Required, together with `daemon.mode = "live"` and WHALE_TRADER_LIVE_CONFIRM=yes, to trade real money.
        #[arg(long)]
        live: bool,
    },
    /// Validate the configuration and print the effective settings (secrets masked).
    CheckConfig,
    /// Show trading state, P&L and open positions (from the running daemon, else from the store).
    Status {
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Stop sending orders until `resume` (exits still need a resume or a kill).
    Halt {
        /// Why, for the audit trail and the alert.
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Return to trading after a halt, kill or breaker latch, if no other rule holds it.
    Resume {
        #[arg(long)]
        json: bool,
    },
    /// Emergency: close every position, then stay halted until `resume`.
    Kill {
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Close one open trade at the market (a manual exit); an unknown trade id is refused.
    Close {
        /// The trade id, as `status` lists it (`T000042`).
        trade_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Live mode, after a position mismatch: take the venue's position in TOKEN_ID into the books
    /// as a position of our own (no whale; stops anchored at its average price).
    Adopt {
        /// The token id (decimal) the venue holds and the daemon does not.
        token_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Live mode, after a position mismatch: forget TRADE_ID, which the venue no longer holds
    /// (closed with reason `reconciled`, P&L booked at its last mark).
    Drop {
        /// The trade id, as `status` lists it (`T000042`).
        trade_id: String,
        #[arg(long)]
        json: bool,
    },
    /// Trades, open and closed, newest first (from the running daemon, else from the store).
    Trades {
        /// Only this whale's trades: a wallet or its label.
        #[arg(long)]
        whale: Option<String>,
        /// Only this market's trades: its condition id or a token id.
        #[arg(long)]
        market: Option<String>,
        /// Only trades opened since: a date (2026-12-01, UTC) or an RFC 3339 time.
        #[arg(long, value_parser = crate::history::parse_since)]
        since: Option<crate::clock::Timestamp>,
        /// How many trades to list, 1 to 1000.
        #[arg(long, default_value_t = crate::history::DEFAULT_TRADE_LIMIT, value_parser = crate::history::parse_limit)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Realised and unrealised P&L, win rate, best and worst trade, profit factor, fees, per whale.
    Profit {
        #[arg(long)]
        json: bool,
    },
    /// Realised P&L per trading day (days start at risk.day_start_utc_minutes), newest first.
    Daily {
        /// How many days, 1 to 366.
        #[arg(default_value_t = crate::history::DEFAULT_DAYS, value_parser = crate::history::parse_days)]
        days: u32,
        #[arg(long)]
        json: bool,
    },
    /// Each copied whale's results and standing (copied, muted, locked, negative_edge) as a table,
    /// from the running daemon; with no daemon running, each whale's results from the store.
    Whales {
        #[arg(long)]
        json: bool,
    },
    /// Lift a muted whale's mute before its cooldown ends: its next trades are copied again.
    Unmute {
        /// The whale's wallet, as `whales` lists it.
        wallet: String,
        #[arg(long)]
        json: bool,
    },
    /// Hold back matching alerts for a while: `silence add --match whale=Alice --for 2h`.
    /// CRITICAL alerts, trading-state changes, losing closes and throttle digests are never silenced.
    Silence {
        #[command(subcommand)]
        action: SilenceAction,
    },
    /// Replay a recorded session through the engine as fast as possible (paper fills, the configured
    /// rules and limits; nothing stored, no alerts) and print what it did.
    Replay {
        /// The session file (default: `feed.replay_path`).
        #[arg(long)]
        session: Option<PathBuf>,
        /// The session file, given without `--session` (e.g. a day the daemon recorded).
        #[arg(value_name = "SESSION", conflicts_with = "session")]
        session_file: Option<PathBuf>,
        /// Also print every audit record, one JSON line each.
        #[arg(long)]
        audit: bool,
        /// Replay the session under this config too (loaded and validated like the main one) and
        /// print what differs: whale trades one took and the other refused, positions, P&L,
        /// drawdown and rejection deltas.
        #[arg(long, value_name = "OTHER.toml", conflicts_with_all = ["audit", "report"])]
        compare: Option<PathBuf>,
        #[arg(long)]
        json: bool,
        /// Also write the replay's report (HTML, charts, report.json) into this directory.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
    },
    /// Write a JSON session again in the compact format (the same lines, books in about a hundred bytes),
    /// read by `replay` and the daemon's replay feed an order of magnitude faster. By default the
    /// output is the session's twin, FILE.wtb, which replays of FILE then read while FILE is unchanged.
    Convert {
        /// The JSON session to convert.
        #[arg(value_name = "SESSION")]
        session: PathBuf,
        /// Where to write the compact session [default: SESSION.wtb].
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Write an HTML report with PNG and SVG charts and report.json into DIR, from the store of the
    /// configured mode and feed source (works with the daemon stopped).
    Report {
        /// The directory to write into (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Only trades opened since: a date (2026-12-01, UTC) or an RFC 3339 time.
        #[arg(long, value_parser = report::parse_since)]
        since: Option<crate::clock::Timestamp>,
        /// Only trades opened before the end of this date (UTC) or before this RFC 3339 time.
        #[arg(long, value_parser = report::parse_until)]
        until: Option<crate::clock::Timestamp>,
    },
    /// Build a replayable session from wallets' public trades (Data API) and the traded markets' price
    /// history (CLOB, books approximated from prices, as the file's header says); resumable: run the
    /// same command again after an interruption. Then: `replay --session FILE`.
    FetchHistory {
        /// Proxy wallets (0x + 40 hex digits), merged into one session.
        #[arg(required = true, value_name = "WALLET")]
        wallets: Vec<String>,
        /// From: a date (2026-12-01, UTC midnight) or an RFC 3339 time [default: 30 days before --until].
        #[arg(long)]
        since: Option<String>,
        /// To: a date (to the end of that day, UTC) or an RFC 3339 time [default: now].
        #[arg(long)]
        until: Option<String>,
        /// The session file to write (work in progress goes to FILE.partial and FILE.progress).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// The decision audit, read back from the trade audit trail (`logging.dir`, rotated files
    /// included): one record per signal, or their summary.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Trade plans, through the running daemon: submit one, report an open plan's outcome, send
    /// the batch summary now, or show the signal analytics.
    Signals {
        #[command(subcommand)]
        action: SignalsAction,
    },
    /// Print the version.
    Version,
}

/// `whale-trader audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// One record per signal (a whale trade copied or refused): reason code, sizing inputs, risk
    /// snapshot, market regime and outcome (exit reason, P&L, hold time, R multiple).
    Export {
        /// Only signals decided since: a date (2026-12-01, UTC) or an RFC 3339 time.
        #[arg(long, value_parser = crate::history::parse_since)]
        since: Option<crate::clock::Timestamp>,
        /// Only signals decided before: an RFC 3339 time, or a date (its whole day included).
        #[arg(long)]
        until: Option<String>,
        #[arg(long, value_enum)]
        format: audit::ExportFormat,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Signals and rejections by reason, hit rate, R multiples, and performance by market regime.
    Summary {
        #[arg(long, value_parser = crate::history::parse_since)]
        since: Option<crate::clock::Timestamp>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

/// `whale-trader signals …`: through the running daemon's API.
#[derive(Debug, Subcommand)]
pub enum SignalsAction {
    /// Hand the daemon a trade plan (a JSON file, or `-` for standard input) and print its decision.
    Submit {
        file: String,
        #[arg(long)]
        json: bool,
    },
    /// An open plan ended at a price: its exposure is released and its outcome (P&L, R) recorded.
    Close {
        plan_id: String,
        #[arg(long)]
        exit_price: rust_decimal::Decimal,
        #[arg(long)]
        json: bool,
    },
    /// Send the batch summary of the plans since the last one to the alert channels now.
    Summary {
        #[arg(long)]
        json: bool,
    },
    /// The signal analytics: plans by outcome, tier and regime, average R:R, hit rate.
    Stats {
        #[arg(long)]
        json: bool,
    },
}

/// `whale-trader silence …`: through the running daemon's API (`list` also works from the store).
#[derive(Debug, Subcommand)]
pub enum SilenceAction {
    /// Silence alerts matching every `--match` for a while. Keys: whale, market (name or id), kind,
    /// title, priority (info, warning, error). CRITICAL alerts, trading-state changes, losing
    /// closes and throttle digests always go out.
    Add {
        /// KEY=VALUE, e.g. `whale=Alice`, `kind=trade_opened`; give several to narrow it down.
        #[arg(long = "match", value_name = "KEY=VALUE", required = true)]
        matchers: Vec<String>,
        /// How long: `30m`, `2h`, `1d` (at most 30d).
        #[arg(long = "for", value_name = "DURATION")]
        duration: String,
        /// Why, for the audit trail and `silence list`.
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The silences in force, with how many alerts each held back.
    List {
        #[arg(long)]
        json: bool,
    },
    /// End a silence now (its id as `silence list` shows it, e.g. `S0001`).
    Expire {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

impl Cli {
    /// The configuration file this command reads, found by [`locate::config`].
    fn located_config(&self) -> locate::Located {
        let env = std::env::var("WHALE_TRADER_CONFIG").ok();
        locate::config(self.config.as_deref(), env.as_deref(), Path::is_file)
    }

    fn load_options(&self) -> LoadOptions {
        let env = std::env::var("WHALE_TRADER_ENV_FILE").ok();
        let env_file = locate::env_file(self.env_file.as_deref(), env.as_deref(), Path::is_file);
        LoadOptions { config_path: self.located_config().path, env_file: Some(env_file) }
    }
}

/// Parses the command line and runs the command; the return value is the process's exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help / version itself; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { exit::BAD_CONFIG } else { exit::OK });
        }
    };
    match &cli.command {
        Command::Version => {
            println!("{}", version_line());
            ExitCode::from(exit::OK)
        }
        Command::CheckConfig => check_config(&cli.load_options()),
        Command::Run { live } => match config::load(&cli.load_options()) {
            Ok(config) => runtime::run(config, cli.load_options(), *live),
            Err(e) => config_failure(&e),
        },
        Command::Status { json } => with_config(&cli, |config| control::status(config, *json)),
        Command::Halt { reason, json } => {
            with_config(&cli, |config| control::post(config, "/halt", reason.as_deref(), *json))
        }
        Command::Resume { json } => with_config(&cli, |config| control::post(config, "/resume", None, *json)),
        Command::Kill { reason, json } => {
            with_config(&cli, |config| control::post(config, "/kill", reason.as_deref(), *json))
        }
        Command::Close { trade_id, json } => {
            with_config(&cli, |config| control::post(config, &format!("/close/{trade_id}"), None, *json))
        }
        Command::Adopt { token_id, json } => {
            with_config(&cli, |config| control::post(config, &format!("/adopt/{token_id}"), None, *json))
        }
        Command::Drop { trade_id, json } => {
            with_config(&cli, |config| control::post(config, &format!("/drop/{trade_id}"), None, *json))
        }
        Command::Trades { whale, market, since, limit, json } => {
            let filter = crate::history::TradeFilter {
                whale: whale.clone(),
                market: market.clone(),
                since: *since,
                limit: *limit,
            };
            with_config(&cli, |config| control::history(config, &crate::history::HistoryQuery::Trades(filter), *json))
        }
        Command::Profit { json } => {
            with_config(&cli, |config| control::history(config, &crate::history::HistoryQuery::Profit, *json))
        }
        Command::Daily { days, json } => with_config(&cli, |config| {
            control::history(config, &crate::history::HistoryQuery::Daily { days: *days }, *json)
        }),
        Command::Whales { json } => with_config(&cli, |config| control::whales(config, *json)),
        Command::Unmute { wallet, json } => {
            with_config(&cli, |config| control::post(config, &format!("/unmute/{wallet}"), None, *json))
        }
        Command::Silence { action } => with_config(&cli, |config| silence::run(config, action)),
        Command::Signals { action } => with_config(&cli, |config| signals::run(config, action)),
        Command::FetchHistory { wallets, since, until, out } => {
            with_config(&cli, |config| fetch_history::fetch(config, wallets, since.as_deref(), until.as_deref(), out))
        }
        Command::Report { out, since, until } => {
            with_config(&cli, |config| report::report(config, out, *since, *until))
        }
        Command::Audit { action: AuditAction::Export { since, until, format, out } } => {
            with_config(&cli, |config| audit::export(config, *since, until.as_deref(), *format, out.as_deref()))
        }
        Command::Audit { action: AuditAction::Summary { since, until, json } } => {
            with_config(&cli, |config| audit::summary(config, *since, until.as_deref(), *json))
        }
        Command::Replay { session, session_file, compare: Some(other), json, .. } => with_config(&cli, |config| {
            let other_options = LoadOptions { config_path: other.clone(), ..cli.load_options() };
            let base_path = cli.located_config().path;
            let session = session.as_deref().or(session_file.as_deref());
            replay::compare(config, &base_path, &other_options, session, *json)
        }),
        Command::Convert { session, out, json } => replay::convert(session, out.as_deref(), *json),
        Command::Replay { session, session_file, audit, compare: None, json, report } => with_config(&cli, |config| {
            replay::replay(config, session.as_deref().or(session_file.as_deref()), *audit, *json, report.as_deref())
        }),
    }
}

/// Loads the config (for the API address, token and store path), then runs `command`. Says on
/// stderr which file it read, since the CLI may find it in several places.
fn with_config(cli: &Cli, command: impl FnOnce(&config::Config) -> ExitCode) -> ExitCode {
    let located = cli.located_config();
    eprintln!("whale-trader: config {} ({})", located.path.display(), located.origin);
    match config::load(&cli.load_options()) {
        Ok(config) => command(&config),
        Err(e) => config_failure(&e),
    }
}

/// `whale-trader 0.1.0 (x86_64-linux)`.
pub fn version_line() -> String {
    format!("whale-trader {} ({}-{})", env!("CARGO_PKG_VERSION"), std::env::consts::ARCH, std::env::consts::OS)
}

fn check_config(options: &LoadOptions) -> ExitCode {
    match config::load(options) {
        Ok(config) => {
            println!("# {}: valid\n", options.config_path.display());
            print!("{}", config.to_redacted_toml());
            ExitCode::from(exit::OK)
        }
        Err(e) => config_failure(&e),
    }
}

fn config_failure(error: &config::ConfigError) -> ExitCode {
    eprintln!("error: {error}");
    ExitCode::from(exit::BAD_CONFIG)
}
