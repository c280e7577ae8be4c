//! `kellect replay`: from raw records to JSON, anywhere, deterministically.
//!
//! The pipeline streams a batch of frames at a time, so memory stays bounded whatever the
//! trace's size:
//! 1. parallel (rayon): verify, decompress and decode each frame of the batch;
//! 2. sequential: merge records into timestamp order (a bounded reorder window: the ring
//!    buffer delivers records in reservation order, which can trail timestamp order by a
//!    little across CPUs) and apply the filters;
//! 3. parallel: render each event to JSON; then write them in order.
//!
//! Batches have a fixed size and every ordering decision depends only on the trace, so the
//! output is byte-identical for any thread count.

pub mod decode;
pub mod events;
pub mod info;
pub mod state;
pub mod symbols;
pub mod trace;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Result;
use rayon::prelude::*;

use crate::format;
use decode::Event;
use events::EventView;
use state::{ProcessTable, Resolved};
use symbols::Arch;
use trace::Recording;

/// Frames decoded in parallel per step: a constant, so output never depends on threads.
const FRAMES_PER_BATCH: usize = 32;
/// How far (event time) a record may trail a later-stamped one and still be put in order.
const REORDER_WINDOW_NS: u64 = 500_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Pretty-printed JSON objects, one after another.
    Json,
    /// One JSON object per line (NDJSON).
    JsonMin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// One object per kernel event.
    Events,
}

/// A bound of a time range: a wall-clock time, or seconds after the trace's first event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TimeBound {
    /// Nanoseconds since the Unix epoch.
    Absolute(i64),
    /// Seconds after the recording's first event.
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
}

/// What a replay met besides events: damage and problems worth telling the user.
#[derive(Debug, Default)]
pub struct ReplayReport {
    pub events: u64,
    pub warnings: Vec<String>,
}

/// Replays the traces into `out`. Damaged input is salvaged: everything intact is
/// replayed and each problem becomes a warning in the report.
pub fn replay(cfg: &ReplayConfig, out: &mut dyn Write) -> Result<ReplayReport> {
    let recordings = trace::open_recordings(&cfg.inputs)?;
    let mut report = ReplayReport::default();
    for recording in &recordings {
        replay_recording(cfg, recording, out, &mut report)?;
    }
    Ok(report)
}

fn replay_recording(
    cfg: &ReplayConfig,
    recording: &Recording,
    out: &mut dyn Write,
    report: &mut ReplayReport,
) -> Result<()> {
    report.warnings.extend(info::damage_warnings(recording));
    let frames: Vec<(usize, &trace::BlockLoc)> = recording
        .segments
        .iter()
        .enumerate()
        .flat_map(|(i, s)| s.frames().map(move |f| (i, f)))
        .collect();
    let mut reorder = Reorder::default();
    let mut problems = Vec::new();
    let fds = recording.segments.first().and_then(|s| {
        s.metas::<crate::meta::FdTable>(&mut problems)
            .into_iter()
            .next()
    });
    report.warnings.extend(problems);
    let mut table = ProcessTable::from_snapshot(recording.snapshot.as_ref(), fds.as_ref());
    let arch = Arch::from_machine(recording.host.as_ref().map_or("", |h| h.machine.as_str()));
    // The time range, in wall-clock ns. Frames before it are still decoded (the process
    // state they carry names later events) but not rendered; frames after it are not read.
    let headers: Vec<Option<format::FrameHeader>> = frames
        .iter()
        .map(|&(seg, block)| recording.segments[seg].frame_header(block))
        .collect();
    let start_ns = headers
        .iter()
        .flatten()
        .map(|h| h.first_ts)
        .min()
        .map_or(0, |ts| recording.realtime_ns(ts));
    let since = cfg.filter.since.map(|b| b.resolve(start_ns));
    let until = cfg.filter.until.map(|b| b.resolve(start_ns));
    let last_frame = match until {
        Some(until) => headers
            .iter()
            .position(|h| {
                h.is_some_and(|h| {
                    recording.realtime_ns(h.first_ts)
                        > until.saturating_add(REORDER_WINDOW_NS as i64)
                })
            })
            .unwrap_or(frames.len()),
        None => frames.len(),
    };
    let mut out_ctx = Emit {
        cfg,
        recording,
        arch,
        table: &mut table,
        since,
        until,
    };
    for batch in frames[..last_frame].chunks(FRAMES_PER_BATCH) {
        let decoded: Vec<(Vec<Event>, Option<String>)> = batch
            .par_iter()
            .map(|&(seg, block)| decode_block(recording, seg, block))
            .collect();
        let mut ready = Vec::new();
        for (events, problem) in decoded {
            report.warnings.extend(problem);
            for event in events {
                reorder.push(event);
                reorder.pop_ready(&mut ready);
            }
        }
        out_ctx.emit(ready, out, report)?;
    }
    let mut rest = Vec::new();
    reorder.drain(&mut rest);
    out_ctx.emit(rest, out, report)?;
    Ok(())
}

fn decode_block(
    recording: &Recording,
    seg: usize,
    block: &trace::BlockLoc,
) -> (Vec<Event>, Option<String>) {
    let segment = &recording.segments[seg];
    let located = |what: String| {
        format!(
            "{}: frame at byte {}: {what}",
            segment.path.display(),
            block.offset
        )
    };
    match format::decode_frame(segment.payload(block)) {
        Ok((_, raw)) => {
            let (events, error) = decode::decode_frame(&raw);
            (
                events,
                error.map(|e| located(format!("{e}; the rest of the frame is skipped"))),
            )
        }
        Err(e) => (
            Vec::new(),
            Some(located(format!("{e}; the frame is skipped"))),
        ),
    }
}

/// Stages 2 and 3 for a run of ordered events: state and filters in order, then rendering
/// in parallel, then writing in order.
struct Emit<'a> {
    cfg: &'a ReplayConfig,
    recording: &'a Recording,
    arch: Arch,
    table: &'a mut ProcessTable,
    since: Option<i64>,
    until: Option<i64>,
}

impl Emit<'_> {
    fn emit(
        &mut self,
        events: Vec<Event>,
        out: &mut dyn Write,
        report: &mut ReplayReport,
    ) -> Result<()> {
        let mut selected: Vec<(Event, Resolved)> = Vec::new();
        for event in events {
            let resolved = self.table.apply(&event);
            let at = self.recording.realtime_ns(event.common.ts);
            let in_range = self.since.is_none_or(|s| at >= s) && self.until.is_none_or(|u| at <= u);
            if in_range && events::event_type(&event).is_some() && self.cfg.filter.accepts(&event) {
                selected.push((event, resolved));
            }
        }
        let (cfg, recording, arch) = (self.cfg, self.recording, self.arch);
        let rendered: Vec<Vec<u8>> = selected
            .par_iter()
            .map(|(event, resolved)| {
                let view = EventView {
                    timestamp_us: recording.realtime_ns(event.common.ts).div_euclid(1000),
                    event,
                    resolved,
                    arch,
                };
                let mut buf = Vec::with_capacity(256);
                let written = match cfg.format {
                    OutputFormat::Json => serde_json::to_writer_pretty(&mut buf, &view),
                    OutputFormat::JsonMin => serde_json::to_writer(&mut buf, &view),
                };
                written.expect("serializing into memory cannot fail");
                buf.push(b'\n');
                buf
            })
            .collect();
        for bytes in rendered {
            out.write_all(&bytes)?;
        }
        report.events += selected.len() as u64;
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
