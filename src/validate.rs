//! The validate stage: every manifest of a run read, checked against both schemas and the
//! rules, and expanded; every problem collected before anything fails.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::catalog::{Catalog, Product};
use crate::csr::{self, CsrInfo};
use crate::diagnostic::DiagnosticCode;
use crate::diagnostic::{self, Diagnostic, Severity};
use crate::error::Error;
use crate::expand::{self, ExpandedOrder};
use crate::manifest::{self, Manifest};
use crate::pointer::{self, locate};
use crate::private_key;
use crate::references::{self, Resolution};
use crate::schema::{Caret, Issue, Schema};
use crate::shown;
use crate::source::{FileId, Sources, Span};
use crate::yaml::{self, Node, Origin, Value};
use crate::{lifecycle, rules};

/// What changes how manifests are judged.
#[derive(Clone, Debug)]
pub struct Options {
    /// The products and their rules.
    pub catalog: Catalog,
    /// Lower `inline-private-key` from an error to a warning.
    pub allow_inline_secrets: bool,
}

/// The result of validating a run's manifests.
#[derive(Debug)]
pub struct Validated {
    /// The files read, for rendering diagnostics.
    pub sources: Sources,
    /// Every problem found, sorted by file and position.
    pub diagnostics: Vec<Diagnostic>,
    /// How many orders the manifests hold.
    pub order_count: usize,
    /// The orders that expanded without error, in manifest order.
    pub orders: Vec<ExpandedOrder>,
    /// Secrets written in manifests (tokens, inline keys): never printed with a source line.
    pub secrets: Vec<(FileId, Span)>,
}

impl Validated {
    /// Whether no diagnostic is an error.
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads, validates and expands every manifest named by `paths` (files or directories).
/// Problems in the manifests are diagnostics; `Err` means the run could not happen.
pub fn validate(paths: &[PathBuf], options: &Options) -> Result<Validated, Error> {
    let files = manifest::discover(paths)?;
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let manifests = manifest::load(&files, &mut sources, &mut diagnostics)?;
    let mut run = Run {
        options,
        sources: &sources,
        diagnostics,
        orders: Vec::new(),
        order_count: 0,
        keys: HashMap::new(),
        ref_ids: HashMap::new(),
        adopted: HashMap::new(),
        repeated: HashMap::new(),
        more_orders: HashMap::new(),
        secrets: Vec::new(),
    };
    for m in &manifests {
        run.manifest(m);
    }
    let Run {
        mut diagnostics,
        orders,
        order_count,
        more_orders,
        secrets,
        ..
    } = run;
    for (index, more) in more_orders {
        diagnostics[index].notes.push(format!(
            "the same problem is in {}",
            crate::shown::counted(more as u64, "more order")
        ));
    }
    diagnostic::sort(&mut diagnostics);
    Ok(Validated {
        sources,
        diagnostics,
        order_count,
        orders,
        secrets,
    })
}

/// State of one validation run.
struct Run<'a> {
    options: &'a Options,
    sources: &'a Sources,
    diagnostics: Vec<Diagnostic>,
    orders: Vec<ExpandedOrder>,
    order_count: usize,
    keys: HashMap<String, (FileId, Span)>,
    ref_ids: HashMap<String, (FileId, Span)>,
    /// `renewalOf` certIds seen so far, and where.
    adopted: HashMap<String, (FileId, Span)>,
    /// Order diagnostics by what they say and where, to fold repeats of one problem
    /// shared through `defaults` into the first: its index in `diagnostics`.
    repeated: HashMap<(DiagnosticCode, String, FileId, Span), usize>,
    /// How many more orders share the problem of the diagnostic at an index.
    more_orders: HashMap<usize, usize>,
    secrets: Vec<(FileId, Span)>,
}

/// What the file-level schema check found, which the order-level checks must not repeat.
#[derive(Default)]
struct FileFindings {
    /// Spans already reported, with the index of their diagnostic.
    spans: HashMap<Span, usize>,
    /// Orders (by index) with a file-level error.
    orders: HashSet<usize>,
    /// Whether `defaults` (or the file's frame) has an error, which every order inherits.
    shared: bool,
}

/// One order after the checks that need no other order.
struct Checked {
    file: FileId,
    index: usize,
    key: String,
    key_span: Span,
    ref_id: Option<(String, Span)>,
    derived: bool,
    renewal_of: Option<(String, Span)>,
    diagnostics: Vec<Diagnostic>,
    secrets: Vec<(FileId, Span)>,
    /// File-level diagnostics (by index) about defaults this order inherits.
    inherited: Vec<usize>,
    expanded: Option<ExpandedOrder>,
}

