//! The checks JSON Schema cannot express, run on one expanded order.

use std::net::IpAddr;

use crate::catalog::{Catalog, Kind, Product};
use crate::csr::{self, CsrInfo};
use crate::diagnostic::DiagnosticCode;
use crate::diagnostic::Severity;
use crate::manifest::yaml::{Node, Value};
use crate::schema::{Caret, Issue};

/// Approver addresses a CA sends domain-control e-mail to.
pub const APPROVER_LOCAL_PARTS: [&str; 5] = [
    "admin",
    "administrator",
    "hostmaster",
    "postmaster",
    "webmaster",
];

fn issue(code: DiagnosticCode, message: String, pointer: String, hint: Option<String>) -> Issue {
    Issue {
        code,
        message,
        pointer,
        target: Caret::Value,
        hint,
    }
}

/// A product like `product` (same vendor, kind and validation level, wildcards if it
/// takes them) that takes every name in `names`: the nearest codes, as a hint.
fn product_taking(catalog: &Catalog, product: &Product, names: &[&str]) -> Option<String> {
    let fits = catalog.products().iter().filter(|p| {
        p.code != product.code
            && p.vendor == product.vendor
            && p.kind == product.kind
            && p.validation_type == product.validation_type
            && !p.unconfirmed
            && (p.support_san || names.len() <= 1)
            && names.iter().all(|n| p.takes(n))
    });
    let codes: Vec<&str> = fits.map(|p| p.code.as_str()).collect();
    crate::diagnostic::did_you_mean(&product.code, codes.iter().copied()).or_else(|| {
        codes
            .first()
            .map(|c| format!("`{c}` takes all of this order's names"))
    })
}

/// What the rule families look at: one merged, resolved order and its product.
struct Order<'a> {
    tree: &'a Node,
    product: &'a Product,
    catalog: &'a Catalog,
    csr: Option<&'a CsrInfo>,
    names: Vec<DomainEntry>,
}

/// What the rule families find.
type Found = Vec<(Severity, Issue)>;

fn err(i: Issue) -> (Severity, Issue) {
    (Severity::Error, i)
}

/// Every product-dependent problem of `order` (a merged, resolved order tree), family by
/// family.
pub fn check(
    order: &Node,
    product: &Product,
    catalog: &Catalog,
    csr: Option<&CsrInfo>,
) -> Vec<(Severity, Issue)> {
    let names = order
        .get("params")
        .and_then(|p| p.get("domainInfo"))
        .map(domain_entries)
        .unwrap_or_default();
    let o = Order {
        tree: order,
        product,
        catalog,
        csr,
        names,
    };
    let mut out = Vec::new();
    product_status(&o, &mut out);
    product_limits(&o, &mut out);
    lifecycle_fields(&o, &mut out);
    names_the_product_takes(&o, &mut out);
    domain_validation(&o, &mut out);
    csr_matches(&o, &mut out);
    out
}

/// A product NicSRS's own module lists as unconfirmed (`unconfirmed-product`).
fn product_status(o: &Order, out: &mut Found) {
    let product = o.product;
    if product.unconfirmed {
        out.push((
            Severity::Warning,
            issue(
                DiagnosticCode::UnconfirmedProduct,
                format!(
                    "`{}` is not confirmed by NicSRS: its own module lists it as unconfirmed",
                    product.code
                ),
                "/productCode".into(),
                Some(
                    "check that your account sells it: `nicsrs-batch products --vendor VENDOR`"
                        .into(),
                ),
            ),
        ));
    }
}

/// The product's limits: years (`years-above-product-max`) and names (`too-many-domains`).
fn product_limits(o: &Order, out: &mut Found) {
    let (order, product, names) = (o.tree, o.product, &o.names);
    if let Some(Value::Int(years)) = order.get("years").map(|n| &n.value)
        && *years > i64::from(product.max_year)
        && *years <= 6
    {
        out.push(err(issue(
            DiagnosticCode::YearsAboveProductMax,
            format!(
                "`{}` can be ordered for at most {}, not {years}",
                product.code,
                crate::shown::counted(product.max_year, "year"),
            ),
            "/years".into(),
            None,
        )));
    }
    if names.len() > product.max_domain as usize {
        out.push(err(issue(
            DiagnosticCode::TooManyDomains,
            format!(
                "{} names, but `{}` takes at most {}",
                names.len(),
                product.code,
                product.max_domain
            ),
            "/params/domainInfo".into(),
            (!product.support_san)
                .then(|| "this product covers a single name; use a multi-domain product".into()),
        )));
    }
}

