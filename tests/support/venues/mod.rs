//! Loopback stand-ins of the crypto venues trade plans execute on, with the same test controls
//! for both, and the builders their client tests share.

pub mod binance;
pub mod bybit;

use std::io::Write;
use std::sync::{Arc, Mutex};

use rust_decimal::Decimal;
use whale_trader::config::Secret;
use whale_trader::domain::Side;
use whale_trader::venues::{OrderRequest, OrderType, RefusalReason, VenueConfig, VenueError, VenueMarket};

/// A testnet configuration pointing at a stand-in at `url`, with this key pair.
pub fn config(url: String, market: VenueMarket, key: &str, secret: &str) -> VenueConfig {
    VenueConfig {
        market,
        testnet: true,
        testnet_rest_url: url,
        timeout_ms: 5_000,
        api_key: Secret::new(key),
        api_secret: Secret::new(secret),
        ..VenueConfig::default()
    }
}

/// A good-till-cancelled BTCUSDT limit order.
pub fn limit(id: &str, side: Side, quantity: Decimal, price: Decimal) -> OrderRequest {
    OrderRequest {
        client_order_id: id.into(),
        symbol: "BTCUSDT".into(),
        side,
        order_type: OrderType::Limit { price },
        quantity,
        reduce_only: false,
        stop_loss: None,
        take_profit: None,
    }
}

/// A BTCUSDT market order.
pub fn market(id: &str, side: Side, quantity: Decimal, reduce_only: bool) -> OrderRequest {
    OrderRequest { order_type: OrderType::Market, reduce_only, ..limit(id, side, quantity, Decimal::ZERO) }
}

/// A refusal's cause, code and message (any other error fails the test).
pub fn refusal(err: &VenueError) -> (RefusalReason, i64, String) {
    match err {
        VenueError::Refused { reason, code, message, .. } => (*reason, *code, message.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

/// Log lines written during a test.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
