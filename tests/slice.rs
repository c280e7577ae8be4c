//! `kellect slice`: a slice replays to exactly the events the same filters show on the
//! original (on a fixture, and live on a recording of a workload whose events depend on
//! state from before the slice), it is a closed trace that verifies, and its output file
//! and arguments get clear errors.

use std::path::Path;

use serde_json::Value;

use crate::util::{fixture, json_lines, run_err, run_ok};

/// `kellect replay TRACE --view events -o json-min FILTERS...`, as parsed lines.
#[track_caller]
fn filtered_events(trace: &Path, filters: &[&str]) -> Vec<Value> {
    let out = run_ok(
        &[
            &[
                "replay",
                trace.to_str().unwrap(),
                "--view",
                "events",
                "-o",
                "json-min",
            ],
            filters,
        ]
        .concat(),
    );
    json_lines(&out.stdout)
}

/// Slices `trace` with `filters` into `out` and checks that the slice replays (no filter)
/// to exactly what the original shows with them; returns those events.
#[track_caller]
fn assert_slice_exact(trace: &Path, out: &Path, filters: &[&str]) -> Vec<Value> {
    let expected = filtered_events(trace, filters);
    assert!(
        !expected.is_empty(),
        "the filters {filters:?} select no event: the test would prove nothing"
    );
    let slice = run_ok(
        &[
            &[
                "slice",
                trace.to_str().unwrap(),
                "-o",
                out.to_str().unwrap(),
                "-f",
            ],
            filters,
        ]
        .concat(),
    );
    let said = String::from_utf8_lossy(&slice.stderr);
    assert!(
        said.contains(&format!("{} events", expected.len())),
        "slice reports the events it keeps: {said}"
    );
    let got = filtered_events(out, &[]);
    for (i, (e, g)) in expected.iter().zip(&got).enumerate() {
        assert_eq!(e, g, "event {i} of the slice with {filters:?} differs");
    }
    assert_eq!(
        expected.len(),
        got.len(),
        "the slice with {filters:?} shows {} events, the original {}",
        got.len(),
        expected.len()
    );
    // Closed and chained: every block verifies.
    run_ok(&["verify", out.to_str().unwrap()]);
    expected
}

fn smaller(out: &Path, original: &Path) {
    let (o, s) = (
        std::fs::metadata(original).unwrap().len(),
        std::fs::metadata(out).unwrap().len(),
    );
    assert!(
        s < o,
        "the slice ({s} bytes) is not smaller than the original ({o})"
    );
}

#[test]
fn a_slice_of_a_fixture_replays_to_the_filtered_events() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture("files.kz");
    let all = filtered_events(&trace, &[]);
    // The process with the most events, and a middle stretch of time.
    let mut counts = std::collections::BTreeMap::<u64, usize>::new();
    for e in &all {
        *counts.entry(e["pid"].as_u64().unwrap()).or_default() += 1;
    }
    let pid = counts
        .iter()
        .max_by_key(|(_, n)| **n)
        .unwrap()
        .0
        .to_string();
    let out = dir.path().join("pid.kz");
    assert_slice_exact(&trace, &out, &["--pid", &pid]);
    smaller(&out, &trace);
    assert_slice_exact(
        &trace,
        &dir.path().join("open.kz"),
        &["--event", "file_open,file_write"],
    );
}

#[test]
fn the_slice_output_is_never_reached_through_a_link_nor_overwritten_without_f() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture("files.kz");
    let t = trace.to_str().unwrap();
    let out = dir.path().join("s.kz");
    let o = out.to_str().unwrap();
    run_ok(&["slice", t, "-o", o, "--event", "process_exec"]);
    let err = run_err(&["slice", t, "-o", o, "--event", "process_exec"], 1);
    assert!(err.contains("already exists (-f replaces it"), "{err}");
    run_ok(&["slice", t, "-o", o, "-f", "--event", "process_exit"]);
    let kept: Vec<Value> = filtered_events(&out, &[]);
    assert!(kept.iter().all(|e| e["event_type"] == "process_exit"));

    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"not to be touched").unwrap();
    let link = dir.path().join("link.kz");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let l = link.to_str().unwrap();
    for force in [&[][..], &["-f"][..]] {
        let err = run_err(&[&["slice", t, "-o", l], force].concat(), 1);
        assert!(err.contains("is a symbolic link"), "{err}");
    }
    assert_eq!(std::fs::read(&victim).unwrap(), b"not to be touched");
    let d = dir.path().to_str().unwrap();
    let err = run_err(&["slice", t, "-o", d, "-f"], 1);
    assert!(err.contains("is a directory"), "{err}");
    // Nothing was left behind: no partial or temporary file.
    let mut names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["link.kz", "s.kz", "victim"]);
}

