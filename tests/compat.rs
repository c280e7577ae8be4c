//! 32-bit (compat) syscalls of a 64-bit process: tests/workloads/compat32.c creates, writes,
//! closes and unlinks a file only through `int $0x80` with i386 numbers. They must be
//! decoded with the i386 table and registers, marked `"compat": true`, and nothing may be
//! invented from the x86_64 table. The fixture (fixtures/compat.kz, recorded by
//! fixtures/regenerate.sh) replays without root; the live tests record on this kernel.

use serde_json::Value;

use crate::util::{assert_same_text, fixture, json_lines, run_ok};

/// The workload's events: those of the thread `tid`, in output order.
fn of_thread(events: &[Value], tid: u64) -> Vec<&Value> {
    events.iter().filter(|e| e["tid"] == tid).collect()
}

/// Checks the four compat events of one run of the workload on `path`, with the fd
/// `fd` the open returned, and that nothing else of the thread lies between them.
#[track_caller]
fn assert_compat_run(events: &[Value], path: &str, fd: i64) {
    let compat: Vec<&Value> = events.iter().filter(|e| e["compat"] == true).collect();
    assert_eq!(compat.len(), 4, "compat events: {compat:#?}");
    let tid = compat[0]["tid"].as_u64().expect("tid");
    let expected = [
        ("file_create", "open", fd),
        ("file_write", "write", 8),
        ("file_close", "close", 0),
        ("file_delete", "unlink", 0),
    ];
    for (e, (event_type, syscall, ret)) in compat.iter().zip(expected) {
        assert_eq!(e["event_type"], event_type, "{e}");
        assert_eq!(e["syscall"], syscall, "{e}");
        assert_eq!(e["ret"], ret, "{e}");
        assert_eq!(e["tid"], tid, "{e}");
        assert_eq!(e["comm"], "compat32", "{e}");
        assert_eq!(e["path"], path, "{e}");
    }
    let [open, write, close, _] = compat[..] else {
        unreachable!("four events")
    };
    assert_eq!(open["flags_text"], "O_WRONLY|O_CREAT|O_TRUNC", "{open}");
    assert_eq!(open["mode"], 0o600, "{open}");
    assert_eq!(open["fd"], fd, "{open}");
    assert_eq!(write["fd"], fd, "{write}");
    assert_eq!(write["count"], 8, "{write}");
    assert_eq!(write["bytes"], 8, "{write}");
    assert_eq!(close["fd"], fd, "{close}");
    // The thread did nothing else between the first and the last: no fstat of a BPF map,
    // no stat of an empty path, no mprotect decoded from the x86_64 table.
    let thread = of_thread(events, tid);
    let first = thread.iter().position(|e| *e == open).unwrap();
    let between = thread.get(first..first + 4).unwrap_or_default();
    assert_eq!(between, compat, "the thread's events from its open on");
}

#[test]
fn compat_fixture_replays_byte_for_byte() {
    let trace = fixture("compat.kz");
    let expected = std::fs::read_to_string(fixture("compat.events.json")).unwrap();
    let out = run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "--view",
        "events",
        "-o",
        "json-min",
    ]);
    let got = String::from_utf8(out.stdout).unwrap();
    assert_same_text(&expected, &got, "fixtures/compat.events.json");
    let events = json_lines(got.as_bytes());
    let open = events
        .iter()
        .find(|e| e["compat"] == true)
        .expect("a compat event in the fixture");
    let path = open["path"].as_str().unwrap().to_owned();
    assert!(path.ends_with("/compat-file.txt"), "{open}");
    assert_compat_run(&events, &path, open["ret"].as_i64().unwrap());
}

#[cfg(all(feature = "record", target_arch = "x86_64"))]
mod live {
    //! Live recordings of the workload (root and BPF, like tests/live.rs).

    use std::collections::HashMap;
    use std::path::PathBuf;

    use serde_json::Value;

    use super::assert_compat_run;
    use crate::live::live;
    use crate::util::{events, json_lines, kellect, run_ok};

    /// The workload, compiled into a temporary directory that is also its scratch space.
    struct Workload {
        dir: tempfile::TempDir,
    }

    impl Workload {
        #[track_caller]
        fn build() -> Workload {
            let dir = crate::util::compile_workload("compat32.c", &["-O1"], "compat32");
            Workload { dir }
        }

        fn path(&self, name: &str) -> PathBuf {
            self.dir.path().join(name)
        }

