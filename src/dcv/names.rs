//! Each name's validation as the API described it, kept in the ledger's `dcv` cell: the
//! method, the approver, whether the CA has validated it, and the DNS record or file the
//! API said to publish. Nothing secret is involved (these records are public by design).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::nicsrs::wire::read::{self, DcvRecord};

/// Most bytes of a `dcv` cell read back (a 250-name order's records take about 60 KB).
const MAX_CELL_BYTES: usize = 256 * 1024;

/// One name's validation, as a reply described it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameDcv {
    /// The name.
    pub domain: String,
    /// `EMAIL`, `HTTP_CSR_HASH`, `HTTPS_CSR_HASH`, `CNAME_CSR_HASH`, ...
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub method: String,
    /// The approver address, for `EMAIL`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// What collect's `dcvList` said: validated or not; absent when the reply did not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified: Option<bool>,
    /// The DNS record's full name (`DCVdnsHost` put before the name when it is a label).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dns_name: String,
    /// `DCVdnsType`: `CNAME`, `TXT`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dns_type: String,
    /// `DCVdnsValue`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dns_value: String,
    /// `DCVfileName`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_name: String,
    /// `DCVfileContent`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_content: String,
    /// `DCVfilePath`, when the reply gives one.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub file_path: String,
}

impl NameDcv {
    fn with_record(mut self, record: Option<&DcvRecord>) -> NameDcv {
        if let Some(r) = record {
            if !r.dns_value.is_empty() {
                self.dns_name = r.dns_name(&self.domain);
                self.dns_type = r.dns_type.to_ascii_uppercase();
                self.dns_value.clone_from(&r.dns_value);
            }
            self.file_name.clone_from(&r.file_name);
            self.file_content.clone_from(&r.file_content);
            self.file_path.clone_from(&r.file_path);
        }
        self
    }
}

/// The names of an order as its request sent them: `domainInfo`'s `domainName`,
/// `dcvMethod` and `dcvEmail`.
pub fn requested(params: &Value) -> Vec<NameDcv> {
    params
        .get("domainInfo")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let domain = text("domainName");
            (!domain.is_empty()).then(|| NameDcv {
                domain,
                method: text("dcvMethod"),
                email: text("dcvEmail"),
                ..NameDcv::default()
            })
        })
        .collect()
}

/// What a place, renew, replace or updateDCV reply's `data` says each of `names` must
/// publish: the name's own record (`dcvInfo`) or the order's (`DCV*`). Empty when the
/// reply carries no DCV fields.
pub fn from_reply(data: Option<&Value>, names: Vec<NameDcv>) -> Vec<NameDcv> {
    let records = data.map(read::dcv_records).unwrap_or_default();
    if records.is_empty() {
        return Vec::new();
    }
    let order_wide = records.iter().find(|r| r.domain.is_empty());
    let of = |domain: &str| {
        records
            .iter()
            .find(|r| r.domain.eq_ignore_ascii_case(domain))
            .or(order_wide)
    };
    let mut out: Vec<NameDcv> = names
        .into_iter()
        .map(|n| {
            let record = of(&n.domain);
            n.with_record(record)
        })
        .collect();
    // Names the reply gives records for that the request did not list (a reissue sends none).
    for r in records.iter().filter(|r| !r.domain.is_empty()) {
        if !out.iter().any(|n| n.domain.eq_ignore_ascii_case(&r.domain)) {
            let name = NameDcv {
                domain: r.domain.clone(),
                ..NameDcv::default()
            };
            out.push(name.with_record(Some(r)));
        }
    }
    out
}

/// What a collect reply says of each name: `dcvList` (method, approver, validated or not)
/// with the records of its DCV fields.
pub fn from_collect(data: Option<&Value>, states: &[read::DcvState]) -> Vec<NameDcv> {
    let names = states
        .iter()
        .map(|s| NameDcv {
            domain: s.domain.clone(),
            method: s.method.clone(),
            email: s.email.clone(),
            verified: Some(s.verified),
            ..NameDcv::default()
        })
        .collect::<Vec<_>>();
    let with_records = from_reply(data, names.clone());
    if with_records.is_empty() {
        names
    } else {
        with_records
    }
}

/// The ledger's `dcv` cell: the names as one compact JSON array, or empty.
pub fn cell(names: &[NameDcv]) -> String {
    if names.is_empty() {
        return String::new();
    }
    serde_json::to_string(names).unwrap_or_default()
}

/// A `dcv` cell read back. The ledger is edited by people and merged by Git: a cell that
/// is too long or not this shape reads as no information.
pub fn parse_cell(cell: &str) -> Vec<NameDcv> {
    if cell.is_empty() || cell.len() > MAX_CELL_BYTES {
        return Vec::new();
    }
    serde_json::from_str(cell).unwrap_or_default()
}
