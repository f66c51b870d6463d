//! The engine's checkpoint, without a daemon: stop the sample session anywhere, save the engine
//! (through JSON, as the store keeps it), restore it, warm its books up again and go on — the audit
//! trail and the final state are exactly those of a run that never stopped.

use std::path::PathBuf;
use std::sync::Arc;

use whale_trader::config::Config;
use whale_trader::engine::audit::AuditRecord;
use whale_trader::engine::checkpoint::EngineCheckpoint;
use whale_trader::engine::{Engine, EngineEvent, EngineSettings, Input, MemoryAuditSink, PaperExecutor, SimulatedRun};
use whale_trader::risk::RiskState;
use whale_trader::session::{ReplayEvent, parse_line};

fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn config() -> Arc<Config> {
    let text = std::fs::read_to_string(repo_path("config/default.toml")).unwrap_or_else(|e| panic!("{e}"));
    Arc::new(toml::from_str(&text).unwrap_or_else(|e| panic!("{e}")))
}

fn session() -> Vec<ReplayEvent> {
    let text = std::fs::read_to_string(repo_path("data/sample_session.jsonl")).unwrap_or_else(|e| panic!("{e}"));
    text.lines().filter_map(|l| parse_line(l).unwrap_or_else(|e| panic!("{e}"))).collect()
}

fn run(events: &[ReplayEvent], sink: &MemoryAuditSink) -> SimulatedRun<PaperExecutor> {
    let first = events.first().map(|e| e.at).unwrap_or_default();
    let engine = Engine::new(config(), EngineSettings::default(), Box::new(sink.clone()), first)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut run = SimulatedRun::new(engine, PaperExecutor::default(), first);
    run.keep_events = true;
    for event in events {
        run.feed(event.at, event.input.clone());
    }
    run
}

fn saved(engine: &Engine) -> (String, String) {
    let (checkpoint, risk) = engine.checkpoint();
    (
        serde_json::to_string(&checkpoint).unwrap_or_else(|e| panic!("{e}")),
        serde_json::to_string(&risk).unwrap_or_else(|e| panic!("{e}")),
    )
}

/// The market names learned so far (what the store's `market_names` table holds).
fn market_names(events: &[EngineEvent]) -> Vec<whale_trader::market::MarketName> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::MarketNamed(name) => Some((**name).clone()),
            _ => None,
        })
        .collect()
}

/// The dedupe keys of the whale trades decided so far (what the store's seen table holds).
fn seen_keys(events: &[EngineEvent]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            EngineEvent::WhaleTradeDecided(d) => Some(d.key.to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_session_stopped_anywhere_and_restored_ends_exactly_like_one_never_stopped() {
    let events = session();
    let whole_sink = MemoryAuditSink::new();
    let whole = run(&events, &whole_sink);
    let expected_records: Vec<String> = whole_sink.records().iter().map(AuditRecord::to_json_line).collect();
    let expected_state = saved(&whole.engine);
    assert!(expected_records.len() > 10);

    for split in [1, 37, events.len() / 3, events.len() / 2, 2 * events.len() / 3, events.len() - 1] {
        let sink = MemoryAuditSink::new();
        let first = run(&events[..split], &sink);
        let (checkpoint_json, risk_json) = saved(&first.engine);
        let checkpoint: EngineCheckpoint = serde_json::from_str(&checkpoint_json).unwrap_or_else(|e| panic!("{e}"));
        let risk: RiskState = serde_json::from_str(&risk_json).unwrap_or_else(|e| panic!("{e}"));
        let seen = seen_keys(&first.events);
        let mut engine =
            Engine::restore(config(), Box::new(sink.clone()), checkpoint, risk, seen.iter().map(String::as_str))
                .unwrap_or_else(|e| panic!("split {split}: {e}"));
        // Names are not in the checkpoint either: the store's cache gives them back.
        engine.load_names(market_names(&first.events));
        // Books are not in the checkpoint: the market data before the split comes back as warm-up.
        for event in &events[..split] {
            if matches!(event.input, Input::Book(_) | Input::MarketInfo(_)) {
                engine.warm_up(event.input.clone(), event.at);
            }
        }
        let mut rest = SimulatedRun::new(engine, PaperExecutor::default(), events[split - 1].at);
        rest.resume_ticks_at(first.next_tick());
        for event in &events[split..] {
            rest.feed(event.at, event.input.clone());
        }
        let records: Vec<String> = sink.records().iter().map(AuditRecord::to_json_line).collect();
        assert_eq!(records, expected_records, "audit trail after a stop at event {split}");
        assert_eq!(saved(&rest.engine), expected_state, "final state after a stop at event {split}");
    }
}

#[test]
fn a_whale_trade_seen_before_the_restart_is_not_decided_again() {
    let events = session();
    let sink = MemoryAuditSink::new();
    let whole = run(&events, &sink);
    let decided = seen_keys(&whole.events).len();
    assert!(decided > 5);
    let (checkpoint_json, risk_json) = saved(&whole.engine);
    let checkpoint: EngineCheckpoint = serde_json::from_str(&checkpoint_json).unwrap_or_else(|e| panic!("{e}"));
    let risk: RiskState = serde_json::from_str(&risk_json).unwrap_or_else(|e| panic!("{e}"));
    let seen = seen_keys(&whole.events);
    let engine = Engine::restore(config(), Box::new(sink.clone()), checkpoint, risk, seen.iter().map(String::as_str))
        .unwrap_or_else(|e| panic!("{e}"));
    let before = sink.records().len();
    let mut again = SimulatedRun::new(engine, PaperExecutor::default(), events[0].at);
    again.keep_events = true;
    again.resume_ticks_at(whole.next_tick());
    // The whole session once more, as an overlapping feed would deliver it after a restart.
    for event in events.iter().filter(|e| matches!(e.input, Input::WhaleTrade(_))) {
        again.feed_untimed(event.at, event.input.clone());
    }
    assert!(seen_keys(&again.events).is_empty(), "no whale trade is decided twice");
    assert_eq!(sink.records().len(), before, "nothing new in the audit trail");
    assert_eq!(again.engine.status().duplicate_whale_trades, decided as u64);
}
