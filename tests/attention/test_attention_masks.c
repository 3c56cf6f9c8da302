/* Masks, alone and combined, against the reference: causal in both alignments (Sq < Skv and
 * Sq > Skv), sliding windows, per-batch kv_lens and q_lens, bool and additive mask tensors
 * (with -inf, with a finite -1e30 that must not mask, with broadcast strides over batch,
 * head and query), fully masked rows (zeros, LSE -inf), poison (NaN, inf, 1e30) at masked K,
 * V, Q and mask positions that must not leak, and NaN / inf in attended positions that must
 * reach exactly the rows attending them. CPU-style and GPU-style configurations. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

static const clattn__attention_config *const configs[] = {&ATTN_CPU, &ATTN_GPU, &ATTN_GPU2,
                                                          &ATTN_VEC1, &ATTN_DIRECT};
#define NCONFIGS (sizeof configs / sizeof configs[0])

/* Runs a case under the CPU and GPU configurations (all of them when `all`). */
static attn_report run_configs(attn_env *env, attn_case *c, int all) {
  attn_report worst;
  memset(&worst, 0, sizeof worst);
  for (size_t i = 0; i < (all ? NCONFIGS : 2); i++) {
    c->config = configs[i];
    attn_report r = attn_run(env, c);
    if (i == 0) worst = r;
    /* The same problem must give the same non-finite and empty counts everywhere. */
    CHECK_EQ(r.nan_o, worst.nan_o);
    CHECK_EQ(r.inf_o, worst.inf_o);
    CHECK_EQ(r.empty_rows, worst.empty_rows);
  }
  return worst;
}

/* ---- mask tensor images ---------------------------------------------------------------- */

typedef struct mask_image {
  void *data;
  size_t bytes;
  uint64_t offset;
  int64_t sb, sh, sq;
} mask_image;

/* A mask of shape (nb, nh, nq, Skv) with the given extents (1 where broadcast), stored
 * after `offset` elements of filler, rows `row_gap` elements apart beyond Skv. Strides are 0
 * over broadcast dimensions. `filler` fills everything outside the mask view. */
static mask_image mask_alloc(clattn_mask_type type, int64_t nb, int64_t nh, int64_t nq,
                             int64_t Skv, int64_t B, int64_t H, int64_t Sq, uint64_t offset,
                             int64_t row_gap, double filler) {
  mask_image m;
  int64_t row = Skv + row_gap;
  m.offset = offset;
  m.sq = nq == 1 && Sq > 1 ? 0 : row;
  m.sh = nh == 1 && H > 1 ? 0 : nq * row;
  m.sb = nb == 1 && B > 1 ? 0 : nh * nq * row;
  uint64_t count = offset + (uint64_t)(nb * nh * nq * row) + 11;
  size_t es = type == CLATTN_MASK_BOOL ? 1 : 4;
  m.bytes = (size_t)count * es;
  m.data = malloc(m.bytes);
  if (!m.data) check_fail(__FILE__, __LINE__, "out of memory");
  for (uint64_t i = 0; i < count; i++) {
    if (type == CLATTN_MASK_BOOL) ((uint8_t *)m.data)[i] = (uint8_t)filler;
    else ((float *)m.data)[i] = (float)filler;
  }
  return m;
}

static uint64_t mask_at(const mask_image *m, int64_t b, int64_t h, int64_t i, int64_t j) {
  return m->offset + (uint64_t)(b * m->sb + h * m->sh + i * m->sq + j);
}

static void use_mask(attn_case *c, clattn_mask_type type, const mask_image *m) {
  c->mask_type = type;
  c->mask = m->data;
  c->mask_bytes = m->bytes;
  c->mask_offset = m->offset;
  c->mask_stride_batch = m->sb;
  c->mask_stride_head = m->sh;
  c->mask_stride_query = m->sq;
}

/* ---- poison ---------------------------------------------------------------------------- */

