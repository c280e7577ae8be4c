//! Verification of the hash chain of format version 2 (`super::chain`): within each
//! segment, then across the segments of a recording.
//!
//! [`verify_segment`] recomputes the chain of one segment from its bytes and names the
//! first block that does not follow from the bytes before it, with what the frame numbers
//! say happened there (altered, missing, repeated, reordered). [`link_segments`] checks
//! that the segments given follow each other: consecutive indexes, each one's header naming
//! its predecessor's final chain head. Both are pure functions of bytes: memory is
//! O(blocks), work is one SHA-256 pass over the file.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use serde::Serialize;

use super::block::{BlockKind, BLOCK_HEADER_LEN};
use super::chain::{stored_link, ChainHead};
use super::error::FormatError;
use super::header::FormatVersion;
use super::reader::{BlockRef, Damage, DamageKind, TraceReader};

/// What verification found in one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum SegmentStatus {
    /// Every block follows from the ones before it, the End block holds the chain head and
    /// agrees with the frames and the Index.
    Intact,
    /// Every block up to byte `at` verifies; the segment ends there without an End block
    /// (a crash, `kill -9`, a full disk, a recorder still writing, or a cut file).
    Cut { at: u64 },
    /// The first place where the segment does not verify.
    Failed(Failure),
    /// Format version 1: written before the hash chain existed; nothing to verify.
    NoChain,
}

/// The first block (or byte range) of a segment that fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// File offset of the block header (or of the damaged bytes).
    pub offset: u64,
    pub problem: Problem,
    /// The block's kind, when its header could be read.
    #[serde(serialize_with = "kind_name")]
    pub block: Option<BlockKind>,
    /// Frame sequence number: the frame's own for a Frame block, else the last frame
    /// before it.
    pub frame: Option<u32>,
    /// The event time the block covers, boot-time ns (`CLOCK_BOOTTIME` of the recording
    /// host): a frame's first and last record; for another block, from the last record of
    /// the frame before it to the first of the frame after it (either may be unknown).
    pub first_ts: Option<u64>,
    pub last_ts: Option<u64>,
}

fn kind_name<S: serde::Serializer>(kind: &Option<BlockKind>, s: S) -> Result<S::Ok, S::Error> {
    match kind {
        Some(kind) => s.serialize_some(&kind.to_string()),
        None => s.serialize_none(),
    }
}

/// Why a segment fails verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// Bytes that no longer match their own checksum (a changed byte): see the message.
    Damaged { message: String },
    /// The frame is in its place (its number follows the previous frame's) but its bytes
    /// are not those the chain committed to: its contents were changed.
    Altered,
    /// Frames `from..=to` are missing before this frame.
    Missing { from: u32, to: u32 },
    /// This frame's number already appeared earlier in the segment.
    Repeated,
    /// This frame is out of order: its number is not the next one, and the next one comes
    /// later in the file.
    Reordered { expected: u32 },
    /// A block that is not a frame does not follow from the blocks before it: it was
    /// altered, or a block before it is missing, repeated or out of place.
    Broken,
    /// The End block disagrees with the chain or with the segment: `what` says how.
    BadEnd { what: String },
    /// The Index block disagrees with the frames of the segment.
    BadIndex,
    /// Bytes after the End block.
    AfterEnd { bytes: u64 },
    /// The file header does not read: the segment cannot be verified at all.
    Unreadable { message: String },
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::Damaged { message } => write!(f, "damaged: {message}"),
            Problem::Altered => {
                f.write_str("altered: its contents are not those the chain committed to")
            }
            Problem::Missing { from, to } if from == to => {
                write!(f, "frame {from} is missing before it")
            }
            Problem::Missing { from, to } => {
                write!(f, "frames {from} to {to} are missing before it")
            }
            Problem::Repeated => {
                f.write_str("repeated: this frame already appeared earlier in the segment")
            }
            Problem::Reordered { expected } => write!(
                f,
                "reordered: frame {expected} should come here and comes later in the file"
            ),
            Problem::Broken => f.write_str(
                "does not follow from the blocks before it: it was altered, or a block before \
                 it is missing, repeated or out of place",
            ),
            Problem::BadEnd { what } => write!(f, "End block does not seal the segment: {what}"),
            Problem::BadIndex => {
                f.write_str("Index block disagrees with the frames of the segment")
            }
            Problem::AfterEnd { bytes } => {
                write!(f, "{bytes} bytes were added after the End block")
            }
            Problem::Unreadable { message } => write!(f, "unreadable: {message}"),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at byte offset {}", self.offset)?;
        if let Some(kind) = self.block {
            write!(f, ", {kind} block")?;
        }
        match (self.block, self.frame) {
            (Some(BlockKind::Frame), Some(seq)) => write!(f, " (frame {seq}")?,
            (_, Some(seq)) => write!(f, " (after frame {seq}")?,
            (_, None) => write!(f, " (before any frame")?,
        }
        match (self.first_ts, self.last_ts) {
            (Some(a), Some(b)) => write!(f, ", event time {a}..{b} ns")?,
            (Some(a), None) => write!(f, ", event time from {a} ns")?,
            (None, Some(b)) => write!(f, ", event time up to {b} ns")?,
            (None, None) => {}
        }
        write!(f, "): {}", self.problem)
    }
}

