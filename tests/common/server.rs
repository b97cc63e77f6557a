//! A sandbox on loopback for the tests that drive the binary against it, and the helpers
//! that run the binary the way a user does.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use nicsrs_batch::sandbox::faults::Faults;
use nicsrs_batch::sandbox::{Config, Sandbox};
use serde_json::Value;

/// A sandbox served by its own runtime while the test drives the binary.
pub struct Server {
    rt: tokio::runtime::Runtime,
    sandbox: Option<Sandbox>,
    pub url: String,
}

impl Server {
    pub fn start(config: Config) -> Server {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sandbox = rt
            .block_on(Sandbox::start(config, "127.0.0.1:0".parse().expect("addr")))
            .expect("sandbox");
        let url = sandbox.url();
        Server {
            rt,
            sandbox: Some(sandbox),
            url,
        }
    }

    pub fn with_faults(faults: Faults, token: &str) -> Server {
        Server::start(Config {
            faults,
            seed: 42,
            token: token.into(),
            ..Config::default()
        })
    }

    /// `POST /ssl/{endpoint}` with `fields` and the sandbox's token, as another client of
    /// the account would (the portal, a script): its JSON reply.
    pub fn call(&self, endpoint: &str, fields: &[(&str, &str)]) -> Value {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut form = vec![("api_token", "sandbox")];
        form.extend_from_slice(fields);
        self.rt.block_on(async {
            reqwest::Client::new()
                .post(format!("{}/ssl/{endpoint}", self.url))
                .form(&form)
                .send()
                .await
                .expect("reply")
                .json()
                .await
                .expect("JSON")
        })
    }

    pub fn stats(&self) -> Value {
        let _ = rustls::crypto::ring::default_provider().install_default();
        self.rt.block_on(async {
            reqwest::get(format!("{}/sandbox/stats", self.url))
                .await
                .expect("stats")
                .json()
                .await
                .expect("JSON")
        })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            let _ = self.rt.block_on(s.stop());
        }
    }
}

/// A manifest of `n` DV orders in `dir`.
pub fn manifest(dir: &Path, n: usize) -> PathBuf {
    let mut s = String::from(
        "version: 1\nrefIdPrefix: t-\ndefaults:\n  productCode: comodo-positivessl\n  years: 1\n  params:\n    server: nginx\n    Administrator:\n      job: Ops\n      firstName: Sam\n      lastName: Ortega\n      email: ops@hosting.example\n      mobile: \"+1 415 555 0100\"\n      organization: Example Hosting Inc.\n      address: 500 Market Street\n      city: San Francisco\n      state: California\n      postCode: \"94105\"\n      country: US\norders:\n",
    );
    for i in 0..n {
        s.push_str(&format!(
            "  - key: site-{i:04}\n    params:\n      domainInfo:\n        - {{ domainName: www.site{i:04}.example, dcvMethod: HTTP_CSR_HASH }}\n"
        ));
    }
    let path = dir.join("orders.yaml");
    std::fs::write(&path, s).expect("manifest");
    path
}