static float poison_value(int64_t n) {
  switch (n % 4) {
  case 0: return NAN;
  case 1: return 1e30f;
  case 2: return INFINITY;
  default: return -NAN;
  }
}

static void poison_key(const attn_case *c, float *k, float *v, int64_t b, int64_t j,
                       int with_k, int with_v) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t D = d->head_dim, Dv = d->v_head_dim ? d->v_head_dim : D;
  for (int64_t hk = 0; hk < d->kv_heads; hk++) {
    float *kr = k + ((b * d->kv_heads + hk) * d->kv_len + j) * D;
    float *vr = v + ((b * d->kv_heads + hk) * d->kv_len + j) * Dv;
    if (with_k)
      for (int64_t e = 0; e < D; e++) kr[e] = poison_value(j + e);
    if (with_v)
      for (int64_t e = 0; e < Dv; e++) vr[e] = poison_value(j + e + 1);
  }
}

/* K and V rows at keys >= kv_lens[b] become NaN / inf / 1e30; Q rows >= q_lens[b] too. */
static void poke_beyond_lengths(const attn_case *c, float *q, float *k, float *v) {
  const clattn_attention_desc *d = &c->desc;
  for (int64_t b = 0; b < d->batch; b++) {
    if (c->kv_lens)
      for (int64_t j = c->kv_lens[b] < 0 ? 0 : c->kv_lens[b]; j < d->kv_len; j++)
        poison_key(c, k, v, b, j, 1, 1);
    if (c->q_lens)
      for (int64_t h = 0; h < d->q_heads; h++)
        for (int64_t i = c->q_lens[b] < 0 ? 0 : c->q_lens[b]; i < d->q_len; i++)
          for (int64_t e = 0; e < d->head_dim; e++)
            q[((b * d->q_heads + h) * d->q_len + i) * d->head_dim + e] = poison_value(i + e);
  }
}

/* Keys whose mask column is 0 for every (b, h, i) of the user mask get poison in K and V. */
static void poke_masked_columns(const attn_case *c, float *q, float *k, float *v) {
  (void)q;
  const clattn_attention_desc *d = &c->desc;
  const mask_image *m = c->user;
  for (int64_t j = 0; j < d->kv_len; j++) {
    int used = 0;
    for (int64_t b = 0; b < d->batch && !used; b++)
      for (int64_t h = 0; h < d->q_heads && !used; h++)
        for (int64_t i = 0; i < d->q_len && !used; i++)
          used = ((const uint8_t *)m->data)[mask_at(m, b, h, i, j)] != 0;
    if (!used)
      for (int64_t b = 0; b < d->batch; b++) poison_key(c, k, v, b, j, 1, 1);
  }
}

/* Keys listed in the user array (terminated by -1) get NaN in K (`which` 1), in V (2: NaN
 * in feature 5, 3: +inf in feature 0), or (4) NaN in K for the first key and in V feature 5
 * for the others; in every batch and KV head. */
typedef struct key_list {
  int which;
  int64_t keys[8];
} key_list;

static void poke_keys(const attn_case *c, float *q, float *k, float *v) {
  (void)q;
  const clattn_attention_desc *d = &c->desc;
  const key_list *list = c->user;
  const int64_t D = d->head_dim, Dv = d->v_head_dim ? d->v_head_dim : D;
  for (int n = 0; list->keys[n] >= 0; n++)
    for (int64_t b = 0; b < d->batch; b++)
      for (int64_t hk = 0; hk < d->kv_heads; hk++) {
        int64_t j = list->keys[n];
        if (list->which == 1) k[((b * d->kv_heads + hk) * d->kv_len + j) * D + 3 % D] = NAN;
        if (list->which == 2) v[((b * d->kv_heads + hk) * d->kv_len + j) * Dv + 5 % Dv] = NAN;
        if (list->which == 3) v[((b * d->kv_heads + hk) * d->kv_len + j) * Dv] = INFINITY;
        if (list->which == 4) { /* the first key in K, the others in V */
          if (n == 0) k[((b * d->kv_heads + hk) * d->kv_len + j) * D] = NAN;
          else v[((b * d->kv_heads + hk) * d->kv_len + j) * Dv + 5 % Dv] = NAN;
        }
      }
}

