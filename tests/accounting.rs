//! Honest accounting: a partial replay says what is missing, and a recording accounts for
//! every record the kernel emitted.
//!
//! Replay side (no privileges): a real recording (fixtures/records.kz) is re-encoded with the
//! format module's own writer into several segments and frames, then altered the way a
//! partial copy or a tamperer would (a segment left out, frames deleted and the index
//! rebuilt, frames renumbered, reordered or repeated, files swapped); the `Continuation`
//! block is exercised on segments built with `SegmentEncoder`. Live side (root, BPF):
//! system-wide recordings under load stopped by `--duration`, SIGINT, a command's exit and a
//! closed `live` output, each with emitted = stored + dropped exactly.

use std::path::{Path, PathBuf};

use kellect::format::{self, BlockKind, ChainHead, Codec, FileHeader, SegmentEncoder, TraceReader};
use kellect::meta::{self, Continuation};

use crate::util::{fixture, info, json_lines, kellect};

/// A metadata block as stored: kind, flags, payload.
type MetaBlock = (BlockKind, u16, Vec<u8>);

/// A real recording taken apart: its metadata and its raw records one by one.
struct Source {
    header: FileHeader,
    /// Metadata before the first frame (host, snapshot, …): opens every segment.
    preamble: Vec<MetaBlock>,
    /// Metadata after the first frame (statistics, clocks): ends the last segment.
    tail: Vec<MetaBlock>,
    records: Vec<Vec<u8>>,
}

impl Source {
    fn read(path: &Path) -> Source {
        let bytes = std::fs::read(path).unwrap();
        let reader = TraceReader::new(&bytes).unwrap();
        let scan = reader.scan();
        assert!(scan.is_clean(), "{}: {:?}", path.display(), scan.damage);
        let (mut preamble, mut tail, mut records) = (Vec::new(), Vec::new(), Vec::new());
        for block in &scan.blocks {
            if block.kind == BlockKind::Frame {
                let (_, raw) = format::decode_frame(block.payload).unwrap();
                let mut at = 0;
                while at < raw.len() {
                    let len = u32::from_le_bytes(raw[at + 4..at + 8].try_into().unwrap());
                    records.push(raw[at..at + len as usize].to_vec());
                    at += len as usize;
                }
            } else if block.kind.is_metadata() {
                let m = (block.kind, block.flags, block.payload.to_vec());
                if records.is_empty() {
                    preamble.push(m);
                } else {
                    tail.push(m);
                }
            }
        }
        assert!(records.len() > 100, "the source recording has records");
        Source {
            header: *reader.header(),
            preamble,
            tail,
            records,
        }
    }

    /// The records split evenly into `segments` × `frames` frames, numbered 0, 1, 2, …
    fn plan(&self, segments: usize, frames: usize) -> Vec<PlannedSegment> {
        let chunk = self.records.len().div_ceil(segments * frames);
        let mut chunks = self.records.chunks(chunk);
        let mut seq = 0;
        (0..segments)
            .map(|index| PlannedSegment {
                index: index as u32,
                frames: (0..frames)
                    .filter_map(|_| chunks.next())
                    .map(|records| {
                        seq += 1;
                        PlannedFrame {
                            seq: seq - 1,
                            records: records.to_vec(),
                        }
                    })
                    .collect(),
                continuation: None,
                last: index + 1 == segments,
            })
            .collect()
    }
}

struct PlannedFrame {
    seq: u32,
    records: Vec<Vec<u8>>,
}

struct PlannedSegment {
    index: u32,
    frames: Vec<PlannedFrame>,
    continuation: Option<Continuation>,
    /// Ends with the recording's final statistics.
    last: bool,
}

/// Marks every segment but the last as closed by rotation, as a writer does.
fn with_continuations(mut plan: Vec<PlannedSegment>) -> Vec<PlannedSegment> {
    let mut next_seq = 0;
    for segment in &mut plan {
        next_seq = segment.frames.last().map_or(next_seq, |f| f.seq + 1);
        if !segment.last {
            segment.continuation = Some(Continuation {
                next_segment_index: segment.index + 1,
                next_frame_seq: next_seq,
            });
        }
    }
    plan
}

