//! The records the records view prints, as types: a [`Record`] is the `Info*` and `Proc*`
//! keys every record carries, then the keys of a file, socket or process record. Each
//! field serializes under kflowd's key name (`#[serde(rename)]`) in declaration order,
//! which is kflowd's order; a key absent from a record is a field left `None` (or a
//! [`Fact`] left [`Fact::Absent`]). `--legend` lists exactly these keys: a test serializes
//! a record of each kind with every field present and compares.

use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use std::sync::Arc;

use compact_str::CompactString;

use crate::replayer::state::container::CgroupInfo;
use crate::replayer::views::records::protocols::App;
use crate::replayer::views::records::{permissions, with_kflowd_time, Monitor};

/// A wall-clock time (ns since the Unix epoch: the trace's boot-time stamp through the
/// recorded clock samples, or an inode time), written in kflowd's UTC format
/// ([`kflowd_time`](super::kflowd_time): `Thu, Apr 04 2024 15:34:35.643031330 UTC`) only
/// when the record is rendered: the sequential stage, which builds records, keeps the
/// number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KflowdTime(pub i64);

impl Serialize for KflowdTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        with_kflowd_time(self.0, |text| s.serialize_str(text))
    }
}

impl std::fmt::Display for KflowdTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        with_kflowd_time(self.0, |text| f.write_str(text))
    }
}

/// A file's mode (`i_mode`): its type bits (`S_IFMT`; `None` when the trace never showed
/// the file's type, as after a path-based chmod of a file it never saw) and permission bits,
/// written as `4755/-rwsr-xr-x` (octal, then as `ls` shows it, `?` for an unknown type) when
/// the record renders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FilePermissions {
    pub kind: Option<u32>,
    pub perm: u32,
}

impl Serialize for FilePermissions {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&permissions(self.kind, self.perm))
    }
}

/// A duration in integer nanoseconds, printed as seconds with exactly 9 decimals (exact,
/// unlike an f64): `21.262713426`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Secs(pub i64);

impl Secs {
    /// The JSON number's text, written into `buf`: a sign for a negative duration, the
    /// whole seconds, a point and 9 decimals (`-1.500000000` for -1.5 s).
    fn text(self, buf: &mut [u8; SECS_TEXT_MAX]) -> &str {
        let abs = self.0.unsigned_abs();
        let (mut secs, mut frac) = (abs / 1_000_000_000, abs % 1_000_000_000);
        let mut at = buf.len();
        for _ in 0..9 {
            at -= 1;
            buf[at] = b'0' + (frac % 10) as u8;
            frac /= 10;
        }
        at -= 1;
        buf[at] = b'.';
        loop {
            at -= 1;
            buf[at] = b'0' + (secs % 10) as u8;
            secs /= 10;
            if secs == 0 {
                break;
            }
        }
        if self.0 < 0 {
            at -= 1;
            buf[at] = b'-';
        }
        std::str::from_utf8(&buf[at..]).unwrap_or("0")
    }
}

/// The longest [`Secs`] text: a sign, 10 digits of whole seconds (`i64::MIN` ns), a point,
/// 9 decimals.
const SECS_TEXT_MAX: usize = 21;

/// serde_json's name for a number written as its text (feature `arbitrary_precision`, which
/// kellect builds with): what `serde_json::Number` itself serializes as. A test checks that
/// a [`Secs`] serializes exactly as the `Number` of the same text.
const JSON_NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl Serialize for Secs {
    /// As the JSON number of its text, from a buffer on the stack: no allocation and no
    /// parse per duration.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut buf = [0; SECS_TEXT_MAX];
        let mut number = s.serialize_struct(JSON_NUMBER_TOKEN, 1)?;
        number.serialize_field(JSON_NUMBER_TOKEN, self.text(&mut buf))?;
        number.end()
    }
}

/// A fact about an executable that the recorder learned off the hot path (package
/// version with `-v`, MD5/SHA-256 with `-c`) and stored a little after the records that
/// name it: the record waits for it (see `RecordsView`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Fact {
    /// Not asked for at record time, or not found: the key is left out.
    #[default]
    Absent,
    /// Asked for and not in yet; resolved before the record leaves (printed `null` if
    /// it ever were not).
    Pending,
    /// The fact, as the recorder wrote it.
    Known(String),
}

impl Fact {
    /// Pending when `asked`, absent otherwise.
    pub fn asked(asked: bool) -> Fact {
        if asked {
            Fact::Pending
        } else {
            Fact::Absent
        }
    }

    pub fn is_absent(&self) -> bool {
        matches!(self, Fact::Absent)
    }

    /// A pending fact becomes `value`, or absent when the recording has none.
    pub fn resolve(&mut self, value: Option<&String>) {
        if *self == Fact::Pending {
            *self = value.cloned().map_or(Fact::Absent, Fact::Known);
        }
    }
}

impl Serialize for Fact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Fact::Known(v) => s.serialize_str(v),
            Fact::Absent | Fact::Pending => s.serialize_unit(),
        }
    }
}

impl Serialize for Monitor {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// The executables (device, inode) whose facts a record shows, and so waits for. Not
/// printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PendingFacts {
    /// The process's executable (`ProcVersion`, `ProcMD5`, `ProcSHA256`).
    pub proc: Option<(u32, u64)>,
    /// The record's file, an executable (`FileVersion`, `FileMD5`, `FileSHA256`).
    pub file: Option<(u32, u64)>,
}

