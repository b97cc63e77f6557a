//! What each endpoint's reply means, read the way NicSRS's pages and its public clients
//! show it, and tolerant where they disagree (`docs/nicsrs-api.md` says where). These are
//! the only functions that look inside a reply's `data`: the runner, `refresh` and
//! `products` use them, and the contract fixtures in `tests/fixtures/wire/` are read by
//! them in a test.

use serde::{Deserialize, Deserializer};
use serde_json::{Map, Value};

use super::{Code, Reply};

/// A string field that may also come as a number or `null` (read as text).
pub fn lenient_text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    })
}

/// The reply's `code`: a number, or a string holding one (PHP clients compare loosely, so
/// a server may send either).
pub fn lenient_code<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    match Value::deserialize(d)? {
        Value::Number(n) => n
            .as_i64()
            .ok_or_else(|| serde::de::Error::custom("code is not an integer")),
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| serde::de::Error::custom("code is not a number")),
        _ => Err(serde::de::Error::custom("code is not a number")),
    }
}

/// A text field of `data`, whether NicSRS sent it as a string or a number.
fn text(data: &Value, field: &str) -> Option<String> {
    match data.get(field)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A `status` beside `code`: text, or nothing (another type is no status).
pub fn lenient_status<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        // A status is one short word (PENDING, COMPLETE, ...): anything else is kept only
        // bounded and escaped, as it is printed and recorded.
        Value::String(s) => Some(crate::shown::bounded(&s, 40)),
        _ => None,
    })
}

/// What a reply says of a certId.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertId {
    /// A certId.
    Present(String),
    /// None: no `data`, an empty one, or a `certId` that is empty or null.
    Absent,
    /// Something that cannot be read as a certId or its absence: a `data` of another
    /// shape, a `certId` that is not a short token, other fields without one.
    Unreadable,
}

/// Whether `id` can be a certId: a short token (NicSRS's look like `260113vghhracpaw`), never
/// text that could smuggle line breaks or formulas into the ledger.
fn plausible_cert_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn cert_id_value(v: &Value) -> CertId {
    match v {
        Value::Null => CertId::Absent,
        Value::String(s) if s.trim().is_empty() => CertId::Absent,
        Value::String(s) if plausible_cert_id(s.trim()) => CertId::Present(s.trim().to_owned()),
        Value::Number(n) if plausible_cert_id(&n.to_string()) => CertId::Present(n.to_string()),
        _ => CertId::Unreadable,
    }
}

/// The certId of a reply that creates an order or a certificate (place, renew, reissue,
/// replace) or finds one (certIdByrefId): `data.certId` (also in a `data` sent as a JSON
/// string), or a `certId` beside `code`.
pub fn cert_id_of(reply: &Reply) -> CertId {
    let parsed;
    let data = match reply.data.as_ref() {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s) {
            Ok(v @ Value::Object(_)) => {
                parsed = v;
                Some(&parsed)
            }
            _ => return CertId::Unreadable,
        },
        Some(v @ Value::Object(_)) => Some(v),
        Some(_) => return CertId::Unreadable,
    };
    let in_data = match data {
        Some(Value::Object(m)) => match m.get("certId") {
            Some(v) => cert_id_value(v),
            None if m.is_empty() => CertId::Absent,
            // Other fields and no certId: a shape nobody documents.
            None => CertId::Unreadable,
        },
        _ => CertId::Absent,
    };
    match (in_data, reply.cert_id.as_ref()) {
        (CertId::Absent, Some(top)) => cert_id_value(top),
        (found, _) => found,
    }
}

/// The certId of a reply, when it has a readable one.
pub fn cert_id(reply: &Reply) -> Option<String> {
    match cert_id_of(reply) {
        CertId::Present(id) => Some(id),
        _ => None,
    }
}

/// What a paid call's reply (place, renew, reissue, replace) means for money.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Paid {
    /// Success: the order or certificate exists as this certId.
    Done(String),
    /// A definite refusal: nothing was bought. `stop_all` when every later call of the
    /// run would be refused the same way (credit, token).
    Refused {
        /// Stop starting new calls.
        stop_all: bool,
    },
    /// The outcome is unknown (-2, an unknown code, success without a certId): reconcile
    /// by refId before anything is sent again.
    Unknown,
}

