//! The control loop: poll, confirm, obey the configured chats, answer.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use super::bot_api::{BotApi, BotError, UPDATES_PER_POLL, Update};
use super::command::{ChatCommand, HELP, KILL_CONFIRM_WITHIN_MS, KillConfirmations, parse};
use crate::alerts::TelegramConfig;
use crate::alerts::channels::split_message;
use crate::api::{ControlRequest, ControlSender, HistorySource, StatusView, send_control};
use crate::clock::{Clock, Timestamp};
use crate::history::{self, HistoryQuery, TradeFilter};
use crate::logging::AUDIT_TARGET;
use crate::runtime::{SilenceCommand, SilenceControl};

/// Telegram's limit on one message's text.
const MESSAGE_MAX: usize = 4096;
/// Telegram allows about one message per second to one chat.
const PER_CHAT_SPACING: Duration = Duration::from_secs(1);
/// Sends of one part tried at most (a 429 waits its `retry_after` between them).
const SEND_ATTEMPTS: u32 = 3;
/// A command older than this when it arrives (the daemon was down) is not obeyed.
const STALE_AFTER_SECS: i64 = 600;
/// Refusals (other chats, malformed updates, poll failures) logged at most once per cause per interval.
const LOG_INTERVAL: Duration = Duration::from_secs(60);
/// Longest wait between failed polls.
const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// What the chat reads and where its control requests go: the control API's sources.
#[derive(Clone)]
pub struct Backend {
    pub status: Arc<dyn Fn() -> StatusView + Send + Sync>,
    pub history: HistorySource,
    pub control: ControlSender,
    /// The one way silences are added, listed and expired (the control API's too).
    pub silences: SilenceControl,
    pub clock: Arc<dyn Clock>,
}

/// Counts for `/metrics`.
#[derive(Debug, Default)]
pub struct ChatCounters {
    pub commands: AtomicU64,
    /// Updates from chats not configured (ignored, never answered).
    pub ignored: AtomicU64,
    pub poll_errors: AtomicU64,
    /// Updates skipped as malformed (no numeric `update_id`).
    pub malformed: AtomicU64,
}

static COUNTERS: ChatCounters = ChatCounters {
    commands: AtomicU64::new(0),
    ignored: AtomicU64::new(0),
    poll_errors: AtomicU64::new(0),
    malformed: AtomicU64::new(0),
};

pub fn counters() -> &'static ChatCounters {
    &COUNTERS
}

/// Runs until `stop`. Each batch of updates is confirmed to Telegram (the next offset asked for)
/// before any of its commands runs, so a restart never sees, and never runs, a command twice.
pub async fn chat_control(config: TelegramConfig, backend: Backend, stop: CancellationToken) {
    let poll_timeout = Duration::from_secs(config.poll_timeout_secs);
    let bot = BotApi::new(&config.api_base, &config.bot_token, poll_timeout);
    let mut loop_state = Loop {
        chats: config.control_chat_ids(),
        bot,
        backend,
        kills: KillConfirmations::default(),
        last_sent: HashMap::new(),
        logged: HashMap::new(),
    };
    let mut offset: Option<i64> = None;
    let mut backoff = Duration::from_secs(1);
    loop {
        let polled = tokio::select! {
            () = stop.cancelled() => return,
            polled = loop_state.bot.get_updates(offset, config.poll_timeout_secs, UPDATES_PER_POLL) => polled,
        };
        let updates = match polled {
            Ok(polled) => {
                if polled.malformed > 0 {
                    COUNTERS.malformed.fetch_add(polled.malformed as u64, Ordering::Relaxed);
                    loop_state.log_once("malformed", "updates without a numeric update_id were skipped");
                }
                polled.updates
            }
            Err(e) => {
                let wait = match &e {
                    BotError::RetryAfter(secs) => Duration::from_secs(*secs),
                    _ => {
                        let wait = backoff;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        wait
                    }
                };
                COUNTERS.poll_errors.fetch_add(1, Ordering::Relaxed);
                loop_state.log_once("poll", &format!("{e}; next poll in {} s", wait.as_secs()));
                tokio::select! { () = stop.cancelled() => return, () = tokio::time::sleep(wait) => continue }
            }
        };
        backoff = Duration::from_secs(1);
        let Some(last) = updates.iter().map(|u| u.update_id).max() else { continue };
        let next = last.saturating_add(1);
        // Confirm first: Telegram forgets every update below the offset asked for.
        if let Err(e) = loop_state.bot.get_updates(Some(next), 0, 1).await {
            loop_state.log_once("confirm", &format!("updates not confirmed, so not run yet: {e}"));
            continue;
        }
        offset = Some(next);
        for update in updates {
            if stop.is_cancelled() {
                return;
            }
            loop_state.handle(update).await;
        }
    }
}

