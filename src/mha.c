/* The multi-head attention layer: its descriptor, creation and warm-up. The forward pass
 * (mha_forward.c, mha_layer.c) is
 *
 *   X --GEMM--> packed QKV rows --bias + RoPE--> (views) --fused attention--> heads side by
 *   side --GEMM--> Y --bias-->
 *
 * The packed projection output holds, for each token, Q heads | K heads | V heads, so the
 * three attention inputs are strided views of one buffer (stride_head = D, stride_seq = the
 * row width) and the attention output, written BSHD, is already the (tokens x Hq*D) matrix the
 * output projection multiplies. Cross-attention projects Q from X and K, V from M. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "errors.h"
#include "mha_internal.h"

#define TRY(expr)                                          \
  do {                                                     \
    clattn_status try_status_ = (expr);                    \
    if (try_status_ != CLATTN_SUCCESS) return try_status_; \
  } while (0)

void clattn_mha_desc_init(clattn_mha_desc *desc) {
  if (!desc) return;
  memset(desc, 0, sizeof *desc);
}

void clattn_mha_inputs_init(clattn_mha_inputs *inputs) {
  if (!inputs) return;
  memset(inputs, 0, sizeof *inputs);
  inputs->window_left = inputs->window_right = -1;
}

/* ---- creation --------------------------------------------------------------------------- */

static clattn_status check_desc(clattn_context *ctx, const clattn_mha_desc *d) {
  const int64_t limit = 1 << 20; /* far beyond any model; keeps every product in range */
  if (d->embed_dim < 1 || d->embed_dim > limit || d->num_heads < 1 || d->num_heads > d->embed_dim * 64)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->embed_dim = %lld and desc->num_heads = %lld must be positive (and sane)",
                        (long long)d->embed_dim, (long long)d->num_heads);
  if (d->kv_heads < 0 || (d->kv_heads && d->num_heads % d->kv_heads))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->kv_heads = %lld must divide desc->num_heads = %lld (0: num_heads)",
                        (long long)d->kv_heads, (long long)d->num_heads);
  if (d->head_dim == 0 && d->embed_dim % d->num_heads)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->embed_dim = %lld is not a multiple of desc->num_heads = %lld; set "
                        "desc->head_dim", (long long)d->embed_dim, (long long)d->num_heads);
  if (d->head_dim < 0 || d->head_dim > CLATTN_MAX_HEAD_DIM)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->head_dim = %lld must be in 0 .. %d",
                        (long long)d->head_dim, CLATTN_MAX_HEAD_DIM);
  if (d->kv_dim < 0 || d->kv_dim > limit)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->kv_dim = %lld must be in 0 .. 2^20",
                        (long long)d->kv_dim);
  if ((d->bias != 0 && d->bias != 1) || (d->alibi != 0 && d->alibi != 1))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->bias and desc->alibi must be 0 or 1");
  if (!isfinite(d->scale))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->scale must be finite");
  return CLATTN_SUCCESS;
}

static clattn_status check_rope(clattn_context *ctx, const clattn_rope *r, int64_t head_dim) {
  if (r->style != CLATTN_ROPE_NONE && r->style != CLATTN_ROPE_INTERLEAVED && r->style != CLATTN_ROPE_HALF)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->rope.style is not a clattn_rope_style");
  if (r->style == CLATTN_ROPE_NONE) return CLATTN_SUCCESS;
  if (r->rotary_dim < 0 || r->rotary_dim > head_dim || r->rotary_dim % 2)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->rope.rotary_dim = %lld must be even and at most head_dim = %lld "
                        "(0: all of it)", (long long)r->rotary_dim, (long long)head_dim);
  if (r->rotary_dim == 0 && head_dim % 2)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "RoPE needs an even head_dim (%lld) or an even desc->rope.rotary_dim",
                        (long long)head_dim);
  if (!(r->base >= 0.0f) || !isfinite(r->base) || (r->base > 0.0f && r->base <= 1.0f))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->rope.base must be 0 (10000) or > 1");
  return CLATTN_SUCCESS;
}

static clattn_status make_alibi(clattn_mha *m) {
  int64_t heads = m->desc.num_heads;
  float *slopes = malloc((size_t)heads * sizeof *slopes);
  if (!slopes) return clattn__fail(m->ctx, CLATTN_OUT_OF_HOST_MEMORY, "ALiBi slopes");
  clattn_status status = clattn_alibi_slopes(heads, slopes);
  cl_int err = CL_SUCCESS;
  if (status == CLATTN_SUCCESS) {
    m->alibi = clCreateBuffer(m->ctx->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                              (size_t)heads * sizeof *slopes, slopes, &err);
    if (!m->alibi) status = clattn__fail_cl(m->ctx, err, "clCreateBuffer", "ALiBi slopes");
  }
  free(slopes);
  return status;
}

