//! The risk manager: pure, synchronous checks (issue 3). Placeholder until the risk core lands.
mod config;
pub use config::RiskConfig;
