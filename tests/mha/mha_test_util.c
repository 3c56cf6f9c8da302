#include "mha_test_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ref_random.h"

void *mt_alloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  if (!p) check_fail(__FILE__, __LINE__, "out of memory");
  return p;
}

static float *random_matrix(ref_rng *rng, int64_t rows, int64_t cols) {
  float *m = mt_alloc((size_t)(rows * cols) * sizeof *m);
  ref_rng_fill_normal(rng, m, (uint64_t)(rows * cols), 1.0 / sqrt((double)cols));
  return m;
}

void mt_layer_init(mt_layer *L, int64_t embed_dim, int64_t heads, int64_t kv_heads,
                   int64_t head_dim, int64_t kv_dim, int bias, uint64_t seed) {
  memset(L, 0, sizeof *L);
  mha_ref_layer *r = &L->ref;
  r->embed_dim = embed_dim;
  r->num_heads = heads;
  r->kv_heads = kv_heads ? kv_heads : heads;
  r->head_dim = head_dim ? head_dim : embed_dim / heads;
  r->kv_dim = kv_dim ? kv_dim : embed_dim;
  int64_t qw = heads * r->head_dim, kvw = r->kv_heads * r->head_dim;
  ref_rng rng;
  ref_rng_seed(&rng, seed);
  L->wq = random_matrix(&rng, qw, embed_dim);
  L->wk = random_matrix(&rng, kvw, r->kv_dim);
  L->wv = random_matrix(&rng, kvw, r->kv_dim);
  L->wo = random_matrix(&rng, embed_dim, qw);
  L->packed_w = mt_alloc((size_t)(qw * embed_dim + 2 * kvw * r->kv_dim) * sizeof(float));
  memcpy(L->packed_w, L->wq, (size_t)(qw * embed_dim) * sizeof(float));
  memcpy(L->packed_w + qw * embed_dim, L->wk, (size_t)(kvw * r->kv_dim) * sizeof(float));
  memcpy(L->packed_w + qw * embed_dim + kvw * r->kv_dim, L->wv, (size_t)(kvw * r->kv_dim) * sizeof(float));
  if (bias) {
    L->bq = random_matrix(&rng, qw, 1);
    L->bk = random_matrix(&rng, kvw, 1);
    L->bv = random_matrix(&rng, kvw, 1);
    L->bo = random_matrix(&rng, embed_dim, 1);
    L->packed_b = mt_alloc((size_t)(qw + 2 * kvw) * sizeof(float));
    memcpy(L->packed_b, L->bq, (size_t)qw * sizeof(float));
    memcpy(L->packed_b + qw, L->bk, (size_t)kvw * sizeof(float));
    memcpy(L->packed_b + qw + kvw, L->bv, (size_t)kvw * sizeof(float));
  }
  r->wq = L->wq;
  r->wk = L->wk;
  r->wv = L->wv;
  r->wo = L->wo;
  r->bq = L->bq;
  r->bk = L->bk;
  r->bv = L->bv;
  r->bo = L->bo;
}

void mt_layer_free(mt_layer *L) {
  float *all[10] = {L->wq, L->wk, L->wv, L->wo, L->bq, L->bk, L->bv, L->bo, L->packed_w, L->packed_b};
  for (int i = 0; i < 10; i++) free(all[i]);
  memset(L, 0, sizeof *L);
}

clattn_mha_desc mt_layer_desc(const mt_layer *L) {
  clattn_mha_desc d;
  clattn_mha_desc_init(&d);
  d.embed_dim = L->ref.embed_dim;
  d.num_heads = L->ref.num_heads;
  d.kv_heads = L->ref.kv_heads;
  d.head_dim = L->ref.head_dim;
  d.kv_dim = L->ref.kv_dim;
  d.bias = L->bq != NULL;
  d.rope = L->ref.rope;
  d.alibi = L->ref.alibi;
  d.scale = (float)L->ref.scale;
  return d;
}

static clattn_host_matrix matrix(const float *data, int64_t rows, int64_t cols) {
  clattn_host_matrix m = {data, rows, cols};
  return m;
}

