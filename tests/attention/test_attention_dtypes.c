/* Storage types. First the host conversions of tests/ref (round to nearest even, ties,
 * subnormals, overflow, NaN) by their defining properties. Then the kernel's loads and
 * stores bit-exactly: with one key the softmax weight is exactly 1, so O is V converted from
 * V's storage type to O's — every f16 and bf16 bit pattern is decoded, and special and
 * random floats are rounded. Then random problems with Q, K, V, O types mixed freely,
 * against the reference computed from the rounded inputs and rounded to O's type (1 ulp
 * plus the fp32 budget). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

static float bits_to_float(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

static uint32_t float_to_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

/* ---- host conversions ---------------------------------------------------------------- */

/* h = convert(x) must be a nearest representable value, ties to the even pattern. */
static void check_nearest(clattn_dtype t, float x) {
  uint16_t h = t == CLATTN_F16 ? ref_f32_to_f16(x) : ref_f32_to_bf16(x);
  float (*decode)(uint16_t) = t == CLATTN_F16 ? ref_f16_to_f32 : ref_bf16_to_f32;
  const uint16_t inf = t == CLATTN_F16 ? 0x7c00 : 0x7f80;
  const uint16_t sign = (float_to_bits(x) >> 31) ? 0x8000 : 0;
  if (isnan(x)) {
    if (!isnan(decode(h))) check_fail(__FILE__, __LINE__, "%s(NaN) = 0x%04x", ref_dtype_name(t), h);
    return;
  }
  if ((h & 0x8000) != sign) check_fail(__FILE__, __LINE__, "%s(%a): sign lost", ref_dtype_name(t), (double)x);
  const uint16_t mag = h & 0x7fff;
  const double y = fabs((double)decode(h)), ax = fabs((double)x);
  if (mag == inf) {
    /* Overflow: x is at least the largest finite value plus half its ulp. */
    double max = fabs((double)decode((uint16_t)(inf - 1)));
    double half = 0.5 * ref_ulp(t, max);
    if (!(ax >= max + half))
      check_fail(__FILE__, __LINE__, "%s(%a) overflowed to inf", ref_dtype_name(t), (double)x);
    return;
  }
  if (mag > inf) check_fail(__FILE__, __LINE__, "%s(%a) = NaN 0x%04x", ref_dtype_name(t), (double)x, h);
  double below = mag > 0 ? fabs((double)decode((uint16_t)(mag - 1))) : -1.0;
  double above = fabs((double)decode((uint16_t)(mag + 1)));
  double err = fabs(ax - y);
  int ok = err <= fabs(ax - above) && (mag == 0 || err <= fabs(ax - below));
  if (ok && err == fabs(ax - above) && err > 0) ok = (mag & 1) == 0; /* tie: even */
  if (ok && mag > 0 && err == fabs(ax - below) && err > 0) ok = (mag & 1) == 0;
  if (!ok)
    check_fail(__FILE__, __LINE__, "%s(%a) = 0x%04x (%a): not the nearest even", ref_dtype_name(t),
               (double)x, h, y);
}

