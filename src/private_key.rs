//! `privateKey` values: checked to be a PEM private key, and its public half read so that
//! it can be held against the CSR's. Nothing here ever puts the key's bytes in a message.

use x509_parser::pem::parse_x509_pem;

/// Why a `privateKey` value is unusable. The messages never quote the key.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    /// Not PEM at all, or not a private-key block.
    #[error("{0}")]
    NotAKey(String),
    /// A private-key block whose contents do not decode.
    #[error("the `{0}` block does not decode as a private key")]
    Malformed(String),
    /// An encrypted key: it cannot be read without its passphrase.
    #[error("the key is encrypted (`ENCRYPTED PRIVATE KEY`) and cannot be checked")]
    Encrypted,
}

/// What a text is, said without quoting any of it: for messages about values that may be
/// secrets (a key, or whatever a `{file:}`/`{env:}` reference read).
pub fn describe_content(text: &str) -> String {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return "it is empty".into();
    }
    match pem_label(trimmed) {
        Some(label) => format!("it holds a PEM `{label}` block"),
        None => format!(
            "it holds {} bytes that are not PEM (no `-----BEGIN` line)",
            text.len()
        ),
    }
}

/// The label of the first PEM block in `text` (text before it, as `openssl req -text`
/// writes, is skipped).
pub fn pem_label(text: &str) -> Option<String> {
    let begin = text
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("-----BEGIN "))?;
    let rest = begin.strip_prefix("-----BEGIN ")?;
    let label = rest.split("-----").next()?;
    (label.len() <= 40 && label.chars().all(|c| c.is_ascii_uppercase() || c == ' '))
        .then(|| label.to_owned())
}

/// Whether `text` holds a PEM private key of any kind, anywhere in it.
pub fn contains_private_key(text: &str) -> bool {
    crate::shown::holds_private_key(text)
}

/// Whether `text` is (or starts with) a PEM private key of any kind.
pub fn is_private_key(text: &str) -> bool {
    pem_label(text).is_some_and(|l| l.ends_with("PRIVATE KEY"))
}

/// The public key of a PEM private key, in the form a CSR's SubjectPublicKeyInfo holds
/// it (an RSAPublicKey's DER, an EC point): PKCS#8 (`PRIVATE KEY`), PKCS#1
/// (`RSA PRIVATE KEY`) or SEC1 (`EC PRIVATE KEY`).
pub fn public_key_of(pem: &str) -> Result<Vec<u8>, KeyError> {
    let label = pem_label(pem).unwrap_or_default();
    if label == "ENCRYPTED PRIVATE KEY" {
        return Err(KeyError::Encrypted);
    }
    if !label.ends_with("PRIVATE KEY") {
        return Err(KeyError::NotAKey(if label.is_empty() {
            "not a PEM private key (no `-----BEGIN ... PRIVATE KEY-----` line)".into()
        } else {
            format!("the PEM block is a `{label}`, not a private key")
        }));
    }
    let malformed = || KeyError::Malformed(label.clone());
    let from = pem.find("-----BEGIN").unwrap_or(0);
    let (_, block) = parse_x509_pem(&pem.as_bytes()[from..]).map_err(|_| malformed())?;
    let der = block.contents.as_slice();
    match label.as_str() {
        "PRIVATE KEY" => rcgen::KeyPair::try_from(der)
            .map(|k| k.public_key_raw().to_vec())
            .map_err(|_| malformed()),
        "RSA PRIVATE KEY" => ring::rsa::KeyPair::from_der(der)
            .map(|k| k.public().as_ref().to_vec())
            .map_err(|_| malformed()),
        "EC PRIVATE KEY" => sec1_public_key(der).ok_or_else(malformed),
        _ => Err(malformed()),
    }
}

/// The `publicKey [1] BIT STRING` of a SEC1 `ECPrivateKey` (RFC 5915), which OpenSSL
/// always writes.
fn sec1_public_key(der: &[u8]) -> Option<Vec<u8>> {
    let (tag, body, _) = tlv(der)?;
    if tag != 0x30 {
        return None;
    }
    let mut rest = body;
    while !rest.is_empty() {
        let (tag, value, next) = tlv(rest)?;
        if tag == 0xa1 {
            let (inner, bits, _) = tlv(value)?;
            // A BIT STRING: one byte of unused bits (0), then the point.
            return (inner == 0x03 && bits.first() == Some(&0)).then(|| bits[1..].to_vec());
        }
        rest = next;
    }
    None
}

/// One DER tag-length-value: the tag, the value, and what follows it.
fn tlv(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_gives_the_public_key_its_csr_holds() {
        let key = rcgen::KeyPair::generate().expect("key");
        let pem = key.serialize_pem();
        assert_eq!(public_key_of(&pem).expect("pkcs8"), key.public_key_raw());
        let params = rcgen::CertificateParams::new(vec!["a.example".into()]).expect("params");
        let csr = params
            .serialize_request(&key)
            .expect("csr")
            .pem()
            .expect("pem");
        let info = crate::csr::inspect(&csr).expect("csr");
        assert_eq!(info.public_key, key.public_key_raw());
    }

    #[test]
    fn other_things_are_refused_without_being_quoted() {
        let secret = "NICSRS_API_TOKEN=canary-123";
        let e = public_key_of(secret).expect_err("not a key");
        assert!(!e.to_string().contains("canary"));
        assert_eq!(
            describe_content(secret),
            "it holds 27 bytes that are not PEM (no `-----BEGIN` line)"
        );
        assert_eq!(
            public_key_of("-----BEGIN ENCRYPTED PRIVATE KEY-----\nabc\n"),
            Err(KeyError::Encrypted)
        );
        assert!(matches!(
            public_key_of("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
            Err(KeyError::Malformed(_))
        ));
        assert!(is_private_key("-----BEGIN RSA PRIVATE KEY-----\n"));
        assert_eq!(
            pem_label("Certificate Request:\n    Data: ...\n-----BEGIN CERTIFICATE REQUEST-----\n")
                .as_deref(),
            Some("CERTIFICATE REQUEST")
        );
        assert!(!is_private_key("-----BEGIN CERTIFICATE REQUEST-----\n"));
    }

    #[test]
    fn sec1_keys_are_read_by_their_public_key() {
        // 30 { 02 01 01, 04 01 aa, a0 { 06 01 2a }, a1 { 03 03 00 04 05 } }
        let der = [
            0x30, 0x12, 0x02, 0x01, 0x01, 0x04, 0x01, 0xaa, 0xa0, 0x03, 0x06, 0x01, 0x2a, 0xa1,
            0x05, 0x03, 0x03, 0x00, 0x04, 0x05,
        ];
        assert_eq!(sec1_public_key(&der), Some(vec![0x04, 0x05]));
        assert_eq!(sec1_public_key(&der[..10]), None);
    }
}
