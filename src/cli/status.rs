//! `status`: each key's state from the ledger (its certificate, expiry, days left and next
//! action), with counts.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use super::target::{Target, warn_ledger};
use super::{ApiArgs, Format, ManifestArgs};
use crate::duration::parse_duration;
use crate::error::Error;
use crate::exit::Exit;
use crate::ledger;
use crate::plan::{self, Action};
use crate::validate::Validated;

/// The arguments of `status`.
#[derive(Debug, Args)]
pub struct StatusCommand {
    /// Manifests: the next action is then the plan's (with their renewBefore).
    #[arg(value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Output format (json: one object per key per line, then a summary object).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only certificates that expire within this long (`30d`), per the last refresh.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub expiring: Option<Duration>,
    /// Where orders go: the API, the sandbox, the ledger.
    #[command(flatten)]
    pub api: ApiArgs,
    /// The options of every command that reads manifests.
    #[command(flatten)]
    pub common: ManifestArgs,
}

impl StatusCommand {
    /// Reports every key of the ledger.
    pub fn run(self) -> Result<Exit, Error> {
        let target = self.api.target()?;
        let Ok(manifests) = super::load_optional(&self.paths, &self.common)? else {
            return Ok(Exit::Invalid);
        };
        report(
            &target,
            manifests.as_ref(),
            self.format == Format::Json,
            self.expiring,
        )
    }
}

/// `status`: each key's state from the ledger (its certificate, expiry, days left and next
/// action), with counts. With manifests the next action is the plan's; without, it is
/// judged from the ledger with the default `renewBefore`.
fn report(
    target: &Target,
    manifests: Option<&Validated>,
    json: bool,
    expiring: Option<Duration>,
) -> Result<Exit, Error> {
    // Each key is built, reported and dropped in turn: a ledger of a million rows is
    // never held as rows all at once. The manifests' keys are built first, for the plan.
    if !target.ledger.exists() {
        eprintln!(
            "note: {} does not exist yet: nothing has been applied with it{}",
            target.ledger.display(),
            if manifests.is_some() {
                ""
            } else {
                " (give the manifests to list their orders)"
            }
        );
    }
    // `status` calls nothing: it reads a ledger of either API, saying so when it is not the
    // one the flags name (a sandbox ledger read without --sandbox).
    let mut contents = match ledger::read_unbuilt(&target.ledger, target.api) {
        Err(ledger::LedgerError::OtherApi { found, .. }) => {
            let other = match target.api {
                ledger::Api::Live => ledger::Api::Sandbox,
                ledger::Api::Sandbox => ledger::Api::Live,
            };
            eprintln!(
                "note: ledger {} records {found} orders: shown as they are (no call is made; `apply` and `refresh` on it need {})",
                target.ledger.display(),
                if found == "sandbox" {
                    "--sandbox or a sandbox's --endpoint"
                } else {
                    "the live API"
                }
            );
            ledger::read_unbuilt(&target.ledger, other)?
        }
        other => other?,
    };
    warn_ledger(&target.ledger, &contents.warnings);
    let wanted: std::collections::HashSet<&str> = manifests
        .iter()
        .flat_map(|m| m.orders.iter().map(|o| o.key.as_str()))
        .collect();
    contents.build_only(|k| wanted.contains(k));
    let plan = manifests.map(|m| plan::make(&m.orders, &contents));
    let planned: std::collections::HashMap<&str, &plan::Step> = plan
        .iter()
        .flat_map(|p| p.steps.iter().map(|s| (s.order.key.as_str(), s)))
        .collect();
    let now = crate::lifecycle::now();
    let day = crate::lifecycle::format_day;
    let mut keys: Vec<String> = contents.keys().map(str::to_owned).collect();
    keys.sort_unstable();
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for key in &keys {
        let shown = contents.take_state(key, |s| -> Result<(), Error> {
        // A status row does not change where the order stands; it adds the certificate.
        let state = match (s.last_op, s.current) {
            (Some(row), _) => row.event.as_str(),
            (None, Some(_)) => "adopted",
            (None, None) => "adopting",
        };
        let cert = s
            .current
            .map_or(s.last.cert_id.as_str(), |c| c.cert_id.as_str());
        let (certificate, not_after) = s
            .status
            .map_or(("", ""), |r| (r.status.as_str(), r.not_after.as_str()));
        let days = crate::refresh::days_left(not_after);
        if let Some(window) = expiring {
            let limit = i64::try_from(window.as_secs() / 86_400).unwrap_or(i64::MAX);
            if days.is_none_or(|d| d > limit) {
                return Ok(());
            }
        }
        let (next, why) = match (plan.as_ref(), planned.get(key.as_str())) {
            // Nothing to do until the new certificate's status is known.
            (Some(_), Some(step))
                if step.action == Action::Nothing && s.current.is_some() && s.status.is_none() =>
            {
                ("refresh".into(), step.detail.clone())
            }
            (Some(_), Some(step)) => match step.due_from {
                Some(t) => (format!("nothing until {}", day(t)), step.detail.clone()),
                None => (step.action.as_str().to_owned(), step.detail.clone()),
            },
            (Some(_), None) => ("nothing (in no manifest)".into(), String::new()),
            (None, _) => next_from_ledger(&s, now),
        };
        // Each name's validation, while the certificate is not issued.
        let names = crate::dcv::records::said(&s);
        let verified = names.iter().filter(|n| n.verified == Some(true)).count();
        let validating = !names.is_empty() && !matches!(certificate, "COMPLETE" | "CANCELLED" | "REVOKED" | "EXPIRED" | "REISSUED");
        if json {
            let dcv: Vec<serde_json::Value> = names
                .iter()
                .map(|n| serde_json::json!({"domain": n.domain, "method": n.method, "verified": n.verified == Some(true)}))
                .collect();
            let line = serde_json::json!({"key": key, "state": state, "cert_id": cert, "ref_id": s.last.ref_id,
                "attempts": s.attempts, "time": s.last.time, "code": s.last.code, "message": s.last.message,
                "certificate": certificate, "not_after": not_after, "days_left": days,
                "due_date": s.status.map_or("", |r| r.due_date.as_str()), "next": next, "next_detail": why,
                "dcv": dcv, "dcv_next": if validating { dcv_next(&names) } else { "" }});
            writeln!(out, "{line}").map_err(Error::Output)?;
        } else {
            let mut detail = if cert.is_empty() {
                s.last.message.clone()
            } else {
                cert.to_owned()
            };
            if !certificate.is_empty() {
                detail.push_str(&format!("  {certificate}"));
            }
            if let Some(days) = days {
                detail.push_str(&format!("  expires {not_after} ({days} days)"));
            }
            detail.push_str(&format!("  next: {next}"));
            if validating {
                detail.push_str(&format!(
                    "  names: {verified}/{} verified ({})",
                    names.len(),
                    dcv_next(&names)
                ));
            }
            writeln!(out, "{state:<10} {key:<32} {detail}").map_err(Error::Output)?;
        }
        *counts.entry(state).or_default() += 1;
        Ok(())
        });
        if let Some(result) = shown {
            result?;
        }
    }
    // The manifests' orders the ledger has no row of: not started, with what apply would do.
    if expiring.is_none() {
        let known: std::collections::HashSet<&str> = keys.iter().map(String::as_str).collect();
        for step in plan.iter().flat_map(|p| &p.steps) {
            let key = step.order.key.as_str();
            if known.contains(key) {
                continue;
            }
            let next = step.action.as_str();
            if json {
                let line = serde_json::json!({"key": key, "state": "not-started", "cert_id": "",
                    "next": next, "next_detail": step.detail});
                writeln!(out, "{line}").map_err(Error::Output)?;
            } else {
                writeln!(out, "{:<10} {key:<32} next: {next}", "not-started")
                    .map_err(Error::Output)?;
            }
            *counts.entry("not-started").or_default() += 1;
        }
    }
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"counts": counts, "keys": counts.values().sum::<usize>(), "ledger": target.ledger})
        )
        .map_err(Error::Output)?;
    } else {
        let list: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
        writeln!(
            out,
            "{} keys in {}: {}",
            counts.values().sum::<usize>(),
            target.ledger.display(),
            if list.is_empty() {
                "none".into()
            } else {
                list.join(", ")
            }
        )
        .map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(Exit::Ok)
}

