//! The checks of one order, merged with the defaults and with its references resolved:
//! the order schema, the product's rules, the CSR and the private key.

use super::file::is_token_key;
use super::*;

impl<'a> Run<'a> {
    /// Everything about one order that does not depend on the other orders nor on the
    /// file-level checks: merged, resolved, checked against the schema and the rules,
    /// expanded. Runs in parallel, while the file is still being parsed.
    pub(super) fn check_order(
        &self,
        file: FileId,
        index: usize,
        item: Node,
        defaults: Option<&Node>,
        prefix: &str,
    ) -> Option<Checked> {
        let key_entry = item.entry("key")?;
        let key = key_entry.value.as_str()?.to_owned();
        let key_span = key_entry.value.span;
        let key = key.as_str();
        let mut tree = expand::merge(defaults, item);
        // `renewalOf` in `defaults` is reported there; no order adopts a certificate by it.
        if let Value::Map(entries) = &mut tree.value {
            entries.retain(|e| !(e.key == "renewalOf" && e.value.origin == Origin::Defaults));
        }
        expand::numbers_as_text(&mut tree, self.sources.get(file));
        let ctx = OrderCtx {
            file,
            index,
            key,
            ref_id_derived: expand::derive_ref_id(&mut tree, prefix),
        };
        let mut checked = Checked {
            file,
            index,
            key: key.to_owned(),
            key_span,
            ref_id: tree
                .get("refId")
                .and_then(|r| Some((r.as_str()?.to_owned(), r.span))),
            derived: ctx.ref_id_derived,
            renewal_of: tree.get("renewalOf").and_then(|r| {
                let id = match &r.value {
                    Value::Str(s) => s.clone(),
                    Value::Int(n) => n.to_string(),
                    _ => return None,
                };
                Some((id, r.span))
            }),
            diagnostics: Vec::new(),
            schema_diagnostics: Vec::new(),
            secrets: Vec::new(),
            expanded: None,
        };
        let found = &mut checked.diagnostics;
        for field in ["csr", "privateKey"] {
            found.extend(self.resolve(&mut tree, field, &ctx, &mut checked.secrets));
        }
        let csr_info = self.csr(&tree, &ctx, found);
        if csr_info.is_some() {
            // Text before the CSR's block (`openssl req -text`) is not sent.
            let block = tree
                .get("params")
                .and_then(|p| p.get("csr"))
                .and_then(Node::as_str)
                // A CSR written as its block alone is sent as written, byte for byte.
                .filter(|pem| !pem.trim_start().starts_with("-----BEGIN"))
                .and_then(|pem| csr::sole_block(pem).ok())
                .map(|b| format!("{b}\n"));
            if let (Some(block), Some(node)) = (block, params_field_mut(&mut tree, "csr"))
                && node.as_str() != Some(block.as_str())
            {
                node.value = Value::Str(block);
            }
        }
        if let Some(issue) = key_mismatch(&tree, csr_info.as_ref()) {
            found.push(self.order_diag(&ctx, &tree, Severity::Error, issue));
        }
        let product = self.product(&tree, &ctx, key_span, found);

        let renew_before = tree
            .get("renewBefore")
            .and_then(Node::as_str)
            .and_then(lifecycle::RenewBefore::parse)
            .unwrap_or_default();
        if let Some(product) = product {
            let view = View::Order {
                tree: &tree,
                product: product.rule_object(),
            };
            // A key written twice in one mapping: checked as the JSON that keeps the last.
            let issues = if !yaml::has_duplicate_keys(&tree) {
                Schema::order().check_view(view)
            } else {
                Schema::order().check(&view.to_json())
            };
            let issues: Vec<(Severity, Issue)> = issues
                .into_iter()
                .map(|i| (Severity::Error, i))
                .chain(rules::check(
                    &tree,
                    product,
                    &self.options.catalog,
                    csr_info.as_ref(),
                ))
                .collect();
            // Keys refused as unknown, by the mapping they are in: one of them may be a
            // misspelling of a field reported missing there.
            let unknown: Vec<(&str, &str)> = issues
                .iter()
                .filter_map(|(_, i)| match &i.target {
                    Caret::Unknown(n) => Some((i.pointer.as_str(), n.as_str())),
                    _ => None,
                })
                .collect();
            let mut shown = Vec::new();
            for (severity, issue) in &issues {
                match &issue.target {
                    Caret::Unknown(n) if is_token_key(n) => continue,
                    Caret::Missing(n) if pointer::misspelt(&unknown, &issue.pointer, n) => {
                        continue; // the misspelt key is reported as unknown
                    }
                    _ => {}
                }
                shown.push((*severity, issue.clone()));
            }
            for (severity, issue) in shown {
                checked
                    .schema_diagnostics
                    .push(self.order_diag(&ctx, &tree, severity, issue));
            }
        }
        let failed = found.iter().any(Diagnostic::is_error)
            || checked.schema_diagnostics.iter().any(Diagnostic::is_error);
        if !failed && let Some(product) = product {
            checked.expanded =
                ExpandedOrder::from_tree(key, file, index, key_span, &tree).map(|mut order| {
                    order.price = product.price_for(
                        order.years,
                        crate::catalog::NameCount::of(order.domains.iter().map(String::as_str)),
                    );
                    order.renew_before = renew_before;
                    order.renewal_of = checked.renewal_of.as_ref().map(|(id, _)| id.clone());
                    order
                });
        }
        Some(checked)
    }

