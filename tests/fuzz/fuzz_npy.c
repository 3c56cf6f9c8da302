/* Fuzz target: the .npy reader of the clattn tool (src/cli/npy.c, npy_header.c). Any byte
 * string must give either an array whose shape, count and data agree, or -1 with a reason. */
#include <string.h>

#include "fuzz.h"
#include "npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  clattn_npy_array a;
  char error[256] = "";
  memset(&a, 0xa5, sizeof a); /* the reader must initialise every field it reports */
  if (clattn_npy_parse(data, size, &a, error, sizeof error) != 0) {
    FUZZ_CHECK(error[0] != '\0' && memchr(error, '\0', sizeof error) != NULL);
    FUZZ_CHECK(a.data == NULL);
    clattn_npy_free(&a);
    return 0;
  }
  FUZZ_CHECK(a.rank >= 0 && a.rank <= CLATTN_NPY_MAX_RANK && a.data != NULL);
  uint64_t count = 1;
  for (int i = 0; i < a.rank; i++) {
    FUZZ_CHECK(a.shape[i] >= 0);
    count *= (uint64_t)a.shape[i];
  }
  FUZZ_CHECK(count == a.count);
  size_t bytes = (size_t)a.count * clattn_npy_dtype_size(a.dtype);
  /* The data followed the header exactly, so it cannot be larger than the input. */
  FUZZ_CHECK(bytes <= size);
  /* Touch every byte, so that ASan catches a buffer shorter than the count says. */
  unsigned sum = 0;
  for (size_t i = 0; i < bytes; i++) sum += ((const unsigned char *)a.data)[i];
  (void)sum;
  char shape[256];
  clattn_npy_shape_format(a.rank, a.shape, shape, sizeof shape);
  FUZZ_CHECK(clattn_npy_dtype_name(a.dtype) != NULL);
  clattn_npy_free(&a);
  FUZZ_CHECK(a.data == NULL);
  return 0;
}
