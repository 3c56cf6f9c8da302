/* Geometry of strided views: how far a view reaches into its buffer, and whether its
 * elements overlap, in overflow-checked 64-bit arithmetic. */
#ifndef CLATTN_TENSOR_H
#define CLATTN_TENSOR_H

#include <stdint.h>

#include "clattn.h"

/* A view's shape: dims[0..3] with element strides[0..3]; strides[3] is the contiguous 1. */
typedef struct clattn__view {
  uint64_t offset;
  int64_t dims[4];
  int64_t strides[4];
  size_t element_size;
} clattn__view;

/* Byte range [*begin, *end) the view touches; -1 when the arithmetic overflows 64 bits. */
int clattn__view_byte_range(const clattn__view *view, uint64_t *begin, uint64_t *end);

/* 1 when no two elements of the view share an address (needed for outputs). */
int clattn__view_disjoint(const clattn__view *view);

/* Checks a caller's view of shape (batch, heads, seq, dim): not NULL, a buffer, a storage
 * type, no negative stride, inside its buffer (CL_MEM_SIZE). Returns its byte range in
 * range[0 .. 1]; INVALID_ARGUMENT naming `name` otherwise. Sizes must be positive. */
clattn_status clattn__tensor_check(clattn_context *ctx, const char *name, const clattn_tensor *t,
                                   int64_t batch, int64_t heads, int64_t seq, int64_t dim,
                                   uint64_t range[2]);

/* 1 when two byte ranges [begin, end) share a byte. */
int clattn__ranges_overlap(const uint64_t a[2], const uint64_t b[2]);

#endif
