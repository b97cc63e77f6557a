//! What changed in an order since the call that made its certificate in force, field by
//! field, as Terraform shows a diff: the ledger's `request_fields` (a short hash of each
//! field) and its `domains`, `product_code` and `years` against the manifest now. Each
//! change says which call carries it, or what the user must do.

use crate::expand::{self, ExpandedOrder};
use crate::ledger::Row;

/// Which call, if any, takes a changed field to NicSRS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Carrier {
    /// `/ssl/replace` (free): a new key or other names for an issued certificate.
    Replace,
    /// The next renewal (or replacement, or reissue, where noted in the advice).
    Later,
    /// No call: the user must act (a new key orders anew).
    User,
}

/// One changed field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The field (`csr`, `domainInfo`, `productCode`, ...), or `request` when the ledger
    /// cannot tell which.
    pub field: &'static str,
    /// What the certificate in force was made with: a value (names, a product code,
    /// years) or a short hash.
    pub from: String,
    /// What the manifest has now.
    pub to: String,
    /// Who takes it to NicSRS.
    pub carrier: Carrier,
    /// What happens to it, or what to do about it.
    pub advice: &'static str,
}

impl Change {
    /// `~ field: from -> to`, for the plan.
    pub fn line(&self) -> String {
        if self.carrier == Carrier::Replace && self.field == "domainInfo" {
            // Names removed and added, each marked.
            let names = [self.from.as_str(), self.to.as_str()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            return format!("~ domainInfo: {names}  ({})", self.advice);
        }
        match (self.from.is_empty(), self.to.is_empty()) {
            (true, true) => format!("~ {}  ({})", self.field, self.advice),
            (true, false) => format!("+ {}: {}  ({})", self.field, self.to, self.advice),
            (false, true) => format!("- {}: {}  ({})", self.field, self.from, self.advice),
            _ => format!(
                "~ {}: {} -> {}  ({})",
                self.field, self.from, self.to, self.advice
            ),
        }
    }
}

const CONTACTS_ADVICE: &str = "NicSRS keeps the contacts and organisation it validated; neither replace nor renewal carries them: give the order a new key to order with the new ones";

/// What each field's change needs.
fn advice(field: &str) -> (Carrier, &'static str) {
    match field {
        "csr" => (Carrier::Replace, "a new key: replaced free of charge"),
        "productCode" => (
            Carrier::User,
            "replace and renewal keep the product: give the order a new key to order the new one (the certificate in force stays until it expires)",
        ),
        "years" => (Carrier::Later, "goes out with the next renewal"),
        "server" => (Carrier::Later, "goes out with the next renewal"),
        "uniqueValue" => (
            Carrier::Later,
            "goes out with the next reissue, replacement or renewal",
        ),
        "domainInfo" => (
            Carrier::Later,
            "validation methods go out with the next replacement or renewal",
        ),
        _ => (Carrier::User, CONTACTS_ADVICE),
    }
}

/// The names of a `domains` cell or list, lower-cased and sorted, for comparing. A name
/// read from the ledger (which anyone can edit) that no domain could be is shown as such,
/// never repeated.
fn name_set<'a>(names: impl Iterator<Item = &'a str>) -> Vec<String> {
    let readable = |n: &str| n.len() <= 253 && n.chars().all(|c| c.is_ascii_graphic());
    let mut v: Vec<String> = names
        .map(|n| {
            if readable(n) {
                n.to_ascii_lowercase()
            } else {
                "<unreadable name>".to_owned()
            }
        })
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The changes of `order` (whose placement request hashes to `request_sha256`) since
/// `made` (the row of the call that made the certificate in force), in
/// [`expand::HASHED_FIELDS`] order.
pub fn since(order: &ExpandedOrder, request_sha256: &str, made: &Row) -> Vec<Change> {
    let mut out = Vec::new();
    if made.event == crate::ledger::Event::Placed && made.request_sha256 == request_sha256 {
        return out; // the very request that placed it
    }
    let then = expand::parse_fields_cell(&made.request_fields);
    let had = |field: &str| then.iter().find(|(n, _)| *n == field).map(|(_, h)| *h);
    let old_names = name_set(made.domains.split_whitespace());
    let new_names = name_set(order.domains.iter().map(String::as_str));
    if !made.product_code.is_empty() && made.product_code != order.product_code {
        push(
            &mut out,
            "productCode",
            &made.product_code,
            &order.product_code,
        );
    }
    if made.years != 0 && made.years != order.years {
        push(
            &mut out,
            "years",
            &made.years.to_string(),
            &order.years.to_string(),
        );
    }
    if old_names != new_names && !made.domains.is_empty() {
        let added: Vec<&str> = new_names
            .iter()
            .filter(|n| !old_names.contains(n))
            .map(String::as_str)
            .collect();
        let removed: Vec<&str> = old_names
            .iter()
            .filter(|n| !new_names.contains(n))
            .map(String::as_str)
            .collect();
        out.push(Change {
            field: "domainInfo",
            from: removed
                .iter()
                .map(|n| format!("-{n}"))
                .collect::<Vec<_>>()
                .join(" "),
            to: added
                .iter()
                .map(|n| format!("+{n}"))
                .collect::<Vec<_>>()
                .join(" "),
            carrier: Carrier::Replace,
            advice: if order.has_csr() {
                "other names: replaced free of charge"
            } else {
                "other names: NicSRS replaces only with a CSR for them; add `params.csr`"
            },
        });
    }
    if then.is_empty() {
        // Rows written before per-field records: only the whole request can be compared.
        if out.is_empty()
            && made.event == crate::ledger::Event::Placed
            && made.request_sha256 != request_sha256
        {
            out.push(Change {
                field: "request",
                from: String::new(),
                to: String::new(),
                carrier: Carrier::User,
                advice: "changed since it was placed; this ledger's older rows do not tell which field: a new CSR or other names are replaced once the ledger records the fields (after the next renewal), or give the order a new key to order again",
            });
        }
        return out;
    }
    let now = order.field_hashes();
    let names_changed = out.iter().any(|c| c.field == "domainInfo");
    for field in expand::HASHED_FIELDS {
        if matches!(field, "productCode" | "years") {
            continue; // compared by value above
        }
        let new = now
            .iter()
            .find(|(n, _)| *n == field)
            .map(|(_, h)| h.as_str());
        let old = had(field);
        if old == new || (field == "domainInfo" && names_changed) {
            continue;
        }
        push(
            &mut out,
            field,
            old.unwrap_or_default(),
            new.unwrap_or_default(),
        );
    }
    out
}

fn push(out: &mut Vec<Change>, field: &'static str, from: &str, to: &str) {
    let (carrier, advice) = advice(field);
    out.push(Change {
        field,
        from: from.to_owned(),
        to: to.to_owned(),
        carrier,
        advice,
    });
}

/// What the `request_fields` of a renewal or replacement are made of, worked out by the
/// runner when the call is carried out (off the path to the first call): the order's fields
/// for what the call carries, the rest as the certificate in force was made.
#[derive(Clone, Debug)]
pub struct FieldsBasis {
    /// The order's `params` (canonical JSON, as placed).
    pub params: std::sync::Arc<str>,
    /// The order's `productCode`.
    pub product_code: String,
    /// The order's `years`.
    pub years: u32,
    /// The `request_fields` of the call that made the certificate in force.
    pub made: String,
    /// The fields the call carries.
    pub carried: &'static [&'static str],
}

