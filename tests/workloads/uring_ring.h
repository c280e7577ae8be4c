/* The rings of an io_uring, set up with raw syscalls and mmap (no liburing), for the
 * io_uring workloads (uring.c, uring_evict.c). */
#include <linux/io_uring.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int ring_fd;
static unsigned *sq_tail, *sq_mask, *sq_array, *cq_head, *cq_tail, *cq_mask;
static struct io_uring_sqe *sqes;
static struct io_uring_cqe *cqes;

/* io_uring_setup with `entries` and the flags already in `p`, then the rings mapped into
 * the globals above. Returns 0, or -1 (said on stderr for the setup). */
static int ring_setup(unsigned entries, struct io_uring_params *p)
{
	void *sq, *cq;

	ring_fd = syscall(__NR_io_uring_setup, entries, p);
	if (ring_fd < 0) {
		perror("io_uring_setup");
		return -1;
	}
	sq = mmap(0, p->sq_off.array + p->sq_entries * sizeof(unsigned), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
	cq = mmap(0, p->cq_off.cqes + p->cq_entries * sizeof(struct io_uring_cqe),
		  PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_CQ_RING);
	sqes = mmap(0, p->sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
		    MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED)
		return -1;
	sq_tail = sq + p->sq_off.tail;
	sq_mask = sq + p->sq_off.ring_mask;
	sq_array = sq + p->sq_off.array;
	cq_head = cq + p->cq_off.head;
	cq_tail = cq + p->cq_off.tail;
	cq_mask = cq + p->cq_off.ring_mask;
	cqes = cq + p->cq_off.cqes;
	return 0;
}
