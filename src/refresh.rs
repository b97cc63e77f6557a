//! `refresh`: every certificate that is not final is collected, its status and dates are
//! recorded in the ledger, and with `--out-dir` the issued certificates (and keys NicSRS
//! generated) are written to files. Key material never goes into the ledger or any output.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::ledger::{self, Event, Row};
use crate::nicsrs::client::{CallOutcome, Client};
use crate::nicsrs::pacer::{Pacer, Retry};
use crate::nicsrs::wire::Code;
use crate::nicsrs::wire::read;

/// Statuses after which collecting again tells nothing new.
const FINAL: [&str; 4] = ["COMPLETE", "CANCELLED", "REISSUED", "FAILED"];

pub use crate::nicsrs::wire::read::Collected;

/// One certificate to collect.
#[derive(Clone, Debug)]
pub struct CollectJob {
    /// The template row: key, refId, certId, product and so on from the ledger.
    pub row: Row,
    /// Should collect say REISSUED: the refIds under which the tool would have reissued or
    /// replaced it, looked up in case the ledger lost that call.
    pub probes: Vec<(Event, String)>,
}

/// A reissue or replacement of a certificate found by its refId, which the ledger did not
/// record (it lost rows).
#[derive(Debug)]
pub struct Found {
    /// `reissued` or `replaced`.
    pub event: Event,
    /// The refId it was found by.
    pub ref_id: String,
    /// The new certificate.
    pub cert_id: String,
    /// What collect says of the new certificate.
    pub result: Result<(i64, Collected), String>,
}

/// The `request_fields` and names (space-separated) of a certificate as NicSRS holds it,
/// from collect's `applyParams`: `template`'s fields with `csr` and `domainInfo` replaced.
pub fn held_fields(template: &str, c: &Collected) -> (String, Option<String>) {
    let names = c.apply_domain_info.as_ref().map(|info| {
        crate::expand::domain_names(&serde_json::json!({ "domainInfo": info })).join(" ")
    });
    let fields = crate::expand::fields_with_held(
        template,
        c.apply_csr.as_deref(),
        c.apply_domain_info.as_ref(),
    );
    (fields, names)
}

/// The certificates to collect: each key's certificate in force whose last status is not
/// final, or whose last call was refused for its state (-5, -7, -8) since it was collected;
/// with `out_dir` complete ones whose certificate file is missing; and the certificates
/// `adopt`ed by orders (`renewalOf`) that the ledger does not know yet.
pub fn jobs(
    contents: &ledger::Contents,
    api: ledger::Api,
    out_dir: Option<&Path>,
    adopt: &[crate::expand::ExpandedOrder],
    manifest: impl Fn(&crate::expand::ExpandedOrder) -> String,
) -> Vec<CollectJob> {
    let states = contents.states();
    let mut keys: Vec<&&str> = states.keys().collect();
    keys.sort();
    let mut jobs: Vec<CollectJob> = keys
        .into_iter()
        .filter_map(|key| {
            let state = &states[*key];
            let current = state.current?;
            let status = state.status.map_or("", |s| s.status.as_str());
            // A folder without its certificate, or with a chain but no full chain (a file
            // deleted by hand), is written again.
            // A folder holding another certificate than the current one (collected by a
            // refresh without `--out-dir`) is written again too.
            let missing_file = out_dir.is_some_and(|d| {
                let folder = d.join(key);
                !folder.join(CERT_FILE).is_file()
                    || (folder.join(CHAIN_FILE).is_file() && !folder.join(FULLCHAIN_FILE).is_file())
                    || read_small(&folder.join(CERT_ID_FILE))
                        .is_none_or(|id| id.trim() != current.cert_id)
            });
            // A call refused for the certificate's state (-5, -7, -8) waits for what
            // collect says now, whatever the ledger last recorded.
            let refused_for_state = state.open_call().is_some()
                && state.last_op.is_some_and(|l| {
                    l.event == Event::Failed && l.code.is_some_and(ledger::is_state_refusal)
                });
            let wanted = !FINAL.contains(&status)
                || (status == "COMPLETE" && missing_file)
                || refused_for_state;
            // Reissued, and not by a call the ledger knows: perhaps by one it lost.
            let probes: Vec<(Event, String)> = match state.placed {
                Some(placed) if !placed.ref_id.is_empty() => vec![
                    (
                        Event::Reissued,
                        format!("{}-i{}", placed.ref_id, state.reissues + 1),
                    ),
                    (
                        Event::Replaced,
                        format!("{}-x{}", placed.ref_id, state.replacements + 1),
                    ),
                ],
                _ => Vec::new(),
            };
            let wanted = wanted || (status == "REISSUED" && !probes.is_empty());
            (wanted && !current.cert_id.is_empty()).then(|| CollectJob {
                row: current.clone(),
                probes,
            })
        })
        .collect();
    for order in adopt {
        let Some(cert_id) = &order.renewal_of else {
            continue;
        };
        if states
            .get(order.key.as_str())
            .is_some_and(|s| !s.holds_no_order())
        {
            continue;
        }
        jobs.push(CollectJob {
            row: Row {
                ref_id: order.ref_id.clone(),
                cert_id: cert_id.clone(),
                product_code: order.product_code.clone(),
                years: order.years,
                domains: order.domains.join(" "),
                manifest: manifest(order),
                ..Row::about(api, Event::Status, &order.key)
            },
            probes: Vec::new(),
        });
    }
    jobs
}

