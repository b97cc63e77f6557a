//! Hostile input, run against the real binary: manifests, referenced files, token files,
//! ledgers and API replies written by someone who wants the token, a hang, unbounded
//! output or a second purchase. A canary token stands in for the real one and must be
//! found nowhere: stdout, stderr, the ledger, files written.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nicsrs_batch::sandbox::Config;
use nicsrs_batch::sandbox::faults::Faults;

mod common;

use common::server::{Server, manifest, nicsrs, text};
use common::{root, scratch};

const CANARY: &str = "CANARY-7f3a9c1e-token";

/// Every file under `dir` (ledgers, state files, certificates written), as text.
fn files_under(dir: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            let Ok(meta) = std::fs::symlink_metadata(&p) else {
                continue;
            };
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                let bytes = std::fs::read(&p).unwrap_or_default();
                out.push((
                    p.display().to_string(),
                    String::from_utf8_lossy(&bytes).into_owned(),
                ));
            }
        }
    }
    out
}

fn assert_no_canary(what: &str, out: &Output, dir: &Path) {
    for (name, s) in [("stdout", text(&out.stdout)), ("stderr", text(&out.stderr))] {
        assert!(!s.contains(CANARY), "{what}: the token in {name}:\n{s}");
    }
    for (path, content) in files_under(dir) {
        if path.ends_with("token") || path.ends_with("environ") {
            continue; // the files the test wrote the token into
        }
        assert!(!content.contains(CANARY), "{what}: the token in {path}");
    }
}

/// Runs `cmd` with a deadline: a run that blocks is a failure, not a hung test.
fn within(mut cmd: Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "still running after {limit:?} (it blocked): {}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn mkfifo(path: &Path) -> bool {
    Command::new("mkfifo")
        .arg(path)
        .status()
        .is_ok_and(|s| s.success())
}

/// A manifest of one order whose `params` get `extra` lines (indented 6).
fn one_order(dir: &Path, extra: &str) {
    let base = std::fs::read_to_string(manifest(dir, 1)).expect("manifest");
    let text = base.replace(
        "    params:\n      domainInfo:",
        &format!("    params:\n{extra}      domainInfo:"),
    );
    std::fs::write(dir.join("orders.yaml"), text).expect("manifest");
}

#[test]
fn values_read_by_reference_are_named_never_shown() {
    let dir = scratch("hostile-references");
    std::fs::write(dir.join("environ"), format!("HOME=/root\0TOKEN={CANARY}\0")).expect("file");
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    std::fs::write(dir.join("key.pem"), &key).expect("key");
    let key_line = key.lines().nth(1).expect("a line of the key").to_owned();
    for (csr, private_key, code) in [
        ("{ env: CANARY_VAR }", None, "csr-invalid"),
        ("{ file: environ }", None, "csr-invalid"),
        ("{ file: key.pem }", None, "private-key-as-csr"),
        (
            "{ file: ../hostile-references/environ }",
            None,
            "csr-invalid",
        ),
    ]
    .into_iter()
    .chain([(
        "{ file: key.pem }",
        Some("{ env: CANARY_VAR }"),
        "private-key-invalid",
    )]) {
        let extra = match private_key {
            Some(k) => format!("      csr: {csr}\n      privateKey: {k}\n"),
            None => format!("      csr: {csr}\n"),
        };
        one_order(&dir, &extra);
        for args in [
            &["validate", "orders.yaml"][..],
            &["validate", "orders.yaml", "--format", "json"],
            &["plan", "orders.yaml", "--sandbox"],
            &["plan", "orders.yaml", "--sandbox", "--format", "json"],
            &["apply", "orders.yaml", "--sandbox", "--yes"],
            &["expand", "orders.yaml"],
        ] {
            let out = nicsrs(&dir, "sandbox")
                .env("CANARY_VAR", CANARY)
                .args(args)
                .output()
                .expect("runs");
            let what = format!("{args:?} with csr {csr}");
            assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out.stderr));
            assert_no_canary(&what, &out, &dir);
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert!(all.contains(code), "{what}: {all}");
            assert!(!all.contains(&key_line), "{what}: the key printed:\n{all}");
        }
    }
}

