#include "chain.h"

#include "context.h"
#include "errors.h"
#include "gemm.h"

clattn_status clattn__queue_check(clattn_context *ctx, cl_command_queue queue,
                                  cl_uint num_wait_events, const cl_event *wait_events) {
  if ((num_wait_events > 0) != (wait_events != NULL))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "wait_events must be non-NULL exactly when num_wait_events > 0");
  cl_context queue_ctx = NULL;
  cl_device_id queue_device = NULL;
  cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof queue_ctx, &queue_ctx, NULL);
  if (err == CL_SUCCESS)
    err = clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof queue_device, &queue_device, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clGetCommandQueueInfo", "queue is not a valid queue");
  if (queue_ctx != ctx->cl_ctx || queue_device != ctx->device)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "queue belongs to another OpenCL context or device than ctx");
  return CLATTN_SUCCESS;
}

void clattn__chain_begin(clattn__chain *c, cl_command_queue queue, cl_uint num_wait_events,
                         const cl_event *wait_events) {
  c->queue = queue;
  c->in_order = !clattn__queue_out_of_order(queue);
  c->count = num_wait_events;
  c->events = wait_events;
  c->last = c->next = NULL;
}

cl_event *clattn__chain_slot(clattn__chain *c) {
  c->next = NULL;
  return c->in_order ? NULL : &c->next;
}

void clattn__chain_step(clattn__chain *c) {
  if (c->in_order) {
    c->count = 0;
    c->events = NULL;
    return;
  }
  if (c->last) clReleaseEvent(c->last);
  c->last = c->next;
  c->next = NULL;
  c->count = c->last ? 1 : 0;
  c->events = c->last ? &c->last : NULL;
}

clattn_status clattn__chain_end(clattn_context *ctx, clattn__chain *c, cl_event *event) {
  clattn_status status = CLATTN_SUCCESS;
  if (event && !c->in_order && c->last) {
    *event = c->last;
    c->last = NULL;
  } else if (event) {
    /* In order: a marker completes after everything enqueued before it. */
    cl_int err = clEnqueueMarkerWithWaitList(c->queue, c->count, c->events, event);
    if (err != CL_SUCCESS) status = clattn__fail_cl(ctx, err, "clEnqueueMarkerWithWaitList", "the call's event");
  }
  if (c->last) clReleaseEvent(c->last);
  c->last = NULL;
  return status;
}
