//! CLOB L2 authentication: the five `POLY_*` headers of every trading request.
//!
//! ```text
//! message   = timestamp + METHOD + path + body     // path without the query; body = the exact bytes sent
//! signature = base64url(HMAC_SHA256(base64url_decode(secret), message))   // URL-safe alphabet, '=' padded
//! ```
//! as the official SDK computes it. The timestamp is in seconds.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use sha2::Sha256;

use crate::config::Secret;

pub const POLY_ADDRESS: &str = "POLY_ADDRESS";
pub const POLY_SIGNATURE: &str = "POLY_SIGNATURE";
pub const POLY_TIMESTAMP: &str = "POLY_TIMESTAMP";
pub const POLY_API_KEY: &str = "POLY_API_KEY";
pub const POLY_PASSPHRASE: &str = "POLY_PASSPHRASE";

/// A signature or header could not be made. Never carries a secret's value.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AuthError {
    #[error("api_secret is not base64url")]
    SecretNotBase64,
    #[error("{0} is missing")]
    Missing(&'static str),
    #[error("{0} cannot be sent as an HTTP header value")]
    BadHeaderValue(&'static str),
}

/// The API credentials bound to the signer (EOA) address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct L2Credentials {
    /// `POLY_ADDRESS`: the address the API key belongs to (the signer EOA).
    pub address: String,
    pub api_key: Secret,
    pub secret: Secret,
    pub passphrase: Secret,
}

impl L2Credentials {
    /// The API credentials of `[polymarket.credentials]`, bound to `signer_address` (with the `live`
    /// feature, `OrderSigner::address()` derives it from the private key).
    pub fn from_config(config: &crate::polymarket::CredentialsConfig, signer_address: String) -> Self {
        Self {
            address: signer_address,
            api_key: config.api_key.clone(),
            secret: config.api_secret.clone(),
            passphrase: config.api_passphrase.clone(),
        }
    }

    /// Refuses credentials with an empty part, naming it.
    pub fn validate(&self) -> Result<(), AuthError> {
        if self.address.trim().is_empty() {
            return Err(AuthError::Missing("signer address"));
        }
        for (name, secret) in
            [("api_key", &self.api_key), ("api_secret", &self.secret), ("api_passphrase", &self.passphrase)]
        {
            if !secret.is_set() {
                return Err(AuthError::Missing(name));
            }
        }
        Ok(())
    }
}

/// The L2 signature of one request.
pub fn l2_signature(
    secret: &Secret,
    timestamp_secs: i64,
    method: &str,
    path: &str,
    body: &str,
) -> Result<String, AuthError> {
    let key = URL_SAFE.decode(secret.expose().trim()).map_err(|_| AuthError::SecretNotBase64)?;
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&key).map_err(|_| AuthError::SecretNotBase64)?;
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(method.to_ascii_uppercase().as_bytes());
    mac.update(path.as_bytes());
    mac.update(body.as_bytes());
    Ok(URL_SAFE.encode(mac.finalize().into_bytes()))
}

/// The five `POLY_*` headers for one request.
pub fn l2_headers(
    credentials: &L2Credentials,
    timestamp_secs: i64,
    method: &str,
    path: &str,
    body: &str,
) -> Result<HeaderMap, AuthError> {
    credentials.validate()?;
    let signature = l2_signature(&credentials.secret, timestamp_secs, method, path, body)?;
    let mut headers = HeaderMap::new();
    let mut put = |name: &'static str, value: &str| -> Result<(), AuthError> {
        let mut value = HeaderValue::from_str(value).map_err(|_| AuthError::BadHeaderValue(name))?;
        value.set_sensitive(name != POLY_TIMESTAMP && name != POLY_ADDRESS);
        headers.insert(HeaderName::from_static(header_name(name)), value);
        Ok(())
    };
    put(POLY_ADDRESS, credentials.address.trim())?;
    put(POLY_SIGNATURE, &signature)?;
    put(POLY_TIMESTAMP, &timestamp_secs.to_string())?;
    put(POLY_API_KEY, credentials.api_key.expose().trim())?;
    put(POLY_PASSPHRASE, credentials.passphrase.expose().trim())?;
    Ok(headers)
}

/// HTTP/1 header names are case-insensitive and `http` stores them lowercase.
fn header_name(name: &'static str) -> &'static str {
    match name {
        POLY_ADDRESS => "poly_address",
        POLY_SIGNATURE => "poly_signature",
        POLY_TIMESTAMP => "poly_timestamp",
        POLY_API_KEY => "poly_api_key",
        _ => "poly_passphrase",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_test_vectors() {
        // The SDK v2 auth tests' published vectors.
        let zero_key = Secret::new("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        assert_eq!(l2_signature(&zero_key, 1, "GET", "/", "").unwrap(), "eHaylCwqRSOa2LFD77Nt_SaTpbsxzN8eTEI3LryhEj4=");
        let secret = Secret::new("c2VjcmV0");
        assert_eq!(
            l2_signature(&secret, 1_700_000_000, "POST", "/order", r#"{"token_id":"123"}"#).unwrap(),
            "DlLZ3_8yQ4of4tSILTf0hIMwQ6sqtPF_YOGQu0B7wIQ="
        );
    }

    #[test]
    fn headers_carry_all_five_fields_and_hide_secrets_in_debug() {
        let credentials = L2Credentials {
            address: "0x1234567890123456789012345678901234567890".into(),
            api_key: Secret::new("key-uuid"),
            secret: Secret::new("c2VjcmV0"),
            passphrase: Secret::new("pass"),
        };
        let headers = l2_headers(&credentials, 1_700_000_000, "POST", "/order", r#"{"token_id":"123"}"#).unwrap();
        assert_eq!(headers["poly_signature"], "DlLZ3_8yQ4of4tSILTf0hIMwQ6sqtPF_YOGQu0B7wIQ=");
        assert_eq!(headers["poly_timestamp"], "1700000000");
        assert_eq!(headers["poly_api_key"], "key-uuid");
        assert_eq!(headers["poly_passphrase"], "pass");
        assert_eq!(headers["poly_address"], "0x1234567890123456789012345678901234567890");
        assert!(!format!("{headers:?}").contains("pass\""), "sensitive headers print as Sensitive");
    }

    #[test]
    fn missing_or_broken_credentials_are_named() {
        let mut credentials = L2Credentials {
            address: "0xabc".into(),
            api_key: Secret::new("k"),
            secret: Secret::new("not base64 !"),
            passphrase: Secret::default(),
        };
        assert_eq!(l2_headers(&credentials, 1, "GET", "/", ""), Err(AuthError::Missing("api_passphrase")));
        credentials.passphrase = Secret::new("p");
        assert_eq!(l2_headers(&credentials, 1, "GET", "/", ""), Err(AuthError::SecretNotBase64));
    }
}
