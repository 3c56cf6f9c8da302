/* clattn_attention_weights: the (B, Hq, Sq, Skv) matrix of one stage of attention.
 *
 * Validation reuses clattn__attention_validate with stand-ins for what the weights call
 * does not have: V is K itself (read only, shape (B, Hkv, Skv, 1) once Dv is forced to 1),
 * and O is a private (B, Hq, Sq, 1) float32 scratch buffer, which can fail no check and
 * overlaps nothing. The weights view is then checked here. The scratch is O(B*Hq*Sq), far
 * smaller than the weights themselves, and doubles as the forward's O when clattn computes
 * the LSE that probabilities need. */
#include <string.h>

#include "attention_internal.h"
#include "attention_validate.h"
#include "context.h"
#include "errors.h"
#include "kernel_args.h"
#include "program.h"
#include "tensor.h"

#define WEIGHTS_WG 64 /* keys per work-group, halved until the device accepts it */

static int overlaps(const uint64_t a[2], const uint64_t b[2]) { return a[0] < b[1] && b[0] < a[1]; }

static clattn__view tensor_view(const clattn_tensor *t, int64_t b, int64_t h, int64_t s,
                                int64_t d) {
  clattn__view view = {t->offset, {b, h, s, d}, {t->stride_batch, t->stride_head, t->stride_seq, 1},
                       clattn_dtype_size(t->dtype)};
  return view;
}

/* Byte range of a view already known to lie inside its buffer. */
static void byte_range(const clattn__view *view, uint64_t range[2]) {
  if (clattn__view_byte_range(view, &range[0], &range[1]) != 0) range[0] = range[1] = 0;
}

/* The weights view: a known storage type, inside its buffer, distinct elements, and no
 * memory shared with anything the kernels read. */
static clattn_status check_weights(clattn_context *ctx, const clattn_attention_desc *d,
                                   const clattn__attention_shape *s, const clattn_tensor *q,
                                   const clattn_tensor *k, const clattn_tensor *lse,
                                   const clattn_tensor *w) {
  if (w->dtype != CLATTN_F32 && w->dtype != CLATTN_F16 && w->dtype != CLATTN_BF16)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "weights.dtype is not a clattn_dtype");
  if (!w->buffer) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "weights.buffer must not be NULL");
  if (w->stride_batch < 0 || w->stride_head < 0 || w->stride_seq < 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "weights has a negative stride");
  size_t size = 0;
  cl_int err = clGetMemObjectInfo(w->buffer, CL_MEM_SIZE, sizeof size, &size, NULL);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clGetMemObjectInfo", "weights is not a valid buffer");
  clattn__view view = tensor_view(w, s->batch, s->q_heads, s->q_len, s->kv_len);
  uint64_t range[2];
  if (clattn__view_byte_range(&view, &range[0], &range[1]) != 0 || range[1] > size)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "weights reaches past the end of its buffer (%zu bytes): offset %llu, "
                        "strides %lld/%lld/%lld, shape %dx%dx%dx%d",
                        size, (unsigned long long)w->offset, (long long)w->stride_batch,
                        (long long)w->stride_head, (long long)w->stride_seq, s->batch,
                        s->q_heads, s->q_len, s->kv_len);
  if (!clattn__view_disjoint(&view))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "weights's strides make elements overlap; an output needs distinct elements");

  struct { const char *name; cl_mem buffer; uint64_t range[2]; } in[7] = {
      {"q", q->buffer, {0, 0}}, {"k", k->buffer, {0, 0}}, {"lse", lse ? lse->buffer : NULL, {0, 0}},
      {"desc->mask", d->mask.type != CLATTN_MASK_NONE ? d->mask.buffer : NULL, {0, 0}},
      {"desc->kv_lens", d->kv_lens, {0, (uint64_t)s->batch * sizeof(cl_int)}},
      {"desc->q_lens", d->q_lens, {0, (uint64_t)s->batch * sizeof(cl_int)}},
      {"desc->alibi_slopes", d->alibi_slopes, {0, (uint64_t)s->q_heads * sizeof(cl_float)}}};
  clattn__view qv = tensor_view(q, s->batch, s->q_heads, s->q_len, s->head_dim);
  clattn__view kv = tensor_view(k, s->batch, s->kv_heads, s->kv_len, s->head_dim);
  byte_range(&qv, in[0].range);
  byte_range(&kv, in[1].range);
  if (lse) {
    clattn__view lv = tensor_view(lse, s->batch, s->q_heads, s->q_len, 1);
    byte_range(&lv, in[2].range);
  }
  if (in[3].buffer) {
    const clattn_mask *m = &d->mask;
    clattn__view mv = {m->offset, {s->batch, s->q_heads, s->q_len, s->kv_len},
                       {m->stride_batch, m->stride_head, m->stride_query, 1},
                       m->type == CLATTN_MASK_BOOL ? 1 : 4};
    byte_range(&mv, in[3].range);
  }
  for (int i = 0; i < 7; i++)
    if (in[i].buffer == w->buffer && overlaps(in[i].range, range))
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "weights overlaps %s in the same buffer",
                          in[i].name);
  return CLATTN_SUCCESS;
}


