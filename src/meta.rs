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
    /// The wall-clock time of a boot-time stamp, by this sample's offset: nanoseconds since
    /// the Unix epoch, or `None` when that is not an `i64` (a stamp centuries away from
    /// the sample, e.g. 2^64-1 ns: damage, never wrapped into another time).
    pub fn checked_realtime_ns(&self, boot_ns: u64) -> Option<i64> {
        let delta = i128::from(boot_ns) - i128::from(self.boot_ns);
        i64::try_from(i128::from(self.realtime_ns) + delta).ok()
    }

    /// [`checked_realtime_ns`](Self::checked_realtime_ns), clamped to the `i64` range for
    /// output that must print some time: an impossible stamp shows as the end (or start)
    /// of representable time, never as a time wrapped to before the recording.
    pub fn to_realtime_ns(&self, boot_ns: u64) -> i64 {
        self.checked_realtime_ns(boot_ns)
            .unwrap_or(if boot_ns >= self.boot_ns {
                i64::MAX
            } else {
                i64::MIN
            })
    }
}

/// How the recording was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordSettings {
    /// Recorded system-wide (else: only the process tree of `command`).
    pub system_wide: bool,
    /// The command that was recorded, if any.
    #[serde(deserialize_with = "bounded::strings")]
    pub command: Vec<String>,
    pub ring_size: u64,
    pub frame_size: u32,
    /// Event groups whose syscalls were recorded (`file`, `process`, …).
    #[serde(deserialize_with = "bounded::strings")]
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
    #[serde(deserialize_with = "bounded::string")]
    pub kellect_version: String,
    /// `KELLECT_ABI_VERSION` of the recorder that wrote the records.
    pub abi_version: u32,
    #[serde(deserialize_with = "bounded::string")]
    pub hostname: String,
    /// uname: sysname, release, version, machine.
    #[serde(deserialize_with = "bounded::string")]
    pub sysname: String,
    #[serde(deserialize_with = "bounded::string")]
    pub release: String,
    #[serde(deserialize_with = "bounded::string")]
    pub version: String,
    #[serde(deserialize_with = "bounded::string")]
    pub machine: String,
    #[serde(deserialize_with = "bounded::string")]
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
    #[serde(deserialize_with = "bounded::string")]
    pub comm: String,
    #[serde(deserialize_with = "bounded::opt_string")]
    pub exe: Option<String>,
    #[serde(deserialize_with = "bounded::strings")]
    pub argv: Vec<String>,
    #[serde(deserialize_with = "bounded::opt_string")]
    pub cwd: Option<String>,
    /// Start time, CLOCK_BOOTTIME nanoseconds (clock-tick resolution).
    pub start_boot_ns: u64,
}

/// Block `Snapshot`: the processes alive when the segment started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcSnapshot {
    pub taken: ClockSample,
    #[serde(deserialize_with = "bounded::seq")]
    pub processes: Vec<ProcEntry>,
    /// Pids whose `argv` is cut: `/proc/PID/cmdline` held more than
    /// [`crate::abi::ARGV_MAX`]` - 1` bytes, and only those were read, as an exec record's
    /// argument area is cut. Appended field: snapshots written before it have none.
    #[serde(default, deserialize_with = "appended")]
    pub argv_cut: Vec<u32>,
}

/// The open file descriptors of one process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcFds {
    pub pid: u32,
    /// (fd, what it refers to, as /proc/PID/fd shows it: a path, `socket:[INODE]`, …)
    #[serde(deserialize_with = "bounded::fd_list")]
    pub fds: Vec<(i32, String)>,
}

/// Block `FdTable`: the open file descriptors of the processes alive when the segment
/// started, so replay can name the files that fds taken over from before refer to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FdTable {
    #[serde(deserialize_with = "bounded::seq")]
    pub processes: Vec<ProcFds>,
}

/// A user or group name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdName {
    pub id: u32,
    #[serde(deserialize_with = "bounded::string")]
    pub name: String,
}

/// Block `Accounts`: the host's users and groups (from /etc/passwd and /etc/group), so
/// replay names uids and gids as the host did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounts {
    #[serde(deserialize_with = "bounded::seq")]
    pub users: Vec<IdName>,
    #[serde(deserialize_with = "bounded::seq")]
    pub groups: Vec<IdName>,
}

