/* The layer's API: malformed descriptors and weight shapes give INVALID_ARGUMENT naming the
 * argument (and keep the previous weights); bad calls write nothing; and the ordering around
 * CLBlast on an out-of-order queue — the layer waits for the caller's wait list (a user event
 * released only after X is written) and its event covers every command. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"
#include "mha_ref.h"
#include "mha_test_util.h"

static void bad_desc(attn_env *env) {
  clattn_mha_desc d;
  clattn_mha *mha = NULL;
  struct { const char *field; int64_t e, h, kv, dim; const char *needle; } cases[] = {
      {"embed_dim 0", 0, 1, 0, 0, "desc->embed_dim"},
      {"E not a multiple of H", 10, 4, 0, 0, "not a multiple"},
      {"kv_heads not dividing", 16, 4, 3, 0, "desc->kv_heads"},
      {"head_dim too large", 16, 4, 0, CLATTN_MAX_HEAD_DIM + 1, "desc->head_dim"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    clattn_mha_desc_init(&d);
    d.embed_dim = cases[i].e;
    d.num_heads = cases[i].h;
    d.kv_heads = cases[i].kv;
    d.head_dim = cases[i].dim;
    CHECK_STATUS(env->ctx, clattn_mha_create(env->ctx, &d, &mha), CLATTN_INVALID_ARGUMENT);
    CHECK_CONTAINS(clattn_last_error(env->ctx), cases[i].needle);
  }
  clattn_mha_desc_init(&d);
  d.embed_dim = 16;
  d.num_heads = 2;
  d.rope.style = CLATTN_ROPE_HALF;
  d.rope.rotary_dim = 5;
  CHECK_STATUS(env->ctx, clattn_mha_create(env->ctx, &d, &mha), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "rotary_dim");
  CHECK(mha == NULL);
}

/* Each malformed weight set is refused with a message naming it, and the layer goes on
 * computing with its previous weights. */
