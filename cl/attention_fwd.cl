/*
 * Fused attention forward: O = softmax(scale * Q K^T [softcap] [+ masks]) V, FlashAttention-2
 * style. One work-group owns WG * ROWS consecutive query rows of one (batch, head); each
 * work-item owns ROWS of them. Key/value tiles of TILE_K keys stream through __local memory:
 *
 *              TILE_K keys                         DV_PAD features
 *          +----------------+                  +------------------+
 *  HEAD_DIM|  kt = K tile^T |           TILE_K |   vs = V tile    |
 *          +----------------+                  +------------------+
 *
 * Per tile, each work-item computes a ROWS x TILE_K score block as register-blocked outer
 * products (vectors of VEC keys times a broadcast query element), applies softcap and masks,
 * updates its rows' running max m and sum l (online softmax, fp32, in log2 units), and adds
 * P * V into its ROWS x DV_PAD accumulator (vectors of VEC features). Nothing of size
 * Sq x Skv is ever stored. Transposing K in local memory is what lets CPUs (PoCL) vectorise
 * along keys; on GPUs the same tiles are the shared-memory staging they need.
 *
 * With STAGE_V 0, V rows are read from global memory where they are used instead of being
 * copied to local memory first: on CPUs local memory is ordinary cached memory and the copy
 * is pure overhead; GPUs want the staged tile.
 *
 * Masked scores are -inf, and a masked probability is stored as -0.0f: when a V tile holds
 * non-finite values, the value sum skips those entries so that poison at masked positions
 * never reaches the output (0 * NaN would).
 */
#ifndef HEAD_DIM
#define HEAD_DIM 64 /* D, features of Q and K */
#endif
#ifndef V_DIM
#define V_DIM HEAD_DIM /* Dv, features of V and O */
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
#ifndef PAGED
#define PAGED 0 /* 1: K and V rows live in a block pool addressed through block tables */
#endif
#ifndef DECODE
#define DECODE 0 /* 1: build the split-KV decode kernels instead of the fused prefill kernel */
#endif
#ifndef WEIGHTS
#define WEIGHTS 0 /* 1: build the attention-weights kernel (clattn_attention_weights) instead */
#endif
#ifndef W_TYPE
#define W_TYPE 0 /* storage of the weights the WEIGHTS kernel writes */
#endif
#ifndef ALIBI
#define ALIBI 0 /* 1: add the ALiBi bias -slopes[h] * |i' - j| (desc->alibi_slopes) */
#endif
#ifndef STAGE_V
#define STAGE_V 1 /* 1: copy V tiles to local memory; 0: read V rows from global memory */
#endif
#ifndef Q_TYPE
#define Q_TYPE 0 /* storage: 0 f32, 1 f16, 2 bf16 */
#endif
#ifndef K_TYPE
#define K_TYPE 0
#endif
#ifndef V_TYPE
#define V_TYPE 0
#endif
#ifndef O_TYPE
#define O_TYPE 0
#endif

#if TILE_K % VEC != 0
#error "TILE_K must be a multiple of VEC"
#endif

#define NT (TILE_K / VEC)                          /* score vectors per row */
#define DV_PAD ((V_DIM + VEC - 1) / VEC * VEC)     /* V features rounded up to vectors */
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

#include "storage.clh"
#include "vectors.clh"

/* One vector of V features c .. c+VEC-1 of a key row: from the staged tile, or straight
 * from global memory, zero-filled past Dv (the row's end may be the buffer's end). */
#if STAGE_V
#define V_CHUNK(j, c) VLOAD(vs + (j) * DV_PAD + (c))
#else
#define V_CHUNK(j, c) v_direct(v, v_rows[j], c)
inline floatv v_direct(__global const STORAGE(V_TYPE) *v, long row, int c) {
  if (c + VEC <= V_DIM) return LOADV(V_TYPE, v, row + c);
  float tail[VEC];
  for (int u = 0; u < VEC; u++) tail[u] = c + u < V_DIM ? LOAD(V_TYPE, v, row + c + u) : 0.0f;
  return VLOAD(tail);
}
#endif

/* The element index where key `key` of (batch b, KV head hk) starts. Contiguous: the view's
 * strides. Paged: sb is the stride between pool blocks, and the sequence's block table maps
 * logical block key / block_size to a pool block. */
#if PAGED
#define KV_ROW(off, sb, sh, ss, b, hk, key)                                                   \
  ((off) + (long)block_table[(long)(b) * table_stride + (key) / block_size] * (sb) +          \
   (long)(hk) * (sh) + (long)((key) % block_size) * (ss))
