/*
 * clattn run on the device, the call itself: clattn_attention_forward for the scaled and dot
 * scores, else the classic family's function for --score general|additive|location, --local
 * or --hard, with buffers for its extra inputs (weights, positions) and hard attention's
 * indices, which are read back here.
 */
#include <stdlib.h>
#include <string.h>

#include "run_family.h"

/* The family's device buffers; NULL when not used. */
enum { EXTRA_W, EXTRA_W1, EXTRA_W2, EXTRA_VA, EXTRA_WA, EXTRA_WP, EXTRA_VP, EXTRA_POS,
       EXTRA_INDICES, EXTRA_COUNT };

static int family_buffers(clattn_context *ctx, const clattn_cli_run_options *o,
                           const clattn_cli_run_problem *p, cl_mem *m) {
  const struct {
    const char *what;
    const clattn_cli_host_buffer *host;
  } inputs[EXTRA_INDICES] = {{"--w", &p->w},   {"--w1", &p->w1}, {"--w2", &p->w2},
                             {"--va", &p->va}, {"--wa", &p->wa}, {"--wp", &p->wp},
                             {"--vp", &p->vp}, {"--positions", &p->positions}};
  int rc = CLATTN_CLI_OK;
  for (int i = 0; i < EXTRA_INDICES && rc == CLATTN_CLI_OK; ++i) {
    if (inputs[i].host->data != NULL) {
      rc = clattn_cli_run_buffer_create(ctx, inputs[i].what, inputs[i].host->data,
                                        inputs[i].host->bytes, &m[i]);
    }
  }
  if (rc == CLATTN_CLI_OK && o->family.indices_path != NULL) {
    size_t entries = (size_t)(p->batch * p->q_heads * p->q_len * o->family.draws);
    rc = clattn_cli_run_buffer_create(ctx, "--indices", NULL, entries * sizeof(int32_t),
                                      &m[EXTRA_INDICES]);
  }
  return rc;
}

static clattn_status family_enqueue(clattn_context *ctx, const clattn_cli_run_options *o,
                                    const clattn_cli_run_problem *p,
                                    const clattn_cli_family_call *c, cl_mem const *m) {
  const clattn_cli_run_family *f = &o->family;
  if (f->hard) {
    const clattn_hard_desc hard = {(clattn_hard_mode)(f->hard - 1), f->draws, f->seed, f->offset};
    return clattn_attention_hard(ctx, NULL, c->desc, &hard, c->q, c->k, c->v, c->o,
                                 m[EXTRA_INDICES], 0, NULL, NULL);
  }
  if (f->local) {
    clattn_local_desc local;
    clattn_local_desc_init(&local);
    local.mode = (clattn_local_mode)(f->local - 1);
    local.window = f->local_window;
    local.gaussian = f->gaussian;
    local.positions = m[EXTRA_POS];
    local.w_p = m[EXTRA_WP];
    local.v_p = m[EXTRA_VP];
    local.p_dim = p->p_dim;
    return clattn_attention_local(ctx, NULL, c->desc, &local, c->q, c->k, c->v, c->o, c->lse, 0,
                                  NULL, NULL);
  }
  switch (f->score) {
  case CLATTN_CLI_SCORE_GENERAL:
    return clattn_attention_general(ctx, NULL, c->desc, c->q, p->q_dim, m[EXTRA_W], 0, c->k,
                                    c->v, c->o, c->lse, 0, NULL, NULL);
  case CLATTN_CLI_SCORE_ADDITIVE: {
    const clattn_additive_weights w = {m[EXTRA_W1], m[EXTRA_W2], m[EXTRA_VA], p->attn_dim,
                                       p->q_dim};
    return clattn_attention_additive(ctx, NULL, c->desc, &w, c->q, c->k, c->v, c->o, c->lse, 0,
                                     NULL, NULL);
  }
  case CLATTN_CLI_SCORE_LOCATION:
    return clattn_attention_location(ctx, NULL, c->desc, c->q, m[EXTRA_WA], 0, c->v, c->o,
                                     c->lse, 0, NULL, NULL);
  default: /* scaled, and dot through its scale of 1 */
    return clattn_attention_forward(ctx, NULL, c->desc, c->q, c->k, c->v, c->o, c->lse, 0, NULL,
                                    NULL);
  }
}

static int family_indices_read(clattn_context *ctx, const clattn_cli_run_options *o,
                               const clattn_cli_run_problem *p, cl_mem indices,
                               clattn_cli_run_result *result) {
  size_t bytes = (size_t)(p->batch * p->q_heads * p->q_len * o->family.draws) * sizeof(int32_t);
  if ((result->indices = malloc(bytes)) == NULL) {
    return clattn_cli_out_of_memory();
  }
  cl_int err = clEnqueueReadBuffer(clattn_context_queue(ctx), indices, CL_TRUE, 0, bytes,
                                   result->indices, 0, NULL, NULL);
  if (err != CL_SUCCESS) {
    fprintf(stderr, "clattn: %s: clEnqueueReadBuffer failed: %s\n",
            clattn_status_name(CLATTN_OPENCL_ERROR), clattn_cl_error_name(err));
    return CLATTN_CLI_FAILURE;
  }
  return CLATTN_CLI_OK;
}

int clattn_cli_family_run(clattn_context *ctx, const clattn_cli_run_options *o,
                          const clattn_cli_run_problem *p, const clattn_cli_family_call *call,
                          clattn_cli_run_result *result) {
  cl_mem m[EXTRA_COUNT];
  memset(m, 0, sizeof m);
  int rc = family_buffers(ctx, o, p, m);
  if (rc == CLATTN_CLI_OK) {
    clattn_status status = family_enqueue(ctx, o, p, call, m);
    if (status != CLATTN_SUCCESS) {
      rc = clattn_cli_failure_print(ctx, status);
    }
  }
  if (rc == CLATTN_CLI_OK && m[EXTRA_INDICES] != NULL) {
    rc = family_indices_read(ctx, o, p, m[EXTRA_INDICES], result);
  }
  /* The commands keep what they use until they finish; finish them before releasing. */
  clFinish(clattn_context_queue(ctx));
  for (int i = 0; i < EXTRA_COUNT; ++i) {
    if (m[i] != NULL) {
      clReleaseMemObject(m[i]);
    }
  }
  return rc;
}
