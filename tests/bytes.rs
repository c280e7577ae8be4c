//! Names and arguments that are not UTF-8 (issue 9, input 9): tests/workloads/bytes.c sets
//! its comm, names files and a UNIX socket, and passes exec arguments with bytes that are
//! not UTF-8. Both views keep the exact bytes: the text with `\xNN` escapes and a sibling
//! key (`path_bytes`, `FileBytes`, ...) with the bytes in hex (src/replayer/bytes.rs). A
//! live recording (root), and fixtures/bytes.kz replayed without root (tests/fixtures.rs).

use serde_json::{Map, Value};

/// The bytes of a string the JSON rule wrote: `\xNN` is the byte 0xNN, `\\` a backslash,
/// anything else its UTF-8. Only for a string that has a sibling key.
#[track_caller]
pub fn unescape(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
            continue;
        }
        match chars.next() {
            Some('\\') => out.push(b'\\'),
            Some('x') => {
                let hex: String = chars.by_ref().take(2).collect();
                out.push(u8::from_str_radix(&hex, 16).unwrap_or_else(|_| panic!("{text}")));
            }
            other => panic!("{text}: a backslash before {other:?}"),
        }
    }
    out
}

/// Hex digits as bytes.
#[track_caller]
pub fn unhex(hex: &str) -> Vec<u8> {
    assert!(hex.len().is_multiple_of(2), "{hex}");
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_else(|_| panic!("{hex}")))
        .collect()
}

/// The sibling key of `key` (`<key>_bytes` after a lowercase first letter, else `<key>Bytes`).
fn sibling(key: &str) -> String {
    match key.chars().find(|c| c.is_alphabetic()) {
        Some(c) if c.is_lowercase() => format!("{key}_bytes"),
        _ => format!("{key}Bytes"),
    }
}

/// Checks every sibling key of `v` (recursively): the escaped text decodes to the bytes the
/// sibling holds, and those bytes are not UTF-8 (a valid string has no sibling). Returns
/// how many strings carried bytes.
#[track_caller]
pub fn check_siblings(v: &Value) -> usize {
    let mut n = 0;
    match v {
        Value::Object(map) => {
            for (k, item) in map {
                n += check_siblings(item);
                let Some(bytes) = map.get(&sibling(k)) else {
                    continue;
                };
                n += check_pair(item, bytes, k);
            }
        }
        Value::Array(items) => n += items.iter().map(check_siblings).sum::<usize>(),
        _ => {}
    }
    n
}

/// One value and its sibling: a string and its hex, or arrays of them (null: valid UTF-8).
#[track_caller]
fn check_pair(text: &Value, bytes: &Value, key: &str) -> usize {
    match (text, bytes) {
        (Value::String(t), Value::String(b)) => {
            let raw = unhex(b);
            assert_eq!(unescape(t), raw, "{key}: {t} vs {b}");
            assert!(std::str::from_utf8(&raw).is_err(), "{key}: {t} is UTF-8");
            1
        }
        (Value::String(_), Value::Null) => 0,
        (Value::Array(t), Value::Array(b)) => {
            assert_eq!(t.len(), b.len(), "{key}");
            t.iter().zip(b).map(|(t, b)| check_pair(t, b, key)).sum()
        }
        other => panic!("{key}: no sibling shape for {other:?}"),
    }
}

/// The exact bytes of `obj[key]`: its sibling's when it has one, else its UTF-8.
#[track_caller]
pub fn raw(obj: &Map<String, Value>, key: &str) -> Vec<u8> {
    match obj.get(&sibling(key)) {
        Some(Value::String(hex)) => unhex(hex),
        _ => obj
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("no {key} in {obj:?}"))
            .as_bytes()
            .to_vec(),
    }
}

/// The exact bytes of each element of the array `obj[key]`.
#[track_caller]
pub fn raw_list(obj: &Map<String, Value>, key: &str) -> Vec<Vec<u8>> {
    let items = obj[key].as_array().unwrap();
    let hex = obj.get(&sibling(key)).and_then(Value::as_array);
    items
        .iter()
        .enumerate()
        .map(|(i, t)| match hex.and_then(|h| h[i].as_str()) {
            Some(h) => unhex(h),
            None => t.as_str().unwrap().as_bytes().to_vec(),
        })
        .collect()
}

fn cat(a: &[u8], b: &[u8]) -> Vec<u8> {
    [a, b].concat()
}

