/* clattn_attention_spatial: validation of both layouts, and the NHWC path.
 *
 * An NHWC map's positions are rows of C contiguous channels, C apart: exactly a (B, 1, H*W, C)
 * view, so the fused kernel reads them in place as K and V (no copy), and the weights come
 * from clattn_attention_weights with the forward's LSE. An NCHW map's planes are not such a
 * view; spatial_planes.c runs it through CLBlast. Validation is shared: the NHWC-shaped view
 * covers the same bytes as an NCHW map of the same size, so clattn__attention_validate checks
 * q, o, the rules and every overlap for both layouts, after the map itself is checked here
 * under its own name. */
#include "spatial.h"

#include <string.h>

#include "attention_internal.h"
#include "chain.h"
#include "context.h"
#include "errors.h"
#include "tensor.h"

#define TRY(expr)                                          \
  do {                                                     \
    clattn_status try_status_ = (expr);                    \
    if (try_status_ != CLATTN_SUCCESS) return try_status_; \
  } while (0)

/* desc->batch and desc->q_len, checked first because the view checks below use them. */
static clattn_status check_sizes(clattn_context *ctx, const clattn_attention_desc *d) {
  const char *names[2] = {"batch", "q_len"};
  int64_t values[2] = {d->batch, d->q_len};
  for (int i = 0; i < 2; i++)
    if (values[i] < 1 || values[i] > INT32_MAX)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->%s = %lld must be in 1 .. 2^31 - 1",
                          names[i], (long long)values[i]);
  return CLATTN_SUCCESS;
}

static clattn_status check_map_fields(clattn_context *ctx, const clattn_feature_map *map) {
  if (!map->buffer) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "map->buffer must not be NULL");
  if (map->dtype != CLATTN_F32 && map->dtype != CLATTN_F16 && map->dtype != CLATTN_BF16)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "map->dtype is not a clattn_dtype");
  if (map->layout != CLATTN_MAP_NHWC && map->layout != CLATTN_MAP_NCHW)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "map->layout is not a clattn_map_layout");
  const char *names[3] = {"height", "width", "channels"};
  int64_t sizes[3] = {map->height, map->width, map->channels};
  for (int i = 0; i < 3; i++)
    if (sizes[i] < 1 || sizes[i] > INT32_MAX)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "map->%s = %lld must be in 1 .. 2^31 - 1",
                          names[i], (long long)sizes[i]);
  if (map->height * map->width > INT32_MAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "map->height * map->width = %lld positions exceeds 2^31 - 1",
                        (long long)(map->height * map->width));
  if (map->channels > CLATTN_MAX_HEAD_DIM)
    return clattn__fail(ctx, CLATTN_UNSUPPORTED,
                        "map->channels = %lld exceeds CLATTN_MAX_HEAD_DIM (%d)",
                        (long long)map->channels, CLATTN_MAX_HEAD_DIM);
  if (map->stride_batch < 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "map->stride_batch = %lld must not be negative",
                        (long long)map->stride_batch);
  return CLATTN_SUCCESS;
}

/* What the NCHW path cannot do: storage other than float32 (CLBlast), Q rows closer than C
 * (CLBlast's leading dimension), and the mask tensor and ALiBi, whose rules the softmax
 * kernel of cl/spatial.cl does not repeat. */
static clattn_status check_planes(clattn_context *ctx, const clattn_attention_desc *d,
                                  const clattn_tensor *q, const clattn_feature_map *map,
                                  const clattn_tensor *o) {
  if (map->dtype != CLATTN_F32)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "map->dtype must be CLATTN_F32 for CLATTN_MAP_NCHW");
  if (q->dtype != CLATTN_F32 || o->dtype != CLATTN_F32)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s.dtype must be CLATTN_F32 for CLATTN_MAP_NCHW",
                        q->dtype != CLATTN_F32 ? "q" : "o");
  if (d->q_len > 1 && q->stride_seq < map->channels)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "q.stride_seq = %lld must be at least map->channels = %lld for "
                        "CLATTN_MAP_NCHW (CLBlast reads Q as a matrix)",
                        (long long)q->stride_seq, (long long)map->channels);
  if (d->mask.type != CLATTN_MASK_NONE)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->mask is not supported with CLATTN_MAP_NCHW (use CLATTN_MAP_NHWC)");
  if (d->alibi_slopes)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->alibi_slopes is not supported with CLATTN_MAP_NCHW (use CLATTN_MAP_NHWC)");
  return CLATTN_SUCCESS;
}

