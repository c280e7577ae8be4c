//! Whole-segment tests: round trip, crash shapes (truncation at every byte, zero tails),
//! bit flips, resynchronisation, golden files, and a seeded random-input loop.

use super::*;

/// Deterministic pseudo-random numbers (xorshift64), so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Records-like bytes: repetitive enough to compress, varied enough to be real work.
fn records(seed: u64, n: usize) -> Vec<u8> {
    let mut rng = XorShift(seed | 1);
    (0..n)
        .map(|i| {
            if i % 8 == 0 {
                rng.next() as u8
            } else {
                (i / 32) as u8
            }
        })
        .collect()
}

const HEADER: FileHeader = FileHeader {
    recording_id: 0xfeed_beef_cafe_f00d,
    segment_index: 3,
    created_realtime_ns: 1_750_000_000_000_000_000,
};

/// Where a block is, according to the writer.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Truth {
    offset: u64,
    kind: BlockKind,
    len: u64,
}

struct Sample {
    bytes: Vec<u8>,
    blocks: Vec<Truth>,
    /// (raw records, first_ts, last_ts, count, seq) per frame, in order.
    frames: Vec<(Vec<u8>, u64, u64, u32, u32)>,
    /// (kind, raw payload) per metadata block, in order.
    metas: Vec<(BlockKind, Vec<u8>)>,
}

/// A small segment with every block kind: metadata (plain and compressed), zstd and
/// stored frames, an unknown kind, then Index and End.
fn sample() -> Sample {
    let mut enc = SegmentEncoder::new(&HEADER, 3).unwrap();
    enc.set_next_seq(100);
    let mut offsets = Vec::new();
    let mut frames = Vec::new();
    let mut metas = Vec::new();

    let host = b"hostname=lab1 kernel=6.18".to_vec();
    offsets.push((
        enc.push_meta(BlockKind::HostInfo, &host, false).unwrap(),
        BlockKind::HostInfo,
    ));
    metas.push((BlockKind::HostInfo, host));
    let snapshot = records(1, 3000);
    offsets.push((
        enc.push_meta(BlockKind::Snapshot, &snapshot, true).unwrap(),
        BlockKind::Snapshot,
    ));
    metas.push((BlockKind::Snapshot, snapshot));
    let clock = 12345u64.to_le_bytes().to_vec();
    offsets.push((
        enc.push_meta(BlockKind::ClockSync, &clock, false).unwrap(),
        BlockKind::ClockSync,
    ));
    metas.push((BlockKind::ClockSync, clock));

    let mut frame = |enc: &mut SegmentEncoder, raw: Vec<u8>, first, last, count, codec| {
        let seq = 100 + frames.len() as u32;
        let offset = enc.push_frame(&raw, first, last, count, codec).unwrap();
        frames.push((raw, first, last, count, seq));
        offset
    };
    offsets.push((
        frame(&mut enc, records(2, 2000), 1_000, 1_900, 40, Codec::Zstd),
        BlockKind::Frame,
    ));
    let unknown = enc
        .push_block(BlockKind::Unknown(0x1234), 0, b"from the future")
        .unwrap();
    offsets.push((unknown, BlockKind::Unknown(0x1234)));
    offsets.push((
        frame(&mut enc, records(3, 300), 2_000, 2_500, 7, Codec::Stored),
        BlockKind::Frame,
    ));
    let stats = vec![9u8; 40];
    offsets.push((
        enc.push_meta(BlockKind::Stats, &stats, false).unwrap(),
        BlockKind::Stats,
    ));
    metas.push((BlockKind::Stats, stats));
    offsets.push((
        frame(&mut enc, records(4, 1500), 3_000, 3_000, 1, Codec::Zstd),
        BlockKind::Frame,
    ));
    let index_offset = enc.offset();
    offsets.push((index_offset, BlockKind::Index));

    let bytes = enc.finish();
    let end_offset = bytes.len() as u64 - 80;
    offsets.push((end_offset, BlockKind::End));
    let mut blocks: Vec<Truth> = offsets
        .windows(2)
        .map(|w| Truth {
            offset: w[0].0,
            kind: w[0].1,
            len: w[1].0 - w[0].0,
        })
        .collect();
    blocks.push(Truth {
        offset: end_offset,
        kind: BlockKind::End,
        len: 80,
    });
    Sample {
        bytes,
        blocks,
        frames,
        metas,
    }
}

fn truths(scan: &Scan<'_>) -> Vec<Truth> {
    scan.blocks
        .iter()
        .map(|b| Truth {
            offset: b.offset,
            kind: b.kind,
            len: b.block_len(),
        })
        .collect()
}

fn damage(offset: u64, kind: DamageKind) -> Damage {
    Damage { offset, kind }
}

