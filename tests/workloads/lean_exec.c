// A thread that execs (record ABI 5, compact syscall records): the exec'ing thread takes the
// process's pid, keeping its own task (and the facts its records carried), while replay
// knows the pid's facts from the old leader's records. The leader and the thread carry
// different names; the thread's name is the one the new image gets, so the records after
// the exec must show it and not the leader's.
// Usage: lean-exec FILE. The new image (lean-exec child FILE) reads FILE at offset 1 and
// prints "child pid P comm C".
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static int fd;
static char *self;
static char *file;

static void *worker(void *arg)
{
	char b[4];
	char *argv[] = { self, "child", file, NULL };

	(void)arg;
	/* The name exec gives the new image (the file's base name). */
	prctl(PR_SET_NAME, "lean-exec");
	if (pread(fd, b, sizeof(b), 0) < 0)
		perror("pread");
	execv(self, argv);
	perror("execv");
	return NULL;
}

int main(int argc, char **argv)
{
	char b[4], comm[17] = "";
	pthread_t t;

	if (argc == 3 && strcmp(argv[1], "child") == 0) {
		fd = open(argv[2], O_RDONLY);
		if (fd < 0 || pread(fd, b, 1, 1) != 1)
			return 1;
		prctl(PR_GET_NAME, comm);
		printf("child pid %d comm %s\n", getpid(), comm);
		return 0;
	}
	if (argc != 2)
		return 2;
	self = argv[0];
	file = argv[1];
	fd = open(file, O_CREAT | O_RDWR | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "abcd", 4) != 4)
		return 1;
	prctl(PR_SET_NAME, "adv-main");
	if (pread(fd, b, sizeof(b), 0) != 4)
		return 1;
	pthread_create(&t, NULL, worker, NULL);
	pthread_join(t, NULL);
	return 1;
}
