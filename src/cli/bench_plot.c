/*
 * clattn bench --plot: prefill throughput (GFLOP/s, linear) against sequence length (log
 * scale), one line per implementation at one head dimension (64 when measured), the FMA
 * ceiling as a dashed horizontal line, axes with ticks and labels, a legend; an 800 x 500 PNG.
 */
#include <math.h>
#include <string.h>

#include "bench.h"
#include "bench_raster.h"
#include "png.h"

#define PLOT_W 800
#define PLOT_H 500
#define LEFT 70
#define RIGHT 200 /* room for the legend */
#define TOP 64
#define BOTTOM 60

typedef struct plot_series {
  const char *impl;
  int causal;
  raster_colour colour;
} plot_series;

static const plot_series plot_lines[] = {
    {"fused", 0, {31, 119, 180}},  {"fused", 1, {23, 190, 207}},
    {"naive", 0, {255, 127, 14}},  {"unfused", 0, {44, 160, 44}},
    {"numpy", 0, {148, 103, 189}}, {"torch sdpa", 0, {140, 86, 75}},
};
#define PLOT_SERIES (int)(sizeof plot_lines / sizeof plot_lines[0])

static const raster_colour ink = {30, 30, 30}, grid = {225, 225, 225}, peak = {214, 39, 40};

/* The plot's frame: data ranges and the pixel box they map to. */
typedef struct plot_frame {
  double x_min, x_max, y_max; /* x in log2(S) */
  int x0, y0, x1, y1;         /* pixel box: left, top, right, bottom */
} plot_frame;

static int plot_x(const plot_frame *f, double seq) {
  double t = (log2(seq) - f->x_min) / (f->x_max - f->x_min);
  return f->x0 + (int)lround(t * (f->x1 - f->x0));
}

static int plot_y(const plot_frame *f, double value) {
  return f->y1 - (int)lround(value / f->y_max * (f->y1 - f->y0));
}

static int plot_in_series(const bench_cli_row *row, int dim, const plot_series *s) {
  return row->ok && row->seq > 0 && row->dim == dim && row->causal == s->causal &&
         strcmp(row->impl, s->impl) == 0;
}

/* 1, 2 or 5 times a power of ten, at least x. */
static double plot_nice(double x) {
  double p = pow(10.0, floor(log10(x)));
  return x <= p ? p : x <= 2 * p ? 2 * p : x <= 5 * p ? 5 * p : 10 * p;
}

static void plot_axes(raster *c, const plot_frame *f) {
  char label[32];
  double step = plot_nice(f->y_max / 5.0);
  for (double v = 0.0; v <= f->y_max + 1e-9; v += step) {
    int y = plot_y(f, v);
    raster_line(c, f->x0, y, f->x1, y, 1, 0, grid);
    snprintf(label, sizeof label, "%g", v);
    raster_text(c, f->x0 - 8 - raster_text_width(1, label), y - 3, 1, label, ink);
  }
  for (double e = ceil(f->x_min); e <= f->x_max + 1e-9; e += 1.0) {
    int x = plot_x(f, exp2(e));
    raster_line(c, x, f->y0, x, f->y1, 1, 0, grid);
    raster_line(c, x, f->y1, x, f->y1 + 5, 1, 0, ink);
    snprintf(label, sizeof label, "%.0f", exp2(e));
    raster_text(c, x - raster_text_width(1, label) / 2, f->y1 + 10, 1, label, ink);
  }
  raster_line(c, f->x0, f->y0, f->x0, f->y1, 2, 0, ink);
  raster_line(c, f->x0, f->y1, f->x1, f->y1, 2, 0, ink);
  const char *x_label = "sequence length S (log scale)";
  raster_text(c, (f->x0 + f->x1 - raster_text_width(2, x_label)) / 2, f->y1 + 30, 2, x_label,
              ink);
  raster_text(c, 8, f->y0 - 18, 1, "GFLOP/s", ink);
}

