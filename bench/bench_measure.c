#include "bench_measure.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"

/* A run whose first call takes longer than this (profiled) counts as slow: the first call is
 * its only warm-up, and it gets at most BENCH_SLOW_RUNS timed runs unless --repeats says so. */
#define BENCH_SLOW_SECONDS 1.0
#define BENCH_SLOW_RUNS 5
/* Q and K values are uniform in +-3, so scores have a standard deviation of 3: softmax
 * weights are far from uniform and a wrong kernel cannot pass by averaging V. */
#define BENCH_QK_AMPLITUDE 3.0f

/* Host and device copies of one case's tensors; each path writes its own output. */
typedef struct bench_data {
  size_t elems; /* of each of Q, K, V, O */
  float *q, *k, *v, *fused_out, *other_out;
  cl_mem dq, dk, dv, dout[BENCH_IMPLS];
} bench_data;

static void bench_data_release(bench_data *data) {
  cl_mem buffers[3 + BENCH_IMPLS] = {data->dq, data->dk, data->dv};
  memcpy(buffers + 3, data->dout, sizeof data->dout);
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; ++i) {
    if (buffers[i] != NULL) {
      clReleaseMemObject(buffers[i]);
    }
  }
  free(data->q);
  free(data->k);
  free(data->v);
  free(data->fused_out);
  free(data->other_out);
  memset(data, 0, sizeof *data);
}

static int bench_host_create(const bench_shape *s, bench_data *data, char *error, size_t cap) {
  memset(data, 0, sizeof *data);
  data->elems = (size_t)s->batch * (size_t)s->heads * (size_t)s->seq * (size_t)s->dim;
  size_t bytes = data->elems * sizeof(float);
  data->q = malloc(bytes);
  data->k = malloc(bytes);
  data->v = malloc(bytes);
  data->fused_out = malloc(bytes);
  data->other_out = malloc(bytes);
  if (!data->q || !data->k || !data->v || !data->fused_out || !data->other_out) {
    snprintf(error, cap, "out of host memory (5 x %zu bytes)", bytes);
    return -1;
  }
  uint64_t seed = 0x5eed0000u + (uint64_t)s->seq;
  bench_fill_uniform(data->q, data->elems, BENCH_QK_AMPLITUDE, &seed);
  bench_fill_uniform(data->k, data->elems, BENCH_QK_AMPLITUDE, &seed);
  bench_fill_uniform(data->v, data->elems, 1.0f, &seed);
  return 0;
}

/* Creates a device buffer of one tensor, uploading `host` unless it is NULL. */
static int bench_buffer(clattn_context *ctx, const bench_data *data, const float *host,
                        cl_mem *buffer, char *error, size_t cap) {
  size_t bytes = data->elems * sizeof(float);
  cl_int err = CL_SUCCESS;
  *buffer = clCreateBuffer(clattn_context_cl_context(ctx), CL_MEM_READ_WRITE, bytes, NULL, &err);
  if (err == CL_SUCCESS && host != NULL) {
    err = clEnqueueWriteBuffer(clattn_context_queue(ctx), *buffer, CL_TRUE, 0, bytes, host, 0,
                               NULL, NULL);
  }
  if (err != CL_SUCCESS) {
    snprintf(error, cap, "creating a %zu-byte buffer: %s", bytes, clattn_cl_error_name(err));
    return -1;
  }
  return 0;
}

/* Fills an output with NaN, so that any element a path fails to write fails the check. */
static int bench_poison(clattn_context *ctx, cl_mem buffer, size_t bytes, char *error,
                        size_t cap) {
  const cl_float nan_value = NAN;
  cl_command_queue queue = clattn_context_queue(ctx);
  cl_int err = clEnqueueFillBuffer(queue, buffer, &nan_value, sizeof nan_value, 0, bytes, 0,
                                   NULL, NULL);
  if (err == CL_SUCCESS) {
    err = clFinish(queue);
  }
  if (err != CL_SUCCESS) {
    snprintf(error, cap, "clEnqueueFillBuffer: %s", clattn_cl_error_name(err));
    return -1;
  }
  return 0;
}