#else
#define KV_ROW(off, sb, sh, ss, b, hk, key) \
  ((off) + (long)(b) * (sb) + (long)(hk) * (sh) + (long)(key) * (ss))
#endif

/* ---- masks ---------------------------------------------------------------------------- */

#include "mask_rules.clh"

/* ALiBi: head h adds -slopes[h] * |i' - j| to the score of key j, i' = i + diag the aligned
 * query position, after scale and softcap and before masks. The kernels keep scores in log2
 * units when they can (fold), so the slope is taken in the scores' units. Distances are exact
 * in fp32 up to 2^24 positions. */
#if ALIBI
inline float alibi_distance(int aligned_row, int key) { return (float)abs(aligned_row - key); }
#if VEC > 1
__constant float iota[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
#endif
/* |i' - j| for the VEC keys key0 .. key0+VEC-1. */
inline floatv alibi_distances(int aligned_row, int key0) {
#if VEC == 1
  return alibi_distance(aligned_row, key0);
#else
  return fabs((floatv)((float)(aligned_row - key0)) - VLOAD(iota));
#endif
}
#endif

/* ---- the fused kernel ----------------------------------------------------------------- */

#if !DECODE && !WEIGHTS
__kernel __attribute__((reqd_work_group_size(WG, 1, 1))) void attention_fwd(
    __global const STORAGE(Q_TYPE) *q, long q_off, long q_sb, long q_sh, long q_ss,
    __global const STORAGE(K_TYPE) *k, long k_off, long k_sb, long k_sh, long k_ss,
    __global const STORAGE(V_TYPE) *v, long v_off, long v_sb, long v_sh, long v_ss,
    __global STORAGE(O_TYPE) *o, long o_off, long o_sb, long o_sh, long o_ss,
    __global float *lse, long l_off, long l_sb, long l_sh, long l_ss,
    const int q_heads, const int group, const int sq, const int skv, const float scale,
    const float softcap, const int causal, const int bottom_right, const int window_left,
    const int window_right, __global const int *kv_lens, __global const int *q_lens,
    const int mask_kind, __global const uchar *mask, long m_off, long m_sb, long m_sh,
    long m_sq, __global const float *alibi, __global const int *block_table,
    const long table_stride, const int block_size) {
  __local float kt[HEAD_DIM * TILE_K];
#if STAGE_V
  __local float vs[TILE_K * DV_PAD];
#endif
  __local int nonfinite[2]; /* per tile parity: the V tile holds NaN or inf */

  const int lid = get_local_id(0);
  const int bh = get_global_id(1);
  const int b = bh / q_heads, h = bh % q_heads, hk = h / group;
  const int block_first = get_group_id(0) * (WG * ROWS);
  const int first = block_first + lid * ROWS; /* this work-item's rows: first .. first+ROWS-1 */

  mask_rules rules;
  rules.qlen = q_lens ? clamp(q_lens[b], 0, sq) : sq;
  rules.kvlen = kv_lens ? clamp(kv_lens[b], 0, skv) : skv;
  rules.diag = bottom_right ? rules.kvlen - rules.qlen : 0;
  rules.left = window_left;
  rules.right = causal ? (window_right < 0 ? 0 : min(window_right, 0)) : window_right;

  /* Scores go straight to log2 units unless softcap or an additive mask needs them in
   * natural units first. */
  const int fold = softcap == 0.0f && mask_kind != 2;
  const float q_scale = fold ? scale * LOG2E : scale;

  /* The keys any row of the work-group can attend, in whole tiles. */
  const int block_last = min(block_first + WG * ROWS, rules.qlen) - 1;
  int k_begin = 0, k_end = rules.kvlen;
  if (rules.left >= 0) k_begin = max(0, block_first + rules.diag - rules.left);
  if (rules.right >= 0) k_end = min(k_end, block_last + rules.diag + rules.right + 1);
  k_begin = k_begin / TILE_K * TILE_K;

  const long q_base = q_off + b * q_sb + h * q_sh;
  const long m_base = m_off + b * m_sb + h * m_sh;
#if ALIBI
  const float slope = alibi[h] * (fold ? LOG2E : 1.0f); /* in the scores' units */
#endif

  float qf[ROWS][HEAD_DIM];
  float acc[ROWS][DV_PAD];
  float m_run[ROWS], l_run[ROWS];
  #pragma unroll
  for (int r = 0; r < ROWS; r++) {
    int row = first + r;
    for (int d = 0; d < HEAD_DIM; d++)
      qf[r][d] = row < rules.qlen ? LOAD(Q_TYPE, q, q_base + row * q_ss + d) * q_scale : 0.0f;
    for (int d = 0; d < DV_PAD; d++) acc[r][d] = 0.0f;
    m_run[r] = -INFINITY;
    l_run[r] = 0.0f;
  }
  if (lid == 0) nonfinite[0] = nonfinite[1] = 0;

  for (int k0 = k_begin, parity = 0; k0 < k_end; k0 += TILE_K, parity ^= 1) {
    barrier(CLK_LOCAL_MEM_FENCE); /* the previous tile is consumed */
    if (lid == 0) nonfinite[parity ^ 1] = 0;
    /* K^T: each work-item takes VEC keys at a time, loads VEC features of each as a vector,
     * transposes the VEC x VEC block in registers and stores one vector per feature. Keys
     * past the block's range are zero, so poison there never enters a score. */
    for (int t0 = lid * VEC; t0 < TILE_K; t0 += WG * VEC) {
      long rows[VEC];
      int live[VEC];
#pragma unroll
      for (int u = 0; u < VEC; u++) {
        live[u] = k0 + t0 + u < k_end;
        rows[u] = KV_ROW(k_off, k_sb, k_sh, k_ss, b, hk, min(k0 + t0 + u, k_end - 1));
      }
      int d0 = 0;
#if VEC > 1
      for (; d0 + VEC <= HEAD_DIM; d0 += VEC) {
        floatv x[VEC];
#pragma unroll
        for (int u = 0; u < VEC; u++) x[u] = live[u] ? LOADV(K_TYPE, k, rows[u] + d0) : (floatv)(0.0f);
        transpose(x);
#pragma unroll
        for (int i = 0; i < VEC; i++) VSTORE(x[i], kt + (d0 + i) * TILE_K + t0);
      }
#endif
      for (; d0 < HEAD_DIM; d0++) { /* features past the last whole vector */
        float x[VEC];
#pragma unroll
        for (int u = 0; u < VEC; u++) x[u] = live[u] ? LOAD(K_TYPE, k, rows[u] + d0) : 0.0f;
        VSTORE(VLOAD(x), kt + d0 * TILE_K + t0);
      }
    }
    /* V: whole rows, VEC features at a time, noting any NaN or inf for the value sum; with
     * STAGE_V 0 the rows are only scanned here and read again where they are used. */
    int bad = 0;
    for (int t = lid; t < TILE_K; t += WG) {
      const int key = k0 + t;
      const int live = key < k_end;
      const long v_row = KV_ROW(v_off, v_sb, v_sh, v_ss, b, hk, min(key, k_end - 1));
#if STAGE_V
      __local float *dst = vs + t * DV_PAD;
#endif
      int d = 0;
#if VEC > 1
      for (; d + VEC <= V_DIM; d += VEC) {
        floatv x = live ? LOADV(V_TYPE, v, v_row + d) : (floatv)(0.0f);
        bad |= any(isinf(x) | isnan(x));
#if STAGE_V
        VSTORE(x, dst + d);
#endif
      }
#endif
      for (; d < V_DIM; d++) {
        float x = live ? LOAD(V_TYPE, v, v_row + d) : 0.0f;
        bad |= isinf(x) | isnan(x);
#if STAGE_V
        dst[d] = x;
#endif
      }
#if STAGE_V
      for (; d < DV_PAD; d++) dst[d] = 0.0f;
#endif
    }
    if (bad) atomic_or(&nonfinite[parity], 1);
    barrier(CLK_LOCAL_MEM_FENCE);

    const int k1 = k0 + TILE_K - 1;
    const int last = first + ROWS - 1;
    if (!block_reachable(&rules, first, last, k0, k1)) continue;

    /* S = Q K^T for ROWS x TILE_K, as outer products of query elements and key vectors. */
    floatv s[ROWS][NT];
    #pragma unroll
    for (int r = 0; r < ROWS; r++)
      #pragma unroll
      for (int t = 0; t < NT; t++) s[r][t] = (floatv)(0.0f);
    for (int d = 0; d < HEAD_DIM; d++) {
      floatv kv[NT];
      #pragma unroll
      for (int t = 0; t < NT; t++) kv[t] = VLOAD(kt + d * TILE_K + t * VEC);
      #pragma unroll
      for (int r = 0; r < ROWS; r++) {
        floatv qd = (floatv)(qf[r][d]);
        #pragma unroll
        for (int t = 0; t < NT; t++) s[r][t] = fma(qd, kv[t], s[r][t]);
      }
    }
    if (softcap != 0.0f)
      #pragma unroll
      for (int r = 0; r < ROWS; r++)
        #pragma unroll
        for (int t = 0; t < NT; t++) s[r][t] = softcap * tanh(s[r][t] / softcap);
#if ALIBI
    #pragma unroll
    for (int r = 0; r < ROWS; r++)
      #pragma unroll
      for (int t = 0; t < NT; t++)
        s[r][t] = fma((floatv)(-slope), alibi_distances(first + r + rules.diag, k0 + t * VEC), s[r][t]);
#endif

    /* Masks, element by element, only where the tile is not wholly inside the rules. */
    if (mask_kind != 0 || !block_inside(&rules, first, last, k0, k1)) {
      float sf[ROWS][TILE_K];
      #pragma unroll
      for (int r = 0; r < ROWS; r++) {
        #pragma unroll
        for (int t = 0; t < NT; t++) VSTORE(s[r][t], &sf[r][t * VEC]);
        const long m_row = m_base + (long)(first + r) * m_sq;
        for (int j = 0; j < TILE_K; j++) {
          int key = k0 + j;
          int ok = key_allowed(&rules, first + r, key);
          if (ok && mask_kind == 1) ok = mask[m_row + key] != 0;
          if (ok && mask_kind == 2) {
            float add = ((__global const float *)mask)[m_row + key];
            ok = add != -INFINITY;
            sf[r][j] += add;
          }
          if (!ok) sf[r][j] = -INFINITY;
        }
        #pragma unroll
        for (int t = 0; t < NT; t++) s[r][t] = VLOAD(&sf[r][t * VEC]);
      }
    }
    if (!fold)
      #pragma unroll
      for (int r = 0; r < ROWS; r++)
        #pragma unroll
        for (int t = 0; t < NT; t++) s[r][t] *= LOG2E;

    /* Online softmax: rescale what was accumulated by exp2(m_old - m_new). */
    const int poisoned = nonfinite[parity];
    float p[ROWS][TILE_K], alpha[ROWS], m_new[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      floatv mx = s[r][0];
#pragma unroll
      for (int t = 1; t < NT; t++) mx = fmax(mx, s[r][t]);
      m_new[r] = fmax(m_run[r], hmax(mx));
    }
    /* The rescale factors exp2(m_old - m_new) of VEC rows at a time, in vector registers.
     * A row with nothing attended yet (m_new = -inf) keeps factor 1 and sums at zero. */
#pragma unroll
    for (int r0 = 0; r0 < ROWS; r0 += VEC) {
      float diff[VEC];
#pragma unroll
      for (int u = 0; u < VEC; u++) {
        int r = r0 + u < ROWS ? r0 + u : ROWS - 1;
        diff[u] = m_new[r] == -INFINITY ? 0.0f : m_run[r] - m_new[r];
      }
      float factor[VEC];
      VSTORE(exp2v(VLOAD(diff)), factor);
#pragma unroll
      for (int u = 0; u < VEC && r0 + u < ROWS; u++) alpha[r0 + u] = factor[u];
    }
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      floatv m_use = (floatv)(m_new[r] == -INFINITY ? 0.0f : m_new[r]);
      floatv sum = (floatv)(0.0f);
#pragma unroll
      for (int t = 0; t < NT; t++) {
        floatv pv = exp2v(s[r][t] - m_use);
        if (poisoned) pv = select(pv, (floatv)(-0.0f), isequal(s[r][t], (floatv)(-INFINITY)));
        sum += pv;
        VSTORE(pv, &p[r][t * VEC]);
      }
      l_run[r] = l_run[r] * alpha[r] + hsum(sum);
      m_run[r] = m_new[r];
    }

#if !STAGE_V
    /* Keys past the block's range read a valid row; their probabilities are zero. */
    long v_rows[TILE_K];
#pragma unroll
    for (int j = 0; j < TILE_K; j++) v_rows[j] = KV_ROW(v_off, v_sb, v_sh, v_ss, b, hk, min(k0 + j, k_end - 1));
#endif
    /* O = alpha * O + P V, two vectors of features per pass: 2 * ROWS independent FMA
     * chains hide the FMA latency that one vector per row exposes. */
    int c = 0;
    for (; c + 2 * VEC <= DV_PAD; c += 2 * VEC) {
      floatv lo[ROWS], hi[ROWS];
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        lo[r] = VLOAD(&acc[r][c]) * alpha[r];
        hi[r] = VLOAD(&acc[r][c + VEC]) * alpha[r];
      }
#pragma unroll
      for (int j = 0; j < TILE_K; j++) {
        floatv v_lo = V_CHUNK(j, c), v_hi = V_CHUNK(j, c + VEC);
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
          if (poisoned && as_uint(p[r][j]) == 0x80000000u) continue; /* masked: skip poison */
          lo[r] = fma((floatv)(p[r][j]), v_lo, lo[r]);
          hi[r] = fma((floatv)(p[r][j]), v_hi, hi[r]);
        }
      }
#pragma unroll
      for (int r = 0; r < ROWS; r++) {
        VSTORE(lo[r], &acc[r][c]);
        VSTORE(hi[r], &acc[r][c + VEC]);
      }
    }
    if (c < DV_PAD) { /* an odd number of feature vectors: the last one alone */
      floatv out[ROWS];
#pragma unroll
      for (int r = 0; r < ROWS; r++) out[r] = VLOAD(&acc[r][c]) * alpha[r];
#pragma unroll
      for (int j = 0; j < TILE_K; j++) {
        floatv vv = V_CHUNK(j, c);
#pragma unroll
        for (int r = 0; r < ROWS; r++) {
          if (poisoned && as_uint(p[r][j]) == 0x80000000u) continue;
          out[r] = fma((floatv)(p[r][j]), vv, out[r]);
        }
      }
#pragma unroll
      for (int r = 0; r < ROWS; r++) VSTORE(out[r], &acc[r][c]);
    }
  }

  /* Normalise and store. Rows with nothing attended (l = 0) are zero; NaN sums propagate. */
  const long o_base = o_off + b * o_sb + h * o_sh;
  #pragma unroll
  for (int r = 0; r < ROWS; r++) {
    int row = first + r;
    if (row >= sq) break;
    int empty = l_run[r] == 0.0f;
    float inv = empty ? 0.0f : 1.0f / l_run[r];
    for (int d = 0; d < V_DIM; d++)
      STORE(O_TYPE, o, o_base + row * o_ss + d, empty ? 0.0f : acc[r][d] * inv);
    if (lse)
      lse[l_off + b * l_sb + h * l_sh + row * l_ss] =
          empty ? -INFINITY : (m_run[r] + log2(l_run[r])) * LN2; /* m is in log2 units */
  }
}
#endif /* !DECODE && !WEIGHTS */

