/* The pieces of clattn_tune_gemm (gemm_tune.c): the candidate parameter sets
 * (gemm_tune_space.c) and running, checking and timing one GEMM (gemm_tune_problem.c). */
#ifndef CLATTN_GEMM_TUNE_H
#define CLATTN_GEMM_TUNE_H

#include <stdint.h>

#include "clattn.h"
#include "tuning.h"

#define CANARY 256 /* floats after C that no GEMM may touch */

typedef struct candidate {
  size_t v[CLATTN__XGEMM_PARAMS];
  double score;
} candidate;

typedef struct candidate_list {
  candidate *items;
  int count, capacity;
} candidate_list;

typedef struct problem {
  clattn_context *ctx;
  cl_command_queue queue;
  int64_t m, n, k;
  cl_mem a, b, c;
  float *ha, *hb, *hc; /* A, B and a read-back buffer for C (m*n + CANARY) */
  char error[1024];    /* why the last run failed or was wrong */
} problem;

/* Every candidate Xgemm parameter set for the device, ordered so that a short search sees
 * the most promising of each kernel family first; `device_defaults` (may be NULL) is
 * CLBlast's own set, included. Returns 0, or -1 when out of memory. */
int clattn__tune_candidates(const clattn_device_info *info, unsigned seed,
                            const size_t *device_defaults, candidate_list *out);
/* How far apart two parameter sets are (for searching near the best one). */
double clattn__tune_distance(const size_t *a, const size_t *b);

/* A GEMM problem of the tuning shape: device and host operands, C followed by canaries. */
clattn_status clattn__tune_problem_create(clattn_context *ctx, int64_t m, int64_t n,
                                          int64_t k, problem *p);
void clattn__tune_problem_release(problem *p);
/* Runs the first `rows` rows once and checks sampled entries against a double-precision
 * product and the canaries; 1 when right (p->error says why not). *first: its seconds. */
int clattn__tune_check(problem *p, int64_t rows, double *first);
/* Times `repeats` runs into times[*count ...], stopping early when far slower than cutoff. */
clattn_status clattn__tune_time(problem *p, int64_t rows, int repeats, double cutoff,
                                double *times, int *count);
double clattn__tune_gflops(const problem *p, int64_t rows, double seconds);

double clattn__tune_now(void);
double clattn__tune_median(double *values, int n); /* sorts values */
uint64_t clattn__tune_random(uint64_t *state);

#endif