/* Resident set size of this process in bytes, or -1 where /proc is not available. On a CPU
 * OpenCL device, device buffers are host memory, so this shows what a path really used. */
static long bench_rss(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long size = 0, resident = -1;
  if (f != NULL) {
    if (fscanf(f, "%ld %ld", &size, &resident) != 2) {
      resident = -1;
    }
    fclose(f);
  }
  return resident < 0 ? -1 : resident * sysconf(_SC_PAGESIZE);
}

/* One forward pass to completion: profiled seconds per kernel and in all, and wall time. */
static int bench_run_once(bench_path *path, double *kernel_s, double *total_s, double *wall_s,
                          char *error, size_t cap) {
  cl_event events[BENCH_MAX_KERNELS];
  cl_command_queue queue = clattn_context_queue(path->ctx);
  double t0 = bench_now();
  if (bench_path_enqueue(path, events, error, cap) != 0) {
    return -1;
  }
  cl_int err = clFinish(queue);
  *wall_s = bench_now() - t0;
  *total_s = 0.0;
  for (int i = 0; i < path->kernel_count; ++i) {
    if (err == CL_SUCCESS) {
      err = bench_event_seconds(events[i], &kernel_s[i]);
      *total_s += kernel_s[i];
    }
    clReleaseEvent(events[i]);
  }
  if (err != CL_SUCCESS) {
    snprintf(error, cap, "running %s: %s", bench_impl_name(path->impl), clattn_cl_error_name(err));
    return -1;
  }
  return 0;
}

/* How clattn obtained its program in the first call, from its cache counters. */
static void bench_origin(const clattn_cache_stats *before, const clattn_cache_stats *after,
                         char *out, size_t cap) {
  const char *origin = "memory cache";
  if (after->builds > before->builds) {
    origin = "compiled";
  } else if (after->disk_hits > before->disk_hits) {
    origin = "disk cache";
  } else if (after->prebuilt_loads > before->prebuilt_loads) {
    origin = "prebuilt";
  }
  snprintf(out, cap, "%s", origin);
}

/* One path's state while a case runs: its kernels and the per-run figures. */
typedef struct bench_slot {
  bench_path path;
  int active; /* started and not failed */
  double per_kernel[BENCH_MAX_KERNELS][BENCH_MAX_RUNS];
  double walls[BENCH_MAX_RUNS];
} bench_slot;

/* Setup (building the comparison program), first call and warm-up; decides the number of
 * timed runs. */
static int bench_start(bench_slot *slot, bench_impl impl, clattn_context *ctx,
                       const bench_shape *shape, const bench_data *data,
                       const bench_measure_options *options, bench_result *r) {
  double kernel_s[BENCH_MAX_KERNELS], first_s = 0.0, wall_s = 0.0;
  clattn_cache_stats before, after;
  size_t cap = sizeof r->note;
  memset(&before, 0, sizeof before);
  memset(&after, 0, sizeof after);
  clattn_context_cache_stats(ctx, &before);
  double t0 = bench_now();
  if (bench_path_setup(&slot->path, impl, ctx, shape, data->dq, data->dk, data->dv,
                       data->dout[impl], r->note, cap) != 0 ||
      bench_run_once(&slot->path, kernel_s, &first_s, &wall_s, r->note, cap) != 0) {
    return -1;
  }
  r->first_call_s = bench_now() - t0;
  clattn_context_cache_stats(ctx, &after);
  snprintf(r->config, sizeof r->config, "%s", slot->path.config);
  if (impl == BENCH_FUSED) {
    bench_origin(&before, &after, r->first_origin, sizeof r->first_origin);
  } else {
    snprintf(r->first_origin, sizeof r->first_origin, "built");
  }
  int slow = first_s > BENCH_SLOW_SECONDS;
  r->warmups = slow ? 0 : 1;
  r->runs = options->repeats;
  if (slow && !options->repeats_explicit && r->runs > BENCH_SLOW_RUNS) {
    r->runs = BENCH_SLOW_RUNS;
  }
  for (int i = 0; i < r->warmups; ++i) {
    if (bench_run_once(&slot->path, kernel_s, &first_s, &wall_s, r->note, cap) != 0) {
      return -1;
    }
  }
  slot->active = 1;
  return 0;
}

