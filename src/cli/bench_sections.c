/*
 * clattn bench: the measured sections, each run through bench/'s code and turned into rows
 * of the report.
 */
#include <string.h>

#include "bench.h"
#include "bench_cases.h"
#include "bench_decode_case.h"
#include "bench_family.h"
#include "bench_layer.h"
#include "bench_measure.h"

/* The quick run's layer and family shapes, and the full run's. */
#define BENCH_CLI_LAYER_SEQ 1024
#define BENCH_CLI_LAYER_SEQ_QUICK 256
#define BENCH_CLI_FAMILY_SEQ 1024
#define BENCH_CLI_FAMILY_SEQ_QUICK 256
#define BENCH_CLI_DECODE_KV 4096

bench_cli_row *bench_cli_row_add(bench_cli_report *r, const char *section, const char *name,
                                 const char *impl) {
  if (r->row_count == BENCH_CLI_MAX_ROWS) {
    return NULL;
  }
  bench_cli_row row;
  memset(&row, 0, sizeof row);
  snprintf(row.section, sizeof row.section, "%s", section);
  snprintf(row.name, sizeof row.name, "%s", name);
  snprintf(row.impl, sizeof row.impl, "%s", impl);
  r->rows[r->row_count] = row; /* the names may live inside *r (a prefill case's name) */
  return &r->rows[r->row_count++];
}

/* Fills a row's figures from a work count (FLOPs or bytes) and times in seconds. */
static void bench_cli_row_times(bench_cli_row *row, double work, double median_s,
                                double min_s, double max_s, int runs, double ref_s) {
  row->ok = 1;
  row->median_s = median_s;
  row->median = median_s > 0.0 ? work / median_s * 1e-9 : 0.0;
  row->low = max_s > 0.0 ? work / max_s * 1e-9 : 0.0;
  row->high = min_s > 0.0 ? work / min_s * 1e-9 : 0.0;
  row->runs = runs;
  row->vs_ref = ref_s > 0.0 ? median_s / ref_s : 0.0;
}

static void bench_cli_prefill_rows(bench_cli_report *r, const bench_case *c) {
  const bench_result *fused = &c->results[BENCH_FUSED];
  for (int i = 0; i < BENCH_IMPLS; ++i) {
    const bench_result *res = &c->results[i];
    bench_cli_row *row = bench_cli_row_add(r, "prefill", c->name, bench_impl_name((bench_impl)i));
    if (row == NULL) {
      return;
    }
    row->seq = c->shape.seq;
    row->dim = c->shape.dim;
    row->causal = c->shape.causal;
    snprintf(row->note, sizeof row->note, "%.*s", (int)strcspn(res->note, "\n"), res->note);
    if (res->state != BENCH_OK) {
      r->failed |= res->state == BENCH_FAILED;
      continue;
    }
    double ref = fused->state == BENCH_OK ? fused->median_s : 0.0;
    bench_cli_row_times(row, c->flops, res->median_s, res->times[0], res->times[res->runs - 1],
                        res->runs, ref);
    if (res->mismatch) {
      r->failed = 1;
      row->ok = 0; /* a wrong answer has no figure worth printing */
    }
  }
}

void bench_cli_prefill(clattn_context *ctx, const bench_cli_options *o, bench_cli_report *r) {
  static const int dims[2] = {64, 128};
  bench_measure_options measure = {o->repeats, 0}; /* slow paths: 5 runs */
  double naive_gflops = 0.0;
  r->prefill_count = 0;
  for (int d = 0; d < 2; ++d) {
    for (int s = 0; s < o->seq_count; ++s) {
      for (int causal = 0; causal < 2; ++causal) {
        bench_shape shape = {1, 8, o->seqs[s], dims[d], causal};
        char name[48];
        snprintf(name, sizeof name, "%dd%d%s", o->seqs[s], dims[d], causal ? "c" : "");
        bench_case *c = &r->prefill[r->prefill_count++];
        bench_case_set(c, name, &shape);
        r->failed |= bench_case_run(ctx, &measure, c, &naive_gflops) != 0;
        bench_cli_prefill_rows(r, c);
        if (o->peers) {
          bench_cli_peers_case(o, r, c);
        }
      }
    }
  }
}