/// Every returned frame decodes to the records that were written.
#[track_caller]
fn assert_frames_intact(scan: &Scan<'_>, s: &Sample) {
    let mut d = zstd::bulk::Decompressor::new().unwrap();
    let mut out = Vec::new();
    for block in scan.frames() {
        let header = block.decode_frame(&mut d, &mut out).unwrap();
        let (raw, first, last, count, seq) = s
            .frames
            .iter()
            .find(|f| f.4 == header.seq)
            .expect("a frame that was written");
        assert_eq!(&out, raw);
        assert_eq!(
            (
                header.first_ts,
                header.last_ts,
                header.record_count,
                header.seq
            ),
            (*first, *last, *count, *seq)
        );
    }
}

#[test]
fn round_trip_every_block_kind() {
    let s = sample();
    let reader = TraceReader::new(&s.bytes).unwrap();
    assert_eq!(*reader.header(), HEADER);
    assert_eq!(reader.data_offset(), 88);
    assert_eq!(reader.version(), FormatVersion::V2);
    let scan = reader.scan();
    assert_eq!(scan.damage, vec![]);
    assert!(scan.is_clean());
    assert_eq!(truths(&scan), s.blocks);

    // Metadata comes back byte for byte, compressed or not.
    let metas: Vec<(BlockKind, Vec<u8>)> = scan
        .blocks
        .iter()
        .filter(|b| b.kind.is_metadata() && !matches!(b.kind, BlockKind::Unknown(_)))
        .map(|b| (b.kind, b.meta_payload().unwrap().into_owned()))
        .collect();
    assert_eq!(metas, s.metas);
    let snapshot = scan
        .blocks
        .iter()
        .find(|b| b.kind == BlockKind::Snapshot)
        .unwrap();
    assert_eq!(snapshot.flags, BLOCK_FLAG_COMPRESSED);
    assert!(snapshot.payload.len() < 3000);

    // The unknown kind is returned for the caller to skip, and what follows is read.
    let unknown = scan
        .blocks
        .iter()
        .position(|b| b.kind == BlockKind::Unknown(0x1234))
        .unwrap();
    assert_eq!(scan.blocks[unknown].payload, b"from the future");
    assert_eq!(scan.blocks[unknown + 1].kind, BlockKind::Frame);

    // Frames: real zstd and stored, decoded through the block and the free function.
    assert_eq!(scan.frames().count(), 3);
    assert_frames_intact(&scan, &s);
    let codecs: Vec<Codec> = scan
        .frames()
        .map(|b| b.frame_header().unwrap().codec)
        .collect();
    assert_eq!(codecs, [Codec::Zstd, Codec::Stored, Codec::Zstd]);
    for (block, written) in scan.frames().zip(&s.frames) {
        assert_eq!(decode_frame(block.payload).unwrap().1, written.0);
    }

    // Index and End agree with the frames, and lead back to them by offset.
    let end = scan.end.unwrap();
    let index_block = scan
        .blocks
        .iter()
        .find(|b| b.kind == BlockKind::Index)
        .unwrap();
    assert_eq!(
        end,
        EndInfo {
            frames: 3,
            records: 48,
            index_offset: Some(index_block.offset),
            chain_head: end.chain_head,
        }
    );
    assert!(end.chain_head.is_some());
    let entries = index_block.index_entries().unwrap();
    let frame_blocks: Vec<&BlockRef<'_>> = scan.frames().collect();
    assert_eq!(entries.len(), 3);
    for (entry, block) in entries.iter().zip(&frame_blocks) {
        let h = block.frame_header().unwrap();
        assert_eq!(*entry, IndexEntry::new(block.offset, &h));
        assert_eq!(reader.block_at(entry.block_offset).unwrap(), **block);
    }
    assert_eq!(
        entries.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [100, 101, 102]
    );
    assert_eq!(
        reader.end_from_tail(),
        Some((s.bytes.len() as u64 - 80, end))
    );
    let last = scan.blocks.last().unwrap();
    assert_eq!(last.end_info().unwrap(), end);
}

#[test]
fn block_accessors_check_kind_and_flags() {
    let s = sample();
    let reader = TraceReader::new(&s.bytes).unwrap();
    let scan = reader.scan();
    let host = scan.blocks[0];
    let err = host.frame_header().unwrap_err();
    assert!(matches!(
        err.root(),
        FormatError::WrongBlockKind {
            expected: BlockKind::Frame,
            found: BlockKind::HostInfo
        }
    ));
    assert_eq!(
        err.to_string(),
        "HostInfo block at byte offset 88: expected a Frame block, found a HostInfo block"
    );
    assert!(host.index_entries().is_err());
    assert!(host.end_info().is_err());

    let mut frame = *scan.frames().next().unwrap();
    frame.flags = BLOCK_FLAG_COMPRESSED;
    assert!(matches!(
        frame.frame_header().unwrap_err().root(),
        FormatError::UnsupportedBlockFlags(1)
    ));
    let mut meta = host;
    meta.flags = 0x8000;
    assert!(matches!(
        meta.meta_payload().unwrap_err().root(),
        FormatError::UnsupportedBlockFlags(0x8000)
    ));

    // block_at: not a block boundary, or outside the file.
    assert!(matches!(
        reader.block_at(89).unwrap_err().root(),
        FormatError::BadSync { .. }
    ));
    assert!(matches!(
        reader.block_at(0).unwrap_err().root(),
        FormatError::OutOfBounds { .. }
    ));
    let len = s.bytes.len() as u64;
    assert!(matches!(
        reader.block_at(len).unwrap_err().root(),
        FormatError::OutOfBounds { .. }
    ));
    assert!(reader.block_at(u64::MAX).is_err());
}

