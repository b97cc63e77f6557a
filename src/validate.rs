//! The validate stage: every manifest of a run read, checked against both schemas and the
//! rules, and expanded; every problem collected before anything fails.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::catalog::Catalog;
use crate::csr::{self, CsrInfo};
use crate::diagnostic::{self, Diagnostic, Severity};
use crate::error::Error;
use crate::expand::{self, ExpandedOrder};
use crate::manifest::{self, Manifest};
use crate::rules;
use crate::schema::{Issue, Schema, Target};
use crate::source::{FileId, SourceFile, Sources, Span};
use crate::yaml::{self, Node, Origin, Value};

/// Largest file a `{file: ...}` reference may name (a CSR or key is a few KB).
pub const MAX_REFERENCED_FILE_BYTES: u64 = 1024 * 1024;

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
pub struct Outcome {
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

impl Outcome {
    /// Whether no diagnostic is an error.
    pub fn is_valid(&self) -> bool {
        !self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Reads, validates and expands every manifest named by `paths` (files or directories).
/// Problems in the manifests are diagnostics; `Err` means the run could not happen.
pub fn validate(paths: &[PathBuf], options: &Options) -> Result<Outcome, Error> {
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
        repeated: HashMap::new(),
        secrets: Vec::new(),
    };
    for m in &manifests {
        run.manifest(m);
    }
    let Run {
        mut diagnostics,
        orders,
        order_count,
        repeated,
        secrets,
        ..
    } = run;
    for (index, more) in repeated.into_values() {
        if more > 0 {
            diagnostics[index].notes.push(format!(
                "the same problem is in {more} more order{}",
                if more == 1 { "" } else { "s" }
            ));
        }
    }
    diagnostic::sort(&mut diagnostics);
    Ok(Outcome {
        sources,
        diagnostics,
        order_count,
        orders,
        secrets,
    })
}

/// Where a value is, found by walking a node tree along a JSON pointer.
struct Found {
    span: Span,
    origin: Origin,
}

/// Unescapes one JSON-pointer segment.
fn segment(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}

fn locate(root: &Node, pointer: &str, target: &Target) -> Found {
    let mut node = root;
    let mut key_span = None;
    for seg in pointer.split('/').skip(1).map(segment) {
        let next = match &node.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == seg).map(|e| {
                key_span = Some(e.key_span);
                &e.value
            }),
            Value::Seq(items) => seg
                .parse::<usize>()
                .ok()
                .and_then(|i| items.get(i))
                .inspect(|_| {
                    key_span = None;
                }),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    let span = match target {
        Target::Unknown(name) => match node.entry(name) {
            Some(e) => {
                return Found {
                    span: e.key_span,
                    origin: e.value.origin,
                };
            }
            None => node.span,
        },
        Target::Missing(_) => key_span.unwrap_or(node.span),
        Target::Value => match (&node.value, key_span) {
            (Value::Map(_) | Value::Seq(_), Some(k)) => k,
            _ => node.span,
        },
    };
    Found {
        span,
        origin: node.origin,
    }
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
    /// Identical order diagnostics (a bad default shared by many orders): first index, repeats.
    repeated: HashMap<(String, String, FileId, Span), (usize, usize)>,
    secrets: Vec<(FileId, Span)>,
}

/// The order a diagnostic belongs to.
struct OrderCtx<'t> {
    file: FileId,
    index: usize,
    key: &'t str,
    ref_id_derived: bool,
}

impl Run<'_> {
    fn manifest(&mut self, m: &Manifest) {
        let file = m.file;
        let mut dups = Vec::new();
        yaml::duplicate_keys(&m.root, &mut dups);
        for d in dups {
            self.diagnostics.push(
                Diagnostic::error(
                    "duplicate-yaml-key",
                    format!("`{}` is written twice in the same mapping", d.key),
                )
                .at(file, Some(d.again))
                .label("written again here")
                .related(file, d.first, "first written here"),
            );
        }
        self.find_tokens(file, &m.root);

        let mut flagged: Vec<Span> = Vec::new();
        for issue in Schema::manifest().check(&m.root.to_json()) {
            if matches!(&issue.target, Target::Unknown(n) if is_token_key(n)) {
                continue;
            }
            let found = locate(&m.root, &issue.pointer, &issue.target);
            flagged.push(found.span);
            let pointer = match &issue.target {
                Target::Unknown(n) => format!("{}/{n}", issue.pointer),
                _ => issue.pointer.clone(),
            };
            let order = order_key_of(&m.root, &pointer);
            self.diagnostics.push(
                Diagnostic::error(issue.code, issue.message)
                    .at(file, Some(found.span))
                    .pointer(pointer)
                    .order(order)
                    .maybe_hint(issue.hint),
            );
        }

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
                Diagnostic::warning("no-orders", "this manifest has no orders")
                    .at(file, span)
                    .pointer("/orders"),
            );
        }
        for (index, item) in items.iter().enumerate() {
            self.order_count += 1;
            self.order(file, index, item, defaults, prefix, &flagged);
        }
    }

    /// `api_token` anywhere in a manifest is an error: the token comes from the environment.
    fn find_tokens(&mut self, file: FileId, node: &Node) {
        match &node.value {
            Value::Map(entries) => {
                for e in entries {
                    if is_token_key(&e.key) {
                        self.secrets.push((file, e.value.span));
                        self.diagnostics.push(
                            Diagnostic::error("token-in-manifest", "an API token must never be written in a manifest")
                                .at(file, Some(e.key_span))
                                .hint("remove it, and rotate the token if this file was ever committed; the token comes from NICSRS_API_TOKEN or --token-file"),
                        );
                    }
                    self.find_tokens(file, &e.value);
                }
            }
            Value::Seq(items) => items.iter().for_each(|n| self.find_tokens(file, n)),
            _ => {}
        }
    }

    fn order(
        &mut self,
        file: FileId,
        index: usize,
        item: &Node,
        defaults: Option<&Node>,
        prefix: &str,
        flagged: &[Span],
    ) {
        let Some(key_entry) = item.entry("key") else {
            return;
        };
        let Some(key) = key_entry.value.as_str() else {
            return;
        };
        let src = self.sources.get(file);
        let mut tree = expand::merge(defaults, item);
        expand::numbers_as_text(&mut tree, src);
        let derived = expand::derive_ref_id(&mut tree, prefix);
        let ctx = OrderCtx {
            file,
            index,
            key,
            ref_id_derived: derived,
        };
        let before = self.diagnostics.len();

        let key_is_new = self.unique(file, key_entry.value.span, key, true);
        if let Some(ref_node) = tree.get("refId").filter(|_| key_is_new || !derived) {
            if let Some(r) = ref_node.as_str() {
                self.unique(file, ref_node.span, r, false);
            }
        }

        let mut found = Vec::new();
        for field in ["csr", "privateKey"] {
            if let Some(n) = tree
                .get("params")
                .and_then(|p| p.get(field))
                .filter(|n| field == "privateKey" && n.as_str().is_some())
            {
                self.secrets.push((file, n.span));
            }
            if let Some(d) = self.resolve(&mut tree, field, src, &ctx) {
                found.push(d);
            }
        }
        let csr_info = self.csr(&tree, &ctx, &mut found);

        let code_node = tree.get("productCode");
        let product = match code_node.map(|n| (n, n.as_str())) {
            Some((n, Some(code))) => {
                match self.options.catalog.get(code) {
                    Some(p) => Some(p),
                    None => {
                        let hint = diagnostic::did_you_mean(code, self.options.catalog.codes())
                        .or_else(|| Some("see `nicsrs-batch catalog` for the known codes, or pass --catalog".into()));
                        found.push(self.order_diag(
                            &ctx,
                            &tree,
                            Severity::Error,
                            Issue {
                                code: "unknown-product".into(),
                                message: format!("unknown product code `{code}`"),
                                pointer: "/productCode".into(),
                                target: Target::Value,
                                hint,
                            },
                            n.span,
                        ));
                        None
                    }
                }
            }
            Some(_) => None,
            None => {
                found.push(self.order_diag(
                    &ctx,
                    &tree,
                    Severity::Error,
                    Issue {
                        code: "missing-field".into(),
                        message: "missing required field `productCode`".into(),
                        pointer: String::new(),
                        target: Target::Missing("productCode".into()),
                        hint: Some("set it in the order or in `defaults`".into()),
                    },
                    key_entry.value.span,
                ));
                None
            }
        };

        let mut json = tree.to_json();
        if let Some(obj) = json.as_object_mut() {
            obj.shift_remove("key");
        }
        if let Some(product) = product {
            if let Some(obj) = json.as_object_mut() {
                obj.insert("product".into(), product.rule_object());
            }
            let mut issues: Vec<(Severity, Issue)> = Schema::order()
                .check(&json)
                .into_iter()
                .map(|i| (Severity::Error, i))
                .collect();
            issues.extend(rules::check(&tree, product, csr_info.as_ref()));
            for (severity, issue) in issues {
                if matches!(&issue.target, Target::Unknown(n) if is_token_key(n)) {
                    continue;
                }
                if let Target::Missing(name) = &issue.target {
                    if misspelt_in(&tree, &issue.pointer, name) {
                        continue; // the misspelling is reported as an unknown field
                    }
                }
                let at = locate(&tree, &issue.pointer, &issue.target).span;
                if severity == Severity::Error && flagged.contains(&at) {
                    continue; // already reported against the file as written
                }
                found.push(self.order_diag(&ctx, &tree, severity, issue, at));
            }
        }
        for d in found {
            self.push_order_diag(d);
        }
        let failed = self.diagnostics[before..].iter().any(Diagnostic::is_error)
            || flagged
                .iter()
                .any(|s| s.start >= item.span.start && within(item, *s));
        if failed || product.is_none() {
            return;
        }
        let Some(obj) = json.as_object() else { return };
        let (Some(product_code), Some(years), Some(ref_id), Some(params)) = (
            obj.get("productCode").and_then(|v| v.as_str()),
            obj.get("years")
                .and_then(|v| v.as_u64())
                .and_then(|y| u32::try_from(y).ok()),
            obj.get("refId").and_then(|v| v.as_str()),
            obj.get("params"),
        ) else {
            return;
        };
        self.orders.push(ExpandedOrder {
            key: key.to_owned(),
            file,
            index,
            span: key_entry.value.span,
            product_code: product_code.to_owned(),
            years,
            ref_id: ref_id.to_owned(),
            params: params.clone(),
        });
    }

    /// Records a key or refId and reports it when another order already has it.
    fn unique(&mut self, file: FileId, span: Span, value: &str, is_key: bool) -> bool {
        let (map, code, what) = if is_key {
            (&mut self.keys, "duplicate-key", "key")
        } else {
            (&mut self.ref_ids, "duplicate-ref-id", "refId")
        };
        if let Some(&(first_file, first_span)) = map.get(value) {
            let mut d = Diagnostic::error(
                code,
                format!("{what} `{value}` is used by more than one order"),
            )
            .at(file, Some(span))
            .label("used again here")
            .hint(if is_key {
                "keys identify orders across all files of a run; give each order its own".to_owned()
            } else {
                "refIds must be unique; NicSRS would accept a second order with the same refId"
                    .to_owned()
            });
            if first_file == file {
                d = d.related(file, first_span, "first used here");
            } else {
                let (line, col) = self.sources.get(first_file).line_col(first_span.start);
                d = d.note(format!(
                    "first used at {}:{line}:{col}",
                    self.sources.get(first_file).display
                ));
            }
            self.diagnostics.push(d);
            false
        } else {
            map.insert(value.to_owned(), (file, span));
            true
        }
    }

    /// Reads a `{file: ...}` or `{env: ...}` reference into the tree, and refuses inline keys.
    fn resolve(
        &self,
        tree: &mut Node,
        field: &str,
        src: &SourceFile,
        ctx: &OrderCtx,
    ) -> Option<Diagnostic> {
        let node = match tree.get("params").and_then(|p| p.get(field)) {
            Some(n) => n.clone(),
            None => return None,
        };
        let resolved: Result<String, Issue> = match &node.value {
            Value::Str(_) if field == "privateKey" => {
                let issue = Issue {
                    code: "inline-private-key".into(),
                    message: "a private key is written inline in a manifest that is committed to Git".into(),
                    pointer: "/params/privateKey".into(),
                    target: Target::Value,
                    hint: Some("use `privateKey: { file: PATH }` or `{ env: VARIABLE }`, and keep the key out of the repository".into()),
                };
                let severity = if self.options.allow_inline_secrets {
                    Severity::Warning
                } else {
                    Severity::Error
                };
                return Some(self.order_diag(ctx, tree, severity, issue, node.span));
            }
            Value::Map(_) => {
                if let Some(path) = node.get("file").and_then(Node::as_str) {
                    let full = src.base_dir().join(path);
                    let shown = if full == std::path::Path::new(path) {
                        String::new()
                    } else {
                        format!(" ({})", full.display())
                    };
                    read_small(&full).map_err(|e| Issue {
                        code: "file-not-found".into(),
                        message: format!("cannot read `{path}`{shown}: {e}"),
                        pointer: format!("/params/{field}/file"),
                        target: Target::Value,
                        hint: Some("`file:` paths are relative to the manifest".into()),
                    })
                } else if let Some(var) = node.get("env").and_then(Node::as_str) {
                    std::env::var(var).map_err(|_| Issue {
                        code: "env-not-set".into(),
                        message: format!("environment variable `{var}` is not set"),
                        pointer: format!("/params/{field}/env"),
                        target: Target::Value,
                        hint: None,
                    })
                } else {
                    return None; // the manifest schema reports the shape
                }
            }
            _ => return None,
        };
        match resolved {
            Ok(text) => {
                let inner = node
                    .get("file")
                    .or_else(|| node.get("env"))
                    .map_or(node.span, |n| n.span);
                if let Some(target) = params_field_mut(tree, field) {
                    target.value = Value::Str(text);
                    target.span = inner;
                }
                None
            }
            Err(issue) => {
                let at = locate(tree, &issue.pointer, &issue.target).span;
                let d = self.order_diag(ctx, tree, Severity::Error, issue, at);
                // The field is reported; leave it out so the schema does not report it again.
                if let Some(Value::Map(params)) = params_mut(tree) {
                    params.retain(|e| e.key != field);
                }
                Some(d)
            }
        }
    }

    /// Parses and verifies the order's CSR, if it has one as text.
    fn csr(&self, tree: &Node, ctx: &OrderCtx, found: &mut Vec<Diagnostic>) -> Option<CsrInfo> {
        let node = tree.get("params").and_then(|p| p.get("csr"))?;
        let pem = node.as_str()?;
        if !pem.contains("-----BEGIN") {
            return None; // the schema reports a value that is not PEM at all
        }
        match csr::inspect(pem) {
            Ok(info) => Some(info),
            Err(e) => {
                let code = match e {
                    csr::CsrError::BadSignature(_) => "csr-bad-signature",
                    _ => "csr-invalid",
                };
                let issue = Issue {
                    code: code.into(),
                    message: e.to_string(),
                    pointer: "/params/csr".into(),
                    target: Target::Value,
                    hint: Some("generate it again, e.g. `openssl req -new -key KEY -subj /CN=NAME -out NAME.csr`".into()),
                };
                found.push(self.order_diag(ctx, tree, Severity::Error, issue, node.span));
                None
            }
        }
    }

    fn order_diag(
        &self,
        ctx: &OrderCtx,
        tree: &Node,
        severity: Severity,
        issue: Issue,
        at: Span,
    ) -> Diagnostic {
        let found = locate(tree, &issue.pointer, &issue.target);
        let mut pointer = match found.origin {
            Origin::Order => format!("/orders/{}{}", ctx.index, issue.pointer),
            Origin::Defaults => format!("/defaults{}", issue.pointer),
        };
        if let Target::Unknown(n) = &issue.target {
            pointer.push('/');
            pointer.push_str(n);
        }
        let mut d = match severity {
            Severity::Error => Diagnostic::error(issue.code, issue.message),
            Severity::Warning => Diagnostic::warning(issue.code, issue.message),
        }
        .at(ctx.file, Some(at))
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
            d.code.clone(),
            d.message.clone(),
            d.place.map_or(usize::MAX, |p| p.file),
            d.place.and_then(|p| p.span).unwrap_or_default(),
        );
        if let Some((_, more)) = self.repeated.get_mut(&key) {
            *more += 1;
            return;
        }
        self.repeated.insert(key, (self.diagnostics.len(), 0));
        self.diagnostics.push(d);
    }
}

