//! `kellect info`: what a trace holds — host, time range, records per kind, what the
//! kernel dropped, frames, and any damage — as text or JSON.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::trace::Recording;
use crate::abi::{RecordKind, Records};
use crate::format;

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
    pub records_total: u64,
    /// The kernel's own counts (last statistics block): written and dropped, per kind.
    pub kernel_emitted: BTreeMap<String, u64>,
    pub kernel_dropped: BTreeMap<String, u64>,
    pub kernel_emitted_total: u64,
    pub dropped_total: u64,
    pub snapshot_processes: usize,
    pub damage: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct SegmentInfo {
    pub path: String,
    pub index: u32,
    pub bytes: u64,
    pub closed_cleanly: bool,
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

/// Every problem in a recording, as user-facing sentences.
pub fn damage_warnings(recording: &Recording) -> Vec<String> {
    let mut out = Vec::new();
    for segment in &recording.segments {
        for damage in &segment.damage {
            out.push(format!("{}: {damage}", segment.path.display()));
        }
        if let Some(note) = &segment.note {
            out.push(format!("{}: {note}", segment.path.display()));
        } else if !segment.closed && segment.damage.is_empty() {
            out.push(format!(
                "{}: the segment has no end block: the recording was interrupted (crash, \
                 kill -9, full disk) or is still running; everything written is replayed",
                segment.path.display()
            ));
        }
    }
    out.extend(recording.problems.iter().cloned());
    out
}

/// What the recorder lost, if anything, as a warning for the reader of the output (not
/// damage: the trace says exactly how much is missing).
pub fn loss_warning(recording: &Recording) -> Option<String> {
    let stats = recording.stats.as_ref()?;
    let dropped: u64 = stats.counters.iter().map(|c| c.dropped).sum::<u64>() + stats.user_dropped;
    (dropped > 0).then(|| {
        format!(
            "the recorder lost {dropped} records (ring buffer full): what they were is missing \
             from this output; `kellect info` counts them per kind and CPU"
        )
    })
}

fn rfc3339(ns: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(ns as i128)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{ns} ns"))
}

#[derive(Default)]
struct FrameCounts {
    kinds: BTreeMap<String, u64>,
    groups: BTreeMap<String, u64>,
    raw_bytes: u64,
    problem: Option<String>,
}

/// Records of one decompressed frame, per kind and (syscalls) per event group.
fn count_frame(raw: &[u8], located: impl Fn(&dyn std::fmt::Display) -> String) -> FrameCounts {
    let mut c = FrameCounts {
        raw_bytes: raw.len() as u64,
        ..FrameCounts::default()
    };
    for record in Records::new(raw) {
        match record {
            Ok(r) => {
                let kind = RecordKind::from_raw(r.header().kind.get());
                *c.kinds.entry(kind.name()).or_insert(0) += 1;
                if kind == RecordKind::Syscall {
                    let group = crate::syscalls::by_id(r.header().syscall.get())
                        .map_or("unknown", |s| s.group.name());
                    *c.groups.entry(group.to_owned()).or_insert(0) += 1;
                }
            }
            Err(e) => c.problem = Some(located(&e)),
        }
    }
    c
}

pub fn trace_info(recording: &Recording) -> TraceInfo {
    let frames: Vec<_> = recording
        .segments
        .iter()
        .flat_map(|s| s.frames().map(move |f| (s, f)))
        .collect();
    let mut damage = damage_warnings(recording);
    // Per-kind counts need the records themselves: decompress in parallel, count headers.
    let counted: Vec<FrameCounts> = frames
        .par_iter()
        .map(|(segment, block)| {
            let located = |e: &dyn std::fmt::Display| {
                format!(
                    "{}: frame at byte {}: {e}",
                    segment.path.display(),
                    block.offset
                )
            };
            match format::decode_frame(segment.payload(block)) {
                Ok((_, raw)) => count_frame(&raw, located),
                Err(e) => FrameCounts {
                    problem: Some(located(&e)),
                    ..FrameCounts::default()
                },
            }
        })
        .collect();
    let mut records = BTreeMap::new();
    let mut syscalls_by_group = BTreeMap::new();
    let mut raw_bytes = 0;
    for c in counted {
        for (k, n) in c.kinds {
            *records.entry(k).or_insert(0) += n;
        }
        for (g, n) in c.groups {
            *syscalls_by_group.entry(g).or_insert(0) += n;
        }
        raw_bytes += c.raw_bytes;
        damage.extend(c.problem);
    }
    let headers: Vec<_> = frames
        .iter()
        .filter_map(|(s, f)| s.frame_header(f))
        .collect();
    let first = headers.iter().map(|h| h.first_ts).min();
    let last = headers.iter().map(|h| h.last_ts).max();
    let mut kernel_emitted = BTreeMap::new();
    let mut kernel_dropped = BTreeMap::new();
    if let Some(stats) = &recording.stats {
        for c in &stats.counters {
            let name = RecordKind::from_raw(c.kind).name();
            *kernel_emitted.entry(name.clone()).or_insert(0) += c.emitted;
            if c.dropped > 0 {
                *kernel_dropped.entry(name).or_insert(0) += c.dropped;
            }
        }
    }
    let dropped_total = kernel_dropped.values().sum::<u64>()
        + recording.stats.as_ref().map_or(0, |s| s.user_dropped);
    TraceInfo {
        recording_id: format!("{:016x}", recording.id),
        segments: recording
            .segments
            .iter()
            .map(|s| SegmentInfo {
                path: s.path.display().to_string(),
                index: s.header.segment_index,
                bytes: s.file_len(),
                closed_cleanly: s.closed,
            })
            .collect(),
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
        kernel_emitted_total: kernel_emitted.values().sum(),
        kernel_emitted,
        kernel_dropped,
        dropped_total,
        snapshot_processes: recording.snapshot.as_ref().map_or(0, |s| s.processes.len()),
        damage,
    }
}

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
                s.path, s.index, s.bytes
            )?;
        }
        if let Some(h) = &self.host {
            writeln!(
                f,
                "host        {} ({}, {})",
                h.hostname, h.kernel, h.machine
            )?;
            writeln!(f, "recorder    {}", h.recorded_by)?;
            if h.command.is_empty() || h.system_wide {
                writeln!(f, "scope       system-wide")?;
            }
            if !h.command.is_empty() {
                writeln!(f, "command     {}", h.command.join(" "))?;
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
        if self.damage.is_empty() {
            writeln!(f, "damage      none")?;
        } else {
            for d in &self.damage {
                writeln!(f, "damage      {d}")?;
            }
        }
        Ok(())
    }
}
