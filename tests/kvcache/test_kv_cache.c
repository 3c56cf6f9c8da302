/* The KV cache: many steps of append + attention with per-sequence counts, contiguous and
 * paged (block sizes that do not divide the lengths), f32 and 16-bit caches, GQA and MQA.
 * After every append, attention over the cache must equal the double-precision reference of
 * one full causal pass over each sequence's concatenated keys and values (rounded to the
 * cache's storage type, as the cache stores them), with and without ALiBi (whose aligned
 * position is each sequence's own: length - new tokens + i). Also: capacity and pool exhaustion
 * (CAPACITY_EXCEEDED, nothing changed), reset returning blocks, caller-provided buffers,
 * out-of-order queues, and argument validation. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_harness.h"

typedef struct config {
  const char *name;
  int64_t batch, q_heads, kv_heads, head_dim, v_dim, capacity, block_size, num_blocks;
  clattn_dtype k_dtype, v_dtype, src_dtype;
  int wrap; /* 1: the cache uses buffers the test created */
  int alibi; /* 1: desc.alibi_slopes = clattn_alibi_slopes(q_heads) */
} config;

/* A cache and the host model of what it holds. */
typedef struct session {
  attn_env *env;
  config cfg;
  cl_command_queue queue;
  clattn_kv_cache *cache;
  cl_mem kbuf, vbuf; /* the wrapped buffers, or NULL */
  size_t kbytes, vbytes;
  float *k, *v;      /* (B, Hkv, capacity, D / Dv), values as stored */
  int32_t *len;
  ref_rng rng;
} session;

static const cl_event sentinel = (cl_event)(uintptr_t)0x5e57;

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n ? n : 1, size);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory");
  return p;
}

static size_t storage_rows(const config *c) {
  return c->block_size > 0 ? (size_t)c->num_blocks * (size_t)c->block_size
                           : (size_t)c->batch * (size_t)c->capacity;
}

static void session_open(session *s, attn_env *env, const config *cfg, cl_command_queue queue) {
  memset(s, 0, sizeof *s);
  s->env = env;
  s->cfg = *cfg;
  s->queue = queue ? queue : env->queue;
  clattn_kv_cache_desc d;
  clattn_kv_cache_desc_init(&d);
  d.batch = cfg->batch;
  d.kv_heads = cfg->kv_heads;
  d.head_dim = cfg->head_dim;
  d.v_head_dim = cfg->v_dim;
  d.k_dtype = cfg->k_dtype;
  d.v_dtype = cfg->v_dtype;
  d.capacity = cfg->capacity;
  d.block_size = cfg->block_size;
  d.num_blocks = cfg->num_blocks;
  if (cfg->wrap) {
    if (cfg->block_size > 0 && cfg->num_blocks == 0)
      check_fail(__FILE__, __LINE__, "wrapped paged configs need num_blocks");
    size_t rows = storage_rows(cfg) * (size_t)cfg->kv_heads;
    s->kbytes = rows * (size_t)cfg->head_dim * clattn_dtype_size(cfg->k_dtype);
    s->vbytes = rows * (size_t)cfg->v_dim * clattn_dtype_size(cfg->v_dtype);
    /* All bytes 0xff (NaN in every storage type): defined, as the checks compare whole
     * buffers, and poison in the rows the cache has not written. */
    size_t most = s->kbytes > s->vbytes ? s->kbytes : s->vbytes;
    unsigned char *poison = xcalloc(most, 1);
    memset(poison, 0xff, most);
    s->kbuf = d.k_buffer = attn_buffer(env, poison, s->kbytes);
    s->vbuf = d.v_buffer = attn_buffer(env, poison, s->vbytes);
    free(poison);
  }
  CHECK_OK(env->ctx, clattn_kv_cache_create(env->ctx, &d, &s->cache));
  size_t kv = (size_t)cfg->batch * (size_t)cfg->kv_heads * (size_t)cfg->capacity;
  s->k = xcalloc(kv * (size_t)cfg->head_dim, sizeof(float));
  s->v = xcalloc(kv * (size_t)cfg->v_dim, sizeof(float));
  s->len = xcalloc((size_t)cfg->batch, sizeof(int32_t));
  ref_rng_seed(&s->rng, 0x6b76ULL + (uint64_t)cfg->batch * 977 + (uint64_t)cfg->head_dim);
}

