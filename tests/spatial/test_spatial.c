/* clattn_attention_spatial against the double-precision reference of tests/ref: queries over
 * the H x W positions of NHWC and NCHW feature maps (odd H and W, C that misses every tile),
 * both layouts on the same data giving the same result, per-batch lengths with NaN poison at
 * the masked positions, causal/window rules of both alignments, softcap, a NaN at an
 * attended position (it must propagate), an empty row, NHWC-only rules (bool mask, ALiBi) and
 * storage types; the weights output (each attended row sums to 1); NaN-filled outputs with
 * canaries around and between their rows; a second run bitwise equal; and an out-of-order
 * queue whose call waits for a user event. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

#define CANARY 0x5a /* every output byte outside the views */
#define PAD 5       /* elements before every view */
#define GAP 3       /* elements between rows (outputs) and between batches (the map) */
#define TAIL 16     /* elements after every view */

typedef struct scase {
  const char *name;
  clattn_attention_desc desc; /* batch, q_len and the rules; the rest comes from the map */
  int64_t height, width, channels;
  clattn_map_layout layout;
  clattn_dtype map_type, q_type, o_type, w_type;
  int weights;                      /* 1: request the weights */
  const int32_t *kv_lens, *q_lens;  /* B entries, or NULL */
  int bool_mask;                    /* NHWC: a random bool key mask (b, j), broadcast over rows */
  int alibi;                        /* NHWC: slope 0.3 */
  int64_t nan_key;                  /* >= 0: map value (batch 0, this key, channel 1) is NaN */
  uint64_t seed;
} scase;

typedef struct sresult {
  float *o, *w; /* dense (B, Sq, C) and (B, Sq, HW) as read back */
} sresult;

static void *xmalloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory (%zu bytes)", bytes);
  return p;
}

/* Buffer index of map element (b, key, c). */
static uint64_t map_index(const scase *c, int64_t sb, int64_t b, int64_t key, int64_t ch) {
  int64_t hw = c->height * c->width;
  return PAD + (uint64_t)(b * sb) +
         (uint64_t)(c->layout == CLATTN_MAP_NHWC ? key * c->channels + ch : ch * hw + key);
}

/* An output view (B, 1, rows, cols) with gapped rows, NaN inside, canary bytes around. */
static clattn_tensor output_view(attn_env *env, clattn_dtype dtype, int64_t B, int64_t rows,
                                 int64_t cols, size_t *count, unsigned char **image) {
  clattn_tensor t = {NULL, dtype, PAD, 0, 0, cols + GAP};
  t.stride_batch = rows * t.stride_seq;
  *count = PAD + (size_t)(B * t.stride_batch) + TAIL;
  size_t es = clattn_dtype_size(dtype);
  *image = xmalloc(*count * es);
  memset(*image, CANARY, *count * es);
  for (int64_t b = 0; b < B; b++)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t x = 0; x < cols; x++)
        ref_store(dtype, *image, PAD + (uint64_t)(b * t.stride_batch + r * t.stride_seq + x), NAN);
  t.buffer = attn_buffer(env, *image, *count * es);
  return t;
}

/* Reads an output view back: canaries intact, elements into dense[]. */
static void read_output(attn_env *env, const char *name, const char *what, const clattn_tensor *t,
                        const unsigned char *before, size_t count, int64_t B, int64_t rows,
                        int64_t cols, float *dense) {
  size_t es = clattn_dtype_size(t->dtype);
  unsigned char *after = xmalloc(count * es);
  attn_read(env, t->buffer, after, count * es);
  for (size_t n = 0; n < count; n++) {
    int64_t rel = (int64_t)n - PAD, b = rel / (t->stride_batch ? t->stride_batch : 1);
    int64_t r = (rel - b * t->stride_batch) / t->stride_seq, x = rel - b * t->stride_batch - r * t->stride_seq;
    int inside = rel >= 0 && b < B && x < cols;
    if (!inside && memcmp(after + n * es, before + n * es, es) != 0)
      check_fail(__FILE__, __LINE__, "%s: %s element %zu outside the view was written", name, what, n);
  }
  check_pass();
  for (int64_t b = 0; b < B; b++)
    for (int64_t r = 0; r < rows; r++)
      for (int64_t x = 0; x < cols; x++)
        dense[(b * rows + r) * cols + x] =
            ref_load(t->dtype, after, PAD + (uint64_t)(b * t->stride_batch + r * t->stride_seq + x));
  free(after);
}

