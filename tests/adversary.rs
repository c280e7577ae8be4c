//! Attacks on safe output paths, the segment lock, the partial-replay checks and the table
//! escaping, as an intruder on the recorded host or a careless user would make them. Each
//! test is one attack; those that still succeed are `#[ignore]`d with the reason.

use std::path::PathBuf;

use kellect::format::{ChainHead, FILE_HEADER_LEN_V2};
use kellect::meta::Continuation;
use kellect::replayer::render::output::escape_control;

use crate::accounting::tiny_segment;
use crate::util::kellect;

/// `kellect info` and `kellect replay` of `files`: (info exit code, info stdout+stderr,
/// replay exit code, replay stderr).
fn info_and_replay(files: &[PathBuf]) -> (Option<i32>, String, Option<i32>, String) {
    // Only the files named: these tests are about what each set of files says alone.
    let info = kellect()
        .args(["info", "--only-given"])
        .args(files)
        .output()
        .unwrap();
    let replay = kellect()
        .args(["replay", "--only-given", "-o", "json-min"])
        .args(files)
        .output()
        .unwrap();
    (
        info.status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&info.stdout),
            String::from_utf8_lossy(&info.stderr)
        ),
        replay.status.code(),
        String::from_utf8_lossy(&replay.stderr).into_owned(),
    )
}

/// Trojan-source names: a right-to-left override makes `invoice\u{202e}fdp.exe` read as
/// `invoiceexe.pdf`; zero-width characters make two different names look the same. The
/// table must show them, not obey them.
#[test]
fn table_escapes_bidi_overrides_and_zero_width_characters() {
    let invisible = [
        '\u{61c}', '\u{200b}', '\u{200c}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{2028}',
        '\u{2029}', '\u{202a}', '\u{202b}', '\u{202c}', '\u{202d}', '\u{202e}', '\u{2060}',
        '\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}', '\u{feff}',
    ];
    for c in invisible {
        let name = format!("/tmp/invoice{c}fdp.exe");
        let shown = escape_control(&name);
        assert!(
            !shown.contains(c),
            "U+{:04X} reached the table raw: {shown:?}",
            u32::from(c)
        );
        assert!(
            shown.contains(&format!("\\u{{{:x}}}", u32::from(c))),
            "{shown:?}"
        );
        // Two names that differ only by the invisible character look different.
        assert_ne!(shown, escape_control("/tmp/invoicefdp.exe"));
    }
    // A very long hostile name: escaped whole, in bounded time, one line.
    let long = "\u{202e}\x1b[2J".repeat(100_000);
    let shown = escape_control(&long);
    assert!(!shown.contains('\u{202e}') && !shown.contains('\x1b') && !shown.contains('\n'));
    assert_eq!(shown.len(), "\\u{202e}\\x1b[2J".len() * 100_000);
}

/// The README says JSON carries names exactly; a name that is not UTF-8 keeps its bytes
/// (replayer::bytes), so `a\xff` and `a\xfe` (two files) stay two names, and neither is a
/// name holding a real U+FFFD.
#[test]
fn names_that_are_not_utf8_stay_distinct() {
    let a = kellect::replayer::input::decode::text(b"/tmp/a\xff");
    let b = kellect::replayer::input::decode::text(b"/tmp/a\xfe");
    let c = kellect::replayer::input::decode::text("/tmp/a\u{fffd}".as_bytes());
    assert_ne!(a, b, "two different file names replay as one");
    assert_ne!(a, c, "invalid UTF-8 replays as a real U+FFFD");
}

