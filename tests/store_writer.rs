//! Scenario tests of the store on real SQLite files in a temporary directory: round trips, recovery,
//! write-ahead acknowledgement, group commit, refusals, damaged files, migrations and retention.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use tokio_util::sync::CancellationToken;
use whale_trader::clock::Timestamp;
use whale_trader::config::{FeedSource, Mode};
use whale_trader::domain::Side;
use whale_trader::domain::WhaleVerdict;
use whale_trader::store::{
    AlertRecord, DecisionRecord, FillRecord, OrderKind, OrderRecord, OrderStatus, PositionRecord, PositionStatus,
    RecoveredOrder, RetentionCutoffs, RiskStateRecord, SeenWhaleTrade, SqliteStore, Store, StoreCommand, StoreConfig,
    StoreError, StoreHandle, StoreWriter, TradingStateChange, WhaleWatermark, WriterSettings, latest_version,
    spawn_writer,
};

const TIMEOUT: Duration = Duration::from_millis(2000);
const DAY: i64 = 86_400_000;

fn db_path(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("wt.paper.replay.db")
}

fn open(path: &Path) -> Result<SqliteStore, StoreError> {
    SqliteStore::open(path, "paper", "replay", TIMEOUT)
}

fn start(path: &Path) -> (StoreHandle, StoreWriter, CancellationToken) {
    let store = open(path).expect("open store");
    let cancel = CancellationToken::new();
    let (handle, writer) = spawn_writer(store, (&StoreConfig::default()).into(), cancel.clone()).expect("spawn");
    (handle, writer, cancel)
}

async fn stop(handle: StoreHandle, writer: StoreWriter, cancel: CancellationToken) {
    drop(handle);
    cancel.cancel();
    writer.join().await.expect("writer stops cleanly");
}

/// A second, independent connection, as the `sqlite3` shell would open it.
fn peek(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).expect("peek")
}

fn count(path: &Path, sql: &str) -> i64 {
    peek(path).query_row(sql, [], |r| r.get(0)).expect(sql)
}

fn position(id: &str, opened_at: i64) -> PositionRecord {
    PositionRecord {
        position_id: id.into(),
        whale_wallet: "0xwhale1".into(),
        market_id: "0xcondition".into(),
        token_id: format!("token-{id}"),
        outcome: "Yes".into(),
        side: Side::Buy,
        size: dec!(125.50),
        entry_price: dec!(0.4312),
        opened_at: Timestamp(opened_at),
        status: PositionStatus::Open,
        high_water_price: None,
        exit_price: None,
        realised_pnl: None,
        closed_at: None,
        exit_reason: None,
    }
}

fn closed(mut p: PositionRecord, exit: Decimal, pnl: Decimal, at: i64) -> PositionRecord {
    p.status = PositionStatus::Closed;
    p.exit_price = Some(exit);
    p.realised_pnl = Some(pnl);
    p.closed_at = Some(Timestamp(at));
    p.exit_reason = Some("take_profit".into());
    p
}

fn order(id: &str, status: OrderStatus, whale_trade_key: Option<&str>, position_id: Option<&str>) -> OrderRecord {
    OrderRecord {
        client_order_id: id.into(),
        venue_order_id: None,
        position_id: position_id.map(Into::into),
        whale_trade_key: whale_trade_key.map(Into::into),
        token_id: "token-1".into(),
        side: Side::Buy,
        limit_price: dec!(0.45),
        size: dec!(100),
        kind: OrderKind::Entry,
        status,
        created_at: Timestamp(1_000),
        updated_at: Timestamp(1_000),
    }
}

fn fill(id: &str, order_id: &str, at: i64) -> FillRecord {
    FillRecord {
        fill_id: id.into(),
        client_order_id: order_id.into(),
        price: dec!(0.4500),
        size: dec!(40),
        fee: dec!(0.018),
        filled_at: Timestamp(at),
    }
}