struct Loop {
    chats: Vec<i64>,
    bot: BotApi,
    backend: Backend,
    kills: KillConfirmations,
    last_sent: HashMap<i64, Instant>,
    /// Per cause: when last logged and how many were folded since.
    logged: HashMap<&'static str, (Instant, u64)>,
}

impl Loop {
    async fn handle(&mut self, update: Update) {
        let (Some(chat), Some(text)) = (update.chat_id, update.text.as_deref()) else {
            return;
        };
        if !self.chats.contains(&chat) {
            COUNTERS.ignored.fetch_add(1, Ordering::Relaxed);
            self.log_once("other_chat", "a Telegram update from a chat that is not configured was ignored");
            return;
        }
        let now = self.backend.clock.now();
        if update.date.is_some_and(|sent| now.millis() / 1000 - sent > STALE_AFTER_SECS) {
            let reply = format!("Not run: this command was sent more than {} minutes ago.", STALE_AFTER_SECS / 60);
            self.reply(chat, &reply).await;
            return;
        }
        let who = chat_name(chat);
        let command = match parse(text) {
            Ok(command) => command,
            Err(e) => {
                let reason = e.to_string();
                tracing::info!(target: AUDIT_TARGET, event = "chat_command_refused", who, reason, "chat command refused");
                self.reply(chat, &reason).await;
                return;
            }
        };
        COUNTERS.commands.fetch_add(1, Ordering::Relaxed);
        tracing::info!(target: AUDIT_TARGET, event = "chat_command", who, command = ?command, "chat command received");
        let answer = self.execute(chat, &who, command, now).await;
        self.reply(chat, &answer).await;
    }

    async fn execute(&mut self, chat: i64, who: &str, command: ChatCommand, now: Timestamp) -> String {
        match command {
            ChatCommand::Help => HELP.to_string(),
            ChatCommand::Status => (self.backend.status)().render(),
            ChatCommand::Positions => positions_text(&(self.backend.status)()),
            ChatCommand::Whales => {
                let whales = (self.backend.status)().whales;
                if whales.is_empty() {
                    "No whale has been copied yet.".into()
                } else {
                    history::render_whale_table(&whales)
                }
            }
            ChatCommand::Profit => self.history(HistoryQuery::Profit).await,
            ChatCommand::Daily { days } => self.history(HistoryQuery::Daily { days }).await,
            ChatCommand::Trades { limit } => {
                self.history(HistoryQuery::Trades(TradeFilter { limit, ..TradeFilter::default() })).await
            }
            ChatCommand::Halt => {
                self.control(who, "/halt", ControlRequest::Halt { reason: format!("manual halt via {who}") }).await
            }
            ChatCommand::Resume => self.control(who, "/resume", ControlRequest::Resume).await,
            ChatCommand::Kill { confirm: false } => {
                self.kills.ask(chat, now);
                format!(
                    "Kill closes every position and halts trading. Send /kill confirm within {} s to go ahead.",
                    KILL_CONFIRM_WITHIN_MS / 1000
                )
            }
            ChatCommand::Kill { confirm: true } => {
                if self.kills.confirm(chat, now) {
                    self.control(who, "/kill", ControlRequest::Kill { reason: format!("manual kill via {who}") }).await
                } else {
                    "No /kill to confirm: send /kill first, then /kill confirm within a minute.".into()
                }
            }
            ChatCommand::Close { trade_id } => {
                self.control(who, "/close", ControlRequest::Close { position: trade_id }).await
            }
            ChatCommand::SilenceList => self.silence(who, SilenceCommand::List).await,
            ChatCommand::SilenceAdd { duration, matchers } => {
                let reason = format!("via {who}");
                self.silence(who, SilenceCommand::Add { matchers, duration, reason }).await
            }
            ChatCommand::SilenceExpire { id } => self.silence(who, SilenceCommand::Expire { id }).await,
        }
    }

