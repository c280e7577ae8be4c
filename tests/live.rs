//! Live recordings of real workloads on the running kernel. They need root and BPF: in CI
//! (`CI` set) they must run and fail if they cannot; elsewhere they skip with a reason.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::util::{events, info, kellect, run_ok};

mod packets;

/// Whether live tests can run here; in CI, not being able to is a failure.
pub(crate) fn live() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1))
        == Some("0");
    if root {
        return true;
    }
    if std::env::var_os("CI").is_some() {
        panic!("CI must run the live BPF tests as root, but this test runs as a non-root user");
    }
    eprintln!("skipping live test: it needs root to load BPF programs (run the tests with sudo)");
    false
}

fn temp_trace(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

/// Records `command` with `kellect record -o TRACE -- command...`; returns its exit code.
#[track_caller]
fn record(trace: &Path, extra: &[&str], command: &[&str]) -> i32 {
    let out = kellect()
        .arg("record")
        .arg("-o")
        .arg(trace)
        .args(extra)
        .arg("--")
        .args(command)
        .output()
        .expect("running kellect record");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("kellect: recorded"),
        "kellect record did not finish a recording\nstderr:\n{stderr}"
    );
    out.status.code().unwrap_or(-1)
}

fn of_type<'a>(events: &'a [Value], t: &str) -> Vec<&'a Value> {
    events.iter().filter(|e| e["event_type"] == t).collect()
}

fn argv(e: &Value) -> Vec<&str> {
    e["argv"]
        .as_array()
        .expect("argv is an array")
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect()
}

#[test]
fn process_tree_exec_fork_exit_exactly() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_trace(&dir, "t.kz");
    let script = r#"/bin/true; /bin/true; sh -c "exit 7""#;
    let code = record(&trace, &[], &["sh", "-c", script]);
    assert_eq!(code, 7, "kellect exits with the command's status");

    let evs = events(&trace);
    let recorder_pid = info(&trace)["host"]["recorder_pid"].as_u64().unwrap();
    // Successful execs (the command's PATH search before them fails with ENOENT).
    let execs: Vec<&Value> = of_type(&evs, "process_exec")
        .into_iter()
        .filter(|e| e["ret"] == 0)
        .collect();
    let forks = of_type(&evs, "process_fork");
    let exits = of_type(&evs, "process_exit");

    // The root: the command itself, a child of the recorder.
    let root = execs[0];
    assert_eq!(argv(root), ["sh", "-c", script], "{root}");
    assert_eq!(root["ppid"].as_u64().unwrap(), recorder_pid, "{root}");
    assert!(
        root["filename"].as_str().unwrap().ends_with("/sh"),
        "{root}"
    );
    let root_pid = root["pid"].as_u64().unwrap();

    // Exactly the execs of the script, nothing else.
    assert_eq!(execs.len(), 4, "execs: {execs:#?}");
    for e in &execs[1..3] {
        assert_eq!(e["filename"], "/bin/true", "{e}");
        assert_eq!(argv(e), ["/bin/true"], "{e}");
        let pid = e["pid"].as_u64().unwrap();
        assert_ne!(pid, root_pid);
        assert_eq!(e["ppid"].as_u64().unwrap(), root_pid, "{e}");
        // Forked by the root, and exited with 0.
        assert!(
            forks.iter().any(|f| f["child_pid"].as_u64() == Some(pid)
                && f["parent_pid"].as_u64() == Some(root_pid)),
            "no fork of {pid} by {root_pid}: {forks:#?}"
        );
        let exit = exits
            .iter()
            .find(|x| x["pid"].as_u64() == Some(pid))
            .expect("exit");
        assert_eq!(exit["exit_code"], 0, "{exit}");
        assert_eq!(exit["signal"], 0, "{exit}");
    }
    let inner = execs[3];
    assert_eq!(argv(inner), ["sh", "-c", "exit 7"], "{inner}");
    let inner_pid = inner["pid"].as_u64().unwrap();
    let inner_exit = exits
        .iter()
        .find(|x| x["pid"].as_u64() == Some(inner_pid))
        .expect("the inner sh exits");
    assert_eq!(inner_exit["exit_code"], 7, "{inner_exit}");

    // One exit per process, the root's last, with the script's status.
    assert_eq!(
        exits.len(),
        1 + forks.len(),
        "exits {exits:#?} forks {forks:#?}"
    );
    let last = evs.last().unwrap();
    assert_eq!(last["event_type"], "process_exit");
    assert_eq!(last["pid"].as_u64(), Some(root_pid));
    assert_eq!(last["exit_code"], 7);

    // Nothing from outside the tree.
    let mut tree = vec![root_pid];
    tree.extend(forks.iter().map(|f| f["child_pid"].as_u64().unwrap()));
    for e in &evs {
        let pid = e["pid"].as_u64().unwrap();
        assert!(tree.contains(&pid), "event outside the process tree: {e}");
        assert_eq!(e["process_type"], "process", "{e}");
    }
    // Event time, in order, and recent.
    let ts: Vec<u64> = evs
        .iter()
        .map(|e| e["timestamp"].as_u64().unwrap())
        .collect();
    assert!(
        ts.windows(2).all(|w| w[0] <= w[1]),
        "timestamps out of order: {ts:?}"
    );
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    assert!(
        now_us - ts[0] < 60_000_000,
        "first event {} is not recent ({now_us})",
        ts[0]
    );
    // The kernel dropped nothing and wrote exactly what the trace holds.
    let i = info(&trace);
    assert_eq!(i["dropped_total"], 0, "{i}");
    assert_eq!(i["records_total"], i["kernel_emitted_total"], "{i}");
    // Every record but context (the recorder starting the command, socket creation).
    assert!(
        i["records_total"].as_u64().unwrap() >= evs.len() as u64,
        "{i}"
    );
}

