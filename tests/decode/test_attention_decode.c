/* The split-KV decode path (src/attention_decode.c; attention_decode_partial and
 * attention_decode_merge in cl/attention_fwd.cl under DECODE), which clattn_attention_forward
 * takes for Sq <= 16, group * Sq <= 32 and Skv >= 128 unless desc.kv_splits is 1:
 *
 *  - every split count (1 = the one-pass kernel, 2, 3, 7, automatic, one slice per 8 keys,
 *    more slices than keys) matches the fp64 reference, matches the one-pass output within
 *    the fp32 tolerance, and is bitwise repeatable, over Sq, Skv, D, Dv, GQA / MQA and B;
 *  - masks (causal in both alignments, windows, kv_lens incl. 0, q_lens, bool and additive
 *    tensors with broadcast strides, softcap), fully masked rows (zeros, LSE -inf);
 *  - poison (NaN, inf, 1e30) at every masked K / V position never leaks, and NaN / inf at
 *    attended keys reaches exactly the rows attending them, wherever the slices fall;
 *  - f16 / bf16 storage, views, LSE on and off;
 *  - ALiBi slopes (the bias follows the alignment and the per-batch lengths) with masks,
 *    softcap and additive tensors, and MQA with 32 rows per work-item;
 *  - the decode program is really built and used (program cache counters). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attn_harness.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory (%zu bytes)", bytes);
  return p;
}

/* ---- 1. every split count against the one-pass kernel and the reference ---------------- */

typedef struct sweep_shape {
  int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
} sweep_shape;

static void forward_wait(attn_env *env, const clattn_attention_desc *desc, const clattn_tensor *q,
                         const clattn_tensor *k, const clattn_tensor *v, const clattn_tensor *o,
                         const clattn_tensor *lse) {
  cl_event done = NULL;
  clattn_status status =
      clattn_attention_forward(env->ctx, NULL, desc, q, k, v, o, lse, 0, NULL, &done);
  if (status != CLATTN_SUCCESS)
    check_fail(__FILE__, __LINE__, "clattn_attention_forward (kv_splits %d) gave %s: %s",
               desc->kv_splits, clattn_status_name(status), clattn_last_error(env->ctx));
  CHECK_CL(clWaitForEvents(1, &done));
  CHECK_CL(clReleaseEvent(done));
}

/* Runs the shape with kv_splits 1 (one pass), 2, 3, 7, 0 (automatic), Skv / 8 (one slice per
 * 8 keys) and 4 * Skv (more than keys: clamped); every result is checked against the
 * reference and against the one-pass result, and each split count runs twice (bitwise). */
