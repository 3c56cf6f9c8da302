#include "attn_harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shapes.h"

const clattn__attention_config ATTN_CPU = {4, 16, 8, 8, 0};
const clattn__attention_config ATTN_GPU = {1, 32, 4, 64, 0};
const clattn__attention_config ATTN_GPU2 = {2, 16, 4, 32, 0};
const clattn__attention_config ATTN_VEC1 = {1, 8, 1, 16, 0};
const clattn__attention_config ATTN_DIRECT = {4, 16, 8, 8, 1};

#define CANARY_BYTE 0xC3

const char *attn_config_name(const clattn__attention_config *c) {
  static char text[64];
  if (!c) return "default";
  snprintf(text, sizeof text, "rows=%d,tile_k=%d,vec=%d,wg=%d,v_direct=%d", c->rows, c->tile_k,
           c->vec, c->wg, c->v_direct);
  return text;
}

void attn_env_init(attn_env *env) {
  setvbuf(stdout, NULL, _IOLBF, 0); /* progress lines interleave with failure messages */
  memset(env, 0, sizeof *env);
  clattn_status status = clattn_context_create(NULL, &env->ctx);
  if (status != CLATTN_SUCCESS)
    check_fail(__FILE__, __LINE__, "clattn_context_create: %s: %s", clattn_status_name(status),
               clattn_last_error(NULL));
  env->cl = clattn_context_cl_context(env->ctx);
  env->device = clattn_context_cl_device(env->ctx);
  env->queue = clattn_context_queue(env->ctx);
  clattn_device_info info;
  CHECK_OK(env->ctx, clattn_context_device_info(env->ctx, &info));
  printf("device: %s (%s)\n", info.name, info.platform_name);
}

void attn_env_destroy(attn_env *env) {
  if (env->queue) clFinish(env->queue);
  clattn_context_destroy(env->ctx);
  memset(env, 0, sizeof *env);
}

static void *xmalloc(size_t bytes) {
  void *p = malloc(bytes ? bytes : 1);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory (%zu bytes)", bytes);
  return p;
}

cl_mem attn_buffer(attn_env *env, const void *data, size_t bytes) {
  cl_int err = CL_SUCCESS;
  cl_mem m = clCreateBuffer(env->cl, CL_MEM_READ_WRITE | (data ? CL_MEM_COPY_HOST_PTR : 0),
                            bytes, (void *)data, &err);
  if (err != CL_SUCCESS || !m)
    check_fail(__FILE__, __LINE__, "clCreateBuffer(%zu bytes): %s", bytes,
               clattn_cl_error_name(err));
  return m;
}

void attn_read(attn_env *env, cl_mem buffer, void *out, size_t bytes) {
  CHECK_CL(clEnqueueReadBuffer(env->queue, buffer, CL_TRUE, 0, bytes, out, 0, NULL, NULL));
}

void attn_case_init(attn_case *c, const char *name, int64_t batch, int64_t q_heads,
                    int64_t kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                    int64_t v_head_dim) {
  memset(c, 0, sizeof *c);
  c->name = name;
  test_desc_shape(&c->desc, batch, q_heads, kv_heads, q_len, kv_len, head_dim, v_head_dim);
  c->q_type = c->k_type = c->v_type = c->o_type = CLATTN_F32;
  c->layout = ATTN_BHSD;
  c->lse = 1;
  c->o_gap = 3;
  c->pad = 5;
  c->mask_type = CLATTN_MASK_NONE;
  c->seed = 0x5eedull ^ ((uint64_t)batch << 56) ^ ((uint64_t)q_heads << 48) ^
            ((uint64_t)kv_heads << 40) ^ ((uint64_t)q_len << 28) ^ ((uint64_t)kv_len << 14) ^
            ((uint64_t)head_dim << 4) ^ (uint64_t)v_head_dim;
  c->sigma = 1.0;
}

int attn_compare_value(clattn_dtype dtype, float y, double ref, double *ratio) {
  *ratio = 0.0;
  double r = dtype == CLATTN_F32 ? ref : (double)ref_round_to(dtype, (float)ref);
  if (isnan(r) || isnan(y)) return isnan(r) && isnan(y);
  double rf = dtype == CLATTN_F32 ? (double)(float)ref : r; /* infinity in the storage type */
  if (isinf(rf) || isinf(y)) return rf == (double)y;
  double tol = ATTN_ATOL + ATTN_RTOL * fabs(ref);
  if (dtype != CLATTN_F32) tol += ref_ulp(dtype, fmax(fabs(r), fabs((double)y)));
  double err = fabs((double)y - r);
  *ratio = err / tol;
  return err <= tol;
}

