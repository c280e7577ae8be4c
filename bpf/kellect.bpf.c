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
#include "records.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by user space before load (read-only data: the verifier prunes dead branches). */
const volatile __u32 self_tgid = 0;   /* the recorder's own process: never recorded */
const volatile __u8 target_mode = 0;  /* 1: record only the tree of the recorder's children */
const volatile __u8 group_mask = 0xff; /* event groups (G_*) whose syscalls are recorded */

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

/* How to capture each native syscall number (user space fills it before attaching). */
#define NR_SYSCALLS 1024
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, NR_SYSCALLS);
	__type(key, __u32);
	__type(value, struct sc_desc);
} syscalls SEC(".maps");

/* A syscall between its entry and its exit, per thread. */
struct pending {
	__u64 ts;
	__u64 args[6];
	__u32 nr;
	__u16 ksys;
	__u16 _pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 65536);
	__type(key, __u32);
	__type(value, struct pending);
} pending SEC(".maps");

/* Present in the object's BTF so the skeleton generates Rust types to check the mirrors. */
struct rec_fork _rec_fork = {};
struct rec_exec _rec_exec = {};
struct rec_exit _rec_exit = {};
struct rec_syscall _rec_syscall = {};
struct kl_inode _kl_inode = {};
struct sc_desc _sc_desc = {};
struct kind_stats _kind_stats = {};

static __always_inline void count(__u32 kind, bool dropped)
{
	struct kind_stats *s = bpf_map_lookup_elem(&stats, &kind);

	if (!s)
		return;
	if (dropped)
		s->dropped++;
	else
		s->emitted++;
}

static __always_inline bool is_target(__u32 tgid)
{
	if (tgid == self_tgid)
		return false;
	if (target_mode && !bpf_map_lookup_elem(&targets, &tgid))
		return false;
	return true;
}