fn risk(daily_pnl: Decimal, at: i64) -> RiskStateRecord {
    RiskStateRecord {
        state_json: format!("{{\"daily_pnl\":\"{daily_pnl}\",\"breaker\":{{\"open\":false}}}}"),
        trading_state: "active".into(),
        reason: None,
        peak_equity: dec!(10250.75),
        start_of_day_equity: dec!(10000),
        daily_pnl,
        breaker_trips: 2,
        loss_streak: 1,
        updated_at: Timestamp(at),
    }
}

fn seen(key: &str, traded_at: i64, decision: WhaleVerdict) -> SeenWhaleTrade {
    SeenWhaleTrade { dedupe_key: key.into(), wallet: "0xwhale1".into(), traded_at: Timestamp(traded_at), decision }
}

fn decision(key: &str, at: i64, decision: WhaleVerdict, reason: &str) -> DecisionRecord {
    DecisionRecord {
        whale_trade_key: key.into(),
        wallet: "0xwhale1".into(),
        market_id: "0xcondition".into(),
        token_id: "token-1".into(),
        decision,
        reason_code: reason.into(),
        detail: Some("exposure 12% > 10%".into()),
        decided_at: Timestamp(at),
    }
}

fn whale_decision(key: &str, at: i64, d: WhaleVerdict, reason: &str) -> StoreCommand {
    StoreCommand::RecordWhaleDecision { trade: seen(key, at, d), decision: decision(key, at, d, reason) }
}

fn alert(id: &str, at: i64) -> AlertRecord {
    AlertRecord {
        alert_id: id.into(),
        priority: "critical".into(),
        title: "Trading halted".into(),
        body_json: "{\"reason\":\"daily_loss_limit\"}".into(),
        created_at: Timestamp(at),
        delivered_at: None,
    }
}

