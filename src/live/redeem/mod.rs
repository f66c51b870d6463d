//! The redeemer (live mode): a resolved market's winning shares are redeemed on chain for collateral.
//!
//! The engine settles a resolved position at once (1 per winning share, reason `market_resolved`)
//! and, in live mode, asks for the redemption of the winning shares
//! ([`crate::engine::RedemptionRequest`]). The request is written ahead like an order: the engine
//! task makes the `redemptions` row (status `pending`) durable in the settlement's own group before
//! the recorder hands it to this task. Then, one redemption at a time:
//!
//! ```text
//!  pending ─► balanceOf (what the holder has) ─► eth_estimateGas (would it revert?) ─► fees, nonce
//!          ─► sign (the hash is known now) ─► row `sent` with hash, nonce, raw bytes (durable)
//!          ─► eth_sendRawTransaction ─► receipts until mined
//!  sent    ─► receipt: status 1 and the holder's balance now 0 ─► `confirmed` (info alert, amount)
//!                      status 0, or shares still held         ─► `failed` (error alert: redeem by hand)
//!             no receipt and the node does not know the hash  ─► the SAME raw transaction again
//! ```
//!
//! After a restart the rows not final come back from the store: `sent` ones are reconciled by their
//! hash (never signed again: same nonce, same hash), `pending` ones are sent. Anything the node or
//! the fees do not allow now (node down, fees above the caps, a condition not yet reported on
//! chain so that the call would revert) is tried again every `polymarket.redeem.retry_secs`.
//!
//! Wallets: an EOA (signature type 0) holds its own tokens and calls the contract itself. A proxy
//! (1) or Safe (2) wallet holds them in the funder contract, so the call would have to go through
//! it (the proxy factory's `proxy` call, or a Safe `execTransaction` signed by the owner); this
//! build does not do that, and says so once at start and for every market that resolves: "redeem
//! these positions by hand".

mod call;
mod rpc;

use std::collections::VecDeque;
use std::str::FromStr;
use std::sync::Arc;

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::local::PrivateKeySigner;
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

pub use call::{
    BINARY_INDEX_SETS, Call, Contracts, Gas, SignedTx, balance_of, condition_id, ctf_redeem, neg_risk_index,
    neg_risk_redeem, position_id, shares_from_units, sign,
};
pub use rpc::{MAX_ANSWER_BYTES, Receipt, RpcClient, RpcError};

use crate::alerts::{self, Alert, Priority};
use crate::clock::Clock;
use crate::engine::RedemptionRequest;
use crate::logging::AUDIT_TARGET;
use crate::polymarket::{PolymarketConfig, RedeemConfig};
use crate::runtime::TaskResult;
use crate::store::{
    RedemptionRecord, RedemptionStatus, RedemptionUpdate, SentTransaction, StoreCommand, StoreError, StoreHandle,
};

/// Why a redemption cannot go out (now, or at all).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RedeemError {
    #[error("polymarket.chain_id = {0}: the SDK knows no Polymarket contracts on this chain (137 Polygon, 80002 Amoy)")]
    UnknownChain(u64),
    #[error("{field} = {value:?}: {rule}")]
    Field { field: &'static str, value: String, rule: &'static str },
    #[error("polymarket.credentials.private_key is not a valid secp256k1 key in hex")]
    BadKey,
    #[error("signing the redeem transaction failed: {0}")]
    Signing(String),
    #[error(transparent)]
    Rpc(#[from] RpcError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("polymarket.chain_id = {configured} but polymarket.rpc_url serves chain {endpoint}")]
    WrongChain { configured: u64, endpoint: u64 },
    #[error("the fee needed ({needed} wei per gas) is above polymarket.redeem.max_fee_per_gas_gwei ({cap} wei)")]
    FeeAboveCap { needed: u128, cap: u128 },
    #[error("the redeem would use {estimate} gas, above polymarket.redeem.max_gas_limit = {cap}")]
    GasAboveCap { estimate: u64, cap: u64 },
    #[error("the node says the redeem would revert now ({0}); the condition may not be reported on chain yet")]
    WouldRevert(String),
}

