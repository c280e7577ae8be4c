// SPDX-License-Identifier: GPL-2.0-only
/*
 * kellect's kernel side: tracepoint programs that write compact raw records (records.h)
 * into one ring buffer. Everything expensive (decoding, state, enrichment) happens later,
 * in user space, on the recorded bytes.
 *
 * Filtering happens before bpf_ringbuf_reserve, so an unselected event costs a compare or
 * a map lookup and writes nothing: the recorder's own process is always skipped; in
 * target mode only the process tree of the recorded command is kept.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include "records.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load (read-only data: the verifier prunes dead branches). */
const volatile __u32 self_tgid = 0;   /* the recorder's own process: never recorded */
const volatile __u8 target_mode = 0;  /* 1: record only the tree of the recorder's children */
const volatile __u8 group_mask = 0xff; /* event groups (G_*) whose syscalls are recorded */
const volatile __u32 payload_max = 0;  /* payload bytes captured per message (< KL_PAYLOAD_MAX) */
const volatile __u8 unix_syslog = 0;   /* capture payloads of UNIX datagram sockets (syslog) */
const volatile __u64 sk_key = 0;       /* scrambles socket addresses into sk_id */
const volatile __u64 wakeup_bytes = 1 << 20; /* wake the reader once this much is waiting */
/* 1: per-thread state (a syscall between entry and exit, a task's last facts) lives in task
 * storage (BPF_MAP_TYPE_TASK_STORAGE, kernel 5.11+); 0: in hashes by tid. User space picks
 * at load and does not create the maps of the other. */
const volatile __u8 task_storage = 1;
/* Never read: puts the ABI enums of records.h in the program's BTF (see kl_abi_enums). */
const volatile struct kl_abi_enums kl_abi_enums = {};

/*
 * Set to 1 by user space when the recording stops, checked before every
 * bpf_ringbuf_reserve: nothing is emitted or counted after it, so the final drain and
 * counter read see every record. A global in .bss rather than a map: checking it is a single
 * load (no helper call), and user space sets it through the skeleton's mmap of .bss.
 */
volatile __u32 stopping = 0;

/*
 * Never used by the programs: an update of a map-of-maps from user space returns only after
 * every BPF program that was running has finished (the kernel waits for an RCU grace period,
 * see maybe_wait_bpf_programs), so once `stopping` is set, updating this map is how user
 * space waits for programs that were already past the check.
 */
struct stop_barrier_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} stop_barrier_inner SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct stop_barrier_inner);
} stop_barrier SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 64 << 20); /* resized by user space before load */
} events SEC(".maps");

/* Process ids (tgid) of the recorded process tree, in target mode. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, __u8);
} targets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, REC_KIND_MAX);
	__type(key, __u32);
	__type(value, struct kind_stats);
} stats SEC(".maps");

/*
 * How to capture each native syscall number (user space fills it before attaching), and
 * from COMPAT_BASE on each 32-bit syscall of x86_64 tasks (int $0x80, sysenter, 32-bit
 * syscall) by i386 number: they have a table and argument registers of their own. One map,
 * so the exit path looks up one kind of value (the verifier's states stay few).
 */
#define NR_SYSCALLS 1024
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, COMPAT_BASE + NR_SYSCALLS);
	__type(key, __u32);
	__type(value, struct sc_desc);
} syscalls SEC(".maps");

/* How many arguments a socketcall call has (the kernel's nas[] in net/compat.c). Compares,
 * not a table: a constant array would be one more map. */
static __always_inline __u32 socketcall_nargs(__u32 call)
{
	if (call == 4 || call == 13) /* listen, shutdown */
		return 2;
	if (call == 8 || call == 9 || call == 10 || call == 18 || call == 20)
		return 4; /* socketpair, send, recv, accept4, sendmmsg */
	if (call == 14 || call == 15 || call == 19)
		return 5; /* setsockopt, getsockopt, recvmmsg */
	if (call == 11 || call == 12)
		return 6; /* sendto, recvfrom */
	return 3;
}

/* A syscall between its entry and its exit, per thread. */
struct pending {
	__u64 ts;
	__u64 args[6];
	__u32 nr; /* key of the "syscalls" map: COMPAT_BASE + ... for a 32-bit syscall */
	__u16 ksys;
	__u16 compat; /* 1: a 32-bit syscall */
	__u32 out_len; /* bytes of out read at entry (O_TIMESPEC2..O_XATTR_ARGS), 0: none */
	__u32 _pad;
	__u8 out[KL_ENTRY_OUT_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

/* The same in the task's local storage (task_storage): no key lookup, freed with the task;
 * an entry is taken when its ts is not 0. */
struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct pending);
} pending_task SEC(".maps");

/* The current task's (`tid`'s) syscall between entry and exit, or NULL. */
static __always_inline struct pending *pending_get(__u32 tid)
{
	struct pending *p;

	if (!task_storage)
		return bpf_map_lookup_elem(&pending, &tid);
	p = bpf_task_storage_get(&pending_task, bpf_get_current_task_btf(), 0, 0);
	return p && p->ts ? p : NULL;
}

/* Keeps `p` as the current task's (`tid`'s) syscall until its exit; 0 on success. */
static __always_inline long pending_put(__u32 tid, const struct pending *p)
{
	struct pending *slot;

	if (!task_storage)
		return bpf_map_update_elem(&pending, &tid, p, BPF_ANY);
	slot = bpf_task_storage_get(&pending_task, bpf_get_current_task_btf(), 0,
				    BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!slot)
		return -1;
	__builtin_memcpy(slot, p, sizeof(*slot));
	return 0;
}

/* Forgets the current task's (`tid`'s) syscall between entry and exit. */
static __always_inline void pending_drop(__u32 tid, struct pending *p)
{
	if (!task_storage)
		bpf_map_delete_elem(&pending, &tid);
	else if (p)
		p->ts = 0;
}

/* Per-CPU room to build an executable's path in: dentries first, then their names. */
struct exe_scratch {
	char path[2 * KL_PATH_MAX]; /* twice the path: room for the verifier's bounds */
	__u64 dents[KL_EXE_DEPTH];
	__u32 n;     /* dentries in dents, the file's first */
	__u32 flags; /* EXE_F_* */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct exe_scratch);
} exe_scratch SEC(".maps");

/*
 * The caller's argv[0] of an exec in progress, by tid: read at entry, while the caller's
 * memory is still there, because a #! script's exec replaces it with the interpreter's
 * name. on_exec takes it (and deletes it) when an interpreter stepped in.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, char[KL_ARGV0_MAX]);
} exec_argv0 SEC(".maps");

/*
 * Keeps argv[0] of the argument array at `argv` (32-bit pointers when `compat`) for the
 * exec of thread `tid`. A global function: the verifier checks it once, on its own.
 */
__noinline int save_argv0(__u32 tid, __u64 argv, __u32 compat)
{
	__u32 zero = 0;
	struct exe_scratch *s = bpf_map_lookup_elem(&exe_scratch, &zero);
	__u64 arg0 = 0;

	if (!s)
		return 0;
	if (compat) {
		__u32 a = 0;

		bpf_probe_read_user(&a, sizeof(a), (const void *)argv);
		arg0 = a;
	} else {
		bpf_probe_read_user(&arg0, sizeof(arg0), (const void *)argv);
	}
	s->path[0] = 0;
	if (arg0)
		bpf_probe_read_user_str(s->path, KL_ARGV0_MAX, (const void *)arg0);
	bpf_map_update_elem(&exec_argv0, &tid, s->path, BPF_ANY);
	return 0;
}

/* Ports whose payloads are captured: key (IPPROTO << 16) | port, value APP_*. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u8);
} ports SEC(".maps");

/* Sockets the recorded processes used (target mode): their state changes are recorded. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u64);
	__type(value, __u8);
} socks SEC(".maps");

/* Present in the object's BTF so the skeleton generates Rust types to check the mirrors. */
struct rec_fork _rec_fork = {};
struct rec_exec _rec_exec = {};
struct rec_exit _rec_exit = {};
struct rec_syscall _rec_syscall = {};
struct rec_syscall_c _rec_syscall_c = {};
struct kl_facts _kl_facts = {};
struct kl_inode_ref _kl_inode_ref = {};
struct kl_inode _kl_inode = {};
struct kl_sock _kl_sock = {};
struct kl_tcp _kl_tcp = {};
struct rec_sock_state _rec_sock_state = {};
struct rec_uring _rec_uring = {};
struct kl_task _kl_task = {};
struct rec_cgroup _rec_cgroup = {};
struct sc_desc _sc_desc = {};
struct kind_stats _kind_stats = {};

/*
 * Waking the reader for every record costs more than recording it (an interrupt and a
 * context switch each): wake it only once enough is waiting. The reader also polls with a
 * short timeout, so a quiet system's records are not held back for long.
 */
static __always_inline __u64 submit_flags(void)
{
	return bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP
									      : BPF_RB_NO_WAKEUP;
}

/*
 * Per CPU, but not exclusive: a softirq can interrupt a program on the same CPU and run
 * another one that counts the same kind (TCP state changes), so the adds are atomic.
 */
static __always_inline void count(__u32 kind, bool dropped)
{
	struct kind_stats *s = bpf_map_lookup_elem(&stats, &kind);

	if (!s)
		return;
	if (dropped)
		__sync_fetch_and_add(&s->dropped, 1);
	else
		__sync_fetch_and_add(&s->emitted, 1);
}

static __always_inline bool is_target(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (target_mode && !bpf_map_lookup_elem(&targets, &tgid))
		return false;
	return true;
}

/*
 * The current task, as a BTF pointer for plain loads (CO-RE relocated; a fault reads 0).
 * Where the kernel has bpf_rdonly_cast (6.2+) an untrusted one: for each pointer loaded
 * through a trusted task the verifier looks up whether the kernel marks that field trusted,
 * a search of the kernel's BTF by name that was most of the time taken to check these
 * programs. Older kernels get bpf_get_current_task_btf() (libbpf resolves the weak kfunc to
 * nothing and the verifier drops the branch). Not for helpers that want a trusted task
 * (task storage).
 */
static __always_inline struct task_struct *current_task(void)
{
	if (bpf_ksym_exists(bpf_rdonly_cast))
		return bpf_core_cast((void *)bpf_get_current_task(), struct task_struct);
	return (struct task_struct *)bpf_get_current_task_btf();
}

/* The zero bytes of the little-endian word `w`, as their top bits, exactly so for the first
 * one (the lowest set bit): a borrow of w - 0x01..01 only runs upwards from a zero byte. */
static __always_inline __u64 zero_bytes(__u64 w)
{
	return (w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL;
}

/* The little-endian word `w` with every byte from its first zero byte on cleared, `z` its
 * zero_bytes (when 0, `w` whole): the bytes strscpy_pad would keep. */
static __always_inline __u64 before_nul(__u64 w, __u64 z)
{
	return w & (((z & -z) >> 7) - 1);
}

/*
 * Fills the common header for the current task. Where current_task() gives an untrusted
 * task (bpf_rdonly_cast), its ids, uid/gid and name are plain loads instead of the helpers
 * bpf_get_current_pid_tgid, bpf_get_current_uid_gid and bpf_get_current_comm, which were a
 * good part of a syscall record's cost. The values are the same: the helpers return
 * current->tgid << 32 | current->pid; from_kuid/from_kgid(&init_user_ns, ...) of
 * current->cred's uid and gid, the identity on the kernel's ids (init_user_ns maps
 * 0..2^32-2 onto themselves, and -1 stays -1); task->comm as strscpy_pad copies it (at most
 * 15 bytes, zeros from the first NUL on), what the two masked words are.
 */
static __always_inline void fill_hdr(struct rec_hdr *h, __u16 kind, __u32 len, __u64 ts)
{
	struct task_struct *task = current_task();

	h->kind = kind;
	h->flags = 0;
	h->len = len;
	h->ts = ts;
	h->ppid = task->real_parent->tgid; /* BTF pointers: plain loads */
	h->cpu = bpf_get_smp_processor_id();
	h->syscall = 0;
	if (__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && bpf_ksym_exists(bpf_rdonly_cast)) {
		const struct cred *cred = task->cred;
		__u64 w0 = *(__u64 *)&task->comm[0];
		/* byte 15 is always a NUL in strscpy_pad's copy */
		__u64 w1 = *(__u64 *)&task->comm[8] & 0x00ffffffffffffffULL;
		__u64 z0 = zero_bytes(w0);

		h->pid = task->tgid;
		h->tid = task->pid;
		h->uid = cred->uid.val;
		h->gid = cred->gid.val;
		*(__u64 *)&h->comm[0] = before_nul(w0, z0);
		*(__u64 *)&h->comm[8] = z0 ? 0 : before_nul(w1, zero_bytes(w1));
	} else {
		__u64 pid_tgid = bpf_get_current_pid_tgid();
		__u64 uid_gid = bpf_get_current_uid_gid();

		h->pid = pid_tgid >> 32;
		h->tid = (__u32)pid_tgid;
		h->uid = (__u32)uid_gid;
		h->gid = uid_gid >> 32;
		bpf_get_current_comm(h->comm, sizeof(h->comm));
	}
}

/* The cgroup and namespaces of `task` (struct kl_task); what cannot be read stays 0. */
static __always_inline void read_task(struct task_struct *task, struct kl_task *t)
{
	struct pid *pid = BPF_CORE_READ(task, thread_pid);
	struct pid_namespace *pidns = NULL;
	unsigned int level = BPF_CORE_READ(pid, level);

	t->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
	/* task_active_pid_ns: the namespace of the task's pid at its deepest level. */
	if (pid)
		bpf_probe_read_kernel(&pidns, sizeof(pidns),
				      (char *)pid + bpf_core_field_offset(struct pid, numbers) +
					      (level & 63) * bpf_core_type_size(struct upid) +
					      bpf_core_field_offset(struct upid, ns));
	t->pid_ns = BPF_CORE_READ(pidns, ns.inum);
	t->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
	t->net_ns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
	t->_pad = 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
	__u32 ptgid = BPF_CORE_READ(parent, tgid);
	__u32 ctgid = BPF_CORE_READ(child, tgid);
	bool thread = ptgid == ctgid;
	__u8 one = 1;
	__u64 ts = bpf_ktime_get_boot_ns();
	struct rec_fork *r;

	bool context = false;

	if (target_mode && !thread) {
		if (ptgid == self_tgid) {
			/* The recorded command itself: its tree starts here. The record tells
			 * replay it inherits the recorder's working directory and fds. */
			bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
			context = true;
		} else if (!bpf_map_lookup_elem(&targets, &ptgid)) {
			return 0;
		} else {
			bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
		}
	} else if (!is_target(ptgid)) {
		return 0;
	}

	if (stopping)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r) + sizeof(struct kl_task), 0);
	if (!r) {
		count(REC_PROC_FORK, true);
		return 0;
	}
	fill_hdr(&r->hdr, REC_PROC_FORK, sizeof(*r) + sizeof(struct kl_task), ts);
	read_task(child, (struct kl_task *)(r + 1));
	r->child_pid = ctgid;
	r->child_tid = BPF_CORE_READ(child, pid);
	r->clone_flags = 0;
	r->hdr.flags |= REC_F_TASK;
	if (context)
		r->hdr.flags |= REC_F_CONTEXT;
	{
		/* The parent is inside fork/vfork/clone/clone3: its entry has the flags. */
		__u32 tid = r->hdr.tid;
		struct pending *p = pending_get(tid);

		if (p) {
			r->hdr.syscall = p->ksys;
			if (p->compat)
				r->hdr.flags |= REC_F_COMPAT;
			if (p->ksys == KS_CLONE)
				r->clone_flags = p->args[0];
			else if (p->ksys == KS_CLONE3)
				bpf_probe_read_user(&r->clone_flags, sizeof(r->clone_flags),
						    (const void *)p->args[0]);
			else if (p->ksys == KS_VFORK)
				r->clone_flags = 0x4000 | 0x100 | 17; /* CLONE_VFORK|CLONE_VM|SIGCHLD */
			else if (p->ksys == KS_FORK)
				r->clone_flags = 17; /* SIGCHLD */
		}
	}
	BPF_CORE_READ_STR_INTO(&r->child_comm, child, comm);
	bpf_ringbuf_submit(r, submit_flags());
	count(REC_PROC_FORK, false);
	return 0;
}

