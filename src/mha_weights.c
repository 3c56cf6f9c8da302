/* clattn_mha_set_weights: check every weight's shape against the layer, then copy them into
 * fresh device buffers, replacing the old ones only when everything succeeded. */
#include <string.h>

#include "context.h"
#include "errors.h"
#include "mha_internal.h"

void clattn__mha_weights_release(clattn__mha_weights *w) {
  cl_mem all[4] = {w->w_in, w->b_in, w->w_out, w->b_out};
  for (int i = 0; i < 4; i++)
    if (all[i]) clReleaseMemObject(all[i]);
  memset(w, 0, sizeof *w);
}

static int given(const clattn_host_matrix *m) { return m->data != NULL; }

/* A matrix of rows x cols, or with cols 0 a vector of `rows` entries (cols 0 or 1). */
static clattn_status expect(clattn_context *ctx, const char *name, const clattn_host_matrix *m,
                            int64_t rows, int64_t cols, const char *meaning) {
  if (!m->data)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "w->%s is missing: expected %s", name, meaning);
  int ok = cols ? (m->rows == rows && m->cols == cols) : (m->rows == rows && (m->cols == 0 || m->cols == 1));
  if (!ok)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "w->%s is %lld x %lld, expected %lld x %lld (%s)", name,
                        (long long)m->rows, (long long)m->cols, (long long)rows,
                        (long long)(cols ? cols : 1), meaning);
  return CLATTN_SUCCESS;
}

static clattn_status refuse(clattn_context *ctx, const char *name, const clattn_host_matrix *m,
                            const char *why) {
  if (given(m)) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "w->%s must not be given: %s", name, why);
  return CLATTN_SUCCESS;
}

#define TRY(expr)                                   \
  do {                                              \
    clattn_status try_status_ = (expr);             \
    if (try_status_ != CLATTN_SUCCESS) return try_status_; \
  } while (0)

static clattn_status check_packed(const clattn_mha *m, const clattn_mha_weights *w) {
  clattn_context *ctx = m->ctx;
  const clattn_mha_desc *d = &m->desc;
  if (given(&w->q_weight) || given(&w->k_weight) || given(&w->v_weight))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "both w->in_proj_weight and separate q/k/v weights are given; give one form");
  if (d->kv_heads != d->num_heads || d->kv_dim != d->embed_dim || m->q_width != d->embed_dim)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "w->in_proj_weight needs kv_heads = num_heads, kv_dim = embed_dim and "
                        "num_heads * head_dim = embed_dim; give q_weight, k_weight and v_weight");
  TRY(expect(ctx, "in_proj_weight", &w->in_proj_weight, 3 * d->embed_dim, d->embed_dim, "3E x E"));
  TRY(refuse(ctx, "q_bias", &w->q_bias, "in_proj_bias goes with in_proj_weight"));
  TRY(refuse(ctx, "k_bias", &w->k_bias, "in_proj_bias goes with in_proj_weight"));
  TRY(refuse(ctx, "v_bias", &w->v_bias, "in_proj_bias goes with in_proj_weight"));
  if (d->bias) return expect(ctx, "in_proj_bias", &w->in_proj_bias, 3 * d->embed_dim, 0, "3E");
  return refuse(ctx, "in_proj_bias", &w->in_proj_bias, "desc.bias is 0");
}

static clattn_status check_separate(const clattn_mha *m, const clattn_mha_weights *w) {
  clattn_context *ctx = m->ctx;
  const clattn_mha_desc *d = &m->desc;
  TRY(refuse(ctx, "in_proj_bias", &w->in_proj_bias, "it goes with in_proj_weight"));
  TRY(expect(ctx, "q_weight", &w->q_weight, m->q_width, d->embed_dim, "num_heads * head_dim x E"));
  TRY(expect(ctx, "k_weight", &w->k_weight, m->kv_width, d->kv_dim, "kv_heads * head_dim x kv_dim"));
  TRY(expect(ctx, "v_weight", &w->v_weight, m->kv_width, d->kv_dim, "kv_heads * head_dim x kv_dim"));
  const char *names[3] = {"q_bias", "k_bias", "v_bias"};
  const clattn_host_matrix *biases[3] = {&w->q_bias, &w->k_bias, &w->v_bias};
  int64_t lengths[3] = {m->q_width, m->kv_width, m->kv_width};
  for (int i = 0; i < 3; i++)
    TRY(d->bias ? expect(ctx, names[i], biases[i], lengths[i], 0, "heads * head_dim")
                : refuse(ctx, names[i], biases[i], "desc.bias is 0"));
  return CLATTN_SUCCESS;
}

