//! Opening trace files: map them, scan their blocks, group segments into recordings and
//! read the metadata every later stage needs.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use memmap2::Mmap;

use crate::format::{self, BlockKind, Damage, FileHeader, FrameHeader, TraceReader};
use crate::meta::{self, ClockSample, DecodeLimits, HostInfo, MetaBlock, ProcSnapshot, Stats};

use super::MemoryBudget;

/// A block of a segment, located by byte range (the segment owns the bytes).
#[derive(Debug, Clone, Copy)]
pub struct BlockLoc {
    pub kind: BlockKind,
    pub flags: u16,
    /// File offset of the block header.
    pub offset: u64,
    /// Payload byte range within the file.
    pub payload: (usize, usize),
}

/// One segment file.
pub struct Segment {
    pub path: PathBuf,
    bytes: Mmap,
    pub header: FileHeader,
    pub blocks: Vec<BlockLoc>,
    /// Damage found while scanning (cut, zero tail, bad checksums...), in file order.
    pub damage: Vec<Damage>,
    /// The segment ends with an End block: it was closed cleanly.
    pub closed: bool,
}

impl Segment {
    pub fn payload(&self, block: &BlockLoc) -> &[u8] {
        &self.bytes[block.payload.0..block.payload.1]
    }

    pub fn file_len(&self) -> u64 {
        self.bytes.len() as u64
    }

    /// Decodes every metadata block of type `T` within the default limits, in file order;
    /// a block that does not decode becomes a message in `problems`. Holds every decoded
    /// value at once: for small kinds only (see [`each_meta`](Self::each_meta)).
    pub fn metas<T: MetaBlock>(&self, problems: &mut Vec<String>) -> Vec<T> {
        let mut out = Vec::new();
        let mut found = Problems::default();
        self.each_meta(&DecodeLimits::default(), &mut found, |v: T| {
            out.push(v);
            true
        });
        problems.extend(found.into_lines());
        out
    }

    /// Decodes the metadata blocks of type `T` within `limits`, in file order, handing each
    /// to `f` until it returns false: one decoded value at a time. A block that does not
    /// decode (or passes a limit) becomes a message in `problems` and is skipped.
    pub fn each_meta<T: MetaBlock>(
        &self,
        limits: &DecodeLimits,
        problems: &mut Problems,
        mut f: impl FnMut(T) -> bool,
    ) {
        for block in self.blocks.iter().filter(|b| b.kind == T::KIND) {
            match self.meta_payload(block, limits) {
                Ok(value) => {
                    if !f(value) {
                        return;
                    }
                }
                Err(e) => problems.push(|| {
                    format!(
                        "{}: {} block at byte {}: {e:#}",
                        self.path.display(),
                        T::KIND,
                        block.offset
                    )
                }),
            }
        }
    }

    /// The first metadata block of type `T` that decodes within `limits`; the blocks after
    /// it are not decoded.
    pub fn first_meta<T: MetaBlock>(
        &self,
        limits: &DecodeLimits,
        problems: &mut Problems,
    ) -> Option<T> {
        let mut first = None;
        self.each_meta(limits, problems, |v: T| {
            first = Some(v);
            false
        });
        first
    }

    fn meta_payload<T: MetaBlock>(&self, block: &BlockLoc, limits: &DecodeLimits) -> Result<T> {
        let payload = self.payload(block);
        let bytes;
        let payload = if block.flags & format::BLOCK_FLAG_COMPRESSED != 0 {
            bytes = format::decompress_meta_limited(payload, limits.max_payload)?;
            &bytes[..]
        } else {
            payload
        };
        match meta::decode_limited(payload, limits) {
            Ok(v) => Ok(v),
            Err(e @ meta::MetaError::OverLimit(_)) => {
                Err(anyhow::Error::new(e)).context("the block is skipped")
            }
            Err(e) => Err(anyhow::Error::new(e)).context("the metadata does not decode"),
        }
    }

    pub fn frames(&self) -> impl Iterator<Item = &BlockLoc> {
        self.blocks.iter().filter(|b| b.kind == BlockKind::Frame)
    }

    pub fn frame_header(&self, block: &BlockLoc) -> Option<FrameHeader> {
        FrameHeader::decode(self.payload(block)).ok()
    }
}

/// Maps and scans one file. Errors only when the file cannot be read or its header is
/// not a kellect header; damage further in is part of the result.
pub fn open_segment(path: &Path) -> Result<Segment> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    // SAFETY: the trace is mapped read-only and treated as untrusted bytes (every length is
    // checked). The contract is that the file is not truncated while mapped — a trace that
    // is still being recorded only grows; truncating it under a replay is the one way to
    // crash this process (SIGBUS), as with any memory-mapped reader.
    let bytes = unsafe { Mmap::map(&file) }
        .with_context(|| format!("cannot map {} into memory", path.display()))?;
    let reader = TraceReader::new(&bytes)
        .with_context(|| format!("{} is not a readable kellect trace", path.display()))?;
    let header = *reader.header();
    let scan = reader.scan();
    let base = bytes.as_ptr() as usize;
    let blocks = scan
        .blocks
        .iter()
        .map(|b| {
            let start = b.payload.as_ptr() as usize - base;
            BlockLoc {
                kind: b.kind,
                flags: b.flags,
                offset: b.offset,
                payload: (start, start + b.payload.len()),
            }
        })
        .collect();
    let damage = scan.damage.clone();
    let closed = scan.end.is_some();
    drop(scan);
    Ok(Segment {
        path: path.to_owned(),
        header,
        blocks,
        damage,
        closed,
        bytes,
    })
}

