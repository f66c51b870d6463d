//! Interned identities. Wallets, markets (condition ids) and outcome tokens arrive as long strings;
//! the edge turns each into a small integer once, and everything downstream hashes and compares
//! integers. Measured on this machine: a `HashMap` lookup with a wallet-sized string key costs about
//! 23 ns, with a `u32` key and [`IdHasher`] a few ns.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use serde::{Deserialize, Serialize};

macro_rules! small_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            pub const fn index(self) -> usize {
                self.0 as usize
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}#{}", stringify!($name), self.0)
            }
        }
    };
}

small_id!(
    /// A followed wallet, interned.
    WhaleId
);
small_id!(
    /// A market (Polymarket condition id), interned.
    MarketId
);
small_id!(
    /// An outcome token (Polymarket token id / asset id), interned.
    TokenId
);

/// The client order id the engine gives every order it sends (unique per daemon, persisted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientOrderId(pub u64);

impl std::fmt::Display for ClientOrderId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "order#{}", self.0)
    }
}

/// The identity of the whale trade an order copies (the trade's transaction hash and log index,
/// hashed with a stable 64-bit FNV-1a so that it survives restarts and needs no string on the hot path).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SourceTradeId(pub u64);

impl SourceTradeId {
    /// Stable across processes and releases (unlike `std`'s `DefaultHasher`).
    pub fn of(text: &str) -> Self {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in text.bytes() {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        Self(hash)
    }
}

impl std::fmt::Display for SourceTradeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "trade#{:016x}", self.0)
    }
}

/// A fast, non-cryptographic hasher for keys that are already small integers we assigned ourselves
/// (so hash flooding is not a concern). One rotate, xor and multiply per word, like rustc's FxHasher.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdHasher(u64);

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl IdHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for IdHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.add(u64::from(*byte));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }

    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }

    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }

    #[inline]
    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }
}

/// A `HashMap` keyed by interned ids.
pub type IdHashMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;
/// A `HashSet` of interned ids.
pub type IdHashSet<K> = HashSet<K, BuildHasherDefault<IdHasher>>;

/// One table of interned names: name → index and index → name.
///
/// Every book and trade looks its ids up here, and token ids are 76 digits long: the names are
/// hashed with foldhash (seeded per process, so outside input cannot aim at collisions), several
/// times faster than the default SipHash on strings this long.
#[derive(Debug, Clone, Default)]
struct Table {
    by_name: HashMap<String, u32, foldhash::fast::RandomState>,
    names: Vec<String>,
    /// The id `intern` returned last: a price feed names the same token and market book after
    /// book, and comparing with one name is several times cheaper than hashing it.
    last: Option<u32>,
}

/// Two tables are equal when they hold the same names under the same ids; which name was asked
/// for last is not part of that.
impl PartialEq for Table {
    fn eq(&self, other: &Self) -> bool {
        self.names == other.names
    }
}

impl Table {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(last) = self.last
            && self.names.get(last as usize).is_some_and(|n| n == name)
        {
            return last;
        }
        let id = match self.by_name.get(name) {
            Some(&id) => id,
            None => {
                // More than 4 billion distinct names cannot happen in one daemon; saturate rather than panic.
                let id = u32::try_from(self.names.len()).unwrap_or(u32::MAX);
                self.names.push(name.to_owned());
                self.by_name.insert(name.to_owned(), id);
                id
            }
        };
        self.last = Some(id);
        id
    }

    fn lookup(&self, name: &str) -> Option<u32> {
        self.by_name.get(name).copied()
    }

    fn name(&self, id: u32) -> Option<&str> {
        self.names.get(id as usize).map(String::as_str)
    }

    fn from_names(names: Vec<String>) -> Self {
        let by_name = names.iter().enumerate().map(|(i, n)| (n.clone(), i as u32)).collect();
        Self { by_name, names, last: None }
    }
}

/// Maps wallet, market and token strings to small ids at the edge (feeds, config, store). Ids are
/// dense and stable for the life of the interner; persist it (it serializes as its name lists)
/// next to anything that stores ids, such as the risk manager's exported state.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Interner {
    whales: Table,
    markets: Table,
    tokens: Table,
}