clattn_mha_weights mt_layer_weights(const mt_layer *L, int packed) {
  const mha_ref_layer *r = &L->ref;
  int64_t qw = r->num_heads * r->head_dim, kvw = r->kv_heads * r->head_dim, e = r->embed_dim;
  clattn_mha_weights w;
  memset(&w, 0, sizeof w);
  if (packed) {
    w.in_proj_weight = matrix(L->packed_w, qw + 2 * kvw, e);
    if (L->bq) w.in_proj_bias = matrix(L->packed_b, qw + 2 * kvw, 0);
  } else {
    w.q_weight = matrix(L->wq, qw, e);
    w.k_weight = matrix(L->wk, kvw, r->kv_dim);
    w.v_weight = matrix(L->wv, kvw, r->kv_dim);
    if (L->bq) {
      w.q_bias = matrix(L->bq, qw, 1);
      w.k_bias = matrix(L->bk, kvw, 0);
      w.v_bias = matrix(L->bv, kvw, 1);
    }
  }
  w.out_weight = matrix(L->wo, e, qw);
  if (L->bo) w.out_bias = matrix(L->bo, e, 0);
  return w;
}

clattn_mha *mt_layer_create(attn_env *env, const mt_layer *L, int packed) {
  clattn_mha_desc d = mt_layer_desc(L);
  clattn_mha *mha = NULL;
  CHECK_OK(env->ctx, clattn_mha_create(env->ctx, &d, &mha));
  clattn_mha_weights w = mt_layer_weights(L, packed);
  CHECK_OK(env->ctx, clattn_mha_set_weights(mha, &w));
  return mha;
}

static mt_rows rows_make(attn_env *env, const float *dense, int64_t batch, int64_t seq,
                         int64_t dim, int64_t row, int64_t batch_stride) {
  mt_rows r;
  memset(&r, 0, sizeof r);
  r.batch = batch;
  r.seq = seq;
  r.dim = dim;
  r.row = row;
  r.batch_stride = batch_stride;
  r.total = (size_t)((batch - 1) * batch_stride + (seq - 1) * row + dim) + MT_CANARY;
  float *host = mt_alloc(r.total * sizeof *host);
  for (size_t i = 0; i < r.total; i++) host[i] = MT_CANARY_VALUE;
  for (int64_t b = 0; b < batch; b++)
    for (int64_t s = 0; s < seq; s++)
      for (int64_t i = 0; i < dim; i++)
        host[b * batch_stride + s * row + i] = dense ? dense[(b * seq + s) * dim + i] : NAN;
  r.buffer = attn_buffer(env, host, r.total * sizeof *host);
  free(host);
  clattn_tensor v = {r.buffer, CLATTN_F32, 0, batch_stride, 0, row};
  r.view = v;
  return r;
}

mt_rows mt_rows_upload(attn_env *env, const float *dense, int64_t batch, int64_t seq,
                       int64_t dim, int64_t row, int64_t batch_stride) {
  return rows_make(env, dense, batch, seq, dim, row, batch_stride);
}

mt_rows mt_rows_poisoned(attn_env *env, int64_t batch, int64_t seq, int64_t dim, int64_t row,
                         int64_t batch_stride) {
  return rows_make(env, NULL, batch, seq, dim, row, batch_stride);
}

float *mt_rows_read(attn_env *env, const mt_rows *r) {
  float *host = mt_alloc(r->total * sizeof *host);
  attn_read(env, r->buffer, host, r->total * sizeof *host);
  float *dense = mt_alloc((size_t)(r->batch * r->seq * r->dim) * sizeof *dense);
  char *inside = mt_alloc(r->total);
  for (int64_t b = 0; b < r->batch; b++)
    for (int64_t s = 0; s < r->seq; s++)
      for (int64_t i = 0; i < r->dim; i++) {
        size_t at = (size_t)(b * r->batch_stride + s * r->row + i);
        dense[(b * r->seq + s) * r->dim + i] = host[at];
        inside[at] = 1;
      }
  for (size_t i = 0; i < r->total; i++)
    if (!inside[i] && host[i] != MT_CANARY_VALUE)
      check_fail(__FILE__, __LINE__, "element %zu outside the rows was overwritten (%g)", i, host[i]);
  check_pass();
  free(inside);
  free(host);
  return dense;
}

void mt_rows_release(mt_rows *r) {
  if (r->buffer) clReleaseMemObject(r->buffer);
  r->buffer = NULL;
}
