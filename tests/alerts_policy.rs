//! Dispatcher semantics on paused tokio time: throttling, grouping, repeat, resolved notices,
//! halt suppression, hand-off overflow, hot reload and the shutdown drain. A recording channel
//! (registered through the public `AlertsBuilder::channel` hook) stands in for a provider.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;
use whale_trader::alerts::{
    Alert, AlertChannel, AlertError, AlertsBuilder, AlertsConfig, AlertsHandle, Handoff, Notification, Part, Priority,
    RiskFigures,
};
use whale_trader::clock::Timestamp;
use whale_trader::plans::BatchSummary;

/// Records `notice|count|title` of everything it is asked to send.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<String>>,
    messages: Mutex<Vec<String>>,
}

impl Recorder {
    fn messages(&self) -> Vec<String> {
        self.messages.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn sent(&self) -> Vec<String> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl AlertChannel for Recorder {
    fn name(&self) -> &str {
        "recorder"
    }

    fn render(&self, n: &Notification) -> Vec<Part> {
        if let Ok(mut messages) = self.messages.lock() {
            messages.push(n.alert.message.clone());
        }
        vec![Part::body(format!("{}|{}|{}", n.notice.as_str(), n.notice.count(), n.alert.title))]
    }

    fn send<'a>(&'a self, part: &'a Part) -> BoxFuture<'a, Result<(), AlertError>> {
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(part.body.clone());
        }
        Box::pin(async { Ok(()) })
    }
}

fn quiet_config() -> AlertsConfig {
    let mut config = AlertsConfig::default();
    config.console.enabled = false;
    config.file.enabled = false;
    config
}

struct Harness {
    alerts: AlertsHandle,
    recorder: Arc<Recorder>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
}

fn start(config: AlertsConfig) -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let alerts = AlertsBuilder::new(config, dir.path())
        .channel(recorder.clone(), Priority::Info)
        .spawn(shutdown.clone())
        .expect("alerts start");
    Harness { alerts, recorder, shutdown, _dir: dir }
}

/// Lets the dispatcher and workers run; on paused time this costs nothing real.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(200)).await;
}

fn at(ms: i64) -> Timestamp {
    Timestamp::from_millis(ms)
}

fn rejection() -> Alert {
    Alert::trade_rejected("0xwhale", "market-1", "max_total_positions", at(0))
}

#[tokio::test(start_paused = true)]
async fn throttle_passes_ten_per_window_per_channel_and_every_critical() {
    let h = start(quiet_config());
    let sender = h.alerts.sender();
    for i in 0..12 {
        sender.raise(Alert::new(Priority::Warning, format!("w{i}"), "m", at(0)));
    }
    settle().await;
    assert_eq!(h.recorder.sent().len(), 10);
    sender.raise(Alert::new(Priority::Critical, "crit", "m", at(0)));
    settle().await;
    assert_eq!(h.recorder.sent().last().map(String::as_str), Some("single|1|crit"));
    let counters = h.alerts.counters();
    assert_eq!(counters.channels["recorder"].suppressed, 2);
    assert_eq!(counters.channels["recorder"].delivered, 11);

    // The window slides: 15 minutes later, warnings pass again.
    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    sender.raise(Alert::new(Priority::Warning, "later", "m", at(0)));
    settle().await;
    assert_eq!(h.recorder.sent().last().map(String::as_str), Some("single|1|later"));
    h.shutdown.cancel();
    h.alerts.join().await;
}

