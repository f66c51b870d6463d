//! Which configuration a command uses, so that the CLI works from any directory: the operator's
//! shell under `/root`, a cron job, the service user's `sudo -u whale-trader whale-trader status`.
//!
//! The order: `--config`, then `WHALE_TRADER_CONFIG`, then the system-wide
//! `/etc/whale-trader/config.toml` when it exists, then `config/default.toml` under the working
//! directory (the repository's layout, the quick start). The env file the same way: `--env-file`,
//! `WHALE_TRADER_ENV_FILE`, `.env` in the working directory when it exists, then
//! `/etc/whale-trader/whale-trader.env` when it exists.

use std::fmt;
use std::path::{Path, PathBuf};

/// The system-wide configuration an install puts in place.
pub const SYSTEM_CONFIG: &str = "/etc/whale-trader/config.toml";
/// The system-wide env file (secrets) beside it.
pub const SYSTEM_ENV_FILE: &str = "/etc/whale-trader/whale-trader.env";
/// The repository's configuration, relative to the working directory.
pub const LOCAL_CONFIG: &str = "config/default.toml";
/// The env file of a checkout, relative to the working directory.
pub const LOCAL_ENV_FILE: &str = ".env";

/// Where a chosen file came from, for the one line that says which file a command used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Flag,
    Environment,
    System,
    WorkingDirectory,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Flag => "from --config",
            Origin::Environment => "from WHALE_TRADER_CONFIG",
            Origin::System => "the system-wide config",
            Origin::WorkingDirectory => "the working directory's config",
        })
    }
}

/// The configuration file a command reads, and why that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    pub path: PathBuf,
    pub origin: Origin,
}

/// Picks the configuration file. `flag` is `--config`, `env` the value of `WHALE_TRADER_CONFIG`
/// (empty counts as unset), `exists` says whether a path is a file (a parameter, so the choice is
/// tested without touching `/etc`).
pub fn config(flag: Option<&Path>, env: Option<&str>, exists: impl Fn(&Path) -> bool) -> Located {
    if let Some(path) = flag {
        return Located { path: path.to_owned(), origin: Origin::Flag };
    }
    if let Some(path) = env.filter(|v| !v.trim().is_empty()) {
        return Located { path: PathBuf::from(path), origin: Origin::Environment };
    }
    if exists(Path::new(SYSTEM_CONFIG)) {
        return Located { path: PathBuf::from(SYSTEM_CONFIG), origin: Origin::System };
    }
    Located { path: PathBuf::from(LOCAL_CONFIG), origin: Origin::WorkingDirectory }
}

/// Picks the env file: the flag, `WHALE_TRADER_ENV_FILE`, `.env` here, the system-wide one. When
/// none exists the local name is returned: a missing env file is fine (the environment may hold
/// every secret, as under systemd's `EnvironmentFile=`).
pub fn env_file(flag: Option<&Path>, env: Option<&str>, exists: impl Fn(&Path) -> bool) -> PathBuf {
    if let Some(path) = flag {
        return path.to_owned();
    }
    if let Some(path) = env.filter(|v| !v.trim().is_empty()) {
        return PathBuf::from(path);
    }
    if !exists(Path::new(LOCAL_ENV_FILE)) && exists(Path::new(SYSTEM_ENV_FILE)) {
        return PathBuf::from(SYSTEM_ENV_FILE);
    }
    PathBuf::from(LOCAL_ENV_FILE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn only(files: &'static [&'static str]) -> impl Fn(&Path) -> bool {
        move |p: &Path| files.iter().any(|f| Path::new(f) == p)
    }

    #[test]
    fn the_flag_wins_over_everything() {
        let located = config(Some(Path::new("mine.toml")), Some("env.toml"), only(&[SYSTEM_CONFIG]));
        assert_eq!(located, Located { path: "mine.toml".into(), origin: Origin::Flag });
    }

    #[test]
    fn the_environment_comes_next_and_empty_is_unset() {
        let located = config(None, Some("/srv/wt.toml"), only(&[SYSTEM_CONFIG]));
        assert_eq!(located.origin, Origin::Environment);
        assert_eq!(config(None, Some("  "), only(&[SYSTEM_CONFIG])).origin, Origin::System);
    }

    #[test]
    fn the_system_config_is_used_only_when_it_exists() {
        assert_eq!(config(None, None, only(&[SYSTEM_CONFIG])).path, Path::new(SYSTEM_CONFIG));
        let local = config(None, None, only(&[]));
        assert_eq!(local, Located { path: LOCAL_CONFIG.into(), origin: Origin::WorkingDirectory });
    }

    #[test]
    fn the_env_file_prefers_a_local_one_then_the_system_one() {
        assert_eq!(env_file(None, None, only(&[LOCAL_ENV_FILE, SYSTEM_ENV_FILE])), Path::new(LOCAL_ENV_FILE));
        assert_eq!(env_file(None, None, only(&[SYSTEM_ENV_FILE])), Path::new(SYSTEM_ENV_FILE));
        assert_eq!(env_file(None, None, only(&[])), Path::new(LOCAL_ENV_FILE));
        assert_eq!(env_file(None, Some("/x.env"), only(&[SYSTEM_ENV_FILE])), Path::new("/x.env"));
        assert_eq!(env_file(Some(Path::new("a.env")), Some("/x.env"), only(&[])), Path::new("a.env"));
    }
}
