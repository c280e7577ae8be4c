//! `kellect verify` and the hash chain of format version 2: intact traces verify; changed,
//! deleted, swapped and cut traces, and missing or foreign segments, fail with the place
//! named. Traces come from the real writer (`SegmentEncoder`) and, as root, from real
//! recordings; tampering is done the way a user with the version 1 tools would: every
//! CRC recomputed, Index and End rebuilt.

use std::path::{Path, PathBuf};

use serde_json::Value;

use kellect::format::{
    self, decode_frame, encode_frame, BlockKind, ChainHead, Codec, EndInfo, FileHeader, IndexEntry,
    SegmentEncoder, TraceReader, BLOCK_HEADER_LEN,
};

use crate::util::{fixture, kellect};

/// A block taken apart: what a rebuild needs.
#[derive(Clone)]
struct Part {
    kind: BlockKind,
    flags: u16,
    /// The link field (block header bytes 16..20), kept as it was.
    link: [u8; 4],
    payload: Vec<u8>,
}

/// The file header bytes and every block of a clean segment.
fn take_apart(bytes: &[u8]) -> (Vec<u8>, Vec<Part>) {
    let reader = TraceReader::new(bytes).unwrap();
    let scan = reader.scan();
    assert!(scan.is_clean(), "{:?}", scan.damage);
    let header = bytes[..reader.data_offset() as usize].to_vec();
    let parts = scan
        .blocks
        .iter()
        .map(|b| {
            let at = b.offset as usize;
            Part {
                kind: b.kind,
                flags: b.flags,
                link: bytes[at + 16..at + 20].try_into().unwrap(),
                payload: b.payload.to_vec(),
            }
        })
        .collect();
    (header, parts)
}

/// A block header with `link`, every CRC recomputed.
fn block_bytes(p: &Part) -> Vec<u8> {
    let mut h = Vec::with_capacity(BLOCK_HEADER_LEN + p.payload.len());
    h.extend_from_slice(b"BKLK");
    h.extend_from_slice(&p.kind.as_u16().to_le_bytes());
    h.extend_from_slice(&p.flags.to_le_bytes());
    h.extend_from_slice(&(p.payload.len() as u32).to_le_bytes());
    h.extend_from_slice(&crc32c::crc32c(&p.payload).to_le_bytes());
    h.extend_from_slice(&p.link);
    let crc = crc32c::crc32c(&h[..20]);
    h.extend_from_slice(&crc.to_le_bytes());
    h.extend_from_slice(&p.payload);
    h
}

/// Puts a segment back together as a careful user of the version 1 format would after an
/// edit: blocks with their CRCs recomputed, a fresh Index of the frames where they now
/// are, and an End block with the right counts (its chain head kept as it was).
fn rebuild(header: &[u8], parts: &[Part]) -> Vec<u8> {
    let mut out = header.to_vec();
    let mut entries = Vec::new();
    let mut records = 0u64;
    let mut old_end = None;
    let mut index_link = [0; 4];
    let mut end_link = [0; 4];
    for p in parts {
        match p.kind {
            BlockKind::Index => index_link = p.link,
            BlockKind::End => {
                old_end = Some(EndInfo::decode(&p.payload).unwrap());
                end_link = p.link;
            }
            _ => {
                if p.kind == BlockKind::Frame {
                    let (h, _) = decode_frame(&p.payload).unwrap();
                    entries.push(IndexEntry::new(out.len() as u64, &h));
                    records += u64::from(h.record_count);
                }
                out.extend_from_slice(&block_bytes(p));
            }
        }
    }
    let index_offset = out.len() as u64;
    let mut index = (entries.len() as u32).to_le_bytes().to_vec();
    for e in &entries {
        index.extend_from_slice(&e.encode());
    }
    out.extend_from_slice(&block_bytes(&Part {
        kind: BlockKind::Index,
        flags: 0,
        link: index_link,
        payload: index,
    }));
    let end = EndInfo {
        frames: entries.len() as u64,
        records,
        index_offset: Some(index_offset),
        chain_head: old_end.unwrap().chain_head,
    };
    out.extend_from_slice(&block_bytes(&Part {
        kind: BlockKind::End,
        flags: 0,
        link: end_link,
        payload: end.encode(),
    }));
    out
}

/// Raw records holding a recognisable path, so an edit has something to change.
fn records_with_path(seed: u8, n: usize) -> Vec<u8> {
    let mut raw = Vec::new();
    for i in 0..n {
        raw.extend_from_slice(&[seed, i as u8, 0, 0]);
        raw.extend_from_slice(b"/etc/passwd\0");
    }
    raw
}

const RECORDING: u64 = 0x5eed_0000_1234_5678;

