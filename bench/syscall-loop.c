/* The replay workload of issue 11: N rounds of open("/etc/hostname"), read, close and a
 * one-byte write to /dev/null, four syscalls a round with a path, an fd and an inode, as a
 * busy service makes them. Build: cc -O2 -o syscall-loop bench/syscall-loop.c
 * Usage: syscall-loop [ROUNDS] (default 500000). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long rounds = argc > 1 ? strtol(argv[1], NULL, 10) : 500000;
    int out = open("/dev/null", O_WRONLY);
    if (out < 0) {
        perror("/dev/null");
        return 1;
    }
    char buf[256];
    for (long i = 0; i < rounds; i++) {
        int fd = open("/etc/hostname", O_RDONLY);
        if (fd < 0) {
            perror("/etc/hostname");
            return 1;
        }
        if (read(fd, buf, sizeof buf) < 0) {
            perror("read");
            return 1;
        }
        close(fd);
        if (write(out, buf, 1) != 1) {
            perror("write");
            return 1;
        }
    }
    return 0;
}
