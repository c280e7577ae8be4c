//! The writer thread: compresses frames and appends blocks to segment files, so the
//! ring-buffer drain never waits on zstd or the disk.
//!
//! Every segment is written by one [`SegmentWriter`] (over a [`SegmentFile`] in
//! production): each block in one append, so a full disk leaves no torn block. Every
//! segment, first or rotated, opens with the same blocks ([`SinkConfig::opening`]).
//!
//! After a write error (a full disk), the sink stops writing, finishes the segment so the
//! trace stays valid up to the last complete block, raises `failed` for the drain to see,
//! and keeps accepting (and discarding, counted as lost) messages so the drain never
//! blocks on it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use crate::format::{BlockKind, Codec, FileHeader, SegmentWriter, Storage};
use crate::meta::{self, MetaBlock};

use super::segment::{segment_path, SegmentFile};

/// Raw records collected by the drain, ready to become one frame.
pub struct FrameBuf {
    pub bytes: Vec<u8>,
    pub first_ts: u64,
    pub last_ts: u64,
    pub count: u32,
}

pub enum SinkMsg {
    Frame(FrameBuf),
    /// An already-encoded metadata payload.
    Meta {
        kind: BlockKind,
        payload: Vec<u8>,
        compress: bool,
    },
    /// Write the blocks that open a segment ([`SinkConfig::opening`]) now: sent once, for
    /// the first segment, after the programs are attached (a process that starts in
    /// between is then in the trace and in the snapshot, never in neither).
    Opening,
}

impl SinkMsg {
    pub fn meta<T: MetaBlock>(value: &T) -> Self {
        SinkMsg::Meta {
            kind: T::KIND,
            payload: meta::encode(value),
            compress: T::COMPRESSED,
        }
    }
}

/// A copy of what the sink stores, in the same order, for a consumer in the same process
/// (`kellect live`): metadata payloads uncompressed, frames as raw records.
pub enum TapItem {
    Meta { kind: BlockKind, payload: Vec<u8> },
    Frame { first_ts: u64, bytes: Vec<u8> },
}

pub struct SinkConfig {
    /// The trace file; `None` keeps nothing (live mode without `-w`).
    pub output: Option<PathBuf>,
    /// Receives every block as it is stored.
    pub tap: Option<SyncSender<TapItem>>,
    pub overwrite: bool,
    pub recording_id: u64,
    pub compression_level: i32,
    pub chunk_size: u64,
    /// Start a new segment once the current one holds this many bytes.
    pub rotate_size: Option<u64>,
    /// The metadata blocks that open every segment, first or rotated, freshly made for
    /// each: written on [`SinkMsg::Opening`] for the first segment, right after creation
    /// for every later one, so any segment replays alone.
    pub opening: Box<dyn Fn() -> Vec<SinkMsg> + Send>,
}

/// What the sink did, reported when it ends. Frames and records count only what was
/// stored (and, without a file, handed to the tap).
#[derive(Debug, Default)]
pub struct SinkReport {
    pub segments: Vec<PathBuf>,
    /// Frames stored.
    pub frames: u64,
    /// Records in the stored frames.
    pub records: u64,
    /// Uncompressed bytes of the stored records.
    pub raw_bytes: u64,
    /// Bytes of the segment files, as closed.
    pub written_bytes: u64,
    /// Records that reached the sink but were not stored: those of the frame whose write
    /// failed and of every frame received after it.
    pub lost_records: u64,
    pub error: Option<io::Error>,
}

struct Sink<S: Storage> {
    cfg: SinkConfig,
    /// Creates the storage of segment `index` at `path`.
    create: Box<dyn FnMut(&Path, bool) -> io::Result<S> + Send>,
    writer: Option<SegmentWriter<S>>,
    segment_index: u32,
    next_seq: u32,
    report: SinkReport,
    failed: Arc<AtomicBool>,
    recycle: SyncSender<Vec<u8>>,
}

/// Creates the first segment file (so an unwritable path fails before anything is
/// attached) and returns the function the writer thread runs.
pub fn open(
    cfg: SinkConfig,
    failed: Arc<AtomicBool>,
    recycle: SyncSender<Vec<u8>>,
) -> io::Result<impl FnOnce(Receiver<SinkMsg>) -> SinkReport> {
    let chunk_size = cfg.chunk_size;
    open_with(
        cfg,
        Box::new(move |path: &Path, overwrite: bool| {
            SegmentFile::create(path, overwrite, chunk_size)
        }),
        failed,
        recycle,
    )
}

/// [`open`] over any storage: `create(path, overwrite)` makes each segment's storage.
pub(crate) fn open_with<S: Storage + Send + 'static>(
    cfg: SinkConfig,
    create: Box<dyn FnMut(&Path, bool) -> io::Result<S> + Send>,
    failed: Arc<AtomicBool>,
    recycle: SyncSender<Vec<u8>>,
) -> io::Result<impl FnOnce(Receiver<SinkMsg>) -> SinkReport> {
    let mut sink = Sink {
        create,
        writer: None,
        segment_index: 0,
        next_seq: 0,
        report: SinkReport::default(),
        failed,
        recycle,
        cfg,
    };
    sink.start_segment()?;
    Ok(move |rx: Receiver<SinkMsg>| sink.run(rx))
}