/// A segment of recording `id` with metadata and six zstd frames (seq continues from
/// `first_seq`), linked to `prev`; returns its bytes and final chain head.
fn segment(id: u64, index: u32, prev: &ChainHead, first_seq: u32) -> (Vec<u8>, ChainHead) {
    let header = FileHeader {
        recording_id: id,
        segment_index: index,
        created_realtime_ns: 1_750_000_000_000_000_000 + u64::from(index),
    };
    let mut enc = SegmentEncoder::after(&header, 3, prev).unwrap();
    enc.set_next_seq(first_seq);
    enc.push_meta(BlockKind::HostInfo, b"host", false).unwrap();
    enc.push_meta(BlockKind::Snapshot, &[7; 3000], true)
        .unwrap();
    for f in 0..6u64 {
        let ts = 1_000 * (u64::from(index) * 10 + f + 1);
        enc.push_frame(
            &records_with_path(f as u8, 20),
            ts,
            ts + 500,
            20,
            Codec::Zstd,
        )
        .unwrap();
    }
    enc.push_meta(BlockKind::Stats, b"stats", false).unwrap();
    let (bytes, head) = enc.finish_chained();
    (bytes, head.unwrap())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// `kellect verify --json FILES`: the exit code and the report.
#[track_caller]
fn verify_json(files: &[&Path]) -> (i32, Value) {
    let out = kellect()
        .arg("verify")
        .arg("--json")
        .args(files)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify --json: {e}\nstdout:{}\nstderr:{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap(), v)
}

/// `kellect verify FILES` as text: the exit code and stdout.
#[track_caller]
fn verify_text(files: &[&Path]) -> (i32, String) {
    let out = kellect().arg("verify").args(files).output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Offsets of the Frame blocks of a segment.
fn frame_offsets(bytes: &[u8]) -> Vec<u64> {
    TraceReader::new(bytes)
        .unwrap()
        .scan()
        .frames()
        .map(|b| b.offset)
        .collect()
}

#[track_caller]
fn assert_failed_at(v: &Value, offset: u64, problem: &str, frame: Option<u64>) {
    let f = &v["files"][0];
    assert_eq!(f["status"], "failed", "{v:#}");
    assert_eq!(f["offset"], offset, "{v:#}");
    assert_eq!(f["problem"]["kind"], problem, "{v:#}");
    if let Some(frame) = frame {
        assert_eq!(f["frame"], frame, "{v:#}");
    }
}

#[test]
fn an_intact_segment_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, head) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let path = write(dir.path(), "t.kz", &bytes);
    let (code, v) = verify_json(&[&path]);
    assert_eq!(code, 0, "{v:#}");
    let f = &v["files"][0];
    assert_eq!(f["status"], "intact");
    assert_eq!(f["version"], 2);
    assert_eq!(f["frames_verified"], 6);
    assert_eq!(f["verified_up_to"], bytes.len() as u64);
    assert_eq!(f["chain_head"], head.to_string());
    assert_eq!(v["result"], "intact");
    let (code, text) = verify_text(&[&path]);
    assert_eq!(code, 0);
    assert!(
        text.contains(&format!(
            "intact: 11 blocks, 6 frames verified; chain head {head}"
        )),
        "{text}"
    );
}

#[test]
fn a_flipped_byte_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bytes, _) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let frames = frame_offsets(&bytes);
    let at = frames[3] as usize + BLOCK_HEADER_LEN + 40;
    bytes[at] ^= 0x04;
    let path = write(dir.path(), "t.kz", &bytes);
    let (code, v) = verify_json(&[&path]);
    assert_eq!(code, 1, "{v:#}");
    // The damaged block is the fourth frame: the walk stops right before it.
    assert_failed_at(&v, frames[3], "damaged", Some(2));
    assert_eq!(v["files"][0]["block"], "Frame");
    assert_eq!(v["files"][0]["verified_up_to"], frames[3]);
    let (_, text) = verify_text(&[&path]);
    assert!(
        text.contains(&format!("FAILED at byte offset {}", frames[3])),
        "{text}"
    );
}

#[test]
fn an_edited_record_with_every_crc_recomputed_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let frames = frame_offsets(&bytes);
    let (header, mut parts) = take_apart(&bytes);
    let k = parts
        .iter()
        .enumerate()
        .filter(|(_, p)| p.kind == BlockKind::Frame)
        .nth(2)
        .unwrap()
        .0;
    edit_path(&mut parts[k], b"/etc/passwd", b"/etc/shadow");
    let edited = rebuild(&header, &parts);
    // The user's tools see nothing wrong.
    assert!(TraceReader::new(&edited).unwrap().scan().is_clean());
    let path = write(dir.path(), "t.kz", &edited);
    let (code, v) = verify_json(&[&path]);
    assert_eq!(code, 1, "{v:#}");
    assert_failed_at(&v, frames[2], "altered", Some(2));
    assert_eq!(v["files"][0]["first_ts"], 3_000);
    assert_eq!(v["files"][0]["last_ts"], 3_500);
}

/// Decompresses a frame, replaces `from` by `to` in its first record, recompresses.
fn edit_path(part: &mut Part, from: &[u8], to: &[u8]) {
    let (h, mut raw) = decode_frame(&part.payload).unwrap();
    let at = raw
        .windows(from.len())
        .position(|w| w == from)
        .expect("the path is in the frame");
    raw.splice(at..at + from.len(), to.iter().copied());
    let h = format::FrameHeader {
        raw_len: raw.len() as u32,
        ..h
    };
    let mut c = zstd::bulk::Compressor::new(3).unwrap();
    part.payload = encode_frame(&h, &raw, &mut c).unwrap();
}

#[test]
fn a_deleted_frame_with_a_rebuilt_index_and_end_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let frames = frame_offsets(&bytes);
    let (header, mut parts) = take_apart(&bytes);
    let k = parts
        .iter()
        .position(|p| p.kind == BlockKind::Frame)
        .unwrap()
        + 1;
    parts.remove(k); // frame 1
    let edited = rebuild(&header, &parts);
    assert!(TraceReader::new(&edited).unwrap().scan().is_clean());
    let path = write(dir.path(), "t.kz", &edited);
    let (code, v) = verify_json(&[&path]);
    assert_eq!(code, 1, "{v:#}");
    // Frame 2 now sits where frame 1 was.
    assert_failed_at(&v, frames[1], "missing", Some(2));
    assert_eq!(v["files"][0]["problem"]["from"], 1);
    assert_eq!(v["files"][0]["problem"]["to"], 1);
}

