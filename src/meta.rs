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
    /// `--keep N`: the recorder kept a ring of at most N segments, deleting the oldest as
    /// a new one started, so segments before the last N are gone by design. Appended
    /// field: traces written before it have none and read as `None`.
    #[serde(default, deserialize_with = "appended")]
    pub keep_segments: Option<u32>,
}

/// Reads a field appended to a type after traces were written without it. Postcard is not
/// self-describing: an older payload simply ends before the field, which is an error of the
/// deserializer that is taken here as "absent" (the type's default). Only for the last
/// fields of the last struct of a payload (HostInfo ends with its RecordSettings).
fn appended<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(T::deserialize(deserializer).unwrap_or_default())
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

/// A user or group name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdName {
    pub id: u32,
    pub name: String,
}

/// Block `Accounts`: the host's users and groups (from /etc/passwd and /etc/group), so
/// replay names uids and gids as the host did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    pub users: Vec<IdName>,
    pub groups: Vec<IdName>,
}

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The kernel's dev_t of the filesystem: major << 20 | minor (as in records).
    pub dev: u32,
    pub mount_point: String,
    /// What is mounted (a device path, `tmpfs`, …).
    pub source: String,
    pub fs_type: String,
}

/// Block `Mounts`: the mount table (/proc/self/mountinfo) at the start of the segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mounts {
    pub mounts: Vec<Mount>,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub index: u32,
    pub name: String,
    /// `aa:bb:cc:dd:ee:ff`, empty when the interface has none.
    pub mac: String,
    /// Its IPv4 and IPv6 addresses, as text.
    pub addrs: Vec<String>,
}

/// Block `Interfaces`: the network interfaces at the start of the segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interfaces {
    pub interfaces: Vec<Interface>,
}

/// What the recorder learned about one file (an executable, or a file with an execute
/// bit) away from the hot path: its package version (`-v`) and checksums (`-c`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFacts {
    /// Identity: device (major << 20 | minor), inode, size and mtime when looked at.
    pub dev: u32,
    pub ino: u64,
    pub size: u64,
    pub mtime_ns: i64,
    pub path: String,
    /// `dpkg` package version that owns the path (`-v`).
    pub package_version: Option<String>,
    /// Lowercase hex digests (`-c`).
    pub md5: Option<String>,
    pub sha256: Option<String>,
}

/// Block `FileFacts`: facts about files, written as they are learned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFactsBlock {
    pub files: Vec<FileFacts>,
}

/// An application protocol whose payloads the kernel captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AppProtocol {
    Dns,
    Http,
    Syslog,
}

/// Where an application protocol is looked for: `udp/53`, `tcp/80`, or the local syslog
/// datagram socket (`unix`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AppPort {
    Tcp(u16),
    Udp(u16),
    Unix,
}

/// Block `Capture`: what the recorder was asked to capture beyond the events.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capture {
    /// Payload bytes captured per message (0: none).
    pub payload_max: u32,
    pub protocols: Vec<(AppProtocol, AppPort)>,
    /// `-v`: package versions were looked up.
    pub versions: bool,
    /// `-c`: checksums were computed.
    pub checksums: bool,
    /// The kernel's HZ (to turn jiffies into time), when the recorder could read it.
    pub hz: Option<u32>,
}

impl AppProtocol {
    pub const ALL: [AppProtocol; 3] = [AppProtocol::Dns, AppProtocol::Http, AppProtocol::Syslog];

    pub fn name(self) -> &'static str {
        match self {
            AppProtocol::Dns => "dns",
            AppProtocol::Http => "http",
            AppProtocol::Syslog => "syslog",
        }
    }

    /// kflowd's defaults: `dns=udp/53,tcp/53`, `http=tcp/80`, `syslog=udp/514,tcp/514,unix`.
    pub fn default_ports(self) -> Vec<AppPort> {
        match self {
            AppProtocol::Dns => vec![AppPort::Udp(53), AppPort::Tcp(53)],
            AppProtocol::Http => vec![AppPort::Tcp(80)],
            AppProtocol::Syslog => vec![AppPort::Udp(514), AppPort::Tcp(514), AppPort::Unix],
        }
    }
}

