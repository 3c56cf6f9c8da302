/* Fuzz target: clattn_attention_forward's validation of the descriptor, shapes, strides, masks
 * and aliasing, over small real buffers on one context created once per process.
 *
 * Input layout (bytes past the end read as 0):
 *   flags                      bit 0: give Q, K, V, O and the mask contiguous strides for the
 *                              decoded shape instead of decoded ones; bit 1: an LSE output;
 *                              bit 2: pass the context's queue instead of NULL; bit 3: a
 *                              broken wait list (1 event, NULL list)
 *   4 buffer sizes             buffer i holds 1 + 2 * byte bytes (a sub-buffer at origin 0 of
 *                              a larger one, so that what follows it is a canary)
 *   B Hq Hkv Sq Skv D Dv       sizes (see pick)
 *   scale softcap              from a table of floats (0, 1, negative, NaN, inf, ...)
 *   causal alignment window_left window_right kv_splits
 *   Q K V O LSE                buffer (of the 4, or NULL), dtype, offset, 3 strides each
 *   mask                       type, buffer, offset, 3 strides
 *   kv_lens q_lens alibi       buffer or NULL each
 *
 * Every input is validated (clattn__attention_validate, the host-side check of
 * clattn_attention_forward). A rejection must be INVALID_ARGUMENT or UNSUPPORTED with a message,
 * and clattn_attention_forward must reject the same input the same way and write nothing.
 * An accepted input whose kernel variants are few (Q, K, V, O of one storage type, D = Dv <= 4)
 * and whose work is small (Skv <= 128, so that the split-KV decode path runs too) also runs
 * through clattn_attention_forward: it must succeed, and afterwards every byte of the four
 * buffers outside the elements of O and LSE, canaries included, must be as it was. Other
 * accepted inputs are only validated, because each new kernel variant costs a compilation
 * (seconds on PoCL). */
#include <math.h>
#include <string.h>

#include "attention_validate.h"
#include "fuzz.h"

enum { POOL = 4, CANARY = 64 };

static clattn_context *ctx;

static void destroy_context(void) { clattn_context_destroy(ctx); }

static clattn_context *context(void) {
  if (!ctx) {
    if (clattn_context_create(NULL, &ctx) != CLATTN_SUCCESS) {
      fprintf(stderr, "fuzz_attention: no context: %s\n", clattn_last_error(NULL));
      abort();
    }
    atexit(destroy_context);
  }
  return ctx;
}

/* Mostly -2 .. 5 (invalid, small, valid), else a value at an edge somewhere. */
static int64_t pick(fuzz_reader *r) {
  static const int64_t edges[32] = {
      0, 1, -1, 6, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 127, 128,
      255, 256, 511, 512, 513, 1024, INT32_MAX, (int64_t)INT32_MAX + 1, UINT32_MAX,
      INT64_MAX, INT64_MIN, INT64_MAX / 2, (int64_t)1 << 40, -((int64_t)1 << 31), 3, 4};
  uint8_t b = fuzz_u8(r);
  return b < 0xe0 ? (int64_t)(b % 8) - 2 : edges[b - 0xe0];
}

static float pick_float(fuzz_reader *r) {
  static const float values[16] = {0.0f, 1.0f, 0.5f, -1.0f, NAN, INFINITY, -INFINITY, 1e30f,
                                    1e-30f, 2.0f, 30.0f, -0.0f, 0.125f, 1e-45f, 3.4e38f, 50.0f};
  return values[fuzz_u8(r) % 16];
}

typedef struct pool {
  cl_mem parent[POOL], sub[POOL];
  size_t bytes[POOL];
  unsigned char *expect[POOL]; /* parent's contents as written */
} pool;

static cl_mem pick_buffer(fuzz_reader *r, const pool *p, int options) {
  int i = fuzz_u8(r) % options;
  return i < POOL ? p->sub[i] : NULL;
}

static void read_tensor(fuzz_reader *r, const pool *p, clattn_tensor *t) {
  t->buffer = pick_buffer(r, p, POOL + 1);
  t->dtype = (clattn_dtype)(fuzz_u8(r) % 4); /* 3 is not a storage type */
  t->offset = (uint64_t)pick(r);
  t->stride_batch = pick(r);
  t->stride_head = pick(r);
  t->stride_seq = pick(r);
}

/* Contiguous BHSD strides for (heads, seq, dim), when each is 1 .. 2^20 (so that the products
 * fit in 64 bits); otherwise the decoded strides stay. */
