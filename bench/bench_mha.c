/*
 * bench_mha: the multi-head attention layer (clattn_mha_forward) at B=1, E=512, H=8, S=1024
 * (by default), with CLBlast's own GEMM parameters and then with the device's tuning file
 * (`clattn tune --gemm`), in one process.
 *
 * For each it reports the layer's median time and GFLOP/s (8 S E^2 for the projections plus
 * 4 S^2 E for the attention), as a share of the FMA ceiling measured in the same run, and
 * how the time splits between the GEMMs and the attention: those are timed on their own
 * with the layer's shapes (the QKV and output GEMMs through CLBlast, the attention through
 * clattn_attention_forward on the same strided views); the rest (bias pass, scratch
 * allocation, host overhead) is the difference. Also the first call's time (CLBlast and
 * clattn kernel compilation, or cache loads when warm).
 *
 *   bench_mha [--seq S] [--embed E] [--heads H] [--repeats N] [--causal]
 */
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

typedef struct shape {
  int64_t seq, embed, heads;
  int causal, repeats;
} shape;

typedef struct buffers {
  cl_mem x, y, w_in, b_in, w_out, b_out, qkv, attn;
} buffers;

typedef struct timings {
  double first, layer, qkv_gemm, out_gemm, attention;
} timings;

static void die(const char *what, clattn_context *ctx) {
  fprintf(stderr, "bench_mha: %s failed: %s\n", what, ctx ? clattn_last_error(ctx) : "");
  exit(1);
}

static cl_mem random_buffer(clattn_context *ctx, size_t n, float amplitude, uint64_t *seed) {
  float *host = malloc(n * sizeof *host);
  if (!host) die("malloc", NULL);
  bench_fill_uniform(host, n, amplitude, seed);
  cl_int err;
  cl_mem m = clCreateBuffer(clattn_context_cl_context(ctx), CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR,
                            n * sizeof *host, host, &err);
  free(host);
  if (!m) die("clCreateBuffer", NULL);
  return m;
}

static clattn_mha *make_layer(clattn_context *ctx, const shape *s, buffers *b) {
  clattn_mha_desc d;
  clattn_mha_desc_init(&d);
  d.embed_dim = s->embed;
  d.num_heads = s->heads;
  d.bias = 1;
  clattn_mha *mha;
  if (clattn_mha_create(ctx, &d, &mha) != CLATTN_SUCCESS) die("clattn_mha_create", ctx);
  int64_t e = s->embed;
  float *w = malloc((size_t)(3 * e * e + 3 * e + e * e + e) * sizeof *w);
  if (!w) die("malloc", NULL);
  uint64_t seed = 42;
  bench_fill_uniform(w, (size_t)(3 * e * e + 3 * e + e * e + e), (float)(1.0 / sqrt((double)e)), &seed);
  clattn_mha_weights weights;
  memset(&weights, 0, sizeof weights);
  clattn_host_matrix in_w = {w, 3 * e, e}, in_b = {w + 3 * e * e, 3 * e, 1};
  clattn_host_matrix out_w = {w + 3 * e * e + 3 * e, e, e}, out_b = {w + 4 * e * e + 3 * e, e, 1};
  weights.in_proj_weight = in_w;
  weights.in_proj_bias = in_b;
  weights.out_weight = out_w;
  weights.out_bias = out_b;
  if (clattn_mha_set_weights(mha, &weights) != CLATTN_SUCCESS) die("clattn_mha_set_weights", ctx);
  /* The same shapes again as plain buffers, for the stages timed on their own. */
  b->x = random_buffer(ctx, (size_t)(s->seq * e), 1.0f, &seed);
  b->y = random_buffer(ctx, (size_t)(s->seq * e), 0.0f, &seed);
  b->w_in = random_buffer(ctx, (size_t)(3 * e * e), 0.05f, &seed);
  b->w_out = random_buffer(ctx, (size_t)(e * e), 0.05f, &seed);
  b->qkv = random_buffer(ctx, (size_t)(s->seq * 3 * e), 1.0f, &seed);
  b->attn = random_buffer(ctx, (size_t)(s->seq * e), 0.0f, &seed);
  free(w);
  return mha;
}