/* ---- cases ----------------------------------------------------------------------------- */

static void positional(attn_env *env) {
  printf("causal and windows:\n");
  static const int64_t lens[2][2] = {{113, 203}, {203, 113}};
  for (int w = 0; w < 2; w++) {
    const int64_t Sq = lens[w][0], Skv = lens[w][1];
    static char names[16][96];
    int n = 0;
    for (int align = 0; align < 2; align++) {
      const char *al = align ? "bottom-right" : "top-left";
      attn_case c;
      snprintf(names[n], sizeof names[n], "causal %s Sq%lld Skv%lld", al, (long long)Sq,
               (long long)Skv);
      attn_case_init(&c, names[n++], 2, 2, 2, Sq, Skv, 64, 64);
      c.desc.causal = 1;
      c.desc.alignment = align ? CLATTN_ALIGN_BOTTOM_RIGHT : CLATTN_ALIGN_TOP_LEFT;
      attn_report r = run_configs(env, &c, w == 0);
      /* Bottom-right with Sq > Skv leaves the first Sq - Skv rows with no key. */
      CHECK_EQ(r.empty_rows, align && Sq > Skv ? 2 * 2 * (Sq - Skv) : 0);

      static const int64_t windows[][2] = {{17, -1}, {-1, 5}, {30, 7}, {0, 0}};
      for (int k = 0; k < 4; k++) {
        snprintf(names[n], sizeof names[n], "window %lld/%lld %s Sq%lld Skv%lld",
                 (long long)windows[k][0], (long long)windows[k][1], al, (long long)Sq,
                 (long long)Skv);
        attn_case_init(&c, names[n++], 2, 2, 2, Sq, Skv, 64, 64);
        c.desc.window_left = windows[k][0];
        c.desc.window_right = windows[k][1];
        c.desc.alignment = align ? CLATTN_ALIGN_BOTTOM_RIGHT : CLATTN_ALIGN_TOP_LEFT;
        r = run_configs(env, &c, 0);
        if (k == 3) /* the diagonal alone: a row has a key exactly when 0 <= i' < Skv */
          CHECK_EQ(r.empty_rows, 2 * 2 * (Sq > Skv ? Sq - Skv : 0));
      }
      snprintf(names[n], sizeof names[n], "causal + window 9/4 %s Sq%lld Skv%lld", al,
               (long long)Sq, (long long)Skv);
      attn_case_init(&c, names[n++], 2, 2, 2, Sq, Skv, 64, 64);
      c.desc.causal = 1;
      c.desc.window_left = 9;
      c.desc.window_right = 4; /* causal wins on the right */
      c.desc.alignment = align ? CLATTN_ALIGN_BOTTOM_RIGHT : CLATTN_ALIGN_TOP_LEFT;
      run_configs(env, &c, 0);
    }
  }
  {
    /* Big windows on long sequences: tiles skipped on both sides of the band. */
    attn_case c;
    attn_case_init(&c, "window 100/37 bottom-right Sq1023 Skv1024", 1, 2, 2, 1023, 1024, 64, 64);
    c.desc.window_left = 100;
    c.desc.window_right = 37;
    c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    c.no_repeat = 1;
    run_configs(env, &c, 0);
    attn_case_init(&c, "causal top-left Sq1024 Skv1023", 1, 1, 1, 1024, 1023, 64, 64);
    c.desc.causal = 1;
    c.no_repeat = 1;
    run_configs(env, &c, 0);
    attn_case_init(&c, "huge window 1e12 causal Sq17 Skv113", 1, 2, 2, 17, 113, 64, 64);
    c.desc.window_left = 1000000000000ll; /* wider than everything: unbounded */
    c.desc.causal = 1;
    run_configs(env, &c, 0);
  }
}

