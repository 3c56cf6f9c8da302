/* clattn_tune_gemm: searches CLBlast's Xgemm parameters for the context's device by timing
 * real GEMMs of the projection shape and checking every result (see clattn.h, "CLBlast
 * tuning", and tuning.h for the file and CLBlast's process-wide overrides).
 *
 * What runs: for C = A B^T, row-major, CLBlast picks between two routines by m*n*k against
 * GemmRoutine's XGEMM_MIN_INDIRECT_SIZE^3: the direct kernel (XgemmDirect, one kernel, any
 * shape) below it, the indirect one above (the Xgemm kernel on operands that copy/pad/transpose
 * kernels bring to its tile multiples and layout). Xgemm is the one with the parameters that
 * matter, so the search tunes Xgemm with the indirect routine forced, and then decides the
 * threshold: it times the direct routine against the tuned indirect one on the tuning shape
 * with fewer rows (m' = 1, 16, 64, 256, 1024, as projections of fewer tokens) and stores the
 * smallest size from which indirect keeps winning. Both go in the tuning file.
 */
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "errors.h"
#include "gemm.h"
#include "gemm_tune.h"
#include "tuning.h"

#define DEFAULT_M 4096
#define DEFAULT_N 512
#define DEFAULT_K 512
#define DEFAULT_CANDIDATES 48
#define DEFAULT_REPEATS 5
#define FINALISTS 3           /* best candidates timed again against untuned */
#define FINAL_ROUNDS 2        /* alternating rounds of that final comparison */
#define FORCE_INDIRECT 1      /* XGEMM_MIN_INDIRECT_SIZE: m*n*k < 1 never holds */
#define FORCE_DIRECT 1048576  /* 2^60 > any m*n*k clattn could run */

void clattn_gemm_tune_options_init(clattn_gemm_tune_options *options) {
  if (!options) return;
  memset(options, 0, sizeof *options);
  options->m = DEFAULT_M;
  options->n = DEFAULT_N;
  options->k = DEFAULT_K;
  options->max_candidates = DEFAULT_CANDIDATES;
  options->repeats = DEFAULT_REPEATS;
  options->store = 1;
}

/* ---- Applying configurations ----------------------------------------------------------- */

static const char *const routine_names[] = {"XGEMM_MIN_INDIRECT_SIZE"};

static int apply_xgemm(clattn_context *ctx, const size_t *v, char *why, size_t size) {
  clattn__clblast_entry e;
  clattn__clblast_entry_set(&e, "Xgemm", 32, CLATTN__XGEMM_PARAMS, clattn__xgemm_names, v);
  return clattn__clblast_apply(ctx->device, &ctx->info, &e, why, size);
}

static int apply_routine(clattn_context *ctx, size_t threshold, char *why, size_t size) {
  clattn__clblast_entry e;
  clattn__clblast_entry_set(&e, "GemmRoutine", 32, 1, routine_names, &threshold);
  return clattn__clblast_apply(ctx->device, &ctx->info, &e, why, size);
}

static void xgemm_params_text(const size_t *v, char *buf, size_t size) {
  clattn__clblast_entry e;
  clattn__clblast_entry_set(&e, "Xgemm", 32, CLATTN__XGEMM_PARAMS, clattn__xgemm_names, v);
  clattn__clblast_entry_params(&e, buf, size);
}

/* The largest t with t^3 <= x. */
static size_t cube_root_floor(unsigned long long x) {
  unsigned long long t = (unsigned long long)cbrt((double)x);
  while (t > 0 && t * t * t > x) t--;
  while ((t + 1) * (t + 1) * (t + 1) <= x) t++;
  return (size_t)(t ? t : 1);
}

/* One measured configuration: every time taken of it, for the median. */
typedef struct measured {
  int index;       /* into the candidate list; -1 for untuned */
  double gflops;   /* median */
  double *times;
  int count;
} measured;

/* ---- The search ----------------------------------------------------------------------- */

