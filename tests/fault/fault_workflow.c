#include "fault_workflow.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fault_cl.h"
#include "ref_random.h"

/* Shapes: small, and missing every tile size. */
enum { HQ = 4, HKV = 2, D = 16, S = 33, SKV_DECODE = 256 };
enum { KV_BATCH = 2, KV_CAPACITY = 16, KV_NEW = 3, PAGED_NEW = 5, BLOCK = 4 };
enum { E = 16, MHA_HEADS = 4, MHA_KV_HEADS = 2, MHA_D = 4, MHA_SEQ = 9, STEP_TOKENS = 3 };
enum { ROPE_HEADS = 2, ROPE_SEQ = 5 };

enum { IN_Q, IN_K, IN_V, IN_Q1, IN_KD, IN_VD, IN_KNEW, IN_VNEW, IN_Q3, IN_KNEW5, IN_VNEW5,
       IN_Q1P, IN_X, IN_XS, IN_COUNT };
enum { OUT_FUSED, OUT_LSE, OUT_DECODE, OUT_WEIGHTS, OUT_KV, OUT_PAGED, OUT_Y, OUT_YW,
       OUT_STEP1, OUT_STEP2, OUT_ROPE, OUT_COUNT };

static const int32_t PAGED_COUNTS[KV_BATCH] = {5, 2};

static float *floats(size_t n) {
  float *p = calloc(n ? n : 1, sizeof *p);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory");
  return p;
}

static cl_mem buffer(fw *w, const float *data, size_t n) {
  cl_int err;
  cl_mem b = clCreateBuffer(w->cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, n * sizeof(float),
                            (void *)data, &err);
  if (!b) check_fail(__FILE__, __LINE__, "clCreateBuffer: %s", clattn_cl_error_name(err));
  return b;
}

static cl_mem random_input(fw *w, ref_rng *rng, size_t n) {
  float *data = floats(n);
  ref_rng_fill_normal(rng, data, n, 1.0);
  cl_mem b = buffer(w, data, n);
  free(data);
  return b;
}

/* An output of `n` floats plus canaries; `initial` NULL: NaN (an output must overwrite it). */
static void add_output(fw *w, int index, const char *name, size_t n, const float *initial) {
  fw_output *o = &w->out[index];
  o->name = name;
  o->floats = n + FW_CANARY;
  o->initial = floats(o->floats);
  o->golden = floats(o->floats);
  o->seen = floats(o->floats);
  for (size_t i = 0; i < o->floats; i++)
    o->initial[i] = i >= n ? 12345.678f : initial ? initial[i] : NAN;
  o->buffer = buffer(w, o->initial, o->floats);
}

void fw_init(fw *w, cl_context cl, cl_device_id device, cl_command_queue queue) {
  memset(w, 0, sizeof *w);
  w->cl = cl;
  w->device = device;
  w->queue = queue;
  clattn_context_options_init(&w->options);
  ref_rng rng;
  ref_rng_seed(&rng, 20240607);
  const size_t sizes[IN_COUNT] = {
      HQ * S * D, HKV * S * D, HKV * S * D, HQ * D, HKV * SKV_DECODE * D, HKV * SKV_DECODE * D,
      KV_BATCH * HKV * KV_NEW * D, KV_BATCH * HKV * KV_NEW * D, KV_BATCH * HQ * KV_NEW * D,
      KV_BATCH * HKV * PAGED_NEW * D, KV_BATCH * HKV * PAGED_NEW * D, KV_BATCH * HQ * D,
      MHA_SEQ * E, STEP_TOKENS * E};
  for (int i = 0; i < IN_COUNT; i++) w->in[i] = random_input(w, &rng, sizes[i]);
  float rope_input[ROPE_HEADS * ROPE_SEQ * D];
  ref_rng_fill_normal(&rng, rope_input, ROPE_HEADS * ROPE_SEQ * D, 1.0);
  add_output(w, OUT_FUSED, "fused attention O", HQ * S * D, NULL);
  add_output(w, OUT_LSE, "fused attention LSE", HQ * S, NULL);
  add_output(w, OUT_DECODE, "split-KV decode O", HQ * D, NULL);
  add_output(w, OUT_WEIGHTS, "attention weights", HQ * S * S, NULL);
  add_output(w, OUT_KV, "KV cache attention O", KV_BATCH * HQ * KV_NEW * D, NULL);
  add_output(w, OUT_PAGED, "paged KV cache attention O", KV_BATCH * HQ * D, NULL);
  add_output(w, OUT_Y, "layer Y", MHA_SEQ * E, NULL);
  add_output(w, OUT_YW, "layer weights", MHA_SEQ * MHA_SEQ, NULL);
  add_output(w, OUT_STEP1, "layer step 1 Y", 2 * E, NULL);
  add_output(w, OUT_STEP2, "layer step 2 Y", E, NULL);
  add_output(w, OUT_ROPE, "RoPE x (in place)", ROPE_HEADS * ROPE_SEQ * D, rope_input);
  w->out_count = OUT_COUNT;
  mt_layer_init(&w->layer, E, MHA_HEADS, MHA_KV_HEADS, 0, 0, 1, 77);
}

