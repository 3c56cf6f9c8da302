/*
 * Unfused attention forward, the textbook path bench_attention compares clattn's fused kernel
 * with: three kernels and a materialised score matrix of B*H*Sq*Skv floats.
 *
 *   attention_scores:  S = scale * Q K^T, causal positions set to -inf
 *   attention_softmax: P = softmax(S) row by row, in place
 *   attention_pv:      O = P V
 *
 * The two products are register-blocked and use explicit vectors (what PoCL needs to use
 * the CPU's SIMD units), so the comparison measures the cost of not fusing, not the cost of
 * a careless kernel:
 *
 *   scores: one work-item, SC_ROWS queries x SC_KEYS keys     pv: one work-item, PV_ROWS rows
 *            d -> (VEC at a time)                                   x PV_COLS features
 *          +---------------+                                       keys j -> (one at a time)
 *  SC_ROWS |  Q rows       |  x  SC_KEYS K rows  ->  SC_ROWS x     +-------+   +-----------+
 *          +---------------+     (same d slice)      SC_KEYS       |  P    | x | V[j, cols]|
 *          accumulators: SC_ROWS*SC_KEYS vectors, summed across    +-------+   +-----------+
 *          lanes once at the end                                   accumulators: PV_ROWS x
 *                                                                  PV_COLS/VEC vectors
 *
 * With causal masking, score tiles wholly above the diagonal are filled with -inf without
 * computing them, and the P V loop stops at the tile's last attended key (P is 0 beyond).
 *
 * Layout: Q, K, V and O are contiguous (B*H, S, D) arrays (BHSD); S/P is (B*H, Sq, Skv).
 */
#ifndef HEAD_DIM
#define HEAD_DIM 64 /* D, features of Q, K, V and O */
#endif
#ifndef VEC
#define VEC 8 /* vector width along D (scores) and along features (pv): 1, 2, 4, 8 or 16 */
#endif
#ifndef SC_ROWS
#define SC_ROWS 4 /* query rows per work-item in attention_scores */
#endif
#ifndef SC_KEYS
#define SC_KEYS 4 /* keys per work-item in attention_scores */
#endif
#ifndef PV_ROWS
#define PV_ROWS 4 /* query rows per work-item in attention_pv */
#endif
#ifndef PV_COLS
#define PV_COLS 32 /* output features per work-item in attention_pv; a multiple of VEC */
#endif

#if HEAD_DIM % VEC != 0 || PV_COLS % VEC != 0 || HEAD_DIM % PV_COLS != 0
#error "VEC must divide HEAD_DIM and PV_COLS, and PV_COLS must divide HEAD_DIM"
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)

#if VEC == 1
#define floatv float
#define VLOAD(p) (*(p))
#define VSTORE(x, p) (*(p) = (x))
inline float hsum(float x) { return x; }
inline float hmax(float x) { return x; }
#else
#define floatv CAT(float, VEC)
#define VLOAD(p) CAT(vload, VEC)(0, p)
#define VSTORE(x, p) CAT(vstore, VEC)(x, 0, p)
inline float hsum2(float2 x) { return x.s0 + x.s1; }
inline float hmax2(float2 x) { return fmax(x.s0, x.s1); }
#if VEC >= 4
inline float hsum4(float4 x) { return hsum2(x.lo + x.hi); }
inline float hmax4(float4 x) { return hmax2(fmax(x.lo, x.hi)); }
#endif
#if VEC >= 8
inline float hsum8(float8 x) { return hsum4(x.lo + x.hi); }
inline float hmax8(float8 x) { return hmax4(fmax(x.lo, x.hi)); }
#endif
#if VEC >= 16
inline float hsum16(float16 x) { return hsum8(x.lo + x.hi); }
inline float hmax16(float16 x) { return hmax8(fmax(x.lo, x.hi)); }
#endif
#define hsum CAT(hsum, VEC)
#define hmax CAT(hmax, VEC)
#endif

