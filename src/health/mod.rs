//! The health monitor (issue 7). Placeholder until the health monitor lands.
