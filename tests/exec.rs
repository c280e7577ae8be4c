//! Exec naming (issue 9, inputs 3, 7 and 8): tests/workloads/exec.c executes /bin/echo
//! through an fd, from a memfd, from a non-leader thread, and a `#!` script. Live
//! recordings with real BPF (root), and fixtures/exec.kz replayed without root.

use serde_json::{json, Value};

use crate::util::{assert_same_text, events, fixture, run_ok};

/// fixtures/exec.kz replays to its expected events and records, byte for byte.
#[test]
fn exec_fixture_replays_byte_for_byte() {
    let trace = fixture("exec.kz");
    let trace = trace.to_str().unwrap();
    let got = run_ok(&["replay", trace, "--view", "events", "-o", "json-min"]).stdout;
    let expected = std::fs::read_to_string(fixture("exec.events.json")).unwrap();
    assert_same_text(
        &expected,
        &String::from_utf8(got).unwrap(),
        "fixtures/exec.events.json",
    );
    let got = run_ok(&["replay", trace, "-o", "json-min"]).stdout;
    let expected = std::fs::read_to_string(fixture("exec.json")).unwrap();
    assert_same_text(
        &expected,
        &String::from_utf8(got).unwrap(),
        "fixtures/exec.json",
    );
}

/// The process events of fixtures/exec.kz, with the values the kernel used: the fd, the
/// memfd, the thread and the script execs (see fixtures/regenerate.sh).
#[test]
fn exec_fixture_names_what_ran() {
    let evs = events(&fixture("exec.kz"));
    let procs: Vec<&Value> = evs
        .iter()
        .filter(|e| {
            let t = e["event_type"].as_str().unwrap_or("");
            matches!(
                t,
                "process_exec" | "process_exit" | "process_fork" | "process_clone"
            )
        })
        .collect();
    // The workload's directory, from its first exec of ./exec.
    let dir = procs[2]["filename"]
        .as_str()
        .unwrap()
        .strip_suffix("/exec")
        .unwrap()
        .to_owned();
    let exec = |e: &Value| {
        json!([
            e["filename"],
            e["exe_path"],
            e["argv"],
            e.get("exe_memfd").is_some(),
            e.get("exe_deleted").is_some(),
            e.get("exe_interpreter").is_some()
        ])
    };
    let shape: Vec<&str> = procs
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(
        shape,
        [
            "process_exec", // /bin/sh -c
            "process_fork",
            "process_exec", // ./exec fd
            "process_exec",
            "process_exit",
            "process_fork",
            "process_exec", // ./exec memfd
            "process_exec",
            "process_exit",
            "process_fork",
            "process_exec", // ./exec thread: no exit of the process before its exec
            "process_clone",
            "process_exec",
            "process_exit",
            "process_fork",
            "process_exec", // ./exec script ./myscript.sh
            "process_exec",
            "process_exit",
            "process_exit",
        ],
        "{procs:#?}"
    );
    let own = format!("{dir}/exec");
    assert_eq!(exec(procs[2])[1], json!(own));
    assert_eq!(
        exec(procs[3]),
        json!([
            "/dev/fd/3",
            "/usr/bin/echo",
            ["echo", "via-fd"],
            false,
            false,
            false
        ])
    );
    assert_eq!(procs[3]["syscall"], "execveat");
    assert_eq!(
        exec(procs[7]),
        json!([
            "/dev/fd/4",
            "memfd:evil",
            ["evil", "from-memory"],
            true,
            true,
            false
        ])
    );
    // memfd_create, recorded: the fd the exec went through.
    let memfds: Vec<&Value> = evs
        .iter()
        .filter(|e| e["event_type"] == "file_memfd")
        .collect();
    assert_eq!(memfds.len(), 1, "{memfds:#?}");
    let m = memfds[0];
    assert_eq!(
        json!([
            m["syscall"],
            m["name"],
            m["flags"],
            m["fd"],
            m["ret"],
            m["pid"]
        ]),
        json!(["memfd_create", "evil", 0, 4, 4, procs[7]["pid"]])
    );
    assert!(m["timestamp"].as_u64() < procs[7]["timestamp"].as_u64());
    assert_eq!(
        exec(procs[12]),
        json!([
            "/bin/echo",
            "/usr/bin/echo",
            ["echo", "from-thread"],
            false,
            false,
            false
        ])
    );
    // The thread that called execv took the process's pid.
    assert_eq!(procs[12]["old_pid"], procs[11]["child_tid"]);
    assert_eq!(procs[12]["pid"], procs[10]["pid"]);
    assert_eq!(procs[13]["pid"], procs[10]["pid"]);
    assert_eq!(
        exec(procs[16]),
        json!([
            format!("{dir}/myscript.sh"),
            "/usr/bin/dash",
            ["/bin/sh", "./myscript.sh", "arg1"],
            false,
            false,
            true
        ])
    );
    // The caller's own argument list: its argv[0] ("innocent"), then arg1.
    assert_eq!(procs[16]["caller_argv"], json!(["innocent", "arg1"]));
}

