//! The chat's commands: parsing a message's text (bounded) into a command, the help text, and the
//! kill confirmation (a `/kill` asks; `/kill confirm` from the same chat within a minute acts).
//! Pure: no I/O, time passed in.
//!
//! A new command is one [`ChatCommand`] variant, one line of [`HELP`], one arm of [`parse`] and one
//! of the task's `execute`.

use std::collections::HashMap;

use crate::clock::Timestamp;
use crate::history::{DEFAULT_DAYS, MAX_DAYS, MAX_TRADE_LIMIT};

/// Longest message read as a command (characters); longer ones are refused unread.
pub const MAX_COMMAND_CHARS: usize = 200;
/// How long a `/kill` waits for its `/kill confirm`.
pub const KILL_CONFIRM_WITHIN_MS: i64 = 60_000;
/// Trades `/trades` lists when not told.
pub const DEFAULT_CHAT_TRADES: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChatCommand {
    Status,
    Positions,
    Profit,
    Daily {
        days: u32,
    },
    Whales,
    Trades {
        limit: usize,
    },
    Halt,
    Resume,
    /// `/kill` asks for confirmation; `/kill confirm` acts.
    Kill {
        confirm: bool,
    },
    Close {
        trade_id: String,
    },
    /// `/silence` lists, `/silence 2h KEY=VALUE …` adds, `/silence expire ID` ends one; the
    /// silences' own rules (keys, durations) are checked where every path's silences are.
    SilenceList,
    SilenceAdd {
        duration: String,
        matchers: Vec<String>,
    },
    SilenceExpire {
        id: String,
    },
    Help,
}

impl ChatCommand {
    /// The command's name, for the audit trail.
    pub fn name(&self) -> &'static str {
        match self {
            ChatCommand::Status => "/status",
            ChatCommand::Positions => "/positions",
            ChatCommand::Profit => "/profit",
            ChatCommand::Daily { .. } => "/daily",
            ChatCommand::Whales => "/whales",
            ChatCommand::Trades { .. } => "/trades",
            ChatCommand::Halt => "/halt",
            ChatCommand::Resume => "/resume",
            ChatCommand::Kill { .. } => "/kill",
            ChatCommand::Close { .. } => "/close",
            ChatCommand::SilenceList | ChatCommand::SilenceAdd { .. } | ChatCommand::SilenceExpire { .. } => "/silence",
            ChatCommand::Help => "/help",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("not a command (commands start with /; /help lists them)")]
    NotACommand,
    #[error("a command is at most {MAX_COMMAND_CHARS} characters")]
    TooLong,
    #[error("unknown command {0}; /help lists them")]
    Unknown(String),
    #[error("{command}: {rule}")]
    BadArgument { command: &'static str, rule: &'static str },
}

pub const HELP: &str = "\
/status - trading state, P&L, open positions
/positions - open positions
/profit - realised and unrealised P&L, win rate, per whale
/daily [n] - P&L per trading day, last n days (default 7)
/whales - each whale's results and standing
/trades [n] - the last n trades (default 10)
/halt - stop opening trades
/resume - trade again, if nothing else holds trading
/kill - close every position and halt (asks for /kill confirm)
/close ID - close one trade (T000042)
/silence - the silences in force
/silence 2h KEY=VALUE ... - silence matching alerts (keys: whale, market, kind, title, priority; never CRITICAL, state changes or losses)
/silence expire ID - end a silence (S0001)
/help - this list";

