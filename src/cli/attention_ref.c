/* The reference row: scores, softcap, positional rules, mask, stable softmax, P V. */
#include "attention_ref.h"

#include <math.h>
#include <stddef.h>

static int64_t ref_clamp(int64_t x, int64_t lo, int64_t hi) {
  return x < lo ? lo : x > hi ? hi : x;
}

/* Whether the positional rules (lengths, causal, window) let row i attend key j. */
static int ref_allowed(const clattn_cli_ref *p, int64_t i, int64_t j, int64_t q_len,
                       int64_t kv_len) {
  int64_t aligned = i + (p->bottom_right ? kv_len - q_len : 0);
  int64_t right = p->causal ? 0 : p->window_right;
  if (i >= q_len || j >= kv_len) {
    return 0;
  }
  if (p->window_left >= 0 && j < aligned - p->window_left) {
    return 0;
  }
  return right < 0 || j <= aligned + right;
}

void clattn_cli_ref_row(const clattn_cli_ref *p, int64_t b, int64_t h, int64_t i,
                        double *scores, double *out, double *lse) {
  int64_t q_len = p->q_lens != NULL ? ref_clamp(p->q_lens[b], 0, p->q_len) : p->q_len;
  int64_t kv_len = p->kv_lens != NULL ? ref_clamp(p->kv_lens[b], 0, p->kv_len) : p->kv_len;
  int64_t hk = h / (p->q_heads / p->kv_heads);
  const float *q = p->q + ((b * p->q_heads + h) * p->q_len + i) * p->head_dim;
  const float *k = p->k + (b * p->kv_heads + hk) * p->kv_len * p->head_dim;
  const float *v = p->v + (b * p->kv_heads + hk) * p->kv_len * p->v_head_dim;
  double max = -INFINITY;
  for (int64_t j = 0; j < p->kv_len; ++j) {
    double s = -INFINITY;
    if (ref_allowed(p, i, j, q_len, kv_len)) {
      double dot = 0.0;
      for (int64_t d = 0; d < p->head_dim; ++d) {
        dot += (double)q[d] * (double)k[j * p->head_dim + d];
      }
      s = dot * p->scale;
      if (p->softcap > 0.0) {
        s = p->softcap * tanh(s / p->softcap);
      }
      if (p->mask != NULL) {
        s += p->mask[b * p->mask_stride_batch + h * p->mask_stride_head +
                     i * p->mask_stride_query + j];
      }
    }
    scores[j] = s;
    max = s > max ? s : max;
  }
  for (int64_t d = 0; d < p->v_head_dim; ++d) {
    out[d] = 0.0;
  }
  if (max == -INFINITY) {
    *lse = -INFINITY;
    return;
  }
  double sum = 0.0;
  for (int64_t j = 0; j < p->kv_len; ++j) {
    if (scores[j] == -INFINITY) {
      continue;
    }
    double w = exp(scores[j] - max);
    sum += w;
    for (int64_t d = 0; d < p->v_head_dim; ++d) {
      out[d] += w * (double)v[j * p->v_head_dim + d];
    }
  }
  for (int64_t d = 0; d < p->v_head_dim; ++d) {
    out[d] /= sum;
  }
  *lse = max + log(sum);
}
