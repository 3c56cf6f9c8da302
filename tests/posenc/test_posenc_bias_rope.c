/* The projection epilogue clattn__bias_rope on a packed-QKV-like buffer: rows of
 * Hq + 2 Hkv heads (plus a gap) per token, one view over all heads with a bias, where only
 * the first rope_heads (Q and K) rotate and the V heads get only the bias. Also: bias-only
 * calls (rope NULL, style NONE, rope_heads 0), rotation without a bias (V heads bitwise
 * untouched), the nothing-to-do marker, clattn_rope_apply on the K heads alone (Q and V
 * bitwise untouched), wait lists on an out-of-order queue, and a timing line. Negative
 * controls: bias added after the rotation, V heads rotated too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posenc.h"
#include "posenc_support.h"

enum { B = 2, S = 7, HQ = 4, HKV = 2, H = HQ + 2 * HKV, D = 24, GAP = 5, PAD = 6, BIAS_PAD = 9 };

static attn_env env;
static const int32_t positions_host[B] = {4, 100000};

/* All heads of the packed rows: (B, H, S, D) with stride_head D. */
static pe_view packed_view(uint64_t first_head, int64_t heads) {
  pe_view v = {B, heads, S, D, PAD + first_head * D, D, D, H * D + GAP};
  v.stride_batch = S * v.stride_seq + 3;
  return v;
}

typedef struct epilogue_case {
  const char *name;
  clattn_dtype dtype;
  int use_bias;
  int rope_kind; /* 0: rope NULL, 1: style NONE, 2: a real rotation */
  clattn_rope_style style;
  int64_t rotary_dim;
  int64_t rope_heads;
  int64_t position_offset;
  int use_positions;
  int controls;
} epilogue_case;

static void run_case(const epilogue_case *c, const float *bias, cl_mem bias_buffer, uint64_t seed) {
  pe_view all = packed_view(0, H);
  pe_image image;
  pe_image_init(&image, c->dtype, pe_view_end(&all) + GAP + 17);
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  pe_image_fill(&image, &all, &rng, 1.0);
  pe_image_upload(&env, &image);
  cl_mem positions = c->use_positions ? attn_buffer(&env, positions_host, sizeof positions_host) : NULL;
  clattn_rope rope = {c->rope_kind == 2 ? c->style : CLATTN_ROPE_NONE, 0.0f, c->rotary_dim};
  clattn_tensor x = pe_tensor(&image, &all);
  cl_event done = NULL;
  CHECK_OK(env.ctx, clattn__bias_rope(env.ctx, env.queue, &x, B, H, S, D,
                                      c->use_bias ? bias_buffer : NULL, BIAS_PAD,
                                      c->rope_kind == 0 ? NULL : &rope, c->rope_heads,
                                      c->position_offset, positions, 0, NULL, &done));
  CHECK_CL(clWaitForEvents(1, &done));
  clReleaseEvent(done);
  unsigned char *got = pe_image_download(&env, &image);

  pe_rope_call call;
  memset(&call, 0, sizeof call);
  call.style = c->rope_kind == 2 ? c->style : CLATTN_ROPE_NONE;
  call.rotary_dim = c->rotary_dim;
  call.rope_heads = c->rope_heads;
  call.position_offset = c->position_offset;
  call.positions = c->use_positions ? positions_host : NULL;
  call.bias = c->use_bias ? bias : NULL;
  call.bias_offset = BIAS_PAD;
  pe_expect e;
  pe_expect_init(&e, image.count);
  pe_expect_rope(&e, &image, &all, &call);
  if (!c->use_bias) /* heads that neither rotate nor get a bias must keep their bits */
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = call.style == CLATTN_ROPE_NONE ? 0 : c->rope_heads; h < H; h++)
        for (int64_t s = 0; s < S; s++)
          for (int64_t d = 0; d < D; d++) e.set[pe_index(&all, b, h, s, d)] = 0;
  pe_verify(c->name, &image, got, &e);

  if (c->controls) {
    char what[160];
    /* Bias after the rotation instead of before. */
    pe_rope_call late = call;
    late.bias = NULL;
    pe_expect_free(&e);
    pe_expect_init(&e, image.count);
    pe_expect_rope(&e, &image, &all, &late);
    for (int64_t b = 0; b < B; b++)
      for (int64_t h = 0; h < H; h++)
        for (int64_t s = 0; s < S; s++)
          for (int64_t d = 0; d < D; d++)
            e.value[pe_index(&all, b, h, s, d)] += bias[BIAS_PAD + h * D + d];
    snprintf(what, sizeof what, "%s vs bias after rotation", c->name);
    pe_expect_mismatch(what, &image, got, &e);
    /* Every head rotated, V included. */
    pe_rope_call every = call;
    every.rope_heads = H;
    pe_expect_free(&e);
    pe_expect_init(&e, image.count);
    pe_expect_rope(&e, &image, &all, &every);
    snprintf(what, sizeof what, "%s vs V heads rotated too", c->name);
    pe_expect_mismatch(what, &image, got, &e);
  }
  pe_expect_free(&e);
  free(got);
  if (positions) clReleaseMemObject(positions);
  pe_image_free(&image);
}