static void lengths(attn_env *env) {
  printf("kv_lens and q_lens (poison beyond them):\n");
  static const int32_t kv_a[3] = {203, 77, 0}, kv_b[3] = {1, 500 /* clamped to 203 */, 150};
  static const int32_t q_a[3] = {113, 50, 0}, q_b[3] = {0, 1, 112};
  attn_case c;
  attn_case_init(&c, "kv_lens {203,77,0}", 3, 2, 2, 113, 203, 64, 64);
  c.kv_lens = kv_a;
  c.poke = poke_beyond_lengths;
  attn_report r = run_configs(env, &c, 1);
  CHECK_EQ(r.empty_rows, 2 * 113); /* the batch with no keys */
  CHECK_EQ(r.nan_o, 0);
  attn_case_init(&c, "kv_lens {1,500,150}", 3, 2, 2, 113, 203, 64, 64);
  c.kv_lens = kv_b;
  c.poke = poke_beyond_lengths;
  run_configs(env, &c, 0);
  attn_case_init(&c, "q_lens {113,50,0}", 3, 2, 2, 113, 203, 64, 64);
  c.q_lens = q_a;
  c.poke = poke_beyond_lengths;
  r = run_configs(env, &c, 1);
  CHECK_EQ(r.empty_rows, 2 * (63 + 113));
  CHECK_EQ(r.nan_o, 0);
  attn_case_init(&c, "q_lens {0,1,112} kv_lens {1,500,150}", 3, 2, 2, 113, 203, 64, 64);
  c.q_lens = q_b;
  c.kv_lens = kv_b;
  c.poke = poke_beyond_lengths;
  run_configs(env, &c, 0);
  /* Ragged batch, decode-like: each batch's last valid query sits at its last valid key. */
  static const int32_t rq[3] = {17, 100, 113}, rkv[3] = {150, 203, 60};
  attn_case_init(&c, "lens + causal bottom-right", 3, 2, 2, 113, 203, 64, 64);
  c.q_lens = rq;
  c.kv_lens = rkv;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.poke = poke_beyond_lengths;
  r = run_configs(env, &c, 1);
  CHECK_EQ(r.empty_rows, 2 * ((113 - 17) + (113 - 100) + (113 - 60)));
  attn_case_init(&c, "lens + causal top-left + window 5/-1", 3, 2, 2, 113, 203, 64, 64);
  c.q_lens = rq;
  c.kv_lens = rkv;
  c.desc.causal = 1;
  c.desc.window_left = 5;
  c.poke = poke_beyond_lengths;
  run_configs(env, &c, 0);
  attn_case_init(&c, "lens + window 3/2 bottom-right Sq203 Skv113", 3, 2, 2, 203, 113, 64, 64);
  static const int32_t rq2[3] = {203, 40, 150}, rkv2[3] = {100, 113, 7};
  c.q_lens = rq2;
  c.kv_lens = rkv2;
  c.desc.window_left = 3;
  c.desc.window_right = 2;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.poke = poke_beyond_lengths;
  run_configs(env, &c, 0);
}

