//! The `.kz` trace container: segment files made of a file header and checksummed
//! blocks; data frames of raw records compressed with zstd; an index; an End block.
//!
//! This module only frames bytes: it knows neither the record layout (`bpf/records.h`)
//! nor the metadata schemas (`crate::meta`). It has no Linux dependencies, never panics on
//! input, and never sizes an allocation from a length field it has not checked against a
//! limit or against the bytes actually present.
//!
//! Every on-disk struct documents its byte layout on its type; docs/FORMAT.md describes the
//! whole format for users, with the crash-safety and versioning rules.
//!
//! Writing: [`SegmentWriter`] over a [`Storage`] writes the file header, every block (one
//! append each, header last), numbers and indexes the frames and closes the segment with
//! its Index and End blocks. [`SegmentEncoder`] is that writer over a `Vec<u8>`.
//!
//! Reading: [`TraceReader::new`] checks the header, [`TraceReader::scan`] walks the blocks
//! and salvages what is intact, [`decode_frame`] / [`BlockRef::decode_frame`] decompress
//! the frames (in parallel if the caller wishes: they are independent).
//!
//! Integrity (format version 2): every block and segment is hash-chained (`chain`);
//! [`verify_segment`] and [`link_segments`] recompute and check the chain.

mod block;
mod chain;
mod error;
mod frame;
mod header;
mod index;
mod le;
mod reader;
mod seal;
mod verify;
mod writer;

#[cfg(test)]
mod tests;

pub use block::{
    block_header, compress_meta, decompress_meta, decompress_meta_limited, encode_block,
    BlockHeader, BlockKind, BLOCK_FLAG_COMPRESSED, BLOCK_HEADER_LEN, BLOCK_SYNC, MAX_BLOCK_PAYLOAD,
    MAX_META_RAW,
};
pub use chain::{ChainHead, CHAIN_HEAD_LEN};
pub use error::FormatError;
pub use frame::{
    decode_frame, decode_frame_into, encode_frame, encode_frame_into, Codec, FrameHeader,
    FRAME_HEADER_LEN, MAX_FRAME_RAW,
};
pub use header::{FileHeader, FormatVersion, FILE_HEADER_LEN, FILE_HEADER_LEN_V2, MAGIC};
pub use index::{
    parse_index, EndInfo, IndexBuilder, IndexEntry, END_PAYLOAD_LEN, END_PAYLOAD_LEN_V2,
    INDEX_ENTRY_LEN, MAX_INDEX_ENTRIES,
};
pub use reader::{BlockRef, Damage, DamageKind, Scan, TraceReader};
pub use seal::{
    generate as generate_seal_keys, keygen, keygen_now, EpochClock, EpochKeys, KeyId, Seal,
    SealError, SealProblem, SealingKey, SealingKeyFile, VerifyKey, KEY_FILE_LEN, MAX_EPOCH,
    MAX_SEAL_INTERVAL_NS, MIN_SEAL_INTERVAL_NS, SEAL_PAYLOAD_LEN,
};
pub use verify::{
    check_seals, link_segments, unreadable, verify_segment, Failure, LinkFinding, Problem,
    SealEntry, SealState, SegmentStatus, SegmentVerdict,
};
#[cfg(all(test, feature = "record"))]
pub(crate) use writer::faulty;
pub use writer::{SegmentEncoder, SegmentTotals, SegmentWriter, Storage, WriteError};