impl PendingFacts {
    /// The (device, inode) pairs, process first.
    pub fn wanted(&self) -> impl Iterator<Item = (u32, u64)> {
        self.proc.into_iter().chain(self.file)
    }
}

/// One record of the records view.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    #[serde(flatten)]
    pub info: InfoKeys,
    #[serde(flatten)]
    pub proc: ProcKeys,
    #[serde(flatten)]
    pub body: RecordBody,
    /// What the record waits for before it leaves.
    #[serde(skip)]
    pub facts: PendingFacts,
    /// Boot-time ns of its first and last event (a process record: from the process's
    /// start), for `--since`/`--until`. Not printed.
    #[serde(skip)]
    pub span: (u64, u64),
}

/// The keys that depend on the record's monitor.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum RecordBody {
    File(FileRecord),
    Sock(SockRecord),
    Proc(ProcRecord),
}

/// The `Info*` keys: where and why the record was made.
#[derive(Debug, Clone, Serialize)]
pub struct InfoKeys {
    /// Number of the record in this output, 1, 2, … in the order records leave; set when
    /// the record is emitted.
    #[serde(rename = "InfoSequenceNumber")]
    pub sequence: u64,
    /// Event time of the record's last event, kflowd's UTC format to the ns (the trace's
    /// boot-time stamp through the recorded clock samples).
    #[serde(rename = "InfoTimestamp")]
    pub timestamp: KflowdTime,
    #[serde(rename = "InfoMonitor")]
    pub monitor: Monitor,
    /// Why the record left: `close`, `delete`, `rename`, `link`, `max-events`,
    /// `process-exit`, `exit`, `tcp-close`, `idle`, `active`, `table-full`, `end-of-trace`.
    #[serde(rename = "InfoExport")]
    pub export: &'static str,
    /// The keys that name the recorded host, shared by every record while the trace's
    /// metadata leaves them as they are.
    #[serde(flatten)]
    pub host: Arc<HostKeys>,
    /// `kellect-v` and the version that replayed the trace.
    #[serde(rename = "InfoVersion")]
    pub version: &'static str,
    /// From the start of the recording to `InfoTimestamp` (event time).
    #[serde(rename = "InfoUptime")]
    pub uptime: Secs,
}

/// The `Info*` keys that name the recorded host: the same for every record until a host
/// or interfaces block of the trace changes them, so records share one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostKeys {
    /// Host name of the recorded host (uname block of the trace).
    #[serde(rename = "InfoHostName")]
    pub host_name: String,
    /// First non-loopback address of the recorded host (interfaces block).
    #[serde(rename = "InfoHostIP")]
    pub host_ip: String,
    /// The token given with `-T`.
    #[serde(rename = "InfoHostToken", skip_serializing_if = "Option::is_none")]
    pub host_token: Option<String>,
    /// Operating system of the recorded host (uname).
    #[serde(rename = "InfoSystem")]
    pub system: String,
    /// Kernel release of the recorded host (uname).
    #[serde(rename = "InfoKernel")]
    pub kernel: String,
}

/// The `Proc*` keys of every record: the process of its last event, from the process
/// snapshot at record start, fork, exec and each event's common header (comm, ppid, uid,
/// gid).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcKeys {
    /// Name (comm) of the parent process; empty when the trace never named it.
    #[serde(rename = "ProcParent")]
    pub parent: CompactString,
    /// Name (comm, as the main thread set it) of the process.
    #[serde(rename = "Proc")]
    pub comm: CompactString,
    /// Package version of the executable (dpkg; recorded with `-v`).
    #[serde(rename = "ProcVersion", skip_serializing_if = "Fact::is_absent")]
    pub exe_version: Fact,
    /// User name of `ProcUID` on the recorded host (users block).
    #[serde(rename = "ProcUser")]
    pub user: Arc<str>,
    /// Group name of `ProcGID` on the recorded host (groups block).
    #[serde(rename = "ProcGroup")]
    pub group: Arc<str>,
    #[serde(rename = "ProcPPID")]
    pub ppid: u32,
    /// Process id (tgid).
    #[serde(rename = "ProcPID")]
    pub pid: u32,
    /// Thread id of the last event.
    #[serde(rename = "ProcTID")]
    pub tid: u32,
    /// The process image's stable id (`crate::replayer::state::execid`): base64 of
    /// `BOOT_ID:START_NS:TGID`, as the events view's `exec_id`.
    #[serde(rename = "ProcExecId")]
    pub exec_id: Arc<str>,
    /// Process records: the images the process was started under, nearest first, at most
    /// [`crate::replayer::state::execid::MAX_ANCESTORS`].
    #[serde(rename = "ProcAncestors", skip_serializing_if = "Option::is_none")]
    pub ancestors: Option<Vec<Ancestor>>,
    /// Real user id.
    #[serde(rename = "ProcUID")]
    pub uid: u32,
    /// Real group id.
    #[serde(rename = "ProcGID")]
    pub gid: u32,
    /// Since the process started (fork, or its start time in the snapshot); left out when
    /// neither was seen.
    #[serde(rename = "ProcAge", skip_serializing_if = "Option::is_none")]
    pub age: Option<Secs>,
    /// The cgroup that puts the process in a container (its path and container: the
    /// `Container*` and `CgroupPath` keys); none outside containers.
    #[serde(flatten, serialize_with = "container_keys")]
    pub cgroup: Option<Arc<CgroupInfo>>,
}

