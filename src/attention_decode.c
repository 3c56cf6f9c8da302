/* Split-KV decode: attention_decode_partial reduces key slices into partial softmax states in
 * a scratch buffer, attention_decode_merge combines them into O and LSE (cl/attention_fwd.cl,
 * built with DECODE=1). */
#include "attention_decode.h"

#include "context.h"
#include "errors.h"
#include "kernel_args.h"
#include "program.h"

#define MAX_Q_LEN 16
#define MAX_ROWS 32      /* query rows per KV head one work-item keeps (group * Sq) */
#define MIN_SLICE 64     /* fewer keys per slice cost more in merging than they save */
#define DECODE_VEC 8

int clattn__decode_applies(const clattn_attention_desc *desc,
                           const clattn__attention_shape *shape) {
  int rows = (shape->q_heads / shape->kv_heads) * shape->q_len;
  return desc->kv_splits != 1 && shape->q_len <= MAX_Q_LEN && rows <= MAX_ROWS &&
         shape->kv_len >= 2 * MIN_SLICE;
}

int clattn__decode_splits(const clattn_context *ctx, const clattn_attention_desc *desc,
                          const clattn__attention_shape *shape) {
  int most = (shape->kv_len + MIN_SLICE - 1) / MIN_SLICE;
  if (desc->kv_splits > 1) return desc->kv_splits < shape->kv_len ? desc->kv_splits : shape->kv_len;
  /* Several work-items per compute unit on CPUs (load balance, memory parallelism), many more
   * on GPUs. */
  long target = (long)ctx->info.compute_units * ((ctx->info.type & CL_DEVICE_TYPE_CPU) ? 8 : 64);
  long heads = (long)shape->batch * shape->kv_heads;
  long splits = (target + heads - 1) / heads;
  return (int)(splits < 1 ? 1 : splits > most ? most : splits);
}


static cl_int partial_arguments(cl_kernel kernel, const clattn_attention_desc *d,
                                const clattn__attention_shape *s, const clattn_tensor *const t[5],
                                cl_mem part, const clattn__kv_pages *pages, int splits,
                                int split_len) {
  clattn__args a = {kernel, 0, CL_SUCCESS};
  for (int i = 0; i < 3; i++) clattn__arg_view(&a, t[i]);
  clattn__arg_buffer(&a, part);
  clattn__arg_int(&a, s->q_heads);
  clattn__arg_int(&a, s->q_heads / s->kv_heads);
  clattn__arg_int(&a, s->q_len);
  clattn__arg_int(&a, s->kv_len);
  clattn__attention_rule_args(&a, d, s);
  clattn__attention_page_args(&a, pages);
  clattn__arg_int(&a, splits);
  clattn__arg_int(&a, split_len);
  return a.err;
}

static cl_int merge_arguments(cl_kernel kernel, const clattn__attention_shape *s,
                              const clattn_tensor *const t[5], cl_mem part, int splits) {
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_buffer(&a, part);
  clattn__arg_view(&a, t[3]);
  clattn__arg_view(&a, t[4]);
  clattn__arg_int(&a, s->q_heads);
  clattn__arg_int(&a, s->q_len);
  clattn__arg_int(&a, splits);
  return a.err;
}

static clattn_status get_kernels(clattn_context *ctx, const clattn__attention_shape *s,
                                 const clattn_tensor *const t[5], int paged, int alibi,
                                 cl_kernel *partial, cl_kernel *merge) {
  clattn__defines defines;
  clattn__defines_init(&defines);
  static const char *type_names[4] = {"Q_TYPE", "K_TYPE", "V_TYPE", "O_TYPE"};
  clattn__defines_set_int(&defines, "DECODE", 1);
  clattn__defines_set_int(&defines, "HEAD_DIM", s->head_dim);
  clattn__defines_set_int(&defines, "V_DIM", s->v_dim);
  clattn__defines_set_int(&defines, "ROWS", (s->q_heads / s->kv_heads) * s->q_len);
  clattn__defines_set_int(&defines, "VEC", DECODE_VEC);
  if (paged) clattn__defines_set_int(&defines, "PAGED", 1);
  if (alibi) clattn__defines_set_int(&defines, "ALIBI", 1);
  for (int i = 0; i < 4; i++) clattn__defines_set_int(&defines, type_names[i], t[i]->dtype);
  cl_program program;
  clattn_status status = clattn__program_get(ctx, "attention_fwd.cl", &defines, &program, NULL);
  if (status == CLATTN_SUCCESS)
    status = clattn__kernel_create(ctx, program, "attention_decode_partial", partial);
  if (status == CLATTN_SUCCESS) {
    status = clattn__kernel_create(ctx, program, "attention_decode_merge", merge);
    if (status != CLATTN_SUCCESS) clReleaseKernel(*partial);
  }
  return status;
}

