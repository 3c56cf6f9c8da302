#include "score_ref.h"

#include <math.h>
#include <stdlib.h>

/* rows (n x cols_in) times M^T, M (cols_out x cols_in) row-major, all in double. */
static double *project(const float *rows, int64_t n, int64_t cols_in, const float *m,
                       int64_t cols_out, int transposed) {
  double *out = malloc((size_t)(n * cols_out) * sizeof *out);
  if (!out) return NULL;
  for (int64_t r = 0; r < n; r++)
    for (int64_t c = 0; c < cols_out; c++) {
      double sum = 0.0;
      for (int64_t i = 0; i < cols_in; i++)
        sum += (double)rows[r * cols_in + i] *
               (double)(transposed ? m[c * cols_in + i] : m[i * cols_out + c]);
      out[r * cols_out + c] = sum;
    }
  return out;
}

typedef struct projected {
  double *qp; /* general: Q W (B,Hq,Sq,D); additive: W1 q (B,Hq,Sq,A); location: Q W_a^T */
  double *kp; /* additive: W2 k (B,Hkv,Skv,A) */
} projected;

static int make_projections(const score_ref *p, projected *out) {
  const ref_attention *r = &p->rules;
  const int64_t q_rows = r->batch * r->q_heads * r->q_len, k_rows = r->batch * r->kv_heads * r->kv_len;
  out->qp = out->kp = NULL;
  if (p->kind == SCORE_GENERAL) out->qp = project(p->q, q_rows, p->q_dim, p->w, r->head_dim, 0);
  if (p->kind == SCORE_LOCATION) out->qp = project(p->q, q_rows, p->q_dim, p->w, r->kv_len, 1);
  if (p->kind == SCORE_ADDITIVE) {
    out->qp = project(p->q, q_rows, p->q_dim, p->w1, p->attn_dim, 1);
    out->kp = project(r->k, k_rows, r->head_dim, p->w2, p->attn_dim, 1);
    if (!out->kp) return -1;
  }
  return out->qp ? 0 : -1;
}

/* The raw score of (b, h, i, j) before bias and masks. */
static double score(const score_ref *p, const projected *pr, double scale, int64_t b, int64_t h,
                    int64_t i, int64_t j) {
  const ref_attention *r = &p->rules;
  const int64_t row = (b * r->q_heads + h) * r->q_len + i;
  const int64_t hk = h / (r->q_heads / r->kv_heads), key = (b * r->kv_heads + hk) * r->kv_len + j;
  double s = 0.0;
  if (p->kind == SCORE_GENERAL)
    for (int64_t d = 0; d < r->head_dim; d++)
      s += pr->qp[row * r->head_dim + d] * (double)r->k[key * r->head_dim + d];
  if (p->kind == SCORE_ADDITIVE)
    for (int64_t a = 0; a < p->attn_dim; a++)
      s += (double)p->v_a[a] * tanh(pr->qp[row * p->attn_dim + a] + pr->kp[key * p->attn_dim + a]);
  if (p->kind == SCORE_LOCATION) s = pr->qp[row * r->kv_len + j];
  return scale * s;
}

static double default_scale(const score_ref *p) {
  if (p->rules.scale != 0.0) return p->rules.scale;
  return p->kind == SCORE_GENERAL ? 1.0 / sqrt((double)p->rules.head_dim) : 1.0;
}

static float additive_mask(const ref_attention *r, int64_t b, int64_t h, int64_t i, int64_t j) {
  const float *m = r->mask;
  return m[r->mask_offset + (uint64_t)(b * r->mask_stride_batch + h * r->mask_stride_head +
                                       i * r->mask_stride_query + j)];
}

/* One query row: the softmax over attended keys and the value sum, as ref_attention_forward. */
static void row_forward(const score_ref *p, const projected *pr, int64_t b, int64_t h, int64_t i,
                        double *s, unsigned char *attended, double *oi, double *lse) {
  const ref_attention *r = &p->rules;
  const int64_t Dv = r->v_head_dim ? r->v_head_dim : r->head_dim, hk = h / (r->q_heads / r->kv_heads);
  const float *vh = r->v + (b * r->kv_heads + hk) * r->kv_len * Dv;
  double m = -INFINITY, l = 0.0;
  for (int64_t j = 0; j < r->kv_len; j++) {
    attended[j] = (unsigned char)ref_attention_allowed(r, b, h, i, j);
    if (!attended[j]) continue;
    s[j] = score(p, pr, default_scale(p), b, h, i, j) + ref_attention_bias(r, b, h, i, j);
    if (r->mask_type == CLATTN_MASK_ADDITIVE) s[j] += (double)additive_mask(r, b, h, i, j);
    if (s[j] > m) m = s[j];
  }
  for (int64_t d = 0; d < Dv; d++) oi[d] = 0.0;
  for (int64_t j = 0; j < r->kv_len; j++) {
    if (!attended[j] || s[j] == -INFINITY) continue;
    double w = exp(s[j] - m);
    l += w;
    for (int64_t d = 0; d < Dv; d++) oi[d] += w * (double)vh[j * Dv + d];
  }
  for (int64_t d = 0; d < Dv; d++) oi[d] = l == 0.0 ? 0.0 : oi[d] / l;
  *lse = l == 0.0 ? -INFINITY : m + log(l);
}

int score_ref_forward(const score_ref *p, double *o, double *lse) {
  const ref_attention *r = &p->rules;
  const int64_t Dv = r->v_head_dim ? r->v_head_dim : r->head_dim;
  projected pr;
  double *s = malloc((size_t)r->kv_len * sizeof *s);
  unsigned char *attended = malloc((size_t)r->kv_len);
  int status = make_projections(p, &pr);
  if (status == 0 && s && attended)
    for (int64_t b = 0; b < r->batch; b++)
      for (int64_t h = 0; h < r->q_heads; h++)
        for (int64_t i = 0; i < r->q_len; i++) {
          const int64_t row = (b * r->q_heads + h) * r->q_len + i;
          double row_lse;
          row_forward(p, &pr, b, h, i, s, attended, o + row * Dv, &row_lse);
          if (lse) lse[row] = row_lse;
        }
  if (!s || !attended) status = -1;
  free(pr.qp);
  free(pr.kp);
  free(s);
  free(attended);
  return status;
}
