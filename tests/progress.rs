//! Progress of long replays and infos: shown on stderr when it is a terminal (a
//! pseudo-terminal made by `script`), never on a pipe, never with `-q`.

use std::path::Path;
use std::process::Command;

use kellect::format::{self, Codec, FileHeader, SegmentEncoder, TraceReader};

use crate::util::{fixture, kellect};

/// A large trace: the metadata of fixtures/files.kz, then its frames again and again, so
/// that replaying it lasts well past the delay before progress shows.
fn large_trace(path: &Path, copies: usize) {
    let bytes = std::fs::read(fixture("files.kz")).unwrap();
    let reader = TraceReader::new(&bytes).unwrap();
    let scan = reader.scan();
    let header = FileHeader {
        recording_id: 0x9e06e55,
        segment_index: 0,
        created_realtime_ns: reader.header().created_realtime_ns,
    };
    let mut enc = SegmentEncoder::new(&header, 1).unwrap();
    for block in scan.blocks.iter().filter(|b| b.kind.is_metadata()) {
        enc.push_block(block.kind, block.flags, block.payload)
            .unwrap();
    }
    let frames: Vec<_> = scan
        .frames()
        .map(|f| format::decode_frame(f.payload).unwrap())
        .collect();
    for _ in 0..copies {
        for (h, raw) in &frames {
            enc.push_frame(raw, h.first_ts, h.last_ts, h.record_count, Codec::Zstd)
                .unwrap();
        }
    }
    assert!(frames.iter().all(|(h, _)| h.record_count > 0));
    std::fs::write(path, enc.finish()).unwrap();
}

/// Runs `shell_command` with its stdin, stdout and stderr on a pseudo-terminal
/// (`script -qec`); returns what the terminal showed.
#[track_caller]
fn on_a_terminal(shell_command: &str) -> String {
    let out = Command::new("script")
        .args(["-qec", shell_command, "/dev/null"])
        .output()
        .expect("running script (util-linux)");
    assert!(
        out.status.success(),
        "{shell_command} under script failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn shows_progress(text: &str) -> bool {
    text.contains("records/s") && text.contains(" left")
}

#[test]
fn replay_shows_progress_on_a_terminal_only() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("large.kz");
    large_trace(&trace, 200);
    let bin = env!("CARGO_BIN_EXE_kellect");
    let t = trace.display();

    // The smallest memory budget: frames are read in batches of 8 MiB decoded, and
    // progress moves after each.
    let replay =
        format!("{bin} replay {t} --view events -o json-min -j 1 --max-memory 32 >/dev/null");
    let shown = on_a_terminal(&replay);
    assert!(
        shows_progress(&shown),
        "no progress on the terminal during a long replay:\n{shown}"
    );
    let quiet = on_a_terminal(&format!(
        "{bin} replay {t} --view events -q -j 1 --max-memory 32"
    ));
    assert!(!shows_progress(&quiet), "progress with -q:\n{quiet}");

    // stderr on a pipe: nothing but what replay always says.
    let piped = kellect()
        .args([
            "replay",
            &t.to_string(),
            "--view",
            "events",
            "-o",
            "json-min",
        ])
        .args(["-j", "1", "--max-memory", "32"])
        .stdout(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !shows_progress(&stderr) && !stderr.contains('\r') && !stderr.contains('\x1b'),
        "progress on a pipe:\n{stderr}"
    );
}
