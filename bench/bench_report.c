#include "bench_report.h"

#include <math.h>
#include <string.h>

#include "bench_util.h"

double bench_gflops(const bench_case *c, double seconds) {
  return seconds > 0.0 ? c->flops / seconds * 1e-9 : 0.0;
}

/* Speed-up of the fused path over `r` (1.00 for fused itself); 0 when either is missing. */
static double bench_fused_ratio(const bench_case *c, const bench_result *r) {
  const bench_result *fused = &c->results[BENCH_FUSED];
  if (fused->state != BENCH_OK || r->state != BENCH_OK || fused->median_s <= 0.0) {
    return 0.0;
  }
  return r->median_s / fused->median_s;
}

static void bench_print_bytes(FILE *out, double bytes) {
  if (bytes >= 1024.0 * 1024.0 * 1024.0) {
    fprintf(out, "%.1f GiB", bytes / (1024.0 * 1024.0 * 1024.0));
  } else {
    fprintf(out, "%.1f MiB", bytes / (1024.0 * 1024.0));
  }
}

static void bench_print_header(FILE *out, const bench_run_info *info) {
  const clattn_device_info *d = &info->device;
  fprintf(out, "clattn %s bench_attention\n", clattn_version_string());
  fprintf(out, "device    %u:%u %s (%u compute units)\n", d->platform_index, d->device_index,
          d->name, d->compute_units);
  fprintf(out, "driver    %s; driver %s; %s\n", d->platform_version, d->driver_version,
          d->device_version);
  fprintf(out, "ceilings  FMA %.1f GFLOP/s, triad %.1f GB/s before the cases; %.1f and %.1f after "
          "(clattn_measure_ceilings,\n          median of %d each); %%FMA below divides by "
          "%.1f GFLOP/s, the higher FMA figure\n",
          info->ceilings.fma_gflops, info->ceilings.triad_gbps, info->ceilings_end.fma_gflops,
          info->ceilings_end.triad_gbps, info->ceiling_repeats, info->fma_gflops);
  fprintf(out, "timing    OpenCL profiling START..END, summed over a path's kernels; %d timed "
          "runs%s after warm-up\n",
          info->repeats, info->repeats_explicit ? "" : " (5 when one run takes over 1 s)");
  if (info->attention_config != NULL) {
    fprintf(out, "fused     CLATTN_ATTENTION_CONFIG=%s\n", info->attention_config);
  }
  fprintf(out, "\n%-10s %-8s %9s %15s %7s %7s %10s %4s %19s %12s\n", "case", "impl",
          "GFLOP/s", "min-max", "%FMA", "fused x", "median ms", "runs", "first call",
          "max rel err");
}

static void bench_print_row(FILE *out, const bench_run_info *info, const bench_case *c,
                            bench_impl impl, int first_row) {
  const bench_result *r = &c->results[impl];
  const char *name = first_row ? c->name : "";
  if (r->state == BENCH_SKIPPED || r->state == BENCH_FAILED || r->state == BENCH_NOT_RUN) {
    int first_line = (int)strcspn(r->note, "\n"); /* a build log follows on stderr */
    fprintf(out, "%-10s %-8s %s: %.*s\n", name, bench_impl_name(impl),
            r->state == BENCH_FAILED ? "FAILED" : "skipped", first_line, r->note);
    return;
  }
  double g = bench_gflops(c, r->median_s);
  double lo = bench_gflops(c, r->times[r->runs - 1]);
  double hi = bench_gflops(c, r->times[0]);
  double fma = info->fma_gflops;
  char range[64], first[64], error[48];
  snprintf(range, sizeof range, "%.1f-%.1f", lo, hi);
  snprintf(first, sizeof first, "%.2f s %s", r->first_call_s, r->first_origin);
  if (!r->checked) {
    snprintf(error, sizeof error, "unchecked");
  } else {
    snprintf(error, sizeof error, "%.1e%s", r->max_rel_error, impl == BENCH_FUSED ? " ref" : "");
  }
  fprintf(out, "%-10s %-8s %8.1f%c %15s %6.1f%% %7.2f %10.1f %4d %19s %12s\n", name,
          bench_impl_name(impl), g, r->mismatch ? '!' : ' ', range,
          fma > 0.0 ? 100.0 * g / fma : 0.0, bench_fused_ratio(c, r), r->median_s * 1e3,
          r->runs, first, error);
}

