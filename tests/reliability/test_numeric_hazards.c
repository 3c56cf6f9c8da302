/* Numerical hazards, each with the behaviour clattn documents (include/clattn.h, "Numerical
 * contract"), on the fused kernel and the split-KV decode path:
 *   - scores 1e4 apart: the softmax saturates exactly to one-hot (O is the winning V row,
 *     bit for bit; no NaN);
 *   - Q, K and V scaled by 1e4 (scores ~1e8): finite and within tolerance of the fp64
 *     reference;
 *   - f16 / bf16 overflow on store: O rounds to nearest even like IEEE conversion, so
 *     values beyond the largest finite one (plus half an ulp) become +-inf; the fp32 value
 *     sum itself overflows for |V| near FLT_MAX;
 *   - -inf additive masks with softcap: masked stays masked (poison there never leaks),
 *     a row masked everywhere gives zeros and LSE -inf;
 *   - NaN at attended positions reaches exactly the rows (and, in V, the features) that
 *     attend it; NaN at masked positions never leaks;
 *   - Sq = 0 or Skv = 0 is INVALID_ARGUMENT with nothing written; kv_lens[b] = 0 is the way
 *     to attend to no key (zeros, LSE -inf). */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

static attn_env env;

enum { CANARY = 64, CANARY_BYTE = 0x3C };

/* A problem on dense BHSD float inputs; inputs are stored as f32. */
typedef struct problem {
  clattn_attention_desc desc;
  float *q, *k, *v, *mask; /* mask: additive, dense (B, Hq, Sq, Skv), or NULL */
  int32_t *kv_lens, *q_lens;
  clattn_dtype o_type;
  float *o, *lse;          /* results, as floats */
} problem;

static size_t count(const problem *p, int what) {
  const clattn_attention_desc *d = &p->desc;
  int64_t dv = d->v_head_dim ? d->v_head_dim : d->head_dim;
  switch (what) {
    case 0: return (size_t)(d->batch * d->q_heads * d->q_len * d->head_dim);
    case 1: return (size_t)(d->batch * d->kv_heads * d->kv_len * d->head_dim);
    case 2: return (size_t)(d->batch * d->kv_heads * d->kv_len * dv);
    case 3: return (size_t)(d->batch * d->q_heads * d->q_len * dv);
    case 4: return (size_t)(d->batch * d->q_heads * d->q_len);
    default: return (size_t)(d->batch * d->q_heads * d->q_len * d->kv_len);
  }
}

static float *alloc_floats(size_t n) {
  float *x = calloc(n ? n : 1, sizeof(float));
  if (!x) check_fail(__FILE__, __LINE__, "out of memory");
  return x;
}

static void problem_init(problem *p, int64_t b, int64_t h, int64_t hkv, int64_t sq, int64_t skv,
                         int64_t d, uint64_t seed, double sigma) {
  memset(p, 0, sizeof *p);
  clattn_attention_desc_init(&p->desc);
  p->desc.batch = b;
  p->desc.q_heads = h;
  p->desc.kv_heads = hkv;
  p->desc.q_len = sq;
  p->desc.kv_len = skv;
  p->desc.head_dim = d;
  p->o_type = CLATTN_F32;
  p->q = alloc_floats(count(p, 0));
  p->k = alloc_floats(count(p, 1));
  p->v = alloc_floats(count(p, 2));
  p->o = alloc_floats(count(p, 3));
  p->lse = alloc_floats(count(p, 4));
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  ref_rng_fill_normal(&rng, p->q, count(p, 0), sigma);
  ref_rng_fill_normal(&rng, p->k, count(p, 1), sigma);
  ref_rng_fill_normal(&rng, p->v, count(p, 2), sigma);
}

static void problem_free(problem *p) {
  free(p->q);
  free(p->k);
  free(p->v);
  free(p->mask);
  free(p->o);
  free(p->lse);
}

