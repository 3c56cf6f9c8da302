/* Sampling has the right distribution: with a fixed seed, 100000 draws per query row, the
 * index frequencies of every row match alpha, the softmax weights of the double-precision
 * reference (tests/ref, with V the identity so that O is alpha itself), by a chi-square test
 * with p > 1e-3 (p from the regularized upper incomplete gamma function, itself checked
 * against tabulated critical values); keys with alpha = 0 are never drawn; and the mean of
 * the sampled outputs is within 5 standard errors of the soft output O of the reference.
 *
 * A negative control shows the test can fail: the same counts against the weights of a 10%
 * larger scale are rejected (p < 1e-3) on every row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hard_support.h"

#define DRAWS 100000
#define P_MIN 1e-3

static attn_env env;

static void test_pvalue_function(void) {
  /* Upper-tail critical values of the chi-square distribution (standard tables). */
  CHECK_NEAR(hd_chi2_pvalue(3.841459, 1), 0.05, 1e-6);
  CHECK_NEAR(hd_chi2_pvalue(18.307038, 10), 0.05, 1e-6);
  CHECK_NEAR(hd_chi2_pvalue(45.314746, 20), 0.001, 1e-7);
  CHECK_NEAR(hd_chi2_pvalue(7.814728, 3), 0.05, 1e-6);
  CHECK_NEAR(hd_chi2_pvalue(0.0, 5), 1.0, 0.0);
  CHECK(hd_chi2_pvalue(200.0, 20) < 1e-20);
}

/* alpha (B, Hq, Sq, Skv) of the case from the reference, for a given scale factor. */
static double *reference_alpha(const hd_case *c, const hd_data *data, double scale_factor) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t S = d->kv_len, heads = d->batch * d->kv_heads;
  float *identity = calloc((size_t)(heads * S * S), sizeof(float));
  double *alpha = malloc((size_t)(d->batch * d->q_heads * d->q_len * S) * sizeof(double));
  CHECK(identity && alpha);
  for (int64_t g = 0; g < heads; g++)
    for (int64_t j = 0; j < S; j++) identity[(g * S + j) * S + j] = 1.0f;
  ref_attention p;
  hd_ref(c, data, &p);
  const double scale = d->scale != 0.0f ? d->scale : 1.0 / sqrt((double)d->head_dim);
  p.scale = scale * scale_factor;
  p.v_head_dim = S;
  p.v = identity;
  CHECK_EQ(ref_attention_forward(&p, alpha, NULL), 0);
  free(identity);
  return alpha;
}

/* Chi-square p-value of counts against probabilities; bins expecting fewer than 5 draws
 * are pooled. Keys with probability 0 must have count 0 (checked by the caller). */
static double chi2_p(const int64_t *count, const double *prob, int64_t n, int64_t total, int *dof) {
  double x2 = 0.0, pooled_e = 0.0, pooled_o = 0.0;
  int bins = 0;
  for (int64_t j = 0; j < n; j++) {
    if (prob[j] <= 0.0) continue;
    double e = prob[j] * (double)total;
    if (e < 5.0) {
      pooled_e += e;
      pooled_o += (double)count[j];
      continue;
    }
    x2 += ((double)count[j] - e) * ((double)count[j] - e) / e;
    bins++;
  }
  if (pooled_e >= 1.0) {
    x2 += (pooled_o - pooled_e) * (pooled_o - pooled_e) / pooled_e;
    bins++;
  }
  *dof = bins - 1;
  return bins > 1 ? hd_chi2_pvalue(x2, bins - 1) : 1.0;
}

