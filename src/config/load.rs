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
    let (tree, from_env, from_file) = merged_tree(&options.config_path)?;
    let non_finite = non_finite_floats(&options.config_path);
    let (config, mut issues) = typed_from_tree(tree, &from_env);
    // A non-finite float reaches the tree as null, which serde reports confusingly (or an
    // optional setting silently takes as unset): report it as what the file says instead.
    issues.retain(|issue| !non_finite.iter().any(|(pointer, _, _)| *pointer == json_pointer(&issue.key)));
    issues.extend(non_finite.into_iter().map(|(_, key, value)| ConfigIssue {
        rule: if value.contains("nan") {
            "not a number; write a finite decimal".into()
        } else {
            "infinite; write a finite decimal".into()
        },
        key,
        value,
    }));
    issues.extend(secrets_in_file(&from_file));
    issues.extend(config.validate().into_iter().map(|issue| hide_environment_values(issue, &from_env)));
    if issues.is_empty() { Ok(config) } else { Err(ConfigError::Invalid(issues)) }
}

/// Every secret written in the config file: secrets belong in the environment or the env file
/// only, so that the file can be shared, committed and printed.
fn secrets_in_file(from_file: &Value) -> Vec<ConfigIssue> {
    secret_pointers()
        .iter()
        .filter(|pointer| match from_file.pointer(pointer) {
            None | Some(Value::Null) => false,
            Some(Value::String(text)) => !text.trim().is_empty(),
            Some(_) => true,
        })
        .map(|pointer| {
            let key = pointer.trim_start_matches('/').replace('/', ".");
            let variable = env_variable(&key);
            ConfigIssue {
                value: super::REDACTED.into(),
                rule: format!(
                    "is a secret and must not be written in the config file; leave it empty there and set \
                     {variable} in the environment or the env file"
                ),
                key,
            }
        })
        .collect()
}

/// The environment variable that sets `key`: `api.token` → `WHALE_TRADER__API__TOKEN`.
fn env_variable(key: &str) -> String {
    format!("{ENV_PREFIX}__{}", key.replace('.', "__").to_uppercase())
}

/// The JSON pointers of every [`Secret`](super::Secret) setting. Found by giving every empty
/// string setting a value and seeing which ones serialize redacted, so that a new secret field
/// is covered without being listed anywhere.
fn secret_pointers() -> &'static [String] {
    static POINTERS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    POINTERS.get_or_init(|| {
        const PROBE: &str = "probe";
        fn fill(value: &mut Value) {
            match value {
                Value::String(text) if text.is_empty() => *text = PROBE.into(),
                Value::Object(map) => map.values_mut().for_each(fill),
                _ => {}
            }
        }
        fn redacted(value: &Value, pointer: String, out: &mut Vec<String>) {
            match value {
                Value::String(text) if text == super::REDACTED => out.push(pointer),
                Value::Object(map) => {
                    for (key, child) in map {
                        redacted(child, format!("{pointer}/{key}"), out);
                    }
                }
                _ => {}
            }
        }
        let mut probe = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
        fill(&mut probe);
        let mut pointers = Vec::new();
        if let Ok(config) = serde_json::from_value::<Config>(probe) {
            redacted(&serde_json::to_value(config).unwrap_or(Value::Null), String::new(), &mut pointers);
        }
        pointers
    })
}

/// True when the environment supplied the value at `pointer`, or part of it, or a parent of it.
fn from_environment(from_env: &Value, pointer: &str) -> bool {
    let mut node = from_env;
    for part in pointer.split('/').skip(1) {
        match node {
            Value::Object(map) => match map.get(part) {
                Some(child) => node = child,
                None => return false,
            },
            Value::Null => return false,
            _ => return true,
        }
    }
    !node.is_null()
}

/// Every text value the environment supplied, at any depth.
fn environment_texts(from_env: &Value, out: &mut Vec<String>) {
    match from_env {
        Value::String(text) => out.push(text.clone()),
        Value::Object(map) => map.values().for_each(|child| environment_texts(child, out)),
        Value::Array(items) => items.iter().for_each(|child| environment_texts(child, out)),
        Value::Null => {}
        other => out.push(other.to_string()),
    }
}