/* How one of the two kernels clattn overrides (Xgemm, GemmRoutine) stood before the search. */
typedef struct kernel_state {
  int has_prior;                  /* clattn had applied `prior` (a tuning file) */
  clattn__clblast_entry prior;
  int has_default;                /* CLBlast's own values are known (clattn__clblast_defaults) */
  clattn__clblast_entry fallback; /* CLBlast's own values, else its generic 1.5.3 default */
} kernel_state;

typedef struct tuner {
  clattn_context *ctx;
  clattn_gemm_tune_options o;
  problem p;
  candidate_list list;
  int total;          /* candidates that will be tried at most */
  kernel_state xgemm, routine;
  int baseline_known; /* "untuned" can be applied again after the candidates changed it */
  measured untuned;
  measured *results;  /* one per tried candidate */
  int tried, failed;
} tuner;

static void kernel_state_find(tuner *t, kernel_state *ks, const char *kernel, size_t count,
                              const char *const *names, const size_t *generic) {
  ks->has_prior = clattn__clblast_current(t->ctx->device, kernel, 32, &ks->prior);
  ks->has_default = clattn__clblast_defaults(&t->ctx->info, kernel, &ks->fallback);
  if (!ks->has_default)
    clattn__clblast_entry_set(&ks->fallback, kernel, 32, (int)count, names, generic);
}

/* The entry that gives "untuned" for one kernel: CLBlast's own values when known, else what
 * a tuning file put in force (an approximation: CLBlast's own are then unknown), else none
 * (CLBlast's own are in force now but cannot be brought back once changed). */
static const clattn__clblast_entry *baseline_entry(const kernel_state *ks) {
  return ks->has_default ? &ks->fallback : ks->has_prior ? &ks->prior : NULL;
}

static int baseline_apply(tuner *t, char *why, size_t size) {
  const kernel_state *states[] = {&t->xgemm, &t->routine};
  for (int i = 0; i < 2; i++) {
    const clattn__clblast_entry *e = baseline_entry(states[i]);
    if (e && clattn__clblast_apply(t->ctx->device, NULL, e, why, size) != 0) return -1;
  }
  return 0;
}

/* Works out how to measure (and later restore) CLBlast's own parameters. */
static void baseline_find(tuner *t) {
  static const size_t generic_xgemm[CLATTN__XGEMM_PARAMS] = {0, 1, 32, 2, 8, 8, 32, 16,
                                                             16, 32, 1, 1, 0, 0, 4, 2};
  static const size_t generic_routine[1] = {896};
  kernel_state_find(t, &t->xgemm, "Xgemm", CLATTN__XGEMM_PARAMS, clattn__xgemm_names,
                    generic_xgemm);
  kernel_state_find(t, &t->routine, "GemmRoutine", 1, routine_names, generic_routine);
  t->baseline_known = baseline_entry(&t->xgemm) && baseline_entry(&t->routine);
}

/* Nothing won: puts back, per kernel, what clattn had applied before, else CLBlast's own
 * values when known, else (noted) the best candidate for Xgemm and CLBlast's generic
 * defaults otherwise, because CLBlast cannot restore its own parameters in a process. */
static void restore_state(tuner *t, int best, char *note, size_t size) {
  char why[512];
  int approximate = 0;
  kernel_state *states[] = {&t->xgemm, &t->routine};
  for (int i = 0; i < 2; i++) {
    const kernel_state *ks = states[i];
    clattn__clblast_entry e;
    if (ks->has_prior) {
      e = ks->prior;
    } else if (ks->has_default) {
      e = ks->fallback;
    } else if (i == 0 && best >= 0) {
      clattn__clblast_entry_set(&e, "Xgemm", 32, CLATTN__XGEMM_PARAMS, clattn__xgemm_names,
                                t->list.items[t->results[best].index].v);
      approximate = 1;
    } else {
      e = ks->fallback;
      approximate = 1;
    }
    clattn__clblast_apply(t->ctx->device, NULL, &e, why, sizeof why);
  }
  snprintf(note, size, "%s",
           approximate ? "clattn_tune_gemm: nothing beat CLBlast's own parameters, which "
                         "CLBlast cannot restore in a process: the best candidate (or CLBlast's "
                         "generic defaults) stay applied until the process ends"
                       : "clattn_tune_gemm: nothing beat CLBlast's own parameters; what was in "
                         "force before stays");
}

