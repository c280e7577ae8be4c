//! The one segment writer: file header, blocks, frame numbering, index and End block,
//! written through a [`Storage`] (memory for tests and fixtures, a memory-mapped file in
//! the recorder).

use std::io;

use super::block::{
    block_header, compress_meta, BlockKind, BLOCK_FLAG_COMPRESSED, MAX_BLOCK_PAYLOAD,
};
use super::chain::{set_link, ChainHead};
use super::error::FormatError;
use super::frame::{encode_frame_into, Codec, FrameHeader, MAX_FRAME_RAW};
use super::header::FileHeader;
use super::index::{EndInfo, IndexBuilder};

/// Where a segment's bytes go: an append-only byte sequence whose committed length is the
/// segment so far.
///
/// The writer hands over one whole block (or the file header) per
/// [`append_with`](Self::append_with). A storage makes the block's space available
/// first, all of it, lets the writer fill it, and only then counts it as written, so an
/// append either stores the whole block or leaves [`committed`](Self::committed)
/// unchanged: a full disk never leaves half a block inside the committed bytes.
pub trait Storage {
    /// Bytes committed so far: the file offset of the next append.
    fn committed(&self) -> u64;

    /// Appends `len` bytes at offset [`committed`](Self::committed): reserves the space
    /// (an error here, such as a full disk, changes nothing), calls `fill` once with the
    /// `len` bytes to fill, then commits them.
    ///
    /// The writer's `fill` writes a block's payload before its 24-byte header: the header,
    /// whose CRC makes it valid, is the commit point for a reader looking at the same
    /// memory. A storage that copies the bytes elsewhere itself (a `pwrite`) must keep that
    /// order: bytes `[24..]` before bytes `[..24]`.
    ///
    /// Errors: the space could not be reserved, or the bytes could not be stored. Either
    /// way [`committed`](Self::committed) is unchanged; bytes stored past it (a short
    /// write) are not part of the segment and go at [`close`](Self::close).
    fn append_with(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> io::Result<()>;

    /// Ends the segment: stores the committed bytes durably and drops whatever lies past
    /// them (reserved space, a torn write). Returns the final length in bytes.
    fn close(&mut self) -> io::Result<u64>;
}

/// Memory: the segment is the vector. Appends never fail; [`close`](Storage::close)
/// changes nothing.
impl Storage for Vec<u8> {
    fn committed(&self) -> u64 {
        self.len() as u64
    }

    fn append_with(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> io::Result<()> {
        let start = self.len();
        self.resize(start + len, 0);
        fill(&mut self[start..]);
        Ok(())
    }

    fn close(&mut self) -> io::Result<u64> {
        Ok(self.len() as u64)
    }
}

/// Why a block could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WriteError {
    /// The block itself is invalid (too large, a frame header that does not check, a
    /// compression failure). Nothing was written.
    #[error(transparent)]
    Format(#[from] FormatError),
    /// The storage refused the append (a full disk, an I/O error). The segment is intact
    /// up to `offset`, the start of the block that failed.
    #[error("{error}")]
    Storage {
        offset: u64,
        #[source]
        error: io::Error,
    },
}

/// For the recorder, which works in `io::Result`: a storage error stays itself (a full
/// disk is still `ENOSPC`); a format error is `InvalidData` (or zstd's own kind).
impl From<WriteError> for io::Error {
    fn from(e: WriteError) -> io::Error {
        match e {
            WriteError::Storage { error, .. } => error,
            WriteError::Format(e) => e.into(),
        }
    }
}

/// What a segment holds so far: only blocks whose append succeeded count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SegmentTotals {
    /// Frame blocks stored.
    pub frames: u64,
    /// Records in those frames (the sum of their `record_count`).
    pub records: u64,
    /// Uncompressed bytes of those records.
    pub raw_bytes: u64,
    /// Bytes of the segment: file header and every block.
    pub bytes: u64,
}

/// Writes one segment: the file header at creation, then one block per call, each in a
/// single [`Storage::append_with`]; frames are numbered and indexed as they are stored;
/// [`finish`](Self::finish) appends the Index and End blocks and closes the storage.
///
/// Segments are written in format version 2: each block's header carries its chain link
/// and the End block the chain head (`super::chain`); the chain advances only when an
/// append succeeds, so the head always describes the committed bytes.
///
/// Any segment of a recording, first or rotated, is written by this type; the recorder
/// uses it over a memory-mapped file (`recorder::segment`), tests and fixtures over a
/// `Vec<u8>` ([`SegmentEncoder`]).
pub struct SegmentWriter<S: Storage> {
    storage: S,
    header: FileHeader,
    index: IndexBuilder,
    compressor: zstd::bulk::Compressor<'static>,
    level: i32,
    next_seq: u32,
    scratch: Vec<u8>,
    totals: SegmentTotals,
    /// The chain head of the committed bytes; `None` when writing format version 1.
    chain: Option<ChainHead>,
}

impl<S: Storage> SegmentWriter<S> {
    /// Starts the first segment of a recording on `storage` (expected empty) by writing
    /// `header` (version 2, previous chain head zero); frames and compressed metadata use
    /// zstd `level`.
    pub fn new(storage: S, header: &FileHeader, level: i32) -> Result<Self, WriteError> {
        Self::after(storage, header, level, &ChainHead::ZERO)
    }

