//! Opening trace files: map them, scan their blocks, group segments into recordings and
//! read the metadata every later stage needs.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use memmap2::{Mmap, MmapOptions, UncheckedAdvice};

use crate::format::{
    self, BlockHeader, BlockKind, Damage, FileHeader, FrameHeader, TraceReader, BLOCK_HEADER_LEN,
};
use crate::meta::{self, ClockSample, DecodeLimits, HostInfo, MetaBlock, ProcSnapshot, Stats};

use crate::replayer::MemoryBudget;

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

    /// Tells the kernel that bytes `from..to` of the file were read and are not needed
    /// again soon: their pages leave the resident set (a later read maps them from the file
    /// again, the same bytes), so a long trace's pages do not pile up in it as it is
    /// replayed. Only advice: nothing is returned, nothing fails.
    pub fn done_with(&self, from: usize, to: usize) {
        let to = to.min(self.bytes.len());
        if from < to {
            // SAFETY: the map is a read-only shared mapping of the file: a dropped page is
            // read back from the file as it was, and no reference sees anything else.
            let _ = unsafe {
                self.bytes
                    .unchecked_advise_range(UncheckedAdvice::DontNeed, from, to - from)
            };
        }
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

/// Metadata blocks that did not decode, as messages: the first
/// [`WARNINGS_PER_KIND`](crate::replayer::WARNINGS_PER_KIND), then only a count.
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<String>,
    /// Problems past the cap, not kept.
    pub more: u64,
}

impl Problems {
    /// Records a problem; its message is only built while under the cap.
    pub fn push(&mut self, message: impl FnOnce() -> String) {
        if self.list.len() < crate::replayer::WARNINGS_PER_KIND {
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
/// metadata is decoded within the default [`MemoryBudget`]. A second file holding a segment
/// already given (same recording and segment index) is left out with a warning in the
/// recording's `problems`; missing segments are found later (`info::continuity_warnings`).
pub fn open_recordings(paths: &[PathBuf]) -> Result<Vec<Recording>> {
    open_recordings_within(paths, MemoryBudget::default())
}

/// [`open_recordings`], decoding metadata within `budget`.
pub fn open_recordings_within(paths: &[PathBuf], budget: MemoryBudget) -> Result<Vec<Recording>> {
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
            let mut recording = Recording::assemble(id, segments, budget);
            recording.problems.splice(0..0, notes);
            recording
        })
        .collect();
    recordings.sort_by_key(|r| (r.start_realtime_ns(), r.id));
    Ok(recordings)
}

/// The segment files a command line's paths stand for, found by [`find_inputs`].
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files to open, each once: the paths as given, each followed by the other segments of
    /// its recording found beside it (by segment index), and for a directory, its traces
    /// by file name.
    pub paths: Vec<PathBuf>,
    /// Files looked at and left out, and why, as sentences for the user.
    pub notes: Vec<String>,
}

/// Expands the paths given to `replay` and `info` into segment files:
///
/// - a directory stands for every kellect trace directly in it (not in subdirectories),
///   taken in file-name order; files that do not start with a kellect header are skipped
///   and counted in a note; a directory with no trace at all is an error;
/// - a file is opened as a trace (an error when it is none) and, with `siblings`, the
///   other segments of its recording are looked for in the same directory: the names the
///   recorder gives them (`t.kz`, `t.1.kz`, `t.2.kz`, … for `t.kz`), each kept only when its
///   file header carries the same recording id. A segment that is not there is named later
///   by the continuity check ([`crate::replayer::info::continuity_warnings`]).
///
/// A file met twice (given twice, or given and found) is taken once. Errors name the path
/// and the problem; a file the user may not read says who owns it, its mode, and how to
/// get access (sudo, or a group that may read it).
pub fn find_inputs(paths: &[PathBuf], siblings: bool) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    let mut seen = std::collections::HashSet::new();
    let mut take = |path: PathBuf, inputs: &mut Inputs| {
        let key = std::fs::metadata(&path).map(|m| {
            use std::os::unix::fs::MetadataExt;
            (m.dev(), m.ino())
        });
        // A file whose identity cannot be read is taken as given: opening it says why.
        if key.map_or(true, |k| seen.insert(k)) {
            inputs.paths.push(path);
        }
    };
    for path in paths {
        let meta = std::fs::metadata(path).map_err(|e| unreadable(path, e, "cannot open"))?;
        if meta.is_dir() {
            for found in directory_traces(path, &mut inputs.notes)? {
                take(found, &mut inputs);
            }
            continue;
        }
        let header = match probe(path).map_err(|e| unreadable(path, e, "cannot open"))? {
            Probe::Trace(header) => header,
            Probe::NotTrace(why) => {
                anyhow::bail!("{} is not a readable kellect trace: {why}", path.display())
            }
        };
        take(path.clone(), &mut inputs);
        if siblings {
            for found in sibling_segments(path, &header, &mut inputs.notes) {
                take(found, &mut inputs);
            }
        }
    }
    Ok(inputs)
}

