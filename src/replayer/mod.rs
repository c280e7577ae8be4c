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
//! Batches have a fixed size and every decision depends only on the trace's bytes in their
//! order, so the output is byte-identical for any thread count — and `kellect live`, which
//! feeds the same blocks to the same engine as they are recorded, prints what a later
//! `kellect replay` of its trace prints.

pub mod context;
pub mod decode;
pub mod events;
pub mod info;
pub mod legend;
pub mod output;
pub mod protocols;
pub mod records;
pub mod state;
pub mod symbols;
pub mod trace;
pub mod verify;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io;
use std::path::PathBuf;

use anyhow::Result;
use rayon::prelude::*;
use serde_json::{Map, Value};

use crate::format::{self, BlockKind};
use crate::meta::{self, FdTable, ProcSnapshot};
use context::{Applied, Context};
use decode::Event;
use events::EventView;
pub use output::OutputFormat;
use output::{Rendered, Sink};
pub use records::RecordsConfig;
use records::RecordsView;
use state::{ProcessTable, Resolved};
use symbols::Arch;

/// Frames decoded in parallel per step: a constant, so output never depends on threads.
pub const FRAMES_PER_BATCH: usize = 16;
/// How far (event time) a record may trail a later-stamped one and still be put in order.
const REORDER_WINDOW_NS: u64 = 250_000_000;

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
        Some(TimeBound::Absolute(t.unix_timestamp_nanos() as i64))
    }

    fn resolve(self, start_ns: i64) -> i64 {
        match self {
            TimeBound::Absolute(ns) => ns,
            TimeBound::Relative(s) => start_ns.saturating_add((s * 1e9) as i64),
        }
    }
}

/// Which events to show.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Event types (`process_exec`, …); empty: all.
    pub event_types: Vec<String>,
    pub pids: Vec<u32>,
    pub comms: Vec<String>,
    pub since: Option<TimeBound>,
    pub until: Option<TimeBound>,
}

impl Filter {
    fn accepts(&self, event: &Event) -> bool {
        let c = &event.common;
        (self.pids.is_empty() || self.pids.contains(&c.pid))
            && (self.comms.is_empty() || self.comms.contains(&c.comm))
            && (self.event_types.is_empty()
                || events::event_type(event)
                    .is_some_and(|t| self.event_types.iter().any(|n| n == t)))
    }
}

#[derive(Debug, Clone)]
pub struct ReplayConfig {
    pub inputs: Vec<PathBuf>,
    pub format: OutputFormat,
    pub view: View,
    pub filter: Filter,
    pub records: RecordsConfig,
}

/// What a replay met besides output: problems worth telling the user.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// Events or records written.
    pub items: u64,
    /// Data frames from which at least one record was decoded (0: nothing was recovered).
    pub frames_decoded: u64,
    pub warnings: Vec<String>,
}

/// Replays trace files into `sink`. Damaged input is salvaged: everything intact is
/// replayed and each problem becomes a warning in the report.
pub fn replay(cfg: &ReplayConfig, sink: &mut Sink<'_>) -> Result<ReplayReport> {
    let recordings = trace::open_recordings(&cfg.inputs)?;
    let mut report = ReplayReport::default();
    for recording in &recordings {
        report.warnings.extend(info::damage_warnings(recording));
        report.warnings.extend(info::loss_warning(recording));
        let mut engine = Engine::new(cfg, sink);
        feed_recording(&mut engine, recording)?;
        engine.finish()?;
        report.items += engine.report.items;
        report.frames_decoded += engine.report.frames_decoded;
        report.warnings.extend(engine.report.warnings);
    }
    sink.flush()?;
    Ok(report)
}

