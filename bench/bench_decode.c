/*
 * bench_decode: the decode step of an inference loop — one new query token per sequence
 * attending over a long KV cache — measured as the bandwidth of reading K and V once,
 * against the triad bandwidth the same run measures (clattn_measure_ceilings).
 *
 *   bench_decode [repeats=9] [skv=4096]
 *
 * Each round measures the triad bandwidth right before one decode call, so that both see the
 * same load on a shared machine; the ratio reported is the median of the rounds' ratios.
 *
 * Cases (fp32, B=1, Sq=1, D=128, Hq=32): Hkv=32 (MHA) and Hkv=8 (GQA 4:1), each with the
 * split-KV decode path (kv_splits 0 = automatic) and, for comparison, the one-pass fused
 * kernel (kv_splits 1). The outputs of both are compared; a mismatch is flagged.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "clattn.h"

typedef struct bench_case {
  int q_heads, kv_heads, kv_len, head_dim;
} bench_case;

typedef struct buffers {
  cl_mem q, k, v, o;
  size_t kv_bytes; /* K and V together */
} buffers;

static cl_mem upload(cl_context cl, cl_command_queue queue, size_t n, uint64_t *seed) {
  float *host = malloc(n * sizeof(float));
  cl_int err = CL_OUT_OF_HOST_MEMORY;
  cl_mem buffer = NULL;
  if (host) {
    bench_fill_uniform(host, n, 1.0f, seed);
    buffer = clCreateBuffer(cl, CL_MEM_READ_WRITE, n * sizeof(float), NULL, &err);
    if (buffer) err = clEnqueueWriteBuffer(queue, buffer, CL_TRUE, 0, n * sizeof(float), host, 0, NULL, NULL);
  }
  free(host);
  if (err != CL_SUCCESS && buffer) {
    clReleaseMemObject(buffer);
    buffer = NULL;
  }
  return buffer;
}

static int make_buffers(clattn_context *ctx, const bench_case *c, buffers *b) {
  cl_context cl = clattn_context_cl_context(ctx);
  cl_command_queue queue = clattn_context_queue(ctx);
  uint64_t seed = 42;
  size_t nq = (size_t)c->q_heads * c->head_dim, nkv = (size_t)c->kv_heads * c->kv_len * c->head_dim;
  b->q = upload(cl, queue, nq, &seed);
  b->k = upload(cl, queue, nkv, &seed);
  b->v = upload(cl, queue, nkv, &seed);
  b->o = upload(cl, queue, nq, &seed);
  b->kv_bytes = 2 * nkv * sizeof(float);
  return b->q && b->k && b->v && b->o ? 0 : -1;
}

static void free_buffers(buffers *b) {
  cl_mem all[4] = {b->q, b->k, b->v, b->o};
  for (int i = 0; i < 4; i++)
    if (all[i]) clReleaseMemObject(all[i]);
}

/* Runs one call and returns its device time (profiling events of the enqueued kernels are
 * not all visible through one event, so wall time around a finished queue is used). */
static int run_once(clattn_context *ctx, const bench_case *c, const buffers *b, int splits,
                    double *seconds) {
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = 1;
  desc.q_heads = c->q_heads;
  desc.kv_heads = c->kv_heads;
  desc.q_len = 1;
  desc.kv_len = c->kv_len;
  desc.head_dim = c->head_dim;
  desc.causal = 1;
  desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  desc.kv_splits = splits;
  clattn_tensor q = clattn_tensor_contiguous(b->q, CLATTN_F32, CLATTN_LAYOUT_BHSD, c->q_heads, 1, c->head_dim, 0);
  clattn_tensor k = clattn_tensor_contiguous(b->k, CLATTN_F32, CLATTN_LAYOUT_BHSD, c->kv_heads, c->kv_len, c->head_dim, 0);
  clattn_tensor v = clattn_tensor_contiguous(b->v, CLATTN_F32, CLATTN_LAYOUT_BHSD, c->kv_heads, c->kv_len, c->head_dim, 0);
  clattn_tensor o = clattn_tensor_contiguous(b->o, CLATTN_F32, CLATTN_LAYOUT_BHSD, c->q_heads, 1, c->head_dim, 0);
  cl_command_queue queue = clattn_context_queue(ctx);
  clFinish(queue);
  double start = bench_now();
  clattn_status status = clattn_attention_forward(ctx, NULL, &desc, &q, &k, &v, &o, NULL, 0, NULL, NULL);
  clFinish(queue);
  *seconds = bench_now() - start;
  if (status != CLATTN_SUCCESS) {
    fprintf(stderr, "bench_decode: %s: %s\n", clattn_status_name(status), clattn_last_error(ctx));
    return -1;
  }
  return 0;
}

static int read_output(clattn_context *ctx, const bench_case *c, const buffers *b, float *out) {
  return clEnqueueReadBuffer(clattn_context_queue(ctx), b->o, CL_TRUE, 0,
                             (size_t)c->q_heads * c->head_dim * sizeof(float), out, 0, NULL,
                             NULL) == CL_SUCCESS ? 0 : -1;
}