/// What the first bytes of a file say it is.
enum Probe {
    Trace(FileHeader),
    /// Not a kellect trace, and why (the header check that failed).
    NotTrace(String),
}

/// Reads the file header of `path`: its first bytes, as many as the longest header of any
/// format version ([`format::FILE_HEADER_LEN_V2`]; a v1 header is shorter).
fn probe(path: &Path) -> std::io::Result<Probe> {
    use std::io::Read;
    const LONGEST: usize = if format::FILE_HEADER_LEN_V2 > format::FILE_HEADER_LEN {
        format::FILE_HEADER_LEN_V2
    } else {
        format::FILE_HEADER_LEN
    };
    let mut head = Vec::with_capacity(LONGEST);
    File::open(path)?
        .take(LONGEST as u64)
        .read_to_end(&mut head)?;
    Ok(match FileHeader::decode(&head) {
        Ok(header) => Probe::Trace(header),
        Err(_) if head.is_empty() => Probe::NotTrace("the file is empty".into()),
        Err(e) => Probe::NotTrace(e.to_string()),
    })
}

/// The traces directly in `dir`, by file name. Errors when it holds none.
fn directory_traces(dir: &Path, notes: &mut Vec<String>) -> Result<Vec<PathBuf>> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| unreadable(dir, e, "cannot list the directory"))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut traces = Vec::new();
    let mut not_traces = 0usize;
    let mut subdirectories = 0usize;
    let mut first_unreadable = None;
    for path in names {
        // Links are followed: a link to a trace is read as the trace.
        match std::fs::metadata(&path) {
            Ok(m) if m.is_dir() => {
                subdirectories += 1;
                continue;
            }
            Ok(m) if !m.is_file() => {
                not_traces += 1;
                continue;
            }
            _ => {}
        }
        match probe(&path) {
            Ok(Probe::Trace(_)) => traces.push(path),
            Ok(Probe::NotTrace(_)) => not_traces += 1,
            Err(e) => {
                if first_unreadable.is_none() {
                    first_unreadable = Some(unreadable(&path, e, "cannot read"));
                } else {
                    notes.push(format!("cannot read {}: it is left out", path.display()));
                }
            }
        }
    }
    if traces.is_empty() {
        if let Some(e) = first_unreadable {
            return Err(e.context(format!(
                "{} holds no kellect trace that could be read",
                dir.display()
            )));
        }
        anyhow::bail!(
            "{} holds no kellect trace: {}",
            dir.display(),
            match (not_traces, subdirectories) {
                (0, 0) => "the directory is empty".to_owned(),
                (n, s) => format!(
                    "none of its {n} files starts with a kellect file header{}",
                    match s {
                        0 => String::new(),
                        s => format!(" ({s} subdirectories are not looked into)"),
                    }
                ),
            }
        );
    }
    if let Some(e) = first_unreadable {
        notes.push(format!("{e:#}: it is left out"));
    }
    if not_traces > 0 {
        notes.push(format!(
            "{}: {not_traces} files that are not kellect traces are left out",
            dir.display()
        ));
    }
    Ok(traces)
}

/// The other segments of `header`'s recording beside `path`, by the names the recorder
/// gives them, kept only when their header has the same recording id; in segment-index
/// order. Files with a segment's name that are something else go into `notes`.
fn sibling_segments(path: &Path, header: &FileHeader, notes: &mut Vec<String>) -> Vec<PathBuf> {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return Vec::new();
    };
    let Some((stem, ext)) = first_segment_name(name, header.segment_index) else {
        return Vec::new();
    };
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(u32, PathBuf)> = Vec::new();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(index) = file_name
            .to_str()
            .and_then(|n| segment_number(n, stem, ext))
        else {
            continue;
        };
        let candidate = dir.join(&file_name);
        if index == header.segment_index && file_name.to_str() == Some(name) {
            continue;
        }
        match probe(&candidate) {
            Ok(Probe::Trace(h)) if h.recording_id == header.recording_id => {
                found.push((h.segment_index, candidate))
            }
            Ok(Probe::Trace(h)) => notes.push(format!(
                "{} is named like a segment of {} but belongs to another recording ({:016x}, \
                 not {:016x}): it is left out",
                candidate.display(),
                path.display(),
                h.recording_id,
                header.recording_id
            )),
            Ok(Probe::NotTrace(why)) => notes.push(format!(
                "{} is named like a segment of {} but is not a kellect trace ({why}): it is \
                 left out",
                candidate.display(),
                path.display()
            )),
            Err(e) => notes.push(format!(
                "{:#}: it is left out",
                unreadable(&candidate, e, "cannot read")
            )),
        }
    }
    found.sort();
    found.into_iter().map(|(_, p)| p).collect()
}