#[test]
fn a_private_key_written_where_the_csr_belongs_is_never_echoed() {
    let dir = scratch("hostile-inline-key");
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    let indented: String = key.lines().map(|l| format!("        {l}\n")).collect();
    one_order(&dir, &format!("      csr: |\n{indented}"));
    let out = nicsrs(&dir, "sandbox")
        .args(["validate", "orders.yaml"])
        .output()
        .expect("runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("error[private-key-as-csr]"), "{stderr}");
    for line in key.lines().skip(1).take(3) {
        assert!(!stderr.contains(line), "the key is printed:\n{stderr}");
    }
}

#[test]
fn a_huge_or_invisible_value_gives_bounded_escaped_output() {
    let dir = scratch("hostile-huge");
    let huge = "A".repeat(5 << 20);
    one_order(&dir, &format!("      server: \"{huge}\u{202e}\"\n"));
    let out = nicsrs(&dir, "sandbox")
        .args(["validate", "orders.yaml"])
        .output()
        .expect("runs");
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.len() < 4096, "{} bytes of stderr", stderr.len());
    assert!(stderr.contains("characters)`"), "{stderr}");
    // YAML's own escapes: U+202E (right-to-left override) and ESC.
    one_order(&dir, "      server: \"ngi\\u202Enx\\e[2J\"\n");
    let out = nicsrs(&dir, "sandbox")
        .args(["validate", "orders.yaml", "--format", "json"])
        .output()
        .expect("runs");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("\\\\u{202e}"), "{stdout}");
    assert!(
        !stdout.contains('\u{202e}') && !stdout.contains("\\u001b"),
        "{stdout}"
    );
}

#[test]
fn special_files_are_refused_and_nothing_blocks() {
    let dir = scratch("hostile-special");
    let fifo = dir.join("fifo.yaml");
    if !mkfifo(&fifo) {
        eprintln!("mkfifo is not available: skipped");
        return;
    }
    let limit = Duration::from_secs(20);
    // A FIFO as the manifest.
    let mut cmd = nicsrs(&dir, "sandbox");
    cmd.args(["validate", "fifo.yaml"]);
    let out = within(cmd, limit);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("FIFO"), "{}", text(&out.stderr));
    // A FIFO and a device as `{file:}` references.
    for target in ["fifo.yaml", "/dev/zero"] {
        one_order(&dir, &format!("      csr: {{ file: {target} }}\n"));
        let mut cmd = nicsrs(&dir, "sandbox");
        cmd.args(["validate", "orders.yaml"]);
        let out = within(cmd, limit);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("not a regular file"), "{stderr}");
    }
    // A FIFO, a device and a huge file as the token file; a FIFO as the ledger.
    manifest(&dir, 1);
    std::fs::write(dir.join("big-token"), "x".repeat(1 << 20)).expect("big");
    for (token_file, expected) in [
        ("fifo.yaml", "FIFO"),
        ("/dev/zero", "a device"),
        ("big-token", "larger than 4 KiB"),
    ] {
        let mut cmd = nicsrs(&dir, "sandbox");
        cmd.args([
            "apply",
            "orders.yaml",
            "--yes",
            "--endpoint",
            "http://127.0.0.1:9",
        ])
        .args(["--token-file", token_file]);
        let out = within(cmd, limit);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{token_file}: {stderr}");
        assert!(!dir.join("nicsrs-ledger.csv").exists(), "nothing written");
    }
    let mut cmd = nicsrs(&dir, "sandbox");
    cmd.args(["plan", "orders.yaml", "--sandbox", "--ledger", "fifo.yaml"]);
    let out = within(cmd, limit);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
}

