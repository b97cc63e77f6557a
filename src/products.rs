//! `products`: the reseller's own catalogue, read from `/ssl/productList` and written in the
//! form `--catalog` takes, so that validation and prices follow the account, not a snapshot.

use serde_json::Value;

use crate::catalog::{Catalog, Kind, Product};
use crate::nicsrs::client::{CallOutcome, Client};
use crate::nicsrs::pacer::{Pacer, Retry};
use crate::nicsrs::wire::Code;

/// Why the product list could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ProductsError {
    /// The API refused or could not be reached.
    #[error("productList for vendor {vendor}: {message}")]
    Api {
        /// The vendor asked for.
        vendor: String,
        /// What went wrong.
        message: String,
    },
    /// An entry is not a product.
    #[error("productList for vendor {vendor}: an entry is not a product: {message}")]
    Entry {
        /// The vendor asked for.
        vendor: String,
        /// What is wrong.
        message: String,
    },
}

/// The kind of certificate a product issues, from its code and name when the API does
/// not say.
pub fn infer_kind(code: &str, name: &str) -> Kind {
    let text = format!("{code} {name}").to_ascii_lowercase();
    if text.contains("code-sign") || text.contains("codesign") || text.contains("code sign") {
        Kind::Codesign
    } else if text.contains("smime") || text.contains("s/mime") {
        Kind::Smime
    } else {
        Kind::Ssl
    }
}

/// The entries of one vendor's `/ssl/productList` (see [`crate::nicsrs::wire::read::product_list`])
/// as catalogue products: `vendor` added, and `kind` inferred from the code and name when
/// the API does not say.
pub fn to_products(
    vendor: &str,
    entries: Vec<serde_json::Map<String, Value>>,
) -> Result<Vec<Product>, ProductsError> {
    entries
        .into_iter()
        .map(|mut map| {
            map.entry("vendor")
                .or_insert_with(|| Value::String(vendor.to_owned()));
            if !map.contains_key("kind") {
                let code = map.get("code").and_then(Value::as_str).unwrap_or_default();
                let name = map
                    .get("productName")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let kind = serde_json::to_value(infer_kind(code, name)).unwrap_or(Value::Null);
                map.insert("kind".into(), kind);
            }
            serde_json::from_value(Value::Object(map)).map_err(|e| ProductsError::Entry {
                vendor: vendor.to_owned(),
                message: e.to_string(),
            })
        })
        .collect()
}

/// Reads every vendor's products. Lookups are free: transient failures are tried again.
pub async fn fetch(client: &Client, vendors: &[String]) -> Result<Vec<Product>, ProductsError> {
    let mut products = Vec::new();
    let pacer = Pacer::new(None);
    for vendor in vendors {
        let api = |message: String| ProductsError::Api {
            vendor: vendor.clone(),
            message,
        };
        let mut last = String::new();
        let mut data = None;
        let retry = Retry::FREE_CALL;
        for attempt in retry.attempts() {
            retry.before(attempt, &pacer).await;
            match client
                .call("productList", &[("vendor", vendor.as_str())])
                .await
            {
                CallOutcome::Reply(reply) if reply.known_code() == Some(Code::Success) => {
                    data = crate::nicsrs::wire::read::product_list(&reply);
                    break;
                }
                CallOutcome::Reply(reply) => return Err(api(reply.message())),
                CallOutcome::Rejected(why) => return Err(api(why)),
                CallOutcome::Throttled(wait) => {
                    pacer.pause(wait.unwrap_or(std::time::Duration::from_secs(1)));
                    last = "throttled".into();
                }
                CallOutcome::NotSent(why) | CallOutcome::Ambiguous(why) => last = why,
            }
        }
        let Some(entries) = data else {
            return Err(api(if last.is_empty() {
                "the reply has no product list".into()
            } else {
                last
            }));
        };
        products.extend(to_products(vendor, entries)?);
    }
    // The same checks as a catalogue file gets.
    let json = serde_json::to_string(&products).unwrap_or_default();
    Catalog::from_json(&json).map_err(|message| ProductsError::Entry {
        vendor: vendors.join(", "),
        message,
    })?;
    Ok(products)
}

/// The products as a table (`products` and `catalog`): code, vendor, kind, validation,
/// wildcards, several names, most names, most years, price of one year, name.
pub fn table(products: &[Product]) -> String {
    let width = products
        .iter()
        .map(|p| p.code.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:<width$}  {:<9} {:<8} {:<4} {:<8} {:<3} {:>9} {:>7} {:>10}  {}\n",
        "code",
        "vendor",
        "kind",
        "type",
        "wildcard",
        "san",
        "maxDomain",
        "maxYear",
        "1y price",
        "name"
    );
    for p in products {
        let mut name = crate::shown::bounded(&p.product_name, 80);
        if p.unconfirmed {
            name.push_str(" (unconfirmed)");
        }
        out.push_str(&format!(
            "{:<width$}  {:<9} {:<8} {:<4} {:<8} {:<3} {:>9} {:>7} {:>10}  {name}\n",
            crate::shown::bounded(&p.code, 80),
            crate::shown::bounded(&p.vendor, 40),
            format!("{:?}", p.kind).to_ascii_lowercase(),
            format!("{:?}", p.validation_type).to_ascii_lowercase(),
            if p.support_wildcard { "Y" } else { "N" },
            if p.support_san { "Y" } else { "N" },
            p.max_domain,
            p.max_year,
            p.price(1).map_or_else(|| "-".into(), |v| format!("{v:.2}")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_are_inferred_from_codes_and_names() {
        assert_eq!(
            infer_kind("comodo-code-signing-certificate", ""),
            Kind::Codesign
        );
        assert_eq!(
            infer_kind("x", "Personal Authentication S/MIME"),
            Kind::Smime
        );
        assert_eq!(
            infer_kind(
                "sectigo-pro-email-smime-certificate",
                "Sectigo Enterprise S/MIME Certificate"
            ),
            Kind::Smime
        );
        // "Email verification is not supported" is about validation, not S/MIME.
        assert_eq!(
            infer_kind(
                "ssltrus-dv-ssl-domroot",
                "sslTrus BasicSSL(Email verification is not supported)"
            ),
            Kind::Ssl
        );
        assert_eq!(infer_kind("sectigo-ov", "Sectigo OV SSL"), Kind::Ssl);
    }
}
