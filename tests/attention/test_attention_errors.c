/* Argument validation of clattn_attention_forward: every bad input gives its specific
 * status and a message naming the argument, enqueues nothing and writes nothing (O and LSE
 * keep their canaries, *event keeps its old value). The valid baseline used by every case
 * is checked to succeed first, so each failure comes from the one thing changed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

enum { B = 2, HQ = 4, HKV = 2, SQ = 17, SKV = 33, D = 64 };
#define NQ ((size_t)B * HQ * SQ * D)
#define NK ((size_t)B * HKV * SKV * D)
#define NL ((size_t)B * HQ * SQ)

typedef struct fixture {
  attn_env env;
  cl_mem q, k, v, o, lse, kv_lens, q_lens, mask, small, slopes_short;
  clattn_attention_desc desc;
  clattn_tensor tq, tk, tv, to, tl;
  float *canary_o, *canary_l, *readback;
} fixture;

static fixture fx;
static const cl_event sentinel_event = (cl_event)(uintptr_t)0x5e57;

static void fill_canary(void) {
  CHECK_CL(clEnqueueWriteBuffer(fx.env.queue, fx.o, CL_TRUE, 0, NQ * 4, fx.canary_o, 0, NULL, NULL));
  CHECK_CL(clEnqueueWriteBuffer(fx.env.queue, fx.lse, CL_TRUE, 0, NL * 4, fx.canary_l, 0, NULL, NULL));
}

static void expect_untouched(const char *what) {
  CHECK_CL(clFinish(fx.env.queue));
  attn_read(&fx.env, fx.o, fx.readback, NQ * 4);
  if (memcmp(fx.readback, fx.canary_o, NQ * 4) != 0)
    check_fail(__FILE__, __LINE__, "%s: O was written by a failed call", what);
  attn_read(&fx.env, fx.lse, fx.readback, NL * 4);
  if (memcmp(fx.readback, fx.canary_l, NL * 4) != 0)
    check_fail(__FILE__, __LINE__, "%s: LSE was written by a failed call", what);
  check_pass();
}

static void reset(void) {
  clattn_attention_desc_init(&fx.desc);
  fx.desc.batch = B;
  fx.desc.q_heads = HQ;
  fx.desc.kv_heads = HKV;
  fx.desc.q_len = SQ;
  fx.desc.kv_len = SKV;
  fx.desc.head_dim = D;
  fx.tq = clattn_tensor_contiguous(fx.q, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ, D, 0);
  fx.tk = clattn_tensor_contiguous(fx.k, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, D, 0);
  fx.tv = clattn_tensor_contiguous(fx.v, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, D, 0);
  fx.to = clattn_tensor_contiguous(fx.o, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ, D, 0);
  fx.tl = clattn_tensor_contiguous(fx.lse, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ, 1, 0);
}

/* Calls forward with the fixture's current arguments (any may be replaced by the macro
 * below) and checks status, message and that nothing was written. */
static void expect_failure(const char *what, int line, clattn_context *ctx,
                           cl_command_queue queue, const clattn_attention_desc *desc,
                           const clattn_tensor *q, const clattn_tensor *k, const clattn_tensor *v,
                           const clattn_tensor *o, const clattn_tensor *lse, cl_uint nwait,
                           const cl_event *wait, clattn_status expected, const char *needle) {
  fill_canary();
  cl_event event = sentinel_event;
  clattn_status status =
      clattn_attention_forward(ctx, queue, desc, q, k, v, o, lse, nwait, wait, &event);
  const char *message = clattn_last_error(ctx);
  if (status != expected)
    check_fail(__FILE__, line, "%s: got %s, expected %s (message: %s)", what,
               clattn_status_name(status), clattn_status_name(expected), message);
  if (!strstr(message, needle))
    check_fail(__FILE__, line, "%s: message \"%s\" does not name \"%s\"", what, message, needle);
  if (event != sentinel_event)
    check_fail(__FILE__, line, "%s: *event was written by a failed call", what);
  check_pass();
  expect_untouched(what);
  printf("  %-52s %-24s \"%s\"\n", what, clattn_status_name(status), message);
  reset();
}

