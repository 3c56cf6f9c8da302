/*
 * Writes the .npy files the 'clattn run' tests read: random Q, K and V (float32 in both
 * layouts, float16), masks of several shapes and types, per-batch lengths, deliberately bad
 * files, and the expected outputs of each tested configuration, computed by the
 * double-precision reference. Everything is generated here in C so that the tests need
 * neither Python nor NumPy.
 *
 *   make_npy_fixtures DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_ref.h"
#include "half.h"
#include "npy.h"

/* Grouped-query attention with Sq != Skv, Dv != D, and sizes that miss every tile size. */
enum { B = 2, HQ = 4, HKV = 2, SQ = 19, SKV = 23, D = 16, DV = 8 };
#define NQ (B * HQ * SQ * D)
#define NK (B * HKV * SKV * D)
#define NV (B * HKV * SKV * DV)
#define NO (B * HQ * SQ * DV)
#define NL (B * HQ * SQ)
#define NM (B * HQ * SQ * SKV)

static const char *out_dir;
static float q[NQ], k[NK], v[NV];

static void die(const char *what) {
  fprintf(stderr, "make_npy_fixtures: %s\n", what);
  exit(1);
}

static char *path_of(const char *name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", out_dir, name);
  return path;
}

static void save(const char *name, clattn_npy_dtype dtype, int rank, const int64_t *shape,
                 const void *data) {
  char error[1024];
  if (clattn_npy_write(path_of(name), dtype, rank, shape, data, error, sizeof error) != 0) {
    die(error);
  }
}

/* A file with a hand-written header dict, for types and orders the writer never produces. */
static void save_raw(const char *name, const char *dict, const void *data, size_t bytes) {
  unsigned char prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, 0, 0};
  size_t text = strlen(dict), total = (10 + text + 1 + 63) / 64 * 64, header = total - 10;
  prefix[8] = (unsigned char)(header & 0xff);
  prefix[9] = (unsigned char)(header >> 8);
  FILE *f = fopen(path_of(name), "wb");
  if (f == NULL) die("cannot create a raw file");
  fwrite(prefix, 1, 10, f);
  fwrite(dict, 1, text, f);
  for (size_t i = text; i + 1 < header; ++i) fputc(' ', f);
  fputc('\n', f);
  if (bytes > 0) fwrite(data, 1, bytes, f);
  if (fclose(f) != 0) die("cannot write a raw file");
}

static uint64_t rng_state = 12345u;

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

/* BHSD (b, h, s, d) -> BSHD (b, s, h, d). */
static void to_bshd(const float *in, float *out, int heads, int seq, int dim) {
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < heads; ++h)
      for (int s = 0; s < seq; ++s)
        for (int d = 0; d < dim; ++d)
          out[(((size_t)b * seq + s) * heads + h) * dim + d] =
              in[(((size_t)b * heads + h) * seq + s) * dim + d];
}

/* A reference problem on the fixture's Q, K and V with no options set. */
static clattn_cli_ref base_problem(void) {
  clattn_cli_ref r;
  memset(&r, 0, sizeof r);
  r.batch = B;
  r.q_heads = HQ;
  r.kv_heads = HKV;
  r.q_len = SQ;
  r.kv_len = SKV;
  r.head_dim = D;
  r.v_head_dim = DV;
  r.q = q;
  r.k = k;
  r.v = v;
  r.scale = 1.0 / sqrt((double)D);
  r.window_left = r.window_right = -1;
  return r;
}

