//! Metadata carried by a trace beside the raw records: what the recorder captured on the
//! host that replay cannot recompute elsewhere. Each type is the payload of one block kind,
//! encoded with postcard (a documented, stable wire format).
//!
//! Evolution: fields are only ever appended at the end of a type (postcard readers ignore
//! trailing bytes they do not know); anything else gets a new block kind.

use serde::{Deserialize, Serialize};

use crate::format::BlockKind;

/// A CLOCK_BOOTTIME and a CLOCK_REALTIME reading taken at the same instant. Records carry
/// boot-time stamps; this pair turns them into wall-clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockSample {
    pub boot_ns: u64,
    /// Nanoseconds since the Unix epoch.
    pub realtime_ns: i64,
}

impl ClockSample {
    /// The wall-clock time of a boot-time stamp, by this sample's offset.
    pub fn to_realtime_ns(&self, boot_ns: u64) -> i64 {
        self.realtime_ns
            .saturating_add((boot_ns as i128 - self.boot_ns as i128) as i64)
    }
}

/// How the recording was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSettings {
    /// Recorded system-wide (else: only the process tree of `command`).
    pub system_wide: bool,
    /// The command that was recorded, if any.
    pub command: Vec<String>,
    pub ring_size: u64,
    pub frame_size: u32,
    /// Event groups whose syscalls were recorded (`file`, `process`, …).
    pub groups: Vec<String>,
}

/// Block `HostInfo`: written first in every segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    pub kellect_version: String,
    /// `KELLECT_ABI_VERSION` of the recorder that wrote the records.
    pub abi_version: u32,
    pub hostname: String,
    /// uname: sysname, release, version, machine.
    pub sysname: String,
    pub release: String,
    pub version: String,
    pub machine: String,
    pub boot_id: String,
    pub ncpus: u32,
    pub recorder_pid: u32,
    pub clock: ClockSample,
    pub settings: RecordSettings,
}

/// One live process at the start of a segment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcEntry {
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub exe: Option<String>,
    pub argv: Vec<String>,
    pub cwd: Option<String>,
    /// Start time, CLOCK_BOOTTIME nanoseconds (clock-tick resolution).
    pub start_boot_ns: u64,
}

/// Block `Snapshot`: the processes alive when the segment started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcSnapshot {
    pub taken: ClockSample,
    pub processes: Vec<ProcEntry>,
}

/// The open file descriptors of one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcFds {
    pub pid: u32,
    /// (fd, what it refers to, as /proc/PID/fd shows it: a path, `socket:[INODE]`, …)
    pub fds: Vec<(i32, String)>,
}

/// Block `FdTable`: the open file descriptors of the processes alive when the segment
/// started, so replay can name the files that fds taken over from before refer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdTable {
    pub processes: Vec<ProcFds>,
}

/// Counters of one record kind on one CPU, since the recording started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCounters {
    pub cpu: u32,
    pub kind: u16,
    pub emitted: u64,
    pub dropped: u64,
}

/// Block `Stats`: the kernel's per-CPU, per-kind counters, written periodically. Each
/// block holds running totals; the last one in a trace is the recording's total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stats {
    pub at: ClockSample,
    /// Non-zero counters only.
    pub counters: Vec<KindCounters>,
    /// Records user space could not store (malformed, or lost to a failed write).
    pub user_dropped: u64,
}

/// Block `ClockSync`: a fresh clock sample, taken periodically (NTP moves the wall clock).
pub type ClockSync = ClockSample;

/// A metadata type and the block kind that carries it.
pub trait MetaBlock: Serialize + for<'de> Deserialize<'de> {
    const KIND: BlockKind;
    /// Large payloads (the snapshot) are zstd-compressed inside their block.
    const COMPRESSED: bool = false;
}

impl MetaBlock for HostInfo {
    const KIND: BlockKind = BlockKind::HostInfo;
}
impl MetaBlock for ProcSnapshot {
    const KIND: BlockKind = BlockKind::Snapshot;
    const COMPRESSED: bool = true;
}
impl MetaBlock for FdTable {
    const KIND: BlockKind = BlockKind::FdTable;
    const COMPRESSED: bool = true;
}
impl MetaBlock for Stats {
    const KIND: BlockKind = BlockKind::Stats;
}
impl MetaBlock for ClockSample {
    const KIND: BlockKind = BlockKind::ClockSync;
}

/// Serializes a metadata value (postcard).
pub fn encode<T: MetaBlock>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("serializing metadata into memory cannot fail")
}

/// Deserializes a metadata payload (already decompressed).
pub fn decode<T: MetaBlock>(payload: &[u8]) -> Result<T, postcard::Error> {
    postcard::from_bytes(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_offset() {
        let c = ClockSample {
            boot_ns: 1_000,
            realtime_ns: 1_700_000_000_000_000_000,
        };
        assert_eq!(c.to_realtime_ns(1_500), 1_700_000_000_000_000_500);
        assert_eq!(c.to_realtime_ns(0), 1_699_999_999_999_999_000);
    }

    #[test]
    fn round_trip_and_trailing_fields_ignored() {
        let s = Stats {
            at: ClockSample {
                boot_ns: 5,
                realtime_ns: 6,
            },
            counters: vec![KindCounters {
                cpu: 1,
                kind: 2,
                emitted: 3,
                dropped: 4,
            }],
            user_dropped: 0,
        };
        let mut bytes = encode(&s);
        assert_eq!(decode::<Stats>(&bytes).unwrap(), s);
        // A newer writer appended a field: this reader still decodes.
        bytes.extend_from_slice(&[7, 7]);
        assert_eq!(decode::<Stats>(&bytes).unwrap(), s);
        // Cut payloads are errors, not panics.
        assert!(decode::<Stats>(&bytes[..3]).is_err());
    }
}
