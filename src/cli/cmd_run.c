/*
 * clattn run: attention on .npy files. The command line and the files are checked first
 * (exit 2, nothing written), then the device runs (exit 1 on failure), and only then are the
 * outputs written, each to a temporary name that is renamed into place once complete.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"
#include "npy.h"
#include "run.h"
#include "run_family.h"

/* The raw words of the command line, before they are checked. */
typedef struct run_words {
  const char *layout, *causal, *window, *scale, *softcap, *dtype;
  const char *weights_mode, *heatmap_head;
  const char *grid, *query; /* clattn heatmap only */
} run_words;

/* What run adds to clattn_cli_run_options for the weights: --weights, --weights-mode,
 * --heatmap and --heatmap-head (clattn heatmap: --weights, --mode, --out and --head). */
typedef struct run_extras {
  int heatmap_command;      /* 1: 'clattn heatmap' (no V, no O) */
  const char *weights_path; /* NULL: not asked for */
  const char *heatmap_path; /* NULL: not asked for */
  const char *mode_option, *head_option; /* the options' names, for messages */
  int mode;
  int64_t head_b, head_h;
  /* clattn heatmap: --weights read instead of computed (no --q/--k), --grid HxW with
   * --query, and the grey --image loaded once the sizes are known. */
  const char *weights_in;
  int64_t grid_h, grid_w, query;
  const char *image_path;
  float *grey;
  int64_t image_h, image_w;
} run_extras;

/* Index of `value` in `choices`, or -1 after printing what was expected. */
static int run_choice(const char *argument, const char *value, const char *const *choices,
                      int count) {
  for (int i = 0; i < count; ++i) {
    if (strcmp(value, choices[i]) == 0) {
      return i;
    }
  }
  clattn_cli_run_reject(argument, "expected %s%s%s%s%s, got '%s'", choices[0],
                        count > 2 ? ", " : " or ", choices[1], count > 2 ? " or " : "",
                        count > 2 ? choices[2] : "", value);
  return -1;
}

/* A finite float, not zero when `nonzero` (the library reads 0 as "default"). */
static int run_float(const char *argument, const char *value, int nonzero, float *out) {
  char *end = NULL;
  errno = 0;
  double x = strtod(value, &end);
  if (end == value || *end != '\0' || !isfinite(x) || fabs(x) > FLT_MAX) {
    return clattn_cli_run_reject(argument, "expected a finite number, got '%s'", value);
  }
  if (nonzero && x == 0.0) {
    return clattn_cli_run_reject(argument, "must not be 0");
  }
  *out = (float)x;
  return CLATTN_CLI_OK;
}

/* "LEFT,RIGHT", each an integer >= -1. */
static int run_window(const char *value, int64_t *left, int64_t *right) {
  char *end = NULL;
  errno = 0;
  long long l = strtoll(value, &end, 10);
  int ok = end != value && *end == ',' && errno == 0 && l >= -1;
  const char *second = ok ? end + 1 : value;
  long long r = ok ? strtoll(second, &end, 10) : 0;
  ok = ok && end != second && *end == '\0' && errno == 0 && r >= -1;
  if (!ok) {
    return clattn_cli_run_reject("--window",
                                 "expected LEFT,RIGHT with integers >= -1 (-1: unbounded), "
                                 "got '%s'",
                                 value);
  }
  *left = l;
  *right = r;
  return CLATTN_CLI_OK;
}

