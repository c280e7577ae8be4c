//! `replay -o parquet --to FILE` and `--to` for the text formats: the Parquet files of every
//! fixture, read back with the arrow and parquet crates, hold exactly the NDJSON's rows and
//! values in typed columns; DuckDB (installed by scripts/setup.sh) reads them and the NDJSON.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    Decimal128Type, Int64Type, TimestampMicrosecondType, TimestampNanosecondType, UInt16Type,
    UInt32Type, UInt64Type,
};
use arrow_array::{Array, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use serde_json::{Map, Value};

use crate::util::{fixture, json_lines, run_err, run_ok};

/// Every fixture trace.
fn fixtures() -> Vec<PathBuf> {
    let mut traces: Vec<PathBuf> = std::fs::read_dir(fixture(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "kz"))
        .collect();
    traces.sort();
    assert!(traces.len() >= 9, "fixtures: {traces:?}");
    traces
}

/// `--view VIEW` arguments.
fn view_args(events: bool) -> Vec<&'static str> {
    if events {
        vec!["--view", "events"]
    } else {
        vec![]
    }
}

/// The NDJSON of a view of `trace`.
fn ndjson(trace: &Path, events: bool) -> Vec<Value> {
    let mut args = vec!["replay", trace.to_str().unwrap(), "-o", "json-min"];
    args.extend(view_args(events));
    json_lines(&run_ok(&args).stdout)
}

/// Replays a view of `trace` in `format` to the file `to`; nothing may reach stdout.
fn replay_to(trace: &Path, events: bool, format: &str, to: &Path, extra: &[&str]) {
    let mut args = vec![
        "replay",
        trace.to_str().unwrap(),
        "-o",
        format,
        "--to",
        to.to_str().unwrap(),
    ];
    args.extend(view_args(events));
    args.extend_from_slice(extra);
    let out = run_ok(&args);
    assert!(out.stdout.is_empty(), "-o {format} --to printed on stdout");
}

/// Writes the Parquet file of a view of `trace` to `to`.
fn write_parquet(trace: &Path, events: bool, to: &Path, extra: &[&str]) {
    replay_to(trace, events, "parquet", to, extra);
}

/// The batches of a Parquet file, and its row count from the footer.
fn read(path: &Path) -> (Vec<RecordBatch>, i64) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let rows = builder.metadata().file_metadata().num_rows();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (batches, rows)
}

/// Seconds with 9 decimals, as kellect prints them.
fn seconds(ns: i128) -> Value {
    let sign = if ns < 0 { "-" } else { "" };
    let abs = ns.unsigned_abs();
    let text = format!("{sign}{}.{:09}", abs / 1_000_000_000, abs % 1_000_000_000);
    serde_json::from_str(&text).unwrap()
}

/// Row `i` of `array` as the JSON value it was made from (null: none).
fn to_json(array: &dyn Array, i: usize) -> Option<Value> {
    if array.is_null(i) {
        return None;
    }
    Some(match array.data_type() {
        DataType::Utf8 => Value::from(array.as_string::<i32>().value(i)),
        DataType::Boolean => Value::from(array.as_boolean().value(i)),
        DataType::Int64 => Value::from(array.as_primitive::<Int64Type>().value(i)),
        DataType::UInt64 => Value::from(array.as_primitive::<UInt64Type>().value(i)),
        DataType::UInt32 => Value::from(array.as_primitive::<UInt32Type>().value(i)),
        DataType::UInt16 => Value::from(array.as_primitive::<UInt16Type>().value(i)),
        DataType::Decimal128(20, 9) => seconds(array.as_primitive::<Decimal128Type>().value(i)),
        DataType::Timestamp(TimeUnit::Nanosecond, Some(tz)) if &**tz == "UTC" => {
            let ns = array.as_primitive::<TimestampNanosecondType>().value(i);
            Value::from(kellect::replayer::views::records::kflowd_time(ns))
        }
        DataType::Timestamp(TimeUnit::Microsecond, Some(tz)) if &**tz == "UTC" => {
            Value::from(array.as_primitive::<TimestampMicrosecondType>().value(i))
        }
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            Value::Array(
                (0..items.len())
                    .map(|j| to_json(&items, j).unwrap_or(Value::Null))
                    .collect(),
            )
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            Value::Object(
                fields
                    .iter()
                    .zip(s.columns())
                    .filter_map(|(f, c)| Some((f.name().clone(), to_json(c, i)?)))
                    .collect(),
            )
        }
        other => panic!("a column of unexpected type {other}"),
    })
}