#[test]
fn two_swapped_frames_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let frames = frame_offsets(&bytes);
    let (header, mut parts) = take_apart(&bytes);
    let first = parts
        .iter()
        .position(|p| p.kind == BlockKind::Frame)
        .unwrap();
    parts.swap(first + 3, first + 4);
    let edited = rebuild(&header, &parts);
    let path = write(dir.path(), "t.kz", &edited);
    let (code, v) = verify_json(&[&path]);
    assert_eq!(code, 1, "{v:#}");
    assert_failed_at(&v, frames[3], "reordered", Some(4));
    assert_eq!(v["files"][0]["problem"]["expected"], 3);
}

#[test]
fn a_repeated_frame_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let frames = frame_offsets(&bytes);
    let (header, mut parts) = take_apart(&bytes);
    let first = parts
        .iter()
        .position(|p| p.kind == BlockKind::Frame)
        .unwrap();
    let copy = parts[first + 1].clone();
    parts.insert(first + 2, copy);
    let edited = rebuild(&header, &parts);
    let path = write(dir.path(), "t.kz", &edited);
    let (code, v) = verify_json(&[&path]);
    assert_eq!(code, 1, "{v:#}");
    assert_failed_at(&v, frames[2], "repeated", Some(1));
}

#[test]
fn a_cut_segment_verifies_up_to_its_last_complete_block() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, _) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let reader = TraceReader::new(&bytes).unwrap();
    let ends: Vec<u64> = reader
        .scan()
        .blocks
        .iter()
        .map(|b| b.offset + b.block_len())
        .collect();
    // Cuts at pseudo-random bytes past the file header (and at a block boundary).
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut cuts = vec![ends[4] as usize];
    for _ in 0..12 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        cuts.push(88 + (x as usize) % (bytes.len() - 88 - 1));
    }
    for cut in cuts {
        let mut cut_bytes = bytes[..cut].to_vec();
        // Half of them with the zero tail a preallocated file leaves (which completes a
        // block whose last bytes were zeros anyway).
        let mut reach = cut;
        if cut % 2 == 0 {
            cut_bytes.resize(cut + 4096, 0);
            reach += bytes[cut..].iter().take_while(|&&b| b == 0).count();
        }
        let path = write(dir.path(), "cut.kz", &cut_bytes);
        let last_complete = ends
            .iter()
            .copied()
            .filter(|&e| e <= reach as u64)
            .max()
            .unwrap_or(88);
        let (code, v) = verify_json(&[&path]);
        assert_eq!(code, 3, "cut {cut}: {v:#}");
        assert_eq!(v["result"], "cut");
        let f = &v["files"][0];
        assert_eq!(f["status"], "cut", "cut {cut}: {v:#}");
        assert_eq!(f["at"], last_complete, "cut {cut}: {v:#}");
        assert_eq!(f["verified_up_to"], last_complete, "cut {cut}");
        let (_, text) = verify_text(&[&path]);
        assert!(
            text.contains(&format!("cut at byte offset {last_complete}")),
            "{text}"
        );
    }
}

#[test]
fn rotated_segments_link_and_a_missing_or_foreign_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let (s0, h0) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let (s1, h1) = segment(RECORDING, 1, &h0, 6);
    let (s2, _) = segment(RECORDING, 2, &h1, 12);
    let p0 = write(dir.path(), "t.kz", &s0);
    let p1 = write(dir.path(), "t.1.kz", &s1);
    let p2 = write(dir.path(), "t.2.kz", &s2);
    let (code, v) = verify_json(&[&p2, &p0, &p1]);
    assert_eq!(code, 0, "{v:#}");
    assert_eq!(v["links"], serde_json::json!([]));

    // The middle segment is missing.
    let (code, v) = verify_json(&[&p0, &p2]);
    assert_eq!(code, 1, "{v:#}");
    let link = &v["links"][0];
    assert_eq!(link["kind"], "missing_segments", "{v:#}");
    assert_eq!(
        (link["from"].as_u64(), link["to"].as_u64()),
        (Some(1), Some(1))
    );
    let (_, text) = verify_text(&[&p0, &p2]);
    assert!(text.contains("segment 1 is missing before"), "{text}");

    // A segment of another recording in its place: the recording still misses segment 1.
    let (other, _) = segment(0xabcd, 1, &ChainHead([9; 32]), 6);
    let px = write(dir.path(), "x.1.kz", &other);
    let (code, v) = verify_json(&[&p0, &px, &p2]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["links"][0]["kind"], "missing_segments", "{v:#}");

    // The same, with the recording id forged: the chain links do not hold.
    let (forged, _) = segment(RECORDING, 1, &ChainHead([9; 32]), 6);
    let pf = write(dir.path(), "f.1.kz", &forged);
    let (code, v) = verify_json(&[&p0, &pf, &p2]);
    assert_eq!(code, 1, "{v:#}");
    let links = v["links"].as_array().unwrap();
    assert_eq!(links.len(), 2, "{v:#}");
    assert_eq!(links[0]["kind"], "broken_link");
    assert_eq!(links[0]["segment_index"], 1);
    assert_eq!(links[0]["expected"], h0.to_string());
    assert_eq!(links[1]["segment_index"], 2);
    // Each segment alone is intact: only the links fail.
    for f in v["files"].as_array().unwrap() {
        assert_eq!(f["status"], "intact", "{v:#}");
    }
}

#[test]
fn version_1_traces_have_no_chain() {
    let process = fixture("process.kz");
    let (code, text) = verify_text(&[&process]);
    assert_eq!(code, 1);
    assert!(text.contains("format v1: no hash chain"), "{text}");
    let (code, v) = verify_json(&[&process]);
    assert_eq!(code, 1);
    assert_eq!(v["files"][0]["status"], "no_chain");
    assert_eq!(v["files"][0]["version"], 1);
}

