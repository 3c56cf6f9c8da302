#include "rel_jobs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention_ref.h"
#include "attn_harness.h"
#include "check.h"
#include "ref_dtype.h"
#include "ref_random.h"

#define F32 CLATTN_F32
#define F16 CLATTN_F16
#define BF16 CLATTN_BF16
#define CANARY 64 /* bytes after every output */
#define CANARY_BYTE 0x5A

/* Job 0 is the one every thread (and process) runs first, so that they all build the same
 * variant at the same moment; the others differ in every define the kernels take. */
const rel_job rel_jobs[] = {
    {"shared f32 D=48", REL_FORWARD, 1, 2, 1, 37, 53, 48, 48, F32, F32, F32, F32, 0, 0, 0, 0, 11},
    {"f32 causal GQA D=40", REL_FORWARD, 2, 4, 2, 77, 91, 40, 40, F32, F32, F32, F32, 1, 0, 0, 0, 12},
    {"f16/bf16 D=24 Dv=40 softcap", REL_FORWARD, 1, 2, 2, 45, 61, 24, 40, F16, BF16, F16, BF16, 0, 8.0f, 0, 0, 13},
    {"decode split-KV D=72", REL_FORWARD, 2, 8, 2, 1, 700, 72, 72, F32, F32, F32, F32, 0, 0, 4, 0, 14},
    {"weights ALiBi causal D=56", REL_WEIGHTS, 1, 3, 1, 19, 45, 56, 56, F32, F32, F32, F32, 1, 0, 0, 1, 15},
    {"ALiBi causal f16 O D=56", REL_FORWARD, 1, 3, 3, 50, 50, 56, 56, F32, F32, F32, F16, 1, 0, 0, 1, 16},
    {"decode f16 KV D=32", REL_FORWARD, 1, 4, 4, 2, 333, 32, 32, F32, F16, F16, F32, 0, 0, 3, 0, 17},
    {"weights f16 D=20", REL_WEIGHTS, 2, 2, 1, 9, 30, 20, 20, BF16, F16, F32, F16, 0, 0, 0, 0, 18},
};
const size_t rel_job_count = sizeof rel_jobs / sizeof rel_jobs[0];

/* The job's inputs, rounded to their storage types: dense BHSD. */
typedef struct inputs {
  float *q, *k, *v;
  size_t nq, nk, nv;
  float slopes[64];
} inputs;

static int make_inputs(const rel_job *j, inputs *in) {
  in->nq = (size_t)(j->batch * j->q_heads * j->q_len * j->head_dim);
  in->nk = (size_t)(j->batch * j->kv_heads * j->kv_len * j->head_dim);
  in->nv = (size_t)(j->batch * j->kv_heads * j->kv_len * j->v_dim);
  in->q = malloc(in->nq * sizeof(float));
  in->k = malloc(in->nk * sizeof(float));
  in->v = malloc(in->nv * sizeof(float));
  if (!in->q || !in->k || !in->v) return -1;
  ref_rng rng;
  ref_rng_seed(&rng, j->seed);
  ref_rng_fill_normal(&rng, in->q, in->nq, 1.0);
  ref_rng_fill_normal(&rng, in->k, in->nk, 1.0);
  ref_rng_fill_normal(&rng, in->v, in->nv, 1.0);
  for (size_t i = 0; i < in->nq; i++) in->q[i] = ref_round_to(j->q_type, in->q[i]);
  for (size_t i = 0; i < in->nk; i++) in->k[i] = ref_round_to(j->k_type, in->k[i]);
  for (size_t i = 0; i < in->nv; i++) in->v[i] = ref_round_to(j->v_type, in->v[i]);
  if (j->alibi && clattn_alibi_slopes(j->q_heads, in->slopes) != CLATTN_SUCCESS) return -1;
  return 0;
}

static void free_inputs(inputs *in) {
  free(in->q);
  free(in->k);
  free(in->v);
}

