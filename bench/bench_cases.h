/*
 * Attention benchmark cases: the shape of one problem, its name and FLOP count, from a
 * token such as "4096c" or "2048h16d128b2" (bench_attention --cases) or from a shape
 * (clattn bench).
 */
#ifndef BENCH_CASES_H
#define BENCH_CASES_H

#include <stddef.h>

#include "bench_report.h"

/* Sequences longer than this default to one head (the long-context target). */
#define BENCH_LONG_SEQ 16384

/* Parses a decimal integer in [1, max] from text[0..] into *value; returns the characters
 * used, or 0 when there is no valid number. */
size_t bench_number(const char *text, long max, long *value);

/* Clears *c and sets its name, shape and FLOPs: 4 * B * H * (attended pairs) * D, counting
 * only the S(S+1)/2 pairs of a causal head. */
void bench_case_set(bench_case *c, const char *name, const bench_shape *shape);

/* Parses one case token S[c][hH][dD][bB] into c. Returns 0 or -1. */
int bench_case_parse(const char *token, bench_case *c);

/* Splits `list` at commas into cases[] (room for BENCH_MAX_CASES); returns the count, or -1
 * on a bad token (named on stderr, after `who`). */
int bench_cases_parse(const char *who, const char *list, bench_case *cases);

#endif /* BENCH_CASES_H */
