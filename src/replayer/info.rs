//! `kellect info`: what a trace holds — host, time range, records per kind, what the
//! kernel dropped, frames, and any damage — as text or JSON.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use super::trace::Recording;
use super::{MemoryBudget, FAR_FROM_CLOCKS_NS, WARNINGS_PER_KIND};
use crate::abi::{RecordKind, Records};
use crate::format::{self, DamageKind};

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

/// Every problem in a recording, as user-facing sentences. Per segment, the first
/// [`WARNINGS_PER_KIND`] of each kind of damage are listed, then one line counts the rest
/// (a trace of millions of damaged blocks gives a readable list in bounded memory).
pub fn damage_warnings(recording: &Recording) -> Vec<String> {
    let mut out = Vec::new();
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
                out.push(format!("{}: {damage}", segment.path.display()));
            }
        }
        for (name, n) in per_kind {
            if n > WARNINGS_PER_KIND as u64 {
                out.push(format!(
                    "{}: {} more damage of this kind ({name}) not listed: {n} in all",
                    segment.path.display(),
                    n - WARNINGS_PER_KIND as u64
                ));
            }
        }
        if !segment.closed && segment.damage.is_empty() {
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

#[derive(Default)]
struct FrameCounts {
    kinds: BTreeMap<String, u64>,
    groups: BTreeMap<String, u64>,
    raw_bytes: u64,
    problem: Option<String>,
    /// Smallest and largest plausible record stamps (boot-time ns).
    range: Option<(u64, u64)>,
    /// Records stamped far from the clock samples, and the first such stamp.
    far: u64,
    first_far: Option<u64>,
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

/// [`trace_info_within`] the default [`MemoryBudget`].
pub fn trace_info(recording: &Recording) -> TraceInfo {
    trace_info_within(recording, MemoryBudget::default())
}

/// What a recording holds. Frames are decompressed in parallel, in batches whose decoded
/// sizes add up to at most [`MemoryBudget::frame_batch_raw`]; a frame larger than that is
/// listed as damage and not counted. The time range covers only records stamped within a
/// day of the recording's clock samples; the others are counted in one damage line.
pub fn trace_info_within(recording: &Recording, budget: MemoryBudget) -> TraceInfo {
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
                        segment.path.display(),
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
        for c in counted {
            for (k, n) in c.kinds {
                *records.entry(k).or_insert(0) += n;
            }
            for (g, n) in c.groups {
                *syscalls_by_group.entry(g).or_insert(0) += n;
            }
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
        snapshot_processes: recording.snapshot_processes.unwrap_or(0),
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
