//! Signals and batch summaries as each channel sends them: golden files of every medium for the
//! seed's example plan and a small summary (`UPDATE_GOLDEN=1` rewrites them), and delivery through
//! the real alert pipeline to loopback stand-ins: Telegram (which refuses MarkdownV2 it cannot
//! parse, as Telegram does), Slack, Discord and a generic webhook. A 100-plan summary arrives at
//! Telegram and Discord in several messages, in order, none over the limit.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use whale_trader::alerts::channels::{ChatWebhookChannel, EmailChannel, TelegramChannel, WebhookChannel};
use whale_trader::alerts::{
    Alert, AlertChannel, AlertsBuilder, AlertsConfig, AlertsHandle, ChannelCountersSnapshot, EmailConfig,
    GenericWebhookConfig, Notification, Priority, SmtpSecurity, TelegramConfig, WebhookChannelConfig,
};
use whale_trader::clock::Timestamp;
use whale_trader::config::{Mode, Secret};
use whale_trader::domain::ReasonCode;
use whale_trader::plans::format::Medium;
use whale_trader::plans::{
    BatchSummary, MAX_PLAN_BYTES, PlanDecision, PlanOutcome, PlanRegime, PlanSource, PlanWire, QualityTier, Signal,
    SignalsConfig, StagedOrder, TradePlan, size_plan, validate_trade_plan,
};

use support::chat::ChatHook;
use support::repo_path;
use support::telegram::{BotStandIn, markdown_v2_error};

/// The seed's example plan, as a planner would post it.
const SEED_PLAN: &str = r#"{
  "plan_id": "scan-20250119-142345-btc", "symbol": "BTC/USDT", "direction": "long",
  "entry": {"near": "42200", "far": "42030"}, "stop": "41750",
  "targets": ["42800", "43500", "44200"], "score": "92.3", "quality_tier": "A",
  "timeframe": "4h", "style": "Scalp",
  "rationale": "Price swept liquidity below $41,800, forming fresh 4H bullish OB. HTF structure supports continuation after pullback into discount zone. Entry aligns with unfilled FVG and OB confluence. Tight stop below structure with targets at premium levels.",
  "confluence": [
    {"factor": "Bullish OB (4H) @ $42,100"},
    {"factor": "Unfilled FVG @ $42,050-$42,200"},
    {"factor": "HTF Trend Aligned (1D Bullish BoS)"},
    {"factor": "RSI Oversold Bounce (31.2 → 42.5)"},
    {"factor": "Volume Spike Confirmed", "passed": false}
  ],
  "regime": "trend", "chart_url": "https://charts.example/btc_usdt?tf=4h&v=(1)"
}"#;

fn seed_plan() -> TradePlan {
    let wire = PlanWire::from_json(SEED_PLAN.as_bytes(), MAX_PLAN_BYTES).unwrap_or_else(|e| panic!("{e}"));
    validate_trade_plan(wire).unwrap_or_else(|e| panic!("{e}"))
}

/// 2025-01-19 14:23:45 UTC plus `secs`.
fn at(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_737_296_625 + secs)
}

/// Approved on 10,000 of equity at the default 1 %, uncapped, staged in dry run.
fn approved(plan: TradePlan, when: Timestamp) -> PlanDecision {
    let config = SignalsConfig { max_position_usd: dec!(1_000_000), ..SignalsConfig::default() };
    let size = size_plan(&plan, dec!(10000), &config, dec!(3)).unwrap_or_else(|e| panic!("{e}"));
    let order = StagedOrder::for_plan(&plan, size.units, Mode::DryRun);
    PlanDecision {
        plan_id: plan.plan_id.clone(),
        symbol: Some(plan.symbol.clone()),
        direction: Some(plan.direction),
        source: PlanSource::Api,
        at: when,
        plan: Some(Arc::new(plan)),
        outcome: PlanOutcome::Approved { size, order: Box::new(order) },
    }
}

fn rejected(plan: Option<TradePlan>, code: ReasonCode, when: Timestamp) -> PlanDecision {
    PlanDecision {
        plan_id: plan.as_ref().map(|p| p.plan_id.clone()).unwrap_or_default(),
        symbol: plan.as_ref().map(|p| p.symbol.clone()),
        direction: plan.as_ref().map(|p| p.direction),
        source: PlanSource::Inbox { file: "plan.json".into() },
        at: when,
        plan: plan.map(Arc::new),
        outcome: PlanOutcome::Rejected { code, detail: "refused".into() },
    }
}

