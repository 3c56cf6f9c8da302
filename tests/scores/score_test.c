#include "score_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shapes.h"

#define PAD 3 /* elements before every view and after its end */

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory");
  return p;
}

void score_case_init(score_case *c, const char *name, score_kind kind, int64_t batch,
                     int64_t q_heads, int64_t kv_heads, int64_t q_len, int64_t kv_len,
                     int64_t head_dim, int64_t v_head_dim) {
  memset(c, 0, sizeof *c);
  c->name = name;
  c->kind = kind;
  test_desc_shape(&c->desc, batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_head_dim);
  c->attn_dim = 16;
  c->seed = 0x5c0feull ^ ((uint64_t)kind << 60) ^ ((uint64_t)q_len << 32) ^ ((uint64_t)kv_len << 12) ^
            (uint64_t)head_dim;
}

/* ---- buffers ------------------------------------------------------------------------------ */

static clattn_tensor layout(cl_mem buffer, int64_t heads, int64_t seq, int64_t dim, int bshd) {
  return clattn_tensor_contiguous(buffer, CLATTN_F32, bshd ? CLATTN_LAYOUT_BSHD : CLATTN_LAYOUT_BHSD,
                                  heads, seq, dim, PAD);
}

static uint64_t at(const clattn_tensor *t, int64_t b, int64_t h, int64_t s, int64_t d) {
  return t->offset + (uint64_t)(b * t->stride_batch + h * t->stride_head + s * t->stride_seq + d);
}

score_tensor score_tensor_make(attn_env *env, const float *dense, int64_t batch, int64_t heads,
                               int64_t seq, int64_t dim, int bshd) {
  score_tensor t;
  t.floats = (size_t)(batch * heads * seq * dim) + 2 * PAD;
  float *image = xcalloc(t.floats, sizeof *image);
  for (size_t i = 0; i < t.floats; i++) image[i] = NAN;
  clattn_tensor v = layout(NULL, heads, seq, dim, bshd);
  if (dense)
    for (int64_t b = 0; b < batch; b++)
      for (int64_t h = 0; h < heads; h++)
        for (int64_t s = 0; s < seq; s++)
          for (int64_t d = 0; d < dim; d++)
            image[at(&v, b, h, s, d)] = dense[((b * heads + h) * seq + s) * dim + d];
  t.buffer = attn_buffer(env, image, t.floats * sizeof *image);
  t.view = layout(t.buffer, heads, seq, dim, bshd);
  free(image);
  return t;
}

void score_tensor_release(score_tensor *t) {
  if (t->buffer) clReleaseMemObject(t->buffer);
  t->buffer = NULL;
}

void score_tensor_read(attn_env *env, const score_tensor *t, int64_t batch, int64_t heads,
                       int64_t seq, int64_t dim, float *dense) {
  float *image = xcalloc(t->floats, sizeof *image);
  unsigned char *inside = xcalloc(t->floats, 1);
  attn_read(env, t->buffer, image, t->floats * sizeof *image);
  for (int64_t b = 0; b < batch; b++)
    for (int64_t h = 0; h < heads; h++)
      for (int64_t s = 0; s < seq; s++)
        for (int64_t d = 0; d < dim; d++) {
          uint64_t i = at(&t->view, b, h, s, d);
          inside[i] = 1;
          dense[((b * heads + h) * seq + s) * dim + d] = image[i];
        }
  for (size_t i = 0; i < t->floats; i++)
    if (!inside[i] && !isnan(image[i]))
      check_fail(__FILE__, __LINE__, "element %zu outside the output view was written (%g)", i,
                 (double)image[i]);
  check_pass();
  free(image);
  free(inside);
}

/* ---- one case ----------------------------------------------------------------------------- */

typedef struct problem {
  float *q, *k, *v, *w, *w1, *w2, *va;
  uint8_t *mask;
  float *slopes;
  int64_t q_dim, w_floats;
} problem;

