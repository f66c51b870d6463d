//! A thin Ethereum JSON-RPC adapter: the seven methods the redeemer needs, over the daemon's own
//! `reqwest`, each answer bounded in size and checked field by field.
//!
//! Why not the SDK's `ctf` client: it needs alloy's `providers` and `contract` features, which
//! add 15 crates to the live build for what is here a handful of POSTs (figures in BENCHMARKS.md,
//! "On-chain redemption: SDK `ctf` or a thin JSON-RPC adapter").

use std::time::Duration;

use alloy::primitives::{Address, B256, Bytes, U256};
use serde_json::{Value, json};

use super::call::Call;

/// The largest answer read from the node: a receipt with its logs is a few kilobytes.
pub const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// A failed JSON-RPC exchange.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum RpcError {
    #[error("{method}: the node could not be reached: {message}")]
    Transport { method: &'static str, message: String },
    #[error("{method}: HTTP {status}")]
    Http { method: &'static str, status: u16 },
    #[error("{method}: the answer is larger than {MAX_ANSWER_BYTES} bytes")]
    TooLarge { method: &'static str },
    #[error("{method}: the node refused: {message} (code {code})")]
    Node { method: &'static str, code: i64, message: String },
    #[error("{method}: {field} = {value:?}: {rule}")]
    Malformed { method: &'static str, field: &'static str, value: String, rule: &'static str },
}

impl RpcError {
    /// Whether the node answered that the call reverts (gas estimation of a redeem the contract
    /// refuses, e.g. a condition not yet reported on chain).
    pub fn is_revert(&self) -> bool {
        matches!(self, RpcError::Node { code: 3, .. })
            || matches!(self, RpcError::Node { message, .. } if message.to_ascii_lowercase().contains("revert"))
    }
}

/// What a mined transaction's receipt says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    pub success: bool,
    pub block_number: u64,
    pub gas_used: u64,
}

/// A JSON-RPC endpoint.
#[derive(Debug, Clone)]
pub struct RpcClient {
    http: reqwest::Client,
    url: String,
}

impl RpcClient {
    pub fn new(url: &str, timeout: Duration) -> Result<Self, RpcError> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| RpcError::Transport { method: "client", message: e.to_string() })?;
        Ok(Self { http, url: url.to_owned() })
    }

    /// One call; the `result` member of the answer.
    async fn call(&self, method: &'static str, params: Value) -> Result<Value, RpcError> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let transport = |e: reqwest::Error| RpcError::Transport { method, message: e.without_url().to_string() };
        let mut response = self.http.post(&self.url).json(&body).send().await.map_err(transport)?;
        if !response.status().is_success() {
            return Err(RpcError::Http { method, status: response.status().as_u16() });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(RpcError::TooLarge { method });
            }
            bytes.extend_from_slice(&chunk);
        }
        let mut answer: Value = serde_json::from_slice(&bytes).map_err(|e| RpcError::Malformed {
            method,
            field: "body",
            value: e.to_string(),
            rule: "must be a JSON-RPC answer",
        })?;
        if let Some(error) = answer.get("error").filter(|e| !e.is_null()) {
            let code = error.get("code").and_then(Value::as_i64).unwrap_or(0);
            let message = error.get("message").and_then(Value::as_str).unwrap_or("").chars().take(300).collect();
            return Err(RpcError::Node { method, code, message });
        }
        Ok(answer.get_mut("result").map(Value::take).unwrap_or(Value::Null))
    }

    pub async fn chain_id(&self) -> Result<u64, RpcError> {
        let v = self.call("eth_chainId", json!([])).await?;
        quantity_u64("eth_chainId", "result", &v)
    }

    /// The next nonce, counting transactions still in the node's pool.
    pub async fn pending_nonce(&self, address: Address) -> Result<u64, RpcError> {
        let v = self.call("eth_getTransactionCount", json!([address, "pending"])).await?;
        quantity_u64("eth_getTransactionCount", "result", &v)
    }

    /// The latest block's base fee.
    pub async fn base_fee(&self) -> Result<u128, RpcError> {
        const M: &str = "eth_getBlockByNumber";
        let block = self.call(M, json!(["latest", false])).await?;
        let fee = block.get("baseFeePerGas").ok_or_else(|| malformed(M, "baseFeePerGas", &block, "missing"))?;
        quantity_u128(M, "baseFeePerGas", fee)
    }

    pub async fn max_priority_fee(&self) -> Result<u128, RpcError> {
        let v = self.call("eth_maxPriorityFeePerGas", json!([])).await?;
        quantity_u128("eth_maxPriorityFeePerGas", "result", &v)
    }

    /// Gas `call` would use from `from`; an error if it would revert.
    pub async fn estimate_gas(&self, from: Address, call: &Call) -> Result<u64, RpcError> {
        let v = self.call("eth_estimateGas", json!([{ "from": from, "to": call.to, "data": call.data }])).await?;
        quantity_u64("eth_estimateGas", "result", &v)
    }

    /// A read-only call's 32-byte answer as a uint256 (`balanceOf`).
    pub async fn call_u256(&self, call: &Call) -> Result<U256, RpcError> {
        const M: &str = "eth_call";
        let v = self.call(M, json!([{ "to": call.to, "data": call.data }, "latest"])).await?;
        let bytes: Bytes =
            serde_json::from_value(v.clone()).map_err(|_| malformed(M, "result", &v, "must be hex data"))?;
        if bytes.len() != 32 {
            return Err(malformed(M, "result", &v, "must be one 32-byte word"));
        }
        Ok(U256::from_be_slice(&bytes))
    }

    /// Broadcasts a signed transaction; the node answers its hash.
    pub async fn send_raw(&self, raw: &Bytes) -> Result<B256, RpcError> {
        const M: &str = "eth_sendRawTransaction";
        let v = self.call(M, json!([raw])).await?;
        serde_json::from_value(v.clone()).map_err(|_| malformed(M, "result", &v, "must be a 32-byte hash"))
    }

    /// The receipt, once mined.
    pub async fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError> {
        const M: &str = "eth_getTransactionReceipt";
        let v = self.call(M, json!([hash])).await?;
        if v.is_null() {
            return Ok(None);
        }
        let field = |name: &'static str| v.get(name).ok_or_else(|| malformed(M, name, &v, "missing"));
        let status = quantity_u64(M, "status", field("status")?)?;
        Ok(Some(Receipt {
            success: status == 1,
            block_number: quantity_u64(M, "blockNumber", field("blockNumber")?)?,
            gas_used: quantity_u64(M, "gasUsed", field("gasUsed")?)?,
        }))
    }

    /// Whether the node knows the transaction at all (in its pool or mined).
    pub async fn knows_transaction(&self, hash: B256) -> Result<bool, RpcError> {
        Ok(!self.call("eth_getTransactionByHash", json!([hash])).await?.is_null())
    }
}

