/* The KV cache: contiguous or paged K/V storage on the device, host-side lengths and block
 * allocation, the append kernel (cl/kv_append.cl) and attention over the cache.
 *
 * The host's lengths and block tables are authoritative. The device copies (`meta`: int32
 * lengths, append starts and append counts; `table`: the block tables) are written with
 * non-blocking clEnqueueWriteBuffer from a small ring of host snapshots, so the host can
 * keep changing its arrays while a write is pending; a snapshot is reused only after the
 * command that read it has completed.
 *
 * Every command the cache enqueues waits for the previous one (`tail`), so appends, resets
 * and attention over one cache happen in call order even on out-of-order queues, and a
 * write of `meta` never overtakes a kernel still reading it. The cache is not thread-safe:
 * one cache must not be used from two threads at once. */
#include <stdlib.h>
#include <string.h>

#include "attention_internal.h"
#include "attention_validate.h"
#include "chain.h"
#include "context.h"
#include "errors.h"
#include "kv_cache.h"
#include "program.h"
#include "tensor.h"

#define RING 8         /* host snapshots of meta and table in flight */
#define APPEND_WG 64   /* work-items per append work-group (fewer if the device wants) */

typedef struct snapshot {
  int32_t *data; /* meta (3 * batch) followed by the block tables */
  cl_event event; /* completes after the last command reading data; NULL when free */
} snapshot;

struct clattn_kv_cache {
  clattn_context *ctx;
  clattn_kv_cache_desc desc; /* v_head_dim and num_blocks resolved */
  int64_t table_stride;      /* paged: blocks per sequence; 0 for contiguous */
  cl_mem k, v;               /* retained (caller's) or created */
  cl_mem meta, table;        /* device copies; table NULL for contiguous */
  int32_t *lengths;          /* batch entries */
  int32_t *blocks;           /* paged: batch x table_stride pool indices (0 when unused) */
  int32_t *free_list;        /* paged: a stack of free pool blocks */
  int64_t free_count;
  int meta_dirty, table_dirty;
  snapshot ring[RING];
  unsigned next;
  cl_event tail; /* the last command enqueued on the cache, or NULL */
};

void clattn_kv_cache_desc_init(clattn_kv_cache_desc *desc) {
  if (!desc) return;
  memset(desc, 0, sizeof *desc);
  desc->k_dtype = desc->v_dtype = CLATTN_F32;
}

/* ---- creation --------------------------------------------------------------------------- */

static int64_t blocks_for(int64_t tokens, int64_t block_size) {
  return (tokens + block_size - 1) / block_size;
}

static int valid_dtype(clattn_dtype t) {
  return t == CLATTN_F32 || t == CLATTN_F16 || t == CLATTN_BF16;
}

static clattn_status check_desc(clattn_context *ctx, const clattn_kv_cache_desc *d) {
  struct { const char *name; int64_t value; } sizes[] = {
      {"batch", d->batch}, {"kv_heads", d->kv_heads}, {"capacity", d->capacity}};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
    if (sizes[i].value < 1 || sizes[i].value > INT32_MAX)
      return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->%s = %lld must be in 1 .. 2^31 - 1",
                          sizes[i].name, (long long)sizes[i].value);
  if (d->head_dim < 1 || d->head_dim > CLATTN_MAX_HEAD_DIM || d->v_head_dim < 0 ||
      d->v_head_dim > CLATTN_MAX_HEAD_DIM)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->head_dim = %lld and desc->v_head_dim = %lld must be in 1 .. %d "
                        "(v_head_dim 0: same as head_dim)",
                        (long long)d->head_dim, (long long)d->v_head_dim, CLATTN_MAX_HEAD_DIM);
  if (!valid_dtype(d->k_dtype) || !valid_dtype(d->v_dtype))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "desc->k_dtype or desc->v_dtype is not a clattn_dtype");
  if (d->block_size < 0 || d->block_size > INT32_MAX || d->num_blocks < 0 || d->num_blocks > INT32_MAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->block_size = %lld and desc->num_blocks = %lld must be in 0 .. 2^31 - 1",
                        (long long)d->block_size, (long long)d->num_blocks);
  if (d->block_size > 0 && blocks_for(d->capacity, d->block_size) * d->block_size > INT32_MAX)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "desc->capacity = %lld rounded up to whole blocks exceeds 2^31 - 1 tokens",
                        (long long)d->capacity);
  return CLATTN_SUCCESS;
}

