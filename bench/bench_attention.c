/*
 * bench_attention: clattn's fused attention forward against a naive kernel and an unfused
 * three-kernel path, on one device, in one process, with the device's FMA and bandwidth
 * ceilings measured in the same run. See bench/README.md for how to read the output.
 *
 *   bench_attention [--cases LIST] [--repeats N] [--quick] [--json FILE] [--device SEL]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_cases.h"
#include "bench_measure.h"
#include "bench_report.h"
#include "bench_util.h"
#include "clattn.h"

#define BENCH_DEFAULT_CASES "1024,4096,4096c,65536"
#define BENCH_QUICK_CASES "1024,1024c"
#define BENCH_DEFAULT_REPEATS 7
#define BENCH_QUICK_REPEATS 3
#define BENCH_CEILING_REPEATS 5

typedef struct bench_options {
  const char *cases;
  int repeats;
  int repeats_explicit;
  int quick;
  const char *json;
  const char *device;
} bench_options;

static void bench_usage(FILE *out) {
  fputs("usage: bench_attention [--cases LIST] [--repeats N] [--quick] [--json FILE] "
        "[--device SEL]\n"
        "  --cases LIST  comma-separated cases, default " BENCH_DEFAULT_CASES "\n"
        "                a case is S[c][hH][dD][bB]: sequence length S (Sq = Skv), c for causal,\n"
        "                H heads (default 8, or 1 when S > 16384), head dim D (default 64),\n"
        "                batch B (default 1); e.g. 4096c, 65536, 2048h16d128\n"
        "  --repeats N   timed runs per path (default 7; runs over 1 s get 5 unless given)\n"
        "  --quick       smoke run: cases " BENCH_QUICK_CASES ", 3 repeats\n"
        "  --json FILE   also write the results as JSON\n"
        "  --device SEL  device selector as for CLATTN_DEVICE (\"P:D\" or a name part)\n"
        "All paths are fp32. The naive path is skipped above 100 GFLOP per run and the\n"
        "unfused path when its score matrix does not fit the device; the output says so.\n",
        out);
}

static int bench_args_parse(int argc, char **argv, bench_options *o) {
  memset(o, 0, sizeof *o);
  o->repeats = BENCH_DEFAULT_REPEATS;
  for (int i = 1; i < argc; ++i) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    long n = 0;
    if (strcmp(arg, "--quick") == 0) {
      o->quick = 1;
      continue;
    }
    if (value == NULL) {
      return -1;
    }
    if (strcmp(arg, "--cases") == 0) {
      o->cases = value;
    } else if (strcmp(arg, "--repeats") == 0) {
      if (bench_number(value, BENCH_MAX_RUNS, &n) != strlen(value)) {
        return -1;
      }
      o->repeats = (int)n;
      o->repeats_explicit = 1;
    } else if (strcmp(arg, "--json") == 0) {
      o->json = value;
    } else if (strcmp(arg, "--device") == 0) {
      o->device = value;
    } else {
      return -1;
    }
    ++i;
  }
  if (o->quick && !o->repeats_explicit) {
    o->repeats = BENCH_QUICK_REPEATS;
  }
  if (o->cases == NULL) {
    o->cases = o->quick ? BENCH_QUICK_CASES : BENCH_DEFAULT_CASES;
  }
  return 0;
}

static int bench_fail(const clattn_context *ctx, const char *what, clattn_status status) {
  fprintf(stderr, "bench_attention: %s: %s: %s\n", what, clattn_status_name(status),
          clattn_last_error(ctx));
  return 1;
}

/* Device facts and ceilings (a one-repeat warm-up first, which compiles their kernels). */
static int bench_setup(clattn_context *ctx, bench_run_info *info) {
  clattn_status status = clattn_context_device_info(ctx, &info->device);
  if (status != CLATTN_SUCCESS) {
    return bench_fail(ctx, "clattn_context_device_info", status);
  }
  fprintf(stderr, "bench_attention: device %s; measuring ceilings ...\n", info->device.name);
  info->ceiling_repeats = BENCH_CEILING_REPEATS;
  status = clattn_measure_ceilings(ctx, NULL, 1, 0, &info->ceilings);
  if (status == CLATTN_SUCCESS) {
    status = clattn_measure_ceilings(ctx, NULL, info->ceiling_repeats, 0, &info->ceilings);
  }
  if (status != CLATTN_SUCCESS) {
    return bench_fail(ctx, "clattn_measure_ceilings", status);
  }
  return 0;
}

int main(int argc, char **argv) {
  static bench_case cases[BENCH_MAX_CASES];
  bench_options options;
  bench_run_info info;
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    bench_usage(stdout);
    return 0;
  }
  int count = -1;
  if (bench_args_parse(argc, argv, &options) == 0) {
    count = bench_cases_parse("bench_attention", options.cases, cases);
  }
  if (count < 0) {
    bench_usage(stderr);
    return 2;
  }
  double start = bench_now();
  clattn_context_options context_options;
  clattn_context_options_init(&context_options);
  context_options.device = options.device;
  clattn_context *ctx = NULL;
  clattn_status status = clattn_context_create(&context_options, &ctx);
  if (status != CLATTN_SUCCESS) {
    return bench_fail(NULL, "clattn_context_create", status);
  }
  memset(&info, 0, sizeof info);
  info.repeats = options.repeats;
  info.repeats_explicit = options.repeats_explicit;
  info.attention_config = getenv("CLATTN_ATTENTION_CONFIG");
  int setup_failed = bench_setup(ctx, &info);
  int rc = setup_failed;
  bench_measure_options measure = {options.repeats, options.repeats_explicit};
  double naive_gflops = 0.0;
  for (int i = 0; !setup_failed && i < count; ++i) {
    if (bench_case_run(ctx, &measure, &cases[i], &naive_gflops) != 0) {
      rc = 1; /* keep going: the other cases still say something */
    }
  }
  if (!setup_failed) {
    status = clattn_measure_ceilings(ctx, NULL, info.ceiling_repeats, 0, &info.ceilings_end);
    if (status != CLATTN_SUCCESS) {
      rc = bench_fail(ctx, "clattn_measure_ceilings", status);
    }
    info.fma_gflops = info.ceilings.fma_gflops > info.ceilings_end.fma_gflops
                          ? info.ceilings.fma_gflops
                          : info.ceilings_end.fma_gflops;
  }
  clattn_context_destroy(ctx);
  info.total_s = bench_now() - start;
  if (!setup_failed) {
    bench_report_print(stdout, &info, cases, count);
    if (options.json != NULL && bench_report_json(options.json, &info, cases, count) != 0) {
      fprintf(stderr, "bench_attention: cannot write %s\n", options.json);
      rc = 1;
    }
  }
  return rc;
}
