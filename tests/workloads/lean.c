// What compact syscall records (record ABI 5) leave out and refer back to: a task's name and
// ids (changed by prctl(PR_SET_NAME), a thread's own name, setresgid), an fd's inode (read
// again unchanged, changed by a write, named by a new fd from dup, refreshed after a second).
// Usage: lean FILE. Prints "ino N gid G" at the end: the file's inode number and the gid the
// process ended with, for the tests to compare with what replay shows.
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int fd;

static void *worker(void *arg)
{
	char b[4];

	(void)arg;
	prctl(PR_SET_NAME, "lean-worker");
	if (pread(fd, b, sizeof(b), 0) < 0 || pread(fd, b, sizeof(b), 0) < 0)
		perror("pread");
	return NULL;
}

int main(int argc, char **argv)
{
	struct stat st;
	pthread_t t;
	char b[4];
	int fd2, i;

	if (argc != 2)
		return 2;
	fd = open(argv[1], O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "abcd", 4) != 4)
		return 1;
	for (i = 0; i < 3; i++)
		if (pread(fd, b, sizeof(b), 0) != 4)
			return 1;
	fd2 = dup(fd);
	if (fd2 < 0 || pread(fd2, b, sizeof(b), 0) != 4)
		return 1;
	prctl(PR_SET_NAME, "lean-renamed");
	if (pread(fd, b, sizeof(b), 0) != 4)
		return 1;
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
	if (setresgid(4321, 4321, 4321) != 0)
		perror("setresgid");
	if (pread(fd, b, sizeof(b), 0) != 4 || write(fd, "e", 1) != 1)
		return 1;
	usleep(1200000);
	if (pread(fd, b, sizeof(b), 0) != 4 || pread(fd, b, sizeof(b), 0) != 4)
		return 1;
	if (fstat(fd, &st) != 0)
		return 1;
	close(fd2);
	close(fd);
	printf("ino %lu gid %u\n", (unsigned long)st.st_ino, (unsigned)getgid());
	return 0;
}
