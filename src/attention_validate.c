#include "attention_validate.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "chain.h"
#include "context.h"
#include "errors.h"
#include "tensor.h"

static clattn_status check_size(clattn_context *ctx, const char *name, int64_t value,
                                int64_t max) {
  if (value < 1 || value > max)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->%s = %lld must be in 1 .. %lld", name,
                        (long long)value, (long long)max);
  return CLATTN_SUCCESS;
}

static clattn_status check_dims(clattn_context *ctx, const clattn_attention_desc *d,
                                clattn__attention_shape *s) {
  struct { const char *name; int64_t value; int *out; } sizes[] = {
      {"batch", d->batch, &s->batch},       {"q_heads", d->q_heads, &s->q_heads},
      {"kv_heads", d->kv_heads, &s->kv_heads}, {"q_len", d->q_len, &s->q_len},
      {"kv_len", d->kv_len, &s->kv_len}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    clattn_status status = check_size(ctx, sizes[i].name, sizes[i].value, INT32_MAX);
    if (status != CLATTN_SUCCESS) return status;
    *sizes[i].out = (int)sizes[i].value;
  }
  if ((int64_t)s->batch * s->q_heads > INT32_MAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->batch * desc->q_heads exceeds 2^31 - 1");
  if (s->q_heads % s->kv_heads != 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->q_heads = %d is not a multiple of desc->kv_heads = %d", s->q_heads,
                        s->kv_heads);
  int64_t v_dim = d->v_head_dim == 0 ? d->head_dim : d->v_head_dim;
  const char *names[2] = {"head_dim", "v_head_dim"};
  int64_t dims[2] = {d->head_dim, v_dim};
  for (int i = 0; i < 2; i++) {
    if (dims[i] < 1)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->%s = %lld must be positive", names[i],
                          (long long)dims[i]);
    if (dims[i] > CLATTN_MAX_HEAD_DIM)
      return clattn__fail(ctx, CLATTN_UNSUPPORTED, "desc->%s = %lld exceeds CLATTN_MAX_HEAD_DIM (%d)",
                          names[i], (long long)dims[i], CLATTN_MAX_HEAD_DIM);
  }
  s->head_dim = (int)d->head_dim;
  s->v_dim = (int)v_dim;
  return CLATTN_SUCCESS;
}

static int clamp_window(int64_t w, int64_t limit) {
  return w < 0 ? -1 : (int)(w > limit ? limit : w);
}

static clattn_status check_scalars(clattn_context *ctx, const clattn_attention_desc *d,
                                   clattn__attention_shape *s) {
  if (!isfinite(d->scale))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->scale must be finite");
  if (!(d->softcap >= 0.0f) || !isfinite(d->softcap))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->softcap must be 0 (off) or positive");
  if (d->alignment != CLATTN_ALIGN_TOP_LEFT && d->alignment != CLATTN_ALIGN_BOTTOM_RIGHT)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->alignment is not a clattn_alignment");
  if (d->window_left < -1 || d->window_right < -1)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->window_left and desc->window_right must be -1 (unbounded) or >= 0");
  if (d->kv_splits < 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->kv_splits = %d must be 0 (automatic), 1 or a slice count", d->kv_splits);
  s->scale = d->scale != 0.0f ? d->scale : (float)(1.0 / sqrt((double)s->head_dim));
  int64_t limit = (int64_t)s->q_len + s->kv_len; /* beyond this a window bounds nothing */
  s->window_left = clamp_window(d->window_left, limit);
  s->window_right = clamp_window(d->window_right, limit);
  return CLATTN_SUCCESS;
}

static clattn_status buffer_size(clattn_context *ctx, cl_mem buffer, const char *name,
                                 uint64_t *size) {
  size_t bytes = 0;
  cl_int err = clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clGetMemObjectInfo", "%s is not a valid buffer", name);
  *size = bytes;
  return CLATTN_SUCCESS;
}

/* Checks that a view lies inside its buffer; returns its byte range. */
static clattn_status check_view(clattn_context *ctx, const char *name, cl_mem buffer,
                                const clattn__view *view, uint64_t range[2]) {
  if (!buffer) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s.buffer must not be NULL", name);
  for (int i = 0; i < 3; i++)
    if (view->strides[i] < 0)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s has a negative stride", name);
  uint64_t size = 0;
  clattn_status status = buffer_size(ctx, buffer, name, &size);
  if (status != CLATTN_SUCCESS) return status;
  if (clattn__view_byte_range(view, &range[0], &range[1]) != 0 || range[1] > size)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "%s reaches past the end of its buffer (%llu bytes): offset %llu, strides "
                        "%lld/%lld/%lld, shape %lldx%lldx%lldx%lld",
                        name, (unsigned long long)size, (unsigned long long)view->offset,
                        (long long)view->strides[0], (long long)view->strides[1],
                        (long long)view->strides[2], (long long)view->dims[0],
                        (long long)view->dims[1], (long long)view->dims[2], (long long)view->dims[3]);
  return CLATTN_SUCCESS;
}