/// Numbering at the edges of u32: a segment index of u32::MAX, frames numbered up to
/// u32::MAX, a forged continuation to segment u32::MAX at frame u32::MAX. Everything is
/// named, nothing panics, and the frames that are there are replayed (exit 0).
#[test]
fn numbering_at_u32_max_is_reported_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    // Segment u32::MAX alone, frames u32::MAX-1 and u32::MAX.
    let last = dir.path().join("t.4294967295.kz");
    std::fs::write(
        &last,
        tiny_segment(u32::MAX, u32::MAX - 1, 2, None, &ChainHead::ZERO),
    )
    .unwrap();
    let (code, info, rcode, rerr) = info_and_replay(std::slice::from_ref(&last));
    assert_eq!(code, Some(0), "{info}");
    assert_eq!(rcode, Some(0), "{rerr}");
    assert!(
        !info.contains("panicked") && !rerr.contains("panicked"),
        "{info}{rerr}"
    );
    assert!(
        info.contains("segments 0..4294967294 (t.kz .. t.4294967294.kz) are missing"),
        "{info}"
    );

    // Segment 0 whose continuation names segment u32::MAX and frame u32::MAX.
    let first = dir.path().join("t.kz");
    let forged = Continuation {
        next_segment_index: u32::MAX,
        next_frame_seq: u32::MAX,
    };
    std::fs::write(
        &first,
        tiny_segment(0, 0, 2, Some(forged), &ChainHead::ZERO),
    )
    .unwrap();
    let (code, info, rcode, rerr) = info_and_replay(std::slice::from_ref(&first));
    assert_eq!(code, Some(0), "{info}");
    assert_eq!(rcode, Some(0), "{rerr}");
    assert!(
        !info.contains("panicked") && !rerr.contains("panicked"),
        "{info}{rerr}"
    );
    assert!(
        info.contains("continues in segment 4294967295 (t.4294967295.kz), not given"),
        "{info}"
    );
    assert!(info.contains("frames 2..4294967294 are missing"), "{info}");

    // Both: the gap between them is named once, as segments, without a listing per frame.
    let (code, info, rcode, rerr) = info_and_replay(&[first, last]);
    assert_eq!(code, Some(0), "{info}");
    assert_eq!(rcode, Some(0), "{rerr}");
    assert!(info.contains("segments 1..4294967294"), "{info}");
    assert!(info.lines().count() < 60, "{info}");
}

/// A crash (kill -9, power loss) between creating a rotated segment and writing its file
/// header leaves an empty or all-zero `t.N.kz` beside intact segments. `kellect replay
/// t*.kz` must still replay the intact ones and name the unreadable file.
#[test]
#[ignore = "reason: replayer::input::trace::open_recordings returns the first file's open error, so one unreadable file (empty, or a zero-filled preallocation) fails the whole replay with no output; skipping it with a warning needs a place for file-level warnings outside any recording (main.rs and replayer), not a local fix"]
fn an_unreadable_segment_left_by_a_crash_does_not_hide_the_others() {
    let dir = tempfile::tempdir().unwrap();
    let intact = dir.path().join("t.kz");
    std::fs::copy(crate::util::fixture("process.kz"), &intact).unwrap();
    for torn in [&[][..], &[0u8; 65536][..]] {
        let next = dir.path().join("t.1.kz");
        std::fs::write(&next, torn).unwrap();
        let out = kellect()
            .args(["replay", "-o", "json-min"])
            .arg(&intact)
            .arg(&next)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{stderr}");
        assert!(!out.stdout.is_empty(), "nothing replayed: {stderr}");
        assert!(stderr.contains("t.1.kz"), "{stderr}");
    }
}

/// A replay of a recording that has just started (its recorder holds the lock and no frame
/// is committed yet) is not a failure; the same bytes with no recorder are one.
#[test]
fn a_recording_that_has_not_committed_a_frame_yet_is_not_an_error() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.kz");
    // The file header alone: what a recorder has committed before its first block.
    let segment = tiny_segment(0, 0, 0, None, &ChainHead::ZERO);
    std::fs::write(&trace, &segment[..FILE_HEADER_LEN_V2]).unwrap();
    let replay = || {
        kellect()
            .args(["replay", "-o", "json-min"])
            .arg(&trace)
            .output()
            .unwrap()
    };
    let out = replay();
    assert_eq!(
        out.status.code(),
        Some(1),
        "no recorder: nothing was recovered"
    );
    // The recorder's lock, held as SegmentFile holds it.
    let writer = std::fs::OpenOptions::new()
        .write(true)
        .open(&trace)
        .unwrap();
    // SAFETY: flock only reads its integer arguments; the fd is open.
    assert_eq!(unsafe { libc::flock(writer.as_raw_fd(), libc::LOCK_EX) }, 0);
    let out = replay();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("no data frame is committed yet"),
        "{stderr}"
    );
    assert!(!stderr.contains("error"), "{stderr}");
    drop(writer);
}

