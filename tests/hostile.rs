//! Hostile traces (examples/hostile-traces): small files with valid checksums that made
//! replay and info use unbounded memory or print wrapped times. Each is replayed (both
//! views) and described by child processes whose peak RSS the kernel reports (wait4's
//! ru_maxrss): it must stay within the memory budget, with no panic, valid JSON and a
//! warning naming what was capped.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};

use serde_json::Value;

use super::util::{fixture, kellect, run_ok};

#[allow(dead_code)]
#[path = "../examples/hostile-traces/gen.rs"]
mod gen;

/// One finished child: how it ended, its output, its peak RSS.
struct Measured {
    status: ExitStatus,
    stdout: PathBuf,
    stderr: String,
    peak_mib: f64,
    _dir: tempfile::TempDir,
}

/// Runs kellect with `args`, stdout into a file, and reads its peak RSS from wait4.
///
/// A process's ru_maxrss includes the memory of the process it was forked from, up to its
/// exec (the kernel keeps the larger of the old and new address space's peak), so kellect
/// must not be a direct child of this large test process: a shell starts it in the
/// background and exits, and this process, a child subreaper, inherits and reaps it.
fn measured<S: AsRef<OsStr>>(args: &[S]) -> Measured {
    static SUBREAPER: std::sync::Once = std::sync::Once::new();
    SUBREAPER.call_once(|| {
        // SAFETY: PR_SET_CHILD_SUBREAPER takes an integer flag and touches no memory.
        let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
        assert_eq!(rc, 0, "prctl: {}", std::io::Error::last_os_error());
    });
    let dir = tempfile::tempdir().unwrap();
    let stdout = dir.path().join("stdout");
    let stderr = dir.path().join("stderr");
    let shell = Command::new("/bin/sh")
        .arg("-c")
        .arg(r#"exec 3>&1; "$0" "$@" >"$OUT" 2>"$ERR" </dev/null 3>&- & echo $!"#)
        .arg(env!("CARGO_BIN_EXE_kellect"))
        .args(args)
        .env("OUT", &stdout)
        .env("ERR", &stderr)
        .output()
        .expect("running /bin/sh");
    assert!(shell.status.success(), "/bin/sh: {}", shell.status);
    let pid: libc::pid_t = String::from_utf8_lossy(&shell.stdout)
        .trim()
        .parse()
        .expect("the shell prints the pid of kellect");
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is kellect, reparented to this subreaper when the shell exited; both
    // pointers are to live locals of the right types.
    let got = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
    Measured {
        status: ExitStatus::from_raw(status),
        stdout,
        stderr: std::fs::read_to_string(&stderr).unwrap(),
        // Linux reports ru_maxrss in KiB.
        peak_mib: usage.ru_maxrss as f64 / 1024.0,
        _dir: dir,
    }
}

impl Measured {
    /// Requires exit code 0 (a panic exits 101, an abort is a signal) and a peak RSS
    /// within `budget_mib`.
    #[track_caller]
    fn ok_within(&self, budget_mib: f64, what: &str) -> &Self {
        eprintln!("{what}: peak RSS {:.1} MiB", self.peak_mib);
        assert!(
            self.status.success(),
            "{what}: {}\nstderr:\n{}",
            self.status,
            self.stderr.chars().take(2000).collect::<String>()
        );
        assert!(
            self.peak_mib <= budget_mib,
            "{what}: peak RSS {:.1} MiB, over the budget of {budget_mib} MiB",
            self.peak_mib
        );
        self
    }

    /// Every stdout line parses as JSON; returns how many there were.
    #[track_caller]
    fn json_lines(&self) -> usize {
        let mut n = 0;
        for line in BufReader::new(File::open(&self.stdout).unwrap()).lines() {
            let line = line.unwrap();
            serde_json::from_str::<serde::de::IgnoredAny>(&line)
                .unwrap_or_else(|e| panic!("invalid JSON {e}: {line}"));
            n += 1;
        }
        n
    }

    fn json(&self) -> Value {
        serde_json::from_reader(File::open(&self.stdout).unwrap()).expect("info --json is JSON")
    }

    #[track_caller]
    fn warns(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "expected a warning containing {needle:?}\nstderr:\n{}",
            self.stderr.chars().take(2000).collect::<String>()
        );
        self
    }
}

fn hostile(name: &str) -> PathBuf {
    fixture("hostile").join(name)
}

