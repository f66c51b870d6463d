//! Errors of the health monitor.

/// What can go wrong while setting up the monitor or registering a check.
#[derive(Debug, thiserror::Error)]
pub enum HealthError {
    /// sysinfo could not open one of its data sources (`System`, `Disks`, `Networks`).
    #[error("health: sysinfo could not open {source_name}: {message}")]
    Sysinfo { source_name: &'static str, message: String },
    /// A component check was registered with an empty name.
    #[error("health: component name {name:?} is invalid: must not be empty or blank")]
    EmptyComponentName { name: String },
    /// Two component checks were registered under the same name.
    #[error("health: component name {name:?} is already registered: names must be unique")]
    DuplicateComponent { name: String },
    /// A freshness rule whose windows make no sense.
    #[error("health: freshness rule field {field} = {value} ms is invalid: {rule}")]
    InvalidFreshnessRule { field: &'static str, value: i64, rule: &'static str },
}
