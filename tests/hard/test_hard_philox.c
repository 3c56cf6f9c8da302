/* The random numbers of hard attention.
 *
 *  - Philox-4x32-10: the host copy and the device (cl/hard.cl's hard_philox test kernel)
 *    against Random123's known-answer vectors (kat_vectors, philox4x32 10), and against each
 *    other on many counters and keys.
 *  - The Gumbel noise g = -log(-log U): the device bitwise equal to the host copy on edges
 *    and a sweep of the 2^24 possible U, and the host copy within 4e-7 (absolute, plus
 *    1e-6 relative) of the double-precision formula on every one of the 2^24, with the
 *    moments of Gumbel(0, 1): mean Euler's gamma, variance pi^2 / 6.
 *
 * hard.cl is built here with no defines at all, which also shows it compiles alone. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "defines.h"
#include "hard_support.h"
#include "program.h"

static attn_env env;

static cl_kernel test_kernel(const char *name) {
  clattn__defines defines;
  cl_program program;
  cl_kernel kernel;
  clattn__defines_init(&defines);
  CHECK_OK(env.ctx, clattn__program_get(env.ctx, "hard.cl", &defines, &program, NULL));
  CHECK_OK(env.ctx, clattn__kernel_create(env.ctx, program, name, &kernel));
  return kernel;
}

static void run_1d(cl_kernel kernel, size_t n) {
  CHECK_CL(clEnqueueNDRangeKernel(env.queue, kernel, 1, NULL, &n, NULL, 0, NULL, NULL));
  CHECK_CL(clFinish(env.queue));
}

/* Runs the device Philox on n (counter, key) tuples: in[6 i ..] -> out[4 i ..]. */
static void device_philox(const uint32_t *in, uint32_t *out, int n) {
  cl_kernel kernel = test_kernel("hard_philox");
  cl_mem bin = attn_buffer(&env, in, (size_t)n * 6 * 4),
         bout = attn_buffer(&env, NULL, (size_t)n * 16);
  CHECK_CL(clSetKernelArg(kernel, 0, sizeof bin, &bin));
  CHECK_CL(clSetKernelArg(kernel, 1, sizeof bout, &bout));
  CHECK_CL(clSetKernelArg(kernel, 2, sizeof n, &n));
  run_1d(kernel, (size_t)n);
  attn_read(&env, bout, out, (size_t)n * 16);
  clReleaseMemObject(bin);
  clReleaseMemObject(bout);
  clReleaseKernel(kernel);
}

static void test_known_answers(void) {
  /* Random123 tests/kat_vectors: "philox4x32 10 <counter words> <key words> <output words>". */
  static const uint32_t kat[3][10] = {
      {0, 0, 0, 0, 0, 0, 0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8},
      {0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0x408f276d,
       0x41c83b0e, 0xa20bc7c6, 0x6d5451fd},
      {0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, 0xd16cfe09,
       0x94fdcceb, 0x5001e420, 0x24126ea1}};
  uint32_t in[18], out[12];
  for (int i = 0; i < 3; i++) {
    uint32_t host[4];
    hd_philox(kat[i], kat[i] + 4, host);
    for (int w = 0; w < 4; w++) CHECK_EQ(host[w], kat[i][6 + w]);
    memcpy(in + 6 * i, kat[i], 6 * sizeof(uint32_t));
  }
  device_philox(in, out, 3);
  for (int i = 0; i < 3; i++)
    for (int w = 0; w < 4; w++) CHECK_EQ(out[4 * i + w], kat[i][6 + w]);
  printf("philox4x32-10: 3 known-answer vectors on host and device\n");
}

static void test_device_matches_host(void) {
  enum { N = 4096 };
  uint32_t *in = malloc(N * 6 * 4), *out = malloc(N * 16);
  CHECK(in && out);
  ref_rng rng;
  ref_rng_seed(&rng, 77);
  for (int i = 0; i < N * 6; i++) in[i] = (uint32_t)ref_rng_u64(&rng);
  device_philox(in, out, N);
  int differ = 0;
  for (int i = 0; i < N; i++) {
    uint32_t host[4];
    hd_philox(in + 6 * i, in + 6 * i + 4, host);
    differ += memcmp(host, out + 4 * i, 16) != 0;
  }
  CHECK_EQ(differ, 0);
  free(in);
  free(out);
  printf("philox4x32-10: %d random (counter, key) pairs equal on host and device\n", N);
}