#[test]
fn header_only_and_unfinished_segments() {
    let bytes = HEADER.encode();
    let scan = TraceReader::new(&bytes).unwrap().scan();
    assert!(scan.blocks.is_empty() && scan.damage.is_empty() && scan.end.is_none());
    assert!(!scan.is_clean());

    let mut enc = SegmentEncoder::new(&HEADER, 3).unwrap();
    enc.push_frame(&records(9, 100), 1, 2, 3, Codec::Zstd)
        .unwrap();
    let reader = TraceReader::new(enc.bytes()).unwrap();
    let scan = reader.scan();
    assert_eq!(scan.frames().count(), 1);
    assert_eq!((scan.damage.len(), scan.end), (0, None));
    assert_eq!(reader.end_from_tail(), None);
}

#[test]
fn truncation_at_every_byte() {
    let s = sample();
    let len = s.bytes.len();
    for cut in 0..=len {
        let bytes = &s.bytes[..cut];
        let reader = match TraceReader::new(bytes) {
            Ok(reader) => reader,
            Err(e) => {
                assert!(cut < 88, "cut {cut}: {e}");
                let header_len = if cut < 48 { 48 } else { 88 };
                assert!(
                    matches!(e, FormatError::Truncated { needed, available, .. } if available == cut as u64 && needed == header_len),
                    "cut {cut}: {e:?}"
                );
                continue;
            }
        };
        assert!(cut >= 88);
        let scan = reader.scan();
        let complete: Vec<Truth> = s
            .blocks
            .iter()
            .copied()
            .filter(|b| b.offset + b.len <= cut as u64)
            .collect();
        assert_eq!(truths(&scan), complete, "cut {cut}");
        assert_frames_intact(&scan, &s);
        match s
            .blocks
            .iter()
            .find(|b| b.offset < cut as u64 && (cut as u64) < b.offset + b.len)
        {
            Some(cut_block) => assert_eq!(
                scan.damage,
                vec![damage(
                    cut_block.offset,
                    DamageKind::Truncated {
                        // Before the header is complete, the block length is unknown.
                        needed: if cut as u64 - cut_block.offset < 24 {
                            24
                        } else {
                            cut_block.len
                        },
                        available: cut as u64 - cut_block.offset
                    }
                )],
                "cut {cut}"
            ),
            None => assert_eq!(scan.damage, vec![], "cut {cut} is a block boundary"),
        }
        assert_eq!(scan.end.is_some(), cut == len, "cut {cut}");
    }
}

#[test]
fn truncation_at_every_byte_into_a_zero_tail() {
    // What a crash leaves in a memory-mapped file grown in chunks: the written bytes,
    // then the unwritten rest of the chunk.
    let s = sample();
    for cut in 88..=s.bytes.len() {
        let mut bytes = s.bytes[..cut].to_vec();
        bytes.resize(cut + 4096, 0);
        let scan = TraceReader::new(&bytes).unwrap().scan();
        let got = truths(&scan);
        for b in &got {
            assert!(s.blocks.contains(b), "cut {cut}: {b:?} was never written");
            let range = b.offset as usize..(b.offset + b.len) as usize;
            assert_eq!(bytes[range.clone()], s.bytes[range], "cut {cut}");
        }
        for b in s.blocks.iter().filter(|b| b.offset + b.len <= cut as u64) {
            assert!(got.contains(b), "cut {cut}: complete block {b:?} lost");
        }
        assert_frames_intact(&scan, &s);
        // Only crash artifacts, ending with the zero tail up to the end of the file.
        assert!(
            scan.damage.iter().all(|d| d.kind.is_crash_artifact()),
            "cut {cut}: {:?}",
            scan.damage
        );
        let last = scan.damage.last().unwrap();
        assert!(
            matches!(last.kind, DamageKind::ZeroTail { length } if last.offset + length == bytes.len() as u64),
            "cut {cut}: {:?}",
            scan.damage
        );
        assert!(scan.damage.len() <= 2, "cut {cut}: {:?}", scan.damage);
    }
}