/// The `ContainerId`, `ContainerRuntime`, `ContainerPod` (Kubernetes) and `CgroupPath` keys
/// of a process in a container; nothing otherwise.
fn container_keys<S: serde::Serializer>(
    cgroup: &Option<Arc<CgroupInfo>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(None)?;
    if let Some((c, k)) = cgroup
        .as_ref()
        .and_then(|c| c.container.as_ref().map(|k| (c, k)))
    {
        m.serialize_entry("ContainerId", &k.id)?;
        m.serialize_entry("ContainerRuntime", k.runtime)?;
        if let Some(pod) = &k.pod {
            m.serialize_entry("ContainerPod", pod)?;
        }
        m.serialize_entry("CgroupPath", &c.path)?;
    }
    m.end()
}

/// One ancestor of a process image in `ProcAncestors`: the keys a record of that image
/// has under the same names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Ancestor {
    #[serde(rename = "ProcExecId")]
    pub exec_id: String,
    /// Its comm as its image began (the child's comm at fork, the comm after exec).
    #[serde(rename = "Proc")]
    pub comm: String,
    #[serde(rename = "ProcPID")]
    pub pid: u32,
}

/// A file record: one file touched by one process, its events aggregated. The attributes
/// are the inode model's after the last event (`struct inode` fields the BPF side copies
/// at open, exec and each fd-based syscall, updated by path-based syscalls); one no
/// syscall revealed is left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileRecord {
    /// Directory of the file, ending in `/` (resolved against the cwd or dirfd).
    #[serde(rename = "FilePath")]
    pub dir: String,
    /// File name (the new name after a rename).
    #[serde(rename = "File")]
    pub name: String,
    /// The old name of a renamed file; the target of a link.
    #[serde(rename = "FileOrigin", skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// Package version of the file, executables only (dpkg; `-v`).
    #[serde(rename = "FileVersion", skip_serializing_if = "Fact::is_absent")]
    pub version: Fact,
    /// `regular`, `symlink` or `hardlink` (the record of a link being made).
    #[serde(rename = "FileMode")]
    pub mode: &'static str,
    /// Number of events aggregated.
    #[serde(rename = "FileEventCount")]
    pub event_count: u32,
    #[serde(rename = "FileEvents")]
    pub events: FileEvents,
    /// From the first to the last event.
    #[serde(rename = "FileEventsDuration")]
    pub events_duration: Secs,
    /// Inode number (`i_ino`).
    #[serde(rename = "FileInode", skip_serializing_if = "Option::is_none")]
    pub inode: Option<u64>,
    /// Hard links (`i_nlink`, counted through link, unlink and rename).
    #[serde(rename = "FileInodeLinkCount", skip_serializing_if = "Option::is_none")]
    pub link_count: Option<u32>,
    /// Device (`i_sb->s_dev`) with what is mounted there (mounts block).
    #[serde(rename = "FileDevice", skip_serializing_if = "Option::is_none")]
    pub device: Option<Arc<str>>,
    /// `i_mode` in octal and as `ls` shows it (`?` type: never shown, type unknown).
    #[serde(rename = "FilePermissions", skip_serializing_if = "Option::is_none")]
    pub permissions: Option<FilePermissions>,
    /// Owner's user name (`i_uid`, users block).
    #[serde(rename = "FileUser", skip_serializing_if = "Option::is_none")]
    pub user: Option<Arc<str>>,
    /// Owner's group name (`i_gid`, groups block).
    #[serde(rename = "FileGroup", skip_serializing_if = "Option::is_none")]
    pub group: Option<Arc<str>>,
    #[serde(rename = "FileUID", skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(rename = "FileGID", skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    /// Bytes (`i_size`; a truncate by path sets it).
    #[serde(rename = "FileSize", skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Bytes gained (or lost) from before the first event to the last; only if not 0.
    #[serde(rename = "FileSizeChange", skip_serializing_if = "Option::is_none")]
    pub size_change: Option<i64>,
    /// `i_atime`, kflowd's UTC format.
    #[serde(rename = "FileAccessTime", skip_serializing_if = "Option::is_none")]
    pub access_time: Option<KflowdTime>,
    /// `i_ctime`, kflowd's UTC format.
    #[serde(
        rename = "FileStatusChangeTime",
        skip_serializing_if = "Option::is_none"
    )]
    pub status_change_time: Option<KflowdTime>,
    /// `i_mtime`, kflowd's UTC format.
    #[serde(
        rename = "FileModificationTime",
        skip_serializing_if = "Option::is_none"
    )]
    pub modification_time: Option<KflowdTime>,
    /// How far `i_mtime` moved during the record; only if not 0.
    #[serde(
        rename = "FileModificationTimeChange",
        skip_serializing_if = "Option::is_none"
    )]
    pub modification_time_change: Option<Secs>,
    /// MD5 of the file, executables only (`-c`).
    #[serde(rename = "FileMD5", skip_serializing_if = "Fact::is_absent")]
    pub md5: Fact,
    /// SHA-256 of the file, executables only (`-c`).
    #[serde(rename = "FileSHA256", skip_serializing_if = "Fact::is_absent")]
    pub sha256: Fact,
}

/// The kflowd `FileEvents` kinds, in kflowd's order (the index into [`FileEvents`]).
pub const FILE_EVENTS: [&str; 11] = [
    "CREATE",
    "OPEN",
    "OPEN_EXEC",
    "ACCESS",
    "ATTRIB",
    "MODIFY",
    "CLOSE_WRITE",
    "CLOSE_NOWRITE",
    "MOVED_FROM",
    "MOVED_TO",
    "DELETE",
];