#[cfg(feature = "record")]
mod live {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;
    use std::process::Stdio;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::live::live;
    use crate::util::info;

    /// ~1 M syscalls: several MiB of trace, so several 1 MiB segments.
    const BUSY: &str = "dd if=/dev/zero of=/dev/null bs=1 count=400000 status=none";

    fn wait_for(path: &Path, limit: Duration) {
        let start = Instant::now();
        while !path.exists() {
            assert!(start.elapsed() < limit, "{} never appeared", path.display());
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Ctrl-C while the BPF programs load (seconds on a busy host): the recording must stop
    /// cleanly, with a closed trace, not die of the signal.
    #[test]
    fn sigint_during_start_up_stops_the_recording_cleanly() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.kz");
        let recorder = kellect()
            .arg("record")
            .arg("-o")
            .arg(&trace)
            .args(["--duration", "120s"])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The first segment is created before the programs load: that is start-up.
        wait_for(&trace, Duration::from_secs(30));
        // SAFETY: kill only reads its integer arguments.
        assert_eq!(unsafe { libc::kill(recorder.id() as i32, libc::SIGINT) }, 0);
        let started = Instant::now();
        let out = recorder.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.code().is_some(),
            "the recorder died of the signal: {:?}\n{stderr}",
            out.status
        );
        assert!(started.elapsed() < Duration::from_secs(60), "{stderr}");
        assert!(stderr.contains("kellect: recorded"), "{stderr}");
        let i = info(&trace);
        assert_eq!(i["segments"][0]["closed_cleanly"], true, "{i}");
    }