    /// The catalogue entry of the order's `productCode`, or a diagnostic saying why not.
    pub(super) fn product(
        &self,
        tree: &Node,
        ctx: &OrderCtx,
        key_span: Span,
        found: &mut Vec<Diagnostic>,
    ) -> Option<&'a Product> {
        let Some(code_node) = tree.get("productCode") else {
            let issue = Issue {
                code: DiagnosticCode::MissingField,
                message: "missing required field `productCode`".into(),
                pointer: String::new(),
                target: Caret::Missing("productCode".into()),
                hint: Some("set it in the order or in `defaults`".into()),
            };
            found.push(
                self.order_diag(ctx, tree, Severity::Error, issue)
                    .at(ctx.file, Some(key_span)),
            );
            return None;
        };
        let code = code_node.as_str()?; // the schema reports a code that is not a string
        let product = self.options.catalog.get(code);
        if product.is_none() {
            let hint = diagnostic::did_you_mean(code, self.options.catalog.codes()).or_else(|| {
                Some("`nicsrs-batch catalog` lists the known codes; --catalog FILE uses your own list".into())
            });
            let issue = Issue {
                code: DiagnosticCode::UnknownProduct,
                message: format!("unknown product code {}", shown::quote(code)),
                pointer: "/productCode".into(),
                target: Caret::Value,
                hint,
            };
            found.push(self.order_diag(ctx, tree, Severity::Error, issue));
        }
        product
    }

    /// Replaces a `{file:}`/`{env:}` reference in the tree by what it names, and refuses
    /// inline private keys. A reference that fails is reported and left out of the tree.
    pub(super) fn resolve(
        &self,
        tree: &mut Node,
        field: &str,
        ctx: &OrderCtx,
        secrets: &mut Vec<(FileId, Span)>,
    ) -> Option<Diagnostic> {
        let node = tree.get("params").and_then(|p| p.get(field))?;
        let base = self.sources.get(ctx.file).base_dir();
        let pointer = format!("/params/{field}");
        match references::resolve(node, base) {
            Resolution::Inline if field == "privateKey" => {
                secrets.push((ctx.file, node.span));
                let severity = if self.options.allow_inline_secrets {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                let issue = Issue {
                    code: DiagnosticCode::InlinePrivateKey,
                    message: "a private key is written inline in a manifest that is committed to Git".into(),
                    pointer,
                    target: Caret::Value,
                    hint: Some(
                        "use `privateKey: { file: PATH }` or `{ env: VARIABLE }`, and keep the key out of the repository"
                            .into(),
                    ),
                };
                Some(self.order_diag(ctx, tree, severity, issue))
            }
            Resolution::Inline if field == "csr" => {
                let text = node.as_str().unwrap_or("");
                if !private_key::contains_private_key(text) {
                    return None;
                }
                secrets.push((ctx.file, node.span));
                let issue = private_key_as_csr("`csr`".into(), pointer);
                let d = self.order_diag(ctx, tree, Severity::Error, issue);
                remove_param(tree, field);
                Some(d)
            }
            Resolution::Inline | Resolution::Malformed => None,
            Resolution::Resolved { text, span } => {
                let written = references::written(node).unwrap_or_default();
                let via = if node.get("file").is_some() {
                    "file"
                } else {
                    "env"
                };
                let at = format!("{pointer}/{via}");
                if let Some(issue) = referenced_problem(field, &written, &text, &at) {
                    let d = self.order_diag(ctx, tree, Severity::Error, issue);
                    remove_param(tree, field);
                    return Some(d);
                }
                if let Some(target) = params_field_mut(tree, field) {
                    target.value = Value::Str(text);
                    target.span = span;
                }
                None
            }
            Resolution::Failed {
                code,
                message,
                via,
                hint,
            } => {
                let issue = Issue {
                    code,
                    message,
                    pointer: format!("{pointer}/{via}"),
                    target: Caret::Value,
                    hint: hint.map(str::to_owned),
                };
                let d = self.order_diag(ctx, tree, Severity::Error, issue);
                remove_param(tree, field);
                Some(d)
            }
        }
    }

    /// Parses and verifies the order's CSR, if it has one as PEM text.
    pub(super) fn csr(
        &self,
        tree: &Node,
        ctx: &OrderCtx,
        found: &mut Vec<Diagnostic>,
    ) -> Option<CsrInfo> {
        let pem = tree.get("params")?.get("csr")?.as_str()?;
        if !pem.contains("-----BEGIN") {
            return None; // the schema reports a value that is not PEM at all
        }
        if let Err(why) = csr::sole_block(pem) {
            let issue = Issue {
                code: DiagnosticCode::CsrInvalid,
                message: format!("`csr` is not one certificate request: {why}"),
                pointer: "/params/csr".into(),
                target: Caret::Value,
                hint: Some(
                    "give only the `-----BEGIN CERTIFICATE REQUEST-----` block: nothing else in the value is sent"
                        .into(),
                ),
            };
            found.push(self.order_diag(ctx, tree, Severity::Error, issue));
            return None;
        }
        match self.inspect_csr(pem) {
            Ok(info) => Some(info),
            Err(e) => {
                let code = match e {
                    csr::CsrError::BadSignature(_) => DiagnosticCode::CsrBadSignature,
                    _ => DiagnosticCode::CsrInvalid,
                };
                let issue = Issue {
                    code,
                    message: e.to_string(),
                    pointer: "/params/csr".into(),
                    target: Caret::Value,
                    hint: Some("generate it again, e.g. `openssl req -new -key KEY -subj /CN=NAME -out NAME.csr`".into()),
                };
                found.push(self.order_diag(ctx, tree, Severity::Error, issue));
                None
            }
        }
    }
}

