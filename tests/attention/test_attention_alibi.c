/* ALiBi (desc.alibi_slopes): clattn_alibi_slopes against the paper's formula, computed here
 * independently as the paper's code (and Hugging Face's get_slopes) does it, for power-of-two
 * and other head counts, and its argument errors; and the fused kernel with the bias
 * -slopes[h] * |i' - j| against the double-precision reference, under CPU-style and GPU-style
 * configurations: both alignments with Sq != Skv both ways (the bias follows the alignment
 * even without a causal mask), causal, windows, per-batch q_lens / kv_lens (the aligned
 * position is per batch; poison beyond the lengths), softcap and additive masks (scores in
 * natural units), GQA, f16 storage, and slopes that are not the paper's (0, large, negative).
 * The decode path, the KV cache and the weights modes are tested with their own areas. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

static const clattn__attention_config *const configs[] = {&ATTN_CPU, &ATTN_GPU, &ATTN_GPU2,
                                                          &ATTN_VEC1, &ATTN_DIRECT};
#define NCONFIGS (sizeof configs / sizeof configs[0])

/* ---- clattn_alibi_slopes ----------------------------------------------------------------- */

/* The paper's get_slopes, written the way its code is: a geometric sequence starting at
 * 2^(-2^-(log2(n) - 3)) with that same ratio for n a power of two; otherwise the sequence of
 * the closest power of two below n, then every other slope (0, 2, 4, ...) of twice that. */
static void paper_slopes_pow2(int n, double *out) {
  const double start = pow(2.0, -pow(2.0, -(log2((double)n) - 3.0)));
  double x = start;
  for (int i = 0; i < n; i++, x *= start) out[i] = x;
}

static void paper_slopes(int n, double *out) {
  double l = log2((double)n);
  if (l == floor(l)) {
    paper_slopes_pow2(n, out);
    return;
  }
  int closest = 1 << (int)floor(l);
  paper_slopes_pow2(closest, out);
  double *twice = malloc((size_t)(2 * closest) * sizeof *twice);
  CHECK(twice != NULL);
  paper_slopes(2 * closest, twice);
  for (int i = 0; i < n - closest; i++) out[closest + i] = twice[2 * i];
  free(twice);
}

/* |a - b| within one float ulp of b. */
static void check_slope(int heads, int h, float got, double want) {
  double ulp = ldexp(1.0, ilogb(want) - 23);
  if (!(fabs((double)got - want) <= ulp))
    check_fail(__FILE__, __LINE__, "clattn_alibi_slopes(%d)[%d] = %.9g, the paper's formula %.12g",
               heads, h, (double)got, want);
  check_pass();
}

