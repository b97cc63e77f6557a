//! An `update-dcv` job: `/ssl/updateDCV` for each name of a pending order whose validation
//! the manifest changed. The call is free and idempotent (telling NicSRS a name's method
//! again changes nothing), so an unclear outcome is simply asked again; each call gets a
//! ledger row, like every other call.

use super::*;
use crate::dcv::NameDcv;
use crate::dcv::names;

/// What one updateDCV call came to: its code (none when no reply was read), a message,
/// and the name's `dcv` cell when it was done.
struct Updated {
    code: Option<i64>,
    message: String,
    dcv: String,
}

/// Carries the job out. Returns `false` when the run stopped before it started.
pub(super) async fn carry_out(ctx: &Ctx, job: &Job) -> bool {
    if ctx.stopping() {
        return false;
    }
    let multi = job.domains.split_whitespace().count() > 1;
    let mut failed = false;
    let count = job.dcv_updates.len();
    for (i, name) in job.dcv_updates.iter().enumerate() {
        let done = send(ctx, job, name, multi).await;
        failed |= done.code != Some(Code::Success.value());
        let mut row = job.row(
            ctx.options.api,
            Event::UpdateDcv,
            job.attempts,
            done.code,
            &job.of_cert,
            &done.message,
        );
        row.dcv = done.dcv;
        if i + 1 == count {
            let end = if failed { Final::Failed } else { Final::Placed };
            return ctx.end(row, end).await;
        }
        ctx.record(row, None, false).await;
    }
    true
}

/// One call, asked again while its outcome is unclear (at most [`Retry::FREE_CALL`]).
async fn send(ctx: &Ctx, job: &Job, name: &NameDcv, multi: bool) -> Updated {
    let method = name.method.to_ascii_uppercase();
    let mut fields = vec![
        ("certId", job.of_cert.as_str()),
        ("dcvMethod", method.as_str()),
    ];
    if method == "EMAIL" {
        fields.push(("dcvEmail", name.email.as_str()));
    }
    if multi {
        fields.push(("domainName", name.domain.as_str()));
    }
    let what = format!("{} {method}", name.domain);
    let retry = Retry::FREE_CALL;
    let mut last = String::new();
    for attempt in retry.attempts() {
        retry.before(attempt, &ctx.session.pacer).await;
        ctx.session.pacer.wait().await;
        match ctx.session.client.call("updateDCV", &fields).await {
            CallOutcome::Reply(reply) if reply.known_code() == Some(Code::Success) => {
                let asked = NameDcv {
                    method: method.clone(),
                    ..name.clone()
                };
                let mut said = names::from_reply(reply.data.as_ref(), vec![asked.clone()]);
                said.retain(|n| n.domain.eq_ignore_ascii_case(&name.domain));
                if said.is_empty() {
                    said.push(asked);
                }
                return Updated {
                    code: Some(reply.code),
                    message: format!("dcv of {what}: updated"),
                    dcv: names::cell(&said),
                };
            }
            CallOutcome::Reply(reply) if reply.known_code() != Some(Code::Unknown) => {
                return Updated {
                    code: Some(reply.code),
                    message: format!("dcv of {what}: {}", reply.message()),
                    dcv: String::new(),
                };
            }
            CallOutcome::Reply(reply) => last = reply.message(),
            CallOutcome::Throttled(wait) => {
                ctx.session
                    .pacer
                    .pause(wait.unwrap_or(Duration::from_secs(1)));
                last = "throttled".into();
            }
            CallOutcome::NotSent(why)
            | CallOutcome::Ambiguous(why)
            | CallOutcome::Rejected(why) => {
                last = why;
            }
        }
    }
    Updated {
        code: None,
        message: format!("dcv of {what}: not done ({last}); the next run sends it again"),
        dcv: String::new(),
    }
}