/// The name a writer gives segment `index` of `t.kz`.
fn segment_name(index: u32) -> String {
    match index {
        0 => "t.kz".to_owned(),
        n => format!("t.{n}.kz"),
    }
}

/// Writes the planned segments into `dir` with the format module's writer (headers, frames,
/// Index and End as the recorder writes them); returns their paths in segment order.
fn write(src: &Source, plan: &[PlannedSegment], dir: &Path) -> Vec<PathBuf> {
    // Each segment links to the one written before it, as the recorder's do.
    let mut prev = ChainHead::ZERO;
    plan.iter()
        .map(|s| {
            let header = FileHeader {
                segment_index: s.index,
                ..src.header
            };
            let mut enc = SegmentEncoder::after(&header, 3, &prev).unwrap();
            for (kind, flags, payload) in &src.preamble {
                enc.push_block(*kind, *flags, payload).unwrap();
            }
            for f in &s.frames {
                let raw: Vec<u8> = f.records.concat();
                let ts = |r: &Vec<u8>| u64::from_le_bytes(r[8..16].try_into().unwrap());
                let first = f.records.iter().map(ts).min().unwrap();
                let last = f.records.iter().map(ts).max().unwrap();
                enc.set_next_seq(f.seq);
                enc.push_frame(&raw, first, last, f.records.len() as u32, Codec::Zstd)
                    .unwrap();
            }
            if s.last {
                for (kind, flags, payload) in &src.tail {
                    enc.push_block(*kind, *flags, payload).unwrap();
                }
            }
            if let Some(c) = &s.continuation {
                enc.push_meta(BlockKind::Continuation, &meta::encode(c), false)
                    .unwrap();
            }
            let path = dir.join(segment_name(s.index));
            let (bytes, head) = enc.finish_chained();
            prev = head.unwrap_or(ChainHead::ZERO);
            std::fs::write(&path, bytes).unwrap();
            path
        })
        .collect()
}

struct Replay {
    code: Option<i32>,
    events: Vec<serde_json::Value>,
    stderr: String,
}

fn replay(files: &[PathBuf]) -> Replay {
    let out = kellect()
        .args([
            "replay",
            "--only-given",
            "--view",
            "events",
            "-o",
            "json-min",
        ])
        .args(files)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "{stderr}");
    Replay {
        code: out.status.code(),
        events: json_lines(&out.stdout),
        stderr,
    }
}

/// `kellect info --json` of files that make up one recording: its damage list.
#[track_caller]
fn damage(files: &[PathBuf]) -> Vec<String> {
    let out = kellect()
        .args(["info", "--json", "--only-given"])
        .args(files)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1, "one recording: {v}");
    v[0]["damage"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_owned())
        .collect()
}

#[track_caller]
fn assert_reported(what: &str, replay: &Replay, damage: &[String]) {
    assert!(
        replay
            .stderr
            .lines()
            .any(|l| l.starts_with("kellect: warning: ") && l.contains(what)),
        "replay does not warn `{what}`:\n{}",
        replay.stderr
    );
    assert!(
        damage.iter().any(|d| d.contains(what)),
        "info does not list `{what}` as damage: {damage:#?}"
    );
}

fn source() -> Source {
    Source::read(&fixture("records.kz"))
}

#[test]
fn the_fixtures_balance_and_report_no_damage() {
    for name in ["process.kz", "catalogue.kz", "records.kz"] {
        let i = info(&fixture(name));
        assert_eq!(i["damage"], serde_json::json!([]), "{name}");
        let emitted = i["kernel_emitted_total"].as_u64().unwrap();
        let stored = i["records_total"].as_u64().unwrap();
        let dropped = i["dropped_total"].as_u64().unwrap();
        assert_eq!(emitted, stored + dropped, "{name}: {i}");
    }
}