/// The verdict on one segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentVerdict {
    /// From the file header (0 when it does not read).
    pub recording_id: u64,
    pub segment_index: u32,
    /// 1 or 2; 0 when the header does not read.
    pub version: u16,
    #[serde(flatten)]
    pub status: SegmentStatus,
    /// Blocks whose chain link verified, in file order from the first.
    pub blocks_verified: u64,
    /// Frames among them.
    pub frames_verified: u64,
    /// The end of the last verified block: everything before this offset verifies.
    pub verified_up_to: u64,
    /// Version 2: the previous segment's final chain head, as this segment's header says.
    #[serde(serialize_with = "head_hex")]
    pub prev_head: Option<ChainHead>,
    /// Version 2: the chain head after the last verified block (for an intact segment,
    /// after its End block: the head the next segment links to).
    #[serde(serialize_with = "head_hex")]
    pub chain_head: Option<ChainHead>,
}

fn head_hex<S: serde::Serializer>(head: &Option<ChainHead>, s: S) -> Result<S::Ok, S::Error> {
    match head {
        Some(head) => s.serialize_some(&head.to_string()),
        None => s.serialize_none(),
    }
}

impl SegmentVerdict {
    /// Whether the segment is intact (closed and verified).
    pub fn is_intact(&self) -> bool {
        self.status == SegmentStatus::Intact
    }
}

impl fmt::Display for SegmentVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.status {
            SegmentStatus::Intact => write!(
                f,
                "intact: {} blocks, {} frames verified; chain head {}",
                self.blocks_verified,
                self.frames_verified,
                display_head(&self.chain_head)
            ),
            SegmentStatus::Cut { at } => write!(
                f,
                "cut at byte offset {at}: the {} blocks ({} frames) before it verify, the \
                 segment has no End block; chain head there {}",
                self.blocks_verified,
                self.frames_verified,
                display_head(&self.chain_head)
            ),
            SegmentStatus::Failed(failure) => write!(
                f,
                "FAILED {failure}; the {} blocks before byte offset {} verify",
                self.blocks_verified, self.verified_up_to
            ),
            SegmentStatus::NoChain => f.write_str("format v1: no hash chain (nothing to verify)"),
        }
    }
}

fn display_head(head: &Option<ChainHead>) -> String {
    head.map_or_else(|| "none".to_owned(), |h| h.to_string())
}

/// The verdict for a file whose header does not read.
pub fn unreadable(error: &FormatError) -> SegmentVerdict {
    SegmentVerdict {
        recording_id: 0,
        segment_index: 0,
        version: 0,
        status: SegmentStatus::Failed(Failure {
            offset: 0,
            problem: Problem::Unreadable {
                message: error.to_string(),
            },
            block: None,
            frame: None,
            first_ts: None,
            last_ts: None,
        }),
        blocks_verified: 0,
        frames_verified: 0,
        verified_up_to: 0,
        prev_head: None,
        chain_head: None,
    }
}

