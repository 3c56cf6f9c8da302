/* ARGMAX, empty rows, poison and NaN.
 *
 *  - ARGMAX picks the key of the largest score, exactly as the host computes it, with every
 *    rule at once (GQA, bottom-right causal, lengths, a bool mask, ALiBi), while masked keys
 *    hold poison in K (1e30: it would win if read) and V (NaN: it would show if read).
 *  - Ties go to the lowest index: Q = 0 gives every allowed key the score 0 exactly, and
 *    integer-valued data with repeated K rows gives exact ties between distinct keys.
 *  - Rows with nothing to attend give index -1 and zeros, in both modes: q_lens, kv_lens 0,
 *    bottom-right causal with Sq > Skv, an all -inf additive row, an all-zero bool row.
 *  - A NaN score (NaN in an attended K row) gives the first NaN key and a NaN row; NaN in a
 *    chosen V row reaches only that row.
 *  - O without an indices buffer is the same O. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hard_support.h"

static attn_env env;

/* Compares every row's index with the host; returns how many rows were empty. */
static int64_t check_host(const hd_case *c, const hd_data *data, const hd_result *r) {
  const clattn_attention_desc *d = &c->desc;
  int64_t empty = 0;
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t h = 0; h < d->q_heads; h++)
      for (int64_t t = 0; t < d->q_len; t++)
        for (int64_t k = 0; k < c->hard.draws; k++) {
          float margin;
          int want = hd_choice(c, data, b, h, t, k, &margin);
          int got = r->indices[((b * d->q_heads + h) * d->q_len + t) * c->hard.draws + k];
          if (got != want)
            check_fail(__FILE__, __LINE__,
                       "%s: (b %lld, h %lld, t %lld, draw %lld): index %d, host %d", c->name,
                       (long long)b, (long long)h, (long long)t, (long long)k, got, want);
          empty += want < 0;
        }
  check_pass();
  return empty;
}

/* ---- argmax with every rule and poison ------------------------------------------------- */

enum { PB = 2, PHQ = 4, PHKV = 2, PSQ = 9, PSKV = 26, PD = 12, PDV = 7 };
static const int32_t POISON_KV_LENS[PB] = {26, 17};
static const int POISON_KEY = 5; /* masked for every row of every head in batch 0 */
static uint8_t poison_mask[PB * PHQ * PSQ * PSKV];

/* Poison K (1e30) and V (NaN) at every key no row may attend. */
static void plant_poison(const hd_case *c, float *q, float *k, float *v) {
  (void)q;
  for (int64_t b = 0; b < PB; b++)
    for (int64_t hk = 0; hk < PHKV; hk++)
      for (int64_t j = 0; j < PSKV; j++) {
        if (j < c->kv_lens[b] && !(b == 0 && j == POISON_KEY)) continue;
        for (int64_t e = 0; e < PD; e++) k[((b * PHKV + hk) * PSKV + j) * PD + e] = 1e30f;
        for (int64_t e = 0; e < PDV; e++) v[((b * PHKV + hk) * PSKV + j) * PDV + e] = NAN;
      }
}

static void test_argmax_rules_poison(void) {
  static const float slopes[PHQ] = {0.3f, 0.1f, 0.03f, 0.01f};
  ref_rng rng;
  ref_rng_seed(&rng, 11);
  for (size_t i = 0; i < sizeof poison_mask; i++) {
    int64_t b = (int64_t)i / (PHQ * PSQ * PSKV), j = (int64_t)i % PSKV;
    poison_mask[i] = !(b == 0 && j == POISON_KEY) && ref_rng_uniform(&rng) > 0.15;
  }
  hd_case c;
  hd_case_init(&c, "argmax rules + poison", PB, PHQ, PHKV, PSQ, PSKV, PD, PDV);
  c.hard.mode = CLATTN_HARD_ARGMAX;
  c.hard.seed = 123; /* ignored by ARGMAX */
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.kv_lens = POISON_KV_LENS;
  c.mask_type = CLATTN_MASK_BOOL;
  c.mask = poison_mask;
  c.alibi = slopes;
  c.poke = plant_poison;
  hd_data data;
  hd_result r, again;
  hd_data_make(&c, &data);
  hd_run(&env, &c, &data, 0, &r); /* O rows are exact V rows: no NaN reached them */
  int64_t empty = check_host(&c, &data, &r);
  int64_t poisoned = 0;
  for (int64_t b = 0; b < PB; b++)
    for (int64_t i = 0; i < PHQ * PSQ; i++) {
      int32_t index = r.indices[b * PHQ * PSQ + i];
      poisoned += index >= POISON_KV_LENS[b] || (b == 0 && index == POISON_KEY);
    }
  CHECK_EQ(poisoned, 0);
  /* The seed plays no part in ARGMAX. */
  c.hard.seed = 456;
  c.hard.offset = 77;
  hd_run(&env, &c, &data, 0, &again);
  CHECK(hd_result_equal(&c, &r, &again));
  printf("argmax with every rule: all %d rows equal to the host (%lld empty), no poisoned key, "
         "seed and offset ignored\n", PB * PHQ * PSQ, (long long)empty);
  hd_result_free(&r);
  hd_result_free(&again);
  hd_data_free(&data);
}