static void host_conversions(void) {
  printf("host conversions:\n");
  /* Fixed points. */
  CHECK_EQ(ref_f32_to_f16(1.0f), 0x3c00);
  CHECK_EQ(ref_f32_to_f16(-2.0f), 0xc000);
  CHECK_EQ(ref_f32_to_f16(65504.0f), 0x7bff);
  CHECK_EQ(ref_f32_to_f16(65519.996f), 0x7bff);
  CHECK_EQ(ref_f32_to_f16(65520.0f), 0x7c00);
  CHECK_EQ(ref_f32_to_f16(INFINITY), 0x7c00);
  CHECK_EQ(ref_f32_to_f16(-INFINITY), 0xfc00);
  CHECK_EQ(ref_f32_to_f16(-0.0f), 0x8000);
  CHECK_EQ(ref_f32_to_f16(ldexpf(1.0f, -14)), 0x0400);
  CHECK_EQ(ref_f32_to_f16(ldexpf(1.0f, -24)), 0x0001);
  CHECK_EQ(ref_f32_to_f16(ldexpf(1.0f, -25)), 0x0000);               /* tie to even 0 */
  CHECK_EQ(ref_f32_to_f16(ldexpf(1.0f, -25) * 1.0001f), 0x0001);
  CHECK_EQ(ref_f32_to_f16(ldexpf(3.0f, -25)), 0x0002);               /* 1.5 ulp: to 2 */
  CHECK_EQ(ref_f32_to_f16(ldexpf(5.0f, -25)), 0x0002);               /* 2.5 ulp: to 2 */
  CHECK_EQ(ref_f32_to_f16(ldexpf(2047.0f, -25)), 0x0400);            /* rounds up to normal */
  CHECK_EQ(ref_f32_to_f16(1.0f + ldexpf(1.0f, -11)), 0x3c00);        /* tie: even */
  CHECK_EQ(ref_f32_to_f16(1.0f + ldexpf(3.0f, -11)), 0x3c02);        /* tie: even (up) */
  CHECK_EQ(ref_f32_to_f16(2047.5f), 0x6800);                         /* 2048 */
  CHECK(ref_f32_to_f16(NAN) > 0x7c00 && ref_f32_to_f16(NAN) < 0x8000);
  CHECK(isnan(ref_f16_to_f32(ref_f32_to_f16(-NAN))));
  CHECK_EQ(ref_f32_to_bf16(1.0f), 0x3f80);
  CHECK_EQ(ref_f32_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80);        /* tie: even */
  CHECK_EQ(ref_f32_to_bf16(1.0f + ldexpf(3.0f, -8)), 0x3f82);        /* tie: even (up) */
  CHECK_EQ(ref_f32_to_bf16(bits_to_float(0x7f7fffff)), 0x7f80);      /* max float: inf */
  CHECK_EQ(ref_f32_to_bf16(bits_to_float(0x7f7f7fff)), 0x7f7f);
  CHECK_EQ(ref_f32_to_bf16(bits_to_float(0x00008000)), 0x0000);      /* subnormal tie: even */
  CHECK_EQ(ref_f32_to_bf16(bits_to_float(0x00018000)), 0x0002);
  CHECK_EQ(ref_f32_to_bf16(-INFINITY), 0xff80);
  CHECK(isnan(ref_bf16_to_f32(ref_f32_to_bf16(bits_to_float(0x7f800001))))); /* stays NaN */
  CHECK_NEAR(ref_ulp(CLATTN_F16, 1.0), ldexp(1.0, -10), 0.0);
  CHECK_NEAR(ref_ulp(CLATTN_F16, 1.999), ldexp(1.0, -10), 0.0);
  CHECK_NEAR(ref_ulp(CLATTN_F16, 1e-7), ldexp(1.0, -24), 0.0);
  CHECK_NEAR(ref_ulp(CLATTN_BF16, 3.0), ldexp(1.0, -6), 0.0);
  CHECK_NEAR(ref_ulp(CLATTN_F32, 1.0), ldexp(1.0, -23), 0.0);

  /* Every 16-bit pattern round-trips; every float near each pattern rounds to a nearest. */
  for (uint32_t u = 0; u < 65536; u++) {
    uint16_t h = (uint16_t)u;
    float f = ref_f16_to_f32(h), b = ref_bf16_to_f32(h);
    if (isnan(f)) CHECK(isnan(ref_f16_to_f32(ref_f32_to_f16(f))));
    else if (ref_f32_to_f16(f) != h) check_fail(__FILE__, __LINE__, "f16 0x%04x does not round-trip", h);
    if (isnan(b)) CHECK(isnan(ref_bf16_to_f32(ref_f32_to_bf16(b))));
    else if (ref_f32_to_bf16(b) != h) check_fail(__FILE__, __LINE__, "bf16 0x%04x does not round-trip", h);
    /* Floats just around f and b, midpoints included (f16 values are exact floats). */
    if (isfinite(f)) {
      uint32_t fb = float_to_bits(f);
      for (int32_t dlt = -4100; dlt <= 4100; dlt += 41)
        check_nearest(CLATTN_F16, bits_to_float(fb + (uint32_t)dlt));
      check_nearest(CLATTN_F16, bits_to_float(fb + 0x1000u)); /* the midpoint above (normals) */
    }
    if (isfinite(b)) {
      uint32_t bb = float_to_bits(b);
      check_nearest(CLATTN_BF16, bits_to_float(bb + 0x8000u));
      check_nearest(CLATTN_BF16, bits_to_float(bb + 0x7fffu));
      check_nearest(CLATTN_BF16, bits_to_float(bb + 0x8001u));
      check_nearest(CLATTN_BF16, bits_to_float(bb - 1u));
    }
  }
  check_pass();
  ref_rng rng;
  ref_rng_seed(&rng, 99);
  for (int n = 0; n < 1000000; n++) {
    float x = bits_to_float((uint32_t)ref_rng_u64(&rng));
    check_nearest(CLATTN_F16, x);
    check_nearest(CLATTN_BF16, x);
  }
  check_pass();
  printf("  f16/bf16 conversions: fixed points, all 65536 patterns, 1e6 random floats: ok\n");
}

