//! Where the live executor makes an order's venue id durable *before* sending it.
//!
//! Why the venue id and not a re-derivation: the order id is the EIP-712 hash of the signed order,
//! and the V2 order carries a millisecond `timestamp` that is not part of the engine's intent, so
//! the hash cannot be recomputed from the client order id alone after a crash. It is known before
//! sending, though (the salt comes from the client order id, the rest from the intent and the
//! book), so the executor writes it first and sends second. After a restart, an order with a
//! recorded venue id may have reached the venue: reconciling asks the venue about it; an order
//! without one was never sent.
//!
//! The store keeps it in the order's row (`orders.venue_order_id`, status `submitted`). When the
//! engine has not written the order's row ahead (the write-ahead of order intents is the engine's
//! job), the journal writes the row itself, so that the venue id is never only in memory.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use futures::FutureExt;
use futures::future::BoxFuture;
use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::Side;
use crate::store::{OrderKind, OrderRecord, OrderStatus, StoreCommand, StoreError, StoreHandle};

/// An order about to be sent, as the journal records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentOrder {
    /// The engine's client order id, in its text form (`order#7`).
    pub client_order_id: String,
    /// The order's hash: the id the CLOB knows it by.
    pub venue_order_id: String,
    pub token_id: String,
    pub side: Side,
    pub limit_price: Decimal,
    pub size: Decimal,
    pub is_entry: bool,
    pub at: Timestamp,
}

/// A durable record of sent orders' venue ids.
pub trait OrderJournal: Send + Sync {
    /// Resolves once the record is durable; an error means the order must not be sent.
    fn record_sent(&self, order: SentOrder) -> BoxFuture<'static, Result<(), String>>;
}

/// The journal in the SQLite store.
#[derive(Clone)]
pub struct StoreJournal {
    store: StoreHandle,
}

impl StoreJournal {
    pub fn new(store: StoreHandle) -> Self {
        Self { store }
    }
}

impl OrderJournal for StoreJournal {
    fn record_sent(&self, order: SentOrder) -> BoxFuture<'static, Result<(), String>> {
        let store = self.store.clone();
        async move {
            let update = StoreCommand::UpdateOrder {
                client_order_id: order.client_order_id.clone(),
                status: OrderStatus::Submitted,
                venue_order_id: Some(order.venue_order_id.clone()),
                updated_at: order.at,
            };
            match store.write_durable(update).await {
                Ok(()) => Ok(()),
                // No row written ahead by the engine: write the whole row now, still before sending.
                Err(StoreError::UnknownOrder { .. }) => store
                    .write_durable(StoreCommand::InsertOrder(order_record(&order)))
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            }
        }
        .boxed()
    }
}

fn order_record(order: &SentOrder) -> OrderRecord {
    OrderRecord {
        client_order_id: order.client_order_id.clone(),
        venue_order_id: Some(order.venue_order_id.clone()),
        position_id: None,
        whale_trade_key: None,
        token_id: order.token_id.clone(),
        side: order.side,
        limit_price: order.limit_price,
        size: order.size,
        kind: if order.is_entry { OrderKind::Entry } else { OrderKind::Exit },
        status: OrderStatus::Submitted,
        created_at: order.at,
        updated_at: order.at,
    }
}

/// A journal in memory, for tests (or a dry run of the live path): nothing survives the process.
#[derive(Clone, Default)]
pub struct MemoryJournal {
    orders: Arc<Mutex<HashMap<String, SentOrder>>>,
    refuse: Arc<Mutex<Option<String>>>,
}

impl MemoryJournal {
    /// What has been recorded, by client order id.
    pub fn recorded(&self) -> HashMap<String, SentOrder> {
        self.orders.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Makes every later record fail with `reason` (to test that nothing is sent then).
    pub fn refuse_with(&self, reason: &str) {
        *self.refuse.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason.to_owned());
    }
}

impl OrderJournal for MemoryJournal {
    fn record_sent(&self, order: SentOrder) -> BoxFuture<'static, Result<(), String>> {
        let refused = self.refuse.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let result = match refused {
            Some(reason) => Err(reason),
            None => {
                self.orders.lock().unwrap_or_else(PoisonError::into_inner).insert(order.client_order_id.clone(), order);
                Ok(())
            }
        };
        futures::future::ready(result).boxed()
    }
}
