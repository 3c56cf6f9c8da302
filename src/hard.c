/* clattn_attention_hard: host side of cl/hard.cl.
 *
 * The attention part of a call (shapes, rules, Q, K, V, the mask, lengths, ALiBi, queue and
 * wait list) is validated by clattn__attention_validate, with O seen as its first Sq rows.
 * This file adds what hard attention changes: the draw count and mode, O's full
 * (B, Hq, Sq * draws, Dv) extent, the indices buffer, and stricter aliasing: neither output
 * may share memory with any input, not even O with Q in place, because a query's draws rows
 * are written while other work-items may still be reading the Q rows they cover. */
#include "hard.h"

#include <string.h>

#include "attention_internal.h"
#include "attention_validate.h"
#include "context.h"
#include "errors.h"
#include "kernel_args.h"
#include "program.h"
#include "tensor.h"

#define GPU_WG 64     /* GPUs want many work-items per group */
#define CPU_WG 16     /* PoCL: a group is the unit spread over cores; keep several groups */
#define MANY_DRAWS 8  /* draws per work-item when a query has several */

static const char *FILE_NAME = "hard.cl";

/* ---- validation ------------------------------------------------------------------------ */

static clattn_status check_hard(clattn_context *ctx, const clattn_hard_desc *hard) {
  if (!hard) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "hard must not be NULL");
  if (hard->mode != CLATTN_HARD_SAMPLE && hard->mode != CLATTN_HARD_ARGMAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "hard->mode = %d is not a clattn_hard_mode",
                        (int)hard->mode);
  if (hard->draws < 1)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "hard->draws = %lld must be at least 1",
                        (long long)hard->draws);
  if (hard->mode == CLATTN_HARD_ARGMAX && hard->draws != 1)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "hard->draws = %lld must be 1 with CLATTN_HARD_ARGMAX (every draw would "
                        "repeat the same key)",
                        (long long)hard->draws);
  return CLATTN_SUCCESS;
}

static clattn_status check_config(clattn_context *ctx, const clattn__hard_config *c) {
  int n = c->draws_per_item;
  if (c->wg < 1 || (n != 1 && n != 2 && n != 4 && n != 8 && n != 16))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "config: wg = %d must be positive and draws_per_item = %d one of 1, 2, "
                        "4, 8, 16",
                        c->wg, n);
  return CLATTN_SUCCESS;
}

/* A byte range of one buffer that the kernel reads or writes. */
typedef struct span {
  const char *name;
  cl_mem buffer;
  uint64_t range[2];
} span;

/* Everything the kernel reads: Q, K, V, the mask tensor, the lengths and the slopes
 * (already validated; here only their byte ranges are needed). */
static clattn_status input_spans(clattn_context *ctx, const clattn_attention_desc *d,
                                 const clattn__attention_shape *s, const clattn_tensor *q,
                                 const clattn_tensor *k, const clattn_tensor *v, span in[7]) {
  const uint64_t lens = (uint64_t)s->batch * sizeof(cl_int);
  const span fixed[7] = {
      {"q", q->buffer, {0, 0}}, {"k", k->buffer, {0, 0}}, {"v", v->buffer, {0, 0}},
      {"desc->mask", d->mask.type != CLATTN_MASK_NONE ? d->mask.buffer : NULL, {0, 0}},
      {"desc->kv_lens", d->kv_lens, {0, lens}}, {"desc->q_lens", d->q_lens, {0, lens}},
      {"desc->alibi_slopes", d->alibi_slopes, {0, (uint64_t)s->q_heads * sizeof(cl_float)}}};
  memcpy(in, fixed, sizeof fixed);
  clattn_status status = clattn__tensor_check(ctx, "q", q, s->batch, s->q_heads, s->q_len,
                                              s->head_dim, in[0].range);
  if (status == CLATTN_SUCCESS)
    status = clattn__tensor_check(ctx, "k", k, s->batch, s->kv_heads, s->kv_len, s->head_dim,
                                  in[1].range);
  if (status == CLATTN_SUCCESS)
    status = clattn__tensor_check(ctx, "v", v, s->batch, s->kv_heads, s->kv_len, s->v_dim,
                                  in[2].range);
  if (status != CLATTN_SUCCESS || !in[3].buffer) return status;
  const clattn_mask *m = &d->mask;
  clattn__view view = {m->offset, {s->batch, s->q_heads, s->q_len, s->kv_len},
                       {m->stride_batch, m->stride_head, m->stride_query, 1},
                       m->type == CLATTN_MASK_BOOL ? 1 : 4};
  if (clattn__view_byte_range(&view, &in[3].range[0], &in[3].range[1]) != 0)
    return clattn__fail(ctx, CLATTN_INTERNAL, "desc->mask passed validation but has no range");
  return CLATTN_SUCCESS;
}

