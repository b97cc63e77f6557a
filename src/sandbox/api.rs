//! The `/ssl/*` endpoints: what the live API checks, answered the way NicSRS's pages show
//! (`docs/nicsrs-api.md`; the reply shapes are in [`super::shapes`] and pinned by the
//! contract fixtures in `tests/fixtures/wire/`).

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::{HeaderMap, StatusCode, header};
use serde_json::{Map, Value, json};

use super::App;
use super::shapes;
use super::store::{MadeBy, Status, StoredOrder};
use crate::csr;
use crate::dcv::Family;
use crate::schema::{Caret, Schema};
use crate::wire::{Code, Reply, endpoints};

/// Seconds in a day.
const DAY: i64 = 86_400;
/// Renewal is accepted this close to expiry, as on the live API.
const RENEW_WINDOW_DAYS: i64 = 90;
/// Issued certificates can be cancelled this long after issue.
const CANCEL_WINDOW_DAYS: i64 = 30;

/// Names under this domain are refused by the sandbox's CA (code -6, nothing stored), as
/// a payment sandbox has card numbers that are always declined: a way to try a refusal.
pub const CA_REFUSES: &str = "ca-refuses.example";

/// Code -6 for an order naming a host under [`CA_REFUSES`].
fn ca_refuses(params: &Map<String, Value>) -> Result<(), Refusal> {
    let names = crate::expand::domain_names(&Value::Object(params.clone()));
    match names.iter().find(|n| {
        let n = n.to_ascii_lowercase();
        n == CA_REFUSES || n.ends_with(&format!(".{CA_REFUSES}"))
    }) {
        Some(name) => Err(Box::new(Handled::reply(Reply::fail(
            Code::CaFailed,
            json!({"domainInfo": [format!("the CA refused {name}")]}),
        )))),
        None => Ok(()),
    }
}

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

fn params_object(form: &Form) -> Result<Map<String, Value>, Refusal> {
    let text = required(form, "params")?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(refuse("params", "params must be a JSON object")),
        Err(e) => Err(refuse("params", format!("params is not valid JSON: {e}"))),
    }
}

/// Contacts as the live API reads them: `organation`, or `organization` when only that
/// is sent. The schema knows only the documented spelling.
fn normalise_contacts(params: &mut Map<String, Value>) {
    for contact in crate::expand::CONTACTS {
        if let Some(Value::Object(c)) = params.get_mut(contact)
            && let Some(org) = c.remove("organation")
        {
            c.entry("organization").or_insert(org);
        }
    }
}

fn years_of(form: &Form, max: u32) -> Result<u32, Refusal> {
    let text = required(form, "years")?;
    match text.parse::<u32>() {
        Ok(y) if (1..=max).contains(&y) => Ok(y),
        Ok(_) => Err(refuse(
            "years",
            format!("years must be between 1 and {max} for this product"),
        )),
        Err(_) => Err(refuse("years", "years must be an integer")),
    }
}

/// Checks a CSR the way a CA front end would: it must parse and verify.
fn check_csr(params: &Map<String, Value>) -> Result<(), Refusal> {
    if let Some(pem) = params.get("csr").and_then(Value::as_str) {
        csr::inspect(pem).map_err(|e| refuse("csr", e.to_string()))?;
    }
    Ok(())
}

/// A refusal because of the order's or certificate's state (-5, -7, -8), with `errors` as
/// a list, as NicSRS sends it for codes other than -1.
fn state_error(code: Code, message: impl Into<String>) -> Handled {
    Handled::reply(Reply::fail(code, json!([message.into()])))
}

/// The answer once the credit has run out: -4, or with `out_of_credit_unknown` a bare -2
/// (nothing is stored either way).
fn no_credit(app: &App, inner: &super::store::Inner) -> Option<Handled> {
    let limit = app.config.faults.credit?;
    (inner.paid() >= limit).then(|| {
        if app.config.faults.out_of_credit_unknown {
            Handled::reply(Reply::new(Code::Unknown))
        } else {
            Handled::reply(Reply::fail(Code::Credit, json!(["insufficient balance"])))
        }
    })
}

