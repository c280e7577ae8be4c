//! `kellect info`: what a trace holds — host, time range, records per kind, what the
//! kernel dropped, frames, and any damage — as text or JSON.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::abi::{self, Record, RecordKind, Records, ABI_VERSION, MIN_ABI_VERSION};
use crate::format::{self, BlockKind, DamageKind};
use crate::meta::{Continuation, Custody, Stats, Stop};
use crate::replayer::input::trace::{Recording, Segment};
use crate::replayer::render::output::escape_control;
use crate::replayer::views::tree::shell_word;
use crate::replayer::{MemoryBudget, FAR_FROM_CLOCKS_NS, WARNINGS_PER_KIND};
use crate::syscalls::Ksys;

#[derive(Debug, Serialize)]
pub struct TraceInfo {
    pub recording_id: String,
    pub segments: Vec<SegmentInfo>,
    pub host: Option<HostSummary>,
    /// RFC 3339 wall-clock times of the first and last record.
    pub first_event: Option<String>,
    pub last_event: Option<String>,
    pub duration_s: f64,
    pub frames: u64,
    pub compressed_bytes: u64,
    pub raw_bytes: u64,
    /// Records found in the frames, per kind.
    pub records: BTreeMap<String, u64>,
    /// Syscall records per event group (file, process, network, permission): what the
    /// kernel wrote under `-e`.
    pub syscalls_by_group: BTreeMap<String, u64>,
    /// What the recording saw of io_uring: requests that bypassed syscalls, the ring's
    /// own syscalls, and the processes that made them (all zero: no io_uring use).
    pub io_uring: IoUringUse,
    pub records_total: u64,
    /// The kernel's own counts (last statistics block): written and dropped, per kind.
    pub kernel_emitted: BTreeMap<String, u64>,
    pub kernel_dropped: BTreeMap<String, u64>,
    pub kernel_emitted_total: u64,
    pub dropped_total: u64,
    pub snapshot_processes: usize,
    /// Chain-of-custody facts (format 2 recordings by a kellect that records them).
    pub custody: Option<CustodyInfo>,
    pub damage: Vec<String>,
}

/// Who recorded, where, with what, when and why it stopped: the `Custody` block (the first
/// segment given that holds one), the `Stop` block (the last segment's), the chain head
/// and the seal epochs of the segments given. Every string comes from the trace.
#[derive(Debug, Serialize)]
pub struct CustodyInfo {
    /// SHA-256 of the recorder's binary, 64 hex digits (empty: it could not be read).
    pub recorder_sha256: String,
    pub kellect_version: String,
    /// Git revision and features of the recorder's build.
    pub build: String,
    pub hostname: String,
    pub machine_id: String,
    pub boot_id: String,
    pub kernel_release: String,
    /// The recorder's exact command line, argument by argument.
    pub command_line: Vec<String>,
    pub note: Option<String>,
    /// RFC 3339.
    pub started: String,
    /// RFC 3339; none when the trace holds no Stop block (cut, or still being written).
    pub stopped: Option<String>,
    pub stop_reason: Option<String>,
    /// The last segment's chain head (64 hex digits).
    pub chain_head: Option<String>,
    /// The sealing key's id (16 hex digits), epoch 0 start (RFC 3339) and interval (s);
    /// none for an unsealed recording.
    pub seal_key_id: Option<String>,
    pub seal_start: Option<String>,
    pub seal_interval_s: Option<f64>,
    /// Seal blocks in the segments given, and their first and last epochs.
    pub seals: u64,
    pub seal_epochs: Option<[u64; 2]>,
}

#[derive(Debug, Serialize)]
pub struct SegmentInfo {
    pub path: String,
    pub index: u32,
    pub bytes: u64,
    pub closed_cleanly: bool,
    /// The hash chain check of the segment (`format::verify_segment`): `intact`, `cut`,
    /// `failed` or `no_chain` (format version 1).
    pub chain: &'static str,
    /// The chain head after the last verified block (64 hex digits); none in version 1.
    pub chain_head: Option<String>,
    /// Seal blocks among the verified blocks, the first and last epoch they name, and the
    /// end of the last one's epoch (RFC 3339). `info` does not check the tags (it has no
    /// key): `kellect verify --key` does.
    pub seals: u64,
    pub seal_epochs: Option<[u64; 2]>,
    pub sealed_until: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct HostSummary {
    pub hostname: String,
    pub kernel: String,
    pub machine: String,
    pub boot_id: String,
    pub recorded_by: String,
    pub recorder_pid: u32,
    pub command: Vec<String>,
    pub system_wide: bool,
}

/// A short name for each kind of damage, for the count of those not listed.
fn damage_kind_name(kind: &DamageKind) -> &'static str {
    match kind {
        DamageKind::Truncated { .. } => "cut block",
        DamageKind::ZeroTail { .. } => "zero tail",
        DamageKind::BadSync { .. } => "bad sync word",
        DamageKind::HeaderChecksum => "bad block header checksum",
        DamageKind::Oversized { .. } => "oversized block",
        DamageKind::PayloadChecksum { .. } => "bad payload checksum",
        DamageKind::Skipped { .. } => "skipped bytes",
        DamageKind::AfterEnd { .. } => "bytes after the end block",
        DamageKind::BadEnd { .. } => "bad end block",
    }
}

