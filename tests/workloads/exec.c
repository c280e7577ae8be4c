/*
 * Exec workload for tests/live.rs and fixtures/exec.kz (issue 9, inputs 3, 7 and 8).
 * Usage: exec MODE [ARG]
 *   fd       open("/bin/echo") and execveat(fd, "", ["echo", "via-fd"], AT_EMPTY_PATH)
 *   memfd    copy /bin/echo into memfd_create("evil", 0) and execveat it with
 *            AT_EMPTY_PATH: argv ["evil", "from-memory"]
 *   thread   a second thread calls execv("/bin/echo", ["echo", "from-thread"])
 *   script   execv(ARG, ["innocent", "arg1"]): ARG is a #! script; its argv[0] is not its
 *            name, as a caller may choose
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

static void die(const char *what)
{
	perror(what);
	exit(99);
}

static void exec_fd(int fd, char *const argv[])
{
	syscall(SYS_execveat, fd, "", argv, environ, AT_EMPTY_PATH);
	die("execveat");
}

static void *thread_exec(void *arg)
{
	char *argv[] = {"echo", "from-thread", NULL};

	(void)arg;
	execv("/bin/echo", argv);
	die("execv");
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	if (!strcmp(argv[1], "fd")) {
		char *args[] = {"echo", "via-fd", NULL};
		int fd = open("/bin/echo", O_RDONLY);

		if (fd < 0)
			die("open");
		exec_fd(fd, args);
	} else if (!strcmp(argv[1], "memfd")) {
		char *args[] = {"evil", "from-memory", NULL};
		struct stat st;
		int src = open("/bin/echo", O_RDONLY);
		int fd = memfd_create("evil", 0);

		if (src < 0 || fd < 0 || fstat(src, &st) < 0)
			die("memfd setup");
		if (sendfile(fd, src, NULL, st.st_size) != st.st_size)
			die("sendfile");
		close(src);
		exec_fd(fd, args);
	} else if (!strcmp(argv[1], "thread")) {
		pthread_t t;

		if (pthread_create(&t, NULL, thread_exec, NULL))
			die("pthread_create");
		pthread_join(t, NULL);
		return 98; /* not reached: the exec replaces the process */
	} else if (!strcmp(argv[1], "script") && argc > 2) {
		char *args[] = {"innocent", "arg1", NULL};

		execv(argv[2], args);
		die("execv");
	}
	return 2;
}
