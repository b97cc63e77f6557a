//! Helpers shared by the integration tests: run the real binary, compare with fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub mod server;

/// What a run of the binary printed and how it exited.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `nicsrs-batch args...` in `dir`.
pub fn run(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_nicsrs-batch"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("NICSRS_TEST_UNSET_VARIABLE")
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The crate's root directory.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty directory under the target directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = root().join("target").join("test-scratch").join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Compares `actual` with the expected-output file.
///
/// With `UPDATE_EXPECT` set, a file that differs is rewritten and the comparison still
/// fails, naming it, so that a run which rewrote anything never passes: review the diff,
/// then run again without it. It is refused outright where `CI` is set.
pub fn expect_file(path: &Path, actual: &str) -> Result<(), String> {
    let expected = std::fs::read_to_string(path).ok();
    if expected.as_deref() == Some(actual) {
        return Ok(());
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        if std::env::var_os("CI").is_some() {
            return Err(format!(
                "{}: UPDATE_EXPECT is refused where CI is set: pinned output is only rewritten on a developer's machine",
                path.display()
            ));
        }
        std::fs::write(path, actual).expect("write expected output");
        return Err(format!(
            "{} rewritten (UPDATE_EXPECT): review the diff, then run again without UPDATE_EXPECT",
            path.display()
        ));
    }
    match expected {
        None => Err(format!(
            "{}: missing (run with UPDATE_EXPECT=1 to create it, then review it)",
            path.display()
        )),
        Some(expected) => Err(format!(
            "{} differs (UPDATE_EXPECT=1 rewrites it after review)\n--- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        )),
    }
}

/// SplitMix64, the crate's one random source: the same sequence on every machine, for the
/// tests that corrupt inputs (`tests/mutations.rs`, `tests/fuzz.rs`).
#[allow(unused_imports)]
pub use nicsrs_batch::random::SplitMix64 as Dice;

/// The diagnostic codes the README's table documents.
pub fn documented_codes() -> std::collections::BTreeSet<String> {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README");
    let table = readme
        .split("## Diagnostics")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("the README's Diagnostics section");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .collect()
}