/* Bytes of the K (which = 0) or V (1) storage, or 0 on overflow. */
static uint64_t storage_bytes(const clattn_kv_cache *c, int which) {
  const clattn_kv_cache_desc *d = &c->desc;
  uint64_t rows = d->block_size > 0 ? (uint64_t)d->num_blocks * (uint64_t)d->block_size
                                    : (uint64_t)d->batch * (uint64_t)d->capacity;
  uint64_t dim = (uint64_t)(which ? d->v_head_dim : d->head_dim);
  uint64_t size = clattn_dtype_size(which ? d->v_dtype : d->k_dtype), bytes;
  if (__builtin_mul_overflow(rows, (uint64_t)d->kv_heads, &bytes) ||
      __builtin_mul_overflow(bytes, dim * size, &bytes))
    return 0;
  return bytes;
}

/* Wraps the caller's buffer (retained) or creates one. */
static clattn_status storage_buffer(clattn_kv_cache *c, int which, cl_mem given, cl_mem *out) {
  const char *name = which ? "desc->v_buffer" : "desc->k_buffer";
  uint64_t need = storage_bytes(c, which);
  if (need == 0 || need > SIZE_MAX)
    return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "the cache's %s storage size overflows",
                        which ? "V" : "K");
  cl_int err;
  if (!given) {
    *out = clCreateBuffer(c->ctx->cl_ctx, CL_MEM_READ_WRITE, (size_t)need, NULL, &err);
    if (err != CL_SUCCESS)
      return clattn__fail_cl(c->ctx, err, "clCreateBuffer", "%s storage of %llu bytes",
                             which ? "V" : "K", (unsigned long long)need);
    return CLATTN_SUCCESS;
  }
  size_t size = 0;
  cl_context owner = NULL;
  err = clGetMemObjectInfo(given, CL_MEM_SIZE, sizeof size, &size, NULL);
  if (err == CL_SUCCESS) err = clGetMemObjectInfo(given, CL_MEM_CONTEXT, sizeof owner, &owner, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(c->ctx, err, "clGetMemObjectInfo", "%s is not a valid buffer", name);
  if (owner != c->ctx->cl_ctx)
    return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "%s belongs to another OpenCL context", name);
  if (size < need)
    return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "%s holds %zu bytes; the cache needs %llu",
                        name, size, (unsigned long long)need);
  err = clRetainMemObject(given);
  if (err != CL_SUCCESS) return clattn__fail_cl(c->ctx, err, "clRetainMemObject", "%s", name);
  *out = given;
  return CLATTN_SUCCESS;
}

