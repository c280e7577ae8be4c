use std::fmt;
use std::io::{self, Read};

use super::error::FormatError;
use super::le::{LeReader, LeWriter};

/// The first four bytes of every block header ("BKLK" on disk). A reader that meets damage
/// searches for it to find the next block.
pub const BLOCK_SYNC: u32 = 0x4B4C_4B42;

/// Length of a block header.
pub const BLOCK_HEADER_LEN: usize = 24;

/// Bytes of the block header covered by its CRC (the CRC itself sits right after them).
const BLOCK_HEADER_CRC_SPAN: usize = 20;

/// Largest payload a block may have. A header that claims more is damage.
pub const MAX_BLOCK_PAYLOAD: u32 = 256 << 20;

/// Block flag bit 0: the payload is one zstd frame holding the real payload. Used on
/// metadata blocks ([`compress_meta`]); frames have their own codec field instead.
pub const BLOCK_FLAG_COMPRESSED: u16 = 1;

/// Largest decompressed metadata payload [`decompress_meta`] produces.
pub const MAX_META_RAW: usize = 256 << 20;

/// The four bytes every zstd frame starts with (0xFD2FB528, little-endian).
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// What a block holds. Stored as a `u16` in the block header.
///
/// Readers skip kinds they do not know ([`BlockKind::Unknown`]), so a new kind is not a
/// format version change. Kinds `18..=0x7fff` are reserved for future metadata.
///
/// `BlockKind::from(u16)` maps every known number to its named variant; construct
/// `Unknown` only through it, or `Unknown(3)` will not equal `Frame`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BlockKind {
    /// 1: host information (metadata, postcard; schema in `crate::meta`).
    HostInfo,
    /// 2: process snapshot (metadata, postcard; usually compressed).
    Snapshot,
    /// 3: a data frame: [`FrameHeader`](super::FrameHeader) + records.
    Frame,
    /// 4: kernel emitted/dropped counters (metadata, postcard).
    Stats,
    /// 5: a boot-time ↔ realtime clock sample (metadata, postcard).
    ClockSync,
    /// 6: the index of this segment's frames ([`IndexEntry`](super::IndexEntry)).
    Index,
    /// 7: the end of the segment ([`EndInfo`](super::EndInfo)); present only if the
    /// segment was closed cleanly.
    End,
    /// 8: the open file descriptors of the processes in the snapshot (metadata).
    FdTable,
    /// 9: users and groups (metadata).
    Accounts,
    /// 10: the mount table (metadata).
    Mounts,
    /// 11: network interfaces and addresses (metadata).
    Interfaces,
    /// 12: package versions and checksums of files (metadata).
    FileFacts,
    /// 13: what was captured beyond events: payload ports, -v, -c (metadata).
    Capture,
    /// 14: the recording continues in a next segment (metadata; the last block of a segment
    /// closed by rotation, before its Index and End).
    Continuation,
    /// 15: a seal: an epoch key's HMAC of the chain head of everything before it
    /// ([`Seal`](super::Seal)); not metadata.
    Seal,
    /// 16: chain-of-custody facts of the recording (metadata; the first segment only).
    Custody,
    /// 17: when and why the recording stopped (metadata; the last segment, before its last
    /// seal, Index and End).
    Stop,
    /// 18: the cgroup tree and the cgroups of the snapshot's processes (metadata).
    Cgroups,
    /// Any other number: skipped by readers that do not know it.
    Unknown(u16),
}

impl BlockKind {
    pub const fn as_u16(self) -> u16 {
        match self {
            BlockKind::HostInfo => 1,
            BlockKind::Snapshot => 2,
            BlockKind::Frame => 3,
            BlockKind::Stats => 4,
            BlockKind::ClockSync => 5,
            BlockKind::Index => 6,
            BlockKind::End => 7,
            BlockKind::FdTable => 8,
            BlockKind::Accounts => 9,
            BlockKind::Mounts => 10,
            BlockKind::Interfaces => 11,
            BlockKind::FileFacts => 12,
            BlockKind::Capture => 13,
            BlockKind::Continuation => 14,
            BlockKind::Seal => 15,
            BlockKind::Custody => 16,
            BlockKind::Stop => 17,
            BlockKind::Cgroups => 18,
            BlockKind::Unknown(v) => v,
        }
    }

