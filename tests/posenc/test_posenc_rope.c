/* clattn_rope_apply against the double-precision reference: both pair conventions, whole and
 * partial rotary dims, odd head dims, position offsets (negative ones too), per-batch
 * positions, positions up to 2^24, every storage type, BHSD and BSHD views with gaps, offsets
 * and canaries. Negative controls show each check would catch the other convention, the
 * opposite direction, ignored positions and the wrong frequency exponent. Also: the angle
 * itself is accurate to 1e-6 rad up to position 2^24, and the RoPE property that q . k after
 * rotation depends only on the position difference (within fp32 rounding). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posenc_support.h"

typedef struct rope_case {
  const char *name;
  clattn_rope_style style;
  int64_t rotary_dim;
  float base;
  clattn_dtype dtype;
  int64_t B, H, S, D;
  int bshd;
  int64_t gap;
  uint64_t pad;
  int64_t position_offset;
  const int32_t *positions;
  int controls; /* 1: run the negative controls too */
} rope_case;

static attn_env env;

static clattn_rope rope_of(const rope_case *c) {
  clattn_rope r = {c->style, c->base, c->rotary_dim};
  return r;
}

static pe_rope_call call_of(const rope_case *c) {
  pe_rope_call k;
  memset(&k, 0, sizeof k);
  k.style = c->style;
  k.rotary_dim = c->rotary_dim;
  k.base = c->base;
  k.rope_heads = c->H;
  k.position_offset = c->position_offset;
  k.positions = c->positions;
  return k;
}

/* Uploads the image, rotates the view, and returns what the device buffer holds after. */
static unsigned char *rotate(pe_image *image, const pe_view *v, const rope_case *c) {
  pe_image_upload(&env, image);
  cl_mem positions = c->positions ? attn_buffer(&env, c->positions, (size_t)c->B * 4) : NULL;
  clattn_tensor x = pe_tensor(image, v);
  clattn_rope rope = rope_of(c);
  cl_event done = NULL;
  CHECK_OK(env.ctx, clattn_rope_apply(env.ctx, NULL, &rope, &x, c->B, c->H, c->S, c->D,
                                      c->position_offset, positions, 0, NULL, &done));
  CHECK(done != NULL);
  CHECK_CL(clWaitForEvents(1, &done));
  cl_int state = 0;
  CHECK_CL(clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL));
  CHECK_EQ(state, CL_COMPLETE);
  clReleaseEvent(done);
  if (positions) clReleaseMemObject(positions);
  return pe_image_download(&env, image);
}