#[test]
fn a_token_file_others_can_read_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("hostile-token-mode");
    manifest(&dir, 1);
    let server = Server::start(Config {
        token: CANARY.into(),
        ..Config::default()
    });
    let token = dir.join("token");
    std::fs::write(&token, format!("{CANARY}\n")).expect("token");
    for (mode, warned) in [(0o644, true), (0o600, false)] {
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let out = nicsrs(&dir, "unused")
            .env_remove("NICSRS_API_TOKEN")
            .args([
                "products",
                "--vendor",
                "Sectigo",
                "--endpoint",
                &server.url,
                "--token-file",
                "token",
            ])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert_eq!(
            stderr.contains("can be read by other users (mode 644)"),
            warned,
            "{stderr}"
        );
        assert_no_canary("products with a token file", &out, &dir);
    }
}

#[test]
fn zero_timeouts_rates_and_a_remote_sandbox_are_refused() {
    let dir = scratch("hostile-flags");
    manifest(&dir, 1);
    for args in [
        &[
            "apply",
            "orders.yaml",
            "--sandbox",
            "--request-timeout",
            "0s",
        ][..],
        &[
            "apply",
            "orders.yaml",
            "--sandbox",
            "--request-timeout",
            "90d",
        ],
        &[
            "apply",
            "orders.yaml",
            "--sandbox",
            "--connect-timeout",
            "0",
        ],
        &["apply", "orders.yaml", "--sandbox", "--rate", "0.0000001/s"],
        &["sandbox", "--listen", "0.0.0.0:0"],
    ] {
        let out = nicsrs(&dir, "sandbox").args(args).output().expect("runs");
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("out of bounds")
                || stderr.contains("between")
                || stderr.contains("--allow-remote"),
            "{args:?}: {stderr}"
        );
    }
}

/// A server on loopback that answers every request with `reply(path)` and keeps each
/// request's text. Returns its URL and the requests.
fn hostile(reply: fn(&str, &str) -> String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let kept = kept.clone();
            std::thread::spawn(move || serve(stream, reply, &kept));
        }
    });
    (url, seen)
}

fn serve(stream: TcpStream, reply: fn(&str, &str) -> String, kept: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut stream = stream;
    loop {
        let mut head = String::new();
        let mut length = 0;
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
            head.push_str(&line);
        }
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let body = String::from_utf8_lossy(&body).into_owned();
        let path = request_line.split(' ').nth(1).unwrap_or("").to_owned();
        kept.lock()
            .expect("lock")
            .push(format!("{request_line}{head}\r\n{body}"));
        if stream.write_all(reply(&path, &body).as_bytes()).is_err() {
            return;
        }
    }
}

