/*
 * Position information, in place on strided (B, H, S, D) views of any storage type:
 *
 *   bias_rope       x[b,h,s,d] += bias[h*D + d] (optional), then RoPE on heads h < rope_heads
 *   sinusoidal_add  x[b,0,s,2i] += sin(p w_i), x[b,0,s,2i+1] += cos(p w_i)
 *
 * Work layout of bias_rope: one work-item per (feature slot j, row (b, s)); it loops over the
 * heads, so each row's sines and cosines are computed once, not once per head:
 *
 *   dim 0: slot j in 0 .. ceil(D/2)-1   (adjacent work-items touch adjacent features)
 *   dim 1: row = b * S + s
 *
 *   slot j < R/2, rotated head:  interleaved pair (2j, 2j+1) or half-split pair (j, j + R/2)
 *   otherwise:                   features 2j and 2j+1 (if < D), bias only
 *
 * The loop over heads also suits PoCL, where every work-group costs a fixed overhead: one
 * work-item per (slot, row, head) instead measured 15x slower on a packed QKV output.
 *
 * Angles. Pair i turns by p * w_i radians. The host passes w_i / 2pi in turns as a float
 * pair (hi, lo) with hi + lo = w_i / 2pi to about 2^-48 relative. With p exact in fp32
 * (|p| <= 2^24), p*hi = prod + err exactly (two-product by fma), prod - rint(prod) is exact,
 * and the remaining terms are small, so the fractional turn is accurate to a few 1e-8 and the
 * angle to about 1e-6 rad at any position up to 2^24; sinpi/cospi then take 2*frac.
 */
#ifndef DTYPE
#define DTYPE 0 /* storage of x: 0 f32, 1 f16, 2 bf16 */
#endif
#ifndef STYLE
#define STYLE 1 /* 0 no rotation (bias only), 1 interleaved pairs, 2 half-split pairs */
#endif

/* The turn arithmetic relies on exact products and sums; no contraction behind our back. */
#pragma OPENCL FP_CONTRACT OFF

#include "storage.clh"

/* Position of row (b, s): position_offset + s (+ positions[b]), rounded to fp32 (exact for
 * |p| <= 2^24). */
inline float position(long position_offset, int s, int b, __global const int *positions) {
  long p = position_offset + s;
  if (positions) p += positions[b];
  return convert_float_rte(p);
}

/* (sin, cos) of 2pi * p * (turn.x + turn.y). */
inline float2 turn_sincos(float p, float2 turn) {
  float prod = p * turn.x;
  float err = fma(p, turn.x, -prod); /* p*hi - prod, exactly */
  float frac = prod - rint(prod);    /* exact: prod and rint(prod) are close */
  frac = frac + (err + p * turn.y);  /* |frac| <= 1/2 + a little */
  float a = 2.0f * frac;             /* half-turns, for sinpi/cospi */
  return (float2)(sinpi(a), cospi(a));
}

__kernel void bias_rope(__global STORAGE(DTYPE) *x, const long x_off, const long x_sb,
                        const long x_sh, const long x_ss, const int heads, const int seq,
                        const int dim, const int rows, const int rot_pairs, const int rope_heads,
                        const long position_offset, __global const int *positions,
                        __global const float *bias, const long bias_off,
                        __global const float2 *turns) {
  const int j = get_global_id(0);
  const int row = get_global_id(1);
  const int slots = (dim + 1) >> 1;
  if (j >= slots || row >= rows) return;
  const int b = row / seq, s = row - b * seq;
  const long base = x_off + (long)b * x_sb + (long)s * x_ss;

  /* The rotated pair of this slot (rotated heads only) and the plain pair of the others. */
  int rot = 0, r0 = 2 * j, r1 = 2 * j + 1;
  float2 sc = (float2)(0.0f, 1.0f);
#if STYLE != 0
  if (j < rot_pairs) {
    rot = 1;
#if STYLE == 2
    r0 = j;
    r1 = j + rot_pairs;
#endif
    sc = turn_sincos(position(position_offset, s, b, positions), turns[j]);
  }
#endif
  const int p0 = 2 * j, p1 = 2 * j + 1;
  const int has_second = p1 < dim;
  /* Without a bias, heads past rope_heads are left alone. */
  const int last = bias ? heads : min(heads, rope_heads);

  for (int h = 0; h < last; h++) {
    const long at = base + (long)h * x_sh;
    const long bias_at = bias_off + (long)h * dim;
    if (rot && h < rope_heads) {
      float u = LOAD(DTYPE, x, at + r0), v = LOAD(DTYPE, x, at + r1);
      if (bias) {
        u += bias[bias_at + r0];
        v += bias[bias_at + r1];
      }
      /* (u, v) turned by the angle: (u cos - v sin, u sin + v cos). */
      STORE(DTYPE, x, at + r0, fma(u, sc.y, -(v * sc.x)));
      STORE(DTYPE, x, at + r1, fma(u, sc.x, v * sc.y));
    } else if (bias) {
      STORE(DTYPE, x, at + p0, LOAD(DTYPE, x, at + p0) + bias[bias_at + p0]);
      if (has_second) STORE(DTYPE, x, at + p1, LOAD(DTYPE, x, at + p1) + bias[bias_at + p1]);
    }
  }
}

/* Vaswani et al.: pair i of a (B, 1, S, E) row gets sin and cos of p * w_i added; an odd E's
 * last feature gets the sine only. dim 0: pair i; dim 1: row = b * S + s. */
__kernel void sinusoidal_add(__global STORAGE(DTYPE) *x, const long x_off, const long x_sb,
                             const long x_ss, const int seq, const int dim, const int rows,
                             const long position_offset, __global const int *positions,
                             __global const float2 *turns) {
  const int i = get_global_id(0);
  const int row = get_global_id(1);
  if (i >= (dim + 1) >> 1 || row >= rows) return;
  const int b = row / seq, s = row - b * seq;
  const long at = x_off + (long)b * x_sb + (long)s * x_ss + 2 * i;
  const float2 sc = turn_sincos(position(position_offset, s, b, positions), turns[i]);
  STORE(DTYPE, x, at, LOAD(DTYPE, x, at) + sc.x);
  if (2 * i + 1 < dim) STORE(DTYPE, x, at + 1, LOAD(DTYPE, x, at + 1) + sc.y);
}
