//! The expand stage: `defaults` merged under each order, references resolved, and the
//! result turned into the exact `/ssl/place` request.

use std::sync::Arc;

use serde_json::{Map, Value as Json};

use jsonschema::json::{Array as _, JsonNumber as _, Node as _, Object as _};

use crate::manifest::yaml::{Entry, Node, Origin, Value};
use crate::schema::View;
use crate::source::{FileId, SourceFile, Span};

/// Contact objects inside `params`; on the wire each gets `organation` too.
pub const CONTACTS: [&str; 3] = ["Administrator", "finance", "tech"];

/// Fields that may be written as unquoted numbers and are sent as the text written.
const TEXT_FIELDS: [&str; 4] = [
    "mobile",
    "postCode",
    "organizationMobile",
    "organizationPostCode",
];

/// Deep-merges `defaults` under `order`: mappings merge recursively and the order wins;
/// a sequence or scalar in the order replaces the default; `null` removes a default.
/// Every node of the result remembers whether it came from the order or the defaults.
/// The order's nodes are moved into the result; the defaults are copied once.
pub fn merge(defaults: Option<&Node>, order: Node) -> Node {
    match defaults {
        Some(
            defaults @ Node {
                value: Value::Map(_),
                ..
            },
        ) if matches!(order.value, Value::Map(_)) => {
            let mut base = defaults.clone();
            base.set_origin(Origin::Defaults);
            merge_owned(base, order)
        }
        _ => without_nulls(order),
    }
}

/// [`merge`] of a copy of the defaults (already marked as such) and the order.
fn merge_owned(base: Node, order: Node) -> Node {
    match (base.value, order.value) {
        (Value::Map(mut entries), Value::Map(over)) => {
            for e in over {
                let existing = entries.iter().position(|b| b.key == e.key);
                match (existing, &e.value.value) {
                    (Some(i), Value::Null) => {
                        entries.remove(i);
                    }
                    (None, Value::Null) => {}
                    (Some(i), _) => {
                        let below = std::mem::replace(&mut entries[i].value, Node::null());
                        entries[i] = Entry {
                            key: e.key,
                            key_span: e.key_span,
                            value: merge_owned(below, e.value),
                        };
                    }
                    (None, _) => entries.push(e),
                }
            }
            Node {
                value: Value::Map(entries),
                span: order.span,
                origin: order.origin,
            }
        }
        (_, value) => without_nulls(Node {
            value,
            span: order.span,
            origin: order.origin,
        }),
    }
}

/// `node` with [`drop_nulls`] applied.
fn without_nulls(mut node: Node) -> Node {
    drop_nulls(&mut node);
    node
}

/// Removes `null` entries from mappings: an absent value and `null` mean the same.
fn drop_nulls(node: &mut Node) {
    match &mut node.value {
        Value::Map(entries) => {
            entries.retain(|e| !matches!(e.value.value, Value::Null));
            entries.iter_mut().for_each(|e| drop_nulls(&mut e.value));
        }
        Value::Seq(items) => items.iter_mut().for_each(drop_nulls),
        _ => {}
    }
}

/// Rewrites unquoted numbers in text fields (phone numbers, postcodes) as the exact text
/// written, so `+4930...` keeps its plus and `01234` its zero.
pub fn numbers_as_text(node: &mut Node, file: &SourceFile) {
    if let Value::Map(entries) = &mut node.value {
        for e in entries {
            if TEXT_FIELDS.contains(&e.key.as_str())
                && matches!(e.value.value, Value::Int(_) | Value::Float(_))
            {
                let text = file.slice(e.value.span).trim().to_owned();
                e.value.value = Value::Str(text);
            } else {
                numbers_as_text(&mut e.value, file);
            }
        }
    }
}

/// Adds a derived `refId` entry (`{prefix}{key}`) when the order has none, placed at the
/// order's `key` so that problems with it point there.
pub fn derive_ref_id(order: &mut Node, prefix: &str) -> bool {
    if order.get("refId").is_some() {
        return false;
    }
    let Some(key) = order.entry("key").cloned() else {
        return false;
    };
    let Some(k) = key.value.as_str() else {
        return false;
    };
    let derived = Node {
        value: Value::Str(format!("{prefix}{k}")),
        span: key.value.span,
        origin: Origin::Order,
    };
    if let Value::Map(entries) = &mut order.value {
        entries.push(Entry {
            key: "refId".into(),
            key_span: key.key_span,
            value: derived,
        });
    }
    true
}