fn json_reply(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// Where the redirecting server sends its callers: a listener that counts connections.
static ELSEWHERE_PORT: AtomicUsize = AtomicUsize::new(0);

#[test]
fn redirects_are_never_followed_and_the_token_goes_nowhere_else() {
    let elsewhere = TcpListener::bind("127.0.0.1:0").expect("bind");
    ELSEWHERE_PORT.store(
        usize::from(elsewhere.local_addr().expect("addr").port()),
        Ordering::SeqCst,
    );
    let connections = Arc::new(AtomicUsize::new(0));
    let counted = connections.clone();
    std::thread::spawn(move || {
        for _ in elsewhere.incoming() {
            counted.fetch_add(1, Ordering::SeqCst);
        }
    });
    fn redirect(status: &str) -> String {
        let port = ELSEWHERE_PORT.load(Ordering::SeqCst);
        format!(
            "HTTP/1.1 {status}\r\nlocation: http://127.0.0.1:{port}/ssl/place\r\ncontent-length: 0\r\n\r\n"
        )
    }
    let servers = [
        hostile(|_, _| redirect("302 Found")),
        hostile(|_, _| redirect("307 Temporary Redirect")),
        hostile(|_, _| redirect("308 Permanent Redirect")),
    ];
    for (url, seen) in servers {
        for extra in [&[][..], &["--trust-ledger"]] {
            let dir = scratch("hostile-redirect");
            manifest(&dir, 2);
            let out = nicsrs(&dir, CANARY)
                .args(["apply", "orders.yaml", "--yes", "--endpoint", &url])
                .args(["--ledger", "ledger.csv", "--request-timeout", "2s"])
                .args(extra)
                .output()
                .expect("runs");
            let stdout = text(&out.stdout);
            assert_eq!(out.status.code(), Some(3), "{stdout}{}", text(&out.stderr));
            let port = ELSEWHERE_PORT.load(Ordering::SeqCst);
            assert!(
                stdout.contains(&format!("redirected to http://127.0.0.1:{port}")),
                "{stdout}"
            );
            let ledger = std::fs::read_to_string(dir.join("ledger.csv")).unwrap_or_default();
            assert!(
                !ledger.contains(",placed,"),
                "nothing recorded as placed: {ledger}"
            );
            assert_no_canary("apply through a redirect", &out, &dir);
            assert!(!seen.lock().expect("lock").is_empty());
        }
    }
    assert_eq!(
        connections.load(Ordering::SeqCst),
        0,
        "the token went where a redirect pointed"
    );
}

#[test]
fn api_replies_that_echo_the_token_are_redacted_everywhere() {
    fn echo(path: &str, body: &str) -> String {
        let token = body
            .split('&')
            .find_map(|kv| kv.strip_prefix("api_token="))
            .unwrap_or("")
            .to_owned();
        if path.ends_with("certIdByrefId") {
            return json_reply(
                "200 OK",
                r#"{"code":-1,"msg":"parameter validation failed","errors":{"refId":["no order with this refId"]}}"#,
            );
        }
        let code = if path.contains("denied") { 400 } else { -1 };
        json_reply(
            "200 OK",
            &format!(
                r#"{{"code":{code},"msg":"bad token {token}","errors":{{"api_token":["{token} is not valid"],"{token}":"x"}}}}"#
            ),
        )
    }
    let (url, seen) = hostile(echo);
    for format in ["text", "json"] {
        let dir = scratch("hostile-echo");
        manifest(&dir, 3);
        let out = nicsrs(&dir, CANARY)
            .args(["apply", "orders.yaml", "--yes", "--endpoint", &url])
            .args(["--ledger", "ledger.csv", "--format", format])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
        assert_no_canary("apply to an echoing API", &out, &dir);
        let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
        assert!(ledger.contains("bad token <redacted>"), "{ledger}");
        let out = nicsrs(&dir, CANARY)
            .args(["status", "--endpoint", &url, "--ledger", "ledger.csv"])
            .output()
            .expect("runs");
        assert_no_canary("status after an echoing API", &out, &dir);
    }
    assert!(
        seen.lock()
            .expect("lock")
            .iter()
            .any(|r| r.contains(CANARY)),
        "the token was sent to the endpoint itself"
    );
}

#[test]
fn the_token_is_found_nowhere_across_commands_and_faults() {
    let dir = scratch("hostile-canary-sweep");
    manifest(&dir, 40);
    let server = Server::with_faults(
        Faults {
            drop_rate: 0.15,
            timeout_rate: 0.1,
            fail_rate: 0.15,
            throttle_rate: 0.15,
            unknown_rate: 0.15,
            ..Faults::default()
        },
        CANARY,
    );
    let runs: [&[&str]; 6] = [
        &["validate", "orders.yaml"],
        &["plan", "orders.yaml"],
        &["apply", "orders.yaml", "--yes", "--request-timeout", "2s"],
        &[
            "apply",
            "orders.yaml",
            "--yes",
            "--request-timeout",
            "2s",
            "--format",
            "json",
        ],
        &["refresh", "--out-dir", "certs"],
        &["status", "orders.yaml", "--format", "json"],
    ];
    for args in runs {
        let mut cmd = nicsrs(&dir, CANARY);
        cmd.args(args);
        if args[0] != "validate" {
            cmd.args(["--endpoint", &server.url, "--ledger", "ledger.csv"]);
        }
        let out = cmd.output().expect("runs");
        assert_no_canary(&format!("{args:?}"), &out, &dir);
    }
    assert!(dir.join("ledger.csv").exists());
}

/// Two branches apply the same orders; Git's `merge=union`, which the README recommends
/// for the ledger, interleaves their rows. Nothing is bought twice.
#[test]
fn a_ledger_merged_with_git_union_buys_nothing_twice() {
    if Command::new("git").arg("--version").output().is_err() {
        eprintln!("git is not available: skipped");
        return;
    }
    let dir = scratch("hostile-union");
    let git = |args: &[&str]| {
        let out = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(&dir)
            .output()
            .expect("git");
        assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
    };
    let n = 6;
    manifest(&dir, n);
    std::fs::write(dir.join(".gitattributes"), "ledger.csv merge=union\n").expect("attributes");
    git(&["init", "-q", "-b", "main"]);
    git(&["add", "."]);
    git(&["commit", "-qm", "orders"]);
    let server = Server::start(Config::default());
    let apply = |endpoint: &str| {
        nicsrs(&dir, "sandbox")
            .args(["apply", "orders.yaml", "--yes", "--endpoint", endpoint])
            .args(["--ledger", "ledger.csv", "--request-timeout", "2s"])
            .args(["--reconcile-delay", "100ms"])
            .output()
            .expect("apply")
    };
    // Branch `down`: the API could not be reached; every order `failed`, not sent.
    git(&["checkout", "-qb", "down"]);
    let out = apply("http://127.0.0.1:9");
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stdout));
    git(&["add", "ledger.csv"]);
    git(&["commit", "-qm", "apply: API down"]);
    // Branch `main`: every order placed.
    git(&["checkout", "-q", "main"]);
    let out = apply(&server.url);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    git(&["add", "ledger.csv"]);
    git(&["commit", "-qm", "apply"]);
    git(&["merge", "-q", "--no-edit", "down"]);
    let merged = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    assert!(
        merged.contains(",placed,")
            && (merged.contains(",failed,") || merged.contains(",unknown,")),
        "{merged}"
    );
    for trust in [&[][..], &["--trust-ledger"]] {
        let out = nicsrs(&dir, "sandbox")
            .args(["plan", "orders.yaml", "--endpoint", &server.url])
            .args(["--ledger", "ledger.csv", "--detailed-exitcode"])
            .output()
            .expect("plan");
        let plan = text(&out.stdout);
        assert_eq!(
            out.status.code(),
            Some(0),
            "no work: {plan}{}",
            text(&out.stderr)
        );
        let out = nicsrs(&dir, "sandbox")
            .args(["apply", "orders.yaml", "--yes", "--endpoint", &server.url])
            .args(["--ledger", "ledger.csv"])
            .args(trust)
            .output()
            .expect("apply");
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    }
    // The other merge order puts `down`'s rows after `main`'s.
    let st = server.stats();
    assert_eq!(st["orders_placed"], n, "{st}");
    assert_eq!(st["duplicate_ref_ids"], serde_json::json!([]), "{st}");
    let _ = root();
}

