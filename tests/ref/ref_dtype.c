#include "ref_dtype.h"

#include <math.h>
#include <string.h>

static uint32_t float_bits(float x) {
  uint32_t u;
  memcpy(&u, &x, sizeof u);
  return u;
}

static float bits_float(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

uint16_t ref_f32_to_f16(float x) {
  uint32_t u = float_bits(x);
  uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) return (uint16_t)(sign | 0x7e00u); /* NaN: quiet */
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 (and inf): inf */
  if (a < 0x38800000u) {
    /* Below 2^-14: a multiple of 2^-24. Scaling by 2^24 is exact; rintf rounds to nearest
     * even in the default rounding mode. 1024 (= 2^-14) lands on the first normal. */
    float scaled = rintf(bits_float(a) * 16777216.0f);
    return (uint16_t)(sign | (uint16_t)scaled);
  }
  uint32_t exponent = (a >> 23) - 127 + 15;
  uint32_t mantissa = a & 0x7fffffu;
  uint32_t h = (exponent << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) h++; /* a carry moves the exponent */
  return (uint16_t)(sign | h);
}

float ref_f16_to_f32(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
  if (exponent == 0) {
    float x = (float)mantissa * (1.0f / 16777216.0f); /* exact */
    return sign ? -x : x;
  }
  if (exponent == 31) return bits_float(sign | 0x7f800000u | (mantissa << 13));
  return bits_float(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

uint16_t ref_f32_to_bf16(float x) {
  uint32_t u = float_bits(x);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u); /* to nearest even; overflow carries into inf */
  return (uint16_t)(u >> 16);
}

float ref_bf16_to_f32(uint16_t h) { return bits_float((uint32_t)h << 16); }

float ref_round_to(clattn_dtype dtype, float x) {
  switch (dtype) {
  case CLATTN_F16: return ref_f16_to_f32(ref_f32_to_f16(x));
  case CLATTN_BF16: return ref_bf16_to_f32(ref_f32_to_bf16(x));
  default: return x;
  }
}

double ref_ulp(clattn_dtype dtype, double x) {
  int mantissa_bits = dtype == CLATTN_F16 ? 10 : dtype == CLATTN_BF16 ? 7 : 23;
  int min_exponent = dtype == CLATTN_F16 ? -14 : -126; /* of the smallest normal */
  int e = 0;
  double a = fabs(x);
  if (a == 0.0) e = min_exponent;
  else {
    (void)frexp(a, &e); /* a = f * 2^e with f in [0.5, 1): binade 2^(e-1) */
    e -= 1;
    if (e < min_exponent) e = min_exponent;
  }
  return ldexp(1.0, e - mantissa_bits);
}

float ref_load(clattn_dtype dtype, const void *image, uint64_t index) {
  if (dtype == CLATTN_F32) {
    float x;
    memcpy(&x, (const char *)image + index * 4, 4);
    return x;
  }
  uint16_t h;
  memcpy(&h, (const char *)image + index * 2, 2);
  return dtype == CLATTN_F16 ? ref_f16_to_f32(h) : ref_bf16_to_f32(h);
}

void ref_store(clattn_dtype dtype, void *image, uint64_t index, float x) {
  if (dtype == CLATTN_F32) {
    memcpy((char *)image + index * 4, &x, 4);
    return;
  }
  uint16_t h = dtype == CLATTN_F16 ? ref_f32_to_f16(x) : ref_f32_to_bf16(x);
  memcpy((char *)image + index * 2, &h, 2);
}

const char *ref_dtype_name(clattn_dtype dtype) {
  return dtype == CLATTN_F16 ? "f16" : dtype == CLATTN_BF16 ? "bf16" : "f32";
}
