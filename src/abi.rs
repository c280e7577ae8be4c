//! Rust mirrors of the record ABI in `bpf/records.h`.
//!
//! The C header is the single source of truth; these types copy it field for field with
//! little-endian integer types (so a trace decodes the same on any host) and a test proves
//! their sizes and offsets equal the types the BPF skeleton generates from the header.
//! Records are read out of untrusted bytes with zerocopy: a short or inconsistent record
//! is an [`AbiError`], never a panic.

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// `KELLECT_ABI_VERSION`: bumped whenever a record layout changes.
pub const ABI_VERSION: u32 = 5;
/// The oldest record ABI version this build reads: version 2 only added what version 1
/// records lack (`REC_F_TASK`, `REC_CGROUP`), version 3 each sendmmsg/recvmmsg message's
/// peer address where versions 1 and 2 have 0 (`MmsgPart::addr_len`), and version 4 a
/// record kind (`REC_SOCK_COUNTERS`) older traces simply lack and lets
/// `SyscallRecord::enter_ts` be 0 (a syscall recorded at its exit alone), and version 5 a
/// record kind (`REC_SYSCALL_C`) older traces lack, so older records decode alike.
pub const MIN_ABI_VERSION: u32 = 1;
/// `KL_COMM_LEN`
pub const COMM_LEN: usize = 16;
/// `KL_PATH_MAX`
pub const PATH_MAX: usize = 4096;
/// `KL_ARGV_MAX`
pub const ARGV_MAX: usize = 4096;
/// `REC_KIND_MAX`: the number of per-kind statistics slots.
pub const KIND_MAX: usize = 16;
/// `KL_STAT_URING_IN_FLIGHT`: the statistics slot (no record kind) of io_uring requests
/// lost because the recorder's table of requests in flight was full (counted as dropped).
pub const STAT_URING_IN_FLIGHT: u16 = 15;
/// `KL_STAT_SOCK_TABLE_FULL`: the statistics slot (no record kind) of sockets whose packets
/// went uncounted because the kernel's table of counted sockets was full (dropped).
pub const STAT_SOCK_TABLE_FULL: u16 = 14;

/// The name of statistics slot `kind` in `kellect info`: its record kind's, or
/// `uring_in_flight_full` for [`STAT_URING_IN_FLIGHT`], `sock_table_full` for
/// [`STAT_SOCK_TABLE_FULL`].
pub fn stat_name(kind: u16) -> String {
    if kind == STAT_URING_IN_FLIGHT {
        "uring_in_flight_full".into()
    } else if kind == STAT_SOCK_TABLE_FULL {
        "sock_table_full".into()
    } else {
        RecordKind::from_raw(kind).name()
    }
}

/// `rec_hdr.flags`: the first string of the tail was cut.
pub const REC_F_TRUNC0: u16 = 1 << 0;
/// `rec_hdr.flags`: the second string of the tail was cut.
pub const REC_F_TRUNC1: u16 = 1 << 1;
/// `rec_hdr.flags` of an exec: the executable's inode ends the tail.
pub const REC_F_INODE: u16 = 1 << 2;
/// `rec_hdr.flags`: context for replay's state, not an event of the recorded processes.
pub const REC_F_CONTEXT: u16 = 1 << 3;
/// `rec_hdr.flags`: a 32-bit (compat) syscall; its id was mapped from the i386 table and
/// its arguments are the i386 argument registers.
pub const REC_F_COMPAT: u16 = 1 << 4;
/// `rec_hdr.flags` of a fork or exec: a [`TaskContext`] follows the fixed part, before the
/// tail. Records without it (traces of ABI version 1) read as before.
pub const REC_F_TASK: u16 = 1 << 5;
/// `rec_exit.exit_flags`: the last thread of its process ended.
pub const EXIT_F_GROUP_DEAD: u32 = 1 << 0;
/// `rec_exit.exit_flags`: ended through exit_group or a fatal signal.
pub const EXIT_F_GROUP_EXIT: u32 = 1 << 1;
/// `rec_exit.exit_flags`: the task was killed by another thread's exec (the kernel's
/// `de_thread`); the process lives on in the exec'ing thread.
pub const EXIT_F_EXEC: u32 = 1 << 2;

/// `enum rec_kind`
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RecordKind {
    Fork,
    Exec,
    Exit,
    Syscall,
    SockState,
    /// An io_uring request (`REC_URING_OP`).
    UringOp,
    /// A cgroup made or a process moved into one (`REC_CGROUP`).
    Cgroup,
    /// A socket's packet counters (`REC_SOCK_COUNTERS`, ABI version 4).
    SockCounters,
    /// A syscall in compact form (`REC_SYSCALL_C`, ABI version 5): decoded into the
    /// [`SyscallRecord`] it stands for, whose header says [`RecordKind::Syscall`].
    SyscallCompact,
    /// A kind this build does not know (a newer recorder): skipped by replay, counted by info.
    Unknown(u16),
}

impl RecordKind {
    pub const fn from_raw(raw: u16) -> Self {
        match raw {
            1 => Self::Fork,
            2 => Self::Exec,
            3 => Self::Exit,
            4 => Self::Syscall,
            5 => Self::SockState,
            6 => Self::UringOp,
            7 => Self::SockCounters,
            8 => Self::Cgroup,
            9 => Self::SyscallCompact,
            other => Self::Unknown(other),
        }
    }

    pub const fn raw(self) -> u16 {
        match self {
            Self::Fork => 1,
            Self::Exec => 2,
            Self::Exit => 3,
            Self::Syscall => 4,
            Self::SockState => 5,
            Self::UringOp => 6,
            Self::SockCounters => 7,
            Self::Cgroup => 8,
            Self::SyscallCompact => 9,
            Self::Unknown(raw) => raw,
        }
    }

    /// The name used by `kellect info` and in statistics.
    pub fn name(self) -> String {
        match self {
            Self::Fork => "proc_fork".into(),
            Self::Exec => "proc_exec".into(),
            Self::Exit => "proc_exit".into(),
            // One record of a syscall, in either form.
            Self::Syscall | Self::SyscallCompact => "syscall".into(),
            Self::SockState => "sock_state".into(),
            Self::UringOp => "uring_op".into(),
            Self::Cgroup => "cgroup".into(),
            Self::SockCounters => "sock_counters".into(),
            Self::Unknown(raw) => format!("kind_{raw}"),
        }
    }
}

/// `struct rec_hdr`, 56 bytes: the common header of every record.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct RecordHeader {
    pub kind: U16,
    pub flags: U16,
    pub len: U32,
    pub ts: U64,
    pub pid: U32,
    pub tid: U32,
    pub ppid: U32,
    pub uid: U32,
    pub gid: U32,
    pub cpu: U16,
    pub syscall: U16,
    pub comm: [u8; COMM_LEN],
}

/// `struct rec_fork`, 88 bytes.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ForkRecord {
    pub hdr: RecordHeader,
    pub child_pid: U32,
    pub child_tid: U32,
    pub clone_flags: U64,
    pub child_comm: [u8; COMM_LEN],
}

/// `struct kl_task`, 24 bytes: a task's cgroup and namespaces (on fork records the
/// child's, on exec records the exec'ing task's), after the fixed part of a record with
/// [`REC_F_TASK`].
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct TaskContext {
    /// The task's cgroup in the default (v2) hierarchy: `task->cgroups->dfl_cgrp->kn->id`,
    /// the cgroup directory's inode number on cgroup2fs (1: the root; 0: unknown).
    pub cgroup_id: U64,
    /// Inode number of the task's pid namespace (`task_active_pid_ns`), 0: unknown.
    pub pid_ns: U32,
    /// Inode number of its mount namespace (`nsproxy->mnt_ns->ns.inum`), 0: unknown.
    pub mnt_ns: U32,
    /// Inode number of its network namespace (`nsproxy->net_ns->ns.inum`), 0: unknown.
    pub net_ns: U32,
    pub _pad: U32,
}

/// `rec_cgroup.op`: the cgroup directory was made (`cgroup:cgroup_mkdir`).
pub const CG_MKDIR: u8 = 1;
/// `rec_cgroup.op`: a process moved into the cgroup (`cgroup:cgroup_attach_task`).
pub const CG_ATTACH: u8 = 2;
/// `rec_cgroup.cg_flags`: the path was cut at [`CGROUP_PATH_MAX`] - 1 bytes.
pub const CG_F_TRUNC: u16 = 1 << 0;
/// `rec_cgroup.cg_flags`: the whole thread group moved.
pub const CG_F_THREADGROUP: u16 = 1 << 1;
/// `KL_CGROUP_PATH_MAX`: most bytes of a cgroup path in a record, its NUL included.
pub const CGROUP_PATH_MAX: usize = 1024;