impl Run<'_> {
    /// [`csr::inspect`], once per distinct CSR of the run: orders that share a CSR file
    /// (or a CSR in `defaults`) are verified once.
    fn inspect_csr(&self, pem: &str) -> Result<CsrInfo, csr::CsrError> {
        let known = self
            .csrs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(pem)
            .cloned();
        if let Some(known) = known {
            return known;
        }
        let found = csr::inspect(pem);
        self.csrs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(pem.to_owned(), found.clone());
        found
    }
}

/// A `privateKey` that is not the key of the order's CSR, or is no key at all (an inline
/// one; a referenced one is checked when it is read).
pub(super) fn key_mismatch(tree: &Node, csr: Option<&crate::csr::CsrInfo>) -> Option<Issue> {
    let pem = tree.get("params")?.get("privateKey")?.as_str()?;
    let issue = |code: DiagnosticCode, message: String| Issue {
        code,
        message,
        pointer: "/params/privateKey".into(),
        target: Caret::Value,
        hint: Some("give the PEM key the CSR was made from".into()),
    };
    match private_key::public_key_of(pem) {
        Ok(public) => csr.filter(|c| c.public_key != public).map(|_| {
            issue(
                DiagnosticCode::PrivateKeyMismatch,
                "`privateKey` does not belong to the CSR: their public keys differ".into(),
            )
        }),
        Err(private_key::KeyError::Encrypted) => None,
        Err(e) if pem.contains("-----BEGIN") => Some(issue(
            DiagnosticCode::PrivateKeyInvalid,
            format!("`privateKey`: {e}"),
        )),
        // Not PEM at all: the schema reports it.
        Err(_) => None,
    }
}