#[tokio::test(start_paused = true)]
async fn grouping_repeat_and_resolve_follow_the_condition() {
    let h = start(quiet_config());
    let sender = h.alerts.sender();
    let halt = || Alert::new(Priority::Error, "Feed stale", "no prices for 60 s", at(0)).with_dedup_key("feed_stale");

    // First occurrence: at once. Four more inside the 60 s window: one message with the count.
    sender.raise(halt());
    settle().await;
    assert_eq!(h.recorder.sent(), ["single|1|Feed stale"]);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_secs(5)).await;
        sender.raise(halt());
    }
    settle().await;
    assert_eq!(h.recorder.sent().len(), 1, "merged until the window closes");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(h.recorder.sent(), ["single|1|Feed stale", "grouped|4|Feed stale"]);

    // Still active: held back until the repeat interval (60 min) since the last message.
    tokio::time::sleep(Duration::from_secs(10 * 60)).await;
    sender.raise(halt());
    settle().await;
    assert_eq!(h.recorder.sent().len(), 2);
    tokio::time::sleep(Duration::from_secs(50 * 60)).await;
    sender.raise(halt());
    settle().await;
    assert_eq!(h.recorder.sent().last().map(String::as_str), Some("repeat|2|Feed stale"));

    // Cleared: a resolved notice with the total count.
    tokio::time::sleep(Duration::from_secs(120)).await;
    sender.raise(Alert::new(Priority::Info, "Feed recovered", "prices flowing", at(0)).resolving("feed_stale"));
    settle().await;
    assert_eq!(h.recorder.sent().last().map(String::as_str), Some("resolved|7|Feed recovered"));

    let counters = h.alerts.counters();
    assert_eq!((counters.grouped, counters.repeat_suppressed, counters.resolved), (4, 1, 1));
    h.shutdown.cancel();
    h.alerts.join().await;
}

#[tokio::test(start_paused = true)]
async fn a_halt_suppresses_the_rejections_it_causes_until_resumed() {
    let h = start(quiet_config());
    let sender = h.alerts.sender();
    sender.raise(Alert::trading_halted("Max drawdown exceeded: 15.2%", RiskFigures::default(), at(0)));
    for _ in 0..5 {
        sender.raise(rejection());
    }
    settle().await;
    assert_eq!(h.recorder.sent(), ["single|1|Trading Halted"]);
    assert_eq!(h.alerts.counters().halt_suppressed, 5);

    sender.raise(Alert::trading_resumed("operator", at(0)));
    sender.raise(rejection());
    settle().await;
    assert_eq!(h.recorder.sent(), ["single|1|Trading Halted", "resolved|1|Trading Resumed", "single|1|Trade Rejected"]);
    h.shutdown.cancel();
    h.alerts.join().await;
}

#[tokio::test(start_paused = true)]
async fn overflow_drops_oldest_non_critical_and_never_a_critical() {
    let mut config = quiet_config();
    config.queue_capacity = 100;
    config.throttle.max_alerts_per_window = 1_000_000;
    config.delivery.channel_queue_capacity = 10_000;
    let h = start(config);
    let sender = h.alerts.sender();
    // The dispatcher cannot run while this task does not yield: the lane must absorb it all.
    let mut dropped = 0;
    for i in 0..1000 {
        if sender.raise(Alert::new(Priority::Info, format!("info {i}"), "m", at(0))) == Handoff::QueuedDroppingOldest {
            dropped += 1;
        }
        if i % 100 == 0 {
            assert_eq!(
                sender.raise(Alert::new(Priority::Critical, format!("critical {i}"), "m", at(0))),
                Handoff::Queued
            );
        }
    }
    settle().await;
    let sent = h.recorder.sent();
    assert_eq!(dropped, 900);
    assert_eq!(h.alerts.counters().dropped_at_handoff, 900);
    assert_eq!(sent.iter().filter(|s| s.contains("critical")).count(), 10, "every critical alert arrives");
    assert_eq!(sent.iter().filter(|s| s.contains("info")).count(), 100);
    assert!(sent.iter().any(|s| s.ends_with("info 999")), "the newest survive");
    assert!(!sent.iter().any(|s| s.ends_with("info 0")), "the oldest go first");
    h.shutdown.cancel();
    h.alerts.join().await;
}

