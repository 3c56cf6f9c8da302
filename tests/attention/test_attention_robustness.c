/* Events, wait lists and queues: the returned event completes; a wait list is honoured (a
 * call gated on a user event does not run before it, and then sees the data the gated
 * upload wrote); an out-of-order queue with an event chain (uploads -> attention ->
 * attention on the first output -> read) gives correct results; event and queue may be
 * NULL; many calls enqueued back to back without waiting each give their own result; and
 * repeated runs are bitwise identical. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attn_harness.h"

enum { B = 2, H = 4, HKV = 2, SQ = 113, SKV = 203, D = 64 };
#define NQ ((size_t)B * H * SQ * D)
#define NK ((size_t)B * HKV * SKV * D)

static attn_env env;

typedef struct problem {
  float q[NQ], k[NK], v[NK];
  double o_ref[NQ];
} problem;

static clattn_attention_desc make_desc(int causal) {
  clattn_attention_desc d;
  clattn_attention_desc_init(&d);
  d.batch = B;
  d.q_heads = H;
  d.kv_heads = HKV;
  d.q_len = SQ;
  d.kv_len = SKV;
  d.head_dim = D;
  d.causal = causal;
  return d;
}

static void make_problem(problem *p, uint64_t seed) {
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  ref_rng_fill_normal(&rng, p->q, NQ, 1.0);
  ref_rng_fill_normal(&rng, p->k, NK, 1.0);
  ref_rng_fill_normal(&rng, p->v, NK, 1.0);
}

static void reference(problem *p, int causal) {
  ref_attention r;
  ref_attention_init(&r, B, H, HKV, SQ, SKV, D, D);
  r.causal = causal;
  r.q = p->q;
  r.k = p->k;
  r.v = p->v;
  CHECK(ref_attention_forward(&r, p->o_ref, NULL) == 0);
}

static double compare(const char *what, const float *o, const double *ref) {
  double worst = 0.0;
  for (size_t i = 0; i < NQ; i++) {
    double ratio;
    if (!attn_compare_value(CLATTN_F32, o[i], ref[i], &ratio))
      check_fail(__FILE__, __LINE__, "%s: O[%zu] = %.9g, reference %.12g", what, i, (double)o[i],
                 ref[i]);
    if (ratio > worst) worst = ratio;
  }
  check_pass();
  printf("  %-60s worst err/tol %.4f\n", what, worst);
  return worst;
}

static clattn_tensor view(cl_mem m, int64_t heads, int64_t seq) {
  return clattn_tensor_contiguous(m, CLATTN_F32, CLATTN_LAYOUT_BHSD, heads, seq, D, 0);
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* A call gated on a user event through a wait list: it must not run before the event, and
 * must see what the gated upload (on another queue) wrote. The buffer holds NaN until then,
 * so a call that ignored its wait list would produce NaN. */
static void user_event_gate(problem *p, const clattn__attention_config *config) {
  printf("wait list gated on a user event [%s]:\n", attn_config_name(config));
  cl_int err = CL_SUCCESS;
  float *nan_q = malloc(NQ * sizeof *nan_q), *out = malloc(NQ * sizeof *out);
  CHECK(nan_q && out);
  for (size_t i = 0; i < NQ; i++) nan_q[i] = NAN;
  cl_mem bq = attn_buffer(&env, nan_q, NQ * 4), bk = attn_buffer(&env, p->k, NK * 4),
         bv = attn_buffer(&env, p->v, NK * 4), bo = attn_buffer(&env, NULL, NQ * 4);
  cl_command_queue uploads = clCreateCommandQueue(env.cl, env.device, 0, &err);
  CHECK_CL(err);
  cl_event gate = clCreateUserEvent(env.cl, &err);
  CHECK_CL(err);
  cl_event written = NULL, done = NULL;
  CHECK_CL(clEnqueueWriteBuffer(uploads, bq, CL_FALSE, 0, NQ * 4, p->q, 1, &gate, &written));
  CHECK_CL(clFlush(uploads));
  clattn_attention_desc desc = make_desc(0);
  clattn_tensor tq = view(bq, H, SQ), tk = view(bk, HKV, SKV), tv = view(bv, HKV, SKV),
                to = view(bo, H, SQ);
  CHECK_OK(env.ctx, clattn__attention_set_override(env.ctx, config));
  CHECK_OK(env.ctx, clattn_attention_forward(env.ctx, NULL, &desc, &tq, &tk, &tv, &to, NULL, 1,
                                             &written, &done));
  CHECK(done != NULL);
  CHECK_CL(clFlush(env.queue));
  sleep_ms(200);
  cl_int state = 0;
  CHECK_CL(clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL));
  if (state == CL_COMPLETE || state == CL_RUNNING)
    check_fail(__FILE__, __LINE__, "the attention call ran before its wait list completed");
  check_pass();
  printf("  before the user event: attention status %d (not started)\n", (int)state);
  CHECK_CL(clSetUserEventStatus(gate, CL_COMPLETE));
  CHECK_CL(clWaitForEvents(1, &done));
  CHECK_CL(clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL));
  CHECK_EQ(state, CL_COMPLETE);
  attn_read(&env, bo, out, NQ * 4);
  compare("after the user event: O from the gated upload", out, p->o_ref);
  CHECK_OK(env.ctx, clattn__attention_set_override(env.ctx, NULL));
  CHECK_CL(clReleaseEvent(done));
  CHECK_CL(clReleaseEvent(written));
  CHECK_CL(clReleaseEvent(gate));
  CHECK_CL(clFinish(uploads));
  CHECK_CL(clReleaseCommandQueue(uploads));
  cl_mem all[] = {bq, bk, bv, bo};
  for (int i = 0; i < 4; i++) clReleaseMemObject(all[i]);
  free(nan_q);
  free(out);
}