void fw_free(fw *w) {
  for (int i = 0; i < IN_COUNT; i++) clReleaseMemObject(w->in[i]);
  for (int i = 0; i < w->out_count; i++) {
    clReleaseMemObject(w->out[i].buffer);
    free(w->out[i].initial);
    free(w->out[i].golden);
    free(w->out[i].seen);
  }
  mt_layer_free(&w->layer);
  memset(w, 0, sizeof *w);
}

void fw_reset_outputs(fw *w) {
  for (int i = 0; i < w->out_count; i++)
    CHECK_CL(clEnqueueWriteBuffer(w->queue, w->out[i].buffer, CL_TRUE, 0,
                                  w->out[i].floats * sizeof(float), w->out[i].initial, 0, NULL,
                                  NULL));
}

void fw_read_outputs(fw *w) {
  CHECK_CL(clFinish(w->queue));
  for (int i = 0; i < w->out_count; i++)
    CHECK_CL(clEnqueueReadBuffer(w->queue, w->out[i].buffer, CL_TRUE, 0,
                                 w->out[i].floats * sizeof(float), w->out[i].seen, 0, NULL, NULL));
}

void fw_end_run(fw *w) {
  CHECK_CL(clFinish(w->queue));
  clattn_kv_cache_destroy(w->step_cache);
  clattn_kv_cache_destroy(w->paged);
  clattn_kv_cache_destroy(w->cache);
  clattn_mha_destroy(w->mha);
  clattn_context_destroy(w->ctx);
  w->step_cache = w->paged = w->cache = NULL;
  w->mha = NULL;
  w->ctx = NULL;
}

/* ---- the steps --------------------------------------------------------------------------- */

static clattn_tensor view(cl_mem b, int64_t heads, int64_t seq, int64_t dim, uint64_t offset) {
  return clattn_tensor_contiguous(b, CLATTN_F32, CLATTN_LAYOUT_BHSD, heads, seq, dim, offset);
}

static clattn_attention_desc attention(int64_t batch, int64_t q_len, int64_t kv_len) {
  clattn_attention_desc d;
  clattn_attention_desc_init(&d);
  d.batch = batch;
  d.q_heads = HQ;
  d.kv_heads = HKV;
  d.q_len = q_len;
  d.kv_len = kv_len;
  d.head_dim = D;
  d.causal = 1;
  return d;
}

static clattn_status context(fw *w, cl_event *event) {
  (void)event;
  return FAULT_CALL(clattn_context_create_from_cl(w->cl, w->device, &w->options, &w->ctx));
}

static clattn_status prepare(fw *w, cl_event *event) {
  (void)event;
  return FAULT_CALL(clattn_prepare_kernels(w->ctx, NULL, 0));
}

static clattn_status fused(fw *w, cl_event *event) {
  clattn_attention_desc d = attention(1, S, S);
  clattn_tensor q = view(w->in[IN_Q], HQ, S, D, 0), k = view(w->in[IN_K], HKV, S, D, 0);
  clattn_tensor v = view(w->in[IN_V], HKV, S, D, 0), o = view(w->out[OUT_FUSED].buffer, HQ, S, D, 0);
  clattn_tensor lse = view(w->out[OUT_LSE].buffer, HQ, S, 1, 0);
  return FAULT_CALL(clattn_attention_forward(w->ctx, w->queue, &d, &q, &k, &v, &o, &lse, 0, NULL, event));
}

