//! Replays of traces recorded by kellect on a real kernel (fixtures/, see
//! fixtures/regenerate.sh), compared byte for byte with their expected output; and the same
//! traces damaged on purpose: cut, bit-flipped, zero-padded.

use std::path::Path;

use kellect::format::{BlockKind, TraceReader};

use crate::util::{assert_same_text, events, fixture, info, json_lines, kellect, run_ok};

fn replay_min(trace: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "replay",
        trace.to_str().unwrap(),
        "--view",
        "events",
        "-o",
        "json-min",
    ];
    args.extend_from_slice(extra);
    String::from_utf8(run_ok(&args).stdout).unwrap()
}

/// fixtures/bytes.kz (names and arguments that are not UTF-8, tests/bytes.rs) replays to
/// its expected events, records and table byte for byte, and each view gives every name and
/// argument back with its exact bytes.
#[test]
fn bytes_fixture_keeps_the_bytes_that_are_not_utf8() {
    crate::util::assert_fixture_replays("bytes");
    let trace = fixture("bytes.kz");
    let t = trace.to_str().unwrap();
    let table = String::from_utf8(run_ok(&["replay", t, "-o", "table"]).stdout).unwrap();
    let want = std::fs::read_to_string(fixture("bytes.table")).unwrap();
    assert_same_text(&want, &table, "fixtures/bytes.table");
    let evs = events(&trace);
    let records = json_lines(&run_ok(&["replay", t, "-o", "json-min"]).stdout);
    // The scratch directory: the workload's argument, from its exec.
    let dir = evs
        .iter()
        .find(|e| e["event_type"] == "process_exec" && e["argv"][0] == "./bytes")
        .map(|e| e["argv"][1].as_str().unwrap().to_owned())
        .expect("the exec of ./bytes");
    crate::bytes::check_views(&evs, &records, &table, dir.as_bytes());
}

#[test]
fn process_fixture_replays_byte_for_byte() {
    let expected = std::fs::read_to_string(fixture("process.events.json")).unwrap();
    let got = replay_min(&fixture("process.kz"), &[]);
    assert_same_text(&expected, &got, "fixtures/process.events.json");
}

#[test]
fn output_is_the_same_for_any_thread_count() {
    let trace = fixture("process.kz");
    let one = replay_min(&trace, &["-j", "1"]);
    for threads in ["2", "7"] {
        assert_eq!(one, replay_min(&trace, &["-j", threads]), "-j {threads}");
    }
    // Pretty JSON carries the same objects.
    let pretty = run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "--view",
        "events",
        "-o",
        "json",
    ])
    .stdout;
    let objects: Vec<serde_json::Value> = serde_json::Deserializer::from_slice(&pretty)
        .into_iter()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(objects, json_lines(one.as_bytes()));
}

#[test]
fn process_fixture_content() {
    // What the fixture's command did (see fixtures/regenerate.sh), checked semantically so a
    // regenerated fixture is checked too.
    let evs = events(&fixture("process.kz"));
    let execs: Vec<_> = evs
        .iter()
        .filter(|e| e["event_type"] == "process_exec")
        .collect();
    assert!(
        execs
            .iter()
            .filter(|e| e["filename"] == "/bin/true")
            .count()
            == 2,
        "{execs:#?}"
    );
    let exit7 = evs
        .iter()
        .filter(|e| e["event_type"] == "process_exit" && e["exit_code"] == 7)
        .count();
    assert!(exit7 >= 1, "a process exits with 7");
    let i = info(&fixture("process.kz"));
    assert_eq!(i["records_total"], i["kernel_emitted_total"]);
    assert!(i["records_total"].as_u64().unwrap() >= evs.len() as u64);
    assert_eq!(i["dropped_total"], 0);
    assert_eq!(i["segments"][0]["closed_cleanly"], true);
    assert!(i["snapshot_processes"].as_u64().unwrap() > 5, "{i}");
}

#[test]
fn filters_select_events() {
    let trace = fixture("process.kz");
    let all = events(&trace);
    let events_view = |args: &[&str]| {
        let mut all = vec![
            "replay",
            trace.to_str().unwrap(),
            "--view",
            "events",
            "-o",
            "json-min",
        ];
        all.extend_from_slice(args);
        run_ok(&all).stdout
    };
    let out = events_view(&["--event", "process_exec"]);
    let execs = json_lines(&out);
    assert_eq!(
        execs.len(),
        all.iter()
            .filter(|e| e["event_type"] == "process_exec")
            .count()
    );
    assert!(execs.iter().all(|e| e["event_type"] == "process_exec"));
    let pid = all[0]["pid"].as_u64().unwrap();
    let out = events_view(&["--pid", &pid.to_string()]);
    let mine = json_lines(&out);
    assert!(!mine.is_empty() && mine.iter().all(|e| e["pid"].as_u64() == Some(pid)));
    let out = events_view(&["--comm", "true"]);
    let trues = json_lines(&out);
    assert!(!trues.is_empty() && trues.iter().all(|e| e["comm"] == "true"));
}

