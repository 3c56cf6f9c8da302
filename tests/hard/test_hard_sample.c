/* Sampling is exact: for a given (seed, offset) the device draws the very indices a host
 * reimplementation of the Gumbel-max selection draws (host Philox, the kernel's fp32 score
 * arithmetic and its logarithm, the reference's mask rules), on shapes that miss every tile
 * and work-group size, with GQA, both alignments, windows, lengths, bool and additive masks,
 * ALiBi and f16/bf16 storage. With softcap (whose tanh rounds differently on host and device)
 * indices must agree wherever the best two perturbed scores are apart by more than 1e-5.
 *
 * Then the properties the header promises: the same call twice is bitwise equal; every
 * work-group size and draws-per-work-item gives the same result; draw d at offset o is draw
 * d + o at offset 0 (mod 2^32); other seeds and offsets give other draws; the call honours a
 * wait list on an out-of-order queue. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hard_support.h"

static attn_env env;

/* Compares every draw of a result with the host selection; returns rows compared exactly. */
static int64_t check_against_host(const hd_case *c, const hd_data *data, const hd_result *r) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t draws = c->hard.draws;
  int64_t exact = 0, near_ties = 0, empty = 0, varied = 0;
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t h = 0; h < d->q_heads; h++)
      for (int64_t t = 0; t < d->q_len; t++) {
        int first = -2, differs = 0;
        for (int64_t k = 0; k < draws; k++) {
          float margin;
          int want = hd_choice(c, data, b, h, t, k, &margin);
          int got = r->indices[((b * d->q_heads + h) * d->q_len + t) * draws + k];
          if (first == -2) first = got;
          differs |= got != first;
          empty += want < 0;
          if (d->softcap != 0.0f && margin <= 1e-5f) {
            /* Near-tie under softcap: the device's pick must be one of the tied best. */
            float zg = hd_score(c, data, b, h, t, got) +
                       hd_gumbel(c->hard.seed, (uint32_t)got, (uint32_t)k + c->hard.offset,
                                 (uint32_t)t, (uint32_t)(b * d->q_heads + h));
            float zw = hd_score(c, data, b, h, t, want) +
                       hd_gumbel(c->hard.seed, (uint32_t)want, (uint32_t)k + c->hard.offset,
                                 (uint32_t)t, (uint32_t)(b * d->q_heads + h));
            CHECK_NEAR(zg, zw, 2e-5 * (1.0 + fabs(zw)));
            near_ties++;
            continue;
          }
          if (got != want)
            check_fail(__FILE__, __LINE__,
                       "%s: (b %lld, h %lld, t %lld, draw %lld): device index %d, host %d "
                       "(margin %.3g)",
                       c->name, (long long)b, (long long)h, (long long)t, (long long)k, got, want,
                       (double)margin);
          exact++;
        }
        varied += differs;
      }
  check_pass();
  printf("%-28s %lld draws equal to the host's (%lld empty), %lld near-ties, %lld rows with "
         "varied draws\n",
         c->name, (long long)exact, (long long)empty, (long long)near_ties, (long long)varied);
  CHECK(exact > 0);
  if (draws > 1) CHECK(varied > 0); /* sampling, not argmax */
  return exact;
}

static void run_and_check(const hd_case *c, hd_result *out) {
  hd_data data;
  hd_result r;
  hd_data_make(c, &data);
  hd_run(&env, c, &data, 0, &r);
  check_against_host(c, &data, &r);
  if (out) *out = r;
  else hd_result_free(&r);
  hd_data_free(&data);
}

static const float SLOPES[4] = {0.5f, 0.25f, 0.125f, 0.0625f};
static const int32_t KV_LENS2[2] = {37, 29};

static void gqa_case(hd_case *c) {
  hd_case_init(c, "gqa causal br alibi", 2, 4, 2, 7, 37, 13, 5);
  c->hard.draws = 5;
  c->hard.seed = 0x1234567890abcdefull;
  c->hard.offset = 3;
  c->desc.causal = 1;
  c->desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c->alibi = SLOPES;
  c->kv_lens = KV_LENS2;
  c->sigma = 1.5;
}