/// Verifies one segment file held in memory. Never fails: a file whose header does not
/// read gets a [`Problem::Unreadable`] verdict.
pub fn verify_segment(bytes: &[u8]) -> SegmentVerdict {
    let reader = match TraceReader::new(bytes) {
        Ok(reader) => reader,
        Err(e) => return unreadable(&e),
    };
    let header = reader.header();
    let mut verdict = SegmentVerdict {
        recording_id: header.recording_id,
        segment_index: header.segment_index,
        version: reader.version().as_u16(),
        status: SegmentStatus::NoChain,
        blocks_verified: 0,
        frames_verified: 0,
        verified_up_to: reader.data_offset(),
        prev_head: reader.prev_chain_head(),
        chain_head: None,
    };
    let (Some(start), FormatVersion::V2) = (reader.chain_start(), reader.version()) else {
        return verdict;
    };
    let scan = reader.scan();
    let mut walk = Walk {
        bytes,
        blocks: &scan.blocks,
        head: start,
        pos: reader.data_offset(),
        seen: HashSet::new(),
        last_frame: None,
        frames: Vec::new(),
    };
    let failure = walk.run(&scan.damage);
    verdict.blocks_verified = walk.verified_blocks();
    verdict.frames_verified = walk.frames.len() as u64;
    verdict.verified_up_to = walk.pos;
    verdict.chain_head = Some(walk.head);
    verdict.status = match failure {
        Some(failure) => SegmentStatus::Failed(failure),
        None if scan.end.is_some() => SegmentStatus::Intact,
        None => SegmentStatus::Cut { at: walk.pos },
    };
    verdict
}

/// The state of a walk along a segment's chain.
struct Walk<'s, 'a> {
    bytes: &'a [u8],
    blocks: &'s [BlockRef<'a>],
    /// The chain head after the last verified block.
    head: ChainHead,
    /// The end of the last verified block.
    pos: u64,
    /// Frame numbers verified so far.
    seen: HashSet<u32>,
    /// The last verified frame: (seq, last_ts).
    last_frame: Option<(u32, u64)>,
    /// (offset, seq, first_ts, last_ts, record_count) of every verified frame.
    frames: Vec<(u64, u32, u64, u64, u32)>,
}

impl Walk<'_, '_> {
    fn verified_blocks(&self) -> u64 {
        self.blocks.iter().filter(|b| b.offset < self.pos).count() as u64
    }

    /// Verifies block after block; returns the first failure.
    fn run(&mut self, damage: &[Damage]) -> Option<Failure> {
        for (i, block) in self.blocks.iter().enumerate() {
            if block.offset != self.pos {
                // Something unreadable lies between the last verified block and this one.
                return Some(self.damage_failure(damage, i));
            }
            let Some(header) = self
                .bytes
                .get(block.offset as usize..)
                .and_then(|rest| rest.first_chunk::<BLOCK_HEADER_LEN>())
            else {
                return Some(self.damage_failure(damage, i));
            };
            let next = self.head.next(header, block.payload);
            if stored_link(header) != next.link() {
                return Some(self.break_at(i));
            }
            if block.kind == BlockKind::End {
                if let Some(failure) = self.check_end(i) {
                    return Some(failure);
                }
            }
            if block.kind == BlockKind::Frame {
                if let Ok(h) = block.frame_header() {
                    self.seen.insert(h.seq);
                    self.last_frame = Some((h.seq, h.last_ts));
                    self.frames
                        .push((block.offset, h.seq, h.first_ts, h.last_ts, h.record_count));
                }
            }
            self.head = next;
            self.pos = block.offset + block.block_len();
        }
        // After the last intact block: damage that is not a cut (garbage, bytes after End).
        damage
            .iter()
            .find(|d| d.offset >= self.pos && !d.kind.is_crash_artifact())
            .map(|d| self.failure_at(d.offset, None, damage_problem(d), None, None))
    }

    fn failure_at(
        &self,
        offset: u64,
        block: Option<BlockKind>,
        problem: Problem,
        frame: Option<(u32, u64, u64)>,
        next_first_ts: Option<u64>,
    ) -> Failure {
        match frame {
            Some((seq, first_ts, last_ts)) => Failure {
                offset,
                problem,
                block,
                frame: Some(seq),
                first_ts: Some(first_ts),
                last_ts: Some(last_ts),
            },
            None => Failure {
                offset,
                problem,
                block,
                frame: self.last_frame.map(|(seq, _)| seq),
                first_ts: self.last_frame.map(|(_, ts)| ts),
                last_ts: next_first_ts,
            },
        }
    }

