/* A minimal reader of serialized ONNX TensorProto messages (protobuf wire format), enough for
 * the conformance vectors in tests/data/onnx_attention: field 1 dims (repeated int64, packed
 * or not), 2 data_type, 8 name, 9 raw_data. Other fields are skipped when their wire type is
 * well-formed; data stored outside raw_data (float_data, int64_data, ...) is rejected.
 *
 * The parser never trusts a length: every varint, every length-delimited field and every size
 * computation is checked against the input and against overflow, so any byte string yields
 * either a valid tensor or an error message (it is meant to be fuzzed). */
#ifndef CLATTN_TEST_TENSORPROTO_H
#define CLATTN_TEST_TENSORPROTO_H

#include <stddef.h>
#include <stdint.h>

#define TP_MAX_DIMS 8
#define TP_MAX_NAME 256

/* TensorProto.DataType values this reader accepts. */
enum {
  TP_FLOAT = 1,
  TP_UINT8 = 2,
  TP_INT8 = 3,
  TP_INT32 = 6,
  TP_INT64 = 7,
  TP_BOOL = 9,
  TP_FLOAT16 = 10,
  TP_DOUBLE = 11
};

typedef struct tp_tensor {
  int data_type;               /* one of the TP_* values above */
  int ndims;                   /* 0 .. TP_MAX_DIMS (0: a scalar) */
  int64_t dims[TP_MAX_DIMS];
  size_t count;                /* product of dims (1 for a scalar) */
  size_t elem_size;            /* bytes per element */
  char name[TP_MAX_NAME];      /* NUL-terminated; "" when absent */
  unsigned char *data;         /* count * elem_size bytes, little-endian (malloc'd) */
} tp_tensor;

/* Bytes per element of a TP_* type, or 0 for a type this reader does not know. */
size_t tp_elem_size(int data_type);
/* "float32", "float16", "bool", "int64", ... or "unknown". */
const char *tp_type_name(int data_type);

/* Parses `size` bytes. Returns 0 and fills *out (release with tp_free), or -1 with a message
 * in err (err may be NULL) and *out zeroed. */
int tp_parse(const unsigned char *buf, size_t size, tp_tensor *out, char *err, size_t err_size);

/* Reads and parses a file (at most 1 GiB). Same contract as tp_parse. */
int tp_load(const char *path, tp_tensor *out, char *err, size_t err_size);

/* Frees the data of a tensor filled by tp_parse or tp_load; a zeroed tensor is fine. */
void tp_free(tp_tensor *t);

#endif
