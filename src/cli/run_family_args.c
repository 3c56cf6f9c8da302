/*
 * clattn run's classic attention family on the command line: --score, --local and --hard
 * with their files and numbers, checked against each other and against the rest of the
 * command line before any file is read. Every conflict is one line naming the flag.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run_family.h"

int clattn_cli_family_options(clattn_cli_family_words *w, clattn_cli_run_family *f,
                              clattn_cli_option *out) {
  const clattn_cli_option options[CLATTN_CLI_FAMILY_OPTIONS] = {
      {"--score", NULL, &w->score, NULL},          {"--w", NULL, &f->w_path, NULL},
      {"--w1", NULL, &f->w1_path, NULL},           {"--w2", NULL, &f->w2_path, NULL},
      {"--va", NULL, &f->va_path, NULL},           {"--wa", NULL, &f->wa_path, NULL},
      {"--local", NULL, &w->local, NULL},          {"--no-gaussian", NULL, NULL, &w->no_gaussian},
      {"--wp", NULL, &f->wp_path, NULL},           {"--vp", NULL, &f->vp_path, NULL},
      {"--positions", NULL, &f->positions_path, NULL}, {"--hard", NULL, &w->hard, NULL},
      {"--seed", NULL, &w->seed, NULL},            {"--draws", NULL, &w->draws, NULL},
      {"--offset", NULL, &w->offset, NULL},        {"--indices", NULL, &f->indices_path, NULL},
  };
  memcpy(out, options, sizeof options);
  return CLATTN_CLI_FAMILY_OPTIONS;
}

/* Index of `value` among `count` choices, or -1 after printing them. */
static int family_choice(const char *argument, const char *value, const char *const *choices,
                         int count) {
  char expected[160] = "";
  for (int i = 0; i < count; ++i) {
    if (strcmp(value, choices[i]) == 0) {
      return i;
    }
    strcat(expected, i == 0 ? "" : i + 1 == count ? " or " : ", ");
    strcat(expected, choices[i]);
  }
  clattn_cli_run_reject(argument, "expected %s, got '%s'", expected, value);
  return -1;
}

/* An unsigned decimal integer in 0 .. max (no sign, no spaces). */
static int family_integer(const char *argument, const char *value, unsigned long long min,
                          unsigned long long max, unsigned long long *out) {
  char *end = NULL;
  errno = 0;
  unsigned long long x = value[0] >= '0' && value[0] <= '9' ? strtoull(value, &end, 10) : 0;
  if (end == NULL || *end != '\0' || errno != 0 || x < min || x > max) {
    return clattn_cli_run_reject(argument, "expected an integer in %llu .. %llu, got '%s'", min,
                                 max, value);
  }
  *out = x;
  return CLATTN_CLI_OK;
}

/* A flag given without the mode it belongs to. */
static int family_orphans(const char *const (*flags)[2], int count, const char *needs) {
  for (int i = 0; i < count; ++i) {
    if (flags[i][1] != NULL) {
      return clattn_cli_run_reject(flags[i][0], "needs %s", needs);
    }
  }
  return CLATTN_CLI_OK;
}