static void slopes(void) {
  printf("clattn_alibi_slopes:\n");
  float got[65]; /* 64 heads and the entry after them */
  /* 8 heads: exactly 2^-1 .. 2^-8. */
  CHECK_OK(NULL, clattn_alibi_slopes(8, got));
  for (int h = 0; h < 8; h++) CHECK(got[h] == ldexpf(1.0f, -(h + 1)));
  /* 12 heads: 2^-1 .. 2^-8, then 2^-0.5, 2^-1.5, 2^-2.5, 2^-3.5. */
  double want[64];
  CHECK_OK(NULL, clattn_alibi_slopes(12, got));
  paper_slopes(12, want);
  for (int h = 0; h < 12; h++) check_slope(12, h, got[h], want[h]);
  CHECK(got[8] == (float)sqrt(0.5) && got[11] == (float)pow(2.0, -3.5));
  /* Other counts, powers of two and not. */
  static const int counts[] = {1, 2, 3, 5, 6, 7, 16, 20, 24, 32, 40, 48, 64};
  for (size_t n = 0; n < sizeof counts / sizeof counts[0]; n++) {
    const int heads = counts[n];
    got[heads] = 12345.0f;
    CHECK_OK(NULL, clattn_alibi_slopes(heads, got));
    CHECK(got[heads] == 12345.0f); /* nothing past `heads` */
    paper_slopes(heads, want);
    for (int h = 0; h < heads; h++) check_slope(heads, h, got[h], want[h]);
  }
  /* Errors: nothing written, a message naming the argument. */
  got[0] = 7.0f;
  CHECK_STATUS(NULL, clattn_alibi_slopes(0, got), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "heads");
  CHECK_STATUS(NULL, clattn_alibi_slopes(-3, got), CLATTN_INVALID_ARGUMENT);
  CHECK(got[0] == 7.0f);
  CHECK_STATUS(NULL, clattn_alibi_slopes(4, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "out");
  printf("  ok\n");
}

/* ---- the fused kernel -------------------------------------------------------------------- */

/* Runs a case under the CPU and GPU configurations (all of them when `all`); the non-finite
 * and empty counts must agree. */
static void run_configs(attn_env *env, attn_case *c, int all) {
  attn_report first;
  memset(&first, 0, sizeof first);
  for (size_t i = 0; i < (all ? NCONFIGS : 2); i++) {
    c->config = configs[i];
    attn_report r = attn_run(env, c);
    if (i == 0) first = r;
    CHECK_EQ(r.nan_o, first.nan_o);
    CHECK_EQ(r.empty_rows, first.empty_rows);
  }
}

/* K and V rows at keys >= kv_lens[b] and Q rows >= q_lens[b] become NaN / inf / 1e30. */
static void poke_beyond_lengths(const attn_case *c, float *q, float *k, float *v) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t D = d->head_dim, Dv = d->v_head_dim ? d->v_head_dim : D;
  static const float poison[3] = {NAN, INFINITY, 1e30f};
  for (int64_t b = 0; b < d->batch; b++) {
    for (int64_t j = c->kv_lens ? c->kv_lens[b] : d->kv_len; j < d->kv_len; j++)
      for (int64_t hk = 0; hk < d->kv_heads; hk++) {
        for (int64_t e = 0; e < D; e++) k[((b * d->kv_heads + hk) * d->kv_len + j) * D + e] = poison[(j + e) % 3];
        for (int64_t e = 0; e < Dv; e++) v[((b * d->kv_heads + hk) * d->kv_len + j) * Dv + e] = poison[(j + e + 1) % 3];
      }
    for (int64_t i = c->q_lens ? c->q_lens[b] : d->q_len; i < d->q_len; i++)
      for (int64_t h = 0; h < d->q_heads; h++)
        for (int64_t e = 0; e < D; e++) q[((b * d->q_heads + h) * d->q_len + i) * D + e] = poison[(i + e) % 3];
  }
}

