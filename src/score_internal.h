/* What the score functions of the classic attention family (score_general.c,
 * score_additive.c, score_location.c) share: validating a call whose q is not the fused
 * kernel's Q, checking weight buffers, scratch buffers, and projecting the rows of a view by
 * a weight matrix with CLBlast into dense scratch. Definitions in score_common.c. */
#ifndef CLATTN_SCORE_INTERNAL_H
#define CLATTN_SCORE_INTERNAL_H

#include "attention_validate.h"
#include "chain.h"
#include "clattn.h"
#include "gemm.h"

/* The caller's q of a score function: (B, Hq, Sq, q_dim), float32. */
typedef struct clattn__score_query {
  const clattn_tensor *q;
  int64_t q_dim;
} clattn__score_query;

/* Validates a score-function call before anything is enqueued. `inner` is the descriptor the
 * fused kernel will see (its head_dim is what the stand-in Q has). Everything but the
 * caller's q goes through clattn__attention_validate, with a zero-filled stand-in buffer of
 * head_dim floats for Q (and for K when k is NULL), all strides 0. Then q itself: float32,
 * (B, Hq, Sq, q_dim) inside its buffer, and no overlap with O or LSE. On success *stand_in
 * is the stand-in buffer (the caller releases it) and *shape the call's shape. */
clattn_status clattn__score_validate(clattn_context *ctx, cl_command_queue queue,
                                     const clattn_attention_desc *inner,
                                     const clattn__score_query *query, const clattn_tensor *k,
                                     const clattn_tensor *v, const clattn_tensor *o,
                                     const clattn_tensor *lse, cl_uint num_wait_events,
                                     const cl_event *wait_events,
                                     clattn__attention_shape *shape, cl_mem *stand_in);

/* Checks that `buffer` holds `floats` float32 values from element `offset`, in 64-bit
 * arithmetic, and that O and LSE do not overlap them. INVALID_ARGUMENT naming `name`. */
clattn_status clattn__score_check_weight(clattn_context *ctx, const char *name, cl_mem buffer,
                                         uint64_t offset, uint64_t floats,
                                         const clattn__attention_shape *shape,
                                         const clattn_tensor *o, const clattn_tensor *lse);

/* A float32 scratch buffer of `floats` values; zero-filled when `zeroed`. */
clattn_status clattn__score_scratch(clattn_context *ctx, const char *name, uint64_t floats,
                                    int zeroed, cl_mem *out);

/* out (B, H, S, n), dense, = alpha * x (B, H, S, k) times W, where W is the row-major (k x n)
 * matrix `w` (w_transposed 0) or the (n x k) matrix whose transpose is used (w_transposed 1).
 * x's rows become one GEMM when its strides make them one matrix, one per batch or per
 * (batch, head) when they do not, and one per row when rows overlap (stride_seq < k). The
 * GEMMs run in `chain`. */
clattn_status clattn__score_project(clattn_context *ctx, clattn__chain *chain,
                                    const clattn_tensor *x, int64_t batch, int64_t heads,
                                    int64_t seq, int64_t k, const clattn__matrix *w,
                                    int w_transposed, int64_t n, float alpha, cl_mem out);

/* A dense (B, H, S, D) float32 view of `buffer` from element 0. */
clattn_tensor clattn__score_dense(cl_mem buffer, int64_t heads, int64_t seq, int64_t dim);

#endif
