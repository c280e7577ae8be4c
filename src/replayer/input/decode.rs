//! Raw records out of a decompressed frame into owned, typed values that the sequential
//! state machines consume. Replay checks a frame's records in parallel ([`scan_frame`]),
//! puts them into time order by their spans alone, then decodes each chunk of them in
//! parallel ([`decode_one`]) just before the state machines take it.

use crate::abi::{
    self, InodeAttrs, Record, RecordHeader, Records, SockInfo, SockStateRecord, EXIT_F_GROUP_DEAD,
    EXIT_F_GROUP_EXIT, SC_F_PATH0_TRUNC, SC_F_PATH1_TRUNC,
};
use crate::syscalls::{self, Out, Src};
use compact_str::CompactString;
use zerocopy::FromBytes;

/// Fields every record has (the decoded `rec_hdr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Common {
    /// CLOCK_BOOTTIME ns.
    pub ts: u64,
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub uid: u32,
    pub gid: u32,
    pub cpu: u16,
    /// kellect syscall id, 0 when none or unknown.
    pub syscall: u16,
    /// Context for state only (the recorder starting the command): never shown.
    pub context: bool,
    /// The syscall was a 32-bit (compat) one of a 64-bit task (`REC_F_COMPAT`): `syscall`
    /// and the arguments come from the i386 ABI.
    pub compat: bool,
    /// The task's name (`task_struct.comm`, as [`abi::c_str`] gives it): inline up to 24
    /// bytes, so the name that replay fills into most compact records is no allocation.
    pub comm: CompactString,
}

impl Common {
    fn from_header(h: &RecordHeader) -> Self {
        Common {
            ts: h.ts.get(),
            pid: h.pid.get(),
            tid: h.tid.get(),
            ppid: h.ppid.get(),
            uid: h.uid.get(),
            gid: h.gid.get(),
            cpu: h.cpu.get(),
            syscall: h.syscall.get(),
            context: h.flags.get() & abi::REC_F_CONTEXT != 0,
            compat: h.flags.get() & abi::REC_F_COMPAT != 0,
            comm: abi::c_str(&h.comm).into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Fork {
        child_pid: u32,
        child_tid: u32,
        clone_flags: u64,
        child_comm: String,
        /// The child's cgroup and namespaces (`None` in traces recorded before them).
        task: Option<abi::TaskContext>,
    },
    Exec {
        old_pid: u32,
        /// The task's cgroup and namespaces (`None` in traces recorded before them).
        task: Option<abi::TaskContext>,
        argc: u32,
        filename: String,
        filename_truncated: bool,
        /// The arguments captured (the argv area may hold more than are shown).
        argv: Vec<String>,
        argv_truncated: bool,
        /// The executable's inode.
        inode: Option<InodeAttrs>,
        /// The real path of the file the kernel executed (`bprm->file`, walked up its
        /// dentries and mounts at record time): for a `#!` script its interpreter, for a
        /// memfd `/memfd:NAME`. `None` in traces recorded before it was captured.
        exe_path: Option<String>,
        /// `abi::EXE_F_*` of `exe_path`.
        exe_flags: u16,
        /// For a `#!` script: the `argv[0]` the caller passed (read at the exec's entry),
        /// which the kernel replaced with the interpreter's arguments.
        caller_argv0: Option<String>,
    },
    Exit {
        /// The wait status: `(status << 8) | termsig | 0x80 if core dumped`.
        code: u32,
        /// The last thread of the process ended.
        group_dead: bool,
        group_exit: bool,
        /// Killed by another thread's exec (`EXIT_F_EXEC`): when it is the leader
        /// (`tid == pid`), the process did not end: the exec'ing thread takes its pid.
        by_exec: bool,
    },
    /// A syscall of the catalogue (boxed: much larger than the other bodies).
    Syscall(Box<Syscall>),
    /// A TCP socket changed state or saw a reset.
    SockState(Box<SockStateRecord>),
    /// A socket's packet counters, aggregated in the kernel (`REC_SOCK_COUNTERS`): context
    /// for the records view, not an event.
    SockCounters(Box<abi::SockCountersRecord>),
    /// A cgroup was made, or a process moved into one: state for replay, not an event.
    Cgroup(Box<CgroupChange>),
    /// A record kind this build does not know.
    Unknown { kind: u16 },
}

/// What a cgroup record says (`REC_CGROUP`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgroupChange {
    /// `abi::CG_MKDIR` or `abi::CG_ATTACH`.
    pub op: u8,
    /// The cgroup's kernfs id (its directory's inode number).
    pub id: u64,
    /// 0: the default (v2) hierarchy; 1..: a v1 hierarchy.
    pub hierarchy: u16,
    /// Attach: the process moved; mkdir: 0.
    pub pid: u32,
    /// The cgroup's path from its hierarchy's root (at most 1023 bytes).
    pub path: String,
    /// The path was cut.
    pub truncated: bool,
}

/// A socket address as the kernel stored it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SockAddr {
    Inet {
        ip: std::net::Ipv4Addr,
        port: u16,
    },
    Inet6 {
        ip: std::net::Ipv6Addr,
        port: u16,
        scope_id: u32,
    },
    /// A UNIX socket: a path, `@name` for the abstract namespace, empty when unnamed.
    Unix {
        path: String,
    },
    /// Another family: only its number.
    Other {
        family: u16,
    },
}