/// Byte offsets of every block of a trace, and of its frames.
fn block_offsets(bytes: &[u8]) -> (Vec<u64>, Vec<(u64, usize)>) {
    let reader = TraceReader::new(bytes).unwrap();
    let scan = reader.scan();
    assert!(scan.damage.is_empty(), "{:?}", scan.damage);
    let all = scan.blocks.iter().map(|b| b.offset).collect();
    let frames = scan
        .blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Frame)
        .map(|b| (b.offset, b.payload.len()))
        .collect();
    (all, frames)
}

fn replay_bytes(bytes: &[u8]) -> (Vec<serde_json::Value>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.kz");
    std::fs::write(&path, bytes).unwrap();
    let out = kellect()
        .args([
            "replay",
            path.to_str().unwrap(),
            "--view",
            "events",
            "-o",
            "json-min",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    // Damage is salvaged (exit 0), unless no frame at all survived: then exit 1, saying so.
    let recovered_nothing = out.status.code() == Some(1)
        && stderr.contains("nothing was recovered: no data frame")
        && out.stdout.is_empty();
    assert!(
        out.status.success() || recovered_nothing,
        "replay of damaged input failed: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    (json_lines(&out.stdout), stderr)
}

/// `part` appears in `whole` in the same order (a cut trace loses only what was cut).
fn is_subsequence(part: &[serde_json::Value], whole: &[serde_json::Value]) -> bool {
    let mut it = whole.iter();
    part.iter().all(|p| it.any(|w| w == p))
}

#[test]
fn cut_traces_replay_up_to_the_cut() {
    let bytes = std::fs::read(fixture("process.kz")).unwrap();
    let full = events(&fixture("process.kz"));
    let (blocks, frames) = block_offsets(&bytes);
    let mut cuts: Vec<usize> = Vec::new();
    for &b in &blocks {
        cuts.extend([b as usize, b as usize + 1, b as usize + 23, b as usize + 24]);
    }
    for &(offset, len) in &frames {
        cuts.push(offset as usize + 24 + len / 2); // mid-frame
        cuts.push(offset as usize + 24 + len); // just after the frame
    }
    cuts.push(bytes.len() - 1);
    for cut in cuts.into_iter().filter(|&c| c >= 48 && c < bytes.len()) {
        let (evs, stderr) = replay_bytes(&bytes[..cut]);
        assert!(
            is_subsequence(&evs, &full),
            "cut at {cut}: events not a subsequence"
        );
        // Every frame that ends before the cut is replayed in full.
        let complete = frames
            .iter()
            .filter(|(o, l)| (*o as usize + 24 + l) <= cut)
            .count();
        if complete == frames.len() {
            assert_eq!(evs.len(), full.len(), "cut at {cut} after all frames");
        }
        assert!(
            stderr.contains("warning"),
            "cut at {cut}: the cut is reported"
        );
    }
}

#[test]
fn a_zero_tail_is_a_crash_artifact_not_an_error() {
    let mut bytes = std::fs::read(fixture("process.kz")).unwrap();
    let full = events(&fixture("process.kz"));
    // Drop the index/end (as a crash would) and add a preallocated zero tail.
    let (blocks, _) = block_offsets(&bytes);
    let reader = TraceReader::new(&bytes).unwrap();
    let index_at = reader
        .scan()
        .blocks
        .iter()
        .find(|b| b.kind == BlockKind::Index)
        .map(|b| b.offset as usize)
        .unwrap_or(*blocks.last().unwrap() as usize);
    bytes.truncate(index_at);
    bytes.resize(index_at + (1 << 20), 0);
    let (evs, stderr) = replay_bytes(&bytes);
    assert_eq!(evs, full);
    assert!(stderr.contains("zero"), "{stderr}");
}

#[test]
fn bit_flips_lose_only_the_damaged_block() {
    let bytes = std::fs::read(fixture("process.kz")).unwrap();
    let full = events(&fixture("process.kz"));
    let (blocks, frames) = block_offsets(&bytes);
    // In a frame's compressed payload: that frame is skipped with a checksum warning.
    for &(offset, len) in &frames {
        let mut damaged = bytes.clone();
        damaged[offset as usize + 24 + len / 2] ^= 0x10;
        let (evs, stderr) = replay_bytes(&damaged);
        assert!(stderr.contains("checksum"), "{stderr}");
        assert!(is_subsequence(&evs, &full));
        if frames.len() == 1 {
            assert!(evs.is_empty());
        }
    }
    // In every block header: never a panic, the damage is reported. (Losing the host info
    // block moves wall-clock times by the error of a later clock sample: compare without.)
    let untimed = |evs: &[serde_json::Value]| -> Vec<serde_json::Value> {
        evs.iter()
            .map(|e| {
                assert!(
                    e["timestamp"].as_u64().unwrap() > 1_600_000_000_000_000,
                    "{e}"
                );
                // Identity only: a damaged snapshot changes how paths resolve.
                serde_json::json!([e["event_type"], e["pid"], e["tid"], e["syscall"], e["ret"]])
            })
            .collect()
    };
    let full_untimed = untimed(&full);
    for &b in &blocks {
        for at in [0usize, 4, 8, 12, 20] {
            let mut damaged = bytes.clone();
            damaged[b as usize + at] ^= 0x01;
            let (evs, stderr) = replay_bytes(&damaged);
            assert!(
                is_subsequence(&untimed(&evs), &full_untimed),
                "flip at {}",
                b as usize + at
            );
            assert!(
                stderr.contains("warning"),
                "flip at {}: {stderr}",
                b as usize + at
            );
        }
    }
}

#[test]
fn records_go_to_udp_collectors_as_datagrams() {
    // Two collectors on loopback: each gets every record as one NDJSON datagram; one that
    // is not listening stops nothing.
    let a = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = std::net::UdpSocket::bind("[::1]:0").unwrap();
    let down = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let down_addr = down.local_addr().unwrap();
    drop(down);
    for s in [&a, &b] {
        s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
    }
    let trace = fixture("records.kz");
    let collectors = format!(
        "{},{},{}",
        a.local_addr().unwrap(),
        b.local_addr().unwrap(),
        down_addr
    );
    let expected = run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "-m",
        "process",
        "-o",
        "json-min",
    ])
    .stdout;
    let quiet = run_ok(&[
        "replay",
        trace.to_str().unwrap(),
        "-m",
        "process",
        "-u",
        &collectors,
        "-q",
    ]);
    assert!(quiet.stdout.is_empty(), "-q prints nothing");
    let lines: Vec<&[u8]> = expected
        .split(|&c| c == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert!(!lines.is_empty());
    // The exit summary counts every datagram: sent, or refused by reason (the collector
    // that is down refuses those sent after the kernel heard so, as ECONNREFUSED).
    let summary = String::from_utf8_lossy(&quiet.stderr).into_owned();
    let numbers: Vec<usize> = summary
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    assert!(
        summary.starts_with("kellect: warning: -u: ") || summary.starts_with("kellect: -u: "),
        "{summary}"
    );
    let [sent, 3, 20000, refused, nobufs, refused_conn, other] = numbers[..] else {
        panic!("{summary}");
    };
    assert_eq!(sent + refused, 3 * lines.len(), "{summary}");
    assert_eq!((nobufs, refused_conn, other), (0, refused, 0), "{summary}");
    assert!(summary.ends_with("other 0)\n"), "{summary}");
    for socket in [&a, &b] {
        let mut buf = vec![0u8; 65536];
        for line in &lines {
            let (n, _) = socket.recv_from(&mut buf).expect("a datagram per record");
            assert_eq!(&buf[..n], *line);
        }
    }
}

#[test]
fn records_go_to_a_syslog_collector_over_tcp_octet_counted() {
    use std::io::Read as _;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let trace = fixture("records.kz");
    let path = trace.to_str().unwrap();
    let expected = run_ok(&["replay", path, "-m", "process", "-o", "json-min"]).stdout;
    let out = run_ok(&["replay", path, "-m", "process", "--syslog-tcp", &addr, "-q"]);
    assert!(out.stdout.is_empty());
    let lines: Vec<&str> = std::str::from_utf8(&expected)
        .unwrap()
        .lines()
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "kellect: --syslog-tcp {addr}: {} messages sent, 0 not delivered (collector \
             unreachable or the connection lost), 1 connections\n",
            lines.len()
        )
    );
    let (mut conn, _) = listener.accept().unwrap();
    let mut bytes = Vec::new();
    conn.read_to_end(&mut bytes).unwrap();
    let mut rest = &bytes[..];
    for line in &lines {
        let sp = rest.iter().position(|&b| b == b' ').unwrap();
        let len: usize = std::str::from_utf8(&rest[..sp]).unwrap().parse().unwrap();
        let msg = std::str::from_utf8(&rest[sp + 1..sp + 1 + len]).unwrap();
        assert!(msg.starts_with("<134>1 ") && msg.ends_with(line), "{msg}");
        rest = &rest[sp + 1 + len..];
    }
    assert!(rest.is_empty(), "one frame per record");
}

