/* Argument errors of the score functions name the argument and write nothing; and the calls'
 * ordering on an out-of-order queue: the first command waits for the caller's wait list (a
 * user event completed only after q is written) and the returned event covers the rest. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "score_test.h"

enum { B = 1, H = 2, SQ = 5, SKV = 9, D = 8, QD = 6, A = 4 };

typedef struct fixture {
  score_tensor q, k, v, o;
  cl_mem w, w_small, w1, w2, va;
  clattn_attention_desc desc;
} fixture;

static cl_mem floats(attn_env *env, size_t n) {
  float *x = calloc(n, sizeof *x);
  if (!x) check_fail(__FILE__, __LINE__, "out of memory");
  cl_mem m = attn_buffer(env, x, n * sizeof *x);
  free(x);
  return m;
}

static void fixture_init(attn_env *env, fixture *f) {
  f->q = score_tensor_make(env, NULL, B, H, SQ, QD, 0);
  f->k = score_tensor_make(env, NULL, B, H, SKV, D, 0);
  f->v = score_tensor_make(env, NULL, B, H, SKV, D, 0);
  f->o = score_tensor_make(env, NULL, B, H, SQ, D, 0);
  f->w = floats(env, QD * D);
  f->w_small = floats(env, QD * D - 1);
  f->w1 = floats(env, A * QD);
  f->w2 = floats(env, A * D);
  f->va = floats(env, A);
  clattn_attention_desc_init(&f->desc);
  f->desc.batch = B;
  f->desc.q_heads = f->desc.kv_heads = H;
  f->desc.q_len = SQ;
  f->desc.kv_len = SKV;
  f->desc.head_dim = D;
}

static void fixture_release(fixture *f) {
  score_tensor *t[4] = {&f->q, &f->k, &f->v, &f->o};
  for (int i = 0; i < 4; i++) score_tensor_release(t[i]);
  cl_mem m[5] = {f->w, f->w_small, f->w1, f->w2, f->va};
  for (int i = 0; i < 5; i++) clReleaseMemObject(m[i]);
}

#define EXPECT_INVALID(env, expr, needle)                                   \
  do {                                                                      \
    CHECK_STATUS((env)->ctx, expr, CLATTN_INVALID_ARGUMENT);                \
    CHECK_CONTAINS(clattn_last_error((env)->ctx), needle);                  \
  } while (0)

static void general_errors(attn_env *env, fixture *f) {
  clattn_context *ctx = env->ctx;
  EXPECT_INVALID(env, clattn_attention_general(ctx, NULL, &f->desc, &f->q.view, QD, f->w_small, 0,
                                               &f->k.view, &f->v.view, &f->o.view, NULL, 0, NULL, NULL),
                 "w holds");
  EXPECT_INVALID(env, clattn_attention_general(ctx, NULL, &f->desc, &f->q.view, QD, f->w, 1,
                                               &f->k.view, &f->v.view, &f->o.view, NULL, 0, NULL, NULL),
                 "w holds");
  EXPECT_INVALID(env, clattn_attention_general(ctx, NULL, &f->desc, &f->q.view, 0, f->w, 0,
                                               &f->k.view, &f->v.view, &f->o.view, NULL, 0, NULL, NULL),
                 "q_dim");
  EXPECT_INVALID(env, clattn_attention_general(ctx, NULL, &f->desc, &f->q.view, QD + 4, f->w, 0,
                                               &f->k.view, &f->v.view, &f->o.view, NULL, 0, NULL, NULL),
                 "q reaches past");
  EXPECT_INVALID(env, clattn_attention_general(ctx, NULL, &f->desc, NULL, QD, f->w, 0, &f->k.view,
                                               &f->v.view, &f->o.view, NULL, 0, NULL, NULL),
                 "q must not be NULL");
  clattn_tensor q_in_o = f->o.view; /* q's rows (6 of every 8 floats) inside O's */
  EXPECT_INVALID(env, clattn_attention_general(ctx, NULL, &f->desc, &q_in_o, QD, f->w, 0, &f->k.view,
                                               &f->v.view, &f->o.view, NULL, 0, NULL, NULL),
                 "o overlaps q");
}

