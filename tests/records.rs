//! The records view (kflowd-style records): its fixture (fixtures/records.kz, see
//! fixtures/regenerate.sh) replayed byte for byte and checked against `--legend`, without
//! privileges; and, as root, live recordings of real workloads talking to real peers on
//! loopback (dnsmasq, python's http.server, syslog and TCP peers), checked key by key.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::{json, Value};

use crate::util::{assert_same_text, fixture, json_lines, run_ok};

/// `kellect replay TRACE -o FORMAT` (the records view is the default view).
#[track_caller]
fn replay_records(trace: &Path, format: &str, extra: &[&str]) -> String {
    let mut args = vec!["replay", trace.to_str().unwrap(), "-o", format];
    args.extend_from_slice(extra);
    String::from_utf8(run_ok(&args).stdout).expect("output is UTF-8")
}

/// The records of fixtures/records.json.
fn fixture_records() -> Vec<Value> {
    let text = std::fs::read_to_string(fixture("records.json")).unwrap();
    json_lines(text.as_bytes())
}

#[test]
fn records_fixture_replays_byte_for_byte() {
    let expected = std::fs::read_to_string(fixture("records.json")).unwrap();
    let got = replay_records(&fixture("records.kz"), "json-min", &[]);
    assert_same_text(&expected, &got, "fixtures/records.json");
}

#[test]
fn records_fixture_table_replays_byte_for_byte() {
    let expected = std::fs::read_to_string(fixture("records.table")).unwrap();
    let got = replay_records(&fixture("records.kz"), "table", &[]);
    assert_same_text(&expected, &got, "fixtures/records.table");
}

#[test]
fn records_fixture_is_the_same_for_any_thread_count() {
    let trace = fixture("records.kz");
    for format in ["json-min", "table"] {
        let one = replay_records(&trace, format, &["-j", "1"]);
        let four = replay_records(&trace, format, &["-j", "4"]);
        assert_same_text(&one, &four, &format!("-o {format}: -j 1 against -j 4"));
    }
}

/// `--pid` and `--comm` keep exactly the records of that process (`ProcPID`, `Proc`),
/// numbered afresh from 1.
#[test]
fn records_fixture_filters_by_pid_and_comm() {
    let all = fixture_records();
    let without_number = |r: &Value| {
        let mut r = r.clone();
        r.as_object_mut().unwrap().remove("InfoSequenceNumber");
        r
    };
    let pid = all[0]["ProcPID"].as_u64().unwrap();
    let comm = all.iter().rev().find(|r| r["ProcPID"] != pid).unwrap()["Proc"]
        .as_str()
        .unwrap()
        .to_owned();
    for (option, value, key) in [
        ("--pid", pid.to_string(), "ProcPID"),
        ("--comm", comm.clone(), "Proc"),
    ] {
        let wanted: Vec<Value> = all
            .iter()
            .filter(|r| r[key].to_string().trim_matches('"') == value)
            .map(without_number)
            .collect();
        assert!(
            !wanted.is_empty() && wanted.len() < all.len(),
            "{option} {value}"
        );
        let got = json_lines(
            replay_records(&fixture("records.kz"), "json-min", &[option, &value]).as_bytes(),
        );
        let numbers: Vec<u64> = got
            .iter()
            .map(|r| r["InfoSequenceNumber"].as_u64().unwrap())
            .collect();
        assert_eq!(
            numbers,
            (1..=got.len() as u64).collect::<Vec<_>>(),
            "{option}"
        );
        let got: Vec<Value> = got.iter().map(without_number).collect();
        assert_eq!(got, wanted, "{option} {value}");
    }
}

#[test]
fn records_fixture_holds_every_kind_of_record() {
    let recs = fixture_records();
    let has = |monitor: &str, app: Option<&str>| {
        recs.iter()
            .any(|r| r["InfoMonitor"] == monitor && app.is_none_or(|a| r["App"] == a))
    };
    for (monitor, app) in [
        ("filesystem", None),
        ("socket", Some("DNS")),
        ("socket", Some("HTTP")),
        ("socket", Some("SYSLOG")),
        ("process", None),
    ] {
        assert!(
            has(monitor, app),
            "fixtures/records.json has no {monitor} record{}",
            app.map(|a| format!(" with App {a}")).unwrap_or_default()
        );
    }
    // Numbered in the order they leave: 1, 2, ...
    let seq: Vec<u64> = recs
        .iter()
        .map(|r| {
            r["InfoSequenceNumber"]
                .as_u64()
                .expect("InfoSequenceNumber")
        })
        .collect();
    let want: Vec<u64> = (1..=recs.len() as u64).collect();
    assert_eq!(seq, want, "InfoSequenceNumber");
}

/// fixtures/records.kz renames kellect-a.txt to kellect-b.txt (mv) and deletes it (rm):
/// both change the inode's status change time, which no syscall of the trace reveals, so
/// neither record shows one (it showed the one from before the rename); after the unlink
/// the file has no link left (the delete record said 1).
#[test]
fn records_fixture_rename_and_delete_show_no_stale_values() {
    let recs = fixture_records();
    let pick = |export: &str| {
        let found: Vec<&Value> = recs
            .iter()
            .filter(|r| r["File"] == "kellect-b.txt" && r["InfoExport"] == export)
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one {export} record of kellect-b.txt: {found:?}"
        );
        found[0]
    };
    let renamed = pick("rename");
    let deleted = pick("delete");
    for r in [renamed, deleted] {
        assert!(
            r.get("FileStatusChangeTime").is_none(),
            "a status change time after a rename or unlink is unknown: {r}"
        );
        assert_eq!(r["FileInode"], renamed["FileInode"], "{r}");
        assert_eq!(r["FileSize"], 15, "{r}");
        assert_eq!(r["FilePermissions"], "0640/-rw-r-----", "{r}");
    }
    assert_eq!(renamed["FileInodeLinkCount"], 1, "{renamed}");
    assert_eq!(deleted["FileInodeLinkCount"], 0, "{deleted}");
}

