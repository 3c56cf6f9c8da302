/* The local-p projection: Z = W_p h_t for every query row, by CLBlast, into scratch that
 * cl/local.cl reads to predict p_t = S_b * sigmoid(v_p . tanh(Z)). */
#include <string.h>

#include "context.h"
#include "errors.h"
#include "gemm.h"
#include "local.h"

/* Whether q's rows, over the dimensions of size > 1, nest into one matrix: sorted by stride,
 * each dimension's stride is the next inner one's times its size, and the innermost stride
 * (the matrix's ld) is at least D. Then Z takes the same order, p_dim floats per row. */
static int one_matrix(const clattn__attention_shape *s, const clattn_tensor *q,
                      clattn__local_projection *p) {
  int64_t dims[3] = {s->batch, s->q_heads, s->q_len};
  int64_t strides[3] = {q->stride_batch, q->stride_head, q->stride_seq};
  int order[3], n = 0;
  for (int i = 2; i >= 0; i--)
    if (dims[i] > 1) order[n++] = i;
  for (int a = 1; a < n; a++) /* insertion sort by stride, innermost first */
    for (int b = a; b > 0 && strides[order[b]] < strides[order[b - 1]]; b--) {
      int t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  int64_t ld = n > 0 ? strides[order[0]] : s->head_dim;
  if (ld < s->head_dim) return 0;
  for (int i = 1; i < n; i++)
    if (strides[order[i]] != strides[order[i - 1]] * dims[order[i - 1]]) return 0;
  int64_t z[3] = {0, 0, 0};
  /* Z's stride of a dimension: its q stride in rows (times p_dim, applied by plan). */
  for (int i = 0; i < n; i++) z[order[i]] = strides[order[i]] / ld;
  p->merged = 1;
  p->ld = ld;
  p->stride_batch = z[0];
  p->stride_head = z[1];
  p->stride_seq = z[2];
  return 1;
}

static void plan(const clattn__attention_shape *s, const clattn_tensor *q, int64_t p_dim,
                 clattn__local_projection *p) {
  memset(p, 0, sizeof *p);
  if (!one_matrix(s, q, p)) { /* per (b, h): Z dense (B, Hq, Sq, p_dim) */
    p->merged = 0;
    p->ld = s->q_len > 1 ? q->stride_seq : s->head_dim;
    p->stride_batch = (int64_t)s->q_heads * s->q_len;
    p->stride_head = s->q_len;
    p->stride_seq = 1;
  }
  p->stride_batch *= p_dim;
  p->stride_head *= p_dim;
  p->stride_seq *= p_dim;
}

clattn_status clattn__local_projection_check(clattn_context *ctx,
                                             const clattn__attention_shape *s,
                                             const clattn_tensor *q, int64_t p_dim) {
  if (q->dtype != CLATTN_F32)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "q.dtype must be CLATTN_F32 when local->w_p projects it (CLBlast)");
  if (s->q_len > 1 && q->stride_seq < s->head_dim)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "q.stride_seq = %lld is below head_dim %d: projecting q by local->w_p "
                        "needs rows that do not overlap",
                        (long long)q->stride_seq, s->head_dim);
  uint64_t rows = (uint64_t)s->batch * (uint64_t)s->q_heads * (uint64_t)s->q_len;
  uint64_t bytes = rows * (uint64_t)p_dim * sizeof(cl_float); /* p_dim <= 65536: no overflow */
  if (bytes > ctx->info.max_mem_alloc_size)
    return clattn__fail(ctx, CLATTN_UNSUPPORTED,
                        "local->p_dim = %lld: the projection of %llu query rows needs %llu bytes, "
                        "above the device's largest buffer (%llu)",
                        (long long)p_dim, (unsigned long long)rows, (unsigned long long)bytes,
                        (unsigned long long)ctx->info.max_mem_alloc_size);
  return CLATTN_SUCCESS;
}

clattn_status clattn__local_projection_create(clattn_context *ctx,
                                              const clattn__attention_shape *s,
                                              const clattn_tensor *q, int64_t p_dim,
                                              clattn__local_projection *out) {
  plan(s, q, p_dim, out);
  size_t bytes = (size_t)s->batch * (size_t)s->q_heads * (size_t)s->q_len * (size_t)p_dim *
                 sizeof(cl_float);
  cl_int err;
  out->z = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, bytes, NULL, &err);
  if (!out->z)
    return clattn__fail_cl(ctx, err, "clCreateBuffer", "the local-p projection (%zu bytes)", bytes);
  return CLATTN_SUCCESS;
}

clattn_status clattn__local_projection_enqueue(clattn_context *ctx, clattn__chain *chain,
                                               const clattn__attention_shape *s,
                                               const clattn_tensor *q, cl_mem w_p,
                                               int64_t p_dim,
                                               const clattn__local_projection *p) {
  const clattn__matrix weight = {w_p, 0, s->head_dim}; /* (p_dim x D): B^T of the GEMM */
  const int64_t calls = p->merged ? 1 : (int64_t)s->batch * s->q_heads;
  const int64_t rows = p->merged ? (int64_t)s->batch * s->q_heads * s->q_len : s->q_len;
  for (int64_t i = 0; i < calls; i++) {
    const int64_t b = i / s->q_heads, h = i % s->q_heads;
    uint64_t a_offset = q->offset;
    if (!p->merged) a_offset += (uint64_t)(b * q->stride_batch + h * q->stride_head);
    const clattn__matrix a = {q->buffer, a_offset, p->ld};
    const clattn__matrix c = {p->z, p->merged ? 0 : (uint64_t)(b * p->stride_batch + h * p->stride_head),
                              p_dim};
    clattn_status status = clattn__sgemm(ctx, chain->queue, rows, p_dim, s->head_dim, 1.0f, &a,
                                         &weight, 1, 0.0f, &c, chain->count, chain->events,
                                         clattn__chain_slot(chain));
    if (status != CLATTN_SUCCESS) return status;
    clattn__chain_step(chain);
  }
  return CLATTN_SUCCESS;
}

void clattn__local_projection_release(clattn__local_projection *p) {
  if (p->z) clReleaseMemObject(p->z);
  p->z = NULL;
}