/// Whether `span` lies inside the part of the file `node` covers (its first line onwards
/// up to the next sibling is unknown, so this checks the node's own subtree).
fn within(node: &Node, span: Span) -> bool {
    fn walk(n: &Node, span: Span) -> bool {
        if n.span == span {
            return true;
        }
        match &n.value {
            Value::Map(entries) => entries
                .iter()
                .any(|e| e.key_span == span || walk(&e.value, span)),
            Value::Seq(items) => items.iter().any(|i| walk(i, span)),
            _ => false,
        }
    }
    walk(node, span)
}

/// The key of the order a file-level pointer (`/orders/N/...`) is inside, if valid.
fn order_key_of<'t>(root: &'t Node, pointer: &str) -> Option<&'t str> {
    let index = pointer
        .strip_prefix("/orders/")?
        .split('/')
        .next()?
        .parse::<usize>()
        .ok()?;
    root.get("orders")?
        .child(&index.to_string())?
        .get("key")?
        .as_str()
}

/// The value of `params` in an order tree.
fn params_mut(tree: &mut Node) -> Option<&mut Value> {
    let Value::Map(top) = &mut tree.value else {
        return None;
    };
    top.iter_mut()
        .find(|e| e.key == "params")
        .map(|e| &mut e.value.value)
}