/* --score and its weight files. */
static int family_score(const clattn_cli_family_words *w, const clattn_cli_family_context *c,
                        clattn_cli_run_options *o) {
  static const char *const scores[5] = {"scaled", "dot", "general", "additive", "location"};
  clattn_cli_run_family *f = &o->family;
  int score = w->score != NULL ? family_choice("--score", w->score, scores, 5) : 0;
  if (score < 0) {
    return CLATTN_CLI_USAGE;
  }
  f->score = (clattn_cli_score)score;
  /* Each weight file with the score it belongs to. */
  const struct {
    const char *flag, *path;
    clattn_cli_score score;
    const char *what;
  } files[5] = {{"--w", f->w_path, CLATTN_CLI_SCORE_GENERAL, "W, q_dim x D"},
                {"--w1", f->w1_path, CLATTN_CLI_SCORE_ADDITIVE, "W1, A x q_dim"},
                {"--w2", f->w2_path, CLATTN_CLI_SCORE_ADDITIVE, "W2, A x D"},
                {"--va", f->va_path, CLATTN_CLI_SCORE_ADDITIVE, "v, A"},
                {"--wa", f->wa_path, CLATTN_CLI_SCORE_LOCATION, "W_a, Skv x D"}};
  for (int i = 0; i < 5; ++i) {
    if (files[i].path != NULL && files[i].score != f->score) {
      return clattn_cli_run_reject(files[i].flag, "needs --score %s", scores[files[i].score]);
    }
  }
  for (int i = 0; i < 5; ++i) {
    if (files[i].path == NULL && files[i].score == f->score) {
      return clattn_cli_run_reject(files[i].flag, "is required with --score %s (%s)",
                                   scores[f->score], files[i].what);
    }
  }
  if (f->score == CLATTN_CLI_SCORE_DOT) {
    if (c->scale != NULL) {
      return clattn_cli_run_reject("--scale", "conflicts with --score dot (whose scale is 1)");
    }
    o->scale = 1.0f;
  }
  int no_softcap = f->score == CLATTN_CLI_SCORE_ADDITIVE || f->score == CLATTN_CLI_SCORE_LOCATION;
  if (no_softcap && c->softcap != NULL) {
    return clattn_cli_run_reject("--softcap", "cannot be used with --score %s", scores[f->score]);
  }
  if (f->score == CLATTN_CLI_SCORE_LOCATION && c->mask_path != NULL) {
    return clattn_cli_run_reject("--mask", "cannot be used with --score location (its scores "
                                           "take the mask's place in the kernel)");
  }
  if (f->score == CLATTN_CLI_SCORE_LOCATION && c->k_path != NULL) {
    return clattn_cli_run_reject("--k", "--score location scores without keys; leave --k out "
                                        "(V gives Skv)");
  }
  return CLATTN_CLI_OK;
}

/* --local, --window D, --no-gaussian and p_t's files. */
static int family_local(const clattn_cli_family_words *w, const clattn_cli_family_context *c,
                        clattn_cli_run_family *f) {
  static const char *const modes[2] = {"m", "p"};
  const char *const p_flags[3][2] = {
      {"--wp", f->wp_path}, {"--vp", f->vp_path}, {"--positions", f->positions_path}};
  f->gaussian = 1;
  f->local_window = 10;
  if (w->local == NULL) {
    const char *const flags[1][2] = {{"--no-gaussian", w->no_gaussian ? "" : NULL}};
    int rc = family_orphans(flags, 1, "--local");
    return rc == CLATTN_CLI_OK ? family_orphans(p_flags, 3, "--local p") : rc;
  }
  int mode = family_choice("--local", w->local, modes, 2);
  if (mode < 0) {
    return CLATTN_CLI_USAGE;
  }
  f->local = 1 + mode;
  f->gaussian = !w->no_gaussian;
  if (mode == CLATTN_LOCAL_M && family_orphans(p_flags, 3, "--local p") != CLATTN_CLI_OK) {
    return CLATTN_CLI_USAGE;
  }
  if (mode == CLATTN_LOCAL_P) {
    int weights = f->wp_path != NULL || f->vp_path != NULL;
    if (f->positions_path != NULL && weights) {
      return clattn_cli_run_reject("--positions", "cannot be combined with --wp and --vp (give "
                                                  "p_t one way)");
    }
    if (f->positions_path == NULL && !weights) {
      return clattn_cli_run_reject("--local", "p needs --positions P.npy, or --wp WP.npy and "
                                              "--vp VP.npy");
    }
    if (weights && (f->wp_path == NULL || f->vp_path == NULL)) {
      return clattn_cli_run_reject(f->wp_path == NULL ? "--wp" : "--vp", "is required with %s",
                                   f->wp_path == NULL ? "--vp" : "--wp");
    }
  }
  if (*c->window != NULL) {
    const char *v = *c->window;
    char *end = NULL;
    errno = 0;
    unsigned long long d = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
    if (end == NULL || *end != '\0' || errno != 0 || d > 2147483647ull) {
      return clattn_cli_run_reject("--window", "with --local expected D, the local window's "
                                               "half-width (0 .. 2147483647), got '%s'", v);
    }
    f->local_window = (int64_t)d;
    *c->window = NULL; /* not the LEFT,RIGHT window of the other paths */
  }
  return CLATTN_CLI_OK;
}

