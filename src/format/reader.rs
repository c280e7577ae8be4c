use std::borrow::Cow;
use std::fmt;

use super::block::{
    decompress_meta, BlockHeader, BlockKind, BLOCK_FLAG_COMPRESSED, BLOCK_HEADER_LEN, BLOCK_SYNC,
};
use super::chain::ChainHead;
use super::error::FormatError;
use super::frame::{decode_frame_into, FrameHeader};
use super::header::{FileHeader, FormatVersion};
use super::index::{parse_index, EndInfo, IndexEntry, END_PAYLOAD_LEN, END_PAYLOAD_LEN_V2};

/// Reads one segment file held in memory (read or memory-mapped by the caller).
///
/// [`new`](Self::new) checks the file header; a file whose header is bad cannot be read at
/// all. [`scan`](Self::scan) then walks the blocks, salvaging every intact block and
/// describing the rest as [`Damage`].
#[derive(Debug, Clone, Copy)]
pub struct TraceReader<'a> {
    bytes: &'a [u8],
    header: FileHeader,
    data_offset: usize,
    version: FormatVersion,
    prev_head: Option<ChainHead>,
}

impl<'a> TraceReader<'a> {
    /// Checks the file header. Its errors are fatal: [`FormatError::BadMagic`],
    /// [`FormatError::UnsupportedVersion`], [`FormatError::HeaderChecksum`],
    /// [`FormatError::ZeroHeader`], [`FormatError::Truncated`], ...
    pub fn new(bytes: &'a [u8]) -> Result<TraceReader<'a>, FormatError> {
        let decoded = FileHeader::decode_full(bytes)?;
        let data_offset = usize::from(decoded.header_len);
        if bytes.len() < data_offset {
            return Err(FormatError::Truncated {
                what: "file header",
                needed: data_offset as u64,
                available: bytes.len() as u64,
            });
        }
        Ok(TraceReader {
            bytes,
            header: decoded.header,
            data_offset,
            version: decoded.version,
            prev_head: decoded.prev_head,
        })
    }

    pub fn header(&self) -> &FileHeader {
        &self.header
    }

    /// The format version in the file header: 1 has no hash chain, 2 has one.
    pub fn version(&self) -> FormatVersion {
        self.version
    }

    /// Version 2: the previous segment's final chain head, from the file header
    /// ([`ChainHead::ZERO`] in segment 0). `None` in version 1.
    pub fn prev_chain_head(&self) -> Option<ChainHead> {
        self.prev_head
    }

    /// Version 2: the chain head before the first block, computed from the file header's
    /// `data_offset` bytes. `None` in version 1.
    pub fn chain_start(&self) -> Option<ChainHead> {
        let header = self.bytes.get(..self.data_offset)?;
        self.prev_head.map(|_| ChainHead::start(header))
    }

    /// Offset of the first block: the header length the file declares.
    pub fn data_offset(&self) -> u64 {
        self.data_offset as u64
    }

    /// The whole file.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Walks every block from the first to the End block or the end of the file.
    ///
    /// Reads each block header and checks each payload's CRC (so every returned block is
    /// intact), but decompresses nothing: O(file size) CRC work, O(blocks) allocation.
    /// Rules, in the order they apply at each block boundary:
    ///
    /// - only zero bytes left: [`DamageKind::ZeroTail`] (unwritten space after a crash);
    ///   the scan ends;
    /// - the block runs past the end of the file: [`DamageKind::Truncated`]; the scan ends;
    /// - a block header with a bad sync word, a bad CRC or an oversized length: that
    ///   damage, then [`DamageKind::Skipped`] up to the next offset holding a valid block
    ///   header (or the end of the file); the scan goes on from there;
    /// - a payload with a bad CRC: [`DamageKind::PayloadChecksum`]; the block is skipped
    ///   (its length is trusted because its header CRC is valid) and the scan goes on;
    /// - a header or payload whose bad CRC comes from running into the zero tail (a write
    ///   torn by a crash): [`DamageKind::Truncated`] then [`DamageKind::ZeroTail`];
    /// - an End block: the scan ends there; bytes after it are
    ///   [`DamageKind::ZeroTail`] if all zero, else [`DamageKind::AfterEnd`].
    ///
    /// Blocks of unknown kinds are returned like any other (their kind is
    /// [`BlockKind::Unknown`]) for the caller to skip.
    pub fn scan(&self) -> Scan<'a> {
        let bytes = self.bytes;
        let len = bytes.len();
        // Where the trailing run of zero bytes starts (len if there is none).
        let zero_from = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
        let mut scan = Scan {
            blocks: Vec::new(),
            damage: Vec::new(),
            end: None,
        };
        let mut pos = self.data_offset;
        while pos < len {
            if pos >= zero_from {
                scan.report(
                    pos,
                    DamageKind::ZeroTail {
                        length: (len - pos) as u64,
                    },
                );
                break;
            }
            let rest = &bytes[pos..];
            if rest.len() < BLOCK_HEADER_LEN {
                scan.report(
                    pos,
                    DamageKind::Truncated {
                        needed: BLOCK_HEADER_LEN as u64,
                        available: rest.len() as u64,
                    },
                );
                break;
            }
            let header = match BlockHeader::decode(rest) {
                Ok(header) => header,
                Err(e) => {
                    let torn = matches!(
                        e,
                        FormatError::BadSync { .. } | FormatError::BlockHeaderChecksum { .. }
                    ) && runs_into_zero_tail(pos + BLOCK_HEADER_LEN, zero_from, len);
                    if torn {
                        scan.report_torn(pos, BLOCK_HEADER_LEN, zero_from, len);
                        break;
                    }
                    let kind = match e {
                        FormatError::BadSync { found } => DamageKind::BadSync { found },
                        FormatError::BlockTooLarge { len } => DamageKind::Oversized { len },
                        _ => DamageKind::HeaderChecksum,
                    };
                    scan.report(pos, kind);
                    let next = resync(bytes, pos + 1).unwrap_or(len);
                    scan.report(
                        pos,
                        DamageKind::Skipped {
                            bytes: (next - pos) as u64,
                        },
                    );
                    pos = next;
                    continue;
                }
            };
            // At most 24 + 256 MiB: fits usize on every supported target.
            let total = usize::try_from(header.block_len()).unwrap_or(usize::MAX);
            if total > rest.len() {
                scan.report(
                    pos,
                    DamageKind::Truncated {
                        needed: total as u64,
                        available: rest.len() as u64,
                    },
                );
                break;
            }
            let payload = &rest[BLOCK_HEADER_LEN..total];
            if crc32c::crc32c(payload) != header.payload_crc {
                if runs_into_zero_tail(pos + total, zero_from, len) {
                    scan.report_torn(pos, total, zero_from, len);
                    break;
                }
                scan.report(
                    pos,
                    DamageKind::PayloadChecksum {
                        kind: header.kind,
                        len: header.payload_len,
                    },
                );
                pos += total;
                continue;
            }
            scan.blocks.push(BlockRef {
                offset: pos as u64,
                kind: header.kind,
                flags: header.flags,
                payload,
            });
            let block_offset = pos;
            pos += total;
            if header.kind == BlockKind::End {
                match EndInfo::decode(payload) {
                    Ok(info) => scan.end = Some(info),
                    Err(_) => scan.report(
                        block_offset,
                        DamageKind::BadEnd {
                            len: header.payload_len,
                        },
                    ),
                }
                if pos < len {
                    let bytes = (len - pos) as u64;
                    let kind = if pos >= zero_from {
                        DamageKind::ZeroTail { length: bytes }
                    } else {
                        DamageKind::AfterEnd { bytes }
                    };
                    scan.report(pos, kind);
                }
                break;
            }
        }
        scan
    }