impl<S: Storage> Sink<S> {
    fn run(mut self, rx: Receiver<SinkMsg>) -> SinkReport {
        for msg in rx {
            if self.report.error.is_some() {
                if let SinkMsg::Frame(f) = msg {
                    self.report.lost_records += u64::from(f.count);
                }
                continue;
            }
            if let Err(e) = self.handle(msg) {
                self.fail(e);
            }
        }
        if self.report.error.is_none() {
            if let Err(e) = self.finish_segment() {
                self.report.error = Some(e);
            }
        }
        self.report
    }

    fn fail(&mut self, e: io::Error) {
        self.failed.store(true, Ordering::SeqCst);
        // Keep what was written: close the segment as far as the disk allows (its Index
        // and End blocks may still fit where a frame did not).
        let _ = self.finish_segment();
        self.report.error = Some(e);
    }

    fn handle(&mut self, msg: SinkMsg) -> io::Result<()> {
        match msg {
            SinkMsg::Frame(frame) => {
                self.write_frame(&frame)?;
                // Give the buffer back to the drain; if it has enough, drop it.
                let mut bytes = frame.bytes;
                bytes.clear();
                let _ = self.recycle.try_send(bytes);
                if let (Some(limit), Some(writer)) = (self.cfg.rotate_size, &self.writer) {
                    if writer.offset() >= limit {
                        self.finish_segment()?;
                        self.start_segment()?;
                        self.write_opening()?;
                    }
                }
                Ok(())
            }
            SinkMsg::Meta {
                kind,
                payload,
                compress,
            } => self.write_meta(kind, &payload, compress),
            SinkMsg::Opening => self.write_opening(),
        }
    }

    fn tap(&self, item: impl FnOnce() -> TapItem) {
        if let Some(tap) = &self.cfg.tap {
            // A consumer that has gone changes nothing for the trace.
            let _ = tap.send(item());
        }
    }

    fn write_opening(&mut self) -> io::Result<()> {
        for msg in (self.cfg.opening)() {
            if let SinkMsg::Meta {
                kind,
                payload,
                compress,
            } = msg
            {
                self.write_meta(kind, &payload, compress)?;
            }
        }
        Ok(())
    }

    fn write_meta(&mut self, kind: BlockKind, payload: &[u8], compress: bool) -> io::Result<()> {
        self.tap(|| TapItem::Meta {
            kind,
            payload: payload.to_vec(),
        });
        if let Some(writer) = &mut self.writer {
            writer.push_meta(kind, payload, compress)?;
        }
        Ok(())
    }

    fn write_frame(&mut self, frame: &FrameBuf) -> io::Result<()> {
        if let Some(writer) = &mut self.writer {
            let stored = writer.push_frame(
                &frame.bytes,
                frame.first_ts,
                frame.last_ts,
                frame.count,
                Codec::Zstd,
            );
            if let Err(e) = stored {
                self.report.lost_records += u64::from(frame.count);
                return Err(e.into());
            }
        }
        self.tap(|| TapItem::Frame {
            first_ts: frame.first_ts,
            bytes: frame.bytes.clone(),
        });
        self.report.frames += 1;
        self.report.records += u64::from(frame.count);
        self.report.raw_bytes += frame.bytes.len() as u64;
        Ok(())
    }

    fn start_segment(&mut self) -> io::Result<()> {
        let Some(output) = &self.cfg.output else {
            return Ok(());
        };
        let path = segment_path(output, self.segment_index);
        let storage = (self.create)(&path, self.cfg.overwrite)?;
        let header = FileHeader {
            recording_id: self.cfg.recording_id,
            segment_index: self.segment_index,
            created_realtime_ns: super::host::clock_sample().realtime_ns as u64,
        };
        let mut writer = SegmentWriter::new(storage, &header, self.cfg.compression_level)
            .map_err(|e| with_path(e.into(), &path))?;
        writer.set_next_seq(self.next_seq);
        self.writer = Some(writer);
        self.report.segments.push(path);
        Ok(())
    }

    /// Closes the current segment (Index, End, truncation), even after a failed write.
    fn finish_segment(&mut self) -> io::Result<()> {
        let Some(writer) = self.writer.take() else {
            return Ok(());
        };
        self.next_seq = writer.next_seq();
        self.segment_index += 1;
        let before = writer.offset();
        match writer.finish() {
            Ok(storage) => {
                self.report.written_bytes += storage.committed();
                Ok(())
            }
            Err(e) => {
                self.report.written_bytes += before;
                Err(e.into())
            }
        }
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
