//! Domain validation end to end, with real parts: a real authoritative DNS server (Knot,
//! from Debian's `knot` package; `.ci/run` installs it) on a loopback port taking RFC 2136
//! updates signed with TSIG, a real HTTP server serving the webroot `dcv --webroot` writes,
//! and the sandbox started as a user starts it, validating names for real
//! (`--verify-dcv`, resolving through that DNS server).
//!
//! `apply --require-dcv` places nothing; `dcv publish` and `dcv --webroot` publish;
//! `dcv --check` finds everything right; `apply --require-dcv` places the orders; the
//! sandbox issues them; `status` shows every name verified; `dcv publish --cleanup`
//! removes the records.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

mod common;

use common::{root, scratch};

/// A child process killed when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Knot's server binary, if installed.
fn knotd() -> Option<PathBuf> {
    ["/usr/sbin/knotd", "/usr/bin/knotd", "/usr/local/sbin/knotd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A port free for both UDP and TCP on loopback, for Knot.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").expect("udp");
        let port = udp.local_addr().expect("addr").port();
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

const TSIG_SECRET: &str = "qVp1ABLElp+x8ynUWWjpB1+ujMrR7oaYilqbR07j8lk=";
const ZONE: &str = "$ORIGIN shop.example.\n$TTL 300\n@ IN SOA ns.shop.example. hostmaster.shop.example. 1 3600 600 86400 300\n@ IN NS ns.shop.example.\nns IN A 127.0.0.1\n";

/// Knot serving `shop.example` on `port`, accepting updates signed with the test key.
fn start_knot(knotd: &Path, dir: &Path, port: u16) -> Killed {
    let run = dir.join("knot");
    std::fs::create_dir_all(run.join("db")).expect("knot dirs");
    std::fs::write(run.join("shop.example.zone"), ZONE).expect("zone");
    let conf = format!(
        "server:\n    rundir: \"{run}\"\n    listen: 127.0.0.1@{port}\nlog:\n  - target: stderr\n    any: warning\ndatabase:\n    storage: \"{run}/db\"\nkey:\n  - id: nicsrs-dcv\n    algorithm: hmac-sha256\n    secret: {TSIG_SECRET}\nacl:\n  - id: dcv-update\n    key: nicsrs-dcv\n    action: update\ntemplate:\n  - id: default\n    storage: \"{run}\"\n    file: \"%s.zone\"\n    zonefile-sync: 0\nzone:\n  - domain: shop.example\n    acl: dcv-update\n",
        run = run.display()
    );
    std::fs::write(run.join("knot.conf"), conf).expect("knot.conf");
    let child = Command::new(knotd)
        .arg("-c")
        .arg(run.join("knot.conf"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(run.join("knotd.log")).expect("log"))
        .spawn()
        .expect("knotd starts");
    let knot = Killed(child);
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "knotd did not listen: {}",
            std::fs::read_to_string(run.join("knotd.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    knot
}

/// A child that prints something on its first line (a port, a URL), and that line.
fn spawn_reading(mut command: Command) -> (Killed, String) {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("a line");
    (Killed(child), line.trim().to_owned())
}

fn manifest(dir: &Path) {
    let text = format!(
        "version: 1\nrefIdPrefix: e2e-\ndefaults:\n  years: 1\n  params:\n    server: nginx\n    Administrator: {{job: Ops, firstName: Lee, lastName: Chen, email: lee@shop.example, mobile: '+44 20 7946 0000', organization: Shop Ltd, address: 1 Street, city: London, state: London, postCode: EC1A 1BB, country: GB}}\norders:\n  - key: api\n    productCode: comodo-positivessl\n    params:\n      csr: {{ file: {root}/examples/csr/shop-api.csr }}\n      domainInfo:\n        - {{ domainName: api.shop.example, dcvMethod: CNAME_CSR_HASH }}\n  - key: shop\n    productCode: comodo-positive-multi-domain\n    params:\n      csr: {{ file: {root}/examples/csr/shop-www.csr }}\n      domainInfo:\n        - {{ domainName: shop.example, dcvMethod: CNAME_CSR_HASH }}\n        - {{ domainName: www.shop.example, dcvMethod: HTTP_CSR_HASH }}\n",
        root = root().display()
    );
    std::fs::write(dir.join("orders.yaml"), &text).expect("manifest");
    // An order whose record nobody publishes: the sandbox must never issue it.
    let other = text
        .split("orders:\n")
        .next()
        .unwrap_or_default()
        .to_owned()
        + &format!(
            "orders:\n  - key: cdn\n    productCode: comodo-positivessl-wildcard\n    params:\n      csr: {{ file: {root}/examples/csr/cdn-wildcard.csr }}\n      domainInfo:\n        - {{ domainName: \"*.cdn.shop.example\", dcvMethod: CNAME_CSR_HASH }}\n",
            root = root().display()
        );
    std::fs::write(dir.join("other.yaml"), other).expect("manifest");
}

#[test]
fn records_are_published_checked_and_validated_before_anything_is_paid_for() {
    let Some(knotd) = knotd() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "knotd is not installed: .ci/run installs Debian's `knot` package"
        );
        eprintln!("skipped: knotd is not installed (apt-get install knot)");
        return;
    };
    let dir = scratch("dcv-end-to-end");
    manifest(&dir);
    let key = dir.join("tsig.key");
    std::fs::write(
        &key,
        format!(
            "key \"nicsrs-dcv\" {{\n\talgorithm hmac-sha256;\n\tsecret \"{TSIG_SECRET}\";\n}};\n"
        ),
    )
    .expect("key");
    let dns_port = free_port();
    let _knot = start_knot(&knotd, &dir, dns_port);
    let dns = format!("127.0.0.1:{dns_port}");
    let webroot = dir.join("web");
    std::fs::create_dir_all(&webroot).expect("webroot");
    let mut web = Command::new("python3");
    web.arg(root().join("tests/fixtures/dcv/webroot_server.py"))
        .arg(&webroot);
    let (_web, web_port) = spawn_reading(web);
    let web: SocketAddr = format!("127.0.0.1:{web_port}").parse().expect("web port");
    let web = web.to_string();
    let mut sandbox = Command::new(env!("CARGO_BIN_EXE_nicsrs-batch"));
    sandbox.args(["sandbox", "--listen", "127.0.0.1:0", "--verify-dcv"]);
    sandbox.args(["--resolver", &dns, "--connect-to", &web]);
    let (_sandbox, listening) = spawn_reading(sandbox);
    let url = listening
        .strip_prefix("listening on ")
        .expect("the sandbox says where it listens")
        .to_owned();
    let nicsrs = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_nicsrs-batch"))
            .args(args)
            .args(["--endpoint", &url, "--ledger", "ledger.csv"])
            .current_dir(&dir)
            .env("NICSRS_API_TOKEN", "sandbox")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .output()
            .expect("runs")
    };
    let text = |o: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    };
    let placed = || -> u64 {
        let stats: Value = reqwest_stats(&url);
        stats["requests"]["place"].as_u64().unwrap_or(0)
    };
    let check = ["--resolver", dns.as_str(), "--connect-to", web.as_str()];
    // `dcv publish orders.yaml` to Knot with `key`, adding or (`cleanup`) removing.
    let publish = |key: &Path, cleanup: bool| {
        let mut args = vec!["dcv", "publish", "orders.yaml", "--rfc2136", dns.as_str()];
        args.extend(["--tsig-key", key.to_str().expect("path")]);
        if cleanup {
            args.push("--cleanup");
        }
        nicsrs(&args)
    };
    let zone_file =
        || std::fs::read_to_string(dir.join("knot/shop.example.zone")).unwrap_or_default();

    // 1. Nothing is published: nothing is paid for.
    let mut args = vec!["apply", "orders.yaml", "--yes", "--require-dcv"];
    args.extend_from_slice(&check);
    let out = nicsrs(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("awaiting-dcv api") && text(&out).contains("is missing"),
        "{}",
        text(&out)
    );
    assert_eq!(
        placed(),
        0,
        "nothing placed before its records are published"
    );

    // An order placed without --require-dcv waits for its record like any other.
    let out = nicsrs(&["apply", "other.yaml", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(placed(), 1);

    // 2. Publish: the DNS records by RFC 2136 with TSIG, the file into the webroot.
    let out = publish(&key, false);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("2 records added"), "{}", text(&out));
    assert!(
        !text(&out).contains(TSIG_SECRET),
        "the key's secret is never printed"
    );
    let zone = zone_file();
    assert_eq!(
        zone.matches("sectigo.com.").count(),
        2,
        "Knot's zone holds both CNAMEs:\n{zone}"
    );
    let out = nicsrs(&["dcv", "orders.yaml", "--webroot", "web"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // 3. Everything checks out.
    let mut args = vec!["dcv", "orders.yaml", "--check", "--format", "json"];
    args.extend_from_slice(&check);
    let out = nicsrs(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["all_right"], true, "{doc:#}");
    let records = doc["records"].as_array().expect("records");
    assert_eq!(records.len(), 3);
    assert!(
        records
            .iter()
            .all(|r| r["check"] == "right" && r["state"] == "published"),
        "{doc:#}"
    );

    // 4. Now the orders are placed, and the sandbox validates and issues them.
    let mut args = vec!["apply", "orders.yaml", "--yes", "--require-dcv"];
    args.extend_from_slice(&check);
    let out = nicsrs(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(placed(), 3, "{}", text(&out));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = nicsrs(&["refresh", "orders.yaml"]);
        if text(&out).contains("2 COMPLETE") {
            // `refresh` shows every name verified.
            assert!(
                text(&out).contains("names: 1/1 verified")
                    && text(&out).contains("names: 2/2 verified"),
                "{}",
                text(&out)
            );
            break;
        }
        assert!(Instant::now() < deadline, "not issued: {}", text(&out));
        std::thread::sleep(Duration::from_millis(300));
    }
    // Its record was never published: still pending, its name not verified.
    let out = nicsrs(&["refresh", "other.yaml"]);
    assert!(
        text(&out).contains("1 PENDING") && text(&out).contains("names: 0/1 verified"),
        "{}",
        text(&out)
    );
    let out = nicsrs(&["status", "other.yaml", "--format", "json"]);
    assert!(
        text(&out).contains(
            r#""dcv":[{"domain":"*.cdn.shop.example","method":"CNAME_CSR_HASH","verified":false}]"#
        ),
        "{}",
        text(&out)
    );
    let out = nicsrs(&["status", "orders.yaml", "--format", "json"]);
    let names: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["key"] == "api" || v["key"] == "shop")
        .filter_map(|v| v["dcv"].as_array().cloned())
        .flatten()
        .collect();
    assert_eq!(names.len(), 3, "{}", text(&out));
    assert!(
        names.iter().all(|n| n["verified"] == true),
        "every name verified: {names:?}"
    );

    // 5. The records are no longer needed: removed.
    let out = publish(&key, true);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("2 records removed"), "{}", text(&out));
    let zone = zone_file();
    assert!(
        !zone.contains("sectigo.com"),
        "removed from Knot's zone:\n{zone}"
    );

    // A key Knot does not know is refused, and its secret not printed.
    let wrong = dir.join("wrong.key");
    std::fs::write(
        &wrong,
        "hmac-sha256:nicsrs-dcv:d3JvbmcgYnV0IHZhbGlkIGJhc2U2NA==\n",
    )
    .expect("key");
    let out = publish(&wrong, true);
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        text(&out).contains("the TSIG key was refused"),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains("d3JvbmcgYnV0IHZhbGlkIGJhc2U2NA"),
        "{}",
        text(&out)
    );
}

/// The sandbox's `/sandbox/stats`.
fn reqwest_stats(url: &str) -> Value {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        reqwest::get(format!("{url}/sandbox/stats"))
            .await
            .expect("stats")
            .json()
            .await
            .expect("JSON")
    })
}
