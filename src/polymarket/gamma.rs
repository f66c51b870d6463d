//! Market names from the Gamma API: `GET {gamma_url}/markets?condition_ids=…` read into
//! [`MarketName`]s.
//!
//! Only the naming fields of the large market object are read: `conditionId`, `question`, `slug`,
//! `endDate`, and `outcomes` with `clobTokenIds` (JSON arrays that Gamma encodes as strings,
//! `"[\"Up\", \"Down\"]"`; `clobTokenIds[i]` is the token of `outcomes[i]`). A row that cannot be
//! used is set aside with its cause; the rest of the answer is still read.

use std::collections::HashMap;

use serde_json::value::RawValue;

use super::config::PolymarketConfig;
use super::http::{HttpClient, HttpError, endpoint};
use crate::clock::Timestamp;
use crate::market::{MAX_OUTCOMES, MarketName, NameSource, OutcomeName, clean_name};

/// Most markets asked for in one request.
pub const GAMMA_BATCH: usize = 20;

/// Longest `/markets` answer accepted. A market object is a few kilobytes (its description and
/// events are the longest fields); [`GAMMA_BATCH`] of them fit many times over.
pub const MAX_GAMMA_BODY_BYTES: usize = 2 * 1024 * 1024;

/// Longest value quoted back in an error.
const MAX_SHOWN_CHARS: usize = 80;

/// A Gamma read that failed as a whole.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum GammaError {
    #[error(transparent)]
    Http(#[from] HttpError),
    #[error("gamma /markets answer does not parse as an array of objects: {0}")]
    Parse(String),
    #[error("condition id {0:?} must be 0x followed by hex digits")]
    BadConditionId(String),
}

/// One market row that cannot be used, and why.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("gamma market {row}: {field} = {value}: {rule}")]
pub struct GammaRowError {
    /// The row's condition id when it has one, else its index (`#3`).
    pub row: String,
    pub field: &'static str,
    pub value: String,
    pub rule: &'static str,
}

impl GammaRowError {
    /// The cause, for counting and for logging once per cause: the field that broke.
    pub fn cause(&self) -> &'static str {
        self.field
    }
}

/// A `/markets` answer: the markets named, and the rows set aside.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GammaMarkets {
    pub names: Vec<MarketName>,
    pub malformed: Vec<GammaRowError>,
}

/// Reads a `/markets` answer (a JSON array of market objects), learned at `at`.
pub fn parse_gamma_markets(body: &[u8], at: Timestamp) -> Result<GammaMarkets, GammaError> {
    let rows: Vec<HashMap<String, &RawValue>> =
        serde_json::from_slice(body).map_err(|e| GammaError::Parse(e.to_string()))?;
    let mut page = GammaMarkets::default();
    for (i, row) in rows.iter().enumerate() {
        match parse_row(row, i, at) {
            Ok(name) => page.names.push(name),
            Err(e) => page.malformed.push(e),
        }
    }
    Ok(page)
}

fn parse_row(fields: &HashMap<String, &RawValue>, index: usize, at: Timestamp) -> Result<MarketName, GammaRowError> {
    let mut row = Row { fields, name: format!("#{index}") };
    let condition_id = row.string("conditionId")?.unwrap_or_default().to_ascii_lowercase();
    if !is_condition_id(&condition_id) {
        return Err(row.invalid("conditionId", &condition_id, "must be 0x followed by 64 hex digits"));
    }
    row.name = condition_id.clone();
    let question = clean_name(&row.string("question")?.unwrap_or_default());
    let outcomes = row.string_array("outcomes")?;
    let tokens = row.string_array("clobTokenIds")?;
    if outcomes.len() != tokens.len() {
        let value = format!("{} outcomes, {} tokens", outcomes.len(), tokens.len());
        return Err(row.invalid("clobTokenIds", &value, "must name one token per outcome"));
    }
    if outcomes.len() > MAX_OUTCOMES {
        return Err(row.invalid("outcomes", &outcomes.len().to_string(), "must list at most 16 outcomes"));
    }
    if let Some(token) = tokens.iter().find(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit())) {
        return Err(row.invalid("clobTokenIds", token, "must be decimal token ids"));
    }
    if question.is_empty() && outcomes.is_empty() {
        return Err(row.invalid("question", "", "a market without a question or outcomes names nothing"));
    }
    let end_date = row.string("endDate")?.filter(|d| !d.is_empty());
    if let Some(date) = &end_date
        && chrono::DateTime::parse_from_rfc3339(date).is_err()
    {
        return Err(row.invalid("endDate", date, "must be an RFC 3339 time"));
    }
    Ok(MarketName {
        question,
        slug: clean_name(&row.string("slug")?.unwrap_or_default()),
        end_date,
        outcomes: tokens
            .into_iter()
            .zip(outcomes)
            .map(|(token_id, outcome)| OutcomeName { token_id, outcome: clean_name(&outcome) })
            .collect(),
        source: NameSource::Gamma,
        fetched_at: at,
        condition_id,
    })
}