static clattn_status host_arrays(clattn_kv_cache *c) {
  const clattn_kv_cache_desc *d = &c->desc;
  size_t table = (size_t)d->batch * (size_t)c->table_stride;
  size_t snap = 3 * (size_t)d->batch + table;
  c->lengths = calloc((size_t)d->batch, sizeof *c->lengths);
  int ok = c->lengths != NULL;
  if (d->block_size > 0) {
    c->blocks = calloc(table, sizeof *c->blocks);
    c->free_list = malloc((size_t)d->num_blocks * sizeof *c->free_list);
    ok = ok && c->blocks && c->free_list;
  }
  for (int i = 0; i < RING; i++) ok = ok && (c->ring[i].data = calloc(snap, sizeof(int32_t))) != NULL;
  if (!ok) return clattn__fail(c->ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory for the KV cache");
  /* Blocks come off the top of the stack: block 0 first. */
  for (int64_t i = 0; i < d->num_blocks; i++) c->free_list[i] = (int32_t)(d->num_blocks - 1 - i);
  c->free_count = d->num_blocks;
  return CLATTN_SUCCESS;
}

static clattn_status device_arrays(clattn_kv_cache *c) {
  cl_int err;
  size_t meta = 3 * (size_t)c->desc.batch * sizeof(cl_int);
  c->meta = clCreateBuffer(c->ctx->cl_ctx, CL_MEM_READ_WRITE, meta, NULL, &err);
  if (err == CL_SUCCESS && c->table_stride > 0)
    c->table = clCreateBuffer(c->ctx->cl_ctx, CL_MEM_READ_ONLY,
                              (size_t)c->desc.batch * (size_t)c->table_stride * sizeof(cl_int), NULL, &err);
  if (err != CL_SUCCESS) return clattn__fail_cl(c->ctx, err, "clCreateBuffer", "KV cache lengths or block table");
  c->meta_dirty = c->table_dirty = 1; /* the device copies start undefined */
  return CLATTN_SUCCESS;
}

clattn_status clattn_kv_cache_create(clattn_context *ctx, const clattn_kv_cache_desc *desc,
                                     clattn_kv_cache **cache) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!desc || !cache)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s must not be NULL", !desc ? "desc" : "cache");
  clattn_status status = check_desc(ctx, desc);
  if (status != CLATTN_SUCCESS) return status;
  clattn_kv_cache *c = calloc(1, sizeof *c);
  if (!c) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory for the KV cache");
  c->ctx = ctx;
  c->desc = *desc;
  if (c->desc.v_head_dim == 0) c->desc.v_head_dim = c->desc.head_dim;
  if (c->desc.block_size > 0) {
    c->table_stride = blocks_for(c->desc.capacity, c->desc.block_size);
    if (c->desc.num_blocks == 0) c->desc.num_blocks = c->desc.batch * c->table_stride;
    if (c->desc.num_blocks > INT32_MAX)
      status = clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "the pool would need more than 2^31 - 1 blocks");
  } else {
    c->desc.num_blocks = 0;
  }
  if (status == CLATTN_SUCCESS) status = storage_buffer(c, 0, desc->k_buffer, &c->k);
  if (status == CLATTN_SUCCESS) status = storage_buffer(c, 1, desc->v_buffer, &c->v);
  if (status == CLATTN_SUCCESS) status = host_arrays(c);
  if (status == CLATTN_SUCCESS) status = device_arrays(c);
  if (status != CLATTN_SUCCESS) {
    clattn_kv_cache_destroy(c);
    return status;
  }
  *cache = c;
  return CLATTN_SUCCESS;
}

void clattn_kv_cache_destroy(clattn_kv_cache *cache) {
  if (!cache) return;
  /* Pending writes read the host snapshots: they must finish before the memory goes. */
  for (int i = 0; i < RING; i++) {
    if (cache->ring[i].event) {
      clWaitForEvents(1, &cache->ring[i].event);
      clReleaseEvent(cache->ring[i].event);
    }
    free(cache->ring[i].data);
  }
  if (cache->tail) clReleaseEvent(cache->tail);
  cl_mem buffers[4] = {cache->k, cache->v, cache->meta, cache->table};
  for (int i = 0; i < 4; i++)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  free(cache->lengths);
  free(cache->blocks);
  free(cache->free_list);
  free(cache);
}

/* ---- host state ------------------------------------------------------------------------- */

clattn_status clattn_kv_cache_lengths(const clattn_kv_cache *cache, int32_t *lengths,
                                      size_t capacity) {
  if (!cache) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "cache must not be NULL");
  if (!lengths) return clattn__fail(cache->ctx, CLATTN_INVALID_ARGUMENT, "lengths must not be NULL");
  if (capacity < (size_t)cache->desc.batch)
    return clattn__fail(cache->ctx, CLATTN_BUFFER_TOO_SMALL, "lengths holds %zu entries; batch is %lld",
                        capacity, (long long)cache->desc.batch);
  memcpy(lengths, cache->lengths, (size_t)cache->desc.batch * sizeof *lengths);
  return CLATTN_SUCCESS;
}

static void reset_one(clattn_kv_cache *c, int64_t b) {
  if (c->desc.block_size > 0) {
    int32_t *row = c->blocks + b * c->table_stride;
    int64_t used = blocks_for(c->lengths[b], c->desc.block_size);
    for (int64_t i = 0; i < used; i++) {
      c->free_list[c->free_count++] = row[i];
      row[i] = 0; /* a valid block, so a stray read stays inside the pool */
    }
    c->table_dirty = 1;
  }
  c->lengths[b] = 0;
  c->meta_dirty = 1;
}

