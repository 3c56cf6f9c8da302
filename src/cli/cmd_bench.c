/*
 * clattn bench: runs the selected sections between two ceiling measurements, then prints the
 * table and writes the JSON and the plot. See bench.h and 'clattn bench --help'.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_util.h"

#define BENCH_CLI_CEILING_REPEATS 5

/* Ceilings before (after a one-run warm-up that builds their kernels) or after the cases. */
static int bench_cli_ceilings(clattn_context *ctx, int warm_up, clattn_ceilings *out) {
  clattn_status status = CLATTN_SUCCESS;
  if (warm_up) {
    status = clattn_measure_ceilings(ctx, NULL, 1, 0, out);
  }
  if (status == CLATTN_SUCCESS) {
    status = clattn_measure_ceilings(ctx, NULL, BENCH_CLI_CEILING_REPEATS, 0, out);
  }
  return status == CLATTN_SUCCESS ? CLATTN_CLI_OK : clattn_cli_failure_print(ctx, status);
}

static void bench_cli_sections(clattn_context *ctx, const bench_cli_options *o,
                               bench_cli_report *r) {
  if (o->sections & BENCH_CLI_PREFILL) {
    bench_cli_prefill(ctx, o, r);
  }
  if (o->sections & BENCH_CLI_DECODE) {
    bench_cli_decode(ctx, o, r);
  }
  if (o->sections & (BENCH_CLI_MHA | BENCH_CLI_GEMM)) {
    bench_cli_layer(ctx, o, r);
  }
  if (o->sections & BENCH_CLI_FAMILY) {
    bench_cli_family(ctx, o, r);
  }
}

/* The ceilings and the prefill header bench/'s JSON writer wants. */
static void bench_cli_summarise(const bench_cli_options *o, bench_cli_report *r) {
  r->fma_gflops = r->before.fma_gflops > r->after.fma_gflops ? r->before.fma_gflops
                                                             : r->after.fma_gflops;
  r->triad_gbps = r->before.triad_gbps > r->after.triad_gbps ? r->before.triad_gbps
                                                             : r->after.triad_gbps;
  bench_run_info *info = &r->prefill_info;
  info->device = r->device;
  info->ceilings = r->before;
  info->ceilings_end = r->after;
  info->fma_gflops = r->fma_gflops;
  info->ceiling_repeats = BENCH_CLI_CEILING_REPEATS;
  info->repeats = o->repeats;
  info->attention_config = getenv("CLATTN_ATTENTION_CONFIG");
  info->total_s = r->total_s;
}

/* Table, JSON and plot; CLATTN_CLI_FAILURE when a file cannot be written. */
static int bench_cli_outputs(const bench_cli_options *o, const bench_cli_report *r) {
  int rc = CLATTN_CLI_OK;
  bench_cli_table_print(stdout, r);
  if (o->json != NULL && bench_cli_json_write(o->json, o, r) != 0) {
    fprintf(stderr, "clattn bench: cannot write %s\n", o->json);
    rc = CLATTN_CLI_FAILURE;
  }
  char error[512];
  if (o->plot != NULL && bench_cli_plot_write(o->plot, r, error, sizeof error) != 0) {
    fprintf(stderr, "clattn bench: %s\n", error);
    rc = CLATTN_CLI_FAILURE;
  }
  return rc;
}

int clattn_cli_bench_run(int argc, char **argv, const clattn_cli_globals *globals) {
  bench_cli_options o;
  int help = 0;
  int rc = bench_cli_args_parse(argc, argv, globals, &o, &help);
  if (rc != CLATTN_CLI_OK || help) {
    bench_cli_usage(rc == CLATTN_CLI_OK ? stdout : stderr);
    return rc;
  }
  bench_cli_report *r = calloc(1, sizeof *r);
  if (r == NULL) {
    return clattn_cli_out_of_memory();
  }
  double start = bench_now();
  clattn_context *ctx = NULL;
  rc = clattn_cli_context_open(o.device, &ctx);
  if (rc == CLATTN_CLI_OK) {
    clattn_context_device_info(ctx, &r->device);
    r->repeats = o.repeats;
    fprintf(stderr, "clattn bench: device %s; measuring ceilings ...\n", r->device.name);
    rc = bench_cli_ceilings(ctx, 1, &r->before);
  }
  if (rc == CLATTN_CLI_OK) {
    bench_cli_sections(ctx, &o, r);
    rc = bench_cli_ceilings(ctx, 0, &r->after);
  }
  clattn_context_destroy(ctx);
  if (rc == CLATTN_CLI_OK) {
    r->total_s = bench_now() - start;
    bench_cli_summarise(&o, r);
    rc = bench_cli_outputs(&o, r);
    if (rc == CLATTN_CLI_OK && r->failed) {
      fputs("clattn bench: a path failed or gave a wrong answer (see above)\n", stderr);
      rc = CLATTN_CLI_FAILURE;
    }
  }
  free(r);
  return rc;
}
