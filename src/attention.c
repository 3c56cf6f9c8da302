/* clattn_attention_forward: validate, pick the kernel variant, set arguments, enqueue; and
 * the ALiBi slopes. */
#include <math.h>
#include <string.h>

#include "attention_config.h"
#include "attention_decode.h"
#include "attention_internal.h"
#include "attention_validate.h"
#include "context.h"
#include "errors.h"
#include "kernel_args.h"
#include "program.h"

void clattn_attention_desc_init(clattn_attention_desc *desc) {
  if (!desc) return;
  memset(desc, 0, sizeof *desc);
  desc->alignment = CLATTN_ALIGN_TOP_LEFT;
  desc->window_left = desc->window_right = -1;
  desc->mask.type = CLATTN_MASK_NONE;
}


void clattn__attention_rule_args(clattn__args *a, const clattn_attention_desc *d,
                                 const clattn__attention_shape *s) {
  clattn__arg_float(a, s->scale);
  clattn__arg_float(a, d->softcap);
  clattn__arg_int(a, d->causal != 0);
  clattn__arg_int(a, d->alignment == CLATTN_ALIGN_BOTTOM_RIGHT);
  clattn__arg_int(a, s->window_left);
  clattn__arg_int(a, s->window_right);
  clattn__arg_buffer(a, d->kv_lens);
  clattn__arg_buffer(a, d->q_lens);
  clattn__arg_int(a, (int)d->mask.type);
  clattn__arg_buffer(a, d->mask.type != CLATTN_MASK_NONE ? d->mask.buffer : NULL);
  clattn__arg_long(a, (int64_t)d->mask.offset);
  clattn__arg_long(a, d->mask.stride_batch);
  clattn__arg_long(a, d->mask.stride_head);
  clattn__arg_long(a, d->mask.stride_query);
  clattn__arg_buffer(a, d->alibi_slopes);
}

void clattn__attention_page_args(clattn__args *a, const clattn__kv_pages *pages) {
  clattn__arg_buffer(a, pages ? pages->block_table : NULL);
  clattn__arg_long(a, pages ? pages->table_stride : 0);
  clattn__arg_int(a, pages ? pages->block_size : 1);
}

static cl_int set_arguments(cl_kernel kernel, const clattn_attention_desc *d,
                            const clattn__attention_shape *s, const clattn_tensor *const t[5],
                            const clattn__kv_pages *pages) {
  clattn__args a = {kernel, 0, CL_SUCCESS};
  for (int i = 0; i < 5; i++) clattn__arg_view(&a, t[i]);
  clattn__arg_int(&a, s->q_heads);
  clattn__arg_int(&a, s->q_heads / s->kv_heads);
  clattn__arg_int(&a, s->q_len);
  clattn__arg_int(&a, s->kv_len);
  clattn__attention_rule_args(&a, d, s);
  clattn__attention_page_args(&a, pages);
  return a.err;
}

/* Builds (or finds) the variant and checks that the device accepts its work-group size,
 * halving the work-group until it does. */
static clattn_status get_kernel(clattn_context *ctx, const clattn__attention_shape *s,
                                const clattn_tensor *const t[4], int paged, int alibi,
                                clattn__attention_config *config, cl_kernel *kernel) {
  clattn_dtype types[4] = {t[0]->dtype, t[1]->dtype, t[2]->dtype, t[3]->dtype};
  for (;;) {
    clattn__defines defines;
    cl_program program;
    clattn__attention_defines(config, s->head_dim, s->v_dim, types, &defines);
    if (paged) clattn__defines_set_int(&defines, "PAGED", 1);
    if (alibi) clattn__defines_set_int(&defines, "ALIBI", 1); /* set only when on: see variants.c */
    clattn_status status = clattn__program_get(ctx, "attention_fwd.cl", &defines, &program, NULL);
    if (status == CLATTN_SUCCESS) status = clattn__kernel_create(ctx, program, "attention_fwd", kernel);
    if (status != CLATTN_SUCCESS) return status;
    size_t limit = 0;
    clattn_status limit_status =
        clattn__kernel_work_group_limit(ctx, kernel, "attention_fwd", &limit);
    if (limit_status != CLATTN_SUCCESS) return limit_status;
    if ((size_t)config->wg <= limit) return CLATTN_SUCCESS;
    clReleaseKernel(*kernel);
    if (config->wg == 1)
      return clattn__fail(ctx, CLATTN_UNSUPPORTED, "attention_fwd does not fit %s even with one work-item",
                          ctx->info.name);
    config->wg /= 2;
  }
}

