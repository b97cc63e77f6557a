//! `/ssl/renew`, `/ssl/reissue`, `/ssl/replace`, `/ssl/cancel` and `/ssl/updateDCV`: changes to an order.

use super::*;

pub(super) fn renew(app: &App, form: &Form) -> Handled {
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
pub(super) fn kept_key(old: &StoredOrder, params: &Map<String, Value>) -> Option<String> {
    let same_csr = old.params.get("csr").is_some() && old.params.get("csr") == params.get("csr");
    old.private_key.clone().filter(|_| same_csr)
}

/// A new certificate for `old` in the same subscription (a reissue or a replacement) with
/// `params`: pending, under the refId sent, keeping the key NicSRS generated when the CSR
/// is the same.
pub(super) fn successor(
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
pub(super) fn issued_order(
    form: &Form,
    inner: &crate::sandbox::store::Inner,
) -> Result<usize, Refusal> {
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
pub(super) fn reissue(app: &App, form: &Form) -> Handled {
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
pub(super) fn replace(app: &App, form: &Form) -> Handled {
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
pub(super) fn find_with_reason(
    form: &Form,
    inner: &crate::sandbox::store::Inner,
) -> Result<usize, Refusal> {
    let (i, _) = find(form, "certId", inner)?;
    required(form, "reason")?;
    Ok(i)
}

pub(super) fn cancel(app: &App, form: &Form) -> Handled {
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

/// `/ssl/updateDCV`: `certId`, `dcvMethod`, `dcvEmail` (for EMAIL), and `domainName`
/// (needed only when the order has several names), while the order is in process. The
/// reply carries the new DCV fields.
pub(super) fn update_dcv(app: &App, form: &Form) -> Handled {
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
    let changed = entry
        .get("domainName")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    entry.insert("dcvMethod".into(), json!(method));
    match email {
        Some(e) => entry.insert("dcvEmail".into(), json!(e)),
        None => entry.remove("dcvEmail"),
    };
    let cert_id = inner.orders[i].cert_id.clone();
    inner.unverify(&cert_id, &changed);
    let generation = inner.touch();
    let order = &inner.orders[i];
    let data = shapes::dcv_summary(order, family(app, &order.product_code));
    Handled::stored(Value::Object(data), generation)
}