fn is_condition_id(id: &str) -> bool {
    id.strip_prefix("0x").is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The raw fields of one market object, read one by one with errors that name them.
struct Row<'a> {
    fields: &'a HashMap<String, &'a RawValue>,
    name: String,
}

impl Row<'_> {
    fn invalid(&self, field: &'static str, value: &str, rule: &'static str) -> GammaRowError {
        let mut shown: String = value.chars().take(MAX_SHOWN_CHARS).collect();
        if shown.len() < value.len() {
            shown.push('…');
        }
        GammaRowError { row: self.name.clone(), field, value: shown, rule }
    }

    fn raw(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(|raw| raw.get().trim()).filter(|text| *text != "null")
    }

    /// A string field; absent and `null` are `None`.
    fn string(&self, field: &'static str) -> Result<Option<String>, GammaRowError> {
        self.raw(field)
            .map(|text| serde_json::from_str::<String>(text).map_err(|_| self.invalid(field, text, "must be a string")))
            .transpose()
    }

    /// An array of strings, as Gamma sends it (a string holding a JSON array) or as a plain JSON
    /// array; absent, `null` and `""` are empty.
    fn string_array(&self, field: &'static str) -> Result<Vec<String>, GammaRowError> {
        let Some(text) = self.raw(field) else { return Ok(Vec::new()) };
        let inner = if text.starts_with('"') {
            serde_json::from_str::<String>(text).map_err(|_| self.invalid(field, text, "must be a string"))?
        } else {
            text.to_owned()
        };
        if inner.trim().is_empty() {
            return Ok(Vec::new());
        }
        serde_json::from_str::<Vec<String>>(&inner)
            .map_err(|_| self.invalid(field, &inner, "must be a JSON array of strings (encoded as a string)"))
    }
}

/// Reads market names from the configured Gamma host, through the shared HTTP policy (rate
/// limit, retries, answer size bound).
#[derive(Debug, Clone)]
pub struct GammaClient {
    base_url: String,
    http: HttpClient,
}

impl GammaClient {
    pub fn new(config: &PolymarketConfig) -> Result<Self, GammaError> {
        let http = HttpClient::new(&config.http, config.names.requests_per_sec)?;
        Ok(Self { base_url: config.gamma_url.clone(), http })
    }

