//! The two JSON Schemas, embedded, and their errors turned into diagnostics' raw material.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::{Validator, paths::LocationSegment};
use serde_json::Value;

use crate::diagnostic::DiagnosticCode;

pub mod tree;

pub use tree::View;

/// `order-manifest.schema.json`: the file as written.
pub const MANIFEST_SCHEMA: &str = include_str!("../../schemas/order-manifest.schema.json");
/// `order.schema.json`: one expanded order, with the product-dependent rules.
pub const ORDER_SCHEMA: &str = include_str!("../../schemas/order.schema.json");

/// A schema, parsed and compiled once per process.
pub struct Schema {
    json: Value,
    validator: Validator,
    /// The same schema for YAML trees seen as JSON ([`tree`]), compiled on first use.
    tree: OnceLock<Validator<tree::Tree>>,
}

/// What a schema error is about, which decides where its caret goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caret {
    /// The value at the pointer is wrong.
    Value,
    /// The mapping at the pointer lacks the field.
    Missing(String),
    /// The mapping at the pointer has a field it must not have.
    Unknown(String),
}

/// One schema violation in the terms a diagnostic needs.
#[derive(Clone, Debug)]
pub struct Issue {
    /// The diagnostic code (`x-code` of the rule, or one derived from the keyword).
    pub code: DiagnosticCode,
    /// The message.
    pub message: String,
    /// JSON pointer of the instance value the error is about.
    pub pointer: String,
    /// What the caret should be under.
    pub target: Caret,
    /// A hint (`x-hint`, or "did you mean").
    pub hint: Option<String>,
}

impl Schema {
    fn compile(text: &str) -> Schema {
        let json: Value = serde_json::from_str(text)
            .unwrap_or_else(|e| unreachable!("embedded schemas are checked by tests: {e}"));
        let validator = jsonschema::draft202012::new(&json)
            .unwrap_or_else(|e| unreachable!("embedded schemas are checked by tests: {e}"));
        Schema {
            json,
            validator,
            tree: OnceLock::new(),
        }
    }

    /// The manifest schema.
    pub fn manifest() -> &'static Schema {
        static S: OnceLock<Schema> = OnceLock::new();
        S.get_or_init(|| Schema::compile(MANIFEST_SCHEMA))
    }

    /// `$defs/order` of the manifest schema on its own: one entry of `orders`, so that a
    /// large manifest is checked an order at a time instead of as one JSON copy.
    pub fn manifest_order() -> &'static Schema {
        static S: OnceLock<Schema> = OnceLock::new();
        S.get_or_init(|| {
            let full: Value = serde_json::from_str(MANIFEST_SCHEMA)
                .unwrap_or_else(|e| unreachable!("embedded schemas are checked by tests: {e}"));
            let one = serde_json::json!({
                "$schema": full["$schema"],
                "$ref": "#/$defs/order",
                "$defs": full["$defs"],
            });
            Schema::compile(&one.to_string())
        })
    }

    /// The expanded-order schema.
    pub fn order() -> &'static Schema {
        static S: OnceLock<Schema> = OnceLock::new();
        S.get_or_init(|| Schema::compile(ORDER_SCHEMA))
    }

    /// The schema document.
    pub fn json(&self) -> &Value {
        &self.json
    }

    /// Every violation in `view`: the same as [`Schema::check`] of its JSON, which is
    /// built only when there is one.
    pub fn check_view(&self, view: View<'_>) -> Vec<Issue> {
        if self.tree_validator().is_valid(view) {
            return Vec::new();
        }
        self.check(&view.to_json())
    }

    fn tree_validator(&self) -> &Validator<tree::Tree> {
        self.tree.get_or_init(|| {
            jsonschema::options_for::<tree::Tree>()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&self.json)
                .unwrap_or_else(|e| unreachable!("embedded schemas are checked by tests: {e}"))
        })
    }

    /// Every violation in `instance`.
    pub fn check(&self, instance: &Value) -> Vec<Issue> {
        if self.validator.is_valid(instance) {
            return Vec::new();
        }
        let mut issues = Vec::new();
        for error in self.validator.iter_errors(instance) {
            let pointer = error.instance_path().as_str().to_owned();
            let keyword_path: Vec<String> = error
                .schema_path()
                .segments()
                .map(|s| match s {
                    LocationSegment::Property(p) => p.to_string(),
                    LocationSegment::Index(i) => i.to_string(),
                })
                .collect();
            let rule = self.rule_of(&keyword_path);
            issues.extend(describe(error.kind(), error.instance(), pointer, &rule));
        }
        merge_missing(issues)
    }

    /// The `x-code`/`x-hint` annotations nearest to the failing keyword, and the
    /// subschema holding it (for the list of allowed property names).
    fn rule_of(&self, path: &[String]) -> Rule<'_> {
        let mut rule = Rule::default();
        let mut node = &self.json;
        let keyword = path.last().map(String::as_str);
        for (i, segment) in path.iter().enumerate() {
            if i + 1 == path.len() {
                rule.parent = Some(node);
            }
            annotate(&mut rule, node);
            let next = if segment == "$ref" {
                node.get("$ref")
                    .and_then(Value::as_str)
                    .and_then(|r| r.strip_prefix('#'))
                    .and_then(|p| self.json.pointer(p))
            } else {
                match node {
                    Value::Object(m) => m.get(segment.as_str()),
                    Value::Array(a) => segment.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                }
            };
            match next {
                Some(n) => node = n,
                None => break,
            }
        }
        // A `false` subschema (a forbidden property) is its own keyword.
        if keyword != Some("false") && !node.is_boolean() {
            annotate(&mut rule, node);
        }
        rule
    }
}

