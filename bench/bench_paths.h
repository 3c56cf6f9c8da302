/*
 * The three attention paths bench_attention times, behind one interface:
 *
 *   fused    clattn_attention_forward (the library under test)
 *   naive    bench/kernels/attention_naive.cl: one query row per work-item, scalar
 *   unfused  bench/kernels/attention_unfused.cl: scores, softmax, P V with a materialised
 *            B*H*Sq*Skv score matrix
 *
 * The comparison kernels are built with the raw OpenCL API on the clattn context's own
 * cl_context, device and queue, from the .cl files in the source tree, with no math-relaxing
 * options. All paths read the same Q, K, V (contiguous BHSD fp32) and write O.
 */
#ifndef BENCH_PATHS_H
#define BENCH_PATHS_H

#include <stddef.h>

#include "clattn.h"

typedef enum bench_impl { BENCH_FUSED = 0, BENCH_NAIVE = 1, BENCH_UNFUSED = 2 } bench_impl;
#define BENCH_IMPLS 3
#define BENCH_MAX_KERNELS 3

/* The name printed for an implementation: "fused", "naive", "unfused". */
const char *bench_impl_name(bench_impl impl);

/* One attention problem: B, H (query and KV heads alike), Sq = Skv = S, D = Dv. */
typedef struct bench_shape {
  int batch, heads, seq, dim, causal;
} bench_shape;

typedef struct bench_path {
  bench_impl impl;
  clattn_context *ctx;
  bench_shape shape;
  cl_mem q, k, v, o; /* not owned */
  cl_mem scores;     /* unfused: the score matrix, owned */
  cl_program program;
  cl_kernel kernels[BENCH_MAX_KERNELS];
  const char *kernel_names[BENCH_MAX_KERNELS];
  size_t global[BENCH_MAX_KERNELS][3], local[BENCH_MAX_KERNELS][3];
  int kernel_count;  /* enqueued per run: fused 1 (clattn's event), naive 1, unfused 3 */
  char config[160];  /* the kernel configuration, for the report */
} bench_path;

/* Bytes of the unfused path's score matrix (B*H*S*S floats). */
size_t bench_unfused_bytes(const bench_shape *shape);

/* Prepares `path` for `impl` on the given buffers: builds the comparison program and its
 * kernels, allocates the score matrix. The fused path needs nothing (clattn builds its kernel
 * in the first call). Returns 0, or -1 with a message in error[cap]. */
int bench_path_setup(bench_path *path, bench_impl impl, clattn_context *ctx,
                     const bench_shape *shape, cl_mem q, cl_mem k, cl_mem v, cl_mem o,
                     char *error, size_t cap);

/* Enqueues one forward pass on the context's queue, storing one profiling event per kernel
 * in events[0 .. path->kernel_count-1] (the caller releases them). Returns 0, or -1 with a
 * message in error[cap] (no events are left to release then). */
int bench_path_enqueue(bench_path *path, cl_event *events, char *error, size_t cap);

/* Releases what bench_path_setup created. */
void bench_path_release(bench_path *path);

#endif /* BENCH_PATHS_H */