/// The DCV family of an order's product.
fn family(app: &App, product_code: &str) -> Family {
    app.catalog
        .get(product_code)
        .map_or(Family::Other, |p| Family::of_vendor(&p.vendor))
}

/// The reply to a call that created `order` (place, renew, replace): its certId and DCV
/// fields.
fn created(app: &App, inner: &mut super::store::Inner, order: StoredOrder) -> Handled {
    let family = family(app, &order.product_code);
    let cert_id = inner.insert(order);
    let generation = inner.touch();
    let Some(i) = inner.by_cert(&cert_id) else {
        return Handled::reply(Reply::new(Code::Unknown));
    };
    let data = shapes::order_data(&inner.orders[i], family);
    Handled::stored(Value::Object(data), generation)
}

/// For an order without a CSR, NicSRS generates the key and a CSR for it: the CSR goes
/// into the order's params (collect returns it in `applyParams`), the key is kept.
fn generate_key(params: &mut Map<String, Value>) -> Result<Option<String>, Refusal> {
    if params.get("csr").and_then(Value::as_str).is_some() {
        return Ok(None);
    }
    let mut names = crate::expand::domain_names(&Value::Object(params.clone()));
    if names.is_empty() {
        names.push("sandbox.invalid".into());
    }
    let (csr, key) = super::ca::generate_csr(&names).map_err(|e| {
        Box::new(Handled::reply(Reply::fail(
            Code::CaFailed,
            json!([e.to_string()]),
        )))
    })?;
    params.insert("csr".into(), Value::String(csr));
    Ok(Some(key))
}

fn place(app: &App, form: &Form) -> Handled {
    let result = (|| {
        let code = required(form, "productCode")?;
        let Some(product) = app.catalog.get(code) else {
            return Err(Box::new(Handled::reply(Reply::fail(
                Code::Product,
                json!({"productCode": [format!("unknown product {code}")]}),
            ))));
        };
        let years = years_of(form, product.max_year)?;
        // Kept as sent (NicSRS's `applyParams` shows the contacts' `organation`); checked
        // with the documented spelling.
        let params = params_object(form)?;
        let mut checked = params.clone();
        normalise_contacts(&mut checked);
        let ref_id = form.get("refId").filter(|r| !r.is_empty()).cloned();
        let mut instance = json!({
            "productCode": code,
            "years": years,
            "params": Value::Object(checked),
            "product": product.rule_object(),
        });
        if let Some(r) = &ref_id {
            instance["refId"] = Value::String(r.clone());
        }
        let issues = Schema::order().check(&instance);
        if !issues.is_empty() {
            let mut errors = Map::new();
            for issue in issues {
                let mut field = issue.pointer.trim_start_matches('/').replace('/', ".");
                let several = issue.message.starts_with("missing required fields")
                    || issue.message.starts_with("missing fields");
                if let Caret::Missing(name) | Caret::Unknown(name) = &issue.target
                    && !several
                {
                    if !field.is_empty() {
                        field.push('.');
                    }
                    field.push_str(name);
                }
                let list = errors
                    .entry(field)
                    .or_insert_with(|| Value::Array(Vec::new()));
                if let Value::Array(l) = list {
                    l.push(Value::String(issue.message));
                }
            }
            return Err(Box::new(Handled::reply(Reply::fail(
                Code::Invalid,
                Value::Object(errors),
            ))));
        }
        check_csr(&params)?;
        ca_refuses(&params)?;
        Ok((code.to_owned(), years, ref_id, params))
    })();
    let (code, years, ref_id, mut params) = match result {
        Ok(v) => v,
        Err(h) => return *h,
    };
    let mut inner = app.store.lock();
    if let Some(h) = no_credit(app, &inner) {
        inner.faults.no_credit += 1;
        return h;
    }
    let private_key = match generate_key(&mut params) {
        Ok(k) => k,
        Err(h) => return *h,
    };
    let aged = i64::try_from(app.config.placed_age.as_secs()).unwrap_or(0);
    let placed_at = now();
    let order = StoredOrder {
        cert_id: String::new(),
        ref_id,
        product_code: code,
        years,
        params: Value::Object(params),
        placed_at,
        status: Status::Pending,
        origin: MadeBy::Place,
        previous: None,
        aged,
        due: placed_at - aged + i64::from(years) * 365 * DAY,
        begin: None,
        end: None,
        certificate: None,
        private_key,
    };
    created(app, &mut inner, order)
}

