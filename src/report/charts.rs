//! The report's charts, drawn by `plotters` from the figures: each one to an SVG string (inlined in
//! the HTML page) and a PNG file. Text in PNGs uses the bundled DejaVu Sans (no system font
//! lookup); the SVGs name `sans-serif` and the browser draws it.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use super::ReportError;
use super::figures::{Figures, Point};

/// Every chart's size in pixels (PNG) and user units (SVG).
pub const CHART_SIZE: (u32, u32) = (1000, 480);
/// Most bars a bar chart draws (the tables list everything; the chart says when it cut).
pub const MAX_BARS: usize = 40;

static DEJAVU_SANS: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
const FONT: &str = "sans-serif";

fn register_font() -> Result<(), ReportError> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        if plotters::style::register_font(FONT, FontStyle::Normal, DEJAVU_SANS).is_err() {
            result = Err(ReportError::Font);
        }
    });
    result
}

/// What one chart shows.
#[derive(Debug, Clone, PartialEq)]
pub enum ChartData {
    /// A curve over time: milliseconds since the epoch, value.
    Line { points: Vec<(f64, f64)>, y_desc: &'static str, step: bool },
    /// Labelled bars (negative values drawn below zero in red).
    Bars { bars: Vec<(String, f64)>, y_desc: &'static str },
}

/// One chart: its file name (without extension), title and data.
#[derive(Debug, Clone, PartialEq)]
pub struct Chart {
    pub name: &'static str,
    pub title: String,
    pub data: ChartData,
}

fn f(d: Decimal) -> f64 {
    d.to_f64().unwrap_or(0.0)
}

fn curve(points: &[Point]) -> Vec<(f64, f64)> {
    points.iter().map(|p| (p.at.millis() as f64, f(p.value))).collect()
}

fn bars_titled(title: &str, total: usize) -> String {
    if total > MAX_BARS { format!("{title} (first {MAX_BARS} of {total})") } else { title.to_string() }
}

/// The charts of a report, in the page's order.
pub fn charts(figures: &Figures) -> Vec<Chart> {
    let whale_name = |w: &super::figures::WhaleRow| {
        if w.label.is_empty() { short(&w.wallet) } else { format!("{} ({})", w.label, short(&w.wallet)) }
    };
    vec![
        Chart {
            name: "equity",
            title: "Equity (USD, realised)".into(),
            data: ChartData::Line { points: curve(&figures.equity), y_desc: "USD", step: true },
        },
        Chart {
            name: "drawdown",
            title: "Drawdown from peak (%)".into(),
            data: ChartData::Line { points: curve(&figures.drawdown), y_desc: "%", step: true },
        },
        Chart {
            name: "daily_pnl",
            title: bars_titled("Daily P&L (USD)", figures.daily.len()),
            data: ChartData::Bars {
                // The most recent days when there are too many to draw.
                bars: figures.daily.iter().rev().take(MAX_BARS).rev().map(|d| (d.date.clone(), f(d.pnl))).collect(),
                y_desc: "USD",
            },
        },
        Chart {
            name: "whale_pnl",
            title: bars_titled("P&L per whale (USD)", figures.whales.len()),
            data: ChartData::Bars {
                bars: figures.whales.iter().take(MAX_BARS).map(|w| (whale_name(w), f(w.pnl))).collect(),
                y_desc: "USD",
            },
        },
        Chart {
            name: "hold_time",
            title: "Hold time (closed trades)".into(),
            data: ChartData::Bars {
                bars: figures.hold_time.iter().map(|b| (b.label.clone(), b.count as f64)).collect(),
                y_desc: "trades",
            },
        },
        Chart {
            name: "r_multiple",
            title: "R multiples (P&L / initial risk)".into(),
            data: ChartData::Bars {
                bars: figures.r_multiples.iter().map(|b| (b.label.clone(), b.count as f64)).collect(),
                y_desc: "trades",
            },
        },
        Chart {
            name: "exposure",
            title: "Exposure (open entry notional, USD)".into(),
            data: ChartData::Line { points: curve(&figures.exposure), y_desc: "USD", step: true },
        },
        Chart {
            name: "rejections",
            title: bars_titled("Rejected whale trades by reason", figures.rejections.len()),
            data: ChartData::Bars {
                bars: figures.rejections.iter().take(MAX_BARS).map(|r| (r.reason.clone(), r.count as f64)).collect(),
                y_desc: "trades",
            },
        },
    ]
}

/// `0x1234…abcd` for long ids.
pub fn short(id: &str) -> String {
    if id.chars().count() <= 12 {
        return id.to_string();
    }
    let head: String = id.chars().take(6).collect();
    let tail: String = id.chars().rev().take(4).collect::<Vec<_>>().into_iter().rev().collect();
    format!("{head}…{tail}")
}

/// Draws `chart` as SVG text.
pub fn svg(chart: &Chart) -> Result<String, ReportError> {
    // The SVG backend measures text with the same font to lay out labels.
    register_font()?;
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, CHART_SIZE).into_drawing_area();
        draw(&root, chart).map_err(|e| ReportError::Chart { chart: chart.name, source: Box::new(e) })?;
    }
    Ok(out)
}

