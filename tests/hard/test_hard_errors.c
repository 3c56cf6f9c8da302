/* Argument validation of clattn_attention_hard: every bad input gives INVALID_ARGUMENT (or the
 * status named) with a message naming the argument, writes nothing (O and indices keep their
 * bytes) and leaves *event alone. The valid baseline is checked to succeed and to write both
 * outputs first, so each failure comes from the one thing changed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hard_support.h"

enum { B = 2, HQ = 4, HKV = 2, SQ = 5, SKV = 7, D = 8, DV = 6, DRAWS = 3 };
#define Q_COUNT ((size_t)B * HQ * SQ * D)
#define K_COUNT ((size_t)B * HKV * SKV * D)
#define V_COUNT ((size_t)B * HKV * SKV * DV)
#define O_COUNT ((size_t)B * HQ * SQ * DRAWS * DV)
#define I_COUNT ((size_t)B * HQ * SQ * DRAWS)
#define BIG (O_COUNT + Q_COUNT + 64) /* a buffer large enough to hold any two views */

static attn_env env;
static cl_mem qb, kb, vb, ob, ib, big, small_o, small_i;
static float o_initial[O_COUNT];
static int32_t i_initial[I_COUNT];
static const cl_event sentinel = (cl_event)(uintptr_t)0x5e57;

typedef struct args {
  clattn_context *ctx;
  clattn_attention_desc desc;
  clattn_hard_desc hard;
  clattn_tensor q, k, v, o;
  int no_desc, no_hard, no_q, no_k, no_v, no_o;
  cl_mem indices;
  cl_uint num_wait;
  const cl_event *wait;
  clattn__hard_config config;
  int use_config;
} args;

static args baseline(void) {
  args a;
  memset(&a, 0, sizeof a);
  a.ctx = env.ctx;
  clattn_attention_desc_init(&a.desc);
  a.desc.batch = B;
  a.desc.q_heads = HQ;
  a.desc.kv_heads = HKV;
  a.desc.q_len = SQ;
  a.desc.kv_len = SKV;
  a.desc.head_dim = D;
  a.desc.v_head_dim = DV;
  a.hard.mode = CLATTN_HARD_SAMPLE;
  a.hard.draws = DRAWS;
  a.hard.seed = 5;
  a.q = clattn_tensor_contiguous(qb, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ, D, 0);
  a.k = clattn_tensor_contiguous(kb, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, D, 0);
  a.v = clattn_tensor_contiguous(vb, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, DV, 0);
  a.o = clattn_tensor_contiguous(ob, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ * DRAWS, DV, 0);
  a.indices = ib;
  return a;
}

static clattn_status call(const args *a, cl_event *event) {
  return clattn__attention_hard_with(a->ctx, NULL, a->no_desc ? NULL : &a->desc,
                                     a->no_hard ? NULL : &a->hard, a->no_q ? NULL : &a->q,
                                     a->no_k ? NULL : &a->k, a->no_v ? NULL : &a->v,
                                     a->no_o ? NULL : &a->o, a->indices, a->num_wait, a->wait,
                                     event, a->use_config ? &a->config : NULL);
}

static void restore(void) {
  CHECK_CL(
      clEnqueueWriteBuffer(env.queue, ob, CL_TRUE, 0, sizeof o_initial, o_initial, 0, NULL, NULL));
  CHECK_CL(
      clEnqueueWriteBuffer(env.queue, ib, CL_TRUE, 0, sizeof i_initial, i_initial, 0, NULL, NULL));
}

static void expect_untouched(const char *what) {
  static float o_now[O_COUNT];
  static int32_t i_now[I_COUNT];
  CHECK_CL(clFinish(env.queue));
  attn_read(&env, ob, o_now, sizeof o_now);
  attn_read(&env, ib, i_now, sizeof i_now);
  if (memcmp(o_now, o_initial, sizeof o_now) != 0 || memcmp(i_now, i_initial, sizeof i_now) != 0)
    check_fail(__FILE__, __LINE__, "%s: an output was written by a failed call", what);
  check_pass();
}