static void session_close(session *s) {
  CHECK_CL(clFinish(s->queue));
  clattn_kv_cache_destroy(s->cache);
  if (s->kbuf) clReleaseMemObject(s->kbuf);
  if (s->vbuf) clReleaseMemObject(s->vbuf);
  free(s->k);
  free(s->v);
  free(s->len);
}

static void expect_lengths(session *s) {
  int32_t got[64];
  CHECK_OK(s->env->ctx, clattn_kv_cache_lengths(s->cache, got, 64));
  for (int64_t b = 0; b < s->cfg.batch; b++) CHECK_EQ(got[b], s->len[b]);
}

/* Attends Sq = n new query rows per sequence (q_lens = counts) over the cache and compares
 * with the reference over the model's keys and values. */
static void session_check(session *s, int64_t n, const int32_t *counts) {
  const config *c = &s->cfg;
  attn_env *env = s->env;
  int64_t B = c->batch, skv = 1;
  for (int64_t b = 0; b < B; b++) skv = s->len[b] > skv ? s->len[b] : skv;
  size_t nq = (size_t)(B * c->q_heads * n * c->head_dim), no = (size_t)(B * c->q_heads * n * c->v_dim);
  size_t nl = (size_t)(B * c->q_heads * n);
  float *q = xcalloc(nq, sizeof(float)), *o = xcalloc(no, sizeof(float)), *l = xcalloc(nl, sizeof(float));
  ref_rng_fill_normal(&s->rng, q, nq, 1.0);
  for (size_t i = 0; i < no; i++) o[i] = NAN;
  cl_mem qb = attn_buffer(env, q, nq * 4), ob = attn_buffer(env, o, no * 4), lb = attn_buffer(env, o, nl * 4);
  cl_mem qlens = counts ? attn_buffer(env, counts, (size_t)B * 4) : NULL;
  float slopes[64];
  cl_mem alibi = NULL;
  if (c->alibi) {
    CHECK_OK(NULL, clattn_alibi_slopes(c->q_heads, slopes));
    alibi = attn_buffer(env, slopes, (size_t)c->q_heads * sizeof(float));
  }
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = B;
  desc.q_heads = c->q_heads;
  desc.q_len = n;
  desc.causal = 1;
  desc.q_lens = qlens;
  desc.alibi_slopes = alibi;
  desc.kv_splits = (int)ref_rng_below(&s->rng, 4); /* automatic, never, 2 or 3 slices */
  clattn_tensor tq = clattn_tensor_contiguous(qb, CLATTN_F32, CLATTN_LAYOUT_BHSD, c->q_heads, n, c->head_dim, 0);
  clattn_tensor to = clattn_tensor_contiguous(ob, CLATTN_F32, CLATTN_LAYOUT_BHSD, c->q_heads, n, c->v_dim, 0);
  clattn_tensor tl = clattn_tensor_contiguous(lb, CLATTN_F32, CLATTN_LAYOUT_BHSD, c->q_heads, n, 1, 0);
  cl_event ev = NULL;
  CHECK_OK(env->ctx, clattn_attention_forward_kv(env->ctx, s->queue, &desc, &tq, s->cache, &to, &tl, 0, NULL, &ev));
  CHECK_CL(clWaitForEvents(1, &ev));
  clReleaseEvent(ev);
  attn_read(env, ob, o, no * 4);
  attn_read(env, lb, l, nl * 4);

  /* The reference: a causal pass over each whole sequence, of which these are the last rows. */
  size_t dk = (size_t)(B * c->kv_heads * skv), cap = (size_t)c->capacity;
  float *k = xcalloc(dk * (size_t)c->head_dim, sizeof(float)), *v = xcalloc(dk * (size_t)c->v_dim, sizeof(float));
  for (int64_t bh = 0; bh < B * c->kv_heads; bh++)
    for (int64_t j = 0; j < skv && j < c->capacity; j++) {
      memcpy(k + ((size_t)bh * skv + j) * c->head_dim, s->k + ((size_t)bh * cap + j) * c->head_dim, c->head_dim * 4);
      memcpy(v + ((size_t)bh * skv + j) * c->v_dim, s->v + ((size_t)bh * cap + j) * c->v_dim, c->v_dim * 4);
    }
  ref_attention p;
  ref_attention_init(&p, B, c->q_heads, c->kv_heads, n, skv, c->head_dim, c->v_dim);
  p.causal = 1;
  p.bottom_right = 1;
  p.kv_lens = s->len;
  p.q_lens = counts;
  p.alibi_slopes = c->alibi ? slopes : NULL;
  p.q = q;
  p.k = k;
  p.v = v;
  double *ro = xcalloc(no, sizeof(double)), *rl = xcalloc(nl, sizeof(double)), ratio, worst = 0;
  CHECK_EQ(ref_attention_forward(&p, ro, rl), 0);
  for (size_t i = 0; i < no + nl; i++) {
    float y = i < no ? o[i] : l[i - no];
    double r = i < no ? ro[i] : rl[i - no];
    if (!attn_compare_value(CLATTN_F32, y, r, &ratio))
      check_fail(__FILE__, __LINE__, "%s: %s element %zu is %.9g, reference %.9g", c->name,
                 i < no ? "O" : "LSE", i < no ? i : i - no, y, r);
    worst = ratio > worst ? ratio : worst;
  }
  check_pass();
  if (worst > 0.5) printf("  %s: worst error / tolerance %.3f\n", c->name, worst);
  clReleaseMemObject(qb);
  clReleaseMemObject(ob);
  clReleaseMemObject(lb);
  if (qlens) clReleaseMemObject(qlens);
  if (alibi) clReleaseMemObject(alibi);
  free(q), free(o), free(l), free(k), free(v), free(ro), free(rl);
}