/* Measures one candidate (tried index `slot`); fills results[slot]. */
static void candidate_measure(tuner *t, int slot, int index) {
  measured *r = &t->results[slot];
  r->index = index;
  r->count = 0;
  r->gflops = 0.0;
  const size_t *v = t->list.items[index].v;
  char why[512];
  double first;
  int ok = apply_xgemm(t->ctx, v, why, sizeof why) == 0 &&
           apply_routine(t->ctx, FORCE_INDIRECT, why, sizeof why) == 0;
  if (ok) ok = clattn__tune_check(&t->p, t->p.m, &first) == 1;
  if (ok) {
    double cutoff = clattn__tune_median(t->untuned.times, t->untuned.count);
    ok = clattn__tune_time(&t->p, t->p.m, t->o.repeats, cutoff, r->times, &r->count) == CLATTN_SUCCESS;
  }
  if (ok && r->count > 0) {
    double copy[1024];
    memcpy(copy, r->times, (size_t)r->count * sizeof *copy);
    r->gflops = clattn__tune_gflops(&t->p, t->p.m, clattn__tune_median(copy, r->count));
  } else {
    r->count = 0;
    t->failed++;
  }
}

/* Times untuned and the finalists again in alternating rounds, so that a change in the
 * machine's load during the search cannot pick the winner. */
static void final_rounds(tuner *t, int *finalists, int nfinal) {
  char why[512];
  for (int round = 0; round < FINAL_ROUNDS; round++) {
    if (t->baseline_known && baseline_apply(t, why, sizeof why) == 0) {
      clattn__tune_time(&t->p, t->p.m, t->o.repeats, 0.0, t->untuned.times, &t->untuned.count);
    }
    for (int f = 0; f < nfinal; f++) {
      measured *r = &t->results[finalists[f]];
      if (apply_xgemm(t->ctx, t->list.items[r->index].v, why, sizeof why) != 0 ||
          apply_routine(t->ctx, FORCE_INDIRECT, why, sizeof why) != 0)
        continue;
      clattn__tune_time(&t->p, t->p.m, t->o.repeats, 0.0, r->times, &r->count);
    }
  }
  double copy[1024];
  memcpy(copy, t->untuned.times, (size_t)t->untuned.count * sizeof *copy);
  t->untuned.gflops = clattn__tune_gflops(&t->p, t->p.m, clattn__tune_median(copy, t->untuned.count));
  for (int f = 0; f < nfinal; f++) {
    measured *r = &t->results[finalists[f]];
    memcpy(copy, r->times, (size_t)r->count * sizeof *copy);
    r->gflops = clattn__tune_gflops(&t->p, t->p.m, clattn__tune_median(copy, r->count));
  }
}

/* Decides XGEMM_MIN_INDIRECT_SIZE for the winner (applied, indirect forced): times direct
 * against indirect on the tuning shape with fewer rows and returns the smallest threshold
 * from which indirect keeps winning (the tuning shape itself always goes indirect). */