/* The reference's view of the case: one head, HW keys = values = the map's positions. */
static void make_reference(const scase *c, const float *q, const float *map, const uint8_t *mask,
                           const float *slopes, ref_attention *r) {
  clattn_attention_desc d = c->desc;
  d.q_heads = d.kv_heads = 1;
  d.kv_len = c->height * c->width;
  d.head_dim = d.v_head_dim = c->channels;
  ref_attention_from_desc(r, &d);
  r->kv_lens = c->kv_lens;
  r->q_lens = c->q_lens;
  r->q = q;
  r->k = r->v = map;
  r->alibi_slopes = slopes;
  if (mask) {
    r->mask_type = CLATTN_MASK_BOOL;
    r->mask = mask;
    r->mask_stride_batch = d.kv_len;
  }
}

/* Reference probability of (b, i, j): exp(s - lse) for attended keys, else 0. */
static double ref_prob(const ref_attention *r, const double *lse, int64_t b, int64_t i, int64_t j) {
  int64_t C = r->head_dim, Sq = r->q_len, HW = r->kv_len;
  if (!ref_attention_allowed(r, b, 0, i, j) || isinf(lse[b * Sq + i])) return 0.0;
  double s = 0;
  for (int64_t x = 0; x < C; x++) s += (double)r->q[(b * Sq + i) * C + x] * r->k[(b * HW + j) * C + x];
  s *= r->scale != 0 ? r->scale : 1.0 / sqrt((double)C);
  if (r->softcap > 0) s = r->softcap * tanh(s / r->softcap);
  s += ref_attention_bias(r, b, 0, i, j);
  return exp(s - lse[b * Sq + i]);
}

/* Random data for a case: q (B, Sq, C) and the map's positions (B, HW, C), rounded to their
 * storage types, with NaN at the positions the lengths mask (and at nan_key). */
static void make_data(const scase *c, float *q, float *map, uint8_t *mask) {
  const int64_t B = c->desc.batch, Sq = c->desc.q_len, HW = c->height * c->width, C = c->channels;
  ref_rng rng;
  ref_rng_seed(&rng, c->seed);
  ref_rng_fill_normal(&rng, q, (uint64_t)(B * Sq * C), 1.0);
  ref_rng_fill_normal(&rng, map, (uint64_t)(B * HW * C), 1.0);
  for (int64_t n = 0; n < B * Sq * C; n++) q[n] = ref_round_to(c->q_type, q[n]);
  for (int64_t n = 0; n < B * HW * C; n++) map[n] = ref_round_to(c->map_type, map[n]);
  for (int64_t b = 0; c->kv_lens && b < B; b++)
    for (int64_t j = c->kv_lens[b]; j < HW; j++)
      for (int64_t x = 0; x < C; x++) map[(b * HW + j) * C + x] = NAN;
  if (c->nan_key >= 0) map[c->nan_key * C + 1] = NAN;
  for (int64_t n = 0; mask && n < B * HW; n++) mask[n] = ref_rng_uniform(&rng) < 0.3 ? 0 : 1;
}

static void compare(const scase *c, const char *what, clattn_dtype dtype, const float *y,
                    const double *ref, int64_t count) {
  double worst = 0;
  for (int64_t n = 0; n < count; n++) {
    double ratio = 0;
    if (!attn_compare_value(dtype, y[n], ref[n], &ratio))
      check_fail(__FILE__, __LINE__, "%s: %s[%lld] = %.9g, reference %.12g (error/tolerance %.3g)",
                 c->name, what, (long long)n, (double)y[n], ref[n], ratio);
    if (ratio > worst) worst = ratio;
  }
  check_pass();
  printf("  %s (%s) %s: worst error/tolerance %.3f\n", c->name,
         c->layout == CLATTN_MAP_NCHW ? "nchw" : "nhwc", what, worst);
}

/* The weights of every attended row sum to 1 (within fp32 rounding of HW terms); rows with
 * nothing attended are all zero. */
