//! The segment writer seen from outside: output paths that are not regular files, rotated
//! segments that replay alone with everything the first one knows, a full disk, and
//! traces read while they are being written.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use kellect::format::{BlockKind, Codec, FileHeader, SegmentEncoder, BLOCK_HEADER_LEN};

use crate::util::{kellect, run_ok};

/// Holds `flock(LOCK_EX)` on a file as a recorder does while it writes it, until dropped.
struct ExclusiveLock {
    _file: File,
}

impl ExclusiveLock {
    fn take(path: &Path) -> ExclusiveLock {
        let file = File::open(path).unwrap();
        // SAFETY: flock only reads its integer arguments; the fd is open.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
        assert_eq!(rc, 0, "locking {path:?}");
        ExclusiveLock { _file: file }
    }
}

/// A segment cut as a recorder leaves it mid-write: complete blocks, then the header of a
/// block whose payload is not all there, then the zero tail of the preallocated space.
#[test]
fn a_segment_being_written_is_read_up_to_its_committed_blocks() {
    let header = FileHeader {
        recording_id: 99,
        segment_index: 0,
        created_realtime_ns: 1_700_000_000_000_000_000,
    };
    let mut enc = SegmentEncoder::new(&header, 3).unwrap();
    enc.push_meta(BlockKind::Unknown(0x0100), b"metadata", false)
        .unwrap();
    for i in 0..3u64 {
        // Not records kellect knows: replay warns about them, info counts the frames.
        enc.push_frame(&[i as u8; 64], i, i + 1, 0, Codec::Zstd)
            .unwrap();
    }
    let committed = enc.bytes().to_vec();
    let mut bytes = committed.clone();
    // A valid block header whose payload runs past the end of the written bytes.
    let payload = vec![7u8; 5000];
    bytes.extend_from_slice(&kellect::format::block_header(
        BlockKind::Frame,
        0,
        &payload,
    ));
    bytes.extend_from_slice(&payload[..100]);
    bytes.resize(bytes.len() + 4096 - BLOCK_HEADER_LEN - 100, 0);
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.kz");
    std::fs::write(&trace, &bytes).unwrap();

    let info = |trace: &Path| -> serde_json::Value {
        let out = run_ok(&["info", "--json", trace.to_str().unwrap()]);
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()[0].clone()
    };
    let lock = ExclusiveLock::take(&trace);
    let i = info(&trace);
    assert_eq!(i["frames"], 3, "{i}");
    let damage = i["damage"].to_string();
    assert!(
        damage.contains(&format!(
            "being written: it was read up to byte {}",
            committed.len()
        )),
        "{i}"
    );
    let out = kellect()
        .args(["replay", trace.to_str().unwrap(), "--view", "events"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("the segment is being written"), "{stderr}");
    drop(lock);

    // Once nobody writes it, the whole file is read and the cut block is damage.
    let i = info(&trace);
    assert_eq!(i["frames"], 3, "{i}");
    let damage = i["damage"].to_string();
    assert!(!damage.contains("being written"), "{i}");
    assert!(
        damage.contains(&format!("at byte offset {}", committed.len())),
        "{i}"
    );
}

#[cfg(feature = "record")]
mod live {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::ExitStatusExt;
    use std::path::{Path, PathBuf};
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use crate::live::live;
    use crate::util::{json_lines, kellect, run_ok};

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path)
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    /// `kellect record [extra] -o trace -- true`: must fail, naming `trace` and `what`.
    #[track_caller]
    fn refused(trace: &Path, extra: &[&str], what: &str) {
        let out = kellect()
            .arg("record")
            .args(extra)
            .arg("-o")
            .arg(trace)
            .args(["--", "true"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{trace:?} {extra:?}: {stderr}");
        assert!(
            stderr.contains(&trace.display().to_string()) && stderr.contains(what),
            "{trace:?} {extra:?}: expected {what:?} in:\n{stderr}"
        );
    }

    #[test]
    fn output_paths_that_are_not_regular_files_are_refused() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("link.kz");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let dangling = dir.path().join("dangling.kz");
        let nowhere = dir.path().join("nowhere");
        std::os::unix::fs::symlink(&nowhere, &dangling).unwrap();
        let fifo = dir.path().join("fifo.kz");
        assert!(Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let subdir = dir.path().join("dir.kz");
        std::fs::create_dir(&subdir).unwrap();
        let null_mode = mode(Path::new("/dev/null"));
        assert_eq!(null_mode & 0o777, 0o666);

        for force in [&[][..], &["-f"][..]] {
            refused(&link, force, "is a symbolic link (to ");
            refused(&dangling, force, "is a dangling symbolic link (to ");
            refused(&fifo, force, "is a named pipe (FIFO)");
            refused(&subdir, force, "is a directory");
            refused(Path::new("/dev/null"), force, "is a character device");
            assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
            assert_eq!(mode(&victim), 0o644);
            assert!(
                !nowhere.exists(),
                "a dangling link's target is never created"
            );
            assert_eq!(mode(Path::new("/dev/null")), null_mode);
            assert!(std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
        }
        // The same for `live -w`.
        let out = kellect()
            .args(["live", "-f", "-w", link.to_str().unwrap(), "--", "true"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("is a symbolic link"), "{stderr}");
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        // Nothing left behind: no temporary file beside the targets.
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            ["dangling.kz", "dir.kz", "fifo.kz", "link.kz", "victim"]
        );
    }

    #[test]
    fn force_replaces_a_file_by_a_new_one() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.kz");
        std::fs::write(&trace, b"old").unwrap();
        std::fs::set_permissions(&trace, std::fs::Permissions::from_mode(0o644)).unwrap();
        // Another name for the old file: it must keep its bytes and mode.
        let other = dir.path().join("other-name");
        std::fs::hard_link(&trace, &other).unwrap();
        run_ok(&[
            "record",
            "-q",
            "-f",
            "-o",
            trace.to_str().unwrap(),
            "--",
            "true",
        ]);
        assert_eq!(mode(&trace), 0o600);
        assert_eq!(std::fs::read(&other).unwrap(), b"old");
        assert_eq!(mode(&other), 0o644);
        run_ok(&["info", trace.to_str().unwrap()]);
    }

    /// ~1 M syscalls: several MiB of trace, so several 1 MiB segments.
    const BUSY: &str = "dd if=/dev/zero of=/dev/null bs=1 count=400000 status=none";

    #[test]
    fn a_rotated_segment_name_that_is_a_symlink_is_refused() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("rot.kz");
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o640)).unwrap();
        let planted = dir.path().join("rot.1.kz");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        for force in [&[][..], &["-f"][..]] {
            let out = kellect()
                .args(["record", "--rotate-size", "1", "--frame-size", "256"])
                .args(force)
                .arg("-o")
                .arg(&trace)
                .args(["--", "sh", "-c", BUSY])
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains(&format!("{} is a symbolic link", planted.display())),
                "{stderr}"
            );
            assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
            assert_eq!(mode(&victim), 0o640);
            // The first segment was closed before the second was refused.
            let i = crate::util::info(&trace);
            assert_eq!(i["segments"][0]["closed_cleanly"], true, "{i}");
            std::fs::remove_file(&trace).unwrap();
        }
    }

    #[test]
    fn a_rotated_segment_alone_has_checksums_and_rto() {
        if !live() {
            return;
        }
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = std::thread::spawn(move || {
            use std::io::Read;
            let (mut conn, _) = listener.accept().unwrap();
            let mut got = Vec::new();
            conn.read_to_end(&mut got).unwrap();
            got
        });
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("rot.kz");
        // Well over 1 MiB of records first, then, in a later segment, an exec and a TCP
        // connection.
        let script = format!(
            "{BUSY}; sleep 1.5; /usr/bin/python3 -c \"import socket; \
             s = socket.create_connection(('127.0.0.1', {port})); s.sendall(b'hello'); \
             s.close()\""
        );
        run_ok(&[
            "record",
            "-q",
            "-c",
            "--rotate-size",
            "1",
            "--frame-size",
            "256",
            "-o",
            trace.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ]);
        assert_eq!(peer.join().unwrap(), b"hello");
        let segments: Vec<PathBuf> = (1..)
            .map(|i| dir.path().join(format!("rot.{i}.kz")))
            .take_while(|p| p.exists())
            .collect();
        assert!(!segments.is_empty(), "the recording rotated");
        let python = std::fs::canonicalize("/usr/bin/python3").unwrap();
        let sha = Command::new("sha256sum").arg(&python).output().unwrap();
        let sha = String::from_utf8(sha.stdout).unwrap();
        let sha = sha.split_whitespace().next().unwrap().to_owned();
        // The later segment where python3 ran, replayed alone.
        let is_python = |r: &Value| {
            r["InfoMonitor"] == "process"
                && r["ProcArgv"].as_array().is_some_and(|argv| {
                    argv.first().and_then(Value::as_str) == Some("/usr/bin/python3")
                })
        };
        let (segment, records) = segments
            .iter()
            .find_map(|seg| {
                let out = run_ok(&[
                    "replay",
                    "--only-given",
                    seg.to_str().unwrap(),
                    "-o",
                    "json-min",
                ]);
                let records = json_lines(&out.stdout);
                records.iter().any(is_python).then_some((seg, records))
            })
            .unwrap_or_else(|| panic!("no rotated segment has python3's process record"));
        let process = records.iter().find(|r| is_python(r)).unwrap();
        assert_eq!(
            process["ProcSHA256"],
            sha.as_str(),
            "{segment:?}: {process}"
        );
        let socket: Vec<&Value> = records
            .iter()
            .filter(|r| r["SockRemotePort"] == port && r["SockProtocol"] == "TCP")
            .collect();
        assert_eq!(socket.len(), 1, "{segment:?}: {socket:#?}");
        assert!(
            socket[0]["SockTxRTO"].as_u64().is_some_and(|ms| ms > 0),
            "{segment:?}: {}",
            socket[0]
        );
        // The first segment alone says that the recording goes on, and where.
        let out = kellect()
            .args(["replay", "--only-given", trace.to_str().unwrap(), "-q"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("continues in segment 1 (rot.1.kz)"),
            "replay of the first segment alone: {stderr}"
        );
        // All segments together: no such warning.
        let mut all = vec![
            "replay".to_owned(),
            "-q".to_owned(),
            trace.display().to_string(),
        ];
        all.extend(segments.iter().map(|p| p.display().to_string()));
        let out = kellect().args(&all).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("continues in segment"), "{stderr}");
    }

    /// Replays a recording again and again while it is written (4 KiB frames, two
    /// processes started every 20 ms or so), through its final truncation: no replay may
    /// die of a signal (SIGBUS). The workload is paced so that each replay stays short.
    #[test]
    fn replaying_a_trace_being_written_never_faults() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("busy.kz");
        let stop = dir.path().join("stop");
        let script = format!(
            "while [ ! -e {} ]; do /bin/true; sleep 0.02; done",
            stop.display()
        );
        // However the test ends, the workload stops, and with it the recorder.
        struct StopOnDrop(PathBuf);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                let _ = std::fs::write(&self.0, b"");
            }
        }
        let _stop = StopOnDrop(stop.clone());
        let mut recorder = kellect()
            .args(["record", "-q", "-e", "process", "--frame-size", "4", "-o"])
            .arg(&trace)
            .args(["--", "sh", "-c", &script])
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let (mut runs, mut while_written, mut ok) = (0, 0, 0);
        let mut finished = false;
        while !finished {
            if runs >= 100 && started.elapsed() > Duration::from_secs(5) && !stop.exists() {
                std::fs::write(&stop, b"").unwrap();
            }
            // Checked before the replay: a replay that starts before the recorder is seen
            // gone may still overlap its final truncation.
            finished = recorder.try_wait().unwrap().is_some();
            if !trace.exists() {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            // Every frame is read and decoded; printing nothing (no pid 1 in a recording of
            // a command) keeps each replay short.
            let out = kellect()
                .args(["replay", trace.to_str().unwrap(), "--view", "events"])
                .args(["-o", "json-min", "--pid", "1"])
                .output()
                .unwrap();
            runs += 1;
            assert_eq!(
                out.status.signal(),
                None,
                "replay {runs} died of a signal: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            ok += usize::from(out.status.success());
            while_written +=
                usize::from(String::from_utf8_lossy(&out.stderr).contains("being written"));
            assert!(
                started.elapsed() < Duration::from_secs(300),
                "the recording did not end ({runs} replays)"
            );
        }
        assert!(recorder.wait().unwrap().success());
        eprintln!("{runs} replays, {while_written} of a growing trace, {ok} succeeded");
        assert!(runs >= 100, "{runs} replays");
        assert!(
            while_written >= 50,
            "{while_written} of {runs} read a growing trace"
        );
        assert!(ok >= runs - 5, "{ok} of {runs} replays succeeded");
        let i = crate::util::info(&trace);
        assert_eq!(i["segments"][0]["closed_cleanly"], true, "{i}");
    }
}
