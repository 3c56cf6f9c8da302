/*
 * Checks a weights file written by 'clattn run --weights' / 'clattn heatmap --weights' against
 * a double-precision computation from the inputs:
 *
 *   weights_check W.npy Q.npy K.npy MODE [bhsd|bshd] [none|top-left|bottom-right]
 *
 * W must be float32 (B, Hq, Sq, Skv). Mode 0: every entry is scale * q . k (scale 1/sqrt(D))
 * within 1e-5 + 1e-4 |ref|. Mode 2: the same where the causal mask allows the key, -inf
 * elsewhere. Mode 3: softmax of the allowed scores within 1e-5 + 1e-4 p, masked entries
 * exactly 0, and each row sums to 1 within 1e-5. Exit status 0 when all hold.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "npy.h"

static int load(const char *path, clattn_npy_array *a) {
  char error[1024];
  if (clattn_npy_read(path, a, error, sizeof error) != 0 || a->dtype != CLATTN_NPY_F32 ||
      a->rank != 4) {
    fprintf(stderr, "weights_check: %s: not a 4-D float32 array\n", path);
    return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 5) {
    fputs("usage: weights_check W.npy Q.npy K.npy MODE [bhsd|bshd] [none|top-left|bottom-right]\n",
          stderr);
    return 1;
  }
  clattn_npy_array w, q, k;
  if (load(argv[1], &w) || load(argv[2], &q) || load(argv[3], &k)) {
    return 1;
  }
  int mode = atoi(argv[4]);
  int bshd = argc > 5 && strcmp(argv[5], "bshd") == 0;
  int causal = argc > 6 ? (strcmp(argv[6], "top-left") == 0 ? 1 : strcmp(argv[6], "bottom-right") == 0 ? 2 : 0) : 0;
  int64_t B = q.shape[0], Hq = q.shape[bshd ? 2 : 1], Sq = q.shape[bshd ? 1 : 2], D = q.shape[3];
  int64_t Hkv = k.shape[bshd ? 2 : 1], Skv = k.shape[bshd ? 1 : 2];
  if (w.shape[0] != B || w.shape[1] != Hq || w.shape[2] != Sq || w.shape[3] != Skv) {
    fprintf(stderr, "weights_check: W has shape (%lld, %lld, %lld, %lld), expected (%lld, %lld, %lld, %lld)\n",
            (long long)w.shape[0], (long long)w.shape[1], (long long)w.shape[2],
            (long long)w.shape[3], (long long)B, (long long)Hq, (long long)Sq, (long long)Skv);
    return 1;
  }
  const float *qd = q.data, *kd = k.data, *wd = w.data;
  double scale = 1.0 / sqrt((double)D), worst = 0.0;
  double *s = malloc((size_t)Skv * sizeof *s);
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t h = 0; h < Hq; ++h) {
      int64_t hk = h / (Hq / Hkv);
      for (int64_t i = 0; i < Sq; ++i) {
        double m = -INFINITY;
        for (int64_t j = 0; j < Skv; ++j) {
          double dot = 0.0;
          for (int64_t d = 0; d < D; ++d) {
            size_t qi = bshd ? (size_t)(((b * Sq + i) * Hq + h) * D + d) : (size_t)(((b * Hq + h) * Sq + i) * D + d);
            size_t ki = bshd ? (size_t)(((b * Skv + j) * Hkv + hk) * D + d) : (size_t)(((b * Hkv + hk) * Skv + j) * D + d);
            dot += (double)qd[qi] * (double)kd[ki];
          }
          int64_t aligned = causal == 2 ? i + Skv - Sq : i;
          int allowed = causal == 0 || j <= aligned;
          s[j] = mode == 0 || allowed ? dot * scale : -INFINITY;
          if (s[j] > m) {
            m = s[j];
          }
        }
        double l = 0.0;
        for (int64_t j = 0; j < Skv && mode == 3; ++j) {
          l += s[j] == -INFINITY ? 0.0 : exp(s[j] - m);
        }
        double sum = 0.0;
        for (int64_t j = 0; j < Skv; ++j) {
          double ref = mode != 3 ? s[j] : s[j] == -INFINITY ? 0.0 : exp(s[j] - m) / l;
          float y = wd[((b * Hq + h) * Sq + i) * Skv + j];
          sum += y;
          int ok = isinf(ref) ? (double)y == ref : fabs(y - ref) <= 1e-5 + 1e-4 * fabs(ref);
          if (mode == 3 && s[j] == -INFINITY) {
            ok = y == 0.0f;
          }
          if (!ok) {
            fprintf(stderr, "weights_check: W(%lld,%lld,%lld,%lld) = %.9g, expected %.9g\n",
                    (long long)b, (long long)h, (long long)i, (long long)j, y, ref);
            return 1;
          }
          if (isfinite(ref) && fabs(y - ref) > worst) {
            worst = fabs(y - ref);
          }
        }
        if (mode == 3 && m > -INFINITY && fabs(sum - 1.0) > 1e-5) {
          fprintf(stderr, "weights_check: row (%lld,%lld,%lld) sums to %.9g\n", (long long)b,
                  (long long)h, (long long)i, sum);
          return 1;
        }
      }
    }
  }
  printf("weights_check: %s mode %d: all %lld entries match (worst error %.3g)\n", argv[1], mode,
         (long long)(B * Hq * Sq * Skv), worst);
  free(s);
  clattn_npy_free(&w);
  clattn_npy_free(&q);
  clattn_npy_free(&k);
  return 0;
}