static void check_sums(const scase *c, const float *w, const double *lse) {
  const int64_t rows = c->desc.batch * c->desc.q_len, HW = c->height * c->width;
  for (int64_t r = 0; r < rows; r++) {
    double sum = 0;
    for (int64_t j = 0; j < HW; j++) sum += w[r * HW + j];
    if (isnan(lse[r])) continue; /* a NaN row */
    double want = isinf(lse[r]) ? 0.0 : 1.0;
    double tol = c->w_type == CLATTN_F32 ? 1e-5 : 5e-3 * (double)HW / 32.0;
    if (fabs(sum - want) > tol)
      check_fail(__FILE__, __LINE__, "%s: weights of row %lld sum to %.9g, expected %g", c->name,
                 (long long)r, sum, want);
  }
  check_pass();
}

/* Runs the case on `queue` (NULL: the context's) after `gate` (may be NULL), checks O and
 * the weights against the reference, and returns what was read (for cross-layout checks). */
static sresult run_case(attn_env *env, const scase *c, cl_command_queue queue, cl_event gate) {
  const int64_t B = c->desc.batch, Sq = c->desc.q_len, HW = c->height * c->width, C = c->channels;
  float *q = xmalloc((size_t)(B * Sq * C) * sizeof(float));
  float *map = xmalloc((size_t)(B * HW * C) * sizeof(float));
  uint8_t *mask = c->bool_mask ? xmalloc((size_t)(B * HW)) : NULL;
  const float slopes[1] = {0.3f};
  make_data(c, q, map, mask);

  /* Q: gapped rows after an offset, poison in the gaps. The map: batches GAP apart. */
  clattn_tensor qt = {NULL, c->q_type, PAD, Sq * (C + 1), 0, C + 1};
  size_t q_count = PAD + (size_t)(B * qt.stride_batch) + TAIL;
  unsigned char *qi = xmalloc(q_count * clattn_dtype_size(c->q_type));
  for (size_t n = 0; n < q_count; n++) ref_store(c->q_type, qi, n, NAN);
  for (int64_t b = 0; b < B; b++)
    for (int64_t i = 0; i < Sq; i++)
      for (int64_t x = 0; x < C; x++)
        ref_store(c->q_type, qi, PAD + (uint64_t)(b * qt.stride_batch + i * qt.stride_seq + x),
                  q[(b * Sq + i) * C + x]);
  qt.buffer = attn_buffer(env, qi, q_count * clattn_dtype_size(c->q_type));
  int64_t sb = HW * C + GAP;
  size_t m_count = PAD + (size_t)(B * sb) + TAIL;
  unsigned char *mi = xmalloc(m_count * clattn_dtype_size(c->map_type));
  for (size_t n = 0; n < m_count; n++) ref_store(c->map_type, mi, n, NAN);
  for (int64_t b = 0; b < B; b++)
    for (int64_t j = 0; j < HW; j++)
      for (int64_t x = 0; x < C; x++)
        ref_store(c->map_type, mi, map_index(c, sb, b, j, x), map[(b * HW + j) * C + x]);
  clattn_feature_map fm = {NULL, c->map_type, PAD, c->layout, c->height, c->width, C, sb};
  fm.buffer = attn_buffer(env, mi, m_count * clattn_dtype_size(c->map_type));

  size_t o_count = 0, w_count = 0;
  unsigned char *o_image = NULL, *w_image = NULL;
  clattn_tensor ot = output_view(env, c->o_type, B, Sq, C, &o_count, &o_image);
  clattn_tensor wt = output_view(env, c->w_type, B, Sq, HW, &w_count, &w_image);
  clattn_attention_desc desc = c->desc;
  cl_mem kv = NULL, ql = NULL, mb = NULL, ab = NULL;
  if (c->kv_lens) desc.kv_lens = kv = attn_buffer(env, c->kv_lens, (size_t)B * 4);
  if (c->q_lens) desc.q_lens = ql = attn_buffer(env, c->q_lens, (size_t)B * 4);
  if (mask) {
    mb = attn_buffer(env, mask, (size_t)(B * HW));
    clattn_mask m = {CLATTN_MASK_BOOL, mb, 0, HW, 0, 0};
    desc.mask = m;
  }
  if (c->alibi) desc.alibi_slopes = ab = attn_buffer(env, slopes, sizeof slopes);

  cl_event done = NULL;
  CHECK_OK(env->ctx, clattn_attention_spatial(env->ctx, queue, &desc, &qt, &fm, &ot,
                                              c->weights ? &wt : NULL, gate ? 1 : 0,
                                              gate ? &gate : NULL, &done));
  if (gate) CHECK_CL(clSetUserEventStatus(gate, CL_COMPLETE));
  CHECK_CL(clWaitForEvents(1, &done));
  CHECK_CL(clReleaseEvent(done));

  sresult res = {xmalloc((size_t)(B * Sq * C) * sizeof(float)),
                 xmalloc((size_t)(B * Sq * HW) * sizeof(float))};
  read_output(env, c->name, "O", &ot, o_image, o_count, B, Sq, C, res.o);
  read_output(env, c->name, "weights", &wt, w_image, w_count, B, Sq, HW, res.w);

  ref_attention r;
  make_reference(c, q, map, mask, c->alibi ? slopes : NULL, &r);
  double *o_ref = xmalloc((size_t)(B * Sq * C) * sizeof(double));
  double *lse = xmalloc((size_t)(B * Sq) * sizeof(double));
  CHECK(ref_attention_forward(&r, o_ref, lse) == 0);
  compare(c, "O", c->o_type, res.o, o_ref, B * Sq * C);
  if (c->weights) {
    double *w_ref = xmalloc((size_t)(B * Sq * HW) * sizeof(double));
    for (int64_t b = 0; b < B; b++)
      for (int64_t i = 0; i < Sq; i++)
        for (int64_t j = 0; j < HW; j++) w_ref[(b * Sq + i) * HW + j] = ref_prob(&r, lse, b, i, j);
    compare(c, "weights", c->w_type, res.w, w_ref, B * Sq * HW);
    check_sums(c, res.w, lse);
    free(w_ref);
  } else {
    for (int64_t n = 0; n < B * Sq * HW; n++) CHECK(isnan(res.w[n])); /* left alone */
  }

  /* Again into fresh NaN outputs: every bit the same. */
  if (!gate) {
    CHECK_CL(clEnqueueWriteBuffer(env->queue, ot.buffer, CL_TRUE, 0, o_count * clattn_dtype_size(c->o_type),
                                  o_image, 0, NULL, NULL));
    CHECK_OK(env->ctx, clattn_attention_spatial(env->ctx, NULL, &desc, &qt, &fm, &ot, NULL, 0, NULL, NULL));
    float *again = xmalloc((size_t)(B * Sq * C) * sizeof(float));
    read_output(env, c->name, "O (again)", &ot, o_image, o_count, B, Sq, C, again);
    CHECK(memcmp(again, res.o, (size_t)(B * Sq * C) * sizeof(float)) == 0);
    free(again);
  }

  cl_mem all[8] = {qt.buffer, fm.buffer, ot.buffer, wt.buffer, kv, ql, mb, ab};
  for (int n = 0; n < 8; n++)
    if (all[n]) clReleaseMemObject(all[n]);
  free(q), free(map), free(mask), free(qi), free(mi), free(o_image), free(w_image);
  free(o_ref), free(lse);
  return res;
}