/// What the workload did, as both views of its recording show it; `dir` is its scratch
/// directory (`./bytes DIR`), `table` the records view as `-o table`.
#[track_caller]
pub fn check_views(events: &[Value], records: &[Value], table: &str, dir: &[u8]) {
    let comm: &[u8] = b"by\xfe\xff";
    let path = |name: &[u8]| cat(&cat(dir, b"/"), name);
    let objs = |vs: &[Value]| -> Vec<Map<String, Value>> {
        vs.iter().map(|v| v.as_object().unwrap().clone()).collect()
    };
    let evs = objs(events);
    let recs = objs(records);
    let carried: usize = events.iter().chain(records).map(check_siblings).sum();
    assert!(carried > 20, "{carried} strings carried bytes");

    // Events view.
    let of = |t: &str| -> Vec<&Map<String, Value>> {
        evs.iter().filter(|e| e["event_type"] == t).collect()
    };
    let prctl = of("process_prctl");
    assert!(
        prctl
            .iter()
            .any(|e| raw(e, "name") == comm && raw(e, "comm") == comm),
        "{prctl:?}"
    );
    let creates: Vec<Vec<u8>> = of("file_create").iter().map(|e| raw(e, "path")).collect();
    for name in [&b"f\xff"[..], b"h\x80", b"lit\\xff"] {
        assert!(creates.contains(&path(name)), "{name:?} in {creates:?}");
    }
    let lit = of("file_create")
        .into_iter()
        .find(|e| raw(e, "path") == path(b"lit\\xff"))
        .unwrap();
    assert!(
        !lit.contains_key("path_bytes"),
        "a valid name has no sibling"
    );
    assert!(of("file_write")
        .iter()
        .any(|e| raw(e, "path") == path(b"f\xff") && e["bytes"] == 3 && raw(e, "comm") == comm));
    assert!(of("file_rename")
        .iter()
        .any(|e| raw(e, "oldpath") == path(b"f\xff") && raw(e, "newpath") == path(b"g\xc3\x28")));
    let deletes: Vec<Vec<u8>> = of("file_delete").iter().map(|e| raw(e, "path")).collect();
    for name in [&b"g\xc3\x28"[..], b"h\x80", b"lit\\xff", b"s\xff"] {
        assert!(deletes.contains(&path(name)), "{name:?} in {deletes:?}");
    }
    for t in ["net_bind", "net_connect"] {
        assert!(
            of(t).iter().any(|e| raw(e, "path") == path(b"s\xff")),
            "{t}"
        );
    }
    let mut want_argv: Vec<Vec<u8>> = vec![
        b"echo".to_vec(),
        b"a\xff\xfeb".to_vec(),
        b"\xc3\x28".to_vec(),
    ];
    want_argv.extend((3..16).map(|i| i.to_string().into_bytes()));
    let exec = of("process_exec")
        .into_iter()
        .find(|e| e["filename"] == "/bin/echo")
        .expect("the exec of /bin/echo");
    assert_eq!(raw_list(exec, "argv"), want_argv);
    assert_eq!(exec["argc"], 20);
    assert_eq!(exec["argv_truncated"], true);

    // Records view.
    let files: Vec<&Map<String, Value>> = recs
        .iter()
        .filter(|r| r["InfoMonitor"] == "filesystem" && raw(r, "FilePath") == path(b""))
        .collect();
    let named = |name: &[u8]| -> Vec<&Map<String, Value>> {
        files
            .iter()
            .copied()
            .filter(|r| raw(r, "File") == name)
            .collect()
    };
    let f = named(b"f\xff");
    assert!(
        f.iter()
            .any(|r| r["FileSize"] == 3 && raw(r, "Proc") == comm),
        "{f:?}"
    );
    let g = named(b"g\xc3\x28");
    assert!(g
        .iter()
        .any(|r| r.get("FileOrigin").is_some() && raw(r, "FileOrigin") == path(b"f\xff")));
    assert!(g.iter().any(|r| r["InfoExport"] == "delete"));
    assert!(!named(b"h\x80").is_empty());
    assert!(named(b"lit\\xff")
        .iter()
        .all(|r| !r.contains_key("FileBytes")));
    assert!(!named(b"lit\\xff").is_empty());
    assert!(recs
        .iter()
        .any(|r| r.get("SockAddress").is_some() && raw(r, "SockAddress") == path(b"s\xff")));
    let echo = recs
        .iter()
        .find(|r| r["InfoMonitor"] == "process" && r["Proc"] == "echo")
        .expect("echo's process record");
    assert_eq!(raw_list(echo, "ProcArgv"), want_argv);
    assert_eq!(echo["ProcArgc"], 20);
    assert_eq!(echo["ProcArgvTruncated"], true);
    assert_eq!(raw(echo, "ProcParent"), comm);

    // The table: every field escaped (a backslash as `\\`), the bytes as `\xNN`.
    let dir_text = String::from_utf8(dir.to_vec()).expect("a UTF-8 scratch directory");
    for name in ["f\\xff", "g\\xc3(", "h\\x80", "lit\\\\xff"] {
        assert!(
            table.contains(&format!("{dir_text}/{name} ")),
            "{name} in\n{table}"
        );
    }
    assert!(table.contains(" by\\xfe\\xff "), "{table}");
}