static size_t routine_threshold(tuner *t, const size_t *winner) {
  static const int64_t ladder[] = {1, 16, 64, 256, 1024};
  int64_t rows[8];
  double direct[8], indirect[8];
  int rungs = 0;
  for (size_t i = 0; i < sizeof ladder / sizeof ladder[0]; i++)
    if (ladder[i] < t->p.m) rows[rungs++] = ladder[i];
  unsigned long long nk = (unsigned long long)t->p.n * (unsigned long long)t->p.k;
  size_t top = cube_root_floor((unsigned long long)t->p.m * nk);
  char why[512];
  int repeats = t->o.repeats < 3 ? 3 : t->o.repeats;
  for (int pass = 0; pass < 2; pass++) {
    size_t threshold = pass == 0 ? FORCE_INDIRECT : FORCE_DIRECT;
    if (apply_xgemm(t->ctx, winner, why, sizeof why) != 0 ||
        apply_routine(t->ctx, threshold, why, sizeof why) != 0)
      return top;
    for (int r = 0; r < rungs; r++) {
      double first, times[1024];
      int count = 0;
      if (clattn__tune_check(&t->p, rows[r], &first) != 1 ||
          clattn__tune_time(&t->p, rows[r], repeats, 0.0, times, &count) != CLATTN_SUCCESS)
        return top; /* cannot compare: only the tuning shape and larger go indirect */
      (pass == 0 ? indirect : direct)[r] = clattn__tune_median(times, count);
    }
  }
  int from = rungs; /* first rung from which indirect wins at every larger rung */
  while (from > 0 && indirect[from - 1] <= direct[from - 1]) from--;
  if (from == rungs) return top;
  if (from == 0) return 1; /* indirect wins even for one row: always indirect */
  unsigned long long below = (unsigned long long)rows[from - 1] * nk;
  unsigned long long at = (unsigned long long)rows[from] * nk;
  size_t threshold = cube_root_floor(at);
  if ((unsigned long long)threshold * threshold * threshold <= below)
    threshold = cube_root_floor(below) + 1;
  return threshold < top ? threshold : top;
}

static int options_check(clattn_context *ctx, const clattn_gemm_tune_options *o) {
  if (o->m < 0 || o->n < 0 || o->k < 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "options->m, n and k must be positive (0: the default), got "
                        "%lld x %lld x %lld",
                        (long long)o->m, (long long)o->n, (long long)o->k);
  if (o->max_candidates < 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "options->max_candidates must be >= 0, got %d", o->max_candidates);
  if (o->repeats < 0 || o->repeats > 100)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "options->repeats must be 0 .. 100, got %d",
                        o->repeats);
  if (!(o->max_seconds >= 0.0))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "options->max_seconds must be >= 0, got %g",
                        o->max_seconds);
  return CLATTN_SUCCESS;
}

/* Sizes the device can hold: each operand within one allocation, all within half the
 * device's memory, and dimensions CLBlast's int kernel arguments can take. */
static int shape_check(clattn_context *ctx, int64_t m, int64_t n, int64_t k) {
  const int64_t limit = (int64_t)1 << 24;
  if (m > limit || n > limit || k > limit)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "the GEMM %lld x %lld x %lld is too large",
                        (long long)m, (long long)n, (long long)k);
  double bytes_a = 4.0 * (double)m * (double)k, bytes_b = 4.0 * (double)n * (double)k;
  double bytes_c = 4.0 * ((double)m * (double)n + CANARY);
  double largest = bytes_a > bytes_b ? bytes_a : bytes_b;
  largest = largest > bytes_c ? largest : bytes_c;
  if (largest > (double)ctx->info.max_mem_alloc_size ||
      bytes_a + bytes_b + bytes_c > 0.5 * (double)ctx->info.global_mem_size)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "the GEMM %lld x %lld x %lld needs %.0f MiB, more than the device can "
                        "hold for tuning",
                        (long long)m, (long long)n, (long long)k,
                        (bytes_a + bytes_b + bytes_c) / 1048576.0);
  return CLATTN_SUCCESS;
}

