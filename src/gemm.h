/* Dense products through CLBlast, ordered like every other clattn command.
 *
 * CLBlast takes a queue and returns an event but accepts no wait list, and may enqueue
 * several kernels for one routine. clattn__sgemm therefore enqueues a barrier carrying the
 * caller's wait list before the CLBlast call (only when there is a wait list), and on an
 * out-of-order queue a barrier after it, whose event then covers every command CLBlast
 * enqueued. On an in-order queue CLBlast's own event (its last command) is returned. */
#ifndef CLATTN_GEMM_H
#define CLATTN_GEMM_H

#include "clattn.h"

/* One row-major float32 matrix operand: element (r, c) at offset + r * ld + c (elements). */
typedef struct clattn__matrix {
  cl_mem buffer;
  uint64_t offset;
  int64_t ld;
} clattn__matrix;

/* C (m x n) = alpha * A (m x k) * op(B) + beta * C, where op(B) = B^T with B (n x k) when
 * b_transposed (a PyTorch Linear weight), else B (k x n). Sizes are already validated by the
 * caller. OPENCL_ERROR (or UNSUPPORTED) with CLBlast's status in the message on failure. */
clattn_status clattn__sgemm(clattn_context *ctx, cl_command_queue queue, int64_t m, int64_t n,
                            int64_t k, float alpha, const clattn__matrix *a,
                            const clattn__matrix *b, int b_transposed, float beta,
                            const clattn__matrix *c, cl_uint num_wait_events,
                            const cl_event *wait_events, cl_event *event);

/* 1 when the queue executes out of order (CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE). */
int clattn__queue_out_of_order(cl_command_queue queue);

#endif
