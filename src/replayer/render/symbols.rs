//! Symbolic names for the raw numbers in syscall arguments: errnos, signals, open/mmap/clone
//! flags, socket families and types, file modes.
//!
//! A trace recorded on an x86_64 or aarch64 host is replayed anywhere (macOS too), so the
//! numbers are written out here from the Linux uapi headers (asm-generic, plus the x86_64
//! and arm64 differences) instead of being taken from the replaying host's libc. Every
//! function is pure and total: bits without a name are kept as a hex remainder
//! (`O_RDONLY|0x40000000`), so nothing the kernel saw is lost from the output.

use std::fmt::Write as _;

/// The architecture a trace was recorded on, where the uapi numbers differ between the two.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// From the `uname -m` machine string of the recording host; unknown machines are
    /// treated as x86_64.
    pub fn from_machine(machine: &str) -> Arch {
        match machine {
            "aarch64" | "aarch64_be" | "arm64" => Arch::Aarch64,
            _ => Arch::X86_64,
        }
    }
}

/// A name table: a value (or a flag's bits) and its uapi name.
type Table = [(u64, &'static str)];

/// asm-generic/errno-base.h + errno.h, shared by x86_64 and arm64. 41 (`EWOULDBLOCK`) and
/// 58 (`EDEADLOCK`) are aliases of `EAGAIN` and `EDEADLK`, so they have no number of their own.
const ERRNOS: &Table = &[
    (1, "EPERM"),
    (2, "ENOENT"),
    (3, "ESRCH"),
    (4, "EINTR"),
    (5, "EIO"),
    (6, "ENXIO"),
    (7, "E2BIG"),
    (8, "ENOEXEC"),
    (9, "EBADF"),
    (10, "ECHILD"),
    (11, "EAGAIN"),
    (12, "ENOMEM"),
    (13, "EACCES"),
    (14, "EFAULT"),
    (15, "ENOTBLK"),
    (16, "EBUSY"),
    (17, "EEXIST"),
    (18, "EXDEV"),
    (19, "ENODEV"),
    (20, "ENOTDIR"),
    (21, "EISDIR"),
    (22, "EINVAL"),
    (23, "ENFILE"),
    (24, "EMFILE"),
    (25, "ENOTTY"),
    (26, "ETXTBSY"),
    (27, "EFBIG"),
    (28, "ENOSPC"),
    (29, "ESPIPE"),
    (30, "EROFS"),
    (31, "EMLINK"),
    (32, "EPIPE"),
    (33, "EDOM"),
    (34, "ERANGE"),
    (35, "EDEADLK"),
    (36, "ENAMETOOLONG"),
    (37, "ENOLCK"),
    (38, "ENOSYS"),
    (39, "ENOTEMPTY"),
    (40, "ELOOP"),
    (42, "ENOMSG"),
    (43, "EIDRM"),
    (44, "ECHRNG"),
    (45, "EL2NSYNC"),
    (46, "EL3HLT"),
    (47, "EL3RST"),
    (48, "ELNRNG"),
    (49, "EUNATCH"),
    (50, "ENOCSI"),
    (51, "EL2HLT"),
    (52, "EBADE"),
    (53, "EBADR"),
    (54, "EXFULL"),
    (55, "ENOANO"),
    (56, "EBADRQC"),
    (57, "EBADSLT"),
    (59, "EBFONT"),
    (60, "ENOSTR"),
    (61, "ENODATA"),
    (62, "ETIME"),
    (63, "ENOSR"),
    (64, "ENONET"),
    (65, "ENOPKG"),
    (66, "EREMOTE"),
    (67, "ENOLINK"),
    (68, "EADV"),
    (69, "ESRMNT"),
    (70, "ECOMM"),
    (71, "EPROTO"),
    (72, "EMULTIHOP"),
    (73, "EDOTDOT"),
    (74, "EBADMSG"),
    (75, "EOVERFLOW"),
    (76, "ENOTUNIQ"),
    (77, "EBADFD"),
    (78, "EREMCHG"),
    (79, "ELIBACC"),
    (80, "ELIBBAD"),
    (81, "ELIBSCN"),
    (82, "ELIBMAX"),
    (83, "ELIBEXEC"),
    (84, "EILSEQ"),
    (85, "ERESTART"),
    (86, "ESTRPIPE"),
    (87, "EUSERS"),
    (88, "ENOTSOCK"),
    (89, "EDESTADDRREQ"),
    (90, "EMSGSIZE"),
    (91, "EPROTOTYPE"),
    (92, "ENOPROTOOPT"),
    (93, "EPROTONOSUPPORT"),
    (94, "ESOCKTNOSUPPORT"),
    (95, "EOPNOTSUPP"),
    (96, "EPFNOSUPPORT"),
    (97, "EAFNOSUPPORT"),
    (98, "EADDRINUSE"),
    (99, "EADDRNOTAVAIL"),
    (100, "ENETDOWN"),
    (101, "ENETUNREACH"),
    (102, "ENETRESET"),
    (103, "ECONNABORTED"),
    (104, "ECONNRESET"),
    (105, "ENOBUFS"),
    (106, "EISCONN"),
    (107, "ENOTCONN"),
    (108, "ESHUTDOWN"),
    (109, "ETOOMANYREFS"),
    (110, "ETIMEDOUT"),
    (111, "ECONNREFUSED"),
    (112, "EHOSTDOWN"),
    (113, "EHOSTUNREACH"),
    (114, "EALREADY"),
    (115, "EINPROGRESS"),
    (116, "ESTALE"),
    (117, "EUCLEAN"),
    (118, "ENOTNAM"),
    (119, "ENAVAIL"),
    (120, "EISNAM"),
    (121, "EREMOTEIO"),
    (122, "EDQUOT"),
    (123, "ENOMEDIUM"),
    (124, "EMEDIUMTYPE"),
    (125, "ECANCELED"),
    (126, "ENOKEY"),
    (127, "EKEYEXPIRED"),
    (128, "EKEYREVOKED"),
    (129, "EKEYREJECTED"),
    (130, "EOWNERDEAD"),
    (131, "ENOTRECOVERABLE"),
    (132, "ERFKILL"),
    (133, "EHWPOISON"),
];

/// asm-generic/signal.h; x86_64 and arm64 agree.
const SIGNALS: &Table = &[
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (16, "SIGSTKFLT"),
    (17, "SIGCHLD"),
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (20, "SIGTSTP"),
    (21, "SIGTTIN"),
    (22, "SIGTTOU"),
    (23, "SIGURG"),
    (24, "SIGXCPU"),
    (25, "SIGXFSZ"),
    (26, "SIGVTALRM"),
    (27, "SIGPROF"),
    (28, "SIGWINCH"),
    (29, "SIGIO"),
    (30, "SIGPWR"),
    (31, "SIGSYS"),
];
/// The kernel's SIGRTMIN and _NSIG (glibc reserves the first few real-time signals and
/// moves its own SIGRTMIN up, but the kernel numbers are what a trace holds).
const SIGRTMIN: u64 = 32;
const SIGRTMAX: u64 = 64;

/// The open(2) access mode field.
const O_ACCMODE: u64 = 0o3;
/// asm-generic/fcntl.h, as x86_64 uses it unchanged. `O_SYNC` and `O_TMPFILE` are two bits
/// each (`__O_SYNC|O_DSYNC`, `__O_TMPFILE|O_DIRECTORY`).
const OPEN_FLAGS_X86_64: &Table = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o200000, "O_DIRECTORY"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4000000 | 0o10000, "O_SYNC"),
    (0o10000000, "O_PATH"),
    (0o20000000 | 0o200000, "O_TMPFILE"),
];
/// arm64's asm/fcntl.h moves four flags (and with O_DIRECTORY, O_TMPFILE).
const OPEN_FLAGS_AARCH64: &Table = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o200000, "O_DIRECT"),
    (0o400000, "O_LARGEFILE"),
    (0o40000, "O_DIRECTORY"),
    (0o100000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o4000000 | 0o10000, "O_SYNC"),
    (0o10000000, "O_PATH"),
    (0o20000000 | 0o40000, "O_TMPFILE"),
];
/// pipe2(2): O_DIRECT is packet mode; O_NOTIFICATION_PIPE reuses O_EXCL's bit.
const PIPE_FLAGS_X86_64: &Table = &[
    (0o2000000, "O_CLOEXEC"),
    (0o4000, "O_NONBLOCK"),
    (0o40000, "O_DIRECT"),
    (0o200, "O_NOTIFICATION_PIPE"),
];
const PIPE_FLAGS_AARCH64: &Table = &[
    (0o2000000, "O_CLOEXEC"),
    (0o4000, "O_NONBLOCK"),
    (0o200000, "O_DIRECT"),
    (0o200, "O_NOTIFICATION_PIPE"),
];