/// `struct rec_cgroup`, 80 bytes, then the tail: the cgroup's path (`path_len` bytes)
/// from the root of its hierarchy.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CgroupRecord {
    pub hdr: RecordHeader,
    /// The cgroup's kernfs id: its directory's inode number.
    pub cgroup_id: U64,
    /// Attach: the process moved (tgid); mkdir: 0.
    pub pid: U32,
    /// `cgroup_root.hierarchy_id`: 0 the default (v2) hierarchy, 1.. a v1 hierarchy.
    pub hierarchy: U16,
    /// [`CG_MKDIR`] or [`CG_ATTACH`].
    pub op: u8,
    /// Depth below the hierarchy's root (at most 255).
    pub level: u8,
    pub path_len: U16,
    /// `CG_F_*`.
    pub cg_flags: U16,
    pub _pad: U32,
}

/// `struct rec_exec`, 72 bytes, then the tail: filename, argv area, [inode], exe path.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ExecRecord {
    pub hdr: RecordHeader,
    pub old_pid: U32,
    pub argc: U32,
    pub filename_len: U16,
    pub args_len: U16,
    /// Bytes of the executed file's real path at the end of the tail (0: not captured;
    /// traces recorded before it have 0 here).
    pub exe_len: U16,
    /// `EXE_F_*`.
    pub exe_flags: U16,
}

/// `rec_exec.exe_flags`: the exe path was cut (too deep or too long): its top is missing.
pub const EXE_F_TRUNC: u16 = 1 << 0;
/// `rec_exec.exe_flags`: the executed file's inode has no links (`i_nlink` 0).
pub const EXE_F_DELETED: u16 = 1 << 1;
/// `rec_exec.exe_flags`: the executed file is on no mounted filesystem (a kernel-internal
/// mount or a pseudo dentry: `memfd_create` files, whose path is `/memfd:NAME`).
pub const EXE_F_INTERNAL: u16 = 1 << 2;
/// `rec_exec.exe_flags`: a binfmt handler (`#!` script, binfmt_misc) put an interpreter in:
/// the exe path is the interpreter's, the filename the script's.
pub const EXE_F_INTERP: u16 = 1 << 3;
/// `rec_exec.exe_flags`: with [`EXE_F_INTERP`], the rest of the record after the exe path
/// is the caller's `argv[0]` (at most 255 bytes), which the kernel replaced.
pub const EXE_F_ARGV0: u16 = 1 << 4;

/// `struct rec_exit`, 64 bytes.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct ExitRecord {
    pub hdr: RecordHeader,
    pub exit_code: U32,
    pub exit_flags: U32,
}

/// `struct kl_inode`, 64 bytes: inode attributes from the kernel or a stat buffer.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct InodeAttrs {
    pub ino: U64,
    pub size: U64,
    pub dev: U32,
    pub mode: U32,
    pub uid: U32,
    pub gid: U32,
    pub nlink: U32,
    pub fmode: U32,
    pub atime_ns: zerocopy::little_endian::I64,
    pub mtime_ns: zerocopy::little_endian::I64,
    pub ctime_ns: zerocopy::little_endian::I64,
}

/// `rec_syscall.sc_flags`: a struct kl_inode of the fd's file follows the out section.
pub const SC_F_INODE: u16 = 1 << 0;
/// `rec_syscall.sc_flags`: path0 was cut.
pub const SC_F_PATH0_TRUNC: u16 = 1 << 1;
/// `rec_syscall.sc_flags`: path1 was cut.
pub const SC_F_PATH1_TRUNC: u16 = 1 << 2;
/// `rec_syscall.sc_flags`: a struct kl_sock follows the inode section.
pub const SC_F_SOCK: u16 = 1 << 3;
/// `rec_syscall.sc_flags`: sendmmsg/recvmmsg: the data section is the vector's messages,
/// each a [`MmsgPart`] and its payload bytes (without it: the first message's payload).
pub const SC_F_MMSG: u16 = 1 << 4;
/// `KL_MMSG_MAX`: the most messages of one sendmmsg/recvmmsg whose lengths and payloads
/// are captured (the first ones of the vector).
pub const MMSG_MAX: usize = 8;

/// `struct kl_mmsg_part`, 8 bytes: one message of sendmmsg/recvmmsg in the data section of
/// a record with [`SC_F_MMSG`], followed by `data_len` bytes of the message's start.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct MmsgPart {
    /// The message's bytes (`struct mmsghdr` `msg_len`, as the kernel set it).
    pub msg_len: U32,
    /// Payload bytes that follow the address (the rest of the message is left out).
    pub data_len: U16,
    /// Bytes of the message's peer address (`msg_hdr.msg_name`, a `struct sockaddr`, at
    /// most [`MMSG_ADDR_MAX`]) right after this header; 0 without one, and always 0 in
    /// record ABI versions before 3 (where the field was padding).
    pub addr_len: U16,
}

/// `KL_MMSG_ADDR_MAX`: the most bytes of each message's peer address kept (a
/// `struct sockaddr_in6`).
pub const MMSG_ADDR_MAX: usize = 28;

/// `struct kl_sock`, 56 bytes: a socket's identity.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct SockInfo {
    pub sk_id: U64,
    pub family: U16,
    pub protocol: u8,
    pub sock_type: u8,
    pub state: u8,
    pub app: u8,
    pub lport: U16,
    pub rport: U16,
    pub _pad: U16,
    pub ifindex: U32,
    pub laddr: [u8; 16],
    pub raddr: [u8; 16],
}

/// `struct kl_tcp`, 64 bytes: TCP counters of a socket.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct TcpCounters {
    pub bytes_received: U64,
    pub bytes_acked: U64,
    pub bytes_sent: U64,
    pub bytes_retrans: U64,
    pub segs_in: U32,
    pub segs_out: U32,
    pub data_segs_in: U32,
    pub data_segs_out: U32,
    pub total_retrans: U32,
    pub srtt_us: U32,
    pub rto_jiffies: U32,
    pub _pad: U32,
}

/// `struct rec_sock_state`, 184 bytes.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct SockStateRecord {
    pub hdr: RecordHeader,
    pub sock: SockInfo,
    pub event: u8,
    pub oldstate: u8,
    pub newstate: u8,
    pub _pad: [u8; 5],
    pub tcp: TcpCounters,
}

/// `KL_FLAG_COMBOS`: TCP flag combinations counted per direction, indexed by the header's
/// FIN (0x01), SYN (0x02), RST (0x04), PSH (0x08) and ACK (0x10) bits.
pub const FLAG_COMBOS: usize = 32;
/// `KL_DROP_SLOTS`: drop reasons counted per socket (more: `drops_other`).
pub const DROP_SLOTS: usize = 4;
/// `rec_sock_counters.reason`: written with a state change (before its `REC_SOCK_STATE`).
pub const SOCK_CNT_STATE: u8 = 0;
/// `rec_sock_counters.reason`: written with the periodic statistics block.
pub const SOCK_CNT_PERIODIC: u8 = 1;
/// `rec_sock_counters.reason`: the socket is gone; its last values.
pub const SOCK_CNT_GONE: u8 = 2;

/// `struct kl_drop_count`, 8 bytes: packets of one drop reason.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    FromBytes,
    IntoBytes,
    KnownLayout,
    Immutable,
    Unaligned,
)]
#[repr(C)]
pub struct DropCount {
    /// The kernel's `enum skb_drop_reason` (numbers differ between kernels: the Capture
    /// block names them); 0: unused slot.
    pub reason: U32,
    pub count: U32,
}

/// `struct kl_pkt_counters`, 336 bytes: a socket's packets, counted in the kernel
/// (`net:net_dev_queue`, `net:netif_receive_skb`, `skb:kfree_skb`,
/// `sock:sock_rcvqueue_full`; `rx_drops`, `rx_ooo`, `tx_dups` and `rx_queued` read from the
/// socket when the record was written). 32-bit counters wrap.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct PktCounters {
    /// TCP packets sent, by flag combination ([`FLAG_COMBOS`]).
    pub tx_flags: [U32; FLAG_COMBOS],
    /// TCP packets received, by flag combination.
    pub rx_flags: [U32; FLAG_COMBOS],
    /// Packets of the socket the kernel dropped, by reason.
    pub drops: [DropCount; DROP_SLOTS],
    /// IP packets sent (a GSO packet once).
    pub tx_packets: U64,
    /// IP packets received.
    pub rx_packets: U64,
    /// Drops of reasons past the slots.
    pub drops_other: U32,
    /// `sock:sock_rcvqueue_full` hits.
    pub rcvqueue_full: U32,
    /// IPv4 fragments received.
    pub rx_frags: U32,
    /// The socket's `sk_drops` (as `/proc/net/udp` shows it).
    pub rx_drops: U32,
    /// TCP: `tcp_sock.rcv_ooopack`, out-of-order packets received.
    pub rx_ooo: U32,
    /// TCP: `tcp_sock.dsack_dups`, duplicates the peer reported with D-SACK.
    pub tx_dups: U32,
    /// Packets in the socket's receive queue.
    pub rx_queued: U32,
    /// TTL or hop limit of the last packet received (0: none).
    pub rx_ttl: u8,
    pub _pad: [u8; 3],
}

/// `struct rec_sock_counters`, 456 bytes: a socket's packet counters (`REC_SOCK_COUNTERS`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct SockCountersRecord {
    pub hdr: RecordHeader,
    pub sock: SockInfo,
    /// `SOCK_CNT_*`: why it was written.
    pub reason: u8,
    pub _pad: [u8; 7],
    pub pkt: PktCounters,
}