/* ---- split-KV decode -------------------------------------------------------------------
 *
 * For few query rows and many keys. Work-item (s, b * Hkv + hk) reduces key slice s of KV
 * head hk for ROWS = group * sq query rows at once (every query head reading that KV head,
 * times every new token), so K and V are read from memory once. Keys go VEC at a time: one
 * K row load feeds all ROWS dot products (vectors along D); one V vector feeds all ROWS
 * value sums. The work-item writes each row's partial softmax state to `part`:
 *
 *   part[((b * q_heads + h) * sq + i) * splits + s] = { m (log2 units), l, acc[DV_PAD] }
 *
 * and attention_decode_merge combines the slices in a fixed order (deterministic).
 */
#if DECODE
#define PART_SIZE (DV_PAD + 2)

__kernel void attention_decode_partial(
    __global const STORAGE(Q_TYPE) *q, long q_off, long q_sb, long q_sh, long q_ss,
    __global const STORAGE(K_TYPE) *k, long k_off, long k_sb, long k_sh, long k_ss,
    __global const STORAGE(V_TYPE) *v, long v_off, long v_sb, long v_sh, long v_ss,
    __global float *part, const int q_heads, const int group, const int sq, const int skv,
    const float scale, const float softcap, const int causal, const int bottom_right,
    const int window_left, const int window_right, __global const int *kv_lens,
    __global const int *q_lens, const int mask_kind, __global const uchar *mask, long m_off,
    long m_sb, long m_sh, long m_sq, __global const float *alibi,
    __global const int *block_table, const long table_stride, const int block_size,
    const int splits, const int split_len) {
  const int s = get_global_id(0);
  if (s >= splits) return; /* the global size is rounded up to the work-group size */
  const int kv_heads = q_heads / group;
  const int b = get_global_id(1) / kv_heads, hk = get_global_id(1) % kv_heads;

  mask_rules rules;
  rules.qlen = q_lens ? clamp(q_lens[b], 0, sq) : sq;
  rules.kvlen = kv_lens ? clamp(kv_lens[b], 0, skv) : skv;
  rules.diag = bottom_right ? rules.kvlen - rules.qlen : 0;
  rules.left = window_left;
  rules.right = causal ? (window_right < 0 ? 0 : min(window_right, 0)) : window_right;
  const int fold = softcap == 0.0f && mask_kind != 2;
  const float q_scale = fold ? scale * LOG2E : scale;

  /* This slice's keys, narrowed to those some row can attend. */
  int k_begin = s * split_len, k_end = min(k_begin + split_len, rules.kvlen);
  if (rules.left >= 0) k_begin = max(k_begin, rules.diag - rules.left);
  if (rules.right >= 0) k_end = min(k_end, rules.qlen - 1 + rules.diag + rules.right + 1);

  float qf[ROWS][HEAD_DIM], acc[ROWS][DV_PAD], m_run[ROWS], l_run[ROWS];
  int row_pos[ROWS]; /* query index i of each row */
  long m_rows[ROWS];
#if ALIBI
  float slope[ROWS]; /* in the scores' units */
#endif
  for (int r = 0; r < ROWS; r++) {
    const int h = hk * group + r / sq, i = r % sq;
    row_pos[r] = i;
#if ALIBI
    slope[r] = alibi[h] * (fold ? LOG2E : 1.0f);
#endif
    m_rows[r] = m_off + b * m_sb + h * m_sh + (long)i * m_sq;
    const long q_row = q_off + b * q_sb + h * q_sh + (long)i * q_ss;
    for (int d = 0; d < HEAD_DIM; d++)
      qf[r][d] = i < rules.qlen ? LOAD(Q_TYPE, q, q_row + d) * q_scale : 0.0f;
    for (int d = 0; d < DV_PAD; d++) acc[r][d] = 0.0f;
    m_run[r] = -INFINITY;
    l_run[r] = 0.0f;
  }

  for (int k0 = k_begin; k0 < k_end; k0 += VEC) {
    long k_rows[VEC], v_rows[VEC];
    float sc[ROWS][VEC];
#pragma unroll
    for (int u = 0; u < VEC; u++) {
      const int key = min(k0 + u, k_end - 1); /* past the slice: a valid row, masked below */
      k_rows[u] = KV_ROW(k_off, k_sb, k_sh, k_ss, b, hk, key);
      v_rows[u] = KV_ROW(v_off, v_sb, v_sh, v_ss, b, hk, key);
    }
    /* Scores: one K row load serves every row's dot product. Only the row loops are
     * unrolled: unrolling keys too multiplies the code (and compile time) by VEC. */
    for (int u = 0; u < VEC; u++) {
      floatv dots[ROWS];
#pragma unroll
      for (int r = 0; r < ROWS; r++) dots[r] = (floatv)(0.0f);
      int d = 0;
#if VEC > 1
      for (; d + VEC <= HEAD_DIM; d += VEC) {
        floatv kv = LOADV(K_TYPE, k, k_rows[u] + d);
#pragma unroll
        for (int r = 0; r < ROWS; r++) dots[r] = fma(VLOAD(&qf[r][d]), kv, dots[r]);
      }
#endif
#pragma unroll
      for (int r = 0; r < ROWS; r++) sc[r][u] = hsum(dots[r]);
      for (; d < HEAD_DIM; d++) {
        float kd = LOAD(K_TYPE, k, k_rows[u] + d);
#pragma unroll
        for (int r = 0; r < ROWS; r++) sc[r][u] = fma(qf[r][d], kd, sc[r][u]);
      }
    }
    /* Softcap and masks, then log2 units, as the fused kernel does. */
    const int inside = mask_kind == 0 && k0 + VEC <= k_end &&
                       block_inside(&rules, 0, sq - 1, k0, k0 + VEC - 1);
    /* Most decode tiles need nothing here: no mask boundary, no softcap, log2 units already
     * (unless an ALiBi bias is to be added). */
    int nothing_to_do = inside && fold;
#if ALIBI
    nothing_to_do = 0;
#endif
#pragma unroll
    for (int r = 0; r < ROWS && !nothing_to_do; r++) {
      for (int u = 0; u < VEC; u++) {
        float x = sc[r][u];
        if (softcap != 0.0f) x = softcap * tanh(x / softcap);
#if ALIBI
        x = fma(-slope[r], alibi_distance(row_pos[r] + rules.diag, k0 + u), x);
#endif
        if (!inside) {
          const int key = k0 + u;
          int ok = key < k_end && key_allowed(&rules, row_pos[r], key);
          if (ok && mask_kind == 1) ok = mask[m_rows[r] + key] != 0;
          if (ok && mask_kind == 2) {
            float add = ((__global const float *)mask)[m_rows[r] + key];
            ok = add != -INFINITY;
            x += add;
          }
          if (!ok) x = -INFINITY;
        }
        sc[r][u] = fold ? x : x * LOG2E;
      }
    }
    /* Online softmax; masked probabilities are -0.0f so that poison can be skipped. */
    float p[ROWS][VEC], alpha[ROWS];
#pragma unroll
    for (int r = 0; r < ROWS; r++) {
      floatv sv = VLOAD(sc[r]);
      float m_new = fmax(m_run[r], hmax(sv));
      int none = m_new == -INFINITY;
      alpha[r] = none ? 1.0f : exp2(m_run[r] - m_new);
      floatv pv = exp2v(sv - (floatv)(none ? 0.0f : m_new));
      pv = select(pv, (floatv)(-0.0f), isequal(sv, (floatv)(-INFINITY)));
      l_run[r] = l_run[r] * alpha[r] + hsum(pv);
      m_run[r] = m_new;
      VSTORE(pv, p[r]);
    }
    /* The VEC keys' V rows, read row by row so that memory streams, converted, and checked
     * for NaN/inf: x * 0 is NaN exactly when x is NaN or infinite, so one fma per vector
     * carries the check (a branch per load stalled the loads). */
    float vt[VEC][DV_PAD];
    floatv nonfinite = (floatv)(0.0f);
    for (int u = 0; u < VEC; u++) {
      int c = 0;
#if VEC > 1
      for (; c + VEC <= V_DIM; c += VEC) {
        floatv x = LOADV(V_TYPE, v, v_rows[u] + c);
        nonfinite = fma(x, (floatv)(0.0f), nonfinite);
        VSTORE(x, &vt[u][c]);
      }
#endif
      for (; c < V_DIM; c++) {
        float x = LOAD(V_TYPE, v, v_rows[u] + c);
        nonfinite += (floatv)(x * 0.0f);
        vt[u][c] = x;
      }
      for (; c < DV_PAD; c++) vt[u][c] = 0.0f;
    }
    const int poisoned = isnan(hsum(nonfinite));
    /* O = alpha * O + P V, VEC features at a time for VEC keys. */
    for (int c = 0; c < DV_PAD; c += VEC) {
      floatv out[ROWS];
#pragma unroll
      for (int r = 0; r < ROWS; r++) out[r] = VLOAD(&acc[r][c]) * alpha[r];
      for (int u = 0; u < VEC; u++) {
        floatv vv = VLOAD(&vt[u][c]);
#pragma unroll
        for (int r = 0; r < ROWS; r++)
          if (!poisoned || as_uint(p[r][u]) != 0x80000000u) out[r] = fma((floatv)(p[r][u]), vv, out[r]);
      }
#pragma unroll
      for (int r = 0; r < ROWS; r++) VSTORE(out[r], &acc[r][c]);
    }
  }

  for (int r = 0; r < ROWS; r++) {
    const int h = hk * group + r / sq, i = r % sq;
    __global float *dst = part + ((((long)b * q_heads + h) * sq + i) * splits + s) * PART_SIZE;
    dst[0] = m_run[r];
    dst[1] = l_run[r];
    for (int d = 0; d < DV_PAD; d++) dst[2 + d] = acc[r][d];
  }
}

