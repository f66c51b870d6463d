//! The control API as an HTTP server on 127.0.0.1: auth, routing, status codes, loopback rule.
//! (The daemon-level halt / resume / kill round trip is in `daemon_control.rs`.)

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use whale_trader::api::{self, ApiLimits, ApiState, ControlOutcome, ControlReply, ControlRequest};
use whale_trader::config::{ApiConfig, Secret};

const TOKEN: &str = "test-token-123";

struct Running {
    base: String,
    requests: mpsc::Receiver<ControlRequest>,
    stop: CancellationToken,
}

/// Serves the API on a free loopback port; control requests are answered by a tiny responder
/// that records what it received.
async fn start(serving: bool) -> Running {
    let config = ApiConfig { port: 0, token: Secret::new(TOKEN), ..ApiConfig::default() };
    let listener = api::bind(&config).await.expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (control_tx, mut control_rx) = mpsc::channel::<(ControlRequest, tokio::sync::oneshot::Sender<ControlReply>)>(8);
    let (seen_tx, seen_rx) = mpsc::channel(8);
    tokio::spawn(async move {
        while let Some((request, reply)) = control_rx.recv().await {
            let state = if matches!(request, ControlRequest::Resume) { "active" } else { "halted" };
            // The engine knows one trade, T000001; anything else is not found.
            let outcome = match &request {
                ControlRequest::Close { position } if position != "T000001" => ControlOutcome::NotFound,
                _ => ControlOutcome::Done,
            };
            let _ = seen_tx.send(request).await;
            let _ =
                reply.send(ControlReply { outcome, message: "done".into(), trading_state: state.into(), plan: None });
        }
    });
    let state = ApiState {
        token: config.token.clone(),
        status: Arc::new(|| serde_json::json!({ "trading_state": "active" })),
        health: Arc::new(move || {
            (serving, serde_json::json!({ "overall_status": if serving { "healthy" } else { "critical" } }))
        }),
        metrics: Arc::new(|| "# HELP wt_up Up.\n# TYPE wt_up gauge\nwt_up 1\n".to_string()),
        history: no_trades(),
        control: control_tx,
        silences: None,
        limits: Arc::new(ApiLimits::from_config(&config)),
        signals: None,
    };
    let stop = CancellationToken::new();
    tokio::spawn(api::serve(listener, state, stop.clone()));
    Running { base, requests: seen_rx, stop }
}