/// Where alerts go (the dispatcher's sender in the daemon, a list in tests).
pub type AlertFn = Arc<dyn Fn(Alert) + Send + Sync>;

/// Everything the redeemer needs at start.
pub struct RedeemerStart {
    pub polymarket: PolymarketConfig,
    pub store: StoreHandle,
    pub alerts: AlertFn,
    pub clock: Arc<dyn Clock>,
    /// Redemptions not final in the store (`pending`, `sent`), oldest first.
    pub open: Vec<RedemptionRecord>,
}

/// Who signs and holds.
enum Wallet {
    /// Signature type 0: the key's address holds the tokens and calls the contracts.
    Eoa { key: PrivateKeySigner, holder: Address },
    /// A wallet this build cannot redeem from; the reason says what to do.
    Manual { reason: String },
}

/// One redemption on its way, and when to try it next.
struct Job {
    record: RedemptionRecord,
    next_try: Instant,
    /// The last reason it was put off, so that the same reason is logged once, not at every try.
    last_wait: Option<String>,
}

/// Redeems winning positions on chain, one at a time.
pub struct Redeemer {
    wallet: Wallet,
    contracts: Contracts,
    chain_id: u64,
    settings: RedeemConfig,
    rpc: RpcClient,
    store: StoreHandle,
    alerts: AlertFn,
    clock: Arc<dyn Clock>,
    jobs: VecDeque<Job>,
    /// The endpoint's chain, checked once before the first transaction.
    chain_checked: bool,
}

/// What one attempt at a redemption came to.
enum Step {
    /// Confirmed or failed: recorded and alerted.
    Done,
    /// Not possible now: try again later.
    Later(String),
}

impl Redeemer {
    /// Checks the wallet and the chain; a wallet type this build cannot redeem from is refused
    /// here, clearly (logged and alerted once, naming the positions to redeem by hand), and every
    /// later redemption ends `failed` with the same words rather than waiting silently.
    pub fn new(start: RedeemerStart) -> Result<Self, RedeemError> {
        let RedeemerStart { polymarket, store, alerts, clock, open } = start;
        let credentials = &polymarket.credentials;
        let key =
            PrivateKeySigner::from_str(credentials.private_key.expose().trim()).map_err(|_| RedeemError::BadKey)?;
        let funder = credentials.funder_address.expose().trim().to_ascii_lowercase();
        let signer = key.address();
        let wallet = match credentials.signature_type {
            0 if funder.is_empty() || funder == format!("{signer:#x}") => Wallet::Eoa { key, holder: signer },
            0 => Wallet::Manual {
                reason: "signature type 0 (EOA) with a funder_address other than the signer's: the tokens are \
                         not held by the key that would redeem them"
                    .into(),
            },
            1 => Wallet::Manual {
                reason: "signature type 1 (proxy wallet): the tokens are held by the proxy, and this build does not \
                         send the proxy factory's call"
                    .into(),
            },
            2 => Wallet::Manual {
                reason: "signature type 2 (Safe wallet): the tokens are held by the Safe, and this build does not \
                         send a Safe execTransaction"
                    .into(),
            },
            other => Wallet::Manual { reason: format!("signature type {other} is not supported by the redeemer") },
        };
        let contracts = Contracts::for_chain(polymarket.chain_id)?;
        let rpc = RpcClient::new(&polymarket.rpc_url, polymarket.redeem.request_timeout())?;
        let now = Instant::now();
        let jobs = open.into_iter().map(|record| Job { record, next_try: now, last_wait: None }).collect();
        let redeemer = Self {
            wallet,
            contracts,
            chain_id: polymarket.chain_id,
            settings: polymarket.redeem.clone(),
            rpc,
            store,
            alerts,
            clock,
            jobs,
            chain_checked: false,
        };
        redeemer.announce();
        Ok(redeemer)
    }

