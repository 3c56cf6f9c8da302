/* Argument validation of clattn_attention_local: every bad input gives INVALID_ARGUMENT (or
 * UNSUPPORTED) with a message naming the argument, writes nothing (O keeps its bytes) and
 * leaves *event alone. The valid baselines succeed first, so each failure comes from the one
 * thing changed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "local_harness.h"

enum { B = 2, H = 2, S = 6, D = 8, P = 4 };
#define QKV_COUNT ((size_t)B * H * S * D)

static attn_env env;
static cl_mem qb, kb, vb, ob, pos, pos_small, w_p, w_p_small, v_p, v_p_small, qb16;
static float *initial, *readback;
static const cl_event sentinel = (cl_event)(uintptr_t)0x5e57;

typedef struct call {
  clattn_attention_desc desc;
  clattn_local_desc local;
  const clattn_local_desc *local_ptr;
  clattn_tensor q, k, v, o;
} call;

static call baseline(clattn_local_mode mode, int weights) {
  call c;
  memset(&c, 0, sizeof c);
  clattn_attention_desc_init(&c.desc);
  c.desc.batch = B;
  c.desc.q_heads = c.desc.kv_heads = H;
  c.desc.q_len = c.desc.kv_len = S;
  c.desc.head_dim = D;
  clattn_local_desc_init(&c.local);
  c.local.mode = mode;
  c.local.window = 2;
  if (mode == CLATTN_LOCAL_P && weights) {
    c.local.w_p = w_p;
    c.local.v_p = v_p;
    c.local.p_dim = P;
  } else if (mode == CLATTN_LOCAL_P) {
    c.local.positions = pos;
  }
  c.local_ptr = &c.local;
  c.q = clattn_tensor_contiguous(qb, CLATTN_F32, CLATTN_LAYOUT_BHSD, H, S, D, 0);
  c.k = clattn_tensor_contiguous(kb, CLATTN_F32, CLATTN_LAYOUT_BHSD, H, S, D, 0);
  c.v = clattn_tensor_contiguous(vb, CLATTN_F32, CLATTN_LAYOUT_BHSD, H, S, D, 0);
  c.o = clattn_tensor_contiguous(ob, CLATTN_F32, CLATTN_LAYOUT_BHSD, H, S, D, 0);
  return c;
}

static clattn_status run(call *c, cl_event *event) {
  return clattn_attention_local(env.ctx, NULL, &c->desc, c->local_ptr ? &c->local : NULL, &c->q,
                                &c->k, &c->v, &c->o, NULL, 0, NULL, event);
}

static void restore(void) {
  CHECK_CL(clEnqueueWriteBuffer(env.queue, ob, CL_TRUE, 0, QKV_COUNT * 4, initial, 0, NULL, NULL));
}

static void expect_error(const char *what, call *c, clattn_status status, const char *needle) {
  cl_event event = sentinel;
  clattn_status got = run(c, &event);
  const char *message = clattn_last_error(env.ctx);
  if (got != status)
    check_fail(__FILE__, __LINE__, "%s: got %s, expected %s (%s)", what, clattn_status_name(got),
               clattn_status_name(status), message);
  if (!strstr(message, needle))
    check_fail(__FILE__, __LINE__, "%s: message \"%s\" does not name \"%s\"", what, message, needle);
  if (event != sentinel) check_fail(__FILE__, __LINE__, "%s: *event was written", what);
  CHECK_CL(clFinish(env.queue));
  attn_read(&env, ob, readback, QKV_COUNT * 4);
  if (memcmp(readback, initial, QKV_COUNT * 4) != 0)
    check_fail(__FILE__, __LINE__, "%s: o was written by a failed call", what);
  check_pass();
  printf("  %-44s -> %s\n", what, message);
}

static void baselines(void) {
  const struct { clattn_local_mode mode; int weights; } ok[] = {
      {CLATTN_LOCAL_M, 0}, {CLATTN_LOCAL_P, 0}, {CLATTN_LOCAL_P, 1}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    call c = baseline(ok[i].mode, ok[i].weights);
    cl_event event = NULL;
    CHECK_OK(env.ctx, run(&c, &event));
    CHECK_CL(clWaitForEvents(1, &event));
    clReleaseEvent(event);
    attn_read(&env, ob, readback, QKV_COUNT * 4);
    CHECK(memcmp(readback, initial, QKV_COUNT * 4) != 0);
    restore();
  }
}

static void descriptor_errors(void) {
  call c = baseline(CLATTN_LOCAL_M, 0);
  c.local_ptr = NULL;
  expect_error("local NULL", &c, CLATTN_INVALID_ARGUMENT, "local must not be NULL");
  c = baseline(CLATTN_LOCAL_M, 0);
  c.local.window = -1;
  expect_error("negative window", &c, CLATTN_INVALID_ARGUMENT, "local->window = -1");
  c.local.window = (int64_t)INT32_MAX + 1;
  expect_error("window 2^31", &c, CLATTN_INVALID_ARGUMENT, "local->window");
  c = baseline(CLATTN_LOCAL_M, 0);
  c.local.mode = (clattn_local_mode)7;
  expect_error("mode 7", &c, CLATTN_INVALID_ARGUMENT, "local->mode");
  c = baseline(CLATTN_LOCAL_M, 0);
  c.local.gaussian = 2;
  expect_error("gaussian 2", &c, CLATTN_INVALID_ARGUMENT, "local->gaussian");
  c = baseline(CLATTN_LOCAL_M, 0);
  c.local.positions = pos;
  expect_error("local-m with positions", &c, CLATTN_INVALID_ARGUMENT, "local->positions is set");
  c = baseline(CLATTN_LOCAL_P, 0);
  c.local.positions = NULL;
  expect_error("local-p with neither", &c, CLATTN_INVALID_ARGUMENT, "local->positions, or local->w_p");
  c = baseline(CLATTN_LOCAL_P, 0);
  c.local.w_p = w_p;
  c.local.v_p = v_p;
  c.local.p_dim = P;
  expect_error("positions and weights", &c, CLATTN_INVALID_ARGUMENT, "give one");
  c = baseline(CLATTN_LOCAL_P, 1);
  c.local.v_p = NULL;
  expect_error("w_p without v_p", &c, CLATTN_INVALID_ARGUMENT, "local->v_p must not be NULL");
  c = baseline(CLATTN_LOCAL_P, 1);
  c.local.w_p = NULL;
  expect_error("v_p without w_p", &c, CLATTN_INVALID_ARGUMENT, "local->w_p must not be NULL");
  c = baseline(CLATTN_LOCAL_P, 1);
  c.local.p_dim = 0;
  expect_error("p_dim 0", &c, CLATTN_INVALID_ARGUMENT, "local->p_dim = 0");
}

static void buffer_errors(void) {
  call c = baseline(CLATTN_LOCAL_P, 0);
  c.local.positions = pos_small;
  expect_error("positions too small", &c, CLATTN_INVALID_ARGUMENT, "local->positions holds");
  c = baseline(CLATTN_LOCAL_P, 1);
  c.local.w_p = w_p_small;
  expect_error("w_p too small", &c, CLATTN_INVALID_ARGUMENT, "local->w_p holds");
  c = baseline(CLATTN_LOCAL_P, 1);
  c.local.p_dim = P + 1; /* W_p and v_p hold P rows */
  expect_error("p_dim larger than W_p", &c, CLATTN_INVALID_ARGUMENT, "local->w_p holds");
  c = baseline(CLATTN_LOCAL_P, 1);
  c.local.v_p = v_p_small;
  expect_error("v_p too small", &c, CLATTN_INVALID_ARGUMENT, "local->v_p holds");
  c = baseline(CLATTN_LOCAL_P, 0);
  c.local.positions = ob;
  expect_error("o overlaps positions", &c, CLATTN_INVALID_ARGUMENT, "o overlaps local->positions");
  c = baseline(CLATTN_LOCAL_P, 1);
  c.q = clattn_tensor_contiguous(qb16, CLATTN_F16, CLATTN_LAYOUT_BHSD, H, S, D, 0);
  expect_error("f16 q with W_p", &c, CLATTN_INVALID_ARGUMENT, "q.dtype");
  c = baseline(CLATTN_LOCAL_P, 1);
  c.q.stride_seq = D - 1;
  expect_error("overlapping q rows with W_p", &c, CLATTN_INVALID_ARGUMENT, "q.stride_seq");
  /* desc and views go through the forward pass's validation. */
  c = baseline(CLATTN_LOCAL_M, 0);
  c.desc.head_dim = 0;
  expect_error("head_dim 0", &c, CLATTN_INVALID_ARGUMENT, "desc->head_dim");
  c = baseline(CLATTN_LOCAL_M, 0);
  c.k.offset = 1;
  expect_error("k past its buffer", &c, CLATTN_INVALID_ARGUMENT, "k reaches past");
  c = baseline(CLATTN_LOCAL_M, 0);
  c.o = c.k;
  expect_error("o overlaps k", &c, CLATTN_INVALID_ARGUMENT, "o overlaps k");
}

