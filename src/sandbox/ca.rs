//! The sandbox's certificate authority: real X.509 certificates, signed by a key that
//! exists only in the sandbox, so issued certificates can be parsed and matched to keys.

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType, IsCa, Issuer,
    KeyPair, KeyUsagePurpose, SerialNumber,
};
use time::OffsetDateTime;

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[error("sandbox CA: {0}")]
pub struct CaError(String);

impl From<rcgen::Error> for CaError {
    fn from(e: rcgen::Error) -> Self {
        CaError(e.to_string())
    }
}

/// The CA's key and certificate.
pub struct Ca {
    issuer: Issuer<'static, KeyPair>,
    key_pem: String,
    cert_pem: String,
}

impl std::fmt::Debug for Ca {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ca").finish_non_exhaustive()
    }
}

/// A certificate and, when the sandbox generated the key, its private key.
pub struct Issued {
    /// The certificate, PEM.
    pub certificate: String,
    /// The generated private key, PEM (only when no CSR was sent).
    pub private_key: Option<String>,
}

impl Ca {
    /// A new CA with a fresh EC P-256 key.
    pub fn generate() -> Result<Ca, CaError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, "nicsrs-batch sandbox CA (not trusted)");
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - time::Duration::days(1);
        params.not_after = now + time::Duration::days(3650);
        let cert = params.self_signed(&key)?;
        Self::from_pem(&key.serialize_pem(), &cert.pem())
    }

    /// The CA saved earlier (in a `--state` file).
    pub fn from_pem(key_pem: &str, cert_pem: &str) -> Result<Ca, CaError> {
        let key = KeyPair::from_pem(key_pem)?;
        let issuer = Issuer::from_ca_cert_pem(cert_pem, key)?;
        Ok(Ca {
            issuer,
            key_pem: key_pem.to_owned(),
            cert_pem: cert_pem.to_owned(),
        })
    }

    /// The CA key, PEM, for saving state.
    pub fn key_pem(&self) -> &str {
        &self.key_pem
    }

    /// The CA certificate, PEM: the `caCertificate` of every issued order.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// A certificate for the key of `csr_pem` (or for a new key when there is no CSR),
    /// naming `names`, valid from `not_before` to `not_after` (Unix seconds).
    pub fn issue(
        &self,
        csr_pem: Option<&str>,
        names: &[String],
        serial: u64,
        not_before: i64,
        not_after: i64,
    ) -> Result<Issued, CaError> {
        let nb =
            OffsetDateTime::from_unix_timestamp(not_before).map_err(|e| CaError(e.to_string()))?;
        let na =
            OffsetDateTime::from_unix_timestamp(not_after).map_err(|e| CaError(e.to_string()))?;
        let serial = SerialNumber::from_slice(&serial.to_be_bytes());
        match csr_pem {
            Some(pem) => {
                let mut csr = CertificateSigningRequestParams::from_pem(pem)?;
                csr.params.not_before = nb;
                csr.params.not_after = na;
                csr.params.serial_number = Some(serial);
                csr.params.is_ca = IsCa::NoCa;
                let cert = csr.signed_by(&self.issuer)?;
                Ok(Issued {
                    certificate: cert.pem(),
                    private_key: None,
                })
            }
            None => {
                let key = KeyPair::generate()?;
                let mut params = CertificateParams::new(names.to_vec())?;
                if let Some(cn) = names.first() {
                    params
                        .distinguished_name
                        .push(DnType::CommonName, cn.as_str());
                }
                params.not_before = nb;
                params.not_after = na;
                params.serial_number = Some(serial);
                let cert = params.signed_by(&key, &self.issuer)?;
                Ok(Issued {
                    certificate: cert.pem(),
                    private_key: Some(key.serialize_pem()),
                })
            }
        }
    }
}

/// A key pair and a CSR for `names`, as NicSRS makes them for an order placed without a
/// CSR: `(csr_pem, key_pem)`.
pub fn generate_csr(names: &[String]) -> Result<(String, String), CaError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(names.to_vec())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    if let Some(cn) = names.first() {
        params
            .distinguished_name
            .push(DnType::CommonName, cn.as_str());
    }
    let csr = params.serialize_request(&key)?.pem()?;
    Ok((csr, key.serialize_pem()))
}

/// `2027-02-20 07:59:59`: the way NicSRS writes dates (see
/// [`crate::lifecycle::NICSRS_UTC_OFFSET`]).
pub fn format_date(unix: i64) -> String {
    crate::lifecycle::format_date(unix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issues_for_a_csr_and_for_a_generated_key() {
        let ca = Ca::generate().expect("CA");
        let again = Ca::from_pem(ca.key_pem(), ca.cert_pem()).expect("CA from PEM");
        let csr = include_str!("../../examples/csr/shop-api.csr");
        let issued = again
            .issue(Some(csr), &[], 7, 1_700_000_000, 1_717_280_000)
            .expect("issued");
        assert!(
            issued
                .certificate
                .starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(issued.private_key.is_none());
        let generated = ca
            .issue(None, &["a.example".into()], 8, 1_700_000_000, 1_717_280_000)
            .expect("issued");
        assert!(
            generated
                .private_key
                .is_some_and(|k| k.contains("PRIVATE KEY"))
        );
        assert_eq!(format_date(1_700_000_000), "2023-11-15 06:13:20");
    }
}