/// Collects one certificate, trying transient failures again.
pub async fn collect(
    client: &Client,
    pacer: &Pacer,
    cert_id: &str,
) -> Result<(i64, Collected), String> {
    let mut last = String::new();
    let retry = Retry::FREE_CALL;
    for attempt in retry.attempts() {
        retry.before(attempt, pacer).await;
        match client.call("collect", &[("certId", cert_id)]).await {
            CallOutcome::Reply(reply) => match read::collected(&reply) {
                Some(c) => return Ok((reply.code, c)),
                None if reply.known_code() == Some(Code::Unknown) => last = reply.message(),
                None => return Err(reply.message()),
            },
            CallOutcome::Throttled(wait) => {
                // Every worker holds back, as in apply.
                pacer.pause(wait.unwrap_or(Duration::from_secs(1)));
                last = "throttled".into();
            }
            CallOutcome::NotSent(why)
            | CallOutcome::Ambiguous(why)
            | CallOutcome::Rejected(why) => last = why,
        }
    }
    Err(last)
}

/// The files `write_files` puts in `DIR/KEY/`, named as certbot names them, so that a web
/// server's configuration written for certbot's `live/NAME/` reads them unchanged.
pub const CERT_FILE: &str = "cert.pem";
/// The CA's certificates.
pub const CHAIN_FILE: &str = "chain.pem";
/// The certificate followed by the CA's certificates (what nginx's `ssl_certificate` takes).
pub const FULLCHAIN_FILE: &str = "fullchain.pem";
/// The private key NicSRS generated, mode 0600.
pub const KEY_FILE: &str = "privkey.pem";
/// The certId of the certificate in the folder: a folder holding another certificate than
/// the key's current one is written again.
pub const CERT_ID_FILE: &str = ".cert-id";