/// Replays `trace` in both views (and `extra` flags) within `budget_mib`; returns the two
/// runs (records, events).
#[track_caller]
fn replay_both(trace: &Path, extra: &[&str], budget_mib: f64) -> [Measured; 2] {
    ["records", "events"].map(|view| {
        let mut args = vec![
            "replay",
            trace.to_str().unwrap(),
            "--view",
            view,
            "-o",
            "json-min",
        ];
        args.extend_from_slice(extra);
        let run = measured(&args);
        run.ok_within(budget_mib, &format!("replay --view {view} {extra:?}"));
        run.json_lines();
        run
    })
}

#[track_caller]
fn info_within(trace: &Path, extra: &[&str], budget_mib: f64) -> Value {
    let mut args = vec!["info", "--json", trace.to_str().unwrap()];
    args.extend_from_slice(extra);
    let run = measured(&args);
    run.ok_within(budget_mib, &format!("info {extra:?}"));
    run.json()[0].clone()
}

fn damage(info: &Value) -> Vec<String> {
    info["damage"]
        .as_array()
        .expect("damage list")
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect()
}

/// The committed hostile fixtures are what the generator writes (regenerate them with
/// `cargo run --example hostile-traces -- fixtures/hostile`).
#[test]
fn committed_hostile_fixtures_match_their_generator() {
    for (name, what, make) in gen::SMALL {
        let committed = std::fs::read(hostile(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            committed == make(),
            "{name} ({what}) differs from its generator's output"
        );
    }
}

#[test]
fn snapshot_bomb_is_skipped_within_the_budget() {
    let trace = hostile("snapshot-bomb.kz");
    for run in replay_both(&trace, &[], 256.0) {
        run.warns("Snapshot block").warns("over the limit");
    }
    let info = info_within(&trace, &[], 256.0);
    assert!(
        damage(&info).iter().any(|d| d.contains("Snapshot block")),
        "{info:#}"
    );
    // With a larger budget the payload is decompressed, and the decoder's estimate of the
    // decoded value stops it, before it takes the budget.
    for run in replay_both(&trace, &["--max-memory", "1024"], 1024.0) {
        run.warns("over the replay memory budget: a value that takes more than");
    }
    for run in replay_both(&trace, &["--max-memory", "64"], 64.0) {
        run.warns("Snapshot block");
    }
    info_within(&trace, &["--max-memory", "64"], 64.0);
}

#[test]
fn frame_bomb_is_decoded_in_batches_by_decoded_size() {
    let trace = hostile("frame-bomb.kz");
    // Many threads: the batch, not the thread count, bounds what is decompressed at once.
    for run in replay_both(&trace, &["-j", "8"], 256.0) {
        // Every frame is decoded: its one record, then the zeros are damage.
        assert_eq!(
            run.stderr.matches("claims length 0").count(),
            32,
            "{}",
            run.stderr
        );
    }
    let info = info_within(&trace, &[], 256.0);
    assert_eq!(info["records_total"], 32, "{info:#}");
    // A budget too small for one such frame skips the frames, saying why; with every frame
    // skipped nothing is recovered, and replay says so and exits 1.
    for view in ["records", "events"] {
        let args = [
            "replay",
            trace.to_str().unwrap(),
            "--view",
            view,
            "-j",
            "8",
            "--max-memory",
            "64",
        ];
        let run = measured(&args);
        eprintln!("{args:?}: peak RSS {:.1} MiB", run.peak_mib);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {}", run.stderr);
        assert!(run.peak_mib <= 64.0, "{args:?}: {:.1} MiB", run.peak_mib);
        run.warns("over the frame limit of the memory budget")
            .warns("nothing was recovered");
    }
    let info = info_within(&trace, &["--max-memory", "64"], 64.0);
    assert!(
        damage(&info)
            .iter()
            .any(|d| d.contains("over the frame limit")),
        "{info:#}"
    );
}

#[test]
fn same_timestamp_flood_overflows_the_reorder_stage_in_order() {
    let trace = hostile("same-timestamp.kz");
    let [records, events] = replay_both(&trace, &[], 256.0);
    for run in [&records, &events] {
        run.warns("records left the reorder stage before their 250 ms window closed")
            .warns("still in timestamp order");
    }
    // Nothing is lost: every fork is an event.
    assert_eq!(events.json_lines(), 1 << 20);
    let [_, small] = replay_both(&trace, &["--max-memory", "64"], 64.0);
    assert_eq!(small.json_lines(), 1 << 20);
    // Released early, in order: the output does not depend on the thread count.
    let j1 = measured(&[
        "replay",
        trace.to_str().unwrap(),
        "--view",
        "events",
        "-o",
        "json-min",
        "-j",
        "1",
    ]);
    j1.ok_within(256.0, "replay -j 1");
    assert!(
        std::fs::read(&j1.stdout).unwrap() == std::fs::read(&events.stdout).unwrap(),
        "-j 1 and the default thread count give different output"
    );
    info_within(&trace, &[], 256.0);
}

#[test]
fn millions_of_bad_blocks_are_summarised() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("bad-blocks.kz");
    std::fs::write(&trace, gen::bad_blocks(2_000_000)).unwrap();
    let runs = replay_both(&trace, &[], 256.0);
    // The intact frame after the noise is recovered: the events view shows its fork.
    let forks = BufReader::new(File::open(&runs[1].stdout).unwrap())
        .lines()
        .filter(|l| l.as_ref().unwrap().contains("\"process_fork\""))
        .count();
    assert_eq!(forks, 1, "the frame after 2 million bad blocks");
    for run in runs {
        run.warns("2000000 in all");
        assert!(
            run.stderr.lines().count() < 100,
            "{} warning lines",
            run.stderr.lines().count()
        );
    }
    let info = info_within(&trace, &[], 256.0);
    let listed = damage(&info);
    assert!(listed.len() < 100, "{} damage lines", listed.len());
    assert!(
        listed.iter().any(|d| d.contains(
            "1999936 more damage of this kind (bad payload checksum) not listed: 2000000 in all"
        )),
        "{listed:#?}"
    );
}

