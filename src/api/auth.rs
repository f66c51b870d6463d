//! Bearer-token check for `/status` and the control endpoints.

use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;

use crate::config::Secret;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No token is configured: control over HTTP is disabled.
    NotConfigured,
    Missing,
    Wrong,
}

impl AuthFailure {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthFailure::NotConfigured => {
                "no api.token is configured: set WHALE_TRADER__API__TOKEN in the env file and restart the daemon"
            }
            AuthFailure::Missing => "missing bearer token",
            AuthFailure::Wrong => "wrong bearer token",
        }
    }
}

/// Checks `Authorization: Bearer <token>` against the configured token in constant time.
pub fn authorize(headers: &HeaderMap, token: &Secret) -> Result<(), AuthFailure> {
    if !token.is_set() {
        return Err(AuthFailure::NotConfigured);
    }
    let presented = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or(AuthFailure::Missing)?;
    if constant_time_eq(presented.trim().as_bytes(), token.expose().as_bytes()) {
        Ok(())
    } else {
        Err(AuthFailure::Wrong)
    }
}

/// Compares without an early exit, so response time does not reveal how much of a guess matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        diff |= usize::from(a.get(i).copied().unwrap_or(0) ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, value.parse().unwrap());
        headers
    }

    #[test]
    fn only_the_exact_token_passes() {
        let token = Secret::new("abc123");
        assert_eq!(authorize(&headers("Bearer abc123"), &token), Ok(()));
        assert_eq!(authorize(&headers("Bearer abc124"), &token), Err(AuthFailure::Wrong));
        assert_eq!(authorize(&headers("Bearer abc1234"), &token), Err(AuthFailure::Wrong));
        assert_eq!(authorize(&headers("Basic abc123"), &token), Err(AuthFailure::Missing));
        assert_eq!(authorize(&HeaderMap::new(), &token), Err(AuthFailure::Missing));
        assert_eq!(authorize(&headers("Bearer "), &Secret::default()), Err(AuthFailure::NotConfigured));
    }
}
