/* Luong local attention (clattn_attention_local, cl/local.cl): the local-p projection
 * W_p h_t that predicts each query's window centre, shared by local.c's validation and
 * enqueue. */
#ifndef CLATTN_LOCAL_H
#define CLATTN_LOCAL_H

#include <stdint.h>

#include "attention_validate.h"
#include "chain.h"
#include "clattn.h"

/* Z = W_p h_t for every (b, h, t), p_dim floats per row, in a scratch buffer; row (b, h, t)
 * starts at element b * stride_batch + h * stride_head + t * stride_seq. */
typedef struct clattn__local_projection {
  cl_mem z; /* owned; released by clattn__local_projection_release */
  int64_t stride_batch, stride_head, stride_seq;
  int merged; /* 1: q's rows form one matrix of B * Hq * Sq rows, ld apart */
  int64_t ld; /* q's row stride as a GEMM operand */
} clattn__local_projection;

/* Checks what the projection needs of q beyond clattn__attention_validate: float32 storage,
 * rows that do not overlap, and a scratch buffer the device can allocate. */
clattn_status clattn__local_projection_check(clattn_context *ctx,
                                             const clattn__attention_shape *shape,
                                             const clattn_tensor *q, int64_t p_dim);

/* Allocates the scratch and chooses its layout (no command is enqueued). */
clattn_status clattn__local_projection_create(clattn_context *ctx,
                                              const clattn__attention_shape *shape,
                                              const clattn_tensor *q, int64_t p_dim,
                                              clattn__local_projection *out);

/* Enqueues the CLBlast GEMMs Z = Q W_p^T on the chain: one over every row when q's rows form
 * one matrix (BHSD or BSHD, gaps between rows allowed), else one per (b, h). */
clattn_status clattn__local_projection_enqueue(clattn_context *ctx, clattn__chain *chain,
                                               const clattn__attention_shape *shape,
                                               const clattn_tensor *q, cl_mem w_p,
                                               int64_t p_dim,
                                               const clattn__local_projection *proj);

void clattn__local_projection_release(clattn__local_projection *proj);

#endif