/// Events by kind (indexed as [`FILE_EVENTS`]); printed as an object of the non-zero
/// counts, in that order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileEvents(pub [u32; 11]);

impl FileEvents {
    /// (kind, count) of the non-zero counts, in kflowd's order.
    pub fn nonzero(&self) -> impl Iterator<Item = (&'static str, u32)> + '_ {
        FILE_EVENTS
            .iter()
            .zip(self.0)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (*k, n))
    }
}

impl Serialize for FileEvents {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        for (k, n) in self.nonzero() {
            m.serialize_entry(k, &n)?;
        }
        m.end()
    }
}

/// A socket record: one socket (the kernel's `struct sock` address is its identity), its
/// traffic since the last export. Identity from the BPF side's copy of `struct sock`
/// (`sock_common` addresses and ports) at each socket syscall; TCP counters from
/// `struct tcp_sock` at each state change (`inet_sock_set_state`, `tcp_*` tracepoints).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SockRecord {
    /// `TCP` or `UDP` (`sk_protocol`); left out for UNIX sockets.
    #[serde(rename = "SockProtocol", skip_serializing_if = "Option::is_none")]
    pub protocol: Option<&'static str>,
    /// `CLIENT` or `SERVER` (listened, accepted, or received first).
    #[serde(rename = "SockRole")]
    pub role: &'static str,
    /// TCP state at export (`TCP_ESTABLISHED`, …), from the last state change seen.
    #[serde(rename = "SockState", skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// An RST ended the connection: `RX` (received) or `TX` (sent).
    #[serde(rename = "SockReset", skip_serializing_if = "Option::is_none")]
    pub reset: Option<&'static str>,
    /// `AF_INET`, `AF_INET6` or `AF_UNIX` (`skc_family`).
    #[serde(rename = "SockFamily")]
    pub family: String,
    #[serde(rename = "SockLocalIP", skip_serializing_if = "Option::is_none")]
    pub local_ip: Option<String>,
    #[serde(rename = "SockLocalPort", skip_serializing_if = "Option::is_none")]
    pub local_port: Option<u16>,
    /// The remote address; for an unconnected (UDP) socket the peer it last sent to or
    /// received from (sendto/recvfrom address).
    #[serde(rename = "SockRemoteIP", skip_serializing_if = "Option::is_none")]
    pub remote_ip: Option<String>,
    #[serde(rename = "SockRemotePort", skip_serializing_if = "Option::is_none")]
    pub remote_port: Option<u16>,
    /// UNIX socket path (`@name`: abstract), from connect, bind or sendto.
    #[serde(rename = "SockAddress", skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(flatten)]
    pub flows: SockFlows,
    /// From the socket's first to its last event in this record.
    #[serde(rename = "SockAge")]
    pub age: Secs,
    #[serde(flatten)]
    pub app: Option<AppKeys>,
}

/// The two directions of a socket: a client record puts Tx first, a server record Rx
/// (as kflowd).
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum SockFlows {
    Client(ClientFlows),
    Server(ServerFlows),
}

impl Default for SockFlows {
    fn default() -> Self {
        SockFlows::Client(ClientFlows::default())
    }
}

impl SockFlows {
    pub fn new(server: bool, tx: SockTx, rx: SockRx) -> Self {
        if server {
            SockFlows::Server(ServerFlows { rx, tx })
        } else {
            SockFlows::Client(ClientFlows { tx, rx })
        }
    }

    pub fn tx(&self) -> &SockTx {
        match self {
            SockFlows::Client(c) => &c.tx,
            SockFlows::Server(s) => &s.tx,
        }
    }