/* New tokens: K as BHSD at an offset, V as BSHD, both in the source storage type. */
typedef struct tokens {
  cl_mem kb, vb;
  clattn_tensor tk, tv;
  float *k, *v; /* (B, Hkv, n, dim), values as stored in the source type */
} tokens;

static void tokens_make(session *s, int64_t n, tokens *t) {
  const config *c = &s->cfg;
  clattn_dtype src = c->src_dtype;
  size_t nk = (size_t)(c->batch * c->kv_heads * n * c->head_dim), nv = (size_t)(c->batch * c->kv_heads * n * c->v_dim);
  size_t es = clattn_dtype_size(src), koff = 3;
  t->k = xcalloc(nk, sizeof(float));
  t->v = xcalloc(nv, sizeof(float));
  ref_rng_fill_normal(&s->rng, t->k, nk, 1.0);
  ref_rng_fill_normal(&s->rng, t->v, nv, 1.0);
  unsigned char *ki = xcalloc(nk + koff, es), *vi = xcalloc(nv, es);
  for (size_t i = 0; i < nk; i++) {
    t->k[i] = ref_round_to(src, t->k[i]);
    ref_store(src, ki, koff + i, t->k[i]);
  }
  t->tv = clattn_tensor_contiguous(NULL, src, CLATTN_LAYOUT_BSHD, c->kv_heads, n, c->v_dim, 0);
  for (int64_t b = 0; b < c->batch; b++)
    for (int64_t h = 0; h < c->kv_heads; h++)
      for (int64_t j = 0; j < n; j++)
        for (int64_t d = 0; d < c->v_dim; d++) {
          size_t i = (size_t)(((b * c->kv_heads + h) * n + j) * c->v_dim + d);
          t->v[i] = ref_round_to(src, t->v[i]);
          ref_store(src, vi, (uint64_t)(b * t->tv.stride_batch + h * t->tv.stride_head + j * t->tv.stride_seq + d), t->v[i]);
        }
  t->kb = attn_buffer(s->env, ki, (nk + koff) * es);
  t->vb = attn_buffer(s->env, vi, nv * es);
  t->tk = clattn_tensor_contiguous(t->kb, src, CLATTN_LAYOUT_BHSD, c->kv_heads, n, c->head_dim, koff);
  t->tv.buffer = t->vb;
  free(ki);
  free(vi);
}

static void tokens_free(tokens *t) {
  clReleaseMemObject(t->kb);
  clReleaseMemObject(t->vb);
  free(t->k);
  free(t->v);
}

