//! Opening trace files: map them, scan their blocks, group segments into recordings and
//! read the metadata every later stage needs.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use memmap2::Mmap;

use crate::format::{self, BlockKind, Damage, FileHeader, FrameHeader, TraceReader};
use crate::meta::{self, ClockSample, HostInfo, MetaBlock, ProcSnapshot, Stats};

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

    /// Decodes every metadata block of type `T`, in file order; a block that does not
    /// decode becomes a message in `problems`.
    pub fn metas<T: MetaBlock>(&self, problems: &mut Vec<String>) -> Vec<T> {
        let mut out = Vec::new();
        for block in self.blocks.iter().filter(|b| b.kind == T::KIND) {
            match self.meta_payload(block) {
                Ok(value) => out.push(value),
                Err(e) => problems.push(format!(
                    "{}: {} block at byte {}: {e:#}",
                    self.path.display(),
                    T::KIND,
                    block.offset
                )),
            }
        }
        out
    }

    fn meta_payload<T: MetaBlock>(&self, block: &BlockLoc) -> Result<T> {
        let payload = self.payload(block);
        let bytes;
        let payload = if block.flags & format::BLOCK_FLAG_COMPRESSED != 0 {
            bytes = format::decompress_meta(payload)?;
            &bytes[..]
        } else {
            payload
        };
        meta::decode(payload).context("the metadata does not decode")
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

/// The segments of one recording, in order.
pub struct Recording {
    pub id: u64,
    pub segments: Vec<Segment>,
    pub host: Option<HostInfo>,
    pub snapshot: Option<ProcSnapshot>,
    /// Every clock sample of the recording, by boot time.
    pub clocks: Vec<ClockSample>,
    /// The last statistics block: the recording's totals.
    pub stats: Option<Stats>,
    /// Metadata that did not decode.
    pub problems: Vec<String>,
}

impl Recording {
    fn assemble(id: u64, mut segments: Vec<Segment>) -> Self {
        segments.sort_by_key(|s| s.header.segment_index);
        let mut problems = Vec::new();
        let host = segments
            .iter()
            .find_map(|s| s.metas::<HostInfo>(&mut problems).into_iter().next());
        let snapshot = segments
            .first()
            .and_then(|s| s.metas::<ProcSnapshot>(&mut problems).into_iter().next());
        let mut clocks: Vec<ClockSample> = host.iter().map(|h| h.clock).collect();
        let mut stats = None;
        for segment in &segments {
            clocks.extend(segment.metas::<ClockSample>(&mut problems));
            // Statistics carry a clock sample too: a trace whose host info is damaged
            // still maps event times to wall-clock time.
            let all_stats = segment.metas::<Stats>(&mut problems);
            clocks.extend(all_stats.iter().map(|s| s.at));
            if let Some(last) = all_stats.into_iter().last() {
                stats = Some(last);
            }
        }
        clocks.sort_by_key(|c| c.boot_ns);
        clocks.dedup_by_key(|c| c.boot_ns);
        Recording {
            id,
            segments,
            host,
            snapshot,
            clocks,
            stats,
            problems,
        }
    }

    /// Wall-clock ns of a boot-time stamp, by the latest clock sample taken at or before it.
    pub fn realtime_ns(&self, boot_ns: u64) -> i64 {
        // The sample before the event; for events before any sample, the first one.
        let i = self.clocks.partition_point(|c| c.boot_ns <= boot_ns);
        match self.clocks.get(i.saturating_sub(1)) {
            Some(sample) => sample.to_realtime_ns(boot_ns),
            // No clock at all (a damaged trace): boot time stands in, visibly near 1970.
            None => boot_ns as i64,
        }
    }

    pub fn start_realtime_ns(&self) -> i64 {
        self.segments
            .first()
            .map(|s| s.header.created_realtime_ns as i64)
            .unwrap_or_default()
    }
}

/// Opens every file and groups segments by recording, recordings ordered by start time.
/// A second file holding a segment already given (same recording and segment index) is
/// left out with a warning in the recording's `problems`; missing segments are found
/// later (`info::continuity_warnings`).
pub fn open_recordings(paths: &[PathBuf]) -> Result<Vec<Recording>> {
    let mut by_id: Vec<(u64, Vec<Segment>, Vec<String>)> = Vec::new();
    for path in paths {
        let segment = open_segment(path)?;
        let id = segment.header.recording_id;
        match by_id.iter_mut().find(|(i, _, _)| *i == id) {
            Some((_, segments, notes)) => {
                let index = segment.header.segment_index;
                match segments.iter().find(|s| s.header.segment_index == index) {
                    Some(earlier) => notes.push(format!(
                        "{} is segment {index} of the recording again (given first as {}): \
                         it is left out",
                        path.display(),
                        earlier.path.display()
                    )),
                    None => segments.push(segment),
                }
            }
            None => by_id.push((id, vec![segment], Vec::new())),
        }
    }
    let mut recordings: Vec<Recording> = by_id
        .into_iter()
        .map(|(id, segments, notes)| {
            let mut recording = Recording::assemble(id, segments);
            recording.problems.splice(0..0, notes);
            recording
        })
        .collect();
    recordings.sort_by_key(|r| (r.start_realtime_ns(), r.id));
    Ok(recordings)
}
