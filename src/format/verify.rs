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
use super::seal::{KeyId, Seal, VerifyKey};

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
    /// A Seal block does not vouch for the chain, or (with a verification key) fails it:
    /// `what` says how.
    BadSeal { what: String },
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
            Problem::BadSeal { what } => write!(f, "seal fails: {what}"),
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
    /// `CLOCK_REALTIME` ns when the segment was created, as its header says.
    pub created_realtime_ns: u64,
    /// The Seal blocks among the verified blocks, in file order.
    pub seals: Vec<SealEntry>,
    /// What the seals say, once [`check_seals`] ran (else [`SealState::Unverified`] when
    /// there are seals).
    pub seal_state: SealState,
    /// The first verified block after the last seal other than a seal, the Index or the End
    /// block: where the sealed part of the segment ends (`None`: everything but the Index
    /// and End block is sealed, or there is no seal).
    pub unsealed_from: Option<u64>,
}

/// A Seal block found in a segment (its link verified, the chain head it holds equal to
/// the head of the blocks before it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SealEntry {
    /// File offset of the Seal block's header.
    pub offset: u64,
    pub epoch: u64,
    /// `[epoch_start_ns, epoch_end_ns)`: the epoch's `CLOCK_REALTIME` window, ns.
    pub epoch_start_ns: u64,
    pub epoch_end_ns: u64,
    pub key_id: KeyId,
    /// The last frame before the seal.
    pub frame: Option<u32>,
    #[serde(skip)]
    pub seal: Seal,
}

/// The seals of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum SealState {
    /// No seal (a recording without `--seal-key`, or version 1).
    #[default]
    Unsealed,
    /// Seals are present and hold the chain heads, but no verification key was given.
    Unverified,
    /// Every seal was checked with its own epoch's key.
    Verified,
    /// A seal fails with the verification key, an epoch has no seal, or the segment's end
    /// is not sealed: the status says where.
    Failed,
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
            SegmentStatus::NoChain => {
                return f.write_str("format v1: no hash chain (nothing to verify)")
            }
        }?;
        let (Some(first), Some(last)) = (self.seals.first(), self.seals.last()) else {
            return Ok(());
        };
        let epochs = if first.epoch == last.epoch {
            format!("epoch {}", first.epoch)
        } else {
            format!("epochs {} to {}", first.epoch, last.epoch)
        };
        let until = format!(
            "sealed up to byte offset {} ({epochs}, key {}, until {})",
            last.offset,
            last.key_id,
            realtime(last.epoch_end_ns)
        );
        match self.seal_state {
            SealState::Unsealed => Ok(()),
            SealState::Unverified => write!(
                f,
                "; {} seals present, not verified (no verification key); {until}",
                self.seals.len()
            ),
            SealState::Verified => write!(f, "; {} seals verified; {until}", self.seals.len()),
            SealState::Failed => write!(f, "; seals FAILED"),
        }?;
        if let (Some(at), SealState::Verified | SealState::Unverified) =
            (self.unsealed_from, self.seal_state)
        {
            write!(f, "; not sealed from byte offset {at}")?;
        }
        Ok(())
    }
}