/// `struct rec_syscall`, 136 bytes, then the tail: path0, path1, addr, out, inode.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct SyscallRecord {
    pub hdr: RecordHeader,
    /// `CLOCK_BOOTTIME` ns at the syscall's entry; 0 when it was recorded at its exit alone
    /// (ABI version 4: the syscalls that need no entry program).
    pub enter_ts: U64,
    pub ret: zerocopy::little_endian::I64,
    pub args: [U64; 6],
    pub path0_len: U16,
    pub path1_len: U16,
    pub addr_len: U16,
    pub out_len: U16,
    pub data_len: U16,
    pub sc_flags: U16,
    /// sendmmsg/recvmmsg: bytes of the messages (the first [`MMSG_MAX`]).
    pub aux: U32,
}

/// `rec_hdr.flags` of a compact syscall record: its return value is 4 bytes.
pub const REC_F_RET32: u16 = 1 << 6;
/// `rec_syscall_c.sc_flags`: no inode section; the fd's inode is the one written last for
/// this process and fd number ([`CompactInode::Same`]).
pub const SC_F_INODE_SAME: u16 = 1 << 5;
/// `rec_syscall_c.sc_flags`: the inode section is a [`InodeRef`]: the inode is the one
/// written last for its (dev, ino), but for `fmode` ([`CompactInode::Ref`]).
pub const SC_F_INODE_REF: u16 = 1 << 6;
/// `KL_REFRESH_NS`: a compact record leaves out only what a record at most this many
/// nanoseconds before it (and stamped earlier) wrote.
pub const REFRESH_NS: u64 = 1_000_000_000;
/// `rec_syscall_c.parts` (`SCC_*`): what follows the return value and arguments, in order.
pub const SCC_FACTS: u8 = 1 << 0;
pub const SCC_ENTER: u8 = 1 << 1;
pub const SCC_PATH0: u8 = 1 << 2;
pub const SCC_PATH1: u8 = 1 << 3;
pub const SCC_ADDR: u8 = 1 << 4;
pub const SCC_OUT: u8 = 1 << 5;
pub const SCC_DATA: u8 = 1 << 6;
pub const SCC_AUX: u8 = 1 << 7;

/// `struct rec_syscall_c`, 32 bytes: the fixed part of a compact syscall record
/// (`REC_SYSCALL_C`). Then the return value (8 bytes, 4 with [`REC_F_RET32`]), the
/// arguments by their 2-bit forms in `arg_forms` (0: zero, not stored; 1: 4 bytes
/// zero-extended; 2: 4 bytes sign-extended; 3: 8 bytes), the parts of `parts` (`SCC_*`:
/// [`Facts`], entry time, the tail's section lengths, aux), then a syscall record's tail.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct CompactSyscall {
    pub kind: U16,
    pub flags: U16,
    pub len: U32,
    pub ts: U64,
    pub pid: U32,
    pub tid: U32,
    pub cpu: U16,
    pub syscall: U16,
    pub sc_flags: u8,
    pub parts: u8,
    pub arg_forms: U16,
}

/// `struct kl_facts`, 28 bytes: a task's parent process, real uid and gid and name
/// (`rec_hdr.ppid`, `uid`, `gid`, `comm`), which a compact record carries when they are
/// not the ones the task's previous syscall record carried.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct Facts {
    pub ppid: U32,
    pub uid: U32,
    pub gid: U32,
    pub comm: [u8; COMM_LEN],
}

/// `struct kl_inode_ref`, 16 bytes: an inode by its identity, its attributes being the
/// ones written last for it; `fmode` is the fd's file's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned,
)]
#[repr(C)]
pub struct InodeRef {
    pub ino: U64,
    pub dev: U32,
    pub fmode: U32,
}

/// What a compact syscall record left out, which replay fills in from the records before
/// it (`replayer::state::compact`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compact {
    /// The task's facts were left out: its header's ppid, uid, gid and comm are 0.
    pub facts_left_out: bool,
    pub inode: CompactInode,
}

/// How a compact syscall record gave the inode of its fd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompactInode {
    /// Whole, or none (as a syscall record does).
    AsIs,
    /// The one written last for this process and fd number (`SC_F_INODE_SAME`).
    Same,
    /// The one written last for its (dev, ino), with this `fmode` (`SC_F_INODE_REF`).
    Ref(InodeRef),
}

/// `rec_uring.uring_flags`: the SQE named a registered (fixed) file; `sqe_fd` is its index.
pub const URING_F_FIXED: u8 = 1 << 0;
/// `rec_uring.uring_flags`: the SQE asked `IOSQE_CQE_SKIP_SUCCESS`, so a success posts no
/// CQE (a failure does, and is written as usual).
pub const URING_F_SKIP_SUCCESS: u8 = 1 << 1;
/// `rec_uring.uring_flags`: written at submission (a [`URING_F_SKIP_SUCCESS`] request):
/// `sc.ret` is no result, `sc.hdr.ts` the submission.
pub const URING_F_SUBMITTED: u8 = 1 << 2;

/// `struct rec_uring`, 152 bytes: an io_uring request (`REC_URING_OP`), as a syscall record
/// of the catalogue syscall it does (`sc.hdr.syscall`, 0 for none) and the request's own
/// values; then the tail of a syscall record (path0, inode).
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct UringRecord {
    pub sc: SyscallRecord,
    /// The SQE's user_data.
    pub user_data: U64,
    /// The SQE's fd (openat: its dfd); an index with [`URING_F_FIXED`].
    pub sqe_fd: zerocopy::little_endian::I32,
    /// `IORING_OP_*`.
    pub opcode: u8,
    /// `URING_F_*`.
    pub uring_flags: u8,
    pub _pad: U16,
}

/// The tail sections of a syscall record.
#[derive(Debug, Clone, Copy)]
pub struct SyscallTail<'a> {
    pub path0: &'a [u8],
    pub path1: &'a [u8],
    pub addr: &'a [u8],
    pub out: &'a [u8],
    pub inode: Option<InodeAttrs>,
    pub sock: Option<SockInfo>,
    pub data: &'a [u8],
}

/// `struct kind_stats`: one CPU's counters for one record kind.
#[derive(Debug, Clone, Copy, Default, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct KindStats {
    pub emitted: U64,
    pub dropped: U64,
}

/// Why bytes inside a frame do not form a record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbiError {
    #[error(
        "record at byte {offset} of its frame is cut: {needed} bytes needed, {available} left"
    )]
    Truncated {
        offset: usize,
        needed: usize,
        available: usize,
    },
    #[error("record at byte {offset} of its frame claims length {len}, shorter than its kind's fixed part ({min})")]
    TooShort {
        offset: usize,
        len: usize,
        min: usize,
    },
    #[error(
        "record at byte {offset} of its frame: tail lengths ({tail}) exceed the record ({len})"
    )]
    BadTail {
        offset: usize,
        tail: usize,
        len: usize,
    },
}

/// One record, decoded from a frame; borrowed tails point into the frame's bytes.
#[derive(Debug, Clone)]
pub enum Record<'a> {
    Fork {
        rec: ForkRecord,
        /// The child's cgroup and namespaces ([`REC_F_TASK`]; `None` in older traces).
        task: Option<TaskContext>,
    },
    Exec {
        rec: ExecRecord,
        /// The task's cgroup and namespaces ([`REC_F_TASK`]; `None` in older traces).
        task: Option<TaskContext>,
        filename: &'a [u8],
        args: &'a [u8],
        inode: Option<InodeAttrs>,
        /// The executed file's real path (`exe_len` bytes; empty when not captured).
        exe_path: &'a [u8],
        /// The caller's `argv[0]` of a `#!` script's exec (`EXE_F_ARGV0`: the rest).
        argv0: Option<&'a [u8]>,
    },
    Exit(ExitRecord),
    Syscall {
        rec: SyscallRecord,
        tail: SyscallTail<'a>,
        /// A compact record (`REC_SYSCALL_C`): what it left out (`rec` has 0 there).
        compact: Option<Compact>,
    },
    SockState(SockStateRecord),
    /// A socket's packet counters.
    SockCounters(Box<SockCountersRecord>),
    /// An io_uring request; its tail is a syscall record's.
    Uring {
        rec: UringRecord,
        tail: SyscallTail<'a>,
    },
    /// A cgroup made or a process moved into one, with the cgroup's path.
    Cgroup {
        rec: CgroupRecord,
        path: &'a [u8],
    },
    Unknown {
        hdr: RecordHeader,
    },
}

impl Record<'_> {
    pub fn header(&self) -> &RecordHeader {
        match self {
            Record::Fork { rec, .. } => &rec.hdr,
            Record::Exec { rec, .. } => &rec.hdr,
            Record::Exit(r) => &r.hdr,
            Record::Syscall { rec, .. } => &rec.hdr,
            Record::SockState(r) => &r.hdr,
            Record::SockCounters(r) => &r.hdr,
            Record::Uring { rec, .. } => &rec.sc.hdr,
            Record::Cgroup { rec, .. } => &rec.hdr,
            Record::Unknown { hdr } => hdr,
        }
    }
}