/// Writes `cert.pem`, `chain.pem`, `fullchain.pem` and (mode 0600) `privkey.pem` into
/// `DIR/KEY/`: one folder per key, so that no key's files can be another's (keys may hold
/// dots: `a` and `a.chain` are two keys).
pub fn write_files(
    dir: &Path,
    key: &str,
    cert_id: &str,
    c: &Collected,
) -> std::io::Result<Vec<PathBuf>> {
    if key.is_empty() || key.starts_with('.') || key.contains(['/', '\\']) {
        return Err(std::io::Error::other(format!(
            "`{key}` cannot be a file name"
        )));
    }
    // What the API sent is written only if it is what its field says: a private key never
    // goes into a world-readable certificate file.
    let labels = |text: &str| -> Vec<String> {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("-----BEGIN "))
            .map(|l| l.trim_end_matches('-').to_owned())
            .collect()
    };
    for (field, text, is_key) in [
        ("certificate", &c.certificate, false),
        ("caCertificate", &c.chain, false),
        ("private key", &c.private_key, true),
    ] {
        let Some(text) = text else { continue };
        let found = labels(text);
        let fits = !found.is_empty()
            && found.iter().all(|l| {
                if is_key {
                    l.ends_with("PRIVATE KEY")
                } else {
                    l == "CERTIFICATE"
                }
            });
        if !fits {
            return Err(std::io::Error::other(format!(
                "the API's {field} is not PEM {} (it holds {}): nothing written",
                if is_key {
                    "private key"
                } else {
                    "certificates"
                },
                if found.is_empty() {
                    "no PEM block".to_owned()
                } else {
                    found
                        .iter()
                        .map(|l| format!("a `{}` block", crate::shown::bounded(l, 40)))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )));
        }
    }
    let mut files: Vec<(&str, String, bool)> = Vec::new();
    if let Some(cert) = &c.certificate {
        files.push((CERT_FILE, cert.clone(), false));
    }
    if let Some(chain) = &c.chain {
        files.push((CHAIN_FILE, chain.clone(), false));
    }
    if let (Some(cert), Some(chain)) = (&c.certificate, &c.chain) {
        let mut full = cert.trim_end().to_owned();
        full.push('\n');
        full.push_str(chain.trim_start());
        if !full.ends_with('\n') {
            full.push('\n');
        }
        files.push((FULLCHAIN_FILE, full, false));
    }
    if let Some(k) = &c.private_key {
        files.push((KEY_FILE, k.clone(), true));
    }
    if files.is_empty() {
        return Ok(Vec::new()); // not issued yet: no folder
    }
    files.push((CERT_ID_FILE, format!("{cert_id}\n"), false));
    let dir = dir.join(key);
    let named = |path: &Path, e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))
    };
    std::fs::create_dir_all(&dir).map_err(|e| named(&dir, e))?;
    // Every file is written beside its place first, then all are renamed into place: a
    // failure leaves the folder as it was, and the next refresh writes it again. Files are
    // created anew, never through a link, so that a key gets mode 0600 whatever was there.
    let mut staged: Vec<crate::atomic::Staged> = Vec::new();
    let discard = |staged: Vec<crate::atomic::Staged>| staged.into_iter().for_each(|s| s.discard());
    for (name, text, secret) in &files {
        let path = dir.join(name);
        match crate::atomic::stage(&path, text.as_bytes(), if *secret { 0o600 } else { 0o644 }) {
            Ok(s) => staged.push(s),
            Err(e) => {
                discard(staged);
                return Err(named(&path, e));
            }
        }
    }
    // A place taken by something that is not a file (a folder) fails the rename: found
    // before anything is renamed, so that the folder stays as it was.
    let aside = dir.join(format!("{KEY_FILE}.previous"));
    if let Some(taken) = staged
        .iter()
        .map(|s| s.path().to_owned())
        .chain([aside.clone()])
        .find(|path| path.symlink_metadata().is_ok_and(|m| !m.is_file()))
    {
        discard(staged);
        return Err(named(
            &taken,
            std::io::Error::new(std::io::ErrorKind::AlreadyExists, "not a regular file"),
        ));
    }
    // A key NicSRS generated for an earlier certificate of this key (replaced since with
    // a CSR of the user's) no longer belongs here: it is set aside, never left beside a
    // certificate it does not match.
    if c.private_key.is_none()
        && let Some(cert) = &c.certificate
    {
        let old_key = dir.join(KEY_FILE);
        if let Some(text) = read_small(&old_key)
            && !key_matches(&text, cert)
            && let Err(e) = std::fs::rename(&old_key, &aside)
        {
            discard(staged);
            return Err(named(&aside, e));
        }
    }
    let mut written = Vec::new();
    let mut staged = staged.into_iter();
    while let Some(file) = staged.next() {
        let path = file.path().to_owned();
        if let Err(e) = file.commit() {
            discard(staged.collect());
            return Err(named(&path, e));
        }
        if !path.ends_with(CERT_ID_FILE) {
            written.push(path);
        }
    }
    Ok(written)
}

/// A small text file of an output folder (a key, a certId), read only if it is a regular
/// file (a FIFO or a device planted there is never read, nothing blocks) of at most 64 KiB.
fn read_small(path: &Path) -> Option<String> {
    let read = crate::bounded::read_regular(path, 64 * 1024).ok()?;
    String::from_utf8(read.bytes).ok()
}

