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
use std::time::{Duration, Instant};

use crate::format::{
    BlockKind, ChainHead, Codec, FileHeader, SealingKey, SealingKeyFile, SegmentWriter, Storage,
};
use crate::meta::{self, MetaBlock};

use super::segment::{
    existing_rotated_segment, segment_path, snapshot_segments, OutputDir, SegmentFile, Snapshot,
};

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
    /// Close the current segment and start the next one now (SIGHUP), whatever its size
    /// and age. Without a trace file, nothing happens.
    Rotate,
    /// Close the current segment as [`SinkMsg::Rotate`] does, then keep every closed
    /// segment of the ring in a snapshot directory the ring never deletes from (SIGUSR1,
    /// `kellect snapshot`): [`SinkReport::snapshots`]. Without a trace file, nothing is
    /// kept and the reason is in [`SinkReport::snapshot_errors`].
    Snapshot,
    /// The recording stops, for this reason: written as a `Stop` block (before the last
    /// seal, Index and End). The last message the recorder sends.
    Stop {
        reason: String,
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
    /// Start a new segment once the current one is this old (checked at every block
    /// stored, so at least as often as the recorder writes statistics).
    pub rotate_time: Option<Duration>,
    /// A ring of at most this many segments: when a new segment starts, the one that is
    /// this many older is deleted first. `None` keeps every segment.
    pub keep: Option<u32>,
    /// The metadata blocks that open every segment, first or rotated, freshly made for
    /// each: written on [`SinkMsg::Opening`] for the first segment, right after creation
    /// for every later one, so any segment replays alone.
    pub opening: Box<dyn Fn() -> Vec<SinkMsg> + Send>,
    /// The custody facts, being gathered on a thread of their own (hashing the recorder's
    /// binary takes a moment): written into every segment right after its opening blocks,
    /// and into the first one as soon as they are ready, so the writer never waits for them
    /// while the ring buffer fills.
    pub custody: Option<std::thread::JoinHandle<meta::Custody>>,
    /// Seal the chain with this key (`--seal-key`): at every epoch's end and at every
    /// segment's end. Ignored without a trace file.
    pub seal: Option<Sealing>,
    /// Remote anchoring: every seal written is also sent, as one small UDP datagram
    /// ([`SealAnchor`], one JSON line), to each of these collectors (`live -u`), so that
    /// they hold proof of what existed when. Nothing is sent without sealing.
    pub anchors: Vec<std::net::SocketAddr>,
}

/// The datagram that anchors a seal at a collector: one JSON object on one line,
/// `{"kellect_seal":{...}}`, so a collector of NDJSON records can tell it from records.
#[derive(Debug, serde::Serialize)]
pub struct SealAnchor {
    /// The recording id, 16 hex digits (as `info` shows it).
    pub recording_id: String,
    pub segment_index: u32,
    /// File offset of the Seal block in its segment.
    pub offset: u64,
    pub epoch: u64,
    /// The epoch's `CLOCK_REALTIME` window, ns.
    pub epoch_start_ns: u64,
    pub epoch_end_ns: u64,
    /// 16 hex digits.
    pub key_id: String,
    /// The chain head the seal covers and its tag, 64 hex digits each.
    pub chain_head: String,
    pub tag: String,
}

/// Sends [`SealAnchor`] datagrams; a send that fails is counted, never fatal.
struct Anchors {
    socket: std::net::UdpSocket,
    to: Vec<std::net::SocketAddr>,
}

