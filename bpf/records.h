/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The kellect record ABI: the one source of truth for what the BPF programs write into the
 * ring buffer and what a .kz trace stores, byte for byte, inside its data frames.
 *
 * Rules that keep the ABI stable and portable:
 * - every record starts with struct rec_hdr; hdr.len is the whole record's length, so a
 *   reader can skip a kind it does not know;
 * - fixed parts have explicit padding (no compiler-inserted holes), all integers are
 *   little-endian (x86_64 and aarch64 hosts);
 * - variable-length data (paths, argv) follows the fixed part as a "tail"; the fixed part
 *   says how many bytes of tail each string has; strings carry no NUL;
 * - syscall numbers never appear: rec_hdr.syscall is a kellect syscall id (enum ksys), so
 *   traces from different architectures decode the same way.
 *
 * The Rust mirror types are in src/abi.rs; a test proves their sizes and field offsets
 * equal the types the BPF skeleton generates from this header.
 */
#ifndef KELLECT_RECORDS_H
#define KELLECT_RECORDS_H

/* Bumped whenever a record layout changes; stored in every trace's host info. */
#define KELLECT_ABI_VERSION 5 /* 2: REC_F_TASK, REC_CGROUP; 3: kl_mmsg_part.addr_len; 4:
			       * REC_SOCK_COUNTERS, rec_syscall.enter_ts 0 for syscalls recorded
			       * at exit alone; 5: syscalls as REC_SYSCALL_C; older records read
			       * alike */

#define KL_COMM_LEN 16
/* Longest path or filename captured; longer ones are cut and flagged. */
#define KL_PATH_MAX 4096
/* Bytes of the argv area captured at exec; longer argument lists are cut and flagged. */
#define KL_ARGV_MAX 4096 /* the area is cut at KL_ARGV_MAX - 1 bytes */

enum rec_kind {
	REC_NONE = 0,
	REC_PROC_FORK = 1, /* sched_process_fork: a new process or thread */
	REC_PROC_EXEC = 2, /* sched_process_exec: successful execve/execveat */
	REC_PROC_EXIT = 3, /* sched_process_exit: a task ended */
	REC_SYSCALL = 4,   /* a syscall of the catalogue: arguments, result, kernel-filled data */
	REC_SOCK_STATE = 5, /* a TCP socket changed state or saw a reset: identity and counters */
	REC_URING_OP = 6,  /* an io_uring request: submitted (io_uring_submit_req), completed
			    * (io_uring_complete) without a syscall of its own */
	REC_SOCK_COUNTERS = 7, /* a socket's packet counters, aggregated in the kernel
				* (struct rec_sock_counters; ABI version 4) */
	REC_CGROUP = 8,	   /* cgroup:cgroup_mkdir, cgroup:cgroup_attach_task: a cgroup was made,
			    * or a process moved into one (struct rec_cgroup) */
	REC_SYSCALL_C = 9, /* a syscall of the catalogue in compact form (struct rec_syscall_c;
			    * ABI version 5): what replay already knows is left out */
	REC_KIND_MAX = 16, /* size of the per-kind statistics array */
};

/* The statistics slot (no record kind) of io_uring requests lost because the table of
 * requests in flight was full: their entry was pushed out before their CQE (dropped). */
#define KL_STAT_URING_IN_FLIGHT 15
/* The statistics slot (no record kind) of sockets whose packets went uncounted because the
 * table of counted sockets (pkt_socks) was full (dropped). */
#define KL_STAT_SOCK_TABLE_FULL 14

/*
 * kellect syscall ids: rec_hdr.syscall. Stable: ids are only ever appended, never reused,
 * so traces from any architecture and any kellect version decode alike. User space maps
 * the native syscall numbers of the running architecture to these.
 */
