//! Polymarket adapters (issue 4). Placeholder until the adapters land.
mod config;
pub use config::PolymarketConfig;