    pub const fn from_u16(v: u16) -> BlockKind {
        match v {
            1 => BlockKind::HostInfo,
            2 => BlockKind::Snapshot,
            3 => BlockKind::Frame,
            4 => BlockKind::Stats,
            5 => BlockKind::ClockSync,
            6 => BlockKind::Index,
            7 => BlockKind::End,
            8 => BlockKind::FdTable,
            9 => BlockKind::Accounts,
            10 => BlockKind::Mounts,
            11 => BlockKind::Interfaces,
            12 => BlockKind::FileFacts,
            13 => BlockKind::Capture,
            14 => BlockKind::Continuation,
            15 => BlockKind::Seal,
            16 => BlockKind::Custody,
            17 => BlockKind::Stop,
            18 => BlockKind::Cgroups,
            other => BlockKind::Unknown(other),
        }
    }

    /// Whether the payload is opaque metadata bytes for `crate::meta`, which may carry
    /// [`BLOCK_FLAG_COMPRESSED`]. Reserved future kinds `19..=0x7fff` count as metadata.
    pub const fn is_metadata(self) -> bool {
        match self {
            BlockKind::HostInfo
            | BlockKind::Snapshot
            | BlockKind::Stats
            | BlockKind::ClockSync
            | BlockKind::FdTable
            | BlockKind::Accounts
            | BlockKind::Mounts
            | BlockKind::Interfaces
            | BlockKind::FileFacts
            | BlockKind::Capture
            | BlockKind::Continuation
            | BlockKind::Custody
            | BlockKind::Stop
            | BlockKind::Cgroups => true,
            BlockKind::Frame | BlockKind::Index | BlockKind::End | BlockKind::Seal => false,
            BlockKind::Unknown(v) => v >= 8 && v <= 0x7fff,
        }
    }
}

impl From<u16> for BlockKind {
    fn from(v: u16) -> BlockKind {
        BlockKind::from_u16(v)
    }
}

impl From<BlockKind> for u16 {
    fn from(kind: BlockKind) -> u16 {
        kind.as_u16()
    }
}

impl fmt::Display for BlockKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BlockKind::HostInfo => f.write_str("HostInfo"),
            BlockKind::Snapshot => f.write_str("Snapshot"),
            BlockKind::Frame => f.write_str("Frame"),
            BlockKind::Stats => f.write_str("Stats"),
            BlockKind::ClockSync => f.write_str("ClockSync"),
            BlockKind::Index => f.write_str("Index"),
            BlockKind::End => f.write_str("End"),
            BlockKind::FdTable => f.write_str("FdTable"),
            BlockKind::Accounts => f.write_str("Accounts"),
            BlockKind::Mounts => f.write_str("Mounts"),
            BlockKind::Interfaces => f.write_str("Interfaces"),
            BlockKind::FileFacts => f.write_str("FileFacts"),
            BlockKind::Capture => f.write_str("Capture"),
            BlockKind::Continuation => f.write_str("Continuation"),
            BlockKind::Seal => f.write_str("Seal"),
            BlockKind::Custody => f.write_str("Custody"),
            BlockKind::Stop => f.write_str("Stop"),
            BlockKind::Cgroups => f.write_str("Cgroups"),
            BlockKind::Unknown(v) => write!(f, "Unknown({v:#06x})"),
        }
    }
}