/// One mounted filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    /// The kernel's dev_t of the filesystem: major << 20 | minor (as in records).
    pub dev: u32,
    #[serde(deserialize_with = "bounded::string")]
    pub mount_point: String,
    /// What is mounted (a device path, `tmpfs`, …).
    #[serde(deserialize_with = "bounded::string")]
    pub source: String,
    #[serde(deserialize_with = "bounded::string")]
    pub fs_type: String,
}

/// Block `Mounts`: the mount table (/proc/self/mountinfo) at the start of the segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mounts {
    #[serde(deserialize_with = "bounded::seq")]
    pub mounts: Vec<Mount>,
}

/// One network interface.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interface {
    pub index: u32,
    #[serde(deserialize_with = "bounded::string")]
    pub name: String,
    /// `aa:bb:cc:dd:ee:ff`, empty when the interface has none.
    #[serde(deserialize_with = "bounded::string")]
    pub mac: String,
    /// Its IPv4 and IPv6 addresses, as text.
    #[serde(deserialize_with = "bounded::strings")]
    pub addrs: Vec<String>,
}

/// Block `Interfaces`: the network interfaces at the start of the segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interfaces {
    #[serde(deserialize_with = "bounded::seq")]
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
    #[serde(deserialize_with = "bounded::string")]
    pub path: String,
    /// `dpkg` package version that owns the path (`-v`).
    #[serde(deserialize_with = "bounded::opt_string")]
    pub package_version: Option<String>,
    /// Lowercase hex digests (`-c`).
    #[serde(deserialize_with = "bounded::opt_string")]
    pub md5: Option<String>,
    #[serde(deserialize_with = "bounded::opt_string")]
    pub sha256: Option<String>,
}

/// Block `FileFacts`: facts about files, written as they are learned.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileFactsBlock {
    #[serde(deserialize_with = "bounded::seq")]
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
    #[serde(deserialize_with = "bounded::seq")]
    pub protocols: Vec<(AppProtocol, AppPort)>,
    /// `-v`: package versions were looked up.
    pub versions: bool,
    /// `-c`: checksums were computed.
    pub checksums: bool,
    /// The kernel's HZ (to turn jiffies into time), when the recorder could read it.
    pub hz: Option<u32>,
    /// The running kernel's `enum skb_drop_reason` as (value, name without the
    /// `SKB_DROP_REASON_` prefix), from its BTF, for the drop reasons of socket counters
    /// (their numbers differ between kernels). Appended field: empty in traces before it,
    /// and when the recorder could not read the BTF.
    #[serde(default, deserialize_with = "bounded::appended_drop_reasons")]
    pub drop_reasons: Vec<(u32, String)>,
    /// Where the recorder kept per-thread state: `Some(true)` in task storage
    /// (`BPF_MAP_TYPE_TASK_STORAGE`), `Some(false)` in hashes by tid (kernels before 5.11).
    /// Appended field: `None` in traces before it.
    #[serde(default, deserialize_with = "appended")]
    pub task_storage: Option<bool>,
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
    #[serde(deserialize_with = "bounded::seq")]
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

/// Block `Custody`: the chain-of-custody facts of a recording, taken once when it starts and
/// written into every segment (after its opening blocks), so any segment says who recorded
/// it, where, with what. Strings come from the recording host as they were read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Custody {
    /// SHA-256 of the recorder's binary (`/proc/self/exe` read at start), 64 hex digits;
    /// empty when it could not be read.
    #[serde(deserialize_with = "bounded::string")]
    pub exe_sha256: String,
    /// `CARGO_PKG_VERSION` of the recorder.
    #[serde(deserialize_with = "bounded::string")]
    pub kellect_version: String,
    /// The git revision and features it was built from (as `kellect --version` says).
    #[serde(deserialize_with = "bounded::string")]
    pub build: String,
    /// `gethostname` (uname nodename).
    #[serde(deserialize_with = "bounded::string")]
    pub hostname: String,
    /// `/etc/machine-id`, trimmed; empty when missing.
    #[serde(deserialize_with = "bounded::string")]
    pub machine_id: String,
    /// `/proc/sys/kernel/random/boot_id`, trimmed.
    #[serde(deserialize_with = "bounded::string")]
    pub boot_id: String,
    /// uname release.
    #[serde(deserialize_with = "bounded::string")]
    pub kernel_release: String,
    /// The recorder's exact command line, argument by argument (bytes that are not UTF-8
    /// replaced by U+FFFD).
    #[serde(deserialize_with = "bounded::strings")]
    pub command_line: Vec<String>,
    /// The operator's `--note TEXT`.
    #[serde(deserialize_with = "bounded::opt_string")]
    pub note: Option<String>,
    /// `CLOCK_REALTIME` ns when the recording started.
    pub started_realtime_ns: i64,
    /// Sealing: the key id, epoch 0 start (realtime ns) and interval (ns) of the sealing
    /// key; `None` without `--seal-key`.
    pub seal: Option<SealParams>,
}