clattn_status clattn_kv_cache_reset(clattn_kv_cache *cache, int64_t sequence) {
  if (!cache) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "cache must not be NULL");
  if (sequence < -1 || sequence >= cache->desc.batch)
    return clattn__fail(cache->ctx, CLATTN_INVALID_ARGUMENT,
                        "sequence = %lld must be -1 (all) or in 0 .. %lld", (long long)sequence,
                        (long long)cache->desc.batch - 1);
  for (int64_t b = 0; b < cache->desc.batch; b++)
    if (sequence == -1 || b == sequence) reset_one(cache, b);
  return CLATTN_SUCCESS;
}

/* ---- device copies of the host state ------------------------------------------------------ */

/* Makes room in the ring and returns the next snapshot, filled from the host state. */
static clattn_status take_snapshot(clattn_kv_cache *c, snapshot **out) {
  snapshot *s = &c->ring[c->next];
  c->next = (c->next + 1) % RING;
  if (s->event) {
    cl_int err = clWaitForEvents(1, &s->event);
    clReleaseEvent(s->event);
    s->event = NULL;
    if (err != CL_SUCCESS)
      return clattn__fail_cl(c->ctx, err, "clWaitForEvents", "an earlier KV cache command failed");
  }
  size_t batch = (size_t)c->desc.batch;
  memcpy(s->data, c->lengths, batch * sizeof(int32_t));
  memset(s->data + batch, 0, 2 * batch * sizeof(int32_t));
  if (c->table_stride > 0)
    memcpy(s->data + 3 * batch, c->blocks, batch * (size_t)c->table_stride * sizeof(int32_t));
  *out = s;
  return CLATTN_SUCCESS;
}

/* The caller's wait list plus the cache's tail, in a new array with room for `extra` more
 * events (the state writes that the next command must also wait for). */
static clattn_status wait_list(clattn_kv_cache *c, cl_uint n, const cl_event *events,
                               cl_uint extra, cl_event **list, cl_uint *count) {
  *list = malloc((n + extra + 1) * sizeof **list);
  if (!*list) return clattn__fail(c->ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  if (n) memcpy(*list, events, n * sizeof *events);
  *count = n;
  if (c->tail) (*list)[(*count)++] = c->tail;
  return CLATTN_SUCCESS;
}

/* Enqueues writes of the snapshot's meta (always when `force`, else when dirty) and block
 * tables (when dirty), after `count` events; appends their events to `list`. */
static clattn_status write_state(clattn_kv_cache *c, cl_command_queue queue, snapshot *s,
                                 int force, cl_event *list, cl_uint *count) {
  cl_uint waits = *count;
  size_t batch = (size_t)c->desc.batch;
  cl_int err = CL_SUCCESS;
  if (force || c->meta_dirty) {
    err = clEnqueueWriteBuffer(queue, c->meta, CL_FALSE, 0, 3 * batch * sizeof(int32_t), s->data,
                               waits, waits ? list : NULL, &list[*count]);
    if (err == CL_SUCCESS) (*count)++;
  }
  if (err == CL_SUCCESS && c->table && c->table_dirty) {
    err = clEnqueueWriteBuffer(queue, c->table, CL_FALSE, 0,
                               batch * (size_t)c->table_stride * sizeof(int32_t), s->data + 3 * batch,
                               waits, waits ? list : NULL, &list[*count]);
    if (err == CL_SUCCESS) (*count)++;
  }
  if (err != CL_SUCCESS)
    return clattn__fail_cl(c->ctx, err, "clEnqueueWriteBuffer", "KV cache lengths or block table");
  c->meta_dirty = c->table_dirty = 0;
  return CLATTN_SUCCESS;
}

/* Records `done` (the call's last command) as the tail and as the end of the snapshot's use;
 * hands a reference to the caller when asked. Takes over the reference to `done`. */
static void finish_call(clattn_kv_cache *c, snapshot *s, cl_event done, cl_event *event) {
  if (s) {
    clRetainEvent(done);
    s->event = done;
  }
  if (event) {
    clRetainEvent(done);
    *event = done;
  }
  if (c->tail) clReleaseEvent(c->tail);
  c->tail = done;
}

static void release_events(cl_event *list, cl_uint from, cl_uint to) {
  for (cl_uint i = from; i < to; i++) clReleaseEvent(list[i]);
}

/* ---- append ------------------------------------------------------------------------------ */

/* Checks one new-token view (B, Hkv, n, dim) and that it does not overlap the cache. */
static clattn_status check_source(clattn_kv_cache *c, const char *name, const clattn_tensor *t,
                                  int64_t n, int64_t dim) {
  if (!t) return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "%s must not be NULL", name);
  if (!t->buffer) return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "%s.buffer must not be NULL", name);
  if (!valid_dtype(t->dtype))
    return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "%s.dtype is not a clattn_dtype", name);
  if (t->stride_batch < 0 || t->stride_head < 0 || t->stride_seq < 0)
    return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "%s has a negative stride", name);
  clattn__view view = {t->offset, {c->desc.batch, c->desc.kv_heads, n, dim},
                       {t->stride_batch, t->stride_head, t->stride_seq, 1}, clattn_dtype_size(t->dtype)};
  size_t size = 0;
  uint64_t begin, end;
  cl_int err = clGetMemObjectInfo(t->buffer, CL_MEM_SIZE, sizeof size, &size, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(c->ctx, err, "clGetMemObjectInfo", "%s is not a valid buffer", name);
  if (clattn__view_byte_range(&view, &begin, &end) != 0 || end > size)
    return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT,
                        "%s reaches past the end of its buffer (%zu bytes): offset %llu, strides "
                        "%lld/%lld/%lld, shape %lldx%lldx%lldx%lld",
                        name, size, (unsigned long long)t->offset, (long long)t->stride_batch,
                        (long long)t->stride_head, (long long)t->stride_seq, (long long)view.dims[0],
                        (long long)view.dims[1], (long long)n, (long long)dim);
  if ((t->buffer == c->k && begin < storage_bytes(c, 0)) || (t->buffer == c->v && begin < storage_bytes(c, 1)))
    return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "%s lies inside the cache's own storage", name);
  return CLATTN_SUCCESS;
}