static void additive_errors(attn_env *env, fixture *f) {
  clattn_context *ctx = env->ctx;
  clattn_additive_weights w = {f->w1, f->w2, f->va, A, QD};
#define ADDITIVE(desc, weights, q) \
  clattn_attention_additive(ctx, NULL, desc, weights, q, &f->k.view, &f->v.view, &f->o.view, NULL, 0, NULL, NULL)
  clattn_additive_weights bad = w;
  bad.attn_dim = 0;
  EXPECT_INVALID(env, ADDITIVE(&f->desc, &bad, &f->q.view), "weights->attn_dim");
  bad.attn_dim = 4097;
  EXPECT_INVALID(env, ADDITIVE(&f->desc, &bad, &f->q.view), "weights->attn_dim");
  bad = w;
  bad.attn_dim = A + 1; /* every weight buffer is now one row short: W1 is named first */
  EXPECT_INVALID(env, ADDITIVE(&f->desc, &bad, &f->q.view), "weights->w1 holds");
  bad = w;
  bad.w2 = f->w1; /* A x QD floats where A x D are needed */
  EXPECT_INVALID(env, ADDITIVE(&f->desc, &bad, &f->q.view), "weights->w2 holds");
  bad = w;
  bad.v = NULL;
  EXPECT_INVALID(env, ADDITIVE(&f->desc, &bad, &f->q.view), "weights->v must not be NULL");
  EXPECT_INVALID(env, ADDITIVE(&f->desc, NULL, &f->q.view), "weights must not be NULL");
  clattn_attention_desc capped = f->desc;
  capped.softcap = 30.0f;
  EXPECT_INVALID(env, ADDITIVE(&capped, &w, &f->q.view), "desc->softcap");
  clattn_tensor half = f->q.view;
  half.dtype = CLATTN_F16;
  EXPECT_INVALID(env, ADDITIVE(&f->desc, &w, &half), "q.dtype");
  clattn_attention_desc bad_shape = f->desc;
  bad_shape.kv_heads = 3;
  EXPECT_INVALID(env, ADDITIVE(&bad_shape, &w, &f->q.view), "desc->q_heads");
#undef ADDITIVE
}

static void location_errors(attn_env *env, fixture *f) {
  clattn_context *ctx = env->ctx;
  clattn_attention_desc d = f->desc;
  d.head_dim = QD; /* h_t has QD features; W_a is SKV x QD */
  cl_mem small = floats(env, SKV * QD - 1);
  EXPECT_INVALID(env, clattn_attention_location(ctx, NULL, &d, &f->q.view, small, 0, &f->v.view,
                                                &f->o.view, NULL, 0, NULL, NULL),
                 "w_a holds");
  clReleaseMemObject(small);
  clattn_attention_desc masked = d;
  masked.mask.type = CLATTN_MASK_BOOL;
  masked.mask.buffer = f->w;
  EXPECT_INVALID(env, clattn_attention_location(ctx, NULL, &masked, &f->q.view, f->w, 0, &f->v.view,
                                                &f->o.view, NULL, 0, NULL, NULL),
                 "desc->mask");
  clattn_attention_desc capped = d;
  capped.softcap = 5.0f;
  EXPECT_INVALID(env, clattn_attention_location(ctx, NULL, &capped, &f->q.view, f->w, 0, &f->v.view,
                                                &f->o.view, NULL, 0, NULL, NULL),
                 "desc->softcap");
  d.v_head_dim = D;
  clattn_tensor o = f->o.view;
  o.stride_seq = 1; /* rows overlap */
  EXPECT_INVALID(env, clattn_attention_location(ctx, NULL, &d, &f->q.view, f->w, 0, &f->v.view, &o,
                                                NULL, 0, NULL, NULL),
                 "o's strides");
}

/* Nothing was written by any refused call. */
static void nothing_written(attn_env *env, fixture *f) {
  float o[B * H * SQ * D];
  CHECK_CL(clFinish(env->queue));
  score_tensor_read(env, &f->o, B, H, SQ, D, o);
  for (int i = 0; i < B * H * SQ * D; i++) CHECK(isnan(o[i]));
}

/* One call on an out-of-order queue, gated by a user event; q starts as zeros and gets its
 * real values only while the call waits. */
