//! Fuzzing the control API: request lines, headers and bodies, as arbitrary bytes over a socket
//! to the real server on 127.0.0.1 and as structured requests to its router. Every request gets
//! a bounded answer without a panic, and no request without the right token and an allowed
//! `Host` ever reaches the control channel.

mod support;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use proptest::prelude::*;
use tokio::sync::mpsc;
use tower::ServiceExt;
use whale_trader::api::{self, ApiLimits, ApiState, ControlOutcome, ControlReply, ControlRequest};
use whale_trader::config::{ApiConfig, Secret};

const TOKEN: &str = "fuzz-token-3a9e41";
/// Longest answer any request may draw (the status and metrics bodies here are small).
const MAX_ANSWER: usize = 4096;

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap())
}

fn state(control: mpsc::Sender<(ControlRequest, tokio::sync::oneshot::Sender<ControlReply>)>) -> ApiState {
    let config = ApiConfig { token: Secret::new(TOKEN), max_body_bytes: 512, ..ApiConfig::default() };
    ApiState {
        token: config.token.clone(),
        status: Arc::new(|| serde_json::json!({ "trading_state": "active" })),
        health: Arc::new(|| (true, serde_json::json!({ "overall_status": "healthy" }))),
        metrics: Arc::new(|| "wt_up 1\n".to_string()),
        history: no_trades(),
        control,
        silences: None,
        limits: Arc::new(ApiLimits::from_config(&config)),
        signals: None,
    }
}

/// The real server on a loopback port, once per run, counting what reaches its control channel.
fn server() -> &'static (u16, Arc<AtomicUsize>) {
    static SERVER: OnceLock<(u16, Arc<AtomicUsize>)> = OnceLock::new();
    SERVER.get_or_init(|| {
        let reached = Arc::new(AtomicUsize::new(0));
        let counter = reached.clone();
        let port = runtime().block_on(async move {
            let config = ApiConfig { port: 0, ..ApiConfig::default() };
            let listener = api::bind(&config).await.unwrap();
            let port = listener.local_addr().unwrap().port();
            let (control, mut requests) =
                mpsc::channel::<(ControlRequest, tokio::sync::oneshot::Sender<ControlReply>)>(16);
            tokio::spawn(async move {
                while let Some((_, reply)) = requests.recv().await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = reply.send(done());
                }
            });
            tokio::spawn(api::serve(listener, state(control), tokio_util::sync::CancellationToken::new()));
            port
        });
        (port, reached)
    })
}

fn done() -> ControlReply {
    ControlReply { outcome: ControlOutcome::Done, message: "done".into(), trading_state: "halted".into(), plan: None }
}

const PATHS: &[&str] = &[
    "/health",
    "/metrics",
    "/status",
    "/halt",
    "/resume",
    "/kill",
    "/close/T000001",
    "/adopt/123",
    "/drop/T1",
    "/close/",
    "/close/%00",
    "/close/..%2fhalt",
    "//halt",
    "/halt?x=1",
    "/HALT",
    "*",
    "http://attacker.example/halt",
    "http://127.0.0.1/halt",
    "/nope",
];
const HOSTS: &[&str] = &[
    "127.0.0.1",
    "localhost:8787",
    "[::1]",
    "attacker.example",
    "localhost.attacker.example",
    "",
    "127.0.0.1:",
    "[::1",
];
const METHODS: &[&str] = &["GET", "POST", "PUT", "HEAD", "OPTIONS", "DELETE", "CONNECT", "get", "POST /"];

fn header_line() -> impl Strategy<Value = String> {
    let wrong = prop_oneof![
        Just("Authorization: Bearer \r\n".to_string()),
        Just("Authorization: Bearer fuzz-token-3a9e4\r\n".to_string()),
        Just("Authorization: bearer fuzz-token-3a9e41x\r\n".to_string()),
        Just("Authorization: Basic Zm9vOmJhcg==\r\n".to_string()),
    ];
    prop_oneof![
        wrong,
        proptest::sample::select(HOSTS).prop_map(|h| format!("Host: {h}\r\n")),
        "[0-9]{0,25}".prop_map(|n| format!("Content-Length: {n}\r\n")),
        Just("Transfer-Encoding: chunked\r\n".to_string()),
        Just("Expect: 100-continue\r\n".to_string()),
        Just("Connection: keep-alive\r\n".to_string()),
        "[!-~]{0,20}: [ -~]{0,60}\r\n",
        "[ -~]{0,80}(\r\n|\n|\r)",
    ]
}

/// Requests that are almost right (a line, headers, a body) or bytes of no shape at all; never
/// carrying the right token.
fn raw_request() -> impl Strategy<Value = Vec<u8>> {
    let shaped = (
        proptest::sample::select(METHODS),
        proptest::sample::select(PATHS),
        prop_oneof![Just("HTTP/1.1"), Just("HTTP/1.0"), Just("HTTP/2.0"), Just("HTTP/1.1 x"), Just("")],
        proptest::collection::vec(header_line(), 0..8),
        prop_oneof![Just("\r\n"), Just("\n"), Just("")],
        support::fuzz::bytes(600),
    )
        .prop_map(|(method, path, version, headers, end, body)| {
            let mut raw = format!("{method} {path} {version}\r\n{}{end}", headers.concat()).into_bytes();
            raw.extend_from_slice(&body);
            raw
        });
    prop_oneof![support::fuzz::bytes(512), shaped]
}

