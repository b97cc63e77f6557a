//! `dcv`: for every name of every order not issued yet, what must be done for the CA to
//! validate it (a DNS record, a file, an approver's click), as text, JSON, CSV or BIND
//! zone lines; and with `--webroot`, the files written where a web server serves them.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use std::collections::HashMap;
use std::net::SocketAddr;

use clap::{Args, Subcommand, ValueEnum};

use super::{ApiArgs, ManifestArgs, TokenArgs};
use crate::catalog::Catalog;
use crate::dcv::check::{Checker, Outcome};
use crate::dcv::dns::{Change, TsigKey, Updater};
use crate::dcv::records::{self, Record, is_dns_name, is_file_name, is_txt};
use crate::error::Error;
use crate::exit::Exit;

/// What `dcv` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum DcvFormat {
    /// For a person: each order's names and what to do for each.
    Text,
    /// One JSON document: `{"records": [...]}`.
    Json,
    /// One CSV record per name, with a header: for handing a customer their records.
    Csv,
    /// BIND zone-file lines (`NAME TTL IN TYPE VALUE`, absolute names) of the DNS records.
    Zone,
}

/// The arguments of `dcv`.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct DcvCommand {
    /// Publish the DNS records on an authoritative server.
    #[command(subcommand)]
    pub action: Option<DcvAction>,
    /// Manifest files, or directories searched for *.yaml and *.yml.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// Output format (`--check`: text, json or csv).
    #[arg(long, value_enum, default_value_t = DcvFormat::Text)]
    pub format: DcvFormat,
    /// The TTL of `--format zone` lines, in seconds (at most 2147483647, RFC 2181).
    #[arg(long, default_value_t = 300, value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(0..=2_147_483_647))]
    pub ttl: u32,
    /// Write each file to DIR/<domain>/.well-known/pki-validation/<file>.
    #[arg(long, value_name = "DIR")]
    pub webroot: Option<PathBuf>,
    /// Look each record up (DNS, HTTP) and say per name whether it is right, missing or
    /// wrong; exit 3 unless everything that can be checked is right.
    #[arg(long)]
    pub check: bool,
    /// With --check: the DNS resolver to ask [default: the first nameserver of /etc/resolv.conf].
    #[arg(long, value_name = "IP:PORT", requires = "check")]
    pub resolver: Option<SocketAddr>,
    /// With --check: fetch every file from this address instead of its name's (as curl's
    /// --connect-to), keeping the URL's host name.
    #[arg(long, value_name = "IP:PORT", requires = "check")]
    pub connect_to: Option<SocketAddr>,
    /// The token: records the ledger holds are confirmed with the API before --webroot
    /// writes them.
    #[command(flatten)]
    pub token: TokenArgs,
    /// Where orders go: the API, the sandbox, the ledger.
    #[command(flatten)]
    pub api: ApiArgs,
    /// The options of every command that reads manifests.
    #[command(flatten)]
    pub common: ManifestArgs,
}

/// What `dcv` does besides listing.
#[derive(Debug, Subcommand)]
pub enum DcvAction {
    /// Add each name's DNS record to an authoritative server by RFC 2136 dynamic update
    /// signed with TSIG; with --cleanup, remove those of names the CA has verified.
    Publish(PublishCommand),
}

/// The arguments of `dcv publish`.
#[derive(Debug, Args)]
pub struct PublishCommand {
    /// Manifest files, or directories searched for *.yaml and *.yml.
    #[arg(required = true, value_name = "FILE|DIR")]
    pub paths: Vec<PathBuf>,
    /// The primary server that takes dynamic updates (BIND, Knot, PowerDNS, Windows DNS):
    /// a host name or address, and its port.
    #[arg(long, value_name = "SERVER:PORT")]
    pub rfc2136: String,
    /// The TSIG key: BIND's `tsig-keygen` file, Knot's `keymgr -t` output, or
    /// `algorithm:name:secret` (hmac-sha256, -sha384, -sha512).
    #[arg(long, value_name = "FILE")]
    pub tsig_key: PathBuf,
    /// Remove the records of names the CA has verified (and of issued certificates)
    /// instead of adding records.
    #[arg(long)]
    pub cleanup: bool,
    /// The records' TTL, in seconds.
    #[arg(long, default_value_t = 300, value_name = "SECONDS",
          value_parser = clap::value_parser!(u32).range(0..=2_147_483_647))]
    pub ttl: u32,
    /// The token: records the ledger holds are confirmed with the API before they are
    /// published.
    #[command(flatten)]
    pub token: TokenArgs,
    /// Where orders go: the API, the sandbox, the ledger.
    #[command(flatten)]
    pub api: ApiArgs,
    /// The options of every command that reads manifests.
    #[command(flatten)]
    pub common: ManifestArgs,
}

