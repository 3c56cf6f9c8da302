/* Local-m (p_t = t aligned) against the double-precision reference: windows cut by both
 * sequence edges, D in {0, 1, 3, 20 > S}, the Gaussian on and off, GQA, Sq != Skv both ways
 * with either alignment, causal, per-batch lengths, mask tensors, ALiBi and softcap combined
 * with the window, K/V in f16 storage, BSHD views; keys no query attends hold 1e30 / NaN
 * poison. And the weights are the window softmax times the Gaussian, not renormalised. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "local_harness.h"

static attn_env env;

/* Small head dimensions shared by every case (one kernel variant): D = 16, Dv = 12. */
enum { HD = 16, HV = 12 };

static void windows(void) {
  const int64_t widths[] = {0, 1, 3};
  for (int g = 0; g <= 1; g++)
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
      char name[64];
      snprintf(name, sizeof name, "GQA 4/2, S 37, D %lld, gaussian %d", (long long)widths[i], g);
      lt_case c;
      lt_case_init(&c, name, 2, 4, 2, 37, 37, HD, HV);
      c.window = widths[i];
      c.gaussian = g;
      lt_report r = lt_run(&env, &c);
      CHECK(r.edge_low > 0 || widths[i] == 0);
      CHECK(r.edge_high > 0 || widths[i] == 0);
      CHECK(r.poisoned_keys == 0); /* every key is some row's */
      CHECK_EQ(r.empty_rows, 0);
    }
  /* A window wider than the sequence: every row sees every key, each weighted by its
   * Gaussian. */
  lt_case c;
  lt_case_init(&c, "D 20 > S 13", 1, 2, 1, 13, 13, HD, HV);
  c.window = 20;
  lt_report r = lt_run(&env, &c);
  CHECK_EQ(r.edge_low, 13 * 2);
  CHECK_EQ(r.edge_high, 13 * 2);
}

static void alignments(void) {
  lt_case c;
  /* Fewer queries than keys, bottom-right: t' = t + 18; keys 0 .. 14 are nobody's. */
  lt_case_init(&c, "Sq 11 < Skv 29, bottom-right, causal", 2, 2, 1, 11, 29, HD, HV);
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.desc.causal = 1;
  lt_report r = lt_run(&env, &c);
  CHECK(r.poisoned_keys >= 2 * 15);
  CHECK(r.edge_high > 0);
  /* More queries than keys, top-left: rows past Skv - 1 + D see nothing. */
  lt_case_init(&c, "Sq 29 > Skv 11, top-left", 1, 2, 2, 29, 11, HD, HV);
  r = lt_run(&env, &c);
  CHECK_EQ(r.empty_rows, 2 * (29 - 14));
  lt_case_init(&c, "Sq 29 > Skv 11, top-left, causal, window_left 1", 1, 2, 2, 29, 11, HD, HV);
  c.desc.causal = 1;
  c.desc.window_left = 1;
  c.window = 2;
  lt_run(&env, &c);
}

static void lengths(void) {
  static const int32_t kv_lens[3] = {29, 17, 0}, q_lens[3] = {11, 6, 11};
  lt_case c;
  lt_case_init(&c, "kv_lens 29/17/0, q_lens 11/6/11, bottom-right", 3, 4, 2, 11, 29, HD, HV);
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.kv_lens = kv_lens;
  c.q_lens = q_lens;
  c.window = 4;
  lt_report r = lt_run(&env, &c);
  CHECK(r.empty_rows >= 4 * (5 + 11)); /* rows past q_lens and the empty batch */
  lt_case_init(&c, "kv_lens, causal, gaussian off", 3, 4, 2, 11, 29, HD, HV);
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.desc.causal = 1;
  c.kv_lens = kv_lens;
  c.q_lens = q_lens;
  c.gaussian = 0;
  lt_run(&env, &c);
}

