/*
 * Hard attention (Xu et al. 2015): each query picks one key and outputs that key's value row.
 *
 *   SAMPLE  i = argmax_j (s_j + g_j),  g_j ~ Gumbel(0, 1)   (Gumbel-max: i ~ softmax(s))
 *   ARGMAX  i = argmax_j s_j                                 (lowest index among equals)
 *
 * s_j is the score of clattn_attention_forward in natural units, computed as the weights
 * kernel of attention_fwd.cl computes it: q elements scaled first, products accumulated by
 * fma in feature order, then softcap, the ALiBi bias and the additive mask. Masked keys'
 * scores are dropped before they are compared; their V rows are never read.
 *
 * Work layout: one work-item per (query row t, chunk of DRAWS consecutive draws) of one
 * (batch, head):
 *
 *   dim 0: item = t * chunks + c, chunks = ceil(draws / DRAWS)   (rounded up to the group)
 *   dim 1: b * Hq + h
 *
 * The work-item streams its row's keys once, computes each score once, and keeps one running
 * (max, index) pair per draw of its chunk in registers: the dot product is shared by the
 * chunk's draws, and a row with many draws still spreads over many work-items.
 *
 * Reproducibility. The Gumbel noise of (key j, draw d) is a pure function of (seed, j,
 * d + offset, t, b * Hq + h): Philox-4x32-10 (Salmon et al. 2011) with key (seed low 32 bits,
 * seed high 32 bits) and counter (j, d + offset, t, b * Hq + h); U = (u + 1/2) / 2^24 from
 * the top 24 bits u of the first output word, so 0 < U < 1. g = -log(-log U) is computed with
 * this file's own logarithm: fma, multiplies and adds only, no contraction, so every
 * operation is correctly rounded and g is bitwise the same on every device (a builtin log
 * may differ by an ulp between devices and move a near-tie). Each draw's maximum is taken
 * by a strict comparison in key order, so the chosen index depends neither on DRAWS nor on
 * the work-group size. Tests reproduce it bitwise on the host (tests/hard).
 *
 * NaN: a NaN score (NaN in an attended Q or K element) leaves the draw undefined; the draw
 * reports the first key with a NaN score and a NaN output row, so the NaN propagates.
 */
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
#ifndef DRAWS
#define DRAWS 1 /* draws per work-item: running (max, index) pairs kept in registers */
#endif
#ifndef VEC
#define VEC 8 /* keys whose scores a work-item computes together, in one vector */
#endif

/* The logarithm below must round exactly as the host's copy does. */
#pragma OPENCL FP_CONTRACT OFF

#include "storage.clh"
#include "vectors.clh"

/* ---- Philox-4x32-10 --------------------------------------------------------------------- */

#define PHILOX_M0 0xD2511F53u /* round multipliers */
#define PHILOX_M1 0xCD9E8D57u
#define PHILOX_W0 0x9E3779B9u /* Weyl key increments: golden ratio, sqrt(3) - 1 */
#define PHILOX_W1 0xBB67AE85u

/* One round on scalars: the products' high halves mix into the other words. Scalars and
 * 64-bit products, not uint4 and mul_hi: PoCL runs this form about ten times faster. */
#define PHILOX_ROUND(x0, x1, x2, x3, k0, k1)                                    \
  do {                                                                          \
    ulong p0_ = (ulong)PHILOX_M0 * x0, p1_ = (ulong)PHILOX_M1 * x2;             \
    uint y0_ = (uint)(p1_ >> 32) ^ x1 ^ k0, y2_ = (uint)(p0_ >> 32) ^ x3 ^ k1; \
    x1 = (uint)p1_;                                                             \
    x3 = (uint)p0_;                                                             \
    x0 = y0_;                                                                   \
    x2 = y2_;                                                                   \
  } while (0)

/* Ten rounds; the key is bumped between rounds, as Random123 does (the bump after the last
 * round is never used). */
inline uint4 philox4x32_10(uint4 ctr, uint2 key) {
  uint x0 = ctr.x, x1 = ctr.y, x2 = ctr.z, x3 = ctr.w, k0 = key.x, k1 = key.y;
#pragma unroll
  for (int round = 0; round < 10; round++) {
    PHILOX_ROUND(x0, x1, x2, x3, k0, k1);
    k0 += PHILOX_W0;
    k1 += PHILOX_W1;
  }
  return (uint4)(x0, x1, x2, x3);
}

/* ---- a logarithm that rounds the same everywhere ---------------------------------------- */

#define SQRT_HALF 0.707106781186547524f

/* log(2^e (1 + f)) for f in [sqrt(1/2) - 1, sqrt(2) - 1]: Moshier's Cephes logf polynomial
 * (relative error below 1e-7), Horner by fma, ln 2 split in two so e * ln2 stays exact. */