#[test]
fn a_recording_split_into_segments_replays_whole_and_quiet() {
    let src = source();
    let dir = tempfile::tempdir().unwrap();
    let files = write(&src, &with_continuations(src.plan(4, 3)), dir.path());
    let whole = replay(&[fixture("records.kz")]);
    let split = replay(&files);
    assert_eq!(split.code, Some(0), "{}", split.stderr);
    assert_eq!(split.stderr, "", "a complete recording gives no warning");
    assert_eq!(
        split.events, whole.events,
        "the same events as the original"
    );
    assert_eq!(damage(&files), Vec::<String>::new());
    // Given in any order on the command line: the file headers decide.
    let mut shuffled = files.clone();
    shuffled.reverse();
    assert_eq!(replay(&shuffled).events, whole.events);
}

#[test]
fn a_missing_segment_is_named_with_its_frames_and_records() {
    let src = source();
    let dir = tempfile::tempdir().unwrap();
    let files = write(&src, &with_continuations(src.plan(4, 3)), dir.path());
    let given = [files[0].clone(), files[1].clone(), files[3].clone()];
    let r = replay(&given);
    assert_eq!(r.code, Some(0), "what is there is replayed: {}", r.stderr);
    let d = damage(&given);
    assert_reported("segment 2 (t.2.kz) is missing", &r, &d);
    assert_reported(
        &format!(
            "frames 6..8 are missing: the next frame present, frame 9 is at byte offset {} of {}",
            frame_offsets(&files[3])[0],
            files[3].display()
        ),
        &r,
        &d,
    );
    let missing: usize = src.plan(4, 3)[2]
        .frames
        .iter()
        .map(|f| f.records.len())
        .sum();
    assert_reported(
        &format!(
            "but {} are stored: {missing} records are missing from the trace",
            src.records.len() - missing
        ),
        &r,
        &d,
    );

    // The first segment left out: the recording started earlier.
    let later = &files[1..];
    let r = replay(later);
    assert_reported("segment 0 (t.kz) is missing", &r, &damage(later));

    // Only the first: the recording announced its next segment.
    let first = &files[..1];
    let r = replay(first);
    assert_reported(
        "the recording continues in segment 1 (t.1.kz), not given",
        &r,
        &damage(first),
    );
}

fn frame_offsets(path: &Path) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap();
    let reader = TraceReader::new(&bytes).unwrap();
    let offsets = reader.scan().frames().map(|b| b.offset).collect();
    offsets
}

#[test]
fn deleted_frames_with_a_rebuilt_index_are_named() {
    let src = source();
    let dir = tempfile::tempdir().unwrap();
    // One segment of twelve frames; frames 3, 4 and 5 deleted and the segment rewritten
    // with a fresh Index and End (the format's own writer), the others keeping their numbers.
    let mut plan = src.plan(1, 12);
    let deleted: usize = plan[0].frames[3..6].iter().map(|f| f.records.len()).sum();
    plan[0].frames.drain(3..6);
    let files = write(&src, &plan, dir.path());
    let bytes = std::fs::read(&files[0]).unwrap();
    assert!(TraceReader::new(&bytes).unwrap().scan().is_clean());
    let r = replay(&files);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let d = damage(&files);
    assert_reported(
        &format!(
            "frames 3..5 are missing: the next frame present, frame 6 is at byte offset {} of {}",
            frame_offsets(&files[0])[3],
            files[0].display()
        ),
        &r,
        &d,
    );
    assert_reported(
        &format!("{deleted} records are missing from the trace"),
        &r,
        &d,
    );
}

#[test]
fn many_gaps_are_listed_up_to_ten_and_counted_beyond() {
    let src = source();
    let dir = tempfile::tempdir().unwrap();
    // Every odd frame of 30 deleted: 14 gaps (the last, 29, leaves none in the numbering).
    let mut plan = src.plan(1, 30);
    plan[0].frames.retain(|f| f.seq % 2 == 0);
    let files = write(&src, &plan, dir.path());
    let d = damage(&files);
    let gaps = d
        .iter()
        .filter(|m| m.contains(" is missing: the next frame present"))
        .count();
    assert_eq!(gaps, 10, "{d:#?}");
    assert!(
        d.iter()
            .any(|m| m == "and 4 more gaps in the frame numbering"),
        "{d:#?}"
    );
}

