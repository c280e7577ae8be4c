/*
 * Names and arguments that are not UTF-8 (issue 9, input 9), for tests/bytes.rs and
 * fixtures/bytes.kz. Usage: bytes DIR
 *   1. prctl(PR_SET_NAME, "by\xfe\xff"): every later event of the process has that comm
 *   2. DIR/f\xff: created, written (3 bytes), closed; renamed to DIR/g\xc3\x28; unlinked
 *   3. DIR/h\x80 created and closed, and DIR/lit\x5cxff (a valid name holding a backslash
 *      then "xff"): both unlinked
 *   4. a UNIX stream socket bound to DIR/s\xff, listening; another connects to it
 *   5. a child execs /bin/echo with 20 arguments: argv[1] "a\xff\xfeb", argv[2] "\xc3\x28",
 *      then "3" to "19" (more than the 16 kept: argc and the truncation flag)
 * Exits 0 when every step succeeded.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
	perror(what);
	exit(99);
}

static char *in(const char *dir, const char *name)
{
	static char paths[4][4096];
	static int next;
	char *p = paths[next++ % 4];

	if (snprintf(p, sizeof paths[0], "%s/%s", dir, name) >= (int)sizeof paths[0])
		die("path too long");
	return p;
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	const char *dir = argv[1];

	if (prctl(PR_SET_NAME, "by\xfe\xff", 0, 0, 0))
		die("prctl");

	char *f = in(dir, "f\xff");
	int fd = open(f, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "abc", 3) != 3 || close(fd))
		die("f");
	char *g = in(dir, "g\xc3\x28");
	if (rename(f, g) || unlink(g))
		die("rename/unlink");

	char *h = in(dir, "h\x80");
	char *lit = in(dir, "lit\\xff");
	int fh = open(h, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	int fl = open(lit, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fh < 0 || fl < 0 || close(fh) || close(fl) || unlink(h) || unlink(lit))
		die("h/lit");

	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char *s = in(dir, "s\xff");
	if (strlen(s) >= sizeof sa.sun_path)
		die("socket path too long");
	strcpy(sa.sun_path, s);
	int srv = socket(AF_UNIX, SOCK_STREAM, 0);
	int cli = socket(AF_UNIX, SOCK_STREAM, 0);
	if (srv < 0 || cli < 0 || bind(srv, (struct sockaddr *)&sa, sizeof sa) ||
	    listen(srv, 1) || connect(cli, (struct sockaddr *)&sa, sizeof sa))
		die("unix socket");
	int acc = accept(srv, NULL, NULL);
	if (acc < 0 || write(cli, "ping", 4) != 4 || close(acc) || close(cli) || close(srv) ||
	    unlink(s))
		die("unix socket use");

	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		char *args[21] = {"echo", "a\xff\xfe" "b", "\xc3\x28"};
		static char nums[17][4];
		for (int i = 3; i < 20; i++) {
			snprintf(nums[i - 3], sizeof nums[0], "%d", i);
			args[i] = nums[i - 3];
		}
		args[20] = NULL;
		execv("/bin/echo", args);
		die("execv");
	}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		die("echo");
	return 0;
}