/* Timed run number `round` of a started path. */
static int bench_round(bench_slot *slot, int round, bench_result *r) {
  double kernel_s[BENCH_MAX_KERNELS];
  if (bench_run_once(&slot->path, kernel_s, &r->times[round], &slot->walls[round], r->note,
                     sizeof r->note) != 0) {
    return -1;
  }
  for (int k = 0; k < slot->path.kernel_count; ++k) {
    slot->per_kernel[k][round] = kernel_s[k];
  }
  return 0;
}

/* Medians and spread of a path's timed runs. */
static void bench_summarise(bench_slot *slot, bench_result *r) {
  r->median_s = bench_sort_median(r->times, r->runs);
  r->wall_median_s = bench_sort_median(slot->walls, r->runs);
  for (int k = 0; k < slot->path.kernel_count; ++k) {
    r->kernel_median[k] = bench_sort_median(slot->per_kernel[k], r->runs);
  }
  if (r->wall_median_s > 0.05 && r->median_s < 0.5 * r->wall_median_s) {
    snprintf(r->note, sizeof r->note, "warning: profiled time %.1f ms is under half the wall "
             "time %.1f ms; the events may not cover all the work", r->median_s * 1e3,
             r->wall_median_s * 1e3);
  }
}

/* max relative error of the fused output against an fp64 host reference on a few rows (the
 * first, one in the middle and the last, of the first and the last head). */
static double bench_reference_error(const bench_shape *s, const bench_data *data) {
  size_t bh_count = (size_t)s->batch * (size_t)s->heads, dim = (size_t)s->dim;
  size_t heads[2] = {0, bh_count - 1};
  int rows[3] = {0, s->seq / 3, s->seq - 1};
  double diff = 0.0, scale = 0.0, inv_sqrt = 1.0 / sqrt((double)s->dim);
  double *acc = calloc(dim, sizeof *acc);
  double *scores = malloc((size_t)s->seq * sizeof *scores);
  if (acc == NULL || scores == NULL) {
    free(acc);
    free(scores);
    return INFINITY;
  }
  for (int h = 0; h < 2; ++h) {
    size_t base = heads[h] * (size_t)s->seq * dim;
    for (int ri = 0; ri < 3; ++ri) {
      int i = rows[ri], end = s->causal ? i + 1 : s->seq;
      const float *q = data->q + base + (size_t)i * dim;
      double m = -INFINITY, l = 0.0;
      for (int j = 0; j < end; ++j) {
        const float *k = data->k + base + (size_t)j * dim;
        double dot = 0.0;
        for (size_t d = 0; d < dim; ++d) {
          dot += (double)q[d] * (double)k[d];
        }
        scores[j] = dot * inv_sqrt;
        m = scores[j] > m ? scores[j] : m;
      }
      memset(acc, 0, dim * sizeof *acc);
      for (int j = 0; j < end; ++j) {
        double p = exp(scores[j] - m);
        const float *v = data->v + base + (size_t)j * dim;
        l += p;
        for (size_t d = 0; d < dim; ++d) {
          acc[d] += p * (double)v[d];
        }
      }
      const float *o = data->fused_out + base + (size_t)i * dim;
      for (size_t d = 0; d < dim; ++d) {
        double ref = acc[d] / l, e = fabs((double)o[d] - ref);
        diff = isnan(e) || e > diff ? (isnan(e) ? INFINITY : e) : diff;
        scale = fabs(ref) > scale ? fabs(ref) : scale;
      }
    }
  }
  free(acc);
  free(scores);
  return scale > 0.0 ? diff / scale : (diff == 0.0 ? 0.0 : INFINITY);
}