/// Sends `raw`, ends the sending side, and reads the answer (bounded in size and time).
fn exchange(port: u16, raw: &[u8]) -> Vec<u8> {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = stream.write_all(raw);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = Vec::new();
    let _ = Read::by_ref(&mut stream).take(MAX_ANSWER as u64 * 4).read_to_end(&mut answer);
    answer
}

#[derive(Debug, Clone)]
struct Structured {
    method: &'static str,
    path: &'static str,
    host: Option<&'static str>,
    auth: Option<String>,
    content_length: Option<String>,
    body: Vec<u8>,
}

fn structured() -> impl Strategy<Value = Structured> {
    let auth = prop_oneof![
        Just(format!("Bearer {TOKEN}")),
        Just(format!("Bearer {TOKEN} ")),
        Just(format!("Bearer {TOKEN}x")),
        Just("Bearer".to_string()),
        "[ -~]{0,40}",
    ];
    let body = prop_oneof![
        support::fuzz::bytes(700),
        support::fuzz::json_value(&["reason", "action", "position", "token"]).prop_map(|v| v.to_string().into_bytes()),
    ];
    (
        proptest::sample::select(&["GET", "POST", "PUT", "HEAD"][..]),
        proptest::sample::select(PATHS.iter().copied().filter(|p| p.starts_with('/')).collect::<Vec<_>>()),
        proptest::option::of(proptest::sample::select(HOSTS)),
        proptest::option::of(auth),
        proptest::option::of("[0-9]{0,22}"),
        body,
    )
        .prop_map(|(method, path, host, auth, content_length, body)| Structured {
            method,
            path,
            host,
            auth,
            content_length,
            body,
        })
}

proptest! {
    #![proptest_config(support::fuzz::config())]

    #[test]
    fn raw_bytes_get_bounded_answers_and_never_reach_the_engine(raw in raw_request()) {
        let (port, reached) = server();
        let answer = exchange(*port, &raw);
        prop_assert!(answer.len() <= MAX_ANSWER, "answer of {} bytes", answer.len());
        if !answer.is_empty() {
            prop_assert!(answer.starts_with(b"HTTP/1."), "{:?}", String::from_utf8_lossy(&answer));
        }
        prop_assert_eq!(reached.load(Ordering::SeqCst), 0, "a request without the token reached the engine");
    }

    #[test]
    fn structured_requests_reach_the_engine_only_with_the_token_and_an_allowed_host(request in structured()) {
        let mut builder = axum::http::Request::builder().method(request.method).uri(request.path);
        if let Some(host) = request.host {
            builder = builder.header("host", host);
        }
        if let Some(value) = request.auth.as_deref().and_then(|a| axum::http::HeaderValue::from_str(a).ok()) {
            builder = builder.header("authorization", value);
        }
        if let Some(length) = &request.content_length {
            builder = builder.header("content-length", length.as_str());
        }
        let Ok(http_request) = builder.body(axum::body::Body::from(request.body.clone())) else {
            return Ok(());
        };
        let (control, mut requests) = mpsc::channel(4);
        let router = api::router(state(control));
        let (status, body, reached) = runtime().block_on(async move {
            let serve = async move {
                let response = router.oneshot(http_request).await.unwrap();
                let status = response.status().as_u16();
                let body = axum::body::to_bytes(response.into_body(), MAX_ANSWER * 4).await.map(|b| b.len()).ok();
                (status, body)
            };
            let engine = async move {
                let mut reached = 0;
                while let Some((_, reply)) = requests.recv().await {
                    reached += 1;
                    let _ = reply.send(done());
                }
                reached
            };
            let ((status, body), reached) = tokio::join!(serve, engine);
            (status, body, reached)
        });
        prop_assert!(body.is_some_and(|n| n <= MAX_ANSWER), "{:?}", body);
        let host_ok = request.host.is_some_and(|h| ["127.0.0.1", "localhost:8787", "[::1]"].contains(&h));
        let token_ok = request.auth.as_deref().is_some_and(|a| a.trim_end() == format!("Bearer {TOKEN}"));
        if reached > 0 {
            prop_assert!(host_ok && token_ok, "{:?} reached the engine", request);
            prop_assert_eq!(request.method, "POST");
        }
        if !host_ok {
            prop_assert_eq!(status, 421, "{:?}", request);
        } else if !token_ok && request.path != "/health" && request.path != "/metrics" {
            prop_assert_eq!(status, 401, "{:?}", request);
        }
    }
}

/// The history routes answer over no trades (the daemon tests read a real store).
fn no_trades() -> whale_trader::api::HistorySource {
    Arc::new(|query: &whale_trader::history::HistoryQuery| {
        let names = whale_trader::history::Names::default();
        let cx = whale_trader::history::Context {
            marks: None,
            names: &names,
            now: whale_trader::clock::Timestamp::from_secs(1_800_000_000),
            day_start_utc_minutes: 0,
            source: "daemon",
        };
        Ok(whale_trader::history::answer(query, &[], &cx))
    })
}
