//! NicSRS's wire format, shared by the client and the sandbox: response codes, the reply
//! envelope, the normalisation of its `errors` field, and ([`read`]) what each endpoint's
//! reply means. `docs/nicsrs-api.md` gives the source of every fact; the contract fixtures
//! in `tests/fixtures/wire/` pin the shapes.

pub mod endpoints;
pub mod read;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `code` of a reply (NicSRS's "Appendix – Response Codes").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i64)]
pub enum Code {
    /// Success.
    Success = 1,
    /// Still being processed (collect: the certificate is being issued).
    Processing = 2,
    /// Parameter validation failed: permanent for this request.
    Invalid = -1,
    /// Unknown error: the outcome is unknown and must be reconciled before resending.
    Unknown = -2,
    /// Product or price error: permanent.
    Product = -3,
    /// Insufficient credit: every later order of the batch would fail the same way.
    Credit = -4,
    /// Order status error: the call does not fit the order's state. Nothing was done.
    OrderState = -5,
    /// The CA refused the request: permanent for this attempt.
    CaFailed = -6,
    /// Certificate status error (a reissue before issuance, say). Nothing was done.
    CertificateState = -7,
    /// The order is already cancelled. Nothing was done.
    Cancelled = -8,
    /// Permission denied: bad token or an IP not on the allow-list. Stop the batch.
    Denied = 400,
}

impl Code {
    /// The code as sent.
    pub fn value(self) -> i64 {
        self as i64
    }

    /// The code for a value, if it is one NicSRS documents.
    pub fn from_value(v: i64) -> Option<Code> {
        Some(match v {
            1 => Code::Success,
            2 => Code::Processing,
            -1 => Code::Invalid,
            -2 => Code::Unknown,
            -3 => Code::Product,
            -4 => Code::Credit,
            -5 => Code::OrderState,
            -6 => Code::CaFailed,
            -7 => Code::CertificateState,
            -8 => Code::Cancelled,
            400 => Code::Denied,
            _ => return None,
        })
    }

    /// The message NicSRS gives with the code.
    pub fn message(self) -> &'static str {
        match self {
            Code::Success => "success",
            Code::Processing => "the certificate is being processed",
            Code::Invalid => "parameter validation failed",
            Code::Unknown => "unknown error",
            Code::Product => "product or price error",
            Code::Credit => "insufficient credit",
            Code::OrderState => "order status error",
            Code::CaFailed => "CA request failed",
            Code::CertificateState => "certificate status error",
            Code::Cancelled => "the order is already cancelled",
            Code::Denied => "permission denied",
        }
    }
}

/// The JSON envelope of every reply: `{code, msg, errors, data}`, and for `/ssl/collect`
/// the certificate's `status` beside `code` (where NicSRS's page puts it).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Reply {
    /// The response code (see [`Code`]); a number, also read from a numeric string.
    #[serde(deserialize_with = "read::lenient_code")]
    pub code: i64,
    /// A short message.
    #[serde(default, deserialize_with = "read::lenient_text")]
    pub msg: String,
    /// `/ssl/collect`: the certificate's status (PENDING, COMPLETE, ...).
    #[serde(
        default,
        deserialize_with = "read::lenient_status",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// A `certId` beside `code` rather than in `data` (not documented; some clients merge
    /// the two levels): read as the reply's certId when `data` has none.
    #[serde(default, rename = "certId", skip_serializing_if = "Option::is_none")]
    pub cert_id: Option<Value>,
    /// Why the request failed: an array, a string or an object of field → messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
    /// The result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

impl Reply {
    /// A reply with `code` and its usual message.
    pub fn new(code: Code) -> Self {
        Reply {
            code: code.value(),
            msg: code.message().into(),
            status: None,
            cert_id: None,
            errors: None,
            data: None,
        }
    }

    /// Its code, if NicSRS documents it.
    pub fn known_code(&self) -> Option<Code> {
        Code::from_value(self.code)
    }

    /// A success carrying `data`.
    pub fn success(data: Value) -> Self {
        Reply {
            data: Some(data),
            ..Reply::new(Code::Success)
        }
    }

    /// A failure with `errors` shaped like the live API's (`{"field": ["message"]}`).
    pub fn fail(code: Code, errors: Value) -> Self {
        Reply {
            errors: Some(errors),
            ..Reply::new(code)
        }
    }

    /// One readable message from `msg` and `errors`, whatever shape `errors` has: one
    /// line, bounded, escaped (it is printed and recorded in the ledger).
    pub fn message(&self) -> String {
        crate::shown::bounded(&self.full_message(), crate::shown::REPLY_TEXT_CHARS)
    }

    fn full_message(&self) -> String {
        match self.errors.as_ref().map(errors_text) {
            Some(detail) if !detail.is_empty() => {
                if self.msg.is_empty() {
                    detail
                } else {
                    format!("{}: {detail}", self.msg)
                }
            }
            _ => self.msg.clone(),
        }
    }
}

/// A Unix time as `YYYY-MM-DD{sep}HH:MM:SS{suffix}` in UTC: NicSRS's dates use `' '` and
/// no suffix (`2027-02-20 07:59:59`), RFC 3339 uses `'T'` and `Z`.
pub fn format_utc(unix: i64, sep: char, suffix: &str) -> String {
    match time::OffsetDateTime::from_unix_timestamp(unix) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}{sep}{:02}:{:02}:{:02}{suffix}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        ),
        Err(_) => String::new(),
    }
}

/// Flattens `errors` (array, string or object of field → messages) into one line.
pub fn errors_text(errors: &Value) -> String {
    fn collect(v: &Value, prefix: Option<&str>, out: &mut Vec<String>) {
        match v {
            Value::Null => {}
            Value::String(s) => out.push(match prefix {
                Some(p) if !s.contains(p) => format!("{p}: {s}"),
                _ => s.clone(),
            }),
            Value::Array(items) => items.iter().for_each(|i| collect(i, prefix, out)),
            Value::Object(map) => map.iter().for_each(|(k, v)| collect(v, Some(k), out)),
            other => out.push(other.to_string()),
        }
    }
    let mut out = Vec::new();
    collect(errors, None, &mut out);
    out.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_of_every_shape_become_one_message() {
        assert_eq!(errors_text(&json!("bad token")), "bad token");
        assert_eq!(errors_text(&json!(["a", "b"])), "a; b");
        assert_eq!(
            errors_text(&json!({"years": ["years is required"], "params": ["not JSON"]})),
            "years is required; params: not JSON"
        );
        let r: Reply = serde_json::from_str(r#"{"code":-1,"msg":"failed","errors":{"x":["y"]}}"#)
            .expect("reply");
        assert_eq!(r.message(), "failed: x: y");
        assert_eq!(Code::from_value(r.code), Some(Code::Invalid));
    }
}
