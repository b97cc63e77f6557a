//! The `data` of the sandbox's replies, in the shapes NicSRS's pages and public clients show
//! (`docs/nicsrs-api.md`), held to the contract fixtures in `tests/fixtures/wire/`: DCV
//! fields as place, replace and renew return them, collect's certificate and `dcvList`, and
//! `/ssl/productList` entries.

use serde_json::{Map, Value, json};

use super::ca::format_date;
use super::store::{Status, StoredOrder};
use crate::catalog::Product;
use crate::dcv::{CsrHashes, Family};

/// FNV-1a, for stable fake tokens.
fn fnv(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

/// The DCV fields of one name: computed from the CSR for the Sectigo family, random-looking
/// tokens (stable for the order) for the others.
fn dcv_fields(order: &StoredOrder, family: Family, name: &str, method: &str) -> Map<String, Value> {
    let mut m = Map::new();
    let unique = order.params.get("uniqueValue").and_then(Value::as_str);
    let hashes = order
        .params
        .get("csr")
        .and_then(Value::as_str)
        .and_then(CsrHashes::of_pem);
    let token = format!(
        "{:016x}{:016x}",
        fnv(&format!("{}{name}", order.placed_at)),
        fnv(&format!("{name}{}", order.params))
    );
    match (family, method, hashes) {
        (Family::Sectigo, "HTTP_CSR_HASH" | "HTTPS_CSR_HASH", Some(h)) => {
            m.insert("DCVfileName".into(), json!(h.file_name()));
            m.insert("DCVfileContent".into(), json!(h.file_content(unique)));
            m.insert(
                "DCVfilePath".into(),
                json!(format!("/.well-known/pki-validation/{}", h.file_name())),
            );
        }
        (Family::Sectigo, "CNAME_CSR_HASH", Some(h)) => {
            m.insert("DCVdnsHost".into(), json!(h.cname_label()));
            m.insert("DCVdnsValue".into(), json!(h.cname_target(unique)));
            m.insert("DCVdnsType".into(), json!("CNAME"));
        }
        // One token for both methods, as in the recorded DigiCert reply.
        (_, "HTTP_CSR_HASH" | "HTTPS_CSR_HASH" | "CNAME_CSR_HASH", _) => {
            let token = format!("_{token}");
            m.insert("DCVfileName".into(), json!("fileauth.txt"));
            m.insert("DCVfileContent".into(), json!(token));
            m.insert(
                "DCVfilePath".into(),
                json!("/.well-known/pki-validation/fileauth.txt"),
            );
            m.insert("DCVdnsHost".into(), json!("_dnsauth"));
            m.insert("DCVdnsValue".into(), json!(token));
            m.insert("DCVdnsType".into(), json!("TXT"));
        }
        _ => {}
    }
    m
}

/// The order's `domainInfo` entries as (domainName, dcvMethod, dcvEmail).
fn entries(order: &StoredOrder) -> Vec<(&str, &str, &str)> {
    order
        .params
        .get("domainInfo")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|d| {
            let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or_default();
            (text("domainName"), text("dcvMethod"), text("dcvEmail"))
        })
        .collect()
}

/// Each name with its method and DCV fields.
pub fn per_name(order: &StoredOrder, family: Family) -> Vec<(String, String, Map<String, Value>)> {
    entries(order)
        .into_iter()
        .map(|(n, m, _)| (n.to_owned(), m.to_owned(), dcv_fields(order, family, n, m)))
        .collect()
}

/// What place, replace and renew return (and updateDCV, and collect while pending): the
/// certId, `vendorId`, the DCV fields of the first name that has any, and for an order of
/// several names `dcvInfo` keyed by name (as NicSRS sends it when the names' values
/// differ).
pub fn order_data(order: &StoredOrder, family: Family) -> Map<String, Value> {
    let mut data = Map::new();
    data.insert("certId".into(), json!(order.cert_id));
    data.insert(
        "vendorId".into(),
        json!(format!("{}", fnv(&order.cert_id) % 10_000_000_000)),
    );
    data.extend(dcv_summary(order, family));
    data
}

/// The DCV fields alone: `DCV*` of the first name that has any, and `dcvInfo` for several.
pub fn dcv_summary(order: &StoredOrder, family: Family) -> Map<String, Value> {
    let mut data = Map::new();
    let per_name: Vec<(String, Map<String, Value>)> = entries(order)
        .into_iter()
        .map(|(n, m, _)| (n.to_owned(), dcv_fields(order, family, n, m)))
        .collect();
    if let Some((_, first)) = per_name.iter().find(|(_, f)| !f.is_empty()) {
        data.extend(first.clone());
    }
    if per_name.len() > 1 {
        let by_name: Map<String, Value> = per_name
            .into_iter()
            .filter(|(_, f)| !f.is_empty())
            .map(|(n, f)| (n, Value::Object(f)))
            .collect();
        data.insert("dcvInfo".into(), Value::Object(by_name));
    }
    data
}

/// Collect's `data`: dates, the certificate, its chain and a key NicSRS generated once it
/// is issued; always `dueDate`, the DCV fields, `dcvList` with `is_verify` and
/// `applyParams` (the order's params as NicSRS holds them).
/// `verified` says which names' evidence was found (with `--verify-dcv`).
pub fn collect_data(
    order: &StoredOrder,
    family: Family,
    chain: &str,
    verified: impl Fn(&str) -> bool,
) -> Map<String, Value> {
    let mut data = Map::new();
    let issued = order.status != Status::Pending;
    if let (Some(begin), Some(end), Some(cert)) = (order.begin, order.end, &order.certificate) {
        data.insert("beginDate".into(), json!(format_date(begin)));
        data.insert("endDate".into(), json!(format_date(end)));
        data.insert("certificate".into(), json!(cert));
        data.insert("caCertificate".into(), json!(chain));
        if let Some(key) = &order.private_key {
            data.insert("rsaPrivateKey".into(), json!(key));
        }
    }
    data.insert("dueDate".into(), json!(format_date(order.due)));
    data.extend(dcv_summary(order, family));
    let list: Vec<Value> = entries(order)
        .into_iter()
        .map(|(name, method, email)| {
            json!({
                "domainName": name,
                "dcvMethod": method,
                "dcvEmail": email,
                "is_verify": if issued || verified(name) { "verified" } else { "" },
            })
        })
        .collect();
    data.insert("dcvList".into(), Value::Array(list));
    let mut apply = order.params.as_object().cloned().unwrap_or_default();
    apply.remove("privateKey");
    data.insert("applyParams".into(), Value::Object(apply));
    data
}

/// One `/ssl/productList` entry: the product as the API lists it, without what the
/// catalogue adds (`vendor`, `kind`, `notes`, `unconfirmed`).
pub fn product_entry(p: &Product) -> Value {
    let yn = |b: bool| if b { "Y" } else { "N" };
    let mut entry = json!({
        "code": p.code,
        "productName": p.product_name,
        "validationType": p.validation_type,
        "supportWildcard": yn(p.support_wildcard),
        "supportSan": yn(p.support_san),
        "supportStandard": yn(p.support_standard.unwrap_or(true)),
        "supportIp": yn(p.support_ip.unwrap_or(false)),
        "maxDomain": p.max_domain,
        "maxYear": p.max_year,
        "defaultProtectDomain": p.default_protect_domain.unwrap_or(1),
        "price": p.price,
    });
    if p.price.is_null() {
        entry["price"] = json!({"basePrice": {}});
    }
    entry
}