/// The records of the manifests' orders, and what confirming them with the API needs.
struct Loaded {
    found: records::Found,
    target: super::Target,
    orders: Vec<crate::expand::ExpandedOrder>,
    /// The certificate in force of each key that has one, and the refId of the call that
    /// made it.
    certs: HashMap<String, (String, String)>,
    catalog: Catalog,
}

/// The records of the manifests' orders (`None`: the manifests are invalid): of each name
/// not validated yet, and of the renewals and replacements the plan would send (their new
/// CSR's records); with `settled`, of issued and ended certificates too.
fn load(
    paths: &[PathBuf],
    api: &ApiArgs,
    common: &ManifestArgs,
    settled: bool,
) -> Result<Option<Loaded>, Error> {
    let target = api.target()?;
    let Some(outcome) = super::load_valid(paths, common)? else {
        return Ok(None);
    };
    let catalog = match &common.catalog {
        Some(path) => Catalog::from_file(path)?,
        None => Catalog::builtin(),
    };
    let contents = super::target::ledger_of(&target, &outcome.orders)?;
    let mut found = records::of_orders(&outcome.orders, &contents, &catalog, settled);
    for (key, domain) in &found.refused {
        eprintln!(
            "warning: {} {}: the ledger's `dcv` record is not one a CA's validation uses (edited?); not used: `refresh` records it again",
            crate::shown::bounded(key, 100),
            crate::shown::bounded(domain, 100)
        );
    }
    if !settled {
        // A renewal or replacement the plan would send validates its names anew, with
        // the records of its own CSR: what `apply --require-dcv` checks.
        let plan = crate::plan::make(&outcome.orders, &contents);
        for step in plan.steps.iter().filter(|s| {
            s.action.is_new_call()
                && matches!(s.op, crate::plan::Op::Renew | crate::plan::Op::Replace)
        }) {
            for r in records::for_new_call(step.order, &catalog) {
                if r.kind.is_empty() {
                    found.later += 1;
                } else {
                    found.records.push(r);
                }
            }
        }
    }
    let certs = contents
        .states()
        .iter()
        .filter_map(|(k, s)| {
            s.current
                .map(|c| ((*k).to_owned(), (c.cert_id.clone(), c.ref_id.clone())))
        })
        .collect();
    Ok(Some(Loaded {
        found,
        target,
        orders: outcome.orders,
        certs,
        catalog,
    }))
}

