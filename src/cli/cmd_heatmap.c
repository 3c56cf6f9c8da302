/*
 * clattn heatmap: one head's attention weights as a PNG. The command line is clattn run's
 * (cmd_run.c) without V; this file draws the picture: a block of pixels per weight (rows =
 * queries, columns = keys), scaled up so that small matrices are at least 256 pixels wide
 * and sampled down above 2048, a viridis-like colour scale, a colour bar with the minimum and
 * maximum, and a title, in a built-in 5x7 pixel font.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"
#include "png.h"

void clattn_cli_heatmap_usage(FILE *out) {
  fputs("usage: clattn heatmap --q Q.npy --k K.npy --out H.png [options]\n"
        "       clattn heatmap --weights W.npy --out H.png [--head B,H] [--grid HxW ...]\n"
        "\n"
        "Draws one head's attention weights as a PNG heatmap: rows are queries, columns\n"
        "keys, each weight a block of pixels on a viridis-like scale (dark: low, yellow:\n"
        "high) with a colour bar labelled with the minimum and maximum finite weight.\n"
        "Masked scores (-inf, modes 0-2) are grey, NaN red. The weights come from\n"
        "clattn_attention_weights on the device, with the same masks as 'clattn run'.\n"
        "\n"
        "Options:\n"
        "  --q, --k FILE          the inputs, as for 'clattn run' (no V is needed)\n"
        "  --out FILE             the PNG to write\n"
        "  --head B,H             the batch and query head to draw (default 0,0)\n"
        "  --mode 0..3            0 scores, 1 after softcap, 2 after masks, 3 softmax\n"
        "                         probabilities (default 3)\n"
        "  --weights FILE         also write all weights: float32 (B, Hq, Sq, Skv);\n"
        "                         without --q and --k, read them from FILE instead\n"
        "                         ((B, Hq, Sq, Skv) or (Sq, Skv) float32, as written)\n"
        "  --grid HxW             spatial attention: draw one query's weights over the\n"
        "                         H x W positions of a feature map (H * W = Skv, the\n"
        "                         keys in row-major order)\n"
        "  --query I              the query whose weights --grid draws (default 0)\n"
        "  --image FILE           with --grid: a grey image (height, width), float32 in\n"
        "                         [0, 1] or uint8, any size; the weights are upsampled\n"
        "                         bilinearly to its size and blended over it, and the\n"
        "                         PNG has the image's size\n"
        "  --layout, --causal, --window, --scale, --softcap, --mask, --kv-lens,\n"
        "  --q-lens, --dtype, --device\n"
        "                         as for 'clattn run' (see 'clattn run --help')\n"
        "\n"
        "Exit status: 0 done; 2 a wrong command line or input file (nothing is written);\n"
        "1 a failure on the device or while writing.\n",
        out);
}

int clattn_cli_heatmap_run(int argc, char **argv, const clattn_cli_globals *globals) {
  return clattn_cli_attention_command(argc, argv, globals, 1);
}

/* ---- drawing ------------------------------------------------------------------------- */

typedef struct canvas {
  int width, height;
  unsigned char *rgb;
} canvas;

static void canvas_pixel(canvas *c, int x, int y, const unsigned char colour[3]) {
  if (x >= 0 && y >= 0 && x < c->width && y < c->height) {
    memcpy(c->rgb + ((size_t)y * (size_t)c->width + (size_t)x) * 3, colour, 3);
  }
}

static void canvas_rect(canvas *c, int x, int y, int w, int h, const unsigned char colour[3]) {
  for (int j = y; j < y + h; ++j) {
    for (int i = x; i < x + w; ++i) {
      canvas_pixel(c, i, j, colour);
    }
  }
}

/* 5x7 glyphs, one byte per row, bit 4 the leftmost pixel. */
typedef struct glyph {
  char c;
  unsigned char rows[7];
} glyph;

