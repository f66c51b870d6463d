//! The SQLite store (issue 5). Placeholder until the store lands.
mod config;
pub use config::StoreConfig;