/* Writes the expected O as NAME.npy and LSE as NAME_lse.npy, BHSD and BSHD variants. */
static void expect(const char *name, const clattn_cli_ref *r) {
  static float o[NO], lse[NL], o_t[NO], lse_t[NL];
  double scores[SKV], row[DV], l = 0.0;
  for (int b = 0; b < B; ++b)
    for (int h = 0; h < HQ; ++h)
      for (int i = 0; i < SQ; ++i) {
        size_t at = ((size_t)b * HQ + h) * SQ + i;
        clattn_cli_ref_row(r, b, h, i, scores, row, &l);
        for (int d = 0; d < DV; ++d) o[at * DV + d] = (float)row[d];
        lse[at] = (float)l;
      }
  char file[256];
  const int64_t o_shape[4] = {B, HQ, SQ, DV}, o_bshd[4] = {B, SQ, HQ, DV};
  snprintf(file, sizeof file, "%s.npy", name);
  save(file, CLATTN_NPY_F32, 4, o_shape, o);
  snprintf(file, sizeof file, "%s_lse.npy", name);
  save(file, CLATTN_NPY_F32, 3, o_shape, lse);
  to_bshd(o, o_t, HQ, SQ, DV);
  to_bshd(lse, lse_t, HQ, SQ, 1);
  snprintf(file, sizeof file, "%s_bshd.npy", name);
  save(file, CLATTN_NPY_F32, 4, o_bshd, o_t);
  snprintf(file, sizeof file, "%s_bshd_lse.npy", name);
  save(file, CLATTN_NPY_F32, 3, o_bshd, lse_t);
}

static void inputs_write(void) {
  static float t[NQ];
  static uint16_t h[NQ];
  const int64_t qs[4] = {B, HQ, SQ, D}, ks[4] = {B, HKV, SKV, D}, vs[4] = {B, HKV, SKV, DV};
  const int64_t qt[4] = {B, SQ, HQ, D}, kt[4] = {B, SKV, HKV, D}, vt[4] = {B, SKV, HKV, DV};
  for (int i = 0; i < NQ; ++i) q[i] = normal();
  for (int i = 0; i < NK; ++i) k[i] = normal();
  for (int i = 0; i < NV; ++i) v[i] = normal();
  save("q.npy", CLATTN_NPY_F32, 4, qs, q);
  save("k.npy", CLATTN_NPY_F32, 4, ks, k);
  save("v.npy", CLATTN_NPY_F32, 4, vs, v);
  to_bshd(q, t, HQ, SQ, D);
  save("q_bshd.npy", CLATTN_NPY_F32, 4, qt, t);
  to_bshd(k, t, HKV, SKV, D);
  save("k_bshd.npy", CLATTN_NPY_F32, 4, kt, t);
  to_bshd(v, t, HKV, SKV, DV);
  save("v_bshd.npy", CLATTN_NPY_F32, 4, vt, t);
  for (int i = 0; i < NQ; ++i) h[i] = clattn_cli_float_to_half(q[i]);
  save("q16.npy", CLATTN_NPY_F16, 4, qs, h);
  for (int i = 0; i < NK; ++i) h[i] = clattn_cli_float_to_half(k[i]);
  save("k16.npy", CLATTN_NPY_F16, 4, ks, h);
  for (int i = 0; i < NV; ++i) h[i] = clattn_cli_float_to_half(v[i]);
  save("v16.npy", CLATTN_NPY_F16, 4, vs, h);
}

/* The positional and scalar options, each with its expected output. */
static void options_expect(void) {
  clattn_cli_ref r = base_problem();
  expect("exp_plain", &r);
  r.causal = 1;
  expect("exp_causal_tl", &r);
  r.bottom_right = 1;
  expect("exp_causal_br", &r);
  r = base_problem();
  r.window_left = 3;
  r.window_right = 2;
  expect("exp_window", &r);
  r = base_problem();
  r.scale = 0.3;
  r.softcap = 2.0;
  expect("exp_scale_softcap", &r);
}

/* Masks: each written in its own shape and type, and expanded here by NumPy's broadcasting
 * rule into the full additive (B, Hq, Sq, Skv) mask the reference reads. */
