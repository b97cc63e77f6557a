//! YAML read into a tree of nodes that remember where they came from.
//!
//! serde-saphyr parses; this module turns its output into [`Node`]s that carry a byte
//! [`Span`] for every value and every mapping key, so that any later stage can point a
//! diagnostic at the exact place in the file. Budgets bound what a hostile file can cost.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::options::DuplicateKeyPolicy;
use serde_saphyr::{Location, SnippetMode};

use crate::source::Span;

mod spanned;
mod stream;

use spanned::spanned;
pub use stream::{OrderStream, parse_streaming};

/// Largest manifest read, in bytes. A 10,000-order manifest is about 3 MB.
pub const MAX_FILE_BYTES: u64 = 32 * 1024 * 1024;
/// Deepest nesting accepted; a manifest needs 6 levels.
pub const MAX_DEPTH: usize = 32;
/// Most events held under anchors (a contact block is about 25).
const MAX_ANCHORED_EVENTS: usize = 100_000;
/// Stack for the parser thread.
const PARSE_STACK_BYTES: usize = 64 * 1024 * 1024;
/// Most YAML nodes in one file (ample for 10,000 orders of 100 nodes).
pub const MAX_NODES: usize = 2_000_000;

/// Where a node of a merged order came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Written in the order itself.
    Order,
    /// Inherited from the file's `defaults`.
    Defaults,
}

/// One YAML value with its position.
#[derive(Clone, Debug)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where the value is written.
    pub span: Span,
    /// Whether the value is the order's own or inherited from `defaults`.
    pub origin: Origin,
}

/// A mapping entry: the key with its own span, and the value.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key as written (scalars of any type are read as text).
    pub key: String,
    /// Where the key is written.
    pub key_span: Span,
    /// The value.
    pub value: Node,
}

/// The value of a [`Node`].
#[derive(Clone, Debug)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` or `false` (YAML 1.2 spellings only: `no` is a string, so Norway stays `NO`).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in file order. Repeated keys are kept so they can be reported.
    Map(Vec<Entry>),
}

impl Node {
    /// A `null` written nowhere.
    pub fn null() -> Node {
        Node {
            value: Value::Null,
            span: Span::default(),
            origin: Origin::Order,
        }
    }

    /// The entry for `key` in a mapping.
    pub fn entry(&self, key: &str) -> Option<&Entry> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key),
            _ => None,
        }
    }

    /// The value for `key` in a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|e| &e.value)
    }

    /// The value for `key` in a mapping, to change it.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Node> {
        match &mut self.value {
            Value::Map(entries) => entries
                .iter_mut()
                .find(|e| e.key == key)
                .map(|e| &mut e.value),
            _ => None,
        }
    }

    /// The string value, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The child addressed by one JSON-pointer segment (a key or an index).
    pub fn child(&self, segment: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(_) => self.get(segment),
            Value::Seq(items) => segment.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        }
    }

    /// The JSON name of this node's type, as used in messages.
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "null",
            Value::Bool(_) => "boolean",
            Value::Int(_) => "integer",
            Value::Float(_) => "number",
            Value::Str(_) => "string",
            Value::Seq(_) => "sequence",
            Value::Map(_) => "mapping",
        }
    }

    /// Converts the tree to JSON for schema validation.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// Marks this node and everything under it as coming from `origin`.
    pub fn set_origin(&mut self, origin: Origin) {
        self.origin = origin;
        match &mut self.value {
            Value::Seq(items) => items.iter_mut().for_each(|n| n.set_origin(origin)),
            Value::Map(entries) => entries.iter_mut().for_each(|e| e.value.set_origin(origin)),
            _ => {}
        }
    }
}

/// Why a file is not a YAML document this tool can read.
#[derive(Debug)]
pub struct YamlError {
    /// What the parser said, without its own location suffix.
    pub message: String,
    /// Where, when the parser knows.
    pub span: Option<Span>,
}

/// A key repeated inside one mapping.
#[derive(Debug)]
pub struct DuplicateKey {
    /// The key.
    pub key: String,
    /// The first occurrence.
    pub first: Span,
    /// The repeated occurrence.
    pub again: Span,
}

/// Parses one YAML document.
pub fn parse(text: &str) -> Result<Node, YamlError> {
    parse_with(text, None)
}

