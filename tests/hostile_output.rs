//! Hostile names in the output: a trace comes from a host that may be compromised, and its
//! file names, arguments and process names reach the analyst's terminal. The table view
//! escapes every control character (one row per record, always) and NDJSON stays valid.
//! Live (root): real files with hostile names, recorded and replayed. Without root: the
//! records fixture (a multi-line `sh -c` script in its argv), and arbitrary bytes fed to
//! every decoder of the replay side (no panic).

use serde_json::Value;

use crate::util::{fixture, json_lines, run_ok};

/// Requires that `table` is safe for a terminal: UTF-8, no C0 control but the newline
/// ending each row, no DEL, no C1 control. Returns its rows (header included).
#[track_caller]
fn assert_terminal_safe(table: &[u8], what: &str) -> Vec<String> {
    for (i, &b) in table.iter().enumerate() {
        assert!(
            (b >= 0x20 || b == b'\n') && b != 0x7f,
            "{what}: byte {b:#04x} at {i} reached the table:\n{}",
            String::from_utf8_lossy(table)
        );
    }
    let text = std::str::from_utf8(table)
        .unwrap_or_else(|e| panic!("{what}: the table is not UTF-8: {e}"));
    if let Some(c) = text.chars().find(|c| ('\u{80}'..='\u{9f}').contains(c)) {
        panic!("{what}: C1 control {c:?} reached the table:\n{text}");
    }
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "{what}: the last row is not ended"
    );
    text.lines().map(str::to_owned).collect()
}

/// `kellect replay TRACE [--view VIEW] -o FORMAT`: its stdout.
#[track_caller]
fn replay(trace: &std::path::Path, view: &str, format: &str) -> Vec<u8> {
    run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "--view",
        view,
        "-o",
        format,
    ])
    .stdout
}

/// Requires one table row per JSON record (plus the header) of the same replay.
#[track_caller]
fn assert_rows_match_records(rows: &[String], records: &[Value], what: &str) {
    assert!(!records.is_empty(), "{what}: nothing replayed");
    assert!(
        rows[0].starts_with("TIME(UTC)"),
        "{what}: no header: {}",
        rows[0]
    );
    assert_eq!(
        rows.len() - 1,
        records.len(),
        "{what}: table rows against JSON records\n{}",
        rows.join("\n")
    );
}

#[test]
fn fixture_table_has_one_row_per_record() {
    let trace = fixture("records.kz");
    for view in ["records", "events"] {
        let what = format!("fixtures/records.kz --view {view}");
        let rows = assert_terminal_safe(&replay(&trace, view, "table"), &what);
        let records = json_lines(&replay(&trace, view, "json-min"));
        assert_rows_match_records(&rows, &records, &what);
    }
    // The shell's script argument has newlines: one row, escaped.
    let rows = assert_terminal_safe(&replay(&trace, "records", "table"), "records view");
    let sh = rows
        .iter()
        .find(|r| r.contains(" exit=0 sh -c "))
        .expect("the exit record of sh -c");
    assert!(sh.contains("sh -c \\nset -e\\ndig @127.0.0.1"), "{sh}");
}

#[cfg(feature = "record")]
mod live {
    use std::path::Path;

    use serde_json::Value;

    use super::{assert_rows_match_records, assert_terminal_safe, replay};
    use crate::live::live;
    use crate::util::{json_lines, kellect};

    /// The hostile names: (the name's bytes, how the table shows them).
    const NAMES: [(&[u8], &str); 8] = [
        (b"clear\x1b[2J", "clear\\x1b[2J"),
        (b"title\x1b]0;pwned\x07", "title\\x1b]0;pwned\\x07"),
        (b"forged\nrow", "forged\\nrow"),
        (b"tab\there", "tab\\there"),
        (b"del\x7fete", "del\\x7fete"),
        // U+009B (CSI as one C1 character), encoded in UTF-8.
        (b"c1\xc2\x9b31m", "c1\\u{9b}31m"),
        // A lone 0x9b is not UTF-8: it shows as U+FFFD (decode::text), never raw.
        (b"raw\x9bbyte", "raw\u{fffd}byte"),
        (b"back\\slash", "back\\\\slash"),
    ];