    /// The intact block at `offset` (header and payload CRC checked), for readers that
    /// seek through the index instead of scanning.
    pub fn block_at(&self, offset: u64) -> Result<BlockRef<'a>, FormatError> {
        let at = |error: FormatError, kind: Option<BlockKind>| FormatError::InBlock {
            offset,
            kind,
            error: Box::new(error),
        };
        let len = self.bytes.len();
        let start = usize::try_from(offset)
            .ok()
            .filter(|&o| o >= self.data_offset && o < len)
            .ok_or_else(|| {
                at(
                    FormatError::OutOfBounds {
                        offset,
                        len: len as u64,
                    },
                    None,
                )
            })?;
        let rest = &self.bytes[start..];
        let header = BlockHeader::decode(rest).map_err(|e| at(e, None))?;
        let total = usize::try_from(header.block_len()).unwrap_or(usize::MAX);
        if total > rest.len() {
            return Err(at(
                FormatError::Truncated {
                    what: "block",
                    needed: total as u64,
                    available: rest.len() as u64,
                },
                Some(header.kind),
            ));
        }
        let payload = &rest[BLOCK_HEADER_LEN..total];
        let computed = crc32c::crc32c(payload);
        if computed != header.payload_crc {
            return Err(at(
                FormatError::PayloadChecksum {
                    stored: header.payload_crc,
                    computed,
                },
                Some(header.kind),
            ));
        }
        Ok(BlockRef {
            offset,
            kind: header.kind,
            flags: header.flags,
            payload,
        })
    }

    /// The End block, if the file ends with an intact one: the quick check that a segment
    /// was closed cleanly, and the way to its index without scanning. Returns the End
    /// block's offset and contents.
    pub fn end_from_tail(&self) -> Option<(u64, EndInfo)> {
        let payload_len = match self.version {
            FormatVersion::V1 => END_PAYLOAD_LEN,
            FormatVersion::V2 => END_PAYLOAD_LEN_V2,
        };
        let end_block = BLOCK_HEADER_LEN + payload_len;
        let offset = self.bytes.len().checked_sub(end_block)?;
        if offset < self.data_offset {
            return None;
        }
        let block = self.block_at(offset as u64).ok()?;
        if block.kind != BlockKind::End {
            return None;
        }
        Some((block.offset, block.end_info().ok()?))
    }
}