enum ksys {
	KS_NONE = 0,
	/* file */
	KS_OPEN = 1, KS_OPENAT = 2, KS_OPENAT2 = 3, KS_CREAT = 4,
	KS_UNLINK = 5, KS_UNLINKAT = 6,
	KS_RENAME = 7, KS_RENAMEAT = 8, KS_RENAMEAT2 = 9,
	KS_CHMOD = 10, KS_FCHMOD = 11, KS_FCHMODAT = 12, KS_FCHMODAT2 = 13,
	KS_STAT = 14, KS_LSTAT = 15, KS_FSTAT = 16, KS_NEWFSTATAT = 17, KS_STATX = 18,
	KS_CHDIR = 19, KS_FCHDIR = 20,
	KS_MKDIR = 21, KS_MKDIRAT = 22, KS_RMDIR = 23,
	KS_READ = 24, KS_PREAD64 = 25, KS_READV = 26, KS_PREADV = 27, KS_PREADV2 = 28,
	KS_WRITE = 29, KS_PWRITE64 = 30, KS_WRITEV = 31, KS_PWRITEV = 32, KS_PWRITEV2 = 33,
	KS_DUP = 34, KS_DUP2 = 35, KS_DUP3 = 36, KS_FCNTL = 37,
	KS_CLOSE = 38,
	KS_TRUNCATE = 39, KS_FTRUNCATE = 40,
	KS_LINK = 41, KS_LINKAT = 42,
	KS_SYMLINK = 43, KS_SYMLINKAT = 44,
	/* process */
	KS_FORK = 45, KS_VFORK = 46, KS_CLONE = 47, KS_CLONE3 = 48,
	KS_EXECVE = 49, KS_EXECVEAT = 50,
	KS_EXIT = 51, KS_EXIT_GROUP = 52,
	KS_PIPE = 53, KS_PIPE2 = 54,
	KS_KILL = 55, KS_TKILL = 56, KS_TGKILL = 57,
	KS_PTRACE = 58,
	KS_MMAP = 59, KS_MPROTECT = 60,
	/* network */
	KS_CONNECT = 61,
	KS_SENDTO = 62, KS_SENDMSG = 63, KS_SENDMMSG = 64,
	KS_RECVFROM = 65, KS_RECVMSG = 66, KS_RECVMMSG = 67,
	KS_ACCEPT = 68, KS_ACCEPT4 = 69,
	KS_BIND = 70, KS_GETPEERNAME = 71, KS_SOCKETPAIR = 72,
	KS_SOCKET = 73, /* not a catalogue event: keeps replay's descriptor table right */
	/* permission */
	KS_SETUID = 74, KS_SETREUID = 75, KS_SETRESUID = 76,
	KS_SETGID = 77, KS_SETREGID = 78, KS_SETRESGID = 79,
	/* file: owner, times, extended attributes, in-kernel copies */
	KS_CHOWN = 80, KS_FCHOWN = 81, KS_LCHOWN = 82, KS_FCHOWNAT = 83,
	KS_UTIMENSAT = 84, KS_UTIMES = 85, KS_FUTIMESAT = 86, KS_UTIME = 87,
	KS_SETXATTR = 88, KS_LSETXATTR = 89, KS_FSETXATTR = 90, KS_SETXATTRAT = 91,
	KS_REMOVEXATTR = 92, KS_LREMOVEXATTR = 93, KS_FREMOVEXATTR = 94, KS_REMOVEXATTRAT = 95,
	KS_COPY_FILE_RANGE = 96, KS_SENDFILE = 97, KS_SPLICE = 98, KS_TEE = 99,
	/* file: an anonymous file in memory, which an exec can run */
	KS_MEMFD_CREATE = 100,
	/* io_uring: the ring's syscalls (its operations are REC_URING_OP records) */
	KS_IO_URING_SETUP = 101, KS_IO_URING_ENTER = 102, KS_IO_URING_REGISTER = 103,
	/* process: a task's name, dumpability, seccomp, capabilities and namespaces */
	KS_PRCTL = 104,
	/* system: kernel modules, BPF */
	KS_INIT_MODULE = 105, KS_FINIT_MODULE = 106, KS_DELETE_MODULE = 107,
	KS_BPF = 108,
	/* process: namespaces */
	KS_UNSHARE = 109, KS_SETNS = 110,
	/* system: mounts, the mount API */
	KS_MOUNT = 111, KS_UMOUNT2 = 112,
	KS_FSOPEN = 113, KS_FSCONFIG = 114, KS_FSMOUNT = 115, KS_MOVE_MOUNT = 116,
	KS_OPEN_TREE = 117,
	/* permission */
	KS_CAPSET = 118,
	/* file: the root directory; system: the mount namespace's root */
	KS_CHROOT = 119, KS_PIVOT_ROOT = 120,
	KS_MAX = 121,
};

/* Event groups (sc_desc.group), selected with `kellect record -e`. */
enum sc_group {
	G_FILE = 1 << 0,
	G_PROCESS = 1 << 1,
	G_NETWORK = 1 << 2,
	G_PERMISSION = 1 << 3,
	G_SYSTEM = 1 << 4, /* kernel modules, BPF, mounts: the system's state, not a file's */
};

/* sc_desc.flags */
enum sc_flag {
	D_RET_FD = 1 << 0,	 /* a non-negative return value is a new fd: capture its inode */
	D_CONTEXT = 1 << 1,	 /* never emitted at exit: context for sched_* records (clone, exit) */
	D_FAILURE_ONLY = 1 << 2, /* emitted at exit only when it failed (exec: success is sched_process_exec) */
	D_FCNTL_DUP = 1 << 3,	 /* fcntl: only F_DUPFD and F_DUPFD_CLOEXEC are recorded */
	D_UID16 = 1 << 4,	 /* compat: the ids in args 1..3 are 16-bit (0xffff: -1), widened at entry */
	D_PGOFF = 1 << 5,	 /* compat mmap2: arg 6 is in 4096-byte pages, turned into bytes at entry */
	D_SPLIT64_2 = 1 << 6,	 /* compat: a 64-bit value in args 2 (low) and 3 (high), joined into arg 2 */
	D_SPLIT64_4 = 1 << 7,	 /* compat: a 64-bit value in args 4 (low) and 5 (high), joined into arg 4 */
};

/* The "syscalls" map holds native numbers below COMPAT_BASE and 32-bit syscalls of x86_64
 * tasks at COMPAT_BASE + their i386 number. i386's socketcall(call, args) has its calls
 * (linux/net.h SYS_*) at COMPAT_BASE + SOCKETCALL_BASE + call, past every i386 number;
 * their arguments are read from the args array. */
#define COMPAT_BASE 1024
#define I386_SOCKETCALL 102
#define SOCKETCALL_MAX 20
#define SOCKETCALL_BASE 1000

