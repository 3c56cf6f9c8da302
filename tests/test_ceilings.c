/* Device ceilings: the FMA and triad microkernels give positive, finite, plausible figures
 * on the context's queue and on a caller's profiling queue; bad arguments are refused
 * before any work and leave the output alone. */
#include <clattn.h>
#include <time.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static void check_plausible(const clattn_ceilings *c) {
  CHECK(isfinite(c->fma_gflops) && c->fma_gflops > 0.0);
  CHECK(isfinite(c->triad_gbps) && c->triad_gbps > 0.0);
  /* No device of this decade does a petaflop in fp32 on one chip or moves 100 TB/s. */
  CHECK(c->fma_gflops < 1e6);
  CHECK(c->triad_gbps < 1e5);
}

static void test_measure(clattn_context *ctx) {
  clattn_ceilings c = {-1.0, -1.0};
  CHECK_OK(ctx, clattn_measure_ceilings(ctx, NULL, 1, 3u << 20, &c));
  check_plausible(&c);
  printf("test_ceilings: fma %.2f GFLOP/s, triad %.2f GB/s (1 repeat, 3 MiB)\n", c.fma_gflops,
         c.triad_gbps);

  /* Three repeats, and a size that is not a multiple of 12 bytes or of any work-group. */
  clattn_ceilings d = {-1.0, -1.0};
  CHECK_OK(ctx, clattn_measure_ceilings(ctx, NULL, 3, (1u << 20) + 12 * 37 + 5, &d));
  check_plausible(&d);

  /* On a queue of the caller's (profiling enabled) on the context's cl_context. */
  cl_int err = CL_SUCCESS;
  cl_command_queue queue = clCreateCommandQueue(clattn_context_cl_context(ctx),
                                                clattn_context_cl_device(ctx),
                                                CL_QUEUE_PROFILING_ENABLE, &err);
  CHECK_CL(err);
  clattn_ceilings e = {-1.0, -1.0};
  CHECK_OK(ctx, clattn_measure_ceilings(ctx, queue, 1, 3u << 20, &e));
  check_plausible(&e);
  /* PoCL drops its own references to a queue shortly after the commands finish, so the
   * count settles within a moment; a reference clattn kept would never go. */
  cl_uint refs = 0;
  CHECK_CL(clFinish(queue));
  for (int tries = 0; tries < 200; tries++) {
    CHECK_CL(clGetCommandQueueInfo(queue, CL_QUEUE_REFERENCE_COUNT, sizeof refs, &refs, NULL));
    if (refs == 1) break;
    nanosleep(&(struct timespec){0, 5000000}, NULL);
  }
  CHECK_EQ(refs, 1);
  CHECK_CL(clReleaseCommandQueue(queue));

  /* The kernels are built once and reused. */
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK(stats.builds + stats.disk_hits + stats.prebuilt_loads >= 1);
  CHECK(stats.memory_hits >= 2);
}

static void test_invalid(clattn_context *ctx) {
  clattn_ceilings c = {-1.0, -1.0};
  CHECK_STATUS(ctx, clattn_measure_ceilings(ctx, NULL, 0, 3u << 20, &c), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "repeats");
  CHECK_STATUS(ctx, clattn_measure_ceilings(ctx, NULL, -4, 3u << 20, &c),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "repeats");
  CHECK_STATUS(ctx, clattn_measure_ceilings(ctx, NULL, 1, 3u << 20, NULL),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "out");
  CHECK_STATUS(NULL, clattn_measure_ceilings(NULL, NULL, 1, 3u << 20, &c),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
  CHECK(c.fma_gflops == -1.0 && c.triad_gbps == -1.0);

  /* A queue without profiling cannot be timed: refused, output untouched. */
  cl_int err = CL_SUCCESS;
  cl_command_queue plain = clCreateCommandQueue(clattn_context_cl_context(ctx),
                                                clattn_context_cl_device(ctx), 0, &err);
  CHECK_CL(err);
  clattn_status status = clattn_measure_ceilings(ctx, plain, 1, 3u << 20, &c);
  if (status != CLATTN_INVALID_ARGUMENT && status != CLATTN_OPENCL_ERROR)
    check_fail(__FILE__, __LINE__, "a queue without profiling gave %s: %s",
               clattn_status_name(status), clattn_last_error(ctx));
  check_pass();
  CHECK_CONTAINS(clattn_last_error(ctx), "queue");
  CHECK(c.fma_gflops == -1.0 && c.triad_gbps == -1.0);
  CHECK_CL(clFinish(plain));
  CHECK_CL(clReleaseCommandQueue(plain));
}

int main(void) {
  unsetenv("CLATTN_KERNEL_DIR");
  unsetenv("CLATTN_BINARY_DIR");
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(NULL, &ctx));
  test_invalid(ctx);
  test_measure(ctx);
  clattn_context_destroy(ctx);
  return check_done("test_ceilings");
}