void bench_cli_decode(clattn_context *ctx, const bench_cli_options *o, bench_cli_report *r) {
  const bench_decode_case cases[2] = {{32, 32, BENCH_CLI_DECODE_KV, 128},
                                      {32, 8, BENCH_CLI_DECODE_KV, 128}};
  for (int i = 0; i < 2; ++i) {
    char name[48];
    bench_decode_result res;
    snprintf(name, sizeof name, "Hkv=%d Skv=%d", cases[i].kv_heads, cases[i].kv_len);
    fprintf(stderr, "clattn bench: decode %s\n", name);
    int rc = bench_decode_run(ctx, &cases[i], o->repeats, &res);
    int mismatch = rc == 0 && !(res.max_rel_diff <= BENCH_DECODE_TOLERANCE);
    r->failed |= rc != 0 || mismatch;
    for (int mode = 0; mode < 2; ++mode) {
      bench_cli_row *row = bench_cli_row_add(r, "decode", name, bench_decode_mode_name(mode));
      if (row == NULL) {
        return;
      }
      row->ceiling = BENCH_CLI_TRIAD;
      if (rc != 0 || mismatch) {
        snprintf(row->note, sizeof row->note, rc != 0 ? "failed (see stderr)"
                 : "split-KV and one-pass outputs differ by %.2g", res.max_rel_diff);
        continue;
      }
      const bench_decode_measured *m = &res.modes[mode];
      bench_cli_row_times(row, res.kv_bytes, m->median_s, m->low_s, m->high_s, o->repeats,
                          res.modes[0].median_s);
      snprintf(row->note, sizeof row->note,
               "%.0f%% of the triad run just before each call (device span: %.0f%%)",
               100.0 * m->median_ratio, 100.0 * m->device_median_ratio);
    }
  }
}

void bench_cli_layer(clattn_context *ctx, const bench_cli_options *o, bench_cli_report *r) {
  static bench_layer_result res;
  int seq = o->quick ? BENCH_CLI_LAYER_SEQ_QUICK : BENCH_CLI_LAYER_SEQ;
  char name[48];
  snprintf(name, sizeof name, "S=%d E=512 H=8", seq);
  fprintf(stderr, "clattn bench: layer %s\n", name);
  int rc = bench_layer_run(ctx, seq, 512, 8, o->repeats, &res);
  r->failed |= rc != 0;
  for (int i = 0; i < BENCH_LAYER_COUNT; ++i) {
    int gemm = i != BENCH_LAYER_MHA;
    if (!(o->sections & (gemm ? BENCH_CLI_GEMM : BENCH_CLI_MHA))) {
      continue;
    }
    bench_cli_row *row = bench_cli_row_add(r, gemm ? "gemm" : "mha", name, bench_layer_name(i));
    if (row == NULL) {
      return;
    }
    if (rc != 0) {
      snprintf(row->note, sizeof row->note, "%.190s", res.error);
      continue;
    }
    const bench_stats *s = &res.stats[i];
    bench_cli_row_times(row, res.flops[i], s->median_s, s->min_s, s->max_s, s->runs, 0.0);
    if (!gemm) {
      double share = (res.stats[1].median_s + res.stats[2].median_s) / s->median_s;
      snprintf(row->note, sizeof row->note, "GEMMs alone take %.0f%% of its time",
               100.0 * share);
    }
  }
}

void bench_cli_family(clattn_context *ctx, const bench_cli_options *o, bench_cli_report *r) {
  static bench_family_result res;
  int seq = o->quick ? BENCH_CLI_FAMILY_SEQ_QUICK : BENCH_CLI_FAMILY_SEQ;
  char name[48];
  snprintf(name, sizeof name, "S=%d H=8 D=64", seq);
  fprintf(stderr, "clattn bench: family %s\n", name);
  int rc = bench_family_run(ctx, seq, 8, o->repeats, &res);
  r->failed |= rc != 0;
  for (int i = 0; i < BENCH_FAMILY_COUNT; ++i) {
    bench_cli_row *row = bench_cli_row_add(r, "family", name, bench_family_name(i));
    if (row == NULL) {
      return;
    }
    if (rc != 0) {
      snprintf(row->note, sizeof row->note, "%.190s", res.error);
      continue;
    }
    const bench_stats *s = &res.stats[i];
    bench_cli_row_times(row, res.flops[i], s->median_s, s->min_s, s->max_s, s->runs,
                        res.stats[BENCH_FAMILY_SOFTMAX].median_s);
    if (i == BENCH_FAMILY_ADDITIVE) {
      snprintf(row->note, sizeof row->note, "A=%d", BENCH_FAMILY_ATTN_DIM);
    } else if (i == BENCH_FAMILY_LOCAL) {
      snprintf(row->note, sizeof row->note, "window D=%d, Gaussian", BENCH_FAMILY_WINDOW);
    }
  }
}