        /// Records `PREFIX... ./compat32 FILE`; returns the trace, the file's path and the
        /// workload's `name=value` report.
        #[track_caller]
        fn record(&self, name: &str, prefix: &[&str]) -> (PathBuf, String, HashMap<String, i64>) {
            let trace = self.path(&format!("{name}.kz"));
            let file = self.path(&format!("{name}-file.txt"));
            let out = kellect()
                .current_dir(self.dir.path())
                .env_remove("LD_LIBRARY_PATH")
                .arg("record")
                .arg("-o")
                .arg(&trace)
                .arg("--")
                .args(prefix)
                .arg("./compat32")
                .arg(&file)
                .output()
                .expect("running kellect record");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                out.status.success() && stderr.contains("kellect: recorded"),
                "kellect record of the workload failed with {}\nstdout:\n{}\nstderr:\n{stderr}",
                out.status,
                String::from_utf8_lossy(&out.stdout)
            );
            let report = String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(|l| {
                    let (k, v) = l.split_once('=').unwrap_or_else(|| panic!("output: {l}"));
                    (
                        k.to_owned(),
                        v.parse().unwrap_or_else(|_| panic!("output: {l}")),
                    )
                })
                .collect();
            (trace, file.to_str().unwrap().to_owned(), report)
        }
    }

    #[test]
    fn int80_file_calls_are_compat_events_and_a_file_record() {
        if !live() {
            return;
        }
        let w = Workload::build();
        let (trace, path, report) = w.record("compat", &[]);
        assert_eq!(
            [report["write"], report["close"], report["unlink"]],
            [8, 0, 0]
        );
        let fd = report["open"];
        assert!(fd >= 3, "{report:?}");
        let events = events(&trace);
        assert_compat_run(&events, &path, fd);
        // The page the path was in came from a native mmap, shown as one.
        let mmap = events
            .iter()
            .find(|e| e["event_type"] == "process_mmap" && e["ret"] == report["page"])
            .expect("the MAP_32BIT mmap");
        assert!(mmap.get("compat").is_none(), "{mmap}");
        assert_eq!(mmap["flags_text"], "MAP_PRIVATE|MAP_ANONYMOUS|MAP_32BIT");

        // The records view: the file was created, written (8 bytes) and deleted.
        let out = run_ok(&[
            "replay",
            trace.to_str().unwrap(),
            "-m",
            "file",
            "-o",
            "json-min",
        ]);
        let (dir, name) = path.rsplit_once('/').unwrap();
        let records: Vec<Value> = json_lines(&out.stdout)
            .into_iter()
            .filter(|r| r["FilePath"] == format!("{dir}/") && r["File"] == name)
            .collect();
        assert_eq!(records.len(), 2, "{records:#?}");
        let (close, delete) = (&records[0], &records[1]);
        assert_eq!(close["InfoExport"], "close", "{close}");
        assert_eq!(
            close["FileEvents"],
            serde_json::json!({"CREATE": 1, "MODIFY": 1, "CLOSE_WRITE": 1}),
            "{close}"
        );
        assert_eq!(close["FileSize"], 8, "{close}");
        assert_eq!(close["FileSizeChange"], 8, "{close}");
        assert_eq!(delete["InfoExport"], "delete", "{delete}");
        assert_eq!(delete["FileEvents"], serde_json::json!({"DELETE": 1}));
        assert_eq!(close["Proc"], "compat32", "{close}");
    }

    #[test]
    fn socketcall_calls_are_decoded_as_the_socket_syscalls() {
        if !live() {
            return;
        }
        let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = peer.local_addr().unwrap().port();
        let w = Workload::build();
        let trace = w.path("socketcall.kz");
        let out = kellect()
            .current_dir(w.dir.path())
            .env_remove("LD_LIBRARY_PATH")
            .arg("record")
            .arg("-o")
            .arg(&trace)
            .args(["--", "./compat32", "--socketcall", &port.to_string()])
            .output()
            .expect("running kellect record");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(stdout, "socket=3\nsendto=8\nclose=0\n");
        let mut buf = [0u8; 64];
        peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        let (n, from) = peer.recv_from(&mut buf).expect("the datagram arrived");
        assert_eq!(&buf[..n], b"kellect8");

        // socketcall(SYS_SOCKET) is context (not a catalogue event); SYS_SENDTO is a
        // sendto with its address and bytes, the i386 close a close of that socket.
        let events = events(&trace);
        let compat: Vec<&Value> = events.iter().filter(|e| e["compat"] == true).collect();
        assert_eq!(compat.len(), 2, "{compat:#?}");
        let (send, close) = (compat[0], compat[1]);
        assert_eq!(send["event_type"], "net_sendto", "{send}");
        assert_eq!(send["syscall"], "sendto", "{send}");
        assert_eq!(
            [&send["fd"], &send["len"], &send["ret"], &send["bytes"]],
            [3, 8, 8, 8],
            "{send}"
        );
        assert_eq!(send["family"], "AF_INET", "{send}");
        assert_eq!(send["addr"], "127.0.0.1", "{send}");
        assert_eq!(send["port"], port, "{send}");
        assert_eq!(close["event_type"], "file_close", "{close}");
        assert_eq!([&close["fd"], &close["ret"]], [3, 0], "{close}");

        // The records view: one UDP client socket that sent one 8-byte datagram.
        let out = run_ok(&[
            "replay",
            trace.to_str().unwrap(),
            "-m",
            "socket",
            "-o",
            "json-min",
        ]);
        let socks: Vec<Value> = json_lines(&out.stdout)
            .into_iter()
            .filter(|r| r["SockRemotePort"] == port)
            .collect();
        assert_eq!(socks.len(), 1, "{socks:#?}");
        let s = &socks[0];
        assert_eq!(s["SockProtocol"], "UDP", "{s}");
        assert_eq!(s["SockLocalPort"], from.port(), "{s}");
        assert_eq!([&s["SockTxPackets"], &s["SockTxBytes"]], [1, 8], "{s}");
        assert_eq!(s["InfoExport"], "close", "{s}");
    }

    /// One 32-bit syscall as `strace -f` prints it: name, first argument, return value.
    #[derive(Debug, PartialEq)]
    struct Traced {
        pid: u64,
        name: String,
        first_arg: String,
        ret: i64,
    }

    /// The syscalls of a `strace -f -e trace=all@32` log (only 32-bit syscalls are shown).
    fn strace_32bit(log: &str) -> Vec<Traced> {
        let mut out = Vec::new();
        for line in log.lines() {
            let (pid, call) = line.trim().split_once(char::is_whitespace).unwrap();
            let call = call.trim_start();
            // Exits and signals: not syscalls.
            if call.starts_with("+++") || call.starts_with("---") {
                continue;
            }
            let (name, rest) = call.split_once('(').unwrap_or_else(|| panic!("{line}"));
            let first_arg = rest.split([',', ')']).next().unwrap().to_owned();
            let ret = rest
                .rsplit_once(" = ")
                .unwrap_or_else(|| panic!("{line}"))
                .1;
            let ret = ret.split_whitespace().next().unwrap();
            out.push(Traced {
                pid: pid.parse().unwrap_or_else(|_| panic!("{line}")),
                name: name.to_owned(),
                first_arg,
                ret: ret.parse().unwrap_or_else(|_| panic!("{line}")),
            });
        }
        out
    }

    #[test]
    fn compat_events_match_strace_of_the_same_run() {
        if !live() {
            return;
        }
        let w = Workload::build();
        let log = w.path("strace.log");
        let log_arg = log.to_str().unwrap().to_owned();
        // The run kellect records is the one strace traces.
        let (trace, path, _) = w.record(
            "straced",
            &["strace", "-f", "-e", "trace=all@32", "-o", &log_arg],
        );
        let log = std::fs::read_to_string(&log).expect("strace -o wrote its log");
        let traced = strace_32bit(&log);
        let events = events(&trace);
        let compat: Vec<&Value> = events.iter().filter(|e| e["compat"] == true).collect();
        let seen: Vec<Traced> = compat
            .iter()
            .map(|e| Traced {
                pid: e["tid"].as_u64().unwrap(),
                name: e["syscall"].as_str().unwrap().to_owned(),
                // strace's first argument: the quoted path, or the fd.
                first_arg: match e["syscall"].as_str().unwrap() {
                    "open" | "unlink" => format!("\"{}\"", e["path"].as_str().unwrap()),
                    _ => e["fd"].to_string(),
                },
                ret: e["ret"].as_i64().unwrap(),
            })
            .collect();
        assert_eq!(
            seen, traced,
            "kellect (left) and strace (right)\nstrace log:\n{log}"
        );
        assert_eq!(traced.len(), 4, "{log}");
        assert_compat_run(&events, &path, traced[0].ret);
    }
}