static float *normal(ref_rng *rng, int64_t n, double sigma) {
  float *x = xcalloc((size_t)n, sizeof *x);
  ref_rng_fill_normal(rng, x, (uint64_t)n, sigma);
  return x;
}

/* NaN at every K/V row past kv_lens and every Q row past q_lens, and at key 1 of batch 0
 * when the bool mask masks it. */
static void poison(const score_case *c, problem *p) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t dv = d->v_head_dim ? d->v_head_dim : d->head_dim;
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t j = 0; j < d->kv_len; j++) {
      int masked = (c->kv_lens && j >= c->kv_lens[b]) || (c->bool_mask && b == 0 && j == 1);
      for (int64_t h = 0; masked && h < d->kv_heads; h++) {
        int64_t row = (b * d->kv_heads + h) * d->kv_len + j;
        if (p->k) for (int64_t e = 0; e < d->head_dim; e++) p->k[row * d->head_dim + e] = NAN;
        for (int64_t e = 0; e < dv; e++) p->v[row * dv + e] = NAN;
      }
    }
  for (int64_t b = 0; c->q_lens && b < d->batch; b++)
    for (int64_t h = 0; h < d->q_heads; h++)
      for (int64_t i = c->q_lens[b]; i < d->q_len; i++)
        for (int64_t e = 0; e < p->q_dim; e++) p->q[((b * d->q_heads + h) * d->q_len + i) * p->q_dim + e] = NAN;
}

static void make_problem(const score_case *c, problem *p) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t dv = d->v_head_dim ? d->v_head_dim : d->head_dim, a = c->attn_dim;
  ref_rng rng;
  ref_rng_seed(&rng, c->seed);
  memset(p, 0, sizeof *p);
  p->q_dim = c->kind == SCORE_LOCATION ? d->head_dim : c->q_dim ? c->q_dim : d->head_dim;
  p->q = normal(&rng, d->batch * d->q_heads * d->q_len * p->q_dim, 1.0);
  if (c->kind != SCORE_LOCATION) p->k = normal(&rng, d->batch * d->kv_heads * d->kv_len * d->head_dim, 1.0);
  p->v = normal(&rng, d->batch * d->kv_heads * d->kv_len * dv, 1.0);
  /* Weights scaled so that scores are of order 1: a softmax neither flat nor one-hot. */
  if (c->kind == SCORE_GENERAL) p->w_floats = p->q_dim * d->head_dim;
  if (c->kind == SCORE_LOCATION) p->w_floats = d->kv_len * d->head_dim;
  if (p->w_floats) p->w = normal(&rng, p->w_floats, 1.0 / sqrt((double)p->q_dim));
  if (c->kind == SCORE_ADDITIVE) {
    p->w1 = normal(&rng, a * p->q_dim, 1.0 / sqrt((double)p->q_dim));
    p->w2 = normal(&rng, a * d->head_dim, 1.0 / sqrt((double)d->head_dim));
    p->va = normal(&rng, a, 2.0 / sqrt((double)a));
  }
  if (c->bool_mask) {
    int64_t n = d->batch * d->q_heads * d->q_len * d->kv_len;
    p->mask = xcalloc((size_t)n, 1);
    for (int64_t i = 0; i < n; i++) p->mask[i] = ref_rng_below(&rng, 10) >= 3;
    for (int64_t i = 0; i < d->q_heads * d->q_len; i++) p->mask[i * d->kv_len + 1] = 0;
  }
  if (c->alibi) {
    p->slopes = xcalloc((size_t)d->q_heads, sizeof *p->slopes);
    CHECK_OK(NULL, clattn_alibi_slopes(d->q_heads, p->slopes));
  }
  poison(c, p);
}

static void free_problem(problem *p) {
  free(p->q); free(p->k); free(p->v); free(p->w); free(p->w1); free(p->w2); free(p->va);
  free(p->mask); free(p->slopes);
}

