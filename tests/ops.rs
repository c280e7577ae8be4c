//! Operations: finding a recording's segments from one file or a directory, clear errors
//! for paths that are not traces or may not be read, `--version`, and (live) the command's
//! output kept off `kellect live`'s stdout.

use std::path::{Path, PathBuf};

use kellect::format::FileHeader;
use serde_json::Value;

use crate::util::{fixture, json_lines, kellect, run_err, run_ok};

/// Writes `source` to `dest` with its file header replaced: recording `id`, segment `index`.
fn reheadered(source: &Path, dest: &Path, id: u64, index: u32) {
    let mut bytes = std::fs::read(source).unwrap();
    let header = FileHeader {
        recording_id: id,
        segment_index: index,
        ..FileHeader::decode(&bytes).unwrap()
    };
    bytes[..kellect::format::FILE_HEADER_LEN].copy_from_slice(&header.encode());
    std::fs::write(dest, bytes).unwrap();
}

/// `kellect info --json ARGS`: the recordings and the stderr.
#[track_caller]
fn info_json(args: &[&str]) -> (Vec<Value>, String) {
    let out = run_ok(&[&["info", "--json"], args].concat());
    let infos: Value = serde_json::from_slice(&out.stdout).unwrap();
    (
        infos.as_array().unwrap().clone(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn segment_names(info: &Value) -> Vec<String> {
    info["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            Path::new(s["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

/// t.kz, t.1.kz and t.2.kz of one recording, t.3.kz of another, t.4.kz not a trace.
fn three_segments(dir: &Path) -> PathBuf {
    let records = fixture("records.kz");
    for i in 0..3 {
        let name = match i {
            0 => "t.kz".to_owned(),
            i => format!("t.{i}.kz"),
        };
        reheadered(&records, &dir.join(name), 0xfeed, i);
    }
    reheadered(&fixture("process.kz"), &dir.join("t.3.kz"), 0xbeef, 3);
    std::fs::write(dir.join("t.4.kz"), b"not a trace\n").unwrap();
    dir.join("t.kz")
}

#[test]
fn a_file_brings_the_other_segments_of_its_recording() {
    let dir = tempfile::tempdir().unwrap();
    three_segments(dir.path());
    for given in ["t.kz", "t.1.kz", "t.2.kz"] {
        let path = dir.path().join(given);
        let (infos, stderr) = info_json(&[path.to_str().unwrap()]);
        assert_eq!(infos.len(), 1, "{given}: one recording");
        assert_eq!(
            segment_names(&infos[0]),
            ["t.kz", "t.1.kz", "t.2.kz"],
            "{given}"
        );
        // Same names, another recording id or no trace at all: named and left out.
        assert!(
            stderr.contains("t.3.kz is named like a segment of")
                && stderr.contains("belongs to another recording"),
            "{stderr}"
        );
        assert!(
            stderr.contains("t.4.kz is named like a segment of")
                && stderr.contains("is not a kellect trace"),
            "{stderr}"
        );
    }
    // Given twice, or given and found: taken once.
    let t = dir.path().join("t.kz");
    let t1 = dir.path().join("t.1.kz");
    let (infos, stderr) = info_json(&[t1.to_str().unwrap(), t.to_str().unwrap()]);
    assert_eq!(segment_names(&infos[0]), ["t.kz", "t.1.kz", "t.2.kz"]);
    assert!(!stderr.contains("again"), "{stderr}");
    // --only-given: just the file.
    let (infos, _) = info_json(&["--only-given", t1.to_str().unwrap()]);
    assert_eq!(segment_names(&infos[0]), ["t.1.kz"]);
}

#[test]
fn a_segment_not_found_beside_the_others_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let t = three_segments(dir.path());
    std::fs::remove_file(dir.path().join("t.1.kz")).unwrap();
    let out = kellect()
        .args(["replay", "-q", t.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("kellect: warning: segment 1 (t.1.kz) is missing"),
        "{stderr}"
    );
}

#[test]
fn a_directory_replays_every_recording_in_it_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["records.kz", "process.kz", "catalogue.kz"];
    for name in names {
        std::fs::copy(fixture(name), dir.path().join(name)).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), b"hello\n").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let (infos, stderr) = info_json(&[dir.path().to_str().unwrap()]);
    assert_eq!(infos.len(), 3, "{infos:#?}");
    assert!(
        stderr.contains("1 files that are not kellect traces are left out"),
        "{stderr}"
    );
    // Oldest first, by when each recording started.
    let firsts: Vec<&str> = infos
        .iter()
        .map(|i| i["first_event"].as_str().unwrap())
        .collect();
    let mut sorted = firsts.clone();
    sorted.sort();
    assert_eq!(firsts, sorted);
    // The directory's replay is each recording's replay, in that order.
    let events = |path: &Path| {
        run_ok(&[
            "replay",
            path.to_str().unwrap(),
            "--view",
            "events",
            "-o",
            "json-min",
        ])
        .stdout
    };
    let mut expected = Vec::new();
    for info in &infos {
        expected.extend(events(Path::new(
            info["segments"][0]["path"].as_str().unwrap(),
        )));
    }
    let whole = events(dir.path());
    assert!(!whole.is_empty());
    assert!(whole == expected, "the directory's replay differs");
    assert_eq!(json_lines(&whole).len(), json_lines(&expected).len());
}

#[test]
fn a_directory_without_traces_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let err = run_err(&["replay", d], 1);
    assert!(
        err.contains(&format!(
            "{d} holds no kellect trace: the directory is empty"
        )),
        "{err}"
    );
    std::fs::write(dir.path().join("a.kz"), b"{}\n").unwrap();
    std::fs::write(dir.path().join("b.json"), b"[]\n").unwrap();
    let err = run_err(&["info", d], 1);
    assert!(
        err.contains(
            "holds no kellect trace: none of its 2 files starts with a kellect file header"
        ),
        "{err}"
    );
    // A file named like a trace that is none: the error says what is wrong with it.
    let err = run_err(&["replay", dir.path().join("a.kz").to_str().unwrap()], 1);
    assert!(
        err.contains("a.kz is not a readable kellect trace"),
        "{err}"
    );
    assert!(err.contains("magic"), "{err}");
}

#[test]
fn version_names_the_git_revision_and_the_features() {
    let out = run_ok(&["--version"]);
    let version = String::from_utf8(out.stdout).unwrap();
    let git = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output();
    let revision = match git {
        Ok(out) if out.status.success() => String::from_utf8(out.stdout).unwrap(),
        _ => "unknown".to_owned(),
    };
    let features = if cfg!(feature = "record") {
        "record and replay"
    } else {
        "replay-only"
    };
    assert_eq!(
        version.trim(),
        format!(
            "kellect {} (git {}, {features})",
            env!("CARGO_PKG_VERSION"),
            revision.trim()
        )
    );
}

#[cfg(feature = "record")]
mod live {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::process::Command;

    use serde_json::Value;

    use super::{info_json, segment_names};
    use crate::live::live;
    use crate::util::{json_lines, kellect, run_ok};

    #[test]
    fn a_trace_the_user_may_not_read_says_who_owns_it_and_what_to_do() {
        if !live() {
            return;
        }
        // A root-owned 0600 trace, and kellect run as `nobody` from a copy it can execute.
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = dir.path().join("kellect");
        std::fs::copy(env!("CARGO_BIN_EXE_kellect"), &bin).unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let trace = dir.path().join("private.kz");
        std::fs::copy(crate::util::fixture("process.kz"), &trace).unwrap();
        std::fs::set_permissions(&trace, std::fs::Permissions::from_mode(0o600)).unwrap();
        let as_nobody = |args: &[&Path]| {
            let out = Command::new("setpriv")
                .args([
                    "--reuid=nobody",
                    "--regid=nogroup",
                    "--clear-groups",
                    "--inh-caps=-all",
                ])
                .arg(&bin)
                .arg("replay")
                .args(args)
                .output()
                .expect("setpriv (util-linux) runs");
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            String::from_utf8_lossy(&out.stderr).into_owned()
        };
        for given in [trace.as_path(), dir.path()] {
            let err = as_nobody(&[given]);
            assert!(
                err.contains(&format!("{}: permission denied", trace.display()))
                    && err.contains("owned by root with mode 0600")
                    && err.contains("sudo")
                    && err.contains("chgrp GROUP FILE"),
                "{given:?}: {err}"
            );
        }
    }

    #[test]
    fn live_keeps_the_commands_output_off_its_stdout() {
        if !live() {
            return;
        }
        let out = kellect()
            .args(["live", "--view", "events", "-o", "json-min", "--"])
            .args(["sh", "-c", "echo not-json; echo also-not-json >&2"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        // Every line of stdout is one JSON object: the command printed nothing there.
        let events = json_lines(&out.stdout);
        assert!(
            events.iter().any(|e| e["event_type"] == "process_exec"),
            "the command's events are printed"
        );
        assert!(
            stderr.contains("not-json\n") && stderr.contains("also-not-json\n"),
            "{stderr}"
        );

        // --command-output FILE: the command's output goes there, and only there.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("command.out");
        let out = kellect()
            .args(["live", "-o", "json-min", "--command-output"])
            .arg(&file)
            .args(["--", "sh", "-c", "echo not-json; echo also-not-json >&2"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        json_lines(&out.stdout);
        assert!(!stderr.contains("not-json"), "{stderr}");
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "not-json\nalso-not-json\n"
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        // Never through a symbolic link.
        let link = dir.path().join("link.out");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        let out = kellect()
            .args(["live", "-q", "--command-output"])
            .arg(&link)
            .args(["--", "true"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("symbolic link"), "{stderr}");
    }

    /// Records a busy workload into `dir/t.kz` with `extra` options; returns the segments
    /// on disk, sorted by name.
    #[track_caller]
    pub(super) fn record_rotating(dir: &Path, extra: &[&str], command: &[&str]) -> Vec<String> {
        let out = kellect()
            .arg("record")
            .arg("-o")
            .arg(dir.join("t.kz"))
            .args(extra)
            .arg("--")
            .args(command)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        crate::util::dir_names(dir)
    }

    #[test]
    fn a_rotated_recording_replays_whole_from_any_of_its_segments() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let on_disk = record_rotating(
            dir.path(),
            &["--rotate-size", "1", "--frame-size", "256"],
            // 1.2 M records: some 3 MiB on disk at ~3 bytes each.
            &[
                "dd",
                "if=/dev/zero",
                "of=/dev/null",
                "bs=1",
                "count=600000",
                "status=none",
            ],
        );
        assert!(on_disk.len() >= 3, "{on_disk:?}");
        let mut expected: Vec<String> = (0..on_disk.len())
            .map(|i| match i {
                0 => "t.kz".to_owned(),
                i => format!("t.{i}.kz"),
            })
            .collect();
        expected.sort();
        assert_eq!(on_disk, expected);
        let whole = |given: &Path| -> Value {
            let (infos, stderr) = info_json(&[given.to_str().unwrap()]);
            assert_eq!(infos.len(), 1, "{given:?}");
            assert_eq!(stderr, "", "{given:?}");
            infos[0].clone()
        };
        let last = dir.path().join(format!("t.{}.kz", on_disk.len() - 1));
        for given in [dir.path().to_owned(), dir.path().join("t.kz"), last] {
            let info = whole(&given);
            assert_eq!(segment_names(&info).len(), on_disk.len(), "{given:?}");
            assert_eq!(info["damage"], serde_json::json!([]), "{given:?}");
            assert_eq!(
                info["records_total"], info["kernel_emitted_total"],
                "{info}"
            );
        }
    }

    /// The `.kz` files in `dir`, by name.
    fn traces_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".kz"))
            .collect();
        names.sort();
        names
    }

    fn index_of(name: &str) -> u32 {
        match name {
            "t.kz" => 0,
            n => n["t.".len()..n.len() - ".kz".len()].parse().unwrap(),
        }
    }

    /// The events view of the segment `seg` replayed alone (`--only-given`).
    #[track_caller]
    fn events_alone(seg: &Path) -> Vec<Value> {
        let out = kellect()
            .args([
                "replay",
                "--only-given",
                "--view",
                "events",
                "-o",
                "json-min",
            ])
            .arg(seg)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{seg:?}: {stderr}");
        json_lines(&out.stdout)
    }

    #[test]
    fn a_ring_keeps_at_most_n_segments_and_each_replays_alone() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let mut recorder = kellect()
            .arg("record")
            .arg("-o")
            .arg(dir.path().join("t.kz"))
            .args(["--rotate-size", "1", "--keep", "3", "--frame-size", "256"])
            .args([
                "--",
                "dd",
                "if=/dev/zero",
                "of=/dev/null",
                "bs=1",
                "count=900000",
            ])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Never more than three segments on disk, while it runs.
        let mut most = 0;
        while recorder.try_wait().unwrap().is_none() {
            most = most.max(traces_in(dir.path()).len());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let out = recorder.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(most <= 3, "{most} segments at once");
        let kept = traces_in(dir.path());
        assert_eq!(kept.len(), 3, "{kept:?}");
        let mut indexes: Vec<u32> = kept.iter().map(|n| index_of(n)).collect();
        indexes.sort();
        let last = indexes[2];
        assert!(last >= 4, "the ring turned: {kept:?}");
        assert_eq!(
            indexes,
            [last - 2, last - 1, last],
            "the last three are kept"
        );
        assert!(
            stderr.contains(&format!(
                "the ring (--keep) deleted {} older segments",
                last - 2
            )),
            "{stderr}"
        );
        // Each kept segment replays alone: its own metadata, its own events.
        for name in &kept {
            let seg = dir.path().join(name);
            assert!(
                events_alone(&seg).iter().any(|e| e["comm"] == "dd"),
                "{name}: dd's events"
            );
            let (infos, _) = info_json(&["--only-given", seg.to_str().unwrap()]);
            assert!(infos[0]["host"]["hostname"].is_string(), "{name}");
            assert!(
                infos[0]["snapshot_processes"].as_u64().unwrap() > 0,
                "{name}"
            );
        }
        // Together: the deleted segments are said to be the ring's doing, not missing, and
        // the kernel's totals (which count the deleted segments' records) raise no alarm.
        let (infos, _) = info_json(&[dir.path().to_str().unwrap()]);
        assert_eq!(infos.len(), 1);
        let damage: Vec<&str> = infos[0]["damage"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_str().unwrap())
            .collect();
        assert_eq!(
            damage,
            [format!(
                "segments 0..{} (t.kz .. t.{}.kz) were deleted by the recorder's ring (--keep 3 \
                 keeps the last 3 segments): the events they held are not in this output",
                last - 3,
                last - 3
            )],
        );
        // A gap among the kept segments stays a warning.
        std::fs::remove_file(dir.path().join(format!("t.{}.kz", last - 1))).unwrap();
        let (infos, _) = info_json(&[dir.path().to_str().unwrap()]);
        let damage = infos[0]["damage"].to_string();
        assert!(
            damage.contains(&format!(
                "segment {} (t.{}.kz) is missing",
                last - 1,
                last - 1
            )),
            "{damage}"
        );
    }

    #[test]
    fn rotate_time_starts_a_segment_every_interval() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let on_disk = record_rotating(
            dir.path(),
            &["--rotate-time", "1s", "-q"],
            &["sleep", "3.6"],
        );
        // About one a second (the check runs at every block, statistics come each second).
        assert!((3..=5).contains(&on_disk.len()), "{on_disk:?}");
        let (infos, stderr) = info_json(&[dir.path().join("t.kz").to_str().unwrap()]);
        assert_eq!(stderr, "");
        assert_eq!(segment_names(&infos[0]).len(), on_disk.len());
        assert_eq!(infos[0]["damage"], serde_json::json!([]));
    }

    /// Sends `signal` to `child`.
    fn signal(child: &std::process::Child, signal: i32) {
        // SAFETY: kill has no memory-safety preconditions; the pid is our unreaped child.
        assert_eq!(unsafe { libc::kill(child.id() as libc::pid_t, signal) }, 0);
    }

    /// Waits up to 20 s for `path` to exist.
    #[track_caller]
    fn wait_for(path: &Path) {
        let started = std::time::Instant::now();
        while !path.exists() {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{path:?} did not appear"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Waits up to 20 s for the trace being written at `path` to hold a frame.
    #[track_caller]
    fn wait_for_frames(path: &Path) {
        let started = std::time::Instant::now();
        loop {
            let out = kellect()
                .args(["info", "--json", "--only-given"])
                .arg(path)
                .output()
                .unwrap();
            let frames = serde_json::from_slice::<Value>(&out.stdout)
                .ok()
                .and_then(|v| v[0]["frames"].as_u64());
            if frames.is_some_and(|n| n > 0) {
                return;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "{path:?} holds no frame"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    #[test]
    fn sighup_rotates_a_system_wide_recording_and_stops_a_command() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.kz");
        let mut recorder = kellect()
            .arg("record")
            .arg("-o")
            .arg(&t)
            .args(["-q", "-e", "process"])
            .spawn()
            .unwrap();
        // Frames are stored once the programs are attached and the signals handled.
        wait_for_frames(&t);
        signal(&recorder, libc::SIGHUP);
        wait_for(&dir.path().join("t.1.kz"));
        signal(&recorder, libc::SIGHUP);
        wait_for(&dir.path().join("t.2.kz"));
        std::thread::sleep(std::time::Duration::from_millis(300));
        signal(&recorder, libc::SIGTERM);
        assert!(recorder.wait().unwrap().success());
        assert_eq!(traces_in(dir.path()), ["t.1.kz", "t.2.kz", "t.kz"]);
        let (infos, stderr) = info_json(&[dir.path().to_str().unwrap()]);
        assert_eq!(stderr, "");
        assert_eq!(infos.len(), 1);
        assert_eq!(infos[0]["damage"], serde_json::json!([]));
        assert_eq!(infos[0]["records_total"], infos[0]["kernel_emitted_total"]);

        // With a command, SIGHUP asks the command to stop (SIGTERM), and recording ends.
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.kz");
        let mut recorder = kellect()
            .arg("record")
            .arg("-o")
            .arg(&t)
            .args(["-q", "--", "sleep", "60"])
            .spawn()
            .unwrap();
        let started = std::time::Instant::now();
        wait_for_frames(&t);
        signal(&recorder, libc::SIGHUP);
        let status = recorder.wait().unwrap();
        assert_eq!(
            status.code(),
            Some(128 + libc::SIGTERM),
            "sleep was terminated"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(30));
        assert_eq!(traces_in(dir.path()), ["t.kz"]);
    }

    /// The snapshot directories (`t.snapshot-*`) in `dir`, by name.
    fn snapshots_in(dir: &Path) -> Vec<std::path::PathBuf> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path
                .file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("t.snapshot-")
            {
                found.push(path);
            }
        }
        found.sort();
        found
    }

    /// `kellect snapshot PIDFILE` while a ring of 2 turns under a workload: the segments it
    /// kept are deleted from the ring later, yet the snapshot replays (each segment alone,
    /// and as a directory) and verifies.
    #[test]
    fn sigusr1_keeps_a_snapshot_that_outlives_the_ring() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (t, pidfile, stop) = (
            dir.path().join("t.kz"),
            dir.path().join("k.pid"),
            dir.path().join("stop"),
        );
        let workload = format!(
            "while [ ! -e {} ]; do dd if=/dev/zero of=/dev/null bs=1 count=100000 2>/dev/null; \
             done",
            stop.display()
        );
        let recorder = kellect()
            .arg("record")
            .arg("-o")
            .arg(&t)
            .args(["--rotate-size", "1", "--keep", "2", "--frame-size", "256"])
            .arg("--pidfile")
            .arg(&pidfile)
            .args(["--", "sh", "-c", &workload])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // The ring has turned (t.kz is gone) before the snapshot.
        wait_for(&dir.path().join("t.2.kz"));
        let pid = std::fs::read_to_string(&pidfile).unwrap();
        assert_eq!(pid.trim(), recorder.id().to_string());
        let out = kellect().arg("snapshot").arg(&pidfile).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{said}");
        assert!(
            said.contains(&format!("asked the recorder (pid {})", recorder.id())),
            "{said}"
        );
        // The snapshot's directory, once it holds its segments.
        let started = std::time::Instant::now();
        let (snap, kept) = loop {
            if let [snap] = &snapshots_in(dir.path())[..] {
                if !traces_in(snap).is_empty() {
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    break (snap.clone(), traces_in(snap));
                }
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(20),
                "no snapshot"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        };
        // The ring when the snapshot was taken: with --keep 2, the segment it closed and
        // the one before.
        assert_eq!(kept.len(), 2, "{kept:?}");
        let last = kept.iter().map(|n| index_of(n)).max().unwrap();
        // Three rotations later, every kept segment has left the ring.
        wait_for(&dir.path().join(format!("t.{}.kz", last + 3)));
        std::fs::write(&stop, b"").unwrap();
        let out = recorder.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(!pidfile.exists(), "the pid file is removed at the end");
        let on_disk = traces_in(dir.path());
        assert!(
            kept.iter().all(|k| !on_disk.contains(k)),
            "{kept:?} in {on_disk:?}"
        );
        assert_eq!(traces_in(&snap), kept, "the snapshot is untouched");
        assert!(
            stderr.contains(&format!(
                "kellect: snapshot: kept 2 segments ({}",
                kept.iter()
                    .map(|k| std::fs::metadata(snap.join(k)).unwrap().len())
                    .sum::<u64>()
            )) && stderr.contains(&format!("in {}: {}", snap.display(), kept.join(", "))),
            "{stderr}"
        );
        assert!(stderr.contains(&format!("kellect: snapshot {}: 2 segments", snap.display())));
        // Each kept segment replays alone; the directory replays whole and verifies.
        for name in &kept {
            assert!(
                events_alone(&snap.join(name))
                    .iter()
                    .any(|e| e["comm"] == "dd"),
                "{name}: dd's events"
            );
        }
        let whole = run_ok(&[
            "replay",
            "--view",
            "events",
            "-o",
            "json-min",
            snap.to_str().unwrap(),
        ]);
        assert!(json_lines(&whole.stdout).iter().any(|e| e["comm"] == "dd"));
        let out = kellect()
            .arg("verify")
            .args(kept.iter().map(|n| snap.join(n)))
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // Nothing but a kellect is signalled.
        let out = kellect()
            .arg("snapshot")
            .arg(std::process::id().to_string())
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{said}");
        assert!(said.contains("not kellect: no signal sent"), "{said}");
    }

    /// A recording configured by a file (the packaged one's keys: `output`, `rotate-size`,
    /// `keep`, with comments), with `--keep` on the command line overriding the file's.
    #[test]
    fn a_config_file_sets_the_output_and_the_ring_and_the_command_line_wins() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("kellect.toml");
        std::fs::write(
            &config,
            format!(
                "# Where the trace goes; segments are t.1.kz, t.2.kz, ...\n\
                 output = \"{}\"\n\
                 rotate-size = 1  # MiB\n\
                 keep = 8\n\
                 frame-size = 256\n\
                 events = [\"file\", \"process\"]\n",
                dir.path().join("t.kz").display()
            ),
        )
        .unwrap();
        let out = kellect()
            .arg("record")
            .arg("--config")
            .arg(&config)
            .args(["--keep", "2", "--"])
            // 1.6 M records: some 4 MiB on disk at ~3 bytes each.
            .args(["dd", "if=/dev/zero", "of=/dev/null", "bs=1", "count=800000"])
            .args(["status=none"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("kellect: stopped: the command exited\n"),
            "{stderr}"
        );
        let kept = traces_in(dir.path());
        assert_eq!(kept.len(), 2, "--keep 2 wins over keep = 8: {kept:?}");
        let last = kept.iter().map(|n| index_of(n)).max().unwrap();
        assert!(last >= 2, "rotate-size = 1 rotated: {kept:?}");
        assert!(
            stderr.contains(&format!(
                "the ring (--keep) deleted {} older segments",
                last - 1
            )),
            "{stderr}"
        );
        let (infos, _) = info_json(&[dir.path().to_str().unwrap()]);
        assert_eq!(infos.len(), 1);
        let damage = infos[0]["damage"].to_string();
        assert!(
            damage.contains("were deleted by the recorder's ring (--keep 2 keeps the last 2"),
            "{damage}"
        );
        // Each kept segment replays alone, with the file's event groups and dd's events.
        for name in &kept {
            let events = events_alone(&dir.path().join(name));
            assert!(
                events.iter().any(|e| e["comm"] == "dd"),
                "{name}: dd's events"
            );
            assert!(
                events
                    .iter()
                    .all(|e| !e["event_type"].as_str().unwrap().starts_with("network_")),
                "{name}: no network group"
            );
        }
    }

    /// `kellect: stopped: REASON`: the one reason, however the recording ended.
    #[test]
    fn the_reason_a_recording_stopped_is_said() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let t = dir.path().join("t.kz");
        let record = |args: &[&str]| {
            let out = kellect()
                .arg("record")
                .arg("-f")
                .arg("-o")
                .arg(&t)
                .args(["-e", "process"])
                .args(args)
                .output()
                .unwrap();
            (
                out.status.code(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        };
        let (code, stderr) = record(&["--", "true"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            stderr.contains("kellect: stopped: the command exited\n"),
            "{stderr}"
        );
        let (code, stderr) = record(&["--duration", "500ms"]);
        assert_eq!(code, Some(0), "{stderr}");
        assert!(
            stderr.contains("kellect: stopped: --duration 0.5 s passed\n"),
            "{stderr}"
        );
        // The duration asked the command to stop: it is the reason, not the command's exit.
        let (code, stderr) = record(&["--duration", "500ms", "--", "sleep", "60"]);
        assert_eq!(code, Some(128 + libc::SIGTERM), "{stderr}");
        assert!(
            stderr.contains("kellect: stopped: --duration 0.5 s passed\n"),
            "{stderr}"
        );
        let recorder = kellect()
            .arg("record")
            .arg("-f")
            .arg("-o")
            .arg(&t)
            .args(["-e", "process"])
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        wait_for_frames(&t);
        signal(&recorder, libc::SIGTERM);
        let out = recorder.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert!(
            stderr.contains("kellect: stopped: SIGTERM received\n"),
            "{stderr}"
        );
        // -q: nothing but errors.
        let (code, stderr) = record(&["-q", "--", "true"]);
        assert_eq!((code, stderr.as_str()), (Some(0), ""));
        // live says it too (its -q is about stdout).
        let out = kellect()
            .args(["live", "-q", "-e", "process", "--", "true"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stderr}");
        assert_eq!(stderr, "kellect: stopped: the command exited\n");
    }
}

/// The commands `kellect help` lists (clap's own `help` aside).
fn subcommands() -> Vec<String> {
    let out = run_ok(&["help"]);
    let help = String::from_utf8(out.stdout).unwrap();
    let names: Vec<String> = help
        .split("Commands:\n")
        .nth(1)
        .expect("kellect help lists its commands")
        .lines()
        .take_while(|l| !l.is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .map(|l| l.split_whitespace().next().unwrap().to_owned())
        .filter(|n| n != "help")
        .collect();
    for known in ["record", "replay", "info", "live", "completions", "man"] {
        assert!(names.iter().any(|n| n == known), "{known} in {names:?}");
    }
    names
}

#[test]
fn completions_know_every_command() {
    let commands = subcommands();
    let bash = String::from_utf8(run_ok(&["completions", "bash"]).stdout).unwrap();
    // The words offered after `kellect `, and a case for each command's own options.
    let top = bash
        .lines()
        .find(|l| l.contains("opts=\"") && l.contains("--version") && l.contains("record"))
        .expect("bash completion offers the commands");
    for command in &commands {
        assert!(
            top.split(['"', ' ']).any(|w| w == command),
            "{command} not offered: {top}"
        );
        assert!(
            bash.contains(&format!("kellect__subcmd__{command})")),
            "no completion of {command}'s options"
        );
    }
    // An option of a subcommand is completed too.
    assert!(bash.contains("--rotate-time") && bash.contains("--only-given"));
    for shell in ["zsh", "fish"] {
        let script = String::from_utf8(run_ok(&["completions", shell]).stdout).unwrap();
        for command in &commands {
            assert!(script.contains(command.as_str()), "{shell}: {command}");
        }
    }
    let err = run_err(&["completions", "tcsh"], 2);
    assert!(err.contains("tcsh"), "{err}");
}

#[test]
fn the_man_page_renders_and_names_every_command() {
    let commands = subcommands();
    let roff = String::from_utf8(run_ok(&["man"]).stdout).unwrap();
    assert!(roff.contains("\n.TH kellect 1 "), "{roff}");
    for command in &commands {
        assert!(
            roff.contains(&format!("kellect\\-{command}(1)")),
            "{command}: {roff}"
        );
    }
    // man(1) renders it (man-db: scripts/setup.sh installs it with the test tools).
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("kellect.1");
    std::fs::write(&page, &roff).unwrap();
    let out = std::process::Command::new("man")
        .arg("-l")
        .arg(&page)
        .env("MANWIDTH", "100")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man (man-db) is installed");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("NAME") && text.contains("SUBCOMMANDS"),
        "{text}"
    );
    for command in &commands {
        assert!(
            text.contains(&format!("kellect-{command}(1)")),
            "{command}: {text}"
        );
    }
    // One page per command, each with its options.
    let pages = tempfile::tempdir().unwrap();
    run_ok(&["man", "--dir", pages.path().to_str().unwrap()]);
    for command in &commands {
        let page = pages.path().join(format!("kellect-{command}.1"));
        let roff = std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{page:?}: {e}"));
        assert!(
            roff.contains(&format!(".TH kellect-{command} 1 ")),
            "{roff}"
        );
    }
    let record = std::fs::read_to_string(pages.path().join("kellect-record.1")).unwrap();
    assert!(record.contains("keep"), "{record}");
    let err = run_err(&["man", "--dir", "/nonexistent/man1"], 2);
    assert!(err.contains("not a directory"), "{err}");
}
