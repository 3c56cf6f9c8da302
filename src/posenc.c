/* Position information: host side of cl/posenc.cl.
 *
 * RoPE angles are p * w_i with w_i = base^(-2i / R). In fp32, p * w_i is off by up to half an
 * ulp of the product (ulp(4096) = 5e-4 rad), so the host computes w_i in double, converts it
 * to turns (w_i / 2pi) and passes each as a float pair hi + lo in a small table; the kernel
 * multiplies exactly (fma two-product), drops whole turns exactly, and only then adds the
 * small terms (see the banner of cl/posenc.cl). The table is made per call (CL_MEM_COPY_HOST_PTR,
 * R/2 float pairs) and released once enqueued; the command keeps it alive. */
#include "posenc.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "context.h"
#include "errors.h"
#include "kernel_args.h"
#include "program.h"
#include "tensor.h"

#define POSENC_WG 128            /* work-items per work-group, at most */
#define DEFAULT_BASE 10000.0
#define POSITION_LIMIT (INT64_C(1) << 62) /* |position_offset|: p never overflows a long */
#define TWO_PI 6.283185307179586476925286766559

static const char *FILE_NAME = "posenc.cl";

static void kernel_defines(clattn_dtype dtype, int style, clattn__defines *defines) {
  clattn__defines_init(defines);
  clattn__defines_set_int(defines, "DTYPE", dtype);
  clattn__defines_set_int(defines, "STYLE", style);
}

size_t clattn__posenc_variants(clattn__variant *out, size_t capacity) {
  size_t count = 0;
  for (int style = CLATTN_ROPE_NONE; style <= CLATTN_ROPE_HALF; style++) {
    if (count < capacity) {
      out[count].file = FILE_NAME;
      kernel_defines(CLATTN_F32, style, &out[count].defines);
    }
    count++;
  }
  return count;
}

/* ---- validation (public calls) ----------------------------------------------------------- */

/* Sizes, x (inside its buffer, distinct elements), the position offset and the positions
 * buffer, shared by both public calls. */
static clattn_status check_call(clattn_context *ctx, cl_command_queue queue, const clattn_tensor *x,
                                int64_t batch, int64_t heads, int64_t seq, int64_t dim,
                                int64_t position_offset, cl_mem positions, cl_uint n,
                                const cl_event *events) {
  struct { const char *name; int64_t value; } sizes[] = {
      {"batch", batch}, {"heads", heads}, {"seq", seq}, {"dim", dim}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    if (sizes[i].value < 1 || sizes[i].value > INT32_MAX)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s = %lld must be in 1 .. 2^31 - 1",
                          sizes[i].name, (long long)sizes[i].value);
  if (batch * seq > INT32_MAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "batch * seq = %lld exceeds 2^31 - 1",
                        (long long)(batch * seq));
  if (position_offset < -POSITION_LIMIT || position_offset > POSITION_LIMIT)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "position_offset = %lld must be within +-2^62",
                        (long long)position_offset);
  clattn_status status = clattn__queue_check(ctx, queue, n, events);
  uint64_t range[2];
  if (status == CLATTN_SUCCESS) status = clattn__tensor_check(ctx, "x", x, batch, heads, seq, dim, range);
  if (status != CLATTN_SUCCESS) return status;
  clattn__view view = {x->offset, {batch, heads, seq, dim},
                       {x->stride_batch, x->stride_head, x->stride_seq, 1}, clattn_dtype_size(x->dtype)};
  if (!clattn__view_disjoint(&view))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "x's strides make elements overlap; x is written in place and needs "
                        "distinct elements");
  if (!positions) return CLATTN_SUCCESS;
  size_t bytes = 0;
  uint64_t need = (uint64_t)batch * sizeof(cl_int), used[2] = {0, need};
  cl_int err = clGetMemObjectInfo(positions, CL_MEM_SIZE, sizeof bytes, &bytes, NULL);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clGetMemObjectInfo", "positions is not a valid buffer");
  if (bytes < need)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "positions holds %zu bytes; batch %lld needs %llu",
                        bytes, (long long)batch, (unsigned long long)need);
  if (positions == x->buffer && clattn__ranges_overlap(used, range))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "positions overlaps x in the same buffer");
  return CLATTN_SUCCESS;
}

static clattn_status check_base(clattn_context *ctx, const char *name, float base) {
  if (!isfinite(base) || base < 0.0f)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "%s = %g must be 0 (the default, 10000) or positive and finite", name,
                        (double)base);
  return CLATTN_SUCCESS;
}

static clattn_status check_rope(clattn_context *ctx, const clattn_rope *rope, int64_t dim) {
  if (rope->style != CLATTN_ROPE_NONE && rope->style != CLATTN_ROPE_INTERLEAVED &&
      rope->style != CLATTN_ROPE_HALF)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "rope->style = %d is not a clattn_rope_style",
                        (int)rope->style);
  clattn_status status = check_base(ctx, "rope->base", rope->base);
  if (status != CLATTN_SUCCESS) return status;
  int64_t r = rope->rotary_dim;
  if (r == 0 && dim % 2 != 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "rope->rotary_dim = 0 (the whole head) needs an even dim; dim = %lld",
                        (long long)dim);
  if (r < 0 || r % 2 != 0 || r > dim)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "rope->rotary_dim = %lld must be even and in 2 .. dim = %lld (0: the whole head)",
                        (long long)r, (long long)dim);
  return CLATTN_SUCCESS;
}