static int run_options_check(const run_words *w, clattn_cli_run_options *o) {
  static const char *const layouts[2] = {"bhsd", "bshd"};
  static const char *const causals[2] = {"top-left", "bottom-right"};
  static const char *const dtypes[3] = {"f32", "f16", "bf16"};
  const char *required[4][2] = {
      {"--q", o->q_path}, {"--k", o->k_path}, {"--v", o->v_path}, {"--out", o->out_path}};
  for (int i = 0; i < 4; ++i) {
    if (i == 1 && o->family.score == CLATTN_CLI_SCORE_LOCATION) {
      continue; /* location attention has no keys */
    }
    if (required[i][1] == NULL || required[i][1][0] == '\0') {
      return clattn_cli_run_reject(required[i][0], "this option is required");
    }
  }
  int layout = w->layout != NULL ? run_choice("--layout", w->layout, layouts, 2) : 0;
  int causal = w->causal != NULL ? run_choice("--causal", w->causal, causals, 2) : 0;
  int dtype = w->dtype != NULL ? run_choice("--dtype", w->dtype, dtypes, 3) : 0;
  if (layout < 0 || causal < 0 || dtype < 0) {
    return CLATTN_CLI_USAGE;
  }
  o->layout = layout == 0 ? CLATTN_LAYOUT_BHSD : CLATTN_LAYOUT_BSHD;
  o->causal = w->causal != NULL;
  o->alignment = causal == 0 ? CLATTN_ALIGN_TOP_LEFT : CLATTN_ALIGN_BOTTOM_RIGHT;
  o->dtype = dtype == 0 ? CLATTN_F32 : dtype == 1 ? CLATTN_F16 : CLATTN_BF16;
  o->window_left = o->window_right = -1;
  if (w->window != NULL && run_window(w->window, &o->window_left, &o->window_right) != 0) {
    return CLATTN_CLI_USAGE;
  }
  if (w->scale != NULL && run_float("--scale", w->scale, 1, &o->scale) != 0) {
    return CLATTN_CLI_USAGE;
  }
  if (w->softcap != NULL && run_float("--softcap", w->softcap, 0, &o->softcap) != 0) {
    return CLATTN_CLI_USAGE;
  }
  if (o->softcap < 0.0f) {
    return clattn_cli_run_reject("--softcap", "must be positive (or 0: off), got '%s'",
                                 w->softcap);
  }
  if (o->lse_path != NULL && strcmp(o->lse_path, o->out_path) == 0) {
    return clattn_cli_run_reject("--lse", "is the same file as --out");
  }
  return CLATTN_CLI_OK;
}

/* A non-negative integer pair "B,H". */
static int run_pair(const char *argument, const char *value, int64_t *first, int64_t *second) {
  char *end = NULL;
  errno = 0;
  long long a = strtoll(value, &end, 10);
  int ok = end != value && *end == ',' && errno == 0 && a >= 0;
  const char *rest = ok ? end + 1 : value;
  long long b = ok ? strtoll(rest, &end, 10) : 0;
  ok = ok && end != rest && *end == '\0' && errno == 0 && b >= 0;
  if (!ok) {
    return clattn_cli_run_reject(argument, "expected B,H with integers >= 0, got '%s'", value);
  }
  *first = a;
  *second = b;
  return CLATTN_CLI_OK;
}

static int run_extras_check(const run_words *w, const clattn_cli_run_options *o,
                            run_extras *x) {
  x->mode = CLATTN_WEIGHTS_PROBS;
  if (w->weights_mode != NULL) {
    const char *v = w->weights_mode;
    if (v[0] < '0' || v[0] > '3' || v[1] != '\0') {
      return clattn_cli_run_reject(x->mode_option, "expected 0, 1, 2 or 3, got '%s'", v);
    }
    x->mode = v[0] - '0';
  }
  if (w->heatmap_head != NULL &&
      run_pair(x->head_option, w->heatmap_head, &x->head_b, &x->head_h) != CLATTN_CLI_OK) {
    return CLATTN_CLI_USAGE;
  }
  if (w->grid != NULL &&
      clattn_cli_heatmap_grid_parse(w->grid, &x->grid_h, &x->grid_w) != CLATTN_CLI_OK) {
    return CLATTN_CLI_USAGE;
  }
  if (w->query != NULL) {
    char *end = NULL;
    errno = 0;
    long long q = strtoll(w->query, &end, 10);
    if (end == w->query || *end != '\0' || errno != 0 || q < 0 || w->query[0] == '-') {
      return clattn_cli_run_reject("--query", "expected an integer >= 0, got '%s'", w->query);
    }
    x->query = q;
  }
  if ((w->query != NULL || x->image_path != NULL) && w->grid == NULL) {
    return clattn_cli_run_reject(w->query != NULL ? "--query" : "--image",
                                 "needs --grid HxW (the map the weights lie on)");
  }
  const char *outputs[4] = {o->out_path, o->lse_path, x->weights_path, x->heatmap_path};
  const char *names[4] = {"--out", "--lse", "--weights", x->heatmap_command ? "--out" : "--heatmap"};
  for (int i = 2; i < 4; ++i) {
    for (int j = 0; j < i; ++j) {
      if (outputs[i] != NULL && outputs[j] != NULL && strcmp(outputs[i], outputs[j]) == 0 &&
          strcmp(names[i], names[j]) != 0) {
        return clattn_cli_run_reject(names[i], "is the same file as %s", names[j]);
      }
    }
  }
  return CLATTN_CLI_OK;
}

/* The heatmap of one head (rows: queries, columns: keys), or with --grid one query's row
 * over the map's grid, drawn alone or blended over --image. */