static void plot_data(raster *c, const plot_frame *f, const bench_cli_report *r, int dim) {
  int legend_y = f->y0;
  for (int s = 0; s < PLOT_SERIES; ++s) {
    const plot_series *series = &plot_lines[s];
    int px = -1, py = -1, points = 0;
    for (int i = 0; i < r->row_count; ++i) {
      const bench_cli_row *row = &r->rows[i];
      if (!plot_in_series(row, dim, series)) {
        continue;
      }
      int x = plot_x(f, row->seq), y = plot_y(f, row->median);
      if (points++ > 0) {
        raster_line(c, px, py, x, y, 2, 0, series->colour);
      }
      raster_rect(c, x - 3, y - 3, 7, 7, series->colour); /* a marker: one point shows too */
      px = x;
      py = y;
    }
    if (points > 0) {
      char name[40];
      snprintf(name, sizeof name, "%s%s", series->impl, series->causal ? " causal" : "");
      raster_line(c, f->x1 + 10, legend_y + 6, f->x1 + 32, legend_y + 6, 2, 0, series->colour);
      raster_text(c, f->x1 + 40, legend_y, 2, name, ink);
      legend_y += 24;
    }
  }
  raster_line(c, f->x1 + 10, legend_y + 6, f->x1 + 32, legend_y + 6, 2, 6, peak);
  raster_text(c, f->x1 + 40, legend_y, 2, "FMA peak", ink);
}

/* The frame fitted to the rows of head dimension `dim` and the FMA ceiling. */
static void plot_fit(plot_frame *f, const bench_cli_report *r, int dim) {
  double lo = INFINITY, hi = -INFINITY, top = r->fma_gflops;
  for (int i = 0; i < r->row_count; ++i) {
    for (int s = 0; s < PLOT_SERIES; ++s) {
      if (plot_in_series(&r->rows[i], dim, &plot_lines[s])) {
        lo = fmin(lo, log2(r->rows[i].seq));
        hi = fmax(hi, log2(r->rows[i].seq));
        top = fmax(top, r->rows[i].median);
      }
    }
  }
  if (!(lo <= hi)) {
    lo = 7.0; /* no data: an empty 128 .. 16384 frame */
    hi = 14.0;
  }
  f->x_min = lo == hi ? lo - 1.0 : lo;
  f->x_max = lo == hi ? hi + 1.0 : hi;
  f->y_max = plot_nice(fmax(top, 1.0) * 1.1);
  f->x0 = LEFT;
  f->y0 = TOP;
  f->x1 = PLOT_W - RIGHT;
  f->y1 = PLOT_H - BOTTOM;
}

int bench_cli_plot_write(const char *path, const bench_cli_report *r, char *error,
                         size_t error_size) {
  static const raster_colour white = {255, 255, 255};
  int dim = 0;
  for (int i = 0; i < r->row_count && dim != 64; ++i) {
    dim = r->rows[i].ok && r->rows[i].seq > 0 && dim == 0 ? r->rows[i].dim : dim;
    dim = r->rows[i].ok && r->rows[i].dim == 64 ? 64 : dim;
  }
  raster c;
  if (raster_create(&c, PLOT_W, PLOT_H, white) != 0) {
    snprintf(error, error_size, "out of host memory");
    return -1;
  }
  plot_frame f;
  plot_fit(&f, r, dim);
  plot_axes(&c, &f);
  int y = plot_y(&f, r->fma_gflops);
  raster_line(&c, f.x0, y, f.x1, y, 2, 6, peak);
  char text[160];
  snprintf(text, sizeof text, "FMA peak %.0f GFLOP/s", r->fma_gflops);
  raster_text(&c, f.x1 - raster_text_width(1, text), y - 12, 1, text, peak);
  plot_data(&c, &f, r, dim);
  snprintf(text, sizeof text, "clattn prefill attention, B=1 H=8 D=%d fp32", dim);
  raster_text(&c, LEFT, 10, 2, text, ink);
  snprintf(text, sizeof text, "%.60s, median of %d runs", r->device.name, r->repeats);
  raster_text(&c, LEFT, 30, 1, text, ink);
  int rc = clattn_png_write(path, PLOT_W, PLOT_H, c.rgb, error, error_size);
  raster_free(&c);
  return rc;
}
