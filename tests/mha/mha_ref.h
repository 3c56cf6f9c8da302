/* Double-precision host reference of the multi-head attention layer (clattn_mha_*):
 *
 *   Q = X Wq^T + bq,  K = M Wk^T + bk,  V = M Wv^T + bv     (M = X for self-attention)
 *   RoPE on Q and K heads (positions offset + s; per batch + positions[b])
 *   O_h = attention(Q_h, K_h/g, V_h/g) with the options of ref_attention (tests/ref)
 *   Y = concat_h(O_h) Wo^T + bo
 *
 * Projections and RoPE are computed in double; Q, K and V are handed to the attention
 * reference as float (its input type), a perturbation far below the fp32 tolerances. */
#ifndef CLATTN_TEST_MHA_REF_H
#define CLATTN_TEST_MHA_REF_H

#include <clattn.h>
#include <stdint.h>

#include "attention_ref.h"

typedef struct mha_ref_layer {
  int64_t embed_dim, num_heads, kv_heads, head_dim, kv_dim;
  const float *wq, *wk, *wv, *wo; /* (Hq*D, E), (Hkv*D, kv_dim), (Hkv*D, kv_dim), (E, Hq*D) */
  const float *bq, *bk, *bv, *bo; /* NULL: no bias */
  clattn_rope rope;               /* rotary_dim 0: the whole head */
  int alibi;
  double scale;                   /* 0: 1/sqrt(D) */
} mha_ref_layer;

/* Rotates x (heads, seq, dim) doubles in place, token s at position pos0 + s. */
void mha_ref_rope(const clattn_rope *rope, double *x, int64_t heads, int64_t seq, int64_t dim,
                  int64_t pos0);

/* y: (B, S, E). x: (B, S, E) floats; memory: (B, Skv, kv_dim) floats or NULL (self, Skv = S).
 * `opts` gives causal, alignment, windows, lengths and mask (its shape and data fields are
 * ignored). probs: (B, Hq, S, Skv) doubles (0 where not attended) or NULL. */
void mha_ref_forward(const mha_ref_layer *layer, int64_t batch, int64_t seq, int64_t kv_len,
                     const float *x, const float *memory, int64_t position_offset,
                     const ref_attention *opts, double *y, double *probs);

#endif
