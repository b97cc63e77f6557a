//! `plan`, `apply` and `status`: the stages wired together for the command line.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::client::{self, Client, Timeouts, Token};
use crate::error::Error;
use crate::exit::Exit;
use crate::ledger::{self, Api};
use crate::plan::{self, Action};
use crate::report::{self, JsonReporter, TextReporter};
use crate::runner::{self, Job, Reporter};
use crate::sandbox::{self, Sandbox};
use crate::validate::Outcome;

/// Where orders go and where they are recorded.
#[derive(Clone, Debug)]
pub struct Target {
    /// Live or sandbox.
    pub api: Api,
    /// The ledger file.
    pub ledger: PathBuf,
    /// The API base URL; `None` for the embedded sandbox, started on demand.
    pub endpoint: Option<String>,
}

impl Target {
    /// Resolves `--sandbox`, `--endpoint` / `NICSRS_ENDPOINT` and `--ledger`. A loopback
    /// endpoint is a sandbox: its orders never share a ledger with live ones.
    pub fn resolve(
        sandbox: bool,
        endpoint: Option<&str>,
        ledger: Option<&Path>,
    ) -> Result<Target, Error> {
        let env_endpoint = std::env::var("NICSRS_ENDPOINT")
            .ok()
            .filter(|e| !e.is_empty());
        let (api, endpoint) = if sandbox {
            if endpoint.is_some() {
                return Err(Error::Usage(
                    "--sandbox and --endpoint exclude each other".into(),
                ));
            }
            (Api::Sandbox, None)
        } else {
            let url = endpoint
                .map(str::to_owned)
                .or(env_endpoint)
                .unwrap_or_else(|| client::LIVE_ENDPOINT.into());
            let (base, loopback) = client::check_endpoint(&url)?;
            (if loopback { Api::Sandbox } else { Api::Live }, Some(base))
        };
        let ledger = ledger.map(Path::to_owned).unwrap_or_else(|| {
            PathBuf::from(match api {
                Api::Live => ledger::DEFAULT_PATH,
                Api::Sandbox => ledger::DEFAULT_SANDBOX_PATH,
            })
        });
        Ok(Target {
            api,
            ledger,
            endpoint,
        })
    }

    /// Where the embedded sandbox keeps its orders: beside the ledger.
    pub fn sandbox_state(&self) -> PathBuf {
        self.ledger.with_extension("state.json")
    }
}

/// What `apply` is asked to do.
#[derive(Clone, Debug)]
pub struct ApplyArgs {
    /// Where.
    pub target: Target,
    /// The token file, when not from the environment.
    pub token_file: Option<PathBuf>,
    /// Calls in flight.
    pub concurrency: usize,
    /// Calls per second.
    pub rate: Option<f64>,
    /// Refuse a plan that pays for more orders.
    pub max_orders: Option<usize>,
    /// Skip the confirmation.
    pub yes: bool,
    /// JSON lines instead of text.
    pub json: bool,
    /// HTTP timeouts.
    pub timeouts: Timeouts,
    /// Wait before reconciling an unknown outcome.
    pub reconcile_delay: Duration,
    /// Skip the lookup by refId before each new call (the ledger is known complete).
    pub trust_ledger: bool,
}

/// `plan`: what apply would do. With `detailed`, exit 4 when there is work.
pub fn plan(outcome: &Outcome, target: &Target, json: bool, detailed: bool) -> Result<Exit, Error> {
    let mut contents = ledger::read_unbuilt(&target.ledger, target.api)?;
    warn_ledger(&target.ledger, &contents.warnings);
    // Only the manifests' keys are decided: the rest of a large ledger is never built.
    let wanted: std::collections::HashSet<&str> =
        outcome.orders.iter().map(|o| o.key.as_str()).collect();
    contents.build_only(|k| wanted.contains(k));
    contents.forget_unbuilt();
    let plan = plan::make(&outcome.orders, &contents);
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{:#}", plan::to_json(&plan)).map_err(Error::Output)?;
    } else {
        write!(out, "{}", plan::render(&plan, &outcome.sources)).map_err(Error::Output)?;
    }
    Ok(if detailed && plan.has_work() {
        Exit::Pending
    } else {
        Exit::Ok
    })
}

fn warn_ledger(path: &Path, warnings: &[String]) {
    for w in warnings {
        eprintln!("warning: ledger {}: {w}", path.display());
    }
}

