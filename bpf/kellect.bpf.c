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

/* Present in the object's BTF so the skeleton generates Rust types to check the mirrors. */
struct rec_fork _rec_fork = {};
struct rec_exec _rec_exec = {};
struct rec_exit _rec_exit = {};
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
		bpf_ringbuf_submit(r, 0);
	}
	count(REC_PROC_EXIT, !r);

	if (target_mode && (flags & EXIT_F_GROUP_DEAD))
		bpf_map_delete_elem(&targets, &tgid);
	return 0;
}