/* ---- enqueueing ------------------------------------------------------------------------ */

/* The table of `pairs` turns (w_i / 2pi, w_i = base^(-2i / denom)) as float pairs hi + lo. */
static clattn_status make_turns(clattn_context *ctx, double base, int64_t pairs, int64_t denom,
                                cl_mem *out) {
  float *t = malloc((size_t)pairs * 2 * sizeof *t);
  if (!t) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory for %lld frequencies",
                              (long long)pairs);
  for (int64_t i = 0; i < pairs; i++) {
    double turns = pow(base, -2.0 * (double)i / (double)denom) / TWO_PI;
    float hi = (float)turns;
    t[2 * i] = hi;
    t[2 * i + 1] = (float)(turns - (double)hi);
  }
  cl_int err;
  *out = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                        (size_t)pairs * 2 * sizeof *t, t, &err);
  free(t);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clCreateBuffer", "a table of %lld RoPE frequencies", (long long)pairs);
  return CLATTN_SUCCESS;
}

/* Builds (or finds) `name` for (dtype, style) and picks a work-group of at most POSENC_WG
 * work-items: dimension 0 over `slots`, dimension 1 over the rows. */
static clattn_status get_kernel(clattn_context *ctx, const char *name, clattn_dtype dtype, int style,
                                int64_t slots, int64_t rows, cl_kernel *kernel, size_t global[2],
                                size_t local[2]) {
  clattn__defines defines;
  cl_program program;
  kernel_defines(dtype, style, &defines);
  clattn_status status = clattn__program_get(ctx, FILE_NAME, &defines, &program, NULL);
  if (status == CLATTN_SUCCESS) status = clattn__kernel_create(ctx, program, name, kernel);
  if (status != CLATTN_SUCCESS) return status;
  size_t limit = 0;
  clattn_status limit_status =
      clattn__kernel_work_group_limit(ctx, kernel, name, &limit);
  if (limit_status != CLATTN_SUCCESS) return limit_status;
  if (limit > POSENC_WG) limit = POSENC_WG;
  if (limit < 1) limit = 1;
  size_t l0 = 1, l1 = 1;
  while (l0 < (size_t)slots && 2 * l0 <= limit && 2 * l0 <= ctx->info.max_work_item_sizes[0]) l0 *= 2;
  while (l1 < (size_t)rows && 2 * l0 * l1 <= limit && 2 * l1 <= ctx->info.max_work_item_sizes[1]) l1 *= 2;
  local[0] = l0;
  local[1] = l1;
  global[0] = ((size_t)slots + l0 - 1) / l0 * l0;
  global[1] = ((size_t)rows + l1 - 1) / l1 * l1;
  return CLATTN_SUCCESS;
}

static clattn_status marker(clattn_context *ctx, cl_command_queue queue, cl_uint n,
                            const cl_event *events, cl_event *event) {
  cl_int err = clEnqueueMarkerWithWaitList(queue, n, events, event);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clEnqueueMarkerWithWaitList", "nothing to do");
  return CLATTN_SUCCESS;
}

/* Sets the arguments, enqueues, and releases the kernel and the table in every case. */
static clattn_status launch(clattn_context *ctx, cl_command_queue queue, const char *name,
                            clattn__args *a, cl_mem table, const size_t global[2],
                            const size_t local[2], cl_uint n, const cl_event *events,
                            cl_event *event) {
  cl_int err = a->err;
  const char *call = "clSetKernelArg";
  if (err == CL_SUCCESS) {
    call = "clEnqueueNDRangeKernel";
    err = clEnqueueNDRangeKernel(queue, a->kernel, 2, NULL, global, local, n, events, event);
  }
  clReleaseKernel(a->kernel); /* the enqueued command keeps what it needs */
  if (table) clReleaseMemObject(table);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, call, "%s with %zux%zu work-items", name, global[0], global[1]);
  return CLATTN_SUCCESS;
}

