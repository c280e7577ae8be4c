//! The catalogue workload, tests/workloads/catalogue.c, triggers every one of the 38 event
//! types with values it chose or observed. Recorded live, every event must carry exactly
//! those values; its fixture recording (fixtures/catalogue.kz, see fixtures/regenerate.sh)
//! must replay byte for byte and hold every event type.

use std::collections::BTreeSet;

use kellect::replayer::views::events::EVENT_TYPES;
use serde_json::Value;

use crate::util::{assert_same_text, fixture, json_lines, run_ok};

/// The file event types beyond Kellect's 38 (owner, times, extended attributes, in-kernel
/// copies): the catalogue workload predates them; tests/files2.rs records them.
pub const BEYOND_38: [&str; 5] = [
    "file_chown",
    "file_utime",
    "file_setxattr",
    "file_removexattr",
    "file_copy",
];

/// The event types of prctl, namespaces, capset, chroot and the system group (modules,
/// BPF, mounts), beyond the 38: tests/system.rs records them (fixtures/system.kz).
pub const SYSTEM_TYPES: [&str; 11] = [
    "process_prctl",
    "process_unshare",
    "process_setns",
    "perm_capset",
    "file_chroot",
    "sys_module_load",
    "sys_module_unload",
    "sys_bpf",
    "sys_mount",
    "sys_umount",
    "sys_pivot_root",
];

/// memfd_create's type, also beyond the 38: tests/exec.rs checks it with its values (the
/// catalogue workload makes a memfd too, which this file's rules check as well).
const MEMFD: &str = "file_memfd";

/// io_uring's types, beyond the 38 too: tests/uring.rs records them.
const URING: [&str; 4] = [
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "io_uring_op",
];

/// Kellect's 38 event types: the ones the catalogue workload triggers.
fn catalogue_types() -> impl Iterator<Item = &'static str> {
    EVENT_TYPES.iter().copied().filter(|t| {
        !BEYOND_38.contains(t) && !SYSTEM_TYPES.contains(t) && *t != MEMFD && !URING.contains(t)
    })
}

/// The event types that occur in `events`.
fn types_in(events: &[Value]) -> BTreeSet<&str> {
    events
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect()
}

/// Every one of Kellect's 38 event types occurs in `events`.
#[track_caller]
fn assert_every_type(events: &[Value], what: &str) {
    let seen = types_in(events);
    let missing: Vec<&str> = catalogue_types().filter(|t| !seen.contains(t)).collect();
    assert!(
        missing.is_empty(),
        "{what}: event types missing: {missing:?} (seen: {seen:?})"
    );
}

#[test]
fn catalogue_fixture_replays_byte_for_byte_with_every_type() {
    let trace = fixture("catalogue.kz");
    let expected = std::fs::read_to_string(fixture("catalogue.events.json")).unwrap();
    let out = run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "--view",
        "events",
        "-o",
        "json-min",
    ]);
    let got = String::from_utf8(out.stdout).unwrap();
    assert_same_text(&expected, &got, "fixtures/catalogue.events.json");
    // catalogue.kz holds the first 38 types; types added since are in their own fixtures.
    let mut evs = json_lines(got.as_bytes());
    assert_every_type(&evs, "fixtures/catalogue.kz");
    // And every type of the table, Kellect's 38 and those added since, is in a fixture.
    evs.extend(crate::util::events(&fixture("exec.kz")));
    evs.extend(crate::util::events(&fixture("files2.kz")));
    evs.extend(crate::util::events(&fixture("uring.kz")));
    evs.extend(crate::util::events(&fixture("system.kz")));
    let seen = types_in(&evs);
    let missing: Vec<&str> = EVENT_TYPES
        .iter()
        .copied()
        .filter(|t| !seen.contains(t))
        .collect();
    assert!(
        missing.is_empty(),
        "catalogue.kz, exec.kz, files2.kz, uring.kz and system.kz: event types missing: {missing:?}"
    );
}

/// A syscall added to a scratch copy of the table (one row: an id no build has, a path
/// relative to a dirfd argument, open flags, a mode) is decoded, followed and rendered by
/// the replayer as that row says, with no replayer change; with the build's own table the
/// same record is an unknown event showing its raw arguments.
#[test]
fn a_syscall_added_to_a_scratch_table_is_rendered_from_its_row() {
    use kellect::abi::{RecordHeader, SyscallRecord};
    use kellect::replayer::input::decode::decode_frame_with;
    use kellect::replayer::render::symbols::Arch;
    use kellect::replayer::state::ProcessTable;
    use kellect::replayer::views::events::{EventType, EventView};
    use kellect::syscalls::{
        Addr, Capture, Catalogue, Effect, Field, FlagFamily, Group, Ksys, Out, Payload, Src,
        CATALOGUE, SYSCALLS,
    };
    use zerocopy::{FromZeros, IntoBytes};

    const NEW_ID: u16 = 4000;
    let mut rows = SYSCALLS.to_vec();
    rows.push(kellect::syscalls::Syscall {
        id: NEW_ID,
        name: "frobnicateat",
        group: Group::File,
        x86_64: None,
        aarch64: None,
        capture: Capture {
            flags: 0,
            path0: 2,
            path1: 0,
            fd_arg: 0,
            addr: Addr::None,
            out: Out::None,
            payload: Payload::None,
        },
        event: Some(EventType::FileChmod),
        fields: &[
            Field::Path {
                key: "path",
                slot: 0,
                dirfd: Some(("dfd", 0)),
                literal: false,
            },
            Field::Flags("flags", Src::Arg(2), FlagFamily::Open),
            Field::Mode(Src::Arg(3)),
        ],
        effect: Effect::Chmod { mode: 3 },
    });
    let scratch = Catalogue::new(Vec::leak(rows));
    assert!(CATALOGUE.row(NEW_ID).is_none());

    // A frame of two syscall records: chdir("/srv/w"), then the new syscall on "x/y".
    let record = |ts: u64, id: u16, args: [u64; 6], path: &str| {
        let mut rec = SyscallRecord::new_zeroed();
        let mut hdr = RecordHeader::new_zeroed();
        hdr.kind = 4.into();
        hdr.len = ((size_of::<SyscallRecord>() + path.len()) as u32).into();
        hdr.ts = ts.into();
        hdr.pid = 77.into();
        hdr.tid = 77.into();
        hdr.ppid = 1.into();
        hdr.syscall = id.into();
        hdr.comm[..4].copy_from_slice(b"frob");
        rec.hdr = hdr;
        rec.enter_ts = (ts - 1).into();
        rec.args = args.map(Into::into);
        rec.path0_len = (path.len() as u16).into();
        let mut bytes = rec.as_bytes().to_vec();
        bytes.extend_from_slice(path.as_bytes());
        bytes
    };
    let mut frame = record(10, Ksys::Chdir as u16, [0; 6], "/srv/w");
    let at_fdcwd = -100i64 as u64;
    frame.extend(record(
        20,
        NEW_ID,
        [at_fdcwd, 0, 0o2000000, 0o4755, 0, 0],
        "x/y",
    ));

    let render = |catalogue: Catalogue<'static>| -> Value {
        let (events, err) = decode_frame_with(&frame, &catalogue);
        assert!(err.is_none(), "{err:?}");
        let mut table = ProcessTable::default().with_catalogue(catalogue);
        let resolved: Vec<_> = events.iter().map(|e| table.apply(e)).collect();
        let view = EventView {
            timestamp_us: 0,
            event: &events[1],
            resolved: &resolved[1],
            arch: Arch::X86_64,
            catalogue,
            exec_id: None,
        };
        serde_json::to_value(&view).unwrap()
    };

    let got = render(scratch);
    let want = serde_json::json!({
        "timestamp": 0, "event_type": "file_chmod", "syscall": "frobnicateat",
        "comm": "frob", "pid": 77, "tid": 77, "ppid": 1, "process_type": "process",
        "uid": 0, "gid": 0, "ret": 0,
        "dfd": "AT_FDCWD", "path": "/srv/w/x/y", "path_arg": "x/y",
        "flags": 0o2000000, "flags_text": "O_RDONLY|O_CLOEXEC",
        "mode": 0o4755, "mode_text": "4755/-rwsr-xr-x",
    });
    assert_eq!(got, want, "scratch table");
    // Field order is the row's.
    let keys: Vec<&String> = got.as_object().unwrap().keys().collect();
    assert_eq!(
        keys[11..],
        [
            "dfd",
            "path",
            "path_arg",
            "flags",
            "flags_text",
            "mode",
            "mode_text"
        ]
    );

    // This build's table does not know the id: no type, no path, the raw arguments.
    let plain = render(CATALOGUE);
    assert_eq!(plain["event_type"], "unknown", "{plain}");
    assert!(
        plain.get("syscall").is_none() && plain.get("path").is_none(),
        "{plain}"
    );
    assert_eq!(plain["args"][3], 0o4755, "{plain}");
}