fn cert_id_by_ref_id(app: &App, form: &Form) -> Handled {
    let ref_id = match required(form, "refId") {
        Ok(r) => r,
        Err(h) => return *h,
    };
    let inner = app.store.lock();
    match inner.by_ref(ref_id).first() {
        Some(&i) => Handled::reply(Reply::success(json!({ "certId": inner.orders[i].cert_id }))),
        None => invalid("refId", format!("no order with refId {ref_id}")),
    }
}

fn find<'f>(
    form: &'f Form,
    field: &str,
    inner: &super::store::Inner,
) -> Result<(usize, &'f str), Refusal> {
    let id = required(form, field)?;
    inner
        .by_cert(id)
        .map(|i| (i, id))
        .ok_or_else(|| refuse(field, format!("no certificate {id}")))
}

fn collect(app: &App, form: &Form) -> Handled {
    let mut inner = app.store.lock();
    let (i, _) = match find(form, "certId", &inner) {
        Ok(v) => v,
        Err(h) => return *h,
    };
    let t = now();
    let mut stored = None;
    let issue_after = i64::try_from(app.config.issue_after.as_secs()).unwrap_or(i64::MAX);
    if inner.orders[i].status == Status::Pending
        && t >= inner.orders[i].placed_at.saturating_add(issue_after)
    {
        let serial = inner.next_serial();
        let order = &inner.orders[i];
        let names = crate::expand::domain_names(&order.params);
        let names = if names.is_empty() {
            vec!["sandbox.invalid".to_owned()]
        } else {
            names
        };
        // Issued when it was ready (an order placed "long ago" with `placed_age` was
        // issued then), valid for `validity_days` or to the end of its subscription.
        let begin = order.placed_at.saturating_add(issue_after).min(t) - order.aged;
        let end =
            (begin + i64::from(app.config.validity_days) * DAY).min(order.due.max(begin + DAY));
        let csr = order
            .params
            .get("csr")
            .and_then(Value::as_str)
            .map(str::to_owned);
        match app.ca.issue(csr.as_deref(), &names, serial, begin, end) {
            Ok(issued) => {
                let order = &mut inner.orders[i];
                order.status = Status::Complete;
                order.begin = Some(begin);
                order.end = Some(end);
                order.certificate = Some(issued.certificate);
                if issued.private_key.is_some() {
                    // An order stored before keys were generated at placement.
                    order.private_key = issued.private_key;
                }
                stored = Some(inner.touch());
            }
            Err(e) => {
                return Handled::reply(Reply::fail(
                    Code::CaFailed,
                    json!({"certId": [e.to_string()]}),
                ));
            }
        }
    }
    let order = &inner.orders[i];
    let data = shapes::collect_data(order, family(app, &order.product_code), app.ca.cert_pem());
    let code = if order.status == Status::Pending {
        Code::Processing
    } else {
        Code::Success
    };
    let status = serde_json::to_value(order.status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned));
    Handled {
        status: StatusCode::OK,
        reply: Reply {
            status,
            data: Some(Value::Object(data)),
            ..Reply::new(code)
        },
        stored,
    }
}