    /// The first frame's first timestamp at or after block `i`.
    fn next_first_ts(&self, i: usize) -> Option<u64> {
        self.blocks
            .get(i..)?
            .iter()
            .filter_map(|b| b.frame_header().ok())
            .map(|h| h.first_ts)
            .next()
    }

    /// Damage (a checksum that fails, unreadable bytes) between the last verified block
    /// and block `i`.
    fn damage_failure(&self, damage: &[Damage], i: usize) -> Failure {
        let problem = damage.iter().find(|d| d.offset >= self.pos).map_or(
            Problem::Damaged {
                message: "unreadable bytes".to_owned(),
            },
            damage_problem,
        );
        let block = damage
            .iter()
            .find(|d| d.offset >= self.pos)
            .and_then(|d| match d.kind {
                DamageKind::PayloadChecksum { kind, .. } => Some(kind),
                _ => None,
            });
        self.failure_at(self.pos, block, problem, None, self.next_first_ts(i))
    }

    /// Block `i`'s link does not match the chain: say what its frame number suggests.
    fn break_at(&self, i: usize) -> Failure {
        let Some(block) = self.blocks.get(i) else {
            return self.failure_at(self.pos, None, Problem::Broken, None, None);
        };
        let frame = match block.frame_header() {
            Ok(h) if block.kind == BlockKind::Frame => h,
            _ => {
                let next = self.next_first_ts(i + 1);
                return self.failure_at(
                    block.offset,
                    Some(block.kind),
                    Problem::Broken,
                    None,
                    next,
                );
            }
        };
        let seq = frame.seq;
        let expected = self.last_frame.map(|(s, _)| s.wrapping_add(1));
        let later = |want: u32| {
            self.blocks
                .iter()
                .skip(i + 1)
                .filter_map(|b| b.frame_header().ok())
                .any(|h| h.seq == want)
        };
        let problem = match expected {
            _ if self.seen.contains(&seq) => Problem::Repeated,
            None => Problem::Altered,
            Some(e) if e == seq => Problem::Altered,
            Some(e) if later(e) => Problem::Reordered { expected: e },
            Some(e) if seq > e => Problem::Missing {
                from: e,
                to: seq - 1,
            },
            Some(e) => Problem::Reordered { expected: e },
        };
        self.failure_at(
            block.offset,
            Some(BlockKind::Frame),
            problem,
            Some((seq, frame.first_ts, frame.last_ts)),
            None,
        )
    }

    /// The End block (block `i`, its link verified) must hold the head before it and
    /// agree with the verified frames and the Index.
    fn check_end(&self, i: usize) -> Option<Failure> {
        let block = self.blocks.get(i)?;
        let bad = |what: String| {
            Some(self.failure_at(
                block.offset,
                Some(BlockKind::End),
                Problem::BadEnd { what },
                None,
                None,
            ))
        };
        let end = match block.end_info() {
            Ok(end) => end,
            Err(e) => return bad(e.root().to_string()),
        };
        match end.chain_head {
            None => return bad("it holds no chain head".to_owned()),
            Some(head) if head != self.head => {
                return bad(format!(
                    "it holds chain head {head}, the blocks before it hash to {}",
                    self.head
                ))
            }
            Some(_) => {}
        }
        let records: u64 = self.frames.iter().map(|f| u64::from(f.4)).sum();
        if (end.frames, end.records) != (self.frames.len() as u64, records) {
            return bad(format!(
                "it counts {} frames and {} records, the segment holds {} and {records}",
                end.frames,
                end.records,
                self.frames.len()
            ));
        }
        if let Some(index_offset) = end.index_offset {
            let index = self.blocks.iter().find(|b| b.offset == index_offset);
            let entries = index.and_then(|b| b.index_entries().ok());
            let agrees = entries.is_some_and(|entries| {
                entries.len() == self.frames.len()
                    && entries.iter().zip(&self.frames).all(|(e, f)| {
                        (e.block_offset, e.seq, e.first_ts, e.last_ts, e.record_count) == *f
                    })
            });
            if !agrees {
                return Some(self.failure_at(
                    index_offset,
                    Some(BlockKind::Index),
                    Problem::BadIndex,
                    None,
                    None,
                ));
            }
        }
        None
    }
}

