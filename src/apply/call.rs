//! One call: a job carried out, start to end, through lookups, the paid call, retries and
//! reconciliation.

use super::*;

/// What a reconciliation found.
#[derive(Clone, Debug)]
pub(super) enum Lookup {
    Found(String),
    NotFound,
    Unclear(String),
}

/// What one paid call came to.
pub(super) enum Sent {
    /// Done: the certId, and the `dcv` cell of what the reply says to publish.
    Placed(String, String),
    Refused {
        code: Option<i64>,
        message: String,
        stop_all: bool,
    },
    Unknown {
        code: Option<i64>,
        message: String,
    },
}

/// One job, start to end. Its last row carries its final outcome. Returns `false` when
/// the run stopped before the job started (it wrote nothing).
pub(super) async fn carry_out(ctx: &Ctx, mut job: Job) -> bool {
    if job.action == Action::UpdateDcv {
        return super::update_dcv::carry_out(ctx, &job).await;
    }
    let api = ctx.options.api;
    // The `request_fields` of its rows, worked out here rather than in the plan: off the
    // path to the first call.
    if let Some(basis) = job.fields_basis.take() {
        job.request_fields = basis.cell();
    } else if job.op == Op::Place
        && job.request_fields.is_empty()
        && let Some(params) = &job.params
    {
        let fields = crate::expand::field_hashes(params, &job.product_code, job.years);
        job.request_fields = crate::expand::fields_cell(&fields);
    }
    let mut attempt = job.attempts;
    // Every new call is first looked up by its refId: the ledger lives in Git and can lose
    // rows (a push that was rejected), and a call it does not record may have gone through.
    // Asking costs one free call. An unknown outcome is always looked up.
    let mut reconcile =
        job.action == Action::Reconcile || !ctx.options.trust_ledger || job.must_look_up;
    // Whether the ledger already has this call's write-ahead row: every `failed` or
    // `unknown` row must follow one, which is how `plan` knows what call it was about.
    let mut opened = job.action == Action::Reconcile;
    let mut unknown_rounds = 0;
    // The last call answered -2: if the lookup then finds nothing, it counts towards
    // stopping the run.
    let mut after_minus_2 = false;
    // NicSRS answered success without a readable certId (this run or an earlier one): it
    // did something, so the call is never sent again on a "not found".
    let mut answered_success = !job.resend;
    // The first lookup may have been sent ahead, while the manifests were validated.
    let mut first = true;
    loop {
        if reconcile {
            let found = if first {
                ctx.session.first_lookup(&job.ref_id).await
            } else {
                lookup(&ctx.session, &job.ref_id).await
            };
            first = false;
            match found {
                Lookup::Found(cert_id) => {
                    ctx.unknown_not_found.store(0, Ordering::SeqCst);
                    let message = if opened {
                        "found by refId: the earlier call went through"
                    } else {
                        "found by refId before sending: an earlier call the ledger does not record went through"
                    };
                    if attempt == job.attempts && !job.sent_fields.is_empty() {
                        // Sent by an earlier run, perhaps from an older manifest.
                        job.request_fields = std::mem::take(&mut job.sent_fields);
                    } else if !opened && job.op != Op::Reissue {
                        // Made by a call the ledger lost: what it holds is read from NicSRS.
                        let (fields, names) = held_fields(ctx, &cert_id, &job).await;
                        job.request_fields = fields;
                        // Not known to be this request: compared field by field instead.
                        job.request_sha256 = String::new();
                        if let Some(names) = names {
                            job.domains = names;
                        }
                    }
                    let row = job.done(api, attempt, &cert_id, message);
                    return ctx.end(row, Final::Found).await;
                }
                Lookup::NotFound if answered_success => {
                    let row = job.row(
                        api,
                        Event::Unknown,
                        attempt,
                        Some(Code::Success.value()),
                        "",
                        "NicSRS answered success without a certId, and its refId is not found: not sent again; check the order in NicSRS's portal",
                    );
                    return ctx.end(row, Final::Unknown).await;
                }
                Lookup::NotFound => {
                    if after_minus_2 && job.op == Op::Place {
                        let streak = ctx.unknown_not_found.fetch_add(1, Ordering::SeqCst) + 1;
                        if streak >= UNKNOWN_NOT_FOUND_STREAK {
                            ctx.stop_because(format!(
                                "stopped: {streak} placements in a row answered -2 (unknown error) and were then not found by refId; NicSRS may be refusing orders (one client saw -2 for an empty balance): check the account, then run apply again"
                            ));
                        }
                    }
                }
                Lookup::Unclear(why) => {
                    let message = if opened {
                        format!("still unknown: {why}")
                    } else {
                        // Not sent: whether an earlier call went through could not be
                        // checked. The next run asks again before sending.
                        let open = job.row(api, job.op.write_ahead(), attempt, None, "", "");
                        ctx.record(open, None, false).await;
                        format!("not sent: the check by refId before sending failed: {why}")
                    };
                    let row = job.row(api, Event::Unknown, attempt, None, "", &message);
                    return ctx.end(row, Final::Unknown).await;
                }
            }
        }
        if ctx.stopping() {
            if reconcile && opened {
                // Known not placed, and no new call may start: leave it for the next run.
                let row = job.row(
                    api,
                    Event::Failed,
                    attempt,
                    None,
                    "",
                    "not placed (checked by refId); not sent again because the run stopped",
                );
                return ctx.end(row, Final::Failed).await;
            }
            return false;
        }
        if let Some(order) = job.held_csr.take() {
            // Renewed with the CSR NicSRS holds for a certificate whose key it generated.
            match read_held_csr(ctx, &job.of_cert, &order).await {
                Ok(csr) => {
                    let params = order.renewal_params_with(&csr);
                    job.request_sha256 = crate::expand::request_sha256(
                        "renew",
                        &[
                            ("params", &params),
                            ("refId", &job.ref_id),
                            ("renewId", &job.of_cert),
                            ("years", &job.years.to_string()),
                        ],
                    );
                    job.params = Some(params);
                }
                Err(message) => {
                    let open = job.row(api, job.op.write_ahead(), attempt, None, "", "");
                    ctx.record(open, None, false).await;
                    let row = job.row(api, Event::Failed, attempt, None, "", &message);
                    return ctx.end(row, Final::Failed).await;
                }
            }
        }
        attempt += 1;
        let submitting = job.row(api, job.op.write_ahead(), attempt, None, "", "");
        if !ctx.record(submitting, None, true).await {
            ctx.stop_because("the ledger cannot be written".into());
            return false;
        }
        opened = true;
        match send(ctx, &job).await {
            Sent::Placed(cert_id, dcv) => {
                ctx.unknown_not_found.store(0, Ordering::SeqCst);
                let mut row = job.done(api, attempt, &cert_id, "");
                row.dcv = dcv;
                return ctx.end(row, Final::Placed).await;
            }
            Sent::Refused {
                code,
                message,
                stop_all,
            } => {
                if stop_all {
                    ctx.stop_because(format!("stopped: {message}"));
                }
                let row = job.row(api, Event::Failed, attempt, code, "", &message);
                return ctx.end(row, Final::Failed).await;
            }
            Sent::Unknown { code, message } => {
                unknown_rounds += 1;
                after_minus_2 = code == Some(Code::Unknown.value());
                answered_success |= code == Some(Code::Success.value());
                // Each unknown outcome is looked up again after a wait, and resent if it
                // went nowhere, a bounded number of times.
                let rounds = Retry {
                    tries: UNKNOWN_ROUNDS,
                    base: ctx.options.reconcile_delay,
                };
                let give_up = unknown_rounds >= rounds.tries;
                let row = job.row(api, Event::Unknown, attempt, code, "", &message);
                ctx.record(row, give_up.then_some(Final::Unknown), false)
                    .await;
                if give_up {
                    return true;
                }
                tokio::time::sleep(rounds.backoff(unknown_rounds, &ctx.session.pacer)).await;
                reconcile = true;
            }
        }
    }
}

