/* io_uring workload: requests submitted with IOSQE_CQE_SKIP_SUCCESS, which post no CQE when
 * they succeed. Usage: uring_skip DIR.
 *   1. A linked chain, every request skipping its CQE: IORING_OP_OPENAT of DIR/skip-open.out
 *      (into the lowest free fd, found beforehand), WRITE of 21 bytes to that fd, CLOSE of
 *      it, then a NOP with a CQE, waited for: the chain has run.
 *   2. DIR/skip-write.out opened with open(2); WRITE of 21 bytes and CLOSE skipping their
 *      CQEs, linked to a NOP with a CQE.
 *   3. A WRITE skipping its CQE to fd 999 (not open): it fails, and its CQE (EBADF) comes.
 * Exits 0 when both files hold the 21 bytes and every expected CQE came. */
#include <fcntl.h>
#include <string.h>

#include "uring_ring.h"

static const char msg[] = "skipped the io_uring\n"; /* 21 bytes */

/* Queues one SQE (not yet submitted). */
static void queue(unsigned char opcode, int fd, const void *addr, unsigned len, unsigned flags,
		  unsigned long long user_data, int open_flags)
{
	unsigned tail = *sq_tail, idx = tail & *sq_mask;
	struct io_uring_sqe *s = &sqes[idx];

	memset(s, 0, sizeof(*s));
	s->opcode = opcode;
	s->fd = fd;
	s->addr = (unsigned long)addr;
	s->len = len;
	s->flags = flags;
	s->user_data = user_data;
	s->open_flags = open_flags;
	sq_array[idx] = idx;
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
}

/* Submits the `n` queued SQEs, waits for one CQE and returns its user_data (0: none). */
static unsigned long long submit_and_wait(unsigned n, int *res)
{
	unsigned head;
	unsigned long long ud;

	if (syscall(__NR_io_uring_enter, ring_fd, n, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return 0;
	head = __atomic_load_n(cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE))
		return 0;
	ud = cqes[head & *cq_mask].user_data;
	*res = cqes[head & *cq_mask].res;
	__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
	return ud;
}

/* Whether PATH holds exactly msg. */
static int holds_msg(const char *path)
{
	char buf[64];
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf));

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)sizeof(msg) - 1 && memcmp(buf, msg, n) == 0;
}

int main(int argc, char **argv)
{
	struct io_uring_params p;
	const unsigned skip = IOSQE_CQE_SKIP_SUCCESS, link = IOSQE_IO_LINK;
	char open_path[4096], write_path[4096];
	int fd, res = 0;

	if (argc != 2)
		return 2;
	snprintf(open_path, sizeof(open_path), "%s/skip-open.out", argv[1]);
	snprintf(write_path, sizeof(write_path), "%s/skip-write.out", argv[1]);
	memset(&p, 0, sizeof(p));
	if (ring_setup(8, &p))
		return 1;

	/* 1. The open's fd will be the lowest free one. */
	fd = dup(0);
	if (fd < 0 || close(fd))
		return 3;
	queue(IORING_OP_OPENAT, AT_FDCWD, open_path, 0644, skip | link, 0x3001,
	      O_WRONLY | O_CREAT | O_TRUNC);
	queue(IORING_OP_WRITE, fd, msg, sizeof(msg) - 1, skip | link, 0x3002, 0);
	queue(IORING_OP_CLOSE, fd, NULL, 0, skip | link, 0x3003, 0);
	queue(IORING_OP_NOP, -1, NULL, 0, 0, 0x3004, 0);
	if (submit_and_wait(4, &res) != 0x3004 || res != 0)
		return 4;

	/* 2. */
	fd = open(write_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		return 5;
	queue(IORING_OP_WRITE, fd, msg, sizeof(msg) - 1, skip | link, 0x3011, 0);
	queue(IORING_OP_CLOSE, fd, NULL, 0, skip | link, 0x3012, 0);
	queue(IORING_OP_NOP, -1, NULL, 0, 0, 0x3013, 0);
	if (submit_and_wait(3, &res) != 0x3013 || res != 0)
		return 6;

	/* 3. */
	queue(IORING_OP_WRITE, 999, msg, sizeof(msg) - 1, skip, 0x3021, 0);
	if (submit_and_wait(1, &res) != 0x3021 || res >= 0)
		return 7;

	return holds_msg(open_path) && holds_msg(write_path) ? 0 : 8;
}