#[test]
fn usage_errors_and_unreadable_files() {
    let out = kellect().arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = kellect()
        .args(["verify", "/nonexistent/t.kz"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let dir = tempfile::tempdir().unwrap();
    let junk = write(dir.path(), "junk.kz", b"not a trace at all");
    let (code, v) = verify_json(&[&junk]);
    assert_eq!(code, 1, "{v:#}");
    assert_eq!(v["files"][0]["problem"]["kind"], "unreadable");
}

#[test]
fn replay_and_info_warn_when_the_chain_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, head) = segment(RECORDING, 0, &ChainHead::ZERO, 0);
    let good = write(dir.path(), "good.kz", &bytes);
    let out = kellect().args(["info"]).arg(&good).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(&format!("chain head {head}")), "{text}");

    let (header, mut parts) = take_apart(&bytes);
    let first = parts
        .iter()
        .position(|p| p.kind == BlockKind::Frame)
        .unwrap();
    parts.swap(first, first + 1);
    let bad = write(dir.path(), "bad.kz", &rebuild(&header, &parts));
    let out = kellect().args(["info"]).arg(&bad).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(all.contains("fails the hash chain check"), "{all}");
    // replay still prints what it can (the records are not decodable kernel records here,
    // so only the warning is checked).
    let out = kellect().args(["replay", "-q"]).arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("fails the hash chain check"), "{stderr}");
}

/// A sealed segment made by the writer (no root): a Custody block, frames, a seal per
/// epoch, a Stop block and the segment-end seal, with a key made `epochs` epochs ago.
fn sealed_fixture(dir: &Path, epochs: u64) -> (PathBuf, PathBuf, Vec<u8>) {
    use kellect::format::SealingKeyFile;
    let (sp, vp) = (dir.join("s.key"), dir.join("v.key"));
    let interval = 10_000_000_000u64;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let start = now - epochs * interval;
    kellect::format::keygen(&sp, &vp, start, interval).unwrap();
    let (_, mut key) = SealingKeyFile::load(&sp).unwrap();
    let header = FileHeader {
        recording_id: RECORDING,
        segment_index: 0,
        created_realtime_ns: start + 1,
    };
    let custody = kellect::meta::Custody {
        exe_sha256: "c0".repeat(32),
        kellect_version: "0.1.0".into(),
        build: "git 0123456789ab, record and replay".into(),
        hostname: "evidence-host".into(),
        machine_id: "3d1219c7c4c5404aaa1f6d2a48adfda4".into(),
        boot_id: "3125d274-2f31-4684-bf00-6a5ff1058ad6".into(),
        kernel_release: "6.18.0".into(),
        command_line: vec![
            "kellect".into(),
            "record".into(),
            "--note".into(),
            "case 9".into(),
        ],
        note: Some("case 9".into()),
        started_realtime_ns: (start + 1) as i64,
        seal: Some(kellect::meta::SealParams {
            key_id: key.key_id().0,
            start_ns: start,
            interval_ns: interval,
        }),
    };
    let mut enc = SegmentEncoder::new(&header, 3).unwrap();
    enc.push_meta(BlockKind::HostInfo, b"host", false).unwrap();
    enc.push_meta(BlockKind::Custody, &kellect::meta::encode(&custody), false)
        .unwrap();
    for e in 0..epochs {
        let ts = 1_000 * (e + 1);
        enc.push_frame(
            &records_with_path(e as u8, 20),
            ts,
            ts + 500,
            20,
            Codec::Zstd,
        )
        .unwrap();
        key.evolve_to(e);
        let seal = key.seal(enc.chain_head().unwrap());
        enc.push_block(BlockKind::Seal, 0, &seal.encode()).unwrap();
    }
    let stop = kellect::meta::Stop {
        stopped_realtime_ns: (now - 1) as i64,
        reason: "SIGINT".into(),
    };
    enc.push_meta(BlockKind::Stop, &kellect::meta::encode(&stop), false)
        .unwrap();
    let seal = key.seal(enc.chain_head().unwrap());
    enc.push_block(BlockKind::Seal, 0, &seal.encode()).unwrap();
    let bytes = enc.finish();
    (write(dir, "sealed.kz", &bytes), vp, bytes)
}

