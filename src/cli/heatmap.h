/*
 * Attention weights in the command-line tool: 'clattn run --weights/--heatmap' and
 * 'clattn heatmap'. Both share clattn run's command line and input checks (cmd_run.c), get
 * the weights from clattn_attention_weights (run_weights.c) and draw one head of them as a
 * PNG heatmap (cmd_heatmap.c, png.c).
 */
#ifndef CLATTN_CLI_HEATMAP_H
#define CLATTN_CLI_HEATMAP_H

#include <stddef.h>
#include <stdint.h>

#include "run.h"

/* Runs clattn_attention_weights in `mode` (0 .. 3) on the problem: *weights receives a
 * malloc'd float32 (B, Hq, Sq, Skv) array, whatever the layout. Prints any failure.
 * CLATTN_CLI_OK or CLATTN_CLI_FAILURE. */
int clattn_cli_run_weights(const clattn_cli_run_options *options,
                           const clattn_cli_run_problem *problem, int mode, float **weights);

/* Draws the rows x cols matrix `w` (row-major) as a heatmap PNG at `path`, with `title`
 * above it (NULL: none) and a colour bar with the finite minimum and maximum. -inf entries
 * are grey, NaN red. Returns 0, or -1 with a message in `error`. */
int clattn_cli_heatmap_render(const char *path, const float *w, int64_t rows, int64_t cols,
                              const char *title, char *error, size_t error_size);

/* The colour of weight x on the heatmap scale from lo to hi: -inf grey, NaN red. */
void clattn_cli_heatmap_colour(float x, double lo, double hi, unsigned char out[3]);

/* ---- clattn heatmap --grid / --image / --weights input (heatmap_grid.c) ---------------- */

/* A grey image for --image: rank 2 (height, width), float32 in [0, 1] or uint8; *grey
 * receives malloc'd floats in [0, 1]. CLATTN_CLI_OK, or CLATTN_CLI_USAGE with the reason
 * printed naming --image. */
int clattn_cli_heatmap_image_load(const char *path, float **grey, int64_t *height,
                                  int64_t *width);

/* "HxW" with H, W >= 1 (--grid). CLATTN_CLI_OK or CLATTN_CLI_USAGE (printed). */
int clattn_cli_heatmap_grid_parse(const char *value, int64_t *height, int64_t *width);

/* Reads weights written by --weights: float32 (B, Hq, Sq, Skv), or (Sq, Skv) for one head.
 * dims receives B, Hq, Sq, Skv; *weights the malloc'd data. CLATTN_CLI_OK, CLATTN_CLI_USAGE
 * (printed, naming --weights) or CLATTN_CLI_FAILURE (out of memory). */
int clattn_cli_heatmap_weights_load(const char *path, float **weights, int64_t dims[4]);

/* Draws `row`, one query's weights over a grid_h x grid_w map (row-major positions),
 * bilinearly upsampled to the grey image's size (nearest cell next to non-finite weights)
 * and alpha-blended over it: a PNG exactly height x width pixels. Returns 0, or -1 with a
 * message in `error`. */
int clattn_cli_heatmap_blend_render(const char *path, const float *row, int64_t grid_h,
                                    int64_t grid_w, const float *grey, int64_t height,
                                    int64_t width, char *error, size_t error_size);

/* The shared body of 'clattn run' (heatmap 0) and 'clattn heatmap' (heatmap 1). */
int clattn_cli_attention_command(int argc, char **argv, const clattn_cli_globals *globals,
                                 int heatmap);

int clattn_cli_heatmap_run(int argc, char **argv, const clattn_cli_globals *globals);
void clattn_cli_heatmap_usage(FILE *out);

#endif /* CLATTN_CLI_HEATMAP_H */
