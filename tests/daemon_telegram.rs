//! Telegram two-way control against the daemon, on a loopback stand-in of the Bot API: commands
//! from the configured chats act (through the control API's path, audited with who asked), a
//! `/kill` needs its confirmation, another chat's commands do nothing and are counted, and a
//! restart never runs a command again.

mod support;

use std::time::Duration;

use support::telegram::BotStandIn;
use support::{Workspace, json_lines, signal, wait_until, wait_with_limit};

const TOKEN: &str = "tg-control-token-4b7e";
const BOT_TOKEN: &str = "123456:bot-secret-token-never-logged";
const OPERATOR: i64 = 111_111;

/// How the audit names a chat: `telegram:…` and its last four digits.
fn chat_name(chat: i64) -> String {
    let digits = chat.to_string();
    format!("telegram:…{}", &digits[digits.len() - 4..])
}
const DEPUTY: i64 = 222_222;
const STRANGER: i64 = 999_999;

fn workspace(bot: &BotStandIn) -> Workspace {
    let ws = Workspace::with_default_config("");
    ws.write(
        ".env",
        &format!(
            "WHALE_TRADER__API__TOKEN={TOKEN}\n\
             WHALE_TRADER__ALERTS__TELEGRAM__BOT_TOKEN={BOT_TOKEN}\n\
             WHALE_TRADER__ALERTS__TELEGRAM__CHAT_ID={OPERATOR}\n\
             WHALE_TRADER__ALERTS__TELEGRAM__ALLOWED_CHAT_IDS={DEPUTY}\n\
             WHALE_TRADER__ALERTS__TELEGRAM__CONTROL=true\n\
             WHALE_TRADER__ALERTS__TELEGRAM__POLL_TIMEOUT_SECS=1\n\
             WHALE_TRADER__ALERTS__TELEGRAM__API_BASE={}\n",
            bot.base_url
        ),
    );
    ws
}

fn trading_state(ws: &Workspace) -> String {
    let out = ws.command(&["status", "--json"]).env("WHALE_TRADER__API__TOKEN", TOKEN).output().unwrap();
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    status["trading_state"].as_str().unwrap_or_default().to_string()
}

/// Sends `text` from `chat` and waits for the answer that follows the ones already sent.
fn ask(bot: &BotStandIn, chat: i64, text: &str) -> String {
    let before = bot.sent_to(chat).len();
    bot.push(chat, text);
    let answered = wait_until(Duration::from_secs(20), || bot.sent_to(chat).len() > before);
    assert!(answered, "no answer to {text:?} from chat {chat}; sent: {:?}", bot.sent());
    bot.sent_to(chat)[before..].join("\n")
}

fn chat_audit(ws: &Workspace) -> Vec<serde_json::Value> {
    json_lines(&ws.read("logs/trade_audit.log"))
        .into_iter()
        .filter(|l| l["event"] == "chat_command" || l["event"] == "control_request")
        .collect()
}