#[test]
fn threads_are_clones_and_signals_are_reported() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_trace(&dir, "t.kz");
    let py = "import threading; t = threading.Thread(target=lambda: None); t.start(); t.join()";
    let code = record(
        &trace,
        &[],
        &["sh", "-c", &format!("python3 -c '{py}'; kill -9 $$")],
    );
    assert_eq!(code, 128 + 9, "a command killed by SIGKILL gives 137");

    let evs = events(&trace);
    let clone = of_type(&evs, "process_clone");
    assert!(
        !clone.is_empty(),
        "python's thread start is a process_clone: {evs:#?}"
    );
    for c in &clone {
        assert_eq!(c["comm"], "python3", "{c}");
        let tid = c["child_tid"].as_u64().unwrap();
        assert_ne!(tid, c["pid"].as_u64().unwrap());
        // The thread's own exit is reported as a thread's.
        let exit = evs
            .iter()
            .find(|e| e["event_type"] == "process_exit" && e["tid"].as_u64() == Some(tid))
            .expect("the thread exits");
        assert_eq!(exit["process_type"], "thread", "{exit}");
    }
    let root_exit = evs.last().unwrap();
    assert_eq!(root_exit["event_type"], "process_exit", "{root_exit}");
    assert_eq!(root_exit["signal"], 9, "{root_exit}");
    assert_eq!(root_exit["signal_name"], "SIGKILL", "{root_exit}");
}

#[test]
fn kill_9_leaves_a_replayable_trace() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_trace(&dir, "sys.kz");
    let mut recorder = kellect()
        .arg("record")
        .arg("-o")
        .arg(&trace)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    crate::util::wait_for_a_frame(&trace);
    let marker = "kellect-kill9-marker";
    let status = Command::new("sh")
        .args(["-c", &format!("/bin/echo {marker} >/dev/null")])
        .status()
        .unwrap();
    assert!(status.success());
    // Longer than the frame flush interval (1 s): the frame is on its way to disk.
    std::thread::sleep(Duration::from_millis(2500));
    recorder.kill().unwrap(); // SIGKILL
    recorder.wait().unwrap();

    let out = run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "--view",
        "events",
        "-o",
        "json-min",
    ]);
    let evs = crate::util::json_lines(&out.stdout);
    assert!(
        evs.iter().any(|e| e["event_type"] == "process_exec"
            && e["argv"]
                .as_array()
                .is_some_and(|argv| argv.iter().any(|a| a == marker))),
        "the workload's exec is in the killed recorder's trace"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("zero bytes to the end") || stderr.contains("no end block"),
        "replay says the trace was not closed: {stderr}"
    );
    let i = info(&trace);
    assert_eq!(i["segments"][0]["closed_cleanly"], false, "{i}");
}

