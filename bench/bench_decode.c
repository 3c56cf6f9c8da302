/*
 * bench_decode: the decode step of an inference loop — one new query token per sequence
 * attending over a long KV cache — measured as the bandwidth of reading K and V once,
 * against the triad bandwidth the same run measures (clattn_measure_ceilings).
 *
 *   bench_decode [repeats=9] [skv=4096]
 *
 * Each round measures the triad bandwidth right before one decode call, so that both see the
 * same load on a shared machine; the ratio reported is the median of the rounds' ratios.
 *
 * Cases (fp32, B=1, Sq=1, D=128, Hq=32): Hkv=32 (MHA) and Hkv=8 (GQA 4:1), each with the
 * split-KV decode path (kv_splits 0 = automatic) and, for comparison, the one-pass fused
 * kernel (kv_splits 1). The outputs of both are compared; a mismatch is flagged.
 *
 * BENCH_DECODE_TRACE=1 prints every round (triad, wall time, device span, ratio) on stderr:
 * on a shared machine the triad itself can swing by 2x from one round to the next.
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench_decode_case.h"
#include "clattn.h"

static int run_case(clattn_context *ctx, const bench_decode_case *c, int repeats) {
  bench_decode_result r;
  if (bench_decode_run(ctx, c, repeats, &r) != 0) return -1;
  int mismatch = !(r.max_rel_diff <= BENCH_DECODE_TOLERANCE);
  for (int i = 0; i < 2; i++) {
    const bench_decode_measured *m = &r.modes[i];
    printf("Hq=%-3d Hkv=%-3d Skv=%-6d %-16s %8.3f ms  (%.3f-%.3f)  %6.1f GB/s  %5.1f%% of triad "
           "(triad %.1f GB/s)%s\n",
           c->q_heads, c->kv_heads, c->kv_len, bench_decode_mode_name(i), m->median_s * 1e3,
           m->low_s * 1e3, m->high_s * 1e3, r.kv_bytes / m->median_s * 1e-9,
           100.0 * m->median_ratio, m->median_triad, i == 0 && mismatch ? "  ! mismatch" : "");
    printf("%46s device span %8.3f ms  %6.1f GB/s  %5.1f%% of triad\n", "",
           m->device_median_s * 1e3, r.kv_bytes / m->device_median_s * 1e-9,
           100.0 * m->device_median_ratio);
  }
  printf("  split vs one-pass: max rel difference %.1e; K+V = %.1f MB read once\n",
         r.max_rel_diff, r.kv_bytes * 1e-6);
  return mismatch ? -1 : 0;
}

int main(int argc, char **argv) {
  int repeats = argc > 1 ? atoi(argv[1]) : 9;
  int kv_len = argc > 2 ? atoi(argv[2]) : 4096;
  if (repeats < 5 || repeats > 64 || kv_len < 128) {
    fprintf(stderr, "usage: bench_decode [repeats 5..64] [skv >= 128]\n");
    return 2;
  }
  clattn_context *ctx = NULL;
  clattn_status status = clattn_context_create(NULL, &ctx);
  if (status != CLATTN_SUCCESS) {
    fprintf(stderr, "bench_decode: %s: %s\n", clattn_status_name(status), clattn_last_error(NULL));
    return 1;
  }
  clattn_device_info info;
  clattn_context_device_info(ctx, &info);
  int rc = 0;
  printf("device    %s (%u compute units), %s\n", info.name, info.compute_units, info.driver_version);
  const bench_decode_case cases[2] = {{32, 32, kv_len, 128}, {32, 8, kv_len, 128}};
  for (int i = 0; rc == 0 && i < 2; i++) rc = run_case(ctx, &cases[i], repeats) ? 1 : 0;
  if (rc == 0)
    printf("method    %d rounds per line after a warm-up, each a triad run (96 MiB) then one decode "
           "call;\n          medians of the wall times and of the per-round ratios; fp32, B=1, "
           "Sq=1, D=128, causal bottom-right;\n          device span: profiling clock from a marker "
           "right before the call to its end\n          (the triad's time is its kernel's profiled "
           "time)\n",
           repeats);
  clattn_context_destroy(ctx);
  return rc;
}