/// The `request_fields` of a certificate found by refId that the ledger did not record: the
/// job's own, with `csr` and `domainInfo` as NicSRS holds them (collect's `applyParams`), so
/// that a CSR or names changed since show as a change. When collect cannot answer, the
/// fields are left empty: unknown, never taken for the manifest's. Also returns the names
/// NicSRS holds, space-separated, for the ledger's `domains`.
async fn held_fields(ctx: &Ctx, cert_id: &str, job: &Job) -> (String, Option<String>) {
    match crate::refresh::collect(&ctx.session.client, &ctx.session.pacer, cert_id).await {
        Ok((_, c)) => crate::refresh::held_fields(&job.request_fields, &c),
        Err(_) => (String::new(), None),
    }
}

/// The CSR NicSRS holds for `cert_id` (collect's `applyParams.csr`), checked to be a CSR
/// for the order's names, or why it cannot be used: the message of the `failed` row
/// (nothing was sent).
async fn read_held_csr(ctx: &Ctx, cert_id: &str, order: &ExpandedOrder) -> Result<String, String> {
    let collected = crate::refresh::collect(&ctx.session.client, &ctx.session.pacer, cert_id)
        .await
        .map_err(|why| {
            format!("not sent: the CSR NicSRS holds for {cert_id} could not be read: {why}")
        })?;
    let Some(csr) = collected.1.apply_csr else {
        return Err(format!(
            "{NO_CSR_HELD} {cert_id} (collect's applyParams has none), and the order has none"
        ));
    };
    let info = crate::csr::inspect(&csr)
        .map_err(|e| format!("{NO_CSR_HELD} {cert_id}: the one it returned is unusable ({e})"))?;
    if let Some(problem) = crate::csr::key_problem(&info.key) {
        return Err(format!(
            "{NO_CSR_HELD} {cert_id}: the one it returned is unusable ({problem})"
        ));
    }
    let names = info.names();
    let mut wanted: Vec<String> = order
        .domains
        .iter()
        .map(|d| d.to_ascii_lowercase())
        .collect();
    wanted.sort();
    wanted.dedup();
    if names != wanted {
        return Err(format!(
            "{NO_CSR_HELD} {cert_id} for the order's names: it names {}, the order {}",
            names.join(" "),
            wanted.join(" ")
        ));
    }
    Ok(csr)
}