/// The file-life workload (tests/workloads/files.sh, run in `dir`: absolute, no trailing
/// slash) as both views of one recording of it must show it: its records (`recs`) and its
/// events (`events`). Returns the failed expectations, each naming the value.
fn file_life_failures(recs: &[Value], events: &[Value], dir: &str) -> Vec<String> {
    let failures = std::cell::RefCell::new(Vec::new());
    let eq = |what: String, got: &Value, want: Value| {
        if *got != want {
            failures
                .borrow_mut()
                .push(format!("{what}: expected {want}, got {got}"));
        }
    };
    let in_dir = format!("{dir}/");
    let none = Value::Null;
    // The one filesystem record of `file` in dir that left for `export`, made by `proc`.
    let rec = |file: &str, export: &str, proc: &str| -> Result<&Value, String> {
        let found: Vec<&Value> = recs
            .iter()
            .filter(|r| {
                r["InfoMonitor"] == "filesystem"
                    && r["FilePath"] == in_dir.as_str()
                    && r["File"] == file
                    && r["InfoExport"] == export
                    && r["Proc"] == proc
            })
            .collect();
        match found.as_slice() {
            [one] => Ok(one),
            _ => Err(format!(
                "{} {export} records of {file} by {proc}, expected 1: {found:?}",
                found.len()
            )),
        }
    };
    // The events of `syscall` whose (first) path is dir/`file`.
    let ev = |syscall: &str, file: &str| -> Vec<&Value> {
        let path = format!("{dir}/{file}");
        events
            .iter()
            .filter(|e| {
                e["syscall"] == syscall
                    && (e["path"] == path.as_str() || e["oldpath"] == path.as_str())
            })
            .collect()
    };
    let check = |what: &str, r: Result<&Value, String>, want: &[(&str, Value)]| match r {
        Ok(r) => {
            for (key, value) in want {
                eq(format!("{what}: {key}"), &r[*key], value.clone());
            }
        }
        Err(e) => eq(
            format!("{what}: {e}"),
            &Value::Bool(false),
            Value::Bool(true),
        ),
    };
    let ino = |r: Result<&Value, String>| r.map(|r| r["FileInode"].clone()).unwrap_or_default();

    // 1. chmod 4755 f1 by path (fchmodat): the records view's ATTRIB record has the new
    // mode, and no status change time (chmod set one the trace does not show).
    let f1 = ino(rec("f1", "close", "sh"));
    check(
        "chmod 4755 f1, ATTRIB record",
        rec("f1", "process-exit", "chmod"),
        &[
            ("FileEvents", json!({"ATTRIB": 1})),
            ("FilePermissions", json!("4755/-rwsr-xr-x")),
            ("FileInode", f1.clone()),
            ("FileSize", json!(6)),
            ("FileInodeLinkCount", json!(1)),
            ("FileStatusChangeTime", none.clone()),
        ],
    );
    let chmods = ev("fchmodat", "f1");
    eq(
        format!("events: fchmodat of f1: {chmods:?}"),
        &json!(chmods.len()),
        json!(1),
    );
    if let [e] = chmods.as_slice() {
        eq(
            "events: fchmodat f1 mode_text".into(),
            &e["mode_text"],
            json!("4755/-rwsr-xr-x"),
        );
    }

    // 2. old deleted, new created with old's inode number: a new file, not old's state.
    let old = ino(rec("old", "close", "sh"));
    let new = ino(rec("new", "close", "sh"));
    let opened = |file: &str| ev("openat", file).first().map(|e| e["ino"].clone());
    eq(
        "the inode number of new (the filesystem must hand old's out again, as ext4 does)".into(),
        &new,
        old.clone(),
    );
    eq(
        "events: openat new ino".into(),
        &opened("new").unwrap_or_default(),
        old.clone(),
    );
    eq(
        "events: openat old ino".into(),
        &opened("old").unwrap_or_default(),
        old.clone(),
    );
    check(
        "rm old, DELETE record",
        rec("old", "delete", "rm"),
        &[
            ("FileInode", old.clone()),
            ("FileInodeLinkCount", json!(0)),
            ("FileSize", json!(25)),
        ],
    );
    check(
        "echo > new (old's inode number), close record",
        rec("new", "close", "sh"),
        &[
            (
                "FileEvents",
                json!({"CREATE": 1, "MODIFY": 1, "CLOSE_WRITE": 1}),
            ),
            ("FileSize", json!(19)),
            ("FileSizeChange", json!(19)),
            ("FileInodeLinkCount", json!(1)),
        ],
    );

    // 3. ln new lnk; rm lnk: both records carry the file's attributes.
    check(
        "ln new lnk, link record",
        rec("lnk", "link", "ln"),
        &[
            ("FileMode", json!("hardlink")),
            ("FileOrigin", json!(format!("{dir}/new"))),
            ("FileInode", new.clone()),
            ("FileInodeLinkCount", json!(2)),
            ("FileSize", json!(19)),
        ],
    );
    check(
        "rm lnk, DELETE record",
        rec("lnk", "delete", "rm"),
        &[
            ("FileInode", new.clone()),
            ("FileInodeLinkCount", json!(1)),
            ("FileSize", json!(19)),
            ("FilePermissions", json!("0644/-rw-r--r--")),
            ("FileUID", json!(0)),
        ],
    );
    eq(
        "events: linkat new".into(),
        &json!(ev("linkat", "new").len()),
        json!(1),
    );
    eq(
        "events: unlinkat lnk".into(),
        &json!(ev("unlinkat", "lnk").len()),
        json!(1),
    );

    // 4. files (tests/workloads/files.c): chmod(2), truncate(2), renameat2.
    let a = ino(rec("a", "close", "files"));
    let b = ino(rec("b", "close", "files"));
    check(
        "RENAME_EXCHANGE a b: a's file, now b",
        rec("b", "rename", "files"),
        &[
            ("FileOrigin", json!(format!("{dir}/a"))),
            ("FileEvents", json!({"MOVED_FROM": 1, "MOVED_TO": 1})),
            ("FileInode", a.clone()),
            ("FileSize", json!(5)),
        ],
    );
    check(
        "RENAME_EXCHANGE a b: b's file, now a",
        rec("a", "rename", "files"),
        &[
            ("FileOrigin", json!(format!("{dir}/b"))),
            ("FileEvents", json!({"MOVED_FROM": 1, "MOVED_TO": 1})),
            ("FileInode", b.clone()),
            ("FileSize", json!(9)),
        ],
    );
    check(
        "RENAME_NOREPLACE b c",
        rec("c", "rename", "files"),
        &[
            ("FileOrigin", json!(format!("{dir}/b"))),
            ("FileInode", a.clone()),
            ("FileSize", json!(5)),
        ],
    );
    check(
        "RENAME_WHITEOUT c d",
        rec("d", "rename", "files"),
        &[
            ("FileOrigin", json!(format!("{dir}/c"))),
            ("FileInode", a.clone()),
            ("FileSize", json!(5)),
        ],
    );
    check(
        "unlink a (b's file since the exchange)",
        rec("a", "delete", "files"),
        &[
            ("FileInode", b.clone()),
            ("FileSize", json!(9)),
            ("FileInodeLinkCount", json!(0)),
        ],
    );
    check(
        "unlink d (a's file)",
        rec("d", "delete", "files"),
        &[
            ("FileInode", a.clone()),
            ("FileSize", json!(5)),
            ("FileInodeLinkCount", json!(0)),
        ],
    );
    // c is the whiteout: a character device, which the records view leaves out.
    let whiteout = rec("c", "delete", "files");
    eq(
        format!("no DELETE record of the whiteout c: {whiteout:?}"),
        &json!(whiteout.is_err()),
        json!(true),
    );
    check(
        "chmod(2) f1 0750 and unlink f1",
        rec("f1", "delete", "files"),
        &[
            ("FileEvents", json!({"ATTRIB": 1, "DELETE": 1})),
            ("FilePermissions", json!("0750/-rwxr-x---")),
            ("FileInode", f1),
            // f1 is known only through opens and a chmod that follow symlinks, and files
            // unlinks it with no lstat before: f1 may have been a symlink to the file, so
            // the link count after the unlink is unknown.
            ("FileInodeLinkCount", none.clone()),
        ],
    );
    check(
        "truncate(2) new to 4 and unlink new",
        rec("new", "delete", "files"),
        &[
            ("FileEvents", json!({"MODIFY": 1, "DELETE": 1})),
            ("FileSize", json!(4)),
            ("FileSizeChange", json!(-15)),
            ("FileInode", new),
            ("FileModificationTime", none.clone()),
            // As f1's: known only through syscalls that follow symlinks.
            ("FileInodeLinkCount", none),
        ],
    );
    let flags = |from: &str| -> Vec<(Value, Value)> {
        ev("renameat2", from)
            .iter()
            .map(|e| (e["flags_text"].clone(), e["ret"].clone()))
            .collect()
    };
    eq(
        "events: renameat2 a".into(),
        &json!(flags("a")),
        json!([["RENAME_EXCHANGE", 0]]),
    );
    eq(
        "events: renameat2 b".into(),
        &json!(flags("b")),
        json!([["RENAME_NOREPLACE", 0]]),
    );
    eq(
        "events: renameat2 c".into(),
        &json!(flags("c")),
        json!([["RENAME_NOREPLACE", -17], ["RENAME_WHITEOUT", 0]]),
    );
    let chmod_syscall = if std::env::consts::ARCH == "x86_64" {
        "chmod"
    } else {
        "fchmodat"
    };
    let chmods: Vec<Value> = ev(chmod_syscall, "f1")
        .iter()
        .map(|e| e["mode_text"].clone())
        .collect();
    let want = if chmod_syscall == "chmod" {
        json!(["0750/-rwxr-x---"])
    } else {
        json!(["4755/-rwsr-xr-x", "0750/-rwxr-x---"])
    };
    eq(
        format!("events: {chmod_syscall} f1 mode_text"),
        &json!(chmods),
        want,
    );
    let truncates: Vec<Value> = ev("truncate", "new")
        .iter()
        .map(|e| e["length"].clone())
        .collect();
    eq(
        "events: truncate new length".into(),
        &json!(truncates),
        json!([4]),
    );
    failures.into_inner()
}

#[test]
fn files_fixture_replays_byte_for_byte() {
    let trace = fixture("files.kz");
    let expected = std::fs::read_to_string(fixture("files.json")).unwrap();
    let got = replay_records(&trace, "json-min", &[]);
    assert_same_text(&expected, &got, "fixtures/files.json");
    let expected = std::fs::read_to_string(fixture("files.events.json")).unwrap();
    let got = replay_records(&trace, "json-min", &["--view", "events"]);
    assert_same_text(&expected, &got, "fixtures/files.events.json");
    for view in ["records", "events"] {
        let one = replay_records(&trace, "json-min", &["--view", view, "-j", "1"]);
        let four = replay_records(&trace, "json-min", &["--view", view, "-j", "4"]);
        assert_same_text(&one, &four, &format!("--view {view}: -j 1 against -j 4"));
    }
}

/// fixtures/files.kz (tests/workloads/files.sh recorded by kellect): the four cases of
/// path-based changes give the right values in both views.
#[test]
fn files_fixture_shows_path_based_changes() {
    let recs = json_lines(
        std::fs::read_to_string(fixture("files.json"))
            .unwrap()
            .as_bytes(),
    );
    let events = json_lines(
        std::fs::read_to_string(fixture("files.events.json"))
            .unwrap()
            .as_bytes(),
    );
    // The workload's directory: where ln made lnk.
    let dir = recs
        .iter()
        .find(|r| r["File"] == "lnk" && r["InfoExport"] == "link")
        .and_then(|r| r["FilePath"].as_str())
        .expect("fixtures/files.json has the link record of lnk")
        .trim_end_matches('/')
        .to_owned();
    let failures = file_life_failures(&recs, &events, &dir);
    assert!(
        failures.is_empty(),
        "fixtures/files.json and files.events.json: {} failed expectation(s):\n  {}",
        failures.len(),
        failures.join("\n  ")
    );
}

