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
 *
 * The search space depends on the device type. CPUs (PoCL) run each work-item's loops as
 * written and vectorize only explicit vector types, so candidates there use wide vectors
 * (VWM 8 or 16 floats: AVX2/AVX-512), no local memory (SA=SB=0: __local is ordinary cached
 * memory and its barriers only cost), small work-groups and large register tiles (MWG/MDIMC x
 * NWG/NDIMC outputs per work-item), for both of CLBlast's kernels (GEMMK=0, and GEMMK=1 with
 * 2D register tiling along K). GPUs get CLBlast's own tuner space (local memory on, 64-256
 * work-items). Each family is ordered by a heuristic score and the families are interleaved,
 * so that a short search still sees both kernels; CLBlast's own default sets are included.
 */
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "context.h"
#include "errors.h"
#include "gemm.h"
#include "tuning.h"

#define DEFAULT_M 4096
#define DEFAULT_N 512
#define DEFAULT_K 512
#define DEFAULT_CANDIDATES 48
#define DEFAULT_REPEATS 5
#define CANARY 256            /* floats after C that no GEMM may touch */
#define SAMPLES 256           /* entries of C checked against the host reference */
#define FINALISTS 3           /* best candidates timed again against untuned */
#define FINAL_ROUNDS 2        /* alternating rounds of that final comparison */
#define FORCE_INDIRECT 1      /* XGEMM_MIN_INDIRECT_SIZE: m*n*k < 1 never holds */
#define FORCE_DIRECT 1048576  /* 2^60 > any m*n*k clattn could run */
#define CANARY_VALUE 1234.5f

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

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double median(double *values, int n) {
  qsort(values, (size_t)n, sizeof *values, compare_doubles);
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

static uint64_t next_random(uint64_t *state) {
  uint64_t x = *state ? *state : 0x9e3779b97f4a7c15ull;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

/* ---- Candidates ----------------------------------------------------------------------- */

typedef struct candidate {
  size_t v[CLATTN__XGEMM_PARAMS];
  double score;
} candidate;

typedef struct candidate_list {
  candidate *items;
  int count, capacity;
} candidate_list;

static int list_has(const candidate_list *list, const size_t *v) {
  for (int i = 0; i < list->count; i++)
    if (memcmp(list->items[i].v, v, sizeof list->items[i].v) == 0) return 1;
  return 0;
}

/* Adds a valid, new parameter set; returns -1 only when out of memory. */
static int list_add(candidate_list *list, const size_t *v, double score,
                    const clattn_device_info *info) {
  char why[256];
  if (!clattn__xgemm_check(v, info, why, sizeof why) || list_has(list, v)) return 0;
  if (list->count == list->capacity) {
    int grown = list->capacity ? 2 * list->capacity : 256;
    candidate *items = realloc(list->items, (size_t)grown * sizeof *items);
    if (!items) return -1;
    list->items = items;
    list->capacity = grown;
  }
  memcpy(list->items[list->count].v, v, sizeof list->items[0].v);
  list->items[list->count].score = score;
  list->count++;
  return 0;
}

static int by_score(const void *a, const void *b) {
  double x = ((const candidate *)a)->score, y = ((const candidate *)b)->score;
  return x > y ? -1 : x < y;
}

static void xgemm_set(size_t *v, size_t gemmk, size_t kreg, size_t kwg, size_t kwi, size_t mdimc,
                      size_t mwg, size_t ndimc, size_t nwg, size_t sa, size_t sb, size_t strm,
                      size_t strn, size_t vwm, size_t vwn) {
  v[CLATTN__GEMMK] = gemmk;
  v[CLATTN__KREG] = kreg;
  v[CLATTN__KWG] = kwg;
  v[CLATTN__KWI] = kwi;
  v[CLATTN__MDIMA] = mdimc;
  v[CLATTN__MDIMC] = mdimc;
  v[CLATTN__MWG] = mwg;
  v[CLATTN__NDIMB] = ndimc;
  v[CLATTN__NDIMC] = ndimc;
  v[CLATTN__NWG] = nwg;
  v[CLATTN__SA] = sa;
  v[CLATTN__SB] = sb;
  v[CLATTN__STRM] = strm;
  v[CLATTN__STRN] = strn;
  v[CLATTN__VWM] = vwm;
  v[CLATTN__VWN] = vwn;
}

/* CPU score: outputs per loaded element (the register tile's arithmetic intensity), less
 * where the live values (accumulators + operands, in floats) pass what 32 vector registers
 * of 8 or 16 floats can plausibly hold, or the work-group is very small or large. On the
 * development machine (PoCL, AVX-512) 16x16 tiles measured best and 8x8 ones about half as
 * fast, so the penalty only starts beyond 320 live floats. */
static double cpu_score(double mwi, double nwi, double live, double threads, double vwm) {
  double score = mwi * nwi / (mwi + nwi);
  if (live > 320) score *= 320 / live;
  if (threads < 4 || threads > 64) score *= 0.85;
  if (vwm > 8) score *= 0.6; /* measured 2-4x slower on PoCL: float16 is two registers */
  return score;
}

static int cpu_family_gemmk0(candidate_list *list, const clattn_device_info *info) {
  static const size_t vwms[] = {8, 16}, vwns[] = {4, 8};
  static const size_t dims[][2] = {{4, 4}, {2, 8}, {8, 2},  {8, 4},
                                   {4, 8}, {8, 8}, {16, 4}, {16, 8}};
  static const size_t mwis[] = {8, 16, 32}, nwis[] = {4, 8, 16, 32};
  static const size_t kwgs[] = {16, 32}, kwis[] = {2, 8};
  size_t v[CLATTN__XGEMM_PARAMS];
  for (size_t a = 0; a < 2; a++)
    for (size_t b = 0; b < 2; b++)
      for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
        for (size_t i = 0; i < 3; i++)
          for (size_t j = 0; j < 4; j++)
            for (size_t g = 0; g < 2; g++)
              for (size_t w = 0; w < 2; w++) {
                size_t mdimc = dims[d][0], ndimc = dims[d][1], mwi = mwis[i], nwi = nwis[j];
                double live = (double)(mwi * nwi + mwi + nwi);
                if (mwi * nwi > 256) continue;
                xgemm_set(v, 0, 1, kwgs[g], kwis[w], mdimc, mdimc * mwi, ndimc, ndimc * nwi, 0,
                          0, 0, 0, vwms[a], vwns[b]);
                double score = cpu_score((double)mwi, (double)nwi, live,
                                         (double)(mdimc * ndimc), (double)vwms[a]);
                if (kwis[w] != 2) score *= 0.97;
                if (kwgs[g] != 32) score *= 0.98;
                if (vwns[b] != 8) score *= 0.97;
                if (list_add(list, v, score, info) != 0) return -1;
              }
  return 0;
}

static int cpu_family_gemmk1(candidate_list *list, const clattn_device_info *info) {
  static const size_t vwms[] = {8, 16}, vwns[] = {2, 4, 8}, kregs[] = {4, 8, 16};
  static const size_t dims[][2] = {{2, 4}, {4, 4}, {2, 2}, {4, 2}, {8, 8}, {8, 4}, {4, 8}};
  static const size_t wgs[] = {32, 64, 128};
  size_t v[CLATTN__XGEMM_PARAMS];
  for (size_t a = 0; a < 2; a++)
    for (size_t b = 0; b < 3; b++)
      for (size_t r = 0; r < 3; r++)
        for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++)
          for (size_t w = 0; w < 3; w++)
            for (size_t u = 0; u < 3; u++) {
              size_t mdimc = dims[d][0], ndimc = dims[d][1], mwg = wgs[w], nwg = wgs[u];
              size_t mwi = mwg / mdimc, nwi = nwg / ndimc, kreg = kregs[r];
              if (mwi * nwi > 256 || mwi == 0 || nwi == 0) continue;
              /* accumulators + B tile (KREG x MWI) + A tile (NWI x KREG) */
              double live = (double)(mwi * nwi + kreg * mwi + nwi * kreg);
              xgemm_set(v, 1, kreg, 1, 1, mdimc, mwg, ndimc, nwg, 0, 0, 0, 0, vwms[a], vwns[b]);
              double score = cpu_score((double)mwi, (double)nwi, live, (double)(mdimc * ndimc),
                                       (double)vwms[a]);
              if (list_add(list, v, score, info) != 0) return -1;
            }
  return 0;
}

/* GPUs and accelerators: CLBlast's tuner space (its "kernel 0, variation 1" and GEMMK=1 sets). */
static int gpu_family_gemmk0(candidate_list *list, const clattn_device_info *info) {
  static const size_t wgs[] = {32, 64, 128}, dims[] = {8, 16, 32}, vws[] = {1, 2, 4};
  static const size_t kwgs[] = {16, 32};
  size_t v[CLATTN__XGEMM_PARAMS];
  for (size_t s = 0; s < 2; s++)
    for (size_t g = 0; g < 2; g++)
      for (size_t a = 0; a < 3; a++)
        for (size_t b = 0; b < 3; b++)
          for (size_t c = 0; c < 3; c++)
            for (size_t d = 0; d < 3; d++)
              for (size_t e = 0; e < 3; e++)
                for (size_t f = 0; f < 3; f++) {
                  size_t mwg = wgs[a], nwg = wgs[b], mdimc = dims[c], ndimc = dims[d];
                  double threads = (double)(mdimc * ndimc);
                  double mwi = (double)mwg / (double)mdimc, nwi = (double)nwg / (double)ndimc;
                  xgemm_set(v, 0, 1, kwgs[g], 2, mdimc, mwg, ndimc, nwg, 1 - s, 1 - s, 0, 0,
                            vws[e], vws[f]);
                  double score = mwi * nwi / (mwi + nwi);
                  if (threads < 64 || threads > 256) score *= 0.8;
                  if (mwi * nwi > 64) score *= 0.7;
                  if (s) score *= 0.9; /* without local memory */
                  if (list_add(list, v, score, info) != 0) return -1;
                }
  return 0;
}

static int gpu_family_gemmk1(candidate_list *list, const clattn_device_info *info) {
  static const size_t wgs[] = {16, 32, 64}, dims[] = {4, 8, 16}, vws[] = {1, 2, 4};
  static const size_t kregs[] = {1, 2, 4};
  size_t v[CLATTN__XGEMM_PARAMS];
  for (size_t a = 0; a < 3; a++)
    for (size_t c = 0; c < 3; c++)
      for (size_t d = 0; d < 3; d++)
        for (size_t e = 0; e < 3; e++)
          for (size_t r = 0; r < 3; r++) {
            size_t mwg = wgs[a], mdimc = dims[c], ndimc = dims[d];
            double threads = (double)(mdimc * ndimc);
            double mwi = (double)mwg / (double)mdimc, nwi = (double)mwg / (double)ndimc;
            xgemm_set(v, 1, kregs[r], 1, 1, mdimc, mwg, ndimc, mwg, 0, 0, 0, 0, vws[e], vws[e]);
            double score = 0.9 * mwi * nwi / (mwi + nwi);
            if (threads < 32 || threads > 256) score *= 0.8;
            if (list_add(list, v, score, info) != 0) return -1;
          }
  return 0;
}

/* Outputs per work-item along M and N: what most decides a candidate's speed. */
static size_t tile_m(const size_t *v) { return v[CLATTN__MWG] / v[CLATTN__MDIMC]; }
static size_t tile_n(const size_t *v) { return v[CLATTN__NWG] / v[CLATTN__NDIMC]; }

static int same_class(const size_t *a, const size_t *b) {
  return a[CLATTN__GEMMK] == b[CLATTN__GEMMK] && tile_m(a) == tile_m(b) && tile_n(a) == tile_n(b);
}

/* Reorders a score-sorted family in sweeps that take the best remaining candidate of each
 * register-tile class (GEMMK, MWI, NWI) once, so that the first candidates cover the tile
 * shapes rather than many variants of one. */
static int diversify(candidate_list *family) {
  int n = family->count;
  candidate *ordered = malloc((size_t)(n ? n : 1) * sizeof *ordered);
  char *taken = calloc((size_t)(n ? n : 1), 1);
  if (!ordered || !taken) {
    free(ordered);
    free(taken);
    return -1;
  }
  int out = 0;
  while (out < n) {
    int sweep = out;
    for (int i = 0; i < n; i++) {
      if (taken[i]) continue;
      int seen = 0;
      for (int j = sweep; j < out && !seen; j++)
        seen = same_class(ordered[j].v, family->items[i].v);
      if (seen) continue;
      ordered[out++] = family->items[i];
      taken[i] = 1;
    }
  }
  memcpy(family->items, ordered, (size_t)n * sizeof *ordered);
  free(ordered);
  free(taken);
  return 0;
}

/* How far apart two parameter sets are, for the second half of the search, which tries the
 * untried candidates nearest the best one measured so far. */
static double distance(const size_t *a, const size_t *b) {
  if (a[CLATTN__GEMMK] != b[CLATTN__GEMMK]) return 100.0;
  double d = fabs(log2((double)tile_m(a) / (double)tile_m(b))) +
             fabs(log2((double)tile_n(a) / (double)tile_n(b)));
  static const int minor[] = {CLATTN__MDIMC, CLATTN__NDIMC, CLATTN__VWM, CLATTN__VWN,
                              CLATTN__KWG,   CLATTN__KWI,   CLATTN__KREG, CLATTN__SA,
                              CLATTN__SB,    CLATTN__STRM,  CLATTN__STRN};
  for (size_t i = 0; i < sizeof minor / sizeof minor[0]; i++)
    d += a[minor[i]] != b[minor[i]] ? (i < 2 ? 0.5 : 0.25) : 0.0;
  return d;
}

/* The ordered candidate list: each family sorted by score and spread over its tile classes
 * (diversify), the two families interleaved, CLBlast's own default sets from the 9th place on
 * (unless they are the device's current defaults, which "untuned" already measures). With a
 * seed, scores get a random factor in [0.7, 1.3]. */
static int candidates_build(const clattn_device_info *info, unsigned seed,
                            const size_t *device_defaults, candidate_list *out) {
  candidate_list families[2] = {{NULL, 0, 0}, {NULL, 0, 0}};
  int cpu = (info->type & CL_DEVICE_TYPE_CPU) != 0;
  int failed = cpu ? cpu_family_gemmk0(&families[0], info) || cpu_family_gemmk1(&families[1], info)
                   : gpu_family_gemmk0(&families[0], info) || gpu_family_gemmk1(&families[1], info);
  uint64_t state = seed ? 0x853c49e6748fea9bull ^ seed : 0;
  for (int f = 0; f < 2 && !failed; f++) {
    if (seed)
      for (int i = 0; i < families[f].count; i++)
        families[f].items[i].score *=
            0.7 + 0.6 * (double)(next_random(&state) >> 11) / 9007199254740992.0;
    qsort(families[f].items, (size_t)families[f].count, sizeof(candidate), by_score);
    failed = diversify(&families[f]) != 0;
  }
  /* CLBlast 1.5.3's generic default and its Intel CPU default (see tuning.c). */
  static const size_t clblast_sets[][CLATTN__XGEMM_PARAMS] = {
      {0, 1, 32, 2, 8, 8, 32, 16, 16, 32, 1, 1, 0, 0, 4, 2},
      {0, 1, 32, 2, 16, 16, 64, 8, 8, 64, 0, 0, 0, 0, 4, 4}};
  int next[2] = {0, 0}, sets = 0, family = 0;
  while (!failed) {
    const size_t *v = NULL;
    double score = 0.0;
    int exhausted = next[0] >= families[0].count && next[1] >= families[1].count;
    if (sets < 2 && (out->count >= 8 || exhausted)) {
      v = clblast_sets[sets++];
      if (device_defaults && memcmp(v, device_defaults, sizeof clblast_sets[0]) == 0) continue;
    } else if (exhausted) {
      break;
    } else {
      if (next[family] >= families[family].count) family = 1 - family;
      const candidate *c = &families[family].items[next[family]++];
      v = c->v;
      score = c->score;
      family = 1 - family;
    }
    failed = list_add(out, v, score, info) != 0;
  }
  free(families[0].items);
  free(families[1].items);
  return failed ? -1 : 0;
}

/* ---- Running and checking one GEMM ---------------------------------------------------- */

typedef struct problem {
  clattn_context *ctx;
  cl_command_queue queue;
  int64_t m, n, k;
  cl_mem a, b, c;
  float *ha, *hb, *hc; /* A, B and a read-back buffer for C (m*n + CANARY) */
  char error[1024];    /* why the last run failed or was wrong */
} problem;

static void problem_release(problem *p) {
  if (p->a) clReleaseMemObject(p->a);
  if (p->b) clReleaseMemObject(p->b);
  if (p->c) clReleaseMemObject(p->c);
  free(p->ha);
  free(p->hb);
  free(p->hc);
}

static clattn_status problem_create(clattn_context *ctx, int64_t m, int64_t n, int64_t k,
                                    problem *p) {
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
    p->ha[i] = (float)((double)(next_random(&state) >> 11) / 4503599627370496.0 - 1.0);
  for (size_t i = 0; i < nb; i++)
    p->hb[i] = (float)((double)(next_random(&state) >> 11) / 4503599627370496.0 - 1.0);
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
  double start = now_seconds();
  clattn_status status = clattn__sgemm(p->ctx, p->queue, rows, p->n, p->k, 1.0f, &a, &b, 1, 0.0f,
                                       &c, 0, NULL, NULL);
  cl_int err = status == CLATTN_SUCCESS ? clFinish(p->queue) : CL_SUCCESS;
  *seconds = now_seconds() - start;
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
static int gemm_check(problem *p, int64_t rows, double *first) {
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
      i = (int64_t)(next_random(&state) % (uint64_t)rows);
      j = (int64_t)(next_random(&state) % (uint64_t)p->n);
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
static clattn_status gemm_time(problem *p, int64_t rows, int repeats, double cutoff,
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

static double gflops_of(const problem *p, int64_t rows, double seconds) {
  return seconds > 0 ? 2.0 * (double)rows * (double)p->n * (double)p->k / seconds * 1e-9 : 0.0;
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
  if (ok) ok = gemm_check(&t->p, t->p.m, &first) == 1;
  if (ok) {
    double cutoff = median(t->untuned.times, t->untuned.count);
    ok = gemm_time(&t->p, t->p.m, t->o.repeats, cutoff, r->times, &r->count) == CLATTN_SUCCESS;
  }
  if (ok && r->count > 0) {
    double copy[1024];
    memcpy(copy, r->times, (size_t)r->count * sizeof *copy);
    r->gflops = gflops_of(&t->p, t->p.m, median(copy, r->count));
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
      gemm_time(&t->p, t->p.m, t->o.repeats, 0.0, t->untuned.times, &t->untuned.count);
    }
    for (int f = 0; f < nfinal; f++) {
      measured *r = &t->results[finalists[f]];
      if (apply_xgemm(t->ctx, t->list.items[r->index].v, why, sizeof why) != 0 ||
          apply_routine(t->ctx, FORCE_INDIRECT, why, sizeof why) != 0)
        continue;
      gemm_time(&t->p, t->p.m, t->o.repeats, 0.0, r->times, &r->count);
    }
  }
  double copy[1024];
  memcpy(copy, t->untuned.times, (size_t)t->untuned.count * sizeof *copy);
  t->untuned.gflops = gflops_of(&t->p, t->p.m, median(copy, t->untuned.count));
  for (int f = 0; f < nfinal; f++) {
    measured *r = &t->results[finalists[f]];
    memcpy(copy, r->times, (size_t)r->count * sizeof *copy);
    r->gflops = gflops_of(&t->p, t->p.m, median(copy, r->count));
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
      if (gemm_check(&t->p, rows[r], &first) != 1 ||
          gemm_time(&t->p, rows[r], repeats, 0.0, times, &count) != CLATTN_SUCCESS)
        return top; /* cannot compare: only the tuning shape and larger go indirect */
      (pass == 0 ? indirect : direct)[r] = median(times, count);
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
  problem_release(&t->p);
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
  double start = now_seconds();
  baseline_find(t);
  status = problem_create(ctx, t->o.m, t->o.n, t->o.k, &t->p);
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
    int check = gemm_check(&t->p, t->p.m, &first);
    if (check != 1)
      status = clattn__fail(ctx, CLATTN_UNSUPPORTED, "CLBlast's own SGEMM %s on this device: %s",
                            check < 0 ? "cannot run" : "gives wrong results", t->p.error);
  }
  if (status == CLATTN_SUCCESS)
    status = gemm_time(&t->p, t->p.m, t->o.repeats, 0.0, t->untuned.times, &t->untuned.count);
  if (status != CLATTN_SUCCESS) {
    tuner_release(t);
    free(t);
    return status;
  }
  {
    double copy[1024];
    memcpy(copy, t->untuned.times, (size_t)t->untuned.count * sizeof *copy);
    t->untuned.gflops = gflops_of(&t->p, t->p.m, median(copy, t->untuned.count));
  }

  /* The candidates. */
  clattn__clblast_entry defaults;
  int have_defaults = clattn__clblast_defaults(&ctx->info, "Xgemm", &defaults);
  if (candidates_build(&ctx->info, t->o.seed, have_defaults ? defaults.values : NULL,
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
    if (t->o.max_seconds > 0 && now_seconds() - start >= t->o.max_seconds) break;
    int index = -1;
    if (i >= first_half && best_slot >= 0) {
      const size_t *best_v = t->list.items[t->results[best_slot].index].v;
      double nearest = 1e300;
      for (int c = 0; c < t->list.count; c++) {
        if (tried[c]) continue;
        double d = distance(t->list.items[c].v, best_v);
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
             gemm_check(&t->p, t->p.m, &first) == 1;
    if (!ok && threshold != FORCE_INDIRECT) {
      threshold = FORCE_INDIRECT;
      ok = apply_routine(ctx, threshold, why, sizeof why) == 0 &&
           gemm_check(&t->p, t->p.m, &first) == 1;
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