static void test_exact_cases(void) {
  hd_case c;
  gqa_case(&c);
  run_and_check(&c, NULL);

  /* More queries than keys, a window, a bool mask, BSHD output, a short batch, wrapping
   * draw counter. */
  static const int32_t q_lens[1] = {15};
  enum { B = 1, H = 3, SQ = 19, SKV = 11 };
  static uint8_t bool_mask[B * H * SQ * SKV];
  ref_rng rng;
  ref_rng_seed(&rng, 5);
  for (size_t i = 0; i < sizeof bool_mask; i++) bool_mask[i] = ref_rng_uniform(&rng) > 0.2;
  hd_case_init(&c, "window bool-mask bshd", B, H, H, SQ, SKV, 8, 9);
  c.hard.draws = 3;
  c.hard.seed = 42;
  c.hard.offset = 0xfffffffeu;
  c.desc.window_left = 4;
  c.desc.window_right = 2;
  c.mask_type = CLATTN_MASK_BOOL;
  c.mask = bool_mask;
  c.q_lens = q_lens;
  c.o_bshd = 1;
  c.o_gap = 0;
  run_and_check(&c, NULL);

  /* Storage types and an additive mask with -inf and ordinary (even -1e30) values. */
  enum { B2 = 2, H2 = 2, SQ2 = 6, SKV2 = 21 };
  static float add_mask[B2 * H2 * SQ2 * SKV2];
  for (size_t i = 0; i < sizeof add_mask / sizeof add_mask[0]; i++) {
    double u = ref_rng_uniform(&rng);
    add_mask[i] = u < 0.15 ? -INFINITY : u < 0.2 ? -1e30f : (float)(u - 0.5);
  }
  hd_case_init(&c, "f16/bf16 additive mask", B2, H2, 1, SQ2, SKV2, 24, 7);
  c.q_type = CLATTN_F16;
  c.k_type = CLATTN_BF16;
  c.v_type = CLATTN_F16;
  c.o_type = CLATTN_BF16;
  c.hard.draws = 9;
  c.hard.seed = 0xffffffffffffffffull;
  c.mask_type = CLATTN_MASK_ADDITIVE;
  c.mask = add_mask;
  c.desc.scale = 0.3f;
  run_and_check(&c, NULL);

  /* Softcap: near-ties resolved within tolerance. */
  hd_case_init(&c, "softcap top-left causal", 1, 2, 2, 17, 17, 16, 16);
  c.hard.draws = 4;
  c.hard.seed = 99;
  c.desc.softcap = 1.5f;
  c.desc.causal = 1;
  c.sigma = 2.0;
  run_and_check(&c, NULL);
}

static void test_determinism_and_configs(void) {
  hd_case c;
  hd_data data;
  hd_result first, again;
  gqa_case(&c);
  c.hard.draws = 21; /* not a multiple of any draws-per-item */
  hd_data_make(&c, &data);
  hd_run(&env, &c, &data, 0, &first);
  hd_run(&env, &c, &data, 0, &again);
  CHECK(hd_result_equal(&c, &first, &again));
  hd_result_free(&again);
  static const clattn__hard_config configs[] = {{1, 1},   {3, 2}, {16, 8},
                                                {64, 16}, {7, 4}, {256, 1}};
  for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) {
    c.config = &configs[i];
    hd_run(&env, &c, &data, 0, &again);
    if (!hd_result_equal(&c, &first, &again))
      check_fail(__FILE__, __LINE__, "wg %d, draws per item %d: result differs from the default",
                 configs[i].wg, configs[i].draws_per_item);
    check_pass();
    hd_result_free(&again);
  }
  printf("same call twice and %zu work layouts: bitwise equal\n",
         sizeof configs / sizeof configs[0]);
  check_against_host(&c, &data, &first);
  hd_result_free(&first);
  hd_data_free(&data);
}