/* Device noise for the given top-24-bit values. */
static void device_gumbel(const uint32_t *u, float *g, int n) {
  cl_kernel kernel = test_kernel("hard_gumbel");
  cl_mem bu = attn_buffer(&env, u, (size_t)n * 4), bg = attn_buffer(&env, NULL, (size_t)n * 4);
  CHECK_CL(clSetKernelArg(kernel, 0, sizeof bu, &bu));
  CHECK_CL(clSetKernelArg(kernel, 1, sizeof bg, &bg));
  CHECK_CL(clSetKernelArg(kernel, 2, sizeof n, &n));
  run_1d(kernel, (size_t)n);
  attn_read(&env, bg, g, (size_t)n * 4);
  clReleaseMemObject(bu);
  clReleaseMemObject(bg);
  clReleaseKernel(kernel);
}

static void test_gumbel_device_bitwise(void) {
  /* Both ends, both sides of every branch of the logarithm, and a sweep of the rest. */
  static const uint32_t edges[] = {0, 1, 2, 0x3fffff, 0x400000, 0x5a8279, 0x5a827a, 0x7fffff,
                                   0x800000, 0x800001, 0xb504f3, 0xb504f4, 0xfffffe, 0xffffff};
  const int n_edges = (int)(sizeof edges / sizeof edges[0]), n = n_edges + (1 << 20);
  uint32_t *u = malloc((size_t)n * 4);
  float *g = malloc((size_t)n * 4);
  CHECK(u && g);
  memcpy(u, edges, sizeof edges);
  for (int i = n_edges; i < n; i++) u[i] = (uint32_t)(i - n_edges) * 16u + (uint32_t)(i % 16);
  device_gumbel(u, g, n);
  int differ = 0;
  for (int i = 0; i < n; i++) {
    float want = hd_gumbel_of_bits(u[i]);
    if (memcmp(&want, &g[i], sizeof want) != 0 && differ++ < 5)
      printf("  u = 0x%06x: device %.9g, host %.9g\n", u[i], (double)g[i], (double)want);
  }
  CHECK_EQ(differ, 0);
  printf("gumbel: device bitwise equal to the host copy on %d values of U\n", n);
  free(u);
  free(g);
}

static void test_gumbel_accuracy(void) {
  double worst = 0.0, sum = 0.0, sum2 = 0.0;
  uint32_t worst_u = 0;
  for (uint32_t u = 0; u < (1u << 24); u++) {
    double U = ((double)u + 0.5) / 16777216.0;
    double exact = -log(-log(U));
    double g = (double)hd_gumbel_of_bits(u);
    double err = fabs(g - exact) / (4e-7 + 1e-6 * fabs(exact));
    if (err > worst) {
      worst = err;
      worst_u = u;
    }
    sum += g;
    sum2 += g * g;
  }
  const double n = 16777216.0, mean = sum / n, var = sum2 / n - mean * mean;
  printf("gumbel: worst error / tolerance %.3f at u = 0x%06x; mean %.6f (gamma 0.577216), "
         "variance %.6f (pi^2/6 1.644934)\n", worst, worst_u, mean, var);
  CHECK(worst <= 1.0);
  CHECK_NEAR(mean, 0.5772156649, 1e-4);
  CHECK_NEAR(var, 1.6449340668, 1e-3);
  CHECK(isfinite(hd_gumbel_of_bits(0)) && isfinite(hd_gumbel_of_bits(0xffffff)));
}

int main(void) {
  attn_env_init(&env);
  test_known_answers();
  test_device_matches_host();
  test_gumbel_device_bitwise();
  test_gumbel_accuracy();
  attn_env_destroy(&env);
  return check_done("test_hard_philox");
}
