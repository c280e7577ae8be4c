// SPDX-License-Identifier: GPL-2.0-only
/*
 * The second half of the file-life workload of tests/records.rs and fixtures/files.kz:
 * path-based changes that carry no inode, made with the exact syscalls (the first half is
 * shell commands: echo > f1, chmod, rm, ln; see fixtures/regenerate.sh).
 *
 * Usage: files DIR   (DIR holds f1 and new from the first half)
 *
 *   chmod(2)       f1 to 0750                      (the syscall; fchmodat where none)
 *   truncate(2)    new to 4 bytes
 *   a (5 bytes), b (9 bytes), written and closed
 *   renameat2      a <-> b, RENAME_EXCHANGE        a: 9 bytes, b: 5 bytes
 *   renameat2      b -> c, RENAME_NOREPLACE        c: 5 bytes
 *   renameat2      c -> a, RENAME_NOREPLACE        fails with EEXIST: nothing moves
 *   renameat2      c -> d, RENAME_WHITEOUT         d: 5 bytes, c: a whiteout
 *   unlinkat       a, d, c (the whiteout), f1, new
 *
 * Exits 0, or names the failed step on stderr and exits 1.
 * Build: cc -O1 -o files files.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif
#ifndef RENAME_WHITEOUT
#define RENAME_WHITEOUT (1 << 2)
#endif

static void fail(const char *step)
{
	fprintf(stderr, "files: %s: %s\n", step, strerror(errno));
	exit(1);
}

static void write_file(int dir, const char *name, const char *text)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL, 0644);

	if (fd < 0)
		fail(name);
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		fail("write");
	if (close(fd))
		fail("close");
}

static void rename2(int dir, const char *from, const char *to, unsigned flags, const char *step)
{
	if (syscall(SYS_renameat2, dir, from, dir, to, flags))
		fail(step);
}

int main(int argc, char **argv)
{
	int dir;

	if (argc != 2 || chdir(argv[1]))
		fail("usage: files DIR");
	dir = open(".", O_RDONLY | O_DIRECTORY);
	if (dir < 0)
		fail("open .");
#ifdef SYS_chmod
	if (syscall(SYS_chmod, "f1", 0750))
		fail("chmod f1");
#else
	if (syscall(SYS_fchmodat, AT_FDCWD, "f1", 0750))
		fail("chmod f1");
#endif
	if (syscall(SYS_truncate, "new", 4))
		fail("truncate new");
	write_file(dir, "a", "aaaa\n");
	write_file(dir, "b", "bbbbbbbb\n");
	rename2(dir, "a", "b", RENAME_EXCHANGE, "exchange a b");
	rename2(dir, "b", "c", RENAME_NOREPLACE, "noreplace b c");
	if (syscall(SYS_renameat2, dir, "c", dir, "a", RENAME_NOREPLACE) == 0 || errno != EEXIST)
		fail("noreplace c a (must fail with EEXIST)");
	rename2(dir, "c", "d", RENAME_WHITEOUT, "whiteout c d");
	if (unlinkat(dir, "a", 0) || unlinkat(dir, "d", 0) || unlinkat(dir, "c", 0))
		fail("unlink a, d, c");
	if (unlinkat(dir, "f1", 0) || unlinkat(dir, "new", 0))
		fail("unlink f1, new");
	return 0;
}