/* ---- ties ------------------------------------------------------------------------------ */

static void zero_queries(const hd_case *c, float *q, float *k, float *v) {
  (void)k;
  (void)v;
  const clattn_attention_desc *d = &c->desc;
  memset(q, 0, (size_t)(d->batch * d->q_heads * d->q_len * d->head_dim) * sizeof(float));
}

/* Small integers; K row j repeats K row j mod 4, so keys 4 apart tie exactly. */
static void integer_ties(const hd_case *c, float *q, float *k, float *v) {
  (void)v;
  const clattn_attention_desc *d = &c->desc;
  for (int64_t i = 0; i < d->batch * d->q_heads * d->q_len * d->head_dim; i++)
    q[i] = (float)((i * 7) % 5 - 2);
  for (int64_t j = 0; j < d->batch * d->kv_heads * d->kv_len; j++)
    for (int64_t e = 0; e < d->head_dim; e++)
      k[j * d->head_dim + e] = (float)(((j % 4) * 3 + e * 5) % 7 - 3);
}

static void test_ties(void) {
  hd_case c;
  hd_data data;
  hd_result r;
  hd_case_init(&c, "ties: q = 0, window", 1, 2, 1, 13, 10, 6, 3);
  c.hard.mode = CLATTN_HARD_ARGMAX;
  c.desc.window_left = 3;
  c.desc.window_right = 1;
  c.poke = zero_queries;
  hd_data_make(&c, &data);
  hd_run(&env, &c, &data, 0, &r);
  check_host(&c, &data, &r);
  ref_attention p;
  hd_ref(&c, &data, &p);
  for (int64_t h = 0; h < 2; h++)
    for (int64_t t = 0; t < 13; t++) {
      int64_t first = -1;
      for (int64_t j = 0; j < 10 && first < 0; j++)
        if (ref_attention_allowed(&p, 0, h, t, j)) first = j;
      CHECK_EQ(r.indices[h * 13 + t], first);
    }
  hd_result_free(&r);
  hd_data_free(&data);

  hd_case_init(&c, "ties: repeated integer K rows", 2, 2, 2, 5, 23, 8, 4);
  c.hard.mode = CLATTN_HARD_ARGMAX;
  c.desc.scale = 1.0f;
  c.poke = integer_ties;
  hd_data_make(&c, &data);
  hd_run(&env, &c, &data, 0, &r);
  check_host(&c, &data, &r);
  for (int64_t i = 0; i < 2 * 2 * 5; i++) CHECK(r.indices[i] < 4); /* the first of each tie */
  printf("ties: the lowest index wins (q = 0 with a window; keys 4 apart tied)\n");
  hd_result_free(&r);
  hd_data_free(&data);
}

/* ---- empty rows ------------------------------------------------------------------------ */

enum { EB = 3, EH = 2, ESQ = 8, ESKV = 5 };
static float empty_additive[EB * EH * ESQ * ESKV];
static uint8_t empty_bool[EB * EH * ESQ * ESKV];

static void test_empty_rows(void) {
  static const int32_t q_lens[EB] = {8, 0, 6};  /* batch 1: no rows; batch 2: rows 6, 7 */
  static const int32_t kv_lens[EB] = {5, 5, 0}; /* batch 2: no keys at all */
  for (size_t i = 0; i < sizeof empty_additive / sizeof empty_additive[0]; i++) {
    int64_t t = (int64_t)i / ESKV % ESQ;
    empty_additive[i] = t == ESQ - 1 ? -INFINITY : 0.25f * (float)(i % 3);
    empty_bool[i] = t != ESQ - 1;
  }
  for (int mode = 0; mode < 2; mode++)
    for (int mask = 0; mask < 2; mask++) {
      hd_case c;
      hd_data data;
      hd_result r;
      hd_case_init(&c, mask ? "empty rows (bool)" : "empty rows (additive)", EB, EH, EH, ESQ,
                   ESKV, 4, 6);
      c.hard.mode = mode ? CLATTN_HARD_ARGMAX : CLATTN_HARD_SAMPLE;
      c.hard.draws = mode ? 1 : 3;
      c.desc.causal = 1; /* bottom-right with Sq > Skv: rows 0 .. 2 see nothing */
      c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
      c.q_lens = q_lens;
      c.kv_lens = kv_lens;
      c.mask_type = mask ? CLATTN_MASK_BOOL : CLATTN_MASK_ADDITIVE;
      c.mask = mask ? (const void *)empty_bool : (const void *)empty_additive;
      hd_data_make(&c, &data);
      hd_run(&env, &c, &data, 0, &r); /* -1 rows are checked to be +0.0 */
      int64_t empty = check_host(&c, &data, &r), rows = EB * EH * ESQ * c.hard.draws, minus = 0;
      for (int64_t i = 0; i < rows; i++) minus += r.indices[i] == -1;
      CHECK_EQ(minus, empty);
      CHECK(empty > rows / 2 && empty < rows); /* both kinds of row are present */
      printf("%s, %s: %lld of %lld draws empty: index -1, zeros\n", c.name,
             mode ? "argmax" : "sample", (long long)empty, (long long)rows);
      hd_result_free(&r);
      hd_data_free(&data);
    }
}

