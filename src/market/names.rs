//! The names a person reads instead of ids: a market's question, slug, end date and the name of
//! each outcome token, and a followed whale's label.
//!
//! Names come from the whale trades themselves (`title`, `slug`, `outcome`: at once, in replay too)
//! and from the Gamma API (the question, the outcome of every token, the end date), cached in the
//! store. A name that is not known yet falls back to a short form of the id ([`short_id`]): an
//! unknown name never blocks or delays anything.

use std::collections::BTreeMap;

use crate::clock::Timestamp;

use super::WhaleTrade;

/// Longest name kept (a question, a slug, an outcome, a label): longer text is cut, so that no
/// outside input makes a screen or an alert unbounded.
pub const MAX_NAME_CHARS: usize = 300;

/// Most outcomes one market names.
pub const MAX_OUTCOMES: usize = 16;

/// Most markets the catalogue keeps; past it, the names learned longest ago make room (a held
/// market's names are then read from Gamma again).
pub const MAX_MARKETS: usize = 10_000;

/// An id shortened for a person: `0xfd48e3…d8b4` for a condition id or an address, `942422…0261`
/// for a token id; ids of at most 14 characters are kept whole.
pub fn short_id(id: &str) -> String {
    let chars: Vec<char> = id.chars().collect();
    if chars.len() <= 14 {
        return id.to_owned();
    }
    let head = if id.starts_with("0x") { 8 } else { 6 };
    let head: String = chars[..head].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

/// `name (short id)`, or the short id alone when there is no name.
pub fn named(name: Option<&str>, id: &str) -> String {
    match name.filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} ({})", short_id(id)),
        None => short_id(id),
    }
}

/// A name with its short id beside it (`Fed decision in March? (0xfd48e3…d8b4)`), or the short id
/// alone when the name is only that fallback (as the catalogue's `*_title`/`*_label` give it).
pub fn beside(name: &str, id: &str) -> String {
    let short = short_id(id);
    if name.is_empty() || name == short || name == id {
        short
    } else if short.is_empty() {
        name.to_owned()
    } else {
        format!("{name} ({short})")
    }
}

/// Text cut to [`MAX_NAME_CHARS`], control characters removed (a name ends up in one line of a
/// terminal, a log or a chat message).
pub fn clean_name(text: &str) -> String {
    text.trim().chars().filter(|c| !c.is_control()).take(MAX_NAME_CHARS).collect()
}

/// Where a market's names came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum NameSource {
    /// A whale trade's `title`, `slug` and `outcome`.
    Trade,
    /// The Gamma API's market object.
    Gamma,
}

impl NameSource {
    pub const fn as_str(self) -> &'static str {
        match self {
            NameSource::Trade => "trade",
            NameSource::Gamma => "gamma",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "trade" => Some(NameSource::Trade),
            "gamma" => Some(NameSource::Gamma),
            _ => None,
        }
    }
}

/// One outcome token of a market and its name (`Yes`, `Down`, a team).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeName {
    pub token_id: String,
    pub outcome: String,
}

/// The names of one market.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MarketName {
    /// The condition id (`0x` + 64 hex digits), lower case.
    pub condition_id: String,
    /// The market's question (Gamma) or title (a whale trade).
    pub question: String,
    pub slug: String,
    /// When the market is scheduled to end (RFC 3339, as Gamma gives it), when known.
    pub end_date: Option<String>,
    pub outcomes: Vec<OutcomeName>,
    pub source: NameSource,
    /// When these names were learned; for Gamma names, what the refresh measures their age by.
    pub fetched_at: Timestamp,
}

