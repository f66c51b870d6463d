//! The wallet as truth (live mode): a reading of the wallet sets equity from its cash, and the
//! venue's positions are compared with the engine's open trades; a disagreement is reported once
//! (audit `position_mismatch`, an alert) and holds trading in `reducing` until a human resolves it
//! with `adopt` (take the venue's shares into the books) or `drop` (forget a trade the venue no
//! longer holds), then `resume`.

use rust_decimal::Decimal;

use crate::clock::Timestamp;
use crate::config::Mode;
use crate::domain::{ExitReason, IdHashSet, ReasonCode, Side, TokenId};
use crate::risk::wallet::{LOT, reconcile};
use crate::risk::{MismatchKind, OurHolding, PositionId, PositionMismatch, Transition, VenueHolding};

use super::Engine;
use crate::engine::audit::{AuditRecord, PositionAdopted, PositionDropped, PositionMismatchRecord};
use crate::engine::io::{ControlAnswer, ControlOutcome, EngineEvent, Outputs, PlanAnswer, WalletReading};
use crate::engine::portfolio::{Trade, trade_id_of};

/// The whale name of positions adopted from the venue: not a wallet address, so it can never be a
/// followed whale (a whale's sale never exits them).
pub const ADOPTED: &str = "adopted";

impl Engine {
    /// A reading of the wallet: equity from its cash, then the venue's positions against ours.
    pub(super) fn on_wallet(&mut self, reading: WalletReading, now: Timestamp, out: &mut Outputs) {
        if self.mode != Mode::Live {
            // Paper and dry-run keep their own ledger from `risk.starting_balance_usd`.
            tracing::warn!(mode = %self.mode, "a wallet reading outside live mode is ignored");
            return;
        }
        match self.risk.on_wallet_cash(reading.cash, reading.read_at) {
            Ok(flow) if !flow.is_zero() => tracing::info!(
                cash = %reading.cash,
                %flow,
                "the wallet differs from the books: taken as money in or out, not as a trading result"
            ),
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "wallet reading refused");
                return;
            }
        }
        self.status.wallet_readings += 1;
        let venue: Vec<VenueHolding> = reading
            .positions
            .iter()
            .map(|p| {
                let market = self.interner.market(&p.condition_id);
                VenueHolding {
                    token: self.interner.token(&p.token_id),
                    market,
                    size: p.size,
                    avg_price: p.avg_price,
                    redeemable: p.redeemable,
                    venue_min_order_size: self.market.known_rules(market).map(|r| r.min_order_size),
                }
            })
            .collect();
        // Sizes move under an order in flight, and a reading taken before an order ended (or before
        // a human's adopt or drop) shows the token as it was: those tokens wait for the next reading.
        let read_at = reading.read_at;
        let busy: IdHashSet<TokenId> = self
            .portfolio
            .pending
            .values()
            .map(|p| p.intent.token)
            .chain(self.portfolio.order_ended_at.iter().filter(|(_, at)| **at >= read_at).map(|(token, _)| *token))
            .collect();
        let found = reconcile(&self.our_holdings(), &venue, |token| busy.contains(&token), now);
        let known = self.risk.mismatches().to_vec();
        let mut next: Vec<PositionMismatch> = Vec::with_capacity(found.len());
        let mut reported = Vec::new();
        for mismatch in found {
            match known.iter().find(|k| k.same_as(&mismatch)) {
                Some(same) => next.push(*same),
                None => {
                    reported.push(mismatch);
                    next.push(mismatch);
                }
            }
        }
        // A token with an order in flight was not compared: what was reported of it stands.
        for old in &known {
            if busy.contains(&old.token) && !next.iter().any(|m| m.token == old.token) {
                next.push(*old);
            }
        }
        for old in &known {
            if !next.iter().any(|m| m.token == old.token) {
                let token = self.interner.token_name(old.token).unwrap_or("?");
                tracing::info!(token, "a reported position mismatch is no longer seen; the hold waits for a resume");
            }
        }
        next.sort_by_key(|m| m.token);
        self.risk.set_mismatches(next);
        if reported.is_empty() {
            return;
        }
        for mismatch in &reported {
            self.status.position_mismatches_reported += 1;
            let record = AuditRecord::PositionMismatch(self.mismatch_record(mismatch, now));
            self.emit_audit(record, out);
        }
        let detail = reported.iter().map(|m| self.describe(m)).collect::<Vec<_>>().join("; ");
        if let Some(t) = self.risk.reduce(ReasonCode::PositionMismatch, &detail, now) {
            self.record_transition(&t, out);
        }
    }

    /// Shares each token's open trades hold.
    fn our_holdings(&self) -> Vec<OurHolding> {
        let mut held: Vec<OurHolding> = Vec::new();
        for trade in self.portfolio.open_trades() {
            match held.iter_mut().find(|h| h.token == trade.token) {
                Some(h) => h.size += trade.open_size(),
                None => held.push(OurHolding { token: trade.token, market: trade.market, size: trade.open_size() }),
            }
        }
        held
    }

    fn trade_ids_of(&self, token: TokenId) -> Vec<String> {
        let mut ids: Vec<String> =
            self.portfolio.open_trades().filter(|t| t.token == token).map(|t| t.trade_id.clone()).collect();
        ids.sort();
        ids
    }

    fn mismatch_record(&self, m: &PositionMismatch, now: Timestamp) -> PositionMismatchRecord {
        PositionMismatchRecord {
            token_id: self.interner.token_name(m.token).unwrap_or_default().to_owned(),
            market_id: self.interner.market_name(m.market).unwrap_or_default().to_owned(),
            kind: m.kind.as_str().to_owned(),
            ours: m.ours,
            trade_ids: self.trade_ids_of(m.token),
            venue: m.venue,
            venue_avg_price: m.venue_avg_price.round_dp(6),
            timestamp: now.to_rfc3339(),
        }
    }

    /// One mismatch for a human: `token 7132… (unknown_to_us): ours 0, venue 120`.
    fn describe(&self, m: &PositionMismatch) -> String {
        let token = self.interner.token_name(m.token).unwrap_or("?");
        format!("token {token} ({}): ours {}, venue {}", m.kind.as_str(), m.ours, m.venue)
    }

    pub(super) fn answer(&mut self, outcome: ControlOutcome, message: String) {
        let seq = self.status.human_controls;
        if outcome == ControlOutcome::Done {
            tracing::info!(%message, "control answered");
        } else {
            tracing::warn!(%message, "control refused");
        }
        self.status.control_answer = Some(ControlAnswer { seq, outcome, message, plan: None });
    }

    /// The answer to a plan command, with the decision or close it gave.
    pub(super) fn answer_plan(&mut self, outcome: ControlOutcome, message: String, plan: PlanAnswer) {
        self.answer(outcome, message);
        if let Some(answer) = &mut self.status.control_answer {
            answer.plan = Some(plan);
        }
    }

    /// A human's resume: the `position_mismatch` hold is lifted only when no mismatch remains;
    /// otherwise the answer names the ones that still hold trading.
    pub(super) fn resume_by_human(&mut self, now: Timestamp) -> Option<Transition> {
        let transition = self.risk.resume(now);
        let remaining = self.risk.mismatches().to_vec();
        if remaining.is_empty() {
            let state = self.risk.trading_state();
            let holds: Vec<String> = self
                .risk
                .holds()
                .iter()
                .map(|h| match h.until {
                    Some(until) => format!("{} until {}", h.reason.as_str(), until.to_rfc3339()),
                    None => h.reason.as_str().to_string(),
                })
                .collect();
            let message = match holds.is_empty() {
                true => format!("trading resumed (now {state})"),
                false => format!("trading resumed (now {state}); still holding it: {}", holds.join(", ")),
            };
            self.answer(ControlOutcome::Done, message);
        } else {
            let list = remaining.iter().map(|m| self.describe(m)).collect::<Vec<_>>().join("; ");
            self.answer(
                ControlOutcome::Refused,
                format!("position_mismatch still holds trading: {list}; resolve each with adopt or drop, then resume"),
            );
        }
        transition
    }

    /// `adopt TOKEN_ID`: the venue's shares of a token we hold fewer of (none, usually) become a
    /// position of our own at the venue's average price, stops from `[risk.stops]` anchored there.
    pub(super) fn adopt(&mut self, token_id: &str, now: Timestamp, out: &mut Outputs) -> Option<Transition> {
        let token = self.interner.find_token(token_id);
        let Some(mismatch) = self.risk.mismatches().iter().find(|m| Some(m.token) == token).copied() else {
            self.answer(
                ControlOutcome::Refused,
                format!("token {token_id}: no position mismatch is open for it; nothing to adopt"),
            );
            return None;
        };
        let size = mismatch.venue - mismatch.ours;
        if size <= LOT || mismatch.kind == MismatchKind::MissingAtVenue {
            self.answer(
                ControlOutcome::Refused,
                format!(
                    "token {token_id}: the venue holds {} and we hold {}; nothing to adopt (drop the trades the venue no longer holds)",
                    mismatch.venue, mismatch.ours
                ),
            );
            return None;
        }
        let id = self.next_client_order_id();
        let position = PositionId::from(id);
        let price = mismatch.venue_avg_price;
        if let Err(e) = self.risk.adopt(position, mismatch.market, mismatch.token, size, price, now) {
            self.answer(ControlOutcome::Refused, format!("token {token_id}: not adopted: {e}"));
            return None;
        }
        let whale = self.interner.whale(ADOPTED);
        let trade_id = trade_id_of(id);
        self.portfolio.trades.insert(
            position,
            Trade {
                position,
                trade_id: trade_id.clone(),
                whale,
                market: mismatch.market,
                token: mismatch.token,
                outcome: self.market.outcome_label(mismatch.token).unwrap_or_default().to_owned(),
                side: Side::Buy,
                whale_trade_id: String::new(),
                decision: Default::default(),
                whale_price: price,
                whale_size: size,
                entry_size: size,
                entry_cost: size * price,
                exit_size: Decimal::ZERO,
                exit_proceeds: Decimal::ZERO,
                fees: Decimal::ZERO,
                opened_at: Some(now),
                exiting: Decimal::ZERO,
                closed: false,
                exit_plan: None,
            },
        );
        if let Some(update) = self.position_update(position, None) {
            out.events.push(EngineEvent::PositionUpdated(Box::new(update)));
        }
        let record = AuditRecord::PositionAdopted(PositionAdopted {
            trade_id: trade_id.clone(),
            token_id: token_id.to_owned(),
            market_id: self.interner.market_name(mismatch.market).unwrap_or_default().to_owned(),
            size,
            price: price.round_dp(6),
            timestamp: now.to_rfc3339(),
        });
        self.emit_audit(record, out);
        self.portfolio.order_ended(mismatch.token, now);
        let left = self.settle_mismatch(mismatch.token);
        self.answer(
            ControlOutcome::Done,
            format!("token {token_id}: {size} shares adopted as {trade_id} at {price}; {left}"),
        );
        None
    }

    /// `drop TRADE_ID`: forget a trade the venue no longer holds. It closes with reason
    /// `reconciled`, its P&L booked at its last mark (the entry price if it never had one).
    pub(super) fn drop_trade(&mut self, trade_id: &str, now: Timestamp, out: &mut Outputs) -> Option<Transition> {
        let Some(trade) = self.portfolio.trade_by_id(trade_id).filter(|t| t.is_open()) else {
            self.answer(ControlOutcome::NotFound, format!("{trade_id} is not an open trade"));
            return None;
        };
        let (position, token, size, entry) = (trade.position, trade.token, trade.open_size(), trade.avg_entry_price());
        if self.portfolio.pending.values().any(|p| p.position == position) {
            self.answer(
                ControlOutcome::Refused,
                format!("{trade_id} has an order in flight; drop it once the order has finished"),
            );
            return None;
        }
        let mark = self.risk.mark(token).unwrap_or(entry);
        let realised = (mark - entry) * size;
        if let Err(e) = self.risk.on_close(position, realised, now) {
            self.answer(ControlOutcome::Refused, format!("{trade_id}: not dropped: {e}"));
            return None;
        }
        if let Some(trade) = self.portfolio.trades.get_mut(&position) {
            trade.exit_size += size;
            trade.exit_proceeds += mark * size;
            trade.exiting = Decimal::ZERO;
            trade.exit_plan = None;
        }
        let pnl = self.portfolio.trades.get(&position).map(Trade::realised_pnl).unwrap_or(realised);
        let record = AuditRecord::PositionDropped(PositionDropped {
            trade_id: trade_id.to_owned(),
            token_id: self.interner.token_name(token).unwrap_or_default().to_owned(),
            size,
            mark,
            pnl_usd: pnl.round_dp(6),
            timestamp: now.to_rfc3339(),
        });
        self.emit_audit(record, out);
        self.close_trade(position, ExitReason::Reconciled, now, out);
        self.portfolio.order_ended(token, now);
        let left = self.settle_mismatch(token);
        self.answer(
            ControlOutcome::Done,
            format!("{trade_id} dropped: {size} shares closed as reconciled at {mark}; {left}"),
        );
        None
    }

    /// After a human's adopt or drop: the token's mismatch is gone when our holding now matches the
    /// venue's last reading, else it stays with our new size. Says what still holds trading.
    fn settle_mismatch(&mut self, token: TokenId) -> String {
        let ours: Decimal = self.portfolio.open_trades().filter(|t| t.token == token).map(Trade::open_size).sum();
        let mut mismatches = self.risk.mismatches().to_vec();
        if let Some(m) = mismatches.iter_mut().find(|m| m.token == token) {
            m.ours = ours;
        }
        mismatches.retain(|m| (m.ours - m.venue).abs() > LOT);
        let left = match mismatches.len() {
            0 => "no position mismatch remains: resume to trade".to_owned(),
            n => format!(
                "{n} position mismatch(es) remain: {}",
                mismatches.iter().map(|m| self.describe(m)).collect::<Vec<_>>().join("; ")
            ),
        };
        self.risk.set_mismatches(mismatches);
        left
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use rust_decimal_macros::dec;

    use super::super::super::audit::MemoryAuditSink;
    use super::super::super::io::{Control, Input};
    use super::super::EngineSettings;
    use super::*;
    use crate::config::Config;
    use crate::domain::TradingState;
    use crate::market::VenuePosition;

    const T0: Timestamp = Timestamp(1_767_261_600_000);

    fn engine(mode: Mode) -> (Engine, MemoryAuditSink) {
        let mut config = Config::default();
        config.daemon.mode = mode;
        let audit = MemoryAuditSink::new();
        let engine = Engine::new(Arc::new(config), EngineSettings::default(), Box::new(audit.clone()), T0)
            .unwrap_or_else(|e| panic!("{e}"));
        (engine, audit)
    }

    fn reading(cash: Decimal, positions: &[(&str, Decimal)], secs: i64) -> Input {
        let positions = positions
            .iter()
            .map(|(token, size)| VenuePosition {
                token_id: (*token).to_owned(),
                condition_id: "0xmarket".into(),
                size: *size,
                avg_price: dec!(0.4),
                redeemable: false,
            })
            .collect();
        Input::Wallet(Box::new(WalletReading { cash, read_at: T0.plus_millis(secs * 1000), positions }))
    }

    fn events(audit: &MemoryAuditSink, name: &str) -> usize {
        audit.records().iter().filter(|r| r.event_name() == name).count()
    }

    #[test]
    fn an_unknown_position_is_reported_once_holds_trading_and_adopt_then_resume_lifts_it() {
        let (mut engine, audit) = engine(Mode::Live);
        let mut out = Outputs::new();
        engine.process(reading(dec!(2000), &[], 1), T0, &mut out);
        assert_eq!((engine.risk().equity(), engine.trading_state()), (dec!(2000), TradingState::Active));

        engine.process(reading(dec!(2000), &[("555", dec!(120))], 2), T0, &mut out);
        engine.process(reading(dec!(2000), &[("555", dec!(120))], 3), T0, &mut out);
        assert_eq!(events(&audit, "position_mismatch"), 1, "reported once");
        assert_eq!(engine.trading_state(), TradingState::Reducing);
        assert_eq!(engine.risk().snapshot().state_cause, Some(ReasonCode::PositionMismatch));

        engine.process(Input::Control(Control::Resume { detail: "test".into() }), T0, &mut out);
        let answer = engine.status().control_answer.unwrap_or_else(|| panic!("answered"));
        assert!(!answer.ok() && answer.message.contains("token 555 (unknown_to_us): ours 0, venue 120"), "{answer:?}");
        assert_eq!(engine.trading_state(), TradingState::Reducing);

        engine.process(Input::Control(Control::Adopt { token_id: "999".into() }), T0, &mut out);
        assert!(engine.status().control_answer.is_some_and(|a| !a.ok()), "no mismatch for that token");
        engine.process(Input::Control(Control::Adopt { token_id: "555".into() }), T0, &mut out);
        let answer = engine.status().control_answer.unwrap_or_else(|| panic!("answered"));
        assert!(answer.ok() && answer.message.contains("no position mismatch remains"), "{answer:?}");
        assert_eq!(engine.risk().equity(), dec!(2048), "cash + 120 shares at 0.40");
        assert_eq!(engine.portfolio().open_count(), 1);

        engine.process(Input::Control(Control::Resume { detail: "test".into() }), T0, &mut out);
        assert_eq!(engine.trading_state(), TradingState::Active);
        // The next reading agrees with the books.
        engine.process(reading(dec!(2000), &[("555", dec!(120))], 4), T0, &mut out);
        assert_eq!((events(&audit, "position_mismatch"), engine.trading_state()), (1, TradingState::Active));
    }

    #[test]
    fn closing_an_unknown_trade_is_not_found_and_an_open_one_is_done() {
        let (mut engine, _audit) = engine(Mode::Live);
        let mut out = Outputs::new();
        engine.process(Input::Control(Control::ClosePosition { trade_id: "T999999".into() }), T0, &mut out);
        let answer = engine.status().control_answer.unwrap_or_else(|| panic!("answered"));
        assert_eq!(answer.outcome, ControlOutcome::NotFound, "{answer:?}");
        assert!(answer.message.contains("T999999 is not an open trade"), "{answer:?}");

        engine.process(reading(dec!(2000), &[("555", dec!(120))], 1), T0, &mut out);
        engine.process(Input::Control(Control::Adopt { token_id: "555".into() }), T0, &mut out);
        let adopted = engine.status().control_answer.unwrap_or_else(|| panic!("answered")).message;
        let trade_id =
            adopted.split("adopted as ").nth(1).and_then(|m| m.split_whitespace().next()).unwrap_or_default();
        engine.process(Input::Control(Control::ClosePosition { trade_id: trade_id.into() }), T0, &mut out);
        let answer = engine.status().control_answer.unwrap_or_else(|| panic!("answered"));
        assert_eq!(answer.outcome, ControlOutcome::Done, "{adopted}: {answer:?}");
    }

    #[test]
    fn a_dropped_trade_closes_as_reconciled_and_paper_ignores_readings() {
        let (mut engine, audit) = engine(Mode::Live);
        let mut out = Outputs::new();
        engine.process(reading(dec!(2000), &[("555", dec!(50))], 5), T0, &mut out);
        engine.process(Input::Control(Control::Adopt { token_id: "555".into() }), T0, &mut out);
        engine.process(reading(dec!(2000), &[], 6), T0.plus_millis(1), &mut out);
        assert_eq!(events(&audit, "position_mismatch"), 2, "then it left the wallet");
        let trade_id = engine.portfolio().open_trades().map(|t| t.trade_id.clone()).next().unwrap_or_default();
        engine.process(Input::Control(Control::Drop { trade_id: trade_id.clone() }), T0, &mut out);
        let closed = audit.records().into_iter().find_map(|r| match r {
            AuditRecord::TradeClosed(c) => Some(c),
            _ => None,
        });
        assert_eq!(closed.map(|c| (c.trade_id, c.reason)), Some((trade_id, "reconciled".to_owned())));
        assert_eq!(engine.portfolio().open_count(), 0);
        engine.process(Input::Control(Control::Resume { detail: "test".into() }), T0, &mut out);
        assert_eq!(engine.trading_state(), TradingState::Active);

        let (mut paper, audit) = self::engine(Mode::Paper);
        paper.process(reading(dec!(2000), &[("555", dec!(50))], 7), T0, &mut out);
        assert_eq!((paper.risk().equity(), events(&audit, "position_mismatch")), (dec!(10000), 0));
    }
}
