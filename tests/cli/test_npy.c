/*
 * The .npy reader and writer of the command-line tool, and its half/bfloat16 conversions:
 * round trips of every type and rank, headers of versions 1.0, 2.0 and 3.0, and crafted bad
 * files (truncated, wrong magic, overflowing shapes, Fortran order, big-endian, malformed
 * dicts), each refused with its own message. Every truncation and many single-byte
 * corruptions of a valid file are parsed too, which under AddressSanitizer shows that no
 * input reads out of bounds.
 *
 *   test_npy SCRATCH_DIR
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "half.h"
#include "npy.h"

static const char *scratch;

/* A file image: prefix of `major`.0, the dict padded to 64 bytes, then `data_bytes` bytes
 * of a repeating pattern. *size receives the total. */
static unsigned char *image(int major, const char *dict, size_t data_bytes, size_t *size) {
  size_t prefix = major == 1 ? 10 : 12, text = strlen(dict);
  size_t total = (prefix + text + 1 + 63) / 64 * 64, header = total - prefix;
  unsigned char *p = malloc(total + data_bytes + 1);
  if (p == NULL) check_fail(__FILE__, __LINE__, "out of memory");
  memcpy(p, "\x93NUMPY", 6);
  p[6] = (unsigned char)major;
  p[7] = 0;
  p[8] = (unsigned char)(header & 0xff);
  p[9] = (unsigned char)(header >> 8);
  if (major > 1) p[10] = p[11] = 0;
  memcpy(p + prefix, dict, text);
  memset(p + prefix + text, ' ', header - text - 1);
  p[total - 1] = '\n';
  for (size_t i = 0; i < data_bytes; ++i) p[total + i] = (unsigned char)(i * 7 + 1);
  *size = total + data_bytes;
  return p;
}

/* Parses `dict` with `data_bytes` of data; expects failure with `needle` in the message, or
 * success when needle is NULL. */
static void expect_parse(int major, const char *dict, size_t data_bytes, const char *needle) {
  size_t size = 0;
  unsigned char *p = image(major, dict, data_bytes, &size);
  clattn_npy_array a;
  char error[512] = "";
  int rc = clattn_npy_parse(p, size, &a, error, sizeof error);
  if (needle == NULL) {
    if (rc != 0) check_fail(__FILE__, __LINE__, "parse of %s failed: %s", dict, error);
    check_pass();
  } else {
    if (rc == 0) check_fail(__FILE__, __LINE__, "parse of %s succeeded", dict);
    CHECK_CONTAINS(error, needle);
    CHECK(a.data == NULL);
  }
  clattn_npy_free(&a);
  free(p);
}

static void test_headers_valid(void) {
  expect_parse(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, NULL);
  expect_parse(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, NULL);
  expect_parse(3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 24, NULL);
  expect_parse(1, "{\"shape\":(3,),\"descr\":\"<i8\",\"fortran_order\":False}", 24, NULL);
  expect_parse(1, "{'descr': '<f2', 'fortran_order': False, 'shape': (), }", 2, NULL);
  expect_parse(1, "{'descr': '|b1', 'fortran_order': False, 'shape': (0, 5), }", 0, NULL);
  expect_parse(1, "{'descr': '<u1', 'fortran_order': False, 'shape': (3L, 2L), }", 6, NULL);
  expect_parse(1, "{'descr': '>u1', 'fortran_order': False, 'shape': (4,), }", 4, NULL);
  expect_parse(1, "{'descr': '<i4', 'fortran_order': True, 'shape': (1, 5, 1), }", 20, NULL);
  expect_parse(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1, 1, 1, 2), }",
               8, NULL);

  size_t size = 0;
  unsigned char *p = image(1, "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 1, 3), }",
                           24, &size);
  clattn_npy_array a;
  char error[512];
  CHECK_EQ(clattn_npy_parse(p, size, &a, error, sizeof error), 0);
  CHECK_EQ(a.dtype, CLATTN_NPY_I32);
  CHECK_EQ(a.rank, 3);
  CHECK_EQ(a.shape[0], 2);
  CHECK_EQ(a.shape[2], 3);
  CHECK_EQ(a.count, 6);
  CHECK(memcmp(a.data, p + size - 24, 24) == 0);
  clattn_npy_free(&a);
  free(p);
}

/* Header dicts that must be refused, with 24 data bytes unless said otherwise, and a part of
 * the message each must give. */