/// `apply`: the plan, a confirmation, then every order carried out exactly once.
pub async fn apply(outcome: &Outcome, args: ApplyArgs) -> Result<Exit, Error> {
    let target = &args.target;
    // Read before the ledger is touched: a missing token stops the run with nothing written.
    let token = token_for(target, args.token_file.as_deref())?;
    let (writer, contents) = ledger::Writer::open(&target.ledger, target.api)?;
    warn_ledger(&target.ledger, &contents.warnings);
    let plan = plan::make(&outcome.orders, &contents);
    // A cancelled order is as stuck as a refused one: the manifest asks for what cannot be.
    let (already, blocked) = (
        plan.count(Action::Nothing),
        plan.count(Action::Blocked) + plan.count(Action::Cancelled),
    );
    let ledger_name = target.ledger.display().to_string();
    if args.json {
        println!("{}", serde_json::json!({"plan": plan::to_json(&plan)}));
    } else {
        print!("{}", plan::render(&plan, &outcome.sources));
    }
    if !plan.has_work() {
        // A script reading the summary finds one on every run, the second as the first.
        if args.json {
            println!(
                "{}",
                report::summary_json(&runner::Summary::default(), already, blocked, &ledger_name)
            );
        } else {
            println!("Nothing to do.");
        }
        return Ok(if blocked > 0 {
            Exit::Incomplete
        } else {
            Exit::Ok
        });
    }
    // A refusal still ends the JSON lines with a summary, saying why nothing was done.
    let refused = |message: String| {
        if args.json {
            let summary = runner::Summary {
                not_started: plan.steps.iter().filter(|s| s.action.is_work()).count() as u64,
                stopped: Some(message.clone()),
                ..runner::Summary::default()
            };
            println!(
                "{}",
                report::summary_json(&summary, already, blocked, &ledger_name)
            );
        }
        Error::Usage(message)
    };
    let (may_pay, resent) = plan.calls_that_may_pay();
    if let Some(max) = args.max_orders
        && may_pay > max
    {
        let orders = crate::shown::counted(may_pay as u64, "order");
        let reconciles = match resent {
            0 => String::new(),
            1 => {
                " (one of them a reconcile, which sends its call again if NicSRS has no such order)"
                    .into()
            }
            n => format!(
                " ({n} of them reconciles, which send their call again if NicSRS has no such order)"
            ),
        };
        return Err(refused(format!(
            "refusing: the plan would place, renew, reissue or replace {orders}{reconciles}, more than --max-orders {max}"
        )));
    }
    if !args.yes {
        confirm(&plan, target).map_err(|e| match e {
            Error::Usage(message) => refused(message),
            other => other,
        })?;
    }
    let (client, embedded) = connect(target, token, args.timeouts).await?;
    let jobs = Job::from_plan(&plan, &outcome.sources);
    let reporter: Box<dyn Reporter> = if args.json {
        Box::new(JsonReporter::default())
    } else {
        let width = jobs.iter().map(|j| j.key.len()).max().unwrap_or(0);
        Box::new(TextReporter::new(
            jobs.len(),
            width,
            std::io::stderr().is_terminal(),
        ))
    };
    let options = runner::Options {
        concurrency: args.concurrency,
        rate: args.rate,
        api: target.api,
        reconcile_delay: args.reconcile_delay,
        trust_ledger: args.trust_ledger,
    };
    let summary = runner::run(jobs, client, writer, reporter, options).await;
    if let Some(s) = embedded {
        s.stop().await?;
    }
    let summary = summary?;
    if args.json {
        println!(
            "{}",
            report::summary_json(&summary, already, blocked, &ledger_name)
        );
    } else {
        print!(
            "{}",
            report::summary_text(&summary, already, blocked, &ledger_name)
        );
    }
    Ok(if summary.interrupted {
        Exit::Interrupted
    } else if summary.failed + summary.unknown + summary.not_started > 0 || blocked > 0 {
        Exit::Incomplete
    } else {
        Exit::Ok
    })
}

