//! The checks of a file as written: the manifest schema, duplicate keys, tokens and keys
//! written where they do not belong, before any order is merged with the defaults.

use super::*;

/// What one order as written holds that the file-level checks report: found by whoever
/// holds the order (the parser's workers), so that the order need not be kept.
#[derive(Default)]
pub(super) struct AsWritten {
    /// The order's `key`, as written.
    key: Option<String>,
    /// What the manifest schema's `$defs/order` found, with where each points.
    issues: Vec<(Issue, Span)>,
    /// Keys written twice in one of its mappings.
    duplicates: Vec<yaml::DuplicateKey>,
    /// Tokens and private keys written where they do not belong.
    tokens: Tokens,
}

/// An order's `key` as written, and what `$defs/order` found in it, with where each points.
pub(super) type OrderIssues = (Option<String>, Vec<(Issue, Span)>);

/// Tokens and private keys found in a tree: diagnostics, and the spans never to show.
#[derive(Default)]
pub(super) struct Tokens {
    diagnostics: Vec<Diagnostic>,
    secrets: Vec<(FileId, Span)>,
}

/// One order of a file, as written and checked; the order itself is not kept.
pub(super) struct OrderDone {
    pub(super) as_written: AsWritten,
    pub(super) checked: Option<Checked>,
}

/// Everything about one order that needs no other order: the checks of it as written and
/// its own checks, merged with `defaults`.
impl<'a> Run<'a> {
    pub(super) fn order_done(
        &self,
        file: FileId,
        index: usize,
        item: Node,
        defaults: Option<&Node>,
        prefix: &str,
    ) -> Box<OrderDone> {
        let as_written = order_as_written(file, &item);
        let checked = self.check_order(file, index, item, defaults, prefix);
        if as_written.issues.is_empty()
            && let Some(order) = checked.as_ref().and_then(|c| c.expanded.as_ref())
        {
            (self.each)(order);
        }
        // Boxed: orders are moved several times on their way to the ledger of results.
        Box::new(OrderDone {
            as_written,
            checked,
        })
    }

    /// Checks one manifest: `m.root` with its `orders` taken out, and `orders`, what was
    /// found in each.
    #[expect(
        clippy::vec_box,
        reason = "boxed orders move as pointers on their way here (measured: 5 ms of 10,000 moves)"
    )]
    pub(super) fn manifest(&mut self, m: &Manifest, mut orders: Vec<Box<OrderDone>>) {
        let file = m.file;
        let mut duplicates = Vec::new();
        yaml::duplicate_keys(&m.root, &mut duplicates);
        let mut tokens = Tokens::default();
        find_tokens(file, &m.root, &mut tokens);
        self.orders.reserve(orders.len());
        self.keys.reserve(orders.len());
        self.ref_ids.reserve(orders.len());
        let mut as_written = Vec::with_capacity(orders.len());
        for order in &mut orders {
            let order = std::mem::take(&mut order.as_written);
            duplicates.extend(order.duplicates);
            tokens.diagnostics.extend(order.tokens.diagnostics);
            tokens.secrets.extend(order.tokens.secrets);
            as_written.push((order.key, order.issues));
        }
        for d in duplicates {
            self.diagnostics.push(
                Diagnostic::error(
                    DiagnosticCode::DuplicateYamlKey,
                    format!(
                        "{} is written twice in the same mapping",
                        shown::quote(&d.key)
                    ),
                )
                .at(file, Some(d.again))
                .label("written again here")
                .related(file, d.first, "first written here"),
            );
        }
        self.diagnostics.extend(tokens.diagnostics);
        self.secrets.extend(tokens.secrets);
        let findings = self.file_schema(m, as_written);

        if matches!(m.root.get("orders").map(|o| &o.value), Some(Value::Seq(_)))
            && orders.is_empty()
        {
            let span = m.root.entry("orders").map(|e| e.key_span);
            self.diagnostics.push(
                Diagnostic::warning(DiagnosticCode::NoOrders, "this manifest has no orders")
                    .at(file, span)
                    .pointer("/orders"),
            );
        }
        self.order_count += orders.len();
        for order in orders {
            if let Some(c) = order.checked {
                self.commit(c, &findings);
            }
        }
    }

    /// Reports what `order-manifest.schema.json` finds in the file as written: in its
    /// frame (`m.root`, whose `orders` are taken out) and, by order, in each order
    /// (`orders`: its `key` and what `$defs/order` found).
    pub(super) fn file_schema(&mut self, m: &Manifest, orders: Vec<OrderIssues>) -> FileFindings {
        let mut findings = FileFindings::default();
        // Every `orders` list emptied: the first one's orders are checked one by one, and
        // a second one (a duplicate key, reported as such) is not checked at all.
        let frame = match &m.root.value {
            Value::Map(entries) => serde_json::Value::Object(
                entries
                    .iter()
                    .map(|e| {
                        let value = match (&e.key[..], &e.value.value) {
                            ("orders", Value::Seq(_)) => serde_json::Value::Array(Vec::new()),
                            _ => e.value.to_json(),
                        };
                        (e.key.clone(), value)
                    })
                    .collect(),
            ),
            _ => m.root.to_json(),
        };
        let frame = Schema::manifest().check(&frame).into_iter().map(|issue| {
            let at = locate(&m.root, &issue.pointer, &issue.target).span;
            (None, issue, at)
        });
        let per_order = orders
            .into_iter()
            .enumerate()
            .flat_map(|(i, (key, issues))| {
                issues.into_iter().map(move |(mut issue, at)| {
                    issue.pointer = format!("/orders/{i}{}", issue.pointer);
                    (Some((i, key.clone())), issue, at)
                })
            });
        for (order, issue, at) in frame.chain(per_order).collect::<Vec<_>>() {
            if matches!(&issue.target, Caret::Unknown(n) if is_token_key(n)) {
                continue; // reported as token-in-manifest
            }
            findings.spans.insert(at, self.diagnostics.len());
            match &order {
                Some((i, _)) => {
                    findings.orders.insert(*i);
                }
                None => findings.shared = true,
            }
            let mut hint = issue.hint;
            if matches!(&issue.target, Caret::Unknown(n) if n == "renewalOf") {
                hint = Some(
                    "`renewalOf` adopts one certificate, so it belongs on an order (under `orders`)"
                        .into(),
                );
            }
            let pointer = match &issue.target {
                Caret::Unknown(n) => format!("{}/{n}", issue.pointer),
                _ => issue.pointer,
            };
            self.diagnostics.push(
                Diagnostic::error(issue.code, issue.message)
                    .at(m.file, Some(at))
                    .pointer(pointer)
                    .order(order.and_then(|(_, key)| key).as_deref())
                    .maybe_hint(hint),
            );
        }
        findings
    }
}

