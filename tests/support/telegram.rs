//! A loopback stand-in of the Telegram Bot API: `getUpdates` (offset confirmation as Telegram does
//! it: updates below the offset asked for are forgotten) and `sendMessage`, in the real JSON shapes.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use serde_json::{Value, json};

#[derive(Default)]
struct Inner {
    pending: Vec<Value>,
    next_id: i64,
    sent: Vec<(i64, String)>,
    polls: u64,
}

/// The stand-in; it runs on its own thread until the process ends.
#[derive(Clone)]
pub struct BotStandIn {
    pub base_url: String,
    pub token: String,
    inner: Arc<Mutex<Inner>>,
}

impl BotStandIn {
    pub fn start(token: &str) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.set_nonblocking(true).expect("nonblocking");
        let base_url = format!("http://{}", listener.local_addr().expect("addr"));
        let inner = Arc::new(Mutex::new(Inner { next_id: 500_000, ..Inner::default() }));
        let state = (token.to_string(), inner.clone());
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let app = Router::new()
                    .route("/{bot}/getUpdates", get(get_updates))
                    .route("/{bot}/sendMessage", post(send_message))
                    .with_state(state);
                axum::serve(listener, app).await.expect("serve");
            });
        });
        Self { base_url, token: token.to_string(), inner }
    }

    /// A text message from `chat` arrives (sent now: the stand-in is the outside world's clock).
    #[allow(clippy::disallowed_methods)]
    pub fn push(&self, chat: i64, text: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.next_id += 1;
        let id = inner.next_id;
        let date = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        inner.pending.push(json!({
            "update_id": id,
            "message": {
                "message_id": id - 500_000,
                "from": { "id": chat, "is_bot": false, "first_name": "Op" },
                "chat": { "id": chat, "type": "private", "first_name": "Op" },
                "date": date,
                "text": text,
            }
        }));
    }

    /// Every message sent so far, (chat, text).
    pub fn sent(&self) -> Vec<(i64, String)> {
        self.inner.lock().unwrap().sent.clone()
    }

    pub fn sent_to(&self, chat: i64) -> Vec<String> {
        self.sent().into_iter().filter(|(c, _)| *c == chat).map(|(_, t)| t).collect()
    }

    /// Updates not yet confirmed.
    pub fn pending(&self) -> usize {
        self.inner.lock().unwrap().pending.len()
    }

    pub fn polls(&self) -> u64 {
        self.inner.lock().unwrap().polls
    }
}

type St = (String, Arc<Mutex<Inner>>);

fn not_found() -> axum::response::Response {
    use axum::response::IntoResponse;
    (axum::http::StatusCode::NOT_FOUND, axum::Json(json!({"ok": false, "error_code": 404, "description": "Not Found"})))
        .into_response()
}

async fn get_updates(
    State((token, inner)): State<St>,
    Path(bot): Path<String>,
    Query(params): Query<Vec<(String, String)>>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if bot != format!("bot{token}") {
        return not_found();
    }
    let param = |name: &str| params.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.parse::<i64>().ok());
    let (offset, timeout, limit) = (param("offset"), param("timeout").unwrap_or(0), param("limit").unwrap_or(100));
    for _ in 0..(timeout.min(2) * 10) {
        let waiting = {
            let mut inner = inner.lock().unwrap();
            if let Some(offset) = offset {
                inner.pending.retain(|u| u["update_id"].as_i64().unwrap() >= offset);
            }
            inner.pending.is_empty()
        };
        if !waiting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut inner = inner.lock().unwrap();
    inner.polls += 1;
    if let Some(offset) = offset {
        inner.pending.retain(|u| u["update_id"].as_i64().unwrap() >= offset);
    }
    let result: Vec<Value> = inner.pending.iter().take(limit as usize).cloned().collect();
    axum::Json(json!({ "ok": true, "result": result })).into_response()
}

async fn send_message(
    State((token, inner)): State<St>,
    Path(bot): Path<String>,
    body: axum::Json<Value>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    if bot != format!("bot{token}") {
        return not_found();
    }
    // Telegram takes the chat id as a number or a string.
    let chat =
        body["chat_id"].as_i64().or_else(|| body["chat_id"].as_str().and_then(|c| c.parse().ok())).unwrap_or_default();
    let text = body["text"].as_str().unwrap_or_default().to_string();
    assert!(text.encode_utf16().count() <= 4096, "a message over Telegram's limit was sent");
    if body["parse_mode"] == "MarkdownV2"
        && let Some(problem) = markdown_v2_error(&text)
    {
        let description = format!("Bad Request: can't parse entities: {problem}");
        return (
            axum::http::StatusCode::BAD_REQUEST,
            axum::Json(json!({"ok": false, "error_code": 400, "description": description})),
        )
            .into_response();
    }
    let mut inner = inner.lock().unwrap();
    inner.sent.push((chat, text.clone()));
    let id = inner.sent.len();
    axum::Json(json!({
        "ok": true,
        "result": { "message_id": id, "chat": { "id": chat, "type": "private" }, "date": 0, "text": text }
    }))
    .into_response()
}

/// What Telegram would refuse in a MarkdownV2 text, as its error says it (`None`: accepted).
/// The rules: every one of `_*[]()~`>#+-=|{}.!` outside an entity's markup is escaped with `\\`;
/// `*bold*`, `_italic_` and `~strike~` are closed in order; a link is `[text](url)` with `)` and
/// `\\` escaped in the URL; `>` opens a quote only at a line's start.
pub fn markdown_v2_error(text: &str) -> Option<String> {
    let mut open: Vec<char> = Vec::new();
    let mut in_link_text = false;
    let mut line_start = true;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            // The guard takes the escaped character too, whatever it is.
            '\\' if chars.next().is_none() => return Some("a lone backslash ends the text".into()),
            '\\' => {}
            '*' | '_' | '~' => {
                if open.last() == Some(&c) {
                    open.pop();
                } else if open.contains(&c) {
                    return Some(format!("entity '{c}' closed out of order"));
                } else {
                    open.push(c);
                }
            }
            '[' if !in_link_text => in_link_text = true,
            ']' if in_link_text => {
                in_link_text = false;
                if chars.next() != Some('(') {
                    return Some("a link's text is not followed by its URL".into());
                }
                loop {
                    match chars.next() {
                        None => return Some("a link's URL is not closed".into()),
                        Some('\\') => {
                            chars.next();
                        }
                        Some(')') => break,
                        Some(_) => {}
                    }
                }
            }
            '>' if line_start => {}
            '[' | ']' | '(' | ')' | '`' | '>' | '#' | '+' | '-' | '=' | '|' | '{' | '}' | '.' | '!' => {
                return Some(format!("Character '{c}' is reserved and must be escaped with the preceding '\\'"));
            }
            _ => {}
        }
        line_start = c == '\n';
    }
    if let Some(c) = open.last() {
        return Some(format!("Can't find end of the entity starting with '{c}'"));
    }
    in_link_text.then(|| "a link's text is not closed".into())
}
