use std::io::{self, Cursor};

use super::block::{zstd_error, ZSTD_MAGIC};
use super::error::FormatError;
use super::le::{LeReader, LeWriter};

/// Length of the frame header at the start of a Frame block's payload.
pub const FRAME_HEADER_LEN: usize = 32;

/// Largest uncompressed frame. A frame header claiming more is damage; no buffer is ever
/// sized from a `raw_len` above it.
pub const MAX_FRAME_RAW: u32 = 64 << 20;

/// How a frame's records are stored after its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// 0: the records as they are.
    Stored = 0,
    /// 1: one zstd frame with content size and content checksum.
    Zstd = 1,
}

impl Codec {
    pub const fn as_u8(self) -> u8 {
        self as u8
    }
}

impl TryFrom<u8> for Codec {
    type Error = FormatError;

    fn try_from(v: u8) -> Result<Codec, FormatError> {
        match v {
            0 => Ok(Codec::Stored),
            1 => Ok(Codec::Zstd),
            other => Err(FormatError::UnsupportedCodec(other)),
        }
    }
}

/// The header of a data frame: the first 32 bytes of a Frame block's payload, followed by
/// the records (opaque bytes here; their layout is the record ABI in `bpf/records.h`).
///
/// It is uncompressed so a reader can select frames by time range or sequence number
/// without decompressing anything.
///
/// Byte layout (32 bytes, integers little-endian):
///
/// ```text
///  0  u64     first_ts: smallest record timestamp in the frame (ns, CLOCK_BOOTTIME)
///  8  u64     last_ts: largest record timestamp (≥ first_ts)
/// 16  u32     record_count
/// 20  u32     raw_len: uncompressed length of the records (≤ MAX_FRAME_RAW)
/// 24  u8      codec: 0 = stored, 1 = zstd; anything else is an UnsupportedCodec error
/// 25  [u8;3]  reserved (0)
/// 28  u32     seq: frame number within the recording (0, 1, 2, … across segments)
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FrameHeader {
    pub first_ts: u64,
    pub last_ts: u64,
    pub record_count: u32,
    pub raw_len: u32,
    pub codec: Codec,
    pub seq: u32,
}

impl FrameHeader {
    pub fn encode(&self) -> [u8; FRAME_HEADER_LEN] {
        let mut out = [0u8; FRAME_HEADER_LEN];
        let mut w = LeWriter::new(&mut out);
        w.u64(self.first_ts);
        w.u64(self.last_ts);
        w.u32(self.record_count);
        w.u32(self.raw_len);
        w.u8(self.codec.as_u8());
        w.bytes(&[0; 3]);
        w.u32(self.seq);
        out
    }

    /// Parses the frame header at the start of a Frame block's payload and checks the
    /// codec, the `raw_len` limit and the time range. Reads 32 bytes, decompresses nothing.
    pub fn decode(payload: &[u8]) -> Result<FrameHeader, FormatError> {
        let Some(fixed) = payload.first_chunk::<FRAME_HEADER_LEN>() else {
            return Err(FormatError::Truncated {
                what: "frame header",
                needed: FRAME_HEADER_LEN as u64,
                available: payload.len() as u64,
            });
        };
        let mut r = LeReader::new(fixed);
        let first_ts = r.u64();
        let last_ts = r.u64();
        let record_count = r.u32();
        let raw_len = r.u32();
        let codec = r.u8();
        let _reserved: [u8; 3] = r.array();
        let seq = r.u32();
        let header = FrameHeader {
            first_ts,
            last_ts,
            record_count,
            raw_len,
            codec: Codec::try_from(codec)?,
            seq,
        };
        header.check()?;
        Ok(header)
    }

    fn check(&self) -> Result<(), FormatError> {
        if self.raw_len > MAX_FRAME_RAW {
            return Err(FormatError::FrameTooLarge {
                raw_len: self.raw_len.into(),
            });
        }
        if self.first_ts > self.last_ts {
            return Err(FormatError::BadTimeRange {
                first_ts: self.first_ts,
                last_ts: self.last_ts,
            });
        }
        Ok(())
    }
}