inline float log_core(int e, float f) {
  const float fe = (float)e;
  float z = f * f;
  float p = fma(7.0376836292e-2f, f, -1.1514610310e-1f);
  p = fma(p, f, 1.1676998740e-1f);
  p = fma(p, f, -1.2420140846e-1f);
  p = fma(p, f, 1.4249322787e-1f);
  p = fma(p, f, -1.6668057665e-1f);
  p = fma(p, f, 2.0000714765e-1f);
  p = fma(p, f, -2.4999993993e-1f);
  p = fma(p, f, 3.3333331174e-1f);
  float y = (p * f) * z;
  y = fma(-2.12194440e-4f, fe, y);
  y = fma(-0.5f, z, y);
  float r = f + y;
  return fma(0.693359375f, fe, r);
}

/* log x for a positive normal x: x = m 2^e with m in [sqrt(1/2), sqrt(2)); m - 1 is exact. */
inline float log_positive(float x) {
  uint bits = as_uint(x);
  int e = (int)(bits >> 23) - 126;                       /* x = m' 2^e, m' in [1/2, 1) */
  float m = as_float((bits & 0x007fffffu) | 0x3f000000u);
  if (m < SQRT_HALF) return log_core(e - 1, m + m - 1.0f);
  return log_core(e, m - 1.0f);
}

/* -log U for U = (u + 1/2) / 2^24, u < 2^24. U itself is a float only below 1/2; above, the
 * float is w = 1 - U (its complement is not representable next to 1), and log U is
 * log1p(-w), taken from the same polynomial with an exact argument. */
inline float neg_log_uniform(uint u) {
  if (u < 0x800000u) return -log_positive(((float)u + 0.5f) * 0x1p-24f);
  float w = ((float)(0xffffffu - u) + 0.5f) * 0x1p-24f;
  if (w > 1.0f - SQRT_HALF) return -log_core(-1, 1.0f - (w + w)); /* U < sqrt(1/2): 2U - 1 */
  return -log_core(0, -w);
}

/* The Gumbel(0, 1) noise of key j in draw `draw` of row t of head bh. */
inline float gumbel(uint2 key, uint j, uint draw, uint t, uint bh) {
  uint4 x = philox4x32_10((uint4)(j, draw, t, bh), key);
  return -log_positive(neg_log_uniform(x.x >> 8));
}

/* ---- masks (the rules of attention_fwd.cl) ---------------------------------------------- */

#include "mask_rules.clh"

/* ---- the kernel ------------------------------------------------------------------------- */