/// Draws `chart` into the PNG file `path`.
pub fn png(chart: &Chart, path: &Path) -> Result<(), ReportError> {
    register_font()?;
    let root = BitMapBackend::new(path, CHART_SIZE).into_drawing_area();
    draw(&root, chart).map_err(|e| ReportError::Chart { chart: chart.name, source: Box::new(e) })
}

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    match &chart.data {
        ChartData::Line { points, y_desc, step } => draw_line(root, &chart.title, points, y_desc, *step)?,
        ChartData::Bars { bars, y_desc } => draw_bars(root, &chart.title, bars, y_desc)?,
    }
    root.present()
}

/// A range that always has width, padded by 5% each side.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    let (lo, hi) = if hi - lo < 1e-9 { (lo - 1.0, hi + 1.0) } else { (lo, hi) };
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

fn date_label(ms: f64, span_ms: f64) -> String {
    let at = crate::clock::Timestamp(ms as i64).to_datetime();
    if span_ms < 2.0 * 86_400_000.0 { at.format("%m-%d %H:%M").to_string() } else { at.format("%Y-%m-%d").to_string() }
}

fn draw_line<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    points: &[(f64, f64)],
    y_desc: &str,
    step: bool,
) -> DrawResult<DB> {
    let (x0, x1) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.0), hi.max(p.0)));
    let (y0, y1) = points.iter().fold((f64::MAX, f64::MIN), |(lo, hi), p| (lo.min(p.1), hi.max(p.1)));
    let (x0, x1) = if points.is_empty() { (0.0, 1.0) } else { padded(x0, x1) };
    let (y0, y1) = if points.is_empty() { (0.0, 1.0) } else { padded(y0, y1) };
    let span = x1 - x0;
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(&|x| date_label(*x, span))
        .y_desc(y_desc)
        .label_style((FONT, 14))
        .draw()?;
    let mut path = Vec::with_capacity(points.len() * 2);
    for (i, p) in points.iter().enumerate() {
        if step && i > 0 {
            path.push((p.0, points[i - 1].1));
        }
        path.push(*p);
    }
    chart.draw_series(LineSeries::new(path, BLUE.stroke_width(2)))?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    bars: &[(String, f64)],
    y_desc: &str,
) -> DrawResult<DB> {
    let lo = bars.iter().map(|b| b.1).fold(0.0, f64::min);
    let hi = bars.iter().map(|b| b.1).fold(0.0, f64::max);
    let counts = y_desc == "trades";
    // Counts get a whole-number axis with a little head room, so that every tick is a whole count.
    let (y0, y1) = if counts { (0.0, hi.ceil() + 1.0) } else { padded(lo, hi) };
    let y_ticks = if counts { (y1 as usize + 1).min(11) } else { 10 };
    let n = bars.len().max(1);
    let mut chart = ChartBuilder::on(root)
        .caption(title, (FONT, 22))
        .margin(12)
        .x_label_area_size(if n > 10 { 90 } else { 40 })
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), y0..y1)?;
    let label_of = |x: &f64| {
        let i = x.round();
        if (x - i).abs() < 1e-6 && i >= 0.0 {
            bars.get(i as usize).map(|b| b.0.clone()).unwrap_or_default()
        } else {
            String::new()
        }
    };
    // Counts are whole: no tick at 2.5 trades.
    let whole = |y: &f64| if (y - y.round()).abs() < 1e-6 { format!("{:.0}", y.round()) } else { String::new() };
    let plain = |y: &f64| format!("{y}");
    let y_format: &dyn Fn(&f64) -> String = if counts { &whole } else { &plain };
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_labels(n)
        .x_label_formatter(&label_of)
        .y_label_formatter(y_format)
        .y_labels(y_ticks)
        .y_desc(y_desc)
        .label_style((FONT, 13));
    if n > 10 {
        mesh.x_label_style((FONT, 12).into_font().transform(FontTransform::Rotate90));
    }
    mesh.draw()?;
    chart.draw_series(bars.iter().enumerate().map(|(i, (_, v))| {
        let color = if *v < 0.0 { RED.mix(0.8) } else { GREEN.mix(0.8) };
        Rectangle::new([(i as f64 - 0.38, 0.0), (i as f64 + 0.38, *v)], color.filled())
    }))?;
    Ok(())
}
