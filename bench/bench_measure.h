/*
 * Runs one benchmark case: makes the inputs, times each path (first call, warm-up, timed
 * runs), and checks every output against the fused one.
 */
#ifndef BENCH_MEASURE_H
#define BENCH_MEASURE_H

#include "bench_report.h"
#include "clattn.h"

/* Paths that would take longer than this many FLOPs per run are skipped for the naive
 * kernel (~5 GFLOP/s on the development CPU: 100 GFLOP is 20 s per run). */
#define BENCH_NAIVE_MAX_FLOPS 100e9

typedef struct bench_measure_options {
  int repeats;          /* timed runs */
  int repeats_explicit; /* 0: runs that take over 1 s get min(repeats, 5) and no warm-up */
} bench_measure_options;

/* Measures every path of case `c` (shape, name and flops filled in) and fills its results.
 * *naive_gflops carries the naive kernel's last measured rate from case to case (for the
 * estimate printed when it is skipped); start it at 0. Returns 0 when every path that ran
 * succeeded and matched, 1 otherwise (the results say which). */
int bench_case_run(clattn_context *ctx, const bench_measure_options *options, bench_case *c,
                   double *naive_gflops);

#endif /* BENCH_MEASURE_H */
