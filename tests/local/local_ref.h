/* Double-precision host reference for clattn_attention_local, written from the header's
 * contract (Luong et al. 2015, section 3.2 and eq. 10):
 *
 *   p_t = t' (local-m: t aligned as desc->alignment says, per batch), or positions[b,h,t],
 *         or S_b * sigmoid(v_p . tanh(W_p q_t)) (local-p), S_b the batch's key length
 *   key s is in the window when |s - p_t| <= D (so D = 0 and a fractional p_t: no key)
 *   attended = in the window and allowed by every desc rule and mask (ref_attention_allowed)
 *   w_s = softmax over the attended scores (scaled dot, softcap, ALiBi, additive mask)
 *   a_s = w_s * exp(-(s - p_t)^2 / (2 sigma^2)), sigma = D / 2 (gaussian; D = 0: factor 1)
 *   o_t = sum_s a_s v_s (not renormalised);  lse_t = log-sum-exp of the attended scores
 *   no attended key: o_t = 0, lse_t = -inf;  a NaN p_t: o_t and lse_t NaN. */
#ifndef CLATTN_TEST_LOCAL_REF_H
#define CLATTN_TEST_LOCAL_REF_H

#include <stdint.h>

#include "attention_ref.h"

typedef struct ref_local {
  ref_attention attn; /* shape, rules, masks, ALiBi and the data q, k, v */
  int predictive;     /* 0: local-m; 1: local-p */
  int64_t window;     /* D */
  int gaussian;
  const float *positions; /* local-p: (B, Hq, Sq), or NULL for W_p / v_p */
  const float *w_p;       /* (p_dim, head_dim) row-major */
  const float *v_p;       /* (p_dim) */
  int64_t p_dim;
} ref_local;

/* p_t of every (b, h, t), dense (B, Hq, Sq) doubles. */
void ref_local_positions(const ref_local *p, double *pos);

/* o: (B, Hq, Sq, Dv), lse: (B, Hq, Sq) or NULL. Returns 0, or -1 when out of memory. */
int ref_local_forward(const ref_local *p, double *o, double *lse);

/* 1 when (b, h, t) attends key s (window, rules and masks). */
int ref_local_attends(const ref_local *p, const double *pos, int64_t b, int64_t h, int64_t t,
                      int64_t s);

#endif
