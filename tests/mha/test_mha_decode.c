/* Incremental decoding with the layer: a prompt, then steps of 1 to 16 tokens, each through
 * clattn_mha_step over a KV cache (contiguous and paged), must give the output of one full
 * causal pass over the whole sequence (the double-precision reference). The two sequences of
 * the batch advance by different counts, so their positions (RoPE, ALiBi, causal alignment)
 * differ in every step. Also run on an out-of-order queue. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"
#include "mha_ref.h"
#include "mha_test_util.h"

#define BATCH 2
#define TOKENS 140 /* > 128, so single-token steps take the split-KV decode path */

typedef struct decode_case {
  const char *name;
  int64_t block_size; /* 0: contiguous cache */
  clattn_rope_style rope;
  int alibi;
  int out_of_order;
} decode_case;

static int64_t step_size(int64_t step) {
  static const int64_t sizes[] = {5, 1, 3, 1, 1, 7, 16, 1, 2};
  return sizes[step % (int64_t)(sizeof sizes / sizeof sizes[0])];
}

static void run_case(attn_env *env, const decode_case *dc) {
  mt_layer L;
  mt_layer_init(&L, 48, 4, 2, 0, 0, 1, 99);
  L.ref.rope.style = dc->rope;
  L.ref.alibi = dc->alibi;
  clattn_mha *mha = mt_layer_create(env, &L, 0);
  int64_t e = 48;
  ref_rng rng;
  ref_rng_seed(&rng, 3);
  float *x = mt_alloc((size_t)(BATCH * TOKENS * e) * sizeof *x);
  ref_rng_fill_normal(&rng, x, (uint64_t)(BATCH * TOKENS * e), 1.0);
  ref_attention opts;
  ref_attention_init(&opts, BATCH, 4, 2, TOKENS, TOKENS, 12, 0);
  opts.causal = 1;
  double *y_ref = mt_alloc((size_t)(BATCH * TOKENS * e) * sizeof *y_ref);
  mha_ref_forward(&L.ref, BATCH, TOKENS, TOKENS, x, NULL, 0, &opts, y_ref, NULL);

  cl_command_queue queue = env->queue;
  cl_int err;
  if (dc->out_of_order) {
    queue = clCreateCommandQueue(env->cl, env->device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
    CHECK_CL(err);
  }
  clattn_kv_cache_desc cd;
  clattn_kv_cache_desc_init(&cd);
  cd.batch = BATCH;
  cd.kv_heads = 2;
  cd.head_dim = 12;
  cd.capacity = TOKENS;
  cd.block_size = dc->block_size;
  clattn_kv_cache *cache = NULL;
  CHECK_OK(env->ctx, clattn_kv_cache_create(env->ctx, &cd, &cache));

  float *y = mt_alloc((size_t)(BATCH * TOKENS * e) * sizeof *y);
  int64_t done[BATCH] = {0, 0};
  for (int64_t step = 0; done[0] < TOKENS || done[1] < TOKENS; step++) {
    int64_t n = step_size(step);
    int32_t counts[BATCH];
    for (int b = 0; b < BATCH; b++) {
      int64_t want = b == 1 && n > 1 ? n - 1 : n; /* the second sequence lags */
      counts[b] = (int32_t)(TOKENS - done[b] < want ? TOKENS - done[b] : want);
    }
    float *x_new = mt_alloc((size_t)(BATCH * n * e) * sizeof *x_new);
    for (int b = 0; b < BATCH; b++)
      memcpy(x_new + b * n * e, x + (b * TOKENS + done[b]) * e, (size_t)(counts[b] * e) * sizeof *x_new);
    mt_rows xd = mt_rows_upload(env, x_new, BATCH, n, e, e, n * e);
    mt_rows yd = mt_rows_poisoned(env, BATCH, n, e, e, n * e);
    cl_event done_event = NULL;
    CHECK_OK(env->ctx, clattn_mha_step(mha, queue, cache, &xd.view, n, counts, &yd.view, 0, NULL,
                                       &done_event));
    CHECK_CL(clWaitForEvents(1, &done_event)); /* only the event: no clFinish */
    clReleaseEvent(done_event);
    float *y_new = mt_rows_read(env, &yd);
    for (int b = 0; b < BATCH; b++) {
      memcpy(y + (b * TOKENS + done[b]) * e, y_new + b * n * e, (size_t)(counts[b] * e) * sizeof *y);
      done[b] += counts[b];
    }
    free(y_new);
    free(x_new);
    mt_rows_release(&xd);
    mt_rows_release(&yd);
  }
  for (int64_t i = 0; i < BATCH * TOKENS * e; i++) {
    double tol = 1e-5 + 1e-4 * fabs(y_ref[i]);
    if (!(fabs(y[i] - y_ref[i]) <= tol))
      check_fail(__FILE__, __LINE__, "%s: token %lld feature %lld: %.9g, full pass %.9g", dc->name,
                 (long long)(i / e), (long long)(i % e), y[i], y_ref[i]);
  }
  check_pass();
  printf("  %-34s ok\n", dc->name);
  clattn_kv_cache_destroy(cache);
  if (dc->out_of_order) clReleaseCommandQueue(queue);
  clattn_mha_destroy(mha);
  mt_layer_free(&L);
  free(x);
  free(y);
  free(y_ref);
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  static const decode_case cases[] = {
      {"contiguous, RoPE half", 0, CLATTN_ROPE_HALF, 0, 0},
      {"paged 16, RoPE interleaved, ALiBi", 16, CLATTN_ROPE_INTERLEAVED, 1, 0},
      {"paged 7, no position info", 7, CLATTN_ROPE_NONE, 0, 0},
      {"contiguous, out-of-order queue", 0, CLATTN_ROPE_HALF, 1, 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&env, &cases[i]);
  attn_env_destroy(&env);
  return check_done("test_mha_decode");
}
