//! Redeeming winning positions on chain (feature `live`), against a loopback stand-in of a Polygon
//! JSON-RPC node: an axum server on 127.0.0.1 answering the eth_* methods the redeemer uses. It
//! decodes every raw transaction it is sent (EIP-1559 envelope, signer recovered from the
//! signature, calldata decoded against its own declaration of the contracts' ABI), "mines" it by
//! paying out the holder's balance, and looks into the store at the moment of each broadcast.
//!
//! The resolution input cannot come from the daemon yet (the live feeds do not detect resolutions,
//! and the replay feed cannot run live), so the engine task is driven directly, with the real
//! SQLite store and store writer; the engine's events are handed to the redeemer as the daemon's
//! recorder does (a redemption request, once durable, goes to the redeemer's queue).

#![cfg(feature = "live")]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use alloy::consensus::{SignableTransaction, TxEnvelope};
use alloy::eips::eip2718::Decodable2718;
use alloy::primitives::{Address, B256, U256, keccak256};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::SolCall;
use axum::Json;
use axum::extract::State;
use axum::routing::post;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal_macros::dec;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use whale_trader::alerts::{Alert, Priority};
use whale_trader::clock::{SimClock, Timestamp};
use whale_trader::config::{Config, Secret};
use whale_trader::engine::journal::Journal;
use whale_trader::engine::{
    DiscardAuditSink, Engine, EngineEvent, EngineSettings, Input, PaperExecutor, RedemptionRequest,
};
use whale_trader::live::redeem::{Contracts, Gas, Redeemer, RedeemerStart, condition_id, ctf_redeem, sign};
use whale_trader::market::OrderBook;
use whale_trader::polymarket::{ActivityRow, PolymarketConfig, parse_v1_row};
use whale_trader::runtime::{EngineMsg, Persistence, spawn_engine_task};
use whale_trader::store::{
    RedemptionRecord, RedemptionStatus, RedemptionUpdate, SentTransaction, SqliteStore, StoreCommand, StoreConfig,
    StoreHandle, StoreWriter, spawn_writer,
};

// anvil's first test key: a well-known key that never holds anything real.
const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const WHALE: &str = "0x1111111111111111111111111111111111111111";
const CONDITION: &str = "0xaaaa000000000000000000000000000000000000000000000000000000000001";
const CONDITION_B: &str = "0xbbbb000000000000000000000000000000000000000000000000000000000002";
const YES: &str = "1001";
const TOKEN_B: &str = "2001";
const START: Timestamp = Timestamp::from_secs(1_767_607_200);
const TIMEOUT: Duration = Duration::from_secs(5);

// The contracts as the test declares them, independently of the crate's own declaration.
sol! {
    #[derive(Debug, PartialEq, Eq)]
    function redeemPositions(address collateralToken, bytes32 parentCollectionId, bytes32 conditionId, uint256[] indexSets);
    #[derive(Debug, PartialEq, Eq)]
    function balanceOf(address owner, uint256 id) returns (uint256);
}

fn key() -> PrivateKeySigner {
    PrivateKeySigner::from_str(KEY).unwrap_or_else(|e| panic!("{e}"))
}

// --- the JSON-RPC stand-in -------------------------------------------------------------------------

/// A transaction the stand-in was sent, decoded.
#[derive(Debug, Clone)]
struct Broadcast {
    raw: String,
    hash: B256,
    from: Address,
    nonce: u64,
    chain_id: u64,
    to: Address,
    call: redeemPositionsCall,
    /// The store's row for this transaction's hash when it arrived: (status, tx_hash).
    row_at_broadcast: Option<(String, Option<String>)>,
}