/* O over all Sq * draws rows: inside its buffer, distinct elements. */
static clattn_status check_o(clattn_context *ctx, const clattn__attention_shape *s,
                             int64_t rows, const clattn_tensor *o, span *out) {
  out->name = "o";
  out->buffer = o->buffer;
  clattn_status status =
      clattn__tensor_check(ctx, "o", o, s->batch, s->q_heads, rows, s->v_dim, out->range);
  if (status != CLATTN_SUCCESS) return status;
  clattn__view view = {o->offset, {s->batch, s->q_heads, rows, s->v_dim},
                       {o->stride_batch, o->stride_head, o->stride_seq, 1},
                       clattn_dtype_size(o->dtype)};
  if (!clattn__view_disjoint(&view))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "o's strides make elements overlap over its Sq * draws = %lld rows; an "
                        "output needs distinct elements",
                        (long long)rows);
  return CLATTN_SUCCESS;
}

/* indices: B * Hq * Sq * draws int32 entries from the buffer's start. */
static clattn_status check_indices(clattn_context *ctx, const clattn__attention_shape *s,
                                   int64_t rows, cl_mem indices, span *out) {
  out->name = "indices";
  out->buffer = indices;
  out->range[0] = out->range[1] = 0;
  if (!indices) return CLATTN_SUCCESS;
  size_t bytes = 0;
  cl_int err = clGetMemObjectInfo(indices, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clGetMemObjectInfo", "indices is not a valid buffer");
  /* At most 2^31 * 2^31 entries of 4 bytes: no overflow in 64 bits. */
  uint64_t entries = (uint64_t)s->batch * (uint64_t)s->q_heads * (uint64_t)rows;
  out->range[1] = entries * sizeof(cl_int);
  if ((uint64_t)bytes < out->range[1])
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "indices holds %zu bytes; B * Hq * Sq * draws = %llu int32 entries need "
                        "%llu",
                        bytes, (unsigned long long)entries, (unsigned long long)out->range[1]);
  return CLATTN_SUCCESS;
}

static clattn_status check_disjoint(clattn_context *ctx, const span *out, const span *in,
                                    int count) {
  for (int i = 0; i < count; i++)
    if (out->buffer && in[i].buffer == out->buffer &&
        clattn__ranges_overlap(out->range, in[i].range))
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s overlaps %s in the same buffer",
                          out->name, in[i].name);
  return CLATTN_SUCCESS;
}

static clattn_status validate(clattn_context *ctx, cl_command_queue queue,
                              const clattn_attention_desc *desc, const clattn_hard_desc *hard,
                              const clattn_tensor *q, const clattn_tensor *k,
                              const clattn_tensor *v, const clattn_tensor *o, cl_mem indices,
                              cl_uint num_wait_events, const cl_event *wait_events,
                              clattn__attention_shape *shape) {
  clattn_status status = check_hard(ctx, hard);
  if (status == CLATTN_SUCCESS)
    status = clattn__attention_validate(ctx, queue, desc, q, k, v, o, NULL, num_wait_events,
                                        wait_events, shape);
  if (status != CLATTN_SUCCESS) return status;
  if (hard->draws > INT32_MAX / shape->q_len)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "hard->draws = %lld times desc->q_len = %d output rows exceed 2^31 - 1",
                        (long long)hard->draws, shape->q_len);
  const int64_t rows = (int64_t)shape->q_len * hard->draws;
  span in[7], out[2];
  status = input_spans(ctx, desc, shape, q, k, v, in);
  if (status == CLATTN_SUCCESS) status = check_o(ctx, shape, rows, o, &out[0]);
  if (status == CLATTN_SUCCESS) status = check_indices(ctx, shape, rows, indices, &out[1]);
  if (status == CLATTN_SUCCESS) status = check_disjoint(ctx, &out[0], in, 7);
  if (status == CLATTN_SUCCESS) status = check_disjoint(ctx, &out[1], in, 7);
  if (status == CLATTN_SUCCESS) status = check_disjoint(ctx, &out[1], &out[0], 1);
  return status;
}

/* ---- enqueueing ------------------------------------------------------------------------ */

static clattn__hard_config default_config(const clattn_context *ctx, const clattn_hard_desc *h) {
  clattn__hard_config c;
  c.wg = (ctx->info.type & CL_DEVICE_TYPE_GPU) ? GPU_WG : CPU_WG;
  c.draws_per_item = h->draws > 1 ? MANY_DRAWS : 1;
  return c;
}

/* Builds (or finds) the variant and fits the work-group to what the kernel allows. */
static clattn_status get_kernel(clattn_context *ctx, const clattn_tensor *const t[4],
                                clattn__hard_config *config, cl_kernel *kernel) {
  static const char *names[4] = {"Q_TYPE", "K_TYPE", "V_TYPE", "O_TYPE"};
  clattn__defines defines;
  cl_program program;
  clattn__defines_init(&defines);
  for (int i = 0; i < 4; i++) clattn__defines_set_int(&defines, names[i], t[i]->dtype);
  clattn__defines_set_int(&defines, "DRAWS", config->draws_per_item);
  clattn_status status = clattn__program_get(ctx, FILE_NAME, &defines, &program, NULL);
  if (status == CLATTN_SUCCESS)
    status = clattn__kernel_create(ctx, program, "attention_hard", kernel);
  if (status != CLATTN_SUCCESS) return status;
  size_t limit = 0;
  clattn_status limit_status =
      clattn__kernel_work_group_limit(ctx, kernel, "attention_hard", &limit);
  if (limit_status != CLATTN_SUCCESS) return limit_status;
  if (limit > ctx->info.max_work_item_sizes[0]) limit = ctx->info.max_work_item_sizes[0];
  while ((size_t)config->wg > limit && config->wg > 1) config->wg /= 2;
  return CLATTN_SUCCESS;
}