/* sc_desc.addr_kind: where a socket address is */
enum sc_addr_kind {
	A_NONE = 0,
	A_IN = 1,  /* pointer in arg addr_arg, length value in arg addr_len_arg */
	A_OUT = 2, /* pointer in arg addr_arg, length pointer (in/out) in arg addr_len_arg */
	A_MSG = 3, /* struct msghdr (or mmsghdr) pointer in arg addr_arg */
};

/* sc_desc.out_kind: a buffer the kernel fills, read at exit */
enum sc_out_kind {
	O_NONE = 0,
	O_STAT = 1,	/* struct stat pointer */
	O_STATX = 2,	/* struct statx pointer */
	O_FDPAIR = 3,	/* int[2] */
	O_OPENHOW = 4, /* struct open_how (read whatever the result: it holds the flags) */
	/* Read at entry, whatever the result (what the caller asked for; a NULL pointer
	 * leaves the out section empty): */
	O_TIMESPEC2 = 5, /* struct __kernel_timespec[2] (utimensat): 32 bytes */
	O_TIMEVAL2 = 6,	 /* struct __kernel_old_timeval[2] (utimes, futimesat): 32 bytes */
	O_UTIMBUF = 7,	 /* struct utimbuf (utime): actime, modtime, 16 bytes */
	O_XATTR_ARGS = 8, /* struct xattr_args (setxattrat): value, size, flags, 16 bytes */
	/* Read at exit on success: */
	O_FD_INODE = 9, /* a struct kl_inode of the file of the fd in arg out_arg (the
			 * other end of an in-kernel copy) */
	/* Read at exit, whatever the result (what the caller passed): */
	O_STR = 10,	 /* a user string in arg out_arg, at most KL_STR_MAX - 1 bytes, no NUL
			  * (mount's filesystem type, prctl's PR_SET_NAME name) */
	O_BPF_ATTR = 11, /* bpf's union bpf_attr in arg out_arg: its first min(size, KL_BPF_ATTR)
			  * bytes, size being the next argument */
	O_CAPSET = 12,	 /* capset: the struct __user_cap_header_struct in arg out_arg (8
			  * bytes), then two struct __user_cap_data_struct in the next (24) */
};

/* Most bytes of an O_STR string, its NUL included; of an O_BPF_ATTR attribute union
 * (enough for BPF_PROG_LOAD's prog_type .. prog_name and BPF_MAP_CREATE's map_name). */
#define KL_STR_MAX 64
#define KL_BPF_ATTR 64

/*
 * The bpf() commands recorded, bit N for enum bpf_cmd N: those that create, load, attach,
 * detach, pin, open or run BPF objects (MAP_CREATE 0, PROG_LOAD 5, OBJ_PIN 6, OBJ_GET 7,
 * PROG_ATTACH 8, PROG_DETACH 9, PROG_RUN 10, PROG_GET_FD_BY_ID 13, MAP_GET_FD_BY_ID 14,
 * RAW_TRACEPOINT_OPEN 17, BTF_LOAD 18, BTF_GET_FD_BY_ID 19, MAP_FREEZE 22, LINK_CREATE 28,
 * LINK_UPDATE 29, LINK_GET_FD_BY_ID 30, ENABLE_STATS 32, ITER_CREATE 33, LINK_DETACH 34,
 * PROG_BIND_MAP 35, TOKEN_CREATE 36). Map element reads and writes, id walks and queries,
 * which monitoring tools make by the thousand, are not recorded.
 */
#define KL_BPF_CMDS 0x1f704e67e1ULL

/*
 * The prctl options recorded (linux/prctl.h PR_*): those that change what a process is
 * called, what may inspect or trace it, its privileges and its syscall filtering. Other
 * options (queries, timer slack, THP, ...) are not recorded.
 */
enum kl_prctl {
	KL_PR_SET_DUMPABLE = 4,
	KL_PR_SET_KEEPCAPS = 8,
	KL_PR_SET_NAME = 15,
	KL_PR_SET_SECCOMP = 22,
	KL_PR_CAPBSET_DROP = 24,
	KL_PR_SET_SECUREBITS = 28,
	KL_PR_SET_MM = 35,
	KL_PR_SET_CHILD_SUBREAPER = 36,
	KL_PR_SET_NO_NEW_PRIVS = 38,
	KL_PR_CAP_AMBIENT = 47,
	KL_PR_SET_SYSCALL_USER_DISPATCH = 59,
	KL_PR_SET_MDWE = 65,
	KL_PR_SET_PTRACER = 1499557217, /* 0x59616d61, Yama */
};

/* Most bytes an O_TIMESPEC2..O_XATTR_ARGS out section holds. */
#define KL_ENTRY_OUT_MAX 32

/*
 * How to capture one syscall: the value of the "syscalls" array map at the native number
 * (or at COMPAT_BASE + the i386 number, for 32-bit syscalls of x86_64 tasks). Argument
 * indexes are stored plus one (0: none). Written by user space at start.
 */
struct sc_desc {
	__u16 ksys;
	__u8 group;
	__u8 flags;
	__u8 path0; /* arg holding the first path (user string) */
	__u8 path1; /* arg holding the second path */
	__u8 fd_arg; /* arg holding an fd whose inode is captured */
	__u8 addr_kind;
	__u8 addr_arg;
	__u8 addr_len_arg;
	__u8 out_kind;
	__u8 out_arg;
	__u8 payload_kind; /* P_*: where the data of a socket read/write is */
	__u8 payload_arg;
	__u8 nargs; /* arguments the syscall takes: those past it are not recorded */
	__u8 _pad;
};

