//! The plan stage: each expanded order held against the ledger, deciding what `apply`
//! would do. The plan is deterministic for the same manifests and ledger.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::expand::ExpandedOrder;
use crate::ledger::{Contents, Event};

/// What `apply` would do for one order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// A new order: place it.
    Place,
    /// Placed already; nothing to do.
    Nothing,
    /// An earlier outcome is unknown: ask the API by refId before anything is sent.
    Reconcile,
    /// It failed before for a reason worth another try (never sent, credit, token), or
    /// its request changed since a refusal.
    Retry,
    /// It was refused for what it asks; the same request would be refused again.
    Blocked,
}

impl Action {
    /// The word shown in the plan.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Place => "place",
            Action::Nothing => "nothing",
            Action::Reconcile => "reconcile",
            Action::Retry => "retry",
            Action::Blocked => "blocked",
        }
    }

    /// Whether carrying it out may call the API.
    pub fn is_work(self) -> bool {
        matches!(self, Action::Place | Action::Reconcile | Action::Retry)
    }
}

/// One order's line of the plan.
#[derive(Clone, Debug)]
pub struct Step<'o> {
    /// The order.
    pub order: &'o ExpandedOrder,
    /// What apply would do.
    pub action: Action,
    /// The request's hash now.
    pub request_sha256: String,
    /// The refId to use: the one already sent for a key with history, else the order's.
    pub ref_id: String,
    /// Submissions recorded so far.
    pub attempts: u32,
    /// The certId, when placed.
    pub cert_id: String,
    /// Why, in a few words.
    pub detail: String,
    /// The request differs from the one that was placed or refused.
    pub changed: bool,
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

    /// Orders that apply would pay for (new ones and retries).
    pub fn paid_orders(&self) -> usize {
        self.count(Action::Place) + self.count(Action::Retry)
    }

    /// The list price of what apply would pay for (new orders and retries), and how many
    /// of them have no price in the catalogue.
    pub fn cost(&self) -> (f64, usize) {
        let paid = self
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::Place | Action::Retry));
        paid.fold((0.0, 0), |(sum, unpriced), s| match s.order.price {
            Some(p) => (sum + p, unpriced),
            None => (sum, unpriced + 1),
        })
    }

    /// One line of counts, and the list price of the orders to pay for.
    pub fn summary_line(&self) -> String {
        let (total, unpriced) = self.cost();
        let cost = match (self.paid_orders(), unpriced) {
            (0, _) => String::new(),
            (n, 0) => format!(" List price of the {n} orders to place: {total:.2}."),
            (n, u) if u == n => String::new(),
            (_, u) => format!(
                " List price: {total:.2}, plus {u} order(s) without a price in the catalogue."
            ),
        };
        format!(
            "Plan: {} to place, {} to retry, {} to reconcile, {} already placed, {} blocked.{cost}",
            self.count(Action::Place),
            self.count(Action::Retry),
            self.count(Action::Reconcile),
            self.count(Action::Nothing),
            self.count(Action::Blocked)
        )
    }
}

/// Codes after which the same order may be sent again: not sent at all (no code),
/// insufficient credit (-4), bad token or IP (400), an unknown error (-2).
fn retryable(code: Option<i64>) -> bool {
    matches!(code, None | Some(-4) | Some(400) | Some(-2))
}

/// Decides each order's action from the ledger.
pub fn make<'o>(orders: &'o [ExpandedOrder], ledger: &Contents) -> Plan<'o> {
    let states = ledger.states();
    let mut steps = Vec::with_capacity(orders.len());
    for order in orders {
        let sha = order.request_sha256();
        let mut step = Step {
            order,
            action: Action::Place,
            request_sha256: sha.clone(),
            ref_id: order.ref_id.clone(),
            attempts: 0,
            cert_id: String::new(),
            detail: "new order".into(),
            changed: false,
        };
        if let Some(state) = states.get(order.key.as_str()) {
            let last = state.last;
            step.attempts = state.attempts;
            step.ref_id = if last.ref_id.is_empty() {
                order.ref_id.clone()
            } else {
                last.ref_id.clone()
            };
            step.changed = !last.request_sha256.is_empty() && last.request_sha256 != sha;
            match (state.placed, last.event) {
                (Some(placed), _) => {
                    step.action = Action::Nothing;
                    step.cert_id = placed.cert_id.clone();
                    step.changed = placed.request_sha256 != sha;
                    step.detail = if step.changed {
                        "placed; the order changed since, and is not placed again (a new key orders again)".into()
                    } else {
                        "placed".into()
                    };
                }
                (None, Event::Submitting) => {
                    step.action = Action::Reconcile;
                    step.detail = "a submission was interrupted; ask the API by refId first".into();
                }
                (None, Event::Unknown) => {
                    step.action = Action::Reconcile;
                    step.detail = format!(
                        "last outcome unknown ({}); ask the API by refId first",
                        last.message
                    );
                }
                (None, Event::Failed) if retryable(last.code) || step.changed => {
                    step.action = Action::Retry;
                    // A refused request may be sent again under the same refId: nothing was placed.
                    step.ref_id = order.ref_id.clone();
                    step.detail = if step.changed && !retryable(last.code) {
                        format!(
                            "refused before ({}); the order has changed since",
                            last.message
                        )
                    } else {
                        format!("failed before: {}", last.message)
                    };
                }
                (None, Event::Failed) => {
                    step.action = Action::Blocked;
                    step.detail =
                        format!("refused: {}; change the order to try again", last.message);
                }
                (None, Event::Placed) => unreachable!("a placed row sets `placed`"),
                (None, Event::Status) => {
                    // A certificate known only by its status (written by hand or by a
                    // later version): it exists, so nothing is placed.
                    step.action = Action::Nothing;
                    step.cert_id = last.cert_id.clone();
                    step.detail = format!("known as {} ({})", last.cert_id, last.status);
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

/// The plan as text: work first, then what is already done.
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
        Action::Retry,
        Action::Reconcile,
        Action::Blocked,
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
            let price = s
                .order
                .price
                .map(|p| format!("  {p:.2}"))
                .unwrap_or_default();
            let what = match action {
                Action::Nothing => s.cert_id.clone(),
                _ => format!(
                    "{} {}y {}{price}",
                    s.order.product_code, s.order.years, names
                ),
            };
            out.push_str(&format!(
                "  {:<9} {:<width$}  {:<24} {}\n",
                action.as_str(),
                s.order.key,
                s.ref_id,
                what
            ));
            if action != Action::Place && action != Action::Nothing || s.changed {
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
            "warning: `{}` ({}:{line}:{col}) changed after it was placed as {}; orders are never placed again silently: give it a new key to order again\n",
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
            "ref_id": s.ref_id,
            "cert_id": s.cert_id,
            "product_code": s.order.product_code,
            "years": s.order.years,
            "domains": s.order.domains(),
            "request_sha256": s.request_sha256,
            "price": s.order.price,
            "changed": s.changed,
            "detail": s.detail,
        })).collect::<Vec<_>>(),
        "gone": plan.gone,
        "summary": {
            "place": plan.count(Action::Place),
            "retry": plan.count(Action::Retry),
            "reconcile": plan.count(Action::Reconcile),
            "nothing": plan.count(Action::Nothing),
            "blocked": plan.count(Action::Blocked),
            "price": plan.cost().0,
            "unpriced": plan.cost().1,
        },
    })
}
