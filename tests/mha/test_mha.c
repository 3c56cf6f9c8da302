/* The multi-head attention layer against the double-precision reference (mha_ref.c):
 * self-attention with PyTorch's packed weights for E in {8, 64, 512} and 1, 2, 8 heads, odd
 * sequence lengths, with and without biases; separate weights with fewer KV heads (GQA, MQA);
 * cross-attention with a memory of another width; causal masking, key padding (a broadcast
 * mask and per-batch lengths), RoPE in both conventions, ALiBi; head-averaged and per-head
 * weights; strided X and Y. Outputs start as NaN and are followed by canaries.
 * Tolerance: the fp32 budget of DESIGN.md (atol 1e-5, rtol 1e-4) on Y and on the weights. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"
#include "mha_ref.h"
#include "mha_test_util.h"

typedef struct layer_case {
  const char *name;
  int64_t embed_dim, heads, kv_heads, head_dim, kv_dim;
  int bias, packed, alibi;
  clattn_rope_style rope;
  int64_t rotary_dim;
  int64_t batch, seq, memory_len; /* memory_len > 0: cross-attention */
  int causal, key_padding, lengths;
  clattn_mha_weights_output weights;
  int64_t position_offset;
  int strided; /* X and Y rows padded and batches apart */
} layer_case;

static double max_ratio;

static void compare(const char *name, const char *what, const float *got, const double *ref,
                    int64_t n, double atol) {
  for (int64_t i = 0; i < n; i++) {
    double tol = atol + 1e-4 * fabs(ref[i]);
    double err = fabs((double)got[i] - ref[i]);
    if (!(err <= tol))
      check_fail(__FILE__, __LINE__, "%s: %s[%lld] = %.9g, reference %.9g (tolerance %.3g)", name,
                 what, (long long)i, got[i], ref[i], tol);
    if (err / tol > max_ratio) max_ratio = err / tol;
  }
  check_pass();
}