    pub fn rx(&self) -> &SockRx {
        match self {
            SockFlows::Client(c) => &c.rx,
            SockFlows::Server(s) => &s.rx,
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ClientFlows {
    #[serde(flatten)]
    pub tx: SockTx,
    #[serde(flatten)]
    pub rx: SockRx,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct ServerFlows {
    #[serde(flatten)]
    pub rx: SockRx,
    #[serde(flatten)]
    pub tx: SockTx,
}

/// What the process sent. Counts without a TCP state change come from the send
/// syscalls' return values; the TCP ones from `struct tcp_sock`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SockTx {
    /// Interface of the connection, `index:name:mac` (`sk_rx_dst_ifindex`, interfaces
    /// block).
    #[serde(rename = "SockTxInterface", skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// TCP segments sent with data (`data_segs_out`).
    #[serde(rename = "SockTxDataPackets", skip_serializing_if = "Option::is_none")]
    pub data_packets: Option<u32>,
    /// TCP: segments sent (`segs_out`); UDP and UNIX: messages sent (syscalls, sendmmsg's
    /// return value).
    #[serde(rename = "SockTxPackets")]
    pub packets: u64,
    /// TCP segments retransmitted (`total_retrans`).
    #[serde(
        rename = "SockTxPacketsRetrans",
        skip_serializing_if = "Option::is_none"
    )]
    pub packets_retrans: Option<u32>,
    /// TCP segments the peer reported as duplicates with D-SACK (`tcp_sock.dsack_dups`);
    /// with `-e packets` only.
    #[serde(rename = "SockTxPacketsDups", skip_serializing_if = "Option::is_none")]
    pub packets_dups: Option<u32>,
    /// TCP packets sent, per flag combination (`net:net_dev_queue`); with `-e packets`.
    #[serde(rename = "SockTxFlags", skip_serializing_if = "Option::is_none")]
    pub flags: Option<TcpFlags>,
    /// From the first to the last send.
    #[serde(rename = "SockTxDuration")]
    pub duration: Secs,
    /// Payload bytes the send syscalls returned.
    #[serde(rename = "SockTxBytes")]
    pub bytes: u64,
    /// TCP bytes acknowledged by the peer (`bytes_acked`).
    #[serde(rename = "SockTxBytesAcked", skip_serializing_if = "Option::is_none")]
    pub bytes_acked: Option<u64>,
    /// TCP bytes retransmitted (`bytes_retrans`).
    #[serde(rename = "SockTxBytesRetrans", skip_serializing_if = "Option::is_none")]
    pub bytes_retrans: Option<u64>,
    /// TCP retransmission timeout in ms (`icsk_rto` jiffies, with the recorded HZ).
    #[serde(rename = "SockTxRTO", skip_serializing_if = "Option::is_none")]
    pub rto_ms: Option<u64>,
}

/// What the process received (as [`SockTx`]).
#[derive(Debug, Clone, Default, Serialize)]
pub struct SockRx {
    /// Interface the connection's packets were last received on, `index:name:mac`.
    #[serde(rename = "SockRxInterface", skip_serializing_if = "Option::is_none")]
    pub interface: Option<String>,
    /// TCP segments received with data (`data_segs_in`).
    #[serde(rename = "SockRxDataPackets", skip_serializing_if = "Option::is_none")]
    pub data_packets: Option<u32>,
    /// TCP: segments received (`segs_in`); UDP and UNIX: messages received.
    #[serde(rename = "SockRxPackets")]
    pub packets: u64,
    /// Packets waiting in the socket's receive queue at its last counters
    /// (`sk_receive_queue`); with `-e packets`.
    #[serde(
        rename = "SockRxPacketsQueued",
        skip_serializing_if = "Option::is_none"
    )]
    pub packets_queued: Option<u32>,
    /// Packets the kernel dropped for the socket (`sk_drops`, as `/proc/net/udp` and
    /// `ss -m` show it); with `-e packets`.
    #[serde(rename = "SockRxPacketsDrop", skip_serializing_if = "Option::is_none")]
    pub packets_drop: Option<u32>,
    /// Packets of the socket the kernel freed as dropped, per reason (`skb:kfree_skb`,
    /// `enum skb_drop_reason` without `SKB_DROP_REASON_`), and `RCVQUEUE_FULL` for
    /// `sock:sock_rcvqueue_full`; not a kflowd key.
    #[serde(
        rename = "SockRxPacketsDropReasons",
        skip_serializing_if = "Option::is_none"
    )]
    pub drop_reasons: Option<DropReasons>,
    /// TCP packets received out of order (`tcp_sock.rcv_ooopack`); with `-e packets`.
    #[serde(
        rename = "SockRxPacketsReorder",
        skip_serializing_if = "Option::is_none"
    )]
    pub packets_reorder: Option<u32>,
    /// IPv4 fragments received for the socket; with `-e packets`.
    #[serde(rename = "SockRxPacketsFrag", skip_serializing_if = "Option::is_none")]
    pub packets_frag: Option<u32>,
    /// TCP packets received, per flag combination (`net:netif_receive_skb`); with
    /// `-e packets`.
    #[serde(rename = "SockRxFlags", skip_serializing_if = "Option::is_none")]
    pub flags: Option<TcpFlags>,
    /// From the first to the last receive.
    #[serde(rename = "SockRxDuration")]
    pub duration: Secs,
    /// Payload bytes the receive syscalls returned.
    #[serde(rename = "SockRxBytes")]
    pub bytes: u64,
    /// TTL (IPv6: hop limit) of the last packet received; with `-e packets`.
    #[serde(rename = "SockRxTTL", skip_serializing_if = "Option::is_none")]
    pub ttl: Option<u8>,
    /// TCP smoothed round-trip time (`srtt_us`).
    #[serde(rename = "SockRTT", skip_serializing_if = "Option::is_none")]
    pub rtt: Option<Secs>,
}

/// The TCP flag bits a combination is made of (`KL_FLAG_COMBOS` index bits), in the order
/// of their names in a combination: `SYN-ACK`, `FIN-PSH-ACK`, `RST-ACK`.
const FLAG_NAMES: [(usize, &str); 5] = [
    (0x02, "SYN"),
    (0x01, "FIN"),
    (0x04, "RST"),
    (0x08, "PSH"),
    (0x10, "ACK"),
];

/// The order of the common combinations in `SockTxFlags`/`SockRxFlags` (kflowd's):
/// SYN, SYN-ACK, ACK, PSH-ACK, FIN-ACK, then the others by their bits.
const FLAG_ORDER: [usize; 5] = [0x02, 0x12, 0x10, 0x18, 0x11];

/// The name of a TCP flag combination (`FIN|SYN|RST|PSH|ACK` bits): its flags' names
/// joined with `-`, `NONE` for none.
pub fn flag_combo_name(bits: usize) -> String {
    let names: Vec<&str> = FLAG_NAMES
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    if names.is_empty() {
        "NONE".into()
    } else {
        names.join("-")
    }
}

/// `SockTxFlags`/`SockRxFlags`: packets per TCP flag combination (non-zero ones), as
/// kflowd names them: `{"SYN": 1, "ACK": 3, "PSH-ACK": 1, "FIN-ACK": 1}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpFlags(pub Vec<(String, u32)>);