__kernel void attention_hard(
    __global const STORAGE(Q_TYPE) *q, long q_off, long q_sb, long q_sh, long q_ss,
    __global const STORAGE(K_TYPE) *k, long k_off, long k_sb, long k_sh, long k_ss,
    __global const STORAGE(V_TYPE) *v, long v_off, long v_sb, long v_sh, long v_ss,
    __global STORAGE(O_TYPE) *o, long o_off, long o_sb, long o_sh, long o_ss,
    __global int *indices, const int q_heads, const int group, const int sq, const int skv,
    const int head_dim, const int v_dim, const float scale, const float softcap,
    const int causal, const int bottom_right, const int window_left, const int window_right,
    __global const int *kv_lens, __global const int *q_lens, const int mask_kind,
    __global const uchar *mask, long m_off, long m_sb, long m_sh, long m_sq,
    __global const float *alibi, const int argmax, const int draws, const int chunks,
    const uint seed_lo, const uint seed_hi, const uint offset) {
  /* The global size is rounded up to the work-group size, possibly past 2^31 - 1. */
  const long item = (long)get_global_id(0);
  if (item >= (long)sq * chunks) return;
  const int t = (int)(item / chunks), d0 = (int)(item % chunks) * DRAWS;
  const int count = min(DRAWS, draws - d0); /* draws of this chunk */
  const int bh = get_global_id(1);
  const int b = bh / q_heads, h = bh % q_heads, hk = h / group;

  mask_rules rules;
  rules.qlen = q_lens ? clamp(q_lens[b], 0, sq) : sq;
  rules.kvlen = kv_lens ? clamp(kv_lens[b], 0, skv) : skv;
  rules.diag = bottom_right ? rules.kvlen - rules.qlen : 0;
  rules.left = window_left;
  rules.right = causal ? (window_right < 0 ? 0 : min(window_right, 0)) : window_right;

  /* The keys the positional rules leave to this row. */
  int k_begin = 0, k_end = t < rules.qlen ? rules.kvlen : 0;
  if (rules.left >= 0) k_begin = max(0, t + rules.diag - rules.left);
  if (rules.right >= 0) k_end = min(k_end, t + rules.diag + rules.right + 1);

  const long q_row = q_off + b * q_sb + h * q_sh + (long)t * q_ss;
  const long m_row = m_off + b * m_sb + h * m_sh + (long)t * m_sq;
  const uint2 key = (uint2)(seed_lo, seed_hi);

  float best[DRAWS];
  int chosen[DRAWS];
  for (int u = 0; u < DRAWS; u++) {
    best[u] = -INFINITY;
    chosen[u] = -1;
  }
  int nan_key = -1; /* the first key with a NaN score */

  /* VEC keys at a time: their dot products run in the lanes of one vector, each lane the
   * same fma chain in feature order as a key-by-key loop (so every score is bitwise the
   * same), fed by VEC x VEC blocks of K transposed in registers. Keys past the row's range
   * repeat its last key and are dropped; masked keys' scores are computed and dropped. */
  for (int j0 = k_begin; j0 < k_end; j0 += VEC) {
    const int n = min(VEC, k_end - j0);
    long k_rows[VEC];
#pragma unroll
    for (int u = 0; u < VEC; u++)
      k_rows[u] = k_off + b * k_sb + hk * k_sh + (long)min(j0 + u, k_end - 1) * k_ss;
    floatv acc = (floatv)(0.0f);
    int d = 0;
    for (; d + VEC <= head_dim; d += VEC) {
      floatv x[VEC];
#pragma unroll
      for (int u = 0; u < VEC; u++) x[u] = LOADV(K_TYPE, k, k_rows[u] + d);
      transpose(x); /* x[i]: feature d + i of the VEC keys */
#pragma unroll
      for (int i = 0; i < VEC; i++)
        acc = fma((floatv)(LOAD(Q_TYPE, q, q_row + d + i) * scale), x[i], acc);
    }
    for (; d < head_dim; d++) {
      float kd[VEC];
#pragma unroll
      for (int u = 0; u < VEC; u++) kd[u] = LOAD(K_TYPE, k, k_rows[u] + d);
      acc = fma((floatv)(LOAD(Q_TYPE, q, q_row + d) * scale), VLOAD(kd), acc);
    }
    float dots[VEC];
    VSTORE(acc, dots);
    for (int u = 0; u < n; u++) {
      const int j = j0 + u;
      if (!key_allowed(&rules, t, j)) continue;
      float add = 0.0f;
      if (mask_kind == 1 && mask[m_row + j] == 0) continue;
      if (mask_kind == 2) {
        add = ((__global const float *)mask)[m_row + j];
        if (add == -INFINITY) continue;
      }
      float s = dots[u];
      if (softcap != 0.0f) s = softcap * tanh(s / softcap);
      if (alibi) s = fma(-alibi[h], (float)abs(t + rules.diag - j), s); /* a bias: before masks */
      s += add;
      if (s == -INFINITY) continue; /* masked, whatever made it so */
      if (isnan(s)) {
        if (nan_key < 0) nan_key = j;
        continue;
      }
      if (argmax) {
        if (s > best[0]) {
          best[0] = s;
          chosen[0] = j;
        }
        continue;
      }
      for (int w = 0; w < count; w++) {
        float z = s + gumbel(key, (uint)j, (uint)(d0 + w) + offset, (uint)t, (uint)bh);
        if (z > best[w]) { /* strict: the lowest index wins a tie */
          best[w] = z;
          chosen[w] = j;
        }
      }
    }
  }

  /* Output rows t * draws + d: the chosen V row, zeros for an empty row, NaN when undefined. */
  const long o_base = o_off + b * o_sb + h * o_sh;
  const long v_base = v_off + b * v_sb + hk * v_sh;
  for (int u = 0; u < count; u++) {
    const long out_row = (long)t * draws + d0 + u;
    const int index = nan_key >= 0 ? nan_key : chosen[u];
    if (indices) indices[(long)bh * sq * draws + out_row] = index;
    const long o_row = o_base + out_row * o_ss;
    const long v_row = v_base + (long)index * v_ss;
    for (int d = 0; d < v_dim; d++) {
      float x = nan_key >= 0 ? NAN : index < 0 ? 0.0f : LOAD(V_TYPE, v, v_row + d);
      STORE(O_TYPE, o, o_row + d, x);
    }
  }
}

/* Test hook: Philox-4x32-10 of n (counter, key) pairs, for the known-answer vectors.
 * in[6 i .. 6 i + 5] = counter words 0..3, key words 0..1; out[4 i .. 4 i + 3]. */
__kernel void hard_philox(__global const uint *in, __global uint *out, const int n) {
  const int i = get_global_id(0);
  if (i >= n) return;
  __global const uint *x = in + 6 * i;
  uint4 r = philox4x32_10((uint4)(x[0], x[1], x[2], x[3]), (uint2)(x[4], x[5]));
  vstore4(r, i, out);
}

/* Test hook: the Gumbel noise of n top-24-bit values u, as attention_hard computes it. */
__kernel void hard_gumbel(__global const uint *u, __global float *out, const int n) {
  const int i = get_global_id(0);
  if (i < n) out[i] = -log_positive(neg_log_uniform(u[i] & 0xffffffu));
}
