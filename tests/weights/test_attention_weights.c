/* clattn_attention_weights against the double-precision reference: each of the four modes
 * on shapes that miss every tile size, with causal masks of both alignments, windows,
 * per-batch lengths, bool and additive mask tensors, softcap, GQA and ALiBi (a bias: in modes 2
 * and 3 only, after softcap, before the masks); f16/bf16 inputs and
 * outputs; canaries around and between the rows of the weights view; a given LSE and a
 * computed one; out-of-order queues; and argument errors that must write nothing. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

#define CANARY 0x5a /* every byte of the weights buffer outside the view */
#define W_PAD 7     /* elements before the view */
#define W_GAP 2     /* elements between rows */
#define W_TAIL 16   /* elements after the view */

typedef struct wcase {
  const char *name;
  clattn_attention_desc desc;
  clattn_dtype q_type, k_type, w_type;
  const int32_t *kv_lens, *q_lens;
  clattn_mask_type mask_type;
  int mask_broadcast_heads; /* mask stride_head 0 */
  int give_lse;             /* 1: a forward call's LSE is passed in */
  const float *alibi;       /* Hq ALiBi slopes, or NULL */
  double sigma;             /* of Q and K; 0: 1 */
} wcase;

/* The problem's host data and device buffers. */
typedef struct wproblem {
  int64_t B, Hq, Hkv, Sq, Skv, D;
  float *q, *k, *v;       /* dense BHSD, rounded to their storage types */
  void *mask;             /* dense (B, Hq|1, Sq, Skv) image */
  size_t mask_bytes;
  int64_t m_sb, m_sh, m_sq;
  cl_mem q_buf, k_buf, mask_buf, kv_lens_buf, q_lens_buf, lse_buf, alibi_buf;
  clattn_tensor qt, kt, lset;
  clattn_attention_desc desc;
  ref_attention ref;
  double *ref_lse; /* (B, Hq, Sq) */
  size_t w_count;  /* elements of the weights buffer */
  clattn_tensor wt;
} wproblem;

static uint64_t w_index(const wproblem *p, int64_t b, int64_t h, int64_t i, int64_t j) {
  return p->wt.offset + (uint64_t)(b * p->wt.stride_batch + h * p->wt.stride_head +
                                   i * p->wt.stride_seq + j);
}

/* Stores dense BHSD floats into a buffer image of `dtype` at the view's positions. */
static void *store_view(clattn_dtype dtype, const float *x, int64_t B, int64_t H, int64_t S,
                        int64_t D, const clattn_tensor *t, size_t count) {
  size_t es = clattn_dtype_size(dtype);
  unsigned char *image = malloc(count * es);
  CHECK(image != NULL);
  for (size_t n = 0; n < count; n++) ref_store(dtype, image, n, 1e30f); /* poison in gaps */
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < H; h++)
      for (int64_t s = 0; s < S; s++)
        for (int64_t d = 0; d < D; d++)
          ref_store(dtype, image,
                    t->offset + (uint64_t)(b * t->stride_batch + h * t->stride_head +
                                           s * t->stride_seq + d),
                    x[((b * H + h) * S + s) * D + d]);
  return image;
}