/* sc_desc.payload_kind */
enum sc_payload_kind {
	P_NONE = 0,
	P_BUF = 1,  /* a buffer pointer in arg payload_arg; its length is the return value */
	P_IOV = 2,  /* a struct iovec array in arg payload_arg (its count in the next arg) */
	P_MSG = 3,  /* a struct msghdr in arg payload_arg: its iovecs */
	P_MMSG = 4, /* a struct mmsghdr array in arg payload_arg: each message's iovecs (the
		     * first KL_MMSG_MAX messages, SC_F_MMSG) */
};

/*
 * Most messages of one sendmmsg/recvmmsg whose lengths and payloads are captured: the first
 * KL_MMSG_MAX of the vector. The call's return value says how many moved; those past
 * KL_MMSG_MAX (ret - the parts) are left out, and rec_syscall.aux counts only the bytes of
 * the parts.
 */
#define KL_MMSG_MAX 8

/*
 * One message of sendmmsg/recvmmsg in the data section of a syscall record with SC_F_MMSG:
 * 8 bytes, then addr_len bytes of the message's peer address, then data_len bytes of the
 * message's start (at most the -p payload size, below KL_PAYLOAD_MAX; 0 when the socket's
 * payloads are not captured). msg_len - data_len bytes of the message are left out.
 */
struct kl_mmsg_part {
	__u32 msg_len;	/* the message's bytes: struct mmsghdr msg_len, as the kernel set it */
	__u16 data_len; /* payload bytes that follow the address */
	__u16 addr_len; /* bytes of the message's msg_hdr.msg_name (a struct sockaddr) that
			 * follow: at most KL_MMSG_ADDR_MAX, 0 without one (ABI version 3;
			 * before, always 0) */
};

/* Most bytes of each message's peer address kept: a struct sockaddr_in6. */
#define KL_MMSG_ADDR_MAX 28

/* Application protocols whose payloads are captured (values of the "ports" map, kl_sock.app). */
enum kl_app {
	APP_NONE = 0,
	APP_DNS = 1,
	APP_HTTP = 2,
	APP_SYSLOG = 3,
};

/*
 * The enums of this header as one type, never read: a global of it in the BPF program
 * puts them in its BTF, so the skeleton's generated types carry them and a test checks
 * the Rust mirrors (src/syscalls.rs, src/abi.rs) against them.
 */
struct kl_abi_enums {
	enum rec_kind kind;
	enum ksys ksys;
	enum sc_group group;
	enum sc_flag flag;
	enum sc_addr_kind addr_kind;
	enum sc_out_kind out_kind;
	enum sc_payload_kind payload_kind;
	enum kl_app app;
	enum kl_prctl prctl;
	struct kl_mmsg_part mmsg_part; /* a tail type no map or record holds whole */
};


/* rec_hdr.flags */
#define REC_F_TRUNC0 (1 << 0) /* the first string of the tail was cut */
#define REC_F_TRUNC1 (1 << 1) /* the second string of the tail was cut */
#define REC_F_INODE (1 << 2)  /* rec_exec: a struct kl_inode of the executable ends the tail */
#define REC_F_CONTEXT (1 << 3) /* context for replay's state, not an event of the recorded
				* processes (the recorder starting the command) */
#define REC_F_COMPAT (1 << 4)  /* a 32-bit (compat) syscall: hdr.syscall was mapped from its
				* i386 number, args are the i386 argument registers (ebx, ecx,
				* edx, esi, edi, ebp), zero-extended; on syscall, fork, exec and
				* exit records. Traces without it read as before. */
#define REC_F_TASK (1 << 5)    /* fork, exec: a struct kl_task follows the fixed part, before
				* the tail. Traces without it read as before. */
#define REC_F_RET32 (1 << 6)   /* rec_syscall_c: the return value is 4 bytes (an __s32) */

/*
 * The cgroup and namespaces of a task: 24 bytes. On a fork record, the child's (read after
 * the kernel attached it to its cgroup: CLONE_INTO_CGROUP's target, else its parent's);
 * on an exec record, the exec'ing task's.
 */
struct kl_task {
	__u64 cgroup_id; /* its cgroup in the default (v2) hierarchy: task->cgroups->dfl_cgrp
			  * ->kn->id, read with BTF (bpf_get_current_cgroup_id() returns the
			  * same for the current task); the cgroup directory's inode number on
			  * cgroup2fs. 1 is the root; 0: unknown */
	__u32 pid_ns;	 /* inode number of its pid namespace (task_active_pid_ns: the
			  * namespace of thread_pid->numbers[thread_pid->level]) */
	__u32 mnt_ns;	 /* task->nsproxy->mnt_ns->ns.inum (0: unknown) */
	__u32 net_ns;	 /* task->nsproxy->net_ns->ns.inum (0: unknown) */
	__u32 _pad;
};

