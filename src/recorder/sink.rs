//! The writer thread: compresses frames and appends blocks to segment files, so the
//! ring-buffer drain never waits on zstd or the disk.
//!
//! After a write error (a full disk), the sink stops writing, finishes the segment so the
//! trace stays valid up to the last complete block, raises `failed` for the drain to see,
//! and keeps accepting (and discarding) messages so the drain never blocks on it.

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;

use crate::format::{self, BlockKind, FileHeader, FrameHeader, IndexBuilder};
use crate::meta::{self, MetaBlock};

use super::segment::{segment_path, SegmentWriter};

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
    /// Blocks that open every segment (host info), already encoded.
    pub preamble: Vec<SinkMsg>,
    /// Fresh state (process snapshot, clock) for each new segment after the first.
    pub snapshot: Box<dyn Fn() -> Vec<SinkMsg> + Send>,
}

/// What the sink did, reported when it ends.
#[derive(Debug, Default)]
pub struct SinkReport {
    pub segments: Vec<PathBuf>,
    pub frames: u64,
    pub records: u64,
    pub raw_bytes: u64,
    pub written_bytes: u64,
    /// Records received after a write error, not stored.
    pub lost_records: u64,
    pub error: Option<io::Error>,
}

struct Sink {
    cfg: SinkConfig,
    segment: Option<SegmentWriter>,
    segment_index: u32,
    index: IndexBuilder,
    compressor: zstd::bulk::Compressor<'static>,
    frame_seq: u32,
    report: SinkReport,
    failed: Arc<AtomicBool>,
    recycle: SyncSender<Vec<u8>>,
}

/// Creates the first segment (so an unwritable path fails before anything is attached)
/// and returns the function the writer thread runs.
pub fn open(
    cfg: SinkConfig,
    failed: Arc<AtomicBool>,
    recycle: SyncSender<Vec<u8>>,
) -> io::Result<impl FnOnce(Receiver<SinkMsg>) -> SinkReport> {
    let compressor = zstd::bulk::Compressor::new(cfg.compression_level)?;
    let mut sink = Sink {
        segment: None,
        segment_index: 0,
        index: IndexBuilder::new(),
        compressor,
        frame_seq: 0,
        report: SinkReport::default(),
        failed,
        recycle,
        cfg,
    };
    sink.start_segment(false)?;
    Ok(move |rx: Receiver<SinkMsg>| sink.run(rx))
}

impl Sink {
    fn run(mut self, rx: Receiver<SinkMsg>) -> SinkReport {
        for msg in rx {
            if self.report.error.is_some() {
                if let SinkMsg::Frame(f) = msg {
                    self.report.lost_records += f.count as u64;
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
        // Keep what was written: close the segment as far as the disk allows.
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
                if let (Some(limit), Some(segment)) = (self.cfg.rotate_size, &self.segment) {
                    if segment.offset() >= limit {
                        self.finish_segment()?;
                        self.start_segment(true)?;
                    }
                }
                Ok(())
            }
            SinkMsg::Meta {
                kind,
                payload,
                compress,
            } => self.write_meta(kind, &payload, compress),
        }
    }

    fn tap(&self, item: impl FnOnce() -> TapItem) {
        if let Some(tap) = &self.cfg.tap {
            // A consumer that has gone changes nothing for the trace.
            let _ = tap.send(item());
        }
    }

    fn write_block(&mut self, kind: BlockKind, flags: u16, payload: &[u8]) -> io::Result<u64> {
        let header = format::block_header(kind, flags, payload);
        let Some(segment) = self.segment.as_mut() else {
            return Ok(0);
        };
        let offset = segment.offset();
        segment.append(&header)?;
        segment.append(payload)?;
        self.report.written_bytes += (header.len() + payload.len()) as u64;
        Ok(offset)
    }

    fn write_meta(&mut self, kind: BlockKind, payload: &[u8], compress: bool) -> io::Result<()> {
        self.tap(|| TapItem::Meta {
            kind,
            payload: payload.to_vec(),
        });
        if self.segment.is_none() {
            return Ok(());
        }
        if compress {
            let packed = format::compress_meta(payload, self.cfg.compression_level)?;
            self.write_block(kind, format::BLOCK_FLAG_COMPRESSED, &packed)?;
        } else {
            self.write_block(kind, 0, payload)?;
        }
        Ok(())
    }

    fn write_frame(&mut self, frame: &FrameBuf) -> io::Result<()> {
        self.tap(|| TapItem::Frame {
            first_ts: frame.first_ts,
            bytes: frame.bytes.clone(),
        });
        self.report.frames += 1;
        self.report.records += frame.count as u64;
        self.report.raw_bytes += frame.bytes.len() as u64;
        if self.segment.is_none() {
            return Ok(());
        }
        let header = FrameHeader {
            first_ts: frame.first_ts,
            last_ts: frame.last_ts,
            record_count: frame.count,
            raw_len: frame.bytes.len() as u32,
            codec: format::Codec::Zstd,
            seq: self.frame_seq,
        };
        let payload = format::encode_frame(&header, &frame.bytes, &mut self.compressor)?;
        let offset = self.write_block(BlockKind::Frame, 0, &payload)?;
        self.index.push(offset, &header);
        self.frame_seq += 1;
        Ok(())
    }

    fn start_segment(&mut self, rotated: bool) -> io::Result<()> {
        if let Some(output) = &self.cfg.output {
            let path = segment_path(output, self.segment_index);
            let mut writer = SegmentWriter::create(&path, self.cfg.overwrite, self.cfg.chunk_size)
                .map_err(|e| with_path(e, &path))?;
            let header = FileHeader {
                recording_id: self.cfg.recording_id,
                segment_index: self.segment_index,
                created_realtime_ns: super::host::clock_sample().realtime_ns as u64,
            };
            writer.append(&header.encode())?;
            self.segment = Some(writer);
            self.report.segments.push(path);
        }
        for i in 0..self.cfg.preamble.len() {
            let SinkMsg::Meta {
                kind,
                payload,
                compress,
            } = &self.cfg.preamble[i]
            else {
                continue;
            };
            let (kind, payload, compress) = (*kind, payload.clone(), *compress);
            self.write_meta(kind, &payload, compress)?;
        }
        if rotated {
            for msg in (self.cfg.snapshot)() {
                if let SinkMsg::Meta {
                    kind,
                    payload,
                    compress,
                } = msg
                {
                    self.write_meta(kind, &payload, compress)?;
                }
            }
        }
        Ok(())
    }

    fn finish_segment(&mut self) -> io::Result<()> {
        let Some(mut segment) = self.segment.take() else {
            return Ok(());
        };
        let index_offset = segment.offset();
        let tail = self.index.encode_index_and_end(index_offset);
        let appended = segment.append(&tail);
        self.index = IndexBuilder::new();
        // Truncate to the bytes written even when the index did not fit.
        segment.finish()?;
        self.segment_index += 1;
        appended
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}