#[tokio::test(start_paused = true)]
async fn reload_applies_new_throttle_at_once() {
    let h = start(quiet_config());
    let sender = h.alerts.sender();
    let mut config = quiet_config();
    config.throttle.max_alerts_per_window = 2;
    h.alerts.update_config(config);
    settle().await;
    for i in 0..5 {
        sender.raise(Alert::new(Priority::Error, format!("e{i}"), "m", at(0)));
    }
    settle().await;
    assert_eq!(h.recorder.sent().len(), 2);
    h.shutdown.cancel();
    h.alerts.join().await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_the_queue_and_open_groups() {
    let h = start(quiet_config());
    let sender = h.alerts.sender();
    sender.raise(rejection());
    settle().await;
    sender.raise(rejection());
    sender.raise(rejection());
    sender.send_custom_alert(Priority::Warning, "Custom", "raised just before shutdown", [], at(0));
    h.shutdown.cancel();
    h.alerts.join().await;
    assert_eq!(h.recorder.sent(), ["single|1|Trade Rejected", "single|1|Custom", "grouped|2|Trade Rejected"]);
    assert_eq!(sender.raise(rejection()), Handoff::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_signal_summary_is_one_info_alert_whose_plain_message_is_the_totals() {
    let h = start(quiet_config());
    let summary = BatchSummary::from_decisions(&[], 5, at(0));
    assert_eq!(h.alerts.sender().send_signal_summary(summary), Handoff::Queued);
    settle().await;
    assert_eq!(h.recorder.sent(), ["single|1|Signal Summary"]);
    assert_eq!(h.recorder.messages(), ["Signal Summary | 0 received | 0 approved | 0 rejected"]);
    h.shutdown.cancel();
    h.alerts.join().await;
}

/// The throttle spends its budget on opens; the closes still arrive: a losing one at once, the
/// others in the digest sent when the window reopens, and what is held at shutdown in a last one.
#[tokio::test(start_paused = true)]
async fn a_throttled_channel_gets_every_close_in_time_or_in_a_digest() {
    use rust_decimal::Decimal;
    let mut config = quiet_config();
    config.throttle.max_alerts_per_window = 3;
    let h = start(config);
    let sender = h.alerts.sender();
    let open = |i: usize| Alert::trade_opened("0xw", &format!("m{i}"), "BUY", Decimal::TEN, Decimal::ONE, at(0));
    for i in 0..5 {
        sender.raise(open(i));
    }
    sender.raise(Alert::trade_closed("0xw", "m0", Decimal::from(-133), "stop_loss", at(1)));
    sender.raise(Alert::trade_closed("0xw", "m1", Decimal::from(12), "take_profit", at(2)));
    sender.raise(rejection());
    settle().await;
    let sent = h.recorder.sent();
    assert_eq!(sent, ["single|1|Trade Opened"; 3].into_iter().chain(["single|1|Trade Closed"]).collect::<Vec<_>>());
    assert_eq!(h.alerts.counters().channels["recorder"].suppressed, 4);

    // The window reopens 15 minutes after the first message: one digest holds the rest.
    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    settle().await;
    assert_eq!(h.recorder.sent().last().map(String::as_str), Some("single|1|Alerts Held Back by the Throttle"));
    let digest = h.recorder.messages().last().cloned().unwrap_or_default();
    assert!(digest.starts_with("2 opened, 1 closed, P&L $12.00, 1 rejected: max_total_positions ×1"), "{digest}");
    assert!(digest.contains("Closed m1 (whale 0xw): P&L $12.00, take_profit"), "{digest}");
    assert_eq!(h.alerts.counters().channels["recorder"].digests, 1);

    // Held back again, then the daemon stops: the last digest goes out in the drain.
    for i in 0..4 {
        sender.raise(open(i));
    }
    sender.raise(Alert::trade_closed("0xw", "m3", Decimal::ONE, "whale_exit", at(3)));
    settle().await;
    h.shutdown.cancel();
    h.alerts.join().await;
    let last = h.recorder.messages().last().cloned().unwrap_or_default();
    assert!(last.contains("Closed m3 (whale 0xw): P&L $1.00, whale_exit"), "{last}");
}

/// Records what the dispatcher writes to the outbox.
#[derive(Default)]
struct MemoryOutbox {
    enqueued: Mutex<Vec<(String, Alert)>>,
    delivered: Mutex<Vec<String>>,
}

impl whale_trader::alerts::AlertOutbox for MemoryOutbox {
    fn enqueued(&self, id: &str, alert: &Alert) {
        if let Ok(mut rows) = self.enqueued.lock() {
            rows.push((id.to_owned(), alert.clone()));
        }
    }

    fn delivered(&self, id: &str, _at: Timestamp) {
        if let Ok(mut ids) = self.delivered.lock() {
            ids.push(id.to_owned());
        }
    }
}

/// A digest bound for a remote channel is written to the outbox before the channel tries it and
/// marked delivered after: a restart in between sends it again, as it does a critical alert.
#[tokio::test(start_paused = true)]
async fn a_digest_for_a_remote_channel_goes_through_the_outbox() {
    use whale_trader::alerts::AlertKind;
    let mut config = quiet_config();
    config.throttle.max_alerts_per_window = 1;
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = Arc::new(Recorder::default());
    let outbox = Arc::new(MemoryOutbox::default());
    let shutdown = CancellationToken::new();
    let alerts = AlertsBuilder::new(config, dir.path())
        .channel(recorder.clone(), Priority::Info)
        .outbox(outbox.clone())
        .spawn(shutdown.clone())
        .expect("alerts start");
    let sender = alerts.sender();
    sender.raise(Alert::new(Priority::Info, "first", "m", at(0)));
    sender.raise(Alert::new(Priority::Info, "held", "m", at(0)));
    settle().await;
    assert!(outbox.enqueued.lock().map(|r| r.is_empty()).unwrap_or(false), "nothing critical yet");
    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    settle().await;
    let rows = outbox.enqueued.lock().map(|r| r.clone()).unwrap_or_default();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1.labels.kind, AlertKind::ThrottleDigest);
    assert!(rows[0].1.message.contains("1 other alert(s): held ×1"), "{}", rows[0].1.message);
    assert_eq!(outbox.delivered.lock().map(|d| d.clone()).unwrap_or_default(), vec![rows[0].0.clone()]);
    assert_eq!(recorder.sent().last().map(String::as_str), Some("single|1|Alerts Held Back by the Throttle"));
    shutdown.cancel();
    alerts.join().await;
}

/// A silence holds back what it matches before the throttle sees it: not sent, not spending the
/// window, not in the digest; a losing close still goes out; at its end it stops by itself.
#[tokio::test(start_paused = true)]
async fn a_silence_holds_back_before_the_throttle_and_ends_by_itself() {
    use rust_decimal::Decimal;
    use whale_trader::alerts::{Matcher, SilenceBook};
    use whale_trader::clock::{Clock, SystemClock};
    let mut config = quiet_config();
    config.throttle.max_alerts_per_window = 3;
    let dir = tempfile::tempdir().expect("temp dir");
    let recorder = Arc::new(Recorder::default());
    let shutdown = CancellationToken::new();
    let book = Arc::new(Mutex::new(SilenceBook::default()));
    let matchers = vec![Matcher::parse("whale=quiet").unwrap()];
    book.lock().unwrap().add(matchers, 60 * 60_000, "test", "cli", SystemClock.now()).unwrap();
    let alerts = AlertsBuilder::new(config, dir.path())
        .channel(recorder.clone(), Priority::Info)
        .silences(book.clone())
        .spawn(shutdown.clone())
        .expect("alerts start");
    let sender = alerts.sender();
    let open =
        |whale: &str, i: usize| Alert::trade_opened(whale, &format!("m{i}"), "BUY", Decimal::TEN, Decimal::ONE, at(0));
    for i in 0..3 {
        sender.raise(open("Quiet (0xq)", i));
    }
    for i in 0..4 {
        sender.raise(open("loud", i));
    }
    sender.raise(Alert::trade_closed("Quiet (0xq)", "m0", Decimal::from(-5), "stop_loss", at(1)));
    settle().await;
    let sent = recorder.sent();
    assert_eq!(sent, ["single|1|Trade Opened"; 3].into_iter().chain(["single|1|Trade Closed"]).collect::<Vec<_>>());
    assert!(
        recorder.messages().iter().all(|m| !m.contains("Quiet") || m.contains("closed")),
        "{:?}",
        recorder.messages()
    );
    assert_eq!(alerts.counters().silenced, 3);
    assert_eq!(alerts.counters().channels["recorder"].suppressed, 1, "only loud's fourth open is held");
    assert_eq!(book.lock().unwrap().active(SystemClock.now())[0].hits, 3);

    // The digest holds loud's open alone: nothing silenced is folded into it.
    tokio::time::sleep(Duration::from_secs(15 * 60)).await;
    settle().await;
    let digest = recorder.messages().last().cloned().unwrap_or_default();
    assert!(digest.starts_with("1 opened"), "{digest}");

    // An hour after it began, the silence has ended by itself.
    tokio::time::sleep(Duration::from_secs(46 * 60)).await;
    sender.raise(open("Quiet (0xq)", 9));
    settle().await;
    assert!(recorder.messages().last().is_some_and(|m| m.contains("Quiet")), "{:?}", recorder.messages());
    assert_eq!(alerts.counters().silenced, 3);
    shutdown.cancel();
    alerts.join().await;
}