/* Appends n tokens (counts may be NULL); on success updates the model and checks attention. */
static void session_append(session *s, int64_t n, const int32_t *counts, clattn_status expected) {
  const config *c = &s->cfg;
  tokens t;
  tokens_make(s, n, &t);
  cl_event ev = sentinel;
  unsigned char *before_k = NULL, *before_v = NULL;
  if (expected != CLATTN_SUCCESS && s->kbuf) {
    before_k = xcalloc(s->kbytes, 1);
    before_v = xcalloc(s->vbytes, 1);
    attn_read(s->env, s->kbuf, before_k, s->kbytes);
    attn_read(s->env, s->vbuf, before_v, s->vbytes);
  }
  CHECK_STATUS(s->env->ctx, clattn_kv_cache_append(s->cache, s->queue, &t.tk, &t.tv, n, counts, 0, NULL, &ev), expected);
  if (expected != CLATTN_SUCCESS) {
    CHECK(ev == sentinel);
    expect_lengths(s); /* unchanged */
    if (before_k) {
      unsigned char *after = xcalloc(s->kbytes > s->vbytes ? s->kbytes : s->vbytes, 1);
      attn_read(s->env, s->kbuf, after, s->kbytes);
      CHECK(memcmp(after, before_k, s->kbytes) == 0);
      attn_read(s->env, s->vbuf, after, s->vbytes);
      CHECK(memcmp(after, before_v, s->vbytes) == 0);
      free(after), free(before_k), free(before_v);
    }
    tokens_free(&t);
    return;
  }
  clReleaseEvent(ev);
  size_t cap = (size_t)c->capacity;
  for (int64_t b = 0; b < c->batch; b++) {
    int64_t count = counts ? counts[b] : n;
    for (int64_t h = 0; h < c->kv_heads; h++)
      for (int64_t j = 0; j < count; j++) {
        size_t src = (size_t)((b * c->kv_heads + h) * n + j), dst = (size_t)(b * c->kv_heads + h) * cap + (size_t)(s->len[b] + j);
        for (int64_t d = 0; d < c->head_dim; d++)
          s->k[dst * c->head_dim + d] = ref_round_to(c->k_dtype, t.k[src * c->head_dim + d]);
        for (int64_t d = 0; d < c->v_dim; d++)
          s->v[dst * c->v_dim + d] = ref_round_to(c->v_dtype, t.v[src * c->v_dim + d]);
      }
    s->len[b] += (int32_t)count;
  }
  expect_lengths(s);
  tokens_free(&t);
  session_check(s, n, counts);
}

static void session_reset(session *s, int64_t seq) {
  CHECK_OK(s->env->ctx, clattn_kv_cache_reset(s->cache, seq));
  for (int64_t b = 0; b < s->cfg.batch; b++)
    if (seq < 0 || b == seq) s->len[b] = 0;
  expect_lengths(s);
}

/* A prefill, then decode steps with random per-sequence counts until the cache is nearly
 * full; one sequence is reset halfway (its blocks go to the others). */
static void run_steps(attn_env *env, const config *cfg, cl_command_queue queue) {
  session s;
  session_open(&s, env, cfg, queue);
  printf("%s\n", cfg->name);
  int32_t counts[16];
  int64_t prefill = cfg->capacity / 3 + 1;
  session_append(&s, prefill, NULL, CLATTN_SUCCESS);
  for (int step = 0;; step++) {
    int64_t n = 1 + (int64_t)ref_rng_below(&s.rng, step % 3 == 0 ? 4 : 2), room = cfg->capacity;
    for (int64_t b = 0; b < cfg->batch; b++) {
      counts[b] = (int32_t)ref_rng_below(&s.rng, (uint64_t)n + 1);
      if (b == step % cfg->batch) counts[b] = (int32_t)n; /* some sequence takes all n */
      room = cfg->capacity - s.len[b] < room ? cfg->capacity - s.len[b] : room;
    }
    if (room < n) break;
    session_append(&s, n, counts, CLATTN_SUCCESS);
    if (step == 6) session_reset(&s, cfg->batch - 1);
  }
  session_close(&s);
}

