/*
 * clattn run, split in three steps: the command line (cmd_run.c, run_usage.c), the input
 * arrays (run_inputs.c) and the device (run_device.c), then the outputs (run_outputs.c); the
 * classic attention family's options have their own files (run_family.h). Every check that can be made on the host is
 * made before a device is opened, so that a wrong command line never costs a kernel build.
 */
#ifndef CLATTN_CLI_RUN_H
#define CLATTN_CLI_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "npy.h"

/* The score function (--score). */
typedef enum clattn_cli_score {
  CLATTN_CLI_SCORE_SCALED = 0, /* q . k * scale (default 1/sqrt(D)): clattn_attention_forward */
  CLATTN_CLI_SCORE_DOT,        /* q . k: the same with scale 1 */
  CLATTN_CLI_SCORE_GENERAL,    /* q^T W k: clattn_attention_general (--w) */
  CLATTN_CLI_SCORE_ADDITIVE,   /* v^T tanh(W1 q + W2 k): clattn_attention_additive */
  CLATTN_CLI_SCORE_LOCATION    /* (W_a q)_j, no keys: clattn_attention_location (--wa) */
} clattn_cli_score;

/* The classic attention family's options (run_family_args.c): the score function, local
 * attention (--local) and hard attention (--hard). Paths are NULL when not given. */
typedef struct clattn_cli_run_family {
  clattn_cli_score score;
  const char *w_path, *w1_path, *w2_path, *va_path, *wa_path;
  int local;                /* 0: off, else 1 + clattn_local_mode */
  int64_t local_window;     /* --window D with --local (default 10) */
  int gaussian;             /* 0 with --no-gaussian */
  const char *wp_path, *vp_path, *positions_path;
  int hard;                 /* 0: off, else 1 + clattn_hard_mode */
  uint64_t seed;
  uint32_t offset;
  int64_t draws;            /* 1 unless --draws */
  const char *indices_path; /* --indices: the drawn keys, int32 (B, Hq, Sq, draws) */
} clattn_cli_run_family;

/* What the command line asks for, parsed and checked. */
typedef struct clattn_cli_run_options {
  const char *q_path, *k_path, *v_path, *out_path;
  const char *mask_path, *kv_lens_path, *q_lens_path, *lse_path;
  const char *device;
  clattn_layout layout;
  clattn_dtype dtype;
  int causal;
  clattn_alignment alignment;
  int64_t window_left, window_right;
  float scale, softcap; /* 0: the library's default / off */
  clattn_cli_run_family family;
} clattn_cli_run_options;

/* One host array ready for the device: malloc'd bytes. */
typedef struct clattn_cli_host_buffer {
  void *data;
  size_t bytes;
} clattn_cli_host_buffer;

/* The problem read from the files, in the storage types the device will use: Q, K and V in
 * the chosen layout and dtype, the mask expanded along the key dimension only, the lengths
 * as int32. */
typedef struct clattn_cli_run_problem {
  int64_t batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_head_dim;
  int64_t q_dim;               /* Q's features: head_dim except with --score general/additive */
  clattn_dtype q_dtype, k_dtype; /* float32 where the library projects them (CLBlast) */
  clattn_cli_host_buffer q, k, v; /* k: data NULL with --score location */
  clattn_mask_type mask_type;
  clattn_cli_host_buffer mask;
  int64_t mask_stride_batch, mask_stride_head, mask_stride_query;
  clattn_cli_host_buffer kv_lens, q_lens; /* data NULL: not given */
  /* The family's float32 inputs (data NULL: not given) and their free sizes. */
  clattn_cli_host_buffer w, w1, w2, va, wa, wp, vp, positions;
  int64_t attn_dim, p_dim;
} clattn_cli_run_problem;

/* The outputs, as float32 host arrays in the chosen layout. */
typedef struct clattn_cli_run_result {
  float *o;   /* (B, Hq, Sq * draws, Dv) or (B, Sq * draws, Hq, Dv) */
  float *lse; /* (B, Hq, Sq) or (B, Sq, Hq); NULL when not asked for */
  int32_t *indices; /* --hard --indices: (B, Hq, Sq, draws); NULL when not asked for */
} clattn_cli_run_result;

/* Prints "clattn run: <argument>: <message>" to stderr and returns CLATTN_CLI_USAGE. */
/* The command ('run' or 'heatmap') that messages name; 'run' until set. */
void clattn_cli_run_set_command(const char *name);
const char *clattn_cli_run_command(void);

int clattn_cli_run_reject(const char *argument, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Reads the .npy file `path` for `argument`; an unreadable or malformed file is a
 * command-line error naming the argument (printed). */
int clattn_cli_run_read(const char *argument, const char *path, clattn_npy_array *a);

/* Converts a float32 or float16 array to `dtype` storage, taking the array's data over when
 * the types agree. CLATTN_CLI_OK or CLATTN_CLI_FAILURE (out of memory, printed). */
int clattn_cli_run_to_storage(clattn_npy_array *a, clattn_dtype dtype,
                              clattn_cli_host_buffer *out);

/* Reads every input file and checks shapes and types against each other. Returns
 * CLATTN_CLI_OK, CLATTN_CLI_USAGE (bad input, message printed) or CLATTN_CLI_FAILURE (out of
 * memory). The problem is filled even on failure as far as it got; free it in any case. */
int clattn_cli_run_inputs_load(const clattn_cli_run_options *options,
                               clattn_cli_run_problem *problem);
void clattn_cli_run_problem_free(clattn_cli_run_problem *problem);

/* Runs the problem on the device. CLATTN_CLI_OK, or CLATTN_CLI_FAILURE with the status name
 * and clattn_last_error printed. The result's arrays are malloc'd. */
int clattn_cli_run_device(const clattn_cli_run_options *options,
                          const clattn_cli_run_problem *problem, clattn_cli_run_result *result);
void clattn_cli_run_result_free(clattn_cli_run_result *result);

/* Creates a device buffer for `what`, initialised from `host` (read-only) when it is not
 * NULL, else write-only. Prints the failure: CLATTN_CLI_OK or CLATTN_CLI_FAILURE. */
int clattn_cli_run_buffer_create(clattn_context *ctx, const char *what, const void *host,
                                 size_t bytes, cl_mem *out);

/* ---- writing the outputs (run_outputs.c) ----------------------------------------------- */

/* "<path>.clattn-tmp", malloc'd (NULL: out of memory). */
char *clattn_cli_run_temp_name(const char *path);
/* Writes one array (float32 or int32) to its temporary name; prints the failure naming
 * `argument`. CLATTN_CLI_OK or CLATTN_CLI_FAILURE. */
int clattn_cli_run_write_temp(const char *argument, const char *temp, clattn_npy_dtype dtype,
                              int rank, const int64_t *shape, const void *data);
/* Renames the temporary file into place (removed on failure). */
int clattn_cli_run_rename(const char *argument, const char *temp, const char *path);
/* Writes O, LSE and the hard-attention indices: all complete under temporary names first,
 * then renamed into place, then "wrote ..." on stdout. */
int clattn_cli_run_outputs_write(const clattn_cli_run_options *options,
                                 const clattn_cli_run_problem *problem,
                                 const clattn_cli_run_result *result);

#endif /* CLATTN_CLI_RUN_H */
