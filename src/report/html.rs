//! The report's HTML page: one self-contained file (inline SVG charts, inline CSS, no script, no
//! outside resource), the headline figures and the tables with names beside ids.

use std::fmt::Write as _;

use rust_decimal::Decimal;

use super::charts::short;
use super::figures::Figures;

/// Rows a table shows at most (the JSON has them all).
pub const MAX_TABLE_ROWS: usize = 500;

/// Escapes text for HTML element content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn usd(d: Decimal) -> String {
    crate::alerts::usd(d)
}

fn opt(d: Option<Decimal>, suffix: &str) -> String {
    d.map_or_else(|| "n/a".to_string(), |d| format!("{}{suffix}", d.normalize()))
}

/// A name with its id beside it: `alpha <code>0x1234…abcd</code>`; the id alone when unnamed.
fn named(name: &str, id: &str) -> String {
    let id_html = format!("<code title=\"{}\">{}</code>", escape(id), escape(&short(id)));
    if name.is_empty() { id_html } else { format!("{} {id_html}", escape(name)) }
}

fn table_note(shown: usize, total: usize) -> String {
    if total > shown {
        format!("<p class=\"note\">Showing {shown} of {total} rows; report.json has all.</p>")
    } else {
        String::new()
    }
}

/// The page: `svgs` are the charts' names, titles and SVG text, in order.
pub fn page(figures: &Figures, svgs: &[(&str, String, String)]) -> String {
    let mut h = String::with_capacity(64 * 1024 + svgs.iter().map(|s| s.2.len()).sum::<usize>());
    let period = match (figures.first_at, figures.last_at) {
        (Some(a), Some(b)) => format!("{} to {}", a.to_rfc3339(), b.to_rfc3339()),
        (Some(a), None) => format!("from {}", a.to_rfc3339()),
        _ => "no trades".into(),
    };
    let risk_rule = match figures.stop_loss_fraction {
        Some(f) => format!("entry notional × the stop-loss fraction {}", f.normalize()),
        None => "the whole entry notional (no stop-loss configured)".into(),
    };
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>whale-trader report</title><style>\
         body{{font-family:sans-serif;margin:24px;color:#222;max-width:1100px}}\
         table{{border-collapse:collapse;margin:8px 0 20px}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}\
         td.t,th.t{{text-align:left}}figure{{margin:16px 0}}figure svg{{width:100%;height:auto;max-width:1000px}}\
         .neg{{color:#b00}}.note{{color:#666;font-size:90%}}code{{font-size:90%;color:#555}}\
         </style></head><body>\n<h1>whale-trader report</h1>\n<p>Source: {}. Period: {}.</p>\n",
        escape(&figures.source),
        escape(&period)
    );
    h.push_str("<h2>Headline</h2>\n<table id=\"headline\">\n");
    let rows: Vec<(&str, String)> = vec![
        ("Starting equity", usd(figures.starting_equity)),
        ("Total realised P&L", usd(figures.total_pnl)),
        ("Closed trades", figures.closed_trades.to_string()),
        ("Open trades", format!("{} ({} entry notional)", figures.open_trades, usd(figures.open_notional))),
        ("Wins / losses", format!("{} / {}", figures.wins, figures.losses)),
        ("Win rate", opt(figures.win_rate_percent, "%")),
        ("Profit factor", opt(figures.profit_factor, "")),
        ("Max drawdown", format!("{} ({}%)", usd(figures.max_drawdown_usd), figures.max_drawdown_percent.normalize())),
        ("Sharpe (daily, annualised)", opt(figures.sharpe, "")),
        ("Sortino (daily, annualised)", opt(figures.sortino, "")),
        ("Average R", opt(figures.average_r, "")),
        ("Copy slippage (total)", usd(figures.total_slippage)),
        ("Rejected whale trades", figures.rejected.to_string()),
    ];
    for (name, value) in rows {
        let _ = writeln!(h, "<tr><th class=\"t\">{}</th><td>{}</td></tr>", escape(name), escape(&value));
    }
    h.push_str("</table>\n");
    let _ = writeln!(
        h,
        "<p class=\"note\">Equity is the starting equity plus realised P&amp;L at each close. Daily return = the \
         trading day's realised P&amp;L / the starting equity, every day from the first close to the last; Sharpe = \
         mean / sample standard deviation of daily returns × √365; Sortino = mean / downside deviation \
         (√(Σ min(r, 0)² / n)) × √365; risk-free rate 0. R multiple = P&amp;L / initial risk, the initial risk being {}. \
         Copy slippage = our entry against the whale's fill over the shares bought (positive: we paid more); whale \
         P&amp;L = what the same shares made at the whale's price, without fees.</p>",
        escape(&risk_rule)
    );

    h.push_str("<h2>Charts</h2>\n");
    for (name, title, svg) in svgs {
        let _ = writeln!(
            h,
            "<figure id=\"chart-{name}\" class=\"chart\" aria-label=\"{}\">{svg}<figcaption>{}</figcaption></figure>",
            escape(title),
            escape(title)
        );
    }

    h.push_str(
        "<h2>Per whale</h2>\n<table id=\"whales\"><tr><th class=\"t\">Whale</th><th>Closed</th><th>Open</th>\
                <th>Win rate</th><th>P&amp;L</th><th>Copy slippage</th><th>Whale P&amp;L</th></tr>\n",
    );
    for w in figures.whales.iter().take(MAX_TABLE_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td><td>{}</td></tr>",
            named(&w.label, &w.wallet),
            w.trades,
            w.open,
            escape(&opt(w.win_rate_percent, "%")),
            neg(w.pnl),
            escape(&usd(w.pnl)),
            escape(&usd(w.slippage)),
            escape(&usd(w.whale_pnl)),
        );
    }
    h.push_str("</table>\n");
    h.push_str(&table_note(figures.whales.len().min(MAX_TABLE_ROWS), figures.whales.len()));

    h.push_str(
        "<h2>Per market</h2>\n<table id=\"markets\"><tr><th class=\"t\">Market</th><th>Closed</th><th>Open</th>\
                <th>Wins</th><th>P&amp;L</th><th>Entry notional</th></tr>\n",
    );
    for m in figures.markets.iter().take(MAX_TABLE_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td><td{}>{}</td><td>{}</td></tr>",
            named(&m.title, &m.market),
            m.trades,
            m.open,
            m.wins,
            neg(m.pnl),
            escape(&usd(m.pnl)),
            escape(&usd(m.notional)),
        );
    }
    h.push_str("</table>\n");
    h.push_str(&table_note(figures.markets.len().min(MAX_TABLE_ROWS), figures.markets.len()));

    h.push_str("<h2>Rejections by reason</h2>\n<table id=\"rejections\"><tr><th class=\"t\">Reason</th><th>Whale trades</th></tr>\n");
    for r in &figures.rejections {
        let _ = writeln!(h, "<tr><td class=\"t\"><code>{}</code></td><td>{}</td></tr>", escape(&r.reason), r.count);
    }
    h.push_str("</table>\n");

    h.push_str("<h2>Daily P&amp;L</h2>\n<table id=\"daily\"><tr><th class=\"t\">Day</th><th>Closed</th><th>P&amp;L</th></tr>\n");
    for d in figures.daily.iter().rev().take(MAX_TABLE_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td class=\"t\">{}</td><td>{}</td><td{}>{}</td></tr>",
            escape(&d.date),
            d.trades,
            neg(d.pnl),
            escape(&usd(d.pnl))
        );
    }
    h.push_str("</table>\n");
    h.push_str(&table_note(figures.daily.len().min(MAX_TABLE_ROWS), figures.daily.len()));

    h.push_str(
        "<h2>Trading-state changes</h2>\n<table id=\"states\"><tr><th class=\"t\">When</th><th class=\"t\">From</th>\
                <th class=\"t\">To</th><th class=\"t\">Reason</th></tr>\n",
    );
    for c in figures.state_changes.iter().take(MAX_TABLE_ROWS) {
        let _ = writeln!(
            h,
            "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"t\"><code>{}</code></td></tr>",
            escape(&c.at.to_rfc3339()),
            escape(&c.from),
            escape(&c.to),
            escape(&c.reason)
        );
    }
    h.push_str("</table>\n</body></html>\n");
    h
}

fn neg(d: Decimal) -> &'static str {
    if d < Decimal::ZERO { " class=\"neg\"" } else { "" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_and_ids_stand_beside_them() {
        assert_eq!(escape("<b>&\"'"), "&lt;b&gt;&amp;&quot;&#39;");
        let cell = named("A & B", "0x1234567890abcdef");
        assert!(cell.starts_with("A &amp; B <code title=\"0x1234567890abcdef\">0x1234…cdef</code>"), "{cell}");
        assert_eq!(named("", "T1"), "<code title=\"T1\">T1</code>");
    }
}
