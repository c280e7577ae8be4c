//! The syscalls kellect records: their stable kellect ids (`enum ksys` in bpf/records.h),
//! names, event groups, native numbers on each architecture, and how the kernel side
//! captures each one (`struct sc_desc`). Recorder and replayer share this table; records
//! carry only the kellect id, so a trace decodes the same whatever its architecture.

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Event groups (`G_*` in records.h), selected with `kellect record -e`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Group {
    File,
    Process,
    Network,
    Permission,
    /// The system's state rather than one file's or process's: kernel modules, BPF
    /// programs and maps, mounts.
    System,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::File,
        Group::Process,
        Group::Network,
        Group::Permission,
        Group::System,
    ];

    pub const fn bit(self) -> u8 {
        match self {
            Group::File => 1 << 0,
            Group::Process => 1 << 1,
            Group::Network => 1 << 2,
            Group::Permission => 1 << 3,
            Group::System => 1 << 4,
        }
    }

    pub const fn name(self) -> &'static str {
        match self {
            Group::File => "file",
            Group::Process => "process",
            Group::Network => "network",
            Group::Permission => "permission",
            Group::System => "system",
        }
    }

    pub fn from_name(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == name)
    }
}

/// `D_*` flags of `struct sc_desc`.
pub const D_RET_FD: u8 = 1 << 0;
pub const D_CONTEXT: u8 = 1 << 1;
pub const D_FAILURE_ONLY: u8 = 1 << 2;
pub const D_FCNTL_DUP: u8 = 1 << 3;
/// Compat only: the ids in arguments 1..3 are 16-bit (`0xffff`: -1); widened at entry.
pub const D_UID16: u8 = 1 << 4;
/// Compat only (`mmap2`): argument 6 is in 4096-byte pages; turned into bytes at entry.
pub const D_PGOFF: u8 = 1 << 5;
/// Compat only: a 64-bit value split over arguments 2 (low) and 3 (high), joined into 2.
pub const D_SPLIT64_2: u8 = 1 << 6;
/// Compat only: a 64-bit value split over arguments 4 (low) and 5 (high), joined into 4.
pub const D_SPLIT64_4: u8 = 1 << 7;

/// Where a socket address is (`A_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Addr {
    None,
    /// Pointer in one argument, length value in another.
    In(u8, u8),
    /// Pointer in one argument, length pointer in another (filled by the kernel).
    Out(u8, u8),
    /// A `struct msghdr` (or `mmsghdr`) pointer.
    Msg(u8),
}

/// A buffer the kernel fills (`O_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    None,
    Stat(u8),
    Statx(u8),
    FdPair(u8),
    /// `struct open_how` of openat2, read whatever the result.
    OpenHow(u8),
    /// `struct __kernel_timespec[2]` (utimensat), read at entry: the times asked for.
    Timespec2(u8),
    /// `struct __kernel_old_timeval[2]` (utimes, futimesat), read at entry.
    Timeval2(u8),
    /// `struct utimbuf` (utime), read at entry.
    Utimbuf(u8),
    /// `struct xattr_args` (setxattrat), read at entry: the value's size and flags.
    XattrArgs(u8),
    /// The inode of the fd in this argument, read at exit on success (the other end of
    /// an in-kernel copy).
    FdInode(u8),
    /// A short user string in this argument (at most [`STR_MAX`] - 1 bytes), read at
    /// exit whatever the result: mount's filesystem type, prctl's new name.
    Str(u8),
    /// bpf's `union bpf_attr` in this argument: its first `min(size, 64)` bytes, `size`
    /// being the next argument, read at exit whatever the result.
    BpfAttr(u8),
    /// capset's header in this argument (8 bytes) and its two data structures in the
    /// next (24 bytes), read at exit whatever the result.
    Capset(u8),
}

/// Most bytes of an [`Out::Str`] string, its NUL included (`KL_STR_MAX` in records.h).
pub const STR_MAX: usize = 64;
/// Most bytes of bpf's attribute union captured ([`Out::BpfAttr`], `KL_BPF_ATTR`).
pub const BPF_ATTR_MAX: usize = 64;
/// The bpf() commands recorded, bit N for `enum bpf_cmd` N (`KL_BPF_CMDS` in records.h):
/// those that create, load, attach, detach, pin, open or run BPF objects. Map element
/// reads and writes, id walks and queries are not recorded.
pub const BPF_CMDS_RECORDED: u64 = 0x001f_704e_67e1;
/// The prctl options recorded (`enum kl_prctl` in records.h), with their names: those
/// that change what a process is called, what may inspect or trace it, its privileges
/// and its syscall filtering.
pub const PRCTL_RECORDED: &[(u64, &str)] = &[
    (4, "PR_SET_DUMPABLE"),
    (8, "PR_SET_KEEPCAPS"),
    (15, "PR_SET_NAME"),
    (22, "PR_SET_SECCOMP"),
    (24, "PR_CAPBSET_DROP"),
    (28, "PR_SET_SECUREBITS"),
    (35, "PR_SET_MM"),
    (36, "PR_SET_CHILD_SUBREAPER"),
    (38, "PR_SET_NO_NEW_PRIVS"),
    (47, "PR_CAP_AMBIENT"),
    (59, "PR_SET_SYSCALL_USER_DISPATCH"),
    (65, "PR_SET_MDWE"),
    (0x5961_6d61, "PR_SET_PTRACER"),
];
/// `PR_SET_NAME`: prctl's option that renames the calling thread.
pub const PR_SET_NAME: u64 = 15;

/// Where the data of a socket read or write is (`P_*`), for payload capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    None,
    /// A buffer pointer argument; the length is the return value.
    Buf(u8),
    /// A `struct iovec` array argument: its first element.
    Iov(u8),
    /// A `struct msghdr` argument: its iovecs.
    Msg(u8),
    /// A `struct mmsghdr` array argument: the first message's iovecs.
    Mmsg(u8),
}

/// `enum sc_addr_kind` (records.h): `sc_desc.addr_kind` of [`Addr`].
pub const A_NONE: u8 = 0;
pub const A_IN: u8 = 1;
pub const A_OUT: u8 = 2;
pub const A_MSG: u8 = 3;
/// `enum sc_out_kind` (records.h): `sc_desc.out_kind` of [`Out`].
pub const O_NONE: u8 = 0;
pub const O_STAT: u8 = 1;
pub const O_STATX: u8 = 2;
pub const O_FDPAIR: u8 = 3;
pub const O_OPENHOW: u8 = 4;
pub const O_TIMESPEC2: u8 = 5;
pub const O_TIMEVAL2: u8 = 6;
pub const O_UTIMBUF: u8 = 7;
pub const O_XATTR_ARGS: u8 = 8;
pub const O_FD_INODE: u8 = 9;
pub const O_STR: u8 = 10;
pub const O_BPF_ATTR: u8 = 11;
pub const O_CAPSET: u8 = 12;
/// `enum sc_payload_kind` (records.h): `sc_desc.payload_kind` of [`Payload`].
pub const P_NONE: u8 = 0;
pub const P_BUF: u8 = 1;
pub const P_IOV: u8 = 2;
pub const P_MSG: u8 = 3;
pub const P_MMSG: u8 = 4;
/// `enum kl_app` (records.h): the application protocol whose payloads a socket's
/// records carry (values of the BPF "ports" map and of `kl_sock.app`; 0: none).
pub const APP_NONE: u8 = 0;
pub const APP_DNS: u8 = 1;
pub const APP_HTTP: u8 = 2;
pub const APP_SYSLOG: u8 = 3;

/// `struct sc_desc` (records.h): how the BPF side captures one syscall, the value of its
/// "syscalls" array map. 16 bytes in the host's byte order (a map value, never stored in
/// a trace); argument numbers are 1-based (0: none). A test checks its size and offsets
/// against the C layout (and, in a recording build, against the skeleton's type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct ScDesc {
    /// kellect id (`enum ksys`).
    pub ksys: u16,
    /// [`Group::bit`] (`enum sc_group`).
    pub group: u8,
    /// `D_*` (`enum sc_flag`).
    pub flags: u8,
    pub path0: u8,
    pub path1: u8,
    pub fd_arg: u8,
    /// `A_*`.
    pub addr_kind: u8,
    pub addr_arg: u8,
    pub addr_len_arg: u8,
    /// `O_*`.
    pub out_kind: u8,
    pub out_arg: u8,
    /// `P_*`.
    pub payload_kind: u8,
    pub payload_arg: u8,
    /// Arguments the syscall takes ([`nargs`]): the recorder stores none past them.
    pub nargs: u8,
    pub _pad: u8,
}

impl ScDesc {
    /// The descriptor of a row: its id, group and capture.
    pub fn new(s: &Syscall) -> ScDesc {
        let c = &s.capture;
        let (addr_kind, addr_arg, addr_len_arg) = match c.addr {
            Addr::None => (A_NONE, 0, 0),
            Addr::In(a, l) => (A_IN, a, l),
            Addr::Out(a, l) => (A_OUT, a, l),
            Addr::Msg(a) => (A_MSG, a, 0),
        };
        let (out_kind, out_arg) = match c.out {
            Out::None => (O_NONE, 0),
            Out::Stat(a) => (O_STAT, a),
            Out::Statx(a) => (O_STATX, a),
            Out::FdPair(a) => (O_FDPAIR, a),
            Out::OpenHow(a) => (O_OPENHOW, a),
            Out::Timespec2(a) => (O_TIMESPEC2, a),
            Out::Timeval2(a) => (O_TIMEVAL2, a),
            Out::Utimbuf(a) => (O_UTIMBUF, a),
            Out::XattrArgs(a) => (O_XATTR_ARGS, a),
            Out::FdInode(a) => (O_FD_INODE, a),
            Out::Str(a) => (O_STR, a),
            Out::BpfAttr(a) => (O_BPF_ATTR, a),
            Out::Capset(a) => (O_CAPSET, a),
        };
        let (payload_kind, payload_arg) = match c.payload {
            Payload::None => (P_NONE, 0),
            Payload::Buf(a) => (P_BUF, a),
            Payload::Iov(a) => (P_IOV, a),
            Payload::Msg(a) => (P_MSG, a),
            Payload::Mmsg(a) => (P_MMSG, a),
        };
        ScDesc {
            ksys: s.id,
            group: s.group.bit(),
            flags: c.flags,
            path0: c.path0,
            path1: c.path1,
            fd_arg: c.fd_arg,
            addr_kind,
            addr_arg,
            addr_len_arg,
            out_kind,
            out_arg,
            payload_kind,
            payload_arg,
            nargs: nargs(s.id),
            _pad: 0,
        }
    }

    /// Its bytes, as the map stores them.
    pub fn to_bytes(self) -> [u8; 16] {
        zerocopy::transmute!(self)
    }
}

/// Arguments each catalogue syscall takes in the kernel (`SYSCALL_DEFINEn`), by kellect id
/// from 1: those past it are whatever the caller left in the registers.
const NARGS: [u8; 120] = [
    3, 4, 4, 2, 1, 3, 2, 4, 5, 2, 2, 3, 4, 2, 2, 2, 4, 5, 1, 1, 2, 3, 1, 3, 4, 3, 5, 6, 3, 4, 3, 5,
    6, 1, 2, 3, 3, 1, 2, 2, 2, 5, 2, 3, 0, 0, 5, 2, 3, 5, 1, 1, 1, 2, 2, 2, 3, 4, 6, 3, 3, 6, 3, 4,
    6, 3, 5, 3, 4, 3, 3, 4, 3, 1, 2, 3, 1, 2, 3, 3, 3, 3, 5, 4, 2, 3, 2, 5, 5, 5, 6, 2, 2, 2, 4, 6,
    4, 6, 4, 2, 2, 6, 4, 5, 3, 3, 2, 3, 1, 2, 5, 2, 2, 5, 3, 5, 3, 2, 1, 2,
];

/// The arguments syscall `id` takes (its `SYSCALL_DEFINEn`); all six for an id this build
/// does not know.
pub fn nargs(id: u16) -> u8 {
    usize::from(id)
        .checked_sub(1)
        .and_then(|i| NARGS.get(i))
        .copied()
        .unwrap_or(6)
}

/// The event types of the catalogue (Kellect's 38, the owner, time, extended attribute,
/// in-kernel copy and memfd events of the file group, io_uring's, and the prctl, namespace,
/// capability, root, module, BPF and mount events added after them): what a syscall (or a
/// `sched_process_*` record) becomes in the events view. [`EventType::name`] is the
/// `event_type` value of the output and the name `replay --event-type` takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventType {
    FileCreate,
    FileDelete,
    FileRename,
    FileOpen,
    FileChmod,
    FileStat,
    FileChdir,
    FileMkdir,
    FileRmdir,
    FileRead,
    FileWrite,
    FileDup,
    FileClose,
    FileTruncate,
    FileLink,
    FileSymlink,
    FileChown,
    FileUtime,
    FileSetxattr,
    FileRemovexattr,
    FileCopy,
    ProcessFork,
    ProcessExec,
    ProcessClone,
    ProcessExit,
    ProcessPipe,
    ProcessKill,
    ProcessPtrace,
    ProcessMmap,
    ProcessMprotect,
    NetConnect,
    NetSendto,
    NetRecvfrom,
    NetAccept,
    NetBind,
    NetGetpeername,
    NetSocketpair,
    PermSetuid,
    PermSetreuid,
    PermSetresuid,
    PermSetgid,
    PermSetregid,
    PermSetresgid,
    FileMemfd,
    IoUringSetup,
    IoUringEnter,
    IoUringRegister,
    IoUringOp,
    ProcessPrctl,
    ProcessUnshare,
    ProcessSetns,
    PermCapset,
    FileChroot,
    SysModuleLoad,
    SysModuleUnload,
    SysBpf,
    SysMount,
    SysUmount,
    SysPivotRoot,
}

impl EventType {
    /// Every event type, by group, in the order of docs/EVENTS.md.
    pub const ALL: [EventType; 59] = [
        EventType::FileCreate,
        EventType::FileDelete,
        EventType::FileRename,
        EventType::FileOpen,
        EventType::FileChmod,
        EventType::FileStat,
        EventType::FileChdir,
        EventType::FileMkdir,
        EventType::FileRmdir,
        EventType::FileRead,
        EventType::FileWrite,
        EventType::FileDup,
        EventType::FileClose,
        EventType::FileTruncate,
        EventType::FileLink,
        EventType::FileSymlink,
        EventType::FileChown,
        EventType::FileUtime,
        EventType::FileSetxattr,
        EventType::FileRemovexattr,
        EventType::FileCopy,
        EventType::ProcessFork,
        EventType::ProcessExec,
        EventType::ProcessClone,
        EventType::ProcessExit,
        EventType::ProcessPipe,
        EventType::ProcessKill,
        EventType::ProcessPtrace,
        EventType::ProcessMmap,
        EventType::ProcessMprotect,
        EventType::NetConnect,
        EventType::NetSendto,
        EventType::NetRecvfrom,
        EventType::NetAccept,
        EventType::NetBind,
        EventType::NetGetpeername,
        EventType::NetSocketpair,
        EventType::PermSetuid,
        EventType::PermSetreuid,
        EventType::PermSetresuid,
        EventType::PermSetgid,
        EventType::PermSetregid,
        EventType::PermSetresgid,
        EventType::FileMemfd,
        EventType::IoUringSetup,
        EventType::IoUringEnter,
        EventType::IoUringRegister,
        EventType::IoUringOp,
        EventType::ProcessPrctl,
        EventType::ProcessUnshare,
        EventType::ProcessSetns,
        EventType::PermCapset,
        EventType::FileChroot,
        EventType::SysModuleLoad,
        EventType::SysModuleUnload,
        EventType::SysBpf,
        EventType::SysMount,
        EventType::SysUmount,
        EventType::SysPivotRoot,
    ];