    /// The output directory is swapped for a symlink while a rotating recording runs: every
    /// later segment must still go to the directory the recording started in, never to
    /// where the link points.
    #[test]
    fn rotated_segments_stay_in_the_directory_the_recording_started_in() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let out_dir = dir.path().join("out");
        let moved = dir.path().join("out.moved");
        let victim = dir.path().join("victim");
        std::fs::create_dir(&out_dir).unwrap();
        std::fs::create_dir(&victim).unwrap();
        let trace = out_dir.join("t.kz");
        let recorder = kellect()
            .args(["record", "-f", "--rotate-size", "1", "--frame-size", "64"])
            .arg("-o")
            .arg(&trace)
            .args(["--", "sh", "-c"])
            .arg(BUSY.replace("400000", "1500000"))
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for(&out_dir.join("t.1.kz"), Duration::from_secs(120));
        std::fs::rename(&out_dir, &moved).unwrap();
        std::os::unix::fs::symlink(&victim, &out_dir).unwrap();
        let out = recorder.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("kellect: recorded"), "{stderr}");
        let landed: Vec<_> = std::fs::read_dir(&victim)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            landed.is_empty(),
            "segments written through the swapped directory: {landed:?}\n{stderr}"
        );
    }

    /// A leftover `t.1.kz` of an older recording (the user removed only `t.kz`): without
    /// `-f` the recorder must refuse before it starts, not record for hours and stop at
    /// the first rotation.
    #[test]
    fn a_leftover_rotated_segment_is_refused_at_start_not_midway() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.kz");
        let leftover = dir.path().join("t.1.kz");
        std::fs::write(&leftover, b"an older recording").unwrap();
        let out = kellect()
            .args(["record", "--rotate-size", "1", "--frame-size", "256"])
            .arg("-o")
            .arg(&trace)
            .args(["--", "sh", "-c", BUSY])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(std::fs::read(&leftover).unwrap(), b"an older recording");
        assert!(
            !stderr.contains("recording stopped early"),
            "the recording ran and was cut at the first rotation:\n{stderr}"
        );
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{} already exists", leftover.display())),
            "{stderr}"
        );
        assert!(!trace.exists(), "nothing was recorded");
    }

    /// An intruder who can write to the output directory creates the next segment's name
    /// while the recording runs: the recording must go on (and say what happened), not stop
    /// at that rotation and leave the rest of the intrusion unrecorded.
    #[test]
    #[ignore = "reason: a rotated name taken after the start (a planted file or link) makes SegmentFile::create fail at that rotation and the sink stops the recording ('recording stopped early'); going on needs a policy for the segment's name (another name, named in the Continuation), a format and sink change"]
    fn a_name_planted_during_the_recording_does_not_stop_it() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.kz");
        let planted = dir.path().join("t.1.kz");
        let recorder = kellect()
            .args(["record", "--rotate-size", "1", "--frame-size", "256"])
            .arg("-o")
            .arg(&trace)
            .args(["--", "sh", "-c", BUSY])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_for(&trace, Duration::from_secs(60));
        std::fs::write(&planted, b"planted").unwrap();
        let out = recorder.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(std::fs::read(&planted).unwrap(), b"planted");
        assert!(
            !stderr.contains("recording stopped early"),
            "a planted name stopped the recording:\n{stderr}"
        );
    }

    /// Someone holds a lock on the old trace (a shared one, as a reader would, or an
    /// exclusive one): `-f` replaces it without waiting, and the other name of the old
    /// file keeps its bytes and mode.
    #[test]
    fn force_never_waits_for_a_lock_on_the_old_file() {
        if !live() {
            return;
        }
        for op in [libc::LOCK_SH, libc::LOCK_EX] {
            let dir = tempfile::tempdir().unwrap();
            let trace = dir.path().join("t.kz");
            std::fs::write(&trace, b"old trace").unwrap();
            std::fs::set_permissions(&trace, std::fs::Permissions::from_mode(0o644)).unwrap();
            let other = dir.path().join("other-name");
            std::fs::hard_link(&trace, &other).unwrap();
            let held = std::fs::File::open(&trace).unwrap();
            // SAFETY: flock only reads its integer arguments; the fd is open.
            assert_eq!(unsafe { libc::flock(held.as_raw_fd(), op) }, 0);
            let started = Instant::now();
            let out = kellect()
                .args(["record", "-f", "-o"])
                .arg(&trace)
                .args(["--", "true"])
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            assert!(started.elapsed() < Duration::from_secs(60));
            assert_eq!(std::fs::read(&other).unwrap(), b"old trace");
            let mode = std::fs::metadata(&other).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644);
            let i = info(&trace);
            assert_eq!(i["segments"][0]["closed_cleanly"], true, "{i}");
            drop(held);
        }
    }
}

/// The analyst's filters and `--to`, attacked with odd values and hostile files: each test
/// is one break found (the input, what went wrong) and now holds.
mod analyst {
    use std::path::Path;

    use kellect::format::ChainHead;
    use serde_json::Value;

    use crate::accounting::{tiny_segment, two_segments};
    use crate::util::{dir_names, fixture, json_lines, kellect, run_err, run_ok};

    /// The container id of fixtures/container.kz (fixtures/regenerate.sh).
    const CONTAINER_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    /// `kellect replay TRACE -o json-min ARGS`, parsed.
    fn replay(trace: &Path, args: &[&str]) -> Vec<Value> {
        let mut all = vec!["replay", trace.to_str().unwrap(), "-o", "json-min"];
        all.extend_from_slice(args);
        json_lines(&run_ok(&all).stdout)
    }

