/*
 * The classic attention family against dot-product attention of the same shape, in one
 * interleaved measurement: the fused softmax kernel (clattn_attention_forward), additive
 * (Bahdanau) scores, Luong local-m attention and hard (argmax) attention. fp32, B = 1,
 * H heads, Sq = Skv = S, D = Dv = 64. Used by `clattn bench --cases family`.
 */
#ifndef BENCH_FAMILY_H
#define BENCH_FAMILY_H

#include "bench_util.h"
#include "clattn.h"

enum { BENCH_FAMILY_SOFTMAX, BENCH_FAMILY_ADDITIVE, BENCH_FAMILY_LOCAL, BENCH_FAMILY_HARD,
       BENCH_FAMILY_COUNT };

#define BENCH_FAMILY_HEAD_DIM 64
#define BENCH_FAMILY_ATTN_DIM 64 /* A of the additive score */
#define BENCH_FAMILY_WINDOW 32   /* D of local-m: 2D + 1 keys per query */

typedef struct bench_family_result {
  int seq, heads;
  bench_stats stats[BENCH_FAMILY_COUNT];
  double flops[BENCH_FAMILY_COUNT]; /* per call; see bench_family_flops_rule */
  char error[512];                  /* why the measurement failed */
} bench_family_result;

/* "softmax", "additive", "local-m", "hard argmax". */
const char *bench_family_name(int impl);

/* How flops[] are counted, one line. */
const char *bench_family_flops_rule(void);

/* Times the four calls, interleaved, `repeats` rounds after a warm-up. Returns 0, or -1
 * with r->error set. */
int bench_family_run(clattn_context *ctx, int seq, int heads, int repeats,
                     bench_family_result *r);

#endif /* BENCH_FAMILY_H */
