//! DNS for domain validation, through hickory-dns: read-only lookups of the records
//! (`dcv --check`, the sandbox's `--verify-dcv`) and RFC 2136 dynamic updates signed with
//! TSIG (`dcv publish`), the way cert-manager and lego publish ACME records.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_client::client::{Client, ClientHandle};
use hickory_proto::dnssec::rdata::tsig::TsigAlgorithm;
use hickory_proto::dnssec::tsig::TSigner;
use hickory_proto::op::{Message, MessageFinalizer, ResponseCode, UpdateMessage, update_message};
use hickory_proto::rr::rdata::{CNAME, TXT};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordSet, RecordType};
use hickory_proto::runtime::TokioRuntimeProvider;
use hickory_proto::tcp::TcpClientStream;
use hickory_proto::udp::UdpClientStream;
use hickory_proto::xfer::DnsResponse;

/// How long one DNS exchange may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// A DNS failure, worded for the person running the command. It never holds a key.
#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    /// No answer, or an answer that could not be read.
    #[error("{server}: {message}")]
    Exchange {
        /// The server asked.
        server: SocketAddr,
        /// What went wrong.
        message: String,
    },
    /// The server answered with an error code, or refused the key.
    #[error("{server}: {code}{hint}")]
    Refused {
        /// The server asked.
        server: SocketAddr,
        /// What it answered (`answered REFUSED`, ...).
        code: String,
        /// What usually causes it.
        hint: &'static str,
    },
    /// A name that is not a DNS name.
    #[error("{0} is not a DNS name")]
    Name(String),
    /// The server is not authoritative for any zone above the name.
    #[error("{server} is not authoritative for a zone containing {name}")]
    NoZone {
        /// The server asked.
        server: SocketAddr,
        /// The record's name.
        name: String,
    },
    /// The TSIG key file is unusable.
    #[error("TSIG key {path}: {message}")]
    Key {
        /// The key file.
        path: std::path::PathBuf,
        /// What is wrong with it (never its secret).
        message: String,
    },
}

/// An absolute DNS name from a record's name, without or with its final dot.
pub fn name(text: &str) -> Result<Name, DnsError> {
    let absolute = format!("{}.", text.trim_end_matches('.'));
    Name::from_ascii(&absolute).map_err(|_| DnsError::Name(crate::shown::bounded(text, 100)))
}

/// The resolver of the system: the first `nameserver` of `/etc/resolv.conf`, as the C
/// library uses it (127.0.0.1 when there is none).
pub fn system_resolver() -> SocketAddr {
    let text = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    text.lines()
        .filter_map(|l| l.trim().strip_prefix("nameserver"))
        .filter_map(|rest| rest.trim().split('%').next()?.parse().ok())
        .map(|ip| SocketAddr::new(ip, 53))
        .next()
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 53)))
}

/// What a lookup found at a name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Found {
    /// Records of the type asked: CNAME targets (without the final dot) or TXT strings
    /// (the strings of one record joined, as CAs read them).
    Values(Vec<String>),
    /// No such name, or no record of that type there.
    Nothing,
}

/// Asks `server` for the `CNAME` or `TXT` records at `name`, over UDP (TCP when the
/// answer is truncated), with recursion desired.
pub async fn lookup(server: SocketAddr, name: &str, kind: &str) -> Result<Found, DnsError> {
    let qname = self::name(name)?;
    let owner = qname.clone();
    let rtype = match kind {
        "TXT" => RecordType::TXT,
        _ => RecordType::CNAME,
    };
    let mut response = query_udp(server, qname.clone(), rtype).await?;
    if response.truncated() {
        response = query_tcp(server, qname, rtype).await?;
    }
    match response.response_code() {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Ok(Found::Nothing),
        code => return Err(refused(server, code)),
    }
    // Only records owned by the name asked: a resolver's answer may carry others (a
    // chain, another name), which say nothing of this one.
    let values: Vec<String> = response
        .answers()
        .iter()
        .filter(|r| r.record_type() == rtype && r.dns_class() == DNSClass::IN && r.name() == &owner)
        .filter_map(|r| match r.data() {
            RData::CNAME(c) => Some(c.0.to_ascii().trim_end_matches('.').to_owned()),
            RData::TXT(t) => Some(
                t.txt_data()
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect::<String>(),
            ),
            _ => None,
        })
        .collect();
    Ok(if values.is_empty() {
        Found::Nothing
    } else {
        Found::Values(values)
    })
}

fn exchange_error(server: SocketAddr, e: impl std::fmt::Display) -> DnsError {
    DnsError::Exchange {
        server,
        message: crate::shown::bounded(&e.to_string(), 200),
    }
}