/// Annotations gathered along a schema path.
#[derive(Default)]
struct Rule<'a> {
    code: Option<DiagnosticCode>,
    hint: Option<&'a str>,
    parent: Option<&'a Value>,
}

fn annotate<'a>(rule: &mut Rule<'a>, node: &'a Value) {
    if let Some(code) = node
        .get("x-code")
        .and_then(Value::as_str)
        .and_then(DiagnosticCode::from_name)
    {
        rule.code = Some(code);
    }
    if let Some(hint) = node.get("x-hint").and_then(Value::as_str) {
        rule.hint = Some(hint);
    }
}

fn last_segment(pointer: &str) -> &str {
    pointer.rsplit('/').next().unwrap_or("")
}

fn show(v: &Value) -> String {
    match v {
        Value::String(s) => crate::shown::quote(s),
        other => crate::shown::quote(&other.to_string()),
    }
}

/// Fields whose values are never quoted in a message: keys and CSRs are long, and a key
/// (or whatever a `{file:}`/`{env:}` reference read in their place) may be a secret.
pub const UNQUOTED_FIELDS: [&str; 2] = ["csr", "privateKey"];

/// The value as a message names it: quoted, or for an [`UNQUOTED_FIELDS`] field, "the
/// value".
fn show_value(field: &str, v: &Value) -> String {
    if UNQUOTED_FIELDS.contains(&field) {
        "the value".into()
    } else {
        show(v)
    }
}

