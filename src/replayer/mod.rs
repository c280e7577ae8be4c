//! `kellect replay`: from raw records to JSON, anywhere, deterministically.
//!
//! An [`Engine`] consumes a recording's blocks in the order they were written — metadata
//! blocks (host, snapshot, clocks, statistics) and data frames — and streams out events or
//! records, so memory stays bounded whatever the trace's size:
//! 1. parallel (rayon): verify, decompress and decode a batch of consecutive frames;
//! 2. sequential: merge records into timestamp order (a bounded reorder window: the ring
//!    buffer delivers records in reservation order, which can trail timestamp order by a
//!    little across CPUs), rebuild process state, filter, aggregate;
//! 3. parallel: render each event or record; then write them in order.
//!
//! Batches are cut by the frames' decoded sizes (read from their headers) and every
//! decision depends only on the trace's bytes in their order, so the output is
//! byte-identical for any thread count — and `kellect live`, which feeds the same blocks to
//! the same engine as they are recorded, prints what a later `kellect replay` of its trace
//! prints.
//!
//! Memory is bounded by a [`MemoryBudget`] whatever the trace holds: see there for how each
//! stage's limit derives from it.

pub mod bytes;
pub mod info;
pub mod input;
pub mod render;
pub mod slice;
pub mod state;
pub mod verify;
pub mod views;

use input::{decode, progress, trace};
use records::kflowd;
use render::{output, symbols};
use state::{container, context, execid, files};
use views::{events, filter, records};

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use rayon::prelude::*;

use crate::format::{self, BlockKind, FrameHeader};
use crate::meta::{self, DecodeLimits, FdTable, MetaError, ProcSnapshot};
use context::{Applied, Context};
use decode::{Event, RecordSpan};
use events::{EventView, ProcessText};
use execid::{Image, ProcessImages};
pub use output::OutputFormat;
use output::{Rendered, Sink};
use progress::Progress;
pub use records::RecordsConfig;
use records::RecordsView;
use state::compact::CompactState;
use state::{ProcessTable, Resolved};

/// Most entries of each table of what compact syscall records refer to (the recorder's
/// inode tables hold 16,384; its facts one per live task): at most ~20 MB in all.
const COMPACT_ENTRIES: usize = 65_536;
use symbols::Arch;

/// How far (event time) a record may trail a later-stamped one and still be put in order.
const REORDER_WINDOW_NS: u64 = 250_000_000;
/// How far (event time) a record may be from every clock sample of its recording before
/// replay warns about it: a recording's samples are at most seconds apart.
pub const FAR_FROM_CLOCKS_NS: u64 = 86_400_000_000_000;
/// Events run through the sequential stage and rendered together: their rendered output
/// is held until written, so this bounds it.
const PROCESS_CHUNK: usize = 8192;
/// Warnings of one kind printed in full; the rest are counted in one line.
pub const WARNINGS_PER_KIND: usize = 64;

/// The memory `kellect replay` and `kellect info` may use, whatever the trace holds (on top
/// of the trace files themselves, which are memory-mapped). Every stage that could grow
/// with the input takes a share of it:
///
/// | stage | limit | at 256 MiB |
/// | --- | --- | --- |
/// | metadata | [`DecodeLimits::for_budget`]: payload 1/16, decoded value 1/4 | 16 MiB, 64 MiB |
/// | frames decompressed at once | replay: 1/32, `info`: 1/4, by the `raw_len` of their headers (a frame larger than 1/4 is skipped as damage) | 8 MiB, 64 MiB |
/// | the reorder stage | 1/8: the raw bytes of the frames whose records it holds (a frame's until its last record leaves, or its compressed payload while it need not be decompressed) and 64 bytes a record | 32 MiB |
/// | records decoded at once | three chunks (one decoded ahead, one in the sequential stage, one being rendered) of 1/128 of raw bytes and at most [`PROCESS_CHUNK`] records each (decoded and rendered records take ~4-16x their raw bytes) | 3 × 2 MiB raw |
/// | state tables of the records view | 1/8, as entries of ~1 KiB | 32 Ki entries |
/// | the inode model (paths and files, both views) | 1/8, as entries of [`files::ENTRY_BYTES`]; the least recently used is forgotten | 102 Ki entries |
/// | the process table (cwd and fds, both views) | 1/16, at [`state::PROC_BYTES`] a process and [`state::FD_BYTES`] an fd plus their names; the least recently seen process is forgotten | 16 MiB (43,690 processes without fds) |
/// | process images (exec ids and ancestors, both views) | 1/64, as entries of [`execid::IMAGE_BYTES`]; the least recently seen eighth is forgotten | 4 Ki processes |
/// | warnings | [`WARNINGS_PER_KIND`] lines per kind, then one count | |
///
/// The shares overlap in time only partly (metadata is decoded between frames), which
/// leaves room for the program itself, output buffers and per-thread allocator caches.
/// The four state tables, which persist, take 21/64 in all: with the reorder stage, a
/// batch of frames and three chunks of decoded records, 65/128 at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryBudget {
    bytes: u64,
}

impl MemoryBudget {
    /// The default budget, MiB.
    pub const DEFAULT_MIB: u64 = 256;
    /// The smallest budget accepted, MiB: below it the program's own footprint dominates.
    pub const MIN_MIB: u64 = 32;

    /// A budget of `mib` MiB; `None` below [`MIN_MIB`](Self::MIN_MIB) or past 2^40 MiB.
    pub fn from_mib(mib: u64) -> Option<MemoryBudget> {
        (Self::MIN_MIB..=1 << 40)
            .contains(&mib)
            .then_some(MemoryBudget { bytes: mib << 20 })
    }

    /// The budget, bytes.
    pub fn bytes(self) -> u64 {
        self.bytes
    }

    /// Limits on decoding one metadata block.
    pub fn meta_limits(self) -> DecodeLimits {
        DecodeLimits::for_budget(self.bytes)
    }

    /// Decoded bytes of the frames `info` decompresses at once (a batch holds at least one
    /// frame), and the largest frame decoded at all.
    pub fn frame_batch_raw(self) -> u64 {
        self.bytes / 4
    }

    /// Decoded bytes of the frames `replay` decompresses at once (a batch holds at least
    /// one frame): they go on into the reorder stage, which holds them within its own share.
    pub fn replay_batch_raw(self) -> u64 {
        self.bytes / 32
    }

    /// Raw bytes of records decoded into events at once.
    pub fn decode_raw(self) -> usize {
        usize::try_from(self.bytes / 128).unwrap_or(usize::MAX)
    }

    /// Bytes held by the reorder stage: the raw frames of the records it holds and their
    /// spans.
    pub fn reorder_bytes(self) -> usize {
        usize::try_from(self.bytes / 8).unwrap_or(usize::MAX)
    }

    /// Entries of the records view's state tables (files, sockets, processes being
    /// aggregated), counted at ~1 KiB each.
    pub fn table_entries(self) -> usize {
        usize::try_from(self.bytes / 8 / 1024).unwrap_or(usize::MAX)
    }

    /// Entries (paths plus files) of the inode model, at [`files::ENTRY_BYTES`] each.
    pub fn file_entries(self) -> usize {
        usize::try_from(self.bytes / 8 / files::ENTRY_BYTES as u64).unwrap_or(usize::MAX)
    }

    /// Processes of the image table ([`execid::ProcessImages`]), at
    /// [`execid::IMAGE_BYTES`] each.
    pub fn image_entries(self) -> usize {
        usize::try_from(self.bytes / 64 / execid::IMAGE_BYTES as u64).unwrap_or(usize::MAX)
    }

    /// Estimated bytes of the process table (working directories and fd tables), as
    /// [`state::ProcessTable::max_bytes`] counts them.
    pub fn process_bytes(self) -> usize {
        usize::try_from(self.bytes / 16).unwrap_or(usize::MAX)
    }
}

impl Default for MemoryBudget {
    fn default() -> Self {
        MemoryBudget {
            bytes: Self::DEFAULT_MIB << 20,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// One object per kernel event (Kellect's catalogue).
    Events,
    /// kflowd-style aggregated file, socket and process records.
    Records,
}

/// A bound of a time range: a wall-clock time, or seconds after the recording started.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeBound {
    /// Nanoseconds since the Unix epoch.
    Absolute(i64),
    /// Seconds after the recording started.
    Relative(f64),
}

impl TimeBound {
    /// Parses RFC 3339 (`2026-11-21T07:40:49Z`) or seconds (`12.5`).
    pub fn parse(s: &str) -> Option<TimeBound> {
        if let Ok(seconds) = s.parse::<f64>() {
            return (seconds.is_finite() && seconds >= 0.0).then_some(TimeBound::Relative(seconds));
        }
        let t =
            time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
        // Nanoseconds past i64 (before 1677, after 2262) are clamped, not wrapped: year
        // 9999 stays after every record, year 1 before them.
        let ns = t
            .unix_timestamp_nanos()
            .clamp(i128::from(i64::MIN), i128::from(i64::MAX));
        Some(TimeBound::Absolute(ns as i64))
    }

