//! The decision for one order with history: a call left unfinished, or a certificate in
//! force held against its `renewBefore` window and against what changed in the manifest.

use crate::expand;
use crate::ledger::{Event, KeyState, Row};
use crate::lifecycle::{self, Dates, Due, Window};

use super::changes::{self, Carrier};
use super::{Action, Op, Step};

/// The start of the message of a renewal that was not sent because NicSRS holds no usable
/// CSR for a certificate whose key it generated (none, or not for the order's names):
/// `plan` shows such a renewal `blocked` until the order has a CSR.
pub const NO_CSR_HELD: &str = "not sent: NicSRS holds no usable CSR for";

/// What `/ssl/renew` carries of an order (the rest stays as the certificate was made).
const RENEW_CARRIES: [&str; 5] = ["years", "csr", "server", "domainInfo", "uniqueValue"];
/// What `/ssl/replace` carries.
const REPLACE_CARRIES: [&str; 3] = ["csr", "domainInfo", "uniqueValue"];

/// Codes after which the same order may be sent again: not sent at all (no code),
/// insufficient credit (-4), bad token or IP (400), an unknown error (-2).
fn retryable(code: Option<i64>) -> bool {
    matches!(code, None | Some(-4) | Some(400) | Some(-2))
}

/// An order that adopts a certificate the ledger does not know yet: never placed.
pub(super) fn adopt(step: &mut Step, cert_id: &str) {
    step.action = Action::Nothing;
    step.cert_id = cert_id.to_owned();
    step.detail = format!(
        "adopts {cert_id} (renewalOf): `refresh` reads its status and dates, then it is renewed in its window"
    );
}

/// Sets the step up for `op` against the certificate `of` under `ref_id`: the request it
/// sends, its hash, and what the ledger records of it. `made` is the row of the call that
/// made the certificate in force.
fn prepare(step: &mut Step, op: Op, of: &str, ref_id: String, reason: String, made: Option<&Row>) {
    let order = step.order;
    step.op = op;
    step.ref_id = ref_id;
    step.of_cert = of.to_owned();
    step.reason = reason;
    step.unique_value = None;
    step.fields_basis = None;
    // Renewals and replacements keep the product; a replacement keeps the term too.
    let kept_product = made.map_or(order.product_code.as_str(), |m| m.product_code.as_str());
    let years = order.years.to_string();
    match op {
        Op::Place => {
            // Its `request_fields` are the order's own, worked out by the runner when it
            // is sent (off the path to the first call).
            step.params = Some(order.params.clone());
            step.request_sha256 = order.request_sha256().to_owned();
            step.request_fields = String::new();
        }
        Op::Renew => {
            step.params = order.renewal_params();
            step.product_code = kept_product.to_owned();
            let params = step.params.as_deref().unwrap_or("");
            step.request_sha256 = expand::request_sha256(
                "renew",
                &[
                    ("params", params),
                    ("refId", &step.ref_id),
                    ("renewId", of),
                    ("years", &years),
                ],
            );
            step.request_fields = String::new();
            step.fields_basis = Some(changes::FieldsBasis::new(order, made, &RENEW_CARRIES));
        }
        Op::Reissue => {
            step.params = None;
            step.price = None;
            step.unique_value = order.unique_value();
            step.product_code = kept_product.to_owned();
            step.years = made.map_or(order.years, |m| m.years);
            step.request_sha256 = expand::request_sha256(
                "reissue",
                &[
                    ("certId", of),
                    ("reason", &step.reason),
                    ("refId", &step.ref_id),
                    ("uniqueValue", step.unique_value.as_deref().unwrap_or("")),
                ],
            );
            step.request_fields = String::new();
        }
        Op::Replace => {
            step.params = order.replace_params();
            step.price = None;
            step.product_code = kept_product.to_owned();
            step.years = made.map_or(order.years, |m| m.years);
            let params = step.params.as_deref().unwrap_or("");
            step.request_sha256 = expand::request_sha256(
                "replace",
                &[("certId", of), ("params", params), ("refId", &step.ref_id)],
            );
            step.request_fields = String::new();
            step.fields_basis = Some(changes::FieldsBasis::new(order, made, &REPLACE_CARRIES));
        }
    }
}