/// What a certificate being validated waits for: names to publish (`nicsrs-batch dcv`
/// says what), approvers to click, or the CA.
fn dcv_next(names: &[crate::dcv::NameDcv]) -> &'static str {
    let waiting = names.iter().filter(|n| n.verified != Some(true));
    let (mut publish, mut approve) = (false, false);
    for n in waiting {
        if n.method.eq_ignore_ascii_case("EMAIL") {
            approve = true;
        } else {
            publish = true;
        }
    }
    match (publish, approve) {
        (true, true) => {
            "publish the records `nicsrs-batch dcv` lists; approvers click the CA's mail"
        }
        (true, false) => "publish the records `nicsrs-batch dcv` lists",
        (false, true) => "approvers click the CA's mail",
        (false, false) => "every name is validated: wait for the CA",
    }
}

/// The next action of a key judged from the ledger alone, with the default window.
fn next_from_ledger(s: &ledger::KeyState, now: i64) -> (String, String) {
    use crate::lifecycle::{self, Due};
    let day = lifecycle::format_day;
    if let Some(open) = s.open_call() {
        let last = s.last_op.unwrap_or(open);
        return match last.event {
            ledger::Event::Failed => ("retry or blocked".into(), last.message.clone()),
            _ => (
                "reconcile".into(),
                "the last call's outcome is unknown".into(),
            ),
        };
    }
    let Some(status) = s.status else {
        return match s.current {
            Some(_) => ("refresh".into(), "its status is not recorded yet".into()),
            None => ("nothing".into(), String::new()),
        };
    };
    match status.status.as_str() {
        "COMPLETE" => {}
        "CANCELLED" | "FAILED" | "REISSUED" => return ("nothing".into(), status.status.clone()),
        other => return ("refresh".into(), format!("waiting for issuance ({other})")),
    }
    let window = lifecycle::RenewBefore::default();
    let dates = lifecycle::Dates {
        not_before: &status.not_before,
        not_after: &status.not_after,
        due_date: &status.due_date,
    };
    match lifecycle::decide(dates, window, now).0 {
        Due::Renew { due } => ("renew".into(), format!("subscription ends {}", day(due))),
        Due::RenewLater { opens, .. } => (format!("renew from {}", day(opens)), String::new()),
        Due::Reissue { not_after, .. } => (
            "reissue".into(),
            format!("certificate expires {}", day(not_after)),
        ),
        Due::Valid { window_opens, .. } => (
            format!("nothing until {}", day(window_opens)),
            format!("renewBefore {window} (the default; pass the manifests for theirs)"),
        ),
        Due::Unknown => ("refresh".into(), "its dates are not recorded".into()),
    }
}
