//! The decision for one order with history: a call left unfinished, or a certificate in
//! force held against its `renewBefore` window.

use crate::expand;
use crate::ledger::{Event, KeyState, Row};
use crate::lifecycle::{self, Due};

use super::{Action, Op, Step};

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
/// sends and its hash.
fn prepare(step: &mut Step, op: Op, of: &str, ref_id: String, reason: String) {
    let order = step.order;
    step.op = op;
    step.ref_id = ref_id;
    step.of_cert = of.to_owned();
    step.reason = reason;
    let years = order.years.to_string();
    match op {
        Op::Place => {
            step.params = Some(order.params.clone());
            step.request_sha256 = order.request_sha256();
        }
        Op::Renew => {
            step.params = order.renewal_params();
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
        }
        Op::Reissue => {
            step.params = order.renewal_params();
            step.price = None;
            let params = step.params.as_deref().unwrap_or("");
            step.request_sha256 = expand::request_sha256(
                "reissue",
                &[
                    ("certId", of),
                    ("params", params),
                    ("reason", &step.reason),
                    ("refId", &step.ref_id),
                ],
            );
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
    };
    // A refused placement may be sent again under the order's (possibly new) refId:
    // nothing was placed. Renewals and reissues keep theirs.
    let ref_id = match (op, last.event) {
        (Op::Place, Event::Failed) => step.order.ref_id.clone(),
        _ => open.ref_id.clone(),
    };
    prepare(step, op, &open.cert_id, ref_id, reason_of(state, open));
    step.cert_id = state.current.map_or(String::new(), |c| c.cert_id.clone());
    step.changed = !last.request_sha256.is_empty() && last.request_sha256 != step.request_sha256;
    match last.event {
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
            step.detail = format!(
                "{what} refused: {}; change the order to try again",
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

/// An order with a certificate in force: what its status and the window call for.
pub(super) fn in_force(step: &mut Step, state: &KeyState, current: &Row, now: i64) {
    let order = step.order;
    step.action = Action::Nothing;
    step.cert_id = current.cert_id.clone();
    step.ref_id = current.ref_id.clone();
    // Only the request that placed the certificate in force can have changed since; a
    // renewal or reissue sends the manifest as it is then.
    step.changed = current.event == Event::Placed && current.request_sha256 != step.request_sha256;
    let Some(status) = state.status else {
        step.detail = match current.event {
            Event::Renewed => format!(
                "renewed as {}; `refresh` follows its issuance",
                current.cert_id
            ),
            Event::Reissued => format!(
                "reissued as {}; `refresh` follows its issuance",
                current.cert_id
            ),
            _ if step.changed => {
                "placed; the order changed since, and is not placed again (a new key orders again)"
                    .into()
            }
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
            return;
        }
    }
    let window = order.renew_before_days;
    let day = lifecycle::format_day;
    let days = |t: i64| lifecycle::days_until(t, now);
    let base = state
        .placed
        .map_or(order.ref_id.as_str(), |p| p.ref_id.as_str());
    match lifecycle::decide(&status.not_after, &status.due_date, window, now) {
        Due::Renew { due } => {
            let ref_id = format!("{base}-r{}", state.renewals + 1);
            prepare(step, Op::Renew, &current.cert_id, ref_id, String::new());
            step.detail = format!(
                "subscription ends {} ({} days), within renewBefore {window}d",
                day(due),
                days(due)
            );
            if step.params.is_none() {
                step.action = Action::Blocked;
                step.detail.push_str(
                    ": NicSRS renews only with a CSR, and this order has none (NicSRS generated its key); add `params.csr` to renew it",
                );
            } else {
                step.action = Action::Renew;
            }
        }
        Due::RenewLater { due, opens } => {
            step.due_from = Some(opens);
            step.detail = format!(
                "subscription ends {} ({} days), within renewBefore {window}d; NicSRS accepts the renewal from {} (90 days before the certificate expires)",
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
            );
            step.action = Action::Reissue;
            step.detail = format!(
                "certificate expires {} ({} days), within renewBefore {window}d; the subscription runs to {}",
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
                "valid to {} ({} days); renewBefore {window}d opens {}",
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