/// `--legend` says which file attributes a path-based syscall leaves unknown.
#[test]
fn legend_says_which_file_values_stay_unknown() {
    let text = String::from_utf8(run_ok(&["replay", "--legend"]).stdout).unwrap();
    let line = |key: &str| {
        text.lines()
            .find(|l| l.split_whitespace().next() == Some(key))
            .unwrap_or_else(|| panic!("--legend has no line for {key}:\n{text}"))
            .to_owned()
    };
    for (key, words) in [
        (
            "FileInode",
            &["left out while its value is unknown", "new file"][..],
        ),
        ("FileStatusChangeTime", &["unknown", "chmod", "rename"][..]),
        ("FileModificationTime", &["unknown", "truncate"][..]),
        ("FileInodeLinkCount", &["unlink"][..]),
    ] {
        let l = line(key);
        for w in words {
            assert!(l.contains(w), "--legend on {key} does not say {w:?}: {l}");
        }
    }
}

/// The keys `kellect replay --legend` explains: the first column of its key list (the
/// lines after the title, up to the first blank line). Columns are separated by at least
/// two spaces.
fn legend_keys() -> BTreeSet<String> {
    let text = String::from_utf8(run_ok(&["replay", "--legend"]).stdout).unwrap();
    let keys: BTreeSet<String> = text
        .lines()
        .skip_while(|l| !l.trim().is_empty())
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.split("  ").next().unwrap_or_default().trim().to_owned())
        .collect();
    for sure in [
        "InfoSequenceNumber",
        "SockRemotePort",
        "AppTxDns",
        "_Headers",
    ] {
        assert!(
            keys.contains(sure),
            "the legend's key list (parsed: {keys:?}) lacks {sure}:\n{text}"
        );
    }
    keys
}