static void bad_weights(attn_env *env) {
  mt_layer L;
  mt_layer_init(&L, 16, 2, 0, 0, 0, 1, 5);
  clattn_mha *mha = mt_layer_create(env, &L, 1);
  clattn_mha_weights w = mt_layer_weights(&L, 1);
  clattn_mha_weights bad = w;
  bad.in_proj_weight.cols = 15;
  CHECK_STATUS(env->ctx, clattn_mha_set_weights(mha, &bad), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "w->in_proj_weight is 48 x 15, expected 48 x 16");
  bad = w;
  bad.out_weight.rows = 17;
  CHECK_STATUS(env->ctx, clattn_mha_set_weights(mha, &bad), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "w->out_weight");
  bad = w;
  bad.in_proj_bias.data = NULL;
  CHECK_STATUS(env->ctx, clattn_mha_set_weights(mha, &bad), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "w->in_proj_bias is missing");
  bad = w;
  bad.q_weight = w.in_proj_weight;
  CHECK_STATUS(env->ctx, clattn_mha_set_weights(mha, &bad), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "give one form");
  bad = w;
  bad.in_proj_bias.cols = 2;
  CHECK_STATUS(env->ctx, clattn_mha_set_weights(mha, &bad), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "in_proj_bias");
  clattn_mha_destroy(mha);
  mt_layer_free(&L);

  /* GQA layers cannot take the packed form; a bias-free layer takes no biases. */
  mt_layer_init(&L, 16, 4, 2, 0, 0, 0, 6);
  clattn_mha_desc d = mt_layer_desc(&L);
  CHECK_OK(env->ctx, clattn_mha_create(env->ctx, &d, &mha));
  w = mt_layer_weights(&L, 0);
  bad = w;
  bad.in_proj_weight = w.q_weight;
  bad.q_weight.data = bad.k_weight.data = bad.v_weight.data = NULL;
  CHECK_STATUS(env->ctx, clattn_mha_set_weights(mha, &bad), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "kv_heads = num_heads");
  bad = w;
  bad.out_bias = w.out_weight;
  bad.out_bias.cols = 0;
  CHECK_STATUS(env->ctx, clattn_mha_set_weights(mha, &bad), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "desc.bias is 0");
  bad = w;
  bad.k_weight.rows = 4;
  CHECK_STATUS(env->ctx, clattn_mha_set_weights(mha, &bad), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "w->k_weight is 4 x 16, expected 8 x 16");

  /* No weights yet: forward refuses. */
  clattn_mha_inputs in;
  clattn_mha_inputs_init(&in);
  CHECK_STATUS(env->ctx, clattn_mha_forward(mha, NULL, &in, 0, NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "clattn_mha_set_weights");
  clattn_mha_destroy(mha);
  mt_layer_free(&L);
}

/* Bad calls: nothing is written to Y (still NaN, canaries intact). */
static void bad_calls(attn_env *env) {
  mt_layer L;
  mt_layer_init(&L, 16, 2, 0, 0, 0, 1, 8);
  clattn_mha *mha = mt_layer_create(env, &L, 1);
  float x[2 * 5 * 16] = {0};
  mt_rows xd = mt_rows_upload(env, x, 2, 5, 16, 16, 80);
  mt_rows yd = mt_rows_poisoned(env, 2, 5, 16, 16, 80);
  clattn_mha_inputs in;
  clattn_mha_inputs_init(&in);
  in.batch = 2;
  in.seq = 5;
  in.x = xd.view;
  in.y = yd.view;
  in.x.offset = 100; /* the buffer holds 2 x 5 rows and 64 canaries */
  CHECK_STATUS(env->ctx, clattn_mha_forward(mha, NULL, &in, 0, NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "inputs->x reaches past the end");
  in.x.offset = 0;
  in.seq = 6; /* batches 80 floats apart hold only 5 rows of 16 */
  CHECK_STATUS(env->ctx, clattn_mha_forward(mha, NULL, &in, 0, NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "inputs->y has overlapping elements");
  in.seq = 5;
  in.y = xd.view;
  CHECK_STATUS(env->ctx, clattn_mha_forward(mha, NULL, &in, 0, NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "inputs->y overlaps inputs->x");
  in.y = yd.view;
  in.x.dtype = CLATTN_F16;
  CHECK_STATUS(env->ctx, clattn_mha_forward(mha, NULL, &in, 0, NULL, NULL), CLATTN_UNSUPPORTED);
  in.x.dtype = CLATTN_F32;
  in.mask.type = CLATTN_MASK_BOOL; /* without a buffer: the attention's own validation */
  CHECK_STATUS(env->ctx, clattn_mha_forward(mha, NULL, &in, 0, NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "mask");
  in.mask.type = CLATTN_MASK_NONE;
  in.weights_output = CLATTN_MHA_WEIGHTS_AVERAGE;
  in.weights = yd.view;
  CHECK_STATUS(env->ctx, clattn_mha_forward(mha, NULL, &in, 0, NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "inputs->weights overlaps");
  CHECK_CL(clFinish(env->queue));
  float *y = mt_rows_read(env, &yd);
  for (int i = 0; i < 2 * 5 * 16; i++) CHECK(isnan(y[i]));
  free(y);
  mt_rows_release(&xd);
  mt_rows_release(&yd);
  clattn_mha_destroy(mha);
  mt_layer_free(&L);
}

/* Out-of-order queue: the layer's first command waits for a user event that the test
 * completes only after writing X through another queue; the returned event alone tells when
 * Y is ready. A layer that ignored the wait list would read the zeros X starts with. */
static void out_of_order(attn_env *env) {
  mt_layer L;
  mt_layer_init(&L, 32, 4, 0, 0, 0, 1, 11);
  L.ref.rope.style = CLATTN_ROPE_HALF;
  clattn_mha *mha = mt_layer_create(env, &L, 1);
  int64_t b = 2, s = 33, e = 32;
  ref_rng rng;
  ref_rng_seed(&rng, 12);
  float *x = mt_alloc((size_t)(b * s * e) * sizeof *x);
  ref_rng_fill_normal(&rng, x, (uint64_t)(b * s * e), 1.0);
  float *zeros = mt_alloc((size_t)(b * s * e) * sizeof *zeros);
  mt_rows xd = mt_rows_upload(env, zeros, b, s, e, e, s * e);
  mt_rows yd = mt_rows_poisoned(env, b, s, e, e, s * e);
  cl_int err;
  cl_command_queue ooo =
      clCreateCommandQueue(env->cl, env->device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  CHECK_CL(err);
  cl_event gate = clCreateUserEvent(env->cl, &err);
  CHECK_CL(err);
  clattn_mha_inputs in;
  clattn_mha_inputs_init(&in);
  in.batch = b;
  in.seq = s;
  in.x = xd.view;
  in.y = yd.view;
  in.causal = 1;
  cl_event done = NULL;
  CHECK_OK(env->ctx, clattn_mha_forward(mha, ooo, &in, 1, &gate, &done));
  CHECK_CL(clFlush(ooo));
  CHECK_CL(clEnqueueWriteBuffer(env->queue, xd.buffer, CL_TRUE, 0, (size_t)(b * s * e) * sizeof *x,
                                x, 0, NULL, NULL));
  CHECK_CL(clSetUserEventStatus(gate, CL_COMPLETE));
  CHECK_CL(clWaitForEvents(1, &done));
  float *y = mt_alloc((size_t)(b * s * e) * sizeof *y);
  CHECK_CL(clEnqueueReadBuffer(ooo, yd.buffer, CL_TRUE, 0, (size_t)(b * s * e) * sizeof *y, y, 0,
                               NULL, NULL));
  ref_attention opts;
  ref_attention_init(&opts, b, 4, 4, s, s, 8, 0);
  opts.causal = 1;
  double *ref = mt_alloc((size_t)(b * s * e) * sizeof *ref);
  mha_ref_forward(&L.ref, b, s, s, x, NULL, 0, &opts, ref, NULL);
  for (int64_t i = 0; i < b * s * e; i++)
    if (!(fabs(y[i] - ref[i]) <= 1e-5 + 1e-4 * fabs(ref[i])))
      check_fail(__FILE__, __LINE__, "out-of-order y[%lld] = %.9g, reference %.9g", (long long)i,
                 y[i], ref[i]);
  check_pass();
  clReleaseEvent(done);
  clReleaseEvent(gate);
  CHECK_CL(clFinish(ooo));
  clReleaseCommandQueue(ooo);
  free(x);
  free(zeros);
  free(y);
  free(ref);
  mt_rows_release(&xd);
  mt_rows_release(&yd);
  clattn_mha_destroy(mha);
  mt_layer_free(&L);
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  bad_desc(&env);
  bad_weights(&env);
  bad_calls(&env);
  out_of_order(&env);
  attn_env_destroy(&env);
  return check_done("test_mha_api");
}