/// The public parameters of a sealing key, as `Custody` records them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealParams {
    pub key_id: u64,
    pub start_ns: u64,
    pub interval_ns: u64,
}

/// Block `Stop`: when and why the recording stopped; written at the end of its last
/// segment (before its last seal, Index and End). A trace without one was cut (a crash,
/// `kill -9`, a full disk) or is still being written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stop {
    /// `CLOCK_REALTIME` ns when the recorder stopped.
    pub stopped_realtime_ns: i64,
    /// Why, in words: "SIGINT", "the command exited", "--duration reached", a write error.
    #[serde(deserialize_with = "bounded::string")]
    pub reason: String,
}

/// One cgroup directory of the v2 hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupDir {
    /// Its kernfs id: the directory's inode number on cgroup2fs (what records carry as a
    /// task's `cgroup_id`; 1 is the root).
    pub id: u64,
    /// Its path from the hierarchy's root, `/` for the root (at most 4095 bytes).
    #[serde(deserialize_with = "bounded::string")]
    pub path: String,
}

/// One line of /proc/PID/cgroup: a process's cgroup in one hierarchy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupLine {
    /// 0: the v2 hierarchy (`0::/…`); 1..: a v1 hierarchy.
    pub hierarchy: u32,
    /// The path from the hierarchy's root (at most 4095 bytes).
    #[serde(deserialize_with = "bounded::string")]
    pub path: String,
}

/// The cgroups of one process, as /proc/PID/cgroup lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcCgroups {
    pub pid: u32,
    /// Each path once (the first hierarchy of the lines that share it), at most 16.
    #[serde(deserialize_with = "bounded::seq")]
    pub lines: Vec<CgroupLine>,
}

/// Block `Cgroups`: the cgroup tree (v2 hierarchy: id → path) and each live process's
/// cgroups when the segment started. Replay names the cgroup ids of fork and exec records
/// with the tree and finds containers by the paths. At most [`CGROUPS_MAX`] directories and
/// as many processes, paths of at most 4095 bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cgroups {
    /// Where the v2 hierarchy was mounted (`/sys/fs/cgroup`, `/sys/fs/cgroup/unified` on a
    /// hybrid host); empty when the host has none.
    #[serde(deserialize_with = "bounded::string")]
    pub mount: String,
    /// The v2 hierarchy's directories, walked from its root (depth first, names sorted).
    #[serde(deserialize_with = "bounded::seq")]
    pub dirs: Vec<CgroupDir>,
    /// The tree had more than [`CGROUPS_MAX`] directories: the rest are left out.
    pub dirs_cut: bool,
    #[serde(deserialize_with = "bounded::seq")]
    pub processes: Vec<ProcCgroups>,
}

/// Most directories (and processes) a [`Cgroups`] block lists.
pub const CGROUPS_MAX: usize = 65536;

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
impl MetaBlock for Custody {
    const KIND: BlockKind = BlockKind::Custody;
}
impl MetaBlock for Stop {
    const KIND: BlockKind = BlockKind::Stop;
}
impl MetaBlock for Cgroups {
    const KIND: BlockKind = BlockKind::Cgroups;
    const COMPRESSED: bool = true;
}

/// Serializes a metadata value (postcard).
pub fn encode<T: MetaBlock>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("serializing metadata into memory cannot fail")
}

/// Deserializes a metadata payload (already decompressed) within the default
/// [`DecodeLimits`] (those of a 256 MiB replay budget).
pub fn decode<T: MetaBlock>(payload: &[u8]) -> Result<T, MetaError> {
    decode_limited(payload, &DecodeLimits::default())
}

