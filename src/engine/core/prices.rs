//! Prices and the position monitor: books, quotes and market info update the market view and the
//! venue rules, and every price goes through the risk manager's stops.

use crate::clock::Timestamp;
use crate::domain::{MarketId, TokenId};
use crate::engine::io::{Outputs, Quote};
use crate::engine::market_data::VenueRules;
use crate::market::{ClobMarketInfo, OrderBook};
use crate::risk::safeguards::MarketRules;

use super::Engine;

impl Engine {
    #[inline]
    pub(super) fn on_book(&mut self, book: Box<OrderBook>, now: Timestamp, out: &mut Outputs) {
        if let Some(token) = self.apply_book(book, now) {
            self.check_stops(token, now, out);
        }
    }

    /// Takes a book into the market view (with the venue rules it carries); returns its token, or
    /// `None` when the market view refused the book (counted and logged there): a refused book
    /// moves nothing, not even the venue rules.
    pub(super) fn apply_book(&mut self, book: Box<OrderBook>, now: Timestamp) -> Option<TokenId> {
        let token = self.interner.token(&book.asset_id);
        let market = self.interner.market(&book.market);
        let (tick_size, min_order_size) = (book.tick_size, book.min_order_size);
        self.market.update_book(token, book, now).ok()?;
        let mut rules = self.market.rules(market);
        rules.tick_size = tick_size;
        rules.min_order_size = min_order_size;
        self.set_venue_rules(market, rules);
        Some(token)
    }

    /// A market's venue rules, as a book or the market's info state them. The risk manager checks
    /// every order against the same tick and minimum, so that an exit is never refused on a grid the
    /// venue has left (it moves a market to a finer tick as the price nears 0 or 1). Exits sent from
    /// now on are priced on the new grid; orders already out were valid when they left.
    pub(super) fn set_venue_rules(&mut self, market: MarketId, rules: VenueRules) {
        let known = self.market.known_rules(market);
        if known == Some(rules) {
            return;
        }
        let venue = MarketRules { tick_size: rules.tick_size, min_order_size: rules.min_order_size };
        if let Err(e) = self.risk.set_market_rules(market, venue) {
            tracing::warn!(%market, error = %e, "venue rules refused; keeping the market's old ones");
            return;
        }
        if let Some(old) = known
            && old.tick_size != rules.tick_size
        {
            let name = self.interner.market_name(market).unwrap_or("?");
            tracing::info!(market = name, from = %old.tick_size, to = %rules.tick_size, "market tick size changed");
        }
        self.market.set_rules(market, rules);
    }

    #[inline]
    pub(super) fn on_quote(&mut self, quote: Quote, now: Timestamp, out: &mut Outputs) {
        self.market.update_quote(quote.token, quote.best_bid, quote.best_ask, now);
        self.check_stops(quote.token, now, out);
    }

    pub(super) fn on_market_info(&mut self, info: &ClobMarketInfo) {
        let market = self.interner.market(&info.condition_id);
        self.set_venue_rules(
            market,
            VenueRules { tick_size: info.tick_size, min_order_size: info.min_order_size, fee: info.fees },
        );
        if let Some(end) = info.end_date {
            self.market.set_end_date(market, end);
        }
        for (token, label) in &info.tokens {
            let id = self.interner.token(token);
            self.market.set_outcome_label(id, label);
        }
    }

    /// Every price update goes through the risk manager: its stops, and the breaker on realised plus
    /// unrealised P&L. We hold outcome tokens long, so a position is worth the best bid.
    #[inline]
    fn check_stops(&mut self, token: TokenId, now: Timestamp, out: &mut Outputs) {
        let Some(bid) = self.market.prices(token).and_then(|p| p.best_bid) else { return };
        let signalled = self.risk.on_price(token, bid, now);
        if signalled.is_empty() {
            return;
        }
        let mut exits = std::mem::take(&mut self.exits);
        exits.clear();
        exits.extend_from_slice(signalled);
        for exit in &exits {
            self.request_exit(exit.position, exit.size, exit.reason, now, out);
        }
        self.exits = exits;
    }
}
