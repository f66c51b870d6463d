//! The control API under abuse from a local process or a browser: idle and half-sent connections
//! cannot lock `halt` out, slow heads are cut, an unauthorized huge body is answered at once, a
//! foreign `Host` (DNS rebinding) is refused, `/status` needs the token, and closing an unknown
//! trade answers 404.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::{Workspace, signal, wait_until, wait_with_limit};

const TOKEN: &str = "abuse-token-9f2c";

/// The daemon (paper mode, the sample session) with `extra` environment, under a descriptor limit
/// of `nofile` like the unit's `LimitNOFILE` (scaled down); returns once its API answers.
fn start(ws: &Workspace, nofile: u32, extra: &[(&str, &str)]) -> Child {
    let template = ws.command(&["run"]);
    let mut command = Command::new("prlimit");
    command.arg(format!("--nofile={nofile}:{nofile}")).arg("--").arg(template.get_program()).args(template.get_args());
    command.current_dir(ws.path());
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.envs(extra.iter().copied());
    let stdout = std::fs::File::create(ws.path().join("console.out")).expect("console.out");
    let stderr = std::fs::File::create(ws.path().join("console.err")).expect("console.err");
    let child = command.stdout(Stdio::from(stdout)).stderr(Stdio::from(stderr)).spawn().expect("spawn the daemon");
    let up = wait_until(Duration::from_secs(30), || {
        request(ws.api_port, "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").is_some()
    });
    assert!(up, "the API did not come up; main.log:\n{}", ws.read("logs/main.log"));
    child
}

fn workspace(token: Option<&str>) -> Workspace {
    let ws = Workspace::with_default_config("");
    if let Some(token) = token {
        ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={token}\n"));
    }
    ws
}

fn stop(ws: &Workspace, mut daemon: Child) {
    signal(&daemon, "TERM");
    let (status, _) = wait_with_limit(&mut daemon, Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "logs:\n{}", ws.all_logs());
}

/// Sends `raw` and reads the whole answer (the request says `Connection: close`), waiting at most
/// 5 s; `None` when nothing came back.
fn request(port: u16, raw: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(raw.as_bytes()).ok()?;
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    (!answer.is_empty()).then(|| String::from_utf8_lossy(&answer).into_owned())
}

fn status_line(answer: &str) -> &str {
    answer.lines().next().unwrap_or_default()
}

/// Whether the server closes `stream` (EOF or reset) within `limit`, while `keep_sending` drips
/// a byte every 200 ms.
fn closed_within(stream: &mut TcpStream, limit: Duration, keep_sending: bool) -> Option<Duration> {
    let started = whale_trader::clock::monotonic();
    stream.set_read_timeout(Some(Duration::from_millis(200))).unwrap();
    while started.elapsed() < limit {
        if keep_sending && stream.write_all(b"a").is_err() {
            return Some(started.elapsed());
        }
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => return Some(started.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return Some(started.elapsed()),
        }
    }
    None
}

#[test]
fn three_hundred_idle_and_half_sent_connections_cannot_keep_halt_out() {
    let ws = workspace(Some(TOKEN));
    // 256 descriptors: fewer than the sockets below, as 300 sockets were more than the daemon had.
    let daemon = start(&ws, 256, &[]);
    let mut held = Vec::new();
    for i in 0..300 {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", ws.api_port)) else { continue };
        if i % 2 == 1 {
            // A request that never finishes: half a head, or a head promising a body never sent.
            let half = if i % 4 == 1 {
                "POST /halt HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"
            } else {
                "POST /kill HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer x\r\nContent-Length: 100\r\n\r\n{"
            };
            let _ = stream.write_all(half.as_bytes());
        }
        held.push(stream);
    }
    assert!(held.len() >= 250, "only {} connections opened", held.len());

    let started = whale_trader::clock::monotonic();
    let out =
        ws.command(&["halt", "--reason", "locked-out drill"]).env("WHALE_TRADER__API__TOKEN", TOKEN).output().unwrap();
    let took = started.elapsed();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "halt failed after {took:?}: {stdout} {stderr}");
    assert!(took < Duration::from_secs(5), "halt took {took:?}");
    assert!(stdout.contains("trading state: halted"), "{stdout}");
    drop(held);
    stop(&ws, daemon);
}