    /// The name in the output (`"file_open"`).
    pub const fn name(self) -> &'static str {
        match self {
            EventType::FileCreate => "file_create",
            EventType::FileDelete => "file_delete",
            EventType::FileRename => "file_rename",
            EventType::FileOpen => "file_open",
            EventType::FileChmod => "file_chmod",
            EventType::FileStat => "file_stat",
            EventType::FileChdir => "file_chdir",
            EventType::FileMkdir => "file_mkdir",
            EventType::FileRmdir => "file_rmdir",
            EventType::FileRead => "file_read",
            EventType::FileWrite => "file_write",
            EventType::FileDup => "file_dup",
            EventType::FileClose => "file_close",
            EventType::FileTruncate => "file_truncate",
            EventType::FileLink => "file_link",
            EventType::FileSymlink => "file_symlink",
            EventType::FileChown => "file_chown",
            EventType::FileUtime => "file_utime",
            EventType::FileSetxattr => "file_setxattr",
            EventType::FileRemovexattr => "file_removexattr",
            EventType::FileCopy => "file_copy",
            EventType::ProcessFork => "process_fork",
            EventType::ProcessExec => "process_exec",
            EventType::ProcessClone => "process_clone",
            EventType::ProcessExit => "process_exit",
            EventType::ProcessPipe => "process_pipe",
            EventType::ProcessKill => "process_kill",
            EventType::ProcessPtrace => "process_ptrace",
            EventType::ProcessMmap => "process_mmap",
            EventType::ProcessMprotect => "process_mprotect",
            EventType::NetConnect => "net_connect",
            EventType::NetSendto => "net_sendto",
            EventType::NetRecvfrom => "net_recvfrom",
            EventType::NetAccept => "net_accept",
            EventType::NetBind => "net_bind",
            EventType::NetGetpeername => "net_getpeername",
            EventType::NetSocketpair => "net_socketpair",
            EventType::PermSetuid => "perm_setuid",
            EventType::PermSetreuid => "perm_setreuid",
            EventType::PermSetresuid => "perm_setresuid",
            EventType::PermSetgid => "perm_setgid",
            EventType::PermSetregid => "perm_setregid",
            EventType::PermSetresgid => "perm_setresgid",
            EventType::FileMemfd => "file_memfd",
            EventType::IoUringSetup => "io_uring_setup",
            EventType::IoUringEnter => "io_uring_enter",
            EventType::IoUringRegister => "io_uring_register",
            EventType::IoUringOp => "io_uring_op",
            EventType::ProcessPrctl => "process_prctl",
            EventType::ProcessUnshare => "process_unshare",
            EventType::ProcessSetns => "process_setns",
            EventType::PermCapset => "perm_capset",
            EventType::FileChroot => "file_chroot",
            EventType::SysModuleLoad => "sys_module_load",
            EventType::SysModuleUnload => "sys_module_unload",
            EventType::SysBpf => "sys_bpf",
            EventType::SysMount => "sys_mount",
            EventType::SysUmount => "sys_umount",
            EventType::SysPivotRoot => "sys_pivot_root",
        }
    }

    /// The event type with this name (`None` for names not in the catalogue).
    pub fn from_name(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Where a value of a syscall comes from, for the table's fields and effects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Src {
    /// The raw argument `args[i]` (0-based).
    Arg(u8),
    /// A fixed value, for a syscall that has no such argument (`creat`'s open flags
    /// `O_WRONLY|O_CREAT|O_TRUNC`, `pipe`'s flags 0).
    Const(u64),
    /// The `flags` of the `struct open_how` openat2 was given, read at exit (0 if absent).
    OpenHowFlags,
    /// The `mode` of that `struct open_how` (0 if absent).
    OpenHowMode,
    /// The `size` of the `struct xattr_args` setxattrat was given, read at entry (0 if
    /// absent).
    XattrSize,
    /// The `flags` of that `struct xattr_args` (0 if absent).
    XattrFlags,
}

/// Which family of symbolic names a flags (or enumerated) argument takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagFamily {
    /// `O_*` open flags (their values depend on the architecture).
    Open,
    /// `AT_*` flags of the *at syscalls.
    At,
    /// `RENAME_*` of renameat2.
    Rename,
    /// `O_CLOEXEC`, `O_NONBLOCK`, ... of pipe2 and dup3 (architecture-dependent).
    Pipe,
    /// `MAP_*` of mmap.
    Mmap,
    /// `PROT_*` of mmap and mprotect.
    Prot,
    /// `MSG_*` of the send and receive calls.
    Msg,
    /// socket(2)'s type: `SOCK_STREAM`, ... with `SOCK_NONBLOCK`/`SOCK_CLOEXEC`.
    SocketType,
    /// `PTRACE_*` requests.
    Ptrace,
    /// `AF_*` address families.
    AddressFamily,
    /// `IPPROTO_*` protocols.
    IpProtocol,
    /// `XATTR_CREATE`, `XATTR_REPLACE` of the setxattr family.
    Xattr,
    /// `CLONE_*` flags (unshare's, setns's namespace type).
    Clone,
    /// A value of one of these names, or its number (prctl's options, bpf's commands,
    /// fsconfig's commands).
    Enum(&'static [(u64, &'static str)]),
    /// Bits of these names, `|`-joined, the rest in hex, `0` for none (mount's `MS_*`,
    /// umount2's `MNT_*`, the mount API's flags, finit_module's).
    Bits(&'static [(u64, &'static str)]),
}

