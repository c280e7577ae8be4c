//! Feeds arbitrary bytes to the segment reader: header check, block scan, and the decoding
//! of every block it returns. Nothing may panic, and the scan's invariants must hold.
//!
//! Run: `bash scripts/fuzz.sh` (all targets), or see fuzz/README.md. Seeds: small real
//! segments in fuzz/corpus/trace_reader.

#![no_main]

use kellect::format::{decode_frame, BlockHeader, BlockKind, TraceReader, BLOCK_HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(reader) = TraceReader::new(data) else {
        return;
    };
    let scan = reader.scan();
    let mut prev_end = reader.data_offset();
    for block in &scan.blocks {
        // Blocks are in file order, inside the file, and their payload CRC holds.
        assert!(block.offset >= prev_end);
        prev_end = block.offset + block.block_len();
        assert!(prev_end <= data.len() as u64);
        let header = BlockHeader::decode(&data[block.offset as usize..]).unwrap();
        assert_eq!(header.payload_len as usize, block.payload.len());
        let start = block.offset as usize + BLOCK_HEADER_LEN;
        assert_eq!(block.payload, &data[start..start + block.payload.len()]);
        assert_eq!(crc32c_of(block.payload), header.payload_crc);

        match block.kind {
            BlockKind::Frame => {
                let _ = block.frame_header();
                if let Ok((frame, records)) = decode_frame(block.payload) {
                    assert_eq!(records.len(), frame.raw_len as usize);
                }
            }
            BlockKind::Index => {
                if let Ok(entries) = block.index_entries() {
                    for entry in entries.iter().take(64) {
                        let _ = reader.block_at(entry.block_offset);
                    }
                }
            }
            BlockKind::End => {
                let _ = block.end_info();
            }
            _ => {
                let _ = block.meta_payload();
            }
        }
    }
    for damage in &scan.damage {
        assert!(damage.offset <= data.len() as u64);
        let _ = damage.to_string();
    }
    let _ = reader.end_from_tail();
});

/// The block CRC, recomputed through the format's own header encoder so this target
/// needs no checksum dependency of its own.
fn crc32c_of(payload: &[u8]) -> u32 {
    BlockHeader::for_payload(BlockKind::Frame, 0, payload).payload_crc
}
