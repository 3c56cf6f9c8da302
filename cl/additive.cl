/*
 * Fused additive (Bahdanau, "concat") attention: e_ij = v^T tanh(a_i + b_j), s_ij = scale * e_ij,
 * then ALiBi, masks, online softmax and the value sum, as attention_fwd.cl does for q . k.
 * a_i = W1 q_i and b_j = W2 k_j (A floats each) were projected by CLBlast into dense scratch
 * buffers qa (B, Hq, Sq, A) and kb (B, Hkv, Skv, A); nothing of size Sq x Skv is stored.
 *
 * One work-group owns WG * ROWS consecutive query rows of one (batch, head); each work-item owns
 * ROWS of them. Keys go in tiles of TILE_K; within a tile the A features go in chunks of at most
 * A_TILE, staged transposed in __local memory with the chunk of v (pre-multiplied by the scale):
 *
 *              TILE_K keys
 *          +----------------+        +----+
 *   A_TILE |  bt = b chunk^T |  A_TILE| vw |
 *          +----------------+        +----+
 *
 * Each work-item accumulates a ROWS x TILE_K score block, VEC keys per vector: for each feature
 * a, s[r][keys] += vw[a] * tanh(a_i[a] + bt[a][keys]), with a_i[a] read from global memory (a
 * broadcast scalar per row; A can be 4096, too many to keep in registers). The chunking over A
 * keeps local memory bounded for any A. tanh is evaluated on whole vectors (tanhv below): it is
 * the cost of this kernel (Sq * Skv * A evaluations).
 *
 * V rows are read from global memory where they are used, and only for keys some row of the
 * work-item attends: a masked key's V row is never read. Masked probabilities are -0.0f, and a
 * row skips those keys, so poison in V at positions another row attends cannot leak into it.
 *
 * The storage macros, the vector helpers (exp2v) and the positional rules are the fragments
 * attention_fwd.cl includes too (storage.clh, vectors.clh, mask_rules.clh).
 */
#ifndef V_DIM
#define V_DIM 64 /* Dv, features of V and O */
#endif
#ifndef ROWS
#define ROWS 4 /* query rows per work-item */
#endif
#ifndef TILE_K
#define TILE_K 16 /* keys per tile; a multiple of VEC */
#endif
#ifndef VEC
#define VEC 8 /* vector width along keys and along V features: 1, 2, 4, 8 or 16 */
#endif
#ifndef WG
#define WG 8 /* work-items per work-group */
#endif
#ifndef A_TILE
#define A_TILE 64 /* features of a_i / b_j staged per chunk */
#endif
#ifndef ALIBI
#define ALIBI 0 /* 1: add the ALiBi bias -slopes[h] * |i' - j| */
#endif
#ifndef TANH_BUILTIN
#define TANH_BUILTIN 0 /* 1: the builtin tanh instead of tanhv (for measurements) */
#endif
#ifndef V_TYPE
#define V_TYPE 0 /* storage: 0 f32, 1 f16, 2 bf16 */
#endif
#ifndef O_TYPE
#define O_TYPE 0
#endif

#if TILE_K % VEC != 0
#error "TILE_K must be a multiple of VEC"
#endif

#define NT (TILE_K / VEC)                      /* score vectors per row */
#define DV_PAD ((V_DIM + VEC - 1) / VEC * VEC) /* V features rounded up to vectors */
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

#include "storage.clh"
#include "vectors.clh"

/* tanh on whole vectors (PoCL scalarises the builtin). Two formulas, both evaluated, one
 * selected per lane:
 *   |x| >= 1/4:  1 - 2 / (e^(2|x|) + 1), sign restored from x. e^(2|x|) is formed like exp2v
 *                but for y = 2|x| log2(e) in [0, 64] only (beyond 64 / (2 log2 e) ~ 22,
 *                tanh is 1 in fp32; fmin also maps +inf there). Absolute error ~1e-7.
 *   |x| <  1/4:  the odd Taylor series through x^9, whose first omitted term is below
 *                0.25^11 * 0.0089 = 2e-9; this keeps small arguments relatively accurate,
 *                where 1 - 2 / (e + 1) would cancel.
 * NaN fails the |x| >= 1/4 test and takes the polynomial, which keeps it NaN. */