/* Counts in 0 .. n, room in every sequence, and enough free blocks for all of them. */
static clattn_status check_room(clattn_kv_cache *c, int64_t n, const int32_t *counts) {
  int64_t blocks_needed = 0;
  for (int64_t b = 0; b < c->desc.batch; b++) {
    int64_t count = counts ? counts[b] : n, len = c->lengths[b];
    if (count < 0 || count > n)
      return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "counts[%lld] = %lld must be in 0 .. n = %lld",
                          (long long)b, (long long)count, (long long)n);
    if (len + count > c->desc.capacity)
      return clattn__fail(c->ctx, CLATTN_CAPACITY_EXCEEDED,
                          "sequence %lld holds %lld tokens; %lld more exceed its capacity of %lld",
                          (long long)b, (long long)len, (long long)count, (long long)c->desc.capacity);
    if (c->desc.block_size > 0) {
      blocks_needed += blocks_for(len + count, c->desc.block_size) - blocks_for(len, c->desc.block_size);
      if (blocks_needed > c->free_count)
        return clattn__fail(c->ctx, CLATTN_CAPACITY_EXCEEDED,
                            "the block pool is out of blocks for sequence %lld (%lld of %lld free, "
                            "%lld needed up to this sequence)",
                            (long long)b, (long long)c->free_count, (long long)c->desc.num_blocks,
                            (long long)blocks_needed);
    }
  }
  return CLATTN_SUCCESS;
}

static clattn_status append_kernel(clattn_kv_cache *c, clattn_dtype k_src, clattn_dtype v_src,
                                   cl_kernel *kernel, size_t *wg) {
  clattn__defines defines;
  cl_program program;
  clattn__defines_init(&defines);
  clattn__defines_set_int(&defines, "K_SRC", k_src);
  clattn__defines_set_int(&defines, "V_SRC", v_src);
  clattn__defines_set_int(&defines, "K_DST", c->desc.k_dtype);
  clattn__defines_set_int(&defines, "V_DST", c->desc.v_dtype);
  clattn__defines_set_int(&defines, "PAGED", c->desc.block_size > 0);
  clattn_status status = clattn__program_get(c->ctx, "kv_append.cl", &defines, &program, NULL);
  if (status == CLATTN_SUCCESS) status = clattn__kernel_create(c->ctx, program, "kv_append", kernel);
  if (status != CLATTN_SUCCESS) return status;
  size_t limit = 0;
  clattn_status limit_status =
      clattn__kernel_work_group_limit(c->ctx, kernel, "kv_append", &limit);
  if (limit_status != CLATTN_SUCCESS) return limit_status;
  *wg = APPEND_WG;
  if (*wg > limit) *wg = limit;
  if (*wg > c->ctx->info.max_work_item_sizes[0]) *wg = c->ctx->info.max_work_item_sizes[0];
  if (*wg < 1) *wg = 1;
  return CLATTN_SUCCESS;
}