    /// `--since 9999-12-31T23:59:59Z` kept every record: the time's nanoseconds (an i128)
    /// wrapped when cut to i64, to a time before the recording. Year 1 wrapped the other
    /// way. Now both are clamped, in both views.
    #[test]
    fn times_past_the_nanosecond_range_are_clamped_not_wrapped() {
        let trace = fixture("records.kz");
        for view in ["records", "events"] {
            let all = replay(&trace, &["--view", view]).len();
            assert!(all > 0);
            let far = replay(&trace, &["--view", view, "--since", "9999-12-31T23:59:59Z"]);
            assert_eq!(far.len(), 0, "{view}: --since year 9999 kept records");
            let early = replay(&trace, &["--view", view, "--until", "0001-01-01T00:00:00Z"]);
            assert_eq!(early.len(), 0, "{view}: --until year 1 kept records");
            let before = replay(&trace, &["--view", view, "--since", "1900-01-01T00:00:00Z"]);
            assert_eq!(before.len(), all, "{view}: --since 1900");
        }
    }

    /// `--since 2 --until 1` printed nothing and exited 0, as if the trace were quiet there.
    #[test]
    fn an_inverted_time_range_is_a_usage_error() {
        let trace = fixture("records.kz");
        let trace = trace.to_str().unwrap();
        for (since, until) in [
            ("2", "1"),
            ("2026-11-21T09:10:00Z", "2026-11-21T09:09:00+00:00"),
        ] {
            for view in ["records", "events"] {
                let e = run_err(
                    &[
                        "replay", trace, "--view", view, "--since", since, "--until", until,
                    ],
                    2,
                );
                assert!(e.contains("--since is after --until"), "{e}");
            }
            let e = run_err(
                &[
                    "slice",
                    trace,
                    "-o",
                    "/nonexistent/x.kz",
                    "--since",
                    since,
                    "--until",
                    until,
                ],
                2,
            );
            assert!(e.contains("--since is after --until"), "{e}");
            for command in ["tree", "report"] {
                let mut args = vec![command, trace, "--since", since, "--until", until];
                if command == "report" {
                    args.extend(["-o", "/nonexistent/x.html"]);
                }
                let e = run_err(&args, 2);
                assert!(e.contains("--since is after --until"), "{command}: {e}");
            }
        }
        // Equal bounds and mixed forms (unknown order until the trace is read) are fine.
        run_ok(&["replay", trace, "--since", "1", "--until", "1"]);
        run_ok(&[
            "replay",
            trace,
            "--since",
            "2026-11-21T09:10:00Z",
            "--until",
            "1",
        ]);
    }

    /// `--path '*.conf'` (as a careless user writes it) printed nothing, exit 0: paths are
    /// absolute and `*` stops at `/`, so it could never match.
    #[test]
    fn a_path_glob_that_cannot_match_an_absolute_path_is_a_usage_error() {
        let trace = fixture("files.kz");
        let trace = trace.to_str().unwrap();
        for glob in ["*.conf", "etc/**", "?etc/*"] {
            let e = run_err(&["replay", trace, "--path", glob], 2);
            assert!(e.contains("matches no path") && e.contains("**/"), "{e}");
        }
        for glob in ["/etc/**", "**/passwd", "{/etc,/usr}/**", "@*"] {
            run_ok(&["replay", trace, "--path", glob]);
        }
        let anywhere = replay(&fixture("files.kz"), &["--path", "**/*"]);
        assert_eq!(anywhere, replay(&fixture("files.kz"), &["--path", "/**"]));
    }