/// The rows of a Parquet file as JSON objects; the events view's `fields` text merged back.
fn rows(batches: &[RecordBatch]) -> Vec<Value> {
    let mut out = Vec::new();
    for batch in batches {
        let whole: Arc<dyn Array> = Arc::new(arrow_array::StructArray::from(batch.clone()));
        for i in 0..batch.num_rows() {
            let Some(Value::Object(mut row)) = to_json(&whole, i) else {
                panic!("row {i} is not an object")
            };
            if let Some(Value::String(fields)) = row.remove("fields") {
                let rest: Map<String, Value> = serde_json::from_str(&fields).unwrap();
                row.extend(rest);
            }
            if let Some(Value::String(bytes)) = row.remove("Bytes") {
                let tree: Value = serde_json::from_str(&bytes).unwrap();
                merge_bytes(&mut row, &tree);
            }
            out.push(Value::Object(row));
        }
    }
    out
}

/// The `Bytes` column's tree (src/replayer/bytes.rs) put back as the sibling keys JSON
/// has: under an object, recursively; beside a string or an array of strings, as
/// `<key>_bytes` / `<Key>Bytes`.
fn merge_bytes(row: &mut Map<String, Value>, tree: &Value) {
    let Value::Object(tree) = tree else {
        panic!("Bytes: not an object: {tree}")
    };
    for (k, b) in tree {
        let holds_objects = |v: &Value| match v {
            Value::Object(_) => true,
            Value::Array(items) => items.iter().any(Value::is_object),
            _ => false,
        };
        match (row.get_mut(k), b) {
            (Some(Value::Object(inner)), Value::Object(_)) => merge_bytes(inner, b),
            (Some(Value::Array(items)), Value::Array(bs)) if holds_objects(b) => {
                for (item, b) in items.iter_mut().zip(bs) {
                    if let (Value::Object(inner), Value::Object(_)) = (item, b) {
                        merge_bytes(inner, b);
                    }
                }
            }
            _ => {
                let first = k.chars().find(|c| c.is_alphabetic());
                let key = if first.is_some_and(char::is_lowercase) {
                    format!("{k}_bytes")
                } else {
                    format!("{k}Bytes")
                };
                row.insert(key, b.clone());
            }
        }
    }
}

/// Whether `parquet` holds `json`: equal, a text column holding a non-string value as its
/// JSON text (a DNS OpCode given as a number).
fn same(json: &Value, parquet: &Value) -> bool {
    match (json, parquet) {
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| same(v, w)))
        }
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(v, w)| same(v, w))
        }
        (v, Value::String(s)) if !v.is_string() => {
            let text = v.to_string();
            text == *s
        }
        (v, w) => v == w,
    }
}

/// Every fixture, both views: the Parquet file has as many rows as the NDJSON has lines,
/// and each row gives back the NDJSON object (every key, typed).
#[test]
fn every_fixture_round_trips_in_both_views() {
    let dir = tempfile::tempdir().unwrap();
    for trace in fixtures() {
        for events in [false, true] {
            let what = format!("{} (events view: {events})", trace.display());
            let json = ndjson(&trace, events);
            let file = dir.path().join("out.parquet");
            write_parquet(&trace, events, &file, &[]);
            let (batches, footer_rows) = read(&file);
            let got = rows(&batches);
            assert_eq!(got.len(), json.len(), "{what}: rows");
            assert_eq!(footer_rows as usize, json.len(), "{what}: footer rows");
            for (i, (j, p)) in json.iter().zip(&got).enumerate() {
                assert!(same(j, p), "{what}: row {i}\nNDJSON:  {j}\nParquet: {p}");
            }
        }
    }
}