/* One strided 4-D view of a tensor inside a buffer image. */
typedef struct view {
  int64_t dims[4];
  uint64_t offset;
  int64_t strides[3]; /* batch, head, seq; the last dimension is contiguous */
} view;

static uint64_t view_index(const view *v, int64_t b, int64_t h, int64_t s, int64_t d) {
  return v->offset + (uint64_t)(b * v->strides[0] + h * v->strides[1] + s * v->strides[2] + d);
}

/* One past the largest element index the view reaches. */
static uint64_t view_end(const view *v) {
  return view_index(v, v->dims[0] - 1, v->dims[1] - 1, v->dims[2] - 1, v->dims[3] - 1) + 1;
}

static clattn_tensor tensor_of(cl_mem buffer, clattn_dtype dtype, const view *v) {
  clattn_tensor t;
  t.buffer = buffer;
  t.dtype = dtype;
  t.offset = v->offset;
  t.stride_batch = v->strides[0];
  t.stride_head = v->strides[1];
  t.stride_seq = v->strides[2];
  return t;
}

static void layout_view(view *v, attn_layout layout, int64_t B, int64_t H, int64_t S, int64_t D,
                        int64_t row, uint64_t offset) {
  v->dims[0] = B;
  v->dims[1] = H;
  v->dims[2] = S;
  v->dims[3] = D;
  v->offset = offset;
  if (layout == ATTN_BHSD) {
    v->strides[2] = row;
    v->strides[1] = S * row;
    v->strides[0] = H * S * row;
  } else {
    v->strides[1] = row;
    v->strides[2] = H * row;
    v->strides[0] = S * H * row;
  }
}

static void fill_nan(clattn_dtype dtype, void *image, uint64_t count) {
  for (uint64_t i = 0; i < count; i++) ref_store(dtype, image, i, NAN);
}

/* Stores the dense (B, H, S, D) array through the view, then reads every element back so
 * that `dense` holds exactly what the device sees (rounded; with broadcast strides, what
 * the last write left). */
static void store_dense(clattn_dtype dtype, void *image, const view *v, float *dense) {
  const int64_t *n = v->dims;
  for (int pass = 0; pass < 2; pass++)
    for (int64_t b = 0; b < n[0]; b++)
      for (int64_t h = 0; h < n[1]; h++)
        for (int64_t s = 0; s < n[2]; s++)
          for (int64_t d = 0; d < n[3]; d++) {
            float *x = &dense[((b * n[1] + h) * n[2] + s) * n[3] + d];
            if (pass == 0) ref_store(dtype, image, view_index(v, b, h, s, d), *x);
            else *x = ref_load(dtype, image, view_index(v, b, h, s, d));
          }
}

/* Checks that every element of the image outside the view still holds the canary. */
static void check_canary(const char *name, const char *what, const unsigned char *image,
                         uint64_t count, size_t element_size, const view *v) {
  unsigned char *inside = xmalloc(count);
  memset(inside, 0, count);
  const int64_t *n = v->dims;
  for (int64_t b = 0; b < n[0]; b++)
    for (int64_t h = 0; h < n[1]; h++)
      for (int64_t s = 0; s < n[2]; s++)
        for (int64_t d = 0; d < n[3]; d++) inside[view_index(v, b, h, s, d)] = 1;
  for (uint64_t i = 0; i < count; i++) {
    if (inside[i]) continue;
    for (size_t byte = 0; byte < element_size; byte++)
      if (image[i * element_size + byte] != CANARY_BYTE)
        check_fail(__FILE__, __LINE__,
                   "%s: %s element %llu (outside the view, %s) was overwritten: byte %zu = 0x%02x",
                   name, what, (unsigned long long)i,
                   i < v->offset ? "before the offset" : i >= view_end(v) ? "after the end" : "a gap",
                   byte, image[i * element_size + byte]);
  }
  check_pass();
  free(inside);
}

typedef struct run_buffers {
  cl_mem q, k, v, o, lse, mask, kv_lens, q_lens, alibi;
} run_buffers;