/* ---- kernel loads and stores, bit-exact ------------------------------------------------ */

/* One key per head: O(b, h, 0, :) = V(b, h, 0, :) converted from V's type to O's, whatever
 * Q and K hold (the single weight is exp(0) / 1 = 1 exactly). V (B, H, 1, Dv) takes
 * vals[i % nvals] (representable in vt). Checks O bit-exactly against the host conversion.
 * The types, D and configuration repeat those of a mixed-type case below so that no extra
 * kernel variant is built. */
typedef struct copy_spec {
  const char *name;
  clattn_dtype qt, kt, vt, ot;
  int64_t B, H, D, Dv;
  const clattn__attention_config *config;
} copy_spec;

static void exact_copy(attn_env *env, const copy_spec *sp, const float *vals, size_t nvals) {
  const int64_t B = sp->B, H = sp->H, D = sp->D, Dv = sp->Dv;
  const size_t n = (size_t)(B * H * Dv), nq = (size_t)(B * H * D);
  const size_t qs = clattn_dtype_size(sp->qt), ks = clattn_dtype_size(sp->kt),
               vs = clattn_dtype_size(sp->vt), os = clattn_dtype_size(sp->ot);
  unsigned char *qimg = malloc(nq * qs), *kimg = malloc(nq * ks), *vimg = malloc(n * vs),
                *oimg = malloc(n * os + 64);
  CHECK(qimg && kimg && vimg && oimg);
  ref_rng rng;
  ref_rng_seed(&rng, 5);
  for (size_t i = 0; i < nq; i++) {
    ref_store(sp->qt, qimg, i, (float)ref_rng_normal(&rng));
    ref_store(sp->kt, kimg, i, (float)ref_rng_normal(&rng));
  }
  for (size_t i = 0; i < n; i++) ref_store(sp->vt, vimg, i, vals[i % nvals]);
  memset(oimg, 0xC3, n * os + 64);
  cl_mem bq = attn_buffer(env, qimg, nq * qs), bk = attn_buffer(env, kimg, nq * ks),
         bv = attn_buffer(env, vimg, n * vs), bo = attn_buffer(env, oimg, n * os + 64);
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = B;
  desc.q_heads = desc.kv_heads = H;
  desc.q_len = desc.kv_len = 1;
  desc.head_dim = D;
  desc.v_head_dim = Dv;
  clattn_tensor tq = clattn_tensor_contiguous(bq, sp->qt, CLATTN_LAYOUT_BHSD, H, 1, D, 0);
  clattn_tensor tk = clattn_tensor_contiguous(bk, sp->kt, CLATTN_LAYOUT_BHSD, H, 1, D, 0);
  clattn_tensor tv = clattn_tensor_contiguous(bv, sp->vt, CLATTN_LAYOUT_BHSD, H, 1, Dv, 0);
  clattn_tensor to = clattn_tensor_contiguous(bo, sp->ot, CLATTN_LAYOUT_BHSD, H, 1, Dv, 0);
  CHECK_OK(env->ctx, clattn__attention_set_override(env->ctx, sp->config));
  CHECK_OK(env->ctx, clattn_attention_forward(env->ctx, NULL, &desc, &tq, &tk, &tv, &to, NULL, 0,
                                              NULL, NULL));
  CHECK_OK(env->ctx, clattn__attention_set_override(env->ctx, NULL));
  attn_read(env, bo, oimg, n * os + 64);
  size_t nans = 0;
  for (size_t i = 0; i < n; i++) {
    float in = ref_load(sp->vt, vimg, i), y = ref_load(sp->ot, oimg, i);
    unsigned char want[4];
    ref_store(sp->ot, want, 0, in);
    if (isnan(in)) {
      if (!isnan(y)) check_fail(__FILE__, __LINE__, "%s: NaN V[%zu] came out as %a", sp->name, i, (double)y);
      nans++;
      continue;
    }
    /* The sum starts from +0, so -0 in V may come out as +0: zeros compare by value. */
    if (ref_load(sp->ot, want, 0) == 0.0f ? y != 0.0f : memcmp(want, oimg + i * os, os) != 0)
      check_fail(__FILE__, __LINE__, "%s [%s]: V[%zu] = %a (%s) stored as %s: got %a, expected %a",
                 sp->name, attn_config_name(sp->config), i, (double)in, ref_dtype_name(sp->vt),
                 ref_dtype_name(sp->ot), (double)y, (double)ref_load(sp->ot, want, 0));
  }
  check_pass();
  for (size_t i = n * os; i < n * os + 64; i++) CHECK_EQ(oimg[i], 0xC3);
  printf("  %-44s %-34s %zu values bit-exact (%zu NaN)\n", sp->name,
         attn_config_name(sp->config), n, nans);
  clReleaseMemObject(bq);
  clReleaseMemObject(bk);
  clReleaseMemObject(bv);
  clReleaseMemObject(bo);
  free(qimg);
  free(kimg);
  free(vimg);
  free(oimg);
}

