/* Argument validation of clattn_rope_apply and clattn_sinusoidal_add: every bad input gives
 * INVALID_ARGUMENT with a message naming the argument, writes nothing (the buffer keeps its
 * bytes) and leaves *event alone. The valid baselines are checked to succeed first, so each
 * failure comes from the one thing changed. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posenc_support.h"

enum { B = 2, H = 3, S = 5, D = 8 };
#define COUNT ((size_t)B * H * S * D)

static attn_env env;
static cl_mem buffer, positions, small_positions;
static float *initial, *readback;
static const cl_event sentinel = (cl_event)(uintptr_t)0x5e57;

typedef struct args {
  clattn_context *ctx;
  cl_command_queue queue;
  clattn_rope rope;
  const clattn_rope *rope_ptr;
  clattn_tensor x;
  const clattn_tensor *x_ptr;
  int64_t batch, heads, seq, dim, position_offset;
  cl_mem positions;
  float base;
  cl_uint num_wait;
  const cl_event *wait;
} args;

static args baseline(void) {
  args a;
  memset(&a, 0, sizeof a);
  a.ctx = env.ctx;
  a.rope.style = CLATTN_ROPE_INTERLEAVED;
  a.rope.rotary_dim = 4;
  a.rope_ptr = &a.rope;
  a.x = clattn_tensor_contiguous(buffer, CLATTN_F32, CLATTN_LAYOUT_BHSD, H, S, D, 0);
  a.x_ptr = &a.x;
  a.batch = B;
  a.heads = H;
  a.seq = S;
  a.dim = D;
  a.positions = positions;
  return a;
}

static clattn_status call_rope(args *a, cl_event *event) {
  /* Pointers into `a` are re-aimed at this copy's members. */
  const clattn_rope *rope = a->rope_ptr ? &a->rope : NULL;
  const clattn_tensor *x = a->x_ptr ? &a->x : NULL;
  return clattn_rope_apply(a->ctx, a->queue, rope, x, a->batch, a->heads, a->seq, a->dim,
                           a->position_offset, a->positions, a->num_wait, a->wait, event);
}

static clattn_status call_sinusoidal(args *a, cl_event *event) {
  const clattn_tensor *x = a->x_ptr ? &a->x : NULL;
  return clattn_sinusoidal_add(a->ctx, a->queue, x, a->batch, a->seq, a->dim, a->position_offset,
                               a->positions, a->base, a->num_wait, a->wait, event);
}

static void restore(void) {
  CHECK_CL(clEnqueueWriteBuffer(env.queue, buffer, CL_TRUE, 0, COUNT * 4, initial, 0, NULL, NULL));
}

static void expect_untouched(const char *what) {
  CHECK_CL(clFinish(env.queue));
  attn_read(&env, buffer, readback, COUNT * 4);
  if (memcmp(readback, initial, COUNT * 4) != 0)
    check_fail(__FILE__, __LINE__, "%s: x was written by a failed call", what);
  check_pass();
}

/* One bad call: status INVALID_ARGUMENT (or `status`), message containing `needle`. */
static void expect_error(const char *what, int sinusoidal, args *a, clattn_status status,
                         const char *needle) {
  cl_event event = sentinel;
  clattn_status got = sinusoidal ? call_sinusoidal(a, &event) : call_rope(a, &event);
  const char *message = clattn_last_error(a->ctx);
  if (got != status)
    check_fail(__FILE__, __LINE__, "%s: got %s, expected %s (%s)", what, clattn_status_name(got),
               clattn_status_name(status), message);
  if (!strstr(message, needle))
    check_fail(__FILE__, __LINE__, "%s: message \"%s\" does not name \"%s\"", what, message, needle);
  if (event != sentinel) check_fail(__FILE__, __LINE__, "%s: *event was written", what);
  check_pass();
  expect_untouched(what);
  printf("  %-44s -> %s\n", what, message);
}