#[test]
fn zero_tail_after_valid_blocks() {
    let s = sample();
    let mut bytes = s.bytes.clone();
    bytes.resize(s.bytes.len() + (1 << 20), 0);
    let scan = TraceReader::new(&bytes).unwrap().scan();
    assert_eq!(truths(&scan), s.blocks);
    assert_eq!(
        scan.damage,
        vec![damage(
            s.bytes.len() as u64,
            DamageKind::ZeroTail { length: 1 << 20 }
        )]
    );
    assert!(scan.end.is_some());

    // The same without the Index and End blocks: a crashed recorder.
    let unfinished = s
        .blocks
        .iter()
        .find(|b| b.kind == BlockKind::Index)
        .unwrap()
        .offset as usize;
    let mut bytes = s.bytes[..unfinished].to_vec();
    bytes.resize(unfinished + (1 << 20), 0);
    let scan = TraceReader::new(&bytes).unwrap().scan();
    assert_eq!(truths(&scan), s.blocks[..s.blocks.len() - 2]);
    assert_eq!(
        scan.damage,
        vec![damage(
            unfinished as u64,
            DamageKind::ZeroTail { length: 1 << 20 }
        )]
    );
    assert_eq!(scan.end, None);
    assert_frames_intact(&scan, &s);
}

#[test]
fn bit_flips_in_block_headers_resync_to_the_next_block() {
    let s = sample();
    let len = s.bytes.len() as u64;
    for (i, target) in s.blocks.iter().enumerate() {
        for byte in 0..BLOCK_HEADER_LEN as u64 {
            for bit in 0..8 {
                let mut bytes = s.bytes.clone();
                bytes[(target.offset + byte) as usize] ^= 1 << bit;
                let scan = TraceReader::new(&bytes).unwrap().scan();
                let what = format!("block {i} header byte {byte} bit {bit}");
                let expected_first = if byte < 4 {
                    DamageKind::BadSync {
                        found: u32::from_le_bytes(
                            bytes[target.offset as usize..][..4].try_into().unwrap(),
                        ),
                    }
                } else {
                    DamageKind::HeaderChecksum
                };
                // The resync lands exactly on the next block, or runs to the end of file.
                let skipped = if i + 1 < s.blocks.len() {
                    target.len
                } else {
                    len - target.offset
                };
                assert_eq!(
                    scan.damage,
                    vec![
                        damage(target.offset, expected_first),
                        damage(target.offset, DamageKind::Skipped { bytes: skipped })
                    ],
                    "{what}"
                );
                let mut others = s.blocks.clone();
                others.remove(i);
                assert_eq!(truths(&scan), others, "{what}");
                assert_eq!(scan.end.is_some(), target.kind != BlockKind::End, "{what}");
                assert_frames_intact(&scan, &s);
            }
        }
    }
}

#[test]
fn bit_flips_in_payloads_skip_only_that_block() {
    let s = sample();
    for (i, target) in s.blocks.iter().enumerate() {
        let payload_len = target.len - BLOCK_HEADER_LEN as u64;
        for at in [0, payload_len / 2, payload_len - 1] {
            let mut bytes = s.bytes.clone();
            bytes[(target.offset + BLOCK_HEADER_LEN as u64 + at) as usize] ^= 0x20;
            let scan = TraceReader::new(&bytes).unwrap().scan();
            assert_eq!(
                scan.damage,
                vec![damage(
                    target.offset,
                    DamageKind::PayloadChecksum {
                        kind: target.kind,
                        len: payload_len as u32
                    }
                )],
                "block {i} payload byte {at}"
            );
            let mut others = s.blocks.clone();
            others.remove(i);
            assert_eq!(truths(&scan), others, "block {i} payload byte {at}");
            assert_frames_intact(&scan, &s);
        }
    }
}

/// The sample with `insert` put in front of block `before`; returns the bytes and the
/// blocks shifted accordingly.
fn with_inserted(s: &Sample, before: usize, insert: &[u8]) -> (Vec<u8>, Vec<Truth>) {
    let at = s.blocks[before].offset as usize;
    let mut bytes = s.bytes[..at].to_vec();
    bytes.extend_from_slice(insert);
    bytes.extend_from_slice(&s.bytes[at..]);
    let shifted = s
        .blocks
        .iter()
        .map(|b| Truth {
            offset: if b.offset as usize >= at {
                b.offset + insert.len() as u64
            } else {
                b.offset
            },
            ..*b
        })
        .collect();
    (bytes, shifted)
}

