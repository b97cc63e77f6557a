//! Looking each record up, read-only, before anyone waits for the CA: a DNS record through
//! a resolver, a file by fetching its URL (optionally from another address, like curl's
//! `--connect-to`). Used by `dcv --check`, `apply --require-dcv` and the sandbox's
//! `--verify-dcv`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::dns::{self, Found};
use super::records::Record;

/// The most of a validation file read: CAs' files are a few lines.
const MAX_BODY: usize = 8 * 1024;
/// Lookups and fetches in flight at once.
const PARALLEL: usize = 16;

/// What a check found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase", tag = "check", content = "found")]
pub enum Outcome {
    /// Published and right.
    Right,
    /// Not there: no such DNS record, or the file answered 404.
    Missing,
    /// There, but not what the CA looks for: what was found instead.
    Wrong(String),
    /// The lookup or fetch failed (timeout, refused, TLS): why.
    Failed(String),
    /// Nothing to look up: an approver's mail, or a record not known yet.
    Unchecked,
    /// The CA has already verified the name: nothing to look up.
    Verified,
}

impl Outcome {
    /// Whether it stands in the way of validation.
    pub fn is_blocking(&self) -> bool {
        matches!(
            self,
            Outcome::Missing | Outcome::Wrong(_) | Outcome::Failed(_)
        )
    }

    /// One word for tables and counts.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Right => "right",
            Outcome::Missing => "missing",
            Outcome::Wrong(_) => "wrong",
            Outcome::Failed(_) => "failed",
            Outcome::Unchecked => "unchecked",
            Outcome::Verified => "verified",
        }
    }
}

/// Where the checks look.
#[derive(Clone, Debug)]
pub struct Checker {
    /// The DNS resolver asked (recursion desired).
    pub resolver: SocketAddr,
    /// Fetch every file from this address instead of the name's own.
    pub connect_to: Option<SocketAddr>,
}

impl Checker {
    /// Checks `records` (at most 16 at a time); the outcomes are in the records' order.
    pub async fn check_all(&self, records: &[Record]) -> Vec<Outcome> {
        let http = match self.http_client(records.iter().map(|r| host_of(&r.url))) {
            Ok(c) => c,
            Err(e) => return records.iter().map(|_| Outcome::Failed(e.clone())).collect(),
        };
        let limit = Arc::new(tokio::sync::Semaphore::new(PARALLEL));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, r) in records.iter().enumerate() {
            let (r, http, limit, resolver) =
                (r.clone(), http.clone(), limit.clone(), self.resolver);
            tasks.spawn(async move {
                let _permit = limit.acquire_owned().await;
                (i, check_record(resolver, &http, &r).await)
            });
        }
        let mut out = vec![Outcome::Unchecked; records.len()];
        while let Some(done) = tasks.join_next().await {
            if let Ok((i, outcome)) = done {
                out[i] = outcome;
            }
        }
        out
    }

    /// The HTTP client for files: no redirects followed (a CA may not follow them, and
    /// a redirect is reported), short timeouts, and with `connect_to` every host sent
    /// there.
    pub fn http_client<'a>(
        &self,
        hosts: impl Iterator<Item = &'a str>,
    ) -> Result<reqwest::Client, String> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!(
                "nicsrs-batch/",
                env!("CARGO_PKG_VERSION"),
                " dcv-check"
            ));
        if let Some(addr) = self.connect_to {
            for host in hosts.filter(|h| !h.is_empty()) {
                builder = builder.resolve(host, addr);
            }
        }
        builder.build().map_err(|e| e.to_string())
    }
}

/// The host of a URL `scheme://host/...`.
fn host_of(url: &str) -> &str {
    url.split_once("://")
        .map_or("", |(_, rest)| rest.split('/').next().unwrap_or(""))
}

/// Checks one record.
async fn check_record(resolver: SocketAddr, http: &reqwest::Client, r: &Record) -> Outcome {
    if r.state == "verified" {
        return Outcome::Verified;
    }
    match r.kind.as_str() {
        "CNAME" | "TXT" => check_dns(resolver, &r.name, &r.kind, &r.value).await,
        "FILE" => check_file(http, &r.url, &r.content).await,
        _ => Outcome::Unchecked,
    }
}

/// Whether `name` holds a `kind` record of `value` (a CNAME compared without case or final
/// dot; a TXT exactly).
pub async fn check_dns(resolver: SocketAddr, name: &str, kind: &str, value: &str) -> Outcome {
    match dns::lookup(resolver, name, kind).await {
        Ok(Found::Nothing) => Outcome::Missing,
        // A name has one CNAME: two are not what a CA can follow.
        Ok(Found::Values(found)) if kind == "CNAME" && found.len() > 1 => Outcome::Wrong(format!(
            "{} CNAME records: {}",
            found.len(),
            shown_values(&found)
        )),
        Ok(Found::Values(found)) => {
            let right = found.iter().any(|f| {
                if kind == "CNAME" {
                    f.trim_end_matches('.')
                        .eq_ignore_ascii_case(value.trim_end_matches('.'))
                } else {
                    f == value
                }
            });
            if right {
                Outcome::Right
            } else {
                Outcome::Wrong(shown_values(&found))
            }
        }
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

fn shown_values(found: &[String]) -> String {
    let all: Vec<String> = found
        .iter()
        .take(4)
        .map(|v| crate::shown::bounded(v, 120))
        .collect();
    all.join(", ")
}

/// The content as CAs compare it: lines without trailing spaces or CRs, no final newline.
fn normal(content: &str) -> String {
    content
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n")
        .trim_end()
        .to_owned()
}

/// Whether `url` answers 200 with `content`.
pub async fn check_file(http: &reqwest::Client, url: &str, content: &str) -> Outcome {
    let mut response = match http.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Failed(describe(&e)),
    };
    let status = response.status();
    if status == reqwest::StatusCode::NOT_FOUND || status == reqwest::StatusCode::GONE {
        return Outcome::Missing;
    }
    if status.is_redirection() {
        let to = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(|v| crate::shown::bounded(v, 120))
            .unwrap_or_default();
        return Outcome::Wrong(format!(
            "HTTP {} to {to} (the CA may not follow redirects)",
            status.as_u16()
        ));
    }
    if !status.is_success() {
        return Outcome::Wrong(format!("HTTP {}", status.as_u16()));
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_BODY {
                    return Outcome::Wrong(format!("a file of more than {MAX_BODY} bytes"));
                }
            }
            Ok(None) => break,
            Err(e) => return Outcome::Failed(describe(&e)),
        }
    }
    let found = String::from_utf8_lossy(&body);
    if normal(&found) == normal(content) {
        Outcome::Right
    } else {
        Outcome::Wrong(crate::shown::quote(&crate::shown::bounded(
            &found.replace('\n', " / "),
            160,
        )))
    }
}

/// A fetch error with its causes (reqwest's own text is only "error sending request").
fn describe(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "timed out".to_owned()
    } else if e.is_connect() {
        "cannot connect".to_owned()
    } else {
        "request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    crate::shown::bounded(&text, 240)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_contents_compare_as_cas_read_them() {
        assert_eq!(normal("ABC\r\nsectigo.com\r\n"), "ABC\nsectigo.com");
        assert_eq!(normal("ABC  \nsectigo.com\n\n"), normal("ABC\nsectigo.com"));
        assert_ne!(normal("ABC\nsectigo.org"), normal("ABC\nsectigo.com"));
        assert_eq!(
            host_of("http://shop.example.com/.well-known/x"),
            "shop.example.com"
        );
    }
}