/// `--comm` and `--path` globs match names as the output shows them: `\xNN` for a byte
/// that is not UTF-8 (a glob escapes a backslash as `\\`), in both views and the tree.
#[test]
fn globs_match_names_as_they_are_shown() {
    use crate::util::{fixture, json_lines, run_ok};
    let trace = fixture("bytes.kz");
    let t = trace.to_str().unwrap();
    let comm = |glob: &str, view: &str| {
        json_lines(
            &run_ok(&[
                "replay", t, "--view", view, "-o", "json-min", "--comm", glob,
            ])
            .stdout,
        )
    };
    for glob in [r"by\\xfe\\xff", r"by?xfe?xff", r"by\\x*"] {
        let events = comm(glob, "events");
        assert_eq!(events.len(), 22, "{glob}");
        assert!(events.iter().all(|e| e["comm"] == r"by\xfe\xff"), "{glob}");
        assert!(!comm(glob, "records").is_empty(), "{glob}");
    }
    // The characters the bytes stand in for inside replay match nothing.
    assert!(comm("by\u{10fefe}\u{10feff}", "events").is_empty());
    let paths = json_lines(
        &run_ok(&[
            "replay",
            t,
            "--view",
            "events",
            "-o",
            "json-min",
            "--path",
            r"**/f\\xff",
        ])
        .stdout,
    );
    assert!(!paths.is_empty());
    for e in &paths {
        assert!(e.to_string().contains(r"f\\xff"), "{e}");
    }
    let tree = String::from_utf8(run_ok(&["tree", t, "--comm", r"by\\xfe\\xff"]).stdout).unwrap();
    assert!(tree.contains(r"by\xfe\xff"), "{tree}");
}

#[cfg(feature = "record")]
mod live {
    use std::os::unix::ffi::OsStrExt;

    use crate::live::live;
    use serde_json::Value;

    use crate::util::{compile_workload, events, json_lines, record_in, run_ok};

    /// Records tests/workloads/bytes.c and finds every name and argument with its exact
    /// bytes in both views, the table and pretty JSON.
    #[test]
    fn names_and_arguments_keep_their_bytes() {
        if !live() {
            return;
        }
        let dir = compile_workload("bytes.c", &["-O1"], "bytes");
        let scratch = dir.path().join("scratch");
        std::fs::create_dir(&scratch).unwrap();
        let trace = dir.path().join("bytes.kz");
        record_in(
            dir.path(),
            &trace,
            &[std::ffi::OsStr::new("./bytes"), scratch.as_os_str()],
        );
        let t = trace.to_str().unwrap();
        let evs = events(&trace);
        let records = json_lines(&run_ok(&["replay", t, "-o", "json-min"]).stdout);
        let table = String::from_utf8(run_ok(&["replay", t, "-o", "table"]).stdout).unwrap();
        super::check_views(&evs, &records, &table, scratch.as_os_str().as_bytes());
        // Pretty JSON says the same as json-min.
        let pretty = run_ok(&["replay", t, "-o", "json"]).stdout;
        let pretty: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&pretty)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(pretty, records);
    }

    /// The recorder's own command line keeps its bytes: `info --json` shows each argument
    /// under the output rule (`\xNN` and a `*_bytes` sibling), `info`'s text with `\xNN`.
    #[test]
    fn the_recorded_command_line_keeps_its_bytes() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("cmd.kz");
        let odd = std::ffi::OsStr::from_bytes(b"a\xff\xfeb");
        record_in(
            dir.path(),
            &trace,
            &[std::ffi::OsStr::new("/bin/true"), odd],
        );
        let t = trace.to_str().unwrap();
        let info: Value = serde_json::from_slice(&run_ok(&["info", "--json", t]).stdout).unwrap();
        let host = &info[0]["host"];
        let command = host["command"].as_array().expect("the recorded command");
        assert_eq!(command[1], "a\\xff\\xfeb", "{host}");
        let bytes = host["command_bytes"].as_array().expect("its bytes");
        assert_eq!(bytes[0], Value::Null);
        assert_eq!(super::unhex(bytes[1].as_str().unwrap()), b"a\xff\xfeb");
        let text = String::from_utf8(run_ok(&["info", t]).stdout).unwrap();
        assert!(text.contains("a\\xff\\xfeb"), "{text}");
        assert!(!text.contains('\u{fffd}'), "{text}");
    }
}
