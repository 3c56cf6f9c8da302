/* Tensor views: BHSD, BSHD, a packed QKV projection output (one buffer (B, S, Hq*D + Hkv*D
 * + Hkv*Dv) with q, k, v as views at non-zero offsets, also with GQA and D != Dv), large
 * and odd offsets, O and LSE rows with gaps (canaries in every gap), K/V broadcast over the
 * batch (stride 0), masks and lengths with views, and O written in place over an identical
 * Q view. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

static void layouts(attn_env *env) {
  static const clattn__attention_config *const cfgs[2] = {&ATTN_CPU, &ATTN_GPU};
  printf("layouts:\n");
  for (int k = 0; k < 2; k++) {
    attn_case c;
    attn_case_init(&c, "BSHD Sq113 Skv203", 2, 4, 4, 113, 203, 64, 64);
    c.layout = ATTN_BSHD;
    c.config = cfgs[k];
    attn_run(env, &c);
    attn_case_init(&c, "BSHD GQA 8/2 Sq203 Skv113 pad 1001", 2, 8, 2, 203, 113, 64, 64);
    c.layout = ATTN_BSHD;
    c.pad = 1001;
    c.o_gap = 0;
    c.config = cfgs[k];
    attn_run(env, &c);
    attn_case_init(&c, "BHSD pad 4099, O gap 17", 2, 2, 2, 17, 203, 64, 64);
    c.pad = 4099;
    c.o_gap = 17;
    c.config = cfgs[k];
    attn_run(env, &c);
    attn_case_init(&c, "BHSD no pad, no gap", 2, 2, 2, 113, 17, 64, 64);
    c.pad = 0;
    c.o_gap = 0;
    c.config = cfgs[k];
    attn_run(env, &c);
    attn_case_init(&c, "packed QKV (B,S,3,H,D) S203", 2, 4, 4, 203, 203, 64, 64);
    c.layout = ATTN_PACKED;
    c.config = cfgs[k];
    attn_run(env, &c);
    attn_case_init(&c, "packed QKV GQA 8/2 causal S113 pad 3", 2, 8, 2, 113, 113, 64, 64);
    c.layout = ATTN_PACKED;
    c.pad = 3;
    c.desc.causal = 1;
    c.config = cfgs[k];
    attn_run(env, &c);
    static const int32_t kv_lens[2] = {100, 113};
    attn_case_init(&c, "packed QKV D64 Dv40 kv_lens S113", 2, 2, 2, 113, 113, 64, 40);
    c.layout = ATTN_PACKED;
    c.kv_lens = kv_lens;
    c.config = cfgs[k];
    attn_run(env, &c);
    attn_case_init(&c, "K/V broadcast over batch (stride 0)", 3, 2, 2, 113, 203, 64, 64);
    c.broadcast_kv_batch = 1;
    c.config = cfgs[k];
    attn_run(env, &c);
    attn_case_init(&c, "BSHD K/V broadcast over batch, MQA", 3, 4, 1, 17, 1023, 64, 64);
    c.layout = ATTN_BSHD;
    c.broadcast_kv_batch = 1;
    c.config = cfgs[k];
    attn_run(env, &c);
    attn_case_init(&c, "no LSE requested (LSE buffer untouched)", 1, 2, 2, 113, 203, 64, 64);
    c.lse = 0;
    c.config = cfgs[k];
    attn_run(env, &c);
  }
}

/* O written over Q through the identical view (validation allows it: every work-group reads
 * its Q rows before writing the same rows). */
static void in_place(attn_env *env, const clattn__attention_config *config) {
  const int64_t B = 2, H = 2, Sq = 203, Skv = 113, D = 64;
  const size_t nq = (size_t)(B * H * Sq * D), nk = (size_t)(B * H * Skv * D);
  const size_t off = 7;
  float *q = malloc((off + nq) * sizeof *q), *k = malloc(nk * sizeof *k),
        *v = malloc(nk * sizeof *v), *out = malloc((off + nq) * sizeof *out);
  double *o_ref = malloc(nq * sizeof *o_ref);
  CHECK(q && k && v && out && o_ref);
  ref_rng rng;
  ref_rng_seed(&rng, 4242);
  for (size_t i = 0; i < off; i++) q[i] = -7.0f;
  ref_rng_fill_normal(&rng, q + off, nq, 1.0);
  ref_rng_fill_normal(&rng, k, nk, 1.0);
  ref_rng_fill_normal(&rng, v, nk, 1.0);
  ref_attention p;
  ref_attention_init(&p, B, H, H, Sq, Skv, D, D);
  p.causal = 1;
  p.q = q + off;
  p.k = k;
  p.v = v;
  CHECK(ref_attention_forward(&p, o_ref, NULL) == 0);

  cl_mem bq = attn_buffer(env, q, (off + nq) * sizeof *q), bk = attn_buffer(env, k, nk * 4),
         bv = attn_buffer(env, v, nk * 4);
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = B;
  desc.q_heads = desc.kv_heads = H;
  desc.q_len = Sq;
  desc.kv_len = Skv;
  desc.head_dim = D;
  desc.causal = 1;
  clattn_tensor tq = clattn_tensor_contiguous(bq, CLATTN_F32, CLATTN_LAYOUT_BHSD, H, Sq, D, off);
  clattn_tensor tk = clattn_tensor_contiguous(bk, CLATTN_F32, CLATTN_LAYOUT_BHSD, H, Skv, D, 0);
  clattn_tensor tv = clattn_tensor_contiguous(bv, CLATTN_F32, CLATTN_LAYOUT_BHSD, H, Skv, D, 0);
  CHECK_EQ(tq.stride_batch, H * Sq * D);
  CHECK_EQ(tq.stride_head, Sq * D);
  CHECK_EQ(tq.stride_seq, D);
  CHECK_OK(env->ctx, clattn__attention_set_override(env->ctx, config));
  CHECK_OK(env->ctx, clattn_attention_forward(env->ctx, NULL, &desc, &tq, &tk, &tv, &tq, NULL, 0,
                                              NULL, NULL));
  CHECK_OK(env->ctx, clattn__attention_set_override(env->ctx, NULL));
  attn_read(env, bq, out, (off + nq) * sizeof *out);
  for (size_t i = 0; i < off; i++) CHECK(out[i] == -7.0f);
  double worst = 0.0;
  for (size_t i = 0; i < nq; i++) {
    double ratio;
    if (!attn_compare_value(CLATTN_F32, out[off + i], o_ref[i], &ratio))
      check_fail(__FILE__, __LINE__, "in place [%s]: O[%zu] = %.9g, reference %.12g",
                 attn_config_name(config), i, (double)out[off + i], o_ref[i]);
    if (ratio > worst) worst = ratio;
  }
  check_pass();
  printf("  %-44s %-34s worst err/tol O %.4f\n", "in place: O = Q view", attn_config_name(config),
         worst);
  clReleaseMemObject(bq);
  clReleaseMemObject(bk);
  clReleaseMemObject(bv);
  free(q);
  free(k);
  free(v);
  free(out);
  free(o_ref);
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  layouts(&env);
  printf("in place:\n");
  in_place(&env, &ATTN_CPU);
  in_place(&env, &ATTN_GPU);
  attn_env_destroy(&env);
  return check_done("test_attention_views");
}
