//! Feeds arbitrary bytes to the record decoder as the raw (decompressed) content of a data
//! frame, alone and split into two frames where the first byte says, then replays the
//! events through the engine in both views, as a table and as NDJSON. Nothing may panic;
//! the table keeps one escaped row per item and every JSON line parses
//! (`kellect_fuzz::replay_and_check`).
//!
//! Run: `bash scripts/fuzz.sh` (all targets), or see fuzz/README.md.

#![no_main]

use kellect::abi::{self, Records};
use kellect::replayer::input::decode;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The decoder alone: every record it returns lies inside the input, and a malformed
    // record ends the frame with an error.
    let (events, error) = decode::decode_frame(data);
    let records = Records::new(data).take_while(Result::is_ok).count();
    assert_eq!(events.len(), records);
    if error.is_none() {
        assert!(Records::new(data).all(|r| r.is_ok()));
    }
    let _ = abi::peek_header(data);

    kellect_fuzz::replay_and_check(&[], &[data]);
    if let Some((&cut, rest)) = data.split_first() {
        let at = usize::from(cut) * rest.len() / 256;
        let (a, b) = rest.split_at(at);
        kellect_fuzz::replay_and_check(&[], &[a, b]);
    }
});
