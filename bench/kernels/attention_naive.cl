/*
 * Naive attention forward, the baseline bench_attention compares clattn's fused kernel with:
 * one query row per work-item, scalar fp32, two passes over the keys.
 *
 *   pass 1:  m = max_j s_j                       s_j = scale * dot(q_i, k_j)
 *   pass 2:  l = sum_j exp(s_j - m),  acc = sum_j exp(s_j - m) * v_j   (scores recomputed)
 *   o_i = acc / l
 *
 * This is the kernel one writes first: no tiling, no vectors, no local memory. Without
 * -cl-fast-relaxed-math (which bench_attention never passes) the dot products stay scalar
 * dependency chains, which is what makes it slow on CPUs.
 *
 * Layout: Q, K, V and O are contiguous (B*H, S, D) arrays (BHSD). Grid: (rows rounded up
 * to the local size, B*H).
 */
#ifndef HEAD_DIM
#define HEAD_DIM 64 /* D, features of Q, K, V and O */
#endif

__kernel void attention_naive(__global const float *q, __global const float *k,
                              __global const float *v, __global float *o, const int sq,
                              const int skv, const float scale, const int causal) {
  const int i = get_global_id(0);
  const long bh = get_global_id(1);
  if (i >= sq) return;

  const __global float *qi = q + (bh * sq + i) * HEAD_DIM;
  const __global float *kh = k + bh * skv * HEAD_DIM;
  const __global float *vh = v + bh * skv * HEAD_DIM;
  const int end = causal ? min(skv, i + 1) : skv; /* causal: keys 0 .. i */

  float qf[HEAD_DIM];
  for (int d = 0; d < HEAD_DIM; d++) qf[d] = qi[d];

  float m = -INFINITY;
  for (int j = 0; j < end; j++) {
    float s = 0.0f;
    for (int d = 0; d < HEAD_DIM; d++) s += qf[d] * kh[j * HEAD_DIM + d];
    m = fmax(m, s * scale);
  }

  float acc[HEAD_DIM];
  for (int d = 0; d < HEAD_DIM; d++) acc[d] = 0.0f;
  float l = 0.0f;
  for (int j = 0; j < end; j++) {
    float s = 0.0f;
    for (int d = 0; d < HEAD_DIM; d++) s += qf[d] * kh[j * HEAD_DIM + d];
    const float p = exp(s * scale - m);
    l += p;
    for (int d = 0; d < HEAD_DIM; d++) acc[d] += p * vh[j * HEAD_DIM + d];
  }

  __global float *oi = o + (bh * sq + i) * HEAD_DIM;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f; /* no key at all (skv 0): zero row */
  for (int d = 0; d < HEAD_DIM; d++) oi[d] = acc[d] * inv;
}
