//! The plan stage: each expanded order held against the ledger, deciding what `apply`
//! would do: place it, renew or reissue its certificate in the `renewBefore` window, finish
//! a call whose outcome is unknown, or nothing. The plan is deterministic for the same
//! manifests, ledger and day.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::expand::{self, ExpandedOrder};
use crate::ledger::{Contents, Event, KeyState, Row};
use crate::lifecycle::{self, Due};

/// What `apply` would do for one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A new order: place it.
    Place,
    /// Its subscription ends within the window: renew it.
    Renew,
    /// Its certificate expires within the window while the subscription goes on: reissue.
    Reissue,
    /// Nothing to do now.
    Nothing,
    /// An earlier outcome is unknown: ask the API by refId before anything is sent.
    Reconcile,
    /// It failed before for a reason worth another try (never sent, credit, token), or
    /// its request changed since a refusal.
    Retry,
    /// It was refused for what it asks, or NicSRS ended it; the same request would be
    /// refused again.
    Blocked,
    /// NicSRS cancelled it: it is never ordered again under the same key.
    Cancelled,
}

impl Action {
    /// The word shown in the plan.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Place => "place",
            Action::Renew => "renew",
            Action::Reissue => "reissue",
            Action::Nothing => "nothing",
            Action::Reconcile => "reconcile",
            Action::Retry => "retry",
            Action::Blocked => "blocked",
            Action::Cancelled => "cancelled",
        }
    }

    /// Whether carrying it out may call the API.
    pub fn is_work(self) -> bool {
        matches!(
            self,
            Action::Place | Action::Renew | Action::Reissue | Action::Reconcile | Action::Retry
        )
    }

    /// Whether carrying it out starts a new call that may cost money or change a
    /// certificate (what `--max-orders` counts).
    pub fn is_new_call(self) -> bool {
        matches!(
            self,
            Action::Place | Action::Renew | Action::Reissue | Action::Retry
        )
    }
}

/// The API call a step makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `/ssl/place`: a new order.
    Place,
    /// `/ssl/renew`: a new order that continues a subscription.
    Renew,
    /// `/ssl/reissue`: a new certificate in the same subscription.
    Reissue,
}

impl Op {
    /// The call a write-ahead row was written for.
    pub fn of(event: Event) -> Op {
        match event {
            Event::Renewing | Event::Renewed => Op::Renew,
            Event::Reissuing | Event::Reissued => Op::Reissue,
            _ => Op::Place,
        }
    }

    /// The endpoint.
    pub fn endpoint(self) -> &'static str {
        match self {
            Op::Place => "place",
            Op::Renew => "renew",
            Op::Reissue => "reissue",
        }
    }

    /// The row written and synced before the call.
    pub fn write_ahead(self) -> Event {
        match self {
            Op::Place => Event::Submitting,
            Op::Renew => Event::Renewing,
            Op::Reissue => Event::Reissuing,
        }
    }

    /// The row recording that the call's order exists.
    pub fn success(self) -> Event {
        match self {
            Op::Place => Event::Placed,
            Op::Renew => Event::Renewed,
            Op::Reissue => Event::Reissued,
        }
    }
}

/// One order's line of the plan.
#[derive(Clone, Debug)]
pub struct Step<'o> {
    /// The order.
    pub order: &'o ExpandedOrder,
    /// What apply would do.
    pub action: Action,
    /// The call it makes (or made, for reconcile and retry).
    pub op: Op,
    /// The request's hash now.
    pub request_sha256: String,
    /// The refId to use: the one already sent for a call with history, else a new one.
    pub ref_id: String,
    /// Submissions recorded so far.
    pub attempts: u32,
    /// The certificate in force, when there is one.
    pub cert_id: String,
    /// For a renewal or reissue: the certId renewed or reissued.
    pub of_cert: String,
    /// The `params` sent (for a reissue without a CSR, none).
    pub params: Option<Arc<str>>,
    /// A reissue's `reason`.
    pub reason: String,
    /// Why, in a few words (with the dates for renewals and reissues).
    pub detail: String,
    /// The request differs from the one that was placed or refused.
    pub changed: bool,
    /// The list price of the call (reissues are free).
    pub price: Option<f64>,
}

/// The whole plan.
#[derive(Clone, Debug)]
pub struct Plan<'o> {
    /// One step per order, in manifest order.
    pub steps: Vec<Step<'o>>,
    /// Keys in the ledger that no manifest has any more.
    pub gone: Vec<String>,
}

