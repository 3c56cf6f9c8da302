/*
 * .npy files: the fixed prefix (magic, version, header length), sizes, data, and the writer.
 * The header dict itself is parsed in npy_header.c.
 *
 *   \x93NUMPY  major minor  header length (2 bytes in 1.0, 4 in 2.0 and 3.0, little-endian)
 *   header dict, padded with spaces and ended by '\n'
 *   data, C order
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy_internal.h"

static const unsigned char npy_magic[6] = {0x93, 'N', 'U', 'M', 'P', 'Y'};

size_t clattn_npy_dtype_size(clattn_npy_dtype dtype) {
  switch (dtype) {
    case CLATTN_NPY_F32:
    case CLATTN_NPY_I32:
      return 4;
    case CLATTN_NPY_F16:
      return 2;
    case CLATTN_NPY_BOOL:
    case CLATTN_NPY_U8:
      return 1;
    case CLATTN_NPY_I64:
      return 8;
  }
  return 1;
}

const char *clattn_npy_dtype_name(clattn_npy_dtype dtype) {
  switch (dtype) {
    case CLATTN_NPY_F32:
      return "float32";
    case CLATTN_NPY_F16:
      return "float16";
    case CLATTN_NPY_BOOL:
      return "bool";
    case CLATTN_NPY_U8:
      return "uint8";
    case CLATTN_NPY_I32:
      return "int32";
    case CLATTN_NPY_I64:
      return "int64";
  }
  return "unknown";
}

static const char *npy_descr(clattn_npy_dtype dtype) {
  switch (dtype) {
    case CLATTN_NPY_F32:
      return "<f4";
    case CLATTN_NPY_F16:
      return "<f2";
    case CLATTN_NPY_BOOL:
      return "|b1";
    case CLATTN_NPY_U8:
      return "|u1";
    case CLATTN_NPY_I32:
      return "<i4";
    case CLATTN_NPY_I64:
      return "<i8";
  }
  return "|u1";
}

const char *clattn_npy_shape_format(int rank, const int64_t *shape, char *buf, size_t size) {
  size_t used = 0;
  if (size == 0) {
    return buf;
  }
  buf[0] = '\0';
  for (int i = -1; i <= rank && used < size; ++i) {
    int n;
    if (i < 0) {
      n = snprintf(buf + used, size - used, "(");
    } else if (i == rank) {
      n = snprintf(buf + used, size - used, "%s)", rank == 1 ? "," : "");
    } else {
      n = snprintf(buf + used, size - used, "%s%lld", i > 0 ? ", " : "", (long long)shape[i]);
    }
    used += n > 0 ? (size_t)n : 0;
  }
  return buf;
}

/* Elements and bytes of a shape; -1 when they do not fit in 64 bits. */
static int npy_sizes(clattn_npy_dtype dtype, int rank, const int64_t *shape, uint64_t *count,
                     uint64_t *bytes) {
  uint64_t n = 1;
  for (int i = 0; i < rank; ++i) {
    uint64_t dim = (uint64_t)shape[i];
    if (shape[i] < 0 || (dim != 0 && n > UINT64_MAX / dim)) {
      return -1;
    }
    n *= dim;
  }
  uint64_t item = clattn_npy_dtype_size(dtype);
  if (n > UINT64_MAX / item) {
    return -1;
  }
  *count = n;
  *bytes = n * item;
  return 0;
}

static void npy_swap(unsigned char *p, uint64_t count, size_t item) {
  for (uint64_t e = 0; e < count; ++e, p += item) {
    for (size_t i = 0; i < item / 2; ++i) {
      unsigned char t = p[i];
      p[i] = p[item - 1 - i];
      p[item - 1 - i] = t;
    }
  }
}

/* Checks the prefix, header and size of a file image; on success fills *a (data NULL) and
 * the data's offset and length, which are then exactly the rest of the image. */