/* A buffer of `n` f32 values followed by a canary (data NULL: canary bytes throughout). */
static cl_mem buffer_of(const float *data, size_t n) {
  size_t bytes = n * sizeof(float) + CANARY;
  unsigned char *image = malloc(bytes);
  if (!image) check_fail(__FILE__, __LINE__, "out of memory");
  memset(image, CANARY_BYTE, bytes);
  if (data) memcpy(image, data, n * sizeof(float));
  cl_mem m = attn_buffer(&env, image, bytes);
  free(image);
  return m;
}

static void check_canary(cl_mem m, size_t bytes, const char *what) {
  unsigned char *image = malloc(bytes + CANARY);
  if (!image) check_fail(__FILE__, __LINE__, "out of memory");
  attn_read(&env, m, image, bytes + CANARY);
  for (size_t i = 0; i < CANARY; i++)
    if (image[bytes + i] != CANARY_BYTE) check_fail(__FILE__, __LINE__, "%s: canary changed", what);
  check_pass();
  free(image);
}

/* Runs clattn_attention_forward on p (kv_splits as set in p->desc), reads O and LSE. */
static void run(problem *p) {
  cl_mem q = buffer_of(p->q, count(p, 0)), k = buffer_of(p->k, count(p, 1));
  cl_mem v = buffer_of(p->v, count(p, 2)), lse = buffer_of(NULL, count(p, 4));
  size_t o_bytes = count(p, 3) * clattn_dtype_size(p->o_type);
  cl_mem o = buffer_of(NULL, (o_bytes + 3) / 4);
  cl_mem mask = p->mask ? buffer_of(p->mask, count(p, 5)) : NULL;
  cl_mem kv_lens = p->kv_lens ? attn_buffer(&env, p->kv_lens, (size_t)p->desc.batch * 4) : NULL;
  cl_mem q_lens = p->q_lens ? attn_buffer(&env, p->q_lens, (size_t)p->desc.batch * 4) : NULL;
  const clattn_attention_desc *d = &p->desc;
  int64_t dv = d->v_head_dim ? d->v_head_dim : d->head_dim;
  clattn_attention_desc desc = *d;
  desc.kv_lens = kv_lens;
  desc.q_lens = q_lens;
  if (mask) {
    desc.mask.type = CLATTN_MASK_ADDITIVE;
    desc.mask.buffer = mask;
    desc.mask.stride_batch = d->q_heads * d->q_len * d->kv_len;
    desc.mask.stride_head = d->q_len * d->kv_len;
    desc.mask.stride_query = d->kv_len;
  }
  clattn_tensor tq = clattn_tensor_contiguous(q, CLATTN_F32, CLATTN_LAYOUT_BHSD, d->q_heads, d->q_len, d->head_dim, 0);
  clattn_tensor tk = clattn_tensor_contiguous(k, CLATTN_F32, CLATTN_LAYOUT_BHSD, d->kv_heads, d->kv_len, d->head_dim, 0);
  clattn_tensor tv = clattn_tensor_contiguous(v, CLATTN_F32, CLATTN_LAYOUT_BHSD, d->kv_heads, d->kv_len, dv, 0);
  clattn_tensor to = clattn_tensor_contiguous(o, p->o_type, CLATTN_LAYOUT_BHSD, d->q_heads, d->q_len, dv, 0);
  clattn_tensor tl = clattn_tensor_contiguous(lse, CLATTN_F32, CLATTN_LAYOUT_BHSD, d->q_heads, d->q_len, 1, 0);
  CHECK_OK(env.ctx, clattn_attention_forward(env.ctx, env.queue, &desc, &tq, &tk, &tv, &to, &tl, 0, NULL, NULL));
  unsigned char *image = malloc(o_bytes + 4);
  if (!image) check_fail(__FILE__, __LINE__, "out of memory");
  attn_read(&env, o, image, o_bytes);
  for (size_t i = 0; i < count(p, 3); i++) p->o[i] = ref_load(p->o_type, image, i);
  free(image);
  attn_read(&env, lse, p->lse, count(p, 4) * sizeof(float));
  check_canary(o, o_bytes, "O");
  check_canary(lse, count(p, 4) * sizeof(float), "LSE");
  cl_mem all[7] = {q, k, v, o, lse, mask, kv_lens};
  for (int i = 0; i < 7; i++)
    if (all[i]) clReleaseMemObject(all[i]);
  if (q_lens) clReleaseMemObject(q_lens);
}

