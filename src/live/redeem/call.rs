//! The redeem call and its transaction, pure: which contract, which calldata, and the signed
//! EIP-1559 transaction whose hash is known before anything is broadcast.
//!
//! | market | contract | call |
//! | --- | --- | --- |
//! | standard | Conditional Tokens (CTF) | `redeemPositions(collateral, 0x0, conditionId, [1, 2])`: the caller's whole balance of both outcomes |
//! | neg-risk | NegRiskAdapter | `redeemPositions(conditionId, [yesAmount, noAmount])`: the amounts held, in 6-decimal units |
//!
//! The addresses come from the official SDK's contract table (`contract_config`), the same one its
//! `ctf` client uses, so that they never drift from what the order signer signs against.

use alloy::consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy::eips::eip2718::Encodable2718;
use alloy::primitives::{Address, B256, Bytes, TxKind, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use alloy::sol;
use alloy::sol_types::SolCall;
use polymarket_client_sdk_v2::contract_config;

use super::RedeemError;

sol! {
    /// The Gnosis Conditional Tokens contract (ERC-1155 positions).
    interface IConditionalTokens {
        function redeemPositions(
            address collateralToken,
            bytes32 parentCollectionId,
            bytes32 conditionId,
            uint256[] indexSets
        ) external;

        function balanceOf(address owner, uint256 id) external view returns (uint256);
    }

    /// Polymarket's adapter for neg-risk markets.
    interface INegRiskAdapter {
        function redeemPositions(bytes32 conditionId, uint256[] amounts) external;
    }
}

/// Both outcomes of a binary market: index sets 0b01 and 0b10.
pub const BINARY_INDEX_SETS: [u64; 2] = [1, 2];

/// Outcome tokens have 6 decimals, like the collateral.
const TOKEN_DECIMALS: u32 = 6;

/// The contracts of one chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Contracts {
    pub collateral: Address,
    pub conditional_tokens: Address,
    pub neg_risk_adapter: Address,
}

impl Contracts {
    /// The SDK's addresses for `chain_id` (137 Polygon, 80002 Amoy).
    pub fn for_chain(chain_id: u64) -> Result<Self, RedeemError> {
        let standard = contract_config(chain_id, false).ok_or(RedeemError::UnknownChain(chain_id))?;
        let neg_risk = contract_config(chain_id, true).ok_or(RedeemError::UnknownChain(chain_id))?;
        let adapter = neg_risk.neg_risk_adapter.ok_or(RedeemError::UnknownChain(chain_id))?;
        Ok(Self {
            collateral: standard.collateral,
            conditional_tokens: standard.conditional_tokens,
            neg_risk_adapter: adapter,
        })
    }
}

/// A contract call: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub to: Address,
    pub data: Bytes,
}

/// A condition id as the contracts take it: 32 bytes in hex.
pub fn condition_id(text: &str) -> Result<B256, RedeemError> {
    text.trim().parse::<B256>().map_err(|_| RedeemError::Field {
        field: "condition_id",
        value: text.chars().take(80).collect(),
        rule: "must be 0x followed by 64 hex digits",
    })
}

/// A CLOB token id is the ERC-1155 position id: a decimal uint256.
pub fn position_id(token_id: &str) -> Result<U256, RedeemError> {
    U256::from_str_radix(token_id.trim(), 10).map_err(|_| RedeemError::Field {
        field: "token_id",
        value: token_id.chars().take(80).collect(),
        rule: "must be a decimal uint256 (the ERC-1155 position id)",
    })
}

/// `redeemPositions` on the CTF contract for a standard binary market.
pub fn ctf_redeem(contracts: &Contracts, condition: B256) -> Call {
    let call = IConditionalTokens::redeemPositionsCall {
        collateralToken: contracts.collateral,
        parentCollectionId: B256::ZERO,
        conditionId: condition,
        indexSets: BINARY_INDEX_SETS.iter().map(|&i| U256::from(i)).collect(),
    };
    Call { to: contracts.conditional_tokens, data: call.abi_encode().into() }
}