static void problem_make(attn_env *env, const wcase *c, wproblem *p, uint64_t seed) {
  memset(p, 0, sizeof *p);
  const clattn_attention_desc *d = &c->desc;
  p->B = d->batch, p->Hq = d->q_heads, p->Hkv = d->kv_heads, p->Sq = d->q_len;
  p->Skv = d->kv_len, p->D = d->head_dim;
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  size_t nq = (size_t)(p->B * p->Hq * p->Sq * p->D), nk = (size_t)(p->B * p->Hkv * p->Skv * p->D);
  p->q = malloc(nq * sizeof(float));
  p->k = malloc(nk * sizeof(float));
  p->v = malloc(nk * sizeof(float));
  CHECK(p->q && p->k && p->v);
  double sigma = c->sigma > 0 ? c->sigma : 1.0;
  ref_rng_fill_normal(&rng, p->q, nq, sigma);
  ref_rng_fill_normal(&rng, p->k, nk, sigma);
  ref_rng_fill_normal(&rng, p->v, nk, 1.0);
  for (size_t n = 0; n < nq; n++) p->q[n] = ref_round_to(c->q_type, p->q[n]);
  for (size_t n = 0; n < nk; n++) p->k[n] = ref_round_to(c->k_type, p->k[n]);

  /* Q: BHSD with an offset and gapped rows; K: BSHD with an offset. */
  p->qt = (clattn_tensor){NULL, c->q_type, 3, 0, 0, p->D + 1};
  p->qt.stride_head = p->Sq * p->qt.stride_seq;
  p->qt.stride_batch = p->Hq * p->qt.stride_head;
  size_t q_count = 3 + (size_t)(p->B * p->qt.stride_batch) + 4;
  p->kt = clattn_tensor_contiguous(NULL, c->k_type, CLATTN_LAYOUT_BSHD, p->Hkv, p->Skv, p->D, 5);
  size_t k_count = 5 + nk + 4;
  void *qi = store_view(c->q_type, p->q, p->B, p->Hq, p->Sq, p->D, &p->qt, q_count);
  void *ki = store_view(c->k_type, p->k, p->B, p->Hkv, p->Skv, p->D, &p->kt, k_count);
  p->q_buf = p->qt.buffer = attn_buffer(env, qi, q_count * clattn_dtype_size(c->q_type));
  p->k_buf = p->kt.buffer = attn_buffer(env, ki, k_count * clattn_dtype_size(c->k_type));
  free(qi);
  free(ki);

  p->desc = *d;
  ref_attention_from_desc(&p->ref, d);
  p->ref.q = p->q, p->ref.k = p->k, p->ref.v = p->v;
  if (c->kv_lens) {
    p->kv_lens_buf = attn_buffer(env, c->kv_lens, (size_t)p->B * sizeof(int32_t));
    p->desc.kv_lens = p->kv_lens_buf;
    p->ref.kv_lens = c->kv_lens;
  }
  if (c->q_lens) {
    p->q_lens_buf = attn_buffer(env, c->q_lens, (size_t)p->B * sizeof(int32_t));
    p->desc.q_lens = p->q_lens_buf;
    p->ref.q_lens = c->q_lens;
  }
  if (c->alibi) {
    p->alibi_buf = attn_buffer(env, c->alibi, (size_t)p->Hq * sizeof(float));
    p->desc.alibi_slopes = p->alibi_buf;
    p->ref.alibi_slopes = c->alibi;
  }
  if (c->mask_type != CLATTN_MASK_NONE) {
    int64_t mh = c->mask_broadcast_heads ? 1 : p->Hq;
    p->m_sq = p->Skv + 1;
    p->m_sh = c->mask_broadcast_heads ? 0 : p->Sq * p->m_sq;
    p->m_sb = mh * p->Sq * p->m_sq;
    size_t count = (size_t)(p->B * p->m_sb) + 2;
    int bool_mask = c->mask_type == CLATTN_MASK_BOOL;
    p->mask_bytes = count * (bool_mask ? 1 : sizeof(float));
    p->mask = malloc(p->mask_bytes);
    CHECK(p->mask != NULL);
    for (size_t n = 0; n < count; n++) {
      double u = ref_rng_uniform(&rng);
      if (bool_mask)
        ((uint8_t *)p->mask)[n] = (uint8_t)(u < 0.2 ? 0 : 1 + ref_rng_below(&rng, 200));
      else
        ((float *)p->mask)[n] = u < 0.15 ? -INFINITY : (float)ref_rng_normal(&rng);
    }
    p->mask_buf = attn_buffer(env, p->mask, p->mask_bytes);
    clattn_mask m = {c->mask_type, p->mask_buf, 1, p->m_sb, p->m_sh, p->m_sq};
    p->desc.mask = m;
    p->ref.mask_type = c->mask_type;
    p->ref.mask = p->mask;
    p->ref.mask_offset = 1;
    p->ref.mask_stride_batch = p->m_sb;
    p->ref.mask_stride_head = p->m_sh;
    p->ref.mask_stride_query = p->m_sq;
  }
  size_t rows = (size_t)(p->B * p->Hq * p->Sq);
  p->ref_lse = malloc(rows * sizeof(double));
  double *o = malloc(rows * (size_t)p->D * sizeof(double));
  CHECK(p->ref_lse && o);
  CHECK_EQ(ref_attention_forward(&p->ref, o, p->ref_lse), 0);
  free(o);

  if (c->give_lse) { /* a real forward call's LSE, as an application would pass it */
    cl_mem v_buf = attn_buffer(env, p->v, nk * sizeof(float));
    cl_mem o_buf = attn_buffer(env, NULL, rows * (size_t)p->D * sizeof(float));
    p->lse_buf = attn_buffer(env, NULL, rows * sizeof(float));
    clattn_tensor vt = clattn_tensor_contiguous(v_buf, CLATTN_F32, CLATTN_LAYOUT_BHSD, p->Hkv,
                                                p->Skv, p->D, 0);
    clattn_tensor ot = clattn_tensor_contiguous(o_buf, CLATTN_F32, CLATTN_LAYOUT_BHSD, p->Hq,
                                                p->Sq, p->D, 0);
    p->lset = clattn_tensor_contiguous(p->lse_buf, CLATTN_F32, CLATTN_LAYOUT_BHSD, p->Hq, p->Sq,
                                       1, 0);
    clattn_attention_desc fd = p->desc;
    fd.v_head_dim = 0;
    CHECK_OK(env->ctx, clattn_attention_forward(env->ctx, env->queue, &fd, &p->qt, &p->kt, &vt,
                                                &ot, &p->lset, 0, NULL, NULL));
    CHECK(clFinish(env->queue) == CL_SUCCESS);
    clReleaseMemObject(v_buf);
    clReleaseMemObject(o_buf);
  }

  /* Weights: BHSD with an offset, gapped rows and a tail. */
  p->wt = (clattn_tensor){NULL, c->w_type, W_PAD, 0, 0, p->Skv + W_GAP};
  p->wt.stride_head = p->Sq * p->wt.stride_seq;
  p->wt.stride_batch = p->Hq * p->wt.stride_head;
  p->w_count = W_PAD + (size_t)(p->B * p->wt.stride_batch) + W_TAIL;
  p->wt.buffer = attn_buffer(env, NULL, p->w_count * clattn_dtype_size(c->w_type));
}

