//! The product catalogue: what each product code is, which decides the rules an order obeys.
//!
//! Entries have the shape of NicSRS's `/ssl/productList` plus `vendor` and `kind`. A
//! snapshot is built in; `--catalog FILE` replaces it with the reseller's own list.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize};

/// The built-in catalogue, as JSON.
pub const BUILTIN_JSON: &str = include_str!("products.json");

/// Kind of certificate a product issues.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// SSL/TLS server certificates: take `server`, `domainInfo` and the OV/EV contacts.
    Ssl,
    /// Code-signing certificates.
    Codesign,
    /// S/MIME (e-mail) certificates.
    Smime,
}

/// Validation level of a product.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValidationType {
    /// Domain validation.
    Dv,
    /// Organization validation.
    Ov,
    /// Extended validation.
    Ev,
}

/// One product, as `/ssl/productList` lists it plus `vendor` and `kind`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    /// Product code sent as `productCode`.
    pub code: String,
    /// Human-readable name.
    #[serde(default)]
    pub product_name: String,
    /// The CA brand the product is listed under (`Sectigo`, `Digicert`, ...).
    pub vendor: String,
    /// SSL, code signing or S/MIME.
    pub kind: Kind,
    /// DV, OV or EV.
    pub validation_type: ValidationType,
    /// Whether wildcard names are allowed (`Y`/`N`).
    #[serde(deserialize_with = "yes_no", serialize_with = "to_yes_no")]
    pub support_wildcard: bool,
    /// Whether more than one name is allowed (`Y`/`N`).
    #[serde(deserialize_with = "yes_no", serialize_with = "to_yes_no")]
    pub support_san: bool,
    /// Most names in one order.
    pub max_domain: u32,
    /// Most years in one order.
    pub max_year: u32,
    /// Prices as the API lists them (kept for the sandbox and for reports).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub price: serde_json::Value,
}

impl Product {
    /// The list price of `years` years (`price.basePrice.priceNNN`, NNN in months), if the
    /// catalogue has prices.
    pub fn price(&self, years: u32) -> Option<f64> {
        let key = format!("price{:03}", years.saturating_mul(12));
        let value = self.price.get("basePrice")?.get(&key)?;
        value
            .as_f64()
            .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
    }

    /// The `product` object that expansion adds to an order for `order.schema.json`.
    pub fn rule_object(&self) -> serde_json::Value {
        serde_json::json!({
            "vendor": self.vendor,
            "validationType": self.validation_type,
            "kind": self.kind,
            "maxYear": self.max_year,
            "maxDomain": self.max_domain,
            "wildcard": self.support_wildcard,
            "san": self.support_san,
        })
    }
}

fn yes_no<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum YesNo {
        Bool(bool),
        Text(String),
    }
    match YesNo::deserialize(d)? {
        YesNo::Bool(b) => Ok(b),
        YesNo::Text(t) if t.eq_ignore_ascii_case("y") => Ok(true),
        YesNo::Text(t) if t.eq_ignore_ascii_case("n") => Ok(false),
        YesNo::Text(t) => Err(serde::de::Error::custom(format!(
            "expected \"Y\" or \"N\", found {t:?}"
        ))),
    }
}

fn to_yes_no<S: serde::Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *v { "Y" } else { "N" })
}

/// Why a catalogue file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file could not be read.
    #[error("cannot read catalogue {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a catalogue.
    #[error("catalogue {path} is not a product list: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A set of products by code.
#[derive(Clone, Debug)]
pub struct Catalog {
    products: Vec<Product>,
    by_code: HashMap<String, usize>,
}

impl Catalog {
    /// The catalogue built into the binary.
    pub fn builtin() -> Self {
        Self::from_json(BUILTIN_JSON).unwrap_or_else(|e| {
            unreachable!("the built-in catalogue is checked by a unit test: {e}")
        })
    }

    /// Reads a catalogue: a JSON array of products, or a `/ssl/productList` reply
    /// (`{"code": 1, "data": [...]}`).
    pub fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let text = std::fs::read_to_string(path).map_err(|source| CatalogError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::from_json(&text).map_err(|message| CatalogError::Parse {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses catalogue JSON.
    pub fn from_json(text: &str) -> Result<Self, String> {
        #[derive(Deserialize)]
        struct Reply {
            data: Vec<Product>,
        }
        // Parse as the shape the file has, so that an error names the right place.
        let products = if text.trim_start().starts_with('{') {
            serde_json::from_str::<Reply>(text).map(|r| r.data)
        } else {
            serde_json::from_str::<Vec<Product>>(text)
        }
        .map_err(|e| e.to_string())?;
        let mut by_code = HashMap::with_capacity(products.len());
        for (i, p) in products.iter().enumerate() {
            if p.max_year == 0 || p.max_domain == 0 {
                return Err(format!("product `{}` has maxYear or maxDomain 0", p.code));
            }
            if by_code.insert(p.code.clone(), i).is_some() {
                return Err(format!("product `{}` is listed twice", p.code));
            }
        }
        Ok(Catalog { products, by_code })
    }

    /// The product with `code`.
    pub fn get(&self, code: &str) -> Option<&Product> {
        self.by_code.get(code).map(|&i| &self.products[i])
    }

    /// Every product, in catalogue order.
    pub fn products(&self) -> &[Product] {
        &self.products
    }

    /// Every product code.
    pub fn codes(&self) -> impl Iterator<Item = &str> {
        self.products.iter().map(|p| p.code.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalogue_parses_and_has_the_documented_codes() {
        let c = Catalog::from_json(BUILTIN_JSON).expect("built-in catalogue");
        let ov = c.get("sectigo-ov").expect("sectigo-ov");
        assert_eq!(
            (ov.vendor.as_str(), ov.validation_type),
            ("Sectigo", ValidationType::Ov)
        );
        assert_eq!(
            c.get("rapidssl").map(|p| p.vendor.as_str()),
            Some("Digicert")
        );
        assert!(
            c.get("comodo-positivessl-wildcard")
                .is_some_and(|p| p.support_wildcard)
        );
    }

    #[test]
    fn prices_are_read_by_years() {
        let c = Catalog::builtin();
        let ov = c.get("sectigo-ov").expect("sectigo-ov");
        assert_eq!(ov.price(1), Some(39.0));
        assert!(ov.price(2).is_some_and(|p| p > 39.0));
        assert_eq!(ov.price(9), None);
    }

    #[test]
    fn a_product_list_reply_is_a_catalogue() {
        let reply = r#"{"code":1,"data":[{"code":"x","vendor":"Sectigo","kind":"ssl","validationType":"dv","supportWildcard":"N","supportSan":"Y","maxDomain":3,"maxYear":1}]}"#;
        let c = Catalog::from_json(reply).expect("reply");
        assert!(
            c.get("x")
                .is_some_and(|p| p.support_san && !p.support_wildcard)
        );
        assert!(Catalog::from_json("[{\"code\": 1}]").is_err());
        let bad_reply = r#"{"code":1,"data":[{"code":"x","vendor":"Sectigo","kind":"ssl"}]}"#;
        let e = Catalog::from_json(bad_reply).expect_err("no validationType");
        assert!(e.starts_with("missing field `validationType`"), "{e}");
    }
}
