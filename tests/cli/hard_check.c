/*
 * Checks the output of 'clattn run --hard ... --indices': every drawn index lies in
 * 0 .. Skv-1 and every output row is exactly the value row of its key; with several draws
 * per query, some query must have drawn more than one key.
 *
 *   hard_check O.npy INDICES.npy V.npy
 *
 * O is (B, Hq, Sq * draws, Dv), INDICES (B, Hq, Sq, draws) int32, V (B, Hkv, Skv, Dv), all
 * BHSD. Exit status 0 when all hold, 1 otherwise.
 */
#include <stdio.h>
#include <string.h>

#include "npy.h"

static int load(const char *path, clattn_npy_dtype dtype, int rank, clattn_npy_array *a) {
  char error[1024];
  if (clattn_npy_read(path, a, error, sizeof error) != 0) {
    fprintf(stderr, "hard_check: %s\n", error);
    return -1;
  }
  if (a->dtype != dtype || a->rank != rank) {
    fprintf(stderr, "hard_check: %s is %s of rank %d, expected %s of rank %d\n", path,
            clattn_npy_dtype_name(a->dtype), a->rank, clattn_npy_dtype_name(dtype), rank);
    return -1;
  }
  return 0;
}

static int check(const clattn_npy_array *o, const clattn_npy_array *x, const clattn_npy_array *v) {
  int64_t b = x->shape[0], hq = x->shape[1], sq = x->shape[2], draws = x->shape[3];
  int64_t hkv = v->shape[1], skv = v->shape[2], dv = v->shape[3];
  if (o->shape[0] != b || o->shape[1] != hq || o->shape[2] != sq * draws || o->shape[3] != dv ||
      v->shape[0] != b || hq % hkv != 0) {
    fputs("hard_check: the shapes of O, the indices and V do not agree\n", stderr);
    return 1;
  }
  const int32_t *index = x->data;
  const float *out = o->data, *val = v->data;
  int64_t varied = 0;
  for (int64_t r = 0; r < b * hq * sq; ++r) {
    int64_t bb = r / (hq * sq), h = r / sq % hq;
    for (int64_t d = 0; d < draws; ++d) {
      int32_t j = index[r * draws + d];
      if (j < 0 || j >= skv) {
        fprintf(stderr, "hard_check: index %ld of row %lld draw %lld is outside 0 .. %lld\n",
                (long)j, (long long)r, (long long)d, (long long)skv - 1);
        return 1;
      }
      const float *want = val + ((bb * hkv + h / (hq / hkv)) * skv + j) * dv;
      if (memcmp(out + (r * draws + d) * dv, want, (size_t)dv * sizeof(float)) != 0) {
        fprintf(stderr, "hard_check: row %lld draw %lld is not value row %ld\n", (long long)r,
                (long long)d, (long)j);
        return 1;
      }
      varied += d > 0 && j != index[r * draws];
    }
  }
  if (draws > 1 && varied == 0) {
    fputs("hard_check: every query drew one key only\n", stderr);
    return 1;
  }
  printf("hard_check: %lld rows of %lld draws agree with V\n", (long long)(b * hq * sq),
         (long long)draws);
  return 0;
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fputs("usage: hard_check O.npy INDICES.npy V.npy\n", stderr);
    return 2;
  }
  clattn_npy_array o, x, v;
  memset(&o, 0, sizeof o);
  memset(&x, 0, sizeof x);
  memset(&v, 0, sizeof v);
  int rc = 1;
  if (load(argv[1], CLATTN_NPY_F32, 4, &o) == 0 && load(argv[2], CLATTN_NPY_I32, 4, &x) == 0 &&
      load(argv[3], CLATTN_NPY_F32, 4, &v) == 0) {
    rc = check(&o, &x, &v);
  }
  clattn_npy_free(&o);
  clattn_npy_free(&x);
  clattn_npy_free(&v);
  return rc;
}
