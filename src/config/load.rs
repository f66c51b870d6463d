//! Loading: TOML file → `.env` → environment overrides → one typed [`Config`], collecting every
//! unknown key and every malformed value on the way instead of stopping at the first.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Config, ConfigIssue};

/// Environment overrides look like `WHALE_TRADER__RISK__MAX_TOTAL_POSITIONS=7`.
pub const ENV_PREFIX: &str = "WHALE_TRADER";

/// Where to read from.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub config_path: PathBuf,
    /// The env file; a missing file is fine (under systemd `EnvironmentFile=` does the job).
    pub env_file: Option<PathBuf>,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { config_path: PathBuf::from("config/default.toml"), env_file: Some(PathBuf::from(".env")) }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("cannot read the env file {path}: {reason}")]
    EnvFile { path: PathBuf, reason: String },
    #[error("the configuration has {} problem(s):\n{}", .0.len(), render(.0))]
    Invalid(Vec<ConfigIssue>),
}

impl ConfigError {
    /// The individual problems, when the config was readable but wrong.
    pub fn issues(&self) -> &[ConfigIssue] {
        match self {
            ConfigError::Invalid(issues) => issues,
            _ => &[],
        }
    }
}

fn render(issues: &[ConfigIssue]) -> String {
    issues.iter().map(|i| format!("  - {i}")).collect::<Vec<_>>().join("\n")
}

/// Loads and validates. Either a config with no problems, or every problem at once.
pub fn load(options: &LoadOptions) -> Result<Config, ConfigError> {
    if let Some(env_file) = &options.env_file {
        load_env_file(env_file)?;
    }
    let tree = merged_tree(&options.config_path)?;
    let (config, mut issues) = typed_from_tree(tree);
    issues.extend(config.validate());
    if issues.is_empty() { Ok(config) } else { Err(ConfigError::Invalid(issues)) }
}

fn load_env_file(path: &Path) -> Result<(), ConfigError> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ConfigError::EnvFile { path: path.to_path_buf(), reason: e.to_string() }),
    }
}

/// The file and the environment merged into one untyped tree.
fn merged_tree(path: &Path) -> Result<Value, ConfigError> {
    let unreadable = |reason: String| ConfigError::Unreadable { path: path.to_path_buf(), reason };
    if !path.is_file() {
        return Err(unreadable("no such file".into()));
    }
    let built = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml).required(true))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX).prefix_separator("__").separator("__").try_parsing(true),
        )
        .build()
        .map_err(|e| unreadable(e.to_string()))?;
    built.try_deserialize::<Value>().map_err(|e| unreadable(e.to_string()))
}

/// Turns the tree into a [`Config`], reporting unknown keys and malformed values. Each bad value
/// is reported and replaced by its default so that the remaining problems can be found too.
fn typed_from_tree(mut tree: Value) -> (Config, Vec<ConfigIssue>) {
    let mut issues = Vec::new();
    let schema = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
    remove_unknown_keys(&mut tree, &schema, "", &mut issues);

    // Bounded: each round fixes one value, and there are finitely many values.
    for _ in 0..256 {
        match serde_path_to_error::deserialize::<_, Config>(tree.clone()) {
            Ok(config) => return (config, issues),
            Err(err) => {
                let key = err.path().to_string();
                let pointer = json_pointer(&key);
                let value = tree.pointer(&pointer).map(render_value).unwrap_or_else(|| "(missing)".into());
                issues.push(ConfigIssue { key: key.clone(), value, rule: err.inner().to_string() });
                let replacement = default_at(&schema, &pointer);
                if !replace_at(&mut tree, &pointer, replacement) {
                    break;
                }
            }
        }
    }
    (Config::default(), issues)
}

