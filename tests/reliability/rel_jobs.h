/* The attention calls the concurrency and multi-process cache tests run. Each job is one
 * call (fused forward, split-KV decode or attention weights) on deterministic random inputs,
 * with kernel variants no other test builds (odd head dimensions, mixed storage types, ALiBi,
 * softcap), so a fresh cache directory starts them cold. rel_job_run never ends the test, so
 * that it can run on a worker thread; the main thread then compares results bitwise
 * (rel_result_equal) and against the double-precision reference (rel_job_check). */
#ifndef CLATTN_TEST_REL_JOBS_H
#define CLATTN_TEST_REL_JOBS_H

#include <clattn.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef enum rel_kind { REL_FORWARD = 0, REL_WEIGHTS = 1 } rel_kind;

typedef struct rel_job {
  const char *name;
  rel_kind kind;
  int64_t batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_dim;
  clattn_dtype q_type, k_type, v_type, o_type; /* o_type: O, or the weights */
  int causal;
  float softcap;
  int kv_splits;
  int alibi;
  uint64_t seed;
} rel_job;

typedef struct rel_result {
  int ok;               /* 0: message says what failed */
  char message[512];
  unsigned char *out;   /* O (forward) or the weights, as stored */
  size_t out_bytes;
  float *lse;           /* forward only */
  size_t lse_count;
} rel_result;

extern const rel_job rel_jobs[];
extern const size_t rel_job_count;

/* Runs one job on ctx and queue (NULL: the context's queue), blocking until it is done; a
 * canary after the output must survive. Never ends the test: failures go to r->message. */
void rel_job_run(clattn_context *ctx, cl_command_queue queue, const rel_job *job,
                 rel_result *r);
/* Checks a result against the fp64 reference under DESIGN.md's tolerances; ends the test
 * on a mismatch or a failed run. Prints one line. */
void rel_job_check(const rel_job *job, const rel_result *r);
/* 1 when both ran and their outputs are bitwise equal. */
int rel_result_equal(const rel_result *a, const rel_result *b);
void rel_result_free(rel_result *r);

/* Writes / reads a result (outputs only) to / from a stream; 0 on success. */
int rel_result_write(FILE *f, const rel_result *r);
int rel_result_read(FILE *f, rel_result *r);

#endif