fn renew(app: &App, form: &Form) -> Handled {
    let mut inner = app.store.lock();
    let result = (|| {
        let (i, _) = find(form, "renewId", &inner)?;
        let old = &inner.orders[i];
        if old.status != Status::Complete {
            return Err(Box::new(state_error(
                Code::OrderState,
                format!(
                    "order {} is not issued; only issued certificates can be renewed",
                    old.cert_id
                ),
            )));
        }
        let days_left = (old.end.unwrap_or(0) - now()) / DAY;
        if days_left > RENEW_WINDOW_DAYS {
            return Err(refuse(
                "renewId",
                format!(
                    "the certificate expires in {days_left} days; renewal opens {RENEW_WINDOW_DAYS} days before expiry"
                ),
            ));
        }
        let max_year = app.catalog.get(&old.product_code).map_or(6, |p| p.max_year);
        let years = years_of(form, max_year)?;
        let params = params_object(form)?;
        for field in ["csr", "server", "domainInfo"] {
            if params.get(field).is_none_or(|v| v.is_null()) {
                return Err(refuse(
                    &format!("params.{field}"),
                    format!("{field} is required"),
                ));
            }
        }
        check_csr(&params)?;
        let mut merged = old.params.as_object().cloned().unwrap_or_default();
        merged.extend(params);
        Ok((i, years, merged))
    })();
    let (i, years, params) = match result {
        Ok(v) => v,
        Err(h) => return *h,
    };
    if let Some(h) = no_credit(app, &inner) {
        inner.faults.no_credit += 1;
        return h;
    }
    let old = &inner.orders[i];
    let placed_at = now();
    let order = StoredOrder {
        cert_id: String::new(),
        ref_id: form.get("refId").filter(|r| !r.is_empty()).cloned(),
        product_code: old.product_code.clone(),
        years,
        private_key: kept_key(old, &params),
        params: Value::Object(params),
        placed_at,
        status: Status::Pending,
        origin: MadeBy::Renew,
        previous: Some(old.cert_id.clone()),
        aged: 0,
        due: old.due.max(placed_at) + i64::from(years) * 365 * DAY,
        begin: None,
        end: None,
        certificate: None,
    };
    created(app, &mut inner, order)
}

/// The key NicSRS generated for `old`, kept when the new order is for the same CSR (a
/// renewal with collect's `applyParams.csr`, or a reissue).
fn kept_key(old: &StoredOrder, params: &Map<String, Value>) -> Option<String> {
    let same_csr = old.params.get("csr").is_some() && old.params.get("csr") == params.get("csr");
    old.private_key.clone().filter(|_| same_csr)
}

/// A new certificate for `old` in the same subscription (a reissue or a replacement) with
/// `params`: pending, under the refId sent, keeping the key NicSRS generated when the CSR
/// is the same.
fn successor(
    old: &StoredOrder,
    form: &Form,
    origin: MadeBy,
    params: Map<String, Value>,
) -> StoredOrder {
    StoredOrder {
        cert_id: String::new(),
        ref_id: form.get("refId").filter(|r| !r.is_empty()).cloned(),
        private_key: kept_key(old, &params),
        params: Value::Object(params),
        placed_at: now(),
        status: Status::Pending,
        origin,
        previous: Some(old.cert_id.clone()),
        aged: 0,
        begin: None,
        end: None,
        certificate: None,
        ..old.clone()
    }
}

/// The issued order named by `certId` for reissue and replace: -7 (certificate status
/// error) while it is not issued.
fn issued_order(form: &Form, inner: &super::store::Inner) -> Result<usize, Refusal> {
    let (i, id) = find(form, "certId", inner)?;
    if inner.orders[i].status != Status::Complete {
        return Err(Box::new(state_error(
            Code::CertificateState,
            format!(
                "certificate {id} is not issued; only an issued certificate can be reissued or replaced"
            ),
        )));
    }
    Ok(i)
}

