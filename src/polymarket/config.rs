//! Configuration of this module: `[polymarket]` in the TOML file.

use serde::{Deserialize, Serialize};

use crate::config::Issues;

/// Every key of `[polymarket]`, with the seeds' defaults.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolymarketConfig {}

impl PolymarketConfig {
    /// Adds every problem found under `prefix` to `issues`.
    pub fn validate(&self, _prefix: &str, _issues: &mut Issues) {}
}
