#include "local_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static int64_t clamp64(int64_t x, int64_t lo, int64_t hi) { return x < lo ? lo : x > hi ? hi : x; }

void ref_local_positions(const ref_local *p, double *pos) {
  const ref_attention *a = &p->attn;
  const int64_t D = a->head_dim;
  for (int64_t b = 0; b < a->batch; b++) {
    int64_t qlen = a->q_lens ? clamp64(a->q_lens[b], 0, a->q_len) : a->q_len;
    int64_t kvlen = a->kv_lens ? clamp64(a->kv_lens[b], 0, a->kv_len) : a->kv_len;
    for (int64_t h = 0; h < a->q_heads; h++)
      for (int64_t t = 0; t < a->q_len; t++) {
        int64_t at = (b * a->q_heads + h) * a->q_len + t;
        if (!p->predictive) {
          pos[at] = (double)(a->bottom_right ? t + kvlen - qlen : t);
        } else if (p->positions) {
          pos[at] = (double)p->positions[at];
        } else {
          const float *q = a->q + at * D;
          double x = 0.0;
          for (int64_t j = 0; j < p->p_dim; j++) {
            double z = 0.0;
            for (int64_t d = 0; d < D; d++) z += (double)p->w_p[j * D + d] * (double)q[d];
            x += (double)p->v_p[j] * tanh(z);
          }
          pos[at] = (double)kvlen / (1.0 + exp(-x));
        }
      }
  }
}

int ref_local_attends(const ref_local *p, const double *pos, int64_t b, int64_t h, int64_t t,
                      int64_t s) {
  double centre = pos[(b * p->attn.q_heads + h) * p->attn.q_len + t];
  return fabs((double)s - centre) <= (double)p->window &&
         ref_attention_allowed(&p->attn, b, h, t, s);
}

static double gaussian(const ref_local *p, double distance) {
  if (!p->gaussian || p->window == 0) return 1.0;
  double sigma = (double)p->window / 2.0;
  return exp(-distance * distance / (2.0 * sigma * sigma));
}

static double score(const ref_attention *a, int64_t b, int64_t h, int64_t t, int64_t s) {
  const int64_t D = a->head_dim, hk = h / (a->q_heads / a->kv_heads);
  const float *q = a->q + ((b * a->q_heads + h) * a->q_len + t) * D;
  const float *k = a->k + ((b * a->kv_heads + hk) * a->kv_len + s) * D;
  double dot = 0.0;
  for (int64_t d = 0; d < D; d++) dot += (double)q[d] * (double)k[d];
  double x = dot * (a->scale != 0.0 ? a->scale : 1.0 / sqrt((double)D));
  if (a->softcap > 0.0) x = a->softcap * tanh(x / a->softcap);
  x += ref_attention_bias(a, b, h, t, s);
  if (a->mask_type == CLATTN_MASK_ADDITIVE) {
    float add;
    uint64_t at = a->mask_offset + (uint64_t)(b * a->mask_stride_batch + h * a->mask_stride_head +
                                              t * a->mask_stride_query + s);
    memcpy(&add, (const char *)a->mask + 4 * at, sizeof add);
    x += (double)add;
  }
  return x;
}

/* One query row: softmax over the attended keys, Gaussian after it, no renormalisation. */
static void row(const ref_local *p, const double *pos, int64_t b, int64_t h, int64_t t,
                double *s, double *o, double *lse) {
  const ref_attention *a = &p->attn;
  const int64_t Dv = a->v_head_dim ? a->v_head_dim : a->head_dim;
  const int64_t hk = h / (a->q_heads / a->kv_heads);
  const double centre = pos[(b * a->q_heads + h) * a->q_len + t];
  for (int64_t d = 0; d < Dv; d++) o[d] = 0.0;
  const int64_t qlen = a->q_lens ? clamp64(a->q_lens[b], 0, a->q_len) : a->q_len;
  if (isnan(centre) && t < qlen) { /* rows past q_lens stay empty */
    for (int64_t d = 0; d < Dv; d++) o[d] = NAN;
    *lse = NAN;
    return;
  }
  double m = -INFINITY;
  for (int64_t j = 0; j < a->kv_len; j++) {
    s[j] = ref_local_attends(p, pos, b, h, t, j) ? score(a, b, h, t, j) : -INFINITY;
    if (s[j] > m) m = s[j]; /* NaN compares false: ignored, like fmax */
  }
  double l = 0.0;
  for (int64_t j = 0; j < a->kv_len; j++) {
    if (s[j] == -INFINITY) continue;
    double w = exp(s[j] - m);
    l += w;
    double g = w * gaussian(p, (double)j - centre);
    const float *v = a->v + ((b * a->kv_heads + hk) * a->kv_len + j) * Dv;
    for (int64_t d = 0; d < Dv; d++) o[d] += g * (double)v[d];
  }
  if (l == 0.0) {
    for (int64_t d = 0; d < Dv; d++) o[d] = 0.0;
    *lse = -INFINITY;
    return;
  }
  for (int64_t d = 0; d < Dv; d++) o[d] /= l;
  *lse = m + log(l);
}

int ref_local_forward(const ref_local *p, double *o, double *lse) {
  const ref_attention *a = &p->attn;
  const int64_t rows = a->batch * a->q_heads * a->q_len;
  const int64_t Dv = a->v_head_dim ? a->v_head_dim : a->head_dim;
  double *pos = malloc((size_t)rows * sizeof *pos);
  double *s = malloc((size_t)a->kv_len * sizeof *s);
  if (!pos || !s) {
    free(pos);
    free(s);
    return -1;
  }
  ref_local_positions(p, pos);
  for (int64_t b = 0; b < a->batch; b++)
    for (int64_t h = 0; h < a->q_heads; h++)
      for (int64_t t = 0; t < a->q_len; t++) {
        int64_t at = (b * a->q_heads + h) * a->q_len + t;
        double ignored;
        row(p, pos, b, h, t, s, o + at * Dv, lse ? lse + at : &ignored);
      }
  free(pos);
  free(s);
  return 0;
}
