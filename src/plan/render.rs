//! The plan for people (text, the way a reviewer reads it in a pull request) and for
//! machines (JSON).

use std::fmt::Write;

use serde_json::{Value, json};

use super::{Action, Op, Plan};

/// The plan as text: work first, then what is blocked, then what is in force. Orders with
/// nothing to do are counted, not listed, unless `show_unchanged` (or they changed since
/// their certificate was made, or their ledger rows disagree: what the reader must see).
pub fn render(plan: &Plan, sources: &crate::source::Sources, show_unchanged: bool) -> String {
    let mut out = String::new();
    let shown = |s: &&super::Step| {
        show_unchanged || s.action != Action::Nothing || s.must_look_up || s.changed
    };
    let width = plan
        .steps
        .iter()
        .filter(shown)
        .map(|s| s.order.key.len())
        .max()
        .unwrap_or(3)
        .min(40);
    // The action column: as wide as the longest action shown (`awaiting-dcv`), at least 9.
    let aw = plan
        .steps
        .iter()
        .filter(shown)
        .map(|s| s.action.as_str().len())
        .max()
        .unwrap_or(9)
        .max(9);
    let order = [
        Action::Place,
        Action::Renew,
        Action::Reissue,
        Action::Replace,
        Action::Retry,
        Action::Reconcile,
        Action::UpdateDcv,
        Action::AwaitingDcv,
        Action::Blocked,
        Action::Cancelled,
        Action::Nothing,
    ];
    for action in order {
        for s in plan
            .steps
            .iter()
            .filter(|s| s.action == action)
            .filter(shown)
        {
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
                (Action::Nothing | Action::Cancelled | Action::UpdateDcv, _) => s.cert_id.clone(),
                // An adopted certificate that could not be read.
                (Action::Blocked, Op::Place) if !s.cert_id.is_empty() => s.cert_id.clone(),
                (_, Op::Place) => format!(
                    "{} {}y {}{price}",
                    s.order.product_code, s.order.years, names
                ),
                (_, Op::Renew) => format!(
                    "{} {}y {} renews {}{price}",
                    s.order.product_code, s.order.years, names, s.of_cert
                ),
                (_, Op::Reissue) => format!("{} reissues {}", names, s.of_cert),
                (_, Op::Replace) => format!("{} replaces {}", names, s.of_cert),
            };
            // Writing to a String cannot fail.
            let _ = writeln!(
                out,
                "  {:<aw$} {:<width$}  {:<24} {}",
                action.as_str(),
                s.order.key,
                s.ref_id,
                what
            );
            if !matches!(action, Action::Place | Action::Nothing) {
                let _ = writeln!(out, "  {:<aw$} {:<width$}  ^ {}", "", "", s.detail);
            }
            if matches!(action, Action::Replace | Action::Renew) {
                for c in &s.changes {
                    let _ = writeln!(out, "  {:<aw$} {:<width$}    {}", "", "", c.line());
                }
            }
            for line in dcv_lines(&s.dcv) {
                let _ = writeln!(out, "  {:<aw$} {:<width$}    {line}", "", "");
            }
        }
    }
    let hidden = plan.steps.iter().filter(|s| !shown(s)).count();
    if hidden > 0 {
        let _ = writeln!(
            out,
            "  ({} with nothing to do not listed; --show-unchanged lists them)",
            crate::shown::counted(hidden as u64, "order")
        );
    }
    // Changes that no call of this plan carries: each field, and what becomes of it.
    for s in plan.steps.iter().filter(|s| change_left_over(s)) {
        let file = sources.get(s.order.file);
        let (line, col) = file.line_col(s.order.span.start);
        out.push_str(&format!(
            "warning: `{}` ({}:{line}:{col}) changed since its certificate {} was made; nothing is ordered again by itself:\n",
            s.order.key, file.display, s.cert_id
        ));
        for c in &s.changes {
            out.push_str(&format!("    {}\n", c.line()));
        }
    }
    let clamped: Vec<&str> = plan
        .steps
        .iter()
        .filter(|s| s.window_clamped)
        .map(|s| s.order.key.as_str())
        .collect();
    if !clamped.is_empty() {
        out.push_str(&format!(
            "warning: renewBefore is not shorter than the certificate's lifetime for {} order(s) ({}{}): every certificate would be due the moment it is issued, so a third of its lifetime is used instead; set e.g. `renewBefore: 33%`\n",
            clamped.len(),
            clamped.iter().take(5).copied().collect::<Vec<_>>().join(", "),
            if clamped.len() > 5 { ", ..." } else { "" }
        ));
    }
    let later = plan
        .steps
        .iter()
        .filter(|s| s.action.is_work() || s.action == Action::AwaitingDcv)
        .flat_map(|s| &s.dcv)
        .filter(|r| r.kind.is_empty())
        .count();
    if later > 0 {
        out.push_str(&format!(
            "note: the validation records of {} are known only once their orders are placed (no CSR to compute them from, or a CA that issues its own tokens): `nicsrs-batch dcv` shows them then\n",
            crate::shown::counted(later as u64, "name")
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

/// Whether the order changed since its certificate was made and no call of the plan
/// carries the change (a warning in text, an annotation for GitHub).
fn change_left_over(s: &super::Step) -> bool {
    s.changed
        && !matches!(
            s.action,
            Action::Replace | Action::Renew | Action::Retry | Action::Cancelled
        )
}

/// What a new order's names will need, one line each: the records known before it is
/// placed (those known only once it is are counted at the end of the plan).
fn dcv_lines(records: &[crate::dcv::records::Record]) -> Vec<String> {
    let shown = |s: &str| crate::shown::bounded(s, 200);
    records
        .iter()
        .filter_map(|r| match r.kind.as_str() {
            "CNAME" | "TXT" => Some(format!(
                "dcv {}: {} {} {}",
                shown(&r.domain),
                shown(&r.name),
                r.kind,
                shown(&r.value)
            )),
            "FILE" => Some(format!(
                "dcv {}: {} containing {}",
                shown(&r.domain),
                shown(&r.url),
                shown(&r.content.replace('\n', " / "))
            )),
            "EMAIL" => Some(format!(
                "dcv {}: the CA mails {}",
                shown(&r.domain),
                shown(&r.value)
            )),
            _ => None,
        })
        .collect()
}

/// The plan as JSON.
pub fn to_json(plan: &Plan) -> Value {
    json!({
        "steps": plan.steps.iter().map(|s| json!({
            "key": s.order.key,
            "action": s.action.as_str(),
            "call": s.action.is_work().then(|| if s.action == Action::UpdateDcv {
                "updateDCV"
            } else {
                s.op.endpoint()
            }),
            "ref_id": s.ref_id,
            "cert_id": s.cert_id,
            "of_cert_id": s.of_cert,
            "product_code": s.order.product_code,
            "years": s.order.years,
            "domains": s.order.domains(),
            "request_sha256": s.request_sha256,
            "price": s.price,
            "changed": s.changed,
            "changes": s.changes.iter().map(|c| json!({
                "field": c.field,
                "from": c.from,
                "to": c.to,
                "carried_by": match c.carrier {
                    super::Carrier::Replace => "replace",
                    super::Carrier::Later => "a later renewal, reissue or replacement",
                    super::Carrier::User => "nothing: see advice",
                },
                "advice": c.advice,
            })).collect::<Vec<_>>(),
            "window_clamped": s.window_clamped,
            "detail": s.detail,
            "dcv": s.dcv,
            "dcv_updates": s.dcv_updates,
        })).collect::<Vec<_>>(),
        "gone": plan.gone,
        "summary": {
            "place": plan.count(Action::Place),
            "renew": plan.count(Action::Renew),
            "reissue": plan.count(Action::Reissue),
            "replace": plan.count(Action::Replace),
            "retry": plan.count(Action::Retry),
            "reconcile": plan.count(Action::Reconcile),
            "nothing": plan.count(Action::Nothing),
            "blocked": plan.count(Action::Blocked),
            "cancelled": plan.count(Action::Cancelled),
            "update_dcv": plan.count(Action::UpdateDcv),
            "awaiting_dcv": plan.count(Action::AwaitingDcv),
            "price": plan.cost().0,
            "unpriced": plan.cost().1,
        },
    })
}

/// The plan as GitHub Actions annotations on the manifests' lines: a notice on each order
/// with work (what is bought, renewed, reissued or replaced), a warning on each order that
/// changed since its certificate was made with nothing to carry the change.
pub fn annotations(plan: &Plan, sources: &crate::source::Sources) -> Vec<String> {
    let mut out = Vec::new();
    for s in &plan.steps {
        let file = sources.get(s.order.file);
        let (line, col) = file.line_col(s.order.span.start);
        let at = crate::shown::At {
            file: Some(&file.display),
            line: Some(line),
            col: Some(col),
        };
        let key = crate::shown::bounded(&s.order.key, 200);
        if s.action.is_work() || s.action == Action::Blocked {
            let price = s.price.filter(|_| s.op.is_paid() && s.action.is_new_call());
            let price = price
                .map(|p| format!(", list price {p:.2}"))
                .unwrap_or_default();
            let level = if s.action == Action::Blocked {
                "warning"
            } else {
                "notice"
            };
            out.push(crate::shown::github_annotation(
                level,
                at,
                &format!("nicsrs-batch: {}", s.action.as_str()),
                &format!("`{key}`: {} ({}{price})", s.action.as_str(), s.detail),
            ));
        }
        if change_left_over(s) {
            let changes: Vec<String> = s.changes.iter().map(|c| c.line()).collect();
            out.push(crate::shown::github_annotation(
                "warning",
                at,
                "nicsrs-batch: changed after it was placed",
                &format!(
                    "`{key}` changed since its certificate {} was made; nothing is ordered again by itself:\n{}",
                    s.cert_id,
                    changes.join("\n")
                ),
            ));
        }
    }
    out
}
