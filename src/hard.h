/* Hard attention (cl/hard.cl): the public clattn_attention_hard, and the same call with an
 * explicit work layout so that tests can show the result does not depend on it. */
#ifndef CLATTN_HARD_H
#define CLATTN_HARD_H

#include "clattn.h"

typedef struct clattn__hard_config {
  int wg;             /* work-items per work-group, at most (shrunk to what the kernel allows) */
  int draws_per_item; /* draws one work-item keeps in registers: 1, 2, 4, 8 or 16 */
} clattn__hard_config;

/* clattn_attention_hard with `config` (NULL: the default for the device and draw count).
 * A config outside the documented values is INVALID_ARGUMENT naming "config". */
clattn_status clattn__attention_hard_with(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_hard_desc *hard, const clattn_tensor *q, const clattn_tensor *k,
    const clattn_tensor *v, const clattn_tensor *o, cl_mem indices, cl_uint num_wait_events,
    const cl_event *wait_events, cl_event *event, const clattn__hard_config *config);

#endif
