//! `kellect slice`: a smaller, closed trace cut from a recording by the replay filters
//! (time range, pids, comms, event types), such that replaying it with no filter shows
//! exactly the events that replaying the original with those filters shows.
//!
//! How: the original is replayed twice by the real [`Engine`] (events view), with an
//! [`EventTap`] that sees every event in processing order and whether the replay shows it.
//! 1. The first pass finds the first and the last event shown, the processes they belong
//!    to, and the forks between them.
//! 2. The slice keeps the processes that show events plus, through every fork between the
//!    first and the last shown event, their parents (a child starts as a copy of its
//!    parent's state). The second pass writes, from the first shown event to the last, in
//!    processing order, each record of those processes: as it was when shown, otherwise
//!    flagged [`REC_F_CONTEXT`] (replay applies it to its state and never shows it). It
//!    opens the slice with the blocks every segment opens with, the snapshot and fd table
//!    being the replay's state just before the first shown event.
//!
//! Limits: the FdTable block has no close-on-exec flag, so an fd open at the slice's start
//! that an exec in the slice closes keeps its name in the slice (only an event using that
//! fd number after the exec without opening it again, which the kernel refused, differs);
//! the records view aggregates what the slice holds (its records are not the original's);
//! the original's statistics blocks are not copied (they count the whole recording), their
//! clock samples are.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use sha2::{Digest, Sha256};
use zerocopy::FromBytes;

use crate::abi::{RecordPrefix, REC_F_CONTEXT};
use crate::format::{self, BlockKind, Codec, FileHeader, FrameHeader, SegmentWriter, Storage};
use crate::meta::{self, ClockSample, FdTable, ProcEntry, ProcFds, ProcSnapshot};
use crate::replayer::input::decode::{Body, Event};
use crate::replayer::render::output::{OutputFormat, Sink};
use crate::replayer::state::context::Context;
use crate::replayer::state::ProcessTable;
use crate::replayer::views::records::RecordsConfig;
use crate::replayer::{
    trace, DecodedFrame, Engine, EventTap, Filter, MemoryBudget, ReplayConfig, View,
};

/// Raw bytes collected per data frame of the slice (the recorder's default frame size).
const FRAME_RAW: usize = 1 << 20;
/// zstd level of the slice's frames and metadata (the recorder's default).
const LEVEL: i32 = 3;
/// The most processes and forks the first pass tracks; past it the slice keeps the
/// records of every process between its first and last event (larger, still exact).
const MAX_TRACKED: usize = 1 << 20;

/// What to cut, from which recording, into which file.
#[derive(Debug, Clone)]
pub struct SliceConfig {
    /// The segment files of one recording (as [`trace::find_inputs`] expands them).
    pub inputs: Vec<PathBuf>,
    /// The slice to write: a new file (mode 0600), never reached through a symbolic link.
    pub output: PathBuf,
    /// Replace `output` if it is a regular file (a new file renamed over it); anything
    /// else there (a symlink, device, FIFO, directory) is refused either way.
    pub overwrite: bool,
    /// The events the slice keeps: those `kellect replay --view events` with this filter
    /// shows.
    pub filter: Filter,
    /// The memory the replay passes may use (`--max-memory`), as for `replay`.
    pub budget: MemoryBudget,
}

/// What a slice holds.
#[derive(Debug, Default)]
pub struct SliceReport {
    /// Events the slice shows when replayed (the original's, with the filter).
    pub events: u64,
    /// Records kept only as context for replay's state (flagged, never shown).
    pub context_records: u64,
    /// Data frames written.
    pub frames: u64,
    /// Bytes of the slice file.
    pub bytes: u64,
    /// The original's replay warnings (damage, losses), as `replay` prints them.
    pub warnings: Vec<String>,
}

