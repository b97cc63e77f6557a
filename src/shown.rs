//! Untrusted text made safe to show: values quoted from manifests, ledgers and the API's
//! replies are cut to a bounded length and have control, invisible and bidirectional
//! characters escaped, so that no input can make output grow without bound, rewrite the
//! terminal, or read differently from what it is (CVE-2021-42574, "Trojan Source").

use std::fmt::Write;

/// Longest value quoted in a diagnostic, in characters.
pub const QUOTE_CHARS: usize = 80;
/// Longest message, hint or note of a diagnostic, in characters.
pub const MESSAGE_CHARS: usize = 600;
/// Longest text from the API that is printed or recorded, in characters.
pub const REPLY_TEXT_CHARS: usize = 400;

/// Whether `c` must not be shown as itself: C0/C1 controls (escape sequences), the
/// bidirectional controls, zero-width and other invisible format characters, and the BOM.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2069}' | '\u{FEFF}' | '\u{00AD}' | '\u{180E}'
            | '\u{FFF9}'..='\u{FFFB}' | '\u{E0000}'..='\u{E007F}')
}

/// `c` as it is shown: itself, or an escape (`\n`, `\t`, `\u{202e}`).
fn push_shown(out: &mut String, c: char, keep_newlines: bool) {
    match c {
        '\n' if keep_newlines => out.push('\n'),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c if is_hidden(c) => {
            let _ = write!(out, "\\u{{{:04x}}}", c as u32);
        }
        c => out.push(c),
    }
}