static int run_heatmap_draw(const run_extras *x, const clattn_cli_run_problem *p,
                            const float *weights, const char *path, char *error,
                            size_t error_size) {
  static const char *const modes[4] = {"scores", "softcapped", "masked", "probs"};
  const char *what = x->weights_in != NULL ? "file" : modes[x->mode]; /* glyphs the font has */
  const float *head =
      weights + (size_t)((x->head_b * p->q_heads + x->head_h) * p->q_len * p->kv_len);
  char title[160];
  if (x->grid_h == 0) {
    snprintf(title, sizeof title, "b=%lld h=%lld %s %lldx%lld", (long long)x->head_b,
             (long long)x->head_h, what, (long long)p->q_len, (long long)p->kv_len);
    return clattn_cli_heatmap_render(path, head, p->q_len, p->kv_len, title, error, error_size);
  }
  const float *row = head + (size_t)(x->query * p->kv_len);
  if (x->grey != NULL) {
    return clattn_cli_heatmap_blend_render(path, row, x->grid_h, x->grid_w, x->grey, x->image_h,
                                           x->image_w, error, error_size);
  }
  snprintf(title, sizeof title, "b=%lld h=%lld q=%lld %s %lldx%lld", (long long)x->head_b,
           (long long)x->head_h, (long long)x->query, what, (long long)x->grid_h,
           (long long)x->grid_w);
  return clattn_cli_heatmap_render(path, row, x->grid_h, x->grid_w, title, error, error_size);
}

/* Writes the weights and the heatmap under temporary names, then renames them. */
static int run_weights_write(const run_extras *x, const clattn_cli_run_problem *p,
                             const float *weights) {
  int64_t shape[4] = {p->batch, p->q_heads, p->q_len, p->kv_len};
  const char *heat_arg = x->heatmap_command ? "--out" : "--heatmap";
  char *w_temp = x->weights_path != NULL ? clattn_cli_run_temp_name(x->weights_path) : NULL;
  char *h_temp = x->heatmap_path != NULL ? clattn_cli_run_temp_name(x->heatmap_path) : NULL;
  int rc = CLATTN_CLI_OK;
  if (x->weights_path != NULL) {
    rc = clattn_cli_run_write_temp("--weights", w_temp, CLATTN_NPY_F32, 4, shape, weights);
  }
  if (rc == CLATTN_CLI_OK && x->heatmap_path != NULL) {
    char error[768];
    if (h_temp == NULL) {
      rc = clattn_cli_out_of_memory();
    } else if (run_heatmap_draw(x, p, weights, h_temp, error, sizeof error) != 0) {
      fprintf(stderr, "clattn %s: %s: %s\n", clattn_cli_run_command(), heat_arg, error);
      rc = CLATTN_CLI_FAILURE;
    }
    if (rc != CLATTN_CLI_OK && w_temp != NULL) {
      remove(w_temp);
    }
  }
  if (rc == CLATTN_CLI_OK && w_temp != NULL) {
    rc = clattn_cli_run_rename("--weights", w_temp, x->weights_path);
    if (rc != CLATTN_CLI_OK && h_temp != NULL) {
      remove(h_temp);
    }
  }
  if (rc == CLATTN_CLI_OK && h_temp != NULL) {
    rc = clattn_cli_run_rename(heat_arg, h_temp, x->heatmap_path);
  }
  if (rc == CLATTN_CLI_OK && x->weights_path != NULL) {
    char dims[256];
    printf("wrote %s: float32 %s\n", x->weights_path,
           clattn_npy_shape_format(4, shape, dims, sizeof dims));
  }
  if (rc == CLATTN_CLI_OK && x->heatmap_path != NULL) {
    printf("wrote %s: heatmap of batch %lld, head %lld\n", x->heatmap_path,
           (long long)x->head_b, (long long)x->head_h);
  }
  free(w_temp);
  free(h_temp);
  return rc;
}

/* What the heatmap draws must exist in the weights' (B, Hq, Sq, Skv): the head, the grid
 * (H * W = Skv) and the query; then the grey image is read. Before any device work. */
