/* The projections of the attention layer and the buffers of one call (see mha_call.h). */
#include <string.h>

#include "context.h"
#include "errors.h"
#include "gemm.h"
#include "kernel_args.h"
#include "mha_call.h"
#include "posenc.h"
#include "program.h"

#define TRY(expr)                                          \
  do {                                                     \
    clattn_status try_status_ = (expr);                    \
    if (try_status_ != CLATTN_SUCCESS) return try_status_; \
  } while (0)

static clattn_status scratch(clattn_context *ctx, const char *name, size_t floats, cl_mem *out) {
  cl_int err;
  *out = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, floats * sizeof(float), NULL, &err);
  if (!*out) return clattn__fail_cl(ctx, err, "clCreateBuffer", "%s (%zu floats)", name, floats);
  return CLATTN_SUCCESS;
}

void clattn__mha_call_release(clattn__mha_call *c) {
  cl_mem all[4] = {c->qkv, c->kv, c->attn, c->probs};
  for (int i = 0; i < 4; i++)
    if (all[i]) clReleaseMemObject(all[i]);
  memset(c, 0, sizeof *c);
}

/* A float32 view of rows of `width` floats per token, heads D apart. */
static clattn_tensor token_view(cl_mem buffer, uint64_t offset, int64_t seq, int64_t width,
                                int64_t head_dim) {
  clattn_tensor t = {buffer, CLATTN_F32, offset, seq * width, head_dim, width};
  return t;
}

static clattn_status make_buffers(clattn_mha *m, clattn__mha_call *c, int probs) {
  clattn_context *ctx = m->ctx;
  int64_t d = m->desc.head_dim, width = c->cross ? m->q_width : m->q_width + 2 * m->kv_width;
  size_t tokens = (size_t)c->batch * (size_t)c->seq;
  TRY(scratch(ctx, "the projected Q, K and V", tokens * (size_t)width, &c->qkv));
  TRY(scratch(ctx, "the attention output", tokens * (size_t)m->q_width, &c->attn));
  c->q = token_view(c->qkv, 0, c->seq, width, d);
  c->o = token_view(c->attn, 0, c->seq, m->q_width, d);
  if (c->cross) {
    int64_t kv_width = 2 * m->kv_width;
    TRY(scratch(ctx, "the projected K and V",
                (size_t)c->batch * (size_t)c->kv_len * (size_t)kv_width, &c->kv));
    c->k = token_view(c->kv, 0, c->kv_len, kv_width, d);
    c->v = token_view(c->kv, (uint64_t)m->kv_width, c->kv_len, kv_width, d);
  } else {
    c->k = token_view(c->qkv, (uint64_t)m->q_width, c->seq, width, d);
    c->v = token_view(c->qkv, (uint64_t)(m->q_width + m->kv_width), c->seq, width, d);
  }
  if (probs)
    TRY(scratch(ctx, "the per-head attention weights",
                tokens * (size_t)m->desc.num_heads * (size_t)c->kv_len, &c->probs));
  return CLATTN_SUCCESS;
}

clattn_status clattn__mha_call_create(clattn_mha *m, int64_t batch, int64_t seq, int64_t kv_len,
                                      int cross, int probs, clattn__mha_call *c) {
  memset(c, 0, sizeof *c);
  c->batch = batch;
  c->seq = seq;
  c->kv_len = kv_len;
  c->cross = cross;
  clattn_status status = make_buffers(m, c, probs);
  if (status != CLATTN_SUCCESS) clattn__mha_call_release(c);
  return status;
}

/* Rows of a (B, 1, S, features) view or a token_view as GEMM operands. */
typedef struct token_rows {
  cl_mem buffer;
  uint64_t offset;
  int64_t ld, batch_stride;
} token_rows;

static token_rows rows_of(const clattn_tensor *t) {
  token_rows r = {t->buffer, t->offset, t->stride_seq, t->stride_batch};
  return r;
}

/* out = in * W^T, W the (n x k) row-major block at w_offset of buffer w. One GEMM over all
 * B * S tokens when both sides store batches back to back, else one per batch. */
static clattn_status linear(clattn_mha *m, clattn__chain *chain, const token_rows *in, cl_mem w,
                            uint64_t w_offset, int64_t n, int64_t k, const token_rows *out,
                            int64_t batch, int64_t seq) {
  int merged = batch == 1 || (in->batch_stride == seq * in->ld && out->batch_stride == seq * out->ld);
  int64_t calls = merged ? 1 : batch, rows = merged ? batch * seq : seq;
  clattn__matrix weight = {w, w_offset, k};
  for (int64_t b = 0; b < calls; b++) {
    clattn__matrix a = {in->buffer, in->offset + (uint64_t)(b * in->batch_stride), in->ld};
    clattn__matrix c = {out->buffer, out->offset + (uint64_t)(b * out->batch_stride), out->ld};
    TRY(clattn__sgemm(m->ctx, chain->queue, rows, n, k, 1.0f, &a, &weight, 1, 0.0f, &c,
                      chain->count, chain->events, clattn__chain_slot(chain)));
    clattn__chain_step(chain);
  }
  return CLATTN_SUCCESS;
}

