/*
 * NumPy .npy files: a reader for format versions 1.0, 2.0 and 3.0 and a version 1.0 writer,
 * for the array types the tool exchanges (float32, float16, bool, uint8, int32, int64) in
 * C order, little-endian, rank 0 to 8.
 *
 * The reader trusts nothing in the file: every length is checked against the bytes that are
 * really there, sizes are computed in 64 bits with overflow checks, the header is parsed
 * without reading past its end, and the data must fill the rest of the file exactly. It
 * depends only on the C library, so a fuzzer can drive clattn_npy_parse directly.
 */
#ifndef CLATTN_CLI_NPY_H
#define CLATTN_CLI_NPY_H

#include <stddef.h>
#include <stdint.h>

#define CLATTN_NPY_MAX_RANK 8

typedef enum clattn_npy_dtype {
  CLATTN_NPY_F32 = 0,  /* '<f4' */
  CLATTN_NPY_F16 = 1,  /* '<f2' */
  CLATTN_NPY_BOOL = 2, /* '|b1' */
  CLATTN_NPY_U8 = 3,   /* '|u1' */
  CLATTN_NPY_I32 = 4,  /* '<i4' */
  CLATTN_NPY_I64 = 5   /* '<i8' */
} clattn_npy_dtype;

/* An array in C order. `data` holds count * clattn_npy_dtype_size(dtype) bytes in host byte
 * order, is malloc'd (at least one byte, so never NULL after a successful read) and aligned
 * for any element type; clattn_npy_free releases it. */
typedef struct clattn_npy_array {
  clattn_npy_dtype dtype;
  int rank;
  int64_t shape[CLATTN_NPY_MAX_RANK];
  uint64_t count; /* product of the shape; 1 for rank 0, 0 when a dimension is 0 */
  void *data;
} clattn_npy_array;

/* Bytes per element: 4, 2, 1, 1, 4 or 8. */
size_t clattn_npy_dtype_size(clattn_npy_dtype dtype);

/* NumPy's name for the type: "float32", "float16", "bool", "uint8", "int32", "int64". */
const char *clattn_npy_dtype_name(clattn_npy_dtype dtype);

/* Formats a shape the way NumPy prints it: "()", "(3,)", "(2, 3)". Returns buf. */
const char *clattn_npy_shape_format(int rank, const int64_t *shape, char *buf, size_t size);

/* Parses a complete .npy file image of `size` bytes. On success fills *array (the data is a
 * copy; `bytes` is not kept) and returns 0. On failure writes a one-line reason to `error`
 * (e.g. "not a .npy file (bad magic)") and returns -1, leaving *array empty. */
int clattn_npy_parse(const unsigned char *bytes, size_t size, clattn_npy_array *array,
                     char *error, size_t error_size);

/* Reads and parses the file at `path`. Failures as clattn_npy_parse with "'PATH': " before
 * the reason, or "cannot open 'PATH': <reason>" and "cannot read 'PATH': <reason>". */
int clattn_npy_read(const char *path, clattn_npy_array *array, char *error, size_t error_size);

/* Writes an array of `rank` dimensions `shape` in C order from `data` (host byte order) as a
 * version 1.0 file whose header is padded to 64 bytes. On failure writes the reason to
 * `error`, removes the partial file and returns -1; 0 on success. */
int clattn_npy_write(const char *path, clattn_npy_dtype dtype, int rank, const int64_t *shape,
                     const void *data, char *error, size_t error_size);

/* Releases the data of an array and empties it. NULL and empty arrays are fine. */
void clattn_npy_free(clattn_npy_array *array);

#endif /* CLATTN_CLI_NPY_H */
