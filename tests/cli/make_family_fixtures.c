/*
 * Writes the .npy files of the 'clattn run --score/--local/--hard' tests: small random
 * inputs (Q with q_dim features for the projected scores, Q with K's D for the others), the
 * weight matrices, local-p's positions, deliberately mis-shaped files, and the expected
 * outputs, each computed here in double precision straight from the formulas in clattn.h.
 *
 *   make_family_fixtures DIR
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

/* Grouped-query heads, Sq != Skv, q_dim != D, Dv != D. */
enum { B = 2, HQ = 4, HKV = 2, SQ = 7, SKV = 9, QD = 6, D = 5, DV = 3, A = 4, PD = 3 };
enum { LOCAL_WINDOW = 2 };
#define NROWS (B * HQ * SQ)

static const char *out_dir;
static float fq[NROWS * QD], fq5[NROWS * D], fk[B * HKV * SKV * D], fv[B * HKV * SKV * DV];
static float w[QD * D], w_eye[D * D], w1[A * QD], w2[A * D], va[A], wa[SKV * QD];
static float wp[PD * D], vp[PD], pos[NROWS];

static void die(const char *what) {
  fprintf(stderr, "make_family_fixtures: %s\n", what);
  exit(1);
}

static void save(const char *name, clattn_npy_dtype dtype, int rank, const int64_t *shape,
                 const void *data) {
  char path[4096], error[1024];
  snprintf(path, sizeof path, "%s/%s", out_dir, name);
  if (clattn_npy_write(path, dtype, rank, shape, data, error, sizeof error) != 0) die(error);
}

static uint64_t rng_state = 777u;

static double uniform(void) {
  uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  z ^= z >> 31;
  return ((double)(z >> 11) + 0.5) * 0x1p-53;
}

static float normal(void) {
  return (float)(sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()));
}

static void fill(float *x, int n, double scale) {
  for (int i = 0; i < n; ++i) x[i] = (float)(scale * normal());
}

/* Row (b, h, i)'s query with `dim` features, and its group's key j and value rows. */
static const float *q_row(const float *q, int dim, int b, int h, int i) {
  return q + (((size_t)b * HQ + h) * SQ + i) * dim;
}
static const float *k_row(int b, int h, int j) {
  return fk + (((size_t)b * HKV + h / (HQ / HKV)) * SKV + j) * D;
}
static const float *v_row(int b, int h, int j) {
  return fv + (((size_t)b * HKV + h / (HQ / HKV)) * SKV + j) * DV;
}

/* The softmax of the scores (-inf: not attended) times `factor` (NULL: 1), summed over V. */
static void softmax_row(const double *s, const double *factor, int b, int h, double *out,
                        double *lse) {
  double max = -INFINITY, sum = 0.0;
  for (int j = 0; j < SKV; ++j) max = s[j] > max ? s[j] : max;
  for (int d = 0; d < DV; ++d) out[d] = 0.0;
  if (max == -INFINITY) {
    *lse = -INFINITY;
    return;
  }
  for (int j = 0; j < SKV; ++j) sum += s[j] == -INFINITY ? 0.0 : exp(s[j] - max);
  for (int j = 0; j < SKV; ++j) {
    if (s[j] == -INFINITY) continue;
    double a = exp(s[j] - max) / sum * (factor != NULL ? factor[j] : 1.0);
    for (int d = 0; d < DV; ++d) out[d] += a * v_row(b, h, j)[d];
  }
  *lse = max + log(sum);
}

/* What one configuration computes: the scores of row (b, h, i), and optionally a window
 * factor per key (local attention). */
typedef void (*score_fn)(int b, int h, int i, double *s, double *factor);

/* Writes NAME.npy (B, Hq, Sq, Dv) and NAME_lse.npy (B, Hq, Sq). */
static void expect(const char *name, score_fn scores) {
  static float o[NROWS * DV], l[NROWS];
  double s[SKV], factor[SKV], row[DV], lse;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < HQ; ++h)
      for (int i = 0; i < SQ; ++i) {
        int at = (b * HQ + h) * SQ + i, windowed = 0;
        for (int j = 0; j < SKV; ++j) factor[j] = -1.0;
        scores(b, h, i, s, factor);
        windowed = factor[0] >= 0.0;
        softmax_row(s, windowed ? factor : NULL, b, h, row, &lse);
        for (int d = 0; d < DV; ++d) o[at * DV + d] = (float)row[d];
        l[at] = (float)lse;
      }
  const int64_t shape[4] = {B, HQ, SQ, DV};
  char file[256];
  snprintf(file, sizeof file, "%s.npy", name);
  save(file, CLATTN_NPY_F32, 4, shape, o);
  snprintf(file, sizeof file, "%s_lse.npy", name);
  save(file, CLATTN_NPY_F32, 3, shape, l);
}