/// Feeds every block of a recording's segments, in file order, to the engine.
fn feed_recording(engine: &mut Engine<'_, '_>, recording: &trace::Recording) -> Result<()> {
    for segment in &recording.segments {
        let mut pending: Vec<&trace::BlockLoc> = Vec::new();
        for block in &segment.blocks {
            if block.kind == BlockKind::Frame {
                pending.push(block);
                if pending.len() == FRAMES_PER_BATCH {
                    if !engine.frames(decode_frames(segment, &pending))? {
                        return Ok(());
                    }
                    pending.clear();
                }
                continue;
            }
            if !pending.is_empty() {
                if !engine.frames(decode_frames(segment, &pending))? {
                    return Ok(());
                }
                pending.clear();
            }
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
        if !pending.is_empty() && !engine.frames(decode_frames(segment, &pending))? {
            return Ok(());
        }
    }
    Ok(())
}

/// A decoded frame: its header (for time-range decisions), events, and any problem.
pub struct DecodedFrame {
    pub first_ts: Option<u64>,
    pub events: Vec<Event>,
    pub problem: Option<String>,
}

fn decode_frames(segment: &trace::Segment, blocks: &[&trace::BlockLoc]) -> Vec<DecodedFrame> {
    blocks
        .par_iter()
        .map(|block| {
            let located = |what: String| {
                format!(
                    "{}: frame at byte {}: {what}",
                    segment.path.display(),
                    block.offset
                )
            };
            decode_frame_payload(segment.payload(block), located)
        })
        .collect()
}

/// Decompresses and decodes one frame block's payload.
pub fn decode_frame_payload(payload: &[u8], located: impl Fn(String) -> String) -> DecodedFrame {
    match format::decode_frame(payload) {
        Ok((header, raw)) => decode_raw_frame(Some(header.first_ts), &raw, located),
        Err(e) => DecodedFrame {
            first_ts: None,
            events: Vec::new(),
            problem: Some(located(format!("{e}; the frame is skipped"))),
        },
    }
}

/// Decodes the raw records of one frame.
pub fn decode_raw_frame(
    first_ts: Option<u64>,
    raw: &[u8],
    located: impl Fn(String) -> String,
) -> DecodedFrame {
    let (events, error) = decode::decode_frame(raw);
    DecodedFrame {
        first_ts,
        events,
        problem: error.map(|e| located(format!("{e}; the rest of the frame is skipped"))),
    }
}

/// The replay of one recording: feed it blocks in order, then `finish`.
pub struct Engine<'c, 'w> {
    cfg: &'c ReplayConfig,
    pub ctx: Context,
    reorder: Reorder,
    table: ProcessTable,
    records: Option<RecordsView>,
    snapshot_seen: bool,
    fds_seen: bool,
    sink: &'c mut Sink<'w>,
    since: Option<i64>,
    until: Option<i64>,
    pub report: ReplayReport,
}

impl<'c, 'w> Engine<'c, 'w> {
    pub fn new(cfg: &'c ReplayConfig, sink: &'c mut Sink<'w>) -> Self {
        sink.set_table_header(match cfg.view {
            View::Events => output::EVENT_TABLE_HEADER,
            View::Records => output::RECORD_TABLE_HEADER,
        });
        Engine {
            cfg,
            ctx: Context::default(),
            reorder: Reorder::default(),
            table: ProcessTable::default(),
            records: (cfg.view == View::Records).then(|| RecordsView::new(cfg.records.clone())),
            snapshot_seen: false,
            fds_seen: false,
            sink,
            since: None,
            until: None,
            report: ReplayReport::default(),
        }
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
        let payload = if flags & format::BLOCK_FLAG_COMPRESSED != 0 {
            match format::decompress_meta(payload) {
                Ok(bytes) => {
                    raw = bytes;
                    &raw[..]
                }
                Err(e) => {
                    self.report.warnings.push(format!("{}: {e}", located()));
                    return Ok(());
                }
            }
        } else {
            payload
        };
        match self.meta(kind, payload) {
            Ok(Some(at)) => self.tick(at)?,
            Ok(None) => {}
            Err(e) => self
                .report
                .warnings
                .push(format!("{}: the metadata does not decode: {e}", located())),
        }
        Ok(())
    }

    /// Applies a metadata block; returns a time mark when the block carries one.
    fn meta(&mut self, kind: BlockKind, payload: &[u8]) -> Result<Option<u64>, postcard::Error> {
        match kind {
            // Later segments repeat the snapshot: the state built since then is newer.
            BlockKind::Snapshot if !self.snapshot_seen => {
                let s: ProcSnapshot = meta::decode(payload)?;
                self.table.add_snapshot(&s);
                if let Some(r) = &mut self.records {
                    r.snapshot(&s);
                }
                self.snapshot_seen = true;
            }
            BlockKind::FdTable if !self.fds_seen => {
                let t: FdTable = meta::decode(payload)?;
                self.table.add_fds(&t);
                self.fds_seen = true;
            }
            BlockKind::Snapshot | BlockKind::FdTable => {}
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

    /// Decoded frames, in order. Returns false once frames are past `--until`: the
    /// caller may stop reading.
    pub fn frames(&mut self, frames: Vec<DecodedFrame>) -> Result<bool> {
        let mut more = true;
        for frame in frames {
            if frame.problem.is_none() || !frame.events.is_empty() {
                self.report.frames_decoded += 1;
            }
            if let (Some(until), Some(first)) = (self.until, frame.first_ts) {
                if self.ctx.realtime_ns(first) > until.saturating_add(REORDER_WINDOW_NS as i64) {
                    more = false;
                    break;
                }
            }
            self.report.warnings.extend(frame.problem);
            // Frame by frame: what is ready leaves before the next frame comes in.
            let mut ready = Vec::new();
            for event in frame.events {
                self.reorder.push(event);
                self.reorder.pop_ready(&mut ready);
            }
            self.process(ready)?;
        }
        Ok(more)
    }

    /// A time mark from the recorder: no record older than `at - window` is still to come.
    fn tick(&mut self, at: u64) -> Result<()> {
        let mark = at.saturating_sub(REORDER_WINDOW_NS);
        let mut ready = Vec::new();
        self.reorder.pop_until(mark, &mut ready);
        self.process(ready)?;
        if let Some(r) = &mut self.records {
            let out = r.tick(&self.ctx, mark);
            self.emit_records(out)?;
        }
        Ok(())
    }

    /// The end of the recording: what is still ordered or aggregated leaves.
    pub fn finish(&mut self) -> Result<()> {
        let mut rest = Vec::new();
        self.reorder.drain(&mut rest);
        self.process(rest)?;
        if let Some(r) = &mut self.records {
            let out = r.finish(&self.ctx);
            self.emit_records(out)?;
        }
        self.sink.flush()?;
        Ok(())
    }

    fn in_range(&self, ts: u64) -> bool {
        let at = self.ctx.realtime_ns(ts);
        self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at <= u)
    }

    fn process(&mut self, events: Vec<Event>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        if self.records.is_some() {
            let mut out = Vec::new();
            for event in &events {
                let resolved = self.table.apply(event);
                let r = self.records.as_mut().expect("records view");
                out.extend(r.event(&self.ctx, event, &resolved));
            }
            return self.emit_records(out);
        }
        let mut selected: Vec<(Event, Resolved)> = Vec::new();
        for event in events {
            let resolved = self.table.apply(&event);
            if self.in_range(event.common.ts)
                && events::event_type(&event).is_some()
                && self.cfg.filter.accepts(&event)
            {
                selected.push((event, resolved));
            }
        }
        let arch = Arch::from_machine(self.ctx.machine());
        let (ctx, format, udp) = (&self.ctx, self.sink.format, self.sink.wants_datagrams());
        let rendered: Vec<Rendered> = selected
            .par_iter()
            .map(|(event, resolved)| {
                let view = EventView {
                    timestamp_us: ctx.realtime_ns(event.common.ts).div_euclid(1000),
                    event,
                    resolved,
                    arch,
                };
                output::render_event(&view, format, udp)
            })
            .collect();
        self.write(rendered)
    }

    fn emit_records(&mut self, mut records: Vec<Map<String, Value>>) -> Result<()> {
        let f = &self.cfg.filter;
        records.retain(|r| {
            let pid_ok = f.pids.is_empty()
                || r.get("ProcPID")
                    .and_then(Value::as_u64)
                    .is_some_and(|p| f.pids.contains(&(p as u32)));
            let comm_ok = f.comms.is_empty()
                || r.get("Proc")
                    .and_then(Value::as_str)
                    .is_some_and(|c| f.comms.iter().any(|n| n == c));
            pid_ok && comm_ok
        });
        if records.is_empty() {
            return Ok(());
        }
        if let Some(r) = &mut self.records {
            r.number(&mut records);
        }
        let (format, udp) = (self.sink.format, self.sink.wants_datagrams());
        let rendered: Vec<Rendered> = records
            .par_iter()
            .map(|r| output::render_record(r, format, udp))
            .collect();
        self.write(rendered)
    }

    fn write(&mut self, rendered: Vec<Rendered>) -> Result<()> {
        for item in &rendered {
            self.sink.write(item)?;
        }
        self.report.items += rendered.len() as u64;
        Ok(())
    }
}

/// Puts events into timestamp order within a bounded window; ties keep arrival order.
#[derive(Default)]
struct Reorder {
    heap: BinaryHeap<Reverse<Pending>>,
    seq: u64,
    max_ts: u64,
}

struct Pending {
    ts: u64,
    seq: u64,
    event: Event,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.ts, self.seq) == (other.ts, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.ts, self.seq).cmp(&(other.ts, other.seq))
    }
}

impl Reorder {
    fn push(&mut self, event: Event) {
        let ts = event.common.ts;
        self.max_ts = self.max_ts.max(ts);
        self.heap.push(Reverse(Pending {
            ts,
            seq: self.seq,
            event,
        }));
        self.seq += 1;
    }

    fn pop_ready(&mut self, out: &mut Vec<Event>) {
        let watermark = self.max_ts.saturating_sub(REORDER_WINDOW_NS);
        while self.heap.peek().is_some_and(|p| p.0.ts <= watermark) {
            out.push(self.heap.pop().expect("peeked").0.event);
        }
    }

    /// Releases everything stamped at or before `mark`.
    fn pop_until(&mut self, mark: u64, out: &mut Vec<Event>) {
        while self.heap.peek().is_some_and(|p| p.0.ts <= mark) {
            out.push(self.heap.pop().expect("peeked").0.event);
        }
    }

    fn drain(&mut self, out: &mut Vec<Event>) {
        while let Some(p) = self.heap.pop() {
            out.push(p.0.event);
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
