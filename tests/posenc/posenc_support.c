#include "posenc_support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xcalloc(uint64_t n, size_t size) {
  void *p = calloc(n ? (size_t)n : 1, size);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory");
  return p;
}

void pe_image_init(pe_image *image, clattn_dtype dtype, uint64_t count) {
  image->dtype = dtype;
  image->count = count;
  image->bytes = xcalloc(count, clattn_dtype_size(dtype));
  memset(image->bytes, PE_CANARY_BYTE, (size_t)count * clattn_dtype_size(dtype));
  image->buffer = NULL;
}

void pe_image_free(pe_image *image) {
  if (image->buffer) clReleaseMemObject(image->buffer);
  free(image->bytes);
  memset(image, 0, sizeof *image);
}

uint64_t pe_index(const pe_view *v, int64_t b, int64_t h, int64_t s, int64_t d) {
  return v->offset + (uint64_t)(b * v->stride_batch + h * v->stride_head + s * v->stride_seq + d);
}

uint64_t pe_view_end(const pe_view *v) {
  return pe_index(v, v->batch - 1, v->heads - 1, v->seq - 1, v->dim - 1) + 1;
}

void pe_image_fill(pe_image *image, const pe_view *v, ref_rng *rng, double sigma) {
  if (pe_view_end(v) > image->count) check_fail(__FILE__, __LINE__, "view past the test image");
  for (int64_t b = 0; b < v->batch; b++)
    for (int64_t h = 0; h < v->heads; h++)
      for (int64_t s = 0; s < v->seq; s++)
        for (int64_t d = 0; d < v->dim; d++)
          ref_store(image->dtype, image->bytes, pe_index(v, b, h, s, d),
                    (float)(sigma * ref_rng_normal(rng)));
}

void pe_image_upload(attn_env *env, pe_image *image) {
  if (image->buffer) clReleaseMemObject(image->buffer);
  image->buffer = attn_buffer(env, image->bytes, (size_t)image->count * clattn_dtype_size(image->dtype));
}

unsigned char *pe_image_download(attn_env *env, const pe_image *image) {
  size_t bytes = (size_t)image->count * clattn_dtype_size(image->dtype);
  unsigned char *out = xcalloc(bytes, 1);
  attn_read(env, image->buffer, out, bytes);
  return out;
}

clattn_tensor pe_tensor(const pe_image *image, const pe_view *v) {
  clattn_tensor t;
  t.buffer = image->buffer;
  t.dtype = image->dtype;
  t.offset = v->offset;
  t.stride_batch = v->stride_batch;
  t.stride_head = v->stride_head;
  t.stride_seq = v->stride_seq;
  return t;
}

pe_view pe_view_bhsd(int64_t B, int64_t H, int64_t S, int64_t D, int64_t gap, uint64_t offset) {
  pe_view v = {B, H, S, D, offset, 0, 0, D + gap};
  v.stride_head = S * v.stride_seq;
  v.stride_batch = H * v.stride_head;
  return v;
}

pe_view pe_view_bshd(int64_t B, int64_t H, int64_t S, int64_t D, int64_t gap, uint64_t offset) {
  pe_view v = {B, H, S, D, offset, 0, D + gap, 0};
  v.stride_seq = H * v.stride_head;
  v.stride_batch = S * v.stride_seq;
  return v;
}

void pe_expect_init(pe_expect *e, uint64_t count) {
  e->count = count;
  e->value = xcalloc(count, sizeof *e->value);
  e->set = xcalloc(count, 1);
}

void pe_expect_free(pe_expect *e) {
  free(e->value);
  free(e->set);
  memset(e, 0, sizeof *e);
}

double pe_angle(double p, double base, int64_t i, int64_t r) {
  return p * pow(base, -2.0 * (double)i / (double)r);
}

static double position_of(int64_t offset, const int32_t *positions, int64_t b, int64_t s) {
  return (double)(offset + s + (positions ? positions[b] : 0));
}