/* Common header of every record: 56 bytes. */
struct rec_hdr {
	__u16 kind;	   /* enum rec_kind */
	__u16 flags;	   /* REC_F_* */
	__u32 len;	   /* length of the whole record, header and tail included */
	__u64 ts;	   /* event time, CLOCK_BOOTTIME nanoseconds */
	__u32 pid;	   /* process id (tgid) of the task the event happened in */
	__u32 tid;	   /* thread id */
	__u32 ppid;	   /* process id of the real parent */
	__u32 uid;	   /* real uid */
	__u32 gid;	   /* real gid */
	__u16 cpu;	   /* CPU the event was recorded on */
	__u16 syscall;	   /* kellect syscall id (0: none or unknown) */
	char comm[KL_COMM_LEN]; /* task name, NUL-padded */
};

/*
 * REC_PROC_FORK: the header describes the parent (the task that called fork/clone);
 * hdr.syscall is KS_FORK, KS_VFORK, KS_CLONE or KS_CLONE3 when the syscall was seen.
 */
struct rec_fork {
	struct rec_hdr hdr;
	__u32 child_pid; /* the child's tgid: equal to hdr.pid when a thread was created */
	__u32 child_tid;
	__u64 clone_flags; /* flags of the clone call when known, else 0 */
	char child_comm[KL_COMM_LEN];
};

/* REC_PROC_EXEC: the header describes the task after exec (new comm). */
struct rec_exec {
	struct rec_hdr hdr; /* hdr.syscall: KS_EXECVE or KS_EXECVEAT when seen */
	__u32 old_pid;	    /* tid that called exec (differs when a non-leader thread execs) */
	__u32 argc;	    /* number of arguments the program was given */
	__u16 filename_len; /* bytes of filename in the tail (REC_F_TRUNC0 if cut) */
	__u16 args_len;	    /* bytes of the argv area in the tail, NUL-separated (REC_F_TRUNC1) */
	__u16 exe_len;	    /* bytes of exe_path in the tail (0: not captured, traces before it) */
	__u16 exe_flags;    /* EXE_F_* */
	/* tail: char filename[filename_len]; char args[args_len]; [struct kl_inode];
	 * char exe_path[exe_len]; [char argv0[...]: the rest, with EXE_F_ARGV0] */
};

/*
 * rec_exec.exe_flags. exe_path is the path of the file the kernel executed (bprm->file: for
 * a #! script, its interpreter), walked up its dentries and mounts to the root of the
 * recording task's mount tree, at most KL_EXE_DEPTH steps; names are cut at KL_NAME_MAX.
 */
#define KL_EXE_DEPTH 32
#define KL_NAME_MAX 256
#define EXE_F_TRUNC (1 << 0)	/* exe_path was cut: too deep or too long (its top is missing) */
#define EXE_F_DELETED (1 << 1)	/* the executable's inode has no links (i_nlink 0) */
#define EXE_F_INTERNAL (1 << 2) /* the file is on no mounted filesystem: a kernel-internal mount
				 * or a pseudo dentry (memfd_create: exe_path "/memfd:NAME") */
#define EXE_F_INTERP (1 << 3)	/* a binfmt handler (#! script, binfmt_misc) put an interpreter
				 * in: exe_path is the interpreter, filename the script */
#define EXE_F_ARGV0 (1 << 4)	/* with EXE_F_INTERP: the rest of the record, after exe_path, is
				 * the caller's argv[0] (at most KL_ARGV0_MAX - 1 bytes, read at
				 * the exec's entry), which the kernel replaced */
#define KL_ARGV0_MAX 256

/* rec_exit.exit_flags */
#define EXIT_F_GROUP_DEAD (1 << 0) /* the last thread of the process: the process ended */
#define EXIT_F_GROUP_EXIT (1 << 1) /* ended by exit_group or a fatal signal (SIGNAL_GROUP_EXIT) */
#define EXIT_F_EXEC (1 << 2) /* killed by another thread's exec (the kernel's de_thread): the
			      * process lives on in the exec'ing thread, which takes the
			      * leader's pid. Traces without it read as before. */

/* rec_cgroup.op */
#define CG_MKDIR 1  /* cgroup:cgroup_mkdir: the directory was made */
#define CG_ATTACH 2 /* cgroup:cgroup_attach_task: process `pid` moved into the cgroup */
/* rec_cgroup.cg_flags */
#define CG_F_TRUNC (1 << 0)	  /* the path was cut at KL_CGROUP_PATH_MAX - 1 bytes */
#define CG_F_THREADGROUP (1 << 1) /* attach: the whole thread group moved (cgroup.procs) */
/* Most bytes of a cgroup path, its NUL included: the kernel's TRACE_CGROUP_PATH_LEN. */
#define KL_CGROUP_PATH_MAX 1024

/*
 * REC_CGROUP: 80 bytes, then the tail: char path[path_len], the cgroup's path from the root
 * of its hierarchy as the tracepoint gives it (cgroup_path: relative to the cgroup
 * namespace of the task in hdr), e.g. "/system.slice/docker-<64 hex>.scope". The header's
 * task is the one that made the directory or moved the process. Recorded for every task
 * but the recorder (in target mode too: a cgroup is made by whoever runs the container).
 */