static const config configs[] = {
    {"contiguous f32, GQA 2", 3, 4, 2, 64, 64, 37, 0, 0, CLATTN_F32, CLATTN_F32, CLATTN_F32, 0, 0},
    {"paged bs 5 f32, GQA 3, Dv 48, f16 source", 3, 6, 2, 32, 48, 33, 5, 0, CLATTN_F32, CLATTN_F32, CLATTN_F16, 0, 0},
    {"paged bs 16 f16, MQA, wrapped", 2, 8, 1, 64, 64, 45, 16, 7, CLATTN_F16, CLATTN_F16, CLATTN_F32, 1, 0},
    {"contiguous bf16 K / f16 V, bf16 source", 2, 4, 4, 40, 24, 29, 0, 0, CLATTN_BF16, CLATTN_F16, CLATTN_BF16, 0, 0},
    {"paged bs 16 bf16, GQA 4", 2, 8, 2, 64, 64, 40, 16, 0, CLATTN_BF16, CLATTN_BF16, CLATTN_F32, 0, 0},
    /* ALiBi; capacities of 128 or more so that the split-KV decode path is taken too. */
    {"contiguous f32, GQA 2, ALiBi", 3, 4, 2, 64, 64, 37, 0, 0, CLATTN_F32, CLATTN_F32, CLATTN_F32, 0, 1},
    {"contiguous f32, GQA 2, ALiBi, decode path", 2, 4, 2, 64, 64, 150, 0, 0, CLATTN_F32, CLATTN_F32, CLATTN_F32, 0, 1},
    {"paged bs 16 f16, GQA 4, ALiBi, decode path", 2, 8, 2, 64, 64, 140, 16, 0, CLATTN_F16, CLATTN_F16, CLATTN_F32, 0, 1},
    {"paged bs 5 f32, MQA, Dv 48, ALiBi", 2, 3, 1, 32, 48, 33, 5, 0, CLATTN_F32, CLATTN_F32, CLATTN_F32, 0, 1},
};

static void test_steps(attn_env *env) {
  for (size_t i = 0; i < sizeof configs / sizeof configs[0]; i++) run_steps(env, &configs[i], NULL);
}

/* The same on an out-of-order queue: the cache orders its own commands. */
static void test_out_of_order(attn_env *env) {
  cl_int err;
  cl_command_queue q = clCreateCommandQueue(env->cl, env->device, CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE, &err);
  if (err != CL_SUCCESS) {
    printf("out-of-order queues unsupported (%s): skipped\n", clattn_cl_error_name(err));
    return;
  }
  config c = configs[1];
  c.name = "paged bs 5, out-of-order queue";
  run_steps(env, &c, q);
  clReleaseCommandQueue(q);
}

/* A full sequence refuses more tokens, naming itself; nothing changes; the others go on. */
static void test_capacity(attn_env *env) {
  const config c = {"capacity", 2, 2, 1, 16, 16, 8, 0, 0, CLATTN_F32, CLATTN_F16, CLATTN_F32, 1, 0};
  session s;
  session_open(&s, env, &c, NULL);
  session_append(&s, 6, NULL, CLATTN_SUCCESS);
  session_append(&s, 3, NULL, CLATTN_CAPACITY_EXCEEDED);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "sequence 0");
  const int32_t late[2] = {0, 3};
  session_append(&s, 3, late, CLATTN_CAPACITY_EXCEEDED);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "sequence 1");
  const int32_t fill[2] = {2, 1};
  session_append(&s, 2, fill, CLATTN_SUCCESS);
  const int32_t one[2] = {1, 0};
  session_append(&s, 1, one, CLATTN_CAPACITY_EXCEEDED);
  const int32_t last[2] = {0, 1};
  session_append(&s, 1, last, CLATTN_SUCCESS); /* both full now */
  session_reset(&s, 0);
  session_append(&s, 1, one, CLATTN_SUCCESS);
  session_close(&s);
}

/* A pool of 5 blocks of 4 tokens shared by two sequences of capacity 16. */
static void test_pool(attn_env *env) {
  const config c = {"pool", 2, 4, 2, 32, 32, 16, 4, 5, CLATTN_F32, CLATTN_F32, CLATTN_F32, 1, 0};
  session s;
  session_open(&s, env, &c, NULL);
  session_append(&s, 5, NULL, CLATTN_SUCCESS);          /* 2 + 2 blocks, 1 free */
  session_append(&s, 4, NULL, CLATTN_CAPACITY_EXCEEDED); /* 9 tokens need 3 blocks each */
  CHECK_CONTAINS(clattn_last_error(env->ctx), "sequence 1");
  CHECK_CONTAINS(clattn_last_error(env->ctx), "block pool");
  const int32_t first[2] = {4, 0};
  session_append(&s, 4, first, CLATTN_SUCCESS);          /* 0 free */
  const int32_t fits[2] = {3, 3};                         /* no new block needed */
  session_append(&s, 3, fits, CLATTN_SUCCESS);
  const int32_t more[2] = {0, 1};
  session_append(&s, 1, more, CLATTN_CAPACITY_EXCEEDED);
  session_reset(&s, 0); /* 3 blocks back */
  const int32_t grow[2] = {0, 7};                          /* 8 -> 15 tokens: 2 more blocks */
  session_append(&s, 7, grow, CLATTN_SUCCESS);
  const int32_t again[2] = {4, 0};
  session_append(&s, 4, again, CLATTN_SUCCESS);           /* the last free block */
  const int32_t one[2] = {1, 0};
  session_append(&s, 1, one, CLATTN_CAPACITY_EXCEEDED);
  CHECK_CONTAINS(clattn_last_error(env->ctx), "sequence 0");
  session_reset(&s, -1);
  session_append(&s, 8, NULL, CLATTN_SUCCESS);             /* every block is free again */
  session_close(&s);
}