fn damage_problem(d: &Damage) -> Problem {
    match d.kind {
        DamageKind::AfterEnd { bytes } => Problem::AfterEnd { bytes },
        _ => {
            // The failure names the offset already.
            let message = d.to_string();
            let message = message
                .split_once(": ")
                .map_or(message.as_str(), |(_, m)| m);
            Problem::Damaged {
                message: message.to_owned(),
            }
        }
    }
}

/// A finding about how the given segments of a recording fit together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LinkFinding {
    /// Segments `from..=to` of the recording lie between two given segments and were not
    /// given: they are missing.
    MissingSegments {
        recording_id: u64,
        from: u32,
        to: u32,
        /// Index into the verdicts of the segment after the gap.
        after_gap: usize,
    },
    /// Two given files are the same segment of the same recording.
    RepeatedSegment {
        recording_id: u64,
        segment_index: u32,
        files: (usize, usize),
    },
    /// The segment's header names a previous chain head other than its predecessor's final
    /// head: it was not written after that predecessor (another recording's segment put in
    /// its place, or a predecessor changed or cut).
    BrokenLink {
        recording_id: u64,
        segment_index: u32,
        file: usize,
        predecessor: usize,
        #[serde(serialize_with = "head_hex")]
        expected: Option<ChainHead>,
        #[serde(serialize_with = "head_hex")]
        found: Option<ChainHead>,
    },
    /// Segment 0 of a recording names a previous chain head: it is not a first segment.
    NotFirst { recording_id: u64, file: usize },
}

/// Checks how the verified segments fit together: for each recording (by `recording_id`),
/// segment indexes must follow each other without gaps or repeats between the first and
/// the last given, and each version 2 segment must name its predecessor's final chain head.
/// Segments before the first or after the last given are not required. Version 1 and
/// unreadable segments are left out (their verdicts already say why).
pub fn link_segments(verdicts: &[SegmentVerdict]) -> Vec<LinkFinding> {
    let mut recordings: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, v) in verdicts.iter().enumerate() {
        if v.version == 2 {
            recordings.entry(v.recording_id).or_default().push(i);
        }
    }
    let mut findings = Vec::new();
    for (recording_id, mut files) in recordings {
        files.sort_by_key(|&i| verdicts.get(i).map(|v| v.segment_index));
        for (pos, &i) in files.iter().enumerate() {
            let Some(v) = verdicts.get(i) else { continue };
            if v.segment_index == 0 && v.prev_head.is_some_and(|h| !h.is_zero()) {
                findings.push(LinkFinding::NotFirst {
                    recording_id,
                    file: i,
                });
            }
            let Some(&p) = pos.checked_sub(1).and_then(|q| files.get(q)) else {
                continue;
            };
            let Some(prev) = verdicts.get(p) else {
                continue;
            };
            if prev.segment_index == v.segment_index {
                findings.push(LinkFinding::RepeatedSegment {
                    recording_id,
                    segment_index: v.segment_index,
                    files: (p, i),
                });
            } else if prev.segment_index + 1 < v.segment_index {
                findings.push(LinkFinding::MissingSegments {
                    recording_id,
                    from: prev.segment_index + 1,
                    to: v.segment_index - 1,
                    after_gap: i,
                });
            } else if !matches!(prev.status, SegmentStatus::Failed(_))
                && prev.chain_head != v.prev_head
            {
                findings.push(LinkFinding::BrokenLink {
                    recording_id,
                    segment_index: v.segment_index,
                    file: i,
                    predecessor: p,
                    expected: prev.chain_head,
                    found: v.prev_head,
                });
            }
        }
    }
    findings
}

