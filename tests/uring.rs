//! io_uring (issue 9, input 2): a file created, written (21 bytes) and closed only through
//! io_uring SQEs (tests/workloads/uring.c: IORING_OP_OPENAT, WRITE, CLOSE with raw
//! syscalls). Each request is an `io_uring_op` event with its opcode, user_data, fd, path
//! and result, and the records view has the file's create, write and close with its size.
//! The fixture fixtures/uring.kz (see fixtures/regenerate.sh) replays byte for byte
//! without root; the live test records the workload.

use serde_json::Value;

use crate::util::replay_json_min as replay;
use crate::util::{assert_fixture_replays, fixture, json_lines};

/// The workload's three requests and its file's record, in any recording of it.
#[track_caller]
fn assert_uring_workload(trace: &std::path::Path, file: &str) {
    let events = json_lines(replay(trace, &["--view", "events"]).as_bytes());
    let ops: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "io_uring_op" && e["comm"] == "uring")
        .collect();
    let want = [
        ("IORING_OP_OPENAT", 0x1001, "openat", "file_create", 4),
        ("IORING_OP_WRITE", 0x1002, "pwrite64", "file_write", 21),
        ("IORING_OP_CLOSE", 0x1003, "close", "file_close", 0),
    ];
    assert_eq!(ops.len(), want.len(), "{ops:#?}");
    let fd = ops[0]["ret"].as_i64().unwrap();
    for (op, (name, user_data, sc, ev, ret)) in ops.iter().zip(want) {
        assert_eq!(op["opcode_name"], name, "{op}");
        assert_eq!(op["user_data"], user_data, "{op}");
        assert_eq!(op["as_syscall"], sc, "{op}");
        assert_eq!(op["as_event"], ev, "{op}");
        assert_eq!(op["path"], file, "{op}");
        assert!(op.get("syscall").is_none(), "no syscall ran: {op}");
        if name != "IORING_OP_OPENAT" {
            assert_eq!(op["ret"], ret, "{op}");
            assert_eq!(op["fd"], fd, "{op}");
        }
    }
    assert!(fd >= 3, "{:?}", ops[0]);
    assert_eq!(ops[1]["bytes"], 21);
    for ty in ["io_uring_setup", "io_uring_enter", "io_uring_register"] {
        assert!(events.iter().any(|e| e["event_type"] == ty), "no {ty}");
    }
    let records = json_lines(replay(trace, &[]).as_bytes());
    let name = std::path::Path::new(file)
        .file_name()
        .unwrap()
        .to_str()
        .unwrap();
    let rec: Vec<&Value> = records
        .iter()
        .filter(|r| r["File"] == name && r["Proc"] == "uring")
        .collect();
    assert_eq!(rec.len(), 1, "{rec:#?}");
    let ev = &rec[0]["FileEvents"];
    assert_eq!(
        [&ev["CREATE"], &ev["MODIFY"], &ev["CLOSE_WRITE"]],
        [1, 1, 1]
    );
    assert_eq!(rec[0]["FileSize"], 21, "{}", rec[0]);
}

#[test]
fn uring_fixture_replays_byte_for_byte() {
    assert_fixture_replays("uring");
}

#[test]
fn uring_fixture_has_the_requests_and_the_file() {
    let events = json_lines(replay(&fixture("uring.kz"), &["--view", "events"]).as_bytes());
    let open = events
        .iter()
        .find(|e| e["opcode_name"] == "IORING_OP_OPENAT")
        .expect("an IORING_OP_OPENAT");
    let path = open["path"].as_str().unwrap().to_owned();
    assert!(path.ends_with("/uring.out"), "{open}");
    assert_uring_workload(&fixture("uring.kz"), &path);
}