/* ---- NaN --------------------------------------------------------------------------------- */

enum { NB = 2, NH = 2, NSQ = 6, NSKV = 9, ND = 4, NDV = 3 };
static const int NAN_KEYS[2] = {4, 6}; /* NaN in K of batch 0 at these keys */
static const int NAN_V_KEY = 2;        /* NaN in V of batch 1, feature 1 */

static void plant_nan(const hd_case *c, float *q, float *k, float *v) {
  (void)c;
  (void)q;
  for (int n = 0; n < 2; n++) k[(0 * NH * NSKV + NAN_KEYS[n]) * ND + 1] = NAN; /* head 0 */
  for (int64_t hk = 0; hk < NH; hk++) v[((1 * NH + hk) * NSKV + NAN_V_KEY) * NDV + 1] = NAN;
}

static void test_nan(void) {
  hd_case c;
  hd_data data;
  hd_result r;
  hd_case_init(&c, "nan scores", NB, NH, NH, NSQ, NSKV, ND, NDV);
  c.hard.draws = 4;
  c.desc.causal = 1;
  c.poke = plant_nan;
  hd_data_make(&c, &data);
  hd_run(&env, &c, &data, 1, &r);
  check_host(&c, &data, &r); /* the first NaN key the row attends */
  int64_t nan_rows = 0, v_nan = 0;
  for (int64_t h = 0; h < NH; h++)
    for (int64_t t = 0; t < NSQ; t++)
      for (int64_t k = 0; k < 4; k++) {
        const int64_t row0 = (0 * NH + h) * NSQ * 4 + t * 4 + k, row1 = row0 + NH * NSQ * 4;
        /* Batch 0, head 0: rows attending key 4 (t >= 4 under causal) are all NaN. */
        const int nan_expected = h == 0 && t >= NAN_KEYS[0];
        for (int64_t e = 0; e < NDV; e++) CHECK_EQ(isnan(r.o[row0 * NDV + e]) != 0, nan_expected);
        if (nan_expected) CHECK_EQ(r.indices[row0], NAN_KEYS[0]);
        nan_rows += nan_expected;
        /* Batch 1: NaN only in feature 1 of rows that drew key 2. */
        const int drew = r.indices[row1] == NAN_V_KEY;
        for (int64_t e = 0; e < NDV; e++) CHECK_EQ(isnan(r.o[row1 * NDV + e]) != 0, drew && e == 1);
        v_nan += drew;
      }
  CHECK(nan_rows > 0 && v_nan > 0);
  printf("nan: %lld draws on NaN scores give the first NaN key and NaN rows; %lld draws of a "
         "NaN V row carry exactly its NaN\n", (long long)nan_rows, (long long)v_nan);
  hd_result_free(&r);
  hd_data_free(&data);
}

/* ---- no indices buffer ------------------------------------------------------------------- */

static void test_without_indices(void) {
  hd_case c;
  hd_data data;
  hd_result with, without;
  hd_case_init(&c, "without indices", 1, 3, 1, 11, 14, 9, 5);
  c.hard.draws = 6;
  c.hard.seed = 8;
  hd_data_make(&c, &data);
  hd_run(&env, &c, &data, 0, &with);
  c.with_indices = 0;
  hd_run(&env, &c, &data, 0, &without);
  const size_t n = (size_t)(3 * 11 * 6 * 5);
  CHECK(memcmp(with.o, without.o, n * sizeof(float)) == 0);
  printf("indices NULL: the same O\n");
  hd_result_free(&with);
  hd_result_free(&without);
  hd_data_free(&data);
}

int main(void) {
  attn_env_init(&env);
  test_argmax_rules_poison();
  test_ties();
  test_empty_rows();
  test_nan();
  test_without_indices();
  attn_env_destroy(&env);
  return check_done("test_hard_argmax");
}