static void reference(const score_case *c, const problem *p, double *o, double *lse) {
  score_ref r;
  memset(&r, 0, sizeof r);
  r.kind = c->kind;
  ref_attention_from_desc(&r.rules, &c->desc);
  r.rules.kv_lens = c->kv_lens;
  r.rules.q_lens = c->q_lens;
  r.rules.k = p->k;
  r.rules.v = p->v;
  r.rules.alibi_slopes = p->slopes;
  if (p->mask) {
    r.rules.mask_type = CLATTN_MASK_BOOL;
    r.rules.mask = p->mask;
    r.rules.mask_stride_query = c->desc.kv_len;
    r.rules.mask_stride_head = c->desc.q_len * c->desc.kv_len;
    r.rules.mask_stride_batch = c->desc.q_heads * c->desc.q_len * c->desc.kv_len;
  }
  r.q = p->q;
  r.q_dim = p->q_dim;
  r.attn_dim = c->attn_dim;
  r.w = p->w;
  r.w1 = p->w1;
  r.w2 = p->w2;
  r.v_a = p->va;
  if (score_ref_forward(&r, o, lse) != 0) check_fail(__FILE__, __LINE__, "reference: out of memory");
}

/* The device side of one case: buffers, the call, the outputs read back. */
typedef struct device_case {
  score_tensor q, k, v, o, lse;
  cl_mem w, w1, w2, va, mask, kv_lens, q_lens, slopes;
} device_case;

static cl_mem maybe_buffer(attn_env *env, const void *data, size_t bytes) {
  return data ? attn_buffer(env, data, bytes) : NULL;
}

static void upload(attn_env *env, const score_case *c, const problem *p, device_case *dc) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t dv = d->v_head_dim ? d->v_head_dim : d->head_dim, a = c->attn_dim;
  memset(dc, 0, sizeof *dc);
  dc->q = score_tensor_make(env, p->q, d->batch, d->q_heads, d->q_len, p->q_dim, c->bshd);
  if (p->k) dc->k = score_tensor_make(env, p->k, d->batch, d->kv_heads, d->kv_len, d->head_dim, c->bshd);
  dc->v = score_tensor_make(env, p->v, d->batch, d->kv_heads, d->kv_len, dv, c->bshd);
  dc->o = score_tensor_make(env, NULL, d->batch, d->q_heads, d->q_len, dv, c->bshd);
  dc->lse = score_tensor_make(env, NULL, d->batch, d->q_heads, d->q_len, 1, 0);
  if (p->w) { /* two floats before W: exercises w_offset */
    float *image = xcalloc((size_t)p->w_floats + 2, sizeof *image);
    image[0] = image[1] = NAN;
    memcpy(image + 2, p->w, (size_t)p->w_floats * sizeof *image);
    dc->w = attn_buffer(env, image, ((size_t)p->w_floats + 2) * sizeof *image);
    free(image);
  }
  dc->w1 = maybe_buffer(env, p->w1, (size_t)(a * p->q_dim) * sizeof(float));
  dc->w2 = maybe_buffer(env, p->w2, (size_t)(a * d->head_dim) * sizeof(float));
  dc->va = maybe_buffer(env, p->va, (size_t)a * sizeof(float));
  dc->mask = maybe_buffer(env, p->mask, (size_t)(d->batch * d->q_heads * d->q_len * d->kv_len));
  dc->kv_lens = maybe_buffer(env, c->kv_lens, (size_t)d->batch * sizeof(int32_t));
  dc->q_lens = maybe_buffer(env, c->q_lens, (size_t)d->batch * sizeof(int32_t));
  dc->slopes = maybe_buffer(env, p->slopes, (size_t)d->q_heads * sizeof(float));
}

static void release(device_case *dc) {
  score_tensor *t[5] = {&dc->q, &dc->k, &dc->v, &dc->o, &dc->lse};
  for (int i = 0; i < 5; i++) score_tensor_release(t[i]);
  cl_mem m[8] = {dc->w, dc->w1, dc->w2, dc->va, dc->mask, dc->kv_lens, dc->q_lens, dc->slopes};
  for (int i = 0; i < 8; i++)
    if (m[i]) clReleaseMemObject(m[i]);
}