clattn_status clattn__bias_rope(clattn_context *ctx, cl_command_queue queue,
                                const clattn_tensor *x, int64_t batch, int64_t heads,
                                int64_t seq, int64_t dim, cl_mem bias, uint64_t bias_offset,
                                const clattn_rope *rope, int64_t rope_heads,
                                int64_t position_offset, cl_mem positions,
                                cl_uint num_wait_events, const cl_event *wait_events,
                                cl_event *event) {
  if (!queue) queue = ctx->queue;
  if (rope_heads > heads) rope_heads = heads;
  int style = rope && rope_heads > 0 ? (int)rope->style : CLATTN_ROPE_NONE;
  if (style == CLATTN_ROPE_NONE && !bias) return marker(ctx, queue, num_wait_events, wait_events, event);

  int64_t rotary = style == CLATTN_ROPE_NONE ? 0 : rope->rotary_dim ? rope->rotary_dim : dim;
  int64_t pairs = rotary / 2, rows = batch * seq, slots = (dim + 1) / 2;
  cl_mem table = NULL;
  cl_kernel kernel = NULL;
  size_t global[2], local[2];
  clattn_status status = CLATTN_SUCCESS;
  if (pairs > 0) {
    double base = rope->base != 0.0f ? (double)rope->base : DEFAULT_BASE;
    status = make_turns(ctx, base, pairs, rotary, &table);
  }
  if (status == CLATTN_SUCCESS)
    status = get_kernel(ctx, "bias_rope", x->dtype, style, slots, rows, &kernel, global, local);
  if (status != CLATTN_SUCCESS) {
    if (table) clReleaseMemObject(table);
    return status;
  }
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_view(&a, x);
  clattn__arg_int(&a, (int)heads);
  clattn__arg_int(&a, (int)seq);
  clattn__arg_int(&a, (int)dim);
  clattn__arg_int(&a, (int)rows);
  clattn__arg_int(&a, (int)pairs);
  clattn__arg_int(&a, (int)(rope_heads < 0 ? 0 : rope_heads));
  clattn__arg_long(&a, position_offset);
  clattn__arg_buffer(&a, positions);
  clattn__arg_buffer(&a, bias);
  clattn__arg_long(&a, (int64_t)bias_offset);
  clattn__arg_buffer(&a, table);
  return launch(ctx, queue, "bias_rope", &a, table, global, local, num_wait_events, wait_events, event);
}

/* ---- public calls ---------------------------------------------------------------------- */

clattn_status clattn_rope_apply(clattn_context *ctx, cl_command_queue queue,
                                const clattn_rope *rope, const clattn_tensor *x, int64_t batch,
                                int64_t heads, int64_t seq, int64_t dim, int64_t position_offset,
                                cl_mem positions, cl_uint num_wait_events,
                                const cl_event *wait_events, cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!queue) queue = ctx->queue;
  if (!rope) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "rope must not be NULL");
  clattn_status status = check_call(ctx, queue, x, batch, heads, seq, dim, position_offset,
                                    positions, num_wait_events, wait_events);
  if (status == CLATTN_SUCCESS) status = check_rope(ctx, rope, dim);
  if (status != CLATTN_SUCCESS) return status;
  return clattn__bias_rope(ctx, queue, x, batch, heads, seq, dim, NULL, 0, rope, heads,
                           position_offset, positions, num_wait_events, wait_events, event);
}

clattn_status clattn_sinusoidal_add(clattn_context *ctx, cl_command_queue queue,
                                    const clattn_tensor *x, int64_t batch, int64_t seq,
                                    int64_t dim, int64_t position_offset, cl_mem positions,
                                    float base, cl_uint num_wait_events,
                                    const cl_event *wait_events, cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!queue) queue = ctx->queue;
  clattn_tensor flat;
  memset(&flat, 0, sizeof flat);
  if (x) {
    flat = *x;
    flat.stride_head = 0; /* ignored: one head */
  }
  clattn_status status = check_base(ctx, "base", base);
  if (status == CLATTN_SUCCESS)
    status = check_call(ctx, queue, x ? &flat : NULL, batch, 1, seq, dim, position_offset,
                        positions, num_wait_events, wait_events);
  if (status != CLATTN_SUCCESS) return status;

  int64_t pairs = (dim + 1) / 2, rows = batch * seq;
  cl_mem table = NULL;
  cl_kernel kernel = NULL;
  size_t global[2], local[2];
  status = make_turns(ctx, base != 0.0f ? (double)base : DEFAULT_BASE, pairs, dim, &table);
  /* The sinusoidal kernel lives in the interleaved RoPE program (STYLE does not affect it). */
  if (status == CLATTN_SUCCESS)
    status = get_kernel(ctx, "sinusoidal_add", flat.dtype, CLATTN_ROPE_INTERLEAVED, pairs, rows,
                        &kernel, global, local);
  if (status != CLATTN_SUCCESS) {
    if (table) clReleaseMemObject(table);
    return status;
  }
  clattn__args a = {kernel, 0, CL_SUCCESS};
  clattn__arg_buffer(&a, flat.buffer);
  clattn__arg_long(&a, (int64_t)flat.offset);
  clattn__arg_long(&a, flat.stride_batch);
  clattn__arg_long(&a, flat.stride_seq);
  clattn__arg_int(&a, (int)seq);
  clattn__arg_int(&a, (int)dim);
  clattn__arg_int(&a, (int)rows);
  clattn__arg_long(&a, position_offset);
  clattn__arg_buffer(&a, positions);
  clattn__arg_buffer(&a, table);
  return launch(ctx, queue, "sinusoidal_add", &a, table, global, local, num_wait_events,
                wait_events, event);
}
