//! The file event types beyond Kellect's 38: owner changes (`file_chown`), times
//! (`file_utime`), extended attributes (`file_setxattr`, `file_removexattr`) and in-kernel
//! copies (`file_copy`), from tests/workloads/files2.c and files2.sh (which adds what a
//! user types: `touch -m -t`, `chown`, `cp`, `cat >`). Recorded live, every event carries
//! the values the workload chose and strace saw; the records view shows the forged times,
//! the new owner and the copied bytes. The fixture fixtures/files2.kz (see
//! fixtures/regenerate.sh) replays byte for byte without root.

use serde_json::Value;

use crate::catalogue::BEYOND_38;
use crate::util::replay_json_min as replay;
use crate::util::{assert_fixture_replays, fixture, info, json_lines};

/// The records view's value for a modification time of `1970-01-01 00:00:00 UTC`.
const EPOCH: &str = "Thu, Jan 01 1970 00:00:00.000000000 UTC";

/// The one record of the file named `name` written by process `proc` with event `kind`.
#[track_caller]
fn record<'a>(records: &'a [Value], name: &str, proc_: &str, kind: &str) -> &'a Value {
    let found: Vec<&Value> = records
        .iter()
        .filter(|r| r["File"] == name && r["Proc"] == proc_ && r["FileEvents"].get(kind).is_some())
        .collect();
    assert_eq!(
        found.len(),
        1,
        "records of {name} by {proc_} with {kind}: {found:#?}"
    );
    found[0]
}

/// What the workload's shell part leaves in the records view, in any recording of it: the
/// forged mtime, the new owner, the bytes `cp` and `cat` copied (3000 each).
#[track_caller]
fn assert_user_commands_in_records(records: &[Value]) {
    let touched = record(records, "t", "touch", "ATTRIB");
    assert_eq!(touched["FileModificationTime"], EPOCH, "{touched}");
    let chowned = record(records, "t", "chown", "ATTRIB");
    assert_eq!(
        [&chowned["FileUID"], &chowned["FileGID"]],
        [1000, 1000],
        "{chowned}"
    );
    assert_eq!(chowned["FileModificationTime"], EPOCH, "{chowned}");
    for (name, proc_) in [("cp.out", "cp"), ("cat.out", "cat")] {
        let dst = record(records, name, proc_, "MODIFY");
        assert_eq!(dst["FileSize"], 3000, "{dst}");
        assert_eq!(dst["FileEvents"]["CLOSE_WRITE"], 1, "{dst}");
        let src = record(records, "src", proc_, "ACCESS");
        assert_eq!(src["FileSize"], 3000, "{src}");
    }
}

#[test]
fn files2_fixture_replays_byte_for_byte() {
    assert_fixture_replays("files2");
}

#[test]
fn files2_fixture_holds_the_new_types_and_the_user_commands() {
    let trace = fixture("files2.kz");
    let events = json_lines(replay(&trace, &["--view", "events"]).as_bytes());
    // Recorded with `-e file`: only file syscalls, and every new type among them.
    let groups = info(&trace)["syscalls_by_group"].clone();
    let groups: Vec<&String> = groups.as_object().expect("a map").keys().collect();
    assert_eq!(groups, ["file"], "fixtures/files2.kz");
    for ty in BEYOND_38 {
        assert!(
            events.iter().any(|e| e["event_type"] == ty),
            "fixtures/files2.kz has no {ty}"
        );
    }
    // touch -m -t 197001010000: utimensat on its fd 0, mtime 0, atime left alone.
    let touch = events
        .iter()
        .find(|e| e["comm"] == "touch" && e["event_type"] == "file_utime")
        .expect("touch's utimensat");
    assert_eq!(touch["atime"], "UTIME_OMIT", "{touch}");
    assert_eq!(touch["mtime"], "1970-01-01T00:00:00Z", "{touch}");
    assert_eq!(touch["mtime_ns"], 0, "{touch}");
    assert_user_commands_in_records(&json_lines(replay(&trace, &[]).as_bytes()));
}