#[test]
fn garbage_between_blocks_is_skipped() {
    let s = sample();
    let mut rng = XorShift(7);
    let mut garbage = rng.bytes(100);
    garbage[0] = b'x';
    let (bytes, shifted) = with_inserted(&s, 4, &garbage);
    let at = s.blocks[4].offset;
    let scan = TraceReader::new(&bytes).unwrap().scan();
    assert_eq!(scan.damage[0].offset, at);
    assert!(matches!(scan.damage[0].kind, DamageKind::BadSync { .. }));
    assert_eq!(
        scan.damage[1],
        damage(at, DamageKind::Skipped { bytes: 100 })
    );
    assert_eq!(scan.damage.len(), 2);
    assert_eq!(truths(&scan), shifted);
    assert!(scan.end.is_some());

    // A false sync word in the garbage is not taken for a block.
    let mut fake = b"BKLK".to_vec();
    fake.extend_from_slice(&rng.bytes(40));
    let (bytes, shifted) = with_inserted(&s, 2, &fake);
    let at = s.blocks[2].offset;
    let scan = TraceReader::new(&bytes).unwrap().scan();
    assert_eq!(
        scan.damage,
        vec![
            damage(at, DamageKind::HeaderChecksum),
            damage(at, DamageKind::Skipped { bytes: 44 })
        ]
    );
    assert_eq!(truths(&scan), shifted);
}

#[test]
fn oversized_block_header_is_damage() {
    let s = sample();
    let mut header = BlockHeader::for_payload(BlockKind::Frame, 0, &[]);
    header.payload_len = MAX_BLOCK_PAYLOAD + 1;
    let (bytes, shifted) = with_inserted(&s, 3, &header.encode());
    let at = s.blocks[3].offset;
    let scan = TraceReader::new(&bytes).unwrap().scan();
    assert_eq!(
        scan.damage,
        vec![
            damage(
                at,
                DamageKind::Oversized {
                    len: u64::from(MAX_BLOCK_PAYLOAD) + 1
                }
            ),
            damage(at, DamageKind::Skipped { bytes: 24 })
        ]
    );
    assert_eq!(truths(&scan), shifted);
}

#[test]
fn end_block_ends_the_scan() {
    let s = sample();
    // Data after End: reported, not read.
    let mut bytes = s.bytes.clone();
    let mut extra = Vec::new();
    encode_block(BlockKind::Stats, 0, b"late", &mut extra).unwrap();
    bytes.extend_from_slice(&extra);
    let scan = TraceReader::new(&bytes).unwrap().scan();
    assert_eq!(truths(&scan), s.blocks);
    assert_eq!(
        scan.damage,
        vec![damage(
            s.bytes.len() as u64,
            DamageKind::AfterEnd {
                bytes: extra.len() as u64
            }
        )]
    );
    assert!(scan.end.is_some());

    // An End block with a malformed payload.
    let mut enc = SegmentEncoder::new(&HEADER, 3).unwrap();
    enc.push_meta(BlockKind::HostInfo, b"h", false).unwrap();
    let end_at = enc.push_block(BlockKind::End, 0, &[0; 25]).unwrap();
    let bytes = enc.bytes().to_vec();
    let scan = TraceReader::new(&bytes).unwrap().scan();
    assert_eq!(
        scan.damage,
        vec![damage(end_at, DamageKind::BadEnd { len: 25 })]
    );
    assert_eq!(scan.end, None);
    assert_eq!(scan.blocks.len(), 2);
}

#[test]
fn longer_file_header_is_skipped() {
    // A later writer may declare a longer header; version 1 readers start at its end.
    let v1 = golden_stored();
    let blocks = TraceReader::new(&v1).unwrap().scan().blocks.len();
    let mut bytes = v1[..48].to_vec();
    bytes[10..12].copy_from_slice(&64u16.to_le_bytes());
    let crc = crc32c::crc32c(&bytes[..44]);
    bytes[44..48].copy_from_slice(&crc.to_le_bytes());
    bytes.extend_from_slice(&[0xee; 16]);
    bytes.extend_from_slice(&v1[48..]);
    let reader = TraceReader::new(&bytes).unwrap();
    assert_eq!(reader.data_offset(), 64);
    let scan = reader.scan();
    assert_eq!(scan.damage, vec![]);
    assert_eq!(scan.blocks.len(), blocks);
    assert_eq!(scan.blocks[0].offset, 64);
    assert!(matches!(
        TraceReader::new(&bytes[..60]),
        Err(FormatError::Truncated {
            needed: 64,
            available: 60,
            ..
        })
    ));
}

#[test]
fn damage_messages_name_the_offset() {
    let cases = [
        (
            DamageKind::Truncated {
                needed: 100,
                available: 10,
            },
            "block cut short",
        ),
        (DamageKind::ZeroTail { length: 4096 }, "4096 zero bytes"),
        (DamageKind::BadSync { found: 0xdeadbeef }, "0xdeadbeef"),
        (DamageKind::HeaderChecksum, "checksum mismatch"),
        (DamageKind::Oversized { len: 1 << 30 }, "1073741824 bytes"),
        (
            DamageKind::PayloadChecksum {
                kind: BlockKind::Frame,
                len: 77,
            },
            "Frame block",
        ),
        (
            DamageKind::Skipped { bytes: 100 },
            "up to byte offset 12445",
        ),
        (DamageKind::AfterEnd { bytes: 5 }, "after the End block"),
        (DamageKind::BadEnd { len: 25 }, "expected 24"),
    ];
    for (kind, needle) in cases {
        let text = damage(12345, kind).to_string();
        assert!(text.starts_with("at byte offset 12345: "), "{text}");
        assert!(text.contains(needle), "{text}");
    }
    assert!(DamageKind::ZeroTail { length: 1 }.is_crash_artifact());
    assert!(!DamageKind::HeaderChecksum.is_crash_artifact());
}