/// The header in front of every block's payload. Blocks follow each other with no
/// padding: the next block starts at `offset + 24 + payload_len`.
///
/// Byte layout (24 bytes, integers little-endian):
///
/// ```text
///  0  u32  sync = 0x4B4C4B42 (the bytes "BKLK")
///  4  u16  kind (BlockKind)
///  6  u16  flags (bit 0: BLOCK_FLAG_COMPRESSED; bits 1..15 reserved, 0)
///  8  u32  payload length (bytes after this header, at most MAX_BLOCK_PAYLOAD)
/// 12  u32  CRC-32C of the payload as stored (compressed bytes if compressed)
/// 16  u32  reserved (0)
/// 20  u32  CRC-32C of bytes 0..20
/// ```
///
/// The header has its own CRC so its length field can be trusted (to skip a block whose
/// payload is damaged) and so a reader resynchronising after damage can tell a real block
/// header from payload bytes that happen to contain "BKLK".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockHeader {
    pub kind: BlockKind,
    pub flags: u16,
    pub payload_len: u32,
    pub payload_crc: u32,
}

impl BlockHeader {
    /// The header for `payload`. A payload longer than [`MAX_BLOCK_PAYLOAD`] gets a length
    /// readers reject (use [`encode_block`] to get an error instead).
    pub fn for_payload(kind: BlockKind, flags: u16, payload: &[u8]) -> BlockHeader {
        BlockHeader {
            kind,
            flags,
            payload_len: u32::try_from(payload.len()).unwrap_or(u32::MAX),
            payload_crc: crc32c::crc32c(payload),
        }
    }

    /// Header plus payload length.
    pub const fn block_len(&self) -> u64 {
        BLOCK_HEADER_LEN as u64 + self.payload_len as u64
    }

