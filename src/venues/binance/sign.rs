//! Binance's signing rule for SIGNED endpoints: the request carries `timestamp` (the server's
//! time) and `recvWindow`, and `signature` is the lowercase hex HMAC-SHA256, keyed by the API
//! secret, of the total parameters exactly as sent (this client sends them all in the query
//! string, the body empty). The key travels in the `X-MBX-APIKEY` header.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::header::{HeaderMap, HeaderValue};
use sha2::Sha256;

use crate::config::Secret;

pub const HEADER_API_KEY: &str = "X-MBX-APIKEY";

/// Why a request could not be signed (never carries the key or the secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("the API key or secret is not set (BINANCE_API_KEY, BINANCE_API_SECRET)")]
    MissingCredentials,
    #[error("the API key holds characters an HTTP header cannot carry")]
    KeyNotHeaderSafe,
}

/// `key=value&…` in the order given; values are percent-encoded where a query needs it.
pub fn query_string(params: &[(&str, String)]) -> String {
    params.iter().map(|(k, v)| format!("{k}={}", url_encode(v))).collect::<Vec<_>>().join("&")
}

fn url_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The signature of `total_params`, as lowercase hex.
pub fn signature(secret: &Secret, total_params: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.expose().trim().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(total_params.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// `query` with `signature=…` appended.
pub fn signed_query(secret: &Secret, query: &str) -> String {
    format!("{query}&signature={}", signature(secret, query))
}

/// The key header, marked sensitive so that no debug output shows it.
pub fn key_header(api_key: &Secret, secret: &Secret) -> Result<HeaderMap, SignError> {
    if !api_key.is_set() || !secret.is_set() {
        return Err(SignError::MissingCredentials);
    }
    let mut value = HeaderValue::from_str(api_key.expose().trim()).map_err(|_| SignError::KeyNotHeaderSafe)?;
    value.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(HEADER_API_KEY, value);
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Binance's own documentation ("SIGNED Endpoint Examples for POST
    /// /api/v3/order", HMAC SHA256 key).
    #[test]
    fn the_documented_example_signs_as_documented() {
        let secret = Secret::new("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j");
        let query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559";
        assert_eq!(signature(&secret, query), "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71");
    }

    #[test]
    fn queries_keep_their_order_and_encode_what_a_query_cannot_carry() {
        let params = [("symbol", "BTCUSDT".to_owned()), ("newClientOrderId", "wt-a b/1".to_owned())];
        assert_eq!(query_string(&params), "symbol=BTCUSDT&newClientOrderId=wt-a%20b%2F1");
        assert!(key_header(&Secret::default(), &Secret::new("s")).is_err());
    }
}