/// The node of `params.<field>` in an order tree, for rewriting it in place.
fn params_field_mut<'t>(tree: &'t mut Node, field: &str) -> Option<&'t mut Node> {
    let Value::Map(top) = &mut tree.value else {
        return None;
    };
    let params = top.iter_mut().find(|e| e.key == "params")?;
    let Value::Map(entries) = &mut params.value.value else {
        return None;
    };
    entries
        .iter_mut()
        .find(|e| e.key == field)
        .map(|e| &mut e.value)
}

/// Whether the mapping at `pointer` has a key that looks like a misspelling of `name`.
fn misspelt_in(tree: &Node, pointer: &str, name: &str) -> bool {
    let mut node = tree;
    for seg in pointer.split('/').skip(1).map(segment) {
        match node.child(&seg) {
            Some(n) => node = n,
            None => return false,
        }
    }
    match &node.value {
        Value::Map(entries) => entries
            .iter()
            .any(|e| e.key != name && !diagnostic::nearest(&e.key, [name]).is_empty()),
        _ => false,
    }
}

fn is_token_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase().replace(['-', '_'], "");
    k == "apitoken"
}

fn read_small(path: &std::path::Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(MAX_REFERENCED_FILE_BYTES)
        .read_to_string(&mut text)?;
    Ok(text)
}
