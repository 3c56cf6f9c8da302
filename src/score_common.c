/* Helpers of the score functions (see score_internal.h). */
#include <stdlib.h>

#include "context.h"
#include "errors.h"
#include "score_internal.h"
#include "tensor.h"

clattn_tensor clattn__score_dense(cl_mem buffer, int64_t heads, int64_t seq, int64_t dim) {
  return clattn_tensor_contiguous(buffer, CLATTN_F32, CLATTN_LAYOUT_BHSD, heads, seq, dim, 0);
}

clattn_status clattn__score_scratch(clattn_context *ctx, const char *name, uint64_t floats,
                                    int zeroed, cl_mem *out) {
  if (floats == 0 || floats > SIZE_MAX / sizeof(float))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s would need %llu floats", name,
                        (unsigned long long)floats);
  float *zeros = NULL;
  if (zeroed && !(zeros = calloc((size_t)floats, sizeof *zeros)))
    return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory for %s", name);
  cl_int err = CL_SUCCESS;
  *out = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE | (zeroed ? CL_MEM_COPY_HOST_PTR : 0),
                        (size_t)floats * sizeof(float), zeros, &err);
  free(zeros);
  if (!*out) return clattn__fail_cl(ctx, err, "clCreateBuffer", "%s (%llu floats)", name,
                                    (unsigned long long)floats);
  return CLATTN_SUCCESS;
}

/* The byte ranges of O and LSE, for overlap checks (LSE's range empty when absent). */
static void output_ranges(clattn_context *ctx, const clattn__attention_shape *s,
                          const clattn_tensor *o, const clattn_tensor *lse, uint64_t ranges[2][2]) {
  ranges[1][0] = ranges[1][1] = 0;
  /* Already validated, so these cannot fail. */
  (void)clattn__tensor_check(ctx, "o", o, s->batch, s->q_heads, s->q_len, s->v_dim, ranges[0]);
  if (lse) (void)clattn__tensor_check(ctx, "lse", lse, s->batch, s->q_heads, s->q_len, 1, ranges[1]);
}

static clattn_status outputs_clear(clattn_context *ctx, const char *name, cl_mem buffer,
                                   const uint64_t range[2], const clattn__attention_shape *s,
                                   const clattn_tensor *o, const clattn_tensor *lse) {
  uint64_t out[2][2];
  output_ranges(ctx, s, o, lse, out);
  if (buffer == o->buffer && clattn__ranges_overlap(range, out[0]))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "o overlaps %s in the same buffer", name);
  if (lse && buffer == lse->buffer && clattn__ranges_overlap(range, out[1]))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "lse overlaps %s in the same buffer", name);
  return CLATTN_SUCCESS;
}

clattn_status clattn__score_validate(clattn_context *ctx, cl_command_queue queue,
                                     const clattn_attention_desc *inner,
                                     const clattn__score_query *query, const clattn_tensor *k,
                                     const clattn_tensor *v, const clattn_tensor *o,
                                     const clattn_tensor *lse, cl_uint num_wait_events,
                                     const cl_event *wait_events,
                                     clattn__attention_shape *shape, cl_mem *stand_in) {
  const clattn_tensor *q = query->q;
  *stand_in = NULL;
  if (!q) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "q must not be NULL");
  /* A dimension the validation below refuses needs no real stand-in. */
  int64_t d = inner->head_dim;
  uint64_t floats = d >= 1 && d <= CLATTN_MAX_HEAD_DIM ? (uint64_t)d : 1;
  clattn_status status = clattn__score_scratch(ctx, "the stand-in Q", floats, 1, stand_in);
  if (status != CLATTN_SUCCESS) return status;
  clattn_tensor zero = {*stand_in, CLATTN_F32, 0, 0, 0, 0};
  status = clattn__attention_validate(ctx, queue, inner, &zero, k ? k : &zero, v, o, lse,
                                      num_wait_events, wait_events, shape);
  uint64_t range[2];
  if (status == CLATTN_SUCCESS && (query->q_dim < 1 || query->q_dim > INT32_MAX))
    status = clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "q_dim = %lld must be in 1 .. 2^31 - 1",
                          (long long)query->q_dim);
  if (status == CLATTN_SUCCESS)
    status = clattn__tensor_check(ctx, "q", q, shape->batch, shape->q_heads, shape->q_len,
                                  query->q_dim, range);
  if (status == CLATTN_SUCCESS && q->dtype != CLATTN_F32)
    status = clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                          "q.dtype must be CLATTN_F32 (it is projected by CLBlast)");
  if (status == CLATTN_SUCCESS) status = outputs_clear(ctx, "q", q->buffer, range, shape, o, lse);
  if (status != CLATTN_SUCCESS) {
    clReleaseMemObject(*stand_in);
    *stand_in = NULL;
  }
  return status;
}

clattn_status clattn__score_check_weight(clattn_context *ctx, const char *name, cl_mem buffer,
                                         uint64_t offset, uint64_t floats,
                                         const clattn__attention_shape *shape,
                                         const clattn_tensor *o, const clattn_tensor *lse) {
  if (!buffer) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s must not be NULL", name);
  size_t size = 0;
  cl_int err = clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof size, &size, NULL);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clGetMemObjectInfo", "%s is not a valid buffer", name);
  uint64_t end;
  if (__builtin_add_overflow(offset, floats, &end) || end > UINT64_MAX / sizeof(float) ||
      end * sizeof(float) > (uint64_t)size)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "%s holds %zu bytes; %llu floats from element %llu do not fit", name,
                        size, (unsigned long long)floats, (unsigned long long)offset);
  uint64_t range[2] = {offset * sizeof(float), end * sizeof(float)};
  return outputs_clear(ctx, name, buffer, range, shape, o, lse);
}

clattn_status clattn__score_project(clattn_context *ctx, clattn__chain *chain,
                                    const clattn_tensor *x, int64_t batch, int64_t heads,
                                    int64_t seq, int64_t k, const clattn__matrix *w,
                                    int w_transposed, int64_t n, float alpha, cl_mem out) {
  /* The rows (b, h, s) as few matrices as the strides allow (see score_internal.h). */
  const int64_t ld = seq == 1 ? k : x->stride_seq;
  const int per_row = ld < k;
  const int heads_merge = !per_row && (heads == 1 || x->stride_head == seq * ld);
  const int all_merge = heads_merge && (batch == 1 || x->stride_batch == heads * seq * ld);
  const int64_t rows = per_row ? 1 : all_merge ? batch * heads * seq : heads_merge ? heads * seq : seq;
  const int64_t calls = batch * heads * seq / rows;
  for (int64_t call = 0; call < calls; call++) {
    /* The first row (b, h, s) of this call. */
    const int64_t first = call * rows, b = first / (heads * seq), h = first / seq % heads,
                  s = first % seq;
    clattn__matrix a = {x->buffer,
                        x->offset + (uint64_t)(b * x->stride_batch + h * x->stride_head +
                                               s * x->stride_seq),
                        per_row ? k : ld};
    clattn__matrix c = {out, (uint64_t)(first * n), n};
    clattn_status status = clattn__sgemm(ctx, chain->queue, rows, n, k, alpha, &a, w, w_transposed,
                                         0.0f, &c, chain->count, chain->events,
                                         clattn__chain_slot(chain));
    if (status != CLATTN_SUCCESS) return status;
    clattn__chain_step(chain);
  }
  return CLATTN_SUCCESS;
}