/* The cache writes caller buffers in the documented layout and retains them. */
static void test_wrap(attn_env *env) {
  const config c = {"wrap", 2, 2, 2, 8, 8, 6, 0, 0, CLATTN_F32, CLATTN_F32, CLATTN_F32, 1, 0};
  session s;
  session_open(&s, env, &c, NULL);
  cl_uint refs = 0;
  CHECK_CL(clGetMemObjectInfo(s.kbuf, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL));
  CHECK_EQ(refs, 2);
  const int32_t counts[2] = {3, 1};
  session_append(&s, 3, counts, CLATTN_SUCCESS);
  session_append(&s, 2, NULL, CLATTN_SUCCESS);
  float *k = xcalloc(s.kbytes / 4, sizeof(float));
  attn_read(env, s.kbuf, k, s.kbytes);
  for (int64_t bh = 0; bh < 4; bh++)
    for (int64_t j = 0; j < s.len[bh / 2]; j++)
      for (int64_t d = 0; d < 8; d++) CHECK_EQ(k[(bh * 6 + j) * 8 + d] == s.k[(bh * 6 + j) * 8 + d], 1);
  free(k);
  clattn_kv_cache_destroy(s.cache);
  s.cache = NULL;
  CHECK_CL(clGetMemObjectInfo(s.kbuf, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL));
  CHECK_EQ(refs, 1);
  session_close(&s);
}

#define EXPECT_INVALID(expr, needle)                                   \
  do {                                                                 \
    CHECK_STATUS(env->ctx, (expr), CLATTN_INVALID_ARGUMENT);           \
    CHECK_CONTAINS(clattn_last_error(env->ctx), needle);               \
  } while (0)

static void test_create_errors(attn_env *env) {
  clattn_kv_cache_desc d;
  clattn_kv_cache *cache = NULL;
  clattn_kv_cache_desc_init(&d);
  d.batch = 2, d.kv_heads = 2, d.head_dim = 16, d.capacity = 10;
  CHECK_STATUS(NULL, clattn_kv_cache_create(NULL, &d, &cache), CLATTN_INVALID_ARGUMENT);
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, NULL, &cache), "desc");
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, &d, NULL), "cache");
  d.batch = 0;
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, &d, &cache), "batch");
  d.batch = 2, d.head_dim = 0;
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, &d, &cache), "head_dim");
  d.head_dim = 16, d.capacity = 0;
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, &d, &cache), "capacity");
  d.capacity = 10, d.block_size = -1;
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, &d, &cache), "block_size");
  d.block_size = 0, d.k_dtype = (clattn_dtype)7;
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, &d, &cache), "dtype");
  d.k_dtype = CLATTN_F16;
  /* Contiguous f16 K needs 2*2*10*16*2 = 1280 bytes. */
  d.k_buffer = attn_buffer(env, NULL, 1278);
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, &d, &cache), "desc->k_buffer holds 1278 bytes");
  clReleaseMemObject(d.k_buffer);
  d.k_buffer = NULL;
  d.block_size = 4, d.num_blocks = 5; /* f32 V pool: 5*2*4*16*4 = 2560 bytes */
  d.v_buffer = attn_buffer(env, NULL, 2556);
  EXPECT_INVALID(clattn_kv_cache_create(env->ctx, &d, &cache), "desc->v_buffer");
  clReleaseMemObject(d.v_buffer);
  CHECK(cache == NULL);
}

