/*
 * clattn tune: finds parameters that make the device faster and stores them in the device's
 * tuning file. Targets (one flag each) share the command line and the context; --gemm tunes
 * CLBlast's GEMM kernel, which clattn's projections run on.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "tune.h"

void clattn_cli_tune_usage(FILE *out) {
  fputs("usage: clattn tune --gemm [--shape MxNxK] [--candidates N] [--seconds S]\n"
        "                   [--repeats R] [--seed N] [--no-store] [--device SEL]\n"
        "\n"
        "Searches parameters for the device by timing real work, checks every result, and\n"
        "stores the winner in the device's tuning file, which every clattn context created on\n"
        "the device afterwards applies (CLATTN_TUNING=0 turns that off). The file is\n"
        "$CLATTN_TUNING_DIR/<device key>.tune, else tuning/<device key>.tune in the disk cache\n"
        "directory ($CLATTN_CACHE_DIR, else $XDG_CACHE_HOME/clattn or ~/.cache/clattn).\n"
        "\n"
        "Targets (at least one):\n"
        "  --gemm          CLBlast's Xgemm kernel and its direct/indirect switch, for\n"
        "                  C = A B^T (row-major fp32, B a Linear weight) as the projections\n"
        "                  call it. Each candidate compiles CLBlast's GEMM program: on PoCL a\n"
        "                  full search takes minutes.\n"
        "\n"
        "Options:\n"
        "  --shape MxNxK   the GEMM timed (default 4096x512x512)\n"
        "  --candidates N  parameter sets tried (default 48)\n"
        "  --seconds S     start no candidate after S seconds (default: no limit)\n"
        "  --repeats R     timed runs per candidate, median counts (1 .. 100, default 5)\n"
        "  --seed N        order of the search (default 0: the heuristic order)\n"
        "  --no-store      apply nothing beyond this run and write no file\n"
        "  --device SEL    the device, as for 'clattn devices'\n"
        "\n"
        "Each candidate prints one line: its number, GFLOP/s (\"failed\" when it did not build\n"
        "or gave a wrong result), the seconds it took (compilation included; the first line\n"
        "also includes timing CLBlast's own parameters) and its parameters. The summary\n"
        "compares CLBlast's own parameters with the winner, both measured again in\n"
        "alternating rounds in the same run.\n",
        out);
}

typedef struct tune_settings {
  const char *shape, *candidates, *seconds, *repeats, *seed;
  int no_store;
  int64_t m, n, k;
  int max_candidates, repeat_count;
  double max_seconds;
  unsigned seed_value;
} tune_settings;

/* Parses an integer in [min, max]; 0 on success. */
static int parse_long(const char *text, long long min, long long max, long long *value) {
  char *end = NULL;
  errno = 0;
  long long v = strtoll(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || v < min || v > max) return -1;
  *value = v;
  return 0;
}

#if defined(__GNUC__)
__attribute__((format(printf, 1, 2)))
#endif
static int usage_error(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fputs("clattn tune: ", stderr);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputc('\n', stderr);
  clattn_cli_tune_usage(stderr);
  return CLATTN_CLI_USAGE;
}

static int parse_shape(const char *text, tune_settings *s) {
  long long dims[3];
  const char *p = text;
  for (int i = 0; i < 3; i++) {
    char *end = NULL;
    errno = 0;
    if (*p < '0' || *p > '9') return -1;
    dims[i] = strtoll(p, &end, 10);
    if (errno != 0 || dims[i] < 1 || dims[i] > (1ll << 24)) return -1;
    if (i < 2 && *end != 'x' && *end != 'X') return -1;
    if (i == 2 && *end != '\0') return -1;
    p = end + 1;
  }
  s->m = dims[0];
  s->n = dims[1];
  s->k = dims[2];
  return 0;
}

static int settings_check(tune_settings *s) {
  long long v;
  if (s->shape && parse_shape(s->shape, s) != 0)
    return usage_error("--shape needs MxNxK, three whole numbers 1 .. 16777216, got '%s'",
                       s->shape);
  if (s->candidates) {
    if (parse_long(s->candidates, 1, 1000000, &v) != 0)
      return usage_error("--candidates needs a whole number >= 1, got '%s'", s->candidates);
    s->max_candidates = (int)v;
  }
  if (s->repeats) {
    if (parse_long(s->repeats, 1, 100, &v) != 0)
      return usage_error("--repeats needs a whole number 1 .. 100, got '%s'", s->repeats);
    s->repeat_count = (int)v;
  }
  if (s->seed) {
    if (parse_long(s->seed, 0, UINT_MAX, &v) != 0)
      return usage_error("--seed needs a whole number 0 .. 4294967295, got '%s'", s->seed);
    s->seed_value = (unsigned)v;
  }
  if (s->seconds) {
    char *end = NULL;
    errno = 0;
    double d = strtod(s->seconds, &end);
    if (errno != 0 || end == s->seconds || *end != '\0' || !(d > 0.0) || !isfinite(d))
      return usage_error("--seconds needs a positive number, got '%s'", s->seconds);
    s->max_seconds = d;
  }
  return CLATTN_CLI_OK;
}

/* ---- --gemm --------------------------------------------------------------------------- */

typedef struct gemm_progress {
  double last;
} gemm_progress;

