//! The status shown by `GET /status` and `whale-trader status`, live or read from the store.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// One open position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PositionView {
    pub id: String,
    pub whale: String,
    pub market: String,
    pub token: String,
    pub outcome: String,
    pub size: Decimal,
    pub entry_price: Decimal,
    pub last_price: Option<Decimal>,
    pub unrealised_pnl: Option<Decimal>,
    pub opened_at: String,
}

/// Everything `status` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    /// `daemon` when read from the running daemon, `store` when read offline.
    pub source: String,
    pub mode: String,
    pub trading_state: String,
    pub state_reason: Option<String>,
    pub equity: Decimal,
    pub daily_pnl: Decimal,
    pub realised_pnl: Decimal,
    pub drawdown_percent: Decimal,
    pub breaker_trips_today: u32,
    pub open_positions: Vec<PositionView>,
    /// The risk limits in use, as configured.
    pub limits: serde_json::Value,
}

impl StatusView {
    /// A short human summary for the terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let reason = self.state_reason.as_deref().map(|r| format!(" ({r})")).unwrap_or_default();
        out.push_str(&format!("whale-trader [{} mode, from the {}]\n", self.mode, self.source));
        out.push_str(&format!("trading state : {}{reason}\n", self.trading_state));
        out.push_str(&format!("equity        : ${}\n", self.equity.round_dp(2)));
        out.push_str(&format!("daily P&L     : ${}\n", self.daily_pnl.round_dp(2)));
        out.push_str(&format!("realised P&L  : ${}\n", self.realised_pnl.round_dp(2)));
        out.push_str(&format!("drawdown      : {}%\n", self.drawdown_percent.round_dp(2)));
        out.push_str(&format!("breaker trips : {} today\n", self.breaker_trips_today));
        out.push_str(&format!("open positions: {}\n", self.open_positions.len()));
        for p in &self.open_positions {
            let pnl = p.unrealised_pnl.map(|v| format!(" P&L ${}", v.round_dp(2))).unwrap_or_default();
            let last = p.last_price.map(|v| format!(" now {v}")).unwrap_or_default();
            out.push_str(&format!(
                "  {} {} {} @ {}{last}{pnl} (whale {}, market {})\n",
                p.id,
                p.size.round_dp(2),
                p.outcome,
                p.entry_price,
                short(&p.whale),
                short(&p.market)
            ));
        }
        out
    }
}

fn short(id: &str) -> String {
    if id.len() > 12 { format!("{}…{}", &id[..6], &id[id.len() - 4..]) } else { id.to_string() }
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    #[test]
    fn render_lists_state_pnl_and_positions() {
        let view = StatusView {
            source: "daemon".into(),
            mode: "paper".into(),
            trading_state: "halted".into(),
            state_reason: Some("manual_halt".into()),
            equity: dec!(10012.345),
            daily_pnl: dec!(-12.5),
            realised_pnl: dec!(3),
            drawdown_percent: dec!(1.234),
            breaker_trips_today: 1,
            open_positions: vec![PositionView {
                id: "pos-1".into(),
                whale: "0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee".into(),
                market: "0xabc".into(),
                token: "123".into(),
                outcome: "Yes".into(),
                size: dec!(100),
                entry_price: dec!(0.52),
                last_price: Some(dec!(0.55)),
                unrealised_pnl: Some(dec!(3)),
                opened_at: "2026-01-01T00:00:00.000Z".into(),
            }],
            limits: serde_json::json!({}),
        };
        let text = view.render();
        assert!(text.contains("trading state : halted (manual_halt)"), "{text}");
        assert!(text.contains("equity        : $10012.34") || text.contains("equity        : $10012.35"), "{text}");
        assert!(text.contains("pos-1 100 Yes @ 0.52 now 0.55 P&L $3 (whale 0x6a72…33ee"), "{text}");
    }
}