static int npy_layout(const unsigned char *bytes, size_t size, clattn_npy_array *a,
                      size_t *data_offset, uint64_t *data_bytes, int *swap, char *error,
                      size_t error_size) {
  if (size < sizeof npy_magic || memcmp(bytes, npy_magic, sizeof npy_magic) != 0) {
    return clattn__npy_fail(error, error_size, "not a .npy file (no \\x93NUMPY magic)");
  }
  if (size < 8) {
    return clattn__npy_fail(error, error_size, "truncated .npy file (%zu bytes)", size);
  }
  unsigned major = bytes[6], minor = bytes[7];
  if (major < 1 || major > 3 || minor != 0) {
    return clattn__npy_fail(error, error_size, "unsupported .npy format version %u.%u", major,
                            minor);
  }
  size_t prefix = major == 1 ? 10 : 12;
  if (size < prefix) {
    return clattn__npy_fail(error, error_size, "truncated .npy file (%zu bytes)", size);
  }
  uint64_t header = (uint64_t)bytes[8] | (uint64_t)bytes[9] << 8;
  if (major > 1) {
    header |= (uint64_t)bytes[10] << 16 | (uint64_t)bytes[11] << 24;
  }
  if (header > (uint64_t)(size - prefix)) {
    return clattn__npy_fail(error, error_size,
                            "truncated .npy header: it claims %llu bytes, the file has %zu",
                            (unsigned long long)header, size - prefix);
  }
  if (clattn__npy_header_parse((const char *)bytes + prefix, (size_t)header, a, swap, error,
                               error_size) != 0) {
    return -1;
  }
  uint64_t bytes_needed = 0;
  char shape[256];
  clattn_npy_shape_format(a->rank, a->shape, shape, sizeof shape);
  if (npy_sizes(a->dtype, a->rank, a->shape, &a->count, &bytes_needed) != 0) {
    return clattn__npy_fail(error, error_size, "shape %s is too large", shape);
  }
  *data_offset = prefix + (size_t)header;
  uint64_t available = (uint64_t)(size - *data_offset);
  if (available != bytes_needed) {
    return clattn__npy_fail(error, error_size,
                            "%s: shape %s of %s needs %llu data bytes, the file holds %llu",
                            available < bytes_needed ? "truncated data" : "unexpected bytes",
                            shape, clattn_npy_dtype_name(a->dtype),
                            (unsigned long long)bytes_needed, (unsigned long long)available);
  }
  *data_bytes = bytes_needed;
  return 0;
}

int clattn_npy_parse(const unsigned char *bytes, size_t size, clattn_npy_array *array,
                     char *error, size_t error_size) {
  clattn_npy_array a;
  size_t offset = 0;
  uint64_t data_bytes = 0;
  int swap = 0;
  memset(&a, 0, sizeof a);
  memset(array, 0, sizeof *array);
  if (bytes == NULL && size > 0) {
    return clattn__npy_fail(error, error_size, "no data");
  }
  if (npy_layout(bytes, size, &a, &offset, &data_bytes, &swap, error, error_size) != 0) {
    return -1;
  }
  a.data = malloc(data_bytes > 0 ? (size_t)data_bytes : 1);
  if (a.data == NULL) {
    return clattn__npy_fail(error, error_size, "out of memory for %llu bytes",
                            (unsigned long long)data_bytes);
  }
  memcpy(a.data, bytes + offset, (size_t)data_bytes);
  if (swap) {
    npy_swap(a.data, a.count, clattn_npy_dtype_size(a.dtype));
  }
  *array = a;
  return 0;
}

/* Reads a whole stream, growing the buffer as it goes: nothing the file claims about its own
 * size is trusted, and stat()-style sizes are not portable to pipes. */
static int npy_slurp(FILE *f, const char *path, unsigned char **out, size_t *size, char *error,
                     size_t error_size) {
  size_t cap = (size_t)1 << 16, len = 0;
  unsigned char *buf = malloc(cap);
  if (buf == NULL) {
    return clattn__npy_fail(error, error_size, "out of memory reading '%s'", path);
  }
  for (;;) {
    if (len == cap) {
      unsigned char *grown = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
      if (grown == NULL) {
        free(buf);
        return clattn__npy_fail(error, error_size, "out of memory reading '%s'", path);
      }
      buf = grown;
      cap *= 2;
    }
    errno = 0;
    size_t want = cap - len;
    size_t got = fread(buf + len, 1, want, f);
    len += got;
    if (got < want) {
      if (ferror(f)) {
        int err = errno;
        free(buf);
        return clattn__npy_fail(error, error_size, "cannot read '%s': %s", path,
                                err != 0 ? strerror(err) : "read error");
      }
      break;
    }
  }
  *out = buf;
  *size = len;
  return 0;
}

