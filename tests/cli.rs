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

#[test]
fn collector_addresses_no_record_can_reach_are_usage_errors() {
    // Each was taken, then every record counted as "not delivered" at the end.
    let fx = fixture("uring.kz");
    let fx = fx.to_str().unwrap();
    for (flag, bad, says) in [
        ("--syslog-tcp", "127.0.0.1:0", "port 0"),
        ("--syslog-tcp", "0.0.0.0:514", "names no host"),
        ("--syslog-tcp", "[::]:514", "names no host"),
        ("--syslog-tcp", "224.0.0.1:514", "multicast"),
        ("--syslog-tcp", "255.255.255.255:514", "broadcast"),
        ("--syslog-tcp", "localhost:514", "is not IP:PORT"),
        ("-u", "[::1]:0", "port 0"),
        ("-u", "255.255.255.255:514", "broadcast"),
    ] {
        let err = run_err(&["replay", "-q", flag, bad, fx], 2);
        assert!(
            err.contains(&format!("{flag} `{bad}`")) && err.contains(says),
            "{flag} {bad}: {err}"
        );
    }
}

#[cfg(feature = "record")]
#[test]
fn record_usage_errors_exit_2() {
    let err = run_err(&["record", "-o", "/tmp/x.kz", "-a"], 2);
    assert!(err.contains("goes with a command"), "{err}");
    let err = run_err(&["record", "-o", "/tmp/x.kz", "--ring-size", "3"], 2);
    assert!(err.contains("power of two"), "{err}");
    // Packet counters are of sockets: without the network group there are none.
    let err = run_err(&["record", "-o", "/tmp/x.kz", "-e", "file,packets"], 2);
    assert!(err.contains("goes with -e network"), "{err}");
    let err = run_err(&["record", "-o", "/tmp/x.kz", "-e", "bogus"], 2);
    assert!(err.contains("system, packets)"), "{err}");
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

/// `info` writes the recorded command as a shell would read it: fixtures/process.kz was
/// recorded with `sh -c '/bin/true; /bin/true; sh -c "exit 7"'`, one argument with spaces.
#[test]
fn info_quotes_the_recorded_command() {
    let trace = fixture("process.kz");
    let out = crate::util::run_ok(&["info", trace.to_str().unwrap()]);
    let out = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.contains("command     sh -c '/bin/true; /bin/true; sh -c \"exit 7\"'\n"),
        "{out}"
    );
}

/// Writes `text` as `kellect.toml` in a new directory (kept alive by the returned guard).
fn config_file(text: &str) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kellect.toml");
    std::fs::write(&path, text).unwrap();
    let path = path.to_str().unwrap().to_owned();
    (dir, path)
}

#[test]
fn a_config_file_with_an_unknown_key_names_the_key_and_its_line() {
    let (_dir, path) = config_file("# the trace\noutput = \"/tmp/x.kz\"\nrotate-sise = 64\n");
    let err = run_err(&["record", "--config", &path], 2);
    assert!(
        err.contains(&format!(
            "in the configuration file {path}, line 3 (`rotate-sise`)"
        )),
        "{err}"
    );
    assert!(err.contains("unknown field `rotate-sise`"), "{err}");
    // `record`'s keys are not all `live`'s: the file is read for the command given.
    let (_dir, path) = config_file("keep = 3\n");
    let err = run_err(&["live", "--config", &path], 2);
    assert!(
        err.contains("line 1 (`keep`): unknown field `keep`"),
        "{err}"
    );
}

#[test]
fn a_config_value_of_the_wrong_type_names_the_key() {
    let (_dir, path) = config_file("output = \"/tmp/x.kz\"\nkeep = \"eight\"\n");
    let err = run_err(&["record", "--config", &path], 2);
    assert!(
        err.contains("line 2 (`keep`): invalid type: string \"eight\", expected u32"),
        "{err}"
    );
    let (_dir, path) = config_file("events = \"file\"\n");
    let err = run_err(&["live", "--config", &path], 2);
    assert!(err.contains("(`events`): invalid type"), "{err}");
    let (_dir, path) = config_file("rotate-time = \"1 fortnight\"\n");
    let err = run_err(&["record", "--config", &path], 2);
    assert!(err.contains("(`rotate-time`)"), "{err}");
}