void pe_expect_rope(pe_expect *e, const pe_image *input, const pe_view *v, const pe_rope_call *c) {
  const int64_t D = v->dim;
  const int64_t R = c->rotary_dim ? c->rotary_dim : D;
  const double base = c->base != 0.0 ? c->base : 10000.0;
  double *in = xcalloc((uint64_t)D, sizeof *in), *out = xcalloc((uint64_t)D, sizeof *out);
  for (int64_t b = 0; b < v->batch; b++)
    for (int64_t h = 0; h < v->heads; h++)
      for (int64_t s = 0; s < v->seq; s++) {
        for (int64_t d = 0; d < D; d++) {
          in[d] = ref_load(input->dtype, input->bytes, pe_index(v, b, h, s, d));
          if (c->bias) in[d] += (double)c->bias[c->bias_offset + (uint64_t)(h * D + d)];
          out[d] = in[d];
        }
        if (c->style != CLATTN_ROPE_NONE && h < c->rope_heads) {
          double p = position_of(c->position_offset, c->positions, b, s);
          for (int64_t i = 0; i < R / 2; i++) {
            int64_t x = c->style == CLATTN_ROPE_INTERLEAVED ? 2 * i : i;
            int64_t y = c->style == CLATTN_ROPE_INTERLEAVED ? 2 * i + 1 : i + R / 2;
            double a = pe_angle(p, base, i, c->freq_dim ? c->freq_dim : R);
            out[x] = in[x] * cos(a) - in[y] * sin(a);
            out[y] = in[x] * sin(a) + in[y] * cos(a);
          }
        }
        for (int64_t d = 0; d < D; d++) {
          uint64_t at = pe_index(v, b, h, s, d);
          e->value[at] = out[d];
          e->set[at] = 1;
        }
      }
  free(in);
  free(out);
}

void pe_expect_sinusoidal(pe_expect *e, const pe_image *input, const pe_view *v, double base,
                          int64_t position_offset, const int32_t *positions, int swap_sin_cos) {
  const int64_t E = v->dim;
  if (base == 0.0) base = 10000.0;
  for (int64_t b = 0; b < v->batch; b++)
    for (int64_t s = 0; s < v->seq; s++) {
      double p = position_of(position_offset, positions, b, s);
      for (int64_t d = 0; d < E; d++) {
        uint64_t at = pe_index(v, b, 0, s, d);
        double a = pe_angle(p, base, d / 2, E);
        int use_sin = (d % 2 == 0) != (swap_sin_cos != 0);
        e->value[at] = ref_load(input->dtype, input->bytes, at) + (use_sin ? sin(a) : cos(a));
        e->set[at] = 1;
      }
    }
}

double pe_worst(const pe_image *image, const unsigned char *got, const pe_expect *e,
                uint64_t *where) {
  double worst = 0.0;
  *where = 0;
  for (uint64_t i = 0; i < image->count; i++) {
    if (!e->set[i]) continue;
    double ratio;
    int ok = attn_compare_value(image->dtype, ref_load(image->dtype, got, i), e->value[i], &ratio);
    if (!ok && !(ratio > 1.0)) ratio = INFINITY; /* NaN or infinity mismatch */
    if (ratio > worst) {
      worst = ratio;
      *where = i;
    }
  }
  return worst;
}

void pe_verify(const char *name, const pe_image *image, const unsigned char *got,
               const pe_expect *e) {
  size_t size = clattn_dtype_size(image->dtype);
  for (uint64_t i = 0; i < image->count; i++)
    if (!e->set[i] && memcmp(got + i * size, image->bytes + i * size, size) != 0)
      check_fail(__FILE__, __LINE__, "%s: element %llu, which the call must not write, changed",
                 name, (unsigned long long)i);
  check_pass();
  uint64_t where;
  double worst = pe_worst(image, got, e, &where);
  if (!(worst <= 1.0))
    check_fail(__FILE__, __LINE__,
               "%s (%s): element %llu = %.9g, reference %.12g (error/tolerance %.3g)", name,
               ref_dtype_name(image->dtype), (unsigned long long)where,
               (double)ref_load(image->dtype, got, where), e->value[where], worst);
  check_pass();
  printf("  %-52s %-4s worst error/tolerance %.3g\n", name, ref_dtype_name(image->dtype), worst);
}

void pe_expect_mismatch(const char *name, const pe_image *image, const unsigned char *got,
                        const pe_expect *e) {
  uint64_t where;
  double worst = pe_worst(image, got, e, &where);
  if (!(worst > 10.0))
    check_fail(__FILE__, __LINE__,
               "%s: the wrong convention's reference also matches (worst ratio %.3g): the check "
               "cannot tell them apart",
               name, worst);
  check_pass();
}