/// Metadata blocks that did not decode, as messages: the first
/// [`WARNINGS_PER_KIND`](super::WARNINGS_PER_KIND), then only a count.
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<String>,
    /// Problems past the cap, not kept.
    pub more: u64,
}

impl Problems {
    /// Records a problem; its message is only built while under the cap.
    pub fn push(&mut self, message: impl FnOnce() -> String) {
        if self.list.len() < super::WARNINGS_PER_KIND {
            self.list.push(message());
        } else {
            self.more += 1;
        }
    }

    /// The messages, and one line counting the rest if any.
    pub fn into_lines(self) -> Vec<String> {
        let mut lines = self.list;
        if self.more > 0 {
            lines.push(format!(
                "{} more metadata blocks that do not decode not listed",
                self.more
            ));
        }
        lines
    }
}

/// The segments of one recording, in order.
pub struct Recording {
    pub id: u64,
    pub segments: Vec<Segment>,
    pub host: Option<HostInfo>,
    /// Processes in the first segment's snapshot (the snapshot itself is not kept).
    pub snapshot_processes: Option<usize>,
    /// Every clock sample of the recording, by boot time.
    pub clocks: Vec<ClockSample>,
    /// The last statistics block: the recording's totals.
    pub stats: Option<Stats>,
    /// Metadata that did not decode: the first few, then a count.
    pub problems: Vec<String>,
}

impl Recording {
    fn assemble(id: u64, mut segments: Vec<Segment>, budget: MemoryBudget) -> Self {
        segments.sort_by_key(|s| s.header.segment_index);
        let limits = budget.meta_limits();
        let mut problems = Problems::default();
        let host = segments
            .iter()
            .find_map(|s| s.first_meta::<HostInfo>(&limits, &mut problems));
        let snapshot_processes = segments.first().and_then(|s| {
            s.first_meta::<ProcSnapshot>(&limits, &mut problems)
                .map(|snapshot| snapshot.processes.len())
        });
        let mut clocks: Vec<ClockSample> = host.iter().map(|h| h.clock).collect();
        let mut stats = None;
        for segment in &segments {
            segment.each_meta(&limits, &mut problems, |c: ClockSample| {
                clocks.push(c);
                true
            });
            // Statistics carry a clock sample too: a trace whose host info is damaged
            // still maps event times to wall-clock time. Only the last one is kept.
            segment.each_meta(&limits, &mut problems, |s: Stats| {
                clocks.push(s.at);
                stats = Some(s);
                true
            });
        }
        clocks.sort_by_key(|c| c.boot_ns);
        clocks.dedup_by_key(|c| c.boot_ns);
        Recording {
            id,
            segments,
            host,
            snapshot_processes,
            clocks,
            stats,
            problems: problems.into_lines(),
        }
    }

    /// Wall-clock ns of a boot-time stamp, by the latest clock sample taken at or before it.
    pub fn realtime_ns(&self, boot_ns: u64) -> i64 {
        self.checked_realtime_ns(boot_ns).unwrap_or(i64::MAX)
    }

    /// [`realtime_ns`](Self::realtime_ns), or `None` when the wall-clock time of the stamp
    /// is not representable (centuries from the clock samples): never a wrapped time.
    pub fn checked_realtime_ns(&self, boot_ns: u64) -> Option<i64> {
        // The sample before the event; for events before any sample, the first one.
        let i = self.clocks.partition_point(|c| c.boot_ns <= boot_ns);
        match self.clocks.get(i.saturating_sub(1)) {
            Some(sample) => sample.checked_realtime_ns(boot_ns),
            // No clock at all (a damaged trace): boot time stands in, visibly near 1970.
            None => i64::try_from(boot_ns).ok(),
        }
    }

    /// Whether a boot-time stamp is within `margin_ns` of the recording's clock samples
    /// (true when there are none: nothing to judge by).
    pub fn near_clocks(&self, boot_ns: u64, margin_ns: u64) -> bool {
        match (self.clocks.first(), self.clocks.last()) {
            (Some(low), Some(high)) => {
                boot_ns >= low.boot_ns.saturating_sub(margin_ns)
                    && boot_ns <= high.boot_ns.saturating_add(margin_ns)
            }
            _ => true,
        }
    }

    pub fn start_realtime_ns(&self) -> i64 {
        self.segments
            .first()
            .map(|s| s.header.created_realtime_ns as i64)
            .unwrap_or_default()
    }
}

/// Opens every file and groups segments by recording, recordings ordered by start time;
/// metadata is decoded within the default [`MemoryBudget`].
pub fn open_recordings(paths: &[PathBuf]) -> Result<Vec<Recording>> {
    open_recordings_within(paths, MemoryBudget::default())
}

/// [`open_recordings`], decoding metadata within `budget`.
pub fn open_recordings_within(paths: &[PathBuf], budget: MemoryBudget) -> Result<Vec<Recording>> {
    let mut by_id: Vec<(u64, Vec<Segment>)> = Vec::new();
    for path in paths {
        let segment = open_segment(path)?;
        let id = segment.header.recording_id;
        match by_id.iter_mut().find(|(i, _)| *i == id) {
            Some((_, segments)) => {
                if segments
                    .iter()
                    .any(|s| s.header.segment_index == segment.header.segment_index)
                {
                    anyhow::bail!(
                        "{} is segment {} of a recording that was already given",
                        path.display(),
                        segment.header.segment_index
                    );
                }
                segments.push(segment)
            }
            None => by_id.push((id, vec![segment])),
        }
    }
    let mut recordings: Vec<Recording> = by_id
        .into_iter()
        .map(|(id, segments)| Recording::assemble(id, segments, budget))
        .collect();
    recordings.sort_by_key(|r| (r.start_realtime_ns(), r.id));
    Ok(recordings)
}