/// `n` and the noun, in the singular for one and the plural (with `s`) otherwise:
/// `counted(1, "order")` is `1 order`, `counted(3, "order")` is `3 orders`.
pub fn counted(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

/// `s` with hidden characters escaped and cut after `max` characters with an ellipsis and
/// how long it was. Line breaks are escaped too: the result is one line.
pub fn bounded(s: &str, max: usize) -> String {
    bounded_inner(s, max, false)
}

/// Like [`bounded`], but line breaks are kept (for multi-line messages).
pub fn bounded_lines(s: &str, max: usize) -> String {
    bounded_inner(s, max, true)
}

/// What is shown in place of text that holds a private key.
pub const KEY_REDACTED: &str = "<redacted: it holds a private key>";

/// Whether `s` holds a PEM private key (its `PRIVATE KEY-----` marker): such text is never
/// shown, whatever it is (a message quoting a value, a source line).
pub fn holds_private_key(s: &str) -> bool {
    s.contains("PRIVATE KEY-----")
}

fn bounded_inner(s: &str, max: usize, keep_newlines: bool) -> String {
    if holds_private_key(s) {
        return KEY_REDACTED.into();
    }
    let mut out = String::with_capacity(s.len().min(max * 2));
    for (count, (i, c)) in s.char_indices().enumerate() {
        if count == max {
            let total = count + s[i..].chars().count();
            let _ = write!(out, "… ({total} characters)");
            return out;
        }
        push_shown(&mut out, c, keep_newlines);
    }
    out
}

/// A value quoted in a diagnostic: `` `value` ``, bounded and escaped.
pub fn quote(s: &str) -> String {
    format!("`{}`", bounded(s, QUOTE_CHARS))
}

/// Whether any character of `s` needs escaping.
pub fn needs_escaping(s: &str) -> bool {
    s.chars().any(is_hidden)
}

/// `text` with every occurrence of `secret` (in any letter case, and form- or
/// percent-encoded) replaced by `<redacted>`. A secret shorter than 12 bytes is not searched
/// for: it would match ordinary words (the sandbox's token is `sandbox`), and an API token
/// that short is not one.
pub fn redact(text: &str, secret: &str) -> String {
    if secret.len() < 12 {
        return text.to_owned();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
    let mut out = replace_ignoring_case(text, secret);
    if encoded != secret {
        out = replace_ignoring_case(&out, &encoded);
    }
    out
}

/// `text` with `needle` replaced by `<redacted>` wherever it occurs, ASCII letters
/// compared without case.
fn replace_ignoring_case(text: &str, needle: &str) -> String {
    let (hay, pin) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    if !hay.contains(&pin) {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    // ASCII lowercasing keeps every byte where it was, so positions carry over.
    while let Some(i) = hay[at..].find(&pin) {
        out.push_str(&text[at..at + i]);
        out.push_str("<redacted>");
        at += i + pin.len();
    }
    out.push_str(&text[at..]);
    out
}

/// A line of a source file cut to a window of at most `max` characters around the byte
/// range `start..end`, with hidden characters escaped; returns the text and the range's
/// new byte offsets in it.
pub fn window(line: &str, start: usize, end: usize, max: usize) -> (String, usize, usize) {
    if holds_private_key(line) {
        return (KEY_REDACTED.into(), 0, KEY_REDACTED.len());
    }
    let start = floor_boundary(line, start.min(line.len()));
    let end = floor_boundary(line, end.clamp(start, line.len()));
    // A line that fits is shown whole; a longer one from half a window before the range.
    let before: Vec<(usize, char)> = line[..start].char_indices().collect();
    let lead = if line.chars().count() <= max {
        max
    } else {
        max / 2
    };
    let first = before.len().saturating_sub(lead);
    let mut out = String::new();
    if first > 0 {
        out.push('…');
    }
    for &(_, c) in &before[first..] {
        push_in_line(&mut out, c);
    }
    let new_start = out.len();
    let mut shown = before.len() - first;
    let mut new_end = out.len();
    let mut rest = line[start..].char_indices().peekable();
    while let Some((i, c)) = rest.next() {
        if shown >= max {
            out.push('…');
            if start + i < end {
                new_end = out.len();
            }
            break;
        }
        push_in_line(&mut out, c);
        shown += 1;
        if start + i < end {
            new_end = out.len();
        }
        if rest.peek().is_none() {
            break;
        }
    }
    if end == start {
        new_end = new_start;
    }
    (out, new_start, new_end)
}

/// A character of a source line as shown: tabs stay (the renderer lays them out).
fn push_in_line(out: &mut String, c: char) {
    if c == '\t' {
        out.push(c);
    } else {
        push_shown(out, c, false);
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// Bytes as lowercase hexadecimal (digests, in the ledger and in messages).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// Where a GitHub Actions annotation points.
#[derive(Clone, Copy, Debug, Default)]
pub struct At<'a> {
    /// The file, as the repository names it.
    pub file: Option<&'a str>,
    /// 1-based line.
    pub line: Option<usize>,
    /// 1-based column.
    pub col: Option<usize>,
}

/// One GitHub Actions workflow command (`::error file=…,line=…,col=…,title=…::message`):
/// every value escaped as the runner unescapes it, so that nothing a manifest holds (a line
/// break, `::`) can start a command of its own.
pub fn github_annotation(level: &str, at: At<'_>, title: &str, message: &str) -> String {
    let data = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| data(s).replace(':', "%3A").replace(',', "%2C");
    let mut props = Vec::new();
    if let Some(file) = at.file {
        props.push(format!("file={}", property(&repo_relative(file))));
    }
    if let Some(line) = at.line {
        props.push(format!("line={line}"));
    }
    if let Some(col) = at.col {
        props.push(format!("col={col}"));
    }
    props.push(format!("title={}", property(title)));
    format!("::{level} {}::{}", props.join(","), data(message))
}

/// `path` as GitHub names a file of the repository: relative to the working directory (the
/// checkout), without `./`; a path outside it is left as it is.
fn repo_relative(path: &str) -> String {
    let mut p = path;
    if std::path::Path::new(p).is_absolute()
        && let Ok(cwd) = std::env::current_dir()
        && let Ok(rest) = std::path::Path::new(p).strip_prefix(&cwd)
    {
        return rest.display().to_string();
    }
    while let Some(rest) = p.strip_prefix("./") {
        p = rest.trim_start_matches('/');
    }
    p.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoted_values_are_bounded_and_escaped() {
        assert_eq!(quote("abc"), "`abc`");
        let long = "x".repeat(10_000);
        let q = quote(&long);
        assert!(q.chars().count() < QUOTE_CHARS + 30, "{q}");
        assert!(q.ends_with("… (10000 characters)`"));
        assert_eq!(
            quote("a\u{202e}b\x1b[2Jc\n"),
            "`a\\u{202e}b\\u{001b}[2Jc\\n`"
        );
    }

    #[test]
    fn redaction_finds_plain_and_encoded_secrets() {
        let token = "s3cr+t/x-0123456789";
        assert_eq!(
            redact("bad token s3cr+t/x-0123456789", token),
            "bad token <redacted>"
        );
        assert_eq!(redact("BAD S3CR+T/X-0123456789!", token), "BAD <redacted>!");
        assert_eq!(
            redact("api_token=s3cr%2Bt%2Fx-0123456789", token),
            "api_token=<redacted>"
        );
        assert_eq!(redact("a sandbox reply", "sandbox"), "a sandbox reply");
        assert_eq!(
            quote("-----BEGIN PRIVATE KEY-----\nMIIE"),
            format!("`{KEY_REDACTED}`")
        );
    }

    #[test]
    fn a_window_keeps_the_range_in_view() {
        let line = format!("key: {}", "v".repeat(1000));
        let (text, s, e) = window(&line, 5, line.len(), 100);
        assert!(text.chars().count() <= 102);
        assert_eq!(&text[s..s + 1], "v");
        assert!(e > s && e <= text.len());
        let (text, s, e) = window("a: \u{202e}x", 3, 7, 100);
        assert_eq!(text, "a: \\u{202e}x");
        assert_eq!((s, e), (3, text.len()));
        let (text, s, e) = window("abc", 1, 1, 100);
        assert_eq!((text.as_str(), s, e), ("abc", 1, 1));
    }
}