/// A call that has a write-ahead row and no success after it: its outcome is unknown, or
/// it failed.
pub(super) fn unfinished(step: &mut Step, state: &KeyState, open: &Row) {
    let op = Op::of(open.event);
    let last = state.last_op.unwrap_or(open);
    let what = match op {
        Op::Place => "submission",
        Op::Renew => "renewal",
        Op::Reissue => "reissue",
        Op::Replace => "replacement",
    };
    // A refused placement may be sent again under the order's (possibly new) refId:
    // nothing was placed. Renewals, reissues and replacements keep theirs.
    let ref_id = match (op, last.event) {
        (Op::Place, Event::Failed) => step.order.ref_id.clone(),
        _ => open.ref_id.clone(),
    };
    prepare(
        step,
        op,
        &open.cert_id,
        ref_id,
        reason_of(state, open),
        state.made,
    );
    step.cert_id = state.current.map_or(String::new(), |c| c.cert_id.clone());
    step.changed = !last.request_sha256.is_empty() && last.request_sha256 != step.request_sha256;
    // If its outcome is found by refId, what was sent then is what NicSRS holds, even if
    // the manifest changed since (the change then shows as one, to be replaced).
    step.sent_fields = open.request_fields.clone();
    match last.event {
        Event::Failed if op == Op::Renew && last.message.starts_with(NO_CSR_HELD) => {
            if step.order.has_csr() {
                step.action = Action::Retry;
                step.detail =
                    "renewal not sent before for want of a CSR; the order has one now".into();
            } else {
                step.action = Action::Blocked;
                step.detail = format!(
                    "{}; add `params.csr` to renew it",
                    last.message.trim_start_matches("not sent: ")
                );
            }
        }
        Event::Failed if retryable(last.code) || step.changed => {
            step.action = Action::Retry;
            step.detail = if step.changed && !retryable(last.code) {
                format!(
                    "{what} refused before ({}); the order has changed since",
                    last.message
                )
            } else {
                format!("{what} failed before: {}", last.message)
            };
        }
        Event::Failed => {
            step.action = Action::Blocked;
            step.detail = if last.code.is_some_and(crate::ledger::is_state_refusal) {
                format!(
                    "{what} refused: {}; `refresh` records the certificate's state, and the plan is made again from it",
                    last.message
                )
            } else {
                format!(
                    "{what} refused: {}; change the order to try again",
                    last.message
                )
            };
        }
        Event::Unknown if last.code == Some(crate::nicsrs::wire::Code::Success.value()) => {
            step.action = Action::Reconcile;
            step.resend = false;
            step.detail = format!(
                "NicSRS answered the {what} with success but no certId ({}); asked by refId on every run, never sent again: check the order in NicSRS's portal",
                last.message
            );
        }
        Event::Unknown => {
            step.action = Action::Reconcile;
            step.detail = format!(
                "last outcome of the {what} unknown ({}); ask the API by refId first",
                last.message
            );
        }
        _ => {
            step.action = Action::Reconcile;
            step.detail = format!("a {what} was interrupted; ask the API by refId first");
        }
    }
}

/// The `reason` of a reissue: the one already sent when there is one.
fn reason_of(state: &KeyState, open: &Row) -> String {
    if open.event != Event::Reissuing {
        return String::new();
    }
    // The reason names the expiry of the certificate reissued, as collect recorded it.
    let not_after = state
        .status
        .filter(|s| s.cert_id == open.cert_id)
        .map_or("", |s| s.not_after.as_str());
    reissue_reason(not_after)
}

fn reissue_reason(not_after: &str) -> String {
    if not_after.is_empty() {
        "reissued before expiry (nicsrs-batch)".into()
    } else {
        format!("certificate expires {not_after}: reissued before expiry (nicsrs-batch)")
    }
}

/// `renewBefore 30d`, or for a window replaced by a third of the lifetime, why.
fn window_text(step: &Step, window: Option<Window>) -> String {
    let rb = step.order.renew_before;
    match window {
        Some(w) if w.clamped => format!(
            "{} days, a third of the {}-day certificate (renewBefore {rb} is not shorter than it)",
            w.certificate_days(),
            w.lifetime_days().unwrap_or_default()
        ),
        Some(w) if rb.days().is_none() => {
            format!("renewBefore {rb} ({} days)", w.certificate_days())
        }
        _ => format!("renewBefore {rb}"),
    }
}