static cl_int set_arguments(cl_kernel kernel, const clattn_attention_desc *d,
                            const clattn__attention_shape *s, const clattn_tensor *const t[4],
                            cl_mem indices, const clattn_hard_desc *hard, int chunks) {
  clattn__args a = {kernel, 0, CL_SUCCESS};
  for (int i = 0; i < 4; i++) clattn__arg_view(&a, t[i]);
  clattn__arg_buffer(&a, indices);
  clattn__arg_int(&a, s->q_heads);
  clattn__arg_int(&a, s->q_heads / s->kv_heads);
  clattn__arg_int(&a, s->q_len);
  clattn__arg_int(&a, s->kv_len);
  clattn__arg_int(&a, s->head_dim);
  clattn__arg_int(&a, s->v_dim);
  clattn__attention_rule_args(&a, d, s);
  clattn__arg_int(&a, hard->mode == CLATTN_HARD_ARGMAX);
  clattn__arg_int(&a, (int)hard->draws);
  clattn__arg_int(&a, chunks);
  cl_uint seed_lo = (cl_uint)(hard->seed & 0xffffffffu), seed_hi = (cl_uint)(hard->seed >> 32);
  cl_uint offset = hard->offset;
  clattn__arg(&a, sizeof seed_lo, &seed_lo);
  clattn__arg(&a, sizeof seed_hi, &seed_hi);
  clattn__arg(&a, sizeof offset, &offset);
  return a.err;
}

static clattn_status enqueue(clattn_context *ctx, cl_command_queue queue,
                             const clattn_attention_desc *desc,
                             const clattn__attention_shape *shape, const clattn_hard_desc *hard,
                             const clattn_tensor *const tensors[4], cl_mem indices,
                             clattn__hard_config config, cl_uint num_wait_events,
                             const cl_event *wait_events, cl_event *event) {
  cl_kernel kernel = NULL;
  clattn_status status = get_kernel(ctx, tensors, &config, &kernel);
  if (status != CLATTN_SUCCESS) return status;
  const int chunks = (int)((hard->draws + config.draws_per_item - 1) / config.draws_per_item);
  cl_int err = set_arguments(kernel, desc, shape, tensors, indices, hard, chunks);
  if (err != CL_SUCCESS) {
    clReleaseKernel(kernel);
    return clattn__fail_cl(ctx, err, "clSetKernelArg", "attention_hard");
  }
  const size_t items = (size_t)shape->q_len * (size_t)chunks, wg = (size_t)config.wg;
  size_t global[2] = {(items + wg - 1) / wg * wg, (size_t)shape->batch * (size_t)shape->q_heads};
  size_t local[2] = {wg, 1};
  err = clEnqueueNDRangeKernel(queue, kernel, 2, NULL, global, local, num_wait_events,
                               wait_events, event);
  clReleaseKernel(kernel); /* the enqueued command keeps what it needs */
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel",
                           "attention_hard with %zux%zu work-items", global[0], global[1]);
  return CLATTN_SUCCESS;
}

/* ---- public call ----------------------------------------------------------------------- */

clattn_status clattn__attention_hard_with(
    clattn_context *ctx, cl_command_queue queue, const clattn_attention_desc *desc,
    const clattn_hard_desc *hard, const clattn_tensor *q, const clattn_tensor *k,
    const clattn_tensor *v, const clattn_tensor *o, cl_mem indices, cl_uint num_wait_events,
    const cl_event *wait_events, cl_event *event, const clattn__hard_config *config) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!queue) queue = ctx->queue;
  clattn__attention_shape shape;
  clattn_status status = validate(ctx, queue, desc, hard, q, k, v, o, indices, num_wait_events,
                                  wait_events, &shape);
  clattn__hard_config chosen;
  if (status == CLATTN_SUCCESS) {
    chosen = config ? *config : default_config(ctx, hard);
    status = check_config(ctx, &chosen);
  }
  if (status != CLATTN_SUCCESS) return status;
  const clattn_tensor *const tensors[4] = {q, k, v, o};
  return enqueue(ctx, queue, desc, &shape, hard, tensors, indices, chosen, num_wait_events,
                 wait_events, event);
}

clattn_status clattn_attention_hard(clattn_context *ctx, cl_command_queue queue,
                                    const clattn_attention_desc *desc,
                                    const clattn_hard_desc *hard, const clattn_tensor *q,
                                    const clattn_tensor *k, const clattn_tensor *v,
                                    const clattn_tensor *o, cl_mem indices,
                                    cl_uint num_wait_events, const cl_event *wait_events,
                                    cl_event *event) {
  return clattn__attention_hard_with(ctx, queue, desc, hard, q, k, v, o, indices,
                                     num_wait_events, wait_events, event, NULL);
}
