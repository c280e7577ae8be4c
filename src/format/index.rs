use super::block::{encode_block, BlockKind, BLOCK_HEADER_LEN, MAX_BLOCK_PAYLOAD};
use super::chain::{ChainHead, CHAIN_HEAD_LEN};
use super::error::FormatError;
use super::frame::FrameHeader;
use super::le::{LeReader, LeWriter};

/// Length of one entry of an Index block.
pub const INDEX_ENTRY_LEN: usize = 32;

/// Length of an End block's payload in format version 1.
pub const END_PAYLOAD_LEN: usize = 24;

/// Length of an End block's payload in format version 2: the version 1 fields and the
/// chain head of everything before the End block.
pub const END_PAYLOAD_LEN_V2: usize = END_PAYLOAD_LEN + CHAIN_HEAD_LEN;

/// Most entries one Index block can hold (its payload stays within
/// [`MAX_BLOCK_PAYLOAD`]).
pub const MAX_INDEX_ENTRIES: usize = (MAX_BLOCK_PAYLOAD as usize - 4) / INDEX_ENTRY_LEN;

/// One frame in an Index block: where its block is and what its header says, so a reader
/// can seek to a time range or a sequence number without scanning the segment.
///
/// The Index block payload is a `u32` entry count followed by that many entries, and
/// nothing else (its length is exactly `4 + 32 × count`). Entry layout (32 bytes,
/// integers little-endian):
///
/// ```text
///  0  u64  block_offset: file offset of the Frame block's header
///  8  u64  first_ts (as in the frame header)
/// 16  u64  last_ts
/// 24  u32  record_count
/// 28  u32  seq
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IndexEntry {
    pub block_offset: u64,
    pub first_ts: u64,
    pub last_ts: u64,
    pub record_count: u32,
    pub seq: u32,
}

impl IndexEntry {
    pub fn new(block_offset: u64, frame: &FrameHeader) -> IndexEntry {
        IndexEntry {
            block_offset,
            first_ts: frame.first_ts,
            last_ts: frame.last_ts,
            record_count: frame.record_count,
            seq: frame.seq,
        }
    }

    pub fn encode(&self) -> [u8; INDEX_ENTRY_LEN] {
        let mut out = [0u8; INDEX_ENTRY_LEN];
        let mut w = LeWriter::new(&mut out);
        w.u64(self.block_offset);
        w.u64(self.first_ts);
        w.u64(self.last_ts);
        w.u32(self.record_count);
        w.u32(self.seq);
        out
    }

    pub fn decode(bytes: &[u8; INDEX_ENTRY_LEN]) -> IndexEntry {
        let mut r = LeReader::new(bytes);
        IndexEntry {
            block_offset: r.u64(),
            first_ts: r.u64(),
            last_ts: r.u64(),
            record_count: r.u32(),
            seq: r.u32(),
        }
    }
}

/// Parses an Index block payload. The count is checked against the payload length before
/// anything is allocated.
pub fn parse_index(payload: &[u8]) -> Result<Vec<IndexEntry>, FormatError> {
    let Some((count, entries)) = payload.split_first_chunk::<4>() else {
        return Err(FormatError::Truncated {
            what: "index block",
            needed: 4,
            available: payload.len() as u64,
        });
    };
    let count = u64::from(u32::from_le_bytes(*count));
    let expected = 4 + count * INDEX_ENTRY_LEN as u64;
    if expected != payload.len() as u64 {
        return Err(FormatError::LengthMismatch {
            what: "index block (4 + 32 bytes per entry)",
            expected,
            actual: payload.len() as u64,
        });
    }
    Ok(entries
        .chunks_exact(INDEX_ENTRY_LEN)
        .filter_map(|chunk| chunk.first_chunk::<INDEX_ENTRY_LEN>())
        .map(IndexEntry::decode)
        .collect())
}

/// The payload of the End block, the last block of a cleanly closed segment.
///
/// Byte layout (24 bytes in version 1, 56 in version 2, integers little-endian):
///
/// ```text
///  0  u64       frames_in_segment
///  8  u64       records_in_segment
/// 16  u64       index_block_offset: file offset of the Index block header, 0 if none
/// 24  [u8; 32]  version 2 only: the chain head of everything before the End block
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndInfo {
    pub frames: u64,
    pub records: u64,
    /// `None` is stored as 0 (offset 0 is the file header, never a block).
    pub index_offset: Option<u64>,
    /// Version 2: the chain head of the file header and every block before the End block.
    pub chain_head: Option<ChainHead>,
}

