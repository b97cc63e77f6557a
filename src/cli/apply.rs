//! `apply`: the plan, a confirmation, then every order carried out exactly once.

use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::flags::{parse_connect_timeout, parse_reconcile_delay, parse_request_timeout};
use super::target::{Target, connect, token_for, warn_ledger};
use super::{ApiArgs, Format, ManifestArgs, TokenArgs, WorkerArgs};
use crate::apply::{self, Job, Reporter, Session};
use crate::error::Error;
use crate::exit::Exit;
use crate::expand::ExpandedOrder;
use crate::ledger;
use crate::nicsrs::client::{Client, Timeouts};
use crate::plan::{self, Action};
use crate::report::{self, JsonReporter, TextReporter};
use crate::validate::Validated;

/// Writes a line to stdout; a closed stdout (`| head`) is not an error for `apply`: the
/// run goes on and the ledger records it (a panic here would end it mid-run).
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// [`say!`] without the line break.
macro_rules! say_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// The arguments of `apply`.
#[derive(Debug, Args)]
pub struct ApplyCommand {
    /// Manifest files, or directories searched for *.yaml and *.yml; or one plan saved by
    /// `plan --out PLAN`, carried out exactly (without asking: it was reviewed), given the
    /// same --sandbox, --endpoint, --ledger and --catalog as `plan`; refused if a manifest,
    /// the catalogue or the ledger changed since.
    #[arg(required = true, value_name = "FILE|DIR|PLAN")]
    pub paths: Vec<PathBuf>,
    /// Go on without asking (required when standard input is not a terminal).
    #[arg(long)]
    pub yes: bool,
    /// Collect the status of every certificate that is not final first (like `refresh`).
    #[arg(long)]
    pub refresh: bool,
    /// Calls in flight and per second.
    #[command(flatten)]
    pub workers: WorkerArgs,
    /// Refuse a run that would place, renew, reissue or replace more than N orders.
    #[arg(long, value_name = "N")]
    pub max_orders: Option<usize>,
    /// Send new orders without first asking the API whether their refId was already
    /// placed. Saves one call per order; use it only when the ledger is known to be
    /// complete (a run that lost ledger rows would then buy them again).
    #[arg(long)]
    pub trust_ledger: bool,
    /// Place (renew, replace) only the orders whose validation records can be computed
    /// before paying and already check out (DNS, HTTP; see `dcv --check`); the others wait
    /// in the plan (`awaiting-dcv`) with the reason. Approvers' mails are not checked.
    #[arg(long)]
    pub require_dcv: bool,
    /// With --require-dcv: the DNS resolver to ask [default: the first nameserver of /etc/resolv.conf].
    #[arg(long, value_name = "IP:PORT", requires = "require_dcv")]
    pub resolver: Option<std::net::SocketAddr>,
    /// With --require-dcv: fetch every file from this address instead of its name's (as
    /// curl's --connect-to).
    #[arg(long, value_name = "IP:PORT", requires = "require_dcv")]
    pub connect_to: Option<std::net::SocketAddr>,
    /// Output format (json: one object per line: the plan, each outcome, then the summary).
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// The token.
    #[command(flatten)]
    pub token: TokenArgs,
    /// Time allowed to connect.
    #[arg(long, default_value = "10s", value_parser = parse_connect_timeout)]
    pub connect_timeout: Duration,
    /// Time allowed for a whole request, reply included (1s to 30m).
    #[arg(long, default_value = "60s", value_parser = parse_request_timeout)]
    pub request_timeout: Duration,
    /// Wait before asking the API about an unknown outcome.
    #[arg(long, default_value = "1s", value_parser = parse_reconcile_delay, hide = true)]
    pub reconcile_delay: Duration,
    /// Where orders go: the API, the sandbox, the ledger.
    #[command(flatten)]
    pub api: ApiArgs,
    /// The options of every command that reads manifests.
    #[command(flatten)]
    pub common: ManifestArgs,
}

