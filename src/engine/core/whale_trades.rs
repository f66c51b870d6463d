//! A whale trade comes in: whether we follow the wallet, whether it was decided on before (its
//! dedupe key), the whale's holding, and the decision recorded for the store and the audit trail.

use std::sync::Arc;

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::domain::{Side, SourceTradeId};
use crate::engine::audit::{AuditRecord, DecisionContext, TradeRejected};
use crate::engine::copy_rules::{CopyRejection, RejectReason};
use crate::engine::io::{DecisionOutcome, EngineEvent, Outputs, WhaleTradeDecision};
use crate::market::WhaleTrade;

use super::Engine;

/// A refused copy and what the engine knew when it refused it.
pub(super) struct Refusal {
    pub rejection: CopyRejection,
    pub context: DecisionContext,
}

impl Engine {
    pub(super) fn on_whale_trade(&mut self, trade: &WhaleTrade, now: Timestamp, out: &mut Outputs) {
        // `find_whale` lower-cases only a wallet that needs it (the feed's are lower-case already).
        let whale = self.interner.find_whale(&trade.wallet);
        let Some(whale) = whale.filter(|w| self.whales.contains_key(w)) else {
            tracing::debug!(wallet = %trade.wallet, "trade of a wallet we do not follow, ignored");
            return;
        };
        trade.write_key_text(&mut self.key_text);
        let key: Arc<str> = Arc::from(self.key_text.as_str());
        let source = SourceTradeId::of(&key);
        if !self.seen_trades.insert(source) {
            self.status.duplicate_whale_trades += 1;
            tracing::debug!(%key, "whale trade already decided on; skipped");
            return;
        }
        self.status.whale_trades_seen += 1;
        let market = self.interner.market(&trade.condition_id);
        let token = self.interner.token(&trade.asset);
        if !trade.outcome.is_empty() && self.market.outcome_label(token).is_none() {
            self.market.set_outcome_label(token, &trade.outcome);
        }
        // The trade's own title and outcome name the market at once (in replay too); the store
        // keeps them only when they add something.
        if let Some(learned) = Arc::make_mut(&mut self.names).learn_from_trade(trade, now) {
            out.events.push(EngineEvent::MarketNamed(Box::new(learned.clone())));
        }
        let side = trade.side;
        tracing::debug!(
            whale = %self.names.whale_label(&trade.wallet),
            market = %self.names.market_title(&trade.condition_id),
            outcome = %trade.outcome,
            %side,
            size = %trade.size,
            price = %trade.price,
            "whale trade"
        );
        out.events.push(EngineEvent::WhaleTradeSeen {
            whale,
            market,
            token,
            side,
            lag_ms: now.millis_since(trade.timestamp),
            at: now,
        });
        let holding = self.portfolio.whale_holdings.entry((whale, token)).or_default();
        let held_before = *holding;
        match side {
            Side::Buy => *holding += trade.size,
            Side::Sell => *holding = (*holding - trade.size).max(Decimal::ZERO),
        }
        let decision = WhaleTradeDecision {
            key,
            whale,
            market,
            token,
            traded_at: trade.timestamp,
            // Until `decided` records what the entry or exit path made of it.
            outcome: DecisionOutcome::NotHeld,
            at: now,
        };
        match side {
            Side::Buy => self.copy_entry(trade, decision, source, now, out),
            Side::Sell => self.copy_exit(trade, decision, held_before, out),
        }
    }

    /// Records the decision on a whale trade, for the store (which marks the trade seen with it).
    pub(super) fn decided(mut decision: WhaleTradeDecision, outcome: DecisionOutcome, out: &mut Outputs) {
        decision.outcome = outcome;
        out.events.push(EngineEvent::WhaleTradeDecided(Box::new(decision)));
    }

    pub(super) fn reject(
        &mut self,
        trade: &WhaleTrade,
        decision: WhaleTradeDecision,
        source: SourceTradeId,
        refusal: Refusal,
        now: Timestamp,
        out: &mut Outputs,
    ) {
        let Refusal { rejection, context } = refusal;
        self.status.trades_rejected += 1;
        if let RejectReason::Code(code) = rejection.reason {
            self.status.last_rejection = Some(code);
        }
        let outcome = DecisionOutcome::Rejected { reason: rejection.reason, detail: rejection.detail.clone() };
        Self::decided(decision, outcome, out);
        self.emit_audit(
            AuditRecord::TradeRejected(TradeRejected {
                whale_trade_id: source.to_string(),
                whale_address: trade.wallet.to_ascii_lowercase(),
                market_id: trade.condition_id.clone(),
                token_id: trade.asset.clone(),
                whale_label: self.names.whale_label(&trade.wallet),
                market_title: self.names.market_title(&trade.condition_id),
                outcome: self.names.outcome_name(&trade.asset),
                reason: rejection.reason.as_str().to_owned(),
                detail: rejection.detail,
                timestamp: now.to_rfc3339(),
                context: Box::new(context),
            }),
            out,
        );
    }
}