/// Calls everything a reader would on `bytes` and checks the scan's invariants. Must not
/// panic, whatever the bytes.
fn exercise(bytes: &[u8]) {
    let _ = decode_frame(bytes);
    let _ = parse_index(bytes);
    let _ = EndInfo::decode(bytes);
    let _ = decompress_meta(bytes);
    let _ = FileHeader::decode(bytes);
    let verdict = verify_segment(bytes);
    assert!(verdict.verified_up_to <= bytes.len() as u64);
    let Ok(reader) = TraceReader::new(bytes) else {
        return;
    };
    let scan = reader.scan();
    let mut d = zstd::bulk::Decompressor::new().unwrap();
    let mut out = Vec::new();
    let mut prev_end = reader.data_offset();
    for block in &scan.blocks {
        assert!(block.offset >= prev_end, "blocks overlap or go backwards");
        prev_end = block.offset + block.block_len();
        assert!(prev_end <= bytes.len() as u64);
        let start = block.offset as usize + BLOCK_HEADER_LEN;
        assert_eq!(block.payload, &bytes[start..start + block.payload.len()]);
        let header = BlockHeader::decode(&bytes[block.offset as usize..]).unwrap();
        assert_eq!(crc32c::crc32c(block.payload), header.payload_crc);
        let _ = block.frame_header();
        if let Ok(h) = block.decode_frame(&mut d, &mut out) {
            assert_eq!(out.len(), h.raw_len as usize);
        }
        if let Ok(entries) = block.index_entries() {
            for e in entries.iter().take(16) {
                let _ = reader.block_at(e.block_offset);
            }
        }
        let _ = block.end_info();
        let _ = block.meta_payload();
    }
    for d in &scan.damage {
        assert!(d.offset <= bytes.len() as u64);
        assert!(!d.to_string().is_empty());
    }
    let _ = reader.end_from_tail();
    let _ = reader.block_at(bytes.len() as u64 / 2);
}

#[test]
fn random_and_mutated_input_never_panics() {
    let mut rng = XorShift(0x5eed_1234_abcd_ef01);
    let s = sample();
    for _ in 0..2000 {
        let n = rng.below(700);
        let mut bytes = rng.bytes(n);
        if rng.below(2) == 0 {
            // A valid header, so the random part reaches the block scanner.
            bytes.splice(0..0, HEADER.encode());
        }
        if rng.below(4) == 0 && bytes.len() > 52 {
            let at = 48 + rng.below(bytes.len() - 52);
            bytes[at..at + 4].copy_from_slice(b"BKLK");
        }
        exercise(&bytes);
    }
    let frame_blocks: Vec<Truth> = s
        .blocks
        .iter()
        .copied()
        .filter(|b| b.kind == BlockKind::Frame)
        .collect();
    for round in 0..3000 {
        let mut bytes = s.bytes.clone();
        match round % 6 {
            0 => {
                for _ in 0..1 + rng.below(8) {
                    let at = rng.below(bytes.len());
                    bytes[at] ^= 1 << rng.below(8);
                }
            }
            1 => bytes.truncate(rng.below(bytes.len() + 1)),
            2 => {
                let a = rng.below(bytes.len());
                let b = a + rng.below(bytes.len() - a);
                let copy = bytes[a..b].to_vec();
                let at = rng.below(bytes.len());
                bytes.splice(at..at, copy);
            }
            3 => {
                let a = 48 + rng.below(bytes.len() - 48);
                let b = (a + rng.below(200)).min(bytes.len());
                bytes[a..b].fill(0);
            }
            4 => {
                let a = rng.below(bytes.len());
                let b = (a + rng.below(64)).min(bytes.len());
                bytes.drain(a..b);
            }
            _ => {
                // Damage inside a frame payload, re-sealed so the scan accepts the block
                // and the frame decoder meets the bad data.
                let f = frame_blocks[rng.below(frame_blocks.len())];
                let start = f.offset as usize + BLOCK_HEADER_LEN;
                let end = (f.offset + f.len) as usize;
                for _ in 0..1 + rng.below(4) {
                    let at = start + rng.below(end - start);
                    bytes[at] = rng.next() as u8;
                }
                let header = block_header(BlockKind::Frame, 0, &bytes[start..end]);
                bytes[f.offset as usize..start].copy_from_slice(&header);
            }
        }
        exercise(&bytes);
    }
}