#[test]
fn a_ledger_row_that_does_not_parse_stops_apply_before_anything_is_sent() {
    let dir = scratch("hostile-bad-row");
    manifest(&dir, 3);
    let server = Server::start(Config::default());
    let apply = |extra: &[&str]| {
        nicsrs(&dir, "sandbox")
            .args(["apply", "orders.yaml", "--yes", "--endpoint", &server.url])
            .args(["--ledger", "ledger.csv"])
            .args(extra)
            .output()
            .expect("apply")
    };
    assert_eq!(apply(&[]).status.code(), Some(0));
    let calls = |st: &serde_json::Value| st["requests"].clone();
    let before = calls(&server.stats());
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    // One cell lost from a `submitting` row: its values shift left.
    let mut lines: Vec<String> = ledger.lines().map(str::to_owned).collect();
    let at = lines
        .iter()
        .position(|l| l.contains(",submitting,"))
        .expect("a submitting row");
    lines[at] = lines[at].replacen(",sandbox,", ",", 1);
    std::fs::write(dir.join("ledger.csv"), lines.join("\n") + "\n").expect("write");
    for extra in [&[][..], &["--trust-ledger"]] {
        let out = apply(extra);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("line {}:", at + 1)) && stderr.contains("cannot be read"),
            "{stderr}"
        );
    }
    let out = nicsrs(&dir, "sandbox")
        .args([
            "plan",
            "orders.yaml",
            "--endpoint",
            &server.url,
            "--ledger",
            "ledger.csv",
        ])
        .output()
        .expect("plan");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(calls(&server.stats()), before, "nothing was sent");
}