static void sweep(attn_env *env, const sweep_shape *s) {
  const double start = now_seconds();
  const int64_t B = s->B, Hq = s->Hq, Hkv = s->Hkv, Sq = s->Sq, Skv = s->Skv, D = s->D,
                Dv = s->Dv ? s->Dv : s->D;
  const size_t nq = (size_t)(B * Hq * Sq * D), nk = (size_t)(B * Hkv * Skv * D),
               nv = (size_t)(B * Hkv * Skv * Dv), no = (size_t)(B * Hq * Sq * Dv),
               nl = (size_t)(B * Hq * Sq);
  float *q = xmalloc(nq * 4), *k = xmalloc(nk * 4), *v = xmalloc(nv * 4);
  ref_rng rng;
  ref_rng_seed(&rng, 0xdec0de ^ (uint64_t)(B * 7 + Hq * 131 + Hkv * 1031 + Sq * 10007 +
                                           Skv * 100003 + D * 1000003 + Dv * 7777777));
  ref_rng_fill_normal(&rng, q, nq, 1.0);
  ref_rng_fill_normal(&rng, k, nk, 1.0);
  ref_rng_fill_normal(&rng, v, nv, 1.0);

  ref_attention p;
  ref_attention_init(&p, B, Hq, Hkv, Sq, Skv, D, Dv);
  p.q = q;
  p.k = k;
  p.v = v;
  double *o_ref = xmalloc(no * sizeof(double)), *l_ref = xmalloc(nl * sizeof(double));
  if (ref_attention_forward(&p, o_ref, l_ref) != 0) check_fail(__FILE__, __LINE__, "out of memory");

  cl_mem bq = attn_buffer(env, q, nq * 4), bk = attn_buffer(env, k, nk * 4),
         bv = attn_buffer(env, v, nv * 4), bo = attn_buffer(env, NULL, no * 4),
         bl = attn_buffer(env, NULL, nl * 4);
  clattn_tensor tq = clattn_tensor_contiguous(bq, CLATTN_F32, CLATTN_LAYOUT_BHSD, Hq, Sq, D, 0),
                tk = clattn_tensor_contiguous(bk, CLATTN_F32, CLATTN_LAYOUT_BHSD, Hkv, Skv, D, 0),
                tv = clattn_tensor_contiguous(bv, CLATTN_F32, CLATTN_LAYOUT_BHSD, Hkv, Skv, Dv, 0),
                to = clattn_tensor_contiguous(bo, CLATTN_F32, CLATTN_LAYOUT_BHSD, Hq, Sq, Dv, 0),
                tl = clattn_tensor_contiguous(bl, CLATTN_F32, CLATTN_LAYOUT_BHSD, Hq, Sq, 1, 0);

  float *fo = xmalloc(no * 4), *fl = xmalloc(nl * 4), *o = xmalloc(no * 4), *l = xmalloc(nl * 4),
        *o2 = xmalloc(no * 4), *l2 = xmalloc(nl * 4);
  const int splits[] = {1, 2, 3, 7, 0, (int)(Skv / 8), (int)(4 * Skv)};
  const float nan_pattern = NAN;
  printf("  B%lld Hq%lld Hkv%lld Sq%lld Skv%lld D%lld Dv%lld:", (long long)B, (long long)Hq,
         (long long)Hkv, (long long)Sq, (long long)Skv, (long long)D, (long long)Dv);
  for (size_t n = 0; n < sizeof splits / sizeof splits[0]; n++) {
    clattn_attention_desc desc;
    clattn_attention_desc_init(&desc);
    desc.batch = B;
    desc.q_heads = Hq;
    desc.kv_heads = Hkv;
    desc.q_len = Sq;
    desc.kv_len = Skv;
    desc.head_dim = D;
    desc.v_head_dim = Dv;
    desc.kv_splits = splits[n];
    for (int rep = 0; rep < 2; rep++) {
      /* Outputs start as NaN, so anything left unwritten fails. */
      CHECK_CL(clEnqueueFillBuffer(env->queue, bo, &nan_pattern, 4, 0, no * 4, 0, NULL, NULL));
      CHECK_CL(clEnqueueFillBuffer(env->queue, bl, &nan_pattern, 4, 0, nl * 4, 0, NULL, NULL));
      CHECK_CL(clFinish(env->queue));
      forward_wait(env, &desc, &tq, &tk, &tv, &to, &tl);
      attn_read(env, bo, rep ? o2 : o, no * 4);
      attn_read(env, bl, rep ? l2 : l, nl * 4);
    }
    if (memcmp(o, o2, no * 4) != 0 || memcmp(l, l2, nl * 4) != 0)
      check_fail(__FILE__, __LINE__, "kv_splits %d: a second identical run gave different bits",
                 splits[n]);
    check_pass();
    double worst_ref = 0.0, worst_fused = 0.0;
    for (size_t r = 0; r < nl; r++) {
      for (int64_t e = 0; e <= Dv; e++) { /* e == Dv: the LSE */
        const float y = e < Dv ? o[r * (size_t)Dv + (size_t)e] : l[r];
        const double ref = e < Dv ? o_ref[r * (size_t)Dv + (size_t)e] : l_ref[r];
        double ratio;
        if (!attn_compare_value(CLATTN_F32, y, ref, &ratio))
          check_fail(__FILE__, __LINE__,
                     "kv_splits %d: %s row %zu feature %lld = %.9g, reference %.12g "
                     "(error/tolerance %.3g)",
                     splits[n], e < Dv ? "O" : "LSE", r, (long long)e, (double)y, ref, ratio);
        if (ratio > worst_ref) worst_ref = ratio;
        if (n == 0) continue;
        const float f = e < Dv ? fo[r * (size_t)Dv + (size_t)e] : fl[r];
        const double tol = ATTN_ATOL + ATTN_RTOL * fabs((double)f),
                     err = fabs((double)y - (double)f);
        if (!(err <= tol))
          check_fail(__FILE__, __LINE__,
                     "kv_splits %d: %s row %zu feature %lld = %.9g, one-pass kernel %.9g "
                     "(difference/tolerance %.3g)",
                     splits[n], e < Dv ? "O" : "LSE", r, (long long)e, (double)y, (double)f,
                     err / tol);
        if (err / tol > worst_fused) worst_fused = err / tol;
      }
    }
    check_pass();
    if (n == 0) {
      memcpy(fo, o, no * 4);
      memcpy(fl, l, nl * 4);
      printf(" [1: ref %.3f]", worst_ref);
    } else {
      printf(" [%d: ref %.3f 1-pass %.3f]", splits[n], worst_ref, worst_fused);
    }
  }
  printf(" %.2fs\n", now_seconds() - start);
  fflush(stdout);
  cl_mem all[5] = {bq, bk, bv, bo, bl};
  for (int i = 0; i < 5; i++) clReleaseMemObject(all[i]);
  free(q);
  free(k);
  free(v);
  free(o_ref);
  free(l_ref);
  free(fo);
  free(fl);
  free(o);
  free(l);
  free(o2);
  free(l2);
}