#[test]
fn frames_deleted_and_renumbered_are_caught_by_the_statistics() {
    let src = source();
    let dir = tempfile::tempdir().unwrap();
    // A careful tamperer renumbers what is left (0, 1, 2, … again): only the kernel's
    // counts in the statistics block show that records are gone.
    let mut plan = src.plan(1, 12);
    let deleted: usize = plan[0].frames[4..7].iter().map(|f| f.records.len()).sum();
    plan[0].frames.drain(4..7);
    for (seq, f) in plan[0].frames.iter_mut().enumerate() {
        f.seq = seq as u32;
    }
    let files = write(&src, &plan, dir.path());
    let r = replay(&files);
    let d = damage(&files);
    assert_eq!(d.len(), 1, "{d:#?}");
    assert_reported(
        &format!(
            "the statistics say {} records emitted (0 more dropped by the kernel, not emitted) \
             and 0 of them lost in user space, but {} are stored: {deleted} records are missing \
             from the trace",
            src.records.len(),
            src.records.len() - deleted
        ),
        &r,
        &d,
    );
    // The last frames deleted: no gap in the numbering, the statistics still tell.
    let mut plan = src.plan(1, 12);
    let deleted: usize = plan[0].frames[10..].iter().map(|f| f.records.len()).sum();
    plan[0].frames.truncate(10);
    let files = write(&src, &plan, dir.path());
    let r = replay(&files);
    assert_reported(
        &format!("{deleted} records are missing from the trace"),
        &r,
        &damage(&files),
    );
}

#[test]
fn swapped_segment_files_replay_in_order_and_reordered_frames_are_named() {
    let src = source();
    let dir = tempfile::tempdir().unwrap();
    let files = write(&src, &with_continuations(src.plan(3, 3)), dir.path());
    let whole = replay(&files);
    // The files of segments 1 and 2 swap names: the headers still say which is which.
    let tmp = dir.path().join("swap");
    std::fs::rename(&files[1], &tmp).unwrap();
    std::fs::rename(&files[2], &files[1]).unwrap();
    std::fs::rename(&tmp, &files[2]).unwrap();
    let swapped = replay(&files);
    assert_eq!(swapped.code, Some(0));
    assert_eq!(swapped.stderr, "", "nothing is missing");
    assert_eq!(swapped.events, whole.events);

    // Frames 4 and 5 swapped inside a segment, and frame 7 written twice.
    let dir = tempfile::tempdir().unwrap();
    let mut plan = src.plan(1, 9);
    plan[0].frames.swap(4, 5);
    let copy = PlannedFrame {
        seq: plan[0].frames[7].seq,
        records: plan[0].frames[7].records.clone(),
    };
    plan[0].frames.insert(8, copy);
    let files = write(&src, &plan, dir.path());
    let offsets = frame_offsets(&files[0]);
    let r = replay(&files);
    let d = damage(&files);
    let name = files[0].display();
    assert_reported(
        &format!(
            "frame 4 is out of order: frame 4 is at byte offset {} of {name}, after frame 5",
            offsets[5]
        ),
        &r,
        &d,
    );
    assert_reported(
        &format!(
            "frame 7 is repeated: frame 7 is at byte offset {} of {name}",
            offsets[8]
        ),
        &r,
        &d,
    );
    assert!(
        !d.iter()
            .any(|m| m.contains("are missing") || m.contains("is missing")),
        "nothing is missing: {d:#?}"
    );
}