struct rec_cgroup {
	struct rec_hdr hdr;
	__u64 cgroup_id; /* the cgroup's kernfs id (dst_cgrp->kn->id): its directory's inode */
	__u32 pid;	 /* attach: the moved process (the leader's tgid); mkdir: 0 */
	__u16 hierarchy; /* dst_cgrp->root->hierarchy_id: 0 the default (v2) hierarchy, 1..
			  * a v1 hierarchy (ids of different hierarchies are unrelated) */
	__u8 op;	 /* CG_* */
	__u8 level;	 /* depth below the hierarchy's root (dst_cgrp->level, at most 255) */
	__u16 path_len;
	__u16 cg_flags;	 /* CG_F_* */
	__u32 _pad;
};

/* REC_PROC_EXIT: hdr.syscall is KS_EXIT or KS_EXIT_GROUP when the task called one. */
struct rec_exit {
	struct rec_hdr hdr;
	__u32 exit_code;  /* the kernel's wait status: (status << 8) | termsig | 0x80 if core */
	__u32 exit_flags; /* EXIT_F_* */
};

/* Per-kind counters in the per-CPU "stats" array map. */
struct kind_stats {
	__u64 emitted; /* records written into the ring buffer */
	__u64 dropped; /* records lost because the ring buffer was full */
};

/* Most payload bytes captured per socket read or write (the -p payload size is below it). */
#define KL_PAYLOAD_MAX 2048

/* Longest socket address captured (sockaddr_storage). */
#define KL_ADDR_MAX 128

/* Attributes of an inode, from the kernel's struct inode or a stat buffer: 64 bytes. */
struct kl_inode {
	__u64 ino;
	__u64 size;
	__u32 dev;   /* the kernel's dev_t: major << 20 | minor */
	__u32 mode;
	__u32 uid;
	__u32 gid;
	__u32 nlink;
	__u32 fmode; /* struct file f_mode (0 from a stat buffer) */
	__s64 atime_ns;
	__s64 mtime_ns;
	__s64 ctime_ns;
};

/* rec_syscall.sc_flags */
#define SC_F_INODE (1 << 0)	   /* a struct kl_inode of the fd's file follows the out section */
#define SC_F_PATH0_TRUNC (1 << 1) /* path0 was cut at KL_PATH_MAX - 1 bytes */
#define SC_F_PATH1_TRUNC (1 << 2)
#define SC_F_SOCK (1 << 3) /* a struct kl_sock follows the inode section */
#define SC_F_MMSG (1 << 4) /* sendmmsg/recvmmsg: the data section is the vector's messages,
			    * each a struct kl_mmsg_part and its payload bytes. Without it
			    * (traces before it) the data is the first message's payload. */

/* rec_syscall_c.sc_flags, beside SC_F_*: how the inode section was left out */
#define SC_F_INODE_SAME (1 << 5) /* no inode section: the fd's inode is the one written last for
				  * this process (tgid) and fd number, unchanged */
#define SC_F_INODE_REF (1 << 6)	 /* the inode section is a struct kl_inode_ref: the inode is the
				  * one written last for its (dev, ino), unchanged but for fmode */

/*
 * A task's name and ids (struct rec_hdr's ppid, uid, gid, comm): 28 bytes. A compact syscall
 * record carries them (SCC_FACTS) when they differ from the ones the task's previous
 * syscall record carried, or when that was KL_REFRESH_NS or more before.
 */
struct kl_facts {
	__u32 ppid;
	__u32 uid;
	__u32 gid;
	char comm[KL_COMM_LEN];
};

/* An inode named by its identity, its attributes being the ones written last for it: 16 bytes. */
struct kl_inode_ref {
	__u64 ino;
	__u32 dev;
	__u32 fmode; /* struct file f_mode of this fd's file */
};

/*
 * What a compact record leaves out is what the same task's (facts), process and fd's (inode
 * SAME), or inode's (inode REF) record wrote at most this long before, and earlier by its
 * stamp: a trace cut anywhere (a segment, a slice) needs at most this much before it.
 */
#define KL_REFRESH_NS 1000000000ULL

/* rec_syscall_c.parts: what follows the return value and arguments, in this order */
#define SCC_FACTS (1 << 0) /* struct kl_facts */
#define SCC_ENTER (1 << 1) /* __u64 enter_ts (left out: recorded at exit alone, 0) */
#define SCC_PATH0 (1 << 2) /* __u16 path0_len (left out: 0) */
#define SCC_PATH1 (1 << 3) /* __u16 path1_len */
#define SCC_ADDR (1 << 4)  /* __u16 addr_len */
#define SCC_OUT (1 << 5)   /* __u16 out_len */
#define SCC_DATA (1 << 6)  /* __u16 data_len */
#define SCC_AUX (1 << 7)   /* __u32 aux */

/* rec_syscall_c.arg_forms: 2 bits per argument (argument i at bits 2i, 2i+1) */
#define ARG_ZERO 0 /* 0, not stored (and the arguments past the syscall's own) */
#define ARG_U32 1  /* 4 bytes, zero-extended */
#define ARG_S32 2  /* 4 bytes, sign-extended */
#define ARG_U64 3  /* 8 bytes */

/*
 * REC_SYSCALL_C: one syscall, written at its exit, in compact form (ABI version 5): 32
 * bytes, then the return value (8 bytes, or 4 with REC_F_RET32), the arguments by their
 * forms, the parts, then the tail of a syscall record (path0, path1, addr, out, inode or
 * kl_inode_ref or nothing, sock, data). It reads as the struct rec_syscall with the same
 * values: ppid, uid, gid and comm are the task's last facts, the inode of SC_F_INODE_SAME
 * and SC_F_INODE_REF the one last written for its key.
 */
