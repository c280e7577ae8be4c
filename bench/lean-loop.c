/*
 * The workload of bench/lean.sh and of the README's replay figures: N times, open
 * /etc/hostname, read it, close it and write one byte to /dev/null: four syscalls per
 * iteration. Usage: lean-loop [N] (500000).
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 500000;
	int null = open("/dev/null", O_WRONLY);
	char buf[256];

	if (null < 0) {
		perror("/dev/null");
		return 1;
	}
	for (long i = 0; i < n; i++) {
		int fd = open("/etc/hostname", O_RDONLY);

		if (fd < 0) {
			perror("/etc/hostname");
			return 1;
		}
		if (read(fd, buf, sizeof(buf)) < 0 || close(fd) < 0 || write(null, buf, 1) != 1) {
			perror("lean-loop");
			return 1;
		}
	}
	return 0;
}