static void bench_print_notes(FILE *out, const bench_case *c) {
  const bench_shape *s = &c->shape;
  fprintf(out, "  %s: B=%d H=%d S=%d D=%d%s, %.1f GFLOP per run; Q, K, V, O take ", c->name,
          s->batch, s->heads, s->seq, s->dim, s->causal ? " causal" : "", c->flops * 1e-9);
  bench_print_bytes(out, (double)c->fused_bytes);
  fputs(" on the device", out);
  if (c->rss_growth >= 0) {
    fputs(", the process grew by ", out);
    bench_print_bytes(out, (double)c->rss_growth);
    fputs(" while the fused path ran", out);
  }
  fputs("; a score matrix would take ", out);
  bench_print_bytes(out, (double)bench_unfused_bytes(s));
  fputs("\n", out);
  double naive = bench_fused_ratio(c, &c->results[BENCH_NAIVE]);
  double unfused = bench_fused_ratio(c, &c->results[BENCH_UNFUSED]);
  if (naive > 0.0 || unfused > 0.0) {
    fprintf(out, "  %s ratios of median GFLOP/s:", c->name);
    if (naive > 0.0) {
      fprintf(out, " fused/naive %.2f%s%s", naive, c->results[BENCH_NAIVE].mismatch ? "!" : "",
              unfused > 0.0 ? "," : "");
    }
    if (unfused > 0.0) {
      fprintf(out, " fused/unfused %.2f%s", unfused,
              c->results[BENCH_UNFUSED].mismatch ? "!" : "");
    }
    fputs("\n", out);
  }
  const bench_result *u = &c->results[BENCH_UNFUSED];
  if (u->state == BENCH_OK) {
    fprintf(out, "  %s unfused, median per kernel: scores %.1f ms, softmax %.1f ms, pv %.1f ms "
            "(%s)\n", c->name, u->kernel_median[0] * 1e3, u->kernel_median[1] * 1e3,
            u->kernel_median[2] * 1e3, u->config);
  }
  for (int i = 0; i < BENCH_IMPLS; ++i) {
    const bench_result *r = &c->results[i];
    if (r->state == BENCH_OK && r->mismatch) {
      fprintf(out, "  %s %s: ERROR: %s\n", c->name, bench_impl_name((bench_impl)i), r->note);
    } else if (r->state == BENCH_OK && r->note[0] != '\0') {
      fprintf(out, "  %s %s: %s\n", c->name, bench_impl_name((bench_impl)i), r->note);
    }
  }
}

void bench_report_print(FILE *out, const bench_run_info *info, const bench_case *cases,
                        int count) {
  bench_print_header(out, info);
  for (int i = 0; i < count; ++i) {
    for (int impl = 0; impl < BENCH_IMPLS; ++impl) {
      bench_print_row(out, info, &cases[i], (bench_impl)impl, impl == 0);
    }
  }
  fputs("\nnotes\n", out);
  for (int i = 0; i < count; ++i) {
    bench_print_notes(out, &cases[i]);
  }
  for (int impl = BENCH_FUSED; impl < BENCH_UNFUSED; ++impl) {
    const bench_result *r = &cases[0].results[impl];
    for (int i = 1; i < count && r->config[0] == '\0'; ++i) {
      r = &cases[i].results[impl];
    }
    if (r->config[0] != '\0') {
      fprintf(out, "  %-8s %s\n", bench_impl_name((bench_impl)impl), r->config);
    }
  }
  fprintf(out,
          "\nGFLOP/s: 4*B*H*S*S*D / median time (causal: only the S(S+1)/2 attended pairs per "
          "head); min-max: slowest and\nfastest run; %%FMA: share of the FMA ceiling above; "
          "fused x: this path's median time / fused's; first call:\nwall time of the program "
          "build or cache lookup plus the first run; max rel err: max|x - fused| / max|fused| "
          "over\nthe whole output (fused: against an fp64 host reference on sampled rows). '!' "
          "marks a result that failed\nthe %.0e check; its figures are not comparable. Timed "
          "runs alternate between the paths.\n"
          "total %.0f s\n",
          BENCH_TOLERANCE, info->total_s);
}

