// SPDX-License-Identifier: GPL-2.0-only
/*
 * A workload that triggers every event type of kellect's catalogue (src/replayer/views/events.rs)
 * with distinctive values that tests/catalogue.rs checks in a recording of it.
 *
 * Usage: catalogue SCRATCH_DIR   (an existing, empty directory, absolute path)
 * Started by a relative path (./catalogue), it first opens itself by that path.
 *
 * The syscall variant matters to the recording, so most calls go through syscall(SYS_xxx)
 * instead of the libc wrapper (which may pick another variant: glibc's open() is openat).
 * On architectures without the legacy calls (aarch64: no open, rename, stat...) the *at
 * variant with AT_FDCWD stands in.
 *
 * On success it prints one `key=value` line per value the test cannot know in advance (pid,
 * fds, inodes, ports, addresses) and exits 0; on a failure it names the step on stderr and
 * exits 1. Build: cc -O1 -pthread -o catalogue catalogue.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE 1
#endif

static const char *scratch;
static char notes[8192];
static size_t notes_len;

/* Remembers a check value for the report printed at the end. */
static void note(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	notes_len += vsnprintf(notes + notes_len, sizeof(notes) - notes_len, fmt, ap);
	va_end(ap);
	if (notes_len < sizeof(notes) - 1)
		notes[notes_len++] = '\n';
}