impl SockAddr {
    pub fn family(&self) -> u16 {
        match self {
            SockAddr::Inet { .. } => 2,
            SockAddr::Inet6 { .. } => 10,
            SockAddr::Unix { .. } => 1,
            SockAddr::Other { family } => *family,
        }
    }

    /// Parses a `struct sockaddr` of `bytes.len()` bytes; `None` when too short.
    pub fn parse(bytes: &[u8]) -> Option<SockAddr> {
        let family = u16::from_le_bytes(bytes.get(..2)?.try_into().ok()?);
        let port = || Some(u16::from_be_bytes(bytes.get(2..4)?.try_into().ok()?));
        Some(match family {
            2 => {
                let ip: [u8; 4] = bytes.get(4..8)?.try_into().ok()?;
                SockAddr::Inet {
                    ip: ip.into(),
                    port: port()?,
                }
            }
            10 => {
                let ip: [u8; 16] = bytes.get(8..24)?.try_into().ok()?;
                let scope_id = bytes
                    .get(24..28)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u32::from_le_bytes);
                SockAddr::Inet6 {
                    ip: ip.into(),
                    port: port()?,
                    scope_id,
                }
            }
            1 => {
                let path = &bytes[2..];
                let path = match path.first() {
                    // Abstract: a leading NUL, the name is every byte after it.
                    Some(0) => format!("@{}", text(&path[1..])),
                    _ => {
                        let end = path.iter().position(|&b| b == 0).unwrap_or(path.len());
                        text(&path[..end])
                    }
                };
                SockAddr::Unix { path }
            }
            family => SockAddr::Other { family },
        })
    }
}

/// What the kernel filled in for a syscall, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Filled {
    None,
    Stat(InodeAttrs),
    FdPair(i32, i32),
    OpenHow {
        flags: u64,
        mode: u64,
        resolve: u64,
    },
    /// The access and modification times a utime-family call asked for, read at entry.
    Times {
        atime: TimeSet,
        mtime: TimeSet,
    },
    /// setxattrat's `struct xattr_args`: the value's size (bytes) and `XATTR_*` flags.
    XattrArgs {
        size: u32,
        flags: u32,
    },
    /// The inode of the other fd of an in-kernel copy (its destination), at exit.
    FdInode(InodeAttrs),
    /// A short string the caller passed (mount's filesystem type, prctl's new name), at
    /// most 63 bytes.
    Short(String),
    /// The first bytes (at most 64) of bpf's `union bpf_attr`, as the caller passed it.
    BpfAttr(Vec<u8>),
    /// What capset was given: its header's version and pid, and the three capability
    /// sets (the two 32-bit words of each joined, the first the low one).
    Capset {
        version: u32,
        pid: i32,
        effective: u64,
        permitted: u64,
        inheritable: u64,
    },
}

/// `tv_nsec` of utimensat's "set to the current time" and "leave unchanged".
pub const UTIME_NOW: i64 = (1 << 30) - 1;
pub const UTIME_OMIT: i64 = (1 << 30) - 2;

/// One time a utime-family call set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeSet {
    /// `UTIME_NOW`: the kernel's current time.
    Now,
    /// `UTIME_OMIT`: left as it was.
    Omit,
    /// This time: seconds and nanoseconds since the epoch, as given (`nsec` may be out
    /// of range: the kernel then fails the call with EINVAL).
    At { sec: i64, nsec: i64 },
}

