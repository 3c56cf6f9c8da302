/*
 * Luong local attention (clattn_attention_local): each query row t attends only to the keys
 * s of its window [p_t - D, p_t + D], cut at 0 .. S_b - 1 and by desc's rules, so the cost
 * grows with the window, not with the sequence.
 *
 * One work-item owns one query row of one (batch, head): global (roundup(Sq, WG), B * Hq).
 * It streams the window's K and V rows straight from global memory, CHUNK keys at a time:
 *
 *        keys k0 .. k0+CHUNK-1 of the window
 *   q . k  ->  scores (log2 units) -> chunk max -> rescale acc, l once per chunk
 *   acc += 2^(s - m) * g(s) * v_s,   l += 2^(s - m)        (g: the Gaussian factor)
 *
 * Consecutive work-items have overlapping windows, so a work-group of consecutive rows reads
 * the same K/V rows from cache. Vectors of VEC features carry the dot products and the value
 * sum. The Gaussian multiplies the weights after the softmax and is left out of l, so the
 * weights are not renormalised (Luong et al. 2015, eq. 10) and the LSE is the window's.
 *
 * Masked keys (outside the rules, bool mask 0, additive -inf, or a score of -inf) are never
 * read from V, so poison there cannot reach the output.
 */
#ifndef HEAD_DIM
#define HEAD_DIM 64 /* D, features of Q and K */
#endif
#ifndef V_DIM
#define V_DIM HEAD_DIM /* Dv, features of V and O */
#endif
#ifndef VEC
#define VEC 8 /* features per vector: 1, 2, 4, 8 or 16 */
#endif
#ifndef CHUNK
#define CHUNK 8 /* keys per online-softmax update */
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

#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f
#define NQ ((HEAD_DIM + VEC - 1) / VEC) /* vectors per Q/K row */
#define NV ((V_DIM + VEC - 1) / VEC)    /* vectors per V/O row */

#include "storage.clh"
#include "vectors.clh"

/* Vector c of a row of `n` features at element `row`, zero-filled past n: the row's end may
 * be the buffer's end, so the tail is read element by element. */
#define ROW_VECTOR(NAME, T)                                                              \
  inline floatv NAME(__global const STORAGE(T) *p, long row, int c, int n) {             \
    if ((c + 1) * VEC <= n) return LOADV(T, p, row + c * VEC);                          \
    float tail[VEC];                                                                     \
    for (int u = 0; u < VEC; u++) tail[u] = c * VEC + u < n ? LOAD(T, p, row + c * VEC + u) : 0.0f; \
    return CAT(vload, VEC)(0, tail);                                                      \
  }
#if VEC == 1
#define vload1(i, p) ((p)[i])
#define vstore1(x, i, p) ((p)[i] = (x))
#endif
ROW_VECTOR(q_vector, Q_TYPE)
ROW_VECTOR(k_vector, K_TYPE)
ROW_VECTOR(v_vector, V_TYPE)

/* ---- the window ----------------------------------------------------------------------- */

/* The keys a row attends before the mask tensor: [lo, hi] (empty when lo > hi), and the
 * reference point of the Gaussian, p = base + frac with base an integer and 0 <= frac < 1. */
typedef struct window {
  long lo, hi, base;
  float frac;
} window;

/* |s - p| <= D for integer s and D is ceil(p) - D <= s <= floor(p) + D, computed in
 * integers so that no rounding of p + D moves an edge. |p| beyond 2^33 is clamped: with
 * D < 2^31 and keys below 2^31, such a window holds no key either way. */
inline window window_of(float p, int d) {
  window w;
  float pc = clamp(p, -8589934592.0f, 8589934592.0f);
  float fl = floor(pc);
  w.base = (long)fl;
  w.frac = pc - fl; /* exact */
  w.lo = (long)ceil(pc) - d;
  w.hi = w.base + d;
  return w;
}

/* p_t = S_b * sigmoid(v_p . tanh(z)), z = W_p h_t the row's projection. */
inline float predicted_position(__global const float *z, __global const float *v_p,
                                int p_dim, int s_b) {
  float x = 0.0f;
  for (int j = 0; j < p_dim; j++) x = fma(v_p[j], tanh(z[j]), x);
  return (float)s_b / (1.0f + exp(-x));
}

/* ---- the kernel ----------------------------------------------------------------------- */

