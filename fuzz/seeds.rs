//! Writes the seed corpora of the fuzz targets (fuzz/corpus/TARGET/) from the repository's
//! own traces, so the committed seeds can be remade: `bash scripts/fuzz.sh --seeds`.
//!
//! - trace_reader: whole small segments (src/format/testdata, fixtures/process.kz and
//!   fixtures/catalogue.kz);
//! - records: the raw records of each fixture frame, in pieces of 16 records;
//! - metadata: each metadata block of those fixtures, as `kind, flags, payload`;
//! - protocols: a chunking byte then a DNS query and answer, an HTTP request and
//!   response, and syslog messages (RFC 3164 and 5424), written out here.

use std::fs;
use std::path::{Path, PathBuf};

use kellect::abi;
use kellect::format::{decode_frame, BlockKind, TraceReader};
// Built with the targets' coverage flags: libFuzzer supplies the coverage callbacks.
use libfuzzer_sys as _;

/// Records per seed of the records target.
const RECORDS_PER_SEED: usize = 16;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let corpus = root.join("fuzz/corpus");
    let target = |name: &str| {
        let dir = corpus.join(name);
        fs::create_dir_all(&dir).expect("creating a corpus directory");
        dir
    };
    let (traces, records, metadata, protocols) = (
        target("trace_reader"),
        target("records"),
        target("metadata"),
        target("protocols"),
    );

    let segments: Vec<PathBuf> = [
        "src/format/testdata/v1-stored.kz",
        "src/format/testdata/v1-zstd.kz",
        "fixtures/process.kz",
        "fixtures/catalogue.kz",
    ]
    .iter()
    .map(|p| root.join(p))
    .collect();
    for path in &segments {
        let bytes = fs::read(path).expect("reading a seed segment");
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        write(&traces.join(&stem), &bytes);
        let reader = TraceReader::new(&bytes).expect("a valid segment");
        let mut frame_no = 0;
        for block in reader.scan().blocks {
            if block.kind == BlockKind::Frame {
                let (_, raw) = decode_frame(block.payload).expect("a valid frame");
                for (i, piece) in record_pieces(&raw).iter().enumerate() {
                    write(&records.join(format!("{stem}-{frame_no}-{i:02}")), piece);
                }
                frame_no += 1;
            } else if block.kind.is_metadata() {
                let kind = u8::try_from(block.kind.as_u16()).unwrap_or(u8::MAX);
                let mut seed = vec![kind, block.flags as u8];
                seed.extend_from_slice(block.payload);
                write(
                    &metadata.join(format!("{stem}-{}", block.kind.as_u16())),
                    &seed,
                );
            }
        }
    }

    for (name, message) in protocol_messages() {
        // The first byte picks the chunk sizes of the stream transports.
        for (cut, suffix) in [(0u8, "whole"), (7, "cut")] {
            let mut seed = vec![cut];
            seed.extend_from_slice(&message);
            write(&protocols.join(format!("{name}-{suffix}")), &seed);
        }
    }
}

/// The raw records of a frame, cut at record boundaries into pieces of
/// [`RECORDS_PER_SEED`] records.
fn record_pieces(raw: &[u8]) -> Vec<&[u8]> {
    let mut pieces = Vec::new();
    let (mut start, mut at, mut count) = (0, 0, 0);
    while let Some(header) = abi::peek_header(&raw[at..]) {
        let len = header.len.get() as usize;
        if len == 0 || at + len > raw.len() {
            break;
        }
        at += len;
        count += 1;
        if count == RECORDS_PER_SEED {
            pieces.push(&raw[start..at]);
            (start, count) = (at, 0);
        }
    }
    if at > start {
        pieces.push(&raw[start..at]);
    }
    pieces
}

fn protocol_messages() -> Vec<(&'static str, Vec<u8>)> {
    // DNS: a query for kellect.test A (id 0x1234, RD), and its answer 127.0.0.1.
    let mut query = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    query.extend_from_slice(b"\x07kellect\x04test\x00\x00\x01\x00\x01");
    let mut answer = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0];
    answer.extend_from_slice(b"\x07kellect\x04test\x00\x00\x01\x00\x01");
    answer.extend_from_slice(b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\x7f\x00\x00\x01");
    // The same answer as DNS over TCP: a two-byte length first.
    let mut tcp_answer = (answer.len() as u16).to_be_bytes().to_vec();
    tcp_answer.extend_from_slice(&answer);
    vec![
        ("dns-query", query),
        ("dns-answer", answer),
        ("dns-tcp-answer", tcp_answer),
        (
            "http-request",
            b"GET /hello.txt HTTP/1.1\r\nHost: 127.0.0.1:18080\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n".to_vec(),
        ),
        (
            "http-response",
            b"HTTP/1.0 200 OK\r\nServer: SimpleHTTP/0.6 Python/3.11.2\r\nContent-type: text/plain\r\nContent-Length: 6\r\n\r\nhello\n".to_vec(),
        ),
        (
            "syslog-3164",
            b"<13>Nov 21 09:09:24 vm kellecttest: hello syslog".to_vec(),
        ),
        (
            "syslog-5424",
            b"<165>1 2026-11-21T09:09:24.003Z vm kellecttest 4321 ID47 [ex@32473 k=\"v\"] hello".to_vec(),
        ),
    ]
}

fn write(path: &Path, bytes: &[u8]) {
    fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}
