//! The plan stage: each expanded order held against the ledger, deciding what `apply`
//! would do: place it, renew or reissue its certificate in the `renewBefore` window, finish
//! a call whose outcome is unknown, or nothing. The plan is deterministic for the same
//! manifests, ledger and day.

mod changes;
mod decide;
mod render;
pub mod saved;

use std::collections::HashSet;
use std::sync::Arc;

use crate::expand::ExpandedOrder;
use crate::ledger::{Contents, Event};
use crate::lifecycle;

pub use changes::{Carrier, Change, FieldsBasis};
pub use decide::NO_CSR_HELD;
use decide::{adopt, in_force, unfinished};
pub use render::{annotations, render, to_json};

/// What `apply` would do for one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A new order: place it.
    Place,
    /// Its subscription ends within the window: renew it.
    Renew,
    /// Its certificate expires within the window while the subscription goes on: reissue.
    Reissue,
    /// It is issued, and its CSR or names changed in the manifest: replace it (free).
    Replace,
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
    /// It waits for validation, and the manifest changed how some of its names are
    /// validated: `/ssl/updateDCV` for each (free; nothing is placed).
    UpdateDcv,
    /// `apply --require-dcv`: a new order whose validation records do not check out yet
    /// (or cannot be known before it is placed): not placed this run.
    AwaitingDcv,
}