/// The stamp (`ts`, CLOCK_BOOTTIME ns) and length (bytes) of the record at `offset` in
/// `bytes`, a frame's raw records: `Ok` exactly when [`Records`] decodes a record there,
/// and otherwise the error it gives. A compact syscall record (`REC_SYSCALL_C`, most of a
/// trace) is measured without being read into the syscall record it stands for (its parts
/// and tail sections only have to fit in its length); any other record, and every one that
/// does not check, is decoded. Panics when `offset` is past the end of `bytes`, as
/// decoding does.
pub fn check_at(bytes: &[u8], offset: usize) -> Result<(u64, usize), AbiError> {
    let rest = &bytes[offset..];
    if let Ok((prefix, _)) = RecordPrefix::read_from_prefix(rest) {
        let len = prefix.len.get() as usize;
        if RecordKind::from_raw(prefix.kind.get()) == RecordKind::SyscallCompact
            && len >= size_of::<CompactSyscall>()
            && rest.get(..len).is_some_and(compact_fits)
        {
            return Ok((prefix.ts.get(), len));
        }
    }
    decode_at(bytes, offset).map(|(record, len)| (record.header().ts.get(), len))
}

/// Whether a compact syscall record's parts and tail sections fit in its bytes (`body`,
/// its `len` bytes): exactly when [`compact_syscall`] reads it. The parts come in its order
/// (ret, arguments, facts, entry time, section lengths, aux), then the sections.
fn compact_fits(body: &[u8]) -> bool {
    let Ok((c, rest)) = CompactSyscall::read_from_prefix(body) else {
        return false;
    };
    let (parts, forms) = (c.parts, c.arg_forms.get());
    let mut need: usize = if c.flags.get() & REC_F_RET32 != 0 {
        4
    } else {
        8
    };
    for i in 0..6 {
        need += [0, 4, 4, 8][usize::from((forms >> (2 * i)) & 3)];
    }
    if parts & SCC_FACTS != 0 {
        need += size_of::<Facts>();
    }
    if parts & SCC_ENTER != 0 {
        need += 8;
    }
    // Section lengths: path0, path1, addr, out, inode, sock, data.
    let mut lens = [0usize; 7];
    for (i, part) in [
        (0, SCC_PATH0),
        (1, SCC_PATH1),
        (2, SCC_ADDR),
        (3, SCC_OUT),
        (6, SCC_DATA),
    ] {
        if parts & part != 0 {
            let Some(&[lo, hi]) = rest.get(need..need + 2) else {
                return false;
            };
            lens[i] = usize::from(u16::from_le_bytes([lo, hi]));
            need += 2;
        }
    }
    if parts & SCC_AUX != 0 {
        need += 4;
    }
    let Some(tail) = rest.get(need..) else {
        return false;
    };
    let sc_flags = u16::from(c.sc_flags);
    lens[4] = if sc_flags & SC_F_INODE_REF != 0 {
        size_of::<InodeRef>()
    } else if sc_flags & SC_F_INODE != 0 {
        size_of::<InodeAttrs>()
    } else {
        0
    };
    if sc_flags & SC_F_SOCK != 0 {
        lens[5] = size_of::<SockInfo>();
    }
    lens.iter().sum::<usize>() <= tail.len()
}

/// Iterates over the records packed back to back in a decompressed frame.
///
/// Stops at the first malformed record (after yielding its error): once a length is wrong,
/// nothing after it in the frame can be located.
pub struct Records<'a> {
    bytes: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Records<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Records {
            bytes,
            offset: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = Result<Record<'a>, AbiError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.bytes.len() {
            return None;
        }
        let result = decode_at(self.bytes, self.offset);
        match &result {
            Ok((_, len)) => self.offset += len,
            Err(_) => self.failed = true,
        }
        Some(result.map(|(record, _)| record))
    }
}

/// Decodes the record at `offset`; returns it and its length.
fn decode_at(bytes: &[u8], offset: usize) -> Result<(Record<'_>, usize), AbiError> {
    let rest = &bytes[offset..];
    let truncated = |needed: usize| AbiError::Truncated {
        offset,
        needed,
        available: rest.len(),
    };
    let (prefix, _) =
        RecordPrefix::read_from_prefix(rest).map_err(|_| truncated(size_of::<RecordPrefix>()))?;
    let len = prefix.len.get() as usize;
    let kind = RecordKind::from_raw(prefix.kind.get());
    let fixed = |min: usize| -> Result<(), AbiError> {
        if len < min {
            Err(AbiError::TooShort { offset, len, min })
        } else {
            Ok(())
        }
    };
    if kind == RecordKind::SyscallCompact {
        fixed(size_of::<CompactSyscall>())?;
        if len > rest.len() {
            return Err(truncated(len));
        }
        let (rec, tail, compact) = compact_syscall(&rest[..len]).ok_or(AbiError::BadTail {
            offset,
            tail: len + 1,
            len,
        })?;
        return Ok((
            Record::Syscall {
                rec,
                tail,
                compact: Some(compact),
            },
            len,
        ));
    }
    let (hdr, _) =
        RecordHeader::read_from_prefix(rest).map_err(|_| truncated(size_of::<RecordHeader>()))?;
    if len > rest.len() {
        return Err(truncated(len));
    }
    let body = &rest[..len];
    let record = match kind {
        RecordKind::Fork => {
            fixed(size_of::<ForkRecord>())?;
            let (rec, rest) = ForkRecord::read_from_prefix(body).expect("length checked");
            let (task, _) = task_context(&hdr, rest, offset, len)?;
            Record::Fork { rec, task }
        }
        RecordKind::Exec => {
            fixed(size_of::<ExecRecord>())?;
            let (rec, tail) = ExecRecord::read_from_prefix(body).expect("length checked");
            let (task, tail) = task_context(&hdr, tail, offset, len)?;
            let flen = rec.filename_len.get() as usize;
            let alen = rec.args_len.get() as usize;
            if flen + alen > tail.len() {
                return Err(AbiError::BadTail {
                    offset,
                    tail: flen + alen,
                    len,
                });
            }
            let rest = &tail[flen + alen..];
            let (inode, rest) = if rec.hdr.flags.get() & REC_F_INODE != 0 {
                let (inode, rest) =
                    InodeAttrs::read_from_prefix(rest).map_err(|_| AbiError::BadTail {
                        offset,
                        tail: flen + alen + size_of::<InodeAttrs>(),
                        len,
                    })?;
                (Some(inode), rest)
            } else {
                (None, rest)
            };
            let elen = rec.exe_len.get() as usize;
            let exe_path = rest.get(..elen).ok_or(AbiError::BadTail {
                offset,
                tail: tail.len() - rest.len() + elen,
                len,
            })?;
            let argv0 = (rec.exe_flags.get() & EXE_F_ARGV0 != 0).then(|| &rest[elen..]);
            Record::Exec {
                rec,
                task,
                filename: &tail[..flen],
                args: &tail[flen..flen + alen],
                inode,
                exe_path,
                argv0,
            }
        }
        RecordKind::Exit => {
            fixed(size_of::<ExitRecord>())?;
            Record::Exit(
                ExitRecord::read_from_prefix(body)
                    .expect("length checked")
                    .0,
            )
        }
        RecordKind::Syscall => {
            fixed(size_of::<SyscallRecord>())?;
            let (rec, rest) = SyscallRecord::read_from_prefix(body).expect("length checked");
            let tail = syscall_tail(&rec, rest).ok_or(AbiError::BadTail {
                offset,
                tail: syscall_tail_len(&rec),
                len,
            })?;
            Record::Syscall {
                rec,
                tail,
                compact: None,
            }
        }
        RecordKind::SyscallCompact => unreachable!("decoded above"),
        RecordKind::UringOp => {
            fixed(size_of::<UringRecord>())?;
            let (rec, rest) = UringRecord::read_from_prefix(body).expect("length checked");
            let tail = syscall_tail(&rec.sc, rest).ok_or(AbiError::BadTail {
                offset,
                tail: syscall_tail_len(&rec.sc),
                len,
            })?;
            Record::Uring { rec, tail }
        }
        RecordKind::SockState => {
            fixed(size_of::<SockStateRecord>())?;
            Record::SockState(
                SockStateRecord::read_from_prefix(body)
                    .expect("length checked")
                    .0,
            )
        }
        RecordKind::SockCounters => {
            fixed(size_of::<SockCountersRecord>())?;
            Record::SockCounters(Box::new(
                SockCountersRecord::read_from_prefix(body)
                    .expect("length checked")
                    .0,
            ))
        }
        RecordKind::Cgroup => {
            fixed(size_of::<CgroupRecord>())?;
            let (rec, rest) = CgroupRecord::read_from_prefix(body).expect("length checked");
            let plen = rec.path_len.get() as usize;
            let path = rest.get(..plen).ok_or(AbiError::BadTail {
                offset,
                tail: plen,
                len,
            })?;
            Record::Cgroup { rec, path }
        }
        RecordKind::Unknown(_) => {
            fixed(size_of::<RecordHeader>())?;
            Record::Unknown { hdr }
        }
    };
    Ok((record, len))
}