impl TimeSet {
    /// utimensat's `struct timespec`: `UTIME_NOW` and `UTIME_OMIT` in `tv_nsec` win.
    fn timespec(sec: i64, nsec: i64) -> TimeSet {
        match nsec {
            UTIME_NOW => TimeSet::Now,
            UTIME_OMIT => TimeSet::Omit,
            nsec => TimeSet::At { sec, nsec },
        }
    }

    /// Nanoseconds since the epoch of an explicit time (`None` for `Now`, `Omit`, a
    /// `nsec` outside `0..1e9`, which the kernel refuses, and a time outside i64
    /// nanoseconds).
    pub fn ns(self) -> Option<i64> {
        match self {
            TimeSet::At { sec, nsec } if (0..1_000_000_000).contains(&nsec) => {
                sec.checked_mul(1_000_000_000)?.checked_add(nsec)
            }
            _ => None,
        }
    }
}

/// One syscall: arguments at entry, result and kernel-filled data at exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Syscall {
    /// kellect syscall id.
    pub id: u16,
    pub enter_ts: u64,
    pub ret: i64,
    pub args: [u64; 6],
    pub path0: Option<String>,
    pub path0_truncated: bool,
    pub path1: Option<String>,
    pub path1_truncated: bool,
    /// Path 0 or 1 was a NULL pointer (utimensat's "the fd itself", or an EFAULT): its
    /// `path0`/`path1` is `None`.
    pub path_null: [bool; 2],
    pub addr: Option<SockAddr>,
    pub filled: Filled,
    /// The inode of the fd involved (read/write/fstat... or the new fd of an open).
    pub inode: Option<InodeAttrs>,
    /// The socket behind the fd, when it is one.
    pub sock: Option<SockInfo>,
    /// The start of the message, for sockets whose payloads are captured.
    pub data: Vec<u8>,
    /// sendmmsg/recvmmsg: bytes of the messages (the first [`abi::MMSG_MAX`]).
    pub aux: u32,
    /// sendmmsg/recvmmsg (`SC_F_MMSG`): the first [`abi::MMSG_MAX`] messages of the
    /// vector, in order; `data` is then the first one's payload. Empty for other syscalls
    /// and in traces before it (their `data` is the first message's payload).
    pub messages: Vec<MmsgMessage>,
    /// Set when no syscall ran: an io_uring request (`REC_URING_OP`) doing what the
    /// syscall `id` does (0: an opcode that is no catalogue syscall), its arguments in
    /// that syscall's order; `enter_ts` is its submission, `ret` its CQE's result.
    pub uring: Option<UringOp>,
    /// Read from a compact record (`REC_SYSCALL_C`): what it left out, until replay's
    /// sequential stage fills it in from the records before it
    /// (`replayer::state::compact`), which sets this back to `None` when it could fill in
    /// all of it.
    pub compact: Option<CompactLeft>,
}

/// What a compact syscall record left out, and the fd its inode is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompactLeft {
    pub left: abi::Compact,
    /// The fd whose inode the record gives (the new fd of a syscall returning one, else
    /// its fd argument), as the recorder keys it; -1: none.
    pub fd: i32,
}

/// One message of a sendmmsg/recvmmsg vector (`struct kl_mmsg_part` and its payload).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MmsgMessage {
    /// The message's bytes, as the kernel counted them (`mmsghdr.msg_len`).
    pub len: u32,
    /// Its peer (`mmsghdr.msg_hdr.msg_name`: after recvmmsg the sender, as the kernel
    /// wrote it); `None` without one (a connected socket) and in traces of record ABI
    /// versions before 3.
    pub addr: Option<SockAddr>,
    /// The start of its payload: at most the recording's payload size, empty when the
    /// socket's payloads were not captured.
    pub data: Vec<u8>,
}

impl MmsgMessage {
    /// The messages of a `SC_F_MMSG` data section, at most [`abi::MMSG_MAX`]; a part
    /// that claims more bytes than the section holds ends the list.
    pub fn parse(mut section: &[u8]) -> Vec<MmsgMessage> {
        let mut out = Vec::new();
        while out.len() < abi::MMSG_MAX {
            let Ok((part, rest)) = abi::MmsgPart::read_from_prefix(section) else {
                break;
            };
            let Some((addr, rest)) = rest.split_at_checked(part.addr_len.get() as usize) else {
                break;
            };
            let Some((data, rest)) = rest.split_at_checked(part.data_len.get() as usize) else {
                break;
            };
            out.push(MmsgMessage {
                len: part.msg_len.get(),
                addr: SockAddr::parse(addr),
                data: data.to_vec(),
            });
            section = rest;
        }
        out
    }
}

