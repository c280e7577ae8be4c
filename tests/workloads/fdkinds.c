// SPDX-License-Identifier: GPL-2.0-only
/*
 * One fd of each kind, and what fstat(2) says of each: a regular file, one deleted while
 * open (nlink 0), a pipe, a unix socket, a memfd, an eventfd, /proc/self/status, /dev/null,
 * a directory of its own opened O_PATH and the regular file again at fd 1500 (dup2, after
 * raising RLIMIT_NOFILE). In three rounds over all the fds:
 *  1. a call that changes the inode's change time where it can (fchown(fd, -1, -1), which
 *     changes nothing else), else one that reads the fd's inode as the third round does;
 *  2. fstat, which queries the change time (multigrain timestamps keep a flag for that in
 *     the change time's nanoseconds);
 *  3. a call whose record carries the fd's inode and that changes no change time: pwrite of
 *     0 bytes (files), a 1-byte read (the pipe, /proc), a write (the socket, the eventfd,
 *     /dev/null), fchdir (the O_PATH directory).
 * Then fstat again and one line per fd:
 *   KIND FD INO SIZE MAJOR MINOR MODE UID GID NLINK ATIME_NS MTIME_NS CTIME_NS
 * (decimal; times in ns since the epoch): what the last record of each fd must show.
 * Exit status 0 when every call succeeded, 1 if not, 2 on a usage error.
 *
 * Usage: fdkinds DIR (DIR: where it creates its files and its directory, fdkinds-dir, which
 * nothing else touches while it runs). cc -O1 -o fdkinds fdkinds.c
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

enum { FILE_, DELETED, PIPE, SOCKET, MEMFD, EVENTFD, PROC, DEVNULL, OPATH, FD1500, KINDS };

static long long ns(struct timespec t)
{
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* Round 3's call on `fd`, of kind `k`: 0 when it did what it should. */
static int look(int fd, int k)
{
	unsigned long long one = 1;
	char c;

	switch (k) {
	case PIPE:
	case PROC:
		return read(fd, &c, 1) != 1;
	case SOCKET:
	case EVENTFD:
	case DEVNULL:
		return write(fd, &one, sizeof(one)) != sizeof(one);
	case OPATH:
		return fchdir(fd);
	default:
		return pwrite(fd, "", 0, 0) != 0;
	}
}

/* Round 1's call: a new change time, where the inode takes fchown (not the eventfd's
 * anonymous inode, nor the host's /dev/null, nor an O_PATH fd). */
static int change(int fd, int k)
{
	if (k == EVENTFD || k == DEVNULL || k == OPATH)
		return look(fd, k);
	return fchown(fd, -1, -1);
}

int main(int argc, char **argv)
{
	static const char *const kind[KINDS] = { "file",    "deleted", "pipe",  "socket",
						 "memfd",   "eventfd", "proc",  "devnull",
						 "opath",   "fd1500" };
	struct stat st[KINDS];
	char path[4096], deleted[4096], subdir[4096];
	int fd[KINDS], pipefd[2], sv[2], ok = 1, k;
	struct rlimit lim;

	if (argc != 2)
		return 2;
	snprintf(path, sizeof(path), "%s/fdkinds-file", argv[1]);
	snprintf(deleted, sizeof(deleted), "%s/fdkinds-deleted", argv[1]);
	snprintf(subdir, sizeof(subdir), "%s/fdkinds-dir", argv[1]);
	if (mkdir(subdir, 0750))
		return 1;
	if (getrlimit(RLIMIT_NOFILE, &lim) || lim.rlim_max < 1501)
		return 1;
	lim.rlim_cur = 1501;
	if (setrlimit(RLIMIT_NOFILE, &lim) || pipe(pipefd) || write(pipefd[1], "pp", 2) != 2 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 1;
	fd[FILE_] = open(path, O_CREAT | O_RDWR | O_TRUNC, 0640);
	if (fd[FILE_] < 0 || write(fd[FILE_], "fdkinds", 7) != 7)
		return 1;
	fd[DELETED] = open(deleted, O_CREAT | O_RDWR | O_TRUNC, 0600);
	if (fd[DELETED] < 0 || write(fd[DELETED], "gone", 4) != 4 || unlink(deleted))
		return 1;
	fd[PIPE] = pipefd[0];
	fd[SOCKET] = sv[0];
	fd[MEMFD] = memfd_create("fdkinds", 0);
	fd[EVENTFD] = eventfd(0, 0);
	fd[PROC] = open("/proc/self/status", O_RDONLY);
	fd[DEVNULL] = open("/dev/null", O_WRONLY);
	fd[OPATH] = open(subdir, O_PATH | O_DIRECTORY);
	fd[FD1500] = dup2(fd[FILE_], 1500);
	for (k = 0; k < KINDS; k++)
		if (fd[k] < 0 || change(fd[k], k))
			return 1;
	for (k = 0; k < KINDS; k++)
		if (fstat(fd[k], &st[k]))
			return 1;
	for (k = 0; k < KINDS; k++)
		if (look(fd[k], k))
			ok = 0;
	for (k = 0; k < KINDS; k++)
		if (fstat(fd[k], &st[k]))
			ok = 0;
	for (k = 0; ok && k < KINDS; k++)
		printf("%s %d %llu %lld %u %u %u %u %u %lu %lld %lld %lld\n", kind[k], fd[k],
		       (unsigned long long)st[k].st_ino, (long long)st[k].st_size,
		       major(st[k].st_dev), minor(st[k].st_dev), st[k].st_mode, st[k].st_uid,
		       st[k].st_gid, (unsigned long)st[k].st_nlink, ns(st[k].st_atim),
		       ns(st[k].st_mtim), ns(st[k].st_ctim));
	return ok ? 0 : 1;
}
