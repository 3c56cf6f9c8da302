/* clattn_attention_spatial on an NCHW map: the planes of batch b are a row-major C x HW
 * matrix F_b in place, so per batch
 *
 *   P_b = scale * Q_b F_b          CLBlast, Sq x HW, into a float32 scratch (B, Sq, HW)
 *   P   = softmax(softcap(P), rules) in place, and into the weights view   spatial_softmax
 *   O_b = P_b F_b^T                CLBlast, straight into the caller's O rows
 *   non-finite O elements recomputed over the attended keys only            spatial_repair
 *
 * (see cl/spatial.cl for why the last step exists). The commands are ordered by a chain, as
 * the attention layer's are, on in-order and out-of-order queues. */
#include "spatial.h"

#include "chain.h"
#include "context.h"
#include "errors.h"
#include "gemm.h"
#include "kernel_args.h"
#include "program.h"

#define SOFTMAX_WG 64 /* work-items per row; a power of two, halved until the device takes it */
#define REPAIR_WG 64  /* channels per work-group of the repair kernel, at most */

#define TRY(expr)                                          \
  do {                                                     \
    clattn_status try_status_ = (expr);                    \
    if (try_status_ != CLATTN_SUCCESS) return try_status_; \
  } while (0)

typedef struct planes {
  const clattn__spatial_call *call;
  const clattn_tensor *q, *o, *weights;
  cl_mem p;           /* scratch: (B, Sq, HW) float32 scores, then probabilities */
  int64_t keys;       /* HW */
  int64_t channels;   /* C */
} planes;

static clattn_status get_kernel(clattn_context *ctx, const char *name, int w_type,
                                cl_kernel *kernel, size_t *limit) {
  clattn__defines defines;
  cl_program program;
  clattn__defines_init(&defines);
  clattn__defines_set_int(&defines, "W_TYPE", w_type);
  TRY(clattn__program_get(ctx, "spatial.cl", &defines, &program, NULL));
  TRY(clattn__kernel_create(ctx, program, name, kernel));
  clattn_status limit_status =
      clattn__kernel_work_group_limit(ctx, kernel, name, limit);
  if (limit_status != CLATTN_SUCCESS) return limit_status;
  return CLATTN_SUCCESS;
}

/* Enqueues a kernel whose arguments are set (a->err holds the first failure) as the chain's
 * next command, and releases it. */
static clattn_status launch(clattn_context *ctx, clattn__chain *chain, const char *name,
                            clattn__args *a, const size_t global[2], const size_t local[2]) {
  cl_int err = a->err;
  const char *call = "clSetKernelArg";
  if (err == CL_SUCCESS) {
    call = "clEnqueueNDRangeKernel";
    err = clEnqueueNDRangeKernel(chain->queue, a->kernel, 2, NULL, global, local, chain->count,
                                 chain->events, clattn__chain_slot(chain));
  }
  clReleaseKernel(a->kernel); /* the enqueued command keeps what it needs */
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, call, "%s with %zux%zu work-items", name, global[0], global[1]);
  clattn__chain_step(chain);
  return CLATTN_SUCCESS;
}

/* One GEMM per batch: F_b differs per batch, and CLBlast's batched routine takes no
 * per-batch leading dimensions beyond one set. scores: P_b = scale * Q_b F_b; else
 * O_b = P_b F_b^T. */
static clattn_status products(clattn_context *ctx, clattn__chain *chain, const planes *pl,
                              const clattn_feature_map *map, int scores) {
  const clattn__spatial_call *c = pl->call;
  const int64_t sq = c->shape.q_len, hw = pl->keys, ch = pl->channels;
  for (int64_t b = 0; b < c->shape.batch; b++) {
    const clattn_tensor *t = scores ? pl->q : pl->o;
    /* A single row's leading dimension is never used; CLBlast still wants it >= its width. */
    int64_t ld = sq > 1 ? t->stride_seq : ch;
    clattn__matrix rows = {t->buffer, t->offset + (uint64_t)(b * t->stride_batch), ld};
    clattn__matrix f = {map->buffer, map->offset + (uint64_t)(b * c->stride_batch), hw};
    clattn__matrix p = {pl->p, (uint64_t)(b * sq * hw), hw};
    if (scores)
      TRY(clattn__sgemm(ctx, chain->queue, sq, hw, ch, c->shape.scale, &rows, &f, 0, 0.0f, &p,
                        chain->count, chain->events, clattn__chain_slot(chain)));
    else
      TRY(clattn__sgemm(ctx, chain->queue, sq, ch, hw, 1.0f, &p, &f, 1, 0.0f, &rows,
                        chain->count, chain->events, clattn__chain_slot(chain)));
    clattn__chain_step(chain);
  }
  return CLATTN_SUCCESS;
}