/// A segment with only stored frames and uncompressed metadata: its bytes depend on
/// nothing but this module, so they are compared byte for byte with the golden file.
fn golden_stored() -> Vec<u8> {
    let header = FileHeader {
        recording_id: 0x1122_3344_5566_7788,
        segment_index: 1,
        created_realtime_ns: 1_700_000_000_000_000_000,
    };
    let mut enc = SegmentEncoder::new_v1(&header, 3).unwrap();
    enc.set_next_seq(5);
    enc.push_meta(BlockKind::HostInfo, b"golden host", false)
        .unwrap();
    enc.push_frame(&records(10, 64), 10, 20, 2, Codec::Stored)
        .unwrap();
    enc.push_block(BlockKind::Unknown(0x0100), 0, b"?").unwrap();
    enc.push_meta(BlockKind::ClockSync, &[1, 2, 3, 4], false)
        .unwrap();
    enc.push_frame(&records(11, 32), 30, 30, 1, Codec::Stored)
        .unwrap();
    enc.finish()
}

/// A segment with zstd frames and a compressed metadata block: zstd's exact output may
/// change between zstd versions, so its golden file is only decoded, never re-created.
fn golden_zstd() -> Vec<u8> {
    let header = FileHeader {
        recording_id: 42,
        segment_index: 0,
        created_realtime_ns: 1_700_000_000_000_000_000,
    };
    let mut enc = SegmentEncoder::new_v1(&header, 3).unwrap();
    enc.push_meta(BlockKind::Snapshot, &records(20, 2000), true)
        .unwrap();
    enc.push_frame(&records(21, 4000), 100, 900, 50, Codec::Zstd)
        .unwrap();
    enc.push_frame(&records(22, 1000), 1000, 1500, 12, Codec::Zstd)
        .unwrap();
    enc.finish()
}

/// Version 2 of [`golden_stored`]: the same blocks, chained, as segment 1 of a recording
/// whose segment 0 ended with the chain head `11 11 … 11`.
fn golden_v2_stored() -> Vec<u8> {
    let header = FileHeader {
        recording_id: 0x1122_3344_5566_7788,
        segment_index: 1,
        created_realtime_ns: 1_700_000_000_000_000_000,
    };
    let mut enc = SegmentEncoder::after(&header, 3, &ChainHead([0x11; 32])).unwrap();
    enc.set_next_seq(5);
    enc.push_meta(BlockKind::HostInfo, b"golden host", false)
        .unwrap();
    enc.push_frame(&records(10, 64), 10, 20, 2, Codec::Stored)
        .unwrap();
    enc.push_block(BlockKind::Unknown(0x0100), 0, b"?").unwrap();
    enc.push_meta(BlockKind::ClockSync, &[1, 2, 3, 4], false)
        .unwrap();
    enc.push_frame(&records(11, 32), 30, 30, 1, Codec::Stored)
        .unwrap();
    enc.finish()
}

/// Version 2 of [`golden_zstd`] (segment 0: previous head zero).
fn golden_v2_zstd() -> Vec<u8> {
    let header = FileHeader {
        recording_id: 42,
        segment_index: 0,
        created_realtime_ns: 1_700_000_000_000_000_000,
    };
    let mut enc = SegmentEncoder::new(&header, 3).unwrap();
    enc.push_meta(BlockKind::Snapshot, &records(20, 2000), true)
        .unwrap();
    enc.push_frame(&records(21, 4000), 100, 900, 50, Codec::Zstd)
        .unwrap();
    enc.push_frame(&records(22, 1000), 1000, 1500, 12, Codec::Zstd)
        .unwrap();
    enc.finish()
}

const GOLDEN_STORED: &[u8] = include_bytes!("testdata/v1-stored.kz");
const GOLDEN_V2_STORED: &[u8] = include_bytes!("testdata/v2-stored.kz");
const GOLDEN_V2_ZSTD: &[u8] = include_bytes!("testdata/v2-zstd.kz");
const GOLDEN_ZSTD: &[u8] = include_bytes!("testdata/v1-zstd.kz");

/// Writes the golden files. Run once per format version, never to "fix" a failing golden
/// test: files of released versions must keep reading forever.
#[test]
#[ignore = "writes src/format/testdata; run by hand for a new format version"]
fn write_golden_files() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/format/testdata");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("v1-stored.kz"), golden_stored()).unwrap();
    std::fs::write(dir.join("v1-zstd.kz"), golden_zstd()).unwrap();
    std::fs::write(dir.join("v2-stored.kz"), golden_v2_stored()).unwrap();
    std::fs::write(dir.join("v2-zstd.kz"), golden_v2_zstd()).unwrap();
}

