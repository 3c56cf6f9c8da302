/* Prebuilt binaries, as for devices without a compiler: export every variant, then run a
 * context that may not compile from them alone; a missing binary is named in the error; the
 * prebuilt directory comes before the disk cache; the kernels still compute right. */
#include <clattn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static clattn_context *open_ctx(const char *binary_dir, int allow_compile, const char *cache_dir,
                                int disk_cache) {
  clattn_context_options options = tu_options(cache_dir, disk_cache);
  options.binary_dir = binary_dir;
  options.allow_compile = allow_compile;
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &ctx));
  CHECK(ctx != NULL);
  return ctx;
}

static void prepare_expect(clattn_context *ctx, size_t n, clattn_program_origin expected) {
  clattn_program_origin *origins = calloc(n, sizeof *origins);
  CHECK(origins != NULL);
  CHECK_OK(ctx, clattn_prepare_kernels(ctx, origins, n));
  for (size_t i = 0; i < n; i++) CHECK_EQ(origins[i], expected);
  free(origins);
}

/* The exported directory holds exactly one "<key>.bin" per variant. */
static void check_exported(const char *dir, const clattn_kernel_variant *variants, size_t n) {
  char *names[64];
  size_t count = tu_list_all(dir, names, 64);
  CHECK_EQ(count, n);
  for (size_t i = 0; i < count && i < 64; i++) {
    CHECK(tu_is_cache_name(names[i]));
    int known = 0;
    for (size_t j = 0; j < n; j++)
      if (strncmp(names[i], variants[j].key, 64) == 0) known = 1;
    CHECK(known);
  }
  tu_free_names(names, count < 64 ? count : 64);
}

static void check_ceilings_run(clattn_context *ctx) {
  clattn_ceilings ceilings = {0.0, 0.0};
  CHECK_OK(ctx, clattn_measure_ceilings(ctx, NULL, 1, 3u << 20, &ceilings));
  CHECK(isfinite(ceilings.fma_gflops) && ceilings.fma_gflops > 0.0);
  CHECK(isfinite(ceilings.triad_gbps) && ceilings.triad_gbps > 0.0);
}