#[test]
fn records_fixture_keys_are_all_in_the_legend() {
    let legend = legend_keys();
    let mut missing = BTreeSet::new();
    for r in fixture_records() {
        let object = r.as_object().expect("a record is an object");
        for (key, value) in object {
            if !legend.contains(key) {
                missing.insert(format!("{key} (a record key)"));
            }
            if !key.starts_with("App") || key == "App" {
                continue;
            }
            let elements = value.as_array().map(Vec::as_slice).unwrap_or_default();
            assert!(!elements.is_empty(), "{key} is not a non-empty array: {r}");
            for element in elements {
                let element = element.as_object().expect("an App* element is an object");
                for k in element.keys() {
                    if !legend.contains(k) {
                        missing.insert(format!("{k} (in {key})"));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "keys of fixtures/records.json that `kellect replay --legend` does not list:\n  {}",
        missing.into_iter().collect::<Vec<_>>().join("\n  ")
    );
}

/// Live recordings with real peers on loopback (127.0.0.1 only, unusual ports). Every peer
/// is stopped by a guard, also when a test fails.
#[cfg(feature = "record")]
mod live {
    use std::collections::BTreeMap;
    use std::fs::File;
    use std::io::{BufRead, BufReader, ErrorKind};
    use std::net::{TcpListener, TcpStream, UdpSocket};
    use std::os::unix::net::UnixDatagram;
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdout, Command, Output, Stdio};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    use std::thread::JoinHandle;
    use std::time::{Duration, Instant};

    use serde_json::{json, Value};

    use super::replay_records;
    use crate::live::live;
    use crate::util::{assert_same_text, events, json_lines, kellect};

    const DNS_PORT: u16 = 15353;
    /// Its own dnsmasq: tests run in parallel.
    const DNS_TCP_PORT: u16 = 15354;
    const HTTP_PORT: u16 = 18080;
    /// The `kellect live` test's own HTTP server: tests run in parallel.
    const HTTP_LIVE_PORT: u16 = 18081;
    const SYSLOG_PORT: u16 = 15514;
    const DEV_LOG: &str = "/dev/log";
    /// The file the HTTP peers serve, short enough to be all of `_Body`.
    const HELLO: &str = "hello from kellect\n";

    /// /dev/log is one per host: the tests that use it take turns.
    static DEV_LOG_LOCK: Mutex<()> = Mutex::new(());

    /// Every failed expectation of a test, so that one run reports them all.
    #[derive(Default)]
    struct Checks {
        failures: Vec<String>,
    }

    impl Checks {
        fn eq(&mut self, what: &str, got: &Value, expected: impl Into<Value>) {
            let expected = expected.into();
            if *got != expected {
                let expected = if expected.is_null() {
                    "no such key".to_owned()
                } else {
                    expected.to_string()
                };
                let got = if got.is_null() {
                    "nothing (key missing)".to_owned()
                } else {
                    got.to_string()
                };
                self.failures
                    .push(format!("{what}: expected {expected}, got {got}"));
            }
        }

        fn that(&mut self, ok: bool, failure: impl FnOnce() -> String) {
            if !ok {
                self.failures.push(failure());
            }
        }

        #[track_caller]
        fn done(self, context: &str) {
            assert!(
                self.failures.is_empty(),
                "{} failed expectation(s):\n  {}\n\n{context}",
                self.failures.len(),
                self.failures.join("\n  ")
            );
        }
    }

    /// Fails with the package to install when a tool the test drives is missing
    /// (scripts/test.sh installs them).
    #[track_caller]
    fn need(tool: &str, package: &str) {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let found = std::env::split_paths(&path).any(|d| d.join(tool).is_file());
        assert!(
            found,
            "{tool} is not installed: apt-get install {package} (scripts/test.sh does)"
        );
    }

    /// A peer process on loopback; killed and reaped when dropped.
    struct Peer {
        name: String,
        child: Child,
        stdout: Option<BufReader<ChildStdout>>,
        log: PathBuf,
    }

    impl Peer {
        /// Starts `program args`, stderr into `dir/NAME.log`, stdout readable by `line`.
        #[track_caller]
        fn start(name: &str, dir: &Path, program: &str, args: &[&str]) -> Peer {
            let log = dir.join(format!("{name}.log"));
            let mut child = Command::new(program)
                .args(args)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(File::create(&log).unwrap())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start the {name} peer ({program}): {e}"));
            let stdout = child.stdout.take().map(BufReader::new);
            Peer {
                name: name.to_owned(),
                child,
                stdout,
                log,
            }
        }

        /// Waits until `probe` succeeds; fails if the peer exits or 10 s pass.
        #[track_caller]
        fn wait_ready(&mut self, mut probe: impl FnMut() -> bool) {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(status)) = self.child.try_wait() {
                    panic!(
                        "the {} peer exited ({status}) before it was ready:\n{}",
                        self.name,
                        std::fs::read_to_string(&self.log).unwrap_or_default()
                    );
                }
                if probe() {
                    return;
                }
                assert!(
                    Instant::now() < deadline,
                    "the {} peer was not ready after 10 s:\n{}",
                    self.name,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }

        /// The next line the peer prints.
        #[track_caller]
        fn line(&mut self) -> String {
            let mut line = String::new();
            self.stdout
                .as_mut()
                .expect("stdout is piped")
                .read_line(&mut line)
                .unwrap();
            assert!(
                !line.is_empty(),
                "the {} peer printed nothing:\n{}",
                self.name,
                std::fs::read_to_string(&self.log).unwrap_or_default()
            );
            line.trim_end().to_owned()
        }

        /// dnsmasq on 127.0.0.1:DNS_PORT answering kellect.test A with 127.0.0.77.
        #[track_caller]
        fn dnsmasq(dir: &Path, dns_port: u16) -> Peer {
            need("dnsmasq", "dnsmasq-base");
            need("dig", "bind9-dnsutils");
            let port = format!("--port={dns_port}");
            let mut peer = Peer::start(
                "dnsmasq",
                dir,
                "dnsmasq",
                &[
                    "--keep-in-foreground",
                    "--no-daemon",
                    &port,
                    "--listen-address=127.0.0.1",
                    "--bind-interfaces",
                    "--no-resolv",
                    "--no-hosts",
                    "--address=/kellect.test/127.0.0.77",
                    "--pid-file=",
                    // No configuration of the host's, and no log lines into /dev/log.
                    "--conf-file=/dev/null",
                    "--log-facility=-",
                ],
            );
            let port = dns_port.to_string();
            peer.wait_ready(|| {
                Command::new("dig")
                    .args(["@127.0.0.1", "-p", &port, "+tries=1", "+time=1", "+short"])
                    .args(["kellect.test", "A"])
                    .output()
                    .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("127.0.0.77"))
            });
            peer
        }

        /// python's http.server on 127.0.0.1:`port`, serving `dir/www/hello.txt` (HELLO).
        #[track_caller]
        fn http(dir: &Path, port: u16) -> Peer {
            let www = dir.join("www");
            std::fs::create_dir_all(&www).unwrap();
            std::fs::write(www.join("hello.txt"), HELLO).unwrap();
            let port_text = port.to_string();
            let mut peer = Peer::start(
                "http",
                dir,
                "python3",
                &[
                    "-m",
                    "http.server",
                    &port_text,
                    "--bind",
                    "127.0.0.1",
                    "--directory",
                    www.to_str().unwrap(),
                ],
            );
            peer.wait_ready(|| TcpStream::connect(("127.0.0.1", port)).is_ok());
            peer
        }
    }

    impl Drop for Peer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A datagram socket of the test's own, with a thread that receives and keeps every
    /// datagram; stopped (and its path, if it bound one, removed) when dropped.
    struct DatagramPeer {
        got: Arc<Mutex<Vec<Vec<u8>>>>,
        stop: Arc<AtomicBool>,
        thread: Option<JoinHandle<()>>,
        path: Option<PathBuf>,
    }

    impl DatagramPeer {
        fn run(
            mut recv: impl FnMut(&mut [u8]) -> std::io::Result<usize> + Send + 'static,
            path: Option<PathBuf>,
        ) -> DatagramPeer {
            let got = Arc::new(Mutex::new(Vec::new()));
            let stop = Arc::new(AtomicBool::new(false));
            let thread = {
                let (got, stop) = (got.clone(), stop.clone());
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 65536];
                    while !stop.load(Ordering::Relaxed) {
                        match recv(&mut buf) {
                            Ok(n) => got.lock().unwrap().push(buf[..n].to_vec()),
                            Err(e)
                                if matches!(
                                    e.kind(),
                                    ErrorKind::WouldBlock | ErrorKind::TimedOut
                                ) => {}
                            Err(_) => break,
                        }
                    }
                })
            };
            DatagramPeer {
                got,
                stop,
                thread: Some(thread),
                path,
            }
        }

        #[track_caller]
        fn udp(port: u16) -> DatagramPeer {
            let s = UdpSocket::bind(("127.0.0.1", port))
                .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:{port}/udp: {e}"));
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            DatagramPeer::run(move |b| s.recv(b), None)
        }

        #[track_caller]
        fn unix(path: &str) -> DatagramPeer {
            let s = UnixDatagram::bind(path)
                .unwrap_or_else(|e| panic!("cannot bind a datagram socket at {path}: {e}"));
            s.set_read_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            DatagramPeer::run(move |b| s.recv(b), Some(PathBuf::from(path)))
        }

        /// The datagrams received, once there is at least one (5 s at most).
        #[track_caller]
        fn received(&self) -> Vec<Vec<u8>> {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let got = self.got.lock().unwrap().clone();
                if !got.is_empty() {
                    return got;
                }
                assert!(Instant::now() < deadline, "the peer received no datagram");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    impl Drop for DatagramPeer {
        fn drop(&mut self) {
            self.stop.store(true, Ordering::Relaxed);
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
            if let Some(p) = &self.path {
                let _ = std::fs::remove_file(p);
            }
        }
    }

    /// `kellect record -o TRACE ARGS -- COMMAND`: requires a finished recording and the
    /// command's success; returns the command's output.
    #[track_caller]
    fn record(trace: &Path, args: &[&str], command: &[&str]) -> Output {
        let out = kellect()
            .arg("record")
            .arg("-o")
            .arg(trace)
            .args(args)
            .arg("--")
            .args(command)
            .output()
            .expect("running kellect record");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("kellect: recorded") && out.status.success(),
            "kellect record {args:?} -- {command:?}: {}\nstdout:\n{}\nstderr:\n{stderr}",
            out.status,
            String::from_utf8_lossy(&out.stdout)
        );
        out
    }

    /// The records of a trace (`-o json-min`), after checking that one and four replay
    /// threads print the same bytes.
    #[track_caller]
    fn records(trace: &Path) -> Vec<Value> {
        let one = replay_records(trace, "json-min", &["-j", "1"]);
        let four = replay_records(trace, "json-min", &["-j", "4"]);
        assert_same_text(&one, &four, "records view, -j 1 against -j 4");
        json_lines(one.as_bytes())
    }

    /// The one record that `pick` selects, or a failure listing the records of `monitor`.
    #[track_caller]
    fn the<'a>(
        recs: &'a [Value],
        what: &str,
        monitor: &str,
        pick: impl Fn(&Value) -> bool,
    ) -> &'a Value {
        let found: Vec<&Value> = recs
            .iter()
            .filter(|r| r["InfoMonitor"] == monitor && pick(r))
            .collect();
        if found.len() == 1 {
            return found[0];
        }
        let all: Vec<String> = recs
            .iter()
            .filter(|r| r["InfoMonitor"] == monitor)
            .map(Value::to_string)
            .collect();
        panic!(
            "expected exactly one {what}, found {}; the {monitor} records:\n{}",
            found.len(),
            all.join("\n")
        );
    }

    /// A script written into `dir`, to run with python3.
    fn script(dir: &Path, name: &str, text: &str) -> String {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }

    fn stdout(out: &Output) -> String {
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Every process that exec'd during the recording has exactly one process record, with
    /// its last exec's arguments and name, an absolute executable and its exit code.
    fn check_process_records(c: &mut Checks, trace: &Path, recs: &[Value]) {
        let mut last_exec: BTreeMap<u64, Value> = BTreeMap::new();
        for e in events(trace) {
            if e["event_type"] == "process_exec" && e["ret"] == 0 {
                last_exec.insert(e["pid"].as_u64().unwrap(), e);
            }
        }
        c.that(!last_exec.is_empty(), || "the trace has no exec".into());
        for (pid, exec) in &last_exec {
            let procs: Vec<&Value> = recs
                .iter()
                .filter(|r| r["InfoMonitor"] == "process" && r["ProcPID"] == *pid)
                .collect();
            let at = format!("process record of pid {pid} ({})", exec["argv"]);
            let [p] = procs.as_slice() else {
                c.that(false, || {
                    format!("{at}: {} records, expected 1", procs.len())
                });
                continue;
            };
            c.eq(&format!("{at}: InfoExport"), &p["InfoExport"], "exit");
            c.eq(
                &format!("{at}: ProcArgv"),
                &p["ProcArgv"],
                exec["argv"].clone(),
            );
            c.eq(&format!("{at}: Proc"), &p["Proc"], exec["comm"].clone());
            c.that(
                p["ProcExe"].as_str().is_some_and(|x| x.starts_with('/')),
                || format!("{at}: ProcExe is not an absolute path: {}", p["ProcExe"]),
            );
            c.that(p["ProcExitCode"].is_u64(), || {
                format!("{at}: ProcExitCode is not a number: {}", p["ProcExitCode"])
            });
        }
    }

    /// The process record of the process named `comm`.
    fn command_process<'a>(recs: &'a [Value], comm: &str) -> Option<&'a Value> {
        recs.iter()
            .find(|r| r["InfoMonitor"] == "process" && r["Proc"] == comm)
    }

    #[test]
    fn dns_query_and_answer_over_udp() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let _dns = Peer::dnsmasq(dir.path(), DNS_PORT);
        let trace = dir.path().join("dns.kz");
        let port = DNS_PORT.to_string();
        let out = record(
            &trace,
            &["-p", &format!("dns=udp/{DNS_PORT}")],
            &[
                "dig",
                "@127.0.0.1",
                "-p",
                &port,
                "+tries=1",
                "+time=2",
                "kellect.test",
                "A",
            ],
        );
        // What dig saw: the answer, its message id and size.
        let dig = stdout(&out);
        assert!(dig.contains("127.0.0.77"), "dig got no answer:\n{dig}");
        let id: u64 = dig
            .split("id: ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("no message id in dig's output:\n{dig}"));
        let received: u64 = dig
            .split("MSG SIZE  rcvd: ")
            .nth(1)
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| panic!("no answer size in dig's output:\n{dig}"));

        let recs = records(&trace);
        let s = the(&recs, "DNS socket record", "socket", |r| {
            r["SockRemotePort"] == DNS_PORT
        });
        let mut c = Checks::default();
        c.eq("InfoMonitor", &s["InfoMonitor"], "socket");
        c.eq("InfoExport", &s["InfoExport"], "close");
        c.eq("SockProtocol", &s["SockProtocol"], "UDP");
        c.eq("SockRole", &s["SockRole"], "CLIENT");
        c.eq("SockFamily", &s["SockFamily"], "AF_INET");
        c.eq("SockRemoteIP", &s["SockRemoteIP"], "127.0.0.1");
        c.eq("SockRemotePort", &s["SockRemotePort"], DNS_PORT);
        c.eq("SockTxPackets", &s["SockTxPackets"], 1);
        c.eq("SockRxPackets", &s["SockRxPackets"], 1);
        c.eq("SockRxBytes", &s["SockRxBytes"], received);
        // A query is a 12-byte header and a question at least.
        c.that(s["SockTxBytes"].as_u64().is_some_and(|n| n > 12), || {
            format!(
                "SockTxBytes: expected the query's size (> 12 bytes), got {}",
                s["SockTxBytes"]
            )
        });
        c.eq("App", &s["App"], "DNS");
        let q = &s["AppTxDns"][0];
        c.eq("AppTxDns[0].TransactionId", &q["TransactionId"], id);
        c.eq("AppTxDns[0].OpCode", &q["OpCode"], "QUERY");
        c.that(
            q["Flags"]
                .as_array()
                .is_some_and(|f| f.contains(&json!("RD"))),
            || {
                format!(
                    "AppTxDns[0].Flags: expected RD among them, got {}",
                    q["Flags"]
                )
            },
        );
        c.eq(
            "AppTxDns[0].ResourceRecords",
            &q["ResourceRecords"],
            json!([["A", "kellect.test"]]),
        );
        let a = &s["AppRxDns"][0];
        c.eq("AppRxDns[0].TransactionId", &a["TransactionId"], id);
        c.eq("AppRxDns[0].ResponseCode", &a["ResponseCode"], "NOERROR");
        c.eq("AppRxDns[0].AnswerCount", &a["AnswerCount"], 1);
        let rr = &a["ResourceRecords"];
        c.that(rr[0][2].is_u64(), || {
            format!("AppRxDns[0].ResourceRecords: no TTL in {rr}")
        });
        c.eq(
            "AppRxDns[0].ResourceRecords",
            rr,
            json!([["A", "kellect.test", rr[0][2].clone(), "IN", "127.0.0.77"]]),
        );
        // The process is dig, whichever of its threads used the socket.
        c.eq("Proc", &s["Proc"], "dig");
        c.eq("ProcUser", &s["ProcUser"], "root");
        c.eq("ProcUID", &s["ProcUID"], 0);
        match command_process(&recs, "dig") {
            Some(p) => c.eq("ProcPID (dig's)", &s["ProcPID"], p["ProcPID"].clone()),
            None => c.that(false, || "no process record of dig".into()),
        }
        check_process_records(&mut c, &trace, &recs);
        c.done(&format!("the DNS socket record:\n{s:#}"));
    }

    /// A client that sends its request line and its headers in two writes, 200 ms apart,
    /// and prints its local port, then the response.
    const SPLIT_CLIENT: &str = r#"