/// Parses one document, handing its orders to `stream` as they are read, if given.
fn parse_with(text: &str, stream: Option<OrderStream>) -> Result<Node, YamlError> {
    if text.trim().is_empty() {
        return Err(YamlError {
            message: "the file is empty".into(),
            span: None,
        });
    }
    // Deserialising recurses once per nesting level; the depth budget stops a deep file
    // long before this stack runs out, even in a debug build.
    let parsed = std::thread::scope(|scope| {
        std::thread::Builder::new()
            .name("yaml-parse".into())
            .stack_size(PARSE_STACK_BYTES)
            .spawn_scoped(scope, move || {
                stream::install(stream);
                let parsed = parse_on_this_thread(text);
                // An order stream not taken (the root was not read) ends here.
                stream::install(None);
                parsed
            })
            .map(|handle| handle.join())
    });
    match parsed {
        Ok(Ok(result)) => result,
        _ => Err(YamlError {
            message: "the YAML parser could not run".into(),
            span: None,
        }),
    }
}

fn parse_on_this_thread(text: &str) -> Result<Node, YamlError> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_depth: MAX_DEPTH,
            max_nodes: MAX_NODES,
            max_events: MAX_NODES * 3,
            max_documents: 1,
            // Anchors in a manifest hold a contact or two; a bomb nests them.
            max_recorded_anchor_events: MAX_ANCHORED_EVENTS,
        },
        duplicate_keys: DuplicateKeyPolicy::PassThrough,
        strict_booleans: true,
        leading_zero_numbers_as_strings: true,
    };
    serde_saphyr::from_str_with_options::<stream::Root>(text, options)
        .map(|root| root.0)
        .map_err(|err| {
            let location = err
                .location()
                .or_else(|| err.locations().and_then(|l| l.primary_location()));
            let line_col = location.map(|l| (l.line(), l.column()));
            let span = location
                .and_then(|l| span_of(&l))
                .or_else(|| line_col.and_then(|(line, col)| offset_of(text, line, col)))
                .map(|at| {
                    if at.end == at.start {
                        point_at(text, at.start)
                    } else {
                        at
                    }
                });
            let mut message = err.render_with_options(serde_saphyr::render_options! {
                snippets: SnippetMode::Off,
            });
            if let Some(cut) = message.find(" at line ") {
                message.truncate(cut);
            }
            YamlError {
                message: friendly(message),
                span,
            }
        })
}

/// Whether a key is repeated within one mapping anywhere in the tree.
pub fn has_duplicate_keys(node: &Node) -> bool {
    let mut found = Vec::new(); // allocates only when one is found
    duplicate_keys(node, &mut found);
    !found.is_empty()
}

/// Mappings up to this size are searched for repeated keys by comparing every pair.
const SMALL_MAP: usize = 16;

/// Every key repeated within one mapping, anywhere in the tree.
pub fn duplicate_keys(node: &Node, out: &mut Vec<DuplicateKey>) {
    match &node.value {
        Value::Seq(items) => items.iter().for_each(|n| duplicate_keys(n, out)),
        Value::Map(entries) => {
            if entries.len() > SMALL_MAP {
                let mut seen: std::collections::HashMap<&str, Span> =
                    std::collections::HashMap::with_capacity(entries.len());
                for e in entries {
                    if let Some(first) = seen.insert(&e.key, e.key_span) {
                        out.push(DuplicateKey {
                            key: e.key.clone(),
                            first,
                            again: e.key_span,
                        });
                    }
                }
            } else {
                // A manifest's mappings are small: comparing costs less than hashing.
                for (i, e) in entries.iter().enumerate() {
                    if let Some(before) = entries[..i].iter().rev().find(|b| b.key == e.key) {
                        out.push(DuplicateKey {
                            key: e.key.clone(),
                            first: before.key_span,
                            again: e.key_span,
                        });
                    }
                }
            }
            entries.iter().for_each(|e| duplicate_keys(&e.value, out));
        }
        _ => {}
    }
}

/// Rewords budget breaches, which the parser reports in its own debug notation.
fn friendly(message: String) -> String {
    let Some(breach) = message.strip_prefix("budget breached: ") else {
        return message;
    };
    if breach.starts_with("Depth") {
        format!("the file nests more than {MAX_DEPTH} levels deep")
    } else if breach.contains("Anchor") || breach.contains("Alias") || breach.contains("Replay") {
        "aliases in this file expand to too much data (an alias bomb?)".into()
    } else if breach.starts_with("Nodes") || breach.starts_with("Events") {
        format!("the file has more than {MAX_NODES} YAML nodes")
    } else {
        format!("the file exceeds a parser limit ({breach})")
    }
}

/// The byte offset of a 1-based line and character column.
fn offset_of(text: &str, line: u64, col: u64) -> Option<Span> {
    let line_start = if line <= 1 {
        0
    } else {
        text.match_indices('\n')
            .nth(usize::try_from(line - 2).ok()?)
            .map(|(i, _)| i + 1)?
    };
    let rest = &text[line_start..];
    let line_len = rest.find('\n').unwrap_or(rest.len());
    let within = rest[..line_len]
        .char_indices()
        .nth(usize::try_from(col.saturating_sub(1)).ok()?)
        .map_or(line_len, |(i, _)| i);
    Some(Span::new(line_start + within, line_start + within))
}