static void expect_error(const char *what, const args *a, clattn_status status,
                         const char *needle) {
  cl_event event = sentinel;
  clattn_status got = call(a, &event);
  const char *message = clattn_last_error(a->ctx);
  if (got != status)
    check_fail(__FILE__, __LINE__, "%s: got %s, expected %s (%s)", what, clattn_status_name(got),
               clattn_status_name(status), message);
  if (!strstr(message, needle))
    check_fail(__FILE__, __LINE__, "%s: message \"%s\" does not name \"%s\"", what, message,
               needle);
  if (event != sentinel) check_fail(__FILE__, __LINE__, "%s: *event was written", what);
  check_pass();
  expect_untouched(what);
  printf("  %-44s -> %s\n", what, message);
}

static void test_baseline_writes(void) {
  args a = baseline();
  cl_event event = NULL;
  CHECK_OK(env.ctx, call(&a, &event));
  CHECK_CL(clWaitForEvents(1, &event));
  clReleaseEvent(event);
  static float o_now[O_COUNT];
  static int32_t i_now[I_COUNT];
  attn_read(&env, ob, o_now, sizeof o_now);
  attn_read(&env, ib, i_now, sizeof i_now);
  CHECK(memcmp(o_now, o_initial, sizeof o_now) != 0);
  CHECK(memcmp(i_now, i_initial, sizeof i_now) != 0);
  restore();
}

static void test_hard_desc(void) {
  const clattn_status BAD = CLATTN_INVALID_ARGUMENT;
  args a = baseline();
  a.ctx = NULL;
  cl_event e = sentinel;
  CHECK_STATUS(NULL, call(&a, &e), BAD);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
  CHECK(e == sentinel);

  a = baseline(); a.no_hard = 1;
  expect_error("hard NULL", &a, BAD, "hard must not be NULL");
  a = baseline(); a.hard.mode = (clattn_hard_mode)2;
  expect_error("mode 2", &a, BAD, "hard->mode = 2");
  a = baseline(); a.hard.mode = (clattn_hard_mode)-1;
  expect_error("mode -1", &a, BAD, "hard->mode = -1");
  a = baseline(); a.hard.draws = 0;
  expect_error("draws 0", &a, BAD, "hard->draws = 0");
  a = baseline(); a.hard.draws = -4;
  expect_error("draws -4", &a, BAD, "hard->draws = -4");
  a = baseline(); a.hard.mode = CLATTN_HARD_ARGMAX;
  expect_error("argmax with 3 draws", &a, BAD, "must be 1 with CLATTN_HARD_ARGMAX");
  a = baseline(); a.hard.draws = (int64_t)1 << 31;
  expect_error("draws * Sq beyond 2^31 - 1", &a, BAD, "hard->draws = 2147483648");
  a = baseline(); a.hard.draws = INT64_MAX;
  expect_error("draws INT64_MAX", &a, BAD, "hard->draws");
  a = baseline(); a.use_config = 1; a.config.wg = 8; a.config.draws_per_item = 3;
  expect_error("internal config: 3 draws per item", &a, BAD, "config");
  a = baseline(); a.use_config = 1; a.config.wg = 0; a.config.draws_per_item = 1;
  expect_error("internal config: wg 0", &a, BAD, "config");
}

static void test_outputs(void) {
  const clattn_status BAD = CLATTN_INVALID_ARGUMENT;
  args a = baseline(); a.o.buffer = small_o;
  expect_error("o one row short of Sq * draws", &a, BAD, "o reaches past the end");
  a = baseline(); a.o.stride_head = SQ * DV; a.o.stride_batch = HQ * SQ * DV;
  expect_error("o heads overlap past row Sq", &a, BAD, "o's strides make elements overlap");
  a = baseline(); a.o.stride_seq = 0;
  expect_error("o rows overlap", &a, BAD, "o's strides");
  a = baseline(); a.indices = small_i;
  expect_error("indices one entry short", &a, BAD, "indices holds");
  a = baseline(); a.indices = qb;
  expect_error("indices is q's buffer", &a, BAD, "indices overlaps q");
  a = baseline();
  a.o = clattn_tensor_contiguous(big, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ * DRAWS, DV, 0);
  a.k = clattn_tensor_contiguous(big, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, D, O_COUNT - 8);
  expect_error("o overlaps k", &a, BAD, "o overlaps k");
  a = baseline();
  a.o = clattn_tensor_contiguous(big, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ * DRAWS, DV, 0);
  a.indices = big;
  expect_error("indices overlaps o", &a, BAD, "indices overlaps o");
  /* In place over Q is allowed for the forward pass (same view, D = Dv), never here. */
  a = baseline();
  a.desc.v_head_dim = D;
  a.v = clattn_tensor_contiguous(big, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, D, 0);
  a.hard.draws = 1;
  a.q = clattn_tensor_contiguous(qb, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ, D, 0);
  a.o = a.q;
  expect_error("o in place over q", &a, BAD, "o overlaps q");
  a = baseline(); a.no_o = 1;
  expect_error("o NULL", &a, BAD, "o must not be NULL");
}