/* Gives sequence b the pool blocks it needs to hold `len` tokens. */
static void grow(clattn_kv_cache *c, int64_t b, int64_t old_len, int64_t len) {
  int32_t *row = c->blocks + b * c->table_stride;
  for (int64_t i = blocks_for(old_len, c->desc.block_size); i < blocks_for(len, c->desc.block_size); i++) {
    row[i] = c->free_list[--c->free_count];
    c->table_dirty = 1;
  }
}

/* Undoes grow, restoring the free stack's order. */
static void shrink(clattn_kv_cache *c, int64_t b, int64_t old_len, int64_t len) {
  int32_t *row = c->blocks + b * c->table_stride;
  for (int64_t i = blocks_for(len, c->desc.block_size); i-- > blocks_for(old_len, c->desc.block_size);) {
    c->free_list[c->free_count++] = row[i];
    row[i] = 0;
  }
}

typedef struct args {
  cl_kernel kernel;
  cl_uint next;
  cl_int err;
} args;

static void put(args *a, size_t size, const void *value) {
  if (a->err == CL_SUCCESS) a->err = clSetKernelArg(a->kernel, a->next, size, value);
  a->next++;
}

static void put_long(args *a, int64_t value) {
  cl_long x = value;
  put(a, sizeof x, &x);
}

static void put_int(args *a, int64_t value) {
  cl_int x = (cl_int)value;
  put(a, sizeof x, &x);
}

/* Buffer, then offset (sources only) and the three strides. */
static void put_view(args *a, const clattn_tensor *t, int with_offset) {
  put(a, sizeof t->buffer, &t->buffer);
  if (with_offset) put_long(a, (int64_t)t->offset);
  put_long(a, t->stride_batch);
  put_long(a, t->stride_head);
  put_long(a, t->stride_seq);
}

/* The cache's K (which = 0) or V storage as a view: (B, Hkv, capacity, dim) contiguous, or
 * the pool (num_blocks, Hkv, block_size, dim) with stride_batch between blocks. */
static clattn_tensor storage_view(const clattn_kv_cache *c, int which) {
  int64_t rows = c->desc.block_size > 0 ? c->desc.block_size : c->desc.capacity;
  clattn_tensor t = clattn_tensor_contiguous(which ? c->v : c->k, which ? c->desc.v_dtype : c->desc.k_dtype,
                                             CLATTN_LAYOUT_BHSD, c->desc.kv_heads, rows,
                                             which ? c->desc.v_head_dim : c->desc.head_dim, 0);
  return t;
}

static cl_int set_append_args(const clattn_kv_cache *c, cl_kernel kernel, const clattn_tensor *k_new,
                              const clattn_tensor *v_new) {
  args a = {kernel, 0, CL_SUCCESS};
  clattn_tensor kd = storage_view(c, 0), vd = storage_view(c, 1);
  put_view(&a, k_new, 1);
  put_view(&a, v_new, 1);
  put_view(&a, &kd, 0);
  put_view(&a, &vd, 0);
  put_int(&a, c->desc.batch);
  put_int(&a, c->desc.kv_heads);
  put_int(&a, c->desc.head_dim);
  put_int(&a, c->desc.v_head_dim);
  put(&a, sizeof c->meta, &c->meta);
  put(&a, sizeof c->table, c->table ? (const void *)&c->table : NULL);
  put_long(&a, c->table_stride);
  put_int(&a, c->desc.block_size > 0 ? c->desc.block_size : 1);
  return a.err;
}