static cl_int set_arguments(cl_kernel kernel, const clattn_attention_desc *d,
                            const clattn__attention_shape *s, const clattn_tensor *q,
                            const clattn_tensor *k, const clattn_tensor *w,
                            const clattn_tensor *lse, int mode) {
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_view(&a, q);
  clattn__arg_view(&a, k);
  clattn__arg_view(&a, w);
  clattn__arg_view(&a, mode == CLATTN_WEIGHTS_PROBS ? lse : NULL);
  clattn__arg_int(&a, s->q_heads);
  clattn__arg_int(&a, s->q_heads / s->kv_heads);
  clattn__arg_int(&a, s->q_len);
  clattn__arg_int(&a, s->kv_len);
  clattn__arg_int(&a, s->head_dim);
  clattn__attention_rule_args(&a, d, s);
  clattn__arg_int(&a, mode);
  return a.err;
}

/* Builds (or finds) the variant for these storage types and the largest work-group of at
 * most WEIGHTS_WG that the device accepts for it. */
static clattn_status get_kernel(clattn_context *ctx, const clattn_tensor *q,
                                const clattn_tensor *k, const clattn_tensor *w, int alibi,
                                cl_kernel *kernel, size_t *wg) {
  clattn__defines defines;
  cl_program program;
  clattn__defines_init(&defines);
  clattn__defines_set_int(&defines, "WEIGHTS", 1);
  clattn__defines_set_int(&defines, "Q_TYPE", (int)q->dtype);
  clattn__defines_set_int(&defines, "K_TYPE", (int)k->dtype);
  clattn__defines_set_int(&defines, "W_TYPE", (int)w->dtype);
  if (alibi) clattn__defines_set_int(&defines, "ALIBI", 1);
  clattn_status status = clattn__program_get(ctx, "attention_fwd.cl", &defines, &program, NULL);
  if (status == CLATTN_SUCCESS)
    status = clattn__kernel_create(ctx, program, "attention_weights", kernel);
  if (status != CLATTN_SUCCESS) return status;
  size_t limit = 0;
  clattn_status limit_status =
      clattn__kernel_work_group_limit(ctx, kernel, "attention_weights", &limit);
  if (limit_status != CLATTN_SUCCESS) return limit_status;
  *wg = WEIGHTS_WG;
  while (*wg > 1 && *wg > limit) *wg /= 2;
  return CLATTN_SUCCESS;
}

static clattn_status enqueue_weights(clattn_context *ctx, cl_command_queue queue,
                                     const clattn_attention_desc *d,
                                     const clattn__attention_shape *s, const clattn_tensor *q,
                                     const clattn_tensor *k, const clattn_tensor *lse,
                                     int mode, const clattn_tensor *w, cl_uint num_wait_events,
                                     const cl_event *wait_events, cl_event *event) {
  cl_kernel kernel = NULL;
  size_t wg = 1;
  /* ALiBi is a bias like an additive mask: modes 0 and 1 do not see it. */
  const int alibi = d->alibi_slopes != NULL && mode >= CLATTN_WEIGHTS_MASKED;
  clattn_status status = get_kernel(ctx, q, k, w, alibi, &kernel, &wg);
  if (status != CLATTN_SUCCESS) return status;
  cl_int err = set_arguments(kernel, d, s, q, k, w, lse, mode);
  if (err != CL_SUCCESS) {
    clReleaseKernel(kernel);
    return clattn__fail_cl(ctx, err, "clSetKernelArg", "attention_weights");
  }
  size_t global[3] = {((size_t)s->kv_len + wg - 1) / wg * wg, (size_t)s->q_len,
                      (size_t)s->batch * (size_t)s->q_heads};
  size_t local[3] = {wg, 1, 1};
  err = clEnqueueNDRangeKernel(queue, kernel, 3, NULL, global, local, num_wait_events,
                               wait_events, event);
  clReleaseKernel(kernel); /* the enqueued command keeps what it needs */
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel",
                           "attention_weights with %zux%zux%zu work-items", global[0], global[1],
                           global[2]);
  return CLATTN_SUCCESS;
}