impl EndInfo {
    /// 24 bytes without a chain head, 56 with one.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = [0u8; END_PAYLOAD_LEN_V2];
        let mut w = LeWriter::new(&mut out);
        w.u64(self.frames);
        w.u64(self.records);
        w.u64(self.index_offset.unwrap_or(0));
        match &self.chain_head {
            Some(head) => {
                w.bytes(&head.0);
                out.to_vec()
            }
            None => out[..END_PAYLOAD_LEN].to_vec(),
        }
    }

    /// Parses an End block payload: exactly 24 bytes (version 1) or 56 (version 2, with a
    /// chain head).
    pub fn decode(payload: &[u8]) -> Result<EndInfo, FormatError> {
        let (fixed, head) = match payload.len() {
            END_PAYLOAD_LEN => (payload, None),
            END_PAYLOAD_LEN_V2 => {
                let (fixed, head) = payload.split_at(END_PAYLOAD_LEN);
                let mut h = [0u8; CHAIN_HEAD_LEN];
                h.copy_from_slice(head);
                (fixed, Some(ChainHead(h)))
            }
            _ => {
                return Err(FormatError::LengthMismatch {
                    what: "end block (24 bytes, or 56 in version 2)",
                    expected: END_PAYLOAD_LEN as u64,
                    actual: payload.len() as u64,
                })
            }
        };
        let mut r = LeReader::new(fixed);
        Ok(EndInfo {
            frames: r.u64(),
            records: r.u64(),
            index_offset: Some(r.u64()).filter(|&o| o != 0),
            chain_head: head,
        })
    }
}

/// Collects the frames of one segment as they are written, then encodes the Index and End
/// blocks that close it.
///
/// ```
/// # use kellect::format::{IndexBuilder, FrameHeader, Codec};
/// let mut index = IndexBuilder::new();
/// let frame = FrameHeader { first_ts: 5, last_ts: 9, record_count: 3, raw_len: 0, codec: Codec::Stored, seq: 0 };
/// index.push(48, &frame); // the Frame block was written at offset 48
/// let tail = index.encode_index_and_end(1000); // the next free offset is 1000
/// assert_eq!(tail.len(), 24 + 4 + 32 + 24 + 24);
/// ```
#[derive(Debug, Clone, Default)]
pub struct IndexBuilder {
    entries: Vec<IndexEntry>,
    records: u64,
}

impl IndexBuilder {
    pub fn new() -> IndexBuilder {
        IndexBuilder::default()
    }

    /// Records a Frame block written at file offset `block_offset`.
    pub fn push(&mut self, block_offset: u64, frame: &FrameHeader) {
        self.entries.push(IndexEntry::new(block_offset, frame));
        self.records += u64::from(frame.record_count);
    }

    pub fn entries(&self) -> &[IndexEntry] {
        &self.entries
    }

