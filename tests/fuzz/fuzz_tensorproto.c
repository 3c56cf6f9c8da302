/* Fuzz target: the ONNX TensorProto reader of the conformance test (tests/onnx/tensorproto.c).
 * Any byte string must give either a tensor whose dims, count and data agree, or -1 with a
 * message and a zeroed tensor. */
#include <string.h>

#include "fuzz.h"
#include "tensorproto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tp_tensor t;
  char err[256] = "";
  memset(&t, 0xa5, sizeof t);
  if (tp_parse(data, size, &t, err, sizeof err) != 0) {
    FUZZ_CHECK(err[0] != '\0' && memchr(err, '\0', sizeof err) != NULL);
    FUZZ_CHECK(t.data == NULL && t.count == 0 && t.ndims == 0);
    tp_free(&t);
    return 0;
  }
  FUZZ_CHECK(t.ndims >= 0 && t.ndims <= TP_MAX_DIMS);
  FUZZ_CHECK(memchr(t.name, '\0', sizeof t.name) != NULL);
  FUZZ_CHECK(t.elem_size != 0 && t.elem_size == tp_elem_size(t.data_type));
  FUZZ_CHECK(strcmp(tp_type_name(t.data_type), "unknown") != 0);
  size_t count = 1;
  for (int i = 0; i < t.ndims; i++) {
    FUZZ_CHECK(t.dims[i] >= 0);
    count *= (size_t)t.dims[i];
  }
  FUZZ_CHECK(count == t.count);
  /* raw_data is part of the message, so the data cannot be larger than the input. */
  FUZZ_CHECK(t.count * t.elem_size <= size);
  unsigned sum = 0;
  for (size_t i = 0; i < t.count * t.elem_size; i++) sum += t.data[i];
  (void)sum;
  tp_free(&t);
  FUZZ_CHECK(t.data == NULL);
  return 0;
}
