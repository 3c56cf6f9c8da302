/*
 * clattn run's classic attention family: --score dot|scaled|general|additive|location,
 * --local m|p and --hard sample|argmax. The options are parsed and checked against each other
 * and against the rest of the command line (run_family_args.c), their extra input files are
 * read and checked against Q, K and V (run_family_inputs.c), and the device call is picked
 * among clattn_attention_forward and the family's functions (run_family.c).
 */
#ifndef CLATTN_CLI_RUN_FAMILY_H
#define CLATTN_CLI_RUN_FAMILY_H

#include "run.h"

/* The family's raw words, before they are checked; paths go straight into the options. */
typedef struct clattn_cli_family_words {
  const char *score, *local, *hard, *seed, *draws, *offset;
  int no_gaussian;
} clattn_cli_family_words;

/* The family's command-line options, for the option table: writes at most
 * CLATTN_CLI_FAMILY_OPTIONS entries to `out` and returns how many. */
enum { CLATTN_CLI_FAMILY_OPTIONS = 16 };
int clattn_cli_family_options(clattn_cli_family_words *words, clattn_cli_run_family *family,
                              clattn_cli_option *out);

/* What else the command line said, for the conflicts the family checks. */
typedef struct clattn_cli_family_context {
  const char **window; /* --window's word: D with --local (then set to NULL), else untouched */
  const char *scale, *softcap, *k_path, *mask_path, *lse_path, *out_path;
  const char *weights_path, *heatmap_path;
} clattn_cli_family_context;

/* Parses and checks the family's words into o->family (and, for --score dot, o->scale);
 * prints "clattn run: --flag: reason" for the first problem. Run before the rest of the
 * command line is checked. CLATTN_CLI_OK or CLATTN_CLI_USAGE. */
int clattn_cli_family_check(const clattn_cli_family_words *words,
                            const clattn_cli_family_context *context,
                            clattn_cli_run_options *o);

/* Reads the family's input files into the problem, whose Q, K and V sizes are known, each
 * checked against them (a message naming the flag and both shapes). CLATTN_CLI_OK,
 * CLATTN_CLI_USAGE or CLATTN_CLI_FAILURE. */
int clattn_cli_family_inputs_load(const clattn_cli_run_options *o, clattn_cli_run_problem *p);

/* The device tensors of one run. lse NULL: not asked for. */
typedef struct clattn_cli_family_call {
  const clattn_attention_desc *desc;
  const clattn_tensor *q, *k, *v, *o, *lse;
} clattn_cli_family_call;

/* Runs the chosen function on the context's queue, with the family's extra buffers, and
 * reads the indices back into result->indices when asked for. Prints any failure. */
int clattn_cli_family_run(clattn_context *ctx, const clattn_cli_run_options *o,
                          const clattn_cli_run_problem *p, const clattn_cli_family_call *call,
                          clattn_cli_run_result *result);

#endif /* CLATTN_CLI_RUN_FAMILY_H */