impl TcpFlags {
    /// From the kernel's counts, indexed by combination.
    pub fn new(counts: &[zerocopy::little_endian::U32; crate::abi::FLAG_COMBOS]) -> Self {
        let rest = (0..crate::abi::FLAG_COMBOS).filter(|b| !FLAG_ORDER.contains(b));
        TcpFlags(
            FLAG_ORDER
                .into_iter()
                .chain(rest)
                .filter(|&b| counts[b].get() != 0)
                .map(|b| (flag_combo_name(b), counts[b].get()))
                .collect(),
        )
    }
}

/// A list of (name, count) as a JSON object, in its order.
fn count_map<S: Serializer>(counts: &[(String, u32)], s: S) -> Result<S::Ok, S::Error> {
    let mut m = s.serialize_map(Some(counts.len()))?;
    for (k, n) in counts {
        m.serialize_entry(k, n)?;
    }
    m.end()
}

impl Serialize for TcpFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        count_map(&self.0, s)
    }
}

/// `SockRxPacketsDropReasons`: packets dropped per reason, `{"SOCKET_RCVBUFF": 12}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropReasons(pub Vec<(String, u32)>);

impl DropReasons {
    /// From the kernel's slots, named by `names` (the recording kernel's enum; a value
    /// it lacks is `REASON_<n>`); `OTHER` the reasons past the slots, `RCVQUEUE_FULL`
    /// `sock:sock_rcvqueue_full`. In slot order (first drop first). Counts under one name
    /// (two slots of a reason, a name given twice or spelled as another's, in a crafted
    /// trace) are added up (saturating) at the name's first place: a JSON object holds
    /// each key once.
    pub fn new(pkt: &crate::abi::PktCounters, names: &[(u32, String)]) -> Self {
        let slots = pkt
            .drops
            .iter()
            .filter(|d| d.reason.get() != 0 && d.count.get() != 0)
            .map(|d| {
                let r = d.reason.get();
                let name = names
                    .iter()
                    .find(|(v, _)| *v == r)
                    .map_or_else(|| format!("REASON_{r}"), |(_, n)| n.clone());
                (name, d.count.get())
            });
        let fixed = [
            ("OTHER", pkt.drops_other.get()),
            ("RCVQUEUE_FULL", pkt.rcvqueue_full.get()),
        ]
        .into_iter()
        .filter(|&(_, n)| n != 0)
        .map(|(name, n)| (name.to_owned(), n));
        let mut out: Vec<(String, u32)> = Vec::new();
        for (name, n) in slots.chain(fixed) {
            match out.iter_mut().find(|(seen, _)| *seen == name) {
                Some((_, total)) => *total = total.saturating_add(n),
                None => out.push((name, n)),
            }
        }
        DropReasons(out)
    }
}

impl Serialize for DropReasons {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        count_map(&self.0, s)
    }
}

/// The application protocol decoded on a socket, and up to 4 messages each way (the
/// protocol decoders' keys: see `protocols::legend`).
#[derive(Debug, Clone)]
pub struct AppKeys {
    pub app: App,
    /// A server's record puts its received messages first.
    pub server: bool,
    pub tx: Vec<Map<String, Value>>,
    pub rx: Vec<Map<String, Value>>,
}

/// The message keys of each protocol: `[sent, received]`.
pub const APP_MESSAGE_KEYS: [(App, [&str; 2]); 3] = [
    (App::Dns, ["AppTxDns", "AppRxDns"]),
    (App::Http, ["AppTxHttp", "AppRxHttp"]),
    (App::Syslog, ["AppTxSyslog", "AppRxSyslog"]),
];

impl AppKeys {
    /// (key, messages) in output order, empty lists included.
    pub fn messages(&self) -> [(&'static str, &[Map<String, Value>]); 2] {
        let [tx_key, rx_key] = APP_MESSAGE_KEYS
            .iter()
            .find(|(a, _)| *a == self.app)
            .map_or(["AppTx", "AppRx"], |(_, keys)| *keys);
        let tx = (tx_key, self.tx.as_slice());
        let rx = (rx_key, self.rx.as_slice());
        if self.server {
            [rx, tx]
        } else {
            [tx, rx]
        }
    }
}

impl Serialize for AppKeys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("App", self.app.name())?;
        for (key, msgs) in self.messages() {
            if !msgs.is_empty() {
                m.serialize_entry(key, msgs)?;
            }
        }
        m.end()
    }
}

/// A process record: one process that exec'd, at its exit (or the end of the trace).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProcRecord {
    /// The executable exec ran, as the kernel resolved it (`linux_binprm` filename).
    #[serde(rename = "ProcExe", skip_serializing_if = "Option::is_none")]
    pub exe: Option<String>,
    /// The arguments (the first 16, from the exec record).
    #[serde(rename = "ProcArgv")]
    pub argv: Vec<String>,
    /// How many arguments the program was given (`linux_binprm` argc), also those
    /// `ProcArgv` leaves out.
    #[serde(rename = "ProcArgc")]
    pub argc: u32,
    /// `ProcArgv` is not the whole list: more than 16 arguments, or the argument area was
    /// cut at 4095 bytes (an argument may then end early).
    #[serde(rename = "ProcArgvTruncated")]
    pub argv_truncated: bool,
    /// When exec ran, kflowd's UTC format (event time).
    #[serde(rename = "ProcExecTime", skip_serializing_if = "Option::is_none")]
    pub exec_time: Option<KflowdTime>,
    /// Exit status 0-255 (`task_struct.exit_code >> 8`).
    #[serde(rename = "ProcExitCode", skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<u32>,
    /// The signal that ended the process (`exit_code & 0x7f`), if one did.
    #[serde(rename = "ProcExitSignal", skip_serializing_if = "Option::is_none")]
    pub exit_signal: Option<String>,
    /// MD5 of the executable (`-c`).
    #[serde(rename = "ProcMD5", skip_serializing_if = "Fact::is_absent")]
    pub md5: Fact,
    /// SHA-256 of the executable (`-c`).
    #[serde(rename = "ProcSHA256", skip_serializing_if = "Fact::is_absent")]
    pub sha256: Fact,
}