    /// `--comm process_api_long` (longer than the 15 bytes the kernel keeps of a name)
    /// printed nothing, exit 0.
    #[test]
    fn a_comm_longer_than_the_kernel_keeps_is_a_usage_error() {
        let trace = fixture("records.kz");
        let trace = trace.to_str().unwrap();
        let e = run_err(&["replay", trace, "--comm", "systemd-journald"], 2);
        assert!(e.contains("write `systemd-journal`"), "{e}");
        let e = run_err(
            &[
                "slice",
                trace,
                "-o",
                "/nonexistent/x.kz",
                "--comm",
                "é".repeat(8).as_str(),
            ],
            2,
        );
        // The 15th byte is inside a character: the cut name ends in its first byte, so the
        // advice is the whole characters before it and a `*`.
        assert!(e.contains(&format!("write `{}*`", "é".repeat(7))), "{e}");
        let e = run_err(&["tree", trace, "--comm", "systemd-journald"], 2);
        assert!(e.contains("write `systemd-journal`"), "{e}");
        // 15 bytes, or a glob: taken.
        run_ok(&["replay", trace, "--comm", "systemd-journal"]);
        run_ok(&["replay", trace, "--comm", "systemd-journald*"]);
    }

    /// `--remote ::ffff:127.0.0.1` kept nothing (the peer is compared as IPv4, the filter
    /// stayed IPv6); `--remote 0.0.0.0/0` kept the records view's unconnected sockets
    /// (`SockRemoteIP` 0.0.0.0, port 0), which the events view rightly has no remote end
    /// for; `:0` was taken as a port; `[::1]` without a port was refused.
    #[test]
    fn remote_forms_agree_with_what_the_peer_is() {
        let trace = fixture("records.kz");
        for view in ["records", "events"] {
            let plain = replay(&trace, &["--view", view, "--remote", "127.0.0.1"]);
            assert!(!plain.is_empty(), "{view}");
            for mapped in [
                "::ffff:127.0.0.1",
                "[::ffff:127.0.0.1]",
                "::ffff:127.0.0.0/104",
            ] {
                let got = replay(&trace, &["--view", view, "--remote", mapped]);
                assert_eq!(got, plain, "{view}: --remote {mapped}");
            }
            run_ok(&[
                "replay",
                trace.to_str().unwrap(),
                "--view",
                view,
                "--remote",
                "[::1]",
            ]);
        }
        let any = replay(&trace, &["--remote", "0.0.0.0/0"]);
        assert!(!any.is_empty());
        for r in &any {
            let unconnected = r["SockRemoteIP"] == "0.0.0.0" && r["SockRemotePort"] == 0;
            assert!(!unconnected, "an unconnected socket has no remote end: {r}");
        }
        for zero in ["127.0.0.1:0", "[::1]:0"] {
            let e = run_err(&["replay", trace.to_str().unwrap(), "--remote", zero], 2);
            assert!(e.contains("port 0"), "{e}");
        }
    }

    /// `--container` with the id upper-cased matched nothing, silently; a cgroup path was
    /// taken as an id and matched nothing, silently.
    #[test]
    fn container_ids_in_capitals_match_and_paths_are_refused() {
        let trace = fixture("container.kz");
        for view in ["records", "events"] {
            let lower = replay(
                &trace,
                &["--view", view, "--container", &CONTAINER_ID[..12]],
            );
            assert!(!lower.is_empty(), "{view}");
            for upper in [
                CONTAINER_ID.to_uppercase(),
                CONTAINER_ID[..12].to_uppercase(),
            ] {
                let got = replay(&trace, &["--view", view, "--container", &upper]);
                assert_eq!(got, lower, "{view}: --container {upper}");
            }
        }
        for path in [
            format!("/system.slice/docker-{CONTAINER_ID}.scope"),
            format!("docker/{CONTAINER_ID}"),
        ] {
            let e = run_err(
                &["replay", trace.to_str().unwrap(), "--container", &path],
                2,
            );
            assert!(e.contains("is a path"), "{e}");
        }
    }