/// A CSR file that also holds its private key (or anything after the CSR) is refused:
/// nothing but the CSR's block is ever sent, and the key is never printed.
#[test]
fn a_csr_with_a_private_key_or_text_after_it_is_refused() {
    let dir = scratch("hostile-csr-plus");
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["www.site0000.example".into()]).expect("params");
    params.distinguished_name = rcgen::DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .expect("csr")
        .pem()
        .expect("pem");
    let key_pem = key.serialize_pem();
    let key_line = key_pem
        .lines()
        .nth(1)
        .expect("a line of the key")
        .to_owned();
    std::fs::write(dir.join("both.pem"), format!("{csr}{key_pem}")).expect("file");
    std::fs::write(dir.join("junk.pem"), format!("{csr}password=hunter2\n")).expect("file");
    std::fs::write(
        dir.join("preamble.pem"),
        format!("Certificate Request:\n    Data: ...\n{csr}"),
    )
    .expect("file");
    for (file, code) in [
        ("both.pem", Some("private-key-as-csr")),
        ("junk.pem", Some("csr-invalid")),
        ("preamble.pem", None),
    ] {
        one_order(&dir, &format!("      csr: {{ file: {file} }}\n"));
        let out = nicsrs(&dir, "sandbox")
            .args(["expand", "orders.yaml"])
            .output()
            .expect("runs");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(!all.contains(&key_line), "{file}: the key is printed");
        assert!(
            !all.contains("hunter2"),
            "{file}: the text after the CSR is printed"
        );
        match code {
            Some(code) => {
                assert_eq!(out.status.code(), Some(2), "{file}: {all}");
                assert!(all.contains(code), "{file}: {all}");
            }
            None => {
                // Valid, and what is sent is the CSR's block alone.
                assert_eq!(out.status.code(), Some(0), "{file}: {all}");
                assert!(
                    !all.contains("Data: ..."),
                    "{file}: the preamble is sent: {all}"
                );
            }
        }
    }
}

/// A private key written in any field, on one line, is never shown under a diagnostic.
#[test]
fn a_private_key_in_any_field_is_never_shown() {
    let dir = scratch("hostile-key-anywhere");
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    let one_line = key.trim_end().replace('\n', "\\n");
    let line_of_key = key.lines().nth(1).expect("a line").to_owned();
    for extra in [
        format!("      server: \"{one_line}\"\n"),
        format!("      csr: \"x{one_line}\"\n"),
        // A free-text field the schema accepts: the key would be sent.
        format!("      Administrator: {{ job: \"{one_line}\" }}\n"),
    ] {
        one_order(&dir, &extra);
        for args in [
            &["validate", "orders.yaml", "--format", "text"][..],
            &["validate", "orders.yaml", "--format", "json"],
            &["expand", "orders.yaml"],
        ] {
            let out = nicsrs(&dir, "sandbox").args(args).output().expect("runs");
            let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
            assert_eq!(out.status.code(), Some(2), "{extra}: {all}");
            if extra.contains("Administrator") {
                assert!(all.contains("private-key-misplaced"), "{all}");
            }
            assert!(
                !all.contains(&line_of_key[..20]),
                "the key is shown:\n{all}"
            );
        }
    }
}