/* Combines the slices of each query row: M = max m_s, L = sum l_s 2^(m_s - M),
 * O = sum acc_s 2^(m_s - M) / L. Rows with nothing attended (L = 0) are zero, LSE -inf. A
 * slice with m_s = -inf weighs 0, not nothing: it attended no key (l_s = 0, acc_s = 0) or
 * only NaN scores (m ignores NaN, l_s is NaN), and that NaN must reach the row. */
__kernel void attention_decode_merge(__global const float *part,
                                     __global STORAGE(O_TYPE) *o, long o_off, long o_sb,
                                     long o_sh, long o_ss, __global float *lse, long l_off,
                                     long l_sb, long l_sh, long l_ss, const int q_heads,
                                     const int sq, const int splits) {
  const int row = get_global_id(0), b = get_global_id(1);
  if (row >= q_heads * sq) return;
  const int h = row / sq, i = row % sq;
  __global const float *src = part + (((long)b * q_heads + h) * sq + i) * splits * PART_SIZE;
  float m_max = -INFINITY;
  for (int s = 0; s < splits; s++) m_max = fmax(m_max, src[s * PART_SIZE]);
  float l_sum = 0.0f;
  for (int s = 0; s < splits; s++) {
    float m_s = src[s * PART_SIZE];
    l_sum += src[s * PART_SIZE + 1] * (m_s == -INFINITY ? 0.0f : exp2(m_s - m_max));
  }
  const int empty = l_sum == 0.0f;
  const float inv = empty ? 0.0f : 1.0f / l_sum;
  const long o_row = o_off + b * o_sb + h * o_sh + (long)i * o_ss;
  /* VEC features at a time (the slices' rows are padded to DV_PAD), so each slice's weight
   * is computed once per vector rather than once per feature. */
  for (int d = 0; d < DV_PAD; d += VEC) {
    floatv a = (floatv)(0.0f);
    for (int s = 0; s < splits; s++) {
      float m_s = src[s * PART_SIZE];
      a += VLOAD(src + s * PART_SIZE + 2 + d) * (m_s == -INFINITY ? 0.0f : exp2(m_s - m_max));
    }
    float out[VEC];
    VSTORE(a, out);
    for (int u = 0; u < VEC && d + u < V_DIM; u++)
      STORE(O_TYPE, o, o_row + d + u, empty ? 0.0f : out[u] * inv);
  }
  if (lse)
    lse[l_off + b * l_sb + h * l_sh + (long)i * l_ss] =
        empty ? -INFINITY : (m_max + log2(l_sum)) * LN2;
}
#endif /* DECODE */