#[test]
fn a_segment_given_twice_is_left_out_with_a_warning() {
    let src = source();
    let dir = tempfile::tempdir().unwrap();
    let files = write(&src, &with_continuations(src.plan(2, 2)), dir.path());
    let copy = dir.path().join("copy-of-t.1.kz");
    std::fs::copy(&files[1], &copy).unwrap();
    let given = [files[0].clone(), files[1].clone(), copy.clone()];
    let r = replay(&given);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert_eq!(r.events, replay(&files).events, "the copy adds nothing");
    assert_reported(
        &format!(
            "{} is segment 1 of the recording again (given first as {}): it is left out",
            copy.display(),
            files[1].display()
        ),
        &r,
        &damage(&given),
    );
}

/// A real fork record (from fixtures/records.kz) and its timestamp.
fn fork_record() -> (Vec<u8>, u64) {
    let fork = source()
        .records
        .into_iter()
        .find(|r| u16::from_le_bytes([r[0], r[1]]) == 1)
        .expect("the fixture has a fork record");
    let ts = u64::from_le_bytes(fork[8..16].try_into().unwrap());
    (fork, ts)
}

/// A small segment built from scratch: `frames` frames of one fork record each, numbered
/// from `first_seq`, and optionally a continuation; linked to a predecessor whose final
/// chain head is `prev`.
pub(crate) fn tiny_segment(
    index: u32,
    first_seq: u32,
    frames: u32,
    cont: Option<Continuation>,
    prev: &ChainHead,
) -> Vec<u8> {
    let header = FileHeader {
        recording_id: 0x5eed,
        segment_index: index,
        created_realtime_ns: 1_700_000_000_000_000_000,
    };
    let mut enc = SegmentEncoder::after(&header, 3, prev).unwrap();
    let (fork, ts) = fork_record();
    enc.set_next_seq(first_seq);
    for _ in 0..frames {
        enc.push_frame(&fork, ts, ts, 1, Codec::Zstd).unwrap();
    }
    if let Some(c) = cont {
        enc.push_meta(BlockKind::Continuation, &meta::encode(&c), false)
            .unwrap();
    }
    enc.finish()
}

/// A recording of two segments in `dir`: `cap.kz` (3 frames, its continuation naming
/// the next) and `cap.1.kz` (2 frames); their paths.
pub(crate) fn two_segments(dir: &Path) -> (PathBuf, PathBuf) {
    let first = dir.join("cap.kz");
    let second = dir.join("cap.1.kz");
    let cont = Continuation {
        next_segment_index: 1,
        next_frame_seq: 3,
    };
    let first_bytes = tiny_segment(0, 0, 3, Some(cont), &ChainHead::ZERO);
    let first_head = format::verify_segment(&first_bytes).chain_head.unwrap();
    std::fs::write(&first, first_bytes).unwrap();
    std::fs::write(&second, tiny_segment(1, 3, 2, None, &first_head)).unwrap();
    (first, second)
}

#[test]
fn a_continuation_names_the_segment_not_given() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = two_segments(dir.path());

    let alone = [first.clone()];
    let r = replay(&alone);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    let alone_info =
        crate::util::run_ok(&["info", "--json", "--only-given", first.to_str().unwrap()]);
    let alone_info: serde_json::Value = serde_json::from_slice(&alone_info.stdout).unwrap();
    assert_eq!(alone_info[0]["records_total"], 3);
    assert_reported(
        "the recording continues in segment 1 (cap.1.kz), not given",
        &r,
        &damage(&alone),
    );

    let both = [first.clone(), second.clone()];
    let r = replay(&both);
    assert_eq!(r.stderr, "", "the next segment is given");
    assert_eq!(damage(&both), Vec::<String>::new());

    // The continuation says frame 5 comes next, but the segment stops at frame 2.
    let cut = dir.path().join("cut.kz");
    let cont = Continuation {
        next_segment_index: 1,
        next_frame_seq: 5,
    };
    std::fs::write(&cut, tiny_segment(0, 0, 3, Some(cont), &ChainHead::ZERO)).unwrap();
    let r = replay(std::slice::from_ref(&cut));
    assert_reported(
        &format!(
            "frames 3..4 are missing at the end of {} (its continuation block says the next \
             frame is 5)",
            cut.display()
        ),
        &r,
        &damage(std::slice::from_ref(&cut)),
    );
    assert!(r
        .stderr
        .contains("continues in segment 1 (cut.1.kz), not given"));
}

