/*
 * Device ceilings: what the device reaches on the two resources attention is bound by.
 *
 *   fma_peak  each work-item runs CHAINS independent chains of VEC-wide FMAs for `iters`
 *             steps (independent chains hide FMA latency; vectors fill SIMD lanes on CPUs,
 *             where PoCL does not vectorise across work-items of a looping kernel).
 *             FLOPs = global size * iters * CHAINS * VEC * 2.
 *   triad     a[i] = b[i] + s * c[i] over VEC-wide vectors, one vector per work-item.
 *             Bytes = 3 * 4 * elements.
 */
#ifndef VEC
#define VEC 4 /* floats per vector: 1, 2, 4, 8 or 16 */
#endif
#ifndef CHAINS
#define CHAINS 8 /* independent FMA chains per work-item */
#endif

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#if VEC == 1
#define floatv float
#define VLOAD(i, p) ((p)[i])
#define VSTORE(x, i, p) ((p)[i] = (x))
#else
#define floatv CAT(float, VEC)
#define VLOAD(i, p) CAT(vload, VEC)(i, p)
#define VSTORE(x, i, p) CAT(vstore, VEC)(x, i, p)
#endif

/* Sums a vector's lanes in lane order, so that the host can repeat the sum exactly. */
inline float lane_sum(floatv x) {
  float lanes[VEC];
  VSTORE(x, 0, lanes);
  float sum = 0.0f;
  for (int i = 0; i < VEC; i++) sum += lanes[i];
  return sum;
}

__kernel void fma_peak(__global float *out, const int iters, const float a, const float b) {
  const size_t gid = get_global_id(0);
  floatv x[CHAINS];
  for (int c = 0; c < CHAINS; c++) {
    float lanes[VEC];
    for (int l = 0; l < VEC; l++) lanes[l] = (float)(gid % 1024) * 1e-3f + (float)(c * VEC + l);
    x[c] = VLOAD(0, lanes);
  }
  for (int i = 0; i < iters; i++) {
#pragma unroll
    for (int c = 0; c < CHAINS; c++) x[c] = fma(x[c], (floatv)(a), (floatv)(b));
  }
  float sum = 0.0f;
  for (int c = 0; c < CHAINS; c++) sum += lane_sum(x[c]);
  out[gid] = sum;
}

__kernel void triad(__global float *a, __global const float *b, __global const float *c,
                    const float s) {
  const size_t i = get_global_id(0);
  VSTORE(VLOAD(i, b) + s * VLOAD(i, c), i, a);
}
