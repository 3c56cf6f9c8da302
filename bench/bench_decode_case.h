/*
 * The decode step of an inference loop: one new query token per sequence attending over a
 * long KV cache, measured as the bandwidth of reading K and V once against the triad
 * bandwidth measured right before each call (clattn_measure_ceilings, one 96 MiB run), so
 * that both see the same load on a shared machine. Used by bench_decode and `clattn bench`.
 */
#ifndef BENCH_DECODE_CASE_H
#define BENCH_DECODE_CASE_H

#include <stddef.h>

#include "clattn.h"

#define BENCH_DECODE_MAX_REPEATS 64
#define BENCH_DECODE_TOLERANCE 1e-4 /* split-KV against one-pass, max relative */

/* fp32, B = 1, Sq = 1, causal bottom-right. */
typedef struct bench_decode_case {
  int q_heads, kv_heads, kv_len, head_dim;
} bench_decode_case;

/* One mode's figures, seconds: wall times of a finished call (clFinish), and device spans
 * (profiling clock, from a marker enqueued right before the call to its last command's end,
 * as the triad's kernel time is measured). */
typedef struct bench_decode_measured {
  double median_s, low_s, high_s;
  double median_ratio;        /* K+V bandwidth / triad bandwidth of the same round, median */
  double device_median_s;     /* device span, median */
  double device_median_ratio; /* the same ratio from the device span, median */
  double median_triad;        /* GB/s */
} bench_decode_measured;

typedef struct bench_decode_result {
  bench_decode_measured modes[2]; /* [0] split-KV (kv_splits 0, automatic), [1] one-pass */
  double kv_bytes;                /* K and V, read once per call */
  double max_rel_diff;            /* split-KV output against one-pass */
} bench_decode_result;

/* The name of mode 0 or 1: "split-KV (auto)", "one-pass fused". */
const char *bench_decode_mode_name(int mode);

/* A warm-up, then `repeats` (1 .. BENCH_DECODE_MAX_REPEATS) rounds per mode. Returns 0, or
 * -1 with the failure printed on stderr. A mismatch is not a failure: compare max_rel_diff
 * with BENCH_DECODE_TOLERANCE. */
int bench_decode_run(clattn_context *ctx, const bench_decode_case *c, int repeats,
                     bench_decode_result *r);

#endif /* BENCH_DECODE_CASE_H */