typedef struct operand {
  const char *name;
  cl_mem buffer;
  uint64_t range[2];
} operand;

/* The weights view: inside its buffer, distinct elements, and sharing no memory with anything
 * the call reads or with O. */
static clattn_status check_weights(clattn_context *ctx, const clattn__spatial_call *c,
                                   const clattn_tensor *q, const clattn_tensor *o,
                                   const clattn_tensor *w) {
  const clattn_attention_desc *d = &c->desc;
  const clattn__attention_shape *s = &c->shape;
  uint64_t range[2];
  TRY(clattn__tensor_check(ctx, "weights", w, s->batch, 1, s->q_len, s->kv_len, range));
  clattn__view view = {w->offset, {s->batch, 1, s->q_len, s->kv_len},
                       {w->stride_batch, 0, w->stride_seq, 1}, clattn_dtype_size(w->dtype)};
  if (!clattn__view_disjoint(&view))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "weights's strides make elements overlap; an output needs distinct elements");
  operand all[7] = {{"q", q->buffer, {0, 0}}, {"map", c->positions.buffer, {0, 0}},
                    {"o", o->buffer, {0, 0}},
                    {"desc->mask", d->mask.type != CLATTN_MASK_NONE ? d->mask.buffer : NULL, {0, 0}},
                    {"desc->kv_lens", d->kv_lens, {0, (uint64_t)s->batch * sizeof(cl_int)}},
                    {"desc->q_lens", d->q_lens, {0, (uint64_t)s->batch * sizeof(cl_int)}},
                    {"desc->alibi_slopes", d->alibi_slopes, {0, sizeof(cl_float)}}};
  /* These views passed their checks already; here only their byte ranges are wanted. */
  TRY(clattn__tensor_check(ctx, "q", q, s->batch, 1, s->q_len, s->head_dim, all[0].range));
  TRY(clattn__tensor_check(ctx, "map", &c->positions, s->batch, 1, s->kv_len, s->head_dim, all[1].range));
  TRY(clattn__tensor_check(ctx, "o", o, s->batch, 1, s->q_len, s->v_dim, all[2].range));
  if (all[3].buffer) {
    const clattn_mask *m = &d->mask;
    clattn__view mv = {m->offset, {s->batch, 1, s->q_len, s->kv_len},
                       {m->stride_batch, m->stride_head, m->stride_query, 1},
                       m->type == CLATTN_MASK_BOOL ? 1 : 4};
    if (clattn__view_byte_range(&mv, &all[3].range[0], &all[3].range[1]) != 0)
      all[3].range[0] = 0, all[3].range[1] = UINT64_MAX;
  }
  for (int i = 0; i < 7; i++)
    if (all[i].buffer == w->buffer && clattn__ranges_overlap(all[i].range, range))
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "weights overlaps %s in the same buffer",
                          all[i].name);
  return CLATTN_SUCCESS;
}

/* The map under its own name, and O against it, before clattn__attention_validate would
 * report the same problems as "k" or "v". */
static clattn_status check_map(clattn_context *ctx, const clattn_feature_map *map,
                               const clattn_tensor *o, clattn__spatial_call *c) {
  const clattn_attention_desc *d = &c->desc;
  TRY(check_map_fields(ctx, map));
  int64_t keys = map->height * map->width;
  c->stride_batch = map->stride_batch ? map->stride_batch : keys * map->channels;
  clattn_tensor positions = {map->buffer, map->dtype, map->offset, c->stride_batch, 0, map->channels};
  c->positions = positions;
  uint64_t map_range[2], o_range[2];
  TRY(clattn__tensor_check(ctx, "map", &c->positions, d->batch, 1, keys, map->channels, map_range));
  TRY(clattn__tensor_check(ctx, "o", o, d->batch, 1, d->q_len, map->channels, o_range));
  if (o->buffer == map->buffer && clattn__ranges_overlap(o_range, map_range))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "o overlaps map in the same buffer");
  return CLATTN_SUCCESS;
}