static void release(buffers *b) {
  cl_mem all[8] = {b->x, b->y, b->w_in, b->b_in, b->w_out, b->b_out, b->qkv, b->attn};
  for (int i = 0; i < 8; i++)
    if (all[i]) clReleaseMemObject(all[i]);
  memset(b, 0, sizeof *b);
}

/* What one timed run does. */
typedef enum stage { LAYER, QKV_GEMM, OUT_GEMM, ATTENTION } stage;

static void run_stage(clattn_context *ctx, clattn_mha *mha, const shape *s, const buffers *b, stage st) {
  cl_command_queue queue = clattn_context_queue(ctx);
  int64_t e = s->embed, d = e / s->heads;
  if (st == LAYER) {
    clattn_mha_inputs in;
    clattn_mha_inputs_init(&in);
    in.batch = 1;
    in.seq = s->seq;
    in.x = clattn_tensor_contiguous(b->x, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, s->seq, e, 0);
    in.y = clattn_tensor_contiguous(b->y, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, s->seq, e, 0);
    in.causal = s->causal;
    if (clattn_mha_forward(mha, queue, &in, 0, NULL, NULL) != CLATTN_SUCCESS) die("clattn_mha_forward", ctx);
  } else if (st == ATTENTION) {
    clattn_attention_desc a;
    clattn_attention_desc_init(&a);
    a.batch = 1;
    a.q_heads = a.kv_heads = s->heads;
    a.q_len = a.kv_len = s->seq;
    a.head_dim = d;
    a.causal = s->causal;
    clattn_tensor q = {b->qkv, CLATTN_F32, 0, s->seq * 3 * e, d, 3 * e};
    clattn_tensor k = q, v = q;
    k.offset = (uint64_t)e;
    v.offset = (uint64_t)(2 * e);
    clattn_tensor o = {b->attn, CLATTN_F32, 0, s->seq * e, d, e};
    if (clattn_attention_forward(ctx, queue, &a, &q, &k, &v, &o, NULL, 0, NULL, NULL) != CLATTN_SUCCESS)
      die("clattn_attention_forward", ctx);
  } else {
    int qkv = st == QKV_GEMM;
    CLBlastStatusCode status = CLBlastSgemm(
        CLBlastLayoutRowMajor, CLBlastTransposeNo, CLBlastTransposeYes, (size_t)s->seq,
        (size_t)(qkv ? 3 * e : e), (size_t)e, 1.0f, qkv ? b->x : b->attn, 0, (size_t)e,
        qkv ? b->w_in : b->w_out, 0, (size_t)e, 0.0f, qkv ? b->qkv : b->y, 0,
        (size_t)(qkv ? 3 * e : e), &queue, NULL);
    if (status != CLBlastSuccess) die("CLBlastSgemm", NULL);
  }
}

static double median_seconds(clattn_context *ctx, clattn_mha *mha, const shape *s, const buffers *b,
                             stage st) {
  double times[64];
  int n = s->repeats < 64 ? s->repeats : 64;
  run_stage(ctx, mha, s, b, st); /* warm */
  clFinish(clattn_context_queue(ctx));
  for (int i = 0; i < n; i++) {
    double t0 = bench_now();
    run_stage(ctx, mha, s, b, st);
    clFinish(clattn_context_queue(ctx));
    times[i] = bench_now() - t0;
  }
  return bench_sort_median(times, n);
}

static timings measure(clattn_context *ctx, const shape *s) {
  buffers b;
  memset(&b, 0, sizeof b);
  clattn_mha *mha = make_layer(ctx, s, &b);
  timings t;
  double t0 = bench_now();
  if (clattn_mha_warm_up(mha, 1, s->seq, 0) != CLATTN_SUCCESS) die("clattn_mha_warm_up", ctx);
  t.first = bench_now() - t0;
  /* Interleave the stages round by round so that load changes hit all of them alike. */
  double layer[16], qkv[16], out[16], att[16];
  int rounds = 5;
  shape one = *s;
  one.repeats = s->repeats / rounds > 0 ? s->repeats / rounds : 1;
  for (int r = 0; r < rounds; r++) {
    layer[r] = median_seconds(ctx, mha, &one, &b, LAYER);
    qkv[r] = median_seconds(ctx, mha, &one, &b, QKV_GEMM);
    out[r] = median_seconds(ctx, mha, &one, &b, OUT_GEMM);
    att[r] = median_seconds(ctx, mha, &one, &b, ATTENTION);
  }
  t.layer = bench_sort_median(layer, rounds);
  t.qkv_gemm = bench_sort_median(qkv, rounds);
  t.out_gemm = bench_sort_median(out, rounds);
  t.attention = bench_sort_median(att, rounds);
  clattn_mha_destroy(mha);
  release(&b);
  return t;
}