/* Before 5.16, de_thread's task was signal->group_exit_task. */
struct signal_struct___v515 {
	struct task_struct *group_exit_task;
};

/* Whether `p` dies because another thread of its process is in exec (de_thread). */
static __always_inline bool killed_by_exec(struct task_struct *p)
{
	struct signal_struct *sig = BPF_CORE_READ(p, signal);
	struct task_struct *execer = NULL;

	if (bpf_core_field_exists(sig->group_exec_task))
		execer = BPF_CORE_READ(sig, group_exec_task);
	else
		execer = BPF_CORE_READ((struct signal_struct___v515 *)sig, group_exit_task);
	return execer && execer != p;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u64 ts = bpf_ktime_get_boot_ns();
	struct rec_exit *r;
	__u32 flags = 0;

	if (!is_target(tgid))
		return 0;

	/* signal->live was decremented before the tracepoint: zero means the last thread. */
	if (BPF_CORE_READ(p, signal, live.counter) == 0)
		flags |= EXIT_F_GROUP_DEAD;
	if (BPF_CORE_READ(p, signal, flags) & 0x00000004 /* SIGNAL_GROUP_EXIT */)
		flags |= EXIT_F_GROUP_EXIT;
	else if (killed_by_exec(p))
		flags |= EXIT_F_EXEC;

	/* Stopped: no record, but the bookkeeping below still runs. */
	if (!stopping) {
		r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
		if (r) {
			fill_hdr(&r->hdr, REC_PROC_EXIT, sizeof(*r), ts);
			r->exit_code = BPF_CORE_READ(p, exit_code);
			r->exit_flags = flags;
			{
				__u32 tid = r->hdr.tid;
				struct pending *pd = pending_get(tid);

				if (pd && (pd->ksys == KS_EXIT || pd->ksys == KS_EXIT_GROUP)) {
					r->hdr.syscall = pd->ksys;
					if (pd->compat)
						r->hdr.flags |= REC_F_COMPAT;
				}
			}
			bpf_ringbuf_submit(r, submit_flags());
		}
		count(REC_PROC_EXIT, !r);
	}
	{
		/* A task that dies inside a syscall never reaches its exit: forget the entry
		 * (task storage goes with the task). */
		__u32 tid = BPF_CORE_READ(p, pid);

		if (!task_storage)
			bpf_map_delete_elem(&pending, &tid);
	}

	if (target_mode && (flags & EXIT_F_GROUP_DEAD))
		bpf_map_delete_elem(&targets, &tgid);
	return 0;
}

/* ---- syscalls: arguments at entry, everything else at exit ---- */