/// Cuts the slice `cfg` describes. Errors: the inputs are not one recording, they do not
/// open, the filter selects no event, the output exists (without `overwrite`) or is not a
/// regular file, or writing fails (the partial file is removed).
pub fn slice(cfg: &SliceConfig) -> Result<SliceReport> {
    let recordings = trace::open_recordings_within(&cfg.inputs, cfg.budget)?;
    let recording = match recordings.as_slice() {
        [one] => one,
        [] => bail!("no recording to slice"),
        many => bail!(
            "slice cuts one recording at a time; the files given hold {} (slice each one \
             on its own)",
            many.len()
        ),
    };
    check_output(&cfg.output, cfg.overwrite)?;
    check_not_an_input(&cfg.output, recording, &cfg.inputs)?;
    let replay_cfg = ReplayConfig {
        inputs: cfg.inputs.clone(),
        format: OutputFormat::JsonMin,
        view: View::Events,
        filter: cfg.filter.clone(),
        records: RecordsConfig::default(),
        budget: cfg.budget,
    };

    let mut survey = Survey::default();
    let raws = RefCell::new(RawQueue::default());
    let warnings = run_pass(&replay_cfg, recording, &mut survey, &raws)?;
    let (Some(first), Some(last)) = (survey.first, survey.last) else {
        bail!(
            "the filters select no event of the recording{}: there is nothing to slice",
            if warnings.is_empty() {
                ""
            } else {
                " (see the warnings)"
            }
        );
    };
    let keep = survey.kept_processes(last);

    let file = OutputFile::create(&cfg.output, cfg.overwrite)?;
    let header = FileHeader {
        recording_id: slice_id(recording.id, &survey, cfg),
        segment_index: 0,
        created_realtime_ns: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64),
    };
    let writer = SegmentWriter::new(file.storage()?, &header, LEVEL)
        .with_context(|| format!("writing {}", cfg.output.display()))?;
    let mut cutter = Cutter {
        index: 0,
        first,
        last,
        keep,
        writer: Some(writer),
        opening: opening_blocks(recording, cfg.budget)?,
        clocks: clocks_around(recording, survey.first_ts, survey.last_ts),
        original: original_snapshot(recording, cfg.budget),
        seen: HashMap::new(),
        seen_cut: HashSet::new(),
        max_seen: (cfg.budget.process_bytes() / crate::replayer::state::PROC_BYTES).max(1),
        frame: Vec::new(),
        frame_records: 0,
        frame_ts: (u64::MAX, 0),
        raws: &raws,
        report: SliceReport::default(),
    };
    raws.borrow_mut().clear();
    run_pass(&replay_cfg, recording, &mut cutter, &raws)?;
    cutter.flush_frame()?;
    let mut report = std::mem::take(&mut cutter.report);
    let writer = cutter.writer.take().expect("the writer is kept until here");
    let storage = writer
        .finish()
        .with_context(|| format!("writing {}", cfg.output.display()))?;
    report.bytes = storage.committed();
    drop(storage);
    file.publish()?;
    report.warnings = warnings;
    Ok(report)
}

/// Raw records decoded but not processed yet, by (stamp, thread), in arrival order: the
/// engine processes records with the same stamp and thread in arrival order, so the front
/// of a key's queue is the record of the event the tap is told of.
#[derive(Default)]
struct RawQueue {
    by_key: HashMap<(u64, u32), VecDeque<Vec<u8>>>,
}

impl RawQueue {
    fn push(&mut self, record: &[u8]) {
        if let Some(h) = crate::abi::peek_header(record) {
            self.by_key
                .entry((h.ts.get(), h.tid.get()))
                .or_default()
                .push_back(record.to_vec());
        }
    }

    fn take(&mut self, event: &Event) -> Option<Vec<u8>> {
        let key = (event.common.ts, event.common.tid);
        let queue = self.by_key.get_mut(&key)?;
        let raw = queue.pop_front();
        if queue.is_empty() {
            self.by_key.remove(&key);
        }
        raw
    }

    fn clear(&mut self) {
        self.by_key.clear();
    }
}

/// Feeds the recording's blocks in file order to an engine with `tap`, as `replay` does;
/// the raw bytes of each frame's records go to `raws` for the tap. Returns the replay's
/// warnings.
fn run_pass(
    cfg: &ReplayConfig,
    recording: &trace::Recording,
    tap: &mut dyn EventTap,
    raws: &RefCell<RawQueue>,
) -> Result<Vec<String>> {
    let mut sink = Sink::new(None, cfg.format, None);
    let mut engine = Engine::new(cfg, &mut sink).with_tap(tap);
    let mut warnings: Vec<String> = crate::replayer::info::damage_warnings(recording);
    warnings.extend(crate::replayer::info::loss_warning(recording));
    'segments: for segment in &recording.segments {
        for block in &segment.blocks {
            let located = |what: String| {
                format!(
                    "{}: {} block at byte {}: {what}",
                    segment.path.display(),
                    block.kind,
                    block.offset
                )
            };
            if block.kind == BlockKind::Frame {
                let frame = decode_frame(segment, block, cfg.budget, raws, &located);
                if !engine.frames(vec![frame])? {
                    break 'segments;
                }
            } else if block.kind.is_metadata() {
                engine.meta_block(block.kind, block.flags, segment.payload(block), || {
                    located(String::new())
                })?;
            }
        }
    }
    engine.finish()?;
    let mut report = std::mem::take(&mut engine.report);
    report.summarize();
    warnings.extend(report.warnings);
    Ok(warnings)
}

