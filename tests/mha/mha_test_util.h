/* Shared pieces of the layer tests: random layers (weights + reference description), the
 * clattn layer built from them, and token-row buffers with padding, NaN poison and canaries. */
#ifndef CLATTN_TEST_MHA_UTIL_H
#define CLATTN_TEST_MHA_UTIL_H

#include <clattn.h>
#include <stddef.h>
#include <stdint.h>

#include "attn_harness.h"
#include "mha_ref.h"

#define MT_CANARY 64
#define MT_CANARY_VALUE 12345.678f

void *mt_alloc(size_t bytes);

/* Weights drawn from N(0, 1/fan_in); `ref` points into them. */
typedef struct mt_layer {
  mha_ref_layer ref;
  float *wq, *wk, *wv, *wo, *bq, *bk, *bv, *bo;
  float *packed_w, *packed_b; /* wq | wk | wv and bq | bk | bv back to back */
} mt_layer;

/* kv_heads, head_dim, kv_dim 0: defaults as clattn_mha_desc. */
void mt_layer_init(mt_layer *L, int64_t embed_dim, int64_t heads, int64_t kv_heads,
                   int64_t head_dim, int64_t kv_dim, int bias, uint64_t seed);
void mt_layer_free(mt_layer *L);
/* The clattn layer with these weights (packed: in_proj_weight / in_proj_bias). */
clattn_mha_desc mt_layer_desc(const mt_layer *L);
clattn_mha_weights mt_layer_weights(const mt_layer *L, int packed);
clattn_mha *mt_layer_create(attn_env *env, const mt_layer *L, int packed);

/* B x S rows of `dim` floats, `row` floats apart, batches `batch_stride` apart, in one buffer
 * followed by MT_CANARY canaries; padding holds canaries too. */
typedef struct mt_rows {
  cl_mem buffer;
  clattn_tensor view;
  int64_t batch, seq, dim, row, batch_stride;
  size_t total; /* floats in the buffer */
} mt_rows;

mt_rows mt_rows_upload(attn_env *env, const float *dense, int64_t batch, int64_t seq,
                       int64_t dim, int64_t row, int64_t batch_stride);
/* Rows of NaN (outputs must overwrite every element). */
mt_rows mt_rows_poisoned(attn_env *env, int64_t batch, int64_t seq, int64_t dim, int64_t row,
                         int64_t batch_stride);
/* Reads the rows back densely (B, S, dim) and checks that padding and canaries are intact. */
float *mt_rows_read(attn_env *env, const mt_rows *r);
void mt_rows_release(mt_rows *r);

#endif
