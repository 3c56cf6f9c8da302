#include "attention_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void ref_attention_init(ref_attention *p, int64_t batch, int64_t q_heads, int64_t kv_heads,
                        int64_t q_len, int64_t kv_len, int64_t head_dim, int64_t v_head_dim) {
  memset(p, 0, sizeof *p);
  p->batch = batch;
  p->q_heads = q_heads;
  p->kv_heads = kv_heads;
  p->q_len = q_len;
  p->kv_len = kv_len;
  p->head_dim = head_dim;
  p->v_head_dim = v_head_dim;
  p->window_left = p->window_right = -1;
  p->mask_type = CLATTN_MASK_NONE;
}

void ref_attention_from_desc(ref_attention *p, const clattn_attention_desc *d) {
  ref_attention_init(p, d->batch, d->q_heads, d->kv_heads, d->q_len, d->kv_len, d->head_dim,
                     d->v_head_dim);
  p->scale = d->scale;
  p->softcap = d->softcap;
  p->causal = d->causal != 0;
  p->bottom_right = d->alignment == CLATTN_ALIGN_BOTTOM_RIGHT;
  p->window_left = d->window_left;
  p->window_right = d->window_right;
}

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

static uint64_t mask_index(const ref_attention *p, int64_t b, int64_t h, int64_t i, int64_t j) {
  return p->mask_offset + (uint64_t)(b * p->mask_stride_batch + h * p->mask_stride_head +
                                     i * p->mask_stride_query + j);
}

static float additive(const ref_attention *p, int64_t b, int64_t h, int64_t i, int64_t j) {
  float x;
  memcpy(&x, (const char *)p->mask + 4 * mask_index(p, b, h, i, j), sizeof x);
  return x;
}

/* i' of row i in batch b: the position causal masks, windows and ALiBi measure from. */
static int64_t aligned_row(const ref_attention *p, int64_t b, int64_t i) {
  int64_t qlen = p->q_lens ? clamp64(p->q_lens[b], 0, p->q_len) : p->q_len;
  int64_t kvlen = p->kv_lens ? clamp64(p->kv_lens[b], 0, p->kv_len) : p->kv_len;
  return p->bottom_right ? i + kvlen - qlen : i;
}

double ref_attention_bias(const ref_attention *p, int64_t b, int64_t h, int64_t i, int64_t j) {
  if (!p->alibi_slopes) return 0.0;
  int64_t distance = aligned_row(p, b, i) - j;
  return -(double)p->alibi_slopes[h] * (double)(distance < 0 ? -distance : distance);
}

int ref_attention_allowed(const ref_attention *p, int64_t b, int64_t h, int64_t i, int64_t j) {
  int64_t qlen = p->q_lens ? clamp64(p->q_lens[b], 0, p->q_len) : p->q_len;
  int64_t kvlen = p->kv_lens ? clamp64(p->kv_lens[b], 0, p->kv_len) : p->kv_len;
  if (i >= qlen || j >= kvlen) return 0;
  int64_t aligned = aligned_row(p, b, i);
  if (p->causal && j > aligned) return 0;
  if (p->window_left >= 0 && j < aligned - p->window_left) return 0;
  if (p->window_right >= 0 && j > aligned + p->window_right) return 0;
  if (p->mask_type == CLATTN_MASK_BOOL)
    return ((const uint8_t *)p->mask)[mask_index(p, b, h, i, j)] != 0;
  if (p->mask_type == CLATTN_MASK_ADDITIVE) return additive(p, b, h, i, j) != -INFINITY;
  return 1;
}

int ref_attention_forward(const ref_attention *p, double *o, double *lse) {
  const int64_t D = p->head_dim, Dv = p->v_head_dim ? p->v_head_dim : p->head_dim;
  const int64_t Sq = p->q_len, Skv = p->kv_len, group = p->q_heads / p->kv_heads;
  const double scale = p->scale != 0.0 ? p->scale : 1.0 / sqrt((double)D);
  double *s = malloc((size_t)Skv * sizeof *s);
  unsigned char *attended = malloc((size_t)Skv);
  if (!s || !attended) {
    free(s);
    free(attended);
    return -1;
  }
  for (int64_t b = 0; b < p->batch; b++)
    for (int64_t h = 0; h < p->q_heads; h++) {
      const int64_t hk = h / group;
      const float *kh = p->k + (b * p->kv_heads + hk) * Skv * D;
      const float *vh = p->v + (b * p->kv_heads + hk) * Skv * Dv;
      for (int64_t i = 0; i < Sq; i++) {
        const float *qi = p->q + ((b * p->q_heads + h) * Sq + i) * D;
        double *oi = o + ((b * p->q_heads + h) * Sq + i) * Dv;
        double m = -INFINITY;
        for (int64_t j = 0; j < Skv; j++) {
          attended[j] = (unsigned char)ref_attention_allowed(p, b, h, i, j);
          if (!attended[j]) continue;
          double dot = 0.0;
          for (int64_t d = 0; d < D; d++) dot += (double)qi[d] * (double)kh[j * D + d];
          double x = dot * scale;
          if (p->softcap > 0.0) x = p->softcap * tanh(x / p->softcap);
          x += ref_attention_bias(p, b, h, i, j);
          if (p->mask_type == CLATTN_MASK_ADDITIVE) x += (double)additive(p, b, h, i, j);
          s[j] = x;
          if (x > m) m = x; /* NaN compares false: ignored, like fmax */
        }
        double l = 0.0;
        for (int64_t d = 0; d < Dv; d++) oi[d] = 0.0;
        for (int64_t j = 0; j < Skv; j++) {
          if (!attended[j] || s[j] == -INFINITY) continue;
          double w = exp(s[j] - m);
          l += w;
          for (int64_t d = 0; d < Dv; d++) oi[d] += w * (double)vh[j * Dv + d];
        }
        if (l == 0.0) {
          for (int64_t d = 0; d < Dv; d++) oi[d] = 0.0;
          if (lse) lse[(b * p->q_heads + h) * Sq + i] = -INFINITY;
          continue;
        }
        for (int64_t d = 0; d < Dv; d++) oi[d] /= l;
        if (lse) lse[(b * p->q_heads + h) * Sq + i] = m + log(l);
      }
    }
  free(s);
  free(attended);
  return 0;
}