int main(void) {
  unsetenv("CLATTN_BINARY_DIR");
  unsetenv("CLATTN_KERNEL_DIR");
  unsetenv("CLATTN_CACHE");
  const char *root = tu_scratch_dir("prebuilt");
  char *disk = tu_join(root, "disk");
  char *exported = tu_join(root, "export/nested"); /* created by the export */
  const char *empty = tu_scratch_dir("prebuilt/empty");
  char *missing = tu_join(root, "missing");

  /* A compiling context builds and exports; its disk cache gets the same binaries. */
  clattn_context *builder = open_ctx(NULL, 1, disk, 1);
  size_t n = 0;
  clattn_kernel_variant *variants = tu_variants(builder, &n);
  CHECK_OK(builder, clattn_export_binaries(builder, exported));
  clattn_cache_stats stats = tu_stats(builder);
  CHECK_EQ(stats.builds, n);
  check_exported(exported, variants, n);
  /* Exporting again builds nothing more and leaves the same set of files. */
  CHECK_OK(builder, clattn_export_binaries(builder, exported));
  CHECK_EQ(tu_stats(builder).builds, n);
  check_exported(exported, variants, n);
  /* A directory that cannot be created. */
  char *blocker = tu_join(root, "blocker");
  CHECK_EQ(scratch_write(blocker, "x", 1), 0);
  char *under_blocker = tu_join(blocker, "sub");
  CHECK_STATUS(builder, clattn_export_binaries(builder, under_blocker), CLATTN_IO_ERROR);
  CHECK(strlen(clattn_last_error(builder)) > 0);
  clattn_context_destroy(builder);

  /* Compilation forbidden, binaries present: everything is PREBUILT, nothing is built. */
  clattn_context *ctx = open_ctx(exported, 0, NULL, 0);
  size_t n2 = 0;
  clattn_kernel_variant *again = tu_variants(ctx, &n2);
  CHECK_EQ(n2, n);
  for (size_t i = 0; i < n; i++) CHECK(strcmp(again[i].key, variants[i].key) == 0);
  free(again);
  prepare_expect(ctx, n, CLATTN_ORIGIN_PREBUILT);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.prebuilt_loads, n);
  CHECK_EQ(stats.builds, 0);
  CHECK_EQ(stats.disk_hits + stats.disk_writes, 0);
  CHECK_EQ(stats.disk_cache_enabled, 0);
  prepare_expect(ctx, n, CLATTN_ORIGIN_MEMORY);
  check_ceilings_run(ctx);
  CHECK_EQ(tu_stats(ctx).builds, 0);
  clattn_context_destroy(ctx);

  /* The same through CLATTN_BINARY_DIR. */
  setenv("CLATTN_BINARY_DIR", exported, 1);
  ctx = open_ctx(NULL, 0, NULL, 0);
  prepare_expect(ctx, n, CLATTN_ORIGIN_PREBUILT);
  CHECK_EQ(tu_stats(ctx).builds, 0);
  clattn_context_destroy(ctx);
  unsetenv("CLATTN_BINARY_DIR");

  /* Lazily, without prepare: the ceilings load what they need. */
  ctx = open_ctx(exported, 0, NULL, 0);
  check_ceilings_run(ctx);
  stats = tu_stats(ctx);
  CHECK(stats.prebuilt_loads >= 1);
  CHECK_EQ(stats.builds, 0);
  clattn_context_destroy(ctx);

  /* The prebuilt directory is consulted before a (warm) disk cache. */
  ctx = open_ctx(exported, 1, disk, 1);
  prepare_expect(ctx, n, CLATTN_ORIGIN_PREBUILT);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.prebuilt_loads, n);
  CHECK_EQ(stats.disk_hits + stats.builds, 0);
  clattn_context_destroy(ctx);

  /* No prebuilt binary but a warm disk cache: no compiler needed. */
  ctx = open_ctx(empty, 0, disk, 1);
  prepare_expect(ctx, n, CLATTN_ORIGIN_DISK);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_hits, n);
  CHECK_EQ(stats.builds, 0);
  clattn_context_destroy(ctx);

  /* Nothing anywhere and compilation forbidden: NO_COMPILER, naming the missing binary. */
  char expected_name[80];
  snprintf(expected_name, sizeof expected_name, "%s.bin", variants[0].key);
  const char *dirs[] = {empty, missing};
  for (size_t d = 0; d < 2; d++) {
    ctx = open_ctx(dirs[d], 0, NULL, 0);
    CHECK_STATUS(ctx, clattn_prepare_kernels(ctx, NULL, 0), CLATTN_NO_COMPILER);
    CHECK_CONTAINS(clattn_last_error(ctx), expected_name);
    clattn_ceilings ceilings = {-1.0, -1.0};
    CHECK_STATUS(ctx, clattn_measure_ceilings(ctx, NULL, 1, 3u << 20, &ceilings),
                 CLATTN_NO_COMPILER);
    CHECK(ceilings.fma_gflops == -1.0 && ceilings.triad_gbps == -1.0);
    stats = tu_stats(ctx);
    CHECK_EQ(stats.builds + stats.prebuilt_loads, 0);
    clattn_context_destroy(ctx);
  }
  /* No prebuilt directory at all, compilation forbidden, no disk cache. */
  ctx = open_ctx(NULL, 0, NULL, 0);
  CHECK_STATUS(ctx, clattn_prepare_kernels(ctx, NULL, 0), CLATTN_NO_COMPILER);
  CHECK_CONTAINS(clattn_last_error(ctx), expected_name);
  clattn_context_destroy(ctx);
  CHECK(!tu_exists(missing));

  /* A damaged prebuilt binary is not used; with compilation allowed it is rebuilt. */
  char *first = tu_join(exported, expected_name);
  size_t size = 0;
  char *bytes = scratch_read(first, &size);
  CHECK(bytes != NULL && size > 100);
  bytes[size / 2] ^= 0x10;
  CHECK_EQ(scratch_write(first, bytes, size), 0);
  ctx = open_ctx(exported, 0, NULL, 0);
  CHECK(clattn_prepare_kernels(ctx, NULL, 0) != CLATTN_SUCCESS);
  CHECK_CONTAINS(clattn_last_error(ctx), expected_name);
  CHECK_EQ(tu_stats(ctx).builds, 0);
  clattn_context_destroy(ctx);
  ctx = open_ctx(exported, 1, NULL, 0);
  clattn_program_origin *origins = calloc(n, sizeof *origins);
  CHECK(origins != NULL);
  CHECK_OK(ctx, clattn_prepare_kernels(ctx, origins, n));
  CHECK_EQ(origins[0], CLATTN_ORIGIN_BUILT);
  check_ceilings_run(ctx);
  free(origins);
  clattn_context_destroy(ctx);

  free(bytes);
  free(first);
  free(under_blocker);
  free(blocker);
  free(variants);
  free(missing);
  free(exported);
  free(disk);
  return check_done("test_prebuilt");
}