#[test]
fn slow_heads_and_idle_connections_are_closed_after_their_timeouts() {
    let ws = workspace(Some(TOKEN));
    let daemon = start(
        &ws,
        1024,
        &[("WHALE_TRADER__API__HEADER_TIMEOUT_SECS", "1"), ("WHALE_TRADER__API__IDLE_TIMEOUT_SECS", "2")],
    );
    // Slowloris: a head started and dripped a byte at a time never completes.
    let mut slow = TcpStream::connect(("127.0.0.1", ws.api_port)).unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nX-Slow: ").unwrap();
    let closed = closed_within(&mut slow, Duration::from_secs(8), true);
    assert!(closed.is_some_and(|t| t < Duration::from_secs(3)), "a slow head was held open: {closed:?}");

    // A connection that says nothing, and a kept-alive one after its answer.
    let mut silent = TcpStream::connect(("127.0.0.1", ws.api_port)).unwrap();
    let closed = closed_within(&mut silent, Duration::from_secs(8), false);
    assert!(closed.is_some_and(|t| t < Duration::from_secs(4)), "a silent connection was held open: {closed:?}");
    let mut kept = TcpStream::connect(("127.0.0.1", ws.api_port)).unwrap();
    kept.write_all(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut first = [0u8; 12];
    kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let mut rest = Vec::new();
    let started = whale_trader::clock::monotonic();
    let _ = kept.read_to_end(&mut rest);
    assert!(started.elapsed() < Duration::from_secs(4), "an idle keep-alive connection was held open");
    stop(&ws, daemon);
}

#[test]
fn a_huge_body_is_answered_at_once_and_never_read_without_the_token() {
    let ws = workspace(Some(TOKEN));
    let daemon = start(&ws, 1024, &[]);
    for (auth, expected) in [
        ("", "401"),
        ("Authorization: Bearer wrong\r\n", "401"),
        (&*format!("Authorization: Bearer {TOKEN}\r\n"), "413"),
    ] {
        let mut stream = TcpStream::connect(("127.0.0.1", ws.api_port)).unwrap();
        let head =
            format!("POST /halt HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Length: 10000000000\r\n\r\n{{\"reason\":");
        stream.write_all(head.as_bytes()).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let started = whale_trader::clock::monotonic();
        let mut answer = [0u8; 12];
        let read = stream.read_exact(&mut answer);
        assert!(read.is_ok(), "no answer within 2 s with {auth:?}: {read:?}");
        assert_eq!(String::from_utf8_lossy(&answer), format!("HTTP/1.1 {expected}"), "{auth:?}");
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // A body sent slowly by an authorized client is cut at the body timeout (default 5 s).
    let mut stream = TcpStream::connect(("127.0.0.1", ws.api_port)).unwrap();
    let head = format!(
        "POST /halt HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n{{"
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut answer = [0u8; 12];
    assert!(stream.read_exact(&mut answer).is_ok());
    assert_eq!(&answer, b"HTTP/1.1 408");
    let refused = wait_until(Duration::from_secs(5), || ws.read("logs/trade_audit.log").contains("control_rejected"));
    let audit = ws.read("logs/trade_audit.log");
    assert!(refused, "the refusals are audited:\n{audit}");
    assert!(!audit.contains("\"control_request\""), "no request reached the engine:\n{audit}");
    stop(&ws, daemon);
}

#[test]
fn foreign_host_names_and_missing_tokens_are_refused_and_unknown_trades_are_not_found() {
    let ws = workspace(Some(TOKEN));
    let daemon = start(&ws, 1024, &[]);
    let get = |host: &str, auth: &str, path: &str| {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n{auth}Connection: close\r\n\r\n");
        request(ws.api_port, &raw).unwrap_or_default()
    };
    let bearer = format!("Authorization: Bearer {TOKEN}\r\n");
    // DNS rebinding: a page on attacker.example, its name now pointing at 127.0.0.1.
    let port = ws.api_port;
    for path in ["/status", "/health", "/metrics"] {
        let answer = get(&format!("attacker.example:{port}"), &bearer, path);
        assert_eq!(status_line(&answer), "HTTP/1.1 421 Misdirected Request", "{path}: {answer}");
    }
    assert_eq!(status_line(&get("127.0.0.1", "", "/status")), "HTTP/1.1 401 Unauthorized");
    assert_eq!(
        status_line(&get("127.0.0.1", "Authorization: Bearer nope\r\n", "/status")),
        "HTTP/1.1 401 Unauthorized"
    );
    let answer = get(&format!("localhost:{port}"), &bearer, "/status");
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK", "{answer}");
    assert!(answer.contains("\"trading_state\""), "{answer}");
    assert_eq!(status_line(&get("[::1]", "", "/metrics")), "HTTP/1.1 200 OK");
    assert_eq!(status_line(&get("127.0.0.1", "", "/metrics")), "HTTP/1.1 200 OK");
    // The audit file is written by a background thread, so the line may land after the answer.
    let refused = wait_until(Duration::from_secs(5), || ws.read("logs/trade_audit.log").contains("host_rejected"));
    assert!(refused, "the refusal is audited:\n{}", ws.read("logs/trade_audit.log"));

    let raw = format!(
        "POST /close/T999999 HTTP/1.1\r\nHost: 127.0.0.1\r\n{bearer}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let answer = request(ws.api_port, &raw).unwrap_or_default();
    assert_eq!(status_line(&answer), "HTTP/1.1 404 Not Found", "{answer}");
    assert!(
        answer.contains("T999999 is not an open trade") && answer.contains("\"outcome\":\"not_found\""),
        "{answer}"
    );
    // The CLI's close and drop of an unknown trade say so and fail.
    let out = ws.command(&["close", "T999999"]).env("WHALE_TRADER__API__TOKEN", TOKEN).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("T999999 is not an open trade"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = ws.command(&["drop", "T999999"]).env("WHALE_TRADER__API__TOKEN", TOKEN).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(404)"), "{}", String::from_utf8_lossy(&out.stderr));
    stop(&ws, daemon);
}

#[test]
fn without_a_configured_token_status_says_how_to_set_one() {
    let ws = workspace(None);
    let daemon = start(&ws, 1024, &[]);
    let answer = request(ws.api_port, "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .unwrap_or_default();
    assert_eq!(status_line(&answer), "HTTP/1.1 401 Unauthorized", "{answer}");
    assert!(answer.contains("WHALE_TRADER__API__TOKEN"), "{answer}");
    let out = ws.output(&["status"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("WHALE_TRADER__API__TOKEN"), "{stderr}");
    stop(&ws, daemon);
}
