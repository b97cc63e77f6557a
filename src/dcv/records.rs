//! What must be done for each name of each order that is not issued yet: the DNS record
//! or the file to publish, or the approver's mail to click; computed from the CSR where
//! the CA family derives it from the CSR (before the order is paid for), else as the
//! API's replies recorded in the ledger say.

use serde::Serialize;

use super::{CsrHashes, Family, NameDcv, names};
use crate::catalog::Catalog;
use crate::expand::ExpandedOrder;
use crate::ledger::{Contents, KeyState};

/// Statuses of a certificate that need no validation any more.
const SETTLED: [&str; 5] = ["COMPLETE", "CANCELLED", "REVOKED", "EXPIRED", "REISSUED"];

/// One thing to do for one name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The order's key.
    pub key: String,
    /// The name validated.
    pub domain: String,
    /// `CNAME_CSR_HASH`, `HTTP_CSR_HASH`, `HTTPS_CSR_HASH`, `EMAIL`, ...
    pub method: String,
    /// `CNAME` or `TXT` (a DNS record), `FILE` (a file over HTTP), `EMAIL` (an approver's
    /// click), or empty when it cannot be known yet.
    #[serde(rename = "type")]
    pub kind: String,
    /// The DNS record's absolute name (without the final dot).
    pub name: String,
    /// The DNS record's value; for `EMAIL` the approver's address.
    pub value: String,
    /// The file's URL.
    pub url: String,
    /// The file's exact content.
    pub content: String,
    /// `csr` (computed from the order's CSR), `api` (a reply recorded in the ledger),
    /// `manifest` (the approver address as written).
    pub source: String,
    /// `to-publish`, `to-approve` (EMAIL), `verified` (the CA said so at the last
    /// refresh), or `unknown` (known only once the order is placed).
    pub state: String,
}

impl Record {
    /// Whether it is a DNS record.
    pub fn is_dns(&self) -> bool {
        matches!(self.kind.as_str(), "CNAME" | "TXT")
    }

    /// The file's name under `/.well-known/pki-validation/`, for a file record.
    pub fn file_name(&self) -> Option<&str> {
        (self.kind == "FILE")
            .then(|| self.url.rsplit('/').next())
            .flatten()
    }
}

/// Letters, digits, `-`, `_` and dots, at most 253 characters, no empty label.
pub fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// A file name a CA's validation uses: Sectigo's `<MD5>.txt` (32 hex digits) or
/// DigiCert's `fileauth.txt`. Anything else (`shell.php`, `../x`) is not written.
pub fn is_file_name(name: &str) -> bool {
    match name.strip_suffix(".txt") {
        Some(stem) => {
            stem == "fileauth" || (stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()))
        }
        None => false,
    }
}

/// An approver address: printable ASCII with one `@`, at most 254 characters.
fn is_email(email: &str) -> bool {
    email.len() <= 254
        && email.bytes().all(|b| b.is_ascii_graphic())
        && email.split('@').count() == 2
        && email.split('@').all(|part| !part.is_empty())
}