#[cfg(feature = "record")]
mod live {
    use std::collections::HashMap;
    use std::path::{Path, PathBuf};

    use serde_json::{json, Value};

    use super::{assert_user_commands_in_records, replay};
    use crate::catalogue::live::{key_values, Keys};
    use crate::catalogue::BEYOND_38;
    use crate::live::live;
    use crate::util::{info, json_lines};

    /// The workload compiled, a scratch directory, and a recording of files2.sh.
    struct Run {
        _dir: tempfile::TempDir,
        scratch: PathBuf,
        trace: PathBuf,
        /// What files2.c printed: `key=value`.
        values: HashMap<String, String>,
        events: Vec<Value>,
        /// The events' JSON lines as written.
        text: String,
    }

    impl Run {
        /// Records `[WRAP...] sh files2.sh SCRATCH ./files2`.
        #[track_caller]
        fn record(wrap: &[&str]) -> Run {
            let dir = crate::util::compile_workload("files2.c", &["-O1"], "files2");
            let root = Path::new(env!("CARGO_MANIFEST_DIR"));
            let scratch = dir.path().join("scratch");
            std::fs::create_dir(&scratch).unwrap();
            let trace = dir.path().join("files2.kz");
            let script = root.join("tests/workloads/files2.sh");
            let mut args: Vec<&std::ffi::OsStr> = wrap.iter().map(|a| a.as_ref()).collect();
            args.extend([
                "sh".as_ref(),
                script.as_os_str(),
                scratch.as_os_str(),
                "./files2".as_ref(),
            ]);
            let out = crate::util::record_in(dir.path(), &trace, &args);
            let values = key_values(&out.stdout);
            let text = replay(&trace, &["--view", "events"]);
            Run {
                scratch,
                trace,
                values,
                events: json_lines(text.as_bytes()),
                text,
                _dir: dir,
            }
        }

        #[track_caller]
        fn int(&self, key: &str) -> i64 {
            self.values
                .get(key)
                .unwrap_or_else(|| panic!("the workload printed no {key}: {:?}", self.values))
                .parse()
                .unwrap()
        }

        fn path(&self, name: &str) -> String {
            format!("{}/{name}", self.scratch.display())
        }

        /// The events of `syscall` made by the C workload, in order.
        fn of(&self, syscall: &str) -> Vec<&Value> {
            let pid = self.int("pid");
            self.events
                .iter()
                .filter(|e| e["syscall"] == syscall && e["pid"] == pid)
                .collect()
        }
    }

    /// Every `(key, value)` of `want` is in `e` (`Value::Null`: the key is absent).
    #[track_caller]
    fn assert_fields(e: &Value, want: &[(&str, Value)]) {
        for (k, v) in want {
            let got = e.get(*k).unwrap_or(&Value::Null);
            assert_eq!(got, v, "{k} of {e}");
        }
    }