/// Whether a damaged structure ending at `end` looks like a write torn by a crash: the
/// file's trailing zeros start before `end` and go on after it. (A block that ends exactly
/// at the end of the file may simply end in zero bytes, as an End block does.)
fn runs_into_zero_tail(end: usize, zero_from: usize, len: usize) -> bool {
    zero_from < end && end < len
}

/// Searches for the next offset at or after `from` that holds a valid block header.
fn resync(bytes: &[u8], from: usize) -> Option<usize> {
    let sync = BLOCK_SYNC.to_le_bytes();
    let mut p = from;
    while p + BLOCK_HEADER_LEN <= bytes.len() {
        p += bytes[p..].windows(sync.len()).position(|w| w == sync)?;
        if BlockHeader::decode(bytes.get(p..)?).is_ok() {
            return Some(p);
        }
        p += 1;
    }
    None
}

/// What [`TraceReader::scan`] found: the intact blocks in file order, the damage in file
/// order, and the End block's contents if the segment was closed cleanly.
#[derive(Debug, Clone)]
pub struct Scan<'a> {
    /// Every intact block (payload CRC verified), including Index, End and unknown kinds.
    pub blocks: Vec<BlockRef<'a>>,
    pub damage: Vec<Damage>,
    /// `None`: the segment was not closed (the recorder crashed or is still writing), or
    /// its End block is damaged.
    pub end: Option<EndInfo>,
}

impl<'a> Scan<'a> {
    /// The intact Frame blocks, in file order.
    pub fn frames(&self) -> impl Iterator<Item = &BlockRef<'a>> + '_ {
        self.blocks.iter().filter(|b| b.kind == BlockKind::Frame)
    }

    /// Closed cleanly and no damage at all.
    pub fn is_clean(&self) -> bool {
        self.end.is_some() && self.damage.is_empty()
    }

    fn report(&mut self, offset: usize, kind: DamageKind) {
        self.damage.push(Damage {
            offset: offset as u64,
            kind,
        });
    }

    /// A block at `pos` of `needed` bytes whose write stopped where the zero tail starts.
    fn report_torn(&mut self, pos: usize, needed: usize, zero_from: usize, len: usize) {
        self.report(
            pos,
            DamageKind::Truncated {
                needed: needed as u64,
                available: zero_from.saturating_sub(pos) as u64,
            },
        );
        self.report(
            zero_from,
            DamageKind::ZeroTail {
                length: len.saturating_sub(zero_from) as u64,
            },
        );
    }
}

/// One intact block of a segment, borrowed from the file bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct BlockRef<'a> {
    /// File offset of the block header.
    pub offset: u64,
    pub kind: BlockKind,
    pub flags: u16,
    /// The payload as stored (compressed if [`BLOCK_FLAG_COMPRESSED`] is set).
    pub payload: &'a [u8],
}

impl fmt::Debug for BlockRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockRef")
            .field("offset", &self.offset)
            .field("kind", &self.kind)
            .field("flags", &self.flags)
            .field("payload_len", &self.payload.len())
            .finish()
    }
}

impl<'a> BlockRef<'a> {
    /// Header plus payload length.
    pub fn block_len(&self) -> u64 {
        (BLOCK_HEADER_LEN + self.payload.len()) as u64
    }

    /// The frame header of a Frame block, without decompressing.
    pub fn frame_header(&self) -> Result<FrameHeader, FormatError> {
        self.expect(BlockKind::Frame, 0)?;
        FrameHeader::decode(self.payload).map_err(|e| self.locate(e))
    }

    /// Decodes a Frame block into `out` (see [`decode_frame_into`]).
    pub fn decode_frame(
        &self,
        decompressor: &mut zstd::bulk::Decompressor<'_>,
        out: &mut Vec<u8>,
    ) -> Result<FrameHeader, FormatError> {
        out.clear();
        self.expect(BlockKind::Frame, 0)?;
        decode_frame_into(self.payload, decompressor, out).map_err(|e| self.locate(e))
    }

    /// The entries of an Index block.
    pub fn index_entries(&self) -> Result<Vec<IndexEntry>, FormatError> {
        self.expect(BlockKind::Index, 0)?;
        parse_index(self.payload).map_err(|e| self.locate(e))
    }