/// Reads one message. `/cmd@botname` is the same as `/cmd`.
pub fn parse(text: &str) -> Result<ChatCommand, ParseError> {
    if text.chars().count() > MAX_COMMAND_CHARS {
        return Err(ParseError::TooLong);
    }
    let mut words = text.split_whitespace();
    let Some(first) = words.next().filter(|w| w.starts_with('/')) else {
        return Err(ParseError::NotACommand);
    };
    let name = first.split('@').next().unwrap_or(first).to_ascii_lowercase();
    let args: Vec<&str> = words.collect();
    let no_args = |command: ChatCommand| {
        if args.is_empty() {
            Ok(command)
        } else {
            Err(ParseError::BadArgument { command: command.name(), rule: "takes no argument" })
        }
    };
    match name.as_str() {
        "/status" => no_args(ChatCommand::Status),
        "/positions" => no_args(ChatCommand::Positions),
        "/profit" => no_args(ChatCommand::Profit),
        "/whales" => no_args(ChatCommand::Whales),
        "/halt" => no_args(ChatCommand::Halt),
        "/resume" => no_args(ChatCommand::Resume),
        "/help" => no_args(ChatCommand::Help),
        "/daily" => match args.as_slice() {
            [] => Ok(ChatCommand::Daily { days: DEFAULT_DAYS }),
            [n] => n
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=MAX_DAYS).contains(n))
                .map(|days| ChatCommand::Daily { days })
                .ok_or(ParseError::BadArgument { command: "/daily", rule: "n must be a whole number from 1 to 366" }),
            _ => Err(ParseError::BadArgument { command: "/daily", rule: "takes at most one number" }),
        },
        "/trades" => match args.as_slice() {
            [] => Ok(ChatCommand::Trades { limit: DEFAULT_CHAT_TRADES }),
            [n] => n
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_TRADE_LIMIT).contains(n))
                .map(|limit| ChatCommand::Trades { limit })
                .ok_or(ParseError::BadArgument { command: "/trades", rule: "n must be a whole number from 1 to 1000" }),
            _ => Err(ParseError::BadArgument { command: "/trades", rule: "takes at most one number" }),
        },
        "/kill" => match args.as_slice() {
            [] => Ok(ChatCommand::Kill { confirm: false }),
            [word] if word.eq_ignore_ascii_case("confirm") => Ok(ChatCommand::Kill { confirm: true }),
            _ => Err(ParseError::BadArgument { command: "/kill", rule: "takes nothing, or confirm" }),
        },
        "/close" => match args.as_slice() {
            [id] if (1..=100).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                Ok(ChatCommand::Close { trade_id: (*id).to_string() })
            }
            _ => Err(ParseError::BadArgument { command: "/close", rule: "needs one trade id, as /status lists it" }),
        },
        "/silence" => match args.as_slice() {
            [] | ["list"] => Ok(ChatCommand::SilenceList),
            ["expire", id] => Ok(ChatCommand::SilenceExpire { id: (*id).to_string() }),
            [duration, matchers @ ..] if !matchers.is_empty() && matchers.iter().all(|m| m.contains('=')) => {
                Ok(ChatCommand::SilenceAdd {
                    duration: (*duration).to_string(),
                    matchers: matchers.iter().map(|m| (*m).to_string()).collect(),
                })
            }
            _ => Err(ParseError::BadArgument {
                command: "/silence",
                rule: "takes nothing, list, expire ID, or a duration and KEY=VALUE matchers (/silence 2h whale=0xabc…)",
            }),
        },
        _ => Err(ParseError::Unknown(name.chars().take(40).collect())),
    }
}

/// The `/kill` asked per chat and when; a confirmation counts only from the same chat within
/// [`KILL_CONFIRM_WITHIN_MS`], and only once.
#[derive(Debug, Default)]
pub struct KillConfirmations {
    asked: HashMap<i64, Timestamp>,
}

impl KillConfirmations {
    pub fn ask(&mut self, chat: i64, now: Timestamp) {
        self.asked.retain(|_, at| now.millis_since(*at) <= KILL_CONFIRM_WITHIN_MS);
        self.asked.insert(chat, now);
    }