#[test]
fn a_replay_that_recovers_nothing_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    // A segment with no frame at all.
    let empty = dir.path().join("empty.kz");
    std::fs::write(&empty, tiny_segment(0, 0, 0, None, &ChainHead::ZERO)).unwrap();
    let r = replay(std::slice::from_ref(&empty));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "kellect: error: nothing was recovered: no data frame of {} could be decoded",
            empty.display()
        )),
        "{}",
        r.stderr
    );
    // A real recording whose only frame is damaged: the checksum warning, then the error.
    let mut bytes = std::fs::read(fixture("process.kz")).unwrap();
    let offsets = frame_offsets(&fixture("process.kz"));
    assert_eq!(offsets.len(), 1);
    bytes[offsets[0] as usize + 24 + 100] ^= 0x40;
    let damaged = dir.path().join("damaged.kz");
    std::fs::write(&damaged, &bytes).unwrap();
    let r = replay(std::slice::from_ref(&damaged));
    assert_eq!(r.code, Some(1), "{}", r.stderr);
    assert!(r.stderr.contains("checksum"), "{}", r.stderr);
    assert!(r.stderr.contains("nothing was recovered"), "{}", r.stderr);
    assert!(r.events.is_empty());
    // One good input among several is enough.
    let r = replay(&[damaged, fixture("catalogue.kz")]);
    assert_eq!(r.code, Some(0), "{}", r.stderr);
}

#[test]
fn statistics_from_a_hostile_trace_are_added_without_overflow() {
    // One stored record, and two counters of u64::MAX: a clear mismatch, no overflow panic.
    let header = FileHeader {
        recording_id: 0xbad,
        segment_index: 0,
        created_realtime_ns: 1_700_000_000_000_000_000,
    };
    let (fork, ts) = fork_record();
    let mut enc = SegmentEncoder::new(&header, 3).unwrap();
    enc.push_frame(&fork, ts, ts, 1, Codec::Zstd).unwrap();
    let stats = meta::Stats {
        at: meta::ClockSample {
            boot_ns: ts,
            realtime_ns: 1_700_000_000_000_000_000,
        },
        counters: (0..2)
            .map(|cpu| meta::KindCounters {
                cpu,
                kind: 1,
                emitted: u64::MAX,
                dropped: u64::MAX,
            })
            .collect(),
        user_dropped: 0,
    };
    enc.push_meta(BlockKind::Stats, &meta::encode(&stats), false)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.kz");
    std::fs::write(&path, enc.finish()).unwrap();
    let r = replay(std::slice::from_ref(&path));
    assert_reported(
        &format!(
            "the statistics say {} records emitted ({} more dropped",
            u64::MAX,
            u64::MAX
        ),
        &r,
        &damage(std::slice::from_ref(&path)),
    );
}

/// Live: every record the kernel emitted is stored or counted as dropped, at any stop.
#[cfg(feature = "record")]
mod live {
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::sync::{Mutex, MutexGuard};
    use std::time::Duration;

    use crate::live::live;
    use crate::util::{info, kellect};

    /// One load at a time: the machine is shared with the other live tests, whose
    /// recorders must still start in time.
    static ONE_LOAD: Mutex<()> = Mutex::new(());

    /// A busy workload (a `find /usr` loop, at the lowest priority) in its own process
    /// group, stopped on drop.
    struct Load {
        child: Child,
        _turn: MutexGuard<'static, ()>,
    }

    impl Load {
        fn start() -> Load {
            use std::os::unix::process::CommandExt;
            let turn = ONE_LOAD.lock().unwrap_or_else(|e| e.into_inner());
            let child = Command::new("nice")
                .args(["-n", "19", "sh", "-c"])
                .arg("while :; do find /usr >/dev/null 2>&1; done")
                .process_group(0)
                .spawn()
                .unwrap();
            Load { child, _turn: turn }
        }
    }