static double dot_qk(int b, int h, int i, int j) {
  double x = 0.0;
  for (int d = 0; d < D; ++d) x += (double)q_row(fq5, D, b, h, i)[d] * k_row(b, h, j)[d];
  return x;
}

static void score_scaled(int b, int h, int i, double *s, double *f) {
  (void)f;
  for (int j = 0; j < SKV; ++j) s[j] = dot_qk(b, h, i, j) / sqrt((double)D);
}

static void score_dot(int b, int h, int i, double *s, double *f) {
  (void)f;
  for (int j = 0; j < SKV; ++j) s[j] = dot_qk(b, h, i, j);
}

/* scale * q^T W k with the library's default scale 1/sqrt(D). */
static void score_general(int b, int h, int i, double *s, double *f) {
  (void)f;
  const float *q = q_row(fq, QD, b, h, i);
  for (int j = 0; j < SKV; ++j) {
    double x = 0.0;
    for (int a = 0; a < QD; ++a)
      for (int d = 0; d < D; ++d) x += (double)q[a] * w[a * D + d] * k_row(b, h, j)[d];
    s[j] = x / sqrt((double)D);
  }
}

/* v^T tanh(W1 q + W2 k), scale 1. */
static void score_additive(int b, int h, int i, double *s, double *f) {
  (void)f;
  const float *q = q_row(fq, QD, b, h, i);
  for (int j = 0; j < SKV; ++j) {
    double e = 0.0;
    for (int a = 0; a < A; ++a) {
      double x = 0.0;
      for (int c = 0; c < QD; ++c) x += (double)w1[a * QD + c] * q[c];
      for (int d = 0; d < D; ++d) x += (double)w2[a * D + d] * k_row(b, h, j)[d];
      e += va[a] * tanh(x);
    }
    s[j] = e;
  }
}

/* (W_a q)_j, scale 1: no keys. */
static void score_location(int b, int h, int i, double *s, double *f) {
  (void)f;
  const float *q = q_row(fq, QD, b, h, i);
  for (int j = 0; j < SKV; ++j) {
    double x = 0.0;
    for (int c = 0; c < QD; ++c) x += (double)wa[j * QD + c] * q[c];
    s[j] = x;
  }
}

/* Local attention around p: keys ceil(p - D) .. floor(p + D) within 0 .. Skv-1, scaled-dot
 * scores, and (gaussian) the factor exp(-(s - p)^2 / (2 sigma^2)), sigma = D / 2. */
static void local_window(int b, int h, int i, double p, int gaussian, double *s, double *f) {
  double sigma = LOCAL_WINDOW / 2.0;
  for (int j = 0; j < SKV; ++j) {
    int inside = fabs((double)j - p) <= LOCAL_WINDOW;
    s[j] = inside ? dot_qk(b, h, i, j) / sqrt((double)D) : -INFINITY;
    f[j] = gaussian ? exp(-((double)j - p) * ((double)j - p) / (2.0 * sigma * sigma)) : 1.0;
  }
}

static void score_local_m(int b, int h, int i, double *s, double *f) {
  local_window(b, h, i, (double)i, 1, s, f);
}

static void score_local_m_plain(int b, int h, int i, double *s, double *f) {
  local_window(b, h, i, (double)i, 0, s, f);
}

static void score_local_p_positions(int b, int h, int i, double *s, double *f) {
  local_window(b, h, i, pos[(b * HQ + h) * SQ + i], 1, s, f);
}

/* p_t = Skv * sigmoid(vp^T tanh(Wp q)). */
static void score_local_p_weights(int b, int h, int i, double *s, double *f) {
  const float *q = q_row(fq5, D, b, h, i);
  double x = 0.0;
  for (int r = 0; r < PD; ++r) {
    double y = 0.0;
    for (int d = 0; d < D; ++d) y += (double)wp[r * D + d] * q[d];
    x += vp[r] * tanh(y);
  }
  double p = SKV / (1.0 + exp(-x));
  /* The device rounds p_t to float32: keep every window edge clear of an integer. */
  if (fabs((p + LOCAL_WINDOW) - floor(p + LOCAL_WINDOW + 0.5)) < 1e-4) {
    die("local-p fixture: a window edge lies on a key; change the seed");
  }
  local_window(b, h, i, p, 1, s, f);
}

/* Hard argmax: the highest scaled score's value row, and its index. The inputs must leave a
 * clear winner, or an fp32 device could rightly pick the other key. */
