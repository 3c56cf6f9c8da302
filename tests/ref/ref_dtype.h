/* Storage types on the host, for tests: exact round-to-nearest-even conversions from float
 * to IEEE half (f16) and bfloat16 (bf16) and back, the spacing (ulp) of each type, and
 * element access to buffer images in any storage type.
 *
 * NaN converts to a quiet NaN of the same sign; values at or beyond the largest finite
 * value plus half an ulp become infinities; subnormals are rounded exactly. */
#ifndef CLATTN_TEST_REF_DTYPE_H
#define CLATTN_TEST_REF_DTYPE_H

#include <clattn.h>
#include <stddef.h>
#include <stdint.h>

uint16_t ref_f32_to_f16(float x);
float ref_f16_to_f32(uint16_t h);
uint16_t ref_f32_to_bf16(float x);
float ref_bf16_to_f32(uint16_t h);

/* x stored as `dtype` and read back (f32: x itself). */
float ref_round_to(clattn_dtype dtype, float x);

/* Spacing of `dtype`'s representable numbers at magnitude |x| (the ulp of the binade |x|
 * falls in; the subnormal spacing below the smallest normal). x must be finite. */
double ref_ulp(clattn_dtype dtype, double x);

/* Reads and writes element `index` of a buffer image holding `dtype` elements. Writing
 * rounds to nearest even. */
float ref_load(clattn_dtype dtype, const void *image, uint64_t index);
void ref_store(clattn_dtype dtype, void *image, uint64_t index, float x);

/* "f32", "f16" or "bf16". */
const char *ref_dtype_name(clattn_dtype dtype);

#endif