static void masks(void) {
  enum { B = 2, H = 2, S = 19 };
  static uint8_t bool_mask[B * H * S * S];
  static float additive[B * H * S * S];
  ref_rng rng;
  ref_rng_seed(&rng, 77);
  for (size_t i = 0; i < sizeof bool_mask; i++) bool_mask[i] = ref_rng_uniform(&rng) < 0.75;
  for (size_t i = 0; i < sizeof additive / sizeof additive[0]; i++) {
    double u = ref_rng_uniform(&rng);
    additive[i] = u < 0.25 ? -INFINITY : u < 0.3 ? -1e30f : (float)ref_rng_normal(&rng);
  }
  /* Keys that every row of batch 0 masks: no query attends them, so they hold poison. */
  for (int i = 0; i < H * S; i++) {
    bool_mask[i * S + 5] = bool_mask[i * S + 11] = 0;
    additive[i * S + 7] = additive[i * S + 8] = -INFINITY;
  }
  float slopes[H];
  CHECK_OK(NULL, clattn_alibi_slopes(H, slopes));
  lt_case c;
  lt_case_init(&c, "bool mask, ALiBi, softcap 4", B, H, 1, S, S, HD, HV);
  c.mask_type = CLATTN_MASK_BOOL;
  c.mask = bool_mask;
  c.alibi = slopes;
  c.desc.softcap = 4.0f;
  c.window = 5;
  CHECK(lt_run(&env, &c).poisoned_keys >= 2);
  lt_case_init(&c, "additive mask (-inf, -1e30), scale 0.3", B, H, 1, S, S, HD, HV);
  c.mask_type = CLATTN_MASK_ADDITIVE;
  c.mask = additive;
  c.desc.scale = 0.3f;
  c.window = 2;
  CHECK(lt_run(&env, &c).poisoned_keys >= 2);
}

static void views_and_types(void) {
  lt_case c;
  lt_case_init(&c, "BSHD views, no LSE", 2, 4, 2, 23, 23, HD, HV);
  c.layout = LT_BSHD;
  c.no_lse = 1;
  lt_run(&env, &c);
  lt_case_init(&c, "K, V in f16", 1, 2, 1, 21, 21, HD, HV);
  c.kv_type = CLATTN_F16;
  lt_run(&env, &c);
}

/* Q = 0 gives every key of the window the same score; with V = 1 the output is the mean
 * Gaussian factor of the window, (1/n) sum_s exp(-(s - t)^2 / (2 sigma^2)), well below 1:
 * the weights are not renormalised after the Gaussian. Without it the output is 1. */
static void zero_q_one_v(const lt_case *c, float *q, float *k, float *v) {
  const clattn_attention_desc *d = &c->desc;
  (void)k;
  memset(q, 0, (size_t)(d->batch * d->q_heads * d->q_len * d->head_dim) * sizeof *q);
  for (int64_t i = 0; i < d->batch * d->kv_heads * d->kv_len * d->v_head_dim; i++) v[i] = 1.0f;
}

static void not_renormalised(void) {
  enum { S = 17, D = 3 };
  float *o = calloc((size_t)S * HV, sizeof *o);
  CHECK(o != NULL);
  lt_case c;
  lt_case_init(&c, "Q = 0, V = 1, gaussian: mean factor", 1, 1, 1, S, S, HD, HV);
  c.window = D;
  c.poke = zero_q_one_v;
  c.o_out = o;
  lt_run(&env, &c);
  double sum = 0.0;
  for (int d = -D; d <= D; d++) sum += exp(-(double)(d * d) / (2.0 * (D / 2.0) * (D / 2.0)));
  const double interior = sum / (2 * D + 1); /* 0.5277 */
  CHECK(interior < 0.6);
  for (int t = D; t < S - D; t++)
    for (int f = 0; f < HV; f++) CHECK_NEAR(o[t * HV + f], interior, 1e-6);
  double edge = 0.0; /* row 0: keys 0 .. D */
  for (int d = 0; d <= D; d++) edge += exp(-(double)(d * d) / (2.0 * (D / 2.0) * (D / 2.0)));
  CHECK_NEAR(o[0], edge / (D + 1), 1e-6);
  c.name = "Q = 0, V = 1, no gaussian: 1";
  c.gaussian = 0;
  lt_run(&env, &c);
  for (int i = 0; i < S * HV; i++) CHECK_NEAR(o[i], 1.0, 1e-6);
  free(o);
}

int main(void) {
  attn_env_init(&env);
  windows();
  alignments();
  lengths();
  masks();
  views_and_types();
  not_renormalised();
  attn_env_destroy(&env);
  return check_done("test_local_m");
}