/// An order, fully expanded and valid: what `/ssl/place` is sent. Kept compact, since a
/// run may hold tens of thousands.
#[derive(Clone, Debug)]
pub struct ExpandedOrder {
    /// The order's key, unique in the run.
    pub key: String,
    /// The manifest it is written in.
    pub file: FileId,
    /// Its index in the manifest's `orders`.
    pub index: usize,
    /// Where its `key` is written.
    pub span: Span,
    /// `productCode`.
    pub product_code: String,
    /// `years`.
    pub years: u32,
    /// `refId` (given or derived).
    pub ref_id: String,
    /// `params` exactly as sent: canonical JSON (keys sorted, so reordering a manifest does
    /// not change the request), each contact carrying both `organization` and `organation`.
    pub params: Arc<str>,
    /// The names the order covers, in `domainInfo` order.
    pub domains: Vec<String>,
    /// The catalogue's list price for `years`, when the catalogue has prices.
    pub price: Option<f64>,
    /// `renewBefore`: how long before the end it is renewed or reissued.
    pub renew_before: crate::lifecycle::RenewBefore,
    /// `renewalOf`: the certId of a certificate ordered outside the tool that it adopts.
    pub renewal_of: Option<String>,
    /// SHA-256 (hex) of the `/ssl/place` request, worked out once, when first asked for
    /// (`apply` asks on the validation's threads, off the path to the first call). The
    /// fields above are not changed once the order is built.
    place_sha256: std::sync::OnceLock<String>,
}