/// The tool's own lifecycle fields: `renewBefore` beyond NicSRS's window, and an adopted
/// certificate without a CSR to renew it with.
fn lifecycle_fields(o: &Order, out: &mut Found) {
    let order = o.tree;
    if let Some(days) = order
        .get("renewBefore")
        .and_then(Node::as_str)
        .and_then(crate::lifecycle::RenewBefore::parse)
        .and_then(crate::lifecycle::RenewBefore::days)
        && i64::from(days) > crate::lifecycle::RENEWAL_OPENS_DAYS
    {
        out.push((
            Severity::Warning,
            issue(
                DiagnosticCode::RenewBeforeBeyond90Days,
                format!(
                    "renewBefore is {days} days, but NicSRS accepts a renewal only within {} days of expiry",
                    crate::lifecycle::RENEWAL_OPENS_DAYS
                ),
                "/renewBefore".into(),
                Some(
                    "renewals are planned from 90 days before expiry; reissues use the whole window"
                        .into(),
                ),
            ),
        ));
    }

    if order.get("renewalOf").is_some() && order.get("params").and_then(|p| p.get("csr")).is_none()
    {
        out.push((
            Severity::Warning,
            issue(
                DiagnosticCode::RenewalNeedsCsr,
                "this order adopts a certificate to renew it, but has no CSR, and NicSRS renews only with one".into(),
                "/renewalOf".into(),
                Some("add `params.csr` (a `{ file: PATH }` reference) for the key the renewed certificate will have".into()),
            ),
        ));
    }
}

/// Each name once (`duplicate-domain`), and of a kind the product takes: IP addresses
/// (`ip-not-supported`), plain names (`plain-name-not-supported`), wildcards
/// (`wildcard-not-supported`).
fn names_the_product_takes(o: &Order, out: &mut Found) {
    let (product, catalog) = (o.product, o.catalog);
    let all_names: Vec<&str> = o.names.iter().filter_map(|d| d.name.as_deref()).collect();
    let mut seen: Vec<String> = Vec::with_capacity(o.names.len());
    for d in &o.names {
        let at = |field: &str| format!("/params/domainInfo/{}/{field}", d.index);
        let Some(name) = d.name.as_deref() else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        if seen.contains(&lower) {
            out.push(err(issue(
                DiagnosticCode::DuplicateDomain,
                format!("`{name}` is listed twice"),
                at("domainName"),
                None,
            )));
        }
        seen.push(lower.clone());
        let wildcard = lower.starts_with("*.");
        let ip = lower.parse::<IpAddr>().is_ok();
        let ssl = product.kind == Kind::Ssl;
        if ssl && ip && product.support_ip == Some(false) {
            out.push(err(issue(
                DiagnosticCode::IpNotSupported,
                format!(
                    "`{}` does not take IP addresses like `{name}`",
                    product.code
                ),
                at("domainName"),
                product_taking(catalog, product, &all_names)
                    .or_else(|| Some("order a product that takes IP addresses".into())),
            )));
        } else if ssl && !wildcard && !ip && product.support_standard == Some(false) {
            out.push(err(issue(
                DiagnosticCode::PlainNameNotSupported,
                format!("`{}` takes wildcard names only, not `{name}`", product.code),
                at("domainName"),
                product_taking(catalog, product, &all_names).or_else(|| {
                    Some(format!(
                        "name it as a wildcard, `*.{}`, or order another product",
                        name
                    ))
                }),
            )));
        }
        if wildcard && !product.support_wildcard {
            out.push(err(issue(
                DiagnosticCode::WildcardNotSupported,
                format!(
                    "`{}` does not cover wildcard names like `{name}`",
                    product.code
                ),
                at("domainName"),
                Some("order a wildcard product, or name the hosts one by one".into()),
            )));
        }
    }
}