/// The [`TaskContext`] at the start of `rest` (what follows a fork's or exec's fixed part)
/// when the header says there is one ([`REC_F_TASK`]), and what follows it.
fn task_context<'a>(
    hdr: &RecordHeader,
    rest: &'a [u8],
    offset: usize,
    len: usize,
) -> Result<(Option<TaskContext>, &'a [u8]), AbiError> {
    if hdr.flags.get() & REC_F_TASK == 0 {
        return Ok((None, rest));
    }
    let (task, rest) = TaskContext::read_from_prefix(rest).map_err(|_| AbiError::BadTail {
        offset,
        tail: size_of::<TaskContext>(),
        len,
    })?;
    Ok((Some(task), rest))
}

/// The lengths of a syscall record's tail sections, in order: path0, path1, addr, out,
/// inode, sock, data.
fn syscall_tail_lens(rec: &SyscallRecord) -> [usize; 7] {
    let flags = rec.sc_flags.get();
    let section = |flag: u16, size: usize| if flags & flag != 0 { size } else { 0 };
    [
        rec.path0_len.get() as usize,
        rec.path1_len.get() as usize,
        rec.addr_len.get() as usize,
        rec.out_len.get() as usize,
        section(SC_F_INODE, size_of::<InodeAttrs>()),
        section(SC_F_SOCK, size_of::<SockInfo>()),
        rec.data_len.get() as usize,
    ]
}

/// The bytes a syscall record's tail sections claim.
fn syscall_tail_len(rec: &SyscallRecord) -> usize {
    syscall_tail_lens(rec).iter().sum()
}

/// A syscall record's tail sections in `rest` (`None` when they claim more than it holds).
fn syscall_tail<'a>(rec: &SyscallRecord, rest: &'a [u8]) -> Option<SyscallTail<'a>> {
    sections(syscall_tail_lens(rec), rest)
}

/// A compact syscall record (`REC_SYSCALL_C`, `body` its `len` bytes) as the syscall record
/// it stands for: the header's ppid, uid, gid and comm are 0 when it left the facts out,
/// the arguments it left out 0, the inode section empty when it left it out (or gave an
/// [`InodeRef`]). `None` when its parts or tail claim more bytes than it has.
///
/// [`compact_fits`] measures the same parts in the same order without reading them: a
/// change to the layout changes both (the tests `checking_a_compact_record_agrees_with_
/// decoding_it` and `checking_mutated_fixture_frames_agrees_with_decoding_them` fail when
/// they disagree).
fn compact_syscall(body: &[u8]) -> Option<(SyscallRecord, SyscallTail<'_>, Compact)> {
    let (c, mut rest) = CompactSyscall::read_from_prefix(body).ok()?;
    let mut take = |n: usize| -> Option<&[u8]> {
        let (head, tail) = rest.split_at_checked(n)?;
        rest = tail;
        Some(head)
    };
    let mut rec = <SyscallRecord as zerocopy::FromZeros>::new_zeroed();
    let flags = c.flags.get();
    rec.hdr.kind.set(RecordKind::Syscall.raw());
    rec.hdr.flags.set(flags & !REC_F_RET32);
    rec.hdr.len.set(c.len.get());
    rec.hdr.ts = c.ts;
    rec.hdr.pid = c.pid;
    rec.hdr.tid = c.tid;
    rec.hdr.cpu = c.cpu;
    rec.hdr.syscall = c.syscall;
    let ret = if flags & REC_F_RET32 != 0 {
        i64::from(i32::from_le_bytes(take(4)?.try_into().ok()?))
    } else {
        i64::from_le_bytes(take(8)?.try_into().ok()?)
    };
    rec.ret.set(ret);
    let forms = c.arg_forms.get();
    for (i, arg) in rec.args.iter_mut().enumerate() {
        let word = |b: &[u8]| u32::from_le_bytes(b.try_into().expect("4 bytes"));
        let value = match (forms >> (2 * i)) & 3 {
            0 => 0,
            1 => u64::from(word(take(4)?)),
            2 => word(take(4)?) as i32 as i64 as u64,
            _ => u64::from_le_bytes(take(8)?.try_into().ok()?),
        };
        arg.set(value);
    }
    let parts = c.parts;
    if parts & SCC_FACTS != 0 {
        let facts = Facts::read_from_bytes(take(size_of::<Facts>())?).ok()?;
        rec.hdr.ppid = facts.ppid;
        rec.hdr.uid = facts.uid;
        rec.hdr.gid = facts.gid;
        rec.hdr.comm = facts.comm;
    }
    if parts & SCC_ENTER != 0 {
        rec.enter_ts
            .set(u64::from_le_bytes(take(8)?.try_into().ok()?));
    }
    let mut len16 = |part: u8| -> Option<u16> {
        Some(if parts & part != 0 {
            u16::from_le_bytes(take(2)?.try_into().ok()?)
        } else {
            0
        })
    };
    rec.path0_len.set(len16(SCC_PATH0)?);
    rec.path1_len.set(len16(SCC_PATH1)?);
    rec.addr_len.set(len16(SCC_ADDR)?);
    rec.out_len.set(len16(SCC_OUT)?);
    rec.data_len.set(len16(SCC_DATA)?);
    if parts & SCC_AUX != 0 {
        rec.aux.set(u32::from_le_bytes(take(4)?.try_into().ok()?));
    }
    let sc_flags = u16::from(c.sc_flags);
    rec.sc_flags
        .set(sc_flags & !(SC_F_INODE_SAME | SC_F_INODE_REF));
    let mut lens = syscall_tail_lens(&rec);
    let inode = if sc_flags & SC_F_INODE_REF != 0 {
        // The reference takes the inode section's place.
        lens[4] = size_of::<InodeRef>();
        let at: usize = lens[..4].iter().sum();
        let bytes = rest.get(at..at + size_of::<InodeRef>())?;
        CompactInode::Ref(InodeRef::read_from_bytes(bytes).ok()?)
    } else if sc_flags & SC_F_INODE_SAME != 0 {
        CompactInode::Same
    } else {
        CompactInode::AsIs
    };
    // A reference is no inode section (InodeAttrs does not read from its 16 bytes).
    let tail = sections(lens, rest)?;
    Some((
        rec,
        tail,
        Compact {
            facts_left_out: parts & SCC_FACTS == 0,
            inode,
        },
    ))
}

/// A compact syscall record (`raw`, one whole `REC_SYSCALL_C`) written out again as the
/// `REC_SYSCALL` record it stands for, with what it left out given: the task's `facts` and
/// the fd's `inode` (`None`: none, or unknown). Other records come back as they are. `None`
/// when `raw` is not one intact record.
pub fn expand_compact(raw: &[u8], facts: Facts, inode: Option<InodeAttrs>) -> Option<Vec<u8>> {
    let (record, len) = decode_at(raw, 0).ok()?;
    let Record::Syscall {
        mut rec,
        tail,
        compact: Some(compact),
    } = record
    else {
        return Some(raw.to_vec());
    };
    if compact.facts_left_out {
        rec.hdr.ppid = facts.ppid;
        rec.hdr.uid = facts.uid;
        rec.hdr.gid = facts.gid;
        rec.hdr.comm = facts.comm;
    }
    let inode = match compact.inode {
        CompactInode::AsIs => tail.inode,
        CompactInode::Same | CompactInode::Ref(_) => inode,
    };
    let mut flags = rec.sc_flags.get() & !SC_F_INODE;
    if inode.is_some() {
        flags |= SC_F_INODE;
    }
    rec.sc_flags.set(flags);
    let mut out = Vec::with_capacity(len + size_of::<InodeAttrs>() + size_of::<SyscallRecord>());
    out.extend_from_slice(rec.as_bytes());
    for part in [tail.path0, tail.path1, tail.addr, tail.out] {
        out.extend_from_slice(part);
    }
    if let Some(i) = &inode {
        out.extend_from_slice(i.as_bytes());
    }
    if let Some(sock) = &tail.sock {
        out.extend_from_slice(sock.as_bytes());
    }
    out.extend_from_slice(tail.data);
    let total = u32::try_from(out.len()).ok()?;
    out[4..8].copy_from_slice(&total.to_le_bytes());
    Some(out)
}

/// The tail sections of lengths `lens` (path0, path1, addr, out, inode, sock, data) at the
/// start of `rest` (`None` when they claim more than it holds).
fn sections(lens: [usize; 7], rest: &[u8]) -> Option<SyscallTail<'_>> {
    if lens.iter().sum::<usize>() > rest.len() {
        return None;
    }
    let mut parts = [&rest[..0]; 7];
    let mut at = 0;
    for (part, n) in parts.iter_mut().zip(lens) {
        *part = &rest[at..at + n];
        at += n;
    }
    Some(SyscallTail {
        path0: parts[0],
        path1: parts[1],
        addr: parts[2],
        out: parts[3],
        inode: InodeAttrs::read_from_bytes(parts[4]).ok(),
        sock: SockInfo::read_from_bytes(parts[5]).ok(),
        data: parts[6],
    })
}