#[tokio::test]
async fn every_record_type_round_trips_and_recovery_returns_exactly_what_was_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (handle, writer, cancel) = start(&path);

    let open_a = position("p-a", 1_000);
    let open_b = PositionRecord { side: Side::Sell, ..position("p-b", 2_000) };
    let done = closed(position("p-c", 500), dec!(0.61), dec!(22.6155), 3_000);
    for p in [&open_a, &open_b, &done] {
        handle.write_durable(StoreCommand::UpsertPosition(p.clone())).await.unwrap();
    }
    // High-rate state: the last high-water mark wins.
    for price in [dec!(0.44), dec!(0.47), dec!(0.46)] {
        handle.send(StoreCommand::SetPositionHighWater { position_id: "p-a".into(), price }).await.unwrap();
    }

    let pending = order("o-pending", OrderStatus::Pending, Some("wt-1"), None);
    let partial = order("o-partial", OrderStatus::Submitted, Some("wt-2"), Some("p-a"));
    let filled = order("o-filled", OrderStatus::Submitted, None, Some("p-c"));
    for o in [&pending, &partial, &filled] {
        handle.write_durable(StoreCommand::InsertOrder(o.clone())).await.unwrap();
    }
    // A fill, its order status and its position change, all-or-nothing.
    handle
        .write_durable(StoreCommand::Atomic(vec![
            StoreCommand::RecordFill(fill("f-1", "o-partial", 1_500)),
            StoreCommand::UpdateOrder {
                client_order_id: "o-partial".into(),
                status: OrderStatus::PartiallyFilled,
                venue_order_id: Some("0xvenue-partial".into()),
                updated_at: Timestamp(1_500),
            },
        ]))
        .await
        .unwrap();
    handle.write_durable(StoreCommand::RecordFill(fill("f-2", "o-filled", 1_600))).await.unwrap();
    handle
        .write_durable(StoreCommand::UpdateOrder {
            client_order_id: "o-filled".into(),
            status: OrderStatus::Filled,
            venue_order_id: None,
            updated_at: Timestamp(1_600),
        })
        .await
        .unwrap();

    for (pnl, at) in [(dec!(-5), 4_000), (dec!(-12.25), 4_100), (dec!(3.5), 4_200)] {
        handle.send(StoreCommand::SaveRiskState(risk(pnl, at))).await.unwrap();
    }
    let change = TradingStateChange {
        from_state: "active".into(),
        to_state: "reducing".into(),
        reason: "circuit_breaker_open".into(),
        detail: Some("3 losses in 10 minutes".into()),
        changed_at: Timestamp(4_300),
    };
    handle.write_durable(StoreCommand::RecordTradingStateChange(change.clone())).await.unwrap();

    handle.write_durable(whale_decision("wt-1", 900, WhaleVerdict::Approved, "copied")).await.unwrap();
    handle.write_durable(whale_decision("wt-3", 950, WhaleVerdict::Rejected, "max_total_exposure")).await.unwrap();
    handle
        .write_durable(StoreCommand::RecordDecision(decision("wt-1", 990, WhaleVerdict::Skipped, "double_fire")))
        .await
        .unwrap();
    for (wallet, at) in [("0xwhale1", 5_000), ("0xwhale1", 4_000), ("0xwhale2", 7_000)] {
        handle
            .send(StoreCommand::AdvanceWatermark(WhaleWatermark { wallet: wallet.into(), watermark: Timestamp(at) }))
            .await
            .unwrap();
    }
    handle.write_durable(StoreCommand::EnqueueAlert(alert("al-1", 4_300))).await.unwrap();
    handle.write_durable(StoreCommand::EnqueueAlert(alert("al-2", 4_400))).await.unwrap();
    handle
        .write_durable(StoreCommand::MarkAlertDelivered { alert_id: "al-1".into(), at: Timestamp(4_350) })
        .await
        .unwrap();
    stop(handle, writer, cancel).await;

    let mut store = open(&path).unwrap();
    let recovered = store.load_recovery().unwrap();
    let open_a_now = PositionRecord { high_water_price: Some(dec!(0.46)), ..open_a };
    assert_eq!(recovered.open_positions, vec![open_a_now.clone(), open_b.clone()]);
    assert_eq!(recovered.risk_state, Some(risk(dec!(3.5), 4_200)));
    assert_eq!(recovered.last_trading_state_change, Some(change));
    assert_eq!(recovered.trading_state(), Some("reducing"), "the later transition wins over the snapshot");
    assert_eq!(
        recovered.watermarks,
        vec![
            WhaleWatermark { wallet: "0xwhale1".into(), watermark: Timestamp(5_000) },
            WhaleWatermark { wallet: "0xwhale2".into(), watermark: Timestamp(7_000) },
        ]
    );
    assert_eq!(
        recovered.seen_trades,
        vec![seen("wt-1", 900, WhaleVerdict::Approved), seen("wt-3", 950, WhaleVerdict::Rejected)]
    );
    let partial_now = OrderRecord {
        status: OrderStatus::PartiallyFilled,
        venue_order_id: Some("0xvenue-partial".into()),
        updated_at: Timestamp(1_500),
        ..partial
    };
    assert_eq!(
        recovered.non_final_orders,
        vec![
            // Same creation time: ordered by client order id.
            RecoveredOrder { order: partial_now, fills: vec![fill("f-1", "o-partial", 1_500)] },
            RecoveredOrder { order: pending, fills: vec![] },
        ]
    );
    assert_eq!(recovered.undelivered_alerts, vec![alert("al-2", 4_400)]);
    assert_eq!(
        recovered.summary().to_string().split(';').next().unwrap(),
        "recovered 2 open positions, 2 orders to reconcile, 2 seen whale trades, 2 watermarks, 1 undelivered alerts"
    );

    // What recovery does not return is still there, readable in plain SQL (as with the sqlite3 shell).
    let conn = peek(&path);
    let (exit, pnl, reason): (String, String, String) = conn
        .query_row("SELECT exit_price, realised_pnl, exit_reason FROM positions WHERE position_id = 'p-c'", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!((exit.as_str(), pnl.as_str(), reason.as_str()), ("0.61", "22.6155", "take_profit"));
    let audit: Vec<(String, String, String)> = conn
        .prepare("SELECT whale_trade_key, decision, reason_code FROM decision_audit ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let as_str: Vec<(&str, &str, &str)> = audit.iter().map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str())).collect();
    assert_eq!(
        as_str,
        [
            ("wt-1", "approved", "copied"),
            ("wt-3", "rejected", "max_total_exposure"),
            ("wt-1", "skipped", "double_fire")
        ]
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM fills WHERE client_order_id = 'o-filled' AND fee = '0.018'"), 1);
    assert_eq!(count(&path, "SELECT delivered_at FROM alert_outbox WHERE alert_id = 'al-1'"), 4_350);

    let status = store.status().unwrap();
    assert_eq!(status.open_positions, vec![open_a_now, open_b]);
    assert_eq!(status.open_cost_basis, dec!(125.50) * dec!(0.4312) * dec!(2));
    assert_eq!((status.closed_positions, status.winning_positions, status.losing_positions), (1, 1, 0));
    assert_eq!(status.realised_pnl, dec!(22.6155));
    assert_eq!(status.trading_state.as_deref(), Some("reducing"));
    assert_eq!(status.trading_reason.as_deref(), Some("circuit_breaker_open"));
    assert_eq!((status.non_final_orders, status.undelivered_alerts), (2, 1));
}

#[tokio::test]
async fn a_durable_ack_means_another_connection_already_sees_the_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (handle, writer, cancel) = start(&path);
    for i in 0..50 {
        // A fire-and-forget command queued before a durable one is committed no later than it.
        handle
            .send(StoreCommand::RecordDecision(decision(&format!("wt-{i}"), i, WhaleVerdict::Rejected, "price_moved")))
            .await
            .unwrap();
        let id = format!("o-{i}");
        handle.write_durable(StoreCommand::InsertOrder(order(&id, OrderStatus::Pending, None, None))).await.unwrap();
        let reader = peek(&path);
        let found: i64 =
            reader.query_row("SELECT COUNT(*) FROM orders WHERE client_order_id = ?1", [&id], |r| r.get(0)).unwrap();
        assert_eq!(found, 1, "order {id} acknowledged but not visible");
        assert_eq!(count(&path, "SELECT COUNT(*) FROM decision_audit"), i + 1);
    }
    stop(handle, writer, cancel).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_commit_puts_many_commands_in_one_transaction_under_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    // Through the trait object, as a daemon choosing its backend at run time would.
    let store: Box<dyn Store> = Box::new(open(&path).unwrap());
    let cancel = CancellationToken::new();
    let settings = WriterSettings { max_batch_size: 256, max_batch_delay: Duration::ZERO, queue_capacity: 1024 };
    let (handle, writer) = spawn_writer(store, settings, cancel.clone()).unwrap();
    const ORDERS: usize = 5_000;
    let mut receipts = Vec::with_capacity(ORDERS);
    for i in 0..ORDERS {
        let command = StoreCommand::InsertOrder(order(&format!("o-{i}"), OrderStatus::Pending, None, None));
        receipts.push(handle.submit_durable(command).await.unwrap());
    }
    for receipt in receipts {
        receipt.durable().await.unwrap();
    }
    let stats = handle.stats();
    assert_eq!(stats.commands_written, ORDERS as u64);
    assert!(stats.transactions * 10 <= ORDERS as u64, "expected batching, got {stats:?}");
    assert!(stats.largest_batch > 1 && stats.largest_batch <= 256, "{stats:?}");
    assert!(stats.deepest_queue <= 1024 + 256, "{stats:?}");
    assert_eq!(count(&path, "SELECT COUNT(*) FROM orders"), ORDERS as i64);
    stop(handle, writer, cancel).await;
}

#[tokio::test]
async fn a_refused_command_fails_alone_and_leaves_its_batch_mates_written() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (handle, writer, cancel) = start(&path);
    let first = order("o-1", OrderStatus::Pending, None, None);
    handle.write_durable(StoreCommand::InsertOrder(first.clone())).await.unwrap();

    // Pipelined, so they very likely share one batch.
    let duplicate = OrderRecord { size: dec!(999), ..first.clone() };
    let dup = handle.submit_durable(StoreCommand::InsertOrder(duplicate)).await.unwrap();
    let other =
        handle.submit_durable(StoreCommand::InsertOrder(order("o-2", OrderStatus::Pending, None, None))).await.unwrap();
    let orphan_fill = handle.submit_durable(StoreCommand::RecordFill(fill("f-x", "o-missing", 5))).await.unwrap();
    let repeat_trade_1 =
        handle.submit_durable(whale_decision("wt-9", 10, WhaleVerdict::Approved, "copied")).await.unwrap();
    let repeat_trade_2 =
        handle.submit_durable(whale_decision("wt-9", 11, WhaleVerdict::Approved, "copied")).await.unwrap();
    let bad_json = handle
        .submit_durable(StoreCommand::EnqueueAlert(AlertRecord { body_json: "{oops".into(), ..alert("al", 1) }))
        .await
        .unwrap();
    let half_atomic = handle
        .submit_durable(StoreCommand::Atomic(vec![
            StoreCommand::InsertOrder(order("o-3", OrderStatus::Pending, None, None)),
            StoreCommand::RecordFill(fill("f-y", "o-nowhere", 6)),
        ]))
        .await
        .unwrap();

    assert_eq!(dup.durable().await, Err(StoreError::DuplicateClientOrderId { client_order_id: "o-1".into() }));
    assert_eq!(other.durable().await, Ok(()));
    assert_eq!(orphan_fill.durable().await, Err(StoreError::UnknownOrder { client_order_id: "o-missing".into() }));
    assert_eq!(repeat_trade_1.durable().await, Ok(()));
    assert_eq!(repeat_trade_2.durable().await, Err(StoreError::DuplicateWhaleTrade { dedupe_key: "wt-9".into() }));
    assert!(matches!(bad_json.durable().await, Err(StoreError::InvalidRecord { field: "alert.body_json", .. })));
    assert_eq!(half_atomic.durable().await, Err(StoreError::UnknownOrder { client_order_id: "o-nowhere".into() }));
    let stats = handle.stats();
    stop(handle, writer, cancel).await;

    assert_eq!(stats.commands_refused, 5);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM orders"), 2, "o-1 and o-2 only; o-3 rolled back with its group");
    assert_eq!(
        count(&path, "SELECT COUNT(*) FROM orders WHERE client_order_id = 'o-1' AND size = '100'"),
        1,
        "the original is unchanged"
    );
    assert_eq!(
        count(&path, "SELECT COUNT(*) FROM decision_audit WHERE whale_trade_key = 'wt-9'"),
        1,
        "no second decision"
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM fills"), 0);
}

fn write_some_state(path: &Path) {
    let mut store = open(path).unwrap();
    let commands: Vec<StoreCommand> = (0..400)
        .map(|i| {
            StoreCommand::InsertOrder(order(&format!("order-with-a-long-id-{i:05}"), OrderStatus::Pending, None, None))
        })
        .collect();
    let refs: Vec<&StoreCommand> = commands.iter().collect();
    assert!(store.write_batch(&refs).unwrap().iter().all(Result::is_ok));
    store.checkpoint().unwrap();
}

fn assert_refused_untouched(path: &Path, expect_in_problem: &str) {
    let before = std::fs::read(path).unwrap();
    let err = open(path).unwrap_err();
    match &err {
        StoreError::Corrupt { path: p, problem } => {
            assert_eq!(p, path);
            assert!(problem.contains(expect_in_problem), "{problem}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
    assert!(err.to_string().contains("Refusing to start"), "{err}");
    assert_eq!(std::fs::read(path).unwrap(), before, "the damaged file must be left as it was");
    assert!(matches!(SqliteStore::open_read_only(path, TIMEOUT), Err(StoreError::Corrupt { .. })));
    assert_eq!(std::fs::read(path).unwrap(), before);
}

#[test]
fn garbage_over_the_header_is_a_typed_error_and_the_file_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    write_some_state(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..64].copy_from_slice(&[0xA5; 64]);
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_untouched(&path, "SQLite header");
}

#[test]
fn a_truncated_file_is_a_typed_error_and_the_file_is_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    write_some_state(&path);
    let full = std::fs::read(&path).unwrap();
    assert!(full.len() > 8 * 4096, "need a multi-page file, got {} bytes", full.len());
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    assert_refused_untouched(&path, "malformed");

    std::fs::write(&path, &full[..60]).unwrap();
    assert_refused_untouched(&path, "shorter than the 100-byte SQLite header");
}

#[test]
fn garbage_inside_the_pages_is_caught_by_quick_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    write_some_state(&path);
    let mut bytes = std::fs::read(&path).unwrap();
    let page = 4096;
    // Overwrite every page after the first with noise, keeping the header valid.
    for (i, b) in bytes.iter_mut().enumerate().skip(page) {
        *b = (i * 31 % 251) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();
    assert_refused_untouched(&path, "");
}

#[tokio::test]
async fn reopening_applies_no_migration_twice_and_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (handle, writer, cancel) = start(&path);
    handle.write_durable(StoreCommand::InsertOrder(order("o-1", OrderStatus::Unknown, None, None))).await.unwrap();
    stop(handle, writer, cancel).await;
    for _ in 0..3 {
        let mut store = open(&path).unwrap();
        assert_eq!(store.schema_version().unwrap(), latest_version());
        assert_eq!(store.load_recovery().unwrap().non_final_orders.len(), 1);
    }
    assert_eq!(count(&path, "SELECT COUNT(*) FROM schema_version"), latest_version());
}

#[test]
fn a_database_from_a_newer_binary_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    drop(open(&path).unwrap());
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute("INSERT INTO schema_version VALUES (42, 'future', 0)", [])
        .unwrap();
    let err = open(&path).unwrap_err();
    assert_eq!(err, StoreError::SchemaTooNew { path: path.clone(), found: 42, supported: latest_version() });
    assert!(matches!(SqliteStore::open_read_only(&path, TIMEOUT), Err(StoreError::SchemaTooNew { .. })));
}