    /// Whether this bound is certainly after `other` whatever the recording's start: both
    /// wall-clock times, or both seconds after the start.
    pub fn after(self, other: TimeBound) -> bool {
        match (self, other) {
            (TimeBound::Absolute(a), TimeBound::Absolute(b)) => a > b,
            (TimeBound::Relative(a), TimeBound::Relative(b)) => a > b,
            _ => false,
        }
    }

    fn resolve(self, start_ns: i64) -> i64 {
        match self {
            TimeBound::Absolute(ns) => ns,
            TimeBound::Relative(s) => start_ns.saturating_add((s * 1e9) as i64),
        }
    }
}

/// Which events and records to show. Time: an event is in range when its stamp is; a
/// record when its span (first to last event; a process record: from the process's start)
/// overlaps the range.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Event types (`process_exec`, …); empty: all.
    pub event_types: Vec<String>,
    pub pids: Vec<u32>,
    pub since: Option<TimeBound>,
    pub until: Option<TimeBound>,
    /// `--container`: container ids (in full, or prefixes of at least 12 characters); empty:
    /// every event, in a container or not.
    pub containers: Vec<String>,
    /// `--comm`, `--path`, `--uid`, `--remote`, `--exit-code`.
    pub criteria: filter::Criteria,
}

impl Filter {
    /// Whether the container an event's or record's process is in passes `--container`.
    fn accepts_container(&self, container: Option<&container::CgroupInfo>) -> bool {
        self.containers.is_empty()
            || container
                .and_then(|c| c.container.as_ref())
                .is_some_and(|c| {
                    self.containers
                        .iter()
                        .any(|w| container::id_matches(w, &c.id))
                })
    }

    fn accepts(&self, event: &Event, resolved: &Resolved) -> bool {
        let c = &event.common;
        (self.pids.is_empty() || self.pids.contains(&c.pid))
            && (self.event_types.is_empty()
                || events::event_type(event)
                    .is_some_and(|t| self.event_types.iter().any(|n| n == t)))
            && self.criteria.accepts_event(event, resolved)
    }

    fn accepts_record(&self, r: &kflowd::Record) -> bool {
        (self.pids.is_empty() || self.pids.contains(&r.proc.pid))
            && self.criteria.accepts_record(r)
            && self.accepts_container(r.proc.cgroup.as_deref())
    }
}

#[derive(Debug, Clone)]
pub struct ReplayConfig {
    pub inputs: Vec<PathBuf>,
    pub format: OutputFormat,
    pub view: View,
    pub filter: Filter,
    pub records: RecordsConfig,
    /// The memory the replay may use (`--max-memory`).
    pub budget: MemoryBudget,
}

/// What a replay met besides output: problems worth telling the user.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Events or records written.
    pub items: u64,
    /// Data frames from which at least one record was decoded (0: nothing was recovered).
    pub frames_decoded: u64,
    pub warnings: Vec<String>,
    /// Warnings past [`WARNINGS_PER_KIND`] of each kind, counted instead of kept.
    suppressed: Vec<(&'static str, u64)>,
    kept: Vec<(&'static str, usize)>,
    /// Segments that a recorder was still writing as they were opened (each has a
    /// [`trace::Segment::note`], one of `warnings`): an empty result may only mean that no
    /// frame was committed yet.
    pub being_written: usize,
}

impl ReplayReport {
    /// Keeps `warning` unless [`WARNINGS_PER_KIND`] of its `kind` were kept already; then it
    /// is only counted, for [`summarize`](Self::summarize).
    pub fn warn(&mut self, kind: &'static str, warning: String) {
        match self.kept.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, n)) if *n >= WARNINGS_PER_KIND => {
                match self.suppressed.iter_mut().find(|(k, _)| *k == kind) {
                    Some((_, count)) => *count += 1,
                    None => self.suppressed.push((kind, 1)),
                }
                return;
            }
            Some((_, n)) => *n += 1,
            None => self.kept.push((kind, 1)),
        }
        self.warnings.push(warning);
    }

    /// Adds one line per kind of warning that was cut short, with the count of the rest.
    pub fn summarize(&mut self) {
        for (kind, count) in std::mem::take(&mut self.suppressed) {
            self.warnings.push(format!(
                "{count} more warnings of this kind ({kind}) not shown: only the first \
                 {WARNINGS_PER_KIND} of each kind are"
            ));
        }
    }

    fn absorb(&mut self, other: ReplayReport) {
        self.items += other.items;
        self.frames_decoded += other.frames_decoded;
        self.warnings.extend(other.warnings);
        for (kind, count) in other.suppressed {
            match self.suppressed.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, c)) => *c += count,
                None => self.suppressed.push((kind, count)),
            }
        }
    }
}

/// Replays trace files into `sink`. Damaged input is salvaged: everything intact is
/// replayed and each problem becomes a warning in the report.
pub fn replay(cfg: &ReplayConfig, sink: &mut Sink<'_>) -> Result<ReplayReport> {
    replay_with_progress(cfg, sink, &mut Progress::hidden())
}

/// [`replay`], telling `progress` of the bytes and records read (its total is set here:
/// the trace files' lengths).
pub fn replay_with_progress(
    cfg: &ReplayConfig,
    sink: &mut Sink<'_>,
    progress: &mut Progress,
) -> Result<ReplayReport> {
    let recordings = trace::open_recordings_within(&cfg.inputs, cfg.budget)?;
    progress.set_total(
        recordings
            .iter()
            .flat_map(|r| &r.segments)
            .map(|s| s.file_len())
            .sum(),
    );
    let mut report = ReplayReport::default();
    // A record layout this build does not know would be decoded into wrong values.
    if let Some(problem) = recordings.iter().find_map(info::abi_problem) {
        anyhow::bail!("{problem}");
    }
    for recording in &recordings {
        report.warnings.extend(info::damage_warnings(recording));
        report.warnings.extend(info::loss_warning(recording));
        report.being_written += recording
            .segments
            .iter()
            .filter(|s| s.note.is_some())
            .count();
        // Opening and its checks read every byte (checksums, the chain): the pages leave
        // the resident set until replay reads them again, in order.
        for segment in &recording.segments {
            segment.done_with(0, segment.file_len() as usize);
        }
        let mut engine = Engine::new(cfg, sink);
        // Nothing reads replay's output as it comes: the last chunk of a batch of frames
        // renders while the next batch's first chunk is in the sequential stage.
        engine.flush_each_batch = false;
        feed_recording(&mut engine, recording, cfg.budget, progress)?;
        engine.finish()?;
        let engine_report = std::mem::take(&mut engine.report);
        report.absorb(engine_report);
    }
    report.summarize();
    progress.finish();
    sink.flush()?;
    Ok(report)
}