static clattn_status decode(fw *w, cl_event *event) {
  clattn_attention_desc d = attention(1, 1, SKV_DECODE);
  d.kv_splits = 4;
  clattn_tensor q = view(w->in[IN_Q1], HQ, 1, D, 0), k = view(w->in[IN_KD], HKV, SKV_DECODE, D, 0);
  clattn_tensor v = view(w->in[IN_VD], HKV, SKV_DECODE, D, 0);
  clattn_tensor o = view(w->out[OUT_DECODE].buffer, HQ, 1, D, 0);
  return FAULT_CALL(clattn_attention_forward(w->ctx, w->queue, &d, &q, &k, &v, &o, NULL, 0, NULL, event));
}

static clattn_status weights(fw *w, cl_event *event) {
  clattn_attention_desc d = attention(1, S, S);
  clattn_tensor q = view(w->in[IN_Q], HQ, S, D, 0), k = view(w->in[IN_K], HKV, S, D, 0);
  clattn_tensor p = view(w->out[OUT_WEIGHTS].buffer, HQ, S, S, 0);
  return FAULT_CALL(clattn_attention_weights(w->ctx, w->queue, &d, &q, &k, NULL,
                                             CLATTN_WEIGHTS_PROBS, &p, 0, NULL, event));
}

static clattn_status make_cache(fw *w, int64_t block_size, clattn_kv_cache **cache) {
  clattn_kv_cache_desc d;
  clattn_kv_cache_desc_init(&d);
  d.batch = KV_BATCH;
  d.kv_heads = HKV;
  d.head_dim = D;
  d.capacity = KV_CAPACITY;
  d.block_size = block_size;
  return FAULT_CALL(clattn_kv_cache_create(w->ctx, &d, cache));
}

static clattn_status cache_create(fw *w, cl_event *event) {
  (void)event;
  return make_cache(w, 0, &w->cache);
}

static clattn_status paged_create(fw *w, cl_event *event) {
  (void)event;
  return make_cache(w, BLOCK, &w->paged);
}

static clattn_status cache_append(fw *w, cl_event *event) {
  clattn_tensor k = view(w->in[IN_KNEW], HKV, KV_NEW, D, 0), v = view(w->in[IN_VNEW], HKV, KV_NEW, D, 0);
  return FAULT_CALL(clattn_kv_cache_append(w->cache, w->queue, &k, &v, KV_NEW, NULL, 0, NULL, event));
}

static clattn_status paged_append(fw *w, cl_event *event) {
  clattn_tensor k = view(w->in[IN_KNEW5], HKV, PAGED_NEW, D, 0);
  clattn_tensor v = view(w->in[IN_VNEW5], HKV, PAGED_NEW, D, 0);
  return FAULT_CALL(clattn_kv_cache_append(w->paged, w->queue, &k, &v, PAGED_NEW, PAGED_COUNTS, 0,
                                           NULL, event));
}

static clattn_status cache_forward(fw *w, cl_event *event) {
  clattn_attention_desc d = attention(KV_BATCH, KV_NEW, 0);
  clattn_tensor q = view(w->in[IN_Q3], HQ, KV_NEW, D, 0), o = view(w->out[OUT_KV].buffer, HQ, KV_NEW, D, 0);
  return FAULT_CALL(clattn_attention_forward_kv(w->ctx, w->queue, &d, &q, w->cache, &o, NULL, 0, NULL, event));
}

static clattn_status paged_forward(fw *w, cl_event *event) {
  clattn_attention_desc d = attention(KV_BATCH, 1, 0);
  clattn_tensor q = view(w->in[IN_Q1P], HQ, 1, D, 0), o = view(w->out[OUT_PAGED].buffer, HQ, 1, D, 0);
  return FAULT_CALL(clattn_attention_forward_kv(w->ctx, w->queue, &d, &q, w->paged, &o, NULL, 0, NULL, event));
}

static clattn_status mha_create(fw *w, cl_event *event) {
  (void)event;
  clattn_mha_desc d = mt_layer_desc(&w->layer);
  d.rope.style = CLATTN_ROPE_HALF;
  d.alibi = 1;
  return FAULT_CALL(clattn_mha_create(w->ctx, &d, &w->mha));
}

static clattn_status mha_weights(fw *w, cl_event *event) {
  (void)event;
  clattn_mha_weights weights = mt_layer_weights(&w->layer, 0);
  return FAULT_CALL(clattn_mha_set_weights(w->mha, &weights));
}

