/* Additive (Bahdanau) attention, fused against unfused, in one run.
 *
 *   fused    clattn_attention_additive: CLBlast W1 Q and W2 K, then cl/additive.cl (scores,
 *            online softmax and value sum in one pass; the scores are never stored)
 *   unfused  the same CLBlast projections, then a kernel that writes the Sq x Skv scores
 *            (with the same tanh as the fused kernel: its text is taken from cl/additive.cl),
 *            a row softmax kernel, and the value product P V by CLBlast, one GEMM per head
 *
 * Both are timed by wall clock around the whole call (clFinish), after a warm-up, as the
 * median of --repeats runs; the outputs are compared. The fused kernel is also timed with the
 * builtin tanh (CLATTN_ADDITIVE_TANH_BUILTIN=1) to show what its own tanh buys.
 *
 * Usage: bench_additive [--seq S] [--heads H] [--dim D] [--attn-dim A] [--repeats N]
 * Reads cl/additive.cl from BENCH_SOURCE_DIR (set by CMake; CLATTN_SOURCE_DIR overrides). */
#include <clattn.h>
#include <clblast_c.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"

typedef struct problem {
  int s, h, d, a, repeats;
  cl_context cl;
  cl_device_id device;
  cl_command_queue queue;
  cl_mem q, k, v, w1, w2, va, o_fused, o_unfused, qa, kb, scores;
} problem;

#define DIE(...) (fprintf(stderr, __VA_ARGS__), fputc('\n', stderr), exit(1))

static cl_mem make(problem *p, const float *data, size_t floats) {
  cl_int err;
  cl_mem m = clCreateBuffer(p->cl, CL_MEM_READ_WRITE | (data ? CL_MEM_COPY_HOST_PTR : 0),
                            floats * sizeof(float), (void *)data, &err);
  if (!m) DIE("clCreateBuffer: %s", clattn_cl_error_name(err));
  return m;
}

static cl_mem random_buffer(problem *p, size_t n, float amplitude, uint64_t *seed) {
  float *x = malloc(n * sizeof *x);
  if (!x) DIE("out of memory");
  bench_fill_uniform(x, n, amplitude, seed);
  cl_mem m = make(p, x, n);
  free(x);
  return m;
}

/* ---- unfused ------------------------------------------------------------------------------ */

static const char *UNFUSED_KERNELS =
    "\n__kernel void additive_scores(__global const float *qa, __global const float *kb,\n"
    "    __global const float *va, __global float *s, const int sq, const int skv, const int a_dim) {\n"
    "  const int j = get_global_id(0), i = get_global_id(1), h = get_global_id(2);\n"
    "  if (j >= skv) return;\n"
    "  __global const float *x = qa + ((long)h * sq + i) * a_dim, *y = kb + ((long)h * skv + j) * a_dim;\n"
    "  float e = 0.0f;\n"
    "  for (int a = 0; a < a_dim; a++) e = fma(va[a], tanhv(x[a] + y[a]), e);\n"
    "  s[((long)h * sq + i) * skv + j] = e;\n"
    "}\n"
    "__kernel void row_softmax(__global float *s, const int skv) {\n"
    "  __global float *row = s + (long)get_global_id(0) * skv;\n"
    "  float m = -INFINITY, l = 0.0f;\n"
    "  for (int j = 0; j < skv; j++) m = fmax(m, row[j]);\n"
    "  for (int j = 0; j < skv; j++) { float w = exp(row[j] - m); row[j] = w; l += w; }\n"
    "  for (int j = 0; j < skv; j++) row[j] /= l;\n"
    "}\n";

static cl_program unfused_program(problem *p) {
  const char *dir = getenv("CLATTN_SOURCE_DIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/cl/additive.cl", dir && *dir ? dir : BENCH_SOURCE_DIR);
  size_t length = 0;
  char *base = bench_read_file(path, &length);
  if (!base) DIE("cannot read %s", path);
  size_t extra = strlen(UNFUSED_KERNELS);
  char *text = malloc(length + extra + 1);
  if (!text) DIE("out of memory");
  memcpy(text, base, length);
  memcpy(text + length, UNFUSED_KERNELS, extra + 1);
  free(base);
  cl_int err;
  const char *src = text;
  cl_program program = clCreateProgramWithSource(p->cl, 1, &src, NULL, &err);
  if (!program) DIE("clCreateProgramWithSource: %s", clattn_cl_error_name(err));
  err = clBuildProgram(program, 1, &p->device, "-cl-std=CL1.2 -DVEC=1", NULL, NULL);
  if (err != CL_SUCCESS) {
    char log[8192] = "";
    clGetProgramBuildInfo(program, p->device, CL_PROGRAM_BUILD_LOG, sizeof log, log, NULL);
    DIE("clBuildProgram: %s\n%s", clattn_cl_error_name(err), log);
  }
  free(text);
  return program;
}