#[test]
fn recorder_refuses_bad_output_paths() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let existing = dir.path().join("exists.kz");
    std::fs::write(&existing, b"evidence").unwrap();
    let out = kellect()
        .args(["record", "-o", existing.to_str().unwrap(), "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("cannot create the trace file") && stderr.contains("exists"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&existing).unwrap(),
        b"evidence",
        "an existing file is never overwritten without -f"
    );

    let out = kellect()
        .args(["record", "-o", "/nonexistent-dir/t.kz", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("/nonexistent-dir/t.kz"), "{stderr}");

    // -f replaces it; the trace is private to its owner.
    record(&existing, &["-f"], &["true"]);
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&existing).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn non_root_users_are_told_what_is_needed() {
    if !live() {
        return;
    }
    // Run kellect as `nobody` from a copy it can execute.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("kellect");
    std::fs::copy(env!("CARGO_BIN_EXE_kellect"), &bin).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--inh-caps=-all",
        ])
        .arg(&bin)
        .args(["record", "-o", "/tmp/kellect-nobody.kz", "--", "true"])
        .output()
        .expect("setpriv (util-linux) runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("needs root, or the capabilities CAP_BPF and CAP_PERFMON"),
        "{stderr}"
    );
    assert!(!Path::new("/tmp/kellect-nobody.kz").exists());
}

#[test]
fn full_disk_stops_cleanly_with_a_valid_trace() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mnt = dir.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            "size=1m",
            "kellect-test",
            mnt.to_str().unwrap(),
        ])
        .status()
        .unwrap();
    assert!(mounted.success(), "mounting a 1 MiB tmpfs");
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());
    let trace = mnt.join("t.kz");
    // Execs with long random arguments: records that do not compress, several MiB of them.
    let script = "i=0; while [ $i -lt 800 ]; do /bin/true $(head -c 3000 /dev/urandom | od -An -tx1 | tr -d ' \\n' | head -c 4000); i=$((i+1)); done";
    let out = kellect()
        .arg("record")
        .arg("-o")
        .arg(&trace)
        .args(["--", "sh", "-c", script])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(
        stderr.contains("the trace is valid up to the failure"),
        "{stderr}"
    );
    // What was written replays.
    let evs = events(&trace);
    assert!(
        of_type(&evs, "process_exec").len() > 10,
        "{} events",
        evs.len()
    );
    // The message counts exactly what the trace holds, and what was lost after it.
    let number_before = |what: &str| -> u64 {
        let at = stderr
            .find(what)
            .unwrap_or_else(|| panic!("{what:?} in {stderr}"));
        let digits: String = stderr[..at]
            .trim_end()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned();
        digits
            .parse()
            .unwrap_or_else(|_| panic!("a number before {what:?}: {stderr}"))
    };
    let i = info(&trace);
    assert_eq!(number_before(" frames with"), i["frames"], "{stderr}\n{i}");
    assert_eq!(
        number_before(" records stored in"),
        i["records_total"],
        "{stderr}\n{i}"
    );
    number_before(" records could not be stored and are lost");
    // No torn block: the trace ends at a block boundary (with its End block if it fit).
    for d in i["damage"].as_array().unwrap() {
        assert!(d.as_str().unwrap().contains("has no end block"), "{i}");
    }
}

#[test]
fn idle_sockets_leave_on_event_time() {
    if !live() {
        return;
    }
    // The recorded client sends a datagram, stays quiet 2.5 s, sends another: with an idle
    // timeout of 1 s its socket leaves between the two, judged on the trace's own time.
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = peer.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_trace(&dir, "idle.kz");
    let script = format!(
        "import socket, time\n\
         s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         s.sendto(b'one', ('127.0.0.1', {port}))\n\
         time.sleep(2.5)\n\
         s.sendto(b'two', ('127.0.0.1', {port}))\n\
         s.close()\n"
    );
    assert_eq!(record(&trace, &[], &["python3", "-c", &script]), 0);
    let sockets = |timeouts: &str| -> Vec<Value> {
        let out = run_ok(&[
            "replay",
            trace.to_str().unwrap(),
            "-m",
            "socket",
            "-o",
            "json-min",
            "-t",
            timeouts,
        ]);
        crate::util::json_lines(&out.stdout)
            .into_iter()
            .filter(|r| r["SockRemotePort"] == port)
            .collect()
    };
    // Each datagram in a record of its own: the first leaves for `why`, the second on close.
    let split_by = |timeouts: &str, why: &str| {
        let recs = sockets(timeouts);
        assert_eq!(recs.len(), 2, "-t {timeouts}: {recs:#?}");
        for (r, export) in recs.iter().zip([why, "close"]) {
            assert_eq!(r["InfoExport"], export, "{r}");
            assert_eq!(r["SockTxPackets"], 1, "{r}");
        }
    };
    split_by("1,1800", "idle");
    // Open longer than ACTIVE: exported, then counted afresh.
    split_by("100,1", "active");
    let whole = sockets("15,1800");
    assert_eq!(whole.len(), 1, "{whole:#?}");
    assert_eq!(whole[0]["SockTxPackets"], 2, "{}", whole[0]);
    assert_eq!(whole[0]["SockTxBytes"], 6, "{}", whole[0]);
}

