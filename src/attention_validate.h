/* Host-side validation of an attention call, before anything is enqueued. */
#ifndef CLATTN_ATTENTION_VALIDATE_H
#define CLATTN_ATTENTION_VALIDATE_H

#include "clattn.h"

/* The call's sizes after defaults, as the kernel needs them. */
typedef struct clattn__attention_shape {
  int batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_dim;
  float scale;
  int window_left, window_right; /* clamped to -1 .. Sq + Skv */
} clattn__attention_shape;

clattn_status clattn__attention_validate(clattn_context *ctx, cl_command_queue queue,
                                         const clattn_attention_desc *desc,
                                         const clattn_tensor *q, const clattn_tensor *k,
                                         const clattn_tensor *v, const clattn_tensor *o,
                                         const clattn_tensor *lse, cl_uint num_wait_events,
                                         const cl_event *wait_events,
                                         clattn__attention_shape *shape);

#endif