impl MarketName {
    /// The names a whale trade carries, if it carries any.
    pub fn from_trade(trade: &WhaleTrade, at: Timestamp) -> Option<Self> {
        let question = clean_name(&trade.title);
        let outcome = clean_name(&trade.outcome);
        if question.is_empty() && outcome.is_empty() {
            return None;
        }
        let outcomes =
            if outcome.is_empty() { Vec::new() } else { vec![OutcomeName { token_id: trade.asset.clone(), outcome }] };
        Some(MarketName {
            condition_id: trade.condition_id.to_ascii_lowercase(),
            question,
            slug: clean_name(&trade.slug),
            end_date: None,
            outcomes,
            source: NameSource::Trade,
            fetched_at: at,
        })
    }

    pub fn outcome_of(&self, token_id: &str) -> Option<&str> {
        self.outcomes.iter().find(|o| o.token_id == token_id).map(|o| o.outcome.as_str())
    }
}

/// Every name known: markets by condition id, and outcome names by token id; whale labels by
/// address (lower case) from the config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NameCatalogue {
    markets: BTreeMap<String, MarketName>,
    /// token id → condition id, for the outcome name of a token.
    tokens: BTreeMap<String, String>,
    whales: BTreeMap<String, String>,
}

impl NameCatalogue {
    pub fn new() -> Self {
        Self::default()
    }