/// One frame decoded as `replay` decodes it (the same size limit, the same problems),
/// its records' raw bytes queued in `raws`.
fn decode_frame(
    segment: &trace::Segment,
    block: &trace::BlockLoc,
    budget: MemoryBudget,
    raws: &RefCell<RawQueue>,
    located: &dyn Fn(String) -> String,
) -> DecodedFrame {
    let payload = segment.payload(block);
    let failed = DecodedFrame::failed;
    if let Ok(h) = FrameHeader::decode(payload) {
        if u64::from(h.raw_len) > budget.frame_batch_raw() {
            return failed(located(format!(
                "{} bytes decoded is over the frame limit of the memory budget ({} bytes; \
                 --max-memory raises it); the frame is skipped",
                h.raw_len,
                budget.frame_batch_raw()
            )));
        }
    }
    let (header, raw) = match format::decode_frame(payload) {
        Ok(decoded) => decoded,
        Err(e) => return failed(located(format!("{e}; the frame is skipped"))),
    };
    let frame = crate::replayer::decode_raw_frame(Some(header.first_ts), raw, located);
    // Each intact record, in order, up to the first malformed one.
    let mut raws = raws.borrow_mut();
    for record in frame.record_bytes() {
        raws.push(record);
    }
    frame
}

/// The first pass: where the shown events are and which processes they need.
#[derive(Default)]
struct Survey {
    index: u64,
    first: Option<u64>,
    last: Option<u64>,
    /// The smallest and largest stamp of a shown event (boot-time ns).
    first_ts: u64,
    last_ts: u64,
    /// Processes with a shown event.
    shown: HashSet<u32>,
    /// (processing index, parent, child) of each fork from the first shown event on.
    forks: Vec<(u64, u32, u32)>,
    /// Too many processes or forks to track: keep every process.
    all: bool,
}

impl EventTap for Survey {
    fn event(&mut self, event: &Event, shown: bool, _: &ProcessTable, _: &Context) -> Result<()> {
        let i = self.index;
        self.index += 1;
        let pid = event.common.pid;
        if shown {
            if self.first.is_none() {
                self.first = Some(i);
                self.first_ts = event.common.ts;
            }
            self.last = Some(i);
            self.first_ts = self.first_ts.min(event.common.ts);
            self.last_ts = self.last_ts.max(event.common.ts);
            if !self.all {
                self.shown.insert(pid);
            }
        }
        if let Body::Fork { child_pid, .. } = event.body {
            if self.first.is_some() && child_pid != pid && !self.all {
                self.forks.push((i, pid, child_pid));
            }
        }
        if self.shown.len() > MAX_TRACKED || self.forks.len() > MAX_TRACKED {
            self.all = true;
            self.shown = HashSet::new();
            self.forks = Vec::new();
        }
        Ok(())
    }
}

impl Survey {
    /// The processes whose records the slice keeps (`None`: all): those with a shown
    /// event, and the parent of each kept process forked up to the last shown event.
    fn kept_processes(&self, last: u64) -> Option<HashSet<u32>> {
        if self.all {
            return None;
        }
        let mut keep = self.shown.clone();
        for &(_, parent, child) in self.forks.iter().rev().filter(|(i, _, _)| *i <= last) {
            if keep.contains(&child) {
                keep.insert(parent);
            }
        }
        Some(keep)
    }
}

/// The second pass: writes the slice.
struct Cutter<'a> {
    index: u64,
    first: u64,
    last: u64,
    keep: Option<HashSet<u32>>,
    /// `None` once finished.
    writer: Option<SegmentWriter<FileStorage>>,
    /// The original's opening blocks other than Snapshot and FdTable: (kind, raw payload).
    opening: Vec<(BlockKind, Vec<u8>)>,
    clocks: Vec<ClockSample>,
    /// The original's first snapshot, by pid: what is known of processes alive then; and
    /// the pids whose argv it holds cut.
    original: (HashMap<u32, ProcEntry>, HashSet<u32>),
    /// What the events so far say of each process (for processes started later).
    seen: HashMap<u32, ProcEntry>,
    /// The pids of `seen` whose argv is cut (the snapshot's `argv_cut`).
    seen_cut: HashSet<u32>,
    max_seen: usize,
    frame: Vec<u8>,
    frame_records: u32,
    frame_ts: (u64, u64),
    raws: &'a RefCell<RawQueue>,
    report: SliceReport,
}

