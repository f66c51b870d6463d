//! Bybit v5's signing rule: `X-BAPI-SIGN` is the lowercase hex HMAC-SHA256, keyed by the API
//! secret, of `timestamp + api_key + recv_window + payload`, where the payload is the query string
//! exactly as sent (GET) or the JSON body exactly as sent (POST). The four `X-BAPI-*` headers carry
//! the key, the timestamp, the window and the signature.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{HeaderMap, HeaderValue};
use sha2::Sha256;

use crate::config::Secret;

pub const HEADER_API_KEY: &str = "X-BAPI-API-KEY";
pub const HEADER_TIMESTAMP: &str = "X-BAPI-TIMESTAMP";
pub const HEADER_RECV_WINDOW: &str = "X-BAPI-RECV-WINDOW";
pub const HEADER_SIGN: &str = "X-BAPI-SIGN";

/// Why a request could not be signed (never carries the key or the secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the API key or secret is not set (BYBIT_API_KEY, BYBIT_API_SECRET)")]
    MissingCredentials,
    #[error("the API key holds characters an HTTP header cannot carry")]
    KeyNotHeaderSafe,
}

/// The signature of one request, as lowercase hex.
pub fn signature(secret: &Secret, timestamp_ms: i64, api_key: &str, recv_window_ms: u64, payload: &str) -> String {
    // HMAC takes a key of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(timestamp_ms.to_string().as_bytes());
    mac.update(api_key.as_bytes());
    mac.update(recv_window_ms.to_string().as_bytes());
    mac.update(payload.as_bytes());
    hex(&mac.finalize().into_bytes())
}

/// The four authentication headers of one request.
pub fn headers(
    api_key: &Secret,
    secret: &Secret,
    timestamp_ms: i64,
    recv_window_ms: u64,
    payload: &str,
) -> Result<HeaderMap, SignError> {
    if !api_key.is_set() || !secret.is_set() {
        return Err(SignError::MissingCredentials);
    }
    let key = api_key.expose().trim();
    let sign = signature(secret, timestamp_ms, key, recv_window_ms, payload);
    let mut headers = HeaderMap::new();
    let mut key_value = HeaderValue::from_str(key).map_err(|_| SignError::KeyNotHeaderSafe)?;
    key_value.set_sensitive(true);
    let mut sign_value = HeaderValue::from_str(&sign).map_err(|_| SignError::KeyNotHeaderSafe)?;
    sign_value.set_sensitive(true);
    headers.insert(HEADER_API_KEY, key_value);
    headers.insert(HEADER_SIGN, sign_value);
    headers.insert(HEADER_TIMESTAMP, HeaderValue::from(timestamp_ms));
    headers.insert(HEADER_RECV_WINDOW, HeaderValue::from(recv_window_ms));
    Ok(headers)
}

/// `key=value&…` in the order given, values percent-encoded where they need it; the string that
/// is signed is the string that is sent.
pub fn query_string(params: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (i, (key, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(key);
        out.push('=');
        for byte in value.bytes() {
            if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
                out.push(char::from(byte));
            } else {
                out.push_str(&format!("%{byte:02X}"));
            }
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mac_is_hmac_sha256_in_lowercase_hex() {
        // RFC 4231 test case 2 (key "Jefe"): the venue's documentation gives the rule but no
        // worked signature, so the MAC and its hex form are checked against the RFC's vector.
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac.finalize().into_bytes()),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn the_signed_string_is_timestamp_key_window_payload() {
        // The documentation's GET example request (timestamp 1658384314791, key placeholder,
        // window 5000, query `category=option&symbol=BTC-29JUL22-25000-C`); it publishes no secret
        // or expected signature, so the secret is ours and the MAC is recomputed by hand.
        let secret = Secret::new("t7T0YlFnYXk0Fx3JswQsDrViLg1Gh3DUU5Mr");
        let query = "category=option&symbol=BTC-29JUL22-25000-C";
        let by_rule = signature(&secret, 1_658_384_314_791, "XXXXXXXXXX", 5000, query);
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().as_bytes()).unwrap();
        mac.update(format!("1658384314791XXXXXXXXXX5000{query}").as_bytes());
        assert_eq!(by_rule, hex(&mac.finalize().into_bytes()));
        assert_ne!(by_rule, signature(&secret, 1_658_384_314_791, "XXXXXXXXXX", 5000, "category=linear"));
        assert_ne!(by_rule, signature(&Secret::new("other"), 1_658_384_314_791, "XXXXXXXXXX", 5000, query));
    }

    #[test]
    fn headers_carry_key_time_window_and_sign_and_need_both_credentials() {
        let headers = headers(&Secret::new("key1"), &Secret::new("secret1"), 1_000, 5_000, "a=1").unwrap();
        assert_eq!(headers[HEADER_API_KEY], "key1");
        assert_eq!(headers[HEADER_TIMESTAMP], "1000");
        assert_eq!(headers[HEADER_RECV_WINDOW], "5000");
        assert_eq!(headers[HEADER_SIGN], signature(&Secret::new("secret1"), 1_000, "key1", 5_000, "a=1").as_str());
        assert!(headers[HEADER_SIGN].is_sensitive());
        let missing = super::headers(&Secret::new("key1"), &Secret::default(), 1, 1, "").unwrap_err();
        assert_eq!(missing, SignError::MissingCredentials);
    }

    #[test]
    fn query_strings_keep_order_and_encode_what_needs_it() {
        let q = query_string(&[("category", "linear".into()), ("orderLinkId", "a b/c".into())]);
        assert_eq!(q, "category=linear&orderLinkId=a%20b%2Fc");
    }
}