#[tokio::test]
async fn retention_prunes_only_old_audit_and_unprotected_seen_trades() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (handle, writer, cancel) = start(&path);
    let now = 100 * DAY;
    let old = now - 40 * DAY;
    let recent = now - DAY;
    let mut setup = vec![
        // Old trades: one protected by an open position, one by a live order, two unprotected.
        whale_decision("old-open-position", old, WhaleVerdict::Approved, "copied"),
        whale_decision("old-live-order", old, WhaleVerdict::Approved, "copied"),
        whale_decision("old-closed-position", old, WhaleVerdict::Approved, "copied"),
        whale_decision("old-rejected", old, WhaleVerdict::Rejected, "max_total_positions"),
        whale_decision("recent", recent, WhaleVerdict::Rejected, "stale_price"),
        StoreCommand::UpsertPosition(position("p-open", old)),
        StoreCommand::UpsertPosition(closed(position("p-closed", old), dec!(0.3), dec!(-4), old + DAY)),
        StoreCommand::InsertOrder(order("o-open-pos", OrderStatus::Filled, Some("old-open-position"), Some("p-open"))),
        StoreCommand::InsertOrder(order("o-live", OrderStatus::Submitted, Some("old-live-order"), None)),
        StoreCommand::InsertOrder(order(
            "o-closed",
            OrderStatus::Filled,
            Some("old-closed-position"),
            Some("p-closed"),
        )),
    ];
    setup.push(StoreCommand::Prune(RetentionCutoffs {
        decisions_before: Timestamp(now - 30 * DAY),
        seen_trades_before: Timestamp(now - 30 * DAY),
    }));
    handle.write_durable(StoreCommand::Atomic(setup)).await.unwrap();
    stop(handle, writer, cancel).await;

    let keys: Vec<String> = peek(&path)
        .prepare("SELECT dedupe_key FROM seen_whale_trades ORDER BY dedupe_key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(keys, ["old-live-order", "old-open-position", "recent"]);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM decision_audit"), 1, "only the recent decision is kept");
    assert_eq!(count(&path, "SELECT COUNT(*) FROM positions"), 2, "positions are never pruned");
    assert_eq!(count(&path, "SELECT COUNT(*) FROM orders"), 3, "orders are never pruned");
}

