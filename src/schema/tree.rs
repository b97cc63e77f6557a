//! The YAML tree as the schema validator sees it, without converting it to JSON.
//!
//! jsonschema validates any representation that implements its `Json` traits. An order's
//! tree is checked as it is: no `serde_json::Value` is built, and none is dropped, for the
//! orders that pass (all of them, in a manifest that is fine). Only an order that fails is
//! converted, so that the errors are described from the JSON as before
//! ([`super::Schema::check_view`]).
//!
//! The view shows exactly what [`Node::to_json`] would give, for a tree without a key
//! repeated in one mapping (JSON keeps the last of them; such a tree is checked as JSON).

use std::borrow::Cow;
use std::slice;

use jsonschema::JsonType;
use jsonschema::json::{Array, Json, JsonNumber, Node as JsonNode, NodeIdentity, Object};
use serde_json::Value as J;

use crate::manifest::yaml::{Entry, Node, Value};

/// The representation: YAML nodes, JSON values and order roots.
pub struct Tree;

/// An order's own fields, which no request carries and the order schema does not know.
pub const TOOL_FIELDS: [&str; 3] = ["key", "renewBefore", "renewalOf"];

/// One value as the validator sees it.
#[derive(Clone, Copy, Debug)]
pub enum View<'a> {
    /// A value of the YAML tree.
    Yaml(&'a Node),
    /// A JSON value (the product's rule object).
    Json(&'a J),
    /// A mapping key, as the string `propertyNames` checks.
    Name(&'a str),
    /// An expanded order's root: its entries without [`TOOL_FIELDS`], and `product`.
    Order {
        /// The merged order.
        tree: &'a Node,
        /// The product's rule object, shown as the order's `product`.
        product: &'a J,
    },
}

impl Json for Tree {
    type Node<'a> = View<'a>;
    type PreparedKey = String;
    type StringBuffer = ();

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(_: &mut (), string: &str, f: impl FnOnce(View<'_>) -> T) -> T {
        f(View::Name(string))
    }
}

/// A number of either kind of value.
pub enum Number<'a> {
    /// A YAML integer.
    Int(i64),
    /// A finite YAML float.
    Float(f64),
    /// A JSON number.
    Json(&'a serde_json::Number),
}

impl JsonNumber for Number<'_> {
    fn as_u64(&self) -> Option<u64> {
        self.to_number().as_u64()
    }
    fn as_i64(&self) -> Option<i64> {
        self.to_number().as_i64()
    }
    fn as_f64(&self) -> Option<f64> {
        self.to_number().as_f64()
    }
    fn as_str(&self) -> Cow<'_, str> {
        Cow::Owned(self.to_number().to_string())
    }
    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        match self {
            Number::Int(i) => Cow::Owned(serde_json::Number::from(*i)),
            // Only finite floats are numbers here (see `View::value`).
            Number::Float(f) => Cow::Owned(
                serde_json::Number::from_f64(*f).unwrap_or_else(|| serde_json::Number::from(0)),
            ),
            Number::Json(n) => Cow::Borrowed(n),
        }
    }
    fn is_written_as_integer(&self) -> bool {
        match self {
            Number::Int(_) => true,
            Number::Float(_) => false,
            Number::Json(n) => n.is_i64() || n.is_u64(),
        }
    }
}

