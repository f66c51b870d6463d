//! The wallet reader (live mode): on start and every `polymarket.wallet.reconcile_interval_secs`
//! it reads the funder wallet's collateral (`GET /balance-allowance`, L2) and its positions
//! (`GET /v2/positions`) and hands both to the engine as one [`Input::Wallet`], with an awaited
//! send (a reading is never dropped). A failed reading changes nothing in the engine: it is logged
//! once per cause (again only when the cause changes), counted for `/metrics`, and tried again
//! at the next interval.

use rust_decimal::Decimal;
use serde::Serialize;
#[cfg(any(feature = "live", test))]
use tokio::sync::{mpsc, watch};

use crate::clock::Timestamp;
#[cfg(any(feature = "live", test))]
use crate::engine::{Input, WalletReading};
#[cfg(any(feature = "live", test))]
use crate::runtime::EngineMsg;

/// What `/metrics` shows of the wallet reader.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WalletReaderStatus {
    /// Readings handed to the engine.
    pub readings: u64,
    /// Readings that failed (balance or positions unreadable).
    pub failures: u64,
    pub consecutive_failures: u32,
    /// Position rows that were malformed, skipped.
    pub malformed_rows: u64,
    pub last_success_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub cash: Option<Decimal>,
    pub positions: usize,
}

#[cfg(any(feature = "live", test))]
/// Hands one reading to the engine, waiting for room in its queue; false once the engine is gone.
async fn deliver(inputs: &mpsc::Sender<EngineMsg>, reading: WalletReading) -> bool {
    inputs.send(EngineMsg::now(Input::Wallet(Box::new(reading)))).await.is_ok()
}

#[cfg(any(feature = "live", test))]
/// Records a failed reading: one warning per cause, not one per interval while it lasts.
fn failed(status: &watch::Sender<WalletReaderStatus>, error: String) {
    let repeated = status.borrow().last_error.as_deref() == Some(error.as_str());
    if repeated {
        tracing::debug!(%error, "wallet reading failed again");
    } else {
        tracing::warn!(%error, "wallet reading failed; equity and the position check keep the last reading");
    }
    status.send_modify(|s| {
        s.failures += 1;
        s.consecutive_failures = s.consecutive_failures.saturating_add(1);
        s.last_error = Some(error);
    });
}

#[cfg(feature = "live")]
pub use reader::start_wallet_reader;

/// Why the wallet reader cannot start (live mode).
#[cfg(feature = "live")]
#[derive(Debug, thiserror::Error)]
pub enum WalletReaderError {
    #[error(transparent)]
    Signer(#[from] crate::polymarket::SignError),
    #[error(transparent)]
    Clob(#[from] crate::polymarket::TradingError),
    #[error("data API client: {0}")]
    DataApi(#[from] crate::polymarket::HttpError),
    #[error("polymarket.credentials.funder_address = ***: must be 0x followed by 40 hex digits")]
    BadFunder,
}

#[cfg(feature = "live")]
mod reader {
    use futures::FutureExt;
    use futures::future::BoxFuture;
    use tokio_util::sync::CancellationToken;

    use std::sync::Arc;

    use super::*;
    use crate::clock::{Clock, SystemClock};
    use crate::config::Config;
    use crate::polymarket::{
        ClobTradingClient, HttpClient, L2Credentials, MAX_BALANCE_BODY_BYTES, MAX_POSITIONS_PAGE_BYTES, OrderSigner,
        read_positions,
    };
    use crate::runtime::TaskResult;

    /// Data API requests per second of the reader (a handful per reading).
    const REQUESTS_PER_SEC: u32 = 5;

    /// The reader's task and its status, for a live daemon.
    pub fn start_wallet_reader(
        config: &Config,
        inputs: mpsc::Sender<EngineMsg>,
        stop: CancellationToken,
    ) -> Result<(BoxFuture<'static, TaskResult>, watch::Receiver<WalletReaderStatus>), WalletReaderError> {
        let polymarket = &config.polymarket;
        let credentials = &polymarket.credentials;
        let signer = OrderSigner::from_private_key(&credentials.private_key)?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let clob = ClobTradingClient::new(
            polymarket,
            L2Credentials::from_config(credentials, signer.address()),
            clock.clone(),
        )?
        .with_max_body(MAX_BALANCE_BODY_BYTES);
        let data_api = HttpClient::new(&polymarket.http, REQUESTS_PER_SEC)?.with_max_body(MAX_POSITIONS_PAGE_BYTES);
        let funder = credentials.funder_address.expose().trim().to_ascii_lowercase();
        if !crate::config::is_wallet_address(&funder) {
            return Err(WalletReaderError::BadFunder);
        }
        let signature_type = credentials.signature_type;
        let data_api_url = polymarket.data_api_url.clone();
        let every = polymarket.wallet.reconcile_interval();
        let (status_tx, status_rx) = watch::channel(WalletReaderStatus::default());
        let task = async move {
            let mut interval = tokio::time::interval(every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    _ = interval.tick() => {}
                }
                let read_at = clock.now();
                let read = async {
                    let cash = clob.collateral_balance(signature_type).await.map_err(|e| format!("balance: {e}"))?;
                    let positions =
                        read_positions(&data_api, &data_api_url, &funder).await.map_err(|e| e.to_string())?;
                    Ok::<_, String>((cash, positions))
                };
                let outcome = tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    outcome = read => outcome,
                };
                let (cash, positions) = match outcome {
                    Ok(read) => read,
                    Err(error) => {
                        failed(&status_tx, error);
                        continue;
                    }
                };
                if positions.malformed > 0 {
                    tracing::warn!(
                        malformed = positions.malformed,
                        first = positions.first_malformed.as_deref().unwrap_or(""),
                        "wallet positions: malformed rows skipped"
                    );
                }
                let count = positions.positions.len();
                let reading = WalletReading { cash, read_at, positions: positions.positions };
                let delivered = tokio::select! {
                    () = stop.cancelled() => return Ok(()),
                    delivered = deliver(&inputs, reading) => delivered,
                };
                if !delivered {
                    stop.cancelled().await;
                    return Ok(());
                }
                tracing::info!(%cash, positions = count, "wallet read");
                status_tx.send_modify(|s| {
                    s.readings += 1;
                    s.consecutive_failures = 0;
                    s.malformed_rows += positions.malformed as u64;
                    s.last_success_at = Some(read_at);
                    s.last_error = None;
                    s.cash = Some(cash);
                    s.positions = count;
                });
            }
        };
        Ok((task.boxed(), status_rx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_is_counted_every_time_and_a_success_is_delivered_awaited() {
        let (status, rx) = watch::channel(WalletReaderStatus::default());
        failed(&status, "balance: timed out".into());
        failed(&status, "balance: timed out".into());
        assert_eq!((rx.borrow().failures, rx.borrow().consecutive_failures), (2, 2));
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap_or_else(|e| panic!("{e}"));
        let (tx, mut engine) = mpsc::channel(1);
        let reading = WalletReading { cash: Decimal::ONE, read_at: Timestamp(1), positions: vec![] };
        assert!(runtime.block_on(deliver(&tx, reading.clone())));
        let got = engine.try_recv().ok();
        assert!(matches!(got, Some(EngineMsg::Input { input: Input::Wallet(r), .. }) if *r == reading));
        drop(engine);
        assert!(!runtime.block_on(deliver(&tx, reading)), "a stopped engine ends the reader");
    }
}