impl Action {
    /// The word shown in the plan.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Place => "place",
            Action::Renew => "renew",
            Action::Reissue => "reissue",
            Action::Replace => "replace",
            Action::Nothing => "nothing",
            Action::Reconcile => "reconcile",
            Action::Retry => "retry",
            Action::Blocked => "blocked",
            Action::Cancelled => "cancelled",
            Action::UpdateDcv => "update-dcv",
            Action::AwaitingDcv => "awaiting-dcv",
        }
    }

    /// Whether carrying it out may call the API.
    pub fn is_work(self) -> bool {
        matches!(
            self,
            Action::Place
                | Action::Renew
                | Action::Reissue
                | Action::Replace
                | Action::Reconcile
                | Action::Retry
                | Action::UpdateDcv
        )
    }

    /// Whether carrying it out starts a new call that may cost money or change a
    /// certificate (what `--max-orders` counts).
    pub fn is_new_call(self) -> bool {
        matches!(
            self,
            Action::Place | Action::Renew | Action::Reissue | Action::Replace | Action::Retry
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
    /// `/ssl/reissue`: a new certificate in the same subscription, for the same key and
    /// names.
    Reissue,
    /// `/ssl/replace`: a new certificate in the same subscription for another key or other
    /// names.
    Replace,
}

impl Op {
    /// The call a write-ahead row was written for.
    pub fn of(event: Event) -> Op {
        match event {
            Event::Renewing | Event::Renewed => Op::Renew,
            Event::Reissuing | Event::Reissued => Op::Reissue,
            Event::Replacing | Event::Replaced => Op::Replace,
            _ => Op::Place,
        }
    }

    /// The endpoint.
    pub fn endpoint(self) -> &'static str {
        match self {
            Op::Place => "place",
            Op::Renew => "renew",
            Op::Reissue => "reissue",
            Op::Replace => "replace",
        }
    }

    /// Whether it costs money (place, renew); reissues and replacements are free.
    pub fn is_paid(self) -> bool {
        matches!(self, Op::Place | Op::Renew)
    }

    /// The row written and synced before the call.
    pub fn write_ahead(self) -> Event {
        match self {
            Op::Place => Event::Submitting,
            Op::Renew => Event::Renewing,
            Op::Reissue => Event::Reissuing,
            Op::Replace => Event::Replacing,
        }
    }

    /// The row recording that the call's order exists.
    pub fn success(self) -> Event {
        match self {
            Op::Place => Event::Placed,
            Op::Renew => Event::Renewed,
            Op::Reissue => Event::Reissued,
            Op::Replace => Event::Replaced,
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
    /// For a renewal, reissue or replacement: the certId renewed, reissued or replaced.
    pub of_cert: String,
    /// The `productCode` sent, or of the certificate renewed or replaced (for the ledger).
    pub product_code: String,
    /// The `years` sent, or of the certificate replaced (for the ledger).
    pub years: u32,
    /// The `params` sent. None for a reissue (which takes none) and for a renewal with
    /// the CSR NicSRS holds, which is read when it is sent.
    pub params: Option<Arc<str>>,
    /// A reissue's `uniqueValue` form field.
    pub unique_value: Option<String>,
    /// A reissue's `reason`.
    pub reason: String,
    /// The ledger's `request_fields` for the call's rows (see [`changes::fields_after`]).
    pub request_fields: String,
    /// For a renewal or replacement: what its `request_fields` are worked out from, when it
    /// is carried out.
    pub fields_basis: Option<FieldsBasis>,
    /// For a call with history: the `request_fields` of the call as it was sent, recorded
    /// if it is found to have gone through.
    pub sent_fields: String,
    /// What changed in the order since its certificate in force was made, field by field.
    pub changes: Vec<Change>,
    /// Its `renewBefore` is not shorter than its certificate's lifetime: a third of the
    /// lifetime was used instead.
    pub window_clamped: bool,
    /// Whether the call may be sent again when its refId is not found: not after NicSRS
    /// answered it with success but no certId.
    pub resend: bool,
    /// The ledger's rows for the key disagree (see [`crate::ledger::KeyState::disordered`]):
    /// the call is looked up by refId before it is sent, even with `--trust-ledger`.
    pub must_look_up: bool,
    /// Why, in a few words (with the dates for renewals and reissues).
    pub detail: String,
    /// The request differs from the one that was placed or refused.
    pub changed: bool,
    /// The list price of the call (reissues and replacements are free).
    pub price: Option<f64>,
    /// For a certificate with nothing to do yet: when its window opens (Unix seconds).
    pub due_from: Option<i64>,
    /// For `update-dcv`: each name whose validation changed, as the manifest has it now.
    pub dcv_updates: Vec<crate::dcv::NameDcv>,
    /// For a new call with a request of its own: what each name will need for the CA to
    /// validate it (see [`with_dcv`]); empty until asked for.
    pub dcv: Vec<crate::dcv::records::Record>,
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

    /// What `--max-orders` counts: the new calls, and of the reconciles those that send
    /// their call again when NicSRS has no such order (`(all, of them reconciles)`).
    pub fn calls_that_may_pay(&self) -> (usize, usize) {
        let resent = self
            .steps
            .iter()
            .filter(|s| s.action == Action::Reconcile && s.resend)
            .count();
        (self.paid_orders() + resent, resent)
    }

    /// The list price of what apply would pay for (new orders, renewals and retries), and
    /// how many of them have no price in the catalogue.
    pub fn cost(&self) -> (f64, usize) {
        let paid = self
            .steps
            .iter()
            .filter(|s| s.action.is_new_call() && s.op.is_paid());
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
            .filter(|s| s.action.is_new_call() && s.op.is_paid())
            .count();
        let renewals = self
            .steps
            .iter()
            .filter(|s| s.action.is_new_call() && s.op == Op::Renew)
            .count();
        let orders = |n: usize| crate::shown::counted(n as u64, "order");
        let renewal_count = |n: usize| crate::shown::counted(n as u64, "renewal");
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
            "Plan: {} to place, {} to renew, {} to reissue, {} to replace, {} to retry, {} to reconcile, {} with nothing to do, {} blocked",
            self.count(Action::Place),
            self.count(Action::Renew),
            self.count(Action::Reissue),
            self.count(Action::Replace),
            self.count(Action::Retry),
            self.count(Action::Reconcile),
            self.count(Action::Nothing),
            self.count(Action::Blocked)
        );
        if self.count(Action::AwaitingDcv) > 0 {
            counts.push_str(&format!(
                ", {} awaiting DCV",
                self.count(Action::AwaitingDcv)
            ));
        }
        if self.count(Action::UpdateDcv) > 0 {
            counts.push_str(&format!(
                ", {} to update DCV (free)",
                self.count(Action::UpdateDcv)
            ));
        }
        if self.count(Action::Cancelled) > 0 {
            counts.push_str(&format!(", {} cancelled", self.count(Action::Cancelled)));
        }
        // A reconcile sends its paid call again when NicSRS has no such order: what that
        // could add, so that the total is not read as all there is to pay.
        let (resent, resent_price) = self
            .steps
            .iter()
            .filter(|s| s.action == Action::Reconcile && s.resend && s.op.is_paid())
            .fold((0u64, 0.0), |(n, sum), s| {
                (n + 1, sum + s.price.unwrap_or(0.0))
            });
        let resent = match resent {
            0 => String::new(),
            n => format!(
                " Up to {resent_price:.2} more if {} find no order and send {} call again.",
                if n == 1 {
                    "the reconcile".to_owned()
                } else {
                    format!("the {n} reconciles")
                },
                if n == 1 { "its" } else { "their" }
            ),
        };
        format!("{counts}.{cost}{resent}")
    }
}

/// Whether the key's certificate in force is placed and not issued (nor ended) yet.
fn waits_for_validation(state: &crate::ledger::KeyState<'_>) -> bool {
    const SETTLED: [&str; 6] = [
        "COMPLETE",
        "CANCELLED",
        "FAILED",
        "REISSUED",
        "REVOKED",
        "EXPIRED",
    ];
    state.current.is_some()
        && state
            .status
            .is_none_or(|s| !SETTLED.contains(&s.status.to_ascii_uppercase().as_str()))
}

/// A change of `domainInfo` that is not a change of names: its validation methods.
fn is_method_change(c: &Change) -> bool {
    c.field == "domainInfo" && c.carrier == Carrier::Later
}

/// A pending order whose names' validation changed in the manifest: `update-dcv`.
fn update_dcv(step: &mut Step<'_>, state: &crate::ledger::KeyState<'_>) {
    let names = crate::dcv::records::changed_names(step.order, state);
    if names.is_empty() {
        return;
    }
    let list: Vec<String> = names
        .iter()
        .map(|n| {
            if n.method.eq_ignore_ascii_case("EMAIL") {
                format!("{} EMAIL {}", n.domain, n.email)
            } else {
                format!("{} {}", n.domain, n.method)
            }
        })
        .collect();
    step.action = Action::UpdateDcv;
    step.of_cert = step.cert_id.clone();
    step.detail = format!(
        "waiting for validation; /ssl/updateDCV (free) for {}: {}",
        crate::shown::counted(names.len() as u64, "name"),
        list.join(", ")
    );
    // The methods go out now, not with the next replacement or renewal.
    step.changes.retain(|c| !is_method_change(c));
    step.changed = !step.changes.is_empty();
    step.dcv_updates = names;
}

/// Fills in, for each step that sends a request of its own (place, renew, replace, and
/// retries of them), the records its names will need: computed from its CSR where the
/// CA derives them from it, an approver's mail, or unknown until it is placed.
pub fn with_dcv(plan: &mut Plan<'_>, catalog: &crate::catalog::Catalog) {
    for step in &mut plan.steps {
        if step.action.is_new_call() && step.op != Op::Reissue {
            step.dcv = crate::dcv::records::for_new_call(step.order, catalog);
        }
    }
}

/// Holds back (`awaiting-dcv`) each step whose records `blocking` says are not ready;
/// `blocking` gives the reasons (empty when ready).
pub fn hold_for_dcv(plan: &mut Plan<'_>, mut blocking: impl FnMut(&Step<'_>) -> Vec<String>) {
    for step in &mut plan.steps {
        if step.dcv.is_empty() {
            continue;
        }
        let reasons = blocking(step);
        if !reasons.is_empty() {
            step.action = Action::AwaitingDcv;
            step.detail = format!("not placed: --require-dcv, and {}", reasons.join("; "));
        }
    }
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
            request_sha256: order.request_sha256().to_owned(),
            ref_id: order.ref_id.clone(),
            attempts: 0,
            cert_id: String::new(),
            of_cert: String::new(),
            product_code: order.product_code.clone(),
            years: order.years,
            params: Some(order.params.clone()),
            unique_value: None,
            reason: String::new(),
            request_fields: String::new(),
            sent_fields: String::new(),
            fields_basis: None,
            changes: Vec::new(),
            window_clamped: false,
            resend: true,
            must_look_up: false,
            detail: "new order".into(),
            changed: false,
            price: order.price,
            due_from: None,
            dcv_updates: Vec::new(),
            dcv: Vec::new(),
        };
        match states.get(order.key.as_str()) {
            None => {
                if let Some(id) = &order.renewal_of {
                    adopt(&mut step, id);
                } else if ledger.mentions(&order.ref_id) {
                    // A new key whose refId the ledger knows (a key renamed, a header
                    // edited): what that refId bought is asked for before anything is sent.
                    step.must_look_up = true;
                }
            }
            Some(state) => {
                step.attempts = state.attempts;
                step.must_look_up = state.disordered;
                match (state.open_call(), state.current, &order.renewal_of) {
                    // Refused placements at most, and the order now adopts a certificate:
                    // nothing was bought under this key, so nothing is placed.
                    (_, _, Some(id)) if state.holds_no_order() => {
                        adopt(&mut step, id);
                        // Only rows of collects that failed: the certId may be wrong.
                        if state.last.event == Event::Status && !state.last.message.is_empty() {
                            step.action = Action::Blocked;
                            step.detail = format!(
                                "adopts {id} (renewalOf), but `refresh` could not read it: {}; check the certId",
                                state.last.message
                            );
                        }
                    }
                    (Some(open), _, _) => unfinished(&mut step, state, open),
                    (None, Some(current), _) => in_force(&mut step, state, current, now),
                    (None, None, _) => {}
                }
                if step.action == Action::Nothing && waits_for_validation(state) {
                    update_dcv(&mut step, state);
                }
                if step.changed
                    && state.current.is_some()
                    && crate::dcv::records::methods_held(order, state)
                {
                    // Only the validation methods changed, and NicSRS holds them already.
                    step.changes.retain(|c| !is_method_change(c));
                    step.changed = !step.changes.is_empty();
                }
            }
        }
        if step.must_look_up {
            step.detail.push_str(
                if matches!(step.action, Action::Nothing | Action::Blocked | Action::Cancelled) {
                    "; the ledger's rows for this key disagree (merged out of order, or edited): check them"
                } else {
                    "; the ledger's rows for this key disagree, or name its refId elsewhere: looked up by refId before anything is sent"
                },
            );
        }
        steps.push(step);
    }
    let known: HashSet<&str> = orders.iter().map(|o| o.key.as_str()).collect();
    let mut gone: Vec<String> = ledger
        .keys()
        .filter(|k| !known.contains(*k))
        .map(str::to_owned)
        .collect();
    gone.sort();
    Plan { steps, gone }
}
