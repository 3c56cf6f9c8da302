/* The split-KV decode path: chosen inside clattn__attention_enqueue for few query rows over
 * many keys. */
#ifndef CLATTN_ATTENTION_DECODE_H
#define CLATTN_ATTENTION_DECODE_H

#include "attention_internal.h"

/* 1 when the call should take the decode path: Sq <= 16, at most CLATTN__DECODE_MAX_ROWS
 * query rows per KV head (group * Sq), enough keys to be worth splitting, and kv_splits != 1. */
int clattn__decode_applies(const clattn_attention_desc *desc,
                           const clattn__attention_shape *shape);

/* The number of key slices: desc->kv_splits when > 1, else enough work-items to keep every
 * compute unit busy, never slices of fewer than 64 keys. */
int clattn__decode_splits(const clattn_context *ctx, const clattn_attention_desc *desc,
                          const clattn__attention_shape *shape);

clattn_status clattn__decode_enqueue(clattn_context *ctx, cl_command_queue queue,
                                     const clattn_attention_desc *desc,
                                     const clattn__attention_shape *shape,
                                     const clattn_tensor *const tensors[5],
                                     const clattn__kv_pages *pages, cl_uint num_wait_events,
                                     const cl_event *wait_events, cl_event *event);

#endif