static void kernel_exact(attn_env *env) {
  printf("kernel loads and stores (one key: O = V):\n");
  /* Every f16 and every bf16 pattern decoded into f32. */
  float *vals = malloc(65536 * sizeof *vals);
  CHECK(vals != NULL);
  for (uint32_t u = 0; u < 65536; u++) vals[u] = ref_f16_to_f32((uint16_t)u);
  const copy_spec f16_in = {"all f16 patterns -> f32", CLATTN_F16, CLATTN_BF16, CLATTN_F16,
                            CLATTN_F32, 10, 112, 59, 59, &ATTN_VEC1};
  exact_copy(env, &f16_in, vals, 65536);
  for (uint32_t u = 0; u < 65536; u++) vals[u] = ref_bf16_to_f32((uint16_t)u);
  const copy_spec bf16_in = {"all bf16 patterns -> f32", CLATTN_BF16, CLATTN_F16, CLATTN_BF16,
                             CLATTN_F32, 8, 128, 64, 64, &ATTN_GPU};
  exact_copy(env, &bf16_in, vals, 65536);
  /* f32 -> f16 / bf16 rounding: specials, ties, subnormals, overflow, then random floats
   * of every exponent. */
  static const float specials[] = {
      0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.0f, 65520.0f, -65520.0f, 1e5f, 3.0e38f,
      3.3895e38f, INFINITY, -INFINITY, NAN, 5.9604645e-08f, 2.9802322e-08f, 8.940697e-08f,
      1.4901161e-07f, 6.097555e-05f, 6.1035156e-05f, 1.00048828125f, 1.00146484375f,
      1.00390625f, 1.01171875f, 2047.5f, 1e-8f, 1e-30f, 1e-40f, -1e-45f, 0.1f, 1.0f / 3.0f};
  ref_rng rng;
  ref_rng_seed(&rng, 6);
  const size_t n = 8 * 32 * 64;
  float *f = malloc(n * sizeof *f);
  CHECK(f != NULL);
  for (size_t i = 0; i < n; i++) {
    if (i < sizeof specials / sizeof specials[0]) f[i] = specials[i];
    else if (i % 3 == 0) f[i] = (float)ref_rng_normal(&rng);
    else if (i % 3 == 1) {
      /* a float exactly halfway between two f16 (or bf16) neighbours */
      uint32_t u = (uint32_t)ref_rng_u64(&rng) & 0x8fffe000u;
      f[i] = bits_to_float(u | (i % 2 ? 0x1000u : 0x8000u));
    } else f[i] = bits_to_float((uint32_t)ref_rng_u64(&rng));
  }
  const copy_spec to_f16 = {"f32 -> f16 (ties, subnormals, overflow)", CLATTN_F32, CLATTN_F16,
                            CLATTN_F32, CLATTN_F16, 8, 32, 64, 64, &ATTN_CPU};
  exact_copy(env, &to_f16, f, n);
  const copy_spec to_bf16 = {"f32 -> bf16 (ties, subnormals, overflow)", CLATTN_F16, CLATTN_BF16,
                             CLATTN_F32, CLATTN_BF16, 8, 32, 64, 64, &ATTN_CPU};
  exact_copy(env, &to_bf16, f, n);
  free(f);
  free(vals);
}