/// When a recording's records were written in a record ABI version (`KELLECT_ABI_VERSION`,
/// from its HostInfo block) other than those this build reads ([`MIN_ABI_VERSION`] to
/// [`ABI_VERSION`]: version 2 only added layouts that version 1 records lack): the
/// sentence that says so. Replay refuses such a recording (its record layouts are not
/// this build's: decoding them would show wrong values); `info` lists it as a warning.
/// `None` when the versions agree or the recording has no readable HostInfo (its records
/// are then read as this build's).
pub fn abi_problem(recording: &Recording) -> Option<String> {
    let host = recording.host.as_ref()?;
    if (MIN_ABI_VERSION..=ABI_VERSION).contains(&host.abi_version) {
        return None;
    }
    let path = recording.segments.first().map_or_else(String::new, |s| {
        format!("{}: ", crate::replayer::bytes::path(&s.path))
    });
    Some(format!(
        "{path}its records were written in record ABI version {} (by kellect {}); this \
         kellect reads ABI versions {MIN_ABI_VERSION} to {ABI_VERSION} only: its records cannot be decoded \
         correctly, replay it with a kellect that reads version {}",
        host.abi_version,
        escape_control(&host.kellect_version),
        host.abi_version
    ))
}

/// Every problem in a recording, as user-facing sentences. Per segment, the first
/// [`WARNINGS_PER_KIND`] of each kind of damage are listed, then one line counts the rest
/// (a trace of millions of damaged blocks gives a readable list in bounded memory).
pub fn damage_warnings(recording: &Recording) -> Vec<String> {
    let mut out: Vec<String> = abi_problem(recording).into_iter().collect();
    for segment in &recording.segments {
        let mut per_kind: Vec<(&'static str, u64)> = Vec::new();
        for damage in &segment.damage {
            let name = damage_kind_name(&damage.kind);
            let seen = match per_kind.iter_mut().find(|(k, _)| *k == name) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    per_kind.push((name, 1));
                    1
                }
            };
            if seen <= WARNINGS_PER_KIND as u64 {
                out.push(format!(
                    "{}: {damage}",
                    crate::replayer::bytes::path(&segment.path)
                ));
            }
        }
        for (name, n) in per_kind {
            if n > WARNINGS_PER_KIND as u64 {
                out.push(format!(
                    "{}: {} more damage of this kind ({name}) not listed: {n} in all",
                    crate::replayer::bytes::path(&segment.path),
                    n - WARNINGS_PER_KIND as u64
                ));
            }
        }
        if let Some(note) = &segment.note {
            out.push(format!(
                "{}: {note}",
                crate::replayer::bytes::path(&segment.path)
            ));
        } else if !segment.closed && segment.damage.is_empty() {
            out.push(format!(
                "{}: the segment has no end block: the recording was interrupted (crash, \
                 kill -9, full disk) or is still running; everything written is replayed",
                crate::replayer::bytes::path(&segment.path)
            ));
        }
    }
    out.extend(recording.problems.iter().cloned());
    out.extend(chain_warnings(recording));
    out.extend(continuity_warnings(recording));
    out.extend(accounting_warning(recording));
    out
}

/// The hash chain verdict of every segment of a recording, in order (in parallel: each is
/// one SHA-256 pass over its file).
fn chain_verdicts(recording: &Recording) -> Vec<format::SegmentVerdict> {
    recording
        .segments
        .par_iter()
        .map(|s| format::verify_segment(s.bytes()))
        .collect()
}

/// A warning for every segment whose hash chain fails (format version 2), and for segments
/// that do not link to each other; nothing for version 1 traces (they have no chain) or for
/// a cut (the other warnings say so). `kellect verify` tells the rest.
pub fn chain_warnings(recording: &Recording) -> Vec<String> {
    let verdicts = chain_verdicts(recording);
    let mut out = Vec::new();
    for (segment, v) in recording.segments.iter().zip(&verdicts) {
        if let format::SegmentStatus::Failed(failure) = &v.status {
            out.push(format!(
                "{}: the segment fails the hash chain check {failure} (`kellect verify` \
                 says more): what it holds may have been changed",
                crate::replayer::bytes::path(&segment.path)
            ));
        }
    }
    let name = |i: usize| {
        recording
            .segments
            .get(i)
            .map_or_else(String::new, |s| crate::replayer::bytes::path(&s.path))
    };
    for finding in format::link_segments(&verdicts) {
        out.push(format!(
            "the recording fails the hash chain check: {}",
            finding.describe(name)
        ));
    }
    out
}

/// The `chain` and `chain_head` of a segment's `info`.
fn chain_summary(v: &format::SegmentVerdict) -> (&'static str, Option<String>) {
    let state = match v.status {
        format::SegmentStatus::Intact => "intact",
        format::SegmentStatus::Cut { .. } => "cut",
        format::SegmentStatus::Failed(_) => "failed",
        format::SegmentStatus::NoChain => "no_chain",
    };
    (state, v.chain_head.map(|h| h.to_string()))
}

/// At most this many warnings of one sort (missing, repeated, out-of-order frames) are
/// spelled out; the rest are counted in one more line.
const LISTED_MAX: usize = 10;

/// Findings of one sort: the first [`LISTED_MAX`] as sentences, the rest only counted, so a
/// hostile trace with millions of them costs no memory.
#[derive(Default)]
struct Listing {
    lines: Vec<String>,
    more: usize,
}

impl Listing {
    fn push(&mut self, line: impl FnOnce() -> String) {
        if self.lines.len() < LISTED_MAX {
            self.lines.push(line());
        } else {
            self.more += 1;
        }
    }
}

