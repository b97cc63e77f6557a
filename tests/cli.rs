//! The command line as Terraform's and cargo's users expect it: saved plans, plans that show
//! changes, GitHub annotations, completions, the manual, the catalogue's table, and the
//! README's examples against the real output.

use std::path::Path;
use std::process::Output;

use nicsrs_batch::sandbox::Config;

mod common;

use common::server::{Server, manifest, nicsrs, text};
use common::{root, scratch};

/// `nicsrs-batch ARGS` in `dir` against `server`'s endpoint (no --ledger: given by ARGS).
fn run(dir: &Path, args: &[&str]) -> Output {
    nicsrs(dir, "sandbox").args(args).output().expect("runs")
}

fn said(out: &Output) -> String {
    format!("{}{}", text(&out.stdout), text(&out.stderr))
}

/// `orders/a.yaml` with 3 orders.
fn orders(dir: &Path) -> std::path::PathBuf {
    let folder = dir.join("orders");
    std::fs::create_dir_all(&folder).expect("orders/");
    let path = manifest(&folder, 3);
    let a = folder.join("a.yaml");
    std::fs::rename(&path, &a).expect("rename");
    a
}

/// A sandbox on which the `n` orders of `dir/orders.yaml` were placed (ledger `ledger.csv`).
fn placed(dir: &Path, n: usize) -> Server {
    manifest(dir, n);
    let server = Server::start(Config::default());
    let on = ["--endpoint", server.url.as_str(), "--ledger", "ledger.csv"];
    let out = run(dir, &[&["apply", "orders.yaml", "--yes"][..], &on].concat());
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    server
}

#[test]
fn a_saved_plan_is_carried_out_exactly_and_refused_once_anything_changed() {
    let dir = scratch("cli-saved-plan");
    let a = orders(&dir);
    let good = std::fs::read_to_string(&a).expect("manifest");
    let server = Server::start(Config::default());
    let endpoint = server.url.as_str();
    let on = ["--endpoint", endpoint, "--ledger", "ledger.csv"];
    let plan = |dir: &Path| {
        let out = run(dir, &[&["plan", "orders/"][..], &on].concat());
        let out2 = run(
            dir,
            &[&["plan", "orders/"][..], &on, &["--out", "reviewed.plan"]].concat(),
        );
        assert_eq!(out2.status.code(), Some(0), "{}", said(&out2));
        assert_eq!(out.stdout, out2.stdout, "--out prints the same plan");
        assert!(text(&out2.stderr).contains("Saved the plan to reviewed.plan"));
    };
    let places = || server.stats()["requests"]["place"].as_u64().unwrap_or(0);

    // A manifest edited after the review: refused, nothing sent.
    plan(&dir);
    std::fs::write(&a, good.replace("years: 1", "years: 2")).expect("edit");
    let out = run(&dir, &[&["apply", "reviewed.plan"][..], &on].concat());
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert_eq!(
        text(&out.stderr).trim_end(),
        "error: refusing: `orders/a.yaml` changed since the plan reviewed.plan was made, so it is not what was reviewed; make and review the plan again (`nicsrs-batch plan … --out reviewed.plan`)"
    );
    assert_eq!(places(), 0);
    assert!(!dir.join("ledger.csv").exists(), "nothing written");

    // A manifest added to the folder: refused.
    std::fs::write(&a, &good).expect("restore");
    std::fs::write(dir.join("orders/b.yaml"), good.replace("site-", "more-")).expect("b");
    let out = run(&dir, &[&["apply", "reviewed.plan"][..], &on].concat());
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        text(&out.stderr).contains("`orders/b.yaml` was added since the plan"),
        "{}",
        said(&out)
    );
    std::fs::remove_file(dir.join("orders/b.yaml")).expect("rm b");

    // Where it applies must be where it was made for: another ledger is refused.
    let out = run(
        &dir,
        &[
            "apply",
            "reviewed.plan",
            "--endpoint",
            endpoint,
            "--ledger",
            "other.csv",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        text(&out.stderr).contains(&format!(
            "refusing: the plan reviewed.plan was made for the sandbox API at {endpoint}, ledger ledger.csv, the built-in catalogue, and this run would use the sandbox API at {endpoint}, ledger other.csv"
        )),
        "{}",
        said(&out)
    );
    assert!(!dir.join("other.csv").exists());

    // As reviewed: carried out without asking (stdin is not a terminal, no --yes).
    let out = run(&dir, &[&["apply", "reviewed.plan"][..], &on].concat());
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert_eq!(places(), 3);

    // Applied once: the ledger changed, so the same plan is refused.
    let out = run(&dir, &[&["apply", "reviewed.plan"][..], &on].concat());
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        text(&out.stderr).contains("the ledger `ledger.csv` changed since the plan"),
        "{}",
        said(&out)
    );
    assert_eq!(places(), 3);

    // `--out` never replaces a manifest, nor takes a manifest's name.
    for out in ["orders/a.yaml", "renewals.yml"] {
        let before = std::fs::read(dir.join("orders/a.yaml")).expect("manifest");
        let out = run(
            &dir,
            &[&["plan", "orders/", "--out", out][..], &on].concat(),
        );
        assert_eq!(out.status.code(), Some(1), "{}", said(&out));
        assert_eq!(
            std::fs::read(dir.join("orders/a.yaml")).expect("manifest"),
            before
        );
    }
    std::fs::write(dir.join("notes.txt"), "mine\n").expect("notes");
    let out = run(
        &dir,
        &[&["plan", "orders/", "--out", "notes.txt"][..], &on].concat(),
    );
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(text(&out.stderr).contains("the file exists and is not a saved plan"));
    assert_eq!(
        std::fs::read_to_string(dir.join("notes.txt")).expect("notes"),
        "mine\n"
    );

    // A plan file edited to name another file: refused, and not a line of it shown.
    plan(&dir);
    std::fs::write(dir.join("private.txt"), "SECRET-LINE: [unclosed\n").expect("file");
    let saved = std::fs::read_to_string(dir.join("reviewed.plan")).expect("plan");
    let edited = saved.replacen("\"orders/\"", "\"private.txt\"", 1);
    assert_ne!(edited, saved);
    std::fs::write(dir.join("reviewed.plan"), edited).expect("edit");
    let out = run(&dir, &[&["apply", "reviewed.plan"][..], &on].concat());
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(!said(&out).contains("SECRET-LINE"), "{}", said(&out));
    assert!(
        text(&out.stderr).contains("`private.txt` was added since the plan"),
        "{}",
        said(&out)
    );

    // A plan file edited to send the token elsewhere is refused before anything is read.
    plan(&dir);
    let saved = std::fs::read_to_string(dir.join("reviewed.plan")).expect("plan");
    let tampered = saved.replace(endpoint, "http://attacker.example");
    std::fs::write(dir.join("reviewed.plan"), tampered).expect("tamper");
    let out = run(&dir, &[&["apply", "reviewed.plan"][..], &on].concat());
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert_eq!(places(), 3);
}