static clattn_status softmax(clattn_context *ctx, clattn__chain *chain, const planes *pl) {
  const clattn__spatial_call *c = pl->call;
  const clattn_attention_desc *d = &c->desc;
  const clattn_tensor *w = pl->weights;
  cl_kernel kernel;
  size_t limit = 0, wg = SOFTMAX_WG;
  TRY(get_kernel(ctx, "spatial_softmax", w ? (int)w->dtype : 0, &kernel, &limit));
  while (wg > 1 && wg > limit) wg /= 2;
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_buffer(&a, pl->p);
  clattn__arg_int(&a, c->shape.q_len);
  clattn__arg_int(&a, c->shape.kv_len);
  clattn__arg_float(&a, d->softcap);
  clattn__arg_int(&a, d->causal != 0);
  clattn__arg_int(&a, d->alignment == CLATTN_ALIGN_BOTTOM_RIGHT);
  clattn__arg_int(&a, c->shape.window_left);
  clattn__arg_int(&a, c->shape.window_right);
  clattn__arg_buffer(&a, d->kv_lens);
  clattn__arg_buffer(&a, d->q_lens);
  clattn__arg_buffer(&a, w ? w->buffer : NULL);
  clattn__arg_long(&a, w ? (int64_t)w->offset : 0);
  clattn__arg_long(&a, w ? w->stride_batch : 0);
  clattn__arg_long(&a, w ? w->stride_seq : 0);
  clattn__arg(&a, wg * sizeof(float), NULL); /* __local reduction space */
  size_t global[2] = {wg, (size_t)c->shape.batch * (size_t)c->shape.q_len};
  size_t local[2] = {wg, 1};
  return launch(ctx, chain, "spatial_softmax", &a, global, local);
}

static clattn_status repair(clattn_context *ctx, clattn__chain *chain, const planes *pl,
                            const clattn_feature_map *map) {
  const clattn__spatial_call *c = pl->call;
  cl_kernel kernel;
  size_t limit = 0, wg = 1;
  TRY(get_kernel(ctx, "spatial_repair", 0, &kernel, &limit));
  while (2 * wg <= REPAIR_WG && 2 * wg <= limit && wg < (size_t)pl->channels) wg *= 2;
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_buffer(&a, pl->p);
  clattn__arg_int(&a, c->shape.q_len);
  clattn__arg_int(&a, c->shape.kv_len);
  clattn__arg_int(&a, c->shape.head_dim);
  clattn__arg_buffer(&a, map->buffer);
  clattn__arg_long(&a, (int64_t)map->offset);
  clattn__arg_long(&a, c->stride_batch);
  clattn__arg_long(&a, pl->keys); /* NCHW: channel c's plane starts c * HW in */
  clattn__arg_long(&a, 1);        /* and its positions are contiguous */
  clattn__arg_buffer(&a, pl->o->buffer);
  clattn__arg_long(&a, (int64_t)pl->o->offset);
  clattn__arg_long(&a, pl->o->stride_batch);
  clattn__arg_long(&a, pl->o->stride_seq);
  size_t global[2] = {((size_t)pl->channels + wg - 1) / wg * wg,
                      (size_t)c->shape.batch * (size_t)c->shape.q_len};
  size_t local[2] = {wg, 1};
  return launch(ctx, chain, "spatial_repair", &a, global, local);
}

static clattn_status run(clattn_context *ctx, clattn__chain *chain, const planes *pl,
                         const clattn_feature_map *map) {
  TRY(products(ctx, chain, pl, map, 1));
  TRY(softmax(ctx, chain, pl));
  TRY(products(ctx, chain, pl, map, 0));
  return repair(ctx, chain, pl, map);
}

clattn_status clattn__spatial_planes(clattn_context *ctx, cl_command_queue queue,
                                     const clattn__spatial_call *call, const clattn_tensor *q,
                                     const clattn_feature_map *map, const clattn_tensor *o,
                                     const clattn_tensor *weights, cl_uint num_wait_events,
                                     const cl_event *wait_events, cl_event *event) {
  planes pl = {call, q, o, weights, NULL, call->shape.kv_len, call->shape.head_dim};
  uint64_t floats = (uint64_t)call->shape.batch * (uint64_t)call->shape.q_len * (uint64_t)pl.keys;
  if (floats * sizeof(float) > ctx->info.max_mem_alloc_size)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "the scores of CLATTN_MAP_NCHW need %llu bytes (batch * q_len * height * "
                        "width floats), more than the device's largest buffer (%llu bytes)",
                        (unsigned long long)(floats * sizeof(float)),
                        (unsigned long long)ctx->info.max_mem_alloc_size);
  cl_int err = CL_SUCCESS;
  pl.p = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE | CL_MEM_HOST_NO_ACCESS,
                        (size_t)floats * sizeof(float), NULL, &err);
  if (!pl.p)
    return clattn__fail_cl(ctx, err, "clCreateBuffer", "the scores (%llu floats)", (unsigned long long)floats);
  clattn__chain chain;
  clattn__chain_begin(&chain, queue, num_wait_events, wait_events);
  clattn_status status = run(ctx, &chain, &pl, map);
  clattn_status end = clattn__chain_end(ctx, &chain, status == CLATTN_SUCCESS ? event : NULL);
  clReleaseMemObject(pl.p); /* freed once the commands that use it have finished */
  return status != CLATTN_SUCCESS ? status : end;
}