#define FAIL_WITH(what, expected, needle)                                                    \
  expect_failure(what, __LINE__, fx.env.ctx, NULL, &fx.desc, &fx.tq, &fx.tk, &fx.tv, &fx.to, \
                 &fx.tl, 0, NULL, expected, needle)
#define INVALID(what, needle) FAIL_WITH(what, CLATTN_INVALID_ARGUMENT, needle)

static void baseline_succeeds(void) {
  fill_canary();
  cl_event event = NULL;
  CHECK_OK(fx.env.ctx, clattn_attention_forward(fx.env.ctx, NULL, &fx.desc, &fx.tq, &fx.tk, &fx.tv,
                                                &fx.to, &fx.tl, 0, NULL, &event));
  CHECK(event != NULL);
  CHECK_CL(clWaitForEvents(1, &event));
  CHECK_CL(clReleaseEvent(event));
  attn_read(&fx.env, fx.o, fx.readback, NQ * 4);
  CHECK(memcmp(fx.readback, fx.canary_o, NQ * 4) != 0); /* it did write */
}

static void null_arguments(void) {
  printf("null arguments:\n");
  expect_failure("ctx NULL", __LINE__, NULL, NULL, &fx.desc, &fx.tq, &fx.tk, &fx.tv, &fx.to, &fx.tl,
                 0, NULL, CLATTN_INVALID_ARGUMENT, "ctx");
  expect_failure("desc NULL", __LINE__, fx.env.ctx, NULL, NULL, &fx.tq, &fx.tk, &fx.tv, &fx.to,
                 &fx.tl, 0, NULL, CLATTN_INVALID_ARGUMENT, "desc");
  expect_failure("q NULL", __LINE__, fx.env.ctx, NULL, &fx.desc, NULL, &fx.tk, &fx.tv, &fx.to,
                 &fx.tl, 0, NULL, CLATTN_INVALID_ARGUMENT, "q must");
  expect_failure("k NULL", __LINE__, fx.env.ctx, NULL, &fx.desc, &fx.tq, NULL, &fx.tv, &fx.to,
                 &fx.tl, 0, NULL, CLATTN_INVALID_ARGUMENT, "k must");
  expect_failure("v NULL", __LINE__, fx.env.ctx, NULL, &fx.desc, &fx.tq, &fx.tk, NULL, &fx.to,
                 &fx.tl, 0, NULL, CLATTN_INVALID_ARGUMENT, "v must");
  expect_failure("o NULL", __LINE__, fx.env.ctx, NULL, &fx.desc, &fx.tq, &fx.tk, &fx.tv, NULL,
                 &fx.tl, 0, NULL, CLATTN_INVALID_ARGUMENT, "o must");
  fx.tq.buffer = NULL;
  INVALID("q.buffer NULL", "q.buffer");
  fx.tk.buffer = NULL;
  INVALID("k.buffer NULL", "k.buffer");
  fx.tv.buffer = NULL;
  INVALID("v.buffer NULL", "v.buffer");
  fx.to.buffer = NULL;
  INVALID("o.buffer NULL", "o.buffer");
  fx.tl.buffer = NULL;
  INVALID("lse.buffer NULL", "lse.buffer");
  fx.desc.mask.type = CLATTN_MASK_BOOL;
  INVALID("mask.buffer NULL", "mask");
}