static scase make_case(const char *name, int64_t B, int64_t Sq, int64_t H, int64_t W, int64_t C,
                       clattn_map_layout layout) {
  scase c;
  memset(&c, 0, sizeof c);
  c.name = name;
  clattn_attention_desc_init(&c.desc);
  c.desc.batch = B;
  c.desc.q_len = Sq;
  c.height = H, c.width = W, c.channels = C;
  c.layout = layout;
  c.weights = 1;
  c.nan_key = -1;
  c.seed = (uint64_t)(B * 1000003 + Sq * 10007 + H * 101 + W * 11 + C);
  return c;
}

/* Runs a case in both layouts and checks that they agree with each other too. */
static void both_layouts(attn_env *env, scase c) {
  c.layout = CLATTN_MAP_NHWC;
  sresult a = run_case(env, &c, NULL, NULL);
  c.layout = CLATTN_MAP_NCHW;
  sresult b = run_case(env, &c, NULL, NULL);
  int64_t no = c.desc.batch * c.desc.q_len * c.channels;
  for (int64_t n = 0; n < no; n++) {
    double tol = 2 * (ATTN_ATOL + ATTN_RTOL * fabs((double)a.o[n]));
    if (isnan(a.o[n]) != isnan(b.o[n]) || (!isnan(a.o[n]) && fabs((double)a.o[n] - b.o[n]) > tol))
      check_fail(__FILE__, __LINE__, "%s: NHWC O[%lld] = %.9g, NCHW %.9g", c.name, (long long)n,
                 (double)a.o[n], (double)b.o[n]);
  }
  check_pass();
  free(a.o), free(a.w), free(b.o), free(b.w);
}