    /// Starts a later segment of a recording, linked to its predecessor: `prev` is the
    /// predecessor's final chain head ([`chain_head`](Self::chain_head) after it closed, as
    /// returned by [`close_chained`](Self::close_chained)).
    pub fn after(
        storage: S,
        header: &FileHeader,
        level: i32,
        prev: &ChainHead,
    ) -> Result<Self, WriteError> {
        let bytes = header.encode_v2(prev);
        Self::start(storage, header, level, &bytes, true)
    }

    /// A writer of format version 1 (no chain): only to keep the version 1 golden files
    /// checked byte for byte.
    #[cfg(test)]
    pub(crate) fn new_v1(storage: S, header: &FileHeader, level: i32) -> Result<Self, WriteError> {
        Self::start(storage, header, level, &header.encode(), false)
    }

    fn start(
        storage: S,
        header: &FileHeader,
        level: i32,
        header_bytes: &[u8],
        chained: bool,
    ) -> Result<Self, WriteError> {
        let compressor = zstd::bulk::Compressor::new(level).map_err(FormatError::Compress)?;
        let mut writer = SegmentWriter {
            storage,
            header: *header,
            index: IndexBuilder::new(),
            compressor,
            level,
            next_seq: 0,
            scratch: Vec::new(),
            totals: SegmentTotals::default(),
            chain: None,
        };
        writer.append(&[], header_bytes)?;
        if chained {
            writer.chain = Some(ChainHead::start(header_bytes));
        }
        Ok(writer)
    }

    /// The chain head of everything committed so far (the file header and every block);
    /// `None` for a version 1 writer.
    pub fn chain_head(&self) -> Option<ChainHead> {
        self.chain
    }

    /// The file header this segment was started with.
    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The sequence number the next frame gets (0 unless set).
    pub fn next_seq(&self) -> u32 {
        self.next_seq
    }

    /// Sets the sequence number of the next frame: a later segment of a recording
    /// continues its predecessor's numbering.
    pub fn set_next_seq(&mut self, seq: u32) {
        self.next_seq = seq;
    }

    /// The offset the next block will have (bytes committed so far).
    pub fn offset(&self) -> u64 {
        self.storage.committed()
    }

    /// Frames, records and bytes stored so far.
    pub fn totals(&self) -> SegmentTotals {
        SegmentTotals {
            bytes: self.storage.committed(),
            ..self.totals
        }
    }

    /// The storage, for reading what was written so far.
    pub fn storage(&self) -> &S {
        &self.storage
    }

    /// Appends any block as given, in one append. A Frame block written this way is not
    /// indexed. Returns its offset.
    ///
    /// Errors: a payload over [`MAX_BLOCK_PAYLOAD`] ([`FormatError::BlockTooLarge`],
    /// nothing written); the storage's error ([`WriteError::Storage`]).
    pub fn push_block(
        &mut self,
        kind: BlockKind,
        flags: u16,
        payload: &[u8],
    ) -> Result<u64, WriteError> {
        if payload.len() > MAX_BLOCK_PAYLOAD as usize {
            return Err(FormatError::BlockTooLarge {
                len: payload.len() as u64,
            }
            .into());
        }
        let mut header = block_header(kind, flags, payload);
        let next = self.chain.map(|head| {
            let next = head.next(&header, payload);
            set_link(&mut header, next.link());
            next
        });
        let offset = self.append(&header, payload)?;
        if next.is_some() {
            self.chain = next;
        }
        Ok(offset)
    }