static void run_case(attn_env *env, const layer_case *lc) {
  mt_layer L;
  mt_layer_init(&L, lc->embed_dim, lc->heads, lc->kv_heads, lc->head_dim, lc->kv_dim, lc->bias,
                (uint64_t)lc->embed_dim * 131 + (uint64_t)lc->heads);
  L.ref.rope.style = lc->rope;
  L.ref.rope.rotary_dim = lc->rotary_dim;
  L.ref.alibi = lc->alibi;
  clattn_mha *mha = mt_layer_create(env, &L, lc->packed);
  int64_t b = lc->batch, s = lc->seq, e = lc->embed_dim;
  int cross = lc->memory_len > 0;
  int64_t skv = cross ? lc->memory_len : s;
  int64_t pad = lc->strided ? 3 : 0, row = e + pad, bstride = s * row + (lc->strided ? 5 : 0);
  ref_rng rng;
  ref_rng_seed(&rng, 7 + (uint64_t)s);
  float *x = mt_alloc((size_t)(b * s * e) * sizeof *x);
  ref_rng_fill_normal(&rng, x, (uint64_t)(b * s * e), 1.0);
  float *memory = NULL;
  if (cross) {
    memory = mt_alloc((size_t)(b * skv * L.ref.kv_dim) * sizeof *memory);
    ref_rng_fill_normal(&rng, memory, (uint64_t)(b * skv * L.ref.kv_dim), 1.0);
  }
  /* Reference options: causal, key padding as a bool mask or as lengths. */
  ref_attention opts;
  ref_attention_init(&opts, b, lc->heads, L.ref.kv_heads, s, skv, L.ref.head_dim, 0);
  opts.causal = lc->causal;
  uint8_t *pad_mask = NULL;
  int32_t *kv_lens = NULL;
  if (lc->key_padding) {
    pad_mask = mt_alloc((size_t)(b * skv));
    for (int64_t i = 0; i < b * skv; i++) pad_mask[i] = (uint8_t)(((i % skv) % 5) != 3 || (i % skv) == 0);
    opts.mask_type = CLATTN_MASK_BOOL;
    opts.mask = pad_mask;
    opts.mask_stride_batch = skv;
  }
  if (lc->lengths) {
    kv_lens = mt_alloc((size_t)b * sizeof *kv_lens);
    for (int64_t i = 0; i < b; i++) kv_lens[i] = (int32_t)(skv - 2 * i - 1);
    opts.kv_lens = kv_lens;
  }
  double *y_ref = mt_alloc((size_t)(b * s * e) * sizeof *y_ref);
  int64_t w_heads = lc->weights == CLATTN_MHA_WEIGHTS_PER_HEAD ? lc->heads : 1;
  double *p_ref = lc->weights ? mt_alloc((size_t)(b * lc->heads * s * skv) * sizeof *p_ref) : NULL;
  mha_ref_forward(&L.ref, b, s, skv, x, memory, lc->position_offset, &opts, y_ref, p_ref);

  /* Device side. */
  mt_rows xd = mt_rows_upload(env, x, b, s, e, row, bstride);
  mt_rows yd = mt_rows_poisoned(env, b, s, e, row, bstride);
  mt_rows md = {0};
  clattn_mha_inputs in;
  clattn_mha_inputs_init(&in);
  in.batch = b;
  in.seq = s;
  in.x = xd.view;
  in.y = yd.view;
  if (cross) {
    md = mt_rows_upload(env, memory, b, skv, L.ref.kv_dim, L.ref.kv_dim, skv * L.ref.kv_dim);
    in.memory = md.view;
    in.memory_len = skv;
  }
  in.causal = lc->causal;
  in.position_offset = lc->position_offset;
  cl_mem mask_buf = NULL, lens_buf = NULL, w_buf = NULL;
  if (pad_mask) {
    mask_buf = attn_buffer(env, pad_mask, (size_t)(b * skv));
    in.mask.type = CLATTN_MASK_BOOL;
    in.mask.buffer = mask_buf;
    in.mask.stride_batch = skv;
  }
  if (kv_lens) {
    lens_buf = attn_buffer(env, kv_lens, (size_t)b * sizeof *kv_lens);
    in.kv_lens = lens_buf;
  }
  size_t w_count = (size_t)(b * w_heads * s * skv);
  if (lc->weights) {
    float *nan = mt_alloc((w_count + MT_CANARY) * sizeof *nan);
    for (size_t i = 0; i < w_count + MT_CANARY; i++) nan[i] = i < w_count ? NAN : MT_CANARY_VALUE;
    w_buf = attn_buffer(env, nan, (w_count + MT_CANARY) * sizeof *nan);
    free(nan);
    in.weights_output = lc->weights;
    in.weights = clattn_tensor_contiguous(w_buf, CLATTN_F32, CLATTN_LAYOUT_BHSD, w_heads, s, skv, 0);
  }
  CHECK_OK(env->ctx, clattn_mha_forward(mha, env->queue, &in, 0, NULL, NULL));
  float *y = mt_rows_read(env, &yd);
  char label[160];
  snprintf(label, sizeof label, "%s (E=%lld H=%lld/%lld S=%lld Skv=%lld)", lc->name,
           (long long)e, (long long)lc->heads, (long long)L.ref.kv_heads, (long long)s, (long long)skv);
  compare(label, "y", y, y_ref, b * s * e, 1e-5);
  if (lc->weights) {
    float *w = mt_alloc((w_count + MT_CANARY) * sizeof *w);
    attn_read(env, w_buf, w, (w_count + MT_CANARY) * sizeof *w);
    for (size_t i = 0; i < MT_CANARY; i++) CHECK(w[w_count + i] == MT_CANARY_VALUE);
    double *want = p_ref;
    double *mean = NULL;
    if (lc->weights == CLATTN_MHA_WEIGHTS_AVERAGE) {
      mean = mt_alloc(w_count * sizeof *mean);
      for (int64_t bi = 0; bi < b; bi++)
        for (int64_t i = 0; i < s * skv; i++) {
          double sum = 0;
          for (int64_t h = 0; h < lc->heads; h++) sum += p_ref[(bi * lc->heads + h) * s * skv + i];
          mean[bi * s * skv + i] = sum / (double)lc->heads;
        }
      want = mean;
    }
    compare(label, "weights", w, want, (int64_t)w_count, 1e-5);
    free(mean);
    free(w);
  }
  printf("  %-28s ok\n", lc->name);
  free(y);
  mt_rows_release(&xd);
  mt_rows_release(&yd);
  mt_rows_release(&md);
  if (mask_buf) clReleaseMemObject(mask_buf);
  if (lens_buf) clReleaseMemObject(lens_buf);
  if (w_buf) clReleaseMemObject(w_buf);
  clattn_mha_destroy(mha);
  mt_layer_free(&L);
  free(x);
  free(memory);
  free(pad_mask);
  free(kv_lens);
  free(y_ref);
  free(p_ref);
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  static const layer_case cases[] = {
      /* name, E, H, Hkv, D, kv_dim, bias, packed, alibi, rope, R, B, S, Skv, causal, pad, lens, weights, pos, strided */
      {"packed E8 H1", 8, 1, 0, 0, 0, 1, 1, 0, CLATTN_ROPE_NONE, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0},
      {"packed E8 H2 no bias", 8, 2, 0, 0, 0, 0, 1, 0, CLATTN_ROPE_NONE, 0, 1, 13, 0, 0, 0, 0, 0, 0, 0},
      {"packed E64 H8", 64, 8, 0, 0, 0, 1, 1, 0, CLATTN_ROPE_NONE, 0, 2, 37, 0, 0, 0, 0, 0, 0, 0},
      {"packed E64 H2 causal", 64, 2, 0, 0, 0, 0, 1, 0, CLATTN_ROPE_NONE, 0, 2, 29, 0, 1, 0, 0, 0, 0, 1},
      {"packed E512 H8", 512, 8, 0, 0, 0, 1, 1, 0, CLATTN_ROPE_NONE, 0, 1, 33, 0, 0, 0, 0, 0, 0, 0},
      {"packed E512 H1 no bias", 512, 1, 0, 0, 0, 0, 1, 0, CLATTN_ROPE_NONE, 0, 1, 9, 0, 1, 0, 0, 0, 0, 0},
      {"gqa 8:2 bias", 64, 8, 2, 0, 0, 1, 0, 0, CLATTN_ROPE_NONE, 0, 2, 21, 0, 1, 0, 0, 0, 0, 0},
      {"mqa 4:1 D24", 40, 4, 1, 24, 0, 1, 0, 0, CLATTN_ROPE_NONE, 0, 1, 19, 0, 0, 0, 0, 0, 0, 1},
      {"cross kv_dim 24", 32, 4, 0, 0, 24, 1, 0, 0, CLATTN_ROPE_NONE, 0, 2, 11, 23, 0, 1, 0, 0, 0, 0},
      {"cross gqa lengths", 64, 8, 4, 0, 48, 0, 0, 0, CLATTN_ROPE_NONE, 0, 2, 5, 17, 0, 0, 1, 0, 0, 0},
      {"key padding self", 64, 2, 0, 0, 0, 1, 1, 0, CLATTN_ROPE_NONE, 0, 2, 15, 0, 0, 1, 0, 0, 0, 0},
      {"rope interleaved", 64, 4, 2, 0, 0, 1, 0, 0, CLATTN_ROPE_INTERLEAVED, 0, 2, 17, 0, 1, 0, 0, 0, 3, 0},
      {"rope half partial", 64, 2, 0, 0, 0, 0, 1, 0, CLATTN_ROPE_HALF, 16, 1, 25, 0, 1, 0, 0, 0, 1000, 0},
      {"alibi causal", 48, 6, 0, 0, 0, 1, 1, 1, CLATTN_ROPE_NONE, 0, 2, 23, 0, 1, 0, 0, 0, 0, 0},
      {"weights average", 32, 4, 0, 0, 0, 1, 1, 0, CLATTN_ROPE_NONE, 0, 2, 9, 0, 1, 1, 0, CLATTN_MHA_WEIGHTS_AVERAGE, 0, 0},
      {"weights per head cross", 32, 2, 0, 0, 16, 1, 0, 0, CLATTN_ROPE_NONE, 0, 2, 6, 11, 0, 0, 1, CLATTN_MHA_WEIGHTS_PER_HEAD, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&env, &cases[i]);
  printf("largest error / tolerance: %.3f\n", max_ratio);
  attn_env_destroy(&env);
  return check_done("test_mha");
}