/// Parses `-p` options (kflowd's syntax: `dns=udp/53,tcp/53`, `http=off`, …) over the
/// defaults: a protocol not named keeps its default ports.
pub fn parse_protocol_specs(specs: &[String]) -> Result<Vec<(AppProtocol, AppPort)>, String> {
    let mut chosen: Vec<(AppProtocol, Vec<AppPort>)> = AppProtocol::ALL
        .iter()
        .map(|&p| (p, p.default_ports()))
        .collect();
    for spec in specs {
        let (name, ports) = spec
            .split_once('=')
            .ok_or_else(|| format!("`{spec}`: expected PROTOCOL=PORTS, e.g. dns=udp/53,tcp/53"))?;
        let proto = AppProtocol::ALL
            .into_iter()
            .find(|p| p.name() == name)
            .ok_or_else(|| format!("`{name}` is not a protocol (dns, http, syslog)"))?;
        let mut list = Vec::new();
        if ports != "off" {
            for port in ports.split(',') {
                list.push(match port.split_once('/') {
                    _ if port == "unix" => AppPort::Unix,
                    Some(("tcp", n)) => AppPort::Tcp(parse_port(n, spec)?),
                    Some(("udp", n)) => AppPort::Udp(parse_port(n, spec)?),
                    _ => {
                        return Err(format!(
                            "`{port}` in `{spec}`: expected tcp/PORT, udp/PORT or unix"
                        ))
                    }
                });
            }
        }
        let slot = chosen
            .iter_mut()
            .find(|(p, _)| *p == proto)
            .expect("all listed");
        slot.1 = list;
    }
    Ok(chosen
        .into_iter()
        .flat_map(|(p, ports)| ports.into_iter().map(move |port| (p, port)))
        .collect())
}

fn parse_port(n: &str, spec: &str) -> Result<u16, String> {
    match n.parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(format!("`{n}` in `{spec}` is not a port (1-65535)")),
    }
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

/// Block `Continuation`: the recording goes on in another segment. A writer puts it at the
/// end of a segment it closes because of rotation (after the segment's last frame, before
/// its Index and End blocks), so that a reader given this segment without the next one can
/// say what is missing rather than stop in silence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    /// `segment_index` (file header) of the segment that follows: this segment's plus one.
    pub next_segment_index: u32,
    /// `seq` of the first frame the next segment holds: this segment's last frame's plus one.
    pub next_frame_seq: u32,
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
impl MetaBlock for Accounts {
    const KIND: BlockKind = BlockKind::Accounts;
    const COMPRESSED: bool = true;
}
impl MetaBlock for Mounts {
    const KIND: BlockKind = BlockKind::Mounts;
    const COMPRESSED: bool = true;
}
impl MetaBlock for Interfaces {
    const KIND: BlockKind = BlockKind::Interfaces;
}
impl MetaBlock for FileFactsBlock {
    const KIND: BlockKind = BlockKind::FileFacts;
}
impl MetaBlock for Capture {
    const KIND: BlockKind = BlockKind::Capture;
}
impl MetaBlock for Stats {
    const KIND: BlockKind = BlockKind::Stats;
}
impl MetaBlock for ClockSample {
    const KIND: BlockKind = BlockKind::ClockSync;
}
impl MetaBlock for Continuation {
    const KIND: BlockKind = BlockKind::Continuation;
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
    fn protocol_specs() {
        let all = parse_protocol_specs(&[]).unwrap();
        assert!(all.contains(&(AppProtocol::Dns, AppPort::Udp(53))));
        assert!(all.contains(&(AppProtocol::Syslog, AppPort::Unix)));
        let some =
            parse_protocol_specs(&["http=tcp/8080,tcp/80".into(), "dns=off".into()]).unwrap();
        assert!(some.contains(&(AppProtocol::Http, AppPort::Tcp(8080))));
        assert!(!some.iter().any(|(p, _)| *p == AppProtocol::Dns));
        assert!(some.contains(&(AppProtocol::Syslog, AppPort::Udp(514))));
        for bad in ["dns", "ftp=tcp/21", "dns=udp/0", "dns=udp/x", "dns=sctp/53"] {
            assert!(parse_protocol_specs(&[bad.into()]).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_appended_field_reads_as_absent_from_older_payloads() {
        let settings = RecordSettings {
            system_wide: true,
            command: vec!["make".into()],
            ring_size: 1 << 20,
            frame_size: 4096,
            groups: vec!["file".into()],
            keep_segments: Some(3),
        };
        let bytes = postcard::to_stdvec(&settings).unwrap();
        let back: RecordSettings = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back, settings);
        // A writer from before the field: the payload ends after `groups` (postcard writes
        // `Some(3)` as the two bytes 1, 3).
        let old: RecordSettings = postcard::from_bytes(&bytes[..bytes.len() - 2]).unwrap();
        assert_eq!(
            old,
            RecordSettings {
                keep_segments: None,
                ..settings.clone()
            }
        );
        // Fields before it are still required: a payload cut inside them is an error.
        assert!(postcard::from_bytes::<RecordSettings>(&bytes[..bytes.len() - 4]).is_err());
    }

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