/// What a view is, once the YAML/JSON distinction is set aside.
enum Kind<'a> {
    Null,
    Bool(bool),
    Number(Number<'a>),
    Str(&'a str),
    Array(Items<'a>),
    Object(Members<'a>),
}

impl<'a> View<'a> {
    fn kind(self) -> Kind<'a> {
        match self {
            View::Yaml(node) => match &node.value {
                Value::Null => Kind::Null,
                Value::Bool(b) => Kind::Bool(*b),
                Value::Int(i) => Kind::Number(Number::Int(*i)),
                // `to_json` gives `null` for a float JSON cannot hold.
                Value::Float(f) if f.is_finite() => Kind::Number(Number::Float(*f)),
                Value::Float(_) => Kind::Null,
                Value::Str(s) => Kind::Str(s),
                Value::Seq(items) => Kind::Array(Items::Yaml(items)),
                Value::Map(entries) => Kind::Object(Members::Yaml(entries)),
            },
            View::Json(value) => match value {
                J::Null => Kind::Null,
                J::Bool(b) => Kind::Bool(*b),
                J::Number(n) => Kind::Number(Number::Json(n)),
                J::String(s) => Kind::Str(s),
                J::Array(items) => Kind::Array(Items::Json(items)),
                J::Object(map) => Kind::Object(Members::Json(map)),
            },
            View::Name(name) => Kind::Str(name),
            View::Order { tree, product } => match &tree.value {
                Value::Map(entries) => Kind::Object(Members::Order(entries, product)),
                _ => View::Yaml(tree).kind(),
            },
        }
    }

    /// The JSON this view shows (what `Node::to_json` gives, with an order's root
    /// completed as `check_order` completes it).
    pub fn to_json(self) -> J {
        match self {
            View::Yaml(node) => node.to_json(),
            View::Json(value) => value.clone(),
            View::Name(name) => J::String(name.to_owned()),
            View::Order { tree, product } => {
                let mut json = tree.to_json();
                if let Some(obj) = json.as_object_mut() {
                    for field in TOOL_FIELDS {
                        obj.shift_remove(field);
                    }
                    obj.insert("product".into(), product.clone());
                }
                json
            }
        }
    }
}

impl<'a> JsonNode<'a, Tree> for View<'a> {
    type Object = Members<'a>;
    type Array = Items<'a>;
    type Number = Number<'a>;

    fn as_object(&self) -> Option<Members<'a>> {
        match self.kind() {
            Kind::Object(members) => Some(members),
            _ => None,
        }
    }
    fn as_array(&self) -> Option<Items<'a>> {
        match self.kind() {
            Kind::Array(items) => Some(items),
            _ => None,
        }
    }
    fn as_string(&self) -> Option<Cow<'a, str>> {
        match self.kind() {
            Kind::Str(s) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }
    fn as_number(&self) -> Option<Number<'a>> {
        match self.kind() {
            Kind::Number(n) => Some(n),
            _ => None,
        }
    }
    fn as_boolean(&self) -> Option<bool> {
        match self.kind() {
            Kind::Bool(b) => Some(b),
            _ => None,
        }
    }
    fn is_null(&self) -> bool {
        matches!(self.kind(), Kind::Null)
    }
    fn json_type(&self) -> JsonType {
        match self.kind() {
            Kind::Null => JsonType::Null,
            Kind::Bool(_) => JsonType::Boolean,
            Kind::Number(_) => JsonType::Number,
            Kind::Str(_) => JsonType::String,
            Kind::Array(_) => JsonType::Array,
            Kind::Object(_) => JsonType::Object,
        }
    }
    fn equals_value(&self, expected: &J) -> bool {
        match self.kind() {
            // `enum` and `const` of strings: compared without building a JSON string.
            Kind::Str(s) => expected.as_str() == Some(s),
            Kind::Null => expected.is_null(),
            Kind::Bool(b) => expected.as_bool() == Some(b),
            _ => jsonschema::json::cmp::equal(&self.to_value(), expected),
        }
    }
    fn to_value(&self) -> Cow<'a, J> {
        match self {
            View::Json(value) => Cow::Borrowed(value),
            other => Cow::Owned(other.to_json()),
        }
    }
    fn identity(&self) -> Option<NodeIdentity> {
        match self {
            View::Yaml(node) => Some(NodeIdentity::new(std::ptr::from_ref(*node) as usize)),
            View::Json(value) => Some(NodeIdentity::tagged(std::ptr::from_ref(*value) as usize, 1)),
            View::Order { tree, .. } => {
                Some(NodeIdentity::tagged(std::ptr::from_ref(*tree) as usize, 2))
            }
            View::Name(_) => None,
        }
    }
}

