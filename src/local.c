/* clattn_attention_local: Luong local attention. Validation (desc and views through
 * clattn__attention_validate, then the local descriptor), the kernel variant of
 * cl/local.cl, and the enqueue: the kernel alone, or after the local-p projection's CLBlast
 * GEMMs (local_p.c), ordered by a chain. */
#include <stdio.h>
#include <string.h>

#include "attention_internal.h"
#include "context.h"
#include "errors.h"
#include "kernel_args.h"
#include "local.h"
#include "program.h"
#include "tensor.h"

#define LOCAL_WG 64           /* work-items (query rows) per work-group, at most */
#define LOCAL_MAX_P_DIM 65536 /* features of W_p h_t */
#define DEFAULT_WINDOW 10     /* Luong et al.'s D */

void clattn_local_desc_init(clattn_local_desc *local) {
  if (!local) return;
  memset(local, 0, sizeof *local);
  local->mode = CLATTN_LOCAL_M;
  local->window = DEFAULT_WINDOW;
  local->gaussian = 1;
}

/* ---- validation ------------------------------------------------------------------------- */

static clattn_status buffer_bytes(clattn_context *ctx, cl_mem buffer, const char *name,
                                  uint64_t need, const char *what) {
  size_t size = 0;
  cl_int err = clGetMemObjectInfo(buffer, CL_MEM_SIZE, sizeof size, &size, NULL);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clGetMemObjectInfo", "%s is not a valid buffer", name);
  if ((uint64_t)size < need)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s holds %zu bytes; %s needs %llu", name,
                        size, what, (unsigned long long)need);
  return CLATTN_SUCCESS;
}

static clattn_status check_fields(clattn_context *ctx, const clattn_local_desc *l) {
  if (l->mode != CLATTN_LOCAL_M && l->mode != CLATTN_LOCAL_P)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "local->mode = %d is not a clattn_local_mode",
                        (int)l->mode);
  if (l->window < 0 || l->window > INT32_MAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "local->window = %lld must be in 0 .. 2^31 - 1",
                        (long long)l->window);
  if (l->gaussian != 0 && l->gaussian != 1)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "local->gaussian = %d must be 0 or 1",
                        l->gaussian);
  if (l->mode == CLATTN_LOCAL_M) {
    const char *set = l->positions ? "positions" : l->w_p ? "w_p" : l->v_p ? "v_p"
                      : l->p_dim ? "p_dim" : NULL;
    if (set)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                          "local->%s is set, but CLATTN_LOCAL_M takes p_t = t (set it for "
                          "CLATTN_LOCAL_P only)", set);
    return CLATTN_SUCCESS;
  }
  if (l->positions && (l->w_p || l->v_p || l->p_dim))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "local->positions and local->w_p / v_p / p_dim are both set; give one");
  if (!l->positions && !l->w_p && !l->v_p)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "CLATTN_LOCAL_P needs local->positions, or local->w_p and local->v_p");
  if (!l->positions && (!l->w_p || !l->v_p))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "local->%s must not be NULL with local->%s",
                        l->w_p ? "v_p" : "w_p", l->w_p ? "w_p" : "v_p");
  if (!l->positions && (l->p_dim < 1 || l->p_dim > LOCAL_MAX_P_DIM))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "local->p_dim = %lld must be in 1 .. %d",
                        (long long)l->p_dim, LOCAL_MAX_P_DIM);
  return CLATTN_SUCCESS;
}

/* The buffers the local-p path reads, with the byte range it reads of each. */
typedef struct local_input {
  const char *name;
  cl_mem buffer;
  uint64_t range[2];
} local_input;

static clattn_status check_inputs(clattn_context *ctx, const clattn_local_desc *l,
                                  const clattn__attention_shape *s, local_input in[3]) {
  const uint64_t rows = (uint64_t)s->batch * (uint64_t)s->q_heads * (uint64_t)s->q_len;
  const uint64_t p_dim = (uint64_t)l->p_dim;
  in[0] = (local_input){"local->positions", l->positions, {0, rows * sizeof(cl_float)}};
  in[1] = (local_input){"local->w_p", l->w_p, {0, p_dim * (uint64_t)s->head_dim * sizeof(cl_float)}};
  in[2] = (local_input){"local->v_p", l->v_p, {0, p_dim * sizeof(cl_float)}};
  char what[3][96];
  snprintf(what[0], sizeof what[0], "B x Hq x Sq = %llu positions (float32)",
           (unsigned long long)rows);
  snprintf(what[1], sizeof what[1], "p_dim x head_dim = %lld x %d floats", (long long)l->p_dim,
           s->head_dim);
  snprintf(what[2], sizeof what[2], "p_dim = %lld floats", (long long)l->p_dim);
  for (int i = 0; i < 3; i++) {
    if (!in[i].buffer) continue;
    clattn_status status = buffer_bytes(ctx, in[i].buffer, in[i].name, in[i].range[1], what[i]);
    if (status != CLATTN_SUCCESS) return status;
  }
  return CLATTN_SUCCESS;
}

