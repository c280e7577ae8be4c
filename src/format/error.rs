use std::io;

use super::block::BlockKind;

/// Everything that can be wrong with a `.kz` file or with a payload handed to this module.
///
/// Damage found while [scanning](super::TraceReader::scan) a segment is not an error: it is
/// reported as [`Damage`](super::Damage) and the scan goes on. These errors are for the
/// operations that cannot go on: a file header that does not parse, a frame that does not
/// decode, a block requested at an offset that holds none.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FormatError {
    /// Fewer bytes than a fixed-size structure needs.
    #[error("{what} is truncated: it needs {needed} bytes, only {available} are present")]
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },

    /// The file does not start with [`MAGIC`](super::MAGIC).
    #[error("not a kellect trace: the file does not start with the magic bytes \"KELLECT\\x1a\"")]
    BadMagic,

    /// The first bytes of the file are all zero: space was reserved but the header never
    /// written (the recorder stopped right after creating the file).
    #[error("the file header was never written: the first {len} bytes are all zero")]
    ZeroHeader { len: u64 },

    /// A format version this build does not read.
    #[error(
        "unsupported trace format version {0} (this build reads versions 1 and 2): \
         the trace was written by a newer kellect, or its header is damaged"
    )]
    UnsupportedVersion(u16),

    /// The file header's CRC does not match its bytes.
    #[error(
        "file header checksum mismatch (stored {stored:#010x}, computed {computed:#010x}): \
         the header is damaged"
    )]
    HeaderChecksum { stored: u32, computed: u32 },

    /// The file header declares a length shorter than its version's header.
    #[error(
        "file header declares a length of {0} bytes, less than its version needs \
         (48 in version 1, 88 in version 2)"
    )]
    BadHeaderLength(u16),

    /// No block sync word where a block header should start.
    #[error("no block starts here: expected the sync word \"BKLK\", found {found:#010x}")]
    BadSync { found: u32 },

    /// A block header's CRC does not match its bytes.
    #[error("block header checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    BlockHeaderChecksum { stored: u32, computed: u32 },

    /// A block payload larger than [`MAX_BLOCK_PAYLOAD`](super::MAX_BLOCK_PAYLOAD).
    #[error("block payload of {len} bytes exceeds the limit of 256 MiB")]
    BlockTooLarge { len: u64 },

    /// A block payload's CRC does not match its bytes.
    #[error("block payload checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    PayloadChecksum { stored: u32, computed: u32 },

    /// An offset that is not inside the file.
    #[error("offset {offset} is outside the {len}-byte file")]
    OutOfBounds { offset: u64, len: u64 },

    /// A block of another kind than the operation expects.
    #[error("expected a {expected} block, found a {found} block")]
    WrongBlockKind {
        expected: BlockKind,
        found: BlockKind,
    },

    /// Block flag bits this build does not understand (or not allowed on this kind).
    #[error("unsupported block flags {0:#06x}")]
    UnsupportedBlockFlags(u16),

    /// A frame codec this build does not know.
    #[error("unsupported frame codec {0} (this build knows 0 = stored and 1 = zstd)")]
    UnsupportedCodec(u8),

    /// A frame whose uncompressed size exceeds [`MAX_FRAME_RAW`](super::MAX_FRAME_RAW).
    #[error("frame of {raw_len} uncompressed bytes exceeds the limit of 64 MiB")]
    FrameTooLarge { raw_len: u64 },

    /// A metadata payload that decompresses to more than [`MAX_META_RAW`](super::MAX_META_RAW).
    #[error(
        "metadata payload decompresses to {size} bytes or more, over the limit of {limit} bytes"
    )]
    MetaTooLarge { size: u64, limit: u64 },

    /// A frame whose first timestamp is after its last one.
    #[error("frame time range is reversed: first {first_ts} ns is after last {last_ts} ns")]
    BadTimeRange { first_ts: u64, last_ts: u64 },

    /// A length recorded in the data disagrees with the data itself.
    #[error("{what}: expected {expected} bytes, found {actual}")]
    LengthMismatch {
        what: &'static str,
        expected: u64,
        actual: u64,
    },

    /// Bytes after the end of a structure that should fill its container exactly.
    #[error("{what}: {bytes} unexpected bytes after its end")]
    TrailingData { what: &'static str, bytes: u64 },

    /// A compressed payload that does not start with the zstd frame magic number.
    #[error("compressed payload is not a zstd frame")]
    NotZstd,

    /// zstd could not decompress a payload (corrupt data, content checksum mismatch, or
    /// output larger than declared).
    #[error("zstd decompression failed: {0}")]
    Decompress(#[source] io::Error),

    /// zstd could not compress (an invalid level or an out-of-memory context).
    #[error("zstd compression failed: {0}")]
    Compress(#[source] io::Error),

    /// An error inside one block, with the block's location (and kind, when its header
    /// could be read). The inner error is part of this message, not a separate `source`,
    /// so a plain `{}` already tells everything.
    #[error("{} at byte offset {offset}: {error}", block_name(kind))]
    InBlock {
        offset: u64,
        kind: Option<BlockKind>,
        error: Box<FormatError>,
    },
}

fn block_name(kind: &Option<BlockKind>) -> String {
    match kind {
        Some(kind) => format!("{kind} block"),
        None => "block".to_owned(),
    }
}

impl FormatError {
    /// The error without any [`InBlock`](Self::InBlock) location around it.
    pub fn root(&self) -> &FormatError {
        match self {
            FormatError::InBlock { error, .. } => error.root(),
            other => other,
        }
    }
}

/// For writers that work in `io::Result` (the recorder): a format error there is invalid
/// data, except a zstd failure, which keeps the kind zstd reported.
impl From<FormatError> for io::Error {
    fn from(e: FormatError) -> io::Error {
        let kind = match &e {
            FormatError::Compress(inner) | FormatError::Decompress(inner) => inner.kind(),
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, e)
    }
}
