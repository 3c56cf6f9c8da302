/* Measuring the device's ceilings with cl/ceiling.cl: FMA throughput and triad bandwidth,
 * the yardsticks every benchmark figure is divided by. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "errors.h"
#include "program.h"
#include "variants.h"

#define FMA_A 0.999f
#define FMA_B 0.001f
#define TRIAD_SCALE 3.0f

typedef struct run_plan {
  clattn_context *ctx;
  cl_command_queue queue;
  int repeats;
  int vec, chains;
  size_t local; /* work-group size both kernels use */
} run_plan;

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *values, int n) {
  qsort(values, (size_t)n, sizeof *values, compare_doubles);
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

/* Runs a 1-D kernel once and returns its device time in seconds (from profiling events). */
static clattn_status timed_run(run_plan *plan, cl_kernel kernel, size_t global, double *seconds) {
  cl_event event = NULL;
  cl_int err = clEnqueueNDRangeKernel(plan->queue, kernel, 1, NULL, &global, &plan->local, 0,
                                      NULL, &event);
  if (err != CL_SUCCESS) return clattn__fail_cl(plan->ctx, err, "clEnqueueNDRangeKernel", "ceiling kernel");
  err = clWaitForEvents(1, &event);
  cl_ulong start = 0, end = 0;
  if (err == CL_SUCCESS)
    err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL);
  if (err == CL_SUCCESS)
    err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
  clReleaseEvent(event);
  if (err != CL_SUCCESS) return clattn__fail_cl(plan->ctx, err, "clGetEventProfilingInfo", "ceiling kernel");
  *seconds = (double)(end - start) * 1e-9;
  return CLATTN_SUCCESS;
}

/* The sum one fma_peak work-item produces, computed on the host the same way. */
static double expected_fma_sum(const run_plan *plan, size_t gid, int iters) {
  float sum = 0.0f;
  for (int c = 0; c < plan->chains; c++) {
    float lanes = 0.0f;
    for (int l = 0; l < plan->vec; l++) {
      float x = (float)(gid % 1024) * 1e-3f + (float)(c * plan->vec + l);
      for (int i = 0; i < iters; i++) x = fmaf(x, FMA_A, FMA_B);
      lanes += x;
    }
    sum += lanes;
  }
  return sum;
}

