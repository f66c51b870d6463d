//! The copy-trading engine (issue 4). Placeholder until the engine lands.