int main(void) {
  attn_env_init(&env);
  initial = malloc(COUNT * 4);
  readback = malloc(COUNT * 4);
  CHECK(initial && readback);
  ref_rng rng;
  ref_rng_seed(&rng, 5);
  ref_rng_fill_normal(&rng, initial, COUNT, 1.0);
  buffer = attn_buffer(&env, initial, COUNT * 4);
  int32_t pos[B] = {1, 2};
  positions = attn_buffer(&env, pos, sizeof pos);
  small_positions = attn_buffer(&env, pos, sizeof pos - 1);

  /* The baselines work (and write x). */
  args a = baseline();
  cl_event event = NULL;
  CHECK_OK(env.ctx, call_rope(&a, &event));
  CHECK_CL(clWaitForEvents(1, &event));
  clReleaseEvent(event);
  a = baseline();
  CHECK_OK(env.ctx, call_sinusoidal(&a, NULL));
  CHECK_CL(clFinish(env.queue));
  attn_read(&env, buffer, readback, COUNT * 4);
  CHECK(memcmp(readback, initial, COUNT * 4) != 0);
  restore();

  const clattn_status BAD = CLATTN_INVALID_ARGUMENT;
  for (int sin = 0; sin < 2; sin++) {
    printf("%s:\n", sin ? "clattn_sinusoidal_add" : "clattn_rope_apply");
    a = baseline();
    a.ctx = NULL;
    cl_event e = sentinel;
    CHECK_STATUS(NULL, sin ? call_sinusoidal(&a, &e) : call_rope(&a, &e), BAD);
    CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
    CHECK(e == sentinel);

    a = baseline(); a.x_ptr = NULL;
    expect_error("x NULL", sin, &a, BAD, "x must not be NULL");
    a = baseline(); a.x.buffer = NULL;
    expect_error("x.buffer NULL", sin, &a, BAD, "x.buffer");
    a = baseline(); a.x.dtype = (clattn_dtype)7;
    expect_error("x.dtype invalid", sin, &a, BAD, "x.dtype");
    a = baseline(); a.batch = 0;
    expect_error("batch 0", sin, &a, BAD, "batch");
    if (!sin) {
      a = baseline(); a.heads = -1;
      expect_error("heads -1", sin, &a, BAD, "heads");
    }
    a = baseline(); a.seq = 0;
    expect_error("seq 0", sin, &a, BAD, "seq");
    a = baseline(); a.dim = 0;
    expect_error("dim 0", sin, &a, BAD, "dim");
    a = baseline(); a.seq = (int64_t)1 << 31;
    expect_error("seq 2^31", sin, &a, BAD, "seq");
    a = baseline(); a.x.offset = sin ? (H - 1) * S * D + 1 : 1;
    expect_error("view past its buffer (offset)", sin, &a, BAD, "x reaches past the end");
    a = baseline(); a.seq = sin ? H * S + 1 : S + 1;
    expect_error("view past its buffer (seq)", sin, &a, BAD, "x reaches past the end");
    a = baseline(); a.x.stride_seq = -D;
    expect_error("negative stride", sin, &a, BAD, "x has a negative stride");
    a = baseline(); a.x.stride_seq = 0;
    expect_error("overlapping elements", sin, &a, BAD, "x's strides");
    a = baseline(); a.positions = small_positions;
    expect_error("positions too small", sin, &a, BAD, "positions holds 7 bytes");
    a = baseline(); a.positions = buffer;
    expect_error("positions inside x", sin, &a, BAD, "positions overlaps x");
    a = baseline(); a.position_offset = INT64_MAX - 2;
    expect_error("position_offset huge", sin, &a, BAD, "position_offset");
    a = baseline(); a.num_wait = 1;
    expect_error("wait list NULL with a count", sin, &a, BAD, "wait_events");
    a = baseline(); a.wait = &sentinel;
    expect_error("wait list without a count", sin, &a, BAD, "wait_events");
    if (sin) {
      a = baseline(); a.base = -2.0f;
      expect_error("base negative", sin, &a, BAD, "base");
      a = baseline(); a.base = NAN;
      expect_error("base NaN", sin, &a, BAD, "base");
      continue;
    }
    a = baseline(); a.rope_ptr = NULL;
    expect_error("rope NULL", sin, &a, BAD, "rope must not be NULL");
    a = baseline(); a.rope.style = (clattn_rope_style)3;
    expect_error("rope style 3", sin, &a, BAD, "rope->style");
    a = baseline(); a.rope.style = (clattn_rope_style)-1;
    expect_error("rope style -1", sin, &a, BAD, "rope->style");
    a = baseline(); a.rope.rotary_dim = 3;
    expect_error("odd rotary_dim", sin, &a, BAD, "rope->rotary_dim = 3");
    a = baseline(); a.rope.rotary_dim = D + 2;
    expect_error("rotary_dim > dim", sin, &a, BAD, "rope->rotary_dim = 10");
    a = baseline(); a.rope.rotary_dim = -2;
    expect_error("rotary_dim negative", sin, &a, BAD, "rope->rotary_dim = -2");
    a = baseline(); a.rope.rotary_dim = 0; a.dim = D - 1; a.x.stride_seq = D;
    expect_error("whole head of odd dim", sin, &a, BAD, "rope->rotary_dim = 0");
    a = baseline(); a.rope.base = -1.0f;
    expect_error("rope base negative", sin, &a, BAD, "rope->base");
    a = baseline(); a.rope.base = INFINITY;
    expect_error("rope base infinite", sin, &a, BAD, "rope->base");
  }

  /* A queue of another OpenCL context. */
  cl_int err;
  cl_context other = clCreateContext(NULL, 1, &env.device, NULL, NULL, &err);
  CHECK_CL(err);
  cl_command_queue foreign = clCreateCommandQueue(other, env.device, 0, &err);
  CHECK_CL(err);
  a = baseline();
  a.queue = foreign;
  expect_error("queue of another context", 0, &a, BAD, "queue");
  a = baseline();
  a.queue = foreign;
  expect_error("queue of another context", 1, &a, BAD, "queue");
  clReleaseCommandQueue(foreign);
  clReleaseContext(other);

  /* Style NONE is valid and does nothing (the event still comes back), but the rest of the
   * rope is validated all the same. */
  a = baseline();
  a.rope.style = CLATTN_ROPE_NONE;
  a.rope.rotary_dim = 3;
  event = sentinel;
  CHECK_STATUS(env.ctx, call_rope(&a, &event), BAD);
  a.rope.rotary_dim = 0;
  event = NULL;
  CHECK_OK(env.ctx, call_rope(&a, &event));
  CHECK(event != NULL);
  CHECK_CL(clWaitForEvents(1, &event));
  clReleaseEvent(event);
  expect_untouched("style NONE");

  clReleaseMemObject(buffer);
  clReleaseMemObject(positions);
  clReleaseMemObject(small_positions);
  free(initial);
  free(readback);
  attn_env_destroy(&env);
  return check_done("test_posenc_errors");
}