static void masks_expect(void) {
  static float full[NM], heads[HQ * SKV], keys[SKV];
  static unsigned char boolean[B * SQ * SKV], rows[SQ];
  static uint16_t keys16[SKV];
  clattn_cli_ref r = base_problem();
  r.mask = full;
  r.mask_stride_batch = (int64_t)HQ * SQ * SKV;
  r.mask_stride_head = (int64_t)SQ * SKV;
  r.mask_stride_query = SKV;

  /* float32 (Hq, 1, Skv): one row of biases per head, a few keys masked. */
  for (int i = 0; i < HQ * SKV; ++i) heads[i] = uniform() < 0.2 ? -INFINITY : normal();
  const int64_t heads_shape[3] = {HQ, 1, SKV};
  save("mask_heads.npy", CLATTN_NPY_F32, 3, heads_shape, heads);
  for (int i = 0; i < NM; ++i) full[i] = heads[(i / (SQ * SKV)) % HQ * SKV + i % SKV];
  expect("exp_mask_heads", &r);

  /* bool (B, 1, Sq, Skv): shared by the heads of a batch. */
  for (int i = 0; i < B * SQ * SKV; ++i) boolean[i] = uniform() < 0.7;
  const int64_t bool_shape[4] = {B, 1, SQ, SKV};
  save("mask_bool.npy", CLATTN_NPY_BOOL, 4, bool_shape, boolean);
  for (int i = 0; i < NM; ++i) {
    int b = i / (HQ * SQ * SKV), rest = i % (SQ * SKV);
    full[i] = boolean[b * SQ * SKV + rest] ? 0.0f : -INFINITY;
  }
  expect("exp_mask_bool", &r);

  /* uint8 (Sq, 1): whole query rows masked; the key dimension has to be expanded. */
  for (int i = 0; i < SQ; ++i) rows[i] = (unsigned char)(i % 4 == 1 ? 0 : 1 + i % 3);
  const int64_t rows_shape[2] = {SQ, 1};
  save("mask_rows.npy", CLATTN_NPY_U8, 2, rows_shape, rows);
  for (int i = 0; i < NM; ++i) full[i] = rows[(i / SKV) % SQ] ? 0.0f : -INFINITY;
  expect("exp_mask_rows", &r);

  /* float16 (Skv,): one bias per key, exactly representable, one key masked. */
  for (int j = 0; j < SKV; ++j) {
    keys16[j] = clattn_cli_float_to_half(j == 5 ? -INFINITY : normal());
    keys[j] = clattn_cli_half_to_float(keys16[j]);
  }
  const int64_t keys_shape[1] = {SKV};
  save("mask_f16.npy", CLATTN_NPY_F16, 1, keys_shape, keys16);
  for (int i = 0; i < NM; ++i) full[i] = keys[i % SKV];
  expect("exp_mask_f16", &r);
}

static void lengths_expect(void) {
  static const int64_t kv_lens[B] = {5, SKV};
  static const int32_t q_lens[B] = {SQ, 7};
  static const int32_t kv32[B] = {5, SKV}, q32[B] = {SQ, 7};
  static const int32_t bad[B] = {5, 99};
  const int64_t shape[1] = {B};
  save("kv_lens.npy", CLATTN_NPY_I64, 1, shape, kv_lens);
  save("q_lens.npy", CLATTN_NPY_I32, 1, shape, q_lens);
  save("kv_lens_bad.npy", CLATTN_NPY_I32, 1, shape, bad);
  clattn_cli_ref r = base_problem();
  r.kv_lens = kv32;
  r.q_lens = q32;
  expect("exp_lens", &r);
  r.causal = 1;
  r.bottom_right = 1;
  expect("exp_lens_causal_br", &r);
}

/* Storage types: the reference on inputs rounded as the device stores them. */
static void dtypes_expect(void) {
  static float q16[NQ], k16[NK], v16[NV], qb[NQ], kb[NK], vb[NV];
  for (int i = 0; i < NQ; ++i) q16[i] = clattn_cli_half_to_float(clattn_cli_float_to_half(q[i]));
  for (int i = 0; i < NK; ++i) k16[i] = clattn_cli_half_to_float(clattn_cli_float_to_half(k[i]));
  for (int i = 0; i < NV; ++i) v16[i] = clattn_cli_half_to_float(clattn_cli_float_to_half(v[i]));
  for (int i = 0; i < NQ; ++i) qb[i] = clattn_cli_bf16_to_float(clattn_cli_float_to_bf16(q[i]));
  for (int i = 0; i < NK; ++i) kb[i] = clattn_cli_bf16_to_float(clattn_cli_float_to_bf16(k[i]));
  for (int i = 0; i < NV; ++i) vb[i] = clattn_cli_bf16_to_float(clattn_cli_float_to_bf16(v[i]));
  clattn_cli_ref r = base_problem();
  r.q = q16;
  r.k = k16;
  r.v = v16;
  expect("exp_f16", &r);
  r.q = qb;
  r.k = kb;
  r.v = vb;
  expect("exp_bf16", &r);
}

