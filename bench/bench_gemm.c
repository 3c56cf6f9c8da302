/*
 * bench_gemm: CLBlast SGEMM as clattn's projections run it (clattn__sgemm: C = A B^T,
 * row-major fp32, B a Linear weight), with CLBlast's own parameters ("untuned") and with the
 * device's tuning file ("tuned"), in alternating rounds in one process, as GFLOP/s and as a
 * share of the device's measured FMA ceiling.
 *
 *   bench_gemm [--shapes LIST] [--repeats N] [--rounds R] [--tuning FILE]
 *
 * CLBlast's parameter overrides are process-wide and its C API cannot read them back, so
 * "untuned" is put back by overriding with CLBlast's own values, which clattn knows for the
 * devices where they can be derived (clattn__clblast_defaults: PoCL on CPUs with CLBlast
 * 1.5.3). Elsewhere untuned is measured first, before anything is overridden, and the
 * rounds cannot alternate (the output says so).
 *
 * Internal API: this program links the static library and includes src/ headers.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "clattn.h"
#include "gemm.h"
#include "tuning.h"

#define MAX_SHAPES 16
#define MAX_RUNS 4096
#define SAMPLES 256

typedef struct shape {
  int64_t m, n, k;
  const char *label;
} shape;

typedef struct bench_options {
  shape shapes[MAX_SHAPES];
  int shape_count;
  int repeats, rounds;
  const char *tuning;
} bench_options;

/* A configuration: the CLBlast entries that produce it. */
typedef struct config {
  const char *name;
  int count;
  clattn__clblast_entry entries[4];
  size_t threshold; /* XGEMM_MIN_INDIRECT_SIZE in force (0: unknown) */
} config;

typedef struct result {
  double times[MAX_RUNS];
  int count;
  double error;
} result;

static void usage(FILE *out) {
  fputs("usage: bench_gemm [--shapes LIST] [--repeats N] [--rounds R] [--tuning FILE]\n"
        "  --shapes LIST  comma-separated MxNxK (default: 4096x512x512 and the projections of\n"
        "                 B=1, S=1024, E=512: 1024x1536x512 QKV, 1024x512x512 out)\n"
        "  --repeats N    timed runs per configuration and round (default 5)\n"
        "  --rounds R     alternating rounds untuned/tuned (default 3)\n"
        "  --tuning FILE  the tuning file (default: the device's, as contexts find it)\n"
        "The device is $CLATTN_DEVICE, else the default (see 'clattn devices').\n",
        out);
}

static int parse_int(const char *text, long min, long max, int *value) {
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno || end == text || *end || v < min || v > max) return -1;
  *value = (int)v;
  return 0;
}

static int parse_shapes(char *list, bench_options *o) {
  o->shape_count = 0;
  for (char *item = strtok(list, ","); item; item = strtok(NULL, ",")) {
    long long m, n, k;
    char tail;
    if (o->shape_count >= MAX_SHAPES ||
        sscanf(item, "%lldx%lldx%lld%c", &m, &n, &k, &tail) != 3 || m < 1 || n < 1 || k < 1 ||
        m > (1 << 20) || n > (1 << 20) || k > (1 << 20))
      return -1;
    o->shapes[o->shape_count++] = (shape){m, n, k, ""};
  }
  return o->shape_count > 0 ? 0 : -1;
}

static int parse_args(int argc, char **argv, bench_options *o) {
  static const shape defaults[] = {{4096, 512, 512, "reference"},
                                   {1024, 1536, 512, "QKV B=1 S=1024 E=512"},
                                   {1024, 512, 512, "out B=1 S=1024 E=512"}};
  memset(o, 0, sizeof *o);
  memcpy(o->shapes, defaults, sizeof defaults);
  o->shape_count = 3;
  o->repeats = 5;
  o->rounds = 3;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    const char *value = i + 1 < argc ? argv[i + 1] : NULL;
    int bad = 0;
    if (strcmp(arg, "--shapes") == 0 && value) {
      bad = parse_shapes(argv[++i], o);
    } else if (strcmp(arg, "--repeats") == 0 && value) {
      bad = parse_int(argv[++i], 1, 200, &o->repeats);
    } else if (strcmp(arg, "--rounds") == 0 && value) {
      bad = parse_int(argv[++i], 1, 20, &o->rounds);
    } else if (strcmp(arg, "--tuning") == 0 && value) {
      o->tuning = argv[++i];
    } else {
      bad = 1;
    }
    if (bad) {
      fprintf(stderr, "bench_gemm: bad argument '%s'\n", arg);
      return -1;
    }
  }
  return 0;
}

