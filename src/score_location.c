/* clattn_attention_location (Luong et al. 2015, eq. 8): s_tj = scale * (W_a h_t)_j over a fixed
 * source length S = Skv.
 *
 * The scores (B * Hq * Sq rows of S) are one CLBlast product H W_a^T into scratch. The fused
 * kernel then does the rest: it is given that scratch as an additive float32 mask tensor and
 * Q = K = a one-float zero buffer viewed with D = 1 and all strides 0, so q . k = 0 and each
 * score is exactly the mask value. Softmax, the value sum, the rules (lengths, causal,
 * windows), ALiBi, empty rows and LSE are then the kernel's own, and the split-KV decode
 * path serves short query sets the same way. The caller's mask slot is what carries the
 * scores, hence no mask tensor here; and softcap, which the kernel applies to q . k before
 * masks are added, would never reach the scores, hence none either. */
#include "attention_internal.h"
#include "context.h"
#include "errors.h"
#include "score_internal.h"

/* The descriptor the fused kernel sees: D = 1, Dv the caller's. */
static clattn_attention_desc inner_desc(const clattn_attention_desc *desc) {
  clattn_attention_desc inner = *desc;
  inner.head_dim = 1;
  inner.v_head_dim = desc->v_head_dim != 0 ? desc->v_head_dim : desc->head_dim;
  return inner;
}

static clattn_status check_desc(clattn_context *ctx, const clattn_attention_desc *desc) {
  if (desc->mask.type != CLATTN_MASK_NONE)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->mask must be CLATTN_MASK_NONE: location attention passes its "
                        "scores to the kernel as the mask tensor");
  if (desc->softcap != 0.0f)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->softcap must be 0 for location attention");
  if (desc->head_dim < 1 || desc->head_dim > INT32_MAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->head_dim = %lld must be in 1 .. 2^31 - 1",
                        (long long)desc->head_dim);
  return CLATTN_SUCCESS;
}

static clattn_status run(clattn_context *ctx, clattn__chain *chain, clattn_attention_desc *inner,
                         const clattn__attention_shape *shape, const clattn__score_query *query,
                         const clattn__matrix *w_a, float scale, cl_mem zero,
                         const clattn_tensor *const rest[3], cl_mem scores) {
  const int64_t s = shape->kv_len;
  clattn_status status = clattn__score_project(ctx, chain, query->q, shape->batch, shape->q_heads,
                                               shape->q_len, query->q_dim, w_a, 1, s, scale, scores);
  if (status != CLATTN_SUCCESS) return status;
  clattn_mask mask = {CLATTN_MASK_ADDITIVE, scores, 0, (int64_t)shape->q_heads * shape->q_len * s,
                      (int64_t)shape->q_len * s, s};
  inner->mask = mask;
  const clattn_tensor stand_in = {zero, CLATTN_F32, 0, 0, 0, 0};
  const clattn_tensor *const tensors[5] = {&stand_in, &stand_in, rest[0], rest[1], rest[2]};
  status = clattn__attention_enqueue(ctx, chain->queue, inner, shape, tensors, NULL, chain->count,
                                     chain->events, clattn__chain_slot(chain));
  if (status == CLATTN_SUCCESS) clattn__chain_step(chain);
  return status;
}

clattn_status clattn_attention_location(clattn_context *ctx, cl_command_queue queue,
                                        const clattn_attention_desc *desc,
                                        const clattn_tensor *q, cl_mem w_a, uint64_t w_offset,
                                        const clattn_tensor *v, const clattn_tensor *o,
                                        const clattn_tensor *lse, cl_uint num_wait_events,
                                        const cl_event *wait_events, cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!desc) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc must not be NULL");
  if (!queue) queue = ctx->queue;
  clattn_status status = check_desc(ctx, desc);
  if (status != CLATTN_SUCCESS) return status;
  clattn_attention_desc inner = inner_desc(desc);
  clattn__attention_shape shape;
  clattn__score_query query = {q, desc->head_dim};
  cl_mem zero = NULL, scores = NULL;
  status = clattn__score_validate(ctx, queue, &inner, &query, NULL, v, o, lse, num_wait_events,
                                  wait_events, &shape, &zero);
  if (status == CLATTN_SUCCESS)
    status = clattn__score_check_weight(ctx, "w_a", w_a, w_offset,
                                        (uint64_t)shape.kv_len * (uint64_t)desc->head_dim, &shape, o,
                                        lse);
  if (status == CLATTN_SUCCESS)
    status = clattn__score_scratch(ctx, "the location scores",
                                   (uint64_t)shape.batch * (uint64_t)shape.q_heads *
                                       (uint64_t)shape.q_len * (uint64_t)shape.kv_len,
                                   0, &scores);
  if (status == CLATTN_SUCCESS) {
    clattn__chain chain;
    clattn__chain_begin(&chain, queue, num_wait_events, wait_events);
    const clattn__matrix weight = {w_a, w_offset, desc->head_dim};
    const clattn_tensor *const rest[3] = {v, o, lse};
    const float scale = desc->scale != 0.0f ? desc->scale : 1.0f;
    status = run(ctx, &chain, &inner, &shape, &query, &weight, scale, zero, rest, scores);
    clattn_status end = clattn__chain_end(ctx, &chain, status == CLATTN_SUCCESS ? event : NULL);
    if (status == CLATTN_SUCCESS) status = end;
  }
  if (scores) clReleaseMemObject(scores);
  if (zero) clReleaseMemObject(zero);
  return status;
}