/* Compares O and LSE with the fp64 reference (NaN and inf positions exactly); returns the
 * worst error / tolerance. */
static double compare(const problem *p, const char *name) {
  ref_attention r;
  ref_attention_from_desc(&r, &p->desc);
  r.q = p->q;
  r.k = p->k;
  r.v = p->v;
  r.kv_lens = p->kv_lens;
  r.q_lens = p->q_lens;
  if (p->mask) {
    r.mask_type = CLATTN_MASK_ADDITIVE;
    r.mask = p->mask;
    r.mask_stride_batch = p->desc.q_heads * p->desc.q_len * p->desc.kv_len;
    r.mask_stride_head = p->desc.q_len * p->desc.kv_len;
    r.mask_stride_query = p->desc.kv_len;
  }
  double *o_ref = malloc(count(p, 3) * sizeof(double)), *l_ref = malloc(count(p, 4) * sizeof(double));
  if (!o_ref || !l_ref || ref_attention_forward(&r, o_ref, l_ref) != 0)
    check_fail(__FILE__, __LINE__, "out of memory");
  double worst = 0.0, ratio;
  for (size_t i = 0; i < count(p, 3); i++) {
    if (!attn_compare_value(p->o_type, p->o[i], o_ref[i], &ratio))
      check_fail(__FILE__, __LINE__, "%s: O[%zu] = %.9g, reference %.12g", name, i, (double)p->o[i], o_ref[i]);
    worst = fmax(worst, ratio);
  }
  for (size_t i = 0; i < count(p, 4); i++) {
    if (!attn_compare_value(CLATTN_F32, p->lse[i], l_ref[i], &ratio))
      check_fail(__FILE__, __LINE__, "%s: LSE[%zu] = %.9g, reference %.12g", name, i, (double)p->lse[i], l_ref[i]);
    worst = fmax(worst, ratio);
  }
  check_pass();
  free(o_ref);
  free(l_ref);
  return worst;
}

static size_t count_nan(const float *x, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += isnan(x[i]) != 0;
  return c;
}

/* Query i's scores: 0 for its winning key t(i) = (7 i + 3) % Skv, at most -1e4 for every
 * other key (scale 1), optionally all shifted by +1e4. */
static void saturation(int64_t sq, int64_t skv, int kv_splits, float shift) {
  const int64_t D = sq; /* row i reads feature i */
  problem p;
  problem_init(&p, 1, 1, 1, sq, skv, D, 71, 1.0);
  p.desc.scale = 1.0f;
  p.desc.kv_splits = kv_splits;
  memset(p.q, 0, count(&p, 0) * sizeof(float));
  for (int64_t i = 0; i < sq; i++) p.q[i * D + i] = 1.0f;
  for (int64_t j = 0; j < skv; j++)
    for (int64_t d = 0; d < D; d++)
      p.k[j * D + d] = shift + (j == (7 * d + 3) % skv ? 0.0f : -1e4f * (float)(1 + (j + d) % 3));
  run(&p);
  for (int64_t i = 0; i < sq; i++) {
    const float *want = p.v + ((7 * i + 3) % skv) * D, *got = p.o + i * D;
    if (memcmp(want, got, (size_t)D * sizeof(float)) != 0)
      check_fail(__FILE__, __LINE__, "row %lld is not exactly V[%lld] (%.9g vs %.9g)", (long long)i,
                 (long long)((7 * i + 3) % skv), (double)got[0], (double)want[0]);
    CHECK_NEAR(p.lse[i], shift, 1e-5 + 1e-4 * shift);
  }
  CHECK_EQ(count_nan(p.o, count(&p, 3)), 0);
  printf("  scores 1e4 apart%s, Sq=%lld Skv=%lld kv_splits=%d: exactly one-hot (O = V rows bit for bit)\n",
         shift != 0.0f ? " (+1e4)" : "", (long long)sq, (long long)skv, kv_splits);
  problem_free(&p);
}