struct inode___v66 {
	struct timespec64 i_atime;
	struct timespec64 i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___v67 {
	struct timespec64 __i_atime;
	struct timespec64 __i_mtime;
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___old {
	struct timespec64 i_atime;
	struct timespec64 i_mtime;
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

static __always_inline __s64 ts_ns(struct timespec64 t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Room to copy a struct inode into: one read instead of a read per field. */
#define INODE_COPY_MAX 2048

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, char[INODE_COPY_MAX]);
} inode_copy SEC(".maps");

/*
 * The inode times moved three times between 6.5 and 6.11: CO-RE picks what exists. `i`
 * points at a copy of the inode in map memory, so these are plain loads.
 */
/* include/linux/fs.h: the change time's nanoseconds were read since it last changed. */
#define I_CTIME_QUERIED (1U << 31)

static __always_inline void inode_times(const struct inode *i, struct kl_inode *out)
{
	if (bpf_core_field_exists(i->i_atime_sec)) {
		out->atime_ns = i->i_atime_sec * 1000000000LL + i->i_atime_nsec;
		out->mtime_ns = i->i_mtime_sec * 1000000000LL + i->i_mtime_nsec;
		/* Multigrain timestamps (6.13+) keep a flag in the top bit of the change time's
		 * nanoseconds (I_CTIME_QUERIED): not part of the time. */
		out->ctime_ns = i->i_ctime_sec * 1000000000LL + (i->i_ctime_nsec & ~I_CTIME_QUERIED);
	} else if (bpf_core_field_exists(((struct inode___v67 *)i)->__i_atime)) {
		const struct inode___v67 *v = (const void *)i;

		out->atime_ns = ts_ns(v->__i_atime);
		out->mtime_ns = ts_ns(v->__i_mtime);
		out->ctime_ns = ts_ns(v->__i_ctime);
	} else if (bpf_core_field_exists(((struct inode___v66 *)i)->__i_ctime)) {
		const struct inode___v66 *v = (const void *)i;

		out->atime_ns = ts_ns(v->i_atime);
		out->mtime_ns = ts_ns(v->i_mtime);
		out->ctime_ns = ts_ns(v->__i_ctime);
	} else {
		const struct inode___old *v = (const void *)i;

		out->atime_ns = ts_ns(v->i_atime);
		out->mtime_ns = ts_ns(v->i_mtime);
		out->ctime_ns = ts_ns(v->i_ctime);
	}
}

/* The struct file behind one of the current task's fds, or NULL. */
static __always_inline struct file *fd_file(__s64 fd)
{
	struct task_struct *task = current_task();
	/* BTF pointers: plain loads (a fault reads 0), no helper call per step. */
	struct fdtable *fdt = task->files->fdt;
	struct file **fds;
	struct file *f = NULL;

	if (!fdt || fd < 0 || fd >= fdt->max_fds)
		return NULL;
	fds = fdt->fd;
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

/* Bytes of struct inode from its start to the end of its change time: every field
 * read_inode reads lies there (mode, ids, sb, ino, nlink, size, the three times), on every
 * layout inode_times knows. Copying them rather than the whole inode (some 600 bytes) is
 * most of what reading an inode costs. */
static __always_inline __u32 inode_copy_len(void)
{
	struct inode *i = NULL;

	if (bpf_core_field_exists(i->i_ctime_nsec))
		return bpf_core_field_offset(struct inode, i_ctime_nsec) + sizeof(__u32);
	if (bpf_core_field_exists(((struct inode___v67 *)i)->__i_ctime))
		return bpf_core_field_offset(struct inode___v67, __i_ctime) +
		       sizeof(struct timespec64);
	if (bpf_core_field_exists(((struct inode___v66 *)i)->__i_ctime))
		return bpf_core_field_offset(struct inode___v66, __i_ctime) +
		       sizeof(struct timespec64);
	return bpf_core_field_offset(struct inode___old, i_ctime) + sizeof(struct timespec64);
}

static __always_inline bool read_inode(struct file *f, struct kl_inode *out)
{
	struct inode *inode;
	const struct inode *i;
	__u32 zero = 0, size = inode_copy_len();
	void *copy;

	if (!f)
		return false;
	if (bpf_ksym_exists(bpf_rdonly_cast)) {
		/* Kernels with bpf_rdonly_cast (6.2+): the file and its inode as BTF pointers,
		 * read by plain loads (a fault reads 0), with no helper call and no copy. */
		struct file *bf = bpf_core_cast(f, struct file);
		struct inode *ip = bf->f_inode;

		if (!ip)
			return false;
		out->ino = ip->i_ino;
		out->size = ip->i_size;
		out->dev = ip->i_sb->s_dev;
		out->mode = ip->i_mode;
		out->uid = ip->i_uid.val;
		out->gid = ip->i_gid.val;
		out->nlink = ip->__i_nlink;
		out->fmode = bf->f_mode;
		inode_times(ip, out);
		return true;
	}
	inode = BPF_CORE_READ(f, f_inode);
	copy = bpf_map_lookup_elem(&inode_copy, &zero);
	if (!inode || !copy || size >= INODE_COPY_MAX)
		return false;
	if (bpf_probe_read_kernel(copy, size & (INODE_COPY_MAX - 1), inode))
		return false;
	i = copy;
	out->ino = i->i_ino;
	out->size = i->i_size;
	out->dev = BPF_CORE_READ(i->i_sb, s_dev);
	out->mode = i->i_mode;
	out->uid = i->i_uid.val;
	out->gid = i->i_gid.val;
	out->nlink = i->__i_nlink;
	out->fmode = BPF_CORE_READ(f, f_mode);
	inode_times(i, out);
	return true;
}

/* Reads a kernel-filled stat/statx buffer into the arch-neutral struct kl_inode (fmode 0). */
static __always_inline bool read_stat(__u8 kind, const void *ptr, struct kl_inode *out)
{
	if (!ptr)
		return false;
	out->fmode = 0;
	if (kind == O_STAT) {
		const struct stat *st = ptr;

		out->ino = BPF_CORE_READ_USER(st, st_ino);
		out->size = BPF_CORE_READ_USER(st, st_size);
		out->dev = BPF_CORE_READ_USER(st, st_dev);
		out->mode = BPF_CORE_READ_USER(st, st_mode);
		out->uid = BPF_CORE_READ_USER(st, st_uid);
		out->gid = BPF_CORE_READ_USER(st, st_gid);
		out->nlink = BPF_CORE_READ_USER(st, st_nlink);
		out->atime_ns = BPF_CORE_READ_USER(st, st_atime) * 1000000000LL +
				BPF_CORE_READ_USER(st, st_atime_nsec);
		out->mtime_ns = BPF_CORE_READ_USER(st, st_mtime) * 1000000000LL +
				BPF_CORE_READ_USER(st, st_mtime_nsec);
		out->ctime_ns = BPF_CORE_READ_USER(st, st_ctime) * 1000000000LL +
				BPF_CORE_READ_USER(st, st_ctime_nsec);
		/* The user-visible dev_t is the "huge" encoding: back to the kernel's. */
		{
			__u64 d = out->dev;
			__u32 major = ((d >> 32) & 0xfffff000) | ((d >> 8) & 0xfff);
			__u32 minor = ((d >> 12) & 0xffffff00) | (d & 0xff);

			out->dev = (major << 20) | minor;
		}
		return true;
	}
	if (kind == O_STATX) {
		const struct statx *st = ptr;

		out->ino = BPF_CORE_READ_USER(st, stx_ino);
		out->size = BPF_CORE_READ_USER(st, stx_size);
		out->dev = (BPF_CORE_READ_USER(st, stx_dev_major) << 20) |
			   BPF_CORE_READ_USER(st, stx_dev_minor);
		out->mode = BPF_CORE_READ_USER(st, stx_mode);
		out->uid = BPF_CORE_READ_USER(st, stx_uid);
		out->gid = BPF_CORE_READ_USER(st, stx_gid);
		out->nlink = BPF_CORE_READ_USER(st, stx_nlink);
		out->atime_ns = BPF_CORE_READ_USER(st, stx_atime.tv_sec) * 1000000000LL +
				BPF_CORE_READ_USER(st, stx_atime.tv_nsec);
		out->mtime_ns = BPF_CORE_READ_USER(st, stx_mtime.tv_sec) * 1000000000LL +
				BPF_CORE_READ_USER(st, stx_mtime.tv_nsec);
		out->ctime_ns = BPF_CORE_READ_USER(st, stx_ctime.tv_sec) * 1000000000LL +
				BPF_CORE_READ_USER(st, stx_ctime.tv_nsec);
		return true;
	}
	return false;
}


#define AF_UNIX 1
#define AF_INET 2
#define AF_INET6 10
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define SOCK_DGRAM 2
#define S_IFMT 00170000
#define S_IFSOCK 0140000

/* A socket's id: its address as a number (read back from the stack: the verifier allows
 * no arithmetic on a trusted pointer), scrambled with a per-recording key. */
static __always_inline __u64 sk_ident(struct sock *sk)
{
	__u64 v = 0;

	bpf_probe_read_kernel(&v, sizeof(v), &sk);
	return v ^ sk_key;
}

/* The identity of a socket, and whether its payloads are captured. */
static __always_inline void read_sock(struct sock *sk, struct kl_sock *out)
{
	__u32 key;
	__u8 *app;

	out->sk_id = sk_ident(sk);
	out->family = BPF_CORE_READ(sk, __sk_common.skc_family);
	out->protocol = BPF_CORE_READ(sk, sk_protocol);
	out->type = BPF_CORE_READ(sk, sk_type);
	out->state = BPF_CORE_READ(sk, __sk_common.skc_state);
	out->lport = BPF_CORE_READ(sk, __sk_common.skc_num);
	out->rport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (bpf_core_field_exists(sk->sk_rx_dst_ifindex))
		out->ifindex = BPF_CORE_READ(sk, sk_rx_dst_ifindex);
	if (!out->ifindex)
		out->ifindex = BPF_CORE_READ(sk, __sk_common.skc_bound_dev_if);
	if (out->family == AF_INET) {
		__u32 l = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
		__u32 r = BPF_CORE_READ(sk, __sk_common.skc_daddr);

		__builtin_memcpy(out->laddr, &l, 4);
		__builtin_memcpy(out->raddr, &r, 4);
	} else if (out->family == AF_INET6) {
		BPF_CORE_READ_INTO(&out->laddr, sk, __sk_common.skc_v6_rcv_saddr.in6_u.u6_addr8);
		BPF_CORE_READ_INTO(&out->raddr, sk, __sk_common.skc_v6_daddr.in6_u.u6_addr8);
	}
	out->app = 0;
	if (out->protocol == IPPROTO_TCP || out->protocol == IPPROTO_UDP) {
		key = ((__u32)out->protocol << 16) | out->lport;
		app = bpf_map_lookup_elem(&ports, &key);
		if (!app) {
			key = ((__u32)out->protocol << 16) | out->rport;
			app = bpf_map_lookup_elem(&ports, &key);
		}
		if (app)
			out->app = *app;
	} else if (out->family == AF_UNIX && out->type == SOCK_DGRAM && unix_syslog) {
		out->app = APP_SYSLOG;
	}
}

/* The struct sock behind a file, if the file is a socket. */
static __always_inline struct sock *file_sock(struct file *f)
{
	struct socket *sock;
	__u32 mode;

	if (!f)
		return NULL;
	mode = BPF_CORE_READ(f, f_inode, i_mode);
	if ((mode & S_IFMT) != S_IFSOCK)
		return NULL;
	sock = BPF_CORE_READ(f, private_data);
	return sock ? BPF_CORE_READ(sock, sk) : NULL;
}

static __always_inline void read_tcp(struct sock *sk, struct kl_tcp *out)
{
	struct tcp_sock *tp = (struct tcp_sock *)sk;

	out->bytes_received = BPF_CORE_READ(tp, bytes_received);
	out->bytes_acked = BPF_CORE_READ(tp, bytes_acked);
	out->bytes_sent = BPF_CORE_READ(tp, bytes_sent);
	out->bytes_retrans = BPF_CORE_READ(tp, bytes_retrans);
	out->segs_in = BPF_CORE_READ(tp, segs_in);
	out->segs_out = BPF_CORE_READ(tp, segs_out);
	out->data_segs_in = BPF_CORE_READ(tp, data_segs_in);
	out->data_segs_out = BPF_CORE_READ(tp, data_segs_out);
	out->total_retrans = BPF_CORE_READ(tp, total_retrans);
	out->srtt_us = BPF_CORE_READ(tp, srtt_us) >> 3;
	/* In jiffies: the recorder stores the kernel's HZ beside the records. */
	out->rto_jiffies = BPF_CORE_READ(tp, inet_conn.icsk_rto);
}

/* ---- Per-socket packet counters (REC_SOCK_COUNTERS): aggregated here, never a record
 * per packet ---- */

/* The addresses and ports of a packet, seen from the socket's end: 40 bytes. IPv4
 * addresses in the first 4 bytes. A UDP socket is also found by its local port alone (the
 * other fields 0). */
struct pkt_tuple {
	__u8 laddr[16];
	__u8 raddr[16];
	__u16 lport;
	__u16 rport;
	__u8 proto;
	__u8 _pad[3];
};

/* A counted socket. */
struct pkt_sock {
	struct kl_pkt_counters c;
	struct pkt_tuple tuple; /* its addresses and ports in pkt_tuples, once tuple_set */
	struct pkt_tuple wild;	/* UDP: its local port in pkt_tuples, once wild_set */
	__u8 tuple_set;
	__u8 wild_set;
	__u8 _pad[6];
};

#define PKT_SOCKS_MAX 16384

/* The sockets whose packets are counted, by socket id (sk_ident): those of the recorded
 * processes (system-wide: all but the recorder's). Full: a socket goes uncounted
 * (KL_STAT_SOCK_TABLE_FULL). Freed when the socket is gone. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PKT_SOCKS_MAX);
	__type(key, __u64);
	__type(value, struct pkt_sock);
} pkt_socks SEC(".maps");

/* The counted sockets by their packets' addresses and ports: value the socket id. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2 * PKT_SOCKS_MAX);
	__type(key, struct pkt_tuple);
	__type(value, __u64);
} pkt_tuples SEC(".maps");

/* IPv4 packets being received in fragments, by source, destination, id and protocol:
 * value the socket id its first fragment was found for. */
struct pkt_frag {
	__u32 saddr;
	__u32 daddr;
	__u16 id;
	__u8 proto;
	__u8 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, struct pkt_frag);
	__type(value, __u64);
} pkt_frags SEC(".maps");

struct rec_sock_counters _rec_sock_counters = {};

/* A new entry of pkt_socks (in .bss: too big for the stack of the syscall path). */
struct pkt_sock pkt_zero = {};

/* Set by user space before load: 1 counts packets per socket (kellect record -e packets). */
const volatile __u8 pkt_counting = 0;

/* Puts socket `id` in pkt_tuples under `t` (once per socket: *set). */
static __always_inline void pkt_register(__u64 id, struct pkt_tuple *t, __u8 *set)
{
	if (*set)
		return;
	if (bpf_map_update_elem(&pkt_tuples, t, &id, BPF_ANY) == 0)
		*set = 1;
}

/* An address of a socket as packets carry it: an IPv4-mapped IPv6 address (::ffff:a.b.c.d,
 * a dual-stack socket talking IPv4) as its IPv4 address. No stack: the syscall path has
 * none to spare. */
static __always_inline void pkt_addr(__u32 *dst, const __u32 *src, __u16 family)
{
	if (family == AF_INET6 && src[0] == 0 && src[1] == 0 && src[2] == bpf_htonl(0xffff)) {
		dst[0] = src[3];
		dst[1] = 0;
		dst[2] = 0;
		dst[3] = 0;
	} else {
		dst[0] = src[0];
		dst[1] = src[1];
		dst[2] = src[2];
		dst[3] = src[3];
	}
}

/*
 * Starts counting the packets of the socket whose identity `so` was read: an entry in
 * pkt_socks; a connected TCP socket's addresses and ports, a bound UDP socket's local port,
 * in pkt_tuples (else the first packet it sends puts them there). A socket already counted
 * costs one lookup.
 */
static __always_inline void pkt_track(const struct kl_sock *so)
{
	struct pkt_sock *e;
	__u64 id = so->sk_id;

	if (!pkt_counting)
		return;
	e = bpf_map_lookup_elem(&pkt_socks, &id);
	if (!e) {
		if (bpf_map_update_elem(&pkt_socks, &id, &pkt_zero, BPF_NOEXIST) == -7 /* E2BIG */)
			count(KL_STAT_SOCK_TABLE_FULL, true);
		e = bpf_map_lookup_elem(&pkt_socks, &id);
		if (!e)
			return;
	}
	if (!so->lport)
		return;
	if (so->protocol == IPPROTO_UDP && !e->wild_set) {
		e->wild.lport = so->lport;
		e->wild.proto = IPPROTO_UDP;
		pkt_register(id, &e->wild, &e->wild_set);
	}
	if (so->protocol == IPPROTO_TCP && so->rport && !e->tuple_set &&
	    (so->family == AF_INET || so->family == AF_INET6)) {
		pkt_addr((__u32 *)e->tuple.laddr, (const __u32 *)so->laddr, so->family);
		pkt_addr((__u32 *)e->tuple.raddr, (const __u32 *)so->raddr, so->family);
		e->tuple.lport = so->lport;
		e->tuple.rport = so->rport;
		e->tuple.proto = IPPROTO_TCP;
		pkt_register(id, &e->tuple, &e->tuple_set);
	}
}

/* Adds one packet of reason `want` to a socket's drop slots. Two new reasons of one socket
 * at the same instant on two CPUs may, rarely, share a slot (no compare-and-swap: the
 * programs are built for BPF ISA v1). */
static __always_inline void add_drop(struct kl_pkt_counters *c, __u32 want)
{
	int i;

#pragma unroll
	for (i = 0; i < KL_DROP_SLOTS; i++) {
		if (c->drops[i].reason == 0) {
			c->drops[i].reason = want;
			barrier();
		}
		if (c->drops[i].reason == want) {
			__sync_fetch_and_add(&c->drops[i].count, 1);
			return;
		}
	}
	__sync_fetch_and_add(&c->drops_other, 1);
}

/* Local ports on which a counted socket listens (TCP_LISTEN): a connection it accepts is
 * counted from its creation (TCP_SYN_RECV), before accept() returns it to the recorded
 * process. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u8);
} pkt_listen SEC(".maps");

/* Removes a socket's entries (pkt_socks, pkt_tuples). */
static __always_inline void pkt_forget(__u64 id, struct pkt_sock *e)
{
	if (e->tuple_set)
		bpf_map_delete_elem(&pkt_tuples, &e->tuple);
	if (e->wild_set) {
		__u64 *owner = bpf_map_lookup_elem(&pkt_tuples, &e->wild);

		if (owner && *owner == id)
			bpf_map_delete_elem(&pkt_tuples, &e->wild);
	}
	bpf_map_delete_elem(&pkt_socks, &id);
}

/* A socket's drop count: sk_drops, plus the per-NUMA-node counters of UDP sockets (6.18's
 * struct numa_drop_counters), as the kernel's sk_drops_read sums them. */
static __always_inline __u32 sk_drops_now(struct sock *sk)
{
	__u32 n = BPF_CORE_READ(sk, sk_drops.counter);

	if (bpf_core_field_exists(sk->sk_drop_counters)) {
		struct numa_drop_counters *d = BPF_CORE_READ(sk, sk_drop_counters);

		if (d)
			n += BPF_CORE_READ(d, drops0.counter) + BPF_CORE_READ(d, drops1.counter);
	}
	return n;
}

/* Writes a REC_SOCK_COUNTERS record of socket `sk` (id `id`, counters `e`), at `ts`. */
static __always_inline void pkt_write(struct sock *sk, struct pkt_sock *e, __u8 reason, __u64 ts)
{
	struct rec_sock_counters *r;

	if (stopping)
		return;
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(REC_SOCK_COUNTERS, true);
		return;
	}
	fill_hdr(&r->hdr, REC_SOCK_COUNTERS, sizeof(*r), ts);
	__builtin_memset(&r->sock, 0, sizeof(r->sock));
	read_sock(sk, &r->sock);
	r->reason = reason;
	__builtin_memset(r->_pad, 0, sizeof(r->_pad));
	if (bpf_probe_read_kernel(&r->pkt, sizeof(r->pkt), &e->c))
		__builtin_memset(&r->pkt, 0, sizeof(r->pkt));
	r->pkt.rx_drops = sk_drops_now(sk);
	r->pkt.rx_queued = BPF_CORE_READ(sk, sk_receive_queue.qlen);
	if (r->sock.protocol == IPPROTO_TCP) {
		struct tcp_sock *tp = (struct tcp_sock *)sk;

		r->pkt.rx_ooo = BPF_CORE_READ(tp, rcv_ooopack);
		r->pkt.tx_dups = BPF_CORE_READ(tp, dsack_dups);
	} else {
		r->pkt.rx_ooo = 0;
		r->pkt.tx_dups = 0;
	}
	bpf_ringbuf_submit(r, submit_flags());
	count(REC_SOCK_COUNTERS, false);
}

static __always_inline __u64 arg(const struct pending *p, __u8 idx1)
{
	/* idx1 is an argument index plus one, 1..6 */
	switch (idx1) {
	case 1: return p->args[0];
	case 2: return p->args[1];
	case 3: return p->args[2];
	case 4: return p->args[3];
	case 5: return p->args[4];
	default: return p->args[5];
	}
}

/* x86's TS_COMPAT (arch/x86/include/asm/thread_info.h), arm64's TIF_32BIT. */
#define KL_TS_COMPAT 0x0002
#define KL_TIF_32BIT 22

/*
 * Is the current syscall a 32-bit one? x86_64: the kernel's in_ia32_syscall(), the
 * TS_COMPAT bit of thread_info.status, set at 32-bit entry and cleared on the way back to
 * user space. arm64: an AArch32 task (is_compat_task(), TIF_32BIT in thread_info.flags);
 * its syscalls are never decoded (there is no arm32 table), only not taken as native.
 */
static __always_inline bool compat_syscall(void)
{
	struct task_struct *task = current_task();

	/* A BTF pointer to the current task: plain loads (CO-RE relocated), no helper call,
	 * since this runs for every syscall. */
#if defined(__TARGET_ARCH_arm64)
	return task->thread_info.flags & (1UL << KL_TIF_32BIT);
#else
	if (!bpf_core_field_exists(task->thread_info.status))
		return false;
	return task->thread_info.status & KL_TS_COMPAT;
#endif
}

#if !defined(__TARGET_ARCH_arm64)
/*
 * i386's socketcall(call, args): the call's arguments, an array of 32-bit values in user
 * memory, into p->args (read at entry, as the kernel does); returns the call's capture or
 * NULL when the call is not recorded (or its arguments cannot be read).
 */
static __always_inline struct sc_desc *socketcall_entry(struct pt_regs *regs, struct pending *p)
{
	__u32 call = (__u32)regs->bx, key, v[8] = {};
	const void *args = (const void *)(unsigned long)(__u32)regs->cx;
	struct sc_desc *d;
	__u32 len;

	if (call == 0 || call > SOCKETCALL_MAX)
		return NULL;
	key = COMPAT_BASE + SOCKETCALL_BASE + call;
	d = bpf_map_lookup_elem(&syscalls, &key);
	if (!d || !d->ksys)
		return NULL;
	/* At most 6 arguments (24 bytes); the mask is a bound the verifier can see. */
	len = socketcall_nargs(call) * sizeof(__u32);
	barrier_var(len);
	len &= sizeof(v) - 1;
	if (bpf_probe_read_user(v, len, args))
		return NULL;
	for (int i = 0; i < 6; i++)
		p->args[i] = v[i];
	p->nr = key;
	return d;
}
#endif

/* Whether a prctl option is one that is recorded (enum kl_prctl). */
static __always_inline bool prctl_recorded(__u64 option)
{
	switch (option) {
	case KL_PR_SET_DUMPABLE:
	case KL_PR_SET_KEEPCAPS:
	case KL_PR_SET_NAME:
	case KL_PR_SET_SECCOMP:
	case KL_PR_CAPBSET_DROP:
	case KL_PR_SET_SECUREBITS:
	case KL_PR_SET_MM:
	case KL_PR_SET_CHILD_SUBREAPER:
	case KL_PR_SET_NO_NEW_PRIVS:
	case KL_PR_CAP_AMBIENT:
	case KL_PR_SET_SYSCALL_USER_DISPATCH:
	case KL_PR_SET_MDWE:
	case KL_PR_SET_PTRACER:
		return true;
	}
	return false;
}

/* A 16-bit id of the old i386 set*id calls as the kernel widens it (low2highuid). */
static __always_inline __u64 uid16(__u64 v)
{
	return (__u16)v == 0xffff ? 0xffffffff : (__u16)v;
}

/*
 * Whether a syscall needs its entry recorded (the "pending" map, written by on_sys_enter):
 * when other programs look the entry up or the call replaces its registers (fork, vfork,
 * clone, clone3: on_fork reads the clone flags; exit, exit_group: on_exit; execve,
 * execveat: a successful exec replaces the registers, and argv[0] is read at entry), when
 * what the caller passed is read before the kernel acts on it (O_TIMESPEC2 ..
 * O_XATTR_ARGS), connect (in target mode its socket is marked before its first state
 * change), and every 32-bit syscall (arguments widened, joined or read from memory at
 * entry). The others are recorded at exit alone: their arguments are the saved user
 * registers, which the kernel leaves as they were at entry.
 */
static __always_inline bool needs_entry(const struct sc_desc *d, bool compat)
{
	return compat || (d->flags & (D_CONTEXT | D_FAILURE_ONLY)) ||
	       (d->out_kind >= O_TIMESPEC2 && d->out_kind <= O_XATTR_ARGS) || d->ksys == KS_CONNECT;
}

/* The six arguments of a native syscall from its saved registers (a BTF pointer: plain
 * loads, no helper call per argument). */
static __always_inline void native_args(struct pt_regs *regs, __u64 *args)
{
	args[0] = PT_REGS_PARM1_SYSCALL(regs);
	args[1] = PT_REGS_PARM2_SYSCALL(regs);
	args[2] = PT_REGS_PARM3_SYSCALL(regs);
	args[3] = PT_REGS_PARM4_SYSCALL(regs);
	args[4] = PT_REGS_PARM5_SYSCALL(regs);
	args[5] = PT_REGS_PARM6_SYSCALL(regs);
}

/* Whether a call of the catalogue is left out by its arguments (fcntl other than F_DUPFD
 * and F_DUPFD_CLOEXEC, prctl options and bpf commands not recorded). */
static __always_inline bool args_filtered(const struct sc_desc *d, const __u64 *args)
{
	if ((d->flags & D_FCNTL_DUP) && args[1] != 0 /* F_DUPFD */ &&
	    args[1] != 1030 /* F_DUPFD_CLOEXEC */)
		return true;
	if (d->ksys == KS_PRCTL && !prctl_recorded(args[0]))
		return true;
	if (d->ksys == KS_BPF && (args[0] >= 64 || !((KL_BPF_CMDS >> args[0]) & 1)))
		return true;
	return false;
}

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct sc_desc *d;
	struct pending p = {};
	__u32 nr = id, tid;
	__u64 pid_tgid;
	bool compat;