/// One order as written: what the manifest schema's `$defs/order` finds in it (pointers
/// relative to the order), its duplicate keys and misplaced secrets.
pub(super) fn order_as_written(file: FileId, item: &Node) -> AsWritten {
    let mut duplicates = Vec::new();
    yaml::duplicate_keys(item, &mut duplicates);
    // A key written twice in one mapping: checked as the JSON that keeps the last.
    let issues = if duplicates.is_empty() {
        Schema::manifest_order().check_view(View::Yaml(item))
    } else {
        Schema::manifest_order().check(&item.to_json())
    };
    let issues = issues
        .into_iter()
        .map(|issue| {
            let at = locate(item, &issue.pointer, &issue.target).span;
            (issue, at)
        })
        .collect();
    let mut found = AsWritten {
        key: item.get("key").and_then(Node::as_str).map(str::to_owned),
        issues,
        duplicates,
        ..AsWritten::default()
    };
    find_tokens(file, item, &mut found.tokens);
    found
}

/// The `defaults` and `refIdPrefix` among a file's top-level entries (the first of each),
/// which every order of the file is merged with.
pub(super) fn frame_parts(entries: &[yaml::Entry]) -> (Option<&Node>, &str) {
    let first = |key: &str| entries.iter().find(|e| e.key == key).map(|e| &e.value);
    let prefix = first("refIdPrefix").and_then(Node::as_str).unwrap_or("");
    let defaults = first("defaults").filter(|d| matches!(d.value, Value::Map(_)));
    (defaults, prefix)
}

/// `api_token` anywhere in a manifest is an error: the token comes from the environment.
/// A private key written anywhere (a key, a value of any field) is never shown.
fn find_tokens(file: FileId, node: &Node, out: &mut Tokens) {
    match &node.value {
        Value::Str(s) if private_key::contains_private_key(s) => {
            out.secrets.push((file, node.span));
            out.diagnostics.push(misplaced_key(file, node.span));
        }
        Value::Map(entries) => {
            for e in entries {
                if private_key::contains_private_key(&e.key) {
                    out.secrets.push((file, e.key_span));
                    out.diagnostics.push(misplaced_key(file, e.key_span));
                }
                // `privateKey` is where a key belongs (and is checked there); a key in
                // `csr` is `private-key-as-csr`.
                if matches!(e.key.as_str(), "privateKey" | "csr") {
                    if let Value::Str(s) = &e.value.value
                        && private_key::contains_private_key(s)
                    {
                        out.secrets.push((file, e.value.span));
                    }
                    continue;
                }
                if is_token_key(&e.key) {
                    out.secrets.push((file, e.value.span));
                    out.diagnostics.push(
                        Diagnostic::error(
                            DiagnosticCode::TokenInManifest,
                            "an API token must never be written in a manifest",
                        )
                        .at(file, Some(e.key_span))
                        .hint(
                            "remove it, and rotate the token if this file was ever committed; \
                             the token comes from NICSRS_API_TOKEN or --token-file",
                        ),
                    );
                }
                find_tokens(file, &e.value, out);
            }
        }
        Value::Seq(items) => items.iter().for_each(|n| find_tokens(file, n, out)),
        _ => {}
    }
}

/// A private key written where no key belongs: it would be sent to NicSRS as the value
/// of that field.
fn misplaced_key(file: FileId, span: Span) -> Diagnostic {
    Diagnostic::error(
        DiagnosticCode::PrivateKeyMisplaced,
        "a private key is written here, in a field that would send it to NicSRS",
    )
    .at(file, Some(span))
    .hint("remove it; a key that was committed or shared should be replaced")
}

/// `api_token`, however it is spelt (`apiToken`, `API-TOKEN`).
pub(super) fn is_token_key(key: &str) -> bool {
    let mut letters = key.bytes().filter(|b| !matches!(b, b'-' | b'_'));
    b"apitoken"
        .iter()
        .all(|want| letters.next().is_some_and(|b| b.eq_ignore_ascii_case(want)))
        && letters.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::is_token_key;

    #[test]
    fn a_token_key_is_recognised_however_it_is_spelt_and_nothing_else_is() {
        for key in [
            "api_token",
            "apiToken",
            "API-TOKEN",
            "Api__Token",
            "-apitoken_",
        ] {
            assert!(is_token_key(key), "{key}");
        }
        for key in ["apitokens", "apitoke", "api_tokn", "token", "", "äpitoken"] {
            assert!(!is_token_key(key), "{key}");
        }
    }
}