fn variant(i: usize, symbol: &str, score: Decimal, tier: QualityTier, regime: PlanRegime) -> TradePlan {
    TradePlan {
        plan_id: format!("plan-{i:03}"),
        symbol: symbol.into(),
        score,
        quality_tier: tier,
        regime,
        ..seed_plan()
    }
}

/// A small window: the seed's plan, an ETH short, a duplicate and an incomplete plan.
fn small_window() -> Vec<PlanDecision> {
    let eth = TradePlan {
        plan_id: "scan-eth-1".into(),
        symbol: "ETH/USDT".into(),
        direction: whale_trader::plans::Direction::Short,
        entry: whale_trader::plans::EntryZone { near: dec!(3120.5), far: dec!(3150) },
        stop: dec!(3190),
        targets: vec![dec!(3050), dec!(2980)],
        score: dec!(81),
        quality_tier: QualityTier::B,
        regime: PlanRegime::Range,
        chart_url: None,
        ..seed_plan()
    };
    vec![
        approved(seed_plan(), at(0)),
        approved(eth, at(60)),
        rejected(Some(seed_plan()), ReasonCode::DuplicatePlan, at(90)),
        rejected(None, ReasonCode::IncompletePlan, at(120)),
    ]
}

/// 100 plans over four symbols, every tier and regime, 80 approved and 20 refused for 4 reasons.
fn hundred() -> Vec<PlanDecision> {
    let symbols = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "DOGE/USDT", "AVAX/USDT"];
    let reasons =
        [ReasonCode::DuplicatePlan, ReasonCode::DoubleFire, ReasonCode::PerAssetExposure, ReasonCode::MaxRiskPerTrade];
    (0..100usize)
        .map(|i| {
            let plan = variant(
                i,
                symbols[i % 5],
                Decimal::from(40 + (i * 37) % 60) + dec!(0.3),
                QualityTier::ALL[i % 3],
                PlanRegime::ALL[(i / 2) % 3],
            );
            if i % 5 == 4 {
                rejected(Some(plan), reasons[(i / 5) % 4], at(i as i64))
            } else {
                approved(plan, at(i as i64))
            }
        })
        .collect()
}

// ---- the channels, built as the dispatcher builds them -------------------------------------

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

fn telegram_channel(api_base: &str) -> TelegramChannel {
    let config = TelegramConfig {
        enabled: true,
        min_priority: Priority::Info,
        api_base: api_base.into(),
        bot_token: Secret::new("123:ABC"),
        chat_id: Secret::new("42"),
        ..TelegramConfig::default()
    };
    TelegramChannel::new(client(), &config)
}

fn hook(url: &str) -> WebhookChannelConfig {
    WebhookChannelConfig {
        enabled: true,
        min_priority: Priority::Info,
        webhook_url: Secret::new(url),
        min_interval_ms: 0,
    }
}

fn rendered(channel: &dyn AlertChannel, alert: &Alert) -> Vec<String> {
    channel.render(&Notification::single(alert.clone())).into_iter().map(|p| p.body).collect()
}