/* Runs `repeats` rounds, each a triad measurement (one run, 96 MiB) right before one decode
 * call, so that both see the same machine load; reports the medians of the decode times and
 * of the per-round ratios to the triad bandwidth. */
typedef struct measured {
  double median_s, low_s, high_s; /* decode wall time */
  double median_ratio;            /* K+V bandwidth / triad bandwidth of the same round */
  double median_triad;            /* GB/s */
} measured;

static int measure(clattn_context *ctx, const bench_case *c, const buffers *b, int splits,
                   int repeats, measured *m) {
  double times[64], ratios[64], triads[64], seconds;
  if (run_once(ctx, c, b, splits, &seconds) != 0) return -1; /* warm-up */
  for (int r = 0; r < repeats; r++) {
    clattn_ceilings ceil;
    if (clattn_measure_ceilings(ctx, NULL, 1, 0, &ceil) != CLATTN_SUCCESS) return -1;
    if (run_once(ctx, c, b, splits, &times[r]) != 0) return -1;
    triads[r] = ceil.triad_gbps;
    ratios[r] = (double)b->kv_bytes / times[r] * 1e-9 / ceil.triad_gbps;
  }
  m->median_s = bench_sort_median(times, repeats);
  m->low_s = times[0];
  m->high_s = times[repeats - 1];
  m->median_ratio = bench_sort_median(ratios, repeats);
  m->median_triad = bench_sort_median(triads, repeats);
  return 0;
}

static int run_case(clattn_context *ctx, const bench_case *c, int repeats) {
  buffers b = {NULL, NULL, NULL, NULL, 0};
  size_t n_out = (size_t)c->q_heads * c->head_dim;
  float *split_out = malloc(n_out * sizeof(float)), *fused_out = malloc(n_out * sizeof(float));
  int rc = (!split_out || !fused_out || make_buffers(ctx, c, &b) != 0) ? -1 : 0;
  measured m[2];
  const int modes[2] = {0, 1};
  for (int i = 0; rc == 0 && i < 2; i++) {
    rc = measure(ctx, c, &b, modes[i], repeats, &m[i]);
    if (rc == 0) rc = read_output(ctx, c, &b, i == 0 ? split_out : fused_out);
  }
  if (rc == 0) {
    double err = bench_max_rel_error(split_out, fused_out, n_out);
    const char *names[2] = {"split-KV (auto)", "one-pass fused"};
    for (int i = 0; i < 2; i++)
      printf("Hq=%-3d Hkv=%-3d Skv=%-6d %-16s %8.3f ms  (%.3f-%.3f)  %6.1f GB/s  %5.1f%% of triad "
             "(triad %.1f GB/s)%s\n",
             c->q_heads, c->kv_heads, c->kv_len, names[i], m[i].median_s * 1e3, m[i].low_s * 1e3,
             m[i].high_s * 1e3, (double)b.kv_bytes / m[i].median_s * 1e-9,
             100.0 * m[i].median_ratio, m[i].median_triad,
             i == 0 && err > 1e-4 ? "  ! mismatch" : "");
    printf("  split vs one-pass: max rel difference %.1e; K+V = %.1f MB read once\n", err,
           (double)b.kv_bytes * 1e-6);
    if (err > 1e-4) rc = -1;
  }
  free_buffers(&b);
  free(split_out);
  free(fused_out);
  return rc;
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 9;
  int kv_len = argc > 2 ? atoi(argv[2]) : 4096;
  if (repeats < 5 || repeats > 64 || kv_len < 128) {
    fprintf(stderr, "usage: bench_decode [repeats 5..64] [skv >= 128]\n");
    return 2;
  }
  clattn_context *ctx = NULL;
  clattn_status status = clattn_context_create(NULL, &ctx);
  if (status != CLATTN_SUCCESS) {
    fprintf(stderr, "bench_decode: %s: %s\n", clattn_status_name(status), clattn_last_error(NULL));
    return 1;
  }
  clattn_device_info info;
  clattn_context_device_info(ctx, &info);
  int rc = 0;
  printf("device    %s (%u compute units), %s\n", info.name, info.compute_units, info.driver_version);
  const bench_case cases[2] = {{32, 32, kv_len, 128}, {32, 8, kv_len, 128}};
  for (int i = 0; rc == 0 && i < 2; i++) rc = run_case(ctx, &cases[i], repeats) ? 1 : 0;
  if (rc == 0)
    printf("method    %d rounds per line after a warm-up, each a triad run (96 MiB) then one decode "
           "call;\n          medians of the wall times and of the per-round ratios; fp32, B=1, "
           "Sq=1, D=128, causal bottom-right\n",
           repeats);
  else
    fprintf(stderr, "bench_decode: failed: %s\n", clattn_last_error(ctx));
  clattn_context_destroy(ctx);
  return rc;
}