pub fn nicsrs(dir: &Path, token: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nicsrs-batch"));
    c.current_dir(dir)
        .env("NICSRS_API_TOKEN", token)
        .env_remove("NICSRS_ENDPOINT")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// `nicsrs-batch ARGS --ledger ledger.csv --endpoint URL` in `dir`, with `token`.
pub fn run_on(dir: &Path, server: &Server, token: &str, args: &[&str]) -> Output {
    nicsrs(dir, token)
        .args(args)
        .args(["--ledger", "ledger.csv", "--endpoint", &server.url])
        .output()
        .expect("nicsrs-batch runs")
}

/// `nicsrs-batch apply orders.yaml --yes` against `server`, recording into `ledger.csv`.
fn apply_command(dir: &Path, server: &Server) -> Command {
    let mut c = nicsrs(dir, "sandbox");
    c.args(["apply", "orders.yaml", "--yes", "--endpoint", &server.url])
        .args(["--ledger", "ledger.csv"]);
    c
}

/// Runs `apply` to its end, with short timeouts.
pub fn apply(dir: &Path, server: &Server, extra: &[&str]) -> Output {
    apply_command(dir, server)
        .args(["--request-timeout", "2s", "--reconcile-delay", "100ms"])
        .args(extra)
        .output()
        .expect("apply runs")
}

/// `apply` started in the background.
pub fn spawn_apply(
    dir: &Path,
    server: &Server,
    extra: &[&str],
    output: fn() -> Stdio,
) -> std::process::Child {
    apply_command(dir, server)
        .args(extra)
        .stdout(output())
        .stderr(output())
        .spawn()
        .expect("spawn apply")
}

/// Applies until a run ends with everything done (faults leave some for the next run),
/// `runs` times at most; no run may panic.
pub fn apply_until_done(dir: &Path, server: &Server, concurrency: &str, runs: usize) {
    let mut last = None;
    for _ in 0..runs {
        let out = apply(dir, server, &["--concurrency", concurrency]);
        assert!(
            !text(&out.stderr).contains("panicked"),
            "{}",
            text(&out.stderr)
        );
        last = out.status.code();
        if last == Some(0) {
            return;
        }
    }
    panic!("apply did not converge: last exit {last:?}");
}

/// What a `kill -9` hit.
pub struct Killed {
    /// The run was still going when killed.
    pub running: bool,
    /// Keys whose last row is a write-ahead row (`submitting`, `renewing`, `reissuing`,
    /// `replacing`) right after the kill: calls the kill interrupted in flight.
    pub open: usize,
}

/// Starts `apply` with `concurrency` workers and kills it with SIGKILL once `ledger.csv` has
/// `rows` more lines than before (so that the kill lands while calls are in flight, however
/// slow the start), then `delay` later.
pub fn kill_9_after_rows(
    dir: &Path,
    server: &Server,
    concurrency: &str,
    rows: usize,
    delay: Duration,
) -> Killed {
    let lines = || {
        std::fs::read_to_string(dir.join("ledger.csv"))
            .map(|l| l.lines().count())
            .unwrap_or(0)
    };
    let base = lines();
    let mut child = spawn_apply(
        dir,
        server,
        &[
            "--concurrency",
            concurrency,
            "--request-timeout",
            "2s",
            "--reconcile-delay",
            "50ms",
        ],
        Stdio::null,
    );
    let started = std::time::Instant::now();
    while lines() < base + rows {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "apply wrote no {rows} rows in 30 s"
        );
        if child.try_wait().ok().flatten().is_some() {
            return Killed {
                running: false,
                open: open_calls(dir),
            };
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(delay);
    let running = child.try_wait().ok().flatten().is_none();
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    Killed {
        running,
        open: open_calls(dir),
    }
}

/// Keys of `ledger.csv` whose last row is a write-ahead row: a call whose outcome was
/// never recorded.
pub fn open_calls(dir: &Path) -> usize {
    ledger_states(dir)
        .values()
        .filter(|e| {
            matches!(
                e.as_str(),
                "submitting" | "renewing" | "reissuing" | "replacing"
            )
        })
        .count()
}

/// Waits until `ledger.csv` has `n` placed rows; fails the test after 30 s, so that a
/// test never goes on as if orders were flowing when none were placed.
pub fn wait_for_placed(dir: &Path, n: usize) {
    wait_for_rows(dir, ",placed,", n);
}

/// Waits until `ledger.csv` has `n` lines containing `needle`; fails the test after 30 s.
pub fn wait_for_rows(dir: &Path, needle: &str, n: usize) {
    let ledger = dir.join("ledger.csv");
    let count = || {
        std::fs::read_to_string(&ledger)
            .map(|l| l.matches(needle).count())
            .unwrap_or(0)
    };
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if count() >= n {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!(
        "timed out after 30 s waiting for {n} `{needle}` rows in {}: it has {}",
        ledger.display(),
        count()
    );
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The ledger's rows as (event, key, code) and every key's last event.
pub fn ledger_states(dir: &Path) -> std::collections::HashMap<String, String> {
    let contents =
        nicsrs_batch::ledger::read(&dir.join("ledger.csv"), nicsrs_batch::ledger::Api::Sandbox)
            .expect("ledger");
    contents
        .states()
        .into_iter()
        .map(|(k, s)| (k.to_owned(), s.last.event.as_str().to_owned()))
        .collect()
}