/* Fills the common header for the current task. */
static __always_inline void fill_hdr(struct rec_hdr *h, __u16 kind, __u32 len, __u64 ts)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u64 uid_gid = bpf_get_current_uid_gid();

	h->kind = kind;
	h->flags = 0;
	h->len = len;
	h->ts = ts;
	h->pid = pid_tgid >> 32;
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->uid = (__u32)uid_gid;
	h->gid = uid_gid >> 32;
	h->cpu = bpf_get_smp_processor_id();
	h->syscall = 0;
	bpf_get_current_comm(h->comm, sizeof(h->comm));
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

	if (target_mode && !thread) {
		if (ptgid == self_tgid) {
			/* The recorded command itself: its tree starts here. */
			bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
			return 0;
		}
		if (!bpf_map_lookup_elem(&targets, &ptgid))
			return 0;
		bpf_map_update_elem(&targets, &ctgid, &one, BPF_ANY);
	} else if (!is_target(ptgid)) {
		return 0;
	}

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (!r) {
		count(REC_PROC_FORK, true);
		return 0;
	}
	fill_hdr(&r->hdr, REC_PROC_FORK, sizeof(*r), ts);
	r->child_pid = ctgid;
	r->child_tid = BPF_CORE_READ(child, pid);
	r->clone_flags = 0;
	{
		/* The parent is inside fork/vfork/clone/clone3: its entry has the flags. */
		__u32 tid = r->hdr.tid;
		struct pending *p = bpf_map_lookup_elem(&pending, &tid);

		if (p) {
			r->hdr.syscall = p->ksys;
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
	bpf_ringbuf_submit(r, 0);
	count(REC_PROC_FORK, false);
	return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 tgid = BPF_CORE_READ(p, tgid);
	__u64 ts = bpf_ktime_get_boot_ns();
	struct rec_exec *r;
	const char *filename;
	unsigned long arg_start, arg_end, args;
	long n;
	__u32 flen = 0, flags = 0;

	if (!is_target(tgid))
		return 0;

	r = bpf_ringbuf_reserve(&events, sizeof(*r) + KL_PATH_MAX + KL_ARGV_MAX, 0);
	if (!r) {
		count(REC_PROC_EXEC, true);
		return 0;
	}
	fill_hdr(&r->hdr, REC_PROC_EXEC, 0, ts);
	r->old_pid = old_pid;
	r->argc = BPF_CORE_READ(bprm, argc);
	r->_pad = 0;

	filename = BPF_CORE_READ(bprm, filename);
	n = bpf_probe_read_kernel_str((char *)(r + 1), KL_PATH_MAX, filename);
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
	    bpf_probe_read_user((char *)(r + 1) + flen, args, (const void *)arg_start) < 0)
		args = 0;

	r->filename_len = flen;
	r->args_len = args;
	r->hdr.flags = flags;
	r->hdr.len = sizeof(*r) + flen + args;
	{
		/* The exec's entry was recorded under the tid that called it. */
		__u32 tid = old_pid;
		struct pending *p = bpf_map_lookup_elem(&pending, &tid);

		if (p) {
			r->hdr.syscall = p->ksys;
			bpf_map_delete_elem(&pending, &tid);
		}
	}
	bpf_ringbuf_submit(r, 0);
	count(REC_PROC_EXEC, false);
	return 0;
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

	r = bpf_ringbuf_reserve(&events, sizeof(*r), 0);
	if (r) {
		fill_hdr(&r->hdr, REC_PROC_EXIT, sizeof(*r), ts);
		r->exit_code = BPF_CORE_READ(p, exit_code);
		r->exit_flags = flags;
		{
			__u32 tid = r->hdr.tid;
			struct pending *pd = bpf_map_lookup_elem(&pending, &tid);

			if (pd && (pd->ksys == KS_EXIT || pd->ksys == KS_EXIT_GROUP))
				r->hdr.syscall = pd->ksys;
		}
		bpf_ringbuf_submit(r, 0);
	}
	count(REC_PROC_EXIT, !r);
	{
		/* A task that dies inside a syscall never reaches its exit: forget the entry. */
		__u32 tid = BPF_CORE_READ(p, pid);

		bpf_map_delete_elem(&pending, &tid);
	}

	if (target_mode && (flags & EXIT_F_GROUP_DEAD))
		bpf_map_delete_elem(&targets, &tgid);
	return 0;
}

/* ---- syscalls: arguments at entry, everything else at exit ---- */

SEC("tp_btf/sys_enter")
int BPF_PROG(on_sys_enter, struct pt_regs *regs, long id)
{
	struct sc_desc *d;
	struct pending p = {};
	__u32 nr = id, tid;
	__u64 pid_tgid;

	if (id < 0 || id >= NR_SYSCALLS)
		return 0;
	d = bpf_map_lookup_elem(&syscalls, &nr);
	if (!d || !d->ksys || !(d->group & group_mask))
		return 0;
	pid_tgid = bpf_get_current_pid_tgid();
	if (!is_target(pid_tgid >> 32))
		return 0;

	p.args[0] = PT_REGS_PARM1_CORE_SYSCALL(regs);
	p.args[1] = PT_REGS_PARM2_CORE_SYSCALL(regs);
	if ((d->flags & D_FCNTL_DUP) && p.args[1] != 0 /* F_DUPFD */ &&
	    p.args[1] != 1030 /* F_DUPFD_CLOEXEC */)
		return 0;
	p.args[2] = PT_REGS_PARM3_CORE_SYSCALL(regs);
	p.args[3] = PT_REGS_PARM4_CORE_SYSCALL(regs);
	p.args[4] = PT_REGS_PARM5_CORE_SYSCALL(regs);
	p.args[5] = PT_REGS_PARM6_CORE_SYSCALL(regs);
	p.ts = bpf_ktime_get_boot_ns();
	p.nr = nr;
	p.ksys = d->ksys;
	tid = (__u32)pid_tgid;
	if (bpf_map_update_elem(&pending, &tid, &p, BPF_ANY))
		count(REC_SYSCALL, true);
	return 0;
}

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