static void problem_free(wproblem *p) {
  cl_mem all[8] = {p->q_buf, p->k_buf, p->mask_buf, p->kv_lens_buf, p->q_lens_buf, p->lse_buf,
                   p->wt.buffer, p->alibi_buf};
  for (int n = 0; n < 8; n++)
    if (all[n]) clReleaseMemObject(all[n]);
  free(p->q);
  free(p->k);
  free(p->v);
  free(p->mask);
  free(p->ref_lse);
}

/* The reference value of one entry in `mode`. */
static double ref_weight(const wproblem *p, int mode, int64_t b, int64_t h, int64_t i,
                         int64_t j) {
  const int64_t D = p->D, hk = h / (p->Hq / p->Hkv);
  const float *qi = p->q + ((b * p->Hq + h) * p->Sq + i) * D;
  const float *kj = p->k + ((b * p->Hkv + hk) * p->Skv + j) * D;
  double dot = 0.0;
  for (int64_t d = 0; d < D; d++) dot += (double)qi[d] * (double)kj[d];
  double scale = p->ref.scale != 0.0 ? p->ref.scale : 1.0 / sqrt((double)D);
  double s = dot * scale;
  if (mode == 0) return s;
  if (p->ref.softcap > 0.0) s = p->ref.softcap * tanh(s / p->ref.softcap);
  if (mode == 1) return s;
  if (!ref_attention_allowed(&p->ref, b, h, i, j)) return mode == 2 ? -INFINITY : 0.0;
  s += ref_attention_bias(&p->ref, b, h, i, j); /* ALiBi, before the additive mask */
  if (p->ref.mask_type == CLATTN_MASK_ADDITIVE)
    s += ((const float *)p->mask)[1 + b * p->m_sb + h * p->m_sh + i * p->m_sq + j];
  if (mode == 2) return s;
  double lse = p->ref_lse[(b * p->Hq + h) * p->Sq + i];
  if (s == -INFINITY || lse == -INFINITY) return 0.0;
  return exp(s - lse);
}