impl Anchors {
    fn open(to: &[std::net::SocketAddr]) -> io::Result<Option<Anchors>> {
        if to.is_empty() {
            return Ok(None);
        }
        let any: std::net::SocketAddr = if to.iter().all(|a| a.is_ipv6()) {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        } else {
            (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
        };
        let socket = std::net::UdpSocket::bind(any)?;
        socket.set_nonblocking(true)?;
        Ok(Some(Anchors {
            socket,
            to: to.to_vec(),
        }))
    }

    /// Sends one anchor to every collector; returns how many sends failed.
    fn send(&self, anchor: &SealAnchor) -> u64 {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            kellect_seal: &'a SealAnchor,
        }
        let Ok(bytes) = serde_json::to_vec(&Line {
            kellect_seal: anchor,
        }) else {
            return self.to.len() as u64;
        };
        self.to
            .iter()
            .filter(|to| self.socket.send_to(&bytes, to).is_err())
            .count() as u64
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sealing key of a recording and the file it lives in: the sink seals with it, then
/// evolves it, erasing the old key in memory and rewriting the file (`format::seal`).
pub struct Sealing {
    pub file: SealingKeyFile,
    pub key: SealingKey,
}

impl Sealing {
    /// Reads the sealing key file at `path` (see [`SealingKeyFile::load`]).
    pub fn load(path: &Path) -> io::Result<Sealing> {
        let (file, key) = SealingKeyFile::load(path)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
        Ok(Sealing { file, key })
    }

    /// The public parameters the `Custody` block records.
    pub fn params(&self) -> meta::SealParams {
        let clock = self.key.clock();
        meta::SealParams {
            key_id: self.key.key_id().0,
            start_ns: clock.start_ns,
            interval_ns: clock.interval_ns,
        }
    }
}

/// `CLOCK_REALTIME` now, ns since the Unix epoch (0 before it).
fn realtime_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
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
    /// Segments the ring (`keep`) deleted, oldest first; they are no longer in `segments`.
    pub deleted: Vec<PathBuf>,
    /// Segments the ring could not delete, with the reason: the recording went on.
    pub delete_errors: Vec<String>,
    /// The snapshots kept on request ([`SinkMsg::Snapshot`]), in order.
    pub snapshots: Vec<Snapshot>,
    /// Snapshots that could not be made (or not wholly), with the reason: the recording
    /// went on.
    pub snapshot_errors: Vec<String>,
    /// Seal blocks stored.
    pub seals: u64,
    /// Anchor datagrams that could not be sent (`anchors`).
    pub anchor_failures: u64,
    pub error: Option<io::Error>,
}

/// Creates the storage of a segment: `(path, overwrite)`.
pub(crate) type CreateStorage<S> = Box<dyn FnMut(&Path, bool) -> io::Result<S> + Send>;
/// Deletes a closed segment that the ring no longer keeps.
pub(crate) type RemoveSegment = Box<dyn FnMut(&Path) -> io::Result<()> + Send>;
/// Keeps closed segments in a snapshot ([`snapshot_segments`] in production): `(segments,
/// now as realtime ns)`.
pub(crate) type KeepSnapshot = Box<dyn FnMut(&[PathBuf], u64) -> io::Result<Snapshot> + Send>;

struct Sink<S: Storage> {
    cfg: SinkConfig,
    create: CreateStorage<S>,
    remove: RemoveSegment,
    snapshot: KeepSnapshot,
    writer: Option<SegmentWriter<S>>,
    /// When the current segment was started (for `rotate_time`).
    segment_started: Instant,
    segment_index: u32,
    next_seq: u32,
    /// The final chain head of the last closed segment, which the next one links to.
    prev_head: ChainHead,
    report: SinkReport,
    failed: Arc<AtomicBool>,
    recycle: SyncSender<Vec<u8>>,
    sealing: Option<Sealing>,
    anchors: Option<Anchors>,
    /// The custody facts, once `cfg.custody` is ready.
    custody: Option<meta::Custody>,
    /// Whether the current segment's opening blocks are written (custody may follow).
    opened: bool,
}

/// Creates the first segment file (so an unwritable path fails before anything is
/// attached) and returns the function the writer thread runs.
pub fn open(
    cfg: SinkConfig,
    failed: Arc<AtomicBool>,
    recycle: SyncSender<Vec<u8>>,
) -> io::Result<impl FnOnce(Receiver<SinkMsg>) -> SinkReport> {
    let chunk_size = cfg.chunk_size;
    // Every segment goes to the directory the output path named at the start.
    let dir = cfg
        .output
        .as_deref()
        .map(OutputDir::of)
        .transpose()?
        .map(Arc::new);
    // A rotated name already taken would end the recording at that rotation: refuse it now.
    if let (Some(output), Some(_), false) = (&cfg.output, cfg.rotate_size, cfg.overwrite) {
        if let Some(taken) = existing_rotated_segment(output)? {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} already exists (a segment of an earlier recording?): a rotated \
                     segment of this one would need its name (-f replaces it with a new file)",
                    taken.display()
                ),
            ));
        }
    }
    let (create_dir, output) = (dir.clone(), cfg.output.clone());
    open_with(
        cfg,
        Box::new(move |path: &Path, overwrite: bool| match &create_dir {
            Some(dir) => SegmentFile::create_in(dir, path, overwrite, chunk_size),
            None => SegmentFile::create(path, overwrite, chunk_size),
        }),
        Box::new(|path: &Path| std::fs::remove_file(path)),
        Box::new(
            move |segments: &[PathBuf], now: u64| match (&dir, &output) {
                (Some(dir), Some(output)) => snapshot_segments(dir, output, segments, now),
                _ => Err(io::Error::other("no trace file")),
            },
        ),
        failed,
        recycle,
    )
}

/// [`open`] over any storage: `create(path, overwrite)` makes each segment's storage,
/// `remove(path)` deletes a segment the ring no longer keeps, `snapshot(segments, now)`
/// keeps closed segments on request.
pub(crate) fn open_with<S: Storage + Send + 'static>(
    mut cfg: SinkConfig,
    create: CreateStorage<S>,
    remove: RemoveSegment,
    snapshot: KeepSnapshot,
    failed: Arc<AtomicBool>,
    recycle: SyncSender<Vec<u8>>,
) -> io::Result<impl FnOnce(Receiver<SinkMsg>) -> SinkReport> {
    let mut sink = Sink {
        create,
        remove,
        snapshot,
        writer: None,
        segment_started: Instant::now(),
        segment_index: 0,
        next_seq: 0,
        prev_head: ChainHead::ZERO,
        report: SinkReport::default(),
        failed,
        recycle,
        sealing: cfg.seal.take().filter(|_| cfg.output.is_some()),
        anchors: None,
        custody: None,
        opened: false,
        cfg,
    };
    // Epochs that passed since the key was last used covered nothing: evolve past them, so
    // the first seal is made with the key of the epoch the recording starts in.
    if let Some(sealing) = &mut sink.sealing {
        let now = sealing.key.clock().epoch_at(realtime_ns());
        if sealing.key.epoch() < now {
            sealing.key.evolve_to(now);
            sealing
                .file
                .store(&sealing.key)
                .map_err(|e| io::Error::other(e.to_string()))?;
        }
    }
    if sink.sealing.is_some() {
        sink.anchors = Anchors::open(&sink.cfg.anchors)?;
    }
    sink.start_segment()?;
    Ok(move |rx: Receiver<SinkMsg>| sink.run(rx))
}