static void gemm_progress_print(void *user, int index, int total, const char *params,
                                double gflops) {
  gemm_progress *state = user;
  double now = clattn_cli_seconds_now();
  int width = total >= 100 ? 3 : total >= 10 ? 2 : 1;
  if (gflops > 0.0) {
    printf("[%*d/%d] %8.1f GFLOP/s %6.1f s  %s\n", width, index, total, gflops,
           now - state->last, params);
  } else {
    printf("[%*d/%d]   failed        %6.1f s  %s\n", width, index, total, now - state->last,
           params);
  }
  fflush(stdout);
  state->last = now;
}

static int tune_gemm(clattn_context *ctx, const tune_settings *s) {
  clattn_gemm_tune_options options;
  clattn_gemm_tune_options_init(&options);
  if (s->m > 0) {
    options.m = s->m;
    options.n = s->n;
    options.k = s->k;
  }
  if (s->max_candidates > 0) options.max_candidates = s->max_candidates;
  if (s->repeat_count > 0) options.repeats = s->repeat_count;
  options.max_seconds = s->max_seconds;
  options.seed = s->seed_value;
  options.store = !s->no_store;
  gemm_progress state = {clattn_cli_seconds_now()};
  options.progress = gemm_progress_print;
  options.user = &state;
  printf("gemm     C = A B^T, %lld x %lld x %lld, fp32 row-major; up to %d candidates, %d "
         "repeats each%s\n",
         (long long)options.m, (long long)options.n, (long long)options.k,
         options.max_candidates, options.repeats, s->max_seconds > 0 ? ", time limit" : "");
  printf("         timing CLBlast's own parameters first (compiles its GEMM program)\n");
  fflush(stdout);
  double start = clattn_cli_seconds_now();
  clattn_gemm_tune_result result;
  memset(&result, 0, sizeof result);
  clattn_status status = clattn_tune_gemm(ctx, &options, &result);
  if (status != CLATTN_SUCCESS && status != CLATTN_IO_ERROR) {
    return clattn_cli_failure_print(ctx, status);
  }
  double elapsed = clattn_cli_seconds_now() - start;
  printf("\n");
  printf("untuned  %8.1f GFLOP/s  CLBlast's own parameters\n", result.untuned_gflops);
  if (result.params[0] != '\0') {
    printf("tuned    %8.1f GFLOP/s  %s\n", result.tuned_gflops, result.params);
    printf("speed-up %8.2fx\n",
           result.untuned_gflops > 0 ? result.tuned_gflops / result.untuned_gflops : 0.0);
  } else {
    printf("tuned    nothing beat CLBlast's own parameters\n");
  }
  printf("tried    %d candidates, %d failed, %.0f s\n", result.candidates_tried,
         result.candidates_failed, elapsed);
  if (result.file[0] != '\0') {
    printf("file     %s\n", result.file);
  } else if (result.params[0] != '\0') {
    printf("file     none written%s\n", s->no_store ? " (--no-store)" : "");
  } else {
    printf("file     none written (nothing to store)\n");
  }
  fflush(stdout);
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(ctx, status);
  }
  return CLATTN_CLI_OK;
}

/* ---- The command ---------------------------------------------------------------------- */

typedef struct tune_target {
  const char *flag;
  int (*run)(clattn_context *ctx, const tune_settings *s);
} tune_target;

static const tune_target targets[] = {
    {"--gemm", tune_gemm},
};
#define TARGET_COUNT (sizeof targets / sizeof targets[0])

int clattn_cli_tune_run(int argc, char **argv, const clattn_cli_globals *globals) {
  const char *device = globals->device;
  int help = 0;
  int selected[TARGET_COUNT] = {0};
  tune_settings s;
  memset(&s, 0, sizeof s);
  const clattn_cli_option options[] = {
      {"--help", "-h", NULL, &help},
      {"--device", NULL, &device, NULL},
      {targets[0].flag, NULL, NULL, &selected[0]},
      {"--shape", NULL, &s.shape, NULL},
      {"--candidates", NULL, &s.candidates, NULL},
      {"--seconds", NULL, &s.seconds, NULL},
      {"--repeats", NULL, &s.repeats, NULL},
      {"--seed", NULL, &s.seed, NULL},
      {"--no-store", NULL, NULL, &s.no_store},
      {NULL, NULL, NULL, NULL},
  };
  if (clattn_cli_args_parse("tune", argc, argv, options, NULL) != CLATTN_CLI_OK) {
    clattn_cli_tune_usage(stderr);
    return CLATTN_CLI_USAGE;
  }
  if (help) {
    clattn_cli_tune_usage(stdout);
    return CLATTN_CLI_OK;
  }
  int any = 0;
  for (size_t i = 0; i < TARGET_COUNT; i++) any |= selected[i];
  if (!any) return usage_error("nothing to tune: give a target (%s)", "--gemm");
  int rc = settings_check(&s);
  if (rc != CLATTN_CLI_OK) return rc;
  /* "Untuned" must mean CLBlast's own parameters: this context does not apply the existing
   * tuning file (CLBlast's overrides are process-wide and cannot be undone). */
  setenv("CLATTN_TUNING", "0", 1);
  clattn_context *ctx = NULL;
  rc = clattn_cli_context_open(device, &ctx);
  if (rc != CLATTN_CLI_OK) return rc;
  clattn_device_info info;
  clattn_status status = clattn_context_device_info(ctx, &info);
  if (status != CLATTN_SUCCESS) {
    rc = clattn_cli_failure_print(ctx, status);
  } else {
    printf("device   ");
    clattn_cli_device_line_print(stdout, &info);
  }
  for (size_t i = 0; rc == CLATTN_CLI_OK && i < TARGET_COUNT; i++) {
    if (selected[i]) rc = targets[i].run(ctx, &s);
  }
  clattn_context_destroy(ctx);
  return rc;
}