/// Deserializes a metadata payload (already decompressed) within `limits`.
///
/// Errors: [`MetaError::OverLimit`] when the payload, a list's length, a string's length
/// or the estimated size of the decoded value passes a limit — checked before each
/// allocation, so a hostile payload costs at most `limits.max_decoded` (plus the payload
/// itself); [`MetaError::Decode`] when the bytes are not a valid encoding. Either way
/// nothing is returned: the caller reports the block and skips it.
pub fn decode_limited<T: MetaBlock>(payload: &[u8], limits: &DecodeLimits) -> Result<T, MetaError> {
    if payload.len() > limits.max_payload {
        return Err(MetaError::OverLimit(format!(
            "a payload of {} bytes (the limit is {})",
            payload.len(),
            limits.max_payload
        )));
    }
    let _scope = bounded::Scope::enter(*limits);
    match postcard::from_bytes(payload) {
        Ok(value) => Ok(value),
        Err(e) => Err(match bounded::exceeded() {
            Some(what) => MetaError::OverLimit(what),
            None => MetaError::Decode(e),
        }),
    }
}

/// Why a metadata payload was not decoded.
#[derive(Debug, thiserror::Error)]
pub enum MetaError {
    /// Not a valid postcard encoding of the block's type.
    #[error("{0}")]
    Decode(#[from] postcard::Error),
    /// A limit of [`DecodeLimits`] was reached; the text names which.
    #[error("over the replay memory budget: {0}")]
    OverLimit(String),
}

/// Bounds on decoding one metadata payload. The decoded form of postcard is much larger
/// than its bytes (an empty process entry is 9 bytes on disk and about 130 in memory, an
/// empty string 1 byte and 24), so the decoder charges an estimate of every list element
/// and string against `max_decoded` before it allocates it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest payload (decompressed) that is decoded at all, bytes.
    pub max_payload: usize,
    /// Estimated heap bytes the decoded value may take: list elements (twice their size,
    /// for the growth of a vector) and strings (their length plus allocator overhead).
    pub max_decoded: usize,
    /// Most elements in one list.
    pub max_items: usize,
    /// Longest string, bytes.
    pub max_string: usize,
}

impl DecodeLimits {
    /// The limits for a replay memory budget of `budget` bytes: payloads up to 1/16 of it,
    /// decoded values up to 1/4 (a replay holds at most a few decoded blocks at once: the
    /// snapshot and fd table while they are applied), lists up to `max_decoded / 64`
    /// elements, strings up to 256 KiB (twice the kernel's limit on one argument,
    /// MAX_ARG_STRLEN). At 256 MiB: 16 MiB, 64 MiB, 1 Mi elements.
    pub const fn for_budget(budget: u64) -> DecodeLimits {
        let budget = if budget > usize::MAX as u64 {
            usize::MAX
        } else {
            budget as usize
        };
        DecodeLimits {
            max_payload: budget / 16,
            max_decoded: budget / 4,
            max_items: budget / 4 / 64,
            max_string: 256 << 10,
        }
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits::for_budget(256 << 20)
    }
}

/// Deserializers for the lists and strings of metadata that check [`DecodeLimits`] before
/// they allocate. The limits of the decode in progress live in a thread-local set by
/// [`decode_limited`] (serde has no other way to pass them down); outside it they do not
/// limit anything.
mod bounded {
    use std::cell::RefCell;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

    use super::DecodeLimits;

    struct Charge {
        limits: DecodeLimits,
        used: usize,
        exceeded: Option<String>,
    }

    thread_local! {
        static CHARGE: RefCell<Option<Charge>> = const { RefCell::new(None) };
    }

    /// The limits of one decode, removed again when dropped (also on unwinding).
    pub(super) struct Scope;

    impl Scope {
        pub(super) fn enter(limits: DecodeLimits) -> Scope {
            CHARGE.with(|c| {
                *c.borrow_mut() = Some(Charge {
                    limits,
                    used: 0,
                    exceeded: None,
                })
            });
            Scope
        }
    }

    impl Drop for Scope {
        fn drop(&mut self) {
            CHARGE.with(|c| *c.borrow_mut() = None);
        }
    }

    /// What limit the decode in progress passed, if any.
    pub(super) fn exceeded() -> Option<String> {
        CHARGE.with(|c| c.borrow().as_ref().and_then(|c| c.exceeded.clone()))
    }