impl LinkFinding {
    /// A sentence, naming files by `name(index into the verdicts)`.
    pub fn describe(&self, name: impl Fn(usize) -> String) -> String {
        match self {
            LinkFinding::MissingSegments {
                recording_id,
                from,
                to,
                after_gap,
            } => {
                let which = if from == to {
                    format!("segment {from} is")
                } else {
                    format!("segments {from} to {to} are")
                };
                format!(
                    "recording {recording_id:016x}: {which} missing before {}",
                    name(*after_gap)
                )
            }
            LinkFinding::RepeatedSegment {
                recording_id,
                segment_index,
                files,
            } => format!(
                "recording {recording_id:016x}: segment {segment_index} is given twice: {} and {}",
                name(files.0),
                name(files.1)
            ),
            LinkFinding::BrokenLink {
                recording_id,
                segment_index,
                file,
                predecessor,
                expected,
                found,
            } => format!(
                "recording {recording_id:016x}: segment {segment_index} ({}) does not follow {}: \
                 its header names the previous chain head {}, {} ends with {}",
                name(*file),
                name(*predecessor),
                display_head(found),
                name(*predecessor),
                display_head(expected),
            ),
            LinkFinding::NotFirst { recording_id, file } => format!(
                "recording {recording_id:016x}: {} says it is segment 0 but names a previous \
                 segment's chain head",
                name(*file)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{Codec, FileHeader, SegmentEncoder};

    fn header(index: u32) -> FileHeader {
        FileHeader {
            recording_id: 77,
            segment_index: index,
            created_realtime_ns: 1,
        }
    }

    fn encode(enc: &mut SegmentEncoder, seq_base: u64) {
        enc.push_meta(BlockKind::HostInfo, b"host", false).unwrap();
        for i in 0..4u64 {
            let raw: Vec<u8> = (0..300)
                .map(|b| (b as u64 * (i + seq_base + 1)) as u8)
                .collect();
            let ts = 100 * (seq_base + i + 1);
            enc.push_frame(&raw, ts, ts + 50, 3, Codec::Zstd).unwrap();
        }
        enc.push_meta(BlockKind::Stats, &[1; 40], true).unwrap();
    }

    fn segment(index: u32, prev: &ChainHead) -> (Vec<u8>, ChainHead) {
        let mut enc = SegmentEncoder::after(&header(index), 3, prev).unwrap();
        enc.set_next_seq(index * 4);
        encode(&mut enc, u64::from(index) * 4);
        let (bytes, head) = enc.finish_chained();
        (bytes, head.unwrap())
    }

    #[test]
    fn intact_and_version_1() {
        let (bytes, head) = segment(0, &ChainHead::ZERO);
        let v = verify_segment(&bytes);
        assert_eq!(v.status, SegmentStatus::Intact);
        assert_eq!((v.blocks_verified, v.frames_verified), (8, 4));
        assert_eq!(v.verified_up_to, bytes.len() as u64);
        assert_eq!(v.chain_head, Some(head));
        assert_eq!(v.prev_head, Some(ChainHead::ZERO));

        let mut enc = SegmentEncoder::new_v1(&header(0), 3).unwrap();
        encode(&mut enc, 0);
        let v = verify_segment(&enc.finish());
        assert_eq!((&v.status, v.version), (&SegmentStatus::NoChain, 1));
        assert!(v.to_string().contains("format v1: no hash chain"));
    }

    #[test]
    fn a_cut_at_every_byte_verifies_up_to_the_last_complete_block() {
        let (bytes, _) = segment(0, &ChainHead::ZERO);
        let reader = TraceReader::new(&bytes).unwrap();
        let ends: Vec<u64> = reader
            .scan()
            .blocks
            .iter()
            .map(|b| b.offset + b.block_len())
            .collect();
        for cut in 88..bytes.len() {
            for tail in [0usize, 512] {
                // A zero tail may complete a block whose last bytes were zeros anyway.
                let zeros = match tail {
                    0 => 0,
                    _ => bytes[cut..].iter().take_while(|&&b| b == 0).count(),
                };
                let reach = (cut + zeros) as u64;
                let last = ends.iter().copied().filter(|&e| e <= reach).max();
                let last = last.unwrap_or(88);
                let mut b = bytes[..cut].to_vec();
                b.resize(cut + tail, 0);
                let v = verify_segment(&b);
                assert_eq!(
                    v.status,
                    SegmentStatus::Cut { at: last },
                    "cut {cut} tail {tail}"
                );
                assert_eq!(v.verified_up_to, last, "cut {cut}");
            }
        }
        // Cut inside the file header: unreadable.
        let v = verify_segment(&bytes[..60]);
        assert!(matches!(
            v.status,
            SegmentStatus::Failed(Failure {
                problem: Problem::Unreadable { .. },
                ..
            })
        ));
    }

    #[test]
    fn every_flipped_byte_fails_and_never_passes_for_a_cut() {
        let (bytes, _) = segment(0, &ChainHead::ZERO);
        for at in 0..bytes.len() {
            let mut b = bytes.clone();
            b[at] ^= 0x20;
            let v = verify_segment(&b);
            match &v.status {
                SegmentStatus::Failed(f) => {
                    assert!(f.offset <= at as u64, "byte {at}: {v}");
                    assert!(v.verified_up_to <= at as u64, "byte {at}: {v}");
                }
                other => panic!("byte {at}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_link_that_does_not_match_is_caught_even_with_valid_crcs() {
        let (mut bytes, _) = segment(0, &ChainHead::ZERO);
        let frames: Vec<u64> = TraceReader::new(&bytes)
            .unwrap()
            .scan()
            .frames()
            .map(|b| b.offset)
            .collect();
        // Rewrite the link of frame 2 (its header CRC recomputed).
        let at = frames[2] as usize;
        let mut h: [u8; BLOCK_HEADER_LEN] = bytes[at..at + BLOCK_HEADER_LEN].try_into().unwrap();
        let link = stored_link(&h) ^ 1;
        crate::format::chain::set_link(&mut h, link);
        bytes[at..at + BLOCK_HEADER_LEN].copy_from_slice(&h);
        let v = verify_segment(&bytes);
        let SegmentStatus::Failed(f) = &v.status else {
            panic!("{v}");
        };
        assert_eq!(
            (f.offset, &f.problem, f.frame),
            (frames[2], &Problem::Altered, Some(2))
        );
        assert_eq!((f.first_ts, f.last_ts), (Some(300), Some(350)));
        assert_eq!(v.frames_verified, 2);
    }

    #[test]
    fn segments_link_to_their_predecessors() {
        let (s0, h0) = segment(0, &ChainHead::ZERO);
        let (s1, h1) = segment(1, &h0);
        let (s2, _) = segment(2, &h1);
        let v: Vec<SegmentVerdict> = [&s0, &s1, &s2].iter().map(|b| verify_segment(b)).collect();
        assert_eq!(link_segments(&v), vec![]);
        // Any order.
        let rev: Vec<SegmentVerdict> = v.iter().rev().cloned().collect();
        assert_eq!(link_segments(&rev), vec![]);
        // A gap.
        let gap = vec![v[0].clone(), v[2].clone()];
        assert_eq!(
            link_segments(&gap),
            vec![LinkFinding::MissingSegments {
                recording_id: 77,
                from: 1,
                to: 1,
                after_gap: 1
            }]
        );
        // The same segment twice.
        let twice = vec![v[1].clone(), v[1].clone()];
        assert!(matches!(
            link_segments(&twice)[..],
            [LinkFinding::RepeatedSegment {
                segment_index: 1,
                ..
            }]
        ));
        // A segment 1 written after another predecessor.
        let (other, _) = segment(1, &ChainHead([5; 32]));
        let wrong = vec![v[0].clone(), verify_segment(&other)];
        assert!(matches!(
            &link_segments(&wrong)[..],
            [LinkFinding::BrokenLink { segment_index: 1, expected: Some(e), found: Some(f), .. }]
                if *e == h0 && *f == ChainHead([5; 32])
        ));
        // A segment 0 that names a predecessor.
        let (not_first, _) = {
            let mut enc = SegmentEncoder::after(&header(0), 3, &ChainHead([1; 32])).unwrap();
            encode(&mut enc, 0);
            enc.finish_chained()
        };
        assert!(matches!(
            link_segments(&[verify_segment(&not_first)])[..],
            [LinkFinding::NotFirst { file: 0, .. }]
        ));
    }
}