impl EventTap for Cutter<'_> {
    fn event(
        &mut self,
        event: &Event,
        shown: bool,
        table: &ProcessTable,
        ctx: &Context,
    ) -> Result<()> {
        let i = self.index;
        self.index += 1;
        let raw = self.raws.borrow_mut().take(event);
        if i == self.first {
            self.write_opening(table, ctx)?;
        }
        if (self.first..=self.last).contains(&i) {
            // Cgroup records name the cgroups of later events: always kept, as context.
            let kept = shown
                || matches!(event.body, Body::Cgroup(_))
                || self
                    .keep
                    .as_ref()
                    .is_none_or(|k| k.contains(&event.common.pid));
            if kept {
                let Some(mut raw) = raw else {
                    bail!(
                        "internal error: the record of an event (pid {}, stamp {}) was not \
                         found again",
                        event.common.pid,
                        event.common.ts
                    );
                };
                // A compact record refers to records the slice may not hold: it is
                // written whole, with what the replay filled in. One whose references
                // the replay could not all follow stays as it is, so that the slice's
                // replay says so again rather than showing the gaps as recorded.
                if let Some(sc) = syscall_filled_in(&event.body) {
                    let c = &event.common;
                    let facts = crate::abi::Facts {
                        ppid: c.ppid.into(),
                        uid: c.uid.into(),
                        gid: c.gid.into(),
                        comm: comm_bytes(&c.comm),
                    };
                    if let Some(whole) = crate::abi::expand_compact(&raw, facts, sc.inode) {
                        raw = whole;
                    }
                }
                if !shown {
                    mark_context(&mut raw);
                    self.report.context_records += 1;
                } else {
                    self.report.events += 1;
                }
                self.push_record(&raw, event.common.ts)?;
            }
        }
        if i < self.first {
            self.learn(event);
        }
        Ok(())
    }
}

/// The syscall of `body` when replay filled in all its record left out (or it left out
/// nothing).
fn syscall_filled_in(body: &Body) -> Option<&crate::replayer::input::decode::Syscall> {
    match body {
        Body::Syscall(sc) if sc.compact.is_none() => Some(sc),
        _ => None,
    }
}