    /// Charges `bytes` of decoded value; `items`/`string_len` are checked against their
    /// own limits. The error's text is kept for [`exceeded`] (postcard drops it).
    fn charge<E: de::Error>(bytes: usize, items: usize, string_len: usize) -> Result<(), E> {
        CHARGE.with(|c| {
            let mut c = c.borrow_mut();
            let Some(c) = c.as_mut() else { return Ok(()) };
            let l = c.limits;
            let problem = if items > l.max_items {
                Some(format!("a list of more than {} elements", l.max_items))
            } else if string_len > l.max_string {
                Some(format!(
                    "a string of {string_len} bytes (the limit is {})",
                    l.max_string
                ))
            } else {
                c.used = c.used.saturating_add(bytes);
                (c.used > l.max_decoded).then(|| {
                    format!(
                        "a value that takes more than {} bytes decoded",
                        l.max_decoded
                    )
                })
            };
            match problem {
                None => Ok(()),
                Some(p) => {
                    let e = E::custom(&p);
                    c.exceeded.get_or_insert(p);
                    Err(e)
                }
            }
        })
    }

    /// Heap cost of a string of `len` bytes: its bytes rounded up, plus allocator overhead.
    fn string_cost(len: usize) -> usize {
        if len == 0 {
            0
        } else {
            len.div_ceil(16) * 16 + 16
        }
    }

    /// A `String` whose length is checked before it is copied.
    pub(super) struct BoundedString(pub String);