static int is_in_view(const wproblem *p, size_t n) {
  if (n < W_PAD) return 0;
  size_t rel = n - W_PAD;
  size_t row = rel / (size_t)p->wt.stride_seq, col = rel % (size_t)p->wt.stride_seq;
  return row < (size_t)(p->B * p->Hq * p->Sq) && col < (size_t)p->Skv;
}

/* Runs one mode and checks every entry, the canaries and (mode 3) the row sums. Returns the
 * buffer image (malloc'd) for determinism checks. */
static unsigned char *run_mode(attn_env *env, const wcase *c, wproblem *p, int mode,
                               cl_command_queue queue, double *worst) {
  size_t es = clattn_dtype_size(c->w_type), bytes = p->w_count * es;
  unsigned char *image = malloc(bytes);
  CHECK(image != NULL);
  memset(image, CANARY, bytes);
  CHECK(clEnqueueWriteBuffer(env->queue, p->wt.buffer, CL_TRUE, 0, bytes, image, 0, NULL,
                             NULL) == CL_SUCCESS);
  cl_event done = NULL;
  CHECK_OK(env->ctx, clattn_attention_weights(env->ctx, queue, &p->desc, &p->qt, &p->kt,
                                              c->give_lse ? &p->lset : NULL,
                                              (clattn_weights_mode)mode, &p->wt, 0, NULL, &done));
  CHECK(done != NULL);
  CHECK(clWaitForEvents(1, &done) == CL_SUCCESS);
  clReleaseEvent(done);
  attn_read(env, p->wt.buffer, image, bytes);

  for (size_t n = 0; n < p->w_count; n++)
    if (!is_in_view(p, n))
      for (size_t u = 0; u < es; u++)
        if (image[n * es + u] != CANARY)
          check_fail(__FILE__, __LINE__, "%s mode %d: element %zu outside the view was written",
                     c->name, mode, n);
  for (int64_t b = 0; b < p->B; b++)
    for (int64_t h = 0; h < p->Hq; h++)
      for (int64_t i = 0; i < p->Sq; i++) {
        double sum = 0.0;
        for (int64_t j = 0; j < p->Skv; j++) {
          float y = ref_load(c->w_type, image, w_index(p, b, h, i, j));
          double r = ref_weight(p, mode, b, h, i, j), ratio = 0.0;
          if (!attn_compare_value(c->w_type, y, r, &ratio))
            check_fail(__FILE__, __LINE__,
                       "%s mode %d (%s weights): (%lld,%lld,%lld,%lld) = %.9g, reference %.9g",
                       c->name, mode, ref_dtype_name(c->w_type), (long long)b, (long long)h,
                       (long long)i, (long long)j, y, r);
          if (ratio > *worst) *worst = ratio;
          sum += y;
        }
        if (mode == 3) {
          double lse = p->ref_lse[(b * p->Hq + h) * p->Sq + i];
          double tol = c->w_type == CLATTN_F32 ? 1e-5 : 1e-5 + (double)p->Skv * ref_ulp(c->w_type, 1.0);
          if (lse == -INFINITY) {
            if (sum != 0.0)
              check_fail(__FILE__, __LINE__, "%s: empty row (%lld,%lld,%lld) sums to %.9g",
                         c->name, (long long)b, (long long)h, (long long)i, sum);
          } else if (!(fabs(sum - 1.0) <= tol)) {
            check_fail(__FILE__, __LINE__, "%s: row (%lld,%lld,%lld) sums to %.9g", c->name,
                       (long long)b, (long long)h, (long long)i, sum);
          }
        }
      }
  check_pass();
  return image;
}