#[test]
fn plans_count_unchanged_orders_and_annotate_the_lines_for_github() {
    let dir = scratch("cli-plan-changes");
    let folder = dir.join("orders");
    std::fs::create_dir_all(&folder).expect("orders/");
    manifest(&folder, 40);
    let server = Server::start(Config::default());
    let on = ["--endpoint", server.url.as_str(), "--ledger", "ledger.csv"];
    let out = run(
        &dir,
        &[&["apply", "orders/", "--yes", "--trust-ledger"][..], &on].concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));

    // Nothing changed: one line says so, instead of 40.
    let out = run(&dir, &[&["plan", "orders/"][..], &on].concat());
    let plan = text(&out.stdout);
    assert_eq!(
        plan,
        "  (40 orders with nothing to do not listed; --show-unchanged lists them)\nPlan: 0 to place, 0 to renew, 0 to reissue, 0 to replace, 0 to retry, 0 to reconcile, 40 with nothing to do, 0 blocked.\n"
    );
    let out = run(
        &dir,
        &[&["plan", "orders/", "--show-unchanged"][..], &on].concat(),
    );
    assert_eq!(text(&out.stdout).matches("  nothing   site-").count(), 40);

    // One order edited: its work on its line, as a pull request shows it.
    let path = folder.join("orders.yaml");
    let yaml = std::fs::read_to_string(&path).expect("manifest");
    let more = yaml.clone()
        + "  - key: extra\n    params:\n      domainInfo:\n        - { domainName: www.extra.example, dcvMethod: HTTP_CSR_HASH }\n";
    std::fs::write(&path, more).expect("edit");
    let out = run(
        &dir,
        &[&["plan", "orders/", "--format", "github"][..], &on].concat(),
    );
    let github = text(&out.stdout);
    let line = yaml.lines().count() + 1;
    assert!(
        github.starts_with(&format!(
            "::notice file=orders/orders.yaml,line={line},col=10,title=nicsrs-batch%3A place::`extra`: place (new order, list price 6.00)\n"
        )),
        "{github}"
    );
    assert!(
        github.contains("  place     extra "),
        "then the text: {github}"
    );

    // Errors on their lines; nothing a manifest holds can start a command of its own.
    std::fs::write(
        &path,
        yaml.replace(
            "key: site-0001",
            "key: \"bad\\n::set-output name=x::y\"\n    productCode: nope",
        ),
    )
    .expect("edit");
    let out = run(&dir, &["validate", "orders/", "--format", "github"]);
    assert_eq!(out.status.code(), Some(2), "{}", said(&out));
    let stdout = text(&out.stdout);
    assert!(!stdout.is_empty());
    for l in stdout.lines() {
        assert!(
            l.starts_with("::error file=orders/orders.yaml,line=") || l.starts_with("::warning "),
            "{l}"
        );
    }
    assert!(
        stdout.contains("`bad\\n::set-output name=x::y`"),
        "escaped, on its line: {stdout}"
    );
    assert!(text(&out.stderr).contains("error["), "the text too");
}

