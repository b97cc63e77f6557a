//! The NicSRS client: one form-encoded POST per call, and every way a call can end
//! sorted by what it means for money: not sent, throttled, answered, or unknown.

use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{LOCATION, RETRY_AFTER};

use crate::nicsrs::wire::Reply;

/// The live API.
pub const LIVE_ENDPOINT: &str = "https://portal.nicsrs.com";

/// Largest reply read (a collect with a certificate, its chain and a PKCS#12 is tens of
/// KiB): a longer one is not NicSRS's, and is not read to the end.
pub const MAX_REPLY_BYTES: usize = 4 << 20;

/// Largest token file read: a token is tens of bytes.
pub const MAX_TOKEN_FILE_BYTES: u64 = 4096;

/// The API token. Its `Debug` never shows it, and it is only ever put in a request body.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// Wraps a token.
    pub fn new(token: impl Into<String>) -> Self {
        Token(token.into())
    }

    /// Reads the token from `NICSRS_API_TOKEN`, or from `file` when one is given: a
    /// regular file of at most [`MAX_TOKEN_FILE_BYTES`] (never a FIFO or a device, which
    /// could block or never end). Returns a warning to show when the file can be read by
    /// others than its owner (as ssh refuses such keys).
    pub fn from_env_or_file(file: Option<&Path>) -> Result<(Token, Option<String>), ClientError> {
        if let Some(path) = file {
            let cannot = |e: &dyn std::fmt::Display| {
                ClientError::Token(format!(
                    "cannot read the token file {}: {e}",
                    path.display()
                ))
            };
            let read =
                crate::bounded::read_regular(path, MAX_TOKEN_FILE_BYTES).map_err(|e| cannot(&e))?;
            let text =
                String::from_utf8(read.bytes).map_err(|_| cannot(&"it is not UTF-8 text"))?;
            let token = text.trim();
            if token.is_empty() {
                return Err(ClientError::Token(format!(
                    "the token file {} is empty",
                    path.display()
                )));
            }
            if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(cannot(&"it holds more than one word; a token is one line"));
            }
            let warning = read.others_can_read.then(|| {
                format!(
                    "the token file {} can be read by other users (mode {:o}); `chmod 600 {}`",
                    path.display(),
                    read.mode & 0o777,
                    path.display()
                )
            });
            return Ok((Token(token.to_owned()), warning));
        }
        match std::env::var("NICSRS_API_TOKEN") {
            Ok(t) if !t.trim().is_empty() => Ok((Token(t.trim().to_owned()), None)),
            _ => Err(ClientError::Token(
                "no API token: set NICSRS_API_TOKEN or pass --token-file FILE (or use --sandbox)"
                    .into(),
            )),
        }
    }

    /// The token, for the request body only.
    fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Why the client cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is unusable.
    #[error("endpoint {url}: {message}")]
    Endpoint {
        /// The URL given.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// There is no token.
    #[error("{0}")]
    Token(String),
    /// The HTTP client could not be built.
    #[error("cannot set up HTTP: {0}")]
    Http(String),
}

/// Checks an endpoint: `https://`, or `http://` to a loopback host only.
/// Returns the base URL without a trailing slash, and whether it is a loopback host.
pub fn check_endpoint(url: &str) -> Result<(String, bool), ClientError> {
    let bad = |message: &str| ClientError::Endpoint {
        url: url.to_owned(),
        message: message.to_owned(),
    };
    let parsed = reqwest::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => return Err(bad("it has no host")),
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => {
            return Err(bad(
                "plain http:// is allowed only to a loopback host; the token would travel in clear",
            ));
        }
        other => return Err(bad(&format!("unsupported scheme {other}"))),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("credentials do not belong in the URL"));
    }
    Ok((url.trim_end_matches('/').to_owned(), loopback))
}

/// How long calls may take.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// To establish a connection.
    pub connect: Duration,
    /// For the whole request, reply included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// How a call ended.
#[derive(Debug)]
pub enum CallOutcome {
    /// The API answered (any `code`).
    Reply(Box<Reply>),
    /// The request never left: connection refused, DNS, connect timeout. Safe to resend.
    NotSent(String),
    /// 429 or 503: not processed; wait (this long, if the server said) and resend.
    Throttled(Option<Duration>),
    /// An HTTP status that says the request was not processed (404, 405, ...).
    Rejected(String),
    /// Sent, but the outcome is unknown: timeout after sending, reset, 5xx, unreadable reply.
    Ambiguous(String),
}

/// A client of one endpoint with one token.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Token,
}