/// How each name is validated: file validation for wildcards (`wildcard-file-validation`)
/// and anything but file validation for IP addresses (`ip-requires-file-validation`), an
/// approver at the name or a parent domain (`dcv-email-domain-mismatch`), and an approver
/// that no method uses (`dcv-email-unused`).
fn domain_validation(o: &Order, out: &mut Found) {
    for d in &o.names {
        let at = |field: &str| format!("/params/domainInfo/{}/{field}", d.index);
        let Some(name) = d.name.as_deref() else {
            continue;
        };
        let lower = name.to_ascii_lowercase();
        let wildcard = lower.starts_with("*.");
        let ip = lower.parse::<IpAddr>().is_ok();
        match d.method.as_deref() {
            Some(m @ ("HTTP_CSR_HASH" | "HTTPS_CSR_HASH")) if wildcard => out.push(err(issue(
                DiagnosticCode::WildcardFileValidation,
                format!("wildcard name `{name}` cannot be validated with {m}"),
                at("dcvMethod"),
                Some("use `EMAIL` or `CNAME_CSR_HASH` for wildcard names".into()),
            ))),
            Some(m @ ("EMAIL" | "CNAME_CSR_HASH")) if ip => out.push(err(issue(
                DiagnosticCode::IpRequiresFileValidation,
                format!("IP address `{name}` cannot be validated with {m}"),
                at("dcvMethod"),
                Some(
                    "IP addresses are validated only with `HTTP_CSR_HASH` or `HTTPS_CSR_HASH`"
                        .into(),
                ),
            ))),
            _ => {}
        }
        if let Some(email) = d.email.as_deref() {
            if d.method.as_deref() == Some("EMAIL") {
                if let Some((local, domain)) = email.split_once('@') {
                    let base = lower.trim_start_matches("*.");
                    if APPROVER_LOCAL_PARTS.contains(&local.to_ascii_lowercase().as_str())
                        && !is_self_or_parent(&domain.to_ascii_lowercase(), base)
                    {
                        out.push(err(issue(
                            DiagnosticCode::DcvEmailDomainMismatch,
                            format!(
                                "approver `{email}` is not at `{base}` or a parent domain of it"
                            ),
                            at("dcvEmail"),
                            Some(format!(
                                "for `{name}` use e.g. `admin@{}`",
                                registrable_guess(base)
                            )),
                        )));
                    }
                }
            } else if let Some(method) = d.method.as_deref() {
                out.push((
                    Severity::Warning,
                    issue(
                        DiagnosticCode::DcvEmailUnused,
                        format!("`dcvEmail` is ignored with `dcvMethod: {method}`"),
                        at("dcvEmail"),
                        None,
                    ),
                ));
            }
        }
    }
}