static int fail(const clattn_context *ctx, clattn_status status) {
  fprintf(stderr, "bench_gemm: %s: %s\n", clattn_status_name(status), clattn_last_error(ctx));
  return 1;
}

static int config_apply(clattn_context *ctx, const config *c) {
  char why[512];
  for (int i = 0; i < c->count; i++) {
    if (clattn__clblast_apply(clattn_context_cl_device(ctx), NULL, &c->entries[i], why,
                              sizeof why) != 0) {
      fprintf(stderr, "bench_gemm: cannot apply %s: %s\n", c->name, why);
      return -1;
    }
  }
  return 0;
}

typedef struct operands {
  cl_mem a, b, c;
  float *ha, *hb, *hc;
} operands;

static void operands_release(operands *p) {
  if (p->a) clReleaseMemObject(p->a);
  if (p->b) clReleaseMemObject(p->b);
  if (p->c) clReleaseMemObject(p->c);
  free(p->ha);
  free(p->hb);
  free(p->hc);
}

static clattn_status operands_create(clattn_context *ctx, const shape *s, operands *p) {
  memset(p, 0, sizeof *p);
  size_t na = (size_t)(s->m * s->k), nb = (size_t)(s->n * s->k), nc = (size_t)(s->m * s->n);
  p->ha = malloc(na * sizeof(float));
  p->hb = malloc(nb * sizeof(float));
  p->hc = malloc(nc * sizeof(float));
  if (!p->ha || !p->hb || !p->hc) return CLATTN_OUT_OF_HOST_MEMORY;
  uint64_t seed = 42;
  bench_fill_uniform(p->ha, na, 1.0f, &seed);
  bench_fill_uniform(p->hb, nb, 1.0f, &seed);
  cl_int err = CL_SUCCESS;
  cl_context cl_ctx = clattn_context_cl_context(ctx);
  p->a = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, na * sizeof(float), p->ha, &err);
  if (err == CL_SUCCESS)
    p->b = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, nb * sizeof(float), p->hb, &err);
  if (err == CL_SUCCESS)
    p->c = clCreateBuffer(cl_ctx, CL_MEM_READ_WRITE, nc * sizeof(float), NULL, &err);
  return err == CL_SUCCESS ? CLATTN_SUCCESS : CLATTN_OPENCL_ERROR;
}

static clattn_status gemm(clattn_context *ctx, const shape *s, const operands *p, double *seconds) {
  clattn__matrix a = {p->a, 0, s->k}, b = {p->b, 0, s->k}, c = {p->c, 0, s->n};
  cl_command_queue queue = clattn_context_queue(ctx);
  double start = bench_now();
  clattn_status status = clattn__sgemm(ctx, queue, s->m, s->n, s->k, 1.0f, &a, &b, 1, 0.0f, &c,
                                       0, NULL, NULL);
  if (status == CLATTN_SUCCESS && clFinish(queue) != CL_SUCCESS) status = CLATTN_OPENCL_ERROR;
  *seconds = bench_now() - start;
  return status;
}

/* The largest normwise error of SAMPLES entries against an fp64 host reference. */
static double sampled_error(clattn_context *ctx, const shape *s, operands *p) {
  size_t nc = (size_t)(s->m * s->n);
  if (clEnqueueReadBuffer(clattn_context_queue(ctx), p->c, CL_TRUE, 0, nc * sizeof(float), p->hc,
                          0, NULL, NULL) != CL_SUCCESS)
    return INFINITY;
  double worst = 0.0;
  uint64_t state = 7;
  for (int t = 0; t < SAMPLES; t++) {
    float pick[2];
    bench_fill_uniform(pick, 2, 0.5f, &state);
    int64_t i = (int64_t)((pick[0] + 0.5f) * (float)s->m) % s->m;
    int64_t j = (int64_t)((pick[1] + 0.5f) * (float)s->n) % s->n;
    double ref = 0.0, magnitude = 0.0;
    for (int64_t l = 0; l < s->k; l++) {
      double term = (double)p->ha[i * s->k + l] * (double)p->hb[j * s->k + l];
      ref += term;
      magnitude += fabs(term);
    }
    double err = fabs((double)p->hc[i * s->n + j] - ref) / (magnitude > 0 ? magnitude : 1.0);
    if (!(err <= worst)) worst = isnan(err) ? INFINITY : err;
  }
  return worst;
}

