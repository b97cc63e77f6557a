//! `--verify-dcv`: the sandbox validates names as a CA does. Every half second it looks up
//! the evidence of each pending order's unverified names — the DNS record through the
//! resolver it was given, the file over HTTP — and marks the names it finds right; collect
//! issues an order only once all its names are verified, and `dcvList` says which are.
//! Names validated by `EMAIL` count as verified: a sandbox has no mailbox to click in.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::App;
use super::store::Status;
use crate::dcv::check::{Checker, Outcome, check_dns, check_file};

/// Where the sandbox looks for evidence.
#[derive(Clone, Copy, Debug)]
pub struct Verify {
    /// The DNS resolver asked.
    pub resolver: SocketAddr,
    /// Fetch files from this address instead of the names' own (as curl's --connect-to).
    pub connect_to: Option<SocketAddr>,
}

/// How often pending names are looked up.
const EVERY: Duration = Duration::from_millis(500);

/// What one name needs, as the sandbox's replies told it.
#[derive(Clone, Debug)]
enum Evidence {
    Dns {
        name: String,
        kind: String,
        value: String,
    },
    File {
        url: String,
        content: String,
    },
    Nothing,
}

/// One name to look up.
struct Pending {
    cert_id: String,
    domain: String,
    evidence: Evidence,
}

/// The evidence of every unverified name of every pending order.
fn pending(app: &App) -> Vec<Pending> {
    let inner = app.store.lock();
    let mut out = Vec::new();
    for order in inner.orders.iter().filter(|o| o.status == Status::Pending) {
        let family = super::api::family(app, &order.product_code);
        for (domain, method, fields) in super::shapes::per_name(order, family) {
            if inner.is_verified(&order.cert_id, &domain) {
                continue;
            }
            let base = domain.trim_start_matches("*.").to_ascii_lowercase();
            let text = |k: &str| fields.get(k).and_then(Value::as_str).unwrap_or_default();
            let evidence = match method.as_str() {
                "EMAIL" => Evidence::Nothing,
                m if m.starts_with("HTTP") && !text("DCVfileName").is_empty() => {
                    let scheme = if m.starts_with("HTTPS") {
                        "https"
                    } else {
                        "http"
                    };
                    Evidence::File {
                        url: format!(
                            "{scheme}://{base}/.well-known/pki-validation/{}",
                            text("DCVfileName")
                        ),
                        content: text("DCVfileContent").to_owned(),
                    }
                }
                _ if !text("DCVdnsHost").is_empty() => Evidence::Dns {
                    name: format!("{}.{base}", text("DCVdnsHost")),
                    kind: text("DCVdnsType").to_ascii_uppercase(),
                    value: text("DCVdnsValue").to_owned(),
                },
                // A method the sandbox has no evidence for stays unverified.
                _ => continue,
            };
            out.push(Pending {
                cert_id: order.cert_id.clone(),
                domain,
                evidence,
            });
        }
    }
    out
}

/// Looks the evidence up until the sandbox stops.
pub async fn run(app: Arc<App>, verify: Verify) {
    let checker = Checker {
        resolver: verify.resolver,
        connect_to: verify.connect_to,
    };
    loop {
        tokio::time::sleep(EVERY).await;
        let names = pending(&app);
        if names.is_empty() {
            continue;
        }
        let hosts: Vec<String> = names
            .iter()
            .filter_map(|p| match &p.evidence {
                Evidence::File { url, .. } => url.split('/').nth(2).map(str::to_owned),
                _ => None,
            })
            .collect();
        let Ok(http) = checker.http_client(hosts.iter().map(String::as_str)) else {
            continue;
        };
        let mut found = Vec::new();
        for p in &names {
            let outcome = match &p.evidence {
                Evidence::Nothing => Outcome::Right,
                Evidence::Dns { name, kind, value } => {
                    check_dns(verify.resolver, name, kind, value).await
                }
                Evidence::File { url, content } => check_file(&http, url, content).await,
            };
            if outcome == Outcome::Right {
                found.push((p.cert_id.clone(), p.domain.clone()));
            }
        }
        if found.is_empty() {
            continue;
        }
        let generation = {
            let mut inner = app.store.lock();
            for (cert_id, domain) in found {
                inner.mark_verified(&cert_id, &domain);
            }
            inner.touch()
        };
        let _ = app.store.save(generation).await;
    }
}