/// An exchange of signed messages that failed: a reply whose signature could not be
/// checked is how a server that does not know the key (or its secret) answers.
fn signed_exchange_error(server: SocketAddr, e: impl std::fmt::Display) -> DnsError {
    let text = e.to_string();
    let lower = text.to_ascii_lowercase();
    if lower.contains("tsig") || lower.contains("hmac") || lower.contains("signature") {
        return DnsError::Refused {
            server,
            code: "the TSIG key was refused".into(),
            hint: " (its reply is not signed with the key: the server does not know the key, or its name, algorithm or secret differ from the server's)",
        };
    }
    exchange_error(server, text)
}

fn refused(server: SocketAddr, code: ResponseCode) -> DnsError {
    let hint = match code {
        ResponseCode::Refused => {
            " (the server does not allow this: for an update, is the key allowed to update the zone?)"
        }
        ResponseCode::NotAuth => " (the key is unknown to the server or its secret differs)",
        ResponseCode::NotZone => " (the name is not in the zone updated)",
        ResponseCode::ServFail => " (the server failed; is the zone loaded?)",
        _ => "",
    };
    DnsError::Refused {
        server,
        code: format!("answered {}", code.to_str()),
        hint,
    }
}

async fn query_udp(
    server: SocketAddr,
    name: Name,
    rtype: RecordType,
) -> Result<DnsResponse, DnsError> {
    let stream = UdpClientStream::builder(server, TokioRuntimeProvider::new())
        .with_timeout(Some(TIMEOUT))
        .build();
    let (mut client, bg) = Client::connect(stream)
        .await
        .map_err(|e| exchange_error(server, e))?;
    let bg = tokio::spawn(bg);
    let answer = client.query(name, DNSClass::IN, rtype).await;
    bg.abort();
    answer.map_err(|e| exchange_error(server, e))
}

async fn tcp_client(
    server: SocketAddr,
    signer: Option<Arc<dyn MessageFinalizer>>,
) -> Result<(Client, tokio::task::JoinHandle<()>), DnsError> {
    let (stream, sender) =
        TcpClientStream::new(server, None, Some(TIMEOUT), TokioRuntimeProvider::new());
    let (client, bg) = Client::with_timeout(stream, sender, TIMEOUT, signer)
        .await
        .map_err(|e| exchange_error(server, e))?;
    let bg = tokio::spawn(async move {
        let _ = bg.await;
    });
    Ok((client, bg))
}

async fn query_tcp(
    server: SocketAddr,
    name: Name,
    rtype: RecordType,
) -> Result<DnsResponse, DnsError> {
    let (mut client, bg) = tcp_client(server, None).await?;
    let answer = client.query(name, DNSClass::IN, rtype).await;
    bg.abort();
    answer.map_err(|e| exchange_error(server, e))
}

