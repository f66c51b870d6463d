//! Shared domain types. Placeholder until the risk core lands.
