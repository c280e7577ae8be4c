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

/// The names of the entries of `dir`, sorted.
pub fn dir_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
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

/// `replay TRACE EXTRA -o json-min`, as text.
pub fn replay_json_min(trace: &Path, extra: &[&str]) -> String {
    let mut args = vec!["replay", trace.to_str().unwrap()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["-o", "json-min"]);
    String::from_utf8(run_ok(&args).stdout).unwrap()
}

/// Replays `fixtures/STEM.kz` in the events and the records view (`-o json-min`) and
/// compares each with its expected output, `fixtures/STEM.events.json` and
/// `fixtures/STEM.json`.
#[track_caller]
pub fn assert_fixture_replays(stem: &str) {
    let trace = fixture(&format!("{stem}.kz"));
    for (view, expected) in [
        (&["--view", "events"][..], format!("{stem}.events.json")),
        (&[][..], format!("{stem}.json")),
    ] {
        let want = std::fs::read_to_string(fixture(&expected)).unwrap();
        let got = replay_json_min(&trace, view);
        assert_same_text(&want, &got, &format!("fixtures/{expected}"));
    }
}

/// One line of an `strace -f -qq` log that names a syscall: `TID NAME(ARGS) = RET …`.
#[allow(dead_code)] // the replay-only build has no live tests
pub struct StraceCall<'a> {
    /// The line, for messages.
    pub line: &'a str,
    /// The thread id strace prints first.
    pub tid: &'a str,
    /// The syscall's name as strace prints it.
    pub name: &'a str,
    /// Everything after `NAME(`: the arguments, `) = RET` and any error text.
    pub rest: &'a str,
}

#[allow(dead_code)]
impl StraceCall<'_> {
    /// The thread id (panics, naming the line, if it is not a number).
    #[track_caller]
    pub fn tid(&self) -> u64 {
        self.tid.parse().unwrap_or_else(|_| panic!("{}", self.line))
    }

    /// The return value (panics, naming the line, if there is none: an unfinished call).
    #[track_caller]
    pub fn ret(&self) -> i64 {
        let (_, ret) = self
            .rest
            .rsplit_once(" = ")
            .unwrap_or_else(|| panic!("{}", self.line));
        let ret = ret.split_whitespace().next().unwrap_or("");
        ret.parse().unwrap_or_else(|_| panic!("{}", self.line))
    }
}

/// The lines of an `strace -f -qq` log that name a syscall (signals and exits are left out).
#[allow(dead_code)]
pub fn strace_calls(log: &str) -> impl Iterator<Item = StraceCall<'_>> {
    log.lines().filter_map(|line| {
        let (tid, call) = line.trim().split_once(char::is_whitespace)?;
        let (name, rest) = call.trim_start().split_once('(')?;
        Some(StraceCall {
            line,
            tid,
            name,
            rest,
        })
    })
}

/// Runs `kellect record -o TRACE -- ARGS…` in DIR (without LD_LIBRARY_PATH, so the
/// command's own libraries are the system's) and returns its output; panics with its status
/// and stderr unless it succeeds and says what it recorded.
#[track_caller]
#[allow(dead_code)]
pub fn record_in<S: AsRef<std::ffi::OsStr>>(dir: &Path, trace: &Path, args: &[S]) -> Output {
    record_in_with(dir, trace, &[], args)
}

/// [`record_in`] with record OPTIONS before `--` (`-p dns=udp/PORT`, ...).
#[track_caller]
#[allow(dead_code)]
pub fn record_in_with<S: AsRef<std::ffi::OsStr>>(
    dir: &Path,
    trace: &Path,
    options: &[&str],
    args: &[S],
) -> Output {
    let out = kellect()
        .current_dir(dir)
        .env_remove("LD_LIBRARY_PATH")
        .arg("record")
        .arg("-o")
        .arg(trace)
        .args(options)
        .arg("--")
        .args(args)
        .output()
        .expect("running kellect record");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stderr.contains("kellect: recorded"),
        "kellect record of {:?} failed with {} (BPF must be available)\nstdout:\n{}\nstderr:\n{stderr}",
        args.iter().map(AsRef::as_ref).collect::<Vec<_>>(),
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    out
}

/// Waits (at most a minute) until the trace being written holds a data frame: the
/// recorder is attached and draining (a fixed sleep is not enough on a loaded machine).
#[track_caller]
#[allow(dead_code)] // the replay-only build has no live tests
pub fn wait_for_a_frame(trace: &Path) {
    for _ in 0..300 {
        let bytes = std::fs::read(trace).unwrap_or_default();
        let reader = kellect::format::TraceReader::new(&bytes);
        if reader.is_ok_and(|r| r.scan().frames().next().is_some()) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    panic!("{} holds no frame after a minute", trace.display());
}
