/* Shared machinery of the position-encoding tests: buffer images in any storage type with a
 * canary fill, strided views into them, the double-precision references of RoPE (both pair
 * conventions, partial rotary, bias, positions) and of the sinusoidal encoding, and the
 * comparison under DESIGN.md's tolerances. Everything outside what a call should write must
 * come back bitwise unchanged. */
#ifndef CLATTN_TEST_POSENC_SUPPORT_H
#define CLATTN_TEST_POSENC_SUPPORT_H

#include <clattn.h>
#include <stdint.h>

#include "attn_harness.h"

#define PE_CANARY_BYTE 0xC3
#define PE_TWO_PI 6.283185307179586476925286766559

/* A buffer image: `count` elements of `dtype`, every byte PE_CANARY_BYTE until filled. */
typedef struct pe_image {
  clattn_dtype dtype;
  uint64_t count;
  unsigned char *bytes; /* what is (or will be) uploaded */
  cl_mem buffer;        /* NULL until pe_image_upload */
} pe_image;

/* The shape and strides of a (B, H, S, D) view inside an image. */
typedef struct pe_view {
  int64_t batch, heads, seq, dim;
  uint64_t offset;
  int64_t stride_batch, stride_head, stride_seq;
} pe_view;

/* The expected image after a call: value[i] for the elements the call writes (set[i] = 1);
 * every other element must keep its bytes. */
typedef struct pe_expect {
  uint64_t count;
  double *value;
  unsigned char *set;
} pe_expect;

/* What a RoPE / bias call does, for the reference. */
typedef struct pe_rope_call {
  clattn_rope_style style;
  int64_t rotary_dim;  /* 0: the whole head */
  double base;         /* 0: 10000 */
  int64_t rope_heads;  /* heads h < rope_heads rotate */
  int64_t position_offset;
  const int32_t *positions; /* B entries or NULL */
  const float *bias;        /* indexed bias_offset + h*D + d, or NULL */
  uint64_t bias_offset;
  int64_t freq_dim;         /* negative controls: exponent 2i / freq_dim (0: R) */
} pe_rope_call;

void pe_image_init(pe_image *image, clattn_dtype dtype, uint64_t count);
void pe_image_free(pe_image *image);
/* Fills every element of the view with N(0, sigma) values rounded to the storage type. */
void pe_image_fill(pe_image *image, const pe_view *v, ref_rng *rng, double sigma);
void pe_image_upload(attn_env *env, pe_image *image);
/* Reads the device buffer into a malloc'd image of the same size. */
unsigned char *pe_image_download(attn_env *env, const pe_image *image);

uint64_t pe_index(const pe_view *v, int64_t b, int64_t h, int64_t s, int64_t d);
/* The element one past the last the view reaches. */
uint64_t pe_view_end(const pe_view *v);
clattn_tensor pe_tensor(const pe_image *image, const pe_view *v);
/* Dense views: (B, H, S, D) in BHSD or BSHD order with `gap` unused elements after each row of
 * D and `offset` elements before. */
pe_view pe_view_bhsd(int64_t B, int64_t H, int64_t S, int64_t D, int64_t gap, uint64_t offset);
pe_view pe_view_bshd(int64_t B, int64_t H, int64_t S, int64_t D, int64_t gap, uint64_t offset);

void pe_expect_init(pe_expect *e, uint64_t count);
void pe_expect_free(pe_expect *e);
/* The angle of pair i at position p: p * base^(-2i / R), in double. */
double pe_angle(double p, double base, int64_t i, int64_t r);
/* Adds the RoPE / bias reference of one call on view v of `input` to e. */
void pe_expect_rope(pe_expect *e, const pe_image *input, const pe_view *v, const pe_rope_call *c);
/* Adds the sinusoidal reference on the (B, 1, S, E) view v of `input` to e; swap_sin_cos
 * builds the wrong convention (for negative controls). */
void pe_expect_sinusoidal(pe_expect *e, const pe_image *input, const pe_view *v, double base,
                          int64_t position_offset, const int32_t *positions, int swap_sin_cos);

/* The worst error / tolerance over the expected elements of `got` (inf on a NaN mismatch);
 * *where gets the element. Does not end the test. */
double pe_worst(const pe_image *image, const unsigned char *got, const pe_expect *e,
                uint64_t *where);
/* Ends the test unless every expected element is within tolerance and every other element
 * is bitwise unchanged; prints one line with the worst ratio. */
void pe_verify(const char *name, const pe_image *image, const unsigned char *got,
               const pe_expect *e);
/* Ends the test unless `got` is far from e (worst ratio > 10): the negative control that
 * shows a check can fail. */
void pe_expect_mismatch(const char *name, const pe_image *image, const unsigned char *got,
                        const pe_expect *e);

#endif