impl<S: Storage> Sink<S> {
    fn run(mut self, rx: Receiver<SinkMsg>) -> SinkReport {
        loop {
            let msg = match self.until_epoch_end() {
                Some(wait) => match rx.recv_timeout(wait) {
                    Ok(msg) => Some(msg),
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => None,
                    Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
                },
                None => match rx.recv() {
                    Ok(msg) => Some(msg),
                    Err(_) => break,
                },
            };
            if self.report.error.is_none() {
                if let Err(e) = self.seal_elapsed() {
                    self.fail(e);
                }
            }
            let Some(msg) = msg else { continue };
            if self.report.error.is_some() {
                if let SinkMsg::Frame(f) = msg {
                    self.report.lost_records += u64::from(f.count);
                }
                continue;
            }
            if let Err(e) = self.handle(msg).and_then(|()| self.poll_custody(false)) {
                self.fail(e);
            }
        }
        if self.report.error.is_none() {
            if let Err(e) = self.poll_custody(true) {
                self.fail(e);
            }
        }
        if self.report.error.is_none() {
            if let Err(e) = self.finish_segment() {
                self.report.error = Some(e);
            }
        }
        if self.report.anchor_failures > 0 {
            eprintln!(
                "kellect: warning: {} seal datagrams to the -u collectors could not be sent",
                self.report.anchor_failures
            );
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
                let full = match (self.cfg.rotate_size, &self.writer) {
                    (Some(limit), Some(writer)) => writer.offset() >= limit,
                    _ => false,
                };
                if full || self.too_old() {
                    self.rotate()?;
                }
                Ok(())
            }
            SinkMsg::Meta {
                kind,
                payload,
                compress,
            } => {
                self.write_meta(kind, &payload, compress)?;
                if self.too_old() {
                    self.rotate()?;
                }
                Ok(())
            }
            SinkMsg::Opening => self.write_opening(),
            SinkMsg::Rotate => self.rotate(),
            SinkMsg::Snapshot => self.keep_snapshot(),
            SinkMsg::Stop { reason } => {
                let stop = meta::Stop {
                    stopped_realtime_ns: i64::try_from(realtime_ns()).unwrap_or(i64::MAX),
                    reason,
                };
                self.write_meta(BlockKind::Stop, &meta::encode(&stop), false)
            }
        }
    }

    /// How long until the current seal epoch ends; `None` when not sealing.
    fn until_epoch_end(&self) -> Option<Duration> {
        let sealing = self.sealing.as_ref()?;
        let (_, end) = sealing.key.clock().window(sealing.key.epoch());
        Some(Duration::from_nanos(end.saturating_sub(realtime_ns())))
    }

    /// Seals every epoch that has ended, each with its own key, evolving the key after each
    /// (an epoch that passed without a block still gets its seal: the verifier requires
    /// one per epoch); then rewrites the key file once. A key file that cannot be rewritten
    /// is a warning: the recording goes on, and the key in memory has evolved anyway.
    ///
    /// Errors: a seal block that cannot be written (the recording then stops as on any
    /// write error).
    fn seal_elapsed(&mut self) -> io::Result<()> {
        let (Some(sealing), Some(_)) = (&self.sealing, &self.writer) else {
            return Ok(());
        };
        let now = sealing.key.clock().epoch_at(realtime_ns());
        if sealing.key.epoch() >= now {
            return Ok(());
        }
        while let Some(sealing) = self.sealing.as_ref().filter(|s| s.key.epoch() < now) {
            let next = sealing.key.epoch() + 1;
            self.push_seal()?;
            if let Some(sealing) = &mut self.sealing {
                sealing.key.evolve_to(next);
            }
        }
        if let Some(sealing) = &self.sealing {
            if let Err(e) = sealing.file.store(&sealing.key) {
                eprintln!(
                    "kellect: warning: the sealing key file could not be rewritten ({e}); it \
                     still holds an earlier epoch's key"
                );
            }
        }
        Ok(())
    }

    /// The seal that ends a segment: every ended epoch first, then the current epoch's
    /// seal of everything written so far (the key does not evolve: its epoch goes on).
    fn seal_segment_end(&mut self) -> io::Result<()> {
        self.seal_elapsed()?;
        self.push_seal()
    }

    /// Appends a Seal block of the chain head so far under the current epoch's key, and
    /// sends its anchor to the collectors. Nothing without sealing or a segment.
    fn push_seal(&mut self) -> io::Result<()> {
        let (Some(sealing), Some(writer)) = (&self.sealing, &mut self.writer) else {
            return Ok(());
        };
        let seal = sealing
            .key
            .seal(writer.chain_head().unwrap_or(ChainHead::ZERO));
        let offset = writer.push_block(BlockKind::Seal, 0, &seal.encode())?;
        self.report.seals += 1;
        if let Some(anchors) = &self.anchors {
            let anchor = SealAnchor {
                recording_id: format!("{:016x}", self.cfg.recording_id),
                segment_index: writer.header().segment_index,
                offset,
                epoch: seal.epoch,
                epoch_start_ns: seal.epoch_start_ns,
                epoch_end_ns: seal.epoch_end_ns,
                key_id: seal.key_id.to_string(),
                chain_head: seal.head.to_string(),
                tag: hex(&seal.tag),
            };
            self.report.anchor_failures += anchors.send(&anchor);
        }
        Ok(())
    }

    fn too_old(&self) -> bool {
        self.cfg
            .rotate_time
            .is_some_and(|age| self.segment_started.elapsed() >= age)
    }

    /// Closes the current segment, announcing the next, and starts the next one with its
    /// opening blocks; with a ring, the segment that falls out of it is deleted in between,
    /// so that no more than `keep` segments exist at any time. Without a trace file: nothing.
    fn rotate(&mut self) -> io::Result<()> {
        if self.writer.is_none() {
            return Ok(());
        }
        self.close_announcing_next()?;
        self.drop_from_ring();
        self.start_segment()?;
        self.write_opening()
    }

    /// Closes the current segment (there is one) with a Continuation block announcing
    /// the next.
    fn close_announcing_next(&mut self) -> io::Result<()> {
        let Some(writer) = &self.writer else {
            return Ok(());
        };
        // Announce the next segment, so a replay of this one alone (or of a set that
        // misses the next) says the recording goes on.
        let next = crate::meta::Continuation {
            next_segment_index: self.segment_index + 1,
            next_frame_seq: writer.next_seq(),
        };
        self.write_meta(BlockKind::Continuation, &crate::meta::encode(&next), false)?;
        self.finish_segment()
    }

    /// [`SinkMsg::Snapshot`]: closes the current segment, keeps every segment of the ring
    /// (all closed now, before the next segment pushes the oldest out), says so on stderr
    /// (the service's log), then goes on as a rotation does. A snapshot that cannot be
    /// made is reported, never fatal; only closing and starting segments can fail.
    fn keep_snapshot(&mut self) -> io::Result<()> {
        if self.writer.is_none() {
            self.report
                .snapshot_errors
                .push("no trace file to keep (live: -w FILE)".into());
            eprintln!("kellect: warning: snapshot requested, but there is no trace file to keep");
            return Ok(());
        }
        self.close_announcing_next()?;
        match (self.snapshot)(&self.report.segments, realtime_ns()) {
            Ok(kept) => {
                eprintln!(
                    "kellect: snapshot: kept {} segments ({} bytes{}) in {}: {}",
                    kept.segments.len(),
                    kept.bytes,
                    match kept.copied {
                        0 => String::new(),
                        n => format!(", {n} copied where a hard link was refused"),
                    },
                    kept.dir.display(),
                    kept.segments
                        .iter()
                        .filter_map(|p| p.file_name())
                        .map(|n| n.to_string_lossy())
                        .collect::<Vec<_>>()
                        .join(", ")
                );
                self.report.snapshots.push(kept);
            }
            Err(e) => {
                eprintln!("kellect: warning: the snapshot could not be made: {e}");
                self.report.snapshot_errors.push(e.to_string());
            }
        }
        self.drop_from_ring();
        self.start_segment()?;
        self.write_opening()
    }

    /// Deletes the segment that the next one pushes out of the ring (`keep`).
    fn drop_from_ring(&mut self) {
        let (Some(keep), Some(output)) = (self.cfg.keep, &self.cfg.output) else {
            return;
        };
        // The next segment is `segment_index`: it and the `keep - 1` before it stay.
        let Some(oldest) = self.segment_index.checked_sub(keep.max(1)) else {
            return;
        };
        let path = segment_path(output, oldest);
        match (self.remove)(&path) {
            Ok(()) => {
                self.report.segments.retain(|p| p != &path);
                self.report.deleted.push(path);
            }
            // Already gone (someone moved it away): the ring holds no more than `keep`.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                self.report.segments.retain(|p| p != &path);
            }
            Err(e) => self
                .report
                .delete_errors
                .push(format!("cannot delete {}: {e}", path.display())),
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
        self.opened = true;
        if let Some(custody) = &self.custody {
            let payload = meta::encode(custody);
            self.write_meta(BlockKind::Custody, &payload, false)?;
        }
        self.poll_custody(false)
    }

    /// Writes the custody facts into the current segment once they are ready (at once
    /// with `wait`), after its opening blocks.
    fn poll_custody(&mut self, wait: bool) -> io::Result<()> {
        let ready = self
            .cfg
            .custody
            .as_ref()
            .is_some_and(|h| wait || h.is_finished());
        if !ready || !self.opened {
            return Ok(());
        }
        let Some(handle) = self.cfg.custody.take() else {
            return Ok(());
        };
        let Ok(custody) = handle.join() else {
            return Ok(());
        };
        let payload = meta::encode(&custody);
        self.custody = Some(custody);
        self.write_meta(BlockKind::Custody, &payload, false)
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
        let level = self.cfg.compression_level;
        let mut writer = SegmentWriter::after(storage, &header, level, &self.prev_head)
            .map_err(|e| with_path(e.into(), &path))?;
        writer.set_next_seq(self.next_seq);
        self.writer = Some(writer);
        self.opened = false;
        self.segment_started = Instant::now();
        self.report.segments.push(path);
        Ok(())
    }

    /// Closes the current segment (Index, End, truncation), even after a failed write.
    fn finish_segment(&mut self) -> io::Result<()> {
        // After a write error the seal may not fit: the segment then ends unsealed after
        // its last seal, and the error already reported says why.
        let sealed = self.seal_segment_end();
        let Some(writer) = self.writer.take() else {
            return sealed;
        };
        self.next_seq = writer.next_seq();
        self.segment_index += 1;
        let (storage, closed, head) = writer.close_chained();
        self.prev_head = head.unwrap_or(ChainHead::ZERO);
        self.report.written_bytes += storage.committed();
        sealed.and(closed.map(drop).map_err(io::Error::from))
    }
}

