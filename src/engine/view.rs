//! What observers see of the engine: the risk manager's snapshot and the open trades by name. Built
//! off the per-event path (the engine task publishes it at a bounded rate), since it allocates.

use std::collections::{BTreeMap, BTreeSet};

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use std::sync::Arc;

use crate::market::NameCatalogue;
use crate::risk::RiskSnapshot;
use crate::store::PositionRecord;

use super::core::Engine;
use super::io::EngineStatus;

/// A point-in-time picture of the engine for `/status`, `/metrics` and alerts.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineView {
    pub status: EngineStatus,
    pub risk: RiskSnapshot,
    pub positions: Vec<PositionView>,
    /// Every token with an open position or an order in flight, outside closed markets: what the
    /// price feed must watch.
    pub watched_tokens: BTreeSet<String>,
    /// Every market (condition id) with an open position or an order in flight, closed ones
    /// included, with those tokens: what the resolution watcher checks.
    pub watched_markets: BTreeMap<String, BTreeSet<String>>,
    /// Markets that stopped trading before their resolution is known (their positions wait for it).
    pub closed_markets: BTreeSet<String>,
    /// Live mode: the position mismatches holding trading, tokens by name.
    pub mismatches: Vec<MismatchView>,
    /// Each copied whale's results and standing, by wallet and label.
    pub whales: Vec<WhaleView>,
    /// Market questions, outcome names and whale labels (what the names refresher reads too).
    pub names: Arc<NameCatalogue>,
    /// What holds trading (halts, reducing holds, muted whales), and until when where known.
    pub holds: Vec<HoldView>,
    /// The trade plans open now and their risk.
    pub plans: PlanBookView,
}

/// The trade plans open now: each with its risk, and the open risk in total and per base asset.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlanBookView {
    pub open: Vec<crate::risk::OpenPlan>,
    pub risk_usd: Decimal,
    pub risk_by_asset: Vec<(String, Decimal)>,
}

/// One rule holding trading, or one muted whale, as `status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HoldView {
    /// The reason code (`circuit_breaker_tripped`, `daily_loss_limit`, `health_degraded`,
    /// `position_mismatch`, `whale_muted`, …).
    pub reason: String,
    /// What it holds: `trading`, or the whale (label and wallet) a mute holds.
    pub holds: String,
    /// When it lets go by itself (RFC 3339); `None`: when its cause clears or a human acts.
    pub until: Option<String>,
}

/// One copied whale's results and standing, as `whale-trader whales`, `status` and `/status` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WhaleView {
    pub wallet: String,
    /// The whale's label from the config, when it has one.
    pub label: Option<String>,
    /// The label, or the short address when there is none: always something to show.
    #[serde(default)]
    pub whale_label: String,
    pub standing: Standing,
    /// Why it is muted (`consecutive_losses`, `daily_loss_limit`), and until when (RFC 3339).
    pub mute_cause: Option<String>,
    pub muted_until: Option<String>,
    pub copies_opened: u64,
    pub copies_closed: u64,
    pub open_positions: u32,
    pub realised_pnl: Decimal,
    pub unrealised_pnl: Decimal,
    pub fees: Decimal,
    pub hit_rate: Option<Decimal>,
    pub average_hold_secs: Option<i64>,
    /// Our entry against the whale's fill, per share on average and in USD in total.
    pub average_slippage: Option<Decimal>,
    pub slippage_usd: Decimal,
    /// What the closed copies would have made at the whale's prices and without fees.
    pub whale_result: Decimal,
    pub rolling_pnl: Decimal,
    pub consecutive_losses: u32,
}

/// Whether a whale's trades are copied now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    Copied,
    /// Muted by its breaker until the cooldown ends or a human unmutes it.
    Muted,
    /// Locked for low profit over the lookback.
    Locked,
    /// Skipped by the copy-edge guard.
    NegativeEdge,
}

impl Standing {
    pub const fn as_str(self) -> &'static str {
        match self {
            Standing::Copied => "copied",
            Standing::Muted => "muted",
            Standing::Locked => "locked",
            Standing::NegativeEdge => "negative_edge",
        }
    }
}