static clattn_attention_desc make_desc(const rel_job *j) {
  clattn_attention_desc d;
  clattn_attention_desc_init(&d);
  d.batch = j->batch;
  d.q_heads = j->q_heads;
  d.kv_heads = j->kv_heads;
  d.q_len = j->q_len;
  d.kv_len = j->kv_len;
  d.head_dim = j->head_dim;
  d.v_head_dim = j->v_dim;
  d.causal = j->causal;
  d.softcap = j->softcap;
  d.kv_splits = j->kv_splits;
  return d;
}

static size_t out_count(const rel_job *j) {
  int64_t last = j->kind == REL_FORWARD ? j->v_dim : j->kv_len;
  return (size_t)(j->batch * j->q_heads * j->q_len * last);
}

/* A device buffer holding `count` values stored as `dtype`, plus the canary. */
static cl_mem upload(cl_context cl, clattn_dtype dtype, const float *x, size_t count,
                     cl_int *err) {
  size_t bytes = count * clattn_dtype_size(dtype) + CANARY;
  unsigned char *image = malloc(bytes);
  if (!image) {
    *err = CL_OUT_OF_HOST_MEMORY;
    return NULL;
  }
  memset(image, CANARY_BYTE, bytes);
  for (size_t i = 0; x && i < count; i++) ref_store(dtype, image, i, x[i]);
  cl_mem m = clCreateBuffer(cl, CL_MEM_READ_WRITE | CL_MEM_COPY_HOST_PTR, bytes, image, err);
  free(image);
  return m;
}

#define FAIL(...)                                           \
  do {                                                      \
    snprintf(r->message, sizeof r->message, __VA_ARGS__);   \
    goto cleanup;                                           \
  } while (0)