/// Encodes a Frame block payload: `header` followed by `raw` stored as `header.codec`
/// says. `header.raw_len` must equal `raw.len()`.
///
/// The caller keeps one compressor (its level chosen once) and passes it to every call, so
/// no zstd context is created per frame. This function turns on the content size and
/// content checksum on it.
pub fn encode_frame(
    header: &FrameHeader,
    raw: &[u8],
    compressor: &mut zstd::bulk::Compressor<'_>,
) -> Result<Vec<u8>, FormatError> {
    let mut out = Vec::new();
    encode_frame_into(header, raw, compressor, &mut out)?;
    Ok(out)
}

/// [`encode_frame`], appending the payload to `out` so its allocation can be reused.
/// On error `out` is left as it was.
pub fn encode_frame_into(
    header: &FrameHeader,
    raw: &[u8],
    compressor: &mut zstd::bulk::Compressor<'_>,
    out: &mut Vec<u8>,
) -> Result<(), FormatError> {
    if header.raw_len as usize != raw.len() {
        return Err(FormatError::LengthMismatch {
            what: "frame header raw_len vs. records given",
            expected: header.raw_len.into(),
            actual: raw.len() as u64,
        });
    }
    header.check()?;
    let start = out.len();
    out.extend_from_slice(&header.encode());
    match header.codec {
        Codec::Stored => out.extend_from_slice(raw),
        Codec::Zstd => {
            let body_start = out.len();
            let compressed = compress_after(compressor, raw, out, body_start);
            if let Err(e) = compressed {
                out.truncate(start);
                return Err(FormatError::Compress(e));
            }
        }
    }
    Ok(())
}

/// Compresses `raw` into `out` after its first `at` bytes, leaving `out.len()` at the end
/// of the compressed bytes.
fn compress_after(
    compressor: &mut zstd::bulk::Compressor<'_>,
    raw: &[u8],
    out: &mut Vec<u8>,
    at: usize,
) -> io::Result<()> {
    compressor.include_checksum(true)?;
    compressor.include_contentsize(true)?;
    out.reserve(zstd::zstd_safe::compress_bound(raw.len()));
    let mut cursor = Cursor::new(out);
    cursor.set_position(at as u64);
    compressor.compress_to_buffer(raw, &mut cursor)?;
    Ok(())
}

/// Decodes a Frame block payload: checks the header, decompresses, and checks the result
/// is exactly `raw_len` bytes. Allocates at most `raw_len` (≤ [`MAX_FRAME_RAW`]) bytes,
/// whatever the compressed data would expand to.
pub fn decode_frame(payload: &[u8]) -> Result<(FrameHeader, Vec<u8>), FormatError> {
    let mut decompressor = zstd::bulk::Decompressor::new().map_err(FormatError::Decompress)?;
    let mut out = Vec::new();
    let header = decode_frame_into(payload, &mut decompressor, &mut out)?;
    Ok((header, out))
}

/// [`decode_frame`] with a reused zstd context and output buffer (one of each per replay
/// thread). `out` is replaced by the records; on error it is left empty.
pub fn decode_frame_into(
    payload: &[u8],
    decompressor: &mut zstd::bulk::Decompressor<'_>,
    out: &mut Vec<u8>,
) -> Result<FrameHeader, FormatError> {
    out.clear();
    let header = FrameHeader::decode(payload)?;
    let body = payload.get(FRAME_HEADER_LEN..).unwrap_or(&[]);
    let raw_len = header.raw_len as usize;
    match header.codec {
        Codec::Stored => {
            if body.len() != raw_len {
                return Err(FormatError::LengthMismatch {
                    what: "stored frame records vs. raw_len",
                    expected: raw_len as u64,
                    actual: body.len() as u64,
                });
            }
            out.extend_from_slice(body);
        }
        Codec::Zstd => {
            check_zstd_body(body, raw_len)?;
            // Exactly raw_len bytes of room: zstd fails rather than write past it.
            out.reserve_exact(raw_len);
            out.resize(raw_len, 0);
            let written = decompressor.decompress_to_buffer(body, out.as_mut_slice());
            match written {
                Ok(n) if n == raw_len => {}
                Ok(n) => {
                    out.clear();
                    return Err(FormatError::LengthMismatch {
                        what: "decompressed frame vs. raw_len",
                        expected: raw_len as u64,
                        actual: n as u64,
                    });
                }
                Err(e) => {
                    out.clear();
                    return Err(FormatError::Decompress(e));
                }
            }
        }
    }
    Ok(header)
}