#define NPY_HEAD "{'descr': '<f4', 'fortran_order': False, "
static const struct {
  const char *dict;
  size_t data_bytes;
  const char *needle;
} bad_headers[] = {
    {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24, "big-endian"},
    {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }", 24, "unsupported dtype '<f8'"},
    {"{'descr': '|f4', 'fortran_order': False, 'shape': (6,), }", 24, "unsupported dtype"},
    {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (6,), }", 24, "structured"},
    {"{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24, "fortran_order"},
    {NPY_HEAD "'shape': (2, 2), }", 24, "unexpected bytes"},
    {NPY_HEAD "'shape': (2, 4), }", 24, "truncated data"},
    {NPY_HEAD "'shape': (4294967296, 4294967296, 16), }", 24, "too large"},
    {"{'descr': '<i8', 'fortran_order': False, 'shape': (9223372036854775807, 2), }", 24,
     "too large"},
    {NPY_HEAD "'shape': (99999999999999999999,), }", 24, "too large"},
    {NPY_HEAD "'shape': (1,1,1,1,1,1,1,1,6), }", 24, "more than 8"},
    {NPY_HEAD "'shape': (-6,), }", 24, "negative"},
    {NPY_HEAD "'shape': (6), }", 24, "not a tuple"},
    {NPY_HEAD "'shape': [6], }", 24, "not a tuple"},
    {NPY_HEAD "'shape': (6,,), }", 24, "shape"},
    {NPY_HEAD "}", 24, "no 'shape' key"},
    {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,)}", 24,
     "duplicate key 'descr'"},
    {NPY_HEAD "'shape': (6,), 'x': 1}", 24, "unexpected key 'x'"},
    {"{'descr': '<f4', 'fortran_order': 0, 'shape': (6,)}", 24, "True or False"},
    {"{'descr': '<f4, 'fortran_order': False, 'shape': (6,)}", 24, "malformed"},
    {"{'descr': '<f4' 'fortran_order': False, 'shape': (6,)}", 24, "expected ',' or '}'"},
    {NPY_HEAD "'shape': (6,)} x", 24, "after the dictionary"},
    {"['descr', '<f4']", 24, "not a dictionary"},
    {NPY_HEAD "'shape': (6,)", 24, "malformed"},
    {"{'descr': 'f4', 'fortran_order': False, 'shape': (6,)}", 24, "unsupported dtype"},
    {"{'descr': '<f\\4', 'fortran_order': False, 'shape': (6,)}", 24, "unsupported"},
};

static void test_headers_bad(void) {
  for (size_t i = 0; i < sizeof bad_headers / sizeof bad_headers[0]; ++i) {
    expect_parse(1, bad_headers[i].dict, bad_headers[i].data_bytes, bad_headers[i].needle);
  }
  /* An empty array may have dimensions whose product would overflow without the zero. */
  expect_parse(1, NPY_HEAD "'shape': (0, 9223372036854775807, 9223372036854775807), }", 0, NULL);
}

static void expect_raw(const unsigned char *p, size_t size, const char *needle) {
  clattn_npy_array a;
  char error[512] = "";
  CHECK(clattn_npy_parse(p, size, &a, error, sizeof error) != 0);
  CHECK_CONTAINS(error, needle);
}

static void test_prefix_bad(void) {
  size_t size = 0;
  unsigned char *p = image(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24,
                           &size);
  expect_raw(p, 0, "not a .npy file");
  expect_raw(p, 5, "not a .npy file");
  expect_raw(p, 7, "truncated");
  expect_raw(p, 9, "truncated");
  expect_raw(p, 40, "truncated .npy header");
  p[1] = 'n';
  expect_raw(p, size, "not a .npy file");
  p[1] = 'N';
  p[6] = 4;
  expect_raw(p, size, "version 4.0");
  p[6] = 1;
  p[7] = 1;
  expect_raw(p, size, "version 1.1");
  p[7] = 0;
  p[8] = 0xff;
  p[9] = 0xff;
  expect_raw(p, size, "truncated .npy header");
  free(p);
  /* A version 2.0 header length of almost 4 GiB. */
  p = image(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24, &size);
  p[11] = 0xff;
  expect_raw(p, size, "truncated .npy header");
  free(p);
  clattn_npy_array a;
  char error[64];
  CHECK(clattn_npy_parse(NULL, 0, &a, error, sizeof error) != 0);
}