/// The first 24 bytes of every record, in either header form ([`RecordHeader`],
/// [`CompactSyscall`]): kind, flags, length, stamp, tgid and tid.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct RecordPrefix {
    pub kind: U16,
    pub flags: U16,
    pub len: U32,
    pub ts: U64,
    pub pid: U32,
    pub tid: U32,
}

/// The record's first fields, read without decoding its body: what the recorder needs on
/// its hot path (timestamp, kind, length).
pub fn peek_header(bytes: &[u8]) -> Option<RecordPrefix> {
    RecordPrefix::read_from_prefix(bytes).ok().map(|(h, _)| h)
}

/// The fixed part's length of a record of this kind, for the shortest one there is.
pub fn min_record_len(kind: u16) -> usize {
    if RecordKind::from_raw(kind) == RecordKind::SyscallCompact {
        size_of::<CompactSyscall>()
    } else {
        size_of::<RecordHeader>()
    }
}

/// The kellect syscall id of a syscall record in either form, read without decoding it.
pub fn peek_syscall(bytes: &[u8]) -> Option<u16> {
    let prefix = peek_header(bytes)?;
    let at = match RecordKind::from_raw(prefix.kind.get()) {
        RecordKind::Syscall => std::mem::offset_of!(RecordHeader, syscall),
        RecordKind::SyscallCompact => std::mem::offset_of!(CompactSyscall, syscall),
        _ => return None,
    };
    let b = bytes.get(at..at + 2)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

/// A NUL-padded C string field as text, losslessly (`replayer::bytes::text`: kernel
/// strings are bytes).
pub fn c_str(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    crate::replayer::bytes::text(&bytes[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use zerocopy::FromZeros;

    fn header(kind: u16, len: u32) -> RecordHeader {
        let mut h = RecordHeader::new_zeroed();
        h.kind = kind.into();
        h.len = len.into();
        h.ts = 42u64.into();
        h
    }

    #[test]
    fn sizes_match_records_h() {
        assert_eq!(size_of::<RecordHeader>(), 56);
        assert_eq!(size_of::<ForkRecord>(), 88);
        assert_eq!(size_of::<ExecRecord>(), 72);
        assert_eq!(size_of::<ExitRecord>(), 64);
        assert_eq!(size_of::<KindStats>(), 16);
        assert_eq!(size_of::<SyscallRecord>(), 136);
        assert_eq!(size_of::<InodeAttrs>(), 64);
        assert_eq!(size_of::<SockInfo>(), 56);
        assert_eq!(size_of::<TcpCounters>(), 64);
        assert_eq!(size_of::<SockStateRecord>(), 184);
        assert_eq!(size_of::<PktCounters>(), 336);
        assert_eq!(size_of::<SockCountersRecord>(), 456);
        assert_eq!(size_of::<TaskContext>(), 24);
        assert_eq!(size_of::<CgroupRecord>(), 80);
    }

    #[test]
    fn task_context_and_cgroup_records_decode() {
        let mut task = TaskContext::new_zeroed();
        task.cgroup_id = 4242u64.into();
        task.pid_ns = 0xeffffffcu32.into();
        task.mnt_ns = 0xf0000000u32.into();
        task.net_ns = 0xf0000098u32.into();
        // A fork with the context, then an exec with it before its tail, then one without.
        let mut fork = ForkRecord::new_zeroed();
        fork.hdr = header(1, 88 + 24);
        fork.hdr.flags = REC_F_TASK.into();
        let mut bytes = fork.as_bytes().to_vec();
        bytes.extend_from_slice(task.as_bytes());
        let mut exec = ExecRecord::new_zeroed();
        exec.hdr = header(2, 72 + 24 + 7);
        exec.hdr.flags = REC_F_TASK.into();
        exec.filename_len = 7.into();
        bytes.extend_from_slice(exec.as_bytes());
        bytes.extend_from_slice(task.as_bytes());
        bytes.extend_from_slice(b"/bin/ls");
        let mut cg = CgroupRecord::new_zeroed();
        cg.hdr = header(8, 80 + 4);
        cg.op = CG_ATTACH;
        cg.pid = 7u32.into();
        cg.path_len = 4.into();
        bytes.extend_from_slice(cg.as_bytes());
        bytes.extend_from_slice(b"/a/b");
        let records: Vec<_> = Records::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert!(matches!(&records[0], Record::Fork { task: Some(t), .. } if *t == task));
        let Record::Exec {
            task: t, filename, ..
        } = &records[1]
        else {
            panic!("{:?}", records[1]);
        };
        assert_eq!((*t, *filename), (Some(task), &b"/bin/ls"[..]));
        let Record::Cgroup { rec, path } = &records[2] else {
            panic!("{:?}", records[2]);
        };
        assert_eq!((rec.pid.get(), *path), (7, &b"/a/b"[..]));
        // A context flagged in a record too short for it, a path longer than the record.
        fork.hdr.len = 88.into();
        let r: Vec<_> = Records::new(fork.as_bytes()).collect();
        assert!(matches!(r[..], [Err(AbiError::BadTail { tail: 24, .. })]));
        cg.hdr.len = 80.into();
        let r: Vec<_> = Records::new(cg.as_bytes()).collect();
        assert!(matches!(r[..], [Err(AbiError::BadTail { tail: 4, .. })]));
    }

    #[test]
    fn exec_tail_round_trip() {
        let mut rec = ExecRecord::new_zeroed();
        rec.hdr = header(2, (72 + 7 + 9) as u32);
        rec.filename_len = 7.into();
        rec.args_len = 9.into();
        let mut bytes = rec.as_bytes().to_vec();
        bytes.extend_from_slice(b"/bin/ls");
        bytes.extend_from_slice(b"ls\0-la\0/\0");
        let mut exit = ExitRecord::new_zeroed();
        exit.hdr = header(3, 64);
        exit.exit_code = (7 << 8).into();
        bytes.extend_from_slice(exit.as_bytes());

        let records: Vec<_> = Records::new(&bytes).collect::<Result<_, _>>().unwrap();
        assert_eq!(records.len(), 2);
        let Record::Exec {
            filename,
            args,
            exe_path,
            ..
        } = &records[0]
        else {
            panic!("expected exec, got {:?}", records[0]);
        };
        assert_eq!(*filename, b"/bin/ls");
        assert_eq!(*args, b"ls\0-la\0/\0");
        assert!(exe_path.is_empty(), "no exe path in a record without one");
        assert!(matches!(&records[1], Record::Exit(e) if e.exit_code.get() == 7 << 8));
    }

    /// A compact record: ret 4 bytes, fd 3 (u32 form), count 8 bytes, a path, a REF inode.
    fn compact_bytes(parts_cut: usize) -> Vec<u8> {
        let mut c = CompactSyscall::new_zeroed();
        c.kind.set(RecordKind::SyscallCompact.raw());
        c.flags.set(REC_F_RET32);
        c.ts.set(1_000);
        c.pid.set(7);
        c.tid.set(8);
        c.syscall.set(2);
        c.sc_flags = SC_F_INODE_REF as u8;
        c.parts = SCC_FACTS | SCC_PATH0;
        c.arg_forms.set(2 | (3 << 2) | (1 << 4));
        let mut v = c.as_bytes().to_vec();
        v.extend_from_slice(&(-2i32).to_le_bytes()); // ret
        v.extend_from_slice(&(-100i32).to_le_bytes()); // arg 0, sign-extended
        v.extend_from_slice(&0x7fff_0000_1000u64.to_le_bytes()); // arg 1
        v.extend_from_slice(&0o2u32.to_le_bytes()); // arg 2
        let mut facts = Facts::new_zeroed();
        facts.ppid.set(1);
        facts.uid.set(1000);
        facts.gid.set(100);
        facts.comm[..3].copy_from_slice(b"cat");
        v.extend_from_slice(facts.as_bytes());
        v.extend_from_slice(&4u16.to_le_bytes()); // path0_len
        v.extend_from_slice(b"/etc");
        let r = InodeRef {
            ino: 42.into(),
            dev: 9.into(),
            fmode: 0x1d.into(),
        };
        v.extend_from_slice(r.as_bytes());
        v.truncate(v.len() - parts_cut);
        let len = v.len() as u32;
        v[4..8].copy_from_slice(&len.to_le_bytes());
        v
    }

    #[test]
    fn compact_records_read_as_the_syscall_record_they_stand_for() {
        let raw = compact_bytes(0);
        let (record, len) = decode_at(&raw, 0).unwrap();
        assert_eq!(len, raw.len());
        let Record::Syscall { rec, tail, compact } = record else {
            panic!("a syscall record");
        };
        assert_eq!(rec.hdr.kind.get(), RecordKind::Syscall.raw());
        assert_eq!(rec.hdr.len.get() as usize, raw.len());
        assert_eq!((rec.hdr.pid.get(), rec.hdr.tid.get()), (7, 8));
        assert_eq!((rec.hdr.uid.get(), rec.hdr.gid.get()), (1000, 100));
        assert_eq!(c_str(&rec.hdr.comm), "cat");
        assert_eq!(rec.ret.get(), -2);
        let args: Vec<u64> = rec.args.iter().map(|a| a.get()).collect();
        assert_eq!(args, [(-100i64) as u64, 0x7fff_0000_1000, 2, 0, 0, 0]);
        assert_eq!(tail.path0, b"/etc");
        assert_eq!(tail.inode, None);
        let compact = compact.unwrap();
        assert!(!compact.facts_left_out);
        assert!(matches!(compact.inode, CompactInode::Ref(r) if r.ino.get() == 42));
        // Written out whole, it reads as the same record with the inode given.
        let mut inode = InodeAttrs::new_zeroed();
        inode.ino.set(42);
        inode.size.set(5);
        let whole = expand_compact(&raw, Facts::new_zeroed(), Some(inode)).unwrap();
        let (again, n) = decode_at(&whole, 0).unwrap();
        assert_eq!(n, whole.len());
        let Record::Syscall {
            rec: r2,
            tail: t2,
            compact: None,
        } = again
        else {
            panic!("a whole syscall record");
        };
        assert_eq!(r2.args, rec.args);
        assert_eq!(r2.hdr.comm, rec.hdr.comm);
        assert_eq!(r2.ret.get(), -2);
        assert_eq!(t2.path0, b"/etc");
        assert_eq!(t2.inode, Some(inode));
    }

    #[test]
    fn cut_compact_records_are_errors() {
        // Every cut of the parts and tail, and a length below the fixed part.
        for cut in 1..=(compact_bytes(0).len() - size_of::<CompactSyscall>()) {
            let raw = compact_bytes(cut);
            let r: Vec<_> = Records::new(&raw).collect();
            assert!(
                matches!(r[..], [Err(AbiError::BadTail { .. })]),
                "cut {cut}"
            );
        }
        let mut raw = compact_bytes(0);
        raw[4..8].copy_from_slice(&20u32.to_le_bytes());
        let r: Vec<_> = Records::new(&raw).collect();
        assert!(matches!(r[..], [Err(AbiError::TooShort { min: 32, .. })]));
    }

    /// A xorshift64 sequence from `state` (not 0): test inputs that are the same each run.
    fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// Compact records of every shape (parts, argument forms, inode and socket sections),
    /// whole, cut or padded by a few bytes, or with one byte changed: [`check_at`] gives
    /// what decoding gives (the stamp and length, or the same error).
    #[test]
    fn checking_a_compact_record_agrees_with_decoding_it() {
        let mut next = xorshift(0x9e37_79b9_7f4a_7c15);
        let (mut fit, mut failed) = (0, 0);
        for round in 0..60_000 {
            let mut c = CompactSyscall::new_zeroed();
            c.kind.set(RecordKind::SyscallCompact.raw());
            c.flags.set(if next().is_multiple_of(2) {
                REC_F_RET32
            } else {
                0
            });
            c.ts.set(next());
            c.sc_flags = next() as u8;
            c.parts = next() as u8;
            c.arg_forms.set(next() as u16);
            let mut v = c.as_bytes().to_vec();
            v.extend_from_slice(&[7u8; 8][..if next().is_multiple_of(2) { 4 } else { 8 }]);
            let mut sections = 0usize;
            for i in 0..6 {
                v.resize(
                    v.len() + [0, 4, 4, 8][(c.arg_forms.get() >> (2 * i)) as usize & 3],
                    1,
                );
            }
            let parts = c.parts;
            if parts & SCC_FACTS != 0 {
                v.resize(v.len() + size_of::<Facts>(), b'x');
            }
            if parts & SCC_ENTER != 0 {
                v.resize(v.len() + 8, 2);
            }
            for part in [SCC_PATH0, SCC_PATH1, SCC_ADDR, SCC_OUT, SCC_DATA] {
                if parts & part != 0 {
                    let n = (next() % 40) as u16;
                    sections += usize::from(n);
                    v.extend_from_slice(&n.to_le_bytes());
                }
            }
            if parts & SCC_AUX != 0 {
                v.resize(v.len() + 4, 3);
            }
            let sc = u16::from(c.sc_flags);
            if sc & SC_F_INODE_REF != 0 {
                sections += size_of::<InodeRef>();
            } else if sc & SC_F_INODE != 0 {
                sections += size_of::<InodeAttrs>();
            }
            if sc & SC_F_SOCK != 0 {
                sections += size_of::<SockInfo>();
            }
            v.resize(v.len() + sections, b'/');
            // Whole, or cut or padded by up to 4 bytes, or one byte changed.
            let delta = (next() % 9) as isize - 4;
            let len = (v.len() as isize + delta).max(1) as usize;
            v.resize(len, 0);
            if round % 5 == 0 {
                let at = next() as usize % v.len();
                v[at] = next() as u8;
            }
            if v.len() >= 8 {
                let len = v.len() as u32;
                v[4..8].copy_from_slice(&len.to_le_bytes());
            }
            // A record after it, when it checks: its length leads to the next.
            v.extend_from_slice(header(3, 64).as_bytes());
            v.resize(v.len() + 8, 0);
            let decoded = decode_at(&v, 0).map(|(r, len)| (r.header().ts.get(), len));
            assert_eq!(check_at(&v, 0), decoded, "round {round}: {v:?}");
            match decoded {
                Ok(_) => fit += 1,
                Err(_) => failed += 1,
            }
        }
        // Both outcomes were tried many times.
        assert!(
            fit > 10_000 && failed > 10_000,
            "{fit} fit, {failed} failed"
        );
    }

    /// Real frames of every fixture, decompressed, then attacked record by record: lengths
    /// set to every value around the fixed parts and the true length (and huge ones), kinds
    /// swapped to the compact kind and back, a compact record's `parts`, `sc_flags` and
    /// `arg_forms` set to every value, bytes changed at random, frames cut at every byte of
    /// a record. For each: [`check_at`] gives what decoding gives at every offset tried,
    /// and `scan_frame` gives the spans and the error the `Records` loop it replaced gave.
    #[test]
    fn checking_mutated_fixture_frames_agrees_with_decoding_them() {
        use crate::format::TraceReader;
        use crate::replayer::input::decode::scan_frame;

        // The loop scan_frame was before 97f0c94 (base 0, where in_frame changes nothing).
        fn old_scan(raw: &[u8]) -> (Vec<(u64, usize, u32)>, Option<AbiError>) {
            let mut out = Vec::new();
            let mut at = 0;
            for record in Records::new(raw) {
                match record {
                    Ok(record) => {
                        let h = record.header();
                        out.push((h.ts.get(), at, h.len.get()));
                        at += h.len.get() as usize;
                    }
                    Err(e) => return (out, Some(e)),
                }
            }
            (out, None)
        }
        fn new_scan(raw: &[u8]) -> (Vec<(u64, usize, u32)>, Option<AbiError>) {
            let (spans, e) = scan_frame(raw, 0);
            (spans.iter().map(|s| (s.ts, s.offset, s.len)).collect(), e)
        }
        let mut stats = [0usize; 2]; // [agreeing Ok, agreeing Err] of check_at
        let mut check = |bytes: &[u8], offset: usize, what: &dyn Fn() -> String| {
            let decoded = decode_at(bytes, offset).map(|(r, len)| (r.header().ts.get(), len));
            let checked = check_at(bytes, offset);
            assert_eq!(
                checked,
                decoded,
                "{}: offset {offset} of {:02x?}",
                what(),
                &bytes[offset..bytes.len().min(offset + 160)]
            );
            stats[usize::from(decoded.is_err())] += 1;
        };
        let mut scans = 0usize;
        let mut scan = |bytes: &[u8], what: &dyn Fn() -> String| {
            assert_eq!(
                new_scan(bytes),
                old_scan(bytes),
                "{}: {:02x?}",
                what(),
                bytes
            );
            scans += 1;
        };

        let fixtures: [(&str, &[u8]); 15] = [
            ("bytes", include_bytes!("../fixtures/bytes.kz")),
            ("catalogue", include_bytes!("../fixtures/catalogue.kz")),
            ("compat", include_bytes!("../fixtures/compat.kz")),
            ("container", include_bytes!("../fixtures/container.kz")),
            ("exec", include_bytes!("../fixtures/exec.kz")),
            ("files", include_bytes!("../fixtures/files.kz")),
            ("files2", include_bytes!("../fixtures/files2.kz")),
            ("lean", include_bytes!("../fixtures/lean.kz")),
            ("mmsg", include_bytes!("../fixtures/mmsg.kz")),
            ("packets", include_bytes!("../fixtures/packets.kz")),
            ("process", include_bytes!("../fixtures/process.kz")),
            ("records", include_bytes!("../fixtures/records.kz")),
            ("system", include_bytes!("../fixtures/system.kz")),
            ("uring", include_bytes!("../fixtures/uring.kz")),
            ("uring_skip", include_bytes!("../fixtures/uring_skip.kz")),
        ];
        let mut next = xorshift(0x2545_f491_4f6c_dd1d);
        let (mut records, mut compact) = (0usize, 0usize);
        for (name, file) in fixtures {
            let reader = TraceReader::new(file).unwrap();
            for (f, block) in reader.scan().frames().enumerate() {
                let raw = crate::format::decode_frame(block.payload).unwrap().1;
                // The frame as it is, and cut at random.
                let (spans, e) = old_scan(&raw);
                assert!(e.is_none(), "{name} frame {f}: {e:?}");
                scan(&raw, &|| format!("{name} frame {f}"));
                for _ in 0..8 {
                    let cut = next() as usize % (raw.len() + 1);
                    scan(&raw[..cut], &|| format!("{name} frame {f} cut at {cut}"));
                }
                for (i, &(_, at, len)) in spans.iter().enumerate() {
                    records += 1;
                    let len = len as usize;
                    // The record and up to two after it, or the frame's rest.
                    let end = spans.get(i + 3).map_or(raw.len(), |s| s.1);
                    let window = &raw[at..end];
                    let kind = u16::from_le_bytes([raw[at], raw[at + 1]]);
                    let is_compact = RecordKind::from_raw(kind) == RecordKind::SyscallCompact;
                    compact += usize::from(is_compact);
                    let what = |m: &str| format!("{name} frame {f} record {i} (kind {kind}): {m}");
                    // Cut at every byte of the record (and a little past it).
                    for cut in 0..=window.len().min(len + 2) {
                        check(&window[..cut], 0, &|| what(&format!("cut at {cut}")));
                        if cut % 7 == 0 || cut + 2 >= len {
                            scan(&window[..cut], &|| what(&format!("cut at {cut}")));
                        }
                    }
                    // The record at offset 0 and at its place in the frame, at the very end.
                    check(&raw, at, &|| what("in place"));
                    check(&raw, raw.len(), &|| what("at the end"));
                    let mut w = window.to_vec();
                    // Lengths: every value up to the fixed parts, around the true length,
                    // and beyond the window (all of them for every 4th record).
                    let mut lens: Vec<u32> = (0..=200).collect();
                    for d in 0..=16u32 {
                        lens.push((len as u32).wrapping_add(d));
                        lens.push((len as u32).wrapping_sub(d));
                        lens.push((window.len() as u32).wrapping_add(d));
                        lens.push((window.len() as u32).wrapping_sub(d));
                    }
                    lens.extend([u32::MAX, u32::MAX - 1, 1 << 31, 1 << 16, 0xffff, 0x1_0001]);
                    for kind_now in [kind, 9, 4, 1, 2, 3, 5, 6, 7, 8, 0, 10, 0xffff] {
                        w[0..2].copy_from_slice(&kind_now.to_le_bytes());
                        // Every length for its own kind and the compact one; for the
                        // others, those at their fixed parts' edges and the true one.
                        let own = (kind_now == kind || kind_now == 9) && i % 4 == 0;
                        let edges = |l: &&u32| {
                            own || matches!(**l, 23 | 24 | 55..=57 | 63..=65 | 87..=89)
                                || l.abs_diff(len as u32) <= 1
                                || **l == u32::MAX
                        };
                        for &l in lens.iter().filter(edges) {
                            w[4..8].copy_from_slice(&l.to_le_bytes());
                            check(&w, 0, &|| what(&format!("kind {kind_now}, len {l}")));
                            if own && (l % 5 == 0 || l.abs_diff(len as u32) <= 2) {
                                scan(&w, &|| what(&format!("kind {kind_now}, len {l}")));
                            }
                        }
                        w[4..8].copy_from_slice(&(len as u32).to_le_bytes());
                    }
                    w.copy_from_slice(window);
                    // As a compact record (each compact one, and every 32nd other one
                    // rewritten as one): every parts and sc_flags, some arg_forms, at the
                    // true length and at lengths around it.
                    let mut w = window.to_vec();
                    w[0..2].copy_from_slice(&9u16.to_le_bytes());
                    if w.len() >= 32 && (is_compact || i % 32 == 0) {
                        for v in 0..=255u8 {
                            for byte in [28usize, 29] {
                                let old = w[byte];
                                w[byte] = v;
                                for d in [0i64, -1, 1, -2, 2, -8, 8, -20, 20] {
                                    let l = (len as i64 + d).max(0) as u32;
                                    w[4..8].copy_from_slice(&l.to_le_bytes());
                                    check(&w, 0, &|| what(&format!("byte {byte} = {v}, len {l}")));
                                }
                                w[4..8].copy_from_slice(&(len as u32).to_le_bytes());
                                if v % 17 == 0 {
                                    scan(&w, &|| what(&format!("byte {byte} = {v}")));
                                }
                                w[byte] = old;
                            }
                            let forms = (next() as u16) | if v < 8 { 0xffff } else { 0 };
                            w[30..32].copy_from_slice(&forms.to_le_bytes());
                            for byte in [28usize, 29] {
                                w[byte] = next() as u8;
                            }
                            let flags = next() as u16 & (REC_F_RET32 | 0x3f);
                            w[2..4].copy_from_slice(&flags.to_le_bytes());
                            check(&w, 0, &|| {
                                what(&format!("forms {forms:#x}, flags {flags:#x}"))
                            });
                            w.copy_from_slice(window);
                            w[0..2].copy_from_slice(&9u16.to_le_bytes());
                        }
                    }
                    // Random bytes changed, mostly in the fixed part and the parts after it.
                    let mut w = window.to_vec();
                    for round in 0..24 {
                        let n = 1 + next() as usize % 4;
                        for _ in 0..n {
                            let span = if next().is_multiple_of(4) {
                                w.len()
                            } else {
                                w.len().min(96)
                            };
                            let at = next() as usize % span;
                            w[at] = match next() % 4 {
                                0 => 0,
                                1 => 0xff,
                                2 => w[at] ^ (1 << (next() % 8)),
                                _ => next() as u8,
                            };
                        }
                        if round % 3 == 0 {
                            w[0..2].copy_from_slice(&9u16.to_le_bytes());
                        }
                        check(&w, 0, &|| what(&format!("round {round}")));
                        scan(&w, &|| what(&format!("round {round}")));
                        w.copy_from_slice(window);
                    }
                }
            }
        }
        let [ok, err] = stats;
        eprintln!(
            "{records} records ({compact} compact), {ok} ok and {err} failed checks, {scans} scans"
        );
        assert!(
            compact > 40 && ok > 1_000_000 && err > 1_000_000,
            "{records} {compact} {ok} {err}"
        );
    }

    #[test]
    fn malformed_records_are_errors() {
        // Cut header: not even the fields every record starts with.
        let h = header(3, 64);
        let r: Vec<_> = Records::new(&h.as_bytes()[..20]).collect();
        assert!(matches!(
            r[..],
            [Err(AbiError::Truncated { needed: 24, .. })]
        ));
        // The common fields, but not the whole header.
        let r: Vec<_> = Records::new(&h.as_bytes()[..40]).collect();
        assert!(matches!(
            r[..],
            [Err(AbiError::Truncated { needed: 56, .. })]
        ));
        // Length beyond the frame.
        let r: Vec<_> = Records::new(h.as_bytes()).collect();
        assert!(matches!(
            r[..],
            [Err(AbiError::Truncated { needed: 64, .. })]
        ));
        // Length shorter than the kind's fixed part.
        let h = header(1, 56);
        let r: Vec<_> = Records::new(h.as_bytes()).collect();
        assert!(matches!(r[..], [Err(AbiError::TooShort { min: 88, .. })]));
        // Zero length must not loop forever, for a kind unknown or compact.
        let h = header(99, 0);
        let r: Vec<_> = Records::new(h.as_bytes()).collect();
        assert!(matches!(r[..], [Err(AbiError::TooShort { min: 56, .. })]));
        let h = header(9, 0);
        let r: Vec<_> = Records::new(h.as_bytes()).collect();
        assert!(matches!(r[..], [Err(AbiError::TooShort { min: 32, .. })]));
        // Tail lengths beyond the record.
        let mut rec = ExecRecord::new_zeroed();
        rec.hdr = header(2, 72);
        rec.filename_len = 5.into();
        let r: Vec<_> = Records::new(rec.as_bytes()).collect();
        assert!(matches!(r[..], [Err(AbiError::BadTail { .. })]));
        // An exe path longer than what is left of the record.
        let mut rec = ExecRecord::new_zeroed();
        rec.hdr = header(2, 72 + 4);
        rec.filename_len = 2.into();
        rec.exe_len = 3.into();
        let mut bytes = rec.as_bytes().to_vec();
        bytes.extend_from_slice(b"/a/b");
        let r: Vec<_> = Records::new(&bytes).collect();
        assert!(matches!(r[..], [Err(AbiError::BadTail { tail: 5, .. })]));
    }

    #[test]
    fn unknown_kinds_are_skipped_by_length() {
        let mut bytes = header(77, 60).as_bytes().to_vec();
        bytes.extend_from_slice(&[0xAA; 4]);
        bytes.extend_from_slice(header(3, 64).as_bytes());
        bytes.extend_from_slice(&[0; 8]);
        let kinds: Vec<_> = Records::new(&bytes)
            .map(|r| RecordKind::from_raw(r.unwrap().header().kind.get()))
            .collect();
        assert_eq!(kinds, [RecordKind::Unknown(77), RecordKind::Exit]);
    }
}