	if (id < 0 || id >= NR_SYSCALLS)
		return 0;
	compat = compat_syscall();
#if defined(__TARGET_ARCH_arm64)
	if (compat)
		return 0; /* an AArch32 number: never looked up in the native table */
#endif
	p.nr = compat ? COMPAT_BASE + nr : nr;
#if !defined(__TARGET_ARCH_arm64)
	if (compat && nr == I386_SOCKETCALL)
		d = socketcall_entry(regs, &p);
	else
#endif
		d = bpf_map_lookup_elem(&syscalls, &p.nr);
	if (!d || !d->ksys || !(d->group & group_mask) || !needs_entry(d, compat))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!is_target(pid_tgid >> 32))
		return 0;

	/* regs is a BTF pointer here: plain loads, no helper call per argument. */
#if !defined(__TARGET_ARCH_arm64)
	if (compat && nr == I386_SOCKETCALL) {
		/* socketcall: the arguments were read from its array. */
		p.compat = 1;
	} else if (compat) {
		/* The i386 syscall registers; the kernel reads their low 32 bits. */
		p.args[0] = (__u32)regs->bx;
		p.args[1] = (__u32)regs->cx;
		p.args[2] = (__u32)regs->dx;
		p.args[3] = (__u32)regs->si;
		p.args[4] = (__u32)regs->di;
		p.args[5] = (__u32)regs->bp;
		p.compat = 1;
		if (d->flags & D_UID16) {
			p.args[0] = uid16(p.args[0]);
			p.args[1] = uid16(p.args[1]);
			p.args[2] = uid16(p.args[2]);
		}
		if (d->flags & D_PGOFF)
			p.args[5] <<= 12;
		if (d->flags & D_SPLIT64_2)
			p.args[1] |= p.args[2] << 32;
		if (d->flags & D_SPLIT64_4)
			p.args[3] |= p.args[4] << 32;
	} else
#endif
	{
		native_args(regs, p.args);
	}
	if (args_filtered(d, p.args))
		return 0;
	if (d->out_kind >= O_TIMESPEC2 && d->out_kind <= O_XATTR_ARGS) {
		/* What the caller asked for, read before the kernel acts on it (another
		 * thread may change the memory while the syscall runs). */
		const void *ptr = (const void *)arg(&p, d->out_arg);
		bool small = d->out_kind == O_UTIMBUF || d->out_kind == O_XATTR_ARGS;

		/* A NULL pointer (utimensat's "now") leaves out_len 0. */
		if (ptr && small && bpf_probe_read_user(p.out, 16, ptr) == 0)
			p.out_len = 16;
		else if (ptr && !small && bpf_probe_read_user(p.out, 32, ptr) == 0)
			p.out_len = 32;
	}
	p.ts = bpf_ktime_get_boot_ns();
	p.ksys = d->ksys;
	tid = (__u32)pid_tgid;
	if (pending_put(tid, &p))
		count(REC_SYSCALL, true);
	if (p.ksys == KS_EXECVE || p.ksys == KS_EXECVEAT)
		save_argv0(tid, p.ksys == KS_EXECVE ? p.args[1] : p.args[2], p.compat);
	if (target_mode && p.ksys == KS_CONNECT) {
		/* The connection's first state changes happen inside connect: mark the
		 * socket as the target's before they do. */
		struct sock *sk = file_sock(fd_file((__s32)p.args[0]));

		if (sk) {
			__u64 id = sk_ident(sk);
			__u8 one = 1;

			bpf_map_update_elem(&socks, &id, &one, BPF_ANY);
		}
	}
	return 0;
}

/* Tail capacity of a syscall record with `paths` path strings. */
/* Room for addr, out, inode, sock and payload, plus slack for the verifier's coarse
 * offset bounds. */
#define SC_TAIL_FIXED                                                                    \
	(KL_ADDR_MAX * 4 + sizeof(struct kl_inode) * 2 + sizeof(struct kl_sock) * 2 +   \
	 KL_PAYLOAD_MAX * 2)
#define SC_RESERVE(paths) (sizeof(struct rec_syscall) + (paths) * KL_PATH_MAX + SC_TAIL_FIXED)


/* Buffers of vectored I/O whose data is captured (of each message of sendmmsg/recvmmsg). */
#define KL_IOV_MAX 4

/* One message's part in the data section of sendmmsg/recvmmsg, at most. */
/* Room for a message's address: KL_MMSG_ADDR_MAX rounded up to the mask (31) the verifier
 * sees on its length. */
#define KL_MMSG_ADDR_ROOM 32
#define KL_MMSG_PART_MAX (sizeof(struct kl_mmsg_part) + KL_MMSG_ADDR_ROOM + KL_PAYLOAD_MAX)
/* The data section of sendmmsg/recvmmsg, at most: KL_MMSG_MAX parts. */
#define KL_MMSG_DATA_MAX (KL_MMSG_MAX * KL_MMSG_PART_MAX)

/* Per-CPU room to gather a payload in (several iovecs) before it goes into a record. */
struct payload_scratch {
	char data[KL_PAYLOAD_MAX * 2]; /* twice the payload: room for the verifier's bounds */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct payload_scratch);
} scratch SEC(".maps");

/*
 * Gathers the start of a socket message into this CPU's scratch buffer, across the first
 * iovecs of vectored I/O (`kind` P_IOV, `count` iovecs; P_MSG: a struct user_msghdr's),
 * up to `total` bytes; returns the bytes gathered.
 *
 * A global function: the verifier checks it once, on its own, instead of once per path
 * through the syscall record code that calls it.
 */
__noinline int gather_payload(__u64 buf, __u64 count, __u32 kind, __u64 total)
{
	__u32 zero = 0, got = 0;
	struct payload_scratch *sc = bpf_map_lookup_elem(&scratch, &zero);
	struct iovec *iov;
	__u64 niov;

	if (!sc || !buf)
		return 0;
	if (kind == P_BUF) {
		if (total > KL_PAYLOAD_MAX - 1)
			total = KL_PAYLOAD_MAX - 1;
		if (bpf_probe_read_user(sc->data, total & (KL_PAYLOAD_MAX - 1), (const void *)buf))
			return 0;
		return total & (KL_PAYLOAD_MAX - 1);
	}
	if (kind == P_IOV) {
		iov = (struct iovec *)buf;
		niov = count;
	} else {
		struct user_msghdr *m = (struct user_msghdr *)buf;

		iov = BPF_CORE_READ_USER(m, msg_iov);
		niov = BPF_CORE_READ_USER(m, msg_iovlen);
	}
	if (!iov)
		return 0;
	if (total > KL_PAYLOAD_MAX - 1)
		total = KL_PAYLOAD_MAX - 1;
	for (int i = 0; i < KL_IOV_MAX; i++) {
		const void *base;
		__u64 len;

		if (i >= niov || got >= total)
			break;
		base = BPF_CORE_READ_USER(&iov[i], iov_base);
		len = BPF_CORE_READ_USER(&iov[i], iov_len);
		if (len > total - got)
			len = total - got;
		if (got >= KL_PAYLOAD_MAX || len > KL_PAYLOAD_MAX - got)
			break;
		if (!base || len == 0 ||
		    bpf_probe_read_user(sc->data + (got & (KL_PAYLOAD_MAX - 1)),
					len & (KL_PAYLOAD_MAX - 1), base))
			break;
		got += len;
	}
	return got;
}

/* Per-CPU room to build the data section of a sendmmsg/recvmmsg record in. */
struct mmsg_scratch {
	char data[KL_MMSG_DATA_MAX];
	__u32 bytes; /* msg_len of the parts, summed */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct mmsg_scratch);
} mmsg_scratch SEC(".maps");

/*
 * Writes the header of one message's part at `at` in this CPU's mmsg_scratch: its
 * struct kl_mmsg_part (msg_len of the struct mmsghdr at `hdr`, data_len 0) and its peer
 * address after it (msg_hdr.msg_name, at most KL_MMSG_ADDR_MAX of msg_namelen bytes: after
 * recvmmsg the sender's, as the kernel wrote it), and adds msg_len to the scratch's bytes.
 * Returns the address's length, 0 when there is none or it cannot be read.
 *
 * A global function: the verifier checks it once, on its own, and its result is one
 * unknown scalar to the caller's loop (few states). Its values are read through the
 * scratch, not the stack: it is in on_sys_exit's deepest call chain, whose frames together
 * must stay within 512 bytes.
 */
__noinline int gather_mmsg_part(__u64 hdr, __u32 at)
{
	__u32 zero = 0;
	struct mmsg_scratch *ms = bpf_map_lookup_elem(&mmsg_scratch, &zero);
	struct mmsghdr *h = (struct mmsghdr *)hdr;
	struct kl_mmsg_part *part;
	const void *name;
	__u32 len;

	if (!ms || !h || at > KL_MMSG_DATA_MAX - KL_MMSG_PART_MAX)
		return 0;
	/* Below the check already: a mask the verifier keeps, where the compiler may drop
	 * the comparison's bound (the barrier keeps the compiler from proving it useless). */
	barrier_var(at);
	at &= 0x3fff;
	part = (struct kl_mmsg_part *)&ms->data[at];
	/* msg_name and msg_namelen open struct user_msghdr, which opens struct mmsghdr. */
	if (bpf_probe_read_user(&ms->data[at + sizeof(*part)], 12, h))
		__builtin_memset(&ms->data[at + sizeof(*part)], 0, 12);
	name = *(const void **)&ms->data[at + sizeof(*part)];
	len = *(__u32 *)&ms->data[at + sizeof(*part) + 8];
	if (bpf_core_read_user(&part->msg_len, sizeof(part->msg_len), &h->msg_len))
		part->msg_len = 0;
	part->data_len = 0;
	ms->bytes += part->msg_len;
	if (len > KL_MMSG_ADDR_MAX)
		len = KL_MMSG_ADDR_MAX;
	barrier_var(len);
	len &= KL_MMSG_ADDR_ROOM - 1;
	if (!name || len == 0 ||
	    bpf_probe_read_user(&ms->data[at + sizeof(*part)], len, name))
		len = 0;
	part->addr_len = len;
	return len;
}

/*
 * Builds the data section of a sendmmsg/recvmmsg record in this CPU's mmsg_scratch: for
 * each of the first `count` (at most KL_MMSG_MAX) struct mmsghdr at `vec`, a struct
 * kl_mmsg_part, its peer address and the start of the message, at most `cap` bytes (0:
 * lengths only). Returns the section's length.
 *
 * A global function: the verifier checks it once, on its own.
 */
__noinline int gather_mmsg(__u64 vec, __u64 count, __u64 cap)
{
	__u32 zero = 0, pos = 0;
	struct mmsg_scratch *ms = bpf_map_lookup_elem(&mmsg_scratch, &zero);
	struct payload_scratch *sc;
	struct mmsghdr *v = (struct mmsghdr *)vec;

	if (!ms || !v)
		return 0;
	ms->bytes = 0;
	for (int i = 0; i < KL_MMSG_MAX; i++) {
		struct kl_mmsg_part *part;
		__u32 len = 0, alen, msg_len;
		int n;

		if (i >= count || pos > (KL_MMSG_MAX - 1) * KL_MMSG_PART_MAX)
			break;
		alen = gather_mmsg_part((__u64)&v[i], pos) & (KL_MMSG_ADDR_ROOM - 1);
		part = (struct kl_mmsg_part *)&ms->data[pos];
		msg_len = part->msg_len;
		if (cap && msg_len) {
			/* The message header opens struct mmsghdr. */
			n = gather_payload((__u64)&v[i], 0, P_MSG, msg_len < cap ? msg_len : cap);
			len = n > 0 ? n : 0;
		}
		len &= KL_PAYLOAD_MAX - 1;
		sc = bpf_map_lookup_elem(&scratch, &zero);
		if (len && (!sc || bpf_probe_read_kernel(&ms->data[pos + sizeof(*part) + alen], len,
							 sc->data)))
			len = 0;
		part = (struct kl_mmsg_part *)&ms->data[pos];
		part->data_len = len;
		pos += sizeof(*part) + alen + len;
	}
	return pos;
}

/*
 * Copies the messages of a sendmmsg/recvmmsg (ret of them moved) into dst as the data
 * section of its record (SC_F_MMSG), with their payloads when `payloads`; returns its
 * length and leaves the messages' bytes in *mmsg_bytes.
 */
static __always_inline __u32 read_mmsg(struct pending *p, struct sc_desc *d, long ret,
				       bool payloads, char *dst, __u32 *mmsg_bytes)
{
	__u32 zero = 0;
	__u64 len;
	struct mmsg_scratch *ms;
	int n = gather_mmsg(arg(p, d->payload_arg), ret, payloads ? payload_max : 0);

	ms = bpf_map_lookup_elem(&mmsg_scratch, &zero);
	if (!ms || n <= 0)
		return 0;
	*mmsg_bytes = ms->bytes;
	/* One 64-bit register, compared and then used: the verifier sees the bound. */
	len = (__u32)n;
	barrier_var(len);
	if (len > KL_MMSG_DATA_MAX || bpf_probe_read_kernel(dst, len, ms->data))
		return 0;
	return len;
}

/* Copies the gathered payload of a socket read or write into dst; returns its length. */
static __always_inline __u32 read_payload(struct pending *p, struct sc_desc *d, long ret,
					  char *dst)
{
	__u32 zero = 0;
	struct payload_scratch *sc;
	/* The bytes moved: the return value (sendmmsg/recvmmsg are read_mmsg's). */
	__u64 total = ret > payload_max ? payload_max : ret;
	__u64 count = arg(p, d->payload_arg + 1);
	int n = gather_payload(arg(p, d->payload_arg), count, d->payload_kind, total);
	__u32 len;

	sc = bpf_map_lookup_elem(&scratch, &zero);
	if (!sc || n <= 0)
		return 0;
	len = n;
	barrier_var(len);
	len &= KL_PAYLOAD_MAX - 1;
	if (len == 0 || bpf_probe_read_kernel(dst, len, sc->data))
		return 0;
	return len;
}

/*
 * Per-CPU room to build a syscall record in: the record then takes its own length in the
 * ring buffer (bpf_ringbuf_output), not the most it could have (a reservation), so the ring
 * holds tens of times more records of the usual few hundred bytes.
 */
#define SC_SCRATCH_SIZE (SC_RESERVE(0) + KL_MMSG_DATA_MAX > SC_RESERVE(2) ?                \
				 SC_RESERVE(0) + KL_MMSG_DATA_MAX : SC_RESERVE(2))
/* Room before the record for the compact record's fixed part, which can be longer than
 * struct rec_syscall's (see emit_syscall). */
#define SC_HEAD 16
struct sc_scratch {
	char rec[SC_HEAD + SC_SCRATCH_SIZE + 256]; /* + the verifier's bound on the compact
						    * part's start (see emit_compact) */
};

/* Most bytes of a compact record before its tail: the fixed part, an 8-byte return value,
 * six 8-byte arguments, facts, entry time, five lengths and aux. */
#define SCC_PRE_MAX                                                                      \
	(sizeof(struct rec_syscall_c) + 8 + 6 * 8 + sizeof(struct kl_facts) + 8 + 5 * 2 + 4)
_Static_assert(SCC_PRE_MAX <= SC_HEAD + sizeof(struct rec_syscall), "room for the compact part");


/*
 * The facts (struct kl_facts) a task's last compact syscall record carried, and its stamp:
 * in the task's local storage (BPF_MAP_TYPE_TASK_STORAGE, kernel 5.11+: freed with the
 * task, no key lookup), or, where that is missing, a hash by tid (facts_by_tid). User space
 * picks one at load (task_storage) and does not create the other.
 */
struct task_facts {
	__u64 ts;
	struct kl_facts f;
	__u32 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_facts);
} facts_task SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct task_facts);
} facts_by_tid SEC(".maps");