/// `n` hexadecimal digits.
fn is_hex(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A DigiCert-style token: letters, digits, `_` and `-`, at most 128.
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// A `uniqueValue`: 1 to 20 letters and digits.
fn is_unique_value(s: &str) -> bool {
    !s.is_empty() && s.len() <= 20 && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Sectigo's CNAME target: `<32 hex>.<32 hex>[.<uniqueValue>].sectigo.com` (or
/// `comodoca.com` in old replies).
fn is_sectigo_target(value: &str) -> bool {
    let v = value.to_ascii_lowercase();
    let Some(rest) = v
        .strip_suffix(".sectigo.com")
        .or_else(|| v.strip_suffix(".comodoca.com"))
    else {
        return false;
    };
    let parts: Vec<&str> = rest.split('.').collect();
    match parts.as_slice() {
        [a, b] => is_hex(a, 32) && is_hex(b, 32),
        [a, b, u] => is_hex(a, 32) && is_hex(b, 32) && is_unique_value(u),
        _ => false,
    }
}

/// Sectigo's file content: the SHA-256 (64 hex), `sectigo.com` (or `comodoca.com`), then
/// the `uniqueValue` if any, one per line.
fn is_sectigo_content(content: &str) -> bool {
    let lines: Vec<&str> = content
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect();
    let ca =
        |l: &str| l.eq_ignore_ascii_case("sectigo.com") || l.eq_ignore_ascii_case("comodoca.com");
    match lines.as_slice() {
        [h, c] => is_hex(h, 64) && ca(c),
        [h, c, u] => is_hex(h, 64) && ca(c) && is_unique_value(u),
        _ => false,
    }
}

/// A DNS record from the API (the ledger's `dcv` cell, which anyone may edit), if it is
/// exactly what the CA family's validation asks for at this name: Sectigo's CNAME
/// `_<MD5>.<name>` → `<hash>.<hash>[.<uniqueValue>].sectigo.com`, or DigiCert's TXT
/// `_dnsauth.<name>` holding a token. Anything else (an `_acme-challenge`, a site
/// verification, another host) is not used: publishing it could validate someone else's
/// order.
fn dns_record(a: &NameDcv, base: &str, family: Family) -> Option<(String, String, String)> {
    let name = a.dns_name.trim_end_matches('.');
    let value = a.dns_value.trim_end_matches('.');
    let (label, zone) = name.split_once('.')?;
    if !zone.eq_ignore_ascii_case(base) || !is_dns_name(name) {
        return None;
    }
    let kind = if a.dns_type.is_empty() {
        "CNAME".to_owned()
    } else {
        a.dns_type.to_ascii_uppercase()
    };
    let sectigo = kind == "CNAME"
        && label.strip_prefix('_').is_some_and(|h| is_hex(h, 32))
        && is_sectigo_target(value);
    let digicert = kind == "TXT" && label.eq_ignore_ascii_case("_dnsauth") && is_token(value);
    let ok = match family {
        Family::Sectigo => sectigo,
        Family::DigiCert => digicert,
        Family::Other => sectigo || digicert,
    };
    ok.then(|| (kind, name.to_owned(), value.to_owned()))
}

/// A file from the API, if it is exactly what the CA family's validation asks for:
/// Sectigo's `<MD5>.txt` with its hash lines, or DigiCert's `fileauth.txt` with a token.
fn file_record(a: &NameDcv, family: Family) -> bool {
    let name = a.file_name.as_str();
    let sectigo = name
        .strip_suffix(".txt")
        .is_some_and(|stem| is_hex(stem, 32))
        && is_sectigo_content(&a.file_content);
    let digicert = name == "fileauth.txt" && is_token(a.file_content.trim());
    match family {
        Family::Sectigo => sectigo,
        Family::DigiCert => digicert,
        Family::Other => sectigo || digicert,
    }
}

/// A TXT value written as one quoted zone-file string: printable ASCII without quotes or
/// backslashes.
pub fn is_txt(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
}

/// What the records of an order's names are worked out from: its params as sent, its
/// `uniqueValue`, its CA family, and the hashes of its CSR where that family derives the
/// records from it.
struct Basis {
    params: serde_json::Value,
    unique: Option<String>,
    family: Family,
    hashes: Option<CsrHashes>,
}

impl Basis {
    fn of(order: &ExpandedOrder, catalog: &Catalog) -> Basis {
        let params = order.wire_params();
        let unique = params
            .get("uniqueValue")
            .and_then(serde_json::Value::as_str)
            .filter(|u| !u.is_empty())
            .map(str::to_owned);
        let family = catalog
            .get(&order.product_code)
            .map_or(Family::Other, |p| Family::of_vendor(&p.vendor));
        let hashes = params
            .get("csr")
            .and_then(serde_json::Value::as_str)
            .and_then(CsrHashes::of_pem)
            .filter(|_| family == Family::Sectigo);
        Basis {
            params,
            unique,
            family,
            hashes,
        }
    }
}

/// What `dcv` found: the records, and how many names of orders not placed yet cannot be
/// known before they are (no CSR to compute from, or a CA that issues its own tokens).
#[derive(Debug, Default)]
pub struct Found {
    /// One record per name.
    pub records: Vec<Record>,
    /// Names known only once their order is placed.
    pub later: usize,
    /// Names whose record in the ledger was not used (not what a CA's validation can be),
    /// as `(key, domain)`.
    pub refused: Vec<(String, String)>,
}

/// The records of every name of `orders` that is not issued yet; with `settled`, also
/// those of issued (`verified`) and cancelled, revoked or expired (`settled`) certificates,
/// for removing records no longer needed.
pub fn of_orders(
    orders: &[ExpandedOrder],
    ledger: &Contents,
    catalog: &Catalog,
    settled: bool,
) -> Found {
    let states = ledger.states();
    let mut out = Vec::new();
    let mut later = 0;
    let mut refused = Vec::new();
    for order in orders {
        let state = states.get(order.key.as_str());
        let status = state
            .and_then(|s| s.status)
            .map(|r| r.status.to_ascii_uppercase());
        let done = status.as_deref().filter(|s| SETTLED.contains(s));
        if done.is_some() && !settled {
            continue;
        }
        let placed = state.is_some_and(|s| s.current.is_some());
        let said = state.map(said).unwrap_or_default();
        let Basis {
            params,
            unique,
            family,
            hashes,
        } = Basis::of(order, catalog);
        // A placed order is validated with the CSR it was sent with: when the manifest's
        // differs (a new key, replaced once issued), the API's records are the ones.
        let sent_this_csr = state
            .and_then(|s| s.made)
            .is_none_or(|made| same_csr(order, made));
        let hashes = hashes.filter(|_| !placed || sent_this_csr);
        for wanted in names::requested(&params) {
            let api = said
                .iter()
                .find(|s| s.domain.eq_ignore_ascii_case(&wanted.domain));
            let mut record = one(
                order,
                &wanted,
                api,
                hashes.as_ref(),
                unique.as_deref(),
                family,
            );
            let said_some = api.is_some_and(|a| {
                !a.dns_value.is_empty() || !a.file_name.is_empty() || !a.file_content.is_empty()
            });
            if said_some && record.kind.is_empty() {
                refused.push((order.key.clone(), wanted.domain.clone()));
            }
            match done {
                Some("COMPLETE" | "REISSUED") => record.state = "verified".into(),
                Some(_) => record.state = "settled".into(),
                None => {}
            }
            // Before placing, only what can be known then.
            if placed || record.state != "unknown" {
                out.push(record);
            } else {
                later += 1;
            }
        }
    }
    Found {
        records: out,
        later,
        refused,
    }
}

/// What each name of `order`'s own request (a placement, a renewal or replacement with
/// its CSR) will need before the CA validates it: computed from the CSR where the CA
/// derives it from it, the approver for `EMAIL`, else a record of no type (known only once
/// the order is placed).
pub fn for_new_call(order: &ExpandedOrder, catalog: &Catalog) -> Vec<Record> {
    let b = Basis::of(order, catalog);
    names::requested(&b.params)
        .iter()
        .map(|wanted| {
            one(
                order,
                wanted,
                None,
                b.hashes.as_ref(),
                b.unique.as_deref(),
                b.family,
            )
        })
        .collect()
}

/// The record of `domain` of `order` as `said` (what a fresh `/ssl/collect` says of the
/// order's names) gives it: what a record read from the ledger is confirmed against
/// before it is published.
pub fn from_said(
    order: &ExpandedOrder,
    domain: &str,
    said: &[NameDcv],
    catalog: &Catalog,
) -> Option<Record> {
    let b = Basis::of(order, catalog);
    let wanted = names::requested(&b.params)
        .into_iter()
        .find(|w| w.domain.eq_ignore_ascii_case(domain))?;
    let api = said
        .iter()
        .find(|s| s.domain.eq_ignore_ascii_case(domain))?;
    let record = one(
        order,
        &wanted,
        Some(api),
        None,
        b.unique.as_deref(),
        b.family,
    );
    (record.source == "api").then_some(record)
}

/// Whether `made` (the call that made the certificate in force) sent the manifest's CSR:
/// its recorded `csr` field hash, or for rows without field hashes its whole request.
fn same_csr(order: &ExpandedOrder, made: &crate::ledger::Row) -> bool {
    let then = crate::expand::parse_fields_cell(&made.request_fields);
    if then.is_empty() {
        return made.request_sha256 == order.request_sha256();
    }
    let now = order.field_hashes();
    let had = then.iter().find(|(n, _)| *n == "csr").map(|(_, h)| *h);
    let has = now
        .iter()
        .find(|(n, _)| *n == "csr")
        .map(|(_, h)| h.as_str());
    had == has
}

/// What the API said of each name of a key's certificate in force: the reply of the call
/// that made it, then, in time order, what collect said and what `/ssl/updateDCV` calls
/// that succeeded changed since.
pub fn said(state: &KeyState<'_>) -> Vec<NameDcv> {
    let Some(current) = state.current else {
        return Vec::new();
    };
    let mut said: Vec<NameDcv> = names::parse_cell(&current.dcv);
    let success = crate::nicsrs::wire::Code::Success.value();
    let mut later: Vec<&crate::ledger::Row> = state
        .dcv_updates
        .rows()
        .filter(|r| r.code == Some(success) && r.cert_id == current.cert_id)
        .chain(state.status)
        .collect();
    // Stable: rows of one time keep their ranked order.
    later.sort_by(|a, b| a.time.cmp(&b.time));
    for row in later {
        for n in names::parse_cell(&row.dcv) {
            match said
                .iter_mut()
                .find(|s| s.domain.eq_ignore_ascii_case(&n.domain))
            {
                Some(s) => merge(s, n),
                None => said.push(n),
            }
        }
    }
    said
}

/// The names of a certificate waiting for validation whose `dcvMethod` (or, for `EMAIL`,
/// `dcvEmail`) the manifest changed since NicSRS was told: each as the manifest has it
/// now, for `/ssl/updateDCV`. A name whose method NicSRS's replies never gave is left
/// alone (nothing is known to differ).
pub fn changed_names(order: &ExpandedOrder, state: &KeyState<'_>) -> Vec<NameDcv> {
    let held = said(state);
    names::requested(&order.wire_params())
        .into_iter()
        .filter(|wanted| compare(wanted, &held) == Some(false))
        .collect()
}

/// Whether NicSRS holds every name of `order` with the method (and approver) the
/// manifest has now: its `domainInfo` differs from the placement's in nothing that matters.
pub fn methods_held(order: &ExpandedOrder, state: &KeyState<'_>) -> bool {
    let held = said(state);
    let wanted = names::requested(&order.wire_params());
    !wanted.is_empty() && wanted.iter().all(|w| compare(w, &held) == Some(true))
}

/// Whether the name is held as wanted; `None` when NicSRS's method for it is not known.
fn compare(wanted: &NameDcv, held: &[NameDcv]) -> Option<bool> {
    let h = held
        .iter()
        .find(|h| h.domain.eq_ignore_ascii_case(&wanted.domain))?;
    if h.method.is_empty() || wanted.method.is_empty() {
        return None;
    }
    Some(
        h.method.eq_ignore_ascii_case(&wanted.method)
            && !(wanted.method.eq_ignore_ascii_case("EMAIL")
                && !h.email.is_empty()
                && !h.email.eq_ignore_ascii_case(&wanted.email)),
    )
}

/// `later` (collect) over `earlier` (the placement): what it says, where it says anything.
fn merge(earlier: &mut NameDcv, later: NameDcv) {
    let keep = |a: &mut String, b: String| {
        if !b.is_empty() {
            *a = b;
        }
    };
    keep(&mut earlier.method, later.method);
    keep(&mut earlier.email, later.email);
    if later.verified.is_some() {
        earlier.verified = later.verified;
    }
    if !later.dns_value.is_empty() {
        earlier.dns_name = later.dns_name;
        earlier.dns_type = later.dns_type;
        earlier.dns_value = later.dns_value;
    }
    if !later.file_name.is_empty() {
        earlier.file_name = later.file_name;
        earlier.file_content = later.file_content;
        earlier.file_path = later.file_path;
    }
}

/// The methods NicSRS documents (and `DNS_CSR_HASH`, which some clients send).
const METHODS: [&str; 5] = [
    "EMAIL",
    "HTTP_CSR_HASH",
    "HTTPS_CSR_HASH",
    "CNAME_CSR_HASH",
    "DNS_CSR_HASH",
];

/// The record of one name. What the ledger says is taken only when it is what a CA's
/// validation can be (the ledger is a file anyone may edit): a DNS record at a `_` label
/// of the name or a parent of it, a CNAME to the CA, a file the CAs name; and where the
/// record can be computed from the CSR, the computed one is shown.
fn one(
    order: &ExpandedOrder,
    wanted: &NameDcv,
    api: Option<&NameDcv>,
    hashes: Option<&CsrHashes>,
    unique: Option<&str>,
    family: Family,
) -> Record {
    // The method NicSRS holds wins over the manifest's (which `update-dcv` converges).
    let method = api
        .map(|a| a.method.to_ascii_uppercase())
        .filter(|m| METHODS.contains(&m.as_str()))
        .unwrap_or_else(|| wanted.method.to_ascii_uppercase());
    let verified = api.and_then(|a| a.verified) == Some(true);
    let domain = wanted.domain.clone();
    let base = domain.trim_start_matches("*.").to_ascii_lowercase();
    let mut r = Record {
        key: order.key.clone(),
        domain,
        method: method.clone(),
        kind: String::new(),
        name: String::new(),
        value: String::new(),
        url: String::new(),
        content: String::new(),
        source: String::new(),
        state: "unknown".into(),
    };
    let placed = |r: &mut Record, source: &str| {
        r.source = source.into();
        r.state = "to-publish".into();
    };
    match method.as_str() {
        "EMAIL" => {
            r.kind = "EMAIL".into();
            let email = api.map(|a| a.email.as_str()).filter(|e| is_email(e));
            r.source = if email.is_some() { "api" } else { "manifest" }.into();
            r.value = email.unwrap_or(&wanted.email).to_owned();
            r.state = "to-approve".into();
        }
        m if m.starts_with("HTTP") => {
            let scheme = if m.starts_with("HTTPS") {
                "https"
            } else {
                "http"
            };
            let url = |file: &str| format!("{scheme}://{base}/.well-known/pki-validation/{file}");
            if let Some(h) = hashes {
                r.kind = "FILE".into();
                r.url = url(&h.file_name());
                r.content = h.file_content(unique);
                placed(&mut r, "csr");
            } else if let Some(a) = api.filter(|a| file_record(a, family)) {
                r.kind = "FILE".into();
                r.url = url(&a.file_name);
                r.content.clone_from(&a.file_content);
                placed(&mut r, "api");
            }
        }
        _ => {
            if let Some(h) = hashes.filter(|_| method.contains("CSR_HASH")) {
                r.kind = "CNAME".into();
                r.name = format!("{}.{base}", h.cname_label());
                r.value = h.cname_target(unique);
                placed(&mut r, "csr");
            } else if let Some((kind, name, value)) = api.and_then(|a| dns_record(a, &base, family))
            {
                r.kind = kind;
                r.name = name;
                r.value = value;
                placed(&mut r, "api");
            }
        }
    }
    if verified {
        r.state = "verified".into();
    }
    r
}