/* The inode times moved three times between 6.5 and 6.11: CO-RE picks what exists. */
static __always_inline void inode_times(struct inode *inode, struct kl_inode *out)
{
	if (bpf_core_field_exists(inode->i_atime_sec)) {
		out->atime_ns = BPF_CORE_READ(inode, i_atime_sec) * 1000000000LL +
				BPF_CORE_READ(inode, i_atime_nsec);
		out->mtime_ns = BPF_CORE_READ(inode, i_mtime_sec) * 1000000000LL +
				BPF_CORE_READ(inode, i_mtime_nsec);
		out->ctime_ns = BPF_CORE_READ(inode, i_ctime_sec) * 1000000000LL +
				BPF_CORE_READ(inode, i_ctime_nsec);
	} else if (bpf_core_field_exists(((struct inode___v67 *)inode)->__i_atime)) {
		struct inode___v67 *i = (void *)inode;

		out->atime_ns = ts_ns(BPF_CORE_READ(i, __i_atime));
		out->mtime_ns = ts_ns(BPF_CORE_READ(i, __i_mtime));
		out->ctime_ns = ts_ns(BPF_CORE_READ(i, __i_ctime));
	} else if (bpf_core_field_exists(((struct inode___v66 *)inode)->__i_ctime)) {
		struct inode___v66 *i = (void *)inode;

		out->atime_ns = ts_ns(BPF_CORE_READ(i, i_atime));
		out->mtime_ns = ts_ns(BPF_CORE_READ(i, i_mtime));
		out->ctime_ns = ts_ns(BPF_CORE_READ(i, __i_ctime));
	} else {
		struct inode___old *i = (void *)inode;

		out->atime_ns = ts_ns(BPF_CORE_READ(i, i_atime));
		out->mtime_ns = ts_ns(BPF_CORE_READ(i, i_mtime));
		out->ctime_ns = ts_ns(BPF_CORE_READ(i, i_ctime));
	}
}

/* The struct file behind one of the current task's fds, or NULL. */
static __always_inline struct file *fd_file(__s64 fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task_btf();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds;
	struct file *f = NULL;

	if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	bpf_probe_read_kernel(&f, sizeof(f), &fds[fd]);
	return f;
}

static __always_inline bool read_inode(struct file *f, struct kl_inode *out)
{
	struct inode *inode;

	if (!f)
		return false;
	inode = BPF_CORE_READ(f, f_inode);
	if (!inode)
		return false;
	out->ino = BPF_CORE_READ(inode, i_ino);
	out->size = BPF_CORE_READ(inode, i_size);
	out->dev = BPF_CORE_READ(inode, i_sb, s_dev);
	out->mode = BPF_CORE_READ(inode, i_mode);
	out->uid = BPF_CORE_READ(inode, i_uid.val);
	out->gid = BPF_CORE_READ(inode, i_gid.val);
	out->nlink = BPF_CORE_READ(inode, __i_nlink);
	out->fmode = BPF_CORE_READ(f, f_mode);
	inode_times(inode, out);
	return true;
}