/// A mapping's members.
#[derive(Clone, Copy)]
pub enum Members<'a> {
    /// A YAML mapping.
    Yaml(&'a [Entry]),
    /// A JSON object.
    Json(&'a serde_json::Map<String, J>),
    /// An order's root: its entries without [`TOOL_FIELDS`] (and any `product`), then
    /// `product`.
    Order(&'a [Entry], &'a J),
}

/// Whether an order root's entry is shown.
fn shown(e: &Entry) -> bool {
    !TOOL_FIELDS.contains(&e.key.as_str()) && e.key != "product"
}

impl<'a> Object<'a, Tree> for Members<'a> {
    type Node = View<'a>;
    type MemberName = &'a str;
    type MembersIter = MembersIter<'a>;

    fn len(&self) -> usize {
        match self {
            Members::Yaml(entries) => entries.len(),
            Members::Json(map) => map.len(),
            Members::Order(entries, _) => entries.iter().filter(|e| shown(e)).count() + 1,
        }
    }
    fn get(&self, key: &String) -> Option<View<'a>> {
        match self {
            Members::Yaml(entries) => entries
                .iter()
                .find(|e| e.key == *key)
                .map(|e| View::Yaml(&e.value)),
            Members::Json(map) => map.get(key).map(View::Json),
            Members::Order(_, product) if key == "product" => Some(View::Json(product)),
            Members::Order(entries, _) => entries
                .iter()
                .find(|e| e.key == *key && shown(e))
                .map(|e| View::Yaml(&e.value)),
        }
    }
    fn members(&self) -> MembersIter<'a> {
        match *self {
            Members::Yaml(entries) => MembersIter::Yaml(entries.iter()),
            Members::Json(map) => MembersIter::Json(map.iter()),
            Members::Order(entries, product) => MembersIter::Order(entries.iter(), Some(product)),
        }
    }
}

/// The members of a mapping, in order.
pub enum MembersIter<'a> {
    /// Of a YAML mapping.
    Yaml(slice::Iter<'a, Entry>),
    /// Of a JSON object.
    Json(serde_json::map::Iter<'a>),
    /// Of an order's root; `product` comes last.
    Order(slice::Iter<'a, Entry>, Option<&'a J>),
}

impl<'a> Iterator for MembersIter<'a> {
    type Item = (&'a str, View<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            MembersIter::Yaml(entries) => entries
                .next()
                .map(|e| (e.key.as_str(), View::Yaml(&e.value))),
            MembersIter::Json(map) => map.next().map(|(k, v)| (k.as_str(), View::Json(v))),
            MembersIter::Order(entries, product) => match entries.find(|e| shown(e)) {
                Some(e) => Some((e.key.as_str(), View::Yaml(&e.value))),
                None => product.take().map(|p| ("product", View::Json(p))),
            },
        }
    }
}

/// A sequence's items.
#[derive(Clone, Copy)]
pub enum Items<'a> {
    /// A YAML sequence.
    Yaml(&'a [Node]),
    /// A JSON array.
    Json(&'a [J]),
}

impl<'a> Array<'a, Tree> for Items<'a> {
    type Node = View<'a>;
    type ElementsIter = ItemsIter<'a>;

    fn len(&self) -> usize {
        match self {
            Items::Yaml(items) => items.len(),
            Items::Json(items) => items.len(),
        }
    }
    fn elements(&self) -> ItemsIter<'a> {
        match *self {
            Items::Yaml(items) => ItemsIter::Yaml(items.iter()),
            Items::Json(items) => ItemsIter::Json(items.iter()),
        }
    }
}