impl ExpandedOrder {
    /// Builds the order from its validated, merged tree (`productCode`, `years`, `refId`,
    /// `params`), read as the schema read it ([`View`]): no JSON copy of the order is made.
    pub fn from_tree(
        key: &str,
        file: FileId,
        index: usize,
        span: Span,
        tree: &Node,
    ) -> Option<Self> {
        let product_code = tree.get("productCode")?.as_str()?.to_owned();
        // JSON Schema counts `1.0` as an integer, and so does the schema's check: the
        // request says `1`.
        let years = match tree.get("years")?.value {
            Value::Int(n) => u32::try_from(n).ok()?,
            Value::Float(f) if f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&f) => {
                f as u32
            }
            _ => return None,
        };
        let ref_id = tree.get("refId")?.as_str()?.to_owned();
        let params = tree.get("params")?;
        let Value::Map(entries) = &params.value else {
            return None;
        };
        let domains = match params.get("domainInfo").map(|d| &d.value) {
            Some(Value::Seq(items)) => items
                .iter()
                .filter_map(|d| d.get("domainName")?.as_str().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        // The live API reads the misspelt key; send both.
        let mut out = Vec::with_capacity(1024);
        let members = entries
            .iter()
            .map(|e| (e.key.as_str(), View::Yaml(&e.value)));
        write_object(members.collect(), &mut out, &|name, value, out| {
            let contact = CONTACTS
                .contains(&name)
                .then(|| value.as_object())
                .flatten();
            let Some(contact) = contact else {
                return false;
            };
            let mut fields: Vec<(&str, View<'_>)> = contact.members().collect();
            if let Some(org) = fields.iter().rev().find(|(k, _)| *k == "organization") {
                fields.push(("organation", org.1));
            }
            write_object(fields, out, &|_, _, _| false);
            true
        });
        // Only serde_json's UTF-8 output and ASCII punctuation were written.
        let params: Arc<str> = String::from_utf8(out).unwrap_or_default().into();
        Some(ExpandedOrder {
            key: key.to_owned(),
            file,
            index,
            span,
            product_code,
            years,
            ref_id,
            params,
            domains,
            price: None,
            renew_before: crate::lifecycle::RenewBefore::default(),
            renewal_of: None,
            place_sha256: std::sync::OnceLock::new(),
        })
    }

    /// `params` as sent, as JSON.
    pub fn wire_params(&self) -> Json {
        serde_json::from_str(&self.params).unwrap_or(Json::Null)
    }

    /// The names the order covers, in `domainInfo` order.
    pub fn domains(&self) -> Vec<&str> {
        self.domains.iter().map(String::as_str).collect()
    }

    /// SHA-256 (hex) of the request without the token: what the ledger compares to tell
    /// whether an order changed after it was placed.
    pub fn request_sha256(&self) -> &str {
        self.place_sha256.get_or_init(|| {
            request_sha256(
                "place",
                &[
                    ("params", &self.params),
                    ("productCode", &self.product_code),
                    ("refId", &self.ref_id),
                    ("years", &self.years.to_string()),
                ],
            )
        })
    }

    /// `params` as sent, picked to `fields`, as canonical JSON.
    fn params_of(&self, fields: &[&str]) -> Map<String, Json> {
        let params = self.wire_params();
        fields
            .iter()
            .filter_map(|k| Some(((*k).to_owned(), params.get(*k)?.clone())))
            .collect()
    }

    /// Whether the order carries its own CSR (without one, NicSRS generated the key).
    pub fn has_csr(&self) -> bool {
        self.wire_params().get("csr").is_some()
    }

    /// The `params` of `/ssl/renew`: the order's `csr`, `server`, `domainInfo` and
    /// `uniqueValue`, as canonical JSON. `None` without a CSR, which a renewal requires
    /// (see [`ExpandedOrder::renewal_params_with`] for the CSR NicSRS holds).
    pub fn renewal_params(&self) -> Option<Arc<str>> {
        let picked = self.params_of(&RENEW_PARAMS);
        picked
            .contains_key("csr")
            .then(|| canonical_json(&Json::Object(picked)).into())
    }

    /// The `params` of `/ssl/renew` for an order whose key NicSRS generated: the CSR
    /// NicSRS holds for it (collect's `applyParams.csr`), with the order's other fields.
    pub fn renewal_params_with(&self, csr: &str) -> Arc<str> {
        let mut picked = self.params_of(&RENEW_PARAMS);
        picked.insert("csr".into(), Json::String(csr.to_owned()));
        canonical_json(&Json::Object(picked)).into()
    }

    /// The `params` of `/ssl/replace`: `csr`, `domainInfo` and `uniqueValue`. `None`
    /// without a CSR, which a replacement requires.
    pub fn replace_params(&self) -> Option<Arc<str>> {
        let picked = self.params_of(&REPLACE_PARAMS);
        picked
            .contains_key("csr")
            .then(|| canonical_json(&Json::Object(picked)).into())
    }

    /// `params.uniqueValue`, which `/ssl/reissue` takes as a form field of its own.
    pub fn unique_value(&self) -> Option<String> {
        self.wire_params()
            .get("uniqueValue")
            .and_then(Json::as_str)
            .map(str::to_owned)
    }

    /// A short hash of each field of the order that decides what a certificate is (see
    /// [`HASHED_FIELDS`]), as `(name, hex)`; fields the order does not have are left out.
    pub fn field_hashes(&self) -> Vec<(&'static str, String)> {
        field_hashes(&self.params, &self.product_code, self.years)
    }

    /// The form fields of `/ssl/place`, without the token. With `redact_keys`, a private
    /// key is replaced by a placeholder.
    pub fn form(&self, redact_keys: bool) -> Json {
        let mut params = self.wire_params();
        if redact_keys && let Some(key) = params.get_mut("privateKey") {
            *key = Json::String("<redacted>".into());
        }
        let mut form = Map::new();
        form.insert(
            "productCode".into(),
            Json::String(self.product_code.clone()),
        );
        form.insert("years".into(), Json::from(self.years));
        form.insert("refId".into(), Json::String(self.ref_id.clone()));
        form.insert("params".into(), params);
        Json::Object(form)
    }

    /// What `expand` shows for the order: its `/ssl/place` request, or for an order that
    /// adopts a certificate (`renewalOf`), the `/ssl/renew` request of its first renewal
    /// (never placed). Returns the endpoint and the form fields, without the token.
    pub fn first_request(&self, redact_keys: bool) -> (&'static str, Json) {
        let Some(cert_id) = &self.renewal_of else {
            return ("place", self.form(redact_keys));
        };
        let mut form = Map::new();
        form.insert("renewId".into(), Json::String(cert_id.clone()));
        form.insert("years".into(), Json::from(self.years));
        form.insert("refId".into(), Json::String(format!("{}-r1", self.ref_id)));
        let params = match self.renewal_params() {
            Some(params) => serde_json::from_str(&params).unwrap_or(Json::Null),
            // Renewed with the CSR NicSRS holds for the certificate, read when it is sent.
            None => {
                let mut p = self.params_of(&RENEW_PARAMS);
                p.insert(
                    "csr".into(),
                    Json::String("<the CSR NicSRS holds for the certificate>".into()),
                );
                Json::Object(p)
            }
        };
        form.insert("params".into(), params);
        ("renew", Json::Object(form))
    }
}

/// The fields of an order whose changes `plan` reports one by one: what the certificate
/// is for (product, term, key, names) and who it is for (contacts, organisation).
pub const HASHED_FIELDS: [&str; 10] = [
    "productCode",
    "years",
    "csr",
    "domainInfo",
    "server",
    "uniqueValue",
    "Administrator",
    "tech",
    "finance",
    "organizationInfo",
];

/// A short hash of each of [`HASHED_FIELDS`] of a placement with these `params` (canonical
/// JSON, as sent), `productCode` and `years`; fields it does not have are left out.
pub fn field_hashes(params: &str, product_code: &str, years: u32) -> Vec<(&'static str, String)> {
    let params: Json = serde_json::from_str(params).unwrap_or(Json::Null);
    let years = Json::from(years);
    let code = Json::String(product_code.to_owned());
    HASHED_FIELDS
        .iter()
        .filter_map(|&name| {
            let value = match name {
                "productCode" => &code,
                "years" => &years,
                _ => params.get(name)?,
            };
            Some((name, short_hash(name, value)))
        })
        .collect()
}

/// What `/ssl/renew` takes in `params` (NicSRS's renew page).
const RENEW_PARAMS: [&str; 4] = ["csr", "server", "domainInfo", "uniqueValue"];
/// What `/ssl/replace` takes in `params` (NicSRS's replace page).
const REPLACE_PARAMS: [&str; 3] = ["csr", "domainInfo", "uniqueValue"];

/// The first 8 hex digits of the SHA-256 of a field's value: enough to tell a change,
/// and nothing of the value. A CSR is hashed as its DER, so that re-wrapping the PEM (or
/// NicSRS writing it back its own way) is no change.
fn short_hash(name: &str, value: &Json) -> String {
    let bytes = match (name, value) {
        // The CSR itself, however its PEM is wrapped.
        ("csr", Json::String(pem)) => crate::csr::der(pem)
            .unwrap_or_else(|| pem.split_whitespace().collect::<String>().into_bytes()),
        _ => canonical_json(value).into_bytes(),
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, &bytes);
    crate::shown::hex(&digest.as_ref()[..4])
}

/// Field hashes as the ledger's `request_fields` cell: `name=hex` separated by spaces.
pub fn fields_cell(fields: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, hash) in fields {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(hash);
    }
    out
}

/// A `request_fields` cell with `csr` and `domainInfo` replaced by what NicSRS holds for a
/// certificate (collect's `applyParams`), for a certificate the ledger learnt of by its
/// refId rather than by sending its request.
pub fn fields_with_held(cell: &str, csr: Option<&str>, domain_info: Option<&Json>) -> String {
    let mut fields: Vec<(&str, String)> = parse_fields_cell(cell)
        .into_iter()
        .filter(|(n, _)| !matches!(*n, "csr" | "domainInfo"))
        .map(|(n, h)| (n, h.to_owned()))
        .collect();
    if let Some(csr) = csr {
        fields.push(("csr", short_hash("csr", &Json::String(csr.to_owned()))));
    }
    if let Some(info) = domain_info {
        fields.push(("domainInfo", short_hash("domainInfo", info)));
    }
    fields_cell(&fields)
}

/// A `request_fields` cell read back as `(name, hex)` pairs.
/// The cell comes from a ledger anyone can edit: only known fields with short hex hashes are
/// taken, so nothing else it holds is ever repeated in a plan.
pub fn parse_fields_cell(cell: &str) -> Vec<(&str, &str)> {
    cell.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, hash)| {
            HASHED_FIELDS.contains(name)
                && (1..=16).contains(&hash.len())
                && hash.bytes().all(|b| b.is_ascii_hexdigit())
        })
        .collect()
}

