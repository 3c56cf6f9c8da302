/* clattn_mha_forward: validate the call, then project, attend and project back (see mha.c
 * for the data flow), with optional attention weights. */
#include <string.h>

#include "attention_internal.h"
#include "attention_validate.h"
#include "chain.h"
#include "context.h"
#include "errors.h"
#include "kernel_args.h"
#include "mha_call.h"
#include "mha_internal.h"
#include "program.h"
#include "tensor.h"

#define TRY(expr)                                          \
  do {                                                     \
    clattn_status try_status_ = (expr);                    \
    if (try_status_ != CLATTN_SUCCESS) return try_status_; \
  } while (0)

static clattn_status check_io(clattn_mha *m, const clattn_mha_inputs *in, int64_t skv,
                              uint64_t ranges[3][2]) {
  clattn_context *ctx = m->ctx;
  const clattn_tensor *views[3] = {&in->x, &in->y, &in->memory};
  const char *names[3] = {"inputs->x", "inputs->y", "inputs->memory"};
  int64_t seqs[3] = {in->seq, in->seq, skv};
  int64_t dims[3] = {m->desc.embed_dim, m->desc.embed_dim, m->desc.kv_dim};
  for (int i = 0; i < 3; i++) {
    if (i == 2 && !in->memory.buffer) break;
    TRY(clattn__tensor_check(ctx, names[i], views[i], in->batch, 1, seqs[i], dims[i], ranges[i]));
    if (views[i]->dtype != CLATTN_F32)
      return clattn__fail(ctx, CLATTN_UNSUPPORTED, "%s must be float32 (the layer is float32)", names[i]);
  }
  clattn__view y = {in->y.offset, {in->batch, 1, in->seq, m->desc.embed_dim},
                    {in->y.stride_batch, 0, in->y.stride_seq, 1}, sizeof(float)};
  if (!clattn__view_disjoint(&y))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "inputs->y has overlapping elements");
  for (int i = 0; i < 3; i += 2)
    if ((i == 0 || in->memory.buffer) && views[i]->buffer == in->y.buffer &&
        clattn__ranges_overlap(ranges[i], ranges[1]))
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "inputs->y overlaps %s", names[i]);
  return CLATTN_SUCCESS;
}

static clattn_status check_weights_output(clattn_mha *m, const clattn_mha_inputs *in,
                                          int64_t skv, const uint64_t ranges[3][2]) {
  clattn_context *ctx = m->ctx;
  if (in->weights_output == CLATTN_MHA_NO_WEIGHTS) return CLATTN_SUCCESS;
  if (in->weights_output != CLATTN_MHA_WEIGHTS_AVERAGE && in->weights_output != CLATTN_MHA_WEIGHTS_PER_HEAD)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "inputs->weights_output is not a clattn_mha_weights_output");
  int average = in->weights_output == CLATTN_MHA_WEIGHTS_AVERAGE;
  int64_t heads = average ? 1 : m->desc.num_heads;
  uint64_t range[2];
  TRY(clattn__tensor_check(ctx, "inputs->weights", &in->weights, in->batch, heads, in->seq, skv, range));
  if (average && in->weights.dtype != CLATTN_F32)
    return clattn__fail(ctx, CLATTN_UNSUPPORTED, "inputs->weights must be float32 for head-averaged weights");
  clattn__view w = {in->weights.offset, {in->batch, heads, in->seq, skv},
                    {in->weights.stride_batch, heads > 1 ? in->weights.stride_head : 0,
                     in->weights.stride_seq, 1}, clattn_dtype_size(in->weights.dtype)};
  if (!clattn__view_disjoint(&w))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "inputs->weights has overlapping elements");
  const clattn_tensor *others[3] = {&in->x, &in->y, &in->memory};
  for (int i = 0; i < 3; i++)
    if (others[i]->buffer == in->weights.buffer && clattn__ranges_overlap(ranges[i], range))
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "inputs->weights overlaps x, y or memory");
  return CLATTN_SUCCESS;
}

static clattn_status check_inputs(clattn_mha *m, const clattn_mha_inputs *in) {
  clattn_context *ctx = m->ctx;
  if (!in) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "inputs must not be NULL");
  if (!m->weights.w_in)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "the layer has no weights: call clattn_mha_set_weights");
  if (in->batch < 1 || in->batch > INT32_MAX || in->seq < 1 || in->seq > INT32_MAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "inputs->batch = %lld and inputs->seq = %lld must be in 1 .. 2^31 - 1",
                        (long long)in->batch, (long long)in->seq);
  int cross = in->memory.buffer != NULL;
  if (cross && (in->memory_len < 1 || in->memory_len > INT32_MAX))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "inputs->memory_len = %lld must be in 1 .. 2^31 - 1",
                        (long long)in->memory_len);
  if (!cross && m->desc.kv_dim != m->desc.embed_dim)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "self-attention needs desc.kv_dim = embed_dim; this layer has kv_dim %lld: "
                        "give inputs->memory", (long long)m->desc.kv_dim);
  if (in->position_offset < 0 || in->position_offset > (1 << 24))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "inputs->position_offset = %lld must be in 0 .. 2^24",
                        (long long)in->position_offset);
  uint64_t ranges[3][2] = {{0, 0}, {0, 0}, {0, 0}};
  int64_t skv = cross ? in->memory_len : in->seq;
  TRY(check_io(m, in, skv, ranges));
  return check_weights_output(m, in, skv, ranges);
}

