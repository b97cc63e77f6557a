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
    /// Whether plain (non-wildcard) names are allowed (`Y`/`N`): a wildcard-only product
    /// refuses `www.example.com`. `supportStandard` in `/ssl/productList`, `supportNormal`
    /// in NicSRS's module; unknown when absent (then not checked).
    #[serde(
        default,
        alias = "supportNormal",
        deserialize_with = "maybe_yes_no",
        serialize_with = "to_maybe_yes_no",
        skip_serializing_if = "Option::is_none"
    )]
    pub support_standard: Option<bool>,
    /// Whether IP addresses are allowed (`Y`/`N`); unknown when absent (then not checked).
    #[serde(
        default,
        deserialize_with = "maybe_yes_no",
        serialize_with = "to_maybe_yes_no",
        skip_serializing_if = "Option::is_none"
    )]
    pub support_ip: Option<bool>,
    /// Names included in the base price (`defaultProtectDomain`); each further one costs
    /// `sanPrice`. 1 when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_protect_domain: Option<u32>,
    /// Most names in one order.
    pub max_domain: u32,
    /// Most years in one order.
    pub max_year: u32,
    /// Prices as the API lists them: `basePrice.priceNNN` for the names included, and
    /// `sanPrice` for each further name (`normalPrice` and `wildPrice` apart, or one
    /// `priceNNN` for both).
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub price: serde_json::Value,
    /// Not confirmed by NicSRS (its own module lists the code commented out): `validate`
    /// warns when an order uses it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unconfirmed: bool,
    /// What the built-in catalogue corrected or guessed about this product, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    /// [`Product::rule_object`], built once.
    #[serde(skip)]
    rule: std::sync::OnceLock<serde_json::Value>,
}

/// The names of an order, counted for its price.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameCount {
    /// Plain names and IP addresses.
    pub plain: u32,
    /// Wildcard names (`*.example.com`).
    pub wildcard: u32,
}

impl NameCount {
    /// Counts `names`.
    pub fn of<'a>(names: impl IntoIterator<Item = &'a str>) -> NameCount {
        names.into_iter().fold(NameCount::default(), |mut c, n| {
            if n.starts_with("*.") {
                c.wildcard += 1;
            } else {
                c.plain += 1;
            }
            c
        })
    }
}

/// `price.<group>.priceNNN` (or `price.<group>.<sub>.priceNNN`) as a number.
fn price_at(price: &serde_json::Value, path: &[&str], months: &str) -> Option<f64> {
    let mut v = price;
    for p in path {
        v = v.get(p)?;
    }
    let value = v.get(months)?;
    value
        .as_f64()
        .or_else(|| value.as_str().and_then(|s| s.trim().parse().ok()))
}

impl Product {
    /// The list price of `years` years (`price.basePrice.priceNNN`, NNN in months), if the
    /// catalogue has prices.
    pub fn price(&self, years: u32) -> Option<f64> {
        let key = format!("price{:03}", years.saturating_mul(12));
        price_at(&self.price, &["basePrice"], &key)
    }

    /// The list price of `years` years for `names`: the base price covers
    /// `defaultProtectDomain` names (plain names counted first), and each further name
    /// costs `sanPrice.normalPrice` or, for a wildcard, `sanPrice.wildPrice` (a plain
    /// `sanPrice.priceNNN` prices both). `None` when a needed price is missing.
    pub fn price_for(&self, years: u32, names: NameCount) -> Option<f64> {
        let key = format!("price{:03}", years.saturating_mul(12));
        let base = price_at(&self.price, &["basePrice"], &key)?;
        let included = self.default_protect_domain.unwrap_or(1);
        let extra_plain = names.plain.saturating_sub(included);
        let left = included.saturating_sub(names.plain);
        let extra_wild = names.wildcard.saturating_sub(left);
        let san = |kind: &str| {
            price_at(&self.price, &["sanPrice", kind], &key)
                .or_else(|| price_at(&self.price, &["sanPrice"], &key))
        };
        let mut total = base;
        if extra_plain > 0 {
            total += f64::from(extra_plain) * san("normalPrice")?;
        }
        if extra_wild > 0 {
            total += f64::from(extra_wild) * san("wildPrice")?;
        }
        Some(total)
    }

    /// Whether the product takes `name`: a wildcard, an IP address or a plain name. Only
    /// what the catalogue says is refused (an unknown attribute allows).
    pub fn takes(&self, name: &str) -> bool {
        if name.starts_with("*.") {
            self.support_wildcard
        } else if name.parse::<std::net::IpAddr>().is_ok() {
            self.support_ip != Some(false)
        } else {
            self.support_standard != Some(false)
        }
    }

    /// The `product` object that expansion adds to an order for `order.schema.json`.
    pub fn rule_object(&self) -> &serde_json::Value {
        self.rule.get_or_init(|| self.build_rule_object())
    }

