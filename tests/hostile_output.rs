//! Hostile names in the output: a trace comes from a host that may be compromised, and its
//! file names, arguments and process names reach the analyst's terminal. The table view
//! escapes every control character (one row per record, always) and NDJSON stays valid.
//! Live (root): real files with hostile names, recorded and replayed. Without root: the
//! records fixture (a multi-line `sh -c` script in its argv), and arbitrary bytes fed to
//! every decoder of the replay side (no panic).

use serde_json::Value;

use crate::util::{fixture, json_lines, run_ok};

/// The output properties the fuzz targets check, shared with `arbitrary_bytes`.
#[path = "../fuzz/src/lib.rs"]
mod checks;

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
        // A lone 0x9b is not UTF-8: it shows as its byte's escape (replayer::bytes), never
        // raw.
        (b"raw\x9bbyte", "raw\\x9bbyte"),
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

    /// The JSON keeps the names exactly: UTF-8 as it is; other bytes as `\xNN` in the
    /// text and in hex in the sibling key (`path_bytes`, `FileBytes`: replayer::bytes).
    #[track_caller]
    fn assert_names_in_json(records: &[Value], view: &str) {
        let json = records
            .iter()
            .map(Value::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        for (name, _) in NAMES {
            let text = match std::str::from_utf8(name) {
                Ok(name) => name.to_owned(),
                Err(_) => {
                    let hex: String = name.iter().map(|b| format!("{b:02x}")).collect();
                    assert!(json.contains(&hex), "--view {view}: no {hex} in JSON");
                    name.iter()
                        .map(|&b| match b {
                            b'\\' => "\\\\".to_owned(),
                            b if b.is_ascii() => char::from(b).to_string(),
                            b => format!("\\x{b:02x}"),
                        })
                        .collect()
                }
            };
            let encoded = serde_json::to_string(&text).unwrap();
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

/// Arbitrary bytes to every entry point of the replay side, on the stable toolchain in the
/// normal test run: the fuzz targets' properties (fuzz/src/lib.rs, shared) on a seeded,
/// reproducible stream of inputs. Half are random bytes, half are mutations of the fuzz
/// seeds (fuzz/corpus/); segments are also mutated block by block and resealed with valid
/// checksums (a CRC is not authentication). A failing case prints its input in hex.
mod arbitrary_bytes {
    use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
    use std::path::Path;

    use kellect::format::{
        decode_frame, encode_block, BlockKind, TraceReader, BLOCK_FLAG_COMPRESSED,
    };
    use kellect::meta;
    use kellect::replayer::decode_frame_payload;
    use kellect::replayer::input::decode;
    use kellect::replayer::views::records::protocols::{
        App, Direction, StreamDecoder, Transport, Value,
    };

    use super::checks;

    /// The seed of the stream (KELLECT_PROPERTY_SEED to try another one).
    fn seed() -> u64 {
        std::env::var("KELLECT_PROPERTY_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0x6b65_6c6c_6563_7438)
    }

    /// splitmix64: a small, reproducible source of arbitrary bytes.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n.max(1) as u64) as usize
        }

        fn bytes(&mut self, n: usize) -> Vec<u8> {
            (0..n).map(|_| self.next() as u8).collect()
        }

        /// 1 to 8 mutations: bit flips, interesting bytes and words, cuts, insertions,
        /// repeated ranges.
        fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
            let mut out = seed.to_vec();
            for _ in 0..1 + self.below(8) {
                let at = self.below(out.len() + 1);
                match self.below(6) {
                    0 if at < out.len() => out[at] ^= 1 << self.below(8),
                    1 if at < out.len() => {
                        out[at] = [0, 0xff, 0x7f, 0x80, 0x1b, 0x0a, 0x9b][self.below(7)]
                    }
                    2 if at + 4 <= out.len() => {
                        let word: u32 = [0, u32::MAX, 0x7fff_ffff, 0x8000_0000, 1][self.below(5)];
                        out[at..at + 4].copy_from_slice(&word.to_le_bytes());
                    }
                    3 => out.truncate(at),
                    4 => {
                        let n = self.below(16);
                        let extra = self.bytes(n);
                        out.splice(at..at, extra);
                    }
                    _ if at < out.len() => {
                        let end = (at + self.below(64)).min(out.len());
                        let range = out[at..end].to_vec();
                        out.splice(at..at, range);
                    }
                    _ => {}
                }
            }
            out
        }
    }

    /// The committed seeds of a fuzz target.
    fn corpus(target: &str) -> Vec<Vec<u8>> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/corpus")
            .join(target);
        let mut seeds: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|entry| entry.unwrap().path())
            .collect();
        seeds.sort();
        let seeds: Vec<Vec<u8>> = seeds.iter().map(|p| std::fs::read(p).unwrap()).collect();
        assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
        seeds
    }

    /// `cases` inputs for `target`: random bytes and mutated seeds, alternately.
    fn inputs(target: &str, cases: usize, rng: &mut Rng) -> Vec<Vec<u8>> {
        let seeds = corpus(target);
        let mut out = seeds.clone();
        for case in 0..cases {
            out.push(if case % 2 == 0 {
                let n = rng.below(512);
                rng.bytes(n)
            } else {
                let pick = rng.below(seeds.len());
                rng.mutate(&seeds[pick])
            });
        }
        out
    }

    /// Runs `check` on `input`; if it panics, shows which input did it.
    fn check(what: &str, input: &[u8], check: impl FnOnce(&[u8])) {
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(input))) {
            let hex: String = input.iter().map(|b| format!("{b:02x}")).collect();
            eprintln!(
                "{what}: panicked on {} bytes (seed {}):\n{hex}",
                input.len(),
                seed()
            );
            resume_unwind(panic);
        }
    }

    /// A segment with one block's payload mutated and resealed (a valid CRC over it).
    fn resealed(segment: &[u8], rng: &mut Rng) -> Vec<u8> {
        let Ok(reader) = TraceReader::new(segment) else {
            return segment.to_vec();
        };
        let blocks = reader.scan().blocks;
        let target = rng.below(blocks.len());
        let mut out = segment[..reader.data_offset() as usize].to_vec();
        for (i, block) in blocks.iter().enumerate() {
            let mut payload = block.payload.to_vec();
            if i == target {
                payload = rng.mutate(&payload);
            }
            encode_block(block.kind, block.flags, &payload, &mut out).expect("a small block");
        }
        out
    }

    /// What replay does with a segment, in process: metadata blocks then frames, through
    /// the engine, with the output checked.
    fn replay_segment(bytes: &[u8]) {
        let Ok(reader) = TraceReader::new(bytes) else {
            return;
        };
        let scan = reader.scan();
        let metas: Vec<checks::MetaInput<'_>> = scan
            .blocks
            .iter()
            .filter(|b| b.kind.is_metadata())
            .map(|b| (b.kind, b.flags, b.payload))
            .collect();
        let raws: Vec<Vec<u8>> = scan
            .frames()
            .filter_map(|b| decode_frame(b.payload).ok().map(|(_, raw)| raw))
            .collect();
        for block in scan.frames() {
            let _ = decode_frame_payload(block.payload, |e| e);
        }
        for block in &scan.blocks {
            let _ = block.meta_payload();
            let _ = block.index_entries();
            let _ = block.end_info();
        }
        let frames: Vec<&[u8]> = raws.iter().map(Vec::as_slice).collect();
        checks::replay_and_check(&metas, &frames);
        let _ = reader.end_from_tail();
    }

    #[test]
    fn trace_reader_and_replay_never_panic() {
        let mut rng = Rng(seed());
        let segments = corpus("trace_reader");
        let mut cases = inputs("trace_reader", 300, &mut rng);
        for i in 0..60 {
            let segment = &segments[i % segments.len()];
            cases.push(resealed(segment, &mut rng));
        }
        for input in &cases {
            check("trace reader", input, replay_segment);
        }
    }

    #[test]
    fn record_decoder_never_panics() {
        let mut rng = Rng(seed() ^ 1);
        for input in inputs("records", 300, &mut rng) {
            check("record decoder", &input, |data| {
                let _ = decode::decode_frame(data);
                checks::replay_and_check(&[], &[data]);
            });
        }
    }

    #[test]
    fn metadata_decoder_never_panics() {
        let mut rng = Rng(seed() ^ 2);
        let records = corpus("records");
        for input in inputs("metadata", 300, &mut rng) {
            check("metadata decoder", &input, |data| {
                let [kind, flags, payload @ ..] = data else {
                    return;
                };
                let kind = BlockKind::from_u16(u16::from(*kind));
                let flags = u16::from(*flags) & BLOCK_FLAG_COMPRESSED;
                let _ = meta::decode::<meta::HostInfo>(payload);
                let _ = meta::decode::<meta::ProcSnapshot>(payload);
                let _ = meta::decode::<meta::FdTable>(payload);
                let _ = meta::decode::<meta::Accounts>(payload);
                let _ = meta::decode::<meta::Mounts>(payload);
                let _ = meta::decode::<meta::Interfaces>(payload);
                let _ = meta::decode::<meta::FileFactsBlock>(payload);
                let _ = meta::decode::<meta::Capture>(payload);
                let _ = meta::decode::<meta::Stats>(payload);
                let _ = meta::decode::<meta::ClockSync>(payload);
                if kind.is_metadata() {
                    checks::replay_and_check(&[(kind, flags, payload)], &[&records[0]]);
                }
            });
        }
    }

    #[test]
    fn protocol_decoders_never_panic() {
        let mut rng = Rng(seed() ^ 3);
        for input in inputs("protocols", 600, &mut rng) {
            check("protocol decoders", &input, |data| {
                let Some((&cut, payload)) = data.split_first() else {
                    return;
                };
                for app in [App::Dns, App::Http, App::Syslog] {
                    for transport in [
                        Transport::Udp,
                        Transport::Tcp,
                        Transport::UnixDgram,
                        Transport::UnixStream,
                    ] {
                        let mut decoder = StreamDecoder::new(app, transport, Direction::Rx);
                        let mut elements = Vec::new();
                        for (step, chunk) in payload.chunks(1 + usize::from(cut)).enumerate() {
                            elements.extend(decoder.push(chunk, step as f64 * 0.001));
                        }
                        elements.extend(decoder.finish());
                        for element in elements {
                            assert_eq!(
                                element.keys().next().map(String::as_str),
                                Some("_Timestamp")
                            );
                            let _ = Value::Object(element).to_string();
                        }
                    }
                }
            });
        }
    }
}