static void run_case(attn_env *env, const wcase *c, uint64_t seed) {
  wproblem p;
  problem_make(env, c, &p, seed);
  double worst[4] = {0, 0, 0, 0};
  unsigned char *last = NULL;
  for (int mode = 0; mode < 4; mode++) {
    free(last);
    last = run_mode(env, c, &p, mode, env->queue, &worst[mode]);
  }
  /* Determinism: mode 3 again gives the same bytes. */
  unsigned char *again = run_mode(env, c, &p, 3, env->queue, &worst[3]);
  CHECK(memcmp(last, again, p.w_count * clattn_dtype_size(c->w_type)) == 0);
  free(again);
  free(last);
  printf("%-34s worst error/tolerance: scores %.3f softcapped %.3f masked %.3f probs %.3f\n",
         c->name, worst[0], worst[1], worst[2], worst[3]);
  problem_free(&p);
}

static wcase make_case(const char *name, int64_t B, int64_t Hq, int64_t Hkv, int64_t Sq,
                       int64_t Skv, int64_t D) {
  wcase c;
  memset(&c, 0, sizeof c);
  c.name = name;
  clattn_attention_desc_init(&c.desc);
  c.desc.batch = B, c.desc.q_heads = Hq, c.desc.kv_heads = Hkv;
  c.desc.q_len = Sq, c.desc.kv_len = Skv, c.desc.head_dim = D;
  c.q_type = c.k_type = c.w_type = CLATTN_F32;
  return c;
}

