//! Exec naming (issue 9, inputs 3, 7 and 8): tests/workloads/exec.c executes /bin/echo
//! through an fd, from a memfd, from a non-leader thread, and a `#!` script. Live
//! recordings with real BPF (root), and fixtures/exec.kz replayed without root.

#[cfg(feature = "record")]
mod live {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use serde_json::Value;

    use crate::live::live;
    use crate::util::{events, kellect};

    /// The workload, compiled into a temporary directory that is also its scratch space.
    struct Workload {
        dir: tempfile::TempDir,
    }

    impl Workload {
        #[track_caller]
        fn build() -> Workload {
            let dir = tempfile::tempdir().unwrap();
            let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workloads/exec.c");
            let out = Command::new("cc")
                .args(["-O1", "-pthread", "-o"])
                .arg(dir.path().join("exec"))
                .arg(&source)
                .output()
                .expect("running cc (gcc or clang must be installed)");
            assert!(
                out.status.success(),
                "cc {} failed:\n{}",
                source.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            Workload { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        /// Records `./exec ARGS...` in the workload's directory; returns the events view.
        #[track_caller]
        fn record(&self, name: &str, args: &[&str]) -> Vec<Value> {
            let trace = self.path(&format!("{name}.kz"));
            let out = kellect()
                .current_dir(self.dir.path())
                .env_remove("LD_LIBRARY_PATH")
                .arg("record")
                .arg("-o")
                .arg(&trace)
                .arg("--")
                .arg("./exec")
                .args(args)
                .output()
                .expect("running kellect record");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.contains("kellect: recorded"),
                "kellect record of ./exec {args:?} failed with {}\nstdout:\n{}\nstderr:\n{stderr}",
                out.status,
                String::from_utf8_lossy(&out.stdout)
            );
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
}