/// Feeds every block of a recording's segments, in file order, to the engine. Frames go
/// in batches whose decoded sizes (`raw_len` of their headers) add up to at most
/// [`MemoryBudget::replay_batch_raw`]: the cut depends on the trace's bytes only.
fn feed_recording(
    engine: &mut Engine<'_, '_>,
    recording: &trace::Recording,
    budget: MemoryBudget,
    progress: &mut Progress,
) -> Result<()> {
    for segment in &recording.segments {
        let mut pending: Vec<&trace::BlockLoc> = Vec::new();
        let mut pending_raw = 0u64;
        // The file's bytes before this were read (the reorder stage copies the payloads
        // it may need again).
        let mut read_to = 0usize;
        // Feeds the pending batch; false once the engine wants no more frames.
        let mut feed = |engine: &mut Engine<'_, '_>,
                        pending: &mut Vec<&trace::BlockLoc>,
                        read_to: &mut usize| {
            if pending.is_empty() {
                return Ok(true);
            }
            if !engine.frames(prepare_frames(segment, pending, budget))? {
                return Ok(false);
            }
            let (bytes, records) = pending.iter().fold((0u64, 0u64), |(bytes, records), b| {
                let len =
                    (b.payload.1.saturating_sub(b.payload.0) + format::BLOCK_HEADER_LEN) as u64;
                let count = segment
                    .frame_header(b)
                    .map_or(0, |h| u64::from(h.record_count));
                (bytes + len, records + count)
            });
            progress.advance(bytes, records);
            *read_to = done_with(segment, pending, *read_to);
            pending.clear();
            anyhow::Ok(true)
        };
        for block in &segment.blocks {
            if block.kind == BlockKind::Frame {
                let raw = segment
                    .frame_header(block)
                    .map_or(0, |h| u64::from(h.raw_len));
                if !pending.is_empty()
                    && pending_raw.saturating_add(raw) > budget.replay_batch_raw()
                {
                    if !feed(engine, &mut pending, &mut read_to)? {
                        return Ok(());
                    }
                    pending_raw = 0;
                }
                pending.push(block);
                pending_raw = pending_raw.saturating_add(raw);
                continue;
            }
            if !feed(engine, &mut pending, &mut read_to)? {
                return Ok(());
            }
            pending_raw = 0;
            if block.kind.is_metadata() {
                engine.meta_block(block.kind, block.flags, segment.payload(block), || {
                    format!(
                        "{}: {} block at byte {}",
                        segment.path.display(),
                        block.kind,
                        block.offset
                    )
                })?;
            }
        }
        if !feed(engine, &mut pending, &mut read_to)? {
            return Ok(());
        }
    }
    Ok(())
}

/// Tells the kernel the file's bytes up to the end of `blocks` (fed to the engine) are
/// read ([`trace::Segment::done_with`]); returns where the read bytes now end.
fn done_with(segment: &trace::Segment, blocks: &[&trace::BlockLoc], read_to: usize) -> usize {
    let end = blocks.last().map_or(read_to, |b| b.payload.1);
    segment.done_with(read_to, end);
    end.max(read_to)
}

/// A decompressed frame whose records were checked ([`decode::scan_frame`]) but not yet
/// decoded: its header's first stamp (for time-range decisions), its raw bytes, the span
/// of each intact record in them, and any problem. The reorder stage holds the raw bytes
/// and orders the spans; records are decoded into events after they leave it.
pub struct DecodedFrame {
    pub first_ts: Option<u64>,
    raw: Arc<Vec<u8>>,
    /// The frame block's payload, when it is much smaller than the raw bytes: the reorder
    /// stage may then let go of the raw bytes and decompress them again when they are due.
    packed: Option<Arc<[u8]>>,
    /// Intact records, in order, up to the first malformed one.
    records: Vec<RecordSpan>,
    pub problem: Option<String>,
}

impl DecodedFrame {
    /// A frame of which nothing could be read, and why.
    pub fn failed(problem: String) -> DecodedFrame {
        DecodedFrame {
            first_ts: None,
            raw: Arc::default(),
            packed: None,
            records: Vec::new(),
            problem: Some(problem),
        }
    }

    /// Intact records in the frame (those before any malformed one).
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the frame holds no intact record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The raw bytes of each intact record, in order.
    pub fn record_bytes(&self) -> impl Iterator<Item = &[u8]> + '_ {
        self.records
            .iter()
            .filter_map(|r| self.raw.get(r.offset..r.offset + r.len as usize))
    }
}

/// Decompresses a batch of frames in parallel and checks their records (in pieces of at
/// most [`MemoryBudget::decode_raw`] raw bytes cut at record boundaries, in parallel); the
/// frames, in order.
fn prepare_frames(
    segment: &trace::Segment,
    blocks: &[&trace::BlockLoc],
    budget: MemoryBudget,
) -> Vec<DecodedFrame> {
    let located = |block: &trace::BlockLoc, what: String| {
        format!(
            "{}: frame at byte {}: {what}",
            segment.path.display(),
            block.offset
        )
    };
    let raws: Vec<Result<(FrameHeader, Vec<u8>), String>> = blocks
        .par_iter()
        .map(|block| {
            let payload = segment.payload(block);
            if let Ok(h) = FrameHeader::decode(payload) {
                if u64::from(h.raw_len) > budget.frame_batch_raw() {
                    return Err(located(
                        block,
                        format!(
                            "{} bytes decoded is over the frame limit of the memory budget \
                             ({} bytes; --max-memory raises it); the frame is skipped",
                            h.raw_len,
                            budget.frame_batch_raw()
                        ),
                    ));
                }
            }
            format::decode_frame(payload)
                .map_err(|e| located(block, format!("{e}; the frame is skipped")))
        })
        .collect();
    // Pieces of frames: (frame index, offset in the frame, record-aligned bytes).
    let mut pieces: Vec<(usize, usize, &[u8])> = Vec::new();
    for (i, raw) in raws.iter().enumerate() {
        if let Ok((_, bytes)) = raw {
            let mut offset = 0;
            for piece in record_pieces(bytes, budget.decode_raw()) {
                pieces.push((i, offset, piece));
                offset += piece.len();
            }
        }
    }
    let scanned: Vec<(usize, Vec<RecordSpan>, Option<String>)> = pieces
        .par_iter()
        .map(|&(i, offset, bytes)| {
            let (spans, error) = decode::scan_frame(bytes, offset);
            let problem =
                error.map(|e| located(blocks[i], format!("{e}; the rest of the frame is skipped")));
            (i, spans, problem)
        })
        .collect();
    drop(pieces);
    // A malformed record ends its frame: later pieces of that frame are dropped.
    let mut scanned = scanned.into_iter().peekable();
    let mut frames = Vec::with_capacity(raws.len());
    for (i, raw) in raws.into_iter().enumerate() {
        let (header, bytes) = match raw {
            Ok(decoded) => decoded,
            Err(problem) => {
                frames.push(DecodedFrame::failed(problem));
                continue;
            }
        };
        let mut records = Vec::new();
        let mut problem = None;
        while let Some((_, spans, error)) = scanned.next_if(|(at, ..)| *at == i) {
            if problem.is_none() {
                records.extend(spans);
                problem = error;
            }
        }
        let payload = segment.payload(blocks[i]);
        frames.push(DecodedFrame {
            first_ts: Some(header.first_ts),
            packed: (payload.len() <= bytes.len() / 4).then(|| Arc::from(payload)),
            raw: Arc::new(bytes),
            records,
            problem,
        });
    }
    frames
}

/// Cuts the raw records of a frame into pieces of about `limit` bytes at record boundaries
/// (a single record larger than `limit` is a piece of its own). A malformed record and
/// everything after it form the last piece, where decoding reports it.
fn record_pieces(raw: &[u8], limit: usize) -> Vec<&[u8]> {
    if raw.len() <= limit {
        return if raw.is_empty() {
            Vec::new()
        } else {
            vec![raw]
        };
    }
    let mut pieces = Vec::new();
    let (mut start, mut at) = (0, 0);
    while at < raw.len() {
        let Ok((_, len)) = crate::abi::check_at(raw, at) else {
            break;
        };
        if at > start && at - start + len > limit {
            pieces.push(&raw[start..at]);
            start = at;
        }
        at += len;
    }
    if start < raw.len() {
        pieces.push(&raw[start..]);
    }
    pieces
}

/// Decompresses one frame block's payload and checks its records.
pub fn decode_frame_payload(payload: &[u8], located: impl Fn(String) -> String) -> DecodedFrame {
    match format::decode_frame(payload) {
        Ok((header, raw)) => decode_raw_frame(Some(header.first_ts), raw, located),
        Err(e) => DecodedFrame::failed(located(format!("{e}; the frame is skipped"))),
    }
}

/// Checks the raw records of one frame (in one piece).
pub fn decode_raw_frame(
    first_ts: Option<u64>,
    raw: Vec<u8>,
    located: impl Fn(String) -> String,
) -> DecodedFrame {
    let (records, error) = decode::scan_frame(&raw, 0);
    DecodedFrame {
        first_ts,
        raw: Arc::new(raw),
        packed: None,
        records,
        problem: error.map(|e| located(format!("{e}; the rest of the frame is skipped"))),
    }
}

/// Sees every event of the events view in the order the engine processes it, before the
/// process table applies it: how `kellect slice` learns which records a replay with the
/// same filters shows and what state precedes them.
pub trait EventTap {
    /// `shown`: the replay prints this event (it passes the time range and the filter);
    /// `table` and `ctx`: the state and context as they are just before it.
    fn event(
        &mut self,
        event: &Event,
        shown: bool,
        table: &ProcessTable,
        ctx: &Context,
    ) -> Result<()>;
}