/// `(stem, extension)` of the recording's first segment, from the name of its segment
/// `index`: `t.kz` (index 0) and `t.3.kz` (index 3) give `("t", Some("kz"))`; `t.3` (index
/// 3) gives `("t", None)`. `None` when the name does not carry the index as the recorder
/// writes it (a renamed file).
fn first_segment_name(name: &str, index: u32) -> Option<(&str, Option<&str>)> {
    if index == 0 {
        return Some(match name.rsplit_once('.') {
            Some((stem, ext)) if !stem.is_empty() => (stem, Some(ext)),
            _ => (name, None),
        });
    }
    let tag = format!(".{index}");
    if let Some((stem, ext)) = name.rsplit_once('.') {
        if let Some(base) = stem.strip_suffix(&tag).filter(|b| !b.is_empty()) {
            return Some((base, Some(ext)));
        }
    }
    name.strip_suffix(&tag)
        .filter(|b| !b.is_empty())
        .map(|base| (base, None))
}

/// The segment number a file name says it has, among the names of the recording whose
/// first segment is `stem.ext` (or `stem`): 0 for that name, N for `stem.N.ext`.
fn segment_number(name: &str, stem: &str, ext: Option<&str>) -> Option<u32> {
    let rest = name.strip_prefix(stem)?;
    let middle = match ext {
        Some(ext) => {
            let rest = rest.strip_suffix(ext)?.strip_suffix('.')?;
            if rest.is_empty() {
                return Some(0);
            }
            rest.strip_prefix('.')?
        }
        None if rest.is_empty() => return Some(0),
        None => rest.strip_prefix('.')?,
    };
    if middle.is_empty() || !middle.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    middle.parse().ok()
}

/// An error reading `path`, saying what to do when it is a matter of permission: who owns
/// it, its mode, and the two ways in (sudo, or a group allowed to read it).
fn unreadable(path: &Path, e: std::io::Error, doing: &str) -> anyhow::Error {
    if e.kind() != std::io::ErrorKind::PermissionDenied {
        return anyhow::Error::new(e).context(format!("{doing} {}", path.display()));
    }
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(path).ok().map(|m| {
        format!(
            ": it is owned by {} with mode {:04o}",
            user_name(m.uid()),
            m.mode() & 0o7777
        )
    });
    anyhow::anyhow!(
        "{doing} {}: permission denied{} (kellect makes traces readable by their owner only); \
         run kellect with sudo, or give a group read access (chgrp GROUP FILE; chmod g+r FILE, \
         and g+rx on its directory) and run kellect as a member of that group",
        path.display(),
        owner.unwrap_or_default()
    )
}

/// The name of user `uid` from /etc/passwd, or `uid N` when it has none there.
fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|passwd| {
            passwd.lines().find_map(|line| {
                let mut fields = line.split(':');
                let name = fields.next()?;
                let id: u32 = fields.nth(1)?.parse().ok()?;
                (id == uid).then(|| name.to_owned())
            })
        })
        .unwrap_or_else(|| format!("uid {uid}"))
}

#[cfg(test)]
mod find_tests {
    use super::*;

    #[test]
    fn segment_names() {
        assert_eq!(first_segment_name("t.kz", 0), Some(("t", Some("kz"))));
        assert_eq!(first_segment_name("t.3.kz", 3), Some(("t", Some("kz"))));
        assert_eq!(
            first_segment_name("a.b.12.kz", 12),
            Some(("a.b", Some("kz")))
        );
        assert_eq!(first_segment_name("t.3", 3), Some(("t", None)));
        assert_eq!(first_segment_name("t", 0), Some(("t", None)));
        assert_eq!(first_segment_name("renamed.kz", 3), None);
        assert_eq!(segment_number("t.kz", "t", Some("kz")), Some(0));
        assert_eq!(segment_number("t.7.kz", "t", Some("kz")), Some(7));
        for other in [
            "t.kz.bak", "t.x.kz", "t..kz", "tt.1.kz", "t.1.kzz", "t.+1.kz", "t.1",
        ] {
            assert_eq!(segment_number(other, "t", Some("kz")), None, "{other}");
        }
        assert_eq!(segment_number("t.2", "t", None), Some(2));
        assert_eq!(segment_number("t", "t", None), Some(0));
        assert_eq!(segment_number("t.99999999999", "t", None), None);
    }
}