    /// Appends a metadata block, zstd-compressed (with [`BLOCK_FLAG_COMPRESSED`]) if
    /// `compress`. Returns its offset.
    pub fn push_meta(
        &mut self,
        kind: BlockKind,
        raw: &[u8],
        compress: bool,
    ) -> Result<u64, WriteError> {
        if compress {
            let packed = compress_meta(raw, self.level)?;
            self.push_block(kind, BLOCK_FLAG_COMPRESSED, &packed)
        } else {
            self.push_block(kind, 0, raw)
        }
    }

    /// Appends a Frame block holding `raw` records (`record_count` of them, stamped
    /// `first_ts..=last_ts` boot-time ns), numbered with the next sequence number, and
    /// indexes it. Returns its offset. Only a stored frame takes a sequence number and
    /// counts in [`totals`](Self::totals).
    pub fn push_frame(
        &mut self,
        raw: &[u8],
        first_ts: u64,
        last_ts: u64,
        record_count: u32,
        codec: Codec,
    ) -> Result<u64, WriteError> {
        let raw_len = u32::try_from(raw.len())
            .ok()
            .filter(|&len| len <= MAX_FRAME_RAW)
            .ok_or(FormatError::FrameTooLarge {
                raw_len: raw.len() as u64,
            })?;
        let frame = FrameHeader {
            first_ts,
            last_ts,
            record_count,
            raw_len,
            codec,
            seq: self.next_seq,
        };
        let mut payload = std::mem::take(&mut self.scratch);
        payload.clear();
        let written = encode_frame_into(&frame, raw, &mut self.compressor, &mut payload)
            .map_err(WriteError::from)
            .and_then(|()| self.push_block(BlockKind::Frame, 0, &payload));
        self.scratch = payload;
        let offset = written?;
        self.index.push(offset, &frame);
        self.next_seq = self.next_seq.wrapping_add(1);
        self.totals.frames += 1;
        self.totals.records += u64::from(record_count);
        self.totals.raw_bytes += raw.len() as u64;
        Ok(offset)
    }

    /// Closes the segment: appends the Index block and the End block (one append each),
    /// then closes the storage, which keeps exactly the committed bytes. The storage is
    /// closed even when the Index or End block does not fit (the segment then ends at
    /// its last complete block, without an End block); the first error is returned.
    pub fn finish(self) -> Result<S, WriteError> {
        let (storage, closed) = self.close();
        closed.map(|_| storage)
    }

    /// [`finish`](Self::finish), handing the storage back whatever happened, with the
    /// segment's final length in bytes or the first error. After an error the storage's
    /// [`committed`](Storage::committed) length is what the segment holds.
    pub fn close(self) -> (S, Result<u64, WriteError>) {
        let (storage, result, _) = self.close_chained();
        (storage, result)
    }

    /// [`close`](Self::close), also returning the final chain head: the head after the
    /// last block committed (the End block if it fit), which the next segment of the
    /// recording links to ([`after`](Self::after)). `None` for a version 1 writer.
    pub fn close_chained(mut self) -> (S, Result<u64, WriteError>, Option<ChainHead>) {
        let appended = self.append_tail();
        let offset = self.storage.committed();
        let closed = self
            .storage
            .close()
            .map_err(|error| WriteError::Storage { offset, error });
        let result = appended.and(closed);
        (self.storage, result, self.chain)
    }

    /// The Index block (unless there are too many frames for one) and the End block, which
    /// in version 2 holds the chain head of everything before it.
    fn append_tail(&mut self) -> Result<(), WriteError> {
        let index_offset = match self.index.index_payload() {
            Some(payload) => Some(self.push_block(BlockKind::Index, 0, &payload)?),
            None => None,
        };
        let end = EndInfo {
            frames: self.index.frames(),
            records: self.index.records(),
            index_offset,
            chain_head: self.chain,
        };
        self.push_block(BlockKind::End, 0, &end.encode())?;
        Ok(())
    }