static const glyph font[] = {
    {'0', {0x0e, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0e}}, {'1', {0x04, 0x0c, 0x04, 0x04, 0x04, 0x04, 0x0e}},
    {'2', {0x0e, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1f}}, {'3', {0x1f, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0e}},
    {'4', {0x02, 0x06, 0x0a, 0x12, 0x1f, 0x02, 0x02}}, {'5', {0x1f, 0x10, 0x1e, 0x01, 0x01, 0x11, 0x0e}},
    {'6', {0x06, 0x08, 0x10, 0x1e, 0x11, 0x11, 0x0e}}, {'7', {0x1f, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0e, 0x11, 0x11, 0x0e, 0x11, 0x11, 0x0e}}, {'9', {0x0e, 0x11, 0x11, 0x0f, 0x01, 0x02, 0x0c}},
    {'-', {0x00, 0x00, 0x00, 0x1f, 0x00, 0x00, 0x00}}, {'+', {0x00, 0x04, 0x04, 0x1f, 0x04, 0x04, 0x00}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x0c}}, {'=', {0x00, 0x00, 0x1f, 0x00, 0x1f, 0x00, 0x00}},
    {'e', {0x00, 0x00, 0x0e, 0x11, 0x1f, 0x10, 0x0e}}, {'x', {0x00, 0x00, 0x11, 0x0a, 0x04, 0x0a, 0x11}},
    {'b', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x1e}}, {'h', {0x10, 0x10, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'m', {0x00, 0x00, 0x1a, 0x15, 0x15, 0x11, 0x11}}, {'o', {0x00, 0x00, 0x0e, 0x11, 0x11, 0x11, 0x0e}},
    {'d', {0x01, 0x01, 0x0d, 0x13, 0x11, 0x11, 0x0f}}, {'n', {0x00, 0x00, 0x16, 0x19, 0x11, 0x11, 0x11}},
    {'i', {0x04, 0x00, 0x0c, 0x04, 0x04, 0x04, 0x0e}}, {'f', {0x06, 0x09, 0x08, 0x1c, 0x08, 0x08, 0x08}},
    {'a', {0x00, 0x00, 0x0e, 0x01, 0x0f, 0x11, 0x0f}}, {'s', {0x00, 0x00, 0x0e, 0x10, 0x0e, 0x01, 0x1e}},
    {'k', {0x10, 0x10, 0x12, 0x14, 0x18, 0x14, 0x12}}, {'q', {0x00, 0x00, 0x0d, 0x13, 0x0f, 0x01, 0x01}},
    {'y', {0x00, 0x00, 0x11, 0x11, 0x0f, 0x01, 0x0e}}, {'r', {0x00, 0x00, 0x16, 0x19, 0x10, 0x10, 0x10}},
    {'p', {0x00, 0x00, 0x1e, 0x11, 0x1e, 0x10, 0x10}}, {'c', {0x00, 0x00, 0x0e, 0x10, 0x10, 0x11, 0x0e}},
    {'l', {0x0c, 0x04, 0x04, 0x04, 0x04, 0x04, 0x0e}}, {'t', {0x08, 0x08, 0x1c, 0x08, 0x08, 0x09, 0x06}},
    {',', {0x00, 0x00, 0x00, 0x00, 0x0c, 0x04, 0x08}}, {':', {0x00, 0x0c, 0x0c, 0x00, 0x0c, 0x0c, 0x00}},
};

#define FONT_SCALE 2
#define CHAR_W (6 * FONT_SCALE) /* 5 pixels and a space */
#define CHAR_H (7 * FONT_SCALE)

/* Draws text with its top-left corner at (x, y); characters without a glyph are blank. */
static void canvas_text(canvas *c, int x, int y, const char *text) {
  static const unsigned char ink[3] = {20, 20, 20};
  for (; *text; ++text, x += CHAR_W) {
    const glyph *g = NULL;
    for (size_t i = 0; i < sizeof font / sizeof font[0]; ++i) {
      if (font[i].c == *text) {
        g = &font[i];
      }
    }
    for (int row = 0; g != NULL && row < 7; ++row) {
      for (int col = 0; col < 5; ++col) {
        if (g->rows[row] & (0x10 >> col)) {
          canvas_rect(c, x + col * FONT_SCALE, y + row * FONT_SCALE, FONT_SCALE, FONT_SCALE, ink);
        }
      }
    }
  }
}