    /// The same entry point as the control API's `/silences` and the CLI's `silence`.
    async fn silence(&self, who: &str, command: SilenceCommand) -> String {
        match self.backend.silences.execute(command, who).await {
            Ok(reply) => reply.message(),
            Err(e) => format!("Not done: {e}."),
        }
    }

    async fn control(&self, who: &str, route: &str, request: ControlRequest) -> String {
        match send_control(&self.backend.control, who, route, request).await {
            Ok(reply) => format!("{}\ntrading state: {}", reply.message, reply.trading_state),
            Err(why) => format!("Not done: {why}."),
        }
    }

    async fn history(&self, query: HistoryQuery) -> String {
        let source = self.backend.history.clone();
        let asked = query.clone();
        let body = match tokio::task::spawn_blocking(move || source(&asked)).await {
            Ok(Ok(body)) => body,
            Ok(Err(e)) => return format!("The history cannot be read: {e}"),
            Err(_) => return "The history read stopped before answering.".into(),
        };
        let text = match query {
            HistoryQuery::Trades(_) => serde_json::from_value(body).map(|v| history::render_trades(&v)),
            HistoryQuery::Profit => serde_json::from_value(body).map(|v| history::render_profit(&v)),
            HistoryQuery::Daily { .. } => serde_json::from_value(body).map(|v| history::render_daily(&v)),
        };
        text.unwrap_or_else(|e| format!("The history answer could not be read: {e}"))
    }

    /// Sends `text` in parts of at most 4,096 characters cut at line ends, one per second to a chat,
    /// waiting out a 429's `retry_after`.
    async fn reply(&mut self, chat: i64, text: &str) {
        for part in split_message(text, MESSAGE_MAX) {
            for _ in 0..SEND_ATTEMPTS {
                if let Some(last) = self.last_sent.get(&chat) {
                    let since = crate::clock::monotonic().duration_since(*last);
                    if since < PER_CHAT_SPACING {
                        tokio::time::sleep(PER_CHAT_SPACING - since).await;
                    }
                }
                let sent = self.bot.send_message(chat, &part).await;
                self.last_sent.insert(chat, crate::clock::monotonic());
                match sent {
                    Ok(()) => break,
                    Err(BotError::RetryAfter(secs)) => tokio::time::sleep(Duration::from_secs(secs)).await,
                    Err(e) => {
                        self.log_once("send", &format!("a chat answer was not delivered: {e}"));
                        return;
                    }
                }
            }
        }
    }

    fn log_once(&mut self, cause: &'static str, message: &str) {
        let now = crate::clock::monotonic();
        let entry = self.logged.entry(cause).or_insert((now - LOG_INTERVAL * 2, 0));
        entry.1 += 1;
        if now.duration_since(entry.0) < LOG_INTERVAL {
            return;
        }
        let folded = std::mem::take(&mut entry.1) - 1;
        entry.0 = now;
        tracing::warn!(cause, folded, "telegram control: {message}");
    }
}

/// Who a chat command came from, for the audit trail: the chat id is a secret (it is the address
/// alerts go to), so only its last four digits are shown, enough to tell the allowed chats apart.
pub fn chat_name(chat: i64) -> String {
    let digits = chat.unsigned_abs().to_string();
    let tail = &digits[digits.len().saturating_sub(4)..];
    format!("telegram:…{tail}")
}

fn positions_text(status: &StatusView) -> String {
    if status.open_positions.is_empty() {
        return "No open position.".into();
    }
    let mut out = format!("{} open positions\n", status.open_positions.len());
    for p in &status.open_positions {
        let pnl = p.unrealised_pnl.map(|v| format!(" P&L {}", crate::alerts::usd(v))).unwrap_or_default();
        let last = p.last_price.map(|v| format!(" now {v}")).unwrap_or_default();
        out.push_str(&format!(
            "{} {} {} @ {}{last}{pnl} whale {} market {}\n",
            p.id,
            p.size.round_dp(2),
            p.outcome,
            p.entry_price,
            p.whale,
            p.market
        ));
    }
    out
}