#[tokio::test]
async fn retention_cutoffs_come_from_the_config_ages() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (handle, writer, cancel) = start(&path);
    let now = 100 * DAY;
    for (key, age_days) in [("a", 2), ("b", 8), ("c", 40)] {
        handle
            .write_durable(whale_decision(key, now - age_days * DAY, WhaleVerdict::Skipped, "not_held"))
            .await
            .unwrap();
    }
    let config = StoreConfig { decision_audit_retention_days: 30, seen_trades_retention_days: 7, ..Default::default() };
    handle.write_durable(StoreCommand::Prune(config.retention_cutoffs(Timestamp(now)))).await.unwrap();
    stop(handle, writer, cancel).await;
    assert_eq!(count(&path, "SELECT COUNT(*) FROM seen_whale_trades"), 1);
    assert_eq!(count(&path, "SELECT COUNT(*) FROM decision_audit"), 2);
}

#[tokio::test]
async fn status_reads_offline_and_while_the_writer_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_path(&dir);
    let (handle, writer, cancel) = start(&path);
    handle.write_durable(StoreCommand::UpsertPosition(position("p-1", 1))).await.unwrap();
    handle
        .write_durable(StoreCommand::SaveRiskState(RiskStateRecord {
            trading_state: "halted".into(),
            reason: Some("daily_loss_limit".into()),
            ..risk(dec!(-500), 9)
        }))
        .await
        .unwrap();
    let live = SqliteStore::open_read_only(&path, TIMEOUT).unwrap().status().unwrap();
    assert_eq!(live.open_positions.len(), 1);
    assert_eq!(live.trading_state.as_deref(), Some("halted"));
    assert_eq!(live.trading_reason.as_deref(), Some("daily_loss_limit"));
    handle
        .write_durable(StoreCommand::UpsertPosition(closed(position("p-1", 1), dec!(0.2), dec!(-29.0), 50)))
        .await
        .unwrap();
    stop(handle, writer, cancel).await;

    let mut offline = SqliteStore::open_read_only(&path, TIMEOUT).unwrap();
    let config = StoreConfig { path: dir.path().join("wt.db"), ..Default::default() };
    assert_eq!(SqliteStore::open_read_only_for(&config, Mode::Paper, FeedSource::Replay).unwrap().path(), path);
    let status = offline.status().unwrap();
    assert_eq!((status.mode.as_deref(), status.feed_source.as_deref()), (Some("paper"), Some("replay")));
    assert!(status.open_positions.is_empty());
    assert_eq!((status.realised_pnl, status.losing_positions), (dec!(-29.0), 1));
    assert_eq!(status.risk_state.map(|r| r.daily_pnl), Some(dec!(-500)));
    let refs: [&StoreCommand; 0] = [];
    assert_eq!(offline.write_batch(&refs), Err(StoreError::ReadOnly));
}