    /// The contents of an End block.
    pub fn end_info(&self) -> Result<EndInfo, FormatError> {
        self.expect(BlockKind::End, 0)?;
        EndInfo::decode(self.payload).map_err(|e| self.locate(e))
    }

    /// The payload of a metadata block, decompressed if [`BLOCK_FLAG_COMPRESSED`] is set
    /// (bounded by [`MAX_META_RAW`](super::MAX_META_RAW)). Works on any kind, so new
    /// metadata kinds need nothing here.
    pub fn meta_payload(&self) -> Result<Cow<'a, [u8]>, FormatError> {
        if self.flags & !BLOCK_FLAG_COMPRESSED != 0 {
            return Err(self.locate(FormatError::UnsupportedBlockFlags(self.flags)));
        }
        if self.flags & BLOCK_FLAG_COMPRESSED == 0 {
            return Ok(Cow::Borrowed(self.payload));
        }
        decompress_meta(self.payload)
            .map(Cow::Owned)
            .map_err(|e| self.locate(e))
    }

    fn expect(&self, kind: BlockKind, allowed_flags: u16) -> Result<(), FormatError> {
        if self.kind != kind {
            return Err(self.locate(FormatError::WrongBlockKind {
                expected: kind,
                found: self.kind,
            }));
        }
        if self.flags & !allowed_flags != 0 {
            return Err(self.locate(FormatError::UnsupportedBlockFlags(self.flags)));
        }
        Ok(())
    }

    fn locate(&self, error: FormatError) -> FormatError {
        FormatError::InBlock {
            offset: self.offset,
            kind: Some(self.kind),
            error: Box::new(error),
        }
    }
}

/// Something wrong found by [`TraceReader::scan`], and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Damage {
    /// File offset where the damage starts.
    pub offset: u64,
    pub kind: DamageKind,
}

/// What kind of damage; see [`TraceReader::scan`] for when each is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DamageKind {
    /// The file ends inside a block (or the block runs into the zero tail): `needed` bytes
    /// for the whole block, `available` written. Ends the scan.
    Truncated { needed: u64, available: u64 },
    /// Only zero bytes from here to the end of the file: space reserved by the recorder
    /// but never written. Normal after a crash. Ends the scan.
    ZeroTail { length: u64 },
    /// No sync word where a block header should start.
    BadSync { found: u32 },
    /// A block header whose CRC does not match.
    HeaderChecksum,
    /// A block header (with a valid CRC) claiming a payload over the limit.
    Oversized { len: u64 },
    /// A block whose payload CRC does not match; the block was skipped.
    PayloadChecksum { kind: BlockKind, len: u32 },
    /// Bytes jumped over to find the next valid block header after a damaged one.
    Skipped { bytes: u64 },
    /// Non-zero bytes after the End block, which ends a segment.
    AfterEnd { bytes: u64 },
    /// An End block whose payload has the wrong length.
    BadEnd { len: u32 },
}

impl DamageKind {
    /// Whether this is what a crash or a kill leaves behind (a cut-off or unwritten end),
    /// rather than bytes that were changed after being written.
    pub fn is_crash_artifact(&self) -> bool {
        matches!(
            self,
            DamageKind::Truncated { .. } | DamageKind::ZeroTail { .. }
        )
    }
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = self.offset;
        write!(f, "at byte offset {offset}: ")?;
        match self.kind {
            DamageKind::Truncated { needed, available } => write!(
                f,
                "block cut short: it needs {needed} bytes but only {available} were written \
                 (the recording stopped here)"
            ),
            DamageKind::ZeroTail { length } => write!(
                f,
                "{length} zero bytes to the end of the file: space reserved but never written \
                 (normal after a crash)"
            ),
            DamageKind::BadSync { found } => write!(
                f,
                "damaged block header: expected the sync word \"BKLK\", found {found:#010x}"
            ),
            DamageKind::HeaderChecksum => write!(f, "damaged block header: checksum mismatch"),
            DamageKind::Oversized { len } => write!(
                f,
                "damaged block header: it claims a payload of {len} bytes, over the 256 MiB \
                 limit"
            ),
            DamageKind::PayloadChecksum { kind, len } => write!(
                f,
                "{kind} block with a damaged payload ({len} bytes, checksum mismatch); \
                 block skipped"
            ),
            DamageKind::Skipped { bytes } => write!(
                f,
                "skipped {bytes} unreadable bytes, up to byte offset {}",
                offset.saturating_add(bytes)
            ),
            DamageKind::AfterEnd { bytes } => write!(
                f,
                "{bytes} bytes of unexpected data after the End block (ignored)"
            ),
            DamageKind::BadEnd { len } => write!(
                f,
                "End block payload is {len} bytes, expected {END_PAYLOAD_LEN} (version 1) or \
                 {END_PAYLOAD_LEN_V2} (version 2)"
            ),
        }
    }
}