struct rec_syscall_c {
	__u16 kind;	  /* REC_SYSCALL_C */
	__u16 flags;	  /* REC_F_COMPAT, REC_F_RET32 */
	__u32 len;
	__u64 ts;	  /* exit time, CLOCK_BOOTTIME ns */
	__u32 pid;
	__u32 tid;
	__u16 cpu;
	__u16 syscall;	  /* kellect syscall id */
	__u8 sc_flags;	  /* SC_F_* */
	__u8 parts;	  /* SCC_* */
	__u16 arg_forms;  /* ARG_* of each argument */
};

/*
 * REC_SYSCALL: one syscall, written at its exit. hdr.ts is the exit time, hdr.syscall the
 * kellect id. 136 bytes, then the tail: path0, path1, addr, out, [struct kl_inode],
 * [struct kl_sock], data (payload bytes of a socket read/write, data_len of them; with
 * SC_F_MMSG, the messages of sendmmsg/recvmmsg as struct kl_mmsg_part and payload each).
 */
struct rec_syscall {
	struct rec_hdr hdr;
	__u64 enter_ts; /* CLOCK_BOOTTIME ns at entry; 0 (ABI version 4) when the syscall was
			 * recorded at exit alone (no entry program kept it: see needs_entry) */
	__s64 ret;	/* return value; -errno on failure */
	__u64 args[6];	/* raw arguments */
	__u16 path0_len;
	__u16 path1_len;
	__u16 addr_len;
	__u16 out_len;
	__u16 data_len; /* bytes of the data section (the start of the message; SC_F_MMSG: the
			 * parts) */
	__u16 sc_flags; /* SC_F_* */
	__u32 aux;	/* sendmmsg/recvmmsg: bytes of the messages (the first KL_MMSG_MAX);
			 * else 0 */
};

/* rec_uring.uring_flags */
#define URING_F_FIXED (1 << 0)	    /* the SQE named a registered (fixed) file, or an open or
				     * close was of a registered slot: sqe_fd is no fd, and
				     * hdr.syscall is 0 (no syscall's effect on fds applies) */
#define URING_F_SKIP_SUCCESS (1 << 1) /* the SQE asked IOSQE_CQE_SKIP_SUCCESS: a success posts
				       * no CQE; a failure does, written as usual */
#define URING_F_SUBMITTED (1 << 2)    /* written at submission (a URING_F_SKIP_SUCCESS
				       * request): sc.ret is 0 and no result, hdr.ts the
				       * submission; the inode is of the file the SQE's fd named
				       * then */

/*
 * REC_URING_OP: one io_uring request (IORING_OP_*), which no syscall of its own carries.
 * Built at the io_uring_submit_req tracepoint (after the kernel's prep of the SQE) and
 * written at the request's io_uring_complete: 152 bytes, then the tail of a syscall record.
 *
 * sc is a syscall record of the catalogue syscall the operation does (hdr.syscall: KS_OPENAT
 * for IORING_OP_OPENAT and OPENAT2, KS_CLOSE, KS_PREAD64 for READ and READ_FIXED,
 * KS_PREADV for READV, KS_PWRITE64 for WRITE and WRITE_FIXED, KS_PWRITEV for WRITEV; 0 for
 * the other opcodes), its args in that syscall's order, read from the request:
 *   openat: dfd, 0, how.flags, how.mode          (struct io_open)
 *   close: fd                                    (struct io_close)
 *   pread64/pwrite64/preadv/pwritev: fd, addr, len, ki_pos (struct io_rw; ki_pos -1:
 *     the file's position)
 *   other opcodes: the SQE's fd                  (io_kiocb.cqe.fd)
 * hdr is the task that submitted it (the SQ thread, iou-sqp-PID, under IORING_SETUP_SQPOLL),
 * at submission; hdr.ts is the completion time, sc.enter_ts the submission time, sc.ret
 * the CQE's res. The tail is path0 (openat: the request's struct filename, getname'd by
 * the prep from the SQE's address) and, with SC_F_INODE, the struct kl_inode of the file:
 * of the new fd for openat (the completing task's fd table, when that task is of the
 * submitter's process), else of the request's struct file (io_kiocb.file).
 * A request with URING_F_SKIP_SUCCESS is written at submission instead (URING_F_SUBMITTED:
 * hdr.ts = sc.enter_ts, sc.ret 0 and no result, the inode of the file its fd names then),
 * and again at completion only if it fails (its CQE).
 */
struct rec_uring {
	struct rec_syscall sc;
	__u64 user_data; /* the SQE's user_data, as the CQE returns it */
	__s32 sqe_fd;	 /* the SQE's fd (dfd for openat; a fixed-file index with URING_F_FIXED) */
	__u8 opcode;	 /* IORING_OP_* */
	__u8 uring_flags; /* URING_F_* */
	__u16 _pad;
};