/// fixtures/process.kz re-encoded with the format module's writer, its HostInfo's record
/// ABI version set to `abi_version`; written into `dir`.
fn with_abi_version(dir: &std::path::Path, abi_version: u32) -> std::path::PathBuf {
    use kellect::format::{self, BlockKind, Codec, SegmentEncoder, TraceReader};
    use kellect::meta::{self, HostInfo};

    let bytes = std::fs::read(fixture("process.kz")).unwrap();
    let reader = TraceReader::new(&bytes).unwrap();
    let scan = reader.scan();
    assert!(scan.is_clean(), "{:?}", scan.damage);
    let mut enc = SegmentEncoder::new(reader.header(), 3).unwrap();
    let mut hosts = 0;
    for block in &scan.blocks {
        if block.kind == BlockKind::Frame {
            let (h, raw) = format::decode_frame(block.payload).unwrap();
            enc.set_next_seq(h.seq);
            enc.push_frame(&raw, h.first_ts, h.last_ts, h.record_count, Codec::Zstd)
                .unwrap();
        } else if block.kind == BlockKind::HostInfo {
            let raw = match block.flags & format::BLOCK_FLAG_COMPRESSED {
                0 => block.payload.to_vec(),
                _ => format::decompress_meta(block.payload).unwrap(),
            };
            let mut host: HostInfo = meta::decode(&raw).unwrap();
            assert_eq!(host.abi_version, 1, "the fixture's version");
            host.abi_version = abi_version;
            enc.push_meta(BlockKind::HostInfo, &meta::encode(&host), false)
                .unwrap();
            hosts += 1;
        } else if block.kind.is_metadata() {
            enc.push_block(block.kind, block.flags, block.payload)
                .unwrap();
        }
    }
    assert_eq!(hosts, 1);
    let path = dir.join(format!("abi{abi_version}.kz"));
    std::fs::write(&path, enc.finish()).unwrap();
    path
}