#[test]
fn impossible_timestamps_are_reported_never_wrapped() {
    let trace = hostile("far-timestamps.kz");
    let [_, events] = replay_both(&trace, &[], 256.0);
    events.warns("2 records are stamped more than a day away from every clock sample");
    let start_us = gen::START_REALTIME_NS / 1000;
    for line in BufReader::new(File::open(&events.stdout).unwrap()).lines() {
        let v: Value = serde_json::from_str(&line.unwrap()).unwrap();
        let ts = v["timestamp"].as_i64().expect("an integer timestamp");
        assert!(ts >= start_us, "a time before the recording started: {v}");
    }
    let info = info_within(&trace, &[], 256.0);
    assert_eq!(
        info["first_event"], "2026-11-21T00:00:00.000001Z",
        "{info:#}"
    );
    assert_eq!(
        info["last_event"], "2026-11-21T00:00:00.000001Z",
        "{info:#}"
    );
    assert_eq!(info["duration_s"], 0.0);
    assert!(
        damage(&info)
            .iter()
            .any(|d| d.contains("2 records are stamped more than a day away")),
        "{info:#}"
    );
}

#[test]
fn max_memory_is_checked() {
    let trace = hostile("far-timestamps.kz");
    for bad in ["0", "31", "x"] {
        let out = kellect()
            .args(["replay", trace.to_str().unwrap(), "--max-memory", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "--max-memory {bad}");
    }
}

#[test]
fn full_state_tables_export_early_and_say_so() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("many-processes.kz");
    // 20 000 processes that never exit: past the 8 Ki entries of a 64 MiB budget, within
    // the 32 Ki of the default.
    std::fs::write(&trace, gen::many_processes(20_000)).unwrap();
    let [records, events] = replay_both(&trace, &["--max-memory", "64"], 64.0);
    records.warns("exported early (InfoExport \"table-full\")");
    records.warns("hold at most 8192 entries each");
    assert!(!events.stderr.contains("table-full"), "{}", events.stderr);
    // Within the default budget nothing leaves early.
    let [records, _] = replay_both(&trace, &[], 256.0);
    assert!(!records.stderr.contains("table-full"), "{}", records.stderr);
}

/// A normal recording with small frames (`--frame-size 32` KiB) and with the largest
/// (32768 KiB): replay's peak RSS is printed, a measurement rather than a limit.
#[cfg(feature = "record")]
#[test]
fn peak_rss_of_replaying_a_normal_recording_is_reported() {
    if !super::live::live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for frame_kib in ["32", "32768"] {
        let trace = dir.path().join(format!("frames-{frame_kib}.kz"));
        let out = kellect()
            .args(["record", "-q", "-o", trace.to_str().unwrap()])
            .args(["--frame-size", frame_kib, "--duration", "10s", "--"])
            // A bounded workload (some 230,000 records): a loop for a fixed time made a
            // trace as large as the machine was fast (2 M records and 5 GB of output on a
            // fast day, which the unoptimized test build took most of an hour to read).
            .args([
                "sh",
                "-c",
                "for i in $(seq 30); do find /usr -maxdepth 3 >/dev/null; done",
            ])
            .output()
            .expect("running kellect record");
        assert!(trace.exists(), "{}", String::from_utf8_lossy(&out.stderr));
        eprintln!("a recording of 30 rounds of find with --frame-size {frame_kib} KiB:");
        for run in replay_both(&trace, &[], f64::INFINITY) {
            assert!(run.json_lines() > 0);
        }
    }
}

