/*
 * clattn tune: finds parameters that make the device faster and stores them in the device's
 * tuning file. Targets share the command line and the context: the attention kernel (the
 * default, or --all), CLBlast's GEMM kernel, which clattn's projections run on (--gemm or
 * --all).
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tune.h"

void clattn_cli_tune_usage(FILE *out) {
  fputs("usage: clattn tune [--quick] [--dtype f32,f16,bf16] [--head-dim 64,128]\n"
        "                   [--masking none,causal,tensor] [--seq S] [--candidates N]\n"
        "                   [--seconds S] [--repeats R] [--no-store] [--device SEL]\n"
        "       clattn tune --gemm [--shape MxNxK] [--candidates N] [--seconds S]\n"
        "                   [--repeats R] [--seed N] [--no-store] [--device SEL]\n"
        "       clattn tune --all [any of the above]\n"
        "\n"
        "Searches parameters for the device by timing real work, checks every result, and\n"
        "stores the winner in the device's tuning file, which every clattn context created on\n"
        "the device afterwards applies (CLATTN_TUNING=0 turns that off). The file is\n"
        "$CLATTN_TUNING_DIR/<device key>.tune, else tuning/<device key>.tune in the disk cache\n"
        "directory ($CLATTN_CACHE_DIR, else $XDG_CACHE_HOME/clattn or ~/.cache/clattn).\n"
        "\n"
        "Targets (default: the attention kernel):\n"
        "  (none)          the fused attention kernel's configuration (rows and keys per\n"
        "                  work-item, vector width, work-group size, V staging) per storage\n"
        "                  type, head dimension and masking: configurations near the\n"
        "                  built-in default, each checked against a double-precision\n"
        "                  reference on sampled rows, then timed; the best is timed again\n"
        "                  against the default in alternating rounds and stored only when\n"
        "                  faster. Full search: f32, f16 and bf16, D 64 and 128, no mask,\n"
        "                  causal and a mask tensor, up to two steps from the default\n"
        "                  (16-wide vectors included), at S=1024: tens of minutes on PoCL.\n"
        "  --quick         the attention search for f32, D 64 and 128, no mask and causal,\n"
        "                  one step from the default: about 2 minutes on PoCL.\n"
        "  --gemm          CLBlast's Xgemm kernel and its direct/indirect switch, for\n"
        "                  C = A B^T (row-major fp32, B a Linear weight) as the projections\n"
        "                  call it. Each candidate compiles CLBlast's GEMM program: on PoCL a\n"
        "                  full search takes minutes.\n"
        "  --all           the attention search (--quick applies) and then --gemm.\n"
        "\n"
        "Options:\n"
        "  --dtype LIST    attention: storage types of Q, K and V (f32, f16, bf16)\n"
        "  --head-dim LIST attention: head dimensions, 1 .. 512 (at most 8)\n"
        "  --masking LIST  attention: none, causal (also sliding windows), tensor\n"
        "  --seq S         attention: Sq = Skv timed, 64 .. 16384 (default 1024)\n"
        "  --shape MxNxK   the GEMM timed (default 4096x512x512)\n"
        "  --candidates N  parameter sets tried (GEMM: default 48; attention: per entry,\n"
        "                  default all listed)\n"
        "  --seconds S     start no candidate after S seconds (default: no limit)\n"
        "  --repeats R     timed runs per candidate, median counts (1 .. 100, default 5)\n"
        "  --seed N        order of the search (default 0: the heuristic order)\n"
        "  --no-store      apply nothing beyond this run and write no file\n"
        "  --device SEL    the device, as for 'clattn devices'\n"
        "\n"
        "Attention draws a progress bar on stderr with the estimated time left, then prints\n"
        "one line per entry: the default's and the best candidate's GFLOP/s from the same\n"
        "alternating rounds, the best configuration and whether it was kept.\n"
        "GEMM prints one line per candidate: its number, GFLOP/s (\"failed\" when it did not build\n"
        "or gave a wrong result), the seconds it took (compilation included; the first line\n"
        "also includes timing CLBlast's own parameters) and its parameters. The summary\n"
        "compares CLBlast's own parameters with the winner, both measured again in\n"
        "alternating rounds in the same run.\n",
        out);
}

typedef struct tune_settings {
  const char *shape, *candidates, *seconds, *repeats, *seed;
  const char *dtype, *head_dim, *masking, *seq;
  int no_store, quick;
  unsigned dtypes, maskings;
  int head_dims[8];
  long long seq_len;
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

/* Parses a comma-separated list of names into bits (1 << position in `names`). */
static int parse_names(const char *text, const char *const *names, int count, unsigned *bits) {
  *bits = 0;
  for (const char *p = text;;) {
    const char *comma = strchr(p, ',');
    size_t length = comma ? (size_t)(comma - p) : strlen(p);
    int found = -1;
    for (int i = 0; i < count; i++)
      if (strlen(names[i]) == length && strncmp(p, names[i], length) == 0) found = i;
    if (found < 0) return -1;
    *bits |= 1u << found;
    if (!comma) return 0;
    p = comma + 1;
  }
}