/// Replay reads the record ABI version a trace was recorded with: the same recording
/// replays as before with this build's version, and is refused, with the versions named,
/// when its version is one this build does not read (a newer recorder's layouts, or 0);
/// `info` lists it as a warning.
#[test]
fn an_unknown_record_abi_version_is_refused_by_replay() {
    use crate::util::run_err;

    let dir = tempfile::tempdir().unwrap();
    let events = |trace: &std::path::Path| {
        let out = run_ok(&[
            "replay",
            trace.to_str().unwrap(),
            "--view",
            "events",
            "-o",
            "json-min",
        ]);
        String::from_utf8(out.stdout).unwrap()
    };
    let same = with_abi_version(dir.path(), 1);
    let expected = std::fs::read_to_string(fixture("process.events.json")).unwrap();
    assert_same_text(&expected, &events(&same), "re-encoded fixtures/process.kz");

    // Version 2 added the task context and cgroup records: version 1 reads alike.
    let older = with_abi_version(dir.path(), 2);
    assert_same_text(
        &expected,
        &events(&older),
        "fixtures/process.kz as version 2",
    );
    // Version 3 gave each sendmmsg/recvmmsg message its address where older ones have 0.
    let v3 = with_abi_version(dir.path(), 3);
    assert_same_text(&expected, &events(&v3), "fixtures/process.kz as version 3");
    // Version 4 added the socket packet counters (a record kind older traces lack) and
    // lets a syscall's entry time be 0 (recorded at exit alone).
    let v4 = with_abi_version(dir.path(), 4);
    assert_same_text(&expected, &events(&v4), "fixtures/process.kz as version 4");
    // Version 5 added the compact syscall record (a record kind older traces lack).
    let v5 = with_abi_version(dir.path(), 5);
    assert_same_text(&expected, &events(&v5), "fixtures/process.kz as version 5");
    for version in [6, 0, u32::MAX] {
        let trace = with_abi_version(dir.path(), version);
        let path = trace.to_str().unwrap();
        let err = run_err(&["replay", path, "--view", "events"], 1);
        let said = format!("its records were written in record ABI version {version} (by kellect ");
        assert!(err.contains(&said), "{err}");
        assert!(
            err.contains("this kellect reads ABI versions 1 to 5 only"),
            "{err}"
        );
        let err = run_err(&["replay", path], 1);
        assert!(err.contains(&said), "records view: {err}");
        let out = run_ok(&["info", path]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(text.contains(&said), "info: {text}");
    }
}

#[cfg(feature = "record")]
pub(crate) mod live {
    //! Live recordings of the workload (root and BPF, like tests/live.rs).

    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::fmt::Write as _;
    use std::path::PathBuf;

    use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
    use serde_json::{json, Value};

    use super::{assert_every_type, catalogue_types, types_in, EVENT_TYPES};
    use crate::live::live;
    use crate::util::{info, json_lines, kellect, run_ok};

    /// x86_64 has the legacy syscalls (open, stat, rename...); elsewhere the workload calls
    /// their *at stand-ins, which the checks of the *at variants cover.
    const LEGACY: bool = cfg!(target_arch = "x86_64");
    /// O_DIRECTORY: the flag bits differ between architectures.
    const O_DIRECTORY: u64 = if cfg!(target_arch = "aarch64") {
        0o40000
    } else {
        0o200000
    };

    /// The workload, compiled into a temporary directory.
    struct Workload {
        dir: tempfile::TempDir,
    }

    impl Workload {
        fn dir(&self) -> &str {
            self.dir.path().to_str().unwrap()
        }

        #[track_caller]
        fn build() -> Workload {
            let dir =
                crate::util::compile_workload("catalogue.c", &["-O1", "-pthread"], "catalogue");
            Workload { dir }
        }

        /// Records `./catalogue SCRATCH` with `kellect record -o TRACE EXTRA --` in a fresh
        /// scratch directory named `name`.
        #[track_caller]
        fn record(&self, name: &str, extra: &[&str]) -> Run {
            let scratch = self.dir.path().join(format!("scratch-{name}"));
            std::fs::create_dir(&scratch).unwrap();
            let trace = self.dir.path().join(format!("{name}.kz"));
            let out = kellect()
                .current_dir(self.dir.path())
                // cargo's library path would send the loader through dozens of directories.
                .env_remove("LD_LIBRARY_PATH")
                .arg("record")
                .arg("-o")
                .arg(&trace)
                .args(extra)
                .arg("--")
                .arg("./catalogue")
                .arg(&scratch)
                .output()
                .expect("running kellect record");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.contains("kellect: recorded"),
                "kellect record of the workload failed with {}\nstderr:\n{stderr}",
                out.status
            );
            let values = key_values(&out.stdout);
            let replay = run_ok(&[
                "replay",
                trace.to_str().unwrap(),
                "--view",
                "events",
                "-o",
                "json-min",
            ]);
            let text = String::from_utf8(replay.stdout).unwrap();
            let keys = text
                .lines()
                .map(|l| serde_json::from_str::<Keys>(l).unwrap().0)
                .collect();
            Run {
                scratch: scratch.to_str().unwrap().to_owned(),
                trace,
                values,
                events: json_lines(text.as_bytes()),
                keys,
            }
        }
    }

    /// A workload's `key=value` output lines.
    #[track_caller]
    pub(crate) fn key_values(stdout: &[u8]) -> HashMap<String, String> {
        String::from_utf8_lossy(stdout)
            .lines()
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("output: {l}"));
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    /// One recording of the workload.
    struct Run {
        scratch: String,
        trace: PathBuf,
        /// What the workload printed: `key=value`.
        values: HashMap<String, String>,
        events: Vec<Value>,
        /// Each event's keys as written, duplicates included (a parsed `Value` keeps the last).
        keys: Vec<Vec<String>>,
    }

    impl Run {
        /// SCRATCH/name.
        fn path(&self, name: &str) -> String {
            if name.is_empty() {
                self.scratch.clone()
            } else {
                format!("{}/{name}", self.scratch)
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

        /// A printed pair `key=a,b`.
        #[track_caller]
        fn pair(&self, key: &str) -> (i64, i64) {
            let v = &self.values[key];
            let (a, b) = v.split_once(',').unwrap();
            (a.parse().unwrap(), b.parse().unwrap())
        }
    }

    /// The keys of a JSON object in order, duplicates kept.
    pub(crate) struct Keys(pub(crate) Vec<String>);

    impl<'de> Deserialize<'de> for Keys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Keys, D::Error> {
            struct KeyList;
            impl<'de> Visitor<'de> for KeyList {
                type Value = Keys;
                fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(Keys(keys))
                }
            }
            d.deserialize_map(KeyList)
        }
    }

    /// A rule every event must follow, given the event and its keys as written.
    type Rule<'a> = dyn Fn(&Value, &[String]) -> bool + 'a;

    /// Field expectations: a key and its value; `Value::Null` means "absent".
    type Fields<'a> = &'a [(&'a str, Value)];

    fn has(e: &Value, fields: Fields) -> bool {
        fields.iter().all(|(k, v)| match v {
            Value::Null => e.get(k).is_none(),
            v => e.get(k) == Some(v),
        })
    }

    /// Soft assertions: every check runs; the failures, each with its event's JSON, are shown
    /// together at the end, with a tally of the checks per event type.
    struct Checks<'a> {
        events: &'a [Value],
        tally: BTreeMap<String, (u32, u32)>,
        failures: Vec<String>,
    }

    impl<'a> Checks<'a> {
        fn new(events: &'a [Value]) -> Self {
            Checks {
                events,
                tally: BTreeMap::new(),
                failures: Vec::new(),
            }
        }

        /// Records one assertion of `ty`.
        fn check(&mut self, ty: &str, passed: bool, failure: impl FnOnce() -> String) {
            let t = self.tally.entry(ty.to_owned()).or_default();
            if passed {
                t.0 += 1;
            } else {
                t.1 += 1;
                self.failures.push(format!("[{ty}] {}", failure()));
            }
        }

        /// The one event of type `ty` that has the `pick` fields; then its `fields`.
        fn expect(
            &mut self,
            ty: &str,
            what: &str,
            pick: Fields,
            fields: Fields,
        ) -> Option<&'a Value> {
            let found: Vec<&'a Value> = self
                .events
                .iter()
                .filter(|e| e["event_type"] == ty && has(e, pick))
                .collect();
            let all = || {
                let same: Vec<String> = self
                    .events
                    .iter()
                    .filter(|e| e["event_type"] == ty)
                    .map(|e| e.to_string())
                    .collect();
                same.join("\n    ")
            };
            if found.len() != 1 {
                let failure = format!(
                    "{what}: {} events with {} (expected one); the {ty} events:\n    {}",
                    found.len(),
                    Value::from_iter(pick.iter().map(|(k, v)| (k.to_string(), v.clone()))),
                    all()
                );
                self.check(ty, false, || failure);
                for _ in fields {
                    self.check(ty, false, || format!("{what}: (no event to check)"));
                }
                return found.first().copied();
            }
            let e = found[0];
            self.check(ty, true, String::new);
            for (k, v) in fields {
                let got = e.get(*k).unwrap_or(&Value::Null);
                self.check(ty, got == v, || {
                    let want = if v.is_null() {
                        "absent".into()
                    } else {
                        v.to_string()
                    };
                    let got = if e.get(*k).is_none() {
                        "absent".into()
                    } else {
                        got.to_string()
                    };
                    format!("{what}: {k}: expected {want}, got {got}\n    {e}")
                });
            }
            Some(e)
        }

        /// No event of `ty` has the `pick` fields.
        fn none(&mut self, ty: &str, what: &str, pick: Fields) {
            let found: Vec<String> = self
                .events
                .iter()
                .filter(|e| e["event_type"] == ty && has(e, pick))
                .map(|e| e.to_string())
                .collect();
            self.check(ty, found.is_empty(), || {
                format!("{what}: unexpected events:\n    {}", found.join("\n    "))
            });
        }

        /// A condition on an event found by `expect`.
        fn holds(&mut self, ty: &str, what: &str, e: Option<&Value>, ok: impl Fn(&Value) -> bool) {
            let passed = e.is_some_and(&ok);
            self.check(ty, passed, || match e {
                Some(e) => format!("{what}\n    {e}"),
                None => format!("{what}: (no event to check)"),
            });
        }

        /// Prints the tally; fails with every failure.
        #[track_caller]
        fn finish(self, what: &str) {
            let mut table = String::new();
            for (ty, (passed, failed)) in &self.tally {
                let _ = writeln!(table, "  {ty:18} {passed:3} passed {failed:3} failed");
            }
            if self.failures.is_empty() {
                eprintln!("{what}: assertions per event type\n{table}");
            }
            assert!(
                self.failures.is_empty(),
                "{what}: {} failed assertions:\n{}\n\nassertions per event type:\n{table}",
                self.failures.len(),
                self.failures.join("\n")
            );
        }
    }

    #[test]
    fn catalogue_records_every_event_type_with_its_values() {
        if !live() {
            return;
        }
        let workload = Workload::build();
        let run = workload.record("all", &[]);
        let evs = &run.events;
        let recorder_pid = info(&run.trace)["host"]["recorder_pid"].as_i64().unwrap();
        let p = |name: &str| json!(run.path(name));
        let v = |key: &str| json!(run.int(key));
        let pid = run.int("pid");
        let dirfd = run.int("dirfd");
        let fd_reader = run.int("fd_reader");
        let ino_created = v("ino_created");
        let ino_creat = v("ino_creat");
        let fork_child = run.int("fork_child");
        let exec_child = run.int("exec_child");
        let term_child = run.int("term_child");
        let ids_child = run.int("ids_child");
        let thread_tid = run.int("thread_tid");
        let mut c = Checks::new(evs);
        let me = ("pid", json!(pid));

        // ---- file ----
        let ty = "file_create";
        if LEGACY {
            c.expect(
                ty,
                "open(O_CREAT|O_EXCL) of a new file",
                &[("syscall", json!("open")), ("path", p("created.txt"))],
                &[
                    me.clone(),
                    ("tid", json!(pid)),
                    ("comm", json!("catalogue")),
                    ("process_type", json!("process")),
                    ("uid", json!(0)),
                    ("ret", v("fd_created")),
                    ("error", Value::Null),
                    ("path_arg", Value::Null),
                    ("flags", json!(0o301)),
                    ("flags_text", json!("O_WRONLY|O_CREAT|O_EXCL")),
                    ("mode", json!(0o640)),
                    ("mode_text", json!("0640/-rw-r-----")),
                    ("fd", v("fd_created")),
                    ("ino", ino_created.clone()),
                ],
            );
            c.expect(
                ty,
                "creat",
                &[("syscall", json!("creat")), ("path", p("creat.txt"))],
                &[
                    me.clone(),
                    ("ret", v("fd_creat")),
                    ("flags", json!(0o1101)),
                    ("flags_text", json!("O_WRONLY|O_CREAT|O_TRUNC")),
                    ("mode", json!(0o600)),
                    ("mode_text", json!("0600/-rw-------")),
                    ("fd", v("fd_creat")),
                    ("ino", ino_creat.clone()),
                ],
            );
        }
        c.expect(
            ty,
            "openat(dirfd, relative path, O_CREAT)",
            &[
                ("syscall", json!("openat")),
                ("dfd", json!(dirfd)),
                ("path", p("sub/rel.txt")),
            ],
            &[
                me.clone(),
                ("ret", v("fd_rel")),
                ("path_arg", json!("sub/rel.txt")),
                ("flags", json!(0o1102)),
                ("flags_text", json!("O_RDWR|O_CREAT|O_TRUNC")),
                ("mode", json!(0o604)),
                ("mode_text", json!("0604/-rw----r--")),
                ("fd", v("fd_rel")),
            ],
        );

        let ty = "file_open";
        let open = if LEGACY { "open" } else { "openat" };
        c.expect(
            ty,
            "open of the scratch directory (libc: openat)",
            &[("syscall", json!("openat")), ("path", p(""))],
            &[
                me.clone(),
                ("dfd", json!("AT_FDCWD")),
                ("ret", json!(dirfd)),
                ("flags", json!(O_DIRECTORY)),
                ("flags_text", json!("O_RDONLY|O_DIRECTORY")),
                ("mode", Value::Null),
                ("fd", json!(dirfd)),
            ],
        );
        c.expect(
            ty,
            "open of an existing file",
            &[("syscall", json!(open)), ("path", p("created.txt"))],
            &[
                me.clone(),
                ("ret", json!(fd_reader)),
                ("flags", json!(0)),
                ("flags_text", json!("O_RDONLY")),
                ("mode", Value::Null),
                ("fd", json!(fd_reader)),
                ("ino", ino_created.clone()),
            ],
        );
        c.expect(
            ty,
            "open of a missing file",
            &[("syscall", json!(open)), ("path", p("missing.txt"))],
            &[
                me.clone(),
                ("ret", json!(-2)),
                ("error", json!("ENOENT")),
                ("flags_text", json!("O_RDONLY")),
                ("fd", Value::Null),
                ("ino", Value::Null),
            ],
        );
        c.expect(
            ty,
            "relative open after chdir",
            &[("syscall", json!(open)), ("path", p("sub/rel.txt"))],
            &[
                me.clone(),
                ("path_arg", json!("rel.txt")),
                ("ret", v("fd_open_after_chdir")),
                ("fd", v("fd_open_after_chdir")),
            ],
        );
        c.expect(
            ty,
            "relative open before any chdir: against the cwd it started in",
            &[("syscall", json!(open)), ("fd", v("fd_self"))],
            &[
                me.clone(),
                ("path", json!(format!("{}/catalogue", workload.dir()))),
                ("path_arg", json!("./catalogue")),
                ("flags_text", json!("O_RDONLY")),
            ],
        );
        c.expect(
            ty,
            "relative open after fchdir",
            &[("syscall", json!(open)), ("path", p("creat.txt"))],
            &[
                me.clone(),
                ("path_arg", json!("creat.txt")),
                ("ret", v("fd_open_after_fchdir")),
                ("ino", ino_creat.clone()),
            ],
        );

        let ty = "file_delete";
        if LEGACY {
            c.expect(
                ty,
                "unlink",
                &[("syscall", json!("unlink")), ("path", p("renamed2"))],
                &[me.clone(), ("ret", json!(0)), ("dfd", Value::Null)],
            );
        }
        c.expect(
            ty,
            "unlinkat(dirfd, name, 0)",
            &[("syscall", json!("unlinkat")), ("path", p("hard-linkat"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("dfd", json!(dirfd)),
                ("path_arg", json!("hard-linkat")),
                ("flags", json!(0)),
                ("flags_text", json!("0")),
            ],
        );

        let ty = "file_rename";
        if LEGACY {
            c.expect(
                ty,
                "rename",
                &[("syscall", json!("rename")), ("oldpath", p("hard-link"))],
                &[
                    me.clone(),
                    ("ret", json!(0)),
                    ("newpath", p("renamed")),
                    ("olddfd", Value::Null),
                    ("flags", Value::Null),
                ],
            );
        }
        c.expect(
            ty,
            "renameat2(RENAME_NOREPLACE)",
            &[("syscall", json!("renameat2")), ("ret", json!(0))],
            &[
                me.clone(),
                ("olddfd", json!(dirfd)),
                ("oldpath", p("renamed")),
                ("oldpath_arg", json!("renamed")),
                ("newdfd", json!("AT_FDCWD")),
                ("newpath", p("renamed2")),
                ("newpath_arg", Value::Null),
                ("flags", json!(1)),
                ("flags_text", json!("RENAME_NOREPLACE")),
            ],
        );
        c.expect(
            ty,
            "renameat2(RENAME_NOREPLACE) onto an existing file",
            &[("syscall", json!("renameat2")), ("ret", json!(-17))],
            &[
                me.clone(),
                ("error", json!("EEXIST")),
                ("oldpath", p("renamed2")),
                ("newdfd", json!(dirfd)),
                ("newpath", p("created.txt")),
                ("newpath_arg", json!("created.txt")),
                ("flags_text", json!("RENAME_NOREPLACE")),
            ],
        );

        let ty = "file_chmod";
        if LEGACY {
            c.expect(
                ty,
                "chmod",
                &[("syscall", json!("chmod"))],
                &[
                    me.clone(),
                    ("ret", json!(0)),
                    ("path", p("created.txt")),
                    ("mode", json!(0o751)),
                    ("mode_text", json!("0751/-rwxr-x--x")),
                ],
            );
        }
        c.expect(
            ty,
            "fchmod",
            &[("syscall", json!("fchmod"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("fd", json!(fd_reader)),
                ("path", p("created.txt")),
                ("mode", json!(0o742)),
                ("mode_text", json!("0742/-rwxr---w-")),
            ],
        );
        c.expect(
            ty,
            "fchmodat",
            &[("syscall", json!("fchmodat")), ("dfd", json!(dirfd))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("path", p("created.txt")),
                ("path_arg", json!("created.txt")),
                ("mode", json!(0o714)),
                ("mode_text", json!("0714/-rwx--xr--")),
            ],
        );

        let ty = "file_stat";
        let created_attrs = [
            me.clone(),
            ("ret", json!(0)),
            ("mode", v("mode_created")),
            ("mode_text", json!("0640/-rw-r-----")),
            ("file_type", json!("regular")),
            ("file_uid", json!(0)),
            ("file_gid", json!(0)),
            ("ino", ino_created.clone()),
            ("size", v("size_created")),
        ];
        assert_eq!(
            run.int("size_created"),
            5777,
            "the workload wrote 5777 bytes"
        );
        assert_eq!(run.int("mode_created"), 0o100640);
        if LEGACY {
            c.expect(
                ty,
                "stat",
                &[("syscall", json!("stat")), ("path", p("created.txt"))],
                &created_attrs,
            );
        }
        c.expect(
            ty,
            "fstat",
            &[("syscall", json!("fstat")), ("fd", json!(fd_reader))],
            &[&created_attrs[..], &[("path", p("created.txt"))]].concat(),
        );
        c.expect(
            ty,
            "newfstatat(dirfd)",
            &[
                ("syscall", json!("newfstatat")),
                ("dfd", json!(dirfd)),
                ("path", p("created.txt")),
            ],
            &[
                &created_attrs[..],
                &[
                    ("path", p("created.txt")),
                    ("path_arg", json!("created.txt")),
                ],
            ]
            .concat(),
        );
        c.expect(
            ty,
            "statx(dirfd)",
            &[
                ("syscall", json!("statx")),
                ("dfd", json!(dirfd)),
                ("path", p("created.txt")),
            ],
            &[
                &created_attrs[..],
                &[
                    ("path", p("created.txt")),
                    ("path_arg", json!("created.txt")),
                ],
            ]
            .concat(),
        );
        if LEGACY {
            c.expect(
                ty,
                "lstat of a symlink",
                &[("syscall", json!("lstat")), ("path", p("sym-link"))],
                &[
                    me.clone(),
                    ("ret", json!(0)),
                    ("mode", v("mode_symlink")),
                    ("mode_text", json!("0777/lrwxrwxrwx")),
                    ("file_type", json!("symlink")),
                    ("ino", v("ino_symlink")),
                    ("size", v("size_symlink")),
                ],
            );
        }
        c.expect(
            ty,
            "fstat of the new creat.txt",
            &[("syscall", json!("fstat")), ("path", p("creat.txt"))],
            &[
                me.clone(),
                ("fd", v("fd_creat")),
                ("mode", json!(0o100600)),
                ("ino", ino_creat.clone()),
                ("size", json!(0)),
            ],
        );

        let ty = "file_chdir";
        c.expect(
            ty,
            "chdir",
            &[("syscall", json!("chdir"))],
            &[me.clone(), ("ret", json!(0)), ("path", p("sub"))],
        );
        c.expect(
            ty,
            "fchdir",
            &[("syscall", json!("fchdir"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("fd", json!(dirfd)),
                ("path", p("")),
            ],
        );

        let ty = "file_mkdir";
        if LEGACY {
            c.expect(
                ty,
                "mkdir",
                &[("syscall", json!("mkdir")), ("path", p("dir-mkdir"))],
                &[
                    me.clone(),
                    ("ret", json!(0)),
                    ("mode", json!(0o750)),
                    ("mode_text", json!("0750/-rwxr-x---")),
                ],
            );
        }
        c.expect(
            ty,
            "mkdirat(dirfd)",
            &[("syscall", json!("mkdirat")), ("dfd", json!(dirfd))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("path", p("dir-mkdirat")),
                ("path_arg", json!("dir-mkdirat")),
                ("mode", json!(0o705)),
                ("mode_text", json!("0705/-rwx---r-x")),
            ],
        );

        let ty = "file_rmdir";
        if LEGACY {
            c.expect(
                ty,
                "rmdir",
                &[("syscall", json!("rmdir"))],
                &[me.clone(), ("ret", json!(0)), ("path", p("dir-mkdir"))],
            );
        }
        c.expect(
            ty,
            "unlinkat(AT_REMOVEDIR)",
            &[("syscall", json!("unlinkat")), ("path", p("dir-mkdirat"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("dfd", json!(dirfd)),
                ("path_arg", json!("dir-mkdirat")),
                ("flags", json!(0x200)),
                ("flags_text", json!("AT_REMOVEDIR")),
            ],
        );

        let ty = "file_read";
        let reader = [
            me.clone(),
            ("fd", json!(fd_reader)),
            ("path", p("created.txt")),
            ("ino", ino_created.clone()),
        ];
        c.expect(
            ty,
            "read",
            &[
                ("syscall", json!("read")),
                ("fd", json!(fd_reader)),
                me.clone(),
            ],
            &[
                &reader[..],
                &[
                    ("ret", json!(100)),
                    ("count", json!(100)),
                    ("bytes", json!(100)),
                ],
            ]
            .concat(),
        );
        c.expect(
            ty,
            "pread64",
            &[
                ("syscall", json!("pread64")),
                ("fd", json!(fd_reader)),
                me.clone(),
            ],
            &[
                &reader[..],
                &[
                    ("count", json!(55)),
                    ("offset", json!(7)),
                    ("bytes", json!(55)),
                ],
            ]
            .concat(),
        );
        c.expect(
            ty,
            "readv",
            &[
                ("syscall", json!("readv")),
                ("fd", json!(fd_reader)),
                me.clone(),
            ],
            &[
                &reader[..],
                &[
                    ("iovcnt", json!(2)),
                    ("count", Value::Null),
                    ("bytes", json!(30)),
                ],
            ]
            .concat(),
        );

        let ty = "file_write";
        let writer = [
            me.clone(),
            ("fd", v("fd_created")),
            ("ino", ino_created.clone()),
        ];
        c.expect(
            ty,
            "write",
            &[("syscall", json!("write")), ("path", p("created.txt"))],
            &[
                &writer[..],
                &[("count", json!(1234)), ("bytes", json!(1234))],
            ]
            .concat(),
        );
        c.expect(
            ty,
            "writev",
            &[("syscall", json!("writev")), ("path", p("created.txt"))],
            &[&writer[..], &[("iovcnt", json!(3)), ("bytes", json!(303))]].concat(),
        );
        c.expect(
            ty,
            "pwrite64",
            &[("syscall", json!("pwrite64")), ("path", p("created.txt"))],
            &[
                &writer[..],
                &[
                    ("count", json!(777)),
                    ("offset", json!(5000)),
                    ("bytes", json!(777)),
                ],
            ]
            .concat(),
        );

        let ty = "file_dup";
        let dup_of_reader = [
            me.clone(),
            ("oldfd", json!(fd_reader)),
            ("path", p("created.txt")),
        ];
        c.expect(
            ty,
            "dup",
            &[("syscall", json!("dup"))],
            &[
                &dup_of_reader[..],
                &[("ret", v("fd_dup")), ("newfd", v("fd_dup"))],
            ]
            .concat(),
        );
        if LEGACY {
            c.expect(
                ty,
                "dup2",
                &[("syscall", json!("dup2"))],
                &[
                    &dup_of_reader[..],
                    &[("ret", json!(77)), ("newfd", json!(77))],
                ]
                .concat(),
            );
        }
        c.expect(
            ty,
            "dup3(O_CLOEXEC)",
            &[("syscall", json!("dup3")), ("newfd", json!(78))],
            &[
                &dup_of_reader[..],
                &[
                    ("ret", json!(78)),
                    ("flags", json!(0o2000000)),
                    // dup3 takes only O_CLOEXEC: no access mode to show.
                    ("flags_text", json!("O_CLOEXEC")),
                ],
            ]
            .concat(),
        );
        c.expect(
            ty,
            "fcntl(F_DUPFD_CLOEXEC, 90)",
            &[("syscall", json!("fcntl"))],
            &[
                &dup_of_reader[..],
                &[
                    ("ret", json!(90)),
                    ("newfd", json!(90)),
                    ("cmd", json!("F_DUPFD_CLOEXEC")),
                ],
            ]
            .concat(),
        );
        c.none(
            ty,
            "fcntl(F_GETFD) is no dup: filtered in the kernel",
            &[("syscall", json!("fcntl")), ("oldfd", json!(77))],
        );

        let ty = "file_close";
        c.expect(
            ty,
            "close of a dup",
            &[("syscall", json!("close")), ("fd", json!(77))],
            &[me.clone(), ("ret", json!(0)), ("path", p("created.txt"))],
        );
        c.expect(
            ty,
            "close after the writes",
            &[("fd", v("fd_created")), ("path", p("created.txt"))],
            &[me.clone(), ("ret", json!(0))],
        );
        c.expect(
            ty,
            "close of the relative open after chdir",
            &[("path", p("sub/rel.txt")), ("fd", v("fd_open_after_chdir"))],
            &[me.clone(), ("ret", json!(0))],
        );

        let ty = "file_truncate";
        c.expect(
            ty,
            "truncate",
            &[("syscall", json!("truncate"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("path", p("creat.txt")),
                ("length", json!(3333)),
            ],
        );
        c.expect(
            ty,
            "ftruncate",
            &[("syscall", json!("ftruncate"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("fd", v("fd_creat")),
                ("path", p("creat.txt")),
                ("length", json!(2222)),
            ],
        );

        let ty = "file_link";
        if LEGACY {
            c.expect(
                ty,
                "link",
                &[("syscall", json!("link"))],
                &[
                    me.clone(),
                    ("ret", json!(0)),
                    ("oldpath", p("created.txt")),
                    ("newpath", p("hard-link")),
                    ("olddfd", Value::Null),
                ],
            );
        }
        c.expect(
            ty,
            "linkat(AT_SYMLINK_FOLLOW)",
            &[("syscall", json!("linkat")), ("olddfd", json!(dirfd))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("oldpath", p("created.txt")),
                ("oldpath_arg", json!("created.txt")),
                ("newdfd", json!("AT_FDCWD")),
                ("newpath", p("hard-linkat")),
                ("flags", json!(0x400)),
                ("flags_text", json!("AT_SYMLINK_FOLLOW")),
            ],
        );

        let ty = "file_symlink";
        if LEGACY {
            c.expect(
                ty,
                "symlink: the target as written",
                &[("syscall", json!("symlink"))],
                &[
                    me.clone(),
                    ("ret", json!(0)),
                    ("target", json!("created.txt")),
                    ("target_arg", Value::Null),
                    ("linkpath", p("sym-link")),
                ],
            );
        }
        c.expect(
            ty,
            "symlinkat(dirfd)",
            &[("syscall", json!("symlinkat")), ("newdfd", json!(dirfd))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("target", json!("/nonexistent/kellect-target")),
                ("linkpath", p("sym-linkat")),
                ("linkpath_arg", json!("sym-linkat")),
            ],
        );

        // ---- process ----
        let ty = "process_fork";
        c.expect(
            ty,
            "fork (raw syscall) of the child that exits 42",
            &[("child_pid", json!(fork_child))],
            &[
                me.clone(),
                ("syscall", json!(if LEGACY { "fork" } else { "clone" })),
                ("ret", json!(fork_child)),
                ("parent_pid", json!(pid)),
                ("parent_comm", json!("catalogue")),
                ("child_comm", json!("catalogue")),
                ("flags", json!(17)),
                ("flags_text", json!("SIGCHLD")),
            ],
        );
        c.expect(
            ty,
            "libc fork (clone) of the child that execs",
            &[("child_pid", json!(exec_child))],
            &[
                me.clone(),
                ("syscall", json!("clone")),
                ("ret", json!(exec_child)),
                ("parent_pid", json!(pid)),
                ("flags", json!(0x1200011)),
                (
                    "flags_text",
                    json!("SIGCHLD|CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"),
                ),
            ],
        );
        for child in [term_child, ids_child] {
            c.expect(
                ty,
                "libc fork",
                &[("child_pid", json!(child))],
                &[
                    me.clone(),
                    ("syscall", json!("clone")),
                    ("parent_pid", json!(pid)),
                ],
            );
        }

        let ty = "process_exec";
        c.expect(
            ty,
            "the workload itself",
            &[me.clone(), ("ret", json!(0))],
            &[
                ("syscall", json!("execve")),
                ("comm", json!("catalogue")),
                ("ppid", json!(recorder_pid)),
                // Started as ./catalogue: resolved against its cwd, like every path.
                ("filename", json!(format!("{}/catalogue", workload.dir()))),
                ("argv", json!(["./catalogue", run.scratch])),
                ("argc", json!(2)),
                ("old_pid", json!(pid)),
            ],
        );
        c.expect(
            ty,
            "execve of a missing file",
            &[("pid", json!(exec_child)), ("ret", json!(-2))],
            &[
                ("syscall", json!("execve")),
                ("error", json!("ENOENT")),
                ("comm", json!("catalogue")),
                ("ppid", json!(pid)),
                ("filename", p("no-such-program")),
                ("argv", Value::Null),
            ],
        );
        c.expect(
            ty,
            "execve of /bin/true",
            &[("pid", json!(exec_child)), ("ret", json!(0))],
            &[
                ("syscall", json!("execve")),
                ("comm", json!("true")),
                ("ppid", json!(pid)),
                ("filename", json!("/bin/true")),
                ("argv", json!(["true", "kellect-catalogue", "exec-argv-3"])),
                ("argc", json!(3)),
                ("old_pid", json!(exec_child)),
            ],
        );

        let ty = "process_clone";
        let clone = c.expect(
            ty,
            "pthread_create",
            &[("child_tid", json!(thread_tid))],
            &[
                me.clone(),
                ("tid", json!(pid)),
                ("syscall", json!("clone3")),
                ("ret", json!(thread_tid)),
                ("child_pid", Value::Null),
            ],
        );
        c.holds(ty, "flags hold CLONE_VM|CLONE_THREAD", clone, |e| {
            e["flags"].as_u64().is_some_and(|f| f & 0x10100 == 0x10100)
                && e["flags_text"]
                    .as_str()
                    .is_some_and(|t| t.contains("CLONE_VM") && t.contains("CLONE_THREAD"))
        });

        let ty = "process_exit";
        c.expect(
            ty,
            "the fork child's exit(42)",
            &[("pid", json!(fork_child))],
            &[
                ("ppid", json!(pid)),
                ("syscall", json!("exit_group")),
                ("exit_code", json!(42)),
                ("signal", json!(0)),
                ("signal_name", Value::Null),
            ],
        );
        c.expect(
            ty,
            "/bin/true's exit",
            &[("pid", json!(exec_child))],
            &[
                ("comm", json!("true")),
                ("exit_code", json!(0)),
                ("signal", json!(0)),
            ],
        );
        c.expect(
            ty,
            "death by SIGTERM",
            &[("pid", json!(term_child))],
            &[
                ("exit_code", json!(0)),
                ("signal", json!(15)),
                ("signal_name", json!("SIGTERM")),
                ("core_dumped", Value::Null),
            ],
        );
        c.expect(
            ty,
            "the thread's exit",
            &[("tid", json!(thread_tid))],
            &[
                me.clone(),
                ("process_type", json!("thread")),
                ("syscall", json!("exit")),
                ("exit_code", json!(0)),
            ],
        );
        c.expect(
            ty,
            "the ids child's exit, with its new ids",
            &[("pid", json!(ids_child))],
            &[
                ("uid", json!(4003)),
                ("gid", json!(4103)),
                ("exit_code", json!(0)),
            ],
        );
        let root_exit = c.expect(
            ty,
            "the workload's exit",
            &[me.clone(), ("tid", json!(pid))],
            &[
                ("syscall", json!("exit_group")),
                ("exit_code", json!(0)),
                ("signal", json!(0)),
            ],
        );
        c.holds(
            ty,
            "the workload's exit is the last event",
            root_exit,
            |e| evs.last() == Some(e),
        );

        let ty = "process_pipe";
        let (r, w) = run.pair("pipe");
        if LEGACY {
            c.expect(
                ty,
                "pipe",
                &[("syscall", json!("pipe"))],
                &[
                    me.clone(),
                    ("ret", json!(0)),
                    ("fd0", json!(r)),
                    ("fd1", json!(w)),
                    ("flags", json!(0)),
                    ("flags_text", json!("0")),
                ],
            );
        }
        let (r, w) = run.pair("pipe2");
        c.expect(
            ty,
            "pipe2(O_CLOEXEC)",
            &[("syscall", json!("pipe2")), ("flags", json!(0o2000000))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("fd0", json!(r)),
                ("fd1", json!(w)),
                ("flags_text", json!("O_CLOEXEC")),
            ],
        );

        let ty = "process_kill";
        c.expect(
            ty,
            "kill(child, SIGTERM)",
            &[
                ("syscall", json!("kill")),
                ("target_pid", json!(term_child)),
            ],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("sig", json!(15)),
                ("sig_name", json!("SIGTERM")),
            ],
        );
        c.expect(
            ty,
            "kill(self, 0)",
            &[("syscall", json!("kill")), ("target_pid", json!(pid))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("sig", json!(0)),
                ("sig_name", Value::Null),
            ],
        );
        c.expect(
            ty,
            "tkill(self, 0)",
            &[("syscall", json!("tkill"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("target_tid", json!(pid)),
                ("sig", json!(0)),
            ],
        );
        c.expect(
            ty,
            "tgkill(self, thread, 0) from the thread",
            &[("syscall", json!("tgkill"))],
            &[
                me.clone(),
                ("tid", json!(thread_tid)),
                ("process_type", json!("thread")),
                ("ret", json!(0)),
                ("target_pid", json!(pid)),
                ("target_tid", json!(thread_tid)),
                ("sig", json!(0)),
            ],
        );

        let ty = "process_ptrace";
        for (request, name) in [(16, "PTRACE_ATTACH"), (17, "PTRACE_DETACH")] {
            c.expect(
                ty,
                name,
                &[("request", json!(request))],
                &[
                    me.clone(),
                    ("ret", json!(0)),
                    ("request_text", json!(name)),
                    ("target_pid", json!(term_child)),
                    ("addr", json!(0)),
                    ("data", json!(0)),
                ],
            );
        }

        let ty = "process_mmap";
        let anon = run.int("mmap_anon");
        c.expect(
            ty,
            "mmap of a file",
            &[("ret", v("mmap_file"))],
            &[
                me.clone(),
                ("addr", json!(0)),
                ("len", json!(4096)),
                ("prot", json!(1)),
                ("prot_text", json!("PROT_READ")),
                ("flags", json!(2)),
                ("flags_text", json!("MAP_PRIVATE")),
                ("fd", json!(fd_reader)),
                ("path", p("created.txt")),
                ("ino", ino_created.clone()),
                ("offset", json!(4096)),
            ],
        );
        c.expect(
            ty,
            "anonymous mmap",
            &[("ret", json!(anon))],
            &[
                me.clone(),
                ("len", json!(12288)),
                ("prot", json!(3)),
                ("prot_text", json!("PROT_READ|PROT_WRITE")),
                ("flags", json!(0x22)),
                ("flags_text", json!("MAP_PRIVATE|MAP_ANONYMOUS")),
                ("fd", json!(-1)),
                ("path", Value::Null),
                ("ino", Value::Null),
                ("offset", json!(0)),
            ],
        );

        let ty = "process_mprotect";
        c.expect(
            ty,
            "mprotect(PROT_READ|PROT_EXEC)",
            &[("addr", json!(anon))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("len", json!(4096)),
                ("prot", json!(5)),
                ("prot_text", json!("PROT_READ|PROT_EXEC")),
                ("flags", Value::Null),
            ],
        );
        c.expect(
            ty,
            "mprotect(PROT_NONE)",
            &[("addr", json!(anon + 4096))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("len", json!(4096)),
                ("prot", json!(0)),
                ("prot_text", json!("PROT_NONE")),
            ],
        );

        // ---- network ----
        let port = run.int("port");
        let client_port = run.int("client_port");
        let loopback = ("addr", json!("127.0.0.1"));
        let inet = ("family", json!("AF_INET"));
        let ty = "net_bind";
        c.expect(
            ty,
            "bind of the TCP listener",
            &[("port", json!(port)), inet.clone()],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("fd", v("fd_listener")),
                inet.clone(),
                loopback.clone(),
            ],
        );
        c.expect(
            ty,
            "bind to [::1]:0",
            &[("family", json!("AF_INET6"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("addr", json!("::1")),
                ("port", json!(0)),
            ],
        );
        c.expect(
            ty,
            "bind to a UNIX path",
            &[("path", p("unix.sock"))],
            &[me.clone(), ("ret", json!(0)), ("family", json!("AF_UNIX"))],
        );
        c.expect(
            ty,
            "bind to an abstract UNIX name",
            &[("path", json!(format!("@kellect-test-catalogue-{pid}")))],
            &[me.clone(), ("ret", json!(0)), ("family", json!("AF_UNIX"))],
        );

        let ty = "net_connect";
        c.expect(
            ty,
            "TCP connect",
            &[("port", json!(port)), inet.clone()],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("fd", v("fd_client")),
                inet.clone(),
                loopback.clone(),
            ],
        );
        c.expect(
            ty,
            "TCP connect to a closed port",
            &[("port", v("refused_port")), inet.clone()],
            &[
                me.clone(),
                ("ret", json!(-111)),
                ("error", json!("ECONNREFUSED")),
                inet.clone(),
                loopback.clone(),
            ],
        );
        c.expect(
            ty,
            "UDP connect to [::1]",
            &[("family", json!("AF_INET6"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                ("addr", json!("::1")),
                ("port", v("v6_port")),
            ],
        );
        c.expect(
            ty,
            "connect to a UNIX path",
            &[("path", p("unix.sock"))],
            &[me.clone(), ("ret", json!(0)), ("family", json!("AF_UNIX"))],
        );

        let ty = "net_accept";
        c.expect(
            ty,
            "accept4(SOCK_CLOEXEC)",
            &[("syscall", json!("accept4"))],
            &[
                me.clone(),
                ("fd", v("fd_listener")),
                ("ret", v("fd_accepted")),
                ("newfd", v("fd_accepted")),
                inet.clone(),
                loopback.clone(),
                ("port", json!(client_port)),
                ("flags", json!(0o2000000)),
                ("flags_text", json!("SOCK_CLOEXEC")),
            ],
        );

        let ty = "net_getpeername";
        c.expect(
            ty,
            "getpeername of the accepted socket",
            &[("fd", v("fd_accepted"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                inet.clone(),
                loopback.clone(),
                ("port", json!(client_port)),
            ],
        );
        c.expect(
            ty,
            "getpeername of the client socket",
            &[("fd", v("fd_client"))],
            &[
                me.clone(),
                ("ret", json!(0)),
                inet.clone(),
                loopback.clone(),
                ("port", json!(port)),
            ],
        );

        let ty = "net_sendto";
        c.expect(
            ty,
            "send on a connected TCP socket: named by its peer",
            &[("syscall", json!("sendto")), ("fd", v("fd_client"))],
            &[
                me.clone(),
                ("ret", json!(99)),
                ("len", json!(99)),
                ("bytes", json!(99)),
                ("flags_text", json!("0")),
                ("family", Value::Null),
                ("socket", json!(format!("socket:127.0.0.1:{port}"))),
            ],
        );
        c.expect(
            ty,
            "UDP sendto",
            &[("syscall", json!("sendto")), ("fd", v("fd_u1"))],
            &[
                me.clone(),
                ("len", json!(111)),
                ("bytes", json!(111)),
                inet.clone(),
                loopback.clone(),
                ("port", v("u2_port")),
            ],
        );
        c.expect(
            ty,
            "UDP sendmsg(MSG_DONTWAIT)",
            &[("syscall", json!("sendmsg"))],
            &[
                me.clone(),
                ("fd", v("fd_u2")),
                ("bytes", json!(222)),
                ("flags", json!(0x40)),
                ("flags_text", json!("MSG_DONTWAIT")),
                inet.clone(),
                loopback.clone(),
                ("port", v("u1_port")),
            ],
        );

        let ty = "net_recvfrom";
        c.expect(
            ty,
            "recv on the accepted TCP socket: named by its peer",
            &[("syscall", json!("recvfrom")), ("fd", v("fd_accepted"))],
            &[
                me.clone(),
                ("len", json!(500)),
                ("bytes", json!(99)),
                ("family", Value::Null),
                ("socket", json!(format!("socket:127.0.0.1:{client_port}"))),
            ],
        );
        c.expect(
            ty,
            "UDP recvfrom: the sender's address",
            &[("syscall", json!("recvfrom")), ("fd", v("fd_u2"))],
            &[
                me.clone(),
                ("len", json!(2048)),
                ("bytes", json!(111)),
                inet.clone(),
                loopback.clone(),
                ("port", v("u1_port")),
            ],
        );
        c.expect(
            ty,
            "UDP recvmsg: the sender's address",
            &[("syscall", json!("recvmsg"))],
            &[
                me.clone(),
                ("fd", v("fd_u1")),
                ("bytes", json!(222)),
                inet.clone(),
                loopback.clone(),
                ("port", v("u2_port")),
            ],
        );

        let ty = "net_socketpair";
        let (a, b) = run.pair("socketpair");
        c.expect(
            ty,
            "socketpair(AF_UNIX, SOCK_DGRAM|SOCK_CLOEXEC)",
            std::slice::from_ref(&me),
            &[
                ("ret", json!(0)),
                ("family", json!("AF_UNIX")),
                ("type", json!("SOCK_DGRAM|SOCK_CLOEXEC")),
                ("protocol", json!("IPPROTO_IP")),
                ("fd0", json!(a)),
                ("fd1", json!(b)),
            ],
        );

        // ---- permission ----
        // uid/gid are the process's real ids when the call returned; the arguments have
        // their own keys (-1: unchanged).
        let child = ("pid", json!(ids_child));
        let ty = "perm_setuid";
        c.expect(
            ty,
            "setuid(0)",
            std::slice::from_ref(&me),
            &[("ret", json!(0)), ("uid", json!(0))],
        );
        c.expect(
            ty,
            "setuid(4003) by a non-root process",
            &[child.clone(), ("ret", json!(0))],
            &[("uid", json!(4003)), ("gid", json!(4103))],
        );
        let refused = c.expect(
            ty,
            "setuid(4999) refused",
            &[child.clone(), ("ret", json!(-1))],
            &[
                ("error", json!("EPERM")),
                ("uid", json!(4003)),
                ("gid", json!(4103)),
            ],
        );
        c.holds(ty, "the argument 4999 is shown", refused, |e| {
            e.as_object().unwrap().values().any(|v| v == 4999)
        });

        let ty = "perm_setreuid";
        c.expect(
            ty,
            "setreuid(-1, 0)",
            std::slice::from_ref(&me),
            &[("ret", json!(0)), ("ruid", json!(-1)), ("euid", json!(0))],
        );
        c.expect(
            ty,
            "setreuid(-1, 4005)",
            std::slice::from_ref(&child),
            &[
                ("ret", json!(0)),
                ("uid", json!(4003)),
                ("ruid", json!(-1)),
                ("euid", json!(4005)),
            ],
        );

        let ty = "perm_setresuid";
        c.expect(
            ty,
            "setresuid(0, -1, -1)",
            std::slice::from_ref(&me),
            &[
                ("ret", json!(0)),
                ("ruid", json!(0)),
                ("euid", json!(-1)),
                ("suid", json!(-1)),
            ],
        );
        c.expect(
            ty,
            "setresuid(4003, 4004, 4005)",
            std::slice::from_ref(&child),
            &[
                ("ret", json!(0)),
                ("uid", json!(4003)),
                ("gid", json!(4103)),
                ("ruid", json!(4003)),
                ("euid", json!(4004)),
                ("suid", json!(4005)),
            ],
        );

        let ty = "perm_setgid";
        c.expect(
            ty,
            "setgid(0)",
            std::slice::from_ref(&me),
            &[("ret", json!(0)), ("gid", json!(0))],
        );
        c.expect(
            ty,
            "setgid(4100)",
            &[child.clone(), ("ret", json!(0))],
            &[("uid", json!(0)), ("gid", json!(4100))],
        );
        let refused = c.expect(
            ty,
            "setgid(4998) refused",
            &[child.clone(), ("ret", json!(-1))],
            &[
                ("error", json!("EPERM")),
                ("uid", json!(4003)),
                ("gid", json!(4103)),
            ],
        );
        c.holds(ty, "the argument 4998 is shown", refused, |e| {
            e.as_object().unwrap().values().any(|v| v == 4998)
        });

        let ty = "perm_setregid";
        c.expect(
            ty,
            "setregid(0, -1)",
            std::slice::from_ref(&me),
            &[("ret", json!(0)), ("rgid", json!(0)), ("egid", json!(-1))],
        );
        c.expect(
            ty,
            "setregid(4101, 4102)",
            std::slice::from_ref(&child),
            &[
                ("ret", json!(0)),
                ("gid", json!(4101)),
                ("rgid", json!(4101)),
                ("egid", json!(4102)),
            ],
        );

        let ty = "perm_setresgid";
        c.expect(
            ty,
            "setresgid(-1, -1, -1)",
            std::slice::from_ref(&me),
            &[
                ("ret", json!(0)),
                ("rgid", json!(-1)),
                ("egid", json!(-1)),
                ("sgid", json!(-1)),
            ],
        );
        c.expect(
            ty,
            "setresgid(4103, 4104, 4105)",
            std::slice::from_ref(&child),
            &[
                ("ret", json!(0)),
                ("gid", json!(4103)),
                ("rgid", json!(4103)),
                ("egid", json!(4104)),
                ("sgid", json!(4105)),
            ],
        );

        // ---- every event: one assertion per rule and event type ----
        let tree = [pid, fork_child, exec_child, term_child, ids_child];
        let rules: [(&str, &Rule); 3] = [
            ("keys written twice (JSON keeps the last)", &|_, keys| {
                let mut seen = BTreeSet::new();
                keys.iter().all(|k| seen.insert(k))
            }),
            ("event outside the workload's process tree", &|e, _| {
                e["pid"].as_i64().is_some_and(|p| tree.contains(&p))
            }),
            // File paths are absolute (an fd's name may also be socket…, pipe… or memfd:…); the
            // path of a net_* event is a UNIX socket address, as given.
            ("path not absolute", &|e, _| {
                let ty = e["event_type"].as_str().unwrap();
                let has_file_paths = ty.starts_with("file_") || ty == "process_exec";
                !has_file_paths
                    || ["path", "oldpath", "newpath", "linkpath", "filename"]
                        .iter()
                        .filter_map(|k| e.get(*k).and_then(Value::as_str))
                        .all(|p| {
                            p.starts_with('/')
                                || p.starts_with("socket")
                                || p.starts_with("pipe")
                                || p.starts_with("memfd:")
                        })
            }),
        ];
        for (rule, holds) in rules {
            let mut offenders: BTreeMap<&str, Vec<String>> = BTreeMap::new();
            for (e, keys) in evs.iter().zip(&run.keys) {
                let list = offenders
                    .entry(e["event_type"].as_str().unwrap())
                    .or_default();
                if !holds(e, keys) {
                    list.push(e.to_string());
                }
            }
            for (ty, bad) in offenders {
                c.check(ty, bad.is_empty(), || {
                    format!("{rule}:\n    {}", bad.join("\n    "))
                });
            }
        }
        let all_types = types_in(evs);
        assert_eq!(catalogue_types().count(), 38);
        for ty in catalogue_types() {
            c.check(ty, all_types.contains(ty), || {
                "no event of this type".into()
            });
        }
        let i = info(&run.trace);
        c.check("trace", i["dropped_total"] == 0, || {
            format!("records dropped: {i}")
        });
        let ordered = evs
            .windows(2)
            .all(|w| w[0]["timestamp"].as_u64() <= w[1]["timestamp"].as_u64());
        c.check("trace", ordered, || "timestamps out of order".into());
        c.finish("catalogue workload");
    }

    #[test]
    fn network_group_records_no_file_syscalls() {
        if !live() {
            return;
        }
        let workload = Workload::build();
        let full = workload.record("all", &[]);
        let net = workload.record("network", &["-e", "network"]);
        let types = types_in(&net.events);
        // Syscall events of the other groups: none; process lifecycle: always recorded.
        let foreign: Vec<&Value> = net
            .events
            .iter()
            .filter(|e| {
                let t = e["event_type"].as_str().unwrap();
                t.starts_with("file_")
                    || t.starts_with("perm_")
                    || matches!(
                        t,
                        "process_pipe"
                            | "process_kill"
                            | "process_ptrace"
                            | "process_mmap"
                            | "process_mprotect"
                    )
                    // A failed exec is the execve syscall itself; a successful one is
                    // process lifecycle.
                    || (t == "process_exec" && e["ret"] != 0)
            })
            .collect();
        assert!(
            foreign.is_empty(),
            "-e network recorded events of other groups: {foreign:#?}"
        );
        for t in EVENT_TYPES.iter().filter(|t| t.starts_with("net_")) {
            assert!(
                types.contains(t),
                "-e network: no {t} event; types: {types:?}"
            );
        }
        for t in [
            "process_fork",
            "process_clone",
            "process_exec",
            "process_exit",
        ] {
            assert!(
                types.contains(t),
                "-e network: lifecycle {t} missing: {types:?}"
            );
        }
        assert_every_type(&full.events, "the full recording");

        // The kernel wrote the same lifecycle records, and far fewer syscall records.
        let (fi, ni) = (info(&full.trace), info(&net.trace));
        for kind in ["proc_fork", "proc_exec", "proc_exit"] {
            assert_eq!(
                fi["records"][kind], ni["records"][kind],
                "{kind}\nfull: {fi}\nnetwork: {ni}"
            );
        }
        let total = |i: &Value| i["records_total"].as_u64().unwrap();
        assert!(
            total(&ni) * 2 < total(&fi),
            "-e network wrote {} records, the full recording {}\nfull: {fi}\nnetwork: {ni}",
            total(&ni),
            total(&fi)
        );
        assert_eq!(ni["dropped_total"], 0, "{ni}");
        // The kernel wrote no syscall of the other groups: info counts them by group.
        let groups = &ni["syscalls_by_group"];
        for other in ["file", "process", "permission"] {
            assert!(
                groups.get(other).is_none(),
                "{other} syscalls under -e network: {ni}"
            );
        }
        assert!(groups["network"].as_u64().unwrap() > 0, "{ni}");
        assert!(
            fi["syscalls_by_group"]["file"].as_u64().unwrap() > 0,
            "{fi}"
        );
    }
}
