#include "bench_layer.h"

#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { X, Y, W_IN, W_OUT, QKV, ATTN, BUFFERS };

typedef struct layer {
  clattn_context *ctx;
  clattn_mha *mha;
  cl_mem buffers[BUFFERS];
  size_t seq, embed;
  char *error;
  size_t error_size;
} layer;

const char *bench_layer_name(int impl) {
  static const char *const names[BENCH_LAYER_COUNT] = {"mha layer", "gemm qkv", "gemm out"};
  return impl >= 0 && impl < BENCH_LAYER_COUNT ? names[impl] : "?";
}

static int layer_status(layer *l, clattn_status status, const char *what) {
  if (status != CLATTN_SUCCESS) {
    snprintf(l->error, l->error_size, "%s: %s: %s", what, clattn_status_name(status),
             clattn_last_error(l->ctx));
    return -1;
  }
  return 0;
}

static int call_mha(void *arg) {
  layer *l = arg;
  clattn_mha_inputs in;
  clattn_mha_inputs_init(&in);
  in.batch = 1;
  in.seq = (int64_t)l->seq;
  in.x = clattn_tensor_contiguous(l->buffers[X], CLATTN_F32, CLATTN_LAYOUT_BHSD, 1,
                                  (int64_t)l->seq, (int64_t)l->embed, 0);
  in.y = clattn_tensor_contiguous(l->buffers[Y], CLATTN_F32, CLATTN_LAYOUT_BHSD, 1,
                                  (int64_t)l->seq, (int64_t)l->embed, 0);
  return layer_status(l, clattn_mha_forward(l->mha, NULL, &in, 0, NULL, NULL),
                      "clattn_mha_forward");
}

/* C = A B^T, as the layer's projections (B a Linear weight). */
static int layer_gemm(layer *l, size_t n, cl_mem a, cl_mem b, cl_mem c) {
  cl_command_queue queue = clattn_context_queue(l->ctx);
  CLBlastStatusCode status = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                          CLBlastTransposeYes, l->seq, n, l->embed, 1.0f, a, 0,
                                          l->embed, b, 0, l->embed, 0.0f, c, 0, n, &queue, NULL);
  if (status != CLBlastSuccess) {
    snprintf(l->error, l->error_size, "CLBlastSgemm: status %d", (int)status);
    return -1;
  }
  return 0;
}

static int call_qkv(void *arg) {
  layer *l = arg;
  return layer_gemm(l, 3 * l->embed, l->buffers[X], l->buffers[W_IN], l->buffers[QKV]);
}

static int call_out(void *arg) {
  layer *l = arg;
  return layer_gemm(l, l->embed, l->buffers[ATTN], l->buffers[W_OUT], l->buffers[Y]);
}

/* The layer with random weights (PyTorch's in_proj / out_proj shapes, with biases). */
static int layer_create(layer *l, int heads) {
  size_t e = l->embed, count = 4 * e * e + 4 * e;
  float *w = malloc(count * sizeof *w);
  if (w == NULL) {
    snprintf(l->error, l->error_size, "out of host memory");
    return -1;
  }
  uint64_t seed = 42;
  bench_fill_uniform(w, count, (float)(1.0 / sqrt((double)e)), &seed);
  clattn_mha_desc d;
  clattn_mha_desc_init(&d);
  d.embed_dim = (int64_t)e;
  d.num_heads = heads;
  d.bias = 1;
  int64_t ei = (int64_t)e;
  clattn_mha_weights weights;
  memset(&weights, 0, sizeof weights);
  weights.in_proj_weight = (clattn_host_matrix){w, 3 * ei, ei};
  weights.in_proj_bias = (clattn_host_matrix){w + 3 * e * e, 3 * ei, 1};
  weights.out_weight = (clattn_host_matrix){w + 3 * e * e + 3 * e, ei, ei};
  weights.out_bias = (clattn_host_matrix){w + 4 * e * e + 3 * e, ei, 1};
  int rc = layer_status(l, clattn_mha_create(l->ctx, &d, &l->mha), "clattn_mha_create");
  if (rc == 0) {
    rc = layer_status(l, clattn_mha_set_weights(l->mha, &weights), "clattn_mha_set_weights");
  }
  free(w);
  return rc;
}

/* The layer's input and output, and the GEMMs' operands with the layer's shapes. */
static int layer_buffers(layer *l) {
  size_t s = l->seq, e = l->embed;
  const size_t floats[BUFFERS] = {s * e, s * e, 3 * e * e, e * e, 3 * s * e, s * e};
  uint64_t seed = 7;
  for (int i = 0; i < BUFFERS; ++i) {
    float *host = malloc(floats[i] * sizeof *host);
    cl_int err = CL_OUT_OF_HOST_MEMORY;
    if (host != NULL) {
      bench_fill_uniform(host, floats[i], 0.5f, &seed);
      l->buffers[i] = clCreateBuffer(clattn_context_cl_context(l->ctx),
                                     CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                                     floats[i] * sizeof *host, host, &err);
    }
    free(host);
    if (err != CL_SUCCESS) {
      snprintf(l->error, l->error_size, "buffer of %zu floats: %s", floats[i],
               clattn_cl_error_name(err));
      return -1;
    }
  }
  return 0;
}

int bench_layer_run(clattn_context *ctx, int seq, int embed, int heads, int repeats,
                    bench_layer_result *r) {
  layer l;
  memset(&l, 0, sizeof l);
  memset(r, 0, sizeof *r);
  l.ctx = ctx;
  l.seq = (size_t)seq;
  l.embed = (size_t)embed;
  l.error = r->error;
  l.error_size = sizeof r->error;
  r->seq = seq;
  r->embed = embed;
  r->heads = heads;
  double s = seq, e = embed;
  r->flops[BENCH_LAYER_MHA] = 8.0 * s * e * e + 4.0 * s * s * e;
  r->flops[BENCH_LAYER_QKV_GEMM] = 2.0 * s * 3.0 * e * e;
  r->flops[BENCH_LAYER_OUT_GEMM] = 2.0 * s * e * e;
  int rc = layer_create(&l, heads);
  if (rc == 0) {
    rc = layer_buffers(&l);
  }
  if (rc == 0) {
    const bench_call_fn calls[BENCH_LAYER_COUNT] = {call_mha, call_qkv, call_out};
    void *const args[BENCH_LAYER_COUNT] = {&l, &l, &l};
    rc = bench_time_interleaved(clattn_context_queue(ctx), BENCH_LAYER_COUNT, calls, args,
                                repeats, r->stats) == 0 ? 0 : -1;
    if (rc != 0 && r->error[0] == '\0') {
      snprintf(r->error, sizeof r->error, "clFinish failed");
    }
  }
  clattn_mha_destroy(l.mha);
  for (int i = 0; i < BUFFERS; ++i) {
    if (l.buffers[i] != NULL) {
      clReleaseMemObject(l.buffers[i]);
    }
  }
  return rc;
}