static void check_distribution(const hd_case *c) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t S = d->kv_len, Dv = d->v_head_dim, draws = c->hard.draws;
  hd_data data;
  hd_result r;
  hd_data_make(c, &data);
  hd_run(&env, c, &data, 0, &r);
  double *alpha = reference_alpha(c, &data, 1.0), *wrong = reference_alpha(c, &data, 1.10);
  double *soft = malloc((size_t)(d->batch * d->q_heads * d->q_len * Dv) * sizeof(double));
  int64_t *count = malloc((size_t)S * sizeof(int64_t));
  CHECK(soft && count);
  ref_attention p;
  hd_ref(c, &data, &p);
  CHECK_EQ(ref_attention_forward(&p, soft, NULL), 0);

  double p_min = 1.0, p_wrong_max = 0.0, worst_se = 0.0;
  for (int64_t row = 0; row < d->batch * d->q_heads * d->q_len; row++) {
    const int64_t b = row / (d->q_heads * d->q_len), h = row / d->q_len % d->q_heads;
    const double *a = alpha + row * S;
    memset(count, 0, (size_t)S * sizeof(int64_t));
    int64_t outside = 0; /* every row has keys: no -1, nothing out of range */
    for (int64_t k = 0; k < draws; k++) {
      int32_t index = r.indices[row * draws + k];
      if (index >= 0 && index < S) count[index]++;
      else outside++;
    }
    CHECK_EQ(outside, 0);
    for (int64_t j = 0; j < S; j++)
      if (a[j] == 0.0 && count[j] != 0)
        check_fail(__FILE__, __LINE__, "%s row %lld: masked key %lld drawn %lld times", c->name,
                   (long long)row, (long long)j, (long long)count[j]);
    int dof = 0, dof_wrong = 0;
    double pv = chi2_p(count, a, S, draws, &dof);
    double pw = chi2_p(count, wrong + row * S, S, draws, &dof_wrong);
    if (pv < P_MIN || pw >= P_MIN)
      check_fail(__FILE__, __LINE__, "%s row %lld: p = %.3g (%d dof), negative control p = %.3g",
                 c->name, (long long)row, pv, dof, pw);
    check_pass();
    p_min = fmin(p_min, pv);
    p_wrong_max = fmax(p_wrong_max, pw);

    /* The sampled outputs average to the soft output. */
    const int64_t hk = h / (d->q_heads / d->kv_heads);
    for (int64_t e = 0; e < Dv; e++) {
      double sum = 0.0, second = 0.0;
      for (int64_t k = 0; k < draws; k++) sum += r.o[(row * draws + k) * Dv + e];
      for (int64_t j = 0; j < S; j++) {
        double x = data.v[((b * d->kv_heads + hk) * S + j) * Dv + e];
        second += a[j] * x * x;
      }
      const double mean = soft[row * Dv + e], se = sqrt(fmax(second - mean * mean, 0.0) / draws);
      const double z = fabs(sum / draws - mean) / (se + 1e-12);
      worst_se = fmax(worst_se, z);
      if (z > 5.0)
        check_fail(__FILE__, __LINE__, "%s row %lld feature %lld: sampled mean %.6f, soft %.6f, "
                   "%.1f standard errors apart", c->name, (long long)row, (long long)e,
                   sum / draws, mean, z);
    }
    check_pass();
  }
  printf("%-32s %lld rows x %d draws: chi-square p >= %.3g (negative control p <= %.3g), "
         "means within %.2f standard errors\n",
         c->name, (long long)(d->batch * d->q_heads * d->q_len), DRAWS, p_min, p_wrong_max,
         worst_se);
  free(count);
  free(soft);
  free(alpha);
  free(wrong);
  hd_result_free(&r);
  hd_data_free(&data);
}

static void test_causal_alibi(void) {
  static const float slopes[2] = {0.05f, 0.02f};
  hd_case c;
  hd_case_init(&c, "causal bottom-right + alibi", 1, 2, 1, 3, 23, 16, 6);
  c.hard.draws = DRAWS;
  c.hard.seed = 20150210; /* Xu et al.'s arXiv date */
  c.hard.offset = 17;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.alibi = slopes;
  c.o_gap = 1;
  c.with_indices = 1;
  check_distribution(&c);
}

static void test_softcap_additive(void) {
  enum { B = 1, H = 2, SQ = 2, SKV = 19 };
  static float mask[B * H * SQ * SKV];
  ref_rng rng;
  ref_rng_seed(&rng, 3);
  for (size_t i = 0; i < sizeof mask / sizeof mask[0]; i++)
    mask[i] = ref_rng_uniform(&rng) < 0.1 ? -INFINITY : (float)(ref_rng_uniform(&rng) - 0.5);
  hd_case c;
  hd_case_init(&c, "softcap + window + additive mask", B, H, H, SQ, SKV, 8, 5);
  c.hard.draws = DRAWS;
  c.hard.seed = 0xdeadbeefcafef00dull;
  c.desc.softcap = 2.0f;
  c.desc.window_left = 14;
  c.mask_type = CLATTN_MASK_ADDITIVE;
  c.mask = mask;
  c.sigma = 1.3;
  check_distribution(&c);
}

int main(void) {
  attn_env_init(&env);
  test_pvalue_function();
  test_causal_alibi();
  test_softcap_additive();
  attn_env_destroy(&env);
  return check_done("test_hard_stats");
}