/* Reads the path's output and compares it; sets checked, max_rel_error and mismatch. */
static int bench_check(clattn_context *ctx, bench_impl impl, const bench_shape *shape,
                       bench_data *data, const bench_result *fused, bench_result *r) {
  cl_mem buffer = data->dout[impl];
  float *host = impl == BENCH_FUSED ? data->fused_out : data->other_out;
  cl_int err = clEnqueueReadBuffer(clattn_context_queue(ctx), buffer, CL_TRUE, 0,
                                   data->elems * sizeof(float), host, 0, NULL, NULL);
  if (err != CL_SUCCESS) {
    snprintf(r->note, sizeof r->note, "clEnqueueReadBuffer: %s", clattn_cl_error_name(err));
    return -1;
  }
  if (impl == BENCH_FUSED) {
    r->max_rel_error = bench_reference_error(shape, data);
    r->checked = 1;
  } else if (fused->state == BENCH_OK && fused->checked && !fused->mismatch) {
    r->max_rel_error = bench_max_rel_error(host, data->fused_out, data->elems);
    r->checked = 1;
  }
  r->mismatch = !r->checked || !(r->max_rel_error <= BENCH_TOLERANCE);
  if (r->mismatch) {
    if (r->checked) {
      snprintf(r->note, sizeof r->note, "output differs from %s by %.3g (relative), over %g",
               impl == BENCH_FUSED ? "the fp64 reference" : "the fused output",
               r->max_rel_error, BENCH_TOLERANCE);
    } else {
      snprintf(r->note, sizeof r->note, "not checked: the fused output is missing or wrong");
    }
  }
  return 0;
}

/* Decides whether a comparison path is worth running; writes the reason when not. */
static int bench_should_skip(clattn_context *ctx, bench_impl impl, const bench_case *c,
                             double naive_gflops, char *note, size_t cap) {
  clattn_device_info info;
  if (impl == BENCH_NAIVE && c->flops > BENCH_NAIVE_MAX_FLOPS) {
    double rate = naive_gflops > 0.0 ? naive_gflops : 5.0;
    snprintf(note, cap, "%.0f GFLOP per run would take ~%.0f s at the naive kernel's "
             "~%.1f GFLOP/s%s (limit %.0f GFLOP)", c->flops * 1e-9, c->flops * 1e-9 / rate,
             rate, naive_gflops > 0.0 ? " measured above" : "", BENCH_NAIVE_MAX_FLOPS * 1e-9);
    return 1;
  }
  if (impl == BENCH_UNFUSED && clattn_context_device_info(ctx, &info) == CLATTN_SUCCESS) {
    double need = (double)bench_unfused_bytes(&c->shape);
    if (need > (double)info.max_mem_alloc_size || need > 0.5 * (double)info.global_mem_size) {
      snprintf(note, cap, "the score matrix needs %.1f GiB; the device allows %.1f GiB per "
               "buffer and has %.1f GiB in all", need / 1073741824.0,
               (double)info.max_mem_alloc_size / 1073741824.0,
               (double)info.global_mem_size / 1073741824.0);
      return 1;
    }
  }
  return 0;
}

/* Fails every path of a case that has not finished with the same message. */
static void bench_fail_case(bench_case *c, const char *message) {
  for (int i = 0; i < BENCH_IMPLS; ++i) {
    bench_result *r = &c->results[i];
    if (r->state == BENCH_NOT_RUN) {
      r->state = BENCH_FAILED;
      snprintf(r->note, sizeof r->note, "%s", message);
    }
  }
}

/* Starts each path in turn, fused first, so that the memory it needs (counted from
 * rss_before, taken before Q, K and V went to the device) is known before the others
 * allocate theirs. */
