/* clattn_attention_additive: Bahdanau's score e_ij = v^T tanh(W1 q_i + W2 k_j).
 *
 * CLBlast projects a_i = W1 q_i (B, Hq, Sq, A) and b_j = W2 k_j (B, Hkv, Skv, A) into scratch;
 * cl/additive.cl then evaluates the scores tile by tile with the online softmax and the value
 * sum (see its banner). The kernel's shape (rows and keys per work-item, vector width,
 * work-group size) follows the fused attention kernel's defaults for the device class, or
 * CLATTN_ADDITIVE_CONFIG ("rows=R,tile_k=T,vec=V,wg=W", the syntax of
 * CLATTN_ATTENTION_CONFIG) for tests and tuning. CLATTN_ADDITIVE_TANH_BUILTIN=1 builds the
 * kernel with the builtin tanh instead of its own, for measurements only. */
#include <stdlib.h>
#include <string.h>

#include "attention_config.h"
#include "attention_internal.h"
#include "context.h"
#include "errors.h"
#include "kernel_args.h"
#include "program.h"
#include "score_internal.h"

#define MAX_ATTN_DIM 4096
#define A_TILE_MAX 64 /* features of b_j staged per chunk, at most */

typedef struct additive_config {
  clattn__attention_config shape; /* rows, tile_k, vec, wg (v_direct unused) */
  int a_tile;
} additive_config;

static size_t local_bytes(const additive_config *c) {
  return ((size_t)c->a_tile * (size_t)c->shape.tile_k + (size_t)c->a_tile) * sizeof(float);
}

static clattn_status pick_config(clattn_context *ctx, int attn_dim, additive_config *c) {
  c->shape = clattn__attention_default_config(ctx);
  const char *env = getenv("CLATTN_ADDITIVE_CONFIG");
  if (env && *env && clattn__attention_config_parse(env, &c->shape) != 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "CLATTN_ADDITIVE_CONFIG=\"%s\" is not of the form "
                        "rows=R,tile_k=T,vec=V,wg=W with valid values", env);
  c->a_tile = attn_dim < A_TILE_MAX ? attn_dim : A_TILE_MAX;
  /* Smaller chunks of A, then fewer keys per tile, until the tiles fit local memory. */
  while (local_bytes(c) > ctx->info.local_mem_size && c->a_tile > 1) c->a_tile /= 2;
  while (local_bytes(c) > ctx->info.local_mem_size && c->shape.tile_k > c->shape.vec)
    c->shape.tile_k = c->shape.tile_k / 2 / c->shape.vec * c->shape.vec;
  if (local_bytes(c) > ctx->info.local_mem_size)
    return clattn__fail(ctx, CLATTN_UNSUPPORTED, "additive attention needs %zu bytes of local memory; %s has %llu",
                        local_bytes(c), ctx->info.name, (unsigned long long)ctx->info.local_mem_size);
  return CLATTN_SUCCESS;
}

static void kernel_defines(const additive_config *c, const clattn__attention_shape *s,
                           const clattn_tensor *v, const clattn_tensor *o, int alibi,
                           clattn__defines *d) {
  clattn__defines_init(d);
  clattn__defines_set_int(d, "V_DIM", s->v_dim);
  clattn__defines_set_int(d, "ROWS", c->shape.rows);
  clattn__defines_set_int(d, "TILE_K", c->shape.tile_k);
  clattn__defines_set_int(d, "VEC", c->shape.vec);
  clattn__defines_set_int(d, "WG", c->shape.wg);
  clattn__defines_set_int(d, "A_TILE", c->a_tile);
  clattn__defines_set_int(d, "V_TYPE", v->dtype);
  clattn__defines_set_int(d, "O_TYPE", o->dtype);
  if (alibi) clattn__defines_set_int(d, "ALIBI", 1);
  const char *builtin = getenv("CLATTN_ADDITIVE_TANH_BUILTIN");
  if (builtin && !strcmp(builtin, "1")) clattn__defines_set_int(d, "TANH_BUILTIN", 1);
}