/// Where a neg-risk market's outcome goes in the adapter's `amounts`: Yes first, No second.
pub fn neg_risk_index(outcome: &str) -> Result<usize, RedeemError> {
    match outcome.trim().to_ascii_lowercase().as_str() {
        "yes" => Ok(0),
        "no" => Ok(1),
        _ => Err(RedeemError::Field {
            field: "outcome",
            value: outcome.chars().take(80).collect(),
            rule: "a neg-risk market's outcome must be Yes or No",
        }),
    }
}

/// `redeemPositions` on the NegRiskAdapter: `amount` (token units) of the winning outcome.
pub fn neg_risk_redeem(contracts: &Contracts, condition: B256, outcome_index: usize, amount: U256) -> Call {
    let mut amounts = vec![U256::ZERO; 2];
    if let Some(slot) = amounts.get_mut(outcome_index) {
        *slot = amount;
    }
    let call = INegRiskAdapter::redeemPositionsCall { conditionId: condition, amounts };
    Call { to: contracts.neg_risk_adapter, data: call.abi_encode().into() }
}

/// `balanceOf(owner, position)` on the CTF contract (an `eth_call`).
pub fn balance_of(contracts: &Contracts, owner: Address, position: U256) -> Call {
    let call = IConditionalTokens::balanceOfCall { owner, id: position };
    Call { to: contracts.conditional_tokens, data: call.abi_encode().into() }
}

/// Token units (6 decimals) as shares, for alerts.
pub fn shares_from_units(units: U256) -> rust_decimal::Decimal {
    let small = u64::try_from(units).unwrap_or(u64::MAX);
    rust_decimal::Decimal::from(small) / rust_decimal::Decimal::from(10u64.pow(TOKEN_DECIMALS))
}

/// The fee and gas of one transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gas {
    pub limit: u64,
    pub max_fee_per_gas: u128,
    pub max_priority_fee_per_gas: u128,
}

/// A signed transaction: its hash (what the chain knows it by) and its raw bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedTx {
    pub hash: B256,
    pub raw: Bytes,
    pub nonce: u64,
}

