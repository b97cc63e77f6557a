//! `/ssl/certIdByrefId` and `/ssl/collect`: finding an order, and what NicSRS says of it.

use super::*;

pub(super) fn cert_id_by_ref_id(app: &App, form: &Form) -> Handled {
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

pub(super) fn find<'f>(
    form: &'f Form,
    field: &str,
    inner: &crate::sandbox::store::Inner,
) -> Result<(usize, &'f str), Refusal> {
    let id = required(form, field)?;
    inner
        .by_cert(id)
        .map(|i| (i, id))
        .ok_or_else(|| refuse(field, format!("no certificate {id}")))
}

pub(super) fn collect(app: &App, form: &Form) -> Handled {
    let mut inner = app.store.lock();
    let (i, _) = match find(form, "certId", &inner) {
        Ok(v) => v,
        Err(h) => return *h,
    };
    let t = now();
    let mut stored = None;
    let issue_after = i64::try_from(app.config.issue_after.as_secs()).unwrap_or(i64::MAX);
    // With --verify-dcv, only once the evidence of every name was found.
    let validated = app.config.verify_dcv.is_none() || {
        let order = &inner.orders[i];
        shapes::per_name(order, family(app, &order.product_code))
            .iter()
            .all(|(name, _, _)| inner.is_verified(&order.cert_id, name))
    };
    if inner.orders[i].status == Status::Pending
        && validated
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
    let data = shapes::collect_data(
        order,
        family(app, &order.product_code),
        app.ca.cert_pem(),
        |name| inner.is_verified(&order.cert_id, name),
    );
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
