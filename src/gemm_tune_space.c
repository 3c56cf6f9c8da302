/* The candidate Xgemm parameter sets of the tuner (see gemm_tune.c for the search).
 *
 * The space depends on the device type. CPUs (PoCL) run each work-item's loops as written and
 * vectorize only explicit vector types, so candidates there use wide vectors (VWM 8 or 16
 * floats: AVX2/AVX-512), no local memory (SA=SB=0: __local is ordinary cached memory and its
 * barriers only cost), small work-groups and large register tiles (MWG/MDIMC x NWG/NDIMC
 * outputs per work-item), for both of CLBlast's kernels (GEMMK=0, and GEMMK=1 with 2D register
 * tiling along K). GPUs get CLBlast's own tuner space (local memory on, 64-256 work-items).
 * Each family is ordered by a heuristic score and the families are interleaved, so that a
 * short search still sees both kernels; CLBlast's own default sets are included. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gemm_tune.h"

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
double clattn__tune_distance(const size_t *a, const size_t *b) {
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
int clattn__tune_candidates(const clattn_device_info *info, unsigned seed,
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
            0.7 + 0.6 * (double)(clattn__tune_random(&state) >> 11) / 9007199254740992.0;
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