/// A problem with a value from the environment shows neither the value nor any rule text
/// quoting it (a parser's message may): the key, the variable and the rule's wording are enough.
fn hide_environment_values(mut issue: ConfigIssue, from_env: &Value) -> ConfigIssue {
    let pointer = json_pointer(&issue.key);
    let mut own = Vec::new();
    if from_environment(from_env, &pointer) {
        issue.value = FROM_ENVIRONMENT.to_string();
        if let Some(value) = from_env.pointer(&pointer) {
            environment_texts(value, &mut own);
        }
    }
    let mut others = Vec::new();
    environment_texts(from_env, &mut others);
    // Another setting's short text (`1`, `true`) would blank out wording like "between 1 and
    // 600"; only texts long enough to be a secret are hidden from other settings' rules.
    others.retain(|text| text.trim().len() >= 8);
    for text in own.iter().chain(&others) {
        let text = text.trim();
        if !text.is_empty() && issue.rule.contains(text) {
            issue.rule = issue.rule.replace(text, super::REDACTED);
        }
    }
    issue
}

/// What a serde type error says is expected, without the part quoting the value:
/// `invalid type: string "0x…", expected u16` → `expected u16`.
fn expectation_only(error: &str, schema: Option<&Value>) -> String {
    match error.rsplit_once(", expected ") {
        Some((_, expected)) => format!("expected {expected}"),
        None => match schema {
            Some(Value::Bool(_)) => "expected true or false".into(),
            Some(Value::Number(_)) => "expected a number".into(),
            Some(Value::String(_)) => "expected a string".into(),
            Some(Value::Array(_)) => "expected a list".into(),
            Some(Value::Object(_)) => "expected a table of settings".into(),
            _ => "not a valid value for this setting".into(),
        },
    }
}