    /// One append of `header` + `payload`: the payload is written first, the header last.
    fn append(&mut self, header: &[u8], payload: &[u8]) -> Result<u64, WriteError> {
        let offset = self.storage.committed();
        let head = header.len();
        self.storage
            .append_with(head + payload.len(), &mut |space: &mut [u8]| {
                let (space_header, space_payload) = space.split_at_mut(head);
                space_payload.copy_from_slice(payload);
                // The header makes the block valid: a reader of the same memory must not
                // see it before the payload.
                std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
                space_header.copy_from_slice(header);
            })
            .map_err(|error| WriteError::Storage { offset, error })?;
        Ok(offset)
    }
}

/// Builds a whole segment in memory: a [`SegmentWriter`] over a `Vec<u8>`, for tests,
/// fixtures and small tools. The recorder writes with the same [`SegmentWriter`] over a
/// memory-mapped file.
///
/// ```
/// # use kellect::format::{SegmentEncoder, FileHeader, BlockKind, Codec, TraceReader};
/// let header = FileHeader { recording_id: 1, segment_index: 0, created_realtime_ns: 0 };
/// let mut segment = SegmentEncoder::new(&header, 3)?;
/// segment.push_meta(BlockKind::HostInfo, b"postcard bytes", false)?;
/// segment.push_frame(b"raw records", 100, 200, 2, Codec::Zstd)?;
/// let bytes = segment.finish();
/// let scan = TraceReader::new(&bytes)?.scan();
/// assert!(scan.is_clean());
/// assert_eq!(scan.frames().count(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SegmentEncoder(SegmentWriter<Vec<u8>>);

impl SegmentEncoder {
    /// Starts the first segment of a recording with `header`; frames and compressed
    /// metadata use zstd `level`.
    pub fn new(header: &FileHeader, level: i32) -> Result<SegmentEncoder, WriteError> {
        SegmentWriter::new(Vec::new(), header, level).map(SegmentEncoder)
    }

    /// Starts a later segment, linked to the predecessor's final chain head `prev` (see
    /// [`SegmentWriter::after`]).
    pub fn after(
        header: &FileHeader,
        level: i32,
        prev: &ChainHead,
    ) -> Result<SegmentEncoder, WriteError> {
        SegmentWriter::after(Vec::new(), header, level, prev).map(SegmentEncoder)
    }

    /// A version 1 encoder, for the version 1 golden files.
    #[cfg(test)]
    pub(crate) fn new_v1(header: &FileHeader, level: i32) -> Result<SegmentEncoder, WriteError> {
        SegmentWriter::new_v1(Vec::new(), header, level).map(SegmentEncoder)
    }

    /// The chain head of everything written so far (see [`SegmentWriter::chain_head`]).
    pub fn chain_head(&self) -> Option<ChainHead> {
        self.0.chain_head()
    }

    /// See [`SegmentWriter::set_next_seq`].
    pub fn set_next_seq(&mut self, seq: u32) {
        self.0.set_next_seq(seq);
    }

    /// The offset the next block will have.
    pub fn offset(&self) -> u64 {
        self.0.offset()
    }

    /// See [`SegmentWriter::push_block`].
    pub fn push_block(
        &mut self,
        kind: BlockKind,
        flags: u16,
        payload: &[u8],
    ) -> Result<u64, WriteError> {
        self.0.push_block(kind, flags, payload)
    }

    /// See [`SegmentWriter::push_meta`].
    pub fn push_meta(
        &mut self,
        kind: BlockKind,
        raw: &[u8],
        compress: bool,
    ) -> Result<u64, WriteError> {
        self.0.push_meta(kind, raw, compress)
    }

    /// See [`SegmentWriter::push_frame`].
    pub fn push_frame(
        &mut self,
        raw: &[u8],
        first_ts: u64,
        last_ts: u64,
        record_count: u32,
        codec: Codec,
    ) -> Result<u64, WriteError> {
        self.0
            .push_frame(raw, first_ts, last_ts, record_count, codec)
    }

    /// The segment so far, without Index and End: what a crash would leave.
    pub fn bytes(&self) -> &[u8] {
        self.0.storage()
    }

    /// Closes the segment with its Index and End blocks.
    pub fn finish(self) -> Vec<u8> {
        self.finish_chained().0
    }

    /// [`finish`](Self::finish), also returning the final chain head, which the next
    /// segment links to ([`SegmentEncoder::after`]).
    pub fn finish_chained(self) -> (Vec<u8>, Option<ChainHead>) {
        let mut writer = self.0;
        // Appends to memory cannot fail, and the tail blocks are valid by construction.
        let _ = writer.append_tail();
        (writer.storage, writer.chain)
    }
}

/// A storage that fails on demand, for tests of every writer above it.
#[cfg(test)]
pub(crate) mod faulty {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::Storage;
    use crate::format::BLOCK_HEADER_LEN;