/// Reads a paid call's reply.
pub fn paid(reply: &Reply) -> Paid {
    match (reply.known_code(), cert_id(reply)) {
        (Some(Code::Success), Some(id)) => Paid::Done(id),
        (Some(Code::Credit | Code::Denied), _) => Paid::Refused { stop_all: true },
        (
            Some(
                Code::Invalid
                | Code::Product
                | Code::OrderState
                | Code::CaFailed
                | Code::CertificateState
                | Code::Cancelled,
            ),
            _,
        ) => Paid::Refused { stop_all: false },
        _ => Paid::Unknown,
    }
}

/// What `/ssl/certIdByrefId` says about a refId.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// An order with that refId exists.
    Found(String),
    /// No order has that refId: code -1, or success without a certId (whether the live
    /// API answers -1 for an unknown refId is unverified; both readings mean "not found").
    NotFound,
    /// Permission denied (400): stop the run.
    Denied,
    /// Anything else: it could not be told; ask again, never send on it.
    Unclear,
}

/// Reads a `/ssl/certIdByrefId` reply. Only a success without any certId (no `data`, an
/// empty one, an empty `certId`) or -1 is "not found": a reply of another shape is unclear,
/// never a reason to buy.
pub fn lookup(reply: &Reply) -> Lookup {
    match (reply.known_code(), cert_id_of(reply)) {
        (Some(Code::Success), CertId::Present(id)) => Lookup::Found(id),
        (Some(Code::Success), CertId::Absent) | (Some(Code::Invalid), _) => Lookup::NotFound,
        (Some(Code::Denied), _) => Lookup::Denied,
        _ => Lookup::Unclear,
    }
}

/// One name's validation state, from collect's `dcvList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DcvState {
    /// The name.
    pub domain: String,
    /// Its method (`EMAIL`, `HTTP_CSR_HASH`, ...).
    pub method: String,
    /// The approver address, for EMAIL.
    pub email: String,
    /// Whether the CA has validated it (`is_verify` = `verified`).
    pub verified: bool,
}

/// What `/ssl/collect` says about a certificate.
#[derive(Clone, Default)]
pub struct Collected {
    /// PENDING, COMPLETE, CANCELLED, REISSUED, FAILED, ...: the top-level `status` (where
    /// NicSRS's page puts it), else `data.status`; PENDING for code 2 without one.
    pub status: String,
    /// Certificate validity start (`data.beginDate`).
    pub begin: String,
    /// Certificate expiry (`data.endDate`).
    pub end: String,
    /// End of the paid subscription (`data.dueDate`).
    pub due: String,
    /// The certificate, PEM.
    pub certificate: Option<String>,
    /// The CA chain, PEM.
    pub chain: Option<String>,
    /// The private key NicSRS generated, PEM (`data.rsaPrivateKey` or `data.privateKey`).
    pub private_key: Option<String>,
    /// The CSR NicSRS holds for the order (`data.applyParams.csr`): for an order whose key
    /// NicSRS generated, what a renewal is sent with.
    pub apply_csr: Option<String>,
    /// `applyParams.domainInfo`: the names and methods NicSRS holds for the order.
    pub apply_domain_info: Option<Value>,
    /// Each name's validation state.
    pub dcv: Vec<DcvState>,
    /// Each name's validation state with the records the reply's DCV fields give.
    pub names: Vec<crate::dcv::NameDcv>,
}

impl std::fmt::Debug for Collected {
    /// Key material is never shown, not even in a test failure.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |o: &Option<String>| o.as_ref().map(|_| "<present>");
        f.debug_struct("Collected")
            .field("status", &self.status)
            .field("begin", &self.begin)
            .field("end", &self.end)
            .field("due", &self.due)
            .field("certificate", &shown(&self.certificate))
            .field("chain", &shown(&self.chain))
            .field(
                "private_key",
                &shown(&self.private_key).map(|_| "<redacted>"),
            )
            .field("apply_csr", &shown(&self.apply_csr))
            .field("apply_domain_info", &self.apply_domain_info)
            .field("dcv", &self.dcv)
            .finish()
    }
}

