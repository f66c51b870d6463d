//! EIP-712 order signing for CLOB V2, through the official
//! `polymarket_client_sdk_v2` crate. Only built with the `live` cargo feature.
//!
//! The SDK's `Client::sign` needs an authenticated client and asks the network whether the token is
//! neg-risk; this daemon already knows that from the book, so it signs the SDK's own `OrderV2`
//! struct directly against the right domain:
//!
//! ```text
//! domain { name: "Polymarket CTF Exchange", version: "2", chainId: 137,
//!          verifyingContract: the V2 exchange, or the V2 neg-risk exchange for neg-risk markets }
//! ```
//! Signature types 0 (EOA), 1 (POLY_PROXY) and 2 (POLY_GNOSIS_SAFE) are a plain ECDSA signature of
//! the signing hash. Type 3 (POLY_1271 deposit wallets) needs the SDK's ERC-7739 wrapper, which is
//! private to its authenticated client: refused here with a clear error.

use std::str::FromStr;

use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::{Eip712Domain, SolStruct};
use polymarket_client_sdk_v2::POLYGON;
use polymarket_client_sdk_v2::auth::Signer;
use polymarket_client_sdk_v2::clob::types::OrderV2;
use polymarket_client_sdk_v2::contract_config;
use polymarket_client_sdk_v2::types::{Address, B256, U256};

use super::order::UnsignedOrder;
use crate::config::Secret;
use crate::domain::Side;

const ORDER_DOMAIN_NAME: &str = "Polymarket CTF Exchange";
const ORDER_DOMAIN_VERSION: &str = "2";

/// An order that could not be signed; never carries the key.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SignError {
    #[error("private_key is not a valid secp256k1 key in hex")]
    BadKey,
    #[error("{field} = {value:?}: {rule}")]
    Field { field: &'static str, value: String, rule: &'static str },
    #[error("signature type {0} is not supported by this signer (deposit wallets need the SDK client)")]
    UnsupportedSignatureType(u8),
    #[error("no V2 exchange is configured for Polygon (neg_risk = {0})")]
    NoExchange(bool),
    #[error("signing failed: {0}")]
    Signing(String),
}

/// Signs V2 orders with the signer's private key.
pub struct OrderSigner {
    key: PrivateKeySigner,
}

impl std::fmt::Debug for OrderSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrderSigner").field("address", &self.address()).finish_non_exhaustive()
    }
}

impl OrderSigner {
    pub fn from_private_key(private_key: &Secret) -> Result<Self, SignError> {
        let key = PrivateKeySigner::from_str(private_key.expose().trim()).map_err(|_| SignError::BadKey)?;
        Ok(Self { key })
    }

    /// The signer's address, checksummed: `POLY_ADDRESS` and the order's `signer` for types 0–2.
    pub fn address(&self) -> String {
        self.key.address().to_checksum(None)
    }

    /// The `0x…` hex signature of `order`.
    pub async fn sign(&self, order: &UnsignedOrder) -> Result<String, SignError> {
        Ok(self.sign_order(order).await?.signature)
    }

    /// The signature of `order` and its EIP-712 hash. The hash is what the exchange contract's
    /// `hashOrder` returns and what the CLOB answers as `orderID`: known before the order is sent,
    /// so that it can be recorded first and the order found again after a crash.
    pub async fn sign_order(&self, order: &UnsignedOrder) -> Result<OrderSignature, SignError> {
        if order.signature_type > 2 {
            return Err(SignError::UnsupportedSignatureType(order.signature_type));
        }
        let exchange = contract_config(POLYGON, order.neg_risk)
            .and_then(|c| c.exchange_v2)
            .ok_or(SignError::NoExchange(order.neg_risk))?;
        let domain = Eip712Domain {
            name: Some(ORDER_DOMAIN_NAME.into()),
            version: Some(ORDER_DOMAIN_VERSION.into()),
            chain_id: Some(U256::from(POLYGON)),
            verifying_contract: Some(exchange),
            salt: None,
        };
        let hash = to_sol_order(order)?.eip712_signing_hash(&domain);
        let signature = self.key.sign_hash(&hash).await.map_err(|e| SignError::Signing(e.to_string()))?;
        Ok(OrderSignature { signature: signature.to_string(), order_hash: hash.to_string() })
    }
}

/// A signed order's signature and hash, both `0x…` hex.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderSignature {
    pub signature: String,
    /// The EIP-712 signing hash (`0x` + 64 hex digits): the CLOB's order id.
    pub order_hash: String,
}

