//! Trade plans against the daemon binary: plans posted to the control API and dropped in the inbox
//! are validated, sized, checked by the risk manager, stored, audited and announced on a loopback
//! Telegram stand-in; each kind of refusal answers with its code and is audited; the batch summary
//! of 100 plans arrives whole, split within Telegram's limit; plan events reach telemetry.

mod support;

use std::time::Duration;

use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{Value, json};
use support::telegram::BotStandIn;
use support::{Workspace, json_lines, repo_path, signal, wait_until, wait_with_limit};

const TOKEN: &str = "signals-api-token-9c1d";
const BOT_TOKEN: &str = "654321:signal-bot-secret-never-logged";
const CHAT: i64 = 424_242;

/// A daemon with plans taken from the API and `inbox/`, tight exposure limits (2 % per asset, 4 %
/// in total of the 10,000 USD start) and Telegram configured through the seed's own variable
/// names, at its default `min_priority` (warning): signals reach it through `alerts.announce_on`.
fn workspace(bot: &BotStandIn) -> Workspace {
    let ws = Workspace::with_default_config("");
    ws.write(
        ".env",
        &format!(
            "WHALE_TRADER__API__TOKEN={TOKEN}\n\
             WHALE_TRADER__SIGNALS__INBOX_DIR=inbox\n\
             WHALE_TRADER__SIGNALS__INBOX_POLL_MS=100\n\
             MAX_PER_ASSET_EXPOSURE=0.02\n\
             MAX_TOTAL_EXPOSURE=0.04\n\
             WHALE_TRADER__SIGNALS__MAX_POSITION_USD=20000\n\
             WHALE_TRADER__SIGNALS__SUMMARY__EVERY_MINUTES=0\n\
             TELEGRAM_BOT_TOKEN={BOT_TOKEN}\n\
             TELEGRAM_CHAT_ID={CHAT}\n\
             DEFAULT_ACCOUNT_BALANCE=10000\n\
             MAX_RISK_PER_TRADE=0.01\n\
             WHALE_TRADER__ALERTS__TELEGRAM__ENABLED=true\n\
             WHALE_TRADER__ALERTS__TELEGRAM__PER_CHAT_INTERVAL_MS=10\n\
             WHALE_TRADER__ALERTS__TELEGRAM__API_BASE={}\n",
            bot.base_url
        ),
    );
    ws
}

/// The seed's example plan with `changes` merged in.
fn plan(changes: Value) -> Value {
    let text = std::fs::read_to_string(repo_path("tests/fixtures/signals/btc_long.json")).expect("fixture");
    let mut plan: Value = serde_json::from_str(&text).expect("fixture json");
    for (key, value) in changes.as_object().expect("object") {
        if value.is_null() {
            plan.as_object_mut().expect("object").remove(key);
        } else {
            plan[key] = value.clone();
        }
    }
    plan
}

/// A long of `symbol` risking `risk` percent, entry 100 / 99, stop 95, targets 110 and 120.
fn simple(id: &str, symbol: &str, direction: &str, risk: &str) -> Value {
    let (entry, stop, targets) = match direction {
        "long" => (json!({"near": "100", "far": "99"}), "95", json!(["110", "120"])),
        _ => (json!({"near": "100", "far": "101"}), "105", json!(["90", "80"])),
    };
    plan(json!({
        "plan_id": id, "symbol": symbol, "direction": direction, "entry": entry, "stop": stop,
        "targets": targets, "risk_percent": risk,
    }))
}