    /// `--to` truncated its file before replaying: a replay that then failed (nothing
    /// recovered, a full disk) destroyed what was there and left a partial file under the
    /// name. Now the output is a temporary file renamed over the name on success only.
    #[test]
    fn a_failed_replay_leaves_the_to_file_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.kz");
        std::fs::write(&empty, tiny_segment(0, 0, 0, None, &ChainHead::ZERO)).unwrap();
        let out = dir.path().join("out.json");
        std::fs::write(&out, "precious\n").unwrap();
        for format in ["json-min", "parquet"] {
            let e = run_err(
                &[
                    "replay",
                    empty.to_str().unwrap(),
                    "-o",
                    format,
                    "--to",
                    out.to_str().unwrap(),
                ],
                1,
            );
            assert!(e.contains("nothing was recovered"), "{e}");
            assert_eq!(
                std::fs::read_to_string(&out).unwrap(),
                "precious\n",
                "{format}"
            );
        }
        // A file size limit makes writes fail part way, as a full disk does.
        let fresh = dir.path().join("fresh.json");
        for target in [&out, &fresh] {
            let mut cmd = kellect();
            cmd.args(["replay", "-o", "json"])
                .arg(fixture("records.kz"))
                .arg("--to")
                .arg(target);
            // SAFETY: signal and setrlimit are async-signal-safe; only the child is changed.
            unsafe {
                std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                    libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                    let limit = libc::rlimit {
                        rlim_cur: 4096,
                        rlim_max: 4096,
                    };
                    if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            let r = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&r.stderr);
            assert_eq!(r.status.code(), Some(1), "{stderr}");
            assert!(
                stderr.contains(&format!("writing --to {}", target.display())),
                "{stderr}"
            );
        }
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious\n");
        assert!(!fresh.exists(), "a partial file under the name");
        assert_eq!(
            dir_names(dir.path()),
            ["empty.kz", "out.json"],
            "temporary files left"
        );
        // A replay that succeeds replaces the file.
        run_ok(&[
            "replay",
            fixture("records.kz").to_str().unwrap(),
            "--to",
            out.to_str().unwrap(),
        ]);
        assert!(std::fs::read_to_string(&out).unwrap().starts_with('{'));
        assert_eq!(dir_names(dir.path()), ["empty.kz", "out.json"]);
    }

    /// `--to` a segment of the recording not given (`--only-given`), or another
    /// recording's trace, truncated evidence; `--to` a directory was no usage error.
    #[test]
    fn to_refuses_traces_and_directories() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second) = two_segments(dir.path());
        let other = dir.path().join("other.kz");
        std::fs::copy(fixture("process.kz"), &other).unwrap();
        let before: Vec<Vec<u8>> = [&second, &other]
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        for target in [&second, &other] {
            for only in [true, false] {
                let mut args = vec!["replay"];
                if only {
                    args.push("--only-given");
                }
                args.extend([first.to_str().unwrap(), "--to", target.to_str().unwrap()]);
                let e = run_err(&args, 2);
                assert!(
                    e.contains("is a kellect trace") || e.contains("trace being replayed"),
                    "{e}"
                );
            }
        }
        let after: Vec<Vec<u8>> = [&second, &other]
            .iter()
            .map(|p| std::fs::read(p).unwrap())
            .collect();
        assert!(after == before, "a trace was changed");
        let e = run_err(
            &[
                "replay",
                first.to_str().unwrap(),
                "--to",
                dir.path().to_str().unwrap(),
            ],
            2,
        );
        assert!(e.contains("a directory"), "{e}");
        // A name with a trailing slash was replayed in full, then failed to be renamed.
        for target in ["new/", "cap.kz/", "..", "."] {
            let target = dir.path().join(target);
            let e = run_err(
                &[
                    "replay",
                    first.to_str().unwrap(),
                    "--to",
                    target.to_str().unwrap(),
                ],
                2,
            );
            assert!(e.contains("a directory"), "{e}");
        }
        // A FIFO is written in place (its reader gets the output).
        let fifo = dir.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        // SAFETY: mkfifo reads the NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read(fifo).unwrap())
        };
        let stdout = run_ok(&["replay", first.to_str().unwrap(), "-o", "json-min"]).stdout;
        run_ok(&[
            "replay",
            first.to_str().unwrap(),
            "-o",
            "json-min",
            "--to",
            fifo.to_str().unwrap(),
        ]);
        assert!(reader.join().unwrap() == stdout);
    }
}