impl ApplyCommand {
    /// Applies valid manifests, or a saved plan; see the README's exit codes.
    pub fn run(mut self) -> Result<Exit, Error> {
        let saved = match self.paths.as_slice() {
            [one] => plan::saved::Saved::read_if_plan(one)?.map(|s| (one.clone(), s)),
            many => {
                for path in many {
                    if plan::saved::Saved::read_if_plan(path)?.is_some() {
                        return Err(Error::Usage(format!(
                            "{} is a saved plan: it is applied on its own (`nicsrs-batch apply {}`), not with manifests",
                            path.display(),
                            path.display()
                        )));
                    }
                }
                None
            }
        };
        let target = self.api.target()?;
        if let Some((path, s)) = &saved {
            // Where it applies comes from the same flags and environment as always, and must
            // be where the plan was made for: an edited plan file can send neither the token
            // nor the ledger's rows anywhere else.
            let same = target.api.as_str() == s.api
                && target.endpoint == s.endpoint
                && plan::saved::same_path(&target.ledger, &s.ledger)
                && match (&self.common.catalog, &s.catalog) {
                    (None, None) => true,
                    (Some(a), Some(b)) => plan::saved::same_path(a, b),
                    _ => false,
                };
            if !same {
                let show =
                    |api: &str, endpoint: Option<&str>, ledger: &Path, catalog: Option<&Path>| {
                        format!(
                            "the {api} API at {}, ledger {}, {}",
                            endpoint.unwrap_or("the embedded sandbox"),
                            ledger.display(),
                            catalog.map_or("the built-in catalogue".to_owned(), |c| {
                                format!("catalogue {}", c.display())
                            })
                        )
                    };
                return Err(plan::saved::SavedError::Elsewhere {
                    path: path.clone(),
                    why: format!(
                        "was made for {}, and this run would use {}: give `apply` the same --sandbox, --endpoint (or NICSRS_ENDPOINT), --ledger and --catalog as `plan` (the plan file decides nothing about where the token goes)",
                        crate::shown::bounded(
                            &show(&s.api, s.endpoint.as_deref(), &s.ledger, s.catalog.as_deref()),
                            600
                        ),
                        show(
                            target.api.as_str(),
                            target.endpoint.as_deref(),
                            &target.ledger,
                            self.common.catalog.as_deref()
                        )
                    ),
                }
                .into());
            }
            self.paths = s.paths.clone();
            // It was reviewed: carried out without asking, as Terraform's saved plans are.
            self.yes = true;
        }
        let runtime = super::runtime()?;
        let timeouts = Timeouts {
            connect: self.connect_timeout,
            request: self.request_timeout,
        };
        let concurrency = usize::from(self.workers.concurrency);
        // Lookups by refId go ahead of validation when nothing stands between a valid run
        // and its calls: no question to ask, no `--max-orders` that may refuse the run (a
        // refused run sends nothing at all), the API itself (not the embedded sandbox),
        // every new order looked up, no refresh first.
        let ahead = (self.yes
            && saved.is_none()
            && self.max_orders.is_none()
            && !self.trust_ledger
            && !self.refresh
            && !self.require_dcv)
            .then(|| {
                let _entered = runtime.enter();
                Ahead::ready(
                    &target,
                    self.token.token_file.as_deref(),
                    timeouts,
                    self.workers.rate,
                    concurrency,
                )
            })
            .flatten();
        // Each order's request is hashed as soon as it is checked, on the validation's
        // threads: the plan compares it with the ledger's.
        let handle = runtime.handle().clone();
        let each = |order: &ExpandedOrder| {
            let _ = order.request_sha256();
            if let Some(a) = &ahead
                && a.is_new(order)
            {
                a.session.look_ahead(&handle, &order.ref_id);
            }
        };
        let outcome = match &saved {
            None => super::load_valid_watching(&self.paths, &self.common, &each)?,
            Some((path, s)) => {
                // The files the plan names are checked against it before any diagnostic
                // quotes their lines: an edited plan naming another file shows none of it.
                let outcome = super::load(&self.paths, &self.common)?;
                s.check_inputs(path, &outcome.sources)?;
                if !outcome.diagnostics.is_empty() {
                    super::report_text(&outcome, self.common.color.enabled());
                }
                outcome.is_valid().then_some(outcome)
            }
        };
        let Some(outcome) = outcome else {
            return Ok(Exit::Invalid);
        };
        let args = Settings {
            saved,
            target,
            token_file: self.token.token_file,
            concurrency,
            rate: self.workers.rate,
            max_orders: self.max_orders,
            yes: self.yes,
            json: self.format == Format::Json,
            timeouts,
            reconcile_delay: self.reconcile_delay,
            trust_ledger: self.trust_ledger,
            require_dcv: match self.require_dcv {
                false => None,
                true => Some((
                    crate::dcv::check::Checker {
                        resolver: self
                            .resolver
                            .unwrap_or_else(crate::dcv::dns::system_resolver),
                        connect_to: self.connect_to,
                    },
                    match &self.common.catalog {
                        Some(path) => crate::catalog::Catalog::from_file(path)?,
                        None => crate::catalog::Catalog::builtin(),
                    },
                )),
            },
        };
        if self.refresh {
            super::refresh::refresh_first(
                &args.target,
                &outcome,
                args.token_file.as_deref(),
                args.concurrency,
                args.rate,
            )?;
        }
        runtime.block_on(apply(&outcome, args, ahead))
    }
}