/// One paid call, resent only while it is certain that nothing was processed.
async fn send(ctx: &Ctx, job: &Job) -> Sent {
    let years = job.years.to_string();
    let fields = job.fields(&years);
    let (mut not_sent, mut throttled) = (0, 0);
    loop {
        ctx.session.pacer.wait().await;
        match ctx.session.client.call(job.op.endpoint(), &fields).await {
            CallOutcome::Reply(reply) => return judge(&reply, job),
            CallOutcome::NotSent(why) => {
                not_sent += 1;
                if not_sent >= NOT_SENT.tries {
                    return Sent::Refused {
                        code: None,
                        message: format!("not sent: {why}"),
                        stop_all: false,
                    };
                }
                tokio::time::sleep(NOT_SENT.backoff(not_sent, &ctx.session.pacer)).await;
            }
            CallOutcome::Throttled(wait) => {
                throttled += 1;
                if throttled >= THROTTLED.tries {
                    return Sent::Refused {
                        code: None,
                        message: "not processed: the API kept answering 429/503".into(),
                        stop_all: false,
                    };
                }
                ctx.session.pacer.pause(
                    wait.unwrap_or_else(|| THROTTLED.backoff(throttled.min(5), &ctx.session.pacer)),
                );
            }
            CallOutcome::Rejected(why) => {
                return Sent::Refused {
                    code: None,
                    message: format!("not processed: {why}"),
                    stop_all: true,
                };
            }
            CallOutcome::Ambiguous(why) => {
                return Sent::Unknown {
                    code: None,
                    message: why,
                };
            }
        }
    }
}

/// What a reply to a paid call means (see [`read::paid`]).
fn judge(reply: &Reply, job: &Job) -> Sent {
    match read::paid(reply) {
        Paid::Done(id) => {
            let names = crate::dcv::names::from_reply(reply.data.as_ref(), job.names());
            Sent::Placed(id, crate::dcv::names::cell(&names))
        }
        Paid::Refused { stop_all } => Sent::Refused {
            code: Some(reply.code),
            message: reply.message(),
            stop_all,
        },
        Paid::Unknown if reply.known_code() == Some(Code::Success) => Sent::Unknown {
            code: Some(reply.code),
            message: "success without a certId".into(),
        },
        Paid::Unknown => Sent::Unknown {
            code: Some(reply.code),
            message: reply.message(),
        },
    }
}
