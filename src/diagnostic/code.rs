//! Every diagnostic code: its stable kebab-case name, which the README's table lists and
//! the schemas' `x-code` annotations use, and a one-line description.

macro_rules! codes {
    ($($variant:ident = $name:literal: $description:literal,)*) => {
        /// The kind of a problem in a manifest: what `error[CODE]` names.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum DiagnosticCode {
            $(
                #[doc = $description]
                $variant,
            )*
        }

        impl DiagnosticCode {
            /// Every code, in the README's order.
            pub const ALL: &'static [DiagnosticCode] = &[$(DiagnosticCode::$variant,)*];

            /// The stable kebab-case name (`csr-invalid`).
            pub fn name(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $name,)*
                }
            }

            /// What it means, in one line.
            pub fn description(self) -> &'static str {
                match self {
                    $(DiagnosticCode::$variant => $description,)*
                }
            }

            /// The code of a name (`x-code` in the schemas).
            pub fn from_name(name: &str) -> Option<DiagnosticCode> {
                match name {
                    $($name => Some(DiagnosticCode::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

codes! {
    YamlSyntax = "yaml-syntax": "not YAML, tab indentation, nesting deeper than 32, an alias bomb, more than 2,000,000 nodes, or an empty file",
    NotUtf8 = "not-utf8": "the file is not UTF-8",
    FileTooLarge = "file-too-large": "the file is larger than 32 MiB",
    DuplicateYamlKey = "duplicate-yaml-key": "a key written twice in one mapping",
    UnknownField = "unknown-field": "a field the schema does not know here",
    MissingField = "missing-field": "a required field is missing",
    WrongType = "wrong-type": "a value of the wrong type",
    InvalidValue = "invalid-value": "a value outside the field's allowed values",
    InvalidFormat = "invalid-format": "a value that does not have the field's format",
    InvalidCountry = "invalid-country": "not an ISO 3166-1 alpha-2 country code",
    OutOfRange = "out-of-range": "a number outside the field's range",
    TooFewItems = "too-few-items": "a list with fewer entries than required",
    EmptyValue = "empty-value": "an empty string where a value is required",
    TooLong = "too-long": "a string longer than the field allows",
    InvalidReference = "invalid-reference": "a `{file:}`/`{env:}` reference that is not exactly one of the two",
    SslRequiresServer = "ssl-requires-server": "an SSL product without `server`",
    SslRequiresDomainInfo = "ssl-requires-domain-info": "an SSL product without `domainInfo`",
    NotForProductKind = "not-for-product-kind": "a field that only SSL products take, on a code-signing or S/MIME product",
    OvEvRequiresOrganizationInfo = "ov-ev-requires-organization-info": "an OV or EV product without `organizationInfo`",
    OvEvRequiresFinance = "ov-ev-requires-finance": "an OV or EV product without the `finance` contact",
    OvEvRequiresTech = "ov-ev-requires-tech": "an OV or EV product without the `tech` contact",
    SectigoEmailRequiresDcvEmail = "sectigo-email-requires-dcv-email": "a Sectigo name validated by EMAIL without `dcvEmail`",
    UniqueValueSectigoOnly = "unique-value-sectigo-only": "`uniqueValue` on a product that is not Sectigo's",
    UnknownProduct = "unknown-product": "a product code not in the catalogue",
    YearsAboveProductMax = "years-above-product-max": "more years than the product's `maxYear`",
    TooManyDomains = "too-many-domains": "more names than the product's `maxDomain`",
    WildcardNotSupported = "wildcard-not-supported": "a wildcard name on a product without wildcard support",
    DuplicateKey = "duplicate-key": "an order key used twice in one run",
    DuplicateRefId = "duplicate-ref-id": "a refId used twice in one run",
    DuplicateRenewalOf = "duplicate-renewal-of": "a certificate adopted twice (`renewalOf`) in one run",
    DuplicateDomain = "duplicate-domain": "a name listed twice in one order",
    DcvEmailDomainMismatch = "dcv-email-domain-mismatch": "an approver address that is not at the name or a parent domain of it",
    WildcardFileValidation = "wildcard-file-validation": "a wildcard name validated by HTTP or HTTPS file",
    IpRequiresFileValidation = "ip-requires-file-validation": "an IP address validated by something other than a file",
    CsrInvalid = "csr-invalid": "a CSR that does not parse",
    CsrBadSignature = "csr-bad-signature": "a CSR whose signature does not verify",
    CsrWeakKey = "csr-weak-key": "a CSR whose key is weaker than RSA 2048 or EC P-256",
    CsrNamesMismatch = "csr-names-mismatch": "a CSR whose names are not exactly the order's names",
    PrivateKeyAsCsr = "private-key-as-csr": "a private key given where the CSR belongs",
    PrivateKeyInvalid = "private-key-invalid": "a `privateKey` that is not a PEM private key",
    PrivateKeyMismatch = "private-key-mismatch": "a `privateKey` that is not the CSR's key",
    PrivateKeyMisplaced = "private-key-misplaced": "a private key written in a field other than `privateKey`",
    FileNotFound = "file-not-found": "a `{file:}` reference that cannot be read",
    EnvNotSet = "env-not-set": "an `{env:}` reference to a variable that is not set",
    InlinePrivateKey = "inline-private-key": "a private key written in the manifest itself",
    TokenInManifest = "token-in-manifest": "an API token written in a manifest",
    PlainNameNotSupported = "plain-name-not-supported": "a plain name on a wildcard-only product",
    IpNotSupported = "ip-not-supported": "an IP address on a product that takes none",
    DcvEmailUnused = "dcv-email-unused": "an approver address on a name not validated by EMAIL (warning)",
    NoOrders = "no-orders": "a manifest without orders (warning)",
    RenewBeforeBeyond90Days = "renew-before-beyond-90-days": "a `renewBefore` longer than NicSRS's 90-day renewal window (warning)",
    RenewalNeedsCsr = "renewal-needs-csr": "an adopted certificate without a CSR to renew it with (warning)",
    UnconfirmedProduct = "unconfirmed-product": "a product NicSRS's module lists as unconfirmed (warning)",
}

impl std::fmt::Display for DiagnosticCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for DiagnosticCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_kebab_case_unique_and_read_back() {
        let mut seen = std::collections::HashSet::new();
        for &code in DiagnosticCode::ALL {
            let name = code.name();
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(seen.insert(name), "{name} twice");
            assert_eq!(DiagnosticCode::from_name(name), Some(code));
            assert!(!code.description().is_empty());
        }
        assert_eq!(DiagnosticCode::from_name("no-such-code"), None);
    }
}