/// The typed columns: what an engine sees without knowing kellect.
#[test]
fn columns_are_typed() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("records.parquet");
    write_parquet(&fixture("records.kz"), false, &file, &[]);
    let (batches, _) = read(&file);
    let schema = batches[0].schema();
    let ty = |name: &str| schema.field_with_name(name).unwrap().data_type().clone();
    assert_eq!(
        ty("InfoTimestamp"),
        DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))
    );
    assert_eq!(ty("ProcPID"), DataType::UInt32);
    assert_eq!(ty("FileSize"), DataType::UInt64);
    assert_eq!(ty("InfoUptime"), DataType::Decimal128(20, 9));
    assert!(matches!(ty("ProcArgv"), DataType::List(f) if *f.data_type() == DataType::Utf8));
    assert!(matches!(ty("FileEvents"), DataType::Struct(f) if f.len() == 11));
    let DataType::List(msg) = ty("AppRxHttp") else {
        panic!("AppRxHttp is a list")
    };
    let DataType::Struct(fields) = msg.data_type() else {
        panic!("an HTTP message is a struct")
    };
    let headers = fields.iter().find(|f| f.name() == "_Headers").unwrap();
    assert!(
        matches!(headers.data_type(), DataType::List(h) if matches!(h.data_type(), DataType::Struct(nv) if nv.len() == 2)),
        "{headers:?}"
    );

    // The values: records.kz's process record of curl (a timestamp, a pid, a list) and
    // the file record of the file tee wrote (a size, a struct).
    let json = ndjson(&fixture("records.kz"), false);
    let got = rows(&batches);
    let at = json
        .iter()
        .position(|r| r["ProcArgv"].as_array().is_some_and(|a| !a.is_empty()))
        .expect("a process record");
    assert_eq!(got[at]["InfoTimestamp"], json[at]["InfoTimestamp"]);
    assert_eq!(got[at]["ProcPID"], json[at]["ProcPID"]);
    assert_eq!(got[at]["ProcArgv"], json[at]["ProcArgv"]);
    let at = json
        .iter()
        .position(|r| r["FileSize"].as_u64().is_some_and(|s| s > 0))
        .expect("a file record with a size");
    assert_eq!(got[at]["FileSize"], json[at]["FileSize"]);
    assert_eq!(got[at]["FileEvents"], json[at]["FileEvents"]);

    let file = dir.path().join("events.parquet");
    write_parquet(&fixture("process.kz"), true, &file, &[]);
    let (batches, _) = read(&file);
    let schema = batches[0].schema();
    assert_eq!(
        schema.field_with_name("timestamp").unwrap().data_type(),
        &DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
    );
    assert_eq!(
        schema.field_with_name("pid").unwrap().data_type(),
        &DataType::UInt32
    );
    assert_eq!(
        schema.field_with_name("fields").unwrap().data_type(),
        &DataType::Utf8
    );
}

/// The same bytes for any thread count, in both views.
#[test]
fn the_file_is_the_same_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    for (trace, events) in [("records.kz", false), ("catalogue.kz", true)] {
        let one = dir.path().join("j1.parquet");
        let two = dir.path().join("j2.parquet");
        write_parquet(&fixture(trace), events, &one, &["-j", "1"]);
        write_parquet(&fixture(trace), events, &two, &["-j", "2"]);
        assert!(
            std::fs::read(&one).unwrap() == std::fs::read(&two).unwrap(),
            "{trace}: -j1 and -j2 differ"
        );
    }
}