static void test_modes(attn_env *env) {
  static const int32_t kv_lens[2] = {150, 0}, q_lens[2] = {9, 17};
  static const int32_t kv_lens_b[2] = {203, 77}, q_lens_b[2] = {100, 40};
  uint64_t seed = 1;
  wcase c = make_case("plain 17x203 D64 GQA", 2, 4, 2, 17, 203, 64);
  run_case(env, &c, seed++);
  c = make_case("Skv 1, D 8", 1, 2, 1, 17, 1, 8);
  run_case(env, &c, seed++);
  c = make_case("causal top-left 113x37 D59", 1, 2, 2, 113, 37, 59);
  c.desc.causal = 1;
  run_case(env, &c, seed++);
  c = make_case("causal bottom-right 17x203 D59", 2, 2, 1, 17, 203, 59);
  c.desc.causal = 1, c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  run_case(env, &c, seed++);
  c = make_case("causal bottom-right 113x37 (empty rows)", 1, 3, 1, 113, 37, 8);
  c.desc.causal = 1, c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  run_case(env, &c, seed++);
  c = make_case("window 5,3 bottom-right + lengths", 2, 2, 2, 17, 203, 64);
  c.desc.window_left = 5, c.desc.window_right = 3, c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.kv_lens = kv_lens, c.q_lens = q_lens;
  run_case(env, &c, seed++);
  c = make_case("causal + window 20,-1 + lengths", 2, 4, 1, 113, 203, 59);
  c.desc.causal = 1, c.desc.window_left = 20, c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.kv_lens = kv_lens_b, c.q_lens = q_lens_b;
  run_case(env, &c, seed++);
  c = make_case("bool mask + causal top-left", 2, 2, 1, 17, 203, 64);
  c.desc.causal = 1, c.mask_type = CLATTN_MASK_BOOL;
  run_case(env, &c, seed++);
  c = make_case("additive mask (heads broadcast)", 2, 4, 2, 113, 37, 8);
  c.mask_type = CLATTN_MASK_ADDITIVE, c.mask_broadcast_heads = 1;
  run_case(env, &c, seed++);
  c = make_case("softcap 2 + additive + lengths", 2, 2, 2, 17, 203, 59);
  c.desc.softcap = 2.0f, c.mask_type = CLATTN_MASK_ADDITIVE, c.sigma = 3.0;
  c.kv_lens = kv_lens, c.q_lens = q_lens;
  run_case(env, &c, seed++);
  c = make_case("softcap 5, scale 0.3, given LSE", 1, 4, 2, 17, 203, 64);
  c.desc.softcap = 5.0f, c.desc.scale = 0.3f, c.give_lse = 1, c.desc.causal = 1;
  run_case(env, &c, seed++);
  c = make_case("given LSE + bool mask + lengths", 2, 2, 1, 17, 203, 8);
  c.mask_type = CLATTN_MASK_BOOL, c.give_lse = 1, c.kv_lens = kv_lens, c.q_lens = q_lens;
  run_case(env, &c, seed++);

  static float slopes4[4];
  CHECK_OK(NULL, clattn_alibi_slopes(4, slopes4));
  static const float custom[2] = {0.6f, 0.0f};
  c = make_case("alibi GQA top-left 17x203", 2, 4, 2, 17, 203, 64);
  c.alibi = slopes4;
  run_case(env, &c, seed++);
  c = make_case("alibi causal bottom-right + lengths", 2, 4, 1, 113, 203, 59);
  c.desc.causal = 1, c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.kv_lens = kv_lens_b, c.q_lens = q_lens_b, c.alibi = slopes4;
  run_case(env, &c, seed++);
  c = make_case("alibi softcap 2 + additive + lengths", 2, 2, 2, 17, 203, 59);
  c.desc.softcap = 2.0f, c.mask_type = CLATTN_MASK_ADDITIVE, c.sigma = 3.0;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.kv_lens = kv_lens, c.q_lens = q_lens, c.alibi = custom;
  run_case(env, &c, seed++);
  c = make_case("alibi given LSE, window 9,2", 1, 4, 2, 113, 37, 8);
  c.desc.window_left = 9, c.desc.window_right = 2, c.give_lse = 1, c.alibi = slopes4;
  run_case(env, &c, seed++);
}

static void test_dtypes(attn_env *env) {
  static const clattn_dtype types[3] = {CLATTN_F32, CLATTN_F16, CLATTN_BF16};
  static const char *names[3][3] = {
      {"q f32 w f32", "q f32 w f16", "q f32 w bf16"},
      {"q f16 w f32", "q f16 w f16", "q f16 w bf16"},
      {"q bf16 w f32", "q bf16 w f16", "q bf16 w bf16"}};
  for (int a = 0; a < 3; a++)
    for (int w = 0; w < 3; w++) {
      wcase c = make_case(names[a][w], 1, 2, 1, 17, 37, 59);
      c.q_type = c.k_type = types[a];
      c.w_type = types[w];
      c.desc.causal = 1, c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
      run_case(env, &c, 100 + (uint64_t)(a * 3 + w));
    }
}

/* An out-of-order queue: the computed LSE's forward and the weights kernel are chained by
 * events, so the result must equal the in-order one. */