#[test]
fn rotated_segments_replay_together_and_alone() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_trace(&dir, "rot.kz");
    // ~1 M syscalls: several MiB of trace, so several 1 MiB segments.
    let code = record(
        &trace,
        &["--rotate-size", "1", "--frame-size", "256"],
        &[
            "dd",
            "if=/dev/zero",
            "of=/dev/null",
            "bs=1",
            "count=400000",
            "status=none",
        ],
    );
    assert_eq!(code, 0);
    let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    segments.sort();
    assert!(segments.len() >= 2, "{segments:?}");
    assert!(
        segments.iter().any(|p| p.ends_with("rot.1.kz")),
        "{segments:?}"
    );
    // Given in any order, they are one recording.
    let mut args: Vec<&str> = vec!["info", "--json"];
    args.extend(segments.iter().rev().map(|p| p.to_str().unwrap()));
    let out = run_ok(&args);
    let infos: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(infos.len(), 1, "one recording");
    let all = &infos[0];
    assert_eq!(all["segments"].as_array().unwrap().len(), segments.len());
    assert_eq!(all["dropped_total"], 0, "{all}");
    assert_eq!(all["records_total"], all["kernel_emitted_total"], "{all}");
    // Each segment stands alone: its own header, host info and snapshot.
    let mut sum = 0;
    for seg in &segments {
        let out = run_ok(&["info", "--json", "--only-given", seg.to_str().unwrap()]);
        let i: Value = serde_json::from_slice::<Value>(&out.stdout).unwrap()[0].clone();
        assert!(i["host"]["hostname"].is_string(), "{i}");
        assert!(i["snapshot_processes"].as_u64().unwrap() > 0, "{i}");
        assert_eq!(i["segments"][0]["closed_cleanly"], true, "{i}");
        sum += i["records_total"].as_u64().unwrap();
        let out = run_ok(&[
            "replay",
            "--only-given",
            seg.to_str().unwrap(),
            "--view",
            "events",
            "-o",
            "json-min",
        ]);
        assert!(!out.stdout.is_empty());
    }
    assert_eq!(sum, all["records_total"].as_u64().unwrap());
}

#[test]
fn accepted_connections_are_server_records() {
    if !live() {
        return;
    }
    use std::io::{BufRead, BufReader, Read, Write};
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_trace(&dir, "server.kz");
    // The recorded process serves one connection; the test (not recorded) is its client.
    let server = "import socket, sys\n\
                  l = socket.socket(); l.bind(('127.0.0.1', 0)); l.listen(1)\n\
                  print(l.getsockname()[1], flush=True)\n\
                  c, _ = l.accept(); c.recv(4); c.sendall(b'pong!'); c.close(); l.close()\n";
    let mut recorder = kellect()
        .arg("record")
        .arg("-o")
        .arg(&trace)
        .args(["--", "python3", "-c", server])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(recorder.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port: u16 = line.trim().parse().expect("the server prints its port");
    let mut client = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    client.write_all(b"ping").unwrap();
    let mut reply = Vec::new();
    client.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"pong!");
    assert!(recorder.wait().unwrap().success());

    let out = run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "-m",
        "socket",
        "-o",
        "json-min",
    ]);
    // json-min keeps key order: the raw line tells Rx from Tx order.
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.contains(&format!("\"SockLocalPort\":{port}")) && !l.contains("\"SockRemotePort\":0")
        })
        .unwrap_or_else(|| panic!("no record of the accepted connection:\n{text}"));
    // The listening socket is a server too.
    let listening = text
        .lines()
        .find(|l| {
            l.contains(&format!("\"SockLocalPort\":{port}")) && l.contains("\"SockRemotePort\":0")
        })
        .unwrap_or_else(|| panic!("no record of the listening socket:\n{text}"));
    assert!(listening.contains("\"SockRole\":\"SERVER\""), "{listening}");
    let r: Value = serde_json::from_str(line).unwrap();
    assert_eq!(r["SockRole"], "SERVER", "{r}");
    assert_eq!(r["SockProtocol"], "TCP", "{r}");
    assert_eq!(r["SockRxBytes"], 4, "{r}");
    assert_eq!(r["SockTxBytes"], 5, "{r}");
    // The server closes first and the recording ends as it exits: the trace may end before
    // the kernel has seen the peer's ACK and FIN, with the socket still closing.
    let state = r["SockState"].as_str().unwrap_or_default();
    assert!(
        [
            "TCP_CLOSE",
            "TCP_FIN_WAIT1",
            "TCP_FIN_WAIT2",
            "TCP_TIME_WAIT"
        ]
        .contains(&state),
        "{r}"
    );
    assert!(
        line.find("\"SockRxBytes\"").unwrap() < line.find("\"SockTxBytes\"").unwrap(),
        "a server record puts Rx before Tx: {line}"
    );
}

