/*
 * What bench_attention measured, and how it is printed: a table for people and, on request,
 * a JSON file for scripts.
 */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "bench_paths.h"
#include "clattn.h"

#define BENCH_MAX_RUNS 100
#define BENCH_MAX_CASES 32
#define BENCH_TOLERANCE 1e-3 /* max relative error accepted against the fused output */

typedef enum bench_state {
  BENCH_NOT_RUN = 0,
  BENCH_OK = 1,      /* measured and checked */
  BENCH_SKIPPED = 2, /* not attempted; note says why */
  BENCH_FAILED = 3   /* an error stopped it; note says which */
} bench_state;

typedef struct bench_result {
  bench_state state;
  char note[1024];       /* why skipped or failed; empty otherwise */
  char config[160];      /* kernel configuration */
  double first_call_s;   /* wall: program build or lookup + first run to completion */
  char first_origin[32]; /* how the program was obtained: "compiled", "disk cache", ... */
  int warmups;           /* runs after the first call, untimed */
  int runs;              /* timed runs */
  double times[BENCH_MAX_RUNS]; /* profiled seconds per run, sorted ascending */
  double kernel_median[BENCH_MAX_KERNELS]; /* unfused: median seconds of each kernel */
  double median_s, wall_median_s;
  int checked;           /* max_rel_error is meaningful */
  double max_rel_error;  /* vs the fused output; fused: vs an fp64 host reference */
  int mismatch;          /* max_rel_error > BENCH_TOLERANCE, or unchecked */
} bench_result;

typedef struct bench_case {
  char name[48];          /* as given to --cases */
  bench_shape shape;
  double flops;           /* 4 * B * H * (attended pairs) * D */
  size_t fused_bytes;     /* device bytes of Q, K, V and O */
  long rss_growth;        /* bytes the process grew by while the fused path ran; -1: unknown */
  bench_result results[BENCH_IMPLS];
} bench_case;

typedef struct bench_run_info {
  clattn_device_info device;
  clattn_ceilings ceilings, ceilings_end; /* measured before and after the cases */
  double fma_gflops;    /* the higher FMA figure of the two: the yardstick for %FMA */
  int ceiling_repeats;
  int repeats;          /* timed runs asked for */
  int repeats_explicit; /* --repeats given: no capping of slow runs */
  const char *attention_config; /* CLATTN_ATTENTION_CONFIG, or NULL */
  double total_s;
} bench_run_info;

/* GFLOP/s of one run time for a case. */
double bench_gflops(const bench_case *c, double seconds);

/* The readable table, notes and a legend. */
void bench_report_print(FILE *out, const bench_run_info *info, const bench_case *cases,
                        int count);

/* The same as one JSON object (no trailing newline), for a caller that embeds it. */
void bench_report_json_write(FILE *f, const bench_run_info *info, const bench_case *cases,
                             int count);

/* The same as a JSON file; returns 0, or -1 when the file cannot be written. */
int bench_report_json(const char *path, const bench_run_info *info, const bench_case *cases,
                      int count);

#endif /* BENCH_REPORT_H */