/// What an io_uring request carries beyond the syscall it does (`struct rec_uring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UringOp {
    /// `IORING_OP_*`.
    pub opcode: u8,
    /// The SQE's user_data.
    pub user_data: u64,
    /// The SQE's fd (openat: its dfd); with `fixed`, an index in the ring's registered
    /// files.
    pub sqe_fd: i32,
    pub fixed: bool,
    /// The SQE asked `IOSQE_CQE_SKIP_SUCCESS`: a success posts no CQE.
    pub skip_success: bool,
    /// Written at submission (a `skip_success` request): its result is unknown, and the
    /// syscall's `ret` is [`RET_UNKNOWN`].
    pub submitted: bool,
}

/// The `ret` of an io_uring request written at submission ([`UringOp::submitted`]): no
/// result is known. Below every result the kernel gives, so what takes `ret >= 0` as
/// success (replay's state, the records view) sees none, and what takes a result in
/// -4095..0 as an errno sees none either.
pub const RET_UNKNOWN: i64 = i64::MIN;

impl Syscall {
    /// The syscall, `None` for an id this build does not know.
    pub fn ksys(&self) -> Option<crate::syscalls::Ksys> {
        crate::syscalls::Ksys::from_id(self.id)
    }

    /// The value a table entry names: a raw argument, a constant, or what the kernel
    /// filled in (0 when the record lacks it: an argument past the sixth, an openat2
    /// whose `open_how` was not read).
    pub fn value(&self, src: Src) -> u64 {
        match (src, &self.filled) {
            (Src::Arg(i), _) => self.args.get(i as usize).copied().unwrap_or(0),
            (Src::Const(v), _) => v,
            (Src::OpenHowFlags, Filled::OpenHow { flags, .. }) => *flags,
            (Src::OpenHowMode, Filled::OpenHow { mode, .. }) => *mode,
            (Src::OpenHowFlags | Src::OpenHowMode, _) => 0,
            (Src::XattrSize, Filled::XattrArgs { size, .. }) => *size as u64,
            (Src::XattrFlags, Filled::XattrArgs { flags, .. }) => *flags as u64,
            (Src::XattrSize | Src::XattrFlags, _) => 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub common: Common,
    pub body: Body,
}

/// The most arguments an exec event shows.
pub const ARGV_SHOWN: usize = 16;

/// How an exec's real executable path (`Body::Exec::exe_path`) is named: a memfd
/// (`/memfd:NAME` on no mounted filesystem, `EXE_F_INTERNAL`) as `memfd:NAME`, as
/// /proc/PID/exe names it, and `true`; any other path as it is, and `false`.
pub fn exe_name(exe_path: &str, exe_flags: u16) -> (String, bool) {
    match exe_path.strip_prefix("/memfd:") {
        Some(name) if exe_flags & abi::EXE_F_INTERNAL != 0 => (format!("memfd:{name}"), true),
        _ => (exe_path.to_owned(), false),
    }
}

/// The argument list a `#!` script's caller passed: its own `argv[0]`, then what follows
/// the script's name in the kernel's rewritten list (`[interpreter, optional argument,
/// script, caller's argv[1..]]`). `None` when the script's name (`filename`, as the
/// caller gave it) is not where binfmt_script puts it.
pub fn caller_argv(argv: &[String], filename: &str, argv0: &str) -> Option<Vec<String>> {
    let at = argv.iter().take(3).skip(1).position(|a| a == filename)? + 1;
    let mut out = vec![argv0.to_owned()];
    out.extend(argv.get(at + 1..).unwrap_or_default().iter().cloned());
    Some(out)
}

/// Bytes from the kernel as text, losslessly: bytes that are not UTF-8 are carried as
/// [`crate::replayer::bytes`] says, and come out escaped with their exact bytes beside them.
pub fn text(bytes: &[u8]) -> String {
    crate::replayer::bytes::text(bytes)
}

/// The `i`th 8-byte word of `bytes` (zeros past its end).
fn word(bytes: &[u8], i: usize) -> [u8; 8] {
    bytes
        .get(i * 8..i * 8 + 8)
        .and_then(|b| b.try_into().ok())
        .unwrap_or_default()
}

/// Decodes every record of a frame. A malformed record ends the frame (nothing after it
/// can be located); what came before it is kept and the error is returned beside it.
pub fn decode_frame(raw: &[u8]) -> (Vec<Event>, Option<abi::AbiError>) {
    decode_frame_with(raw, &syscalls::CATALOGUE)
}

/// [`decode_frame`] with the syscall table `catalogue`: what a syscall record's tail holds
/// (which paths, what the kernel filled in) is read from its row there.
pub fn decode_frame_with(
    raw: &[u8],
    catalogue: &syscalls::Catalogue<'_>,
) -> (Vec<Event>, Option<abi::AbiError>) {
    let mut out = Vec::new();
    for record in Records::new(raw) {
        match record {
            Ok(record) => out.push(decode_record(&record, catalogue)),
            Err(e) => return (out, Some(e)),
        }
    }
    (out, None)
}

/// Where one intact record lies in a frame's raw bytes, and its stamp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    /// The record header's `ts` (CLOCK_BOOTTIME ns).
    pub ts: u64,
    /// Byte offset of the record in the frame's raw bytes.
    pub offset: usize,
    /// The record's length, bytes (its header's `len`).
    pub len: u32,
}

/// Checks the records of a frame's raw bytes without decoding them: the span of each intact
/// record, in order, up to the first malformed one, whose problem comes second. Offsets
/// (the spans' and the problem's) are counted from `base`, where `raw` lies in its frame.
/// [`decode_one`] decodes a span's bytes into the event [`decode_frame`] gives for it.
pub fn scan_frame(raw: &[u8], base: usize) -> (Vec<RecordSpan>, Option<abi::AbiError>) {
    let mut out = Vec::new();
    let mut at = 0;
    while at < raw.len() {
        match abi::check_at(raw, at) {
            Ok((ts, len)) => {
                // A record's length is at least its header's and fits in a frame's u32.
                out.push(RecordSpan {
                    ts,
                    offset: base + at,
                    len: len as u32,
                });
                at += len;
            }
            Err(e) => return (out, Some(in_frame(e, base))),
        }
    }
    (out, None)
}

/// A problem found in a piece of a frame that starts at byte `base`, located in the frame.
fn in_frame(e: abi::AbiError, base: usize) -> abi::AbiError {
    use abi::AbiError::*;
    match e {
        Truncated {
            offset,
            needed,
            available,
        } => Truncated {
            offset: offset.saturating_add(base),
            needed,
            available,
        },
        TooShort { offset, len, min } => TooShort {
            offset: offset.saturating_add(base),
            len,
            min,
        },
        BadTail { offset, tail, len } => BadTail {
            offset: offset.saturating_add(base),
            tail,
            len,
        },
    }
}

/// Decodes the one record that `raw` holds (the bytes of a span [`scan_frame`] gave);
/// `None` when they are not exactly one intact record.
pub fn decode_one(raw: &[u8]) -> Option<Event> {
    let mut records = Records::new(raw);
    let record = records.next()?.ok()?;
    (record.header().len.get() as usize == raw.len())
        .then(|| decode_record(&record, &syscalls::CATALOGUE))
}

fn decode_record(record: &Record<'_>, catalogue: &syscalls::Catalogue<'_>) -> Event {
    let common = Common::from_header(record.header());
    let body = match record {
        Record::Fork { rec: r, task } => Body::Fork {
            child_pid: r.child_pid.get(),
            child_tid: r.child_tid.get(),
            clone_flags: r.clone_flags.get(),
            child_comm: abi::c_str(&r.child_comm),
            task: *task,
        },
        Record::Exec {
            rec,
            task,
            filename,
            args,
            inode,
            exe_path,
            argv0,
        } => {
            let flags = rec.hdr.flags.get();
            let argc = rec.argc.get();
            let mut parts: Vec<&[u8]> = args.split(|&b| b == 0).collect();
            // The area ends with a NUL; a cut area ends mid-argument.
            if parts.last().is_some_and(|p| p.is_empty()) {
                parts.pop();
            }
            let shown = parts.len().min(ARGV_SHOWN);
            Body::Exec {
                old_pid: rec.old_pid.get(),
                task: *task,
                argc,
                filename: text(filename),
                filename_truncated: flags & abi::REC_F_TRUNC0 != 0,
                argv: parts[..shown].iter().map(|p| text(p)).collect(),
                argv_truncated: flags & abi::REC_F_TRUNC1 != 0 || (shown as u64) < argc as u64,
                inode: *inode,
                exe_path: (!exe_path.is_empty()).then(|| text(exe_path)),
                exe_flags: rec.exe_flags.get(),
                caller_argv0: argv0.map(text),
            }
        }
        Record::Exit(r) => {
            let flags = r.exit_flags.get();
            Body::Exit {
                code: r.exit_code.get(),
                group_dead: flags & EXIT_F_GROUP_DEAD != 0,
                group_exit: flags & EXIT_F_GROUP_EXIT != 0,
                by_exec: flags & abi::EXIT_F_EXEC != 0,
            }
        }
        Record::Syscall { rec, tail, compact } => {
            let mut sc = syscall(rec, tail, &common, catalogue, None);
            sc.compact = compact.map(|left| CompactLeft {
                left,
                fd: inode_fd(&sc, &common, catalogue),
            });
            Body::Syscall(Box::new(sc))
        }
        Record::Uring { rec, tail } => {
            let op = UringOp {
                opcode: rec.opcode,
                user_data: rec.user_data.get(),
                sqe_fd: rec.sqe_fd.get(),
                fixed: rec.uring_flags & abi::URING_F_FIXED != 0,
                skip_success: rec.uring_flags & abi::URING_F_SKIP_SUCCESS != 0,
                submitted: rec.uring_flags & abi::URING_F_SUBMITTED != 0,
            };
            Body::Syscall(Box::new(syscall(
                &rec.sc,
                tail,
                &common,
                catalogue,
                Some(op),
            )))
        }
        Record::SockState(r) => Body::SockState(Box::new(*r)),
        Record::SockCounters(r) => Body::SockCounters(r.clone()),
        Record::Cgroup { rec, path } => Body::Cgroup(Box::new(CgroupChange {
            op: rec.op,
            id: rec.cgroup_id.get(),
            hierarchy: rec.hierarchy.get(),
            pid: rec.pid.get(),
            path: text(path),
            truncated: rec.cg_flags.get() & abi::CG_F_TRUNC != 0,
        })),
        Record::Unknown { hdr } => Body::Unknown {
            kind: hdr.kind.get(),
        },
    };
    Event { common, body }
}

/// The fd whose inode a syscall record gives, as the recorder picks it (`emit_syscall`):
/// the return value of a syscall returning a new fd (`D_RET_FD`), else its fd argument;
/// -1 when it has neither or failed.
fn inode_fd(sc: &Syscall, common: &Common, catalogue: &syscalls::Catalogue<'_>) -> i32 {
    let Some(row) = catalogue.row(sc.id) else {
        return -1;
    };
    let capture = if common.compat {
        syscalls::compat_capture(row.capture)
    } else {
        row.capture
    };
    if sc.ret < 0 {
        -1
    } else if capture.flags & syscalls::D_RET_FD != 0 {
        sc.ret as i32
    } else if capture.fd_arg != 0 {
        sc.args
            .get(usize::from(capture.fd_arg) - 1)
            .map_or(-1, |&a| a as i32)
    } else {
        -1
    }
}

/// The syscall of a syscall record (or of an io_uring request, `uring`): what its tail
/// holds is read from its row of `catalogue`.
fn syscall(
    rec: &abi::SyscallRecord,
    tail: &abi::SyscallTail<'_>,
    common: &Common,
    catalogue: &syscalls::Catalogue<'_>,
    uring: Option<UringOp>,
) -> Syscall {
    let id = rec.hdr.syscall.get();
    let capture = catalogue.row(id).map(|s| {
        if common.compat {
            syscalls::compat_capture(s.capture)
        } else {
            s.capture
        }
    });
    let flags = rec.sc_flags.get();
    let mmsg = flags & abi::SC_F_MMSG != 0;
    let messages = if mmsg {
        MmsgMessage::parse(tail.data)
    } else {
        Vec::new()
    };
    // A NULL path pointer (the record's argument, not an io_uring request's), from which
    // nothing was read.
    let args = rec.args.map(|a| a.get());
    let null = |arg: Option<u8>, bytes: &[u8]| {
        uring.is_none()
            && bytes.is_empty()
            && arg.is_some_and(|a| a != 0 && args.get(a as usize - 1) == Some(&0))
    };
    let path_null = [
        null(capture.map(|c| c.path0), tail.path0),
        null(capture.map(|c| c.path1), tail.path1),
    ];
    let path = |present: bool, bytes: &[u8]| present.then(|| text(bytes));
    let filled = match (capture.map(|c| c.out), tail.out.len()) {
        (Some(Out::Stat(_) | Out::Statx(_)), n) if n == size_of::<InodeAttrs>() => {
            InodeAttrs::read_from_bytes(tail.out).map_or(Filled::None, Filled::Stat)
        }
        (Some(Out::FdPair(_)), 8) => Filled::FdPair(
            i32::from_le_bytes(tail.out[..4].try_into().expect("8 bytes")),
            i32::from_le_bytes(tail.out[4..].try_into().expect("8 bytes")),
        ),
        (Some(Out::OpenHow(_)), 24) => {
            let word = |i: usize| {
                u64::from_le_bytes(tail.out[i * 8..i * 8 + 8].try_into().expect("24 bytes"))
            };
            Filled::OpenHow {
                flags: word(0),
                mode: word(1),
                resolve: word(2),
            }
        }
        (Some(Out::Timespec2(_) | Out::Timeval2(_)), 32) => {
            let w = |i: usize| i64::from_le_bytes(word(tail.out, i));
            let usec = matches!(capture.map(|c| c.out), Some(Out::Timeval2(_)));
            let at = |sec: i64, frac: i64| {
                if usec {
                    // A timeval's microseconds; out of range fails with EINVAL.
                    TimeSet::At {
                        sec,
                        nsec: frac.saturating_mul(1000),
                    }
                } else {
                    TimeSet::timespec(sec, frac)
                }
            };
            Filled::Times {
                atime: at(w(0), w(1)),
                mtime: at(w(2), w(3)),
            }
        }
        (Some(Out::Utimbuf(_)), 16) => {
            let w = |i: usize| i64::from_le_bytes(word(tail.out, i));
            Filled::Times {
                atime: TimeSet::At { sec: w(0), nsec: 0 },
                mtime: TimeSet::At { sec: w(1), nsec: 0 },
            }
        }
        (Some(Out::XattrArgs(_)), 16) => {
            let h = |i: usize| u32::from_le_bytes(tail.out[i..i + 4].try_into().expect("16 bytes"));
            Filled::XattrArgs {
                size: h(8),
                flags: h(12),
            }
        }
        (Some(Out::FdInode(_)), n) if n == size_of::<InodeAttrs>() => {
            InodeAttrs::read_from_bytes(tail.out).map_or(Filled::None, Filled::FdInode)
        }
        (Some(Out::Str(_)), n) if n < syscalls::STR_MAX => Filled::Short(text(tail.out)),
        (Some(Out::BpfAttr(_)), n) if n <= syscalls::BPF_ATTR_MAX => {
            Filled::BpfAttr(tail.out.to_vec())
        }
        (Some(Out::Capset(_)), 32) => {
            // The i-th 32-bit word.
            let h = |i: usize| {
                tail.out
                    .get(i * 4..i * 4 + 4)
                    .and_then(|b| b.try_into().ok())
                    .map_or(0, u32::from_le_bytes)
            };
            // struct __user_cap_data_struct[2]: effective, permitted, inheritable.
            let set = |i: usize| u64::from(h(2 + i)) | u64::from(h(5 + i)) << 32;
            Filled::Capset {
                version: h(0),
                pid: h(1) as i32,
                effective: set(0),
                permitted: set(1),
                inheritable: set(2),
            }
        }
        _ => Filled::None,
    };
    Syscall {
        id,
        enter_ts: rec.enter_ts.get(),
        ret: match uring {
            Some(op) if op.submitted => RET_UNKNOWN,
            _ => rec.ret.get(),
        },
        args,
        // An io_uring request's path is in its tail whatever its syscall (an open into a
        // registered file slot has none).
        path0: path(
            (capture.is_some_and(|c| c.path0 != 0) && !path_null[0])
                || (uring.is_some() && !tail.path0.is_empty()),
            tail.path0,
        ),
        path0_truncated: flags & SC_F_PATH0_TRUNC != 0,
        path1: path(
            capture.is_some_and(|c| c.path1 != 0) && !path_null[1],
            tail.path1,
        ),
        path1_truncated: flags & SC_F_PATH1_TRUNC != 0,
        path_null,
        addr: SockAddr::parse(tail.addr),
        filled,
        inode: tail.inode,
        sock: tail.sock,
        data: match messages.first() {
            Some(m) => m.data.clone(),
            None if mmsg => Vec::new(),
            None => tail.data.to_vec(),
        },
        aux: rec.aux.get(),
        messages,
        uring,
        compact: None,
    }
}

#[cfg(test)]
mod tests {
    use super::{caller_argv, MmsgMessage};