static void out_of_order(attn_env *env, scase c) {
  cl_int err = CL_SUCCESS;
  cl_command_queue ooo =
      clCreateCommandQueue(env->cl, env->device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  CHECK_CL(err);
  for (int layout = 0; layout < 2; layout++) {
    cl_event gate = clCreateUserEvent(env->cl, &err);
    CHECK_CL(err);
    c.layout = (clattn_map_layout)layout;
    sresult r = run_case(env, &c, ooo, gate);
    free(r.o), free(r.w);
    CHECK_CL(clReleaseEvent(gate));
  }
  CHECK_CL(clReleaseCommandQueue(ooo));
}

int main(void) {
  attn_env env;
  attn_env_init(&env);

  both_layouts(&env, make_case("plain", 2, 3, 5, 7, 19, CLATTN_MAP_NHWC));
  both_layouts(&env, make_case("one query, odd channels", 3, 1, 13, 11, 67, CLATTN_MAP_NHWC));

  static const int32_t kv_lens[3] = {20, 35, 0}, q_lens[3] = {4, 2, 3};
  scase c = make_case("lengths, poison, empty batch", 3, 4, 5, 7, 9, CLATTN_MAP_NHWC);
  c.kv_lens = kv_lens, c.q_lens = q_lens;
  both_layouts(&env, c);

  c = make_case("causal bottom-right, softcap, scale", 2, 6, 3, 9, 24, CLATTN_MAP_NHWC);
  c.desc.causal = 1, c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.desc.softcap = 2.5f, c.desc.scale = 0.4f;
  both_layouts(&env, c);

  c = make_case("window top-left, lengths", 3, 5, 7, 5, 33, CLATTN_MAP_NHWC);
  c.desc.window_left = 3, c.desc.window_right = 6;
  c.kv_lens = kv_lens, c.q_lens = q_lens;
  both_layouts(&env, c);

  c = make_case("NaN at an attended key", 2, 3, 3, 5, 8, CLATTN_MAP_NHWC);
  c.nan_key = 4;
  both_layouts(&env, c);

  c = make_case("no weights", 2, 2, 3, 3, 5, CLATTN_MAP_NHWC);
  c.weights = 0;
  both_layouts(&env, c);

  c = make_case("NHWC mask and ALiBi", 2, 4, 5, 5, 21, CLATTN_MAP_NHWC);
  c.bool_mask = 1, c.alibi = 1, c.desc.causal = 1;
  sresult r = run_case(&env, &c, NULL, NULL);
  free(r.o), free(r.w);

  c = make_case("NHWC f16 map and q, bf16 o and weights", 2, 3, 5, 3, 17, CLATTN_MAP_NHWC);
  c.map_type = c.q_type = CLATTN_F16, c.o_type = c.w_type = CLATTN_BF16;
  r = run_case(&env, &c, NULL, NULL);
  free(r.o), free(r.w);

  c = make_case("NCHW f16 weights", 2, 3, 5, 3, 17, CLATTN_MAP_NCHW);
  c.w_type = CLATTN_F16, c.kv_lens = kv_lens;
  r = run_case(&env, &c, NULL, NULL);
  free(r.o), free(r.w);

  c = make_case("out-of-order queue", 2, 3, 3, 7, 10, CLATTN_MAP_NHWC);
  c.kv_lens = kv_lens;
  out_of_order(&env, c);

  attn_env_destroy(&env);
  return check_done("test_spatial");
}