/// `/ssl/reissue`: `certId`, `reason`, `uniqueValue` and `refId` as form fields and no
/// `params`: the CA reissues with the order's own CSR and names (a `params` field is
/// ignored, as the live API ignores it, and counted as undocumented).
fn reissue(app: &App, form: &Form) -> Handled {
    let mut inner = app.store.lock();
    let i = match issued_order(form, &inner).and_then(|i| {
        required(form, "reason")?;
        Ok(i)
    }) {
        Ok(i) => i,
        Err(h) => return *h,
    };
    let mut params = inner.orders[i]
        .params
        .as_object()
        .cloned()
        .unwrap_or_default();
    if let Some(u) = form.get("uniqueValue").filter(|u| !u.is_empty()) {
        params.insert("uniqueValue".into(), json!(u));
    }
    let order = successor(&inner.orders[i], form, MadeBy::Reissue, params);
    inner.orders[i].status = Status::Reissued;
    let cert_id = inner.insert(order);
    let generation = inner.touch();
    Handled::stored(json!({ "certId": cert_id }), generation)
}

/// `/ssl/replace`: an issued certificate reissued with different information (a new CSR,
/// other names): `certId`, `refId` and `params` with `csr`, `domainInfo` and
/// `uniqueValue`. Free; the subscription is unchanged.
fn replace(app: &App, form: &Form) -> Handled {
    let mut inner = app.store.lock();
    let result = (|| {
        let i = issued_order(form, &inner)?;
        let mut params = params_object(form)?;
        for field in ["csr", "domainInfo"] {
            if params.get(field).is_none_or(|v| v.is_null()) {
                return Err(refuse(
                    &format!("params.{field}"),
                    format!("{field} is required"),
                ));
            }
        }
        check_csr(&params)?;
        params.retain(|k, _| ["csr", "domainInfo", "uniqueValue"].contains(&k.as_str()));
        let mut merged = inner.orders[i]
            .params
            .as_object()
            .cloned()
            .unwrap_or_default();
        merged.extend(params);
        Ok((i, merged))
    })();
    let (i, params) = match result {
        Ok(v) => v,
        Err(h) => return *h,
    };
    let order = successor(&inner.orders[i], form, MadeBy::Replace, params);
    inner.orders[i].status = Status::Reissued;
    created(app, &mut inner, order)
}

/// The order named by `certId`, for the calls that also need a `reason`.
fn find_with_reason(form: &Form, inner: &super::store::Inner) -> Result<usize, Refusal> {
    let (i, _) = find(form, "certId", inner)?;
    required(form, "reason")?;
    Ok(i)
}

fn cancel(app: &App, form: &Form) -> Handled {
    let mut inner = app.store.lock();
    let i = match find_with_reason(form, &inner) {
        Ok(i) => i,
        Err(h) => return *h,
    };
    let order = &inner.orders[i];
    match order.status {
        Status::Pending => {}
        Status::Complete if now() - order.begin.unwrap_or(0) <= CANCEL_WINDOW_DAYS * DAY => {}
        Status::Complete => {
            return state_error(
                Code::OrderState,
                format!(
                    "issued certificates can be cancelled only within {CANCEL_WINDOW_DAYS} days"
                ),
            );
        }
        Status::Cancelled => {
            return state_error(Code::Cancelled, "the order is already cancelled");
        }
        Status::Reissued => {
            return state_error(Code::OrderState, "the certificate was reissued or replaced");
        }
    }
    inner.orders[i].status = Status::Cancelled;
    let generation = inner.touch();
    Handled::stored(json!({}), generation)
}

fn product_list(app: &App, form: &Form) -> Handled {
    let vendor = match required(form, "vendor") {
        Ok(v) => v,
        Err(h) => return *h,
    };
    let products: Vec<Value> = app
        .catalog
        .products()
        .iter()
        .filter(|p| p.vendor == vendor)
        .map(shapes::product_entry)
        .collect();
    if products.is_empty() {
        return invalid(
            "vendor",
            format!("unknown vendor {vendor}; use Sectigo, Digicert, Thawte, Certum or sslTrus"),
        );
    }
    Handled::reply(Reply::success(Value::Array(products)))
}