static void test_out_of_order(attn_env *env) {
  cl_int err = CL_SUCCESS;
  cl_command_queue ooo =
      clCreateCommandQueue(env->cl, env->device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  if (err != CL_SUCCESS) {
    printf("out-of-order queues not supported: skipped\n");
    return;
  }
  wcase c = make_case("out-of-order queue", 2, 2, 1, 17, 203, 64);
  c.desc.causal = 1;
  wproblem p;
  problem_make(env, &c, &p, 77);
  double worst = 0.0;
  unsigned char *in_order = run_mode(env, &c, &p, 3, env->queue, &worst);
  unsigned char *out_of_order = run_mode(env, &c, &p, 3, ooo, &worst);
  CHECK(memcmp(in_order, out_of_order, p.w_count * sizeof(float)) == 0);
  free(in_order);
  free(out_of_order);
  problem_free(&p);
  clReleaseCommandQueue(ooo);
}

/* A failing call returns INVALID_ARGUMENT with a message and leaves the buffer as it was. */
static void expect_invalid(attn_env *env, wproblem *p, const clattn_tensor *q,
                           const clattn_tensor *lse, int mode, const clattn_tensor *w,
                           const char *needle) {
  size_t bytes = 0;
  CHECK(clGetMemObjectInfo(w->buffer, CL_MEM_SIZE, sizeof bytes, &bytes, NULL) == CL_SUCCESS);
  unsigned char *image = malloc(bytes);
  CHECK(image != NULL);
  memset(image, CANARY, bytes);
  CHECK(clEnqueueWriteBuffer(env->queue, w->buffer, CL_TRUE, 0, bytes, image, 0, NULL, NULL) ==
        CL_SUCCESS);
  cl_event ev = NULL;
  CHECK_STATUS(env->ctx,
               clattn_attention_weights(env->ctx, NULL, &p->desc, q, &p->kt, lse,
                                        (clattn_weights_mode)mode, w, 0, NULL, &ev),
               CLATTN_INVALID_ARGUMENT);
  CHECK(ev == NULL);
  CHECK_CONTAINS(clattn_last_error(env->ctx), needle);
  CHECK(clFinish(env->queue) == CL_SUCCESS);
  attn_read(env, w->buffer, image, bytes);
  for (size_t n = 0; n < bytes; n++)
    if (image[n] != CANARY) check_fail(__FILE__, __LINE__, "byte %zu written by a failed call", n);
  free(image);
}

static void test_errors(attn_env *env) {
  wcase c = make_case("errors", 2, 2, 1, 17, 37, 8);
  wproblem p;
  problem_make(env, &c, &p, 5);
  /* Too small: one element short of the last row. */
  clattn_tensor small = clattn_tensor_contiguous(NULL, CLATTN_F32, CLATTN_LAYOUT_BHSD, 2, 17, 37, 0);
  small.buffer = attn_buffer(env, NULL, (2 * 2 * 17 * 37 - 1) * sizeof(float));
  expect_invalid(env, &p, &p.qt, NULL, 3, &small, "weights reaches past the end");
  expect_invalid(env, &p, &p.qt, NULL, 0, &small, "weights reaches past the end");
  /* Wrong modes. */
  expect_invalid(env, &p, &p.qt, NULL, 4, &p.wt, "clattn_weights_mode");
  expect_invalid(env, &p, &p.qt, NULL, -1, &p.wt, "clattn_weights_mode");
  /* Overlapping rows. */
  clattn_tensor rows = p.wt;
  rows.stride_seq = 36;
  expect_invalid(env, &p, &p.qt, NULL, 2, &rows, "overlap");
  /* Bad dtype, negative stride, NULL weights. */
  clattn_tensor bad = p.wt;
  bad.dtype = (clattn_dtype)7;
  expect_invalid(env, &p, &p.qt, NULL, 3, &bad, "weights.dtype");
  bad = p.wt;
  bad.stride_head = -1;
  expect_invalid(env, &p, &p.qt, NULL, 3, &bad, "negative stride");
  CHECK_STATUS(env->ctx, clattn_attention_weights(env->ctx, NULL, &p.desc, &p.qt, &p.kt, NULL,
                                                  CLATTN_WEIGHTS_PROBS, NULL, 0, NULL, NULL),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "weights must not be NULL");
  /* Weights sharing Q's buffer: Q in front, weights overlapping its tail. */
  size_t q_elems = (size_t)(2 * 2 * 17 * 8);
  size_t w_elems = (size_t)(2 * 2 * 17 * 37);
  float *qdata = calloc(q_elems + w_elems, sizeof(float));
  CHECK(qdata != NULL);
  cl_mem shared = attn_buffer(env, qdata, (q_elems + w_elems) * sizeof(float));
  free(qdata);
  clattn_tensor q2 = clattn_tensor_contiguous(shared, CLATTN_F32, CLATTN_LAYOUT_BHSD, 2, 17, 8, 0);
  clattn_tensor w2 = clattn_tensor_contiguous(shared, CLATTN_F32, CLATTN_LAYOUT_BHSD, 2, 17, 37,
                                              q_elems - 1);
  expect_invalid(env, &p, &q2, NULL, 3, &w2, "weights overlaps q");
  /* ... but right after Q it is fine. */
  w2.offset = q_elems;
  CHECK_OK(env->ctx, clattn_attention_weights(env->ctx, NULL, &p.desc, &q2, &p.kt, NULL,
                                              CLATTN_WEIGHTS_PROBS, &w2, 0, NULL, NULL));
  CHECK(clFinish(env->queue) == CL_SUCCESS);
  /* Weights overlapping a given LSE. */
  cl_mem lw = attn_buffer(env, NULL, (2 * 2 * 17 + w_elems) * sizeof(float));
  clattn_tensor lse = clattn_tensor_contiguous(lw, CLATTN_F32, CLATTN_LAYOUT_BHSD, 2, 17, 1, 0);
  clattn_tensor wl = clattn_tensor_contiguous(lw, CLATTN_F32, CLATTN_LAYOUT_BHSD, 2, 17, 37, 10);
  expect_invalid(env, &p, &p.qt, &lse, 3, &wl, "weights overlaps lse");
  /* Weights overlapping the ALiBi slopes; slopes too few for Hq. */
  clattn_attention_desc saved_alibi = p.desc;
  clattn_tensor wa = clattn_tensor_contiguous(lw, CLATTN_F32, CLATTN_LAYOUT_BHSD, 2, 17, 37, 0);
  p.desc.alibi_slopes = lw;
  expect_invalid(env, &p, &p.qt, NULL, 2, &wa, "weights overlaps desc->alibi_slopes");
  cl_mem one_slope = attn_buffer(env, NULL, sizeof(float));
  p.desc.alibi_slopes = one_slope;
  expect_invalid(env, &p, &p.qt, NULL, 3, &p.wt, "desc->alibi_slopes");
  clReleaseMemObject(one_slope);
  p.desc = saved_alibi;
  /* Errors of the shared validation still come first and name their argument. */
  clattn_attention_desc saved = p.desc;
  p.desc.kv_heads = 3;
  expect_invalid(env, &p, &p.qt, NULL, 3, &p.wt, "not a multiple");
  p.desc = saved;
  p.desc.batch = 0;
  expect_invalid(env, &p, &p.qt, NULL, 3, &p.wt, "desc->batch");
  p.desc = saved;
  clattn_tensor wrong_lse = lse;
  wrong_lse.dtype = CLATTN_F16;
  expect_invalid(env, &p, &p.qt, &wrong_lse, 3, &p.wt, "lse.dtype");
  CHECK_STATUS(NULL, clattn_attention_weights(NULL, NULL, &p.desc, &p.qt, &p.kt, NULL,
                                              CLATTN_WEIGHTS_PROBS, &p.wt, 0, NULL, NULL),
               CLATTN_INVALID_ARGUMENT);
  clReleaseMemObject(lw);
  clReleaseMemObject(shared);
  clReleaseMemObject(small.buffer);
  problem_free(&p);
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  test_modes(&env);
  test_dtypes(&env);
  test_out_of_order(&env);
  test_errors(&env);
  attn_env_destroy(&env);
  return check_done("test_attention_weights");
}
