//! The alert outbox on the real daemon: a critical alert that no remote channel could deliver
//! stays undelivered in the store, and the next start sends it again and marks it delivered.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};
use support::{Workspace, signal, wait_until, wait_with_limit};

const TOKEN: &str = "outbox-test-token";

/// A loopback HTTP server that answers 500 or 200 (`up`) and keeps every request body.
struct Webhook {
    port: u16,
    up: Arc<AtomicBool>,
    bodies: Arc<Mutex<Vec<String>>>,
}

impl Webhook {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let up = Arc::new(AtomicBool::new(false));
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let (up_in, bodies_in) = (up.clone(), bodies.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut reader = BufReader::new(stream);
                let mut length = 0usize;
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                        break;
                    }
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; length];
                let _ = reader.read_exact(&mut body);
                bodies_in.lock().expect("bodies").push(String::from_utf8_lossy(&body).into_owned());
                let status = if up_in.load(Ordering::SeqCst) { "200 OK" } else { "500 Internal Server Error" };
                let _ = reader.get_mut().write_all(
                    format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n").as_bytes(),
                );
            }
        });
        Self { port, up, bodies }
    }

    fn received(&self, needle: &str) -> usize {
        self.bodies.lock().expect("bodies").iter().filter(|b| b.contains(needle)).count()
    }
}

fn undelivered_titles(ws: &Workspace) -> Vec<String> {
    let conn = Connection::open_with_flags(
        ws.path().join("data/whale-trader.paper.replay.db"),
        OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("store");
    let mut statement =
        conn.prepare("SELECT title FROM alert_outbox WHERE delivered_at IS NULL ORDER BY created_at").expect("query");
    statement.query_map([], |row| row.get(0)).expect("rows").collect::<Result<_, _>>().expect("titles")
}

#[test]
fn a_critical_alert_no_channel_delivered_is_sent_again_after_a_restart() {
    let webhook = Webhook::start();
    let ws = Workspace::with_default_config("");
    ws.write(".env", &format!("WHALE_TRADER__API__TOKEN={TOKEN}\n"));
    let url = format!("http://127.0.0.1:{}/alerts", webhook.port);
    let env = [
        ("WHALE_TRADER__ALERTS__WEBHOOK__ENABLED", "true"),
        ("WHALE_TRADER__ALERTS__WEBHOOK__URL", url.as_str()),
        ("WHALE_TRADER__ALERTS__WEBHOOK__MIN_PRIORITY", "critical"),
        ("WHALE_TRADER__ALERTS__DELIVERY__MAX_RETRIES", "1"),
        ("WHALE_TRADER__ALERTS__DELIVERY__INITIAL_BACKOFF_MS", "10"),
    ];

    // The provider is down: the kill switch's critical alert is dead-lettered, not delivered.
    let mut daemon = ws.spawn_daemon(&env);
    assert!(wait_until(Duration::from_secs(60), || ws.read("logs/main.log").contains("replay finished")));
    let kill = ws.command(&["kill", "--reason", "outbox drill"]).output().expect("kill");
    assert_eq!(kill.status.code(), Some(0), "{}", String::from_utf8_lossy(&kill.stderr));
    assert!(
        wait_until(Duration::from_secs(30), || ws.read("logs/alerts-dead-letter.jsonl").contains("Trading Killed")),
        "the kill alert should fail for good against a provider answering 500"
    );
    signal(&daemon, "TERM");
    assert_eq!(wait_with_limit(&mut daemon, Duration::from_secs(20)).0.and_then(|s| s.code()), Some(0));
    assert!(webhook.received("Trading Killed") >= 1, "the webhook was tried");
    let pending = undelivered_titles(&ws);
    assert!(pending.iter().any(|t| t == "Trading Killed"), "{pending:?}");

    // The provider is back: the next start sends the alert again and marks it delivered.
    webhook.up.store(true, Ordering::SeqCst);
    let mut daemon = ws.spawn_daemon(&env);
    let resent = wait_until(Duration::from_secs(60), || {
        webhook.bodies.lock().expect("bodies").iter().any(|b| b.contains("Trading Killed") && b.contains("Re-sent"))
    });
    let delivered = wait_until(Duration::from_secs(30), || undelivered_titles(&ws).is_empty());
    signal(&daemon, "TERM");
    assert_eq!(wait_with_limit(&mut daemon, Duration::from_secs(20)).0.and_then(|s| s.code()), Some(0));
    assert!(resent, "the undelivered alert was not sent again; main.log:\n{}", ws.read("logs/main.log"));
    assert!(delivered, "still undelivered: {:?}", undelivered_titles(&ws));
}