/// Whether the PEM private key `key` is the key of the PEM certificate `cert`.
fn key_matches(key: &str, cert: &str) -> bool {
    let Ok(public) = crate::private_key::public_key_of(key) else {
        return false;
    };
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(cert.as_bytes()) else {
        return false;
    };
    pem.parse_x509()
        .is_ok_and(|c| c.public_key().subject_public_key.data.as_ref() == public.as_slice())
}

/// One job's result, for the single writer.
pub struct Done {
    /// The job.
    pub job: CollectJob,
    /// The response code and what collect said, or why it failed.
    pub result: Result<(i64, Collected), String>,
    /// A reissue or replacement of it that the ledger lost, found by refId.
    pub found: Option<Found>,
}

/// Asks for an order by refId; `None` when it is not found or the API cannot tell.
pub async fn find(client: &Client, pacer: &Pacer, ref_id: &str) -> Option<String> {
    let retry = Retry::FREE_CALL;
    for attempt in retry.attempts() {
        retry.before(attempt, pacer).await;
        match client.call("certIdByrefId", &[("refId", ref_id)]).await {
            CallOutcome::Reply(reply) => match read::lookup(&reply) {
                read::Lookup::Found(id) => return Some(id),
                read::Lookup::NotFound | read::Lookup::Denied => return None,
                read::Lookup::Unclear => {}
            },
            CallOutcome::Throttled(wait) => pacer.pause(wait.unwrap_or(Duration::from_secs(1))),
            CallOutcome::NotSent(_) | CallOutcome::Ambiguous(_) | CallOutcome::Rejected(_) => {}
        }
    }
    None
}

/// For a certificate collect says REISSUED: its reissue or replacement by the tool that
/// the ledger lost, if one of the job's refIds finds it, with what collect says of it.
async fn probe(client: &Client, pacer: &Pacer, job: &CollectJob) -> Option<Found> {
    for (event, ref_id) in &job.probes {
        if let Some(cert_id) = find(client, pacer, ref_id).await {
            let result = collect(client, pacer, &cert_id).await;
            return Some(Found {
                event: *event,
                ref_id: ref_id.clone(),
                cert_id,
                result,
            });
        }
    }
    None
}

/// Collects every job with `concurrency` workers and at most `rate` calls per second;
/// results arrive on the returned channel in completion order.
pub fn spawn(
    client: Client,
    jobs: Vec<CollectJob>,
    concurrency: usize,
    rate: Option<f64>,
) -> mpsc::UnboundedReceiver<Done> {
    let (tx, rx) = mpsc::unbounded_channel();
    let pacer = Arc::new(Pacer::new(rate));
    let _ = crate::pool::spawn(
        jobs,
        concurrency,
        Duration::ZERO,
        || false,
        move |job: CollectJob| {
            let (tx, client, pacer) = (tx.clone(), client.clone(), pacer.clone());
            async move {
                let result = collect(&client, &pacer, &job.row.cert_id).await;
                let found = match &result {
                    Ok((_, c)) if c.status == "REISSUED" => probe(&client, &pacer, &job).await,
                    _ => None,
                };
                tx.send(Done { job, result, found }).is_ok()
            }
        },
    );
    rx
}

/// The rows recording a reissue or replacement found by refId: the call's success row,
/// then what collect said of the new certificate.
pub fn found_rows(job: &CollectJob, found: &Found) -> [Row; 2] {
    let mut done = job.row.clone();
    done.time = ledger::now_rfc3339();
    done.event = found.event;
    done.ref_id = found.ref_id.clone();
    done.cert_id = found.cert_id.clone();
    done.code = Some(crate::nicsrs::wire::Code::Success.value());
    done.message = "found by refId: a call the ledger did not record went through".into();
    done.status.clear();
    done.not_before.clear();
    done.not_after.clear();
    done.due_date.clear();
    done.request_sha256.clear();
    if found.event == Event::Replaced {
        // What it was replaced with is known only from NicSRS.
        done.request_fields.clear();
        if let Ok((_, c)) = &found.result {
            let (fields, names) = held_fields(&job.row.request_fields, c);
            done.request_fields = fields;
            if let Some(names) = names {
                done.domains = names;
            }
        }
    }
    let next = CollectJob {
        row: done.clone(),
        probes: Vec::new(),
    };
    let status = status_row(&next, &found.result);
    [done, status]
}