struct task_facts facts_zero = {};

static __always_inline struct task_facts *task_facts(__u32 tid)
{
	struct task_facts *t;

	if (task_storage)
		return bpf_task_storage_get(&facts_task, bpf_get_current_task_btf(), 0,
					    BPF_LOCAL_STORAGE_GET_F_CREATE);
	t = bpf_map_lookup_elem(&facts_by_tid, &tid);
	if (t)
		return t;
	bpf_map_update_elem(&facts_by_tid, &tid, &facts_zero, BPF_NOEXIST);
	return bpf_map_lookup_elem(&facts_by_tid, &tid);
}

/*
 * The inode last written, with its stamp: by (tgid, fd) in fd_inodes (what SC_F_INODE_SAME
 * refers to), by (dev, ino) in inodes_seen (SC_F_INODE_REF; fmode 0 there). Replay keeps
 * the same two tables from the records (src/replayer/state/compact.rs): a record leaves out
 * only what an earlier record, at most KL_REFRESH_NS before, wrote.
 */
struct fd_key {
	__u32 tgid;
	__s32 fd;
};

struct ino_key {
	__u64 ino;
	__u32 dev;
	__u32 _pad;
};

struct inode_seen {
	__u64 ts;
	struct kl_inode snap;
};

/* Per-CPU room to build a compact record's fixed part and parts in (then copied in front of
 * its tail). */
/* What emit_syscall hands emit_compact, in the map (the two share 512 bytes of stack). */
struct compact_in {
	__u32 off, n0, n1, alen, olen, dlen, aux;
	__u16 sc_flags;
	__u8 nargs;
	__u8 _pad;
	__s32 ino_fd;
	__u8 have_inode; /* 1: ino holds the fd's inode */
	__u8 _pad2[3];
	__u64 file; /* the fd's struct file, for the socket part */
	struct kl_inode ino;
};

struct sc_pre {
	struct compact_in in;
	struct inode_seen seen; /* a table entry being written */
	__u8 b[256];
	/* Where the next part goes, and the fields being built: in the map, not in registers,
	 * so the verifier sees one state per step instead of one per combination. */
	__u32 pos;
	__u32 unqueried; /* bytes this CPU wrote since it last asked bpf_ringbuf_query */
};


struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sc_pre);
} sc_pre SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU); /* an LRU list per CPU: no shared lock */
	__uint(max_entries, 16384);
	__type(key, struct fd_key);
	__type(value, struct inode_seen);
} fd_inodes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU); /* an LRU list per CPU: no shared lock */
	__uint(max_entries, 16384);
	__type(key, struct ino_key);
	__type(value, struct inode_seen);
} inodes_seen SEC(".maps");

#define FORM_FULL 0
#define FORM_SAME 1
#define FORM_REF 2

/* Whether a snapshot written at `then` may stand for one taken at `now`. */
static __always_inline bool fresh(__u64 then, __u64 now)
{
	return then < now && now - then < KL_REFRESH_NS;
}

/* The two snapshots are equal (but for fmode when `fmode` is false). */
static __always_inline bool same_inode(const struct kl_inode *a, const struct kl_inode *b,
				       bool fmode)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;
	__u64 w4 = x[4] ^ y[4];

	if (!fmode)
		w4 &= 0xffffffffULL; /* nlink: the low half of the word fmode shares */
	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && !w4 &&
	       x[5] == y[5] && x[6] == y[6] && x[7] == y[7];
}

/* How a syscall record writes the snapshot `i` of fd `fd` of process `tgid` at `ts`:
 * FORM_SAME when the fd's last one is equal (`by_fd`: not for a new fd), FORM_REF when the
 * inode's last one is, else FORM_FULL. */
static __always_inline int inode_form(__u32 tgid, __s32 fd, bool by_fd, const struct kl_inode *i,
				      __u64 ts)
{
	struct fd_key fk = { .tgid = tgid, .fd = fd };
	struct ino_key ik = { .ino = i->ino, .dev = i->dev };
	struct inode_seen *s;

	if (by_fd) {
		s = bpf_map_lookup_elem(&fd_inodes, &fk);
		if (s && fresh(s->ts, ts) && same_inode(&s->snap, i, true))
			return FORM_SAME;
	}
	s = bpf_map_lookup_elem(&inodes_seen, &ik);
	if (s && fresh(s->ts, ts) && same_inode(&s->snap, i, false))
		return FORM_REF;
	return FORM_FULL;
}

/* Appends `n` (2, 4 or 8) bytes of `v` to the compact part being built in `pre`: one 8-byte
 * store (little-endian: its first `n` bytes are v's low ones; the rest are overwritten by
 * the next part or lie past the end), not a copy that clang makes byte by byte where it
 * cannot see the alignment. */
static __always_inline void put(struct sc_pre *pre, __u64 v, __u32 n)
{
	__u32 at = pre->pos & 127;
	__u8 *b = &pre->b[at];

	barrier_var(b); /* an unknown pointer: clang stores the __u64 whole */
	*(__u64 *)b = v;
	pre->pos = at + n;
}

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sc_scratch);
} sc_scratch SEC(".maps");

/*
 * Copies `n` bytes (a constant multiple of 8) from `src` to `dst`, both this program's own
 * memory (a map value, the stack), as 8-byte loads and stores: bpf_probe_read_kernel did it
 * before, a helper call into copy_from_kernel_nofault that cost more than the copy. `src`
 * is 8-byte aligned (the stack wants it); `dst` need not be (a record's tail): the verifier
 * asks for alignment only where the architecture has no efficient unaligned access (not
 * x86-64, not arm64) or with BPF_F_STRICT_ALIGNMENT.
 */
static __always_inline void copy_words(void *dst, const void *src, __u32 n)
{
	__u32 i;

#pragma unroll
	for (i = 0; i < n; i += 8)
		*(__u64 *)(dst + i) = *(const __u64 *)(src + i);
}

/*
 * submit_flags for a syscall record of `len` bytes: bpf_ringbuf_query for every record was
 * a good part of a small record's cost, so each CPU asks only once the records it wrote
 * since it last asked hold a 64th of wakeup_bytes, and does not wake the reader in between.
 * The reader is woken once wakeup_bytes, and at most wakeup_bytes / 64 per CPU more, are
 * waiting. Its poll times out every 100 ms besides (src/recorder/session.rs), which is what
 * delivers records whenever less than wakeup_bytes waits (a quiet system, kellect live on
 * one): no record waits longer than before for lack of a wake-up.
 */
static __always_inline __u64 compact_submit_flags(struct sc_pre *pre, __u32 len)
{
	pre->unqueried += len;
	if (pre->unqueried < wakeup_bytes / 64)
		return BPF_RB_NO_WAKEUP;
	pre->unqueried = 0;
	return submit_flags();
}

/*
 * Writes the syscall record built in this CPU's sc_scratch (its tail `in->off` bytes) into
 * the ring buffer as a compact record (struct rec_syscall_c): its fixed part and parts are
 * built in sc_pre and copied right before the tail. Leaves out the facts when they are the
 * task's last ones, arguments past the syscall's own and those that are 0. Once the record
 * is in the ring, notes what it wrote (facts, inode) for the next records to refer to.
 * A global function: the verifier checks it once, on its own.
 */
__noinline int emit_compact(int unused)
{
	struct compact_in *in;
	struct sc_scratch *scratch;
	struct rec_syscall_c *c;
	struct rec_syscall *r;
	struct task_facts *tf;
	struct sc_pre *pre;
	__u32 zero = 0, pos, len, at, i, sc_flags, ppid, uid, gid;
	__u64 ts, comm0, comm1;
	char *dst;
	__u8 *src;
	long ret;

	scratch = bpf_map_lookup_elem(&sc_scratch, &zero);
	pre = bpf_map_lookup_elem(&sc_pre, &zero);
	if (!scratch || !pre)
		return 0;
	in = &pre->in;
	r = (struct rec_syscall *)(scratch->rec + SC_HEAD);
	/* What is noted once the record is in the ring is taken now: the compact part is
	 * copied over the end of *r, which a long one (many arguments, facts) reaches back
	 * into its header. */
	ts = r->hdr.ts;
	ret = r->ret;
	ppid = r->hdr.ppid;
	uid = r->hdr.uid;
	gid = r->hdr.gid;
	sc_flags = in->sc_flags;
	c = (struct rec_syscall_c *)pre->b;
	c->kind = REC_SYSCALL_C;
	c->flags = r->hdr.flags;
	c->ts = ts;
	c->pid = r->hdr.pid;
	c->tid = r->hdr.tid;
	c->cpu = r->hdr.cpu;
	c->syscall = r->hdr.syscall;
	c->sc_flags = sc_flags;
	c->parts = 0;
	c->arg_forms = 0;
	pre->pos = sizeof(*c);
	if (ret == (__s32)ret) {
		c->flags |= REC_F_RET32;
		put(pre, ret, 4);
	} else {
		put(pre, ret, 8);
	}
	for (i = 0; i < 6; i++) {
		__u64 a = r->args[i & 7];

		if (i >= in->nargs || a == 0)
			continue;
		if (a <= 0xffffffffULL) {
			c->arg_forms |= ARG_U32 << (2 * i);
			put(pre, a, 4);
		} else if ((__s64)a == (__s32)a) {
			c->arg_forms |= ARG_S32 << (2 * i);
			put(pre, a, 4);
		} else {
			c->arg_forms |= ARG_U64 << (2 * i);
			put(pre, a, 8);
		}
	}
	tf = task_facts(r->hdr.tid);
	comm0 = *(__u64 *)&r->hdr.comm[0];
	comm1 = *(__u64 *)&r->hdr.comm[8];
	if (!tf || !tf->ts || !fresh(tf->ts, ts) || tf->f.ppid != ppid || tf->f.uid != uid ||
	    tf->f.gid != gid ||
	    *(__u64 *)&tf->f.comm[0] != comm0 || *(__u64 *)&tf->f.comm[8] != comm1) {
		c->parts |= SCC_FACTS;
		put(pre, ppid, 4);
		put(pre, uid, 4);
		put(pre, gid, 4);
		put(pre, comm0, 8);
		put(pre, comm1, 8);
	}
	if (r->enter_ts) {
		c->parts |= SCC_ENTER;
		put(pre, r->enter_ts, 8);
	}
	if (in->n0) {
		c->parts |= SCC_PATH0;
		put(pre, in->n0, 2);
	}
	if (in->n1) {
		c->parts |= SCC_PATH1;
		put(pre, in->n1, 2);
	}
	if (in->alen) {
		c->parts |= SCC_ADDR;
		put(pre, in->alen, 2);
	}
	if (in->olen) {
		c->parts |= SCC_OUT;
		put(pre, in->olen, 2);
	}
	if (in->dlen) {
		c->parts |= SCC_DATA;
		put(pre, in->dlen, 2);
	}
	if (in->aux) {
		c->parts |= SCC_AUX;
		put(pre, in->aux, 4);
	}
	pos = pre->pos & 255;
	if (pos < sizeof(*c) || pos > SCC_PRE_MAX ||
	    in->off > SC_SCRATCH_SIZE - sizeof(struct rec_syscall))
		return 0;
	len = pos + in->off;
	c->len = len;
	/* The compact part ends where the tail starts: copied there as 8-byte words (no helper
	 * call), the last one ending at pos (it overlaps the one before when pos is not a
	 * multiple of 8). */
	at = (SC_HEAD + sizeof(struct rec_syscall) - pos) & 255;
	dst = &scratch->rec[at];
	src = pre->b;
	barrier_var(dst); /* else clang, seeing char arrays, copies byte by byte */
	barrier_var(src);
#pragma unroll
	for (i = 0; i < SCC_PRE_MAX - 8; i += 8) {
		if (i + 8 >= pos)
			break;
		*(__u64 *)(dst + i) = *(__u64 *)(src + i);
	}
	*(__u64 *)(dst + pos - 8) = *(__u64 *)(src + pos - 8);
	if (bpf_ringbuf_output(&events, dst, len, compact_submit_flags(pre, len))) {
		count(REC_SYSCALL, true);
		return 0;
	}
	count(REC_SYSCALL, false);
	if (tf && (c->parts & SCC_FACTS)) {
		tf->ts = ts;
		tf->f.ppid = ppid;
		tf->f.uid = uid;
		tf->f.gid = gid;
		*(__u64 *)&tf->f.comm[0] = comm0;
		*(__u64 *)&tf->f.comm[8] = comm1;
	}
	if ((sc_flags & (SC_F_INODE | SC_F_INODE_REF)) && in->ino_fd >= 0) {
		struct fd_key fk = { .tgid = c->pid, .fd = in->ino_fd };

		pre->seen.ts = ts;
		__builtin_memcpy(&pre->seen.snap, &in->ino, sizeof(pre->seen.snap));
		bpf_map_update_elem(&fd_inodes, &fk, &pre->seen, BPF_ANY);
		if (sc_flags & SC_F_INODE) {
			struct ino_key ik = { .ino = in->ino.ino, .dev = in->ino.dev };

			pre->seen.snap.fmode = 0;
			bpf_map_update_elem(&inodes_seen, &ik, &pre->seen, BPF_ANY);
		}
	}
	return 0;
}

/* The largest offset in a syscall record's tail where its inode part may start (two paths,
 * an address and an out section come first), and where its socket part may (no path comes
 * before it): the scratch has room for each part after them. */
#define SC_OFF_INODE_MAX (2 * KL_PATH_MAX + 512)
#define SC_OFF_SOCK_MAX 1024

/* What a part of a syscall record starts from: this CPU's record being built, what the
 * parts leave for each other, and the syscall's description; false when a map lacks one. */
static __always_inline bool part_inputs(struct pending *p, struct sc_scratch **scratch,
					struct sc_pre **pre, struct sc_desc **d)
{
	__u32 zero = 0;

	*scratch = bpf_map_lookup_elem(&sc_scratch, &zero);
	*pre = bpf_map_lookup_elem(&sc_pre, &zero);
	*d = bpf_map_lookup_elem(&syscalls, &p->nr);
	return *scratch && *pre && *d;
}

/*
 * The inode part of the syscall record being built in this CPU's sc_scratch (a syscall
 * that succeeded, `p` its entry, `ret` its return value): the inode of its fd (its fd
 * argument, or the fd it returned) at tail offset `off`, whole (SC_F_INODE), as a reference
 * to the one last written for the inode (SC_F_INODE_REF) or left out (SC_F_INODE_SAME).
 * Leaves the fd, its struct file and the inode in sc_pre->in; returns the offset after the
 * part.
 * A global function: the verifier checks it once, on its own, not once per path through
 * the parts before it.
 */