#[test]
fn a_sealed_trace_verifies_with_its_key_and_info_shows_its_custody() {
    let dir = tempfile::tempdir().unwrap();
    let (trace, vk, bytes) = sealed_fixture(dir.path(), 4);
    let out = kellect()
        .args(["verify", "--json", "--key"])
        .arg(&vk)
        .arg(&trace)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{v:#}");
    assert_eq!(v["files"][0]["seal_state"], "verified", "{v:#}");
    assert_eq!(v["files"][0]["seals"].as_array().unwrap().len(), 5);
    let (code, v) = verify_json(&[&trace]);
    assert_eq!(
        (code, &v["files"][0]["seal_state"]),
        (0, &Value::from("unverified"))
    );
    let (code, text) = verify_text(&[&trace]);
    assert_eq!(code, 0);
    assert!(text.contains("5 seals present, not verified"), "{text}");

    // A frame edited and the whole chain recomputed by someone without the key: the chain
    // passes, the first seal after the edit does not.
    let reader = TraceReader::new(&bytes).unwrap();
    let mut enc = SegmentEncoder::new(reader.header(), 3).unwrap();
    let mut seals = Vec::new();
    for b in &reader.scan().blocks {
        match b.kind {
            BlockKind::Index | BlockKind::End => {}
            BlockKind::Frame => {
                let (h, mut raw) = decode_frame(b.payload).unwrap();
                if h.seq == 1 {
                    raw[5] ^= 1;
                }
                enc.push_frame(&raw, h.first_ts, h.last_ts, h.record_count, Codec::Zstd)
                    .unwrap();
            }
            BlockKind::Seal => {
                let mut seal = kellect::format::Seal::decode(b.payload).unwrap();
                seal.head = enc.chain_head().unwrap();
                seals.push(enc.push_block(BlockKind::Seal, 0, &seal.encode()).unwrap());
            }
            kind => {
                enc.push_block(kind, b.flags, b.payload).unwrap();
            }
        }
    }
    let forged = write(dir.path(), "forged.kz", &enc.finish());
    let (code, _) = verify_json(&[&forged]);
    assert_eq!(code, 0, "without a key, a recomputed chain passes");
    let out = kellect()
        .args(["verify", "--json", "--key"])
        .arg(&vk)
        .arg(&forged)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(1), "{v:#}");
    assert_failed_at(&v, seals[1], "bad_seal", Some(1));
    // A verification key that is not one, and one that does not exist.
    let (code, _) = {
        let out = kellect()
            .args(["verify", "--key"])
            .arg(&trace)
            .arg(&trace)
            .output()
            .unwrap();
        (out.status.code().unwrap(), ())
    };
    assert_eq!(code, 1, "a trace is not a key");
    let out = kellect()
        .args(["verify", "--key", "/nonexistent/v.key"])
        .arg(&trace)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));

    // info: every custody fact, in text and JSON.
    let out = kellect()
        .args(["info", "--json"])
        .arg(&trace)
        .output()
        .unwrap();
    assert!(out.status.success());
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = &info[0]["custody"];
    assert_eq!(c["recorder_sha256"], "c0".repeat(32));
    assert_eq!(c["build"], "git 0123456789ab, record and replay");
    assert_eq!(c["hostname"], "evidence-host");
    assert_eq!(c["machine_id"], "3d1219c7c4c5404aaa1f6d2a48adfda4");
    assert_eq!(c["boot_id"], "3125d274-2f31-4684-bf00-6a5ff1058ad6");
    assert_eq!(c["kernel_release"], "6.18.0");
    assert_eq!(c["command_line"][3], "case 9");
    assert_eq!(c["note"], "case 9");
    assert_eq!(c["stop_reason"], "SIGINT");
    assert!(c["stopped"].is_string() && c["started"].is_string());
    assert_eq!(c["chain_head"], info[0]["segments"][0]["chain_head"]);
    assert_eq!(c["seals"], 5);
    assert_eq!(c["seal_epochs"], serde_json::json!([0, 3]));
    let out = kellect().arg("info").arg(&trace).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    for want in [
        "binary SHA-256 c0c0",
        "host evidence-host, machine-id 3d1219c7",
        "boot id 3125d274",
        "command line: kellect record --note 'case 9'",
        "note: case 9",
        "(SIGINT)",
        "custody     chain head ",
        "5 seals, epochs 0 to 3",
    ] {
        assert!(text.contains(want), "{want}: {text}");
    }
    // A version 1 fixture has no custody facts: nothing invented.
    let out = kellect()
        .args(["info", "--json"])
        .arg(fixture("records.kz"))
        .output()
        .unwrap();
    let info: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(info[0]["custody"], Value::Null);
}

#[cfg(feature = "record")]
mod live {
    use super::*;
    use crate::live::live;

    /// `kellect record -o TRACE [extra] -- command`, which must succeed.
    #[track_caller]
    fn record(trace: &Path, extra: &[&str], command: &[&str]) {
        let out = kellect()
            .arg("record")
            .arg("-o")
            .arg(trace)
            .args(extra)
            .arg("--")
            .args(command)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "record failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    #[test]
    fn a_live_recording_verifies_and_an_edit_is_named() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("live.kz");
        record(&trace, &[], &["cat", "/etc/hostname"]);
        let (code, v) = verify_json(&[&trace]);
        assert_eq!(code, 0, "{v:#}");
        assert_eq!(v["files"][0]["version"], 2);

        // Change the recorded path in the frame that holds it, every CRC recomputed.
        let bytes = std::fs::read(&trace).unwrap();
        let frames = frame_offsets(&bytes);
        let (header, mut parts) = take_apart(&bytes);
        let (k, frame_no) = parts
            .iter()
            .enumerate()
            .filter(|(_, p)| p.kind == BlockKind::Frame)
            .enumerate()
            .find(|(_, (_, p))| {
                let raw = decode_frame(&p.payload).unwrap().1;
                raw.windows(13).any(|w| w == b"/etc/hostname")
            })
            .map(|(n, (k, _))| (k, n))
            .expect("a frame records /etc/hostname");
        let seq = decode_frame(&parts[k].payload).unwrap().0.seq;
        edit_path(&mut parts[k], b"/etc/hostname", b"/etc/hostnamx");
        let edited = dir.path().join("edited.kz");
        std::fs::write(&edited, rebuild(&header, &parts)).unwrap();
        let (code, v) = verify_json(&[&edited]);
        assert_eq!(code, 1, "{v:#}");
        assert_failed_at(&v, frames[frame_no], "altered", Some(u64::from(seq)));
    }

