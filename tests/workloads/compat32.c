// SPDX-License-Identifier: GPL-2.0-only
/*
 * 32-bit syscalls from a 64-bit process: `int $0x80` with i386 numbers and argument
 * registers (ebx, ecx, edx). Creates argv[1] (open with O_CREAT), writes 8 bytes to it,
 * closes and unlinks it, all through the 32-bit entry; the path and the data live in a
 * MAP_32BIT page, as 32-bit pointers must. Only then does it print what each call
 * returned, one `name=value` line each, so nothing else runs between the four calls.
 * Exit status 0 when every call did what it should, 1 otherwise, 2 on a usage error.
 *
 * `compat32 --socketcall PORT` instead sends the 8 bytes as one UDP datagram to
 * 127.0.0.1:PORT through i386's socketcall multiplexer (SYS_SOCKET, SYS_SENDTO, their
 * arguments in an array in the same page), then closes the socket with i386 close.
 *
 * x86_64 only (the kernel needs IA32 emulation): cc -O1 -o compat32 compat32.c
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define I386_WRITE 4
#define I386_OPEN 5
#define I386_CLOSE 6
#define I386_UNLINK 10
#define I386_SOCKETCALL 102
#define SYS_SOCKET 1
#define SYS_SENDTO 11
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

static char *page32(void)
{
	char *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);

	if (page == MAP_FAILED || (unsigned long)page >> 32) {
		perror("mmap(MAP_32BIT)");
		exit(1);
	}
	return page;
}

/* socket(AF_INET, SOCK_DGRAM, 0) and sendto 127.0.0.1:port through socketcall. */
static int send_by_socketcall(unsigned short port)
{
	char *page = page32();
	unsigned int base = (unsigned int)(unsigned long)page;
	unsigned int *args = (unsigned int *)page;
	unsigned char *sin = (unsigned char *)page + 64;
	int fd, sent, closed;

	memcpy(page + 128, "kellect8", 8);
	/* struct sockaddr_in: AF_INET, the port (network order), 127.0.0.1. */
	sin[0] = 2;
	sin[1] = 0;
	sin[2] = port >> 8;
	sin[3] = port & 0xff;
	sin[4] = 127;
	sin[5] = 0;
	sin[6] = 0;
	sin[7] = 1;
	args[0] = 2; /* AF_INET */
	args[1] = 2; /* SOCK_DGRAM */
	args[2] = 0;
	fd = sys32(I386_SOCKETCALL, SYS_SOCKET, base, 0);
	args[0] = fd;
	args[1] = base + 128;
	args[2] = 8;
	args[3] = 0;
	args[4] = base + 64;
	args[5] = 16;
	sent = sys32(I386_SOCKETCALL, SYS_SENDTO, base, 0);
	closed = sys32(I386_CLOSE, fd, 0, 0);

	printf("socket=%d\nsendto=%d\nclose=%d\n", fd, sent, closed);
	return fd >= 0 && sent == 8 && closed == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	char *page;
	unsigned int path, data;
	int fd, wrote, closed, unlinked;

	if (argc == 3 && strcmp(argv[1], "--socketcall") == 0)
		return send_by_socketcall(atoi(argv[2]));
	if (argc != 2 || strlen(argv[1]) >= 2048) {
		fprintf(stderr, "usage: compat32 PATH | compat32 --socketcall PORT\n");
		return 2;
	}
	page = page32();
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