static void split_sweep(attn_env *env) {
  printf("every split count against the one-pass kernel and the reference:\n");
  static const sweep_shape shapes[] = {
      {1, 1, 1, 1, 128, 64, 0},    /* the smallest decode problem */
      {3, 4, 4, 1, 1000, 64, 0},   /* B = 3, no GQA */
      {1, 8, 2, 2, 4096, 128, 0},  /* GQA group 4: 8 rows */
      {3, 8, 1, 4, 129, 64, 0},    /* MQA group 8, Sq 4: 32 rows; one key past a vector */
      {1, 2, 2, 5, 1000, 59, 40},  /* odd D, Dv != D */
      {1, 2, 1, 16, 4096, 64, 0},  /* Sq 16, group 2: 32 rows */
      {3, 1, 1, 16, 129, 128, 0},  /* Sq 16 alone */
  };
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) sweep(env, &shapes[i]);
}

/* ---- the harness cases: masks, poison, dtypes -------------------------------------------- */

static const int default_splits[] = {1, 2, 3, 7, 0, 37};

/* Runs a case with every split count in `splits` (n entries); the non-finite and empty
 * counts must agree. */
static void run_splits(attn_env *env, attn_case *c, const int *splits, size_t n) {
  attn_report first;
  memset(&first, 0, sizeof first);
  for (size_t i = 0; i < n; i++) {
    char name[160];
    snprintf(name, sizeof name, "%s, kv_splits %d", c->name, splits[i]);
    attn_case ci = *c;
    ci.name = name;
    ci.desc.kv_splits = splits[i];
    attn_report r = attn_run(env, &ci);
    if (i == 0) first = r;
    CHECK_EQ(r.nan_o, first.nan_o);
    CHECK_EQ(r.inf_o, first.inf_o);
    CHECK_EQ(r.nan_lse, first.nan_lse);
    CHECK_EQ(r.empty_rows, first.empty_rows);
  }
}
#define RUN_ALL(env, c) run_splits(env, c, default_splits, sizeof default_splits / sizeof(int))

/* The reference problem of a case (options, lengths, mask), for ref_attention_allowed. */
static void case_problem(const attn_case *c, ref_attention *p) {
  ref_attention_from_desc(p, &c->desc);
  p->kv_lens = c->kv_lens;
  p->q_lens = c->q_lens;
  p->mask_type = c->mask_type;
  p->mask = c->mask;
  p->mask_offset = c->mask_offset;
  p->mask_stride_batch = c->mask_stride_batch;
  p->mask_stride_head = c->mask_stride_head;
  p->mask_stride_query = c->mask_stride_query;
}

static float poison_value(int64_t n) {
  switch (n % 5) {
  case 0: return NAN;
  case 1: return 1e30f;
  case 2: return INFINITY;
  case 3: return -1e30f;
  default: return -NAN;
  }
}

/* Every K and V row that no query row of its KV head may attend (lengths, causal, window,
 * mask) becomes NaN / inf / 1e30; so do Q rows beyond q_lens. */