static clattn_status check_append(clattn_kv_cache *c, cl_command_queue queue, const clattn_tensor *k_new,
                                  const clattn_tensor *v_new, int64_t n, const int32_t *counts,
                                  cl_uint num_wait_events, const cl_event *wait_events) {
  clattn_status status = clattn__queue_check(c->ctx, queue, num_wait_events, wait_events);
  if (status != CLATTN_SUCCESS) return status;
  if (n < 1 || n > INT32_MAX / c->desc.kv_heads)
    return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "n = %lld must be in 1 .. %lld", (long long)n,
                        (long long)(INT32_MAX / c->desc.kv_heads));
  status = check_source(c, "k_new", k_new, n, c->desc.head_dim);
  if (status == CLATTN_SUCCESS) status = check_source(c, "v_new", v_new, n, c->desc.v_head_dim);
  if (status == CLATTN_SUCCESS) status = check_room(c, n, counts);
  return status;
}

clattn_status clattn_kv_cache_append(clattn_kv_cache *cache, cl_command_queue queue,
                                     const clattn_tensor *k_new, const clattn_tensor *v_new,
                                     int64_t n, const int32_t *counts, cl_uint num_wait_events,
                                     const cl_event *wait_events, cl_event *event) {
  if (!cache) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "cache must not be NULL");
  clattn_kv_cache *c = cache;
  if (!queue) queue = c->ctx->queue;
  clattn_status status = check_append(c, queue, k_new, v_new, n, counts, num_wait_events, wait_events);
  cl_kernel kernel = NULL;
  size_t wg = 1;
  if (status == CLATTN_SUCCESS) status = append_kernel(c, k_new->dtype, v_new->dtype, &kernel, &wg);
  if (status != CLATTN_SUCCESS) return status;

  /* From here on the host state changes; any failure below undoes it. */
  snapshot *s = NULL;
  cl_event *list = NULL, done = NULL;
  cl_uint count = 0, writes_from = 0;
  int64_t batch = c->desc.batch;
  status = take_snapshot(c, &s);
  if (status == CLATTN_SUCCESS) {
    for (int64_t b = 0; b < batch; b++) {
      int32_t len = c->lengths[b], add = counts ? counts[b] : (int32_t)n;
      if (c->desc.block_size > 0) grow(c, b, len, (int64_t)len + add);
      s->data[b] = len + add;
      s->data[batch + b] = len;
      s->data[2 * batch + b] = add;
    }
    if (c->table_stride > 0)
      memcpy(s->data + 3 * batch, c->blocks, (size_t)batch * (size_t)c->table_stride * sizeof(int32_t));
    status = wait_list(c, num_wait_events, wait_events, 2, &list, &count);
  }
  writes_from = count;
  if (status == CLATTN_SUCCESS) status = write_state(c, queue, s, 1, list, &count);
  cl_int err = CL_SUCCESS;
  if (status == CLATTN_SUCCESS) {
    size_t global[3] = {wg, (size_t)n * (size_t)c->desc.kv_heads, (size_t)batch};
    size_t local[3] = {wg, 1, 1};
    err = set_append_args(c, kernel, k_new, v_new);
    if (err == CL_SUCCESS)
      err = clEnqueueNDRangeKernel(queue, kernel, 3, NULL, global, local, count, count ? list : NULL, &done);
    if (err != CL_SUCCESS) status = clattn__fail_cl(c->ctx, err, "clEnqueueNDRangeKernel", "kv_append");
  }
  clReleaseKernel(kernel);
  if (status == CLATTN_SUCCESS) {
    for (int64_t b = 0; b < batch; b++) c->lengths[b] = s->data[b];
    finish_call(c, s, done, event);
  } else if (s) {
    /* The snapshot may still be read by writes already enqueued: let them finish. */
    if (count > writes_from) clWaitForEvents(count - writes_from, list + writes_from);
    for (int64_t b = 0; c->desc.block_size > 0 && b < batch; b++)
      shrink(c, b, c->lengths[b], s->data[b]);
    c->meta_dirty = c->table_dirty = 1;
  }
  if (list) release_events(list, writes_from, count);
  free(list);
  return status;
}

/* ---- attention over the cache ------------------------------------------------------------ */

/* The attention call's description with the cache's side filled in. */
static clattn_attention_desc attention_desc(const clattn_kv_cache *c, const clattn_attention_desc *desc) {
  clattn_attention_desc d = *desc;
  d.kv_heads = c->desc.kv_heads;
  d.kv_len = c->table_stride > 0 ? c->table_stride * c->desc.block_size : c->desc.capacity;
  d.head_dim = c->desc.head_dim;
  d.v_head_dim = c->desc.v_head_dim;
  d.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  d.kv_lens = c->meta;
  return d;
}

