//! The event types of prctl, namespaces, capset, chroot and the system group (kernel
//! modules, BPF, mounts), from tests/workloads/system.c. The fixture fixtures/system.kz (see
//! fixtures/regenerate.sh) replays byte for byte without root and holds every one of them
//! with the values the workload chose.

use serde_json::{json, Value};

use crate::catalogue::SYSTEM_TYPES;
use crate::util::replay_json_min as replay;
use crate::util::{assert_fixture_replays, fixture, json_lines};

#[test]
fn system_fixture_replays_byte_for_byte() {
    assert_fixture_replays("system");
}

/// The one event of `syscall` for which every `(key, value)` of `want` holds.
#[track_caller]
fn find<'a>(events: &'a [Value], syscall: &str, want: &[(&str, Value)]) -> &'a Value {
    let found: Vec<&Value> = events
        .iter()
        .filter(|e| e["syscall"] == syscall)
        .filter(|e| {
            want.iter()
                .all(|(k, v)| e.get(*k).unwrap_or(&Value::Null) == v)
        })
        .collect();
    assert_eq!(found.len(), 1, "{syscall} with {want:?}: {found:#?}");
    found[0]
}

#[test]
fn system_fixture_holds_every_new_type_with_its_values() {
    let events = json_lines(replay(&fixture("system.kz"), &["--view", "events"]).as_bytes());
    for ty in SYSTEM_TYPES {
        assert!(
            events.iter().any(|e| e["event_type"] == ty),
            "fixtures/system.kz has no {ty}"
        );
    }
    // PR_SET_NAME: the name, and the comm of every later event.
    let renamed = find(&events, "prctl", &[("option_text", json!("PR_SET_NAME"))]);
    assert_eq!(renamed["name"], "kworker/0:9", "{renamed}");
    assert_eq!(renamed["comm"], "kworker/0:9", "{renamed}");
    // Queries are not recorded; the options chosen are, failures with their errno.
    assert_eq!(
        events.iter().filter(|e| e["syscall"] == "prctl").count(),
        6,
        "PR_SET_NAME, PR_SET_DUMPABLE twice, PR_CAP_AMBIENT, PR_SET_SECCOMP, PR_SET_NO_NEW_PRIVS"
    );
    find(
        &events,
        "prctl",
        &[
            ("option_text", json!("PR_SET_SECCOMP")),
            ("error", json!("EFAULT")),
        ],
    );
    find(
        &events,
        "prctl",
        &[
            ("option_text", json!("PR_SET_NO_NEW_PRIVS")),
            ("arg2", json!(1)),
        ],
    );
    // Modules: the parameters and the module file; this kernel has no modules (ENOSYS).
    find(
        &events,
        "init_module",
        &[
            ("event_type", json!("sys_module_load")),
            ("len", json!(16)),
            ("params", json!("answer=42")),
        ],
    );
    let finit = find(&events, "finit_module", &[("params", json!("debug=1"))]);
    assert!(
        finit["path"].as_str().unwrap().ends_with("/empty.ko"),
        "{finit}"
    );
    find(
        &events,
        "delete_module",
        &[
            ("event_type", json!("sys_module_unload")),
            ("name", json!("kellect_no_such_module")),
            ("flags_text", json!("O_NONBLOCK")),
        ],
    );
    // bpf: the load and the map, not the element read.
    assert_eq!(events.iter().filter(|e| e["syscall"] == "bpf").count(), 2);
    find(
        &events,
        "bpf",
        &[
            ("cmd_text", json!("BPF_PROG_LOAD")),
            ("prog_type_text", json!("BPF_PROG_TYPE_SOCKET_FILTER")),
            ("insn_cnt", json!(2)),
            ("prog_name", json!("kellect_sf")),
        ],
    );
    find(
        &events,
        "bpf",
        &[
            ("cmd_text", json!("BPF_MAP_CREATE")),
            ("map_type_text", json!("BPF_MAP_TYPE_ARRAY")),
            ("key_size", json!(4)),
            ("value_size", json!(8)),
            ("max_entries", json!(3)),
            ("map_name", json!("kellect_map")),
        ],
    );
    // Namespaces.
    find(
        &events,
        "unshare",
        &[("flags_text", json!("CLONE_NEWNS")), ("ret", json!(0))],
    );
    find(
        &events,
        "setns",
        &[
            ("path", json!("/proc/self/ns/uts")),
            ("nstype_text", json!("CLONE_NEWUTS")),
        ],
    );
    // Mounts.
    find(
        &events,
        "mount",
        &[
            ("source", json!("kellect-tmpfs")),
            ("target_arg", json!("mnt")),
            ("fstype", json!("tmpfs")),
            ("flags_text", json!("MS_NOSUID|MS_NODEV")),
        ],
    );
    find(
        &events,
        "mount",
        &[
            ("source", Value::Null),
            ("target", json!("/")),
            ("flags_text", json!("MS_REC|MS_PRIVATE")),
        ],
    );
    find(
        &events,
        "umount2",
        &[("target_arg", json!("mnt")), ("error", json!("EINVAL"))],
    );
    find(
        &events,
        "fsopen",
        &[
            ("fstype", json!("tmpfs")),
            ("flags_text", json!("FSOPEN_CLOEXEC")),
        ],
    );
    find(
        &events,
        "fsconfig",
        &[
            ("cmd_text", json!("FSCONFIG_SET_STRING")),
            ("key", json!("source")),
            ("value", json!("kellect-api")),
        ],
    );
    find(
        &events,
        "fsconfig",
        &[
            ("cmd_text", json!("FSCONFIG_CMD_CREATE")),
            ("key", Value::Null),
        ],
    );
    find(
        &events,
        "fsmount",
        &[("attr_flags_text", json!("MOUNT_ATTR_NODEV"))],
    );
    find(
        &events,
        "move_mount",
        &[
            ("to_path_arg", json!("mnt2")),
            ("flags_text", json!("MOVE_MOUNT_F_EMPTY_PATH")),
        ],
    );
    find(
        &events,
        "open_tree",
        &[("flags_text", json!("OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC"))],
    );
    // capset: CAP_SYS_BOOT left the effective set, not the permitted one.
    let capset = find(&events, "capset", &[("cap_version", json!("0x20080522"))]);
    let eff = capset["effective_text"].as_str().unwrap();
    let perm = capset["permitted_text"].as_str().unwrap();
    assert!(
        !eff.contains("CAP_SYS_BOOT") && perm.contains("CAP_SYS_BOOT"),
        "{capset}"
    );
    // chroot, pivot_root.
    find(
        &events,
        "chroot",
        &[("path", json!("/")), ("ret", json!(0))],
    );
    find(
        &events,
        "chroot",
        &[
            ("path_arg", json!("no-such-dir")),
            ("error", json!("ENOENT")),
        ],
    );
    find(
        &events,
        "pivot_root",
        &[
            ("new_root_arg", json!("no-new-root")),
            ("error", json!("ENOENT")),
        ],
    );
    // The records view names the process by its new name.
    let records = json_lines(replay(&fixture("system.kz"), &[]).as_bytes());
    let after = records
        .iter()
        .find(|r| r["File"] == "after-rename")
        .expect("a record of after-rename");
    assert_eq!(after["Proc"], "kworker/0:9", "{after}");
}