/// The ledger row recording a result.
pub fn status_row(job: &CollectJob, result: &Result<(i64, Collected), String>) -> Row {
    let mut row = job.row.clone();
    row.time = ledger::now_rfc3339();
    row.event = Event::Status;
    // What collect says is the status; the request is on the rows of the call.
    row.request_fields.clear();
    match result {
        Ok((code, c)) => {
            row.code = Some(*code);
            row.message = String::new();
            row.status = c.status.clone();
            row.not_before = c.begin.clone();
            row.not_after = c.end.clone();
            row.due_date = c.due.clone();
            row.dcv = crate::dcv::names::cell(&c.names);
        }
        Err(why) => {
            row.code = None;
            row.message = format!("collect failed: {why}");
        }
    }
    row
}

/// Days from now until `date` (`2027-02-20 07:59:59`, UTC), if it parses.
pub fn days_left(date: &str) -> Option<i64> {
    let then = crate::lifecycle::parse_date(date)?;
    Some(crate::lifecycle::days_until(then, crate::lifecycle::now()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_a_field_says_it_is_is_written() {
        let dir = std::env::temp_dir().join(format!("nicsrs-write-{}", std::process::id()));
        let key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
        let as_cert = Collected {
            certificate: Some(key.into()),
            ..Collected::default()
        };
        let e = write_files(&dir, "a", "SBX1", &as_cert).expect_err("a key as the certificate");
        assert!(e.to_string().contains("a `PRIVATE KEY` block"), "{e}");
        assert!(!dir.join("a").join(CERT_FILE).exists());
        let fine = Collected {
            certificate: Some(cert.into()),
            private_key: Some(key.into()),
            ..Collected::default()
        };
        assert_eq!(
            write_files(&dir, "a", "SBX1", &fine)
                .expect("written")
                .len(),
            2
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// A certificate and its key, PEM, made by the sandbox's CA for `name`.
    fn issued(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec![name.to_owned()]).expect("params");
        let cert = params.self_signed(&key).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }

    #[test]
    fn a_generated_key_that_no_longer_fits_is_set_aside() {
        let dir = std::env::temp_dir().join(format!("nicsrs-stale-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (cert, key) = issued("a.example");
        let generated = Collected {
            certificate: Some(cert.clone()),
            private_key: Some(key.clone()),
            ..Collected::default()
        };
        write_files(&dir, "a", "SBX1", &generated).expect("written");
        // The same certificate collected again, without its key: the key stays.
        let again = Collected {
            certificate: Some(cert),
            ..Collected::default()
        };
        write_files(&dir, "a", "SBX1", &again).expect("written");
        assert_eq!(
            std::fs::read_to_string(dir.join("a").join(KEY_FILE)).ok(),
            Some(key.clone())
        );
        // Replaced with a CSR of the user's: the old key is set aside.
        let (replaced, _) = issued("a.example");
        let replaced = Collected {
            certificate: Some(replaced),
            ..Collected::default()
        };
        write_files(&dir, "a", "SBX1", &replaced).expect("written");
        assert!(!dir.join("a").join(KEY_FILE).exists());
        assert_eq!(
            std::fs::read_to_string(dir.join("a").join(format!("{KEY_FILE}.previous"))).ok(),
            Some(key)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_failed_write_leaves_the_folder_as_it_was() {
        let dir = std::env::temp_dir().join(format!("nicsrs-staged-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (cert, key) = issued("a.example");
        let all = Collected {
            certificate: Some(cert.clone()),
            chain: Some(cert),
            private_key: Some(key),
            ..Collected::default()
        };
        // The key's place is taken by a folder: nothing is written, nothing is left over.
        std::fs::create_dir_all(dir.join("a").join(KEY_FILE)).expect("obstacle");
        let e = write_files(&dir, "a", "SBX1", &all).expect_err("cannot write the key");
        assert!(e.to_string().contains(KEY_FILE), "the file is named: {e}");
        let left: Vec<String> = std::fs::read_dir(dir.join("a"))
            .expect("folder")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            [KEY_FILE],
            "no certificate without its key, no temporary file"
        );
        std::fs::remove_dir(dir.join("a").join(KEY_FILE)).expect("obstacle");
        assert_eq!(
            write_files(&dir, "a", "SBX1", &all).expect("written").len(),
            4
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_where_a_file_is_staged_is_never_written_through() {
        let dir = std::env::temp_dir().join(format!("nicsrs-planted-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a")).expect("folder");
        let outside = dir.join("outside.txt");
        std::fs::write(&outside, "nothing").expect("file");
        std::os::unix::fs::symlink(&outside, dir.join("a").join(format!(".{KEY_FILE}.tmp")))
            .expect("link");
        let (cert, key) = issued("a.example");
        let c = Collected {
            certificate: Some(cert),
            private_key: Some(key),
            ..Collected::default()
        };
        write_files(&dir, "a", "SBX1", &c).expect("written");
        assert_eq!(
            std::fs::read_to_string(&outside).ok().as_deref(),
            Some("nothing")
        );
        let meta = std::fs::symlink_metadata(dir.join("a").join(KEY_FILE)).expect("key");
        use std::os::unix::fs::PermissionsExt;
        assert!(meta.is_file() && meta.permissions().mode() & 0o777 == 0o600);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn fifos_planted_in_a_key_folder_block_nothing() {
        let dir = std::env::temp_dir().join(format!("nicsrs-fifo-out-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("a")).expect("folder");
        let fifo = |name: &str| {
            let path =
                std::ffi::CString::new(dir.join("a").join(name).to_string_lossy().into_owned())
                    .expect("path");
            // SAFETY: a valid NUL-terminated path.
            assert_eq!(unsafe { libc::mkfifo(path.as_ptr(), 0o600) }, 0, "mkfifo");
        };
        // A FIFO where an old key would be: never read (nothing blocks), never set aside.
        fifo(KEY_FILE);
        let (cert, _) = issued("a.example");
        let c = Collected {
            certificate: Some(cert),
            ..Collected::default()
        };
        write_files(&dir, "a", "SBX1", &c).expect("written beside it");
        assert!(!dir.join("a").join(format!("{KEY_FILE}.previous")).exists());
        // A FIFO where the certId is: read as no certId, and refused as a place to write.
        std::fs::remove_file(dir.join("a").join(CERT_ID_FILE)).expect("certId");
        fifo(CERT_ID_FILE);
        assert_eq!(read_small(&dir.join("a").join(CERT_ID_FILE)), None);
        let e = write_files(&dir, "a", "SBX1", &c).expect_err("a FIFO in the certId's place");
        assert!(e.to_string().contains("not a regular file"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn keys_that_share_a_prefix_never_share_a_file() {
        let dir = std::env::temp_dir().join(format!("nicsrs-prefix-{}", std::process::id()));
        let pem = |body: &str| {
            format!("-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n")
        };
        let of = |leaf: &str, ca: &str| Collected {
            certificate: Some(pem(leaf)),
            chain: Some(pem(ca)),
            ..Collected::default()
        };
        write_files(&dir, "a", "SBX1", &of("LEAFA", "CAA")).expect("a");
        write_files(&dir, "a.chain", "SBX2", &of("LEAFB", "CAB")).expect("a.chain");
        let read = |key: &str, file: &str| {
            std::fs::read_to_string(dir.join(key).join(file)).expect("written")
        };
        assert!(read("a", CERT_FILE).contains("LEAFA"));
        assert!(read("a", CHAIN_FILE).contains("CAA"));
        assert!(read("a.chain", CERT_FILE).contains("LEAFB"));
        assert!(read("a.chain", CHAIN_FILE).contains("CAB"));
        let full = read("a", FULLCHAIN_FILE);
        assert!(full.find("LEAFA") < full.find("CAA"), "{full}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn days_left_reads_nicsrs_dates() {
        assert!(days_left("2000-01-01 00:00:00").is_some_and(|d| d < 0));
        assert!(days_left("2999-01-01 00:00:00").is_some_and(|d| d > 300_000));
        assert_eq!(days_left("not a date"), None);
    }
}