static void poke_masked(const attn_case *c, float *q, float *k, float *v) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t D = d->head_dim, Dv = d->v_head_dim ? d->v_head_dim : D;
  const int64_t group = d->q_heads / d->kv_heads;
  ref_attention p;
  case_problem(c, &p);
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t hk = 0; hk < d->kv_heads; hk++)
      for (int64_t j = 0; j < d->kv_len; j++) {
        int used = 0;
        for (int64_t h = hk * group; h < (hk + 1) * group && !used; h++)
          for (int64_t i = 0; i < d->q_len && !used; i++)
            used = ref_attention_allowed(&p, b, h, i, j);
        if (used) continue;
        float *kr = k + ((b * d->kv_heads + hk) * d->kv_len + j) * D;
        float *vr = v + ((b * d->kv_heads + hk) * d->kv_len + j) * Dv;
        for (int64_t e = 0; e < D; e++) kr[e] = poison_value(j + e);
        for (int64_t e = 0; e < Dv; e++) vr[e] = poison_value(j + e + 2);
      }
  if (c->q_lens)
    for (int64_t b = 0; b < d->batch; b++)
      for (int64_t h = 0; h < d->q_heads; h++)
        for (int64_t i = c->q_lens[b] < 0 ? 0 : c->q_lens[b]; i < d->q_len; i++)
          for (int64_t e = 0; e < D; e++)
            q[((h + b * d->q_heads) * d->q_len + i) * D + e] = poison_value(i + e);
}

/* Non-finite values at keys that some rows attend: `which` 1: NaN in K feature 3; 2: NaN in V
 * feature 5; 3: +inf in V feature 0; in every batch and KV head. The masked positions get
 * poison too (poke_masked). */
typedef struct key_list {
  int which;
  int64_t keys[8]; /* terminated by -1 */
} key_list;

static void poke_keys(const attn_case *c, float *q, float *k, float *v) {
  poke_masked(c, q, k, v);
  const clattn_attention_desc *d = &c->desc;
  const key_list *list = c->user;
  const int64_t D = d->head_dim, Dv = d->v_head_dim ? d->v_head_dim : D;
  for (int n = 0; list->keys[n] >= 0; n++)
    for (int64_t b = 0; b < d->batch; b++)
      for (int64_t hk = 0; hk < d->kv_heads; hk++) {
        const int64_t row = (b * d->kv_heads + hk) * d->kv_len + list->keys[n];
        if (list->which == 1) k[row * D + 3 % D] = NAN;
        if (list->which == 2) v[row * Dv + 5 % Dv] = NAN;
        if (list->which == 3) v[row * Dv] = INFINITY;
      }
}

/* The mask cases' shape: 3 batches, 4 query heads on 2 KV heads, 4 new tokens (8 rows per
 * KV head), 300 keys. */
#define MB 3
#define MH 4
#define MHKV 2
#define MSQ 4
#define MSKV 300
#define MD 64

static void mask_case(attn_case *c, const char *name) {
  attn_case_init(c, name, MB, MH, MHKV, MSQ, MSKV, MD, MD);
  c->poke = poke_masked;
}

static void positional(attn_env *env) {
  printf("causal, windows, softcap:\n");
  attn_case c;
  mask_case(&c, "causal bottom-right");
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  mask_case(&c, "causal top-left (keys 0..i only)");
  c.desc.causal = 1;
  RUN_ALL(env, &c);
  mask_case(&c, "window left 100 only, bottom-right");
  c.desc.window_left = 100;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  mask_case(&c, "window left 60 right 0, bottom-right");
  c.desc.window_left = 60;
  c.desc.window_right = 0;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  mask_case(&c, "window left 3 right 150, top-left");
  c.desc.window_left = 3;
  c.desc.window_right = 150;
  RUN_ALL(env, &c);
  mask_case(&c, "causal + window left 90, bottom-right");
  c.desc.causal = 1;
  c.desc.window_left = 90;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  mask_case(&c, "softcap 2");
  c.desc.softcap = 2.0f;
  c.sigma = 2.0;
  RUN_ALL(env, &c);
  mask_case(&c, "softcap 5, scale 0.3, causal bottom-right");
  c.desc.softcap = 5.0f;
  c.desc.scale = 0.3f;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
}