/// The file type field of a mode (linux/stat.h).
const S_IFMT: u64 = 0o170000;
/// File types: the `ls -l` character and the name `file_type` gives.
const FILE_TYPES: &[(u64, char, &str)] = &[
    (0o140000, 's', "socket"),
    (0o120000, 'l', "symlink"),
    (0o100000, '-', "regular"),
    (0o060000, 'b', "block"),
    (0o040000, 'd', "directory"),
    (0o020000, 'c', "char"),
    (0o010000, 'p', "fifo"),
];
const S_ISUID: u64 = 0o4000;
const S_ISGID: u64 = 0o2000;
const S_ISVTX: u64 = 0o1000;

/// asm-generic/mman-common.h; PROT_BTI and PROT_MTE are arm64's, x86_64 has nothing there.
const PROT_FLAGS: &Table = &[
    (0x1, "PROT_READ"),
    (0x2, "PROT_WRITE"),
    (0x4, "PROT_EXEC"),
    (0x8, "PROT_SEM"),
    (0x10, "PROT_BTI"),
    (0x20, "PROT_MTE"),
    (0x0100_0000, "PROT_GROWSDOWN"),
    (0x0200_0000, "PROT_GROWSUP"),
];

/// The mapping type field of mmap flags and its values (linux/mman.h).
const MAP_TYPE: u64 = 0x0f;
const MAP_TYPES: &Table = &[
    (0x01, "MAP_SHARED"),
    (0x02, "MAP_PRIVATE"),
    (0x03, "MAP_SHARED_VALIDATE"),
];
const MAP_HUGETLB: u64 = 0x40000;
/// With MAP_HUGETLB, bits 26..=31 hold log2 of the huge page size (asm-generic/hugetlb_encode.h).
const MAP_HUGE_SHIFT: u32 = 26;
const MAP_HUGE_MASK: u64 = 0x3f;
/// asm-generic/mman(-common).h; MAP_32BIT is x86_64's but no arm64 flag uses its bit.
const MAP_FLAGS: &Table = &[
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x40, "MAP_32BIT"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x20000, "MAP_STACK"),
    (MAP_HUGETLB, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"),
    (0x100000, "MAP_FIXED_NOREPLACE"),
    (0x400_0000, "MAP_UNINITIALIZED"),
];

/// linux/socket.h, all of them up to AF_MAX.
const ADDRESS_FAMILIES: &Table = &[
    (0, "AF_UNSPEC"),
    (1, "AF_UNIX"),
    (2, "AF_INET"),
    (3, "AF_AX25"),
    (4, "AF_IPX"),
    (5, "AF_APPLETALK"),
    (6, "AF_NETROM"),
    (7, "AF_BRIDGE"),
    (8, "AF_ATMPVC"),
    (9, "AF_X25"),
    (10, "AF_INET6"),
    (11, "AF_ROSE"),
    (12, "AF_DECnet"),
    (13, "AF_NETBEUI"),
    (14, "AF_SECURITY"),
    (15, "AF_KEY"),
    (16, "AF_NETLINK"),
    (17, "AF_PACKET"),
    (18, "AF_ASH"),
    (19, "AF_ECONET"),
    (20, "AF_ATMSVC"),
    (21, "AF_RDS"),
    (22, "AF_SNA"),
    (23, "AF_IRDA"),
    (24, "AF_PPPOX"),
    (25, "AF_WANPIPE"),
    (26, "AF_LLC"),
    (27, "AF_IB"),
    (28, "AF_MPLS"),
    (29, "AF_CAN"),
    (30, "AF_TIPC"),
    (31, "AF_BLUETOOTH"),
    (32, "AF_IUCV"),
    (33, "AF_RXRPC"),
    (34, "AF_ISDN"),
    (35, "AF_PHONET"),
    (36, "AF_IEEE802154"),
    (37, "AF_CAIF"),
    (38, "AF_ALG"),
    (39, "AF_NFC"),
    (40, "AF_VSOCK"),
    (41, "AF_KCM"),
    (42, "AF_QIPCRTR"),
    (43, "AF_SMC"),
    (44, "AF_XDP"),
    (45, "AF_MCTP"),
];

/// linux/net.h: the type sits in the low four bits, the flags above it.
const SOCK_TYPE_MASK: u64 = 0xf;
const SOCK_TYPES: &Table = &[
    (1, "SOCK_STREAM"),
    (2, "SOCK_DGRAM"),
    (3, "SOCK_RAW"),
    (4, "SOCK_RDM"),
    (5, "SOCK_SEQPACKET"),
    (6, "SOCK_DCCP"),
    (10, "SOCK_PACKET"),
];
const SOCK_FLAGS: &Table = &[(0o4000, "SOCK_NONBLOCK"), (0o2000000, "SOCK_CLOEXEC")];

/// linux/in.h (and linux/in6.h for ICMPV6).
const IP_PROTOCOLS: &Table = &[
    (0, "IPPROTO_IP"),
    (1, "IPPROTO_ICMP"),
    (2, "IPPROTO_IGMP"),
    (4, "IPPROTO_IPIP"),
    (6, "IPPROTO_TCP"),
    (17, "IPPROTO_UDP"),
    (41, "IPPROTO_IPV6"),
    (47, "IPPROTO_GRE"),
    (50, "IPPROTO_ESP"),
    (51, "IPPROTO_AH"),
    (58, "IPPROTO_ICMPV6"),
    (132, "IPPROTO_SCTP"),
    (136, "IPPROTO_UDPLITE"),
    (255, "IPPROTO_RAW"),
    (262, "IPPROTO_MPTCP"),
];