static clattn_status validate(clattn_context *ctx, cl_command_queue queue,
                              const clattn_attention_desc *desc, const clattn_tensor *q,
                              const clattn_feature_map *map, const clattn_tensor *o,
                              const clattn_tensor *weights, cl_uint num_wait_events,
                              const cl_event *wait_events, clattn__spatial_call *c) {
  const char *missing = !desc ? "desc" : !q ? "q" : !map ? "map" : !o ? "o" : NULL;
  if (missing) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s must not be NULL", missing);
  TRY(check_sizes(ctx, desc));
  memset(c, 0, sizeof *c);
  c->desc = *desc;
  TRY(check_map(ctx, map, o, c));
  c->desc.q_heads = c->desc.kv_heads = 1;
  c->desc.kv_len = map->height * map->width;
  c->desc.head_dim = c->desc.v_head_dim = map->channels;
  TRY(clattn__attention_validate(ctx, queue, &c->desc, q, &c->positions, &c->positions, o, NULL,
                                 num_wait_events, wait_events, &c->shape));
  if (map->layout == CLATTN_MAP_NCHW) TRY(check_planes(ctx, &c->desc, q, map, o));
  return weights ? check_weights(ctx, c, q, o, weights) : CLATTN_SUCCESS;
}

/* The forward writes O and its LSE into a private scratch; the weights kernel then turns the
 * scores into probabilities with that LSE, without a second forward pass. */
static clattn_status nhwc_with_weights(clattn_context *ctx, clattn__chain *chain,
                                       const clattn__spatial_call *c, const clattn_tensor *q,
                                       const clattn_tensor *o, const clattn_tensor *weights,
                                       cl_mem lse_buffer) {
  clattn_tensor lse = clattn_tensor_contiguous(lse_buffer, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1,
                                               c->shape.q_len, 1, 0);
  const clattn_tensor *const tensors[5] = {q, &c->positions, &c->positions, o, &lse};
  TRY(clattn__attention_enqueue(ctx, chain->queue, &c->desc, &c->shape, tensors, NULL,
                                chain->count, chain->events, clattn__chain_slot(chain)));
  clattn__chain_step(chain);
  TRY(clattn_attention_weights(ctx, chain->queue, &c->desc, q, &c->positions, &lse,
                               CLATTN_WEIGHTS_PROBS, weights, chain->count, chain->events,
                               clattn__chain_slot(chain)));
  clattn__chain_step(chain);
  return CLATTN_SUCCESS;
}

static clattn_status run_nhwc(clattn_context *ctx, cl_command_queue queue,
                              const clattn__spatial_call *c, const clattn_tensor *q,
                              const clattn_tensor *o, const clattn_tensor *weights,
                              cl_uint num_wait_events, const cl_event *wait_events,
                              cl_event *event) {
  if (!weights) {
    const clattn_tensor *const tensors[5] = {q, &c->positions, &c->positions, o, NULL};
    return clattn__attention_enqueue(ctx, queue, &c->desc, &c->shape, tensors, NULL,
                                     num_wait_events, wait_events, event);
  }
  cl_int err = CL_SUCCESS;
  size_t rows = (size_t)c->shape.batch * (size_t)c->shape.q_len;
  cl_mem lse = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE | CL_MEM_HOST_NO_ACCESS,
                              rows * sizeof(float), NULL, &err);
  if (!lse) return clattn__fail_cl(ctx, err, "clCreateBuffer", "the LSE of %zu query rows", rows);
  clattn__chain chain;
  clattn__chain_begin(&chain, queue, num_wait_events, wait_events);
  clattn_status status = nhwc_with_weights(ctx, &chain, c, q, o, weights, lse);
  clattn_status end = clattn__chain_end(ctx, &chain, status == CLATTN_SUCCESS ? event : NULL);
  clReleaseMemObject(lse); /* freed once the commands that use it have finished */
  return status != CLATTN_SUCCESS ? status : end;
}

clattn_status clattn_attention_spatial(clattn_context *ctx, cl_command_queue queue,
                                       const clattn_attention_desc *desc, const clattn_tensor *q,
                                       const clattn_feature_map *map, const clattn_tensor *o,
                                       const clattn_tensor *weights, cl_uint num_wait_events,
                                       const cl_event *wait_events, cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!queue) queue = ctx->queue;
  clattn__spatial_call call;
  TRY(validate(ctx, queue, desc, q, map, o, weights, num_wait_events, wait_events, &call));
  if (map->layout == CLATTN_MAP_NCHW)
    return clattn__spatial_planes(ctx, queue, &call, q, map, o, weights, num_wait_events,
                                  wait_events, event);
  return run_nhwc(ctx, queue, &call, q, o, weights, num_wait_events, wait_events, event);
}