static void huge_values(int64_t sq, int kv_splits) {
  problem p;
  problem_init(&p, 1, 2, 1, sq, 47, 32, 72, 1e4);
  p.desc.kv_splits = kv_splits;
  run(&p);
  for (size_t i = 0; i < count(&p, 3); i++)
    if (!isfinite(p.o[i])) check_fail(__FILE__, __LINE__, "O[%zu] = %g", i, (double)p.o[i]);
  double worst = compare(&p, "inputs x1e4");
  printf("  Q, K, V ~ N(0, 1e4^2), scores ~1e8, Sq=%lld: finite, worst error/tolerance %.3f\n",
         (long long)sq, worst);
  problem_free(&p);
}

/* Skv = 1: O is V's row exactly (weight 1), so the store alone decides what O holds. */
static void store_overflow(clattn_dtype type) {
  static const float values[] = {65504.0f, 65519.0f, 65520.0f, -65520.0f, 1e5f, -1e5f, 7e4f,
                                 3.0e38f, FLT_MAX, -FLT_MAX, 3.3895e38f, 1.0f, 6.1e-5f, 1e-8f,
                                 -1e-30f, 0.0f};
  enum { N = sizeof values / sizeof values[0] };
  problem p;
  problem_init(&p, 1, 1, 1, 3, 1, N, 73, 1.0);
  p.o_type = type;
  memcpy(p.v, values, sizeof values);
  run(&p);
  int infinities = 0;
  for (int64_t i = 0; i < 3; i++)
    for (int d = 0; d < N; d++) {
      float want = ref_round_to(type, values[d]), got = p.o[i * N + d];
      if (memcmp(&want, &got, sizeof got) != 0)
        check_fail(__FILE__, __LINE__, "%s store of %.9g gave %.9g, IEEE rounding gives %.9g",
                   ref_dtype_name(type), (double)values[d], (double)got, (double)want);
      infinities += i == 0 && isinf(got);
    }
  check_pass();
  printf("  %s O store: %d of %d values overflow to +-inf, each as IEEE round-to-nearest-even says\n",
         ref_dtype_name(type), infinities, N);
  problem_free(&p);
}

/* The value sum is accumulated unnormalised in fp32 (clattn.h says so): two keys of equal
 * score and V = 3e38 give O = inf although their mean, 3e38, is finite; 1e38 stays exact. */
static void value_sum_range(void) {
  problem p;
  problem_init(&p, 1, 1, 1, 1, 2, 2, 79, 1.0);
  memset(p.q, 0, count(&p, 0) * sizeof(float));
  p.desc.kv_splits = 1;
  const float v[4] = {3e38f, 1e38f, 3e38f, 1e38f};
  memcpy(p.v, v, sizeof v);
  run(&p);
  CHECK(isinf(p.o[0]) && p.o[0] > 0);
  CHECK(p.o[1] == 1e38f);
  printf("  V = 3e38 at two equal keys: O = inf (fp32 value sum overflows); V = 1e38: exact\n");
  problem_free(&p);
}

/* Additive mask: -inf on every key j % 5 == 0 (whose K and V are NaN) and on keys
 * (i + j) % 3 == 0 of row i; row 4 of head 1 masked everywhere; finite N(0, 1) elsewhere. */
