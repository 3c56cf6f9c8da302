/* clattn_sinusoidal_add against the formula in double precision: even and odd E (an odd
 * E's last feature gets the sine only), default and custom bases, offsets and per-batch
 * positions up to ~1e6, every storage type, gapped rows with offsets and canaries, and a
 * stride_head that must be ignored. Negative controls: sin and cos swapped, positions
 * ignored. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posenc_support.h"

typedef struct sin_case {
  const char *name;
  clattn_dtype dtype;
  int64_t B, S, E, gap;
  uint64_t pad;
  float base;
  int64_t position_offset;
  const int32_t *positions;
} sin_case;

static attn_env env;

static void run_case(const sin_case *c, uint64_t seed) {
  pe_view v = pe_view_bhsd(c->B, 1, c->S, c->E, c->gap, c->pad);
  pe_image image;
  pe_image_init(&image, c->dtype, pe_view_end(&v) + 31);
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  pe_image_fill(&image, &v, &rng, 1.0);
  pe_image_upload(&env, &image);
  cl_mem positions = c->positions ? attn_buffer(&env, c->positions, (size_t)c->B * 4) : NULL;
  clattn_tensor x = pe_tensor(&image, &v);
  x.stride_head = 1234567; /* ignored */
  cl_event done = NULL;
  CHECK_OK(env.ctx, clattn_sinusoidal_add(env.ctx, env.queue, &x, c->B, c->S, c->E,
                                          c->position_offset, positions, c->base, 0, NULL, &done));
  CHECK_CL(clWaitForEvents(1, &done));
  clReleaseEvent(done);
  unsigned char *got = pe_image_download(&env, &image);

  pe_expect e;
  pe_expect_init(&e, image.count);
  pe_expect_sinusoidal(&e, &image, &v, c->base, c->position_offset, c->positions, 0);
  pe_verify(c->name, &image, got, &e);

  char what[160];
  pe_expect_free(&e);
  pe_expect_init(&e, image.count);
  pe_expect_sinusoidal(&e, &image, &v, c->base, c->position_offset, c->positions, 1);
  snprintf(what, sizeof what, "%s vs sin and cos swapped", c->name);
  pe_expect_mismatch(what, &image, got, &e);
  if (c->positions) {
    pe_expect_free(&e);
    pe_expect_init(&e, image.count);
    pe_expect_sinusoidal(&e, &image, &v, c->base, c->position_offset, NULL, 0);
    snprintf(what, sizeof what, "%s vs positions ignored", c->name);
    pe_expect_mismatch(what, &image, got, &e);
  }
  pe_expect_free(&e);
  free(got);
  if (positions) clReleaseMemObject(positions);
  pe_image_free(&image);
}

/* Zeros in, so the output is the encoding itself: the first pair at position p is exactly
 * (sin p, cos p) (frequency 1), checked against libm at positions near 1e6. */
static void first_pair_exact(void) {
  const int64_t S = 40, E = 6;
  pe_view v = pe_view_bhsd(1, 1, S, E, 0, 0);
  pe_image image;
  pe_image_init(&image, CLATTN_F32, pe_view_end(&v));
  for (uint64_t i = 0; i < image.count; i++) ref_store(CLATTN_F32, image.bytes, i, 0.0f);
  pe_image_upload(&env, &image);
  clattn_tensor x = pe_tensor(&image, &v);
  const int64_t p0 = 1000003;
  CHECK_OK(env.ctx, clattn_sinusoidal_add(env.ctx, NULL, &x, 1, S, E, p0, NULL, 0.0f, 0, NULL, NULL));
  CHECK_CL(clFinish(env.queue));
  unsigned char *got = pe_image_download(&env, &image);
  double worst = 0.0;
  for (int64_t s = 0; s < S; s++) {
    double p = (double)(p0 + s);
    double ys = ref_load(CLATTN_F32, got, pe_index(&v, 0, 0, s, 0));
    double yc = ref_load(CLATTN_F32, got, pe_index(&v, 0, 0, s, 1));
    worst = fmax(worst, fmax(fabs(ys - sin(p)), fabs(yc - cos(p))));
  }
  CHECK(worst <= 2e-6);
  printf("  first pair at positions %lld..: worst |error| %.3g\n", (long long)p0, worst);
  free(got);
  pe_image_free(&image);
}

int main(void) {
  attn_env_init(&env);
  static const int32_t pos2[2] = {5, 999000};
  static const int32_t pos3[3] = {0, 1, 65536};
  const sin_case cases[] = {
      {"E 64, default base", CLATTN_F32, 2, 21, 64, 0, 0, 0.0f, 0, NULL},
      {"E 37 (odd), gaps, offset", CLATTN_F32, 2, 13, 37, 3, 5, 0.0f, 11, NULL},
      {"E 512, positions near 1e6", CLATTN_F32, 2, 5, 512, 1, 2, 0.0f, 1000, pos2},
      {"E 3, base 100, positions", CLATTN_F32, 3, 9, 3, 2, 1, 100.0f, 7, pos3},
      {"E 1 (sine only)", CLATTN_F32, 1, 9, 1, 0, 0, 0.0f, 2, NULL},
      {"f16, E 48, positions", CLATTN_F16, 2, 17, 48, 2, 3, 0.0f, 100, pos2},
      {"bf16, E 33, positions", CLATTN_BF16, 3, 11, 33, 1, 1, 0.0f, 0, pos3},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 500 + 31 * i);
  first_pair_exact();
  attn_env_destroy(&env);
  return check_done("test_posenc_sinusoidal");
}