#[derive(Default)]
struct ChainState {
    /// ERC-1155 balances of the holder, by position id.
    balances: HashMap<U256, U256>,
    /// The positions of each condition (a redeem pays them all out).
    positions: HashMap<B256, Vec<U256>>,
    next_nonce: u64,
    broadcasts: Vec<Broadcast>,
    /// Hashes mined, with their block.
    mined: HashMap<B256, u64>,
    /// Methods called, in order.
    calls: Vec<String>,
    /// The database the stand-in looks into at each broadcast.
    db: Option<PathBuf>,
}

#[derive(Clone)]
struct Chain {
    state: Arc<Mutex<ChainState>>,
    url: String,
}

impl Chain {
    async fn start(db: &Path) -> Self {
        let state = Arc::new(Mutex::new(ChainState { db: Some(db.to_path_buf()), ..ChainState::default() }));
        let app = axum::Router::new().route("/", post(rpc)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap_or_else(|e| panic!("{e}"));
        let url = format!("http://{}/", listener.local_addr().unwrap_or_else(|e| panic!("{e}")));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { state, url }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ChainState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn hold(&self, condition: &str, token: &str, units: u64) {
        let position = U256::from_str(token).unwrap_or_else(|e| panic!("{e}"));
        let mut state = self.state();
        state.balances.insert(position, U256::from(units));
        state.positions.entry(condition.parse().unwrap_or_else(|e| panic!("{e}"))).or_default().push(position);
    }

    fn broadcasts(&self) -> Vec<Broadcast> {
        self.state().broadcasts.clone()
    }

    fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }
}

fn quantity(n: u128) -> Value {
    json!(format!("{n:#x}"))
}

async fn rpc(State(state): State<Arc<Mutex<ChainState>>>, Json(body): Json<Value>) -> Json<Value> {
    let method = body["method"].as_str().unwrap_or_default().to_owned();
    let params = body["params"].clone();
    let mut chain = state.lock().unwrap_or_else(PoisonError::into_inner);
    chain.calls.push(method.clone());
    let result = match method.as_str() {
        "eth_chainId" => quantity(137),
        "eth_getTransactionCount" => {
            assert_eq!(params[1], "pending", "the nonce counts the pool");
            quantity(u128::from(chain.next_nonce))
        }
        "eth_getBlockByNumber" => json!({ "number": "0x64", "baseFeePerGas": quantity(30_000_000_000) }),
        "eth_maxPriorityFeePerGas" => quantity(30_000_000_000),
        "eth_estimateGas" => quantity(150_000),
        "eth_call" => {
            let data: alloy::primitives::Bytes =
                serde_json::from_value(params[0]["data"].clone()).unwrap_or_else(|e| panic!("{e}"));
            let call = balanceOfCall::abi_decode(&data).unwrap_or_else(|e| panic!("not balanceOf: {e}"));
            assert_eq!(call.owner, key().address(), "the EOA holds its own tokens");
            let balance = chain.balances.get(&call.id).copied().unwrap_or_default();
            json!(format!("{:#066x}", balance))
        }
        "eth_sendRawTransaction" => {
            let raw = params[0].as_str().unwrap_or_default().to_owned();
            let bytes: alloy::primitives::Bytes = raw.parse().unwrap_or_else(|e| panic!("{e}"));
            let TxEnvelope::Eip1559(signed) =
                TxEnvelope::decode_2718(&mut bytes.as_ref()).unwrap_or_else(|e| panic!("{e}"))
            else {
                panic!("not an EIP-1559 transaction")
            };
            let tx = signed.tx();
            let from =
                signed.signature().recover_address_from_prehash(&tx.signature_hash()).unwrap_or_else(|e| panic!("{e}"));
            let call = redeemPositionsCall::abi_decode(&tx.input).unwrap_or_else(|e| panic!("not a redeem: {e}"));
            let hash = keccak256(&bytes);
            let row = chain.db.as_deref().and_then(|db| row_for(db, &format!("{hash:#x}")));
            let to = tx.to.to().copied().unwrap_or_default();
            chain.broadcasts.push(Broadcast {
                raw,
                hash,
                from,
                nonce: tx.nonce,
                chain_id: tx.chain_id,
                to,
                call: call.clone(),
                row_at_broadcast: row,
            });
            if tx.nonce < chain.next_nonce && !chain.mined.contains_key(&hash) {
                drop(chain);
                return Json(
                    json!({ "jsonrpc": "2.0", "id": 1, "error": { "code": -32000, "message": "nonce too low" } }),
                );
            }
            // Mined at once: the holder's winning shares are paid out.
            chain.next_nonce = chain.next_nonce.max(tx.nonce + 1);
            let block = 100 + chain.mined.len() as u64;
            chain.mined.insert(hash, block);
            for position in chain.positions.get(&call.conditionId).cloned().unwrap_or_default() {
                chain.balances.remove(&position);
            }
            json!(format!("{hash:#x}"))
        }
        "eth_getTransactionReceipt" => {
            let hash: B256 = serde_json::from_value(params[0].clone()).unwrap_or_else(|e| panic!("{e}"));
            match chain.mined.get(&hash) {
                Some(block) => json!({
                    "transactionHash": format!("{hash:#x}"),
                    "status": "0x1",
                    "blockNumber": quantity(u128::from(*block)),
                    "gasUsed": quantity(120_000),
                }),
                None => Value::Null,
            }
        }
        "eth_getTransactionByHash" => {
            let hash: B256 = serde_json::from_value(params[0].clone()).unwrap_or_else(|e| panic!("{e}"));
            if chain.mined.contains_key(&hash) { json!({ "hash": format!("{hash:#x}") }) } else { Value::Null }
        }
        other => panic!("unexpected method {other}"),
    };
    Json(json!({ "jsonrpc": "2.0", "id": body["id"], "result": result }))
}

/// The store's row for a transaction hash, read from the file as another process would.
fn row_for(db: &Path, hash: &str) -> Option<(String, Option<String>)> {
    let store = SqliteStore::open_read_only(db, TIMEOUT).ok()?;
    let rows = store.redemptions().ok()?;
    rows.into_iter().find(|r| r.tx_hash.as_deref() == Some(hash)).map(|r| (r.status.as_str().to_owned(), r.tx_hash))
}

// --- the daemon's parts --------------------------------------------------------------------------

fn polymarket(rpc_url: &str, signature_type: u8) -> PolymarketConfig {
    let mut config = PolymarketConfig { rpc_url: rpc_url.to_owned(), ..PolymarketConfig::default() };
    config.credentials.private_key = Secret::new(KEY.to_owned());
    config.credentials.funder_address = Secret::new(format!("{:#x}", key().address()));
    config.credentials.signature_type = signature_type;
    config.redeem.receipt_poll_ms = 20;
    config.redeem.retry_secs = 1;
    config
}

type Alerts = Arc<Mutex<Vec<Alert>>>;

fn alerts_of(alerts: &Alerts) -> Vec<(Priority, String, String)> {
    alerts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .map(|a| (a.priority, a.title.clone(), a.message.clone()))
        .collect()
}

/// The alerts once `done` holds of them: the redeemer writes a row's status before it alerts, so
/// a test that saw the row waits (bounded) for the alert that follows it.
async fn wait_for_alerts(
    alerts: &Alerts,
    what: &str,
    done: impl Fn(&[(Priority, String, String)]) -> bool,
) -> Vec<(Priority, String, String)> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let seen = alerts_of(alerts);
        if done(&seen) {
            return seen;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {seen:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Store {
    dir: tempfile::TempDir,
    path: PathBuf,
    handle: StoreHandle,
    stop: CancellationToken,
    writer: StoreWriter,
}

/// Opens the live store in `dir` as the daemon does at start: its recovery, then the writer.
fn open_store(dir: tempfile::TempDir) -> (Store, Vec<RedemptionRecord>) {
    let path = dir.path().join("live.db");
    let mut store = SqliteStore::open(&path, "live", "polymarket", TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let recovered = whale_trader::store::Store::load_recovery(&mut store).unwrap_or_else(|e| panic!("{e}"));
    let stop = CancellationToken::new();
    let (handle, writer) =
        spawn_writer(store, (&StoreConfig::default()).into(), stop.clone()).unwrap_or_else(|e| panic!("{e}"));
    (Store { dir, path, handle, stop, writer }, recovered.open_redemptions)
}

impl Store {
    /// Stops the writer (everything queued is committed) and hands the directory back.
    async fn close(self) -> tempfile::TempDir {
        self.stop.cancel();
        self.writer.join().await.unwrap_or_else(|e| panic!("{e}"));
        self.dir
    }
}

fn start_redeemer(
    store: &Store,
    config: PolymarketConfig,
    open: Vec<RedemptionRecord>,
    stop: &CancellationToken,
) -> (mpsc::Sender<RedemptionRequest>, Alerts, tokio::task::JoinHandle<()>) {
    let alerts: Alerts = Arc::default();
    let sink = alerts.clone();
    let redeemer = Redeemer::new(RedeemerStart {
        polymarket: config,
        store: store.handle.clone(),
        alerts: Arc::new(move |a| sink.lock().unwrap_or_else(PoisonError::into_inner).push(a)),
        clock: Arc::new(SimClock::starting_at(START)),
        open,
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = mpsc::channel(16);
    let stop = stop.clone();
    let task = tokio::spawn(async move {
        let _ = redeemer.run(rx, stop).await;
    });
    (tx, alerts, task)
}

fn redemptions(store: &Store) -> Vec<RedemptionRecord> {
    SqliteStore::open_read_only(&store.path, TIMEOUT).and_then(|s| s.redemptions()).unwrap_or_else(|e| panic!("{e}"))
}

/// Waits (bounded) until `done` holds of the store's redemptions.
async fn wait_for_rows(store: &Store, what: &str, done: impl Fn(&[RedemptionRecord]) -> bool) -> Vec<RedemptionRecord> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let rows = redemptions(store);
        if done(&rows) {
            return rows;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out waiting for {what}: {rows:#?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn live_config() -> Config {
    let text = format!("[daemon]\nmode = \"live\"\n[[copy.whales]]\naddress = \"{WHALE}\"\nmultiplier = 1\n");
    let config: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.validate(), vec![]);
    config
}

fn book(token: &str, at: Timestamp) -> Input {
    let json = format!(
        r#"{{"market":"{CONDITION}","asset_id":"{token}","timestamp":"{}","bids":[{{"price":"0.49","size":"1000"}}],"asks":[{{"price":"0.50","size":"1000"}}],"min_order_size":"5","tick_size":"0.01","neg_risk":false}}"#,
        at.millis()
    );
    Input::Book(Box::new(OrderBook::from_json(&json).unwrap_or_else(|e| panic!("{e}"))))
}

fn whale_buy(token: &str, at: Timestamp) -> Input {
    let json = format!(
        r#"{{"proxyWallet":"{WHALE}","side":"BUY","asset":"{token}","conditionId":"{CONDITION}","size":1000,"price":0.5,"timestamp":{},"title":"t","slug":"s","icon":"","eventSlug":"e","outcome":"Yes","outcomeIndex":0,"name":"","pseudonym":"","bio":"","profileImage":"","profileImageOptimized":"","transactionHash":"0x{:064x}"}}"#,
        at.millis() / 1000,
        at.millis()
    );
    match parse_v1_row(&json) {
        Ok(ActivityRow::Trade(trade)) => Input::WhaleTrade(Box::new(trade)),
        other => panic!("not a trade row: {other:?}"),
    }
}

fn expected_ctf_call(condition: &str) -> (Address, redeemPositionsCall) {
    let contracts = Contracts::for_chain(137).unwrap_or_else(|e| panic!("{e}"));
    let call = redeemPositionsCall {
        collateralToken: contracts.collateral,
        parentCollectionId: B256::ZERO,
        conditionId: condition.parse().unwrap_or_else(|e| panic!("{e}")),
        indexSets: vec![U256::from(1), U256::from(2)],
    };
    (contracts.conditional_tokens, call)
}

// --- scenarios -----------------------------------------------------------------------------------

/// A live position in the winning outcome: the resolution settles it, the engine task writes the
/// redemption ahead, the redeemer records the transaction's hash, broadcasts it, and records the
/// receipt; the outcome is alerted with the amount.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resolved_winner_is_redeemed_on_chain_through_the_engine_and_the_store() {
    let (store, open) = open_store(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
    assert!(open.is_empty());
    let chain = Chain::start(&store.path).await;
    let stop = CancellationToken::new();
    let (requests, alerts, redeemer) = start_redeemer(&store, polymarket(&chain.url, 0), open, &stop);

    let engine = Engine::new(Arc::new(live_config()), EngineSettings::default(), Box::new(DiscardAuditSink), START)
        .unwrap_or_else(|e| panic!("{e}"));
    let (events_tx, mut events_rx) = mpsc::channel::<EngineEvent>(64);
    // As the daemon's recorder does: every event arrives once durable; requests go to the redeemer.
    let forward = tokio::spawn(async move {
        let mut forwarded = 0;
        while let Some(event) = events_rx.recv().await {
            if let EngineEvent::RedemptionRequested(request) = event {
                requests.send(*request).await.unwrap_or_else(|e| panic!("{e}"));
                forwarded += 1;
            }
        }
        forwarded
    });
    let engine_stop = CancellationToken::new();
    let handle = spawn_engine_task(
        engine,
        Box::new(PaperExecutor::default()),
        Arc::new(SimClock::starting_at(START)),
        16,
        events_tx,
        Some(Persistence::new(store.handle.clone(), Journal::new("polymarket"), None)),
        engine_stop.clone(),
    );
    let send = |input: Input, secs: i64| EngineMsg::at(input, START.plus_secs(secs));
    for msg in [send(book(YES, START), 0), send(whale_buy(YES, START), 0)] {
        handle.inputs.send(msg).await.unwrap_or_else(|e| panic!("{e}"));
    }
    let mut status = handle.status.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while status.borrow_and_update().open_positions != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the copy never opened: {:?}", *status.borrow());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // The position as the store holds it (its fill was durable before the position changed).
    let mut reader = SqliteStore::open_read_only(&store.path, TIMEOUT).unwrap_or_else(|e| panic!("{e}"));
    let recovered = whale_trader::store::Store::load_recovery(&mut reader).unwrap_or_else(|e| panic!("{e}"));
    let shares = recovered.open_positions.first().map(|p| p.size).unwrap_or_else(|| panic!("no position stored"));
    // What the chain holds for the wallet: the shares bought, in 6-decimal units.
    chain.hold(CONDITION, YES, (shares * dec!(1_000_000)).trunc().to_u64().unwrap_or_default());
    let resolution = Input::Resolution { condition_id: CONDITION.into(), winning_token_id: YES.into() };
    handle.inputs.send(send(resolution, 60)).await.unwrap_or_else(|e| panic!("{e}"));

    let rows = wait_for_rows(&store, "the redemption confirmed", |rows| {
        rows.first().is_some_and(|r| r.status == RedemptionStatus::Confirmed)
    })
    .await;
    let row = &rows[0];
    assert_eq!(rows.len(), 1);
    assert_eq!((row.condition_id.as_str(), row.token_id.as_str(), row.shares), (CONDITION, YES, shares));
    assert!(row.detail.as_deref().unwrap_or_default().contains("mined in block 100"), "{row:?}");

    // One transaction: the CTF redeem of both index sets, for the configured chain, from the key.
    let broadcasts = chain.broadcasts();
    assert_eq!(broadcasts.len(), 1, "{broadcasts:#?}");
    let sent = &broadcasts[0];
    let (ctf, expected) = expected_ctf_call(CONDITION);
    assert_eq!((sent.to, sent.from, sent.chain_id, sent.nonce), (ctf, key().address(), 137, 0));
    assert_eq!(sent.call, expected);
    // Its hash was in the store, status `sent`, before the node saw it.
    let hash = format!("{:#x}", sent.hash);
    assert_eq!(sent.row_at_broadcast, Some(("sent".to_owned(), Some(hash.clone()))));
    assert_eq!((row.tx_hash.as_deref(), row.raw_tx.as_deref()), (Some(hash.as_str()), Some(sent.raw.as_str())));
    let alerts =
        wait_for_alerts(&alerts, "the redeemed alert", |seen| seen.iter().any(|a| a.1 == "Position Redeemed")).await;
    assert!(
        alerts.iter().any(|(p, title, message)| *p == Priority::Info
            && title == "Position Redeemed"
            && message.contains(&whale_trader::alerts::usd(shares))),
        "{alerts:#?}"
    );

    engine_stop.cancel();
    handle.task.await.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(forward.await.unwrap_or_else(|e| panic!("{e}")), 1, "one request for one resolved market");
    stop.cancel();
    redeemer.await.unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
}

/// Writes a redemption row as the engine task does, and optionally its `sent` step as the
/// redeemer does just before broadcasting (a crash then leaves exactly this).
async fn written_ahead(
    store: &Store,
    id: &str,
    condition: &str,
    token: &str,
    sent: Option<SentTransaction>,
) -> RedemptionRecord {
    let record = RedemptionRecord {
        redemption_id: id.to_owned(),
        condition_id: condition.to_owned(),
        token_id: token.to_owned(),
        outcome: "Yes".into(),
        shares: dec!(20),
        neg_risk: false,
        status: RedemptionStatus::Pending,
        tx_hash: None,
        nonce: None,
        raw_tx: None,
        detail: None,
        created_at: START,
        updated_at: START,
    };
    let h = &store.handle;
    h.write_durable(StoreCommand::InsertRedemption(record.clone())).await.unwrap_or_else(|e| panic!("{e}"));
    if let Some(sent) = sent {
        let update = RedemptionUpdate {
            redemption_id: record.redemption_id.clone(),
            status: RedemptionStatus::Sent,
            sent: Some(sent),
            detail: None,
            updated_at: START,
        };
        h.write_durable(StoreCommand::UpdateRedemption(update)).await.unwrap_or_else(|e| panic!("{e}"));
    }
    record
}

/// A crash between recording a transaction and broadcasting it: after the restart the redeemer asks
/// for the receipt by the recorded hash, finds the node has never seen it, and broadcasts exactly
/// the recorded bytes (same nonce, same hash) rather than signing a new one. A redemption still
/// `pending` is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_a_sent_redemption_is_reconciled_by_its_hash_and_a_pending_one_is_sent() {
    let (store, _) = open_store(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
    let contracts = Contracts::for_chain(137).unwrap_or_else(|e| panic!("{e}"));
    let call = ctf_redeem(&contracts, condition_id(CONDITION).unwrap_or_else(|e| panic!("{e}")));
    let gas = Gas { limit: 180_000, max_fee_per_gas: 90_000_000_000, max_priority_fee_per_gas: 30_000_000_000 };
    let signed = sign(&key(), 137, 0, gas, &call).unwrap_or_else(|e| panic!("{e}"));
    let sent = SentTransaction { tx_hash: format!("{:#x}", signed.hash), nonce: 0, raw_tx: signed.raw.to_string() };
    written_ahead(&store, &format!("{CONDITION}/T1"), CONDITION, YES, Some(sent.clone())).await;
    written_ahead(&store, &format!("{CONDITION_B}/T2"), CONDITION_B, TOKEN_B, None).await;
    // The restart: the store hands back what is not final.
    let (store, open) = open_store(store.close().await);
    let statuses: Vec<_> = open.iter().map(|r| (r.condition_id.as_str(), r.status)).collect();
    assert_eq!(statuses, vec![(CONDITION, RedemptionStatus::Sent), (CONDITION_B, RedemptionStatus::Pending)]);
    let chain = Chain::start(&store.path).await;
    chain.hold(CONDITION, YES, 20_000_000);
    chain.hold(CONDITION_B, TOKEN_B, 20_000_000);
    let stop = CancellationToken::new();
    let (_requests, alerts, redeemer) = start_redeemer(&store, polymarket(&chain.url, 0), open, &stop);

    let rows = wait_for_rows(&store, "both redemptions confirmed", |rows| {
        rows.len() == 2 && rows.iter().all(|r| r.status == RedemptionStatus::Confirmed)
    })
    .await;
    let broadcasts = chain.broadcasts();
    assert_eq!(broadcasts.len(), 2, "{broadcasts:#?}");
    // First the recorded transaction, byte for byte: never signed again.
    assert_eq!((broadcasts[0].raw.as_str(), broadcasts[0].nonce), (sent.raw_tx.as_str(), 0));
    assert_eq!(rows[0].tx_hash.as_deref(), Some(sent.tx_hash.as_str()));
    let calls = chain.calls();
    let first_nonce_read = calls.iter().position(|m| m == "eth_getTransactionCount");
    let first_broadcast = calls.iter().position(|m| m == "eth_sendRawTransaction");
    assert!(first_broadcast < first_nonce_read, "the sent one went out before anything was signed: {calls:?}");
    assert_eq!(
        calls.iter().take_while(|m| *m != "eth_sendRawTransaction").cloned().collect::<Vec<_>>(),
        vec!["eth_getTransactionReceipt", "eth_getTransactionByHash"],
        "reconciled by its hash first"
    );
    // Then the pending one, with the next nonce, its hash in the store before it went out.
    let (ctf, expected) = expected_ctf_call(CONDITION_B);
    assert_eq!((broadcasts[1].to, broadcasts[1].nonce), (ctf, 1));
    assert_eq!(broadcasts[1].call, expected);
    assert_eq!(broadcasts[1].row_at_broadcast.as_ref().map(|r| r.0.as_str()), Some("sent"));
    let redeemed = |seen: &[(Priority, String, String)]| seen.iter().filter(|a| a.1 == "Position Redeemed").count();
    let alerts = wait_for_alerts(&alerts, "two redeemed alerts", |seen| redeemed(seen) >= 2).await;
    assert_eq!(redeemed(&alerts), 2, "{alerts:#?}");
    stop.cancel();
    redeemer.await.unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
}

/// A proxy wallet holds its tokens in the proxy: the redeemer cannot call through it, says so once
/// at start naming what to redeem by hand, and ends every redemption `failed` with an error alert,
/// without touching the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_wallet_is_refused_at_start_and_every_redemption_is_alerted_to_be_done_by_hand() {
    let (store, _) = open_store(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
    written_ahead(&store, &format!("{CONDITION}/T1"), CONDITION, YES, None).await;
    let (store, open) = open_store(store.close().await);
    let chain = Chain::start(&store.path).await;
    let stop = CancellationToken::new();
    let (requests, alerts, redeemer) = start_redeemer(&store, polymarket(&chain.url, 1), open, &stop);
    // The start's one alert; on a busy machine the pending redemption's own failure may already
    // follow it, which the end of the test counts.
    let at_start: Vec<_> = alerts_of(&alerts).into_iter().filter(|a| a.1 != "Redemption Failed").collect();
    assert_eq!(at_start.len(), 1, "{at_start:#?}");
    let (priority, title, message) = &at_start[0];
    assert_eq!((*priority, title.as_str()), (Priority::Error, "Redeem Positions By Hand"));
    assert!(
        message.contains("proxy wallet") && message.contains(CONDITION) && message.contains("20 shares"),
        "{message}"
    );

    // A market that resolves later: written ahead by the engine task, then handed over.
    let later = written_ahead(&store, &format!("{CONDITION_B}/T9"), CONDITION_B, TOKEN_B, None).await;
    let request = RedemptionRequest {
        redemption_id: later.redemption_id.clone(),
        condition_id: later.condition_id.clone(),
        token_id: later.token_id.clone(),
        outcome: later.outcome.clone(),
        shares: later.shares,
        neg_risk: false,
        at: START,
    };
    requests.send(request).await.unwrap_or_else(|e| panic!("{e}"));
    let rows = wait_for_rows(&store, "both redemptions failed", |rows| {
        rows.len() == 2 && rows.iter().all(|r| r.status == RedemptionStatus::Failed)
    })
    .await;
    for row in &rows {
        let detail = row.detail.as_deref().unwrap_or_default();
        assert!(detail.contains("proxy wallet") && detail.contains("redeem by hand"), "{row:#?}");
    }
    let failures = |seen: &[(Priority, String, String)]| seen.iter().filter(|a| a.1 == "Redemption Failed").count();
    let seen = wait_for_alerts(&alerts, "both failure alerts", |seen| failures(seen) >= 2).await;
    let failed: Vec<_> = seen.into_iter().filter(|a| a.1 == "Redemption Failed").collect();
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert!(failed.iter().all(|a| a.0 == Priority::Error && a.2.starts_with("Redeem by hand:")), "{failed:#?}");
    assert!(chain.calls().is_empty(), "nothing on chain: {:?}", chain.calls());
    stop.cancel();
    redeemer.await.unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
}

/// An endpoint on another chain than `polymarket.chain_id`: nothing is signed, the redemption stays
/// `pending` (tried again later) and the reason is alerted once as a warning.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_on_another_chain_puts_the_redemption_off_with_one_warning() {
    let (store, _) = open_store(tempfile::tempdir().unwrap_or_else(|e| panic!("{e}")));
    written_ahead(&store, &format!("{CONDITION}/T1"), CONDITION, YES, None).await;
    let (store, open) = open_store(store.close().await);
    let chain = Chain::start(&store.path).await;
    chain.hold(CONDITION, YES, 20_000_000);
    let stop = CancellationToken::new();
    // Amoy (80002) configured, while the node serves Polygon (137).
    let config = PolymarketConfig { chain_id: 80_002, ..polymarket(&chain.url, 0) };
    let (_requests, alerts, redeemer) = start_redeemer(&store, config, open, &stop);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !alerts_of(&alerts).iter().any(|a| a.1 == "Redemption Waiting") {
        assert!(tokio::time::Instant::now() < deadline, "no warning: {:#?}", alerts_of(&alerts));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A second try (retry_secs = 1) says nothing new.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let waiting: Vec<_> = alerts_of(&alerts).into_iter().filter(|a| a.1 == "Redemption Waiting").collect();
    assert_eq!(waiting.len(), 1, "{waiting:#?}");
    assert_eq!(waiting[0].0, Priority::Warning);
    assert!(waiting[0].2.contains("polymarket.chain_id = 80002") && waiting[0].2.contains("chain 137"), "{waiting:#?}");
    assert!(chain.calls().iter().filter(|m| *m == "eth_chainId").count() >= 2, "tried again: {:?}", chain.calls());
    assert!(chain.broadcasts().is_empty());
    assert_eq!(redemptions(&store).first().map(|r| r.status), Some(RedemptionStatus::Pending));
    stop.cancel();
    redeemer.await.unwrap_or_else(|e| panic!("{e}"));
    store.close().await;
}