#[cfg(test)]
pub(crate) mod tests {
    /// A crafted trace's drop reasons (two slots of one reason, a name spelled as another
    /// value's `REASON_<n>` or as `OTHER`) give one key each, their counts added up.
    #[test]
    fn drop_reasons_with_one_name_give_one_key() {
        use zerocopy::{little_endian::U32, FromZeros};
        let mut pkt = crate::abi::PktCounters::new_zeroed();
        for (slot, (reason, count)) in [(5, 1), (5, 2), (9, 4), (7, 8)].into_iter().enumerate() {
            pkt.drops[slot].reason = U32::new(reason);
            pkt.drops[slot].count = U32::new(count);
        }
        pkt.drops_other = U32::new(u32::MAX);
        pkt.rcvqueue_full = U32::new(32);
        // Reason 7 is unnamed: REASON_7, as reason 9 is named.
        let names = [(9, "REASON_7".to_owned()), (5, "OTHER".to_owned())];
        let reasons = super::DropReasons::new(&pkt, &names);
        let json = serde_json::to_string(&reasons).unwrap();
        assert_eq!(
            json,
            r#"{"OTHER":4294967295,"REASON_7":12,"RCVQUEUE_FULL":32}"#
        );
    }

    /// TCP flag combinations are named as kflowd names them, the common ones first.
    #[test]
    fn flag_combinations_have_kflowds_names() {
        use zerocopy::little_endian::U32;
        assert_eq!(super::flag_combo_name(0x02), "SYN");
        assert_eq!(super::flag_combo_name(0x12), "SYN-ACK");
        assert_eq!(super::flag_combo_name(0x18), "PSH-ACK");
        assert_eq!(super::flag_combo_name(0x11), "FIN-ACK");
        assert_eq!(super::flag_combo_name(0x19), "FIN-PSH-ACK");
        assert_eq!(super::flag_combo_name(0x14), "RST-ACK");
        assert_eq!(super::flag_combo_name(0), "NONE");
        let mut counts = [U32::new(0); crate::abi::FLAG_COMBOS];
        for (bits, n) in [(0x14, 1), (0x11, 2), (0x10, 3), (0x02, 4)] {
            counts[bits] = U32::new(n);
        }
        let json = serde_json::to_string(&super::TcpFlags::new(&counts)).unwrap();
        assert_eq!(json, r#"{"SYN":4,"ACK":3,"FIN-ACK":2,"RST-ACK":1}"#);
    }

    use super::*;

    /// A record of `body` with every Info and Proc key present.
    pub(crate) fn full(monitor: Monitor, body: RecordBody) -> Record {
        Record {
            info: InfoKeys {
                sequence: 1,
                timestamp: KflowdTime(0),
                monitor,
                export: "close",
                host: Arc::new(HostKeys {
                    host_name: "h".into(),
                    host_ip: "1.2.3.4".into(),
                    host_token: Some("tok".into()),
                    system: "Linux".into(),
                    kernel: "6.18".into(),
                }),
                version: "kellect-v0",
                uptime: Secs(1),
            },
            proc: ProcKeys {
                exe_version: Fact::Known("1".into()),
                ancestors: Some(vec![Ancestor::default()]),
                age: Some(Secs(2)),
                cgroup: Some(CgroupInfo::new(
                    7,
                    &format!("/kubepods/besteffort/pod{}/{}", "0b1e3c42", "a".repeat(64)),
                )),
                ..ProcKeys::default()
            },
            body,
            facts: PendingFacts::default(),
            span: (0, 0),
        }
    }

    /// One record of each kind (and one socket record per protocol, client side), every
    /// key present.
    pub(crate) fn every_key() -> Vec<Record> {
        let known = || Fact::Known("x".into());
        let mut out = vec![
            full(
                Monitor::Process,
                RecordBody::Proc(ProcRecord {
                    exe: Some("/bin/x".into()),
                    exec_time: Some(KflowdTime(0)),
                    exit_code: Some(0),
                    exit_signal: Some("SIGKILL".into()),
                    md5: known(),
                    sha256: known(),
                    ..ProcRecord::default()
                }),
            ),
            full(
                Monitor::Filesystem,
                RecordBody::File(FileRecord {
                    origin: Some("o".into()),
                    version: known(),
                    events: FileEvents([1; 11]),
                    inode: Some(1),
                    link_count: Some(1),
                    device: Some("d".into()),
                    permissions: Some(FilePermissions {
                        kind: None,
                        perm: 0o644,
                    }),
                    user: Some("u".into()),
                    group: Some("g".into()),
                    uid: Some(0),
                    gid: Some(0),
                    size: Some(0),
                    size_change: Some(1),
                    access_time: Some(KflowdTime(0)),
                    status_change_time: Some(KflowdTime(0)),
                    modification_time: Some(KflowdTime(0)),
                    modification_time_change: Some(Secs(1)),
                    md5: known(),
                    sha256: known(),
                    ..FileRecord::default()
                }),
            ),
        ];
        for (app, _) in APP_MESSAGE_KEYS {
            let tx = SockTx {
                interface: Some("i".into()),
                data_packets: Some(1),
                packets_retrans: Some(1),
                bytes_acked: Some(1),
                bytes_retrans: Some(1),
                rto_ms: Some(1),
                packets_dups: Some(1),
                flags: Some(TcpFlags(vec![("SYN".into(), 1)])),
                ..SockTx::default()
            };
            let rx = SockRx {
                interface: Some("i".into()),
                data_packets: Some(1),
                rtt: Some(Secs(1)),
                packets_queued: Some(1),
                packets_drop: Some(1),
                drop_reasons: Some(DropReasons(vec![("NOT_SPECIFIED".into(), 1)])),
                packets_reorder: Some(1),
                packets_frag: Some(1),
                flags: Some(TcpFlags(vec![("SYN-ACK".into(), 1)])),
                ttl: Some(64),
                ..SockRx::default()
            };
            let msg = Map::from_iter([("k".to_owned(), Value::from(1))]);
            out.push(full(
                Monitor::Socket,
                RecordBody::Sock(SockRecord {
                    protocol: Some("TCP"),
                    state: Some("TCP_CLOSE".into()),
                    reset: Some("RX"),
                    local_ip: Some("a".into()),
                    local_port: Some(1),
                    remote_ip: Some("b".into()),
                    remote_port: Some(2),
                    address: Some("/run/x".into()),
                    flows: SockFlows::new(false, tx, rx),
                    app: Some(AppKeys {
                        app,
                        server: false,
                        tx: vec![msg.clone()],
                        rx: vec![msg],
                    }),
                    ..SockRecord::default()
                }),
            ));
        }
        out
    }

    fn keys(r: &Record) -> Vec<String> {
        match serde_json::to_value(r).unwrap() {
            Value::Object(m) => m.keys().cloned().collect(),
            other => panic!("a record serializes as an object, not {other}"),
        }
    }

    #[test]
    fn the_legend_lists_exactly_the_keys_of_the_record_types_in_their_order() {
        let mut typed: Vec<String> = Vec::new();
        for r in every_key() {
            for k in keys(&r) {
                if !typed.contains(&k) {
                    typed.push(k);
                }
            }
        }
        let message_keys: Vec<&str> = crate::replayer::views::records::protocols::legend()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let legend: Vec<String> = crate::replayer::views::records::legend::legend()
            .into_iter()
            .map(|(k, _)| k.to_owned())
            .filter(|k| !message_keys.contains(&k.as_str()))
            .collect();
        assert_eq!(legend, typed, "legend (left) and record types (right)");
    }

    #[test]
    fn a_server_record_puts_rx_first_and_pending_facts_are_not_printed() {
        let mut r = every_key().pop().unwrap();
        let RecordBody::Sock(s) = &mut r.body else {
            unreachable!()
        };
        s.flows = SockFlows::new(true, s.flows.tx().clone(), s.flows.rx().clone());
        if let Some(a) = &mut s.app {
            a.server = true;
        }
        r.facts.proc = Some((1, 2));
        let k = keys(&r);
        let at = |key: &str| k.iter().position(|x| x == key).unwrap();
        assert!(at("SockRxInterface") < at("SockTxInterface"), "{k:?}");
        assert!(at("SockRTT") < at("SockTxInterface"), "{k:?}");
        assert!(at("AppRxSyslog") < at("AppTxSyslog"), "{k:?}");
        assert!(!k.iter().any(|x| x.contains('\0') || x.is_empty()), "{k:?}");
    }

    #[test]
    fn facts_resolve_once() {
        let mut f = Fact::asked(true);
        assert_eq!(serde_json::to_string(&f).unwrap(), "null");
        f.resolve(Some(&"abc".to_owned()));
        assert_eq!(f, Fact::Known("abc".into()));
        f.resolve(None);
        assert_eq!(f, Fact::Known("abc".into()));
        let mut g = Fact::asked(true);
        g.resolve(None);
        assert!(g.is_absent());
        assert!(Fact::asked(false).is_absent());
    }

    #[test]
    fn seconds_are_exact() {
        let text = |s: Secs| serde_json::to_string(&s).unwrap();
        assert_eq!(text(Secs(21_262_713_426)), "21.262713426");
        assert_eq!(text(Secs(48_490)), "0.000048490");
        assert_eq!(text(Secs(-1_500_000_000)), "-1.500000000");
        for ns in [
            0,
            1,
            999_999_999,
            1_000_000_000,
            -1,
            -999_999_999,
            i64::MAX,
            i64::MIN,
        ] {
            let text = format!(
                "{}{}.{:09}",
                if ns < 0 { "-" } else { "" },
                ns.unsigned_abs() / 1_000_000_000,
                ns.unsigned_abs() % 1_000_000_000
            );
            let number: serde_json::Number = text.parse().unwrap();
            // Written as JSON text and as a serde_json Value exactly as the Number is.
            assert_eq!(serde_json::to_string(&Secs(ns)).unwrap(), text, "{ns}");
            assert_eq!(
                serde_json::to_value(Secs(ns)).unwrap(),
                Value::Number(number),
                "{ns}"
            );
        }
    }
}