/// What `apply` readies before validating, so that lookups by refId can be sent while it
/// validates: the ledger locked and read (when it exists; nothing is written to it until
/// the manifests are valid, so that an invalid run leaves it as it was), the token read,
/// and the API's session.
struct Ahead {
    /// The ledger, locked and read; `None` when it does not exist yet.
    ledger: Option<ledger::Locked>,
    /// The API.
    session: Arc<Session>,
}

impl Ahead {
    /// Everything lookups ahead need, or `None` when any of it fails: the same steps run
    /// again once the manifests are valid, and report the failure then.
    fn ready(
        target: &Target,
        token_file: Option<&Path>,
        timeouts: Timeouts,
        rate: Option<f64>,
        concurrency: usize,
    ) -> Option<Ahead> {
        let endpoint = target.endpoint.as_deref()?;
        let ledger = ledger::Writer::lock_existing(&target.ledger, target.api).ok()?;
        let token = token_for(target, token_file).ok()??;
        let client = Client::new(endpoint, token, timeouts).ok()?;
        Some(Ahead {
            ledger,
            session: Session::new(client, rate, concurrency),
        })
    }

    /// Whether `order` is new: no ledger row has its key, and it adopts no certificate.
    /// Its lookup is what its job will send first.
    fn is_new(&self, order: &ExpandedOrder) -> bool {
        order.renewal_of.is_none()
            && !self
                .ledger
                .as_ref()
                .is_some_and(|l| l.contents().knows(&order.key))
    }
}

/// What `apply` is asked to do, resolved.
#[derive(Clone, Debug)]
struct Settings {
    /// Where.
    target: Target,
    /// The token file, when not from the environment.
    token_file: Option<PathBuf>,
    /// Calls in flight.
    concurrency: usize,
    /// Calls per second.
    rate: Option<f64>,
    /// Refuse a plan that pays for more orders.
    max_orders: Option<usize>,
    /// Skip the confirmation.
    yes: bool,
    /// JSON lines instead of text.
    json: bool,
    /// HTTP timeouts.
    timeouts: Timeouts,
    /// Wait before reconciling an unknown outcome.
    reconcile_delay: Duration,
    /// Skip the lookup by refId before each new call (the ledger is known complete).
    trust_ledger: bool,
    /// `--require-dcv`: where records are looked up, and the catalogue that says which CA
    /// validates each product.
    require_dcv: Option<(crate::dcv::check::Checker, crate::catalog::Catalog)>,
    /// `apply PLAN`: the plan file and what it says must be done.
    saved: Option<(PathBuf, plan::saved::Saved)>,
}

