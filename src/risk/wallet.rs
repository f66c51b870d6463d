//! The wallet as truth (live mode): what the last reading of the wallet found (its cash), the
//! equity base that reading sets, the position mismatches still open, and the pure rule that
//! compares the venue's positions with the engine's.
//!
//! Equity stays `base + realised + unrealised`; a reading sets `base = cash + Σ cost of the open
//! positions − realised`, so that equity is exactly cash plus the open positions at their marks at
//! that moment, and fills between two readings move it as they move the cash.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::clock::Timestamp;
use crate::domain::{MarketId, TokenId};

/// Two sizes closer than one lot (0.01 share, the venue's size grid) are the same size.
pub const LOT: Decimal = Decimal::from_parts(1, 0, 0, false, 2);

/// How the venue's holding of a token differs from ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MismatchKind {
    /// The venue holds shares of a token the engine holds none of.
    UnknownToUs,
    /// The engine holds shares of a token the venue holds none of.
    MissingAtVenue,
    /// Both hold the token, in sizes more than a lot apart.
    SizeDiffers,
}

impl MismatchKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            MismatchKind::UnknownToUs => "unknown_to_us",
            MismatchKind::MissingAtVenue => "missing_at_venue",
            MismatchKind::SizeDiffers => "size_differs",
        }
    }
}

/// One token whose holdings disagree.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PositionMismatch {
    pub token: TokenId,
    pub market: MarketId,
    pub kind: MismatchKind,
    /// Shares the engine holds (its open trades).
    pub ours: Decimal,
    /// Shares the venue holds.
    pub venue: Decimal,
    /// The venue's average price of its shares (what `adopt` books them at).
    pub venue_avg_price: Decimal,
    pub since: Timestamp,
}

impl PositionMismatch {
    /// The same disagreement (the same sizes) as `other`: reported once, not at every reading.
    pub fn same_as(&self, other: &PositionMismatch) -> bool {
        self.token == other.token && self.ours == other.ours && self.venue == other.venue
    }
}

/// What the engine holds of one token (the open size of its open trades, summed).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OurHolding {
    pub token: TokenId,
    pub market: MarketId,
    pub size: Decimal,
}

/// What the venue says the wallet holds of one token.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VenueHolding {
    pub token: TokenId,
    pub market: MarketId,
    pub size: Decimal,
    pub avg_price: Decimal,
    /// The market resolved and the shares wait to be redeemed for cash.
    pub redeemable: bool,
    /// The market's minimum order size as the venue stated it (a book or `/clob-markets`), if known.
    pub venue_min_order_size: Option<Decimal>,
}

/// The last reading of the wallet and what it set.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct WalletBook {
    /// Cash (pUSD) the last reading found.
    pub cash: Option<Decimal>,
    /// When that reading was taken.
    pub read_at: Option<Timestamp>,
    /// Equity's base since the first reading (before it, `risk.starting_balance_usd`).
    pub base: Option<Decimal>,
    /// Disagreements reported and not yet resolved by a human, by token.
    #[serde(default)]
    pub mismatches: Vec<PositionMismatch>,
}