/// `kellect info` prints the host name, kernel and command line of the traced host: a trace
/// whose HostInfo carries an OSC title sequence, a screen clear and a newline shows them
/// escaped, on the lines they belong to.
#[test]
fn info_text_escapes_what_the_traced_host_wrote() {
    use kellect::format::{BlockKind, FileHeader, SegmentEncoder};
    use kellect::meta::{self, ClockSample, HostInfo, RecordSettings};

    let clock = ClockSample {
        boot_ns: 1_000_000_000,
        realtime_ns: 1_795_000_000_000_000_000,
    };
    let host = HostInfo {
        kellect_version: "0.1.0\u{1b}[2J".into(),
        abi_version: 1,
        hostname: "evil\u{1b}]0;pwned\u{7}\nrecording   forged".into(),
        sysname: "Linux".into(),
        release: "6.18\u{9b}31m".into(),
        version: "#1".into(),
        machine: "x86_64\r".into(),
        boot_id: String::new(),
        ncpus: 1,
        recorder_pid: 1,
        clock,
        settings: RecordSettings {
            system_wide: false,
            command: vec![
                "sh".into(),
                "-c".into(),
                "echo\u{7f}\ndamage      none".into(),
            ],
            ring_size: 1 << 20,
            frame_size: 1 << 20,
            groups: Vec::new(),
            keep_segments: None,
        },
    };
    let header = FileHeader {
        recording_id: 7,
        segment_index: 0,
        created_realtime_ns: clock.realtime_ns as u64,
    };
    let mut segment = SegmentEncoder::new(&header, 3).unwrap();
    segment
        .push_meta(BlockKind::HostInfo, &meta::encode(&host), false)
        .unwrap();
    segment
        .push_meta(BlockKind::ClockSync, &meta::encode(&clock), false)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("host.kz");
    std::fs::write(&trace, segment.finish()).unwrap();

    let out = run_ok(&["info", trace.to_str().unwrap()]);
    let rows = assert_terminal_safe(&out.stdout, "info");
    let text = rows.join("\n");
    assert_eq!(
        rows.iter().filter(|r| r.starts_with("recording ")).count(),
        1,
        "a forged line:\n{text}"
    );
    assert!(
        text.contains(
            r"host        evil\x1b]0;pwned\x07\nrecording   forged (Linux 6.18\u{9b}31m, x86_64\r)"
        ),
        "{text}"
    );
    assert!(text.contains(r"echo\x7f\ndamage      none"), "{text}");
}