    /// A `struct kl_mmsg_part` header.
    fn part(msg_len: u32, data_len: u16) -> Vec<u8> {
        let mut v = msg_len.to_le_bytes().to_vec();
        v.extend_from_slice(&data_len.to_le_bytes());
        v.extend_from_slice(&[0, 0]);
        v
    }

    /// A frame checked in pieces (replay's parallel scan) locates a malformed record in
    /// the frame, not in its piece: the warning names the byte an analyst finds it at.
    #[test]
    fn a_pieces_problem_is_located_in_its_frame() {
        use zerocopy::{FromZeros, IntoBytes};
        let mut hdr = crate::abi::RecordHeader::new_zeroed();
        hdr.kind.set(0x7ff0);
        hdr.len.set(size_of::<crate::abi::RecordHeader>() as u32);
        let mut piece = hdr.as_bytes().to_vec();
        // A record cut short: half a header.
        piece.extend_from_slice(&hdr.as_bytes()[..10]);
        let (spans, problem) = super::scan_frame(&piece, 4096);
        assert_eq!(spans.len(), 1);
        assert_eq!(spans[0].offset, 4096);
        let at = 4096 + hdr.as_bytes().len();
        match problem {
            Some(crate::abi::AbiError::Truncated { offset, .. }) => assert_eq!(offset, at),
            other => panic!("{other:?}"),
        }
        // A length shorter than a header.
        let mut short = hdr;
        short.len.set(3);
        let mut piece = hdr.as_bytes().to_vec();
        piece.extend_from_slice(short.as_bytes());
        match super::scan_frame(&piece, 100).1 {
            Some(crate::abi::AbiError::TooShort { offset, .. }) => {
                assert_eq!(offset, 100 + hdr.as_bytes().len())
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn mmsg_parts_parse_and_hostile_ones_stop() {
        let mut s = part(30, 3);
        s.extend_from_slice(b"abc");
        s.extend(part(58, 0));
        let got = MmsgMessage::parse(&s);
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].len, got[0].data.as_slice()), (30, &b"abc"[..]));
        assert_eq!((got[1].len, got[1].data.len()), (58, 0));
        // A part claiming more bytes than the section has ends the list; a cut header too.
        let mut bad = part(30, 9);
        bad.extend_from_slice(b"abc");
        assert!(MmsgMessage::parse(&bad).is_empty());
        assert_eq!(MmsgMessage::parse(&s[..s.len() - 1]).len(), 1);
        // Never more than MMSG_MAX, whatever the section holds.
        let many: Vec<u8> = (0..100).flat_map(|i| part(i, 0)).collect();
        assert_eq!(MmsgMessage::parse(&many).len(), crate::abi::MMSG_MAX);
    }