impl Cutter<'_> {
    fn writer(&mut self) -> &mut SegmentWriter<FileStorage> {
        self.writer.as_mut().expect("writing until finished")
    }

    /// HostInfo first, then the snapshot, fds and cgroups as the replay's state holds them
    /// just before the first shown event, then the rest of the original's opening blocks and
    /// the clock samples: what every segment opens with.
    fn write_opening(&mut self, table: &ProcessTable, ctx: &Context) -> Result<()> {
        let at = self.clocks.first().copied().unwrap_or(ClockSample {
            boot_ns: ctx.start_boot_ns(),
            realtime_ns: ctx.realtime_ns(ctx.start_boot_ns()),
        });
        let mut processes = Vec::new();
        let mut argv_cut = Vec::new();
        let mut fds = Vec::new();
        for (pid, cwd, open) in table.processes() {
            // What the events said last, else the original snapshot.
            let (known, cut) = match self.seen.get(&pid) {
                Some(entry) => (Some(entry), &self.seen_cut),
                None => (self.original.0.get(&pid), &self.original.1),
            };
            if cut.contains(&pid) {
                argv_cut.push(pid);
            }
            let mut entry = known.cloned().unwrap_or_else(|| unknown_process(pid));
            entry.cwd = cwd.map(str::to_owned);
            processes.push(entry);
            if !open.is_empty() {
                fds.push(ProcFds {
                    pid,
                    fds: open
                        .iter()
                        .map(|(fd, e)| (*fd, e.label().unwrap_or_default().to_owned()))
                        .collect(),
                });
            }
        }
        argv_cut.sort_unstable();
        let snapshot = ProcSnapshot {
            taken: at,
            processes,
            argv_cut,
        };
        let opening = std::mem::take(&mut self.opening);
        for (kind, payload) in &opening {
            self.writer().push_meta(*kind, payload, true)?;
            if *kind == BlockKind::HostInfo {
                let snapshot = meta::encode(&snapshot);
                let fds = meta::encode(&FdTable {
                    processes: fds.clone(),
                });
                self.writer()
                    .push_meta(BlockKind::Snapshot, &snapshot, true)?;
                self.writer().push_meta(BlockKind::FdTable, &fds, true)?;
                let cgroups = meta::encode(&table.cgroups_now());
                self.writer()
                    .push_meta(BlockKind::Cgroups, &cgroups, true)?;
            }
        }
        for clock in std::mem::take(&mut self.clocks) {
            self.writer()
                .push_meta(BlockKind::ClockSync, &meta::encode(&clock), false)?;
        }
        Ok(())
    }

    /// Keeps what an event says of its process, for a snapshot entry of a process the
    /// original snapshot does not have.
    fn learn(&mut self, event: &Event) {
        let c = &event.common;
        match &event.body {
            Body::Exit {
                group_dead: true, ..
            } => {
                self.seen.remove(&c.pid);
                self.seen_cut.remove(&c.pid);
                return;
            }
            Body::Fork {
                child_pid,
                child_comm,
                ..
            } if *child_pid != c.pid => {
                let mut child = self.entry(c.pid).clone();
                let cut = self.seen_cut.contains(&c.pid);
                child.pid = *child_pid;
                child.ppid = c.pid;
                child.comm = child_comm.clone();
                child.start_boot_ns = c.ts;
                self.bounded_insert(child, cut);
                return;
            }
            _ => {}
        }
        let entry = self.entry(c.pid);
        entry.ppid = c.ppid;
        entry.uid = c.uid;
        entry.gid = c.gid;
        entry.comm = c.comm.to_string();
        if let Body::Exec {
            filename,
            argv,
            argv_truncated,
            ..
        } = &event.body
        {
            entry.exe = Some(filename.clone());
            entry.argv = argv.clone();
            // The image's start: a replay of the slice names the process by the exec id
            // the original's replay gives it (see `crate::replayer::state::execid`).
            entry.start_boot_ns = c.ts;
            if *argv_truncated {
                self.seen_cut.insert(c.pid);
            } else {
                self.seen_cut.remove(&c.pid);
            }
        }
    }

    fn entry(&mut self, pid: u32) -> &mut ProcEntry {
        if !self.seen.contains_key(&pid) {
            let start = self
                .original
                .0
                .get(&pid)
                .cloned()
                .unwrap_or_else(|| unknown_process(pid));
            let cut = self.original.1.contains(&pid);
            self.bounded_insert(start, cut);
        }
        self.seen.get_mut(&pid).expect("inserted above")
    }

    /// Bounded like the replay's process table: past `max_seen` entries, the process with
    /// the lowest pid that is not the one inserted goes (a rule of the trace alone).
    /// `cut`: its argv is cut.
    fn bounded_insert(&mut self, entry: ProcEntry, cut: bool) {
        let pid = entry.pid;
        self.seen.insert(pid, entry);
        if cut {
            self.seen_cut.insert(pid);
        } else {
            self.seen_cut.remove(&pid);
        }
        if self.seen.len() > self.max_seen {
            if let Some(&oldest) = self.seen.keys().filter(|&&p| p != pid).min() {
                self.seen.remove(&oldest);
                self.seen_cut.remove(&oldest);
            }
        }
    }

    fn push_record(&mut self, raw: &[u8], ts: u64) -> Result<()> {
        if !self.frame.is_empty() && self.frame.len() + raw.len() > FRAME_RAW {
            self.flush_frame()?;
        }
        self.frame.extend_from_slice(raw);
        self.frame_records += 1;
        self.frame_ts = (self.frame_ts.0.min(ts), self.frame_ts.1.max(ts));
        Ok(())
    }

    fn flush_frame(&mut self) -> Result<()> {
        if self.frame_records == 0 {
            return Ok(());
        }
        let frame = std::mem::take(&mut self.frame);
        let (first, last) = self.frame_ts;
        let count = self.frame_records;
        self.writer()
            .push_frame(&frame, first, last, count, Codec::Zstd)?;
        self.report.frames += 1;
        self.frame = frame;
        self.frame.clear();
        self.frame_records = 0;
        self.frame_ts = (u64::MAX, 0);
        Ok(())
    }
}