/// Signs `call` as an EIP-1559 transaction. The hash is the keccak of the raw bytes: known before
/// broadcasting, so that it can be recorded first and the transaction found again after a crash.
pub fn sign(key: &PrivateKeySigner, chain_id: u64, nonce: u64, gas: Gas, call: &Call) -> Result<SignedTx, RedeemError> {
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: gas.limit,
        max_fee_per_gas: gas.max_fee_per_gas,
        max_priority_fee_per_gas: gas.max_priority_fee_per_gas,
        to: TxKind::Call(call.to),
        value: U256::ZERO,
        access_list: Default::default(),
        input: call.data.clone(),
    };
    let signature = key.sign_hash_sync(&tx.signature_hash()).map_err(|e| RedeemError::Signing(e.to_string()))?;
    let envelope = TxEnvelope::from(tx.into_signed(signature));
    Ok(SignedTx { hash: *envelope.tx_hash(), raw: envelope.encoded_2718().into(), nonce })
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use alloy::eips::eip2718::Decodable2718;
    use alloy::primitives::{address, keccak256};

    use super::*;

    const CONDITION: &str = "0x8ea50c2bd6e7b4a1a4e0e0f0f5d1b4d3ad4d3e09a5f1d59e8fa97a4b2b7c0b11";
    // A well-known test key (anvil's first account); never holds anything real.
    const KEY: &str = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    fn contracts() -> Contracts {
        Contracts::for_chain(137).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn polygon_addresses_are_the_sdks() {
        let c = contracts();
        assert_eq!(c.conditional_tokens, address!("0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"));
        assert_eq!(c.neg_risk_adapter, address!("0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"));
        assert_eq!(c.collateral, address!("0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"));
        assert_eq!(Contracts::for_chain(1), Err(RedeemError::UnknownChain(1)));
    }

    /// The standard ABI encoding, written out word by word: selector of
    /// `redeemPositions(address,bytes32,bytes32,uint256[])`, then the head (address, zero parent,
    /// condition, offset 0x80 of the array) and the tail (length 2, then 1 and 2).
    #[test]
    fn the_ctf_call_is_the_standard_abi_encoding() {
        let condition = condition_id(CONDITION).unwrap_or_else(|e| panic!("{e}"));
        let call = ctf_redeem(&contracts(), condition);
        assert_eq!(call.to, contracts().conditional_tokens);
        let selector = &keccak256("redeemPositions(address,bytes32,bytes32,uint256[])")[..4];
        assert_eq!(&call.data[..4], selector);
        assert_eq!(hex(&call.data[..4]), "01b7037c");
        let words: Vec<String> = call.data[4..].chunks(32).map(hex).collect();
        let word = |n: u64| format!("{n:064x}");
        assert_eq!(
            words,
            vec![
                format!("{:0>64}", "c011a7e12a19f7b1f670d46f03b03f3342e82dfb"),
                word(0),
                CONDITION.trim_start_matches("0x").to_owned(),
                word(0x80),
                word(2),
                word(1),
                word(2),
            ]
        );
    }

    #[test]
    fn the_neg_risk_call_names_the_amount_of_the_winning_outcome() {
        let condition = condition_id(CONDITION).unwrap_or_else(|e| panic!("{e}"));
        let call = neg_risk_redeem(&contracts(), condition, 1, U256::from(12_500_000u64));
        assert_eq!(call.to, contracts().neg_risk_adapter);
        assert_eq!(&call.data[..4], &keccak256("redeemPositions(bytes32,uint256[])")[..4]);
        let decoded = INegRiskAdapter::redeemPositionsCall::abi_decode(&call.data).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(decoded.conditionId, condition);
        assert_eq!(decoded.amounts, vec![U256::ZERO, U256::from(12_500_000u64)]);
        assert_eq!((neg_risk_index("Yes"), neg_risk_index(" no ")), (Ok(0), Ok(1)));
        assert!(neg_risk_index("Trump").unwrap_err().to_string().contains("must be Yes or No"));
    }

    #[test]
    fn bad_identifiers_are_refused_naming_the_field() {
        let e = condition_id("0x12").unwrap_err().to_string();
        assert!(e.contains("condition_id") && e.contains("64 hex digits"), "{e}");
        let e = position_id("12ab").unwrap_err().to_string();
        assert!(e.contains("token_id") && e.contains("uint256"), "{e}");
        assert_eq!(
            position_id("71321045679252212594626385532706912750332728571942532289631379312455583992563").map(|_| ()),
            Ok(())
        );
    }

    /// The hash recorded before broadcasting is the hash of exactly the bytes broadcast, and the
    /// bytes decode to the call, signed by the key.
    #[test]
    fn the_hash_is_known_before_sending_and_names_the_raw_bytes() {
        let key = PrivateKeySigner::from_str(KEY).unwrap_or_else(|e| panic!("{e}"));
        let condition = condition_id(CONDITION).unwrap_or_else(|e| panic!("{e}"));
        let call = ctf_redeem(&contracts(), condition);
        let gas = Gas { limit: 200_000, max_fee_per_gas: 90_000_000_000, max_priority_fee_per_gas: 30_000_000_000 };
        let signed = sign(&key, 137, 7, gas, &call).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(signed.hash, keccak256(&signed.raw));
        assert_eq!(signed.raw[0], 0x02, "an EIP-1559 envelope");
        let again = sign(&key, 137, 7, gas, &call).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again, signed, "deterministic: the same transaction, the same hash");
        let TxEnvelope::Eip1559(decoded) =
            TxEnvelope::decode_2718(&mut signed.raw.as_ref()).unwrap_or_else(|e| panic!("{e}"))
        else {
            panic!("not an EIP-1559 transaction")
        };
        let tx = decoded.tx();
        assert_eq!((tx.chain_id, tx.nonce, tx.gas_limit), (137, 7, 200_000));
        assert_eq!(tx.to, TxKind::Call(call.to));
        assert_eq!(tx.input, call.data);
        let from =
            decoded.signature().recover_address_from_prehash(&tx.signature_hash()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(from, key.address());
    }

    #[test]
    fn token_units_read_as_shares() {
        assert_eq!(shares_from_units(U256::from(12_500_000u64)), rust_decimal_macros::dec!(12.5));
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}