/// Every medium's rendering of `alert`, as golden file name → text.
fn goldens(name: &str, alert: &Alert, markdown: String) -> Vec<(String, String)> {
    const NEXT: &str = "\n\n=== next message ===\n\n";
    let field = |bodies: Vec<String>, key: &str| -> String {
        bodies
            .iter()
            .map(|b| {
                serde_json::from_str::<Value>(b)
                    .ok()
                    .and_then(|v| v[key].as_str().map(String::from))
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(NEXT)
    };
    let slack = ChatWebhookChannel::slack(client(), &hook("http://127.0.0.1:9/slack"));
    let discord = ChatWebhookChannel::discord(client(), &hook("http://127.0.0.1:9/discord"));
    let webhook = WebhookChannel::new(
        client(),
        &GenericWebhookConfig {
            enabled: true,
            url: Secret::new("http://127.0.0.1:9/hook"),
            ..GenericWebhookConfig::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let email = EmailChannel::new(
        &EmailConfig {
            enabled: true,
            smtp_host: "127.0.0.1".into(),
            smtp_port: 2525,
            security: SmtpSecurity::Plain,
            from: "Whale Trader <bot@example.com>".into(),
            to: vec!["owner@example.com".into()],
            ..EmailConfig::default()
        },
        Duration::from_secs(1),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mail = email.render(&Notification::single(alert.clone()));
    let webhook_body: Value =
        serde_json::from_str(&rendered(&webhook, alert).concat()).unwrap_or_else(|e| panic!("{e}"));
    vec![
        (format!("{name}.markdown.txt"), markdown),
        (format!("{name}.telegram.txt"), rendered(&telegram_channel("http://127.0.0.1:9"), alert).join(NEXT)),
        (format!("{name}.slack.txt"), field(rendered(&slack, alert), "text")),
        (format!("{name}.discord.txt"), field(rendered(&discord, alert), "content")),
        (
            format!("{name}.email.txt"),
            mail.iter().map(|p| format!("Subject: {}\n\n{}", p.subject.clone().unwrap_or_default(), p.body)).collect(),
        ),
        (format!("{name}.webhook.json"), serde_json::to_string_pretty(&webhook_body).unwrap_or_default()),
    ]
}

fn check_goldens(files: Vec<(String, String)>) {
    let dir = repo_path("tests/golden/signals");
    let update = std::env::var("UPDATE_GOLDEN").as_deref() == Ok("1");
    for (name, text) in files {
        let path = dir.join(&name);
        let text = format!("{}\n", text.trim_end());
        if update {
            std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(&path, &text).unwrap_or_else(|e| panic!("{e}"));
        }
        let golden = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(text, golden, "{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it)");
    }
}

#[tokio::test]
async fn the_seed_signal_matches_its_golden_file_in_every_medium() {
    let decision = approved(seed_plan(), at(0));
    let alert = Alert::signal(&decision).unwrap_or_else(|| panic!("approved"));
    let signal = Signal::from_decision(&decision).unwrap_or_else(|| panic!("approved"));
    let files = goldens("signal", &alert, signal.format_markdown());
    // Every chat medium holds the signal in one message, and Telegram would parse it.
    let telegram = rendered(&telegram_channel("http://127.0.0.1:9"), &alert);
    assert_eq!(telegram.len(), 1);
    assert_eq!(markdown_v2_error(&telegram[0]), None, "{}", telegram[0]);
    check_goldens(files);
}

#[tokio::test]
async fn a_small_summary_matches_its_golden_file_in_every_medium() {
    let summary = BatchSummary::from_decisions(&small_window(), 5, at(300));
    let markdown = summary.format_markdown();
    let alert = Alert::signal_summary(summary);
    let telegram = rendered(&telegram_channel("http://127.0.0.1:9"), &alert);
    assert_eq!(telegram.len(), 1);
    assert_eq!(markdown_v2_error(&telegram[0]), None, "{}", telegram[0]);
    check_goldens(goldens("summary", &alert, markdown));
}

#[test]
fn the_markdown_v2_check_refuses_what_telegram_refuses() {
    assert_eq!(markdown_v2_error("*a* \\. [x](http://e/\\))"), None);
    assert!(markdown_v2_error("1.5").is_some(), "unescaped dot");
    assert!(markdown_v2_error("*bold").is_some(), "unclosed bold");
    assert!(markdown_v2_error("[x](http://e").is_some(), "unclosed link");
}

// ---- delivery through the dispatcher ----------------------------------------------------------

fn start(
    telegram: &BotStandIn,
    slack: &ChatHook,
    discord: &ChatHook,
    webhook: &ChatHook,
    dir: &Path,
) -> (AlertsHandle, CancellationToken) {
    let mut config = AlertsConfig::default();
    config.console.enabled = false;
    config.file.enabled = false;
    config.throttle.max_alerts_per_window = 1_000;
    config.telegram = TelegramConfig {
        enabled: true,
        min_priority: Priority::Info,
        api_base: telegram.base_url.clone(),
        bot_token: Secret::new(telegram.token.clone()),
        chat_id: Secret::new("42"),
        per_chat_interval_ms: 10,
        ..TelegramConfig::default()
    };
    config.slack = hook(&slack.url());
    config.discord = hook(&discord.url());
    config.webhook = GenericWebhookConfig {
        enabled: true,
        min_priority: Priority::Info,
        url: Secret::new(webhook.url()),
        ..GenericWebhookConfig::default()
    };
    let shutdown = CancellationToken::new();
    let alerts = AlertsBuilder::new(config, dir).spawn(shutdown.clone()).unwrap_or_else(|e| panic!("{e}"));
    (alerts, shutdown)
}

fn channel(alerts: &AlertsHandle, name: &str) -> ChannelCountersSnapshot {
    alerts.counters().channels.get(name).copied().unwrap_or_default()
}

async fn wait_for(limit: Duration, mut done: impl FnMut() -> bool) -> bool {
    let start = whale_trader::clock::monotonic();
    while start.elapsed() < limit {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    done()
}

#[tokio::test]
async fn a_signal_and_a_long_summary_reach_every_chat_in_their_markup_and_in_order() {
    let bot = BotStandIn::start("123:ABC");
    let (slack, discord, webhook) = (ChatHook::start(), ChatHook::start(), ChatHook::start());
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let (alerts, shutdown) = start(&bot, &slack, &discord, &webhook, dir.path());

    // One signal: one message on each channel, in that channel's markup.
    let decision = approved(seed_plan(), at(0));
    let signal = Signal::from_decision(&decision).unwrap_or_else(|| panic!("approved"));
    assert!(alerts.sender().send_signal(&decision).is_some());
    let all_in = |t: usize, s: usize, d: usize, w: usize| {
        bot.sent().len() == t && slack.bodies().len() == s && discord.bodies().len() == d && webhook.bodies().len() == w
    };
    assert!(wait_for(Duration::from_secs(10), || all_in(1, 1, 1, 1)).await, "the signal did not reach every channel");
    assert_eq!(bot.sent_to(42), signal.parts(Medium::Telegram), "Telegram accepted the MarkdownV2 signal");
    assert_eq!(slack.bodies(), [json!({ "text": signal.parts(Medium::Slack)[0] })]);
    assert_eq!(
        discord.bodies(),
        [json!({ "content": signal.parts(Medium::Discord)[0], "allowed_mentions": { "parse": [] } })]
    );
    assert_eq!(webhook.bodies(), [signal.format_json()]);

    // A refused plan announces nothing.
    assert!(alerts.sender().send_signal(&rejected(None, ReasonCode::IncompletePlan, at(1))).is_none());

    // The 100-plan summary: several messages on Telegram and Discord, in order, each accepted.
    let summary = BatchSummary::from_decisions(&hundred(), 100, at(200));
    let (telegram_parts, discord_parts) = (summary.parts(Medium::Telegram), summary.parts(Medium::Discord));
    assert!(telegram_parts.len() > 1 && discord_parts.len() > 1);
    let json = summary.format_json();
    assert_eq!(
        (json["received"].as_u64(), json["approved"].as_u64(), json["rejected"].as_u64()),
        (Some(100), Some(80), Some(20))
    );
    alerts.sender().send_signal_summary(summary.clone());
    let t = 1 + telegram_parts.len();
    let d = 1 + discord_parts.len();
    let s = 1 + summary.parts(Medium::Slack).len();
    assert!(wait_for(Duration::from_secs(20), || all_in(t, s, d, 2)).await, "the summary did not arrive whole");
    let texts = bot.sent_to(42);
    assert_eq!(texts[1..], telegram_parts[..], "Telegram's messages in order");
    assert!(texts.iter().all(|t| t.encode_utf16().count() <= 4096 && markdown_v2_error(t).is_none()));
    let contents: Vec<String> =
        discord.bodies()[1..].iter().map(|b| b["content"].as_str().unwrap_or_default().to_string()).collect();
    assert_eq!(contents, discord_parts, "Discord's messages in order");
    assert!(contents.iter().all(|c| c.chars().count() <= 2000));
    assert_eq!(webhook.bodies()[1], json);
    for name in ["telegram", "slack", "discord", "webhook"] {
        let counters = channel(&alerts, name);
        assert_eq!((counters.dead_lettered, counters.retried), (0, 0), "{name}: {counters:?}");
    }
    assert_eq!(channel(&alerts, "telegram").delivered, t as u64);
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(10), alerts.join()).await.unwrap_or_else(|e| panic!("{e}"));
}