/// One field of a syscall's event in the events view, in output order: the role of an
/// argument (or of what the kernel filled in) and the key it is shown under. Every
/// syscall event starts with `ret` (and `error` on failure); these follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// A captured path (`slot` 0: the first, 1: the second), made absolute against the
    /// process's cwd or the dirfd argument `dirfd` (shown first under its own key, as
    /// `AT_FDCWD` or the number). Shown as `key` (absolute), `key_arg` (as given, when it
    /// differs) and `key_truncated`. `literal`: stored as written, never resolved (a
    /// symlink's target).
    Path {
        key: &'static str,
        slot: u8,
        dirfd: Option<(&'static str, u8)>,
        literal: bool,
    },
    /// The fd the event is about (`args[i]`, as a signed int). Its name in the process's
    /// fd table before the syscall is what [`Field::FdName`] shows.
    Fd(&'static str, u8),
    /// The name of the event's fd (a path, `socket:...`, `pipe:[ino]`) under `path`.
    FdName,
    /// An fd argument the syscall makes (dup2's and dup3's new fd), as a signed int.
    NewFd(&'static str, u8),
    /// The fd returned, when the syscall succeeded.
    RetFd(&'static str),
    /// The two fds the kernel filled in (pipe, socketpair): `fd0`, `fd1`.
    FdPair,
    /// The inode number of the event's fd (`ino`), when captured.
    Ino,
    /// A flags (or enumerated) value: `key` (the number) and `key_text` (symbolic).
    Flags(&'static str, Src, FlagFamily),
    /// An enumerated argument shown only by name (socketpair's family, type, protocol).
    Symbol(&'static str, u8, FlagFamily),
    /// A file mode: `mode` and `mode_text` (`0644/-rw-r--r--`).
    Mode(Src),
    /// An open's mode, shown only when the open flags (`flags`) may create a file
    /// (`O_CREAT` or `O_TMPFILE`).
    CreateMode { mode: Src, flags: Src },
    /// The stat buffer the kernel filled: `mode`, `mode_text`, `file_type`, `file_uid`,
    /// `file_gid`, `ino`, `size`.
    StatBuf,
    /// A signed 32-bit argument (pids, tids).
    Int(&'static str, u8),
    /// An unsigned 64-bit argument (counts, offsets, addresses, lengths in bytes).
    U64(&'static str, u8),
    /// A signed 64-bit argument (truncate's length, bytes).
    I64(&'static str, u8),
    /// A user or group id argument of the set*id family; -1 ("unchanged") stays -1.
    Id(&'static str, u8),
    /// A signal number: `sig` and `sig_name`.
    Signal(u8),
    /// Bytes transferred: the return value, 0 on failure (`bytes`).
    Bytes,
    /// sendmmsg/recvmmsg: `messages` (the return value) and `bytes` (of the first 8).
    MmsgCounts,
    /// The socket behind the fd as the kernel had it at exit: `sock_protocol`,
    /// `local_addr`, `local_port`, `remote_addr`, `remote_port` (IPv4/IPv6 only).
    Sock,
    /// The socket address argument: `family`, `addr` and `port`, or `path` (AF_UNIX).
    PeerAddr,
    /// The address argument when one was given, else the fd's name under `socket`.
    PeerOrSocket,
    /// fcntl's command argument (`cmd`): `F_DUPFD` or `F_DUPFD_CLOEXEC`.
    FcntlCmd(u8),
    /// An unsigned value from a [`Src`] under `key` (setxattrat's value size).
    Value(&'static str, Src),
    /// The times the caller asked for (utimensat, utimes, futimesat, utime: the buffer
    /// in argument `i`, read at entry): `atime` and `mtime`, each `"UTIME_NOW"`,
    /// `"UTIME_OMIT"` or the time in UTC (RFC 3339, ns), with `atime_ns`/`mtime_ns` (ns
    /// since the epoch) for a time given; both `"now"` when the pointer is NULL; left
    /// out when the buffer could not be read (or the syscall was a 32-bit one, whose
    /// layout differs).
    Times(u8),
    /// A second fd of the event (the other end of an in-kernel copy), `args[i]` as a
    /// signed int under `key`, and its name in the process's fd table before the
    /// syscall under `name_key`.
    OtherFd {
        key: &'static str,
        arg: u8,
        name_key: &'static str,
    },
    /// The inode number of that second fd's file at exit (`ino_out`), when captured.
    OtherIno,
    /// A string the caller gave, shown as written (never resolved) under `key`, when it
    /// was captured and is not empty, and, with `when: Some((arg, values))`, only when
    /// `args[arg]` is one of `values` (prctl's name only for `PR_SET_NAME`).
    Text {
        key: &'static str,
        from: TextFrom,
        when: Option<(u8, &'static [u64])>,
    },
    /// What bpf's attribute union says ([`Out::BpfAttr`]), by the command in `args[0]`:
    /// for `BPF_PROG_LOAD` `prog_type`, `prog_type_text`, `insn_cnt`, `prog_name`; for
    /// `BPF_MAP_CREATE` `map_type`, `map_type_text`, `key_size`, `value_size`,
    /// `max_entries`, `map_name`; nothing for other commands.
    BpfAttr,
    /// What capset was given ([`Out::Capset`]): `cap_version` (hex), `target_pid`, and the
    /// three sets as numbers with their `CAP_*` names: `effective`, `permitted`,
    /// `inheritable` (and `*_text`).
    CapSets,
    /// Every raw argument (`args`): syscalls with no fields of their own.
    Args,
}

/// Where a [`Field::Text`] string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFrom {
    /// A captured path slot (0 or 1).
    Path(u8),
    /// The short string of [`Out::Str`].
    Short,
}

/// Whether a new fd is close-on-exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloexec {
    /// Never (dup, dup2, accept, pipe).
    Never,
    /// When `O_CLOEXEC` (= `SOCK_CLOEXEC`) is set in this value.
    Flag(Src),
    /// fcntl: when its command (`args[i]`) is `F_DUPFD_CLOEXEC`.
    FcntlCmd(u8),
}

/// What a successful syscall changes in replay's state (processes' fds and cwd, the
/// inode model). Paths are the row's captured paths; the event's fd is its
/// [`Field::Fd`]; a new fd is the return value unless said otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing (reads, writes, stats that follow links, signals, ...).
    None,
    /// A new fd for path 0, opened with `flags` (open, openat, openat2, creat).
    Open { flags: Src },
    /// A new fd naming the same thing as the event's fd (dup, dup2, dup3, fcntl).
    Dup { cloexec: Cloexec },
    /// The event's fd goes.
    Close,
    /// Two new pipe fds, filled in by the kernel.
    Pipe { cloexec: Cloexec },
    /// A new socket fd.
    Socket { cloexec: Cloexec },
    /// Two new socket fds, filled in by the kernel.
    Socketpair { cloexec: Cloexec },
    /// A new socket fd named after the peer address.
    Accept { cloexec: Cloexec },
    /// The event's socket fd is named after the peer address (also while a non-blocking
    /// connect is in progress: `EINPROGRESS`).
    Connect,
    /// The cwd becomes path 0.
    Chdir,
    /// The cwd becomes the event's fd's name.
    Fchdir,
    /// Path 0's mode becomes `args[mode]`.
    Chmod { mode: u8 },
    /// Path 0's size becomes `args[length]`.
    Truncate { length: u8 },
    /// Path 0 goes (a directory when `flags` has `AT_REMOVEDIR`).
    Unlink { flags: Src },
    /// Directory path 0 goes.
    Rmdir,
    /// The stat buffer says what path 0 is, when `flags` has `AT_SYMLINK_NOFOLLOW`.
    LookAt { flags: Src },
    /// Path 1 becomes a new name of path 0.
    Link,
    /// Path 1 becomes a symlink to path 0.
    Symlink,
    /// Path 0 moves to path 1 (`RENAME_*` flags in `flags`).
    Rename { flags: Src },
    /// Path 0's owner becomes `args[uid]`, its group `args[gid]` (-1: unchanged); the
    /// last component is not followed when `flags` has `AT_SYMLINK_NOFOLLOW`.
    Chown { uid: u8, gid: u8, flags: Src },
    /// Path 0's access and modification times become the ones the caller asked for
    /// ([`Field::Times`]); not followed when `flags` has `AT_SYMLINK_NOFOLLOW`.
    Utime { flags: Src },
    /// The file of the second fd ([`Field::OtherFd`]) is written: its inode, read at
    /// exit, says what it is now (in-kernel copies).
    CopyTo,
    /// A new fd for an anonymous memory file named after path 0, as written
    /// (`memfd:NAME`, as the kernel names it); close-on-exec when `flags` has
    /// `MFD_CLOEXEC` (memfd_create).
    Memfd { flags: Src },
}

/// How the kernel side captures a syscall. Argument numbers are 1-based (0: none).
#[derive(Debug, Clone, Copy)]
pub struct Capture {
    pub flags: u8,
    pub path0: u8,
    pub path1: u8,
    pub fd_arg: u8,
    pub addr: Addr,
    pub out: Out,
    pub payload: Payload,
}

const NONE: Capture = Capture {
    flags: 0,
    path0: 0,
    path1: 0,
    fd_arg: 0,
    addr: Addr::None,
    out: Out::None,
    payload: Payload::None,
};

const fn path(arg: u8) -> Capture {
    Capture { path0: arg, ..NONE }
}
const fn paths(a: u8, b: u8) -> Capture {
    Capture {
        path0: a,
        path1: b,
        ..NONE
    }
}
const fn fd(arg: u8) -> Capture {
    Capture {
        fd_arg: arg,
        ..NONE
    }
}
const fn opens(arg: u8) -> Capture {
    Capture {
        path0: arg,
        flags: D_RET_FD,
        ..NONE
    }
}
/// A read or write on an fd: its inode (and socket), and its data when it is a socket.
const fn io(fd_arg: u8, payload: Payload) -> Capture {
    Capture {
        fd_arg,
        payload,
        ..NONE
    }
}
/// A socket send or receive: the socket, an address, the data.
const fn msg(addr: Addr, payload: Payload) -> Capture {
    Capture {
        fd_arg: 1,
        addr,
        payload,
        ..NONE
    }
}
const fn flags_only(flags: u8) -> Capture {
    Capture { flags, ..NONE }
}
const fn out(out: Out) -> Capture {
    Capture { out, ..NONE }
}
const fn stat(path0: u8, fd_arg: u8, out: Out) -> Capture {
    Capture {
        path0,
        fd_arg,
        out,
        ..NONE
    }
}

/// kellect syscall ids (`enum ksys` in bpf/records.h, `rec_hdr.syscall`): stable across
/// versions and architectures, only ever appended. A test checks every value against
/// records.h and against [`SYSCALLS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u16)]
pub enum Ksys {
    Open = 1,
    Openat = 2,
    Openat2 = 3,
    Creat = 4,
    Unlink = 5,
    Unlinkat = 6,
    Rename = 7,
    Renameat = 8,
    Renameat2 = 9,
    Chmod = 10,
    Fchmod = 11,
    Fchmodat = 12,
    Fchmodat2 = 13,
    Stat = 14,
    Lstat = 15,
    Fstat = 16,
    Newfstatat = 17,
    Statx = 18,
    Chdir = 19,
    Fchdir = 20,
    Mkdir = 21,
    Mkdirat = 22,
    Rmdir = 23,
    Read = 24,
    Pread64 = 25,
    Readv = 26,
    Preadv = 27,
    Preadv2 = 28,
    Write = 29,
    Pwrite64 = 30,
    Writev = 31,
    Pwritev = 32,
    Pwritev2 = 33,
    Dup = 34,
    Dup2 = 35,
    Dup3 = 36,
    Fcntl = 37,
    Close = 38,
    Truncate = 39,
    Ftruncate = 40,
    Link = 41,
    Linkat = 42,
    Symlink = 43,
    Symlinkat = 44,
    Fork = 45,
    Vfork = 46,
    Clone = 47,
    Clone3 = 48,
    Execve = 49,
    Execveat = 50,
    Exit = 51,
    ExitGroup = 52,
    Pipe = 53,
    Pipe2 = 54,
    Kill = 55,
    Tkill = 56,
    Tgkill = 57,
    Ptrace = 58,
    Mmap = 59,
    Mprotect = 60,
    Connect = 61,
    Sendto = 62,
    Sendmsg = 63,
    Sendmmsg = 64,
    Recvfrom = 65,
    Recvmsg = 66,
    Recvmmsg = 67,
    Accept = 68,
    Accept4 = 69,
    Bind = 70,
    Getpeername = 71,
    Socketpair = 72,
    Socket = 73,
    Setuid = 74,
    Setreuid = 75,
    Setresuid = 76,
    Setgid = 77,
    Setregid = 78,
    Setresgid = 79,
    Chown = 80,
    Fchown = 81,
    Lchown = 82,
    Fchownat = 83,
    Utimensat = 84,
    Utimes = 85,
    Futimesat = 86,
    Utime = 87,
    Setxattr = 88,
    Lsetxattr = 89,
    Fsetxattr = 90,
    Setxattrat = 91,
    Removexattr = 92,
    Lremovexattr = 93,
    Fremovexattr = 94,
    Removexattrat = 95,
    CopyFileRange = 96,
    Sendfile = 97,
    Splice = 98,
    Tee = 99,
    MemfdCreate = 100,
    IoUringSetup = 101,
    IoUringEnter = 102,
    IoUringRegister = 103,
    Prctl = 104,
    InitModule = 105,
    FinitModule = 106,
    DeleteModule = 107,
    Bpf = 108,
    Unshare = 109,
    Setns = 110,
    Mount = 111,
    Umount2 = 112,
    Fsopen = 113,
    Fsconfig = 114,
    Fsmount = 115,
    MoveMount = 116,
    OpenTree = 117,
    Capset = 118,
    Chroot = 119,
    PivotRoot = 120,
}

impl Ksys {
    /// Every id, in id order.
    pub const ALL: &'static [Ksys] = &[
        Ksys::Open,
        Ksys::Openat,
        Ksys::Openat2,
        Ksys::Creat,
        Ksys::Unlink,
        Ksys::Unlinkat,
        Ksys::Rename,
        Ksys::Renameat,
        Ksys::Renameat2,
        Ksys::Chmod,
        Ksys::Fchmod,
        Ksys::Fchmodat,
        Ksys::Fchmodat2,
        Ksys::Stat,
        Ksys::Lstat,
        Ksys::Fstat,
        Ksys::Newfstatat,
        Ksys::Statx,
        Ksys::Chdir,
        Ksys::Fchdir,
        Ksys::Mkdir,
        Ksys::Mkdirat,
        Ksys::Rmdir,
        Ksys::Read,
        Ksys::Pread64,
        Ksys::Readv,
        Ksys::Preadv,
        Ksys::Preadv2,
        Ksys::Write,
        Ksys::Pwrite64,
        Ksys::Writev,
        Ksys::Pwritev,
        Ksys::Pwritev2,
        Ksys::Dup,
        Ksys::Dup2,
        Ksys::Dup3,
        Ksys::Fcntl,
        Ksys::Close,
        Ksys::Truncate,
        Ksys::Ftruncate,
        Ksys::Link,
        Ksys::Linkat,
        Ksys::Symlink,
        Ksys::Symlinkat,
        Ksys::Fork,
        Ksys::Vfork,
        Ksys::Clone,
        Ksys::Clone3,
        Ksys::Execve,
        Ksys::Execveat,
        Ksys::Exit,
        Ksys::ExitGroup,
        Ksys::Pipe,
        Ksys::Pipe2,
        Ksys::Kill,
        Ksys::Tkill,
        Ksys::Tgkill,
        Ksys::Ptrace,
        Ksys::Mmap,
        Ksys::Mprotect,
        Ksys::Connect,
        Ksys::Sendto,
        Ksys::Sendmsg,
        Ksys::Sendmmsg,
        Ksys::Recvfrom,
        Ksys::Recvmsg,
        Ksys::Recvmmsg,
        Ksys::Accept,
        Ksys::Accept4,
        Ksys::Bind,
        Ksys::Getpeername,
        Ksys::Socketpair,
        Ksys::Socket,
        Ksys::Setuid,
        Ksys::Setreuid,
        Ksys::Setresuid,
        Ksys::Setgid,
        Ksys::Setregid,
        Ksys::Setresgid,
        Ksys::Chown,
        Ksys::Fchown,
        Ksys::Lchown,
        Ksys::Fchownat,
        Ksys::Utimensat,
        Ksys::Utimes,
        Ksys::Futimesat,
        Ksys::Utime,
        Ksys::Setxattr,
        Ksys::Lsetxattr,
        Ksys::Fsetxattr,
        Ksys::Setxattrat,
        Ksys::Removexattr,
        Ksys::Lremovexattr,
        Ksys::Fremovexattr,
        Ksys::Removexattrat,
        Ksys::CopyFileRange,
        Ksys::Sendfile,
        Ksys::Splice,
        Ksys::Tee,
        Ksys::MemfdCreate,
        Ksys::IoUringSetup,
        Ksys::IoUringEnter,
        Ksys::IoUringRegister,
        Ksys::Prctl,
        Ksys::InitModule,
        Ksys::FinitModule,
        Ksys::DeleteModule,
        Ksys::Bpf,
        Ksys::Unshare,
        Ksys::Setns,
        Ksys::Mount,
        Ksys::Umount2,
        Ksys::Fsopen,
        Ksys::Fsconfig,
        Ksys::Fsmount,
        Ksys::MoveMount,
        Ksys::OpenTree,
        Ksys::Capset,
        Ksys::Chroot,
        Ksys::PivotRoot,
    ];

    /// The id with this value (`None` for 0 and for ids this build does not know).
    pub fn from_id(id: u16) -> Option<Ksys> {
        // In id order: a binary search (robust to reserved ids, should any be left out).
        let i = Ksys::ALL.binary_search_by_key(&id, |k| *k as u16).ok()?;
        Ksys::ALL.get(i).copied()
    }

    /// The syscall's name, as the kernel and strace spell it.
    pub fn name(self) -> &'static str {
        by_id(self as u16).map_or("?", |s| s.name)
    }
}

/// One syscall of the table: everything kellect knows about it, in one row.
#[derive(Debug, Clone, Copy)]
pub struct Syscall {
    /// kellect id (`KS_*`, `rec_hdr.syscall`): stable across versions and architectures.
    /// The rows of [`SYSCALLS`] are built from a [`Ksys`] (see [`Syscall::ksys`]); a
    /// table made for a test may carry an id this build has no `Ksys` for.
    pub id: u16,
    pub name: &'static str,
    pub group: Group,
    pub x86_64: Option<u32>,
    pub aarch64: Option<u32>,
    /// What the kernel side captures.
    pub capture: Capture,
    /// The catalogue event it becomes (`None`: context for replay's state only, never an
    /// event of its own: socket, and the fork/clone/exit syscalls, which the
    /// `sched_process_*` records report).
    pub event: Option<EventType>,
    /// Its fields in the events view, in output order: what each argument is.
    pub fields: &'static [Field],
    /// What it changes in replay's state when it succeeds.
    pub effect: Effect,
}

impl Syscall {
    /// The syscall's [`Ksys`] (`None` for an id this build does not know).
    pub fn ksys(&self) -> Option<Ksys> {
        Ksys::from_id(self.id)
    }

    /// The argument (0-based) of the fd the event is about: its first [`Field::Fd`].
    pub fn event_fd(&self) -> Option<u8> {
        self.fields.iter().find_map(|f| match f {
            Field::Fd(_, arg) => Some(*arg),
            _ => None,
        })
    }

    /// The [`Field::Path`] of path `slot` (0 or 1), if the event has one.
    pub fn path_field(&self, slot: u8) -> Option<&'static Field> {
        self.fields
            .iter()
            .find(|f| matches!(f, Field::Path { slot: s, .. } if *s == slot))
    }

    const fn event(self, event: EventType) -> Syscall {
        Syscall {
            event: Some(event),
            ..self
        }
    }

    const fn fields(self, fields: &'static [Field]) -> Syscall {
        Syscall { fields, ..self }
    }

    const fn effect(self, effect: Effect) -> Syscall {
        Syscall { effect, ..self }
    }
}

/// A syscall table, looked up by kellect id: [`SYSCALLS`] by default ([`CATALOGUE`]);
/// the replayer's decoder, state and events view take one, so a table with more rows is
/// decoded, followed and rendered without replayer changes.
#[derive(Debug, Clone, Copy)]
pub struct Catalogue<'a> {
    rows: &'a [Syscall],
}

impl<'a> Catalogue<'a> {
    /// A table of these rows (ids unique; ordered by id from 1 for the fast lookup).
    pub const fn new(rows: &'a [Syscall]) -> Catalogue<'a> {
        Catalogue { rows }
    }

    /// The row with this kellect id (`None` for 0 and for ids the table lacks).
    pub fn row(&self, id: u16) -> Option<&'a Syscall> {
        // Rows are ordered by id from 1: index directly, check, fall back to a search.
        match self.rows.get((id as usize).wrapping_sub(1)) {
            Some(s) if s.id == id => Some(s),
            _ => self.rows.iter().find(|s| s.id == id),
        }
    }

    /// Every row.
    pub fn rows(&self) -> &'a [Syscall] {
        self.rows
    }
}

/// The table of this build: [`SYSCALLS`].
pub const CATALOGUE: Catalogue<'static> = Catalogue::new(SYSCALLS);

impl Default for Catalogue<'static> {
    fn default() -> Self {
        CATALOGUE
    }
}

const fn sc(
    ksys: Ksys,
    name: &'static str,
    group: Group,
    x86_64: Option<u32>,
    aarch64: Option<u32>,
    capture: Capture,
) -> Syscall {
    Syscall {
        id: ksys as u16,
        name,
        group,
        x86_64,
        aarch64,
        capture,
        event: None,
        fields: &[Field::Args],
        effect: Effect::None,
    }
}

/// The first captured path, relative to the cwd.
const fn p0(key: &'static str) -> Field {
    Field::Path {
        key,
        slot: 0,
        dirfd: None,
        literal: false,
    }
}
/// The second captured path, relative to the cwd.
const fn p1(key: &'static str) -> Field {
    Field::Path {
        key,
        slot: 1,
        dirfd: None,
        literal: false,
    }
}
/// A captured path relative to the dirfd argument `arg` (shown as `dkey`).
const fn at(slot: u8, dkey: &'static str, arg: u8, key: &'static str) -> Field {
    Field::Path {
        key,
        slot,
        dirfd: Some((dkey, arg)),
        literal: false,
    }
}
/// A symlink's target: path 0 as written.
const TARGET: Field = Field::Path {
    key: "target",
    slot: 0,
    dirfd: None,
    literal: true,
};
const FD: Field = Field::Fd("fd", 0);
const MODE1: Field = Field::Mode(Src::Arg(1));
const MODE2: Field = Field::Mode(Src::Arg(2));
/// `AT_*` flags in argument `arg`.
const fn at_flags(arg: u8) -> Field {
    Field::Flags("flags", Src::Arg(arg), FlagFamily::At)
}
/// `AT_SYMLINK_NOFOLLOW`: lstat is fstatat with it.
const AT_SYMLINK_NOFOLLOW: u64 = 0x100;
const fn flags(src: Src, family: FlagFamily) -> Field {
    Field::Flags("flags", src, family)
}

use EventType as E;
use Field as Fl;
use Group::{File as F, Network as N, Permission as P, Process as R};
use Ksys as K;

const OPEN: &[Field] = &[
    p0("path"),
    flags(Src::Arg(1), FlagFamily::Open),
    Fl::CreateMode {
        mode: Src::Arg(2),
        flags: Src::Arg(1),
    },
    Fl::RetFd("fd"),
    Fl::Ino,
];
const OPENAT: &[Field] = &[
    at(0, "dfd", 0, "path"),
    flags(Src::Arg(2), FlagFamily::Open),
    Fl::CreateMode {
        mode: Src::Arg(3),
        flags: Src::Arg(2),
    },
    Fl::RetFd("fd"),
    Fl::Ino,
];
const OPENAT2: &[Field] = &[
    at(0, "dfd", 0, "path"),
    flags(Src::OpenHowFlags, FlagFamily::Open),
    Fl::CreateMode {
        mode: Src::OpenHowMode,
        flags: Src::OpenHowFlags,
    },
    Fl::RetFd("fd"),
    Fl::Ino,
];
/// creat(path, mode) is open(path, O_WRONLY|O_CREAT|O_TRUNC, mode).
const CREAT_FLAGS: Src = Src::Const(0o1101);
const CREAT: &[Field] = &[
    p0("path"),
    flags(CREAT_FLAGS, FlagFamily::Open),
    Fl::CreateMode {
        mode: Src::Arg(1),
        flags: CREAT_FLAGS,
    },
    Fl::RetFd("fd"),
    Fl::Ino,
];
const RENAME: &[Field] = &[p0("oldpath"), p1("newpath")];
const RENAMEAT: &[Field] = &[at(0, "olddfd", 0, "oldpath"), at(1, "newdfd", 2, "newpath")];
const STAT: &[Field] = &[p0("path"), Fl::StatBuf];
const FD_NAME: &[Field] = &[FD, Fl::FdName];
const READ: &[Field] = &[
    FD,
    Fl::FdName,
    Fl::Ino,
    Fl::U64("count", 2),
    Fl::Bytes,
    Fl::Sock,
];
const PREAD: &[Field] = &[
    FD,
    Fl::FdName,
    Fl::Ino,
    Fl::U64("count", 2),
    Fl::U64("offset", 3),
    Fl::Bytes,
    Fl::Sock,
];
const READV: &[Field] = &[
    FD,
    Fl::FdName,
    Fl::Ino,
    Fl::U64("iovcnt", 2),
    Fl::Bytes,
    Fl::Sock,
];
const PREADV: &[Field] = &[
    FD,
    Fl::FdName,
    Fl::Ino,
    Fl::U64("iovcnt", 2),
    Fl::U64("offset", 3),
    Fl::Bytes,
    Fl::Sock,
];
const OLDFD: Field = Field::Fd("oldfd", 0);
const PIPE: &[Field] = &[Fl::FdPair, flags(Src::Const(0), FlagFamily::Pipe)];
const PIPE2: &[Field] = &[Fl::FdPair, flags(Src::Arg(1), FlagFamily::Pipe)];
/// memfd_create: the name as given (never a path), `MFD_*` flags as a number, the new fd.
const MEMFD_CREATE: &[Field] = &[
    Field::Path {
        key: "name",
        slot: 0,
        dirfd: None,
        literal: true,
    },
    Fl::U64("flags", 1),
    Fl::RetFd("fd"),
    Fl::Ino,
];
const CONNECT: &[Field] = &[FD, Fl::PeerAddr, Fl::Sock];
const SENDTO: &[Field] = &[
    FD,
    Fl::U64("len", 2),
    flags(Src::Arg(3), FlagFamily::Msg),
    Fl::PeerOrSocket,
    Fl::Bytes,
];
const SENDMSG: &[Field] = &[
    FD,
    flags(Src::Arg(2), FlagFamily::Msg),
    Fl::PeerOrSocket,
    Fl::Bytes,
];
const SENDMMSG: &[Field] = &[
    FD,
    Fl::U64("vlen", 2),
    flags(Src::Arg(3), FlagFamily::Msg),
    Fl::PeerOrSocket,
    Fl::MmsgCounts,
];
const NEVER: Cloexec = Cloexec::Never;
const MMAP: &[Field] = &[
    Fl::U64("addr", 0),
    Fl::U64("len", 1),
    Fl::Flags("prot", Src::Arg(2), FlagFamily::Prot),
    flags(Src::Arg(3), FlagFamily::Mmap),
    Fl::Fd("fd", 4),
    Fl::FdName,
    Fl::Ino,
    Fl::U64("offset", 5),
];

const NEW_UID: Field = Field::Id("new_uid", 1);
const NEW_GID: Field = Field::Id("new_gid", 2);
const CHOWN: &[Field] = &[p0("path"), NEW_UID, NEW_GID];
/// An extended attribute's name: the second captured string, as written.
const XATTR_NAME: Field = Field::Path {
    key: "name",
    slot: 1,
    dirfd: None,
    literal: true,
};
/// The `AT_*` flags of setxattrat and removexattrat (`flags` are the `XATTR_*` ones).
const AT_FLAGS_2: Field = Field::Flags("at_flags", Src::Arg(2), FlagFamily::At);
const XATTR_FLAGS: Field = Field::Flags("flags", Src::Arg(4), FlagFamily::Xattr);
const SETXATTR: &[Field] = &[p0("path"), XATTR_NAME, Fl::U64("size", 3), XATTR_FLAGS];
const REMOVEXATTR: &[Field] = &[p0("path"), XATTR_NAME];
const FSETXATTR: &[Field] = &[FD, Fl::FdName, XATTR_NAME, Fl::U64("size", 3), XATTR_FLAGS];
/// An in-kernel copy from the fd in argument `from` to the one in `to`, `len` bytes asked.
const fn copy_fields(from: u8, to: u8, len: u8) -> [Field; 7] {
    [
        Field::Fd("fd_in", from),
        Field::FdName,
        Field::Ino,
        Field::OtherFd {
            key: "fd_out",
            arg: to,
            name_key: "path_out",
        },
        Field::OtherIno,
        Field::U64("len", len),
        Field::Bytes,
    ]
}
const COPY_FILE_RANGE: &[Field] = &copy_fields(0, 2, 4);
const SENDFILE: &[Field] = &copy_fields(1, 0, 3); // its count, shown as `len`
const TEE: &[Field] = &copy_fields(0, 1, 2);
/// An in-kernel copy: the inode of the source fd (`from`, 1-based) and of the destination.
const fn copy(from: u8, to: u8) -> Capture {
    Capture {
        fd_arg: from,
        out: Out::FdInode(to),
        ..NONE
    }
}
const CHOWN_EFFECT: Effect = Effect::Chown {
    uid: 1,
    gid: 2,
    flags: Src::Const(0),
};
const UTIME_EFFECT: Effect = Effect::Utime {
    flags: Src::Const(0),
};

/// A string as written, always shown when captured and not empty.
const fn text(key: &'static str, slot: u8) -> Field {
    Field::Text {
        key,
        from: TextFrom::Path(slot),
        when: None,
    }
}
/// linux/prctl.h's `PR_*` options recorded.
const PRCTL_OPTION: Field = Field::Flags("option", Src::Arg(0), FlagFamily::Enum(PRCTL_RECORDED));
const PRCTL: &[Field] = &[
    PRCTL_OPTION,
    Fl::U64("arg2", 1),
    Fl::U64("arg3", 2),
    Fl::U64("arg4", 3),
    Fl::U64("arg5", 4),
    // PR_SET_NAME's argument 2 is the new name (the task's comm from then on).
    Field::Text {
        key: "name",
        from: TextFrom::Short,
        when: Some((0, &[PR_SET_NAME])),
    },
];
/// `enum bpf_cmd` (linux/bpf.h).
const BPF_COMMANDS: &[(u64, &str)] = &[
    (0, "BPF_MAP_CREATE"),
    (1, "BPF_MAP_LOOKUP_ELEM"),
    (2, "BPF_MAP_UPDATE_ELEM"),
    (3, "BPF_MAP_DELETE_ELEM"),
    (4, "BPF_MAP_GET_NEXT_KEY"),
    (5, "BPF_PROG_LOAD"),
    (6, "BPF_OBJ_PIN"),
    (7, "BPF_OBJ_GET"),
    (8, "BPF_PROG_ATTACH"),
    (9, "BPF_PROG_DETACH"),
    (10, "BPF_PROG_RUN"),
    (11, "BPF_PROG_GET_NEXT_ID"),
    (12, "BPF_MAP_GET_NEXT_ID"),
    (13, "BPF_PROG_GET_FD_BY_ID"),
    (14, "BPF_MAP_GET_FD_BY_ID"),
    (15, "BPF_OBJ_GET_INFO_BY_FD"),
    (16, "BPF_PROG_QUERY"),
    (17, "BPF_RAW_TRACEPOINT_OPEN"),
    (18, "BPF_BTF_LOAD"),
    (19, "BPF_BTF_GET_FD_BY_ID"),
    (20, "BPF_TASK_FD_QUERY"),
    (21, "BPF_MAP_LOOKUP_AND_DELETE_ELEM"),
    (22, "BPF_MAP_FREEZE"),
    (23, "BPF_BTF_GET_NEXT_ID"),
    (24, "BPF_MAP_LOOKUP_BATCH"),
    (25, "BPF_MAP_LOOKUP_AND_DELETE_BATCH"),
    (26, "BPF_MAP_UPDATE_BATCH"),
    (27, "BPF_MAP_DELETE_BATCH"),
    (28, "BPF_LINK_CREATE"),
    (29, "BPF_LINK_UPDATE"),
    (30, "BPF_LINK_GET_FD_BY_ID"),
    (31, "BPF_LINK_GET_NEXT_ID"),
    (32, "BPF_ENABLE_STATS"),
    (33, "BPF_ITER_CREATE"),
    (34, "BPF_LINK_DETACH"),
    (35, "BPF_PROG_BIND_MAP"),
    (36, "BPF_TOKEN_CREATE"),
    (37, "BPF_PROG_STREAM_READ_BY_FD"),
];
/// finit_module's `MODULE_INIT_*` flags.
const MODULE_INIT_FLAGS: &[(u64, &str)] = &[
    (1, "MODULE_INIT_IGNORE_MODVERSIONS"),
    (2, "MODULE_INIT_IGNORE_VERMAGIC"),
    (4, "MODULE_INIT_COMPRESSED_FILE"),
];
/// delete_module's flags (the same values on x86_64 and aarch64).
const DELETE_MODULE_FLAGS: &[(u64, &str)] = &[(0o4000, "O_NONBLOCK"), (0o1000, "O_TRUNC")];
/// mount's `MS_*` flags (linux/mount.h).
const MS_FLAGS: &[(u64, &str)] = &[
    (1, "MS_RDONLY"),
    (2, "MS_NOSUID"),
    (4, "MS_NODEV"),
    (8, "MS_NOEXEC"),
    (16, "MS_SYNCHRONOUS"),
    (32, "MS_REMOUNT"),
    (64, "MS_MANDLOCK"),
    (128, "MS_DIRSYNC"),
    (256, "MS_NOSYMFOLLOW"),
    (1024, "MS_NOATIME"),
    (2048, "MS_NODIRATIME"),
    (4096, "MS_BIND"),
    (8192, "MS_MOVE"),
    (16384, "MS_REC"),
    (32768, "MS_SILENT"),
    (1 << 16, "MS_POSIXACL"),
    (1 << 17, "MS_UNBINDABLE"),
    (1 << 18, "MS_PRIVATE"),
    (1 << 19, "MS_SLAVE"),
    (1 << 20, "MS_SHARED"),
    (1 << 21, "MS_RELATIME"),
    (1 << 22, "MS_KERNMOUNT"),
    (1 << 23, "MS_I_VERSION"),
    (1 << 24, "MS_STRICTATIME"),
    (1 << 25, "MS_LAZYTIME"),
    (0xc0ed_0000, "MS_MGC_VAL"),
];
/// umount2's flags.
const UMOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MNT_FORCE"),
    (2, "MNT_DETACH"),
    (4, "MNT_EXPIRE"),
    (8, "UMOUNT_NOFOLLOW"),
];
/// fsconfig's commands (`FSCONFIG_*`).
const FSCONFIG_CMDS: &[(u64, &str)] = &[
    (0, "FSCONFIG_SET_FLAG"),
    (1, "FSCONFIG_SET_STRING"),
    (2, "FSCONFIG_SET_BINARY"),
    (3, "FSCONFIG_SET_PATH"),
    (4, "FSCONFIG_SET_PATH_EMPTY"),
    (5, "FSCONFIG_SET_FD"),
    (6, "FSCONFIG_CMD_CREATE"),
    (7, "FSCONFIG_CMD_RECONFIGURE"),
    (8, "FSCONFIG_CMD_CREATE_EXCL"),
];
/// fsmount's `MOUNT_ATTR_*` (its third argument; `MOUNT_ATTR_RELATIME` is 0).
const MOUNT_ATTRS: &[(u64, &str)] = &[
    (1, "MOUNT_ATTR_RDONLY"),
    (2, "MOUNT_ATTR_NOSUID"),
    (4, "MOUNT_ATTR_NODEV"),
    (8, "MOUNT_ATTR_NOEXEC"),
    (0x10, "MOUNT_ATTR_NOATIME"),
    (0x20, "MOUNT_ATTR_STRICTATIME"),
    (0x80, "MOUNT_ATTR_NODIRATIME"),
    (0x10_0000, "MOUNT_ATTR_IDMAP"),
    (0x20_0000, "MOUNT_ATTR_NOSYMFOLLOW"),
];
/// move_mount's `MOVE_MOUNT_*` flags.
const MOVE_MOUNT_FLAGS: &[(u64, &str)] = &[
    (1, "MOVE_MOUNT_F_SYMLINKS"),
    (2, "MOVE_MOUNT_F_AUTOMOUNTS"),
    (4, "MOVE_MOUNT_F_EMPTY_PATH"),
    (0x10, "MOVE_MOUNT_T_SYMLINKS"),
    (0x20, "MOVE_MOUNT_T_AUTOMOUNTS"),
    (0x40, "MOVE_MOUNT_T_EMPTY_PATH"),
    (0x100, "MOVE_MOUNT_SET_GROUP"),
    (0x200, "MOVE_MOUNT_BENEATH"),
];
/// open_tree's flags: `OPEN_TREE_CLONE`, `OPEN_TREE_CLOEXEC` (`O_CLOEXEC`) and `AT_*`.
const OPEN_TREE_FLAGS: &[(u64, &str)] = &[
    (1, "OPEN_TREE_CLONE"),
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
    (0o2000000, "OPEN_TREE_CLOEXEC"),
];
/// `FSOPEN_CLOEXEC`, `FSMOUNT_CLOEXEC`: the only flag of each.
const FSOPEN_FLAGS: &[(u64, &str)] = &[(1, "FSOPEN_CLOEXEC")];
const FSMOUNT_FLAGS: &[(u64, &str)] = &[(1, "FSMOUNT_CLOEXEC")];
/// fsconfig's commands whose key (argument 2) is a string: every `SET_*`.
const FSCONFIG_KEYED: &[u64] = &[0, 1, 2, 3, 4, 5];
/// fsconfig's commands whose value (argument 3) is a string: `SET_STRING`, `SET_PATH`,
/// `SET_PATH_EMPTY`.
const FSCONFIG_STRING: &[u64] = &[1, 3, 4];
const fn bits(key: &'static str, arg: u8, names: &'static [(u64, &'static str)]) -> Field {
    Field::Flags(key, Src::Arg(arg), FlagFamily::Bits(names))
}
use Group::System as Y;

/// Every syscall kellect records, by kellect id. Native numbers: x86_64 from
/// arch/x86/entry/syscalls/syscall_64.tbl, aarch64 from include/uapi/asm-generic/unistd.h.
pub const SYSCALLS: &[Syscall] = &[
    sc(K::Open, "open", F, Some(2), None, opens(1))
        .event(E::FileOpen)
        .fields(OPEN)
        .effect(Effect::Open { flags: Src::Arg(1) }),
    sc(K::Openat, "openat", F, Some(257), Some(56), opens(2))
        .event(E::FileOpen)
        .fields(OPENAT)
        .effect(Effect::Open { flags: Src::Arg(2) }),
    sc(
        K::Openat2,
        "openat2",
        F,
        Some(437),
        Some(437),
        Capture {
            out: Out::OpenHow(3),
            ..opens(2)
        },
    )
    .event(E::FileOpen)
    .fields(OPENAT2)
    .effect(Effect::Open {
        flags: Src::OpenHowFlags,
    }),
    sc(K::Creat, "creat", F, Some(85), None, opens(1))
        .event(E::FileOpen)
        .fields(CREAT)
        .effect(Effect::Open { flags: CREAT_FLAGS }),
    sc(K::Unlink, "unlink", F, Some(87), None, path(1))
        .event(E::FileDelete)
        .fields(&[p0("path")])
        .effect(Effect::Unlink {
            flags: Src::Const(0),
        }),
    sc(K::Unlinkat, "unlinkat", F, Some(263), Some(35), path(2))
        .event(E::FileDelete)
        .fields(&[at(0, "dfd", 0, "path"), at_flags(2)])
        .effect(Effect::Unlink { flags: Src::Arg(2) }),
    sc(K::Rename, "rename", F, Some(82), None, paths(1, 2))
        .event(E::FileRename)
        .fields(RENAME)
        .effect(Effect::Rename {
            flags: Src::Const(0),
        }),
    sc(K::Renameat, "renameat", F, Some(264), Some(38), paths(2, 4))
        .event(E::FileRename)
        .fields(RENAMEAT)
        .effect(Effect::Rename {
            flags: Src::Const(0),
        }),
    sc(
        K::Renameat2,
        "renameat2",
        F,
        Some(316),
        Some(276),
        paths(2, 4),
    )
    .event(E::FileRename)
    .fields(&[
        at(0, "olddfd", 0, "oldpath"),
        at(1, "newdfd", 2, "newpath"),
        flags(Src::Arg(4), FlagFamily::Rename),
    ])
    .effect(Effect::Rename { flags: Src::Arg(4) }),
    sc(K::Chmod, "chmod", F, Some(90), None, path(1))
        .event(E::FileChmod)
        .fields(&[p0("path"), MODE1])
        .effect(Effect::Chmod { mode: 1 }),
    sc(K::Fchmod, "fchmod", F, Some(91), Some(52), fd(1))
        .event(E::FileChmod)
        .fields(&[FD, Fl::FdName, MODE1]),
    sc(K::Fchmodat, "fchmodat", F, Some(268), Some(53), path(2))
        .event(E::FileChmod)
        .fields(&[at(0, "dfd", 0, "path"), MODE2])
        .effect(Effect::Chmod { mode: 2 }),
    sc(K::Fchmodat2, "fchmodat2", F, Some(452), Some(452), path(2))
        .event(E::FileChmod)
        .fields(&[at(0, "dfd", 0, "path"), MODE2])
        .effect(Effect::Chmod { mode: 2 }),
    sc(K::Stat, "stat", F, Some(4), None, stat(1, 0, Out::Stat(2)))
        .event(E::FileStat)
        .fields(STAT),
    sc(
        K::Lstat,
        "lstat",
        F,
        Some(6),
        None,
        stat(1, 0, Out::Stat(2)),
    )
    .event(E::FileStat)
    .fields(STAT)
    .effect(Effect::LookAt {
        flags: Src::Const(AT_SYMLINK_NOFOLLOW),
    }),
    sc(
        K::Fstat,
        "fstat",
        F,
        Some(5),
        Some(80),
        stat(0, 0, Out::Stat(2)),
    )
    .event(E::FileStat)
    .fields(&[FD, Fl::FdName, Fl::StatBuf]),
    sc(
        K::Newfstatat,
        "newfstatat",
        F,
        Some(262),
        Some(79),
        stat(2, 0, Out::Stat(3)),
    )
    .event(E::FileStat)
    .fields(&[at(0, "dfd", 0, "path"), at_flags(3), Fl::StatBuf])
    .effect(Effect::LookAt { flags: Src::Arg(3) }),
    sc(
        K::Statx,
        "statx",
        F,
        Some(332),
        Some(291),
        stat(2, 0, Out::Statx(5)),
    )
    .event(E::FileStat)
    .fields(&[at(0, "dfd", 0, "path"), at_flags(2), Fl::StatBuf])
    .effect(Effect::LookAt { flags: Src::Arg(2) }),
    sc(K::Chdir, "chdir", F, Some(80), Some(49), path(1))
        .event(E::FileChdir)
        .fields(&[p0("path")])
        .effect(Effect::Chdir),
    sc(K::Fchdir, "fchdir", F, Some(81), Some(50), fd(1))
        .event(E::FileChdir)
        .fields(FD_NAME)
        .effect(Effect::Fchdir),
    sc(K::Mkdir, "mkdir", F, Some(83), None, path(1))
        .event(E::FileMkdir)
        .fields(&[p0("path"), MODE1]),
    sc(K::Mkdirat, "mkdirat", F, Some(258), Some(34), path(2))
        .event(E::FileMkdir)
        .fields(&[at(0, "dfd", 0, "path"), MODE2]),
    sc(K::Rmdir, "rmdir", F, Some(84), None, path(1))
        .event(E::FileRmdir)
        .fields(&[p0("path")])
        .effect(Effect::Rmdir),
    sc(
        K::Read,
        "read",
        F,
        Some(0),
        Some(63),
        io(1, Payload::Buf(2)),
    )
    .event(E::FileRead)
    .fields(READ),
    sc(K::Pread64, "pread64", F, Some(17), Some(67), fd(1))
        .event(E::FileRead)
        .fields(PREAD),
    sc(
        K::Readv,
        "readv",
        F,
        Some(19),
        Some(65),
        io(1, Payload::Iov(2)),
    )
    .event(E::FileRead)
    .fields(READV),
    sc(K::Preadv, "preadv", F, Some(295), Some(69), fd(1))
        .event(E::FileRead)
        .fields(PREADV),
    sc(K::Preadv2, "preadv2", F, Some(327), Some(286), fd(1))
        .event(E::FileRead)
        .fields(PREADV),
    sc(
        K::Write,
        "write",
        F,
        Some(1),
        Some(64),
        io(1, Payload::Buf(2)),
    )
    .event(E::FileWrite)
    .fields(READ),
    sc(K::Pwrite64, "pwrite64", F, Some(18), Some(68), fd(1))
        .event(E::FileWrite)
        .fields(PREAD),
    sc(
        K::Writev,
        "writev",
        F,
        Some(20),
        Some(66),
        io(1, Payload::Iov(2)),
    )
    .event(E::FileWrite)
    .fields(READV),
    sc(K::Pwritev, "pwritev", F, Some(296), Some(70), fd(1))
        .event(E::FileWrite)
        .fields(PREADV),
    sc(K::Pwritev2, "pwritev2", F, Some(328), Some(287), fd(1))
        .event(E::FileWrite)
        .fields(PREADV),
    sc(K::Dup, "dup", F, Some(32), Some(23), NONE)
        .event(E::FileDup)
        .fields(&[OLDFD, Fl::FdName, Fl::RetFd("newfd")])
        .effect(Effect::Dup { cloexec: NEVER }),
    sc(K::Dup2, "dup2", F, Some(33), None, NONE)
        .event(E::FileDup)
        .fields(&[OLDFD, Fl::FdName, Fl::NewFd("newfd", 1)])
        .effect(Effect::Dup { cloexec: NEVER }),
    sc(K::Dup3, "dup3", F, Some(292), Some(24), NONE)
        .event(E::FileDup)
        .fields(&[
            OLDFD,
            Fl::FdName,
            Fl::NewFd("newfd", 1),
            flags(Src::Arg(2), FlagFamily::Pipe),
        ])
        .effect(Effect::Dup {
            cloexec: Cloexec::Flag(Src::Arg(2)),
        }),
    sc(
        K::Fcntl,
        "fcntl",
        F,
        Some(72),
        Some(25),
        flags_only(D_FCNTL_DUP),
    )
    .event(E::FileDup)
    .fields(&[OLDFD, Fl::FdName, Fl::RetFd("newfd"), Fl::FcntlCmd(1)])
    .effect(Effect::Dup {
        cloexec: Cloexec::FcntlCmd(1),
    }),
    sc(K::Close, "close", F, Some(3), Some(57), NONE)
        .event(E::FileClose)
        .fields(FD_NAME)
        .effect(Effect::Close),
    sc(K::Truncate, "truncate", F, Some(76), Some(45), path(1))
        .event(E::FileTruncate)
        .fields(&[p0("path"), Fl::I64("length", 1)])
        .effect(Effect::Truncate { length: 1 }),
    sc(K::Ftruncate, "ftruncate", F, Some(77), Some(46), fd(1))
        .event(E::FileTruncate)
        .fields(&[FD, Fl::FdName, Fl::I64("length", 1)]),
    sc(K::Link, "link", F, Some(86), None, paths(1, 2))
        .event(E::FileLink)
        .fields(RENAME)
        .effect(Effect::Link),
    sc(K::Linkat, "linkat", F, Some(265), Some(37), paths(2, 4))
        .event(E::FileLink)
        .fields(&[
            at(0, "olddfd", 0, "oldpath"),
            at(1, "newdfd", 2, "newpath"),
            at_flags(4),
        ])
        .effect(Effect::Link),
    sc(K::Symlink, "symlink", F, Some(88), None, paths(1, 2))
        .event(E::FileSymlink)
        .fields(&[TARGET, p1("linkpath")])
        .effect(Effect::Symlink),
    sc(
        K::Symlinkat,
        "symlinkat",
        F,
        Some(266),
        Some(36),
        paths(1, 3),
    )
    .event(E::FileSymlink)
    .fields(&[TARGET, at(1, "newdfd", 1, "linkpath")])
    .effect(Effect::Symlink),
    sc(K::Fork, "fork", R, Some(57), None, flags_only(D_CONTEXT)),
    sc(K::Vfork, "vfork", R, Some(58), None, flags_only(D_CONTEXT)),
    sc(
        K::Clone,
        "clone",
        R,
        Some(56),
        Some(220),
        flags_only(D_CONTEXT),
    ),
    sc(
        K::Clone3,
        "clone3",
        R,
        Some(435),
        Some(435),
        flags_only(D_CONTEXT),
    ),
    sc(
        K::Execve,
        "execve",
        R,
        Some(59),
        Some(221),
        Capture {
            flags: D_FAILURE_ONLY,
            ..path(1)
        },
    )
    .event(E::ProcessExec)
    .fields(&[p0("filename")]),
    sc(
        K::Execveat,
        "execveat",
        R,
        Some(322),
        Some(281),
        Capture {
            flags: D_FAILURE_ONLY,
            ..path(2)
        },
    )
    .event(E::ProcessExec)
    .fields(&[at(0, "dfd", 0, "filename")]),
    sc(
        K::Exit,
        "exit",
        R,
        Some(60),
        Some(93),
        flags_only(D_CONTEXT),
    ),
    sc(
        K::ExitGroup,
        "exit_group",
        R,
        Some(231),
        Some(94),
        flags_only(D_CONTEXT),
    ),
    sc(K::Pipe, "pipe", R, Some(22), None, out(Out::FdPair(1)))
        .event(E::ProcessPipe)
        .fields(PIPE)
        .effect(Effect::Pipe { cloexec: NEVER }),
    sc(
        K::Pipe2,
        "pipe2",
        R,
        Some(293),
        Some(59),
        out(Out::FdPair(1)),
    )
    .event(E::ProcessPipe)
    .fields(PIPE2)
    .effect(Effect::Pipe {
        cloexec: Cloexec::Flag(Src::Arg(1)),
    }),
    sc(K::Kill, "kill", R, Some(62), Some(129), NONE)
        .event(E::ProcessKill)
        .fields(&[Fl::Int("target_pid", 0), Fl::Signal(1)]),
    sc(K::Tkill, "tkill", R, Some(200), Some(130), NONE)
        .event(E::ProcessKill)
        .fields(&[Fl::Int("target_tid", 0), Fl::Signal(1)]),
    sc(K::Tgkill, "tgkill", R, Some(234), Some(131), NONE)
        .event(E::ProcessKill)
        .fields(&[
            Fl::Int("target_pid", 0),
            Fl::Int("target_tid", 1),
            Fl::Signal(2),
        ]),
    sc(K::Ptrace, "ptrace", R, Some(101), Some(117), NONE)
        .event(E::ProcessPtrace)
        .fields(&[
            Fl::Flags("request", Src::Arg(0), FlagFamily::Ptrace),
            Fl::Int("target_pid", 1),
            Fl::U64("addr", 2),
            Fl::U64("data", 3),
        ]),
    sc(K::Mmap, "mmap", R, Some(9), Some(222), fd(5))
        .event(E::ProcessMmap)
        .fields(MMAP),
    sc(K::Mprotect, "mprotect", R, Some(10), Some(226), NONE)
        .event(E::ProcessMprotect)
        .fields(&[
            Fl::U64("addr", 0),
            Fl::U64("len", 1),
            Fl::Flags("prot", Src::Arg(2), FlagFamily::Prot),
        ]),
    sc(
        K::Connect,
        "connect",
        N,
        Some(42),
        Some(203),
        msg(Addr::In(2, 3), Payload::None),
    )
    .event(E::NetConnect)
    .fields(CONNECT)
    .effect(Effect::Connect),
    sc(
        K::Sendto,
        "sendto",
        N,
        Some(44),
        Some(206),
        msg(Addr::In(5, 6), Payload::Buf(2)),
    )
    .event(E::NetSendto)
    .fields(SENDTO),
    sc(
        K::Sendmsg,
        "sendmsg",
        N,
        Some(46),
        Some(211),
        msg(Addr::Msg(2), Payload::Msg(2)),
    )
    .event(E::NetSendto)
    .fields(SENDMSG),
    sc(
        K::Sendmmsg,
        "sendmmsg",
        N,
        Some(307),
        Some(269),
        msg(Addr::Msg(2), Payload::Mmsg(2)),
    )
    .event(E::NetSendto)
    .fields(SENDMMSG),
    sc(
        K::Recvfrom,
        "recvfrom",
        N,
        Some(45),
        Some(207),
        msg(Addr::Out(5, 6), Payload::Buf(2)),
    )
    .event(E::NetRecvfrom)
    .fields(SENDTO),
    sc(
        K::Recvmsg,
        "recvmsg",
        N,
        Some(47),
        Some(212),
        msg(Addr::Msg(2), Payload::Msg(2)),
    )
    .event(E::NetRecvfrom)
    .fields(SENDMSG),
    sc(
        K::Recvmmsg,
        "recvmmsg",
        N,
        Some(299),
        Some(243),
        msg(Addr::Msg(2), Payload::Mmsg(2)),
    )
    .event(E::NetRecvfrom)
    .fields(SENDMMSG),
    sc(
        K::Accept,
        "accept",
        N,
        Some(43),
        Some(202),
        msg(Addr::Out(2, 3), Payload::None),
    )
    .event(E::NetAccept)
    .fields(&[
        FD,
        Fl::RetFd("newfd"),
        Fl::PeerAddr,
        flags(Src::Const(0), FlagFamily::SocketType),
    ])
    .effect(Effect::Accept { cloexec: NEVER }),
    sc(
        K::Accept4,
        "accept4",
        N,
        Some(288),
        Some(242),
        msg(Addr::Out(2, 3), Payload::None),
    )
    .event(E::NetAccept)
    .fields(&[
        FD,
        Fl::RetFd("newfd"),
        Fl::PeerAddr,
        flags(Src::Arg(3), FlagFamily::SocketType),
    ])
    .effect(Effect::Accept {
        cloexec: Cloexec::Flag(Src::Arg(3)),
    }),
    sc(
        K::Bind,
        "bind",
        N,
        Some(49),
        Some(200),
        msg(Addr::In(2, 3), Payload::None),
    )
    .event(E::NetBind)
    .fields(CONNECT),
    sc(
        K::Getpeername,
        "getpeername",
        N,
        Some(52),
        Some(205),
        msg(Addr::Out(2, 3), Payload::None),
    )
    .event(E::NetGetpeername)
    .fields(CONNECT),
    sc(
        K::Socketpair,
        "socketpair",
        N,
        Some(53),
        Some(199),
        out(Out::FdPair(4)),
    )
    .event(E::NetSocketpair)
    .fields(&[
        Fl::Symbol("family", 0, FlagFamily::AddressFamily),
        Fl::Symbol("type", 1, FlagFamily::SocketType),
        Fl::Symbol("protocol", 2, FlagFamily::IpProtocol),
        Fl::FdPair,
    ])
    .effect(Effect::Socketpair {
        cloexec: Cloexec::Flag(Src::Arg(1)),
    }),
    sc(K::Socket, "socket", N, Some(41), Some(198), NONE).effect(Effect::Socket {
        cloexec: Cloexec::Flag(Src::Arg(1)),
    }),
    sc(K::Setuid, "setuid", P, Some(105), Some(146), NONE)
        .event(E::PermSetuid)
        .fields(&[Fl::Id("new_uid", 0)]),
    sc(K::Setreuid, "setreuid", P, Some(113), Some(145), NONE)
        .event(E::PermSetreuid)
        .fields(&[Fl::Id("ruid", 0), Fl::Id("euid", 1)]),
    sc(K::Setresuid, "setresuid", P, Some(117), Some(147), NONE)
        .event(E::PermSetresuid)
        .fields(&[Fl::Id("ruid", 0), Fl::Id("euid", 1), Fl::Id("suid", 2)]),
    sc(K::Setgid, "setgid", P, Some(106), Some(144), NONE)
        .event(E::PermSetgid)
        .fields(&[Fl::Id("new_gid", 0)]),
    sc(K::Setregid, "setregid", P, Some(114), Some(143), NONE)
        .event(E::PermSetregid)
        .fields(&[Fl::Id("rgid", 0), Fl::Id("egid", 1)]),
    sc(K::Setresgid, "setresgid", P, Some(119), Some(149), NONE)
        .event(E::PermSetresgid)
        .fields(&[Fl::Id("rgid", 0), Fl::Id("egid", 1), Fl::Id("sgid", 2)]),
    sc(K::Chown, "chown", F, Some(92), None, path(1))
        .event(E::FileChown)
        .fields(CHOWN)
        .effect(CHOWN_EFFECT),
    sc(K::Fchown, "fchown", F, Some(93), Some(55), fd(1))
        .event(E::FileChown)
        .fields(&[FD, Fl::FdName, Fl::Ino, NEW_UID, NEW_GID]),
    sc(K::Lchown, "lchown", F, Some(94), None, path(1))
        .event(E::FileChown)
        .fields(CHOWN)
        .effect(Effect::Chown {
            uid: 1,
            gid: 2,
            flags: Src::Const(AT_SYMLINK_NOFOLLOW),
        }),
    sc(K::Fchownat, "fchownat", F, Some(260), Some(54), path(2))
        .event(E::FileChown)
        .fields(&[
            at(0, "dfd", 0, "path"),
            Fl::Id("new_uid", 2),
            Fl::Id("new_gid", 3),
            at_flags(4),
        ])
        .effect(Effect::Chown {
            uid: 2,
            gid: 3,
            flags: Src::Arg(4),
        }),
    sc(
        K::Utimensat,
        "utimensat",
        F,
        Some(280),
        Some(88),
        Capture {
            fd_arg: 1,
            out: Out::Timespec2(3),
            ..path(2)
        },
    )
    .event(E::FileUtime)
    .fields(&[at(0, "dfd", 0, "path"), Fl::Times(2), at_flags(3)])
    .effect(Effect::Utime { flags: Src::Arg(3) }),
    sc(
        K::Utimes,
        "utimes",
        F,
        Some(235),
        None,
        Capture {
            out: Out::Timeval2(2),
            ..path(1)
        },
    )
    .event(E::FileUtime)
    .fields(&[p0("path"), Fl::Times(1)])
    .effect(UTIME_EFFECT),
    sc(
        K::Futimesat,
        "futimesat",
        F,
        Some(261),
        None,
        Capture {
            fd_arg: 1,
            out: Out::Timeval2(3),
            ..path(2)
        },
    )
    .event(E::FileUtime)
    .fields(&[at(0, "dfd", 0, "path"), Fl::Times(2)])
    .effect(UTIME_EFFECT),
    sc(
        K::Utime,
        "utime",
        F,
        Some(132),
        None,
        Capture {
            out: Out::Utimbuf(2),
            ..path(1)
        },
    )
    .event(E::FileUtime)
    .fields(&[p0("path"), Fl::Times(1)])
    .effect(UTIME_EFFECT),
    sc(K::Setxattr, "setxattr", F, Some(188), Some(5), paths(1, 2))
        .event(E::FileSetxattr)
        .fields(SETXATTR),
    sc(
        K::Lsetxattr,
        "lsetxattr",
        F,
        Some(189),
        Some(6),
        paths(1, 2),
    )
    .event(E::FileSetxattr)
    .fields(SETXATTR),
    sc(
        K::Fsetxattr,
        "fsetxattr",
        F,
        Some(190),
        Some(7),
        Capture {
            fd_arg: 1,
            ..paths(0, 2)
        },
    )
    .event(E::FileSetxattr)
    .fields(FSETXATTR),
    sc(
        K::Setxattrat,
        "setxattrat",
        F,
        Some(463),
        Some(463),
        Capture {
            out: Out::XattrArgs(5),
            ..paths(2, 4)
        },
    )
    .event(E::FileSetxattr)
    .fields(&[
        at(0, "dfd", 0, "path"),
        AT_FLAGS_2,
        XATTR_NAME,
        Fl::Value("size", Src::XattrSize),
        Fl::Flags("flags", Src::XattrFlags, FlagFamily::Xattr),
    ]),
    sc(
        K::Removexattr,
        "removexattr",
        F,
        Some(197),
        Some(14),
        paths(1, 2),
    )
    .event(E::FileRemovexattr)
    .fields(REMOVEXATTR),
    sc(
        K::Lremovexattr,
        "lremovexattr",
        F,
        Some(198),
        Some(15),
        paths(1, 2),
    )
    .event(E::FileRemovexattr)
    .fields(REMOVEXATTR),
    sc(
        K::Fremovexattr,
        "fremovexattr",
        F,
        Some(199),
        Some(16),
        Capture {
            fd_arg: 1,
            ..paths(0, 2)
        },
    )
    .event(E::FileRemovexattr)
    .fields(&[FD, Fl::FdName, XATTR_NAME]),
    sc(
        K::Removexattrat,
        "removexattrat",
        F,
        Some(466),
        Some(466),
        paths(2, 4),
    )
    .event(E::FileRemovexattr)
    .fields(&[at(0, "dfd", 0, "path"), AT_FLAGS_2, XATTR_NAME]),
    sc(
        K::CopyFileRange,
        "copy_file_range",
        F,
        Some(326),
        Some(285),
        copy(1, 3),
    )
    .event(E::FileCopy)
    .fields(COPY_FILE_RANGE)
    .effect(Effect::CopyTo),
    sc(K::Sendfile, "sendfile", F, Some(40), Some(71), copy(2, 1))
        .event(E::FileCopy)
        .fields(SENDFILE)
        .effect(Effect::CopyTo),
    sc(K::Splice, "splice", F, Some(275), Some(76), copy(1, 3))
        .event(E::FileCopy)
        .fields(COPY_FILE_RANGE)
        .effect(Effect::CopyTo),
    sc(K::Tee, "tee", F, Some(276), Some(77), copy(1, 2))
        .event(E::FileCopy)
        .fields(TEE)
        .effect(Effect::CopyTo),
    // An anonymous file in memory: a later exec through its fd runs a program that is on
    // no disk (the exec's `exe_path` says `memfd:NAME`).
    sc(
        K::MemfdCreate,
        "memfd_create",
        F,
        Some(319),
        Some(279),
        opens(1),
    )
    .event(E::FileMemfd)
    .fields(MEMFD_CREATE)
    .effect(Effect::Memfd { flags: Src::Arg(1) }),
    // io_uring: the ring's own syscalls. The operations it runs (IORING_OP_*) are
    // `io_uring_op` events from the kernel's io_uring tracepoints (REC_URING_OP records).
    sc(
        K::IoUringSetup,
        "io_uring_setup",
        F,
        Some(425),
        Some(425),
        flags_only(D_RET_FD),
    )
    .event(E::IoUringSetup)
    .fields(&[Fl::U64("entries", 0), Fl::U64("params", 1), Fl::RetFd("fd")]),
    sc(
        K::IoUringEnter,
        "io_uring_enter",
        F,
        Some(426),
        Some(426),
        fd(1),
    )
    .event(E::IoUringEnter)
    .fields(&[
        FD,
        Fl::U64("to_submit", 1),
        Fl::U64("min_complete", 2),
        Fl::U64("flags", 3),
    ]),
    sc(
        K::IoUringRegister,
        "io_uring_register",
        F,
        Some(427),
        Some(427),
        fd(1),
    )
    .event(E::IoUringRegister)
    .fields(&[
        FD,
        Fl::U64("opcode", 1),
        Fl::U64("arg", 2),
        Fl::U64("nr_args", 3),
    ]),
    // Only the options of PRCTL_RECORDED are recorded (chosen in the kernel).
    sc(K::Prctl, "prctl", R, Some(157), Some(167), out(Out::Str(2)))
        .event(E::ProcessPrctl)
        .fields(PRCTL),
    sc(
        K::InitModule,
        "init_module",
        Y,
        Some(175),
        Some(105),
        path(3),
    )
    .event(E::SysModuleLoad)
    .fields(&[Fl::U64("len", 1), text("params", 0)]),
    sc(
        K::FinitModule,
        "finit_module",
        Y,
        Some(313),
        Some(273),
        Capture {
            fd_arg: 1,
            ..path(2)
        },
    )
    .event(E::SysModuleLoad)
    .fields(&[
        FD,
        Fl::FdName,
        Fl::Ino,
        text("params", 0),
        bits("flags", 2, MODULE_INIT_FLAGS),
    ]),
    sc(
        K::DeleteModule,
        "delete_module",
        Y,
        Some(176),
        Some(106),
        path(1),
    )
    .event(E::SysModuleUnload)
    .fields(&[text("name", 0), bits("flags", 1, DELETE_MODULE_FLAGS)]),
    // Only the commands of BPF_CMDS_RECORDED are recorded (chosen in the kernel).
    sc(K::Bpf, "bpf", Y, Some(321), Some(280), out(Out::BpfAttr(2)))
        .event(E::SysBpf)
        .fields(&[
            Fl::Flags("cmd", Src::Arg(0), FlagFamily::Enum(BPF_COMMANDS)),
            Fl::U64("size", 2),
            Fl::BpfAttr,
        ]),
    sc(K::Unshare, "unshare", R, Some(272), Some(97), NONE)
        .event(E::ProcessUnshare)
        .fields(&[flags(Src::Arg(0), FlagFamily::Clone)]),
    sc(K::Setns, "setns", R, Some(308), Some(268), fd(1))
        .event(E::ProcessSetns)
        .fields(&[
            FD,
            Fl::FdName,
            Fl::Ino,
            Fl::Flags("nstype", Src::Arg(1), FlagFamily::Clone),
        ]),
    sc(
        K::Mount,
        "mount",
        Y,
        Some(165),
        Some(40),
        Capture {
            out: Out::Str(3),
            ..paths(1, 2)
        },
    )
    .event(E::SysMount)
    .fields(&[
        text("source", 0),
        p1("target"),
        Field::Text {
            key: "fstype",
            from: TextFrom::Short,
            when: None,
        },
        bits("flags", 3, MS_FLAGS),
    ]),
    sc(K::Umount2, "umount2", Y, Some(166), Some(39), path(1))
        .event(E::SysUmount)
        .fields(&[p0("target"), bits("flags", 1, UMOUNT_FLAGS)]),
    sc(K::Fsopen, "fsopen", Y, Some(430), Some(430), path(1))
        .event(E::SysMount)
        .fields(&[
            text("fstype", 0),
            bits("flags", 1, FSOPEN_FLAGS),
            Fl::RetFd("fd"),
        ]),
    sc(
        K::Fsconfig,
        "fsconfig",
        Y,
        Some(431),
        Some(431),
        paths(3, 4),
    )
    .event(E::SysMount)
    .fields(&[
        FD,
        Fl::Flags("cmd", Src::Arg(1), FlagFamily::Enum(FSCONFIG_CMDS)),
        Field::Text {
            key: "key",
            from: TextFrom::Path(0),
            when: Some((1, FSCONFIG_KEYED)),
        },
        Field::Text {
            key: "value",
            from: TextFrom::Path(1),
            when: Some((1, FSCONFIG_STRING)),
        },
        Fl::Int("aux", 4),
    ]),
    sc(K::Fsmount, "fsmount", Y, Some(432), Some(432), NONE)
        .event(E::SysMount)
        .fields(&[
            Fl::Fd("fs_fd", 0),
            bits("flags", 1, FSMOUNT_FLAGS),
            bits("attr_flags", 2, MOUNT_ATTRS),
            Fl::RetFd("fd"),
        ]),
    sc(
        K::MoveMount,
        "move_mount",
        Y,
        Some(429),
        Some(429),
        paths(2, 4),
    )
    .event(E::SysMount)
    .fields(&[
        at(0, "from_dfd", 0, "from_path"),
        at(1, "to_dfd", 2, "to_path"),
        bits("flags", 4, MOVE_MOUNT_FLAGS),
    ]),
    sc(K::OpenTree, "open_tree", Y, Some(428), Some(428), path(2))
        .event(E::SysMount)
        .fields(&[
            at(0, "dfd", 0, "path"),
            bits("flags", 2, OPEN_TREE_FLAGS),
            Fl::RetFd("fd"),
        ]),
    sc(
        K::Capset,
        "capset",
        P,
        Some(126),
        Some(91),
        out(Out::Capset(1)),
    )
    .event(E::PermCapset)
    .fields(&[Fl::CapSets]),
    sc(K::Chroot, "chroot", F, Some(161), Some(51), path(1))
        .event(E::FileChroot)
        .fields(&[p0("path")]),
    sc(
        K::PivotRoot,
        "pivot_root",
        Y,
        Some(155),
        Some(41),
        paths(1, 2),
    )
    .event(E::SysPivotRoot)
    .fields(&[p0("new_root"), p1("put_old")]),
];

/// How an i386 syscall's arguments differ from those of the catalogue syscall it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompatArgs {
    /// The same arguments in the same order (each 32 bits wide).
    Same,
    /// The old 16-bit set*id calls: ids are `old_uid_t`, `0xffff` meaning -1.
    Uid16,
    /// `mmap2`: the offset (argument 6) counts 4096-byte pages.
    PageOffset,
    /// A 64-bit length or offset passed as two 32-bit halves, low first, from argument
    /// 2 (`truncate64`, `ftruncate64`) or 4 (`pread64`, `pwrite64`, `preadv`, `pwritev`,
    /// `preadv2`, `pwritev2`): joined where the native syscall has it.
    Split64(u8),
}

/// A 32-bit syscall of an x86_64 task (`int $0x80`, `sysenter`, 32-bit `syscall`): its
/// i386 number and the catalogue syscall it is recorded as.
#[derive(Debug, Clone, Copy)]
pub struct CompatSyscall {
    /// The i386 number (arch/x86/entry/syscalls/syscall_32.tbl).
    pub nr: u32,
    /// The kellect id it is recorded under.
    pub id: u16,
    pub args: CompatArgs,
}

const fn i386(nr: u32, id: u16) -> CompatSyscall {
    CompatSyscall {
        nr,
        id,
        args: CompatArgs::Same,
    }
}

/// Every i386 syscall recorded from x86_64 tasks, by i386 number, mapped to kellect ids.
/// Several numbers may be one catalogue syscall (`stat` and `stat64`, `setuid` and
/// `setuid32`, the time32 and time64 `recvmmsg`). A 32-bit syscall not listed here is not
/// recorded: it is never looked up in the x86_64 table.
///
/// Not listed, because no catalogue syscall is what they do with these arguments: the old
/// `mmap` (90, its arguments in a struct in memory), `oldstat`/`oldlstat`/`oldfstat`, and
/// `socketcall` (102), whose calls are recorded through [`SOCKETCALL`] instead.
/// i386 has no `accept` of its own (only through `socketcall`); its `fstatat64` is
/// recorded as `newfstatat`, its `stat64` family as `stat`, `lstat`, `fstat`.
pub const I386: &[CompatSyscall] = &[
    i386(5, 1),          // open
    i386(295, 2),        // openat
    i386(437, 3),        // openat2
    i386(8, 4),          // creat
    i386(10, 5),         // unlink
    i386(301, 6),        // unlinkat
    i386(38, 7),         // rename
    i386(302, 8),        // renameat
    i386(353, 9),        // renameat2
    i386(15, 10),        // chmod
    i386(94, 11),        // fchmod
    i386(306, 12),       // fchmodat
    i386(452, 13),       // fchmodat2
    i386(106, 14),       // stat
    i386(195, 14),       // stat64
    i386(107, 15),       // lstat
    i386(196, 15),       // lstat64
    i386(108, 16),       // fstat
    i386(197, 16),       // fstat64
    i386(300, 17),       // fstatat64
    i386(383, 18),       // statx
    i386(12, 19),        // chdir
    i386(133, 20),       // fchdir
    i386(39, 21),        // mkdir
    i386(296, 22),       // mkdirat
    i386(40, 23),        // rmdir
    i386(3, 24),         // read
    split64(180, 25, 4), // pread64
    i386(145, 26),       // readv
    split64(333, 27, 4), // preadv
    split64(378, 28, 4), // preadv2
    i386(4, 29),         // write
    split64(181, 30, 4), // pwrite64
    i386(146, 31),       // writev
    split64(334, 32, 4), // pwritev
    split64(379, 33, 4), // pwritev2
    i386(41, 34),        // dup
    i386(63, 35),        // dup2
    i386(330, 36),       // dup3
    i386(55, 37),        // fcntl
    i386(221, 37),       // fcntl64
    i386(6, 38),         // close
    i386(92, 39),        // truncate
    split64(193, 39, 2), // truncate64
    i386(93, 40),        // ftruncate
    split64(194, 40, 2), // ftruncate64
    i386(9, 41),         // link
    i386(303, 42),       // linkat
    i386(83, 43),        // symlink
    i386(304, 44),       // symlinkat
    i386(2, 45),         // fork
    i386(190, 46),       // vfork
    i386(120, 47),       // clone
    i386(435, 48),       // clone3
    i386(11, 49),        // execve
    i386(358, 50),       // execveat
    i386(1, 51),         // exit
    i386(252, 52),       // exit_group
    i386(42, 53),        // pipe
    i386(331, 54),       // pipe2
    i386(37, 55),        // kill
    i386(238, 56),       // tkill
    i386(270, 57),       // tgkill
    i386(26, 58),        // ptrace
    CompatSyscall {
        nr: 192, // mmap2
        id: 59,
        args: CompatArgs::PageOffset,
    },
    i386(125, 60),  // mprotect
    i386(362, 61),  // connect
    i386(369, 62),  // sendto
    i386(370, 63),  // sendmsg
    i386(345, 64),  // sendmmsg
    i386(371, 65),  // recvfrom
    i386(372, 66),  // recvmsg
    i386(337, 67),  // recvmmsg
    i386(417, 67),  // recvmmsg_time64
    i386(364, 69),  // accept4
    i386(361, 70),  // bind
    i386(368, 71),  // getpeername
    i386(360, 72),  // socketpair
    i386(359, 73),  // socket
    uid16(23, 74),  // setuid
    i386(213, 74),  // setuid32
    uid16(70, 75),  // setreuid
    i386(203, 75),  // setreuid32
    uid16(164, 76), // setresuid
    i386(208, 76),  // setresuid32
    uid16(46, 77),  // setgid
    i386(214, 77),  // setgid32
    uid16(71, 78),  // setregid
    i386(204, 78),  // setregid32
    uid16(170, 79), // setresgid
    i386(210, 79),  // setresgid32
    // The 16-bit chown, lchown and fchown (182, 16, 95) are not listed: their ids are
    // in arguments 2..3 (after the path or fd), where D_UID16 does not widen them.
    i386(212, 80),  // chown32
    i386(207, 81),  // fchown32
    i386(198, 82),  // lchown32
    i386(298, 83),  // fchownat
    i386(320, 84),  // utimensat (old_timespec32: its times are not read)
    i386(412, 84),  // utimensat_time64
    i386(271, 85),  // utimes
    i386(299, 86),  // futimesat
    i386(30, 87),   // utime
    i386(226, 88),  // setxattr
    i386(227, 89),  // lsetxattr
    i386(228, 90),  // fsetxattr
    i386(463, 91),  // setxattrat
    i386(235, 92),  // removexattr
    i386(236, 93),  // lremovexattr
    i386(237, 94),  // fremovexattr
    i386(466, 95),  // removexattrat
    i386(377, 96),  // copy_file_range
    i386(187, 97),  // sendfile
    i386(239, 97),  // sendfile64
    i386(313, 98),  // splice
    i386(315, 99),  // tee
    i386(356, 100), // memfd_create
    i386(425, 101), // io_uring_setup
    i386(426, 102), // io_uring_enter
    i386(427, 103), // io_uring_register
    i386(172, 104), // prctl
    i386(128, 105), // init_module
    i386(350, 106), // finit_module
    i386(129, 107), // delete_module
    i386(357, 108), // bpf
    i386(310, 109), // unshare
    i386(346, 110), // setns
    i386(21, 111),  // mount
    i386(52, 112),  // umount2 (the one-argument umount, 22, is not recorded)
    i386(430, 113), // fsopen
    i386(431, 114), // fsconfig
    i386(432, 115), // fsmount
    i386(429, 116), // move_mount
    i386(428, 117), // open_tree
    i386(185, 118), // capset
    i386(61, 119),  // chroot
    i386(217, 120), // pivot_root
];

const fn split64(nr: u32, id: u16, low_arg: u8) -> CompatSyscall {
    CompatSyscall {
        nr,
        id,
        args: CompatArgs::Split64(low_arg),
    }
}

/// The i386 number of `socketcall(call, args)`, the multiplexer of socket calls.
pub const I386_SOCKETCALL: u32 = 102;
/// Where 32-bit syscalls are in the BPF "syscalls" map: this plus the i386 number
/// (`COMPAT_BASE` in records.h; native numbers are below it).
pub const COMPAT_BASE: u32 = 1024;
/// Where socketcall's calls are among them: `COMPAT_BASE + SOCKETCALL_BASE + SYS_*`
/// (`SOCKETCALL_BASE` in records.h), past every i386 number.
pub const SOCKETCALL_BASE: u32 = 1000;

/// The calls of i386's `socketcall` (linux/net.h `SYS_*`) recorded, and the catalogue
/// syscall each is recorded as (its arguments are read from socketcall's array, in the
/// catalogue syscall's order). `SYS_SEND` and `SYS_RECV` are `sendto` and `recvfrom`
/// without an address, as the kernel runs them. Not recorded: `SYS_LISTEN`,
/// `SYS_GETSOCKNAME`, `SYS_SHUTDOWN`, `SYS_SETSOCKOPT`, `SYS_GETSOCKOPT` (no catalogue
/// syscall).
pub const SOCKETCALL: &[(u32, u16)] = &[
    (1, 73),  // SYS_SOCKET: socket
    (2, 70),  // SYS_BIND: bind
    (3, 61),  // SYS_CONNECT: connect
    (5, 68),  // SYS_ACCEPT: accept
    (7, 71),  // SYS_GETPEERNAME: getpeername
    (8, 72),  // SYS_SOCKETPAIR: socketpair
    (9, 62),  // SYS_SEND: sendto
    (10, 65), // SYS_RECV: recvfrom
    (11, 62), // SYS_SENDTO: sendto
    (12, 65), // SYS_RECVFROM: recvfrom
    (16, 63), // SYS_SENDMSG: sendmsg
    (17, 66), // SYS_RECVMSG: recvmsg
    (18, 69), // SYS_ACCEPT4: accept4
    (19, 67), // SYS_RECVMMSG: recvmmsg
    (20, 64), // SYS_SENDMMSG: sendmmsg
];

const fn uid16(nr: u32, id: u16) -> CompatSyscall {
    CompatSyscall {
        nr,
        id,
        args: CompatArgs::Uid16,
    }
}

/// How a 32-bit syscall is captured: the catalogue syscall's capture, less what is read
/// through a structure whose 32-bit layout differs from the 64-bit one (`struct stat`,
/// `msghdr`, `mmsghdr`, `iovec`, the time structures of the utime family), which would otherwise be read wrongly. Paths, fds, plain
/// buffers, socket addresses, `int[2]`, `statx` and `open_how` are the same in both ABIs.
pub const fn compat_capture(c: Capture) -> Capture {
    Capture {
        addr: match c.addr {
            Addr::Msg(_) => Addr::None,
            a => a,
        },
        out: match c.out {
            // The 32-bit time structures too (old_timespec32, old_timeval32,
            // old_utimbuf32); utimensat_time64's is the 64-bit one, but shares the row.
            Out::Stat(_) | Out::Timespec2(_) | Out::Timeval2(_) | Out::Utimbuf(_) => Out::None,
            o => o,
        },
        payload: match c.payload {
            Payload::Iov(_) | Payload::Msg(_) | Payload::Mmsg(_) => Payload::None,
            p => p,
        },
        ..c
    }
}

/// The `struct sc_desc` bytes of a 32-bit syscall for the BPF "syscalls" map (at
/// [`COMPAT_BASE`] plus its number)
/// (`None` when its kellect id is unknown, which the table's test rules out).
pub fn compat_desc_bytes(c: &CompatSyscall) -> Option<[u8; 16]> {
    let native = by_id(c.id)?;
    let mut s = *native;
    s.capture = compat_capture(native.capture);
    s.capture.flags |= match c.args {
        CompatArgs::Same => 0,
        CompatArgs::Uid16 => D_UID16,
        CompatArgs::PageOffset => D_PGOFF,
        CompatArgs::Split64(2) => D_SPLIT64_2,
        CompatArgs::Split64(4) => D_SPLIT64_4,
        CompatArgs::Split64(_) => return None,
    };
    Some(desc_bytes(&s))
}

/// The `struct sc_desc` bytes of a call of i386's socketcall for the BPF "syscalls" map
/// (at [`COMPAT_BASE`] + [`SOCKETCALL_BASE`] + the call): the catalogue syscall's compat
/// capture (`None` for an unknown kellect id).
pub fn socketcall_desc_bytes(id: u16) -> Option<[u8; 16]> {
    let mut s = *by_id(id)?;
    s.capture = compat_capture(s.capture);
    Some(desc_bytes(&s))
}

/// The syscall with this kellect id.
pub fn by_id(id: u16) -> Option<&'static Syscall> {
    CATALOGUE.row(id)
}

/// A syscall id's name (`None` for ids this build does not know).
pub fn name(id: u16) -> Option<&'static str> {
    by_id(id).map(|s| s.name)
}