/// What the recording's own numbering says is missing, repeated or out of order: segment
/// indexes (file headers) from 0 up, frame sequence numbers (frame headers) from 0 up and
/// continuing across segments, and a `Continuation` block that announces a segment that was
/// not given. One sentence per finding, naming the missing segments (index and file name)
/// and frames (sequence numbers, with the segment and byte offset where they should be).
pub fn continuity_warnings(recording: &Recording) -> Vec<String> {
    let segments = &recording.segments;
    let mut out = Vec::new();
    let (Some(first), Some(last)) = (segments.first(), segments.last()) else {
        return out;
    };
    // Segments: the indexes given must run 0, 1, 2, … (the grouping sorted them), but for
    // those a ring deleted by design before the first one given.
    let mut expected = 0u32;
    if let Some((through, keep)) = ring_deleted(recording) {
        out.push(format!(
            "{} by the recorder's ring (--keep {keep} keeps the last {keep} segments): the \
             events they held are not in this output",
            match through {
                0 => format!("segment 0 ({}) was deleted", segment_name(first, 0)),
                n => format!(
                    "segments 0..{n} ({} .. {}) were deleted",
                    segment_name(first, 0),
                    segment_name(first, n)
                ),
            }
        ));
        expected = through + 1;
    }
    for segment in segments {
        let index = segment.header.segment_index;
        if index > expected {
            out.push(missing_segments(segment, expected, index - 1));
        }
        expected = index.saturating_add(1);
    }
    // Each segment's continuation, if its writer closed it by rotation.
    let continuations: Vec<Option<Continuation>> = segments
        .iter()
        .map(|s| s.metas::<Continuation>(&mut out).last().copied())
        .collect();
    if let Some(Some(c)) = continuations.last() {
        out.push(format!(
            "the recording continues in segment {} ({}), not given: what it holds is missing \
             from this output",
            c.next_segment_index,
            segment_name(last, c.next_segment_index)
        ));
    }

    // Frames in the order given: (sequence number, segment, byte offset of the block).
    let mut frames: Vec<(u32, u32, u64)> = Vec::new();
    for (i, segment) in segments.iter().enumerate() {
        for block in segment.frames() {
            if let Some(h) = segment.frame_header(block) {
                frames.push((h.seq, i as u32, block.offset));
            }
        }
    }
    let at = |&(seq, i, offset): &(u32, u32, u64)| {
        format!(
            "frame {seq} is at byte offset {offset} of {}",
            crate::replayer::bytes::path(&segments[i as usize].path)
        )
    };
    // By sequence number (ties in file order): repeats sit next to each other, gaps show.
    let mut by_seq: Vec<(u32, u32)> = frames
        .iter()
        .enumerate()
        .map(|(position, f)| (f.0, position as u32))
        .collect();
    by_seq.sort_unstable();
    let mut missing = Listing::default();
    let mut repeated = Listing::default();
    let mut is_repeat = vec![false; frames.len()];
    let mut next_seq = (first.header.segment_index == 0).then_some(0u32);
    let mut previous: Option<u32> = None;
    for &(seq, position) in &by_seq {
        let frame = &frames[position as usize];
        if previous == Some(seq) {
            is_repeat[position as usize] = true;
            repeated.push(|| {
                format!(
                    "frame {seq} is repeated: {} (its sequence number was met before)",
                    at(frame)
                )
            });
            continue;
        }
        if let Some(want) = next_seq.filter(|&want| seq > want) {
            missing.push(|| {
                format!(
                    "{} missing: the next frame present, {}",
                    frames_range(want, seq - 1),
                    at(frame)
                )
            });
        }
        previous = Some(seq);
        next_seq = seq.checked_add(1);
    }
    // Frames a segment should end with: numbered before its continuation's next one.
    let mut last_seqs: Vec<Option<u32>> = vec![None; segments.len()];
    for &(seq, i, _) in &frames {
        let last_seq = &mut last_seqs[i as usize];
        *last_seq = (*last_seq).max(Some(seq));
    }
    for (i, (c, last_seq)) in continuations.iter().zip(&last_seqs).enumerate() {
        let (Some(c), Some(last_seq)) = (c, *last_seq) else {
            continue;
        };
        if last_seq.saturating_add(1) < c.next_frame_seq {
            missing.push(|| {
                format!(
                    "{} missing at the end of {} (its continuation block says the next frame \
                     is {})",
                    frames_range(last_seq + 1, c.next_frame_seq - 1),
                    crate::replayer::bytes::path(&segments[i].path),
                    c.next_frame_seq
                )
            });
        }
    }
    // Out of order: a frame given after one with a higher number (repeats aside).
    let mut disordered = Listing::default();
    let mut highest: Option<u32> = None;
    for (frame, &repeat) in frames.iter().zip(&is_repeat) {
        if let Some(h) = highest.filter(|&h| frame.0 < h && !repeat) {
            disordered.push(|| {
                format!(
                    "frame {} is out of order: {}, after frame {h}",
                    frame.0,
                    at(frame)
                )
            });
        }
        highest = highest.max(Some(frame.0));
    }
    for (list, what) in [
        (missing, "gaps in the frame numbering"),
        (repeated, "repeated frames"),
        (disordered, "frames out of order"),
    ] {
        out.extend(list.lines);
        if list.more > 0 {
            out.push(format!("and {} more {what}", list.more));
        }
    }
    out
}

/// The segments that the recorder's ring (`--keep N`, [`crate::meta::RecordSettings`])
/// deleted before the first one given: `(last deleted index, N)`. Once segment L exists,
/// the ring has deleted 0..=L-N; those below the first segment given are counted as
/// deleted, never more (a gap among the segments the ring still keeps is missing).
/// `None` without a ring or when nothing before the first segment given is explained.
pub fn ring_deleted(recording: &Recording) -> Option<(u32, u32)> {
    let keep = recording.host.as_ref()?.settings.keep_segments?;
    let first = recording.segments.first()?.header.segment_index;
    let last = recording.segments.last()?.header.segment_index;
    let through = last.checked_sub(keep.max(1))?.min(first.checked_sub(1)?);
    Some((through, keep))
}

