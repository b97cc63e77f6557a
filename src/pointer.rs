//! Where a JSON pointer from a schema error lands in a node tree, so the caret goes under
//! the right characters of the file.

use crate::manifest::yaml::{Node, Origin, Value};
use crate::schema::Caret;
use crate::source::Span;

/// The place a problem is shown at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Found {
    /// The bytes to underline.
    pub span: Span,
    /// Whether the value is the order's own or inherited from `defaults`.
    pub origin: Origin,
}

/// Unescapes one JSON-pointer segment (`~1` is `/`, `~0` is `~`).
pub fn unescape(segment: &str) -> std::borrow::Cow<'_, str> {
    if segment.contains('~') {
        segment.replace("~1", "/").replace("~0", "~").into()
    } else {
        segment.into()
    }
}

/// The deepest node `pointer` reaches, and the span of the key it was reached by
/// (`None` for the root and for sequence items).
pub fn walk<'n>(root: &'n Node, pointer: &str) -> (&'n Node, Option<Span>) {
    let mut node = root;
    let mut key_span = None;
    for seg in pointer.split('/').skip(1) {
        let seg = unescape(seg);
        let next = match &node.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == seg).map(|e| {
                key_span = Some(e.key_span);
                &e.value
            }),
            Value::Seq(items) => seg
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .inspect(|_| key_span = None),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    (node, key_span)
}

/// Where to show a problem about `pointer`: under the value; under the key of a mapping
/// that lacks a field; under an unexpected key itself.
pub fn locate(root: &Node, pointer: &str, target: &Caret) -> Found {
    let (node, key_span) = walk(root, pointer);
    let span = match target {
        Caret::Unknown(name) => match node.entry(name) {
            Some(e) => {
                return Found {
                    span: e.key_span,
                    origin: e.value.origin,
                };
            }
            None => node.span,
        },
        Caret::Missing(_) => key_span.unwrap_or(node.span),
        Caret::Value => match (&node.value, key_span) {
            (Value::Map(_) | Value::Seq(_), Some(k)) => k,
            _ => node.span,
        },
    };
    Found {
        span,
        origin: node.origin,
    }
}

/// The index of the order a file-level pointer (`/orders/N/...`) is inside.
pub fn order_index(pointer: &str) -> Option<usize> {
    pointer
        .strip_prefix("/orders/")?
        .split('/')
        .next()?
        .parse()
        .ok()
}

/// Whether one of the `unknown` keys (each with the pointer of its mapping) of the mapping
/// at `pointer` looks like a misspelling of `name`: a missing field is then not reported,
/// as the misspelt key already is. A key the mapping may hold (`lastName` beside a missing
/// `firstName`) is never taken for a misspelling.
pub fn misspelt(unknown: &[(&str, &str)], pointer: &str, name: &str) -> bool {
    unknown.iter().any(|(at, key)| {
        *at == pointer && *key != name && !crate::diagnostic::nearest(key, [name]).is_empty()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::parse;

    #[test]
    fn carets_go_under_values_keys_and_mappings() {
        let text = "a:\n  b: [1, {c: 2}]\n  d/e: x\n";
        let root = parse(text).expect("yaml");
        let at = |p: &str, t: Caret| {
            let s = locate(&root, p, &t).span;
            &text[s.start as usize..s.end as usize]
        };
        assert_eq!(at("/a/b/1/c", Caret::Value), "2");
        assert_eq!(
            at("/a/b", Caret::Value),
            "b",
            "a sequence is shown by its key"
        );
        assert_eq!(at("/a", Caret::Missing("z".into())), "a");
        assert_eq!(at("/a", Caret::Unknown("d/e".into())), "d/e");
        assert_eq!(at("/a/d~1e", Caret::Value), "x");
        assert_eq!(order_index("/orders/12/params"), Some(12));
        let unknown = [("/a", "lastNme")];
        assert!(misspelt(&unknown, "/a", "lastName"), "a misspelling");
        assert!(
            !misspelt(&[("/a", "lastName")][..0], "/a", "firstName"),
            "a valid key beside a missing one is no misspelling"
        );
        assert!(!misspelt(&unknown, "/b", "lastName"), "another mapping");
    }
}