#[test]
fn paper_and_live_never_share_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig { path: dir.path().join("wt.db"), ..Default::default() };
    let paper = SqliteStore::open_for(&config, Mode::Paper, FeedSource::Polymarket).unwrap();
    let live = SqliteStore::open_for(&config, Mode::Live, FeedSource::Polymarket).unwrap();
    assert_ne!(paper.path(), live.path());
    let shared = StoreConfig { separate_per_mode: false, ..config };
    drop(SqliteStore::open_for(&shared, Mode::Paper, FeedSource::Polymarket).unwrap());
    assert!(matches!(
        SqliteStore::open_for(&shared, Mode::Live, FeedSource::Polymarket),
        Err(StoreError::ModeMismatch { .. })
    ));
}

#[test]
fn the_demo_and_real_wallets_never_share_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = StoreConfig { path: dir.path().join("wt.db"), ..Default::default() };
    let demo = SqliteStore::open_for(&config, Mode::Paper, FeedSource::Replay).unwrap();
    let real = SqliteStore::open_for(&config, Mode::Paper, FeedSource::Polymarket).unwrap();
    assert_ne!(demo.path(), real.path());
    drop((demo, real));
    // An explicit shared file is stamped with the first feed and refuses the other, naming both.
    let shared = StoreConfig { separate_per_mode: false, ..config };
    drop(SqliteStore::open_for(&shared, Mode::Paper, FeedSource::Replay).unwrap());
    let err = SqliteStore::open_for(&shared, Mode::Paper, FeedSource::Polymarket).unwrap_err();
    assert!(
        matches!(err, StoreError::SourceMismatch { ref found, ref expected, .. } if found == "replay" && expected == "polymarket"),
        "{err}"
    );
}
