/* Double-precision references of the classic score functions (include/clattn.h, "The classic
 * attention family"), on top of tests/ref: the rules, masks and ALiBi bias come from
 * ref_attention_allowed / ref_attention_bias, and the softmax and value sum are written the
 * same way as ref_attention_forward (max subtracted, -inf weight 0 and its V row not read,
 * empty rows zero with LSE -inf). Only the score differs:
 *
 *   general   s_ij = scale * sum_d (sum_c q_ic W_cd) k_jd      scale 0: 1/sqrt(D)
 *   additive  s_ij = scale * sum_a v_a tanh(a_ia + b_ja)         scale 0: 1
 *             a_i = W1 q_i, b_j = W2 k_j
 *   location  s_ij = scale * sum_d W_a[j][d] q_id               scale 0: 1
 *
 * Projections are formed in double from the float inputs. Inputs are dense BHSD floats. */
#ifndef CLATTN_TEST_SCORE_REF_H
#define CLATTN_TEST_SCORE_REF_H

#include "attention_ref.h"

typedef enum score_kind { SCORE_GENERAL = 0, SCORE_ADDITIVE = 1, SCORE_LOCATION = 2 } score_kind;

typedef struct score_ref {
  score_kind kind;
  ref_attention rules; /* shape, scale (0: the kind's default), rules, lengths, mask, ALiBi,
                        * k (general, additive) and v; its q is unused */
  const float *q;      /* (B, Hq, Sq, q_dim) */
  int64_t q_dim;
  int64_t attn_dim;    /* additive: A */
  const float *w;      /* general W (q_dim x D); location W_a (Skv x D) */
  const float *w1, *w2, *v_a; /* additive: W1 (A x q_dim), W2 (A x D), v (A) */
} score_ref;

/* o: (B, Hq, Sq, Dv) doubles; lse: (B, Hq, Sq) doubles or NULL. 0, or -1 out of memory. */
int score_ref_forward(const score_ref *p, double *o, double *lse);

#endif