    /// How the storage fails. Faults persist: a full disk stays full.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum Fault {
        /// Never.
        None,
        /// The disk holds `capacity` bytes: an append that needs more is refused before
        /// anything is written (`ENOSPC` at reservation).
        DiskFull { capacity: u64 },
        /// Bytes past file offset `at` are not stored: an append that crosses it stores
        /// what comes before `at` (payload first, header last, as the contract says),
        /// then fails, as a write(2) that came back short and then failed would.
        ShortWrite { at: u64 },
        /// The `nth` append (0-based; 0 is the file header) fails at reservation with an
        /// I/O error, the ones after it succeed.
        ReserveError { nth: usize },
    }

    /// The "disk" is shared, so a test reads it after the writer has gone.
    pub(crate) struct FaultyStorage {
        pub(crate) disk: Arc<Mutex<Vec<u8>>>,
        committed: u64,
        appends: usize,
        fault: Fault,
    }

    impl FaultyStorage {
        pub(crate) fn new(fault: Fault) -> Self {
            FaultyStorage {
                disk: Arc::new(Mutex::new(Vec::new())),
                committed: 0,
                appends: 0,
                fault,
            }
        }
    }

    impl Storage for FaultyStorage {
        fn committed(&self) -> u64 {
            self.committed
        }

        fn append_with(&mut self, len: usize, fill: &mut dyn FnMut(&mut [u8])) -> io::Result<()> {
            let nth = self.appends;
            self.appends += 1;
            let end = self.committed + len as u64;
            match self.fault {
                Fault::DiskFull { capacity } if end > capacity => {
                    return Err(io::Error::from_raw_os_error(28)); // ENOSPC
                }
                Fault::ReserveError { nth: n } if n == nth => {
                    return Err(io::Error::from_raw_os_error(5)); // EIO
                }
                _ => {}
            }
            let mut staged = vec![0u8; len];
            fill(&mut staged);
            let start = self.committed as usize;
            let budget = match self.fault {
                Fault::ShortWrite { at } => at.saturating_sub(self.committed) as usize,
                _ => usize::MAX,
            };
            // Payload first, then the header: the order a pwrite-based storage keeps.
            let head = BLOCK_HEADER_LEN.min(len);
            let payload_stored = budget.min(len - head);
            let header_stored = (budget - payload_stored).min(head);
            let mut disk = self.disk.lock().unwrap();
            // Whatever lay past the committed bytes (an earlier torn write) is overwritten.
            disk.truncate(start);
            disk.resize(start + head + payload_stored, 0);
            disk[start + head..].copy_from_slice(&staged[head..head + payload_stored]);
            disk[start..start + header_stored].copy_from_slice(&staged[..header_stored]);
            if payload_stored + header_stored < len {
                return Err(io::Error::new(io::ErrorKind::WriteZero, "short write"));
            }
            self.committed = end;
            Ok(())
        }

        fn close(&mut self) -> io::Result<u64> {
            self.disk.lock().unwrap().truncate(self.committed as usize);
            Ok(self.committed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::faulty::{Fault, FaultyStorage};
    use super::*;
    use crate::format::{DamageKind, TraceReader};

    const HEADER: FileHeader = FileHeader {
        recording_id: 7,
        segment_index: 0,
        created_realtime_ns: 1_700_000_000_000_000_000,
    };

    /// Raw records that compress a little: frames of different sizes.
    fn raw(seed: u32, len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(seed | 1) >> 3) as u8 ^ (i % 7) as u8)
            .collect()
    }

    /// What a writer stored before its storage failed.
    struct Outcome {
        error: Option<WriteError>,
        totals: SegmentTotals,
        /// (offset, record count) of every frame whose push succeeded.
        frames: Vec<(u64, u32)>,
        disk_before_finish: Vec<u8>,
        finished: Result<(), WriteError>,
        disk: Vec<u8>,
    }