static clattn_status call(attn_env *env, const score_case *c, const problem *p, device_case *dc) {
  clattn_attention_desc desc = c->desc;
  desc.kv_lens = dc->kv_lens;
  desc.q_lens = dc->q_lens;
  desc.alibi_slopes = dc->slopes;
  if (dc->mask) {
    desc.mask.type = CLATTN_MASK_BOOL;
    desc.mask.buffer = dc->mask;
    desc.mask.stride_query = c->desc.kv_len;
    desc.mask.stride_head = c->desc.q_len * c->desc.kv_len;
    desc.mask.stride_batch = c->desc.q_heads * c->desc.q_len * c->desc.kv_len;
  }
  if (c->kind == SCORE_GENERAL)
    return clattn_attention_general(env->ctx, NULL, &desc, &dc->q.view, p->q_dim, dc->w, 2,
                                    &dc->k.view, &dc->v.view, &dc->o.view, &dc->lse.view, 0, NULL, NULL);
  if (c->kind == SCORE_LOCATION)
    return clattn_attention_location(env->ctx, NULL, &desc, &dc->q.view, dc->w, 2, &dc->v.view,
                                     &dc->o.view, &dc->lse.view, 0, NULL, NULL);
  clattn_additive_weights w = {dc->w1, dc->w2, dc->va, c->attn_dim, c->q_dim};
  return clattn_attention_additive(env->ctx, NULL, &desc, &w, &dc->q.view, &dc->k.view, &dc->v.view,
                                   &dc->o.view, &dc->lse.view, 0, NULL, NULL);
}

static double compare(const score_case *c, const float *y, const double *ref, int64_t n,
                      const char *what) {
  double worst = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double ratio;
    if (!attn_compare_value(CLATTN_F32, y[i], ref[i], &ratio))
      check_fail(__FILE__, __LINE__, "%s: %s[%lld] = %.9g, reference %.9g", c->name, what,
                 (long long)i, (double)y[i], ref[i]);
    if (ratio > worst) worst = ratio;
  }
  check_pass();
  return worst;
}

double score_run(attn_env *env, const score_case *c) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t dv = d->v_head_dim ? d->v_head_dim : d->head_dim;
  const int64_t rows = d->batch * d->q_heads * d->q_len;
  problem p;
  device_case dc;
  make_problem(c, &p);
  upload(env, c, &p, &dc);
  double *ref_o = xcalloc((size_t)(rows * dv), sizeof *ref_o), *ref_lse = xcalloc((size_t)rows, sizeof *ref_lse);
  reference(c, &p, ref_o, ref_lse);
  float *o[2] = {xcalloc((size_t)(rows * dv), sizeof(float)), xcalloc((size_t)(rows * dv), sizeof(float))};
  float *lse = xcalloc((size_t)rows, sizeof *lse);
  for (int run = 0; run < 2; run++) {
    CHECK_OK(env->ctx, call(env, c, &p, &dc));
    CHECK_CL(clFinish(env->queue));
    score_tensor_read(env, &dc.o, d->batch, d->q_heads, d->q_len, dv, o[run]);
  }
  score_tensor_read(env, &dc.lse, d->batch, d->q_heads, d->q_len, 1, lse);
  if (memcmp(o[0], o[1], (size_t)(rows * dv) * sizeof(float)) != 0)
    check_fail(__FILE__, __LINE__, "%s: two runs differ", c->name);
  double worst = compare(c, o[0], ref_o, rows * dv, "o");
  double worst_lse = compare(c, lse, ref_lse, rows, "lse");
  printf("%-44s worst error/tolerance o %.3f lse %.3f\n", c->name, worst, worst_lse);
  free(o[0]); free(o[1]); free(lse); free(ref_o); free(ref_lse);
  release(&dc);
  free_problem(&p);
  return worst > worst_lse ? worst : worst_lse;
}