    #[test]
    fn owner_time_xattr_and_copy_syscalls_carry_their_values() {
        if !live() {
            return;
        }
        let run = Run::record(&[]);
        let p = |n: &str| json!(run.path(n));
        let v = |k: &str| json!(run.int(k));
        let fd = v("fd");
        let dirfd = v("dirfd");
        let owned = p("owned");

        // ---- file_chown ----
        let [chown] = run.of("chown")[..] else {
            panic!("{:#?}", run.of("chown"))
        };
        assert_fields(
            chown,
            &[
                ("event_type", json!("file_chown")),
                ("ret", json!(0)),
                ("path", owned.clone()),
                ("path_arg", json!("owned")),
                ("new_uid", json!(1000)),
                ("new_gid", json!(1000)),
            ],
        );
        let [lchown] = run.of("lchown")[..] else {
            panic!()
        };
        assert_fields(
            lchown,
            &[
                ("path", p("link")),
                ("new_uid", json!(1001)),
                ("new_gid", json!(-1)),
            ],
        );
        let [fchown] = run.of("fchown")[..] else {
            panic!()
        };
        assert_fields(
            fchown,
            &[
                ("fd", fd.clone()),
                ("path", owned.clone()),
                ("ino", v("ino_owned")),
                ("new_uid", json!(-1)),
                ("new_gid", json!(1002)),
            ],
        );
        let fchownat = run.of("fchownat");
        assert_eq!(fchownat.len(), 2, "{fchownat:#?}");
        assert_fields(
            fchownat[0],
            &[
                ("dfd", json!("AT_FDCWD")),
                ("path", owned.clone()),
                ("new_uid", json!(1003)),
                ("new_gid", json!(1004)),
                ("flags", json!(0)),
            ],
        );
        assert_fields(
            fchownat[1],
            &[
                ("ret", json!(-2)),
                ("error", json!("ENOENT")),
                ("path", p("missing")),
                ("flags_text", json!("AT_SYMLINK_NOFOLLOW")),
            ],
        );

        // ---- file_utime: the times asked for, named ----
        let utimensat = run.of("utimensat");
        assert_eq!(utimensat.len(), 4, "{utimensat:#?}");
        assert_fields(
            utimensat[0],
            &[
                ("event_type", json!("file_utime")),
                ("dfd", json!("AT_FDCWD")),
                ("path", owned.clone()),
                ("atime", json!("2001-09-09T01:46:40.123456789Z")),
                ("atime_ns", json!(1_000_000_000_123_456_789_i64)),
                ("mtime", json!("UTIME_OMIT")),
                ("mtime_ns", Value::Null),
                ("flags", json!(0)),
            ],
        );
        assert_fields(
            utimensat[1],
            &[
                ("path", p("link")),
                ("atime", json!("UTIME_NOW")),
                ("mtime", json!("1970-01-02T00:00:00.000000005Z")),
                ("mtime_ns", json!(86_400_000_000_005_i64)),
                ("flags_text", json!("AT_SYMLINK_NOFOLLOW")),
            ],
        );
        assert_fields(
            utimensat[2],
            &[("atime", json!("now")), ("mtime", json!("now"))],
        );
        assert_fields(
            utimensat[3],
            &[
                ("dfd", dirfd.clone()),
                ("path", owned.clone()),
                ("atime_ns", json!(1_700_000_000_000_000_000_i64)),
                ("mtime", json!("2009-02-13T23:31:30.5Z")),
                ("mtime_ns", json!(1_234_567_890_500_000_000_i64)),
            ],
        );
        if cfg!(target_arch = "x86_64") {
            let [utimes] = run.of("utimes")[..] else {
                panic!()
            };
            assert_fields(
                utimes,
                &[
                    ("path", owned.clone()),
                    ("atime_ns", json!(2_000_000_001_000_i64)),
                    ("mtime_ns", json!(3_000_000_002_000_i64)),
                ],
            );
            let [futimesat] = run.of("futimesat")[..] else {
                panic!()
            };
            assert_fields(
                futimesat,
                &[
                    ("dfd", dirfd.clone()),
                    ("path", owned.clone()),
                    ("atime", json!("1970-01-01T01:06:40Z")),
                    ("mtime_ns", json!(5_000_000_007_000_i64)),
                ],
            );
            let [utime] = run.of("utime")[..] else {
                panic!()
            };
            assert_fields(
                utime,
                &[
                    ("atime_ns", json!(6_000_000_000_000_i64)),
                    ("mtime", json!("1970-01-01T01:56:40Z")),
                ],
            );
        }

        // ---- file_setxattr / file_removexattr ----
        let [setxattr] = run.of("setxattr")[..] else {
            panic!()
        };
        assert_fields(
            setxattr,
            &[
                ("event_type", json!("file_setxattr")),
                ("path", owned.clone()),
                ("name", json!("user.kellect")),
                ("size", json!(5)),
                ("flags_text", json!("XATTR_CREATE")),
            ],
        );
        let [lsetxattr] = run.of("lsetxattr")[..] else {
            panic!()
        };
        assert_fields(
            lsetxattr,
            &[
                ("name", json!("user.l")),
                ("size", json!(3)),
                ("flags", json!(0)),
            ],
        );
        let fsetxattr = run.of("fsetxattr");
        assert_eq!(fsetxattr.len(), 2, "{fsetxattr:#?}");
        assert_fields(
            fsetxattr[0],
            &[
                ("fd", fd.clone()),
                ("path", owned.clone()),
                ("name", json!("user.kellect")),
                ("size", json!(10)),
                ("flags_text", json!("XATTR_REPLACE")),
            ],
        );
        assert_fields(
            fsetxattr[1],
            &[("error", json!("ENODATA")), ("name", json!("user.none"))],
        );
        let [removexattr] = run.of("removexattr")[..] else {
            panic!()
        };
        assert_fields(
            removexattr,
            &[
                ("event_type", json!("file_removexattr")),
                ("path", owned.clone()),
                ("name", json!("user.l")),
            ],
        );
        let [lremovexattr] = run.of("lremovexattr")[..] else {
            panic!()
        };
        assert_fields(lremovexattr, &[("name", json!("user.kellect"))]);
        let [fremovexattr] = run.of("fremovexattr")[..] else {
            panic!()
        };
        assert_fields(
            fremovexattr,
            &[("fd", fd.clone()), ("error", json!("ENODATA"))],
        );
        // setxattrat/removexattrat (Linux 6.13+): the size and flags come from the
        // struct xattr_args read at entry; AT_* flags have keys of their own.
        if run.int("setxattrat") == 0 {
            let [at] = run.of("setxattrat")[..] else {
                panic!()
            };
            assert_fields(
                at,
                &[
                    ("path", owned.clone()),
                    ("at_flags", json!(0)),
                    ("name", json!("user.at")),
                    ("size", json!(4)),
                    ("flags_text", json!("XATTR_CREATE")),
                ],
            );
            let [rm] = run.of("removexattrat")[..] else {
                panic!()
            };
            assert_fields(rm, &[("name", json!("user.at")), ("at_flags", json!(0))]);
        }

        // ---- file_copy: both ends, the bytes moved ----
        let [cfr] = run.of("copy_file_range")[..] else {
            panic!()
        };
        assert_fields(
            cfr,
            &[
                ("event_type", json!("file_copy")),
                ("fd_in", v("src")),
                ("path", p("src")),
                ("ino", v("ino_src")),
                ("fd_out", v("dst")),
                ("path_out", p("dst")),
                ("ino_out", v("ino_dst")),
                ("len", json!(3000)),
                ("bytes", json!(3000)),
            ],
        );
        let [sendfile] = run.of("sendfile")[..] else {
            panic!()
        };
        assert_fields(
            sendfile,
            &[
                ("fd_in", v("src")),
                ("path", p("src")),
                ("fd_out", v("dst2")),
                ("path_out", p("dst2")),
                ("ino_out", v("ino_dst2")),
                ("bytes", json!(1000)),
            ],
        );
        let splice = run.of("splice");
        assert_eq!(splice.len(), 2, "{splice:#?}");
        assert_fields(
            splice[0],
            &[
                ("fd_in", v("src")),
                ("path", p("src")),
                ("fd_out", v("pipe_w")),
                ("bytes", json!(500)),
            ],
        );
        let pipe_ino = splice[0]["ino_out"].clone();
        assert_eq!(
            splice[0]["path_out"],
            json!(format!("pipe:[{pipe_ino}]")),
            "{}",
            splice[0]
        );
        assert_fields(
            splice[1],
            &[
                ("fd_in", v("pipe_r")),
                ("ino", pipe_ino.clone()),
                ("fd_out", v("dst3")),
                ("path_out", p("dst3")),
                ("ino_out", v("ino_dst3")),
                ("bytes", json!(500)),
            ],
        );
        let [tee] = run.of("tee")[..] else { panic!() };
        assert_fields(
            tee,
            &[
                ("fd_in", v("pipe_r")),
                ("ino", pipe_ino),
                ("fd_out", v("pipe2_w")),
                ("bytes", json!(500)),
            ],
        );
        // No event repeats a key (the *xattrat's two kinds of flags).
        for line in run.text.lines() {
            let Keys(mut keys) = serde_json::from_str(line).unwrap();
            let n = keys.len();
            keys.sort();
            keys.dedup();
            assert_eq!(keys.len(), n, "a key repeated: {line}");
        }
        for ty in BEYOND_38 {
            assert!(run.events.iter().any(|e| e["event_type"] == ty), "no {ty}");
        }

        // ---- the records view ----
        let records = json_lines(replay(&run.trace, &[]).as_bytes());
        let owned_last = records
            .iter()
            .rfind(|r| r["File"] == "owned" && r["Proc"] == "files2")
            .expect("a record of owned");
        assert_eq!(
            [&owned_last["FileUID"], &owned_last["FileGID"]],
            [1003, 1004],
            "{owned_last}"
        );
        assert_eq!(
            owned_last["FileModificationTime"], "Fri, Feb 13 2009 23:31:30.500000000 UTC",
            "{owned_last}"
        );
        assert_user_commands_in_records(&records);
        let dst3 = records
            .iter()
            .find(|r| r["File"] == "dst3" && r["Proc"] == "files2")
            .expect("dst3");
        assert_eq!(dst3["FileSize"], 500, "{dst3}");
        assert_eq!(dst3["FileEvents"]["MODIFY"], 1, "{dst3}");
        let i = info(&run.trace);
        assert_eq!(i["dropped_total"], 0, "{i}");
    }

