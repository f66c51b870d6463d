//! A small writer for the Prometheus text exposition format (version 0.0.4).

use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    Gauge,
    Counter,
}

/// A family of per-whale figures: name, kind, help, and how to read the value from a whale's row
/// (`None`: no sample for that whale yet).
pub type WhaleFamily<T> = (&'static str, MetricKind, &'static str, fn(&T) -> Option<rust_decimal::Decimal>);

/// One whale's row: wallet, label, and its figures.
pub type WhaleRow<'a, T> = (&'a str, &'a str, &'a T);

/// Builds a `/metrics` body: each family gets its HELP and TYPE lines once, then its samples.
#[derive(Debug, Default)]
pub struct PromText {
    body: String,
}

impl PromText {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts a metric family. Counter names must end in `_total`.
    pub fn family(&mut self, name: &str, kind: MetricKind, help: &str) -> &mut Self {
        let kind = match kind {
            MetricKind::Gauge => "gauge",
            MetricKind::Counter => "counter",
        };
        let _ = writeln!(self.body, "# HELP {name} {}", escape_help(help));
        let _ = writeln!(self.body, "# TYPE {name} {kind}");
        self
    }

    /// One sample of the current family.
    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) -> &mut Self {
        self.body.push_str(name);
        if !labels.is_empty() {
            self.body.push('{');
            for (i, (key, val)) in labels.iter().enumerate() {
                if i > 0 {
                    self.body.push(',');
                }
                let _ = write!(self.body, "{key}=\"{}\"", escape_label(val));
            }
            self.body.push('}');
        }
        let _ = writeln!(self.body, " {value}");
        self
    }

    /// A family with a single unlabelled sample.
    pub fn single(&mut self, name: &str, kind: MetricKind, help: &str, value: impl std::fmt::Display) -> &mut Self {
        self.family(name, kind, help).sample(name, &[], value)
    }

    /// Families of per-whale figures: for each family, one sample per whale row that has a value,
    /// labelled `whale` (the wallet) and `label` (its configured name, empty when none).
    pub fn per_whale<T>(&mut self, families: &[WhaleFamily<T>], rows: &[WhaleRow<'_, T>]) -> &mut Self {
        for (name, kind, help, read) in families {
            self.family(name, *kind, help);
            for (wallet, label, row) in rows {
                if let Some(value) = read(row) {
                    self.sample(name, &[("whale", wallet), ("label", label)], value);
                }
            }
        }
        self
    }

    pub fn finish(self) -> String {
        self.body
    }
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_help_type_and_escaped_labels() {
        let mut text = PromText::new();
        text.family("wt_decisions_total", MetricKind::Counter, "Decisions by reason.").sample(
            "wt_decisions_total",
            &[("reason", "a\"b")],
            3,
        );
        text.single("wt_up", MetricKind::Gauge, "Always 1.", 1);
        assert_eq!(
            text.finish(),
            "# HELP wt_decisions_total Decisions by reason.\n# TYPE wt_decisions_total counter\n\
             wt_decisions_total{reason=\"a\\\"b\"} 3\n# HELP wt_up Always 1.\n# TYPE wt_up gauge\nwt_up 1\n"
        );
    }
}