static void report(const char *label, const shape *s, const timings *t, double fma_gflops) {
  double e = (double)s->embed, n = (double)s->seq;
  double gemm_flops = 8.0 * n * e * e, attention_flops = (s->causal ? 2.0 : 4.0) * n * n * e;
  double gemm = t->qkv_gemm + t->out_gemm, rest = t->layer - gemm - t->attention;
  double gflops = (gemm_flops + attention_flops) / t->layer * 1e-9;
  printf("%-8s layer %8.2f ms  %6.1f GFLOP/s (%4.1f %% of FMA)  first call %6.2f s\n", label,
         t->layer * 1e3, gflops, 100.0 * gflops / fma_gflops, t->first);
  printf("         GEMMs %7.2f ms (%4.1f %%, %5.1f GFLOP/s)  attention %7.2f ms (%4.1f %%, %5.1f "
         "GFLOP/s)  rest %6.2f ms (%4.1f %%)\n",
         gemm * 1e3, 100.0 * gemm / t->layer, gemm_flops / gemm * 1e-9, t->attention * 1e3,
         100.0 * t->attention / t->layer, attention_flops / t->attention * 1e-9, rest * 1e3,
         100.0 * rest / t->layer);
}

static clattn_context *context(void) {
  clattn_context *ctx;
  if (clattn_context_create(NULL, &ctx) != CLATTN_SUCCESS) die("clattn_context_create", NULL);
  return ctx;
}

int main(int argc, char **argv) {
  shape s = {1024, 512, 8, 0, 20};
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--causal")) s.causal = 1;
    else if (i + 1 < argc && !strcmp(a, "--seq")) s.seq = atoll(argv[++i]);
    else if (i + 1 < argc && !strcmp(a, "--embed")) s.embed = atoll(argv[++i]);
    else if (i + 1 < argc && !strcmp(a, "--heads")) s.heads = atoll(argv[++i]);
    else if (i + 1 < argc && !strcmp(a, "--repeats")) s.repeats = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: bench_mha [--seq S] [--embed E] [--heads H] [--repeats N] [--causal]\n");
      return 2;
    }
  }
  if (s.seq < 1 || s.embed < 1 || s.heads < 1 || s.embed % s.heads || s.repeats < 5) {
    fprintf(stderr, "bench_mha: sizes must be positive, E a multiple of H, repeats >= 5\n");
    return 2;
  }
  /* CLBlast's own parameters first: a context that ignores the tuning file. */
  setenv("CLATTN_TUNING", "0", 1);
  clattn_context *untuned = context();
  clattn_device_info info;
  clattn_context_device_info(untuned, &info);
  clattn_ceilings ceilings;
  if (clattn_measure_ceilings(untuned, NULL, 5, 0, &ceilings) != CLATTN_SUCCESS)
    die("clattn_measure_ceilings", untuned);
  printf("device: %s\nlayer: B=1 S=%lld E=%lld H=%lld%s, float32, %d timed runs in 5 rounds; FMA "
         "ceiling %.1f GFLOP/s\n",
         info.name, (long long)s.seq, (long long)s.embed, (long long)s.heads,
         s.causal ? " causal" : "", s.repeats, ceilings.fma_gflops);
  timings t = measure(untuned, &s);
  report("untuned", &s, &t, ceilings.fma_gflops);
  /* A context that applies the device's tuning file overrides CLBlast's parameters for the
   * whole process (CLBlast rebuilds its GEMM kernels with them). */
  unsetenv("CLATTN_TUNING");
  clattn_context *tuned = context();
  timings u = measure(tuned, &s);
  report("tuned", &s, &u, ceilings.fma_gflops);
  printf("layer speed-up with the tuning file: %.2fx (1.00x when there is none: run `clattn tune "
         "--gemm`)\n", t.layer / u.layer);
  clattn_context_destroy(tuned);
  clattn_context_destroy(untuned);
  return 0;
}
