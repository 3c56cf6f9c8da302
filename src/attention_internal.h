/* The attention path behind the public calls: clattn_attention_forward validates and calls
 * clattn__attention_enqueue; the KV cache calls it with its own, already known-good, K/V
 * layout (possibly paged); the decode path is chosen inside. */
#ifndef CLATTN_ATTENTION_INTERNAL_H
#define CLATTN_ATTENTION_INTERNAL_H

#include "attention_validate.h"
#include "clattn.h"
#include "kernel_args.h"

/* Where K and V rows live when they are paged: K and V are then views of a block pool
 * (stride_batch = stride between blocks), and block_table (int32, batch x table_stride)
 * maps each sequence's logical block key / block_size to a pool block. */
typedef struct clattn__kv_pages {
  cl_mem block_table;
  int64_t table_stride; /* entries per sequence */
  int block_size;       /* tokens per block */
} clattn__kv_pages;

/* The argument block every attention kernel (fused, decode, weights) takes in this order
 * after its sizes: scale, softcap, causal, bottom_right, window_left, window_right, kv_lens,
 * q_lens, mask_kind, mask, m_off, m_sb, m_sh, m_sq. */
void clattn__attention_rule_args(clattn__args *a, const clattn_attention_desc *desc,
                                 const clattn__attention_shape *shape);
/* block_table, table_stride, block_size (NULL, 0, 1 when K/V are not paged). */
void clattn__attention_page_args(clattn__args *a, const clattn__kv_pages *pages);

/* Enqueues attention for a validated call. tensors = {q, k, v, o, lse (may be NULL)};
 * pages NULL for contiguous K/V. */
clattn_status clattn__attention_enqueue(clattn_context *ctx, cl_command_queue queue,
                                        const clattn_attention_desc *desc,
                                        const clattn__attention_shape *shape,
                                        const clattn_tensor *const tensors[5],
                                        const clattn__kv_pages *pages, cl_uint num_wait_events,
                                        const cl_event *wait_events, cl_event *event);

#endif