int clattn_npy_read(const char *path, clattn_npy_array *array, char *error, size_t error_size) {
  memset(array, 0, sizeof *array);
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    return clattn__npy_fail(error, error_size, "cannot open '%s': %s", path, strerror(errno));
  }
  unsigned char *bytes = NULL;
  size_t size = 0;
  int rc = npy_slurp(f, path, &bytes, &size, error, error_size);
  fclose(f);
  if (rc != 0) {
    return -1;
  }
  /* The data moves to the front of the file's own buffer: no second copy, and malloc's
   * alignment holds for the data whatever the header length was. */
  clattn_npy_array a;
  size_t offset = 0;
  uint64_t data_bytes = 0;
  int swap = 0;
  memset(&a, 0, sizeof a);
  char reason[512] = "";
  if (npy_layout(bytes, size, &a, &offset, &data_bytes, &swap, reason, sizeof reason) != 0) {
    free(bytes);
    return clattn__npy_fail(error, error_size, "'%s': %s", path, reason);
  }
  memmove(bytes, bytes + offset, (size_t)data_bytes);
  unsigned char *shrunk = realloc(bytes, data_bytes > 0 ? (size_t)data_bytes : 1);
  a.data = shrunk != NULL ? shrunk : bytes;
  if (swap) {
    npy_swap(a.data, a.count, clattn_npy_dtype_size(a.dtype));
  }
  *array = a;
  return 0;
}

/* Writes the data little-endian: as is on little-endian hosts, else swapped in chunks. */
static int npy_write_data(FILE *f, const void *data, uint64_t count, size_t item) {
  if (clattn__npy_host_is_little_endian() || item == 1) {
    return fwrite(data, 1, (size_t)(count * item), f) == (size_t)(count * item) ? 0 : -1;
  }
  unsigned char chunk[4096];
  const unsigned char *p = data;
  uint64_t per_chunk = sizeof chunk / item;
  for (uint64_t done = 0; done < count; done += per_chunk) {
    uint64_t n = count - done < per_chunk ? count - done : per_chunk;
    memcpy(chunk, p + done * item, (size_t)(n * item));
    npy_swap(chunk, n, item);
    if (fwrite(chunk, 1, (size_t)(n * item), f) != (size_t)(n * item)) {
      return -1;
    }
  }
  return 0;
}

/* The version 1.0 prefix and header, padded with spaces so that the data starts at a
 * multiple of 64 bytes, as NumPy does. Returns the total length. */
static size_t npy_header_build(clattn_npy_dtype dtype, int rank, const int64_t *shape,
                               char *out, size_t size) {
  char dims[256];
  char dict[400];
  clattn_npy_shape_format(rank, shape, dims, sizeof dims);
  int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
                   npy_descr(dtype), dims);
  if (n < 0 || (size_t)n >= sizeof dict) {
    return 0;
  }
  size_t text = (size_t)n;
  size_t total = (10 + text + 1 + 63) / 64 * 64;
  size_t header = total - 10;
  if (total > size) {
    return 0;
  }
  memcpy(out, npy_magic, sizeof npy_magic);
  out[6] = 1;
  out[7] = 0;
  out[8] = (char)(header & 0xff);
  out[9] = (char)(header >> 8);
  memcpy(out + 10, dict, text);
  memset(out + 10 + text, ' ', header - text - 1);
  out[total - 1] = '\n';
  return total;
}

int clattn_npy_write(const char *path, clattn_npy_dtype dtype, int rank, const int64_t *shape,
                     const void *data, char *error, size_t error_size) {
  uint64_t count = 0, bytes = 0;
  if (rank < 0 || rank > CLATTN_NPY_MAX_RANK ||
      npy_sizes(dtype, rank, shape, &count, &bytes) != 0 || bytes > SIZE_MAX) {
    return clattn__npy_fail(error, error_size, "cannot write '%s': invalid shape", path);
  }
  char header[512];
  size_t header_size = npy_header_build(dtype, rank, shape, header, sizeof header);
  FILE *f = fopen(path, "wb");
  if (f == NULL) {
    return clattn__npy_fail(error, error_size, "cannot create '%s': %s", path, strerror(errno));
  }
  errno = 0;
  int failed = header_size == 0 || fwrite(header, 1, header_size, f) != header_size ||
               (count > 0 && npy_write_data(f, data, count, clattn_npy_dtype_size(dtype)) != 0);
  int err = errno;
  if (fclose(f) != 0 && !failed) {
    failed = 1;
    err = errno;
  }
  if (failed) {
    remove(path);
    return clattn__npy_fail(error, error_size, "cannot write '%s': %s", path,
                            err != 0 ? strerror(err) : "write error");
  }
  return 0;
}

void clattn_npy_free(clattn_npy_array *array) {
  if (array != NULL) {
    free(array->data);
    memset(array, 0, sizeof *array);
  }
}
