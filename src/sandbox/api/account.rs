//! `/ssl/productList` and `GET /sandbox/stats`: the account's products, and what was ordered.

use super::*;

pub(super) fn product_list(app: &App, form: &Form) -> Handled {
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
        "first_request_unix_ms": inner.first_request_unix_ms,
        "faults": inner.faults,
    })
}
