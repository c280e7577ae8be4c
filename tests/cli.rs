//! Command-line behaviour that needs no privileges: usage errors, unreadable input.

use crate::util::{fixture, run_err};

#[test]
fn usage_errors_exit_2() {
    run_err(&["replay"], 2);
    run_err(&["replay", "--no-such-flag", "x.kz"], 2);
    run_err(&["replay", "-o", "xml", "x.kz"], 2);
    let fx = fixture("process.kz");
    let fx = fx.to_str().unwrap();
    let err = run_err(&["replay", "--event", "process_teleport", fx], 2);
    assert!(
        err.contains("unknown event type `process_teleport`"),
        "{err}"
    );
    let err = run_err(&["replay", "-j", "0", fx], 2);
    assert!(err.contains("--threads"), "{err}");
    let err = run_err(&["record", "-o", "/tmp/x.kz", "--duration", "soon"], 2);
    assert!(err.contains("not a duration"), "{err}");
}

#[cfg(feature = "record")]
#[test]
fn record_usage_errors_exit_2() {
    let err = run_err(&["record", "-o", "/tmp/x.kz", "-a"], 2);
    assert!(err.contains("goes with a command"), "{err}");
    let err = run_err(&["record", "-o", "/tmp/x.kz", "--ring-size", "3"], 2);
    assert!(err.contains("power of two"), "{err}");
}

#[cfg(not(feature = "record"))]
#[test]
fn replay_only_build_says_it_cannot_record() {
    let err = run_err(&["record", "-o", "/tmp/x.kz"], 1);
    assert!(err.contains("built without the recorder"), "{err}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let err = run_err(&["replay", "/nonexistent/trace.kz"], 1);
    assert!(err.contains("cannot open /nonexistent/trace.kz"), "{err}");
    let err = run_err(&["info", "/nonexistent/trace.kz"], 1);
    assert!(err.contains("cannot open /nonexistent/trace.kz"), "{err}");
}

#[test]
fn a_file_that_is_not_a_trace_is_a_clear_error() {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let err = run_err(&["replay", manifest], 1);
    assert!(err.contains("is not a readable kellect trace"), "{err}");
    assert!(err.contains("magic"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.kz");
    std::fs::write(&empty, b"").unwrap();
    let err = run_err(&["info", empty.to_str().unwrap()], 1);
    assert!(err.contains("is not a readable kellect trace"), "{err}");
}