    pub fn encode(&self) -> [u8; BLOCK_HEADER_LEN] {
        let mut out = [0u8; BLOCK_HEADER_LEN];
        let mut w = LeWriter::new(&mut out);
        w.u32(BLOCK_SYNC);
        w.u16(self.kind.as_u16());
        w.u16(self.flags);
        w.u32(self.payload_len);
        w.u32(self.payload_crc);
        w.u32(0);
        let crc = crc32c::crc32c(&out[..BLOCK_HEADER_CRC_SPAN]);
        out[BLOCK_HEADER_CRC_SPAN..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses and checks the block header at the start of `bytes`: sync word, header CRC,
    /// payload length limit, in that order. Does not look at the payload.
    pub fn decode(bytes: &[u8]) -> Result<BlockHeader, FormatError> {
        let Some(fixed) = bytes.first_chunk::<BLOCK_HEADER_LEN>() else {
            return Err(FormatError::Truncated {
                what: "block header",
                needed: BLOCK_HEADER_LEN as u64,
                available: bytes.len() as u64,
            });
        };
        let mut r = LeReader::new(fixed);
        let sync = r.u32();
        if sync != BLOCK_SYNC {
            return Err(FormatError::BadSync { found: sync });
        }
        let kind = BlockKind::from_u16(r.u16());
        let flags = r.u16();
        let payload_len = r.u32();
        let payload_crc = r.u32();
        let _reserved = r.u32();
        let stored = r.u32();
        let computed = crc32c::crc32c(&fixed[..BLOCK_HEADER_CRC_SPAN]);
        if stored != computed {
            return Err(FormatError::BlockHeaderChecksum { stored, computed });
        }
        if payload_len > MAX_BLOCK_PAYLOAD {
            return Err(FormatError::BlockTooLarge {
                len: payload_len.into(),
            });
        }
        Ok(BlockHeader {
            kind,
            flags,
            payload_len,
            payload_crc,
        })
    }
}

/// The 24-byte header for a block holding `payload`, so a writer can write the header and
/// then the payload without copying it. `payload` must be at most [`MAX_BLOCK_PAYLOAD`]
/// bytes (a longer one gets a header readers treat as damage).
pub fn block_header(kind: BlockKind, flags: u16, payload: &[u8]) -> [u8; BLOCK_HEADER_LEN] {
    debug_assert!(payload.len() <= MAX_BLOCK_PAYLOAD as usize);
    BlockHeader::for_payload(kind, flags, payload).encode()
}

/// Appends a whole block (header and payload) to `out`.
pub fn encode_block(
    kind: BlockKind,
    flags: u16,
    payload: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    if payload.len() > MAX_BLOCK_PAYLOAD as usize {
        return Err(FormatError::BlockTooLarge {
            len: payload.len() as u64,
        });
    }
    out.reserve(BLOCK_HEADER_LEN + payload.len());
    out.extend_from_slice(&block_header(kind, flags, payload));
    out.extend_from_slice(payload);
    Ok(())
}

/// Compresses a metadata payload into one zstd frame (with content size and content
/// checksum), for a block with [`BLOCK_FLAG_COMPRESSED`] set.
pub fn compress_meta(raw: &[u8], level: i32) -> Result<Vec<u8>, FormatError> {
    if raw.len() > MAX_META_RAW {
        return Err(FormatError::MetaTooLarge {
            size: raw.len() as u64,
            limit: MAX_META_RAW as u64,
        });
    }
    let mut compressor = zstd::bulk::Compressor::new(level).map_err(FormatError::Compress)?;
    compressor
        .include_checksum(true)
        .and_then(|()| compressor.include_contentsize(true))
        .map_err(FormatError::Compress)?;
    compressor.compress(raw).map_err(FormatError::Compress)
}

/// Decompresses a metadata payload written by [`compress_meta`].
///
/// The payload must be exactly one zstd frame. Its declared content size, if present, is
/// only used to reject an oversized payload early and to check the result: memory grows
/// with the bytes actually produced, never with a number read from the data, and stops
/// at [`MAX_META_RAW`].
pub fn decompress_meta(payload: &[u8]) -> Result<Vec<u8>, FormatError> {
    decompress_meta_limited(payload, MAX_META_RAW)
}

/// [`decompress_meta`] with a smaller limit than [`MAX_META_RAW`] (a replay's memory
/// budget): a payload that would decompress to more than `limit` bytes is
/// [`FormatError::MetaTooLarge`], found before (declared size) or while (stream) it is
/// produced, never after allocating it whole. A `limit` above [`MAX_META_RAW`] is lowered
/// to it: the format allows no more.
pub fn decompress_meta_limited(payload: &[u8], limit: usize) -> Result<Vec<u8>, FormatError> {
    let limit = limit.min(MAX_META_RAW);
    if !payload.starts_with(&ZSTD_MAGIC) {
        return Err(FormatError::NotZstd);
    }
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(payload)
        .map_err(|code| FormatError::Decompress(zstd_error(code)))?;
    if frame_len != payload.len() {
        return Err(FormatError::TrailingData {
            what: "compressed metadata payload",
            bytes: payload.len().saturating_sub(frame_len) as u64,
        });
    }
    let declared = zstd::zstd_safe::get_frame_content_size(payload).map_err(|_| {
        FormatError::Decompress(io::Error::new(
            io::ErrorKind::InvalidData,
            "corrupt zstd frame header",
        ))
    })?;
    let limit64 = limit as u64;
    if let Some(size) = declared {
        if size > limit64 {
            return Err(FormatError::MetaTooLarge {
                size,
                limit: limit64,
            });
        }
    }
    let decoder = zstd::stream::read::Decoder::with_buffer(payload)
        .map_err(FormatError::Decompress)?
        .single_frame();
    // A first allocation bounded by the payload, not by the declared size.
    let initial = declared
        .unwrap_or(0)
        .min(limit64)
        .min((payload.len() as u64).saturating_mul(4));
    let mut out = Vec::with_capacity(initial as usize);
    decoder
        .take(limit64.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(FormatError::Decompress)?;
    if out.len() > limit {
        return Err(FormatError::MetaTooLarge {
            size: out.len() as u64,
            limit: limit64,
        });
    }
    if let Some(size) = declared {
        if size != out.len() as u64 {
            return Err(FormatError::LengthMismatch {
                what: "decompressed metadata payload (zstd content size)",
                expected: size,
                actual: out.len() as u64,
            });
        }
    }
    Ok(out)
}

pub(crate) fn zstd_error(code: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        zstd::zstd_safe::get_error_name(code),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_numbers_round_trip() {
        let named = [
            (1, BlockKind::HostInfo),
            (2, BlockKind::Snapshot),
            (3, BlockKind::Frame),
            (4, BlockKind::Stats),
            (5, BlockKind::ClockSync),
            (6, BlockKind::Index),
            (7, BlockKind::End),
            (8, BlockKind::FdTable),
            (9, BlockKind::Accounts),
            (10, BlockKind::Mounts),
            (11, BlockKind::Interfaces),
            (12, BlockKind::FileFacts),
            (13, BlockKind::Capture),
            (14, BlockKind::Continuation),
            (15, BlockKind::Seal),
            (16, BlockKind::Custody),
            (17, BlockKind::Stop),
            (18, BlockKind::Cgroups),
        ];
        for (n, kind) in named {
            assert_eq!(BlockKind::from(n), kind);
            assert_eq!(u16::from(kind), n);
        }
        for n in [0u16, 19, 0x7fff, 0x8000, u16::MAX] {
            assert_eq!(BlockKind::from(n), BlockKind::Unknown(n));
            assert_eq!(BlockKind::from(n).as_u16(), n);
        }
        assert!(BlockKind::Snapshot.is_metadata());
        assert!(BlockKind::FdTable.is_metadata());
        assert!(BlockKind::Continuation.is_metadata());
        assert!(BlockKind::Unknown(18).is_metadata());
        assert!(!BlockKind::Seal.is_metadata());
        assert!(!BlockKind::Unknown(0x8000).is_metadata());
        assert!(!BlockKind::Frame.is_metadata());
        assert_eq!(BlockKind::Unknown(0x1234).to_string(), "Unknown(0x1234)");
    }

    #[test]
    fn header_byte_layout() {
        let payload = b"hello, block";
        let bytes = block_header(BlockKind::Stats, BLOCK_FLAG_COMPRESSED, payload);
        assert_eq!(&bytes[0..4], b"BKLK");
        assert_eq!(&bytes[4..6], &[4, 0]);
        assert_eq!(&bytes[6..8], &[1, 0]);
        assert_eq!(&bytes[8..12], &(payload.len() as u32).to_le_bytes());
        assert_eq!(&bytes[12..16], &crc32c::crc32c(payload).to_le_bytes());
        assert_eq!(&bytes[16..20], &[0; 4]);
        assert_eq!(&bytes[20..24], &crc32c::crc32c(&bytes[..20]).to_le_bytes());
    }

    #[test]
    fn header_round_trip_and_errors() {
        let payload = vec![7u8; 1000];
        let bytes = block_header(BlockKind::Unknown(0x4242), 0, &payload);
        let h = BlockHeader::decode(&bytes).unwrap();
        assert_eq!(
            h,
            BlockHeader::for_payload(BlockKind::Unknown(0x4242), 0, &payload)
        );
        assert_eq!(h.block_len(), 1024);

        assert!(matches!(
            BlockHeader::decode(&bytes[..23]),
            Err(FormatError::Truncated {
                needed: 24,
                available: 23,
                ..
            })
        ));
        let mut bad = bytes;
        bad[0] ^= 1;
        assert!(matches!(
            BlockHeader::decode(&bad),
            Err(FormatError::BadSync { .. })
        ));
        let mut bad = bytes;
        bad[9] ^= 1;
        assert!(matches!(
            BlockHeader::decode(&bad),
            Err(FormatError::BlockHeaderChecksum { .. })
        ));

        // A correctly sealed header that claims too much is still rejected.
        let mut big = BlockHeader::for_payload(BlockKind::Frame, 0, &[]);
        big.payload_len = MAX_BLOCK_PAYLOAD + 1;
        assert!(matches!(
            BlockHeader::decode(&big.encode()),
            Err(FormatError::BlockTooLarge { len }) if len == u64::from(MAX_BLOCK_PAYLOAD) + 1
        ));
        big.payload_len = MAX_BLOCK_PAYLOAD;
        assert!(BlockHeader::decode(&big.encode()).is_ok());
    }

    #[test]
    fn encode_block_appends_header_and_payload() {
        let mut out = b"prefix".to_vec();
        encode_block(BlockKind::HostInfo, 0, b"abc", &mut out).unwrap();
        assert_eq!(out.len(), 6 + 24 + 3);
        assert_eq!(&out[6..30], &block_header(BlockKind::HostInfo, 0, b"abc"));
        assert_eq!(&out[30..], b"abc");
    }

    #[test]
    fn meta_compression_round_trip() {
        let raw: Vec<u8> = (0..200_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        let packed = compress_meta(&raw, 3).unwrap();
        assert!(packed.len() < raw.len() / 4);
        assert!(packed.starts_with(&ZSTD_MAGIC));
        assert_eq!(decompress_meta(&packed).unwrap(), raw);
        assert_eq!(
            decompress_meta(&compress_meta(&[], 3).unwrap()).unwrap(),
            b""
        );
    }

    #[test]
    fn meta_decompression_rejects_bad_input() {
        let packed = compress_meta(b"some metadata bytes", 3).unwrap();
        assert!(matches!(
            decompress_meta(b"plain"),
            Err(FormatError::NotZstd)
        ));
        assert!(matches!(decompress_meta(&[]), Err(FormatError::NotZstd)));

        let mut trailing = packed.clone();
        trailing.extend_from_slice(b"xx");
        assert!(matches!(
            decompress_meta(&trailing),
            Err(FormatError::TrailingData { bytes: 2, .. })
        ));
        let mut two_frames = packed.clone();
        two_frames.extend_from_slice(&packed);
        assert!(matches!(
            decompress_meta(&two_frames),
            Err(FormatError::TrailingData { .. })
        ));
        for cut in 4..packed.len() {
            assert!(decompress_meta(&packed[..cut]).is_err(), "cut at {cut}");
        }
        // A flipped byte in the compressed body: the content checksum catches it.
        let mut flipped = packed.clone();
        let at = flipped.len() - 6;
        flipped[at] ^= 0x40;
        assert!(decompress_meta(&flipped).is_err());
    }

    #[test]
    fn meta_decompression_is_bounded() {
        // Declared content size over the limit: rejected before decompressing.
        let raw = vec![0u8; 10_000];
        let packed = compress_meta(&raw, 3).unwrap();
        assert!(matches!(
            decompress_meta_limited(&packed, 9_999),
            Err(FormatError::MetaTooLarge {
                size: 10_000,
                limit: 9_999
            })
        ));
        assert_eq!(decompress_meta_limited(&packed, 10_000).unwrap(), raw);

        // No declared size: decompression stops one byte past the limit.
        let mut c = zstd::bulk::Compressor::new(3).unwrap();
        c.include_contentsize(false).unwrap();
        let undeclared = c.compress(&raw).unwrap();
        assert_eq!(
            zstd::zstd_safe::get_frame_content_size(&undeclared).unwrap(),
            None
        );
        assert!(matches!(
            decompress_meta_limited(&undeclared, 9_999),
            Err(FormatError::MetaTooLarge {
                size: 10_000,
                limit: 9_999
            })
        ));
        assert_eq!(decompress_meta_limited(&undeclared, 10_000).unwrap(), raw);
    }
}