/// The sum of counters read from a trace: saturating, whatever a hostile trace says.
fn counter_total(counters: impl Iterator<Item = u64>) -> u64 {
    counters.fold(0, u64::saturating_add)
}

fn frames_range(from: u32, to: u32) -> String {
    if from == to {
        format!("frame {from} is")
    } else {
        format!("frames {from}..{to} are")
    }
}

fn missing_segments(known: &Segment, from: u32, to: u32) -> String {
    if from == to {
        format!("segment {from} ({}) is missing", segment_name(known, from))
    } else {
        format!(
            "segments {from}..{to} ({} .. {}) are missing",
            segment_name(known, from),
            segment_name(known, to)
        )
    }
}

/// The file name a writer gives segment `index` of the recording `known` belongs to:
/// `t.kz` for 0, `t.N.kz` for N (derived from `known`'s own name and index).
pub fn segment_name(known: &Segment, index: u32) -> String {
    let name = known
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let own = known.header.segment_index;
    // Back to the first segment's name: drop the ".N" this segment's index put in.
    let base = if own == 0 {
        name
    } else {
        let tag = format!(".{own}");
        match name.rsplit_once('.') {
            Some((stem, ext)) if stem.ends_with(&tag) => {
                format!("{}.{ext}", &stem[..stem.len() - tag.len()])
            }
            _ if name.ends_with(&tag) => name[..name.len() - tag.len()].to_owned(),
            _ => return format!("the segment numbered {index} beside {name}"),
        }
    };
    if index == 0 {
        return base;
    }
    match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.{index}.{ext}"),
        _ => format!("{base}.{index}"),
    }
}

/// Cross-checks the kernel's counts against what the trace stores. The last statistics
/// block holds running totals per CPU and kind: records emitted (written into the ring
/// buffer), records dropped (not written: the ring was full; never part of `emitted`), and
/// `user_dropped`, emitted records user space could not store. When it is the recording's
/// final word (written after the recorder stopped emission: the last block before Index and
/// End of a cleanly closed last segment that announces no continuation), emitted −
/// user-dropped must equal the records stored in every frame; when a crash cut the last
/// segment, records counted before the cut can be missing but never too many. Returns the
/// mismatch as one sentence with the numbers, or `None`.
pub fn accounting_warning(recording: &Recording) -> Option<String> {
    let segments = &recording.segments;
    let last = segments.last()?;
    let mut ignored = Vec::new();
    let (holder, stats_offset, stats) = segments.iter().enumerate().rev().find_map(|(i, s)| {
        let offset = s
            .blocks
            .iter()
            .rev()
            .find(|b| b.kind == BlockKind::Stats)?
            .offset;
        let all = s.metas::<Stats>(&mut ignored);
        // A Stats block that does not decode is reported elsewhere; the check needs the
        // last one, so it does not guess with an earlier one.
        let count = s
            .blocks
            .iter()
            .filter(|b| b.kind == BlockKind::Stats)
            .count();
        (all.len() == count).then(|| (i, offset, all.into_iter().last()))
    })?;
    let stats = stats?;
    let mut stored = 0u64;
    let mut after = 0u64;
    for (i, segment) in segments.iter().enumerate() {
        for block in segment.frames() {
            let Some(h) = segment.frame_header(block) else {
                continue;
            };
            stored = stored.saturating_add(h.record_count as u64);
            if (i, block.offset) > (holder, stats_offset) {
                after = after.saturating_add(h.record_count as u64);
            }
        }
    }
    let emitted = counter_total(stats.counters.iter().map(|c| c.emitted));
    let dropped = counter_total(stats.counters.iter().map(|c| c.dropped));
    let expected = emitted.saturating_sub(stats.user_dropped);
    let continues = !last.metas::<Continuation>(&mut ignored).is_empty();
    let final_word = holder == segments.len() - 1 && last.closed && !continues && after == 0;
    // The statistics count the records of the segments the ring deleted too: only more
    // records than the kernel emitted can be told.
    let stored_all = ring_deleted(recording).is_none();
    let says = format!(
        "the statistics say {emitted} records emitted ({dropped} more dropped by the kernel, not \
         emitted) and {} of them lost in user space, but {stored} are stored",
        stats.user_dropped
    );
    if final_word && stored_all && stored < expected {
        Some(format!(
            "{says}: {} records are missing from the trace",
            expected - stored
        ))
    } else if final_word && stored > expected {
        Some(format!(
            "{says}: {} records more than the kernel emitted",
            stored - expected
        ))
    } else if !last.closed && !continues && stored_all && stored < expected {
        Some(format!(
            "{says} (the last statistics block, at byte offset {stats_offset} of {}): {} \
             records counted before the recording was cut are missing",
            crate::replayer::bytes::path(&segments[holder].path),
            expected - stored
        ))
    } else {
        None
    }
}

/// What the recorder lost, if anything, as a warning for the reader of the output (not
/// damage: the trace says exactly how much is missing).
pub fn loss_warning(recording: &Recording) -> Option<String> {
    let stats = recording.stats.as_ref()?;
    let in_flight = |c: &&crate::meta::KindCounters| c.kind == abi::STAT_URING_IN_FLIGHT;
    let uring = counter_total(stats.counters.iter().filter(in_flight).map(|c| c.dropped));
    let full = counter_total(
        stats
            .counters
            .iter()
            .filter(|c| !in_flight(c))
            .map(|c| c.dropped),
    )
    .saturating_add(stats.user_dropped);
    let mut lost = Vec::new();
    if full > 0 {
        lost.push(format!("{full} records (ring buffer full)"));
    }
    if uring > 0 {
        lost.push(format!(
            "{uring} io_uring requests (more in flight at once than the recorder tracks)"
        ));
    }
    (!lost.is_empty()).then(|| {
        format!(
            "the recorder lost {}: what they were is missing from this output; `kellect info` \
             counts them per kind and CPU",
            lost.join(" and ")
        )
    })
}