/* Files 'clattn run' must refuse. */
static void bad_files_write(void) {
  static float zeros[B * HKV * SKV * 12];
  static int32_t ints[NQ];
  const int64_t rank2[2] = {2, 3}, int_shape[4] = {B, HQ, SQ, D};
  const int64_t wrong_dim[4] = {B, HKV, SKV, 12}, not_broadcast[2] = {3, SKV};
  save("bad_rank.npy", CLATTN_NPY_F32, 2, rank2, zeros);
  save("bad_dtype.npy", CLATTN_NPY_I32, 4, int_shape, ints);
  save("k_wrong_dim.npy", CLATTN_NPY_F32, 4, wrong_dim, zeros);
  save("mask_bad.npy", CLATTN_NPY_F32, 2, not_broadcast, zeros);
  const int64_t v_short[4] = {B, HKV, SQ, DV}, lens_shape[1] = {B};
  save("v_short.npy", CLATTN_NPY_F32, 4, v_short, zeros);
  save("lens_f32.npy", CLATTN_NPY_F32, 1, lens_shape, zeros);
  double f64[6] = {0};
  save_raw("f64.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", f64,
           sizeof f64);
  save_raw("big_endian.npy", "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
           zeros, 6 * sizeof(float));
  save_raw("truncated.npy",
           "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2, 23, 16), }", zeros,
           100 * sizeof(float));
  save_raw("fortran.npy", "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 4, 19, 16), }",
           q, sizeof q);
  FILE *f = fopen(path_of("text.npy"), "wb");
  if (f == NULL || fputs("this is not an array\n", f) < 0 || fclose(f) != 0) {
    die("cannot write text.npy");
  }
}

/* Spatial attention for 'clattn heatmap --grid': weights of 3 queries over a 5 x 7 map (each
 * row a softmax of random scores), and grey images of other sizes, uint8 and float32. */
static void grid_files_write(void) {
  static float w[3 * 35], grey_f[9 * 11];
  static unsigned char grey_u8[40 * 52];
  for (int i = 0; i < 3; ++i) {
    double sum = 0.0;
    for (int j = 0; j < 35; ++j) {
      w[i * 35 + j] = (float)exp(2.0 * normal());
      sum += w[i * 35 + j];
    }
    for (int j = 0; j < 35; ++j) w[i * 35 + j] = (float)(w[i * 35 + j] / sum);
  }
  for (int n = 0; n < 9 * 11; ++n) grey_f[n] = (float)uniform();
  for (int n = 0; n < 40 * 52; ++n) grey_u8[n] = (unsigned char)(n * 7 % 256);
  const int64_t ws[4] = {1, 1, 3, 35}, fs[2] = {9, 11}, us[2] = {40, 52};
  save("spatial_w.npy", CLATTN_NPY_F32, 4, ws, w);
  save("grey_f32.npy", CLATTN_NPY_F32, 2, fs, grey_f);
  save("grey_u8.npy", CLATTN_NPY_U8, 2, us, grey_u8);
  grey_f[5] = 1.5f;
  save("grey_bad.npy", CLATTN_NPY_F32, 2, fs, grey_f);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: make_npy_fixtures DIR\n", stderr);
    return 2;
  }
  out_dir = argv[1];
  inputs_write();
  options_expect();
  masks_expect();
  lengths_expect();
  dtypes_expect();
  bad_files_write();
  grid_files_write();
  printf("make_npy_fixtures: wrote the fixtures to %s\n", out_dir);
  return 0;
}
