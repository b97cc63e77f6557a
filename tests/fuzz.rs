//! A fuzz harness on stable Rust for the three readers of untrusted input: the manifest
//! reader (YAML, schema, rules, references), the ledger reader, and the API reply readers.
//! Seeds are real inputs (the examples, a ledger, the contract fixtures); each case is a
//! seed mutated by a deterministic generator (byte flips, insertions of the characters and
//! tokens each format gives meaning to, splices, repeats, truncations). No case may panic,
//! take more than a few seconds, or produce a diagnostic longer than a fixed bound.
//!
//! `cargo test --test fuzz` runs a short round (300 cases per reader). For a long run:
//! `FUZZ_CASES=100000 FUZZ_SEED=7 cargo test --release --test fuzz`.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use nicsrs_batch::catalog::Catalog;
use nicsrs_batch::diagnostic::TextRenderer;
use nicsrs_batch::ledger::{self, Api};
use nicsrs_batch::nicsrs::wire::{self, Reply};
use nicsrs_batch::validate::{Options, validate};

mod common;

use common::{Dice as Rng, root, scratch};

/// Longest a single case may take before it counts as a hang.
const CASE_LIMIT: Duration = Duration::from_secs(20);
/// Longest one rendered diagnostic may be, whatever the input.
const MAX_DIAGNOSTIC_BYTES: usize = 4096;

fn cases() -> usize {
    std::env::var("FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn seed() -> u64 {
    std::env::var("FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed)
}

/// `seed` mutated 1–8 times with bytes and tokens from `dictionary`.
fn mutate(rng: &mut Rng, seed: &[u8], dictionary: &[&[u8]]) -> Vec<u8> {
    let mut data = seed.to_vec();
    for _ in 0..=rng.below(8) {
        let at = rng.below(data.len() + 1);
        match rng.below(8) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 => {
                let token = dictionary[rng.below(dictionary.len())];
                data.splice(at..at, token.iter().copied());
            }
            2 if !data.is_empty() => {
                let end = (at + rng.below(64)).min(data.len());
                data.drain(at..end);
            }
            3 if !data.is_empty() => {
                // Repeat a chunk, up to a few hundred times.
                let start = rng.below(data.len());
                let end = (start + 1 + rng.below(80)).min(data.len());
                let chunk = data[start..end].to_vec();
                for _ in 0..rng.below(300) {
                    data.splice(at..at, chunk.iter().copied());
                }
            }
            4 => data.truncate(at),
            5 => {
                let byte = [0u8, b'\n', b'\r', b'"', 0xff, 0xc3, b'\\', b' '][rng.below(8)];
                data.insert(at, byte);
            }
            6 if !data.is_empty() => {
                // Splice another part of the input in.
                let start = rng.below(data.len());
                let end = (start + rng.below(200)).min(data.len());
                let part = data[start..end].to_vec();
                let to = rng.below(data.len() + 1);
                data.splice(to..to, part);
            }
            _ => {
                let token = dictionary[rng.below(dictionary.len())];
                let end = (at + token.len()).min(data.len());
                data.splice(at..end, token.iter().copied());
            }
        }
    }
    data
}

/// Runs `f` on its own thread: a panic or a run past [`CASE_LIMIT`] fails the test, with
/// the input saved to `keep` to reproduce it.
fn guarded(keep: &Path, input: &[u8], f: impl FnOnce() + Send + 'static) {
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        f();
        let _ = tx.send(());
    });
    match rx.recv_timeout(CASE_LIMIT) {
        Ok(()) => {
            let _ = handle.join();
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::fs::write(keep, input).expect("keep the case");
            panic!("panicked on the input saved in {}", keep.display());
        }
        Err(mpsc::RecvTimeoutError::Timeout) => {
            std::fs::write(keep, input).expect("keep the case");
            panic!(
                "took more than {CASE_LIMIT:?} on the input saved in {}",
                keep.display()
            );
        }
    }
}

#[test]
fn the_manifest_reader_survives_mutated_manifests() {
    let dir = scratch("fuzz-manifests");
    std::fs::create_dir_all(dir.join("csr")).expect("dir");
    for csr in ["shop-www.csr", "shop-api.csr", "cdn-wildcard.csr"] {
        std::fs::copy(
            root().join("examples/csr").join(csr),
            dir.join("csr").join(csr),
        )
        .expect("csr");
    }
    let seeds: Vec<Vec<u8>> = [
        "quickstart.yaml",
        "ov.yaml",
        "ev.yaml",
        "with-csr-files.yaml",
    ]
    .iter()
    .map(|f| std::fs::read(root().join("examples").join(f)).expect("example"))
    .collect();
    let dictionary: &[&[u8]] = &[
        b": ",
        b"- ",
        b"\n  ",
        b"{",
        b"}",
        b"[",
        b"]",
        b"&a ",
        b"*a",
        b"<<: *a\n",
        b"!!binary ",
        b"'",
        b"\"",
        b"#",
        b"|\n",
        b">-\n",
        b"---\n",
        b"...\n",
        b"\t",
        b"~",
        b"null",
        b"1e999",
        b"-0",
        b"0x10",
        b"{ file: /dev/zero }",
        b"{ env: HOME }",
        b"{ file: csr/shop-www.csr }",
        b"-----BEGIN CERTIFICATE REQUEST-----\n",
        b"-----BEGIN PRIVATE KEY-----\n",
        b"\xe2\x80\xae",
        b"\x1b[2J",
        b"key: ",
        b"orders:\n",
        b"defaults:\n",
        b"renewalOf: ",
        b"renewBefore: ",
        b"productCode: ",
        b"domainInfo:\n",
        b"*.",
        b"xn--",
    ];
    let options = Options {
        catalog: Catalog::builtin(),
        allow_inline_secrets: false,
    };
    let mut rng = Rng(seed());
    for case in 0..cases() {
        let input = mutate(&mut rng, &seeds[case % seeds.len()], dictionary);
        let path = dir.join("case.yaml");
        std::fs::write(&path, &input).expect("case");
        let options = options.clone();
        guarded(&dir.join("failing-case.yaml"), &input, move || {
            if let Ok(outcome) = validate(std::slice::from_ref(&path), &options) {
                let renderer = TextRenderer::new(&outcome.sources, false);
                for d in &outcome.diagnostics {
                    let shown = renderer.render(d);
                    assert!(
                        shown.len() <= MAX_DIAGNOSTIC_BYTES,
                        "a diagnostic of {} bytes:\n{shown}",
                        shown.len()
                    );
                }
            }
        });
    }
}