inline floatv tanhv(floatv x) {
#if TANH_BUILTIN
  return tanh(x);
#else
  floatv ax = fabs(x);
  floatv y = fmin(ax * (2.0f * LOG2E), (floatv)(64.0f));
  floatv n = rint(y);
  floatv f = (y - n) * LN2;
  floatv e = fma(f, (floatv)(1.0f / 720.0f), (floatv)(1.0f / 120.0f));
  e = fma(f, e, (floatv)(1.0f / 24.0f));
  e = fma(f, e, (floatv)(1.0f / 6.0f));
  e = fma(f, e, (floatv)(0.5f));
  e = fma(f, e, (floatv)(1.0f));
  e = fma(f, e, (floatv)(1.0f));
  e *= AS_FLOATV((CONVERT_INTV(n) + 127) << 23);
  floatv big = 1.0f - 2.0f / (e + 1.0f);
  big = AS_FLOATV(AS_UINTV(big) | (AS_UINTV(x) & (uintv)(0x80000000u)));
  floatv x2 = x * x;
  floatv p = fma(x2, (floatv)(62.0f / 2835.0f), (floatv)(-17.0f / 315.0f));
  p = fma(x2, p, (floatv)(2.0f / 15.0f));
  p = fma(x2, p, (floatv)(-1.0f / 3.0f));
  floatv small = fma(x * x2, p, x);
  return select(small, big, isgreaterequal(ax, (floatv)(0.25f)));
#endif
}

/* ---- masks ------------------------------------------------------------------------------ */

#include "mask_rules.clh"

/* ---- the kernel ------------------------------------------------------------------------ */

/* One vector of V features c .. c+VEC-1 of a row, zero past Dv (the row may end the buffer). */
inline floatv v_chunk(__global const STORAGE(V_TYPE) *v, long row, int c) {
#if V_TYPE == 0 && VEC > 1
  if (c + VEC <= V_DIM) return VLOAD(v + row + c);
#endif
  float x[VEC];
#pragma unroll
  for (int u = 0; u < VEC; u++) x[u] = c + u < V_DIM ? LOAD(V_TYPE, v, row + c + u) : 0.0f;
  return VLOAD(x);
}

/* Adds ALiBi, applies the positional rules and the mask tensor to a ROWS x TILE_K score
 * block (in the scores' units; see `fold` in the kernel). */
inline void apply_masks(floatv s[ROWS][NT], const mask_rules *rules, int first, int k0,
                        int mask_kind, __global const uchar *mask, long m_base, long m_sq,
                        float slope) {
#if ALIBI
#pragma unroll
  for (int r = 0; r < ROWS; r++)
#pragma unroll
    for (int t = 0; t < NT; t++) {
      float d[VEC];
#pragma unroll
      for (int u = 0; u < VEC; u++)
        d[u] = (float)abs(first + r + rules->diag - (k0 + t * VEC + u));
      s[r][t] = fma((floatv)(-slope), VLOAD(d), s[r][t]);
    }
#endif
  const int last = first + ROWS - 1, k1 = k0 + TILE_K - 1;
  if (mask_kind == 0 && block_inside(rules, first, last, k0, k1)) return;
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    float sf[TILE_K];
#pragma unroll
    for (int t = 0; t < NT; t++) VSTORE(s[r][t], &sf[t * VEC]);
    const long m_row = m_base + (long)(first + r) * m_sq;
    for (int j = 0; j < TILE_K; j++) {
      const int key = k0 + j;
      int ok = key_allowed(rules, first + r, key);
      if (ok && mask_kind == 1) ok = mask[m_row + key] != 0;
      if (ok && mask_kind == 2) {
        float add = ((__global const float *)mask)[m_row + key];
        ok = add != -INFINITY;
        sf[j] += add;
      }
      if (!ok) sf[j] = -INFINITY;
    }
#pragma unroll
    for (int t = 0; t < NT; t++) s[r][t] = VLOAD(&sf[t * VEC]);
  }
}

