//! Validation problems, collected so that every one of them is reported at once.

use std::fmt;

/// One thing wrong with the configuration: which key, which value, and the rule it breaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigIssue {
    /// Dotted key path, e.g. `risk.drawdown.max_drawdown_percent` or `copy.whales[2].address`.
    pub key: String,
    /// The offending value as the user wrote it (never a secret's value).
    pub value: String,
    /// The rule, phrased for a human: "must be between 0 and 100".
    pub rule: String,
}

impl fmt::Display for ConfigIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.key, self.value, self.rule)
    }
}

/// Accumulates [`ConfigIssue`]s while each section validates itself.
#[derive(Debug, Default)]
pub struct Issues {
    found: Vec<ConfigIssue>,
}

impl Issues {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `key` (relative keys are joined by the caller with [`join`]).
    pub fn push(&mut self, key: impl Into<String>, value: impl fmt::Display, rule: impl Into<String>) {
        self.found.push(ConfigIssue { key: key.into(), value: value.to_string(), rule: rule.into() });
    }

    /// Records a problem when `bad` holds; returns `bad` so callers can chain.
    pub fn check(&mut self, bad: bool, key: impl Into<String>, value: impl fmt::Display, rule: &str) -> bool {
        if bad {
            self.push(key, value, rule);
        }
        bad
    }

    pub fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    pub fn into_vec(self) -> Vec<ConfigIssue> {
        self.found
    }

    pub fn as_slice(&self) -> &[ConfigIssue] {
        &self.found
    }
}

/// Joins a section prefix and a key: `join("risk.stops", "stop_loss_percent")`.
pub fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() { key.to_string() } else { format!("{prefix}.{key}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_names_key_value_and_rule() {
        let mut issues = Issues::new();
        issues.check(true, join("risk.drawdown", "max_drawdown_percent"), 150, "must be between 0 and 100");
        issues.check(false, "x", 1, "never recorded");
        let all = issues.into_vec();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].to_string(), "risk.drawdown.max_drawdown_percent = 150: must be between 0 and 100");
    }
}