/// RFC 3339 text of a wall-clock time (ns since the Unix epoch); the number itself when it
/// is outside what RFC 3339 can show.
pub(crate) fn rfc3339(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ns} ns"))
}

/// Most process ids [`IoUringUse`] tells apart; past them it counts no more
/// (`processes_more`), which bounds its memory whatever the trace holds.
pub const IO_URING_PIDS_MAX: usize = 4096;

/// io_uring use in a recording: `REC_URING_OP` records (requests submitted through the
/// ring, each with no syscall record of its own) and `io_uring_setup`/`io_uring_enter`/
/// `io_uring_register` syscall records.
#[derive(Debug, Default, Serialize)]
pub struct IoUringUse {
    /// io_uring requests (`io_uring_op` records).
    pub requests: u64,
    /// The ring's syscalls, by name (only those seen).
    pub syscalls: BTreeMap<String, u64>,
    /// Processes (tgids) that made any of them; at most [`IO_URING_PIDS_MAX`] counted.
    pub processes: u64,
    /// More processes than [`IO_URING_PIDS_MAX`] did: `processes` is a lower bound.
    pub processes_more: bool,
    #[serde(skip)]
    pids: BTreeSet<u32>,
}

impl IoUringUse {
    /// Whether the recording saw any io_uring use.
    pub fn seen(&self) -> bool {
        self.requests > 0 || !self.syscalls.is_empty()
    }

    /// Counts one record of process `pid`: a request, or the io_uring syscall `name`.
    fn add(&mut self, pid: u32, name: Option<&str>) {
        match name {
            Some(name) => *self.syscalls.entry(name.to_owned()).or_insert(0) += 1,
            None => self.requests += 1,
        }
        self.add_pid(pid);
    }

    fn add_pid(&mut self, pid: u32) {
        if self.pids.len() < IO_URING_PIDS_MAX {
            self.pids.insert(pid);
        } else if !self.pids.contains(&pid) {
            self.processes_more = true;
        }
        self.processes = self.pids.len() as u64;
    }

    /// Adds another frame's counts.
    fn merge(&mut self, other: IoUringUse) {
        self.requests += other.requests;
        for (k, n) in other.syscalls {
            *self.syscalls.entry(k).or_insert(0) += n;
        }
        self.processes_more |= other.processes_more;
        for pid in other.pids {
            self.add_pid(pid);
        }
    }
}

#[derive(Default)]
struct FrameCounts {
    kinds: BTreeMap<String, u64>,
    groups: BTreeMap<String, u64>,
    io_uring: IoUringUse,
    raw_bytes: u64,
    problem: Option<String>,
    /// Smallest and largest plausible record stamps (boot-time ns).
    range: Option<(u64, u64)>,
    /// Records stamped far from the clock samples, and the first such stamp.
    far: u64,
    first_far: Option<u64>,
}

/// Whether `r` is the CQE of a failed `IOSQE_CQE_SKIP_SUCCESS` request: the request was
/// written, and counted, at its submission.
fn skipped_failure(r: &Record<'_>) -> bool {
    let both = abi::URING_F_SKIP_SUCCESS | abi::URING_F_SUBMITTED;
    matches!(r, Record::Uring { rec, .. } if rec.uring_flags & both == abi::URING_F_SKIP_SUCCESS)
}