/// The replay of one recording: feed it blocks in order, then `finish`.
pub struct Engine<'c, 'w> {
    cfg: &'c ReplayConfig,
    pub ctx: Context,
    reorder: Reorder,
    table: ProcessTable,
    /// What compact syscall records left out, filled in before any other state sees them.
    compact: CompactState,
    /// The image of each process: the exec ids of both views.
    images: ProcessImages,
    records: Option<RecordsView>,
    snapshot_seen: bool,
    fds_seen: bool,
    cgroups_seen: bool,
    sink: &'c mut Sink<'w>,
    since: Option<i64>,
    until: Option<i64>,
    pub report: ReplayReport,
    /// Records stamped far from every clock sample: how many, and the first one's stamp.
    far: (u64, Option<u64>),
    /// With a tap, the events view renders nothing: the tap is told of each event instead.
    tap: Option<&'c mut dyn EventTap>,
    /// The chunk decoded (and filled in) last, to go through the sequential stage next.
    ahead: Option<Vec<Option<Event>>>,
    /// The chunk the sequential stage passed last, rendered while it runs the next one.
    pending: Option<Pending>,
    /// Whether what is pending is written at the end of each batch of frames (`kellect
    /// live` prints each batch as it comes), or only when the next chunk is processed.
    flush_each_batch: bool,
}

impl<'c, 'w> Engine<'c, 'w> {
    pub fn new(cfg: &'c ReplayConfig, sink: &'c mut Sink<'w>) -> Self {
        sink.set_table_header(match cfg.view {
            View::Events => output::EVENT_TABLE_HEADER,
            View::Records => output::RECORD_TABLE_HEADER,
        });
        Engine {
            cfg,
            ctx: Context::with_limits(cfg.budget.meta_limits()),
            reorder: Reorder::new(cfg.budget.reorder_bytes()),
            table: ProcessTable::new(cfg.budget.file_entries())
                .with_process_limit(cfg.budget.process_bytes()),
            compact: CompactState::new(COMPACT_ENTRIES),
            images: ProcessImages::new(cfg.budget.image_entries()),
            records: (cfg.view == View::Records).then(|| {
                RecordsView::new(cfg.records.clone()).with_table_limit(cfg.budget.table_entries())
            }),
            snapshot_seen: false,
            fds_seen: false,
            cgroups_seen: false,
            sink,
            since: None,
            until: None,
            report: ReplayReport::default(),
            far: (0, None),
            tap: None,
            ahead: None,
            pending: None,
            flush_each_batch: true,
        }
    }

    /// The same engine telling `tap` of every event (events view only) instead of
    /// rendering the ones it shows.
    pub fn with_tap(mut self, tap: &'c mut dyn EventTap) -> Self {
        self.tap = Some(tap);
        self
    }

    /// One metadata block, as stored (`flags` says whether it is compressed).
    pub fn meta_block(
        &mut self,
        kind: BlockKind,
        flags: u16,
        payload: &[u8],
        located: impl Fn() -> String,
    ) -> Result<()> {
        let raw;
        let limits = self.cfg.budget.meta_limits();
        let payload = if flags & format::BLOCK_FLAG_COMPRESSED != 0 {
            match format::decompress_meta_limited(payload, limits.max_payload) {
                Ok(bytes) => {
                    raw = bytes;
                    &raw[..]
                }
                Err(e) => {
                    self.report.warn(
                        "metadata",
                        format!("{}: {e}; the block is skipped", located()),
                    );
                    return Ok(());
                }
            }
        } else {
            payload
        };
        // What is pending renders with the clocks and host it was read with, after the
        // state it changes.
        self.flush_all()?;
        match self.meta(kind, payload) {
            Ok(Some(at)) => self.tick(at)?,
            Ok(None) => {}
            Err(e @ MetaError::OverLimit(_)) => self.report.warn(
                "metadata",
                format!("{}: {e}; the block is skipped", located()),
            ),
            Err(e) => self.report.warn(
                "metadata",
                format!("{}: the metadata does not decode: {e}", located()),
            ),
        }
        Ok(())
    }

    /// Applies a metadata block; returns a time mark when the block carries one.
    fn meta(&mut self, kind: BlockKind, payload: &[u8]) -> Result<Option<u64>, MetaError> {
        let limits = self.cfg.budget.meta_limits();
        match kind {
            // Later segments repeat the snapshot: the state built since then is newer.
            BlockKind::Snapshot if !self.snapshot_seen => {
                let s: ProcSnapshot = meta::decode_limited(payload, &limits)?;
                self.table.add_snapshot(&s);
                self.compact.add_snapshot(&s);
                self.images.add_snapshot(&s);
                if self.records.is_some() {
                    self.table.add_snapshot_facts(&s, &self.images);
                }
                self.snapshot_seen = true;
            }
            BlockKind::FdTable if !self.fds_seen => {
                let t: FdTable = meta::decode_limited(payload, &limits)?;
                self.table.add_fds(&t);
                self.fds_seen = true;
            }
            BlockKind::Cgroups if !self.cgroups_seen => {
                let c: meta::Cgroups = meta::decode_limited(payload, &limits)?;
                self.table.add_cgroups(&c);
                self.cgroups_seen = true;
            }
            BlockKind::Snapshot | BlockKind::FdTable | BlockKind::Cgroups => {}
            _ => {
                let first_host = self.ctx.host.is_none();
                let applied = self.ctx.apply(kind, payload)?;
                if first_host && self.ctx.host.is_some() {
                    let start = self.ctx.realtime_ns(self.ctx.start_boot_ns());
                    self.since = self.cfg.filter.since.map(|b| b.resolve(start));
                    self.until = self.cfg.filter.until.map(|b| b.resolve(start));
                }
                if let Applied::Tick(at) = applied {
                    return Ok(Some(at));
                }
            }
        }
        Ok(None)
    }

    /// Checked frames, in order. Returns false once frames are past `--until`: the
    /// caller may stop reading.
    pub fn frames(&mut self, frames: Vec<DecodedFrame>) -> Result<bool> {
        let mut more = true;
        for frame in frames {
            if frame.problem.is_none() || !frame.records.is_empty() {
                self.report.frames_decoded += 1;
            }
            // The records view reads on: a record that overlaps the range counts what
            // follows too.
            if let (Some(until), Some(first), None) = (self.until, frame.first_ts, &self.records) {
                if self.ctx.realtime_ns(first) > until.saturating_add(REORDER_WINDOW_NS as i64) {
                    more = false;
                    break;
                }
            }
            if let Some(problem) = frame.problem {
                self.report.warn("frame", problem);
            }
            // What is ready leaves a chunk at a time, and before the next frame comes in:
            // released records keep their frames' bytes until they are decoded.
            let mut ready = Vec::new();
            let id = self
                .reorder
                .hold(frame.raw, frame.packed, frame.records.len());
            for span in frame.records {
                let plausible = self.plausible(span.ts);
                self.reorder.push(id, span, plausible, &mut ready);
                let mark = self.reorder.watermark();
                self.reorder.pop_until(mark, &mut ready, PROCESS_CHUNK);
                if ready.len() >= PROCESS_CHUNK || self.reorder.out_bytes > self.reorder.max_bytes {
                    self.process(std::mem::take(&mut ready))?;
                }
            }
            self.process(ready)?;
            self.release_until(self.reorder.watermark())?;
        }
        if self.flush_each_batch {
            self.flush_all()?;
        }
        Ok(more)
    }

    /// A time mark from the recorder: no record older than `at - window` is still to come.
    fn tick(&mut self, at: u64) -> Result<()> {
        let mark = at.saturating_sub(REORDER_WINDOW_NS);
        self.release_until(mark)?;
        if self.records.is_some() {
            // The records view's tables, up to date with every record released.
            self.flush_all()?;
        }
        if let Some(r) = &mut self.records {
            let out = r.tick(&self.ctx, &self.table, mark);
            self.emit_records(out)?;
        }
        Ok(())
    }

    /// Whether a record's stamp is within [`FAR_FROM_CLOCKS_NS`] of the recording's clock
    /// samples so far (and so may move the reorder window); counts it otherwise.
    fn plausible(&mut self, ts: u64) -> bool {
        let Some((low, high)) = self.ctx.clock_range() else {
            return true;
        };
        if ts >= low.saturating_sub(FAR_FROM_CLOCKS_NS)
            && ts <= high.saturating_add(FAR_FROM_CLOCKS_NS)
        {
            return true;
        }
        self.far.0 += 1;
        self.far.1.get_or_insert(ts);
        false
    }

