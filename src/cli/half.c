/* IEEE binary16 and bfloat16 conversions by bit manipulation, so that they need neither
 * _Float16 nor F16C and give the same bits on every host. */
#include "half.h"

#include <math.h>
#include <string.h>

static uint32_t bits_of(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float float_of(uint32_t u) {
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

float clattn_cli_half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1fu;
  uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0x1f) {
    return float_of(sign | 0x7f800000u | (mantissa << 13));
  }
  if (exponent == 0) {
    /* Zero or subnormal: mantissa * 2^-24, exact in float. */
    float magnitude = ldexpf((float)mantissa, -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  return float_of(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/* Rounds `value >> shift` to nearest even. */
static uint32_t shift_round(uint32_t value, unsigned shift) {
  uint32_t kept = value >> shift;
  uint32_t rest = value & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1);
  return kept + (rest > half || (rest == half && (kept & 1u)));
}

uint16_t clattn_cli_float_to_half(float f) {
  uint32_t x = bits_of(f);
  uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
  uint32_t exponent = (x >> 23) & 0xffu;
  uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xff) { /* inf stays inf; NaN stays a quiet NaN */
    return (uint16_t)(sign | 0x7c00u | (mantissa != 0 ? 0x200u | (mantissa >> 13) : 0u));
  }
  int e = (int)exponent - 127 + 15;
  if (e >= 31) {
    return (uint16_t)(sign | 0x7c00u);
  }
  if (e <= 0) {
    if (e < -10) { /* below half the smallest subnormal: rounds to zero */
      return sign;
    }
    /* A carry out of the subnormal range gives the smallest normal, correctly encoded. */
    return (uint16_t)(sign | shift_round(mantissa | 0x800000u, (unsigned)(14 - e)));
  }
  /* A carry may ripple into the exponent, up to infinity: both are the right answer. */
  return (uint16_t)(sign | shift_round(((uint32_t)e << 23) | mantissa, 13));
}

float clattn_cli_bf16_to_float(uint16_t b) { return float_of((uint32_t)b << 16); }

uint16_t clattn_cli_float_to_bf16(float f) {
  uint32_t u = bits_of(f);
  if (isnan(f)) {
    return (uint16_t)((u >> 16) | 0x0040u);
  }
  return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}
