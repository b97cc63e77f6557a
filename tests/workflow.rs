//! The GitOps workflow the README tells a team to copy (`examples/ci/github-actions.yml`):
//! checked against SchemaStore's schema of workflow files and by shellcheck (what actionlint
//! does), and its shell steps run as GitHub runs them (`bash -eo pipefail`), against a local
//! bare repository standing in for GitHub's, with the real binary and the sandbox.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use nicsrs_batch::sandbox::Config;
use serde_json::Value;

mod common;

use common::server::{Server, manifest, text};
use common::{root, scratch};

fn workflow() -> Value {
    let path = root().join("examples/ci/github-actions.yml");
    let yaml = std::fs::read_to_string(&path).expect("the workflow");
    serde_saphyr::from_str(&yaml).expect("the workflow is YAML")
}

/// The step of `job` named `name`.
fn step<'a>(wf: &'a Value, job: &str, name: &str) -> &'a Value {
    wf["jobs"][job]["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["name"] == name)
        .unwrap_or_else(|| panic!("job {job} has no step {name:?}"))
}

/// `text` with every `${{ … }}` replaced by what `values` gives it; an expression the test
/// does not know fails the test, so that a new one is looked at.
fn substitute(text: &str, values: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("${{") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find("}}").expect("an expression ends") + at;
        let expr = rest[at + 3..end].trim();
        let value = values
            .get(expr)
            .unwrap_or_else(|| panic!("the test does not know `{expr}`"));
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

/// What a job sees of GitHub: the run's variables and the expressions its steps use.
struct Runner {
    env: BTreeMap<String, String>,
    values: BTreeMap<&'static str, String>,
    path: String,
}

impl Runner {
    fn new(dir: &Path, bin: &[&Path]) -> Runner {
        let wf = workflow();
        let mut env = BTreeMap::new();
        for (k, v) in wf["env"].as_object().expect("workflow env") {
            env.insert(k.clone(), v.as_str().expect("a string").to_owned());
        }
        for (k, v) in [
            ("GITHUB_REF_NAME", "main"),
            ("GITHUB_RUN_ID", "4242"),
            ("GITHUB_RUN_ATTEMPT", "1"),
            ("GITHUB_REPOSITORY", "acme/certificates"),
            ("GITHUB_SERVER_URL", "https://github.com"),
            (
                "GITHUB_WORKFLOW_REF",
                "acme/certificates/.github/workflows/certificates.yml@refs/heads/main",
            ),
        ] {
            env.insert(k.into(), v.into());
        }
        env.insert("HOME".into(), dir.display().to_string());
        env.insert(
            "GITHUB_ENV".into(),
            dir.join("github-env").display().to_string(),
        );
        env.insert(
            "GITHUB_STEP_SUMMARY".into(),
            dir.join("summary.md").display().to_string(),
        );
        let values = BTreeMap::from([
            ("github.sha", "0123abcd".repeat(5)),
            ("github.token", "github-token".into()),
            (
                "secrets.NICSRS_BATCH_PUSH_TOKEN || github.token",
                "github-token".into(),
            ),
            ("secrets.NICSRS_API_TOKEN", "sandbox".into()),
        ]);
        let mut path: Vec<String> = bin.iter().map(|p| p.display().to_string()).collect();
        path.push(std::env::var("PATH").unwrap_or_default());
        Runner {
            env,
            values,
            path: path.join(":"),
        }
    }

    /// Runs `job`'s step `name` in `cwd` as GitHub does: `bash -eo pipefail`, with the
    /// workflow's and the step's `env`.
    fn run(&self, job: &str, name: &str, cwd: &Path, extra: &[(&str, &str)]) -> Output {
        let wf = workflow();
        let step = step(&wf, job, name);
        let script = substitute(step["run"].as_str().expect("a run step"), &self.values);
        let mut cmd = Command::new("bash");
        cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
            .current_dir(cwd)
            .env_clear()
            .envs(&self.env)
            .env("PATH", &self.path)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        if let Some(vars) = step["env"].as_object() {
            for (k, v) in vars {
                cmd.env(k, substitute(v.as_str().expect("a string"), &self.values));
            }
        }
        cmd.envs(extra.iter().copied());
        cmd.output().expect("bash runs")
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=dev", "-c", "user.email=dev@example.com"])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// A manifest of `n` orders whose keys and names start with `prefix`.
fn orders(dir: &Path, file: &str, prefix: &str, n: usize) {
    let tmp = dir.join(format!("{prefix}.tmp"));
    std::fs::create_dir_all(&tmp).expect("tmp");
    let text = std::fs::read_to_string(manifest(&tmp, n)).expect("manifest");
    std::fs::remove_dir_all(&tmp).expect("tmp");
    let text = text
        .replace("site", prefix)
        .replace("refIdPrefix: t-", "refIdPrefix: w-");
    std::fs::create_dir_all(dir.join("orders")).expect("orders/");
    std::fs::write(dir.join("orders").join(file), text).expect("manifest");
}

/// The rows of a ledger, header left out.
fn rows(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .skip(1)
        .map(str::to_owned)
        .collect()
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_nicsrs-batch"))
        .parent()
        .expect("the binary's folder")
        .to_owned()
}

/// A bare repository with `orders/alpha.yaml` on main, as GitHub's would hold it.
fn origin(dir: &Path) -> (PathBuf, String) {
    let bare = dir.join("origin.git");
    std::fs::create_dir_all(&bare).expect("bare");
    git(&bare, &["init", "-q", "--bare"]);
    let seed = dir.join("seed");
    std::fs::create_dir_all(&seed).expect("seed");
    git(&seed, &["init", "-q"]);
    orders(&seed, "alpha.yaml", "alpha", 3);
    git(&seed, &["add", "."]);
    git(&seed, &["commit", "-qm", "orders: alpha"]);
    let url = format!("file://{}", bare.display());
    git(&seed, &["push", "-q", &url, "HEAD:refs/heads/main"]);
    (bare, url)
}

#[test]
fn the_workflow_is_valid_for_github_and_its_scripts_pass_shellcheck() {
    let wf = workflow();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/fixtures/ci/github-workflow.schema.json"))
            .expect("schema"),
    )
    .expect("schema JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&wf)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "not a valid workflow:\n{}",
        errors.join("\n")
    );

    // Least privilege: nothing by default; every job says what it needs.
    assert_eq!(
        wf["permissions"],
        serde_json::json!({}),
        "top-level permissions"
    );
    let jobs = wf["jobs"].as_object().expect("jobs");
    let mut groups = BTreeSet::new();
    for (name, job) in jobs {
        assert!(job["permissions"].is_object(), "job {name}: no permissions");
        assert!(job["timeout-minutes"].is_u64(), "job {name}: no timeout");
        let group = job["concurrency"]["group"].as_str();
        let group = group.unwrap_or_else(|| panic!("job {name}: no concurrency group"));
        assert!(groups.insert(group.to_owned()), "job {name} shares {group}");
        for step in job["steps"].as_array().expect("steps") {
            if let Some(uses) = step["uses"].as_str() {
                // The current major version of each action (Dec 2026).
                let current = [
                    "actions/checkout@v7",
                    "actions/cache/restore@v6",
                    "actions/cache/save@v6",
                    "actions/upload-artifact@v7",
                ];
                assert!(current.contains(&uses), "job {name}: {uses} is not current");
            }
            if let Some(run) = step["run"].as_str() {
                assert!(
                    !run.contains("--tag"),
                    "job {name}: installs from a tag: {run}"
                );
            }
        }
    }
    // No job leaves its token in .git/config while the build and the tool run.
    for (name, job) in jobs {
        let checkout = &job["steps"][0];
        assert_eq!(checkout["uses"], "actions/checkout@v7", "job {name}");
        assert_eq!(checkout["with"]["persist-credentials"], false, "job {name}");
    }
    // A pull request's plan must never cancel an apply: the apply's group is its own and
    // queues (a running apply is never cancelled).
    assert_eq!(jobs["apply"]["concurrency"]["cancel-in-progress"], false);
    assert!(jobs["apply"]["permissions"]["contents"] == "write");
    assert!(jobs["plan"]["permissions"]["contents"] == "read");
    for job in ["apply", "refresh"] {
        let artifact = jobs[job]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|s| s["uses"] == "actions/upload-artifact@v7")
            .unwrap_or_else(|| panic!("job {job} keeps no artifact"));
        assert_eq!(
            artifact["if"], "always()",
            "job {job}: the artifact is kept on failure"
        );
    }

    // Every script as actionlint checks it: shellcheck, expressions replaced.
    let shellcheck = Command::new("shellcheck").arg("--version").output();
    assert!(
        shellcheck.is_ok_and(|o| o.status.success()),
        "shellcheck is needed (Debian: apt-get install shellcheck; .ci/run installs it)"
    );
    let dir = scratch("workflow-shellcheck");
    let mut checked = 0;
    for (name, job) in jobs {
        for (i, step) in job["steps"].as_array().expect("steps").iter().enumerate() {
            let Some(run) = step["run"].as_str() else {
                continue;
            };
            let mut script = String::from("#!/bin/bash\nset -eo pipefail\n");
            let mut rest = run;
            while let Some(at) = rest.find("${{") {
                script.push_str(&rest[..at]);
                let end = rest[at..].find("}}").expect("expression end") + at;
                script.push_str("EXPRESSION");
                rest = &rest[end + 2..];
            }
            script.push_str(rest);
            let file = dir.join(format!("{name}-{i}.sh"));
            std::fs::write(&file, script).expect("script");
            let out = Command::new("shellcheck")
                .args(["--shell=bash", "--severity=style"])
                .arg(&file)
                .output()
                .expect("shellcheck");
            assert!(
                out.status.success(),
                "job {name} step {i}:\n{}",
                text(&out.stdout)
            );
            checked += 1;
        }
    }
    assert!(checked >= 8, "{checked} scripts checked");
}

#[test]
fn a_merge_that_lands_during_the_apply_loses_no_ledger_row() {
    let dir = scratch("workflow-concurrent-merge");
    let (bare, url) = origin(&dir);
    let server = Server::start(Config::default());
    let runner = Runner::new(&dir, &[&bin_dir()]);
    let endpoint = [("NICSRS_ENDPOINT", server.url.as_str())];

    // The apply job of the merge of alpha: a shallow checkout, as actions/checkout makes.
    let job = dir.join("runner");
    git(&dir, &["clone", "-q", "--depth", "1", &url, "runner"]);
    let out = runner.run("apply", "Apply", &job, &endpoint);
    succeeded(&out);
    let ours = rows(&job.join("orders/nicsrs-ledger.csv"));
    assert!(
        ours.len() >= 6,
        "a row before and after each of 3 paid calls: {ours:?}"
    );

    // Meanwhile another pull request (beta) is merged and its own apply pushes its rows.
    let other = dir.join("other");
    git(&dir, &["clone", "-q", &url, "other"]);
    orders(&other, "beta.yaml", "beta", 2);
    git(&other, &["add", "."]);
    git(&other, &["commit", "-qm", "orders: beta"]);
    let out = runner.run("apply", "Apply", &other, &endpoint);
    succeeded(&out);
    let theirs = rows(&other.join("orders/nicsrs-ledger.csv"));
    git(&other, &["add", "."]);
    git(&other, &["commit", "-qm", "ledger: apply beta"]);
    git(&other, &["push", "-q", "origin", "HEAD:main"]);

    // Our push is rejected; the step fetches, rebases and pushes again.
    let out = runner.run("apply", "Push the ledger", &job, &[]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("Ledger pushed to main (attempt 2)."),
        "{said}"
    );

    // main holds every row of both applies and both manifests, and nothing is to do again.
    let check = dir.join("check");
    git(&dir, &["clone", "-q", &url, "check"]);
    let merged = rows(&check.join("orders/nicsrs-ledger.csv"));
    let lost: Vec<&String> = ours
        .union(&theirs)
        .filter(|r| !merged.contains(*r))
        .collect();
    assert!(lost.is_empty(), "rows lost: {lost:?}");
    assert!(check.join("orders/beta.yaml").exists());
    let log = git(&bare, &["log", "--format=%s", "main"]);
    assert!(
        log.starts_with("ledger: apply at ")
            && log
                .lines()
                .next()
                .is_some_and(|l| l.ends_with(" [skip ci]")),
        "{log}"
    );
    // An apply queued behind these starts from the commit that was merged before them; its
    // first step moves it to the tip of main, ledger rows included.
    let queued = dir.join("queued");
    git(&dir, &["clone", "-q", &url, "queued"]);
    let first = git(&bare, &["rev-list", "--max-parents=0", "main"]);
    git(&queued, &["checkout", "-q", first.trim()]);
    let out = runner.run("apply", "Start from the tip of main", &queued, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(
        git(&queued, &["rev-parse", "HEAD"]),
        git(&bare, &["rev-parse", "main"])
    );
    assert_eq!(rows(&queued.join("orders/nicsrs-ledger.csv")), merged);
    let out = common::server::nicsrs(&check, "sandbox")
        .args(["plan", "orders/", "--ledger", "orders/nicsrs-ledger.csv"])
        .args(["--endpoint", &server.url, "--detailed-exitcode"])
        .output()
        .expect("plan");
    succeeded(&out);
    let stats = server.stats();
    assert_eq!(stats["orders_placed"], 5, "{stats}");
    assert_eq!(stats["duplicate_ref_ids"], serde_json::json!([]), "{stats}");
}

#[test]
fn a_main_that_refuses_the_push_keeps_the_ledger_on_a_branch_and_fails_the_job() {
    let dir = scratch("workflow-protected-main");
    let (bare, url) = origin(&dir);
    // A protected main: the server refuses every push to it.
    let hook = bare.join("hooks/pre-receive");
    std::fs::write(
        &hook,
        "#!/bin/sh\nwhile read -r old new ref; do\n  if [ \"$ref\" = refs/heads/main ]; then echo \"protected branch\"; exit 1; fi\ndone\n",
    )
    .expect("hook");
    set_executable(&hook);
    // `gh` records what it was asked.
    let fake = fake_gh(&dir);
    let server = Server::start(Config::default());
    let runner = Runner::new(&dir, &[&fake, &bin_dir()]);

    let job = dir.join("runner");
    git(&dir, &["clone", "-q", "--depth", "1", &url, "runner"]);
    let out = runner.run("apply", "Apply", &job, &[("NICSRS_ENDPOINT", &server.url)]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let ours = rows(&job.join("orders/nicsrs-ledger.csv"));

    let out = runner.run("apply", "Push the ledger", &job, &[]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(1),
        "the job fails so that someone looks: {said}"
    );
    assert!(
        said.contains("::error::the ledger could not be pushed to main; its rows are on nicsrs-batch/ledger-4242-1"),
        "{said}"
    );
    let side = git(
        &bare,
        &[
            "show",
            "nicsrs-batch/ledger-4242-1:orders/nicsrs-ledger.csv",
        ],
    );
    let kept: BTreeSet<String> = side.lines().skip(1).map(str::to_owned).collect();
    assert_eq!(kept, ours, "every row is on the branch");
    let calls = std::fs::read_to_string(dir.join("gh-calls")).expect("gh was called");
    assert!(
        calls.starts_with("pr create --base main --head nicsrs-batch/ledger-4242-1"),
        "{calls}"
    );
}

#[test]
fn the_nightly_refresh_goes_on_when_a_certificate_could_not_be_collected() {
    let dir = scratch("workflow-nightly");
    // A stand-in for the tool: `refresh` exits as told, `plan` finds work.
    let fake = fake_gh(&dir);
    let tool = fake.join("nicsrs-batch");
    std::fs::write(
        &tool,
        "#!/bin/sh\ncase \"$1\" in\n  refresh) exit \"$REFRESH_EXIT\" ;;\n  plan) echo 'renew  shop-www'; exit 4 ;;\nesac\nexit 1\n",
    )
    .expect("tool");
    set_executable(&tool);
    let runner = Runner::new(&dir, &[&fake]);
    let step = "Refresh and plan the renewal wave";
    for (refresh, code, work) in [("3", 0, true), ("0", 0, true), ("1", 1, false)] {
        let _ = std::fs::remove_file(dir.join("github-env"));
        let out = runner.run("refresh", step, &dir, &[("REFRESH_EXIT", refresh)]);
        let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
        assert_eq!(
            out.status.code(),
            Some(code),
            "refresh exit {refresh}: {said}"
        );
        let env = std::fs::read_to_string(dir.join("github-env")).unwrap_or_default();
        assert_eq!(
            env.contains("WORK=4"),
            work,
            "refresh exit {refresh}: {env}"
        );
    }
    let out = runner.run("refresh", "Keep the schedule alive", &dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let calls = std::fs::read_to_string(dir.join("gh-calls")).expect("gh was called");
    assert_eq!(
        calls,
        "api --method PUT repos/acme/certificates/actions/workflows/certificates.yml/enable\n"
    );
}

#[test]
fn the_renewal_pull_request_is_opened_once_then_updated_never_a_merged_one() {
    let dir = scratch("workflow-renewal-pr");
    let (bare, url) = origin(&dir);
    let fake = fake_gh(&dir);
    let runner = Runner::new(&dir, &[&fake]);
    let night = dir.join("night");
    git(&dir, &["clone", "-q", &url, "night"]);
    std::fs::write(night.join("orders/nicsrs-ledger.csv"), "time,api\n").expect("ledger");
    std::fs::write(
        night.join("plan.txt"),
        "  renew  shop-www\nPlan: 1 to renew.\n",
    )
    .expect("plan");
    let step = "Open or update the pull request";
    // No open pull request (an earlier wave's was merged): a new one.
    let out = runner.run("refresh", step, &night, &[("OPEN_PR", "")]);
    succeeded(&out);
    let plan = git(&bare, &["show", "nicsrs-batch/refresh:orders/PLAN.txt"]);
    assert_eq!(plan, "  renew  shop-www\nPlan: 1 to renew.\n");
    // The next night, nothing new, and the wave's pull request open: it is updated.
    let out = runner.run("refresh", step, &night, &[("OPEN_PR", "12")]);
    succeeded(&out);
    let calls = std::fs::read_to_string(dir.join("gh-calls")).expect("gh was called");
    let calls: Vec<&str> = calls.lines().collect();
    assert_eq!(
        calls,
        [
            "pr list --head nicsrs-batch/refresh --state open --json number --jq .[0].number // empty",
            "pr create --head nicsrs-batch/refresh --title Certificate renewals and reissues --body-file body.md",
            "pr list --head nicsrs-batch/refresh --state open --json number --jq .[0].number // empty",
            "pr edit 12 --body-file body.md",
        ]
    );
}

/// A folder with a `gh` that records each call in `dir/gh-calls` and answers `pr list` with
/// `$OPEN_PR`.
fn fake_gh(dir: &Path) -> PathBuf {
    let fake = dir.join("fake-bin");
    std::fs::create_dir_all(&fake).expect("fake bin");
    let gh = fake.join("gh");
    std::fs::write(
        &gh,
        format!(
            "#!/bin/sh\necho \"$@\" >> {}\nif [ \"$1 $2\" = \"pr list\" ]; then echo \"$OPEN_PR\"; fi\n",
            dir.join("gh-calls").display()
        ),
    )
    .expect("gh");
    set_executable(&gh);
    fake
}

/// Asserts that a step exited 0, showing what it said otherwise.
fn succeeded(out: &Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn set_executable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}