    impl Drop for Load {
        fn drop(&mut self) {
            let group = format!("-{}", self.child.id());
            let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
            let _ = self.child.wait();
        }
    }

    /// Every record the kernel produced is stored or counted as dropped, exactly, on a trace
    /// with real load in it. The kernel counts a record it wrote into the ring buffer as
    /// emitted and one it could not as dropped (not emitted); user space counts emitted
    /// records it could not store (part of `dropped_total`).
    #[track_caller]
    fn assert_balanced(trace: &Path, at_least: u64) {
        let i = info(trace);
        let u = |v: &serde_json::Value| v.as_u64().unwrap() as i128;
        let kernel_dropped: i128 = i["kernel_dropped"]
            .as_object()
            .unwrap()
            .values()
            .map(u)
            .sum();
        let produced = u(&i["kernel_emitted_total"]) + kernel_dropped;
        let stored = u(&i["records_total"]);
        let dropped = u(&i["dropped_total"]);
        eprintln!(
            "{}: produced {produced}, stored {stored}, dropped {dropped}",
            trace.display()
        );
        assert!(produced >= at_least as i128, "the load was recorded: {i}");
        assert_eq!(
            produced - stored - dropped,
            0,
            "produced - stored - dropped: {i}"
        );
        assert_eq!(i["damage"], serde_json::json!([]), "{i}");
    }

    #[test]
    fn duration_stop_under_load_loses_nothing_uncounted() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.kz");
        let load = Load::start();
        let out = kellect()
            .arg("record")
            .arg("-o")
            .arg(&trace)
            .args(["--duration", "3s"])
            .output()
            .unwrap();
        drop(load);
        assert!(out.status.success(), "{out:?}");
        assert_balanced(&trace, 20_000);
    }

    #[test]
    fn sigint_stop_under_load_loses_nothing_uncounted() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.kz");
        let load = Load::start();
        let recorder = kellect()
            .arg("record")
            .arg("-o")
            .arg(&trace)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // SIGINT before the recorder has its handler would just kill it: wait for a frame.
        crate::util::wait_for_a_frame(&trace);
        std::thread::sleep(Duration::from_millis(1500));
        let sent = Command::new("kill")
            .args(["-INT", &recorder.id().to_string()])
            .status()
            .unwrap();
        assert!(sent.success());
        let out = recorder.wait_with_output().unwrap();
        drop(load);
        assert!(out.status.success(), "{out:?}");
        assert_balanced(&trace, 20_000);
    }

    #[test]
    fn command_exit_stop_under_load_loses_nothing_uncounted() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.kz");
        let load = Load::start();
        // System-wide while the command runs: the load goes on as the recording stops.
        let out = kellect()
            .arg("record")
            .arg("-o")
            .arg(&trace)
            .args([
                "-a",
                "--",
                "sh",
                "-c",
                "find /usr >/dev/null 2>&1; sleep 1; exit 3",
            ])
            .output()
            .unwrap();
        drop(load);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert_balanced(&trace, 20_000);
    }

    #[test]
    fn live_output_closed_stop_under_load_loses_nothing_uncounted() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("t.kz");
        let load = Load::start();
        // `kellect live … | head -c 1`: the reader goes away after the first byte.
        let mut live = kellect()
            .arg("live")
            .arg("-w")
            .arg(&trace)
            .args(["--view", "events", "-o", "json-min"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut stdout = live.stdout.take().unwrap();
        // Counted from the first frame, not from the start: loading the programs takes a
        // while on a busy machine, and the load must be recorded for a while.
        crate::util::wait_for_a_frame(&trace);
        std::thread::sleep(Duration::from_millis(2000));
        let mut first = [0u8; 1];
        std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
        drop(stdout);
        let status = live.wait().unwrap();
        drop(load);
        assert!(
            status.success(),
            "a closed output is a normal end: {status}"
        );
        assert_balanced(&trace, 20_000);
    }
}