    /// The labels of the followed whales (`[[copy.whales]] label`), replacing the ones before.
    pub fn set_whale_labels<'a>(&mut self, labels: impl IntoIterator<Item = (&'a str, Option<&'a str>)>) {
        self.whales = labels
            .into_iter()
            .filter_map(|(address, label)| {
                let label = clean_name(label?);
                (!label.is_empty()).then(|| (address.trim().to_ascii_lowercase(), label))
            })
            .collect();
    }

    /// Learns the names a whale trade carries. Returns the market's names when they changed what
    /// is known (for the store); a trade never overwrites Gamma's question, it only adds an
    /// outcome Gamma did not list.
    pub fn learn_from_trade(&mut self, trade: &WhaleTrade, at: Timestamp) -> Option<&MarketName> {
        let learned = MarketName::from_trade(trade, at)?;
        let id = learned.condition_id.clone();
        let changed = match self.markets.get_mut(&id) {
            None => {
                self.insert(learned);
                true
            }
            Some(known) => {
                let mut changed = false;
                if known.question.is_empty() && !learned.question.is_empty() {
                    known.question = learned.question;
                    changed = true;
                }
                if known.slug.is_empty() && !learned.slug.is_empty() {
                    known.slug = learned.slug;
                    changed = true;
                }
                for outcome in learned.outcomes {
                    if known.outcome_of(&outcome.token_id).is_none() && known.outcomes.len() < MAX_OUTCOMES {
                        self.tokens.insert(outcome.token_id.clone(), id.clone());
                        known.outcomes.push(outcome);
                        changed = true;
                    }
                }
                changed
            }
        };
        if changed { self.markets.get(&id) } else { None }
    }

    /// Adds or replaces a market's names (from Gamma, or loaded from the store). Gamma's names
    /// replace a trade's; a trade's never replace Gamma's.
    pub fn insert(&mut self, name: MarketName) {
        if let Some(known) = self.markets.get(&name.condition_id)
            && known.source == NameSource::Gamma
            && name.source == NameSource::Trade
        {
            return;
        }
        if let Some(old) = self.markets.get(&name.condition_id) {
            for outcome in &old.outcomes {
                self.tokens.remove(&outcome.token_id);
            }
        }
        if !self.markets.contains_key(&name.condition_id) && self.markets.len() >= MAX_MARKETS {
            self.evict_oldest();
        }
        for outcome in &name.outcomes {
            self.tokens.insert(outcome.token_id.clone(), name.condition_id.clone());
        }
        self.markets.insert(name.condition_id.clone(), name);
    }

    fn evict_oldest(&mut self) {
        let Some(oldest) = self.markets.values().min_by_key(|m| m.fetched_at).map(|m| m.condition_id.clone()) else {
            return;
        };
        if let Some(gone) = self.markets.remove(&oldest) {
            for outcome in gone.outcomes {
                self.tokens.remove(&outcome.token_id);
            }
        }
    }

    pub fn market(&self, condition_id: &str) -> Option<&MarketName> {
        self.markets.get(condition_id).or_else(|| {
            // Condition ids are hex: an upper-case spelling is the same market.
            if condition_id.bytes().any(|b| b.is_ascii_uppercase()) {
                self.markets.get(&condition_id.to_ascii_lowercase())
            } else {
                None
            }
        })
    }

    pub fn len(&self) -> usize {
        self.markets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.markets.is_empty()
    }

    /// The market's question, when known.
    pub fn question(&self, condition_id: &str) -> Option<&str> {
        self.market(condition_id).map(|m| m.question.as_str()).filter(|q| !q.is_empty())
    }

    /// The market's question, or its short id.
    pub fn market_title(&self, condition_id: &str) -> String {
        self.question(condition_id).map(str::to_owned).unwrap_or_else(|| short_id(condition_id))
    }

    /// The outcome name of a token, when known.
    pub fn outcome(&self, token_id: &str) -> Option<&str> {
        let market = self.tokens.get(token_id)?;
        self.markets.get(market)?.outcome_of(token_id)
    }

    /// The outcome name of a token, or its short id.
    pub fn outcome_name(&self, token_id: &str) -> String {
        self.outcome(token_id).map(str::to_owned).unwrap_or_else(|| short_id(token_id))
    }

    /// A whale's label from the config, when it has one.
    pub fn label(&self, address: &str) -> Option<&str> {
        self.whales.get(address).or_else(|| self.whales.get(&address.to_ascii_lowercase())).map(String::as_str)
    }

    /// A whale's label, or its short address.
    pub fn whale_label(&self, address: &str) -> String {
        self.label(address).map(str::to_owned).unwrap_or_else(|| short_id(address))
    }

    /// Of `markets`, those whose Gamma names are missing or were fetched before `now - refresh_ms`.
    pub fn due_for_refresh<'a>(
        &self,
        markets: impl IntoIterator<Item = &'a str>,
        now: Timestamp,
        refresh_ms: i64,
    ) -> Vec<String> {
        markets
            .into_iter()
            .filter(|id| match self.market(id) {
                Some(m) if m.source == NameSource::Gamma => now.millis_since(m.fetched_at) >= refresh_ms,
                _ => true,
            })
            .map(str::to_owned)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MARKET: &str = "0xfd48e3a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4bd8b4";
    const TOKEN: &str = "94242206871221370391055736153305071391564432448684801902267396130896523340261";

    fn trade(title: &str, outcome: &str) -> WhaleTrade {
        WhaleTrade {
            condition_id: MARKET.into(),
            asset: TOKEN.into(),
            title: title.into(),
            slug: "btc-up".into(),
            outcome: outcome.into(),
            ..WhaleTrade::sample("0xt", Timestamp(1))
        }
    }

    fn gamma(question: &str, at: i64) -> MarketName {
        MarketName {
            condition_id: MARKET.into(),
            question: question.into(),
            slug: "btc-updown".into(),
            end_date: Some("2026-03-22T07:55:00Z".into()),
            outcomes: vec![
                OutcomeName { token_id: TOKEN.into(), outcome: "Up".into() },
                OutcomeName { token_id: "2294".into(), outcome: "Down".into() },
            ],
            source: NameSource::Gamma,
            fetched_at: Timestamp(at),
        }
    }

    #[test]
    fn unknown_ids_fall_back_to_short_ids() {
        assert_eq!(short_id(MARKET), "0xfd48e3…d8b4");
        assert_eq!(short_id(TOKEN), "942422…0261");
        assert_eq!(short_id("0xabc"), "0xabc");
        let names = NameCatalogue::new();
        assert_eq!(names.market_title(MARKET), "0xfd48e3…d8b4");
        assert_eq!(names.outcome_name(TOKEN), "942422…0261");
        assert_eq!(names.whale_label("0x6a72f61820b26b1fe4d956e17b6dc2a1ea3033ee"), "0x6a72f6…33ee");
        assert_eq!(named(None, MARKET), "0xfd48e3…d8b4");
        assert_eq!(named(Some("Fed"), MARKET), "Fed (0xfd48e3…d8b4)");
        assert_eq!(beside("Fed", MARKET), "Fed (0xfd48e3…d8b4)");
        assert_eq!(beside("0xfd48e3…d8b4", MARKET), "0xfd48e3…d8b4");
        assert_eq!(beside("", MARKET), "0xfd48e3…d8b4");
        assert_eq!(beside("Fed", ""), "Fed");
    }

    #[test]
    fn a_trade_names_its_market_and_outcome_at_once() {
        let mut names = NameCatalogue::new();
        let learned = names.learn_from_trade(&trade("Bitcoin Up or Down?", "Up"), Timestamp(5)).cloned();
        assert_eq!(learned.map(|m| m.source), Some(NameSource::Trade));
        assert_eq!(names.market_title(MARKET), "Bitcoin Up or Down?");
        assert_eq!(names.outcome_name(TOKEN), "Up");
        // The same names again change nothing (nothing to store).
        assert!(names.learn_from_trade(&trade("Bitcoin Up or Down?", "Up"), Timestamp(6)).is_none());
        // A trade without names teaches nothing.
        assert!(NameCatalogue::new().learn_from_trade(&trade("", ""), Timestamp(5)).is_none());
    }

    #[test]
    fn gamma_names_win_over_a_trades_and_age_for_the_refresh() {
        let mut names = NameCatalogue::new();
        names.learn_from_trade(&trade("old title", "Up"), Timestamp(5));
        assert_eq!(names.due_for_refresh([MARKET], Timestamp(10), 1000), vec![MARKET.to_owned()]);
        names.insert(gamma("Bitcoin Up or Down - March 22", 100));
        assert_eq!(names.market_title(MARKET), "Bitcoin Up or Down - March 22");
        assert_eq!(names.outcome_name("2294"), "Down");
        names.learn_from_trade(&trade("newer title", "Up"), Timestamp(200));
        assert_eq!(names.market_title(MARKET), "Bitcoin Up or Down - March 22");
        assert!(names.due_for_refresh([MARKET], Timestamp(1099), 1000).is_empty());
        assert_eq!(names.due_for_refresh([MARKET, "0xnew"], Timestamp(1100), 1000), vec![MARKET, "0xnew"]);
    }

    #[test]
    fn the_catalogue_is_bounded_and_the_oldest_names_make_room() {
        let mut names = NameCatalogue::new();
        for i in 0..=MAX_MARKETS {
            let mut name = gamma("q", i as i64);
            name.condition_id = format!("0x{i}");
            name.outcomes = vec![OutcomeName { token_id: i.to_string(), outcome: "Yes".into() }];
            names.insert(name);
        }
        assert_eq!(names.len(), MAX_MARKETS);
        assert!(names.market("0x0").is_none() && names.outcome("0").is_none());
        assert_eq!(names.outcome_name(&MAX_MARKETS.to_string()), "Yes");
    }

    #[test]
    fn whale_labels_come_from_the_config_by_address_in_any_case() {
        let mut names = NameCatalogue::new();
        names.set_whale_labels([("0xABCdef0123456789abcdef0123456789abcdef01", Some("Theo")), ("0xb", None)]);
        assert_eq!(names.whale_label("0xabcdef0123456789abcdef0123456789abcdef01"), "Theo");
        assert_eq!(names.whale_label("0xABCDEF0123456789ABCDEF0123456789ABCDEF01"), "Theo");
        assert_eq!(names.label("0xb"), None);
    }

    #[test]
    fn names_are_cut_and_cleaned_of_control_characters() {
        let long = "x".repeat(1000);
        assert_eq!(clean_name(&long).chars().count(), MAX_NAME_CHARS);
        assert_eq!(clean_name(" Will it\n rain?\u{7} "), "Will it rain?");
    }
}