static void test_call_errors(attn_env *env) {
  const config c = {"errors", 2, 4, 2, 16, 16, 10, 4, 0, CLATTN_F32, CLATTN_F32, CLATTN_F32, 0, 0};
  session s;
  session_open(&s, env, &c, NULL);
  session_append(&s, 2, NULL, CLATTN_SUCCESS);
  tokens t;
  tokens_make(&s, 3, &t);
  cl_event ev = sentinel;
  const int32_t over[2] = {1, 4}, negative[2] = {-1, 0};
  CHECK_STATUS(NULL, clattn_kv_cache_append(NULL, NULL, &t.tk, &t.tv, 3, NULL, 0, NULL, &ev), CLATTN_INVALID_ARGUMENT);
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, NULL, &t.tv, 3, NULL, 0, NULL, &ev), "k_new");
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, NULL, 3, NULL, 0, NULL, &ev), "v_new");
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, &t.tv, 0, NULL, 0, NULL, &ev), "n = 0");
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, &t.tv, 4, NULL, 0, NULL, &ev), "k_new reaches past");
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, &t.tv, 3, over, 0, NULL, &ev), "counts[1] = 4");
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, &t.tv, 3, negative, 0, NULL, &ev), "counts[0] = -1");
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, &t.tv, 3, NULL, 1, NULL, &ev), "wait_events");
  clattn_tensor bad = t.tv;
  bad.stride_seq = -1;
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, &bad, 3, NULL, 0, NULL, &ev), "negative stride");
  bad = t.tv;
  bad.dtype = (clattn_dtype)9;
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, &bad, 3, NULL, 0, NULL, &ev), "v_new.dtype");
  bad = t.tv;
  bad.buffer = NULL;
  EXPECT_INVALID(clattn_kv_cache_append(s.cache, NULL, &t.tk, &bad, 3, NULL, 0, NULL, &ev), "v_new.buffer");
  CHECK(ev == sentinel);
  expect_lengths(&s);

  int32_t lengths[2];
  CHECK_STATUS(NULL, clattn_kv_cache_lengths(NULL, lengths, 2), CLATTN_INVALID_ARGUMENT);
  EXPECT_INVALID(clattn_kv_cache_lengths(s.cache, NULL, 2), "lengths");
  CHECK_STATUS(env->ctx, clattn_kv_cache_lengths(s.cache, lengths, 1), CLATTN_BUFFER_TOO_SMALL);
  EXPECT_INVALID(clattn_kv_cache_reset(s.cache, 2), "sequence = 2");
  EXPECT_INVALID(clattn_kv_cache_reset(s.cache, -2), "sequence = -2");
  CHECK_STATUS(NULL, clattn_kv_cache_reset(NULL, 0), CLATTN_INVALID_ARGUMENT);

  /* Attention over the cache validates q, o and lse as clattn_attention_forward does. */
  cl_mem qb = attn_buffer(env, NULL, (2 * 4 * 2 * 16 + 16) * 4), ob = attn_buffer(env, NULL, 2 * 4 * 2 * 16 * 4);
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = 2, desc.q_heads = 4, desc.q_len = 2, desc.causal = 1;
  clattn_tensor tq = clattn_tensor_contiguous(qb, CLATTN_F32, CLATTN_LAYOUT_BHSD, 4, 2, 16, 0);
  clattn_tensor to = clattn_tensor_contiguous(ob, CLATTN_F32, CLATTN_LAYOUT_BHSD, 4, 2, 16, 0);
  CHECK_STATUS(NULL, clattn_attention_forward_kv(NULL, NULL, &desc, &tq, s.cache, &to, NULL, 0, NULL, &ev), CLATTN_INVALID_ARGUMENT);
  EXPECT_INVALID(clattn_attention_forward_kv(env->ctx, NULL, NULL, &tq, s.cache, &to, NULL, 0, NULL, &ev), "desc");
  EXPECT_INVALID(clattn_attention_forward_kv(env->ctx, NULL, &desc, &tq, NULL, &to, NULL, 0, NULL, &ev), "cache");
  EXPECT_INVALID(clattn_attention_forward_kv(env->ctx, NULL, &desc, NULL, s.cache, &to, NULL, 0, NULL, &ev), "q");
  desc.q_heads = 3;
  EXPECT_INVALID(clattn_attention_forward_kv(env->ctx, NULL, &desc, &tq, s.cache, &to, NULL, 0, NULL, &ev), "q_heads");
  desc.q_heads = 4, desc.q_len = 3;
  EXPECT_INVALID(clattn_attention_forward_kv(env->ctx, NULL, &desc, &tq, s.cache, &to, NULL, 0, NULL, &ev), "reaches past");
  desc.q_len = 2;
  clattn_tensor in_q = tq; /* O overlapping Q through a different view */
  in_q.offset = 16;
  EXPECT_INVALID(clattn_attention_forward_kv(env->ctx, NULL, &desc, &tq, s.cache, &in_q, NULL, 0, NULL, &ev), "overlaps");
  clattn_tensor lse = clattn_tensor_contiguous(ob, CLATTN_F16, CLATTN_LAYOUT_BHSD, 4, 2, 1, 0);
  EXPECT_INVALID(clattn_attention_forward_kv(env->ctx, NULL, &desc, &tq, s.cache, &to, &lse, 0, NULL, &ev), "lse");
  CHECK(ev == sentinel);
  session_append(&s, 1, NULL, CLATTN_SUCCESS); /* still works */
  clReleaseMemObject(qb);
  clReleaseMemObject(ob);
  tokens_free(&t);
  session_close(&s);
}