__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void attention_additive(
    __global const float *qa, __global const float *kb, __global const float *vw_global,
    const int attn_dim, __global const STORAGE(V_TYPE) *v, long v_off, long v_sb, long v_sh,
    long v_ss, __global STORAGE(O_TYPE) *o, long o_off, long o_sb, long o_sh, long o_ss,
    __global float *lse, long l_off, long l_sb, long l_sh, long l_ss, const int q_heads,
    const int group, const int sq, const int skv, const float scale, const float softcap,
    const int causal, const int bottom_right, const int window_left, const int window_right,
    __global const int *kv_lens, __global const int *q_lens, const int mask_kind,
    __global const uchar *mask, long m_off, long m_sb, long m_sh, long m_sq,
    __global const float *alibi) {
  __local float bt[A_TILE * TILE_K];
  __local float vw[A_TILE];
  (void)softcap; /* the host refuses softcap for additive scores */

  const int lid = get_local_id(0);
  const int bh = get_global_id(1);
  const int b = bh / q_heads, h = bh % q_heads, hk = h / group;
  const int block_first = get_group_id(0) * (WG * ROWS);
  const int first = block_first + lid * ROWS;
  const int last = first + ROWS - 1;

  mask_rules rules;
  rules.qlen = q_lens ? clamp(q_lens[b], 0, sq) : sq;
  rules.kvlen = kv_lens ? clamp(kv_lens[b], 0, skv) : skv;
  rules.diag = bottom_right ? rules.kvlen - rules.qlen : 0;
  rules.left = window_left;
  rules.right = causal ? (window_right < 0 ? 0 : min(window_right, 0)) : window_right;

  /* Scores go straight to log2 units (folded into v) unless an additive mask must be added
   * in natural units first. */
  const int fold = mask_kind != 2;
  const float v_scale = fold ? scale * LOG2E : scale;
#if ALIBI
  const float slope = alibi[h] * (fold ? LOG2E : 1.0f);
#else
  const float slope = 0.0f;
#endif

  const int block_last = min(block_first + WG * ROWS, rules.qlen) - 1;
  int k_begin = 0, k_end = rules.kvlen;
  if (rules.left >= 0) k_begin = max(0, block_first + rules.diag - rules.left);
  if (rules.right >= 0) k_end = min(k_end, block_last + rules.diag + rules.right + 1);
  k_begin = k_begin / TILE_K * TILE_K;

  /* a_i of each row; rows past Sq read the last row (their results are never stored). */
  __global const float *a_rows[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; r++)
    a_rows[r] = qa + ((long)bh * sq + min(first + r, sq - 1)) * attn_dim;
  __global const float *b_head = kb + ((long)b * (q_heads / group) + hk) * skv * attn_dim;
  const long m_base = m_off + b * m_sb + h * m_sh;
  const long v_base = v_off + b * v_sb + hk * v_sh;

  float acc[ROWS][DV_PAD], m_run[ROWS], l_run[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    for (int d = 0; d < DV_PAD; d++) acc[r][d] = 0.0f;
    m_run[r] = -INFINITY;
    l_run[r] = 0.0f;
  }

  for (int k0 = k_begin; k0 < k_end; k0 += TILE_K) {
    const int reachable = block_reachable(&rules, first, last, k0, k0 + TILE_K - 1);
    floatv s[ROWS][NT];
#pragma unroll
    for (int r = 0; r < ROWS; r++)
#pragma unroll
      for (int t = 0; t < NT; t++) s[r][t] = (floatv)(0.0f);

    for (int a0 = 0; a0 < attn_dim; a0 += A_TILE) {
      const int na = min(A_TILE, attn_dim - a0);
      barrier(CLK_LOCAL_MEM_FENCE); /* the previous chunk is consumed */
      /* b^T: consecutive work-items read consecutive features of one key row. Keys past
       * the block's range are zero (their scores are masked below). */
      for (int idx = lid; idx < na * TILE_K; idx += WG) {
        const int t = idx / na, a = idx - t * na, key = k0 + t;
        bt[a * TILE_K + t] = key < k_end ? b_head[(long)key * attn_dim + a0 + a] : 0.0f;
      }
      for (int a = lid; a < na; a += WG) vw[a] = vw_global[a0 + a] * v_scale;
      barrier(CLK_LOCAL_MEM_FENCE);
      if (!reachable) continue;
      for (int a = 0; a < na; a++) {
        floatv kv[NT];
#pragma unroll
        for (int t = 0; t < NT; t++) kv[t] = VLOAD(bt + a * TILE_K + t * VEC);
        const floatv wa = (floatv)(vw[a]);
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
          const floatv x = (floatv)(a_rows[r][a0 + a]);
#pragma unroll
          for (int t = 0; t < NT; t++) s[r][t] = fma(wa, tanhv(x + kv[t]), s[r][t]);
        }
      }
    }
    if (!reachable) continue;

    apply_masks(s, &rules, first, k0, mask_kind, mask, m_base, m_sq, slope);
    if (!fold)
#pragma unroll
      for (int r = 0; r < ROWS; r++)
#pragma unroll
        for (int t = 0; t < NT; t++) s[r][t] *= LOG2E;

    /* Online softmax in log2 units; masked probabilities are -0.0f. */
    float p[ROWS][TILE_K], alpha[ROWS];
    int attended[TILE_K];
    for (int j = 0; j < TILE_K; j++) attended[j] = 0;
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      floatv mx = s[r][0];
#pragma unroll
      for (int t = 1; t < NT; t++) mx = fmax(mx, s[r][t]);
      const float m_new = fmax(m_run[r], hmax(mx));
      const int none = m_new == -INFINITY; /* nothing attended yet: keep factor 1, sum 0 */
      alpha[r] = none ? 1.0f : exp2(m_run[r] - m_new);
      const floatv m_use = (floatv)(none ? 0.0f : m_new);
      floatv sum = (floatv)(0.0f);
#pragma unroll
      for (int t = 0; t < NT; t++) {
        floatv pv = exp2v(s[r][t] - m_use);
        pv = select(pv, (floatv)(-0.0f), isequal(s[r][t], (floatv)(-INFINITY)));
        sum += pv;
        VSTORE(pv, &p[r][t * VEC]);
      }
      l_run[r] = l_run[r] * alpha[r] + hsum(sum);
      m_run[r] = m_new;
      for (int j = 0; j < TILE_K; j++) attended[j] |= as_uint(p[r][j]) != 0x80000000u;
    }

    /* O = alpha * O + P V over the keys some row attends. */
    for (int c = 0; c < DV_PAD; c += VEC) {
      floatv out[ROWS];
#pragma unroll
      for (int r = 0; r < ROWS; r++) out[r] = VLOAD(&acc[r][c]) * alpha[r];
      for (int j = 0; j < TILE_K; j++) {
        if (!attended[j]) continue;
        const floatv vv = v_chunk(v, v_base + (long)(k0 + j) * v_ss, c);
#pragma unroll
        for (int r = 0; r < ROWS; r++)
          if (as_uint(p[r][j]) != 0x80000000u) out[r] = fma((floatv)(p[r][j]), vv, out[r]);
      }
#pragma unroll
      for (int r = 0; r < ROWS; r++) VSTORE(out[r], &acc[r][c]);
    }
  }

  /* Normalise and store. Rows with nothing attended (l = 0) are zero; NaN sums propagate. */
  const long o_base = o_off + b * o_sb + h * o_sh;
#pragma unroll
  for (int r = 0; r < ROWS; r++) {
    const int row = first + r;
    if (row >= sq) break;
    const int empty = l_run[r] == 0.0f;
    const float inv = empty ? 0.0f : 1.0f / l_run[r];
    for (int d = 0; d < V_DIM; d++)
      STORE(O_TYPE, o, o_base + row * o_ss + d, empty ? 0.0f : acc[r][d] * inv);
    if (lse)
      lse[l_off + b * l_sb + h * l_sh + row * l_ss] =
          empty ? -INFINITY : (m_run[r] + log2(l_run[r])) * LN2;
  }
}