    /// The start-up line; for a wallet the redeemer cannot use, the one alert that says so.
    fn announce(&self) {
        match &self.wallet {
            Wallet::Eoa { holder, .. } => tracing::info!(
                holder = %holder,
                chain_id = self.chain_id,
                to_finish = self.jobs.len(),
                "redeemer ready: winning positions are redeemed on chain"
            ),
            Wallet::Manual { reason } => {
                let open: Vec<String> = self.jobs.iter().map(|j| describe(&j.record)).collect();
                let listed = if open.is_empty() { "none yet".to_owned() } else { open.join("; ") };
                let message = format!(
                    "The redeemer cannot redeem from this wallet ({reason}). Redeem these positions by hand: \
                     {listed}; every market that resolves from now on is alerted the same way."
                );
                tracing::error!(alert = "redeem_by_hand", "{message}");
                (self.alerts)(
                    Alert::new(Priority::Error, "Redeem Positions By Hand", message, self.clock.now())
                        .with_dedup_key("redeem_by_hand_wallet"),
                );
            }
        }
    }

    /// Runs until `stop`: requests from the engine (already durable) and the redemptions left over
    /// from before a restart, each to its end.
    pub async fn run(mut self, mut requests: mpsc::Receiver<RedemptionRequest>, stop: CancellationToken) -> TaskResult {
        let mut requests_open = true;
        loop {
            while let Ok(request) = requests.try_recv() {
                self.enqueue(&request);
            }
            self.work(&stop).await;
            let next = self.jobs.iter().map(|j| j.next_try).min();
            let sleep = async {
                match next {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = stop.cancelled() => break,
                () = sleep => {}
                request = requests.recv(), if requests_open => match request {
                    Some(request) => self.enqueue(&request),
                    None => requests_open = false,
                },
            }
        }
        let left = self.jobs.len();
        if left > 0 {
            tracing::info!(left, "redeemer stopped; the redemptions not finished are in the store for the next start");
        }
        Ok(())
    }

    fn enqueue(&mut self, request: &RedemptionRequest) {
        if self.jobs.iter().any(|j| j.record.redemption_id == request.redemption_id) {
            return;
        }
        tracing::info!(redemption = %request.redemption_id, shares = %request.shares, "redemption requested");
        self.jobs.push_back(Job { record: record_of(request), next_try: Instant::now(), last_wait: None });
    }

    /// Every redemption that is due, once, in order.
    async fn work(&mut self, stop: &CancellationToken) {
        let mut index = 0;
        while index < self.jobs.len() {
            if stop.is_cancelled() {
                return;
            }
            let due = self.jobs.get(index).is_some_and(|j| j.next_try <= Instant::now());
            if !due {
                index += 1;
                continue;
            }
            let Some(mut job) = self.jobs.remove(index) else { return };
            match self.advance(&mut job.record, stop).await {
                Step::Done => {}
                Step::Later(reason) => {
                    // Logged and alerted once per reason, not at every try: a node that stays
                    // down, fees that stay high or a wallet without gas money need a human only
                    // if they last.
                    if job.last_wait.as_deref() != Some(reason.as_str()) {
                        tracing::warn!(
                            redemption = %job.record.redemption_id,
                            status = %job.record.status,
                            retry_in_secs = self.settings.retry_secs,
                            "redemption put off: {reason}"
                        );
                        (self.alerts)(
                            Alert::new(
                                Priority::Warning,
                                "Redemption Waiting",
                                format!(
                                    "{}: put off, tried again every {} s: {reason}",
                                    describe(&job.record),
                                    self.settings.retry_secs
                                ),
                                self.clock.now(),
                            )
                            .with_dedup_key(format!("redemption_waiting:{}", job.record.redemption_id)),
                        );
                        job.last_wait = Some(reason);
                    }
                    job.next_try = Instant::now() + self.settings.retry();
                    self.jobs.insert(index, job);
                    index += 1;
                }
            }
        }
    }

    /// One attempt: a pending redemption is sent, a sent one followed to its end.
    async fn advance(&mut self, record: &mut RedemptionRecord, stop: &CancellationToken) -> Step {
        if let Wallet::Manual { reason } = &self.wallet {
            let detail = format!("not redeemed: {reason}; redeem by hand");
            return self.fail(record, detail).await;
        }
        if record.status == RedemptionStatus::Pending {
            match self.send(record).await {
                Ok(None) => {}
                Ok(Some(detail)) => return self.fail(record, detail).await,
                Err(e) => return Step::Later(e.to_string()),
            }
        }
        self.follow(record, stop).await
    }

    /// Builds, signs, records (durably) and broadcasts the transaction. `Ok(Some(detail))` when it
    /// can never go out (the redemption fails), `Err` when not now.
    async fn send(&mut self, record: &mut RedemptionRecord) -> Result<Option<String>, RedeemError> {
        let Wallet::Eoa { key, holder } = &self.wallet else { return Ok(Some("no wallet to redeem from".into())) };
        let (key, holder) = (key.clone(), *holder);
        let contracts = self.contracts;
        if !self.chain_checked {
            let endpoint = self.rpc.chain_id().await?;
            if endpoint != self.chain_id {
                return Err(RedeemError::WrongChain { configured: self.chain_id, endpoint });
            }
            self.chain_checked = true;
        }
        let (condition, position) = match (condition_id(&record.condition_id), position_id(&record.token_id)) {
            (Ok(c), Ok(p)) => (c, p),
            (Err(e), _) | (_, Err(e)) => return Ok(Some(e.to_string())),
        };
        let balance = self.rpc.call_u256(&balance_of(&contracts, holder, position)).await?;
        if balance.is_zero() {
            return Ok(Some(format!(
                "the holder {holder:#x} has no shares of token {} on chain (redeemed elsewhere, or held by another wallet)",
                record.token_id
            )));
        }
        let call = if record.neg_risk {
            match neg_risk_index(&record.outcome) {
                Ok(index) => neg_risk_redeem(&contracts, condition, index, balance),
                Err(e) => return Ok(Some(e.to_string())),
            }
        } else {
            ctf_redeem(&contracts, condition)
        };
        let estimate = match self.rpc.estimate_gas(holder, &call).await {
            Ok(gas) => gas,
            Err(e) if e.is_revert() => return Err(RedeemError::WouldRevert(e.to_string())),
            Err(e) => return Err(e.into()),
        };
        if estimate > self.settings.max_gas_limit {
            return Err(RedeemError::GasAboveCap { estimate, cap: self.settings.max_gas_limit });
        }
        let gas = Gas {
            limit: estimate.saturating_add(estimate / 5).min(self.settings.max_gas_limit),
            ..fees(&self.settings, self.rpc.base_fee().await?, self.rpc.max_priority_fee().await?)?
        };
        let nonce = self.rpc.pending_nonce(holder).await?;
        let signed = sign(&key, self.chain_id, nonce, gas, &call)?;
        // The hash is recorded before the transaction exists anywhere but here: a crash after this
        // write finds it again by its hash, and never signs a second one.
        let sent = SentTransaction { tx_hash: format!("{:#x}", signed.hash), nonce, raw_tx: format!("{}", signed.raw) };
        self.update(record, RedemptionStatus::Sent, Some(sent), None).await?;
        tracing::info!(
            target: AUDIT_TARGET,
            event = "redemption_sent",
            redemption = %record.redemption_id,
            condition_id = %record.condition_id,
            tx_hash = %format!("{:#x}", signed.hash),
            nonce,
            gas_limit = gas.limit,
            max_fee_per_gas = gas.max_fee_per_gas,
            "redeem transaction recorded; broadcasting"
        );
        if let Err(e) = self.rpc.send_raw(&signed.raw).await {
            // Recorded as sent: following it finds out whether the node took it, and broadcasts the
            // same bytes again if not.
            tracing::warn!(redemption = %record.redemption_id, error = %e, "broadcast of the redeem transaction failed");
        }
        Ok(None)
    }

    /// Follows a sent transaction by its recorded hash until mined (or until `retry_secs`).
    async fn follow(&mut self, record: &mut RedemptionRecord, stop: &CancellationToken) -> Step {
        let (Some(hash_text), Some(raw_text)) = (record.tx_hash.clone(), record.raw_tx.clone()) else {
            return self.fail(record, "recorded as sent without its transaction".into()).await;
        };
        let (Ok(hash), Ok(raw)) = (hash_text.parse::<B256>(), raw_text.parse::<Bytes>()) else {
            return self.fail(record, format!("the recorded transaction {hash_text} cannot be read")).await;
        };
        let until = Instant::now() + self.settings.retry();
        let mut rebroadcast = false;
        loop {
            match self.rpc.receipt(hash).await {
                Ok(Some(receipt)) => return self.finish(record, receipt).await,
                Ok(None) if !rebroadcast => {
                    rebroadcast = true;
                    match self.rpc.knows_transaction(hash).await {
                        Ok(true) => {}
                        Ok(false) => {
                            // Never seen by this node (lost before broadcast, or dropped from its
                            // pool): exactly the recorded bytes again, same nonce, same hash.
                            tracing::warn!(redemption = %record.redemption_id, tx_hash = %hash_text, "the node does not know the redeem transaction; broadcasting the recorded one again");
                            if let Err(e) = self.rpc.send_raw(&raw).await {
                                if e.to_string().to_ascii_lowercase().contains("nonce too low") {
                                    let detail = format!(
                                        "transaction {hash_text} was never mined and its nonce {} is used by another \
                                         transaction; not redeemed, redeem by hand",
                                        record.nonce.unwrap_or_default()
                                    );
                                    return self.fail(record, detail).await;
                                }
                                return Step::Later(e.to_string());
                            }
                        }
                        Err(e) => return Step::Later(e.to_string()),
                    }
                }
                Ok(None) => {}
                Err(e) => return Step::Later(e.to_string()),
            }
            if Instant::now() >= until {
                return Step::Later(format!("transaction {hash_text} not mined yet"));
            }
            tokio::select! {
                () = stop.cancelled() => return Step::Later("stopping".into()),
                () = tokio::time::sleep(self.settings.receipt_poll()) => {}
            }
        }
    }

    /// A mined transaction: confirmed only if the holder's winning shares are gone too (a call to
    /// the wrong contract can succeed and redeem nothing).
    async fn finish(&mut self, record: &mut RedemptionRecord, receipt: Receipt) -> Step {
        let tx = record.tx_hash.clone().unwrap_or_default();
        if !receipt.success {
            let detail =
                format!("transaction {tx} reverted in block {} (gas used {})", receipt.block_number, receipt.gas_used);
            return self.fail(record, detail).await;
        }
        let left = match (&self.wallet, position_id(&record.token_id)) {
            (Wallet::Eoa { holder, .. }, Ok(position)) => {
                match self.rpc.call_u256(&balance_of(&self.contracts, *holder, position)).await {
                    Ok(balance) => balance,
                    Err(e) => return Step::Later(e.to_string()),
                }
            }
            _ => U256::ZERO,
        };
        if !left.is_zero() {
            let detail = format!(
                "transaction {tx} was mined in block {} but {} shares of token {} are still held: nothing was \
                 redeemed (neg_risk = {}); redeem by hand",
                receipt.block_number,
                shares_from_units(left),
                record.token_id,
                record.neg_risk
            );
            return self.fail(record, detail).await;
        }
        let detail = format!("mined in block {} (gas used {})", receipt.block_number, receipt.gas_used);
        if let Err(e) = self.update(record, RedemptionStatus::Confirmed, None, Some(detail)).await {
            return Step::Later(e.to_string());
        }
        let amount = alerts::usd(record.shares);
        tracing::info!(
            target: AUDIT_TARGET,
            event = "redemption_confirmed",
            redemption = %record.redemption_id,
            condition_id = %record.condition_id,
            shares = %record.shares,
            tx_hash = %tx,
            block = receipt.block_number,
            "redeemed {} winning shares for {amount}", record.shares
        );
        (self.alerts)(Alert::new(
            Priority::Info,
            "Position Redeemed",
            format!(
                "Redeemed {} winning shares of {} ({}) for {amount} in transaction {tx}",
                record.shares, record.condition_id, record.outcome
            ),
            self.clock.now(),
        ));
        Step::Done
    }

    /// Records and alerts a redemption that will not happen by itself.
    async fn fail(&mut self, record: &mut RedemptionRecord, detail: String) -> Step {
        if let Err(e) = self.update(record, RedemptionStatus::Failed, None, Some(detail.clone())).await {
            return Step::Later(e.to_string());
        }
        tracing::error!(
            target: AUDIT_TARGET,
            event = "redemption_failed",
            redemption = %record.redemption_id,
            condition_id = %record.condition_id,
            shares = %record.shares,
            "redemption failed: {detail}"
        );
        (self.alerts)(Alert::new(
            Priority::Error,
            "Redemption Failed",
            format!("Redeem by hand: {}. {detail}", describe(record)),
            self.clock.now(),
        ));
        Step::Done
    }

    async fn update(
        &self,
        record: &mut RedemptionRecord,
        status: RedemptionStatus,
        sent: Option<SentTransaction>,
        detail: Option<String>,
    ) -> Result<(), RedeemError> {
        let now = self.clock.now();
        let update = RedemptionUpdate {
            redemption_id: record.redemption_id.clone(),
            status,
            sent: sent.clone(),
            detail: detail.clone(),
            updated_at: now,
        };
        self.store.write_durable(StoreCommand::UpdateRedemption(update)).await?;
        record.status = status;
        if let Some(sent) = sent {
            record.tx_hash = Some(sent.tx_hash);
            record.nonce = Some(sent.nonce);
            record.raw_tx = Some(sent.raw_tx);
        }
        record.detail = detail.or(record.detail.take());
        record.updated_at = now;
        Ok(())
    }
}

/// The fees of one transaction under the caps: the node's tip (capped), and twice the base fee on
/// top so that it survives a few fuller blocks (capped). Below base fee + tip it would never be
/// mined: put off instead.
fn fees(settings: &RedeemConfig, base_fee: u128, node_tip: u128) -> Result<Gas, RedeemError> {
    const GWEI: u128 = 1_000_000_000;
    let fee_cap = u128::from(settings.max_fee_per_gas_gwei) * GWEI;
    let tip = node_tip.min(u128::from(settings.max_priority_fee_per_gas_gwei) * GWEI);
    let needed = base_fee.saturating_add(tip);
    if needed > fee_cap {
        return Err(RedeemError::FeeAboveCap { needed, cap: fee_cap });
    }
    let max_fee = base_fee.saturating_mul(2).saturating_add(tip).min(fee_cap);
    Ok(Gas { limit: 0, max_fee_per_gas: max_fee, max_priority_fee_per_gas: tip })
}

/// The row a request becomes (the engine task wrote the same one).
fn record_of(request: &RedemptionRequest) -> RedemptionRecord {
    RedemptionRecord {
        redemption_id: request.redemption_id.clone(),
        condition_id: request.condition_id.clone(),
        token_id: request.token_id.clone(),
        outcome: request.outcome.clone(),
        shares: request.shares,
        neg_risk: request.neg_risk,
        status: RedemptionStatus::Pending,
        tx_hash: None,
        nonce: None,
        raw_tx: None,
        detail: None,
        created_at: request.at,
        updated_at: request.at,
    }
}

fn describe(record: &RedemptionRecord) -> String {
    format!(
        "{} shares of {} (outcome {}, token {}{})",
        record.shares,
        record.condition_id,
        record.outcome,
        record.token_id,
        if record.neg_risk { ", neg-risk" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> RedeemConfig {
        RedeemConfig { max_fee_per_gas_gwei: 100, max_priority_fee_per_gas_gwei: 40, ..RedeemConfig::default() }
    }

    #[test]
    fn fees_stay_under_the_caps_or_wait() {
        const GWEI: u128 = 1_000_000_000;
        let gas = fees(&settings(), 30 * GWEI, 35 * GWEI).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((gas.max_fee_per_gas, gas.max_priority_fee_per_gas), (95 * GWEI, 35 * GWEI));
        // The node's tip is capped, and the doubled base fee is capped.
        let gas = fees(&settings(), 50 * GWEI, 80 * GWEI).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((gas.max_fee_per_gas, gas.max_priority_fee_per_gas), (100 * GWEI, 40 * GWEI));
        // Base fee + tip above the cap: never mined, so put off.
        let e = fees(&settings(), 90 * GWEI, 30 * GWEI).unwrap_err();
        assert_eq!(e, RedeemError::FeeAboveCap { needed: 120 * GWEI, cap: 100 * GWEI });
        assert!(e.to_string().contains("max_fee_per_gas_gwei"));
    }
}
