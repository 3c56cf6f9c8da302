/*
 * Helpers of the multi-head attention layer.
 *
 * add_bias_rows: Y (b, s, e) = R[(b * S + s) * E + e] + bias[e] (bias NULL: a copy). The
 * output projection lands in dense scratch rows R and this one command writes the caller's
 * strided float32 Y, so a failure never leaves Y half written.
 *
 * head_mean: the mean over heads of attention probabilities, as PyTorch's
 * nn.MultiheadAttention returns them with average_attn_weights. P is dense float32
 * (B, H, S, Skv); the output is a float32 view: element (b, s, j) at
 * off + b*sb + s*ss + j (its head stride is unused). One work-item per output element.
 */
__kernel void head_mean(__global const float *p, int heads, int seq, int keys,
                        __global float *w, long w_off, long w_sb, long w_sh, long w_ss) {
  int j = get_global_id(0), s = get_global_id(1), b = get_global_id(2);
  if (j >= keys) return;
  size_t plane = (size_t)seq * keys;
  __global const float *src = p + ((size_t)b * heads * seq + s) * keys + j;
  float sum = 0.0f;
  for (int h = 0; h < heads; h++) sum += src[h * plane];
  w[w_off + b * w_sb + s * w_ss + j] = sum / (float)heads;
  (void)w_sh;
}

__kernel void add_bias_rows(__global const float *r, __global const float *bias, int seq,
                            int dim, __global float *y, long y_off, long y_sb, long y_sh,
                            long y_ss) {
  int e = get_global_id(0), s = get_global_id(1), b = get_global_id(2);
  if (e >= dim) return;
  float x = r[((size_t)b * seq + s) * dim + e];
  y[y_off + b * y_sb + s * y_ss + e] = bias ? x + bias[e] : x;
  (void)y_sh;
}