impl WhaleView {
    /// A configured whale not copied yet.
    pub fn unseen(wallet: &str) -> Self {
        WhaleView {
            wallet: wallet.to_owned(),
            label: None,
            whale_label: crate::market::short_id(wallet),
            standing: Standing::Copied,
            mute_cause: None,
            muted_until: None,
            copies_opened: 0,
            copies_closed: 0,
            open_positions: 0,
            realised_pnl: Decimal::ZERO,
            unrealised_pnl: Decimal::ZERO,
            fees: Decimal::ZERO,
            hit_rate: None,
            average_hold_secs: None,
            average_slippage: None,
            slippage_usd: Decimal::ZERO,
            whale_result: Decimal::ZERO,
            rolling_pnl: Decimal::ZERO,
            consecutive_losses: 0,
        }
    }
}

/// One open position by name, as `/status` and `whale-trader status` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionView {
    pub id: String,
    pub whale: String,
    pub market: String,
    pub token: String,
    pub outcome: String,
    /// The whale's label, or its short address (the address is `whale`).
    #[serde(default)]
    pub whale_label: String,
    /// The market's question, or its short id (the condition id is `market`).
    #[serde(default)]
    pub market_title: String,
    pub size: Decimal,
    pub entry_price: Decimal,
    pub last_price: Option<Decimal>,
    pub unrealised_pnl: Option<Decimal>,
    pub opened_at: String,
}

/// An open position as the store holds it, for the status read with the daemon stopped: no price
/// is known then (the best price since entry is the trailing stop's reference, not the last one).
impl From<&PositionRecord> for PositionView {
    fn from(p: &PositionRecord) -> Self {
        PositionView {
            id: p.position_id.clone(),
            whale: p.whale_wallet.clone(),
            market: p.market_id.clone(),
            token: p.token_id.clone(),
            outcome: p.outcome.clone(),
            whale_label: crate::market::short_id(&p.whale_wallet),
            market_title: crate::market::short_id(&p.market_id),
            size: p.size,
            entry_price: p.entry_price,
            last_price: None,
            unrealised_pnl: None,
            opened_at: p.opened_at.to_rfc3339(),
        }
    }
}

impl PositionView {
    /// Names the position from `names` (a store read: the daemon's view names its own).
    pub fn named_by(mut self, names: &NameCatalogue) -> Self {
        self.whale_label = names.whale_label(&self.whale);
        self.market_title = names.market_title(&self.market);
        if let Some(outcome) = names.outcome(&self.token) {
            self.outcome = outcome.to_owned();
        }
        self
    }
}

/// One token whose holdings at the venue and in the books disagree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MismatchView {
    pub token: String,
    pub market: String,
    /// The market's question and the token's outcome name, or their short ids.
    #[serde(default)]
    pub market_title: String,
    #[serde(default)]
    pub outcome: String,
    /// `unknown_to_us`, `missing_at_venue` or `size_differs`.
    pub kind: String,
    pub ours: Decimal,
    pub venue: Decimal,
    pub venue_avg_price: Decimal,
    pub since: String,
}