    /// Writes metadata and frames until the storage fails (or all are written), then
    /// finishes the segment.
    fn write_until_failure(fault: Fault) -> Option<Outcome> {
        let storage = FaultyStorage::new(fault);
        let disk = storage.disk.clone();
        let mut w = SegmentWriter::new(storage, &HEADER, 3).ok()?;
        let mut frames = Vec::new();
        let mut error = None;
        for i in 0..12u32 {
            let pushed = if i % 4 == 0 {
                w.push_meta(BlockKind::Stats, &raw(i, 40 + i as usize), i % 8 == 0)
                    .map(|_| ())
            } else {
                let records = raw(i, 300 * i as usize);
                let codec = if i % 3 == 0 {
                    Codec::Stored
                } else {
                    Codec::Zstd
                };
                w.push_frame(&records, u64::from(i), u64::from(i) + 5, i, codec)
                    .map(|offset| frames.push((offset, i)))
            };
            if let Err(e) = pushed {
                error = Some(e);
                break;
            }
        }
        let totals = w.totals();
        let disk_before_finish = disk.lock().unwrap().clone();
        let finished = w.finish().map(|_| ());
        let disk = disk.lock().unwrap().clone();
        Some(Outcome {
            error,
            totals,
            frames,
            disk_before_finish,
            finished,
            disk,
        })
    }

    /// The stored bytes are a clean segment up to the last complete block: no damage,
    /// exactly the frames the writer said it stored, an End block only if it fit.
    #[track_caller]
    fn check_clean(o: &Outcome, what: &str) {
        let reader = TraceReader::new(&o.disk).unwrap();
        let scan = reader.scan();
        assert!(scan.damage.is_empty(), "{what}: {:?}", scan.damage);
        let stored: Vec<(u64, u32)> = scan
            .frames()
            .map(|f| (f.offset, f.frame_header().unwrap().record_count))
            .collect();
        assert_eq!(stored, o.frames, "{what}");
        assert_eq!(o.totals.frames, stored.len() as u64, "{what}");
        let records: u64 = stored.iter().map(|&(_, n)| u64::from(n)).sum();
        assert_eq!(o.totals.records, records, "{what}");
        // Sequence numbers follow each other: a failed frame took none.
        for (i, f) in scan.frames().enumerate() {
            assert_eq!(f.frame_header().unwrap().seq, i as u32, "{what}");
        }
        match (&o.finished, scan.end) {
            (Ok(()), Some(end)) => {
                assert!(scan.is_clean(), "{what}");
                assert_eq!((end.frames, end.records), (o.totals.frames, records));
            }
            (Err(_), None) => {}
            (finished, end) => panic!("{what}: finish {finished:?} but End {end:?}"),
        }
    }

    #[test]
    fn memory_storage_writes_what_the_encoder_wrote() {
        let o = write_until_failure(Fault::None).unwrap();
        assert!(o.error.is_none() && o.finished.is_ok());
        check_clean(&o, "no fault");
        assert_eq!(o.totals.frames, 9);
    }

    #[test]
    fn a_full_disk_leaves_no_torn_block() {
        let full = write_until_failure(Fault::None).unwrap().disk.len() as u64;
        let mut closed = 0;
        for capacity in (88..full).step_by(5) {
            let Some(o) = write_until_failure(Fault::DiskFull { capacity }) else {
                panic!("the file header fits in {capacity} bytes");
            };
            let what = format!("capacity {capacity}");
            // The writer said so, naming where the segment stops.
            let Some(WriteError::Storage { offset, error }) = &o.error else {
                // Everything fit, only the tail did not.
                assert!(o.finished.is_err(), "{what}");
                check_clean(&o, &what);
                continue;
            };
            assert_eq!(error.raw_os_error(), Some(28), "{what}");
            assert_eq!(*offset, o.totals.bytes, "{what}");
            assert!(o.disk_before_finish.len() as u64 <= capacity, "{what}");
            assert_eq!(o.disk_before_finish.len() as u64, o.totals.bytes, "{what}");
            check_clean(&o, &what);
            closed += usize::from(o.finished.is_ok());
        }
        // Often the Index and End blocks still fit where a frame did not.
        assert!(closed > 0);
    }

    #[test]
    fn a_short_write_leaves_no_torn_block_once_closed() {
        let full = write_until_failure(Fault::None).unwrap().disk.len() as u64;
        for at in (88..full).step_by(11) {
            let o = write_until_failure(Fault::ShortWrite { at }).unwrap();
            let what = format!("short write at {at}");
            let committed = o.totals.bytes;
            if let Some(e) = &o.error {
                let WriteError::Storage { offset, .. } = e else {
                    panic!("{what}: {e}");
                };
                assert_eq!(*offset, committed, "{what}");
                // Before closing, the torn block is past the committed bytes: a reader
                // sees every complete block, then damage at the cut only.
                let before = TraceReader::new(&o.disk_before_finish).unwrap().scan();
                assert!(
                    before.damage.iter().all(|d| d.offset >= committed),
                    "{what}: {:?}",
                    before.damage
                );
                assert_eq!(before.frames().count(), o.frames.len(), "{what}");
                // The header is written last: a torn block never has a valid header.
                assert!(
                    !before
                        .damage
                        .iter()
                        .any(|d| matches!(d.kind, DamageKind::PayloadChecksum { .. })),
                    "{what}: {:?}",
                    before.damage
                );
            }
            check_clean(&o, &what);
        }
    }