fn to_sol_order(order: &UnsignedOrder) -> Result<OrderV2, SignError> {
    let address = |field: &'static str, value: &str| {
        Address::from_str(value.trim()).map_err(|_| SignError::Field {
            field,
            value: value.to_string(),
            rule: "must be a 0x-prefixed 20-byte address",
        })
    };
    let bytes32 = |field: &'static str, value: &str| {
        if value.is_empty() {
            return Ok(B256::ZERO);
        }
        B256::from_str(value.trim()).map_err(|_| SignError::Field {
            field,
            value: value.to_string(),
            rule: "must be 0x followed by 64 hex digits",
        })
    };
    let mut sol = OrderV2::default();
    sol.salt = U256::from(order.salt);
    sol.maker = address("maker", &order.maker)?;
    sol.signer = address("signer", &order.signer)?;
    sol.tokenId = U256::from_str_radix(&order.token_id, 10).map_err(|_| SignError::Field {
        field: "token_id",
        value: order.token_id.clone(),
        rule: "must be a decimal uint256",
    })?;
    sol.makerAmount = U256::from(order.amounts.maker_amount);
    sol.takerAmount = U256::from(order.amounts.taker_amount);
    sol.side = match order.side {
        Side::Buy => 0,
        Side::Sell => 1,
    };
    sol.signatureType = order.signature_type;
    sol.timestamp = U256::from(u64::try_from(order.timestamp_ms).map_err(|_| SignError::Field {
        field: "timestamp",
        value: order.timestamp_ms.to_string(),
        rule: "must be positive milliseconds",
    })?);
    sol.metadata = bytes32("metadata", &order.metadata)?;
    sol.builder = bytes32("builder", &order.builder)?;
    Ok(sol)
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;
    use crate::polymarket::order::{ZERO_BYTES32, limit_order_amounts};

    // Hardhat's well-known first test key; never funded on Polygon.
    const TEST_KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const TEST_ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    fn order(neg_risk: bool) -> UnsignedOrder {
        UnsignedOrder {
            salt: 42,
            maker: TEST_ADDRESS.into(),
            signer: TEST_ADDRESS.into(),
            token_id: "24098407321416745788627828656027763678598613197464854195771295502423714650576".into(),
            amounts: limit_order_amounts(Side::Buy, dec!(0.55), dec!(10), dec!(0.01), dec!(5)).unwrap(),
            side: Side::Buy,
            signature_type: 0,
            timestamp_ms: 1_700_000_000_000,
            expiration_secs: 0,
            metadata: ZERO_BYTES32.into(),
            builder: ZERO_BYTES32.into(),
            neg_risk,
        }
    }

    #[tokio::test]
    async fn signs_deterministically_and_recovers_to_the_signer() {
        let signer = OrderSigner::from_private_key(&Secret::new(TEST_KEY)).unwrap();
        assert_eq!(signer.address(), TEST_ADDRESS);
        let standard = signer.sign(&order(false)).await.unwrap();
        assert_eq!(standard, signer.sign(&order(false)).await.unwrap(), "RFC 6979: deterministic");
        assert_eq!(standard.len(), 2 + 130);
        // The neg-risk exchange is a different domain, hence a different signature.
        assert_ne!(standard, signer.sign(&order(true)).await.unwrap());
        // Recover the address from the signature over the same hash.
        let domain = Eip712Domain {
            name: Some(ORDER_DOMAIN_NAME.into()),
            version: Some(ORDER_DOMAIN_VERSION.into()),
            chain_id: Some(U256::from(POLYGON)),
            verifying_contract: contract_config(POLYGON, false).and_then(|c| c.exchange_v2),
            salt: None,
        };
        let hash = to_sol_order(&order(false)).unwrap().eip712_signing_hash(&domain);
        let parsed = polymarket_client_sdk_v2::types::Signature::from_str(&standard).unwrap();
        assert_eq!(parsed.recover_address_from_prehash(&hash).unwrap().to_checksum(None), TEST_ADDRESS);
        // The order id is that hash, as 0x + 64 hex digits.
        let signed = signer.sign_order(&order(false)).await.unwrap();
        assert_eq!((signed.signature.as_str(), signed.order_hash.clone()), (standard.as_str(), hash.to_string()));
        assert_eq!(signed.order_hash.len(), 66);
    }

    #[tokio::test]
    async fn bad_inputs_are_named() {
        assert_eq!(OrderSigner::from_private_key(&Secret::new("0x1234")).unwrap_err(), SignError::BadKey);
        let signer = OrderSigner::from_private_key(&Secret::new(TEST_KEY)).unwrap();
        let mut bad = order(false);
        bad.maker = "0xnope".into();
        assert!(matches!(signer.sign(&bad).await, Err(SignError::Field { field: "maker", .. })));
        let mut deposit = order(false);
        deposit.signature_type = 3;
        assert_eq!(signer.sign(&deposit).await, Err(SignError::UnsupportedSignatureType(3)));
    }
}