static void bool_masks(attn_env *env) {
  printf("bool masks:\n");
  const int64_t B = 2, H = 2, Sq = 113, Skv = 203;
  ref_rng rng;
  ref_rng_seed(&rng, 77);
  attn_case c;
  {
    /* Full (B, H, Sq, Skv) mask, 70% attend, a few rows all zero, every 7th key masked for
     * everyone (poisoned), nonzero values other than 1. */
    mask_image m = mask_alloc(CLATTN_MASK_BOOL, B, H, Sq, Skv, B, H, Sq, 9, 5, 0);
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Sq; i++)
          for (int64_t j = 0; j < Skv; j++) {
            uint8_t x = ref_rng_uniform(&rng) < 0.7 ? (uint8_t)(1 + ref_rng_below(&rng, 255)) : 0;
            if (j % 7 == 3 || (i % 29 == 5 && h == 1)) x = 0;
            ((uint8_t *)m.data)[mask_at(&m, b, h, i, j)] = x;
          }
    attn_case_init(&c, "bool (B,H,Sq,Skv), poisoned columns", B, H, H, Sq, Skv, 64, 64);
    use_mask(&c, CLATTN_MASK_BOOL, &m);
    c.poke = poke_masked_columns;
    c.user = &m;
    attn_report r = run_configs(env, &c, 1);
    CHECK_EQ(r.empty_rows, B * 4);
    CHECK_EQ(r.nan_o, 0);
    free(m.data);
  }
  {
    /* Broadcast over batch and head: one (Sq, Skv) pattern, banded. */
    mask_image m = mask_alloc(CLATTN_MASK_BOOL, 1, 1, Sq, Skv, B, H, Sq, 0, 0, 0);
    for (int64_t i = 0; i < Sq; i++)
      for (int64_t j = 0; j < Skv; j++)
        ((uint8_t *)m.data)[mask_at(&m, 0, 0, i, j)] = (uint8_t)((i + 2 * j) % 5 != 0 && j < 190);
    attn_case_init(&c, "bool broadcast b,h (1,1,Sq,Skv)", B, H, H, Sq, Skv, 64, 64);
    use_mask(&c, CLATTN_MASK_BOOL, &m);
    CHECK_EQ(c.mask_stride_batch, 0);
    CHECK_EQ(c.mask_stride_head, 0);
    run_configs(env, &c, 0);
    free(m.data);
  }
  {
    /* Broadcast over query rows: a key padding mask (B, 1, 1, Skv), with GQA. */
    mask_image m = mask_alloc(CLATTN_MASK_BOOL, B, 1, 1, Skv, B, 8, Sq, 3, 0, 0);
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = 0; j < Skv; j++)
        ((uint8_t *)m.data)[mask_at(&m, b, 0, 0, j)] = (uint8_t)(j < 100 + 50 * b && j % 3 != 1);
    attn_case_init(&c, "bool key padding (B,1,1,Skv) GQA 8/2", B, 8, 2, Sq, Skv, 64, 64);
    use_mask(&c, CLATTN_MASK_BOOL, &m);
    c.poke = poke_masked_columns;
    c.user = &m;
    CHECK_EQ(c.mask_stride_query, 0);
    run_configs(env, &c, 0);
    free(m.data);
  }
  {
    /* Everything at once: causal bottom-right, window, lengths, a per-row bool mask. */
    static const int32_t ql[2] = {100, 113}, kl[2] = {203, 180};
    mask_image m = mask_alloc(CLATTN_MASK_BOOL, B, H, Sq, Skv, B, H, Sq, 1, 2, 0);
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Sq; i++)
          for (int64_t j = 0; j < Skv; j++)
            ((uint8_t *)m.data)[mask_at(&m, b, h, i, j)] = (uint8_t)(ref_rng_uniform(&rng) < 0.8);
    attn_case_init(&c, "causal+window+lens+bool", B, H, H, Sq, Skv, 64, 64);
    use_mask(&c, CLATTN_MASK_BOOL, &m);
    c.desc.causal = 1;
    c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
    c.desc.window_left = 40;
    c.q_lens = ql;
    c.kv_lens = kl;
    c.poke = poke_beyond_lengths;
    run_configs(env, &c, 1);
    free(m.data);
  }
}