/* A socket's identity, from its struct sock: 56 bytes. */
struct kl_sock {
	__u64 sk_id;	 /* the socket's identity (its kernel address, scrambled per recording) */
	__u16 family;	 /* AF_INET, AF_INET6, AF_UNIX */
	__u8 protocol;	 /* IPPROTO_TCP, IPPROTO_UDP; 0 for UNIX */
	__u8 type;	 /* SOCK_STREAM, SOCK_DGRAM, ... */
	__u8 state;	 /* sk_state (TCP_ESTABLISHED = 1, ...) */
	__u8 app;	 /* APP_*: payloads of this socket are captured, 0: not */
	__u16 lport;	 /* local port, host order */
	__u16 rport;	 /* remote port, host order */
	__u16 _pad;
	__u32 ifindex;	 /* interface of the last received packet (0: unknown) */
	__u8 laddr[16]; /* local address: IPv4 in the first 4 bytes */
	__u8 raddr[16]; /* remote address */
};

/* TCP counters of a socket, from its struct tcp_sock: 64 bytes. */
struct kl_tcp {
	__u64 bytes_received;
	__u64 bytes_acked;
	__u64 bytes_sent;
	__u64 bytes_retrans;
	__u32 segs_in;
	__u32 segs_out;
	__u32 data_segs_in;
	__u32 data_segs_out;
	__u32 total_retrans;
	__u32 srtt_us;	 /* smoothed round-trip time, microseconds */
	__u32 rto_jiffies; /* retransmission timeout, kernel jiffies (HZ is in the Capture block) */
	__u32 _pad;
};

/* rec_sock_state.event */
#define SOCK_EV_STATE 0	   /* sk_state changed from oldstate to newstate */
#define SOCK_EV_RESET_RX 1 /* an RST was received */
#define SOCK_EV_RESET_TX 2 /* an RST was sent */

/* REC_SOCK_STATE: 184 bytes. The header's task is whoever ran when it happened (often
 * softirq context: not the socket's owner); the socket's identity is in sock. */
struct rec_sock_state {
	struct rec_hdr hdr;
	struct kl_sock sock;
	__u8 event; /* SOCK_EV_* */
	__u8 oldstate;
	__u8 newstate;
	__u8 _pad[5];
	struct kl_tcp tcp;
};

/* Packets of one drop reason (struct kl_pkt_counters): 8 bytes. */
struct kl_drop_count {
	__u32 reason; /* the kernel's enum skb_drop_reason (skb:kfree_skb); 0: unused slot.
		       * Its numbers differ between kernels: the recorder stores the running
		       * kernel's names (Capture block, drop_reasons) */
	__u32 count;
};

/* TCP flag combinations counted: the header's FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08 and
 * ACK 0x10 bits (URG, ECE and CWR are left out of the combination). */
#define KL_FLAG_COMBOS 32
#define KL_DROP_SLOTS 4

/*
 * A socket's packets, counted in the kernel (never a record per packet): 336 bytes.
 * Outgoing packets are counted at net:net_dev_queue (skb->sk), incoming ones at
 * net:netif_receive_skb (the socket found by the packet's addresses and ports), drops at
 * skb:kfree_skb and sock:sock_rcvqueue_full. The fields marked "read" are read from the
 * socket when the record is written. Counters are 32-bit and wrap.
 */
struct kl_pkt_counters {
	__u32 tx_flags[KL_FLAG_COMBOS]; /* TCP packets sent, by flag combination (index:
					 * the header's flags & 0x1f) */
	__u32 rx_flags[KL_FLAG_COMBOS]; /* TCP packets received */
	struct kl_drop_count drops[KL_DROP_SLOTS]; /* packets of the socket the kernel freed as
						    * dropped, per reason (slots taken in order
						    * of first drop) */
	__u64 tx_packets;     /* IP packets sent (a GSO packet counts once, as a capture
			       * on the interface sees it) */
	__u64 rx_packets;     /* IP packets received (fragments each) */
	__u32 drops_other;    /* drops of reasons past the slots */
	__u32 rcvqueue_full;  /* sock:sock_rcvqueue_full: the receive queue had no room */
	__u32 rx_frags;	      /* IPv4 fragments received (those after the first found by the
			       * first's source, destination, id and protocol) */
	__u32 rx_drops;	      /* read: the socket's sk_drops (what /proc/net/udp and ss -m
			       * show as drops) */
	__u32 rx_ooo;	      /* read: TCP, tcp_sock.rcv_ooopack (out-of-order packets) */
	__u32 tx_dups;	      /* read: TCP, tcp_sock.dsack_dups (duplicates the peer reported
			       * with D-SACK) */
	__u32 rx_queued;      /* read: packets in sk_receive_queue */
	__u8 rx_ttl;	      /* TTL (IPv6: hop limit) of the last packet received; 0: none */
	__u8 _pad[3];
};

/* rec_sock_counters.reason */
#define SOCK_CNT_STATE 0    /* written with a state change (the REC_SOCK_STATE record after it) */
#define SOCK_CNT_PERIODIC 1 /* written with the periodic statistics block */
#define SOCK_CNT_GONE 2	    /* the socket is gone (TCP_CLOSE, or found closed by the periodic
			     * pass): its last values, its counting ended */

/*
 * REC_SOCK_COUNTERS: 456 bytes. The header's task is whoever ran when it was written (the
 * recorder itself for SOCK_CNT_PERIODIC); the socket's identity is in sock.
 */
struct rec_sock_counters {
	struct rec_hdr hdr;
	struct kl_sock sock;
	__u8 reason; /* SOCK_CNT_* */
	__u8 _pad[7];
	struct kl_pkt_counters pkt;
};

#endif /* KELLECT_RECORDS_H */
