//! What the venue says our wallet holds: the truth that the book of record is checked against.

use rust_decimal::Decimal;

/// One position of the wallet, as the venue states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VenuePosition {
    pub token_id: String,
    pub condition_id: String,
    /// Shares held now.
    pub size: Decimal,
    /// Average price paid per share.
    pub avg_price: Decimal,
    /// The market resolved and the shares wait to be redeemed.
    pub redeemable: bool,
}
