//! A loopback stand-in for a chat service's incoming webhook (Slack's shape): it answers every
//! POST with `200 ok` and keeps the JSON bodies, in arrival order, for the test to read.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

/// Bodies larger than this are refused (413) rather than read: a stand-in, not a sink.
const MAX_BODY: usize = 1024 * 1024;

pub struct ChatHook {
    pub port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl ChatHook {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the chat stand-in");
        let port = listener.local_addr().expect("addr").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                std::thread::spawn(move || serve(stream, &kept));
            }
        });
        Self { port, bodies }
    }

    /// The webhook URL to configure (`WHALE_TRADER__ALERTS__SLACK__WEBHOOK_URL`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    /// Every body received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().map(|b| b.clone()).unwrap_or_default()
    }

    /// Slack attachments received so far (one per message).
    pub fn attachments(&self) -> Vec<Value> {
        self.bodies().iter().filter_map(|b| b["attachments"].get(0).cloned()).collect()
    }
}

/// The value of field `title` of a Slack attachment.
pub fn field(attachment: &Value, title: &str) -> Option<String> {
    attachment["fields"]
        .as_array()?
        .iter()
        .find(|f| f["title"] == title)
        .and_then(|f| f["value"].as_str().map(str::to_owned))
}

fn serve(stream: TcpStream, bodies: &Mutex<Vec<Value>>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(stream);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        let stream = reader.get_mut();
        if length > MAX_BODY {
            let _ =
                stream.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let Ok(value) = serde_json::from_slice::<Value>(&body)
            && let Ok(mut kept) = bodies.lock()
        {
            kept.push(value);
        }
        if reader
            .get_mut()
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}