static void bench_json_result(FILE *f, const bench_case *c, const bench_result *r,
                              bench_impl impl) {
  static const char *const states[] = {"not_run", "ok", "skipped", "failed"};
  fprintf(f, "{\"impl\": \"%s\", \"status\": \"%s\", \"note\": ", bench_impl_name(impl),
          states[r->state]);
  bench_json_string(f, r->note);
  fputs(", \"config\": ", f);
  bench_json_string(f, r->config);
  if (r->state != BENCH_OK) {
    fputs("}", f);
    return;
  }
  fprintf(f,
          ", \"first_call_s\": %.6f, \"first_call_origin\": \"%s\", \"warmups\": %d, "
          "\"runs\": %d, \"median_s\": %.6f, \"min_s\": %.6f, \"max_s\": %.6f, "
          "\"wall_median_s\": %.6f, \"gflops_median\": %.3f, \"gflops_min\": %.3f, "
          "\"gflops_max\": %.3f, \"checked\": %s, \"max_rel_error\": %.3e, \"mismatch\": %s, "
          "\"fused_speedup\": %.4f, \"times_s\": [",
          r->first_call_s, r->first_origin, r->warmups, r->runs, r->median_s, r->times[0],
          r->times[r->runs - 1], r->wall_median_s, bench_gflops(c, r->median_s),
          bench_gflops(c, r->times[r->runs - 1]), bench_gflops(c, r->times[0]),
          r->checked ? "true" : "false", isfinite(r->max_rel_error) ? r->max_rel_error : 1e300,
          r->mismatch ? "true" : "false", bench_fused_ratio(c, r));
  for (int i = 0; i < r->runs; ++i) {
    fprintf(f, "%s%.6f", i ? ", " : "", r->times[i]);
  }
  fputs("]", f);
  if (impl == BENCH_UNFUSED) {
    fprintf(f, ", \"kernel_median_s\": {\"scores\": %.6f, \"softmax\": %.6f, \"pv\": %.6f}",
            r->kernel_median[0], r->kernel_median[1], r->kernel_median[2]);
  }
  fputs("}", f);
}

void bench_report_json_write(FILE *f, const bench_run_info *info, const bench_case *cases,
                             int count) {
  const clattn_device_info *d = &info->device;
  fprintf(f, "{\"clattn_version\": \"%s\", \"device\": ", clattn_version_string());
  bench_json_string(f, d->name);
  fputs(", \"platform_version\": ", f);
  bench_json_string(f, d->platform_version);
  fputs(", \"driver_version\": ", f);
  bench_json_string(f, d->driver_version);
  fprintf(f, ", \"compute_units\": %u, \"fma_gflops\": %.3f, \"ceilings_before\": "
          "{\"fma_gflops\": %.3f, \"triad_gbps\": %.3f}, \"ceilings_after\": "
          "{\"fma_gflops\": %.3f, \"triad_gbps\": %.3f}, \"ceiling_repeats\": %d, "
          "\"repeats\": %d, \"tolerance\": %g, \"total_s\": %.1f, \"cases\": [",
          d->compute_units, info->fma_gflops, info->ceilings.fma_gflops,
          info->ceilings.triad_gbps, info->ceilings_end.fma_gflops,
          info->ceilings_end.triad_gbps, info->ceiling_repeats, info->repeats, BENCH_TOLERANCE,
          info->total_s);
  for (int i = 0; i < count; ++i) {
    const bench_case *c = &cases[i];
    const bench_shape *s = &c->shape;
    fprintf(f, "%s\n  {\"name\": ", i ? "," : "");
    bench_json_string(f, c->name);
    fprintf(f, ", \"batch\": %d, \"heads\": %d, \"seq\": %d, \"head_dim\": %d, \"causal\": %s, "
            "\"flops\": %.0f, \"fused_bytes\": %zu, \"rss_growth\": %ld, \"results\": [",
            s->batch, s->heads, s->seq, s->dim, s->causal ? "true" : "false", c->flops,
            c->fused_bytes, c->rss_growth);
    for (int impl = 0; impl < BENCH_IMPLS; ++impl) {
      fputs(impl ? ",\n    " : "\n    ", f);
      bench_json_result(f, c, &c->results[impl], (bench_impl)impl);
    }
    fputs("]}", f);
  }
  fputs("\n]}", f);
}

int bench_report_json(const char *path, const bench_run_info *info, const bench_case *cases,
                      int count) {
  FILE *f = fopen(path, "w");
  if (f == NULL) {
    return -1;
  }
  bench_report_json_write(f, info, cases, count);
  fputs("\n", f);
  return fclose(f) == 0 ? 0 : -1;
}
