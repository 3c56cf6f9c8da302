/*
 * A double-precision host reference for clattn_attention_forward, one query row at a time,
 * written straight from the numerical contract in clattn.h (softmax with the max subtracted).
 * The demo checks a sample of rows with it; the CLI tests compute their expected outputs
 * with it.
 */
#ifndef CLATTN_CLI_ATTENTION_REF_H
#define CLATTN_CLI_ATTENTION_REF_H

#include <stdint.h>

typedef struct clattn_cli_ref {
  int64_t batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_head_dim;
  /* Contiguous BHSD float arrays: Q (B, Hq, Sq, D), K (B, Hkv, Skv, D), V (B, Hkv, Skv, Dv). */
  const float *q, *k, *v;
  double scale;   /* the scale itself: no "0 means default" here */
  double softcap; /* 0: off */
  int causal, bottom_right;
  int64_t window_left, window_right; /* -1: unbounded */
  const int32_t *kv_lens, *q_lens;   /* B entries each, or NULL */
  /* Additive mask indexed (b, h, i, j) with keys contiguous; -inf masks. NULL: none. */
  const float *mask;
  int64_t mask_stride_batch, mask_stride_head, mask_stride_query;
} clattn_cli_ref;

/* Computes output row (b, h, i) into out[0 .. Dv-1] and its log-sum-exp into *lse (-inf and
 * a zero row when no key is attendable). `scores` is scratch room for Skv doubles. */
void clattn_cli_ref_row(const clattn_cli_ref *p, int64_t b, int64_t h, int64_t i,
                        double *scores, double *out, double *lse);

#endif /* CLATTN_CLI_ATTENTION_REF_H */