/// Records of one decompressed frame, per kind and (syscalls) per event group.
fn count_frame(
    raw: &[u8],
    plausible: impl Fn(u64) -> bool,
    located: impl Fn(&dyn std::fmt::Display) -> String,
) -> FrameCounts {
    let mut c = FrameCounts {
        raw_bytes: raw.len() as u64,
        ..FrameCounts::default()
    };
    for record in Records::new(raw) {
        match record {
            Ok(r) => {
                let ts = r.header().ts.get();
                if plausible(ts) {
                    c.range = Some(c.range.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
                } else {
                    c.far += 1;
                    c.first_far.get_or_insert(ts);
                }
                let kind = RecordKind::from_raw(r.header().kind.get());
                *c.kinds.entry(kind.name()).or_insert(0) += 1;
                let pid = r.header().pid.get();
                if kind == RecordKind::Syscall {
                    let id = r.header().syscall.get();
                    let group = crate::syscalls::by_id(id).map_or("unknown", |s| s.group.name());
                    *c.groups.entry(group.to_owned()).or_insert(0) += 1;
                    let ring = Ksys::IoUringSetup as u16..=Ksys::IoUringRegister as u16;
                    if ring.contains(&id) {
                        c.io_uring.add(pid, crate::syscalls::name(id));
                    }
                } else if kind == RecordKind::UringOp && !skipped_failure(&r) {
                    c.io_uring.add(pid, None);
                }
            }
            Err(e) => c.problem = Some(located(&e)),
        }
    }
    c
}

/// [`trace_info_within`] the default [`MemoryBudget`].
pub fn trace_info(recording: &Recording) -> TraceInfo {
    trace_info_within(recording, MemoryBudget::default())
}

/// What a recording holds. Frames are decompressed in parallel, in batches whose decoded
/// sizes add up to at most [`MemoryBudget::frame_batch_raw`]; a frame larger than that is
/// listed as damage and not counted. The time range covers only records stamped within a
/// day of the recording's clock samples; the others are counted in one damage line.
pub fn trace_info_within(recording: &Recording, budget: MemoryBudget) -> TraceInfo {
    trace_info_with_progress(
        recording,
        budget,
        &mut crate::replayer::input::progress::Progress::hidden(),
    )
}

/// [`trace_info_within`], telling `progress` of the frame bytes and records counted.
pub fn trace_info_with_progress(
    recording: &Recording,
    budget: MemoryBudget,
    progress: &mut crate::replayer::input::progress::Progress,
) -> TraceInfo {
    let frames: Vec<_> = recording
        .segments
        .iter()
        .flat_map(|s| s.frames().map(move |f| (s, f)))
        .collect();
    let mut damage = damage_warnings(recording);
    let plausible = |ts: u64| recording.near_clocks(ts, FAR_FROM_CLOCKS_NS);
    let limit = budget.frame_batch_raw();
    let mut records = BTreeMap::new();
    let mut syscalls_by_group = BTreeMap::new();
    let mut io_uring = IoUringUse::default();
    let mut raw_bytes = 0;
    let mut range: Option<(u64, u64)> = None;
    let mut widen = |ts: u64| {
        if plausible(ts) {
            range = Some(range.map_or((ts, ts), |(a, b)| (a.min(ts), b.max(ts))));
        }
    };
    let (mut far, mut first_far) = (0u64, None);
    let mut frame_problems = 0usize;
    let mut more_frame_problems = 0u64;
    let mut start = 0;
    while start < frames.len() {
        // A batch: consecutive frames whose decoded sizes fit the limit together.
        let mut end = start;
        let mut batch_raw = 0u64;
        while end < frames.len() {
            let (s, f) = frames[end];
            let raw = s.frame_header(f).map_or(0, |h| u64::from(h.raw_len));
            if end > start && batch_raw.saturating_add(raw) > limit {
                break;
            }
            batch_raw = batch_raw.saturating_add(raw);
            end += 1;
        }
        // Per-kind counts need the records themselves: decompress in parallel, count headers.
        let counted: Vec<FrameCounts> = frames[start..end]
            .par_iter()
            .map(|(segment, block)| {
                let located = |e: &dyn std::fmt::Display| {
                    format!(
                        "{}: frame at byte {}: {e}",
                        crate::replayer::bytes::path(&segment.path),
                        block.offset
                    )
                };
                let payload = segment.payload(block);
                if let Some(h) = segment.frame_header(block) {
                    if u64::from(h.raw_len) > limit {
                        let what = format!(
                            "{} bytes decoded is over the frame limit of the memory budget \
                             ({limit} bytes; --max-memory raises it): not counted",
                            h.raw_len
                        );
                        return FrameCounts {
                            problem: Some(located(&what)),
                            ..FrameCounts::default()
                        };
                    }
                }
                match format::decode_frame(payload) {
                    Ok((_, raw)) => count_frame(&raw, plausible, located),
                    Err(e) => FrameCounts {
                        problem: Some(located(&e)),
                        ..FrameCounts::default()
                    },
                }
            })
            .collect();
        let batch_bytes: u64 = frames[start..end]
            .iter()
            .map(|(_, b)| {
                (b.payload.1.saturating_sub(b.payload.0) + format::BLOCK_HEADER_LEN) as u64
            })
            .sum();
        let batch_records: u64 = counted.iter().flat_map(|c| c.kinds.values()).sum();
        progress.advance(batch_bytes, batch_records);
        for c in counted {
            for (k, n) in c.kinds {
                *records.entry(k).or_insert(0) += n;
            }
            for (g, n) in c.groups {
                *syscalls_by_group.entry(g).or_insert(0) += n;
            }
            io_uring.merge(c.io_uring);
            raw_bytes += c.raw_bytes;
            if let Some((a, b)) = c.range {
                widen(a);
                widen(b);
            }
            far += c.far;
            if first_far.is_none() {
                first_far = c.first_far;
            }
            if let Some(problem) = c.problem {
                if frame_problems < WARNINGS_PER_KIND {
                    frame_problems += 1;
                    damage.push(problem);
                } else {
                    more_frame_problems += 1;
                }
            }
        }
        start = end;
    }
    if more_frame_problems > 0 {
        damage.push(format!(
            "{more_frame_problems} more damaged frames of this kind not listed"
        ));
    }
    // Frames whose records could not be read still say when they were written.
    for (s, f) in &frames {
        if let Some(h) = s.frame_header(f) {
            widen(h.first_ts);
            widen(h.last_ts);
        }
    }
    if let Some(first) = first_far {
        let when = recording
            .checked_realtime_ns(first)
            .map_or_else(|| "a time that does not exist".to_owned(), rfc3339);
        damage.push(format!(
            "{far} records are stamped more than a day away from every clock sample of the \
             recording (the first: boot time {first} ns, {when}): left out of the time range"
        ));
    }
    let first = range.map(|r| r.0);
    let last = range.map(|r| r.1);
    let mut kernel_emitted = BTreeMap::new();
    let mut kernel_dropped = BTreeMap::new();
    if let Some(stats) = &recording.stats {
        for c in &stats.counters {
            let name = abi::stat_name(c.kind);
            let n = kernel_emitted.entry(name.clone()).or_insert(0u64);
            *n = n.saturating_add(c.emitted);
            if c.dropped > 0 {
                let n = kernel_dropped.entry(name).or_insert(0u64);
                *n = n.saturating_add(c.dropped);
            }
        }
    }
    let dropped_total = counter_total(kernel_dropped.values().copied())
        .saturating_add(recording.stats.as_ref().map_or(0, |s| s.user_dropped));
    let segments: Vec<SegmentInfo> = recording
        .segments
        .iter()
        .zip(chain_verdicts(recording))
        .map(|(s, verdict)| {
            let (chain, chain_head) = chain_summary(&verdict);
            SegmentInfo {
                path: crate::replayer::bytes::path(&s.path),
                index: s.header.segment_index,
                bytes: s.file_len(),
                closed_cleanly: s.closed,
                chain,
                chain_head,
                seals: verdict.seals.len() as u64,
                seal_epochs: verdict
                    .seals
                    .first()
                    .zip(verdict.seals.last())
                    .map(|(a, b)| [a.epoch, b.epoch]),
                sealed_until: verdict
                    .seals
                    .last()
                    .map(|s| rfc3339(i64::try_from(s.epoch_end_ns).unwrap_or(i64::MAX))),
            }
        })
        .collect();
    let custody = custody_info(recording, &segments, &mut damage);
    TraceInfo {
        recording_id: format!("{:016x}", recording.id),
        segments,
        host: recording.host.as_ref().map(|h| HostSummary {
            hostname: h.hostname.clone(),
            kernel: format!("{} {}", h.sysname, h.release),
            machine: h.machine.clone(),
            boot_id: h.boot_id.clone(),
            recorded_by: format!("kellect {}", h.kellect_version),
            recorder_pid: h.recorder_pid,
            command: h.settings.command.clone(),
            system_wide: h.settings.system_wide,
        }),
        first_event: first.map(|t| rfc3339(recording.realtime_ns(t))),
        last_event: last.map(|t| rfc3339(recording.realtime_ns(t))),
        duration_s: match (first, last) {
            (Some(a), Some(b)) => (b.saturating_sub(a)) as f64 / 1e9,
            _ => 0.0,
        },
        frames: frames.len() as u64,
        compressed_bytes: frames.iter().map(|(s, f)| s.payload(f).len() as u64).sum(),
        raw_bytes,
        records_total: records.values().sum(),
        records,
        syscalls_by_group,
        io_uring,
        kernel_emitted_total: counter_total(kernel_emitted.values().copied()),
        kernel_emitted,
        kernel_dropped,
        dropped_total,
        snapshot_processes: recording.snapshot_processes.unwrap_or(0),
        custody,
        damage,
    }
}

/// The custody facts of a recording: `None` when no segment given holds a `Custody` block
/// (format 1, or a recorder that did not write one). Blocks that do not decode become
/// damage lines.
fn custody_info(
    recording: &Recording,
    segments: &[SegmentInfo],
    damage: &mut Vec<String>,
) -> Option<CustodyInfo> {
    let c: Custody = recording
        .segments
        .iter()
        .find_map(|s| s.metas::<Custody>(damage).into_iter().next())?;
    let stop: Option<Stop> = recording
        .segments
        .last()
        .and_then(|s| s.metas::<Stop>(damage).into_iter().last());
    let time = |ns: u64| rfc3339(i64::try_from(ns).unwrap_or(i64::MAX));
    let first_epoch = segments.iter().find_map(|s| s.seal_epochs.map(|e| e[0]));
    let last_epoch = segments
        .iter()
        .rev()
        .find_map(|s| s.seal_epochs.map(|e| e[1]));
    Some(CustodyInfo {
        recorder_sha256: c.exe_sha256,
        kellect_version: c.kellect_version,
        build: c.build,
        hostname: c.hostname,
        machine_id: c.machine_id,
        boot_id: c.boot_id,
        kernel_release: c.kernel_release,
        command_line: c.command_line,
        note: c.note,
        started: rfc3339(c.started_realtime_ns),
        stopped: stop.as_ref().map(|s| rfc3339(s.stopped_realtime_ns)),
        stop_reason: stop.map(|s| s.reason),
        chain_head: segments.last().and_then(|s| s.chain_head.clone()),
        seal_key_id: c.seal.map(|p| format!("{:016x}", p.key_id)),
        seal_start: c.seal.map(|p| time(p.start_ns)),
        seal_interval_s: c.seal.map(|p| p.interval_ns as f64 / 1e9),
        seals: segments.iter().map(|s| s.seals).sum(),
        seal_epochs: first_epoch.zip(last_epoch).map(|(a, b)| [a, b]),
    })
}

/// Words as a shell would read them, one line ([`shell_word`]: quoted where a space, a
/// quote or nothing would make them ambiguous, control characters escaped).
fn shell_line(words: &[String]) -> String {
    let words: Vec<String> = words.iter().map(|w| shell_word(w)).collect();
    words.join(" ")
}

/// `info`'s text. Every string that comes from the trace (host name, kernel, command line,
/// paths, damage messages) is written with its control characters escaped as the table view
/// escapes them ([`escape_control`]): the traced host must not drive the analyst's terminal
/// or forge a line.
impl std::fmt::Display for TraceInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "recording   {}", self.recording_id)?;
        for s in &self.segments {
            let state = if s.closed_cleanly {
                "closed cleanly"
            } else {
                "not closed"
            };
            writeln!(
                f,
                "segment     {} (#{}, {} bytes, {state})",
                escape_control(&s.path),
                s.index,
                s.bytes
            )?;
            writeln!(f, "{}", chain_line(s))?;
        }
        if let Some(h) = &self.host {
            writeln!(
                f,
                "host        {} ({}, {})",
                escape_control(&h.hostname),
                escape_control(&h.kernel),
                escape_control(&h.machine)
            )?;
            writeln!(f, "recorder    {}", escape_control(&h.recorded_by))?;
            if h.command.is_empty() || h.system_wide {
                writeln!(f, "scope       system-wide")?;
            }
            if !h.command.is_empty() {
                writeln!(f, "command     {}", shell_line(&h.command))?;
            }
        }
        if let (Some(a), Some(b)) = (&self.first_event, &self.last_event) {
            writeln!(f, "time        {a} .. {b} ({:.3} s)", self.duration_s)?;
        }
        let ratio = if self.compressed_bytes > 0 {
            self.raw_bytes as f64 / self.compressed_bytes as f64
        } else {
            0.0
        };
        writeln!(
            f,
            "frames      {} ({} bytes compressed, {} raw, ratio {ratio:.1})",
            self.frames, self.compressed_bytes, self.raw_bytes
        )?;
        let list = |m: &BTreeMap<String, u64>| {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        writeln!(
            f,
            "records     {} ({})",
            self.records_total,
            list(&self.records)
        )?;
        if !self.syscalls_by_group.is_empty() {
            writeln!(f, "syscalls    {}", list(&self.syscalls_by_group))?;
        }
        if self.io_uring.seen() {
            let u = &self.io_uring;
            let plural =
                |n: u64, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
            writeln!(
                f,
                "io_uring    {} by {}{}{}",
                plural(u.requests, "request", "requests"),
                if u.processes_more { "over " } else { "" },
                plural(u.processes, "process", "processes"),
                if u.syscalls.is_empty() {
                    String::new()
                } else {
                    format!(" (syscalls: {})", list(&u.syscalls))
                }
            )?;
        }
        writeln!(f, "kernel      emitted {}", list(&self.kernel_emitted))?;
        writeln!(
            f,
            "dropped     {}{}",
            self.dropped_total,
            if self.kernel_dropped.is_empty() {
                String::new()
            } else {
                format!(" ({})", list(&self.kernel_dropped))
            }
        )?;
        writeln!(f, "snapshot    {} processes", self.snapshot_processes)?;
        if let Some(c) = &self.custody {
            write!(f, "{c}")?;
        }
        if self.damage.is_empty() {
            writeln!(f, "damage      none")?;
        } else {
            for d in &self.damage {
                writeln!(f, "damage      {}", escape_control(d))?;
            }
        }
        Ok(())
    }
}

