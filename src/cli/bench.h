/*
 * clattn bench: the library's figures on this device in one process — prefill attention
 * against the naive and unfused paths (bench/'s code), decode, the attention layer and its
 * projections, the classic family, and optional peers (NumPy, PyTorch) — each as a median
 * with its spread, in GFLOP/s or GB/s and as a share of the FMA or triad ceiling measured in
 * the same run; a table, JSON and a PNG plot.
 */
#ifndef CLATTN_CLI_BENCH_H
#define CLATTN_CLI_BENCH_H

#include <stdio.h>

#include "bench_report.h"
#include "cli.h"

#define BENCH_CLI_MAX_SEQS 8 /* x 2 head dims x 2 (causal or not) = BENCH_MAX_CASES */
#define BENCH_CLI_MAX_ROWS 256
#define BENCH_CLI_MIN_REPEATS 5

enum {
  BENCH_CLI_PREFILL = 1 << 0,
  BENCH_CLI_DECODE = 1 << 1,
  BENCH_CLI_MHA = 1 << 2,
  BENCH_CLI_GEMM = 1 << 3,
  BENCH_CLI_FAMILY = 1 << 4
};

typedef struct bench_cli_options {
  unsigned sections;
  int seqs[BENCH_CLI_MAX_SEQS];
  int seq_count;
  int repeats;
  int quick, peers;
  const char *json, *plot, *device;
} bench_cli_options;

/* Parses the command line; prints the problem and returns CLATTN_CLI_USAGE when it is wrong,
 * sets *help for --help. */
int bench_cli_args_parse(int argc, char **argv, const clattn_cli_globals *globals,
                         bench_cli_options *o, int *help);
void bench_cli_usage(FILE *out);

typedef enum bench_cli_ceiling { BENCH_CLI_FMA, BENCH_CLI_TRIAD } bench_cli_ceiling;

/* One line of the report: one implementation on one case. */
typedef struct bench_cli_row {
  char section[12];  /* prefill, decode, mha, gemm, family */
  char name[48];     /* the case */
  char impl[24];     /* the implementation */
  int seq, dim, causal; /* prefill and peers: the shape, for the plot (seq 0 elsewhere) */
  bench_cli_ceiling ceiling; /* GFLOP/s against FMA, or GB/s against triad */
  int ok;            /* measured; otherwise note says why not */
  double median, low, high; /* GFLOP/s or GB/s: median run, slowest, fastest */
  double median_s;
  int runs;
  double vs_ref;     /* this median time / the section reference's (0: none) */
  char note[200];
} bench_cli_row;

typedef struct bench_cli_report {
  clattn_device_info device;
  clattn_ceilings before, after;
  double fma_gflops, triad_gbps; /* the higher of before and after */
  int repeats;
  double total_s;
  bench_cli_row rows[BENCH_CLI_MAX_ROWS];
  int row_count;
  bench_run_info prefill_info;
  bench_case prefill[BENCH_MAX_CASES];
  int prefill_count;
  char peer_notes[2][256]; /* numpy, torch: why skipped, or "" */
  int failed;            /* a path failed or gave a wrong answer */
} bench_cli_report;

/* A new row (NULL when the table is full). */
bench_cli_row *bench_cli_row_add(bench_cli_report *r, const char *section, const char *name,
                                 const char *impl);

/* The sections: each appends rows and sets r->failed on a failure or mismatch. */
void bench_cli_prefill(clattn_context *ctx, const bench_cli_options *o, bench_cli_report *r);
void bench_cli_decode(clattn_context *ctx, const bench_cli_options *o, bench_cli_report *r);
void bench_cli_layer(clattn_context *ctx, const bench_cli_options *o, bench_cli_report *r);
void bench_cli_family(clattn_context *ctx, const bench_cli_options *o, bench_cli_report *r);
/* Runs the peer scripts on one prefill case (after its paths, so under the same load) and adds
 * their rows; a missing peer becomes a note in r->peer_notes, never a failure. */
void bench_cli_peers_case(const bench_cli_options *o, bench_cli_report *r, const bench_case *c);

/* Output: the table, the JSON file (0 or -1), the PNG plot (0 or -1 with a message). */
void bench_cli_table_print(FILE *out, const bench_cli_report *r);
int bench_cli_json_write(const char *path, const bench_cli_options *o,
                         const bench_cli_report *r);
int bench_cli_plot_write(const char *path, const bench_cli_report *r, char *error,
                         size_t error_size);

#endif /* CLATTN_CLI_BENCH_H */