static void fail(const char *what)
{
	fprintf(stderr, "catalogue: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* A syscall that must succeed; returns its result. */
static long ok(long ret, const char *what)
{
	if (ret < 0)
		fail(what);
	return ret;
}

/* A syscall that must fail with `err`. */
static void fails(long ret, int err, const char *what)
{
	if (ret != -1 || errno != err) {
		fprintf(stderr, "catalogue: %s: expected errno %d, got %ld (errno %d)\n", what, err,
			ret, errno);
		exit(1);
	}
}

/* SCRATCH/name (never freed: the program is short). */
static char *in_scratch(const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", scratch, name) < 0)
		fail("asprintf");
	return p;
}

/* ---- legacy syscalls, or their *at stand-in where the architecture lacks them ---- */

static long sys_open(const char *path, int flags, mode_t mode)
{
#ifdef SYS_open
	return syscall(SYS_open, path, flags, mode);
#else
	return syscall(SYS_openat, AT_FDCWD, path, flags, mode);
#endif
}

static long sys_creat(const char *path, mode_t mode)
{
#ifdef SYS_creat
	return syscall(SYS_creat, path, mode);
#else
	return syscall(SYS_openat, AT_FDCWD, path, O_WRONLY | O_CREAT | O_TRUNC, mode);
#endif
}

static long sys_unlink(const char *path)
{
#ifdef SYS_unlink
	return syscall(SYS_unlink, path);
#else
	return syscall(SYS_unlinkat, AT_FDCWD, path, 0);
#endif
}

static long sys_rmdir(const char *path)
{
#ifdef SYS_rmdir
	return syscall(SYS_rmdir, path);
#else
	return syscall(SYS_unlinkat, AT_FDCWD, path, AT_REMOVEDIR);
#endif
}

static long sys_mkdir(const char *path, mode_t mode)
{
#ifdef SYS_mkdir
	return syscall(SYS_mkdir, path, mode);
#else
	return syscall(SYS_mkdirat, AT_FDCWD, path, mode);
#endif
}

static long sys_rename(const char *from, const char *to)
{
#ifdef SYS_rename
	return syscall(SYS_rename, from, to);
#else
	return syscall(SYS_renameat2, AT_FDCWD, from, AT_FDCWD, to, 0);
#endif
}

static long sys_chmod(const char *path, mode_t mode)
{
#ifdef SYS_chmod
	return syscall(SYS_chmod, path, mode);
#else
	return syscall(SYS_fchmodat, AT_FDCWD, path, mode);
#endif
}

static long sys_stat(const char *path, struct stat *st)
{
#ifdef SYS_stat
	return syscall(SYS_stat, path, st);
#else
	return syscall(SYS_newfstatat, AT_FDCWD, path, st, 0);
#endif
}

static long sys_lstat(const char *path, struct stat *st)
{
#ifdef SYS_lstat
	return syscall(SYS_lstat, path, st);
#else
	return syscall(SYS_newfstatat, AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
#endif
}

static long sys_link(const char *from, const char *to)
{
#ifdef SYS_link
	return syscall(SYS_link, from, to);
#else
	return syscall(SYS_linkat, AT_FDCWD, from, AT_FDCWD, to, 0);
#endif
}

static long sys_symlink(const char *target, const char *path)
{
#ifdef SYS_symlink
	return syscall(SYS_symlink, target, path);
#else
	return syscall(SYS_symlinkat, target, AT_FDCWD, path);
#endif
}

static long sys_dup2(int fd, int to)
{
#ifdef SYS_dup2
	return syscall(SYS_dup2, fd, to);
#else
	return syscall(SYS_dup3, fd, to, 0);
#endif
}

static long sys_pipe(int fds[2])
{
#ifdef SYS_pipe
	return syscall(SYS_pipe, fds);
#else
	return syscall(SYS_pipe2, fds, 0);
#endif
}

static long sys_fork(void)
{
#ifdef SYS_fork
	return syscall(SYS_fork);
#else
	return syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0);
#endif
}

/* Waits for `pid` and returns its wait status. */
static int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		fail("waitpid");
	return status;
}

/* ---- file ---- */

/* Returns an fd of created.txt, open for reading. */
static int files(void)
{
	static char buf[8192];
	struct iovec wv[3] = { { buf, 100 }, { buf, 200 }, { buf, 3 } };
	struct iovec rv[2] = { { buf, 10 }, { buf, 20 } };
	struct stat st;
	struct statx stx;
	int dirfd, created, creat_fd, rel, reader, fd;

	memset(buf, 'k', sizeof(buf));

	ok(sys_mkdir(in_scratch("sub"), 0755), "mkdir sub");
	ok(sys_mkdir(in_scratch("dir-mkdir"), 0750), "mkdir");
	dirfd = ok(open(scratch, O_RDONLY | O_DIRECTORY), "open scratch");
	note("dirfd=%d", dirfd);
	ok(syscall(SYS_mkdirat, dirfd, "dir-mkdirat", 0705), "mkdirat");

	/* Creations, and writes of distinct sizes: 1234 + 303 at 0, 777 at 5000 → 5777 bytes. */
	created = ok(sys_open(in_scratch("created.txt"), O_WRONLY | O_CREAT | O_EXCL, 0640),
		     "open O_CREAT");
	note("fd_created=%d", created);
	ok(syscall(SYS_write, created, buf, 1234), "write");
	ok(syscall(SYS_writev, created, wv, 3), "writev");
	ok(syscall(SYS_pwrite64, created, buf, 777, 5000), "pwrite64");
	ok(syscall(SYS_close, created), "close created");
	creat_fd = ok(sys_creat(in_scratch("creat.txt"), 0600), "creat");
	note("fd_creat=%d", creat_fd);
	ok(syscall(SYS_fstat, creat_fd, &st), "fstat creat");
	note("ino_creat=%llu", (unsigned long long)st.st_ino);
	rel = ok(syscall(SYS_openat, dirfd, "sub/rel.txt", O_RDWR | O_CREAT | O_TRUNC, 0604),
		 "openat dirfd");
	note("fd_rel=%d", rel);
	ok(syscall(SYS_close, rel), "close rel");

	/* Opens of an existing and a missing file; reads of distinct sizes. */
	reader = ok(sys_open(in_scratch("created.txt"), O_RDONLY, 0), "open existing");
	note("fd_reader=%d", reader);
	fails(sys_open(in_scratch("missing.txt"), O_RDONLY, 0), ENOENT, "open missing");
	ok(syscall(SYS_read, reader, buf, 100), "read");
	ok(syscall(SYS_pread64, reader, buf, 55, 7), "pread64");
	ok(syscall(SYS_readv, reader, rv, 2), "readv");

	/* Symlinks first: lstat looks at one. */
	ok(sys_symlink("created.txt", in_scratch("sym-link")), "symlink");
	ok(syscall(SYS_symlinkat, "/nonexistent/kellect-target", dirfd, "sym-linkat"),
	   "symlinkat");

	/* The stat family, all on created.txt (mode 0640 under umask 0, 5777 bytes). */
	ok(sys_stat(in_scratch("created.txt"), &st), "stat");
	note("ino_created=%llu", (unsigned long long)st.st_ino);
	note("size_created=%lld", (long long)st.st_size);
	note("mode_created=%u", (unsigned)st.st_mode);
	ok(syscall(SYS_fstat, reader, &st), "fstat");
	ok(syscall(SYS_newfstatat, dirfd, "created.txt", &st, 0), "newfstatat");
	ok(statx(dirfd, "created.txt", 0, STATX_BASIC_STATS, &stx), "statx");
	if (stx.stx_size != 5777)
		fail("statx size");
	ok(sys_lstat(in_scratch("sym-link"), &st), "lstat");
	note("ino_symlink=%llu", (unsigned long long)st.st_ino);
	note("mode_symlink=%u", (unsigned)st.st_mode);
	note("size_symlink=%lld", (long long)st.st_size);

	/* Modes: three variants, three distinct modes. */
	ok(sys_chmod(in_scratch("created.txt"), 0751), "chmod");
	ok(syscall(SYS_fchmod, reader, 0742), "fchmod");
	ok(syscall(SYS_fchmodat, dirfd, "created.txt", 0714), "fchmodat");

	/* Duplicates to distinctive numbers; fcntl(F_GETFD) is not a dup, so not recorded. */
	fd = ok(syscall(SYS_dup, reader), "dup");
	note("fd_dup=%d", fd);
	ok(sys_dup2(reader, 77), "dup2");
	ok(syscall(SYS_dup3, reader, 78, O_CLOEXEC), "dup3");
	if (ok(syscall(SYS_fcntl, reader, F_DUPFD_CLOEXEC, 90), "fcntl F_DUPFD_CLOEXEC") != 90)
		fail("fcntl F_DUPFD_CLOEXEC: not 90");
	ok(syscall(SYS_fcntl, 77, F_GETFD), "fcntl F_GETFD");
	ok(syscall(SYS_close, 77), "close 77");
	ok(syscall(SYS_close, 78), "close 78");
	ok(syscall(SYS_close, 90), "close 90");
	ok(syscall(SYS_close, fd), "close dup");

	/* Truncations of creat.txt to distinct lengths. */
	ok(syscall(SYS_truncate, in_scratch("creat.txt"), 3333), "truncate");
	ok(syscall(SYS_ftruncate, creat_fd, 2222), "ftruncate");

	/* Links, renames (one refused: RENAME_NOREPLACE onto an existing file), deletions. */
	ok(sys_link(in_scratch("created.txt"), in_scratch("hard-link")), "link");
	ok(syscall(SYS_linkat, dirfd, "created.txt", AT_FDCWD, in_scratch("hard-linkat"),
		   AT_SYMLINK_FOLLOW),
	   "linkat");
	ok(sys_rename(in_scratch("hard-link"), in_scratch("renamed")), "rename");
	ok(syscall(SYS_renameat2, dirfd, "renamed", AT_FDCWD, in_scratch("renamed2"),
		   RENAME_NOREPLACE),
	   "renameat2");
	fails(syscall(SYS_renameat2, dirfd, "renamed2", dirfd, "created.txt", RENAME_NOREPLACE),
	      EEXIST, "renameat2 onto an existing file");
	ok(sys_unlink(in_scratch("renamed2")), "unlink");
	ok(syscall(SYS_unlinkat, dirfd, "hard-linkat", 0), "unlinkat");
	ok(sys_rmdir(in_scratch("dir-mkdir")), "rmdir");
	ok(syscall(SYS_unlinkat, dirfd, "dir-mkdirat", AT_REMOVEDIR), "unlinkat AT_REMOVEDIR");

	/* Working directories: relative opens resolve against the new one. */
	ok(syscall(SYS_chdir, in_scratch("sub")), "chdir");
	fd = ok(sys_open("rel.txt", O_RDONLY, 0), "open after chdir");
	note("fd_open_after_chdir=%d", fd);
	ok(syscall(SYS_close, fd), "close rel after chdir");
	ok(syscall(SYS_fchdir, dirfd), "fchdir");
	fd = ok(sys_open("creat.txt", O_RDONLY, 0), "open after fchdir");
	note("fd_open_after_fchdir=%d", fd);
	ok(syscall(SYS_close, fd), "close creat after fchdir");

	ok(syscall(SYS_close, creat_fd), "close creat");
	return reader; /* still open: mapped below */
}

/* ---- process ---- */

static pid_t main_pid;

static void *thread_main(void *arg)
{
	pid_t tid = syscall(SYS_gettid);

	(void)arg;
	ok(syscall(SYS_tgkill, main_pid, tid, 0), "tgkill");
	return (void *)(long)tid;
}

static void processes(int reader)
{
	int fds[2], status;
	pid_t child;
	pthread_t thread;
	void *tid;
	char *mem, *file;

	ok(sys_pipe(fds), "pipe");
	note("pipe=%d,%d", fds[0], fds[1]);
	close(fds[0]);
	close(fds[1]);
	ok(syscall(SYS_pipe2, fds, O_CLOEXEC), "pipe2");
	note("pipe2=%d,%d", fds[0], fds[1]);
	close(fds[0]);
	close(fds[1]);
	/* An anonymous file in memory (MFD_CLOEXEC). */
	fds[0] = ok(syscall(SYS_memfd_create, "catalogue", 1), "memfd_create");
	note("memfd=%d", fds[0]);
	close(fds[0]);

	/* A raw fork whose child exits with 42. */
	child = ok(sys_fork(), "fork");
	if (child == 0)
		syscall(SYS_exit_group, 42);
	note("fork_child=%d", child);
	status = reap(child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 42)
		fail("fork child status");

	/* libc's fork (a clone); the child execs a missing file, then /bin/true. */
	child = ok(fork(), "fork for exec");
	if (child == 0) {
		char *argv[] = { "true", "kellect-catalogue", "exec-argv-3", NULL };
		char *envp[] = { "KELLECT_CATALOGUE=1", NULL };

		syscall(SYS_execve, in_scratch("no-such-program"), argv, envp);
		syscall(SYS_execve, "/bin/true", argv, envp);
		_exit(127);
	}
	note("exec_child=%d", child);
	status = reap(child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("exec child status");

	/* A child that waits: attached, detached, then killed by SIGTERM. */
	child = ok(fork(), "fork for SIGTERM");
	if (child == 0) {
		for (;;)
			pause();
	}
	note("term_child=%d", child);
	ok(syscall(SYS_ptrace, PTRACE_ATTACH, child, 0, 0), "ptrace attach");
	status = reap(child);
	if (!WIFSTOPPED(status))
		fail("ptrace attach stop");
	ok(syscall(SYS_ptrace, PTRACE_DETACH, child, 0, 0), "ptrace detach");
	ok(syscall(SYS_kill, child, SIGTERM), "kill SIGTERM");
	status = reap(child);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGTERM)
		fail("SIGTERM child status");

	/* Signal 0: does the target exist. */
	ok(syscall(SYS_kill, main_pid, 0), "kill 0");
	ok(syscall(SYS_tkill, main_pid, 0), "tkill 0");

	/* A thread (clone3 with CLONE_THREAD); it sends tgkill(0) to itself. */
	if (pthread_create(&thread, NULL, thread_main, NULL) != 0)
		fail("pthread_create");
	if (pthread_join(thread, &tid) != 0)
		fail("pthread_join");
	note("thread_tid=%ld", (long)tid);

	/* Mappings: the second page of created.txt, and three anonymous pages. */
	file = (char *)ok(syscall(SYS_mmap, 0, 4096, PROT_READ, MAP_PRIVATE, reader, 4096),
			  "mmap file");
	note("mmap_file=%lu", (unsigned long)file);
	mem = (char *)ok(syscall(SYS_mmap, 0, 12288, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
			 "mmap anonymous");
	note("mmap_anon=%lu", (unsigned long)mem);
	ok(syscall(SYS_mprotect, mem, 4096, PROT_READ | PROT_EXEC), "mprotect rx");
	ok(syscall(SYS_mprotect, mem + 4096, 4096, PROT_NONE), "mprotect none");
}

/* ---- network ---- */

static struct sockaddr_in loopback4(unsigned short port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* The port a socket is bound to. */
static unsigned short local_port(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	ok(getsockname(fd, (struct sockaddr *)&a, &len), "getsockname");
	if (a.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
	return ntohs(((struct sockaddr_in *)&a)->sin_port);
}

/* A socket bound to 127.0.0.1 on a free port, chosen by the kernel. */
static int bound4(int type, unsigned short *port)
{
	struct sockaddr_in a = loopback4(0);
	int fd = ok(socket(AF_INET, type, 0), "socket");

	ok(syscall(SYS_bind, fd, &a, sizeof(a)), "bind 127.0.0.1:0");
	*port = local_port(fd);
	return fd;
}

static void network(void)
{
	static char buf[4096];
	struct sockaddr_in a, from;
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	socklen_t len;
	unsigned short port, client_port, refused_port, u1_port, u2_port, v6_port;
	int probe, listener, client, accepted, refused, u1, u2, s6, c6, us, uc, ua, sv[2];
	struct iovec iov = { buf, 222 };
	struct msghdr msg = { 0 };
	const char *abstract_name;
	size_t n;

	memset(buf, 'n', sizeof(buf));

	/* TCP: a listener on a port found free, bound explicitly so bind shows the port. */
	probe = bound4(SOCK_STREAM, &port);
	close(probe);
	listener = ok(socket(AF_INET, SOCK_STREAM, 0), "socket listener");
	a = loopback4(port);
	ok(syscall(SYS_bind, listener, &a, sizeof(a)), "bind listener");
	ok(listen(listener, 4), "listen");
	note("fd_listener=%d", listener);
	note("port=%u", port);
	client = ok(socket(AF_INET, SOCK_STREAM, 0), "socket client");
	ok(syscall(SYS_connect, client, &a, sizeof(a)), "connect");
	client_port = local_port(client);
	note("fd_client=%d", client);
	note("client_port=%u", client_port);
	len = sizeof(from);
	accepted = ok(syscall(SYS_accept4, listener, &from, &len, SOCK_CLOEXEC), "accept4");
	note("fd_accepted=%d", accepted);
	len = sizeof(from);
	ok(syscall(SYS_getpeername, accepted, &from, &len), "getpeername accepted");
	len = sizeof(from);
	ok(syscall(SYS_getpeername, client, &from, &len), "getpeername client");
	if (ok(syscall(SYS_sendto, client, buf, 99, 0, NULL, 0), "send") != 99)
		fail("send: short");
	if (ok(syscall(SYS_recvfrom, accepted, buf, 500, 0, NULL, NULL), "recv") != 99)
		fail("recv: short");

	/* A port bound but not listening: connecting is refused. */
	probe = bound4(SOCK_STREAM, &refused_port);
	note("refused_port=%u", refused_port);
	refused = ok(socket(AF_INET, SOCK_STREAM, 0), "socket refused");
	a = loopback4(refused_port);
	fails(syscall(SYS_connect, refused, &a, sizeof(a)), ECONNREFUSED, "connect refused");
	close(refused);
	close(probe);

	/* UDP over loopback: sendto/recvfrom with 111 bytes, sendmsg/recvmsg with 222. */
	u1 = bound4(SOCK_DGRAM, &u1_port);
	u2 = bound4(SOCK_DGRAM, &u2_port);
	note("fd_u1=%d", u1);
	note("fd_u2=%d", u2);
	note("u1_port=%u", u1_port);
	note("u2_port=%u", u2_port);
	a = loopback4(u2_port);
	ok(syscall(SYS_sendto, u1, buf, 111, 0, &a, sizeof(a)), "sendto");
	len = sizeof(from);
	if (ok(syscall(SYS_recvfrom, u2, buf, 2048, 0, &from, &len), "recvfrom") != 111)
		fail("recvfrom: short");
	a = loopback4(u1_port);
	msg.msg_name = &a;
	msg.msg_namelen = sizeof(a);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	ok(syscall(SYS_sendmsg, u2, &msg, MSG_DONTWAIT), "sendmsg");
	memset(&from, 0, sizeof(from));
	iov.iov_len = sizeof(buf);
	msg.msg_name = &from;
	msg.msg_namelen = sizeof(from);
	if (ok(syscall(SYS_recvmsg, u1, &msg, 0), "recvmsg") != 222)
		fail("recvmsg: short");

	/* IPv6 loopback: bind [::1]:0, connect a second UDP socket to it. */
	s6 = ok(socket(AF_INET6, SOCK_DGRAM, 0), "socket AF_INET6");
	ok(syscall(SYS_bind, s6, &a6, sizeof(a6)), "bind [::1]:0");
	v6_port = local_port(s6);
	note("v6_port=%u", v6_port);
	c6 = ok(socket(AF_INET6, SOCK_DGRAM, 0), "socket AF_INET6 client");
	a6.sin6_port = htons(v6_port);
	ok(syscall(SYS_connect, c6, &a6, sizeof(a6)), "connect [::1]");

	/* UNIX sockets: a path (connected to) and an abstract name. */
	snprintf(un.sun_path, sizeof(un.sun_path), "%s/unix.sock", scratch);
	us = ok(socket(AF_UNIX, SOCK_STREAM, 0), "socket AF_UNIX");
	ok(syscall(SYS_bind, us, &un, sizeof(un)), "bind unix path");
	ok(listen(us, 1), "listen unix");
	uc = ok(socket(AF_UNIX, SOCK_STREAM, 0), "socket AF_UNIX client");
	ok(syscall(SYS_connect, uc, &un, sizeof(un)), "connect unix path");
	if (asprintf((char **)&abstract_name, "kellect-test-catalogue-%d", main_pid) < 0)
		fail("asprintf");
	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	n = strlen(abstract_name);
	memcpy(un.sun_path + 1, abstract_name, n); /* sun_path[0] = 0: abstract */
	ua = ok(socket(AF_UNIX, SOCK_DGRAM, 0), "socket AF_UNIX abstract");
	ok(syscall(SYS_bind, ua, &un, offsetof(struct sockaddr_un, sun_path) + 1 + n),
	   "bind abstract");

	ok(syscall(SYS_socketpair, AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv), "socketpair");
	note("socketpair=%d,%d", sv[0], sv[1]);
}

/* ---- permission ---- */

/* Keeps root: sets the ids to what they are, or leaves them (-1). */
static void ids_unchanged(void)
{
	ok(syscall(SYS_setuid, 0), "setuid 0");
	ok(syscall(SYS_setreuid, -1, 0), "setreuid -1 0");
	ok(syscall(SYS_setresuid, 0, -1, -1), "setresuid 0 -1 -1");
	ok(syscall(SYS_setgid, 0), "setgid 0");
	ok(syscall(SYS_setregid, 0, -1), "setregid 0 -1");
	ok(syscall(SYS_setresgid, -1, -1, -1), "setresgid -1 -1 -1");
}

/* In a child: distinct ids, then two calls refused once root is gone. */
static void ids_changed(void)
{
	pid_t child = ok(fork(), "fork for ids");
	int status;

	if (child == 0) {
		if (syscall(SYS_setgid, 4100) || syscall(SYS_setregid, 4101, 4102) ||
		    syscall(SYS_setresgid, 4103, 4104, 4105) ||
		    syscall(SYS_setresuid, 4003, 4004, 4005) || syscall(SYS_setreuid, -1, 4005) ||
		    syscall(SYS_setuid, 4003))
			_exit(1);
		if (syscall(SYS_setuid, 4999) != -1 || errno != EPERM)
			_exit(2);
		if (syscall(SYS_setgid, 4998) != -1 || errno != EPERM)
			_exit(3);
		_exit(0);
	}
	note("ids_child=%d", child);
	status = reap(child);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail("ids child status");
}

int main(int argc, char **argv)
{
	int reader;

	if (argc != 2 || argv[1][0] != '/') {
		fprintf(stderr, "usage: catalogue ABSOLUTE_SCRATCH_DIR\n");
		return 2;
	}
	if (getuid() != 0) {
		fprintf(stderr, "catalogue: must run as root (it changes ids and traces)\n");
		return 2;
	}
	scratch = argv[1];
	umask(0);
	main_pid = getpid();
	note("pid=%d", main_pid);
	/* Before any chdir: a relative path resolves against the cwd the program started in. */
	if (argv[0][0] != '/') {
		int self = ok(sys_open(argv[0], O_RDONLY, 0), "open argv[0]");

		note("fd_self=%d", self);
		ok(syscall(SYS_close, self), "close argv[0]");
	}

	reader = files();
	processes(reader);
	network();
	ids_unchanged();
	ids_changed();

	fwrite(notes, 1, notes_len, stdout);
	return 0;
}
