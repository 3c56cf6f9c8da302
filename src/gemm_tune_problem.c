/* One GEMM of the tuner: operands, a run, a check against a double-precision product on
 * sampled entries (and canaries after C), timing. */
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "errors.h"
#include "gemm.h"
#include "gemm_tune.h"

#define SAMPLES 256 /* entries of C checked against the host reference */
#define CANARY_VALUE 1234.5f

double clattn__tune_now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

double clattn__tune_median(double *values, int n) {
  qsort(values, (size_t)n, sizeof *values, compare_doubles);
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

uint64_t clattn__tune_random(uint64_t *state) {
  uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

void clattn__tune_problem_release(problem *p) {
  if (p->a) clReleaseMemObject(p->a);
  if (p->b) clReleaseMemObject(p->b);
  if (p->c) clReleaseMemObject(p->c);
  free(p->ha);
  free(p->hb);
  free(p->hc);
}

clattn_status clattn__tune_problem_create(clattn_context *ctx, int64_t m, int64_t n,
                                          int64_t k, problem *p) {
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->queue = ctx->queue;
  p->m = m;
  p->n = n;
  p->k = k;
  size_t na = (size_t)(m * k), nb = (size_t)(n * k), nc = (size_t)(m * n) + CANARY;
  p->ha = malloc(na * sizeof(float));
  p->hb = malloc(nb * sizeof(float));
  p->hc = malloc(nc * sizeof(float));
  if (!p->ha || !p->hb || !p->hc)
    return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory for the tuning GEMM");
  uint64_t state = 0x2545f4914f6cdd1dull;
  for (size_t i = 0; i < na; i++)
    p->ha[i] = (float)((double)(clattn__tune_random(&state) >> 11) / 4503599627370496.0 - 1.0);
  for (size_t i = 0; i < nb; i++)
    p->hb[i] = (float)((double)(clattn__tune_random(&state) >> 11) / 4503599627370496.0 - 1.0);
  cl_int err = CL_SUCCESS;
  p->a = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, na * sizeof(float),
                        p->ha, &err);
  if (err == CL_SUCCESS)
    p->b = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                          nb * sizeof(float), p->hb, &err);
  if (err == CL_SUCCESS)
    p->c = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, nc * sizeof(float), NULL, &err);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clCreateBuffer",
                           "the tuning GEMM's %lld x %lld x %lld operands", (long long)m,
                           (long long)n, (long long)k);
  return CLATTN_SUCCESS;
}

/* One GEMM of `rows` rows (rows <= m), waited for; wall-clock seconds. */
static clattn_status gemm_run(problem *p, int64_t rows, double *seconds) {
  clattn__matrix a = {p->a, 0, p->k}, b = {p->b, 0, p->k}, c = {p->c, 0, p->n};
  double start = clattn__tune_now();
  clattn_status status = clattn__sgemm(p->ctx, p->queue, rows, p->n, p->k, 1.0f, &a, &b, 1, 0.0f,
                                       &c, 0, NULL, NULL);
  cl_int err = status == CLATTN_SUCCESS ? clFinish(p->queue) : CL_SUCCESS;
  *seconds = clattn__tune_now() - start;
  if (status != CLATTN_SUCCESS) {
    snprintf(p->error, sizeof p->error, "%s", clattn_last_error(p->ctx));
    return status;
  }
  if (err != CL_SUCCESS) {
    status = clattn__fail_cl(p->ctx, err, "clFinish", "after a tuning GEMM");
    snprintf(p->error, sizeof p->error, "%s", clattn_last_error(p->ctx));
  }
  return status;
}

/* Runs the GEMM once on C filled with NaN (and a canary after it) and checks SAMPLES entries
 * against a double-precision host reference, every entry of the canary, and that no sampled
 * entry stayed NaN. Returns 1 when right, 0 when wrong (why in p->error), or -1 when the GEMM
 * failed (build failure, CLBlast error). *first gets the call's wall time (with compilation). */
int clattn__tune_check(problem *p, int64_t rows, double *first) {
  size_t used = (size_t)(rows * p->n), total = (size_t)(p->m * p->n) + CANARY;
  float nan_value = nanf("");
  for (size_t i = 0; i < total; i++) p->hc[i] = i < used ? nan_value : CANARY_VALUE;
  cl_int err = clEnqueueWriteBuffer(p->queue, p->c, CL_TRUE, 0, total * sizeof(float), p->hc, 0,
                                    NULL, NULL);
  if (err != CL_SUCCESS) {
    clattn__fail_cl(p->ctx, err, "clEnqueueWriteBuffer", "filling the tuning GEMM's C");
    snprintf(p->error, sizeof p->error, "%s", clattn_last_error(p->ctx));
    return -1;
  }
  if (gemm_run(p, rows, first) != CLATTN_SUCCESS) return -1;
  err = clEnqueueReadBuffer(p->queue, p->c, CL_TRUE, 0, total * sizeof(float), p->hc, 0, NULL,
                            NULL);
  if (err != CL_SUCCESS) {
    clattn__fail_cl(p->ctx, err, "clEnqueueReadBuffer", "reading the tuning GEMM's C");
    snprintf(p->error, sizeof p->error, "%s", clattn_last_error(p->ctx));
    return -1;
  }
  for (size_t i = used; i < total; i++) {
    if (p->hc[i] != CANARY_VALUE) {
      snprintf(p->error, sizeof p->error, "wrote outside C (element %zu after it)", i - used);
      return 0;
    }
  }
  uint64_t state = 0x6a09e667f3bcc909ull ^ (uint64_t)rows;
  for (int s = 0; s < SAMPLES; s++) {
    int64_t i, j;
    if (s < 4) {
      i = (s & 1) ? rows - 1 : 0;
      j = (s & 2) ? p->n - 1 : 0;
    } else {
      i = (int64_t)(clattn__tune_random(&state) % (uint64_t)rows);
      j = (int64_t)(clattn__tune_random(&state) % (uint64_t)p->n);
    }
    double ref = 0.0, magnitude = 0.0;
    for (int64_t l = 0; l < p->k; l++) {
      double term = (double)p->ha[i * p->k + l] * (double)p->hb[j * p->k + l];
      ref += term;
      magnitude += fabs(term);
    }
    double got = (double)p->hc[i * p->n + j];
    double tolerance = 1e-5 + 1e-4 * magnitude;
    if (!(fabs(got - ref) <= tolerance)) {
      snprintf(p->error, sizeof p->error, "C[%lld][%lld] = %.9g, expected %.9g", (long long)i,
               (long long)j, got, ref);
      return 0;
    }
  }
  return 1;
}

/* Times `repeats` GEMMs; appends the seconds to times[*count]. Stops early (after 2 runs)
 * when a run takes over 3x `cutoff` seconds (cutoff > 0): a clear loser needs no median. */
clattn_status clattn__tune_time(problem *p, int64_t rows, int repeats, double cutoff,
                                double *times, int *count) {
  for (int r = 0; r < repeats; r++) {
    double t;
    clattn_status status = gemm_run(p, rows, &t);
    if (status != CLATTN_SUCCESS) return status;
    times[(*count)++] = t;
    if (cutoff > 0 && r >= 1 && t > 3.0 * cutoff) break;
  }
  return CLATTN_SUCCESS;
}

double clattn__tune_gflops(const problem *p, int64_t rows, double seconds) {
  return seconds > 0 ? 2.0 * (double)rows * (double)p->n * (double)p->k / seconds * 1e-9 : 0.0;
}
