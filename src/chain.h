/* Queues and wait lists: checking the caller's, and ordering a sequence of commands that clattn enqueues for one call (a layer: GEMMs, kernels,
 * KV cache commands), on in-order and out-of-order queues alike.
 *
 * The first command waits for the caller's wait list. On an in-order queue the queue itself
 * orders the rest, so no events are made; at the end a marker gives the caller's event. On
 * an out-of-order queue each command's event is the next one's wait list, and the last one
 * is the caller's event. */
#ifndef CLATTN_CHAIN_H
#define CLATTN_CHAIN_H

#include "clattn.h"

/* Checks a caller's queue and wait list before anything is enqueued: wait_events non-NULL
 * exactly when num_wait_events > 0, and the queue valid and on ctx's context and device.
 * INVALID_ARGUMENT (or OPENCL_ERROR for an invalid queue) with a message otherwise. */
clattn_status clattn__queue_check(clattn_context *ctx, cl_command_queue queue,
                                  cl_uint num_wait_events, const cl_event *wait_events);

typedef struct clattn__chain {
  cl_command_queue queue;
  int in_order;
  cl_uint count;          /* what the next command waits for */
  const cl_event *events;
  cl_event last;          /* owned: the previous command's event (out-of-order) */
  cl_event next;          /* filled by the next command */
} clattn__chain;

void clattn__chain_begin(clattn__chain *c, cl_command_queue queue, cl_uint num_wait_events,
                         const cl_event *wait_events);
/* The event slot for the next command: NULL when it needs none (in-order). */
cl_event *clattn__chain_slot(clattn__chain *c);
/* Records that the next command was enqueued. */
void clattn__chain_step(clattn__chain *c);
/* Hands the caller an event covering every command (if `event` is not NULL) and releases the
 * chain's own events. Call it on failure too (with event NULL). */
clattn_status clattn__chain_end(clattn_context *ctx, clattn__chain *c, cl_event *event);

#endif
