//! The contract fixtures in `tests/fixtures/wire/`: one JSON reply per endpoint and case, in
//! the shapes `docs/nicsrs-api.md` documents. Every fixture is read by the client's own reply
//! readers here, and for each endpoint the sandbox's real reply over HTTP is held to the
//! fixture's shape (the same keys at the same levels, the same JSON types), so that neither
//! the client nor the sandbox can drift from the documentation alone.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use nicsrs_batch::catalog::{Catalog, NameCount};
use nicsrs_batch::nicsrs::wire::Reply;
use nicsrs_batch::nicsrs::wire::read::{self, Lookup, Paid};
use nicsrs_batch::sandbox::faults::Faults;
use nicsrs_batch::sandbox::{Config, Sandbox};
use serde_json::{Map, Value, json};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/wire")
}

fn fixture_json(name: &str) -> Value {
    let text = std::fs::read_to_string(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// Every fixture name, and the ones a test has read.
struct Fixtures {
    read: BTreeSet<String>,
}

impl Fixtures {
    fn reply(&mut self, name: &str) -> Reply {
        self.read.insert(name.to_owned());
        serde_json::from_value(fixture_json(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

#[test]
fn every_fixture_is_read_by_the_clients_own_readers() {
    let mut f = Fixtures {
        read: BTreeSet::new(),
    };

    // Paid calls: a certId, and DCV records as the API gives them.
    for name in [
        "place-sectigo-http.json",
        "place-sectigo-cname.json",
        "place-digicert.json",
        "place-multi-domain.json",
        "renew.json",
        "replace.json",
    ] {
        let r = f.reply(name);
        assert!(matches!(read::paid(&r), Paid::Done(_)), "{name}");
        let data = r.data.as_ref().expect("data");
        assert!(!read::dcv_records(data).is_empty(), "{name}");
    }
    let r = f.reply("place-sectigo-http.json");
    let http = &read::dcv_records(r.data.as_ref().expect("data"))[0];
    assert!(
        http.file_path.starts_with("/.well-known/pki-validation/")
            && http.file_name.ends_with(".txt")
    );
    assert!(http.file_content.ends_with("\nsectigo.com"));
    let r = f.reply("place-sectigo-cname.json");
    let cname = &read::dcv_records(r.data.as_ref().expect("data"))[0];
    assert_eq!(cname.dns_type, "CNAME");
    assert!(cname.dns_host.starts_with('_') && cname.dns_host.len() == 33);
    assert_eq!(
        cname.dns_name("*.example.com"),
        format!("{}.example.com", cname.dns_host)
    );
    assert!(cname.dns_value.ends_with(".sectigo.com"));
    let r = f.reply("place-digicert.json");
    let digicert = &read::dcv_records(r.data.as_ref().expect("data"))[0];
    assert_eq!(
        (
            digicert.dns_name("www.example.com").as_str(),
            digicert.dns_type.as_str(),
            digicert.file_name.as_str()
        ),
        ("_dnsauth.www.example.com", "TXT", "fileauth.txt")
    );
    let r = f.reply("place-multi-domain.json");
    let names: BTreeSet<String> = read::dcv_records(r.data.as_ref().expect("data"))
        .into_iter()
        .map(|d| d.domain)
        .collect();
    assert_eq!(
        names,
        ["", "shop.example.com", "www.example.com"]
            .into_iter()
            .map(String::from)
            .collect()
    );
    let r = f.reply("reissue.json");
    assert_eq!(read::paid(&r), Paid::Done("260515p7m2d9xwqe".into()));

    // Lookups by refId.
    let r = f.reply("cert-id-by-ref-id-found.json");
    assert_eq!(read::lookup(&r), Lookup::Found("260113vghhracpaw".into()));
    let r = f.reply("cert-id-by-ref-id-not-found.json");
    assert_eq!(read::lookup(&r), Lookup::NotFound);
    let r = f.reply("cert-id-by-ref-id-empty.json");
    assert_eq!(read::lookup(&r), Lookup::NotFound);

    // Collect: the status at the top level (and, as some read it, in data).
    let c = read::collected(&f.reply("collect-pending.json")).expect("pending");
    assert_eq!(c.status, "PENDING");
    assert!(c.certificate.is_none() && c.apply_csr.is_some());
    assert_eq!(c.dcv.len(), 1);
    assert!(!c.dcv[0].verified);
    let c = read::collected(&f.reply("collect-complete.json")).expect("complete");
    assert_eq!(
        (
            c.status.as_str(),
            c.begin.as_str(),
            c.end.as_str(),
            c.due.as_str()
        ),
        (
            "COMPLETE",
            "2026-11-30 08:00:00",
            "2027-06-18 07:59:59",
            "2027-11-30 07:59:59"
        )
    );
    assert!(c.certificate.is_some() && c.chain.is_some() && c.private_key.is_none());
    assert!(c.dcv[0].verified);
    assert!(
        c.apply_csr
            .as_deref()
            .is_some_and(|csr| csr.contains("CERTIFICATE REQUEST"))
    );
    let c = read::collected(&f.reply("collect-complete-rsa-private-key.json")).expect("rsa");
    assert!(
        c.private_key
            .as_deref()
            .is_some_and(|k| k.contains("PRIVATE KEY"))
    );
    assert!(
        !format!("{c:?}").contains("MIGHAgEAMBMGByqGSM49"),
        "key material never shows in Debug"
    );
    let c = read::collected(&f.reply("collect-complete-private-key.json")).expect("privateKey");
    assert!(c.private_key.is_some(), "the other name of the key");
    assert!(c.apply_csr.is_some(), "applyParams given as a JSON string");
    let c = read::collected(&f.reply("collect-status-in-data.json")).expect("older shape");
    assert_eq!(c.status, "COMPLETE");

    // updateDCV: with the new DCV fields, or bare as NicSRS's page lists it.
    let r = f.reply("update-dcv.json");
    assert_eq!(read::dcv_records(r.data.as_ref().expect("data")).len(), 1);
    let r = f.reply("update-dcv-bare.json");
    assert_eq!(
        r.known_code(),
        Some(nicsrs_batch::nicsrs::wire::Code::Success)
    );
    assert!(r.data.is_none());

    // productList: into the catalogue, priced with sanPrice.
    let r = f.reply("product-list.json");
    let entries = read::product_list(&r).expect("products");
    let products = nicsrs_batch::products::to_products("Sectigo", entries).expect("products");
    let json = serde_json::to_string(&products).expect("json");
    let catalog = Catalog::from_json(&json).expect("catalogue");
    let p = catalog
        .get("comodo-positive-multi-domain-wildcard")
        .expect("product");
    assert_eq!(
        (p.support_standard, p.support_ip, p.default_protect_domain),
        (Some(true), Some(true), Some(3))
    );
    let price = p
        .price_for(
            1,
            NameCount {
                plain: 4,
                wildcard: 1,
            },
        )
        .expect("price");
    let base = p.price(1).expect("base");
    let normal = p.price["sanPrice"]["normalPrice"]["price012"]
        .as_f64()
        .expect("normal");
    let wild = p.price["sanPrice"]["wildPrice"]["price012"]
        .as_f64()
        .expect("wild");
    assert_eq!(price, base + normal + wild);

    // Every code: what it means for a paid call, and a readable message.
    for (name, code, meaning) in [
        ("error-invalid.json", -1, Paid::Refused { stop_all: false }),
        ("error-string.json", -1, Paid::Refused { stop_all: false }),
        ("error-unknown.json", -2, Paid::Unknown),
        ("error-product.json", -3, Paid::Refused { stop_all: false }),
        ("error-credit.json", -4, Paid::Refused { stop_all: true }),
        (
            "error-order-state.json",
            -5,
            Paid::Refused { stop_all: false },
        ),
        ("error-ca.json", -6, Paid::Refused { stop_all: false }),
        (
            "error-certificate-state.json",
            -7,
            Paid::Refused { stop_all: false },
        ),
        (
            "error-cancelled.json",
            -8,
            Paid::Refused { stop_all: false },
        ),
        ("error-denied.json", 400, Paid::Refused { stop_all: true }),
    ] {
        let r = f.reply(name);
        assert_eq!(r.code, code, "{name}");
        assert!(r.known_code().is_some(), "{name}: a documented code");
        assert_eq!(read::paid(&r), meaning, "{name}");
        assert!(!r.message().is_empty(), "{name}");
        if code != -2 {
            assert_eq!(read::lookup(&r) == Lookup::NotFound, code == -1, "{name}");
        }
    }
    assert_eq!(
        f.reply("error-string.json").message(),
        "parameter validation failed: years is required"
    );

    let all: BTreeSet<String> = std::fs::read_dir(dir())
        .expect("fixtures")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    let unread: Vec<&String> = all.difference(&f.read).collect();
    assert!(unread.is_empty(), "fixtures no test reads: {unread:?}");
}

/// Objects whose keys are data, not field names: `dcvInfo` (keyed by domain name) and
/// `errors` (keyed by the field refused).
const MAPS: [&str; 2] = ["dcvInfo", "errors"];

/// A value's shape: objects by their keys (any key of the maps above), arrays by their
/// first element, scalars by their JSON type.
/// What the ledger's `dcv` cell keeps of the fixtures' DCV fields, for each name the
/// request sent: a name's own record (`dcvInfo`) before the order's, the `DCVdnsHost` label
/// put before the name; and a collect reply's `dcvList` states with them.
#[test]
fn each_name_keeps_the_record_the_fixtures_give_it() {
    use nicsrs_batch::dcv::{NameDcv, names};
    let data = |name: &str| fixture_json(name)["data"].clone();
    let sent = |domains: &[&str]| -> Vec<NameDcv> {
        domains
            .iter()
            .map(|d| NameDcv {
                domain: (*d).into(),
                method: "CNAME_CSR_HASH".into(),
                ..NameDcv::default()
            })
            .collect()
    };
    let multi = names::from_reply(
        Some(&data("place-multi-domain.json")),
        sent(&["www.example.com", "shop.example.com"]),
    );
    let of = |n: &NameDcv| {
        (
            n.domain.clone(),
            n.dns_name.clone(),
            n.dns_type.clone(),
            n.dns_value.clone(),
            n.file_name.clone(),
        )
    };
    assert_eq!(
        multi.iter().map(of).collect::<Vec<_>>(),
        [
            (
                "www.example.com",
                "_dnsauth.www.example.com",
                "TXT",
                "_6q2y0kz3x1v8n4m7b5c9d2f6g8h0j3k1",
                "fileauth.txt"
            ),
            (
                "shop.example.com",
                "_dnsauth.shop.example.com",
                "TXT",
                "_0p9o8i7u6y5t4r3e2w1q0a9s8d7f6g5h",
                "fileauth.txt"
            ),
        ]
        .map(|(a, b, c, d, e)| (a.into(), b.into(), c.into(), d.into(), e.into()))
    );
    // One set for the order: every name gets it, at its own `_dnsauth` label.
    let digicert = names::from_reply(
        Some(&data("place-digicert.json")),
        sent(&["a.example.com", "b.example.com"]),
    );
    assert_eq!(digicert.len(), 2);
    assert_eq!(digicert[1].dns_name, "_dnsauth.b.example.com");
    assert_eq!(
        digicert[1].file_content,
        "_35251mctqlvt0ot0f2z2ekb8kkhqxqvt"
    );
    // The cell reads back as written.
    assert_eq!(names::parse_cell(&names::cell(&multi)), multi);
    // No DCV fields: nothing is recorded.
    assert!(
        names::from_reply(
            Some(&serde_json::json!({"certId": "1"})),
            sent(&["a.example.com"])
        )
        .is_empty()
    );
}

fn shape(v: &Value) -> Value {
    shape_in(v, "")
}

fn shape_in(v: &Value, parent: &str) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| {
                    let key = if MAPS.contains(&parent) {
                        "<key>"
                    } else {
                        k.as_str()
                    };
                    (key.to_owned(), shape_in(v, k))
                })
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => {
            let first = items.first().map(|i| shape_in(i, parent));
            for item in items {
                assert_eq!(
                    Some(shape_in(item, parent)),
                    first,
                    "the elements of a list differ in shape"
                );
            }
            Value::Array(first.into_iter().collect())
        }
        Value::String(_) => json!("string"),
        Value::Number(_) => json!("number"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// Holds a reply of the sandbox to the shape of a fixture.
fn assert_shape(fixture: &str, actual: &Value) {
    let expected = fixture_json(fixture);
    assert_eq!(
        shape(actual),
        shape(&expected),
        "the sandbox's reply differs in shape from {fixture}:\n{actual:#}"
    );
}

fn admin() -> Value {
    json!({"job": "Ops", "city": "San Francisco", "email": "ops@hosting.example", "state": "California",
        "mobile": "+1 415 555 0100", "address": "500 Market Street", "country": "US", "lastName": "Ortega",
        "postCode": "94105", "firstName": "Sam", "organization": "Example Hosting Inc.",
        "organation": "Example Hosting Inc."})
}

fn csr_for(names: &[&str]) -> String {
    let pair = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    params
        .serialize_request(&pair)
        .expect("CSR")
        .pem()
        .expect("PEM")
}

struct Api {
    http: reqwest::Client,
    url: String,
}

impl Api {
    async fn call(&self, endpoint: &str, fields: &[(&str, &str)]) -> Value {
        self.call_as("sandbox", endpoint, fields).await
    }

    async fn call_as(&self, token: &str, endpoint: &str, fields: &[(&str, &str)]) -> Value {
        let mut form = vec![("api_token", token)];
        form.extend_from_slice(fields);
        self.http
            .post(format!("{}/ssl/{endpoint}", self.url))
            .form(&form)
            .send()
            .await
            .expect("reply")
            .json()
            .await
            .expect("JSON")
    }

    async fn place(
        &self,
        product: &str,
        names: &[&str],
        method: &str,
        csr: bool,
        ref_id: &str,
    ) -> Value {
        let domain_info: Vec<Value> = names
            .iter()
            .map(|n| json!({"domainName": n, "dcvMethod": method}))
            .collect();
        let mut params =
            json!({"server": "nginx", "domainInfo": domain_info, "Administrator": admin()});
        if csr {
            params["csr"] = json!(csr_for(names));
        }
        let params = params.to_string();
        self.call(
            "place",
            &[
                ("productCode", product),
                ("years", "1"),
                ("refId", ref_id),
                ("params", &params),
            ],
        )
        .await
    }
}

fn cert_id(v: &Value) -> String {
    v["data"]["certId"].as_str().expect("certId").to_owned()
}

#[test]
fn the_sandbox_answers_in_the_fixtures_shapes() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let start = |config: Config| Sandbox::start(config, "127.0.0.1:0".parse().expect("addr"));
        let sandbox = start(Config {
            issue_after: Duration::from_secs(2),
            validity_days: 30,
            ..Config::default()
        })
        .await
        .expect("sandbox");
        let api = Api {
            http: reqwest::Client::new(),
            url: sandbox.url(),
        };

        // place, in each case the fixtures show
        let http = api
            .place(
                "comodo-positivessl",
                &["www.example.com"],
                "HTTP_CSR_HASH",
                true,
                "w-http",
            )
            .await;
        assert_shape("place-sectigo-http.json", &http);
        let id = cert_id(&http);
        let pending = api.call("collect", &[("certId", &id)]).await;
        assert_shape("collect-pending.json", &pending);
        let cname = api
            .place(
                "comodo-positivessl",
                &["www.example.com"],
                "CNAME_CSR_HASH",
                true,
                "w-cname",
            )
            .await;
        assert_shape("place-sectigo-cname.json", &cname);
        let digicert = api
            .place(
                "rapidssl",
                &["www.example.com"],
                "HTTP_CSR_HASH",
                true,
                "w-digicert",
            )
            .await;
        assert_shape("place-digicert.json", &digicert);
        let multi = api
            .place(
                "geotrust-dv-flex",
                &["www.example.com", "shop.example.com"],
                "CNAME_CSR_HASH",
                true,
                "w-multi",
            )
            .await;
        assert_shape("place-multi-domain.json", &multi);
        let generated = api
            .place(
                "comodo-positivessl",
                &["www.example.com"],
                "HTTP_CSR_HASH",
                false,
                "w-gen",
            )
            .await;
        let pending_dcv = api
            .place(
                "comodo-positivessl",
                &["www.example.com"],
                "HTTP_CSR_HASH",
                true,
                "w-dcv",
            )
            .await;

        // certIdByrefId
        let found = api.call("certIdByrefId", &[("refId", "w-http")]).await;
        assert_shape("cert-id-by-ref-id-found.json", &found);
        let not_found = api.call("certIdByrefId", &[("refId", "w-nothing")]).await;
        assert_shape("cert-id-by-ref-id-not-found.json", &not_found);

        // collect complete (with and without a key NicSRS generated)
        tokio::time::sleep(Duration::from_secs(3)).await;
        let complete = api.call("collect", &[("certId", &id)]).await;
        assert_shape("collect-complete.json", &complete);
        let gen_id = cert_id(&generated);
        let with_key = api.call("collect", &[("certId", &gen_id)]).await;
        assert_shape("collect-complete-rsa-private-key.json", &with_key);

        // updateDCV while pending (placed just now)
        let dcv_id = cert_id(&pending_dcv);
        let updated = api
            .call(
                "updateDCV",
                &[("certId", &dcv_id), ("dcvMethod", "CNAME_CSR_HASH")],
            )
            .await;
        assert_shape("update-dcv.json", &updated);

        // renew (the certificate expires within 90 days), reissue, replace
        let csr = csr_for(&["www.example.com"]);
        let renew_params = json!({"csr": csr, "server": "nginx",
            "domainInfo": [{"domainName": "www.example.com", "dcvMethod": "HTTP_CSR_HASH"}]})
        .to_string();
        let renewed = api
            .call(
                "renew",
                &[
                    ("renewId", &id),
                    ("years", "1"),
                    ("refId", "w-http-r1"),
                    ("params", &renew_params),
                ],
            )
            .await;
        assert_shape("renew.json", &renewed);
        let cname_id = cert_id(&cname);
        let _ = api.call("collect", &[("certId", &cname_id)]).await;
        let reissued = api
            .call(
                "reissue",
                &[
                    ("certId", &cname_id),
                    ("reason", "expiring"),
                    ("refId", "w-cname-i1"),
                ],
            )
            .await;
        assert_shape("reissue.json", &reissued);
        let replace_params = json!({"csr": csr_for(&["www.example.com"]),
            "domainInfo": [{"domainName": "www.example.com", "dcvMethod": "HTTP_CSR_HASH"}]})
        .to_string();
        let replaced = api
            .call(
                "replace",
                &[
                    ("certId", &gen_id),
                    ("refId", "w-gen-x1"),
                    ("params", &replace_params),
                ],
            )
            .await;
        assert_shape("replace.json", &replaced);

        // productList
        let list = api.call("productList", &[("vendor", "Sectigo")]).await;
        let entry = list["data"]
            .as_array()
            .and_then(|items| {
                items
                    .iter()
                    .find(|p| p["code"] == "comodo-positive-multi-domain-wildcard")
            })
            .expect("the product");
        let one = json!({"code": list["code"], "msg": list["msg"], "data": [entry]});
        assert_shape("product-list.json", &one);

        // each code the sandbox answers
        let invalid = api
            .call(
                "place",
                &[("productCode", "comodo-positivessl"), ("params", "{}")],
            )
            .await;
        assert_shape("error-invalid.json", &invalid);
        let product = api
            .call(
                "place",
                &[
                    ("productCode", "comodo-nothing"),
                    ("years", "1"),
                    ("params", "{}"),
                ],
            )
            .await;
        assert_shape("error-product.json", &product);
        let renew_pending = api
            .call(
                "renew",
                &[
                    ("renewId", &dcv_id),
                    ("years", "1"),
                    ("params", &renew_params),
                ],
            )
            .await;
        assert_shape("error-order-state.json", &renew_pending);
        let reissue_pending = api
            .call("reissue", &[("certId", &dcv_id), ("reason", "x")])
            .await;
        assert_shape("error-certificate-state.json", &reissue_pending);
        let first = api
            .call("cancel", &[("certId", &dcv_id), ("reason", "test")])
            .await;
        assert_eq!(first["code"], 1, "{first}");
        let cancelled = api
            .call("cancel", &[("certId", &dcv_id), ("reason", "test")])
            .await;
        assert_shape("error-cancelled.json", &cancelled);
        let denied = api.call_as("wrong", "collect", &[("certId", &id)]).await;
        assert_shape("error-denied.json", &denied);

        let stats = api
            .http
            .get(format!("{}/sandbox/stats", sandbox.url()))
            .send()
            .await
            .expect("stats")
            .json::<Value>()
            .await
            .expect("JSON");
        assert_eq!(
            stats["undocumented_fields"],
            json!({}),
            "this test sends only documented fields"
        );
        sandbox.stop().await.expect("stop");

        // Credit: -4, and -2 where the live API was seen to answer it.
        for (unknown, fixture) in [(false, "error-credit.json"), (true, "error-unknown.json")] {
            let broke = start(Config {
                faults: Faults {
                    credit: Some(0),
                    out_of_credit_unknown: unknown,
                    ..Faults::default()
                },
                ..Config::default()
            })
            .await
            .expect("sandbox");
            let api = Api {
                http: reqwest::Client::new(),
                url: broke.url(),
            };
            let reply = api
                .place(
                    "comodo-positivessl",
                    &["www.example.com"],
                    "HTTP_CSR_HASH",
                    true,
                    "w-broke",
                )
                .await;
            assert_shape(fixture, &reply);
            broke.stop().await.expect("stop");
        }
    });
}