/// A snapshot entry of a process known only by its pid.
fn unknown_process(pid: u32) -> ProcEntry {
    ProcEntry {
        pid,
        ppid: 0,
        uid: 0,
        gid: 0,
        comm: String::new(),
        exe: None,
        argv: Vec::new(),
        cwd: None,
        start_boot_ns: 0,
    }
}

/// A task name as the kernel's NUL-padded `comm` bytes (what replay showed of them, back
/// to the bytes: `bytes::raw` reverses `bytes::text`), cut at 15 bytes.
fn comm_bytes(comm: &str) -> [u8; crate::abi::COMM_LEN] {
    let mut out = [0u8; crate::abi::COMM_LEN];
    let bytes = crate::replayer::bytes::raw(comm);
    let n = bytes.len().min(crate::abi::COMM_LEN - 1);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}

/// Sets the context flag in a record's header: replay applies it, never shows it.
fn mark_context(raw: &mut [u8]) {
    if let Ok((header, _)) = RecordPrefix::mut_from_prefix(raw) {
        header.flags.set(header.flags.get() | REC_F_CONTEXT);
    }
}

/// The metadata blocks the original's first segment opens with (before its first frame),
/// decompressed, except the snapshot and fd table, which the slice writes anew.
fn opening_blocks(
    recording: &trace::Recording,
    budget: MemoryBudget,
) -> Result<Vec<(BlockKind, Vec<u8>)>> {
    let Some(segment) = recording.segments.first() else {
        bail!("the recording has no segment");
    };
    let mut out = Vec::new();
    for block in &segment.blocks {
        match block.kind {
            BlockKind::Frame => break,
            BlockKind::HostInfo
            | BlockKind::Accounts
            | BlockKind::Mounts
            | BlockKind::Interfaces
            | BlockKind::Capture
            | BlockKind::FileFacts => {
                let payload = segment.payload(block);
                let raw = if block.flags & format::BLOCK_FLAG_COMPRESSED != 0 {
                    match format::decompress_meta_limited(payload, budget.meta_limits().max_payload)
                    {
                        Ok(raw) => raw,
                        Err(_) => continue,
                    }
                } else {
                    payload.to_vec()
                };
                out.push((block.kind, raw));
            }
            _ => {}
        }
    }
    if !out.iter().any(|(kind, _)| *kind == BlockKind::HostInfo) {
        bail!(
            "{} has no host information block before its first frame: it cannot be sliced",
            segment.path.display()
        );
    }
    Ok(out)
}

/// The original's clock samples from the last one at or before `first` to the first one
/// at or after `last` (boot-time ns): every sample the slice's events may be timed by.
fn clocks_around(recording: &trace::Recording, first: u64, last: u64) -> Vec<ClockSample> {
    let clocks = &recording.clocks;
    let start = clocks
        .partition_point(|c| c.boot_ns <= first)
        .saturating_sub(1);
    let end = (clocks.partition_point(|c| c.boot_ns < last) + 1).min(clocks.len());
    clocks.get(start..end).unwrap_or_default().to_vec()
}

/// The processes of the original's first snapshot, by pid.
fn original_snapshot(
    recording: &trace::Recording,
    budget: MemoryBudget,
) -> (HashMap<u32, ProcEntry>, HashSet<u32>) {
    let Some(segment) = recording.segments.first() else {
        return Default::default();
    };
    let limits = budget.meta_limits();
    for block in segment
        .blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Snapshot)
    {
        let payload = segment.payload(block);
        let raw = if block.flags & format::BLOCK_FLAG_COMPRESSED != 0 {
            match format::decompress_meta_limited(payload, limits.max_payload) {
                Ok(raw) => raw,
                Err(_) => continue,
            }
        } else {
            payload.to_vec()
        };
        if let Ok(s) = meta::decode_limited::<ProcSnapshot>(&raw, &limits) {
            let processes = s.processes.into_iter().map(|p| (p.pid, p)).collect();
            return (processes, s.argv_cut.into_iter().collect());
        }
    }
    Default::default()
}

/// A recording id for the slice: from the original's, the filter and the events kept, so
/// two different slices of a recording never share an id.
fn slice_id(original: u64, survey: &Survey, cfg: &SliceConfig) -> u64 {
    let mut h = Sha256::new();
    h.update(b"kellect slice");
    h.update(original.to_le_bytes());
    h.update(format!("{:?}", cfg.filter).as_bytes());
    h.update(survey.first.unwrap_or(0).to_le_bytes());
    h.update(survey.last.unwrap_or(0).to_le_bytes());
    let digest = h.finalize();
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(id)
}

