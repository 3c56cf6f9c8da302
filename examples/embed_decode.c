/*
 * embed_decode: clattn inside an inference app that owns its OpenCL objects.
 *
 * The app creates its own cl_context, in-order queue and buffers; clattn wraps the context
 * and works on the app's queue. A prompt of PROMPT tokens is prefilled into a paged KV
 * cache (one causal attention call over the prompt), then the remaining tokens are decoded
 * one at a time: append the token's K/V, attend with one query row. Every output row must
 * equal the same row of one causal attention pass over the whole sequence.
 *
 * The app's Q, K and V hold the whole sequence (B = 1, BHSD). A token range is just a view
 * of them (an offset into the sequence), so nothing is copied on the host.
 */
#include <clattn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

enum { HQ = 8, HKV = 2, D = 64, PROMPT = 13, TOTAL = 40, BLOCK = 16 };

#define QN ((size_t)HQ * TOTAL * D)
#define KN ((size_t)HKV * TOTAL * D)

static void must(clattn_status status, const clattn_context *ctx, const char *what) {
  if (status == CLATTN_SUCCESS) return;
  fprintf(stderr, "%s: %s: %s\n", what, clattn_status_name(status), clattn_last_error(ctx));
  exit(1);
}

static void must_cl(cl_int err, const char *what) {
  if (err == CL_SUCCESS) return;
  fprintf(stderr, "%s: %s\n", what, clattn_cl_error_name(err));
  exit(1);
}

/* The tokens [first, first + count) of a (1, heads, TOTAL, D) BHSD tensor, as a view. */
static clattn_tensor tokens(cl_mem buffer, int64_t heads, int64_t first) {
  return clattn_tensor_contiguous(buffer, CLATTN_F32, CLATTN_LAYOUT_BHSD, heads, TOTAL, D,
                                  (uint64_t)first * D);
}

/* Attention of `count` new query tokens starting at `first`, over everything cached. */
static void attend(clattn_context *ctx, cl_command_queue queue, clattn_kv_cache *cache,
                   cl_mem q, cl_mem o, int64_t first, int64_t count) {
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = 1;
  desc.q_heads = HQ;
  desc.q_len = count;
  desc.causal = 1; /* bottom-right aligned: the new tokens are the cache's last ones */
  clattn_tensor tq = tokens(q, HQ, first), to = tokens(o, HQ, first);
  must(clattn_attention_forward_kv(ctx, queue, &desc, &tq, cache, &to, NULL, 0, NULL, NULL),
       ctx, "clattn_attention_forward_kv");
}

int main(void) {
  /* The app's own OpenCL setup: first device of the first platform. */
  cl_platform_id platform = NULL;
  cl_device_id device = NULL;
  cl_int err = clGetPlatformIDs(1, &platform, NULL);
  if (err == CL_SUCCESS) err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL);
  must_cl(err, "no OpenCL device");
  cl_context cl = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
  must_cl(err, "clCreateContext");
  cl_command_queue queue = clCreateCommandQueue(cl, device, 0, &err);
  must_cl(err, "clCreateCommandQueue");

  clattn_context *ctx = NULL;
  must(clattn_context_create_from_cl(cl, device, NULL, &ctx), NULL, "clattn_context_create_from_cl");

  /* The app's activations: Q, K, V of the whole sequence (as if projected token by token). */
  float *host = malloc((QN + 2 * KN) * sizeof(float));
  float *got = malloc(QN * sizeof(float)), *want = malloc(QN * sizeof(float));
  if (!host || !got || !want) return 1;
  srand(1);
  for (size_t i = 0; i < QN + 2 * KN; i++) host[i] = (float)((double)rand() / RAND_MAX * 2.0 - 1.0);
  cl_mem buffers[5]; /* q, k, v, o (cache path), o_full (one pass) */
  size_t sizes[5] = {QN, KN, KN, QN, QN}, at = 0;
  for (int i = 0; i < 5; i++) {
    buffers[i] = clCreateBuffer(cl, CL_MEM_READ_WRITE | (i < 3 ? CL_MEM_COPY_HOST_PTR : 0),
                                sizes[i] * sizeof(float), i < 3 ? host + at : NULL, &err);
    must_cl(err, "clCreateBuffer");
    at += sizes[i];
  }
  cl_mem q = buffers[0], k = buffers[1], v = buffers[2], o = buffers[3], o_full = buffers[4];

  /* The answer to check against: one causal pass over the whole sequence. */
  clattn_attention_desc full;
  clattn_attention_desc_init(&full);
  full.batch = 1, full.q_heads = HQ, full.kv_heads = HKV;
  full.q_len = full.kv_len = TOTAL, full.head_dim = D, full.causal = 1;
  clattn_tensor fq = tokens(q, HQ, 0), fk = tokens(k, HKV, 0), fv = tokens(v, HKV, 0);
  clattn_tensor fo = tokens(o_full, HQ, 0);
  must(clattn_attention_forward(ctx, queue, &full, &fq, &fk, &fv, &fo, NULL, 0, NULL, NULL),
       ctx, "clattn_attention_forward");

  /* A paged KV cache with room for the whole sequence. */
  clattn_kv_cache_desc cd;
  clattn_kv_cache_desc_init(&cd);
  cd.batch = 1, cd.kv_heads = HKV, cd.head_dim = D, cd.capacity = TOTAL, cd.block_size = BLOCK;
  clattn_kv_cache *cache = NULL;
  must(clattn_kv_cache_create(ctx, &cd, &cache), ctx, "clattn_kv_cache_create");

  /* Prefill, then decode: everything is enqueued in order on the app's queue. */
  for (int64_t first = 0; first < TOTAL; first += first == 0 ? PROMPT : 1) {
    int64_t count = first == 0 ? PROMPT : 1;
    clattn_tensor tk = tokens(k, HKV, first), tv = tokens(v, HKV, first);
    must(clattn_kv_cache_append(cache, queue, &tk, &tv, count, NULL, 0, NULL, NULL), ctx,
         "clattn_kv_cache_append");
    attend(ctx, queue, cache, q, o, first, count);
  }

  must_cl(clEnqueueReadBuffer(queue, o, CL_TRUE, 0, QN * sizeof(float), got, 0, NULL, NULL), "read");
  must_cl(clEnqueueReadBuffer(queue, o_full, CL_TRUE, 0, QN * sizeof(float), want, 0, NULL, NULL),
          "read");
  double worst = 0.0;
  size_t bad = 0;
  for (size_t i = 0; i < QN; i++) {
    double err_i = fabs((double)got[i] - want[i]), tol = 1e-5 + 1e-4 * fabs(want[i]);
    if (!(err_i <= tol)) bad++;
    if (err_i > worst) worst = err_i;
  }
  int32_t length = 0;
  must(clattn_kv_cache_lengths(cache, &length, 1), ctx, "clattn_kv_cache_lengths");
  printf("prefill %d tokens + decode %d tokens, cache holds %d; %zu of %zu outputs differ "
         "from one full causal pass (largest difference %.3g)\n",
         PROMPT, TOTAL - PROMPT, (int)length, bad, QN, worst);

  clFinish(queue);
  clattn_kv_cache_destroy(cache);
  clattn_context_destroy(ctx);
  for (int i = 0; i < 5; i++) clReleaseMemObject(buffers[i]);
  clReleaseCommandQueue(queue);
  clReleaseContext(cl);
  free(host);
  free(got);
  free(want);
  return bad == 0 && length == TOTAL ? 0 : 1;
}
