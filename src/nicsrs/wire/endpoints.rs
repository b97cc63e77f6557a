//! The form fields each endpoint takes, as NicSRS's pages document them (the sources are in
//! `docs/nicsrs-api.md`). The client sends nothing else; the sandbox accepts anything but
//! counts what is not listed here (`undocumented_fields` in `/sandbox/stats`), and the
//! tests hold every run to zero.

/// One endpoint's documented request.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    /// The path after `/ssl/`.
    pub name: &'static str,
    /// Its form fields, `api_token` included.
    pub fields: &'static [&'static str],
    /// The keys of its `params` JSON, when it takes one.
    pub params: &'static [&'static str],
}

/// Every endpoint the tool or the sandbox knows.
pub const ENDPOINTS: [Endpoint; 9] = [
    Endpoint {
        name: "place",
        fields: &["api_token", "productCode", "years", "refId", "params"],
        params: &[
            "csr",
            "privateKey",
            "server",
            "uniqueValue",
            "domainInfo",
            "organizationInfo",
            "Administrator",
            "finance",
            "tech",
        ],
    },
    Endpoint {
        name: "certIdByrefId",
        fields: &["api_token", "refId"],
        params: &[],
    },
    Endpoint {
        name: "collect",
        fields: &["api_token", "certId"],
        params: &[],
    },
    Endpoint {
        name: "renew",
        fields: &["api_token", "renewId", "years", "refId", "params"],
        params: &["csr", "server", "uniqueValue", "domainInfo"],
    },
    Endpoint {
        name: "reissue",
        fields: &["api_token", "certId", "reason", "uniqueValue", "refId"],
        params: &[],
    },
    Endpoint {
        name: "replace",
        fields: &["api_token", "certId", "refId", "params"],
        params: &["csr", "uniqueValue", "domainInfo"],
    },
    Endpoint {
        name: "cancel",
        fields: &["api_token", "certId", "reason"],
        params: &[],
    },
    Endpoint {
        name: "updateDCV",
        fields: &["api_token", "certId", "domainName", "dcvMethod", "dcvEmail"],
        params: &[],
    },
    Endpoint {
        name: "productList",
        fields: &["api_token", "vendor"],
        params: &[],
    },
];

/// The endpoint named `name`.
pub fn endpoint(name: &str) -> Option<&'static Endpoint> {
    ENDPOINTS.iter().find(|e| e.name == name)
}

impl Endpoint {
    /// The fields of a request that this endpoint does not document: form fields by name,
    /// `params` keys as `params.KEY`. `params` that is not a JSON object counts as one.
    pub fn undocumented<'a>(
        &self,
        form: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Vec<String> {
        let mut out = Vec::new();
        for (name, value) in form {
            if !self.fields.contains(&name) {
                out.push(name.to_owned());
            } else if name == "params" {
                match serde_json::from_str::<serde_json::Value>(value) {
                    Ok(serde_json::Value::Object(map)) => out.extend(
                        map.keys()
                            .filter(|k| !self.params.contains(&k.as_str()))
                            .map(|k| format!("params.{k}")),
                    ),
                    _ => out.push("params".into()),
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reissue_takes_no_params_and_replace_takes_no_server() {
        let reissue = endpoint("reissue").expect("reissue");
        assert_eq!(
            reissue.undocumented([("certId", "1"), ("params", "{}"), ("reason", "x")]),
            ["params"]
        );
        let replace = endpoint("replace").expect("replace");
        assert_eq!(
            replace.undocumented([("params", r#"{"csr":"x","server":"nginx"}"#)]),
            ["params.server"]
        );
    }
}