/// The `struct sc_desc` bytes for the BPF "syscalls" map ([`ScDesc`]).
pub fn desc_bytes(s: &Syscall) -> [u8; 16] {
    ScDesc::new(s).to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_dense_unique_and_named_once() {
        // Dense from 1.
        for (want, s) in (1..).zip(SYSCALLS) {
            assert_eq!(s.id, want, "{} is out of order", s.name);
            assert_eq!(by_id(s.id).unwrap().name, s.name);
        }
        let mut names: Vec<_> = SYSCALLS.iter().map(|s| s.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), SYSCALLS.len());
        assert!(by_id(0).is_none() && by_id(999).is_none());
    }

    #[test]
    fn native_numbers_are_unique_per_arch() {
        for arch in [|s: &Syscall| s.x86_64, |s: &Syscall| s.aarch64] {
            let mut nrs: Vec<u32> = SYSCALLS.iter().filter_map(arch).collect();
            let n = nrs.len();
            nrs.sort();
            nrs.dedup();
            assert_eq!(nrs.len(), n);
        }
    }

    #[test]
    fn i386_numbers_are_unique_and_cover_the_catalogue() {
        let mut nrs: Vec<u32> = I386.iter().map(|c| c.nr).collect();
        nrs.sort();
        nrs.dedup();
        assert_eq!(nrs.len(), I386.len());
        for c in I386 {
            assert!(
                by_id(c.id).is_some(),
                "i386 {} maps to unknown id {}",
                c.nr,
                c.id
            );
            assert!(
                c.nr < SOCKETCALL_BASE,
                "i386 {} is past its part of the map",
                c.nr
            );
            assert!(compat_desc_bytes(c).is_some());
        }
        // Every catalogue syscall has an i386 number, except those i386 lacks.
        for s in SYSCALLS {
            let mapped = I386.iter().any(|c| c.id == s.id);
            let absent = s.name == "accept";
            assert!(
                mapped != absent,
                "{}: mapped {mapped}, absent on i386 {absent}",
                s.name
            );
        }
        // Spot checks against syscall_32.tbl: the numbers of the issue's example.
        let id_of = |nr: u32| I386.iter().find(|c| c.nr == nr).map(|c| c.id);
        assert_eq!(id_of(5), Some(1)); // open
        assert_eq!(id_of(4), Some(29)); // write
        assert_eq!(id_of(6), Some(38)); // close
        assert_eq!(id_of(10), Some(5)); // unlink
        assert_eq!(id_of(102), None); // socketcall: its own table
        let pread64 = I386.iter().find(|c| c.nr == 180).unwrap();
        assert_eq!(compat_desc_bytes(pread64).unwrap()[3], D_SPLIT64_4);
        let ftruncate64 = I386.iter().find(|c| c.nr == 194).unwrap();
        assert_eq!(compat_desc_bytes(ftruncate64).unwrap()[3], D_SPLIT64_2);
        assert_eq!(id_of(90), None); // old mmap
    }

    #[test]
    fn socketcall_calls_are_unique_and_known() {
        let mut calls: Vec<u32> = SOCKETCALL.iter().map(|&(c, _)| c).collect();
        calls.sort();
        calls.dedup();
        assert_eq!(calls.len(), SOCKETCALL.len());
        for &(call, id) in SOCKETCALL {
            // The BPF side takes calls 1..=20 (SYS_SENDMMSG), within the 1024 compat entries.
            assert!((1..=20).contains(&call), "call {call}");
            assert!(SOCKETCALL_BASE + call < 1024);
            let d = socketcall_desc_bytes(id).unwrap_or_else(|| panic!("call {call}"));
            assert_eq!(u16::from_le_bytes([d[0], d[1]]), id);
            assert_eq!(by_id(id).unwrap().group, Group::Network, "call {call}");
        }
        // accept exists on i386 only through socketcall.
        assert!(SOCKETCALL.contains(&(5, 68)));
    }

    #[test]
    fn compat_capture_reads_no_64_bit_structure() {
        for c in I386 {
            let d = compat_desc_bytes(c).unwrap();
            let native = desc_bytes(by_id(c.id).unwrap());
            // addr_kind 3 (msghdr), out_kind 1 (struct stat), payload 2..=4 (iovec, msghdr).
            assert_ne!(d[7], 3, "{}", c.nr);
            assert_ne!(d[10], 1, "{}", c.nr);
            assert!(d[12] <= 1, "{}", c.nr);
            // Everything else is the catalogue syscall's.
            assert_eq!(d[..3], native[..3], "{}", c.nr);
            let compat_flags = D_UID16 | D_PGOFF | D_SPLIT64_2 | D_SPLIT64_4;
            assert_eq!(d[3] & !compat_flags, native[3], "{}", c.nr);
            assert_eq!(d[4..7], native[4..7], "{}", c.nr);
            let uid16 = matches!(c.args, CompatArgs::Uid16);
            assert_eq!(d[3] & D_UID16 != 0, uid16, "{}", c.nr);
        }
        let mmap2 = I386.iter().find(|c| c.nr == 192).unwrap();
        assert_eq!(compat_desc_bytes(mmap2).unwrap()[3], D_PGOFF);
    }

    #[test]
    fn argument_numbers_are_in_range() {
        for s in SYSCALLS {
            let c = &s.capture;
            let (a, b) = match c.addr {
                Addr::None => (0, 0),
                Addr::In(a, b) | Addr::Out(a, b) => (a, b),
                Addr::Msg(a) => (a, 0),
            };
            let o = match c.out {
                Out::None => 0,
                Out::Stat(a)
                | Out::Statx(a)
                | Out::FdPair(a)
                | Out::OpenHow(a)
                | Out::Timespec2(a)
                | Out::Timeval2(a)
                | Out::Utimbuf(a)
                | Out::XattrArgs(a)
                | Out::FdInode(a)
                | Out::Str(a)
                | Out::BpfAttr(a)
                | Out::Capset(a) => a,
            };
            let p = match c.payload {
                Payload::None => 0,
                Payload::Buf(a) | Payload::Iov(a) | Payload::Msg(a) | Payload::Mmsg(a) => a,
            };
            for arg in [c.path0, c.path1, c.fd_arg, a, b, o, p] {
                assert!(arg <= 6, "{}: argument {arg}", s.name);
            }
        }
    }

    #[test]
    fn rows_fields_and_effects_agree_with_the_capture() {
        for s in SYSCALLS {
            // A catalogue event names its fields; context-only rows show raw arguments.
            assert_eq!(
                s.event.is_some(),
                s.fields != [Field::Args],
                "{}: event {:?}",
                s.name,
                s.event
            );
            for f in s.fields {
                let args: &[u8] = match *f {
                    Field::Path { slot, dirfd, .. } => {
                        let captured = if slot == 0 {
                            s.capture.path0
                        } else {
                            s.capture.path1
                        };
                        assert!(captured != 0, "{}: path {slot} is not captured", s.name);
                        &[dirfd.map_or(0, |(_, a)| a)]
                    }
                    Field::Fd(_, a)
                    | Field::NewFd(_, a)
                    | Field::Symbol(_, a, _)
                    | Field::Int(_, a)
                    | Field::U64(_, a)
                    | Field::I64(_, a)
                    | Field::Id(_, a)
                    | Field::Signal(a)
                    | Field::FcntlCmd(a)
                    | Field::Times(a)
                    | Field::OtherFd { arg: a, .. } => &[a],
                    Field::Flags(_, Src::Arg(a), _) => &[a],
                    Field::Text { from, when, .. } => {
                        match from {
                            TextFrom::Path(0) => assert!(s.capture.path0 != 0, "{}", s.name),
                            TextFrom::Path(_) => assert!(s.capture.path1 != 0, "{}", s.name),
                            TextFrom::Short => {
                                assert!(matches!(s.capture.out, Out::Str(_)), "{}", s.name)
                            }
                        }
                        match when {
                            Some((0, _)) => &[0],
                            Some((1, _)) => &[1],
                            Some((a, _)) => panic!("{}: text shown by argument {a}", s.name),
                            None => &[],
                        }
                    }
                    Field::BpfAttr => {
                        assert!(matches!(s.capture.out, Out::BpfAttr(_)), "{}", s.name);
                        &[]
                    }
                    Field::CapSets => {
                        assert!(matches!(s.capture.out, Out::Capset(_)), "{}", s.name);
                        &[]
                    }
                    _ => &[],
                };
                for a in args {
                    assert!(*a < 6, "{}: argument {a}", s.name);
                }
            }
            match s.effect {
                Effect::Open { .. } | Effect::Memfd { .. } => {
                    assert!(s.capture.flags & D_RET_FD != 0 && s.capture.path0 != 0)
                }
                Effect::Link | Effect::Symlink | Effect::Rename { .. } => {
                    assert!(s.capture.path0 != 0 && s.capture.path1 != 0, "{}", s.name)
                }
                Effect::Chmod { .. }
                | Effect::Truncate { .. }
                | Effect::Unlink { .. }
                | Effect::Rmdir
                | Effect::Chdir
                | Effect::LookAt { .. } => assert!(s.capture.path0 != 0, "{}", s.name),
                Effect::Dup { .. } | Effect::Close | Effect::Fchdir | Effect::Connect => {
                    assert!(s.event_fd().is_some(), "{}", s.name)
                }
                Effect::Pipe { .. } | Effect::Socketpair { .. } => {
                    assert!(matches!(s.capture.out, Out::FdPair(_)), "{}", s.name)
                }
                Effect::Chown { .. } | Effect::Utime { .. } => {
                    assert!(s.capture.path0 != 0, "{}", s.name)
                }
                Effect::CopyTo => assert!(matches!(s.capture.out, Out::FdInode(_)), "{}", s.name),
                Effect::Socket { .. } | Effect::Accept { .. } | Effect::None => {}
            }
        }
        // Every event type comes from some row, or from a sched_process_* record.
        for t in EventType::ALL {
            let sched = matches!(
                t,
                EventType::ProcessFork | EventType::ProcessClone | EventType::ProcessExit
            );
            // file_create is an open that created its file.
            let refined = t == EventType::FileCreate;
            // io_uring_op comes from REC_URING_OP records.
            let refined = refined || t == EventType::IoUringOp;
            let from_row = SYSCALLS.iter().any(|s| s.event == Some(t));
            assert!(sched || refined || from_row, "{}", t.name());
            assert_eq!(EventType::from_name(t.name()), Some(t));
        }
    }

    /// The enumerators of `enum name` in records.h, as (name, value).
    fn records_h_enum(name: &str) -> Vec<(String, u32)> {
        let h = include_str!("../bpf/records.h");
        let start = h.find(&format!("enum {name} {{")).unwrap();
        let body = &h[start..start + h[start..].find("};").unwrap()];
        let body = body.split_once('{').unwrap().1;
        let mut out = Vec::new();
        for line in body.lines() {
            let code = line.split("/*").next().unwrap();
            for item in code.split(',') {
                let Some((k, v)) = item.split_once('=') else {
                    continue;
                };
                let v = v.trim();
                let value = match v.split_once("<<") {
                    Some((a, b)) => {
                        a.trim().parse::<u32>().unwrap() << b.trim().parse::<u32>().unwrap()
                    }
                    None => v.parse().unwrap(),
                };
                out.push((k.trim().to_owned(), value));
            }
        }
        out
    }

    #[test]
    fn desc_enums_match_records_h() {
        let check = |name: &str, rust: &[(&str, u32)]| {
            let c = records_h_enum(name);
            let rust: Vec<(String, u32)> = rust.iter().map(|(k, v)| (k.to_string(), *v)).collect();
            assert_eq!(c, rust, "enum {name}");
        };
        let g = |g: Group| g.bit() as u32;
        check(
            "sc_group",
            &[
                ("G_FILE", g(Group::File)),
                ("G_PROCESS", g(Group::Process)),
                ("G_NETWORK", g(Group::Network)),
                ("G_PERMISSION", g(Group::Permission)),
                ("G_SYSTEM", g(Group::System)),
            ],
        );
        let d = |v: u8| v as u32;
        check(
            "sc_flag",
            &[
                ("D_RET_FD", d(D_RET_FD)),
                ("D_CONTEXT", d(D_CONTEXT)),
                ("D_FAILURE_ONLY", d(D_FAILURE_ONLY)),
                ("D_FCNTL_DUP", d(D_FCNTL_DUP)),
                ("D_UID16", d(D_UID16)),
                ("D_PGOFF", d(D_PGOFF)),
                ("D_SPLIT64_2", d(D_SPLIT64_2)),
                ("D_SPLIT64_4", d(D_SPLIT64_4)),
            ],
        );
        check(
            "sc_addr_kind",
            &[
                ("A_NONE", d(A_NONE)),
                ("A_IN", d(A_IN)),
                ("A_OUT", d(A_OUT)),
                ("A_MSG", d(A_MSG)),
            ],
        );
        check(
            "sc_out_kind",
            &[
                ("O_NONE", d(O_NONE)),
                ("O_STAT", d(O_STAT)),
                ("O_STATX", d(O_STATX)),
                ("O_FDPAIR", d(O_FDPAIR)),
                ("O_OPENHOW", d(O_OPENHOW)),
                ("O_TIMESPEC2", d(O_TIMESPEC2)),
                ("O_TIMEVAL2", d(O_TIMEVAL2)),
                ("O_UTIMBUF", d(O_UTIMBUF)),
                ("O_XATTR_ARGS", d(O_XATTR_ARGS)),
                ("O_FD_INODE", d(O_FD_INODE)),
                ("O_STR", d(O_STR)),
                ("O_BPF_ATTR", d(O_BPF_ATTR)),
                ("O_CAPSET", d(O_CAPSET)),
            ],
        );
        check(
            "sc_payload_kind",
            &[
                ("P_NONE", d(P_NONE)),
                ("P_BUF", d(P_BUF)),
                ("P_IOV", d(P_IOV)),
                ("P_MSG", d(P_MSG)),
                ("P_MMSG", d(P_MMSG)),
            ],
        );
        check(
            "kl_app",
            &[
                ("APP_NONE", d(APP_NONE)),
                ("APP_DNS", d(APP_DNS)),
                ("APP_HTTP", d(APP_HTTP)),
                ("APP_SYSLOG", d(APP_SYSLOG)),
            ],
        );
        // The prctl options the kernel side records, by their records.h names.
        let prctl: Vec<(String, u32)> = PRCTL_RECORDED
            .iter()
            .map(|&(v, n)| (format!("KL_{n}"), v as u32))
            .collect();
        assert_eq!(records_h_enum("kl_prctl"), prctl, "enum kl_prctl");
        let define = |name: &str| {
            let h = include_str!("../bpf/records.h");
            let line = h
                .lines()
                .find(|l| l.starts_with(&format!("#define {name} ")))
                .unwrap();
            let v = line.split_whitespace().nth(2).unwrap();
            let v = v.trim_end_matches("ULL");
            match v.strip_prefix("0x") {
                Some(hex) => u64::from_str_radix(hex, 16).unwrap(),
                None => v.parse().unwrap(),
            }
        };
        assert_eq!(define("KL_BPF_CMDS"), BPF_CMDS_RECORDED);
        assert_eq!(define("KL_STR_MAX"), STR_MAX as u64);
        assert_eq!(define("KL_BPF_ATTR"), BPF_ATTR_MAX as u64);
    }

    #[test]
    fn sc_desc_layout_matches_records_h() {
        use std::mem::offset_of;
        // struct sc_desc: __u16 ksys, thirteen __u8, __u8 _pad.
        assert_eq!(size_of::<ScDesc>(), 16);
        assert_eq!(offset_of!(ScDesc, ksys), 0);
        assert_eq!(offset_of!(ScDesc, group), 2);
        assert_eq!(offset_of!(ScDesc, flags), 3);
        assert_eq!(offset_of!(ScDesc, path0), 4);
        assert_eq!(offset_of!(ScDesc, path1), 5);
        assert_eq!(offset_of!(ScDesc, fd_arg), 6);
        assert_eq!(offset_of!(ScDesc, addr_kind), 7);
        assert_eq!(offset_of!(ScDesc, addr_arg), 8);
        assert_eq!(offset_of!(ScDesc, addr_len_arg), 9);
        assert_eq!(offset_of!(ScDesc, out_kind), 10);
        assert_eq!(offset_of!(ScDesc, out_arg), 11);
        assert_eq!(offset_of!(ScDesc, payload_kind), 12);
        assert_eq!(offset_of!(ScDesc, payload_arg), 13);
        assert_eq!(offset_of!(ScDesc, nargs), 14);
        assert_eq!(offset_of!(ScDesc, _pad), 15);
        // The fields in records.h's order.
        let h = include_str!("../bpf/records.h");
        let start = h.find("struct sc_desc {").unwrap();
        let body = &h[start..start + h[start..].find("};").unwrap()];
        let fields: Vec<&str> = body
            .lines()
            .skip(1)
            .filter_map(|l| l.split("/*").next()?.trim().strip_suffix(';'))
            .map(|l| l.rsplit(' ').next().unwrap())
            .collect();
        assert_eq!(
            fields,
            [
                "ksys",
                "group",
                "flags",
                "path0",
                "path1",
                "fd_arg",
                "addr_kind",
                "addr_arg",
                "addr_len_arg",
                "out_kind",
                "out_arg",
                "payload_kind",
                "payload_arg",
                "nargs",
                "_pad"
            ]
        );
        // openat2: id 3, file group, D_RET_FD, path in 2, open_how in 3, 4 arguments.
        let d = desc_bytes(by_id(Ksys::Openat2 as u16).unwrap());
        assert_eq!(d, [3, 0, 1, 1, 2, 0, 0, 0, 0, 0, 4, 3, 0, 0, 4, 0]);
        // sendto: address in 5 (length 6), payload a buffer in 2, 6 arguments.
        let d = desc_bytes(by_id(Ksys::Sendto as u16).unwrap());
        assert_eq!(d, [62, 0, 4, 0, 0, 0, 1, 1, 5, 6, 0, 0, 1, 2, 6, 0]);
    }

    #[test]
    fn ksys_matches_records_h_and_the_table() {
        let h = include_str!("../bpf/records.h");
        let start = h.find("enum ksys {").unwrap();
        let body = &h[start..start + h[start..].find("};").unwrap()];
        let mut seen = 0;
        for item in body.split([',', '{', '\n']) {
            let item = item.split("/*").next().unwrap().trim();
            let Some((name, value)) = item.split_once(" = ") else {
                continue;
            };
            let name = name.trim().strip_prefix("KS_").unwrap();
            if name == "NONE" || name == "MAX" {
                continue;
            }
            let value: u16 = value.trim().parse().unwrap();
            let k = Ksys::from_id(value).unwrap_or_else(|| panic!("KS_{name} = {value}"));
            assert_eq!(k.name().to_ascii_uppercase(), name, "KS_{name}");
            seen += 1;
        }
        assert_eq!(seen, Ksys::ALL.len());
        assert_eq!(SYSCALLS.len(), Ksys::ALL.len());
        for (s, k) in SYSCALLS.iter().zip(Ksys::ALL) {
            assert_eq!(s.id, *k as u16, "{}", s.name);
        }
        assert_eq!(Ksys::from_id(0), None);
        let last = *Ksys::ALL.last().unwrap() as u16;
        assert_eq!(Ksys::from_id(last + 1), None);
    }
}