#[test]
fn a_slice_never_replaces_the_trace_it_is_cut_from() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.kz");
    std::fs::copy(fixture("files.kz"), &trace).unwrap();
    let link = dir.path().join("hard.kz");
    std::fs::hard_link(&trace, &link).unwrap();
    let before = std::fs::read(&trace).unwrap();
    let t = trace.to_str().unwrap();
    for out in [t, link.to_str().unwrap()] {
        let err = run_err(&["slice", t, "-o", out, "-f", "--event", "process_exec"], 1);
        assert!(
            err.contains("a slice never replaces its own input"),
            "{err}"
        );
    }
    assert_eq!(std::fs::read(&trace).unwrap(), before);
}

#[test]
fn slice_errors_name_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let t = fixture("files.kz");
    let t = t.to_str().unwrap();
    let out = dir.path().join("s.kz");
    let o = out.to_str().unwrap();
    let err = run_err(&["slice", t, "-o", o, "--pid", "4000000000"], 1);
    assert!(err.contains("select no event"), "{err}");
    let err = run_err(&["slice", t, "-o", o, "--event", "no_such_event"], 2);
    assert!(err.contains("unknown event type `no_such_event`"), "{err}");
    let err = run_err(&["slice", t, "-o", o, "--since", "yesterday"], 2);
    assert!(err.contains("--since `yesterday`"), "{err}");
    let p = fixture("process.kz");
    let err = run_err(&["slice", t, p.to_str().unwrap(), "-o", o], 1);
    assert!(err.contains("one recording at a time"), "{err}");
    let not_trace = dir.path().join("not.kz");
    std::fs::write(&not_trace, b"plain text, not a trace").unwrap();
    let err = run_err(&["slice", not_trace.to_str().unwrap(), "-o", o], 1);
    assert!(err.contains("not.kz"), "{err}");
    assert!(!out.exists(), "a failed slice leaves no file");
}

/// Microseconds since the epoch as RFC 3339, for --since/--until.
#[cfg(feature = "record")]
fn rfc3339_us(us: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// Live: the events of a process forked in the middle of a recording use state it
/// inherited (working directory, an fd opened by its parent) and state its parent built
/// before the slice starts; the slice must carry all of it.
#[cfg(feature = "record")]
#[test]
fn a_slice_of_a_live_recording_replays_to_the_filtered_events() {
    if !crate::live::live() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let trace = dir.path().join("t.kz");
    let script = format!(
        "cd {}; mkdir sub; cd sub; exec 4>held.txt; echo before > early.txt; \
         sleep 0.3; sh -c 'echo one >&4; cat early.txt > copy.txt; mv copy.txt moved.txt; \
         exec 5<moved.txt; cat <&5 >/dev/null'; sleep 0.3; cat held.txt >/dev/null; \
         sh -c 'exit 3'",
        work.display()
    );
    let out = crate::util::kellect()
        .args([
            "record",
            "-o",
            trace.to_str().unwrap(),
            "--",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("kellect: recorded"), "{stderr}");

    let all = filtered_events(&trace, &[]);
    let child = all
        .iter()
        .find(|e| {
            e["event_type"] == "process_exec"
                && e["ret"] == 0
                && e["argv"][2]
                    .as_str()
                    .is_some_and(|s| s.starts_with("echo one"))
        })
        .expect("the child's exec is recorded");
    let pid = child["pid"].as_u64().unwrap().to_string();
    let sub = format!("{}/sub/", work.display());
    let of_child = assert_slice_exact(&trace, &dir.path().join("pid.kz"), &["--pid", &pid]);
    // The slice needed state from before it: relative names resolved in the inherited
    // cwd, and the write to fd 4 named by the parent's open.
    assert!(
        of_child
            .iter()
            .any(|e| e.to_string().contains(&format!("{sub}moved.txt"))),
        "the child's events name {sub}moved.txt: {of_child:#?}"
    );
    assert!(
        of_child.iter().any(|e| e["event_type"] == "file_write"
            && e.to_string().contains(&format!("{sub}held.txt"))),
        "the write to the inherited fd 4 names held.txt: {of_child:#?}"
    );
    smaller(&dir.path().join("pid.kz"), &trace);

    // A stretch of time: from the child's exec to a bit before the end.
    let t0 = child["timestamp"].as_i64().unwrap();
    let t1 = all[all.len() - 3]["timestamp"].as_i64().unwrap();
    let (since, until) = (rfc3339_us(t0), rfc3339_us(t1));
    assert_slice_exact(
        &trace,
        &dir.path().join("time.kz"),
        &["--since", &since, "--until", &until],
    );
    assert_slice_exact(
        &trace,
        &dir.path().join("cat.kz"),
        &["--comm", "cat", "--event", "file_open,file_read,file_write"],
    );
}