static void bench_start_all(clattn_context *ctx, const bench_measure_options *options,
                            bench_case *c, bench_data *data, bench_slot *slots,
                            double naive_gflops, long rss_before) {
  for (int i = 0; i < BENCH_IMPLS; ++i) {
    bench_impl impl = (bench_impl)i;
    bench_result *r = &c->results[i];
    if (impl != BENCH_FUSED &&
        bench_should_skip(ctx, impl, c, naive_gflops, r->note, sizeof r->note)) {
      r->state = BENCH_SKIPPED;
      continue;
    }
    fprintf(stderr, "bench_attention: %s: starting %s\n", c->name, bench_impl_name(impl));
    size_t bytes = data->elems * sizeof(float);
    if (bench_buffer(ctx, data, NULL, &data->dout[i], r->note, sizeof r->note) != 0 ||
        bench_poison(ctx, data->dout[i], bytes, r->note, sizeof r->note) != 0 ||
        bench_start(&slots[i], impl, ctx, &c->shape, data, options, r) != 0) {
      r->state = BENCH_FAILED;
    }
    long rss_after = impl == BENCH_FUSED && rss_before >= 0 ? bench_rss() : -1;
    if (rss_after >= 0) {
      c->rss_growth = rss_after > rss_before ? rss_after - rss_before : 0;
    }
  }
}

int bench_case_run(clattn_context *ctx, const bench_measure_options *options, bench_case *c,
                   double *naive_gflops) {
  static bench_slot slots[BENCH_IMPLS];
  bench_data data;
  char error[1024] = "";
  int failed = 0, rounds = 0;
  memset(slots, 0, sizeof slots);
  c->rss_growth = -1;
  c->fused_bytes = 4 * (size_t)c->shape.batch * (size_t)c->shape.heads *
                   (size_t)c->shape.seq * (size_t)c->shape.dim * sizeof(float);
  int host_ok = bench_host_create(&c->shape, &data, error, sizeof error) == 0;
  long rss_before = host_ok ? bench_rss() : -1;
  if (!host_ok ||
      bench_buffer(ctx, &data, data.q, &data.dq, error, sizeof error) != 0 ||
      bench_buffer(ctx, &data, data.k, &data.dk, error, sizeof error) != 0 ||
      bench_buffer(ctx, &data, data.v, &data.dv, error, sizeof error) != 0) {
    bench_fail_case(c, error);
    bench_data_release(&data);
    return 1;
  }
  bench_start_all(ctx, options, c, &data, slots, *naive_gflops, rss_before);
  for (int i = 0; i < BENCH_IMPLS; ++i) {
    rounds = slots[i].active && c->results[i].runs > rounds ? c->results[i].runs : rounds;
  }
  /* Timed runs go round-robin over the paths, so that a change in the machine's load
   * during the case affects all of them alike and their ratios stay fair. */
  if (rounds > 0) {
    fprintf(stderr, "bench_attention: %s: %d timed rounds\n", c->name, rounds);
  }
  for (int round = 0; round < rounds; ++round) {
    for (int i = 0; i < BENCH_IMPLS; ++i) {
      if (slots[i].active && round < c->results[i].runs &&
          bench_round(&slots[i], round, &c->results[i]) != 0) {
        slots[i].active = 0;
        c->results[i].state = BENCH_FAILED;
      }
    }
  }
  for (int i = 0; i < BENCH_IMPLS; ++i) {
    bench_impl impl = (bench_impl)i;
    bench_result *r = &c->results[i];
    if (slots[i].active) {
      bench_summarise(&slots[i], r);
      r->state = bench_check(ctx, impl, &c->shape, &data, &c->results[BENCH_FUSED], r) == 0
                     ? BENCH_OK
                     : BENCH_FAILED;
    }
    failed |= r->state == BENCH_FAILED || (r->state == BENCH_OK && r->mismatch);
    if (impl == BENCH_NAIVE && r->state == BENCH_OK) {
      *naive_gflops = bench_gflops(c, r->median_s);
    }
    if (r->state == BENCH_FAILED || (r->state == BENCH_OK && r->mismatch)) {
      fprintf(stderr, "bench_attention: %s %s: %s%s\n", c->name, bench_impl_name(impl),
              r->state == BENCH_FAILED ? "FAILED: " : "ERROR: ", r->note);
    }
    bench_path_release(&slots[i].path);
  }
  bench_data_release(&data);
  return failed;
}