/* --hard and its numbers, and --indices. */
static int family_hard(const clattn_cli_family_words *w, const clattn_cli_family_context *c,
                       clattn_cli_run_family *f) {
  static const char *const modes[2] = {"sample", "argmax"};
  const char *const flags[4][2] = {
      {"--seed", w->seed}, {"--draws", w->draws}, {"--offset", w->offset},
      {"--indices", f->indices_path}};
  f->draws = 1;
  if (w->hard == NULL) {
    return family_orphans(flags, 4, "--hard");
  }
  int mode = family_choice("--hard", w->hard, modes, 2);
  if (mode < 0) {
    return CLATTN_CLI_USAGE;
  }
  f->hard = 1 + mode;
  unsigned long long x = 0;
  if (w->seed != NULL && family_integer("--seed", w->seed, 0, UINT64_MAX, &x) != CLATTN_CLI_OK) {
    return CLATTN_CLI_USAGE;
  }
  f->seed = x;
  if (w->offset != NULL &&
      family_integer("--offset", w->offset, 0, UINT32_MAX, &x) != CLATTN_CLI_OK) {
    return CLATTN_CLI_USAGE;
  }
  f->offset = (uint32_t)(w->offset != NULL ? x : 0);
  if (w->draws != NULL &&
      family_integer("--draws", w->draws, 1, 2147483647ull, &x) != CLATTN_CLI_OK) {
    return CLATTN_CLI_USAGE;
  }
  f->draws = w->draws != NULL ? (int64_t)x : 1;
  if (mode == CLATTN_HARD_ARGMAX) {
    if (w->seed != NULL || w->offset != NULL) {
      return clattn_cli_run_reject(w->seed != NULL ? "--seed" : "--offset",
                                   "has no effect with --hard argmax (it draws nothing)");
    }
    if (f->draws != 1) {
      return clattn_cli_run_reject("--draws", "must be 1 with --hard argmax");
    }
  }
  if (c->lse_path != NULL) {
    return clattn_cli_run_reject("--lse", "--hard writes no log-sum-exp");
  }
  const char *const others[3][2] = {
      {"--out", c->out_path}, {"--weights", c->weights_path}, {"--heatmap", c->heatmap_path}};
  for (int i = 0; i < 3 && f->indices_path != NULL; ++i) {
    if (others[i][1] != NULL && strcmp(f->indices_path, others[i][1]) == 0) {
      return clattn_cli_run_reject("--indices", "is the same file as %s", others[i][0]);
    }
  }
  return CLATTN_CLI_OK;
}

int clattn_cli_family_check(const clattn_cli_family_words *w,
                            const clattn_cli_family_context *c, clattn_cli_run_options *o) {
  clattn_cli_run_family *f = &o->family;
  int rc = family_score(w, c, o);
  if (rc == CLATTN_CLI_OK) {
    rc = family_local(w, c, f);
  }
  if (rc == CLATTN_CLI_OK) {
    rc = family_hard(w, c, f);
  }
  if (rc != CLATTN_CLI_OK) {
    return rc;
  }
  if (f->local && f->hard) {
    return clattn_cli_run_reject("--hard", "cannot be combined with --local");
  }
  int projected = f->score >= CLATTN_CLI_SCORE_GENERAL;
  if (projected && (f->local || f->hard)) {
    return clattn_cli_run_reject("--score", "%s cannot be combined with %s (it takes the "
                                            "scaled-dot score: --score dot or scaled)",
                                 w->score, f->local ? "--local" : "--hard");
  }
  if ((projected || f->local) && (c->weights_path != NULL || c->heatmap_path != NULL)) {
    return clattn_cli_run_reject(c->weights_path != NULL ? "--weights" : "--heatmap",
                                 "%s %s gives no attention weights to write (the scaled-dot "
                                 "score and --hard do)",
                                 projected ? "--score" : "--local",
                                 projected ? w->score : w->local);
  }
  return CLATTN_CLI_OK;
}
