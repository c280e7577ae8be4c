// SPDX-License-Identifier: GPL-2.0-only
/*
 * The owner, time, extended attribute and in-kernel copy syscalls, each with values this
 * program chose, in the scratch directory given as its argument. Prints `key=value` lines
 * (fds, inode numbers) for the test (tests/files2.rs) to compare with the recording.
 * Syscalls are made through syscall(2) where the C library would pick another one
 * (chown, lchown, utimes, futimesat, utime, setxattrat, removexattrat).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#endif
#ifndef SYS_removexattrat
#define SYS_removexattrat 466
#endif

/* include/uapi/linux/xattr.h (6.13+) */
struct xattr_args_v0 {
	uint64_t value;
	uint32_t size;
	uint32_t flags;
};

static void die(const char *what)
{
	perror(what);
	exit(1);
}

static void check(long r, const char *what)
{
	if (r < 0)
		die(what);
}

static ino_t ino_of(int fd)
{
	struct stat st;

	check(fstat(fd, &st), "fstat");
	return st.st_ino;
}

int main(int argc, char **argv)
{
	char buf[3000];
	int fd, dirfd, src, dst, dst2, dst3, p[2], q[2];
	off_t off = 0;

	if (argc != 2 || chdir(argv[1]))
		die("usage: files2 SCRATCH_DIR");
	dirfd = open(".", O_RDONLY | O_DIRECTORY);
	check(dirfd, "open .");
	fd = open("owned", O_RDWR | O_CREAT | O_EXCL, 0644);
	check(fd, "open owned");
	check(write(fd, "hello", 5), "write");
	check(symlink("owned", "link"), "symlink");
	printf("pid=%d\nfd=%d\ndirfd=%d\nino_owned=%lu\n", getpid(), fd, dirfd,
	       (unsigned long)ino_of(fd));

	/* ---- owner ---- */
#ifdef SYS_chown
	check(syscall(SYS_chown, "owned", 1000, 1000), "chown");
	check(syscall(SYS_lchown, "link", 1001, -1), "lchown");
#endif
	check(fchown(fd, -1, 1002), "fchown");
	check(fchownat(AT_FDCWD, "owned", 1003, 1004, 0), "fchownat");
	if (fchownat(AT_FDCWD, "missing", 1, 1, AT_SYMLINK_NOFOLLOW) != -1)
		die("fchownat of a missing file");

	/* ---- times ---- */
	struct timespec ts1[2] = { { 1000000000, 123456789 }, { 0, UTIME_OMIT } };
	struct timespec ts2[2] = { { 0, UTIME_NOW }, { 86400, 5 } };
	check(utimensat(AT_FDCWD, "owned", ts1, 0), "utimensat 1");
	check(utimensat(AT_FDCWD, "link", ts2, AT_SYMLINK_NOFOLLOW), "utimensat 2");
	check(utimensat(AT_FDCWD, "owned", NULL, 0), "utimensat NULL");
#ifdef SYS_utimes
	struct timeval tv[2] = { { 2000, 1 }, { 3000, 2 } };
	struct timeval tv2[2] = { { 4000, 0 }, { 5000, 7 } };
	struct utimbuf ub = { 6000, 7000 };
	check(syscall(SYS_utimes, "owned", tv), "utimes");
	check(syscall(SYS_futimesat, dirfd, "owned", tv2), "futimesat");
	check(syscall(SYS_utime, "owned", &ub), "utime");
#endif
	/* The last one leaves the file's times: mtime 1234567890.5 s. */
	struct timespec ts3[2] = { { 1700000000, 0 }, { 1234567890, 500000000 } };
	check(utimensat(dirfd, "owned", ts3, 0), "utimensat 3");

	/* ---- extended attributes ---- */
	check(setxattr("owned", "user.kellect", "value", 5, XATTR_CREATE), "setxattr");
	check(lsetxattr("owned", "user.l", "abc", 3, 0), "lsetxattr");
	check(fsetxattr(fd, "user.kellect", "0123456789", 10, XATTR_REPLACE), "fsetxattr");
	if (fsetxattr(fd, "user.none", "x", 1, XATTR_REPLACE) != -1)
		die("fsetxattr XATTR_REPLACE of a missing attribute");
	struct xattr_args_v0 xa = { (uint64_t)(uintptr_t) "wxyz", 4, XATTR_CREATE };
	long at = syscall(SYS_setxattrat, AT_FDCWD, "owned", 0, "user.at", &xa, sizeof(xa));
	printf("setxattrat=%ld\n", at < 0 ? -1L : at);
	check(removexattr("owned", "user.l"), "removexattr");
	check(lremovexattr("owned", "user.kellect"), "lremovexattr");
	if (fremovexattr(fd, "user.none") != -1)
		die("fremovexattr of a missing attribute");
	at = syscall(SYS_removexattrat, AT_FDCWD, "owned", 0, "user.at");
	printf("removexattrat=%ld\n", at < 0 ? -1L : at);

	/* ---- in-kernel copies ---- */
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = 'a' + i % 26;
	src = open("src", O_RDWR | O_CREAT | O_TRUNC, 0600);
	check(src, "open src");
	check(write(src, buf, sizeof(buf)), "write src");
	check(lseek(src, 0, SEEK_SET), "lseek");
	dst = open("dst", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dst2 = open("dst2", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	dst3 = open("dst3", O_WRONLY | O_CREAT | O_TRUNC, 0600);
	check(dst | dst2 | dst3, "open dst");
	check(pipe(p), "pipe");
	check(pipe(q), "pipe");
	printf("src=%d\ndst=%d\ndst2=%d\ndst3=%d\npipe_r=%d\npipe_w=%d\npipe2_r=%d\npipe2_w=%d\n",
	       src, dst, dst2, dst3, p[0], p[1], q[0], q[1]);
	printf("ino_src=%lu\nino_dst=%lu\nino_dst2=%lu\nino_dst3=%lu\n",
	       (unsigned long)ino_of(src), (unsigned long)ino_of(dst), (unsigned long)ino_of(dst2),
	       (unsigned long)ino_of(dst3));
	if (copy_file_range(src, NULL, dst, NULL, 3000, 0) != 3000)
		die("copy_file_range");
	if (sendfile(dst2, src, &off, 1000) != 1000)
		die("sendfile");
	off = 100;
	if (splice(src, &off, p[1], NULL, 500, 0) != 500)
		die("splice in");
	if (tee(p[0], q[1], 500, 0) != 500)
		die("tee");
	if (splice(p[0], NULL, dst3, NULL, 500, 0) != 500)
		die("splice out");
	close(src);
	close(dst);
	close(dst2);
	close(dst3);
	close(fd);
	return 0;
}