static int parse_dims(const char *text, int dims[8]) {
  int n = 0;
  for (const char *p = text;;) {
    char *end = NULL;
    errno = 0;
    long d = strtol(p, &end, 10);
    if (n == 8 || errno || end == p || *p < '0' || *p > '9' || d < 1 || d > CLATTN_MAX_HEAD_DIM ||
        (*end != ',' && *end != '\0'))
      return -1;
    dims[n++] = (int)d;
    if (!*end) return 0;
    p = end + 1;
  }
}

static int attention_settings_check(tune_settings *s) {
  static const char *const dtypes[] = {"f32", "f16", "bf16"};
  static const char *const maskings[] = {"none", "causal", "tensor"};
  long long v;
  if (s->dtype && parse_names(s->dtype, dtypes, 3, &s->dtypes) != 0)
    return usage_error("--dtype needs a list of f32, f16, bf16, got '%s'", s->dtype);
  if (s->masking && parse_names(s->masking, maskings, 3, &s->maskings) != 0)
    return usage_error("--masking needs a list of none, causal, tensor, got '%s'", s->masking);
  if (s->head_dim && parse_dims(s->head_dim, s->head_dims) != 0)
    return usage_error("--head-dim needs up to 8 whole numbers 1 .. %d, got '%s'",
                       CLATTN_MAX_HEAD_DIM, s->head_dim);
  if (s->seq) {
    if (parse_long(s->seq, 64, 16384, &v) != 0)
      return usage_error("--seq needs a whole number 64 .. 16384, got '%s'", s->seq);
    s->seq_len = v;
  }
  return CLATTN_CLI_OK;
}