/* ---- attention weights -----------------------------------------------------------------
 *
 * The (B, Hq, Sq, Skv) matrix of one stage of the attention the kernels above compute
 * without ever storing it, for inspection (clattn_attention_weights):
 *
 *   mode 0  s = scale * q . k     (fp32, as the fused kernel's unfolded path: q*scale, then
 *                                  fma over d in order)
 *   mode 1  s = softcap * tanh(s / softcap)   (when softcap > 0)
 *   mode 2  ALiBi bias added, masked entries -inf, additive mask added (the same
 *           mask_rules as above)
 *   mode 3  p = exp(s - lse) for attended entries, 0 for masked ones and empty rows
 *
 * One work-item per (key j, query row i, batch*head): global (roundup(Skv, WG), Sq, B*Hq),
 * local (WG, 1, 1), so a work-group writes consecutive keys of one row. A diagnostic path:
 * agreement with the fused kernel's rules matters more than speed.
 */
#if WEIGHTS
__kernel void attention_weights(
    __global const STORAGE(Q_TYPE) *q, long q_off, long q_sb, long q_sh, long q_ss,
    __global const STORAGE(K_TYPE) *k, long k_off, long k_sb, long k_sh, long k_ss,
    __global STORAGE(W_TYPE) *w, long w_off, long w_sb, long w_sh, long w_ss,
    __global const float *lse, long l_off, long l_sb, long l_sh, long l_ss,
    const int q_heads, const int group, const int sq, const int skv, const int head_dim,
    const float scale, const float softcap, const int causal, const int bottom_right,
    const int window_left, const int window_right, __global const int *kv_lens,
    __global const int *q_lens, const int mask_kind, __global const uchar *mask, long m_off,
    long m_sb, long m_sh, long m_sq, __global const float *alibi, const int mode) {
  const int j = get_global_id(0);
  const int i = get_global_id(1);
  const int bh = get_global_id(2);
  if (j >= skv) return;
  const int b = bh / q_heads, h = bh % q_heads, hk = h / group;

  /* s = scale * q . k in fp32: the query element is scaled first and the products are
   * accumulated by fma in feature order, as attention_fwd does when it does not fold
   * log2(e) into the scale. */
  const long q_row = q_off + b * q_sb + h * q_sh + (long)i * q_ss;
  const long k_row = k_off + b * k_sb + hk * k_sh + (long)j * k_ss;
  float s = 0.0f;
  for (int d = 0; d < head_dim; d++)
    s = fma(LOAD(Q_TYPE, q, q_row + d) * scale, LOAD(K_TYPE, k, k_row + d), s);

  if (mode >= 1 && softcap != 0.0f) s = softcap * tanh(s / softcap);

  if (mode >= 2) {
    mask_rules rules;
    rules.qlen = q_lens ? clamp(q_lens[b], 0, sq) : sq;
    rules.kvlen = kv_lens ? clamp(kv_lens[b], 0, skv) : skv;
    rules.diag = bottom_right ? rules.kvlen - rules.qlen : 0;
    rules.left = window_left;
    rules.right = causal ? (window_right < 0 ? 0 : min(window_right, 0)) : window_right;
#if ALIBI
    s = fma(-alibi[h], alibi_distance(i + rules.diag, j), s); /* a bias: before the masks */
#endif
    int ok = key_allowed(&rules, i, j);
    const long m_at = m_off + b * m_sb + h * m_sh + (long)i * m_sq + j;
    if (ok && mask_kind == 1) ok = mask[m_at] != 0;
    if (ok && mask_kind == 2) {
      float add = ((__global const float *)mask)[m_at];
      ok = add != -INFINITY;
      s += add;
    }
    if (!ok) s = -INFINITY;
  }

  if (mode == 3) {
    /* A score of -inf is masked whatever made it so; a row with LSE -inf attends nothing. */
    const float l = lse[l_off + b * l_sb + h * l_sh + (long)i * l_ss];
    s = (s == -INFINITY || l == -INFINITY) ? 0.0f : exp(s - l);
  }
  STORE(W_TYPE, w, w_off + b * w_sb + h * w_sh + (long)i * w_ss + j, s);
}
#endif /* WEIGHTS */