/// A `CLOCK_REALTIME` ns value as RFC 3339 UTC (the number itself if out of range).
fn realtime(ns: u64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ns))
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ns} ns"))
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
        created_realtime_ns: 0,
        seals: Vec::new(),
        seal_state: SealState::Unsealed,
        unsealed_from: None,
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
        created_realtime_ns: header.created_realtime_ns,
        seals: Vec::new(),
        seal_state: SealState::Unsealed,
        unsealed_from: None,
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
        seals: Vec::new(),
        unsealed_from: None,
    };
    let failure = walk.run(&scan.damage);
    if !walk.seals.is_empty() {
        verdict.seal_state = SealState::Unverified;
    }
    verdict.seals = std::mem::take(&mut walk.seals);
    verdict.unsealed_from = walk.unsealed_from;
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
    /// Every verified seal.
    seals: Vec<SealEntry>,
    /// The first verified block after the last seal that is not a seal, Index or End.
    unsealed_from: Option<u64>,
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
            match block.kind {
                BlockKind::Seal => {
                    if let Some(failure) = self.check_seal(block) {
                        return Some(failure);
                    }
                    self.unsealed_from = None;
                }
                BlockKind::Index | BlockKind::End => {}
                _ => {
                    self.unsealed_from.get_or_insert(block.offset);
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

    /// A Seal block (its link verified) must parse and hold the chain head of the blocks
    /// before it; it is then recorded for [`check_seals`].
    fn check_seal(&mut self, block: &BlockRef<'_>) -> Option<Failure> {
        let bad = |what: &str| {
            Some(self.failure_at(
                block.offset,
                Some(BlockKind::Seal),
                Problem::BadSeal {
                    what: what.to_owned(),
                },
                None,
                None,
            ))
        };
        if block.flags != 0 {
            return bad("its block flags are not 0");
        }
        let Some(seal) = Seal::decode(block.payload) else {
            return bad("its payload is not a seal (96 bytes)");
        };
        if seal.head != self.head {
            return bad("the chain head it holds is not that of the blocks before it");
        }
        self.seals.push(SealEntry {
            offset: block.offset,
            epoch: seal.epoch,
            epoch_start_ns: seal.epoch_start_ns,
            epoch_end_ns: seal.epoch_end_ns,
            key_id: seal.key_id,
            frame: self.last_frame.map(|(seq, _)| seq),
            seal,
        });
        None
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

/// Checks the seals of verified segments with a verification key, and marks each segment's
/// [`SealState`]; a seal that fails becomes the segment's failure when it comes before any
/// failure already found. Per recording (segments in index order, consecutive ones
/// continuing each other):
///
/// - every seal's tag must verify with the key of the epoch it names, derived forward from
///   `k_0`, and no other (a seal re-made with a later epoch's key fails);
/// - epochs never go back, and no epoch between two seals lacks one (the recorder seals
///   every epoch): a gap means seals were removed, or data re-sealed with a later key;
/// - a segment's first seal is of the epoch it was created in (one epoch's slack either
///   way, for a segment created as an epoch ended);
/// - a closed segment must be sealed, and sealed up to its Index and End blocks.
///
/// `now_ns` (`CLOCK_REALTIME`) bounds the epochs a seal may name. Segments that are not
/// version 2 or already failed before their first seal are left as they are.
pub fn check_seals(verdicts: &mut [SegmentVerdict], key: &VerifyKey, now_ns: u64) {
    let mut recordings: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, v) in verdicts.iter().enumerate() {
        if v.version == 2 {
            recordings.entry(v.recording_id).or_default().push(i);
        }
    }
    for mut files in recordings.into_values() {
        files.sort_by_key(|&i| verdicts.get(i).map(|v| v.segment_index));
        let mut keys = key.epochs();
        // (segment index, epoch) of the last seal checked.
        let mut prev: Option<(u32, u64)> = None;
        for i in files {
            let Some(v) = verdicts.get_mut(i) else {
                continue;
            };
            let continues = prev.filter(|&(seg, _)| {
                seg == v.segment_index || seg.checked_add(1) == Some(v.segment_index)
            });
            let failure = check_segment_seals(v, &mut keys, continues.map(|p| p.1), key, now_ns);
            if let Some(last) = v.seals.last() {
                prev = Some((v.segment_index, last.epoch));
            } else if continues.is_none() {
                prev = None;
            }
            v.seal_state = match (&failure, v.seals.is_empty()) {
                (Some(_), _) => SealState::Failed,
                (None, true) => SealState::Unsealed,
                (None, false) => SealState::Verified,
            };
            if let Some(failure) = failure {
                let earlier = match &v.status {
                    SegmentStatus::Failed(f) => failure.offset < f.offset,
                    _ => true,
                };
                if earlier {
                    v.verified_up_to = v.verified_up_to.min(failure.offset);
                    v.status = SegmentStatus::Failed(failure);
                }
            }
        }
    }
}

fn check_segment_seals(
    v: &SegmentVerdict,
    keys: &mut super::seal::EpochKeys,
    mut prev_epoch: Option<u64>,
    key: &VerifyKey,
    now_ns: u64,
) -> Option<Failure> {
    let fail = |offset: u64, frame: Option<u32>, what: String| Failure {
        offset,
        problem: Problem::BadSeal { what },
        block: Some(BlockKind::Seal),
        frame,
        first_ts: None,
        last_ts: None,
    };
    if v.seals.is_empty() {
        if v.status == SegmentStatus::Intact {
            return Some(Failure {
                block: None,
                ..fail(
                    v.unsealed_from.unwrap_or(0),
                    None,
                    "the segment holds no seal: it was not sealed, or its seals were removed"
                        .to_owned(),
                )
            });
        }
        return None;
    }
    for (n, entry) in v.seals.iter().enumerate() {
        let at = |what: String| Some(fail(entry.offset, entry.frame, what));
        match prev_epoch {
            Some(p) if entry.epoch < p => {
                return at(format!(
                    "epoch {} comes after a seal of epoch {p}: the seals are out of order",
                    entry.epoch
                ))
            }
            Some(p) if entry.epoch > p.saturating_add(1) => {
                let missing = if p.saturating_add(2) == entry.epoch {
                    format!("epoch {} has", p + 1)
                } else {
                    format!("epochs {} to {} have", p + 1, entry.epoch - 1)
                };
                return at(format!(
                    "{missing} no seal before this seal of epoch {}: seals were removed, or \
                     the data re-sealed with a later epoch's key",
                    entry.epoch
                ));
            }
            _ => {}
        }
        // After the order checks: the keys then only ever walk forward, so a hostile trace
        // cannot make the verifier derive the same keys again and again.
        if let Err(problem) = keys.check(&entry.seal, now_ns) {
            return at(format!("epoch {}: {problem}", entry.epoch));
        }
        if n == 0 {
            let clock = key.clock();
            let (start, end) = clock.window(entry.epoch);
            let earliest = start.saturating_sub(clock.interval_ns);
            let latest = end.saturating_add(clock.interval_ns);
            if !(earliest..latest).contains(&v.created_realtime_ns) {
                return at(format!(
                    "the segment's first seal is of epoch {} ({} to {}), the segment says it \
                     was created at {}: it was sealed in another epoch than it was written",
                    entry.epoch,
                    realtime(start),
                    realtime(end),
                    realtime(v.created_realtime_ns)
                ));
            }
        }
        prev_epoch = Some(entry.epoch);
    }
    if let (SegmentStatus::Intact, Some(from)) = (&v.status, v.unsealed_from) {
        return Some(Failure {
            block: None,
            ..fail(
                from,
                v.seals.last().and_then(|s| s.frame),
                "the segment is closed but not sealed up to its Index and End blocks: its \
                 last seal was removed or blocks were added after it"
                    .to_owned(),
            )
        });
    }
    None
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

    /// A sealed segment like [`segment`]: a seal of epoch `epochs[k]` after frame `k`
    /// (none where the list is shorter), then the segment-end seal of the last epoch.
    fn sealed_segment(
        index: u32,
        prev: &ChainHead,
        key: &mut crate::format::SealingKey,
        epochs: &[u64],
    ) -> (Vec<u8>, ChainHead) {
        let created = key.clock().window(epochs[0]).0 + 1;
        let h = FileHeader {
            created_realtime_ns: created,
            ..header(index)
        };
        let mut enc = SegmentEncoder::after(&h, 3, prev).unwrap();
        enc.set_next_seq(index * 4);
        enc.push_meta(BlockKind::HostInfo, b"host", false).unwrap();
        for i in 0..4u64 {
            let raw: Vec<u8> = (0..300).map(|b| (b as u64 * (i + 1)) as u8).collect();
            let ts = 100 * (u64::from(index) * 4 + i + 1);
            enc.push_frame(&raw, ts, ts + 50, 3, Codec::Zstd).unwrap();
            if let Some(&e) = epochs.get(i as usize) {
                key.evolve_to(e);
                let seal = key.seal(enc.chain_head().unwrap());
                enc.push_block(BlockKind::Seal, 0, &seal.encode()).unwrap();
            }
        }
        let seal = key.seal(enc.chain_head().unwrap());
        enc.push_block(BlockKind::Seal, 0, &seal.encode()).unwrap();
        let (bytes, head) = enc.finish_chained();
        (bytes, head.unwrap())
    }

    const START: u64 = 1_700_000_000_000_000_000;
    const INTERVAL: u64 = 10_000_000_000;
    const NOW: u64 = START + 1000 * INTERVAL;

    fn checked(segments: &[&Vec<u8>], key: &VerifyKey) -> Vec<SegmentVerdict> {
        let mut v: Vec<SegmentVerdict> = segments.iter().map(|b| verify_segment(b)).collect();
        check_seals(&mut v, key, NOW);
        v
    }

    fn seal_failure(v: &SegmentVerdict) -> (u64, String) {
        match &v.status {
            SegmentStatus::Failed(Failure {
                offset,
                problem: Problem::BadSeal { what },
                ..
            }) => (*offset, what.clone()),
            other => panic!("expected a seal failure, got {other:?}: {v}"),
        }
    }

    #[test]
    fn sealed_segments_verify_with_their_key_and_without_one() {
        let (mut sk, vk) = crate::format::generate_seal_keys(START, INTERVAL).unwrap();
        let (s0, h0) = sealed_segment(0, &ChainHead::ZERO, &mut sk, &[0, 1]);
        let (s1, _) = sealed_segment(1, &h0, &mut sk, &[2, 3, 3]);
        let plain = verify_segment(&s0);
        assert_eq!(plain.status, SegmentStatus::Intact);
        assert_eq!(plain.seal_state, SealState::Unverified);
        assert_eq!(plain.seals.len(), 3);
        assert!(
            plain.to_string().contains("3 seals present, not verified"),
            "{plain}"
        );
        let v = checked(&[&s0, &s1], &vk);
        for v in &v {
            assert_eq!(
                (&v.status, v.seal_state),
                (&SegmentStatus::Intact, SealState::Verified),
                "{v}"
            );
            assert_eq!(v.unsealed_from, None);
        }
        assert!(v[1].to_string().contains("4 seals verified"), "{}", v[1]);
        // Another key pair: every segment fails, naming the other key.
        let (_, other) = crate::format::generate_seal_keys(START, INTERVAL).unwrap();
        let v = checked(&[&s0], &other);
        assert!(seal_failure(&v[0]).1.contains("another key"));
    }

    #[test]
    fn a_resealed_epoch_a_missing_seal_and_an_unsealed_end_fail() {
        let (mut sk, vk) = crate::format::generate_seal_keys(START, INTERVAL).unwrap();
        let (s0, _) = sealed_segment(0, &ChainHead::ZERO, &mut sk, &[0, 1, 2]);
        let seals = verify_segment(&s0).seals;
        // An intruder in epoch 5 holds k_5 only. (a) Epoch 1's seal re-made with k_5, its
        // epoch number kept: the chain still verifies, the tag does not.
        let (mut later, _) = (sk, ());
        later.evolve_to(5);
        let one = &seals[1];
        let mut forged = later.seal(one.seal.head);
        forged.epoch = 1;
        (forged.epoch_start_ns, forged.epoch_end_ns) = vk.clock().window(1);
        let resealed = rechain_with(&s0, &mut |offset, _| {
            (offset == one.offset).then(|| forged.encode().to_vec())
        });
        assert_eq!(verify_segment(&resealed).status, SegmentStatus::Intact);
        let v = checked(&[&resealed], &vk);
        let (offset, what) = seal_failure(&v[0]);
        assert_eq!(offset, one.offset, "{}", v[0]);
        assert!(
            what.contains("epoch 1") && what.contains("later key"),
            "{what}"
        );
        // (b) Seals of epochs 1 and 2 dropped and the rest sealed again as epoch 5: a gap.
        let mut b = s0.clone();
        for entry in seals.iter().skip(1).take(2).rev() {
            let at = entry.offset as usize;
            b.drain(at..at + BLOCK_HEADER_LEN + 96);
        }
        let b = rechain_and_reseal(&b, &mut later);
        let v = checked(&[&b], &vk);
        let (_, what) = seal_failure(&v[0]);
        assert!(what.contains("epochs 1 to 4 have no seal"), "{what}");
        // (c) The segment-end seal removed: the closed segment's end is not sealed.
        let mut c = s0.clone();
        let last = seals.last().unwrap().offset as usize;
        c.drain(last..last + BLOCK_HEADER_LEN + 96);
        let c = rechain(&c);
        assert_eq!(verify_segment(&c).status, SegmentStatus::Intact);
        let v = checked(&[&c], &vk);
        let (offset, what) = seal_failure(&v[0]);
        assert!(what.contains("not sealed up to its Index"), "{what}");
        assert_eq!(
            offset,
            seals[2].offset + (BLOCK_HEADER_LEN + 96) as u64,
            "{what} {seals:?}"
        );
    }

    #[test]
    fn hostile_seals_cost_bounded_work_and_never_panic() {
        let (mut sk, vk) = crate::format::generate_seal_keys(START, INTERVAL).unwrap();
        let (s0, _) = sealed_segment(0, &ChainHead::ZERO, &mut sk, &[0]);
        let last = verify_segment(&s0).seals.last().unwrap().offset;
        // Every epoch number and window a forger could write, in segments numbered up to
        // u32::MAX: each is refused before any key is derived for it.
        for epoch in [
            u64::MAX,
            u64::MAX - 1,
            crate::format::MAX_EPOCH + 1,
            1 << 40,
        ] {
            let forged = rechain_with(&s0, &mut |offset, head| {
                (offset == last).then(|| {
                    let mut seal = sk.seal(head);
                    seal.epoch = epoch;
                    (seal.epoch_start_ns, seal.epoch_end_ns) = (u64::MAX, u64::MAX);
                    seal.encode().to_vec()
                })
            });
            let mut v = vec![verify_segment(&forged), verify_segment(&forged)];
            v[0].segment_index = u32::MAX - 1;
            v[1].segment_index = u32::MAX;
            let started = std::time::Instant::now();
            check_seals(&mut v, &vk, NOW);
            assert!(started.elapsed() < std::time::Duration::from_secs(2));
            assert_eq!(v[0].seal_state, SealState::Failed, "{}", v[0]);
        }
    }

    /// Rewrites every link, the Index and the End block of a segment after an edit, as
    /// someone who read FORMAT.md would (the Index is rebuilt from the frames).
    fn rechain(bytes: &[u8]) -> Vec<u8> {
        rechain_with(bytes, &mut |_, _| None)
    }

    /// [`rechain`], replacing the last seal's payload by a seal of `key`.
    fn rechain_and_reseal(bytes: &[u8], key: &mut crate::format::SealingKey) -> Vec<u8> {
        let reader = TraceReader::new(bytes).unwrap();
        let last = reader
            .scan()
            .blocks
            .iter()
            .filter(|b| b.kind == BlockKind::Seal)
            .map(|b| b.offset)
            .next_back();
        rechain_with(bytes, &mut |offset, head| {
            (Some(offset) == last).then(|| key.seal(head).encode().to_vec())
        })
    }

    fn rechain_with(
        bytes: &[u8],
        replace: &mut dyn FnMut(u64, ChainHead) -> Option<Vec<u8>>,
    ) -> Vec<u8> {
        let reader = TraceReader::new(bytes).unwrap();
        let h = reader.header();
        let mut enc = SegmentEncoder::after(h, 3, &reader.prev_chain_head().unwrap()).unwrap();
        let scan = reader.scan();
        let mut first = true;
        for b in &scan.blocks {
            match b.kind {
                BlockKind::Index | BlockKind::End => {}
                BlockKind::Frame => {
                    let fh = b.frame_header().unwrap();
                    if first {
                        enc.set_next_seq(fh.seq);
                        first = false;
                    }
                    let (_, raw) = crate::format::decode_frame(b.payload).unwrap();
                    enc.push_frame(&raw, fh.first_ts, fh.last_ts, fh.record_count, Codec::Zstd)
                        .unwrap();
                }
                BlockKind::Seal => {
                    let head = enc.chain_head().unwrap();
                    let mut payload = b.payload.to_vec();
                    if let Some(p) = replace(enc.offset(), head) {
                        payload = p;
                    } else {
                        // Keep the seal but make it hold the new head (its tag then fails
                        // unless nothing before it changed).
                        payload[32..64].copy_from_slice(&head.0);
                    }
                    enc.push_block(BlockKind::Seal, 0, &payload).unwrap();
                }
                kind => {
                    enc.push_block(kind, b.flags, b.payload).unwrap();
                }
            }
        }
        enc.finish()
    }
}