import socket, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
print(s.getsockname()[1], flush=True)
s.sendall(b"GET /hello.txt?split=1 HTTP/1.1\r\n")
time.sleep(0.2)
s.sendall(b"Host: 127.0.0.1:%d\r\nX-Kellect: split\r\nConnection: close\r\n\r\n" % port)
data = b""
while True:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
s.close()
sys.stdout.write(data.decode())
"#;

    /// The checks every HTTP client record gets: a closed TCP client connection to
    /// HTTP_PORT from `local_port`, and HELLO as the answer.
    fn check_http_socket(c: &mut Checks, s: &Value, local_port: u64, port: u16) {
        c.eq("InfoExport", &s["InfoExport"], "tcp-close");
        c.eq("SockProtocol", &s["SockProtocol"], "TCP");
        c.eq("SockRole", &s["SockRole"], "CLIENT");
        c.eq("SockState", &s["SockState"], "TCP_CLOSE");
        c.eq("SockFamily", &s["SockFamily"], "AF_INET");
        c.eq("SockLocalIP", &s["SockLocalIP"], "127.0.0.1");
        c.eq("SockLocalPort", &s["SockLocalPort"], local_port);
        c.eq("SockRemoteIP", &s["SockRemoteIP"], "127.0.0.1");
        c.eq("SockRemotePort", &s["SockRemotePort"], port);
        c.eq("App", &s["App"], "HTTP");
        c.that(
            s["AppTxHttp"].as_array().is_some_and(|a| a.len() == 1),
            || format!("AppTxHttp: expected one request, got {}", s["AppTxHttp"]),
        );
        let rx = &s["AppRxHttp"][0];
        c.eq("AppRxHttp[0]._Status", &rx["_Status"], 200);
        c.that(
            rx["_Reason"].as_str().is_some_and(|r| !r.is_empty()),
            || {
                format!(
                    "AppRxHttp[0]._Reason: expected a phrase, got {}",
                    rx["_Reason"]
                )
            },
        );
        c.eq(
            "AppRxHttp[0].Content-Length",
            &header(rx, "Content-Length"),
            HELLO.len().to_string(),
        );
        c.eq("AppRxHttp[0]._Body", &rx["_Body"], HELLO);
    }

    #[test]
    fn http_request_and_response_over_tcp() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let _http = Peer::http(dir.path(), HTTP_PORT);
        let url = format!("http://127.0.0.1:{HTTP_PORT}/hello.txt");
        let proto = format!("http=tcp/{HTTP_PORT}");
        let mut c = Checks::default();
        let mut context = String::new();

        // curl: one request, one response.
        let trace = dir.path().join("curl.kz");
        let out = record(
            &trace,
            &["-p", &proto],
            &["curl", "-s", "-w", "\n%{local_port}", &url],
        );
        let text = stdout(&out);
        let (body, local_port) = text.rsplit_once('\n').expect("curl's output");
        assert_eq!(body, HELLO, "curl got the file");
        let local_port: u64 = local_port.parse().expect("curl's local port");
        let recs = records(&trace);
        let s = the(&recs, "HTTP socket record of curl", "socket", |r| {
            r["SockRemotePort"] == HTTP_PORT
        });
        check_http_socket(&mut c, s, local_port, HTTP_PORT);
        let tx = &s["AppTxHttp"][0];
        c.eq("AppTxHttp[0]._Method", &tx["_Method"], "GET");
        c.eq("AppTxHttp[0]._Url", &tx["_Url"], "/hello.txt");
        c.eq("AppTxHttp[0]._Version", &tx["_Version"], "HTTP/1.1");
        c.eq(
            "AppTxHttp[0].Host",
            &header(tx, "Host"),
            format!("127.0.0.1:{HTTP_PORT}"),
        );
        c.eq("Proc", &s["Proc"], "curl");
        check_process_records(&mut c, &trace, &recs);
        context.push_str(&format!("curl's socket record:\n{s:#}\n"));

        // A request written in two pieces is still one request.
        let trace = dir.path().join("split.kz");
        let client = script(dir.path(), "split.py", SPLIT_CLIENT);
        let out = record(
            &trace,
            &["-p", &proto],
            &["python3", &client, &HTTP_PORT.to_string()],
        );
        let text = stdout(&out);
        let local_port: u64 = text
            .lines()
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("the split client's output:\n{text}"));
        assert!(
            text.ends_with(HELLO),
            "the split client got the file:\n{text}"
        );
        let recs = records(&trace);
        let s = the(
            &recs,
            "HTTP socket record of the split client",
            "socket",
            |r| r["SockRemotePort"] == HTTP_PORT,
        );
        check_http_socket(&mut c, s, local_port, HTTP_PORT);
        let tx = &s["AppTxHttp"][0];
        c.eq("split: AppTxHttp[0]._Method", &tx["_Method"], "GET");
        c.eq(
            "split: AppTxHttp[0]._Url",
            &tx["_Url"],
            "/hello.txt?split=1",
        );
        c.eq("split: AppTxHttp[0]._Version", &tx["_Version"], "HTTP/1.1");
        c.eq(
            "split: AppTxHttp[0].Host",
            &header(tx, "Host"),
            format!("127.0.0.1:{HTTP_PORT}"),
        );
        c.eq(
            "split: AppTxHttp[0].X-Kellect",
            &header(tx, "X-Kellect"),
            "split",
        );
        c.eq(
            "split: AppTxHttp[0].Connection",
            &header(tx, "Connection"),
            "close",
        );
        c.eq("split: Proc", &s["Proc"], "python3");
        check_process_records(&mut c, &trace, &recs);
        context.push_str(&format!("the split client's socket record:\n{s:#}\n"));
        c.done(&context);
    }

    /// The value of the first `_Headers` entry named `name` (ASCII case ignored) of an HTTP
    /// message; null when there is none.
    fn header(message: &serde_json::Value, name: &str) -> serde_json::Value {
        message["_Headers"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| {
                h["name"]
                    .as_str()
                    .is_some_and(|n| n.eq_ignore_ascii_case(name))
            })
            .map_or(serde_json::Value::Null, |h| h["value"].clone())
    }

    /// The priority, timestamp, host name and the rest of an RFC 3164 message:
    /// `<PRI>Mmm dd hh:mm:ss HOST REST`.
    fn rfc3164(message: &str) -> (u64, &str, &str, &str) {
        let (pri, rest) = message[1..].split_once('>').expect("<PRI>");
        let (stamp, rest) = rest.split_at(15);
        let (host, rest) = rest.trim_start().split_once(' ').expect("a host name");
        (pri.parse().expect("a numeric PRI"), stamp, host, rest)
    }

    /// kflowd's facility and severity names for a priority logger may use by default.
    fn facility_severity(pri: u64) -> (&'static str, &'static str) {
        const SEVERITIES: [&str; 8] = [
            "Emergency (0)",
            "Alert (1)",
            "Critical (2)",
            "Error (3)",
            "Warning (4)",
            "Notice (5)",
            "Informational (6)",
            "Debug (7)",
        ];
        let facility = match pri / 8 {
            0 => "Kernel",
            1 => "User",
            f => panic!("logger sent facility {f}, not user"),
        };
        (facility, SEVERITIES[(pri % 8) as usize])
    }

    #[test]
    fn dns_over_tcp_with_its_length_prefix() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let _dns = Peer::dnsmasq(dir.path(), DNS_TCP_PORT);
        let trace = dir.path().join("dnstcp.kz");
        let port = DNS_TCP_PORT.to_string();
        let out = record(
            &trace,
            &["-p", &format!("dns=tcp/{DNS_TCP_PORT}")],
            &[
                "dig",
                "@127.0.0.1",
                "-p",
                &port,
                "+tcp",
                "+tries=1",
                "+time=2",
                "kellect.test",
                "A",
            ],
        );
        let dig = stdout(&out);
        assert!(dig.contains("127.0.0.77"), "dig got no answer:\n{dig}");
        let recs = records(&trace);
        let s = the(&recs, "DNS/TCP socket record", "socket", |r| {
            r["SockRemotePort"] == DNS_TCP_PORT && r["SockProtocol"] == "TCP"
        });
        let mut c = Checks::default();
        c.eq("App", &s["App"], "DNS");
        c.eq(
            "AppTxDns[0].ResourceRecords",
            &s["AppTxDns"][0]["ResourceRecords"],
            json!([["A", "kellect.test"]]),
        );
        c.eq(
            "AppRxDns[0].ResourceRecords[0][4]",
            &s["AppRxDns"][0]["ResourceRecords"][0][4],
            "127.0.0.77",
        );
        c.eq(
            "AppRxDns[0].TransactionId",
            &s["AppRxDns"][0]["TransactionId"],
            s["AppTxDns"][0]["TransactionId"].clone(),
        );
        c.eq("SockState", &s["SockState"], "TCP_CLOSE");
        c.done(&format!("the DNS/TCP socket record:\n{s:#}"));
    }

    #[test]
    fn syslog_over_tcp() {
        if !live() {
            return;
        }
        // A TCP syslog peer that keeps what it receives.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let received = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            let mut all = Vec::new();
            std::io::Read::read_to_end(&mut conn, &mut all).unwrap();
            all
        });
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("syslogtcp.kz");
        record(
            &trace,
            &["-p", &format!("syslog=tcp/{port}")],
            &[
                "logger",
                "-T",
                "-n",
                "127.0.0.1",
                "-P",
                &port.to_string(),
                "--rfc3164",
                "-t",
                "kellecttcp",
                "over tcp",
            ],
        );
        let sent = String::from_utf8(received.join().unwrap()).unwrap();
        assert!(sent.contains("kellecttcp: over tcp"), "{sent:?}");
        let recs = records(&trace);
        let s = the(&recs, "SYSLOG/TCP socket record", "socket", |r| {
            r["SockRemotePort"] == port
        });
        let mut c = Checks::default();
        c.eq("SockProtocol", &s["SockProtocol"], "TCP");
        c.eq("App", &s["App"], "SYSLOG");
        c.eq("SockTxBytes", &s["SockTxBytes"], sent.len());
        let m = &s["AppTxSyslog"][0];
        c.eq("AppTxSyslog[0].Appname", &m["Appname"], "kellecttcp");
        c.eq("AppTxSyslog[0].Message", &m["Message"], "over tcp");
        c.done(&format!("the peer received {sent:?}\nthe record:\n{s:#}"));
    }

    #[test]
    fn syslog_over_udp() {
        if !live() {
            return;
        }
        let peer = DatagramPeer::udp(SYSLOG_PORT);
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("syslog.kz");
        let port = SYSLOG_PORT.to_string();
        record(
            &trace,
            &["-p", &format!("syslog=udp/{SYSLOG_PORT}")],
            &[
                "logger",
                "-n",
                "127.0.0.1",
                "-P",
                &port,
                "-d",
                "--rfc3164",
                "-t",
                "kellecttest",
                "hello syslog",
            ],
        );
        let got = peer.received();
        assert_eq!(got.len(), 1, "one datagram: {got:?}");
        let sent = String::from_utf8(got[0].clone()).unwrap();
        // logger's default priority is user.notice: <13>.
        let (pri, stamp, host, rest) = rfc3164(&sent);
        assert_eq!(pri, 13, "{sent}");
        assert_eq!(rest, "kellecttest: hello syslog", "{sent}");
        let (facility, severity) = facility_severity(pri);

        let recs = records(&trace);
        let s = the(&recs, "SYSLOG socket record", "socket", |r| {
            r["SockRemotePort"] == SYSLOG_PORT
        });
        let mut c = Checks::default();
        c.eq("InfoExport", &s["InfoExport"], "close");
        c.eq("SockProtocol", &s["SockProtocol"], "UDP");
        c.eq("SockRole", &s["SockRole"], "CLIENT");
        c.eq("SockRemoteIP", &s["SockRemoteIP"], "127.0.0.1");
        c.eq("SockTxPackets", &s["SockTxPackets"], 1);
        c.eq("SockTxBytes", &s["SockTxBytes"], sent.len());
        c.eq("App", &s["App"], "SYSLOG");
        c.eq("Proc", &s["Proc"], "logger");
        let m = &s["AppTxSyslog"][0];
        c.eq("AppTxSyslog[0].Appname", &m["Appname"], "kellecttest");
        c.eq("AppTxSyslog[0].Message", &m["Message"], "hello syslog");
        c.eq("AppTxSyslog[0].Facility", &m["Facility"], facility);
        c.eq("AppTxSyslog[0].Severity", &m["Severity"], severity);
        c.eq("AppTxSyslog[0].Priority", &m["Priority"], pri);
        c.eq("AppTxSyslog[0].Version", &m["Version"], 0);
        c.eq("AppTxSyslog[0].Timestamp", &m["Timestamp"], stamp);
        c.eq("AppTxSyslog[0].Hostname", &m["Hostname"], host);
        check_process_records(&mut c, &trace, &recs);
        c.done(&format!(
            "the peer received {sent:?}\nthe SYSLOG socket record:\n{s:#}"
        ));
    }

    #[test]
    fn syslog_over_the_local_datagram_socket() {
        if !live() {
            return;
        }
        let _turn = DEV_LOG_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        // A host's own /dev/log is left alone: logger's message goes to it.
        let peer = std::fs::symlink_metadata(DEV_LOG)
            .is_err()
            .then(|| DatagramPeer::unix(DEV_LOG));
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("devlog.kz");
        record(
            &trace,
            &["-p", "syslog=unix"],
            &["logger", "-t", "kellectunix", "via devlog"],
        );
        let sent = peer.as_ref().map(|p| {
            let got = p.received();
            assert_eq!(got.len(), 1, "one datagram: {got:?}");
            String::from_utf8(got[0].clone()).unwrap()
        });

        let recs = records(&trace);
        let s = the(&recs, "/dev/log socket record", "socket", |r| {
            r["SockAddress"] == DEV_LOG
        });
        let mut c = Checks::default();
        c.eq("InfoExport", &s["InfoExport"], "close");
        c.eq("SockFamily", &s["SockFamily"], "AF_UNIX");
        c.eq("SockAddress", &s["SockAddress"], DEV_LOG);
        c.eq("SockRole", &s["SockRole"], "CLIENT");
        c.eq("SockTxPackets", &s["SockTxPackets"], 1);
        if let Some(sent) = &sent {
            c.eq("SockTxBytes", &s["SockTxBytes"], sent.len());
            c.that(sent.ends_with("kellectunix: via devlog"), || {
                format!("the peer received {sent:?}")
            });
        }
        c.eq("App", &s["App"], "SYSLOG");
        c.eq("Proc", &s["Proc"], "logger");
        let m = &s["AppTxSyslog"][0];
        c.eq("AppTxSyslog[0].Appname", &m["Appname"], "kellectunix");
        c.eq("AppTxSyslog[0].Message", &m["Message"], "via devlog");
        c.eq("AppTxSyslog[0].Facility", &m["Facility"], "User");
        c.eq("AppTxSyslog[0].Severity", &m["Severity"], "Notice (5)");
        c.eq("AppTxSyslog[0].Priority", &m["Priority"], 13);
        // A local message carries no host name.
        c.eq("AppTxSyslog[0].Hostname", &m["Hostname"], Value::Null);
        check_process_records(&mut c, &trace, &recs);
        c.done(&format!(
            "/dev/log received {sent:?}\nthe /dev/log socket record:\n{s:#}"
        ));
    }

    /// Creates a file with mode 0640, writes 100 then 23 bytes, closes, renames, deletes.
    const FILE_LIFE: &str = r#"
