/*
 * The system-level event types beyond Kellect's 38: prctl, kernel modules, bpf(),
 * namespaces, mounts (mount(2) and the mount API), capset, chroot and pivot_root, each
 * with values chosen here. Run as root as `./system SCRATCH`: it works inside SCRATCH, in
 * a mount namespace of its own (unshare(CLONE_NEWNS), then / made private), so its tmpfs
 * mounts are seen by nobody else. No module is ever loaded: init_module gets 16 zero
 * bytes and finit_module an empty file, which the kernel refuses (or it has no modules).
 * Prints `key=value` lines for the test to compare with.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/capability.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef FSCONFIG_SET_STRING
#define FSCONFIG_SET_STRING 1
#define FSCONFIG_CMD_CREATE 6
#endif
#ifndef FSOPEN_CLOEXEC
#define FSOPEN_CLOEXEC 1
#define FSMOUNT_CLOEXEC 1
#endif
#ifndef MOUNT_ATTR_NODEV
#define MOUNT_ATTR_NODEV 4
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 4
#endif
#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef OPEN_TREE_CLOEXEC
#define OPEN_TREE_CLOEXEC O_CLOEXEC
#endif

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

int main(int argc, char **argv)
{
	if (argc != 2 || chdir(argv[1]) != 0) {
		fprintf(stderr, "usage: system SCRATCH\n");
		return 2;
	}
	printf("pid=%d\n", getpid());

	/* ---- prctl: a new name, dumpability, no_new_privs, ambient caps, seccomp ---- */
	prctl(PR_GET_DUMPABLE, 0, 0, 0, 0); /* a query: not recorded */
	printf("set_name=%d\n", prctl(PR_SET_NAME, "kworker/0:9", 0, 0, 0));
	int f = open("after-rename", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (f >= 0) {
		write(f, "renamed\n", 8);
		close(f);
	}
	printf("dumpable=%d\n", prctl(PR_SET_DUMPABLE, 0, 0, 0, 0));
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
	printf("ambient=%d\n", prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, CAP_NET_RAW, 0, 0));
	/* A NULL filter: refused with EFAULT, recorded with its error. */
	printf("seccomp=%d\n", prctl(PR_SET_SECCOMP, 2 /* SECCOMP_MODE_FILTER */, 0, 0, 0));

	/* ---- kernel modules: every call fails ---- */
	static char image[16];
	printf("init_module=%ld\n", syscall(SYS_init_module, image, sizeof(image), "answer=42"));
	int ko = open("empty.ko", O_CREAT | O_RDONLY, 0600);
	printf("ko=%d\n", ko);
	printf("finit_module=%ld\n", syscall(SYS_finit_module, ko, "debug=1", 0));
	close(ko);
	printf("delete_module=%ld\n",
	       syscall(SYS_delete_module, "kellect_no_such_module", O_NONBLOCK));

	/* ---- bpf: a trivial socket filter (r0 = 0; exit) and an array map ---- */
	struct bpf_insn insns[2] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 0},
		{.code = BPF_JMP | BPF_EXIT},
	};
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	attr.insn_cnt = 2;
	attr.insns = (uintptr_t)insns;
	attr.license = (uintptr_t) "GPL";
	strcpy(attr.prog_name, "kellect_sf");
	int prog = sys_bpf(BPF_PROG_LOAD, &attr);
	printf("prog_fd=%d\n", prog);
	memset(&attr, 0, sizeof(attr));
	attr.map_type = BPF_MAP_TYPE_ARRAY;
	attr.key_size = 4;
	attr.value_size = 8;
	attr.max_entries = 3;
	strcpy(attr.map_name, "kellect_map");
	int map = sys_bpf(BPF_MAP_CREATE, &attr);
	printf("map_fd=%d\n", map);
	/* An element read: not recorded. */
	uint32_t key = 0;
	uint64_t value = 0;
	memset(&attr, 0, sizeof(attr));
	attr.map_fd = map;
	attr.key = (uintptr_t)&key;
	attr.value = (uintptr_t)&value;
	sys_bpf(BPF_MAP_LOOKUP_ELEM, &attr);
	close(prog);
	close(map);

	/* ---- namespaces ---- */
	printf("unshare=%d\n", unshare(CLONE_NEWNS));
	int uts = open("/proc/self/ns/uts", O_RDONLY);
	printf("uts_fd=%d\n", uts);
	printf("setns=%d\n", setns(uts, CLONE_NEWUTS));
	close(uts);

	/* ---- mounts: mount(2) ---- */
	printf("private=%d\n", mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL));
	mkdir("mnt", 0755);
	printf("mount=%d\n", mount("kellect-tmpfs", "mnt", "tmpfs", MS_NOSUID | MS_NODEV, "size=1m"));
	printf("umount=%d\n", umount2("mnt", MNT_DETACH));
	printf("umount_again=%d\n", umount2("mnt", 0));

	/* ---- mounts: the mount API ---- */
	mkdir("mnt2", 0755);
	int fs = syscall(SYS_fsopen, "tmpfs", FSOPEN_CLOEXEC);
	printf("fs_fd=%d\n", fs);
	printf("fsconfig_source=%ld\n",
	       syscall(SYS_fsconfig, fs, FSCONFIG_SET_STRING, "source", "kellect-api", 0));
	printf("fsconfig_create=%ld\n", syscall(SYS_fsconfig, fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0));
	int mnt = syscall(SYS_fsmount, fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NODEV);
	printf("mnt_fd=%d\n", mnt);
	printf("move_mount=%ld\n",
	       syscall(SYS_move_mount, mnt, "", AT_FDCWD, "mnt2", MOVE_MOUNT_F_EMPTY_PATH));
	int tree = syscall(SYS_open_tree, AT_FDCWD, "mnt2", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
	printf("tree_fd=%d\n", tree);
	close(tree);
	close(mnt);
	close(fs);
	printf("umount2=%d\n", umount2("mnt2", MNT_DETACH));

	/* ---- capset: CAP_SYS_BOOT leaves the effective set ---- */
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	syscall(SYS_capget, &hdr, data);
	data[0].effective &= ~(1u << CAP_SYS_BOOT);
	printf("effective=%llu\n",
	       (unsigned long long)data[0].effective | (unsigned long long)data[1].effective << 32);
	printf("permitted=%llu\n",
	       (unsigned long long)data[0].permitted | (unsigned long long)data[1].permitted << 32);
	printf("capset=%ld\n", syscall(SYS_capset, &hdr, data));

	/* ---- chroot, pivot_root ---- */
	printf("chroot=%d\n", chroot("/"));
	printf("chroot_missing=%d\n", chroot("no-such-dir"));
	printf("pivot_root=%ld\n", syscall(SYS_pivot_root, "no-new-root", "no-put-old"));

	/* Last: one-way for this process. */
	printf("no_new_privs=%d\n", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0));
	fflush(stdout);
	return 0;
}