/* clattn_rope_apply on the K heads only: Q and V, the gaps and the canaries keep their bits. */
static void k_heads_only(clattn_rope_style style) {
  pe_view all = packed_view(0, H), k = packed_view(HQ, HKV);
  pe_image image;
  pe_image_init(&image, CLATTN_F32, pe_view_end(&all) + GAP + 17);
  ref_rng rng;
  ref_rng_seed(&rng, 4242 + (uint64_t)style);
  pe_image_fill(&image, &all, &rng, 1.0);
  pe_image_upload(&env, &image);
  cl_mem positions = attn_buffer(&env, positions_host, sizeof positions_host);
  clattn_rope rope = {style, 0.0f, 16};
  clattn_tensor x = pe_tensor(&image, &k);
  CHECK_OK(env.ctx, clattn_rope_apply(env.ctx, NULL, &rope, &x, B, HKV, S, D, 3, positions, 0,
                                      NULL, NULL));
  CHECK_CL(clFinish(env.queue));
  unsigned char *got = pe_image_download(&env, &image);
  pe_rope_call call;
  memset(&call, 0, sizeof call);
  call.style = style;
  call.rotary_dim = 16;
  call.rope_heads = HKV;
  call.position_offset = 3;
  call.positions = positions_host;
  pe_expect e;
  pe_expect_init(&e, image.count);
  pe_expect_rope(&e, &image, &k, &call);
  pe_verify(style == CLATTN_ROPE_HALF ? "rope_apply on K heads only (half)" : "rope_apply on K heads only (interleaved)",
            &image, got, &e);
  pe_expect_free(&e);
  free(got);
  clReleaseMemObject(positions);
  pe_image_free(&image);
}

/* An odd head dimension with a bias, heads packed without gaps (BSHD, gap 0): the last
 * feature of a head has no partner, and a write past it would land on the next head. */
static void odd_dim_bias(clattn_rope_style style, clattn_dtype dtype) {
  enum { OB = 2, OH = 3, OS = 5, OD = 13 };
  pe_view v = pe_view_bshd(OB, OH, OS, OD, 0, 2);
  pe_image image;
  pe_image_init(&image, dtype, pe_view_end(&v) + 9);
  ref_rng rng;
  ref_rng_seed(&rng, 555 + (uint64_t)style);
  pe_image_fill(&image, &v, &rng, 1.0);
  pe_image_upload(&env, &image);
  float bias[1 + OH * OD];
  ref_rng_fill_normal(&rng, bias, 1 + OH * OD, 1.0);
  cl_mem bias_buffer = attn_buffer(&env, bias, sizeof bias);
  clattn_rope rope = {style, 0.0f, 8};
  clattn_tensor x = pe_tensor(&image, &v);
  CHECK_OK(env.ctx, clattn__bias_rope(env.ctx, NULL, &x, OB, OH, OS, OD, bias_buffer, 1, &rope, 2,
                                      40, NULL, 0, NULL, NULL));
  CHECK_CL(clFinish(env.queue));
  unsigned char *got = pe_image_download(&env, &image);
  pe_rope_call call;
  memset(&call, 0, sizeof call);
  call.style = style;
  call.rotary_dim = 8;
  call.rope_heads = 2;
  call.position_offset = 40;
  call.bias = bias;
  call.bias_offset = 1;
  pe_expect e;
  pe_expect_init(&e, image.count);
  pe_expect_rope(&e, &image, &v, &call);
  pe_verify(style == CLATTN_ROPE_HALF ? "odd D 13, bias, half 8/13, 2 of 3 heads"
                                      : "odd D 13, bias, interleaved 8/13, 2 of 3 heads",
            &image, got, &e);
  pe_expect_free(&e);
  free(got);
  clReleaseMemObject(bias_buffer);
  pe_image_free(&image);
}

/* Nothing to do (no bias, no rotation): the event still comes back, after the wait list, and
 * nothing is written. */
