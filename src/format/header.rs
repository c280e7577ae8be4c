use super::chain::{ChainHead, CHAIN_HEAD_LEN};
use super::error::FormatError;
use super::le::{LeReader, LeWriter};

/// The first eight bytes of every segment file. `0x1a` (DOS end-of-file) stops `type` on
/// DOS-like systems and makes the file non-text for tools that sniff.
pub const MAGIC: [u8; 8] = *b"KELLECT\x1a";

/// Length of the version 1 file header (and of the part every version shares).
pub const FILE_HEADER_LEN: usize = 48;

/// Length of the version 2 file header: the version 1 fields, the previous segment's chain
/// head, 4 reserved bytes and a CRC of bytes 48..84.
pub const FILE_HEADER_LEN_V2: usize = 88;

/// Bytes 48..84 of a version 2 header are covered by the CRC at 84..88.
const V2_EXTENSION_CRC_AT: usize = 84;

/// Bytes of the file header covered by its CRC (the CRC itself sits right after them).
const FILE_HEADER_CRC_SPAN: usize = 44;

/// The on-disk format version, in the file header.
///
/// The version changes only for changes an older reader would misread; additions that old
/// readers can skip (new block kinds, a longer file header) keep it. See docs/FORMAT.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FormatVersion {
    /// No hash chain.
    V1 = 1,
    /// Hash-chained blocks and segments (`super::chain`).
    V2 = 2,
}

impl FormatVersion {
    /// The version this build writes.
    pub const CURRENT: FormatVersion = FormatVersion::V2;

    pub const fn as_u16(self) -> u16 {
        self as u16
    }
}

impl TryFrom<u16> for FormatVersion {
    type Error = FormatError;

    fn try_from(v: u16) -> Result<Self, FormatError> {
        match v {
            1 => Ok(FormatVersion::V1),
            2 => Ok(FormatVersion::V2),
            other => Err(FormatError::UnsupportedVersion(other)),
        }
    }
}

impl From<FormatVersion> for u16 {
    fn from(v: FormatVersion) -> u16 {
        v.as_u16()
    }
}

/// The header at offset 0 of every segment file.
///
/// Byte layout (version 1, 48 bytes, integers little-endian):
///
/// ```text
///  0  [u8; 8]  magic = b"KELLECT\x1a"
///  8  u16      format version (1)
/// 10  u16      header length (48); blocks start at this offset
/// 12  u32      flags (0; reserved, ignored by version 1 readers)
/// 16  u64      recording_id: random per recording, shared by all its segments
/// 24  u32      segment_index: 0 for the first segment of a recording
/// 28  u32      reserved (0)
/// 32  u64      created_realtime_ns: CLOCK_REALTIME ns when the segment was created
/// 40  u32      reserved (0)
/// 44  u32      CRC-32C of bytes 0..44
/// ```
///
/// The version, header length and flags are not fields here: [`encode`](Self::encode)
/// writes version 1, length 48 and flags 0, and [`decode`](Self::decode) checks them.
/// A later writer may declare a longer header; readers skip to the declared length
/// ([`TraceReader::data_offset`](super::TraceReader::data_offset)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileHeader {
    pub recording_id: u64,
    pub segment_index: u32,
    pub created_realtime_ns: u64,
}

/// What a file header says, whatever its version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DecodedHeader {
    pub header: FileHeader,
    /// The declared header length: the offset of the first block.
    pub header_len: u16,
    pub version: FormatVersion,
    /// Version 2: the previous segment's chain head (zero for segment 0).
    pub prev_head: Option<ChainHead>,
}

impl FileHeader {
    /// The 48 header bytes, version 1 (no hash chain). The recorder writes version 2
    /// ([`encode_v2`](Self::encode_v2)); this stays for tests of version 1 readers.
    pub fn encode(&self) -> [u8; FILE_HEADER_LEN] {
        self.encode_common(FormatVersion::V1, FILE_HEADER_LEN as u16)
    }

