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

#endif
