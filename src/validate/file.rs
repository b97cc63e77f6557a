//! The checks of a file as written: the manifest schema, tokens and keys written where they
//! do not belong, before any order is merged with the defaults.

use super::*;

impl<'a> Run<'a> {
    pub(super) fn manifest(&mut self, m: &Manifest) {
        let file = m.file;
        let mut dups = Vec::new();
        yaml::duplicate_keys(&m.root, &mut dups);
        for d in dups {
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
        self.find_tokens(file, &m.root);
        let findings = self.file_schema(m);

        let prefix = m
            .root
            .get("refIdPrefix")
            .and_then(Node::as_str)
            .unwrap_or("");
        let defaults = m
            .root
            .get("defaults")
            .filter(|d| matches!(d.value, Value::Map(_)));
        let Some(Value::Seq(items)) = m.root.get("orders").map(|o| &o.value) else {
            return;
        };
        if items.is_empty() {
            let span = m.root.entry("orders").map(|e| e.key_span);
            self.diagnostics.push(
                Diagnostic::warning(DiagnosticCode::NoOrders, "this manifest has no orders")
                    .at(file, span)
                    .pointer("/orders"),
            );
        }
        self.order_count += items.len();
        let this = &*self;
        let checked = par_map(items, |index, item| {
            this.check_order(file, index, item, defaults, prefix, &findings)
        });
        for c in checked.into_iter().flatten() {
            self.commit(c);
        }
    }

    /// Checks the file as written against `order-manifest.schema.json`: its frame with
    /// `orders` emptied, then each order against `$defs/order`.
    pub(super) fn file_schema(&mut self, m: &Manifest) -> FileFindings {
        let mut findings = FileFindings::default();
        let orders = match m.root.get("orders").map(|o| &o.value) {
            Some(Value::Seq(items)) => items.as_slice(),
            _ => &[],
        };
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
        let mut issues = Schema::manifest().check(&frame);
        let per_order = par_map(orders, |i, item| {
            let mut found = Schema::manifest_order().check(&item.to_json());
            for issue in &mut found {
                issue.pointer = format!("/orders/{i}{}", issue.pointer);
            }
            found
        });
        issues.extend(per_order.into_iter().flatten());
        for issue in issues {
            if matches!(&issue.target, Caret::Unknown(n) if is_token_key(n)) {
                continue; // reported as token-in-manifest
            }
            let found = locate(&m.root, &issue.pointer, &issue.target);
            findings.spans.insert(found.span, self.diagnostics.len());
            let index = pointer::order_index(&issue.pointer);
            match index {
                Some(i) => {
                    findings.orders.insert(i);
                }
                None => findings.shared = true,
            }
            let order = index.and_then(|i| orders.get(i)?.get("key")?.as_str());
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
                    .at(m.file, Some(found.span))
                    .pointer(pointer)
                    .order(order)
                    .maybe_hint(hint),
            );
        }
        findings
    }

    /// `api_token` anywhere in a manifest is an error: the token comes from the environment.
    /// A private key written anywhere (a key, a value of any field) is never shown.
    pub(super) fn find_tokens(&mut self, file: FileId, node: &Node) {
        match &node.value {
            Value::Str(s) if private_key::contains_private_key(s) => {
                self.secrets.push((file, node.span));
                self.misplaced_key(file, node.span);
            }
            Value::Map(entries) => {
                for e in entries {
                    if private_key::contains_private_key(&e.key) {
                        self.secrets.push((file, e.key_span));
                        self.misplaced_key(file, e.key_span);
                    }
                    // `privateKey` is where a key belongs (and is checked there); a key in
                    // `csr` is `private-key-as-csr`.
                    if matches!(e.key.as_str(), "privateKey" | "csr") {
                        if let Value::Str(s) = &e.value.value
                            && private_key::contains_private_key(s)
                        {
                            self.secrets.push((file, e.value.span));
                        }
                        continue;
                    }
                    if is_token_key(&e.key) {
                        self.secrets.push((file, e.value.span));
                        self.diagnostics.push(
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
                    self.find_tokens(file, &e.value);
                }
            }
            Value::Seq(items) => items.iter().for_each(|n| self.find_tokens(file, n)),
            _ => {}
        }
    }

    /// A private key written where no key belongs: it would be sent to NicSRS as the value
    /// of that field.
    pub(super) fn misplaced_key(&mut self, file: FileId, span: Span) {
        self.diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::PrivateKeyMisplaced,
                "a private key is written here, in a field that would send it to NicSRS",
            )
            .at(file, Some(span))
            .hint("remove it; a key that was committed or shared should be replaced"),
        );
    }
}

/// `api_token`, however it is spelt (`apiToken`, `API-TOKEN`).
pub(super) fn is_token_key(key: &str) -> bool {
    key.to_ascii_lowercase().replace(['-', '_'], "") == "apitoken"
}