/// The custody lines of `info`'s text, every string from the trace escaped.
impl std::fmt::Display for CustodyInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let e = |s: &str| escape_control(s).into_owned();
        let or_unknown = |s: &str| {
            if s.is_empty() {
                "unknown".to_owned()
            } else {
                e(s)
            }
        };
        writeln!(
            f,
            "custody     recorder kellect {} ({}), binary SHA-256 {}",
            e(&self.kellect_version),
            e(&self.build),
            or_unknown(&self.recorder_sha256)
        )?;
        writeln!(
            f,
            "custody     host {}, machine-id {}, boot id {}, kernel {}",
            e(&self.hostname),
            or_unknown(&self.machine_id),
            or_unknown(&self.boot_id),
            e(&self.kernel_release)
        )?;
        writeln!(
            f,
            "custody     command line: {}",
            shell_line(&self.command_line)
        )?;
        if let Some(note) = &self.note {
            writeln!(f, "custody     note: {}", e(note))?;
        }
        match (&self.stopped, &self.stop_reason) {
            (Some(at), Some(why)) => writeln!(
                f,
                "custody     started {}, stopped {at} ({})",
                self.started,
                e(why)
            )?,
            _ => writeln!(
                f,
                "custody     started {}, no stop recorded (cut, or still being written)",
                self.started
            )?,
        }
        if let Some(head) = &self.chain_head {
            writeln!(f, "custody     chain head {head}")?;
        }
        match (&self.seal_key_id, self.seal_epochs) {
            (Some(id), Some([a, b])) => writeln!(
                f,
                "custody     sealed with key {id} (epochs of {} s from {}): {} seals, epochs {a} to {b} (not checked here: kellect verify --key)",
                self.seal_interval_s.unwrap_or(0.0),
                self.seal_start.as_deref().unwrap_or("?"),
                self.seals
            )?,
            (Some(id), None) => writeln!(f, "custody     sealing key {id}, but no seal in the segments given")?,
            (None, _) => writeln!(f, "custody     not sealed")?,
        }
        Ok(())
    }
}