    /// One syscall as `strace -f` prints it: thread, name, return value.
    #[derive(Debug, PartialEq)]
    struct Traced {
        tid: u64,
        name: String,
        ret: i64,
    }

    /// The syscalls of the new event types in an `strace -f -qq` log. strace 6.1 knows
    /// setxattrat (463) and removexattrat (466) only by number.
    fn straced(log: &str) -> Vec<Traced> {
        let names = [
            "chown",
            "fchown",
            "lchown",
            "fchownat",
            "utimensat",
            "utimes",
            "futimesat",
            "utime",
            "setxattr",
            "lsetxattr",
            "fsetxattr",
            "setxattrat",
            "removexattr",
            "lremovexattr",
            "fremovexattr",
            "removexattrat",
            "copy_file_range",
            "sendfile",
            "splice",
            "tee",
        ];
        let mut out = Vec::new();
        for call in crate::util::strace_calls(log) {
            let name = match call.name {
                "syscall_0x1cf" => "setxattrat",
                "syscall_0x1d2" => "removexattrat",
                n => n,
            };
            if !names.contains(&name) {
                continue;
            }
            out.push(Traced {
                tid: call.tid(),
                name: name.to_owned(),
                ret: call.ret(),
            });
        }
        out
    }

    #[test]
    fn the_new_types_match_strace_of_the_same_run() {
        if !live() {
            return;
        }
        let log = tempfile::NamedTempFile::new().unwrap();
        let log_arg = log.path().to_str().unwrap().to_owned();
        let run = Run::record(&["strace", "-f", "-qq", "-o", &log_arg]);
        let log = std::fs::read_to_string(log.path()).unwrap();
        let traced = straced(&log);
        let seen: Vec<Traced> = run
            .events
            .iter()
            .filter(|e| BEYOND_38.contains(&e["event_type"].as_str().unwrap()))
            .map(|e| Traced {
                tid: e["tid"].as_u64().unwrap(),
                name: e["syscall"].as_str().unwrap().to_owned(),
                ret: e["ret"].as_i64().unwrap(),
            })
            .collect();
        // strace -f -o: errors are -1 with the errno after; kellect's ret is -errno.
        let normalised: Vec<Traced> = seen
            .into_iter()
            .map(|t| Traced {
                ret: t.ret.max(-1),
                ..t
            })
            .collect();
        assert_eq!(
            normalised, traced,
            "kellect (left) and strace (right)\nstrace log:\n{log}"
        );
        // The workload's 26 calls, touch's, chown's, and cp's and cat's two copies each.
        assert!(traced.len() >= 30, "{log}");
    }
}
