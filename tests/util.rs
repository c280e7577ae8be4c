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

/// An `strace -f` log with each call on one line: a call another thread interrupted in
/// the log (`TID NAME(ARGS <unfinished ...>`, then `TID <... NAME resumed>REST`) is joined
/// into `TID NAME(ARGSREST`; one never resumed (its thread died in it) ends in `) = ?`.
/// Lines that name no call (signals, exits) are kept as they are.
#[allow(dead_code)] // the replay-only build has no live tests
pub fn strace_joined(log: &str) -> String {
    let mut open: std::collections::HashMap<&str, (usize, String)> = Default::default();
    let mut out: Vec<String> = Vec::new();
    for line in log.lines() {
        let Some((tid, call)) = line.trim().split_once(char::is_whitespace) else {
            out.push(line.to_owned());
            continue;
        };
        let call = call.trim_start();
        if let Some(head) = call.strip_suffix("<unfinished ...>") {
            // Its place in the log is where it began.
            out.push(String::new());
            open.insert(tid, (out.len() - 1, format!("{tid} {}", head.trim_end())));
        } else if let Some(rest) = call.strip_prefix("<... ") {
            let rest = rest.split_once(" resumed>").map_or(rest, |(_, r)| r);
            match open.remove(tid) {
                Some((at, head)) => out[at] = format!("{head}{rest}"),
                None => out.push(line.to_owned()),
            }
        } else {
            out.push(line.to_owned());
        }
    }
    for (at, head) in open.into_values() {
        out[at] = format!("{head}) = ?");
    }
    out.retain(|l| !l.is_empty());
    out.join("\n")
}

/// The top-level arguments of an [`StraceCall`]'s `rest` (`ARGS) = RET`), split at the
/// commas outside strings, brackets, braces and parentheses, trimmed.
#[allow(dead_code)]
pub fn strace_args(rest: &str) -> Vec<&str> {
    // strace pads short calls before ` = RET`.
    let args = rest.rsplit_once(" = ").map_or(rest, |(a, _)| a).trim_end();
    let args = args.strip_suffix(')').unwrap_or(args);
    let (mut depth, mut quoted, mut escaped, mut start) = (0i32, false, false, 0);
    let mut out = Vec::new();
    for (i, c) in args.char_indices() {
        if quoted {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => quoted = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(args[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = args[start..].trim();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out
}

/// The bytes of a string argument as strace prints it (`"a\tb\303\251"`, maybe followed
/// by `...`): C escapes, octal `\NNN` and `\xNN` undone. `None` for anything else
/// (`NULL`, an address strace could not read).
#[allow(dead_code)]
pub fn strace_string(arg: &str) -> Option<Vec<u8>> {
    let body = arg.strip_prefix('"')?;
    let body = body.strip_suffix("...").unwrap_or(body).strip_suffix('"')?;
    let b = body.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'\\' || i + 1 == b.len() {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let c = b[i + 1];
        i += 2;
        let simple = match c {
            b'n' => Some(b'\n'),
            b't' => Some(b'\t'),
            b'r' => Some(b'\r'),
            b'v' => Some(0x0b),
            b'f' => Some(0x0c),
            b'a' => Some(0x07),
            b'b' => Some(0x08),
            b'\\' | b'"' | b'\'' => Some(c),
            _ => None,
        };
        if let Some(v) = simple {
            out.push(v);
        } else if c == b'x' {
            let end = (i + 2).min(b.len());
            let hex = std::str::from_utf8(&b[i..end]).unwrap_or("");
            out.push(u8::from_str_radix(hex, 16).unwrap_or(0));
            i = end;
        } else if c.is_ascii_digit() {
            // Up to three octal digits, the first already read.
            let mut v = u32::from(c - b'0');
            let mut n = 1;
            while n < 3 && i < b.len() && (b'0'..=b'7').contains(&b[i]) {
                v = v * 8 + u32::from(b[i] - b'0');
                i += 1;
                n += 1;
            }
            out.push(v as u8);
        } else {
            out.push(c);
        }
    }
    Some(out)
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