__noinline int emit_inode_part(struct pending *p, long ret, __u64 off)
{
	struct sc_scratch *scratch;
	struct rec_syscall *r;
	struct kl_inode *ino;
	struct sc_desc *d;
	struct sc_pre *pre;
	struct file *f = NULL;
	__s32 ino_fd = -1;
	char *tail;
	int form;

	if (!p || off > SC_OFF_INODE_MAX)
		return off;
	barrier_var(off); /* keep the bound where the verifier can see it */
	if (!part_inputs(p, &scratch, &pre, &d))
		return off;
	r = (struct rec_syscall *)(scratch->rec + SC_HEAD);
	tail = (char *)(r + 1);
	ino = &pre->in.ino;
	if (d->flags & D_RET_FD)
		ino_fd = ret;
	else if (d->fd_arg)
		ino_fd = (__s32)arg(p, d->fd_arg);
	if (ino_fd >= 0)
		f = fd_file(ino_fd);
	pre->in.ino_fd = ino_fd;
	pre->in.file = (__u64)f;
	if (!f || !read_inode(f, ino))
		return off;
	pre->in.have_inode = 1;
	form = inode_form(r->hdr.pid, ino_fd, !(d->flags & D_RET_FD), ino, r->hdr.ts);
	if (form == FORM_SAME) {
		pre->in.sc_flags |= SC_F_INODE_SAME;
	} else if (form == FORM_REF) {
		struct kl_inode_ref ref = { .ino = ino->ino, .dev = ino->dev, .fmode = ino->fmode };

		copy_words(tail + off, &ref, sizeof(ref));
		pre->in.sc_flags |= SC_F_INODE_REF;
		off += sizeof(ref);
	} else {
		copy_words(tail + off, ino, sizeof(*ino));
		pre->in.sc_flags |= SC_F_INODE;
		off += sizeof(*ino);
	}
	return off;
}

/*
 * The socket part of the syscall record being built in this CPU's sc_scratch, when the fd
 * the inode part found is a socket: its struct kl_sock at tail offset `off` (SC_F_SOCK),
 * then the payload it moved, or with `mmsg` the messages of sendmmsg/recvmmsg (SC_F_MMSG).
 * Marks the socket as the target's in target mode and has its packets counted. Leaves the
 * data's length in sc_pre->in; returns the offset after the part.
 * A global function: the verifier checks it once, on its own.
 */
__noinline int emit_sock_part(struct pending *p, long ret, __u64 off, int mmsg)
{
	struct sc_scratch *scratch;
	struct kl_sock so = {};
	struct sc_desc *d;
	struct sc_pre *pre;
	struct sock *sk;
	__u32 dlen = 0, aux = 0;
	__u8 one = 1;
	char *tail;

	if (!p || off > SC_OFF_SOCK_MAX)
		return off;
	barrier_var(off); /* keep the bound where the verifier can see it */
	if (!part_inputs(p, &scratch, &pre, &d))
		return off;
	sk = file_sock((struct file *)pre->in.file);
	if (!sk)
		return off;
	tail = scratch->rec + SC_HEAD + sizeof(struct rec_syscall);
	read_sock(sk, &so);
	if (target_mode)
		bpf_map_update_elem(&socks, &so.sk_id, &one, BPF_ANY);
	pkt_track(&so);
	copy_words(tail + off, &so, sizeof(so));
	pre->in.sc_flags |= SC_F_SOCK;
	off += sizeof(so);
	if (mmsg && ret > 0) {
		dlen = read_mmsg(p, d, ret, so.app && payload_max, tail + off, &aux);
		if (dlen)
			pre->in.sc_flags |= SC_F_MMSG;
	} else if (so.app && payload_max && d->payload_kind && ret > 0) {
		dlen = read_payload(p, d, ret, tail + off);
	}
	pre->in.dlen = dlen;
	pre->in.aux = aux;
	return off + dlen;
}

/*
 * Fills one syscall record in this CPU's sc_scratch and copies its bytes into the ring
 * buffer. `cap_paths` is how many path strings are read (a constant at each call site, as
 * the verifier wants).
 */
static __always_inline int emit_syscall(struct pending *p, struct sc_desc *d, long ret,
					int cap_paths, bool net, bool mmsg)
{
	struct sc_scratch *scratch;
	struct rec_syscall *r;
	char *tail;
	__u32 off = 0, n0 = 0, n1 = 0, alen = 0, olen = 0, zero = 0;
	__u16 sc_flags = 0;
	struct sc_pre *pre;
	struct kl_inode *ino;
	long n;

	if (stopping)
		return 0;
	scratch = bpf_map_lookup_elem(&sc_scratch, &zero);
	pre = bpf_map_lookup_elem(&sc_pre, &zero);
	if (!scratch || !pre)
		return 0;
	ino = &pre->in.ino;
	r = (struct rec_syscall *)(scratch->rec + SC_HEAD);
	fill_hdr(&r->hdr, REC_SYSCALL, 0, bpf_ktime_get_boot_ns());
	r->hdr.syscall = p->ksys;
	if (p->compat)
		r->hdr.flags |= REC_F_COMPAT;
	r->enter_ts = p->ts;
	r->ret = ret;
	__builtin_memcpy(r->args, p->args, sizeof(r->args));
	tail = (char *)(r + 1);

	if (cap_paths >= 1 && d->path0) {
		n = bpf_probe_read_user_str(tail, KL_PATH_MAX, (const void *)arg(p, d->path0));
		if (n > 0) {
			n0 = n - 1;
			if (n == KL_PATH_MAX)
				sc_flags |= SC_F_PATH0_TRUNC;
		}
		n0 &= KL_PATH_MAX - 1;
		off = n0;
	}
	if (cap_paths >= 2 && d->path1) {
		n = bpf_probe_read_user_str(tail + off, KL_PATH_MAX,
					    (const void *)arg(p, d->path1));
		if (n > 0) {
			n1 = n - 1;
			if (n == KL_PATH_MAX)
				sc_flags |= SC_F_PATH1_TRUNC;
		}
		n1 &= KL_PATH_MAX - 1;
		off += n1;
	}

	if (net && d->addr_kind != A_NONE) {
		const void *ptr = NULL;
		__u32 len = 0;

		if (d->addr_kind == A_IN) {
			ptr = (const void *)arg(p, d->addr_arg);
			len = arg(p, d->addr_len_arg);
		} else if (d->addr_kind == A_OUT) {
			const void *lenp = (const void *)arg(p, d->addr_len_arg);
			/* Not len itself: a variable whose address is taken lives on the stack,
			 * where a 4-byte store leaves the verifier no bound on it. */
			__u32 ulen = 0;

			ptr = (const void *)arg(p, d->addr_arg);
			if (ptr && lenp && ret >= 0)
				bpf_probe_read_user(&ulen, sizeof(ulen), lenp);
			len = ulen;
		} else if (d->addr_kind == A_MSG) {
			struct user_msghdr *m = (void *)arg(p, d->addr_arg);

			if (m) {
				ptr = BPF_CORE_READ_USER(m, msg_name);
				len = BPF_CORE_READ_USER(m, msg_namelen);
			}
		}
		if (len > KL_ADDR_MAX)
			len = KL_ADDR_MAX;
		barrier_var(len); /* keep the clamp where the verifier can see it */
		len &= KL_ADDR_MAX * 2 - 1;
		if (ptr && len > 0 && bpf_probe_read_user(tail + off, len, ptr) == 0)
			alen = len;
		off += alen;
	}

	if (d->out_kind == O_OPENHOW) {
		const void *ptr = (const void *)arg(p, d->out_arg);

		if (ptr && bpf_probe_read_user(tail + off, 24, ptr) == 0)
			olen = 24;
		off += olen;
	} else if (d->out_kind >= O_TIMESPEC2 && d->out_kind <= O_XATTR_ARGS) {
		if (p->out_len == 32) {
			copy_words(tail + off, p->out, 32);
			olen = 32;
		} else if (p->out_len == 16) {
			copy_words(tail + off, p->out, 16);
			olen = 16;
		}
		off += olen;
	} else if (d->out_kind == O_STR) {
		n = bpf_probe_read_user_str(tail + off, KL_STR_MAX, (const void *)arg(p, d->out_arg));
		if (n > 1)
			olen = (n - 1) & (KL_STR_MAX - 1);
		off += olen;
	} else if (d->out_kind == O_BPF_ATTR) {
		const void *ptr = (const void *)arg(p, d->out_arg);
		__u64 size = arg(p, d->out_arg + 1);
		__u32 len = size > KL_BPF_ATTR ? KL_BPF_ATTR : size;

		barrier_var(len);
		len &= KL_BPF_ATTR * 2 - 1;
		if (ptr && len > 0 && bpf_probe_read_user(tail + off, len, ptr) == 0)
			olen = len;
		off += olen;
	} else if (d->out_kind == O_CAPSET) {
		const void *hdr = (const void *)arg(p, d->out_arg);
		const void *data = (const void *)arg(p, d->out_arg + 1);

		if (hdr && data && bpf_probe_read_user(tail + off, 8, hdr) == 0 &&
		    bpf_probe_read_user(tail + off + 8, 24, data) == 0)
			olen = 32;
		off += olen;
	} else if (ret >= 0 && d->out_kind == O_FD_INODE) {
		struct file *f2 = fd_file((__s32)arg(p, d->out_arg));

		/* read straight into the tail: no copy, no room on the stack */
		if (f2 && read_inode(f2, (struct kl_inode *)(tail + off)))
			olen = sizeof(struct kl_inode);
		off += olen;
	} else if (ret >= 0 && d->out_kind != O_NONE) {
		const void *ptr = (const void *)arg(p, d->out_arg);

		if (d->out_kind == O_FDPAIR) {
			if (ptr && bpf_probe_read_user(tail + off, 8, ptr) == 0)
				olen = 8;
		} else if (read_stat(d->out_kind, ptr, (struct kl_inode *)(tail + off))) {
			olen = sizeof(struct kl_inode);
		}
		off += olen;
	}

	pre->in.n0 = n0;
	pre->in.n1 = n1;
	pre->in.alen = alen;
	pre->in.olen = olen;
	pre->in.dlen = 0;
	pre->in.aux = 0;
	pre->in.sc_flags = sc_flags;
	pre->in.nargs = p->compat ? 6 : d->nargs;
	pre->in.ino_fd = -1;
	pre->in.file = 0;
	pre->in.have_inode = 0;
	if (ret >= 0) {
		/* The inode and socket parts are global functions: each is checked once, on its
		 * own, not once per path through the parts before it (an unknown offset comes
		 * back, clamped here). */
		n = emit_inode_part(p, ret, off);
		if (n < 0 || n > SC_OFF_INODE_MAX + sizeof(struct kl_inode))
			return 0;
		off = n;
		if (net && (!pre->in.have_inode || (ino->mode & S_IFMT) == S_IFSOCK)) {
			n = emit_sock_part(p, ret, off, mmsg);
			if (n < 0 || n > SC_SCRATCH_SIZE - sizeof(struct rec_syscall))
				return 0;
			off = n;
		}
	}
	pre->in.off = off;
	return emit_compact(0);
}

/*
 * One specialised copy of emit_syscall per shape of syscall (two paths, one path, no path
 * and possibly a socket, the message vector of sendmmsg/recvmmsg), each a global function:
 * the verifier checks each once, on its own, which keeps every check far below its
 * complexity limit.
 */
#define EMIT_SHAPE(name, paths, net, mmsg)                                              \
	__noinline int name(struct pending *p, long ret)                                \
	{                                                                               \
		struct sc_desc *d;                                                      \
                                                                                        \
		if (!p)                                                                 \
			return 0;                                                       \
		d = bpf_map_lookup_elem(&syscalls, &p->nr);                             \
		return d ? emit_syscall(p, d, ret, paths, net, mmsg) : 0;               \
	}

EMIT_SHAPE(emit_2paths, 2, false, false)
EMIT_SHAPE(emit_1path, 1, false, false)
EMIT_SHAPE(emit_0paths, 0, true, false)
EMIT_SHAPE(emit_mmsg, 0, true, true)

/* The native number of the current syscall, from its saved registers. */
static __always_inline long syscall_nr(struct pt_regs *regs)
{
#if defined(__TARGET_ARCH_arm64)
	return regs->syscallno;
#else
	return regs->orig_ax;
#endif
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, nr;
	struct pending *pp;
	struct pending p = {};
	struct sc_desc *d;
	long id;

	if (!compat_syscall()) {
		/* A native syscall that needs no entry is recorded from here alone, with no
		 * entry time (0): its number and arguments are the saved registers. */
		id = syscall_nr(regs);
		if (id < 0 || id >= NR_SYSCALLS)
			return 0;
		nr = id;
		d = bpf_map_lookup_elem(&syscalls, &nr);
		if (!d || !d->ksys)
			return 0;
		if (!needs_entry(d, false)) {
			if (!(d->group & group_mask) || !is_target(pid_tgid >> 32))
				return 0;
			native_args(regs, p.args);
			p.nr = nr;
			p.ksys = d->ksys;
			if (args_filtered(d, p.args))
				return 0;
			goto emit;
		}
	}
	pp = pending_get(tid);
	if (!pp)
		return 0;
	p = *pp;
	pending_drop(tid, pp);
	d = bpf_map_lookup_elem(&syscalls, &p.nr);
emit:
	if (!d || (d->flags & D_CONTEXT) || ((d->flags & D_FAILURE_ONLY) && ret >= 0))
		return 0;
	if (d->path1)
		return emit_2paths(&p, ret);
	if (d->path0)
		return emit_1path(&p, ret);
	if (d->payload_kind == P_MMSG)
		return emit_mmsg(&p, ret);
	return emit_0paths(&p, ret);
}

/* ---- exec ---- */


/*
 * Builds the path of the struct file at `file` in this CPU's exe_scratch (at most
 * KL_PATH_MAX - 1 bytes, no NUL): its dentries up to their mount's root, across mounts up
 * to the root of the mount tree. d_path is not callable from tracepoint programs, so the
 * walk is done here, bounded by KL_EXE_DEPTH. Returns the length (0: none) and leaves
 * EXE_F_* in scratch->flags.
 *
 * A global function: the verifier checks it once, on its own.
 */