static void masked_softcap(int64_t sq, int64_t skv, int kv_splits) {
  problem p;
  problem_init(&p, 1, 2, 1, sq, skv, 16, 74, 3.0);
  p.desc.softcap = 2.5f;
  p.desc.kv_splits = kv_splits;
  p.mask = alloc_floats(count(&p, 5));
  ref_rng rng;
  ref_rng_seed(&rng, 75);
  ref_rng_fill_normal(&rng, p.mask, count(&p, 5), 1.0);
  for (int64_t h = 0; h < 2; h++)
    for (int64_t i = 0; i < sq; i++)
      for (int64_t j = 0; j < skv; j++)
        if (j % 5 == 0 || (i + j) % 3 == 0 || (h == 1 && i == 4 % sq))
          p.mask[(h * sq + i) * skv + j] = -INFINITY;
  for (int64_t j = 0; j < skv; j += 5)
    for (int64_t d = 0; d < 16; d++) p.k[j * 16 + d] = p.v[j * 16 + d] = NAN;
  run(&p);
  CHECK_EQ(count_nan(p.o, count(&p, 3)), 0);
  CHECK_EQ(count_nan(p.lse, count(&p, 4)), 0);
  int64_t empty = sq + 4 % sq; /* head 1's row 4 % Sq */
  CHECK(p.lse[empty] == -INFINITY);
  for (int d = 0; d < 16; d++) CHECK(p.o[empty * 16 + d] == 0.0f);
  double worst = compare(&p, "-inf mask with softcap");
  printf("  -inf additive mask + softcap, NaN K/V under the mask, Sq=%lld: no leak, empty row zero, "
         "worst error/tolerance %.3f\n", (long long)sq, worst);
  problem_free(&p);
}

/* Causal (bottom-right), q_lens Sq - 2 and kv_lens Skv - 5, Hq 2 sharing one KV head. NaN
 * in Q (head 0, one row), K (one key, one feature) and V (one key, feature 2) are attended by
 * some rows; NaN in the last Q row and in every K and V row past kv_lens are masked. */
static void nan_inputs(int64_t sq, int64_t skv, int kv_splits) {
  enum { D = 16 };
  problem p;
  problem_init(&p, 1, 2, 1, sq, skv, D, 76, 1.0);
  int32_t q_len = (int32_t)sq - 2, kv_len = (int32_t)skv - 5;
  p.q_lens = &q_len;
  p.kv_lens = &kv_len;
  p.desc.causal = 1;
  p.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  p.desc.kv_splits = kv_splits;
  int64_t diag = kv_len - q_len; /* row i attends keys j <= i + diag */
  int64_t q_row = q_len > 3 ? 3 : 0, k_key = diag + q_len / 2, v_key = diag + q_len / 4;
  p.q[q_row * D + 1] = NAN;
  p.k[k_key * D + 7] = NAN;
  p.v[v_key * D + 2] = NAN;
  for (int64_t d = 0; d < D; d++) {
    p.q[(sq - 1) * D + d] = NAN; /* row past q_lens */
    for (int64_t j = kv_len; j < skv; j++) p.k[j * D + d] = p.v[j * D + d] = NAN;
  }
  run(&p);
  size_t rows_nan = 0, lse_nan = 0, feature_only = 0;
  for (int64_t h = 0; h < 2; h++)
    for (int64_t i = 0; i < sq; i++) {
      const float *o = p.o + (h * sq + i) * D;
      size_t n = count_nan(o, D);
      int attends_k = i < q_len && k_key <= i + diag, attends_v = i < q_len && v_key <= i + diag;
      int row = (h == 0 && i == q_row) || attends_k;
      if (row) CHECK_EQ(n, D);
      else if (attends_v) CHECK(n == 1 && isnan(o[2]));
      else CHECK_EQ(n, 0);
      CHECK_EQ(isnan(p.lse[h * sq + i]) != 0, row);
      rows_nan += n == D;
      feature_only += n == 1;
      lse_nan += isnan(p.lse[h * sq + i]) != 0;
    }
  double worst = compare(&p, "NaN inputs");
  printf("  NaN in attended Q/K/V, Sq=%lld: %zu rows NaN, %zu rows NaN in one feature, %zu LSE NaN; "
         "masked NaN never leaks; worst error/tolerance %.3f\n",
         (long long)sq, rows_nan, feature_only, lse_nan, worst);
  problem_free(&p);
}