#[test]
fn completions_the_manual_and_the_catalogue_table() {
    let dir = scratch("cli-edges");
    let out = run(&dir, &["completions", "bash"]);
    assert_eq!(out.status.code(), Some(0));
    let script = dir.join("nicsrs-batch.bash");
    std::fs::write(&script, &out.stdout).expect("script");
    let bash = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash");
    assert!(bash.status.success(), "{}", text(&bash.stderr));
    for word in ["plan", "apply", "--show-unchanged", "--out", "completions"] {
        assert!(text(&out.stdout).contains(word), "{word}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run(&dir, &["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}");
        assert!(text(&out.stdout).contains("nicsrs-batch"), "{shell}");
    }

    let out = run(&dir, &["man"]);
    assert!(text(&out.stdout).contains(".TH nicsrs-batch 1"));
    // A link planted in the folder is replaced, never written through.
    std::fs::create_dir_all(dir.join("man")).expect("man/");
    std::fs::write(dir.join("victim"), "victim\n").expect("victim");
    std::os::unix::fs::symlink("../victim", dir.join("man/nicsrs-batch.1")).expect("link");
    let out = run(&dir, &["man", "--out-dir", "man"]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let page = std::fs::read_to_string(dir.join("man/nicsrs-batch-plan.1")).expect("plan's page");
    assert!(page.contains("show\\-unchanged"), "{page}");
    assert_eq!(
        std::fs::read_to_string(dir.join("victim")).expect("victim"),
        "victim\n"
    );
    assert!(
        text(&out.stdout).starts_with("wrote 15 pages into man: "),
        "{}",
        said(&out)
    );

    let out = run(&dir, &["catalog"]);
    let table = text(&out.stdout);
    let header = table.lines().next().unwrap_or_default();
    assert!(header.starts_with("code "), "{header}");
    assert!(table.contains("\ncomodo-positivessl "), "{table}");
    assert!(table.ends_with("`--format json` gives the catalogue itself.\n"));
    let out = run(&dir, &["catalog", "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let builtin: serde_json::Value =
        serde_json::from_str(nicsrs_batch::catalog::BUILTIN_JSON).expect("built in");
    assert_eq!(json, builtin);
}

#[test]
fn refresh_out_dir_says_where_each_keys_files_went() {
    let dir = scratch("cli-refresh-files");
    let server = placed(&dir, 2);
    let on = ["--endpoint", server.url.as_str(), "--ledger", "ledger.csv"];
    let out = run(
        &dir,
        &[&["refresh", "--out-dir", "certs"][..], &on].concat(),
    );
    let stdout = text(&out.stdout);
    for key in ["site-0000", "site-0001"] {
        assert!(
            stdout.contains(&format!(
                "wrote certs/{key}/: cert.pem, chain.pem, fullchain.pem, privkey.pem\n"
            )),
            "{stdout}"
        );
        let full = std::fs::read_to_string(dir.join("certs").join(key).join("fullchain.pem"))
            .expect("fullchain");
        assert_eq!(full.matches("BEGIN CERTIFICATE").count(), 2, "leaf then CA");
    }
}

/// README blocks marked `<!-- output of: COMMAND -->` (all of the output) or
/// `<!-- part of the output of: COMMAND -->` are what COMMAND prints today, run from the
/// repository's root, byte for byte.
#[test]
fn the_readmes_examples_are_the_real_output() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let mut checked = 0;
    let mut rest = readme.as_str();
    while let Some(at) = rest.find("<!-- ") {
        let after = &rest[at + 5..];
        let end = after.find(" -->").expect("a comment ends");
        let comment = &after[..end];
        rest = &after[end..];
        let (whole, command) = if let Some(c) = comment.strip_prefix("output of: ") {
            (true, c)
        } else if let Some(c) = comment.strip_prefix("part of the output of: ") {
            (false, c)
        } else {
            continue;
        };
        let body_start = rest.find("```text\n").expect("a text block follows") + 8;
        let body_end = body_start + rest[body_start..].find("```\n").expect("block end");
        let block = &rest[body_start..body_end];
        let args: Vec<&str> = command
            .trim_matches('`')
            .split_whitespace()
            .skip(1) // nicsrs-batch
            .collect();
        let out = nicsrs(&root(), "sandbox")
            .args(&args)
            .output()
            .expect("runs");
        let printed = said(&out);
        if whole {
            assert_eq!(printed, block, "README block of `{command}`");
        } else {
            assert!(
                printed.contains(block),
                "README block of `{command}` is not in its output:\n{block}\n---\n{printed}"
            );
        }
        checked += 1;
    }
    assert!(checked >= 3, "{checked} README blocks checked");
}

#[test]
fn status_reads_a_sandbox_ledger_without_sandbox_and_the_others_name_the_right_fix() {
    let dir = scratch("cli-status-other-api");
    let _server = placed(&dir, 2);
    // Offline, without --sandbox: shown as it is, with a note.
    let out = run(&dir, &["status", "orders.yaml", "--ledger", "ledger.csv"]);
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    assert!(text(&out.stdout).contains("site-0001"), "{}", said(&out));
    assert_eq!(
        text(&out.stderr),
        "note: ledger ledger.csv records sandbox orders: shown as they are (no call is made; `apply` and `refresh` on it need --sandbox or a sandbox's --endpoint)\n"
    );
    // A command that would call the live API with it names the fix.
    let out = run(&dir, &["plan", "orders.yaml", "--ledger", "ledger.csv"]);
    assert_eq!(out.status.code(), Some(1), "{}", said(&out));
    assert!(
        text(&out.stderr).contains("records sandbox orders; this run uses the live API, and the two never share a ledger: add --sandbox (the embedded sandbox) or --endpoint with your sandbox's URL to use it"),
        "{}",
        said(&out)
    );
}

/// `text` with every date (`2026-12-05`) as `YYYY-MM-DD` and every day count in parentheses
/// (`(350 days)`) as `(N days)`: they move with the day and the hour the test runs (NicSRS's
/// dates are in UTC+8); everything else must be as the README shows it.
fn dates_masked(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_date = |i: usize| {
        let shape = "dddd-dd-dd";
        i + shape.len() <= chars.len()
            && shape.chars().enumerate().all(|(k, s)| match s {
                'd' => chars[i + k].is_ascii_digit(),
                _ => chars[i + k] == s,
            })
    };
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let digits = chars[i..]
            .iter()
            .skip(1)
            .take_while(|c| c.is_ascii_digit())
            .count();
        let days: String = chars[i..].iter().skip(1 + digits).take(6).collect();
        if is_date(i) {
            out.push_str("YYYY-MM-DD");
            i += 10;
        } else if chars[i] == '(' && digits > 0 && days.starts_with(" day") {
            out.push_str("(N");
            i += 1 + digits;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// The README's renewal wave (`examples/with-csr-files.yaml` with `renewBefore: 400d` on
/// `www`, `33%` on `api`, on a sandbox issuing 20-day certificates to orders it counts as
/// placed 15 days ago) is what `plan` prints, dates aside.
#[test]
fn the_readmes_renewal_wave_is_the_real_plan() {
    let dir = scratch("cli-readme-wave");
    std::fs::create_dir_all(dir.join("csr")).expect("csr/");
    for entry in std::fs::read_dir(root().join("examples/csr")).expect("examples/csr") {
        let entry = entry.expect("entry");
        std::fs::copy(entry.path(), dir.join("csr").join(entry.file_name())).expect("copy");
    }
    let yaml = std::fs::read_to_string(root().join("examples/with-csr-files.yaml"))
        .expect("example")
        .replace("  - key: www\n", "  - key: www\n    renewBefore: 400d\n")
        .replace("  - key: api\n", "  - key: api\n    renewBefore: 33%\n");
    std::fs::write(dir.join("orders.yaml"), yaml).expect("manifest");
    let server = Server::start(Config {
        placed_age: std::time::Duration::from_secs(15 * 86_400),
        validity_days: 20,
        ..Config::default()
    });
    let on = ["--endpoint", server.url.as_str(), "--ledger", "ledger.csv"];
    let out = run(
        &dir,
        &[
            &["apply", "orders.yaml", "--yes", "--concurrency", "1"][..],
            &on,
        ]
        .concat(),
    );
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let out = run(&dir, &[&["refresh"][..], &on].concat());
    assert_eq!(out.status.code(), Some(0), "{}", said(&out));
    let out = run(&dir, &[&["plan", "orders.yaml"][..], &on].concat());
    let plan = text(&out.stdout);

    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let at = readme
        .find("What a wave looks like in `plan`")
        .expect("the wave's paragraph");
    let start = at + readme[at..].find("```text\n").expect("its block") + 8;
    let end = start + readme[start..].find("```\n").expect("block end");
    assert_eq!(
        dates_masked(&readme[start..end]),
        dates_masked(&plan),
        "the README's wave (dates aside) is not what plan prints:\n{plan}"
    );
}