/// The items of a sequence, in order.
pub enum ItemsIter<'a> {
    /// Of a YAML sequence.
    Yaml(slice::Iter<'a, Node>),
    /// Of a JSON array.
    Json(slice::Iter<'a, J>),
}

impl<'a> Iterator for ItemsIter<'a> {
    type Item = View<'a>;

    fn next(&mut self) -> Option<View<'a>> {
        match self {
            ItemsIter::Yaml(items) => items.next().map(View::Yaml),
            ItemsIter::Json(items) => items.next().map(View::Json),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::yaml::parse;
    use crate::schema::Schema;

    /// The tree and its JSON get the same verdict from each schema, with the rules of a DV
    /// and of an OV product; and the JSON is the order's own, completed.
    fn same_verdict(yaml: &str) -> bool {
        let tree = parse(yaml).expect("yaml");
        let json = tree.to_json();
        let as_written = Schema::manifest_order();
        let valid = as_written.validator.is_valid(&json);
        assert_eq!(
            as_written.tree_validator().is_valid(View::Yaml(&tree)),
            valid,
            "manifest order schema on {yaml}"
        );
        let catalog = crate::catalog::Catalog::builtin();
        let mut order_valid = false;
        for code in ["comodo-positivessl", "sectigo-ov"] {
            let product = catalog.get(code).expect("product").rule_object();
            let order = View::Order {
                tree: &tree,
                product,
            };
            let order_json = order.to_json();
            assert!(order_json.get("key").is_none() && order_json.get("product") == Some(product));
            let verdict = Schema::order().validator.is_valid(&order_json);
            assert_eq!(
                Schema::order().tree_validator().is_valid(order),
                verdict,
                "order schema with {code} on {yaml}"
            );
            order_valid |= verdict;
        }
        valid && order_valid
    }

    #[test]
    fn the_tree_gets_the_verdict_its_json_gets() {
        let order = "key: k\nrefId: r-1\nproductCode: comodo-positivessl\nyears: 1\nparams:\n  server: nginx\n  Administrator: {job: Ops, firstName: Sam, lastName: Ortega, email: ops@h.example, mobile: '+1 415 555 0100', organization: Org Inc, address: 1 Main St, city: Town, state: CA, postCode: '94105', country: US}\n  domainInfo: [{domainName: a.example, dcvMethod: CNAME_CSR_HASH}]\n";
        assert!(same_verdict(order), "the base order is valid");
        let mut refused = 0;
        for (from, to) in [
            ("years: 1", "years: 1.0"),
            ("years: 1", "years: 1.5"),
            ("years: 1", "years: 99999999999999999999"),
            ("years: 1", "years: '1'"),
            ("years: 1", "years: null"),
            ("years: 1", "years: true"),
            ("years: 1", "years: 0"),
            ("refId: r-1", "refId: ''"),
            ("refId: r-1", "refId: [r]"),
            ("dcvMethod: CNAME_CSR_HASH", "dcvMethod: cname_csr_hash"),
            ("dcvMethod: CNAME_CSR_HASH", "dcvMethod: 7"),
            ("dcvMethod: CNAME_CSR_HASH", "dcvMethod: EMAIL"),
            ("a.example", "é.example"),
            ("a.example", ""),
            ("server: nginx", "server: {file: a}"),
            ("server: nginx", "server: 12"),
            ("key: k", "key: k\nproduct: {vendor: x}"),
            ("key: k", "key: k\nbogus: 1"),
            ("key: k", "key: 3"),
            ("key: k", "renewBefore: 30d\nrenewalOf: 12345\nkey: k"),
            ("country: US", "country: ZZ"),
            ("country: US", "country: us"),
            ("email: ops@h.example", "email: ''"),
            ("mobile: '+1 415 555 0100'", "mobile: 4155550100"),
            ("  server: nginx\n", ""),
            (
                "  domainInfo: [{domainName: a.example, dcvMethod: CNAME_CSR_HASH}]\n",
                "  domainInfo: []\n",
            ),
        ] {
            let changed = order.replacen(from, to, 1);
            assert_ne!(changed, order, "{from}");
            refused += usize::from(!same_verdict(&changed));
        }
        assert!(refused > 15, "most changes break the order: {refused}");
    }
}
