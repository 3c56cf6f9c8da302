#include "mha_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory");
  return p;
}

/* out (rows, n) = in (rows, k) W^T (+ b), W (n, k). */
static void linear(const float *in, int64_t rows, int64_t k, const float *w, const float *b,
                   int64_t n, double *out) {
  for (int64_t r = 0; r < rows; r++)
    for (int64_t c = 0; c < n; c++) {
      double sum = b ? b[c] : 0.0;
      for (int64_t i = 0; i < k; i++) sum += (double)in[r * k + i] * w[c * k + i];
      out[r * n + c] = sum;
    }
}

void mha_ref_rope(const clattn_rope *rope, double *x, int64_t heads, int64_t seq, int64_t dim,
                  int64_t pos0) {
  if (rope->style == CLATTN_ROPE_NONE) return;
  int64_t r = rope->rotary_dim ? rope->rotary_dim : dim, half = r / 2;
  double base = rope->base > 0 ? rope->base : 10000.0;
  for (int64_t h = 0; h < heads; h++)
    for (int64_t s = 0; s < seq; s++) {
      double *row = x + (h * seq + s) * dim;
      for (int64_t i = 0; i < half; i++) {
        double angle = (double)(pos0 + s) * pow(base, -2.0 * (double)i / (double)r);
        int64_t a = rope->style == CLATTN_ROPE_INTERLEAVED ? 2 * i : i;
        int64_t b = rope->style == CLATTN_ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
        double x0 = row[a], x1 = row[b];
        row[a] = x0 * cos(angle) - x1 * sin(angle);
        row[b] = x0 * sin(angle) + x1 * cos(angle);
      }
    }
}

/* (tokens, heads*D) rows of batch b → (heads, tokens, D), rotated, as float. */
static void split_heads(const double *rows, int64_t tokens, int64_t heads, int64_t d,
                        const clattn_rope *rope, int64_t pos0, float *out) {
  double *t = xmalloc((size_t)(heads * tokens * d) * sizeof *t);
  for (int64_t h = 0; h < heads; h++)
    for (int64_t s = 0; s < tokens; s++)
      for (int64_t i = 0; i < d; i++) t[(h * tokens + s) * d + i] = rows[s * heads * d + h * d + i];
  if (rope) mha_ref_rope(rope, t, heads, tokens, d, pos0);
  for (int64_t i = 0; i < heads * tokens * d; i++) out[i] = (float)t[i];
  free(t);
}

static void attention_probs(const ref_attention *p, int64_t b, double *probs, const double *lse) {
  int64_t g = p->q_heads / p->kv_heads, d = p->head_dim;
  double scale = p->scale != 0 ? p->scale : 1.0 / sqrt((double)d);
  for (int64_t h = 0; h < p->q_heads; h++)
    for (int64_t i = 0; i < p->q_len; i++)
      for (int64_t j = 0; j < p->kv_len; j++) {
        const float *q = p->q + ((b * p->q_heads + h) * p->q_len + i) * d;
        const float *k = p->k + ((b * p->kv_heads + h / g) * p->kv_len + j) * d;
        double s = 0;
        for (int64_t e = 0; e < d; e++) s += (double)q[e] * k[e];
        s = s * scale + ref_attention_bias(p, b, h, i, j);
        double l = lse[(b * p->q_heads + h) * p->q_len + i];
        probs[((b * p->q_heads + h) * p->q_len + i) * p->kv_len + j] =
            ref_attention_allowed(p, b, h, i, j) && isfinite(l) ? exp(s - l) : 0.0;
      }
}

void mha_ref_forward(const mha_ref_layer *L, int64_t batch, int64_t seq, int64_t kv_len,
                     const float *x, const float *memory, int64_t position_offset,
                     const ref_attention *opts, double *y, double *probs) {
  int64_t d = L->head_dim, qw = L->num_heads * d, kvw = L->kv_heads * d, e = L->embed_dim;
  const float *src = memory ? memory : x;
  int64_t src_dim = memory ? L->kv_dim : e;
  const clattn_rope *rope = L->rope.style != CLATTN_ROPE_NONE ? &L->rope : NULL;
  float *q = xmalloc((size_t)(batch * qw * seq) * sizeof *q);
  float *k = xmalloc((size_t)(batch * kvw * kv_len) * sizeof *k);
  float *v = xmalloc((size_t)(batch * kvw * kv_len) * sizeof *v);
  double *rows = xmalloc((size_t)((seq > kv_len ? seq : kv_len) * (qw > kvw ? qw : kvw)) * sizeof *rows);
  for (int64_t b = 0; b < batch; b++) {
    linear(x + b * seq * e, seq, e, L->wq, L->bq, qw, rows);
    split_heads(rows, seq, L->num_heads, d, rope, position_offset, q + b * qw * seq);
    linear(src + b * kv_len * src_dim, kv_len, src_dim, L->wk, L->bk, kvw, rows);
    split_heads(rows, kv_len, L->kv_heads, d, rope, position_offset, k + b * kvw * kv_len);
    linear(src + b * kv_len * src_dim, kv_len, src_dim, L->wv, L->bv, kvw, rows);
    split_heads(rows, kv_len, L->kv_heads, d, NULL, 0, v + b * kvw * kv_len);
  }
  float *slopes = NULL;
  if (L->alibi) {
    slopes = xmalloc((size_t)L->num_heads * sizeof *slopes);
    if (clattn_alibi_slopes(L->num_heads, slopes) != CLATTN_SUCCESS)
      check_fail(__FILE__, __LINE__, "clattn_alibi_slopes failed");
  }
  ref_attention p = *opts;
  p.batch = batch;
  p.q_heads = L->num_heads;
  p.kv_heads = L->kv_heads;
  p.q_len = seq;
  p.kv_len = kv_len;
  p.head_dim = p.v_head_dim = d;
  p.scale = L->scale;
  p.alibi_slopes = slopes;
  p.q = q;
  p.k = k;
  p.v = v;
  double *o = xmalloc((size_t)(batch * qw * seq) * sizeof *o);
  double *lse = xmalloc((size_t)(batch * L->num_heads * seq) * sizeof *lse);
  if (ref_attention_forward(&p, o, lse) != 0) check_fail(__FILE__, __LINE__, "out of memory");
  /* The output projection of the heads side by side, in double. */
  double *out = xmalloc((size_t)(seq * e) * sizeof *out);
  for (int64_t b = 0; b < batch; b++) {
    for (int64_t s = 0; s < seq; s++)
      for (int64_t c = 0; c < e; c++) {
        double sum = L->bo ? L->bo[c] : 0.0;
        for (int64_t h = 0; h < L->num_heads; h++)
          for (int64_t i = 0; i < d; i++)
            sum += o[((b * L->num_heads + h) * seq + s) * d + i] * L->wo[c * qw + h * d + i];
        out[s * e + c] = sum;
      }
    memcpy(y + b * seq * e, out, (size_t)(seq * e) * sizeof *out);
    if (probs) attention_probs(&p, b, probs, lse);
  }
  free(out);
  free(o);
  free(lse);
  free(slopes);
  free(rows);
  free(q);
  free(k);
  free(v);
}
