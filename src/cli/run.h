/*
 * clattn run, split in three steps: the command line (cmd_run.c), the input arrays
 * (run_inputs.c) and the device (run_device.c). Every check that can be made on the host is
 * made before a device is opened, so that a wrong command line never costs a kernel build.
 */
#ifndef CLATTN_CLI_RUN_H
#define CLATTN_CLI_RUN_H

#include <stddef.h>
#include <stdint.h>

#include "cli.h"

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
  clattn_cli_host_buffer q, k, v;
  clattn_mask_type mask_type;
  clattn_cli_host_buffer mask;
  int64_t mask_stride_batch, mask_stride_head, mask_stride_query;
  clattn_cli_host_buffer kv_lens, q_lens; /* data NULL: not given */
} clattn_cli_run_problem;

/* The outputs, as float32 host arrays in the chosen layout. */
typedef struct clattn_cli_run_result {
  float *o;   /* (B, Hq, Sq, Dv) or (B, Sq, Hq, Dv) */
  float *lse; /* (B, Hq, Sq) or (B, Sq, Hq); NULL when not asked for */
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

#endif /* CLATTN_CLI_RUN_H */