#[test]
fn golden_v2_stored_is_byte_identical_and_verifies() {
    assert_eq!(
        golden_v2_stored(),
        GOLDEN_V2_STORED,
        "the version 2 encoding changed"
    );
    let reader = TraceReader::new(GOLDEN_V2_STORED).unwrap();
    assert_eq!(reader.version(), FormatVersion::V2);
    assert_eq!(reader.data_offset(), 88);
    assert_eq!(reader.prev_chain_head(), Some(ChainHead([0x11; 32])));
    let scan = reader.scan();
    assert!(scan.is_clean());
    let kinds: Vec<BlockKind> = scan.blocks.iter().map(|b| b.kind).collect();
    assert_eq!(
        kinds,
        [
            BlockKind::HostInfo,
            BlockKind::Frame,
            BlockKind::Unknown(0x0100),
            BlockKind::ClockSync,
            BlockKind::Frame,
            BlockKind::Index,
            BlockKind::End
        ]
    );
    // The End block holds the head of everything before it; the verdict the head after it.
    let end = scan.end.unwrap();
    let last = scan.blocks.last().unwrap();
    let mut head = reader.chain_start().unwrap();
    for b in &scan.blocks[..scan.blocks.len() - 1] {
        let at = b.offset as usize;
        let h: &[u8; BLOCK_HEADER_LEN] = GOLDEN_V2_STORED[at..at + 24].try_into().unwrap();
        head = head.next(h, b.payload);
    }
    assert_eq!(end.chain_head, Some(head));
    let v = verify_segment(GOLDEN_V2_STORED);
    assert_eq!(v.status, SegmentStatus::Intact);
    let at = last.offset as usize;
    let h: &[u8; BLOCK_HEADER_LEN] = GOLDEN_V2_STORED[at..at + 24].try_into().unwrap();
    assert_eq!(v.chain_head, Some(head.next(h, last.payload)));
}

#[test]
fn golden_v2_zstd_decodes_and_verifies() {
    let reader = TraceReader::new(GOLDEN_V2_ZSTD).unwrap();
    assert_eq!(reader.prev_chain_head(), Some(ChainHead::ZERO));
    let scan = reader.scan();
    assert!(scan.is_clean());
    let frames: Vec<Vec<u8>> = scan
        .frames()
        .map(|b| decode_frame(b.payload).unwrap().1)
        .collect();
    assert_eq!(frames, [records(21, 4000), records(22, 1000)]);
    assert_eq!(verify_segment(GOLDEN_V2_ZSTD).status, SegmentStatus::Intact);
    assert_eq!(verify_segment(GOLDEN_STORED).status, SegmentStatus::NoChain);
}

#[test]
fn golden_v1_stored_is_byte_identical() {
    assert_eq!(
        golden_stored(),
        GOLDEN_STORED,
        "the version 1 encoding changed"
    );
    let reader = TraceReader::new(GOLDEN_STORED).unwrap();
    assert_eq!(reader.header().recording_id, 0x1122_3344_5566_7788);
    let scan = reader.scan();
    assert!(scan.is_clean());
    let kinds: Vec<BlockKind> = scan.blocks.iter().map(|b| b.kind).collect();
    assert_eq!(
        kinds,
        [
            BlockKind::HostInfo,
            BlockKind::Frame,
            BlockKind::Unknown(0x0100),
            BlockKind::ClockSync,
            BlockKind::Frame,
            BlockKind::Index,
            BlockKind::End
        ]
    );
    let frames: Vec<(FrameHeader, Vec<u8>)> = scan
        .frames()
        .map(|b| decode_frame(b.payload).unwrap())
        .collect();
    assert_eq!(frames[0].1, records(10, 64));
    assert_eq!(frames[1].1, records(11, 32));
    assert_eq!((frames[0].0.seq, frames[1].0.seq), (5, 6));
}

#[test]
fn golden_v1_zstd_decodes() {
    let reader = TraceReader::new(GOLDEN_ZSTD).unwrap();
    assert_eq!(reader.header().recording_id, 42);
    let scan = reader.scan();
    assert!(scan.is_clean());
    assert_eq!(
        scan.blocks[0].meta_payload().unwrap().as_ref(),
        records(20, 2000)
    );
    let frames: Vec<(FrameHeader, Vec<u8>)> = scan
        .frames()
        .map(|b| decode_frame(b.payload).unwrap())
        .collect();
    assert_eq!(frames.len(), 2);
    assert_eq!(
        (frames[0].0.codec, frames[0].0.record_count),
        (Codec::Zstd, 50)
    );
    assert_eq!(frames[0].1, records(21, 4000));
    assert_eq!(frames[1].1, records(22, 1000));
    assert_eq!(
        scan.end,
        Some(EndInfo {
            frames: 2,
            records: 62,
            index_offset: Some(scan.blocks[3].offset),
            chain_head: None,
        })
    );
    // And today's encoder still produces a file that reads the same.
    let fresh = golden_zstd();
    let fresh_scan = TraceReader::new(&fresh).unwrap().scan();
    assert!(fresh_scan.is_clean());
    assert_eq!(fresh_scan.blocks.len(), scan.blocks.len());
}