/// `kellect info` says the recording saw io_uring: its requests, the processes that made
/// them and the ring's syscalls, as text and JSON; a recording without any says nothing.
#[test]
fn uring_fixture_info_says_io_uring_was_used() {
    let out = crate::util::run_ok(&["info", fixture("uring.kz").to_str().unwrap()]);
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("io_uring "))
        .unwrap_or_else(|| panic!("no io_uring line:\n{text}"));
    assert_eq!(
        line,
        "io_uring    3 requests by 1 process \
         (syscalls: io_uring_enter 3, io_uring_register 1, io_uring_setup 1)"
    );
    let u = crate::util::info(&fixture("uring.kz"))["io_uring"].clone();
    assert_eq!(
        u,
        serde_json::json!({
            "requests": 3,
            "syscalls": {"io_uring_enter": 3, "io_uring_register": 1, "io_uring_setup": 1},
            "processes": 1,
            "processes_more": false,
        })
    );
    let out = crate::util::run_ok(&["info", fixture("process.kz").to_str().unwrap()]);
    assert!(!String::from_utf8(out.stdout).unwrap().contains("io_uring"));
    let none = crate::util::info(&fixture("process.kz"))["io_uring"].clone();
    assert_eq!([&none["requests"], &none["processes"]], [0, 0]);
}

/// Requests submitted with IOSQE_CQE_SKIP_SUCCESS post no CQE when they succeed
/// (tests/workloads/uring_skip.c, run with DIR): each is written at submission, its result
/// unknown. A linked OPENAT, WRITE and CLOSE into the lowest free fd; a WRITE and CLOSE of
/// a file opened with open(2), named through the fd; a WRITE to fd 999, whose failure posts
/// a CQE, recorded after its submission with EBADF.
#[track_caller]
fn assert_skip_workload(trace: &std::path::Path, dir: &str) {
    let events = json_lines(replay(trace, &["--view", "events"]).as_bytes());
    let ops: Vec<&Value> = events
        .iter()
        .filter(|e| e["event_type"] == "io_uring_op" && e["skip_success"] == true)
        .collect();
    // user_data, as_syscall, ret, fd, path.
    type Op<'a> = (u64, &'a str, Option<i64>, Option<i64>, Option<&'a str>);
    let got: Vec<Op> = ops
        .iter()
        .map(|e| {
            assert_eq!(e["result_unknown"] == true, e.get("ret").is_none(), "{e}");
            (
                e["user_data"].as_u64().unwrap(),
                e["as_syscall"].as_str().unwrap(),
                e["ret"].as_i64(),
                e["fd"].as_i64(),
                e["path"].as_str(),
            )
        })
        .collect();
    let open_fd = got.get(1).and_then(|o| o.3);
    let (opened, written) = (
        format!("{dir}/skip-open.out"),
        format!("{dir}/skip-write.out"),
    );
    let want = vec![
        (0x3001, "openat", None, None, Some(opened.as_str())),
        (0x3002, "pwrite64", None, open_fd, None),
        (0x3003, "close", None, open_fd, None),
        (0x3011, "pwrite64", None, open_fd, Some(written.as_str())),
        (0x3012, "close", None, open_fd, Some(written.as_str())),
        (0x3021, "pwrite64", None, Some(999), None),
        (0x3021, "pwrite64", Some(-9), Some(999), None),
    ];
    assert_eq!(got, want, "{ops:#?}");
    assert!(open_fd.is_some_and(|fd| fd >= 3), "{ops:#?}");
    // A write without a result carries its count, not a byte count it cannot know.
    assert_eq!(
        [&ops[3]["count"], &ops[3]["bytes"]],
        [&21.into(), &Value::Null]
    );
    assert!(
        ops[3]["ino"].is_u64(),
        "the file its fd named at submission: {}",
        ops[3]
    );
    assert_eq!(ops[6]["error"], "EBADF");
    // Requests, not records: the failed write once.
    let i = crate::util::info(trace);
    assert_eq!(i["io_uring"]["requests"], 8, "{i}");
    assert_eq!(i["dropped_total"], 0, "{i}");
}

#[test]
fn uring_skip_fixture_replays_byte_for_byte() {
    assert_fixture_replays("uring_skip");
}