    /// `GET /markets?condition_ids=…&condition_ids=…` for at most [`GAMMA_BATCH`] markets (the
    /// rest of `condition_ids` is left for the next call), answer bounded to [`MAX_GAMMA_BODY_BYTES`].
    /// Gamma leaves closed markets out unless asked for them: those the first answer does not
    /// name are asked for again with `closed=true`.
    pub async fn markets(&self, condition_ids: &[String], at: Timestamp) -> Result<GammaMarkets, GammaError> {
        let batch = &condition_ids[..condition_ids.len().min(GAMMA_BATCH)];
        if let Some(bad) = batch.iter().find(|id| !is_condition_id(&id.to_ascii_lowercase())) {
            return Err(GammaError::BadConditionId(bad.clone()));
        }
        let mut page = self.ask(batch, None, at).await?;
        let missing: Vec<String> = batch
            .iter()
            .filter(|id| !page.names.iter().any(|n| n.condition_id.eq_ignore_ascii_case(id)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let closed = self.ask(&missing, Some("true"), at).await?;
            page.names.extend(closed.names);
            page.malformed.extend(closed.malformed);
        }
        Ok(page)
    }

    async fn ask(&self, ids: &[String], closed: Option<&str>, at: Timestamp) -> Result<GammaMarkets, GammaError> {
        let mut url = endpoint(&self.base_url, "markets")?;
        {
            let mut query = url.query_pairs_mut();
            for id in ids {
                query.append_pair("condition_ids", id);
            }
            if let Some(closed) = closed {
                query.append_pair("closed", closed);
            }
            query.append_pair("limit", &GAMMA_BATCH.to_string());
        }
        let body = self.http.get_bounded(&url, MAX_GAMMA_BODY_BYTES).await?;
        parse_gamma_markets(&body, at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURE: &str = include_str!("../../tests/fixtures/polymarket/gamma_market.json");

    #[test]
    fn the_captured_market_is_read_with_its_string_encoded_arrays() {
        let body = format!("[{FIXTURE}]");
        let page = parse_gamma_markets(body.as_bytes(), Timestamp(7)).unwrap();
        assert!(page.malformed.is_empty(), "{:?}", page.malformed);
        let [name] = page.names.as_slice() else { panic!("one market: {page:?}") };
        assert_eq!(name.condition_id, "0xba3509c3c29a52bb2f8cf8204755314a38461825e61e77e6350f5abd4b848e05");
        assert_eq!(name.question, "Bitcoin Up or Down - March 22, 3:50AM-3:55AM ET");
        assert_eq!(name.slug, "btc-updown-5m-1774165800");
        assert_eq!(name.end_date.as_deref(), Some("2026-03-22T07:55:00Z"));
        assert_eq!(
            name.outcome_of("94242206871221370391055736153305071391564432448684801902267396130896523340261"),
            Some("Up")
        );
        assert_eq!(
            name.outcome_of("22943400237250229318795315882775337816951160275867284205243766113690886285726"),
            Some("Down")
        );
        assert_eq!((name.source, name.fetched_at), (NameSource::Gamma, Timestamp(7)));
    }

    fn row(fields: &str) -> String {
        format!(r#"{{"conditionId":"0x{}",{fields}}}"#, "ab".repeat(32))
    }

    #[test]
    fn plain_arrays_are_read_too_and_a_missing_end_date_is_none() {
        let body = format!("[{}]", row(r#""question":"Q?","outcomes":["Yes","No"],"clobTokenIds":["1","2"]"#));
        let page = parse_gamma_markets(body.as_bytes(), Timestamp(1)).unwrap();
        assert_eq!(page.names[0].outcomes.len(), 2);
        assert_eq!(page.names[0].end_date, None);
    }

    #[test]
    fn malformed_rows_are_set_aside_with_their_cause_and_the_rest_is_read() {
        let good = row(r#""question":"Q?","outcomes":"[\"Yes\"]","clobTokenIds":"[\"1\"]""#);
        let rows = [
            r#"{"question":"no id"}"#.to_owned(),
            row(r#""question":"Q?","outcomes":"[\"Yes\",\"No\"]","clobTokenIds":"[\"1\"]""#),
            row(r#""question":"Q?","outcomes":"not json","clobTokenIds":"[]""#),
            row(r#""question":"Q?","outcomes":"[\"Yes\"]","clobTokenIds":"[\"0xnotdecimal\"]""#),
            row(r#""question":"Q?","endDate":"next tuesday""#),
            row(r#""question":12"#),
            row(r#""question":"""#),
            good,
        ];
        let body = format!("[{}]", rows.join(","));
        let page = parse_gamma_markets(body.as_bytes(), Timestamp(1)).unwrap();
        assert_eq!(page.names.len(), 1);
        let causes: Vec<&str> = page.malformed.iter().map(GammaRowError::cause).collect();
        assert_eq!(
            causes,
            ["conditionId", "clobTokenIds", "outcomes", "clobTokenIds", "endDate", "question", "question"]
        );
        assert_eq!(page.malformed[0].row, "#0");
        assert!(page.malformed[1].to_string().contains("2 outcomes, 1 tokens"), "{}", page.malformed[1]);
    }

    #[test]
    fn an_answer_that_is_not_an_array_is_refused_as_a_whole() {
        assert!(matches!(parse_gamma_markets(b"{\"error\":\"x\"}", Timestamp(1)), Err(GammaError::Parse(_))));
        assert!(matches!(parse_gamma_markets(b"", Timestamp(1)), Err(GammaError::Parse(_))));
    }

    /// A loopback Gamma that leaves closed markets out unless `closed=true` is asked for.
    async fn serve(closed_market: String) -> String {
        use axum::extract::RawQuery;
        let app = axum::Router::new().route(
            "/markets",
            axum::routing::get(move |RawQuery(query): RawQuery| {
                let closed_market = closed_market.clone();
                async move {
                    let query = query.unwrap_or_default();
                    let row = format!(
                        r#"{{"conditionId":"{closed_market}","question":"Closed?","outcomes":"[\"Yes\"]","clobTokenIds":"[\"7\"]"}}"#
                    );
                    if query.contains("closed=true") { format!("[{row}]") } else { "[]".to_owned() }
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    #[tokio::test]
    async fn a_market_left_out_as_closed_is_asked_for_again_with_closed_true() {
        let market = format!("0x{}", "cd".repeat(32));
        let config = PolymarketConfig { gamma_url: serve(market.clone()).await, ..PolymarketConfig::default() };
        let client = GammaClient::new(&config).unwrap();
        let page = client.markets(std::slice::from_ref(&market), Timestamp(1)).await.unwrap();
        assert_eq!(page.names.iter().map(|n| n.question.as_str()).collect::<Vec<_>>(), ["Closed?"]);
        let bad = client.markets(&["0xnot-hex".to_owned()], Timestamp(1)).await;
        assert!(matches!(bad, Err(GammaError::BadConditionId(_))), "{bad:?}");
    }
}