    /// The end of the recording: what is still ordered or aggregated leaves.
    pub fn finish(&mut self) -> Result<()> {
        self.release_until(u64::MAX)?;
        self.flush_all()?;
        self.report.warnings.extend(self.compact.warning());
        self.report.warnings.extend(self.table.memory_warning());
        self.report.warnings.extend(self.table.process_warning());
        self.report.warnings.extend(self.images.warning());
        if let Some(r) = &mut self.records {
            let out = r.finish(&self.ctx, &self.table);
            self.emit_records(out)?;
        }
        self.sink.flush()?;
        if let (count, Some(first)) = self.far {
            let when = match self.ctx.checked_realtime_ns(first) {
                Some(ns) => info::rfc3339(ns),
                None => "a time that does not exist (past the year 2262)".to_owned(),
            };
            self.report.warnings.push(format!(
                "{count} records are stamped more than a day away from every clock sample of \
                 the recording (the first: boot time {first} ns, {when}): their times are \
                 doubtful, and they were not used to order other records"
            ));
        }
        if let Some(r) = self.records.as_ref().filter(|r| r.early_exports > 0) {
            self.report.warnings.push(format!(
                "{} records were exported early (InfoExport \"table-full\") or state entries \
                 forgotten: the records view's state tables hold at most {} entries each (the \
                 memory budget; --max-memory raises it)",
                r.early_exports,
                self.cfg.budget.table_entries()
            ));
        }
        if self.reorder.overflowed > 0 {
            let order = match self.reorder.disordered {
                0 => "none arrived after a record stamped later had left, so the output is \
                      still in timestamp order"
                    .to_owned(),
                n => format!(
                    "{n} records arrived after one stamped later had left, and are out of \
                     timestamp order"
                ),
            };
            self.report.warnings.push(format!(
                "{} records left the reorder stage before their 250 ms window closed: it holds \
                 at most {} MiB of records (the memory budget; --max-memory raises it); {order}",
                self.reorder.overflowed,
                self.reorder.max_bytes >> 20
            ));
        }
        Ok(())
    }

    /// Releases and processes every held record stamped at or before `mark`, a chunk at a
    /// time.
    fn release_until(&mut self, mark: u64) -> Result<()> {
        loop {
            let mut ready = Vec::new();
            self.reorder.pop_until(mark, &mut ready, PROCESS_CHUNK);
            if ready.is_empty() {
                return Ok(());
            }
            self.process(ready)?;
        }
    }

    /// Runs records through state, filters and output, a chunk at a time: at most
    /// [`PROCESS_CHUNK`] records and [`MemoryBudget::decode_raw`] raw bytes. Three chunks
    /// are in flight at once ([`step`](Self::step)): while this thread runs one through the
    /// sequential stage (state transitions, filters, the records view's aggregation), the
    /// pool decodes the one after it and renders the one before it. A chunk is decoded
    /// here and goes through the sequential stage at the next step, or at
    /// [`flush_all`](Self::flush_all). What a chunk renders is written before the next one
    /// is rendered, so output keeps the records' order.
    fn process(&mut self, ready: Vec<Released>) -> Result<()> {
        let limit = self.cfg.budget.decode_raw();
        let mut ranges = Vec::new();
        let mut start = 0;
        while start < ready.len() {
            let mut end = start;
            let mut bytes = 0usize;
            while end < ready.len()
                && end - start < PROCESS_CHUNK
                && (end == start || bytes + ready[end].bytes().len() <= limit)
            {
                bytes += ready[end].bytes().len();
                end += 1;
            }
            ranges.push(start..end);
            start = end;
        }
        if self.tap.is_some() {
            for range in ranges {
                let mut events = decode_released(&ready[range]);
                self.fill_in(&mut events);
                self.tap_chunk(&events)?;
            }
            self.reorder.out_bytes = 0;
            return Ok(());
        }
        for range in ranges {
            self.step(Some(&ready[range]))?;
        }
        self.reorder.out_bytes = 0;
        Ok(())
    }

    /// One step of the pipeline: the chunk decoded ahead goes through the sequential stage
    /// on this thread while the pool decodes `next` and fills in what its compact records
    /// left out (in order, from the chunks before it: a state of its own, which the
    /// sequential stage does not read), then renders the chunk the sequential stage passed
    /// before; what that renders is written. `next` becomes the chunk decoded ahead.
    fn step(&mut self, next: Option<&[Released]>) -> Result<()> {
        let events = self.ahead.take();
        let prev = self.pending.take();
        let (format, udp) = (self.sink.format, self.sink.wants_datagrams());
        let ctx = &self.ctx;
        let compact = &mut self.compact;
        let mut rendered = (Vec::new(), 0);
        let mut decoded = None;
        let seq = Sequential {
            cfg: self.cfg,
            ctx,
            table: &mut self.table,
            images: &mut self.images,
            records: &mut self.records,
            since: self.since,
            until: self.until,
        };
        let pending = rayon::in_place_scope(|s| {
            s.spawn(|_| {
                // Decoding and filling in first, while this thread is in the sequential
                // stage: rendering, which both threads share at the end, comes last.
                decoded = next.map(|next| {
                    let mut events = decode_released(next);
                    fill_in(compact, &mut events);
                    events
                });
                if let Some(prev) = prev {
                    rendered = prev.render(ctx, format, udp);
                }
            });
            events.map(|events| seq.chunk(events))
        });
        self.write(rendered.0, rendered.1)?;
        self.pending = pending;
        self.ahead = decoded;
        Ok(())
    }

    /// Runs the chunk decoded ahead through the sequential stage, then renders and writes
    /// everything that passed it: all state is then up to date with every record released.
    fn flush_all(&mut self) -> Result<()> {
        if self.ahead.is_some() {
            self.step(None)?;
        }
        self.flush_pending()
    }

    /// Fills in what compact syscall records of a decoded chunk left out, in order: the
    /// first step of the sequential stage, before any other state sees them.
    fn fill_in(&mut self, events: &mut [Option<Event>]) {
        fill_in(&mut self.compact, events);
    }

    /// Renders and writes what the sequential stage passed last.
    fn flush_pending(&mut self) -> Result<()> {
        if let Some(pending) = self.pending.take() {
            let (format, udp) = (self.sink.format, self.sink.wants_datagrams());
            let (rendered, items) = pending.render(&self.ctx, format, udp);
            self.write(rendered, items)?;
        }
        Ok(())
    }

    /// A chunk of the events view with a tap: the tap sees each event, nothing renders.
    fn tap_chunk(&mut self, events: &[Option<Event>]) -> Result<()> {
        let Some(tap) = self.tap.as_deref_mut() else {
            return Ok(());
        };
        for event in events.iter().flatten() {
            let listed = in_range(&self.ctx, (self.since, self.until), event.common.ts)
                && events::event_type(event).is_some();
            // A slice filters by what an event carries (it takes no --path).
            let container = self.table.container(event.common.pid);
            let shown = listed
                && self.cfg.filter.accepts(event, &Resolved::default())
                && self.cfg.filter.accepts_container(container.as_deref());
            tap.event(event, shown, &self.table, &self.ctx)?;
            self.table.apply(event);
            self.images.apply(event);
            self.report.items += u64::from(shown);
        }
        Ok(())
    }

    fn emit_records(&mut self, records: Vec<kflowd::Record>) -> Result<()> {
        self.flush_all()?;
        let records = select_records(
            &self.cfg.filter,
            &self.ctx,
            (self.since, self.until),
            &mut self.records,
            records,
        );
        if records.is_empty() {
            return Ok(());
        }
        let (format, udp) = (self.sink.format, self.sink.wants_datagrams());
        let items = records.len() as u64;
        let rendered = render_records(&records, format, udp);
        self.write(rendered, items)
    }

    /// Writes what renders `items` events or records, in order.
    fn write(&mut self, rendered: Vec<Rendered>, items: u64) -> Result<()> {
        for item in &rendered {
            self.sink.write(item)?;
        }
        self.report.items += items;
        Ok(())
    }
}

/// Fills in what compact syscall records of a decoded chunk left out, in order, from the
/// records before them ([`CompactState`]).
fn fill_in(compact: &mut CompactState, events: &mut [Option<Event>]) {
    for event in events.iter_mut().flatten() {
        compact.apply(event);
    }
}

/// Decodes released records into events, in parallel (an indexed collect writes each in
/// its place). The spans were checked as intact records: each decodes.
fn decode_released(released: &[Released]) -> Vec<Option<Event>> {
    released
        .par_iter()
        .map(|r| decode::decode_one(r.bytes()))
        .collect()
}