/// The records to publish, write or remove, those read from the ledger only once a fresh
/// `/ssl/collect` of their certificate gives the very same record (the ledger is a file
/// anyone may edit: a record planted there could validate someone else's order), the
/// certificate being the one the key's refId finds (its certId in the ledger can be edited
/// too). Records computed from the manifest's CSR need no confirmation. Also returns how
/// many were left out.
fn confirmed(
    loaded: &Loaded,
    wanted: Vec<Record>,
    token_file: Option<&Path>,
) -> Result<(Vec<Record>, usize), Error> {
    let keys: std::collections::BTreeSet<&str> = wanted
        .iter()
        .filter(|r| r.source == "api")
        .map(|r| r.key.as_str())
        .collect();
    if keys.is_empty() {
        return Ok((wanted, 0));
    }
    let token = super::target::token_for(&loaded.target, token_file)?;
    let said: HashMap<String, Vec<crate::dcv::NameDcv>> = super::runtime()?.block_on(async {
        let (client, embedded) =
            super::target::connect(&loaded.target, token, Default::default()).await?;
        let pacer = crate::nicsrs::pacer::Pacer::new(None);
        let mut said = HashMap::new();
        for key in keys {
            let Some((cert, ref_id)) = loaded.certs.get(key) else {
                continue;
            };
            // The certificate is the one the key's own refId (or its renewals', reissues'
            // or replacements' `<refId>-…`) finds.
            let base = loaded
                .orders
                .iter()
                .find(|o| o.key == key)
                .map(|o| o.ref_id.as_str())
                .unwrap_or_default();
            let ours = !base.is_empty()
                && (ref_id == base || ref_id.starts_with(&format!("{base}-")));
            let found = if ours {
                crate::refresh::find(&client, &pacer, ref_id).await
            } else {
                None
            };
            if found.as_deref() != Some(cert.as_str()) {
                eprintln!(
                    "warning: {}: its certificate in the ledger is not the one its refId finds; its records are not published",
                    crate::shown::bounded(key, 100)
                );
                continue;
            }
            match crate::refresh::collect(&client, &pacer, cert).await {
                Ok((_, collected)) => {
                    said.insert(key.to_owned(), collected.names);
                }
                Err(why) => eprintln!(
                    "warning: {}: cannot confirm its records with the API ({}); not published",
                    crate::shown::bounded(key, 100),
                    crate::shown::bounded(&why, 200)
                ),
            }
        }
        if let Some(s) = embedded {
            s.stop().await?;
        }
        Ok::<_, Error>(said)
    })?;
    let mut out = Vec::with_capacity(wanted.len());
    let mut left_out = 0;
    for r in wanted {
        if r.source != "api" {
            out.push(r);
            continue;
        }
        let fresh = loaded
            .orders
            .iter()
            .find(|o| o.key == r.key)
            .zip(said.get(&r.key))
            .and_then(|(o, s)| records::from_said(o, &r.domain, s, &loaded.catalog));
        let same = |f: &Record| {
            (&f.kind, &f.name, &f.value, &f.url, &f.content)
                == (&r.kind, &r.name, &r.value, &r.url, &r.content)
        };
        if fresh.as_ref().is_some_and(same) {
            out.push(r);
            continue;
        }
        left_out += 1;
        if said.contains_key(&r.key) {
            eprintln!(
                "warning: {} {}: the ledger's record is not what NicSRS says now; not published (run `refresh`)",
                crate::shown::bounded(&r.key, 100),
                crate::shown::bounded(&r.domain, 100)
            );
        }
    }
    Ok((out, left_out))
}

impl DcvCommand {
    /// Lists (and with `--webroot` writes, with `--check` checks) what each name needs.
    pub fn run(self) -> Result<Exit, Error> {
        if let Some(DcvAction::Publish(p)) = self.action {
            return p.run();
        }
        if self.check && self.format == DcvFormat::Zone {
            return Err(Error::Usage(
                "--check prints text, json or csv, not zone lines".into(),
            ));
        }
        let Some(loaded) = load(&self.paths, &self.api, &self.common, false)? else {
            return Ok(Exit::Invalid);
        };
        let found = &loaded.found;
        let records = &found.records;
        // A file that cannot be written is reported; the records are shown all the same.
        let unwritten = match &self.webroot {
            Some(root) => {
                let files: Vec<Record> = records
                    .iter()
                    .filter(|r| r.kind == "FILE")
                    .cloned()
                    .collect();
                let (files, left_out) =
                    confirmed(&loaded, files, self.token.token_file.as_deref())?;
                write_webroot(root, &files) + left_out
            }
            None => 0,
        };
        if self.check {
            let checker = Checker {
                resolver: self
                    .resolver
                    .unwrap_or_else(crate::dcv::dns::system_resolver),
                connect_to: self.connect_to,
            };
            let outcomes = super::runtime()?.block_on(checker.check_all(records));
            let text = match self.format {
                DcvFormat::Json => checked_json(records, &outcomes),
                DcvFormat::Csv => checked_csv(records, &outcomes),
                _ => checked_text(records, &outcomes, checker.resolver),
            };
            print(&text)?;
            let blocking = outcomes.iter().any(Outcome::is_blocking);
            return Ok(if unwritten > 0 {
                Exit::Failure
            } else if blocking {
                Exit::Incomplete
            } else {
                Exit::Ok
            });
        }
        let text = match self.format {
            DcvFormat::Text => text(records, found.later),
            DcvFormat::Json => format!(
                "{:#}\n",
                serde_json::json!({ "records": records, "known_once_placed": found.later })
            ),
            DcvFormat::Csv => csv(records),
            DcvFormat::Zone => zone(records, self.ttl),
        };
        print(&text)?;
        Ok(if unwritten > 0 {
            Exit::Failure
        } else {
            Exit::Ok
        })
    }
}