impl Plan<'_> {
    /// How many steps have `action`.
    pub fn count(&self, action: Action) -> usize {
        self.steps.iter().filter(|s| s.action == action).count()
    }

    /// Whether apply has anything to do.
    pub fn has_work(&self) -> bool {
        self.steps.iter().any(|s| s.action.is_work())
    }

    /// New calls apply would make: placements, renewals, reissues and retries.
    pub fn paid_orders(&self) -> usize {
        self.steps.iter().filter(|s| s.action.is_new_call()).count()
    }

    /// The list price of what apply would pay for (new orders, renewals and retries), and
    /// how many of them have no price in the catalogue.
    pub fn cost(&self) -> (f64, usize) {
        let paid = self
            .steps
            .iter()
            .filter(|s| s.action.is_new_call() && s.op != Op::Reissue);
        paid.fold((0.0, 0), |(sum, unpriced), s| match s.price {
            Some(p) => (sum + p, unpriced),
            None => (sum, unpriced + 1),
        })
    }

    /// One line of counts, and the list price of the orders to pay for.
    pub fn summary_line(&self) -> String {
        let (total, unpriced) = self.cost();
        let priced = self
            .steps
            .iter()
            .filter(|s| s.action.is_new_call() && s.op != Op::Reissue)
            .count();
        let renewals = self
            .steps
            .iter()
            .filter(|s| s.action.is_new_call() && s.op == Op::Renew)
            .count();
        let orders = |n: usize| format!("{n} order{}", if n == 1 { "" } else { "s" });
        let renewal_count = |n: usize| format!("{n} renewal{}", if n == 1 { "" } else { "s" });
        let what = match (priced - renewals, renewals) {
            (p, 0) => format!("the {} to place", orders(p)),
            (0, r) => format!("the {}", renewal_count(r)),
            (p, r) => format!("the {} to place and {}", orders(p), renewal_count(r)),
        };
        let cost = match (priced, unpriced) {
            (0, _) => String::new(),
            (_, 0) => format!(" List price of {what}: {total:.2}."),
            (n, u) if u == n => String::new(),
            (_, u) => format!(
                " List price: {total:.2}, plus {u} order(s) without a price in the catalogue."
            ),
        };
        let mut counts = format!(
            "Plan: {} to place, {} to renew, {} to reissue, {} to retry, {} to reconcile, {} with nothing to do, {} blocked",
            self.count(Action::Place),
            self.count(Action::Renew),
            self.count(Action::Reissue),
            self.count(Action::Retry),
            self.count(Action::Reconcile),
            self.count(Action::Nothing),
            self.count(Action::Blocked)
        );
        if self.count(Action::Cancelled) > 0 {
            counts.push_str(&format!(", {} cancelled", self.count(Action::Cancelled)));
        }
        format!("{counts}.{cost}")
    }
}

/// Codes after which the same order may be sent again: not sent at all (no code),
/// insufficient credit (-4), bad token or IP (400), an unknown error (-2).
fn retryable(code: Option<i64>) -> bool {
    matches!(code, None | Some(-4) | Some(400) | Some(-2))
}

/// Decides each order's action from the ledger, today.
pub fn make<'o>(orders: &'o [ExpandedOrder], ledger: &Contents) -> Plan<'o> {
    make_at(orders, ledger, lifecycle::now())
}

/// Decides each order's action from the ledger at `now` (Unix seconds).
pub fn make_at<'o>(orders: &'o [ExpandedOrder], ledger: &Contents, now: i64) -> Plan<'o> {
    let states = ledger.states();
    let mut steps = Vec::with_capacity(orders.len());
    for order in orders {
        let mut step = Step {
            order,
            action: Action::Place,
            op: Op::Place,
            request_sha256: order.request_sha256(),
            ref_id: order.ref_id.clone(),
            attempts: 0,
            cert_id: String::new(),
            of_cert: String::new(),
            params: Some(order.params.clone()),
            reason: String::new(),
            detail: "new order".into(),
            changed: false,
            price: order.price,
        };
        match states.get(order.key.as_str()) {
            None => {
                if let Some(id) = &order.renewal_of {
                    adopt(&mut step, id);
                }
            }
            Some(state) => {
                step.attempts = state.attempts;
                if let Some(open) = state.open_call() {
                    unfinished(&mut step, state, open);
                } else if let Some(current) = state.current {
                    in_force(&mut step, state, current, now);
                } else if let Some(id) = &order.renewal_of {
                    adopt(&mut step, id);
                }
            }
        }
        steps.push(step);
    }
    let known: HashSet<&str> = orders.iter().map(|o| o.key.as_str()).collect();
    let mut gone: Vec<String> = states
        .keys()
        .filter(|k| !known.contains(*k))
        .map(|k| (*k).to_owned())
        .collect();
    gone.sort();
    Plan { steps, gone }
}