    /// Creates, renames and removes a file of each name in DIR, binds a unix socket with a
    /// hostile name, runs a command with hostile arguments, and does it all under a hostile
    /// process name.
    const WORKLOAD: &str = r#"
import os, socket, subprocess, sys
d = os.fsencode(sys.argv[1])
names = [bytes.fromhex(h) for h in sys.argv[2:]]
with open("/proc/self/comm", "wb") as comm:
    comm.write(b"py\x1b[2J\x7f\xc2\x9b")
for name in names:
    path = os.path.join(d, name)
    with open(path, "wb") as f:
        f.write(b"x")
    os.rename(path, path + b".2")
    os.unlink(path + b".2")
sock_path = os.path.join(d, b"sock\x1b]0;pwned\x07")
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sock_path)
s.sendto(b"hello", sock_path)
s.close()
os.unlink(sock_path)
subprocess.run([b"/bin/true", b"arg\x1b[2J\nforged row", b"\x7f\xc2\x9b"], check=True)
"#;

    fn workload_args(dir: &Path) -> Vec<String> {
        let mut args = vec![
            "python3".to_owned(),
            "-c".to_owned(),
            WORKLOAD.to_owned(),
            dir.to_str().unwrap().to_owned(),
        ];
        args.extend(
            NAMES
                .iter()
                .map(|(name, _)| name.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        );
        args
    }

    /// What each view's table must show, escaped.
    #[track_caller]
    fn assert_names_shown(rows: &[String], view: &str) {
        let table = rows.join("\n");
        for (_, shown) in NAMES {
            assert!(
                table.contains(shown),
                "--view {view}: no {shown:?} in\n{table}"
            );
        }
        assert!(
            table.contains("py\\x1b[2J\\x7f\\u{9b}"),
            "{view}: comm\n{table}"
        );
        assert!(
            table.contains("arg\\x1b[2J\\nforged row"),
            "{view}: argv\n{table}"
        );
        if view == "events" {
            assert!(table.contains("sock\\x1b]0;pwned\\x07"), "socket\n{table}");
        }
    }

    /// The JSON keeps the names exactly (invalid UTF-8 aside).
    #[track_caller]
    fn assert_names_in_json(records: &[Value], view: &str) {
        let json = records
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        for (name, _) in NAMES {
            let name = String::from_utf8_lossy(name);
            let encoded = serde_json::to_string(&*name).unwrap();
            let encoded = encoded.trim_matches('"');
            assert!(
                json.contains(encoded),
                "--view {view}: no {encoded} in JSON"
            );
        }
    }

    #[test]
    fn hostile_names_are_escaped_in_the_table_and_exact_in_json() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir(&files).unwrap();
        let trace = dir.path().join("t.kz");
        let out = kellect()
            .args(["record", "-o", trace.to_str().unwrap(), "--"])
            .args(workload_args(&files))
            .output()
            .expect("running kellect record");
        assert!(
            out.status.success(),
            "kellect record failed\nstderr:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );

        for view in ["records", "events"] {
            let what = format!("replay --view {view} -o table");
            let rows = assert_terminal_safe(&replay(&trace, view, "table"), &what);
            // Every line of NDJSON is valid JSON (json_lines parses each).
            let records = json_lines(&replay(&trace, view, "json-min"));
            assert_rows_match_records(&rows, &records, &what);
            assert_names_shown(&rows, view);
            assert_names_in_json(&records, view);
        }
    }

    #[test]
    fn live_table_is_escaped_too() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let files = dir.path().join("files");
        std::fs::create_dir(&files).unwrap();
        for view in ["records", "events"] {
            let trace = dir.path().join(format!("{view}.kz"));
            let out = kellect()
                .args(["live", "--view", view, "-o", "table", "-w"])
                .arg(&trace)
                .arg("--")
                .args(workload_args(&files))
                .output()
                .expect("running kellect live");
            assert!(
                out.status.success(),
                "kellect live failed\nstderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let what = format!("live --view {view} -o table");
            let rows = assert_terminal_safe(&out.stdout, &what);
            let records = json_lines(&replay(&trace, view, "json-min"));
            assert_rows_match_records(&rows, &records, &what);
            assert_names_shown(&rows, view);
        }
    }
}