void rel_job_run(clattn_context *ctx, cl_command_queue queue, const rel_job *j, rel_result *r) {
  memset(r, 0, sizeof *r);
  inputs in;
  memset(&in, 0, sizeof in);
  cl_mem buffers[6] = {NULL}; /* q k v o lse slopes */
  cl_event done = NULL;
  cl_int err = CL_SUCCESS;
  cl_context cl = clattn_context_cl_context(ctx);
  if (!queue) queue = clattn_context_queue(ctx);
  if (make_inputs(j, &in) != 0) FAIL("%s: out of memory", j->name);
  size_t no = out_count(j), nl = (size_t)(j->batch * j->q_heads * j->q_len);
  buffers[0] = upload(cl, j->q_type, in.q, in.nq, &err);
  if (err == CL_SUCCESS) buffers[1] = upload(cl, j->k_type, in.k, in.nk, &err);
  if (err == CL_SUCCESS) buffers[2] = upload(cl, j->v_type, in.v, in.nv, &err);
  if (err == CL_SUCCESS) buffers[3] = upload(cl, j->o_type, NULL, no, &err);
  if (err == CL_SUCCESS) buffers[4] = upload(cl, F32, NULL, nl, &err);
  if (err == CL_SUCCESS && j->alibi) buffers[5] = upload(cl, F32, in.slopes, (size_t)j->q_heads, &err);
  if (err != CL_SUCCESS) FAIL("%s: clCreateBuffer: %s", j->name, clattn_cl_error_name(err));

  clattn_attention_desc desc = make_desc(j);
  desc.alibi_slopes = buffers[5];
  clattn_tensor q = clattn_tensor_contiguous(buffers[0], j->q_type, CLATTN_LAYOUT_BHSD, j->q_heads, j->q_len, j->head_dim, 0);
  clattn_tensor k = clattn_tensor_contiguous(buffers[1], j->k_type, CLATTN_LAYOUT_BHSD, j->kv_heads, j->kv_len, j->head_dim, 0);
  clattn_tensor v = clattn_tensor_contiguous(buffers[2], j->v_type, CLATTN_LAYOUT_BHSD, j->kv_heads, j->kv_len, j->v_dim, 0);
  clattn_tensor lse = clattn_tensor_contiguous(buffers[4], F32, CLATTN_LAYOUT_BHSD, j->q_heads, j->q_len, 1, 0);
  clattn_status status;
  if (j->kind == REL_FORWARD) {
    clattn_tensor o = clattn_tensor_contiguous(buffers[3], j->o_type, CLATTN_LAYOUT_BHSD, j->q_heads, j->q_len, j->v_dim, 0);
    status = clattn_attention_forward(ctx, queue, &desc, &q, &k, &v, &o, &lse, 0, NULL, &done);
  } else {
    clattn_tensor w = clattn_tensor_contiguous(buffers[3], j->o_type, CLATTN_LAYOUT_BHSD, j->q_heads, j->q_len, j->kv_len, 0);
    status = clattn_attention_weights(ctx, queue, &desc, &q, &k, NULL, CLATTN_WEIGHTS_PROBS, &w, 0, NULL, &done);
  }
  /* The context's message may already belong to another thread's failure; it is a hint. */
  if (status != CLATTN_SUCCESS) FAIL("%s: %s: %s", j->name, clattn_status_name(status), clattn_last_error(ctx));
  err = clWaitForEvents(1, &done);
  if (err != CL_SUCCESS) FAIL("%s: clWaitForEvents: %s", j->name, clattn_cl_error_name(err));

  r->out_bytes = no * clattn_dtype_size(j->o_type);
  r->out = malloc(r->out_bytes + CANARY);
  r->lse_count = j->kind == REL_FORWARD ? nl : 0;
  r->lse = malloc((nl + 1) * sizeof(float));
  if (!r->out || !r->lse) FAIL("%s: out of memory", j->name);
  err = clEnqueueReadBuffer(queue, buffers[3], CL_TRUE, 0, r->out_bytes + CANARY, r->out, 0, NULL, NULL);
  if (err == CL_SUCCESS)
    err = clEnqueueReadBuffer(queue, buffers[4], CL_TRUE, 0, nl * sizeof(float), r->lse, 0, NULL, NULL);
  if (err != CL_SUCCESS) FAIL("%s: clEnqueueReadBuffer: %s", j->name, clattn_cl_error_name(err));
  for (size_t i = 0; i < CANARY; i++)
    if (r->out[r->out_bytes + i] != CANARY_BYTE) FAIL("%s: the canary after the output changed at byte %zu", j->name, i);
  r->ok = 1;
cleanup:
  if (done) clReleaseEvent(done);
  for (int i = 0; i < 6; i++)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  free_inputs(&in);
}

void rel_result_free(rel_result *r) {
  free(r->out);
  free(r->lse);
  memset(r, 0, sizeof *r);
}

int rel_result_equal(const rel_result *a, const rel_result *b) {
  return a->ok && b->ok && a->out_bytes == b->out_bytes && a->lse_count == b->lse_count &&
         memcmp(a->out, b->out, a->out_bytes) == 0 &&
         memcmp(a->lse, b->lse, a->lse_count * sizeof(float)) == 0;
}

/* Probabilities of the weights jobs: exp(s - lse) over the attended keys, in double. */
static double reference_weight(const ref_attention *p, const double *lse, int64_t b, int64_t h,
                               int64_t i, int64_t jj) {
  if (!ref_attention_allowed(p, b, h, i, jj)) return 0.0;
  int64_t hk = h / (p->q_heads / p->kv_heads);
  const float *qr = p->q + ((b * p->q_heads + h) * p->q_len + i) * p->head_dim;
  const float *kr = p->k + ((b * p->kv_heads + hk) * p->kv_len + jj) * p->head_dim;
  double s = 0.0;
  for (int64_t d = 0; d < p->head_dim; d++) s += (double)qr[d] * kr[d];
  s *= 1.0 / sqrt((double)p->head_dim);
  if (p->softcap > 0) s = p->softcap * tanh(s / p->softcap);
  s += ref_attention_bias(p, b, h, i, jj);
  return exp(s - lse[(b * p->q_heads + h) * p->q_len + i]);
}