/// The CSR: its key strong enough (`csr-weak-key`), and its names exactly the order's
/// (`csr-names-mismatch`).
fn csr_matches(o: &Order, out: &mut Found) {
    let names = &o.names;
    let mut seen: Vec<String> = names
        .iter()
        .filter_map(|d| d.name.as_deref())
        .map(str::to_ascii_lowercase)
        .collect();
    seen.dedup();
    let csr = o.csr;
    if let Some(info) = csr {
        if let Some(problem) = csr::key_problem(&info.key) {
            out.push(err(issue(DiagnosticCode::CsrWeakKey, problem, "/params/csr".into(), Some("generate a new key: `openssl req -new -newkey rsa:2048 ...` or an EC P-256 key".into()))));
        }
        if !names.is_empty() {
            let csr_names = info.names();
            let mut wanted: Vec<String> = seen.clone();
            wanted.sort();
            wanted.dedup();
            let missing: Vec<&String> = wanted.iter().filter(|n| !csr_names.contains(n)).collect();
            let extra: Vec<&String> = csr_names.iter().filter(|n| !wanted.contains(n)).collect();
            if !missing.is_empty() || !extra.is_empty() {
                let list = |v: &[&String]| {
                    v.iter()
                        .map(|n| format!("`{n}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let mut parts = Vec::new();
                if !missing.is_empty() {
                    parts.push(format!("the CSR lacks {}", list(&missing)));
                }
                if !extra.is_empty() {
                    parts.push(format!("the CSR also names {}", list(&extra)));
                }
                out.push(err(issue(
                    DiagnosticCode::CsrNamesMismatch,
                    format!(
                        "the CSR's names differ from `domainInfo`: {}",
                        parts.join("; ")
                    ),
                    "/params/csr".into(),
                    Some(
                        "the CSR's CN and subjectAltNames must be exactly the `domainInfo` names"
                            .into(),
                    ),
                )));
            }
        }
    }
}

/// One `domainInfo` entry, read leniently (the schema reports wrong shapes).
struct DomainEntry {
    index: usize,
    name: Option<String>,
    method: Option<String>,
    email: Option<String>,
}

fn domain_entries(node: &Node) -> Vec<DomainEntry> {
    let Value::Seq(items) = &node.value else {
        return Vec::new();
    };
    items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let text = |k: &str| item.get(k).and_then(Node::as_str).map(str::to_owned);
            DomainEntry {
                index,
                name: text("domainName"),
                method: text("dcvMethod"),
                email: text("dcvEmail"),
            }
        })
        .collect()
}

/// Whether `candidate` is `domain` or one of its parents (but not a bare top-level label).
fn is_self_or_parent(candidate: &str, domain: &str) -> bool {
    candidate.contains('.') && (candidate == domain || domain.ends_with(&format!(".{candidate}")))
}

/// The last two labels of a name: a fair example for a hint.
fn registrable_guess(name: &str) -> &str {
    let mut dots = name.rmatch_indices('.');
    match (dots.next(), dots.next()) {
        (Some(_), Some((i, _))) => &name[i + 1..],
        _ => name,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approver_domains() {
        assert!(is_self_or_parent("shop.example", "www.shop.example"));
        assert!(is_self_or_parent("www.shop.example", "www.shop.example"));
        assert!(!is_self_or_parent("example", "www.example"));
        assert!(!is_self_or_parent("hop.example", "www.shop.example"));
        assert_eq!(registrable_guess("www.shop.example"), "shop.example");
    }

    /// The codes one family finds in the order written as YAML, for product `code`.
    fn found(family: fn(&Order, &mut Found), code: &str, yaml: &str) -> Vec<&'static str> {
        let catalog = Catalog::builtin();
        let tree = crate::manifest::yaml::parse(yaml).expect("YAML");
        let product = catalog.get(code).expect("product");
        let names = tree
            .get("params")
            .and_then(|p| p.get("domainInfo"))
            .map(domain_entries)
            .unwrap_or_default();
        let o = Order {
            tree: &tree,
            product,
            catalog: &catalog,
            csr: None,
            names,
        };
        let mut out = Vec::new();
        family(&o, &mut out);
        out.iter().map(|(_, i)| i.code.name()).collect()
    }

    fn names(list: &[(&str, &str)]) -> String {
        let mut y = String::from("params:\n  domainInfo:\n");
        for (name, method) in list {
            y.push_str(&format!(
                "    - {{ domainName: \"{name}\", dcvMethod: {method} }}\n"
            ));
        }
        y
    }

    #[test]
    fn product_status_warns_of_unconfirmed_products() {
        let unconfirmed = Catalog::builtin()
            .products()
            .iter()
            .find(|p| p.unconfirmed)
            .map(|p| p.code.clone())
            .expect("an unconfirmed product");
        assert_eq!(
            found(product_status, &unconfirmed, "years: 1"),
            ["unconfirmed-product"]
        );
        assert!(found(product_status, "comodo-positivessl", "years: 1").is_empty());
    }

    #[test]
    fn product_limits_are_years_and_names() {
        let two = names(&[
            ("a.example", "HTTP_CSR_HASH"),
            ("b.example", "HTTP_CSR_HASH"),
        ]);
        assert_eq!(
            found(
                product_limits,
                "comodo-positivessl",
                &format!("years: 6\n{two}")
            ),
            ["years-above-product-max", "too-many-domains"]
        );
        assert!(
            found(
                product_limits,
                "comodo-positive-multi-domain",
                &format!("years: 1\n{two}")
            )
            .is_empty()
        );
    }

    #[test]
    fn lifecycle_fields_warn_of_a_long_window_and_an_adoption_without_csr() {
        assert_eq!(
            found(
                lifecycle_fields,
                "comodo-positivessl",
                "renewBefore: 120d\nrenewalOf: '1'\n"
            ),
            ["renew-before-beyond-90-days", "renewal-needs-csr"]
        );
        assert!(found(lifecycle_fields, "comodo-positivessl", "renewBefore: 30d\n").is_empty());
    }

    #[test]
    fn names_must_be_unique_and_of_a_kind_the_product_takes() {
        let y = names(&[
            ("a.example", "EMAIL"),
            ("A.example", "EMAIL"),
            ("*.b.example", "EMAIL"),
            ("192.0.2.1", "HTTP_CSR_HASH"),
        ]);
        assert_eq!(
            found(names_the_product_takes, "sectigo-multi-domain", &y),
            [
                "duplicate-domain",
                "wildcard-not-supported",
                "ip-not-supported"
            ]
        );
        let plain = names(&[("c.example", "EMAIL")]);
        assert_eq!(
            found(
                names_the_product_takes,
                "globalsign-domain-wildcard-ssl",
                &plain
            ),
            ["plain-name-not-supported"]
        );
    }

    #[test]
    fn domain_validation_fits_each_name() {
        let y = "params:\n  domainInfo:\n    - { domainName: '*.a.example', dcvMethod: HTTP_CSR_HASH }\n    - { domainName: 192.0.2.1, dcvMethod: EMAIL }\n    - { domainName: b.example, dcvMethod: EMAIL, dcvEmail: admin@other.example }\n    - { domainName: c.example, dcvMethod: CNAME_CSR_HASH, dcvEmail: admin@c.example }\n";
        assert_eq!(
            found(domain_validation, "comodo-positive-multi-domain", y),
            [
                "wildcard-file-validation",
                "ip-requires-file-validation",
                "dcv-email-domain-mismatch",
                "dcv-email-unused"
            ]
        );
        let fine = "params:\n  domainInfo:\n    - { domainName: www.b.example, dcvMethod: EMAIL, dcvEmail: admin@b.example }\n";
        assert!(found(domain_validation, "comodo-positivessl", fine).is_empty());
    }

    #[test]
    fn without_a_csr_there_is_nothing_to_match() {
        let y = names(&[("a.example", "HTTP_CSR_HASH")]);
        assert!(found(csr_matches, "comodo-positivessl", &y).is_empty());
    }
}