/* Bias and RoPE over `heads` heads of the rows of t; RoPE on the first rope_heads. */
static clattn_status bias_rope(clattn_mha *m, clattn__chain *chain, const clattn_tensor *t,
                               int64_t batch, int64_t heads, int64_t seq, int64_t dim,
                               uint64_t bias_offset, cl_mem bias, int64_t rope_heads,
                               int64_t position_offset, cl_mem positions) {
  const clattn_rope *rope = m->desc.rope.style != CLATTN_ROPE_NONE ? &m->desc.rope : NULL;
  if (!bias && (!rope || !rope_heads)) return CLATTN_SUCCESS;
  TRY(clattn__bias_rope(m->ctx, chain->queue, t, batch, heads, seq, dim, bias, bias_offset, rope,
                        rope ? rope_heads : 0, position_offset, positions, chain->count,
                        chain->events, clattn__chain_slot(chain)));
  clattn__chain_step(chain);
  return CLATTN_SUCCESS;
}

clattn_status clattn__mha_project_input(clattn_mha *m, clattn__chain *chain,
                                        const clattn__mha_call *c, const clattn_tensor *x,
                                        int64_t position_offset, cl_mem positions) {
  token_rows in = rows_of(x), out = rows_of(&c->q);
  int64_t width = c->q.stride_seq, d = m->desc.head_dim;
  /* Self: rows of W_q | W_k | W_v, all E wide; cross: W_q only. */
  TRY(linear(m, chain, &in, m->weights.w_in, 0, width, m->desc.embed_dim, &out, c->batch, c->seq));
  int64_t heads = width / d, rotated = c->cross ? m->desc.num_heads : m->desc.num_heads + m->desc.kv_heads;
  return bias_rope(m, chain, &c->q, c->batch, heads, c->seq, d, 0, m->weights.b_in, rotated,
                   position_offset, positions);
}

clattn_status clattn__mha_project_memory(clattn_mha *m, clattn__chain *chain,
                                         const clattn__mha_call *c, const clattn_tensor *memory,
                                         int64_t position_offset) {
  token_rows in = rows_of(memory), out = rows_of(&c->k);
  int64_t d = m->desc.head_dim;
  uint64_t w_offset = (uint64_t)(m->q_width * m->desc.embed_dim);
  TRY(linear(m, chain, &in, m->weights.w_in, w_offset, 2 * m->kv_width, m->desc.kv_dim, &out,
             c->batch, c->kv_len));
  return bias_rope(m, chain, &c->k, c->batch, 2 * m->desc.kv_heads, c->kv_len, d,
                   (uint64_t)m->q_width, m->weights.b_in, m->desc.kv_heads, position_offset, NULL);
}

/* Y = rows + bias in one command from dense rows (cl/mha.cl, add_bias_rows), so that the
 * caller's Y is written by a single command or not at all. */
static clattn_status write_output(clattn_mha *m, clattn__chain *chain, cl_mem rows,
                                  const clattn__mha_call *c, const clattn_tensor *y) {
  clattn_context *ctx = m->ctx;
  clattn__defines defines;
  clattn__defines_init(&defines);
  cl_program program;
  cl_kernel kernel;
  TRY(clattn__program_get(ctx, "mha.cl", &defines, &program, NULL));
  TRY(clattn__kernel_create(ctx, program, "add_bias_rows", &kernel));
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_buffer(&a, rows);
  clattn__arg_buffer(&a, m->weights.b_out);
  clattn__arg_int(&a, (int)c->seq);
  clattn__arg_int(&a, (int)m->desc.embed_dim);
  clattn__arg_view(&a, y);
  cl_int err = a.err;
  size_t global[3] = {((size_t)m->desc.embed_dim + 63) / 64 * 64, (size_t)c->seq, (size_t)c->batch};
  if (err == CL_SUCCESS)
    err = clEnqueueNDRangeKernel(chain->queue, kernel, 3, NULL, global, NULL, chain->count,
                                 chain->events, clattn__chain_slot(chain));
  clReleaseKernel(kernel);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel", "add_bias_rows");
  clattn__chain_step(chain);
  return CLATTN_SUCCESS;
}

clattn_status clattn__mha_project_output(clattn_mha *m, clattn__chain *chain,
                                         const clattn__mha_call *c, const clattn_tensor *y) {
  token_rows in = rows_of(&c->o), out = rows_of(y);
  int64_t e = m->desc.embed_dim;
  int merged = c->batch == 1 || out.batch_stride == c->seq * out.ld;
  /* One GEMM straight into Y when that is a single command; otherwise (a bias to add, or one
   * GEMM per batch) the product goes to scratch and one command writes Y. */
  if (merged && !m->weights.b_out)
    return linear(m, chain, &in, m->weights.w_out, 0, e, m->q_width, &out, c->batch, c->seq);
  cl_int err;
  cl_mem rows = clCreateBuffer(m->ctx->cl_ctx, CL_MEM_READ_WRITE,
                               (size_t)(c->batch * c->seq * e) * sizeof(float), NULL, &err);
  if (!rows) return clattn__fail_cl(m->ctx, err, "clCreateBuffer", "the projected output rows");
  token_rows dense = {rows, 0, e, c->seq * e};
  clattn_status status = linear(m, chain, &in, m->weights.w_out, 0, e, m->q_width, &dense, c->batch, c->seq);
  if (status == CLATTN_SUCCESS) status = write_output(m, chain, rows, c, y);
  clReleaseMemObject(rows); /* OpenCL keeps it until the commands using it are done */
  return status;
}
