/*
 * clattn heatmap --grid/--image and weights read from a .npy file: spatial attention drawn
 * over its feature map. One query's weights over the map's H x W positions form an H x W
 * picture (drawn by clattn_cli_heatmap_render like any matrix); with a grey image, the
 * weights are upsampled to the image's size and blended over it, so that one sees where on
 * the picture the query looked.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"
#include "npy.h"
#include "png.h"

#define BLEND_ALPHA 0.6 /* weight of the heatmap's colour over the grey image */

int clattn_cli_heatmap_grid_parse(const char *value, int64_t *height, int64_t *width) {
  char *end = NULL;
  errno = 0;
  long long h = strtoll(value, &end, 10);
  int ok = end != value && *end == 'x' && errno == 0 && h >= 1 && value[0] != '-';
  const char *rest = ok ? end + 1 : value;
  long long w = ok ? strtoll(rest, &end, 10) : 0;
  ok = ok && end != rest && *end == '\0' && errno == 0 && w >= 1 && rest[0] != '-';
  if (!ok || h > INT32_MAX || w > INT32_MAX) {
    return clattn_cli_run_reject("--grid", "expected HxW with integers >= 1 (e.g. 14x14), got '%s'",
                                 value);
  }
  *height = h;
  *width = w;
  return CLATTN_CLI_OK;
}

static int read_npy(const char *argument, const char *path, clattn_npy_array *a) {
  char error[768];
  if (clattn_npy_read(path, a, error, sizeof error) != 0) {
    return clattn_cli_run_reject(argument, "%s", error);
  }
  return CLATTN_CLI_OK;
}

int clattn_cli_heatmap_image_load(const char *path, float **grey, int64_t *height,
                                  int64_t *width) {
  clattn_npy_array a;
  memset(&a, 0, sizeof a);
  int rc = read_npy("--image", path, &a);
  char dims[256];
  if (rc == CLATTN_CLI_OK && (a.rank != 2 || a.count == 0)) {
    rc = clattn_cli_run_reject("--image", "expected a grey image (height, width), got shape %s",
                               clattn_npy_shape_format(a.rank, a.shape, dims, sizeof dims));
  }
  if (rc == CLATTN_CLI_OK && a.dtype != CLATTN_NPY_F32 && a.dtype != CLATTN_NPY_U8) {
    rc = clattn_cli_run_reject("--image", "expected float32 in [0, 1] or uint8, got %s",
                               clattn_npy_dtype_name(a.dtype));
  }
  if (rc == CLATTN_CLI_OK && (a.shape[0] > 8192 || a.shape[1] > 8192)) {
    rc = clattn_cli_run_reject("--image", "%s is larger than 8192 x 8192 pixels",
                               clattn_npy_shape_format(a.rank, a.shape, dims, sizeof dims));
  }
  float *out = rc == CLATTN_CLI_OK ? malloc((size_t)a.count * sizeof *out) : NULL;
  if (rc == CLATTN_CLI_OK && out == NULL) {
    rc = clattn_cli_out_of_memory();
  }
  for (uint64_t n = 0; rc == CLATTN_CLI_OK && n < a.count; ++n) {
    float x = a.dtype == CLATTN_NPY_U8 ? ((const unsigned char *)a.data)[n] / 255.0f
                                       : ((const float *)a.data)[n];
    if (!(x >= 0.0f && x <= 1.0f)) {
      rc = clattn_cli_run_reject("--image", "float32 pixel %llu is %g, outside [0, 1]",
                                 (unsigned long long)n, (double)x);
    }
    out[n] = x;
  }
  if (rc == CLATTN_CLI_OK) {
    *grey = out;
    *height = a.shape[0];
    *width = a.shape[1];
  } else {
    free(out);
  }
  clattn_npy_free(&a);
  return rc;
}