static clattn_status check_fma(run_plan *plan, cl_mem out, size_t global, int iters) {
  float first_last[2];
  cl_int err = clEnqueueReadBuffer(plan->queue, out, CL_TRUE, 0, sizeof(float), &first_last[0], 0, NULL, NULL);
  if (err == CL_SUCCESS)
    err = clEnqueueReadBuffer(plan->queue, out, CL_TRUE, (global - 1) * sizeof(float), sizeof(float),
                              &first_last[1], 0, NULL, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(plan->ctx, err, "clEnqueueReadBuffer", "fma_peak result");
  size_t gids[2] = {0, global - 1};
  for (int i = 0; i < 2; i++) {
    double want = expected_fma_sum(plan, gids[i], iters);
    if (!(fabs(first_last[i] - want) <= 1e-5 * fabs(want)))
      return clattn__fail(plan->ctx, CLATTN_INTERNAL,
                          "fma_peak computed %.9g for work-item %zu, expected %.9g", first_last[i],
                          gids[i], want);
  }
  return CLATTN_SUCCESS;
}

/* Grows the iteration count until one run takes at least 20 ms, so timer resolution and
 * launch overhead stay negligible; checks the first (cheap) run's result. */
static clattn_status measure_fma(run_plan *plan, cl_kernel kernel, cl_mem out, size_t global,
                                 double *gflops) {
  int iters = 256;
  double seconds = 0.0, samples[64];
  clattn_status status = CLATTN_SUCCESS;
  for (int attempt = 0; status == CLATTN_SUCCESS && attempt < 8; attempt++) {
    clSetKernelArg(kernel, 1, sizeof iters, &iters);
    status = timed_run(plan, kernel, global, &seconds);
    if (status == CLATTN_SUCCESS && attempt == 0) status = check_fma(plan, out, global, iters);
    if (seconds >= 0.02) break;
    double grow = seconds > 0 ? 0.04 / seconds : 64.0;
    iters = (int)fmin((double)iters * fmin(grow, 64.0), 1 << 28);
  }
  for (int r = 0; status == CLATTN_SUCCESS && r < plan->repeats; r++) {
    status = timed_run(plan, kernel, global, &seconds);
    samples[r] = (double)global * iters * plan->chains * plan->vec * 2.0 / seconds * 1e-9;
  }
  if (status == CLATTN_SUCCESS) *gflops = median(samples, plan->repeats);
  return status;
}

static clattn_status run_fma(run_plan *plan, cl_program program, double *gflops) {
  cl_kernel kernel = NULL;
  cl_mem out = NULL;
  const clattn_device_info *info = &plan->ctx->info;
  size_t groups = (size_t)info->compute_units * ((info->type & CL_DEVICE_TYPE_CPU) ? 4 : 16);
  size_t global = groups * plan->local;
  float a = FMA_A, b = FMA_B;
  cl_int err;
  clattn_status status = clattn__kernel_create(plan->ctx, program, "fma_peak", &kernel);
  if (status != CLATTN_SUCCESS) goto cleanup;
  out = clCreateBuffer(plan->ctx->cl_ctx, CL_MEM_WRITE_ONLY, global * sizeof(float), NULL, &err);
  if (!out) {
    status = clattn__fail_cl(plan->ctx, err, "clCreateBuffer", "fma_peak output");
    goto cleanup;
  }
  clSetKernelArg(kernel, 0, sizeof out, &out);
  clSetKernelArg(kernel, 2, sizeof a, &a);
  clSetKernelArg(kernel, 3, sizeof b, &b);
  status = measure_fma(plan, kernel, out, global, gflops);
cleanup:
  if (out) clReleaseMemObject(out);
  if (kernel) clReleaseKernel(kernel);
  return status;
}

/* Fills b and c with small integers and halves, whose triad results are exact in fp32
 * with or without FMA contraction, so the check can demand equality. */
static void triad_inputs(float *b, float *c, size_t n) {
  for (size_t i = 0; i < n; i++) {
    b[i] = (float)(i % 4096);
    c[i] = (float)(i % 1000) * 0.5f;
  }
}

static clattn_status check_triad(run_plan *plan, cl_mem a, const float *b, const float *c,
                                 float *host, size_t n) {
  cl_int err = clEnqueueReadBuffer(plan->queue, a, CL_TRUE, 0, n * sizeof(float), host, 0, NULL, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(plan->ctx, err, "clEnqueueReadBuffer", "triad result");
  for (size_t i = 0; i < n; i++)
    if (host[i] != b[i] + TRIAD_SCALE * c[i])
      return clattn__fail(plan->ctx, CLATTN_INTERNAL, "triad computed %g at %zu, expected %g",
                          host[i], i, b[i] + TRIAD_SCALE * c[i]);
  return CLATTN_SUCCESS;
}

static clattn_status run_triad(run_plan *plan, cl_program program, size_t bytes, double *gbps) {
  cl_kernel kernel = NULL;
  cl_mem buffers[3] = {NULL, NULL, NULL};
  size_t per_array = bytes / 3;
  if (per_array > plan->ctx->info.max_mem_alloc_size) per_array = plan->ctx->info.max_mem_alloc_size;
  size_t unit = (size_t)plan->vec * plan->local; /* floats per work-group */
  size_t n = per_array / sizeof(float) / unit * unit;
  float *host = malloc(3 * (n ? n : 1) * sizeof(float));
  double samples[64];
  cl_int err = CL_SUCCESS;
  clattn_status status = CLATTN_SUCCESS;
  if (n == 0) status = clattn__fail(plan->ctx, CLATTN_INVALID_ARGUMENT, "triad_bytes is too small");
  else if (!host) status = clattn__fail(plan->ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  if (status != CLATTN_SUCCESS) goto cleanup;
  triad_inputs(host + n, host + 2 * n, n);
  for (int i = 0; i < 3 && err == CL_SUCCESS; i++)
    buffers[i] = clCreateBuffer(plan->ctx->cl_ctx, i ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR : CL_MEM_WRITE_ONLY,
                                n * sizeof(float), i ? host + i * n : NULL, &err);
  if (err != CL_SUCCESS) {
    status = clattn__fail_cl(plan->ctx, err, "clCreateBuffer", "triad arrays of %zu bytes", n * sizeof(float));
    goto cleanup;
  }
  status = clattn__kernel_create(plan->ctx, program, "triad", &kernel);
  if (status != CLATTN_SUCCESS) goto cleanup;
  float scale = TRIAD_SCALE;
  for (int i = 0; i < 3; i++) clSetKernelArg(kernel, (cl_uint)i, sizeof(cl_mem), &buffers[i]);
  clSetKernelArg(kernel, 3, sizeof scale, &scale);
  double seconds;
  status = timed_run(plan, kernel, n / (size_t)plan->vec, &seconds); /* warm-up: first touch */
  if (status == CLATTN_SUCCESS) status = check_triad(plan, buffers[0], host + n, host + 2 * n, host, n);
  for (int r = 0; status == CLATTN_SUCCESS && r < plan->repeats; r++) {
    status = timed_run(plan, kernel, n / (size_t)plan->vec, &seconds);
    samples[r] = 3.0 * (double)n * sizeof(float) / seconds * 1e-9;
  }
  if (status == CLATTN_SUCCESS) *gbps = median(samples, plan->repeats);
cleanup:
  for (int i = 0; i < 3; i++)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  if (kernel) clReleaseKernel(kernel);
  free(host);
  return status;
}

static clattn_status check_profiling(clattn_context *ctx, cl_command_queue queue) {
  cl_command_queue_properties properties = 0;
  cl_int err = clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof properties, &properties, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clGetCommandQueueInfo", "queue");
  if (!(properties & CL_QUEUE_PROFILING_ENABLE))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "queue must have CL_QUEUE_PROFILING_ENABLE");
  return CLATTN_SUCCESS;
}

/* One work-group size for both kernels: what the device and both kernels allow, capped
 * (CPU work-groups are loops on one core; larger ones only delay load balancing). */
static clattn_status choose_local(run_plan *plan, cl_program program) {
  size_t cap = (plan->ctx->info.type & CL_DEVICE_TYPE_CPU) ? 16 : 256;
  const char *names[] = {"fma_peak", "triad"};
  for (int i = 0; i < 2; i++) {
    cl_kernel kernel;
    clattn_status status = clattn__kernel_create(plan->ctx, program, names[i], &kernel);
    if (status != CLATTN_SUCCESS) return status;
    size_t limit = 0;
    cl_int err = clGetKernelWorkGroupInfo(kernel, plan->ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                          sizeof limit, &limit, NULL);
    clReleaseKernel(kernel);
    if (err != CL_SUCCESS) return clattn__fail_cl(plan->ctx, err, "clGetKernelWorkGroupInfo", "%s", names[i]);
    if (limit < cap) cap = limit;
  }
  plan->local = cap ? cap : 1;
  return CLATTN_SUCCESS;
}

clattn_status clattn_measure_ceilings(clattn_context *ctx, cl_command_queue queue, int repeats,
                                      size_t triad_bytes, clattn_ceilings *out) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!out) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "out must not be NULL");
  if (repeats < 1 || repeats > 64)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "repeats must be in 1..64, got %d", repeats);
  run_plan plan = {ctx, queue ? queue : ctx->queue, repeats, 0, 0, 1};
  clattn_status status = check_profiling(ctx, plan.queue);
  clattn__variant variant;
  clattn__ceiling_variant(ctx, &variant);
  plan.vec = (int)clattn__defines_get_int(&variant.defines, "VEC", 4);
  plan.chains = (int)clattn__defines_get_int(&variant.defines, "CHAINS", 8);
  cl_program program = NULL;
  if (status == CLATTN_SUCCESS)
    status = clattn__program_get(ctx, variant.file, &variant.defines, &program, NULL);
  if (status == CLATTN_SUCCESS) status = choose_local(&plan, program);
  clattn_ceilings result = {0, 0};
  if (status == CLATTN_SUCCESS) status = run_fma(&plan, program, &result.fma_gflops);
  if (status == CLATTN_SUCCESS)
    status = run_triad(&plan, program, triad_bytes ? triad_bytes : (size_t)96 << 20, &result.triad_gbps);
  if (status == CLATTN_SUCCESS) *out = result;
  return status;
}