/// Asks on the terminal; refuses when there is none.
fn confirm(plan: &plan::Plan, target: &Target) -> Result<(), Error> {
    if !std::io::stdin().is_terminal() {
        return Err(Error::Usage(
            "refusing to apply without --yes: standard input is not a terminal to confirm on"
                .into(),
        ));
    }
    let place = match &target.endpoint {
        Some(e) => e.clone(),
        None => "the embedded sandbox".into(),
    };
    eprint!(
        "\nApply this plan? It may place, renew, reissue or replace {} order(s) at {place} ({} API). Type `yes` to go on: ",
        plan.calls_that_may_pay().0,
        target.api.as_str()
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(Error::Output)?;
    if matches!(answer.trim(), "yes" | "y") {
        Ok(())
    } else {
        Err(Error::Usage("not applied".into()))
    }
}

/// The token for `target`: from the environment or `token_file`; none for the embedded
/// sandbox, which has its own.
fn token_for(target: &Target, token_file: Option<&Path>) -> Result<Option<Token>, Error> {
    match target.endpoint {
        Some(_) => {
            let (token, warning) = Token::from_env_or_file(token_file)?;
            if let Some(w) = warning {
                eprintln!("warning: {w}");
            }
            Ok(Some(token))
        }
        None => Ok(None),
    }
}

/// The API a command talks to: the endpoint with `token`, or the embedded sandbox
/// (returned too, to be stopped when the command is done).
async fn connect(
    target: &Target,
    token: Option<Token>,
    timeouts: Timeouts,
) -> Result<(Client, Option<Sandbox>), Error> {
    match (&target.endpoint, token) {
        (Some(endpoint), Some(token)) => Ok((Client::new(endpoint, token, timeouts)?, None)),
        (Some(_), None) => Err(Error::Usage("no API token".into())),
        (None, _) => {
            let config = sandbox::Config {
                state: Some(target.sandbox_state()),
                ..sandbox::Config::default()
            };
            let s = Sandbox::start(config, ([127, 0, 0, 1], 0).into()).await?;
            let client = Client::new(&s.url(), Token::new(s.token()), timeouts)?;
            Ok((client, Some(s)))
        }
    }
}

/// `products`: the account's catalogue from `/ssl/productList`.
pub async fn products(
    target: &Target,
    token_file: Option<&Path>,
    vendors: &[String],
    output: Option<&Path>,
) -> Result<Exit, Error> {
    let token = token_for(target, token_file)?;
    let (client, embedded) = connect(target, token, Timeouts::default()).await?;
    let fetched = crate::products::fetch(&client, vendors).await;
    if let Some(s) = embedded {
        s.stop().await?;
    }
    let products = fetched.map_err(|e| Error::Usage(e.to_string()))?;
    let json = serde_json::to_string_pretty(&products).map_err(|e| Error::Usage(e.to_string()))?;
    match output {
        Some(path) => {
            crate::atomic::write(path, format!("{json}\n").as_bytes(), 0o644).map_err(
                |source| Error::Read {
                    path: path.to_owned(),
                    source,
                },
            )?;
            print!("{}", crate::products::table(&products));
            println!(
                "{} products written to {} (use it with --catalog)",
                products.len(),
                path.display()
            );
        }
        None => println!("{json}"),
    }
    Ok(Exit::Ok)
}

/// What `refresh` is asked to do.
#[derive(Clone, Copy, Debug)]
pub struct RefreshArgs<'a> {
    /// The token file, when not from the environment.
    pub token_file: Option<&'a Path>,
    /// Where to write certificates and generated keys.
    pub out_dir: Option<&'a Path>,
    /// Calls in flight.
    pub concurrency: usize,
    /// Calls per second.
    pub rate: Option<f64>,
    /// JSON lines instead of text.
    pub json: bool,
    /// Report on stderr (the first step of `plan`/`apply --refresh`).
    pub to_stderr: bool,
}

