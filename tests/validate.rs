//! `nicsrs-batch validate` and `expand`, run as a user runs them.

mod common;

use common::{documented_codes, expect_file, root, run, scratch};

/// Runs `validate` on every `*.yaml` of `tests/fixtures/<folder>` and compares its stderr
/// with the `.stderr` beside it: the failures, one per fixture.
fn pinned_fixtures(folder: &str, exit: i32) -> Vec<String> {
    let dir = root().join("tests/fixtures").join(folder);
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no fixtures in {}", dir.display());
    let mut failures = Vec::new();
    for name in &names {
        let r = run(&dir, &["validate", name]);
        if r.code != exit {
            failures.push(format!(
                "{name}: exit {} (want {exit})\n{}",
                r.code, r.stderr
            ));
        }
        if r.stderr.contains("panicked") {
            failures.push(format!("{name}: panicked\n{}", r.stderr));
        }
        let expected = dir.join(name.replace(".yaml", ".stderr"));
        if let Err(e) = expect_file(&expected, &r.stderr) {
            failures.push(e);
        }
    }
    failures
}

/// Every failing fixture gives exactly its pinned diagnostics and exit code 2.
#[test]
fn each_invalid_fixture_gives_its_pinned_diagnostics() {
    let failures = pinned_fixtures("invalid", 2);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A file with warnings only is valid (exit 0), and its warnings are pinned as errors are.
#[test]
fn each_warnings_only_fixture_is_valid_and_gives_its_pinned_warnings() {
    let failures = pinned_fixtures("warnings", 0);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// A file over the 32 MiB limit is refused before it is read; too large to commit, it is
/// made here (sparse) and its diagnostic pinned in `tests/fixtures/generated/`.
#[test]
fn a_file_over_the_size_limit_gives_its_pinned_diagnostic() {
    let dir = scratch("validate-too-large");
    let f = std::fs::File::create(dir.join("file-too-large.yaml")).expect("file");
    f.set_len(33 * 1024 * 1024).expect("sparse file");
    let r = run(&dir, &["validate", "file-too-large.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let expected = root().join("tests/fixtures/generated/file-too-large.stderr");
    expect_file(&expected, &r.stderr).unwrap_or_else(|e| panic!("{e}"));
}

/// Every code the tool can give (the `DiagnosticCode` enum) is the README's table, exactly;
/// every schema `x-code` is one of them; and each has a fixture that gives it.
#[test]
fn every_diagnostic_code_is_documented_and_has_a_fixture() {
    use nicsrs_batch::diagnostic::DiagnosticCode;
    let documented = documented_codes();
    let codes: std::collections::BTreeSet<String> = DiagnosticCode::ALL
        .iter()
        .map(|c| c.name().to_owned())
        .collect();
    let undocumented: Vec<&String> = codes.difference(&documented).collect();
    let unknown: Vec<&String> = documented.difference(&codes).collect();
    assert!(
        undocumented.is_empty() && unknown.is_empty(),
        "codes missing from the README's table: {undocumented:?}; in the table but not codes: {unknown:?}"
    );
    for schema in ["order-manifest.schema.json", "order.schema.json"] {
        let text = std::fs::read_to_string(root().join("schemas").join(schema)).expect("schema");
        for part in text.split("\"x-code\"").skip(1) {
            let code = part.split('"').nth(1).unwrap_or_default();
            assert!(
                DiagnosticCode::from_name(code).is_some(),
                "{schema}: x-code `{code}` is not a diagnostic code"
            );
        }
    }
    // What the fixtures give.
    let mut pinned = std::collections::BTreeMap::<String, String>::new();
    for folder in ["invalid", "warnings", "generated"] {
        let dir = root().join("tests/fixtures").join(folder);
        for entry in std::fs::read_dir(&dir).expect("fixtures").flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.ends_with(".stderr") {
                continue;
            }
            let text = std::fs::read_to_string(entry.path()).expect("fixture");
            for line in text.lines() {
                let code = line
                    .strip_prefix("error[")
                    .or_else(|| line.strip_prefix("warning["))
                    .and_then(|l| l.split(']').next());
                if let Some(code) = code {
                    pinned.insert(code.to_owned(), format!("{folder}/{name}"));
                }
            }
        }
    }
    let without: Vec<&String> = codes.iter().filter(|c| !pinned.contains_key(*c)).collect();
    assert!(without.is_empty(), "codes without a fixture: {without:?}");
}

/// Every problem of every file comes out of one run, with codes a script can count.
#[test]
fn json_report_lists_every_problem_with_its_position() {
    let dir = root().join("tests/fixtures/invalid");
    let r = run(
        &dir,
        &[
            "validate",
            "--format",
            "json",
            "invalid-values-in-defaults.yaml",
            "domain-validation.yaml",
        ],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    assert_eq!(doc["valid"], false);
    assert_eq!(doc["orders"], 4);
    let diags = doc["diagnostics"].as_array().expect("diagnostics");
    let server = diags
        .iter()
        .find(|d| d["code"] == "invalid-value" && d["pointer"] == "/defaults/params/server")
        .expect("server diagnostic");
    assert_eq!(server["file"], "invalid-values-in-defaults.yaml");
    assert_eq!(
        (server["line"].as_u64(), server["column"].as_u64()),
        (Some(6), Some(13))
    );
    assert_eq!(server["severity"], "error");
    let files: std::collections::BTreeSet<&str> =
        diags.iter().filter_map(|d| d["file"].as_str()).collect();
    assert_eq!(files.len(), 2, "both files are reported in one run");
    for key in [
        "severity", "code", "message", "file", "line", "column", "pointer", "order",
    ] {
        assert!(
            diags.iter().all(|d| d.get(key).is_some()),
            "every diagnostic has `{key}`"
        );
    }
    let wildcard = diags
        .iter()
        .find(|d| d["code"] == "wildcard-file-validation")
        .expect("wildcard");
    assert_eq!(wildcard["order"], "domain-control");
    assert_eq!(
        wildcard["pointer"],
        "/orders/0/params/domainInfo/0/dcvMethod"
    );
}

/// The examples never rot: every one validates, and a whole directory is one run.
#[test]
fn every_example_validates() {
    let examples = root().join("examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&examples).expect("examples") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path
                .file_name()
                .and_then(|n| n.to_str())
                .expect("name")
                .to_owned();
            let r = run(&examples, &["validate", &name]);
            assert_eq!(r.code, 0, "{name}:\n{}", r.stderr);
            count += 1;
        }
    }
    assert!(count >= 5);
    let r = run(&root(), &["validate", "examples"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .ends_with(&format!("valid: 62 orders in {count} files\n")),
        "{}",
        r.stderr
    );
}

/// `expand` prints the exact request: derived refId, merged defaults, both spellings of
/// `organization`, resolved CSR, and never a private key unless asked.
#[test]
fn expand_prints_the_wire_form() {
    let r = run(&root(), &["expand", "examples/with-csr-files.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<serde_json::Value> = r
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 3);
    let www = &lines[0];
    assert_eq!(www["key"], "www");
    assert_eq!(www["endpoint"], "place");
    let form = &www["form"];
    assert_eq!(form["productCode"], "sectigo-multi-domain");
    assert_eq!(form["years"], 1);
    assert_eq!(form["refId"], "shop-www");
    let admin = &form["params"]["Administrator"];
    assert_eq!(admin["organization"], "Shop Example Ltd");
    assert_eq!(admin["organation"], "Shop Example Ltd");
    assert!(
        form["params"]["csr"]
            .as_str()
            .is_some_and(|c| c.starts_with("-----BEGIN CERTIFICATE REQUEST-----"))
    );
    assert!(form.get("api_token").is_none());

    let dir = scratch("expand-keys");
    let key = rcgen::KeyPair::generate().expect("key").serialize_pem();
    std::fs::write(dir.join("key.pem"), &key).expect("key");
    let secret = key.lines().nth(1).expect("a line of the key");
    std::fs::write(
        dir.join("m.yaml"),
        std::fs::read_to_string(root().join("examples/dv-multi-domain.yaml"))
            .expect("example")
            .replace(
                "      server: nginx\n",
                "      server: nginx\n      privateKey: { file: key.pem }\n",
            ),
    )
    .expect("manifest");
    let r = run(&dir, &["expand", "m.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\"privateKey\":\"<redacted>\"") && !r.stdout.contains(secret),
        "{}",
        r.stdout
    );
    let r = run(&dir, &["expand", "m.yaml", "--show-private-keys"]);
    assert!(r.stdout.contains(secret));
}

/// An invalid run expands nothing: no partial plan on stdout.
#[test]
fn expand_of_an_invalid_manifest_prints_no_orders() {
    let dir = root().join("tests/fixtures/invalid");
    let r = run(&dir, &["expand", "product-limits.yaml"]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("error[years-above-product-max]"));
}

/// A file named twice, directly and through its directory, is read once.
#[test]
fn a_file_named_twice_is_one_file() {
    let r = run(
        &root(),
        &[
            "validate",
            "examples",
            "examples/ev.yaml",
            "./examples/ev.yaml",
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr.ends_with("valid: 62 orders in 6 files\n"),
        "{}",
        r.stderr
    );
}

/// Orders from several files form one run: keys must be unique across them.
#[test]
fn keys_are_unique_across_files() {
    let dir = scratch("cross-file");
    let example =
        std::fs::read_to_string(root().join("examples/dv-multi-domain.yaml")).expect("example");
    std::fs::write(dir.join("a.yaml"), &example).expect("a");
    std::fs::write(dir.join("b.yaml"), &example).expect("b");
    let r = run(&dir, &["validate", "."]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("error[duplicate-key]: key `marketing-sites` is used by more than one order"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("first used at ./a.yaml:6:10"),
        "{}",
        r.stderr
    );
}

/// Exit code 1 is for runs that cannot happen; clap's own usage errors included.
#[test]
fn could_not_run_exits_1() {
    let r = run(&root(), &["validate", "no/such/file.yaml"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .starts_with("error: cannot read no/such/file.yaml:"),
        "{}",
        r.stderr
    );
    let r = run(&root(), &["validate", "--no-such-flag", "examples"]);
    assert_eq!(r.code, 1);
    let r = run(
        &root(),
        &["validate", "examples", "--catalog", "Cargo.toml"],
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("is not a product list"), "{}", r.stderr);
}

/// `--allow-inline-secrets` lowers an inline key to a warning; a token stays an error.
#[test]
fn inline_secrets_flag_lowers_only_the_private_key() {
    let dir = root().join("tests/fixtures/invalid");
    let r = run(
        &dir,
        &["validate", "secrets.yaml", "--allow-inline-secrets"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("warning[inline-private-key]"));
    assert!(r.stderr.contains("error[token-in-manifest]"));
    assert!(
        !r.stderr.contains("0123456789abcdef"),
        "the token value is never echoed"
    );
}

/// Hostile files are refused with a diagnostic, never a panic or a hang.
#[test]
fn hostile_input_is_refused_cleanly() {
    let dir = scratch("hostile");
    let mut files: Vec<(&str, Vec<u8>)> = vec![
        (
            "latin1.yaml",
            b"version: 1\norders:\n  - key: caf\xe9\n".to_vec(),
        ),
        (
            "deep.yaml",
            format!(
                "version: 1\norders: {}{}\n",
                "[".repeat(100_000),
                "]".repeat(100_000)
            )
            .into_bytes(),
        ),
        (
            "block-deep.yaml",
            (0..2000)
                .map(|i| format!("{}-\n", " ".repeat(i * 2)))
                .collect::<String>()
                .into_bytes(),
        ),
        ("empty.yaml", Vec::new()),
        ("list.yaml", b"- 1\n- 2\n".to_vec()),
    ];
    let mut bomb = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        bomb.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(", ")
        ));
    }
    files.push(("bomb.yaml", bomb.into_bytes()));
    for (name, bytes) in &files {
        std::fs::write(dir.join(name), bytes).expect("write");
    }
    // 1 GiB, far above the 32 MiB limit, written sparsely so the test stays cheap.
    let big = std::fs::File::create(dir.join("huge.yaml")).expect("huge");
    big.set_len(1 << 30).expect("set_len");
    let r = run(&dir, &["validate", "."]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    for (code, file) in [
        ("not-utf8", "latin1.yaml"),
        ("yaml-syntax", "deep.yaml"),
        ("yaml-syntax", "block-deep.yaml"),
        ("yaml-syntax", "bomb.yaml"),
        ("yaml-syntax", "empty.yaml"),
        ("file-too-large", "huge.yaml"),
        ("wrong-type", "list.yaml"),
    ] {
        let found = r
            .stderr
            .split("\n\n")
            .any(|d| d.contains(&format!("error[{code}]")) && d.contains(&format!("./{file}")));
        assert!(found, "no {code} for {file} in:\n{}", r.stderr);
    }
}

/// `schema` prints the embedded schemas; they are what the repository holds.
#[test]
fn schema_command_prints_the_schemas() {
    for (which, file) in [
        ("manifest", "order-manifest.schema.json"),
        ("order", "order.schema.json"),
    ] {
        let r = run(&root(), &["schema", which]);
        assert_eq!(r.code, 0);
        assert_eq!(
            r.stdout,
            std::fs::read_to_string(root().join("schemas").join(file)).expect("schema")
        );
    }
    let r = run(&root(), &["catalog", "--format", "json"]);
    let products: serde_json::Value = serde_json::from_str(&r.stdout).expect("catalogue JSON");
    assert!(products.as_array().is_some_and(|p| p.len() > 25));
}

/// A large manifest is checked on several threads; the report is the same as one thread's:
/// every problem, in file order, and duplicates found across the whole file.
#[test]
fn a_large_manifest_reports_every_problem_in_order() {
    let dir = scratch("large");
    let mut s = String::from(
        "version: 1\ndefaults:\n  productCode: comodo-positivessl\n  years: 1\n  params:\n    server: nginx\n    Administrator: { job: Ops, firstName: Sam, lastName: Ortega, email: ops@hosting.example, mobile: '+1 415 555 0100', organization: Example Inc., address: 1 Main St, city: Austin, state: Texas, postCode: '78701', country: US }\norders:\n",
    );
    for i in 0..2000 {
        let key = if i == 1990 {
            "site-0007".to_owned()
        } else {
            format!("site-{i:04}")
        };
        let method = if i % 250 == 3 { "DNS" } else { "HTTP_CSR_HASH" };
        s.push_str(&format!("  - key: {key}\n    params:\n      domainInfo:\n        - {{ domainName: www.s{i}.example, dcvMethod: {method} }}\n"));
    }
    std::fs::write(dir.join("big.yaml"), s).expect("write");
    let r = run(&dir, &["validate", "--format", "json", "big.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let doc: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(doc["orders"], 2000);
    let diags = doc["diagnostics"].as_array().expect("diagnostics");
    let bad: Vec<&str> = diags
        .iter()
        .filter(|d| d["code"] == "invalid-value")
        .filter_map(|d| d["order"].as_str())
        .collect();
    let want: Vec<String> = (0..2000)
        .filter(|i| i % 250 == 3)
        .map(|i| format!("site-{i:04}"))
        .collect();
    assert_eq!(bad, want, "every bad order, in file order");
    let dup: Vec<&serde_json::Value> = diags
        .iter()
        .filter(|d| d["code"] == "duplicate-key")
        .collect();
    assert_eq!(dup.len(), 1);
    assert_eq!(dup[0]["pointer"], "/orders/1990/key", "{}", dup[0]);
    let lines: Vec<u64> = diags.iter().filter_map(|d| d["line"].as_u64()).collect();
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "sorted by position");
}

/// Orders are checked while their file is parsed, against the `defaults` and `refIdPrefix`
/// written before them. Written after the orders, they still apply: the same requests are
/// expanded, and a bad default is reported the same way, once.
#[test]
fn defaults_written_after_the_orders_still_apply() {
    let example = std::fs::read_to_string(root().join("examples/bulk-dv.yaml")).expect("example");
    let (frame, orders) = example.split_once("orders:\n").expect("an orders key");
    let dir = scratch("defaults-after-orders");
    std::fs::write(dir.join("before.yaml"), &example).expect("manifest");
    std::fs::write(dir.join("after.yaml"), format!("orders:\n{orders}{frame}")).expect("manifest");
    let before = run(&dir, &["expand", "before.yaml"]);
    let after = run(&dir, &["expand", "after.yaml"]);
    assert_eq!(before.code, 0, "{}", before.stderr);
    assert_eq!(after.code, 0, "{}", after.stderr);
    assert_eq!(after.stdout.lines().count(), 50);
    assert!(after.stdout.contains("\"refId\":\"hosting-customer-001\""));
    assert_eq!(after.stdout, before.stdout);
    // `defaults` before the orders (so they are checked as they are read) and the prefix
    // after them: checked again once the file is whole.
    let prefix_line = "refIdPrefix: hosting-\n";
    let late_prefix = format!(
        "{}orders:\n{orders}{prefix_line}",
        frame.replace(prefix_line, "")
    );
    std::fs::write(dir.join("late-prefix.yaml"), late_prefix).expect("manifest");
    let late = run(&dir, &["expand", "late-prefix.yaml"]);
    assert_eq!(late.code, 0, "{}", late.stderr);
    assert_eq!(late.stdout, before.stdout);
    // The same with one order, which the prefix after it reaches before any check does:
    // the order is read again, never lost.
    let first = orders
        .split("  - key: customer-002")
        .next()
        .expect("a first order");
    let one = format!(
        "{}orders:\n{first}{prefix_line}",
        frame.replace(prefix_line, "")
    );
    std::fs::write(dir.join("one.yaml"), one).expect("manifest");
    for _ in 0..5 {
        let r = run(&dir, &["expand", "one.yaml"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert_eq!(r.stdout.lines().count(), 1, "{}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.contains("\"refId\":\"hosting-customer-001\""),
            "{}",
            r.stdout
        );
    }

    // A wrong default, written after the orders, is one error pointing at it.
    let bad = format!(
        "orders:\n{orders}{}",
        frame.replace("server: nginx", "server: nginxx")
    );
    std::fs::write(dir.join("bad.yaml"), bad).expect("manifest");
    let r = run(&dir, &["validate", "bad.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.matches("error[").count(), 1, "{}", r.stderr);
    for shown in [
        "error[invalid-value]: `nginxx` is not a valid `server`",
        "note: the value is inherited from `defaults`",
        "note: the same problem is in 49 more orders",
    ] {
        assert!(r.stderr.contains(shown), "{shown}\n{}", r.stderr);
    }
}

/// A number is sent as the text written: a phone number keeps its `+`. Reached through an
/// alias or a merge key, that text is at the anchor, never the alias (`*admin`).
#[test]
fn numbers_reached_through_an_alias_are_sent_as_written_at_the_anchor() {
    let dir = scratch("alias-numbers");
    std::fs::write(
        dir.join("m.yaml"),
        "version: 1
defaults:
  productCode: sectigo-ov
  years: 1
  params:
    server: nginx
    Administrator: &admin
      job: Web Operations
      firstName: Mia
      lastName: Novak
      email: ops@agency.example
      mobile: +386123
      organization: Agency Example d.o.o.
      address: Slovenska cesta 1
      city: Ljubljana
      state: Ljubljana
      postCode: &pc 1000
      country: SI
orders:
  - key: b
    params:
      tech:
        <<: *admin
        firstName: Tech
      finance: *admin
      organizationInfo:
        organizationName: Agency Example d.o.o.
        organizationAddress: Slovenska cesta 1
        organizationCity: Ljubljana
        organizationCountry: SI
        organizationPostCode: *pc
        organizationMobile: +386123
      domainInfo:
        - { domainName: www.b.example, dcvMethod: EMAIL, dcvEmail: admin@b.example }
",
    )
    .expect("manifest");
    let r = run(&dir, &["expand", "m.yaml"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one JSON line");
    let params = &line["form"]["params"];
    for contact in ["Administrator", "tech", "finance"] {
        assert_eq!(params[contact]["mobile"], "+386123", "{contact}: {params}");
        assert_eq!(params[contact]["postCode"], "1000", "{contact}: {params}");
    }
    assert_eq!(params["organizationInfo"]["organizationPostCode"], "1000");
    assert!(!r.stdout.contains('*'), "an alias was sent: {}", r.stdout);
}

/// `orders` written twice is one error, the duplicate key: the second list is not read as
/// orders, and nothing points into the first one for it.
#[test]
fn orders_written_twice_is_one_error() {
    let dir = scratch("orders-twice");
    let example = std::fs::read_to_string(root().join("examples/bulk-dv.yaml")).expect("example");
    std::fs::write(
        dir.join("m.yaml"),
        format!("{example}orders:\n  - key: b\n    bogus: 1\n    years: 9\n"),
    )
    .expect("manifest");
    let r = run(&dir, &["validate", "m.yaml"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.matches("error[").count(), 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("error[duplicate-yaml-key]: `orders` is written twice"),
        "{}",
        r.stderr
    );
}

/// Every test the README's test table names (`file::test`) exists: the table is what the
/// README promises is proven, and a renamed test would leave a promise without its proof.
#[test]
fn every_test_the_readme_names_exists() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let mut named = 0;
    for line in readme.lines().filter(|l| l.starts_with("| ")) {
        for cell in line.split('`').skip(1).step_by(2) {
            let Some((file, test)) = cell.split_once("::") else {
                continue;
            };
            let path = root().join("tests").join(format!("{file}.rs"));
            if !path.exists()
                || !test
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                continue;
            }
            let source = std::fs::read_to_string(&path).expect("test file");
            assert!(
                source.contains(&format!("fn {test}(")),
                "the README names `{file}::{test}`, which tests/{file}.rs does not have"
            );
            named += 1;
        }
    }
    assert!(named > 40, "the README's test table names {named} tests");
}
