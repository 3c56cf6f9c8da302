/*
 * Compares an output of 'clattn run' with its expected array:
 *
 *   npy_compare ACTUAL.npy EXPECTED.npy RTOL ATOL [differ]
 *
 * Both must be float32 (or both int32) of the same shape; every element must satisfy
 * |actual - expected| <= ATOL + RTOL * |expected|, and non-finite expected values (the -inf
 * LSE of an empty row) must be matched exactly; int32 elements must be equal. Prints the
 * worst element; exit status 0 when all match, 1 otherwise. With "differ" the status is
 * inverted for arrays of the same shape: 0 when some element is outside the tolerance.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

static int load(const char *path, clattn_npy_array *a) {
  char error[1024];
  if (clattn_npy_read(path, a, error, sizeof error) != 0) {
    fprintf(stderr, "npy_compare: %s\n", error);
    return -1;
  }
  if (a->dtype != CLATTN_NPY_F32 && a->dtype != CLATTN_NPY_I32) {
    fprintf(stderr, "npy_compare: %s is %s, not float32 or int32\n", path,
            clattn_npy_dtype_name(a->dtype));
    clattn_npy_free(a);
    return -1;
  }
  return 0;
}

/* |a - e| / (atol + rtol |e|); infinite for a mismatch in non-finite values. */
static double ratio_of(float a, float e, double rtol, double atol) {
  if (!isfinite(e) || !isfinite(a)) {
    return (isnan(e) && isnan(a)) || a == e ? 0.0 : INFINITY;
  }
  double diff = fabs((double)a - (double)e);
  return diff == 0.0 ? 0.0 : diff / (atol + rtol * fabs((double)e)); /* exact with tolerance 0 */
}

int main(int argc, char **argv) {
  int differ = argc == 6 && strcmp(argv[5], "differ") == 0;
  if (argc != 5 && !differ) {
    fputs("usage: npy_compare ACTUAL.npy EXPECTED.npy RTOL ATOL [differ]\n", stderr);
    return 2;
  }
  double rtol = atof(argv[3]), atol = atof(argv[4]);
  clattn_npy_array actual, expected;
  int rc = 1;
  if (load(argv[1], &actual) != 0) {
    return 1;
  }
  if (load(argv[2], &expected) != 0) {
    clattn_npy_free(&actual);
    return 1;
  }
  char shape_a[256], shape_e[256];
  clattn_npy_shape_format(actual.rank, actual.shape, shape_a, sizeof shape_a);
  clattn_npy_shape_format(expected.rank, expected.shape, shape_e, sizeof shape_e);
  int same_shape = actual.rank == expected.rank && actual.dtype == expected.dtype;
  for (int i = 0; same_shape && i < actual.rank; ++i) {
    same_shape = actual.shape[i] == expected.shape[i];
  }
  if (!same_shape) {
    fprintf(stderr, "npy_compare: %s %s, expected %s %s\n", clattn_npy_dtype_name(actual.dtype),
            shape_a, clattn_npy_dtype_name(expected.dtype), shape_e);
  } else {
    int ints = actual.dtype == CLATTN_NPY_I32;
    const float *a = actual.data, *e = expected.data;
    const int32_t *ai = actual.data, *ei = expected.data;
    double worst = 0.0;
    uint64_t at = 0;
    for (uint64_t i = 0; i < actual.count; ++i) {
      double r = ints ? (ai[i] == ei[i] ? 0.0 : INFINITY) : ratio_of(a[i], e[i], rtol, atol);
      if (!(r <= worst)) {
        worst = r;
        at = i;
      }
    }
    printf("npy_compare: %s, max error %.3g of the tolerance at element %llu", shape_a, worst,
           (unsigned long long)at);
    if (actual.count > 0 && ints) {
      printf(" (%ld vs %ld)", (long)ai[at], (long)ei[at]);
    } else if (actual.count > 0) {
      printf(" (%.9g vs %.9g)", a[at], e[at]);
    }
    printf("%s\n", differ ? " (they must differ)" : "");
    rc = (worst <= 1.0) != differ ? 0 : 1;
  }
  clattn_npy_free(&actual);
  clattn_npy_free(&expected);
  return rc;
}