/* Draws of (B, Hq, Sq, draws) result r at (row, draw). */
static int32_t draw_of(const hd_case *c, const hd_result *r, int64_t row, int64_t k) {
  return r->indices[row * c->hard.draws + k];
}

static void test_offsets_and_seeds(void) {
  hd_case base, shifted;
  hd_data data;
  hd_result r0, r1;
  gqa_case(&base);
  base.hard.draws = 8;
  base.hard.offset = 0;
  hd_data_make(&base, &data);
  hd_run(&env, &base, &data, 0, &r0);
  const int64_t rows = base.desc.batch * base.desc.q_heads * base.desc.q_len;

  shifted = base;
  shifted.hard.draws = 4;
  shifted.hard.offset = 4; /* draws 4..7 of the first call */
  hd_run(&env, &shifted, &data, 0, &r1);
  for (int64_t row = 0; row < rows; row++)
    for (int64_t k = 0; k < 4; k++)
      CHECK_EQ(draw_of(&shifted, &r1, row, k), draw_of(&base, &r0, row, 4 + k));
  hd_result_free(&r1);

  shifted.hard.offset = 0xfffffffeu; /* draws 2 and 3 wrap to draws 0 and 1 */
  hd_run(&env, &shifted, &data, 0, &r1);
  for (int64_t row = 0; row < rows; row++)
    for (int64_t k = 2; k < 4; k++)
      CHECK_EQ(draw_of(&shifted, &r1, row, k), draw_of(&base, &r0, row, k - 2));
  hd_result_free(&r1);

  /* Fresh draws: another offset or another seed changes most non-degenerate draws. */
  for (int variant = 0; variant < 2; variant++) {
    shifted = base;
    if (variant == 0) shifted.hard.offset = 8;
    else shifted.hard.seed ^= 1ull << 40; /* only the high key word changes */
    hd_run(&env, &shifted, &data, 0, &r1);
    int64_t same = 0, total = 0;
    for (int64_t row = 0; row < rows; row++)
      for (int64_t k = 0; k < 8; k++) {
        int32_t a = draw_of(&base, &r0, row, k);
        if (a < 0) continue;
        total++;
        same += a == draw_of(&shifted, &r1, row, k);
      }
    printf("%s: %lld of %lld draws unchanged\n", variant ? "other seed" : "offset + draws",
           (long long)same, (long long)total);
    CHECK(total > 100);
    CHECK(same < total / 2);
    check_against_host(&shifted, &data, &r1);
    hd_result_free(&r1);
  }
  hd_result_free(&r0);
  hd_data_free(&data);
}

/* The scores the host reimplements are the device's: clattn_attention_weights (MASKED)
 * returns them bitwise, which is what the header promises for hard attention's scores. */