fn print(text: &str) -> Result<(), Error> {
    std::io::stdout()
        .lock()
        .write_all(text.as_bytes())
        .map_err(Error::Output)
}

/// What a check says of one record, for a person.
fn said(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Right => "right".into(),
        Outcome::Missing => "MISSING".into(),
        Outcome::Wrong(found) => format!("WRONG: found {found}"),
        Outcome::Failed(why) => format!("NOT CHECKED: {why}"),
        Outcome::Unchecked => "nothing to look up".into(),
        Outcome::Verified => "verified by the CA".into(),
    }
}

fn checked_text(records: &[Record], outcomes: &[Outcome], resolver: SocketAddr) -> String {
    let shown = |s: &str| crate::shown::bounded(s, 200);
    let mut out = String::new();
    let mut key = None;
    for (r, o) in records.iter().zip(outcomes) {
        if key != Some(&r.key) {
            let _ = writeln!(out, "{}", shown(&r.key));
            key = Some(&r.key);
        }
        let what = match r.kind.as_str() {
            "CNAME" | "TXT" => format!("{} {}", shown(&r.name), r.kind),
            "FILE" => shown(&r.url),
            "EMAIL" => format!("approver {}", shown(&r.value)),
            _ => "record not known yet".into(),
        };
        let _ = writeln!(out, "  {}  {what}: {}", shown(&r.domain), said(o));
    }
    let count = |w: &str| outcomes.iter().filter(|o| o.word() == w).count();
    let _ = writeln!(
        out,
        "{}: {} right, {} missing, {} wrong, {} not checked, {} verified, {} with nothing to look up (DNS asked at {resolver})",
        crate::shown::counted(records.len() as u64, "name"),
        count("right"),
        count("missing"),
        count("wrong"),
        count("failed"),
        count("verified"),
        count("unchecked"),
    );
    out
}

fn checked_json(records: &[Record], outcomes: &[Outcome]) -> String {
    let list: Vec<serde_json::Value> = records
        .iter()
        .zip(outcomes)
        .map(|(r, o)| {
            let mut v = serde_json::to_value(r).unwrap_or_default();
            if *o == Outcome::Right && r.state == "to-publish" {
                v["state"] = "published".into();
            }
            if let (Some(map), Ok(serde_json::Value::Object(check))) =
                (v.as_object_mut(), serde_json::to_value(o))
            {
                map.extend(check);
                map.entry("found").or_insert(serde_json::Value::Null);
            }
            v
        })
        .collect();
    let all_right = !outcomes.iter().any(Outcome::is_blocking);
    format!(
        "{:#}\n",
        serde_json::json!({ "records": list, "all_right": all_right })
    )
}

fn checked_csv(records: &[Record], outcomes: &[Outcome]) -> String {
    let header = [
        "key", "domain", "method", "type", "name", "value", "url", "content", "source", "state",
        "check", "found",
    ];
    let mut out = crate::csv::line(header.iter().copied());
    for (r, o) in records.iter().zip(outcomes) {
        let found = match o {
            Outcome::Wrong(f) | Outcome::Failed(f) => f.as_str(),
            _ => "",
        };
        let state = if *o == Outcome::Right && r.state == "to-publish" {
            "published"
        } else {
            r.state.as_str()
        };
        let cells = [
            &r.key, &r.domain, &r.method, &r.kind, &r.name, &r.value, &r.url, &r.content, &r.source,
        ];
        out.push_str(&crate::csv::line(cells.iter().map(|c| c.as_str()).chain([
            state,
            o.word(),
            found,
        ])));
    }
    out
}

impl PublishCommand {
    /// Adds (or with `--cleanup` removes) the DNS records.
    pub fn run(self) -> Result<Exit, Error> {
        let key = TsigKey::from_file(&self.tsig_key)?;
        let Some(loaded) = load(&self.paths, &self.api, &self.common, self.cleanup)? else {
            return Ok(Exit::Invalid);
        };
        let wanted: Vec<Record> = loaded
            .found
            .records
            .iter()
            .filter(|r| r.is_dns() && is_dns_name(&r.name))
            .filter(|r| matches!(r.state.as_str(), "verified" | "settled") == self.cleanup)
            .cloned()
            .collect();
        // Records read from the ledger are confirmed with the API first, to add them and
        // to remove them (a planted one could be another order's validation).
        let (wanted, left_out) = confirmed(&loaded, wanted, self.token.token_file.as_deref())?;
        let wanted: Vec<&Record> = wanted.iter().collect();
        let server = resolve_server(&self.rfc2136)?;
        let ttl = self.ttl;
        let cleanup = self.cleanup;
        let failed = super::runtime()?
            .block_on(async move { publish(server, &key, &wanted, ttl, cleanup).await })?
            + left_out;
        Ok(if failed > 0 {
            Exit::Incomplete
        } else {
            Exit::Ok
        })
    }
}