/* Validates as clattn_attention_forward does. The cache's own K/V views are known to be
 * good; a paged pool is not a (B, Hkv, Skv, D) view, so the generic check sees stand-in
 * views of zero stride on the same buffers instead, and outputs are kept out of the cache's
 * buffers here. */
static clattn_status check_forward(clattn_kv_cache *c, cl_command_queue queue,
                                   const clattn_attention_desc *d, const clattn_tensor *q,
                                   const clattn_tensor *o, const clattn_tensor *lse, cl_uint n,
                                   const cl_event *events, clattn__attention_shape *shape) {
  const clattn_tensor *outputs[2] = {o, lse};
  const char *names[2] = {"o", "lse"};
  cl_mem own[4] = {c->k, c->v, c->meta, c->table};
  for (int i = 0; i < 2; i++)
    for (int j = 0; outputs[i] && j < 4; j++)
      if (own[j] && outputs[i]->buffer == own[j])
        return clattn__fail(c->ctx, CLATTN_INVALID_ARGUMENT, "%s lies in one of the KV cache's buffers", names[i]);
  clattn_tensor k = storage_view(c, 0), v = storage_view(c, 1);
  if (c->table_stride > 0) k.stride_batch = k.stride_head = k.stride_seq = v.stride_batch = v.stride_head = v.stride_seq = 0;
  return clattn__attention_validate(c->ctx, queue, d, q, &k, &v, o, lse, n, events, shape);
}

clattn_status clattn_attention_forward_kv(clattn_context *ctx, cl_command_queue queue,
                                          const clattn_attention_desc *desc,
                                          const clattn_tensor *q, clattn_kv_cache *cache,
                                          const clattn_tensor *o, const clattn_tensor *lse,
                                          cl_uint num_wait_events, const cl_event *wait_events,
                                          cl_event *event) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!cache || !desc)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "%s must not be NULL", !cache ? "cache" : "desc");
  if (cache->ctx != ctx)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "cache was created on another clattn context");
  clattn_kv_cache *c = cache;
  if (!queue) queue = ctx->queue;
  clattn_attention_desc d = attention_desc(c, desc);
  clattn__attention_shape shape;
  clattn_status status = check_forward(c, queue, &d, q, o, lse, num_wait_events, wait_events, &shape);
  if (status != CLATTN_SUCCESS) return status;

  snapshot *s = NULL;
  cl_event *list = NULL, done = NULL;
  cl_uint count = 0, writes_from = 0;
  if (c->meta_dirty || c->table_dirty) status = take_snapshot(c, &s);
  if (status == CLATTN_SUCCESS) status = wait_list(c, num_wait_events, wait_events, 2, &list, &count);
  writes_from = count;
  if (status == CLATTN_SUCCESS && s) status = write_state(c, queue, s, 0, list, &count);
  clattn_tensor k = storage_view(c, 0), v = storage_view(c, 1);
  const clattn_tensor *const tensors[5] = {q, &k, &v, o, lse};
  clattn__kv_pages pages = {c->table, c->table_stride, (int)c->desc.block_size};
  if (status == CLATTN_SUCCESS)
    status = clattn__attention_enqueue(ctx, queue, &d, &shape, tensors, c->table ? &pages : NULL, count,
                                       count ? list : NULL, &done);
  if (status == CLATTN_SUCCESS) {
    finish_call(c, s, done, event);
  } else if (count > writes_from) {
    clWaitForEvents(count - writes_from, list + writes_from);
    c->meta_dirty = c->table_dirty = 1;
  }
  if (list) release_events(list, writes_from, count);
  free(list);
  return status;
}

const clattn_kv_cache_desc *clattn__kv_cache_desc(const clattn_kv_cache *cache) {
  return &cache->desc;
}

void clattn__kv_cache_truncate(clattn_kv_cache *cache, const int32_t *lengths) {
  for (int64_t b = 0; b < cache->desc.batch; b++) {
    if (lengths[b] >= cache->lengths[b]) continue;
    if (cache->desc.block_size > 0) shrink(cache, b, lengths[b], cache->lengths[b]);
    cache->lengths[b] = lengths[b];
    cache->meta_dirty = cache->table_dirty = 1;
  }
}
