/* clattn_attention_general: the bilinear score s_ij = scale * q_i^T W k_j. Q W is projected by
 * CLBlast into a dense (B, Hq, Sq, D) scratch buffer, which is then the fused kernel's Q, so
 * every rule, mask and ALiBi of clattn_attention_forward applies unchanged. */
#include "attention_internal.h"
#include "context.h"
#include "errors.h"
#include "score_internal.h"

static clattn_status run(clattn_context *ctx, clattn__chain *chain,
                         const clattn_attention_desc *desc, const clattn__attention_shape *shape,
                         const clattn__score_query *query, const clattn__matrix *w,
                         const clattn_tensor *const rest[4], cl_mem projected) {
  clattn_status status = clattn__score_project(ctx, chain, query->q, shape->batch, shape->q_heads,
                                               shape->q_len, query->q_dim, w, 0, shape->head_dim,
                                               1.0f, projected);
  if (status != CLATTN_SUCCESS) return status;
  const clattn_tensor qw = clattn__score_dense(projected, shape->q_heads, shape->q_len, shape->head_dim);
  const clattn_tensor *const tensors[5] = {&qw, rest[0], rest[1], rest[2], rest[3]};
  status = clattn__attention_enqueue(ctx, chain->queue, desc, shape, tensors, NULL, chain->count,
                                     chain->events, clattn__chain_slot(chain));
  if (status == CLATTN_SUCCESS) clattn__chain_step(chain);
  return status;
}

clattn_status clattn_attention_general(clattn_context *ctx, cl_command_queue queue,
                                       const clattn_attention_desc *desc, const clattn_tensor *q,
                                       int64_t q_dim, cl_mem w, uint64_t w_offset,
                                       const clattn_tensor *k, const clattn_tensor *v,
                                       const clattn_tensor *o, const clattn_tensor *lse,
                                       cl_uint num_wait_events, const cl_event *wait_events,
                                       cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!desc) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc must not be NULL");
  if (!queue) queue = ctx->queue;
  clattn__attention_shape shape;
  clattn__score_query query = {q, q_dim};
  cl_mem stand_in = NULL, projected = NULL;
  clattn_status status = clattn__score_validate(ctx, queue, desc, &query, k, v, o, lse,
                                                num_wait_events, wait_events, &shape, &stand_in);
  if (status == CLATTN_SUCCESS)
    status = clattn__score_check_weight(ctx, "w", w, w_offset,
                                        (uint64_t)q_dim * (uint64_t)shape.head_dim, &shape, o, lse);
  if (status == CLATTN_SUCCESS)
    status = clattn__score_scratch(ctx, "the projected Q W",
                                   (uint64_t)shape.batch * (uint64_t)shape.q_heads *
                                       (uint64_t)shape.q_len * (uint64_t)shape.head_dim,
                                   0, &projected);
  if (status == CLATTN_SUCCESS) {
    clattn__chain chain;
    clattn__chain_begin(&chain, queue, num_wait_events, wait_events);
    const clattn__matrix weight = {w, w_offset, shape.head_dim};
    const clattn_tensor *const rest[4] = {k, v, o, lse};
    status = run(ctx, &chain, desc, &shape, &query, &weight, rest, projected);
    clattn_status end = clattn__chain_end(ctx, &chain, status == CLATTN_SUCCESS ? event : NULL);
    if (status == CLATTN_SUCCESS) status = end;
  }
  /* Enqueued commands keep what they use; the buffers go when those finish. */
  if (projected) clReleaseMemObject(projected);
  if (stand_in) clReleaseMemObject(stand_in);
  return status;
}