    #[test]
    fn an_error_at_reservation_changes_nothing() {
        for nth in 1..14 {
            let o = write_until_failure(Fault::ReserveError { nth }).unwrap();
            let what = format!("append {nth} refused");
            if nth <= 12 {
                let Some(WriteError::Storage { error, .. }) = &o.error else {
                    panic!("{what}: {:?}", o.error);
                };
                assert_eq!(error.raw_os_error(), Some(5), "{what}");
            }
            assert_eq!(o.disk_before_finish.len() as u64, o.totals.bytes, "{what}");
            check_clean(&o, &what);
        }
        // The file header itself.
        assert!(write_until_failure(Fault::ReserveError { nth: 0 }).is_none());
    }

    #[test]
    fn oversized_blocks_are_refused_before_any_write() {
        let mut w = SegmentWriter::new(Vec::new(), &HEADER, 3).unwrap();
        let big = vec![0u8; MAX_FRAME_RAW as usize + 1];
        let e = w.push_frame(&big, 0, 0, 1, Codec::Stored).unwrap_err();
        assert!(matches!(
            e,
            WriteError::Format(FormatError::FrameTooLarge { .. })
        ));
        assert_eq!((w.offset(), w.next_seq()), (88, 0));
    }

    /// The writer's cost of hashing: the same frames written with the chain (version 2)
    /// and without (version 1), best of 3 runs each. Reported, not asserted: run with
    /// `bash bench/chain-hash.sh` (release build).
    #[test]
    #[ignore = "a measurement: bash bench/chain-hash.sh"]
    fn chain_hash_cost() {
        use std::time::{Duration, Instant};
        // Real records: the frames of a fixture recorded by kellect, 1 MiB per frame (the
        // recorder's default --frame-size).
        let fixture = include_bytes!("../../fixtures/records.kz");
        let scan = TraceReader::new(fixture).unwrap().scan();
        let mut records = Vec::new();
        for f in scan.frames() {
            records.extend(crate::format::decode_frame(f.payload).unwrap().1);
        }
        let mut frame = Vec::with_capacity(1 << 20);
        while frame.len() < 1 << 20 {
            frame.extend_from_slice(&records);
        }
        frame.truncate(1 << 20);
        // And the worst case for the hash: incompressible bytes, stored as large as raw.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..1 << 20)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let frames = 64u64;
        let run = |data: &[u8], chained: bool| -> (Duration, u64) {
            let mut best = Duration::MAX;
            let mut bytes = 0;
            for _ in 0..3 {
                let start = Instant::now();
                let mut w = if chained {
                    SegmentWriter::new(Vec::new(), &HEADER, 3).unwrap()
                } else {
                    SegmentWriter::new_v1(Vec::new(), &HEADER, 3).unwrap()
                };
                for i in 0..frames {
                    w.push_frame(data, i, i + 1, 1000, Codec::Zstd).unwrap();
                }
                bytes = w.finish().unwrap().len() as u64;
                best = best.min(start.elapsed());
            }
            (best, bytes)
        };
        for (what, data) in [("real records", &frame), ("incompressible bytes", &noise)] {
            let (v1, _) = run(data, false);
            let (v2, stored) = run(data, true);
            let raw = (frames << 20) as f64;
            let mibs = |d: Duration| raw / d.as_secs_f64() / f64::from(1u32 << 20);
            eprintln!(
                "{frames} frames of 1 MiB of {what} ({stored} bytes stored, zstd level 3): \
                 without chain {v1:?} ({:.0} MiB/s raw), with chain {v2:?} ({:.0} MiB/s raw): \
                 hashing adds {:.2}% to the writer",
                mibs(v1),
                mibs(v2),
                (v2.as_secs_f64() / v1.as_secs_f64() - 1.0) * 100.0
            );
        }
    }
}