static float bits(uint32_t u) {
  float x;
  memcpy(&x, &u, sizeof x);
  return x;
}

/* Stores into 16-bit caches round to nearest even, ties included, exactly as tests/ref. */
static void test_rounding(attn_env *env) {
  enum { D = 16 };
  const float x[D] = {bits(0x3F808000u), bits(0x3F818000u), bits(0x3F808001u), 1.0f + 0x1p-11f,
                      1.0f + 3 * 0x1p-11f, 70000.0f, 65519.0f, 65520.0f, -0x1p-25f, 0x1p-24f * 1.5f,
                      INFINITY, -INFINITY, NAN, 3.3895314e38f, -0.0f, 0.1f};
  clattn_kv_cache_desc d;
  clattn_kv_cache_desc_init(&d);
  d.batch = 1, d.kv_heads = 1, d.head_dim = D, d.capacity = 2;
  d.k_dtype = CLATTN_BF16, d.v_dtype = CLATTN_F16;
  d.k_buffer = attn_buffer(env, NULL, 2 * D * 2);
  d.v_buffer = attn_buffer(env, NULL, 2 * D * 2);
  clattn_kv_cache *cache = NULL;
  CHECK_OK(env->ctx, clattn_kv_cache_create(env->ctx, &d, &cache));
  cl_mem src = attn_buffer(env, x, sizeof x);
  clattn_tensor t = clattn_tensor_contiguous(src, CLATTN_F32, CLATTN_LAYOUT_BHSD, 1, 1, D, 0);
  CHECK_OK(env->ctx, clattn_kv_cache_append(cache, NULL, &t, &t, 1, NULL, 0, NULL, NULL));
  uint16_t k[D], v[D];
  CHECK_CL(clEnqueueReadBuffer(env->queue, d.k_buffer, CL_TRUE, 0, sizeof k, k, 0, NULL, NULL));
  CHECK_CL(clEnqueueReadBuffer(env->queue, d.v_buffer, CL_TRUE, 0, sizeof v, v, 0, NULL, NULL));
  for (int i = 0; i < D; i++) {
    if (isnan(x[i])) {
      CHECK(isnan(ref_bf16_to_f32(k[i])) && isnan(ref_f16_to_f32(v[i])));
      continue;
    }
    if (k[i] != ref_f32_to_bf16(x[i]) || v[i] != ref_f32_to_f16(x[i]))
      check_fail(__FILE__, __LINE__, "%.9g stored as bf16 0x%04x (want 0x%04x), f16 0x%04x (want 0x%04x)",
                 x[i], k[i], ref_f32_to_bf16(x[i]), v[i], ref_f32_to_f16(x[i]));
    check_pass();
  }
  clattn_kv_cache_destroy(cache);
  clReleaseMemObject(src);
  clReleaseMemObject(d.k_buffer);
  clReleaseMemObject(d.v_buffer);
}

int main(void) {
  attn_env env;
  attn_env_init(&env);
  test_create_errors(&env);
  test_call_errors(&env);
  test_capacity(&env);
  test_pool(&env);
  test_wrap(&env);
  test_rounding(&env);
  test_steps(&env);
  test_out_of_order(&env);
  attn_env_destroy(&env);
  return check_done("test_kv_cache");
}
