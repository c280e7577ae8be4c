//! Attacks on safe output paths, the segment lock, the partial-replay checks and the table
//! escaping, as an intruder on the recorded host or a careless user would make them. Each
//! test is one attack; those that still succeed are `#[ignore]`d with the reason.

use std::path::PathBuf;

use kellect::format::{ChainHead, FILE_HEADER_LEN_V2};
use kellect::meta::Continuation;
use kellect::replayer::output::escape_control;

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
    let a = kellect::replayer::decode::text(b"/tmp/a\xff");
    let b = kellect::replayer::decode::text(b"/tmp/a\xfe");
    let c = kellect::replayer::decode::text("/tmp/a\u{fffd}".as_bytes());
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
#[ignore = "reason: replayer::trace::open_recordings returns the first file's open error, so one unreadable file (empty, or a zero-filled preallocation) fails the whole replay with no output; skipping it with a warning needs a place for file-level warnings outside any recording (main.rs and replayer), not a local fix"]
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