    pub fn frames(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn records(&self) -> u64 {
        self.records
    }

    /// The payload of the Index block (`u32` count, then the entries), or `None` with
    /// more than [`MAX_INDEX_ENTRIES`] frames.
    pub fn index_payload(&self) -> Option<Vec<u8>> {
        if self.entries.len() > MAX_INDEX_ENTRIES {
            return None;
        }
        let mut payload = Vec::with_capacity(4 + self.entries.len() * INDEX_ENTRY_LEN);
        payload.extend_from_slice(&(self.entries.len() as u32).to_le_bytes());
        for entry in &self.entries {
            payload.extend_from_slice(&entry.encode());
        }
        Some(payload)
    }

    /// The Index block followed by the End block (version 1, without chain), to be written at file offset
    /// `index_offset` (the segment's next free byte).
    ///
    /// With more than [`MAX_INDEX_ENTRIES`] frames the index would exceed the block size
    /// limit; then only the End block is written, with no index offset (readers fall back
    /// to scanning).
    pub fn encode_index_and_end(&self, index_offset: u64) -> Vec<u8> {
        let mut out = Vec::new();
        let mut end = EndInfo {
            frames: self.frames(),
            records: self.records,
            index_offset: None,
            chain_head: None,
        };
        if let Some(payload) = self.index_payload() {
            if encode_block(BlockKind::Index, 0, &payload, &mut out).is_ok() {
                end.index_offset = Some(index_offset);
            }
        }
        out.reserve(BLOCK_HEADER_LEN + END_PAYLOAD_LEN);
        // 24 bytes never exceed the block limit.
        let _ = encode_block(BlockKind::End, 0, &end.encode(), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::block::BlockHeader;
    use crate::format::frame::Codec;

    fn frame(seq: u32, first_ts: u64, records: u32) -> FrameHeader {
        FrameHeader {
            first_ts,
            last_ts: first_ts + 100,
            record_count: records,
            raw_len: 0,
            codec: Codec::Zstd,
            seq,
        }
    }

    #[test]
    fn entry_byte_layout() {
        let e = IndexEntry {
            block_offset: 0x0102,
            first_ts: 0x0304,
            last_ts: 0x0506,
            record_count: 0x07,
            seq: 0x08,
        };
        let b = e.encode();
        assert_eq!(&b[0..8], &0x0102u64.to_le_bytes());
        assert_eq!(&b[8..16], &0x0304u64.to_le_bytes());
        assert_eq!(&b[16..24], &0x0506u64.to_le_bytes());
        assert_eq!(&b[24..28], &7u32.to_le_bytes());
        assert_eq!(&b[28..32], &8u32.to_le_bytes());
        assert_eq!(IndexEntry::decode(&b), e);
    }

    #[test]
    fn index_and_end_round_trip() {
        let mut builder = IndexBuilder::new();
        builder.push(48, &frame(10, 1000, 5));
        builder.push(500, &frame(11, 2000, 7));
        let tail = builder.encode_index_and_end(9000);

        let index = BlockHeader::decode(&tail).unwrap();
        assert_eq!(index.kind, BlockKind::Index);
        let index_payload = &tail[24..24 + index.payload_len as usize];
        let entries = parse_index(index_payload).unwrap();
        assert_eq!(entries, builder.entries());
        assert_eq!(entries[1].block_offset, 500);
        assert_eq!((entries[1].first_ts, entries[1].last_ts), (2000, 2100));
        assert_eq!((entries[1].record_count, entries[1].seq), (7, 11));

        let rest = &tail[index.block_len() as usize..];
        let end = BlockHeader::decode(rest).unwrap();
        assert_eq!(end.kind, BlockKind::End);
        assert_eq!(rest.len(), 24 + END_PAYLOAD_LEN);
        let info = EndInfo::decode(&rest[24..]).unwrap();
        assert_eq!(
            info,
            EndInfo {
                frames: 2,
                records: 12,
                index_offset: Some(9000),
                chain_head: None,
            }
        );
    }

    #[test]
    fn empty_index_is_still_written() {
        let tail = IndexBuilder::new().encode_index_and_end(48);
        assert_eq!(parse_index(&tail[24..28]).unwrap(), vec![]);
        let info = EndInfo::decode(&tail[28 + 24..]).unwrap();
        assert_eq!(info.frames, 0);
        assert_eq!(info.index_offset, Some(48));
    }

    #[test]
    fn index_count_is_checked_before_allocating() {
        let mut payload = u32::MAX.to_le_bytes().to_vec();
        payload.extend_from_slice(&[0; 64]);
        assert!(matches!(
            parse_index(&payload),
            Err(FormatError::LengthMismatch { expected, actual: 68, .. }) if expected == 4 + 32 * u64::from(u32::MAX)
        ));
        let mut payload = 1u32.to_le_bytes().to_vec();
        payload.extend_from_slice(&[0; 33]);
        assert!(parse_index(&payload).is_err());
        assert!(matches!(
            parse_index(&[1, 0]),
            Err(FormatError::Truncated { .. })
        ));
    }

    #[test]
    fn end_payload_layout_and_length() {
        let info = EndInfo {
            frames: 1,
            records: 2,
            index_offset: None,
            chain_head: None,
        };
        let b = info.encode();
        assert_eq!(b.len(), 24);
        assert_eq!(&b[0..8], &1u64.to_le_bytes());
        assert_eq!(&b[8..16], &2u64.to_le_bytes());
        assert_eq!(&b[16..24], &[0; 8]);
        assert_eq!(EndInfo::decode(&b).unwrap(), info);
        assert!(EndInfo::decode(&b[..23]).is_err());
        assert!(EndInfo::decode(&[0; 25]).is_err());
        // Version 2: the chain head follows.
        let v2 = EndInfo {
            chain_head: Some(ChainHead([7; 32])),
            ..info
        };
        let b = v2.encode();
        assert_eq!(b.len(), END_PAYLOAD_LEN_V2);
        assert_eq!(&b[24..], &[7; 32]);
        assert_eq!(EndInfo::decode(&b).unwrap(), v2);
        assert!(EndInfo::decode(&b[..55]).is_err());
    }
}
