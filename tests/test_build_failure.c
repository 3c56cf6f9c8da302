/* A kernel that does not compile: BUILD_FAILED with the file name, the OpenCL error name and
 * the compiler's log in the message, through options.kernel_dir and CLATTN_KERNEL_DIR;
 * nothing is cached; a missing kernel file is KERNEL_NOT_FOUND. */
#include <clattn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static clattn_context *open_ctx(const char *kernel_dir, const char *cache_dir, int disk_cache) {
  clattn_context_options options = tu_options(cache_dir, disk_cache);
  options.kernel_dir = kernel_dir;
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &ctx));
  return ctx;
}

static void expect_build_failed(clattn_context *ctx) {
  CHECK_STATUS(ctx, clattn_prepare_kernels(ctx, NULL, 0), CLATTN_BUILD_FAILED);
  const char *message = clattn_last_error(ctx);
  CHECK_CONTAINS(message, "ceiling.cl");
  CHECK_CONTAINS(message, "CL_BUILD_PROGRAM_FAILURE");
  CHECK_CONTAINS(message, "error"); /* the compiler's log */
  CHECK_CONTAINS(message, "clattn_not_a_type"); /* the log quotes the broken line */
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_writes, 0);
}

int main(void) {
  unsetenv("CLATTN_KERNEL_DIR");
  unsetenv("CLATTN_CACHE");
  const char *broken = tu_scratch_dir("broken");
  CHECK(tu_copy_kernels(broken) >= 1);
  char *ceiling = tu_join(broken, "ceiling.cl");
  tu_append(ceiling, "\nkernel void clattn_broken(global float *x) { clattn_not_a_type y = ; }\n");
  free(ceiling);
  const char *good = tu_scratch_dir("good");
  tu_copy_kernels(good);
  const char *cache = tu_scratch_dir("cache");

  /* Through options.kernel_dir, with a disk cache that must stay empty. */
  clattn_context *ctx = open_ctx(broken, cache, 1);
  expect_build_failed(ctx);
  printf("build failure message (first 400 bytes): %.400s\n", clattn_last_error(ctx));
  /* The failure is not remembered as a success: asking again fails again, and so does a
   * call that needs the kernels lazily. */
  expect_build_failed(ctx);
  clattn_ceilings ceilings = {-1.0, -1.0};
  CHECK_STATUS(ctx, clattn_measure_ceilings(ctx, NULL, 1, 3u << 20, &ceilings),
               CLATTN_BUILD_FAILED);
  CHECK_CONTAINS(clattn_last_error(ctx), "ceiling.cl");
  CHECK(ceilings.fma_gflops == -1.0);
  char *export_dir = tu_join(cache, "../export");
  CHECK_STATUS(ctx, clattn_export_binaries(ctx, export_dir), CLATTN_BUILD_FAILED);
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.builds, 0);
  CHECK_EQ(stats.disk_writes, 0);
  clattn_context_destroy(ctx);
  CHECK_EQ(tu_list_all(cache, NULL, 0), 0);
  char *names[8];
  size_t exported = tu_list_all(export_dir, names, 8);
  for (size_t i = 0; i < exported && i < 8; i++) CHECK(strstr(names[i], ".tmp") == NULL);
  tu_free_names(names, exported < 8 ? exported : 8);
  free(export_dir);

  /* Through CLATTN_KERNEL_DIR. */
  setenv("CLATTN_KERNEL_DIR", broken, 1);
  ctx = open_ctx(NULL, cache, 1);
  expect_build_failed(ctx);
  clattn_context_destroy(ctx);
  /* An explicit kernel_dir wins over the environment, and a good copy builds. */
  ctx = open_ctx(good, NULL, 0);
  CHECK_OK(ctx, clattn_prepare_kernels(ctx, NULL, 0));
  CHECK(strcmp(clattn_last_error(ctx), "") == 0);
  clattn_context_destroy(ctx);
  unsetenv("CLATTN_KERNEL_DIR");
  CHECK_EQ(tu_list_all(cache, NULL, 0), 0);

  /* A kernel directory without ceiling.cl. */
  const char *empty = tu_scratch_dir("empty");
  ctx = open_ctx(empty, NULL, 0);
  CHECK_STATUS(ctx, clattn_prepare_kernels(ctx, NULL, 0), CLATTN_KERNEL_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(ctx), "ceiling.cl");
  CHECK_STATUS(ctx, clattn_measure_ceilings(ctx, NULL, 1, 3u << 20, &ceilings),
               CLATTN_KERNEL_NOT_FOUND);
  clattn_context_destroy(ctx);
  /* ...or one that does not exist. */
  char *nowhere = tu_join(empty, "nowhere");
  ctx = open_ctx(nowhere, NULL, 0);
  CHECK_STATUS(ctx, clattn_prepare_kernels(ctx, NULL, 0), CLATTN_KERNEL_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(ctx), "ceiling.cl");
  clattn_context_destroy(ctx);
  free(nowhere);
  return check_done("test_build_failure");
}