impl Engine {
    /// The engine's view for observers.
    pub fn view(&self) -> EngineView {
        let names = self.interner();
        let positions = self
            .portfolio()
            .open_trades()
            .map(|trade| {
                let size = trade.open_size();
                let entry = trade.avg_entry_price();
                let last = self.risk().mark(trade.token);
                PositionView {
                    id: trade.trade_id.clone(),
                    whale: names.whale_name(trade.whale).unwrap_or("?").to_string(),
                    market: names.market_name(trade.market).unwrap_or("?").to_string(),
                    token: names.token_name(trade.token).unwrap_or("?").to_string(),
                    outcome: self.outcome_of(trade.token, &trade.outcome),
                    whale_label: self.whale_label_of(trade.whale),
                    market_title: self.market_title_of(trade.market),
                    size,
                    entry_price: entry,
                    last_price: last,
                    unrealised_pnl: last.map(|price| (price - entry) * size),
                    opened_at: trade.opened_at.map(|t| t.to_rfc3339()).unwrap_or_default(),
                }
            })
            .collect();
        let portfolio = self.portfolio();
        let closed = self.closed_markets();
        let mut watched_tokens = BTreeSet::new();
        let mut watched_markets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let held = portfolio.open_trades().map(|trade| (trade.market, trade.token));
        let ordered = portfolio.pending.values().map(|order| (order.intent.market, order.intent.token));
        for (market, token) in held.chain(ordered) {
            let Some(token_name) = names.token_name(token) else { continue };
            if !closed.contains(&market) {
                watched_tokens.insert(token_name.to_owned());
            }
            if let Some(market_name) = names.market_name(market) {
                watched_markets.entry(market_name.to_owned()).or_default().insert(token_name.to_owned());
            }
        }
        let closed_markets = closed.iter().filter_map(|m| names.market_name(*m)).map(str::to_owned).collect();
        let mismatches = self
            .risk()
            .mismatches()
            .iter()
            .map(|m| MismatchView {
                token: names.token_name(m.token).unwrap_or("?").to_string(),
                market: names.market_name(m.market).unwrap_or("?").to_string(),
                market_title: self.market_title_of(m.market),
                outcome: self.outcome_of(m.token, ""),
                kind: m.kind.as_str().to_owned(),
                ours: m.ours,
                venue: m.venue,
                venue_avg_price: m.venue_avg_price,
                since: m.since.to_rfc3339(),
            })
            .collect();
        let risk = self.risk().snapshot();
        let now = self.status().last_input_at.unwrap_or_default();
        let whales: Vec<WhaleView> = risk
            .whales
            .iter()
            .map(|w| {
                let wallet = names.whale_name(w.whale).unwrap_or("?").to_string();
                let label = self.whale_label(w.whale).map(str::to_owned);
                let muted = w.muted_until.filter(|until| now < *until);
                let standing = if muted.is_some() {
                    Standing::Muted
                } else if w.low_profit {
                    Standing::Locked
                } else if w.negative_edge {
                    Standing::NegativeEdge
                } else {
                    Standing::Copied
                };
                WhaleView {
                    whale_label: self.names().whale_label(&wallet),
                    wallet,
                    label,
                    standing,
                    mute_cause: muted.and(w.mute_cause).map(|c| c.as_str().to_owned()),
                    muted_until: muted.map(|t| t.to_rfc3339()),
                    copies_opened: w.copies_opened,
                    copies_closed: w.copies_closed,
                    open_positions: w.open_positions,
                    realised_pnl: w.realised,
                    unrealised_pnl: w.unrealised,
                    fees: w.fees,
                    hit_rate: w.hit_rate,
                    average_hold_secs: w.average_hold_ms.map(|ms| ms / 1000),
                    average_slippage: w.average_slippage,
                    slippage_usd: w.slippage_usd,
                    whale_result: w.whale_result,
                    rolling_pnl: w.rolling_pnl,
                    consecutive_losses: w.consecutive_losses,
                }
            })
            .collect();
        let mut holds: Vec<HoldView> = self
            .risk()
            .holds()
            .iter()
            .map(|h| HoldView {
                reason: h.reason.as_str().into(),
                holds: "trading".into(),
                until: h.until.map(|t| t.to_rfc3339()),
            })
            .collect();
        holds.extend(whales.iter().filter(|w| w.standing == Standing::Muted).map(|w| HoldView {
            reason: "whale_muted".into(),
            holds: match &w.label {
                Some(label) => format!("{label} ({})", w.wallet),
                None => w.wallet.clone(),
            },
            until: w.muted_until.clone(),
        }));
        EngineView {
            status: self.status(),
            risk,
            positions,
            watched_tokens,
            watched_markets,
            closed_markets,
            mismatches,
            whales,
            names: self.shared_names(),
            holds,
            plans: PlanBookView {
                open: self.risk().open_plans().to_vec(),
                risk_usd: self.risk().plan_risk_total(),
                risk_by_asset: self.risk().plan_risk_per_asset(),
            },
        }
    }
}