#[test]
fn a_missing_or_oversized_config_file_is_a_usage_error() {
    let err = run_err(
        &[
            "record",
            "--config",
            "/nonexistent/kellect.toml",
            "-o",
            "/tmp/x.kz",
        ],
        2,
    );
    assert!(
        err.contains("cannot read the configuration file /nonexistent/kellect.toml"),
        "{err}"
    );
    let (_dir, path) = config_file(&"# padding\n".repeat(200_000));
    let err = run_err(&["record", "--config", &path], 2);
    assert!(err.contains("is larger than 1024 KiB"), "{err}");
}

/// Values from the file go through the same checks as the command line's, and a value given
/// on the command line wins over the file's. (Each case ends in a usage error: nothing is
/// recorded, no privileges needed.)
#[cfg(feature = "record")]
#[test]
fn config_values_are_checked_and_the_command_line_wins() {
    let (_dir, path) = config_file("output = \"/tmp/x.kz\"\nring-size = 3\nframe-size = 0\n");
    let err = run_err(&["record", "--config", &path], 2);
    assert!(
        err.contains("--ring-size must be a power of two between 1 and 2048 MiB, not 3"),
        "{err}"
    );
    // The command line's ring size is taken: the next check, the file's frame size, fails.
    let err = run_err(&["record", "--config", &path, "--ring-size", "8"], 2);
    assert!(
        err.contains("--frame-size must be between 1 and 32768 KiB, not 0"),
        "{err}"
    );
    let (_dir, path) = config_file("output = \"/tmp/x.kz\"\nring-size = 8\n");
    let err = run_err(&["record", "--config", &path, "--ring-size", "3"], 2);
    assert!(err.contains("not 3"), "{err}");
    // Ranges that clap no longer checks are checked for both.
    let (_dir, path) = config_file("output = \"/tmp/x.kz\"\nkeep = 0\n");
    let err = run_err(&["record", "--config", &path], 2);
    assert!(err.contains("--keep must be at least 1"), "{err}");
    let err = run_err(
        &["record", "-o", "/tmp/x.kz", "--compression-level", "20"],
        2,
    );
    assert!(
        err.contains("--compression-level must be between 1 and 19"),
        "{err}"
    );
    let err = run_err(&["record", "-o", "/tmp/x.kz", "--payload-size", "2048"], 2);
    assert!(
        err.contains("--payload-size must be between 0 and 2047"),
        "{err}"
    );
    // -o is required from one of the two.
    let err = run_err(&["record", "--duration", "1s"], 2);
    assert!(err.contains("-o/--output FILE is required"), "{err}");
    // live: the output keys too, and the rule that --command-output needs a command.
    let (_dir, path) =
        config_file("output = \"json-min\"\nview = \"records\"\nevent = [\"file_open\"]\n");
    let err = run_err(&["live", "--config", &path], 2);
    assert!(err.contains("use it with --view events"), "{err}");
    let (_dir, path) = config_file("command-output = \"/tmp/out\"\n");
    let err = run_err(&["live", "--config", &path], 2);
    assert!(
        err.contains("--command-output goes with a command"),
        "{err}"
    );
}

/// The configuration file the packages install: comments around `output`, `rotate-size`
/// and `keep`. It parses; the values reach the checks (a bad `--compression-level` on the
/// command line is then the only complaint).
#[cfg(feature = "record")]
#[test]
fn the_packaged_config_file_parses() {
    // packaging/kellect.toml as shipped, and with every documented key uncommented: each
    // must parse (the error is then the command line's, checked after the file).
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/kellect.toml"
    ))
    .unwrap();
    /// A line that sets a key: `name = value`, the name lowercase with dashes.
    fn sets_a_key(line: &str) -> bool {
        line.split_once(" = ").is_some_and(|(k, _)| {
            let k = k.trim_end();
            !k.is_empty() && k.chars().all(|c| c.is_ascii_lowercase() || c == '-')
        })
    }
    let key = sets_a_key;
    let uncommented: String = shipped
        .lines()
        .map(|l| match l.strip_prefix("# ").filter(|rest| key(rest)) {
            Some(rest) => format!("{rest}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    assert!(
        uncommented.lines().filter(|l| key(l)).count() > 10,
        "{uncommented}"
    );
    for text in [shipped.as_str(), uncommented.as_str()] {
        let (_dir, path) = config_file(text);
        let err = run_err(
            &["record", "--config", &path, "--compression-level", "0"],
            2,
        );
        assert!(
            err.contains("--compression-level must be between 1 and 19, not 0"),
            "{err}\n{text}"
        );
    }
}