    #[test]
    fn a_rotated_live_recording_verifies_and_a_missing_segment_is_named() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let trace = dir.path().join("rot.kz");
        record(
            &trace,
            &["--rotate-size", "1", "--frame-size", "256"],
            &[
                "dd",
                "if=/dev/zero",
                "of=/dev/null",
                "bs=1",
                "count=1200000",
                "status=none",
            ],
        );
        let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        segments.sort_by_key(|p| {
            TraceReader::new(&std::fs::read(p).unwrap())
                .unwrap()
                .header()
                .segment_index
        });
        assert!(segments.len() >= 3, "{segments:?}");
        let all: Vec<&Path> = segments.iter().map(|p| p.as_path()).collect();
        let (code, v) = verify_json(&all);
        assert_eq!(code, 0, "{v:#}");
        let without: Vec<&Path> = all
            .iter()
            .copied()
            .filter(|p| !p.ends_with("rot.1.kz"))
            .collect();
        let (code, v) = verify_json(&without);
        assert_eq!(code, 1, "{v:#}");
        assert_eq!(v["links"][0]["kind"], "missing_segments", "{v:#}");
        assert_eq!(v["links"][0]["from"], 1, "{v:#}");
    }

    /// `kellect verify --json [--key KEY] FILES`: the exit code and the report.
    #[track_caller]
    fn verify_keyed(files: &[&Path], key: &Path) -> (i32, Value) {
        let out = kellect()
            .arg("verify")
            .arg("--json")
            .arg("--key")
            .arg(key)
            .args(files)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "verify --json --key: {e}\nstderr:{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
        (out.status.code().unwrap(), v)
    }

    /// A sealed recording spread over several segments and seal epochs (1 s): the keys, the
    /// sealing key file as keygen wrote it, and the segments in index order.
    struct Sealed {
        dir: tempfile::TempDir,
        seal_key: PathBuf,
        verify_key: PathBuf,
        fresh_key_file: Vec<u8>,
        segments: Vec<PathBuf>,
    }

    fn sealed_recording() -> Sealed {
        let dir = tempfile::tempdir().unwrap();
        let keys = tempfile::tempdir_in(dir.path()).unwrap().keep();
        let seal_key = keys.join("seal.key");
        let verify_key = keys.join("verify.key");
        let out = kellect()
            .args(["keygen", "--interval", "1s", "--seal-key"])
            .arg(&seal_key)
            .arg("--verify-key")
            .arg(&verify_key)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fresh_key_file = std::fs::read(&seal_key).unwrap();
        let trace = dir.path().join("sealed.kz");
        record(
            &trace,
            &[
                "--seal-key",
                seal_key.to_str().unwrap(),
                "--note",
                "case 7: sealed",
                "--rotate-size",
                "1",
                "--frame-size",
                "256",
            ],
            &[
                "sh",
                "-c",
                "for i in 1 2 3; do dd if=/dev/zero of=/dev/null bs=1 count=400000 \
                 status=none; cat /etc/hostname >/dev/null; sleep 1; done",
            ],
        );
        let mut segments: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "kz"))
            .collect();
        segments.sort_by_key(|p| {
            TraceReader::new(&std::fs::read(p).unwrap())
                .unwrap()
                .header()
                .segment_index
        });
        assert!(segments.len() >= 3, "{segments:?}");
        Sealed {
            dir,
            seal_key,
            verify_key,
            fresh_key_file,
            segments,
        }
    }

    /// Offsets of the Seal blocks of a segment.
    fn seal_offsets(bytes: &[u8]) -> Vec<u64> {
        TraceReader::new(bytes)
            .unwrap()
            .scan()
            .blocks
            .iter()
            .filter(|b| b.kind == BlockKind::Seal)
            .map(|b| b.offset)
            .collect()
    }

    #[test]
    fn a_sealed_recording_verifies_and_every_tampering_is_named() {
        if !live() {
            return;
        }
        let t = sealed_recording();
        let all: Vec<&Path> = t.segments.iter().map(|p| p.as_path()).collect();
        // Intact, without and with the key.
        let (code, v) = verify_json(&all);
        assert_eq!(code, 0, "{v:#}");
        for f in v["files"].as_array().unwrap() {
            assert_eq!(f["seal_state"], "unverified", "{v:#}");
        }
        let (code, v) = verify_keyed(&all, &t.verify_key);
        assert_eq!(code, 0, "{v:#}");
        let mut epochs = Vec::new();
        for f in v["files"].as_array().unwrap() {
            assert_eq!(f["seal_state"], "verified", "{v:#}");
            assert_eq!(f["unsealed_from"], Value::Null, "{v:#}");
            epochs.extend(
                f["seals"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|s| s["epoch"].as_u64().unwrap()),
            );
        }
        assert!(
            epochs.first() < epochs.last(),
            "several epochs sealed: {epochs:?}"
        );

        // The key file has evolved and no longer holds an earlier epoch's key: not k_0
        // (keygen's), nor the key of any epoch sealed before the last.
        let now = std::fs::read(&t.seal_key).unwrap();
        assert_eq!(now.len(), 84);
        let epoch_now = u64::from_le_bytes(now[24..32].try_into().unwrap());
        assert!(
            epoch_now >= *epochs.last().unwrap(),
            "{epoch_now} {epochs:?}"
        );
        let mut key: [u8; 32] = t.fresh_key_file[40..72].try_into().unwrap();
        for _ in 0..epoch_now {
            assert!(
                !now.windows(32).any(|w| w == key),
                "an earlier epoch's key is in the file"
            );
            let mut h = <sha2::Sha256 as sha2::Digest>::new();
            sha2::Digest::update(&mut h, b"kellect-seal-evolve");
            sha2::Digest::update(&mut h, key);
            key = sha2::Digest::finalize(h).into();
        }
        assert_eq!(&now[40..72], &key, "the file holds k_{epoch_now}");
        let leftovers: Vec<_> = std::fs::read_dir(t.seal_key.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            leftovers.len(),
            2,
            "no temporary key file left: {leftovers:?}"
        );

        let dir = t.dir.path();
        let first = std::fs::read(&t.segments[0]).unwrap();
        let frames = frame_offsets(&first);
        let others: Vec<&Path> = all[1..].to_vec();
        let check = |name: &str, bytes: &[u8]| -> Value {
            let path = write(dir, name, bytes);
            let mut files = vec![path.as_path()];
            files.extend(&others);
            let (code, v) = verify_keyed(&files, &t.verify_key);
            assert_eq!(code, 1, "{name}: {v:#}");
            v
        };
        // A flipped byte inside frame 1.
        let mut flipped = first.clone();
        flipped[frames[1] as usize + 100] ^= 0x01;
        let v = check("flipped.kz", &flipped);
        assert_failed_at(&v, frames[1], "damaged", None);
        // A frame edited, every CRC recomputed.
        let (header, parts) = take_apart(&first);
        let frame_parts: Vec<usize> = (0..parts.len())
            .filter(|&k| parts[k].kind == BlockKind::Frame)
            .collect();
        let mut edited = parts.clone();
        let k = frame_parts[2];
        let (fh, mut raw) = decode_frame(&edited[k].payload).unwrap();
        raw[60] ^= 0x20;
        let mut c = zstd::bulk::Compressor::new(3).unwrap();
        edited[k].payload = encode_frame(&fh, &raw, &mut c).unwrap();
        let v = check("edited.kz", &rebuild(&header, &edited));
        assert_failed_at(&v, frames[2], "altered", Some(u64::from(fh.seq)));
        // A frame deleted, Index and End rebuilt.
        let mut deleted = parts.clone();
        deleted.remove(frame_parts[1]);
        let v = check("deleted.kz", &rebuild(&header, &deleted));
        assert_failed_at(&v, frames[1], "missing", None);
        // Two frames swapped.
        let mut swapped = parts.clone();
        swapped.swap(frame_parts[1], frame_parts[2]);
        let v = check("swapped.kz", &rebuild(&header, &swapped));
        assert_failed_at(&v, frames[1], "reordered", None);
        // A missing middle segment.
        let without: Vec<&Path> = all
            .iter()
            .copied()
            .filter(|p| !p.ends_with("sealed.1.kz"))
            .collect();
        let (code, v) = verify_keyed(&without, &t.verify_key);
        assert_eq!(code, 1, "{v:#}");
        assert_eq!(v["links"][0]["kind"], "missing_segments", "{v:#}");
        assert_eq!(v["links"][0]["from"], 1, "{v:#}");

        // An intruder who took the host later holds the current key only: a frame of
        // segment 0 changed, the whole chain recomputed, and every seal re-made with that
        // later key, their epoch numbers kept. The first seal is named.
        let (_, later) = kellect::format::SealingKeyFile::load(&t.seal_key).unwrap();
        let later_key: [u8; 32] = std::fs::read(&t.seal_key).unwrap()[40..72]
            .try_into()
            .unwrap();
        let resealed = rechain(&first, 2, &mut |seal: &mut kellect::format::Seal| {
            use hmac::Mac;
            let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&later_key).unwrap();
            mac.update(b"kellect-seal");
            mac.update(&seal.epoch.to_le_bytes());
            mac.update(&seal.epoch_start_ns.to_le_bytes());
            mac.update(&seal.epoch_end_ns.to_le_bytes());
            mac.update(&seal.key_id.0.to_le_bytes());
            mac.update(&seal.head.0);
            seal.tag = mac.finalize().into_bytes().into();
        });
        let seals = seal_offsets(&resealed);
        let path = write(dir, "resealed.kz", &resealed);
        let (code, v) = verify_json(&[&path]);
        assert_eq!(code, 0, "without a key the recomputed chain passes: {v:#}");
        let (code, v) = verify_keyed(&[&path], &t.verify_key);
        assert_eq!(code, 1, "{v:#}");
        assert_failed_at(&v, seals[0], "bad_seal", None);
        assert!(
            v["files"][0]["problem"]["what"]
                .as_str()
                .unwrap()
                .contains("later key"),
            "{v:#}"
        );
        // The same intruder sealing with what it can make valid: its own, later epoch.
        let late_epoch = later.epoch() + 5;
        let mut intruder = later;
        intruder.evolve_to(late_epoch);
        let relabeled = rechain(&first, 2, &mut |seal: &mut kellect::format::Seal| {
            *seal = intruder.seal(seal.head);
        });
        let seals = seal_offsets(&relabeled);
        let path = write(dir, "relabeled.kz", &relabeled);
        let (code, v) = verify_keyed(&[&path], &t.verify_key);
        assert_eq!(code, 1, "{v:#}");
        assert_failed_at(&v, seals[0], "bad_seal", None);

        // Cut at a random byte: verifies up to the last complete block before it.
        let last = std::fs::read(t.segments.last().unwrap()).unwrap();
        let ends: Vec<u64> = TraceReader::new(&last)
            .unwrap()
            .scan()
            .blocks
            .iter()
            .map(|b| b.offset + b.block_len())
            .collect();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as usize;
        let cut = 100 + seed % (last.len() - 200);
        let expected = ends
            .iter()
            .copied()
            .filter(|&e| e <= cut as u64)
            .max()
            .unwrap_or(88);
        let path = write(dir, "cut.kz", &last[..cut]);
        let (code, v) = verify_keyed(&[&path], &t.verify_key);
        assert_eq!(code, 3, "cut at {cut}: {v:#}");
        assert_eq!(v["files"][0]["status"], "cut", "cut at {cut}: {v:#}");
        assert_eq!(v["files"][0]["at"], expected, "cut at {cut}: {v:#}");

        // info: every custody fact.
        let out = kellect()
            .arg("info")
            .arg("--json")
            .args(&all)
            .output()
            .unwrap();
        assert!(out.status.success());
        let info: Value = serde_json::from_slice(&out.stdout).unwrap();
        let c = &info[0]["custody"];
        let exe = std::fs::read(env!("CARGO_BIN_EXE_kellect")).unwrap();
        let sha: String = <sha2::Sha256 as sha2::Digest>::digest(&exe)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(c["recorder_sha256"], sha, "{c:#}");
        assert_eq!(c["kellect_version"], env!("CARGO_PKG_VERSION"));
        assert!(c["build"].as_str().unwrap().starts_with("git "), "{c:#}");
        let machine_id = std::fs::read_to_string("/etc/machine-id").unwrap_or_default();
        assert_eq!(c["machine_id"], machine_id.trim());
        let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
        assert_eq!(c["boot_id"], boot_id.trim());
        assert!(!c["hostname"].as_str().unwrap().is_empty());
        assert!(!c["kernel_release"].as_str().unwrap().is_empty());
        assert_eq!(c["command_line"][1], "record", "{c:#}");
        assert!(c["command_line"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a == "case 7: sealed"));
        assert_eq!(c["note"], "case 7: sealed");
        assert!(c["started"].as_str().unwrap().ends_with('Z'));
        assert!(
            c["stopped"].as_str().unwrap() >= c["started"].as_str().unwrap(),
            "{c:#}"
        );
        assert!(
            c["stop_reason"]
                .as_str()
                .unwrap()
                .contains("the command exited"),
            "{c:#}"
        );
        assert_eq!(
            c["chain_head"],
            info[0]["segments"].as_array().unwrap().last().unwrap()["chain_head"]
        );
        assert_eq!(c["seal_interval_s"], 1.0);
        assert_eq!(c["seal_epochs"][0], epochs[0]);
        assert_eq!(c["seal_epochs"][1], *epochs.last().unwrap());
        let text = kellect().arg("info").args(&all).output().unwrap();
        let text = String::from_utf8_lossy(&text.stdout);
        for want in [
            "binary SHA-256",
            "machine-id",
            "boot id",
            "command line:",
            "note: case 7: sealed",
            "stopped",
            "chain head",
            "sealed with key",
        ] {
            assert!(text.contains(want), "{want}: {text}");
        }
    }

    #[test]
    fn live_sends_every_seal_to_the_collectors() {
        if !live() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let (sk, vk) = (dir.path().join("s.key"), dir.path().join("v.key"));
        let out = kellect()
            .args(["keygen", "--interval", "1s", "--seal-key"])
            .arg(&sk)
            .arg("--verify-key")
            .arg(&vk)
            .output()
            .unwrap();
        assert!(out.status.success());
        let collector = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = collector.local_addr().unwrap().to_string();
        let trace = dir.path().join("live.kz");
        let out = kellect()
            .args(["live", "-q", "-u", &addr, "--seal-key"])
            .arg(&sk)
            .arg("-w")
            .arg(&trace)
            .args(["--", "sleep", "2.5"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        collector.set_nonblocking(true).unwrap();
        let mut anchors = Vec::new();
        let mut buf = vec![0u8; 65536];
        while let Ok(n) = collector.recv(&mut buf) {
            let line: Value = serde_json::from_slice(&buf[..n]).unwrap();
            if let Some(seal) = line.get("kellect_seal") {
                anchors.push(seal.clone());
            }
        }
        let (code, v) = verify_keyed(&[&trace], &vk);
        assert_eq!(code, 0, "{v:#}");
        let seals = v["files"][0]["seals"].as_array().unwrap();
        assert!(seals.len() >= 3, "{v:#}");
        assert_eq!(anchors.len(), seals.len(), "{anchors:#?}");
        let bytes = std::fs::read(&trace).unwrap();
        for (a, s) in anchors.iter().zip(seals) {
            assert_eq!(a["offset"], s["offset"]);
            assert_eq!(a["epoch"], s["epoch"]);
            let at = s["offset"].as_u64().unwrap() as usize + BLOCK_HEADER_LEN;
            let seal = kellect::format::Seal::decode(&bytes[at..at + 96]).unwrap();
            assert_eq!(a["chain_head"], seal.head.to_string());
            let tag: String = seal.tag.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(a["tag"], tag);
            assert_eq!(
                a["recording_id"],
                v["files"][0]["recording_id"]
                    .as_u64()
                    .map(|id| format!("{id:016x}"))
                    .unwrap()
            );
        }
    }

    /// Recomputes a segment's chain as someone who read FORMAT.md would after changing
    /// frame `edit_frame` (one record byte), passing every seal (holding its new head) to
    /// `reseal`; Index and End rebuilt by the writer.
    fn rechain(
        bytes: &[u8],
        edit_frame: usize,
        reseal: &mut dyn FnMut(&mut kellect::format::Seal),
    ) -> Vec<u8> {
        let reader = TraceReader::new(bytes).unwrap();
        let mut enc =
            SegmentEncoder::after(reader.header(), 3, &reader.prev_chain_head().unwrap()).unwrap();
        let mut frame = 0;
        for b in &reader.scan().blocks {
            match b.kind {
                BlockKind::Index | BlockKind::End => {}
                BlockKind::Frame => {
                    let (h, mut raw) = decode_frame(b.payload).unwrap();
                    if frame == 0 {
                        enc.set_next_seq(h.seq);
                    }
                    if frame == edit_frame {
                        raw[60] ^= 0x20;
                    }
                    frame += 1;
                    enc.push_frame(&raw, h.first_ts, h.last_ts, h.record_count, Codec::Zstd)
                        .unwrap();
                }
                BlockKind::Seal => {
                    let mut seal = kellect::format::Seal::decode(b.payload).unwrap();
                    seal.head = enc.chain_head().unwrap();
                    reseal(&mut seal);
                    enc.push_block(BlockKind::Seal, 0, &seal.encode()).unwrap();
                }
                kind => {
                    enc.push_block(kind, b.flags, b.payload).unwrap();
                }
            }
        }
        enc.finish()
    }
}