static void sizes(void) {
  printf("sizes:\n");
  fx.desc.batch = 0;
  INVALID("batch 0", "batch");
  fx.desc.batch = -1;
  INVALID("batch -1", "batch");
  fx.desc.q_heads = 0;
  INVALID("q_heads 0", "q_heads");
  fx.desc.kv_heads = -2;
  INVALID("kv_heads -2", "kv_heads");
  fx.desc.q_len = 0;
  INVALID("q_len 0", "q_len");
  fx.desc.kv_len = -1;
  INVALID("kv_len -1", "kv_len");
  fx.desc.head_dim = 0;
  INVALID("head_dim 0", "head_dim");
  fx.desc.head_dim = -64;
  INVALID("head_dim -64", "head_dim");
  fx.desc.v_head_dim = -1;
  INVALID("v_head_dim -1", "v_head_dim");
  fx.desc.q_len = (int64_t)INT32_MAX + 1;
  INVALID("q_len 2^31", "q_len");
  fx.desc.batch = 1 << 16;
  fx.desc.q_heads = 1 << 16;
  fx.desc.kv_heads = 1;
  INVALID("batch * q_heads 2^32", "batch");
  fx.desc.q_heads = 4;
  fx.desc.kv_heads = 3;
  INVALID("q_heads 4, kv_heads 3", "q_heads");
  fx.desc.kv_heads = 8;
  INVALID("kv_heads 8 > q_heads 4", "kv_heads");
  fx.desc.head_dim = CLATTN_MAX_HEAD_DIM + 1;
  FAIL_WITH("head_dim 513", CLATTN_UNSUPPORTED, "head_dim");
  fx.desc.v_head_dim = CLATTN_MAX_HEAD_DIM + 1;
  FAIL_WITH("v_head_dim 513", CLATTN_UNSUPPORTED, "v_head_dim");
}

static void scalars(void) {
  printf("scalars:\n");
  fx.desc.softcap = -1.0f;
  INVALID("softcap -1", "softcap");
  fx.desc.softcap = (float)NAN;
  INVALID("softcap NaN", "softcap");
  fx.desc.softcap = (float)INFINITY;
  INVALID("softcap inf", "softcap");
  fx.desc.scale = (float)NAN;
  INVALID("scale NaN", "scale");
  fx.desc.scale = (float)-INFINITY;
  INVALID("scale -inf", "scale");
  fx.desc.window_left = -2;
  INVALID("window_left -2", "window_left");
  fx.desc.window_right = -100;
  INVALID("window_right -100", "window_right");
  fx.desc.alignment = (clattn_alignment)5;
  INVALID("alignment 5", "alignment");
  fx.desc.kv_splits = -1;
  INVALID("kv_splits -1", "kv_splits");
}

static void views(void) {
  printf("views:\n");
  fx.tq.stride_seq = -D;
  INVALID("q.stride_seq negative", "q");
  fx.tk.stride_batch = -1;
  INVALID("k.stride_batch negative", "k");
  fx.tv.stride_head = -1;
  INVALID("v.stride_head negative", "v");
  fx.to.stride_seq = -1;
  INVALID("o.stride_seq negative", "o");
  fx.tl.stride_batch = -5;
  INVALID("lse.stride_batch negative", "lse");
  fx.tq.offset = 1;
  INVALID("q one element past its buffer", "q reaches past");
  fx.tk.stride_seq = D + 1;
  INVALID("k rows past its buffer", "k reaches past");
  fx.tv.offset = ((uint64_t)1 << 63) - 1;
  INVALID("v.offset 2^63-1", "v reaches past");
  fx.to.offset = UINT64_MAX;
  INVALID("o.offset 2^64-1", "o reaches past");
  fx.tq.offset = UINT64_MAX / 4 + 1; /* element offset whose byte offset overflows */
  INVALID("q byte offset overflows 64 bits", "q reaches past");
  fx.tk.stride_batch = INT64_MAX;
  INVALID("k.stride_batch INT64_MAX", "k reaches past");
  fx.tv.stride_seq = (int64_t)1 << 62;
  INVALID("v.stride_seq 2^62", "v reaches past");
  fx.tl.offset = NL;
  INVALID("lse past its buffer", "lse reaches past");
  fx.to.dtype = (clattn_dtype)7;
  INVALID("o.dtype 7", "o.dtype");
  fx.tl.dtype = CLATTN_F16;
  INVALID("lse dtype f16", "lse.dtype");
  fx.tl.dtype = CLATTN_BF16;
  INVALID("lse dtype bf16", "lse.dtype");
  fx.tq.dtype = (clattn_dtype)-1;
  INVALID("q.dtype -1", "q.dtype");
}

