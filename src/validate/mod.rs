//! The validate stage: every manifest of a run read, checked against both schemas and the
//! rules, and expanded; every problem collected before anything fails.

mod file;
mod order;
mod stream;
mod unique;

use unique::Unique;

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use crate::catalog::{Catalog, Product};
use crate::csr::{self, CsrInfo};
use crate::diagnostic::DiagnosticCode;
use crate::diagnostic::{self, Diagnostic, Severity};
use crate::error::Error;
use crate::expand::{self, ExpandedOrder};
use crate::manifest::references::{self, Resolution};
use crate::manifest::yaml::{self, Node, Origin, Value};
use crate::manifest::{self, Manifest};
use crate::pointer::{self, locate};
use crate::private_key;
use crate::schema::{Caret, Issue, Schema, View};
use crate::shown;
use crate::source::{FileId, Sources, Span};
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

/// Shown each order that passes the checks it needs no other order for, as soon as it
/// does, from the validation's threads: it may still fail the checks across orders (a
/// key written twice), or its file may be read again.
pub type Watcher<'w> = dyn Fn(&ExpandedOrder) + Sync + 'w;

/// Reads, validates and expands every manifest named by `paths` (files or directories).
/// Problems in the manifests are diagnostics; `Err` means the run could not happen.
pub fn validate(paths: &[PathBuf], options: &Options) -> Result<Validated, Error> {
    validate_watching(paths, options, &|_| {})
}

/// [`validate`], showing `each` every order that passes its own checks as soon as it does.
pub fn validate_watching(
    paths: &[PathBuf],
    options: &Options,
    each: &Watcher<'_>,
) -> Result<Validated, Error> {
    let files = manifest::discover(paths)?;
    let mut sources = Sources::default();
    let mut diagnostics = Vec::new();
    let read = manifest::read(&files, &mut sources, &mut diagnostics)?;
    let mut run = Run {
        options,
        each,
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
        csrs: Default::default(),
    };
    for file in read {
        match run.parse_checking(file) {
            Ok((root, orders)) => run.manifest(&Manifest { file, root }, orders),
            Err(e) => run.diagnostics.push(manifest::not_yaml(file, e)),
        }
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
    /// Shown each order that passes its own checks.
    each: &'a Watcher<'a>,
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
    /// Each distinct CSR's inspection, shared by the orders that send it.
    csrs: std::sync::Mutex<HashMap<String, Result<CsrInfo, csr::CsrError>>>,
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
    /// What the order schema and the rules found: those at a place the file-level check
    /// already reported (a bad default) are folded into that report when committed.
    schema_diagnostics: Vec<Diagnostic>,
    secrets: Vec<(FileId, Span)>,
    /// Present when the order passed every check that needs no other order.
    expanded: Option<ExpandedOrder>,
}

/// How many threads the checks use.
fn threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
}

/// Maps `f` over `items`, which it consumes, on the machine's cores, keeping the order.
/// Small inputs stay on this thread.
fn par_map<T: Send, R: Send>(items: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let threads = threads();
    if threads < 2 || items.len() < 512 {
        return items.into_iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut parts: Vec<Vec<T>> = Vec::with_capacity(threads);
    let mut items = items.into_iter();
    loop {
        let part: Vec<T> = items.by_ref().take(chunk).collect();
        if part.is_empty() {
            break;
        }
        parts.push(part);
    }
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .into_iter()
            .map(|part| scope.spawn(move || part.into_iter().map(f).collect::<Vec<R>>()))
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
    /// Adds one checked order to the run, in manifest order: the checks across orders
    /// (unique keys and refIds), its diagnostics, and its expansion if all is well.
    fn commit(&mut self, c: Checked, findings: &FileFindings) {
        let file = c.file;
        let mut inherited = Vec::new();
        let mut diagnostics = c.diagnostics;
        for d in c.schema_diagnostics {
            let reported = d
                .is_error()
                .then(|| d.place.and_then(|p| p.span))
                .flatten()
                .and_then(|at| findings.spans.get(&at));
            match reported {
                // Already reported against the file as written (a bad default).
                Some(&reported) => inherited.push(reported),
                None => diagnostics.push(d),
            }
        }
        let failed = !inherited.is_empty() || findings.shared || findings.orders.contains(&c.index);
        let key_is_new = self.unique(file, c.key_span, &c.key, (c.index, Unique::Key));
        let mut ref_is_new = true;
        if (key_is_new || !c.derived)
            && let Some((value, span)) = &c.ref_id
        {
            ref_is_new = self.unique(file, *span, value, (c.index, Unique::RefId));
        }
        let mut adoption_is_new = true;
        if let Some((value, span)) = &c.renewal_of {
            adoption_is_new = self.unique(file, *span, value, (c.index, Unique::RenewalOf));
        }
        for d in diagnostics {
            self.push_order_diag(d);
        }
        self.secrets.extend(c.secrets);
        for reported in inherited {
            self.inherited_by(reported, &c.key);
        }
        if key_is_new
            && ref_is_new
            && adoption_is_new
            && !failed
            && let Some(order) = c.expanded
        {
            self.orders.push(order);
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