/// `HOST:PORT` or `IP:PORT` as one address (the first the system resolves).
fn resolve_server(text: &str) -> Result<SocketAddr, Error> {
    use std::net::ToSocketAddrs;
    let shown = crate::shown::quote(text);
    let mut addrs = text.to_socket_addrs().map_err(|e| {
        Error::Usage(format!(
            "--rfc2136 {shown}: not an address: {e} (expected SERVER:PORT, e.g. ns1.example.net:53 or 192.0.2.53:53)"
        ))
    })?;
    addrs.next().filter(|a| a.port() != 0).ok_or_else(|| {
        Error::Usage(format!(
            "--rfc2136 {shown}: resolves to no address with a port (expected SERVER:PORT)"
        ))
    })
}

/// Sends one update per record; prints what was done; returns how many failed.
async fn publish(
    server: SocketAddr,
    key: &TsigKey,
    records: &[&Record],
    ttl: u32,
    cleanup: bool,
) -> Result<usize, Error> {
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr();
    let mut updater = Updater::connect(server, key).await?;
    let mut zones: HashMap<String, hickory_proto::rr::Name> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    let (mut done, mut failed) = (0usize, 0usize);
    for r in records {
        let change = Change {
            name: r.name.clone(),
            kind: r.kind.clone(),
            value: r.value.clone(),
        };
        if !seen.insert((
            change.name.to_ascii_lowercase(),
            change.kind.clone(),
            change.value.clone(),
        )) {
            continue;
        }
        let parent = change
            .name
            .split_once('.')
            .map_or("", |(_, p)| p)
            .to_owned();
        let zone = match zones.get(&parent) {
            Some(z) => Ok(z.clone()),
            None => updater.zone_of(&change.name).await.inspect(|z| {
                zones.insert(parent.clone(), z.clone());
            }),
        };
        let result = match zone {
            Ok(zone) if cleanup => updater.remove(&zone, &change).await.map(|()| zone),
            Ok(zone) => updater.add(&zone, &change, ttl).await.map(|()| zone),
            Err(e) => Err(e),
        };
        let shown = |s: &str| crate::shown::bounded(s, 200);
        match result {
            Ok(zone) => {
                done += 1;
                let _ = writeln!(
                    out,
                    "{} {}. {} {} (zone {zone}, {})",
                    if cleanup { "removed" } else { "added" },
                    shown(&change.name),
                    change.kind,
                    shown(&change.value),
                    shown(&r.key)
                );
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(
                    err,
                    "error: {} {} {}: {e}",
                    shown(&r.key),
                    shown(&change.name),
                    change.kind
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} {} on {server}{}",
        crate::shown::counted(done as u64, "record"),
        if cleanup { "removed" } else { "added" },
        if failed > 0 {
            format!(", {failed} failed")
        } else {
            String::new()
        }
    );
    Ok(failed)
}

/// For a person: each order, then each name and what to do.
fn text(records: &[Record], later: usize) -> String {
    let shown = |s: &str| crate::shown::bounded(s, 200);
    let mut out = String::new();
    let mut key = None;
    for r in records {
        if key != Some(&r.key) {
            let _ = writeln!(out, "{}", shown(&r.key));
            key = Some(&r.key);
        }
        let what = match r.kind.as_str() {
            "CNAME" | "TXT" => format!("{} {} {}", shown(&r.name), r.kind, shown(&r.value)),
            "FILE" => format!(
                "{} containing {}",
                shown(&r.url),
                shown(&r.content.replace('\n', " / "))
            ),
            "EMAIL" => format!("the CA mails {}: the approver clicks", shown(&r.value)),
            _ => "not known yet: the API tells it once the order is placed (`refresh` reads it)"
                .into(),
        };
        let _ = writeln!(
            out,
            "  {}  {}  {what}  [{}{}]",
            shown(&r.domain),
            shown(&r.method),
            r.state,
            match r.source.as_str() {
                "csr" => ", computed from the CSR",
                "api" => ", as the API said",
                _ => "",
            }
        );
    }
    let count = |state: &str| records.iter().filter(|r| r.state == state).count();
    let _ = writeln!(
        out,
        "{}: {} to publish, {} to approve, {} verified, {} unknown",
        crate::shown::counted(records.len() as u64, "name"),
        count("to-publish"),
        count("to-approve"),
        count("verified"),
        count("unknown")
    );
    if later > 0 {
        let _ = writeln!(
            out,
            "{} of orders not placed yet: known once placed (no CSR to compute them from, or a CA that issues its own tokens)",
            crate::shown::counted(later as u64, "more name")
        );
    }
    out
}

/// One CSV record per name, with a header; formula cells neutralised.
fn csv(records: &[Record]) -> String {
    let header = [
        "key", "domain", "method", "type", "name", "value", "url", "content", "source", "state",
    ];
    let mut out = crate::csv::line(header.iter().copied());
    for r in records {
        let cells = [
            &r.key, &r.domain, &r.method, &r.kind, &r.name, &r.value, &r.url, &r.content,
            &r.source, &r.state,
        ];
        out.push_str(&crate::csv::line(cells.iter().map(|c| c.as_str())));
    }
    out
}

/// BIND zone-file lines of the DNS records; a name or value that could break the line
/// (whitespace, quotes, control characters) is left out with a comment.
fn zone(records: &[Record], ttl: u32) -> String {
    let mut out = String::new();
    for r in records.iter().filter(|r| r.is_dns()) {
        let name_ok = is_dns_name(&r.name);
        let value = match r.kind.as_str() {
            "CNAME" if is_dns_name(&r.value) => Some(format!("{}.", r.value)),
            "TXT" if is_txt(&r.value) => Some(format!("\"{}\"", r.value)),
            _ => None,
        };
        match value {
            Some(value) if name_ok => {
                let _ = writeln!(out, "{}. {ttl} IN {} {value}", r.name, r.kind);
            }
            _ => {
                let _ = writeln!(
                    out,
                    "; {}: left out, its record is not a plain DNS name and value",
                    crate::shown::bounded(&r.domain, 100)
                );
            }
        }
    }
    out
}

/// Writes each file record to `root/<domain>/.well-known/pki-validation/<file>`. A domain
/// or file name that is not plain (it could climb out of the folder) is refused. Returns
/// how many files could not be written (each reported on stderr).
fn write_webroot(root: &Path, records: &[Record]) -> usize {
    let mut err = std::io::stderr().lock();
    let mut failed = 0;
    for r in records.iter().filter(|r| r.kind == "FILE") {
        let host = r.domain.trim_start_matches("*.").to_ascii_lowercase();
        let file = r.file_name().unwrap_or("");
        if !is_dns_name(&host) || !is_file_name(file) {
            let _ = writeln!(
                err,
                "warning: {} not written: its file name {} is not a plain name",
                crate::shown::bounded(&r.domain, 100),
                crate::shown::quote(file)
            );
            continue;
        }
        let dir = root.join(&host).join(".well-known/pki-validation");
        // A folder below the webroot that is a link could send the file anywhere.
        let linked = [
            root.join(&host),
            root.join(&host).join(".well-known"),
            dir.clone(),
        ]
        .iter()
        .any(|p| std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_symlink()));
        if linked {
            failed += 1;
            let _ = writeln!(
                err,
                "warning: {} not written: a folder of its path under {} is a symbolic link",
                crate::shown::bounded(&r.domain, 100),
                root.display()
            );
            continue;
        }
        let path = dir.join(file);
        let written = std::fs::create_dir_all(&dir)
            .map_err(|source| Error::Write {
                path: dir.clone(),
                source,
            })
            .and_then(|()| {
                crate::atomic::write(&path, r.content.as_bytes(), 0o644).map_err(|source| {
                    Error::Write {
                        path: path.clone(),
                        source,
                    }
                })
            });
        match written {
            Ok(()) => {
                let _ = writeln!(err, "wrote {}", path.display());
            }
            Err(e) => {
                failed += 1;
                let _ = writeln!(err, "error: {e}");
            }
        }
    }
    failed
}