#[test]
fn a_million_processes_are_forgotten_within_the_budget() {
    use kellect::replayer::state::{FACTS_BYTES, PROC_BYTES};
    let forgotten = "processes were forgotten to stay within memory: later events of them show \
                     what is known";
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("many-processes.kz");
    // 2^20 processes that never exit, from one parent: each costs PROC_BYTES, and 1/16 of
    // the default budget holds the latest of them. The events view keeps no parent that
    // only forks; the records view keeps it, with every process's facts (FACTS_BYTES more
    // each: these have no exec, so no path or arguments).
    std::fs::write(&trace, gen::many_processes(1 << 20)).unwrap();
    let held = (256 << 20) / 16 / PROC_BYTES;
    let held_with_facts = (256 << 20) / 16 / (PROC_BYTES + FACTS_BYTES) - 1;
    let [records, events] = replay_both(&trace, &[], 256.0);
    for (run, held) in [(&records, held_with_facts), (&events, held)] {
        run.warns(&format!("{} {forgotten}", (1 << 20) - held));
        assert_eq!(run.stderr.matches(forgotten).count(), 1, "{}", run.stderr);
    }
    // Nothing is lost: every fork is an event.
    assert_eq!(events.json_lines(), 1 << 20);
    info_within(&trace, &[], 256.0);

    // A smaller budget, a smaller trace: 100 000 processes in 64 MiB.
    std::fs::write(&trace, gen::many_processes(100_000)).unwrap();
    let [_, small] = replay_both(&trace, &["--max-memory", "64"], 64.0);
    small.warns(&format!(
        "{} {forgotten}",
        100_000 - (64 << 20) / 16 / PROC_BYTES
    ));
    info_within(&trace, &["--max-memory", "64"], 64.0);
    // Forgetting invents nothing: with room for every process the events are the same.
    let roomy = measured(&[
        "replay",
        trace.to_str().unwrap(),
        "--view",
        "events",
        "-o",
        "json-min",
        "--max-memory",
        "1024",
    ]);
    roomy.ok_within(1024.0, "replay --view events --max-memory 1024");
    assert!(!roomy.stderr.contains(forgotten), "{}", roomy.stderr);
    assert!(
        std::fs::read(&small.stdout).unwrap() == std::fs::read(&roomy.stdout).unwrap(),
        "the events of forgotten processes differ from those of held ones"
    );
}

/// 400,000 compact syscall records of as many threads, one per 1/65,536 s: replay's table
/// of facts fills and, from then on, each record finds its oldest entry just a second old.
/// The table must not be swept whole for every record (this trace took 77 s in a release
/// build, over 300 s in a debug one; 11 s in a debug build since): replay stays linear,
/// bounded and the same at -j 1 and -j 2.
#[test]
fn a_flood_of_compact_records_is_replayed_in_linear_time() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("compact-flood.kz");
    std::fs::write(&trace, gen::compact_flood(400_000)).unwrap();
    let mut outputs = Vec::new();
    for jobs in ["1", "2"] {
        let start = std::time::Instant::now();
        let path = trace.to_str().unwrap();
        let args = ["replay", path, "--view", "events"];
        let args = [&args[..], &["-o", "json-min", "-j", jobs]].concat();
        let run = measured(&args);
        let took = start.elapsed();
        run.ok_within(256.0, &format!("replay -j {jobs}"));
        assert!(took.as_secs() < 180, "replay -j {jobs} took {took:?}");
        assert_eq!(run.json_lines(), 400_000);
        assert!(!run.stderr.contains("without"), "{}", run.stderr);
        outputs.push(std::fs::read(&run.stdout).unwrap());
    }
    assert!(outputs[0] == outputs[1], "-j 1 and -j 2 differ");
}

/// A slice writes a compact record whole only when replay filled in all it left out: one
/// referring to records the trace lacks stays as it is, so the slice's replay says again
/// what it could not fill in rather than showing an empty name and no inode as recorded.
#[test]
fn a_slice_keeps_what_replay_could_not_fill_in_left_out() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("unresolved.kz");
    std::fs::write(&trace, gen::compact_unresolved()).unwrap();
    let said = [
        "1 syscall records are shown without their task's name",
        "1 syscall records are shown without their fd's inode",
    ];
    let slice = dir.path().join("slice.kz");
    for kz in [&trace, &slice] {
        if kz == &slice {
            run_ok(&[
                "slice",
                trace.to_str().unwrap(),
                "-o",
                slice.to_str().unwrap(),
            ]);
        }
        let run = measured(&["replay", kz.to_str().unwrap(), "--view", "events"]);
        run.ok_within(256.0, "replay");
        for s in said {
            assert!(run.stderr.contains(s), "{}: {}", kz.display(), run.stderr);
        }
    }
}
