/*
 * clattn bench: the report as a table on stdout and as JSON.
 */
#include <math.h>
#include <string.h>

#include "bench.h"
#include "bench_family.h"
#include "bench_util.h"

static double bench_cli_ceiling_of(const bench_cli_report *r, const bench_cli_row *row) {
  return row->ceiling == BENCH_CLI_TRIAD ? r->triad_gbps : r->fma_gflops;
}

static const char *bench_cli_unit(const bench_cli_row *row) {
  return row->ceiling == BENCH_CLI_TRIAD ? "GB/s" : "GFLOP/s";
}

static void bench_cli_row_print(FILE *out, const bench_cli_report *r, const bench_cli_row *row,
                                int first_of_case) {
  const char *section = first_of_case ? row->section : "";
  const char *name = first_of_case ? row->name : "";
  if (!row->ok) {
    fprintf(out, "%-8s %-16s %-16s %s\n", section, name, row->impl,
            row->note[0] ? row->note : "not measured");
    return;
  }
  char range[32], ratio[16] = "";
  snprintf(range, sizeof range, "%.1f-%.1f", row->low, row->high);
  if (row->vs_ref > 0.0) {
    snprintf(ratio, sizeof ratio, "%.2f", row->vs_ref);
  }
  double ceiling = bench_cli_ceiling_of(r, row);
  fprintf(out, "%-8s %-16s %-16s %9.1f %-7s %15s %6.1f%% %6s %10.2f %4d  %s\n", section, name,
          row->impl, row->median, bench_cli_unit(row), range,
          ceiling > 0.0 ? 100.0 * row->median / ceiling : 0.0, ratio, row->median_s * 1e3,
          row->runs, row->note);
}

void bench_cli_table_print(FILE *out, const bench_cli_report *r) {
  const clattn_device_info *d = &r->device;
  fprintf(out, "clattn %s bench\n", clattn_version_string());
  fprintf(out, "device    %u:%u %s (%u compute units), %s, driver %s\n", d->platform_index,
          d->device_index, d->name, d->compute_units, d->platform_version, d->driver_version);
  fprintf(out, "ceilings  FMA %.1f GFLOP/s, triad %.1f GB/s before; %.1f and %.1f after; "
          "%%ceil divides by the higher of each\n",
          r->before.fma_gflops, r->before.triad_gbps, r->after.fma_gflops,
          r->after.triad_gbps);
  fprintf(out, "runs      median of %d timed runs after a warm-up (slow prefill paths: 5)\n\n",
          r->repeats);
  fprintf(out, "%-8s %-16s %-16s %9s %-7s %15s %7s %6s %10s %4s  %s\n", "section", "case",
          "impl", "median", "unit", "min-max", "%ceil", "t/ref", "median ms", "runs", "note");
  for (int i = 0; i < r->row_count; ++i) {
    const bench_cli_row *row = &r->rows[i];
    int first = i == 0 || strcmp(row->name, r->rows[i - 1].name) != 0 ||
                strcmp(row->section, r->rows[i - 1].section) != 0;
    bench_cli_row_print(out, r, row, first);
  }
  for (int i = 0; i < 2; ++i) {
    if (r->peer_notes[i][0] != '\0') {
      fprintf(out, "peer      %s\n", r->peer_notes[i]);
    }
  }
  fprintf(out,
          "\nprefill cases: S d D [c causal], B=1 H=8 fp32; GFLOP/s = 4*B*H*S*S*D / median time "
          "(causal: attended pairs only).\nt/ref: this median time / the reference's (prefill "
          "and peers: fused; decode: split-KV; family: softmax),\nso above 1 means the "
          "reference is that many times faster. %%ceil: share of the FMA (GFLOP/s) or triad\n"
          "(GB/s) ceiling. min-max: slowest and fastest run. family FLOPs: %s.\n"
          "total %.0f s\n",
          bench_family_flops_rule(), r->total_s);
}

static void bench_cli_json_row(FILE *f, const bench_cli_report *r, const bench_cli_row *row) {
  fputs("{\"section\": ", f);
  bench_json_string(f, row->section);
  fputs(", \"case\": ", f);
  bench_json_string(f, row->name);
  fputs(", \"impl\": ", f);
  bench_json_string(f, row->impl);
  fprintf(f, ", \"seq\": %d, \"head_dim\": %d, \"causal\": %s, \"ok\": %s, \"unit\": \"%s\"",
          row->seq, row->dim, row->causal ? "true" : "false", row->ok ? "true" : "false",
          bench_cli_unit(row));
  if (row->ok) {
    double ceiling = bench_cli_ceiling_of(r, row);
    fprintf(f, ", \"median\": %.4f, \"min\": %.4f, \"max\": %.4f, \"median_s\": %.6f, "
            "\"runs\": %d, \"ceiling_fraction\": %.4f, \"time_vs_ref\": %.4f",
            row->median, row->low, row->high, row->median_s, row->runs,
            ceiling > 0.0 ? row->median / ceiling : 0.0, row->vs_ref);
  }
  fputs(", \"note\": ", f);
  bench_json_string(f, row->note);
  fputs("}", f);
}

int bench_cli_json_write(const char *path, const bench_cli_options *o,
                         const bench_cli_report *r) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    return -1;
  }
  fprintf(f, "{\"clattn_version\": \"%s\", \"device\": ", clattn_version_string());
  bench_json_string(f, r->device.name);
  fprintf(f, ", \"compute_units\": %u, \"repeats\": %d, \"quick\": %s, \"total_s\": %.1f, "
          "\"ceilings\": {\"fma_gflops\": %.3f, \"triad_gbps\": %.3f, \"before\": "
          "{\"fma_gflops\": %.3f, \"triad_gbps\": %.3f}, \"after\": {\"fma_gflops\": %.3f, "
          "\"triad_gbps\": %.3f}},\n\"peers\": [",
          r->device.compute_units, r->repeats, o->quick ? "true" : "false", r->total_s,
          r->fma_gflops, r->triad_gbps, r->before.fma_gflops, r->before.triad_gbps,
          r->after.fma_gflops, r->after.triad_gbps);
  for (int i = 0, n = 0; i < 2; ++i) {
    if (r->peer_notes[i][0] != '\0') {
      fputs(n++ ? ", " : "", f);
      bench_json_string(f, r->peer_notes[i]);
    }
  }
  fputs("],\n\"rows\": [", f);
  for (int i = 0; i < r->row_count; ++i) {
    fputs(i ? ",\n  " : "\n  ", f);
    bench_cli_json_row(f, r, &r->rows[i]);
  }
  fputs("],\n\"prefill\": ", f);
  if (r->prefill_count > 0) {
    bench_report_json_write(f, &r->prefill_info, r->prefill, r->prefill_count);
  } else {
    fputs("null", f);
  }
  fputs("}\n", f);
  return fclose(f) == 0 ? 0 : -1;
}