impl Client {
    /// A client of `base` (checked by [`check_endpoint`]).
    pub fn new(base: &str, token: Token, timeouts: Timeouts) -> Result<Client, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("nicsrs-batch/", env!("CARGO_PKG_VERSION")))
            // The token is in the body: a redirect would carry it to wherever it points.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Http(e.to_string()))?;
        Ok(Client {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token,
        })
    }

    /// `POST /ssl/{endpoint}` with `fields` and the token.
    pub async fn call(&self, endpoint: &str, fields: &[(&str, &str)]) -> CallOutcome {
        if fields
            .iter()
            .any(|(name, value)| *name == "refId" && value.trim().is_empty())
        {
            // A refId is how an unknown outcome is found again: never sent without one.
            return CallOutcome::Rejected("not sent: the call has an empty refId".into());
        }
        let mut form: Vec<(&str, &str)> = Vec::with_capacity(fields.len() + 1);
        form.push(("api_token", self.token.expose()));
        form.extend_from_slice(fields);
        let url = format!("{}/ssl/{endpoint}", self.base);
        let response = match self.http.post(&url).form(&form).send().await {
            Ok(r) => r,
            Err(e) => return classify_send_error(&e),
        };
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS || status == StatusCode::SERVICE_UNAVAILABLE {
            let wait = response
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(|s| Duration::from_secs(s.min(300)));
            return CallOutcome::Throttled(wait);
        }
        if status.is_redirection() {
            let to = response
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| reqwest::Url::parse(&url).ok()?.join(v).ok())
                .map_or_else(
                    || "nowhere readable".to_owned(),
                    |u| {
                        let host = u.host_str().unwrap_or("no host");
                        let host = crate::shown::bounded(host, 80);
                        match u.port() {
                            Some(p) => format!("{}://{host}:{p}", u.scheme()),
                            None => format!("{}://{host}", u.scheme()),
                        }
                    },
                );
            return CallOutcome::Rejected(format!(
                "HTTP {status}: the API redirected to {to}; redirects are never followed (the token would go with the request): check --endpoint"
            ));
        }
        if status.is_server_error() {
            return CallOutcome::Ambiguous(format!("HTTP {status} from the API"));
        }
        if !status.is_success() {
            return CallOutcome::Rejected(format!("HTTP {status} from {url}"));
        }
        let mut response = response;
        let mut body = Vec::new();
        loop {
            match response.chunk().await {
                Ok(Some(chunk)) => {
                    if body.len() + chunk.len() > MAX_REPLY_BYTES {
                        return CallOutcome::Ambiguous(format!(
                            "the reply is longer than {} MiB: not NicSRS's",
                            MAX_REPLY_BYTES >> 20
                        ));
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(e) => return classify_send_error(&e),
            }
        }
        let parsed = serde_json::from_slice::<serde_json::Value>(&body).and_then(|mut value| {
            redact_value(&mut value, self.token.expose());
            serde_json::from_value::<Reply>(value)
        });
        match parsed {
            Ok(reply) => CallOutcome::Reply(Box::new(reply)),
            Err(_) => CallOutcome::Ambiguous(format!(
                "the reply is not NicSRS JSON ({} bytes)",
                body.len()
            )),
        }
    }
}

/// Replaces the token wherever a reply repeats it (an `errors` that echoes the request,
/// say): nothing the API says is printed or recorded with the token in it.
fn redact_value(value: &mut serde_json::Value, token: &str) {
    use serde_json::Value;
    match value {
        Value::String(s) => {
            let redacted = crate::shown::redact(s, token);
            if redacted != *s {
                *s = redacted;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_value(v, token)),
        Value::Object(map) => {
            let keys: Vec<String> = map.keys().filter(|k| k.contains(token)).cloned().collect();
            for k in keys {
                if let Some(v) = map.shift_remove(&k) {
                    map.insert(crate::shown::redact(&k, token), v);
                }
            }
            map.values_mut().for_each(|v| redact_value(v, token));
        }
        _ => {}
    }
}

fn classify_send_error(e: &reqwest::Error) -> CallOutcome {
    let text = describe(e);
    if e.is_connect() {
        CallOutcome::NotSent(text)
    } else if e.is_timeout() {
        CallOutcome::Ambiguous(format!("no reply in time ({text})"))
    } else {
        CallOutcome::Ambiguous(text)
    }
}

/// The error and its causes on one line, without the URL's query (there is none) and
/// never the body, which holds the token.
fn describe(e: &reqwest::Error) -> String {
    let mut parts = vec![e.without_url_ref().to_string()];
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        let mut text = self.to_string();
        if let Some(url) = self.url() {
            text = text.replace(&format!(" for url ({url})"), "");
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_https_or_loopback_http() {
        assert_eq!(
            check_endpoint("https://portal.nicsrs.com/")
                .map(|e| e.1)
                .ok(),
            Some(false)
        );
        assert_eq!(
            check_endpoint("http://127.0.0.1:8080").map(|e| e.1).ok(),
            Some(true)
        );
        assert_eq!(
            check_endpoint("http://[::1]:8080").map(|e| e.1).ok(),
            Some(true)
        );
        assert!(check_endpoint("http://portal.nicsrs.com").is_err());
        assert!(check_endpoint("http://10.0.0.1").is_err());
        assert!(check_endpoint("ftp://127.0.0.1").is_err());
        assert!(format!("{:?}", Token::new("secret")).contains("redacted"));
    }
}