/// A TSIG key: its name, algorithm and secret. `Debug` never shows the secret.
pub struct TsigKey {
    /// The key's name, as the server knows it.
    pub name: String,
    algorithm: TsigAlgorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TsigKey {
    /// Reads a key file in any of the forms DNS servers write them: BIND's
    /// (`key "name" { algorithm hmac-sha256; secret "…"; };`, from `tsig-keygen`), Knot's
    /// (`key: - id: name  algorithm: …  secret: …`, from `keymgr -t`), or one line
    /// `[algorithm:]name:secret` (as `nsupdate -y` takes it).
    pub fn from_file(path: &std::path::Path) -> Result<TsigKey, DnsError> {
        let bad = |message: String| DnsError::Key {
            path: path.to_owned(),
            message,
        };
        let read = crate::bounded::read_regular(path, 64 * 1024).map_err(|e| bad(e.to_string()))?;
        if read.others_can_read {
            eprintln!(
                "warning: {}: others can read this TSIG key (mode {:o}); `chmod 600` it",
                path.display(),
                read.mode & 0o777
            );
        }
        let bytes = read.bytes;
        let text = String::from_utf8(bytes).map_err(|_| bad("not UTF-8 text".into()))?;
        let (name, algorithm, secret) = parse_key(&text).ok_or_else(|| {
            bad("no key found: expected BIND's `key \"name\" { algorithm …; secret \"…\"; };`, Knot's `key:` list, or `algorithm:name:secret`".into())
        })?;
        let algorithm = match algorithm.to_ascii_lowercase().trim_end_matches('.') {
            "hmac-sha256" | "" => TsigAlgorithm::HmacSha256,
            "hmac-sha384" => TsigAlgorithm::HmacSha384,
            "hmac-sha512" => TsigAlgorithm::HmacSha512,
            // Not quoted: a file with its fields in the wrong order would print the secret.
            _ => {
                return Err(bad(
                    "its algorithm is not one of hmac-sha256, hmac-sha384, hmac-sha512".into(),
                ));
            }
        };
        let secret = data_encoding::BASE64
            .decode(secret.as_bytes())
            .map_err(|_| bad("the secret is not base64".into()))?;
        if secret.is_empty() {
            return Err(bad("the secret is empty".into()));
        }
        if name.trim_end_matches('.').is_empty()
            || Name::from_ascii(format!("{}.", name.trim_end_matches('.'))).is_err()
        {
            return Err(bad("the key's name is not a DNS name".into()));
        }
        Ok(TsigKey {
            name,
            algorithm,
            secret,
        })
    }

    fn signer(&self) -> Result<Arc<dyn MessageFinalizer>, String> {
        let name = Name::from_ascii(format!("{}.", self.name.trim_end_matches('.')))
            .map_err(|e| e.to_string())?;
        let signer = TSigner::new(self.secret.clone(), self.algorithm.clone(), name, 300)
            .map_err(|e| e.to_string())?;
        Ok(Arc::new(signer))
    }
}

/// (name, algorithm, secret) of the first key in a key file.
fn parse_key(text: &str) -> Option<(String, String, String)> {
    let unquote = |s: &str| {
        s.trim()
            .trim_end_matches(';')
            .trim()
            .trim_matches('"')
            .to_owned()
    };
    if let Some(at) = text.find("key ").filter(|_| text.contains('{')) {
        // BIND: key "name" { algorithm hmac-sha256; secret "base64"; };
        let rest = &text[at + 4..];
        let (name, body) = rest.split_once('{')?;
        let mut algorithm = String::new();
        let mut secret = String::new();
        for statement in body.split(';') {
            let statement = statement.trim();
            if let Some(v) = statement.strip_prefix("algorithm") {
                algorithm = unquote(v);
            } else if let Some(v) = statement.strip_prefix("secret") {
                secret = unquote(v);
            }
        }
        return (!secret.is_empty()).then(|| (unquote(name), algorithm, secret));
    }
    if text.contains("secret:") {
        // Knot: key: - id: name / algorithm: … / secret: …
        let mut name = String::new();
        let mut algorithm = String::new();
        let mut secret = String::new();
        for line in text.lines() {
            let line = line.trim().trim_start_matches("- ").trim();
            if let Some(v) = line.strip_prefix("id:") {
                name = unquote(v);
            } else if let Some(v) = line.strip_prefix("algorithm:") {
                algorithm = unquote(v);
            } else if let Some(v) = line.strip_prefix("secret:") {
                secret = unquote(v);
            }
        }
        return (!secret.is_empty() && !name.is_empty()).then_some((name, algorithm, secret));
    }
    // [algorithm:]name:secret
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    let parts: Vec<&str> = line.split(':').collect();
    match parts.as_slice() {
        [name, secret] => Some(((*name).to_owned(), String::new(), (*secret).to_owned())),
        [algorithm, name, secret] => Some((
            (*name).to_owned(),
            (*algorithm).to_owned(),
            (*secret).to_owned(),
        )),
        _ => None,
    }
}

/// One record to add or remove.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    /// The absolute name, without the final dot.
    pub name: String,
    /// `CNAME` or `TXT`.
    pub kind: String,
    /// The CNAME target or the TXT string.
    pub value: String,
}

impl Change {
    fn record(&self, ttl: u32) -> Result<Record, DnsError> {
        let name = self::name(&self.name)?;
        let data = match self.kind.as_str() {
            "CNAME" => RData::CNAME(CNAME(self::name(&self.value)?)),
            _ => RData::TXT(TXT::new(vec![self.value.clone()])),
        };
        Ok(Record::from_rdata(name, ttl, data))
    }
}

/// An authoritative server that takes dynamic updates signed with a TSIG key.
pub struct Updater {
    server: SocketAddr,
    client: Client,
    bg: tokio::task::JoinHandle<()>,
}

impl Drop for Updater {
    fn drop(&mut self) {
        self.bg.abort();
    }
}

impl Updater {
    /// Connects to `server` over TCP; every message is signed with `key`.
    pub async fn connect(server: SocketAddr, key: &TsigKey) -> Result<Updater, DnsError> {
        let signer = key.signer().map_err(|message| DnsError::Exchange {
            server,
            message: format!("cannot sign with the key: {message}"),
        })?;
        let (client, bg) = tcp_client(server, Some(signer)).await?;
        Ok(Updater { server, client, bg })
    }

