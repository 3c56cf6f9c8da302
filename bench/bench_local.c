/*
 * bench_local: Luong local attention (clattn_attention_local, local-m with the Gaussian) for
 * half-widths D in {8, 32, 128} at S in {4096, 16384, 65536}: the time should follow D and
 * stay flat per query as S grows, since each query reads only its 2D + 1 keys.
 *
 *   bench_local [repeats=5] [max_seq=65536]
 *
 * fp32, B = 1, H = 8, head dim 64, Sq = Skv = S. Each configuration is run once to warm up
 * (kernel build, caches), then `repeats` times; times are OpenCL profiling times of the
 * kernel (median, min, max). "ns/query" divides the median by S * H; GFLOP/s counts
 * 4 * 64 FLOPs per visited key (dot product and value sum). For comparison, the fused
 * attention kernel with the same sliding window (window_left = window_right = D, no
 * Gaussian) is timed the same way.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "clattn.h"

enum { HEADS = 8, HEAD_DIM = 64 };

typedef struct tensors {
  cl_mem q, k, v, o;
} tensors;

static cl_mem random_buffer(clattn_context *ctx, size_t n, uint64_t *seed) {
  float *host = malloc(n * sizeof *host);
  cl_int err = CL_OUT_OF_HOST_MEMORY;
  cl_mem m = NULL;
  if (host) {
    bench_fill_uniform(host, n, 1.0f, seed);
    m = clCreateBuffer(clattn_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                       n * sizeof *host, host, &err);
  }
  free(host);
  return err == CL_SUCCESS ? m : NULL;
}

static void release(tensors *t) {
  cl_mem all[4] = {t->q, t->k, t->v, t->o};
  for (int i = 0; i < 4; i++)
    if (all[i]) clReleaseMemObject(all[i]);
  memset(t, 0, sizeof *t);
}

/* One timed call: local (fused 0) or the fused kernel with the same window (fused 1). */
static int time_call(clattn_context *ctx, const tensors *t, int64_t seq, int64_t d, int fused,
                     double *seconds) {
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = 1;
  desc.q_heads = desc.kv_heads = HEADS;
  desc.q_len = desc.kv_len = seq;
  desc.head_dim = HEAD_DIM;
  clattn_tensor q = clattn_tensor_contiguous(t->q, CLATTN_F32, CLATTN_LAYOUT_BHSD, HEADS, seq, HEAD_DIM, 0);
  clattn_tensor k = clattn_tensor_contiguous(t->k, CLATTN_F32, CLATTN_LAYOUT_BHSD, HEADS, seq, HEAD_DIM, 0);
  clattn_tensor v = clattn_tensor_contiguous(t->v, CLATTN_F32, CLATTN_LAYOUT_BHSD, HEADS, seq, HEAD_DIM, 0);
  clattn_tensor o = clattn_tensor_contiguous(t->o, CLATTN_F32, CLATTN_LAYOUT_BHSD, HEADS, seq, HEAD_DIM, 0);
  cl_event event = NULL;
  clattn_status status;
  if (fused) {
    desc.window_left = desc.window_right = d;
    status = clattn_attention_forward(ctx, NULL, &desc, &q, &k, &v, &o, NULL, 0, NULL, &event);
  } else {
    clattn_local_desc local;
    clattn_local_desc_init(&local);
    local.window = d;
    status = clattn_attention_local(ctx, NULL, &desc, &local, &q, &k, &v, &o, NULL, 0, NULL, &event);
  }
  if (status != CLATTN_SUCCESS) {
    fprintf(stderr, "bench_local: %s: %s\n", clattn_status_name(status), clattn_last_error(ctx));
    return -1;
  }
  cl_int err = clWaitForEvents(1, &event);
  if (err == CL_SUCCESS) err = bench_event_seconds(event, seconds);
  clReleaseEvent(event);
  return err == CL_SUCCESS ? 0 : -1;
}

/* Warm-up, then `repeats` runs; median, min and max in seconds. */
static int measure(clattn_context *ctx, const tensors *t, int64_t seq, int64_t d, int fused,
                   int repeats, double out[3]) {
  double *times = calloc((size_t)repeats, sizeof *times), warm;
  int rc = times ? time_call(ctx, t, seq, d, fused, &warm) : -1;
  for (int i = 0; rc == 0 && i < repeats; i++) rc = time_call(ctx, t, seq, d, fused, &times[i]);
  if (rc == 0) {
    out[0] = bench_sort_median(times, repeats);
    out[1] = times[0];
    out[2] = times[repeats - 1];
  }
  free(times);
  return rc;
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 5;
  long max_seq = argc > 2 ? atol(argv[2]) : 65536;
  if (repeats < 1 || max_seq < 1) {
    fprintf(stderr, "usage: bench_local [repeats=5] [max_seq=65536]\n");
    return 2;
  }
  clattn_context *ctx = NULL;
  if (clattn_context_create(NULL, &ctx) != CLATTN_SUCCESS) {
    fprintf(stderr, "bench_local: %s\n", clattn_last_error(NULL));
    return 1;
  }
  clattn_device_info info;
  clattn_context_device_info(ctx, &info);
  printf("device: %s; B 1, H %d, head dim %d, fp32, local-m with Gaussian; %d repeats\n", info.name,
         HEADS, HEAD_DIM, repeats);
  printf("%7s %5s | %10s %10s %10s %9s %8s | %16s\n", "S", "D", "median ms", "min ms", "max ms",
         "ns/query", "GFLOP/s", "fused window ms");
  const int64_t seqs[3] = {4096, 16384, 65536}, widths[3] = {8, 32, 128};
  int rc = 0;
  for (int i = 0; i < 3 && rc == 0; i++) {
    if (seqs[i] > max_seq) break;
    size_t n = (size_t)HEADS * (size_t)seqs[i] * HEAD_DIM;
    uint64_t seed = 7;
    tensors t = {random_buffer(ctx, n, &seed), random_buffer(ctx, n, &seed),
                 random_buffer(ctx, n, &seed), random_buffer(ctx, n, &seed)};
    if (!t.q || !t.k || !t.v || !t.o) {
      printf("%7lld: buffers of %zu floats could not be allocated; stopping\n", (long long)seqs[i], n);
      release(&t);
      break;
    }
    for (int j = 0; j < 3 && rc == 0; j++) {
      double local[3], fused[3];
      rc = measure(ctx, &t, seqs[i], widths[j], 0, repeats, local);
      if (rc == 0) rc = measure(ctx, &t, seqs[i], widths[j], 1, repeats, fused);
      if (rc != 0) break;
      double queries = (double)seqs[i] * HEADS, keys = (double)(2 * widths[j] + 1);
      printf("%7lld %5lld | %10.2f %10.2f %10.2f %9.1f %8.2f | %16.2f\n", (long long)seqs[i],
             (long long)widths[j], local[0] * 1e3, local[1] * 1e3, local[2] * 1e3,
             local[0] * 1e9 / queries, queries * keys * 4.0 * HEAD_DIM / local[0] * 1e-9,
             fused[0] * 1e3);
      fflush(stdout);
    }
    release(&t);
  }
  clattn_context_destroy(ctx);
  return rc == 0 ? 0 : 1;
}