static void run_case(const rope_case *c, uint64_t seed) {
  pe_view v = c->bshd ? pe_view_bshd(c->B, c->H, c->S, c->D, c->gap, c->pad)
                      : pe_view_bhsd(c->B, c->H, c->S, c->D, c->gap, c->pad);
  pe_image image;
  pe_image_init(&image, c->dtype, pe_view_end(&v) + c->gap + 29); /* 29+ canary elements */
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  pe_image_fill(&image, &v, &rng, 1.0);
  unsigned char *got = rotate(&image, &v, c);

  pe_expect e;
  pe_expect_init(&e, image.count);
  pe_rope_call call = call_of(c);
  pe_expect_rope(&e, &image, &v, &call);
  pe_verify(c->name, &image, got, &e);

  /* The same call again gives the same bits. */
  unsigned char *again = rotate(&image, &v, c);
  if (memcmp(got, again, (size_t)image.count * clattn_dtype_size(c->dtype)) != 0)
    check_fail(__FILE__, __LINE__, "%s: two identical calls differ", c->name);
  check_pass();
  free(again);

  if (c->controls) {
    char what[160];
    pe_rope_call wrong = call;
    int64_t R = c->rotary_dim ? c->rotary_dim : c->D;
    if (R >= 4) { /* with one pair the two conventions coincide */
      wrong.style = c->style == CLATTN_ROPE_INTERLEAVED ? CLATTN_ROPE_HALF : CLATTN_ROPE_INTERLEAVED;
      pe_expect_free(&e);
      pe_expect_init(&e, image.count);
      pe_expect_rope(&e, &image, &v, &wrong);
      snprintf(what, sizeof what, "%s vs the other pair convention", c->name);
      pe_expect_mismatch(what, &image, got, &e);
    }

    /* The opposite direction, R(-a) = M R(a) M with M = diag(1, -1) on each pair: mirror
     * the second feature of every rotated pair, rotate, and mirror back. */
    pe_expect_free(&e);
    pe_expect_init(&e, image.count);
    pe_image mirrored;
    pe_image_init(&mirrored, c->dtype, image.count);
    memcpy(mirrored.bytes, image.bytes, (size_t)image.count * clattn_dtype_size(c->dtype));
    for (int pass = 0; pass < 2; pass++) {
      for (int64_t b = 0; b < c->B; b++)
        for (int64_t h = 0; h < c->H; h++)
          for (int64_t s = 0; s < c->S; s++)
            for (int64_t i = 0; i < R / 2; i++) {
              int64_t y = c->style == CLATTN_ROPE_INTERLEAVED ? 2 * i + 1 : i + R / 2;
              uint64_t at = pe_index(&v, b, h, s, y);
              if (pass == 0) ref_store(c->dtype, mirrored.bytes, at, -ref_load(c->dtype, mirrored.bytes, at));
              else e.value[at] = -e.value[at];
            }
      if (pass == 0) pe_expect_rope(&e, &mirrored, &v, &call);
    }
    pe_image_free(&mirrored);
    snprintf(what, sizeof what, "%s vs the opposite direction", c->name);
    pe_expect_mismatch(what, &image, got, &e);

    if (c->positions) {
      wrong = call;
      wrong.positions = NULL;
      pe_expect_free(&e);
      pe_expect_init(&e, image.count);
      pe_expect_rope(&e, &image, &v, &wrong);
      snprintf(what, sizeof what, "%s vs positions ignored", c->name);
      pe_expect_mismatch(what, &image, got, &e);
    }
    if (c->position_offset != 0) {
      wrong = call;
      wrong.position_offset = 0;
      pe_expect_free(&e);
      pe_expect_init(&e, image.count);
      pe_expect_rope(&e, &image, &v, &wrong);
      snprintf(what, sizeof what, "%s vs position_offset ignored", c->name);
      pe_expect_mismatch(what, &image, got, &e);
    }
    if (c->rotary_dim >= 4 && c->rotary_dim < c->D) { /* one pair: frequency 1 either way */
      wrong = call;
      wrong.freq_dim = c->D;
      pe_expect_free(&e);
      pe_expect_init(&e, image.count);
      pe_expect_rope(&e, &image, &v, &wrong);
      snprintf(what, sizeof what, "%s vs frequencies base^(-2i/D)", c->name);
      pe_expect_mismatch(what, &image, got, &e);
    }
  }
  pe_expect_free(&e);
  free(got);
  pe_image_free(&image);
}

/* The rotated angle of unit vectors (1, 0) against fp64, at positions just below 2^24 and
 * around 1e6: |error| <= 1e-6 rad and the length stays 1. */
static void angle_accuracy(clattn_rope_style style, int64_t position_offset) {
  const int64_t S = 48, D = 128;
  pe_view v = pe_view_bhsd(1, 1, S, D, 0, 0);
  pe_image image;
  pe_image_init(&image, CLATTN_F32, pe_view_end(&v));
  for (int64_t s = 0; s < S; s++)
    for (int64_t i = 0; i < D / 2; i++) {
      int64_t x = style == CLATTN_ROPE_INTERLEAVED ? 2 * i : i;
      int64_t y = style == CLATTN_ROPE_INTERLEAVED ? 2 * i + 1 : i + D / 2;
      ref_store(CLATTN_F32, image.bytes, pe_index(&v, 0, 0, s, x), 1.0f);
      ref_store(CLATTN_F32, image.bytes, pe_index(&v, 0, 0, s, y), 0.0f);
    }
  rope_case c = {"angle", style, 0, 0.0f, CLATTN_F32, 1, 1, S, D, 0, 0, 0, position_offset, NULL, 0};
  unsigned char *got = rotate(&image, &v, &c);
  double worst = 0.0, worst_len = 0.0;
  for (int64_t s = 0; s < S; s++)
    for (int64_t i = 0; i < D / 2; i++) {
      int64_t x = style == CLATTN_ROPE_INTERLEAVED ? 2 * i : i;
      int64_t y = style == CLATTN_ROPE_INTERLEAVED ? 2 * i + 1 : i + D / 2;
      double cx = ref_load(CLATTN_F32, got, pe_index(&v, 0, 0, s, x));
      double cy = ref_load(CLATTN_F32, got, pe_index(&v, 0, 0, s, y));
      double want = pe_angle((double)(position_offset + s), 10000.0, i, D);
      double err = fabs(remainder(atan2(cy, cx) - want, PE_TWO_PI));
      double len = fabs(hypot(cx, cy) - 1.0);
      if (!(err <= 1e-6) || !(len <= 1e-6))
        check_fail(__FILE__, __LINE__,
                   "angle at position %lld, pair %lld: (%.9g, %.9g), angle error %.3g rad, length "
                   "error %.3g",
                   (long long)(position_offset + s), (long long)i, cx, cy, err, len);
      worst = fmax(worst, err);
      worst_len = fmax(worst_len, len);
    }
  check_pass();
  printf("  angle accuracy, %s, positions %lld..%lld: worst %.3g rad (length %.3g)\n",
         style == CLATTN_ROPE_INTERLEAVED ? "interleaved" : "half", (long long)position_offset,
         (long long)(position_offset + S - 1), worst, worst_len);
  free(got);
  pe_image_free(&image);
}

