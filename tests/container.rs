//! Container context (issue 14, item 1): a process moved into a cgroup named like a
//! runtime's (`docker-<64 hex>.scope`) carries the container's id and runtime on its events
//! (`container_id`, `container_runtime`) and records (`ContainerId`, `ContainerRuntime`,
//! `CgroupPath`), its exec its cgroup id and namespaces, and `--container` (the id in full
//! or its first 12 characters) selects them in both views. The fixture
//! fixtures/container.kz (see fixtures/regenerate.sh) replays byte for byte without root;
//! the live test records the workload (tests/workloads/container.sh) in a cgroup it makes
//! and removes.

use std::path::Path;

use serde_json::Value;

use crate::util::replay_json_min as replay;
use crate::util::{assert_fixture_replays, fixture, json_lines};

/// The container id the fixture's cgroup is named with (fixtures/regenerate.sh).
const FIXTURE_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// The first exec event of `comm` that succeeded.
#[track_caller]
fn exec_of<'a>(events: &'a [Value], comm: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["event_type"] == "process_exec" && e["comm"] == comm && e["ret"] == 0)
        .unwrap_or_else(|| panic!("no exec of {comm}"))
}

/// What any recording of tests/workloads/container.sh in `docker-<id>.scope` shows.
#[track_caller]
fn assert_container_workload(trace: &Path, id: &str) {
    let events = json_lines(replay(trace, &["--view", "events"]).as_bytes());
    let inside: Vec<&Value> = events
        .iter()
        .filter(|e| e.get("container_id").is_some())
        .collect();
    assert!(inside.len() >= 3, "{inside:#?}");
    for e in &inside {
        assert_eq!(e["container_id"], id, "{e}");
        assert_eq!(e["container_runtime"], "docker", "{e}");
    }
    // The shell's own exec came before the move; its rmdir after the move back.
    let sh = exec_of(&events, "sh");
    assert!(sh.get("container_id").is_none(), "{sh}");
    let rmdir = events
        .iter()
        .find(|e| e["event_type"] == "file_rmdir")
        .expect("the rmdir of the cgroup");
    assert!(rmdir.get("container_id").is_none(), "{rmdir}");
    // cat ran inside; readlink in a shell forked inside.
    let cat = exec_of(&events, "cat");
    let readlink = exec_of(&events, "readlink");
    for e in [cat, readlink] {
        assert_eq!(e["container_id"], id, "{e}");
        assert!(e["cgroup_id"].as_u64().unwrap() > 1, "{e}");
        for ns in ["pid_ns", "mnt_ns", "net_ns"] {
            assert!(e[ns].as_u64().unwrap() > 0, "{ns}: {e}");
        }
    }
    assert_eq!(cat["cgroup_id"], readlink["cgroup_id"]);
    assert_ne!(
        sh["cgroup_id"], cat["cgroup_id"],
        "the move changed it: {sh}"
    );
    assert_eq!(sh["pid_ns"], cat["pid_ns"], "no new pid namespace");

    let records = json_lines(replay(trace, &[]).as_bytes());
    let scope = format!("/docker-{id}.scope");
    let contained: Vec<&Value> = records
        .iter()
        .filter(|r| r.get("ContainerId").is_some())
        .collect();
    assert!(
        contained.iter().any(|r| r["Proc"] == "cat"),
        "{contained:#?}"
    );
    for r in &contained {
        assert_eq!(r["ContainerId"], id, "{r}");
        assert_eq!(r["ContainerRuntime"], "docker", "{r}");
        assert!(r["CgroupPath"].as_str().unwrap().ends_with(&scope), "{r}");
    }
    for r in records.iter().filter(|r| r["Proc"] == "cat") {
        assert_eq!(r["ContainerId"], id, "every record of cat: {r}");
    }
    assert!(
        contained.len() < records.len(),
        "the shell's records after it left have none"
    );

    // --container, by the 12-character prefix and in full, in both views.
    let picked =
        json_lines(replay(trace, &["--view", "events", "--container", &id[..12]]).as_bytes());
    assert_eq!(picked.len(), inside.len());
    assert!(picked.iter().all(|e| e["container_id"] == id));
    let picked = json_lines(replay(trace, &["--container", id]).as_bytes());
    assert_eq!(picked.len(), contained.len());
    assert!(picked.iter().all(|r| r["ContainerId"] == id));
    // A shorter prefix names no container.
    assert_eq!(
        replay(trace, &["--view", "events", "--container", &id[..11]]),
        ""
    );
}