static int settings_check(tune_settings *s) {
  long long v;
  int rc = attention_settings_check(s);
  if (rc != CLATTN_CLI_OK) return rc;
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

/* ---- attention ------------------------------------------------------------------------ */

/* A progress bar on stderr: steps done, the entry and candidate, the time left estimated from
 * the time per step so far. Redrawn in place on a terminal, one line per step otherwise. */
static void attention_progress(void *user, int step, int total, const char *entry,
                               const char *config, double gflops, double seconds) {
  (void)user;
  enum { WIDTH = 24 };
  int filled = total > 0 ? step * WIDTH / total : WIDTH;
  char bar[WIDTH + 1];
  for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
  bar[WIDTH] = '\0';
  double left = step > 0 ? seconds / step * (total - step) : 0.0;
  char result[32];
  if (gflops > 0.0) snprintf(result, sizeof result, "%7.1f GFLOP/s", gflops);
  else snprintf(result, sizeof result, "%15s", "failed");
  fprintf(stderr, "%s[%s] %3d/%d  ~%3.0f s left  %-15s %s %s%s", isatty(fileno(stderr)) ? "\r" : "",
          bar, step, total, left, entry, result, config,
          isatty(fileno(stderr)) ? (step == total ? "\n" : "\033[K") : "\n");
  fflush(stderr);
}

static const char *masking_name(clattn_tune_masking m) {
  return m == CLATTN_TUNE_MASK_CAUSAL ? "causal" : m == CLATTN_TUNE_MASK_TENSOR ? "tensor" : "none";
}

static int tune_attention(clattn_context *ctx, const tune_settings *s) {
  static const char *const dtype_names[] = {"f32", "f16", "bf16"};
  clattn_attention_tune_options options;
  clattn_attention_tune_options_init(&options);
  options.quick = s->quick;
  options.dtypes = s->dtypes;
  options.maskings = s->maskings;
  memcpy(options.head_dims, s->head_dims, sizeof options.head_dims);
  options.seq_len = s->seq_len;
  options.max_candidates = s->max_candidates;
  options.max_seconds = s->max_seconds;
  options.repeats = s->repeat_count;
  options.store = !s->no_store;
  options.progress = attention_progress;
  printf("attention %s search, B=1, H=8, Sq=Skv=%lld, O f32\n", s->quick ? "quick" : "full",
         s->seq_len ? s->seq_len : 1024);
  fflush(stdout);
  double start = clattn_cli_seconds_now();
  clattn_attention_tune_result *result = calloc(1, sizeof *result);
  if (!result) return clattn_cli_out_of_memory();
  clattn_status status = clattn_tune_attention(ctx, &options, result);
  if (status != CLATTN_SUCCESS && status != CLATTN_IO_ERROR) {
    free(result);
    return clattn_cli_failure_print(ctx, status);
  }
  printf("\n%-18s %9s %9s %7s  %-6s %s\n", "entry", "default", "tuned", "", "kept", "best configuration");
  for (int i = 0; i < result->count; i++) {
    const clattn_attention_tune_entry *e = &result->entries[i];
    char name[48];
    snprintf(name, sizeof name, "%s d%d %s", dtype_names[e->dtype], e->head_dim,
             masking_name(e->masking));
    printf("%-18s %9.1f %9.1f %6.2fx  %-6s %s  (%d tried, %d failed)\n", name, e->default_gflops,
           e->tuned_gflops, e->default_gflops > 0 ? e->tuned_gflops / e->default_gflops : 0.0,
           e->stored ? "yes" : "no", e->config[0] ? e->config : "-", e->candidates_tried,
           e->candidates_failed);
  }
  printf("GFLOP/s: medians of alternating rounds; default = the built-in configuration\n");
  printf("time     %.0f s\n", clattn_cli_seconds_now() - start);
  printf("file     %s\n", result->file[0] ? result->file
                          : s->no_store ? "none written (--no-store)" : "none written");
  fflush(stdout);
  free(result);
  if (status != CLATTN_SUCCESS) return clattn_cli_failure_print(ctx, status);
  return CLATTN_CLI_OK;
}

/* ---- The command ---------------------------------------------------------------------- */

typedef struct tune_target {
  const char *flag;
  int (*run)(clattn_context *ctx, const tune_settings *s);
} tune_target;

static const tune_target targets[] = {
    {"(attention)", tune_attention},
    {"--gemm", tune_gemm},
};
#define TARGET_COUNT (sizeof targets / sizeof targets[0])

int clattn_cli_tune_run(int argc, char **argv, const clattn_cli_globals *globals) {
  const char *device = globals->device;
  int help = 0, all = 0;
  int selected[TARGET_COUNT] = {0};
  tune_settings s;
  memset(&s, 0, sizeof s);
  const clattn_cli_option options[] = {
      {"--help", "-h", NULL, &help},
      {"--device", NULL, &device, NULL},
      {"--gemm", NULL, NULL, &selected[1]},
      {"--all", NULL, NULL, &all},
      {"--quick", NULL, NULL, &s.quick},
      {"--dtype", NULL, &s.dtype, NULL},
      {"--head-dim", NULL, &s.head_dim, NULL},
      {"--masking", NULL, &s.masking, NULL},
      {"--seq", NULL, &s.seq, NULL},
      {"--shape", NULL, &s.shape, NULL},
      {"--candidates", NULL, &s.candidates, NULL},
      {"--seconds", NULL, &s.seconds, NULL},
      {"--repeats", NULL, &s.repeats, NULL},
      {"--seed", NULL, &s.seed, NULL},
      {"--no-store", NULL, NULL, &s.no_store},
      {NULL, NULL, NULL, NULL},
  };
  int done = clattn_cli_args_command("tune", argc, argv, options, &help, clattn_cli_tune_usage);
  if (done >= 0) return done;
  if (all && selected[1]) return usage_error("--all already includes --gemm");
  if (selected[1] && (s.quick || s.dtype || s.head_dim || s.masking || s.seq))
    return usage_error("--quick, --dtype, --head-dim, --masking and --seq are for the attention "
                       "search, not --gemm (use --all for both)");
  if ((s.shape || s.seed) && !selected[1] && !all)
    return usage_error("--shape and --seed are for --gemm (or --all)");
  selected[0] = all || !selected[1];
  if (all) selected[1] = 1;
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