/* q . k after rotation: q at positions m0 + s (position_offset), k at n0 + t (a positions
 * buffer). Equal differences give equal products, the products match fp64's
 * q^T R((n - m) w) k, and they do change with the difference. */
static void relative_property(clattn_rope_style style) {
  const int64_t S = 16, D = 64;
  const int64_t m0 = 123457;
  const int32_t n0[1] = {987};
  pe_view v = pe_view_bhsd(1, 1, S, D, 0, 0);
  pe_image q, k;
  pe_image_init(&q, CLATTN_F32, pe_view_end(&v));
  pe_image_init(&k, CLATTN_F32, pe_view_end(&v));
  ref_rng rng;
  ref_rng_seed(&rng, 77 + (uint64_t)style);
  float q0[64], k0[64];
  ref_rng_fill_normal(&rng, q0, D, 1.0);
  ref_rng_fill_normal(&rng, k0, D, 1.0);
  for (int64_t s = 0; s < S; s++)
    for (int64_t d = 0; d < D; d++) {
      ref_store(CLATTN_F32, q.bytes, pe_index(&v, 0, 0, s, d), q0[d]);
      ref_store(CLATTN_F32, k.bytes, pe_index(&v, 0, 0, s, d), k0[d]);
    }
  rope_case cq = {"q", style, 0, 0.0f, CLATTN_F32, 1, 1, S, D, 0, 0, 0, m0, NULL, 0};
  rope_case ck = {"k", style, 0, 0.0f, CLATTN_F32, 1, 1, S, D, 0, 0, 0, 0, n0, 0};
  unsigned char *qr = rotate(&q, &v, &cq), *kr = rotate(&k, &v, &ck);
  double scale = 0.0;
  for (int64_t d = 0; d < D; d++) scale += fabs((double)q0[d] * k0[d]);
  double dots[16][16], worst = 0.0;
  for (int64_t s = 0; s < S; s++)
    for (int64_t t = 0; t < S; t++) {
      double dot = 0.0, want = 0.0, other = 0.0;
      for (int64_t d = 0; d < D; d++)
        dot += (double)ref_load(CLATTN_F32, qr, pe_index(&v, 0, 0, s, d)) *
               ref_load(CLATTN_F32, kr, pe_index(&v, 0, 0, t, d));
      double delta = (double)(n0[0] + t) - (double)(m0 + s);
      for (int conv = 0; conv < 2; conv++)
        for (int64_t i = 0; i < D / 2; i++) {
          int interleaved = (conv == 0) == (style == CLATTN_ROPE_INTERLEAVED);
          int64_t x = interleaved ? 2 * i : i, y = interleaved ? 2 * i + 1 : i + D / 2;
          double phi = pe_angle(delta, 10000.0, i, D);
          double term = ((double)q0[x] * k0[x] + (double)q0[y] * k0[y]) * cos(phi) +
                        ((double)q0[y] * k0[x] - (double)q0[x] * k0[y]) * sin(phi);
          if (conv == 0) want += term;
          else other += term;
        }
      dots[s][t] = dot;
      if (!(fabs(dot - want) <= 1e-5 * scale))
        check_fail(__FILE__, __LINE__, "q(%lld) . k(%lld) = %.9g, fp64 formula %.9g (scale %.3g)",
                   (long long)s, (long long)t, dot, want, scale);
      if (!(fabs(dot - other) > 1e-3 * scale) && s == 0 && t == 0)
        check_fail(__FILE__, __LINE__, "the other convention's formula also matches q . k");
      worst = fmax(worst, fabs(dot - want) / scale);
    }
  check_pass();
  /* Equal differences, equal products; a different difference, a different product. */
  for (int64_t s = 1; s < S; s++)
    for (int64_t t = 1; t < S; t++)
      if (!(fabs(dots[s][t] - dots[s - 1][t - 1]) <= 2e-5 * scale))
        check_fail(__FILE__, __LINE__, "q(%lld).k(%lld) = %.9g but q(%lld).k(%lld) = %.9g",
                   (long long)s, (long long)t, dots[s][t], (long long)s - 1, (long long)t - 1,
                   dots[s - 1][t - 1]);
  check_pass();
  CHECK(fabs(dots[0][0] - dots[0][1]) > 1e-3 * scale);
  printf("  q.k relative property, %s: worst |dot - fp64| / sum|q k| = %.3g\n",
         style == CLATTN_ROPE_INTERLEAVED ? "interleaved" : "half", worst);
  free(qr);
  free(kr);
  pe_image_free(&q);
  pe_image_free(&k);
}

