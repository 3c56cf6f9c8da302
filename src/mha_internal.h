/* The multi-head attention layer's object, shared by its files: mha.c (creation, forward,
 * incremental step) and mha_weights.c (checking and uploading weights). */
#ifndef CLATTN_MHA_INTERNAL_H
#define CLATTN_MHA_INTERNAL_H

#include "clattn.h"

/* The layer's weights on the device. w_in holds the input projections back to back, each
 * row-major with its input features contiguous:
 *
 *   W_q (q_width x E) | W_k (kv_width x kv_dim) | W_v (kv_width x kv_dim)
 *
 * so for self-attention (kv_dim = E) it is one (q_width + 2 kv_width) x E matrix and one
 * GEMM projects Q, K and V together; PyTorch's in_proj_weight is exactly this layout. */
typedef struct clattn__mha_weights {
  cl_mem w_in, b_in;   /* b_in: q_width + 2 kv_width biases, NULL without bias */
  cl_mem w_out, b_out; /* E x q_width; E biases */
} clattn__mha_weights;

struct clattn_mha {
  clattn_context *ctx;
  clattn_mha_desc desc;       /* kv_heads, head_dim, kv_dim and rope resolved */
  int64_t q_width, kv_width;  /* Hq * D, Hkv * D */
  clattn__mha_weights weights; /* all NULL until clattn_mha_set_weights succeeds */
  cl_mem alibi;               /* Hq slopes, or NULL */
};

void clattn__mha_weights_release(clattn__mha_weights *w);

#endif