static clattn_status check_weights(const clattn_mha *m, const clattn_mha_weights *w) {
  clattn_context *ctx = m->ctx;
  const clattn_mha_desc *d = &m->desc;
  TRY(given(&w->in_proj_weight) ? check_packed(m, w) : check_separate(m, w));
  TRY(expect(ctx, "out_weight", &w->out_weight, d->embed_dim, m->q_width, "E x num_heads * head_dim"));
  if (d->bias) return expect(ctx, "out_bias", &w->out_bias, d->embed_dim, 0, "E");
  return refuse(ctx, "out_bias", &w->out_bias, "desc.bias is 0");
}

/* A read-only device buffer of `parts` host arrays placed back to back. */
static clattn_status upload(clattn_context *ctx, const char *name, const float *const *parts,
                            const int64_t *counts, int n, cl_mem *out) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += (size_t)counts[i];
  cl_int err;
  cl_mem buffer = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_ONLY, total * sizeof(float), NULL, &err);
  if (!buffer) return clattn__fail_cl(ctx, err, "clCreateBuffer", "%s (%zu floats)", name, total);
  size_t at = 0;
  for (int i = 0; i < n && err == CL_SUCCESS; i++) {
    err = clEnqueueWriteBuffer(ctx->queue, buffer, CL_TRUE, at * sizeof(float),
                               (size_t)counts[i] * sizeof(float), parts[i], 0, NULL, NULL);
    at += (size_t)counts[i];
  }
  if (err != CL_SUCCESS) {
    clReleaseMemObject(buffer);
    return clattn__fail_cl(ctx, err, "clEnqueueWriteBuffer", "%s", name);
  }
  *out = buffer;
  return CLATTN_SUCCESS;
}

static clattn_status upload_all(const clattn_mha *m, const clattn_mha_weights *w,
                                clattn__mha_weights *out) {
  clattn_context *ctx = m->ctx;
  int64_t e = m->desc.embed_dim, kv = m->kv_width * m->desc.kv_dim;
  int packed = given(&w->in_proj_weight);
  const float *in[3] = {packed ? w->in_proj_weight.data : w->q_weight.data, w->k_weight.data,
                        w->v_weight.data};
  int64_t in_counts[3] = {packed ? 3 * e * e : m->q_width * e, kv, kv};
  TRY(upload(ctx, "the input projection weights", in, in_counts, packed ? 1 : 3, &out->w_in));
  const float *outw[1] = {w->out_weight.data};
  int64_t out_counts[1] = {e * m->q_width};
  TRY(upload(ctx, "out_weight", outw, out_counts, 1, &out->w_out));
  if (!m->desc.bias) return CLATTN_SUCCESS;
  const float *bias[3] = {packed ? w->in_proj_bias.data : w->q_bias.data, w->k_bias.data,
                          w->v_bias.data};
  int64_t bias_counts[3] = {packed ? 3 * e : m->q_width, m->kv_width, m->kv_width};
  TRY(upload(ctx, "the input projection biases", bias, bias_counts, packed ? 1 : 3, &out->b_in));
  const float *outb[1] = {w->out_bias.data};
  int64_t outb_counts[1] = {e};
  return upload(ctx, "out_bias", outb, outb_counts, 1, &out->b_out);
}

clattn_status clattn_mha_set_weights(clattn_mha *mha, const clattn_mha_weights *w) {
  if (!mha) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "mha must not be NULL");
  if (!w) return clattn__fail(mha->ctx, CLATTN_INVALID_ARGUMENT, "w must not be NULL");
  TRY(check_weights(mha, w));
  clattn__mha_weights fresh = {NULL, NULL, NULL, NULL};
  clattn_status status = upload_all(mha, w, &fresh);
  if (status != CLATTN_SUCCESS) {
    clattn__mha_weights_release(&fresh);
    return status;
  }
  clattn__mha_weights_release(&mha->weights);
  mha->weights = fresh;
  return CLATTN_SUCCESS;
}