/* ---- mixed storage types against the reference ---------------------------------------- */

static void mixed(attn_env *env) {
  printf("mixed storage types:\n");
  typedef struct combo {
    clattn_dtype q, k, v, o;
  } combo;
  /* Each combination once, CPU-style and GPU-style configurations alternating (every
   * distinct combination is a kernel build). */
  static const combo combos[] = {
      {CLATTN_F16, CLATTN_BF16, CLATTN_F32, CLATTN_BF16},
      {CLATTN_F16, CLATTN_F16, CLATTN_F16, CLATTN_F16},
      {CLATTN_BF16, CLATTN_BF16, CLATTN_BF16, CLATTN_BF16},
      {CLATTN_BF16, CLATTN_F16, CLATTN_BF16, CLATTN_F32},
      {CLATTN_F32, CLATTN_F16, CLATTN_F32, CLATTN_F16},
  };
  static char names[32][96];
  int n = 0;
  for (size_t i = 0; i < sizeof combos / sizeof combos[0]; i++) {
    const combo *cb = &combos[i];
    {
      const int g = (int)(i % 2);
      attn_case c;
      snprintf(names[n], sizeof names[n], "Q %s K %s V %s O %s, causal BR Sq113 Skv203",
               ref_dtype_name(cb->q), ref_dtype_name(cb->k), ref_dtype_name(cb->v),
               ref_dtype_name(cb->o));
      attn_case_init(&c, names[n++], 2, 4, 2, 113, 203, 64, 64);
      c.q_type = cb->q;
      c.k_type = cb->k;
      c.v_type = cb->v;
      c.o_type = cb->o;
      c.desc.causal = 1;
      c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
      c.layout = g ? ATTN_BSHD : ATTN_BHSD;
      c.config = g ? &ATTN_GPU : &ATTN_CPU;
      attn_run(env, &c);
    }
  }
  {
    /* Packed QKV in f16 (q, k, v share the buffer, so one type), O bf16. */
    attn_case c;
    attn_case_init(&c, "packed f16 QKV, O bf16, S203", 2, 4, 4, 203, 203, 64, 64);
    c.layout = ATTN_PACKED;
    c.q_type = c.k_type = c.v_type = CLATTN_F16;
    c.o_type = CLATTN_BF16;
    c.config = &ATTN_CPU;
    attn_run(env, &c);
  }
  {
    /* Poison in the gaps of 16-bit inputs (the harness fills them with NaN) and beyond
     * kv_lens, with the scalar configuration. */
    static const int32_t kv_lens[2] = {150, 17};
    attn_case c;
    attn_case_init(&c, "Q f16 K bf16 V f16 O f32 kv_lens, D59", 2, 2, 2, 17, 203, 59, 59);
    c.q_type = CLATTN_F16;
    c.k_type = CLATTN_BF16;
    c.v_type = CLATTN_F16;
    c.kv_lens = kv_lens;
    c.config = &ATTN_VEC1;
    attn_run(env, &c);
    /* The same with V read straight from global memory: conversions and poison there. */
    attn_case_init(&c, "Q f16 K bf16 V f16 O f32 kv_lens, D59, direct V", 2, 2, 2, 17, 203, 59, 59);
    c.q_type = CLATTN_F16;
    c.k_type = CLATTN_BF16;
    c.v_type = CLATTN_F16;
    c.kv_lens = kv_lens;
    c.config = &ATTN_DIRECT;
    attn_run(env, &c);
    attn_case_init(&c, "Q f32 K f32 V bf16 O f16, D64, direct V", 2, 2, 2, 113, 203, 64, 64);
    c.v_type = CLATTN_BF16;
    c.o_type = CLATTN_F16;
    c.config = &ATTN_DIRECT;
    attn_run(env, &c);
  }
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  host_conversions();
  attn_env env;
  attn_env_init(&env);
  kernel_exact(&env);
  mixed(&env);
  attn_env_destroy(&env);
  return check_done("test_attention_dtypes");
}
