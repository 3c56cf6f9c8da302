/* The pieces of one layer call shared by clattn_mha_forward (mha_forward.c) and
 * clattn_mha_step (mha_step.c): scratch buffers, the attention's views, the projections. */
#ifndef CLATTN_MHA_CALL_H
#define CLATTN_MHA_CALL_H

#include "chain.h"
#include "clattn.h"
#include "mha_internal.h"

typedef struct clattn__mha_call {
  int64_t batch, seq, kv_len; /* B, S (query tokens), Skv */
  int cross;                  /* K and V come from a memory M */
  cl_mem qkv;  /* per token: Q | K | V (self) or Q only (cross), float32 rows */
  cl_mem kv;   /* cross-attention: per memory token K | V; else NULL */
  cl_mem attn; /* attention output, per token the heads side by side (BSHD) */
  cl_mem probs; /* per-head weights before averaging, or NULL */
  clattn_tensor q, k, v, o; /* views of the buffers above */
} clattn__mha_call;

/* Makes the scratch buffers and views of a call with `seq` query tokens and `kv_len` keys
 * (cross: K and V from a memory; `probs`: room for per-head weights). Release with
 * clattn__mha_call_release, which OpenCL allows right after enqueueing. */
clattn_status clattn__mha_call_create(clattn_mha *m, int64_t batch, int64_t seq, int64_t kv_len,
                                      int cross, int probs, clattn__mha_call *c);
void clattn__mha_call_release(clattn__mha_call *c);

/* Projects X (B, 1, S, E) into the call's Q, K and V (self-attention) or Q (cross), then adds
 * the biases and rotates Q and K (RoPE) in one pass; positions as clattn__bias_rope. */
clattn_status clattn__mha_project_input(clattn_mha *m, clattn__chain *chain,
                                        const clattn__mha_call *c, const clattn_tensor *x,
                                        int64_t position_offset, cl_mem positions);
/* Projects a cross-attention memory M (B, 1, Skv, kv_dim) into the call's K and V. */
clattn_status clattn__mha_project_memory(clattn_mha *m, clattn__chain *chain,
                                         const clattn__mha_call *c, const clattn_tensor *memory,
                                         int64_t position_offset);
/* Y = attention output * W_out^T + b_out. */
clattn_status clattn__mha_project_output(clattn_mha *m, clattn__chain *chain,
                                         const clattn__mha_call *c, const clattn_tensor *y);

#endif
