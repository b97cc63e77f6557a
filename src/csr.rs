//! Certificate signing requests: parsed, their signature verified, their key and names read.

use std::net::IpAddr;

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_EC_P256, OID_NIST_EC_P384};
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey;

/// Smallest RSA key accepted, in bits (CA/Browser Forum baseline requirements).
pub const MIN_RSA_BITS: usize = 2048;

/// The public key a CSR carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// RSA with this many bits.
    Rsa(usize),
    /// EC on NIST P-256.
    P256,
    /// EC on NIST P-384.
    P384,
    /// Anything else, described.
    Other(String),
}

/// What a CSR says, once it has been checked to be one.
#[derive(Clone, Debug)]
pub struct CsrInfo {
    /// The subject's common name, if any.
    pub common_name: Option<String>,
    /// The DNS names and IP addresses in the subjectAltName request, lowercased.
    pub alt_names: Vec<String>,
    /// The key.
    pub key: KeyKind,
    /// Whether the self-signature was verified (it is not for keys too weak to verify).
    pub signature_verified: bool,
    /// The public key as its SubjectPublicKeyInfo holds it (an RSAPublicKey's DER, an EC
    /// point), to hold a `privateKey` against.
    pub public_key: Vec<u8>,
}

impl CsrInfo {
    /// CN and SANs together, lowercased and without repeats.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .common_name
            .iter()
            .map(|n| n.to_ascii_lowercase())
            .chain(self.alt_names.iter().cloned())
            .collect();
        names.sort();
        names.dedup();
        names
    }
}

/// Why a CSR is unusable.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsrError {
    /// Not a PEM `CERTIFICATE REQUEST` block.
    #[error("not a PEM certificate signing request: {0}")]
    NotPem(String),
    /// PEM, but the DER inside is not a CSR.
    #[error("the CSR cannot be decoded: {0}")]
    Malformed(String),
    /// The self-signature does not verify: the CSR was altered or is corrupt.
    #[error("the CSR's signature does not verify ({0})")]
    BadSignature(String),
}

/// The DER bytes of a PEM CSR (what domain-control hashes are computed over), if it is
/// one.
pub fn der(pem: &str) -> Option<Vec<u8>> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim_start().as_bytes()).ok()?;
    matches!(
        block.label.as_str(),
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST"
    )
    .then_some(block.contents)
}

/// The one PEM block of a `csr` value, from its `-----BEGIN` line to the end of its
/// `-----END` line: what is sent. Text before it (as `openssl req -text` writes) is left
/// out; another PEM block, or anything after the block, is refused, so that nothing else
/// (a private key saved in the same file, say) is ever sent.
pub fn sole_block(pem: &str) -> Result<&str, &'static str> {
    let begin = pem.find("-----BEGIN ").ok_or("it holds no PEM block")?;
    if pem[begin + 1..].contains("-----BEGIN ") {
        return Err("it holds more than one PEM block; give the CSR alone");
    }
    let end = pem[begin..]
        .find("-----END ")
        .map(|i| begin + i)
        .ok_or("its PEM block has no `-----END` line")?;
    let close = pem[end + 9..]
        .find("-----")
        .map(|i| end + 9 + i + 5)
        .ok_or("its PEM block's `-----END` line is not closed")?;
    if !pem[close..].trim().is_empty() {
        return Err("it holds text after the CSR's `-----END` line; give the CSR alone");
    }
    Ok(&pem[begin..close])
}

/// Parses a PEM CSR and verifies its self-signature.
pub fn inspect(pem: &str) -> Result<CsrInfo, CsrError> {
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.trim_start().as_bytes())
        .map_err(|e| CsrError::NotPem(e.to_string()))?;
    if !matches!(
        block.label.as_str(),
        "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST"
    ) {
        return Err(CsrError::NotPem(format!(
            "the PEM block is a `{}`, not a `CERTIFICATE REQUEST`",
            block.label
        )));
    }
    let (_, csr) = X509CertificationRequest::from_der(&block.contents).map_err(|_| {
        CsrError::Malformed("the DER inside the PEM block is not a PKCS#10 request".into())
    })?;
    let info = &csr.certification_request_info;
    let common_name = info
        .subject
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_owned);
    let mut alt_names = Vec::new();
    if let Some(extensions) = csr.requested_extensions() {
        for ext in extensions {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for name in &san.general_names {
                    match name {
                        GeneralName::DNSName(d) => alt_names.push(d.to_ascii_lowercase()),
                        GeneralName::IPAddress(bytes) => {
                            if let Some(ip) = ip_from_bytes(bytes) {
                                alt_names.push(ip.to_string());
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    let spki = &info.subject_pki;
    let key = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyKind::Rsa(rsa.key_size()),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve {
                Some(oid) if oid == OID_EC_P256 => KeyKind::P256,
                Some(oid) if oid == OID_NIST_EC_P384 => KeyKind::P384,
                Some(oid) => KeyKind::Other(format!("EC on curve {oid}")),
                None => KeyKind::Other("EC on an unnamed curve".into()),
            }
        }
        Ok(PublicKey::DSA(_)) => KeyKind::Other("DSA".into()),
        Ok(_) | Err(_) => KeyKind::Other(format!("algorithm {}", spki.algorithm.algorithm)),
    };
    // A key too weak to use is reported as such; its signature is not worth verifying.
    let signature_verified = key_problem(&key).is_none();
    if signature_verified {
        csr.verify_signature()
            .map_err(|e| CsrError::BadSignature(e.to_string()))?;
    }
    Ok(CsrInfo {
        common_name,
        alt_names,
        key,
        signature_verified,
        public_key: spki.subject_public_key.data.to_vec(),
    })
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// Why the key is not acceptable to public CAs, if it is not.
pub fn key_problem(key: &KeyKind) -> Option<String> {
    match key {
        KeyKind::Rsa(bits) if *bits < MIN_RSA_BITS => Some(format!(
            "the CSR's RSA key has {bits} bits; CAs require at least {MIN_RSA_BITS}"
        )),
        KeyKind::Rsa(_) | KeyKind::P256 | KeyKind::P384 => None,
        KeyKind::Other(what) => Some(format!(
            "the CSR's key is {what}; CAs accept RSA (2048 bits or more) or EC P-256/P-384"
        )),
    }
}