/* The scratch buffer: rows float32 for the stand-in O, and rows more for the LSE when clattn
 * computes it. Sizes that check_dims will reject get no buffer (validation fails first). */
static clattn_status scratch_create(clattn_context *ctx, const clattn_attention_desc *d,
                                    int need_lse, cl_mem *scratch, uint64_t *rows) {
  *scratch = NULL;
  *rows = 0;
  if (d->batch < 1 || d->q_heads < 1 || d->q_len < 1 || d->batch > INT32_MAX ||
      d->q_heads > INT32_MAX || d->q_len > INT32_MAX || d->batch * d->q_heads > INT32_MAX)
    return CLATTN_SUCCESS;
  *rows = (uint64_t)d->batch * (uint64_t)d->q_heads * (uint64_t)d->q_len;
  cl_int err = CL_SUCCESS;
  *scratch = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE | CL_MEM_HOST_NO_ACCESS,
                            (size_t)(*rows * (need_lse ? 2 : 1) * sizeof(float)), NULL, &err);
  if (err != CL_SUCCESS) {
    *scratch = NULL;
    return clattn__fail_cl(ctx, err, "clCreateBuffer", "scratch of %llu rows for the weights",
                           (unsigned long long)*rows);
  }
  return CLATTN_SUCCESS;
}

clattn_status clattn_attention_weights(clattn_context *ctx, cl_command_queue queue,
                                       const clattn_attention_desc *desc,
                                       const clattn_tensor *q, const clattn_tensor *k,
                                       const clattn_tensor *lse, clattn_weights_mode mode,
                                       const clattn_tensor *weights, cl_uint num_wait_events,
                                       const cl_event *wait_events, cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!queue) queue = ctx->queue;
  const char *missing = !desc ? "desc" : !q ? "q" : !k ? "k" : !weights ? "weights" : NULL;
  if (missing) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s must not be NULL", missing);
  if ((int)mode < CLATTN_WEIGHTS_SCORES || (int)mode > CLATTN_WEIGHTS_PROBS)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "mode = %d is not a clattn_weights_mode (0 .. 3)", (int)mode);

  /* V is not used: Dv = 1 makes K's first feature a valid stand-in. */
  clattn_attention_desc d = *desc;
  d.v_head_dim = 1;
  const int compute_lse = mode == CLATTN_WEIGHTS_PROBS && !lse;
  cl_mem scratch = NULL;
  uint64_t rows = 0;
  cl_event forward_done = NULL;
  clattn__attention_shape shape;
  clattn_status status = scratch_create(ctx, &d, compute_lse, &scratch, &rows);
  clattn_tensor o_stand = {scratch, CLATTN_F32, 0, 0, 0, 0};
  clattn_tensor lse_scratch = {scratch, CLATTN_F32, rows, 0, 0, 0};
  if (status == CLATTN_SUCCESS) {
    o_stand = clattn_tensor_contiguous(scratch, CLATTN_F32, CLATTN_LAYOUT_BHSD, d.q_heads,
                                       d.q_len, 1, 0);
    lse_scratch = clattn_tensor_contiguous(scratch, CLATTN_F32, CLATTN_LAYOUT_BHSD, d.q_heads,
                                           d.q_len, 1, rows);
    status = clattn__attention_validate(ctx, queue, &d, q, k, k, &o_stand,
                                        compute_lse ? &lse_scratch : lse, num_wait_events,
                                        wait_events, &shape);
  }
  if (status == CLATTN_SUCCESS) status = check_weights(ctx, &d, &shape, q, k, lse, weights);

  /* Probabilities without a given LSE: run the forward into the scratch first (its O is
   * (B, Hq, Sq, 1) of K's first feature, and is discarded), and make the weights kernel
   * wait for it through its event, which is correct on out-of-order queues too. */
  cl_uint waits = num_wait_events;
  const cl_event *wait_list = wait_events;
  if (status == CLATTN_SUCCESS && compute_lse) {
    const clattn_tensor *const tensors[5] = {q, k, k, &o_stand, &lse_scratch};
    status = clattn__attention_enqueue(ctx, queue, &d, &shape, tensors, NULL, num_wait_events,
                                       wait_events, &forward_done);
    lse = &lse_scratch;
    waits = 1;
    wait_list = &forward_done;
  }
  if (status == CLATTN_SUCCESS)
    status = enqueue_weights(ctx, queue, &d, &shape, q, k, lse, (int)mode, weights, waits,
                             wait_list, event);
  /* Releasing the scratch here is safe: OpenCL frees a memory object only once its
   * reference count is zero and the commands enqueued with it have finished. */
  if (forward_done) clReleaseEvent(forward_done);
  if (scratch) clReleaseMemObject(scratch);
  return status;
}