/// The `chain` line of a segment in `info`'s text.
fn chain_line(s: &SegmentInfo) -> String {
    let head = s.chain_head.as_deref().unwrap_or("none");
    match s.chain {
        "intact" => format!("chain       intact, chain head {head}"),
        "cut" => format!("chain       verified up to the cut, chain head {head}"),
        "failed" => format!(
            "chain       FAILED (see the warnings, or `kellect verify`); verified part's chain head {head}"
        ),
        _ => "chain       none (format v1: no hash chain)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::{IoUringUse, IO_URING_PIDS_MAX};

    #[test]
    fn io_uring_use_counts_processes_within_its_bound() {
        let mut a = IoUringUse::default();
        assert!(!a.seen());
        a.add(7, None);
        a.add(7, Some("io_uring_enter"));
        let mut b = IoUringUse::default();
        b.add(7, None);
        b.add(8, Some("io_uring_setup"));
        a.merge(b);
        assert!(a.seen());
        assert_eq!((a.requests, a.processes, a.processes_more), (2, 2, false));
        assert_eq!(a.syscalls.values().sum::<u64>(), 2);
        // Past the bound: counted no more, and said so.
        let mut many = IoUringUse::default();
        for pid in 0..IO_URING_PIDS_MAX as u32 + 10 {
            many.add(pid, None);
        }
        many.add(0, None);
        assert_eq!(many.processes, IO_URING_PIDS_MAX as u64);
        assert!(many.processes_more);
        assert_eq!(many.requests, IO_URING_PIDS_MAX as u64 + 11);
    }
}
