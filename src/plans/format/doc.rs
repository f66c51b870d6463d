//! One message, many media: a message is built once as sections of lines of spans (text, bold,
//! link), then written for each medium with that medium's markup and escaping. A section is the
//! unit that splitting keeps whole.

use crate::alerts::channels::escape_markdown_v2;

/// A piece of a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    Text(String),
    Bold(String),
    Link { label: String, url: String },
}

/// One line: spans written one after another.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Line(pub Vec<Span>);

impl Line {
    pub fn text(text: impl Into<String>) -> Self {
        Line(vec![Span::Text(text.into())])
    }

    pub fn bold(text: impl Into<String>) -> Self {
        Line(vec![Span::Bold(text.into())])
    }

    pub fn then_text(mut self, text: impl Into<String>) -> Self {
        self.0.push(Span::Text(text.into()));
        self
    }

    pub fn then_bold(mut self, text: impl Into<String>) -> Self {
        self.0.push(Span::Bold(text.into()));
        self
    }

    pub fn then_link(mut self, label: impl Into<String>, url: impl Into<String>) -> Self {
        self.0.push(Span::Link { label: label.into(), url: url.into() });
        self
    }
}

/// Lines kept together: a heading and its bullets, a paragraph.
pub type Section = Vec<Line>;

/// The media a message is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Medium {
    /// The seed's Markdown: `**bold**`, `[label](url)`, nothing escaped.
    Markdown,
    /// Telegram MarkdownV2: `*bold*`, every reserved character escaped.
    Telegram,
    /// Slack mrkdwn: `*bold*`, `<url|label>`, `&`, `<`, `>` as entities.
    Slack,
    /// Discord markdown: `**bold**`, `[label](url)`, markdown characters escaped.
    Discord,
    /// Plain text (email bodies): no markup, links as their address.
    Plain,
}

impl Medium {
    pub const ALL: [Medium; 5] = [Medium::Markdown, Medium::Telegram, Medium::Slack, Medium::Discord, Medium::Plain];

    /// The golden file suffix and a name for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Medium::Markdown => "markdown",
            Medium::Telegram => "telegram",
            Medium::Slack => "slack",
            Medium::Discord => "discord",
            Medium::Plain => "plain",
        }
    }

    /// The most one message of this medium holds, in the medium's own units ([`Medium::length`]);
    /// `None` when a message is never split. Telegram refuses text over 4,096 UTF-16 units and
    /// Discord content over 2,000 characters; Slack truncates very long texts and advises 4,000.
    pub fn limit(self) -> Option<usize> {
        match self {
            Medium::Telegram => Some(4096),
            Medium::Discord => Some(2000),
            Medium::Slack => Some(4000),
            Medium::Markdown | Medium::Plain => None,
        }
    }

    /// A text's length as the medium's limit counts it (Telegram: UTF-16 code units).
    pub fn length(self, text: &str) -> usize {
        match self {
            Medium::Telegram => text.encode_utf16().count(),
            _ => text.chars().count(),
        }
    }

    fn escape(self, text: &str) -> String {
        match self {
            Medium::Markdown | Medium::Plain => text.to_string(),
            Medium::Telegram => escape_markdown_v2(text),
            Medium::Slack => text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"),
            Medium::Discord => escape_discord(text),
        }
    }

    /// One line in this medium's markup.
    pub fn line(self, line: &Line) -> String {
        let mut out = String::new();
        for span in &line.0 {
            match span {
                Span::Text(text) => out.push_str(&self.escape(text)),
                Span::Bold(text) => {
                    let mark = match self {
                        Medium::Markdown | Medium::Discord => "**",
                        Medium::Telegram | Medium::Slack => "*",
                        Medium::Plain => "",
                    };
                    out.push_str(mark);
                    out.push_str(&self.escape(text));
                    out.push_str(mark);
                }
                Span::Link { label, url } => match self {
                    Medium::Markdown | Medium::Discord => {
                        out.push_str(&format!("[{}]({})", self.escape(label), url.replace(')', "%29")))
                    }
                    // Inside a link's URL, MarkdownV2 wants only `)` and `\` escaped.
                    Medium::Telegram => out.push_str(&format!(
                        "[{}]({})",
                        self.escape(label),
                        url.replace('\\', "\\\\").replace(')', "\\)")
                    )),
                    Medium::Slack => out.push_str(&format!(
                        "<{}|{}>",
                        url.replace('|', "%7C").replace('>', "%3E"),
                        self.escape(label)
                    )),
                    // Plain text shows the address itself, where a mail reader makes it a link.
                    Medium::Plain => out.push_str(url),
                },
            }
        }
        // Discord reads a leading `-`, `#` or `>` as a list, heading or quote.
        if self == Medium::Discord && out.starts_with(['-', '#', '>']) {
            out.insert(0, '\\');
        }
        out
    }

    /// A section's lines, one per line.
    pub fn section(self, section: &Section) -> String {
        section.iter().map(|line| self.line(line)).collect::<Vec<_>>().join("\n")
    }
}