/* On an out-of-order queue: non-blocking uploads -> attention (waits on the uploads) ->
 * attention with the first output as its queries (waits on the first) -> read (waits on
 * the second). Only the events order these commands. */
static void out_of_order_chain(problem *p, const clattn__attention_config *config) {
  printf("out-of-order queue, event chain [%s]:\n", attn_config_name(config));
  cl_int err = CL_SUCCESS;
  cl_command_queue ooo =
      clCreateCommandQueue(env.cl, env.device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  if (err == CL_INVALID_QUEUE_PROPERTIES) {
    printf("  the device has no out-of-order queues: skipped\n");
    return;
  }
  CHECK_CL(err);
  float *o1 = malloc(NQ * sizeof *o1), *o2 = malloc(NQ * sizeof *o2);
  problem *second = malloc(sizeof *second);
  CHECK(o1 && o2 && second);
  cl_mem bq = attn_buffer(&env, NULL, NQ * 4), bk = attn_buffer(&env, NULL, NK * 4),
         bv = attn_buffer(&env, NULL, NK * 4), bo1 = attn_buffer(&env, NULL, NQ * 4),
         bo2 = attn_buffer(&env, NULL, NQ * 4);
  cl_event up[3], first = NULL, then = NULL, read1 = NULL, read2 = NULL;
  CHECK_CL(clEnqueueWriteBuffer(ooo, bq, CL_FALSE, 0, NQ * 4, p->q, 0, NULL, &up[0]));
  CHECK_CL(clEnqueueWriteBuffer(ooo, bk, CL_FALSE, 0, NK * 4, p->k, 0, NULL, &up[1]));
  CHECK_CL(clEnqueueWriteBuffer(ooo, bv, CL_FALSE, 0, NK * 4, p->v, 0, NULL, &up[2]));
  clattn_attention_desc desc = make_desc(0);
  clattn_tensor tq = view(bq, H, SQ), tk = view(bk, HKV, SKV), tv = view(bv, HKV, SKV),
                to1 = view(bo1, H, SQ), to2 = view(bo2, H, SQ);
  CHECK_OK(env.ctx, clattn__attention_set_override(env.ctx, config));
  CHECK_OK(env.ctx, clattn_attention_forward(env.ctx, ooo, &desc, &tq, &tk, &tv, &to1, NULL, 3,
                                             up, &first));
  CHECK_OK(env.ctx, clattn_attention_forward(env.ctx, ooo, &desc, &to1, &tk, &tv, &to2, NULL, 1,
                                             &first, &then));
  CHECK_OK(env.ctx, clattn__attention_set_override(env.ctx, NULL));
  CHECK_CL(clEnqueueReadBuffer(ooo, bo2, CL_FALSE, 0, NQ * 4, o2, 1, &then, &read2));
  CHECK_CL(clEnqueueReadBuffer(ooo, bo1, CL_FALSE, 0, NQ * 4, o1, 1, &first, &read1));
  cl_event reads[2] = {read1, read2};
  CHECK_CL(clWaitForEvents(2, reads));
  compare("first call (waits on three uploads)", o1, p->o_ref);
  /* The second reference takes exactly what the first call produced as its queries. */
  memcpy(second->q, o1, sizeof second->q);
  memcpy(second->k, p->k, sizeof second->k);
  memcpy(second->v, p->v, sizeof second->v);
  reference(second, 0);
  compare("second call (queries = first output, waits on it)", o2, second->o_ref);
  cl_event all_events[] = {up[0], up[1], up[2], first, then, read1, read2};
  for (size_t i = 0; i < sizeof all_events / sizeof all_events[0]; i++)
    CHECK_CL(clReleaseEvent(all_events[i]));
  CHECK_CL(clFinish(ooo));
  CHECK_CL(clReleaseCommandQueue(ooo));
  cl_mem all[] = {bq, bk, bv, bo1, bo2};
  for (int i = 0; i < 5; i++) clReleaseMemObject(all[i]);
  free(o1);
  free(o2);
  free(second);
}

/* Many calls back to back on the context's queue (queue NULL, event NULL), alternating two
 * problems and configurations, into separate outputs; then one clFinish. */
static void back_to_back(problem *p, problem *p2) {
  printf("back-to-back calls, queue and event NULL:\n");
  enum { N = 8 };
  cl_mem bq[2] = {attn_buffer(&env, p->q, NQ * 4), attn_buffer(&env, p2->q, NQ * 4)};
  cl_mem bk[2] = {attn_buffer(&env, p->k, NK * 4), attn_buffer(&env, p2->k, NK * 4)};
  cl_mem bv[2] = {attn_buffer(&env, p->v, NK * 4), attn_buffer(&env, p2->v, NK * 4)};
  cl_mem bo[N];
  float *out = malloc(NQ * sizeof *out), *first[4];
  CHECK(out != NULL);
  for (int i = 0; i < 4; i++) CHECK((first[i] = malloc(NQ * 4)) != NULL);
  for (int i = 0; i < N; i++) {
    const int w = i % 2;
    bo[i] = attn_buffer(&env, NULL, NQ * 4);
    clattn_attention_desc desc = make_desc(w);
    clattn_tensor tq = view(bq[w], H, SQ), tk = view(bk[w], HKV, SKV), tv = view(bv[w], HKV, SKV),
                  to = view(bo[i], H, SQ);
    CHECK_OK(env.ctx, clattn__attention_set_override(env.ctx, (i / 2) % 2 ? &ATTN_GPU : &ATTN_CPU));
    CHECK_OK(env.ctx, clattn_attention_forward(env.ctx, NULL, &desc, &tq, &tk, &tv, &to, NULL, 0,
                                               NULL, NULL));
  }
  CHECK_OK(env.ctx, clattn__attention_set_override(env.ctx, NULL));
  CHECK_CL(clFinish(env.queue));
  for (int i = 0; i < N; i++) {
    const int w = i % 2;
    attn_read(&env, bo[i], out, NQ * 4);
    char what[96];
    snprintf(what, sizeof what, "call %d (%s, %s)", i, w ? "causal problem" : "full problem",
             (i / 2) % 2 ? "gpu config" : "cpu config");
    compare(what, out, w ? p2->o_ref : p->o_ref);
    /* Calls i and i + 4 are the same call with the same configuration: bitwise equal. */
    if (i < 4) memcpy(first[i], out, NQ * 4);
    else if (memcmp(first[i - 4], out, NQ * 4) != 0)
      check_fail(__FILE__, __LINE__, "call %d differs bitwise from call %d", i, i - 4);
    clReleaseMemObject(bo[i]);
  }
  for (int w = 0; w < 2; w++) {
    clReleaseMemObject(bq[w]);
    clReleaseMemObject(bk[w]);
    clReleaseMemObject(bv[w]);
  }
  for (int i = 0; i < 4; i++) free(first[i]);
  free(out);
}

int main(void) {
  attn_env_init(&env);
  problem *p = malloc(sizeof *p), *p2 = malloc(sizeof *p2);
  CHECK(p && p2);
  make_problem(p, 1234);
  reference(p, 0);
  make_problem(p2, 5678);
  reference(p2, 1);
  user_event_gate(p, &ATTN_CPU);
  user_event_gate(p, &ATTN_GPU);
  out_of_order_chain(p, &ATTN_CPU);
  out_of_order_chain(p, &ATTN_GPU);
  back_to_back(p, p2);
  free(p);
  free(p2);
  attn_env_destroy(&env);
  return check_done("test_attention_robustness");
}
