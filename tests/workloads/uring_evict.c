/* io_uring workload: more requests in flight than the recorder's map of pending requests
 * holds (1024). A read of an empty pipe, linked to an IORING_OP_OPENAT of PATH (which runs
 * only once the read completes), then 1500 more reads of the pipe, all pending; then 1501
 * bytes written to the pipe complete every read, and the open after them.
 * Usage: uring_evict PATH. Exits 0 when every CQE came and the open succeeded. */
#include <fcntl.h>
#include <string.h>

#include "uring_ring.h"

#define READS 1500

static char byte[READS + 1];

int main(int argc, char **argv)
{
	struct io_uring_params p;
	static char fill[READS + 1];
	int pipefd[2], seen = 0, opened = -1;

	if (argc != 2 || pipe(pipefd))
		return 2;
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE;
	p.cq_entries = 4096;
	if (ring_setup(2048, &p))
		return 1;

	for (unsigned i = 0; i < READS + 2; i++) {
		struct io_uring_sqe *s = &sqes[i];

		memset(s, 0, sizeof(*s));
		sq_array[i] = i;
		if (i == 1) {
			s->opcode = IORING_OP_OPENAT;
			s->fd = AT_FDCWD;
			s->addr = (unsigned long)argv[1];
			s->open_flags = O_WRONLY | O_CREAT | O_TRUNC;
			s->len = 0644;
			s->user_data = 0x2001;
			continue;
		}
		s->opcode = IORING_OP_READ;
		s->fd = pipefd[0];
		s->addr = (unsigned long)&byte[i ? i - 1 : 0];
		s->len = 1;
		s->off = -1;
		s->user_data = i;
		if (i == 0)
			s->flags = IOSQE_IO_LINK;
	}
	__atomic_store_n(sq_tail, READS + 2, __ATOMIC_RELEASE);
	if (syscall(__NR_io_uring_enter, ring_fd, READS + 2, 0, 0, NULL, 0) != READS + 2)
		return 3;
	if (write(pipefd[1], fill, sizeof(fill)) != (ssize_t)sizeof(fill))
		return 4;
	while (seen < READS + 2) {
		unsigned head = __atomic_load_n(cq_head, __ATOMIC_ACQUIRE);

		if (head == __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE)) {
			if (syscall(__NR_io_uring_enter, ring_fd, 0, 1, IORING_ENTER_GETEVENTS, NULL,
				    0) < 0)
				return 5;
			continue;
		}
		if (cqes[head & *cq_mask].user_data == 0x2001)
			opened = cqes[head & *cq_mask].res;
		__atomic_store_n(cq_head, head + 1, __ATOMIC_RELEASE);
		seen++;
	}
	if (opened < 0)
		return 6;
	close(opened);
	return 0;
}