static void additive_masks(attn_env *env) {
  printf("additive masks:\n");
  const int64_t B = 2, H = 2, Sq = 113, Skv = 203;
  ref_rng rng;
  ref_rng_seed(&rng, 78);
  attn_case c;
  {
    /* Normal values, -inf at 30%, a fully -inf row per head, a row of -1e30 (finite: an
     * ordinary score, so that row is the mean of V), a row mixing -1e30 and -inf. */
    mask_image m = mask_alloc(CLATTN_MASK_ADDITIVE, B, H, Sq, Skv, B, H, Sq, 6, 3, NAN);
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Sq; i++)
          for (int64_t j = 0; j < Skv; j++) {
            float x = ref_rng_uniform(&rng) < 0.3 ? -INFINITY : (float)ref_rng_normal(&rng);
            if (i == 7 + h) x = -INFINITY;
            if (i == 20) x = -1e30f;
            if (i == 21) x = j % 2 ? -1e30f : -INFINITY;
            ((float *)m.data)[mask_at(&m, b, h, i, j)] = x;
          }
    attn_case_init(&c, "additive with -inf and -1e30 rows", B, H, H, Sq, Skv, 64, 64);
    use_mask(&c, CLATTN_MASK_ADDITIVE, &m);
    attn_report r = run_configs(env, &c, 1);
    CHECK_EQ(r.empty_rows, B * H); /* only the -inf rows: -1e30 does not mask */
    free(m.data);
  }
  {
    /* Causal + additive mask whose masked (j > i) entries hold NaN and +inf: never read. */
    mask_image m = mask_alloc(CLATTN_MASK_ADDITIVE, B, H, Sq, Skv, B, H, Sq, 2, 0, NAN);
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Sq; i++)
          for (int64_t j = 0; j < Skv; j++)
            ((float *)m.data)[mask_at(&m, b, h, i, j)] =
                j > i ? (j % 2 ? NAN : INFINITY) : (float)(0.5 * ref_rng_normal(&rng));
    attn_case_init(&c, "causal + additive, poison above diagonal", B, H, H, Sq, Skv, 64, 64);
    use_mask(&c, CLATTN_MASK_ADDITIVE, &m);
    c.desc.causal = 1;
    attn_report r = run_configs(env, &c, 0);
    CHECK_EQ(r.nan_o, 0);
    free(m.data);
  }
  {
    /* Broadcast over batch and query rows: (1, H, 1, Skv) ALiBi-like biases, with softcap
     * (applied before the mask). */
    mask_image m = mask_alloc(CLATTN_MASK_ADDITIVE, 1, H, 1, Skv, B, H, Sq, 4, 0, NAN);
    for (int64_t h = 0; h < H; h++)
      for (int64_t j = 0; j < Skv; j++)
        ((float *)m.data)[mask_at(&m, 0, h, 0, j)] =
            j >= 150 ? -INFINITY : -(float)(h + 1) * 0.01f * (float)(Skv - j);
    attn_case_init(&c, "additive (1,H,1,Skv) + softcap 5", B, H, H, Sq, Skv, 64, 64);
    use_mask(&c, CLATTN_MASK_ADDITIVE, &m);
    c.desc.softcap = 5.0f;
    CHECK_EQ(c.mask_stride_batch, 0);
    CHECK_EQ(c.mask_stride_query, 0);
    run_configs(env, &c, 0);
    free(m.data);
  }
}

