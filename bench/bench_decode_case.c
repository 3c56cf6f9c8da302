#include "bench_decode_case.h"

#include <stdio.h>
#include <stdlib.h>

#include "bench_util.h"

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

static int make_buffers(clattn_context *ctx, const bench_decode_case *c, buffers *b) {
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

/* The seconds between two profiling timestamps: the end of `from` and the end of `to`. */
static double event_span(cl_event from, cl_event to) {
  cl_ulong start = 0, end = 0;
  if (clGetEventProfilingInfo(from, CL_PROFILING_COMMAND_END, sizeof start, &start, NULL) != CL_SUCCESS ||
      clGetEventProfilingInfo(to, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) != CL_SUCCESS ||
      end < start)
    return -1.0;
  return (double)(end - start) * 1e-9;
}

/* Runs one call and returns two times: the wall time around the finished call (what the
 * application waits, host enqueue and wake-ups included) and the device span, from a marker
 * enqueued right before the call to the end of its last command (the same clock as the
 * triad's profiled kernel time; the call's commands are not all visible through its one
 * event, hence the marker). */
static int run_once(clattn_context *ctx, const bench_decode_case *c, const buffers *b, int splits,
                    double *seconds, double *device_seconds) {
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
  cl_event before = NULL, done = NULL;
  clFinish(queue);
  double start = bench_now();
  cl_int err = clEnqueueMarkerWithWaitList(queue, 0, NULL, &before);
  clattn_status status = err == CL_SUCCESS
      ? clattn_attention_forward(ctx, NULL, &desc, &q, &k, &v, &o, NULL, 0, NULL, &done)
      : CLATTN_OPENCL_ERROR;
  clFinish(queue);
  *seconds = bench_now() - start;
  *device_seconds = status == CLATTN_SUCCESS ? event_span(before, done) : -1.0;
  if (before) clReleaseEvent(before);
  if (done) clReleaseEvent(done);
  if (status != CLATTN_SUCCESS || *device_seconds < 0.0) {
    fprintf(stderr, "bench_decode: %s: %s\n", clattn_status_name(status),
            err != CL_SUCCESS ? "clEnqueueMarkerWithWaitList failed"
            : status != CLATTN_SUCCESS ? clattn_last_error(ctx) : "no profiling timestamps");
    return -1;
  }
  return 0;
}

static int read_output(clattn_context *ctx, const bench_decode_case *c, const buffers *b, float *out) {
  return clEnqueueReadBuffer(clattn_context_queue(ctx), b->o, CL_TRUE, 0,
                             (size_t)c->q_heads * c->head_dim * sizeof(float), out, 0, NULL,
                             NULL) == CL_SUCCESS ? 0 : -1;
}

/* Runs `repeats` rounds, each a triad measurement (one run, 96 MiB) right before one decode
 * call, so that both see the same machine load; reports the medians of the decode times and
 * of the per-round ratios to the triad bandwidth. */

static int measure(clattn_context *ctx, const bench_decode_case *c, const buffers *b, int splits,
                   int repeats, bench_decode_measured *m) {
  double times[BENCH_DECODE_MAX_REPEATS], ratios[BENCH_DECODE_MAX_REPEATS];
  double device[BENCH_DECODE_MAX_REPEATS], device_ratios[BENCH_DECODE_MAX_REPEATS];
  double triads[BENCH_DECODE_MAX_REPEATS], seconds, device_seconds;
  if (run_once(ctx, c, b, splits, &seconds, &device_seconds) != 0) return -1; /* warm-up */
  for (int r = 0; r < repeats; r++) {
    clattn_ceilings ceil;
    if (clattn_measure_ceilings(ctx, NULL, 1, 0, &ceil) != CLATTN_SUCCESS) return -1;
    if (run_once(ctx, c, b, splits, &times[r], &device[r]) != 0) return -1;
    triads[r] = ceil.triad_gbps;
    ratios[r] = (double)b->kv_bytes / times[r] * 1e-9 / ceil.triad_gbps;
    device_ratios[r] = (double)b->kv_bytes / device[r] * 1e-9 / ceil.triad_gbps;
    if (getenv("BENCH_DECODE_TRACE"))
      fprintf(stderr, "round %d: triad %.1f GB/s, wall %.3f ms, device span %.3f ms, ratio %.2f\n",
              r, ceil.triad_gbps, times[r] * 1e3, device[r] * 1e3, ratios[r]);
  }
  m->median_s = bench_sort_median(times, repeats);
  m->low_s = times[0];
  m->high_s = times[repeats - 1];
  m->median_ratio = bench_sort_median(ratios, repeats);
  m->device_median_s = bench_sort_median(device, repeats);
  m->device_median_ratio = bench_sort_median(device_ratios, repeats);
  m->median_triad = bench_sort_median(triads, repeats);
  return 0;
}

const char *bench_decode_mode_name(int mode) {
  return mode == 0 ? "split-KV (auto)" : "one-pass fused";
}

int bench_decode_run(clattn_context *ctx, const bench_decode_case *c, int repeats,
                     bench_decode_result *r) {
  buffers b = {NULL, NULL, NULL, NULL, 0};
  size_t n_out = (size_t)c->q_heads * c->head_dim;
  float *split_out = malloc(n_out * sizeof(float)), *fused_out = malloc(n_out * sizeof(float));
  int rc = (!split_out || !fused_out || repeats < 1 || repeats > BENCH_DECODE_MAX_REPEATS ||
            make_buffers(ctx, c, &b) != 0) ? -1 : 0;
  for (int i = 0; rc == 0 && i < 2; i++) {
    rc = measure(ctx, c, &b, i, repeats, &r->modes[i]); /* kv_splits 0 (auto), then 1 */
    if (rc == 0) rc = read_output(ctx, c, &b, i == 0 ? split_out : fused_out);
  }
  if (rc == 0) {
    r->kv_bytes = (double)b.kv_bytes;
    r->max_rel_diff = bench_max_rel_error(split_out, fused_out, n_out);
  } else {
    fprintf(stderr, "bench_decode: failed: %s\n", clattn_last_error(ctx));
  }
  free_buffers(&b);
  free(split_out);
  free(fused_out);
  return rc;
}
