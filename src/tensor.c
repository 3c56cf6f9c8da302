#include "tensor.h"

#include "errors.h"

size_t clattn_dtype_size(clattn_dtype dtype) { return dtype == CLATTN_F32 ? 4 : 2; }

clattn_tensor clattn_tensor_contiguous(cl_mem buffer, clattn_dtype dtype, clattn_layout layout,
                                       int64_t heads, int64_t seq, int64_t dim, uint64_t offset) {
  clattn_tensor t;
  t.buffer = buffer;
  t.dtype = dtype;
  t.offset = offset;
  t.stride_batch = heads * seq * dim;
  if (layout == CLATTN_LAYOUT_BSHD) {
    t.stride_seq = heads * dim;
    t.stride_head = dim;
  } else {
    t.stride_seq = dim;
    t.stride_head = seq * dim;
  }
  return t;
}

int clattn__view_byte_range(const clattn__view *view, uint64_t *begin, uint64_t *end) {
  uint64_t last = view->offset;
  for (int i = 0; i < 4; i++) {
    uint64_t step;
    if (view->dims[i] < 1 || view->strides[i] < 0) return -1;
    if (__builtin_mul_overflow((uint64_t)(view->dims[i] - 1), (uint64_t)view->strides[i], &step) ||
        __builtin_add_overflow(last, step, &last))
      return -1;
  }
  uint64_t bytes_begin, bytes_end;
  if (__builtin_mul_overflow(view->offset, (uint64_t)view->element_size, &bytes_begin) ||
      __builtin_mul_overflow(last + 1, (uint64_t)view->element_size, &bytes_end) || last == UINT64_MAX)
    return -1;
  *begin = bytes_begin;
  *end = bytes_end;
  return 0;
}

int clattn__view_disjoint(const clattn__view *view) {
  /* Order the dimensions of size > 1 by stride; each must step past everything the
   * dimensions inside it reach. */
  int order[4], n = 0;
  for (int i = 0; i < 4; i++)
    if (view->dims[i] > 1) order[n++] = i;
  for (int a = 1; a < n; a++)
    for (int b = a; b > 0 && view->strides[order[b]] < view->strides[order[b - 1]]; b--) {
      int t = order[b];
      order[b] = order[b - 1];
      order[b - 1] = t;
    }
  uint64_t reach = 1; /* elements spanned by the inner dimensions */
  for (int i = 0; i < n; i++) {
    uint64_t stride = (uint64_t)view->strides[order[i]], span;
    if (stride < reach) return 0;
    if (__builtin_mul_overflow(stride, (uint64_t)(view->dims[order[i]] - 1), &span) ||
        __builtin_add_overflow(span, reach, &reach))
      return 0;
  }
  return 1;
}

clattn_status clattn__tensor_check(clattn_context *ctx, const char *name, const clattn_tensor *t,
                                   int64_t batch, int64_t heads, int64_t seq, int64_t dim,
                                   uint64_t range[2]) {
  if (!t) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s must not be NULL", name);
  if (!t->buffer) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s.buffer must not be NULL", name);
  if (t->dtype != CLATTN_F32 && t->dtype != CLATTN_F16 && t->dtype != CLATTN_BF16)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s.dtype is not a clattn_dtype", name);
  if (t->stride_batch < 0 || t->stride_head < 0 || t->stride_seq < 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s has a negative stride", name);
  size_t size = 0;
  cl_int err = clGetMemObjectInfo(t->buffer, CL_MEM_SIZE, sizeof size, &size, NULL);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clGetMemObjectInfo", "%s.buffer is not a valid buffer", name);
  clattn__view view = {t->offset, {batch, heads, seq, dim},
                       {t->stride_batch, t->stride_head, t->stride_seq, 1},
                       clattn_dtype_size(t->dtype)};
  if (clattn__view_byte_range(&view, &range[0], &range[1]) != 0 || range[1] > size)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "%s reaches past the end of its buffer (%zu bytes): offset %llu, strides "
                        "%lld/%lld/%lld, shape %lldx%lldx%lldx%lld",
                        name, size, (unsigned long long)t->offset, (long long)t->stride_batch,
                        (long long)t->stride_head, (long long)t->stride_seq, (long long)batch,
                        (long long)heads, (long long)seq, (long long)dim);
  return CLATTN_SUCCESS;
}

int clattn__ranges_overlap(const uint64_t a[2], const uint64_t b[2]) {
  return a[0] < b[1] && b[0] < a[1];
}