static void non_finite(attn_env *env) {
  printf("NaN and inf in attended positions:\n");
  const int64_t B = 2, H = 2, Sq = 113, Skv = 203;
  attn_case c;
  /* Causal: key j is attended by rows i >= j only. NaN in K at keys 5, 60, 150 (150 is
   * attended by no row: Sq = 113): rows >= 5 are NaN entirely (and their LSE), rows < 5 clean. */
  static const key_list nan_k = {1, {5, 60, 150, -1}};
  attn_case_init(&c, "causal, NaN in K at keys 5,60,150", B, H, H, Sq, Skv, 64, 64);
  c.desc.causal = 1;
  c.poke = poke_keys;
  c.user = &nan_k;
  attn_report r = run_configs(env, &c, 1);
  CHECK_EQ(r.nan_o, B * H * (Sq - 5) * 64);
  CHECK_EQ(r.nan_lse, B * H * (Sq - 5));
  /* NaN in one V feature at key 40: rows >= 40 get NaN in that feature only. */
  static const key_list nan_v = {2, {40, 170, -1}};
  attn_case_init(&c, "causal, NaN in V at keys 40,170", B, H, H, Sq, Skv, 64, 64);
  c.desc.causal = 1;
  c.poke = poke_keys;
  c.user = &nan_v;
  r = run_configs(env, &c, 1);
  CHECK_EQ(r.nan_o, B * H * (Sq - 40));
  CHECK_EQ(r.nan_lse, 0);
  /* +inf in V feature 0 at key 90 under a window of 10 on each side: rows 80..100 get +inf
   * there. */
  static const key_list inf_v = {3, {90, -1}};
  attn_case_init(&c, "window 10/10, +inf in V at key 90", B, H, H, Sq, Skv, 64, 64);
  c.desc.window_left = c.desc.window_right = 10;
  c.poke = poke_keys;
  c.user = &inf_v;
  r = run_configs(env, &c, 0);
  CHECK_EQ(r.inf_o, B * H * 21);
  CHECK_EQ(r.nan_o, 0);
  {
    /* A per-row bool mask (each row attends a random half of the keys): NaN in K at key
     * 100 makes exactly the rows attending it NaN; NaN in V feature 5 at keys 40 and 170
     * reaches exactly that feature of the rows attending those keys. */
    static const key_list nan_kv = {4, {100, 40, 170, -1}};
    mask_image m = mask_alloc(CLATTN_MASK_BOOL, B, H, Sq, Skv, B, H, Sq, 0, 1, 1);
    ref_rng rng;
    ref_rng_seed(&rng, 79);
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t i = 0; i < Sq; i++)
          for (int64_t j = 0; j < Skv; j++)
            ((uint8_t *)m.data)[mask_at(&m, b, h, i, j)] = (uint8_t)(ref_rng_uniform(&rng) < 0.5);
    attn_case_init(&c, "per-row bool mask, NaN in K and V", B, H, H, Sq, Skv, 64, 64);
    use_mask(&c, CLATTN_MASK_BOOL, &m);
    c.poke = poke_keys;
    c.user = &nan_kv;
    r = run_configs(env, &c, 1);
    CHECK(r.nan_lse > 0 && r.nan_lse < B * H * Sq); /* some rows attend key 100, some not */
    CHECK(r.nan_o > r.nan_lse * 64);                /* and some others see the V NaN */
    free(m.data);
  }
  {
    /* An additive -1e30 is not a mask: a NaN in V at such a key still propagates
     * (exp(-1e30 - m) * NaN), while a NaN at a -inf key does not. */
    mask_image m = mask_alloc(CLATTN_MASK_ADDITIVE, 1, 1, 1, Skv, B, H, Sq, 0, 0, NAN);
    for (int64_t j = 0; j < Skv; j++)
      ((float *)m.data)[mask_at(&m, 0, 0, 0, j)] = j == 40 ? -1e30f : j == 170 ? -INFINITY : 0.0f;
    attn_case_init(&c, "NaN V at -1e30 key (propagates), -inf key (not)", B, H, H, Sq, Skv, 64,
                   64);
    use_mask(&c, CLATTN_MASK_ADDITIVE, &m);
    c.poke = poke_keys;
    c.user = &nan_v;
    r = run_configs(env, &c, 0);
    CHECK_EQ(r.nan_o, B * H * Sq);
    free(m.data);
  }
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  positional(&env);
  lengths(&env);
  bool_masks(&env);
  additive_masks(&env);
  non_finite(&env);
  attn_env_destroy(&env);
  return check_done("test_attention_masks");
}