/* O and LSE must not share bytes with what the local-p path reads. */
static clattn_status check_aliasing(clattn_context *ctx, const clattn__attention_shape *s,
                                    const clattn_tensor *o, const clattn_tensor *lse,
                                    const local_input in[3]) {
  const clattn_tensor *outs[2] = {o, lse};
  const char *names[2] = {"o", "lse"};
  for (int j = 0; j < 2; j++) {
    if (!outs[j]) continue;
    uint64_t range[2];
    clattn_status status = clattn__tensor_check(ctx, names[j], outs[j], s->batch, s->q_heads,
                                                s->q_len, j == 0 ? s->v_dim : 1, range);
    if (status != CLATTN_SUCCESS) return status;
    for (int i = 0; i < 3; i++)
      if (in[i].buffer == outs[j]->buffer && clattn__ranges_overlap(range, in[i].range))
        return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s overlaps %s in the same buffer",
                            names[j], in[i].name);
  }
  return CLATTN_SUCCESS;
}

static clattn_status validate(clattn_context *ctx, cl_command_queue queue,
                              const clattn_attention_desc *desc, const clattn_local_desc *local,
                              const clattn_tensor *t[5], cl_uint num_wait_events,
                              const cl_event *wait_events, clattn__attention_shape *shape) {
  clattn_status status = clattn__attention_validate(ctx, queue, desc, t[0], t[1], t[2], t[3], t[4],
                                                    num_wait_events, wait_events, shape);
  if (status != CLATTN_SUCCESS) return status;
  if (!local) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "local must not be NULL");
  status = check_fields(ctx, local);
  local_input in[3];
  if (status == CLATTN_SUCCESS) status = check_inputs(ctx, local, shape, in);
  if (status == CLATTN_SUCCESS) status = check_aliasing(ctx, shape, t[3], t[4], in);
  if (status == CLATTN_SUCCESS && local->mode == CLATTN_LOCAL_P && local->w_p)
    status = clattn__local_projection_check(ctx, shape, t[0], local->p_dim);
  return status;
}

/* ---- the kernel ------------------------------------------------------------------------- */

/* Vectors along features as wide as the device prefers (a power of two, 1 .. 16). */
static int vector_width(const clattn_context *ctx) {
  int vec = 1;
  while (vec < 16 && (cl_uint)(2 * vec) <= ctx->info.preferred_vector_width_float) vec *= 2;
  return vec;
}

/* Builds (or finds) the variant and picks a work-group the kernel and device accept. */
static clattn_status get_kernel(clattn_context *ctx, const clattn__attention_shape *s,
                                const clattn_tensor *const t[4], cl_kernel *kernel,
                                size_t *wg) {
  clattn__defines defines;
  cl_program program;
  const char *types[4] = {"Q_TYPE", "K_TYPE", "V_TYPE", "O_TYPE"};
  clattn__defines_init(&defines);
  clattn__defines_set_int(&defines, "HEAD_DIM", s->head_dim);
  clattn__defines_set_int(&defines, "V_DIM", s->v_dim);
  clattn__defines_set_int(&defines, "VEC", vector_width(ctx));
  for (int i = 0; i < 4; i++) clattn__defines_set_int(&defines, types[i], (int)t[i]->dtype);
  clattn_status status = clattn__program_get(ctx, "local.cl", &defines, &program, NULL);
  if (status == CLATTN_SUCCESS) status = clattn__kernel_create(ctx, program, "local_attention", kernel);
  if (status != CLATTN_SUCCESS) return status;
  size_t limit = 0;
  clattn_status limit_status =
      clattn__kernel_work_group_limit(ctx, kernel, "local_attention", &limit);
  if (limit_status != CLATTN_SUCCESS) return limit_status;
  if (limit > ctx->info.max_work_item_sizes[0]) limit = ctx->info.max_work_item_sizes[0];
  *wg = 1;
  while (2 * *wg <= LOCAL_WG && 2 * *wg <= limit && *wg < (size_t)s->q_len) *wg *= 2;
  return CLATTN_SUCCESS;
}