impl Interner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Wallet addresses are case-insensitive hex, so they are interned lower-cased.
    pub fn whale(&mut self, wallet: &str) -> WhaleId {
        if wallet.bytes().any(|b| b.is_ascii_uppercase()) {
            WhaleId(self.whales.intern(&wallet.to_ascii_lowercase()))
        } else {
            WhaleId(self.whales.intern(wallet))
        }
    }

    pub fn market(&mut self, condition_id: &str) -> MarketId {
        MarketId(self.markets.intern(condition_id))
    }

    pub fn token(&mut self, token_id: &str) -> TokenId {
        TokenId(self.tokens.intern(token_id))
    }

    /// The id of a wallet already seen, without interning it.
    pub fn find_whale(&self, wallet: &str) -> Option<WhaleId> {
        if wallet.bytes().any(|b| b.is_ascii_uppercase()) {
            self.whales.lookup(&wallet.to_ascii_lowercase()).map(WhaleId)
        } else {
            self.whales.lookup(wallet).map(WhaleId)
        }
    }

    pub fn find_market(&self, condition_id: &str) -> Option<MarketId> {
        self.markets.lookup(condition_id).map(MarketId)
    }

    pub fn find_token(&self, token_id: &str) -> Option<TokenId> {
        self.tokens.lookup(token_id).map(TokenId)
    }

    pub fn whale_name(&self, id: WhaleId) -> Option<&str> {
        self.whales.name(id.0)
    }

    pub fn market_name(&self, id: MarketId) -> Option<&str> {
        self.markets.name(id.0)
    }

    pub fn token_name(&self, id: TokenId) -> Option<&str> {
        self.tokens.name(id.0)
    }
}

/// The serialized form: three name lists, the index in each list being the id.
#[derive(Serialize, Deserialize)]
struct InternerNames {
    whales: Vec<String>,
    markets: Vec<String>,
    tokens: Vec<String>,
}

impl Serialize for Interner {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        InternerNames {
            whales: self.whales.names.clone(),
            markets: self.markets.names.clone(),
            tokens: self.tokens.names.clone(),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Interner {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = InternerNames::deserialize(deserializer)?;
        Ok(Self {
            whales: Table::from_names(names.whales),
            markets: Table::from_names(names.markets),
            tokens: Table::from_names(names.tokens),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interning_is_stable_and_dense() {
        let mut interner = Interner::new();
        let a = interner.whale("0xABCdef0000000000000000000000000000000001");
        let b = interner.whale("0xabcdef0000000000000000000000000000000001");
        let c = interner.whale("0x0000000000000000000000000000000000000002");
        assert_eq!(a, b, "wallets are case-insensitive");
        assert_eq!((a.0, c.0), (0, 1));
        assert_eq!(interner.market("m1"), MarketId(0));
        assert_eq!(interner.token("t1"), TokenId(0));
        assert_eq!(interner.token("t2"), TokenId(1));
        assert_eq!(interner.token("t1"), TokenId(0));
        assert_eq!(interner.token_name(TokenId(1)), Some("t2"));
        assert_eq!(interner.find_token("nope"), None);
        assert_eq!(interner.whale_name(a), Some("0xabcdef0000000000000000000000000000000001"));
    }

    #[test]
    fn a_name_asked_for_again_keeps_its_id_and_equality_ignores_the_last_asked() {
        let mut interner = Interner::new();
        let names = ["t1", "t1", "t2", "t2", "t1", "t3", "t1"];
        let ids: Vec<u32> = names.iter().map(|n| interner.token(n).0).collect();
        assert_eq!(ids, [0, 0, 1, 1, 0, 2, 0]);
        // A prefix of the last name is another name.
        assert_eq!(interner.token("t"), TokenId(3));
        let mut other = Interner::new();
        for name in ["t1", "t2", "t3", "t"] {
            other.token(name);
        }
        other.token("t2");
        assert_eq!(interner, other, "same names under the same ids, whichever was asked for last");
    }

    #[test]
    fn interner_round_trips_through_json() {
        let mut interner = Interner::new();
        interner.whale("0x01");
        interner.market("m");
        interner.token("t1");
        interner.token("t2");
        let json = serde_json::to_string(&interner).unwrap_or_default();
        let back: Interner = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back.find_token("t2"), Some(TokenId(1)));
        assert_eq!(back.find_whale("0x01"), Some(WhaleId(0)));
    }

    #[test]
    fn source_trade_id_is_stable_fnv1a() {
        // FNV-1a 64 of "a" is a published test vector.
        assert_eq!(SourceTradeId::of("a").0, 0xaf63_dc4c_8601_ec8c);
        assert_ne!(SourceTradeId::of("0xabc:1"), SourceTradeId::of("0xabc:2"));
    }
}
