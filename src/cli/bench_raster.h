/*
 * A tiny rasteriser for the benchmark plot: an RGB canvas, rectangles, lines (optionally
 * dashed) and text in a 5x7 bitmap font covering printable ASCII.
 */
#ifndef CLATTN_CLI_BENCH_RASTER_H
#define CLATTN_CLI_BENCH_RASTER_H

typedef struct raster {
  int width, height;
  unsigned char *rgb; /* height rows of width * 3 bytes, top row first */
} raster;

typedef struct raster_colour {
  unsigned char r, g, b;
} raster_colour;

/* A canvas filled with `background`; 0, or -1 when out of memory. */
int raster_create(raster *c, int width, int height, raster_colour background);
void raster_free(raster *c);

/* Pixels outside the canvas are ignored by every call below. */
void raster_rect(raster *c, int x, int y, int w, int h, raster_colour colour);
/* A line `thickness` pixels wide; dash > 0 draws `dash` pixels on, `dash` off. */
void raster_line(raster *c, int x0, int y0, int x1, int y1, int thickness, int dash,
                 raster_colour colour);

/* Text with its top-left corner at (x, y), each font pixel drawn scale x scale; characters
 * outside printable ASCII are blank. The width it takes: raster_text_width. */
void raster_text(raster *c, int x, int y, int scale, const char *text, raster_colour colour);
int raster_text_width(int scale, const char *text);
#define RASTER_CHAR_HEIGHT 7

#endif /* CLATTN_CLI_BENCH_RASTER_H */