/// Maps `f` over `items` on the machine's cores, keeping the order. Small inputs stay on
/// this thread.
fn par_map<T: Sync, R: Send>(items: &[T], f: impl Fn(usize, &T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || items.len() < 512 {
        return items.iter().enumerate().map(|(i, t)| f(i, t)).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .enumerate()
            .map(|(n, part)| {
                scope.spawn(move || {
                    part.iter()
                        .enumerate()
                        .map(|(i, t)| f(n * chunk + i, t))
                        .collect::<Vec<R>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// The order a diagnostic belongs to.
struct OrderCtx<'t> {
    file: FileId,
    index: usize,
    key: &'t str,
    ref_id_derived: bool,
}

impl<'a> Run<'a> {
    fn manifest(&mut self, m: &Manifest) {
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
    fn file_schema(&mut self, m: &Manifest) -> FileFindings {
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
    fn find_tokens(&mut self, file: FileId, node: &Node) {
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
    fn misplaced_key(&mut self, file: FileId, span: Span) {
        self.diagnostics.push(
            Diagnostic::error(
                DiagnosticCode::PrivateKeyMisplaced,
                "a private key is written here, in a field that would send it to NicSRS",
            )
            .at(file, Some(span))
            .hint("remove it; a key that was committed or shared should be replaced"),
        );
    }

    /// Everything about one order that does not depend on the other orders: merged,
    /// resolved, checked against the schema and the rules, expanded. Runs in parallel.
    fn check_order(
        &self,
        file: FileId,
        index: usize,
        item: &Node,
        defaults: Option<&Node>,
        prefix: &str,
        findings: &FileFindings,
    ) -> Option<Checked> {
        let key_entry = item.entry("key")?;
        let key = key_entry.value.as_str()?;
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
            key_span: key_entry.value.span,
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
            secrets: Vec::new(),
            inherited: Vec::new(),
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
        let product = self.product(&tree, &ctx, key_entry.value.span, found);

        let renew_before = tree
            .get("renewBefore")
            .and_then(Node::as_str)
            .and_then(lifecycle::RenewBefore::parse)
            .unwrap_or_default();
        let mut json = tree.to_json();
        if let Some(obj) = json.as_object_mut() {
            // The tool's own fields: not part of any request.
            for field in ["key", "renewBefore", "renewalOf"] {
                obj.shift_remove(field);
            }
        }
        if let Some(product) = product {
            if let Some(obj) = json.as_object_mut() {
                obj.insert("product".into(), product.rule_object());
            }
            let issues: Vec<(Severity, Issue)> = Schema::order()
                .check(&json)
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
                let at = locate(&tree, &issue.pointer, &issue.target).span;
                if let Some(&reported) = findings
                    .spans
                    .get(&at)
                    .filter(|_| severity == Severity::Error)
                {
                    // Already reported against the file as written (a bad default).
                    checked.inherited.push(reported);
                    continue;
                }
                found.push(self.order_diag(&ctx, &tree, severity, issue));
            }
        }
        let failed = found.iter().any(Diagnostic::is_error)
            || !checked.inherited.is_empty()
            || findings.shared
            || findings.orders.contains(&index);
        if !failed && let Some(product) = product {
            checked.expanded =
                ExpandedOrder::from_json(key, file, index, key_entry.value.span, &json).map(
                    |mut order| {
                        order.price = product.price_for(
                            order.years,
                            crate::catalog::NameCount::of(order.domains.iter().map(String::as_str)),
                        );
                        order.renew_before = renew_before;
                        order.renewal_of = checked.renewal_of.as_ref().map(|(id, _)| id.clone());
                        order
                    },
                );
        }
        Some(checked)
    }

    /// Adds one checked order to the run, in manifest order: the checks across orders
    /// (unique keys and refIds), its diagnostics, and its expansion if all is well.
    fn commit(&mut self, c: Checked) {
        let file = c.file;
        let at = format!("/orders/{}", c.index);
        let key_is_new = self.unique(file, c.key_span, &c.key, &format!("{at}/key"));
        let mut ref_is_new = true;
        if (key_is_new || !c.derived)
            && let Some((value, span)) = &c.ref_id
        {
            ref_is_new = self.unique(file, *span, value, &format!("{at}/refId"));
        }
        let mut adoption_is_new = true;
        if let Some((value, span)) = &c.renewal_of {
            adoption_is_new = self.unique(file, *span, value, &format!("{at}/renewalOf"));
        }
        for d in c.diagnostics {
            self.push_order_diag(d);
        }
        self.secrets.extend(c.secrets);
        for reported in c.inherited {
            self.inherited_by(reported, &c.key);
        }
        if key_is_new
            && ref_is_new
            && adoption_is_new
            && let Some(order) = c.expanded
        {
            self.orders.push(order);
        }
    }

    /// The catalogue entry of the order's `productCode`, or a diagnostic saying why not.
    fn product(
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

    /// Records a key or refId and reports it when another order already has it.
    /// Returns whether it was new.
    fn unique(&mut self, file: FileId, span: Span, value: &str, pointer: &str) -> bool {
        let (map, code, what, hint) = if pointer.ends_with("/key") {
            (
                &mut self.keys,
                DiagnosticCode::DuplicateKey,
                "key",
                "keys identify orders across all files of a run; give each order its own",
            )
        } else if pointer.ends_with("/renewalOf") {
            (
                &mut self.adopted,
                DiagnosticCode::DuplicateRenewalOf,
                "renewalOf",
                "a certificate is adopted by one order only, or it would be renewed twice",
            )
        } else {
            (
                &mut self.ref_ids,
                DiagnosticCode::DuplicateRefId,
                "refId",
                "refIds must be unique; NicSRS would accept a second order with the same refId",
            )
        };
        let Some(&(first_file, first_span)) = map.get(value) else {
            map.insert(value.to_owned(), (file, span));
            return true;
        };
        let mut d = Diagnostic::error(
            code,
            format!(
                "{what} {} is used by more than one order",
                shown::quote(value)
            ),
        )
        .at(file, Some(span))
        .pointer(pointer)
        .label("used again here")
        .hint(hint);
        if first_file == file {
            d = d.related(file, first_span, "first used here");
        } else {
            let first = self.sources.get(first_file);
            let (line, col) = first.line_col(first_span.start);
            d = d.note(format!("first used at {}:{line}:{col}", first.display));
        }
        self.diagnostics.push(d);
        false
    }

    /// Replaces a `{file:}`/`{env:}` reference in the tree by what it names, and refuses
    /// inline private keys. A reference that fails is reported and left out of the tree.
    fn resolve(
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
    fn csr(&self, tree: &Node, ctx: &OrderCtx, found: &mut Vec<Diagnostic>) -> Option<CsrInfo> {
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
        match csr::inspect(pem) {
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

    /// A diagnostic about a value of an order's merged tree, pointing at the order or at
    /// the default it inherited.
    fn order_diag(
        &self,
        ctx: &OrderCtx,
        tree: &Node,
        severity: Severity,
        issue: Issue,
    ) -> Diagnostic {
        let found = locate(tree, &issue.pointer, &issue.target);
        let mut pointer = match found.origin {
            Origin::Order => format!("/orders/{}{}", ctx.index, issue.pointer),
            Origin::Defaults => format!("/defaults{}", issue.pointer),
        };
        if let Caret::Unknown(n) = &issue.target {
            pointer.push('/');
            pointer.push_str(n);
        }
        let mut d = match severity {
            Severity::Error => Diagnostic::error(issue.code, issue.message),
            Severity::Warning => Diagnostic::warning(issue.code, issue.message),
        }
        .at(ctx.file, Some(found.span))
        .pointer(pointer)
        .order(Some(ctx.key))
        .maybe_hint(issue.hint);
        if found.origin == Origin::Defaults {
            d = d.note("the value is inherited from `defaults`");
        }
        if ctx.ref_id_derived && issue.pointer == "/refId" {
            d = d.note(
                "the refId is derived as `refIdPrefix` + `key`; set `refId` to choose another",
            );
        }
        d
    }

    /// Adds an order diagnostic, folding repeats of one problem shared through `defaults`.
    fn push_order_diag(&mut self, d: Diagnostic) {
        let key = (
            d.code,
            d.message.clone(),
            d.place.map_or(usize::MAX, |p| p.file),
            d.place.and_then(|p| p.span).unwrap_or_default(),
        );
        if let Some(&first) = self.repeated.get(&key) {
            *self.more_orders.entry(first).or_default() += 1;
            return;
        }
        self.repeated.insert(key, self.diagnostics.len());
        self.diagnostics.push(d);
    }

    /// Notes that the order `key` inherits the problem of the diagnostic at `index`.
    fn inherited_by(&mut self, index: usize, key: &str) {
        let d = &mut self.diagnostics[index];
        if d.order.is_none() {
            d.order = Some(key.to_owned());
            d.notes
                .push("the value is inherited from `defaults`".into());
        } else if d.order.as_deref() != Some(key) {
            *self.more_orders.entry(index).or_default() += 1;
        }
    }
}

/// A `privateKey` that is not the key of the order's CSR, or is no key at all (an inline
/// one; a referenced one is checked when it is read).
fn key_mismatch(tree: &Node, csr: Option<&crate::csr::CsrInfo>) -> Option<Issue> {
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
fn remove_param(tree: &mut Node, field: &str) {
    if let Some(Value::Map(params)) = tree.get_mut("params").map(|p| &mut p.value) {
        params.retain(|e| e.key != field);
    }
}

/// A private key where the CSR belongs: its own diagnostic, never quoting it.
fn private_key_as_csr(what: String, pointer: String) -> Issue {
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
fn referenced_problem(field: &str, written: &str, text: &str, pointer: &str) -> Option<Issue> {
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
fn params_field_mut<'t>(tree: &'t mut Node, field: &str) -> Option<&'t mut Node> {
    tree.get_mut("params")?.get_mut(field)
}

/// `api_token`, however it is spelt (`apiToken`, `API-TOKEN`).
fn is_token_key(key: &str) -> bool {
    key.to_ascii_lowercase().replace(['-', '_'], "") == "apitoken"
}