static void lengths(attn_env *env) {
  printf("per-batch lengths:\n");
  static const int32_t kv_a[MB] = {300, 0, 77}, kv_b[MB] = {129, 300, 8},
                       kv_c[MB] = {1, 250, 299}, q_a[MB] = {4, 2, 0}, q_b[MB] = {1, 4, 3};
  attn_case c;
  mask_case(&c, "kv_lens 300 0 77");
  c.kv_lens = kv_a;
  RUN_ALL(env, &c);
  mask_case(&c, "kv_lens 129 300 8, causal bottom-right");
  c.kv_lens = kv_b;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  mask_case(&c, "kv_lens 1 250 299, window left 20, bottom-right");
  c.kv_lens = kv_c;
  c.desc.window_left = 20;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  mask_case(&c, "q_lens 4 2 0");
  c.q_lens = q_a;
  RUN_ALL(env, &c);
  mask_case(&c, "q_lens 1 4 3 + kv_lens 129 300 8, causal bottom-right");
  c.q_lens = q_b;
  c.kv_lens = kv_b;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  mask_case(&c, "q_lens 1 4 3 + kv_lens 300 0 77, causal top-left");
  c.q_lens = q_b;
  c.kv_lens = kv_a;
  c.desc.causal = 1;
  RUN_ALL(env, &c);
}

/* A mask of logical shape (nb, nh, nq, MSKV), 1 where broadcast (stride 0), stored after 7
 * elements of filler with rows 5 elements apart beyond MSKV. */
typedef struct mask_image {
  void *data;
  size_t bytes;
  uint64_t offset;
  int64_t sb, sh, sq;
  int bool_type;
} mask_image;

static mask_image mask_alloc(int bool_type, int64_t nb, int64_t nh, int64_t nq) {
  mask_image m;
  const int64_t row = MSKV + 5;
  m.bool_type = bool_type;
  m.offset = 7;
  m.sq = nq == 1 ? 0 : row;
  m.sh = nh == 1 ? 0 : nq * row;
  m.sb = nb == 1 ? 0 : nh * nq * row;
  const uint64_t count = m.offset + (uint64_t)(nb * nh * nq * row) + 11;
  m.bytes = (size_t)count * (bool_type ? 1 : 4);
  m.data = xmalloc(m.bytes);
  /* Filler that would change results if read: attend / NaN. */
  for (uint64_t i = 0; i < count; i++) {
    if (bool_type) ((uint8_t *)m.data)[i] = 1;
    else ((float *)m.data)[i] = NAN;
  }
  return m;
}

static uint64_t mask_at(const mask_image *m, int64_t b, int64_t h, int64_t i, int64_t j) {
  return m->offset + (uint64_t)(b * m->sb + h * m->sh + i * m->sq + j);
}

static void use_mask(attn_case *c, const mask_image *m) {
  c->mask_type = m->bool_type ? CLATTN_MASK_BOOL : CLATTN_MASK_ADDITIVE;
  c->mask = m->data;
  c->mask_bytes = m->bytes;
  c->mask_offset = m->offset;
  c->mask_stride_batch = m->sb;
  c->mask_stride_head = m->sh;
  c->mask_stride_query = m->sq;
}

/* Bool: attend with probability `keep`, a band of keys masked in every row (whole slices
 * empty), and one row (b = 1 or 0, h = 2 or 0, i = 3 or 0) masked entirely. */
static mask_image bool_mask(int64_t nb, int64_t nh, int64_t nq, double keep, uint64_t seed) {
  mask_image m = mask_alloc(1, nb, nh, nq);
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  for (int64_t b = 0; b < nb; b++)
    for (int64_t h = 0; h < nh; h++)
      for (int64_t i = 0; i < nq; i++)
        for (int64_t j = 0; j < MSKV; j++) {
          int on = ref_rng_uniform(&rng) < keep;
          if (j >= 100 && j < 200) on = 0;
          if (b == (nb > 1) && h == (nh > 1 ? 2 : 0) && i == (nq > 1 ? 3 : 0) && nb * nh * nq > 1)
            on = 0;
          ((uint8_t *)m.data)[mask_at(&m, b, h, i, j)] = (uint8_t)on;
        }
  return m;
}