/// An order that adopts a certificate the ledger does not know yet: never placed.
fn adopt(step: &mut Step, cert_id: &str) {
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
fn unfinished(step: &mut Step, state: &KeyState, open: &Row) {
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
        "certificate renewal before expiry (nicsrs-batch)".into()
    } else {
        format!("certificate expires {not_after}: reissued before expiry (nicsrs-batch)")
    }
}

/// An order with a certificate in force: what its status and the window call for.
fn in_force(step: &mut Step, state: &KeyState, current: &Row, now: i64) {
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
    let day = |t: i64| lifecycle::format_date(t).get(..10).unwrap_or("").to_owned();
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

/// The plan as text: work first, then what is blocked, then what is in force.
pub fn render(plan: &Plan, sources: &crate::source::Sources) -> String {
    let mut out = String::new();
    let width = plan
        .steps
        .iter()
        .map(|s| s.order.key.len())
        .max()
        .unwrap_or(3)
        .min(40);
    let order = [
        Action::Place,
        Action::Renew,
        Action::Reissue,
        Action::Retry,
        Action::Reconcile,
        Action::Blocked,
        Action::Cancelled,
        Action::Nothing,
    ];
    for action in order {
        for s in plan.steps.iter().filter(|s| s.action == action) {
            let domains = s.order.domains();
            let names = match domains.as_slice() {
                [] => String::new(),
                [one] => (*one).to_owned(),
                [first, rest @ ..] => format!("{first} (+{})", rest.len()),
            };
            let price = s.price.map(|p| format!("  {p:.2}")).unwrap_or_default();
            let what = match (action, s.op) {
                (Action::Nothing, _) if s.detail != "placed" => {
                    format!("{}  {}", s.cert_id, s.detail)
                }
                (Action::Nothing | Action::Cancelled, _) => s.cert_id.clone(),
                (_, Op::Place) => format!(
                    "{} {}y {}{price}",
                    s.order.product_code, s.order.years, names
                ),
                (_, Op::Renew) => format!(
                    "{} {}y {} renews {}{price}",
                    s.order.product_code, s.order.years, names, s.of_cert
                ),
                (_, Op::Reissue) => format!("{} reissues {}", names, s.of_cert),
            };
            out.push_str(&format!(
                "  {:<9} {:<width$}  {:<24} {}\n",
                action.as_str(),
                s.order.key,
                s.ref_id,
                what
            ));
            if !matches!(action, Action::Place | Action::Nothing) {
                out.push_str(&format!("  {:<9} {:<width$}  ^ {}\n", "", "", s.detail));
            }
        }
    }
    for s in plan
        .steps
        .iter()
        .filter(|s| s.changed && s.action == Action::Nothing)
    {
        let file = sources.get(s.order.file);
        let (line, col) = file.line_col(s.order.span.start);
        out.push_str(&format!(
            "warning: `{}` ({}:{line}:{col}) changed after it was placed as {}; orders are never placed again silently: the change goes out with its next renewal or reissue, or give it a new key to order again\n",
            s.order.key, file.display, s.cert_id
        ));
    }
    if !plan.gone.is_empty() {
        out.push_str(&format!(
            "note: {} key(s) in the ledger are in no manifest any more: {}\n",
            plan.gone.len(),
            plan.gone
                .iter()
                .take(10)
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.push_str(&plan.summary_line());
    out.push('\n');
    out
}

/// The plan as JSON.
pub fn to_json(plan: &Plan) -> Value {
    json!({
        "steps": plan.steps.iter().map(|s| json!({
            "key": s.order.key,
            "action": s.action.as_str(),
            "call": s.action.is_work().then(|| s.op.endpoint()),
            "ref_id": s.ref_id,
            "cert_id": s.cert_id,
            "of_cert_id": s.of_cert,
            "product_code": s.order.product_code,
            "years": s.order.years,
            "domains": s.order.domains(),
            "request_sha256": s.request_sha256,
            "price": s.price,
            "changed": s.changed,
            "detail": s.detail,
        })).collect::<Vec<_>>(),
        "gone": plan.gone,
        "summary": {
            "place": plan.count(Action::Place),
            "renew": plan.count(Action::Renew),
            "reissue": plan.count(Action::Reissue),
            "retry": plan.count(Action::Retry),
            "reconcile": plan.count(Action::Reconcile),
            "nothing": plan.count(Action::Nothing),
            "blocked": plan.count(Action::Blocked),
            "cancelled": plan.count(Action::Cancelled),
            "price": plan.cost().0,
            "unpriced": plan.cost().1,
        },
    })
}