static int run_view_check(run_extras *x, const clattn_cli_run_problem *p) {
  if (x->heatmap_path == NULL) {
    return CLATTN_CLI_OK;
  }
  if (x->head_b >= p->batch || x->head_h >= p->q_heads) {
    return clattn_cli_run_reject(x->head_option,
                                 "%lld,%lld is outside the %lld batches and %lld query heads",
                                 (long long)x->head_b, (long long)x->head_h, (long long)p->batch,
                                 (long long)p->q_heads);
  }
  if (x->grid_h == 0) {
    return CLATTN_CLI_OK;
  }
  if (x->grid_h * x->grid_w != p->kv_len) {
    return clattn_cli_run_reject("--grid",
                                 "%lldx%lld has %lld positions, but the weights have %lld keys "
                                 "(H * W must equal Skv)",
                                 (long long)x->grid_h, (long long)x->grid_w,
                                 (long long)(x->grid_h * x->grid_w), (long long)p->kv_len);
  }
  if (x->query >= p->q_len) {
    return clattn_cli_run_reject("--query", "%lld is outside the %lld queries",
                                 (long long)x->query, (long long)p->q_len);
  }
  return x->image_path == NULL ? CLATTN_CLI_OK
                               : clattn_cli_heatmap_image_load(x->image_path, &x->grey,
                                                               &x->image_h, &x->image_w);
}

/* clattn heatmap --weights W.npy without --q/--k: the weights come from the file. */
static int run_steps_file(run_extras *x) {
  clattn_cli_run_problem problem;
  memset(&problem, 0, sizeof problem);
  float *weights = NULL;
  int64_t d[4];
  int rc = clattn_cli_heatmap_weights_load(x->weights_in, &weights, d);
  if (rc == CLATTN_CLI_OK) {
    problem.batch = d[0], problem.q_heads = d[1], problem.q_len = d[2], problem.kv_len = d[3];
    rc = run_view_check(x, &problem);
  }
  if (rc == CLATTN_CLI_OK) {
    rc = run_weights_write(x, &problem, weights);
  }
  free(weights);
  free(x->grey);
  return rc;
}

static int run_steps(const clattn_cli_run_options *o, run_extras *x) {
  clattn_cli_run_problem problem;
  clattn_cli_run_result result;
  float *weights = NULL;
  int want_weights = x->weights_path != NULL || x->heatmap_path != NULL;
  memset(&result, 0, sizeof result);
  int rc = clattn_cli_run_inputs_load(o, &problem);
  if (rc == CLATTN_CLI_OK) {
    rc = run_view_check(x, &problem);
  }
  if (rc == CLATTN_CLI_OK && !x->heatmap_command) {
    rc = clattn_cli_run_device(o, &problem, &result);
  }
  if (rc == CLATTN_CLI_OK && want_weights) {
    rc = clattn_cli_run_weights(o, &problem, x->mode, &weights);
  }
  if (rc == CLATTN_CLI_OK && !x->heatmap_command) {
    rc = clattn_cli_run_outputs_write(o, &problem, &result);
  }
  if (rc == CLATTN_CLI_OK && want_weights) {
    rc = run_weights_write(x, &problem, weights);
  }
  free(weights);
  free(x->grey);
  clattn_cli_run_result_free(&result);
  clattn_cli_run_problem_free(&problem);
  return rc;
}

/* clattn heatmap --weights W.npy: only the drawing options apply. */
static int run_heatmap_from_file(const run_words *w, const clattn_cli_run_options *o,
                                 run_extras *x, const char *out_path) {
  const char *unused[][2] = {
      {"--layout", w->layout},   {"--causal", w->causal},     {"--window", w->window},
      {"--scale", w->scale},     {"--softcap", w->softcap},   {"--dtype", w->dtype},
      {"--mask", o->mask_path},  {"--kv-lens", o->kv_lens_path}, {"--q-lens", o->q_lens_path},
      {"--mode", w->weights_mode}};
  for (size_t i = 0; i < sizeof unused / sizeof unused[0]; ++i) {
    if (unused[i][1] != NULL) {
      return clattn_cli_run_reject(unused[i][0],
                                   "needs --q and --k (the weights come from --weights)");
    }
  }
  if (out_path == NULL || out_path[0] == '\0') {
    return clattn_cli_run_reject("--out", "this option is required");
  }
  x->weights_in = x->weights_path;
  x->weights_path = NULL; /* an input here, never written */
  x->heatmap_path = out_path;
  clattn_cli_run_options none;
  memset(&none, 0, sizeof none);
  none.out_path = out_path;
  int rc = run_extras_check(w, &none, x);
  if (rc == CLATTN_CLI_OK && strcmp(x->weights_in, out_path) == 0) {
    rc = clattn_cli_run_reject("--out", "is the same file as --weights");
  }
  return rc == CLATTN_CLI_OK ? run_steps_file(x) : rc;
}

int clattn_cli_run_run(int argc, char **argv, const clattn_cli_globals *globals) {
  return clattn_cli_attention_command(argc, argv, globals, 0);
}