/* Every prefix of a valid file fails cleanly, and so does every byte of its header replaced
 * by a few troublesome values: each parse reads only the bytes it is given. */
static void test_truncations_and_corruptions(void) {
  size_t size = 0;
  unsigned char *p = image(2, "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 1, 3), }",
                           48, &size);
  clattn_npy_array a;
  char error[512];
  for (size_t n = 0; n < size; ++n) {
    unsigned char *copy = malloc(n > 0 ? n : 1);
    if (copy == NULL) check_fail(__FILE__, __LINE__, "out of memory");
    memcpy(copy, p, n);
    CHECK(clattn_npy_parse(copy, n, &a, error, sizeof error) != 0);
    free(copy);
  }
  static const unsigned char values[] = {0, '\'', '"', '(', ')', '{', '}', ',', ':', '9', 'L',
                                         ' ', '\\', 0x80, 0xff};
  for (size_t at = 0; at < size - 48; ++at) {
    for (size_t k = 0; k < sizeof values; ++k) {
      unsigned char *copy = malloc(size);
      if (copy == NULL) check_fail(__FILE__, __LINE__, "out of memory");
      memcpy(copy, p, size);
      copy[at] = values[k];
      if (clattn_npy_parse(copy, size, &a, error, sizeof error) == 0) {
        CHECK(a.count * clattn_npy_dtype_size(a.dtype) == 48);
        clattn_npy_free(&a);
      }
      free(copy);
    }
  }
  check_pass();
  free(p);
}

static char *scratch_path(const char *name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/%s", scratch, name);
  return path;
}

static void round_trip(clattn_npy_dtype dtype, int rank, const int64_t *shape) {
  uint64_t count = 1;
  for (int i = 0; i < rank; ++i) count *= (uint64_t)shape[i];
  size_t bytes = (size_t)count * clattn_npy_dtype_size(dtype);
  unsigned char *data = malloc(bytes + 1);
  if (data == NULL) check_fail(__FILE__, __LINE__, "out of memory");
  for (size_t i = 0; i < bytes; ++i) data[i] = (unsigned char)(i * 13 + 5);
  if (dtype == CLATTN_NPY_BOOL) {
    for (size_t i = 0; i < bytes; ++i) data[i] &= 1;
  }
  char error[512];
  const char *path = scratch_path("round_trip.npy");
  CHECK_EQ(clattn_npy_write(path, dtype, rank, shape, data, error, sizeof error), 0);

  /* The data starts at a multiple of 64 bytes, right after a '\n'. */
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  unsigned char head[4096];
  size_t got = fread(head, 1, sizeof head, f);
  fclose(f);
  size_t header = 10 + (size_t)head[8] + ((size_t)head[9] << 8);
  CHECK(got >= header);
  CHECK_EQ(header % 64, 0);
  CHECK_EQ(head[header - 1], '\n');

  clattn_npy_array a;
  CHECK_EQ(clattn_npy_read(path, &a, error, sizeof error), 0);
  CHECK_EQ(a.dtype, dtype);
  CHECK_EQ(a.rank, rank);
  for (int i = 0; i < rank; ++i) CHECK_EQ(a.shape[i], shape[i]);
  CHECK_EQ(a.count, count);
  CHECK(bytes == 0 || memcmp(a.data, data, bytes) == 0);
  clattn_npy_free(&a);
  free(data);
}

static void test_round_trips(void) {
  const int64_t s0[1] = {0}, s1[1] = {7}, s3[3] = {2, 3, 5}, s8[8] = {1, 2, 1, 3, 1, 2, 1, 2};
  const int64_t empty[2] = {0, 4};
  for (int t = CLATTN_NPY_F32; t <= CLATTN_NPY_I64; ++t) {
    clattn_npy_dtype dtype = (clattn_npy_dtype)t;
    round_trip(dtype, 0, s0);
    round_trip(dtype, 1, s1);
    round_trip(dtype, 3, s3);
    round_trip(dtype, 8, s8);
    round_trip(dtype, 2, empty);
  }
  char buf[64];
  CHECK(strcmp(clattn_npy_shape_format(0, s0, buf, sizeof buf), "()") == 0);
  CHECK(strcmp(clattn_npy_shape_format(1, s1, buf, sizeof buf), "(7,)") == 0);
  CHECK(strcmp(clattn_npy_shape_format(3, s3, buf, sizeof buf), "(2, 3, 5)") == 0);
}