/// `apply`: the plan, a confirmation, then every order carried out exactly once.
async fn apply(outcome: &Validated, args: Settings, ahead: Option<Ahead>) -> Result<Exit, Error> {
    let target = &args.target;
    let (locked, session) = match ahead {
        Some(a) => (a.ledger, Some(a.session)),
        None => (None, None),
    };
    // Read before the ledger is touched: a missing token stops the run with nothing written.
    let token = match session {
        Some(_) => None,
        None => token_for(target, args.token_file.as_deref())?,
    };
    // A ledger this run creates is removed again if the run is refused before any call:
    // a refused run leaves the folder as it was.
    let created = locked.is_none() && !target.ledger.exists();
    let (writer, contents) = match locked {
        Some(locked) => locked.into_writer()?,
        None => ledger::Writer::open(&target.ledger, target.api)?,
    };
    // Read under the lock: a ledger another run filled in the meantime is never removed.
    let created = created && contents.is_empty();
    warn_ledger(&target.ledger, &contents.warnings);
    let mut plan = plan::make(&outcome.orders, &contents);
    if let Some((checker, catalog)) = &args.require_dcv {
        hold_for_dcv(&mut plan, checker, catalog).await;
    }
    if let Some((path, saved)) = &args.saved {
        // The ledger is locked: nothing else writes it between this check and the calls.
        let checked = saved
            .check_ledger(path)
            .and_then(|()| saved.check_steps(path, &plan));
        if let Err(e) = checked {
            if created {
                // Only its header was written: nothing is lost.
                let _ = std::fs::remove_file(&target.ledger);
            }
            return Err(e.into());
        }
    }
    let awaiting = plan.count(Action::AwaitingDcv) as u64;
    // A cancelled order is as stuck as a refused one: the manifest asks for what cannot be.
    let (already, blocked) = (
        plan.count(Action::Nothing),
        plan.count(Action::Blocked) + plan.count(Action::Cancelled),
    );
    let ledger_name = target.ledger.display().to_string();
    if args.json {
        say!("{}", serde_json::json!({"plan": plan::to_json(&plan)}));
    } else {
        say_raw!("{}", plan::render(&plan, &outcome.sources, false));
    }
    if !plan.has_work() {
        // A script reading the summary finds one on every run, the second as the first.
        let summary = apply::Summary {
            awaiting_dcv: awaiting,
            ..apply::Summary::default()
        };
        if args.json {
            say!(
                "{}",
                report::summary_json(&summary, already, blocked, &ledger_name)
            );
        } else if awaiting > 0 {
            say!(
                "Nothing to do now: {} awaiting DCV (--require-dcv).",
                crate::shown::counted(awaiting, "order")
            );
        } else {
            say!("Nothing to do.");
        }
        return Ok(if blocked > 0 {
            Exit::Incomplete
        } else {
            Exit::Ok
        });
    }
    // A refusal still ends the JSON lines with a summary, saying why nothing was done.
    let refused = |message: String| {
        if created {
            // Only its header was written: nothing is lost.
            let _ = std::fs::remove_file(&target.ledger);
        }
        if args.json {
            let summary = apply::Summary {
                not_started: plan.steps.iter().filter(|s| s.action.is_work()).count() as u64,
                stopped: Some(message.clone()),
                ..apply::Summary::default()
            };
            say!(
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
    let (session, embedded) = match session {
        Some(session) => (session, None),
        None => {
            let (client, embedded) = connect(target, token, args.timeouts).await?;
            (Session::new(client, args.rate, args.concurrency), embedded)
        }
    };
    let jobs = Job::from_plan(plan, &outcome.sources);
    let reporter: Box<dyn Reporter> = if args.json {
        Box::new(JsonReporter::default())
    } else {
        let width = jobs.iter().map(|j| j.key.len()).max().unwrap_or(0);
        // A bar only when a person watches both streams; a line per order whenever stdout
        // goes anywhere else (`| tee`, a file), so that no outcome is shown only to a bar.
        let terminal = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
        Box::new(TextReporter::new(jobs.len(), width, terminal))
    };
    let options = apply::Options {
        concurrency: args.concurrency,
        api: target.api,
        reconcile_delay: args.reconcile_delay,
        trust_ledger: args.trust_ledger,
    };
    let summary = apply::run(jobs, session, writer, reporter, options).await;
    if let Some(s) = embedded {
        s.stop().await?;
    }
    let mut summary = summary?;
    summary.awaiting_dcv = awaiting;
    if args.json {
        say!(
            "{}",
            report::summary_json(&summary, already, blocked, &ledger_name)
        );
    } else {
        say_raw!(
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

/// `--require-dcv`: every record of every new call is looked up; a call whose records are
/// not all right (or cannot be known before it is placed) waits, with the reason.
async fn hold_for_dcv(
    plan: &mut plan::Plan<'_>,
    checker: &crate::dcv::check::Checker,
    catalog: &crate::catalog::Catalog,
) {
    use crate::dcv::check::Outcome;
    plan::with_dcv(plan, catalog);
    let all: Vec<crate::dcv::records::Record> = plan
        .steps
        .iter()
        .flat_map(|s| s.dcv.iter().cloned())
        .collect();
    let outcomes = checker.check_all(&all).await;
    let mut outcomes = outcomes.into_iter();
    let shown = |s: &str| crate::shown::bounded(s, 120);
    plan::hold_for_dcv(plan, |step| {
        let mut reasons = Vec::new();
        for r in &step.dcv {
            let outcome = outcomes.next().unwrap_or(Outcome::Unchecked);
            let what = match r.kind.as_str() {
                "FILE" => shown(&r.url),
                _ => format!("{} {}", shown(&r.name), r.kind),
            };
            match outcome {
                _ if r.kind.is_empty() => reasons.push(format!(
                    "{}: its record is known only once the order is placed",
                    shown(&r.domain)
                )),
                Outcome::Missing => reasons.push(format!("{what} is missing")),
                Outcome::Wrong(found) => reasons.push(format!("{what} is wrong: {found}")),
                Outcome::Failed(why) => reasons.push(format!("{what} not checked: {why}")),
                _ => {}
            }
        }
        reasons
    });
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
    // Exactly `yes`: not ` yes`, `yes `, `y` or `YES`.
    if answer.trim_end_matches(['\n', '\r']) == "yes" {
        Ok(())
    } else {
        Err(Error::Usage("not applied".into()))
    }
}
