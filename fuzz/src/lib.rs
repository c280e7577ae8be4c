//! What the fuzz targets share: a replay of decoded input through the real engine into
//! both views and both line formats, and the properties its output must have whatever the
//! input (a trace is attacker-controlled):
//!
//! - the table is UTF-8 with no control character but the newline ending each row, and has
//!   exactly one row per item (plus the header before the first);
//! - NDJSON is one valid JSON object per item.
//!
//! An engine error (a clear error, not a panic) ends that replay early; that is allowed.

use kellect::format::BlockKind;
use kellect::replayer::render::output::Sink;
use kellect::replayer::{
    decode_raw_frame, Engine, Filter, OutputFormat, RecordsConfig, ReplayConfig, View,
};

/// One stored metadata block: its kind, block flags (compressed or not) and payload.
pub type MetaInput<'a> = (BlockKind, u16, &'a [u8]);

/// Replays `metas` (in order) then the raw records of `frames` (one decoded frame each)
/// in every view and line format, and checks the output. Panics if a property fails.
pub fn replay_and_check(metas: &[MetaInput<'_>], frames: &[&[u8]]) {
    for view in [View::Events, View::Records] {
        for format in [OutputFormat::Table, OutputFormat::JsonMin] {
            let (out, items) = replay(metas, frames, view, format);
            match format {
                OutputFormat::Table => check_table(&out, items),
                _ => check_json_lines(&out, items),
            }
        }
    }
}

fn replay(
    metas: &[MetaInput<'_>],
    frames: &[&[u8]],
    view: View,
    format: OutputFormat,
) -> (Vec<u8>, u64) {
    let cfg = ReplayConfig {
        inputs: Vec::new(),
        format,
        view,
        filter: Filter::default(),
        records: RecordsConfig::default(),
        budget: Default::default(),
    };
    let mut out = Vec::new();
    let items = {
        let mut sink = Sink::new(Some(&mut out), format, None);
        let mut engine = Engine::new(&cfg, &mut sink);
        let fed = (|| {
            for &(kind, flags, payload) in metas {
                engine.meta_block(kind, flags, payload, String::new)?;
            }
            let decoded = frames
                .iter()
                .map(|raw| decode_raw_frame(None, raw.to_vec(), |problem| problem))
                .collect();
            engine.frames(decoded)?;
            engine.finish()
        })();
        drop(fed);
        engine.report.items
    };
    (out, items)
}

/// The table: UTF-8, no control character but row ends, one row per item.
pub fn check_table(out: &[u8], items: u64) {
    let text = std::str::from_utf8(out).expect("the table is UTF-8");
    if let Some(c) = text.chars().find(|&c| c != '\n' && c.is_control()) {
        panic!("control character {c:?} in the table:\n{text}");
    }
    let rows = text.lines().count() as u64;
    assert_eq!(
        rows,
        items + u64::from(items > 0),
        "rows against items:\n{text}"
    );
}

/// NDJSON: one valid JSON object per item.
pub fn check_json_lines(out: &[u8], items: u64) {
    let mut lines = 0u64;
    for line in out.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let value: serde_json::Value = serde_json::from_slice(line)
            .unwrap_or_else(|e| panic!("invalid JSON ({e}): {}", String::from_utf8_lossy(line)));
        assert!(value.is_object(), "not an object: {value}");
        lines += 1;
    }
    assert_eq!(lines, items, "JSON lines against items");
}