/// Takes `params.<field>` out of an order tree (a value already reported as unusable).
pub(super) fn remove_param(tree: &mut Node, field: &str) {
    if let Some(Value::Map(params)) = tree.get_mut("params").map(|p| &mut p.value) {
        params.retain(|e| e.key != field);
    }
}

/// A private key where the CSR belongs: its own diagnostic, never quoting it.
pub(super) fn private_key_as_csr(what: String, pointer: String) -> Issue {
    Issue {
        code: DiagnosticCode::PrivateKeyAsCsr,
        message: format!("{what} holds a private key, not a certificate request"),
        pointer,
        target: Caret::Value,
        hint: Some(
            "give the CSR made from the key (`openssl req -new -key KEY -out NAME.csr`); a key that was committed or shared should be replaced"
                .into(),
        ),
    }
}

/// What is wrong with what a `{file:}`/`{env:}` reference of `field` read, said without
/// ever quoting it (it may be a secret: a token, a key, `/proc/self/environ`).
pub(super) fn referenced_problem(
    field: &str,
    written: &str,
    text: &str,
    pointer: &str,
) -> Option<Issue> {
    let issue = |code: DiagnosticCode, message: String, hint: &str| Issue {
        code,
        message,
        pointer: pointer.to_owned(),
        target: Caret::Value,
        hint: Some(hint.into()),
    };
    match field {
        "csr" if private_key::contains_private_key(text) => Some(private_key_as_csr(
            format!("`csr` {written}"),
            pointer.to_owned(),
        )),
        "csr" => {
            let label = private_key::pem_label(text);
            let is_csr = matches!(
                label.as_deref(),
                Some("CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST")
            );
            (!is_csr).then(|| {
                issue(
                    DiagnosticCode::CsrInvalid,
                    format!(
                        "`csr` {written} does not hold a certificate request: {}",
                        private_key::describe_content(text)
                    ),
                    "point it at a PEM file starting with `-----BEGIN CERTIFICATE REQUEST-----`",
                )
            })
        }
        "privateKey" => match private_key::public_key_of(text) {
            Ok(_) | Err(private_key::KeyError::Encrypted) => None,
            Err(private_key::KeyError::NotAKey(_)) => Some(issue(
                DiagnosticCode::PrivateKeyInvalid,
                format!(
                    "`privateKey` {written} does not hold a private key: {}",
                    private_key::describe_content(text)
                ),
                "point it at the PEM key the CSR was made from",
            )),
            Err(e) => Some(issue(
                DiagnosticCode::PrivateKeyInvalid,
                format!("`privateKey` {written}: {e}"),
                "point it at the PEM key the CSR was made from",
            )),
        },
        _ => None,
    }
}

/// The node of `params.<field>` in an order tree, for rewriting it in place.
pub(super) fn params_field_mut<'t>(tree: &'t mut Node, field: &str) -> Option<&'t mut Node> {
    tree.get_mut("params")?.get_mut(field)
}
