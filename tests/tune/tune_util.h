/* Helpers of the tuning tests: a GEMM through clattn__sgemm (the projections' path) checked
 * entry by entry against a double-precision host reference, and scratch tuning directories.
 * Header-only and static inline, like tests/support/testutil.h. */
#ifndef CLATTN_TEST_TUNE_UTIL_H
#define CLATTN_TEST_TUNE_UTIL_H

#include <clattn.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gemm.h"
#include "testutil.h"
#include "tuning.h"

static inline float tt_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return (float)((double)(x >> 11) / 4503599627370496.0 - 1.0); /* [-1, 1) */
}

/* C (m x n) = A (m x k) B^T (B n x k) through clattn__sgemm on the context's queue; every
 * entry must be within 1e-5 + 1e-4 * sum|a*b| of the fp64 reference, and the 64 floats after C
 * must stay untouched. Ends the test otherwise. */
static inline void tt_check_gemm(clattn_context *ctx, int64_t m, int64_t n, int64_t k) {
  size_t na = (size_t)(m * k), nb = (size_t)(n * k), nc = (size_t)(m * n), pad = 64;
  float *a = malloc(na * sizeof *a), *b = malloc(nb * sizeof *b);
  float *c = malloc((nc + pad) * sizeof *c);
  if (!a || !b || !c) check_fail(__FILE__, __LINE__, "out of memory");
  uint64_t state = 0x9e3779b97f4a7c15ull ^ (uint64_t)(m * 131 + n * 17 + k);
  for (size_t i = 0; i < na; i++) a[i] = tt_random(&state);
  for (size_t i = 0; i < nb; i++) b[i] = tt_random(&state);
  for (size_t i = 0; i < nc + pad; i++) c[i] = i < nc ? nanf("") : 777.0f;
  cl_context cl_ctx = clattn_context_cl_context(ctx);
  cl_command_queue queue = clattn_context_queue(ctx);
  cl_int err = CL_SUCCESS;
  cl_mem da = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, na * sizeof *a, a, &err);
  CHECK_CL(err);
  cl_mem db = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, nb * sizeof *b, b, &err);
  CHECK_CL(err);
  cl_mem dc = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, (nc + pad) * sizeof *c, c, &err);
  CHECK_CL(err);
  clattn__matrix ma = {da, 0, k}, mb = {db, 0, k}, mc = {dc, 0, n};
  CHECK_OK(ctx, clattn__sgemm(ctx, queue, m, n, k, 1.0f, &ma, &mb, 1, 0.0f, &mc, 0, NULL, NULL));
  CHECK_CL(clEnqueueReadBuffer(queue, dc, CL_TRUE, 0, (nc + pad) * sizeof *c, c, 0, NULL, NULL));
  for (size_t i = nc; i < nc + pad; i++)
    if (c[i] != 777.0f)
      check_fail(__FILE__, __LINE__, "GEMM %lldx%lldx%lld wrote past C (float %zu after it)",
                 (long long)m, (long long)n, (long long)k, i - nc);
  for (int64_t i = 0; i < m; i++) {
    for (int64_t j = 0; j < n; j++) {
      double ref = 0.0, magnitude = 0.0;
      for (int64_t l = 0; l < k; l++) {
        double t = (double)a[i * k + l] * (double)b[j * k + l];
        ref += t;
        magnitude += fabs(t);
      }
      double got = c[i * n + j];
      if (!(fabs(got - ref) <= 1e-5 + 1e-4 * magnitude))
        check_fail(__FILE__, __LINE__, "GEMM %lldx%lldx%lld: C[%lld][%lld] = %.9g, expected %.9g",
                   (long long)m, (long long)n, (long long)k, (long long)i, (long long)j, got,
                   ref);
    }
  }
  check_pass();
  clReleaseMemObject(da);
  clReleaseMemObject(db);
  clReleaseMemObject(dc);
  free(a);
  free(b);
  free(c);
}

static inline clattn__tuning_status tt_status(const clattn_context *ctx) {
  clattn__tuning_status st;
  memset(&st, 0, sizeof st);
  CHECK_OK(ctx, clattn__context_tuning(ctx, &st));
  return st;
}

/* A context on the default device with default options. */
static inline clattn_context *tt_context(void) {
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(NULL, &ctx));
  return ctx;
}

#endif