int clattn_cli_attention_command(int argc, char **argv, const clattn_cli_globals *globals,
                                 int heatmap) {
  clattn_cli_run_set_command(heatmap ? "heatmap" : "run");
  clattn_cli_run_options o;
  run_words w;
  run_extras x;
  clattn_cli_family_words fw;
  int help = 0;
  const char *out_path = NULL;
  memset(&o, 0, sizeof o);
  memset(&w, 0, sizeof w);
  memset(&x, 0, sizeof x);
  memset(&fw, 0, sizeof fw);
  o.device = globals->device;
  o.family.draws = 1;
  o.family.gaussian = 1;
  x.heatmap_command = heatmap;
  x.mode_option = heatmap ? "--mode" : "--weights-mode";
  x.head_option = heatmap ? "--head" : "--heatmap-head";
  const clattn_cli_option common[] = {
      {"--help", "-h", NULL, &help},
      {"--q", NULL, &o.q_path, NULL},
      {"--k", NULL, &o.k_path, NULL},
      {heatmap ? "--k" : "--v", NULL, heatmap ? &o.k_path : &o.v_path, NULL},
      {"--out", NULL, &out_path, NULL},
      {"--layout", NULL, &w.layout, NULL},
      {"--causal", NULL, &w.causal, NULL},
      {"--window", NULL, &w.window, NULL},
      {"--scale", NULL, &w.scale, NULL},
      {"--softcap", NULL, &w.softcap, NULL},
      {"--mask", NULL, &o.mask_path, NULL},
      {"--kv-lens", NULL, &o.kv_lens_path, NULL},
      {"--q-lens", NULL, &o.q_lens_path, NULL},
      {"--dtype", NULL, &w.dtype, NULL},
      {heatmap ? "--k" : "--lse", NULL, heatmap ? &o.k_path : &o.lse_path, NULL},
      {"--device", NULL, &o.device, NULL},
      {"--weights", NULL, &x.weights_path, NULL},
      {x.mode_option, NULL, &w.weights_mode, NULL},
      {heatmap ? "--k" : "--heatmap", NULL, heatmap ? &o.k_path : &x.heatmap_path, NULL},
      {x.head_option, NULL, &w.heatmap_head, NULL},
      {heatmap ? "--grid" : "--k", NULL, heatmap ? &w.grid : &o.k_path, NULL},
      {heatmap ? "--query" : "--k", NULL, heatmap ? &w.query : &o.k_path, NULL},
      {heatmap ? "--image" : "--k", NULL, heatmap ? &x.image_path : &o.k_path, NULL},
  };
  /* run also takes the classic family's options; the table ends with a NULL name. */
  enum { COMMON = sizeof common / sizeof common[0] };
  clattn_cli_option options[COMMON + CLATTN_CLI_FAMILY_OPTIONS + 1];
  memcpy(options, common, sizeof common);
  int count = heatmap ? 0 : clattn_cli_family_options(&fw, &o.family, options + COMMON);
  memset(&options[COMMON + count], 0, sizeof options[0]);
  const char *command = heatmap ? "heatmap" : "run";
  void (*usage)(FILE *) = heatmap ? clattn_cli_heatmap_usage : clattn_cli_run_usage;
  int done = clattn_cli_args_command(command, argc, argv, options, &help, usage);
  if (done >= 0) {
    return done;
  }
  /* clattn heatmap has no V (K stands in for it: the weights do not depend on V) and its
   * --out is the PNG. */
  o.out_path = out_path;
  if (heatmap && o.q_path == NULL && o.k_path == NULL && x.weights_path != NULL) {
    return run_heatmap_from_file(&w, &o, &x, out_path);
  }
  if (heatmap) {
    o.v_path = o.k_path != NULL ? o.k_path : "";
    if (o.q_path != NULL && o.k_path != NULL && (out_path == NULL || out_path[0] == '\0')) {
      return clattn_cli_run_reject("--out", "this option is required");
    }
    x.heatmap_path = out_path;
    o.out_path = o.k_path; /* satisfies the shared check; nothing is written there */
  }
  int rc = CLATTN_CLI_OK;
  if (!heatmap) {
    const clattn_cli_family_context context = {
        &w.window, w.scale,    w.softcap,      o.k_path,      o.mask_path,
        o.lse_path, o.out_path, x.weights_path, x.heatmap_path};
    rc = clattn_cli_family_check(&fw, &context, &o);
  }
  if (rc == CLATTN_CLI_OK) {
    rc = run_options_check(&w, &o);
  }
  if (heatmap) {
    o.out_path = NULL;
  }
  if (rc == CLATTN_CLI_OK) {
    rc = run_extras_check(&w, &o, &x);
  }
  return rc == CLATTN_CLI_OK ? run_steps(&o, &x) : rc;
}
