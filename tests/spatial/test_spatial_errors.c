/* clattn_attention_spatial's argument validation: every refused call returns the status,
 * names the argument in clattn_last_error, and writes nothing (outputs keep their canary
 * bytes). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "attn_harness.h"

#define B 2
#define SQ 3
#define H 3
#define W 5
#define C 8
#define HW (H * W)
#define CANARY 0x5a

typedef struct setup {
  clattn_attention_desc desc;
  clattn_tensor q, o, w;
  clattn_feature_map map;
} setup;

static cl_mem q_buf, map_buf, o_buf, w_buf, small_buf;

static setup valid(void) {
  setup s;
  clattn_attention_desc_init(&s.desc);
  s.desc.batch = B;
  s.desc.q_len = SQ;
  s.q = clattn_tensor_contiguous(q_buf, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, SQ, C, 0);
  s.o = clattn_tensor_contiguous(o_buf, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, SQ, C, 0);
  s.w = clattn_tensor_contiguous(w_buf, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, SQ, HW, 0);
  clattn_feature_map m = {map_buf, CLATTN_F32, 0, CLATTN_MAP_NHWC, H, W, C, 0};
  s.map = m;
  return s;
}

/* Calls with `s` and expects `status` with `needle` in the message and untouched outputs. */
static void expect(attn_env *env, const setup *s, int with_weights, clattn_status status,
                   const char *needle) {
  CHECK_STATUS(env->ctx,
               clattn_attention_spatial(env->ctx, NULL, &s->desc, &s->q, &s->map, &s->o,
                                        with_weights ? &s->w : NULL, 0, NULL, NULL),
               status);
  CHECK_CONTAINS(clattn_last_error(env->ctx), needle);
  CHECK_CL(clFinish(env->queue));
  unsigned char bytes[B * SQ * HW * 4];
  cl_mem outs[2] = {o_buf, w_buf};
  size_t sizes[2] = {B * SQ * C * 4, B * SQ * HW * 4};
  for (int i = 0; i < 2; i++) {
    attn_read(env, outs[i], bytes, sizes[i]);
    for (size_t n = 0; n < sizes[i]; n++)
      if (bytes[n] != CANARY) check_fail(__FILE__, __LINE__, "output %d byte %zu written", i, n);
  }
  check_pass();
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  float q[B * SQ * C], map[B * HW * C];
  unsigned char canary[B * SQ * HW * 4];
  for (int n = 0; n < B * SQ * C; n++) q[n] = (float)(n % 7) - 3.0f;
  for (int n = 0; n < B * HW * C; n++) map[n] = (float)(n % 5) - 2.0f;
  memset(canary, CANARY, sizeof canary);
  q_buf = attn_buffer(&env, q, sizeof q);
  map_buf = attn_buffer(&env, map, sizeof map);
  o_buf = attn_buffer(&env, canary, sizeof canary); /* room for a weights view too */
  w_buf = attn_buffer(&env, canary, sizeof canary);
  small_buf = attn_buffer(&env, NULL, 4);
  for (int layout = 0; layout < 2; layout++) {
    setup s = valid();
    s.map.layout = (clattn_map_layout)layout;
    printf("layout %s\n", layout ? "NCHW" : "NHWC");

    CHECK_STATUS(env.ctx, clattn_attention_spatial(NULL, NULL, &s.desc, &s.q, &s.map, &s.o, NULL,
                                                   0, NULL, NULL),
                 CLATTN_INVALID_ARGUMENT);
    CHECK_STATUS(env.ctx, clattn_attention_spatial(env.ctx, NULL, &s.desc, &s.q, NULL, &s.o,
                                                   NULL, 0, NULL, NULL),
                 CLATTN_INVALID_ARGUMENT);
    CHECK_CONTAINS(clattn_last_error(env.ctx), "map must not be NULL");

    s = valid(), s.map.layout = (clattn_map_layout)layout, s.desc.batch = 0;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "desc->batch");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.desc.q_len = -1;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "desc->q_len");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.map.buffer = NULL;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map->buffer");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.map.height = 0;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map->height");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.map.width = -3;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map->width");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.map.height = s.map.width = 70000;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map->height * map->width");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.map.channels = 513;
    expect(&env, &s, 1, CLATTN_UNSUPPORTED, "map->channels");
    s = valid(), s.map.layout = (clattn_map_layout)7;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map->layout");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.map.stride_batch = -1;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map->stride_batch");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.map.offset = 1;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map reaches past the end");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.map.buffer = small_buf;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map reaches past the end");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.o.buffer = map_buf;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "o overlaps map");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.q.offset = 1;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "q reaches past the end");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.o.stride_seq = 1;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "o's strides make elements overlap");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.desc.softcap = -1.0f;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "desc->softcap");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.desc.kv_lens = small_buf;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "desc->kv_lens");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.w.offset = 1;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "weights reaches past the end");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.w.stride_seq = 2;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "weights's strides");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.w.buffer = map_buf;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "weights overlaps map");
    s = valid(), s.map.layout = (clattn_map_layout)layout, s.desc.kv_lens = w_buf;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "weights overlaps desc->kv_lens");
    s = valid(), s.map.layout = (clattn_map_layout)layout;
    s.w.buffer = o_buf;
    expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "weights overlaps o");
    s = valid(), s.map.layout = (clattn_map_layout)layout;
    CHECK_STATUS(env.ctx, clattn_attention_spatial(env.ctx, NULL, &s.desc, &s.q, &s.map, &s.o,
                                                   NULL, 1, NULL, NULL),
                 CLATTN_INVALID_ARGUMENT);
    CHECK_CONTAINS(clattn_last_error(env.ctx), "wait_events");
  }

  /* What only the NCHW path refuses. */
  setup s = valid();
  s.map.layout = CLATTN_MAP_NCHW;
  s.map.dtype = CLATTN_F16;
  expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "map->dtype must be CLATTN_F32");
  s = valid(), s.map.layout = CLATTN_MAP_NCHW, s.q.dtype = CLATTN_F16;
  expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "q.dtype must be CLATTN_F32");
  s = valid(), s.map.layout = CLATTN_MAP_NCHW, s.o.dtype = CLATTN_BF16;
  expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "o.dtype must be CLATTN_F32");
  s = valid(), s.map.layout = CLATTN_MAP_NCHW, s.q.stride_seq = 0;
  expect(&env, &s, 1, CLATTN_INVALID_ARGUMENT, "q.stride_seq");
  s = valid(), s.map.layout = CLATTN_MAP_NCHW;
  clattn_mask m = {CLATTN_MASK_BOOL, w_buf, 0, 0, 0, 0};
  s.desc.mask = m;
  expect(&env, &s, 0, CLATTN_INVALID_ARGUMENT, "desc->mask is not supported with CLATTN_MAP_NCHW");
  s = valid(), s.map.layout = CLATTN_MAP_NCHW, s.desc.alibi_slopes = w_buf;
  expect(&env, &s, 0, CLATTN_INVALID_ARGUMENT, "desc->alibi_slopes is not supported");
  /* The same descriptors are fine for NHWC (f16 map, mask, broadcast Q rows). */
  s = valid(), s.map.dtype = CLATTN_F16, s.q.stride_seq = 0;
  CHECK_OK(env.ctx, clattn_attention_spatial(env.ctx, NULL, &s.desc, &s.q, &s.map, &s.o, NULL, 0,
                                             NULL, NULL));
  CHECK_CL(clFinish(env.queue));

  cl_mem all[5] = {q_buf, map_buf, o_buf, w_buf, small_buf};
  for (int i = 0; i < 5; i++) clReleaseMemObject(all[i]);
  attn_env_destroy(&env);
  return check_done("test_spatial_errors");
}