/// SHA-256 (hex) of a request to `endpoint` with these form fields, without the token: of
/// the canonical JSON object `{"endpoint": endpoint, field: value, ...}` (keys sorted, every
/// value a string), written straight into the digest. Field names are distinct and none is
/// `endpoint`.
pub fn request_sha256(endpoint: &str, fields: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(fields.len() + 1);
    pairs.push(("endpoint", endpoint));
    pairs.extend_from_slice(fields);
    pairs.sort_unstable_by(|a, b| a.0.cmp(b.0));
    let mut json = Vec::with_capacity(64 + fields.iter().map(|f| f.1.len() * 5 / 4).sum::<usize>());
    json.push(b'{');
    for (i, (name, value)) in pairs.into_iter().enumerate() {
        if i > 0 {
            json.push(b',');
        }
        // Writing a string into memory cannot fail.
        let _ = serde_json::to_writer(&mut json, name);
        json.push(b':');
        let _ = serde_json::to_writer(&mut json, value);
    }
    json.push(b'}');
    crate::shown::hex(ring::digest::digest(&ring::digest::SHA256, &json).as_ref())
}

/// The `domainName`s of a `params` object's `domainInfo`, in order.
pub fn domain_names(params: &Json) -> Vec<String> {
    params
        .get("domainInfo")
        .and_then(Json::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| {
            d.get("domainName")
                .and_then(Json::as_str)
                .map(str::to_owned)
        })
        .collect()
}