static void test_attention_arguments(void) {
  const clattn_status BAD = CLATTN_INVALID_ARGUMENT;
  args a = baseline(); a.no_desc = 1;
  expect_error("desc NULL", &a, BAD, "desc must not be NULL");
  a = baseline(); a.no_q = 1;
  expect_error("q NULL", &a, BAD, "q must not be NULL");
  a = baseline(); a.desc.batch = 0;
  expect_error("batch 0", &a, BAD, "desc->batch");
  a = baseline(); a.desc.kv_heads = 3;
  expect_error("q_heads not a multiple of kv_heads", &a, BAD, "desc->q_heads");
  a = baseline(); a.desc.head_dim = CLATTN_MAX_HEAD_DIM + 1;
  expect_error("head_dim too large", &a, CLATTN_UNSUPPORTED, "desc->head_dim");
  a = baseline(); a.desc.softcap = -1.0f;
  expect_error("softcap negative", &a, BAD, "desc->softcap");
  a = baseline(); a.desc.kv_len = SKV + 1;
  expect_error("k too short for kv_len", &a, BAD, "k reaches past the end");
  a = baseline();
  a.desc.alibi_slopes = clCreateBuffer(env.cl, CL_MEM_READ_ONLY, 8, NULL, NULL);
  expect_error("alibi slopes too small", &a, BAD, "desc->alibi_slopes");
  clReleaseMemObject(a.desc.alibi_slopes);
  a = baseline(); a.num_wait = 1;
  expect_error("wait list NULL with a count", &a, BAD, "wait_events");
  a = baseline(); a.wait = &sentinel;
  expect_error("wait list without a count", &a, BAD, "wait_events");
}

int main(void) {
  attn_env_init(&env);
  ref_rng rng;
  ref_rng_seed(&rng, 9);
  static float qd[Q_COUNT], kd[K_COUNT], vd[V_COUNT];
  ref_rng_fill_normal(&rng, qd, Q_COUNT, 1.0);
  ref_rng_fill_normal(&rng, kd, K_COUNT, 1.0);
  ref_rng_fill_normal(&rng, vd, V_COUNT, 1.0);
  for (size_t i = 0; i < O_COUNT; i++) o_initial[i] = 1234.5f;
  for (size_t i = 0; i < I_COUNT; i++) i_initial[i] = 0x5a5a5a5a;
  qb = attn_buffer(&env, qd, sizeof qd);
  kb = attn_buffer(&env, kd, sizeof kd);
  vb = attn_buffer(&env, vd, sizeof vd);
  ob = attn_buffer(&env, o_initial, sizeof o_initial);
  ib = attn_buffer(&env, i_initial, sizeof i_initial);
  big = attn_buffer(&env, NULL, BIG * 4);
  small_o = attn_buffer(&env, NULL, (O_COUNT - DV) * 4);
  small_i = attn_buffer(&env, NULL, (I_COUNT - 1) * 4);

  test_baseline_writes();
  printf("clattn_attention_hard:\n");
  test_hard_desc();
  test_outputs();
  test_attention_arguments();

  cl_mem all[] = {qb, kb, vb, ob, ib, big, small_o, small_i};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clReleaseMemObject(all[i]);
  attn_env_destroy(&env);
  return check_done("test_hard_errors");
}