/// Reads a `/ssl/collect` reply: `None` unless the code is 1 (success) or 2 (being
/// processed).
pub fn collected(reply: &Reply) -> Option<Collected> {
    let code = reply.known_code()?;
    if !matches!(code, Code::Success | Code::Processing) {
        return None;
    }
    let null = Value::Null;
    let data = reply.data.as_ref().unwrap_or(&null);
    let status = reply
        .status
        .clone()
        .filter(|s| !s.is_empty())
        .or_else(|| text(data, "status"))
        .unwrap_or_else(|| {
            if code == Code::Processing {
                "PENDING".into()
            } else {
                "UNKNOWN".into()
            }
        });
    let field = |k: &str| text(data, k).unwrap_or_default();
    let dcv: Vec<DcvState> = data
        .get("dcvList")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            Some(DcvState {
                domain: text(d, "domainName")?,
                method: text(d, "dcvMethod").unwrap_or_default(),
                email: text(d, "dcvEmail").unwrap_or_default(),
                verified: text(d, "is_verify").is_some_and(|v| v.eq_ignore_ascii_case("verified")),
            })
        })
        .collect();
    Some(Collected {
        status: status.to_ascii_uppercase(),
        begin: field("beginDate"),
        end: field("endDate"),
        due: field("dueDate"),
        certificate: text(data, "certificate"),
        chain: text(data, "caCertificate"),
        private_key: text(data, "rsaPrivateKey").or_else(|| text(data, "privateKey")),
        apply_csr: data
            .get("applyParams")
            .and_then(|p| apply_params(p, "csr"))
            .and_then(|v| match v {
                Value::String(s) if !s.is_empty() => Some(s),
                _ => None,
            }),
        apply_domain_info: data
            .get("applyParams")
            .and_then(|p| apply_params(p, "domainInfo"))
            .filter(Value::is_array),
        names: crate::dcv::names::from_collect(Some(data), &dcv),
        dcv,
    })
}

/// A field of `applyParams`, which is an object, or (as some replies have it) the same
/// object as a JSON string.
fn apply_params(params: &Value, field: &str) -> Option<Value> {
    match params {
        Value::Object(m) => m.get(field).cloned(),
        Value::String(s) => serde_json::from_str::<Value>(s)
            .ok()
            .and_then(|v| v.get(field).cloned()),
        _ => None,
    }
}

/// A DCV record the API gave for an order (place, replace, renew, updateDCV, collect).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DcvRecord {
    /// The name it is for; empty when the reply gives one set for the whole order.
    pub domain: String,
    /// `DCVfileName`.
    pub file_name: String,
    /// `DCVfileContent`.
    pub file_content: String,
    /// `DCVfilePath`.
    pub file_path: String,
    /// `DCVdnsHost`: a label to put before the name (`_dnsauth`) or a full name.
    pub dns_host: String,
    /// `DCVdnsValue`.
    pub dns_value: String,
    /// `DCVdnsType` (`CNAME`, `TXT`).
    pub dns_type: String,
}

impl DcvRecord {
    fn from(domain: &str, v: &Value) -> Option<DcvRecord> {
        let f = |k: &str| text(v, k).unwrap_or_default();
        let r = DcvRecord {
            domain: domain.to_owned(),
            file_name: f("DCVfileName"),
            file_content: f("DCVfileContent"),
            file_path: f("DCVfilePath"),
            dns_host: f("DCVdnsHost"),
            dns_value: f("DCVdnsValue"),
            dns_type: f("DCVdnsType"),
        };
        (r != DcvRecord {
            domain: domain.to_owned(),
            ..DcvRecord::default()
        })
        .then_some(r)
    }

    /// The DNS record's full name for `domain`: `DCVdnsHost` as a label before the name
    /// (without a wildcard's `*.`), or as it is when it already ends with the name.
    pub fn dns_name(&self, domain: &str) -> String {
        let base = domain.trim_start_matches("*.").trim_end_matches('.');
        let host = self.dns_host.trim_end_matches('.');
        if host.is_empty() || host.eq_ignore_ascii_case(base) || host.ends_with(&format!(".{base}"))
        {
            host.to_owned()
        } else {
            format!("{host}.{base}")
        }
    }
}

/// The DCV records of a reply's `data`: one set for the order (the `DCV*` fields), and one
/// per name from `dcvInfo`, which comes as an object keyed by name or as a list of
/// objects with `domainName`.
pub fn dcv_records(data: &Value) -> Vec<DcvRecord> {
    let mut out: Vec<DcvRecord> = DcvRecord::from("", data).into_iter().collect();
    match data.get("dcvInfo") {
        Some(Value::Object(by_name)) => {
            out.extend(by_name.iter().filter_map(|(n, v)| DcvRecord::from(n, v)));
        }
        Some(Value::Array(items)) => out.extend(items.iter().filter_map(|v| {
            let name = text(v, "domainName")?;
            DcvRecord::from(&name, v)
        })),
        _ => {}
    }
    out
}