/// Whether a record stamped `ts` (boot time) is within `--since` and `--until` (wall
/// clock, nanoseconds).
fn in_range(ctx: &Context, (since, until): (Option<i64>, Option<i64>), ts: u64) -> bool {
    let at = ctx.realtime_ns(ts);
    since.is_none_or(|s| at >= s) && until.is_none_or(|u| at <= u)
}

/// The records of the records view that pass the time range and the filter, numbered in
/// order.
fn select_records(
    filter: &Filter,
    ctx: &Context,
    (since, until): (Option<i64>, Option<i64>),
    view: &mut Option<RecordsView>,
    mut records: Vec<kflowd::Record>,
) -> Vec<kflowd::Record> {
    records.retain(|r| {
        let (first, last) = r.span;
        since.is_none_or(|s| ctx.realtime_ns(last) >= s)
            && until.is_none_or(|u| ctx.realtime_ns(first) <= u)
            && filter.accepts_record(r)
    });
    if let Some(view) = view.as_mut() {
        view.number(&mut records);
    }
    records
}

/// The state the sequential stage changes, borrowed from the [`Engine`] for one chunk while
/// the pool renders the chunk before it.
struct Sequential<'a> {
    cfg: &'a ReplayConfig,
    ctx: &'a Context,
    table: &'a mut ProcessTable,
    images: &'a mut ProcessImages,
    records: &'a mut Option<RecordsView>,
    since: Option<i64>,
    until: Option<i64>,
}

impl Sequential<'_> {
    /// Runs a chunk of events through state transitions, filters and (records view)
    /// aggregation, in order; returns what is left to render.
    fn chunk(self, events: Vec<Option<Event>>) -> Pending {
        let mut selected = Vec::new();
        let mut records = Vec::new();
        if self.records.is_none() {
            selected.reserve(events.len());
        }
        if let Some(view) = self.records.as_mut() {
            for event in events.iter().flatten() {
                // The image first: the process table keeps it among the process's facts.
                let image = self.images.apply(event);
                let resolved = self.table.apply_with_facts(event, &image, self.images);
                view.event_into(self.ctx, event, &resolved, self.table, &mut records);
            }
            records = select_records(
                &self.cfg.filter,
                self.ctx,
                (self.since, self.until),
                self.records,
                records,
            );
        } else {
            for (i, event) in events.iter().enumerate() {
                let Some(event) = event else { continue };
                let listed = in_range(self.ctx, (self.since, self.until), event.common.ts)
                    && events::event_type(event).is_some();
                let resolved = self.table.apply(event);
                let image = self.images.apply(event);
                if listed
                    && self.cfg.filter.accepts(event, &resolved)
                    && self
                        .cfg
                        .filter
                        .accepts_container(resolved.container.as_deref())
                {
                    selected.push((i, resolved, image));
                }
            }
        }
        Pending {
            events,
            selected,
            records,
        }
    }
}

/// A chunk that left the sequential stage: the events view's events it shows (indices into
/// `events`, with their resolved state and image), or the records view's records, to be
/// rendered in parallel. The chunk's events are dropped with it, off the sequential stage.
struct Pending {
    events: Vec<Option<Event>>,
    selected: Vec<(usize, Resolved, Arc<Image>)>,
    records: Vec<kflowd::Record>,
}

impl Pending {
    /// Renders the chunk in parallel; returns what to write and how many events or records
    /// it holds.
    fn render(self, ctx: &Context, format: OutputFormat, udp: bool) -> (Vec<Rendered>, u64) {
        let arch = Arch::from_machine(ctx.machine());
        let boot_id = ctx.boot_id();
        let events = &self.events;
        let items = (self.selected.len() + self.records.len()) as u64;
        let mut rendered: Vec<Rendered> = match text_only(format, udp) {
            Some(pretty) => self
                .selected
                .par_chunks(RENDER_BATCH)
                .map(|chunk| {
                    let mut text = Vec::with_capacity(chunk.len() * EVENT_TEXT_BYTES);
                    // Runs of events of one image share its exec id, and runs of one
                    // thread the text of its process fields.
                    let mut last: Option<(&Arc<Image>, String)> = None;
                    let mut process = ProcessText::default();
                    for s in chunk {
                        if !last
                            .as_ref()
                            .is_some_and(|(image, _)| Arc::ptr_eq(image, &s.2))
                        {
                            last = Some((&s.2, s.2.id.exec_id(boot_id)));
                        }
                        let Some((_, exec_id)) = &last else { continue };
                        if let Some(v) = event_view(events, s, ctx, arch, exec_id) {
                            output::event_json_text(&v, pretty, &mut process, &mut text);
                        }
                    }
                    Rendered::text(text)
                })
                .collect(),
            None => self
                .selected
                .par_iter()
                .filter_map(|s| {
                    let exec_id = s.2.id.exec_id(boot_id);
                    let v = event_view(events, s, ctx, arch, &exec_id)?;
                    Some(output::render_event(&v, format, udp))
                })
                .collect(),
        };
        rendered.extend(render_records(&self.records, format, udp));
        // Freeing the chunk's events and their state (boxed syscalls, names, images) is
        // some 5 % of the events view's work: it is shared too, not left to the thread
        // that renders last while the other waits (with one thread, sharing it only costs).
        let Pending {
            events, selected, ..
        } = self;
        if rayon::current_num_threads() == 1 {
            return (rendered, items);
        }
        rayon::join(
            || {
                events
                    .into_par_iter()
                    .with_min_len(RENDER_BATCH)
                    .for_each(drop)
            },
            || {
                selected
                    .into_par_iter()
                    .with_min_len(RENDER_BATCH)
                    .for_each(drop)
            },
        );
        (rendered, items)
    }
}

/// The view of a selected event (`None` if `selected` is no event's index), with the exec
/// id of its image.
fn event_view<'a>(
    events: &'a [Option<Event>],
    (i, resolved, _): &'a (usize, Resolved, Arc<Image>),
    ctx: &Context,
    arch: Arch,
    exec_id: &'a str,
) -> Option<EventView<'a>> {
    let event = events.get(*i)?.as_ref()?;
    Some(EventView {
        timestamp_us: ctx.realtime_ns(event.common.ts).div_euclid(1000),
        event,
        resolved,
        arch,
        catalogue: crate::syscalls::CATALOGUE,
        exec_id: Some(exec_id),
    })
}

/// Events or records rendered into one text buffer, when the output is only text: ~80 KB
/// of events, more than the output's 64 KiB buffer, which then passes them on without
/// copying them on the sequential thread.
const RENDER_BATCH: usize = 256;

/// Room reserved per item in a [`RENDER_BATCH`] buffer, a little above the usual size of
/// one in JSON text, so that a buffer is rarely copied to grow: an event takes some 330
/// bytes (json-min) to 400 (json); a record of the records view some 1,100 to 1,300.
const EVENT_TEXT_BYTES: usize = 512;
const RECORD_TEXT_BYTES: usize = 1536;

/// `Some(pretty)` when the output is JSON text only (no datagrams, no Parquet rows): items
/// then render into shared buffers of [`RENDER_BATCH`].
fn text_only(format: OutputFormat, udp: bool) -> Option<bool> {
    match format {
        OutputFormat::Json | OutputFormat::JsonMin if !udp => Some(format == OutputFormat::Json),
        _ => None,
    }
}

/// Renders records of the records view in parallel, in order.
fn render_records(records: &[kflowd::Record], format: OutputFormat, udp: bool) -> Vec<Rendered> {
    match text_only(format, udp) {
        Some(pretty) => records
            .par_chunks(RENDER_BATCH)
            .map(|chunk| {
                let mut text = Vec::with_capacity(chunk.len() * RECORD_TEXT_BYTES);
                for r in chunk {
                    output::json_text(r, pretty, &mut text);
                }
                Rendered::text(text)
            })
            .collect(),
        None => records
            .par_iter()
            .map(|r| output::render_record(r, format, udp))
            .collect(),
    }
}

