//! The hash chain of format version 2: every block of a segment commits to everything
//! before it, every segment to its predecessor's last chain head.
//!
//! ```text
//! H_start = SHA-256("kellect chain v2" || file header bytes 0..header_len)
//! H_i     = SHA-256(H_(i-1) || block header bytes 0..16 || payload)   for each block, in file order
//! link_i  = the first 4 bytes of H_i, stored in block header bytes 16..20 (covered by its CRC)
//! ```
//!
//! The file header of version 2 holds the previous segment's final head (zero for segment
//! 0), so `H_start`, and therefore every link, depends on the segment before. The End block
//! holds the full 32-byte head of everything before it. The chain head of a segment is
//! `H_n` after its last block. A seal (`super::seal`) is an HMAC of a chain head under an
//! epoch key, carried in a block of its own, itself chained like any other.
//!
//! The 4-byte links locate the first block that does not follow from the bytes before it;
//! the full heads (End block, next segment's header) bind the whole segment with all of
//! SHA-256's strength. Without a key the chain catches edits, deletions and reordering made
//! by tools that do not recompute it; it cannot stop someone who does: that is what seals
//! are for.

use std::fmt;

use sha2::{Digest, Sha256};

use super::block::BLOCK_HEADER_LEN;

/// Length of a chain head.
pub const CHAIN_HEAD_LEN: usize = 32;

/// Prefix of the first hash of a segment's chain: a hash of this format cannot be mistaken
/// for a hash of anything else.
const DOMAIN: &[u8; 16] = b"kellect chain v2";

/// Where the link sits in a block header (the version 1 "reserved" field).
pub(crate) const LINK_OFFSET: usize = 16;

/// Bytes of a block header covered by its CRC (bytes 20..24 hold it).
const HEADER_CRC_SPAN: usize = 20;

/// A SHA-256 value of the chain: the hash of a segment's file header and every block up to
/// some point. Shown as 64 lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ChainHead(pub [u8; CHAIN_HEAD_LEN]);

impl ChainHead {
    /// All zero: the "previous head" of the first segment of a recording.
    pub const ZERO: ChainHead = ChainHead([0; CHAIN_HEAD_LEN]);

    /// The head before the first block: hashes the whole file header (`header_len` bytes,
    /// which include the previous segment's head).
    pub fn start(file_header: &[u8]) -> ChainHead {
        let mut h = Sha256::new();
        h.update(DOMAIN);
        h.update(file_header);
        ChainHead(h.finalize().into())
    }

    /// The head after one more block: `block_header` is its 24-byte header as stored (only
    /// bytes 0..16 are hashed: the link and the header CRC depend on the result).
    pub fn next(&self, block_header: &[u8; BLOCK_HEADER_LEN], payload: &[u8]) -> ChainHead {
        let mut h = Sha256::new();
        h.update(self.0);
        h.update(&block_header[..LINK_OFFSET]);
        h.update(payload);
        ChainHead(h.finalize().into())
    }

    /// The 4-byte link a block carries: the first 4 bytes of the head after it, as a
    /// little-endian `u32`.
    pub fn link(&self) -> u32 {
        u32::from_le_bytes([self.0[0], self.0[1], self.0[2], self.0[3]])
    }

    /// Whether this is [`ChainHead::ZERO`].
    pub fn is_zero(&self) -> bool {
        self.0 == [0; CHAIN_HEAD_LEN]
    }
}

impl fmt::Display for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for ChainHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChainHead({self})")
    }
}

/// Writes `link` into a block header and recomputes the header's CRC.
pub(crate) fn set_link(header: &mut [u8; BLOCK_HEADER_LEN], link: u32) {
    header[LINK_OFFSET..HEADER_CRC_SPAN].copy_from_slice(&link.to_le_bytes());
    let crc = crc32c::crc32c(&header[..HEADER_CRC_SPAN]);
    header[HEADER_CRC_SPAN..].copy_from_slice(&crc.to_le_bytes());
}

/// The link stored in a block header.
pub(crate) fn stored_link(header: &[u8; BLOCK_HEADER_LEN]) -> u32 {
    u32::from_le_bytes([
        header[LINK_OFFSET],
        header[LINK_OFFSET + 1],
        header[LINK_OFFSET + 2],
        header[LINK_OFFSET + 3],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{block_header, BlockHeader, BlockKind};

    #[test]
    fn sha256_and_domain() {
        // SHA-256("kellect chain v2"), so another implementation can check its start.
        let start = ChainHead::start(&[]);
        let direct: [u8; 32] = Sha256::digest(b"kellect chain v2").into();
        assert_eq!(start.0, direct);
        assert_ne!(ChainHead::start(b"a"), ChainHead::start(b"b"));
        assert_eq!(ChainHead::ZERO.to_string(), "0".repeat(64));
    }

    #[test]
    fn link_is_covered_by_the_header_crc_and_not_by_the_hash() {
        let mut header = block_header(BlockKind::Frame, 0, b"payload");
        let prev = ChainHead::start(b"header");
        let before = prev.next(&header, b"payload");
        set_link(&mut header, before.link());
        assert_eq!(stored_link(&header), before.link());
        // The header still decodes (its CRC was recomputed) and the head is the same.
        assert!(BlockHeader::decode(&header).is_ok());
        assert_eq!(prev.next(&header, b"payload"), before);
        // Every other header byte and every payload byte changes the head.
        for i in 0..LINK_OFFSET {
            let mut h = header;
            h[i] ^= 1;
            assert_ne!(prev.next(&h, b"payload"), before, "byte {i}");
        }
        assert_ne!(prev.next(&header, b"paylo4d"), before);
        assert_ne!(ChainHead::ZERO.next(&header, b"payload"), before);
    }
}