static void out_of_order(attn_env *env, score_kind kind, const char *name) {
  score_case c;
  score_case_init(&c, name, kind, 2, 2, 1, 19, 23, 16, 0);
  c.attn_dim = 24;
  c.q_dim = kind == SCORE_LOCATION ? 0 : 12;
  /* The reference run (in order) checks the case itself and gives the expected output. */
  score_run(env, &c);
  const int64_t qd = c.q_dim ? c.q_dim : 16, dv = 16, nq = 2 * 2 * 19 * qd, no = 2 * 2 * 19 * dv;
  ref_rng rng;
  ref_rng_seed(&rng, 99);
  float *q = calloc((size_t)nq, sizeof *q), *k = calloc(2 * 23 * 16, sizeof *k),
        *v = calloc(2 * 23 * 16, sizeof *v), *w = calloc(4096, sizeof *w), *o = calloc((size_t)no, sizeof *o);
  if (!q || !k || !v || !w || !o) check_fail(__FILE__, __LINE__, "out of memory");
  ref_rng_fill_normal(&rng, q, (uint64_t)nq, 1.0);
  ref_rng_fill_normal(&rng, k, 2 * 23 * 16, 1.0);
  ref_rng_fill_normal(&rng, v, 2 * 23 * 16, 1.0);
  ref_rng_fill_normal(&rng, w, 4096, 0.25);
  score_tensor zeros = score_tensor_make(env, NULL, 2, 2, 19, qd, 0);
  score_tensor kt = score_tensor_make(env, k, 2, 1, 23, 16, 0), vt = score_tensor_make(env, v, 2, 1, 23, 16, 0);
  score_tensor ot = score_tensor_make(env, NULL, 2, 2, 19, dv, 0);
  cl_mem wb = attn_buffer(env, w, 4096 * sizeof *w);
  /* Zero q first (its gaps stay NaN), then call behind the gate. */
  score_tensor qt = score_tensor_make(env, q, 2, 2, 19, qd, 0);
  float *zero_image = calloc(qt.floats, sizeof(float));
  if (!zero_image) check_fail(__FILE__, __LINE__, "out of memory");
  CHECK_CL(clEnqueueWriteBuffer(env->queue, zeros.buffer, CL_TRUE, 0, qt.floats * sizeof(float),
                                zero_image, 0, NULL, NULL));
  cl_int err;
  cl_command_queue ooo =
      clCreateCommandQueue(env->cl, env->device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  CHECK_CL(err);
  cl_event gate = clCreateUserEvent(env->cl, &err), done = NULL;
  CHECK_CL(err);
  clattn_attention_desc d = c.desc;
  if (kind == SCORE_ADDITIVE) {
    clattn_additive_weights aw = {wb, wb, wb, c.attn_dim, c.q_dim};
    CHECK_OK(env->ctx, clattn_attention_additive(env->ctx, ooo, &d, &aw, &zeros.view, &kt.view, &vt.view,
                                                 &ot.view, NULL, 1, &gate, &done));
  } else {
    CHECK_OK(env->ctx, clattn_attention_location(env->ctx, ooo, &d, &zeros.view, wb, 0, &vt.view,
                                                 &ot.view, NULL, 1, &gate, &done));
  }
  CHECK_CL(clFlush(ooo));
  /* Now the real q, copied over the zeros while the call waits. */
  CHECK_CL(clEnqueueCopyBuffer(env->queue, qt.buffer, zeros.buffer, 0, 0, qt.floats * sizeof(float),
                               0, NULL, NULL));
  CHECK_CL(clFinish(env->queue));
  CHECK_CL(clSetUserEventStatus(gate, CL_COMPLETE));
  CHECK_CL(clWaitForEvents(1, &done));
  score_tensor_read(env, &ot, 2, 2, 19, dv, o);
  /* The reference of this data. */
  score_ref r;
  memset(&r, 0, sizeof r);
  r.kind = kind;
  ref_attention_from_desc(&r.rules, &d);
  r.rules.k = k;
  r.rules.v = v;
  r.q = q;
  r.q_dim = qd;
  r.attn_dim = c.attn_dim;
  r.w = r.w1 = r.w2 = r.v_a = w;
  double *ref = calloc((size_t)no, sizeof *ref);
  if (!ref || score_ref_forward(&r, ref, NULL) != 0) check_fail(__FILE__, __LINE__, "reference failed");
  for (int64_t i = 0; i < no; i++) {
    double ratio;
    if (!attn_compare_value(CLATTN_F32, o[i], ref[i], &ratio))
      check_fail(__FILE__, __LINE__, "%s: o[%lld] = %.9g, reference %.9g", name, (long long)i,
                 (double)o[i], ref[i]);
  }
  check_pass();
  clReleaseEvent(done);
  clReleaseEvent(gate);
  CHECK_CL(clFinish(ooo));
  clReleaseCommandQueue(ooo);
  score_tensor *all[5] = {&zeros, &kt, &vt, &ot, &qt};
  for (int i = 0; i < 5; i++) score_tensor_release(all[i]);
  clReleaseMemObject(wb);
  free(q); free(k); free(v); free(w); free(o); free(ref); free(zero_image);
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  fixture f;
  fixture_init(&env, &f);
  general_errors(&env, &f);
  additive_errors(&env, &f);
  location_errors(&env, &f);
  nothing_written(&env, &f);
  fixture_release(&f);
  out_of_order(&env, SCORE_ADDITIVE, "additive, out-of-order queue, gated");
  out_of_order(&env, SCORE_LOCATION, "location, out-of-order queue, gated");
  attn_env_destroy(&env);
  return check_done("test_score_errors");
}