static void contiguous(clattn_tensor *t, int64_t heads, int64_t seq, int64_t dim) {
  const int64_t most = (int64_t)1 << 20;
  if (heads < 1 || seq < 1 || dim < 1 || heads > most || seq > most || dim > most) return;
  t->stride_seq = dim;
  t->stride_head = seq * dim;
  t->stride_batch = heads * seq * dim;
}

static void pool_create(fuzz_reader *r, pool *p) {
  cl_context cl = clattn_context_cl_context(context());
  cl_command_queue queue = clattn_context_queue(ctx);
  for (int i = 0; i < POOL; i++) {
    cl_int err;
    p->bytes[i] = 1 + 2 * (size_t)fuzz_u8(r);
    p->parent[i] = clCreateBuffer(cl, CL_MEM_READ_WRITE, p->bytes[i] + CANARY, NULL, &err);
    FUZZ_CHECK(err == CL_SUCCESS);
    cl_buffer_region region = {0, p->bytes[i]};
    p->sub[i] = clCreateSubBuffer(p->parent[i], CL_MEM_READ_WRITE, CL_BUFFER_CREATE_TYPE_REGION,
                                  &region, &err);
    FUZZ_CHECK(err == CL_SUCCESS);
    p->expect[i] = malloc(p->bytes[i] + CANARY);
    FUZZ_CHECK(p->expect[i] != NULL);
    for (size_t j = 0; j < p->bytes[i] + CANARY; j++)
      p->expect[i][j] = (unsigned char)((j * 131 + 7 + (size_t)i * 29) & 0xff);
    FUZZ_CHECK(clEnqueueWriteBuffer(queue, p->parent[i], CL_TRUE, 0, p->bytes[i] + CANARY,
                                    p->expect[i], 0, NULL, NULL) == CL_SUCCESS);
  }
}

static void pool_release(pool *p) {
  for (int i = 0; i < POOL; i++) {
    clReleaseMemObject(p->sub[i]);
    clReleaseMemObject(p->parent[i]);
    free(p->expect[i]);
  }
}

/* Marks the bytes of a view's elements in `allowed` when the view lives in `buffer`. */
static void mark(unsigned char *allowed, cl_mem buffer, const clattn_tensor *t,
                 const int64_t dims[4]) {
  if (!t || t->buffer != buffer) return;
  size_t size = clattn_dtype_size(t->dtype);
  for (int64_t b = 0; b < dims[0]; b++)
    for (int64_t h = 0; h < dims[1]; h++)
      for (int64_t s = 0; s < dims[2]; s++)
        for (int64_t d = 0; d < dims[3]; d++) {
          uint64_t e = t->offset + (uint64_t)(b * t->stride_batch + h * t->stride_head +
                                              s * t->stride_seq + d);
          memset(allowed + e * size, 1, size);
        }
}

/* Every byte of every pool buffer, canaries included, is as written, except the elements of
 * the outputs (o_dims and lse_dims; NULL when nothing may have been written). */
static void check_untouched(const pool *p, const clattn_tensor *o, const int64_t *o_dims,
                            const clattn_tensor *lse, const int64_t *lse_dims) {
  for (int i = 0; i < POOL; i++) {
    size_t total = p->bytes[i] + CANARY;
    unsigned char *now = malloc(total), *allowed = calloc(total, 1);
    FUZZ_CHECK(now && allowed);
    FUZZ_CHECK(clEnqueueReadBuffer(clattn_context_queue(ctx), p->parent[i], CL_TRUE, 0, total,
                                   now, 0, NULL, NULL) == CL_SUCCESS);
    if (o_dims) mark(allowed, p->sub[i], o, o_dims);
    if (lse_dims) mark(allowed, p->sub[i], lse, lse_dims);
    for (size_t j = 0; j < total; j++) {
      if (!allowed[j] && now[j] != p->expect[i][j]) {
        fprintf(stderr, "fuzz_attention: buffer %d byte %zu of %zu (+%d canary) changed\n", i, j,
                p->bytes[i], CANARY);
        abort();
      }
    }
    free(now);
    free(allowed);
  }
}