void rel_job_check(const rel_job *j, const rel_result *r) {
  if (!r->ok) check_fail(__FILE__, __LINE__, "%s", r->message);
  inputs in;
  memset(&in, 0, sizeof in);
  if (make_inputs(j, &in) != 0) check_fail(__FILE__, __LINE__, "out of memory");
  clattn_attention_desc desc = make_desc(j);
  ref_attention p;
  ref_attention_from_desc(&p, &desc);
  p.q = in.q;
  p.k = in.k;
  p.v = in.v;
  p.alibi_slopes = j->alibi ? in.slopes : NULL;
  size_t no = (size_t)(j->batch * j->q_heads * j->q_len * j->v_dim);
  size_t nl = (size_t)(j->batch * j->q_heads * j->q_len);
  double *o_ref = malloc(no * sizeof(double)), *l_ref = malloc(nl * sizeof(double));
  if (!o_ref || !l_ref || ref_attention_forward(&p, o_ref, l_ref) != 0)
    check_fail(__FILE__, __LINE__, "out of memory");
  double worst = 0.0, ratio;
  size_t count = out_count(j);
  for (size_t e = 0; e < count; e++) {
    double ref = 0.0;
    if (j->kind != REL_WEIGHTS) {
      ref = o_ref[e];
    } else { /* the weights matrix is larger than O: its reference comes from the LSE */
      int64_t jj = (int64_t)(e % (size_t)j->kv_len), row = (int64_t)(e / (size_t)j->kv_len);
      int64_t i = row % j->q_len, h = row / j->q_len % j->q_heads, b = row / j->q_len / j->q_heads;
      ref = reference_weight(&p, l_ref, b, h, i, jj);
    }
    float y = ref_load(j->o_type, r->out, e);
    if (!attn_compare_value(j->o_type, y, ref, &ratio))
      check_fail(__FILE__, __LINE__, "%s: output %zu = %.9g, reference %.12g (error/tolerance %.3g)",
                 j->name, e, (double)y, ref, ratio);
    if (ratio > worst) worst = ratio;
  }
  for (size_t e = 0; e < r->lse_count; e++) {
    if (!attn_compare_value(F32, r->lse[e], l_ref[e], &ratio))
      check_fail(__FILE__, __LINE__, "%s: LSE %zu = %.9g, reference %.12g", j->name, e,
                 (double)r->lse[e], l_ref[e]);
    if (ratio > worst) worst = ratio;
  }
  check_pass();
  printf("  %-32s matches the fp64 reference (worst error/tolerance %.3f)\n", j->name, worst);
  free(o_ref);
  free(l_ref);
  free_inputs(&in);
}

int rel_result_write(FILE *f, const rel_result *r) {
  uint64_t sizes[2] = {r->out_bytes, r->lse_count};
  return fwrite(sizes, sizeof sizes, 1, f) == 1 &&
                 fwrite(r->out, 1, r->out_bytes, f) == r->out_bytes &&
                 fwrite(r->lse, sizeof(float), r->lse_count, f) == r->lse_count
             ? 0
             : -1;
}

int rel_result_read(FILE *f, rel_result *r) {
  memset(r, 0, sizeof *r);
  uint64_t sizes[2];
  if (fread(sizes, sizeof sizes, 1, f) != 1 || sizes[0] > (1u << 30) || sizes[1] > (1u << 28))
    return -1;
  r->out_bytes = (size_t)sizes[0];
  r->lse_count = (size_t)sizes[1];
  r->out = malloc(r->out_bytes + 1);
  r->lse = malloc((r->lse_count + 1) * sizeof(float));
  if (!r->out || !r->lse || fread(r->out, 1, r->out_bytes, f) != r->out_bytes ||
      fread(r->lse, sizeof(float), r->lse_count, f) != r->lse_count)
    return -1;
  r->ok = 1;
  return 0;
}
