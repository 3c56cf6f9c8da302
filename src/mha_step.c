/* clattn_mha_step: one incremental-decoding step of a self-attention layer over a KV cache.
 *
 * The new tokens' positions are the cache lengths before the step, which the host knows; they
 * reach the bias + RoPE pass through a small buffer created from a host copy (so the host may
 * go on at once). K and V are appended from their views of the packed projection, and the
 * attention over the cache is bottom-right aligned, so query t of sequence b sits at position
 * length[b] + t: the same causal attention as the full pass. */
#include <stdlib.h>

#include "chain.h"
#include "context.h"
#include "errors.h"
#include "kv_cache.h"
#include "mha_call.h"
#include "mha_internal.h"
#include "tensor.h"

#define TRY(expr)                                          \
  do {                                                     \
    clattn_status try_status_ = (expr);                    \
    if (try_status_ != CLATTN_SUCCESS) return try_status_; \
  } while (0)

static clattn_status check_step(clattn_mha *m, clattn_kv_cache *cache, const clattn_tensor *x,
                                int64_t n, const clattn_tensor *y) {
  clattn_context *ctx = m->ctx;
  if (!cache || !x || !y) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "cache, x_new and y must not be NULL");
  if (!m->weights.w_in)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "the layer has no weights: call clattn_mha_set_weights");
  if (m->desc.kv_dim != m->desc.embed_dim)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "clattn_mha_step needs a self-attention layer (kv_dim = embed_dim)");
  const clattn_kv_cache_desc *cd = clattn__kv_cache_desc(cache);
  if (cd->kv_heads != m->desc.kv_heads || cd->head_dim != m->desc.head_dim ||
      cd->v_head_dim != m->desc.head_dim)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "cache holds %lld heads of %lld/%lld features; the layer needs %lld heads of "
                        "%lld", (long long)cd->kv_heads, (long long)cd->head_dim,
                        (long long)cd->v_head_dim, (long long)m->desc.kv_heads,
                        (long long)m->desc.head_dim);
  if (n < 1 || n > cd->capacity)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "n = %lld must be in 1 .. the cache capacity %lld",
                        (long long)n, (long long)cd->capacity);
  uint64_t rx[2], ry[2];
  TRY(clattn__tensor_check(ctx, "x_new", x, cd->batch, 1, n, m->desc.embed_dim, rx));
  TRY(clattn__tensor_check(ctx, "y", y, cd->batch, 1, n, m->desc.embed_dim, ry));
  if (x->dtype != CLATTN_F32 || y->dtype != CLATTN_F32)
    return clattn__fail(ctx, CLATTN_UNSUPPORTED, "x_new and y must be float32 (the layer is float32)");
  clattn__view yv = {y->offset, {cd->batch, 1, n, m->desc.embed_dim}, {y->stride_batch, 0, y->stride_seq, 1}, 4};
  if (!clattn__view_disjoint(&yv)) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "y has overlapping elements");
  if (x->buffer == y->buffer && clattn__ranges_overlap(rx, ry))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "y overlaps x_new");
  return CLATTN_SUCCESS;
}

/* A device copy of a host int32 array (NULL → NULL). */
static clattn_status int_buffer(clattn_context *ctx, const int32_t *values, int64_t count,
                                const char *name, cl_mem *out) {
  *out = NULL;
  if (!values) return CLATTN_SUCCESS;
  cl_int err;
  *out = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                        (size_t)count * sizeof(int32_t), (void *)values, &err);
  if (!*out) return clattn__fail_cl(ctx, err, "clCreateBuffer", "%s", name);
  return CLATTN_SUCCESS;
}

typedef struct step_state {
  clattn__mha_call call;
  cl_mem positions, q_lens;
} step_state;

static clattn_status run(clattn_mha *m, clattn__chain *chain, step_state *s, clattn_kv_cache *cache,
                         const clattn_tensor *x, int64_t n, const int32_t *counts,
                         const clattn_tensor *y) {
  clattn__mha_call *c = &s->call;
  TRY(clattn__mha_project_input(m, chain, c, x, 0, s->positions));
  TRY(clattn_kv_cache_append(cache, chain->queue, &c->k, &c->v, n, counts, chain->count,
                             chain->events, clattn__chain_slot(chain)));
  clattn__chain_step(chain);
  clattn_attention_desc a;
  clattn_attention_desc_init(&a);
  a.batch = c->batch;
  a.q_heads = m->desc.num_heads;
  a.q_len = n;
  a.scale = m->desc.scale;
  a.causal = 1;
  a.q_lens = s->q_lens;
  a.alibi_slopes = m->alibi;
  TRY(clattn_attention_forward_kv(m->ctx, chain->queue, &a, &c->q, cache, &c->o, NULL,
                                  chain->count, chain->events, clattn__chain_slot(chain)));
  clattn__chain_step(chain);
  return clattn__mha_project_output(m, chain, c, y);
}

clattn_status clattn_mha_step(clattn_mha *mha, cl_command_queue queue, clattn_kv_cache *cache,
                              const clattn_tensor *x_new, int64_t n, const int32_t *counts,
                              const clattn_tensor *y, cl_uint num_wait_events,
                              const cl_event *wait_events, cl_event *event) {
  if (!mha) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "mha must not be NULL");
  clattn_context *ctx = mha->ctx;
  if (!queue) queue = ctx->queue;
  TRY(check_step(mha, cache, x_new, n, y));
  int64_t batch = clattn__kv_cache_desc(cache)->batch;
  int32_t *lengths = malloc((size_t)batch * sizeof *lengths);
  if (!lengths) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "cache lengths");
  step_state s = {{0}, NULL, NULL};
  clattn_status status = clattn_kv_cache_lengths(cache, lengths, (size_t)batch);
  if (status == CLATTN_SUCCESS) status = int_buffer(ctx, lengths, batch, "positions", &s.positions);
  if (status == CLATTN_SUCCESS) status = int_buffer(ctx, counts, batch, "query lengths", &s.q_lens);
  if (status == CLATTN_SUCCESS) status = clattn__mha_call_create(mha, batch, n, n, 0, 0, &s.call);
  if (status == CLATTN_SUCCESS) {
    clattn__chain chain;
    clattn__chain_begin(&chain, queue, num_wait_events, wait_events);
    status = run(mha, &chain, &s, cache, x_new, n, counts, y);
    clattn_status end = clattn__chain_end(ctx, &chain, status == CLATTN_SUCCESS ? event : NULL);
    if (status == CLATTN_SUCCESS) status = end;
    /* A failure after the append must not leave the step's tokens in the cache: a retry
     * would append them twice. */
    if (status != CLATTN_SUCCESS) clattn__kv_cache_truncate(cache, lengths);
  }
  free(lengths);
  clattn__mha_call_release(&s.call);
  if (s.positions) clReleaseMemObject(s.positions);
  if (s.q_lens) clReleaseMemObject(s.q_lens);
  return status;
}
