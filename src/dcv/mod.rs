//! Domain control validation records that can be known before an order is paid for: the
//! Sectigo family derives them from the CSR alone (MD5 and SHA-256 of its DER). The DigiCert
//! family's are random tokens known only from the API's replies. The source of the rules
//! is in `docs/nicsrs-api.md` ("Domain control validation").

use md5::{Digest, Md5};

pub mod check;
pub mod dns;
pub mod names;
pub mod records;

pub use names::NameDcv;

/// The hashes of a CSR that Sectigo's CSR-hash methods use, as upper-case hex.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CsrHashes {
    /// MD5 of the DER: the DNS label and the file name.
    pub md5: String,
    /// SHA-256 of the DER: the CNAME target and the file content.
    pub sha256: String,
}

/// Uppercase hexadecimal, as Sectigo's records spell their hashes.
fn hex(bytes: &[u8]) -> String {
    crate::shown::hex(bytes).to_ascii_uppercase()
}

impl CsrHashes {
    /// The hashes of a PEM CSR, if it is one.
    pub fn of_pem(pem: &str) -> Option<CsrHashes> {
        crate::csr::der(pem).map(|der| CsrHashes::of_der(&der))
    }

    /// The hashes of a CSR's DER bytes.
    pub fn of_der(der: &[u8]) -> CsrHashes {
        CsrHashes {
            md5: hex(&Md5::digest(der)),
            sha256: hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref()),
        }
    }

    /// `CNAME_CSR_HASH`: the label put before the name (`_<MD5>`; for `*.example.com` the
    /// record is at `_<MD5>.example.com`).
    pub fn cname_label(&self) -> String {
        format!("_{}", self.md5)
    }

    /// `CNAME_CSR_HASH`: the record's target,
    /// `<SHA256[0..32]>.<SHA256[32..64]>[.<uniqueValue>].sectigo.com`.
    pub fn cname_target(&self, unique_value: Option<&str>) -> String {
        let (a, b) = self.sha256.split_at(32);
        match unique_value {
            Some(u) if !u.is_empty() => format!("{a}.{b}.{u}.sectigo.com"),
            _ => format!("{a}.{b}.sectigo.com"),
        }
    }

    /// `HTTP_CSR_HASH`/`HTTPS_CSR_HASH`: the file name under `/.well-known/pki-validation/`.
    pub fn file_name(&self) -> String {
        format!("{}.txt", self.md5)
    }

    /// The file's content: the SHA-256, `sectigo.com`, then the `uniqueValue` if any.
    pub fn file_content(&self, unique_value: Option<&str>) -> String {
        match unique_value {
            Some(u) if !u.is_empty() => format!("{}\nsectigo.com\n{u}", self.sha256),
            _ => format!("{}\nsectigo.com", self.sha256),
        }
    }
}

/// The CA family a product's vendor validates names like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Sectigo (comodo-, sectigo-, positivessl-, essential-, instantssl- codes): records
    /// derived from the CSR.
    Sectigo,
    /// DigiCert (digicert-, geotrust-, rapidssl-, thawte- codes): random tokens from the
    /// API (`_dnsauth` TXT, `fileauth.txt`).
    DigiCert,
    /// Anything else: whatever the API's replies say.
    Other,
}

impl Family {
    /// The family of a catalogue vendor.
    pub fn of_vendor(vendor: &str) -> Family {
        match vendor {
            "Sectigo" => Family::Sectigo,
            "Digicert" | "Thawte" => Family::DigiCert,
            _ => Family::Other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sectigo_records_come_from_the_csr_der() {
        let h = CsrHashes::of_der(b"abc");
        assert_eq!(h.md5, "900150983CD24FB0D6963F7D28E17F72");
        assert_eq!(
            h.sha256,
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD"
        );
        assert_eq!(h.cname_label(), "_900150983CD24FB0D6963F7D28E17F72");
        assert_eq!(
            h.cname_target(Some("u1")),
            "BA7816BF8F01CFEA414140DE5DAE2223.B00361A396177A9CB410FF61F20015AD.u1.sectigo.com"
        );
        assert_eq!(
            h.file_content(None),
            "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\nsectigo.com"
        );
        let pem = include_str!("../../examples/csr/shop-api.csr");
        assert!(CsrHashes::of_pem(pem).is_some_and(|h| h.md5.len() == 32));
    }
}