int main(void) {
  attn_env_init(&env);
  static const int32_t pos2[2] = {3, 1000};
  static const int32_t pos3[3] = {0, 37, 1 << 20};
  static const int32_t far[2] = {999000, 1 << 23};
  const clattn_rope_style styles[2] = {CLATTN_ROPE_INTERLEAVED, CLATTN_ROPE_HALF};
  for (int k = 0; k < 2; k++) {
    clattn_rope_style st = styles[k];
    const rope_case cases[] = {
        {"whole head, bhsd", st, 0, 0.0f, CLATTN_F32, 2, 3, 19, 64, 0, 0, 0, 0, NULL, 1},
        {"partial 24/40, bshd gaps, offset, positions", st, 24, 0.0f, CLATTN_F32, 2, 3, 11, 40, 1, 3, 5, 7, pos2, 1},
        {"partial 20/37 (odd D), negative offset", st, 20, 0.0f, CLATTN_F32, 1, 2, 19, 37, 0, 2, 3, -20, NULL, 1},
        {"positions near 1e6 and 2^23+2^20", st, 0, 0.0f, CLATTN_F32, 2, 2, 9, 128, 1, 0, 0, 1000, far, 1},
        {"offset 1e6, positions", st, 96, 0.0f, CLATTN_F32, 3, 2, 9, 128, 0, 1, 2, 1000000, pos3, 1},
        {"positions just below 2^24", st, 0, 0.0f, CLATTN_F32, 1, 2, 9, 64, 0, 0, 0, (1 << 24) - 9, NULL, 0},
        {"base 500000, D 256 (slots > work-group)", st, 0, 500000.0f, CLATTN_F32, 1, 2, 5, 256, 1, 0, 0, 4096, NULL, 1},
        {"R 2 of D 2", st, 2, 0.0f, CLATTN_F32, 2, 1, 7, 2, 0, 1, 1, 3, pos2, 0},
        {"R 2 of D 9", st, 2, 100.0f, CLATTN_F32, 2, 1, 7, 9, 1, 1, 1, 3, pos2, 1},
        {"f16, partial 32/48, positions", st, 32, 0.0f, CLATTN_F16, 2, 3, 13, 48, 1, 3, 1, 50000, pos2, 1},
        {"f16, whole head, bhsd", st, 0, 0.0f, CLATTN_F16, 1, 2, 17, 64, 0, 0, 4, 12, NULL, 0},
        {"bf16, whole head, positions", st, 0, 0.0f, CLATTN_BF16, 2, 2, 17, 32, 1, 1, 0, 0, pos2, 1},
        {"bf16, partial 16/33", st, 16, 0.0f, CLATTN_BF16, 2, 3, 5, 33, 0, 5, 7, 100, pos2, 1},
    };
    printf("%s:\n", st == CLATTN_ROPE_INTERLEAVED ? "interleaved" : "half-split");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i], 1000 + 17 * i + (uint64_t)k);
    angle_accuracy(st, 1000000 - 7);
    angle_accuracy(st, (1 << 24) - 48);
    relative_property(st);
  }
  attn_env_destroy(&env);
  return check_done("test_posenc_rope");
}