/* Reads a kernel-filled stat/statx buffer into the arch-neutral struct kl_inode. */
static __always_inline bool read_stat(__u8 kind, const void *ptr, struct kl_inode *out)
{
	if (!ptr)
		return false;
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

/* Tail capacity of a syscall record with `paths` path strings. */
/* Room for addr, out and inode, plus slack for the verifier's coarse offset bounds. */
#define SC_TAIL_FIXED (KL_ADDR_MAX * 4 + sizeof(struct kl_inode) * 2)
#define SC_RESERVE(paths) (sizeof(struct rec_syscall) + (paths) * KL_PATH_MAX + SC_TAIL_FIXED)

/*
 * Fills and submits one syscall record. `cap_paths` is how many path slots the
 * reservation has (a constant at each call site, as the verifier wants).
 */
static __always_inline int emit_syscall(struct pending *p, struct sc_desc *d, long ret,
					int cap_paths)
{
	struct rec_syscall *r;
	char *tail;
	__u32 off = 0, n0 = 0, n1 = 0, alen = 0, olen = 0;
	__u16 sc_flags = 0;
	struct kl_inode ino = {};
	long n;

	if (cap_paths == 2)
		r = bpf_ringbuf_reserve(&events, SC_RESERVE(2), 0);
	else if (cap_paths == 1)
		r = bpf_ringbuf_reserve(&events, SC_RESERVE(1), 0);
	else
		r = bpf_ringbuf_reserve(&events, SC_RESERVE(0), 0);
	if (!r) {
		count(REC_SYSCALL, true);
		return 0;
	}
	fill_hdr(&r->hdr, REC_SYSCALL, 0, bpf_ktime_get_boot_ns());
	r->hdr.syscall = p->ksys;
	r->enter_ts = p->ts;
	r->ret = ret;
	__builtin_memcpy(r->args, p->args, sizeof(r->args));
	r->data_len = 0;
	r->_pad = 0;
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

	if (d->addr_kind != A_NONE) {
		const void *ptr = NULL;
		__u32 len = 0;

		if (d->addr_kind == A_IN) {
			ptr = (const void *)arg(p, d->addr_arg);
			len = arg(p, d->addr_len_arg);
		} else if (d->addr_kind == A_OUT) {
			const void *lenp = (const void *)arg(p, d->addr_len_arg);

			ptr = (const void *)arg(p, d->addr_arg);
			if (ptr && lenp && ret >= 0)
				bpf_probe_read_user(&len, sizeof(len), lenp);
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
	} else if (ret >= 0 && d->out_kind != O_NONE) {
		const void *ptr = (const void *)arg(p, d->out_arg);

		if (d->out_kind == O_FDPAIR) {
			if (ptr && bpf_probe_read_user(tail + off, 8, ptr) == 0)
				olen = 8;
		} else {
			struct kl_inode st = {};

			if (read_stat(d->out_kind, ptr, &st) &&
			    bpf_probe_read_kernel(tail + off, sizeof(st), &st) == 0)
				olen = sizeof(st);
		}
		off += olen;
	}

	if (ret >= 0) {
		struct file *f = NULL;

		if (d->flags & D_RET_FD)
			f = fd_file(ret);
		else if (d->fd_arg)
			f = fd_file((__s32)arg(p, d->fd_arg));
		if (f && read_inode(f, &ino) &&
		    bpf_probe_read_kernel(tail + off, sizeof(ino), &ino) == 0) {
			sc_flags |= SC_F_INODE;
			off += sizeof(ino);
		}
	}

	r->path0_len = n0;
	r->path1_len = n1;
	r->addr_len = alen;
	r->out_len = olen;
	r->sc_flags = sc_flags;
	r->hdr.len = sizeof(*r) + off;
	bpf_ringbuf_submit(r, 0);
	count(REC_SYSCALL, false);
	return 0;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(on_sys_exit, struct pt_regs *regs, long ret)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct pending *pp = bpf_map_lookup_elem(&pending, &tid);
	struct pending p;
	struct sc_desc *d;

	if (!pp)
		return 0;
	p = *pp;
	bpf_map_delete_elem(&pending, &tid);
	d = bpf_map_lookup_elem(&syscalls, &p.nr);
	if (!d || (d->flags & D_CONTEXT) || ((d->flags & D_FAILURE_ONLY) && ret >= 0))
		return 0;
	if (d->path1)
		return emit_syscall(&p, d, ret, 2);
	if (d->path0)
		return emit_syscall(&p, d, ret, 1);
	return emit_syscall(&p, d, ret, 0);
}