/* The attention of the call: everything but the shape comes from the inputs. */
static clattn_attention_desc attention_desc(const clattn_mha *m, const clattn_mha_inputs *in,
                                            const clattn__mha_call *c) {
  clattn_attention_desc a;
  clattn_attention_desc_init(&a);
  a.batch = c->batch;
  a.q_heads = m->desc.num_heads;
  a.kv_heads = m->desc.kv_heads;
  a.q_len = c->seq;
  a.kv_len = c->kv_len;
  a.head_dim = m->desc.head_dim;
  a.scale = m->desc.scale;
  a.causal = in->causal;
  a.alignment = in->alignment;
  a.window_left = in->window_left;
  a.window_right = in->window_right;
  a.kv_lens = in->kv_lens;
  a.q_lens = in->q_lens;
  a.mask = in->mask;
  a.alibi_slopes = m->alibi;
  return a;
}

/* The mean over heads of (B, Hq, S, Skv) float32 probabilities into the caller's view. */
static clattn_status head_mean(clattn_mha *m, clattn__chain *chain, const clattn__mha_call *c,
                               const clattn_tensor *w) {
  clattn_context *ctx = m->ctx;
  clattn__defines defines;
  clattn__defines_init(&defines);
  cl_program program;
  cl_kernel kernel;
  TRY(clattn__program_get(ctx, "mha.cl", &defines, &program, NULL));
  TRY(clattn__kernel_create(ctx, program, "head_mean", &kernel));
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_buffer(&a, c->probs);
  clattn__arg_int(&a, (int)m->desc.num_heads);
  clattn__arg_int(&a, (int)c->seq);
  clattn__arg_int(&a, (int)c->kv_len);
  clattn__arg_view(&a, w);
  cl_int err = a.err;
  size_t global[3] = {((size_t)c->kv_len + 63) / 64 * 64, (size_t)c->seq, (size_t)c->batch};
  if (err == CL_SUCCESS)
    err = clEnqueueNDRangeKernel(chain->queue, kernel, 3, NULL, global, NULL, chain->count,
                                 chain->events, clattn__chain_slot(chain));
  clReleaseKernel(kernel);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel", "head_mean");
  clattn__chain_step(chain);
  return CLATTN_SUCCESS;
}

static clattn_status weights_output(clattn_mha *m, clattn__chain *chain, const clattn__mha_call *c,
                                    const clattn_attention_desc *a, const clattn_mha_inputs *in) {
  if (in->weights_output == CLATTN_MHA_NO_WEIGHTS) return CLATTN_SUCCESS;
  int average = in->weights_output == CLATTN_MHA_WEIGHTS_AVERAGE;
  clattn_tensor per_head = {c->probs, CLATTN_F32, 0, m->desc.num_heads * c->seq * c->kv_len,
                            c->seq * c->kv_len, c->kv_len};
  TRY(clattn_attention_weights(m->ctx, chain->queue, a, &c->q, &c->k, NULL, CLATTN_WEIGHTS_PROBS,
                               average ? &per_head : &in->weights, chain->count, chain->events,
                               clattn__chain_slot(chain)));
  clattn__chain_step(chain);
  return average ? head_mean(m, chain, c, &in->weights) : CLATTN_SUCCESS;
}

static clattn_status run(clattn_mha *m, clattn__chain *chain, const clattn__mha_call *c,
                         const clattn_mha_inputs *in) {
  clattn_attention_desc a = attention_desc(m, in, c);
  clattn__attention_shape shape;
  /* Everything the attention could refuse is refused before the first command. */
  TRY(clattn__attention_validate(m->ctx, chain->queue, &a, &c->q, &c->k, &c->v, &c->o, NULL,
                                 chain->count, chain->events, &shape));
  TRY(clattn__mha_project_input(m, chain, c, &in->x, in->position_offset, NULL));
  if (c->cross) TRY(clattn__mha_project_memory(m, chain, c, &in->memory, in->position_offset));
  const clattn_tensor *const tensors[5] = {&c->q, &c->k, &c->v, &c->o, NULL};
  TRY(clattn__attention_enqueue(m->ctx, chain->queue, &a, &shape, tensors, NULL, chain->count,
                                chain->events, clattn__chain_slot(chain)));
  clattn__chain_step(chain);
  TRY(weights_output(m, chain, c, &a, in));
  return clattn__mha_project_output(m, chain, c, &in->y);
}

clattn_status clattn_mha_forward(clattn_mha *mha, cl_command_queue queue,
                                 const clattn_mha_inputs *inputs, cl_uint num_wait_events,
                                 const cl_event *wait_events, cl_event *event) {
  if (!mha) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "mha must not be NULL");
  if (!queue) queue = mha->ctx->queue;
  TRY(check_inputs(mha, inputs));
  int64_t kv_len = inputs->memory.buffer ? inputs->memory_len : inputs->seq;
  clattn__mha_call call;
  TRY(clattn__mha_call_create(mha, inputs->batch, inputs->seq, kv_len, inputs->memory.buffer != NULL,
                              inputs->weights_output == CLATTN_MHA_WEIGHTS_AVERAGE, &call));
  clattn__chain chain;
  clattn__chain_begin(&chain, queue, num_wait_events, wait_events);
  clattn_status status = run(mha, &chain, &call, inputs);
  clattn_status end = clattn__chain_end(mha->ctx, &chain, status == CLATTN_SUCCESS ? event : NULL);
  clattn__mha_call_release(&call);
  return status != CLATTN_SUCCESS ? status : end;
}