static void gemm(problem *p, size_t m, size_t n, size_t k, cl_mem a, size_t a_off, size_t lda,
                 cl_mem b, size_t b_off, size_t ldb, int b_t, cl_mem c, size_t c_off, size_t ldc) {
  CLBlastStatusCode s = CLBlastSgemm(CLBlastLayoutRowMajor, CLBlastTransposeNo,
                                     b_t ? CLBlastTransposeYes : CLBlastTransposeNo, m, n, k, 1.0f,
                                     a, a_off, lda, b, b_off, ldb, 0.0f, c, c_off, ldc, &p->queue, NULL);
  if (s != CLBlastSuccess) DIE("CLBlastSgemm failed: %d", (int)s);
}

static void run_unfused(problem *p, cl_kernel scores, cl_kernel softmax) {
  const size_t s = (size_t)p->s, h = (size_t)p->h, d = (size_t)p->d, a = (size_t)p->a;
  gemm(p, h * s, a, d, p->q, 0, d, p->w1, 0, d, 1, p->qa, 0, a);
  gemm(p, h * s, a, d, p->k, 0, d, p->w2, 0, d, 1, p->kb, 0, a);
  cl_int sq = p->s, a_dim = p->a;
  cl_int err = clSetKernelArg(scores, 0, sizeof(cl_mem), &p->qa);
  err |= clSetKernelArg(scores, 1, sizeof(cl_mem), &p->kb);
  err |= clSetKernelArg(scores, 2, sizeof(cl_mem), &p->va);
  err |= clSetKernelArg(scores, 3, sizeof(cl_mem), &p->scores);
  err |= clSetKernelArg(scores, 4, sizeof sq, &sq);
  err |= clSetKernelArg(scores, 5, sizeof sq, &sq);
  err |= clSetKernelArg(scores, 6, sizeof a_dim, &a_dim);
  err |= clSetKernelArg(softmax, 0, sizeof(cl_mem), &p->scores);
  err |= clSetKernelArg(softmax, 1, sizeof sq, &sq);
  if (err != CL_SUCCESS) DIE("clSetKernelArg failed");
  size_t global[3] = {s, s, h}, rows = h * s;
  if (clEnqueueNDRangeKernel(p->queue, scores, 3, NULL, global, NULL, 0, NULL, NULL) != CL_SUCCESS ||
      clEnqueueNDRangeKernel(p->queue, softmax, 1, NULL, &rows, NULL, 0, NULL, NULL) != CL_SUCCESS)
    DIE("clEnqueueNDRangeKernel failed");
  for (size_t head = 0; head < h; head++)
    gemm(p, s, d, s, p->scores, head * s * s, s, p->v, head * s * d, d, 0, p->o_unfused, head * s * d, d);
  clFinish(p->queue);
}

/* ---- fused -------------------------------------------------------------------------------- */

static void run_fused(problem *p, clattn_context *ctx) {
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = 1;
  desc.q_heads = desc.kv_heads = p->h;
  desc.q_len = desc.kv_len = p->s;
  desc.head_dim = p->d;
  clattn_tensor q = clattn_tensor_contiguous(p->q, CLATTN_F32, CLATTN_LAYOUT_BHSD, p->h, p->s, p->d, 0);
  clattn_tensor k = clattn_tensor_contiguous(p->k, CLATTN_F32, CLATTN_LAYOUT_BHSD, p->h, p->s, p->d, 0);
  clattn_tensor v = clattn_tensor_contiguous(p->v, CLATTN_F32, CLATTN_LAYOUT_BHSD, p->h, p->s, p->d, 0);
  clattn_tensor o = clattn_tensor_contiguous(p->o_fused, CLATTN_F32, CLATTN_LAYOUT_BHSD, p->h, p->s, p->d, 0);
  clattn_additive_weights w = {p->w1, p->w2, p->va, p->a, 0};
  clattn_status status = clattn_attention_additive(ctx, p->queue, &desc, &w, &q, &k, &v, &o, NULL, 0, NULL, NULL);
  if (status != CLATTN_SUCCESS) DIE("clattn_attention_additive: %s", clattn_last_error(ctx));
  clFinish(p->queue);
}

/* ---- driver ------------------------------------------------------------------------------- */

typedef void (*runner)(problem *p, void *a, void *b);
static void fused_runner(problem *p, void *ctx, void *unused) { (void)unused; run_fused(p, ctx); }
static void unfused_runner(problem *p, void *scores, void *softmax) { run_unfused(p, scores, softmax); }

static double median_seconds(problem *p, runner run, void *a, void *b) {
  double t[64];
  run(p, a, b); /* warm-up: builds kernels */
  for (int r = 0; r < p->repeats; r++) {
    double start = bench_now();
    run(p, a, b);
    t[r] = bench_now() - start;
  }
  return bench_sort_median(t, p->repeats);
}

static void read_output(problem *p, cl_mem m, float *out) {
  size_t n = (size_t)p->h * p->s * p->d;
  if (clEnqueueReadBuffer(p->queue, m, CL_TRUE, 0, n * sizeof *out, out, 0, NULL, NULL) != CL_SUCCESS)
    DIE("clEnqueueReadBuffer failed");
}