/// clone(2) keeps the exit signal in the low byte (CSIGNAL). Signals stop at 64, so bit 0x80
/// is never part of one and is CLONE_NEWTIME (meaningful in clone3 and unshare).
const CLONE_SIGNAL: u64 = 0x7f;
/// linux/sched.h.
const CLONE_FLAGS: &Table = &[
    (0x100, "CLONE_VM"),
    (0x200, "CLONE_FS"),
    (0x400, "CLONE_FILES"),
    (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"),
    (0x2000, "CLONE_PTRACE"),
    (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"),
    (0x10000, "CLONE_THREAD"),
    (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"),
    (0x80000, "CLONE_SETTLS"),
    (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"),
    (0x400000, "CLONE_DETACHED"),
    (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"),
    (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"),
    (0x8000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x80000000, "CLONE_IO"),
    (0x1_0000_0000, "CLONE_CLEAR_SIGHAND"),
    (0x2_0000_0000, "CLONE_INTO_CGROUP"),
    (0x80, "CLONE_NEWTIME"),
];

/// linux/ptrace.h, plus x86_64's asm/ptrace-abi.h for 12..=15 (arm64 has no requests there).
const PTRACE_REQUESTS: &Table = &[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSER"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSER"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (14, "PTRACE_GETFPREGS"),
    (15, "PTRACE_SETFPREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (24, "PTRACE_SYSCALL"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4201, "PTRACE_GETEVENTMSG"),
    (0x4202, "PTRACE_GETSIGINFO"),
    (0x4203, "PTRACE_SETSIGINFO"),
    (0x4204, "PTRACE_GETREGSET"),
    (0x4205, "PTRACE_SETREGSET"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
    (0x4209, "PTRACE_PEEKSIGINFO"),
    (0x420a, "PTRACE_GETSIGMASK"),
    (0x420b, "PTRACE_SETSIGMASK"),
    (0x420c, "PTRACE_SECCOMP_GET_FILTER"),
    (0x420d, "PTRACE_SECCOMP_GET_METADATA"),
    (0x420e, "PTRACE_GET_SYSCALL_INFO"),
    (0x420f, "PTRACE_GET_RSEQ_CONFIGURATION"),
    (0x4210, "PTRACE_SET_SYSCALL_USER_DISPATCH_CONFIG"),
    (0x4211, "PTRACE_GET_SYSCALL_USER_DISPATCH_CONFIG"),
];

/// linux/fcntl.h. 0x200 is AT_REMOVEDIR for unlinkat and AT_EACCESS for faccessat; the
/// syscall is not known here, so it reads AT_REMOVEDIR.
const AT_FLAGS: &Table = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x2000, "AT_STATX_FORCE_SYNC"),
    (0x4000, "AT_STATX_DONT_SYNC"),
    (0x8000, "AT_RECURSIVE"),
];

/// linux/fs.h.
const RENAME_FLAGS: &Table = &[
    (1, "RENAME_NOREPLACE"),
    (2, "RENAME_EXCHANGE"),
    (4, "RENAME_WHITEOUT"),
];

/// linux/socket.h.
const MSG_FLAGS: &Table = &[
    (0x1, "MSG_OOB"),
    (0x2, "MSG_PEEK"),
    (0x4, "MSG_DONTROUTE"),
    (0x8, "MSG_CTRUNC"),
    (0x10, "MSG_PROXY"),
    (0x20, "MSG_TRUNC"),
    (0x40, "MSG_DONTWAIT"),
    (0x80, "MSG_EOR"),
    (0x100, "MSG_WAITALL"),
    (0x200, "MSG_FIN"),
    (0x400, "MSG_SYN"),
    (0x800, "MSG_CONFIRM"),
    (0x1000, "MSG_RST"),
    (0x2000, "MSG_ERRQUEUE"),
    (0x4000, "MSG_NOSIGNAL"),
    (0x8000, "MSG_MORE"),
    (0x10000, "MSG_WAITFORONE"),
    (0x40000, "MSG_BATCH"),
    (0x400_0000, "MSG_ZEROCOPY"),
    (0x2000_0000, "MSG_FASTOPEN"),
    (0x4000_0000, "MSG_CMSG_CLOEXEC"),
];

/// linux/capability.h `CAP_*`, as bits of a capability set (bit N: capability N).
const CAPABILITIES: &Table = &[
    (1 << 0, "CAP_CHOWN"),
    (1 << 1, "CAP_DAC_OVERRIDE"),
    (1 << 2, "CAP_DAC_READ_SEARCH"),
    (1 << 3, "CAP_FOWNER"),
    (1 << 4, "CAP_FSETID"),
    (1 << 5, "CAP_KILL"),
    (1 << 6, "CAP_SETGID"),
    (1 << 7, "CAP_SETUID"),
    (1 << 8, "CAP_SETPCAP"),
    (1 << 9, "CAP_LINUX_IMMUTABLE"),
    (1 << 10, "CAP_NET_BIND_SERVICE"),
    (1 << 11, "CAP_NET_BROADCAST"),
    (1 << 12, "CAP_NET_ADMIN"),
    (1 << 13, "CAP_NET_RAW"),
    (1 << 14, "CAP_IPC_LOCK"),
    (1 << 15, "CAP_IPC_OWNER"),
    (1 << 16, "CAP_SYS_MODULE"),
    (1 << 17, "CAP_SYS_RAWIO"),
    (1 << 18, "CAP_SYS_CHROOT"),
    (1 << 19, "CAP_SYS_PTRACE"),
    (1 << 20, "CAP_SYS_PACCT"),
    (1 << 21, "CAP_SYS_ADMIN"),
    (1 << 22, "CAP_SYS_BOOT"),
    (1 << 23, "CAP_SYS_NICE"),
    (1 << 24, "CAP_SYS_RESOURCE"),
    (1 << 25, "CAP_SYS_TIME"),
    (1 << 26, "CAP_SYS_TTY_CONFIG"),
    (1 << 27, "CAP_MKNOD"),
    (1 << 28, "CAP_LEASE"),
    (1 << 29, "CAP_AUDIT_WRITE"),
    (1 << 30, "CAP_AUDIT_CONTROL"),
    (1 << 31, "CAP_SETFCAP"),
    (1 << 32, "CAP_MAC_OVERRIDE"),
    (1 << 33, "CAP_MAC_ADMIN"),
    (1 << 34, "CAP_SYSLOG"),
    (1 << 35, "CAP_WAKE_ALARM"),
    (1 << 36, "CAP_BLOCK_SUSPEND"),
    (1 << 37, "CAP_AUDIT_READ"),
    (1 << 38, "CAP_PERFMON"),
    (1 << 39, "CAP_BPF"),
    (1 << 40, "CAP_CHECKPOINT_RESTORE"),
];

/// linux/bpf.h `enum bpf_prog_type`.
const BPF_PROG_TYPES: &Table = &[
    (0, "BPF_PROG_TYPE_UNSPEC"),
    (1, "BPF_PROG_TYPE_SOCKET_FILTER"),
    (2, "BPF_PROG_TYPE_KPROBE"),
    (3, "BPF_PROG_TYPE_SCHED_CLS"),
    (4, "BPF_PROG_TYPE_SCHED_ACT"),
    (5, "BPF_PROG_TYPE_TRACEPOINT"),
    (6, "BPF_PROG_TYPE_XDP"),
    (7, "BPF_PROG_TYPE_PERF_EVENT"),
    (8, "BPF_PROG_TYPE_CGROUP_SKB"),
    (9, "BPF_PROG_TYPE_CGROUP_SOCK"),
    (10, "BPF_PROG_TYPE_LWT_IN"),
    (11, "BPF_PROG_TYPE_LWT_OUT"),
    (12, "BPF_PROG_TYPE_LWT_XMIT"),
    (13, "BPF_PROG_TYPE_SOCK_OPS"),
    (14, "BPF_PROG_TYPE_SK_SKB"),
    (15, "BPF_PROG_TYPE_CGROUP_DEVICE"),
    (16, "BPF_PROG_TYPE_SK_MSG"),
    (17, "BPF_PROG_TYPE_RAW_TRACEPOINT"),
    (18, "BPF_PROG_TYPE_CGROUP_SOCK_ADDR"),
    (19, "BPF_PROG_TYPE_LWT_SEG6LOCAL"),
    (20, "BPF_PROG_TYPE_LIRC_MODE2"),
    (21, "BPF_PROG_TYPE_SK_REUSEPORT"),
    (22, "BPF_PROG_TYPE_FLOW_DISSECTOR"),
    (23, "BPF_PROG_TYPE_CGROUP_SYSCTL"),
    (24, "BPF_PROG_TYPE_RAW_TRACEPOINT_WRITABLE"),
    (25, "BPF_PROG_TYPE_CGROUP_SOCKOPT"),
    (26, "BPF_PROG_TYPE_TRACING"),
    (27, "BPF_PROG_TYPE_STRUCT_OPS"),
    (28, "BPF_PROG_TYPE_EXT"),
    (29, "BPF_PROG_TYPE_LSM"),
    (30, "BPF_PROG_TYPE_SK_LOOKUP"),
    (31, "BPF_PROG_TYPE_SYSCALL"),
    (32, "BPF_PROG_TYPE_NETFILTER"),
];

/// linux/bpf.h `enum bpf_map_type`.
const BPF_MAP_TYPES: &Table = &[
    (0, "BPF_MAP_TYPE_UNSPEC"),
    (1, "BPF_MAP_TYPE_HASH"),
    (2, "BPF_MAP_TYPE_ARRAY"),
    (3, "BPF_MAP_TYPE_PROG_ARRAY"),
    (4, "BPF_MAP_TYPE_PERF_EVENT_ARRAY"),
    (5, "BPF_MAP_TYPE_PERCPU_HASH"),
    (6, "BPF_MAP_TYPE_PERCPU_ARRAY"),
    (7, "BPF_MAP_TYPE_STACK_TRACE"),
    (8, "BPF_MAP_TYPE_CGROUP_ARRAY"),
    (9, "BPF_MAP_TYPE_LRU_HASH"),
    (10, "BPF_MAP_TYPE_LRU_PERCPU_HASH"),
    (11, "BPF_MAP_TYPE_LPM_TRIE"),
    (12, "BPF_MAP_TYPE_ARRAY_OF_MAPS"),
    (13, "BPF_MAP_TYPE_HASH_OF_MAPS"),
    (14, "BPF_MAP_TYPE_DEVMAP"),
    (15, "BPF_MAP_TYPE_SOCKMAP"),
    (16, "BPF_MAP_TYPE_CPUMAP"),
    (17, "BPF_MAP_TYPE_XSKMAP"),
    (18, "BPF_MAP_TYPE_SOCKHASH"),
    (19, "BPF_MAP_TYPE_CGROUP_STORAGE"),
    (20, "BPF_MAP_TYPE_REUSEPORT_SOCKARRAY"),
    (21, "BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE"),
    (22, "BPF_MAP_TYPE_QUEUE"),
    (23, "BPF_MAP_TYPE_STACK"),
    (24, "BPF_MAP_TYPE_SK_STORAGE"),
    (25, "BPF_MAP_TYPE_DEVMAP_HASH"),
    (26, "BPF_MAP_TYPE_STRUCT_OPS"),
    (27, "BPF_MAP_TYPE_RINGBUF"),
    (28, "BPF_MAP_TYPE_INODE_STORAGE"),
    (29, "BPF_MAP_TYPE_TASK_STORAGE"),
    (30, "BPF_MAP_TYPE_BLOOM_FILTER"),
    (31, "BPF_MAP_TYPE_USER_RINGBUF"),
    (32, "BPF_MAP_TYPE_CGRP_STORAGE"),
    (33, "BPF_MAP_TYPE_ARENA"),
];

/// The name of `value` in a table of distinct values.
fn lookup(value: u64, table: &Table) -> Option<&'static str> {
    table
        .iter()
        .find(|&&(v, _)| v == value)
        .map(|&(_, name)| name)
}

/// Appends `part` to a `|`-joined list.
fn join(out: &mut String, part: &str) {
    if !out.is_empty() {
        out.push('|');
    }
    out.push_str(part);
}

/// Appends to `out` the names of the `table` flags set in `value`, in table order, and
/// returns the bits no name covers. A name of several bits (`O_SYNC` = `__O_SYNC|O_DSYNC`)
/// needs all of them and claims them first, so its parts are not named again.
fn name_bits(out: &mut String, value: u64, table: &Table) -> u64 {
    let is_set = |mask: u64| mask != 0 && value & mask == mask;
    let claimed = table
        .iter()
        .filter(|&&(mask, _)| mask.count_ones() > 1 && is_set(mask))
        .fold(0, |acc, &(mask, _)| acc | mask);
    let mut rest = value;
    for &(mask, name) in table {
        let named = if mask.count_ones() > 1 {
            is_set(mask)
        } else {
            is_set(mask) && claimed & mask == 0
        };
        if named {
            join(out, name);
            rest &= !mask;
        }
    }
    rest
}

/// Ends a rendering: the unnamed bits as a hex remainder, and "0" for nothing at all.
fn finish(mut out: String, rest: u64) -> String {
    if rest != 0 {
        let sep = if out.is_empty() { "" } else { "|" };
        // Writing to a String cannot fail.
        let _ = write!(out, "{sep}{rest:#x}");
    }
    if out.is_empty() {
        out.push('0');
    }
    out
}

/// The one bit-set renderer: `NAME|NAME|0x<rest>`, or "0" when `value` is zero.
fn render_bits(value: u64, table: &Table) -> String {
    let mut out = String::new();
    let rest = name_bits(&mut out, value, table);
    finish(out, rest)
}

/// `IORING_OP_*` names by opcode (include/uapi/linux/io_uring.h, through Linux 6.18).
const IORING_OPS: [&str; 59] = [
    "IORING_OP_NOP",
    "IORING_OP_READV",
    "IORING_OP_WRITEV",
    "IORING_OP_FSYNC",
    "IORING_OP_READ_FIXED",
    "IORING_OP_WRITE_FIXED",
    "IORING_OP_POLL_ADD",
    "IORING_OP_POLL_REMOVE",
    "IORING_OP_SYNC_FILE_RANGE",
    "IORING_OP_SENDMSG",
    "IORING_OP_RECVMSG",
    "IORING_OP_TIMEOUT",
    "IORING_OP_TIMEOUT_REMOVE",
    "IORING_OP_ACCEPT",
    "IORING_OP_ASYNC_CANCEL",
    "IORING_OP_LINK_TIMEOUT",
    "IORING_OP_CONNECT",
    "IORING_OP_FALLOCATE",
    "IORING_OP_OPENAT",
    "IORING_OP_CLOSE",
    "IORING_OP_FILES_UPDATE",
    "IORING_OP_STATX",
    "IORING_OP_READ",
    "IORING_OP_WRITE",
    "IORING_OP_FADVISE",
    "IORING_OP_MADVISE",
    "IORING_OP_SEND",
    "IORING_OP_RECV",
    "IORING_OP_OPENAT2",
    "IORING_OP_EPOLL_CTL",
    "IORING_OP_SPLICE",
    "IORING_OP_PROVIDE_BUFFERS",
    "IORING_OP_REMOVE_BUFFERS",
    "IORING_OP_TEE",
    "IORING_OP_SHUTDOWN",
    "IORING_OP_RENAMEAT",
    "IORING_OP_UNLINKAT",
    "IORING_OP_MKDIRAT",
    "IORING_OP_SYMLINKAT",
    "IORING_OP_LINKAT",
    "IORING_OP_MSG_RING",
    "IORING_OP_FSETXATTR",
    "IORING_OP_SETXATTR",
    "IORING_OP_FGETXATTR",
    "IORING_OP_GETXATTR",
    "IORING_OP_SOCKET",
    "IORING_OP_URING_CMD",
    "IORING_OP_SEND_ZC",
    "IORING_OP_SENDMSG_ZC",
    "IORING_OP_READ_MULTISHOT",
    "IORING_OP_WAITID",
    "IORING_OP_FUTEX_WAIT",
    "IORING_OP_FUTEX_WAKE",
    "IORING_OP_FUTEX_WAITV",
    "IORING_OP_FIXED_FD_INSTALL",
    "IORING_OP_FTRUNCATE",
    "IORING_OP_BIND",
    "IORING_OP_LISTEN",
    "IORING_OP_RECV_ZC",
];

/// An io_uring opcode's name (18 → "IORING_OP_OPENAT"); "IORING_OP_?" for one this build
/// does not know.
pub fn io_uring_op(opcode: u8) -> &'static str {
    IORING_OPS
        .get(opcode as usize)
        .copied()
        .unwrap_or("IORING_OP_?")
}

/// The errno's name (2 → "ENOENT"). A negated errno, as a syscall returns it, names the
/// same. Aliases print as their canonical name: EWOULDBLOCK as "EAGAIN", ENOTSUP as
/// "EOPNOTSUPP", EDEADLOCK as "EDEADLK".
pub fn errno_name(errno: i64) -> Option<&'static str> {
    lookup(errno.unsigned_abs(), ERRNOS)
}

/// The signal's name: 1..=31 "SIGHUP".."SIGSYS", 32 "SIGRTMIN", 33..=64 "SIGRTMIN+n"
/// (kernel numbering); 0 and anything above 64 have none.
pub fn signal_name(sig: u64) -> Option<String> {
    match sig {
        SIGRTMIN => Some("SIGRTMIN".to_owned()),
        33..=SIGRTMAX => Some(format!("SIGRTMIN+{}", sig - SIGRTMIN)),
        _ => lookup(sig, SIGNALS).map(str::to_owned),
    }
}

/// open(2)/openat(2) flags: the access mode first ("O_RDONLY" for 0; the invalid mode 3 is
/// "O_ACCMODE"), then the flags as the recording `arch` numbers them.
pub fn open_flags(arch: Arch, flags: u64) -> String {
    let mut out = String::from(match flags & O_ACCMODE {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    });
    let table = match arch {
        Arch::X86_64 => OPEN_FLAGS_X86_64,
        Arch::Aarch64 => OPEN_FLAGS_AARCH64,
    };
    let rest = name_bits(&mut out, flags & !O_ACCMODE, table);
    finish(out, rest)
}

/// pipe2(2) flags as the recording `arch` numbers them; "0" for none.
pub fn pipe_flags(arch: Arch, flags: u64) -> String {
    let table = match arch {
        Arch::X86_64 => PIPE_FLAGS_X86_64,
        Arch::Aarch64 => PIPE_FLAGS_AARCH64,
    };
    render_bits(flags, table)
}

/// A file mode as `0644/-rw-r--r--`: the low 12 bits in octal, then the `ls -l` string with
/// its type character ('-' when there are no type bits, '?' for an unknown type) and
/// setuid/setgid/sticky as s/S and t/T. Bits above the 16 of a mode follow as a hex remainder.
pub fn file_mode(mode: u64) -> String {
    let kind = match mode & S_IFMT {
        0 => '-',
        ty => FILE_TYPES
            .iter()
            .find(|&&(t, _, _)| t == ty)
            .map_or('?', |&(_, c, _)| c),
    };
    let mut out = format!("{:04o}/{kind}", mode & 0o7777);
    // (who's read bit shift, the special bit that shows in its execute slot, its letter)
    for (shift, special, letter) in [(6, S_ISUID, 's'), (3, S_ISGID, 's'), (0, S_ISVTX, 't')] {
        let bits = (mode >> shift) & 0o7;
        out.push(if bits & 0o4 != 0 { 'r' } else { '-' });
        out.push(if bits & 0o2 != 0 { 'w' } else { '-' });
        out.push(match (bits & 0o1 != 0, mode & special != 0) {
            (true, true) => letter,
            (false, true) => letter.to_ascii_uppercase(),
            (true, false) => 'x',
            (false, false) => '-',
        });
    }
    finish(out, mode & !0o177777)
}

/// The file type in a mode's S_IFMT bits: "regular", "directory", "symlink", "char",
/// "block", "fifo" or "socket"; none when the bits are zero or not a type.
pub fn file_type(mode: u64) -> Option<&'static str> {
    let ty = mode & S_IFMT;
    FILE_TYPES
        .iter()
        .find(|&&(t, _, _)| t == ty)
        .map(|&(_, _, name)| name)
}

/// mmap(2)/mprotect(2) protection: "PROT_NONE" for 0, else the PROT_* bits (PROT_BTI and
/// PROT_MTE only occur on arm64, but their bits mean nothing else on x86_64).
pub fn prot_flags(prot: u64) -> String {
    if prot == 0 {
        return "PROT_NONE".to_owned();
    }
    render_bits(prot, PROT_FLAGS)
}

/// mmap(2) flags: the mapping type (MAP_SHARED, MAP_PRIVATE, MAP_SHARED_VALIDATE), then the
/// flags; with MAP_HUGETLB, the page size field reads as e.g. "MAP_HUGE_2MB".
pub fn mmap_flags(flags: u64) -> String {
    let mut out = String::new();
    let mut rest = 0;
    let ty = flags & MAP_TYPE;
    match lookup(ty, MAP_TYPES) {
        Some(name) => join(&mut out, name),
        None => rest |= ty,
    }
    let huge_field = MAP_HUGE_MASK << MAP_HUGE_SHIFT;
    let huge_log2 = (flags & huge_field) >> MAP_HUGE_SHIFT;
    let huge = flags & MAP_HUGETLB != 0 && huge_log2 != 0;
    let bits = flags & !MAP_TYPE & if huge { !huge_field } else { !0 };
    rest |= name_bits(&mut out, bits, MAP_FLAGS);
    if huge {
        match huge_page_size(huge_log2) {
            Some(size) => join(&mut out, &format!("MAP_HUGE_{size}")),
            None => rest |= flags & huge_field,
        }
    }
    finish(out, rest)
}

/// A power-of-two page size as the uapi names it: 21 → "2MB", 30 → "1GB".
fn huge_page_size(log2: u64) -> Option<String> {
    let (unit, shift) = match log2 {
        10..=19 => ("KB", 10),
        20..=29 => ("MB", 20),
        30..=39 => ("GB", 30),
        40..=49 => ("TB", 40),
        _ => return None,
    };
    Some(format!("{}{unit}", 1u64 << (log2 - shift)))
}

/// A socket address family: "AF_INET", or "AF_<n>" when it has no name.
pub fn address_family(family: u64) -> String {
    lookup(family, ADDRESS_FAMILIES).map_or_else(|| format!("AF_{family}"), str::to_owned)
}

/// socket(2)'s type argument: the type ("SOCK_STREAM"), then SOCK_NONBLOCK and SOCK_CLOEXEC.
/// An unknown type number stays in the hex remainder.
pub fn socket_type(ty: u64) -> String {
    let mut out = String::new();
    let mut rest = 0;
    match lookup(ty & SOCK_TYPE_MASK, SOCK_TYPES) {
        Some(name) => join(&mut out, name),
        None => rest |= ty & SOCK_TYPE_MASK,
    }
    rest |= name_bits(&mut out, ty & !SOCK_TYPE_MASK, SOCK_FLAGS);
    finish(out, rest)
}

/// socket(2)'s protocol: "IPPROTO_TCP"; 0 is "IPPROTO_IP" (the family's default); an
/// unknown number stays a number.
pub fn ip_protocol(proto: u64) -> String {
    lookup(proto, IP_PROTOCOLS).map_or_else(|| proto.to_string(), str::to_owned)
}

/// clone(2)/clone3(2)/unshare(2) flags: the exit signal in the low bits first ("SIGCHLD"),
/// then the CLONE_* flags.
pub fn clone_flags(flags: u64) -> String {
    let mut out = String::new();
    let mut rest = 0;
    let sig = flags & CLONE_SIGNAL;
    if sig != 0 {
        match signal_name(sig) {
            Some(name) => join(&mut out, &name),
            None => rest |= sig,
        }
    }
    rest |= name_bits(&mut out, flags & !CLONE_SIGNAL, CLONE_FLAGS);
    finish(out, rest)
}

/// A ptrace(2) request: "PTRACE_ATTACH", or "PTRACE_<n>" when it has no name. 12..=15 read
/// as x86_64's GETREGS/SETREGS/GETFPREGS/SETFPREGS whatever the architecture.
pub fn ptrace_request(req: u64) -> String {
    lookup(req, PTRACE_REQUESTS).map_or_else(|| format!("PTRACE_{req}"), str::to_owned)
}

/// The *at(2) family's AT_* flags; "0" for none. 0x200 reads as AT_REMOVEDIR (it is also
/// faccessat's AT_EACCESS).
pub fn at_flags(flags: u64) -> String {
    render_bits(flags, AT_FLAGS)
}

/// renameat2(2) flags; "0" for none.
pub fn rename_flags(flags: u64) -> String {
    render_bits(flags, RENAME_FLAGS)
}

/// send/recv(2) MSG_* flags; "0" for none.
pub fn msg_flags(flags: u64) -> String {
    render_bits(flags, MSG_FLAGS)
}

/// The name `value` has in `table` (distinct values), or the number as text.
pub fn enum_name(value: u64, table: &Table) -> String {
    lookup(value, table).map_or_else(|| value.to_string(), str::to_owned)
}

/// The bits of `value` named by `table`, `|`-joined, the rest in hex; "0" for none.
pub fn bit_names(value: u64, table: &Table) -> String {
    render_bits(value, table)
}

/// A capability set (bit N: capability N): "CAP_CHOWN|CAP_SYS_ADMIN"; "0" for none.
pub fn capabilities(set: u64) -> String {
    render_bits(set, CAPABILITIES)
}

/// A BPF program type: "BPF_PROG_TYPE_SOCKET_FILTER", or the number as text.
pub fn bpf_prog_type(ty: u64) -> String {
    enum_name(ty, BPF_PROG_TYPES)
}

/// A BPF map type: "BPF_MAP_TYPE_HASH", or the number as text.
pub fn bpf_map_type(ty: u64) -> String {
    enum_name(ty, BPF_MAP_TYPES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_and_bpf_types_are_named() {
        assert_eq!(capabilities(0), "0");
        assert_eq!(capabilities(1 << 21 | 1), "CAP_CHOWN|CAP_SYS_ADMIN");
        assert_eq!(
            capabilities(1 << 40 | 1 << 45),
            "CAP_CHECKPOINT_RESTORE|0x200000000000"
        );
        assert_eq!(bpf_prog_type(1), "BPF_PROG_TYPE_SOCKET_FILTER");
        assert_eq!(bpf_prog_type(32), "BPF_PROG_TYPE_NETFILTER");
        assert_eq!(bpf_prog_type(99), "99");
        assert_eq!(bpf_map_type(27), "BPF_MAP_TYPE_RINGBUF");
        assert_eq!(enum_name(7, &[(7, "SEVEN")]), "SEVEN");
        assert_eq!(bit_names(5, &[(1, "A"), (4, "C")]), "A|C");
        assert_eq!(bit_names(10, &[(2, "B")]), "B|0x8");
    }

    #[test]
    fn arch_from_machine() {
        assert_eq!(Arch::from_machine("x86_64"), Arch::X86_64);
        assert_eq!(Arch::from_machine("aarch64"), Arch::Aarch64);
        assert_eq!(Arch::from_machine("arm64"), Arch::Aarch64);
        assert_eq!(Arch::from_machine("riscv64"), Arch::X86_64);
        assert_eq!(Arch::from_machine(""), Arch::X86_64);
    }

    #[test]
    fn errno_names() {
        assert_eq!(errno_name(1), Some("EPERM"));
        assert_eq!(errno_name(2), Some("ENOENT"));
        assert_eq!(errno_name(-2), Some("ENOENT"));
        assert_eq!(errno_name(11), Some("EAGAIN"));
        assert_eq!(errno_name(35), Some("EDEADLK"));
        assert_eq!(errno_name(95), Some("EOPNOTSUPP"));
        assert_eq!(errno_name(111), Some("ECONNREFUSED"));
        assert_eq!(errno_name(133), Some("EHWPOISON"));
        assert_eq!(errno_name(0), None);
        assert_eq!(errno_name(41), None);
        assert_eq!(errno_name(58), None);
        assert_eq!(errno_name(134), None);
        assert_eq!(errno_name(i64::MIN), None);
        assert_eq!(errno_name(i64::MAX), None);
    }

    #[test]
    fn errno_table_is_complete_and_sorted() {
        // 1..=133 less the two alias-only numbers.
        assert_eq!(ERRNOS.len(), 131);
        assert!(ERRNOS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!((1..=133)
            .filter(|n| *n != 41 && *n != 58)
            .all(|n| errno_name(n).is_some()));
    }

    #[test]
    fn signal_names() {
        assert_eq!(signal_name(0), None);
        assert_eq!(signal_name(1).as_deref(), Some("SIGHUP"));
        assert_eq!(signal_name(9).as_deref(), Some("SIGKILL"));
        assert_eq!(signal_name(17).as_deref(), Some("SIGCHLD"));
        assert_eq!(signal_name(31).as_deref(), Some("SIGSYS"));
        assert_eq!(signal_name(32).as_deref(), Some("SIGRTMIN"));
        assert_eq!(signal_name(34).as_deref(), Some("SIGRTMIN+2"));
        assert_eq!(signal_name(64).as_deref(), Some("SIGRTMIN+32"));
        assert_eq!(signal_name(65), None);
        assert_eq!(signal_name(u64::MAX), None);
    }

    #[test]
    fn open_flags_x86_64() {
        let x86 = Arch::X86_64;
        assert_eq!(open_flags(x86, 0), "O_RDONLY");
        assert_eq!(open_flags(x86, 0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags(x86, 0o2), "O_RDWR");
        assert_eq!(open_flags(x86, 0o3), "O_ACCMODE");
        // openat(AT_FDCWD, dir, O_RDONLY|O_NONBLOCK|O_CLOEXEC|O_DIRECTORY), as glibc's opendir.
        assert_eq!(
            open_flags(x86, 0o2204000),
            "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC"
        );
        assert_eq!(
            open_flags(x86, 0o40000 | 0o100000 | 0o400000),
            "O_RDONLY|O_DIRECT|O_LARGEFILE|O_NOFOLLOW"
        );
        assert_eq!(open_flags(x86, 0o10000000), "O_RDONLY|O_PATH");
        assert_eq!(open_flags(x86, 0o20000), "O_RDONLY|O_ASYNC");
    }

    #[test]
    fn open_flags_composites() {
        let x86 = Arch::X86_64;
        // O_SYNC is __O_SYNC|O_DSYNC: printed once, without O_DSYNC.
        assert_eq!(open_flags(x86, 0o4010001), "O_WRONLY|O_SYNC");
        assert_eq!(open_flags(x86, 0o10001), "O_WRONLY|O_DSYNC");
        // __O_SYNC alone has no name of its own.
        assert_eq!(open_flags(x86, 0o4000000), "O_RDONLY|0x100000");
        // O_TMPFILE is __O_TMPFILE|O_DIRECTORY.
        assert_eq!(open_flags(x86, 0o20200002), "O_RDWR|O_TMPFILE");
        assert_eq!(open_flags(Arch::Aarch64, 0o20040002), "O_RDWR|O_TMPFILE");
    }

    #[test]
    fn open_flags_aarch64() {
        let arm = Arch::Aarch64;
        assert_eq!(open_flags(arm, 0o1101), "O_WRONLY|O_CREAT|O_TRUNC");
        assert_eq!(open_flags(arm, 0o40000), "O_RDONLY|O_DIRECTORY");
        assert_eq!(open_flags(arm, 0o100000), "O_RDONLY|O_NOFOLLOW");
        assert_eq!(open_flags(arm, 0o200000), "O_RDONLY|O_DIRECT");
        assert_eq!(open_flags(arm, 0o400000), "O_RDONLY|O_LARGEFILE");
        // The same bits read differently on x86_64.
        assert_eq!(open_flags(Arch::X86_64, 0o40000), "O_RDONLY|O_DIRECT");
        assert_eq!(
            open_flags(arm, 0o2044000),
            "O_RDONLY|O_NONBLOCK|O_DIRECTORY|O_CLOEXEC"
        );
    }

    #[test]
    fn open_flags_remainder() {
        assert_eq!(open_flags(Arch::X86_64, 0x4000_0000), "O_RDONLY|0x40000000");
        assert_eq!(
            open_flags(Arch::X86_64, 0o101 | 0x8000_0000_0000_0000),
            "O_WRONLY|O_CREAT|0x8000000000000000"
        );
        assert_eq!(
            open_flags(Arch::Aarch64, u64::MAX),
            "O_ACCMODE|O_CREAT|O_EXCL|O_NOCTTY|O_TRUNC|O_APPEND|O_NONBLOCK|O_ASYNC|O_DIRECT|\
             O_LARGEFILE|O_NOFOLLOW|O_NOATIME|O_CLOEXEC|O_SYNC|O_PATH|O_TMPFILE|0xffffffffff80003c"
        );
    }

    #[test]
    fn pipe_flags_per_arch() {
        assert_eq!(pipe_flags(Arch::X86_64, 0), "0");
        assert_eq!(pipe_flags(Arch::X86_64, 0o2004000), "O_CLOEXEC|O_NONBLOCK");
        assert_eq!(pipe_flags(Arch::X86_64, 0o40000), "O_DIRECT");
        assert_eq!(pipe_flags(Arch::Aarch64, 0o200000), "O_DIRECT");
        assert_eq!(pipe_flags(Arch::Aarch64, 0o40000), "0x4000");
        assert_eq!(pipe_flags(Arch::X86_64, 0o200), "O_NOTIFICATION_PIPE");
    }

    #[test]
    fn file_modes() {
        assert_eq!(file_mode(0o644), "0644/-rw-r--r--");
        assert_eq!(file_mode(0o100644), "0644/-rw-r--r--");
        assert_eq!(file_mode(0o40755), "0755/drwxr-xr-x");
        assert_eq!(file_mode(0o120777), "0777/lrwxrwxrwx");
        assert_eq!(file_mode(0o20620), "0620/crw--w----");
        assert_eq!(file_mode(0o60660), "0660/brw-rw----");
        assert_eq!(file_mode(0o10600), "0600/prw-------");
        assert_eq!(file_mode(0o140755), "0755/srwxr-xr-x");
        assert_eq!(file_mode(0), "0000/----------");
        // setuid, setgid, sticky: lower case over x, upper case without.
        assert_eq!(file_mode(0o104755), "4755/-rwsr-xr-x");
        assert_eq!(file_mode(0o2644), "2644/-rw-r-Sr--");
        assert_eq!(file_mode(0o41777), "1777/drwxrwxrwt");
        assert_eq!(file_mode(0o1666), "1666/-rw-rw-rwT");
        assert_eq!(file_mode(0o7000), "7000/---S--S--T");
        // An unknown type, and bits beyond a 16-bit mode.
        assert_eq!(file_mode(0o30644), "0644/?rw-r--r--");
        assert_eq!(file_mode(0x1_0000 | 0o644), "0644/-rw-r--r--|0x10000");
    }

    #[test]
    fn file_types() {
        assert_eq!(file_type(0o100644), Some("regular"));
        assert_eq!(file_type(0o40755), Some("directory"));
        assert_eq!(file_type(0o120777), Some("symlink"));
        assert_eq!(file_type(0o20666), Some("char"));
        assert_eq!(file_type(0o60660), Some("block"));
        assert_eq!(file_type(0o10600), Some("fifo"));
        assert_eq!(file_type(0o140777), Some("socket"));
        assert_eq!(file_type(0o644), None);
        assert_eq!(file_type(0o30000), None);
    }

    #[test]
    fn prot() {
        assert_eq!(prot_flags(0), "PROT_NONE");
        assert_eq!(prot_flags(5), "PROT_READ|PROT_EXEC");
        assert_eq!(prot_flags(3), "PROT_READ|PROT_WRITE");
        assert_eq!(prot_flags(0x1000001), "PROT_READ|PROT_GROWSDOWN");
        assert_eq!(prot_flags(0x15), "PROT_READ|PROT_EXEC|PROT_BTI");
        assert_eq!(prot_flags(0x21), "PROT_READ|PROT_MTE");
        assert_eq!(prot_flags(0x41), "PROT_READ|0x40");
    }

    #[test]
    fn mmap() {
        assert_eq!(mmap_flags(0x22), "MAP_PRIVATE|MAP_ANONYMOUS");
        assert_eq!(mmap_flags(0x01), "MAP_SHARED");
        assert_eq!(mmap_flags(0x03), "MAP_SHARED_VALIDATE");
        assert_eq!(mmap_flags(0x812), "MAP_PRIVATE|MAP_FIXED|MAP_DENYWRITE");
        // A thread stack, as glibc maps it.
        assert_eq!(mmap_flags(0x20022), "MAP_PRIVATE|MAP_ANONYMOUS|MAP_STACK");
        assert_eq!(mmap_flags(0x42), "MAP_PRIVATE|MAP_32BIT");
        assert_eq!(mmap_flags(0x100002), "MAP_PRIVATE|MAP_FIXED_NOREPLACE");
        assert_eq!(mmap_flags(0), "0");
        assert_eq!(mmap_flags(0x20), "MAP_ANONYMOUS");
        assert_eq!(mmap_flags(0x0f), "0xf");
        assert_eq!(mmap_flags(0x22 | 0x200), "MAP_PRIVATE|MAP_ANONYMOUS|0x200");
        assert_eq!(
            mmap_flags(0x400_0022),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_UNINITIALIZED"
        );
    }

    #[test]
    fn mmap_huge_pages() {
        // MAP_HUGETLB with the 2 MiB and 1 GiB page size encodings (21 << 26, 30 << 26).
        assert_eq!(
            mmap_flags(0x5404_0022),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_2MB"
        );
        assert_eq!(
            mmap_flags(0x7804_0022),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_1GB"
        );
        assert_eq!(
            mmap_flags((16 << 26) | 0x40022),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|MAP_HUGE_64KB"
        );
        // The default page size, and a size field too small to be a page.
        assert_eq!(mmap_flags(0x40022), "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB");
        assert_eq!(
            mmap_flags((1 << 26) | 0x40022),
            "MAP_PRIVATE|MAP_ANONYMOUS|MAP_HUGETLB|0x4000000"
        );
    }

    #[test]
    fn address_families() {
        assert_eq!(address_family(0), "AF_UNSPEC");
        assert_eq!(address_family(1), "AF_UNIX");
        assert_eq!(address_family(2), "AF_INET");
        assert_eq!(address_family(10), "AF_INET6");
        assert_eq!(address_family(16), "AF_NETLINK");
        assert_eq!(address_family(17), "AF_PACKET");
        assert_eq!(address_family(31), "AF_BLUETOOTH");
        assert_eq!(address_family(38), "AF_ALG");
        assert_eq!(address_family(40), "AF_VSOCK");
        assert_eq!(address_family(44), "AF_XDP");
        assert_eq!(address_family(46), "AF_46");
        assert_eq!(address_family(u64::MAX), "AF_18446744073709551615");
    }

    #[test]
    fn socket_types() {
        assert_eq!(socket_type(1), "SOCK_STREAM");
        assert_eq!(socket_type(2 | 0o4000), "SOCK_DGRAM|SOCK_NONBLOCK");
        assert_eq!(socket_type(1 | 0o2000000), "SOCK_STREAM|SOCK_CLOEXEC");
        assert_eq!(
            socket_type(5 | 0o2004000),
            "SOCK_SEQPACKET|SOCK_NONBLOCK|SOCK_CLOEXEC"
        );
        assert_eq!(socket_type(10), "SOCK_PACKET");
        assert_eq!(socket_type(0), "0");
        assert_eq!(socket_type(7), "0x7");
        assert_eq!(socket_type(3 | 0x100), "SOCK_RAW|0x100");
    }

    #[test]
    fn ip_protocols() {
        assert_eq!(ip_protocol(0), "IPPROTO_IP");
        assert_eq!(ip_protocol(1), "IPPROTO_ICMP");
        assert_eq!(ip_protocol(6), "IPPROTO_TCP");
        assert_eq!(ip_protocol(17), "IPPROTO_UDP");
        assert_eq!(ip_protocol(58), "IPPROTO_ICMPV6");
        assert_eq!(ip_protocol(132), "IPPROTO_SCTP");
        assert_eq!(ip_protocol(136), "IPPROTO_UDPLITE");
        assert_eq!(ip_protocol(255), "IPPROTO_RAW");
        assert_eq!(ip_protocol(99), "99");
    }

    #[test]
    fn clone() {
        // pthread_create.
        assert_eq!(
            clone_flags(0x3d0f00),
            "CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM|\
             CLONE_SETTLS|CLONE_PARENT_SETTID|CLONE_CHILD_CLEARTID"
        );
        // glibc fork.
        assert_eq!(
            clone_flags(0x1200011),
            "SIGCHLD|CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"
        );
        // posix_spawn / vfork.
        assert_eq!(clone_flags(0x4111), "SIGCHLD|CLONE_VM|CLONE_VFORK");
        assert_eq!(clone_flags(0), "0");
        assert_eq!(clone_flags(17), "SIGCHLD");
        assert_eq!(clone_flags(0x80 | 0x20000), "CLONE_NEWNS|CLONE_NEWTIME");
        assert_eq!(
            clone_flags(0x3_0000_0000),
            "CLONE_CLEAR_SIGHAND|CLONE_INTO_CGROUP"
        );
        // 0x7f is no signal; bits above CLONE_INTO_CGROUP have no name.
        assert_eq!(clone_flags(0x7f), "0x7f");
        assert_eq!(clone_flags(0x4_0000_0100), "CLONE_VM|0x400000000");
    }

    #[test]
    fn ptrace() {
        assert_eq!(ptrace_request(0), "PTRACE_TRACEME");
        assert_eq!(ptrace_request(3), "PTRACE_PEEKUSER");
        assert_eq!(ptrace_request(12), "PTRACE_GETREGS");
        assert_eq!(ptrace_request(16), "PTRACE_ATTACH");
        assert_eq!(ptrace_request(24), "PTRACE_SYSCALL");
        assert_eq!(ptrace_request(0x4206), "PTRACE_SEIZE");
        assert_eq!(ptrace_request(0x420e), "PTRACE_GET_SYSCALL_INFO");
        assert_eq!(ptrace_request(10), "PTRACE_10");
        assert_eq!(ptrace_request(0x4300), "PTRACE_17152");
    }

    #[test]
    fn at() {
        assert_eq!(at_flags(0), "0");
        assert_eq!(at_flags(0x100), "AT_SYMLINK_NOFOLLOW");
        assert_eq!(at_flags(0x200), "AT_REMOVEDIR");
        assert_eq!(at_flags(0x1100), "AT_SYMLINK_NOFOLLOW|AT_EMPTY_PATH");
        assert_eq!(at_flags(0x800 | 0x1), "AT_NO_AUTOMOUNT|0x1");
    }

    #[test]
    fn rename() {
        assert_eq!(rename_flags(0), "0");
        assert_eq!(rename_flags(1), "RENAME_NOREPLACE");
        assert_eq!(rename_flags(6), "RENAME_EXCHANGE|RENAME_WHITEOUT");
        assert_eq!(rename_flags(9), "RENAME_NOREPLACE|0x8");
    }

    #[test]
    fn msg() {
        assert_eq!(msg_flags(0), "0");
        assert_eq!(msg_flags(0x4000), "MSG_NOSIGNAL");
        assert_eq!(msg_flags(0x40 | 0x2), "MSG_PEEK|MSG_DONTWAIT");
        assert_eq!(
            msg_flags(0x4000_0000 | 0x100),
            "MSG_WAITALL|MSG_CMSG_CLOEXEC"
        );
        assert_eq!(msg_flags(0x2000_0000), "MSG_FASTOPEN");
        assert_eq!(msg_flags(0x8000_0000), "0x80000000");
    }

    #[test]
    fn render_bits_zero_and_remainder() {
        assert_eq!(render_bits(0, MSG_FLAGS), "0");
        assert_eq!(render_bits(0x10, RENAME_FLAGS), "0x10");
        assert_eq!(render_bits(u64::MAX, &[]), "0xffffffffffffffff");
        // Every table names each bit once: no two single-bit entries share one.
        for table in [
            OPEN_FLAGS_X86_64,
            OPEN_FLAGS_AARCH64,
            PIPE_FLAGS_X86_64,
            PIPE_FLAGS_AARCH64,
            PROT_FLAGS,
            MAP_FLAGS,
            SOCK_FLAGS,
            CLONE_FLAGS,
            AT_FLAGS,
            RENAME_FLAGS,
            MSG_FLAGS,
        ] {
            let singles: Vec<u64> = table
                .iter()
                .map(|&(m, _)| m)
                .filter(|m| m.count_ones() == 1)
                .collect();
            let union = singles.iter().fold(0, |acc, m| acc | m);
            assert_eq!(union.count_ones() as usize, singles.len(), "{table:?}");
        }
    }
}