__kernel void local_attention(
    __global const STORAGE(Q_TYPE) *q, long q_off, long q_sb, long q_sh, long q_ss,
    __global const STORAGE(K_TYPE) *k, long k_off, long k_sb, long k_sh, long k_ss,
    __global const STORAGE(V_TYPE) *v, long v_off, long v_sb, long v_sh, long v_ss,
    __global STORAGE(O_TYPE) *o, long o_off, long o_sb, long o_sh, long o_ss,
    __global float *lse, long l_off, long l_sb, long l_sh, long l_ss,
    const int q_heads, const int group, const int sq, const int skv, const float scale,
    const float softcap, const int causal, const int bottom_right, const int window_left,
    const int window_right, __global const int *kv_lens, __global const int *q_lens,
    const int mask_kind, __global const uchar *mask, long m_off, long m_sb, long m_sh,
    long m_sq, __global const float *alibi, const int predictive, const int half_width,
    const float inv_two_sigma2, __global const float *positions, __global const float *z,
    long z_sb, long z_sh, long z_ss, const int p_dim, __global const float *v_p) {
  const int row = get_global_id(0);
  if (row >= sq) return; /* the global size is rounded up to the work-group size */
  const int bh = get_global_id(1);
  const int b = bh / q_heads, h = bh % q_heads, hk = h / group;

  const int qlen = q_lens ? clamp(q_lens[b], 0, sq) : sq;
  const int kvlen = kv_lens ? clamp(kv_lens[b], 0, skv) : skv;
  const int aligned = row + (bottom_right ? kvlen - qlen : 0); /* t' */
  const int right = causal ? (window_right < 0 ? 0 : min(window_right, 0)) : window_right;

  /* The window, cut by the sequence and desc's positional rules. A NaN p_t makes the row
   * NaN (NaN inputs propagate); +-inf gives an empty window. */
  float p = (float)aligned;
  if (predictive && positions)
    p = positions[((long)b * q_heads + h) * sq + row];
  else if (predictive)
    p = predicted_position(z + b * z_sb + h * z_sh + row * z_ss, v_p, p_dim, kvlen);
  const int nan_row = isnan(p) && row < qlen; /* rows past q_lens stay empty */
  window w;
  if (predictive) {
    w = window_of(nan_row ? 0.0f : p, half_width);
  } else { /* integers all the way */
    w.base = aligned;
    w.frac = 0.0f;
    w.lo = (long)aligned - half_width;
    w.hi = (long)aligned + half_width;
  }
  long lo = max(w.lo, 0L), hi = min(w.hi, (long)kvlen - 1);
  if (window_left >= 0) lo = max(lo, (long)aligned - window_left);
  if (right >= 0) hi = min(hi, (long)aligned + right);
  if (row >= qlen || isinf(p) || nan_row) hi = lo - 1;

  /* Scores go straight to log2 units unless softcap or an additive mask needs them in
   * natural units first. */
  const int fold = softcap == 0.0f && mask_kind != 2;
  const float q_scale = fold ? scale * LOG2E : scale;
  const float slope = alibi ? alibi[h] * (fold ? LOG2E : 1.0f) : 0.0f;

  floatv qf[NQ], acc[NV];
  const long q_row = q_off + b * q_sb + h * q_sh + (long)row * q_ss;
  for (int c = 0; c < NQ; c++) qf[c] = q_vector(q, q_row, c, HEAD_DIM) * q_scale;
  for (int c = 0; c < NV; c++) acc[c] = (floatv)(0.0f);
  float m_run = -INFINITY, l_run = 0.0f;

  const long k_base = k_off + b * k_sb + hk * k_sh, v_base = v_off + b * v_sb + hk * v_sh;
  const long m_row = m_off + b * m_sb + h * m_sh + (long)row * m_sq;
  for (long k0 = lo; k0 <= hi; k0 += CHUNK) {
    const int n = (int)min((long)CHUNK, hi - k0 + 1);
    float sc[CHUNK];
    float c_max = -INFINITY;
    for (int u = 0; u < n; u++) {
      const long key = k0 + u;
      /* The mask tensor first: a masked key's K row is not read either. */
      const float add = mask_kind == 2 ? ((__global const float *)mask)[m_row + key] : 0.0f;
      if ((mask_kind == 1 && mask[m_row + key] == 0) || add == -INFINITY) {
        sc[u] = -INFINITY;
        continue;
      }
      floatv dot = (floatv)(0.0f);
      for (int c = 0; c < NQ; c++) dot = fma(qf[c], k_vector(k, k_base + key * k_ss, c, HEAD_DIM), dot);
      float x = hsum(dot);
      if (softcap != 0.0f) x = softcap * tanh(x / softcap);
      x = fma(-slope, (float)abs(aligned - (int)key), x) + add; /* ALiBi, additive mask */
      sc[u] = fold ? x : x * LOG2E;
      c_max = fmax(c_max, sc[u]);
    }
    /* Online softmax; a chunk with nothing attended so far keeps m at -inf, and a NaN
     * score still reaches l through 2^(NaN - 0). */
    const float m_new = fmax(m_run, c_max);
    const int none = m_new == -INFINITY;
    const float alpha = none ? 1.0f : exp2(m_run - m_new);
    l_run *= alpha;
    for (int c = 0; c < NV; c++) acc[c] *= alpha;
    for (int u = 0; u < n; u++) {
      if (sc[u] == -INFINITY) continue; /* masked: its V row is not read */
      const float pw = exp2(sc[u] - (none ? 0.0f : m_new));
      l_run += pw;
      float g = 1.0f;
      if (inv_two_sigma2 > 0.0f) {
        const float d = (float)(k0 + u - w.base) - w.frac;
        g = exp(-d * d * inv_two_sigma2);
      }
      const float pg = pw * g;
      const long v_row = v_base + (k0 + u) * v_ss;
      for (int c = 0; c < NV; c++) acc[c] = fma((floatv)(pg), v_vector(v, v_row, c, V_DIM), acc[c]);
    }
    m_run = m_new;
  }

  /* Normalise by the window's softmax sum and store. Rows with nothing attended are zero
   * with LSE -inf; a NaN position gives NaN. */
  const int empty = l_run == 0.0f;
  const float inv = empty ? 0.0f : 1.0f / l_run;
  const long o_row = o_off + b * o_sb + h * o_sh + (long)row * o_ss;
  for (int c = 0; c < NV; c++) {
    float out[VEC];
    CAT(vstore, VEC)(acc[c] * inv, 0, out);
    for (int u = 0; u < VEC && c * VEC + u < V_DIM; u++)
      STORE(O_TYPE, o, o_row + c * VEC + u, nan_row ? NAN : empty ? 0.0f : out[u]);
  }
  if (lse)
    lse[l_off + b * l_sb + h * l_sh + (long)row * l_ss] =
        nan_row ? NAN : empty ? -INFINITY : (m_run + log2(l_run)) * LN2;
}