static void overlaps(void) {
  printf("overlapping outputs:\n");
  fx.to.stride_seq = D - 1;
  INVALID("o rows overlap (stride_seq < Dv)", "o's strides");
  fx.to.stride_head = 0;
  INVALID("o.stride_head 0 (broadcast output)", "o's strides");
  fx.to.stride_batch = D; /* batch b, row 1 of head 0 and batch b+1 coincide */
  INVALID("o.stride_batch = one row", "o's strides");
  fx.tl.stride_seq = 0;
  INVALID("lse.stride_seq 0", "lse's strides");
  /* Inputs may broadcast (stride 0 is fine there): only outputs must be disjoint. */
  fx.tk = clattn_tensor_contiguous(fx.o, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, D, 0);
  INVALID("o overlaps k in the same buffer", "o overlaps k");
  fx.tv = clattn_tensor_contiguous(fx.o, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, D, 7);
  INVALID("o overlaps v in the same buffer", "o overlaps v");
  fx.tl = clattn_tensor_contiguous(fx.o, CLATTN_F32, CLATTN_LAYOUT_BHSD, HQ, SQ, 1, NQ - NL);
  INVALID("lse overlaps the end of o", "overlaps lse");
  /* Same buffer and footprint, other strides: not the identical in-place view. */
  fx.tq = clattn_tensor_contiguous(fx.o, CLATTN_F32, CLATTN_LAYOUT_BSHD, HQ, SQ, D, 0);
  INVALID("o overlaps q (BSHD view of the same buffer)", "o overlaps q");
  /* The identical view is allowed only with Dv = D: O = Q in place with Dv < D overlaps. */
  fx.desc.v_head_dim = 32;
  fx.tv = clattn_tensor_contiguous(fx.v, CLATTN_F32, CLATTN_LAYOUT_BHSD, HKV, SKV, 32, 0);
  fx.to.stride_head = SQ * D;
  fx.to.stride_batch = HQ * SQ * D;
  fx.tq = fx.to;
  INVALID("o = q view but Dv != D", "o overlaps q");
}

static void lengths_masks_events(void) {
  printf("lengths, masks, wait lists, queues:\n");
  fx.desc.kv_lens = fx.small;
  INVALID("kv_lens buffer of 4*B-1 bytes", "kv_lens");
  fx.desc.q_lens = fx.small;
  INVALID("q_lens buffer of 4*B-1 bytes", "q_lens");
  fx.desc.mask.type = (clattn_mask_type)3;
  fx.desc.mask.buffer = fx.mask;
  INVALID("mask.type 3", "mask.type");
  fx.desc.mask.type = CLATTN_MASK_ADDITIVE; /* a bool-sized buffer is too small for floats */
  fx.desc.mask.buffer = fx.mask;
  fx.desc.mask.stride_batch = HQ * SQ * SKV;
  fx.desc.mask.stride_head = SQ * SKV;
  fx.desc.mask.stride_query = SKV;
  INVALID("additive mask in a bool-sized buffer", "mask reaches past");
  fx.desc.mask.type = CLATTN_MASK_BOOL;
  fx.desc.mask.buffer = fx.mask;
  fx.desc.mask.stride_query = -SKV;
  INVALID("mask.stride_query negative", "mask");
  fx.desc.mask.type = CLATTN_MASK_BOOL;
  fx.desc.mask.buffer = fx.mask;
  fx.desc.mask.stride_query = SKV;
  fx.desc.mask.stride_head = SQ * SKV;
  fx.desc.mask.stride_batch = HQ * SQ * SKV;
  fx.desc.mask.offset = 1;
  INVALID("bool mask one past its buffer", "mask reaches past");

  /* Outputs must not share memory with any input the kernel reads: a mask, or lengths. */
  fx.desc.mask.type = CLATTN_MASK_BOOL;
  fx.desc.mask.buffer = fx.o;
  fx.desc.mask.stride_query = SKV;
  INVALID("mask tensor inside o's buffer", "o overlaps desc->mask");
  fx.desc.kv_lens = fx.lse;
  INVALID("kv_lens inside lse's buffer", "lse overlaps desc->kv_lens");
  fx.desc.q_lens = fx.o;
  INVALID("q_lens inside o's buffer", "o overlaps desc->q_lens");

  /* ALiBi slopes: Hq float32 values, read by the kernel. */
  fx.desc.alibi_slopes = fx.small;
  INVALID("alibi_slopes buffer of 4*B-1 bytes", "desc->alibi_slopes");
  fx.desc.alibi_slopes = fx.slopes_short;
  INVALID("alibi_slopes buffer of 4*Hq-1 bytes", "desc->alibi_slopes holds 15 bytes");
  fx.desc.alibi_slopes = fx.lse;
  INVALID("alibi_slopes inside lse's buffer", "lse overlaps desc->alibi_slopes");
  fx.desc.alibi_slopes = fx.o;
  INVALID("alibi_slopes inside o's buffer", "o overlaps desc->alibi_slopes");

  cl_event user = clCreateUserEvent(fx.env.cl, NULL);
  CHECK(user != NULL);
  expect_failure("num_wait_events 1, wait_events NULL", __LINE__, fx.env.ctx, NULL, &fx.desc,
                 &fx.tq, &fx.tk, &fx.tv, &fx.to, &fx.tl, 1, NULL, CLATTN_INVALID_ARGUMENT,
                 "wait_events");
  expect_failure("num_wait_events 0, wait_events set", __LINE__, fx.env.ctx, NULL, &fx.desc,
                 &fx.tq, &fx.tk, &fx.tv, &fx.to, &fx.tl, 0, &user, CLATTN_INVALID_ARGUMENT,
                 "wait_events");
  CHECK_CL(clSetUserEventStatus(user, CL_COMPLETE));
  CHECK_CL(clReleaseEvent(user));

  /* A queue of another OpenCL context on the same device. */
  cl_int err = CL_SUCCESS;
  cl_context other = clCreateContext(NULL, 1, &fx.env.device, NULL, NULL, &err);
  CHECK_CL(err);
  cl_command_queue foreign = clCreateCommandQueue(other, fx.env.device, 0, &err);
  CHECK_CL(err);
  expect_failure("queue of another cl_context", __LINE__, fx.env.ctx, foreign, &fx.desc, &fx.tq,
                 &fx.tk, &fx.tv, &fx.to, &fx.tl, 0, NULL, CLATTN_INVALID_ARGUMENT, "queue");
  CHECK_CL(clReleaseCommandQueue(foreign));
  CHECK_CL(clReleaseContext(other));
}