static int rejected_properly(clattn_status status) {
  const char *message = clattn_last_error(ctx);
  return (status == CLATTN_INVALID_ARGUMENT || status == CLATTN_UNSUPPORTED) && message[0];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_reader in = {data, size, 0}, *r = &in;
  uint8_t flags = fuzz_u8(r);
  pool p;
  pool_create(r, &p);

  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = pick(r);
  desc.q_heads = pick(r);
  desc.kv_heads = pick(r);
  desc.q_len = pick(r);
  desc.kv_len = pick(r);
  desc.head_dim = pick(r);
  desc.v_head_dim = pick(r);
  desc.scale = pick_float(r);
  desc.softcap = pick_float(r);
  desc.causal = fuzz_u8(r) & 1;
  desc.alignment = (clattn_alignment)(fuzz_u8(r) % 3);
  desc.window_left = pick(r);
  desc.window_right = pick(r);
  desc.kv_splits = (int)pick(r);

  clattn_tensor t[5]; /* q k v o lse */
  for (int i = 0; i < 5; i++) read_tensor(r, &p, &t[i]);
  int64_t dv = desc.v_head_dim ? desc.v_head_dim : desc.head_dim;
  if (flags & 1) {
    contiguous(&t[0], desc.q_heads, desc.q_len, desc.head_dim);
    contiguous(&t[1], desc.kv_heads, desc.kv_len, desc.head_dim);
    contiguous(&t[2], desc.kv_heads, desc.kv_len, dv);
    contiguous(&t[3], desc.q_heads, desc.q_len, dv);
  }
  clattn_tensor *lse = (flags & 2) ? &t[4] : NULL;

  clattn_mask *m = &desc.mask;
  m->type = (clattn_mask_type)(fuzz_u8(r) % 4); /* 3 is not a mask type */
  m->buffer = pick_buffer(r, &p, POOL + 1);
  m->offset = (uint64_t)pick(r);
  m->stride_batch = pick(r);
  m->stride_head = pick(r);
  m->stride_query = pick(r);
  if (flags & 1) {
    clattn_tensor mt = {0};
    contiguous(&mt, desc.q_heads, desc.q_len, desc.kv_len);
    m->stride_batch = mt.stride_batch;
    m->stride_head = mt.stride_head;
    m->stride_query = mt.stride_seq;
  }
  desc.kv_lens = pick_buffer(r, &p, POOL + 2);
  desc.q_lens = pick_buffer(r, &p, POOL + 2);
  desc.alibi_slopes = pick_buffer(r, &p, POOL + 2);

  cl_command_queue queue = (flags & 4) ? clattn_context_queue(ctx) : NULL;
  cl_uint num_wait = (flags & 8) ? 1 : 0;

  clattn__attention_shape shape;
  clattn_status status = clattn__attention_validate(ctx, clattn_context_queue(ctx), &desc, &t[0],
                                                    &t[1], &t[2], &t[3], lse, num_wait, NULL,
                                                    &shape);
  if (status != CLATTN_SUCCESS) {
    FUZZ_CHECK(rejected_properly(status));
    /* The public call rejects the same input the same way, before enqueueing anything. */
    clattn_status again = clattn_attention_forward(ctx, queue, &desc, &t[0], &t[1], &t[2], &t[3],
                                                   lse, num_wait, NULL, NULL);
    FUZZ_CHECK(again == status && rejected_properly(again));
    check_untouched(&p, NULL, NULL, NULL, NULL);
  } else {
    FUZZ_CHECK(num_wait == 0);
    int one_type = t[0].dtype == t[1].dtype && t[1].dtype == t[2].dtype &&
                   t[2].dtype == t[3].dtype;
    if (one_type && shape.head_dim == shape.v_dim && shape.head_dim <= 4 && shape.kv_len <= 128) {
      cl_event done = NULL;
      status = clattn_attention_forward(ctx, queue, &desc, &t[0], &t[1], &t[2], &t[3], lse, 0,
                                        NULL, &done);
      if (status != CLATTN_SUCCESS)
        fprintf(stderr, "fuzz_attention: %s: %s\n", clattn_status_name(status),
                clattn_last_error(ctx));
      FUZZ_CHECK(status == CLATTN_SUCCESS);
      FUZZ_CHECK(clWaitForEvents(1, &done) == CL_SUCCESS);
      clReleaseEvent(done);
      const int64_t o_dims[4] = {shape.batch, shape.q_heads, shape.q_len, shape.v_dim};
      const int64_t lse_dims[4] = {shape.batch, shape.q_heads, shape.q_len, 1};
      check_untouched(&p, &t[3], o_dims, lse, lse_dims);
    }
  }
  pool_release(&p);
  return 0;
}
