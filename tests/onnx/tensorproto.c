#include "tensorproto.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TP_MAX_FILE ((size_t)1 << 30)

size_t tp_elem_size(int data_type) {
  switch (data_type) {
    case TP_FLOAT: return 4;
    case TP_UINT8: return 1;
    case TP_INT8: return 1;
    case TP_INT32: return 4;
    case TP_INT64: return 8;
    case TP_BOOL: return 1;
    case TP_FLOAT16: return 2;
    case TP_DOUBLE: return 8;
    default: return 0;
  }
}

const char *tp_type_name(int data_type) {
  switch (data_type) {
    case TP_FLOAT: return "float32";
    case TP_UINT8: return "uint8";
    case TP_INT8: return "int8";
    case TP_INT32: return "int32";
    case TP_INT64: return "int64";
    case TP_BOOL: return "bool";
    case TP_FLOAT16: return "float16";
    case TP_DOUBLE: return "float64";
    default: return "unknown";
  }
}

static int tp_error(char *err, size_t err_size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static int tp_error(char *err, size_t err_size, const char *fmt, ...) {
  if (err && err_size) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_size, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* Reads one varint at *pos (< end); at most 10 bytes, the 10th contributing only 1 bit. */
static int read_varint(const unsigned char *buf, size_t end, size_t *pos, uint64_t *value) {
  uint64_t v = 0;
  for (unsigned i = 0; i < 10; i++) {
    if (*pos >= end) return -1;
    unsigned char byte = buf[(*pos)++];
    if (i == 9 && (byte & 0x7e)) return -1; /* more than 64 bits */
    v |= (uint64_t)(byte & 0x7f) << (7 * i);
    if (!(byte & 0x80)) {
      *value = v;
      return 0;
    }
  }
  return -1; /* 10th byte had its continuation bit set */
}

/* Reads the length of a length-delimited field and checks it fits in [*pos, end). */
static int read_length(const unsigned char *buf, size_t end, size_t *pos, size_t *length) {
  uint64_t len = 0;
  if (read_varint(buf, end, pos, &len)) return -1;
  if (len > (uint64_t)(end - *pos)) return -1;
  *length = (size_t)len;
  return 0;
}

static int add_dim(tp_tensor *t, uint64_t v, char *err, size_t err_size) {
  if (t->ndims >= TP_MAX_DIMS)
    return tp_error(err, err_size, "more than %d dims", TP_MAX_DIMS);
  int64_t d = (int64_t)v; /* int64 varints are two's complement */
  if (d < 0) return tp_error(err, err_size, "negative dim %lld", (long long)d);
  t->dims[t->ndims++] = d;
  return 0;
}

void tp_free(tp_tensor *t) {
  if (!t) return;
  free(t->data);
  memset(t, 0, sizeof *t);
}

int tp_parse(const unsigned char *buf, size_t size, tp_tensor *out, char *err, size_t err_size) {
  tp_tensor t;
  memset(&t, 0, sizeof t);
  if (out) memset(out, 0, sizeof *out);
  if (!out || (!buf && size)) return tp_error(err, err_size, "null argument");
  const unsigned char *raw = NULL;
  size_t raw_size = 0;
  int have_raw = 0, have_type = 0;
  uint64_t data_type = 0;
  size_t pos = 0;
  while (pos < size) {
    size_t field_at = pos;
    uint64_t key = 0;
    if (read_varint(buf, size, &pos, &key))
      return tp_error(err, err_size, "truncated or overlong field key at byte %zu", field_at);
    uint64_t field = key >> 3;
    unsigned wire = (unsigned)(key & 7);
    if (field == 0 || field > 536870911u)
      return tp_error(err, err_size, "invalid field number %llu at byte %zu",
                      (unsigned long long)field, field_at);
    if (field == 1 && wire == 0) { /* dims, one varint */
      uint64_t v = 0;
      if (read_varint(buf, size, &pos, &v))
        return tp_error(err, err_size, "truncated dims varint at byte %zu", field_at);
      if (add_dim(&t, v, err, err_size)) return -1;
    } else if (field == 1 && wire == 2) { /* dims, packed */
      size_t len = 0;
      if (read_length(buf, size, &pos, &len))
        return tp_error(err, err_size, "packed dims length past the end at byte %zu", field_at);
      size_t end = pos + len;
      while (pos < end) {
        uint64_t v = 0;
        if (read_varint(buf, end, &pos, &v))
          return tp_error(err, err_size, "bad varint inside packed dims at byte %zu", pos);
        if (add_dim(&t, v, err, err_size)) return -1;
      }
    } else if (field == 2 && wire == 0) { /* data_type */
      if (read_varint(buf, size, &pos, &data_type))
        return tp_error(err, err_size, "truncated data_type at byte %zu", field_at);
      have_type = 1;
    } else if (field == 8 && wire == 2) { /* name */
      size_t len = 0;
      if (read_length(buf, size, &pos, &len))
        return tp_error(err, err_size, "name length past the end at byte %zu", field_at);
      if (len >= TP_MAX_NAME)
        return tp_error(err, err_size, "name of %zu bytes is too long", len);
      if (memchr(buf + pos, 0, len)) return tp_error(err, err_size, "name contains a NUL byte");
      memcpy(t.name, buf + pos, len);
      t.name[len] = '\0';
      pos += len;
    } else if (field == 9 && wire == 2) { /* raw_data; the last occurrence wins */
      size_t len = 0;
      if (read_length(buf, size, &pos, &len))
        return tp_error(err, err_size, "raw_data length past the end at byte %zu", field_at);
      raw = buf + pos;
      raw_size = len;
      have_raw = 1;
      pos += len;
    } else if (field == 1 || field == 2 || field == 8 || field == 9) {
      return tp_error(err, err_size, "field %llu has wrong wire type %u",
                      (unsigned long long)field, wire);
    } else if ((field >= 3 && field <= 7) || field == 10 || field == 11 || field == 13) {
      /* float_data, int32_data, string_data, int64_data, double_data, uint64_data,
       * external_data (13): tensor contents this reader does not handle. Segment (3) and
       * doc_string (12), data_location (14) etc. would be harmless but do not occur. */
      return tp_error(err, err_size, "unsupported TensorProto field %llu (only raw_data)",
                      (unsigned long long)field);
    } else {
      /* Skip an unknown field of a well-formed wire type. */
      if (wire == 0) {
        uint64_t v = 0;
        if (read_varint(buf, size, &pos, &v))
          return tp_error(err, err_size, "truncated varint of field %llu",
                          (unsigned long long)field);
      } else if (wire == 1) {
        if (size - pos < 8) return tp_error(err, err_size, "truncated fixed64 field");
        pos += 8;
      } else if (wire == 5) {
        if (size - pos < 4) return tp_error(err, err_size, "truncated fixed32 field");
        pos += 4;
      } else if (wire == 2) {
        size_t len = 0;
        if (read_length(buf, size, &pos, &len))
          return tp_error(err, err_size, "length of field %llu past the end",
                          (unsigned long long)field);
        pos += len;
      } else {
        return tp_error(err, err_size, "unsupported wire type %u (field %llu)", wire,
                        (unsigned long long)field);
      }
    }
  }
  if (!have_type) return tp_error(err, err_size, "no data_type");
  t.elem_size = data_type <= 64 ? tp_elem_size((int)data_type) : 0;
  if (!t.elem_size)
    return tp_error(err, err_size, "unsupported data_type %llu", (unsigned long long)data_type);
  t.data_type = (int)data_type;
  size_t count = 1;
  for (int i = 0; i < t.ndims; i++) {
    uint64_t d = (uint64_t)t.dims[i];
    if (d != 0 && count > (SIZE_MAX / 16) / d)
      return tp_error(err, err_size, "element count overflows");
    count *= (size_t)d;
  }
  t.count = count;
  size_t bytes = count * t.elem_size; /* cannot overflow: count <= SIZE_MAX / 16 */
  if (!have_raw && bytes) return tp_error(err, err_size, "no raw_data");
  if (raw_size != bytes)
    return tp_error(err, err_size, "raw_data has %zu bytes, dims need %zu", raw_size, bytes);
  t.data = malloc(bytes ? bytes : 1);
  if (!t.data) return tp_error(err, err_size, "out of memory (%zu bytes)", bytes);
  if (bytes) memcpy(t.data, raw, bytes);
  *out = t;
  return 0;
}

int tp_load(const char *path, tp_tensor *out, char *err, size_t err_size) {
  if (out) memset(out, 0, sizeof *out);
  if (!path || !out) return tp_error(err, err_size, "null argument");
  FILE *f = fopen(path, "rb");
  if (!f) return tp_error(err, err_size, "%s: %s", path, strerror(errno));
  size_t cap = 4096, size = 0;
  unsigned char *buf = malloc(cap);
  int rc = -1;
  if (!buf) {
    tp_error(err, err_size, "out of memory");
    goto done;
  }
  for (;;) {
    if (size == cap) {
      if (cap >= TP_MAX_FILE) {
        tp_error(err, err_size, "%s: larger than %zu bytes", path, TP_MAX_FILE);
        goto done;
      }
      unsigned char *bigger = realloc(buf, cap * 2);
      if (!bigger) {
        tp_error(err, err_size, "out of memory");
        goto done;
      }
      buf = bigger;
      cap *= 2;
    }
    size_t n = fread(buf + size, 1, cap - size, f);
    size += n;
    if (n == 0) break;
  }
  if (ferror(f)) {
    tp_error(err, err_size, "%s: read error", path);
    goto done;
  }
  rc = tp_parse(buf, size, out, err, err_size);
  if (rc && err && err_size) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "%s: %s", path, err);
    snprintf(err, err_size, "%s", tmp);
  }
done:
  free(buf);
  fclose(f);
  return rc;
}