/// Compares the venue's holdings with ours, token by token. The rule:
///
/// - sizes within one [`LOT`] agree;
/// - a token `busy` says has an order in flight is not compared (sizes move under it; the next
///   reading compares it again);
/// - a token only the venue holds is not a mismatch when the venue marks it redeemable (its market
///   resolved: the engine settled it, the payout arrives as cash on redemption), nor when it is
///   below the minimum order size the venue itself stated for its market (dust the venue refuses to
///   trade); a minimum the venue never stated is not assumed;
/// - anything else is a mismatch: unknown to us, missing at the venue, or a size that differs.
///
/// The answer is sorted by token.
pub fn reconcile(
    ours: &[OurHolding],
    venue: &[VenueHolding],
    busy: impl Fn(TokenId) -> bool,
    now: Timestamp,
) -> Vec<PositionMismatch> {
    use std::collections::BTreeMap;
    #[derive(Default)]
    struct Side {
        market: Option<MarketId>,
        ours: Decimal,
        venue: Decimal,
        venue_cost: Decimal,
        redeemable: bool,
        minimum: Option<Decimal>,
    }
    let mut tokens: BTreeMap<TokenId, Side> = BTreeMap::new();
    for held in ours {
        let side = tokens.entry(held.token).or_default();
        side.market = Some(held.market);
        side.ours += held.size;
    }
    for held in venue {
        let side = tokens.entry(held.token).or_default();
        side.market.get_or_insert(held.market);
        side.venue += held.size;
        side.venue_cost += held.size * held.avg_price;
        side.redeemable |= held.redeemable;
        side.minimum = side.minimum.or(held.venue_min_order_size);
    }
    let mut found = Vec::new();
    for (token, side) in tokens {
        if busy(token) || (side.ours - side.venue).abs() <= LOT {
            continue;
        }
        let kind = if side.ours.is_zero() {
            let dust = side.minimum.is_some_and(|minimum| side.venue < minimum);
            if side.redeemable || dust {
                continue;
            }
            MismatchKind::UnknownToUs
        } else if side.venue.is_zero() {
            MismatchKind::MissingAtVenue
        } else {
            MismatchKind::SizeDiffers
        };
        let venue_avg_price = if side.venue.is_zero() { Decimal::ZERO } else { side.venue_cost / side.venue };
        found.push(PositionMismatch {
            token,
            market: side.market.unwrap_or(MarketId(0)),
            kind,
            ours: side.ours,
            venue: side.venue,
            venue_avg_price,
            since: now,
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use rust_decimal_macros::dec;

    use super::*;

    fn ours(token: u32, size: Decimal) -> OurHolding {
        OurHolding { token: TokenId(token), market: MarketId(token), size }
    }

    fn venue(token: u32, size: Decimal) -> VenueHolding {
        VenueHolding {
            token: TokenId(token),
            market: MarketId(token),
            size,
            avg_price: dec!(0.4),
            redeemable: false,
            venue_min_order_size: None,
        }
    }

    fn kinds(found: &[PositionMismatch]) -> Vec<(u32, MismatchKind)> {
        found.iter().map(|m| (m.token.0, m.kind)).collect()
    }

    #[test]
    fn equal_within_a_lot_agrees_and_each_disagreement_is_named() {
        let now = Timestamp::from_secs(10);
        let found = reconcile(
            &[ours(1, dec!(100)), ours(2, dec!(50)), ours(3, dec!(20)), ours(3, dec!(10))],
            &[venue(1, dec!(100.01)), venue(3, dec!(25)), venue(4, dec!(12))],
            |_| false,
            now,
        );
        use MismatchKind::*;
        assert_eq!(kinds(&found), vec![(2, MissingAtVenue), (3, SizeDiffers), (4, UnknownToUs)]);
        assert_eq!((found[1].ours, found[1].venue), (dec!(30), dec!(25)), "our trades of a token are summed");
        assert_eq!((found[2].venue_avg_price, found[2].since), (dec!(0.4), now));
        assert!(reconcile(&[ours(1, dec!(100))], &[venue(1, dec!(100.02))], |_| false, now).len() == 1);
    }

    #[test]
    fn a_token_with_an_order_in_flight_is_not_compared() {
        let found = reconcile(&[ours(1, dec!(100))], &[venue(2, dec!(7))], |t| t == TokenId(1), Timestamp(0));
        assert_eq!(kinds(&found), vec![(2, MismatchKind::UnknownToUs)]);
    }

    #[test]
    fn dust_is_ignored_only_below_a_minimum_the_venue_stated_and_redeemable_shares_never_count() {
        let mut dust = venue(1, dec!(3));
        assert_eq!(reconcile(&[], &[dust], |_| false, Timestamp(0)).len(), 1, "no stated minimum: reported");
        dust.venue_min_order_size = Some(dec!(5));
        assert!(reconcile(&[], &[dust], |_| false, Timestamp(0)).is_empty());
        dust.size = dec!(6);
        assert_eq!(reconcile(&[], &[dust], |_| false, Timestamp(0)).len(), 1, "above the minimum: reported");
        let mut resolved = venue(2, dec!(80));
        resolved.redeemable = true;
        assert!(reconcile(&[], &[resolved], |_| false, Timestamp(0)).is_empty());
        // Ours and the venue's disagree even on a resolved market: that is still a mismatch.
        assert_eq!(reconcile(&[ours(2, dec!(40))], &[resolved], |_| false, Timestamp(0)).len(), 1);
    }
}