static void forward_once(attn_env *env, const attn_case *c, const clattn_attention_desc *desc,
                         const clattn_tensor *t, const clattn_tensor *lse) {
  cl_event done = NULL;
  clattn_status status = clattn_attention_forward(env->ctx, NULL, desc, &t[0], &t[1], &t[2],
                                                  &t[3], lse, 0, NULL, &done);
  if (status != CLATTN_SUCCESS)
    check_fail(__FILE__, __LINE__, "%s: clattn_attention_forward gave %s: %s", c->name,
               clattn_status_name(status), clattn_last_error(env->ctx));
  CHECK(done != NULL);
  CHECK_CL(clWaitForEvents(1, &done));
  cl_int state = 0;
  CHECK_CL(clGetEventInfo(done, CL_EVENT_COMMAND_EXECUTION_STATUS, sizeof state, &state, NULL));
  CHECK_EQ(state, CL_COMPLETE);
  CHECK_CL(clReleaseEvent(done));
}

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

attn_report attn_run(attn_env *env, const attn_case *c) {
  const double start = now_seconds();
  const clattn_attention_desc *d = &c->desc;
  const int64_t B = d->batch, Hq = d->q_heads, Hkv = d->kv_heads, Sq = d->q_len,
                Skv = d->kv_len, D = d->head_dim, Dv = d->v_head_dim ? d->v_head_dim : D;
  const uint64_t pad = c->pad;

  /* Dense logical inputs. */
  const uint64_t nq = (uint64_t)(B * Hq * Sq * D), nk = (uint64_t)(B * Hkv * Skv * D),
                 nv = (uint64_t)(B * Hkv * Skv * Dv), no = (uint64_t)(B * Hq * Sq * Dv),
                 nl = (uint64_t)(B * Hq * Sq);
  float *q = xmalloc(nq * sizeof *q), *k = xmalloc(nk * sizeof *k), *v = xmalloc(nv * sizeof *v);
  ref_rng rng;
  ref_rng_seed(&rng, c->seed);
  ref_rng_fill_normal(&rng, q, nq, c->sigma);
  ref_rng_fill_normal(&rng, k, nk, c->sigma);
  ref_rng_fill_normal(&rng, v, nv, 1.0);
  if (c->poke) c->poke(c, q, k, v);

  /* Views and buffer images. */
  view vq, vk, vv, vo, vl;
  uint64_t q_count, k_count, v_count;
  void *q_image, *k_image = NULL, *v_image = NULL;
  const size_t qs = clattn_dtype_size(c->q_type), ks = clattn_dtype_size(c->k_type),
               vs = clattn_dtype_size(c->v_type), os = clattn_dtype_size(c->o_type);
  if (c->layout == ATTN_PACKED) {
    if (Sq != Skv || c->q_type != c->k_type || c->q_type != c->v_type || c->broadcast_kv_batch)
      check_fail(__FILE__, __LINE__, "%s: a packed layout needs Sq = Skv and one dtype", c->name);
    const int64_t row = Hq * D + Hkv * D + Hkv * Dv;
    layout_view(&vq, ATTN_BSHD, B, Hq, Sq, D, D, pad);
    vq.strides[2] = row;
    vq.strides[0] = Sq * row;
    vk = vq;
    vk.dims[1] = Hkv;
    vk.offset = pad + (uint64_t)(Hq * D);
    vv = vk;
    vv.dims[3] = Dv;
    vv.strides[1] = Dv;
    vv.offset = pad + (uint64_t)(Hq * D + Hkv * D);
    q_count = pad + (uint64_t)(B * Sq * row) + pad;
    q_image = xmalloc(q_count * qs);
    fill_nan(c->q_type, q_image, q_count);
    store_dense(c->q_type, q_image, &vq, q);
    store_dense(c->k_type, q_image, &vk, k);
    store_dense(c->v_type, q_image, &vv, v);
    k_count = v_count = 0;
  } else {
    layout_view(&vq, c->layout, B, Hq, Sq, D, D, pad);
    layout_view(&vk, c->layout, B, Hkv, Skv, D, D, pad);
    layout_view(&vv, c->layout, B, Hkv, Skv, Dv, Dv, pad);
    if (c->broadcast_kv_batch) vk.strides[0] = vv.strides[0] = 0;
    q_count = view_end(&vq) + pad;
    k_count = view_end(&vk) + pad;
    v_count = view_end(&vv) + pad;
    q_image = xmalloc(q_count * qs);
    k_image = xmalloc(k_count * ks);
    v_image = xmalloc(v_count * vs);
    fill_nan(c->q_type, q_image, q_count);
    fill_nan(c->k_type, k_image, k_count);
    fill_nan(c->v_type, v_image, v_count);
    store_dense(c->q_type, q_image, &vq, q);
    store_dense(c->k_type, k_image, &vk, k);
    store_dense(c->v_type, v_image, &vv, v);
  }
  layout_view(&vo, c->layout == ATTN_BHSD ? ATTN_BHSD : ATTN_BSHD, B, Hq, Sq, Dv, Dv + c->o_gap,
              pad);
  layout_view(&vl, ATTN_BHSD, B, Hq, Sq, 1, 1 + c->o_gap, pad);
  const uint64_t o_count = view_end(&vo) + pad, l_count = view_end(&vl) + pad;
  unsigned char *o_image = xmalloc(o_count * os), *l_image = xmalloc(l_count * 4);
  unsigned char *o_first = xmalloc(o_count * os), *l_first = xmalloc(l_count * 4);
  memset(o_image, CANARY_BYTE, o_count * os);
  memset(l_image, CANARY_BYTE, l_count * 4);

  run_buffers buf;
  memset(&buf, 0, sizeof buf);
  buf.q = attn_buffer(env, q_image, q_count * qs);
  buf.k = c->layout == ATTN_PACKED ? buf.q : attn_buffer(env, k_image, k_count * ks);
  buf.v = c->layout == ATTN_PACKED ? buf.q : attn_buffer(env, v_image, v_count * vs);
  buf.o = attn_buffer(env, o_image, o_count * os);
  buf.lse = attn_buffer(env, l_image, l_count * 4);
  clattn_attention_desc desc = *d;
  if (c->kv_lens) desc.kv_lens = buf.kv_lens = attn_buffer(env, c->kv_lens, (size_t)B * 4);
  if (c->q_lens) desc.q_lens = buf.q_lens = attn_buffer(env, c->q_lens, (size_t)B * 4);
  if (c->alibi) desc.alibi_slopes = buf.alibi = attn_buffer(env, c->alibi, (size_t)Hq * 4);
  if (c->mask_type != CLATTN_MASK_NONE) {
    buf.mask = attn_buffer(env, c->mask, c->mask_bytes);
    desc.mask.type = c->mask_type;
    desc.mask.buffer = buf.mask;
    desc.mask.offset = c->mask_offset;
    desc.mask.stride_batch = c->mask_stride_batch;
    desc.mask.stride_head = c->mask_stride_head;
    desc.mask.stride_query = c->mask_stride_query;
  }
  clattn_tensor t[4] = {tensor_of(buf.q, c->q_type, &vq), tensor_of(buf.k, c->k_type, &vk),
                        tensor_of(buf.v, c->v_type, &vv), tensor_of(buf.o, c->o_type, &vo)};
  clattn_tensor tl = tensor_of(buf.lse, CLATTN_F32, &vl);

  const view no_view = {{0, 0, 0, 0}, 0, {0, 0, 0}}; /* LSE not requested: all canary */
  CHECK_OK(env->ctx, clattn__attention_set_override(env->ctx, c->config));
  forward_once(env, c, &desc, t, c->lse ? &tl : NULL);
  attn_read(env, buf.o, o_first, o_count * os);
  attn_read(env, buf.lse, l_first, l_count * 4);
  check_canary(c->name, "O", o_first, o_count, os, &vo);
  check_canary(c->name, "LSE", l_first, l_count, 4, c->lse ? &vl : &no_view);
  if (!c->no_repeat) {
    /* Again, into outputs reset to the canary: every bit must come out the same. */
    CHECK_CL(clEnqueueWriteBuffer(env->queue, buf.o, CL_TRUE, 0, o_count * os, o_image, 0, NULL,
                                  NULL));
    CHECK_CL(clEnqueueWriteBuffer(env->queue, buf.lse, CL_TRUE, 0, l_count * 4, l_image, 0,
                                  NULL, NULL));
    forward_once(env, c, &desc, t, c->lse ? &tl : NULL);
    attn_read(env, buf.o, o_image, o_count * os);
    attn_read(env, buf.lse, l_image, l_count * 4);
    if (memcmp(o_image, o_first, o_count * os) != 0 || memcmp(l_image, l_first, l_count * 4) != 0)
      check_fail(__FILE__, __LINE__, "%s: a second identical run gave different bits", c->name);
    check_pass();
  }
  CHECK_OK(env->ctx, clattn__attention_set_override(env->ctx, NULL));


  /* The reference, from exactly what the device read. */
  ref_attention p;
  ref_attention_from_desc(&p, d);
  p.kv_lens = c->kv_lens;
  p.q_lens = c->q_lens;
  p.mask_type = c->mask_type;
  p.mask = c->mask;
  p.mask_offset = c->mask_offset;
  p.mask_stride_batch = c->mask_stride_batch;
  p.mask_stride_head = c->mask_stride_head;
  p.mask_stride_query = c->mask_stride_query;
  p.alibi_slopes = c->alibi;
  p.q = q;
  p.k = k;
  p.v = v;
  double *o_ref = xmalloc(no * sizeof *o_ref), *l_ref = xmalloc(nl * sizeof *l_ref);
  if (ref_attention_forward(&p, o_ref, l_ref) != 0) check_fail(__FILE__, __LINE__, "out of memory");

  attn_report rep;
  memset(&rep, 0, sizeof rep);
  for (int64_t b = 0; b < B; b++)
    for (int64_t h = 0; h < Hq; h++)
      for (int64_t i = 0; i < Sq; i++) {
        const int64_t r = (b * Hq + h) * Sq + i;
        if (l_ref[r] == -INFINITY) rep.empty_rows++;
        for (int64_t e = 0; e < Dv; e++) {
          float y = ref_load(c->o_type, o_first, view_index(&vo, b, h, i, e));
          double ratio;
          if (!attn_compare_value(c->o_type, y, o_ref[r * Dv + e], &ratio))
            check_fail(__FILE__, __LINE__,
                       "%s [%s, %s]: O(b=%lld, h=%lld, i=%lld, d=%lld) = %.9g, reference %.12g "
                       "(error/tolerance %.3g; O stored as %s; LSE ref %.9g)",
                       c->name, attn_config_name(c->config), c->layout == ATTN_PACKED ? "packed" : c->layout == ATTN_BSHD ? "bshd" : "bhsd",
                       (long long)b, (long long)h, (long long)i, (long long)e, (double)y,
                       o_ref[r * Dv + e], ratio, ref_dtype_name(c->o_type), l_ref[r]);
          if (ratio > rep.worst_o) rep.worst_o = ratio;
          rep.nan_o += isnan(y) != 0;
          rep.inf_o += isinf(y) != 0;
        }
        if (!c->lse) continue;
        float y = ref_load(CLATTN_F32, l_first, view_index(&vl, b, h, i, 0));
        double ratio;
        if (!attn_compare_value(CLATTN_F32, y, l_ref[r], &ratio))
          check_fail(__FILE__, __LINE__,
                     "%s [%s]: LSE(b=%lld, h=%lld, i=%lld) = %.9g, reference %.12g "
                     "(error/tolerance %.3g)",
                     c->name, attn_config_name(c->config), (long long)b, (long long)h,
                     (long long)i, (double)y, l_ref[r], ratio);
        if (ratio > rep.worst_lse) rep.worst_lse = ratio;
        rep.nan_lse += isnan(y) != 0;
      }
  check_pass();
  printf("  %-44s %-34s worst err/tol O %.4f LSE %.4f  (NaN %lld, inf %lld, empty rows %lld) "
         "%.2fs\n",
         c->name, attn_config_name(c->config), rep.worst_o, rep.worst_lse, (long long)rep.nan_o,
         (long long)rep.inf_o, (long long)rep.empty_rows, now_seconds() - start);
  fflush(stdout);

  cl_mem all[9] = {buf.q, c->layout == ATTN_PACKED ? NULL : buf.k,
                   c->layout == ATTN_PACKED ? NULL : buf.v, buf.o, buf.lse, buf.mask,
                   buf.kv_lens, buf.q_lens, buf.alibi};
  for (int i = 0; i < 9; i++)
    if (all[i]) clReleaseMemObject(all[i]);
  free(q);
  free(k);
  free(v);
  free(q_image);
  free(k_image);
  free(v_image);
  free(o_image);
  free(l_image);
  free(o_first);
  free(l_first);
  free(o_ref);
  free(l_ref);
  return rep;
}