/// Puts records into timestamp order within a bounded window; ties keep arrival order.
///
/// Records are not moved: their frames' raw bytes are held, shared, and the stage orders
/// 32-byte [`Held`] spans. The ring buffer delivers records nearly in time order (each
/// CPU's records in order, CPUs interleaved with a small lag), so a span usually goes to
/// the back of `sorted`, or a few places before it; one that arrives further behind goes
/// to the `late` heap, and the two are merged as records leave.
///
/// Holds at most `max_bytes`: each held frame's raw bytes (whole until its last record
/// leaves), its compressed payload when it has one, and the spans' slots. Past it, the
/// newest frames whose payloads are kept let go of their raw bytes (decompressed again
/// when their first record is due, and then held until their last one leaves: a storm's
/// window costs a second decompression, not its order); when no frame can, the earliest
/// held records leave early, in order, and are counted in `overflowed`.
struct Reorder {
    sorted: VecDeque<Held>,
    late: BinaryHeap<Reverse<Held>>,
    /// Frames with records still held; free slots are listed in `free`.
    frames: Vec<Option<HeldFrame>>,
    free: Vec<u32>,
    /// Frames whose raw bytes are held and could be let go of: (arrival, id).
    unpackable: BTreeSet<(u64, u32)>,
    arrivals: u64,
    seq: u64,
    max_ts: u64,
    /// Bytes of the held frames (raw and compressed).
    frame_bytes: usize,
    max_bytes: usize,
    /// Raw bytes of frames whose last record has left into a caller's list not yet
    /// processed (the stage no longer counts them); [`pop_until`](Self::pop_until) stops
    /// past `max_bytes` of them, and [`Engine::process`] sets it back to 0.
    out_bytes: usize,
    overflowed: u64,
    /// The latest stamp among the records that left early.
    early_ts: u64,
    /// Records that arrived after one stamped later than them had left early: they leave
    /// out of timestamp order.
    disordered: u64,
}

/// Bytes counted for each held span: its slot and as much spare room (vectors grow by
/// doubling).
const HELD_BYTES: usize = 2 * size_of::<Held>();

/// How far before the back of [`Reorder::sorted`] a span is put in place; one that
/// belongs further back goes to the heap.
const SORTED_REACH: usize = 64;

/// A record held by the reorder stage: its order (stamp, arrival) and where it lies.
#[derive(Debug, Clone, Copy)]
struct Held {
    ts: u64,
    seq: u64,
    frame: u32,
    len: u32,
    offset: usize,
}

struct HeldFrame {
    /// `None` while only the payload is held.
    raw: Option<Arc<Vec<u8>>>,
    packed: Option<Arc<[u8]>>,
    /// The raw bytes' size (also while they are let go of).
    raw_len: usize,
    arrival: u64,
    /// Records of the frame still held.
    records: usize,
}

/// A record that left the reorder stage: its frame's bytes (shared) and where it lies.
struct Released {
    raw: Arc<Vec<u8>>,
    offset: usize,
    len: u32,
}

impl Released {
    fn bytes(&self) -> &[u8] {
        self.raw
            .get(self.offset..self.offset + self.len as usize)
            .unwrap_or_default()
    }
}

impl PartialEq for Held {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.seq) == (other.ts, other.seq)
    }
}
impl Eq for Held {}
impl PartialOrd for Held {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Held {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(other.ts, other.seq))
    }
}

impl Reorder {
    fn new(max_bytes: usize) -> Self {
        Reorder {
            sorted: VecDeque::new(),
            late: BinaryHeap::new(),
            frames: Vec::new(),
            free: Vec::new(),
            unpackable: BTreeSet::new(),
            arrivals: 0,
            seq: 0,
            max_ts: 0,
            frame_bytes: 0,
            max_bytes,
            out_bytes: 0,
            overflowed: 0,
            early_ts: 0,
            disordered: 0,
        }
    }

    /// Bytes held: the frames, and [`HELD_BYTES`] a span. Counted by the spans held, not
    /// the slots allocated (which stay at their peak): the count then falls as records
    /// leave, and the slots, at most twice the peak count, stay within the limit.
    fn bytes(&self) -> usize {
        self.frame_bytes
            + (self.sorted.len() + self.late.len()) * HELD_BYTES
            + self.frames.len() * size_of::<Option<HeldFrame>>()
    }

    /// Holds a frame whose `records` records are about to be [`push`](Self::push)ed, with
    /// its compressed payload if it has one; returns its id for them.
    fn hold(&mut self, raw: Arc<Vec<u8>>, packed: Option<Arc<[u8]>>, records: usize) -> u32 {
        if records == 0 {
            return u32::MAX;
        }
        let raw_len = raw.capacity();
        self.frame_bytes += raw_len + packed.as_ref().map_or(0, |p| p.len());
        self.arrivals += 1;
        let frame = HeldFrame {
            raw: Some(raw),
            raw_len,
            arrival: self.arrivals,
            records,
            packed,
        };
        let evictable = frame.packed.is_some();
        let id = match self.free.pop() {
            Some(id) => {
                self.frames[id as usize] = Some(frame);
                id
            }
            None => {
                self.frames.push(Some(frame));
                (self.frames.len() - 1) as u32
            }
        };
        if evictable {
            self.unpackable.insert((self.arrivals, id));
        }
        id
    }

    /// Takes a record of held frame `frame`; one whose stamp is implausible (`moves_window`
    /// false) does not move the window. When the held bytes pass the limit, the newest
    /// frames let go of their raw bytes, then the earliest records leave into `out`.
    fn push(&mut self, frame: u32, span: RecordSpan, moves_window: bool, out: &mut Vec<Released>) {
        let held = Held {
            ts: span.ts,
            seq: self.seq,
            frame,
            len: span.len,
            offset: span.offset,
        };
        self.seq += 1;
        if self.overflowed > 0 && held.ts < self.early_ts {
            self.disordered += 1;
        }
        if moves_window {
            self.max_ts = self.max_ts.max(held.ts);
        }
        // Ties keep arrival order: a span goes after every held one with its stamp.
        let at = self
            .sorted
            .iter()
            .rev()
            .take(SORTED_REACH)
            .position(|h| h.ts <= held.ts);
        match at {
            Some(back) => self.sorted.insert(self.sorted.len() - back, held),
            None if self.sorted.len() <= SORTED_REACH => self.sorted.push_front(held),
            None => self.late.push(Reverse(held)),
        }
        while self.bytes() > self.max_bytes {
            if self.let_go() {
                continue;
            }
            let Some(ts) = self.peek().map(|h| h.ts) else {
                break;
            };
            let Some(r) = self.pop() else { break };
            self.overflowed += 1;
            self.early_ts = self.early_ts.max(ts);
            out.push(r);
        }
    }

    /// Lets go of the raw bytes of the newest frame that keeps its payload, except the
    /// frame of the earliest held record (due first); false when there is none.
    fn let_go(&mut self) -> bool {
        let due = self.peek().map(|h| h.frame);
        let Some(&(arrival, id)) = self
            .unpackable
            .iter()
            .rev()
            .find(|&&(_, id)| Some(id) != due)
        else {
            return false;
        };
        self.unpackable.remove(&(arrival, id));
        if let Some(frame) = self.frames.get_mut(id as usize).and_then(Option::as_mut) {
            if frame.raw.take().is_some() {
                self.frame_bytes -= frame.raw_len;
            }
        }
        true
    }

    /// The earliest held record.
    fn peek(&self) -> Option<&Held> {
        match (self.sorted.front(), self.late.peek()) {
            (Some(s), Some(Reverse(l))) => Some(if l < s { l } else { s }),
            (s, l) => s.or(l.map(|r| &r.0)),
        }
    }

    fn pop(&mut self) -> Option<Released> {
        let from_late = match (self.sorted.front(), self.late.peek()) {
            (Some(s), Some(Reverse(l))) => l < s,
            (None, Some(_)) => true,
            _ => false,
        };
        let held = if from_late {
            self.late.pop()?.0
        } else {
            self.sorted.pop_front()?
        };
        let slot = self.frames.get_mut(held.frame as usize)?;
        let frame = slot.as_mut()?;
        let raw = match &frame.raw {
            Some(raw) => raw.clone(),
            None => {
                // The payload decompressed before: it does again, to the same bytes.
                let raw = frame
                    .packed
                    .as_deref()
                    .and_then(|p| format::decode_frame(p).ok())
                    .map(|(_, raw)| Arc::new(raw))
                    .unwrap_or_default();
                // Held until its last record leaves: a frame is decompressed twice at most.
                self.frame_bytes += frame.raw_len;
                frame.raw = Some(raw.clone());
                raw
            }
        };
        frame.records -= 1;
        if frame.records == 0 {
            self.out_bytes += frame.raw_len;
            self.frame_bytes -= frame.raw_len + frame.packed.as_ref().map_or(0, |p| p.len());
            self.unpackable.remove(&(frame.arrival, held.frame));
            *slot = None;
            self.free.push(held.frame);
        }
        Some(Released {
            raw,
            offset: held.offset,
            len: held.len,
        })
    }