    /// The 88 header bytes of version 2: the version 1 layout (version 2, header length
    /// 88), then `prev_head` (the final chain head of the previous segment of the
    /// recording, [`ChainHead::ZERO`] for segment 0) at 48..80, 4 reserved zero bytes, and
    /// the CRC-32C of bytes 48..84 at 84..88.
    pub fn encode_v2(&self, prev_head: &ChainHead) -> [u8; FILE_HEADER_LEN_V2] {
        let mut out = [0u8; FILE_HEADER_LEN_V2];
        out[..FILE_HEADER_LEN]
            .copy_from_slice(&self.encode_common(FormatVersion::V2, FILE_HEADER_LEN_V2 as u16));
        out[FILE_HEADER_LEN..FILE_HEADER_LEN + CHAIN_HEAD_LEN].copy_from_slice(&prev_head.0);
        let crc = crc32c::crc32c(&out[FILE_HEADER_LEN..V2_EXTENSION_CRC_AT]);
        out[V2_EXTENSION_CRC_AT..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    fn encode_common(&self, version: FormatVersion, header_len: u16) -> [u8; FILE_HEADER_LEN] {
        let mut out = [0u8; FILE_HEADER_LEN];
        let mut w = LeWriter::new(&mut out);
        w.bytes(&MAGIC);
        w.u16(version.as_u16());
        w.u16(header_len);
        w.u32(0); // flags
        w.u64(self.recording_id);
        w.u32(self.segment_index);
        w.u32(0);
        w.u64(self.created_realtime_ns);
        w.u32(0);
        let crc = crc32c::crc32c(&out[..FILE_HEADER_CRC_SPAN]);
        out[FILE_HEADER_CRC_SPAN..].copy_from_slice(&crc.to_le_bytes());
        out
    }

    /// Parses the header at the start of `bytes` (the file, or at least its first 48
    /// bytes). Checks in this order, so the error names the first thing wrong: zero or
    /// missing bytes, magic, version, checksum, header length.
    pub fn decode(bytes: &[u8]) -> Result<FileHeader, FormatError> {
        Self::decode_with_len(bytes).map(|(header, _)| header)
    }

    /// [`decode`](Self::decode), also returning the declared header length (≥ 48), the
    /// offset of the first block.
    pub(crate) fn decode_with_len(bytes: &[u8]) -> Result<(FileHeader, u16), FormatError> {
        Self::decode_full(bytes).map(|d| (d.header, d.header_len))
    }

    /// Parses a file header of any supported version. Version 2 also needs its 88 bytes,
    /// a declared length of at least 88 and a valid CRC over bytes 48..84.
    pub(crate) fn decode_full(bytes: &[u8]) -> Result<DecodedHeader, FormatError> {
        let prefix = &bytes[..bytes.len().min(FILE_HEADER_LEN)];
        if !prefix.is_empty() && prefix.iter().all(|&b| b == 0) {
            return Err(FormatError::ZeroHeader {
                len: prefix.len() as u64,
            });
        }
        let magic_len = prefix.len().min(MAGIC.len());
        if prefix[..magic_len] != MAGIC[..magic_len] {
            return Err(FormatError::BadMagic);
        }
        let Some(fixed) = bytes.first_chunk::<FILE_HEADER_LEN>() else {
            return Err(FormatError::Truncated {
                what: "file header",
                needed: FILE_HEADER_LEN as u64,
                available: bytes.len() as u64,
            });
        };
        let mut r = LeReader::new(fixed);
        let _magic: [u8; 8] = r.array();
        // The version decides the layout, so it is checked before the layout's CRC.
        let version = FormatVersion::try_from(r.u16())?;
        let header_len = r.u16();
        let _flags = r.u32();
        let recording_id = r.u64();
        let segment_index = r.u32();
        let _reserved = r.u32();
        let created_realtime_ns = r.u64();
        let _reserved = r.u32();
        let stored = r.u32();
        let computed = crc32c::crc32c(&fixed[..FILE_HEADER_CRC_SPAN]);
        if stored != computed {
            return Err(FormatError::HeaderChecksum { stored, computed });
        }
        if usize::from(header_len) < FILE_HEADER_LEN {
            return Err(FormatError::BadHeaderLength(header_len));
        }
        let header = FileHeader {
            recording_id,
            segment_index,
            created_realtime_ns,
        };
        let prev_head = match version {
            FormatVersion::V1 => None,
            FormatVersion::V2 => Some(decode_v2_extension(bytes, header_len)?),
        };
        Ok(DecodedHeader {
            header,
            header_len,
            version,
            prev_head,
        })
    }
}

/// Bytes 48..88 of a version 2 header: the previous segment's chain head, checked by its CRC.
fn decode_v2_extension(bytes: &[u8], header_len: u16) -> Result<ChainHead, FormatError> {
    if usize::from(header_len) < FILE_HEADER_LEN_V2 {
        return Err(FormatError::BadHeaderLength(header_len));
    }
    let Some(fixed) = bytes.first_chunk::<FILE_HEADER_LEN_V2>() else {
        return Err(FormatError::Truncated {
            what: "file header",
            needed: FILE_HEADER_LEN_V2 as u64,
            available: bytes.len() as u64,
        });
    };
    let stored = u32::from_le_bytes([fixed[84], fixed[85], fixed[86], fixed[87]]);
    let computed = crc32c::crc32c(&fixed[FILE_HEADER_LEN..V2_EXTENSION_CRC_AT]);
    if stored != computed {
        return Err(FormatError::HeaderChecksum { stored, computed });
    }
    let mut head = [0u8; CHAIN_HEAD_LEN];
    head.copy_from_slice(&fixed[FILE_HEADER_LEN..FILE_HEADER_LEN + CHAIN_HEAD_LEN]);
    Ok(ChainHead(head))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FileHeader {
        FileHeader {
            recording_id: 0x0102_0304_0506_0708,
            segment_index: 7,
            created_realtime_ns: 1_700_000_000_123_456_789,
        }
    }

    /// Rewrites the CRC after a deliberate change, so a test reaches the check after it.
    fn reseal(bytes: &mut [u8; FILE_HEADER_LEN]) {
        let crc = crc32c::crc32c(&bytes[..FILE_HEADER_CRC_SPAN]);
        bytes[FILE_HEADER_CRC_SPAN..].copy_from_slice(&crc.to_le_bytes());
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let bytes = h.encode();
        assert_eq!(FileHeader::decode(&bytes).unwrap(), h);
        assert_eq!(
            FileHeader::decode_with_len(&bytes).unwrap().1 as usize,
            FILE_HEADER_LEN
        );
    }

    #[test]
    fn byte_layout() {
        let bytes = sample().encode();
        assert_eq!(&bytes[0..8], b"KELLECT\x1a");
        assert_eq!(&bytes[8..10], &[1, 0]);
        assert_eq!(&bytes[10..12], &[48, 0]);
        assert_eq!(&bytes[12..16], &[0; 4]);
        assert_eq!(&bytes[16..24], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&bytes[24..28], &[7, 0, 0, 0]);
        assert_eq!(&bytes[28..32], &[0; 4]);
        assert_eq!(&bytes[32..40], &1_700_000_000_123_456_789u64.to_le_bytes());
        assert_eq!(&bytes[40..44], &[0; 4]);
        assert_eq!(&bytes[44..48], &crc32c::crc32c(&bytes[..44]).to_le_bytes());
    }

    #[test]
    fn version_enum() {
        assert_eq!(FormatVersion::try_from(1).unwrap(), FormatVersion::V1);
        assert_eq!(FormatVersion::try_from(2).unwrap(), FormatVersion::V2);
        assert_eq!(u16::from(FormatVersion::V1), 1);
        assert_eq!(FormatVersion::CURRENT, FormatVersion::V2);
        for v in [0u16, 3, 0x100, u16::MAX] {
            let err = FormatVersion::try_from(v).unwrap_err();
            assert!(matches!(err, FormatError::UnsupportedVersion(got) if got == v));
        }
    }

    #[test]
    fn future_version_is_unsupported_even_with_a_valid_crc() {
        let mut bytes = sample().encode();
        bytes[8..10].copy_from_slice(&3u16.to_le_bytes());
        reseal(&mut bytes);
        let err = FileHeader::decode(&bytes).unwrap_err();
        assert!(matches!(err, FormatError::UnsupportedVersion(3)), "{err:?}");
    }

    #[test]
    fn wrong_magic() {
        let mut bytes = sample().encode();
        bytes[0..8].copy_from_slice(b"\x7fELF\x02\x01\x01\0");
        assert!(matches!(
            FileHeader::decode(&bytes),
            Err(FormatError::BadMagic)
        ));
        assert!(matches!(
            FileHeader::decode(b"PK\x03\x04"),
            Err(FormatError::BadMagic)
        ));
    }

    #[test]
    fn every_bit_flip_is_caught_with_the_right_error() {
        let good = sample().encode();
        for byte in 0..FILE_HEADER_LEN {
            for bit in 0..8 {
                let mut bytes = good;
                bytes[byte] ^= 1 << bit;
                let err = FileHeader::decode(&bytes).unwrap_err();
                match byte {
                    0..=7 => assert!(matches!(err, FormatError::BadMagic), "{byte}: {err:?}"),
                    8..=9 => assert!(
                        matches!(err, FormatError::UnsupportedVersion(v) if v != 1),
                        "{byte}: {err:?}"
                    ),
                    _ => assert!(
                        matches!(err, FormatError::HeaderChecksum { .. }),
                        "{byte}: {err:?}"
                    ),
                }
            }
        }
    }

    #[test]
    fn short_and_zero_headers() {
        let good = sample().encode();
        assert!(matches!(
            FileHeader::decode(&[]),
            Err(FormatError::Truncated {
                needed: 48,
                available: 0,
                ..
            })
        ));
        for len in 1..FILE_HEADER_LEN {
            let err = FileHeader::decode(&good[..len]).unwrap_err();
            assert!(
                matches!(err, FormatError::Truncated { needed: 48, available, .. } if available == len as u64),
                "{len}: {err:?}"
            );
        }
        assert!(matches!(
            FileHeader::decode(&[0u8; 4096]),
            Err(FormatError::ZeroHeader { len: 48 })
        ));
        assert!(matches!(
            FileHeader::decode(&[0u8; 5]),
            Err(FormatError::ZeroHeader { len: 5 })
        ));
    }

    #[test]
    fn header_length_below_48_is_rejected_longer_is_accepted() {
        let mut bytes = sample().encode();
        bytes[10..12].copy_from_slice(&40u16.to_le_bytes());
        reseal(&mut bytes);
        assert!(matches!(
            FileHeader::decode(&bytes),
            Err(FormatError::BadHeaderLength(40))
        ));
        bytes[10..12].copy_from_slice(&64u16.to_le_bytes());
        reseal(&mut bytes);
        let (h, len) = FileHeader::decode_with_len(&bytes).unwrap();
        assert_eq!((h, len), (sample(), 64));
    }

    #[test]
    fn flags_and_reserved_fields_are_ignored() {
        let mut bytes = sample().encode();
        bytes[12] = 0x80;
        bytes[28] = 1;
        bytes[40] = 1;
        reseal(&mut bytes);
        assert_eq!(FileHeader::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn v2_round_trip_layout_and_damage() {
        let prev = ChainHead([0xab; 32]);
        let bytes = sample().encode_v2(&prev);
        assert_eq!(&bytes[8..10], &[2, 0]);
        assert_eq!(&bytes[10..12], &[88, 0]);
        assert_eq!(&bytes[44..48], &crc32c::crc32c(&bytes[..44]).to_le_bytes());
        assert_eq!(&bytes[48..80], &[0xab; 32]);
        assert_eq!(&bytes[80..84], &[0; 4]);
        assert_eq!(
            &bytes[84..88],
            &crc32c::crc32c(&bytes[48..84]).to_le_bytes()
        );
        let d = FileHeader::decode_full(&bytes).unwrap();
        assert_eq!(
            (d.header, d.header_len, d.version, d.prev_head),
            (sample(), 88, FormatVersion::V2, Some(prev))
        );
        // A flip in the chain head is caught by the second CRC.
        for byte in 48..88 {
            let mut bad = bytes;
            bad[byte] ^= 0x10;
            assert!(
                matches!(
                    FileHeader::decode_full(&bad),
                    Err(FormatError::HeaderChecksum { .. })
                ),
                "{byte}"
            );
        }
        // Cut inside the extension.
        assert!(matches!(
            FileHeader::decode_full(&bytes[..60]),
            Err(FormatError::Truncated {
                needed: 88,
                available: 60,
                ..
            })
        ));
        // A version 2 header that declares the version 1 length.
        let mut short = bytes;
        short[10..12].copy_from_slice(&48u16.to_le_bytes());
        let mut first = [0u8; FILE_HEADER_LEN];
        first.copy_from_slice(&short[..48]);
        reseal(&mut first);
        short[..48].copy_from_slice(&first);
        assert!(matches!(
            FileHeader::decode_full(&short),
            Err(FormatError::BadHeaderLength(48))
        ));
        // Version 1 has no previous head.
        let v1 = FileHeader::decode_full(&sample().encode()).unwrap();
        assert_eq!((v1.version, v1.prev_head), (FormatVersion::V1, None));
    }
}