int main(void) {
  attn_env_init(&fx.env);
  float *zeros = calloc(NQ, sizeof *zeros);
  fx.canary_o = malloc(NQ * 4);
  fx.canary_l = malloc(NL * 4);
  fx.readback = malloc(NQ * 4);
  CHECK(zeros && fx.canary_o && fx.canary_l && fx.readback);
  memset(fx.canary_o, 0xC3, NQ * 4);
  memset(fx.canary_l, 0xC3, NL * 4);
  fx.q = attn_buffer(&fx.env, zeros, NQ * 4);
  fx.k = attn_buffer(&fx.env, zeros, NK * 4);
  fx.v = attn_buffer(&fx.env, zeros, NK * 4);
  fx.o = attn_buffer(&fx.env, NULL, NQ * 4);
  fx.lse = attn_buffer(&fx.env, NULL, NL * 4);
  fx.small = attn_buffer(&fx.env, zeros, 4 * B - 1);
  fx.slopes_short = attn_buffer(&fx.env, zeros, 4 * HQ - 1);
  fx.mask = attn_buffer(&fx.env, NULL, (size_t)B * HQ * SQ * SKV);
  reset();
  CHECK_OK(fx.env.ctx, clattn__attention_set_override(fx.env.ctx, &ATTN_CPU));

  printf("the valid baseline:\n");
  baseline_succeeds();
  null_arguments();
  sizes();
  scalars();
  views();
  overlaps();
  lengths_masks_events();
  printf("the valid baseline again:\n");
  baseline_succeeds();

  cl_mem all[] = {fx.q, fx.k, fx.v, fx.o, fx.lse, fx.small, fx.mask, fx.slopes_short};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) clReleaseMemObject(all[i]);
  free(zeros);
  free(fx.canary_o);
  free(fx.canary_l);
  free(fx.readback);
  attn_env_destroy(&fx.env);
  return check_done("test_attention_errors");
}