/* Writes the tuning file and updates the context's status. */
static clattn_status store_and_note(tuner *t, const size_t *winner, size_t threshold,
                                    clattn_gemm_tune_result *result) {
  clattn_context *ctx = t->ctx;
  clattn__tuning_status st;
  clattn__context_tuning(ctx, &st);
  clattn__tuning_file file;
  memset(&file, 0, sizeof file);
  clattn__tuning_keep_attention(st.path, &file); /* the attention records stay */
  clattn__clblast_entry_set(&file.entries[0], "Xgemm", 32, CLATTN__XGEMM_PARAMS,
                            clattn__xgemm_names, winner);
  clattn__clblast_entry_set(&file.entries[1], "GemmRoutine", 32, 1, routine_names, &threshold);
  file.count = 2;
  st.state = CLATTN__TUNING_APPLIED;
  st.applied = 2;
  st.rejected = 0;
  st.summary[0] = '\0';
  for (int i = 0; i < file.count; i++) {
    char params[CLATTN__TUNING_MAX_PARAMS * 48];
    clattn__clblast_entry_params(&file.entries[i], params, sizeof params);
    size_t used = strlen(st.summary);
    snprintf(st.summary + used, sizeof st.summary - used, "%s%s/32 %s", i ? "; " : "",
             file.entries[i].kernel, params);
  }
  clattn_status status = CLATTN_SUCCESS;
  if (!t->o.store) {
    snprintf(st.note, sizeof st.note, "applied by clattn_tune_gemm, not stored");
  } else if (!st.path[0]) {
    snprintf(st.note, sizeof st.note, "applied by clattn_tune_gemm; no tuning directory");
    status = clattn__fail(ctx, CLATTN_IO_ERROR,
                          "no tuning directory: set CLATTN_TUNING_DIR, CLATTN_CACHE_DIR or HOME "
                          "(the parameters apply to this process)");
  } else {
    time_t now = time(NULL);
    struct tm utc;
    char date[64] = "unknown";
    if (gmtime_r(&now, &utc)) strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", &utc);
    char comment[2048];
    snprintf(comment, sizeof comment,
             "clattn %s tuning file: CLBlast parameters for one OpenCL device\n"
             "device: %s (%s)\n"
             "driver: %s; platform: %s; CLBlast %d.%d.%d\n"
             "date: %s\n"
             "gemm %lld x %lld x %lld (C = A B^T, row-major, fp32): untuned %.1f GFLOP/s, "
             "tuned %.1f GFLOP/s (%.2fx), %d candidates tried, %d failed\n"
             "XGEMM_MIN_INDIRECT_SIZE: Xgemm (tuned) runs when m*n*k >= %zu^3, XgemmDirect below",
             clattn_version_string(), ctx->info.name, ctx->info.vendor, ctx->info.driver_version,
             ctx->info.platform_version, CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR,
             CLBLAST_VERSION_PATCH, date, (long long)t->p.m, (long long)t->p.n,
             (long long)t->p.k, result->untuned_gflops, result->tuned_gflops,
             result->untuned_gflops > 0 ? result->tuned_gflops / result->untuned_gflops : 0.0,
             result->candidates_tried, result->candidates_failed, threshold);
    char *text = clattn__tuning_format(&file, comment);
    const char *slash = strrchr(st.path, '/');
    char dir[1024];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - st.path) : 1, slash ? st.path : ".");
    if (!text || clattn__tuning_write(dir, slash ? slash + 1 : st.path, text) != 0) {
      snprintf(st.note, sizeof st.note, "applied by clattn_tune_gemm; writing the file failed");
      status = clattn__fail(ctx, CLATTN_IO_ERROR,
                            "cannot write the tuning file %s (the parameters apply to this "
                            "process)",
                            st.path);
    } else {
      snprintf(st.note, sizeof st.note, "written and applied by clattn_tune_gemm");
      snprintf(result->file, sizeof result->file, "%s", st.path);
    }
    free(text);
  }
  clattn__tuning_context_set(ctx, &st);
  return status;
}

static void tuner_release(tuner *t) {
  clattn__tune_problem_release(&t->p);
  free(t->list.items);
  if (t->results)
    for (int i = 0; i < t->total; i++) free(t->results[i].times);
  free(t->results);
  free(t->untuned.times);
}