/// An order with a certificate in force: what its status, the window and the manifest's
/// changes call for.
pub(super) fn in_force(step: &mut Step, state: &KeyState, current: &Row, now: i64) {
    let order = step.order;
    step.action = Action::Nothing;
    step.cert_id = current.cert_id.clone();
    step.ref_id = current.ref_id.clone();
    // The step holds the placement's request hash until a call is prepared.
    step.changes = state
        .made
        .map(|m| changes::since(order, &step.request_sha256, m))
        .unwrap_or_default();
    step.changed = !step.changes.is_empty();
    let replace_due = step.changes.iter().any(|c| c.carrier == Carrier::Replace);
    let Some(status) = state.status else {
        step.detail = match current.event {
            Event::Renewed | Event::Reissued | Event::Replaced => format!(
                "{} as {}; `refresh` follows its issuance",
                current.event.as_str(),
                current.cert_id
            ),
            _ if replace_due => format!("placed; {}", replace_later(order)),
            _ => "placed".into(),
        };
        return;
    };
    match status.status.as_str() {
        "COMPLETE" => {}
        "CANCELLED" => {
            step.action = Action::Cancelled;
            step.detail = "cancelled at NicSRS: it is never ordered again under this key; give the order a new key (and a new key pair) to order again".into();
            return;
        }
        "FAILED" => {
            step.action = Action::Blocked;
            step.detail =
                "NicSRS could not issue it (FAILED); give the order a new key to order again"
                    .into();
            return;
        }
        "REISSUED" => {
            step.action = Action::Blocked;
            step.detail = format!(
                "{} was reissued outside nicsrs-batch; the ledger does not know the new certificate (record it with `renewalOf` under a new key)",
                current.cert_id
            );
            return;
        }
        other => {
            step.detail = format!("waiting for issuance ({other})");
            if replace_due {
                step.detail.push_str("; ");
                step.detail.push_str(&replace_later(order));
            }
            return;
        }
    }
    let day = lifecycle::format_day;
    let days = |t: i64| lifecycle::days_until(t, now);
    let base = state
        .placed
        .map_or(order.ref_id.as_str(), |p| p.ref_id.as_str());
    let dates = Dates {
        not_before: &status.not_before,
        not_after: &status.not_after,
        due_date: &status.due_date,
    };
    let (due, window) = lifecycle::decide(dates, order.renew_before, now);
    step.window_clamped = window.is_some_and(|w| w.clamped);
    let within = window_text(step, window);
    // The subscription is held against the window as written.
    let within_subscription = match (order.renew_before.days(), window) {
        (None, Some(w)) => format!(
            "renewBefore {} ({} days)",
            order.renew_before,
            w.subscription / 86_400
        ),
        _ => format!("renewBefore {}", order.renew_before),
    };
    match due {
        Due::Renew { due } => {
            let ref_id = format!("{base}-r{}", state.renewals + 1);
            prepare(
                step,
                Op::Renew,
                &current.cert_id,
                ref_id,
                String::new(),
                state.made,
            );
            step.action = Action::Renew;
            step.detail = format!(
                "subscription ends {} ({} days), within {within_subscription}",
                day(due),
                days(due)
            );
            if step.params.is_none() {
                step.detail.push_str(
                    "; with the CSR NicSRS holds for it (collect's applyParams.csr, read when it is sent): NicSRS keeps the key it generated",
                );
            }
        }
        _ if replace_due => replace(step, state, current, base),
        Due::RenewLater { due, opens } => {
            step.due_from = Some(opens);
            step.detail = format!(
                "subscription ends {} ({} days), within {within_subscription}; NicSRS accepts the renewal from {} (90 days before the certificate expires)",
                day(due),
                days(due),
                day(opens)
            );
        }
        Due::Reissue { not_after, due } => {
            let ref_id = format!("{base}-i{}", state.reissues + 1);
            prepare(
                step,
                Op::Reissue,
                &current.cert_id,
                ref_id,
                reissue_reason(&status.not_after),
                state.made,
            );
            step.action = Action::Reissue;
            step.detail = format!(
                "certificate expires {} ({} days), within {within}; the subscription runs to {}",
                day(not_after),
                days(not_after),
                day(due)
            );
        }
        Due::Valid {
            not_after,
            window_opens,
        } => {
            step.due_from = Some(window_opens);
            step.detail = format!(
                "valid to {} ({} days); {within}: the window opens {}",
                day(not_after),
                days(not_after),
                day(window_opens)
            );
        }
        Due::Unknown => {
            step.detail = "issued; its dates are unknown (`refresh` reads them)".into();
        }
    }
}

/// What becomes of a CSR or names changed before the certificate is issued.
fn replace_later(order: &crate::expand::ExpandedOrder) -> String {
    if order.has_csr() {
        "its CSR or names changed since: once `refresh` shows it issued, it is replaced".into()
    } else {
        "its names changed since, and NicSRS replaces a certificate only with a CSR for the new names: add `params.csr`".into()
    }
}

/// An issued certificate whose CSR or names changed in the manifest: `/ssl/replace`, free,
/// in the same subscription. Without a CSR there is nothing to replace it with.
fn replace(step: &mut Step, state: &KeyState, current: &Row, base: &str) {
    let ref_id = format!("{base}-x{}", state.replacements + 1);
    prepare(
        step,
        Op::Replace,
        &current.cert_id,
        ref_id,
        String::new(),
        state.made,
    );
    if step.params.is_none() {
        step.action = Action::Blocked;
        step.detail = "its names changed, and NicSRS replaces a certificate only with a CSR for the new names: add `params.csr`".into();
    } else {
        step.action = Action::Replace;
        step.detail = "issued for another key or other names than the manifest has: replaced free of charge, the subscription unchanged".into();
    }
}