static void fused(attn_env *env) {
  static float paper2[2], paper4[4], paper8[8];
  CHECK_OK(NULL, clattn_alibi_slopes(2, paper2));
  CHECK_OK(NULL, clattn_alibi_slopes(4, paper4));
  CHECK_OK(NULL, clattn_alibi_slopes(8, paper8));
  /* Not the paper's: no bias on one head, a steep one, a negative one (the bias grows). */
  static const float custom[4] = {0.0f, 0.7f, -0.01f, 0.05f};

  printf("alignment and causal, Sq != Skv both ways:\n");
  static const int64_t lens[2][2] = {{113, 203}, {203, 113}};
  static char names[32][96];
  int n = 0;
  for (int w = 0; w < 2; w++)
    for (int align = 0; align < 2; align++)
      for (int causal = 0; causal < 2; causal++) {
        attn_case c;
        snprintf(names[n], sizeof names[n], "alibi%s %s Sq%lld Skv%lld", causal ? " causal" : "",
                 align ? "bottom-right" : "top-left", (long long)lens[w][0], (long long)lens[w][1]);
        attn_case_init(&c, names[n++], 2, 2, 2, lens[w][0], lens[w][1], 64, 64);
        c.desc.causal = causal;
        c.desc.alignment = align ? CLATTN_ALIGN_BOTTOM_RIGHT : CLATTN_ALIGN_TOP_LEFT;
        c.alibi = paper2;
        run_configs(env, &c, w == 0 && causal);
      }

  printf("lengths, windows, softcap, masks, GQA, slopes:\n");
  {
    attn_case c;
    static const int32_t kv[3] = {203, 77, 0}, q[3] = {50, 113, 1};
    attn_case_init(&c, "alibi q_lens kv_lens bottom-right", 3, 4, 2, 113, 203, 64, 64);
    c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    c.kv_lens = kv;
    c.q_lens = q;
    c.poke = poke_beyond_lengths;
    c.alibi = paper4;
    run_configs(env, &c, 1);
    attn_case_init(&c, "alibi q_lens kv_lens causal bottom-right", 3, 4, 2, 113, 203, 64, 64);
    c.desc.causal = 1;
    c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    c.kv_lens = kv;
    c.q_lens = q;
    c.poke = poke_beyond_lengths;
    c.alibi = paper4;
    run_configs(env, &c, 0);
    static const int32_t kv2[2] = {100, 203}, q2[2] = {113, 30};
    attn_case_init(&c, "alibi q_lens kv_lens causal top-left", 2, 4, 4, 113, 203, 59, 37);
    c.desc.causal = 1;
    c.kv_lens = kv2;
    c.q_lens = q2;
    c.poke = poke_beyond_lengths;
    c.alibi = custom;
    run_configs(env, &c, 0);
    attn_case_init(&c, "alibi window 30/7 bottom-right", 2, 2, 1, 203, 113, 64, 64);
    c.desc.window_left = 30;
    c.desc.window_right = 7;
    c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    c.alibi = paper2;
    run_configs(env, &c, 0);
    attn_case_init(&c, "alibi softcap 2 scale 1 (bias after the cap)", 2, 2, 2, 113, 203, 64, 64);
    c.desc.scale = 1.0f;
    c.desc.softcap = 2.0f;
    c.alibi = paper2;
    run_configs(env, &c, 1);
    attn_case_init(&c, "alibi GQA 8/2 causal, 8 paper slopes", 1, 8, 2, 113, 203, 64, 64);
    c.desc.causal = 1;
    c.alibi = paper8;
    run_configs(env, &c, 0);
    attn_case_init(&c, "alibi slopes 0, 0.7, -0.01, 0.05", 2, 4, 2, 203, 113, 40, 40);
    c.alibi = custom;
    run_configs(env, &c, 1);
    attn_case_init(&c, "alibi Sq1 Skv100 one-pass kernel", 2, 4, 1, 1, 100, 64, 64);
    c.desc.kv_splits = 1;
    c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    c.alibi = paper4;
    run_configs(env, &c, 0);
    attn_case_init(&c, "alibi f16 Q/K/V, bf16 O, causal bottom-right", 2, 2, 2, 113, 203, 64, 64);
    c.q_type = c.k_type = c.v_type = CLATTN_F16;
    c.o_type = CLATTN_BF16;
    c.desc.causal = 1;
    c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    c.alibi = paper2;
    run_configs(env, &c, 0);
    attn_case_init(&c, "alibi causal Sq1023 Skv1024", 1, 4, 4, 1023, 1024, 64, 64);
    c.desc.causal = 1;
    c.alibi = paper4;
    c.no_repeat = 1;
    run_configs(env, &c, 0);
  }

  printf("with an additive mask (added after the bias):\n");
  {
    const int64_t B = 2, H = 2, Sq = 113, Skv = 203;
    float *mask = malloc((size_t)(B * H * Sq * Skv) * sizeof *mask);
    CHECK(mask != NULL);
    ref_rng rng;
    ref_rng_seed(&rng, 0xa11b1);
    for (int64_t x = 0; x < B * H * Sq * Skv; x++) {
      mask[x] = (float)ref_rng_normal(&rng);
      if (ref_rng_uniform(&rng) < 0.2) mask[x] = -INFINITY;
    }
    attn_case c;
    attn_case_init(&c, "alibi + additive mask, bottom-right", B, H, H, Sq, Skv, 64, 64);
    c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    c.mask_type = CLATTN_MASK_ADDITIVE;
    c.mask = mask;
    c.mask_bytes = (size_t)(B * H * Sq * Skv) * sizeof *mask;
    c.mask_stride_batch = H * Sq * Skv;
    c.mask_stride_head = Sq * Skv;
    c.mask_stride_query = Skv;
    c.alibi = paper2;
    run_configs(env, &c, 1);
    free(mask);
  }
}

int main(void) {
  slopes();
  attn_env env;
  attn_env_init(&env);
  fused(&env);
  attn_env_destroy(&env);
  return check_done("test_attention_alibi");
}