/// `refresh`: collect every certificate that is not final, record what NicSRS says, and
/// with `out_dir` write the issued certificates and generated keys. Exit 3 when a collect
/// failed.
pub async fn refresh(
    target: &Target,
    manifests: Option<&Outcome>,
    args: RefreshArgs<'_>,
) -> Result<Exit, Error> {
    let RefreshArgs {
        token_file,
        out_dir,
        concurrency,
        rate,
        json,
        to_stderr,
    } = args;
    let (mut writer, contents) = ledger::Writer::open(&target.ledger, target.api)?;
    warn_ledger(&target.ledger, &contents.warnings);
    let adopt = manifests.map_or(&[][..], |m| m.orders.as_slice());
    let jobs = crate::refresh::jobs(&contents, target.api, out_dir, adopt, |o| {
        manifests.map_or(String::new(), |m| m.sources.get(o.file).display.clone())
    });
    if jobs.is_empty() {
        if json {
            let line = serde_json::json!({"summary": {}, "ledger": target.ledger});
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        } else {
            let line = format!(
                "Nothing to refresh: every certificate in {} is final.",
                target.ledger.display()
            );
            if to_stderr {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
        return Ok(Exit::Ok);
    }
    let width = jobs
        .iter()
        .map(|j| j.row.key.len())
        .max()
        .unwrap_or(0)
        .min(40);
    let token = token_for(target, token_file)?;
    let (client, embedded) = connect(target, token, Timeouts::default()).await?;
    let mut results = crate::refresh::spawn(client, jobs, concurrency, rate);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    let mut failures = 0;
    // As the first step of `plan`/`apply --refresh`, the report goes to stderr so that their
    // own output (possibly JSON) stays clean.
    let mut out: Box<dyn Write> = if to_stderr {
        Box::new(std::io::BufWriter::new(std::io::stderr()))
    } else {
        Box::new(std::io::BufWriter::new(std::io::stdout()))
    };
    while let Some(mut done) = results.recv().await {
        let mut row = crate::refresh::status_row(&done.job, &done.result);
        writer.append(&row)?;
        if let Some(found) = done.found.take() {
            // A reissue or replacement the ledger lost: recorded, and what collect says of
            // the new certificate is this key's report (and its files).
            let [call, status] = crate::refresh::found_rows(&done.job, &found);
            writer.append(&call)?;
            writer.append(&status)?;
            row = status;
            done.result = found.result;
        }
        let mut files = Vec::new();
        let mut error: Option<String> = None;
        match &done.result {
            Ok((_, collected)) => {
                *counts.entry(collected.status.clone()).or_default() += 1;
                if let Some(dir) = out_dir {
                    match crate::refresh::write_files(dir, &row.key, &row.cert_id, collected) {
                        Ok(written) => files = written,
                        Err(e) => {
                            failures += 1;
                            *counts.entry("not written".into()).or_default() += 1;
                            let message = crate::shown::bounded(
                                &format!("cannot write its files: {e}"),
                                crate::shown::MESSAGE_CHARS,
                            );
                            eprintln!("error: {}: {message}", row.key);
                            error = Some(message);
                        }
                    }
                }
            }
            Err(_) => {
                failures += 1;
                *counts.entry("error".into()).or_default() += 1;
                error = Some(row.message.clone());
            }
        }
        if json {
            let line = serde_json::json!({"key": row.key, "cert_id": row.cert_id, "status": row.status,
                "not_before": row.not_before, "not_after": row.not_after, "due_date": row.due_date,
                "message": row.message, "files": files, "error": error});
            writeln!(out, "{line}").map_err(Error::Output)?;
        } else {
            let detail = match (&done.result, crate::refresh::days_left(&row.not_after)) {
                (Err(_), _) => row.message.clone(),
                (Ok(_), Some(days)) => {
                    format!("{}  expires {} ({days} days)", row.cert_id, row.not_after)
                }
                (Ok(_), None) => row.cert_id.clone(),
            };
            let status = if row.status.is_empty() {
                "error"
            } else {
                row.status.as_str()
            };
            writeln!(out, "{status:<10} {:<width$}  {detail}", row.key).map_err(Error::Output)?;
        }
    }
    writer.sync()?;
    if let Some(s) = embedded {
        s.stop().await?;
    }
    let list: Vec<String> = counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"summary": counts, "ledger": target.ledger})
        )
        .map_err(Error::Output)?;
    } else {
        writeln!(out, "Refreshed: {}.", list.join(", ")).map_err(Error::Output)?;
    }
    out.flush().map_err(Error::Output)?;
    Ok(if failures > 0 {
        Exit::Incomplete
    } else {
        Exit::Ok
    })
}

/// `status`: each key's state from the ledger (its certificate, expiry, days left and next
/// action), with counts. With manifests the next action is the plan's; without, it is
/// judged from the ledger with the default `renewBefore`.
pub fn status(
    target: &Target,
    manifests: Option<&Outcome>,
    json: bool,
    expiring: Option<Duration>,
) -> Result<Exit, Error> {
    // Each key is built, reported and dropped in turn: a ledger of a million rows is
    // never held as rows all at once. The manifests' keys are built first, for the plan.
    let mut contents = ledger::read_unbuilt(&target.ledger, target.api)?;
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
        if json {
            let line = serde_json::json!({"key": key, "state": state, "cert_id": cert, "ref_id": s.last.ref_id,
                "attempts": s.attempts, "time": s.last.time, "code": s.last.code, "message": s.last.message,
                "certificate": certificate, "not_after": not_after, "days_left": days,
                "due_date": s.status.map_or("", |r| r.due_date.as_str()), "next": next, "next_detail": why});
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
            writeln!(out, "{state:<10} {key:<32} {detail}").map_err(Error::Output)?;
        }
        *counts.entry(state).or_default() += 1;
        Ok(())
        });
        if let Some(result) = shown {
            result?;
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