#[cfg(feature = "record")]
mod live {
    use std::path::PathBuf;
    use std::process::Command;

    use serde_json::Value;

    use crate::live::live;
    use crate::util::events;

    /// The workload, compiled into a temporary directory that is also its scratch space.
    struct Workload {
        dir: tempfile::TempDir,
    }

    impl Workload {
        #[track_caller]
        fn build() -> Workload {
            let dir = crate::util::compile_workload("exec.c", &["-O1", "-pthread"], "exec");
            Workload { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        /// Records `./exec ARGS...` in the workload's directory; returns the events view.
        #[track_caller]
        fn record(&self, name: &str, args: &[&str]) -> Vec<Value> {
            let trace = self.path(&format!("{name}.kz"));
            let mut argv = vec!["./exec"];
            argv.extend_from_slice(args);
            crate::util::record_in(self.dir.path(), &trace, &argv);
            events(&trace)
        }
    }

    fn process_events(evs: &[Value]) -> Vec<&Value> {
        evs.iter()
            .filter(|e| {
                let t = e["event_type"].as_str().unwrap_or("");
                matches!(t, "process_exec" | "process_exit" | "process_clone")
            })
            .collect()
    }

    /// Input 7: a non-leader thread execs /bin/echo. The old leader's task dies in the
    /// kernel's de_thread, but the process does not: no `process_exit` of it before its
    /// `process_exec`, and exactly one at the end (echo's exit_group).
    #[test]
    fn exec_from_a_thread_is_no_exit() {
        if !live() {
            return;
        }
        let w = Workload::build();
        let evs = w.record("thread", &["thread"]);
        let procs = process_events(&evs);
        let shape: Vec<(&str, u64, u64)> = procs
            .iter()
            .map(|e| {
                (
                    e["event_type"].as_str().unwrap(),
                    e["pid"].as_u64().unwrap(),
                    e["tid"].as_u64().unwrap(),
                )
            })
            .collect();
        let pid = shape[0].1;
        let clone = procs
            .iter()
            .find(|e| e["event_type"] == "process_clone")
            .expect("the thread's clone");
        let thread_tid = clone["child_tid"].as_u64().unwrap();
        assert_eq!(
            shape,
            vec![
                ("process_exec", pid, pid),
                ("process_clone", pid, pid),
                ("process_exec", pid, pid),
                ("process_exit", pid, pid),
            ],
            "process events of the thread exec: {procs:#?}"
        );
        let exec = procs[2];
        assert_eq!(exec["old_pid"].as_u64(), Some(thread_tid), "{exec}");
        assert_eq!(exec["argv"], serde_json::json!(["echo", "from-thread"]));
        assert_eq!(exec["comm"], "echo");
        let exit = procs[3];
        assert_eq!(exit["syscall"], "exit_group", "{exit}");
        assert_eq!(exit["exit_code"], 0);
    }

    /// The `process_exec` events of the workload's process after its own start.
    fn execs(evs: &[Value]) -> Vec<&Value> {
        evs.iter()
            .filter(|e| e["event_type"] == "process_exec")
            .skip(1)
            .collect()
    }

    /// The real path of /bin/echo on this machine (/usr/bin/echo on merged-/usr systems).
    fn echo_path() -> String {
        std::fs::canonicalize("/bin/echo")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// Input 3: `execveat(fd, "", …, AT_EMPTY_PATH)` of /bin/echo: `filename` is the
    /// kernel's `/dev/fd/3`, `exe_path` the real file.
    #[test]
    fn exec_through_an_fd_names_the_real_file() {
        if !live() {
            return;
        }
        let w = Workload::build();
        let evs = w.record("fd", &["fd"]);
        let execs = execs(&evs);
        assert_eq!(execs.len(), 1, "{execs:#?}");
        let e = execs[0];
        assert_eq!(e["syscall"], "execveat", "{e}");
        assert_eq!(e["filename"], "/dev/fd/3", "{e}");
        assert_eq!(e["exe_path"], echo_path().as_str(), "{e}");
        assert_eq!(e["argv"], serde_json::json!(["echo", "via-fd"]));
        for absent in [
            "exe_memfd",
            "exe_deleted",
            "exe_interpreter",
            "exe_path_truncated",
        ] {
            assert!(e.get(absent).is_none(), "{absent} in {e}");
        }
        // The workload's own exec names its real path too.
        let own = evs
            .iter()
            .find(|e| e["event_type"] == "process_exec")
            .unwrap();
        let exe = std::fs::canonicalize(w.path("exec")).unwrap();
        assert_eq!(own["exe_path"], exe.to_str().unwrap(), "{own}");
    }

    /// Input 3: a memfd_create("evil") copy of /bin/echo executed through its fd is
    /// `memfd:evil`, from memory, with no links.
    #[test]
    fn exec_of_a_memfd_says_memfd() {
        if !live() {
            return;
        }
        let w = Workload::build();
        let evs = w.record("memfd", &["memfd"]);
        let execs = execs(&evs);
        assert_eq!(execs.len(), 1, "{execs:#?}");
        let e = execs[0];
        assert_eq!(e["filename"], "/dev/fd/4", "{e}");
        assert_eq!(e["exe_path"], "memfd:evil", "{e}");
        assert_eq!(e["exe_memfd"], true, "{e}");
        assert_eq!(e["exe_deleted"], true, "{e}");
        assert_eq!(e["argv"], serde_json::json!(["evil", "from-memory"]));
        // memfd_create itself: its name, flags and the fd returned.
        let m = evs
            .iter()
            .find(|e| e["event_type"] == "file_memfd")
            .expect("a file_memfd event");
        assert_eq!(m["syscall"], "memfd_create", "{m}");
        assert_eq!(m["name"], "evil", "{m}");
        assert_eq!(m["flags"], 0, "{m}");
        assert_eq!(m["fd"], 4, "{m}");
        assert!(m["ino"].as_u64().is_some(), "{m}");
    }

    /// Input 8: `./myscript.sh arg1` of a `#!/bin/sh` script, with argv[0] "innocent": the
    /// script is `filename`, the interpreter the kernel ran is `exe_path`, marked
    /// `exe_interpreter`; `argv` is the kernel's, `caller_argv` the caller's.
    #[test]
    fn exec_of_a_script_names_script_and_interpreter() {
        if !live() {
            return;
        }
        let w = Workload::build();
        std::fs::write(w.path("myscript.sh"), "#!/bin/sh\nexit 0\n").unwrap();
        let status = Command::new("chmod")
            .arg("755")
            .arg(w.path("myscript.sh"))
            .status()
            .unwrap();
        assert!(status.success());
        let evs = w.record("script", &["script", "./myscript.sh"]);
        let execs = execs(&evs);
        assert_eq!(execs.len(), 1, "{execs:#?}");
        let e = execs[0];
        let script = std::fs::canonicalize(w.path("myscript.sh")).unwrap();
        assert_eq!(e["filename"], script.to_str().unwrap(), "{e}");
        assert_eq!(e["filename_arg"], "./myscript.sh", "{e}");
        let sh = std::fs::canonicalize("/bin/sh").unwrap();
        assert_eq!(e["exe_path"], sh.to_str().unwrap(), "{e}");
        assert_eq!(e["exe_interpreter"], true, "{e}");
        // The kernel's argument list: the interpreter's, then the script and arg1.
        assert_eq!(
            e["argv"],
            serde_json::json!(["/bin/sh", "./myscript.sh", "arg1"]),
            "{e}"
        );
        assert_eq!(e["argc"], 3, "{e}");
        // What the caller passed: its own argv[0], read at the exec's entry, and arg1.
        assert_eq!(
            e["caller_argv"],
            serde_json::json!(["innocent", "arg1"]),
            "{e}"
        );
    }
}