static const char *routine_of(const shape *s, size_t threshold) {
  if (threshold == 0) return "?";
  double t = (double)threshold;
  return (double)s->m * (double)s->n * (double)s->k < t * t * t ? "direct" : "indirect";
}

static double gflops(const shape *s, double seconds) {
  return seconds > 0 ? 2.0 * (double)s->m * (double)s->n * (double)s->k / seconds * 1e-9 : 0.0;
}

int main(int argc, char **argv) {
  bench_options o;
  if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    usage(stdout);
    return 0;
  }
  if (parse_args(argc, argv, &o) != 0) {
    usage(stderr);
    return 2;
  }
  /* The context must not apply the tuning file itself: "untuned" comes first. */
  setenv("CLATTN_TUNING", "0", 1);
  clattn_context *ctx = NULL;
  clattn_status status = clattn_context_create(NULL, &ctx);
  if (status != CLATTN_SUCCESS) return fail(NULL, status);
  clattn_device_info info;
  clattn_context_device_info(ctx, &info);
  clattn__tuning_status st;
  clattn__context_tuning(ctx, &st);
  const char *path = o.tuning ? o.tuning : st.path;
  static clattn__tuning_file file;
  char messages[2048] = "";
  int rejected = clattn__tuning_read(path, &file, messages, sizeof messages);
  if (rejected < 0 || file.count == 0) {
    fprintf(stderr, "bench_gemm: no usable tuning file at %s%s%s\n"
                    "Run 'clattn tune --gemm' first (or pass --tuning FILE).\n",
            path, rejected < 0 ? ": " : "", rejected < 0 ? strerror(errno) : "");
    clattn_context_destroy(ctx);
    return 1;
  }
  if (rejected > 0) fprintf(stderr, "bench_gemm: %s: lines ignored:\n%s", path, messages);

  static config configs[2];
  config *untuned = &configs[0], *tuned = &configs[1];
  untuned->name = "untuned";
  tuned->name = "tuned";
  int alternate = clattn__clblast_defaults(&info, "Xgemm", &untuned->entries[0]) &&
                  clattn__clblast_defaults(&info, "GemmRoutine", &untuned->entries[1]);
  if (alternate) {
    untuned->count = 2;
    untuned->threshold = untuned->entries[1].values[0];
  }
  for (int i = 0; i < file.count && tuned->count < 4; i++) {
    if (file.entries[i].precision != 32) continue;
    tuned->entries[tuned->count++] = file.entries[i];
    if (strcmp(file.entries[i].kernel, "GemmRoutine") == 0)
      tuned->threshold = file.entries[i].values[0];
  }
  if (tuned->threshold == 0) tuned->threshold = untuned->threshold;

  printf("device    %u:%u %s\n", info.platform_index, info.device_index, info.name);
  printf("tuning    %s\n", path);
  for (int i = 0; i < tuned->count; i++) {
    char params[1024];
    clattn__clblast_entry_params(&tuned->entries[i], params, sizeof params);
    printf("          %s/%d %s\n", tuned->entries[i].kernel, tuned->entries[i].precision, params);
  }
  printf("method    wall time of clattn__sgemm + clFinish, %d rounds x %d runs per config%s\n",
         o.rounds, o.repeats,
         alternate ? ", untuned and tuned alternating"
                   : "; CLBlast's own parameters are unknown here, so all untuned rounds run "
                     "first");
  clattn_ceilings ceil_before, ceil_after;
  status = clattn_measure_ceilings(ctx, NULL, 5, 0, &ceil_before);
  if (status != CLATTN_SUCCESS) return fail(ctx, status);

  static result results[MAX_SHAPES][2];
  static operands ops[MAX_SHAPES];
  for (int si = 0; si < o.shape_count; si++) {
    status = operands_create(ctx, &o.shapes[si], &ops[si]);
    if (status != CLATTN_SUCCESS) return fail(ctx, status);
  }
  /* Alternating: per round, every shape with untuned then tuned. Otherwise all of untuned
   * (CLBlast's own parameters, never overridden yet) before all of tuned. Each configuration's
   * first call per shape compiles (or finds) its program and is checked, not timed. */
  int phases = alternate ? 1 : 2;
  for (int phase = 0; phase < phases && status == CLATTN_SUCCESS; phase++) {
    int c_first = alternate ? 0 : phase, c_last = alternate ? 1 : phase;
    for (int si = 0; si < o.shape_count && status == CLATTN_SUCCESS; si++) {
      for (int c = c_first; c <= c_last && status == CLATTN_SUCCESS; c++) {
        double t;
        if ((alternate || c == 1) && config_apply(ctx, &configs[c]) != 0) return 1;
        status = gemm(ctx, &o.shapes[si], &ops[si], &t);
        if (status == CLATTN_SUCCESS)
          results[si][c].error = sampled_error(ctx, &o.shapes[si], &ops[si]);
      }
    }
    for (int r = 0; r < o.rounds && status == CLATTN_SUCCESS; r++) {
      for (int si = 0; si < o.shape_count && status == CLATTN_SUCCESS; si++) {
        for (int c = c_first; c <= c_last && status == CLATTN_SUCCESS; c++) {
          if ((alternate || c == 1) && config_apply(ctx, &configs[c]) != 0) return 1;
          result *res = &results[si][c];
          for (int i = 0; i < o.repeats && status == CLATTN_SUCCESS; i++)
            status = gemm(ctx, &o.shapes[si], &ops[si], &res->times[res->count++]);
        }
      }
    }
  }
  for (int si = 0; si < o.shape_count; si++) operands_release(&ops[si]);
  if (status != CLATTN_SUCCESS) return fail(ctx, status);
  status = clattn_measure_ceilings(ctx, NULL, 5, 0, &ceil_after);
  if (status != CLATTN_SUCCESS) return fail(ctx, status);
  double fma = ceil_before.fma_gflops > ceil_after.fma_gflops ? ceil_before.fma_gflops
                                                               : ceil_after.fma_gflops;
  printf("FMA       %.1f GFLOP/s (clattn_measure_ceilings, higher of before/after: %.1f, %.1f)\n\n",
         fma, ceil_before.fma_gflops, ceil_after.fma_gflops);
  printf("%-16s %-8s %-9s %9s %15s %7s %10s %5s %9s %8s\n", "shape", "config", "routine",
         "GFLOP/s", "min-max", "%FMA", "median ms", "runs", "max err", "speed-up");
  int wrong = 0;
  double medians[MAX_SHAPES][2];
  for (int si = 0; si < o.shape_count; si++) {
    const shape *s = &o.shapes[si];
    char label[64];
    snprintf(label, sizeof label, "%lldx%lldx%lld", (long long)s->m, (long long)s->n,
             (long long)s->k);
    for (int c = 0; c < 2; c++) {
      result *r = &results[si][c];
      double med = bench_sort_median(r->times, r->count);
      medians[si][c] = med;
      double g = gflops(s, med);
      char range[32];
      snprintf(range, sizeof range, "%.1f-%.1f", gflops(s, r->times[r->count - 1]),
               gflops(s, r->times[0]));
      char speedup[16] = "";
      if (c == 1) snprintf(speedup, sizeof speedup, "%.2fx", medians[si][0] / med);
      int bad = !(r->error <= 1e-5);
      wrong |= bad;
      printf("%-16s %-8s %-9s %9.1f%s %14s %6.1f%% %10.2f %5d %9.1e %8s\n", c ? "" : label,
             configs[c].name, routine_of(s, configs[c].threshold), g, bad ? "!" : " ", range,
             100.0 * g / fma, med * 1e3, r->count, r->error, speedup);
    }
    if (s->label[0]) printf("%-16s (%s)\n", "", s->label);
  }
  printf("{\"device\": ");
  bench_json_string(stdout, info.name);
  printf(", \"fma_gflops\": %.3f, \"alternating\": %s, \"shapes\": [", fma,
         alternate ? "true" : "false");
  for (int si = 0; si < o.shape_count; si++) {
    const shape *s = &o.shapes[si];
    printf("%s{\"m\": %lld, \"n\": %lld, \"k\": %lld, \"untuned_gflops\": %.3f, "
           "\"tuned_gflops\": %.3f, \"speedup\": %.3f}",
           si ? ", " : "", (long long)s->m, (long long)s->n, (long long)s->k,
           gflops(s, medians[si][0]), gflops(s, medians[si][1]),
           medians[si][0] / medians[si][1]);
  }
  printf("]}\n");
  if (wrong) fprintf(stderr, "bench_gemm: a configuration gave wrong results (marked '!')\n");
  clattn_context_destroy(ctx);
  return wrong ? 1 : 0;
}