static int same_view(const clattn_tensor *a, const clattn_tensor *b) {
  return a->buffer == b->buffer && a->dtype == b->dtype && a->offset == b->offset &&
         a->stride_batch == b->stride_batch && a->stride_head == b->stride_head &&
         a->stride_seq == b->stride_seq;
}

static clattn_status check_tensors(clattn_context *ctx, const clattn__attention_shape *s,
                                   const clattn_tensor *t[5], uint64_t ranges[5][2]) {
  static const char *names[5] = {"q", "k", "v", "o", "lse"};
  const int64_t heads[5] = {s->q_heads, s->kv_heads, s->kv_heads, s->q_heads, s->q_heads};
  const int64_t lens[5] = {s->q_len, s->kv_len, s->kv_len, s->q_len, s->q_len};
  const int64_t dims[5] = {s->head_dim, s->head_dim, s->v_dim, s->v_dim, 1};
  for (int i = 0; i < 5; i++) {
    if (!t[i]) continue;
    clattn_status status = clattn__tensor_check(ctx, names[i], t[i], s->batch, heads[i], lens[i],
                                                dims[i], ranges[i]);
    if (status != CLATTN_SUCCESS) return status;
    if (i == 4 && t[i]->dtype != CLATTN_F32)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "lse.dtype must be CLATTN_F32");
    clattn__view view = {t[i]->offset, {s->batch, heads[i], lens[i], dims[i]},
                         {t[i]->stride_batch, t[i]->stride_head, t[i]->stride_seq, 1},
                         clattn_dtype_size(t[i]->dtype)};
    if (i >= 3 && !clattn__view_disjoint(&view))
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                          "%s's strides make elements overlap; an output needs distinct elements",
                          names[i]);
  }
  return CLATTN_SUCCESS;
}

static clattn_status check_mask(clattn_context *ctx, const clattn_attention_desc *d,
                                const clattn__attention_shape *s, uint64_t range[2]) {
  const clattn_mask *m = &d->mask;
  if (m->type == CLATTN_MASK_NONE) return CLATTN_SUCCESS;
  if (m->type != CLATTN_MASK_BOOL && m->type != CLATTN_MASK_ADDITIVE)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->mask.type is not a clattn_mask_type");
  clattn__view view = {m->offset, {s->batch, s->q_heads, s->q_len, s->kv_len},
                       {m->stride_batch, m->stride_head, m->stride_query, 1},
                       m->type == CLATTN_MASK_BOOL ? 1 : 4};
  return check_view(ctx, "desc->mask", m->buffer, &view, range);
}

static clattn_status check_lengths(clattn_context *ctx, const clattn_attention_desc *d,
                                   const clattn__attention_shape *s) {
  cl_mem buffers[2] = {d->kv_lens, d->q_lens};
  const char *names[2] = {"desc->kv_lens", "desc->q_lens"};
  for (int i = 0; i < 2; i++) {
    uint64_t size = 0;
    if (!buffers[i]) continue;
    clattn_status status = buffer_size(ctx, buffers[i], names[i], &size);
    if (status != CLATTN_SUCCESS) return status;
    if (size < (uint64_t)s->batch * sizeof(cl_int))
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s holds %llu bytes; batch %d needs %llu",
                          names[i], (unsigned long long)size, s->batch,
                          (unsigned long long)s->batch * sizeof(cl_int));
  }
  return CLATTN_SUCCESS;
}