    impl<'de> Deserialize<'de> for BoundedString {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl Visitor<'_> for V {
                type Value = BoundedString;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<BoundedString, E> {
                    charge::<E>(string_cost(s.len()), 0, s.len())?;
                    Ok(BoundedString(s.to_owned()))
                }
            }
            d.deserialize_string(V)
        }
    }

    pub(super) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        BoundedString::deserialize(d).map(|s| s.0)
    }

    pub(super) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Option::<BoundedString>::deserialize(d).map(|o| o.map(|s| s.0))
    }

    /// A list whose elements are each charged (twice their size: vector growth) before
    /// they are decoded.
    struct SeqVisitor<W, T>(PhantomData<(W, T)>);

    impl<'de, W: Deserialize<'de> + Into<T>, T> Visitor<'de> for SeqVisitor<W, T> {
        type Value = Vec<T>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
            let hint = seq.size_hint().unwrap_or(0);
            charge::<A::Error>(0, hint, 0)?;
            let mut out = Vec::with_capacity(hint.min(1024));
            loop {
                charge::<A::Error>(2 * size_of::<T>(), out.len() + 1, 0)?;
                match seq.next_element::<W>()? {
                    Some(item) => out.push(item.into()),
                    None => return Ok(out),
                }
            }
        }
    }

    /// A list of values whose own strings and lists are bounded by their types.
    pub(super) fn seq<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(SeqVisitor::<T, T>(PhantomData))
    }

    impl From<BoundedString> for String {
        fn from(s: BoundedString) -> String {
            s.0
        }
    }

    pub(super) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        d.deserialize_seq(SeqVisitor::<BoundedString, String>(PhantomData))
    }

    /// A number and a text, the text bounded: `(fd, what it refers to)`, `(value, name)`.
    pub(super) struct Numbered<N>((N, BoundedString));

    impl<'de, N: Deserialize<'de>> Deserialize<'de> for Numbered<N> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            <(N, BoundedString)>::deserialize(d).map(Numbered)
        }
    }

    impl<N> From<Numbered<N>> for (N, String) {
        fn from(e: Numbered<N>) -> (N, String) {
            (e.0 .0, e.0 .1 .0)
        }
    }

    pub(super) fn fd_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<(i32, String)>, D::Error> {
        d.deserialize_seq(SeqVisitor::<Numbered<i32>, (i32, String)>(PhantomData))
    }

    /// `Capture::drop_reasons`, an appended field: a payload that ends before it (older
    /// traces) reads as empty (see `appended`).
    pub(super) fn appended_drop_reasons<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<(u32, String)>, D::Error> {
        Ok(
            d.deserialize_seq(SeqVisitor::<Numbered<u32>, (u32, String)>(PhantomData))
                .unwrap_or_default(),
        )
    }
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

    /// `Capture::drop_reasons` round-trips, and a `Capture` written before it (ending
    /// after `hz`) reads with none.
    #[test]
    fn capture_drop_reasons_are_appended() {
        let capture = Capture {
            payload_max: 100,
            protocols: vec![(AppProtocol::Dns, AppPort::Udp(53))],
            versions: false,
            checksums: true,
            hz: Some(250),
            drop_reasons: vec![(2, "NOT_SPECIFIED".into()), (6, "SOCKET_RCVBUFF".into())],
            task_storage: Some(true),
        };
        let bytes = postcard::to_stdvec(&capture).unwrap();
        let back: Capture = decode_limited(&bytes, &DecodeLimits::default()).unwrap();
        assert_eq!(back, capture);
        let before = Capture {
            drop_reasons: Vec::new(),
            task_storage: None,
            ..capture.clone()
        };
        let old_bytes = postcard::to_stdvec(&before).unwrap();
        // The empty list and None are one byte each: a writer from before task_storage
        // stops before its byte, one from before both before their two.
        for cut in [1, 2] {
            let old: Capture = decode_limited(
                &old_bytes[..old_bytes.len() - cut],
                &DecodeLimits::default(),
            )
            .unwrap();
            assert_eq!(old, before);
        }
    }

    #[test]
    fn clock_offset() {
        let c = ClockSample {
            boot_ns: 1_000,
            realtime_ns: 1_700_000_000_000_000_000,
        };
        assert_eq!(c.to_realtime_ns(1_500), 1_700_000_000_000_000_500);
        assert_eq!(c.to_realtime_ns(0), 1_699_999_999_999_999_000);
        // 2^64-1 ns does not fit: reported, and clamped rather than wrapped.
        assert_eq!(c.checked_realtime_ns(u64::MAX), None);
        assert_eq!(c.to_realtime_ns(u64::MAX), i64::MAX);
        let late = ClockSample {
            boot_ns: u64::MAX,
            realtime_ns: i64::MIN + 5,
        };
        assert_eq!(late.checked_realtime_ns(0), None);
        assert_eq!(late.to_realtime_ns(0), i64::MIN);
    }

    fn snapshot_of(processes: usize, argv: Vec<String>) -> Vec<u8> {
        let entry = ProcEntry {
            pid: 1,
            ppid: 0,
            uid: 0,
            gid: 0,
            comm: "init".into(),
            exe: None,
            argv,
            cwd: Some("/".into()),
            start_boot_ns: 0,
        };
        encode(&ProcSnapshot {
            taken: ClockSample {
                boot_ns: 0,
                realtime_ns: 0,
            },
            processes: vec![entry; processes],
            argv_cut: Vec::new(),
        })
    }

    #[test]
    fn decoding_is_bounded_before_allocating() {
        let limits = DecodeLimits {
            max_payload: 1 << 20,
            max_decoded: 64 << 10,
            max_items: 100,
            max_string: 64,
        };
        // Within every limit: decodes as it was written.
        let ok = snapshot_of(10, vec!["sh".into()]);
        let s: ProcSnapshot = decode_limited(&ok, &limits).unwrap();
        assert_eq!(s.processes.len(), 10);
        assert_eq!(encode(&s), ok);

        let over = |bytes: &[u8], what: &str| match decode_limited::<ProcSnapshot>(bytes, &limits) {
            Err(MetaError::OverLimit(m)) => assert!(m.contains(what), "{m}"),
            other => panic!("expected OverLimit({what}), got {other:?}"),
        };
        over(&snapshot_of(101, Vec::new()), "more than 100 elements");
        over(
            &snapshot_of(1, vec!["x".repeat(65)]),
            "a string of 65 bytes",
        );
        over(
            &snapshot_of(1, vec![String::new(); 101]),
            "more than 100 elements",
        );
        // Many small entries: the estimate of their decoded size, not their count, stops them.
        over(&snapshot_of(100, vec![String::new(); 90]), "decoded");
        let small = DecodeLimits {
            max_payload: 10,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            decode_limited::<ProcSnapshot>(&ok, &small),
            Err(MetaError::OverLimit(m)) if m.contains("payload")
        ));
        // A list claiming 2^32-1 elements in a few bytes: an error, not an allocation.
        let mut lying = encode(&ClockSample {
            boot_ns: 0,
            realtime_ns: 0,
        });
        lying.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0x0f]);
        assert!(decode_limited::<ProcSnapshot>(&lying, &limits).is_err());
        // The limits leave with the decode: later decodes are unaffected.
        assert!(decode::<ProcSnapshot>(&snapshot_of(101, Vec::new())).is_ok());
    }

    #[test]
    fn budget_derives_limits() {
        let l = DecodeLimits::for_budget(256 << 20);
        assert_eq!(l, DecodeLimits::default());
        assert_eq!(l.max_payload, 16 << 20);
        assert_eq!(l.max_decoded, 64 << 20);
        assert_eq!(l.max_items, 1 << 20);
        assert_eq!(DecodeLimits::for_budget(64 << 20).max_decoded, 16 << 20);
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