clattn_status clattn_mha_create(clattn_context *ctx, const clattn_mha_desc *desc,
                                clattn_mha **mha) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!desc || !mha) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc and mha must not be NULL");
  TRY(check_desc(ctx, desc));
  clattn_mha_desc d = *desc;
  if (!d.kv_heads) d.kv_heads = d.num_heads;
  if (!d.head_dim) d.head_dim = d.embed_dim / d.num_heads;
  if (!d.kv_dim) d.kv_dim = d.embed_dim;
  TRY(check_rope(ctx, &d.rope, d.head_dim));
  if (d.rope.style != CLATTN_ROPE_NONE && !d.rope.rotary_dim) d.rope.rotary_dim = d.head_dim;
  clattn_mha *m = calloc(1, sizeof *m);
  if (!m) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "the layer object");
  m->ctx = ctx;
  m->desc = d;
  m->q_width = d.num_heads * d.head_dim;
  m->kv_width = d.kv_heads * d.head_dim;
  if (d.alibi) {
    clattn_status status = make_alibi(m);
    if (status != CLATTN_SUCCESS) {
      free(m);
      return status;
    }
  }
  *mha = m;
  return CLATTN_SUCCESS;
}

void clattn_mha_destroy(clattn_mha *mha) {
  if (!mha) return;
  clattn__mha_weights_release(&mha->weights);
  if (mha->alibi) clReleaseMemObject(mha->alibi);
  free(mha);
}


/* ---- warm-up ---------------------------------------------------------------------------- */

static clattn_status zeros(clattn_context *ctx, size_t floats, cl_mem *out) {
  cl_int err;
  *out = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, floats * sizeof(float), NULL, &err);
  if (!*out) return clattn__fail_cl(ctx, err, "clCreateBuffer", "warm-up buffer (%zu floats)", floats);
  float zero = 0.0f;
  err = clEnqueueFillBuffer(ctx->queue, *out, &zero, sizeof zero, 0, floats * sizeof(float), 0, NULL, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clEnqueueFillBuffer", "warm-up buffer");
  return CLATTN_SUCCESS;
}

clattn_status clattn_mha_warm_up(clattn_mha *mha, int64_t batch, int64_t seq, int64_t memory_len) {
  if (!mha) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "mha must not be NULL");
  clattn_context *ctx = mha->ctx;
  if (batch < 1 || seq < 1 || memory_len < 0 || batch * seq > (1 << 24) || memory_len > (1 << 24))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "batch = %lld, seq = %lld, memory_len = %lld: positive sizes (memory_len 0: "
                        "self-attention) of at most 2^24 tokens", (long long)batch, (long long)seq,
                        (long long)memory_len);
  int64_t e = mha->desc.embed_dim;
  cl_mem x = NULL, y = NULL, memory = NULL;
  clattn_status status = zeros(ctx, (size_t)(batch * seq * e), &x);
  if (status == CLATTN_SUCCESS) status = zeros(ctx, (size_t)(batch * seq * e), &y);
  if (status == CLATTN_SUCCESS && memory_len)
    status = zeros(ctx, (size_t)(batch * memory_len * mha->desc.kv_dim), &memory);
  if (status == CLATTN_SUCCESS) {
    clattn_mha_inputs in;
    clattn_mha_inputs_init(&in);
    in.batch = batch;
    in.seq = seq;
    in.x = clattn_tensor_contiguous(x, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, seq, e, 0);
    in.y = clattn_tensor_contiguous(y, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, seq, e, 0);
    if (memory) {
      in.memory = clattn_tensor_contiguous(memory, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, memory_len,
                                           mha->desc.kv_dim, 0);
      in.memory_len = memory_len;
    }
    status = clattn_mha_forward(mha, ctx->queue, &in, 0, NULL, NULL);
  }
  cl_int err = clFinish(ctx->queue);
  if (status == CLATTN_SUCCESS && err != CL_SUCCESS) status = clattn__fail_cl(ctx, err, "clFinish", "warm-up");
  cl_mem all[3] = {x, y, memory};
  for (int i = 0; i < 3; i++)
    if (all[i]) clReleaseMemObject(all[i]);
  return status;
}
