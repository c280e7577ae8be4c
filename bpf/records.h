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
#define KELLECT_ABI_VERSION 1

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
	REC_KIND_MAX = 16, /* size of the per-kind statistics array */
};

/* rec_hdr.flags */
#define REC_F_TRUNC0 (1 << 0) /* the first string of the tail was cut */
#define REC_F_TRUNC1 (1 << 1) /* the second string of the tail was cut */

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

/* REC_PROC_FORK: the header describes the parent (the task that called fork/clone). */
struct rec_fork {
	struct rec_hdr hdr;
	__u32 child_pid; /* the child's tgid: equal to hdr.pid when a thread was created */
	__u32 child_tid;
	__u64 clone_flags; /* flags of the clone call when known, else 0 */
	char child_comm[KL_COMM_LEN];
};

/* REC_PROC_EXEC: the header describes the task after exec (new comm). */
struct rec_exec {
	struct rec_hdr hdr;
	__u32 old_pid;	    /* tid that called exec (differs when a non-leader thread execs) */
	__u32 argc;	    /* number of arguments the program was given */
	__u16 filename_len; /* bytes of filename in the tail (REC_F_TRUNC0 if cut) */
	__u16 args_len;	    /* bytes of the argv area in the tail, NUL-separated (REC_F_TRUNC1) */
	__u32 _pad;
	/* tail: char filename[filename_len]; char args[args_len]; */
};

/* rec_exit.exit_flags */
#define EXIT_F_GROUP_DEAD (1 << 0) /* the last thread of the process: the process ended */
#define EXIT_F_GROUP_EXIT (1 << 1) /* ended by exit_group or a fatal signal (SIGNAL_GROUP_EXIT) */

/* REC_PROC_EXIT */
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

#endif /* KELLECT_RECORDS_H */