#[tokio::test]
async fn control_needs_the_bearer_token_and_changes_nothing_without_it() {
    let mut server = start(true).await;
    let http = reqwest::Client::new();
    for auth in [None, Some("Bearer wrong"), Some(TOKEN)] {
        let mut request = http.post(format!("{}/halt", server.base));
        if let Some(value) = auth {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "auth {auth:?}");
    }
    // Nothing reached the engine.
    assert!(tokio::time::timeout(Duration::from_millis(200), server.requests.recv()).await.is_err());

    let response = http
        .post(format!("{}/halt", server.base))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({ "reason": "maintenance" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let reply: serde_json::Value = response.json().await.unwrap();
    assert_eq!(reply["trading_state"], "halted");
    assert_eq!(server.requests.recv().await, Some(ControlRequest::Halt { reason: "maintenance".into() }));

    let response = http.post(format!("{}/close/T000001", server.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests.recv().await, Some(ControlRequest::Close { position: "T000001".into() }));
    let response = http.post(format!("{}/close/T999999", server.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 404, "an unknown trade is not found");
    let reply: serde_json::Value = response.json().await.unwrap();
    assert_eq!((reply["ok"].as_bool(), reply["outcome"].as_str()), (Some(false), Some("not_found")), "{reply}");
    server.stop.cancel();
}

#[tokio::test]
async fn adopt_and_drop_need_the_token_and_a_plain_bounded_id() {
    let mut server = start(true).await;
    let http = reqwest::Client::new();
    let token = "71321045679252212594626385532706912750332728571942532289631379312455583992563";
    let response = http.post(format!("{}/adopt/{token}", server.base)).send().await.unwrap();
    assert_eq!(response.status(), 401, "no token, even before the id is looked at");
    let response = http.post(format!("{}/adopt/x%20y", server.base)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let long = "9".repeat(101);
    for bad in ["x%20y", long.as_str()] {
        let response = http.post(format!("{}/drop/{bad}", server.base)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let reply: serde_json::Value = response.json().await.unwrap();
        assert!(reply["message"].as_str().is_some_and(|m| m.contains("trade")), "{reply}");
    }
    assert!(tokio::time::timeout(Duration::from_millis(200), server.requests.recv()).await.is_err());

    let response = http.post(format!("{}/adopt/{token}", server.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests.recv().await, Some(ControlRequest::Adopt { token: token.into() }));
    let response = http.post(format!("{}/drop/T000042", server.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(server.requests.recv().await, Some(ControlRequest::Drop { trade: "T000042".into() }));
    server.stop.cancel();
}

#[tokio::test]
async fn health_maps_status_to_http_codes_and_metrics_is_prometheus_text() {
    for (serving, code) in [(true, 200), (false, 503)] {
        let server = start(serving).await;
        let response = reqwest::get(format!("{}/health", server.base)).await.unwrap();
        assert_eq!(response.status(), code);
        let metrics = reqwest::get(format!("{}/metrics", server.base)).await.unwrap();
        assert!(metrics.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        assert!(metrics.text().await.unwrap().contains("wt_up 1"));
        server.stop.cancel();
    }
}

#[tokio::test]
async fn binding_to_a_non_loopback_address_needs_explicit_permission() {
    let config = ApiConfig { bind: "0.0.0.0".into(), port: 0, ..ApiConfig::default() };
    let error = api::bind(&config).await.expect_err("must refuse");
    assert!(error.to_string().contains("non-loopback"), "{error}");
    let allowed = ApiConfig { allow_non_loopback: true, ..config };
    assert!(api::bind(&allowed).await.is_ok());
}

#[tokio::test]
async fn history_routes_need_the_token_and_refuse_bad_parameters() {
    let server = start(true).await;
    let http = reqwest::Client::new();
    for path in ["/trades", "/profit", "/daily"] {
        let response = http.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(response.status(), 401, "{path}");
        let response = http.get(format!("{}{path}", server.base)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    let body: serde_json::Value = http
        .get(format!("{}/daily?days=3", server.base))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["days"].as_array().map(Vec::len), Some(3));
    for (path, names) in [
        ("/trades?limit=0", "limit"),
        ("/trades?limit=1001", "limit"),
        ("/trades?since=yesterday", "since"),
        ("/trades?colour=red", "colour"),
        ("/daily?days=367", "days"),
        ("/profit?days=3", "days"),
    ] {
        let response = http.get(format!("{}{path}", server.base)).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(response.status(), 400, "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(body["message"].as_str().unwrap().contains(names), "{path}: {body}");
    }
    server.stop.cancel();
}

#[tokio::test]
async fn status_needs_the_token_and_only_loopback_host_names_are_answered() {
    let server = start(true).await;
    let http = reqwest::Client::new();
    let response = http.get(format!("{}/status", server.base)).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response = http.get(format!("{}/status", server.base)).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    // A page on attacker.example rebound to 127.0.0.1: the browser sends its own host name.
    for path in ["/status", "/health", "/metrics"] {
        let response = http
            .get(format!("{}{path}", server.base))
            .bearer_auth(TOKEN)
            .header("host", "attacker.example:8787")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 421, "{path}");
    }
    for host in ["localhost", "LocalHost:8787", "127.0.0.1", "[::1]:1"] {
        let response = http.get(format!("{}/health", server.base)).header("host", host).send().await.unwrap();
        assert_eq!(response.status(), 200, "{host}");
    }
    server.stop.cancel();
}

#[tokio::test]
async fn metrics_can_require_the_token() {
    let config = ApiConfig { metrics_require_token: true, token: Secret::new(TOKEN), ..ApiConfig::default() };
    let (control, _requests) = mpsc::channel(1);
    let state = ApiState {
        token: config.token.clone(),
        status: Arc::new(|| serde_json::json!({})),
        health: Arc::new(|| (true, serde_json::json!({}))),
        metrics: Arc::new(|| "wt_up 1\n".to_string()),
        history: no_trades(),
        control,
        silences: None,
        limits: Arc::new(ApiLimits::from_config(&config)),
        signals: None,
    };
    use tower::ServiceExt;
    let request = |auth: Option<&str>| {
        let mut builder = axum::http::Request::get("/metrics").header("host", "localhost");
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        builder.body(axum::body::Body::empty()).unwrap()
    };
    let response = api::router(state.clone()).oneshot(request(None)).await.unwrap();
    assert_eq!(response.status(), 401);
    let response = api::router(state).oneshot(request(Some(&format!("Bearer {TOKEN}")))).await.unwrap();
    assert_eq!(response.status(), 200);
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

/// `/silences` through the one silence entry point, on a real store: the token, clear 400s for a
/// bad body, matcher or duration, then add, list, expire and a second expire that is not found.
#[tokio::test]
async fn silences_are_added_listed_and_expired_with_the_token_and_bad_input_is_named() {
    use whale_trader::runtime::SilenceControl;
    use whale_trader::store::{SqliteStore, StoreConfig, spawn_writer};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silences.db");
    let store = SqliteStore::open(&path, "paper", "replay", Duration::from_secs(5)).unwrap();
    let writer_stop = CancellationToken::new();
    let (handle, writer) = spawn_writer(store, (&StoreConfig::default()).into(), writer_stop.clone()).unwrap();
    let book = Arc::new(std::sync::Mutex::new(whale_trader::alerts::SilenceBook::default()));
    let config = ApiConfig { port: 0, token: Secret::new(TOKEN), ..ApiConfig::default() };
    let listener = api::bind(&config).await.expect("bind");
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (control, _requests) = mpsc::channel(1);
    let state = ApiState {
        token: config.token.clone(),
        status: Arc::new(|| serde_json::json!({})),
        health: Arc::new(|| (true, serde_json::json!({}))),
        metrics: Arc::new(String::new),
        history: no_trades(),
        control,
        silences: Some(SilenceControl::new(book.clone(), handle)),
        limits: Arc::new(ApiLimits::from_config(&config)),
        signals: None,
    };
    let stop = CancellationToken::new();
    tokio::spawn(api::serve(listener, state, stop.clone()));
    let http = reqwest::Client::new();
    let post = |path: &str, body: serde_json::Value, token: bool| {
        let mut request = http.post(format!("{base}{path}")).json(&body);
        if token {
            request = request.bearer_auth(TOKEN);
        }
        request.send()
    };
    let good = serde_json::json!({ "matchers": ["whale=alpha"], "duration": "2h", "reason": "drill" });
    assert_eq!(post("/silences", good.clone(), false).await.unwrap().status(), 401);
    assert_eq!(http.get(format!("{base}/silences")).send().await.unwrap().status(), 401);
    for (body, named) in [
        (serde_json::json!({ "matchers": "whale=alpha" }), "matchers"),
        (serde_json::json!({ "matchers": ["wale=alpha"], "duration": "2h" }), "\"wale\""),
        (serde_json::json!({ "matchers": ["whale=alpha"], "duration": "45d" }), "\"45d\""),
        (serde_json::json!({ "matchers": [], "duration": "2h" }), "at least one"),
    ] {
        let response = post("/silences", body.clone(), true).await.unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let reply: serde_json::Value = response.json().await.unwrap();
        assert!(reply["message"].as_str().is_some_and(|m| m.contains(named)), "{body}: {reply}");
    }
    assert!(book.lock().unwrap().active(whale_trader::clock::Timestamp(0)).is_empty(), "nothing bad was added");

    let response = post("/silences", good, true).await.unwrap();
    assert_eq!(response.status(), 200);
    let reply: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        (reply["silence"]["id"].as_str(), reply["silence"]["created_by"].as_str()),
        (Some("S0001"), Some("api"))
    );
    let listed: serde_json::Value =
        http.get(format!("{base}/silences")).bearer_auth(TOKEN).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["silences"][0]["matchers"][0]["value"], "alpha", "{listed}");
    let response = post("/silences/S0001/expire", serde_json::json!({}), true).await.unwrap();
    assert_eq!(response.status(), 200);
    let response = post("/silences/S0001/expire", serde_json::json!({}), true).await.unwrap();
    assert_eq!(response.status(), 404);
    stop.cancel();
    writer_stop.cancel();
    writer.join().await.unwrap();
    let stored = SqliteStore::open_read_only(&path, Duration::from_secs(5)).unwrap().silences().unwrap();
    assert_eq!((stored.len(), stored[0].expired_by.as_deref()), (1, Some("api")), "{stored:?}");
}
