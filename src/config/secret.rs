//! A value that must never be printed: tokens, passwords, private keys, webhook URLs.
//!
//! `Secret` has no way to print its value: `Debug`, `Display` and `Serialize` all write `***`
//! (or `""` when unset), so printing the effective config or logging a struct that holds one is
//! safe. The only way to read the value is [`Secret::expose`], which makes every use greppable.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The text printed wherever a secret would otherwise appear.
pub const REDACTED: &str = "***";

/// A redacting wrapper around a secret string.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself, for the one place that needs it (an HTTP header, an SMTP login).
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// An unset secret is an empty string: config files leave them empty and `.env` fills them.
    pub fn is_set(&self) -> bool {
        !self.0.trim().is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_set() { f.write_str(REDACTED) } else { f.write_str("\"\"") }
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(if self.is_set() { REDACTED } else { "" })
    }
}

impl<'de> Deserialize<'de> for Secret {
    /// Accepts any scalar: an environment override such as a Telegram chat id `12345` arrives
    /// as a number after the loader's type parsing, and is still a secret string.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Scalar {
            Text(String),
            Int(i64),
            Float(f64),
            Bool(bool),
        }
        Ok(Secret(match Scalar::deserialize(deserializer)? {
            Scalar::Text(s) => s,
            Scalar::Int(i) => i.to_string(),
            Scalar::Float(f) => f.to_string(),
            Scalar::Bool(b) => b.to_string(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let secret = Secret::new("hunter2-token");
        assert_eq!(format!("{secret:?}"), "***");
        assert_eq!(format!("{secret}"), "***");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(***)");
        assert_eq!(secret.expose(), "hunter2-token");
        assert_eq!(serde_json::to_string(&secret).unwrap(), "\"***\"");
    }

    #[test]
    fn empty_secret_is_unset() {
        assert!(!Secret::default().is_set());
        assert!(!Secret::new("  ").is_set());
        assert!(Secret::new("x").is_set());
    }
}
