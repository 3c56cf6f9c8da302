/*
 * The attention layer and its projections, interleaved in one measurement: clattn_mha_forward
 * (self-attention with biases, B = 1, S, E, H heads, fp32) and the CLBlast SGEMMs of its QKV
 * projection (S x 3E x E) and output projection (S x E x E), called as the layer calls them
 * (C = A B^T, row-major). The context applies the device's CLBlast tuning file when there is
 * one (`clattn tune --gemm`), as applications get it. Used by `clattn bench`.
 */
#ifndef BENCH_LAYER_H
#define BENCH_LAYER_H

#include "bench_util.h"
#include "clattn.h"

enum { BENCH_LAYER_MHA, BENCH_LAYER_QKV_GEMM, BENCH_LAYER_OUT_GEMM, BENCH_LAYER_COUNT };

typedef struct bench_layer_result {
  int seq, embed, heads;
  bench_stats stats[BENCH_LAYER_COUNT];
  double flops[BENCH_LAYER_COUNT]; /* layer: 8 S E^2 + 4 S^2 E; GEMMs 2 m n k */
  char error[512];
} bench_layer_result;

/* "mha layer", "gemm qkv", "gemm out". */
const char *bench_layer_name(int impl);

/* Returns 0, or -1 with r->error set. */
int bench_layer_run(clattn_context *ctx, int seq, int embed, int heads, int repeats,
                    bench_layer_result *r);

#endif /* BENCH_LAYER_H */
