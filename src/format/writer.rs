use super::block::{compress_meta, encode_block, BlockKind, BLOCK_FLAG_COMPRESSED};
use super::error::FormatError;
use super::frame::{encode_frame_into, Codec, FrameHeader, MAX_FRAME_RAW};
use super::header::FileHeader;
use super::index::IndexBuilder;

/// Builds a whole segment in memory: header, blocks, then Index and End. For tests,
/// fixtures and small tools; the recorder writes through its own memory-mapped writer with
/// the same pieces ([`FileHeader::encode`], [`block_header`](super::block_header),
/// [`encode_frame`](super::encode_frame), [`IndexBuilder`]).
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
/// # Ok::<(), kellect::format::FormatError>(())
/// ```
pub struct SegmentEncoder {
    buf: Vec<u8>,
    index: IndexBuilder,
    compressor: zstd::bulk::Compressor<'static>,
    level: i32,
    next_seq: u32,
    scratch: Vec<u8>,
}

impl SegmentEncoder {
    /// Starts a segment with `header`; frames and compressed metadata use zstd `level`.
    pub fn new(header: &FileHeader, level: i32) -> Result<SegmentEncoder, FormatError> {
        let compressor = zstd::bulk::Compressor::new(level).map_err(FormatError::Compress)?;
        Ok(SegmentEncoder {
            buf: header.encode().to_vec(),
            index: IndexBuilder::new(),
            compressor,
            level,
            next_seq: 0,
            scratch: Vec::new(),
        })
    }

    /// The sequence number of the next frame (0 unless set; a later segment of a recording
    /// continues its predecessor's numbering).
    pub fn set_next_seq(&mut self, seq: u32) {
        self.next_seq = seq;
    }

    /// The offset the next block will have.
    pub fn offset(&self) -> u64 {
        self.buf.len() as u64
    }

    /// Appends any block as given. A Frame block written this way is not indexed.
    pub fn push_block(
        &mut self,
        kind: BlockKind,
        flags: u16,
        payload: &[u8],
    ) -> Result<u64, FormatError> {
        let offset = self.offset();
        encode_block(kind, flags, payload, &mut self.buf)?;
        Ok(offset)
    }

    /// Appends a metadata block, zstd-compressed if `compress`. Returns its offset.
    pub fn push_meta(
        &mut self,
        kind: BlockKind,
        raw: &[u8],
        compress: bool,
    ) -> Result<u64, FormatError> {
        if compress {
            let packed = compress_meta(raw, self.level)?;
            self.push_block(kind, BLOCK_FLAG_COMPRESSED, &packed)
        } else {
            self.push_block(kind, 0, raw)
        }
    }

    /// Appends a Frame block holding `raw` records, numbered with the next sequence number,
    /// and indexes it. Returns its offset.
    pub fn push_frame(
        &mut self,
        raw: &[u8],
        first_ts: u64,
        last_ts: u64,
        record_count: u32,
        codec: Codec,
    ) -> Result<u64, FormatError> {
        let raw_len = u32::try_from(raw.len())
            .ok()
            .filter(|&len| len <= MAX_FRAME_RAW)
            .ok_or(FormatError::FrameTooLarge {
                raw_len: raw.len() as u64,
            })?;
        let header = FrameHeader {
            first_ts,
            last_ts,
            record_count,
            raw_len,
            codec,
            seq: self.next_seq,
        };
        self.scratch.clear();
        encode_frame_into(&header, raw, &mut self.compressor, &mut self.scratch)?;
        let offset = self.offset();
        encode_block(BlockKind::Frame, 0, &self.scratch, &mut self.buf)?;
        self.index.push(offset, &header);
        self.next_seq = self.next_seq.wrapping_add(1);
        Ok(offset)
    }

    /// The segment so far, without Index and End: what a crash would leave.
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Closes the segment with its Index and End blocks.
    pub fn finish(mut self) -> Vec<u8> {
        let tail = self.index.encode_index_and_end(self.offset());
        self.buf.extend_from_slice(&tail);
        self.buf
    }
}