/// JSON with every object's keys sorted: one spelling per value.
pub fn canonical_json(value: &Json) -> String {
    let mut out = Vec::with_capacity(512);
    write_canonical(View::Json(value), &mut out);
    // Only serde_json's UTF-8 output and ASCII punctuation were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes `value` as canonical JSON: a YAML tree exactly as its JSON would be written.
fn write_canonical(value: View<'_>, out: &mut Vec<u8>) {
    if let Some(members) = value.as_object() {
        write_object(members.members().collect(), out, &|_, _, _| false);
    } else if let Some(items) = value.as_array() {
        out.push(b'[');
        for (i, item) in items.elements().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_canonical(item, out);
        }
        out.push(b']');
    } else if let Some(s) = value.as_string() {
        scalar(&*s, out);
    } else if let Some(n) = value.as_number() {
        scalar(&*n.to_number(), out);
    } else if let Some(b) = value.as_boolean() {
        scalar(&b, out);
    } else {
        out.extend_from_slice(b"null");
    }
}

/// Writes an object's members sorted by name; of a name written twice (in YAML), the last
/// value, as JSON keeps it. `special` may write a member's value itself (returning true).
fn write_object<'a>(
    mut members: Vec<(&'a str, View<'a>)>,
    out: &mut Vec<u8>,
    special: &dyn Fn(&str, View<'a>, &mut Vec<u8>) -> bool,
) {
    members.sort_by(|a, b| a.0.cmp(b.0)); // stable: a repeated name's last value is last
    out.push(b'{');
    let mut first = true;
    for (i, (name, value)) in members.iter().enumerate() {
        if members.get(i + 1).is_some_and(|next| next.0 == *name) {
            continue;
        }
        if !first {
            out.push(b',');
        }
        first = false;
        scalar(*name, out);
        out.push(b':');
        if !special(name, *value, out) {
            write_canonical(*value, out);
        }
    }
    out.push(b'}');
}

