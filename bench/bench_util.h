/*
 * Helpers shared by bench_attention's files: clocks, profiling events, statistics, test data
 * and JSON strings. Nothing here knows about attention.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "clattn.h"

/* Seconds on a monotonic clock. */
double bench_now(void);

/* Seconds between an event's CL_PROFILING_COMMAND_START and _END; CL error code or 0. The
 * event's queue must have profiling enabled and the event must be complete. */
cl_int bench_event_seconds(cl_event event, double *seconds);

/* Sorts values[0..n-1] (n >= 1) ascending and returns their median. */
double bench_sort_median(double *values, int n);

/* Fills x[0..n-1] with uniform values in [-amplitude, amplitude) from the generator state
 * *seed (any value; advanced). The same seed gives the same values on every machine. */
void bench_fill_uniform(float *x, size_t n, float amplitude, uint64_t *seed);

/* max_i |x_i - ref_i| / max_i |ref_i|: the error relative to the output's scale, which stays
 * meaningful where single outputs are near zero. NaN anywhere (an element a kernel never
 * wrote, or computed wrongly) gives +inf. */
double bench_max_rel_error(const float *x, const float *ref, size_t n);

/* Writes `text` as a JSON string literal. */
void bench_json_string(FILE *out, const char *text);

/* Median and spread of timed runs, in seconds. */
typedef struct bench_stats {
  double median_s, min_s, max_s;
  int runs;
} bench_stats;

/* Enqueues one call of something timed; returns 0, or -1 with its failure already reported
 * in its own error buffer. */
typedef int (*bench_call_fn)(void *arg);

/* Times `count` calls against each other: one untimed warm-up of each, then `repeats`
 * (1 .. 100) rounds in which each call runs once, in turn, to completion (clFinish on
 * `queue`), so that a change in the machine's load hits them all alike. Wall time, so that
 * work a call enqueues behind the caller's back (CLBlast) counts. Fills stats[0..count-1];
 * returns 0, or the index + 1 of the call that failed. */
int bench_time_interleaved(cl_command_queue queue, int count, const bench_call_fn *calls,
                           void *const *args, int repeats, bench_stats *stats);

/* Reads a whole text file into a NUL-terminated malloc'd string; NULL on failure. */
char *bench_read_file(const char *path, size_t *length);

#endif /* BENCH_UTIL_H */