#[test]
fn container_fixture_replays_byte_for_byte() {
    assert_fixture_replays("container");
}

#[test]
fn container_fixture_has_the_container_on_its_events_and_records() {
    assert_container_workload(&fixture("container.kz"), FIXTURE_ID);
}

/// A slice of one container's events replays with the container on every event: its
/// Cgroups block is the cgroups as they were at its start.
#[test]
fn a_slice_of_a_container_keeps_its_container() {
    let dir = tempfile::tempdir().unwrap();
    let slice = dir.path().join("c.kz");
    let trace = fixture("container.kz");
    crate::util::run_ok(&[
        "slice",
        trace.to_str().unwrap(),
        "-o",
        slice.to_str().unwrap(),
        "--container",
        &FIXTURE_ID[..12],
    ]);
    let all =
        json_lines(replay(&trace, &["--view", "events", "--container", FIXTURE_ID]).as_bytes());
    let sliced = json_lines(replay(&slice, &["--view", "events"]).as_bytes());
    assert_eq!(sliced.len(), all.len());
    assert!(sliced.iter().all(|e| e["container_id"] == FIXTURE_ID));
}

#[test]
fn an_empty_container_id_is_a_usage_error() {
    let trace = fixture("container.kz");
    let err = crate::util::run_err(&["replay", trace.to_str().unwrap(), "--container", ""], 2);
    assert!(
        err.contains("--container needs a container id or name"),
        "{err}"
    );
}

#[cfg(feature = "record")]
mod live {
    use std::path::{Path, PathBuf};

    use crate::live::live;

    /// Where the v2 cgroup hierarchy is mounted (from /proc/self/mountinfo): /sys/fs/cgroup
    /// on a v2 host, /sys/fs/cgroup/unified on a hybrid one.
    fn v2_root() -> PathBuf {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        info.lines()
            .find_map(|line| {
                let (left, right) = line.split_once(" - ")?;
                let point = left.split_whitespace().nth(4)?;
                (right.split_whitespace().next()? == "cgroup2").then(|| PathBuf::from(point))
            })
            .expect("a cgroup2 hierarchy is mounted")
    }

    /// The test's cgroups: on drop, any process left in them goes back to the root and
    /// they are removed (the innermost first), whatever the test did.
    struct Cgroups {
        root: PathBuf,
        dirs: Vec<PathBuf>,
    }

    impl Drop for Cgroups {
        fn drop(&mut self) {
            for dir in self.dirs.iter().rev() {
                let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap_or_default();
                for pid in procs.lines() {
                    let _ = std::fs::write(self.root.join("cgroup.procs"), pid);
                }
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    /// 64 random lowercase hex digits.
    fn random_id() -> String {
        use std::io::Read;
        let mut bytes = [0u8; 32];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut bytes))
            .unwrap();
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The inode number of a namespace link of this process (`pid:[4026531836]`).
    fn ns_inode(kind: &str) -> u64 {
        let link = std::fs::read_link(format!("/proc/self/ns/{kind}")).unwrap();
        let text = link.to_string_lossy().into_owned();
        text.trim_start_matches(|c: char| !c.is_ascii_digit())
            .trim_end_matches(']')
            .parse()
            .unwrap_or_else(|_| panic!("{text}"))
    }

    #[test]
    fn a_process_moved_into_a_runtime_named_cgroup_carries_its_container() {
        if !live() {
            return;
        }
        let root = v2_root();
        let parent = root.join(format!("kellect-test-{}", std::process::id()));
        let id = random_id();
        let cg = parent.join(format!("docker-{id}.scope"));
        let _guard = Cgroups {
            root: root.clone(),
            dirs: vec![parent.clone(), cg.clone()],
        };
        std::fs::create_dir(&parent).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("container.kz");
        let workload = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/container.sh");
        let args = [
            "sh".as_ref(),
            workload.as_os_str(),
            root.as_os_str(),
            cg.as_os_str(),
        ];
        crate::util::record_in(dir.path(), &trace, &args);
        assert!(!cg.exists(), "the workload removed its cgroup");
        super::assert_container_workload(&trace, &id);
        // The namespaces are this test's (the recorder starts the command in them).
        let events =
            crate::util::json_lines(super::replay(&trace, &["--view", "events"]).as_bytes());
        let cat = super::exec_of(&events, "cat");
        assert_eq!(cat["pid_ns"], ns_inode("pid"), "{cat}");
        assert_eq!(cat["mnt_ns"], ns_inode("mnt"), "{cat}");
        assert_eq!(cat["net_ns"], ns_inode("net"), "{cat}");
    }
}