/// Every `nan` / `inf` float in the file, as (JSON pointer, dotted key, the value as written).
/// An unparsable file yields nothing here: reading it reports that.
fn non_finite_floats(path: &Path) -> Vec<(String, String, String)> {
    fn walk(value: &toml::Value, pointer: String, key: String, out: &mut Vec<(String, String, String)>) {
        match value {
            toml::Value::Float(f) if !f.is_finite() => {
                let text = if f.is_nan() {
                    "nan".to_string()
                } else if *f > 0.0 {
                    "inf".to_string()
                } else {
                    "-inf".to_string()
                };
                out.push((pointer, key, text));
            }
            toml::Value::Table(table) => {
                for (k, child) in table {
                    walk(child, format!("{pointer}/{k}"), super::join(&key, k), out);
                }
            }
            toml::Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, format!("{pointer}/{i}"), format!("{key}[{i}]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string(path)
        && let Ok(table) = toml::from_str::<toml::Table>(&text)
    {
        walk(&toml::Value::Table(table), String::new(), String::new(), &mut out);
    }
    out
}

fn load_env_file(path: &Path) -> Result<(), ConfigError> {
    match dotenvy::from_path(path) {
        Ok(()) => Ok(()),
        Err(dotenvy::Error::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        // dotenvy's parse error quotes the whole line, which holds a secret: say where instead.
        Err(dotenvy::Error::LineParse(line, index)) => {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            // dotenvy's `line` runs on past the bad line when a quote is left open.
            let number = text
                .lines()
                .position(|l| !l.trim().is_empty() && line.trim_start().starts_with(l.trim()))
                .map_or_else(|| "a".to_string(), |n| (n + 1).to_string());
            Err(ConfigError::EnvFile {
                path: path.to_path_buf(),
                reason: format!(
                    "line {number} cannot be parsed at character {index} (expected KEY=VALUE; the line is not shown \
                     as it may hold a secret)"
                ),
            })
        }
        Err(e) => Err(ConfigError::EnvFile { path: path.to_path_buf(), reason: e.to_string() }),
    }
}

/// Why the environment cannot be read, without its values: the config crate's own message quotes
/// a value that is not valid Unicode.
fn environment_unreadable() -> String {
    let prefix = format!("{ENV_PREFIX}__");
    let bad: Vec<String> = std::env::vars_os()
        .filter_map(|(key, value)| {
            let key = key.into_string().ok()?;
            (key.starts_with(&prefix) && value.into_string().is_err()).then_some(key)
        })
        .collect();
    if bad.is_empty() {
        "the environment cannot be read".into()
    } else {
        format!("{} must be valid UTF-8 (the value is not shown)", bad.join(", "))
    }
}

/// The file and the environment merged into one untyped tree, and the environment's part alone
/// (so that problems with values from the environment never echo them: `.env` holds the secrets).
fn merged_tree(path: &Path) -> Result<(Value, Value, Value), ConfigError> {
    let unreadable = |reason: String| ConfigError::Unreadable { path: path.to_path_buf(), reason };
    if !path.is_file() {
        return Err(unreadable("no such file".into()));
    }
    // Environment values stay text here; `coerce_env_values` parses each one as the schema wants,
    // so that `…__SMS__FROM=+15550001111` stays a string and `…__API__PORT=8788` becomes a number.
    // The config crate reads names as path expressions (`x[3000000]` grows an array to that
    // length), so names that are more than letters, digits and `_` never reach it.
    let (variables, bad_names) = environment_variables();
    let mut bad_keys = bad_names;
    bad_keys.extend(bad_section_names(path));
    if !bad_keys.is_empty() {
        return Err(ConfigError::Invalid(bad_keys));
    }
    let environment = || {
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("__")
            .separator("__")
            .source(Some(variables.clone()))
    };
    let merged = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml).required(true))
        .add_source(environment())
        .build()
        .map_err(|e| match e {
            config::ConfigError::FileParse { .. } | config::ConfigError::NotFound(_) => unreadable(e.to_string()),
            _ => unreadable(environment_unreadable()),
        })?;
    let from_env = config::Config::builder()
        .add_source(environment())
        .build()
        .map_err(|_| unreadable(environment_unreadable()))?;
    let from_file = config::Config::builder()
        .add_source(config::File::from(path).format(config::FileFormat::Toml).required(true))
        .build()
        .map_err(|e| unreadable(e.to_string()))?;
    Ok((
        merged.try_deserialize::<Value>().map_err(|e| unreadable(e.to_string()))?,
        from_env.try_deserialize::<Value>().map_err(|e| unreadable(e.to_string()))?,
        from_file.try_deserialize::<Value>().map_err(|e| unreadable(e.to_string()))?,
    ))
}

/// A setting name holds only these: anything else is not a setting, and the config crate would
/// read it as a path expression.
fn is_plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The `WHALE_TRADER__*` variables that are valid UTF-8 with plain names, and a problem for
/// every other one (named, never quoted).
fn environment_variables() -> (config::Map<String, String>, Vec<ConfigIssue>) {
    let prefix = format!("{ENV_PREFIX}__");
    let mut variables = config::Map::new();
    let mut issues = Vec::new();
    for (name, value) in std::env::vars_os() {
        let Some(name) = name.to_str().map(str::to_string) else { continue };
        if !name.starts_with(&prefix) {
            continue;
        }
        let rest = &name[prefix.len()..];
        if !rest.split("__").all(is_plain_name) {
            issues.push(ConfigIssue {
                key: name.clone(),
                value: FROM_ENVIRONMENT.to_string(),
                rule: "is not a setting's variable: the name may hold only letters, digits and _, with __ between \
                       section and key"
                    .into(),
            });
            continue;
        }
        match value.into_string() {
            Ok(value) => {
                variables.insert(name, value);
            }
            Err(_) => issues.push(ConfigIssue {
                key: name,
                value: FROM_ENVIRONMENT.to_string(),
                rule: "must be valid UTF-8".into(),
            }),
        }
    }
    let (aliased, alias_issues) = super::aliases::alias_variables(|name| std::env::var(name).ok());
    variables.extend(aliased);
    issues.extend(alias_issues);
    (variables, issues)
}

/// Top-level keys of the file that cannot be section names (the config crate would read them
/// as path expressions). An unparsable file yields nothing here: reading it reports that.
fn bad_section_names(path: &Path) -> Vec<ConfigIssue> {
    let Ok(text) = std::fs::read_to_string(path) else { return Vec::new() };
    let Ok(table) = toml::from_str::<toml::Table>(&text) else { return Vec::new() };
    table
        .keys()
        .filter(|key| !is_plain_name(key))
        .map(|key| ConfigIssue {
            key: format!("{key:?}"),
            value: "(a table or value)".into(),
            rule: "is not a section name: sections are named with letters, digits and _".into(),
        })
        .collect()
}

/// What a problem shows of a value that came from the environment: never the value itself, which
/// may be a secret under a misspelt key (`WHALE_TRADER__API__TOKN=…`).
const FROM_ENVIRONMENT: &str = "*** (set in the environment)";

/// Turns the tree into a [`Config`], reporting unknown keys and malformed values. Each bad value
/// is reported and replaced by its default so that the remaining problems can be found too.
fn typed_from_tree(mut tree: Value, from_env: &Value) -> (Config, Vec<ConfigIssue>) {
    let mut issues = Vec::new();
    let schema = serde_json::to_value(Config::default()).unwrap_or(Value::Null);
    remove_unknown_keys(&mut tree, &schema, Some(from_env), "", &mut issues);
    coerce_env_values(&mut tree, &schema, from_env, String::new());

    // Bounded: each round fixes one value, and there are finitely many values.
    for _ in 0..256 {
        match serde_path_to_error::deserialize::<_, Config>(tree.clone()) {
            Ok(config) => return (config, issues),
            Err(err) => {
                let key = err.path().to_string();
                let pointer = json_pointer(&key);
                let rule = err.inner().to_string();
                let issue = if from_environment(from_env, &pointer) {
                    // serde's wording quotes the value (`invalid type: string "0x…"`): keep only
                    // what was expected, and name the variable to fix.
                    let expected = expectation_only(&rule, schema.pointer(&pointer));
                    ConfigIssue {
                        key: key.clone(),
                        value: FROM_ENVIRONMENT.to_string(),
                        rule: format!("{expected} (check {})", env_variable(&key)),
                    }
                } else {
                    let value = if secret_pointers().contains(&pointer) {
                        super::REDACTED.to_string()
                    } else {
                        tree.pointer(&pointer).map(render_value).unwrap_or_else(|| "(missing)".into())
                    };
                    ConfigIssue { key: key.clone(), value, rule }
                };
                issues.push(hide_environment_values(issue, from_env));
                let replacement = default_at(&schema, &pointer);
                if !replace_at(&mut tree, &pointer, replacement) {
                    break;
                }
            }
        }
    }
    (Config::default(), issues)
}

/// Reports and drops keys that the schema (the serialized defaults) does not have. `from_env` is
/// the environment's part of the tree at the same place, if it has one.
fn remove_unknown_keys(
    tree: &mut Value,
    schema: &Value,
    from_env: Option<&Value>,
    prefix: &str,
    issues: &mut Vec<ConfigIssue>,
) {
    match (tree, schema) {
        (Value::Object(map), Value::Object(known)) => {
            let unknown: Vec<String> = map.keys().filter(|k| !known.contains_key(*k)).cloned().collect();
            for key in unknown {
                let removed = map.remove(&key);
                let value = if from_env.and_then(|env| env.get(&key)).is_some() {
                    FROM_ENVIRONMENT.to_string()
                } else {
                    removed.map(|v| render_value(&v)).unwrap_or_default()
                };
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
                    let child_env = from_env.and_then(|env| env.get(key));
                    remove_unknown_keys(child, child_schema, child_env, &super::join(prefix, key), issues);
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

/// Gives every value that came from the environment (always text) the JSON type the schema has at
/// its place: numbers and booleans are parsed, strings stay exactly as written. Where the schema
/// has no value (an unset option), numbers and booleans are recognised by their look. A value
/// that does not parse is left as text, and deserialization reports it.
fn coerce_env_values(tree: &mut Value, schema: &Value, from_env: &Value, pointer: String) {
    match from_env {
        Value::Object(map) => {
            for (key, child) in map {
                coerce_env_values(tree, schema, child, format!("{pointer}/{key}"));
            }
        }
        Value::String(text) => {
            let wanted = schema.pointer(&pointer);
            let coerced = match wanted {
                Some(Value::String(_) | Value::Array(_) | Value::Object(_)) => return,
                Some(Value::Bool(_)) => parse_bool(text),
                Some(Value::Number(_)) => parse_number(text),
                Some(Value::Null) | None => parse_bool(text).or_else(|| parse_number(text)),
            };
            if let (Some(value), Some(slot)) = (coerced, tree.pointer_mut(&pointer)) {
                *slot = value;
            }
        }
        _ => {}
    }
}

fn parse_bool(text: &str) -> Option<Value> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" => Some(Value::Bool(true)),
        "false" => Some(Value::Bool(false)),
        _ => None,
    }
}

fn parse_number(text: &str) -> Option<Value> {
    let text = text.trim();
    if let Ok(n) = text.parse::<u64>() {
        return Some(Value::from(n));
    }
    if let Ok(n) = text.parse::<i64>() {
        return Some(Value::from(n));
    }
    text.parse::<f64>().ok().filter(|f| f.is_finite()).and_then(serde_json::Number::from_f64).map(Value::Number)
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
        let (_config, issues) = typed_from_tree(
            tree(
                r#"
            [daemon]
            mode = "yolo"
            shutdown_grace_secs = "soon"
            colour = "blue"
            [nonsense]
            x = 1
            "#,
            ),
            &Value::Null,
        );
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
        let (config, issues) = typed_from_tree(Value::Object(serde_json::Map::new()), &Value::Null);
        assert!(issues.is_empty(), "{issues:?}");
        assert_eq!(config, Config::default());
    }

    #[test]
    fn values_from_the_environment_are_never_echoed() {
        // What `WHALE_TRADER__API__TOKN=…` (a misspelt secret) and a table under a secret give.
        let merged = tree(
            r#"
            [api]
            tokn = "s3cr3t-typo"
            [api.token]
            x = "s3cr3t-table"
            [daemon]
            colour = "blue"
            "#,
        );
        let from_env = tree(
            r#"
            [api]
            tokn = "s3cr3t-typo"
            [api.token]
            x = "s3cr3t-table"
            "#,
        );
        let (_config, issues) = typed_from_tree(merged, &from_env);
        let text: Vec<String> = issues.iter().map(ToString::to_string).collect();
        assert!(text.iter().all(|t| !t.contains("s3cr3t")), "{text:?}");
        let typo = issues.iter().find(|i| i.key == "api.tokn").expect("the misspelt key is reported");
        assert_eq!(typo.value, FROM_ENVIRONMENT);
        assert!(typo.rule.starts_with("unknown key"), "{}", typo.rule);
        let table = issues.iter().find(|i| i.key == "api.token").expect("the malformed secret is reported");
        assert_eq!(table.value, FROM_ENVIRONMENT);
        // A value from the file is still shown: it helps, and the file holds no secrets.
        let colour = issues.iter().find(|i| i.key == "daemon.colour").expect("unknown file key");
        assert_eq!(colour.value, "\"blue\"");
    }

    #[test]
    fn environment_text_takes_the_type_the_setting_has() {
        // As the loader sees `…__API__PORT=8788`, `…__ALERTS__SMS__FROM=+15550001111`,
        // `…__ALERTS__SMS__ENABLED=true`, `…__RISK__LIMITS__MAX_POSITION_SIZE_USD=250` and a
        // Telegram chat id (a secret) of digits.
        let text = r#"
            [api]
            port = "8788"
            [alerts.sms]
            from = "+15550001111"
            enabled = "true"
            [alerts.telegram]
            chat_id = "-1001234"
            [risk.limits]
            max_position_size_usd = "250"
            "#;
        let (config, issues) = typed_from_tree(tree(text), &tree(text));
        assert!(issues.iter().all(|i| i.key != "alerts.sms.from" && i.key != "api.port"), "{issues:?}");
        assert_eq!(config.api.port, 8788);
        assert_eq!(config.alerts.sms.from, "+15550001111");
        assert!(config.alerts.sms.enabled);
        assert_eq!(config.alerts.telegram.chat_id.expose(), "-1001234");
        assert_eq!(config.risk.limits.max_position_size_usd, rust_decimal::Decimal::from(250));

        let bad = r#"
            [api]
            port = "eighty"
            "#;
        let (_, issues) = typed_from_tree(tree(bad), &tree(bad));
        let port = issues.iter().find(|i| i.key == "api.port").expect("a bad number is reported");
        assert_eq!(port.value, FROM_ENVIRONMENT);
    }

    #[test]
    fn every_secret_setting_is_found_and_nothing_else() {
        let pointers = secret_pointers();
        for secret in [
            "/api/token",
            "/polymarket/credentials/private_key",
            "/alerts/slack/webhook_url",
            "/alerts/webhook/url",
            "/alerts/heartbeat/url",
            "/alerts/telegram/chat_id",
        ] {
            assert!(pointers.iter().any(|p| p == secret), "{secret} missing from {pointers:?}");
        }
        for plain in ["/api/bind", "/alerts/webhook/header_name", "/alerts/email/username"] {
            assert!(!pointers.iter().any(|p| p == plain), "{plain} is not a secret");
        }
    }

    #[test]
    fn a_serde_type_error_keeps_only_what_was_expected() {
        let quoted = "invalid type: string \"0xdeadbeef\", expected u16";
        assert_eq!(expectation_only(quoted, None), "expected u16");
        let custom = "Invalid decimal: 0xdeadbeef";
        assert_eq!(expectation_only(custom, Some(&Value::from(1))), "expected a number");
    }

    #[test]
    fn a_type_error_from_the_environment_does_not_quote_it() {
        let text = r#"
            [api]
            port = "0xdeadbeefcafe"
            "#;
        let (_, issues) = typed_from_tree(tree(text), &tree(text));
        let port = issues.iter().find(|i| i.key == "api.port").expect("reported");
        assert!(!port.to_string().contains("deadbeef"), "{port}");
        assert!(port.rule.contains("expected u16") && port.rule.contains("WHALE_TRADER__API__PORT"), "{port}");
    }

    #[test]
    fn a_rule_quoting_an_environment_value_is_redacted() {
        let from_env = tree(
            r#"
            [logging]
            level = "zz-secret-level"
            "#,
        );
        let issue = ConfigIssue {
            key: "logging.level".into(),
            value: "\"zz-secret-level\"".into(),
            rule: "is not a valid log filter: zz-secret-level".into(),
        };
        let hidden = hide_environment_values(issue, &from_env);
        assert_eq!(hidden.value, FROM_ENVIRONMENT);
        assert_eq!(hidden.rule, "is not a valid log filter: ***");
        // Another setting's short value does not blank out a rule's own wording.
        let issue =
            ConfigIssue { key: "daemon.shutdown_grace_secs".into(), value: "0".into(), rule: "between 1".into() };
        let from_env = tree("[api]\nport = \"1\"");
        assert_eq!(hide_environment_values(issue, &from_env).rule, "between 1");
    }

    #[test]
    fn a_secret_in_the_file_is_refused_without_showing_it() {
        let file = tree("[api]\ntoken = \"zz-file-token\"\n[alerts.heartbeat]\nurl = \"\"");
        let issues = secrets_in_file(&file);
        assert_eq!(issues.len(), 1, "{issues:?}");
        assert_eq!(issues[0].key, "api.token");
        assert_eq!(issues[0].value, "***");
        assert!(issues[0].rule.contains("WHALE_TRADER__API__TOKEN"), "{}", issues[0].rule);
    }

    #[test]
    fn non_finite_floats_are_found_with_their_keys() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.toml");
        std::fs::write(&path, "[risk]\nx = nan\n[[copy.whales]]\nmultiplier = -inf\n").expect("write");
        let found = non_finite_floats(&path);
        assert!(found.contains(&("/risk/x".into(), "risk.x".into(), "nan".into())), "{found:?}");
        assert!(
            found.contains(&("/copy/whales/0/multiplier".into(), "copy.whales[0].multiplier".into(), "-inf".into())),
            "{found:?}"
        );
    }
}
