// SPDX-License-Identifier: GPL-2.0-only
/*
 * 32-bit syscalls from a 64-bit process: `int $0x80` with i386 numbers and argument
 * registers (ebx, ecx, edx). Creates argv[1] (open with O_CREAT), writes 8 bytes to it,
 * closes and unlinks it, all through the 32-bit entry; the path and the data live in a
 * MAP_32BIT page, as 32-bit pointers must. Only then does it print what each call
 * returned, one `name=value` line each, so nothing else runs between the four calls.
 * Exit status 0 when every call did what it should, 1 otherwise, 2 on a usage error.
 *
 * x86_64 only (the kernel needs IA32 emulation): cc -O1 -o compat32 compat32.c
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define I386_WRITE 4
#define I386_OPEN 5
#define I386_CLOSE 6
#define I386_UNLINK 10
#define I386_O_WRONLY 01
#define I386_O_CREAT 0100
#define I386_O_TRUNC 01000

static int sys32(int nr, unsigned int a, unsigned int b, unsigned int c)
{
	long ret;

	/* The 32-bit entry clears r8-r11 on the way back. */
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a), "c"(b), "d"(c)
			 : "memory", "r8", "r9", "r10", "r11");
	return (int)ret;
}

int main(int argc, char **argv)
{
	char *page;
	unsigned int path, data;
	int fd, wrote, closed, unlinked;

	if (argc != 2 || strlen(argv[1]) >= 2048) {
		fprintf(stderr, "usage: compat32 PATH\n");
		return 2;
	}
	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT,
		    -1, 0);
	if (page == MAP_FAILED || (unsigned long)page >> 32) {
		perror("mmap(MAP_32BIT)");
		return 1;
	}
	strcpy(page, argv[1]);
	memcpy(page + 2048, "kellect8", 8);
	path = (unsigned int)(unsigned long)page;
	data = path + 2048;

	fd = sys32(I386_OPEN, path, I386_O_WRONLY | I386_O_CREAT | I386_O_TRUNC, 0600);
	wrote = sys32(I386_WRITE, fd, data, 8);
	closed = sys32(I386_CLOSE, fd, 0, 0);
	unlinked = sys32(I386_UNLINK, path, 0, 0);

	printf("page=%u\nopen=%d\nwrite=%d\nclose=%d\nunlink=%d\n", path, fd, wrote, closed,
	       unlinked);
	return fd >= 0 && wrote == 8 && closed == 0 && unlinked == 0 ? 0 : 1;
}
