//! `/ssl/place`: an order checked as the live API checks it, its key generated when it has no CSR, stored.

use super::*;

/// Code -6 for an order naming a host under [`CA_REFUSES`].
pub(super) fn ca_refuses(params: &Map<String, Value>) -> Result<(), Refusal> {
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

pub(super) fn params_object(form: &Form) -> Result<Map<String, Value>, Refusal> {
    let text = required(form, "params")?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(refuse("params", "params must be a JSON object")),
        Err(e) => Err(refuse("params", format!("params is not valid JSON: {e}"))),
    }
}

/// Contacts as the live API reads them: `organation`, or `organization` when only that
/// is sent. The schema knows only the documented spelling.
pub(super) fn normalise_contacts(params: &mut Map<String, Value>) {
    for contact in crate::expand::CONTACTS {
        if let Some(Value::Object(c)) = params.get_mut(contact)
            && let Some(org) = c.remove("organation")
        {
            c.entry("organization").or_insert(org);
        }
    }
}

pub(super) fn years_of(form: &Form, max: u32) -> Result<u32, Refusal> {
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
pub(super) fn check_csr(params: &Map<String, Value>) -> Result<(), Refusal> {
    if let Some(pem) = params.get("csr").and_then(Value::as_str) {
        csr::inspect(pem).map_err(|e| refuse("csr", e.to_string()))?;
    }
    Ok(())
}

/// The answer once the credit has run out: -4, or with `out_of_credit_unknown` a bare -2
/// (nothing is stored either way).
pub(super) fn no_credit(app: &App, inner: &crate::sandbox::store::Inner) -> Option<Handled> {
    let limit = app.config.faults.credit?;
    (inner.paid() >= limit).then(|| {
        if app.config.faults.out_of_credit_unknown {
            Handled::reply(Reply::new(Code::Unknown))
        } else {
            Handled::reply(Reply::fail(Code::Credit, json!(["insufficient balance"])))
        }
    })
}

/// The reply to a call that created `order` (place, renew, replace): its certId and DCV
/// fields.
pub(super) fn created(
    app: &App,
    inner: &mut crate::sandbox::store::Inner,
    order: StoredOrder,
) -> Handled {
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
pub(super) fn generate_key(params: &mut Map<String, Value>) -> Result<Option<String>, Refusal> {
    if params.get("csr").and_then(Value::as_str).is_some() {
        return Ok(None);
    }
    let mut names = crate::expand::domain_names(&Value::Object(params.clone()));
    if names.is_empty() {
        names.push("sandbox.invalid".into());
    }
    let (csr, key) = crate::sandbox::ca::generate_csr(&names).map_err(|e| {
        Box::new(Handled::reply(Reply::fail(
            Code::CaFailed,
            json!([e.to_string()]),
        )))
    })?;
    params.insert("csr".into(), Value::String(csr));
    Ok(Some(key))
}

pub(super) fn place(app: &App, form: &Form) -> Handled {
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