/* Grid: (ceil(Skv / SC_KEYS) rounded up to the local size, ceil(Sq / SC_ROWS), B*H). */
__kernel void attention_scores(__global const float *q, __global const float *k,
                               __global float *s, const int sq, const int skv,
                               const float scale, const int causal) {
  const int j0 = get_global_id(0) * SC_KEYS;
  const int i0 = get_global_id(1) * SC_ROWS;
  const long bh = get_global_id(2);
  if (j0 >= skv || i0 >= sq) return;
  __global float *sh = s + bh * sq * skv;

  if (causal && j0 > i0 + SC_ROWS - 1) { /* the whole tile is above the diagonal */
    for (int r = 0; r < SC_ROWS && i0 + r < sq; r++)
      for (int c = 0; c < SC_KEYS && j0 + c < skv; c++)
        sh[(long)(i0 + r) * skv + j0 + c] = -INFINITY;
    return;
  }

  /* Rows and keys past the end are clamped to the last one; their results are not stored. */
  const __global float *qrow[SC_ROWS], *krow[SC_KEYS];
  for (int r = 0; r < SC_ROWS; r++) qrow[r] = q + (bh * sq + min(i0 + r, sq - 1)) * HEAD_DIM;
  for (int c = 0; c < SC_KEYS; c++) krow[c] = k + (bh * skv + min(j0 + c, skv - 1)) * HEAD_DIM;

  floatv acc[SC_ROWS][SC_KEYS];
  #pragma unroll
  for (int r = 0; r < SC_ROWS; r++)
    #pragma unroll
    for (int c = 0; c < SC_KEYS; c++) acc[r][c] = (floatv)(0.0f);
  for (int d = 0; d < HEAD_DIM; d += VEC) {
    floatv qv[SC_ROWS], kv[SC_KEYS];
    #pragma unroll
    for (int r = 0; r < SC_ROWS; r++) qv[r] = VLOAD(qrow[r] + d);
    #pragma unroll
    for (int c = 0; c < SC_KEYS; c++) kv[c] = VLOAD(krow[c] + d);
    #pragma unroll
    for (int r = 0; r < SC_ROWS; r++)
      #pragma unroll
      for (int c = 0; c < SC_KEYS; c++) acc[r][c] = fma(qv[r], kv[c], acc[r][c]);
  }

  #pragma unroll
  for (int r = 0; r < SC_ROWS; r++) {
    const int i = i0 + r;
    #pragma unroll
    for (int c = 0; c < SC_KEYS; c++) {
      const int j = j0 + c;
      if (i < sq && j < skv)
        sh[(long)i * skv + j] = causal && j > i ? -INFINITY : hsum(acc[r][c]) * scale;
    }
  }
}

/* Grid: (rows = B*H*Sq, rounded up to the local size). One row per work-item, in place.
 * A row with no finite score (every key masked) becomes all zeros. */
__kernel void attention_softmax(__global float *s, const long rows, const int skv) {
  const long row = get_global_id(0);
  if (row >= rows) return;
  __global float *x = s + row * skv;
  const int nv = skv / VEC * VEC; /* keys handled as whole vectors; the rest one by one */

  floatv mv = (floatv)(-INFINITY);
  for (int j = 0; j < nv; j += VEC) mv = fmax(mv, VLOAD(x + j));
  float m = hmax(mv);
  for (int j = nv; j < skv; j++) m = fmax(m, x[j]);

  if (m == -INFINITY) {
    for (int j = 0; j < skv; j++) x[j] = 0.0f;
    return;
  }
  floatv sv = (floatv)(0.0f);
  for (int j = 0; j < nv; j += VEC) {
    floatv p = exp(VLOAD(x + j) - m);
    sv += p;
    VSTORE(p, x + j);
  }
  float sum = hsum(sv);
  for (int j = nv; j < skv; j++) {
    float p = exp(x[j] - m);
    sum += p;
    x[j] = p;
  }
  const float inv = 1.0f / sum;
  for (int j = 0; j < nv; j += VEC) VSTORE(VLOAD(x + j) * inv, x + j);
  for (int j = nv; j < skv; j++) x[j] *= inv;
}

/* Grid: (ceil(Sq / PV_ROWS) rounded up to the local size, HEAD_DIM / PV_COLS, B*H). */
__kernel void attention_pv(__global const float *p, __global const float *v,
                           __global float *o, const int sq, const int skv, const int causal) {
  const int i0 = get_global_id(0) * PV_ROWS;
  const int c0 = get_global_id(1) * PV_COLS;
  const long bh = get_global_id(2);
  if (i0 >= sq) return;
  /* Causal: P is 0 past the last row's diagonal, so those keys add nothing. */
  const int end = causal ? min(skv, i0 + PV_ROWS) : skv;

  const __global float *prow[PV_ROWS];
  for (int r = 0; r < PV_ROWS; r++) prow[r] = p + (bh * sq + min(i0 + r, sq - 1)) * skv;
  const __global float *vh = v + bh * skv * HEAD_DIM + c0;

#define NC (PV_COLS / VEC)
  floatv acc[PV_ROWS][NC];
  #pragma unroll
  for (int r = 0; r < PV_ROWS; r++)
    #pragma unroll
    for (int n = 0; n < NC; n++) acc[r][n] = (floatv)(0.0f);
  for (int j = 0; j < end; j++) {
    floatv vv[NC];
    #pragma unroll
    for (int n = 0; n < NC; n++) vv[n] = VLOAD(vh + (long)j * HEAD_DIM + n * VEC);
    #pragma unroll
    for (int r = 0; r < PV_ROWS; r++) {
      const floatv pr = (floatv)(prow[r][j]);
      #pragma unroll
      for (int n = 0; n < NC; n++) acc[r][n] = fma(pr, vv[n], acc[r][n]);
    }
  }

  #pragma unroll
  for (int r = 0; r < PV_ROWS; r++) {
    __global float *orow = o + (bh * sq + i0 + r) * HEAD_DIM + c0;
    if (i0 + r < sq)
      #pragma unroll
      for (int n = 0; n < NC; n++) VSTORE(acc[r][n], orow + n * VEC);
  }
#undef NC
}