static void parse(int argc, char **argv, problem *p) {
  p->s = 1024, p->h = 2, p->d = 64, p->a = 64, p->repeats = 7;
  for (int i = 1; i + 1 < argc; i += 2) {
    int value = atoi(argv[i + 1]);
    if (!strcmp(argv[i], "--seq")) p->s = value;
    else if (!strcmp(argv[i], "--heads")) p->h = value;
    else if (!strcmp(argv[i], "--dim")) p->d = value;
    else if (!strcmp(argv[i], "--attn-dim")) p->a = value;
    else if (!strcmp(argv[i], "--repeats")) p->repeats = value;
    else DIE("unknown option %s", argv[i]);
  }
  if (p->s < 1 || p->h < 1 || p->d < 1 || p->a < 1 || p->repeats < 1 || p->repeats > 64)
    DIE("sizes must be positive and repeats 1 .. 64");
}

int main(int argc, char **argv) {
  problem p;
  parse(argc, argv, &p);
  clattn_context *ctx = NULL;
  if (clattn_context_create(NULL, &ctx) != CLATTN_SUCCESS) DIE("%s", clattn_last_error(NULL));
  p.cl = clattn_context_cl_context(ctx);
  p.device = clattn_context_cl_device(ctx);
  p.queue = clattn_context_queue(ctx);
  uint64_t seed = 42;
  const size_t n = (size_t)p.h * p.s * p.d;
  p.q = random_buffer(&p, n, 1.7f, &seed);
  p.k = random_buffer(&p, n, 1.7f, &seed);
  p.v = random_buffer(&p, n, 1.7f, &seed);
  p.w1 = random_buffer(&p, (size_t)p.a * p.d, 1.7f / sqrtf((float)p.d), &seed);
  p.w2 = random_buffer(&p, (size_t)p.a * p.d, 1.7f / sqrtf((float)p.d), &seed);
  p.va = random_buffer(&p, (size_t)p.a, 3.4f / sqrtf((float)p.a), &seed);
  p.o_fused = make(&p, NULL, n);
  p.o_unfused = make(&p, NULL, n);
  p.qa = make(&p, NULL, (size_t)p.h * p.s * p.a);
  p.kb = make(&p, NULL, (size_t)p.h * p.s * p.a);
  p.scores = make(&p, NULL, (size_t)p.h * p.s * p.s);
  cl_program program = unfused_program(&p);
  cl_int err;
  cl_kernel scores = clCreateKernel(program, "additive_scores", &err);
  cl_kernel softmax = clCreateKernel(program, "row_softmax", &err);
  if (!scores || !softmax) DIE("clCreateKernel failed");

  double fused = median_seconds(&p, fused_runner, ctx, NULL);
  double unfused = median_seconds(&p, unfused_runner, scores, softmax);
  float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
  if (!a || !b) DIE("out of memory");
  read_output(&p, p.o_fused, a);
  read_output(&p, p.o_unfused, b);
  double agree = bench_max_rel_error(a, b, n);
  setenv("CLATTN_ADDITIVE_TANH_BUILTIN", "1", 1);
  double builtin = median_seconds(&p, fused_runner, ctx, NULL);
  read_output(&p, p.o_fused, a);
  double agree_builtin = bench_max_rel_error(a, b, n);

  const double tanh_count = (double)p.h * p.s * p.s * p.a;
  printf("additive attention B=1 H=%d S=%d D=%d A=%d, median of %d (seconds, wall clock)\n", p.h,
         p.s, p.d, p.a, p.repeats);
  printf("  fused (own tanh)      %.4f s  %.0f M tanh/s\n", fused, tanh_count / fused / 1e6);
  printf("  fused (builtin tanh)  %.4f s  %.0f M tanh/s\n", builtin, tanh_count / builtin / 1e6);
  printf("  unfused (own tanh)    %.4f s  %.0f M tanh/s  (scores %.1f MiB)\n", unfused,
         tanh_count / unfused / 1e6, (double)p.h * p.s * p.s * 4 / 1048576.0);
  printf("  fused / unfused speed-up %.2fx\n", unfused / fused);
  printf("  max |fused - unfused| / max |unfused| = %.2e (builtin tanh: %.2e)\n", agree, agree_builtin);
  int ok = agree <= 1e-4 && agree_builtin <= 1e-4;
  if (!ok) printf("  OUTPUTS DISAGREE\n");
  free(a);
  free(b);
  clReleaseKernel(scores);
  clReleaseKernel(softmax);
  clReleaseProgram(program);
  cl_mem all[11] = {p.q, p.k, p.v, p.w1, p.w2, p.va, p.o_fused, p.o_unfused, p.qa, p.kb, p.scores};
  for (int i = 0; i < 11; i++) clReleaseMemObject(all[i]);
  clattn_context_destroy(ctx);
  return ok ? 0 : 1;
}
