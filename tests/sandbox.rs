//! The sandbox over real HTTP: one test per endpoint and per fault, and the wire format
//! it accepts and refuses.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use nicsrs_batch::sandbox::faults::{Faults, Latency};
use nicsrs_batch::sandbox::{Config, Sandbox};
use serde_json::{Value, json};

mod common;

const LOOPBACK: &str = "127.0.0.1:0";

async fn start(config: Config) -> Sandbox {
    let addr: SocketAddr = LOOPBACK.parse().expect("addr");
    Sandbox::start(config, addr).await.expect("sandbox starts")
}

fn with_faults(faults: Faults) -> Config {
    Config {
        faults,
        ..Config::default()
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn admin() -> Value {
    json!({"job": "CTO", "firstName": "Ana", "lastName": "Silva", "email": "ana@acme.example",
           "mobile": "+351210000000", "organization": "Acme Lda", "organation": "Acme Lda",
           "address": "Rua Augusta 1", "city": "Lisboa", "state": "Lisboa", "postCode": "1100-048",
           "country": "PT"})
}

fn dv_params(name: &str) -> Value {
    json!({"server": "nginx", "Administrator": admin(),
           "domainInfo": [{"domainName": name, "dcvMethod": "HTTP_CSR_HASH"}]})
}

fn place_form(ref_id: &str, params: &Value) -> Vec<(&'static str, String)> {
    vec![
        ("api_token", "sandbox".into()),
        ("productCode", "comodo-positivessl".into()),
        ("years", "1".into()),
        ("refId", ref_id.into()),
        ("params", params.to_string()),
    ]
}

async fn call(sandbox: &Sandbox, endpoint: &str, form: &[(&str, String)]) -> Value {
    let r = client()
        .post(format!("{}/ssl/{endpoint}", sandbox.url()))
        .form(form)
        .send()
        .await
        .expect("reply");
    assert_eq!(r.status(), 200);
    r.json().await.expect("JSON reply")
}

async fn stats(sandbox: &Sandbox) -> Value {
    client()
        .get(format!("{}/sandbox/stats", sandbox.url()))
        .send()
        .await
        .expect("stats")
        .json()
        .await
        .expect("stats JSON")
}

fn token(v: &str) -> (&'static str, String) {
    ("api_token", v.to_owned())
}

#[tokio::test]
async fn place_stores_the_order_and_cert_id_by_ref_id_finds_it() {
    let s = start(Config::default()).await;
    let reply = call(
        &s,
        "place",
        &place_form("acme-www", &dv_params("www.acme.example")),
    )
    .await;
    assert_eq!(reply["code"], 1, "{reply}");
    let cert_id = reply["data"]["certId"].as_str().expect("certId");
    assert!(cert_id.starts_with("SBX"), "{cert_id}");
    assert_eq!(
        reply["data"]["DCVfileName"]
            .as_str()
            .map(|n| n.ends_with(".txt")),
        Some(true)
    );

    let found = call(
        &s,
        "certIdByrefId",
        &[token("sandbox"), ("refId", "acme-www".into())],
    )
    .await;
    assert_eq!(found["data"]["certId"], cert_id);
    let missing = call(
        &s,
        "certIdByrefId",
        &[token("sandbox"), ("refId", "never-placed".into())],
    )
    .await;
    assert_eq!(missing["code"], -1, "a definite not-found is -1");

    let st = stats(&s).await;
    assert_eq!(st["orders_placed"], 1);
    assert_eq!(st["requests"]["place"], 1);
    assert_eq!(st["requests"]["certIdByrefId"], 2);
}

#[tokio::test]
async fn the_wire_format_is_refused_as_the_live_api_refuses_it() {
    let s = start(Config::default()).await;
    let url = format!("{}/ssl/place", s.url());
    let json_body: Value = client()
        .post(&url)
        .json(&json!({"api_token": "sandbox", "productCode": "comodo-positivessl"}))
        .send()
        .await
        .expect("reply")
        .json()
        .await
        .expect("JSON");
    assert_eq!(json_body["code"], -1);
    assert!(json_body["errors"]["body"].is_array(), "{json_body}");

    let mut form = place_form("r1", &dv_params("a.example"));
    form.remove(0);
    assert_eq!(call(&s, "place", &form).await["code"], 400, "missing token");
    form.insert(0, token("wrong"));
    assert_eq!(call(&s, "place", &form).await["code"], 400, "wrong token");

    let mut form = place_form("r2", &dv_params("a.example"));
    form[4].1 = "{not json".into();
    let r = call(&s, "place", &form).await;
    assert_eq!(r["code"], -1);
    assert!(
        r["errors"]["params"][0]
            .as_str()
            .is_some_and(|m| m.contains("not valid JSON")),
        "{r}"
    );

    let mut ov = dv_params("a.example");
    ov["finance"] = admin();
    ov["tech"] = admin();
    let mut form = place_form("r3", &ov);
    form[1].1 = "sectigo-ov".into();
    let r = call(&s, "place", &form).await;
    assert_eq!(r["code"], -1, "{r}");
    assert!(r["errors"]["params.organizationInfo"].is_array(), "{r}");

    let mut form = place_form("r4", &dv_params("a.example"));
    form[1].1 = "no-such-product".into();
    assert_eq!(call(&s, "place", &form).await["code"], -3);
    let mut form = place_form("r5", &dv_params("a.example"));
    form[2].1 = "6".into();
    let r = call(&s, "place", &form).await;
    assert_eq!(r["code"], -1);
    assert!(r["errors"]["years"].is_array(), "{r}");

    assert_eq!(
        stats(&s).await["orders_placed"],
        0,
        "nothing refused was stored"
    );
}

#[tokio::test]
async fn a_repeated_ref_id_is_a_second_order_and_shows_as_a_duplicate() {
    let s = start(Config::default()).await;
    let form = place_form("twice", &dv_params("www.acme.example"));
    let a = call(&s, "place", &form).await;
    let b = call(&s, "place", &form).await;
    assert_ne!(a["data"]["certId"], b["data"]["certId"]);
    let st = stats(&s).await;
    assert_eq!(st["orders_per_ref_id"]["twice"], 2);
    assert_eq!(st["duplicate_ref_ids"], json!(["twice"]));
}

/// A sandbox whose certificates stay PENDING (issued an hour after the order).
fn pending() -> Config {
    Config {
        issue_after: Duration::from_secs(3600),
        ..Config::default()
    }
}

/// Places an order (which must succeed) and returns its certId.
async fn place_id(s: &Sandbox, ref_id: &str, params: &Value) -> String {
    let placed = call(s, "place", &place_form(ref_id, params)).await;
    assert_eq!(placed["code"], 1, "{placed}");
    placed["data"]["certId"]
        .as_str()
        .expect("certId")
        .to_owned()
}

fn csr_pem() -> String {
    std::fs::read_to_string(common::root().join("examples/csr/shop-api.csr")).expect("csr")
}

#[tokio::test]
async fn collect_is_pending_until_issue_time_then_returns_a_real_certificate() {
    let s = start(pending()).await;
    let id = place_id(&s, "p", &dv_params("www.acme.example")).await;
    let r = call(&s, "collect", &[token("sandbox"), ("certId", id)]).await;
    assert_eq!(r["code"], 2);
    assert_eq!(
        r["status"], "PENDING",
        "the status beside the code, as NicSRS's page has it"
    );
    assert!(r["data"].get("certificate").is_none());

    let s = start(Config::default()).await;
    let mut params = dv_params("api.shop.example");
    params["csr"] = json!(csr_pem());
    let id = place_id(&s, "c", &params).await;
    let r = call(&s, "collect", &[token("sandbox"), ("certId", id)]).await;
    assert_eq!(r["code"], 1, "{r}");
    let data = &r["data"];
    assert_eq!(r["status"], "COMPLETE");
    assert!(data.get("status").is_none(), "not inside data");
    for field in ["beginDate", "endDate", "dueDate"] {
        let date = data[field].as_str().expect("date");
        assert_eq!(date.len(), 19, "{field} like 2027-02-20 07:59:59: {date}");
    }
    let cert_pem = data["certificate"].as_str().expect("certificate");
    let (_, pem) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()).expect("PEM");
    let cert = pem.parse_x509().expect("X.509");
    let (_, csr_block) = x509_parser::pem::parse_x509_pem(csr_pem().as_bytes()).expect("CSR PEM");
    let (_, csr) = {
        use x509_parser::prelude::*;
        X509CertificationRequest::from_der(&csr_block.contents).expect("CSR")
    };
    assert_eq!(
        cert.public_key().raw,
        csr.certification_request_info.subject_pki.raw,
        "the certificate is for the CSR's key"
    );
    assert!(
        data["caCertificate"]
            .as_str()
            .is_some_and(|c| c.contains("BEGIN CERTIFICATE"))
    );
    assert!(
        data.get("rsaPrivateKey").is_none(),
        "no key when a CSR was sent"
    );

    let id = place_id(&s, "g", &dv_params("www.acme.example")).await;
    let r = call(&s, "collect", &[token("sandbox"), ("certId", id)]).await;
    assert!(
        r["data"]["rsaPrivateKey"]
            .as_str()
            .is_some_and(|k| k.contains("PRIVATE KEY")),
        "{r}"
    );
}

async fn issued(s: &Sandbox, ref_id: &str) -> String {
    let mut params = dv_params("api.shop.example");
    params["csr"] = json!(csr_pem());
    let id = place_id(s, ref_id, &params).await;
    assert_eq!(
        call(s, "collect", &[token("sandbox"), ("certId", id.clone())]).await["code"],
        1
    );
    id
}

#[tokio::test]
async fn renew_is_accepted_only_within_90_days_of_expiry() {
    let s = start(Config::default()).await;
    let id = issued(&s, "far").await;
    let renew_form = |id: &str| {
        vec![
            token("sandbox"),
            ("renewId", id.to_owned()),
            ("years", "1".into()),
            ("refId", format!("{id}-r1")),
            (
                "params",
                json!({"csr": csr_pem(), "server": "nginx",
                "domainInfo": [{"domainName": "api.shop.example", "dcvMethod": "HTTP_CSR_HASH"}]})
                .to_string(),
            ),
        ]
    };
    let r = call(&s, "renew", &renew_form(&id)).await;
    assert_eq!(r["code"], -1, "200 days from expiry: {r}");
    assert!(r["errors"]["renewId"].is_array());

    let s = start(Config {
        validity_days: 60,
        ..Config::default()
    })
    .await;
    let id = issued(&s, "near").await;
    let r = call(&s, "renew", &renew_form(&id)).await;
    assert_eq!(r["code"], 1, "{r}");
    assert_ne!(r["data"]["certId"], json!(id));
    let mut missing_csr = renew_form(&id);
    missing_csr[4].1 = json!({"server": "nginx", "domainInfo": []}).to_string();
    let r = call(&s, "renew", &missing_csr).await;
    assert!(r["errors"]["params.csr"].is_array(), "{r}");
    assert_eq!(stats(&s).await["orders_renewed"], 1);
}

#[tokio::test]
async fn reissue_needs_an_issued_certificate_and_replaces_it() {
    let s = start(pending()).await;
    let id = place_id(&s, "pending", &dv_params("www.acme.example")).await;
    let r = call(
        &s,
        "reissue",
        &[
            token("sandbox"),
            ("certId", id),
            ("reason", "key lost".into()),
        ],
    )
    .await;
    assert_eq!(r["code"], -7, "{r}");

    let s = start(Config::default()).await;
    let id = issued(&s, "done").await;
    let r = call(
        &s,
        "reissue",
        &[
            token("sandbox"),
            ("certId", id.clone()),
            ("reason", "key rotation".into()),
        ],
    )
    .await;
    assert_eq!(r["code"], 1, "{r}");
    let new_id = r["data"]["certId"].as_str().expect("new certId").to_owned();
    assert_ne!(new_id, id);
    let old = call(&s, "collect", &[token("sandbox"), ("certId", id)]).await;
    assert_eq!(old["status"], "REISSUED");
    let new = call(&s, "collect", &[token("sandbox"), ("certId", new_id)]).await;
    assert_eq!(new["status"], "COMPLETE");

    // `params` is not a field of /ssl/reissue: it is ignored (the CA reissues with the
    // order's own CSR) and counted as undocumented.
    let id = issued(&s, "with-params").await;
    let before = call(&s, "collect", &[token("sandbox"), ("certId", id.clone())]).await;
    let other_csr = serde_json::json!({"csr": csr_pem()}).to_string();
    let r = call(
        &s,
        "reissue",
        &[
            token("sandbox"),
            ("certId", id),
            ("reason", "new key".into()),
            ("params", other_csr),
        ],
    )
    .await;
    let new_id = r["data"]["certId"].as_str().expect("certId").to_owned();
    let new = call(&s, "collect", &[token("sandbox"), ("certId", new_id)]).await;
    assert_eq!(
        new["data"]["applyParams"]["csr"], before["data"]["applyParams"]["csr"],
        "the order's own CSR"
    );
    assert_eq!(
        stats(&s).await["undocumented_fields"]["reissue"]["params"],
        1
    );
}

#[tokio::test]
async fn cancel_update_dcv_and_product_list() {
    let s = start(pending()).await;
    let id = place_id(&s, "c", &dv_params("www.acme.example")).await;
    let r = call(
        &s,
        "updateDCV",
        &[
            token("sandbox"),
            ("certId", id.clone()),
            ("domainName", "www.acme.example".into()),
            ("dcvMethod", "CNAME_CSR_HASH".into()),
        ],
    )
    .await;
    assert_eq!(r["code"], 1, "{r}");
    let r = call(&s, "collect", &[token("sandbox"), ("certId", id.clone())]).await;
    assert_eq!(r["data"]["dcvList"][0]["dcvMethod"], "CNAME_CSR_HASH");
    let r = call(&s, "cancel", &[token("sandbox"), ("certId", id.clone())]).await;
    assert_eq!(r["code"], -1, "reason is required");
    let r = call(
        &s,
        "cancel",
        &[
            token("sandbox"),
            ("certId", id.clone()),
            ("reason", "not needed".into()),
        ],
    )
    .await;
    assert_eq!(r["code"], 1);
    let r = call(&s, "collect", &[token("sandbox"), ("certId", id)]).await;
    assert_eq!(r["status"], "CANCELLED");

    let r = call(
        &s,
        "productList",
        &[token("sandbox"), ("vendor", "Sectigo".into())],
    )
    .await;
    let products = r["data"].as_array().expect("products");
    assert!(
        products
            .iter()
            .any(|p| p["code"] == "sectigo-ov" && p["price"]["basePrice"]["price012"].is_number())
    );
    let catalog = nicsrs_batch::catalog::Catalog::builtin();
    assert!(
        products.iter().all(|p| {
            catalog
                .get(p["code"].as_str().unwrap_or_default())
                .is_some_and(|c| c.vendor == "Sectigo")
                && p.get("vendor").is_none()
                && p.get("kind").is_none()
        }),
        "the API's own fields only"
    );
    let r = call(
        &s,
        "productList",
        &[token("sandbox"), ("vendor", "sectigo".into())],
    )
    .await;
    assert_eq!(r["code"], -1, "the spelling matters");
}

#[tokio::test]
async fn fail_rate_answers_500_before_storing() {
    let s = start(with_faults(Faults {
        fail_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let r = client()
        .post(format!("{}/ssl/place", s.url()))
        .form(&place_form("x", &dv_params("a.example")))
        .send()
        .await
        .expect("reply");
    assert_eq!(r.status(), 500);
    let st = stats(&s).await;
    assert_eq!(
        (
            st["orders_placed"].as_u64(),
            st["faults"]["failed"].as_u64()
        ),
        (Some(0), Some(1))
    );
}

#[tokio::test]
async fn throttle_rate_answers_429_with_retry_after() {
    let s = start(with_faults(Faults {
        throttle_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let r = client()
        .post(format!("{}/ssl/place", s.url()))
        .form(&place_form("x", &dv_params("a.example")))
        .send()
        .await
        .expect("reply");
    assert_eq!(r.status(), 429);
    assert_eq!(
        r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
        Some("1")
    );
    assert_eq!(stats(&s).await["orders_placed"], 0);
}

#[tokio::test]
async fn drop_rate_stores_the_order_then_closes_the_connection() {
    let s = start(with_faults(Faults {
        drop_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let r = client()
        .post(format!("{}/ssl/place", s.url()))
        .form(&place_form("dropped", &dv_params("a.example")))
        .send()
        .await;
    let err = r.expect_err("no reply");
    assert!(!err.is_timeout(), "closed, not timed out: {err:?}");
    let st = stats(&s).await;
    assert_eq!(
        st["orders_placed"], 1,
        "the order was stored: this is what causes duplicates"
    );
    assert_eq!(st["orders_per_ref_id"]["dropped"], 1);
}

#[tokio::test]
async fn timeout_rate_stores_the_order_and_never_answers() {
    let s = start(with_faults(Faults {
        timeout_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .expect("client");
    let err = c
        .post(format!("{}/ssl/place", s.url()))
        .form(&place_form("slow", &dv_params("a.example")))
        .send()
        .await
        .expect_err("no reply");
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(stats(&s).await["orders_placed"], 1);
}

#[tokio::test]
async fn unknown_rate_stores_the_order_and_answers_minus_2() {
    let s = start(with_faults(Faults {
        unknown_rate: 1.0,
        ..Faults::default()
    }))
    .await;
    let r = call(&s, "place", &place_form("u", &dv_params("a.example"))).await;
    assert_eq!(r["code"], -2);
    let st = stats(&s).await;
    assert_eq!(st["orders_placed"], 1);
    assert_eq!(st["faults"]["unknown"], 1);
    let found = call(
        &s,
        "certIdByrefId",
        &[token("sandbox"), ("refId", "u".into())],
    )
    .await;
    assert_eq!(found["code"], 1, "reconciliation finds it: {found}");
}

#[tokio::test]
async fn credit_runs_out_with_minus_4() {
    let s = start(with_faults(Faults {
        credit: Some(2),
        ..Faults::default()
    }))
    .await;
    for i in 0..2 {
        assert_eq!(
            call(
                &s,
                "place",
                &place_form(&format!("c{i}"), &dv_params("a.example"))
            )
            .await["code"],
            1
        );
    }
    let r = call(&s, "place", &place_form("c2", &dv_params("a.example"))).await;
    assert_eq!(r["code"], -4);
    assert_eq!(stats(&s).await["orders_placed"], 2);
}

#[tokio::test]
async fn latency_delays_every_answer() {
    let s = start(with_faults(Faults {
        latency: Some(Latency::Fixed(Duration::from_millis(200))),
        ..Faults::default()
    }))
    .await;
    let started = Instant::now();
    call(
        &s,
        "certIdByrefId",
        &[token("sandbox"), ("refId", "x".into())],
    )
    .await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test]
async fn a_state_file_keeps_orders_and_the_ca_across_a_restart() {
    let dir = common::scratch("sandbox-state");
    let config = Config {
        state: Some(dir.join("state.json")),
        ..Config::default()
    };
    let s = start(config.clone()).await;
    let id = issued(&s, "kept").await;
    let ca = call(&s, "collect", &[token("sandbox"), ("certId", id.clone())]).await["data"]["caCertificate"].clone();
    s.stop().await.expect("stop saves");

    let s = start(config).await;
    let found = call(
        &s,
        "certIdByrefId",
        &[token("sandbox"), ("refId", "kept".into())],
    )
    .await;
    assert_eq!(found["data"]["certId"], json!(id));
    let again = call(&s, "collect", &[token("sandbox"), ("certId", id)]).await;
    assert_eq!(again["status"], "COMPLETE");
    assert_eq!(
        again["data"]["caCertificate"], ca,
        "the same CA after a restart"
    );
    let next = call(&s, "place", &place_form("next", &dv_params("b.example"))).await;
    assert_ne!(
        next["data"]["certId"], found["data"]["certId"],
        "certIds continue, never repeat"
    );
}

/// The binary as a user runs it: the first line says where it listens.
#[test]
fn the_sandbox_command_prints_where_it_listens() {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_nicsrs-batch"))
        .args(["sandbox", "--listen", "127.0.0.1:0", "--seed", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("first line");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .expect("listening on ...")
        .to_owned();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let st: Value = rt.block_on(async {
        client()
            .get(format!("{url}/sandbox/stats"))
            .send()
            .await
            .expect("stats")
            .json()
            .await
            .expect("JSON")
    });
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(st["orders_placed"], 0);
}