static void nothing_to_do(void) {
  pe_view all = packed_view(0, H);
  pe_image image;
  pe_image_init(&image, CLATTN_F32, pe_view_end(&all) + 7);
  pe_image_upload(&env, &image);
  clattn_tensor x = pe_tensor(&image, &all);
  cl_int err;
  cl_event gate = clCreateUserEvent(env.cl, &err);
  CHECK_CL(err);
  cl_event done = NULL;
  clattn_rope rope = {CLATTN_ROPE_HALF, 0.0f, 0};
  CHECK_OK(env.ctx, clattn__bias_rope(env.ctx, env.queue, &x, B, H, S, D, NULL, 0, &rope, 0, 0,
                                      NULL, 1, &gate, &done));
  CHECK(done != NULL);
  CHECK_CL(clFlush(env.queue));
  cl_int state = 0;
  CHECK_CL(clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL));
  CHECK(state != CL_COMPLETE); /* still waiting for the gate */
  CHECK_CL(clSetUserEventStatus(gate, CL_COMPLETE));
  CHECK_CL(clWaitForEvents(1, &done));
  clReleaseEvent(done);
  clReleaseEvent(gate);
  unsigned char *got = pe_image_download(&env, &image);
  CHECK(memcmp(got, image.bytes, (size_t)image.count * 4) == 0);
  free(got);
  pe_image_free(&image);
}

/* An out-of-order queue: the rotation waits for a write of its input that is gated by a user
 * event, and the returned event covers it. */