/* ALiBi slopes: one float32 per query head. */
static clattn_status check_alibi(clattn_context *ctx, const clattn_attention_desc *d,
                                 const clattn__attention_shape *s) {
  if (!d->alibi_slopes) return CLATTN_SUCCESS;
  uint64_t size = 0, need = (uint64_t)s->q_heads * sizeof(cl_float);
  clattn_status status = buffer_size(ctx, d->alibi_slopes, "desc->alibi_slopes", &size);
  if (status != CLATTN_SUCCESS) return status;
  if (size < need)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->alibi_slopes holds %llu bytes; q_heads %d needs %llu (one float32 "
                        "slope per query head)",
                        (unsigned long long)size, s->q_heads, (unsigned long long)need);
  return CLATTN_SUCCESS;
}

/* Outputs must not share memory with anything the kernel reads, since other work-groups may
 * still be reading it. One exception: O may overwrite Q in place through an identical view,
 * because each work-group reads its own Q rows before it writes the same O rows. */
typedef struct operand {
  const char *name;
  cl_mem buffer;
  uint64_t range[2];
} operand;

static clattn_status check_aliasing(clattn_context *ctx, const clattn__attention_shape *s,
                                    const clattn_tensor *t[5], const operand *all, int count) {
  for (int out = 3; out < 5; out++) {
    if (!all[out].buffer) continue;
    for (int in = 0; in < count; in++) {
      if (in == out || !all[in].buffer || all[in].buffer != all[out].buffer) continue;
      if (in == 0 && out == 3 && same_view(t[0], t[3]) && s->head_dim == s->v_dim) continue;
      if (clattn__ranges_overlap(all[in].range, all[out].range))
        return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s overlaps %s in the same buffer",
                            all[out].name, all[in].name);
    }
  }
  return CLATTN_SUCCESS;
}

clattn_status clattn__attention_validate(clattn_context *ctx, cl_command_queue queue,
                                         const clattn_attention_desc *desc,
                                         const clattn_tensor *q, const clattn_tensor *k,
                                         const clattn_tensor *v, const clattn_tensor *o,
                                         const clattn_tensor *lse, cl_uint num_wait_events,
                                         const cl_event *wait_events,
                                         clattn__attention_shape *shape) {
  const char *missing = !desc ? "desc" : !q ? "q" : !k ? "k" : !v ? "v" : !o ? "o" : NULL;
  if (missing) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s must not be NULL", missing);
  clattn_status status = clattn__queue_check(ctx, queue, num_wait_events, wait_events);
  if (status == CLATTN_SUCCESS) status = check_dims(ctx, desc, shape);
  if (status == CLATTN_SUCCESS) status = check_scalars(ctx, desc, shape);
  const clattn_tensor *tensors[5] = {q, k, v, o, lse};
  uint64_t ranges[5][2];
  if (status == CLATTN_SUCCESS) status = check_tensors(ctx, shape, tensors, ranges);
  operand all[9] = {{"q", q->buffer, {0, 0}},   {"k", k->buffer, {0, 0}},
                    {"v", v->buffer, {0, 0}},   {"o", o->buffer, {0, 0}},
                    {"lse", lse ? lse->buffer : NULL, {0, 0}},
                    {"desc->mask", NULL, {0, 0}},
                    {"desc->kv_lens", desc->kv_lens, {0, (uint64_t)shape->batch * sizeof(cl_int)}},
                    {"desc->q_lens", desc->q_lens, {0, (uint64_t)shape->batch * sizeof(cl_int)}},
                    {"desc->alibi_slopes", desc->alibi_slopes,
                     {0, (uint64_t)shape->q_heads * sizeof(cl_float)}}};
  if (status == CLATTN_SUCCESS) status = check_mask(ctx, desc, shape, all[5].range);
  if (status == CLATTN_SUCCESS && desc->mask.type != CLATTN_MASK_NONE) all[5].buffer = desc->mask.buffer;
  if (status == CLATTN_SUCCESS) status = check_lengths(ctx, desc, shape);
  if (status == CLATTN_SUCCESS) status = check_alibi(ctx, desc, shape);
  for (int i = 0; status == CLATTN_SUCCESS && i < 5; i++)
    if (tensors[i]) memcpy(all[i].range, ranges[i], sizeof ranges[i]);
  if (status == CLATTN_SUCCESS) status = check_aliasing(ctx, shape, tensors, all, 9);
  return status;
}