fn with_path(e: io::Error, path: &Path) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::sync_channel;
    use std::sync::Mutex;

    use super::*;
    use crate::format::faulty::{Fault, FaultyStorage};
    use crate::format::{Scan, TraceReader};

    type Disks = Arc<Mutex<Vec<(PathBuf, Arc<Mutex<Vec<u8>>>)>>>;

    /// Incompressible records: every frame costs about its raw size on disk.
    fn noise(seed: u64, len: usize) -> Vec<u8> {
        let mut x = seed | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    struct Run {
        report: SinkReport,
        failed: bool,
        /// Records in every frame sent to the sink.
        sent_records: u64,
        /// Each segment's path and bytes as the storage holds them after the sink ended.
        segments: Vec<(PathBuf, Vec<u8>)>,
    }

    /// Runs the sink over faulty storages: the opening blocks, `frames` frames of 3000
    /// bytes (frame `i` holds `10 + i` records), a Stats block after every fifth.
    fn run(
        fault: Fault,
        rotate_size: Option<u64>,
        frames: u32,
        opening: Box<dyn Fn() -> Vec<SinkMsg> + Send>,
    ) -> Run {
        let disks: Disks = Arc::default();
        let created = disks.clone();
        let create = move |path: &Path, _overwrite: bool| {
            let storage = FaultyStorage::new(fault);
            created
                .lock()
                .unwrap()
                .push((path.to_owned(), storage.disk.clone()));
            Ok(storage)
        };
        let cfg = SinkConfig {
            output: Some(PathBuf::from("/kellect-test/t.kz")),
            tap: None,
            overwrite: false,
            recording_id: 5,
            compression_level: 1,
            chunk_size: 0,
            rotate_size,
            rotate_time: None,
            keep: None,
            opening,
            custody: None,
            seal: None,
            anchors: Vec::new(),
        };
        let failed = Arc::new(AtomicBool::new(false));
        let (recycle, _recycled) = sync_channel(64);
        let sink = open_with(
            cfg,
            Box::new(create),
            Box::new(|_: &Path| Ok(())),
            no_snapshot(),
            failed.clone(),
            recycle,
        )
        .unwrap();
        let (tx, rx) = sync_channel(1024);
        tx.send(SinkMsg::Opening).unwrap();
        let mut sent_records = 0;
        for i in 0..frames {
            let count = 10 + i;
            sent_records += u64::from(count);
            let ts = 1000 * u64::from(i);
            tx.send(SinkMsg::Frame(FrameBuf {
                bytes: noise(u64::from(i), 3000),
                first_ts: ts,
                last_ts: ts + 10,
                count,
            }))
            .unwrap();
            if i % 5 == 4 {
                tx.send(SinkMsg::Meta {
                    kind: BlockKind::Stats,
                    payload: noise(99, 50),
                    compress: false,
                })
                .unwrap();
            }
        }
        drop(tx);
        let report = sink(rx);
        let segments = disks
            .lock()
            .unwrap()
            .iter()
            .map(|(path, disk)| (path.clone(), disk.lock().unwrap().clone()))
            .collect();
        Run {
            report,
            failed: failed.load(Ordering::SeqCst),
            sent_records,
            segments,
        }
    }

    fn small_opening() -> Box<dyn Fn() -> Vec<SinkMsg> + Send> {
        Box::new(|| {
            vec![
                SinkMsg::Meta {
                    kind: BlockKind::HostInfo,
                    payload: b"host".to_vec(),
                    compress: false,
                },
                SinkMsg::Meta {
                    kind: BlockKind::Capture,
                    payload: b"capture".to_vec(),
                    compress: true,
                },
            ]
        })
    }

    /// Every segment scans without damage; returns the scans.
    #[track_caller]
    fn scans(run: &Run) -> Vec<Scan<'_>> {
        run.segments
            .iter()
            .map(|(path, bytes)| {
                let scan = TraceReader::new(bytes).unwrap().scan();
                assert!(scan.damage.is_empty(), "{path:?}: {:?}", scan.damage);
                scan
            })
            .collect()
    }

    /// The report's counts equal what the segments hold, and every record sent is either
    /// stored or counted as lost.
    #[track_caller]
    fn check_counts(run: &Run) {
        let scans = scans(run);
        let frames: Vec<_> = scans
            .iter()
            .flat_map(|s| s.frames().map(|f| f.frame_header().unwrap()))
            .collect();
        let records: u64 = frames.iter().map(|f| u64::from(f.record_count)).sum();
        assert_eq!(run.report.frames, frames.len() as u64);
        assert_eq!(run.report.records, records);
        assert_eq!(
            run.report.raw_bytes,
            frames.iter().map(|f| u64::from(f.raw_len)).sum::<u64>()
        );
        assert_eq!(
            run.report.records + run.report.lost_records,
            run.sent_records
        );
        let bytes: u64 = run.segments.iter().map(|(_, b)| b.len() as u64).sum();
        assert_eq!(run.report.written_bytes, bytes);
        // Sequence numbers run on across segments, with no gap.
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(f.seq, i as u32);
        }
    }

    #[test]
    fn counts_are_exact_without_faults() {
        let run = run(Fault::None, None, 20, small_opening());
        assert!(run.report.error.is_none() && !run.failed);
        assert_eq!(run.report.lost_records, 0);
        check_counts(&run);
        assert!(scans(&run)[0].is_clean());
    }

    #[test]
    fn a_full_disk_counts_only_what_was_stored() {
        let full = run(Fault::None, None, 20, small_opening()).segments[0]
            .1
            .len() as u64;
        for capacity in (400..full).step_by(997) {
            let run = run(Fault::DiskFull { capacity }, None, 20, small_opening());
            let e = run.report.error.as_ref().expect("the disk filled up");
            assert_eq!(e.raw_os_error(), Some(28), "capacity {capacity}: {e}");
            // Failing while frames came, the drain is told; else only closing failed.
            assert_eq!(
                run.failed,
                run.report.lost_records > 0,
                "capacity {capacity}"
            );
            check_counts(&run);
        }
    }

    #[test]
    fn a_short_write_counts_only_what_was_stored() {
        for at in [100, 5000, 20_000, 40_000] {
            let run = run(Fault::ShortWrite { at }, None, 20, small_opening());
            assert!(run.report.error.is_some(), "short write at {at}");
            check_counts(&run);
        }
    }

    #[test]
    fn a_refused_reservation_stops_the_recording_cleanly() {
        // Append 0 is the file header, 1 and 2 the opening blocks, 3 the first frame.
        let run = run(Fault::ReserveError { nth: 6 }, None, 20, small_opening());
        let e = run.report.error.as_ref().unwrap();
        assert_eq!(e.raw_os_error(), Some(5), "{e}");
        check_counts(&run);
        assert_eq!(run.report.frames, 3);
        // The segment was closed after the error: its Index and End blocks were stored.
        assert!(scans(&run)[0].is_clean());
    }

    #[test]
    fn every_rotated_segment_opens_with_the_same_blocks() {
        let run = run(Fault::None, Some(10_000), 20, small_opening());
        assert!(run.report.error.is_none());
        assert!(run.segments.len() >= 4, "{}", run.segments.len());
        check_counts(&run);
        for (i, ((path, _), scan)) in run.segments.iter().zip(scans(&run)).enumerate() {
            assert_eq!(
                path,
                &segment_path(Path::new("/kellect-test/t.kz"), i as u32)
            );
            let kinds: Vec<BlockKind> = scan.blocks.iter().take(2).map(|b| b.kind).collect();
            assert_eq!(kinds, [BlockKind::HostInfo, BlockKind::Capture], "{path:?}");
            assert!(scan.is_clean(), "{path:?}");
            let header = *TraceReader::new(&run.segments[i].1).unwrap().header();
            assert_eq!((header.recording_id, header.segment_index), (5, i as u32));
            // Every segment but the last announces the next one, with the frame it starts at.
            let continuations: Vec<crate::meta::Continuation> = scan
                .blocks
                .iter()
                .filter(|b| b.kind == BlockKind::Continuation)
                .map(|b| crate::meta::decode(b.payload).unwrap())
                .collect();
            if i + 1 == run.segments.len() {
                assert!(continuations.is_empty(), "{path:?}");
            } else {
                // Rotation follows a frame, so every segment but the last holds one.
                let last_seq = scan
                    .frames()
                    .last()
                    .map(|f| crate::format::FrameHeader::decode(f.payload).unwrap().seq)
                    .unwrap();
                assert_eq!(
                    continuations,
                    [crate::meta::Continuation {
                        next_segment_index: i as u32 + 1,
                        next_frame_seq: last_seq + 1,
                    }],
                    "{path:?}"
                );
            }
        }
    }

    /// Each segment's path and bytes.
    type Segments = Vec<(PathBuf, Vec<u8>)>;

    /// What a sink with `rotate_time` and `keep` did with `msgs`: its report, the segments
    /// created (path, bytes) and the paths it deleted, in order.
    fn run_ring(
        rotate_size: Option<u64>,
        rotate_time: Option<Duration>,
        keep: Option<u32>,
        msgs: Vec<SinkMsg>,
    ) -> (SinkReport, Segments, Vec<PathBuf>) {
        let disks: Disks = Arc::default();
        let created = disks.clone();
        let removed = Arc::new(Mutex::new(Vec::new()));
        let removing = removed.clone();
        let cfg = SinkConfig {
            output: Some(PathBuf::from("/kellect-test/t.kz")),
            tap: None,
            overwrite: false,
            recording_id: 5,
            compression_level: 1,
            chunk_size: 0,
            rotate_size,
            rotate_time,
            keep,
            opening: small_opening(),
            custody: None,
            seal: None,
            anchors: Vec::new(),
        };
        let (recycle, _recycled) = sync_channel(64);
        let sink = open_with(
            cfg,
            Box::new(move |path: &Path, _| {
                let storage = FaultyStorage::new(Fault::None);
                created
                    .lock()
                    .unwrap()
                    .push((path.to_owned(), storage.disk.clone()));
                Ok(storage)
            }),
            Box::new(move |path: &Path| {
                removing.lock().unwrap().push(path.to_owned());
                Ok(())
            }),
            // Keeps nothing on disk: names what it was asked to keep.
            Box::new(|segments: &[PathBuf], _| {
                Ok(Snapshot {
                    dir: PathBuf::from("/kellect-test/t.snapshot"),
                    segments: segments.to_vec(),
                    bytes: 0,
                    copied: 0,
                })
            }),
            Arc::new(AtomicBool::new(false)),
            recycle,
        )
        .unwrap();
        let (tx, rx) = sync_channel(1024);
        tx.send(SinkMsg::Opening).unwrap();
        for msg in msgs {
            tx.send(msg).unwrap();
        }
        drop(tx);
        let report = sink(rx);
        let segments = disks
            .lock()
            .unwrap()
            .iter()
            .map(|(path, disk)| (path.clone(), disk.lock().unwrap().clone()))
            .collect();
        let removed = removed.lock().unwrap().clone();
        (report, segments, removed)
    }

    /// A snapshot function for runs that send no [`SinkMsg::Snapshot`].
    fn no_snapshot() -> KeepSnapshot {
        Box::new(|_: &[PathBuf], _| Err(io::Error::other("no snapshot in this test")))
    }

    fn frame(i: u32) -> SinkMsg {
        let ts = 1000 * u64::from(i);
        SinkMsg::Frame(FrameBuf {
            bytes: noise(u64::from(i), 3000),
            first_ts: ts,
            last_ts: ts + 10,
            count: 10,
        })
    }

    #[test]
    fn a_ring_keeps_the_last_segments_and_deletes_the_oldest_first() {
        let (report, segments, removed) =
            run_ring(Some(10_000), None, Some(3), (0..20).map(frame).collect());
        assert!(report.error.is_none());
        let n = segments.len() as u32;
        assert!(n >= 6, "{n} segments");
        let path = |i| segment_path(Path::new("/kellect-test/t.kz"), i);
        // Deleted in order, each before the segment three later was created.
        let expected: Vec<PathBuf> = (0..n - 3).map(path).collect();
        assert_eq!(removed, expected);
        assert_eq!(report.deleted, expected);
        assert_eq!(report.segments, (n - 3..n).map(path).collect::<Vec<_>>());
        // Every segment is whole and opens with the recording's opening blocks.
        for (path, bytes) in &segments {
            let scan = TraceReader::new(bytes).unwrap().scan();
            assert!(scan.is_clean(), "{path:?}");
            assert_eq!(scan.blocks[0].kind, BlockKind::HostInfo, "{path:?}");
        }
    }

    #[test]
    fn a_rotate_message_and_an_old_segment_start_the_next_one() {
        // SIGHUP: a Rotate message closes the segment, whatever its size and age.
        let msgs = vec![frame(0), frame(1), SinkMsg::Rotate, frame(2)];
        let (report, segments, removed) = run_ring(None, None, None, msgs);
        assert!(report.error.is_none());
        assert_eq!(segments.len(), 2);
        assert!(removed.is_empty());
        let first = TraceReader::new(&segments[0].1).unwrap().scan();
        let frames = |scan: &Scan<'_>| scan.frames().count();
        assert_eq!(frames(&first), 2);
        assert!(first
            .blocks
            .iter()
            .any(|b| b.kind == BlockKind::Continuation));
        assert_eq!(frames(&TraceReader::new(&segments[1].1).unwrap().scan()), 1);

        // --rotate-time: a segment older than that is closed at the next block.
        let msgs = vec![
            frame(0),
            SinkMsg::Meta {
                kind: BlockKind::Stats,
                payload: noise(9, 10),
                compress: false,
            },
        ];
        let (_, segments, _) = run_ring(None, Some(Duration::from_secs(3600)), None, msgs);
        assert_eq!(segments.len(), 1, "an hour has not passed");
        let msgs = vec![frame(0), frame(1)];
        let (_, segments, _) = run_ring(None, Some(Duration::ZERO), Some(2), msgs);
        assert_eq!(
            segments.len(),
            3,
            "every block finds the segment old enough"
        );
    }

    #[test]
    fn a_snapshot_closes_the_segment_and_keeps_the_closed_ones_of_the_ring() {
        let path = |i| segment_path(Path::new("/kellect-test/t.kz"), i);
        // A ring of 3: segments 0, 1, 2 closed by Rotate (0 deleted as 3 starts); the
        // snapshot closes 3 and keeps 1, 2 and 3 (1 is deleted only as 4 starts); the
        // ring then deletes 2, which the snapshot still holds.
        let msgs = vec![
            frame(0),
            SinkMsg::Rotate,
            frame(1),
            SinkMsg::Rotate,
            frame(2),
            SinkMsg::Rotate,
            frame(3),
            SinkMsg::Snapshot,
            frame(4),
            SinkMsg::Rotate,
        ];
        let (report, segments, removed) = run_ring(None, None, Some(3), msgs);
        assert!(report.error.is_none());
        assert_eq!(report.snapshots.len(), 1);
        assert_eq!(
            report.snapshots[0].segments,
            vec![path(1), path(2), path(3)]
        );
        assert_eq!(segments.len(), 6);
        assert_eq!(removed, vec![path(0), path(1), path(2)]);
        assert!(report.snapshot_errors.is_empty());
        // Every segment the snapshot names was closed when it was taken.
        for (p, bytes) in segments
            .iter()
            .filter(|(p, _)| report.snapshots[0].segments.contains(p))
        {
            let scan = TraceReader::new(bytes).unwrap().scan();
            assert!(scan.is_clean(), "{p:?}");
            assert!(
                scan.blocks.iter().any(|b| b.kind == BlockKind::End),
                "{p:?}"
            );
        }
    }

    #[test]
    fn seals_every_epoch_and_every_segment_end_and_evolves_the_key_file() {
        let dir = tempfile::tempdir().unwrap();
        let (sp, vp) = (dir.path().join("s.key"), dir.path().join("v.key"));
        // Epoch 0 started 10 epochs ago: the sink evolves past them before the first seal.
        let interval = crate::format::MIN_SEAL_INTERVAL_NS;
        crate::format::keygen(&sp, &vp, realtime_ns() - 10 * interval, interval).unwrap();
        let sealing = Sealing::load(&sp).unwrap();
        let custody = crate::meta::Custody {
            exe_sha256: "ab".repeat(32),
            kellect_version: "0.1.0".into(),
            build: "git x".into(),
            hostname: "h".into(),
            machine_id: "m".into(),
            boot_id: "b".into(),
            kernel_release: "6.18".into(),
            command_line: vec!["kellect".into(), "record".into()],
            note: Some("n".into()),
            started_realtime_ns: 1,
            seal: Some(sealing.params()),
        };
        let disks: Disks = Arc::default();
        let created = disks.clone();
        let cfg = SinkConfig {
            output: Some(PathBuf::from("/kellect-test/t.kz")),
            tap: None,
            overwrite: false,
            recording_id: 5,
            compression_level: 1,
            chunk_size: 0,
            rotate_size: None,
            rotate_time: None,
            keep: None,
            opening: small_opening(),
            custody: Some({
                let custody = custody.clone();
                std::thread::spawn(move || custody)
            }),
            seal: Some(sealing),
            anchors: Vec::new(),
        };
        let (recycle, _recycled) = sync_channel(64);
        let sink = open_with(
            cfg,
            Box::new(move |path: &Path, _| {
                let storage = FaultyStorage::new(Fault::None);
                created
                    .lock()
                    .unwrap()
                    .push((path.to_owned(), storage.disk.clone()));
                Ok(storage)
            }),
            Box::new(|_: &Path| Ok(())),
            no_snapshot(),
            Arc::new(AtomicBool::new(false)),
            recycle,
        )
        .unwrap();
        let (tx, rx) = sync_channel(1024);
        let thread = std::thread::spawn(move || sink(rx));
        tx.send(SinkMsg::Opening).unwrap();
        tx.send(frame(0)).unwrap();
        // No message for over two epochs: the sink seals on its own, on time.
        std::thread::sleep(Duration::from_millis(2300));
        tx.send(frame(1)).unwrap();
        tx.send(SinkMsg::Rotate).unwrap();
        tx.send(frame(2)).unwrap();
        tx.send(SinkMsg::Stop {
            reason: "SIGINT".into(),
        })
        .unwrap();
        drop(tx);
        let report = thread.join().unwrap();
        assert!(report.error.is_none(), "{:?}", report.error);
        let segments: Vec<Vec<u8>> = disks
            .lock()
            .unwrap()
            .iter()
            .map(|(_, d)| d.lock().unwrap().clone())
            .collect();
        assert_eq!(segments.len(), 2);
        let mut verdicts: Vec<_> = segments
            .iter()
            .map(|b| crate::format::verify_segment(b))
            .collect();
        let key = crate::format::VerifyKey::load(&vp).unwrap();
        crate::format::check_seals(&mut verdicts, &key, realtime_ns());
        let mut epochs = Vec::new();
        for v in &verdicts {
            assert_eq!(v.status, crate::format::SegmentStatus::Intact, "{v}");
            assert_eq!(v.seal_state, crate::format::SealState::Verified, "{v}");
            epochs.extend(v.seals.iter().map(|s| s.epoch));
        }
        assert_eq!(report.seals, epochs.len() as u64);
        assert!(epochs.first().unwrap() >= &10, "{epochs:?}");
        assert!(
            epochs.len() >= 4,
            "two epoch seals and two segment ends: {epochs:?}"
        );
        let (_, now) = SealingKeyFile::load(&sp).unwrap();
        assert_eq!(now.epoch(), *epochs.last().unwrap());
        for bytes in &segments {
            let scan = TraceReader::new(bytes).unwrap().scan();
            let kinds: Vec<BlockKind> = scan.blocks.iter().map(|b| b.kind).collect();
            let custody_block = scan.blocks.iter().find(|b| b.kind == BlockKind::Custody);
            let got: crate::meta::Custody =
                crate::meta::decode(custody_block.expect("custody").payload).unwrap();
            assert_eq!(got, custody);
            assert_eq!(
                &kinds[kinds.len() - 3..],
                &[BlockKind::Seal, BlockKind::Index, BlockKind::End]
            );
        }
        let last = TraceReader::new(&segments[1]).unwrap().scan();
        let stop = last
            .blocks
            .iter()
            .find(|b| b.kind == BlockKind::Stop)
            .unwrap();
        let stop: crate::meta::Stop = crate::meta::decode(stop.payload).unwrap();
        assert_eq!(stop.reason, "SIGINT");
    }

    #[test]
    fn the_recorder_opens_every_segment_with_everything_replay_needs() {
        let settings = crate::meta::RecordSettings {
            system_wide: true,
            command: Vec::new(),
            ring_size: 1 << 20,
            frame_size: 4096,
            groups: Vec::new(),
            keep_segments: None,
        };
        let host = super::super::host::host_info(settings, 1);
        let capture = crate::meta::Capture {
            payload_max: 0,
            protocols: Vec::new(),
            versions: false,
            checksums: true,
            hz: Some(250),
            drop_reasons: Vec::new(),
            task_storage: None,
        };
        let opening = Box::new(move || super::super::segment_opening(&host, &capture));
        let run = run(Fault::None, Some(10_000), 12, opening);
        assert!(run.segments.len() >= 2);
        let expected = [
            BlockKind::HostInfo,
            BlockKind::Snapshot,
            BlockKind::FdTable,
            BlockKind::Accounts,
            BlockKind::Mounts,
            BlockKind::Interfaces,
            BlockKind::Capture,
            BlockKind::ClockSync,
        ];
        for ((path, _), scan) in run.segments.iter().zip(scans(&run)) {
            let kinds: Vec<BlockKind> = scan.blocks.iter().take(8).map(|b| b.kind).collect();
            assert_eq!(kinds, expected, "{path:?}");
            let capture = scan.blocks[6].meta_payload().unwrap();
            let capture: crate::meta::Capture = crate::meta::decode(&capture).unwrap();
            assert!(capture.checksums && capture.hz == Some(250), "{path:?}");
        }
    }
}