/// Reports and drops keys that the schema (the serialized defaults) does not have.
fn remove_unknown_keys(tree: &mut Value, schema: &Value, prefix: &str, issues: &mut Vec<ConfigIssue>) {
    match (tree, schema) {
        (Value::Object(map), Value::Object(known)) => {
            let unknown: Vec<String> = map.keys().filter(|k| !known.contains_key(*k)).cloned().collect();
            for key in unknown {
                let value = map.remove(&key).map(|v| render_value(&v)).unwrap_or_default();
                issues.push(ConfigIssue {
                    key: super::join(prefix, &key),
                    value,
                    rule: format!(
                        "unknown key (known keys here: {})",
                        known.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                });
            }
            for (key, child) in map.iter_mut() {
                if let Some(child_schema) = known.get(key) {
                    remove_unknown_keys(child, child_schema, &super::join(prefix, key), issues);
                }
            }
        }
        (Value::Array(items), Value::Array(_)) => {
            // Array elements (e.g. `copy.whales`) are checked by their own `deny_unknown_fields`.
            let _ = items;
        }
        _ => {}
    }
}

fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// `copy.whales[2].address` → `/copy/whales/2/address`.
fn json_pointer(path: &str) -> String {
    let mut pointer = String::new();
    for part in path.split('.') {
        if part.is_empty() || part == "?" {
            continue;
        }
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            let name = &rest[..open];
            if !name.is_empty() {
                pointer.push('/');
                pointer.push_str(name);
            }
            let close = rest[open..].find(']').map(|c| open + c).unwrap_or(rest.len());
            pointer.push('/');
            pointer.push_str(&rest[open + 1..close]);
            rest = rest.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            pointer.push('/');
            pointer.push_str(rest);
        }
    }
    pointer
}

/// The default at `pointer`, or nothing when the schema has none there (array elements).
fn default_at(schema: &Value, pointer: &str) -> Option<Value> {
    schema.pointer(pointer).cloned()
}

/// Replaces (or, without a default, removes) the value at `pointer`. False when nothing changed.
fn replace_at(tree: &mut Value, pointer: &str, replacement: Option<Value>) -> bool {
    if pointer.is_empty() {
        return false;
    }
    let (parent_ptr, last) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    let Some(parent) = tree.pointer_mut(parent_ptr) else {
        return false;
    };
    match (parent, replacement) {
        (Value::Object(map), Some(v)) => {
            map.insert(last.to_string(), v);
            true
        }
        (Value::Object(map), None) => map.remove(last).is_some(),
        (Value::Array(items), _) => match last.parse::<usize>() {
            Ok(i) if i < items.len() => {
                items.remove(i);
                true
            }
            _ => false,
        },
        _ => false,
    }
}

/// A tree with only the given top-level tables, for tests.
#[cfg(test)]
fn tree(toml_text: &str) -> Value {
    let table: toml::Table = toml::from_str(toml_text).expect("test TOML parses");
    serde_json::to_value(table).expect("TOML converts to JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_values_are_all_reported() {
        let (_config, issues) = typed_from_tree(tree(
            r#"
            [daemon]
            mode = "yolo"
            shutdown_grace_secs = "soon"
            colour = "blue"
            [nonsense]
            x = 1
            "#,
        ));
        let keys: Vec<&str> = issues.iter().map(|i| i.key.as_str()).collect();
        assert!(keys.contains(&"daemon.colour"), "{issues:?}");
        assert!(keys.contains(&"nonsense"), "{issues:?}");
        assert!(keys.contains(&"daemon.mode"), "{issues:?}");
        assert!(keys.contains(&"daemon.shutdown_grace_secs"), "{issues:?}");
        let mode = issues.iter().find(|i| i.key == "daemon.mode").unwrap();
        assert_eq!(mode.value, "\"yolo\"");
        assert!(mode.rule.contains("unknown variant"), "{}", mode.rule);
    }

    #[test]
    fn json_pointer_handles_indices() {
        assert_eq!(json_pointer("copy.whales[2].address"), "/copy/whales/2/address");
        assert_eq!(json_pointer("daemon.mode"), "/daemon/mode");
    }

    #[test]
    fn empty_tree_is_the_default_config() {
        let (config, issues) = typed_from_tree(Value::Object(serde_json::Map::new()));
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(config, Config::default());
    }
}