#[test]
fn since_and_until_select_a_time_range() {
    let trace = fixture("catalogue.kz");
    let path = trace.to_str().unwrap();
    let all = events(&trace);
    let ts: Vec<u64> = all
        .iter()
        .map(|e| e["timestamp"].as_u64().unwrap())
        .collect();
    let mid = ts[ts.len() / 2];
    // RFC 3339 with microseconds, from the middle event.
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(mid as i128 * 1000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let range = |args: &[&str]| {
        let mut all = vec!["replay", path, "--view", "events", "-o", "json-min"];
        all.extend_from_slice(args);
        json_lines(&run_ok(&all).stdout)
    };
    let after = range(&["--since", &at]);
    let before = range(&["--until", &at]);
    assert!(!after.is_empty() && !before.is_empty());
    assert!(after
        .iter()
        .all(|e| e["timestamp"].as_u64().unwrap() >= mid));
    assert!(before
        .iter()
        .all(|e| e["timestamp"].as_u64().unwrap() <= mid));
    // Every event is in one half; only those in the middle microsecond can be in both.
    let in_mid = ts.iter().filter(|&&t| t == mid).count();
    let both = after.len() + before.len();
    assert!(
        both >= all.len() && both <= all.len() + in_mid,
        "{} after + {} before for {} events",
        after.len(),
        before.len(),
        all.len()
    );
    // Seconds after the recording started: 0 keeps everything, a day keeps nothing.
    assert_eq!(range(&["--since", "0"]).len(), all.len());
    assert!(range(&["--since", "86400"]).is_empty());
    assert!(range(&["--until", "0"]).len() < all.len());
}

#[test]
fn token_and_max_events_shape_the_records() {
    let trace = fixture("records.kz");
    let path = trace.to_str().unwrap();
    let out = run_ok(&[
        "replay",
        path,
        "-o",
        "json-min",
        "-T",
        "host-42",
        "--max-events",
        "1",
    ]);
    let records = json_lines(&out.stdout);
    assert!(records.iter().all(|r| r["InfoHostToken"] == "host-42"));
    let files: Vec<_> = records
        .iter()
        .filter(|r| r["InfoMonitor"] == "filesystem")
        .collect();
    assert!(!files.is_empty());
    for f in &files {
        assert_eq!(
            f["FileEventCount"], 1,
            "--max-events 1 is no aggregation: {f}"
        );
    }
    // Aggregated, the same events make fewer file records.
    let out = run_ok(&["replay", path, "-o", "json-min", "-m", "file"]);
    assert!(json_lines(&out.stdout).len() < files.len());
}

/// Corrupt records inside frames whose checksums are valid again (as a hostile writer
/// would make them): replay must neither panic nor stop, in either view.
#[test]
fn mutated_records_with_valid_checksums_never_panic() {
    use kellect::format::{Codec, SegmentEncoder};
    use kellect::replayer::render::output::Sink;
    use kellect::replayer::{self, Filter, OutputFormat, RecordsConfig, ReplayConfig, View};

    let original = std::fs::read(fixture("records.kz")).unwrap();
    let reader = TraceReader::new(&original).unwrap();
    let scan = reader.scan();
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..24 {
        let mut enc = SegmentEncoder::new(reader.header(), 1).unwrap();
        for block in &scan.blocks {
            match block.kind {
                BlockKind::Frame => {
                    let (header, mut raw) = kellect::format::decode_frame(block.payload).unwrap();
                    // A few random bytes, and sometimes a length field, changed.
                    for _ in 0..1 + round % 5 {
                        let at = (next() as usize) % raw.len();
                        raw[at] = next() as u8;
                    }
                    if round % 3 == 0 {
                        let at = (next() as usize % (raw.len() / 8)) * 8;
                        raw[at..at + 4].copy_from_slice(&(next() as u32).to_le_bytes());
                    }
                    enc.push_frame(
                        &raw,
                        header.first_ts,
                        header.last_ts,
                        header.record_count,
                        Codec::Zstd,
                    )
                    .unwrap();
                }
                BlockKind::Index | BlockKind::End => {}
                kind => {
                    let payload = block.meta_payload().unwrap();
                    enc.push_meta(kind, &payload, false).unwrap();
                }
            }
        }
        let path = dir.path().join(format!("m{round}.kz"));
        std::fs::write(&path, enc.finish()).unwrap();
        for view in [View::Events, View::Records] {
            let cfg = ReplayConfig {
                inputs: vec![path.clone()],
                format: OutputFormat::JsonMin,
                view,
                filter: Filter::default(),
                records: RecordsConfig::default(),
                budget: Default::default(),
            };
            let mut out = Vec::new();
            let mut sink = Sink::new(Some(&mut out), cfg.format, None);
            replayer::replay(&cfg, &mut sink).expect("a damaged record is a warning, not an error");
            drop(sink);
            for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
                serde_json::from_slice::<serde_json::Value>(line)
                    .expect("valid JSON whatever the bytes");
            }
        }
    }
}