    #[test]
    fn mmsg_parts_carry_their_peer_address() {
        // ABI version 3: addr_len bytes of a struct sockaddr_in between header and payload.
        let sin = [2u8, 0, 0x3b, 0xe2, 127, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0];
        let mut s = part(30, 2);
        s[6..8].copy_from_slice(&16u16.to_le_bytes());
        s.extend_from_slice(&sin);
        s.extend_from_slice(b"hi");
        s.extend(part(5, 0));
        let got = MmsgMessage::parse(&s);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].addr,
            Some(super::SockAddr::Inet {
                ip: [127, 0, 0, 9].into(),
                port: 15330
            })
        );
        assert_eq!(got[0].data, b"hi");
        assert_eq!((got[1].len, &got[1].addr), (5, &None));
        // An address longer than the section ends the list.
        let mut cut = part(30, 0);
        cut[6..8].copy_from_slice(&16u16.to_le_bytes());
        cut.extend_from_slice(&sin[..8]);
        assert!(MmsgMessage::parse(&cut).is_empty());
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn caller_argv_undoes_binfmt_script() {
        let argv = strings(&["/bin/sh", "./s.sh", "arg1", "arg2"]);
        assert_eq!(
            caller_argv(&argv, "./s.sh", "innocent"),
            Some(strings(&["innocent", "arg1", "arg2"]))
        );
        // An interpreter argument (`#!/usr/bin/env python3`) comes before the script.
        let argv = strings(&["/usr/bin/env", "python3", "./s.py"]);
        assert_eq!(
            caller_argv(&argv, "./s.py", "s.py"),
            Some(strings(&["s.py"]))
        );
        // The script's name is not where binfmt_script puts it: nothing is made up.
        let argv = strings(&["/bin/sh", "-x", "-e", "./s.sh"]);
        assert_eq!(caller_argv(&argv, "./s.sh", "x"), None);
        assert_eq!(caller_argv(&[], "./s.sh", "x"), None);
    }
}
