/* Double-precision host reference for clattn_attention_forward, written straight from the
 * numerical contract in include/clattn.h and DESIGN.md:
 *
 *   s_ij = scale * q_i . k_j                (scale 0: 1/sqrt(D); dot products in double)
 *   s_ij = c * tanh(s_ij / c)               (softcap c > 0)
 *   s_ij -= slopes[h] * |i' - j|            (ALiBi; i' the aligned row below, per batch)
 *   key j is attended by row i when every rule allows it:
 *     i < Sq_b, j < Skv_b                    (per-batch lengths, clamped to 0..Sq / 0..Skv)
 *     i' = i (top-left) or i + Skv_b - Sq_b (bottom-right)
 *     causal: j <= i';  window: i' - left <= j <= i' + right  (-1: that side unbounded)
 *     bool mask (b, h, i, j) != 0;  additive mask (b, h, i, j) != -inf
 *   s_ij += additive mask value             (finite values, even -1e30, are ordinary)
 *   m_i = max of the attended s_ij, NaN ignored (like fmax)
 *   w_ij = exp(s_ij - m_i); a score of -inf has weight 0 and its V row is not read
 *   l_i = sum_j w_ij;  o_i = sum_j w_ij v_j / l_i;  lse_i = m_i + log(l_i)
 *   a row with l_i = 0 (no attended key, or only -inf scores) gives o_i = 0, lse_i = -inf.
 *
 * NaN and infinities propagate the natural way: a NaN score (or +inf, through
 * exp(inf - inf)) makes the whole row and its LSE NaN; a NaN or inf in V reaches exactly the
 * features of the rows that attend that key. Masked positions are never read.
 *
 * Inputs are dense BHSD float arrays (already rounded to their storage type); outputs are
 * dense BHSD doubles. */
#ifndef CLATTN_TEST_REF_ATTENTION_H
#define CLATTN_TEST_REF_ATTENTION_H

#include <clattn.h>
#include <stdint.h>

typedef struct ref_attention {
  int64_t batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_head_dim; /* Dv 0: D */
  double scale;   /* 0: 1/sqrt(D) */
  double softcap; /* 0: off */
  int causal;
  int bottom_right;
  int64_t window_left, window_right; /* -1: unbounded */
  const int32_t *kv_lens, *q_lens;   /* B entries each, or NULL */
  /* Mask tensor on the host: `mask` points at the image of the whole buffer (uint8 for
   * CLATTN_MASK_BOOL, float for CLATTN_MASK_ADDITIVE); element (b, h, i, j) is at
   * mask_offset + b*stride_batch + h*stride_head + i*stride_query + j. */
  clattn_mask_type mask_type;
  const void *mask;
  uint64_t mask_offset;
  int64_t mask_stride_batch, mask_stride_head, mask_stride_query;
  const float *alibi_slopes; /* Hq ALiBi slopes, or NULL: no bias */
  const float *q; /* (B, Hq, Sq, D) */
  const float *k; /* (B, Hkv, Skv, D) */
  const float *v; /* (B, Hkv, Skv, Dv) */
} ref_attention;

/* Fills `p` with a shape and no options (like clattn_attention_desc_init). */
void ref_attention_init(ref_attention *p, int64_t batch, int64_t q_heads, int64_t kv_heads,
                        int64_t q_len, int64_t kv_len, int64_t head_dim, int64_t v_head_dim);

/* The same options as a clattn descriptor (shape, scale, softcap, causal, alignment,
 * windows); lengths, mask and data are set separately. */
void ref_attention_from_desc(ref_attention *p, const clattn_attention_desc *desc);

/* 1 when row i of (b, h) attends key j under every rule and mask, else 0. */
int ref_attention_allowed(const ref_attention *p, int64_t b, int64_t h, int64_t i, int64_t j);

/* The ALiBi bias of (b, h, i, j): -slopes[h] * |i' - j| with i' = i (top-left) or
 * i + Skv_b - Sq_b (bottom-right), in double; 0 without slopes. */
double ref_attention_bias(const ref_attention *p, int64_t b, int64_t h, int64_t i, int64_t j);

/* o: (B, Hq, Sq, Dv) doubles; lse: (B, Hq, Sq) doubles or NULL. Returns 0, or -1 when out
 * of memory. */
int ref_attention_forward(const ref_attention *p, double *o, double *lse);

#endif