#[test]
fn the_ledger_reader_survives_mutated_ledgers() {
    let dir = scratch("fuzz-ledgers");
    let header = nicsrs_batch::csv::line(ledger::COLUMNS.iter().copied());
    let mut sample = header.clone();
    for (i, event) in [
        "submitting",
        "placed",
        "status",
        "renewing",
        "failed",
        "renewed",
    ]
    .iter()
    .enumerate()
    {
        sample.push_str(&format!(
            "2026-01-0{}T00:00:00Z,sandbox,{event},site-1,t-site-1{},SBX{i},comodo-positivessl,1,www.a.example,{},1,1,\"a, \"\"quoted\"\" message\",orders.yaml,{},,,,csr=0badc0de\r\n",
            i + 1,
            if i >= 3 { "-r1" } else { "" },
            "ab".repeat(32),
            if *event == "status" { "COMPLETE" } else { "" },
        ));
    }
    let dictionary: &[&[u8]] = &[
        b",",
        b"\"",
        b"\r\n",
        b"\n",
        b"''",
        b"=cmd|' /C calc'!A0",
        b"placed",
        b"submitting",
        b"failed",
        b"status",
        b"live",
        b"sandbox",
        b"\xef\xbb\xbf",
        b"\xff\xfe",
        b"-1",
        b"400",
        b"99999999999999999999",
        b"2026-13-40T25:61:61Z",
        b"time,api,event",
    ];
    let mut rng = Rng(seed() ^ 0x1ed6e5);
    for _ in 0..cases() {
        let input = mutate(&mut rng, sample.as_bytes(), dictionary);
        let path = dir.join("ledger.csv");
        std::fs::write(&path, &input).expect("case");
        guarded(&dir.join("failing-ledger.csv"), &input, move || {
            match ledger::read(&path, Api::Sandbox) {
                Ok(contents) => {
                    // Every state can be asked for what a plan asks of it.
                    for s in contents.states().values() {
                        let _ = (s.open_call(), s.holds_no_order(), s.disordered);
                    }
                }
                Err(e) => {
                    let text = e.to_string();
                    assert!(text.len() < 16 * 1024, "an error of {} bytes", text.len());
                }
            }
        });
    }
}

#[test]
fn the_reply_readers_survive_mutated_replies() {
    let dir = scratch("fuzz-replies");
    let fixtures = root().join("tests/fixtures/wire");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .flatten()
        .map(|e| std::fs::read(e.path()).expect("fixture"))
        .collect();
    seeds.sort();
    let dictionary: &[&[u8]] = &[
        b"{",
        b"}",
        b"[",
        b"]",
        b",",
        b":",
        b"\"",
        b"null",
        b"true",
        b"1e999",
        b"-0",
        b"\"certId\":",
        b"\"data\":",
        b"\"status\":",
        b"\"code\":",
        b"\"errors\":",
        b"\"applyParams\":\"{\\\"csr\\\":1}\"",
        b"\"dcvList\":[{}]",
        b"\\u202e",
        b"\\u0000",
        b"\"COMPLETE\"",
        b"\"2027-02-20 07:59:59\"",
        b"99999999999999999999999",
    ];
    let mut rng = Rng(seed() ^ 0xbeef);
    for case in 0..cases() {
        let input = mutate(&mut rng, &seeds[case % seeds.len()], dictionary);
        let kept = input.clone();
        guarded(&dir.join("failing-reply.json"), &kept, move || {
            let Ok(reply) = serde_json::from_slice::<Reply>(&input) else {
                return;
            };
            let message = reply.message();
            assert!(
                message.chars().count() < 500,
                "a message of {} characters",
                message.chars().count()
            );
            assert!(!message.chars().any(|c| c.is_control()), "{message:?}");
            let _ = wire::read::paid(&reply);
            let _ = wire::read::lookup(&reply);
            let _ = wire::read::cert_id_of(&reply);
            let _ = wire::read::collected(&reply);
            let _ = wire::read::product_list(&reply);
            if let Some(data) = &reply.data {
                let _ = wire::read::dcv_records(data);
            }
        });
    }
}