#[cfg(feature = "record")]
mod live {
    use serde_json::Value;

    use crate::catalogue::SYSTEM_TYPES;
    use crate::live::live;
    use crate::util::json_lines;

    /// One syscall as both see it: thread, name, prctl's option or bpf's command, result
    /// (-1 for any failure, as strace -o prints it).
    #[derive(Debug, PartialEq)]
    struct Seen {
        tid: u64,
        name: String,
        first: Option<String>,
        ret: i64,
    }

    const NAMES: [&str; 17] = [
        "prctl",
        "init_module",
        "finit_module",
        "delete_module",
        "bpf",
        "unshare",
        "setns",
        "mount",
        "umount2",
        "fsopen",
        "fsconfig",
        "fsmount",
        "move_mount",
        "open_tree",
        "capset",
        "chroot",
        "pivot_root",
    ];

    /// The new types' syscalls in an `strace -f -qq` log, prctl and bpf only with the
    /// options and commands kellect records.
    fn straced(log: &str) -> Vec<Seen> {
        let mut out = Vec::new();
        for call in crate::util::strace_calls(log) {
            let name = call.name;
            if !NAMES.contains(&name) {
                continue;
            }
            let arg0 = call
                .rest
                .split([',', ')'])
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            let first = match name {
                "prctl" => {
                    let known = kellect::syscalls::PRCTL_RECORDED
                        .iter()
                        .any(|(_, n)| *n == arg0);
                    if !known {
                        continue;
                    }
                    Some(arg0)
                }
                "bpf" => {
                    if !["BPF_PROG_LOAD", "BPF_MAP_CREATE"].contains(&arg0.as_str()) {
                        continue;
                    }
                    Some(arg0)
                }
                _ => None,
            };
            out.push(Seen {
                tid: call.tid(),
                name: name.to_owned(),
                first,
                ret: call.ret(),
            });
        }
        out
    }

    #[test]
    fn the_system_types_match_strace_of_the_same_run() {
        if !live() {
            return;
        }
        let dir = crate::util::compile_workload("system.c", &["-O1"], "system");
        let scratch = dir.path().join("scratch");
        std::fs::create_dir(&scratch).unwrap();
        let trace = dir.path().join("system.kz");
        let log = dir.path().join("strace.log");
        let args = [
            std::ffi::OsStr::new("strace"),
            "-f".as_ref(),
            "-qq".as_ref(),
            "-o".as_ref(),
            log.as_os_str(),
            "./system".as_ref(),
            scratch.as_os_str(),
        ];
        crate::util::record_in(dir.path(), &trace, &args);
        let log = std::fs::read_to_string(&log).unwrap();
        let events = json_lines(&super::replay(&trace, &["--view", "events"]).into_bytes());
        let seen: Vec<Seen> = events
            .iter()
            .filter(|e| SYSTEM_TYPES.contains(&e["event_type"].as_str().unwrap()))
            .map(|e| Seen {
                tid: e["tid"].as_u64().unwrap(),
                name: e["syscall"].as_str().unwrap().to_owned(),
                first: e
                    .get("option_text")
                    .or_else(|| e.get("cmd_text").filter(|_| e["syscall"] == "bpf"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                ret: e["ret"].as_i64().unwrap().max(-1),
            })
            .collect();
        let traced = straced(&log);
        assert_eq!(
            seen, traced,
            "kellect (left) and strace (right)\nstrace log:\n{log}"
        );
        assert!(traced.len() >= 27, "{log}");
    }
}