static void expect_argmax(void) {
  static float o[NROWS * DV];
  static int32_t index[NROWS];
  double s[SKV], f[SKV];
  for (int r = 0; r < NROWS; ++r) {
    int b = r / (HQ * SQ), h = r / SQ % HQ, i = r % SQ, best = 0;
    double second = -INFINITY;
    score_scaled(b, h, i, s, f);
    for (int j = 1; j < SKV; ++j) best = s[j] > s[best] ? j : best;
    for (int j = 0; j < SKV; ++j) second = j != best && s[j] > second ? s[j] : second;
    if (s[best] - second < 1e-3) die("argmax fixture: two keys tie; change the seed");
    index[r] = best;
    for (int d = 0; d < DV; ++d) o[r * DV + d] = v_row(b, h, best)[d];
  }
  const int64_t o_shape[4] = {B, HQ, SQ, DV}, i_shape[4] = {B, HQ, SQ, 1};
  save("exp_f_argmax.npy", CLATTN_NPY_F32, 4, o_shape, o);
  save("exp_f_argmax_idx.npy", CLATTN_NPY_I32, 4, i_shape, index);
}

static void inputs_write(void) {
  fill(fq, NROWS * QD, 1.0);
  fill(fq5, NROWS * D, 1.0);
  fill(fk, B * HKV * SKV * D, 1.0);
  fill(fv, B * HKV * SKV * DV, 1.0);
  fill(w, QD * D, 0.5);
  fill(w1, A * QD, 0.5);
  fill(w2, A * D, 0.5);
  fill(va, A, 1.0);
  fill(wa, SKV * QD, 0.5);
  fill(wp, PD * D, 0.5);
  fill(vp, PD, 1.0);
  for (int i = 0; i < D; ++i) w_eye[i * D + i] = 1.0f;
  /* Positions over and past the keys: integers, fractions, and two empty windows. */
  for (int r = 0; r < NROWS; ++r) pos[r] = (float)(uniform() * 10.0 - 0.5);
  pos[3] = 4.0f;
  pos[5] = -4.5f;
  pos[8] = 12.0f;
  const int64_t q_shape[4] = {B, HQ, SQ, QD}, q5_shape[4] = {B, HQ, SQ, D};
  const int64_t k_shape[4] = {B, HKV, SKV, D}, v_shape[4] = {B, HKV, SKV, DV};
  const int64_t w_shape[2] = {QD, D}, eye_shape[2] = {D, D}, w1_shape[2] = {A, QD};
  const int64_t w2_shape[2] = {A, D}, a_shape[1] = {A}, wa_shape[2] = {SKV, QD};
  const int64_t wp_shape[2] = {PD, D}, pd_shape[1] = {PD}, pos_shape[3] = {B, HQ, SQ};
  save("fq.npy", CLATTN_NPY_F32, 4, q_shape, fq);
  save("fq5.npy", CLATTN_NPY_F32, 4, q5_shape, fq5);
  save("fk.npy", CLATTN_NPY_F32, 4, k_shape, fk);
  save("fv.npy", CLATTN_NPY_F32, 4, v_shape, fv);
  save("fw.npy", CLATTN_NPY_F32, 2, w_shape, w);
  save("fw_eye.npy", CLATTN_NPY_F32, 2, eye_shape, w_eye);
  save("fw1.npy", CLATTN_NPY_F32, 2, w1_shape, w1);
  save("fw2.npy", CLATTN_NPY_F32, 2, w2_shape, w2);
  save("fva.npy", CLATTN_NPY_F32, 1, a_shape, va);
  save("fwa.npy", CLATTN_NPY_F32, 2, wa_shape, wa);
  save("fwp.npy", CLATTN_NPY_F32, 2, wp_shape, wp);
  save("fvp.npy", CLATTN_NPY_F32, 1, pd_shape, vp);
  save("fpos.npy", CLATTN_NPY_F32, 3, pos_shape, pos);
  /* Mis-shaped: W with D + 1 columns, W2 with A + 1 rows, positions one query short. */
  static float zeros[(A + 1) * (QD + 1) * 8];
  const int64_t w_bad[2] = {QD, D + 1}, w2_bad[2] = {A + 1, D}, pos_bad[3] = {B, HQ, SQ - 1};
  const int64_t i_shape[1] = {4};
  save("fw_bad.npy", CLATTN_NPY_F32, 2, w_bad, zeros);
  save("fw2_bad.npy", CLATTN_NPY_F32, 2, w2_bad, zeros);
  save("fpos_bad.npy", CLATTN_NPY_F32, 3, pos_bad, zeros);
  static const int32_t ints[4] = {0};
  save("fints.npy", CLATTN_NPY_I32, 1, i_shape, ints);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: make_family_fixtures DIR\n", stderr);
    return 2;
  }
  out_dir = argv[1];
  inputs_write();
  expect("exp_f_scaled", score_scaled);
  expect("exp_f_dot", score_dot);
  expect("exp_f_general", score_general);
  expect("exp_f_additive", score_additive);
  expect("exp_f_location", score_location);
  expect("exp_f_local_m", score_local_m);
  expect("exp_f_local_m_plain", score_local_m_plain);
  expect("exp_f_local_p_pos", score_local_p_positions);
  expect("exp_f_local_p_w", score_local_p_weights);
  expect_argmax();
  printf("make_family_fixtures: wrote the fixtures to %s\n", out_dir);
  return 0;
}
