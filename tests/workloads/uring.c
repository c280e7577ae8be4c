/* io_uring workload: a file created, written (21 bytes) and closed only through io_uring
 * SQEs (IORING_OP_OPENAT, WRITE, CLOSE), with raw syscalls and mmap'd rings (no liburing).
 * Usage: uring PATH. Exits 0 when every CQE has the expected result. */
#include <fcntl.h>
#include <string.h>

#include "uring_ring.h"

/* Submits one SQE and waits for its CQE; returns its res. */
static int run(struct io_uring_sqe *tmpl)
{
	unsigned tail = *sq_tail, idx = tail & *sq_mask;
	int res;

	sqes[idx] = *tmpl;
	sq_array[idx] = idx;
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring_fd, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0) < 0)
		return -1000;
	unsigned head = __atomic_load_n(cq_head, __ATOMIC_ACQUIRE);
	if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE))
		return -1001;
	res = cqes[head & *cq_mask].res;
	__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
	return res;
}

int main(int argc, char **argv)
{
	struct io_uring_params p;
	struct io_uring_sqe s;
	static const char msg[] = "written by io_uring!\n"; /* 21 bytes */
	int fd;

	if (argc != 2)
		return 2;
	memset(&p, 0, sizeof(p));
	if (ring_setup(4, &p))
		return 1;

	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_OPENAT;
	s.fd = AT_FDCWD;
	s.addr = (unsigned long)argv[1];
	s.open_flags = O_WRONLY | O_CREAT | O_TRUNC;
	s.len = 0644;
	s.user_data = 0x1001;
	fd = run(&s);
	if (fd < 0)
		return 3;
	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_WRITE;
	s.fd = fd;
	s.addr = (unsigned long)msg;
	s.len = sizeof(msg) - 1;
	s.off = 0;
	s.user_data = 0x1002;
	if (run(&s) != 21)
		return 4;
	memset(&s, 0, sizeof(s));
	s.opcode = IORING_OP_CLOSE;
	s.fd = fd;
	s.user_data = 0x1003;
	if (run(&s) != 0)
		return 5;
	/* A register call with nothing registered: it fails (ENXIO), and is recorded. */
	syscall(__NR_io_uring_register, ring_fd, IORING_UNREGISTER_BUFFERS, NULL, 0);
	return 0;
}