/// Discord markdown escapes with a backslash before any punctuation.
fn escape_discord(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if matches!(c, '\\' | '*' | '_' | '~' | '`' | '|' | '[' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The whole message in one medium: the sections, a blank line between them, unsplit.
pub fn render(sections: &[Section], medium: Medium) -> String {
    sections.iter().map(|s| medium.section(s)).collect::<Vec<_>>().join("\n\n")
}

/// The message in one medium, split into messages within its limit: sections are packed whole
/// (a blank line between them), and only a section too long for a message alone is split, at its
/// line breaks, and a line too long for a message alone between characters, never between an
/// escape backslash and the character it escapes.
pub fn render_parts(sections: &[Section], medium: Medium) -> Vec<String> {
    let Some(max) = medium.limit() else {
        return vec![render(sections, medium)];
    };
    let len = |text: &str| medium.length(text);
    let mut parts = Vec::new();
    let mut current = String::new();
    let push = |piece: &str, sep: &str, current: &mut String, parts: &mut Vec<String>| {
        if current.is_empty() {
            current.push_str(piece);
        } else if len(current) + len(sep) + len(piece) <= max {
            current.push_str(sep);
            current.push_str(piece);
        } else {
            parts.push(std::mem::take(current));
            current.push_str(piece);
        }
    };
    for section in sections {
        let text = medium.section(section);
        if len(&text) <= max {
            push(&text, "\n\n", &mut current, &mut parts);
            continue;
        }
        // Too long alone: it starts its own message and goes line by line.
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
        for line in section.iter().map(|l| medium.line(l)) {
            if len(&line) <= max {
                push(&line, "\n", &mut current, &mut parts);
                continue;
            }
            if !current.is_empty() {
                parts.push(std::mem::take(&mut current));
            }
            for piece in cut_line(&line, max, len) {
                push(&piece, "\n", &mut current, &mut parts);
            }
        }
        // What follows a split section starts a fresh message, so a section is never glued to
        // the end of another one's overflow.
        if !current.is_empty() {
            parts.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

/// A line longer than a message, cut into pieces of at most `max`, keeping escapes whole.
fn cut_line(line: &str, max: usize, len: impl Fn(&str) -> usize) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut current = String::new();
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        let mut unit = String::from(c);
        if c == '\\'
            && let Some(next) = chars.next()
        {
            unit.push(next);
        }
        if !current.is_empty() && len(&current) + len(&unit) > max {
            pieces.push(std::mem::take(&mut current));
        }
        current.push_str(&unit);
    }
    if !current.is_empty() {
        pieces.push(current);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Section> {
        vec![
            vec![Line::bold("Head (1)").then_text(" | a_b")],
            vec![Line::text("x.y").then_link("Link", "https://e.x/a_(b)")],
        ]
    }

    #[test]
    fn each_medium_writes_its_own_markup() {
        assert_eq!(render(&sample(), Medium::Markdown), "**Head (1)** | a_b\n\nx.y[Link](https://e.x/a_(b%29)");
        assert_eq!(render(&sample(), Medium::Telegram), "*Head \\(1\\)* \\| a\\_b\n\nx\\.y[Link](https://e.x/a_(b\\))");
        assert_eq!(render(&sample(), Medium::Slack), "*Head (1)* | a_b\n\nx.y<https://e.x/a_(b)|Link>");
        assert_eq!(render(&sample(), Medium::Discord), "**Head (1)** \\| a\\_b\n\nx.y[Link](https://e.x/a_(b%29)");
        assert_eq!(render(&sample(), Medium::Plain), "Head (1) | a_b\n\nx.yhttps://e.x/a_(b)");
        assert_eq!(Medium::Slack.line(&Line::text("a<b>&c")), "a&lt;b&gt;&amp;c");
        assert_eq!(Medium::Discord.line(&Line::text("- # item")), "\\- # item");
    }

    #[test]
    fn sections_pack_whole_and_only_an_oversized_one_is_split() {
        let section =
            |n: usize, width: usize| -> Section { (0..n).map(|i| Line::text(format!("{i:0width$}"))).collect() };
        // Two sections of 899 characters fit one Discord message together, not three.
        let sections = vec![section(100, 8), section(100, 8), section(100, 8)];
        let parts = render_parts(&sections, Medium::Discord);
        assert_eq!(parts.len(), 2);
        assert_eq!(
            parts[0],
            format!("{}\n\n{}", Medium::Discord.section(&sections[0]), Medium::Discord.section(&sections[1]))
        );
        // A section of 5,000 characters alone is cut at its lines.
        let parts = render_parts(&[section(500, 9)], Medium::Discord);
        assert_eq!(parts.len(), 3);
        assert!(parts.iter().all(|p| p.chars().count() <= 2000));
        assert_eq!(parts.join("\n"), Medium::Discord.section(&section(500, 9)));
    }

    #[test]
    fn a_line_longer_than_a_message_is_cut_between_escapes() {
        let parts = render_parts(&[vec![Line::text(".".repeat(5000))]], Medium::Telegram);
        assert_eq!(parts.len(), 3);
        for part in &parts {
            assert!(part.encode_utf16().count() <= 4096);
            assert!(part.starts_with("\\.") && part.ends_with("\\."));
        }
        assert_eq!(parts.concat(), escape_markdown_v2(&".".repeat(5000)));
    }
}