static clattn_status mha_forward(fw *w, cl_event *event) {
  clattn_mha_inputs in;
  clattn_mha_inputs_init(&in);
  in.batch = 1;
  in.seq = MHA_SEQ;
  in.x = view(w->in[IN_X], 1, MHA_SEQ, E, 0);
  in.y = view(w->out[OUT_Y].buffer, 1, MHA_SEQ, E, 0);
  in.causal = 1;
  in.weights_output = CLATTN_MHA_WEIGHTS_AVERAGE;
  in.weights = view(w->out[OUT_YW].buffer, 1, MHA_SEQ, MHA_SEQ, 0);
  return FAULT_CALL(clattn_mha_forward(w->mha, w->queue, &in, 0, NULL, event));
}

static clattn_status step_cache(fw *w, cl_event *event) {
  (void)event;
  clattn_kv_cache_desc d;
  clattn_kv_cache_desc_init(&d);
  d.batch = 1;
  d.kv_heads = MHA_KV_HEADS;
  d.head_dim = MHA_D;
  d.capacity = 8;
  return FAULT_CALL(clattn_kv_cache_create(w->ctx, &d, &w->step_cache));
}

/* Steps 1 and 2 decode tokens 0-1 and then token 2 of the same sequence. */
static clattn_status mha_step(fw *w, int64_t first, int64_t n, int out, cl_event *event) {
  clattn_tensor x = view(w->in[IN_XS], 1, n, E, (uint64_t)(first * E));
  clattn_tensor y = view(w->out[out].buffer, 1, n, E, 0);
  return FAULT_CALL(clattn_mha_step(w->mha, w->queue, w->step_cache, &x, n, NULL, &y, 0, NULL, event));
}

static clattn_status step1(fw *w, cl_event *event) { return mha_step(w, 0, 2, OUT_STEP1, event); }
static clattn_status step2(fw *w, cl_event *event) { return mha_step(w, 2, 1, OUT_STEP2, event); }

static clattn_status rope(fw *w, cl_event *event) {
  clattn_rope r = {CLATTN_ROPE_INTERLEAVED, 0.0f, 0};
  clattn_tensor x = view(w->out[OUT_ROPE].buffer, ROPE_HEADS, ROPE_SEQ, D, 0);
  return FAULT_CALL(clattn_rope_apply(w->ctx, w->queue, &r, &x, 1, ROPE_HEADS, ROPE_SEQ, D, 3, NULL,
                                      0, NULL, event));
}

const fw_step FW_STEPS[] = {
    {"clattn_context_create_from_cl", context, {-1}, 0},
    {"clattn_prepare_kernels", prepare, {-1}, 0},
    {"clattn_attention_forward (fused)", fused, {OUT_FUSED, OUT_LSE, -1}, 0},
    {"clattn_attention_forward (split-KV decode)", decode, {OUT_DECODE, -1}, 0},
    {"clattn_attention_weights", weights, {OUT_WEIGHTS, -1}, 0},
    {"clattn_kv_cache_create (contiguous)", cache_create, {-1}, 0},
    {"clattn_kv_cache_append (contiguous)", cache_append, {-1}, 0},
    {"clattn_attention_forward_kv (contiguous)", cache_forward, {OUT_KV, -1}, 0},
    {"clattn_kv_cache_create (paged)", paged_create, {-1}, 0},
    {"clattn_kv_cache_append (paged)", paged_append, {-1}, 0},
    {"clattn_attention_forward_kv (paged)", paged_forward, {OUT_PAGED, -1}, 0},
    {"clattn_mha_create", mha_create, {-1}, 0},
    {"clattn_mha_set_weights", mha_weights, {-1}, 0},
    {"clattn_mha_forward", mha_forward, {OUT_Y, OUT_YW, -1}, 0},
    {"clattn_kv_cache_create (layer)", step_cache, {-1}, 0},
    {"clattn_mha_step (1)", step1, {OUT_STEP1, -1}, 0},
    {"clattn_mha_step (2)", step2, {OUT_STEP2, -1}, 0},
    {"clattn_rope_apply", rope, {OUT_ROPE, -1}, 0},
};
const int FW_STEP_COUNT = (int)(sizeof FW_STEPS / sizeof FW_STEPS[0]);
