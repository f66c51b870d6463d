//! The CLI's side of the control API: `status`, `halt`, `resume`, `kill`, `close`, `adopt`, `drop`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use serde_json::Value;

use crate::config::{ApiConfig, Secret};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("the daemon is not reachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the daemon refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    #[error("no api.token is set: put WHALE_TRADER__API__TOKEN in the env file")]
    NoToken,
    #[error("unexpected answer from {url}: {reason}")]
    BadAnswer { url: String, reason: String },
}

/// Talks to a running daemon on its local API.
pub struct ApiClient {
    base: String,
    token: Secret,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(config: &ApiConfig) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(15)).build().unwrap_or_default();
        Self { base: base_url(config), token: config.token.clone(), http }
    }

    /// GETs `path`, with the bearer token when one is configured (`/status` needs it).
    pub async fn get(&self, path: &str) -> Result<(u16, Value), ClientError> {
        let url = format!("{}{path}", self.base);
        let mut request = self.http.get(&url);
        if self.token.is_set() {
            request = request.bearer_auth(self.token.expose());
        }
        let response = request.send().await.map_err(|e| unreachable(&url, e))?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.map_err(|e| bad_answer(&url, e))?;
        Ok((status, body))
    }

    /// POSTs a JSON body with the bearer token; the status and the answer, whatever the status.
    pub async fn post_json(&self, path: &str, body: &Value) -> Result<(u16, Value), ClientError> {
        if !self.token.is_set() {
            return Err(ClientError::NoToken);
        }
        let url = format!("{}{path}", self.base);
        let response = self
            .http
            .post(&url)
            .bearer_auth(self.token.expose())
            .json(body)
            .send()
            .await
            .map_err(|e| unreachable(&url, e))?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.map_err(|e| bad_answer(&url, e))?;
        Ok((status, body))
    }

    /// POSTs a control request with the bearer token; the engine's reply on success.
    pub async fn control(&self, path: &str, reason: Option<&str>) -> Result<Value, ClientError> {
        if !self.token.is_set() {
            return Err(ClientError::NoToken);
        }
        let url = format!("{}{path}", self.base);
        let body = serde_json::json!({ "reason": reason });
        let response = self
            .http
            .post(&url)
            .bearer_auth(self.token.expose())
            .json(&body)
            .send()
            .await
            .map_err(|e| unreachable(&url, e))?;
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.map_err(|e| bad_answer(&url, e))?;
        if (200..300).contains(&status) {
            Ok(body)
        } else {
            let message = body["message"].as_str().unwrap_or("no message").to_string();
            Err(ClientError::Refused { status, message })
        }
    }
}

/// Where the daemon listens, as a URL: `http://127.0.0.1:8787`, `http://[::1]:8787`. A daemon bound to
/// every address (`0.0.0.0`, `::`) is reached on the loopback address of the same family.
fn base_url(config: &ApiConfig) -> String {
    match config.bind.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) if ip.is_unspecified() => {
            format!("http://{}", SocketAddr::from((Ipv4Addr::LOCALHOST, config.port)))
        }
        Ok(IpAddr::V6(ip)) if ip.is_unspecified() => {
            format!("http://{}", SocketAddr::from((Ipv6Addr::LOCALHOST, config.port)))
        }
        Ok(ip) => format!("http://{}", SocketAddr::new(ip, config.port)),
        Err(_) => format!("http://{}:{}", config.bind.trim(), config.port),
    }
}

fn unreachable(url: &str, e: reqwest::Error) -> ClientError {
    ClientError::Unreachable { url: url.to_string(), reason: e.to_string() }
}

fn bad_answer(url: &str, e: reqwest::Error) -> ClientError {
    ClientError::BadAnswer { url: url.to_string(), reason: e.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_url_is_valid_for_every_kind_of_bind_address() {
        let url = |bind: &str| base_url(&ApiConfig { bind: bind.into(), port: 8787, ..ApiConfig::default() });
        assert_eq!(url("127.0.0.1"), "http://127.0.0.1:8787");
        assert_eq!(url("::1"), "http://[::1]:8787");
        assert_eq!(url("0.0.0.0"), "http://127.0.0.1:8787");
        assert_eq!(url("::"), "http://[::1]:8787");
        assert_eq!(url("10.1.2.3"), "http://10.1.2.3:8787");
    }
}