impl FieldsBasis {
    /// The basis of a call carrying `carried` of `order` after `made`.
    pub fn new(
        order: &ExpandedOrder,
        made: Option<&Row>,
        carried: &'static [&'static str],
    ) -> Self {
        FieldsBasis {
            params: order.params.clone(),
            product_code: order.product_code.clone(),
            years: order.years,
            made: made.map_or(String::new(), |m| m.request_fields.clone()),
            carried,
        }
    }

    /// The `request_fields` cell: the order's fields that the call carries, the rest as the
    /// certificate in force was made, so that the ledger always says what NicSRS holds.
    pub fn cell(&self) -> String {
        let now = expand::field_hashes(&self.params, &self.product_code, self.years);
        let then = expand::parse_fields_cell(&self.made);
        let fields: Vec<(&str, String)> = expand::HASHED_FIELDS
            .iter()
            .filter_map(|&field| {
                let from_order = now
                    .iter()
                    .find(|(n, _)| *n == field)
                    .map(|(_, h)| h.clone());
                let from_then = then
                    .iter()
                    .find(|(n, _)| *n == field)
                    .map(|(_, h)| (*h).to_owned());
                let value = if self.carried.contains(&field) || then.is_empty() {
                    from_order
                } else {
                    from_then
                };
                Some((field, value?))
            })
            .collect();
        expand::fields_cell(&fields)
    }
}