import os, sys
d = sys.argv[1]
os.umask(0)
fd = os.open(os.path.join(d, "kellect-a.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
os.write(fd, b"x" * 100)
os.write(fd, b"y" * 23)
os.close(fd)
os.rename(os.path.join(d, "kellect-a.txt"), os.path.join(d, "kellect-b.txt"))
os.unlink(os.path.join(d, "kellect-b.txt"))
"#;

    #[test]
    fn file_created_written_renamed_deleted() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().canonicalize().unwrap().join("work");
        std::fs::create_dir(&work).unwrap();
        let work = work.to_str().unwrap().to_owned();
        let trace = dir.path().join("files.kz");
        let py = script(dir.path(), "files.py", FILE_LIFE);
        record(&trace, &[], &["python3", &py, &work]);

        let recs = records(&trace);
        let dir_path = format!("{work}/");
        let mine: Vec<&Value> = recs
            .iter()
            .filter(|r| r["InfoMonitor"] == "filesystem" && r["FilePath"] == dir_path)
            .collect();
        let mut c = Checks::default();
        c.that(mine.len() == 3, || {
            format!(
                "{} filesystem records in {dir_path}, expected 3 (write, rename, delete)",
                mine.len()
            )
        });
        let written = the(&recs, "record of the written file", "filesystem", |r| {
            r["FilePath"] == dir_path && r["File"] == "kellect-a.txt"
        });
        c.eq("written: InfoExport", &written["InfoExport"], "close");
        c.eq(
            "written: FileEvents",
            &written["FileEvents"],
            json!({"CREATE": 1, "MODIFY": 2, "CLOSE_WRITE": 1}),
        );
        c.eq("written: FileEventCount", &written["FileEventCount"], 4);
        c.eq("written: FileSize", &written["FileSize"], 123);
        c.eq("written: FileSizeChange", &written["FileSizeChange"], 123);
        c.eq("written: FileMode", &written["FileMode"], "regular");
        c.eq(
            "written: FilePermissions",
            &written["FilePermissions"],
            "0640/-rw-r-----",
        );
        c.eq("written: FileUser", &written["FileUser"], "root");
        c.eq("written: FileUID", &written["FileUID"], 0);
        c.eq(
            "written: FileInodeLinkCount",
            &written["FileInodeLinkCount"],
            1,
        );
        c.eq("written: Proc", &written["Proc"], "python3");
        c.eq("written: ProcUser", &written["ProcUser"], "root");
        let inode = written["FileInode"].clone();
        c.that(inode.is_u64(), || format!("written: FileInode {inode}"));

        let renamed = the(&recs, "rename record", "filesystem", |r| {
            r["FilePath"] == dir_path && r["File"] == "kellect-b.txt" && r["InfoExport"] != "delete"
        });
        c.eq("renamed: InfoExport", &renamed["InfoExport"], "rename");
        c.eq(
            "renamed: FileOrigin",
            &renamed["FileOrigin"],
            format!("{work}/kellect-a.txt"),
        );
        c.eq(
            "renamed: FileEvents",
            &renamed["FileEvents"],
            json!({"MOVED_FROM": 1, "MOVED_TO": 1}),
        );
        c.eq("renamed: FileInode", &renamed["FileInode"], inode.clone());
        c.eq("renamed: FileSize", &renamed["FileSize"], 123);

        let deleted = the(&recs, "delete record", "filesystem", |r| {
            r["FilePath"] == dir_path && r["InfoExport"] == "delete"
        });
        c.eq("deleted: File", &deleted["File"], "kellect-b.txt");
        c.eq(
            "deleted: FileEvents",
            &deleted["FileEvents"],
            json!({"DELETE": 1}),
        );
        c.eq("deleted: FileInode", &deleted["FileInode"], inode);
        check_process_records(&mut c, &trace, &recs);
        c.done(&format!(
            "the records in {dir_path}:\n{}",
            mine.iter()
                .map(|r| format!("{r:#}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }

    /// Builds tests/workloads/files.c into `dir`; returns the program's path.
    #[track_caller]
    fn build_files_workload(dir: &Path) -> String {
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/files.c");
        let program = dir.join("files");
        let out = Command::new("cc")
            .args(["-O1", "-o"])
            .arg(&program)
            .arg(&source)
            .output()
            .expect("running cc (gcc or clang must be installed)");
        assert!(
            out.status.success(),
            "cc {} failed:\n{}",
            source.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        program.to_str().unwrap().to_owned()
    }

    /// The four cases of path-based changes (tests/workloads/files.sh): chmod by path, a
    /// reused inode number, the unlink of one of two links, renameat2 with RENAME_EXCHANGE,
    /// RENAME_NOREPLACE and RENAME_WHITEOUT; right in the records view and in the events
    /// view. In cargo's target directory: a disk filesystem (ext4 here) hands a deleted
    /// file's inode number out again, tmpfs does not.
    #[test]
    fn path_based_changes_reach_the_file_records() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let work = dir.path().canonicalize().unwrap().join("work");
        std::fs::create_dir(&work).unwrap();
        let work = work.to_str().unwrap().to_owned();
        let program = build_files_workload(dir.path());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/files.sh");
        let trace = dir.path().join("files.kz");
        record(
            &trace,
            &[],
            &["sh", script.to_str().unwrap(), &work, &program],
        );

        let recs = records(&trace);
        let evs = events(&trace);
        let failures = super::file_life_failures(&recs, &evs, &work);
        let mine: Vec<String> = recs
            .iter()
            .filter(|r| r["FilePath"] == format!("{work}/").as_str())
            .map(|r| format!("{r:#}"))
            .collect();
        assert!(
            failures.is_empty(),
            "{} failed expectation(s):\n  {}\n\nthe records in {work}:\n{}",
            failures.len(),
            failures.join("\n  "),
            mine.join("\n")
        );
    }

    /// Records `sh -c SCRIPT` run in a new directory `work` (on a disk filesystem, in
    /// cargo's target directory); returns the records and `work`'s absolute path.
    #[track_caller]
    fn shell_records(script: &str) -> (Vec<Value>, String, tempfile::TempDir) {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let work = dir.path().canonicalize().unwrap().join("work");
        std::fs::create_dir(&work).unwrap();
        let work = work.to_str().unwrap().to_owned();
        let trace = dir.path().join("shell.kz");
        record(
            &trace,
            &[],
            &["sh", "-c", &format!("cd '{work}' && umask 022 && {script}")],
        );
        (records(&trace), work, dir)
    }

    /// The filesystem records of files in `dir` (an absolute directory, no trailing /),
    /// pretty-printed, for failure messages.
    fn records_in(recs: &[Value], dir: &str) -> String {
        let in_dir = format!("{dir}/");
        recs.iter()
            .filter(|r| r["InfoMonitor"] == "filesystem" && r["FilePath"] == in_dir.as_str())
            .map(|r| format!("{r:#}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// An open through a symlink reaches its target, but the unlink of the symlink takes
    /// no link from the target: t keeps link count 1 until its own unlink (then 0), and
    /// the delete record of s is the symlink's, not t's.
    #[test]
    fn unlinking_a_symlink_leaves_its_target_alone() {
        if !live() {
            return;
        }
        let (recs, work, _dir) =
            shell_records("echo x > t && ln -s t s && cat s && rm s && cat t && rm t");
        let in_dir = format!("{work}/");
        let mut c = Checks::default();
        let mine = |file: &str| -> Vec<&Value> {
            recs.iter()
                .filter(|r| {
                    r["InfoMonitor"] == "filesystem"
                        && r["FilePath"] == in_dir.as_str()
                        && r["File"] == file
                })
                .collect()
        };
        let written = the(&recs, "record of t written by sh", "filesystem", |r| {
            r["FilePath"] == in_dir.as_str() && r["File"] == "t" && r["Proc"] == "sh"
        });
        let t_inode = written["FileInode"].clone();
        c.that(t_inode.is_u64(), || format!("t: FileInode {t_inode}"));
        // Every record of t (sh's write, cat's read, rm's delete) and cat's read of s
        // (which reached t): t's inode, one link until rm t, then none.
        let t_records = mine("t");
        c.that(t_records.len() == 3, || {
            format!("{} records of t, expected 3 (sh, cat, rm)", t_records.len())
        });
        for r in t_records {
            let what = format!("t, {} by {}", r["InfoExport"], r["Proc"]);
            let links = if r["InfoExport"] == "delete" { 0 } else { 1 };
            c.eq(
                &format!("{what}: FileInode"),
                &r["FileInode"],
                t_inode.clone(),
            );
            c.eq(
                &format!("{what}: FileInodeLinkCount"),
                &r["FileInodeLinkCount"],
                links,
            );
            c.eq(&format!("{what}: FileMode"), &r["FileMode"], "regular");
        }
        let read_s = the(&recs, "cat's record of s", "filesystem", |r| {
            r["FilePath"] == in_dir.as_str() && r["File"] == "s" && r["Proc"] == "cat"
        });
        c.eq(
            "cat s: FileInode (t's)",
            &read_s["FileInode"],
            t_inode.clone(),
        );
        c.eq(
            "cat s: FileInodeLinkCount",
            &read_s["FileInodeLinkCount"],
            1,
        );
        c.eq("cat s: FileSize", &read_s["FileSize"], 2);
        let deleted_s = the(&recs, "delete record of s", "filesystem", |r| {
            r["FilePath"] == in_dir.as_str() && r["File"] == "s" && r["InfoExport"] == "delete"
        });
        c.that(
            deleted_s["FileInode"].is_u64() && deleted_s["FileInode"] != t_inode,
            || {
                format!(
                    "rm s: FileInode {} should be the symlink's, not t's {t_inode}",
                    deleted_s["FileInode"]
                )
            },
        );
        c.eq("rm s: FileMode", &deleted_s["FileMode"], "symlink");
        c.eq(
            "rm s: FileInodeLinkCount",
            &deleted_s["FileInodeLinkCount"],
            0,
        );
        c.eq(
            "rm s: FileSize (the target's length)",
            &deleted_s["FileSize"],
            1,
        );
        c.done(&format!(
            "the records in {in_dir}:\n{}",
            records_in(&recs, &work)
        ));
    }

    /// The names under a renamed directory follow it: the delete record of e/f, after
    /// `mv d e`, has f's attributes.
    #[test]
    fn a_file_in_a_renamed_directory_keeps_its_values() {
        if !live() {
            return;
        }
        let (recs, work, _dir) = shell_records("mkdir d && echo x > d/f && mv d e && rm e/f");
        let (in_d, in_e) = (format!("{work}/d/"), format!("{work}/e/"));
        let mut c = Checks::default();
        let written = the(&recs, "record of d/f written by sh", "filesystem", |r| {
            r["FilePath"] == in_d.as_str() && r["File"] == "f"
        });
        let inode = written["FileInode"].clone();
        c.that(inode.is_u64(), || format!("d/f: FileInode {inode}"));
        let deleted = the(&recs, "delete record of e/f", "filesystem", |r| {
            r["FilePath"] == in_e.as_str() && r["File"] == "f"
        });
        c.eq("rm e/f: InfoExport", &deleted["InfoExport"], "delete");
        c.eq("rm e/f: FileInode", &deleted["FileInode"], inode);
        c.eq("rm e/f: FileMode", &deleted["FileMode"], "regular");
        c.eq("rm e/f: FileSize", &deleted["FileSize"], 2);
        c.eq(
            "rm e/f: FilePermissions",
            &deleted["FilePermissions"],
            "0644/-rw-r--r--",
        );
        c.eq(
            "rm e/f: FileInodeLinkCount",
            &deleted["FileInodeLinkCount"],
            0,
        );
        c.done(&format!(
            "the records in {in_d} and {in_e}:\n{}\n{}",
            records_in(&recs, &format!("{work}/d")),
            records_in(&recs, &format!("{work}/e"))
        ));
    }

    /// The same file life, but written through a duplicate of its fd, as a shell's
    /// `> file` does: open, dup2 to another fd, close the first, write, close the dup.
    const FILE_THROUGH_DUP: &str = r#"
import os, sys
d = sys.argv[1]
os.umask(0)
fd = os.open(os.path.join(d, "kellect-dup.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
os.dup2(fd, 9)
os.close(fd)
os.write(9, b"x" * 100)
os.write(9, b"y" * 23)
os.close(9)
"#;

    #[test]
    fn file_written_through_a_duplicate_fd_is_one_record() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().canonicalize().unwrap().join("work");
        std::fs::create_dir(&work).unwrap();
        let work = work.to_str().unwrap().to_owned();
        let trace = dir.path().join("dup.kz");
        let py = script(dir.path(), "dup.py", FILE_THROUGH_DUP);
        record(&trace, &[], &["python3", &py, &work]);

        let recs = records(&trace);
        let dir_path = format!("{work}/");
        let mine: Vec<&Value> = recs
            .iter()
            .filter(|r| r["InfoMonitor"] == "filesystem" && r["FilePath"] == dir_path)
            .collect();
        let mut c = Checks::default();
        c.that(mine.len() == 1, || {
            format!(
                "{} filesystem records in {dir_path}, expected 1",
                mine.len()
            )
        });
        if let Some(r) = mine.first() {
            // The file is closed when its last fd is: the dup's close.
            c.eq("InfoExport", &r["InfoExport"], "close");
            c.eq(
                "FileEvents",
                &r["FileEvents"],
                json!({"CREATE": 1, "MODIFY": 2, "CLOSE_WRITE": 1}),
            );
            c.eq("FileSize", &r["FileSize"], 123);
            c.eq("FileSizeChange", &r["FileSizeChange"], 123);
        }
        c.done(&format!(
            "the records in {dir_path}:\n{}",
            mine.iter()
                .map(|r| format!("{r:#}"))
                .collect::<Vec<_>>()
                .join("\n")
        ));
    }

    /// Connects to argv[1]; prints "refused" when the connection is refused.
    const REFUSED_CLIENT: &str = r#"
import socket, sys
s = socket.socket()
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
    print("connected")
except ConnectionRefusedError:
    print("refused")
s.close()
"#;

    #[test]
    fn tcp_connect_refused() {
        if !live() {
            return;
        }
        // A port nothing listens on: one the kernel just handed out and took back.
        let port = TcpListener::bind(("127.0.0.1", 0))
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("refused.kz");
        let py = script(dir.path(), "refused.py", REFUSED_CLIENT);
        let out = record(&trace, &[], &["python3", &py, &port.to_string()]);
        assert_eq!(stdout(&out).trim(), "refused", "the connection was refused");

        let recs = records(&trace);
        let s = the(
            &recs,
            "socket record of the refused connect",
            "socket",
            |r| r["SockRemotePort"] == port,
        );
        let mut c = Checks::default();
        c.eq("InfoExport", &s["InfoExport"], "tcp-close");
        c.eq("SockProtocol", &s["SockProtocol"], "TCP");
        c.eq("SockRole", &s["SockRole"], "CLIENT");
        c.eq("SockState", &s["SockState"], "TCP_CLOSE");
        c.eq("SockReset", &s["SockReset"], "RX");
        c.eq("SockRemoteIP", &s["SockRemoteIP"], "127.0.0.1");
        c.eq("SockRemotePort", &s["SockRemotePort"], port);
        c.eq("SockTxBytes", &s["SockTxBytes"], 0);
        c.eq("SockRxBytes", &s["SockRxBytes"], 0);
        c.eq("Proc", &s["Proc"], "python3");
        check_process_records(&mut c, &trace, &recs);
        c.done(&format!("the socket record:\n{s:#}"));
    }

    /// Accepts one connection, reads from it, then closes it with SO_LINGER {1, 0}: an RST.
    /// Prints its port first.
    const RESET_SERVER: &str = r#"
import socket, struct
srv = socket.socket()
srv.bind(("127.0.0.1", 0))
srv.listen(1)
print(srv.getsockname()[1], flush=True)
c, _ = srv.accept()
c.recv(100)
c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
c.close()
srv.close()
"#;

    /// Connects, sends "ping", reads; prints its local port, then "reset" if it was reset.
    const RESET_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
print(s.getsockname()[1])
s.sendall(b"ping")
try:
    print(repr(s.recv(100)))
except ConnectionResetError:
    print("reset")
s.close()
"#;

    #[test]
    fn tcp_connection_reset_by_the_peer() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let server = script(dir.path(), "server.py", RESET_SERVER);
        let mut peer = Peer::start("reset-server", dir.path(), "python3", &[&server]);
        let port: u16 = peer.line().parse().expect("the server's port");
        let trace = dir.path().join("reset.kz");
        let client = script(dir.path(), "client.py", RESET_CLIENT);
        let out = record(&trace, &[], &["python3", &client, &port.to_string()]);
        let text = stdout(&out);
        let mut lines = text.lines();
        let local_port: u64 = lines
            .next()
            .and_then(|l| l.parse().ok())
            .unwrap_or_else(|| panic!("the client's output:\n{text}"));
        assert_eq!(lines.next(), Some("reset"), "the client was reset:\n{text}");

        let recs = records(&trace);
        let s = the(
            &recs,
            "socket record of the reset connection",
            "socket",
            |r| r["SockRemotePort"] == port,
        );
        let mut c = Checks::default();
        c.eq("InfoExport", &s["InfoExport"], "tcp-close");
        c.eq("SockProtocol", &s["SockProtocol"], "TCP");
        c.eq("SockRole", &s["SockRole"], "CLIENT");
        c.eq("SockState", &s["SockState"], "TCP_CLOSE");
        c.eq("SockReset", &s["SockReset"], "RX");
        c.eq("SockLocalIP", &s["SockLocalIP"], "127.0.0.1");
        c.eq("SockLocalPort", &s["SockLocalPort"], local_port);
        c.eq("SockRemotePort", &s["SockRemotePort"], port);
        c.eq("SockTxBytes", &s["SockTxBytes"], 4);
        c.eq("Proc", &s["Proc"], "python3");
        check_process_records(&mut c, &trace, &recs);
        c.done(&format!("the socket record:\n{s:#}"));
    }

    #[test]
    fn live_prints_what_replay_prints() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let _http = Peer::http(dir.path(), HTTP_LIVE_PORT);
        let trace = dir.path().join("live.kz");
        let url = format!("http://127.0.0.1:{HTTP_LIVE_PORT}/hello.txt");
        let out = kellect()
            .arg("live")
            .arg("-w")
            .arg(&trace)
            .args([
                "-o",
                "json-min",
                "-p",
                &format!("http=tcp/{HTTP_LIVE_PORT}"),
            ])
            .args(["--", "curl", "-s", "-o", "/dev/null", &url])
            .output()
            .expect("running kellect live");
        assert!(
            out.status.success(),
            "kellect live: {}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        let printed = String::from_utf8(out.stdout).expect("UTF-8");
        let replayed = replay_records(&trace, "json-min", &[]);
        assert_same_text(&replayed, &printed, "kellect live against kellect replay");
        let recs = json_lines(printed.as_bytes());
        assert!(
            recs.iter().any(|r| r["App"] == "HTTP"
                && r["SockRemotePort"] == HTTP_LIVE_PORT
                && r["AppTxHttp"][0]["_Url"] == "/hello.txt"),
            "kellect live printed no HTTP record of curl:\n{printed}"
        );
        // The same bytes for any number of replay threads.
        records(&trace);
    }
}
