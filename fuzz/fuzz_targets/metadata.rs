//! Feeds arbitrary bytes to the metadata decoder: the first byte picks the block kind, the
//! second the block flags (bit 0: compressed), the rest is the payload as stored. The
//! payload is decoded as every metadata type, then applied through the engine before the
//! records of a small real frame (fuzz/corpus/records/process-0-00), so hostile host
//! context (process names, hosts, users) reaches both views' output. Nothing may panic;
//! the output keeps its properties (`kellect_fuzz::replay_and_check`).
//!
//! Run: `bash scripts/fuzz.sh` (all targets), or see fuzz/README.md.

#![no_main]

use kellect::format::{decompress_meta, BlockKind, BLOCK_FLAG_COMPRESSED};
use kellect::meta::{self, MetaBlock};
use libfuzzer_sys::fuzz_target;

/// Raw records of a real recording, replayed after the metadata block.
const RECORDS: &[u8] = include_bytes!("../corpus/records/process-0-00");

fn decode_as<T: MetaBlock>(payload: &[u8]) {
    let _ = meta::decode::<T>(payload);
}

fuzz_target!(|data: &[u8]| {
    let [kind, flags, payload @ ..] = data else {
        return;
    };
    let kind = BlockKind::from_u16(u16::from(*kind));
    let flags = u16::from(*flags) & BLOCK_FLAG_COMPRESSED;
    let raw;
    let decoded = if flags != 0 {
        match decompress_meta(payload) {
            Ok(bytes) => {
                raw = bytes;
                Some(&raw[..])
            }
            Err(_) => None,
        }
    } else {
        Some(payload)
    };
    if let Some(bytes) = decoded {
        decode_as::<meta::HostInfo>(bytes);
        decode_as::<meta::ProcSnapshot>(bytes);
        decode_as::<meta::FdTable>(bytes);
        decode_as::<meta::Accounts>(bytes);
        decode_as::<meta::Mounts>(bytes);
        decode_as::<meta::Interfaces>(bytes);
        decode_as::<meta::FileFactsBlock>(bytes);
        decode_as::<meta::Capture>(bytes);
        decode_as::<meta::Stats>(bytes);
        decode_as::<meta::ClockSync>(bytes);
        decode_as::<meta::Cgroups>(bytes);
    }
    if kind.is_metadata() {
        kellect_fuzz::replay_and_check(&[(kind, flags, payload)], &[RECORDS]);
    }
});