fn describe(
    kind: &ValidationErrorKind,
    instance: &Value,
    pointer: String,
    rule: &Rule,
) -> Vec<Issue> {
    let code = |fallback: DiagnosticCode| rule.code.unwrap_or(fallback);
    let hint = rule.hint.map(str::to_owned);
    let field = last_segment(&pointer).to_owned();
    let issue =
        |code: DiagnosticCode, message: String, target: Caret, hint: Option<String>| Issue {
            code,
            message,
            pointer: pointer.clone(),
            target,
            hint,
        };
    match kind {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default().to_owned();
            let message = match rule.code {
                Some(c) => format!("missing field `{name}`, which {}", requirement(c, &name)),
                None => format!("missing required field `{name}`"),
            };
            vec![issue(
                code(DiagnosticCode::MissingField),
                message,
                Caret::Missing(name),
                None,
            )]
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let allowed: Vec<&str> = rule
                .parent
                .and_then(|p| p.get("properties"))
                .and_then(Value::as_object)
                .map(|m| m.keys().map(String::as_str).collect())
                .unwrap_or_default();
            unexpected
                .iter()
                .map(|name| {
                    issue(
                        code(DiagnosticCode::UnknownField),
                        format!("unknown field `{name}`"),
                        Caret::Unknown(name.clone()),
                        crate::diagnostic::did_you_mean(name, allowed.iter().copied()).or_else(
                            || {
                                (allowed.len() <= 12).then(|| {
                                    format!(
                                        "the fields here are {}",
                                        allowed
                                            .iter()
                                            .map(|a| format!("`{a}`"))
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )
                                })
                            },
                        ),
                    )
                })
                .collect()
        }
        ValidationErrorKind::FalseSchema => {
            let message = match rule.code {
                Some(c) => format!("field `{field}` {}", requirement(c, &field)),
                None => format!("field `{field}` is not allowed here"),
            };
            vec![issue(
                code(DiagnosticCode::UnknownField),
                message,
                Caret::Unknown(field.clone()),
                hint,
            )]
        }
        ValidationErrorKind::Type { kind } => {
            let types: Vec<jsonschema::JsonType> = match kind {
                TypeKind::Single(t) => vec![*t],
                TypeKind::Multiple(set) => set.iter().collect(),
            };
            let expected = expected_types(&types);
            vec![issue(
                code(DiagnosticCode::WrongType),
                format!("expected {expected}, found {}", json_type(instance)),
                Caret::Value,
                hint,
            )]
        }
        ValidationErrorKind::Enum { options } => {
            let opts: Vec<&str> = options
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let near = instance
                .as_str()
                .and_then(|s| crate::diagnostic::did_you_mean(s, opts.iter().copied()));
            let hint = near.or(hint).or_else(|| {
                (opts.len() <= 8).then(|| {
                    format!(
                        "use one of {}",
                        opts.iter()
                            .map(|o| format!("`{o}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            });
            vec![issue(
                code(DiagnosticCode::InvalidValue),
                format!("{} is not a valid `{field}`", show_value(&field, instance)),
                Caret::Value,
                hint,
            )]
        }
        ValidationErrorKind::Constant { expected_value } => vec![issue(
            code(DiagnosticCode::InvalidValue),
            format!(
                "`{field}` must be {}, found {}",
                show(expected_value),
                show_value(&field, instance)
            ),
            Caret::Value,
            hint,
        )],
        ValidationErrorKind::Pattern { .. } => vec![issue(
            code(DiagnosticCode::InvalidFormat),
            format!("{} is not a valid `{field}`", show_value(&field, instance)),
            Caret::Value,
            hint,
        )],
        ValidationErrorKind::Minimum { limit }
        | ValidationErrorKind::ExclusiveMinimum { limit } => {
            vec![issue(
                code(DiagnosticCode::OutOfRange),
                format!("`{field}` is {instance}, below the minimum {limit}"),
                Caret::Value,
                hint,
            )]
        }
        ValidationErrorKind::Maximum { limit }
        | ValidationErrorKind::ExclusiveMaximum { limit } => {
            vec![issue(
                code(DiagnosticCode::OutOfRange),
                format!("`{field}` is {instance}, above the maximum {limit}"),
                Caret::Value,
                hint,
            )]
        }
        ValidationErrorKind::MinItems { limit } => vec![issue(
            code(DiagnosticCode::TooFewItems),
            format!(
                "`{field}` needs at least {limit} entr{}",
                if *limit == 1 { "y" } else { "ies" }
            ),
            Caret::Value,
            hint,
        )],
        ValidationErrorKind::MinLength { .. } => vec![issue(
            code(DiagnosticCode::EmptyValue),
            format!("`{field}` must not be empty"),
            Caret::Value,
            hint,
        )],
        ValidationErrorKind::MaxLength { limit } => vec![issue(
            code(DiagnosticCode::TooLong),
            format!("`{field}` is longer than {limit} characters"),
            Caret::Value,
            hint,
        )],
        ValidationErrorKind::MinProperties { .. } | ValidationErrorKind::MaxProperties { .. } => {
            vec![issue(
                code(DiagnosticCode::InvalidReference),
                format!("`{field}` takes exactly one of `file` or `env`"),
                Caret::Value,
                Some(
                    "write `{ file: PATH }` (relative to the manifest) or `{ env: VARIABLE }`"
                        .into(),
                ),
            )]
        }
        other => vec![issue(
            code(DiagnosticCode::InvalidValue),
            format!("`{field}` is invalid: {other:?}"),
            Caret::Value,
            hint,
        )],
    }
}

/// Folds "missing field" issues of one mapping and rule into one issue naming them all.
fn merge_missing(issues: Vec<Issue>) -> Vec<Issue> {
    let mut out: Vec<Issue> = Vec::with_capacity(issues.len());
    let mut names: Vec<Vec<String>> = Vec::with_capacity(issues.len());
    for issue in issues {
        if let Caret::Missing(name) = &issue.target {
            if let Some(i) = out.iter().position(|o| {
                matches!(o.target, Caret::Missing(_))
                    && o.code == issue.code
                    && o.pointer == issue.pointer
            }) {
                names[i].push(name.clone());
                continue;
            }
            names.push(vec![name.clone()]);
        } else {
            names.push(Vec::new());
        }
        out.push(issue);
    }
    for (issue, names) in out.iter_mut().zip(names) {
        if names.len() > 1 {
            let list = names
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ");
            issue.message = issue
                .message
                .replacen("missing required field ", "missing required fields ", 1)
                .replacen("missing field ", "missing fields ", 1)
                .replacen(&format!("`{}`", names[0]), &list, 1);
        }
    }
    out
}

/// Why a conditional rule wants (or refuses) a field, by the rule's code.
fn requirement(code: DiagnosticCode, field: &str) -> String {
    match code {
        DiagnosticCode::SslRequiresServer | DiagnosticCode::SslRequiresDomainInfo => {
            "SSL products require".into()
        }
        DiagnosticCode::OvEvRequiresOrganizationInfo
        | DiagnosticCode::OvEvRequiresFinance
        | DiagnosticCode::OvEvRequiresTech => "OV and EV products require".into(),
        DiagnosticCode::SectigoEmailRequiresDcvEmail => {
            "Sectigo products require with `dcvMethod: EMAIL`".into()
        }
        DiagnosticCode::NotForProductKind => "applies to SSL products only".into(),
        DiagnosticCode::UniqueValueSectigoOnly => "applies to Sectigo products only".into(),
        _ => format!("`{field}` requires"),
    }
}

/// The types a schema expects, as a person says them (`a string or an integer`); `null`
/// (which the manifest schema allows for removing a default) is left unsaid.
fn expected_types(types: &[jsonschema::JsonType]) -> String {
    use jsonschema::JsonType as T;
    let mut names: Vec<&str> = types
        .iter()
        .filter_map(|t| match t {
            T::Null => None,
            T::Object => Some("a mapping"),
            T::Array => Some("a sequence"),
            T::String => Some("a string"),
            T::Integer => Some("an integer"),
            T::Number => Some("a number"),
            T::Boolean => Some("a boolean"),
        })
        .collect();
    names.dedup();
    match names.as_slice() {
        [] => "a value".into(),
        [one] => (*one).into(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_schemas_are_valid_draft_2020_12() {
        for text in [MANIFEST_SCHEMA, ORDER_SCHEMA] {
            let json: Value = serde_json::from_str(text).expect("JSON");
            assert_eq!(
                json["$schema"],
                "https://json-schema.org/draft/2020-12/schema"
            );
            let meta = jsonschema::draft202012::meta::validator();
            let errors: Vec<String> = meta.iter_errors(&json).map(|e| e.to_string()).collect();
            assert!(errors.is_empty(), "{errors:?}");
        }
    }
}