__noinline int exe_path_walk(__u64 file)
{
	struct file *f = (struct file *)file;
	__u32 zero = 0, n, pos = 0, i;
	struct exe_scratch *s = bpf_map_lookup_elem(&exe_scratch, &zero);
	struct dentry *d;
	struct vfsmount *vm;
	struct mount *mnt;

	if (!s || !f)
		return 0;
	/* The counts live in the map, not in registers: the verifier then sees one state per
	 * step of each loop instead of one per combination of counts. */
	s->n = 0;
	s->flags = EXE_F_TRUNC; /* cleared when the walk reaches a root */
	d = BPF_CORE_READ(f, f_path.dentry);
	vm = BPF_CORE_READ(f, f_path.mnt);
	mnt = (void *)vm - bpf_core_field_offset(struct mount, mnt);
	if (BPF_CORE_READ(vm, mnt_flags) & MNT_INTERNAL)
		s->flags |= EXE_F_INTERNAL;
	if (BPF_CORE_READ(d, d_inode, i_nlink) == 0)
		s->flags |= EXE_F_DELETED;
	for (i = 0; i < KL_EXE_DEPTH; i++) {
		struct dentry *root = BPF_CORE_READ(mnt, mnt.mnt_root);
		struct dentry *parent = BPF_CORE_READ(d, d_parent);

		if (d == root) {
			struct mount *up = BPF_CORE_READ(mnt, mnt_parent);

			if (up == mnt) {
				s->flags &= ~EXE_F_TRUNC;
				break;
			}
			d = BPF_CORE_READ(mnt, mnt_mountpoint);
			mnt = up;
			continue;
		}
		n = s->n;
		s->dents[n & (KL_EXE_DEPTH - 1)] = (__u64)d;
		s->n = n + 1;
		if (d == parent) {
			/* A pseudo dentry (memfd, anonymous files): its own parent. */
			s->flags = (s->flags & ~EXE_F_TRUNC) | EXE_F_INTERNAL;
			break;
		}
		d = parent;
	}
	n = s->n;
	if (n == 0) {
		s->path[0] = '/';
		return 1;
	}
	for (i = 0; i < KL_EXE_DEPTH && i < n; i++) {
		const unsigned char *name;
		long len;

		if (pos > KL_PATH_MAX - KL_NAME_MAX - 1) {
			s->flags |= EXE_F_TRUNC;
			break;
		}
		s->path[pos & (KL_PATH_MAX - 1)] = '/';
		pos++;
		d = (struct dentry *)s->dents[(n - 1 - i) & (KL_EXE_DEPTH - 1)];
		name = BPF_CORE_READ(d, d_name.name);
		len = bpf_probe_read_kernel_str(&s->path[pos & (KL_PATH_MAX - 1)], KL_NAME_MAX,
						name);
		/* A mask the verifier can see: len - 1 is at most KL_NAME_MAX - 1. */
		pos += (len > 1 ? len - 1 : 0) & (KL_NAME_MAX - 1);
	}
	return pos & (KL_PATH_MAX - 1);
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u64 ts = bpf_ktime_get_boot_ns();
	struct rec_exec *r;
	char *tail; /* after the fixed part and the struct kl_task */
	const char *filename;
	unsigned long arg_start, arg_end, args;
	long n;
	__u32 flen = 0, flags = 0;

	if (!is_target(tgid) || stopping)
		return 0;

	/* A thread that execs takes the pid of the leader, whose records replay knows the
	 * facts of by that pid (src/replayer/state/compact.rs), but keeps its own task storage:
	 * its next syscall record carries its facts. */
	{
		struct task_facts *tf = task_facts(BPF_CORE_READ(p, pid));

		if (tf)
			tf->ts = 0;
	}

	r = bpf_ringbuf_reserve(&events,
				sizeof(*r) + sizeof(struct kl_task) + KL_PATH_MAX + KL_ARGV_MAX + sizeof(struct kl_inode) +
					KL_PATH_MAX + KL_ARGV0_MAX,
				0);
	if (!r) {
		count(REC_PROC_EXEC, true);
		return 0;
	}
	fill_hdr(&r->hdr, REC_PROC_EXEC, 0, ts);
	r->old_pid = old_pid;
	r->argc = BPF_CORE_READ(bprm, argc);
	r->exe_len = 0;
	r->exe_flags = 0;
	read_task(p, (struct kl_task *)(r + 1));
	tail = (char *)(r + 1) + sizeof(struct kl_task);

	filename = BPF_CORE_READ(bprm, filename);
	n = bpf_probe_read_kernel_str(tail, KL_PATH_MAX, filename);
	if (n > 0) {
		flen = n - 1; /* without the NUL */
		if (n == KL_PATH_MAX)
			flags |= REC_F_TRUNC0;
	}
	flen &= KL_PATH_MAX - 1;

	arg_start = BPF_CORE_READ(p, mm, arg_start);
	arg_end = BPF_CORE_READ(p, mm, arg_end);
	args = arg_end > arg_start ? arg_end - arg_start : 0;
	if (args > KL_ARGV_MAX - 1) {
		args = KL_ARGV_MAX - 1;
		flags |= REC_F_TRUNC1;
	}
	args &= KL_ARGV_MAX - 1; /* a bound the verifier can see */
	if (args == 0 ||
	    bpf_probe_read_user(tail + flen, args, (const void *)arg_start) < 0)
		args = 0;

	r->filename_len = flen;
	r->args_len = args;
	{
		/* The executable's inode: the file exec opened, whatever path led to it. */
		struct kl_inode ino = {};
		__u32 off = flen + args;

		struct file *exe = BPF_CORE_READ(bprm, file);
		__u16 exe_flags = 0;

		/* For a #! script, bprm->file is the interpreter while filename is the script:
		 * the inode is only the filename's when no interpreter stepped in. */
		if (BPF_CORE_READ(bprm, interp) != filename)
			exe_flags |= EXE_F_INTERP;
		if (!(exe_flags & EXE_F_INTERP) && read_inode(exe, &ino) &&
		    bpf_probe_read_kernel(tail + (off & (2 * KL_PATH_MAX - 1)),
					  sizeof(ino), &ino) == 0) {
			flags |= REC_F_INODE;
			off += sizeof(ino);
		}
		if (off > KL_PATH_MAX + KL_ARGV_MAX + sizeof(ino))
			off = KL_PATH_MAX + KL_ARGV_MAX + sizeof(ino);
		/* The file exec ran, by its real path (not /dev/fd/N, not the script). */
		{
			__u32 zero = 0, elen = exe_path_walk((__u64)exe);
			struct exe_scratch *es = bpf_map_lookup_elem(&exe_scratch, &zero);

			elen &= KL_PATH_MAX - 1;
			if (es && elen > 0 &&
			    bpf_probe_read_kernel(tail + off, elen, es->path) == 0) {
				r->exe_len = elen;
				exe_flags |= es->flags;
				off += elen;
			}
		}
		/* A #! script: the caller's argv[0], which the kernel replaced, ends the tail. */
		{
			__u32 tid = old_pid;
			char *argv0 = bpf_map_lookup_elem(&exec_argv0, &tid);

			if (off > KL_PATH_MAX + KL_ARGV_MAX + sizeof(ino) + KL_PATH_MAX)
				off = KL_PATH_MAX + KL_ARGV_MAX + sizeof(ino) + KL_PATH_MAX;
			if (argv0 && (exe_flags & EXE_F_INTERP)) {
				long n0 = bpf_probe_read_kernel_str(tail + off,
								    KL_ARGV0_MAX, argv0);

				if (n0 > 0) {
					exe_flags |= EXE_F_ARGV0;
					off += (n0 - 1) & (KL_ARGV0_MAX - 1);
				}
			}
			if (argv0)
				bpf_map_delete_elem(&exec_argv0, &tid);
		}
		r->exe_flags = exe_flags;
		r->hdr.len = sizeof(*r) + sizeof(struct kl_task) + off;
	}
	r->hdr.flags = flags | REC_F_TASK;
	{
		/* The exec's entry was recorded under the tid that called it. */
		__u32 tid = old_pid;
		struct pending *p = pending_get(tid);

		if (p) {
			r->hdr.syscall = p->ksys;
			if (p->compat)
				r->hdr.flags |= REC_F_COMPAT;
			pending_drop(tid, p);
		}
	}
	bpf_ringbuf_submit(r, submit_flags());
	count(REC_PROC_EXEC, false);
	return 0;
}

/* ---- cgroups: directories made, processes moved (container context for replay) ---- */

static __always_inline int on_cgroup(struct cgroup *cgrp, const char *path, __u32 pid,
				     __u8 op, __u16 cg_flags)
{
	struct rec_cgroup *r;
	long n;
	__u32 plen = 0;
	int level;

	if (stopping)
		return 0;
	r = bpf_ringbuf_reserve(&events, sizeof(*r) + KL_CGROUP_PATH_MAX, 0);
	if (!r) {
		count(REC_CGROUP, true);
		return 0;
	}
	fill_hdr(&r->hdr, REC_CGROUP, 0, bpf_ktime_get_boot_ns());
	r->cgroup_id = BPF_CORE_READ(cgrp, kn, id);
	r->pid = pid;
	r->hierarchy = BPF_CORE_READ(cgrp, root, hierarchy_id);
	r->op = op;
	level = BPF_CORE_READ(cgrp, level);
	r->level = level > 255 ? 255 : (level < 0 ? 0 : level);
	n = bpf_probe_read_kernel_str((char *)(r + 1), KL_CGROUP_PATH_MAX, path);
	if (n > 0) {
		plen = (n - 1) & (KL_CGROUP_PATH_MAX - 1);
		if (n == KL_CGROUP_PATH_MAX)
			cg_flags |= CG_F_TRUNC;
	}
	r->path_len = plen;
	r->cg_flags = cg_flags;
	r->_pad = 0;
	r->hdr.len = sizeof(*r) + plen;
	bpf_ringbuf_submit(r, submit_flags());
	count(REC_CGROUP, false);
	return 0;
}

SEC("tp_btf/cgroup_mkdir")
int BPF_PROG(on_cgroup_mkdir, struct cgroup *cgrp, const char *path)
{
	if (bpf_get_current_pid_tgid() >> 32 == self_tgid)
		return 0;
	return on_cgroup(cgrp, path, 0, CG_MKDIR, 0);
}

SEC("tp_btf/cgroup_attach_task")
int BPF_PROG(on_cgroup_attach, struct cgroup *cgrp, const char *path, struct task_struct *task,
	     bool threadgroup)
{
	__u32 tgid = BPF_CORE_READ(task, tgid);

	/* In target mode, only moves of recorded processes. */
	if (!is_target(tgid))
		return 0;
	return on_cgroup(cgrp, path, tgid, CG_ATTACH, threadgroup ? CG_F_THREADGROUP : 0);
}

/* ---- TCP socket state: identity and counters, for socket records ---- */

static __always_inline int sock_state(struct sock *sk, __u8 event, int oldstate, int newstate)
{
	struct rec_sock_state *r;
	struct pkt_sock *pkt;
	__u64 id;

	if (!sk || !(group_mask & G_NETWORK))
		return 0;
	if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP)
		return 0;
	id = sk_ident(sk);
	/* In target mode, only sockets the recorded processes used (softirq context runs
	 * in whatever task was current, so the task says nothing about the socket). */
	if (target_mode && !bpf_map_lookup_elem(&socks, &id)) {
		/* A connection made on a counted listener's port: counted from here. */
		if (pkt_counting && event == SOCK_EV_STATE && newstate == 3 /* TCP_SYN_RECV */) {
			__u32 port = BPF_CORE_READ(sk, __sk_common.skc_num);

			if (bpf_map_lookup_elem(&pkt_listen, &port)) {
				struct kl_sock so = {};

				read_sock(sk, &so);
				pkt_track(&so);
			}
		}
		return 0;
	}
	if (stopping)
		return 0;
	pkt = pkt_counting ? bpf_map_lookup_elem(&pkt_socks, &id) : NULL;
	if (pkt) /* before the state record: replay exports a closed socket at it */
		pkt_write(sk, pkt, newstate == 7 /* TCP_CLOSE */ ? SOCK_CNT_GONE : SOCK_CNT_STATE,
			  bpf_ktime_get_boot_ns());
	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(REC_SOCK_STATE, true);
		return 0;
	}
	fill_hdr(&r->hdr, REC_SOCK_STATE, sizeof(*r), bpf_ktime_get_boot_ns());
	__builtin_memset(&r->sock, 0, sizeof(r->sock));
	read_sock(sk, &r->sock);
	r->event = event;
	r->oldstate = oldstate;
	r->newstate = newstate;
	__builtin_memset(r->_pad, 0, sizeof(r->_pad));
	__builtin_memset(&r->tcp, 0, sizeof(r->tcp));
	read_tcp(sk, &r->tcp);
	if (pkt_counting && !pkt && newstate != 7)
		pkt_track(&r->sock);
	if (pkt_counting && event == SOCK_EV_STATE && (newstate == 10 || oldstate == 10)) {
		__u32 port = r->sock.lport;
		__u8 one = 1;

		if (newstate == 10 /* TCP_LISTEN */)
			bpf_map_update_elem(&pkt_listen, &port, &one, BPF_ANY);
		else
			bpf_map_delete_elem(&pkt_listen, &port);
	}
	bpf_ringbuf_submit(r, submit_flags());
	count(REC_SOCK_STATE, false);
	if (newstate == 7 /* TCP_CLOSE */) {
		bpf_map_delete_elem(&socks, &id);
		if (pkt)
			pkt_forget(id, pkt);
	}
	return 0;
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_sock_state, struct sock *sk, int oldstate, int newstate)
{
	return sock_state(sk, SOCK_EV_STATE, oldstate, newstate);
}

SEC("tp_btf/tcp_receive_reset")
int BPF_PROG(on_reset_rx, struct sock *sk)
{
	int state = BPF_CORE_READ(sk, __sk_common.skc_state);

	return sock_state(sk, SOCK_EV_RESET_RX, state, state);
}

SEC("tp_btf/tcp_send_reset")
int BPF_PROG(on_reset_tx, struct sock *sk)
{
	int state;

	if (!sk)
		return 0;
	state = BPF_CORE_READ(sk, __sk_common.skc_state);
	return sock_state(sk, SOCK_EV_RESET_TX, state, state);
}

/* ---- io_uring ---- */

/*
 * An io_uring request between its submission and its completion: the record built at
 * submission, and the path the prep read (openat). The request's own memory holds no path
 * by completion: io_openat2 puts the struct filename before the CQE is posted.
 */
struct uring_pending {
	struct rec_uring rec;
	char path[KL_PATH_MAX];
};

/* Keyed by the struct io_kiocb's address. LRU: a request that posts no CQE
 * (IOSQE_CQE_SKIP_SUCCESS) leaves its entry, which the next ones push out. So are the
 * entries of requests still in flight when more than max_entries are (reads of an empty
 * pipe hold theirs): such a request's completion finds no entry and is counted as a
 * dropped record, never lost unsaid. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u64);
	__type(value, struct uring_pending);
} uring_reqs SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct uring_pending);
} uring_scratch SEC(".maps");

#define REQ_F_FIXED_FILE 1 /* 1 << REQ_F_FIXED_FILE_BIT */
/* 1 << REQ_F_CQE_SKIP_BIT (= IOSQE_CQE_SKIP_SUCCESS_BIT, include/linux/io_uring_types.h):
 * io_init_req copies the SQE's flags into the low byte of req->flags. */
#define REQ_F_CQE_SKIP_FLAG (1 << 6)

/* Room for the fixed part, a path and an inode, plus slack for the verifier's bounds. */
#define URING_RESERVE (sizeof(struct rec_uring) + KL_PATH_MAX + sizeof(struct kl_inode) * 2)

/*
 * Writes the request u as a record stamped ts, with result ret, its URING_F_* plus flags,
 * its path, and the inode of f (NULL: none). Counts it, or counts it as dropped when the
 * ring buffer is full.
 */
static __always_inline void uring_write(struct uring_pending *u, __u64 ts, __s64 ret, __u8 flags,
					struct file *f)
{
	struct kl_inode ino = {};
	struct rec_uring *r;
	char *tail;
	__u32 n;

	r = bpf_ringbuf_reserve(&events, URING_RESERVE, 0);
	if (!r) {
		count(REC_URING_OP, true);
		return;
	}
	__builtin_memcpy(r, &u->rec, sizeof(*r));
	r->sc.hdr.ts = ts;
	r->sc.ret = ret;
	r->uring_flags |= flags;
	tail = (char *)(r + 1);
	n = r->sc.path0_len & (KL_PATH_MAX - 1);
	if (n && bpf_probe_read_kernel(tail, n, u->path))
		n = 0;
	r->sc.path0_len = n;
	if (f && read_inode(f, &ino) &&
	    bpf_probe_read_kernel(tail + n, sizeof(ino), &ino) == 0) {
		r->sc.sc_flags |= SC_F_INODE;
		n += sizeof(ino);
	}
	r->sc.hdr.len = sizeof(*r) + n;
	bpf_ringbuf_submit(r, submit_flags());
	count(REC_URING_OP, false);
}

/*
 * The request after the kernel's prep of its SQE (io_init_req ran def->prep): what it does
 * is in its command area (struct io_open, io_close, io_rw at the start of struct io_kiocb).
 */
SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(on_uring_submit, struct io_kiocb *req)
{
	__u32 zero = 0;
	__u64 key = (__u64)req;
	struct uring_pending *u;
	struct rec_syscall *sc;
	__u64 req_flags;
	__u8 opcode;
	long n;

	if (!(group_mask & (G_FILE | G_NETWORK)) || !is_target(bpf_get_current_pid_tgid() >> 32))
		return 0;
	u = bpf_map_lookup_elem(&uring_scratch, &zero);
	if (!u)
		return 0;
	__builtin_memset(&u->rec, 0, sizeof(u->rec));
	sc = &u->rec.sc;
	fill_hdr(&sc->hdr, REC_URING_OP, 0, 0);
	sc->enter_ts = bpf_ktime_get_boot_ns();
	opcode = BPF_CORE_READ(req, opcode);
	u->rec.opcode = opcode;
	u->rec.user_data = BPF_CORE_READ(req, cqe.user_data);
	u->rec.sqe_fd = BPF_CORE_READ(req, cqe.fd);
	req_flags = BPF_CORE_READ(req, flags);
	if (req_flags & REQ_F_FIXED_FILE)
		u->rec.uring_flags |= URING_F_FIXED;
	sc->args[0] = (__u64)(__s64)u->rec.sqe_fd;
	if (opcode == IORING_OP_OPENAT || opcode == IORING_OP_OPENAT2) {
		struct io_open *o = (void *)req;
		const char *name = BPF_CORE_READ(o, filename, name);

		sc->hdr.syscall = KS_OPENAT;
		u->rec.sqe_fd = BPF_CORE_READ(o, dfd);
		sc->args[0] = (__u64)(__s64)u->rec.sqe_fd;
		sc->args[2] = BPF_CORE_READ(o, how.flags);
		sc->args[3] = BPF_CORE_READ(o, how.mode);
		if (BPF_CORE_READ(o, file_slot))
			u->rec.uring_flags |= URING_F_FIXED; /* into a registered slot: no fd */
		n = name ? bpf_probe_read_kernel_str(u->path, KL_PATH_MAX, name) : 0;
		if (n > 0) {
			sc->path0_len = (n - 1) & (KL_PATH_MAX - 1);
			if (n == KL_PATH_MAX)
				sc->sc_flags |= SC_F_PATH0_TRUNC;
		}
	} else if (opcode == IORING_OP_CLOSE) {
		struct io_close *c = (void *)req;

		sc->hdr.syscall = KS_CLOSE;
		u->rec.sqe_fd = BPF_CORE_READ(c, fd);
		sc->args[0] = (__u64)(__s64)u->rec.sqe_fd;
		if (BPF_CORE_READ(c, file_slot))
			u->rec.uring_flags |= URING_F_FIXED;
	} else if (opcode == IORING_OP_READ || opcode == IORING_OP_READ_FIXED ||
		   opcode == IORING_OP_READV || opcode == IORING_OP_WRITE ||
		   opcode == IORING_OP_WRITE_FIXED || opcode == IORING_OP_WRITEV) {
		struct io_rw *rw = (void *)req;
		bool vec = opcode == IORING_OP_READV || opcode == IORING_OP_WRITEV;

		if (opcode == IORING_OP_READ || opcode == IORING_OP_READ_FIXED ||
		    opcode == IORING_OP_READV)
			sc->hdr.syscall = vec ? KS_PREADV : KS_PREAD64;
		else
			sc->hdr.syscall = vec ? KS_PWRITEV : KS_PWRITE64;
		sc->args[1] = BPF_CORE_READ(rw, addr);
		sc->args[2] = BPF_CORE_READ(rw, len);
		sc->args[3] = BPF_CORE_READ(rw, kiocb.ki_pos);
	}
	/* A registered file's index is no fd: no syscall's effect on the fd table applies. */
	if (u->rec.uring_flags & URING_F_FIXED)
		sc->hdr.syscall = 0;
	if ((req_flags & REQ_F_CQE_SKIP_FLAG) && !stopping) {
		/* A success posts no CQE (io_uring_complete never fires for it): the request
		 * is written now, its result unknown, with the file its fd names at
		 * submission. A failure still posts one (req_set_fail clears the flag), which
		 * the entry kept below turns into a second record with the error. */
		struct file *f = NULL;

		u->rec.uring_flags |= URING_F_SKIP_SUCCESS;
		if (opcode != IORING_OP_OPENAT && opcode != IORING_OP_OPENAT2 &&
		    !(u->rec.uring_flags & URING_F_FIXED) && u->rec.sqe_fd >= 0)
			f = fd_file(u->rec.sqe_fd);
		uring_write(u, sc->enter_ts, 0, URING_F_SUBMITTED, f);
	}
	bpf_map_update_elem(&uring_reqs, &key, u, BPF_ANY);
	return 0;
}

/* IORING_CQE_F_MORE (include/uapi/linux/io_uring.h): the request posts more CQEs. */
#define URING_CQE_F_MORE (1U << 1)

/*
 * A CQE posted for a request seen at submission: the record, with the result and the
 * file the request used. cqe is the entry being posted (struct io_uring_cqe, 6.0 and
 * later); requests without a struct io_kiocb (aux CQEs) have req NULL and are skipped.
 */
SEC("tp_btf/io_uring_complete")
int BPF_PROG(on_uring_complete, void *ring, void *req, struct io_uring_cqe *cqe)
{
	__u64 key = (__u64)req;
	struct uring_pending *u;
	struct file *f = NULL;
	__u32 more;
	__s32 ret;

	if (!req || stopping)
		return 0;
	u = bpf_map_lookup_elem(&uring_reqs, &key);
	if (!u) {
		/* Pushed out of the map while in flight (see uring_reqs): a request of a
		 * recorded process (the completing task is the submitter, one of its io-wq
		 * workers or its SQPOLL thread), lost. A multishot request's later CQEs find
		 * its entry (kept while IORING_CQE_F_MORE says more will come). */
		if ((group_mask & (G_FILE | G_NETWORK)) &&
		    is_target(bpf_get_current_pid_tgid() >> 32))
			count(KL_STAT_URING_IN_FLIGHT, true);
		return 0;
	}
	more = BPF_CORE_READ(cqe, flags) & URING_CQE_F_MORE;
	ret = BPF_CORE_READ(cqe, res);
	if (u->rec.sc.hdr.syscall == KS_OPENAT) {
		/* The new fd, in the fd table of the task completing it, when that task is of
		 * the submitter's process (the submitter, or an io-wq worker of it). */
		if (ret >= 0 && (bpf_get_current_pid_tgid() >> 32) == u->rec.sc.hdr.pid)
			f = fd_file(ret);
	} else if (u->rec.sc.hdr.syscall != KS_CLOSE) {
		f = BPF_CORE_READ((struct io_kiocb *)req, file);
	}
	uring_write(u, bpf_ktime_get_boot_ns(), ret, 0, f);
	if (!more)
		bpf_map_delete_elem(&uring_reqs, &key);
	return 0;
}

/* ---- Per-socket packet counters: the per-packet programs (kellect record -e packets) ---- */

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

/* What the per-packet programs read of an IP packet. */
struct pkt_view {
	struct pkt_tuple t; /* from the sender's end: laddr/lport the source */
	struct pkt_frag frag;
	__u8 ttl;
	__u8 tcp_flags;
	__u8 is_frag; /* an IPv4 fragment */
	__u8 later;   /* a fragment after the first: no ports */
};

/* Reads the IP header at `ip` (ETH_P_IP or ETH_P_IPV6 `proto`), and the TCP or UDP header
 * after it. False: not IP, not TCP or UDP, or unreadable. */
static __always_inline bool pkt_parse(const void *ip, __u16 proto, struct pkt_view *v)
{
	__u8 l4[14];
	__u32 off;

	if (proto == ETH_P_IP) {
		struct iphdr h;
		__u16 frag;

		if (bpf_probe_read_kernel(&h, sizeof(h), ip))
			return false;
		if (h.version != 4 || h.ihl < 5)
			return false;
		v->t.proto = h.protocol;
		__builtin_memcpy(v->t.laddr, &h.saddr, 4);
		__builtin_memcpy(v->t.raddr, &h.daddr, 4);
		v->ttl = h.ttl;
		frag = bpf_ntohs(h.frag_off);
		v->is_frag = (frag & 0x3fff) != 0; /* MF, or an offset */
		v->later = (frag & 0x1fff) != 0;
		v->frag.saddr = h.saddr;
		v->frag.daddr = h.daddr;
		v->frag.id = h.id;
		v->frag.proto = h.protocol;
		off = h.ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr h;

		if (bpf_probe_read_kernel(&h, sizeof(h), ip))
			return false;
		v->t.proto = h.nexthdr; /* extension headers: not counted */
		__builtin_memcpy(v->t.laddr, &h.saddr, 16);
		__builtin_memcpy(v->t.raddr, &h.daddr, 16);
		v->ttl = h.hop_limit;
		off = sizeof(h);
	} else {
		return false;
	}
	if (v->t.proto != IPPROTO_TCP && v->t.proto != IPPROTO_UDP)
		return false;
	if (v->later)
		return true;
	if (bpf_probe_read_kernel(l4, sizeof(l4), ip + (off & 0x3f)))
		return false;
	v->t.lport = ((__u16)l4[0] << 8) | l4[1];
	v->t.rport = ((__u16)l4[2] << 8) | l4[3];
	v->tcp_flags = v->t.proto == IPPROTO_TCP ? l4[13] : 0;
	return true;
}

/* Turns a packet's tuple around: the receiving socket's end first. */
static __always_inline void pkt_swap(struct pkt_tuple *t)
{
	__u8 a[16];
	__u16 p = t->lport;

	__builtin_memcpy(a, t->laddr, 16);
	__builtin_memcpy(t->laddr, t->raddr, 16);
	__builtin_memcpy(t->raddr, a, 16);
	t->lport = t->rport;
	t->rport = p;
}

/* A packet leaving: net:net_dev_queue, with the socket that sent it (skb->sk). A packet of a
 * socket not counted costs one lookup. */
SEC("tp_btf/net_dev_queue")
int BPF_PROG(on_pkt_tx, struct sk_buff *skb)
{
	struct pkt_view v = {};
	struct pkt_sock *e;
	struct sock *sk;
	unsigned char *head;
	__u64 id;

	sk = BPF_CORE_READ(skb, sk);
	if (!sk)
		return 0;
	id = sk_ident(sk);
	e = bpf_map_lookup_elem(&pkt_socks, &id);
	if (!e)
		return 0;
	head = BPF_CORE_READ(skb, head);
	if (!pkt_parse(head + BPF_CORE_READ(skb, network_header),
		       bpf_ntohs(BPF_CORE_READ(skb, protocol)), &v))
		return 0;
	__sync_fetch_and_add(&e->c.tx_packets, 1);
	if (v.t.proto == IPPROTO_TCP && !v.later)
		__sync_fetch_and_add(&e->c.tx_flags[v.tcp_flags & (KL_FLAG_COMBOS - 1)], 1);
	if (v.later)
		return 0;
	if (!e->tuple_set) {
		e->tuple = v.t;
		pkt_register(id, &e->tuple, &e->tuple_set);
	}
	if (v.t.proto == IPPROTO_UDP && !e->wild_set) {
		e->wild.lport = v.t.lport;
		e->wild.proto = IPPROTO_UDP;
		pkt_register(id, &e->wild, &e->wild_set);
	}
	return 0;
}

/* A packet arriving: net:netif_receive_skb (skb->data at the IP header; no socket yet),
 * its socket found by its addresses and ports (a UDP socket also by its local port). A
 * packet of a socket not counted costs one lookup (a UDP one two). */
SEC("tp_btf/netif_receive_skb")
int BPF_PROG(on_pkt_rx, struct sk_buff *skb)
{
	struct pkt_view v = {};
	struct pkt_sock *e;
	__u64 *owner;
	__u64 id;

	if (!pkt_parse(BPF_CORE_READ(skb, data), bpf_ntohs(BPF_CORE_READ(skb, protocol)), &v))
		return 0;
	if (v.later) {
		owner = bpf_map_lookup_elem(&pkt_frags, &v.frag);
	} else {
		pkt_swap(&v.t);
		owner = bpf_map_lookup_elem(&pkt_tuples, &v.t);
		if (!owner && v.t.proto == IPPROTO_UDP) {
			struct pkt_tuple w = {};

			w.lport = v.t.lport;
			w.proto = IPPROTO_UDP;
			owner = bpf_map_lookup_elem(&pkt_tuples, &w);
		}
	}
	if (!owner)
		return 0;
	id = *owner;
	e = bpf_map_lookup_elem(&pkt_socks, &id);
	if (!e)
		return 0;
	__sync_fetch_and_add(&e->c.rx_packets, 1);
	e->c.rx_ttl = v.ttl;
	if (v.is_frag) {
		__sync_fetch_and_add(&e->c.rx_frags, 1);
		if (!v.later)
			bpf_map_update_elem(&pkt_frags, &v.frag, &id, BPF_ANY);
	}
	if (v.t.proto == IPPROTO_TCP && !v.later)
		__sync_fetch_and_add(&e->c.rx_flags[v.tcp_flags & (KL_FLAG_COMBOS - 1)], 1);
	return 0;
}

/* A packet the kernel dropped (skb:kfree_skb: not consumed), with its reason: counted for
 * the socket it was for (rx_sk, else skb->sk). */
SEC("tp_btf/kfree_skb")
int BPF_PROG(on_pkt_drop, struct sk_buff *skb, void *location, enum skb_drop_reason reason,
	     struct sock *rx_sk)
{
	struct sock *sk = rx_sk ? rx_sk : BPF_CORE_READ(skb, sk);
	struct pkt_sock *e;
	__u64 id;

	if (!sk || !reason)
		return 0;
	id = sk_ident(sk);
	e = bpf_map_lookup_elem(&pkt_socks, &id);
	if (e)
		add_drop(&e->c, reason);
	return 0;
}

/* sock:sock_rcvqueue_full: a packet found no room in the socket's receive queue. */
SEC("tp_btf/sock_rcvqueue_full")
int BPF_PROG(on_pkt_rcvqueue_full, struct sock *sk, struct sk_buff *skb)
{
	struct pkt_sock *e;
	__u64 id;

	if (!sk)
		return 0;
	id = sk_ident(sk);
	e = bpf_map_lookup_elem(&pkt_socks, &id);
	if (e)
		__sync_fetch_and_add(&e->c.rcvqueue_full, 1);
	return 0;
}

#define SOCK_DEAD_BIT 0 /* enum sock_flags SOCK_DEAD: sock_orphan'ed, closed */

static long pkt_flush_one(void *map, __u64 *key, struct pkt_sock *e, void *ctx)
{
	__u64 id = *key;
	struct sock *sk = (struct sock *)(id ^ sk_key);
	__u64 flags = BPF_CORE_READ(sk, __sk_common.skc_flags);
	/* A closed TCP socket lives on, orphaned, until its state is TCP_CLOSE (which writes
	 * its last counters in sock_state). */
	bool gone = (flags & (1 << SOCK_DEAD_BIT)) &&
		    (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP ||
		     BPF_CORE_READ(sk, __sk_common.skc_state) == 7 /* TCP_CLOSE */);

	pkt_write(sk, e, gone ? SOCK_CNT_GONE : SOCK_CNT_PERIODIC, bpf_ktime_get_boot_ns());
	if (gone)
		pkt_forget(id, e);
	return 0;
}

/*
 * Never attached: run by the recorder (BPF_PROG_TEST_RUN) before each statistics block and
 * at the end. Writes every counted socket's counters; a socket found closed (SOCK_DEAD:
 * UDP and UNIX sockets, which have no state change at close) for the last time, and its
 * entries freed.
 */
SEC("raw_tp")
int pkt_flush(void *ctx)
{
	bpf_for_each_map_elem(&pkt_socks, pkt_flush_one, NULL, 0);
	return 0;
}