/* A viridis-like scale: linear between nine anchors sampled from matplotlib's viridis. */
static void colour_of(double t, unsigned char out[3]) {
  static const unsigned char anchors[9][3] = {
      {68, 1, 84},    {71, 44, 122},  {59, 81, 139},  {44, 113, 142}, {33, 144, 141},
      {39, 173, 129}, {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
  t = t < 0.0 ? 0.0 : t > 1.0 ? 1.0 : t;
  double at = t * 8.0;
  int i = (int)at;
  if (i > 7) {
    i = 7;
  }
  double f = at - i;
  for (int ch = 0; ch < 3; ++ch) {
    out[ch] = (unsigned char)lrint(anchors[i][ch] * (1.0 - f) + anchors[i + 1][ch] * f);
  }
}

void clattn_cli_heatmap_colour(float x, double lo, double hi, unsigned char out[3]) {
  static const unsigned char masked[3] = {128, 128, 128}, nan_colour[3] = {230, 0, 0};
  if (isnan(x)) {
    memcpy(out, nan_colour, 3);
  } else if (isinf(x) && x < 0) {
    memcpy(out, masked, 3);
  } else {
    colour_of(hi > lo ? ((double)x - lo) / (hi - lo) : 0.5, out);
  }
}

/* Pixels per weight along one axis, and the plot's size: at least `least` pixels (cells as
 * large as that needs), at most 2048 (then several weights share a pixel: sampled). */
static int plot_size(int64_t n, int least, int64_t *cell) {
  *cell = n >= least ? 1 : (least + n - 1) / n;
  int64_t size = n * *cell;
  return (int)(size > 2048 ? 2048 : size);
}

int clattn_cli_heatmap_render(const char *path, const float *w, int64_t rows, int64_t cols,
                              const char *title, char *error, size_t error_size) {
  double lo = INFINITY, hi = -INFINITY;
  for (int64_t n = 0; n < rows * cols; ++n) {
    if (isfinite(w[n])) {
      lo = fmin(lo, w[n]);
      hi = fmax(hi, w[n]);
    }
  }
  if (lo > hi) { /* nothing finite */
    lo = hi = 0.0;
  }
  int64_t cell_w = 1, cell_h = 1;
  int pw = plot_size(cols, 256, &cell_w);
  int ph = plot_size(rows, 64, &cell_h);
  if (cell_h < cell_w && rows * cell_w <= 2048) { /* square cells where they fit */
    cell_h = cell_w;
    ph = (int)(rows * cell_h);
  }
  char lo_text[32], hi_text[32];
  snprintf(lo_text, sizeof lo_text, "%.4g", lo);
  snprintf(hi_text, sizeof hi_text, "%.4g", hi);
  int label_w = (int)(strlen(lo_text) > strlen(hi_text) ? strlen(lo_text) : strlen(hi_text)) * CHAR_W;
  const int margin = 12, bar_w = 20;
  int top = title != NULL ? margin + CHAR_H + margin : margin;
  int width = margin + pw + margin + bar_w + 6 + label_w + margin;
  if (title != NULL && (int)strlen(title) * CHAR_W + 2 * margin > width) {
    width = (int)strlen(title) * CHAR_W + 2 * margin;
  }
  int height = top + ph + margin;
  canvas c = {width, height, malloc((size_t)width * (size_t)height * 3)};
  if (c.rgb == NULL) {
    snprintf(error, error_size, "out of memory for a %dx%d image", width, height);
    return -1;
  }
  memset(c.rgb, 255, (size_t)width * (size_t)height * 3);
  if (title != NULL) {
    canvas_text(&c, margin, margin, title);
  }
  unsigned char colour[3];
  for (int y = 0; y < ph; ++y) {
    int64_t i = ph == rows * cell_h ? y / cell_h : (int64_t)y * rows / ph;
    for (int x = 0; x < pw; ++x) {
      int64_t j = pw == cols * cell_w ? x / cell_w : (int64_t)x * cols / pw;
      clattn_cli_heatmap_colour(w[i * cols + j], lo, hi, colour);
      canvas_pixel(&c, margin + x, top + y, colour);
    }
  }
  /* The colour bar: maximum at the top, minimum at the bottom, labels beside its ends. */
  int bar_x = margin + pw + margin;
  for (int y = 0; y < ph; ++y) {
    colour_of(ph > 1 ? 1.0 - (double)y / (ph - 1) : 0.5, colour);
    canvas_rect(&c, bar_x, top + y, bar_w, 1, colour);
  }
  canvas_text(&c, bar_x + bar_w + 6, top, hi_text);
  canvas_text(&c, bar_x + bar_w + 6, top + ph - CHAR_H, lo_text);
  int rc = clattn_png_write(path, width, height, c.rgb, error, error_size);
  free(c.rgb);
  return rc;
}