int main(void) {
  attn_env_init(&env);
  initial = malloc(QKV_COUNT * 4);
  readback = malloc(QKV_COUNT * 4);
  CHECK(initial && readback);
  ref_rng rng;
  ref_rng_seed(&rng, 3);
  ref_rng_fill_normal(&rng, initial, QKV_COUNT, 1.0);
  qb = attn_buffer(&env, initial, QKV_COUNT * 4);
  kb = attn_buffer(&env, initial, QKV_COUNT * 4);
  vb = attn_buffer(&env, initial, QKV_COUNT * 4);
  ob = attn_buffer(&env, initial, QKV_COUNT * 4);
  qb16 = attn_buffer(&env, initial, QKV_COUNT * 2);
  float positions[B * H * S], weights[P * D];
  for (int i = 0; i < B * H * S; i++) positions[i] = 0.5f * (float)i;
  ref_rng_fill_normal(&rng, weights, P * D, 0.3);
  pos = attn_buffer(&env, positions, sizeof positions);
  pos_small = attn_buffer(&env, positions, sizeof positions - 4);
  w_p = attn_buffer(&env, weights, sizeof weights);
  w_p_small = attn_buffer(&env, weights, sizeof weights - 4);
  v_p = attn_buffer(&env, weights, P * 4);
  v_p_small = attn_buffer(&env, weights, P * 4 - 4);
  baselines();
  descriptor_errors();
  buffer_errors();
  cl_mem all[] = {qb, kb, vb, ob, pos, pos_small, w_p, w_p_small, v_p, v_p_small, qb16};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clReleaseMemObject(all[i]);
  free(initial);
  free(readback);
  attn_env_destroy(&env);
  return check_done("test_local_errors");
}