/// Widens an empty span to the character it is at, so a caret shows.
fn point_at(text: &str, at: u32) -> Span {
    let start = at as usize;
    let len = text
        .get(start..)
        .and_then(|rest| rest.chars().next())
        .filter(|c| *c != '\n')
        .map_or(0, char::len_utf8);
    Span::new(start, start + len)
}

fn span_of(location: &Location) -> Option<Span> {
    let span = location.span();
    let start = span.byte_offset()?;
    let len = span.byte_len().unwrap_or(0);
    Some(Span::new(start as usize, (start + len) as usize))
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // A number is sent as the text written (a phone number's `+`, a postcode's form):
        // through an alias, that text is at the anchor, so its span is taken from there.
        let (Bare(value), span) =
            spanned::spanned_seed(deserializer, std::marker::PhantomData::<Bare>, |Bare(v)| {
                matches!(v, Value::Int(_) | Value::Float(_))
            })?;
        Ok(Node {
            value,
            span,
            origin: Origin::Order,
        })
    }
}

/// A value without its span; [`Node`] reads it with its span.
struct Bare(Value);

impl<'de> Deserialize<'de> for Bare {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ValueVisitor).map(Bare)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_i128<E>(self, v: i128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_u128<E>(self, v: u128) -> Result<Value, E> {
        Ok(i64::try_from(v).map_or(Value::Float(v as f64), Value::Int))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<Value, E> {
        Err(E::custom("binary values are not accepted in a manifest"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1024));
        while let Some(node) = seq.next_element::<Node>()? {
            items.push(node);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(0).min(64));
        while let Some(SpannedKey(KeyText(key), key_span)) = map.next_key()? {
            let value = map.next_value::<Node>()?;
            entries.push(Entry {
                key,
                key_span,
                value,
            });
        }
        Ok(Value::Map(entries))
    }
}

/// A mapping key with its span.
struct SpannedKey(KeyText, Span);

impl<'de> Deserialize<'de> for SpannedKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        spanned(deserializer).map(|(key, span)| SpannedKey(key, span))
    }
}

/// A mapping key, whatever scalar type it was written as, read as text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar mapping key")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<KeyText, E> {
                Ok(KeyText(v))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".into()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, span: Span) -> &str {
        &text[span.start as usize..span.end as usize]
    }

    #[test]
    fn every_value_and_key_has_its_span() {
        let text = "a: 1\nlist:\n  - { x: \"q\" }\n  - y: NO\n";
        let root = parse(text).expect("parses");
        let a = root.entry("a").expect("a");
        assert_eq!(at(text, a.key_span), "a");
        assert_eq!(at(text, a.value.span), "1");
        let list = root.get("list").expect("list");
        let y = list.child("1").and_then(|n| n.get("y")).expect("y");
        assert_eq!(
            y.as_str(),
            Some("NO"),
            "NO stays a string (strict booleans)"
        );
        assert_eq!(at(text, y.span), "NO");
        let x = list.child("0").and_then(|n| n.entry("x")).expect("x");
        assert_eq!(at(text, x.key_span), "x");
    }

    #[test]
    fn duplicate_keys_are_kept_and_found() {
        let root = parse("a: 1\nb: 2\na: 3\n").expect("parses");
        let mut dups = Vec::new();
        duplicate_keys(&root, &mut dups);
        assert_eq!(dups.len(), 1);
        assert_eq!(dups[0].key, "a");
        assert_eq!((dups[0].first.start, dups[0].again.start), (0, 10));
    }

    #[test]
    fn hostile_input_is_an_error_not_a_panic() {
        let deep = "[".repeat(100_000);
        assert!(parse(&deep).is_err());
        let nested: String = (0..1000)
            .map(|i| format!("{}- \n", " ".repeat(i * 2)))
            .collect();
        let err = parse(&nested).expect_err("too deep");
        assert_eq!(err.message, "the file nests more than 32 levels deep");
        let bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\ng: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nh: [*g, *g, *g, *g, *g, *g, *g, *g, *g]\n";
        let err = parse(bomb).expect_err("alias bomb");
        assert!(err.message.contains("alias bomb"), "{}", err.message);
        let err = parse("a:\n\tb: 1\n").expect_err("tab");
        assert_eq!(err.span, Some(Span::new(4, 5)), "points at the tab");
    }
}