/* Builds (or finds) the variant, halving the work-group until the device accepts it. */
static clattn_status get_kernel(clattn_context *ctx, additive_config *c,
                                const clattn__attention_shape *s, const clattn_tensor *v,
                                const clattn_tensor *o, int alibi, cl_kernel *kernel) {
  for (;;) {
    clattn__defines defines;
    cl_program program;
    kernel_defines(c, s, v, o, alibi, &defines);
    clattn_status status = clattn__program_get(ctx, "additive.cl", &defines, &program, NULL);
    if (status == CLATTN_SUCCESS) status = clattn__kernel_create(ctx, program, "attention_additive", kernel);
    if (status != CLATTN_SUCCESS) return status;
    size_t limit = 0;
    clattn_status limit_status =
        clattn__kernel_work_group_limit(ctx, kernel, "attention_additive", &limit);
    if (limit_status != CLATTN_SUCCESS) return limit_status;
    if ((size_t)c->shape.wg <= limit) return CLATTN_SUCCESS;
    clReleaseKernel(*kernel);
    if (c->shape.wg == 1)
      return clattn__fail(ctx, CLATTN_UNSUPPORTED, "attention_additive does not fit %s even with one work-item",
                          ctx->info.name);
    c->shape.wg /= 2;
  }
}

typedef struct additive_call {
  const clattn_attention_desc *desc;
  clattn__attention_shape shape; /* scale: 1 by default */
  int attn_dim;
  cl_mem qa, kb, w_v;
  const clattn_tensor *v, *o, *lse;
} additive_call;

static clattn_status enqueue_kernel(clattn_context *ctx, clattn__chain *chain,
                                    const additive_call *call) {
  additive_config config;
  cl_kernel kernel = NULL;
  const clattn__attention_shape *s = &call->shape;
  clattn_status status = pick_config(ctx, call->attn_dim, &config);
  if (status == CLATTN_SUCCESS)
    status = get_kernel(ctx, &config, s, call->v, call->o, call->desc->alibi_slopes != NULL, &kernel);
  if (status != CLATTN_SUCCESS) return status;
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_buffer(&a, call->qa);
  clattn__arg_buffer(&a, call->kb);
  clattn__arg_buffer(&a, call->w_v);
  clattn__arg_int(&a, call->attn_dim);
  clattn__arg_view(&a, call->v);
  clattn__arg_view(&a, call->o);
  clattn__arg_view(&a, call->lse);
  clattn__arg_int(&a, s->q_heads);
  clattn__arg_int(&a, s->q_heads / s->kv_heads);
  clattn__arg_int(&a, s->q_len);
  clattn__arg_int(&a, s->kv_len);
  clattn__attention_rule_args(&a, call->desc, s);
  cl_int err = a.err;
  size_t rows_per_group = (size_t)config.shape.wg * (size_t)config.shape.rows;
  size_t groups = ((size_t)s->q_len + rows_per_group - 1) / rows_per_group;
  size_t global[2] = {groups * (size_t)config.shape.wg, (size_t)s->batch * (size_t)s->q_heads};
  size_t local[2] = {(size_t)config.shape.wg, 1};
  if (err == CL_SUCCESS)
    err = clEnqueueNDRangeKernel(chain->queue, kernel, 2, NULL, global, local, chain->count,
                                 chain->events, clattn__chain_slot(chain));
  clReleaseKernel(kernel);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel", "attention_additive with %zux%zu work-items",
                           global[0], global[1]);
  clattn__chain_step(chain);
  return CLATTN_SUCCESS;
}

/* Checks the weights' own fields, before the views. */
static clattn_status check_weights(clattn_context *ctx, const clattn_attention_desc *desc,
                                   const clattn_additive_weights *w) {
  if (!w) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "weights must not be NULL");
  if (w->attn_dim < 1 || w->attn_dim > MAX_ATTN_DIM)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "weights->attn_dim = %lld must be in 1 .. %d",
                        (long long)w->attn_dim, MAX_ATTN_DIM);
  if (w->q_dim < 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "weights->q_dim = %lld must be positive (0: desc->head_dim)", (long long)w->q_dim);
  if (desc->softcap != 0.0f)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->softcap must be 0 for additive attention");
  return CLATTN_SUCCESS;
}