    fn build_rule_object(&self) -> serde_json::Value {
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
    struct YesNo;
    impl serde::de::Visitor<'_> for YesNo {
        type Value = bool;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("\"Y\", \"N\" or a boolean")
        }
        fn visit_bool<E: serde::de::Error>(self, b: bool) -> Result<bool, E> {
            Ok(b)
        }
        fn visit_str<E: serde::de::Error>(self, t: &str) -> Result<bool, E> {
            if t.eq_ignore_ascii_case("y") {
                Ok(true)
            } else if t.eq_ignore_ascii_case("n") {
                Ok(false)
            } else {
                Err(E::custom(format!("expected \"Y\" or \"N\", found {t:?}")))
            }
        }
    }
    d.deserialize_any(YesNo)
}

fn to_yes_no<S: serde::Serializer>(v: &bool, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if *v { "Y" } else { "N" })
}

fn maybe_yes_no<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    yes_no(d).map(Some)
}

fn to_maybe_yes_no<S: serde::Serializer>(v: &Option<bool>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(b) => to_yes_no(b, s),
        None => s.serialize_none(),
    }
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

/// Largest catalogue file read (NicSRS's whole product list is tens of KiB).
pub const MAX_CATALOG_BYTES: u64 = 16 << 20;

impl Catalog {
    /// The catalogue built into the binary.
    pub fn builtin() -> Self {
        Self::from_json(BUILTIN_JSON).unwrap_or_else(|e| {
            unreachable!("the built-in catalogue is checked by a unit test: {e}")
        })
    }

    /// Reads a catalogue (a regular file of at most [`MAX_CATALOG_BYTES`]): a JSON array of products, or a `/ssl/productList` reply
    /// (`{"code": 1, "data": [...]}`).
    pub fn from_file(path: &Path) -> Result<Self, CatalogError> {
        let read_err = |source| CatalogError::Read {
            path: path.to_owned(),
            source,
        };
        let read = crate::bounded::read_regular(path, MAX_CATALOG_BYTES).map_err(read_err)?;
        let text = String::from_utf8(read.bytes)
            .map_err(|_| read_err(std::io::Error::other("it is not UTF-8 text")))?;
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
    fn every_code_of_nicsrs_module_is_in_the_catalogue() {
        let c = Catalog::builtin();
        let table = include_str!("../docs/nicsrs-products.tsv");
        let mut n = 0;
        for line in table.lines().skip(1) {
            let cells: Vec<&str> = line.split('\t').collect();
            let p = c
                .get(cells[0])
                .unwrap_or_else(|| panic!("{} is missing", cells[0]));
            n += 1;
            // Where the module's table was not corrected, its attributes are the catalogue's.
            if p.notes.is_none() {
                assert_eq!(p.support_wildcard, cells[6] == "1", "{}", p.code);
                assert_eq!(p.support_standard, Some(cells[7] == "1"), "{}", p.code);
                assert_eq!(p.support_ip, Some(cells[8] == "1"), "{}", p.code);
                assert_eq!(p.support_san, cells[5] == "1", "{}", p.code);
            }
            assert_eq!(
                p.default_protect_domain,
                cells[9].parse().ok(),
                "{}",
                p.code
            );
        }
        assert_eq!(n, 78);
        for code in ["certum-dv-ssl", "certum-premium-ev-san"] {
            assert!(c.get(code).is_some_and(|p| p.unconfirmed), "{code}");
        }
        for guessed in [
            "sectigo-code-signing",
            "sectigo-ev-code-signing",
            "sectigo-personal-email",
        ] {
            assert!(c.get(guessed).is_none(), "{guessed}");
        }
        assert_eq!(
            c.get("comodo-code-signing-certificate").map(|p| p.kind),
            Some(Kind::Codesign)
        );
        assert_eq!(
            c.get("sectigo-pro-email-smime-certificate").map(|p| p.kind),
            Some(Kind::Smime)
        );
        assert_eq!(c.get("instantssl-ov").map(|p| p.kind), Some(Kind::Ssl));
    }

    #[test]
    fn extra_names_cost_their_san_price_plain_and_wildcard_apart() {
        let c = Catalog::builtin();
        let p = c
            .get("comodo-positive-multi-domain-wildcard")
            .expect("product");
        let base = p.price(1).expect("base");
        let normal = p.price["sanPrice"]["normalPrice"]["price012"]
            .as_f64()
            .expect("normal");
        let wild = p.price["sanPrice"]["wildPrice"]["price012"]
            .as_f64()
            .expect("wild");
        let names = |plain, wildcard| NameCount { plain, wildcard };
        // Three names are included, plain ones first.
        assert_eq!(p.price_for(1, names(3, 0)), Some(base));
        assert_eq!(p.price_for(1, names(5, 0)), Some(base + 2.0 * normal));
        assert_eq!(p.price_for(1, names(2, 2)), Some(base + wild));
        assert_eq!(
            p.price_for(1, names(4, 2)),
            Some(base + normal + 2.0 * wild)
        );
        // A product without a SAN price cannot price an extra name.
        let single = c.get("comodo-ssl").expect("product");
        assert_eq!(single.price_for(1, names(2, 0)), None);
        assert_eq!(single.price_for(1, names(1, 0)), single.price(1));
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