/// Reads `/ssl/productList`'s `data`: the list of products (an array, or an object of
/// products keyed by code). Each entry is returned as the API sent it.
pub fn product_list(reply: &Reply) -> Option<Vec<Map<String, Value>>> {
    if reply.known_code() != Some(Code::Success) {
        return None;
    }
    match reply.data.as_ref()? {
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(|v| v.as_object().cloned())
                .collect(),
        ),
        Value::Object(by_code) => Some(
            by_code
                .iter()
                .filter_map(|(code, v)| {
                    let mut entry = v.as_object()?.clone();
                    entry
                        .entry("code")
                        .or_insert_with(|| Value::String(code.clone()));
                    Some(entry)
                })
                .collect(),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply(v: Value) -> Reply {
        serde_json::from_value(v).expect("reply")
    }

    #[test]
    fn collect_status_is_read_at_the_top_level_and_in_data() {
        let top = reply(
            json!({"code": 1, "status": "COMPLETE", "data": {"endDate": "2027-02-20 07:59:59"}}),
        );
        assert_eq!(collected(&top).map(|c| c.status), Some("COMPLETE".into()));
        let inner = reply(json!({"code": 1, "data": {"status": "complete"}}));
        assert_eq!(collected(&inner).map(|c| c.status), Some("COMPLETE".into()));
        let pending = reply(json!({"code": 2, "msg": null}));
        assert_eq!(
            collected(&pending).map(|c| c.status),
            Some("PENDING".into())
        );
        assert!(collected(&reply(json!({"code": -1}))).is_none());
    }

    #[test]
    fn lookups_treat_minus_1_and_an_empty_success_as_not_found() {
        assert_eq!(
            lookup(&reply(json!({"code": 1, "data": {"certId": "260113abc"}}))),
            Lookup::Found("260113abc".into())
        );
        assert_eq!(
            lookup(&reply(json!({"code": 1, "data": {}}))),
            Lookup::NotFound
        );
        assert_eq!(lookup(&reply(json!({"code": 1}))), Lookup::NotFound);
        assert_eq!(lookup(&reply(json!({"code": -1}))), Lookup::NotFound);
        assert_eq!(lookup(&reply(json!({"code": -2}))), Lookup::Unclear);
        assert_eq!(lookup(&reply(json!({"code": 400}))), Lookup::Denied);
    }

    #[test]
    fn a_lookup_of_an_unknown_shape_is_unclear_never_not_found() {
        let found = |v: Value| lookup(&reply(v));
        let abc = Lookup::Found("ABC".into());
        assert_eq!(
            found(json!({"code": 1, "data": "{\"certId\":\"ABC\"}"})),
            abc
        );
        assert_eq!(found(json!({"code": 1, "certId": "ABC"})), abc);
        assert_eq!(
            found(json!({"code": "1", "data": {"certId": 260113}})),
            Lookup::Found("260113".into())
        );
        for odd in [
            json!({"code": 1, "data": {"data": {"certId": "ABC"}}}),
            json!({"code": 1, "data": {"certid": "ABC"}}),
            json!({"code": 1, "data": {"certId": ["ABC"]}}),
            json!({"code": 1, "data": {"certId": true}}),
            json!({"code": 1, "data": "not json"}),
            json!({"code": 1, "data": [1]}),
            json!({"code": 1, "data": {"certId": "A\r\n=cmd|x"}}),
            json!({"code": 1, "data": {"certId": "x".repeat(100)}}),
        ] {
            assert_eq!(found(odd.clone()), Lookup::Unclear, "{odd}");
        }
        assert_eq!(
            found(json!({"code": 1, "data": {"certId": "  "}})),
            Lookup::NotFound
        );
        assert_eq!(found(json!({"code": 1, "data": null})), Lookup::NotFound);
    }

    #[test]
    fn dns_hosts_are_labels_or_full_names() {
        let r = DcvRecord {
            dns_host: "_dnsauth".into(),
            ..DcvRecord::default()
        };
        assert_eq!(r.dns_name("*.example.com"), "_dnsauth.example.com");
        let full = DcvRecord {
            dns_host: "_abc.www.example.com".into(),
            ..DcvRecord::default()
        };
        assert_eq!(full.dns_name("www.example.com"), "_abc.www.example.com");
    }
}