#[test]
fn commands_from_the_configured_chats_act_and_from_another_chat_do_nothing() {
    let bot = BotStandIn::start(BOT_TOKEN);
    let ws = workspace(&bot);
    let mut daemon = ws.spawn_daemon(&[]);
    let replayed = wait_until(Duration::from_secs(60), || ws.read("logs/main.log").contains("replay finished"));
    assert!(replayed, "the sample session did not finish; main.log:\n{}", ws.read("logs/main.log"));
    let before = trading_state(&ws);
    assert_ne!(before, "halted");

    // A stranger's halt: ignored, unanswered, counted.
    bot.push(STRANGER, "/halt");
    let answer = ask(&bot, OPERATOR, "/status");
    assert!(answer.contains(&format!("trading state : {before}")), "{answer}");
    assert!(bot.sent_to(STRANGER).is_empty(), "a stranger was answered: {:?}", bot.sent());
    assert_eq!(trading_state(&ws), before, "a stranger's /halt acted");

    // The operator's halt acts, and /status shows it.
    let answer = ask(&bot, OPERATOR, "/halt");
    assert!(answer.contains("trading state: halted"), "{answer}");
    assert_eq!(trading_state(&ws), "halted");
    assert!(ask(&bot, OPERATOR, "/status").contains("trading state : halted"));

    // Reads: profit, daily, trades, whales, help; bad input gets the rule.
    assert!(ask(&bot, OPERATOR, "/profit").contains("realised P&L"));
    assert!(ask(&bot, DEPUTY, "/daily 3").contains("daily P&L"));
    assert!(ask(&bot, OPERATOR, "/trades 2").contains("2 shown"));
    assert!(ask(&bot, OPERATOR, "/help").contains("/kill confirm"));

    // Silences through the chat: the same entry point as the CLI and the API, audited by chat.
    let added = ask(&bot, OPERATOR, "/silence 2h kind=trade_rejected");
    assert!(added.contains("silence S0001 added"), "{added}");
    let listed = ask(&bot, DEPUTY, "/silence");
    assert!(listed.contains("S0001") && listed.contains("kind=trade_rejected"), "{listed}");
    let listed_by_cli = ws.command(&["silence", "list"]).env("WHALE_TRADER__API__TOKEN", TOKEN).output().unwrap();
    assert!(String::from_utf8_lossy(&listed_by_cli.stdout).contains("S0001"), "{listed_by_cli:?}");
    assert!(ask(&bot, OPERATOR, "/silence 2h wale=x").contains("\"wale\""), "a bad key is named");
    assert!(ask(&bot, DEPUTY, "/silence expire S0001").contains("expired"));
    assert!(ask(&bot, OPERATOR, "/silence").contains("no silence is in force"));
    assert!(ask(&bot, OPERATOR, "/daily 999").contains("from 1 to 366"));
    assert!(ask(&bot, OPERATOR, "/close").contains("needs one trade id"));

    // A kill asks first; the confirmation from the allowed deputy acts.
    let asked = ask(&bot, DEPUTY, "/kill");
    assert!(asked.contains("/kill confirm"), "{asked}");
    assert_eq!(trading_state(&ws), "halted", "/kill alone must not act");
    assert!(ask(&bot, OPERATOR, "/kill confirm").contains("No /kill to confirm"), "another chat's kill is not ours");
    let killed = ask(&bot, DEPUTY, "/kill confirm");
    assert!(killed.contains("trading state: killed"), "{killed}");
    assert_eq!(trading_state(&ws), "killed");

    // Audited with who asked, through the control API's own path; the stranger nowhere. The audit
    // file is written by a background thread, so the last command's line may land after its reply.
    let deputy_audited = wait_until(Duration::from_secs(5), || {
        chat_audit(&ws).iter().any(|l| l["event"] == "control_request" && l["who"] == chat_name(DEPUTY))
    });
    assert!(deputy_audited, "{:?}", chat_audit(&ws));
    let audit = chat_audit(&ws);
    let who =
        |chat: i64, event: &str| audit.iter().filter(|l| l["event"] == event && l["who"] == chat_name(chat)).count();
    assert_eq!(who(OPERATOR, "control_request"), 1, "{audit:?}");
    assert_eq!(who(DEPUTY, "control_request"), 1, "{audit:?}");
    assert_eq!(who(OPERATOR, "chat_command"), 10, "{audit:?}");
    assert_eq!(who(STRANGER, "chat_command"), 0);
    let refused = json_lines(&ws.read("logs/trade_audit.log"))
        .into_iter()
        .filter(|l| l["event"] == "chat_command_refused" && l["who"] == chat_name(OPERATOR))
        .count();
    assert_eq!(refused, 2, "/daily 999 and /close without an id are audited as refused");
    let text = http_metrics(ws.api_port);
    assert!(text.contains("whale_trader_telegram_ignored_updates_total 1"), "{text}");
    assert!(!ws.all_logs().contains(BOT_TOKEN), "the bot token reached a log");
    // The chat ids are secrets too: the audit names a chat by its last four digits only.
    let logs = ws.all_logs();
    for chat in [OPERATOR, DEPUTY] {
        assert!(!logs.contains(&chat.to_string()), "chat id {chat} reached a log");
    }

    // A restart: nothing already run runs again.
    let commands_before = chat_audit(&ws).len();
    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    assert_eq!(exit.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
    let polls = bot.polls();
    let mut daemon = ws.spawn_daemon(&[]);
    let polled = wait_until(Duration::from_secs(30), || bot.polls() > polls + 2);
    assert!(polled, "the restarted daemon does not poll");
    assert_eq!(chat_audit(&ws).len(), commands_before, "a command ran twice after the restart");
    assert_eq!(bot.pending(), 0);
    signal(&daemon, "TERM");
    let (exit, _) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    assert_eq!(exit.and_then(|s| s.code()), Some(0));
}

fn http_metrics(port: u16) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response
}
