/* Local-p against the double-precision reference: given positions (fractional, at and past
 * both edges, NaN, +-inf) with D in {0, 1, 3, 20}; positions predicted from W_p and v_p
 * (S_b from kv_lens) on q views that form one matrix (BHSD, BSHD) and one that does not
 * (one GEMM per head); GQA, Sq != Skv, causal; and the chain of CLBlast GEMM and kernel on an
 * out-of-order queue behind a user event. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "local_harness.h"

static attn_env env;

enum { HD = 16, HV = 12 };

static void given_positions(void) {
  enum { B = 2, H = 2, SQ = 9, SKV = 23 };
  static const float pattern[] = {-2.5f, 0.0f, 0.3f, 1.7f, 21.2f, 22.0f, 22.5f, 24.9f, 11.5f,
                                  5.0f, 8.999f, 30.0f, -4.0f, 0.5f, 20.0f, 13.25f};
  float pos[B * H * SQ];
  for (int i = 0; i < B * H * SQ; i++) pos[i] = pattern[i % 16];
  pos[7] = NAN;
  pos[20] = INFINITY;
  pos[33] = -INFINITY;
  const int64_t widths[] = {0, 1, 3, 20};
  for (int g = 0; g <= 1; g++)
    for (size_t i = 0; i < sizeof widths / sizeof widths[0]; i++) {
      char name[80];
      snprintf(name, sizeof name, "given p_t, D %lld, gaussian %d", (long long)widths[i], g);
      lt_case c;
      lt_case_init(&c, name, B, H, 1, SQ, SKV, HD, HV);
      c.mode = CLATTN_LOCAL_P;
      c.positions = pos;
      c.window = widths[i];
      c.gaussian = g;
      lt_report r = lt_run(&env, &c);
      CHECK_EQ(r.nan_rows, 1);
      CHECK(r.edge_low > 0 && r.edge_high > 0);
      CHECK(r.empty_rows >= 2); /* the infinite positions */
      if (widths[i] < 3) CHECK(r.poisoned_keys > 0);
    }
  /* With per-batch lengths and causal rules on top. */
  static const int32_t kv_lens[B] = {23, 12}, q_lens[B] = {9, 7};
  lt_case c;
  lt_case_init(&c, "given p_t, kv_lens 23/12, q_lens, causal bottom-right", B, H, 1, SQ, SKV, HD, HV);
  c.mode = CLATTN_LOCAL_P;
  c.positions = pos;
  c.kv_lens = kv_lens;
  c.q_lens = q_lens;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  lt_run(&env, &c);
}

static void predicted(void) {
  static const int32_t kv_lens[2] = {31, 14};
  const struct { const char *name; lt_layout layout; int64_t p_dim; } views[] = {
      {"W_p, BHSD q (one GEMM)", LT_BHSD, 8},
      {"W_p, BSHD q (one GEMM)", LT_BSHD, 5},
      {"W_p, split heads (a GEMM per head)", LT_SPLIT, 8}};
  for (size_t i = 0; i < sizeof views / sizeof views[0]; i++) {
    lt_case c;
    lt_case_init(&c, views[i].name, 2, 4, 2, 13, 31, HD, HV);
    c.mode = CLATTN_LOCAL_P;
    c.layout = views[i].layout;
    c.p_dim = views[i].p_dim;
    c.kv_lens = kv_lens;
    c.window = 3;
    c.seed = 1000 + i;
    lt_report r = lt_run(&env, &c);
    CHECK(r.edge_low > 0 && r.edge_high > 0);
    CHECK(r.poisoned_keys > 0);
  }
  lt_case c;
  lt_case_init(&c, "W_p, Sq 40 > Skv 9, causal, D 20, no gaussian", 1, 2, 1, 40, 9, HD, HV);
  c.mode = CLATTN_LOCAL_P;
  c.p_dim = 3;
  c.window = 20;
  c.gaussian = 0;
  c.desc.causal = 1;
  c.seed = 7;
  lt_run(&env, &c);
}

/* GEMM and kernel on an out-of-order queue, behind a user event: nothing runs before the
 * event completes, and the returned event covers both. Then the same with given positions
 * (the kernel alone). */
static void out_of_order(void) {
  cl_int err = CL_SUCCESS;
  cl_command_queue queue = clCreateCommandQueue(env.cl, env.device,
                                                CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  if (err != CL_SUCCESS) {
    printf("  out-of-order queues unsupported (%s): skipped\n", clattn_cl_error_name(err));
    return;
  }
  lt_case c;
  lt_case_init(&c, "W_p on an out-of-order queue, gated", 2, 2, 1, 15, 20, HD, HV);
  c.mode = CLATTN_LOCAL_P;
  c.p_dim = 6;
  c.queue = queue;
  c.gated = 1;
  c.seed = 99;
  lt_run(&env, &c);
  static float pos[2 * 2 * 15];
  for (int i = 0; i < 2 * 2 * 15; i++) pos[i] = 0.75f * (float)(i % 15) + 1.5f;
  lt_case_init(&c, "given p_t on an out-of-order queue, gated", 2, 2, 1, 15, 20, HD, HV);
  c.mode = CLATTN_LOCAL_P;
  c.positions = pos;
  c.queue = queue;
  c.gated = 1;
  lt_run(&env, &c);
  clReleaseCommandQueue(queue);
}

int main(void) {
  attn_env_init(&env);
  given_positions();
  predicted();
  out_of_order();
  attn_env_destroy(&env);
  return check_done("test_local_p");
}
