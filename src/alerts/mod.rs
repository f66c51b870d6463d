//! The alert dispatcher (issue 6). Placeholder until the alert system lands.
mod config;
pub use config::AlertsConfig;
