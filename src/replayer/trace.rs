//! Opening trace files: map them, scan their blocks, group segments into recordings and
//! read the metadata every later stage needs.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use memmap2::{Mmap, MmapOptions};

use crate::format::{
    self, BlockHeader, BlockKind, Damage, FileHeader, FrameHeader, TraceReader, BLOCK_HEADER_LEN,
};
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
    /// Set when the segment was still being written as it was opened: says so and up to
    /// which byte it was read (its committed blocks), for `info` and `replay` to print.
    pub note: Option<String>,
}

impl Segment {
    pub fn payload(&self, block: &BlockLoc) -> &[u8] {
        &self.bytes[block.payload.0..block.payload.1]
    }

    /// The whole file as mapped (for `kellect verify`'s chain check).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
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
///
/// A segment that a recorder is still writing (it holds `flock(LOCK_EX)` on it, so a
/// non-blocking `LOCK_SH` fails) is read only up to its last committed block, found by
/// walking the block headers with `pread`; [`Segment::note`] then says so. Only that
/// prefix is mapped: the recorder never shrinks a segment below what it has committed, so
/// the mapping cannot fault when it truncates its preallocated tail.
pub fn open_segment(path: &Path) -> Result<Segment> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let being_written = !try_lock_shared(&file);
    let (bytes, note) = if being_written {
        let committed =
            committed_len(&file).with_context(|| format!("cannot read {}", path.display()))?;
        // SAFETY: the trace is mapped read-only and treated as untrusted bytes (every
        // length is checked). Only the committed prefix is mapped; the writer only appends
        // and truncates to no less than what it committed, so these pages stay in the file.
        let map = unsafe { MmapOptions::new().len(committed as usize).map(&file) }
            .with_context(|| format!("cannot map {} into memory", path.display()))?;
        let note = format!(
            "the segment is being written: it was read up to byte {committed} (its \
             committed blocks); what the recorder writes after that is not in this output"
        );
        (map, Some(note))
    } else {
        // SAFETY: the trace is mapped read-only and treated as untrusted bytes (every
        // length is checked). No recorder holds its lock, so it is finished (or its
        // recorder died, or it was created a moment ago and is still empty) and its length
        // no longer changes under kellect; as with any memory-mapped reader, another
        // program truncating it while mapped would crash this process (SIGBUS).
        let map = unsafe { Mmap::map(&file) }
            .with_context(|| format!("cannot map {} into memory", path.display()))?;
        (map, None)
    };
    drop(file);
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
        note,
        bytes,
    })
}

/// Takes a shared `flock` without waiting; `false` when a writer holds the exclusive one.
/// Where locks are not supported, the file counts as not being written. The lock goes when
/// the file is closed.
fn try_lock_shared(file: &File) -> bool {
    // SAFETY: flock only reads its integer arguments; the fd is open.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_SH | libc::LOCK_NB) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EWOULDBLOCK)
}

/// The bytes of a segment being written that are committed: the file header and every
/// block after it whose header is valid (sync word, header CRC, length limit) and whose
/// payload lies inside the file, up to the first that is not (or an End block). The
/// writer stores a block's header after its payload, so a valid header means the payload
/// is there. Reads headers with `pread`, 24 bytes at a time; maps nothing.
fn committed_len(file: &File) -> std::io::Result<u64> {
    let file_len = file.metadata()?.len();
    let mut head = vec![0u8; file_len.min(64 << 10) as usize];
    if file.read_exact_at(&mut head, 0).is_err() {
        return Ok(0);
    }
    let Ok(reader) = TraceReader::new(&head) else {
        // The header is not written yet (or not a trace): nothing is committed.
        return Ok(0);
    };
    let mut pos = reader.data_offset();
    let mut header = [0u8; BLOCK_HEADER_LEN];
    while pos + BLOCK_HEADER_LEN as u64 <= file_len {
        if file.read_exact_at(&mut header, pos).is_err() {
            break;
        }
        let Ok(block) = BlockHeader::decode(&header) else {
            break;
        };
        let end = pos + block.block_len();
        if end > file_len {
            break;
        }
        pos = end;
        if block.kind == BlockKind::End {
            break;
        }
    }
    Ok(pos)
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