/* The three weight buffers hold W1 (A x q_dim), W2 (A x D) and v (A), apart from O and LSE. */
static clattn_status check_weight_buffers(clattn_context *ctx, const clattn_additive_weights *w,
                                          int64_t q_dim, const additive_call *call) {
  const uint64_t a = (uint64_t)w->attn_dim;
  clattn_status status = clattn__score_check_weight(ctx, "weights->w1", w->w1, 0, a * (uint64_t)q_dim,
                                                    &call->shape, call->o, call->lse);
  if (status == CLATTN_SUCCESS)
    status = clattn__score_check_weight(ctx, "weights->w2", w->w2, 0, a * (uint64_t)call->shape.head_dim,
                                        &call->shape, call->o, call->lse);
  if (status == CLATTN_SUCCESS)
    status = clattn__score_check_weight(ctx, "weights->v", w->v, 0, a, &call->shape, call->o, call->lse);
  return status;
}

static clattn_status run(clattn_context *ctx, clattn__chain *chain, const additive_call *call,
                         const clattn_additive_weights *w, const clattn__score_query *query,
                         const clattn_tensor *k) {
  const clattn__attention_shape *s = &call->shape;
  const clattn__matrix w1 = {w->w1, 0, query->q_dim}, w2 = {w->w2, 0, s->head_dim};
  clattn_status status = clattn__score_project(ctx, chain, query->q, s->batch, s->q_heads, s->q_len,
                                               query->q_dim, &w1, 1, call->attn_dim, 1.0f, call->qa);
  if (status == CLATTN_SUCCESS)
    status = clattn__score_project(ctx, chain, k, s->batch, s->kv_heads, s->kv_len, s->head_dim, &w2,
                                   1, call->attn_dim, 1.0f, call->kb);
  if (status == CLATTN_SUCCESS) status = enqueue_kernel(ctx, chain, call);
  return status;
}

clattn_status clattn_attention_additive(clattn_context *ctx, cl_command_queue queue,
                                        const clattn_attention_desc *desc,
                                        const clattn_additive_weights *weights,
                                        const clattn_tensor *q, const clattn_tensor *k,
                                        const clattn_tensor *v, const clattn_tensor *o,
                                        const clattn_tensor *lse, cl_uint num_wait_events,
                                        const cl_event *wait_events, cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!desc) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc must not be NULL");
  if (!queue) queue = ctx->queue;
  clattn_status status = check_weights(ctx, desc, weights);
  if (status != CLATTN_SUCCESS) return status;
  additive_call call = {desc, {0}, (int)weights->attn_dim, NULL, NULL, weights->v, v, o, lse};
  clattn__score_query query = {q, weights->q_dim != 0 ? weights->q_dim : desc->head_dim};
  cl_mem stand_in = NULL;
  status = clattn__score_validate(ctx, queue, desc, &query, k, v, o, lse, num_wait_events,
                                  wait_events, &call.shape, &stand_in);
  if (status == CLATTN_SUCCESS && k->dtype != CLATTN_F32)
    status = clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                          "k.dtype must be CLATTN_F32 (it is projected by CLBlast)");
  if (status == CLATTN_SUCCESS) status = check_weight_buffers(ctx, weights, query.q_dim, &call);
  const clattn__attention_shape *s = &call.shape;
  const uint64_t a = (uint64_t)call.attn_dim;
  if (status == CLATTN_SUCCESS)
    status = clattn__score_scratch(ctx, "the projected W1 Q",
                                   (uint64_t)s->batch * (uint64_t)s->q_heads * (uint64_t)s->q_len * a,
                                   0, &call.qa);
  if (status == CLATTN_SUCCESS)
    status = clattn__score_scratch(ctx, "the projected W2 K",
                                   (uint64_t)s->batch * (uint64_t)s->kv_heads * (uint64_t)s->kv_len * a,
                                   0, &call.kb);
  if (status == CLATTN_SUCCESS) {
    call.shape.scale = desc->scale != 0.0f ? desc->scale : 1.0f; /* not 1/sqrt(D) here */
    clattn__chain chain;
    clattn__chain_begin(&chain, queue, num_wait_events, wait_events);
    status = run(ctx, &chain, &call, weights, &query, k);
    clattn_status end = clattn__chain_end(ctx, &chain, status == CLATTN_SUCCESS ? event : NULL);
    if (status == CLATTN_SUCCESS) status = end;
  }
  if (call.qa) clReleaseMemObject(call.qa);
  if (call.kb) clReleaseMemObject(call.kb);
  if (stand_in) clReleaseMemObject(stand_in);
  return status;
}
