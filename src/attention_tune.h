/* The pieces of clattn_tune_attention (attention_tune.c): one tuning problem, i.e. random
 * Q, K, V (and a mask) of one entry's storage type, head dimension and masking, run through
 * clattn_attention_forward, checked against a double-precision reference on sampled rows
 * (attention_tune_problem.c) and timed with profiling events. */
#ifndef CLATTN_ATTENTION_TUNE_H
#define CLATTN_ATTENTION_TUNE_H

#include "clattn.h"

#define CLATTN__ATUNE_HEADS 8
#define CLATTN__ATUNE_SAMPLES 32  /* query rows checked against the reference */
#define CLATTN__ATUNE_CANARY 64   /* floats after O that no run may touch */

typedef struct clattn__atune_problem {
  clattn_context *ctx;
  clattn_dtype dtype; /* of Q, K and V; O is f32 */
  int seq, head_dim;
  clattn_tune_masking masking;
  cl_mem q, k, v, o, mask;
  float *hq, *hk, *hv;       /* the inputs, exact in every storage type */
  unsigned char *hmask;      /* S x S, 1 = attend (TENSOR masking only) */
  float *ho;                 /* read-back of O and its canary */
  int rows[CLATTN__ATUNE_SAMPLES]; /* sampled (head * S + row) */
  double *ref;               /* their reference outputs, SAMPLES x D */
  char error[512];           /* why the last run failed or was wrong */
} clattn__atune_problem;

clattn_status clattn__atune_problem_create(clattn_context *ctx, clattn_dtype dtype, int seq,
                                           int head_dim, clattn_tune_masking masking,
                                           clattn__atune_problem *p);
void clattn__atune_problem_release(clattn__atune_problem *p);

/* Runs once with the configuration in force (the context's override) on a NaN-filled O and
 * checks it: no NaN left, canary intact, sampled rows within 1e-5 + 1e-4 |ref|. 1 right,
 * 0 wrong, -1 did not run (build failure, ...); p->error says why. */
int clattn__atune_check(clattn__atune_problem *p);

/* Times up to `repeats` runs into times[*count ...] (kernel time from profiling events),
 * stopping after a run slower than 3 x cutoff (cutoff 0: never). */
clattn_status clattn__atune_time(clattn__atune_problem *p, int repeats, double cutoff,
                                 double *times, int *count);

/* 4 B H Sq Skv D, counting only the attended pairs with causal masking. */
double clattn__atune_gflops(const clattn__atune_problem *p, double seconds);

#endif