/// `/ssl/updateDCV`: `certId`, `dcvMethod`, `dcvEmail` (for EMAIL), and `domainName`
/// (needed only when the order has several names), while the order is in process. The
/// reply carries the new DCV fields.
fn update_dcv(app: &App, form: &Form) -> Handled {
    let mut inner = app.store.lock();
    let (i, _) = match find(form, "certId", &inner) {
        Ok(v) => v,
        Err(h) => return *h,
    };
    let method = match required(form, "dcvMethod") {
        Ok(m) => m,
        Err(h) => return *h,
    };
    if !["EMAIL", "HTTP_CSR_HASH", "CNAME_CSR_HASH", "HTTPS_CSR_HASH"].contains(&method) {
        return invalid("dcvMethod", format!("unknown dcvMethod {method}"));
    }
    let email = form.get("dcvEmail").filter(|e| !e.is_empty()).cloned();
    if method == "EMAIL" && email.is_none() {
        return invalid("dcvEmail", "dcvEmail is required for EMAIL");
    }
    if inner.orders[i].status != Status::Pending {
        return state_error(
            Code::OrderState,
            "DCV can be changed only while the order is in process",
        );
    }
    let name = form.get("domainName").filter(|n| !n.is_empty()).cloned();
    let Some(list) = inner.orders[i]
        .params
        .get_mut("domainInfo")
        .and_then(Value::as_array_mut)
    else {
        return invalid("certId", "the order has no names");
    };
    if name.is_none() && list.len() > 1 {
        return invalid(
            "domainName",
            "domainName is required for a multi-domain order",
        );
    }
    let entry = list.iter_mut().find(|d| {
        name.as_deref()
            .is_none_or(|n| d.get("domainName").and_then(Value::as_str) == Some(n))
    });
    let Some(Value::Object(entry)) = entry else {
        return invalid(
            "domainName",
            format!("{} is not in this order", name.unwrap_or_default()),
        );
    };
    entry.insert("dcvMethod".into(), json!(method));
    match email {
        Some(e) => entry.insert("dcvEmail".into(), json!(e)),
        None => entry.remove("dcvEmail"),
    };
    let generation = inner.touch();
    let order = &inner.orders[i];
    let data = shapes::dcv_summary(order, family(app, &order.product_code));
    Handled::stored(Value::Object(data), generation)
}

/// `GET /sandbox/stats`: what was ordered, and the duplicates a client should never cause.
pub fn stats(app: &App) -> Value {
    let inner = app.store.lock();
    let mut per_ref = Map::new();
    let mut duplicates: Vec<&str> = Vec::new();
    for (r, n) in inner.ref_counts() {
        per_ref.insert(r.to_owned(), json!(n));
        if n > 1 {
            duplicates.push(r);
        }
    }
    let cert_ids: Map<String, Value> = inner
        .ref_counts()
        .map(|(r, _)| {
            let ids: Vec<&str> = inner
                .by_ref(r)
                .iter()
                .map(|&i| inner.orders[i].cert_id.as_str())
                .collect();
            (r.to_owned(), json!(ids))
        })
        .collect();
    duplicates.sort_unstable();
    let count = |o: MadeBy| inner.orders.iter().filter(|x| x.origin == o).count();
    // A certificate renewed or reissued more than once: a duplicate of a paid call.
    let mut followed: HashMap<(&str, bool), usize> = HashMap::new();
    for o in &inner.orders {
        if let Some(previous) = &o.previous {
            *followed
                .entry((previous.as_str(), o.origin == MadeBy::Renew))
                .or_default() += 1;
        }
    }
    let mut twice: Vec<&str> = followed
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|((c, _), _)| *c)
        .collect();
    twice.sort_unstable();
    json!({
        "orders_placed": count(MadeBy::Place),
        "orders_renewed": count(MadeBy::Renew),
        "orders_reissued": count(MadeBy::Reissue),
        "orders_replaced": count(MadeBy::Replace),
        "undocumented_fields": inner.undocumented,
        "orders_per_ref_id": per_ref,
        "cert_ids_per_ref_id": cert_ids,
        "duplicate_ref_ids": duplicates,
        "renewed_or_reissued_twice": twice,
        "requests": inner.requests,
        "faults": inner.faults,
    })
}