fn decimal(value: &Value) -> Decimal {
    value.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("not a decimal: {value}"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// One request to the daemon's API: (status, JSON body).
fn call(ws: &Workspace, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    runtime().block_on(async {
        let url = format!("http://127.0.0.1:{}{path}", ws.api_port);
        let client = reqwest::Client::new();
        let request = match method {
            "GET" => client.get(&url),
            _ => client.post(&url).json(body.unwrap_or(&json!({}))),
        };
        let response = request.bearer_auth(TOKEN).timeout(Duration::from_secs(20)).send().await.expect("request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or_default())
    })
}

fn submit(ws: &Workspace, plan: &Value) -> (u16, Value) {
    call(ws, "POST", "/signals", Some(plan))
}

fn wait_for_api(ws: &Workspace) {
    let up = wait_until(Duration::from_secs(60), || {
        std::net::TcpStream::connect(("127.0.0.1", ws.api_port)).is_ok() && call(ws, "GET", "/signals", None).0 == 200
    });
    assert!(up, "the API did not come up; main.log:\n{}", ws.read("logs/main.log"));
}

fn audit(ws: &Workspace, event: &str) -> Vec<Value> {
    json_lines(&ws.read("logs/trade_audit.log")).into_iter().filter(|l| l["event"] == event).collect()
}

/// The daemon on a session of one market line: trading stays active and equity at the start (the
/// sample session's breaker trip would hold trading in `reducing`, refusing every plan).
fn spawn(ws: &Workspace) -> std::process::Child {
    let quiet = repo_path("tests/fixtures/signals/quiet_session.jsonl");
    ws.spawn_daemon(&[("WHALE_TRADER__FEED__REPLAY_PATH", quiet.to_str().unwrap_or_default())])
}

fn stop(ws: &Workspace, mut daemon: std::process::Child) {
    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(60));
    assert!(
        status.is_some_and(|s| s.success()),
        "daemon did not stop cleanly; main.log:\n{}",
        ws.read("logs/main.log")
    );
}

#[test]
fn plans_from_the_api_and_the_inbox_are_decided_audited_and_announced() {
    let bot = BotStandIn::start(BOT_TOKEN);
    let ws = workspace(&bot);
    let daemon = spawn(&ws);
    wait_for_api(&ws);

    // Approved through the API: sized by the seed's formula on the 10,000 USD of equity (1 %
    // risked over 450 per unit), answered with the decision, announced in the signal format.
    let (status, reply) = submit(&ws, &plan(json!({})));
    assert_eq!(status, 200, "{reply}");
    let decision = &reply["decision"];
    assert_eq!(decision["outcome"], "approved", "{reply}");
    let equity = decimal(&decision["size"]["equity_usd"]);
    assert_eq!(equity, Decimal::from(10_000), "{reply}");
    let units = (equity / Decimal::from(100) / Decimal::from(450)).round_dp_with_strategy(8, RoundingStrategy::ToZero);
    assert_eq!(decimal(&decision["size"]["units"]), units, "{reply}");
    assert_eq!(decimal(&decision["size"]["risk_usd"]), (units * Decimal::from(450)).round_dp(2), "{reply}");
    assert_eq!(decision["order"]["mode"], "dry-run", "{reply}");
    assert_eq!(decision["order"]["client_order_id"], "plan-scan-20250119-142345-btc", "{reply}");
    let announced = wait_until(Duration::from_secs(20), || bot.sent_to(CHAT).iter().any(|t| t.contains("BTC/USDT")));
    assert!(announced, "no signal message reached Telegram: {:?}", bot.sent());
    let message = bot.sent_to(CHAT).into_iter().find(|t| t.contains("BTC/USDT")).unwrap_or_default();
    assert!(message.contains("LONG") && message.contains("92\\.3") && message.contains("Rationale"), "{message}");
    assert!(message.chars().count() <= 4096);

    // Approved from the inbox: the file ends in done/.
    ws.write("inbox/eth.json.tmp", &simple("inbox-eth", "ETH/USDT", "long", "1").to_string());
    std::fs::rename(ws.path().join("inbox/eth.json.tmp"), ws.path().join("inbox/eth.json")).expect("rename");
    let done = wait_until(Duration::from_secs(20), || ws.path().join("inbox/done/eth.json").exists());
    assert!(done, "the inbox plan was not decided; main.log:\n{}", ws.read("logs/main.log"));

    // Each refusal, with its code, audited.
    let refusals = [
        (plan(json!({"plan_id": "no-stop", "stop": null})), "incomplete_plan"),
        (plan(json!({"plan_id": "wrong-stop", "stop": "42500"})), "stop_wrong_side"),
        (plan(json!({})), "duplicate_plan"),
        (plan(json!({"plan_id": "again-btc"})), "double_fire"),
        (simple("short-btc", "BTC/USDT", "short", "1"), "opposing_position"),
        (simple("more-btc", "BTC/USDC", "long", "1.5"), "per_asset_exposure"),
        (simple("sol", "SOL/USDT", "long", "1"), ""),
        (simple("ada", "ADA/USDT", "long", "1.5"), "max_total_exposure"),
    ];
    for (plan, code) in &refusals {
        let (status, reply) = submit(&ws, plan);
        if code.is_empty() {
            assert_eq!(status, 200, "{reply}");
            continue;
        }
        assert_eq!(status, 422, "{code}: {reply}");
        assert_eq!(reply["decision"]["outcome"], "rejected", "{reply}");
        assert_eq!(reply["decision"]["code"], *code, "{reply}");
    }
    // Not a plan at all: 400, nothing decided.
    let (status, reply) = call(&ws, "POST", "/signals", Some(&json!({"plan_id": "x", "colour": "red"})));
    assert_eq!(status, 400, "{reply}");
    // An inbox file that is refused goes to rejected/ with its reason beside it.
    ws.write("inbox/bad.json", &plan(json!({"plan_id": "inbox-bad", "targets": ["41000"]})).to_string());
    let rejected =
        wait_until(Duration::from_secs(20), || ws.path().join("inbox/rejected/bad.json.reason.txt").exists());
    assert!(rejected, "the refused inbox plan was not moved");
    assert!(ws.read("inbox/rejected/bad.json.reason.txt").starts_with("target_wrong_side"));

    // The audit trail holds every decision with its code.
    let approved: Vec<String> =
        audit(&ws, "signal_approved").iter().map(|l| l["plan_id"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(approved, ["scan-20250119-142345-btc", "inbox-eth", "sol"]);
    let rejected: Vec<String> =
        audit(&ws, "signal_rejected").iter().map(|l| l["reason"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(
        rejected,
        [
            "incomplete_plan",
            "stop_wrong_side",
            "duplicate_plan",
            "double_fire",
            "opposing_position",
            "per_asset_exposure",
            "max_total_exposure",
            "target_wrong_side"
        ]
    );
    let order_logged = ws.read("logs/main.log").contains("ORDER_SUBMITTED");
    assert!(order_logged, "the staged order was not logged");

    // An outcome closes the plan: its exposure is released and its R recorded.
    let (status, reply) =
        call(&ws, "POST", "/signals/scan-20250119-142345-btc/close", Some(&json!({"exit_price": "43100"})));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(decimal(&reply["close"]["r_multiple"]), Decimal::from(2), "{reply}");
    let (status, _) = submit(&ws, &simple("more-btc-2", "BTC/USDC", "long", "1.5"));
    assert_eq!(status, 200, "after the close the asset has room again");
    let (status, reply) = call(&ws, "POST", "/signals/unknown/close", Some(&json!({"exit_price": "1"})));
    assert_eq!(status, 404, "{reply}");

    // The analytics count every plan; the one close was a win of 2R.
    let open_ids = |stats: &Value| -> Vec<String> {
        let plans = stats["open_plans"].as_array().cloned().unwrap_or_default();
        plans.iter().filter_map(|p| p["plan_id"].as_str().map(str::to_owned)).collect()
    };
    // The view observers read is refreshed at most a few times a second.
    let expected = ["inbox-eth", "sol", "more-btc-2"];
    wait_until(Duration::from_secs(10), || open_ids(&call(&ws, "GET", "/signals", None).1) == expected);
    let (status, stats) = call(&ws, "GET", "/signals", None);
    assert_eq!(status, 200, "{stats}");
    let analytics = &stats["analytics"];
    assert_eq!((analytics["received"].as_u64(), analytics["approved"].as_u64()), (Some(12), Some(4)), "{stats}");
    assert_eq!(analytics["rejected_by_reason"]["double_fire"], 1, "{stats}");
    assert_eq!(
        (decimal(&analytics["hit_rate"]), decimal(&analytics["mean_r"])),
        (Decimal::ONE, Decimal::TWO),
        "{stats}"
    );
    assert_eq!(open_ids(&stats), expected, "{stats}");
    let metrics = runtime().block_on(async {
        let url = format!("http://127.0.0.1:{}/metrics", ws.api_port);
        reqwest::get(url).await.expect("metrics").text().await.unwrap_or_default()
    });
    assert!(metrics.contains("whale_trader_signals_rejected_total{reason=\"per_asset_exposure\"} 1"), "{metrics}");
    assert!(metrics.contains("whale_trader_signals_open 3"), "{metrics}");

    // Refusals are INFO alerts: Telegram, at its default `warning`, carries only the announcements.
    assert!(!bot.sent_to(CHAT).iter().any(|t| t.contains("Signal Rejected")), "{:?}", bot.sent_to(CHAT));

    // Every decision is in the store, readable after the stop; the plan events reached telemetry.
    stop(&ws, daemon);
    let events = json_lines(&ws.read("data/telemetry/events.jsonl"));
    let count = |kind: &str| events.iter().filter(|e| e["event"] == kind).count();
    assert_eq!((count("SIGNAL_GENERATED"), count("SIGNAL_REJECTED")), (4, 8), "{events:?}");
    assert_eq!(count("ORDER_SUBMITTED"), 4, "{events:?}");
    assert_eq!(count("POSITION_CLOSED"), 1, "{events:?}");
    let out = ws.command(&["signals", "stats", "--json"]).output().expect("run");
    assert!(!out.status.success(), "no daemon: the CLI says so");
    let db = std::fs::read_dir(ws.path().join("data"))
        .expect("data dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "db"))
        .expect("a store file");
    let conn = rusqlite::Connection::open(db).expect("open store");
    let rows: Vec<(String, String, Option<String>)> = conn
        .prepare("SELECT plan_id, outcome, reason FROM plan_decisions ORDER BY seq")
        .and_then(|mut s| s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect())
        .expect("plan decisions");
    assert_eq!(rows.len(), 12, "{rows:?}");
    assert_eq!(rows.iter().filter(|r| r.1 == "approved").count(), 4, "{rows:?}");
    let closes: i64 = conn.query_row("SELECT COUNT(*) FROM plan_closes", [], |r| r.get(0)).expect("closes");
    assert_eq!(closes, 1);
    // The bot's token never reached a log.
    assert!(!ws.all_logs().contains(BOT_TOKEN));
}

#[test]
fn a_batch_summary_of_100_plans_is_correct_and_split_within_the_limit() {
    let bot = BotStandIn::start(BOT_TOKEN);
    let ws = workspace(&bot);
    let daemon = spawn(&ws);
    wait_for_api(&ws);
    let tiers = ["A", "B", "C"];
    let regimes = ["trend", "range", "volatile"];
    let mut approved = Vec::new();
    for i in 0..100 {
        let mut plan = simple(&format!("batch-{i:03}"), &format!("COIN{i}/USDT"), "long", "0.1");
        plan["score"] = json!(format!("{}.5", 40 + (i * 37) % 60));
        plan["quality_tier"] = json!(tiers[i % 3]);
        plan["regime"] = json!(regimes[(i / 3) % 3]);
        if i % 10 == 9 {
            plan["stop"] = json!("100.5");
        }
        let (status, reply) = submit(&ws, &plan);
        if status == 200 {
            approved.push((plan["score"].as_str().unwrap_or("").to_owned(), i));
        } else {
            assert_eq!(status, 422, "{reply}");
        }
    }
    // 0.1 % each against 4 % in total: the first 40 valid ones fit, then the total refuses.
    assert_eq!(approved.len(), 40, "{approved:?}");
    let before = bot.sent_to(CHAT).len();
    let (status, summary) = call(&ws, "POST", "/signals/summary", None);
    assert_eq!(status, 200, "{summary}");
    assert_eq!(summary["received"], 100, "{summary}");
    assert_eq!(summary["approved"], 40, "{summary}");
    assert_eq!(summary["rejected"], 60, "{summary}");
    let by_reason: Vec<(String, u64)> = summary["rejected_by_reason"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| (r["reason"].as_str().unwrap_or("").to_owned(), r["count"].as_u64().unwrap_or(0)))
        .collect();
    assert_eq!(by_reason, [("max_total_exposure".to_owned(), 50), ("stop_wrong_side".to_owned(), 10)]);
    // The top five approved by score (ties: the earlier first).
    approved.sort_by(|a, b| {
        b.0.parse::<f64>().unwrap_or(0.0).total_cmp(&a.0.parse::<f64>().unwrap_or(0.0)).then(a.1.cmp(&b.1))
    });
    let top: Vec<String> = summary["top"]
        .as_array()
        .expect("top")
        .iter()
        .map(|t| t["plan_id"].as_str().unwrap_or("").to_owned())
        .collect();
    let expected: Vec<String> = approved.iter().take(5).map(|(_, i)| format!("batch-{i:03}")).collect();
    assert_eq!(top, expected);
    // It reached Telegram, each part within the limit, and the parts together hold every top plan once.
    let arrived = wait_until(Duration::from_secs(20), || {
        bot.sent_to(CHAT)[before..].iter().any(|t| t.contains("batch\\-") || t.contains("Summary"))
    });
    assert!(arrived, "no summary reached Telegram: {:?}", &bot.sent_to(CHAT)[before..]);
    std::thread::sleep(Duration::from_secs(2));
    let parts: Vec<String> =
        bot.sent_to(CHAT)[before..].iter().filter(|t| !t.contains("Signal Rejected")).cloned().collect();
    assert!(parts.iter().all(|p| p.encode_utf16().count() <= 4096), "{parts:?}");
    let whole = parts.join("\n");
    for id in &expected {
        let escaped = id.replace('-', "\\-");
        assert_eq!(whole.matches(&escaped).count(), 1, "{id} in {whole}");
    }
    stop(&ws, daemon);
}

#[test]
fn a_restart_keeps_the_open_plans_their_ids_and_the_analytics() {
    let bot = BotStandIn::start(BOT_TOKEN);
    let ws = workspace(&bot);
    let daemon = spawn(&ws);
    wait_for_api(&ws);
    // Through the CLI this time (the plan on standard input): the same path, answered with the decision.
    let mut child = ws
        .command(&["signals", "submit", "--json", "-"])
        .env("WHALE_TRADER__API__TOKEN", TOKEN)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("cli");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(simple("kept", "ETH/USDT", "long", "1").to_string().as_bytes()).expect("write plan");
    }
    let out = child.wait_with_output().expect("cli output");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reply: Value = serde_json::from_slice(&out.stdout).expect("json answer");
    assert_eq!(reply["decision"]["outcome"], "approved", "{reply}");
    stop(&ws, daemon);

    let daemon = spawn(&ws);
    wait_for_api(&ws);
    let (status, reply) = submit(&ws, &simple("kept", "ETH/USDT", "long", "1"));
    assert_eq!((status, reply["decision"]["code"].as_str()), (422, Some("duplicate_plan")), "{reply}");
    // The open plan still holds its room: 1 % + 1.5 % of ETH is over the 2 % per asset.
    let (status, reply) = submit(&ws, &simple("more-eth", "ETH/USDC", "long", "1.5"));
    assert_eq!((status, reply["decision"]["code"].as_str()), (422, Some("per_asset_exposure")), "{reply}");
    let (_, stats) = call(&ws, "GET", "/signals", None);
    assert_eq!(stats["analytics"]["received"], 3, "the history before the restart counts: {stats}");
    let (status, reply) = call(&ws, "POST", "/signals/kept/close", Some(&json!({"exit_price": "90"})));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(decimal(&reply["close"]["r_multiple"]), Decimal::from(-2), "{reply}");
    stop(&ws, daemon);
}