/* Additive: N(0, 2) values, -inf with probability 0.3 and in every row at keys j % 50 == 7,
 * -1e30 (finite: added, not masked) at keys j % 61 == 3, and one row all -inf. */
static mask_image additive_mask(int64_t nb, int64_t nh, int64_t nq, uint64_t seed) {
  mask_image m = mask_alloc(0, nb, nh, nq);
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  for (int64_t b = 0; b < nb; b++)
    for (int64_t h = 0; h < nh; h++)
      for (int64_t i = 0; i < nq; i++)
        for (int64_t j = 0; j < MSKV; j++) {
          float x = (float)(2.0 * ref_rng_normal(&rng));
          if (ref_rng_uniform(&rng) < 0.3 || j % 50 == 7) x = -INFINITY;
          if (j % 61 == 3) x = -1e30f;
          if (h == (nh > 1 ? 1 : 0) && i == (nq > 1 ? 2 : 0) && b == 0 && nb * nh * nq > 1)
            x = -INFINITY;
          ((float *)m.data)[mask_at(&m, b, h, i, j)] = x;
        }
  return m;
}

static void mask_tensors(attn_env *env) {
  printf("mask tensors:\n");
  attn_case c;
  mask_image m[6];
  m[0] = bool_mask(MB, MH, MSQ, 0.3, 11);
  mask_case(&c, "bool (B, H, Sq, Skv)");
  use_mask(&c, &m[0]);
  RUN_ALL(env, &c);
  m[1] = bool_mask(1, 1, MSQ, 0.5, 12);
  mask_case(&c, "bool (1, 1, Sq, Skv) broadcast, causal bottom-right");
  use_mask(&c, &m[1]);
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  m[2] = bool_mask(MB, 1, 1, 0.2, 13);
  mask_case(&c, "bool (B, 1, 1, Skv) broadcast + kv_lens");
  use_mask(&c, &m[2]);
  static const int32_t kv[MB] = {300, 150, 64};
  c.kv_lens = kv;
  RUN_ALL(env, &c);
  m[3] = additive_mask(MB, MH, MSQ, 14);
  mask_case(&c, "additive (B, H, Sq, Skv)");
  use_mask(&c, &m[3]);
  RUN_ALL(env, &c);
  m[4] = additive_mask(1, MH, MSQ, 15);
  mask_case(&c, "additive (1, H, Sq, Skv) broadcast, softcap 3");
  use_mask(&c, &m[4]);
  c.desc.softcap = 3.0f;
  RUN_ALL(env, &c);
  m[5] = additive_mask(MB, MH, 1, 16);
  mask_case(&c, "additive (B, H, 1, Skv) broadcast, window left 120");
  use_mask(&c, &m[5]);
  c.desc.window_left = 120;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  RUN_ALL(env, &c);
  for (int i = 0; i < 6; i++) free(m[i].data);
}

static void non_finite(attn_env *env) {
  printf("NaN and inf at attended keys:\n");
  attn_case c;
  static const key_list k298 = {1, {298, -1}};
  mask_case(&c, "NaN in K at key 298, causal bottom-right (rows 2, 3)");
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.poke = poke_keys;
  c.user = &k298;
  RUN_ALL(env, &c);
  static const key_list v40 = {2, {40, 170, -1}};
  static const int32_t kv_b[MB] = {300, 100, 171};
  mask_case(&c, "NaN in V at keys 40, 170, kv_lens, window left 150");
  c.desc.causal = 1;
  c.desc.window_left = 150;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.kv_lens = kv_b;
  c.poke = poke_keys;
  c.user = &v40;
  RUN_ALL(env, &c);
  static const key_list inf77 = {3, {77, 260, -1}};
  static const int32_t kv_c[MB] = {200, 78, 77};
  mask_case(&c, "+inf in V at keys 77, 260, kv_lens 200 78 77");
  c.kv_lens = kv_c;
  c.poke = poke_keys;
  c.user = &inf77;
  RUN_ALL(env, &c);
  static const key_list k153 = {1, {153, -1}};
  mask_case(&c, "NaN in K at key 153, window left 3 right 150 top-left (row 3)");
  c.desc.window_left = 3;
  c.desc.window_right = 150;
  c.poke = poke_keys;
  c.user = &k153;
  RUN_ALL(env, &c);
}