/// `--to` writes the text formats byte for byte as stdout gets them, with mode 0600; it
/// truncates an existing file.
#[test]
fn to_writes_any_format_to_a_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture("records.kz");
    let trace = trace.to_str().unwrap();
    for format in ["json", "json-min", "table"] {
        let stdout = run_ok(&["replay", trace, "-o", format]).stdout;
        let to = dir.path().join(format);
        std::fs::write(&to, vec![b'x'; stdout.len() + 4096]).unwrap();
        let out = run_ok(&["replay", trace, "-o", format, "--to", to.to_str().unwrap()]);
        assert!(out.stdout.is_empty(), "{format}: printed with --to");
        assert!(std::fs::read(&to).unwrap() == stdout, "{format}: the file");
        let quiet = dir.path().join(format!("{format}.q"));
        run_ok(&[
            "replay",
            trace,
            "-o",
            format,
            "-q",
            "--to",
            quiet.to_str().unwrap(),
        ]);
        assert!(
            std::fs::read(&quiet).unwrap() == stdout,
            "{format}: -q --to"
        );
        let mode = std::fs::metadata(&quiet).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{format}: mode");
    }
}

/// Parquet never goes to stdout; `--to` never writes through a symbolic link nor over the
/// trace being replayed.
#[test]
fn to_refuses_stdout_links_and_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture("process.kz");
    let e = run_err(&["replay", trace.to_str().unwrap(), "-o", "parquet"], 2);
    assert!(e.contains("--to FILE"), "{e}");

    let target = dir.path().join("target");
    let link = dir.path().join("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let e = run_err(
        &[
            "replay",
            trace.to_str().unwrap(),
            "--to",
            link.to_str().unwrap(),
        ],
        2,
    );
    assert!(e.contains("symbolic link") && e.contains("link"), "{e}");
    assert!(!target.exists(), "written through the link");

    let copy = dir.path().join("copy.kz");
    std::fs::copy(&trace, &copy).unwrap();
    let before = std::fs::read(&copy).unwrap();
    let e = run_err(
        &[
            "replay",
            copy.to_str().unwrap(),
            "-o",
            "parquet",
            "--to",
            copy.to_str().unwrap(),
        ],
        2,
    );
    assert!(e.contains("trace being replayed"), "{e}");
    assert!(
        std::fs::read(&copy).unwrap() == before,
        "the trace was changed"
    );
}

/// DuckDB reads the Parquet file of both views and counts the NDJSON's rows, and reads the
/// NDJSON itself with `read_json_auto` (no duplicate keys: HTTP headers are a list). Needs
/// Python's `duckdb` module (scripts/setup.sh installs it): fails without it.
#[test]
fn duckdb_counts_the_same_rows_in_parquet_and_ndjson() {
    let dir = tempfile::tempdir().unwrap();
    for (trace, events) in [
        ("records.kz", false),
        ("records.kz", true),
        ("files.kz", false),
        ("catalogue.kz", true),
    ] {
        let trace = fixture(trace);
        let parquet = dir.path().join("t.parquet");
        write_parquet(&trace, events, &parquet, &[]);
        let json = dir.path().join("t.json");
        replay_to(&trace, events, "json-min", &json, &[]);
        let lines = std::fs::read_to_string(&json).unwrap().lines().count();
        let script = "import duckdb, sys\n\
            p = duckdb.sql(\"select count(*) from read_parquet('\" + sys.argv[1] + \"')\").fetchall()[0][0]\n\
            j = duckdb.sql(\"select count(*) from read_json_auto('\" + sys.argv[2] + \"', format='newline_delimited')\").fetchall()[0][0]\n\
            print(p, j)\n";
        let out = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&parquet)
            .arg(&json)
            .output()
            .expect("running python3 (scripts/setup.sh installs it)");
        assert!(
            out.status.success(),
            "DuckDB on {} (events view: {events}) failed (scripts/setup.sh installs Python's \
             duckdb module):\n{}",
            trace.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{lines} {lines}"),
            "{} (events view: {events}): DuckDB's Parquet and NDJSON row counts",
            trace.display()
        );
    }
}