/// Escape sequences in an order's key and in a manifest's file name reach neither the
/// terminal nor the JSON output nor the ledger as themselves.
#[test]
fn escape_sequences_in_keys_and_file_names_are_shown_escaped() {
    let dir = scratch("hostile-escapes");
    manifest(&dir, 1);
    let text_of = std::fs::read_to_string(dir.join("orders.yaml")).expect("manifest");
    std::fs::write(
        dir.join("orders.yaml"),
        text_of.replace("key: site-0000", "key: \"site\\e]0;owned\\a\\e[2J\\u202E\""),
    )
    .expect("manifest");
    for format in ["text", "json"] {
        let out = nicsrs(&dir, "sandbox")
            .args(["validate", "orders.yaml", "--format", format])
            .output()
            .expect("runs");
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert!(
            !all.contains('\x1b') && !all.contains('\u{202e}') && !all.contains('\x07'),
            "{format}: {all:?}"
        );
    }
    let odd = "orders\x1b[2J\u{202e}.yaml";
    std::fs::write(dir.join(odd), text_of.replace("www.site0000", "www")).expect("manifest");
    let out = nicsrs(&dir, "sandbox")
        .args(["apply", odd, "--sandbox", "--yes", "--ledger", "ledger.csv"])
        .output()
        .expect("runs");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        !all.contains('\x1b') && !all.contains('\u{202e}'),
        "{all:?}"
    );
    let ledger = std::fs::read_to_string(dir.join("ledger.csv")).unwrap_or_default();
    assert!(
        !ledger.contains('\x1b') && !ledger.contains('\u{202e}'),
        "{ledger:?}"
    );
}

/// A quote that never closes, or CR-only line ends, are not a torn last line: the run
/// stops, the ledger is left as it was, and nothing is bought.
#[test]
fn a_ledger_that_only_looks_torn_is_never_cut_or_bought_again() {
    let dir = scratch("hostile-torn");
    manifest(&dir, 4);
    let server = Server::start(Config::default());
    let apply = |extra: &[&str]| {
        nicsrs(&dir, "sandbox")
            .args(["apply", "orders.yaml", "--yes", "--endpoint", &server.url])
            .args(["--ledger", "ledger.csv"])
            .args(extra)
            .output()
            .expect("apply")
    };
    assert_eq!(apply(&[]).status.code(), Some(0));
    let good = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    let stray_quote = good.replacen(",t-site-0000,", ",\"t-site-0000,", 1);
    let cr_only = good.replace("\r\n", "\r");
    let (header, rows) = good.split_once("\r\n").expect("a header");
    let cr_rows = format!("{header}\r\n{}", rows.replace("\r\n", "\r"));
    for (what, broken) in [
        ("a stray quote", stray_quote),
        ("CR-only line ends", cr_only),
        ("CR-only rows under a good header", cr_rows),
    ] {
        std::fs::write(dir.join("ledger.csv"), &broken).expect("write");
        for extra in [&[][..], &["--trust-ledger"]] {
            let out = apply(extra);
            assert_eq!(out.status.code(), Some(1), "{what}: {}", text(&out.stderr));
            let now = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
            assert_eq!(now, broken, "{what}: the ledger was changed");
        }
    }
    let st = server.stats();
    assert_eq!(st["orders_placed"], 4, "{st}");
    assert_eq!(st["duplicate_ref_ids"], serde_json::json!([]), "{st}");
}

/// With `--trust-ledger`, an order whose key was renamed, or whose ledger header had `key`
/// and `ref_id` swapped, is looked up by refId before anything is sent.
#[test]
fn a_refid_the_ledger_knows_under_another_key_is_looked_up_even_when_trusted() {
    let dir = scratch("hostile-renamed");
    manifest(&dir, 3);
    let server = Server::start(Config::default());
    let apply = || {
        nicsrs(&dir, "sandbox")
            .args(["apply", "orders.yaml", "--yes", "--endpoint", &server.url])
            .args(["--ledger", "ledger.csv", "--trust-ledger"])
            .output()
            .expect("apply")
    };
    assert_eq!(apply().status.code(), Some(0));
    let good = std::fs::read_to_string(dir.join("ledger.csv")).expect("ledger");
    let renamed = good.replace(",site-0000,", ",SITE-0000,");
    let swapped = good.replacen("key,ref_id", "ref_id,key", 1);
    for (what, ledger) in [("a renamed key", renamed), ("swapped headers", swapped)] {
        std::fs::write(dir.join("ledger.csv"), ledger).expect("write");
        let out = apply();
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out.stdout));
        let st = server.stats();
        assert_eq!(st["orders_placed"], 3, "{what}: {st}");
    }
}
