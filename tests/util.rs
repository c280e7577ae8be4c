//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

pub fn kellect() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kellect"))
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

/// Runs kellect and requires success, showing its stderr otherwise.
#[track_caller]
pub fn run_ok(args: &[&str]) -> Output {
    let out = kellect().args(args).output().expect("running kellect");
    assert!(
        out.status.success(),
        "kellect {args:?} failed with {}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs kellect and requires failure with `code`; returns stderr.
#[track_caller]
pub fn run_err(args: &[&str], code: i32) -> String {
    let out = kellect().args(args).output().expect("running kellect");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "kellect {args:?}: expected exit code {code}\nstdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    stderr
}

/// Parses NDJSON.
#[track_caller]
pub fn json_lines(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("output is UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("invalid JSON {e}: {l}")))
        .collect()
}

/// The events view of a trace, as parsed JSON objects.
#[track_caller]
pub fn events(trace: &Path) -> Vec<Value> {
    let out = run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "--view",
        "events",
        "-o",
        "json-min",
    ]);
    json_lines(&out.stdout)
}

/// `kellect info --json` of one recording.
#[track_caller]
pub fn info(trace: &Path) -> Value {
    let out = run_ok(&["info", "--json", trace.to_str().unwrap()]);
    let v: Value = serde_json::from_slice(&out.stdout).expect("info --json is JSON");
    v[0].clone()
}

/// Compares text line by line and shows the first difference.
#[track_caller]
pub fn assert_same_text(expected: &str, got: &str, what: &str) {
    if expected == got {
        return;
    }
    for (i, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        assert_eq!(e, g, "{what}: first difference at line {}", i + 1);
    }
    panic!(
        "{what}: {} lines expected, {} lines got",
        expected.lines().count(),
        got.lines().count()
    );
}

/// Compiles `tests/workloads/SOURCE` with `cc FLAGS -o DIR/OUTPUT` into a new temporary
/// directory (also the workload's scratch space) and returns it; panics with cc's
/// messages when it fails.
#[track_caller]
#[allow(dead_code)] // the replay-only build has no live tests
pub fn compile_workload(source: &str, flags: &[&str], output: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/workloads")
        .join(source);
    let out = Command::new("cc")
        .args(flags)
        .arg("-o")
        .arg(dir.path().join(output))
        .arg(&source)
        .output()
        .expect("running cc (gcc or clang must be installed)");
    assert!(
        out.status.success(),
        "cc {} failed:\n{}",
        source.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}