clattn_status clattn__attention_enqueue(clattn_context *ctx, cl_command_queue queue,
                                        const clattn_attention_desc *desc,
                                        const clattn__attention_shape *shape,
                                        const clattn_tensor *const tensors[5],
                                        const clattn__kv_pages *pages, cl_uint num_wait_events,
                                        const cl_event *wait_events, cl_event *event) {
  if (clattn__decode_applies(desc, shape))
    return clattn__decode_enqueue(ctx, queue, desc, shape, tensors, pages, num_wait_events,
                                  wait_events, event);
  clattn__attention_config config;
  clattn__attention_key key = clattn__attention_key_make(desc, shape->head_dim, shape->v_dim, tensors);
  clattn_status status = clattn__attention_pick_config_for(ctx, &key, &config);
  cl_kernel kernel = NULL;
  if (status == CLATTN_SUCCESS)
    status = get_kernel(ctx, shape, tensors, pages != NULL, desc->alibi_slopes != NULL, &config,
                        &kernel);
  if (status != CLATTN_SUCCESS) return status;

  cl_int err = set_arguments(kernel, desc, shape, tensors, pages);
  if (err != CL_SUCCESS) {
    clReleaseKernel(kernel);
    return clattn__fail_cl(ctx, err, "clSetKernelArg", "attention_fwd");
  }
  size_t rows_per_group = (size_t)config.wg * config.rows;
  size_t groups = ((size_t)shape->q_len + rows_per_group - 1) / rows_per_group;
  size_t global[2] = {groups * (size_t)config.wg, (size_t)shape->batch * (size_t)shape->q_heads};
  size_t local[2] = {(size_t)config.wg, 1};
  err = clEnqueueNDRangeKernel(queue, kernel, 2, NULL, global, local, num_wait_events,
                               wait_events, event);
  clReleaseKernel(kernel); /* the enqueued command keeps what it needs */
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel", "attention_fwd with %zux%zu work-items",
                           global[0], global[1]);
  return CLATTN_SUCCESS;
}

clattn_status clattn_attention_forward(clattn_context *ctx, cl_command_queue queue,
                                       const clattn_attention_desc *desc,
                                       const clattn_tensor *q, const clattn_tensor *k,
                                       const clattn_tensor *v, const clattn_tensor *o,
                                       const clattn_tensor *lse, cl_uint num_wait_events,
                                       const cl_event *wait_events, cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!queue) queue = ctx->queue;
  clattn__attention_shape shape;
  clattn_status status = clattn__attention_validate(ctx, queue, desc, q, k, v, o, lse,
                                                    num_wait_events, wait_events, &shape);
  if (status != CLATTN_SUCCESS) return status;
  const clattn_tensor *const tensors[5] = {q, k, v, o, lse};
  return clattn__attention_enqueue(ctx, queue, desc, &shape, tensors, NULL, num_wait_events,
                                   wait_events, event);
}

/* Press et al. 2022, and the reference code of the paper (get_slopes): for n heads a power of
 * two the slopes are the geometric sequence 2^(-8/n), 2^(-16/n), ..., 2^(-8); otherwise the
 * n' = largest power of two below n gives the first n' slopes, and the slopes of 2 n' heads
 * at odd exponents, 2^(-8 k / (2 n')) for k = 1, 3, 5, ..., the remaining n - n'. */
clattn_status clattn_alibi_slopes(int64_t heads, float *out) {
  if (heads < 1)
    return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "heads = %lld must be at least 1",
                        (long long)heads);
  if (!out) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "out must not be NULL");
  int64_t base = 1;
  while (base <= heads / 2) base *= 2; /* the largest power of two <= heads */
  for (int64_t h = 0; h < heads; h++) {
    double exponent = h < base ? -8.0 * (double)(h + 1) / (double)base
                               : -8.0 * (double)(2 * (h - base) + 1) / (double)(2 * base);
    out[h] = (float)exp2(exponent);
  }
  return CLATTN_SUCCESS;
}