/* Sq = 0 or Skv = 0: INVALID_ARGUMENT naming it, no event, O untouched. */
static void empty_shapes(void) {
  problem p;
  problem_init(&p, 1, 1, 1, 4, 8, 16, 77, 1.0);
  cl_mem q = buffer_of(p.q, count(&p, 0)), k = buffer_of(p.k, count(&p, 1));
  cl_mem v = buffer_of(p.v, count(&p, 2)), o = buffer_of(NULL, count(&p, 3));
  clattn_tensor tq = clattn_tensor_contiguous(q, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, 4, 16, 0);
  clattn_tensor tk = clattn_tensor_contiguous(k, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, 8, 16, 0);
  clattn_tensor tv = clattn_tensor_contiguous(v, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, 8, 16, 0);
  clattn_tensor to = clattn_tensor_contiguous(o, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, 4, 16, 0);
  const char *fields[2] = {"q_len", "kv_len"};
  for (int f = 0; f < 2; f++) {
    clattn_attention_desc desc = p.desc;
    if (f == 0) desc.q_len = 0;
    else desc.kv_len = 0;
    cl_event event = (cl_event)&desc; /* must stay as it is */
    CHECK_STATUS(env.ctx, clattn_attention_forward(env.ctx, env.queue, &desc, &tq, &tk, &tv, &to,
                                                   NULL, 0, NULL, &event),
                 CLATTN_INVALID_ARGUMENT);
    CHECK_CONTAINS(clattn_last_error(env.ctx), fields[f]);
    CHECK(event == (cl_event)&desc);
    CHECK_STATUS(env.ctx, clattn_attention_weights(env.ctx, env.queue, &desc, &tq, &tk, NULL,
                                                   CLATTN_WEIGHTS_PROBS, &to, 0, NULL, &event),
                 CLATTN_INVALID_ARGUMENT);
    CHECK(event == (cl_event)&desc);
  }
  unsigned char image[4 * 16 * 4 + CANARY];
  attn_read(&env, o, image, sizeof image);
  for (size_t i = 0; i < sizeof image; i++) CHECK_EQ(image[i], CANARY_BYTE);
  cl_mem all[4] = {q, k, v, o};
  for (int i = 0; i < 4; i++) clReleaseMemObject(all[i]);
  problem_free(&p);
  printf("  Sq = 0, Skv = 0: INVALID_ARGUMENT naming the size; no event, nothing written\n");

  /* No key at all, the supported way: kv_lens[b] = 0 (fused and split-KV paths). */
  const int64_t shapes[2][2] = {{5, 9}, {1, 300}};
  for (int s = 0; s < 2; s++) {
    problem e;
    problem_init(&e, 2, 2, 1, shapes[s][0], shapes[s][1], 16, 78, 1.0);
    int32_t lens[2] = {0, (int32_t)shapes[s][1]};
    e.kv_lens = lens;
    e.desc.kv_splits = s == 1 ? 4 : 0;
    run(&e);
    size_t half = count(&e, 3) / 2;
    for (size_t i = 0; i < half; i++) CHECK(e.o[i] == 0.0f);
    for (size_t i = 0; i < count(&e, 4) / 2; i++) CHECK(e.lse[i] == -INFINITY);
    compare(&e, "kv_lens 0");
    problem_free(&e);
  }
  printf("  kv_lens[b] = 0: zeros and LSE -inf for batch b (fused and split-KV)\n");
}

int main(void) {
  attn_env_init(&env);
  printf("saturation:\n");
  saturation(6, 37, 0, 0.0f);
  saturation(6, 37, 0, 1e4f);
  saturation(1, 301, 4, 0.0f);
  printf("large inputs:\n");
  huge_values(33, 0);
  huge_values(1, 3);
  printf("storage overflow:\n");
  store_overflow(CLATTN_F16);
  store_overflow(CLATTN_BF16);
  value_sum_range();
  printf("masks and softcap:\n");
  masked_softcap(21, 33, 0);
  masked_softcap(2, 260, 4);
  printf("NaN inputs:\n");
  nan_inputs(24, 40, 0);
  nan_inputs(4, 300, 4);
  printf("empty shapes:\n");
  empty_shapes();
  attn_env_destroy(&env);
  return check_done("test_numeric_hazards");
}
