/*
 * Spatial attention over an NCHW feature map (clattn_attention_spatial, src/spatial_planes.c).
 * CLBlast computes the scores S = scale * Q F (Sq x HW per batch, F the C x HW planes) into a
 * dense float32 scratch P (B, Sq, HW) and then O = P F^T; these two kernels sit around the
 * second product:
 *
 *   spatial_softmax  one work-group per query row (b, i), its WG work-items striding over the
 *                    row's HW keys:
 *
 *                      keys   0   1  ..  WG-1  WG  WG+1 ..        HW-1
 *                      item   0   1  ..  WG-1   0    1  ..
 *
 *                    softcap, the positional rules (q/kv lengths, causal, windows, alignment)
 *                    and the softmax, in place over the row of P; also stores the row into
 *                    the caller's weights view when there is one. Max and sum are reduced
 *                    through __local memory (WG a power of two).
 *
 *   spatial_repair   one work-item per output element (c, row). The product O = P F^T reads
 *                    every key, so a NaN or inf that the map holds at a masked position would
 *                    reach O through 0 * NaN. Masked probabilities are stored as -0.0f (an
 *                    attended one that underflows is +0.0f); an output element that came out
 *                    non-finite is recomputed here as the sum over the attended keys only,
 *                    which keeps NaN/inf from attended positions and drops masked poison.
 *                    Finite outputs, nearly all of them, are only read.
 *
 * The rules are those of cl/attention_fwd.cl (key_allowed), restated for one head: a mask
 * tensor and ALiBi are not supported on this path (the host rejects them).
 */
#ifndef W_TYPE
#define W_TYPE 0 /* storage of the weights view: 0 f32, 1 f16, 2 bf16 */
#endif

#include "storage.clh"

/* Whether row i attends key j: valid lengths, then the window around the aligned row
 * i' = i + diag (causal is a right extent of 0). */
inline int key_allowed(int i, int j, int qlen, int kvlen, int diag, int left, int right) {
  int a = i + diag;
  return i < qlen && j < kvlen && (left < 0 || j >= a - left) && (right < 0 || j <= a + right);
}

/* Tree reduction of one value per work-item; every work-item gets the result. */
inline float reduce(__local float *red, float x, int is_max) {
  const int lid = get_local_id(0), n = get_local_size(0);
  barrier(CLK_LOCAL_MEM_FENCE); /* red may still be read by the previous reduction */
  red[lid] = x;
  for (int step = n / 2; step > 0; step /= 2) {
    barrier(CLK_LOCAL_MEM_FENCE);
    if (lid < step) red[lid] = is_max ? fmax(red[lid], red[lid + step]) : red[lid] + red[lid + step];
  }
  barrier(CLK_LOCAL_MEM_FENCE);
  return red[0];
}

__kernel void spatial_softmax(__global float *p, const int sq, const int keys,
                              const float softcap, const int causal, const int bottom_right,
                              const int window_left, const int window_right,
                              __global const int *kv_lens, __global const int *q_lens,
                              __global STORAGE(W_TYPE) *w, long w_off, long w_sb, long w_ss,
                              __local float *red) {
  const int row = get_group_id(1), b = row / sq, i = row % sq;
  const int lid = get_local_id(0), n = get_local_size(0);
  const int qlen = q_lens ? clamp(q_lens[b], 0, sq) : sq;
  const int kvlen = kv_lens ? clamp(kv_lens[b], 0, keys) : keys;
  const int diag = bottom_right ? kvlen - qlen : 0;
  const int right = causal ? (window_right < 0 ? 0 : min(window_right, 0)) : window_right;
  __global float *s = p + (long)row * keys;

  /* Pass 1: final scores (masked ones -inf) back into P, and the row's max. fmax ignores
   * NaN, as the fused kernel's running max does. */
  float m = -INFINITY;
  for (int j = lid; j < keys; j += n) {
    float x = s[j];
    if (softcap != 0.0f) x = softcap * tanh(x / softcap);
    if (!key_allowed(i, j, qlen, kvlen, diag, window_left, right)) x = -INFINITY;
    s[j] = x;
    m = fmax(m, x);
  }
  m = reduce(red, m, 1);

  /* Pass 2: the sum. A -inf score weighs 0 whatever m is; NaN and +inf scores make the sum
   * NaN, and with it the whole row, as in the reference. */
  float l = 0.0f;
  for (int j = lid; j < keys; j += n) l += s[j] == -INFINITY ? 0.0f : exp(s[j] - m);
  l = reduce(red, l, 0);

  /* Pass 3: probabilities; masked entries -0.0f in P (see spatial_repair), 0 in the weights.
   * A row with nothing attended has l = 0 and only masked entries. */
  __global STORAGE(W_TYPE) *wr = w ? w + w_off + (long)b * w_sb + (long)i * w_ss : 0;
  for (int j = lid; j < keys; j += n) {
    const int masked = s[j] == -INFINITY;
    const float x = masked ? 0.0f : exp(s[j] - m) / l;
    s[j] = masked ? -0.0f : x;
    if (wr) STORE(W_TYPE, wr, j, x);
  }
}

/* f_sc and f_sj: element strides of the map between channels and between key positions. */
__kernel void spatial_repair(__global const float *p, const int sq, const int keys,
                             const int channels, __global const float *f, long f_off,
                             long f_sb, long f_sc, long f_sj, __global float *o, long o_off,
                             long o_sb, long o_ss) {
  const int c = get_global_id(0), row = get_global_id(1);
  if (c >= channels) return;
  const int b = row / sq, i = row % sq;
  const long at = o_off + (long)b * o_sb + (long)i * o_ss + c;
  if (isfinite(o[at])) return;
  __global const float *pr = p + (long)row * keys;
  __global const float *fr = f + f_off + (long)b * f_sb + (long)c * f_sc;
  float sum = 0.0f;
  for (int j = 0; j < keys; j++) {
    const float x = pr[j];
    if (x == 0.0f && signbit(x)) continue; /* masked: this key's map values are never read */
    sum = fma(x, fr[(long)j * f_sj], sum);
  }
  o[at] = sum;
}