clattn_status clattn_tune_gemm(clattn_context *ctx, const clattn_gemm_tune_options *options,
                               clattn_gemm_tune_result *result) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!result) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "result must not be NULL");
  tuner *t = calloc(1, sizeof *t);
  if (!t) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  t->ctx = ctx;
  if (options)
    t->o = *options;
  else
    clattn_gemm_tune_options_init(&t->o);
  clattn_status status = options_check(ctx, &t->o);
  if (status != CLATTN_SUCCESS) {
    free(t);
    return status;
  }
  if (t->o.m == 0) t->o.m = DEFAULT_M;
  if (t->o.n == 0) t->o.n = DEFAULT_N;
  if (t->o.k == 0) t->o.k = DEFAULT_K;
  if (t->o.max_candidates == 0) t->o.max_candidates = DEFAULT_CANDIDATES;
  if (t->o.repeats == 0) t->o.repeats = DEFAULT_REPEATS;
  status = shape_check(ctx, t->o.m, t->o.n, t->o.k);
  if (status != CLATTN_SUCCESS) {
    free(t);
    return status;
  }
  double start = clattn__tune_now();
  baseline_find(t);
  status = clattn__tune_problem_create(ctx, t->o.m, t->o.n, t->o.k, &t->p);
  int per_config = t->o.repeats * (1 + FINAL_ROUNDS) + 8;
  if (status == CLATTN_SUCCESS) {
    t->untuned.index = -1;
    t->untuned.times = malloc((size_t)per_config * sizeof(double));
    if (!t->untuned.times) status = clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  }
  /* Untuned: CLBlast's own parameters and routine choice. */
  char why[512];
  if (status == CLATTN_SUCCESS && baseline_apply(t, why, sizeof why) != 0)
    status = clattn__fail(ctx, CLATTN_UNSUPPORTED, "cannot set CLBlast's parameters: %s", why);
  if (status == CLATTN_SUCCESS) {
    double first;
    int check = clattn__tune_check(&t->p, t->p.m, &first);
    if (check != 1)
      status = clattn__fail(ctx, CLATTN_UNSUPPORTED, "CLBlast's own SGEMM %s on this device: %s",
                            check < 0 ? "cannot run" : "gives wrong results", t->p.error);
  }
  if (status == CLATTN_SUCCESS)
    status = clattn__tune_time(&t->p, t->p.m, t->o.repeats, 0.0, t->untuned.times, &t->untuned.count);
  if (status != CLATTN_SUCCESS) {
    tuner_release(t);
    free(t);
    return status;
  }
  {
    double copy[1024];
    memcpy(copy, t->untuned.times, (size_t)t->untuned.count * sizeof *copy);
    t->untuned.gflops = clattn__tune_gflops(&t->p, t->p.m, clattn__tune_median(copy, t->untuned.count));
  }

  /* The candidates. */
  clattn__clblast_entry defaults;
  int have_defaults = clattn__clblast_defaults(&ctx->info, "Xgemm", &defaults);
  if (clattn__tune_candidates(&ctx->info, t->o.seed, have_defaults ? defaults.values : NULL,
                       &t->list) != 0) {
    tuner_release(t);
    free(t);
    return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  }
  t->total = t->list.count < t->o.max_candidates ? t->list.count : t->o.max_candidates;
  t->results = calloc((size_t)(t->total ? t->total : 1), sizeof *t->results);
  for (int i = 0; t->results && i < t->total; i++) {
    t->results[i].times = malloc((size_t)per_config * sizeof(double));
    if (!t->results[i].times) {
      tuner_release(t);
      free(t);
      return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
    }
  }
  if (!t->results) {
    tuner_release(t);
    free(t);
    return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  }
  /* The first half of the budget goes down the list (every tile class early); the second
   * half to the untried candidates nearest the best one so far (a local search). */
  char *tried = calloc((size_t)(t->list.count ? t->list.count : 1), 1);
  if (!tried) {
    tuner_release(t);
    free(t);
    return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  }
  int first_half = (t->total + 1) / 2, best_slot = -1, next_in_order = 0;
  for (int i = 0; i < t->total; i++) {
    if (t->o.max_seconds > 0 && clattn__tune_now() - start >= t->o.max_seconds) break;
    int index = -1;
    if (i >= first_half && best_slot >= 0) {
      const size_t *best_v = t->list.items[t->results[best_slot].index].v;
      double nearest = 1e300;
      for (int c = 0; c < t->list.count; c++) {
        if (tried[c]) continue;
        double d = clattn__tune_distance(t->list.items[c].v, best_v);
        if (d < nearest) {
          nearest = d;
          index = c;
        }
      }
    }
    while (index < 0 && next_in_order < t->list.count)
      if (!tried[next_in_order++]) index = next_in_order - 1;
    if (index < 0) break;
    tried[index] = 1;
    candidate_measure(t, i, index);
    t->tried++;
    if (t->results[i].count > 0 &&
        (best_slot < 0 || t->results[i].gflops > t->results[best_slot].gflops))
      best_slot = i;
    if (t->o.progress) {
      char params[512];
      xgemm_params_text(t->list.items[index].v, params, sizeof params);
      t->o.progress(t->o.user, i + 1, t->total, params, t->results[i].gflops);
    }
  }
  free(tried);

  /* The finalists, timed again against untuned. */
  int finalists[FINALISTS], nfinal = 0;
  for (int i = 0; i < t->tried; i++) {
    if (t->results[i].count == 0) continue;
    int pos = nfinal < FINALISTS ? nfinal++ : FINALISTS;
    while (pos > 0 && t->results[finalists[pos - 1]].gflops < t->results[i].gflops) {
      if (pos < FINALISTS) finalists[pos] = finalists[pos - 1];
      pos--;
    }
    if (pos < FINALISTS) finalists[pos] = i;
  }
  if (nfinal > 0) final_rounds(t, finalists, nfinal);
  int best = -1;
  for (int f = 0; f < nfinal; f++)
    if (best < 0 || t->results[finalists[f]].gflops > t->results[best].gflops) best = finalists[f];

  memset(result, 0, sizeof *result);
  result->untuned_gflops = t->untuned.gflops;
  result->tuned_gflops = t->untuned.gflops;
  result->candidates_tried = t->tried;
  result->candidates_failed = t->failed;
  if (best >= 0 && t->results[best].gflops > t->untuned.gflops) {
    const size_t *winner = t->list.items[t->results[best].index].v;
    size_t threshold = routine_threshold(t, winner);
    /* The final configuration, checked once more (this also compiles it, so that the first
     * GEMM after tuning, and PoCL's cache, are warm). */
    double first;
    int ok = apply_xgemm(ctx, winner, why, sizeof why) == 0 &&
             apply_routine(ctx, threshold, why, sizeof why) == 0 &&
             clattn__tune_check(&t->p, t->p.m, &first) == 1;
    if (!ok && threshold != FORCE_INDIRECT) {
      threshold = FORCE_INDIRECT;
      ok = apply_routine(ctx, threshold, why, sizeof why) == 0 &&
           clattn__tune_check(&t->p, t->p.m, &first) == 1;
    }
    if (ok) {
      result->tuned_gflops = t->results[best].gflops;
      xgemm_params_text(winner, result->params, sizeof result->params);
      status = store_and_note(t, winner, threshold, result);
    } else {
      /* The winner failed its last check: treat it as nothing won. */
      char note[512];
      restore_state(t, -1, note, sizeof note);
    }
  } else {
    char note[512];
    restore_state(t, best, note, sizeof note);
    clattn__tuning_status st;
    clattn__context_tuning(ctx, &st);
    snprintf(st.note, sizeof st.note, "%s", note);
    clattn__tuning_context_set(ctx, &st);
  }
  tuner_release(t);
  free(t);
  return status;
}