    /// The stamp at or before which held records are due: [`REORDER_WINDOW_NS`] before
    /// the latest plausible stamp seen.
    fn watermark(&self) -> u64 {
        self.max_ts.saturating_sub(REORDER_WINDOW_NS)
    }

    /// Releases records stamped at or before `mark`, in order, until `out` holds `limit`
    /// or frames of more than `max_bytes` the stage no longer holds.
    fn pop_until(&mut self, mark: u64, out: &mut Vec<Released>, limit: usize) {
        while out.len() < limit
            && self.out_bytes <= self.max_bytes
            && self.peek().is_some_and(|h| h.ts <= mark)
        {
            out.extend(self.pop());
        }
    }
}

/// Writes to stdout; a closed pipe (`kellect replay … | head`) ends the output quietly.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::Codec;

    /// A frame of `records` 16-byte pieces (the stage never looks inside them), each
    /// filled with its index, and its zstd payload.
    fn frame(records: usize) -> (Arc<Vec<u8>>, Option<Arc<[u8]>>) {
        let raw: Vec<u8> = (0..records).flat_map(|i| [i as u8; 16]).collect();
        let header = FrameHeader {
            first_ts: 0,
            last_ts: 0,
            record_count: records as u32,
            raw_len: raw.len() as u32,
            codec: Codec::Zstd,
            seq: 0,
        };
        let mut zstd = zstd::bulk::Compressor::new(3).unwrap();
        let payload = format::encode_frame(&header, &raw, &mut zstd).unwrap();
        (Arc::new(raw), Some(Arc::from(payload)))
    }

    fn span(ts: u64, i: usize) -> RecordSpan {
        RecordSpan {
            ts,
            offset: i * 16,
            len: 16,
        }
    }

    /// Feeds frames of (stamp per record) through a stage of `max_bytes`; returns each
    /// released record as (its index in its frame, its bytes' fill), in order, and how
    /// many left early. The stage's count of held bytes must come back to nothing.
    fn run(frames: &[Vec<u64>], max_bytes: usize) -> (Vec<(usize, u8)>, u64) {
        let mut stage = Reorder::new(max_bytes);
        let mut out = Vec::new();
        for stamps in frames {
            let (raw, packed) = frame(stamps.len());
            let id = stage.hold(raw, packed, stamps.len());
            for (i, &ts) in stamps.iter().enumerate() {
                stage.push(id, span(ts, i), true, &mut out);
                let mark = stage.watermark();
                stage.pop_until(mark, &mut out, usize::MAX);
                // As the engine does once it has processed what left.
                stage.out_bytes = 0;
            }
        }
        while stage.peek().is_some() {
            stage.pop_until(u64::MAX, &mut out, usize::MAX);
            stage.out_bytes = 0;
        }
        let got = out
            .iter()
            .map(|r| {
                let bytes = r.bytes();
                assert!(bytes.len() == 16 && bytes.iter().all(|&b| b == bytes[0]));
                (r.offset / 16, bytes[0])
            })
            .collect::<Vec<_>>();
        assert_eq!(stage.frame_bytes, 0);
        assert_eq!(
            stage.bytes(),
            stage.frames.len() * size_of::<Option<HeldFrame>>()
        );
        (got, stage.overflowed)
    }

    #[test]
    fn records_leave_in_stamp_order_ties_in_arrival_order() {
        // Nearly ordered (a few places behind), one far behind (past SORTED_REACH) and
        // ties: the order is a stable sort by stamp, as a heap of whole records gave.
        let mut stamps: Vec<u64> = (0..200).map(|i| 1000 + i * 10).collect();
        stamps.swap(50, 52);
        stamps[100] = 1003;
        stamps[150] = 1005;
        stamps[151] = 1005;
        stamps[120] = 1010;
        let (got, overflowed) = run(std::slice::from_ref(&stamps), 1 << 20);
        assert_eq!(overflowed, 0);
        let mut expected: Vec<usize> = (0..stamps.len()).collect();
        expected.sort_by_key(|&i| stamps[i]);
        let order: Vec<usize> = got
            .iter()
            .map(|&(i, b)| {
                assert_eq!(i as u8, b, "a record's own bytes");
                i
            })
            .collect();
        assert_eq!(order, expected);
    }

    /// Records whose frames the stage has let go of keep those frames' bytes until they
    /// are processed: a release stops past the stage's limit of them (a storm of frames
    /// of one record each held 32 of 64 MiB at once).
    #[test]
    fn a_release_stops_past_the_limit_of_let_go_frames() {
        let mut stage = Reorder::new(1 << 20);
        let mut out = Vec::new();
        for _ in 0..10 {
            let (raw, packed) = frame(1);
            let id = stage.hold(raw, packed, 1);
            stage.push(id, span(5, 0), true, &mut out);
        }
        assert!(out.is_empty());
        stage.max_bytes = 40;
        stage.pop_until(u64::MAX, &mut out, usize::MAX);
        assert_eq!(out.len(), 3, "16-byte frames: stops once past 40 bytes");
        stage.out_bytes = 0;
        stage.pop_until(u64::MAX, &mut out, usize::MAX);
        assert_eq!(out.len(), 6);
    }

    /// Hostile stamps (descending, all equal, wildly apart) under limits from roomy to
    /// nothing: every record leaves once with its own bytes, and the stage's count of held
    /// bytes comes back to nothing.
    #[test]
    fn hostile_stamps_leave_every_record_once() {
        let patterns: [fn(u64, u64) -> u64; 4] = [
            |f, i| u64::MAX - f * 1000 - i,
            |_, _| 7,
            |f, i| (f * 1000 + i).wrapping_mul(0x9e37_79b9_7f4a_7c15),
            |f, i| {
                if i % 2 == 0 {
                    f * 1000 + i
                } else {
                    u64::MAX - i
                }
            },
        ];
        for pattern in patterns {
            let frames: Vec<Vec<u64>> = (0..20u64)
                .map(|f| (0..1000).map(|i| pattern(f, i)).collect())
                .collect();
            for max_bytes in [1 << 24, 1 << 18, 1 << 12, 0] {
                let (got, _) = run(&frames, max_bytes);
                assert_eq!(got.len(), 20_000);
                let mut seen = vec![0u32; 1000];
                for (i, b) in got {
                    assert_eq!(i as u8, b, "a record's own bytes");
                    seen[i] += 1;
                }
                assert!(seen.iter().all(|&n| n == 20), "each record once");
            }
        }
    }

    #[test]
    fn frames_let_go_of_their_bytes_before_records_leave_early() {
        // Ten frames of 4,000 records within one window: 640 KB of raw bytes and 2.5 MB of
        // spans. A limit that holds the spans but not the raw bytes keeps the order (frames
        // are decompressed again); one that holds neither lets the earliest leave early.
        let frames: Vec<Vec<u64>> = (0..10u64)
            .map(|f| (0..4000).map(|i| f * 4000 + i).collect())
            .collect();
        let (got, overflowed) = run(&frames, 3 << 20);
        assert_eq!(overflowed, 0);
        assert_eq!(got.len(), 40_000);
        assert!(got.iter().all(|&(i, b)| i as u8 == b));
        let (small, overflowed) = run(&frames, 1 << 20);
        assert!(overflowed > 0);
        assert_eq!(small, got, "in order, arrival order being stamp order here");
    }

    #[test]
    fn records_arriving_behind_one_that_left_early_are_counted_out_of_order() {
        let mut stage = Reorder::new(1 << 20);
        let mut out = Vec::new();
        // In stamp order, past the limit: records leave early, none out of order.
        for f in 0..10u64 {
            let (raw, packed) = frame(4000);
            let id = stage.hold(raw, packed, 4000);
            for i in 0..4000 {
                stage.push(id, span(f * 4000 + i as u64, i), true, &mut out);
            }
        }
        assert!(stage.overflowed > 0);
        assert_eq!(stage.disordered, 0);
        // Three stamped before the latest that left (one tied with it, not counted).
        let (raw, packed) = frame(4);
        let id = stage.hold(raw, packed, 4);
        let early = stage.early_ts;
        for (i, ts) in [0, early - 1, early, early - 2].into_iter().enumerate() {
            stage.push(id, span(ts, i), true, &mut out);
        }
        assert_eq!(stage.disordered, 3);
    }
}