static cl_int set_arguments(cl_kernel kernel, const clattn_attention_desc *d,
                            const clattn_local_desc *l, const clattn__attention_shape *s,
                            const clattn_tensor *const t[5], const clattn__local_projection *p) {
  clattn__args a = {kernel, 0, CL_SUCCESS};
  for (int i = 0; i < 5; i++) clattn__arg_view(&a, t[i]);
  clattn__arg_int(&a, s->q_heads);
  clattn__arg_int(&a, s->q_heads / s->kv_heads);
  clattn__arg_int(&a, s->q_len);
  clattn__arg_int(&a, s->kv_len);
  clattn__attention_rule_args(&a, d, s);
  clattn__arg_int(&a, l->mode == CLATTN_LOCAL_P);
  clattn__arg_int(&a, (int)l->window);
  /* sigma = D / 2, so 1 / (2 sigma^2) = 2 / D^2; 0 turns the factor off (and D = 0 leaves
   * only s = p_t in the window, whose factor is 1). */
  double w = (double)l->window;
  clattn__arg_float(&a, l->gaussian && l->window > 0 ? (float)(2.0 / (w * w)) : 0.0f);
  clattn__arg_buffer(&a, l->positions);
  clattn__arg_buffer(&a, p->z);
  clattn__arg_long(&a, p->stride_batch);
  clattn__arg_long(&a, p->stride_head);
  clattn__arg_long(&a, p->stride_seq);
  clattn__arg_int(&a, (int)l->p_dim);
  clattn__arg_buffer(&a, l->v_p);
  return a.err;
}

static clattn_status enqueue(clattn_context *ctx, cl_command_queue queue,
                             const clattn_attention_desc *desc, const clattn_local_desc *local,
                             const clattn__attention_shape *s, const clattn_tensor *const t[5],
                             cl_uint num_wait_events, const cl_event *wait_events,
                             cl_event *event) {
  cl_kernel kernel = NULL;
  size_t wg = 1;
  clattn__local_projection proj;
  memset(&proj, 0, sizeof proj);
  const int project = local->mode == CLATTN_LOCAL_P && local->w_p != NULL;
  clattn_status status = get_kernel(ctx, s, t, &kernel, &wg);
  if (status == CLATTN_SUCCESS && project)
    status = clattn__local_projection_create(ctx, s, t[0], local->p_dim, &proj);
  if (status == CLATTN_SUCCESS && set_arguments(kernel, desc, local, s, t, &proj) != CL_SUCCESS)
    status = clattn__fail(ctx, CLATTN_INTERNAL, "clSetKernelArg failed for local_attention");
  clattn__chain chain;
  clattn__chain_begin(&chain, queue, num_wait_events, wait_events);
  if (status == CLATTN_SUCCESS && project)
    status = clattn__local_projection_enqueue(ctx, &chain, s, t[0], local->w_p, local->p_dim, &proj);
  if (status == CLATTN_SUCCESS) {
    size_t global[2] = {((size_t)s->q_len + wg - 1) / wg * wg, (size_t)s->batch * (size_t)s->q_heads};
    size_t local_size[2] = {wg, 1};
    cl_int err = clEnqueueNDRangeKernel(queue, kernel, 2, NULL, global, local_size, chain.count,
                                        chain.events, project ? clattn__chain_slot(&chain) : event);
    if (err != CL_SUCCESS)
      status = clattn__fail_cl(ctx, err, "clEnqueueNDRangeKernel", "local_attention with %zux%zu work-items",
                               global[0], global[1]);
    else if (project)
      clattn__chain_step(&chain);
  }
  /* Without the projection the kernel's own event is the caller's; with it, the chain's. */
  clattn_status end = clattn__chain_end(ctx, &chain, status == CLATTN_SUCCESS && project ? event : NULL);
  if (status == CLATTN_SUCCESS) status = end;
  if (kernel) clReleaseKernel(kernel);
  clattn__local_projection_release(&proj); /* enqueued commands keep it alive */
  return status;
}

clattn_status clattn_attention_local(clattn_context *ctx, cl_command_queue queue,
                                     const clattn_attention_desc *desc,
                                     const clattn_local_desc *local, const clattn_tensor *q,
                                     const clattn_tensor *k, const clattn_tensor *v,
                                     const clattn_tensor *o, const clattn_tensor *lse,
                                     cl_uint num_wait_events, const cl_event *wait_events,
                                     cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!queue) queue = ctx->queue;
  const clattn_tensor *t[5] = {q, k, v, o, lse};
  clattn__attention_shape shape;
  clattn_status status = validate(ctx, queue, desc, local, t, num_wait_events, wait_events, &shape);
  if (status != CLATTN_SUCCESS) return status;
  return enqueue(ctx, queue, desc, local, &shape, t, num_wait_events, wait_events, event);
}