static void storage(attn_env *env) {
  printf("storage types, views, LSE:\n");
  static const int some[] = {2, 7, 0};
  attn_case c;
  attn_case_init(&c, "Q f16, K bf16, V f16, O bf16", 2, 4, 1, 2, 500, 64, 64);
  c.q_type = CLATTN_F16;
  c.k_type = CLATTN_BF16;
  c.v_type = CLATTN_F16;
  c.o_type = CLATTN_BF16;
  RUN_ALL(env, &c);
  c.name = "Q f16, K bf16, V f16, O bf16, causal bottom-right, kv_lens";
  static const int32_t kv[2] = {333, 130};
  c.kv_lens = kv;
  c.poke = poke_masked;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  run_splits(env, &c, some, 3);
  attn_case_init(&c, "Q bf16, K f16, V bf16, O f16", 2, 4, 1, 2, 500, 64, 64);
  c.q_type = CLATTN_BF16;
  c.k_type = CLATTN_F16;
  c.v_type = CLATTN_BF16;
  c.o_type = CLATTN_F16;
  run_splits(env, &c, some, 3);

  mask_case(&c, "BSHD views");
  c.layout = ATTN_BSHD;
  run_splits(env, &c, some, 3);
  mask_case(&c, "K, V broadcast over batch, O gap 9, pad 13");
  c.broadcast_kv_batch = 1;
  c.o_gap = 9;
  c.pad = 13;
  run_splits(env, &c, some, 3);
  mask_case(&c, "no LSE output");
  c.lse = 0;
  run_splits(env, &c, some, 3);
}

static void alibi(attn_env *env) {
  printf("ALiBi:\n");
  static float paper4[MH], paper8[8];
  CHECK_OK(NULL, clattn_alibi_slopes(MH, paper4));
  CHECK_OK(NULL, clattn_alibi_slopes(8, paper8));
  static const float custom[MH] = {0.0f, 0.9f, -0.005f, 0.03f};
  attn_case c;
  mask_case(&c, "alibi top-left (no mask)");
  c.alibi = paper4;
  RUN_ALL(env, &c);
  mask_case(&c, "alibi causal bottom-right");
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.alibi = paper4;
  RUN_ALL(env, &c);
  static const int32_t kv[MB] = {129, 0, 300}, q[MB] = {1, 4, 3};
  mask_case(&c, "alibi q_lens 1 4 3 + kv_lens 129 0 300, bottom-right");
  c.q_lens = q;
  c.kv_lens = kv;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.alibi = custom;
  RUN_ALL(env, &c);
  mask_case(&c, "alibi + window left 60, causal bottom-right, kv_lens");
  c.kv_lens = kv;
  c.desc.causal = 1;
  c.desc.window_left = 60;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.alibi = paper4;
  RUN_ALL(env, &c);
  mask_case(&c, "alibi softcap 3 (bias after the cap)");
  c.desc.softcap = 3.0f;
  c.sigma = 2.0;
  c.alibi = custom;
  RUN_ALL(env, &c);
  mask_image m = additive_mask(MB, MH, MSQ, 21);
  mask_case(&c, "alibi + additive (B, H, Sq, Skv), bottom-right");
  use_mask(&c, &m);
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.alibi = paper4;
  RUN_ALL(env, &c);
  free(m.data);
  attn_case_init(&c, "alibi MQA 8/1 Sq 4 (32 rows), bf16 K", 2, 8, 1, 4, 500, 64, 64);
  c.k_type = CLATTN_BF16;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.alibi = paper8;
  RUN_ALL(env, &c);
  attn_case_init(&c, "alibi Sq 1 Skv 4096 GQA 8/2", 1, 8, 2, 1, 4096, 128, 128);
  c.alibi = paper8;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  static const int some[] = {1, 0, 37};
  run_splits(env, &c, some, 3);
}

/* ---- the decode path is really taken ----------------------------------------------------- */

static uint64_t programs_fetched(clattn_context *ctx) {
  clattn_cache_stats st;
  CHECK_OK(ctx, clattn_context_cache_stats(ctx, &st));
  return st.builds + st.disk_hits + st.prebuilt_loads;
}