/* A work-group size the kernel accepts: 1 on CPUs (each work-item is a long loop), a few
 * dozen independent work-items on GPUs. */
static size_t local_size(clattn_context *ctx, cl_kernel kernel, size_t want) {
  size_t limit = 1;
  if (clGetKernelWorkGroupInfo(kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE, sizeof limit,
                               &limit, NULL) != CL_SUCCESS)
    limit = 1;
  return want < limit ? want : (limit ? limit : 1);
}

static size_t round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static clattn_status enqueue_both(clattn_context *ctx, cl_command_queue queue,
                                  cl_kernel partial, cl_kernel merge, const clattn__attention_shape *s,
                                  int splits, cl_uint num_wait_events, const cl_event *wait_events,
                                  cl_event *event) {
  int gpu = !(ctx->info.type & CL_DEVICE_TYPE_CPU);
  size_t p_local[2] = {local_size(ctx, partial, gpu ? 32 : 1), 1};
  size_t p_global[2] = {round_up((size_t)splits, p_local[0]), (size_t)s->batch * s->kv_heads};
  size_t rows = (size_t)s->q_heads * s->q_len;
  size_t m_local[2] = {local_size(ctx, merge, gpu ? 64 : (rows < 16 ? rows : 16)), 1};
  size_t m_global[2] = {round_up(rows, m_local[0]), (size_t)s->batch};
  cl_event partial_done = NULL;
  cl_int err = clEnqueueNDRangeKernel(queue, partial, 2, NULL, p_global, p_local, num_wait_events,
                                      wait_events, &partial_done);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel", "attention_decode_partial");
  /* The merge waits on the partial kernel's event, so out-of-order queues are correct too. */
  err = clEnqueueNDRangeKernel(queue, merge, 2, NULL, m_global, m_local, 1, &partial_done, event);
  clReleaseEvent(partial_done);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel", "attention_decode_merge");
  return CLATTN_SUCCESS;
}

clattn_status clattn__decode_enqueue(clattn_context *ctx, cl_command_queue queue,
                                     const clattn_attention_desc *desc,
                                     const clattn__attention_shape *shape,
                                     const clattn_tensor *const tensors[5],
                                     const clattn__kv_pages *pages, cl_uint num_wait_events,
                                     const cl_event *wait_events, cl_event *event) {
  int splits = clattn__decode_splits(ctx, desc, shape);
  int split_len = (shape->kv_len + splits - 1) / splits;
  split_len = (split_len + DECODE_VEC - 1) / DECODE_VEC * DECODE_VEC; /* whole vectors */
  splits = (shape->kv_len + split_len - 1) / split_len;
  int dv_pad = (shape->v_dim + DECODE_VEC - 1) / DECODE_VEC * DECODE_VEC;
  size_t part_bytes = (size_t)shape->batch * shape->q_heads * shape->q_len * splits *
                      (size_t)(dv_pad + 2) * sizeof(float);
  cl_kernel partial = NULL, merge = NULL;
  clattn_status status = get_kernels(ctx, shape, tensors, pages != NULL,
                                     desc->alibi_slopes != NULL, &partial, &merge);
  if (status != CLATTN_SUCCESS) return status;
  cl_int err;
  /* Released right after enqueueing: OpenCL keeps it alive until the kernels are done. */
  cl_mem part = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE, part_bytes, NULL, &err);
  if (!part) {
    status = clattn__fail_cl(ctx, err, "clCreateBuffer", "decode scratch of %zu bytes", part_bytes);
  } else {
    err = partial_arguments(partial, desc, shape, tensors, part, pages, splits, split_len);
    if (err == CL_SUCCESS) err = merge_arguments(merge, shape, tensors, part, splits);
    if (err != CL_SUCCESS)
      status = clattn__fail_cl(ctx, err, "clSetKernelArg", "attention_decode");
    else
      status = enqueue_both(ctx, queue, partial, merge, shape, splits, num_wait_events,
                            wait_events, event);
    clReleaseMemObject(part);
  }
  clReleaseKernel(partial);
  clReleaseKernel(merge);
  return status;
}
