//! `whale-trader report` and `replay --report`: a self-contained HTML page, PNG and SVG charts and
//! `report.json` from a ledger of trades.
//!
//! `ledger` builds the [`Ledger`] at the edges (the store's records or a replay's audit records);
//! `figures` computes every figure from it (pure, decimals); `charts` draws them with `plotters`;
//! `html` lays out the page. [`write_report`] is the one function that writes files.

mod charts;
mod figures;
mod html;
mod ledger;

use std::path::{Path, PathBuf};

pub use charts::{CHART_SIZE, Chart, ChartData, charts};
pub use figures::{
    Bin, DailyPnl, Figures, MAX_CURVE_POINTS, MarketRow, Point, Rejection, WhaleRow, compute, downsample,
    sharpe_sortino,
};
pub use html::{escape, page};
pub use ledger::{ClosedTrade, Ledger, LedgerSettings, OpenTrade, StateChange};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{field} = {value:?}: not an RFC 3339 time")]
    BadTime { field: &'static str, value: String },
    #[error("trade {trade_id} closed in the audit records without having opened")]
    UnmatchedClose { trade_id: String },
    #[error("the bundled font could not be read")]
    Font,
    #[error("drawing the {chart} chart: {source}")]
    Chart { chart: &'static str, source: Box<dyn std::error::Error + Send + Sync> },
    #[error("{action} {path}: {source}")]
    Io { action: &'static str, path: PathBuf, source: std::io::Error },
    #[error("encoding report.json: {0}")]
    Json(#[from] serde_json::Error),
}

/// The files one report wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub html: PathBuf,
    pub json: PathBuf,
    /// Every chart's PNG and SVG.
    pub charts: Vec<PathBuf>,
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> ReportError + 'a {
    move |source| ReportError::Io { action, path: path.to_path_buf(), source }
}

/// Computes the figures of `ledger` and writes into `dir` (created if missing): `report.html`,
/// `report.json` and `NAME.png` / `NAME.svg` for every chart.
pub fn write_report(ledger: &Ledger, dir: &Path) -> Result<(Figures, Written), ReportError> {
    std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
    let figures = compute(ledger);
    let mut svgs = Vec::new();
    let mut files = Vec::new();
    for chart in charts(&figures) {
        let svg = charts::svg(&chart)?;
        let svg_path = dir.join(format!("{}.svg", chart.name));
        std::fs::write(&svg_path, &svg).map_err(io("writing", &svg_path))?;
        let png_path = dir.join(format!("{}.png", chart.name));
        charts::png(&chart, &png_path)?;
        files.push(svg_path);
        files.push(png_path);
        svgs.push((chart.name, chart.title, svg));
    }
    let html_path = dir.join("report.html");
    std::fs::write(&html_path, page(&figures, &svgs)).map_err(io("writing", &html_path))?;
    let json_path = dir.join("report.json");
    let json = serde_json::to_vec_pretty(&figures)?;
    std::fs::write(&json_path, json).map_err(io("writing", &json_path))?;
    Ok((figures, Written { html: html_path, json: json_path, charts: files }))
}

#[cfg(test)]
mod tests;