/* One f32 call on a fresh context; returns how many programs it had to fetch (not from the
 * memory cache). */
static uint64_t call_fetches(attn_env *env, int64_t Hq, int64_t Sq, int64_t Skv, int kv_splits) {
  const int64_t D = 64;
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = 1;
  desc.q_heads = Hq;
  desc.kv_heads = 1;
  desc.q_len = Sq;
  desc.kv_len = Skv;
  desc.head_dim = D;
  desc.kv_splits = kv_splits;
  const size_t nq = (size_t)(Hq * Sq * D), nk = (size_t)(Skv * D);
  float *host = xmalloc(nk * 4 > nq * 4 ? nk * 4 : nq * 4);
  for (size_t i = 0; i < (nk > nq ? nk : nq); i++) host[i] = (float)((i * 37) % 11) * 0.1f - 0.5f;
  cl_mem bq = attn_buffer(env, host, nq * 4), bk = attn_buffer(env, host, nk * 4),
         bv = attn_buffer(env, host, nk * 4), bo = attn_buffer(env, NULL, nq * 4);
  clattn_tensor tq = clattn_tensor_contiguous(bq, CLATTN_F32, CLATTN_LAYOUT_BHSD, Hq, Sq, D, 0),
                tk = clattn_tensor_contiguous(bk, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, Skv, D, 0),
                tv = clattn_tensor_contiguous(bv, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, Skv, D, 0),
                to = clattn_tensor_contiguous(bo, CLATTN_F32, CLATTN_LAYOUT_BHSD, Hq, Sq, D, 0);
  const uint64_t before = programs_fetched(env->ctx);
  forward_wait(env, &desc, &tq, &tk, &tv, &to, NULL);
  const uint64_t after = programs_fetched(env->ctx);
  clReleaseMemObject(bq);
  clReleaseMemObject(bk);
  clReleaseMemObject(bv);
  clReleaseMemObject(bo);
  free(host);
  return after - before;
}

static void path_taken(void) {
  printf("the decode program is built and used only where it applies:\n");
  attn_env env;
  attn_env_init(&env); /* a fresh context: empty memory cache */
  /* The one-pass program for D 64 f32. */
  CHECK_EQ(call_fetches(&env, 1, 1, 256, 1), 1);
  CHECK_EQ(call_fetches(&env, 1, 1, 256, 1), 0);
  /* Outside the decode conditions: the same one-pass program, whatever kv_splits says. */
  CHECK_EQ(call_fetches(&env, 1, 1, 127, 2), 0);  /* Skv < 128 */
  CHECK_EQ(call_fetches(&env, 1, 17, 256, 0), 0); /* Sq > 16 */
  CHECK_EQ(call_fetches(&env, 33, 1, 256, 0), 0); /* 33 rows per KV head */
  CHECK_EQ(call_fetches(&env, 1, 1, 256, 1), 0);
  /* kv_splits 2 needs a program of its own (DECODE), then reuses it for every split count. */
  CHECK_EQ(call_fetches(&env, 1, 1, 256, 2), 1);
  CHECK_EQ(call_fetches(&env, 1, 1, 256, 7), 0);
  CHECK_EQ(call_fetches(&env, 1, 1, 256, 0), 0);
  CHECK_EQ(call_fetches(&env, 1, 1, 128, 0), 0); /* Skv 128: still decode */
  CHECK_EQ(call_fetches(&env, 1, 1, 1000, 64), 0);
  /* Automatic at Sq 16 with 2 heads per KV head (32 rows): another decode variant. */
  CHECK_EQ(call_fetches(&env, 2, 16, 256, 0), 1);
  CHECK_EQ(call_fetches(&env, 2, 16, 256, 1), 0); /* one-pass: already fetched */
  printf("  ok\n");
  attn_env_destroy(&env);
}

int main(void) {
  const double start = now_seconds();
  attn_env env;
  attn_env_init(&env);
  split_sweep(&env);
  positional(&env);
  lengths(&env);
  mask_tensors(&env);
  non_finite(&env);
  storage(&env);
  alibi(&env);
  attn_env_destroy(&env);
  path_taken();
  printf("total %.1fs\n", now_seconds() - start);
  return check_done("test_attention_decode");
}