#[test]
fn uring_skip_fixture_has_the_requests_at_submission() {
    let trace = fixture("uring_skip.kz");
    let events = json_lines(replay(&trace, &["--view", "events"]).as_bytes());
    let open = events
        .iter()
        .find(|e| e["user_data"] == 0x3001)
        .expect("the IORING_OP_OPENAT");
    let path = open["path"].as_str().unwrap();
    let dir = path.strip_suffix("/skip-open.out").expect("skip-open.out");
    assert_skip_workload(&trace, dir);
}

#[cfg(feature = "record")]
mod live {

    /// Records the workload creating SCRATCH/uring.out through io_uring; the file holds
    /// its 21 bytes and the trace has every request.
    #[test]
    fn uring_requests_are_recorded() {
        let dir = crate::util::compile_workload("uring.c", &["-O1"], "uring");
        let file = dir.path().join("uring.out");
        let trace = dir.path().join("uring.kz");
        let args = [std::ffi::OsStr::new("./uring"), file.as_os_str()];
        crate::util::record_in(dir.path(), &trace, &args);
        assert_eq!(std::fs::read(&file).unwrap().len(), 21);
        super::assert_uring_workload(&trace, file.to_str().unwrap());
    }

    /// More requests in flight than the recorder's map of pending requests holds (1024):
    /// tests/workloads/uring_evict.c submits a read of an empty pipe linked to an
    /// IORING_OP_OPENAT, then 1500 more reads, all pending until it fills the pipe. The
    /// requests pushed out of the map (the open among them) were lost without a word: 990
    /// of 1502 recorded, none counted. Each is now recorded or counted as dropped.
    #[test]
    fn requests_pushed_out_of_the_pending_map_are_counted_as_dropped() {
        use crate::util::{info, json_lines, replay_json_min as replay};
        let dir = crate::util::compile_workload("uring_evict.c", &["-O1"], "uring_evict");
        let file = dir.path().join("evict.out");
        let trace = dir.path().join("evict.kz");
        let args = [std::ffi::OsStr::new("./uring_evict"), file.as_os_str()];
        crate::util::record_in(dir.path(), &trace, &args);
        assert!(file.exists(), "the workload's open ran");
        let events = json_lines(replay(&trace, &["--view", "events"]).as_bytes());
        let recorded = events
            .iter()
            .filter(|e| e["event_type"] == "io_uring_op" && e["comm"] == "uring_evict")
            .count() as u64;
        let i = info(&trace);
        // Their own counter, not the ring buffer's.
        let dropped = i["kernel_dropped"]["uring_in_flight_full"]
            .as_u64()
            .unwrap_or(0);
        assert!(dropped > 0, "nothing pushed out? {recorded} recorded: {i}");
        assert!(i["kernel_dropped"].get("uring_op").is_none(), "{i}");
        assert_eq!(
            recorded + dropped,
            1502,
            "{recorded} recorded, {dropped} dropped"
        );
        let out = crate::util::run_ok(&["info", trace.to_str().unwrap()]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(&format!("(uring_in_flight_full {dropped})")),
            "{text}"
        );
        let out = crate::util::run_ok(&["replay", trace.to_str().unwrap(), "-o", "json-min"]);
        let warning = String::from_utf8(out.stderr).unwrap();
        assert!(
            warning.contains(&format!(
                "{dropped} io_uring requests (more in flight at once than the recorder tracks)"
            )) && !warning.contains("ring buffer full"),
            "{warning}"
        );
    }

    /// Records tests/workloads/uring_skip.c: its requests that skip their CQE are
    /// recorded at submission (see [`super::assert_skip_workload`]).
    #[test]
    fn requests_that_skip_their_cqe_are_recorded_at_submission() {
        let dir = crate::util::compile_workload("uring_skip.c", &["-O1"], "uring_skip");
        let trace = dir.path().join("skip.kz");
        let args = [std::ffi::OsStr::new("./uring_skip"), dir.path().as_os_str()];
        crate::util::record_in(dir.path(), &trace, &args);
        assert_eq!(
            std::fs::read(dir.path().join("skip-open.out"))
                .unwrap()
                .len(),
            21
        );
        super::assert_skip_workload(&trace, dir.path().to_str().unwrap());
    }
}