static void out_of_order(const float *bias, cl_mem bias_buffer) {
  cl_int err;
  cl_command_queue queue =
      clCreateCommandQueue(env.cl, env.device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  if (err != CL_SUCCESS) {
    printf("  out-of-order queue not supported (%s): skipped\n", clattn_cl_error_name(err));
    return;
  }
  pe_view all = packed_view(0, H);
  pe_image image;
  pe_image_init(&image, CLATTN_F32, pe_view_end(&all) + 7);
  ref_rng rng;
  ref_rng_seed(&rng, 99);
  pe_image_fill(&image, &all, &rng, 1.0);
  size_t bytes = (size_t)image.count * 4;
  image.buffer = attn_buffer(&env, NULL, bytes);
  cl_event gate = clCreateUserEvent(env.cl, &err), written = NULL, done = NULL;
  CHECK_CL(err);
  CHECK_CL(clEnqueueWriteBuffer(queue, image.buffer, CL_FALSE, 0, bytes, image.bytes, 1, &gate, &written));
  clattn_rope rope = {CLATTN_ROPE_INTERLEAVED, 0.0f, 0};
  clattn_tensor x = pe_tensor(&image, &all);
  CHECK_OK(env.ctx, clattn__bias_rope(env.ctx, queue, &x, B, H, S, D, bias_buffer, BIAS_PAD, &rope,
                                      HQ + HKV, 17, NULL, 1, &written, &done));
  CHECK_CL(clSetUserEventStatus(gate, CL_COMPLETE));
  CHECK_CL(clWaitForEvents(1, &done));
  unsigned char *got = malloc(bytes);
  CHECK(got != NULL);
  CHECK_CL(clEnqueueReadBuffer(queue, image.buffer, CL_TRUE, 0, bytes, got, 0, NULL, NULL));
  pe_rope_call call;
  memset(&call, 0, sizeof call);
  call.style = CLATTN_ROPE_INTERLEAVED;
  call.rope_heads = HQ + HKV;
  call.position_offset = 17;
  call.bias = bias;
  call.bias_offset = BIAS_PAD;
  pe_expect e;
  pe_expect_init(&e, image.count);
  pe_expect_rope(&e, &image, &all, &call);
  pe_verify("out-of-order queue, wait list", &image, got, &e);
  pe_expect_free(&e);
  free(got);
  clReleaseEvent(done);
  clReleaseEvent(written);
  clReleaseEvent(gate);
  clReleaseCommandQueue(queue);
  pe_image_free(&image);
}

/* One timed pass over a packed QKV output of 2048 tokens, Hq = Hkv = 12, D = 64, with bias
 * and RoPE on Q and K (informational: the bytes read and written per second). */
static void timing(void) {
  const int64_t rows = 2048, heads = 36, dim = 64;
  size_t count = (size_t)rows * heads * dim;
  cl_mem buffer = attn_buffer(&env, NULL, count * 4);
  float *bias = calloc((size_t)heads * dim, sizeof *bias);
  CHECK(bias != NULL);
  cl_mem bias_buffer = attn_buffer(&env, bias, (size_t)heads * dim * 4);
  clattn_tensor x = {buffer, CLATTN_F32, 0, rows * heads * dim, dim, heads * dim};
  clattn_rope rope = {CLATTN_ROPE_HALF, 0.0f, 0};
  enum { REPS = 9 };
  double times[REPS + 1];
  for (int rep = 0; rep <= REPS; rep++) {
    cl_event done = NULL;
    CHECK_OK(env.ctx, clattn__bias_rope(env.ctx, env.queue, &x, 1, heads, rows, dim, bias_buffer, 0,
                                        &rope, 24, 0, NULL, 0, NULL, &done));
    CHECK_CL(clWaitForEvents(1, &done));
    cl_ulong t0 = 0, t1 = 0;
    CHECK_CL(clGetEventProfilingInfo(done, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL));
    CHECK_CL(clGetEventProfilingInfo(done, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL));
    clReleaseEvent(done);
    times[rep] = (double)(t1 - t0) * 1e-9;
  }
  /* Run 0 builds and warms up; the median of the rest counts. */
  for (int i = 2; i <= REPS; i++)
    for (int k = i; k > 1 && times[k] < times[k - 1]; k--) {
      double t = times[k];
      times[k] = times[k - 1];
      times[k - 1] = t;
    }
  double median = times[1 + REPS / 2];
  printf("  bias + RoPE over 2048 x 36 x 64 f32: median %.3f ms (best %.3f), %.2f GB/s (read + write)\n",
         median * 1e3, times[1] * 1e3, 2.0 * (double)count * 4 / median * 1e-9);
  free(bias);
  clReleaseMemObject(bias_buffer);
  clReleaseMemObject(buffer);
}

int main(void) {
  attn_env_init(&env);
  float bias[BIAS_PAD + H * D + 11];
  ref_rng rng;
  ref_rng_seed(&rng, 31337);
  ref_rng_fill_normal(&rng, bias, sizeof bias / sizeof bias[0], 1.0);
  cl_mem bias_buffer = attn_buffer(&env, bias, sizeof bias);
  const epilogue_case cases[] = {
      {"QKV, bias, interleaved, Q and K rotate", CLATTN_F32, 1, 2, CLATTN_ROPE_INTERLEAVED, 0, HQ + HKV, 10, 1, 1},
      {"QKV, bias, half, Q and K rotate", CLATTN_F32, 1, 2, CLATTN_ROPE_HALF, 0, HQ + HKV, 10, 1, 1},
      {"QKV, bias, half partial 16/24", CLATTN_F32, 1, 2, CLATTN_ROPE_HALF, 16, HQ + HKV, 0, 1, 1},
      {"QKV, bias, interleaved partial 8/24, Q only", CLATTN_F32, 1, 2, CLATTN_ROPE_INTERLEAVED, 8, HQ, 1000000, 0, 1},
      {"QKV, no bias, interleaved", CLATTN_F32, 0, 2, CLATTN_ROPE_INTERLEAVED, 0, HQ + HKV, 5, 1, 0},
      {"QKV, bias only (rope NULL)", CLATTN_F32, 1, 0, CLATTN_ROPE_NONE, 0, HQ + HKV, 5, 1, 0},
      {"QKV, bias only (style NONE)", CLATTN_F32, 1, 1, CLATTN_ROPE_NONE, 0, HQ + HKV, 5, 1, 0},
      {"QKV, bias only (rope_heads 0)", CLATTN_F32, 1, 2, CLATTN_ROPE_HALF, 0, 0, 5, 1, 0},
      {"QKV f16, bias, half", CLATTN_F16, 1, 2, CLATTN_ROPE_HALF, 0, HQ + HKV, 77, 1, 1},
      {"QKV bf16, bias, interleaved partial 12/24", CLATTN_BF16, 1, 2, CLATTN_ROPE_INTERLEAVED, 12, HQ + HKV, 77, 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    run_case(&cases[i], bias, bias_buffer, 70 + 13 * i);
  k_heads_only(CLATTN_ROPE_INTERLEAVED);
  k_heads_only(CLATTN_ROPE_HALF);
  odd_dim_bias(CLATTN_ROPE_INTERLEAVED, CLATTN_F32);
  odd_dim_bias(CLATTN_ROPE_HALF, CLATTN_BF16);
  nothing_to_do();
  out_of_order(bias, bias_buffer);
  timing();
  clReleaseMemObject(bias_buffer);
  attn_env_destroy(&env);
  return check_done("test_posenc_bias_rope");
}
