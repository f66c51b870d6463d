//! Helpers shared by the process-level tests: a throw-away workspace holding a config, and the
//! real `whale-trader` binary run inside it.
#![allow(dead_code)]

pub mod browser;
pub mod chat;
pub mod fuzz;
pub mod history_venue;
pub mod risk;
pub mod stand_in;
pub mod telegram;
pub mod venue;
pub mod venues;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// A temporary directory laid out like an install: `config/default.toml`, `logs/`, `data/`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    /// A free loopback port for this workspace's control API.
    pub api_port: u16,
}

impl Workspace {
    /// A workspace whose config is the repository's default with `extra` TOML appended.
    pub fn with_default_config(extra: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
        let default = std::fs::read_to_string(repo_path("config/default.toml")).expect("default config");
        std::fs::write(dir.path().join("config/default.toml"), format!("{default}\n{extra}")).expect("write config");
        Self { dir, api_port: free_port() }
    }

    /// A workspace whose config is exactly `text`.
    pub fn with_config(text: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("config")).expect("config dir");
        std::fs::write(dir.path().join("config/default.toml"), text).expect("write config");
        Self { dir, api_port: free_port() }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("parent dir");
        }
        std::fs::write(path, text).expect("write file");
    }

    pub fn read(&self, relative: &str) -> String {
        std::fs::read_to_string(self.path().join(relative)).unwrap_or_default()
    }

    /// The binary, with the workspace as working directory, a clean `WHALE_TRADER__*` env, this
    /// workspace's API port and the repository's sample session replayed at full speed.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_whale-trader"));
        command.current_dir(self.path()).args(args);
        for (key, _) in std::env::vars() {
            if key.starts_with("WHALE_TRADER") || key == "NOTIFY_SOCKET" {
                command.env_remove(key);
            }
        }
        command.env("WHALE_TRADER__API__PORT", self.api_port.to_string());
        command.env("WHALE_TRADER__FEED__REPLAY_PATH", repo_path("data/sample_session.jsonl"));
        // The demo's watchable pace is for people; a test replays as fast as the engine takes it.
        command.env("WHALE_TRADER__FEED__REPLAY_SPEED", "0");
        command
    }

    pub fn output(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("run whale-trader")
    }

    /// Starts the daemon in the background (`run`); its console output goes to `console.out` and
    /// `console.err` in the workspace (files, so a chatty daemon never blocks on a full pipe).
    pub fn spawn_daemon(&self, envs: &[(&str, &str)]) -> Child {
        let stdout = std::fs::File::create(self.path().join("console.out")).expect("console.out");
        let stderr = std::fs::File::create(self.path().join("console.err")).expect("console.err");
        let mut command = self.command(&["run"]);
        command.envs(envs.iter().copied()).stdout(Stdio::from(stdout)).stderr(Stdio::from(stderr));
        command.spawn().expect("spawn daemon")
    }

    /// A daemon caught in a stop that hangs: its `.env` (with `env_lines` added) sends every alert
    /// to a webhook that accepts connections and never answers, with delivery and drain timeouts
    /// far past any test; once the sample session is replayed it gets SIGTERM, and this returns
    /// when it logs `stop requested`. Keep the returned listener alive while the daemon drains.
    pub fn spawn_draining_daemon(&self, env_lines: &[String]) -> (Child, std::net::TcpListener) {
        let silent = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = silent.local_addr().expect("addr").port();
        let mut env = vec![
            "WHALE_TRADER__ALERTS__WEBHOOK__ENABLED=true".to_owned(),
            "WHALE_TRADER__ALERTS__WEBHOOK__MIN_PRIORITY=info".to_owned(),
            format!("WHALE_TRADER__ALERTS__WEBHOOK__URL=http://127.0.0.1:{port}/hook"),
            "WHALE_TRADER__ALERTS__DELIVERY__ATTEMPT_TIMEOUT_SECS=300".to_owned(),
            "WHALE_TRADER__ALERTS__DELIVERY__DRAIN_TIMEOUT_SECS=120".to_owned(),
            "WHALE_TRADER__DAEMON__SHUTDOWN_GRACE_SECS=120".to_owned(),
        ];
        env.extend_from_slice(env_lines);
        env.push(String::new());
        self.write(".env", &env.join("\n"));
        let daemon = self.spawn_daemon(&[]);
        let replayed = wait_until(Duration::from_secs(60), || self.read("logs/main.log").contains("replay finished"));
        assert!(replayed, "the sample session did not finish; main.log:\n{}", self.read("logs/main.log"));
        signal(&daemon, "TERM");
        let draining = wait_until(Duration::from_secs(10), || self.read("logs/main.log").contains("stop requested"));
        assert!(draining, "the first signal did not start the stop");
        (daemon, silent)
    }

    /// Every `*.log*` file under `logs/`, concatenated.
    pub fn all_logs(&self) -> String {
        let mut text = String::new();
        if let Ok(entries) = std::fs::read_dir(self.path().join("logs")) {
            for entry in entries.flatten() {
                text.push_str(&std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
        text
    }
}

/// A test that fails half way leaves no daemon behind: whatever this workspace's binary still runs
/// inside it (its working directory) is killed with the workspace, however it was started.
impl Drop for Workspace {
    fn drop(&mut self) {
        let binary = std::fs::canonicalize(env!("CARGO_BIN_EXE_whale-trader")).ok();
        let here = std::fs::canonicalize(self.path()).ok();
        let Ok(processes) = std::fs::read_dir("/proc") else { return };
        for process in processes.flatten() {
            let Some(pid) = process.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else { continue };
            let cwd = std::fs::read_link(process.path().join("cwd")).ok();
            let exe = std::fs::read_link(process.path().join("exe")).ok();
            if here.is_some() && cwd == here && binary.is_some() && exe == binary {
                let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).status();
            }
        }
    }
}

/// A loopback port nobody listens on right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local addr").port()
}

/// A path inside the repository.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Polls `condition` every 50 ms until it holds or `limit` passes.
pub fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = whale_trader::clock::monotonic() + limit;
    while whale_trader::clock::monotonic() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    condition()
}

/// Waits for the child to exit, killing it after `limit`; returns its status and how long it took.
pub fn wait_with_limit(child: &mut Child, limit: Duration) -> (Option<ExitStatus>, Duration) {
    let started = whale_trader::clock::monotonic();
    while started.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return (Some(status), started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    (None, started.elapsed())
}

/// Sends a signal by name (`TERM`, `INT`, `HUP`) to a process.
pub fn signal(child: &Child, name: &str) {
    let status = Command::new("kill").arg(format!("-{name}")).arg(child.id().to_string()).status().expect("kill");
    assert!(status.success(), "kill -{name} failed");
}

/// Each line of `text` parsed as JSON; panics with the offending line otherwise.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect()
}