/// Cheap checks before decompressing: one whole zstd frame, whose declared content size
/// (if any) is `raw_len`.
fn check_zstd_body(body: &[u8], raw_len: usize) -> Result<(), FormatError> {
    if !body.starts_with(&ZSTD_MAGIC) {
        return Err(FormatError::NotZstd);
    }
    match zstd::zstd_safe::get_frame_content_size(body) {
        Ok(Some(size)) if size != raw_len as u64 => {
            return Err(FormatError::LengthMismatch {
                what: "zstd content size vs. frame raw_len",
                expected: raw_len as u64,
                actual: size,
            })
        }
        Ok(_) => {}
        Err(_) => {
            return Err(FormatError::Decompress(io::Error::new(
                io::ErrorKind::InvalidData,
                "corrupt zstd frame header",
            )))
        }
    }
    let frame_len = zstd::zstd_safe::find_frame_compressed_size(body)
        .map_err(|code| FormatError::Decompress(zstd_error(code)))?;
    if frame_len != body.len() {
        return Err(FormatError::TrailingData {
            what: "zstd frame body",
            bytes: body.len().saturating_sub(frame_len) as u64,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records-like bytes: compressible but not trivially so.
    fn records(n: usize) -> Vec<u8> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        (0..n)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if i % 16 == 0 {
                    x as u8
                } else {
                    (i / 64) as u8
                }
            })
            .collect()
    }

    fn header_for(raw: &[u8], codec: Codec) -> FrameHeader {
        FrameHeader {
            first_ts: 1_000,
            last_ts: 2_000,
            record_count: 17,
            raw_len: raw.len() as u32,
            codec,
            seq: 42,
        }
    }

    fn compressor() -> zstd::bulk::Compressor<'static> {
        zstd::bulk::Compressor::new(3).unwrap()
    }

    /// A zstd frame of `raw`, with or without a declared content size.
    fn zstd_body(raw: &[u8], content_size: bool) -> Vec<u8> {
        let mut c = compressor();
        c.include_contentsize(content_size).unwrap();
        c.compress(raw).unwrap()
    }

    fn payload_with(header: &FrameHeader, body: &[u8]) -> Vec<u8> {
        let mut p = header.encode().to_vec();
        p.extend_from_slice(body);
        p
    }

    #[test]
    fn header_byte_layout() {
        let h = FrameHeader {
            first_ts: 0x1111_2222_3333_4444,
            last_ts: 0x5555_6666_7777_8888,
            record_count: 0x0a0b_0c0d,
            raw_len: 0x0010_0000,
            codec: Codec::Zstd,
            seq: 0x0102_0304,
        };
        let b = h.encode();
        assert_eq!(&b[0..8], &0x1111_2222_3333_4444u64.to_le_bytes());
        assert_eq!(&b[8..16], &0x5555_6666_7777_8888u64.to_le_bytes());
        assert_eq!(&b[16..20], &[0x0d, 0x0c, 0x0b, 0x0a]);
        assert_eq!(&b[20..24], &[0, 0, 0x10, 0]);
        assert_eq!(b[24], 1);
        assert_eq!(&b[25..28], &[0; 3]);
        assert_eq!(&b[28..32], &[4, 3, 2, 1]);
        assert_eq!(FrameHeader::decode(&b).unwrap(), h);
    }

    #[test]
    fn round_trip_zstd_and_stored() {
        let mut c = compressor();
        let mut d = zstd::bulk::Decompressor::new().unwrap();
        let mut out = Vec::new();
        for len in [0usize, 1, 100, 4096, 1 << 20] {
            let raw = records(len);
            for codec in [Codec::Zstd, Codec::Stored] {
                let h = header_for(&raw, codec);
                let payload = encode_frame(&h, &raw, &mut c).unwrap();
                assert_eq!(FrameHeader::decode(&payload).unwrap(), h);
                let (got_h, got) = decode_frame(&payload).unwrap();
                assert_eq!((got_h, got.as_slice()), (h, raw.as_slice()));
                // The reusable path gives the same, with the buffer reused.
                assert_eq!(decode_frame_into(&payload, &mut d, &mut out).unwrap(), h);
                assert_eq!(out, raw);
                if codec == Codec::Zstd && len == 1 << 20 {
                    assert!(payload.len() < raw.len() / 2, "{}", payload.len());
                    let body = &payload[FRAME_HEADER_LEN..];
                    assert_eq!(
                        zstd::zstd_safe::get_frame_content_size(body).unwrap(),
                        Some(raw.len() as u64)
                    );
                }
            }
        }
    }

    #[test]
    fn encode_into_appends_and_keeps_out_on_error() {
        let mut c = compressor();
        let raw = records(5000);
        let mut out = b"head".to_vec();
        encode_frame_into(&header_for(&raw, Codec::Zstd), &raw, &mut c, &mut out).unwrap();
        assert_eq!(&out[..4], b"head");
        assert_eq!(decode_frame(&out[4..]).unwrap().1, raw);

        let before = out.clone();
        let mut wrong = header_for(&raw, Codec::Zstd);
        wrong.raw_len += 1;
        let err = encode_frame_into(&wrong, &raw, &mut c, &mut out).unwrap_err();
        assert!(matches!(err, FormatError::LengthMismatch { .. }), "{err:?}");
        let mut reversed = header_for(&raw, Codec::Zstd);
        reversed.first_ts = reversed.last_ts + 1;
        let err = encode_frame_into(&reversed, &raw, &mut c, &mut out).unwrap_err();
        assert!(matches!(err, FormatError::BadTimeRange { .. }), "{err:?}");
        assert_eq!(out, before);
    }

    #[test]
    fn content_checksum_is_on() {
        let raw = records(10_000);
        let payload =
            encode_frame(&header_for(&raw, Codec::Zstd), &raw, &mut compressor()).unwrap();
        // Frame header descriptor byte (after the 4-byte magic): bit 2 = checksum flag.
        let descriptor = payload[FRAME_HEADER_LEN + 4];
        assert_ne!(descriptor & 0b100, 0);
        // And a damaged body is detected by zstd itself (block CRC aside).
        let mut bad = payload.clone();
        let at = bad.len() - 10;
        bad[at] ^= 0x10;
        assert!(decode_frame(&bad).is_err());
    }

    #[test]
    fn rejects_raw_len_over_the_limit_without_allocating() {
        let mut h = header_for(&[], Codec::Zstd);
        h.raw_len = MAX_FRAME_RAW + 1;
        let payload = payload_with(&h, &zstd_body(b"tiny", true));
        let mut d = zstd::bulk::Decompressor::new().unwrap();
        let mut out = Vec::new();
        let err = decode_frame_into(&payload, &mut d, &mut out).unwrap_err();
        assert!(
            matches!(err, FormatError::FrameTooLarge { raw_len } if raw_len == u64::from(MAX_FRAME_RAW) + 1),
            "{err:?}"
        );
        assert_eq!(out.capacity(), 0);
        h.raw_len = u32::MAX;
        assert!(matches!(
            FrameHeader::decode(&h.encode()),
            Err(FormatError::FrameTooLarge { .. })
        ));
    }

    #[test]
    fn rejects_mismatched_lengths() {
        let raw = records(3000);
        // Declared content size disagrees with raw_len: rejected before decompressing.
        for delta in [-1i64, 1] {
            let mut h = header_for(&raw, Codec::Zstd);
            h.raw_len = (raw.len() as i64 + delta) as u32;
            let err = decode_frame(&payload_with(&h, &zstd_body(&raw, true))).unwrap_err();
            assert!(
                matches!(err, FormatError::LengthMismatch { .. }),
                "{delta}: {err:?}"
            );
        }
        // No declared size: the output must still come out at exactly raw_len.
        let body = zstd_body(&raw, false);
        let mut h = header_for(&raw, Codec::Zstd);
        h.raw_len = raw.len() as u32 + 1;
        let err = decode_frame(&payload_with(&h, &body)).unwrap_err();
        assert!(
            matches!(err, FormatError::LengthMismatch { actual: 3000, .. }),
            "{err:?}"
        );
        h.raw_len = raw.len() as u32 - 1;
        let err = decode_frame(&payload_with(&h, &body)).unwrap_err();
        assert!(matches!(err, FormatError::Decompress(_)), "{err:?}");
        h.raw_len = raw.len() as u32;
        assert_eq!(decode_frame(&payload_with(&h, &body)).unwrap().1, raw);
        // Stored: the body is the records, exactly.
        let mut h = header_for(&raw, Codec::Stored);
        h.raw_len -= 1;
        let err = decode_frame(&payload_with(&h, &raw)).unwrap_err();
        assert!(matches!(err, FormatError::LengthMismatch { .. }), "{err:?}");
    }

    #[test]
    fn rejects_unknown_codecs_and_bad_headers() {
        let raw = records(100);
        let good = encode_frame(&header_for(&raw, Codec::Stored), &raw, &mut compressor()).unwrap();
        for codec in 2..=255u8 {
            let mut p = good.clone();
            p[24] = codec;
            let err = decode_frame(&p).unwrap_err();
            assert!(
                matches!(err, FormatError::UnsupportedCodec(c) if c == codec),
                "{err:?}"
            );
        }
        for len in 0..FRAME_HEADER_LEN {
            assert!(matches!(
                decode_frame(&good[..len]),
                Err(FormatError::Truncated { needed: 32, .. })
            ));
        }
        let mut h = header_for(&raw, Codec::Stored);
        h.first_ts = 10;
        h.last_ts = 9;
        assert!(matches!(
            FrameHeader::decode(&h.encode()),
            Err(FormatError::BadTimeRange {
                first_ts: 10,
                last_ts: 9
            })
        ));
        // A zstd codec with a body that is not zstd, or is followed by more bytes.
        let h = header_for(&raw, Codec::Zstd);
        assert!(matches!(
            decode_frame(&payload_with(&h, &raw)),
            Err(FormatError::NotZstd)
        ));
        let mut body = zstd_body(&raw, true);
        body.push(0);
        assert!(matches!(
            decode_frame(&payload_with(&h, &body)),
            Err(FormatError::TrailingData { bytes: 1, .. })
        ));
    }

    #[test]
    fn zstd_bomb_is_bounded_by_raw_len() {
        // 64 MiB + 1 MiB of zeros compress to a few KiB; the header claims the maximum.
        let bomb_len = (MAX_FRAME_RAW as usize) + (1 << 20);
        let mut h = header_for(&[], Codec::Zstd);
        h.raw_len = MAX_FRAME_RAW;
        let mut d = zstd::bulk::Decompressor::new().unwrap();
        let mut c = zstd::bulk::Compressor::new(1).unwrap();
        for declared in [false, true] {
            c.include_contentsize(declared).unwrap();
            let body = c.compress(&vec![0u8; bomb_len]).unwrap();
            assert!(body.len() < 64 << 10);
            let mut out = Vec::new();
            let err = decode_frame_into(&payload_with(&h, &body), &mut d, &mut out).unwrap_err();
            if declared {
                // Rejected from the declared size, before any allocation.
                assert!(matches!(err, FormatError::LengthMismatch { .. }), "{err:?}");
                assert_eq!(out.capacity(), 0);
            } else {
                assert!(matches!(err, FormatError::Decompress(_)), "{err:?}");
                assert!(out.capacity() <= MAX_FRAME_RAW as usize + 4096);
            }
            assert!(out.is_empty());
        }
    }
}
