//! What must be unique across a run: keys, refIds and adopted certificates.

use super::*;

/// What must be unique across a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Unique {
    /// An order's `key`.
    Key,
    /// An order's `refId`.
    RefId,
    /// The certificate an order adopts.
    RenewalOf,
}

impl<'a> Run<'a> {
    /// Records the key, refId or `renewalOf` of the order at `index` and reports it when
    /// another order already has it. Returns whether it was new.
    pub(super) fn unique(
        &mut self,
        file: FileId,
        span: Span,
        value: &str,
        (index, field): (usize, Unique),
    ) -> bool {
        let (map, code, what, hint) = match field {
            Unique::Key => (
                &mut self.keys,
                DiagnosticCode::DuplicateKey,
                "key",
                "keys identify orders across all files of a run; give each order its own",
            ),
            Unique::RenewalOf => (
                &mut self.adopted,
                DiagnosticCode::DuplicateRenewalOf,
                "renewalOf",
                "a certificate is adopted by one order only, or it would be renewed twice",
            ),
            Unique::RefId => (
                &mut self.ref_ids,
                DiagnosticCode::DuplicateRefId,
                "refId",
                "refIds must be unique; NicSRS would accept a second order with the same refId",
            ),
        };
        let (first_file, first_span) = match map.entry(value.to_owned()) {
            std::collections::hash_map::Entry::Vacant(new) => {
                new.insert((file, span));
                return true;
            }
            std::collections::hash_map::Entry::Occupied(first) => *first.get(),
        };
        let mut d = Diagnostic::error(
            code,
            format!(
                "{what} {} is used by more than one order",
                shown::quote(value)
            ),
        )
        .at(file, Some(span))
        .pointer(format!("/orders/{index}/{what}"))
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
}