/// Refuses an output that is not a regular file (a symlink, even dangling, a device, a
/// FIFO, a directory), and an existing one without `overwrite`.
fn check_output(path: &Path, overwrite: bool) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot examine {}", path.display())),
        Ok(m) if m.file_type().is_file() => {
            if overwrite {
                Ok(())
            } else {
                bail!(
                    "{} already exists (-f replaces it with a new file)",
                    path.display()
                )
            }
        }
        Ok(m) => bail!(
            "{} is {}: kellect writes traces only to regular files and never through links",
            path.display(),
            if m.file_type().is_symlink() {
                "a symbolic link"
            } else if m.is_dir() {
                "a directory"
            } else {
                "not a regular file (a device, FIFO or socket)"
            }
        ),
    }
}

/// Refuses an output that is one of the files being sliced (a segment of `recording`, or
/// one of `inputs`, by device and inode: any name or hard link of it), `-f` or not: a slice
/// never replaces the evidence it is cut from.
fn check_not_an_input(path: &Path, recording: &trace::Recording, inputs: &[PathBuf]) -> Result<()> {
    use std::os::unix::fs::MetadataExt;
    let Ok(out) = std::fs::metadata(path) else {
        return Ok(());
    };
    let sources = recording.segments.iter().map(|s| s.path.as_path());
    for source in sources.chain(inputs.iter().map(PathBuf::as_path)) {
        if let Ok(m) = std::fs::metadata(source) {
            if (m.dev(), m.ino()) == (out.dev(), out.ino()) {
                bail!(
                    "{} is {}, which is being sliced: a slice never replaces its own input \
                     (-f or not); choose another file",
                    path.display(),
                    source.display()
                );
            }
        }
    }
    Ok(())
}

/// The slice is written to a new file beside the output (`O_CREAT|O_EXCL|O_NOFOLLOW`,
/// mode 0600) and takes the output's name only when complete: linked to it (which fails
/// if anything appeared there meanwhile) or, with `overwrite`, renamed over a regular
/// file. Dropped before [`publish`](Self::publish), it removes the partial file.
struct OutputFile {
    path: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    overwrite: bool,
    published: bool,
}

impl OutputFile {
    fn create(path: &Path, overwrite: bool) -> Result<OutputFile> {
        let name = path
            .file_name()
            .with_context(|| format!("{} does not name a file", path.display()))?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let mut temp_name = std::ffi::OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(".kellect-{}-{nanos:x}", std::process::id()));
        let temp = path.with_file_name(temp_name);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&temp)
            .with_context(|| format!("cannot create {}", temp.display()))?;
        Ok(OutputFile {
            path: path.to_owned(),
            temp,
            file: Some(file),
            overwrite,
            published: false,
        })
    }

    fn storage(&self) -> Result<FileStorage> {
        let file = self.file.as_ref().expect("open until published");
        Ok(FileStorage {
            file: io::BufWriter::with_capacity(1 << 20, file.try_clone()?),
            committed: 0,
            path: self.temp.clone(),
        })
    }

    fn publish(mut self) -> Result<()> {
        drop(self.file.take());
        check_output(&self.path, self.overwrite)?;
        let placed = if self.overwrite {
            std::fs::rename(&self.temp, &self.path)
        } else {
            std::fs::hard_link(&self.temp, &self.path)
                .and_then(|()| std::fs::remove_file(&self.temp))
        };
        placed.with_context(|| format!("cannot create {}", self.path.display()))?;
        self.published = true;
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if !self.published {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// A [`Storage`] appending to a file through a buffer; [`close`](Storage::close) flushes
/// and syncs it.
struct FileStorage {
    file: io::BufWriter<File>,
    committed: u64,
    path: PathBuf,
}

impl Storage for FileStorage {
    fn committed(&self) -> u64 {
        self.committed
    }

    fn append_with(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> io::Result<()> {
        let mut block = vec![0u8; len];
        fill(&mut block);
        self.file
            .write_all(&block)
            .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        self.committed += len as u64;
        Ok(())
    }

    fn close(&mut self) -> io::Result<u64> {
        self.file.flush()?;
        self.file.get_ref().sync_all()?;
        Ok(self.committed)
    }
}
