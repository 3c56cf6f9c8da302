#include "bench_family.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Buffers and descriptors of one family measurement; each call reads q, k, v and writes o. */
typedef struct family {
  clattn_context *ctx;
  clattn_attention_desc desc;
  clattn_tensor q, k, v, o, o_hard;
  cl_mem buffers[9]; /* q k v o o_hard w1 w2 va indices */
  clattn_additive_weights weights;
  clattn_local_desc local;
  clattn_hard_desc hard;
  cl_mem indices;
  char *error;
  size_t error_size;
} family;

const char *bench_family_name(int impl) {
  static const char *const names[BENCH_FAMILY_COUNT] = {"softmax", "additive", "local-m",
                                                         "hard argmax"};
  return impl >= 0 && impl < BENCH_FAMILY_COUNT ? names[impl] : "?";
}

const char *bench_family_flops_rule(void) {
  return "softmax 4*H*S^2*D; additive 2*H*S^2*(A+D) + 4*H*S*D*A (tanh not counted); "
         "local-m 4*H*S*(2w+1)*D; hard argmax 2*H*S^2*D";
}

static int family_check(family *f, clattn_status status, const char *what) {
  if (status != CLATTN_SUCCESS) {
    snprintf(f->error, f->error_size, "%s: %s: %s", what, clattn_status_name(status),
             clattn_last_error(f->ctx));
    return -1;
  }
  return 0;
}

static int call_softmax(void *arg) {
  family *f = arg;
  return family_check(f, clattn_attention_forward(f->ctx, NULL, &f->desc, &f->q, &f->k, &f->v,
                                                  &f->o, NULL, 0, NULL, NULL),
                      "clattn_attention_forward");
}

static int call_additive(void *arg) {
  family *f = arg;
  return family_check(f, clattn_attention_additive(f->ctx, NULL, &f->desc, &f->weights, &f->q,
                                                   &f->k, &f->v, &f->o, NULL, 0, NULL, NULL),
                      "clattn_attention_additive");
}

static int call_local(void *arg) {
  family *f = arg;
  return family_check(f, clattn_attention_local(f->ctx, NULL, &f->desc, &f->local, &f->q, &f->k,
                                                &f->v, &f->o, NULL, 0, NULL, NULL),
                      "clattn_attention_local");
}

static int call_hard(void *arg) {
  family *f = arg;
  return family_check(f, clattn_attention_hard(f->ctx, NULL, &f->desc, &f->hard, &f->q, &f->k,
                                               &f->v, &f->o_hard, f->indices, 0, NULL, NULL),
                      "clattn_attention_hard");
}

/* A device buffer of n floats, uniform in +-amplitude (0: uninitialised). */
static cl_mem family_buffer(family *f, size_t n, float amplitude, uint64_t *seed) {
  float *host = amplitude > 0.0f ? malloc(n * sizeof *host) : NULL;
  cl_int err = amplitude > 0.0f && host == NULL ? CL_OUT_OF_HOST_MEMORY : CL_SUCCESS;
  cl_mem m = NULL;
  if (err == CL_SUCCESS) {
    if (host != NULL) {
      bench_fill_uniform(host, n, amplitude, seed);
    }
    m = clCreateBuffer(clattn_context_cl_context(f->ctx),
                       CL_MEM_READ_WRITE | (host != NULL ? CL_MEM_COPY_HOST_PTR : 0),
                       n * sizeof(float), host, &err);
  }
  free(host);
  if (err != CL_SUCCESS) {
    snprintf(f->error, f->error_size, "clCreateBuffer(%zu floats): %s", n,
             clattn_cl_error_name(err));
  }
  return m;
}

static int family_setup(family *f, int seq, int heads) {
  const int d = BENCH_FAMILY_HEAD_DIM, a = BENCH_FAMILY_ATTN_DIM;
  size_t n = (size_t)heads * (size_t)seq * (size_t)d;
  uint64_t seed = 11;
  float w_scale = 1.7f / sqrtf((float)d);
  const size_t sizes[9] = {n, n, n, n, n, (size_t)a * d, (size_t)a * d, (size_t)a,
                           (size_t)heads * (size_t)seq};
  const float amplitudes[9] = {1.7f, 1.7f, 1.0f, 0.0f, 0.0f, w_scale, w_scale, 0.4f, 0.0f};
  for (int i = 0; i < 9; ++i) {
    f->buffers[i] = family_buffer(f, sizes[i], amplitudes[i], &seed);
    if (f->buffers[i] == NULL) {
      return -1;
    }
  }
  clattn_attention_desc_init(&f->desc);
  f->desc.batch = 1;
  f->desc.q_heads = f->desc.kv_heads = heads;
  f->desc.q_len = f->desc.kv_len = seq;
  f->desc.head_dim = d;
  clattn_tensor *views[5] = {&f->q, &f->k, &f->v, &f->o, &f->o_hard};
  for (int i = 0; i < 5; ++i) {
    *views[i] = clattn_tensor_contiguous(f->buffers[i], CLATTN_F32, CLATTN_LAYOUT_BHSD, heads,
                                         seq, d, 0);
  }
  f->weights = (clattn_additive_weights){f->buffers[5], f->buffers[6], f->buffers[7], a, 0};
  clattn_local_desc_init(&f->local);
  f->local.window = BENCH_FAMILY_WINDOW;
  memset(&f->hard, 0, sizeof f->hard);
  f->hard.mode = CLATTN_HARD_ARGMAX;
  f->hard.draws = 1;
  f->indices = f->buffers[8];
  return 0;
}

static void family_flops(bench_family_result *r) {
  double h = r->heads, s = r->seq, d = BENCH_FAMILY_HEAD_DIM, a = BENCH_FAMILY_ATTN_DIM;
  r->flops[BENCH_FAMILY_SOFTMAX] = 4.0 * h * s * s * d;
  r->flops[BENCH_FAMILY_ADDITIVE] = 2.0 * h * s * s * (a + d) + 4.0 * h * s * d * a;
  r->flops[BENCH_FAMILY_LOCAL] = 4.0 * h * s * (2.0 * BENCH_FAMILY_WINDOW + 1.0) * d;
  r->flops[BENCH_FAMILY_HARD] = 2.0 * h * s * s * d;
}

int bench_family_run(clattn_context *ctx, int seq, int heads, int repeats,
                     bench_family_result *r) {
  family f;
  memset(&f, 0, sizeof f);
  memset(r, 0, sizeof *r);
  f.ctx = ctx;
  f.error = r->error;
  f.error_size = sizeof r->error;
  r->seq = seq;
  r->heads = heads;
  family_flops(r);
  int rc = family_setup(&f, seq, heads);
  if (rc == 0) {
    const bench_call_fn calls[BENCH_FAMILY_COUNT] = {call_softmax, call_additive, call_local,
                                                     call_hard};
    void *const args[BENCH_FAMILY_COUNT] = {&f, &f, &f, &f};
    rc = bench_time_interleaved(clattn_context_queue(ctx), BENCH_FAMILY_COUNT, calls, args,
                                repeats, r->stats) == 0 ? 0 : -1;
    if (rc != 0 && r->error[0] == '\0') {
      snprintf(r->error, sizeof r->error, "a call or clFinish failed");
    }
  }
  for (int i = 0; i < 9; ++i) {
    if (f.buffers[i] != NULL) {
      clReleaseMemObject(f.buffers[i]);
    }
  }
  return rc;
}