static void test_scores_are_the_weights(void) {
  hd_case c;
  hd_data data;
  gqa_case(&c);
  c.kv_lens = NULL;
  hd_data_make(&c, &data);
  const clattn_attention_desc *d = &c.desc;
  const size_t nq = (size_t)(d->batch * d->q_heads * d->q_len * d->head_dim);
  const size_t nk = (size_t)(d->batch * d->kv_heads * d->kv_len * d->head_dim);
  const size_t nw = (size_t)(d->batch * d->q_heads * d->q_len * d->kv_len);
  cl_mem qb = attn_buffer(&env, data.q, nq * 4), kb = attn_buffer(&env, data.k, nk * 4);
  cl_mem wb = attn_buffer(&env, NULL, nw * 4), sb = attn_buffer(&env, SLOPES, sizeof SLOPES);
  clattn_attention_desc desc = *d;
  desc.alibi_slopes = sb;
  clattn_tensor q = clattn_tensor_contiguous(qb, CLATTN_F32, CLATTN_LAYOUT_BHSD, d->q_heads,
                                             d->q_len, d->head_dim, 0);
  clattn_tensor k = clattn_tensor_contiguous(kb, CLATTN_F32, CLATTN_LAYOUT_BHSD, d->kv_heads,
                                             d->kv_len, d->head_dim, 0);
  clattn_tensor w = clattn_tensor_contiguous(wb, CLATTN_F32, CLATTN_LAYOUT_BHSD, d->q_heads,
                                             d->q_len, d->kv_len, 0);
  CHECK_OK(env.ctx, clattn_attention_weights(env.ctx, NULL, &desc, &q, &k, NULL,
                                             CLATTN_WEIGHTS_MASKED, &w, 0, NULL, NULL));
  float *got = malloc(nw * 4);
  CHECK(got);
  attn_read(&env, wb, got, nw * 4);
  ref_attention p;
  hd_ref(&c, &data, &p);
  int64_t equal = 0;
  for (int64_t b = 0; b < d->batch; b++)
    for (int64_t h = 0; h < d->q_heads; h++)
      for (int64_t t = 0; t < d->q_len; t++)
        for (int64_t j = 0; j < d->kv_len; j++) {
          float want =
              ref_attention_allowed(&p, b, h, t, j) ? hd_score(&c, &data, b, h, t, j) : -INFINITY;
          float x = got[((b * d->q_heads + h) * d->q_len + t) * d->kv_len + j];
          if (memcmp(&x, &want, sizeof x) != 0)
            check_fail(__FILE__, __LINE__,
                       "score (%lld, %lld, %lld, %lld): weights %.9g, host %.9g", (long long)b,
                       (long long)h, (long long)t, (long long)j, (double)x, (double)want);
          equal += want != -INFINITY;
        }
  check_pass();
  printf("host fp32 scores bitwise equal to clattn_attention_weights (MASKED): %lld attended\n",
         (long long)equal);
  free(got);
  cl_mem all[4] = {qb, kb, wb, sb};
  for (int i = 0; i < 4; i++) clReleaseMemObject(all[i]);
  hd_data_free(&data);
}

static cl_event gate;

static void open_gate(const hd_case *c, cl_event done) {
  (void)c;
  cl_int state = CL_COMPLETE;
  CHECK_CL(clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL));
  CHECK(state != CL_COMPLETE && state >= 0); /* still waiting for the gate */
  CHECK_CL(clSetUserEventStatus(gate, CL_COMPLETE));
}

static void test_out_of_order_queue(void) {
  cl_command_queue_properties supported = 0;
  CHECK_CL(
      clGetDeviceInfo(env.device, CL_DEVICE_QUEUE_PROPERTIES, sizeof supported, &supported, NULL));
  if (!(supported & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE)) {
    printf("out-of-order queues unsupported: skipped\n");
    return;
  }
  cl_int err;
  cl_command_queue ooo =
      clCreateCommandQueue(env.cl, env.device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  CHECK_CL(err);
  gate = clCreateUserEvent(env.cl, &err);
  CHECK_CL(err);
  hd_case c;
  hd_data data;
  hd_result in_order, out_of_order;
  gqa_case(&c);
  hd_data_make(&c, &data);
  hd_run(&env, &c, &data, 0, &in_order);
  c.queue = ooo;
  c.num_wait = 1;
  c.wait = &gate;
  c.after_enqueue = open_gate;
  hd_run(&env, &c, &data, 0, &out_of_order);
  CHECK(hd_result_equal(&c, &in_order, &out_of_order));
  printf("out-of-order queue behind a user event: waited, then equal to the in-order result\n");
  hd_result_free(&in_order);
  hd_result_free(&out_of_order);
  hd_data_free(&data);
  clReleaseEvent(gate);
  clReleaseCommandQueue(ooo);
}

int main(void) {
  attn_env_init(&env);
  test_scores_are_the_weights();
  test_exact_cases();
  test_determinism_and_configs();
  test_offsets_and_seeds();
  test_out_of_order_queue();
  attn_env_destroy(&env);
  return check_done("test_hard_sample");
}
