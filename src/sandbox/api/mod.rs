//! The `/ssl/*` endpoints: what the live API checks, answered the way NicSRS's pages show
//! (`docs/nicsrs-api.md`; the reply shapes are in [`super::shapes`] and pinned by the
//! contract fixtures in `tests/fixtures/wire/`).

mod account;
mod change;
mod collect;
mod place;

use account::product_list;
pub use account::stats;
use change::*;
use collect::*;
use place::*;

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};

use super::App;
use super::shapes;
use crate::csr;
use crate::dcv::Family;
use crate::nicsrs::wire::{Code, Reply, endpoints};
use crate::sandbox::store::{MadeBy, Status, StoredOrder};
use crate::schema::{Caret, Schema};

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Renewal is accepted this close to expiry, as on the live API.
const RENEW_WINDOW_DAYS: i64 = 90;
/// Issued certificates can be cancelled this long after issue.
const CANCEL_WINDOW_DAYS: i64 = 30;

/// Names under this domain are refused by the sandbox's CA (code -6, nothing stored), as
/// a payment sandbox has card numbers that are always declined: a way to try a refusal.
pub const CA_REFUSES: &str = "ca-refuses.example";

/// What a request came to: the reply, and the state generation to save before sending it.
pub struct Handled {
    /// HTTP status (200 for every API answer, as live).
    pub status: StatusCode,
    /// The JSON reply.
    pub reply: Reply,
    /// Set when the request stored something.
    pub stored: Option<u64>,
}

impl Handled {
    fn reply(reply: Reply) -> Self {
        Handled {
            status: StatusCode::OK,
            reply,
            stored: None,
        }
    }

    /// A success that changed the state at `generation` (saved before the reply).
    fn stored(data: Value, generation: u64) -> Self {
        Handled {
            status: StatusCode::OK,
            reply: Reply::success(data),
            stored: Some(generation),
        }
    }
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

fn invalid(field: &str, message: impl Into<String>) -> Handled {
    Handled::reply(Reply::fail(
        Code::Invalid,
        json!({ field: [message.into()] }),
    ))
}

type Form = HashMap<String, String>;

/// A refused request, boxed so that `Result`s stay small.
type Refusal = Box<Handled>;

fn refuse(field: &str, message: impl Into<String>) -> Refusal {
    Box::new(invalid(field, message))
}

/// Parses the form body and checks the token, then runs `endpoint`.
pub fn handle(app: &App, endpoint: &str, headers: &HeaderMap, body: &[u8]) -> Handled {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.is_empty() && !content_type.starts_with("application/x-www-form-urlencoded") {
        return invalid(
            "body",
            format!("expected an application/x-www-form-urlencoded body, got {content_type}"),
        );
    }
    let pairs = match serde_urlencoded::from_bytes::<Vec<(String, String)>>(body) {
        Ok(pairs) => pairs,
        Err(e) => return invalid("body", format!("the body is not form-encoded: {e}")),
    };
    if let Some(documented) = endpoints::endpoint(endpoint) {
        let extra = documented.undocumented(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        if !extra.is_empty() {
            let mut inner = app.store.lock();
            let counts = inner.undocumented.entry(endpoint.to_owned()).or_default();
            for field in extra {
                *counts.entry(field).or_default() += 1;
            }
        }
    }
    let form: Form = pairs.into_iter().collect();
    if form.get("api_token").map(String::as_str) != Some(app.config.token.as_str()) {
        return Handled::reply(Reply::fail(
            Code::Denied,
            json!({"api_token": ["the token is missing or not valid, or this IP is not allowed"]}),
        ));
    }
    match endpoint {
        "place" => place(app, &form),
        "certIdByrefId" => cert_id_by_ref_id(app, &form),
        "collect" => collect(app, &form),
        "renew" => renew(app, &form),
        "reissue" => reissue(app, &form),
        "replace" => replace(app, &form),
        "cancel" => cancel(app, &form),
        "productList" => product_list(app, &form),
        "updateDCV" => update_dcv(app, &form),
        _ => Handled {
            status: StatusCode::NOT_FOUND,
            reply: Reply::fail(
                Code::Invalid,
                json!({"endpoint": [format!("no endpoint /ssl/{endpoint}")]}),
            ),
            stored: None,
        },
    }
}

fn required<'f>(form: &'f Form, field: &str) -> Result<&'f str, Refusal> {
    match form.get(field).map(|s| s.trim()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(refuse(field, format!("{field} is required"))),
    }
}

/// A refusal because of the order's or certificate's state (-5, -7, -8), with `errors` as
/// a list, as NicSRS sends it for codes other than -1.
fn state_error(code: Code, message: impl Into<String>) -> Handled {
    Handled::reply(Reply::fail(code, json!([message.into()])))
}

/// The DCV family of an order's product.
/// The CA family of a product the sandbox sells.
pub fn family(app: &App, product_code: &str) -> Family {
    app.catalog
        .get(product_code)
        .map_or(Family::Other, |p| Family::of_vendor(&p.vendor))
}