static void test_file_errors(void) {
  clattn_npy_array a;
  char error[512];
  CHECK(clattn_npy_read(scratch_path("does-not-exist.npy"), &a, error, sizeof error) != 0);
  CHECK_CONTAINS(error, "cannot open");
  CHECK(clattn_npy_read(scratch, &a, error, sizeof error) != 0); /* a directory */
  const int64_t shape[1] = {1};
  float x = 1.0f;
  CHECK(clattn_npy_write(scratch_path("no-such-dir/x.npy"), CLATTN_NPY_F32, 1, shape, &x, error,
                         sizeof error) != 0);
  CHECK_CONTAINS(error, "cannot create");

  /* A file whose header names the path in its message. */
  FILE *f = fopen(scratch_path("text.npy"), "wb");
  CHECK(f != NULL);
  fputs("hello\n", f);
  fclose(f);
  CHECK(clattn_npy_read(scratch_path("text.npy"), &a, error, sizeof error) != 0);
  CHECK_CONTAINS(error, "text.npy': not a .npy file");
}

static void test_half(void) {
  CHECK_EQ(clattn_cli_float_to_half(1.0f), 0x3c00);
  CHECK_EQ(clattn_cli_float_to_half(-2.0f), 0xc000);
  CHECK_EQ(clattn_cli_float_to_half(0.1f), 0x2e66);
  CHECK_EQ(clattn_cli_float_to_half(65504.0f), 0x7bff);
  CHECK_EQ(clattn_cli_float_to_half(65519.0f), 0x7bff);
  CHECK_EQ(clattn_cli_float_to_half(65520.0f), 0x7c00); /* the tie rounds up to infinity */
  CHECK_EQ(clattn_cli_float_to_half(ldexpf(1.0f, -24)), 0x0001);
  CHECK_EQ(clattn_cli_float_to_half(ldexpf(1.0f, -25)), 0x0000);  /* tie to even: zero */
  CHECK_EQ(clattn_cli_float_to_half(ldexpf(1.5f, -25)), 0x0001);
  CHECK_EQ(clattn_cli_float_to_half(ldexpf(3.0f, -25)), 0x0002);  /* tie to even: 2 */
  CHECK_EQ(clattn_cli_float_to_half(ldexpf(1023.5f, -24)), 0x0400); /* up to the first normal */
  CHECK_EQ(clattn_cli_float_to_half(-0.0f), 0x8000);
  CHECK_EQ(clattn_cli_float_to_half(INFINITY), 0x7c00);
  CHECK_EQ(clattn_cli_float_to_half(1e-30f), 0x0000);
  CHECK_EQ(clattn_cli_float_to_half(1.0f + ldexpf(1.0f, -11)), 0x3c00); /* tie to even */
  CHECK_EQ(clattn_cli_float_to_half(1.0f + ldexpf(3.0f, -11)), 0x3c02);
  CHECK(isnan(clattn_cli_half_to_float(clattn_cli_float_to_half(NAN))));
  /* Every half survives a round trip through float (NaNs stay NaN). */
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    float f = clattn_cli_half_to_float((uint16_t)h);
    uint16_t back = clattn_cli_float_to_half(f);
    if (isnan(f) ? !isnan(clattn_cli_half_to_float(back)) : back != h) {
      check_fail(__FILE__, __LINE__, "half 0x%04x -> %g -> 0x%04x", (unsigned)h, f, back);
    }
  }
  check_pass();
  CHECK_NEAR(clattn_cli_half_to_float(0x0001), ldexp(1.0, -24), 0.0);
  CHECK_NEAR(clattn_cli_half_to_float(0x7bff), 65504.0, 0.0);
  CHECK_EQ(clattn_cli_float_to_bf16(1.0f), 0x3f80);
  CHECK_EQ(clattn_cli_float_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80); /* tie to even */
  CHECK_EQ(clattn_cli_float_to_bf16(1.0f + ldexpf(3.0f, -8)), 0x3f82);
  CHECK(isnan(clattn_cli_bf16_to_float(clattn_cli_float_to_bf16(NAN))));
  CHECK_NEAR(clattn_cli_bf16_to_float(0xc040), -3.0, 0.0);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fputs("usage: test_npy SCRATCH_DIR\n", stderr);
    return 2;
  }
  scratch = argv[1];
  test_headers_valid();
  test_headers_bad();
  test_prefix_bad();
  test_truncations_and_corruptions();
  test_round_trips();
  test_file_errors();
  test_half();
  return check_done("test_npy");
}