fn malformed(method: &'static str, field: &'static str, value: &Value, rule: &'static str) -> RpcError {
    RpcError::Malformed { method, field, value: value.to_string().chars().take(120).collect(), rule }
}

fn quantity_u128(method: &'static str, field: &'static str, value: &Value) -> Result<u128, RpcError> {
    let text = value.as_str().ok_or_else(|| malformed(method, field, value, "must be a hex quantity string"))?;
    let digits = text.strip_prefix("0x").ok_or_else(|| malformed(method, field, value, "must start with 0x"))?;
    u128::from_str_radix(digits, 16).map_err(|_| malformed(method, field, value, "must be a hex quantity"))
}

fn quantity_u64(method: &'static str, field: &'static str, value: &Value) -> Result<u64, RpcError> {
    let wide = quantity_u128(method, field, value)?;
    u64::try_from(wide).map_err(|_| malformed(method, field, value, "must fit in 64 bits"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_checked() {
        assert_eq!(quantity_u64("m", "f", &json!("0x89")), Ok(137));
        let e = quantity_u64("m", "f", &json!(137)).unwrap_err().to_string();
        assert!(e.contains("m: f = \"137\"") && e.contains("hex quantity string"), "{e}");
        assert!(quantity_u64("m", "f", &json!("89")).unwrap_err().to_string().contains("must start with 0x"));
        assert!(quantity_u64("m", "f", &json!("0x1ffffffffffffffff")).unwrap_err().to_string().contains("64 bits"));
    }

    #[test]
    fn reverts_are_told_apart() {
        let revert = RpcError::Node { method: "eth_estimateGas", code: -32000, message: "execution reverted".into() };
        assert!(revert.is_revert());
        assert!(RpcError::Node { method: "m", code: 3, message: String::new() }.is_revert());
        assert!(!RpcError::Http { method: "m", status: 502 }.is_revert());
    }
}
