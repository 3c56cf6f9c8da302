/* The workflow the fault-injection test walks: every clattn call an application makes, in
 * order, on small shapes — context, kernels, fused and split-KV attention, attention weights,
 * contiguous and paged KV caches, the attention layer (create, weights, forward, two decode
 * steps) and RoPE. Inputs are the test's own buffers, made once; each run gets a fresh clattn
 * context on the test's cl_context (so CLBlast's programs, which it keeps per cl_context,
 * stay compiled) and fresh clattn objects, all destroyed at the end of the run. */
#ifndef CLATTN_TEST_FAULT_WORKFLOW_H
#define CLATTN_TEST_FAULT_WORKFLOW_H

#include <clattn.h>
#include <stddef.h>

#include "mha_test_util.h"

#define FW_MAX_OUTPUTS 16
#define FW_CANARY 16 /* floats after every output view */

/* An output buffer of the caller's: its fill before each run (NaN in the view, canaries
 * after it; for an in-place call, its input) and what the clean run left in it. */
typedef struct fw_output {
  const char *name;
  cl_mem buffer;
  size_t floats;
  float *initial, *golden, *seen;
} fw_output;

typedef struct fw fw;
/* One workflow call. `event` is NULL for calls that give none. */
typedef struct fw_step {
  const char *name;
  clattn_status (*run)(fw *w, cl_event *event);
  int outputs[3]; /* indices into fw.out written by this step, -1 terminated */
  /* 0: after a failure the outputs are untouched or complete (every call today). 1: their
   * views may be partly written, only what lies outside them must be untouched. */
  int partial;
} fw_step;

struct fw {
  cl_context cl;
  cl_device_id device;
  cl_command_queue queue;
  clattn_context_options options; /* of every run's context */
  clattn_context *ctx;            /* this run's */
  clattn_kv_cache *cache, *paged, *step_cache;
  clattn_mha *mha;
  mt_layer layer;
  cl_mem in[16]; /* inputs, see fault_workflow.c */
  fw_output out[FW_MAX_OUTPUTS];
  int out_count;
};

extern const fw_step FW_STEPS[];
extern const int FW_STEP_COUNT;

/* Makes the inputs and outputs on the test's context and queue. */
void fw_init(fw *w, cl_context cl, cl_device_id device, cl_command_queue queue);
void fw_free(fw *w);
/* Writes every output's initial fill (blocking). */
void fw_reset_outputs(fw *w);
/* Reads every output into `seen` (after clFinish). */
void fw_read_outputs(fw *w);
/* Destroys this run's clattn objects and context (after clFinish). */
void fw_end_run(fw *w);

#endif