    /// True when this chat asked within the window (the request is then used up).
    pub fn confirm(&mut self, chat: i64, now: Timestamp) -> bool {
        self.asked.remove(&chat).is_some_and(|at| (0..=KILL_CONFIRM_WITHIN_MS).contains(&now.millis_since(at)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_their_arguments_and_bot_suffix() {
        assert_eq!(parse("/status"), Ok(ChatCommand::Status));
        assert_eq!(parse("/STATUS@whale_bot"), Ok(ChatCommand::Status));
        assert_eq!(parse("  /daily 30 "), Ok(ChatCommand::Daily { days: 30 }));
        assert_eq!(parse("/daily"), Ok(ChatCommand::Daily { days: 7 }));
        assert_eq!(parse("/trades"), Ok(ChatCommand::Trades { limit: 10 }));
        assert_eq!(parse("/trades 3"), Ok(ChatCommand::Trades { limit: 3 }));
        assert_eq!(parse("/kill"), Ok(ChatCommand::Kill { confirm: false }));
        assert_eq!(parse("/kill CONFIRM"), Ok(ChatCommand::Kill { confirm: true }));
        assert_eq!(parse("/close T000042"), Ok(ChatCommand::Close { trade_id: "T000042".into() }));
        assert_eq!(parse("/help"), Ok(ChatCommand::Help));
    }

    #[test]
    fn silences_are_listed_added_and_expired() {
        assert_eq!(parse("/silence"), Ok(ChatCommand::SilenceList));
        assert_eq!(parse("/silence list"), Ok(ChatCommand::SilenceList));
        assert_eq!(parse("/silence expire S0002"), Ok(ChatCommand::SilenceExpire { id: "S0002".into() }));
        assert_eq!(
            parse("/silence 2h whale=0xabc kind=trade_opened"),
            Ok(ChatCommand::SilenceAdd {
                duration: "2h".into(),
                matchers: vec!["whale=0xabc".into(), "kind=trade_opened".into()]
            })
        );
        assert!(matches!(parse("/silence 2h"), Err(ParseError::BadArgument { command: "/silence", .. })));
        assert!(matches!(parse("/silence 2h whale"), Err(ParseError::BadArgument { command: "/silence", .. })));
    }

    #[test]
    fn bad_input_is_refused_with_the_rule() {
        assert_eq!(parse("hello"), Err(ParseError::NotACommand));
        assert_eq!(parse(""), Err(ParseError::NotACommand));
        assert_eq!(parse(&format!("/status {}", "x".repeat(300))), Err(ParseError::TooLong));
        assert_eq!(parse("/moon"), Err(ParseError::Unknown("/moon".into())));
        assert!(matches!(parse("/daily 0"), Err(ParseError::BadArgument { command: "/daily", .. })));
        assert!(matches!(parse("/daily 367"), Err(ParseError::BadArgument { .. })));
        assert!(matches!(parse("/trades -1"), Err(ParseError::BadArgument { .. })));
        assert!(matches!(parse("/kill now"), Err(ParseError::BadArgument { command: "/kill", .. })));
        assert!(matches!(parse("/close"), Err(ParseError::BadArgument { command: "/close", .. })));
        assert!(matches!(parse("/close ../x"), Err(ParseError::BadArgument { .. })));
        assert!(matches!(parse("/halt now"), Err(ParseError::BadArgument { command: "/halt", .. })));
    }

    #[test]
    fn a_kill_is_confirmed_only_by_the_same_chat_within_a_minute_and_once() {
        let mut kills = KillConfirmations::default();
        let t = Timestamp::from_secs(1_000);
        assert!(!kills.confirm(1, t), "nothing asked");
        kills.ask(1, t);
        assert!(!kills.confirm(2, t.plus_secs(1)), "another chat");
        assert!(kills.confirm(1, t.plus_secs(60)));
        assert!(!kills.confirm(1, t.plus_secs(61)), "used up");
        kills.ask(1, t);
        assert!(!kills.confirm(1, t.plus_millis(60_001)), "too late");
    }

    #[test]
    fn every_command_is_in_the_help() {
        for text in [
            "/status",
            "/positions",
            "/profit",
            "/daily 2",
            "/whales",
            "/trades",
            "/halt",
            "/resume",
            "/kill",
            "/close T1",
            "/silence",
            "/help",
        ] {
            let name = parse(text).unwrap().name();
            assert!(HELP.lines().any(|l| l.starts_with(name)), "{name}");
        }
    }
}