    /// The zone the server is authoritative for that holds `name`: the closest enclosing
    /// name whose SOA the server answers with authority (what lego and cert-manager do).
    pub async fn zone_of(&mut self, record_name: &str) -> Result<Name, DnsError> {
        let mut candidate = name(record_name)?;
        loop {
            let response = self
                .client
                .query(candidate.clone(), DNSClass::IN, RecordType::SOA)
                .await
                .map_err(|e| signed_exchange_error(self.server, e))?;
            let has_soa = response
                .answers()
                .iter()
                .any(|r| r.record_type() == RecordType::SOA && r.name().eq_case(&candidate));
            if response.response_code() == ResponseCode::NoError
                && response.authoritative()
                && has_soa
            {
                return Ok(candidate);
            }
            if candidate.num_labels() <= 1 {
                return Err(DnsError::NoZone {
                    server: self.server,
                    name: crate::shown::bounded(record_name, 100),
                });
            }
            candidate = candidate.base_name();
        }
    }

    /// Adds a record. A CNAME replaces whatever CNAME was at its name (a name has one); a
    /// TXT is added next to others (several orders may validate one domain).
    pub async fn add(&mut self, zone: &Name, change: &Change, ttl: u32) -> Result<(), DnsError> {
        let record = change.record(ttl)?;
        let message = if change.kind == "CNAME" {
            let mut m = update_message::delete_rrset(record.clone(), zone.clone(), false);
            let mut add = RecordSet::new(record.name().clone(), RecordType::CNAME, 0);
            add.insert(record, 0);
            let created = update_message::append(add, zone.clone(), false, false);
            for r in created.updates() {
                m.add_update(r.clone());
            }
            m
        } else {
            update_message::append(RecordSet::from(record), zone.clone(), false, false)
        };
        self.send(message).await
    }

    /// Removes exactly this record (nothing else at its name).
    pub async fn remove(&mut self, zone: &Name, change: &Change) -> Result<(), DnsError> {
        let record = change.record(0)?;
        let message = update_message::delete_by_rdata(RecordSet::from(record), zone.clone(), false);
        self.send(message).await
    }

    async fn send(&mut self, message: Message) -> Result<(), DnsError> {
        use hickory_proto::xfer::FirstAnswer;
        let response = hickory_proto::xfer::DnsHandle::send(&self.client, message)
            .first_answer()
            .await
            .map_err(|e| signed_exchange_error(self.server, e))?;
        match response.response_code() {
            ResponseCode::NoError => Ok(()),
            code => Err(refused(self.server, code)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_files_are_read_in_the_forms_servers_write_them() {
        let bind =
            "key \"nicsrs-dcv\" {\n\talgorithm hmac-sha256;\n\tsecret \"c2VjcmV0IGtleQ==\";\n};\n";
        assert_eq!(
            parse_key(bind),
            Some((
                "nicsrs-dcv".into(),
                "hmac-sha256".into(),
                "c2VjcmV0IGtleQ==".into()
            ))
        );
        let knot = "# hmac-sha256:nicsrs-dcv:c2VjcmV0IGtleQ==\nkey:\n  - id: nicsrs-dcv\n    algorithm: hmac-sha256\n    secret: c2VjcmV0IGtleQ==\n";
        assert_eq!(parse_key(knot), parse_key(bind));
        assert_eq!(
            parse_key("hmac-sha256:nicsrs-dcv:c2VjcmV0IGtleQ==\n"),
            parse_key(bind)
        );
        assert_eq!(parse_key("nothing here"), None);
    }

    #[test]
    fn a_key_file_with_its_fields_out_of_order_never_shows_the_secret() {
        let dir = std::env::temp_dir().join(format!("nicsrs-tsig-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let secret = "f1qaHtuFoxSCpYIfoxYnBTPo4TYkxJfBwAUGhbzu0Gk=";
        for (name, text) in [
            ("swapped", format!("{secret}:nicsrs-dcv:{secret}\n")),
            (
                "knot",
                format!("key:\n  - id: k\n    algorithm: {secret}\n    secret: {secret}\n"),
            ),
            ("nameless", format!("hmac-sha256::{secret}\n")),
        ] {
            let path = dir.join(name);
            std::fs::write(&path, text).expect("key");
            let e = TsigKey::from_file(&path).expect_err(name).to_string();
            assert!(
                !e.to_ascii_lowercase()
                    .contains(&secret[..8].to_ascii_lowercase()),
                "{name}: {e}"
            );
        }
    }
}