/// serde_json's own compact spelling of a scalar, written straight into the buffer.
fn scalar<T: serde::Serialize + ?Sized>(v: &T, out: &mut Vec<u8>) {
    // Writing a string, a number or a boolean into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, v);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::parse;

    #[test]
    fn order_wins_lists_replace_and_null_removes() {
        let d = parse("years: 1\nparams:\n  server: nginx\n  uniqueValue: abc\n  domainInfo: [{domainName: a.example}]\n  Administrator: {job: CTO, city: Berlin}\n").expect("defaults");
        let o = parse("key: k\nparams:\n  uniqueValue: null\n  domainInfo: [{domainName: b.example}]\n  Administrator: {city: Paris}\n").expect("order");
        let m = merge(Some(&d), o);
        assert_eq!(
            m.to_json(),
            serde_json::json!({"years": 1, "params": {"server": "nginx", "domainInfo": [{"domainName": "b.example"}],
                "Administrator": {"job": "CTO", "city": "Paris"}}, "key": "k"})
        );
        let params = m.get("params").expect("params");
        assert_eq!(
            params.get("server").map(|n| n.origin),
            Some(Origin::Defaults)
        );
        assert_eq!(
            params
                .get("Administrator")
                .and_then(|a| a.get("city"))
                .map(|n| n.origin),
            Some(Origin::Order)
        );
        assert_eq!(
            params
                .get("Administrator")
                .and_then(|a| a.get("job"))
                .map(|n| n.origin),
            Some(Origin::Defaults)
        );
    }

    #[test]
    fn a_request_hash_is_the_sha256_of_its_canonical_json() {
        let fields = [
            ("years", "1"),
            ("params", "{\"csr\":\"-----BEGIN\\n\",\"server\":\"nginx\"}"),
            ("refId", "a \"quoted\" ref"),
            ("productCode", "comodo-ssl"),
        ];
        let mut request = Map::new();
        request.insert("endpoint".into(), Json::String("place".into()));
        for (name, value) in fields {
            request.insert(name.into(), Json::String(value.into()));
        }
        let canonical = canonical_json(&Json::Object(request));
        let expected: String = ring::digest::digest(&ring::digest::SHA256, canonical.as_bytes())
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(request_sha256("place", &fields), expected);
        // What ledgers already hold for this request: the hash must never change.
        assert_eq!(
            request_sha256(
                "place",
                &[
                    ("params", "{}"),
                    ("productCode", "p"),
                    ("refId", "r"),
                    ("years", "1")
                ]
            ),
            "db15db78a268dfd50767af88e016ee32ccc64c081a88fe22b68e211acd933e3c"
        );
    }

    #[test]
    fn years_written_as_a_whole_float_is_sent_as_an_integer() {
        for years in ["2", "2.0"] {
            let tree = parse(&format!(
                "key: k\nproductCode: p\nyears: {years}\nrefId: r\nparams: {{domainInfo: [{{domainName: a.example}}]}}\n"
            ))
            .expect("yaml");
            let order = ExpandedOrder::from_tree("k", FileId::default(), 0, Span::default(), &tree)
                .expect("an order the schema accepts is expanded");
            assert_eq!(order.years, 2, "{years}");
            assert_eq!(order.domains, ["a.example"]);
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_level() {
        let v = serde_json::json!({"b": [{"z": 1, "a": "x\"y"}], "a": null});
        assert_eq!(canonical_json(&v), r#"{"a":null,"b":[{"a":"x\"y","z":1}]}"#);
    }

    #[test]
    fn a_fields_cell_from_the_ledger_yields_only_known_fields_with_hex_hashes() {
        let cell = format!(
            "csr=0badc0de server=\u{1b}[31mred years={} bogus=12345678 domainInfo=5e6f7a8b",
            "a".repeat(10_000)
        );
        assert_eq!(
            parse_fields_cell(&cell),
            [("csr", "0badc0de"), ("domainInfo", "5e6f7a8b")]
        );
    }

    #[test]
    fn phone_numbers_keep_their_text() {
        let text = "mobile: +4930123\npostCode: 01234\ncity: 12\n";
        let mut n = parse(text).expect("yaml");
        numbers_as_text(&mut n, &SourceFile::new("x".into(), text.into()));
        assert_eq!(
            n.to_json(),
            serde_json::json!({"mobile": "+4930123", "postCode": "01234", "city": 12})
        );
    }
}
