/*
 * bench_ceilings: the device's FMA throughput and memory bandwidth as clattn's microkernels
 * reach them, the yardsticks other benchmarks divide by.
 *
 *   bench_ceilings [repeats [triad_MiB [rounds]]]      (device: CLATTN_DEVICE or the default)
 *
 * clattn_measure_ceilings already reports the median of `repeats` runs; running it for a few
 * rounds on top shows how stable that median is, which a single number cannot.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "clattn.h"

#define BENCH_MAX_ROUNDS 64
/* 1 TiB, or less where size_t could not count the bytes (32-bit hosts). */
#define BENCH_MAX_TRIAD_MIB ((long)(SIZE_MAX >> 20 < 1048576u ? SIZE_MAX >> 20 : 1048576u))

typedef struct bench_config {
  int repeats;
  size_t triad_bytes;
  int rounds;
} bench_config;

static void bench_usage(FILE *out) {
  fputs("usage: bench_ceilings [repeats [triad_MiB [rounds]]]\n"
        "  repeats    runs per measurement, median reported (default 7)\n"
        "  triad_MiB  total size of the three triad arrays (default 96)\n"
        "  rounds     measurements, to show the spread of the median (default 3, max 64)\n"
        "The device is $CLATTN_DEVICE, else the default (see 'clattn devices').\n",
        out);
}

/* Parses a decimal integer in [1, max]; returns 0 on success. */
static int bench_int_parse(const char *text, long max, long *value) {
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < 1 || v > max) {
    return -1;
  }
  *value = v;
  return 0;
}

static int bench_args_parse(int argc, char **argv, bench_config *config) {
  static const long maxima[] = {1000000, BENCH_MAX_TRIAD_MIB, BENCH_MAX_ROUNDS};
  long values[] = {7, 96, 3};
  if (argc > 4) {
    return -1;
  }
  for (int i = 1; i < argc; ++i) {
    if (bench_int_parse(argv[i], maxima[i - 1], &values[i - 1]) != 0) {
      return -1;
    }
  }
  config->repeats = (int)values[0];
  config->triad_bytes = (size_t)values[1] << 20;
  config->rounds = (int)values[2];
  return 0;
}

static int bench_fail(const clattn_context *ctx, clattn_status status) {
  fprintf(stderr, "bench_ceilings: %s: %s\n", clattn_status_name(status),
          clattn_last_error(ctx));
  return 1;
}

static void bench_report(const clattn_device_info *info, const bench_config *config,
                         double *fma, double *triad) {
  int n = config->rounds;
  double fma_median = bench_sort_median(fma, n);
  double triad_median = bench_sort_median(triad, n);
  printf("device        %u:%u %s\n", info->platform_index, info->device_index, info->name);
  printf("measurements  %d rounds of %d repeats, triad %zu MiB\n", n, config->repeats,
         config->triad_bytes >> 20);
  printf("%-13s %10s %10s %10s\n", "", "median", "min", "max");
  printf("%-13s %10.1f %10.1f %10.1f\n", "FMA GFLOP/s", fma_median, fma[0], fma[n - 1]);
  printf("%-13s %10.1f %10.1f %10.1f\n", "triad GB/s", triad_median, triad[0], triad[n - 1]);
  printf("{\"device\": ");
  bench_json_string(stdout, info->name);
  printf(", \"fma_gflops\": %.3f, \"triad_gbps\": %.3f, \"repeats\": %d, \"rounds\": %d, "
         "\"triad_bytes\": %zu}\n",
         fma_median, triad_median, config->repeats, n, config->triad_bytes);
}

/* Warms up (compiling or loading the kernels), then measures config->rounds times. */
static int bench_run(clattn_context *ctx, const bench_config *config) {
  double fma[BENCH_MAX_ROUNDS];
  double triad[BENCH_MAX_ROUNDS];
  clattn_device_info info;
  clattn_ceilings c;
  clattn_status status = clattn_context_device_info(ctx, &info);
  if (status == CLATTN_SUCCESS) {
    status = clattn_prepare_kernels(ctx, NULL, 0);
  }
  if (status == CLATTN_SUCCESS) {
    status = clattn_measure_ceilings(ctx, NULL, 1, config->triad_bytes, &c);
  }
  for (int r = 0; status == CLATTN_SUCCESS && r < config->rounds; ++r) {
    status = clattn_measure_ceilings(ctx, NULL, config->repeats, config->triad_bytes, &c);
    if (status == CLATTN_SUCCESS) {
      fma[r] = c.fma_gflops;
      triad[r] = c.triad_gbps;
    }
  }
  if (status != CLATTN_SUCCESS) {
    return bench_fail(ctx, status);
  }
  bench_report(&info, config, fma, triad);
  return 0;
}

int main(int argc, char **argv) {
  bench_config config;
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    bench_usage(stdout);
    return 0;
  }
  if (bench_args_parse(argc, argv, &config) != 0) {
    bench_usage(stderr);
    return 2;
  }
  clattn_context *ctx = NULL;
  clattn_status status = clattn_context_create(NULL, &ctx);
  if (status != CLATTN_SUCCESS) {
    return bench_fail(NULL, status);
  }
  int rc = bench_run(ctx, &config);
  clattn_context_destroy(ctx);
  return rc;
}