/// Waits for a child at most `secs` seconds.
#[track_caller]
fn wait_for(child: &mut std::process::Child, secs: u64) -> std::process::ExitStatus {
    for _ in 0..secs * 10 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("still running after {secs} s");
}

#[test]
fn duration_and_sigterm_end_a_recording() {
    if !live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The whole system for a second: it ends by itself, closed cleanly.
    let sys = temp_trace(&dir, "sys.kz");
    let mut rec = kellect()
        .args(["record", "-q", "-d", "1s", "-o", sys.to_str().unwrap()])
        .spawn()
        .unwrap();
    assert!(wait_for(&mut rec, 30).success());
    assert_eq!(info(&sys)["segments"][0]["closed_cleanly"], true);

    // With a command, the duration sends it SIGTERM; kellect exits with its status.
    let cmd = temp_trace(&dir, "cmd.kz");
    let mut rec = kellect()
        .args([
            "record",
            "-q",
            "-d",
            "1s",
            "-o",
            cmd.to_str().unwrap(),
            "--",
            "sleep",
            "60",
        ])
        .spawn()
        .unwrap();
    assert_eq!(wait_for(&mut rec, 30).code(), Some(128 + 15));
    let evs = events(&cmd);
    let exit = evs
        .iter()
        .find(|e| e["event_type"] == "process_exit" && e["comm"] == "sleep")
        .expect("sleep's exit is recorded");
    assert_eq!(exit["signal_name"], "SIGTERM", "{exit}");

    // SIGTERM sent to kellect is passed on to the command.
    let term = temp_trace(&dir, "term.kz");
    let mut rec = kellect()
        .args([
            "record",
            "-q",
            "-o",
            term.to_str().unwrap(),
            "--",
            "sleep",
            "60",
        ])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let killed = Command::new("kill")
        .args(["-TERM", &rec.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert_eq!(wait_for(&mut rec, 30).code(), Some(128 + 15));
    assert_eq!(info(&term)["segments"][0]["closed_cleanly"], true);
}

#[test]
fn drops_are_counted_and_reported() {
    if !live() {
        return;
    }
    // A 1 MiB ring cannot hold a storm of records of 4 KB (a stat of a 3,765-byte path,
    // which fails, 200,000 times: some 800 MB a second): the kernel drops, and says how
    // many. (Records of a few hundred bytes, as `dd bs=1` makes, it holds enough of.)
    let dir = tempfile::tempdir().unwrap();
    let trace = temp_trace(&dir, "drops.kz");
    let py = "import os\np = (\"/\" + \"x\" * 250) * 15\nfor _ in range(200000):\n    \
              try: os.stat(p)\n    except OSError: pass";
    let out = kellect()
        .arg("record")
        .arg("-o")
        .arg(&trace)
        .args(["--ring-size", "1", "--", "python3", "-c", py])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let i = info(&trace);
    let dropped = i["dropped_total"].as_u64().unwrap();
    assert!(dropped > 0, "a 1 MiB ring under a syscall storm drops: {i}");
    assert!(
        stderr.contains(&format!("{dropped} events were lost")),
        "{stderr}"
    );
    // Everything the kernel wrote is in the trace; written + dropped covers the stats.
    assert_eq!(i["records_total"], i["kernel_emitted_total"], "{i}");
    let total = i["records_total"].as_u64().unwrap() + dropped;
    assert!(total >= 200_000, "{total} records written or dropped: {i}");
    // Replay says so.
    let out = kellect()
        .args([
            "replay",
            trace.to_str().unwrap(),
            "-m",
            "process",
            "-o",
            "json-min",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("lost {dropped} records")),
        "{stderr}"
    );
}