int clattn_cli_heatmap_weights_load(const char *path, float **weights, int64_t dims[4]) {
  clattn_npy_array a;
  memset(&a, 0, sizeof a);
  int rc = read_npy("--weights", path, &a);
  char text[256];
  if (rc == CLATTN_CLI_OK && ((a.rank != 4 && a.rank != 2) || a.count == 0)) {
    rc = clattn_cli_run_reject("--weights",
                               "expected weights (B, Hq, Sq, Skv) or (Sq, Skv), got shape %s",
                               clattn_npy_shape_format(a.rank, a.shape, text, sizeof text));
  }
  if (rc == CLATTN_CLI_OK && a.dtype != CLATTN_NPY_F32) {
    rc = clattn_cli_run_reject("--weights", "expected float32, got %s", clattn_npy_dtype_name(a.dtype));
  }
  if (rc == CLATTN_CLI_OK) {
    int r = a.rank;
    int64_t d[4] = {r == 4 ? a.shape[0] : 1, r == 4 ? a.shape[1] : 1, a.shape[r - 2], a.shape[r - 1]};
    memcpy(dims, d, sizeof d);
    *weights = a.data; /* malloc'd by the reader: the caller frees it */
    a.data = NULL;
  }
  clattn_npy_free(&a);
  return rc;
}

/* Bilinear sample of the grid at fractional cell coordinates (gy, gx); the nearest cell
 * when a neighbour is not finite (masked -inf and NaN keep their own colours). */
static float grid_sample(const float *row, int64_t gh, int64_t gw, double gy, double gx) {
  gy = gy < 0 ? 0 : gy > (double)(gh - 1) ? (double)(gh - 1) : gy;
  gx = gx < 0 ? 0 : gx > (double)(gw - 1) ? (double)(gw - 1) : gx;
  int64_t y0 = (int64_t)gy, x0 = (int64_t)gx;
  int64_t y1 = y0 + 1 < gh ? y0 + 1 : y0, x1 = x0 + 1 < gw ? x0 + 1 : x0;
  double fy = gy - (double)y0, fx = gx - (double)x0;
  float a = row[y0 * gw + x0], b = row[y0 * gw + x1], c = row[y1 * gw + x0], d = row[y1 * gw + x1];
  if (!isfinite(a) || !isfinite(b) || !isfinite(c) || !isfinite(d)) {
    return row[(fy < 0.5 ? y0 : y1) * gw + (fx < 0.5 ? x0 : x1)];
  }
  double top = a + (b - a) * fx, bottom = c + (d - c) * fx;
  return (float)(top + (bottom - top) * fy);
}

int clattn_cli_heatmap_blend_render(const char *path, const float *row, int64_t grid_h,
                                    int64_t grid_w, const float *grey, int64_t height,
                                    int64_t width, char *error, size_t error_size) {
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t n = 0; n < grid_h * grid_w; ++n) {
    if (isfinite(row[n])) {
      lo = fmin(lo, row[n]);
      hi = fmax(hi, row[n]);
    }
  }
  unsigned char *rgb = malloc((size_t)(height * width) * 3);
  if (rgb == NULL) {
    snprintf(error, error_size, "out of memory for a %lldx%lld image", (long long)width,
             (long long)height);
    return -1;
  }
  for (int64_t y = 0; y < height; ++y) {
    /* Pixel centres mapped onto cell centres, as image resampling does. */
    double gy = ((double)y + 0.5) * (double)grid_h / (double)height - 0.5;
    for (int64_t x = 0; x < width; ++x) {
      double gx = ((double)x + 0.5) * (double)grid_w / (double)width - 0.5;
      unsigned char colour[3];
      clattn_cli_heatmap_colour(grid_sample(row, grid_h, grid_w, gy, gx), lo, hi, colour);
      double g = 255.0 * grey[y * width + x];
      for (int ch = 0; ch < 3; ++ch) {
        rgb[(y * width + x) * 3 + ch] =
            (unsigned char)lrint(BLEND_ALPHA * colour[ch] + (1.0 - BLEND_ALPHA) * g);
      }
    }
  }
  int rc = clattn_png_write(path, (int)width, (int)height, rgb, error, error_size);
  free(rgb);
  return rc;
}
