//! `kellect verify`: recomputes the hash chain of trace files (format version 2) and says,
//! per segment, whether it is intact, cut where, or where it first fails; then whether the
//! segments given follow each other; with a verification key, checks every seal with its
//! own epoch's key (`format::check_seals`). The chain logic is `format::verify_segment` and
//! `format::link_segments`; this module maps the files and shapes the report.

use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use memmap2::Mmap;
use rayon::prelude::*;
use serde::Serialize;

use crate::format::{
    self, EpochClock, KeyId, LinkFinding, SegmentStatus, SegmentVerdict, VerifyKey,
};

/// Exit status of `kellect verify` when every segment is intact and linked.
pub const EXIT_INTACT: u8 = 0;
/// Exit status when anything fails verification (a changed, missing, repeated or
/// reordered block, a broken or missing segment link, a version 1 file without a chain).
pub const EXIT_FAILED: u8 = 1;
/// Exit status when nothing fails but at least one segment is cut (no End block: a crash,
/// `kill -9`, a full disk, a recording still running, or a file cut short): everything up
/// to the cut verifies.
pub const EXIT_CUT: u8 = 3;

/// The verdict on one file.
#[derive(Debug, Clone, Serialize)]
pub struct FileVerdict {
    pub file: PathBuf,
    #[serde(flatten)]
    pub verdict: SegmentVerdict,
}

/// A link finding with its sentence.
#[derive(Debug, Clone, Serialize)]
pub struct LinkReport {
    pub message: String,
    #[serde(flatten)]
    pub finding: LinkFinding,
}

/// What `kellect verify` found: one verdict per file (in the order given), the link
/// findings across them, and the overall result with its exit status.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    pub files: Vec<FileVerdict>,
    pub links: Vec<LinkReport>,
    /// The verification key the seals were checked with; `None`: seals were not checked
    /// (each segment's `seal_state` is then `unverified` or `unsealed`).
    pub key: Option<KeyReport>,
    /// `intact`, `cut` or `failed`.
    pub result: &'static str,
    pub exit_code: u8,
}

/// The public half of a verification key, as the report shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyReport {
    pub key_id: KeyId,
    #[serde(flatten)]
    pub clock: EpochClock,
}

/// Maps and verifies every file (in parallel), then checks the links between them; seals
/// are reported as present but not checked.
///
/// Errors: a file that cannot be opened or mapped. A file that is not a readable trace is
/// not an error: its verdict says why it cannot be verified.
pub fn verify_files(paths: &[PathBuf]) -> Result<VerifyReport> {
    verify_files_keyed(paths, None)
}

/// [`verify_files`], then, with `key` (a verification key file from `kellect keygen`),
/// checks every seal with the key of its own epoch against the current `CLOCK_REALTIME`.
///
/// Errors: as [`verify_files`]; a key file that cannot be read or is not a verification
/// key.
pub fn verify_files_keyed(paths: &[PathBuf], key: Option<&Path>) -> Result<VerifyReport> {
    let key = key
        .map(|path| {
            VerifyKey::load(path).with_context(|| "cannot use the verification key".to_owned())
        })
        .transpose()?;
    let mut files: Vec<FileVerdict> = paths
        .par_iter()
        .map(|path| verify_file(path))
        .collect::<Result<_>>()?;
    if let Some(key) = &key {
        let mut verdicts: Vec<SegmentVerdict> = files.iter().map(|f| f.verdict.clone()).collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        format::check_seals(&mut verdicts, key, now);
        for (file, verdict) in files.iter_mut().zip(verdicts) {
            file.verdict = verdict;
        }
    }
    let verdicts: Vec<SegmentVerdict> = files.iter().map(|f| f.verdict.clone()).collect();
    let name = |i: usize| {
        paths
            .get(i)
            .map_or_else(String::new, |p| p.display().to_string())
    };
    let links: Vec<LinkReport> = format::link_segments(&verdicts)
        .into_iter()
        .map(|finding| LinkReport {
            message: finding.describe(name),
            finding,
        })
        .collect();
    let failed = !links.is_empty()
        || verdicts
            .iter()
            .any(|v| matches!(v.status, SegmentStatus::Failed(_) | SegmentStatus::NoChain));
    let cut = verdicts
        .iter()
        .any(|v| matches!(v.status, SegmentStatus::Cut { .. }));
    let (result, exit_code) = match (failed, cut) {
        (true, _) => ("failed", EXIT_FAILED),
        (false, true) => ("cut", EXIT_CUT),
        (false, false) => ("intact", EXIT_INTACT),
    };
    Ok(VerifyReport {
        files,
        links,
        key: key.map(|k| KeyReport {
            key_id: k.key_id(),
            clock: k.clock(),
        }),
        result,
        exit_code,
    })
}

fn verify_file(path: &Path) -> Result<FileVerdict> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let empty = file.metadata().map(|m| m.len() == 0).unwrap_or(false);
    let verdict = if empty {
        format::verify_segment(&[])
    } else {
        // SAFETY: the trace is mapped read-only and treated as untrusted bytes (every
        // length is checked); as with any memory-mapped reader, another program
        // truncating the file while it is mapped would crash this process (SIGBUS).
        let map = unsafe { Mmap::map(&file) }
            .with_context(|| format!("cannot map {} into memory", path.display()))?;
        format::verify_segment(&map)
    };
    Ok(FileVerdict {
        file: path.to_owned(),
        verdict,
    })
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for file in &self.files {
            let v = &file.verdict;
            write!(f, "{}: ", file.file.display())?;
            if v.version != 0 {
                write!(
                    f,
                    "recording {:016x} segment {}: ",
                    v.recording_id, v.segment_index
                )?;
            }
            writeln!(f, "{v}")?;
        }
        for link in &self.links {
            writeln!(f, "{}", link.message)?;
        }
        if let Some(key) = &self.key {
            writeln!(
                f,
                "seals checked with verification key {} (epochs of {} s)",
                key.key_id,
                key.clock.interval_ns as f64 / 1e9
            )?;
        }
        let summary = match self.result {
            "intact" => "intact: every segment verifies and follows its predecessor",
            "cut" => "cut: everything up to each cut verifies",
            _ => "FAILED verification",
        };
        writeln!(f, "verify: {summary}")
    }
}
