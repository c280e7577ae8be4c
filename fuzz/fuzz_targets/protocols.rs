//! Feeds arbitrary bytes to every application decoder (DNS, HTTP, SYSLOG) on every
//! transport, cut into chunks where the input says. Nothing may panic, and every element
//! must be well formed: `_Timestamp` first, then either `_Exception` alone or decoded keys.
//!
//! Run: `bash scripts/fuzz.sh` (all targets), or see fuzz/README.md. The first byte
//! picks the chunk sizes, the rest is the payload.

#![no_main]

use kellect::replayer::views::records::protocols::{App, Direction, StreamDecoder, Transport, Value};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&cut, payload)) = data.split_first() else {
        return;
    };
    for app in [App::Dns, App::Http, App::Syslog] {
        for transport in [
            Transport::Udp,
            Transport::Tcp,
            Transport::UnixDgram,
            Transport::UnixStream,
        ] {
            let mut decoder = StreamDecoder::new(app, transport, Direction::Rx);
            let mut elements = Vec::new();
            let mut rest = payload;
            let mut step = 0usize;
            while !rest.is_empty() {
                // Chunk sizes from 1 to 256, varying with the seed byte and the position.
                let size = 1 + (usize::from(cut).wrapping_mul(31).wrapping_add(step * 17) % 256);
                let n = size.min(rest.len());
                elements.extend(decoder.push(&rest[..n], step as f64 * 0.001));
                rest = &rest[n..];
                step += 1;
            }
            elements.extend(decoder.finish());
            assert!(elements.len() <= payload.len() + 1);
            for element in elements {
                let keys: Vec<&str> = element.keys().map(String::as_str).collect();
                assert_eq!(keys.first(), Some(&"_Timestamp"));
                if element.contains_key("_Exception") {
                    assert_eq!(keys.len(), 2);
                }
                // Renders as JSON.
                let _ = Value::Object(element).to_string();
            }
        }
    }
});
