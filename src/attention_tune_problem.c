/* One problem of the attention tuner: inputs, a checked run, timed runs (attention_tune.h).
 *
 * The inputs are normal random numbers rounded to multiples of 1/64 within +-4: exact in
 * f32, f16 and bf16 alike, so one double-precision reference serves every storage type and
 * O (f32) can be held to the fp32 tolerance of DESIGN.md whatever the inputs' storage. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_tune.h"
#include "context.h"
#include "errors.h"

#define CANARY_VALUE 4321.5f

static uint64_t next_random(uint64_t *state) {
  uint64_t x = *state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  *state = x;
  return x;
}

/* A normal number rounded to a multiple of 1/64 in [-255/64, 255/64] (Box-Muller). */
static float quantised_normal(uint64_t *state) {
  double u1 = ((double)(next_random(state) >> 11) + 1.0) / 9007199254740993.0;
  double u2 = (double)(next_random(state) >> 11) / 9007199254740992.0;
  double x = sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
  double k = nearbyint(64.0 * x);
  k = k > 255.0 ? 255.0 : k < -255.0 ? -255.0 : k;
  return (float)(k / 64.0);
}

/* The storage bits of a value that the type holds exactly (a multiple of 1/64 below 4). */
static uint16_t exact_16bit(float x, clattn_dtype dtype) {
  uint32_t bits;
  memcpy(&bits, &x, sizeof bits);
  if (dtype == CLATTN_BF16) return (uint16_t)(bits >> 16);
  if ((bits & 0x7fffffffu) == 0) return (uint16_t)(bits >> 16);
  uint32_t sign = (bits >> 16) & 0x8000u, exponent = (bits >> 23) & 0xffu;
  return (uint16_t)(sign | ((exponent - 127u + 15u) << 10) | ((bits >> 13) & 0x3ffu));
}

static cl_mem upload(clattn__atune_problem *p, const float *values, size_t n, cl_int *err) {
  size_t element = p->dtype == CLATTN_F32 ? 4 : 2;
  void *data = (void *)values;
  uint16_t *packed = NULL;
  if (p->dtype != CLATTN_F32) {
    packed = malloc(n * sizeof *packed);
    if (!packed) {
      *err = CL_OUT_OF_HOST_MEMORY;
      return NULL;
    }
    for (size_t i = 0; i < n; i++) packed[i] = exact_16bit(values[i], p->dtype);
    data = packed;
  }
  cl_mem buffer = clCreateBuffer(p->ctx->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                                 n * element, data, err);
  free(packed);
  return buffer;
}

static int attends(const clattn__atune_problem *p, int i, int j) {
  if (p->masking == CLATTN_TUNE_MASK_CAUSAL) return j <= i;
  if (p->masking == CLATTN_TUNE_MASK_TENSOR) return p->hmask[(size_t)i * p->seq + j] != 0;
  return 1;
}

/* softmax(Q K^T / sqrt(D)) V for one (head, row), in double, max subtracted. */
static void reference_row(const clattn__atune_problem *p, int head, int i, double *out,
                          double *scores) {
  int s = p->seq, d = p->head_dim;
  const float *q = p->hq + ((size_t)head * s + i) * d;
  double scale = 1.0 / sqrt((double)d), max = -INFINITY, sum = 0.0;
  for (int j = 0; j < s; j++) {
    const float *k = p->hk + ((size_t)head * s + j) * d;
    double dot = 0.0;
    for (int c = 0; c < d; c++) dot += (double)q[c] * (double)k[c];
    scores[j] = attends(p, i, j) ? dot * scale : -INFINITY;
    if (scores[j] > max) max = scores[j];
  }
  for (int c = 0; c < d; c++) out[c] = 0.0;
  for (int j = 0; j < s; j++) {
    if (scores[j] == -INFINITY) continue;
    double w = exp(scores[j] - max);
    sum += w;
    const float *v = p->hv + ((size_t)head * s + j) * d;
    for (int c = 0; c < d; c++) out[c] += w * (double)v[c];
  }
  for (int c = 0; c < d; c++) out[c] /= sum;
}

static clattn_status make_inputs(clattn__atune_problem *p) {
  size_t n = (size_t)CLATTN__ATUNE_HEADS * p->seq * p->head_dim;
  p->hq = malloc(n * sizeof *p->hq);
  p->hk = malloc(n * sizeof *p->hk);
  p->hv = malloc(n * sizeof *p->hv);
  p->ho = malloc((n + CLATTN__ATUNE_CANARY) * sizeof *p->ho);
  p->ref = malloc((size_t)CLATTN__ATUNE_SAMPLES * p->head_dim * sizeof *p->ref);
  if (p->masking == CLATTN_TUNE_MASK_TENSOR) p->hmask = malloc((size_t)p->seq * p->seq);
  double *scores = malloc((size_t)p->seq * sizeof *scores);
  if (!p->hq || !p->hk || !p->hv || !p->ho || !p->ref || !scores ||
      (p->masking == CLATTN_TUNE_MASK_TENSOR && !p->hmask)) {
    free(scores);
    return clattn__fail(p->ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory for the tuning inputs");
  }
  uint64_t state = 0x5851f42d4c957f2dull ^ (uint64_t)(p->seq * 131 + p->head_dim);
  for (size_t i = 0; i < n; i++) {
    p->hq[i] = quantised_normal(&state);
    p->hk[i] = quantised_normal(&state);
    p->hv[i] = quantised_normal(&state);
  }
  /* About one key in eleven masked, in a pattern that differs from row to row. */
  for (int i = 0; p->hmask && i < p->seq; i++)
    for (int j = 0; j < p->seq; j++) p->hmask[(size_t)i * p->seq + j] = (i * 7 + j * 13) % 11 != 0;
  /* The first and last rows of the first and last heads, the rest spread at random. */
  int last = p->seq - 1, heads = CLATTN__ATUNE_HEADS;
  p->rows[0] = 0;
  p->rows[1] = last;
  p->rows[2] = (heads - 1) * p->seq;
  p->rows[3] = (heads - 1) * p->seq + last;
  for (int i = 4; i < CLATTN__ATUNE_SAMPLES; i++)
    p->rows[i] = (int)(next_random(&state) % (uint64_t)(heads * p->seq));
  for (int i = 0; i < CLATTN__ATUNE_SAMPLES; i++)
    reference_row(p, p->rows[i] / p->seq, p->rows[i] % p->seq, p->ref + (size_t)i * p->head_dim,
                  scores);
  free(scores);
  return CLATTN_SUCCESS;
}

clattn_status clattn__atune_problem_create(clattn_context *ctx, clattn_dtype dtype, int seq,
                                           int head_dim, clattn_tune_masking masking,
                                           clattn__atune_problem *p) {
  memset(p, 0, sizeof *p);
  p->ctx = ctx;
  p->dtype = dtype;
  p->seq = seq;
  p->head_dim = head_dim;
  p->masking = masking;
  clattn_status status = make_inputs(p);
  if (status != CLATTN_SUCCESS) return status;
  size_t n = (size_t)CLATTN__ATUNE_HEADS * seq * head_dim;
  cl_int err = CL_SUCCESS;
  p->q = upload(p, p->hq, n, &err);
  if (err == CL_SUCCESS) p->k = upload(p, p->hk, n, &err);
  if (err == CL_SUCCESS) p->v = upload(p, p->hv, n, &err);
  if (err == CL_SUCCESS)
    p->o = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_WRITE,
                          (n + CLATTN__ATUNE_CANARY) * sizeof(float), NULL, &err);
  if (err == CL_SUCCESS && p->hmask)
    p->mask = clCreateBuffer(ctx->cl_ctx, CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR,
                             (size_t)seq * seq, p->hmask, &err);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clCreateBuffer", "the tuning problem (S=%d, D=%d)", seq,
                           head_dim);
  return CLATTN_SUCCESS;
}

void clattn__atune_problem_release(clattn__atune_problem *p) {
  cl_mem buffers[] = {p->q, p->k, p->v, p->o, p->mask};
  for (size_t i = 0; i < sizeof buffers / sizeof buffers[0]; i++)
    if (buffers[i]) clReleaseMemObject(buffers[i]);
  free(p->hq);
  free(p->hk);
  free(p->hv);
  free(p->hmask);
  free(p->ho);
  free(p->ref);
  memset(p, 0, sizeof *p);
}

static clattn_status run(clattn__atune_problem *p, cl_event *event) {
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = 1;
  desc.q_heads = desc.kv_heads = CLATTN__ATUNE_HEADS;
  desc.q_len = desc.kv_len = p->seq;
  desc.head_dim = p->head_dim;
  desc.causal = p->masking == CLATTN_TUNE_MASK_CAUSAL;
  if (p->mask) {
    desc.mask.type = CLATTN_MASK_BOOL;
    desc.mask.buffer = p->mask;
    desc.mask.stride_query = p->seq; /* batch and head strides 0: broadcast */
  }
  int64_t sh = (int64_t)p->seq * p->head_dim, ss = p->head_dim;
  clattn_tensor q = {p->q, p->dtype, 0, sh * CLATTN__ATUNE_HEADS, sh, ss};
  clattn_tensor k = q, v = q, o = q;
  k.buffer = p->k;
  v.buffer = p->v;
  o.buffer = p->o;
  o.dtype = CLATTN_F32;
  return clattn_attention_forward(p->ctx, p->ctx->queue, &desc, &q, &k, &v, &o, NULL, 0, NULL,
                                  event);
}

int clattn__atune_check(clattn__atune_problem *p) {
  size_t n = (size_t)CLATTN__ATUNE_HEADS * p->seq * p->head_dim;
  for (size_t i = 0; i < n + CLATTN__ATUNE_CANARY; i++) p->ho[i] = i < n ? NAN : CANARY_VALUE;
  cl_command_queue queue = p->ctx->queue;
  size_t bytes = (n + CLATTN__ATUNE_CANARY) * sizeof(float);
  cl_int err = clEnqueueWriteBuffer(queue, p->o, CL_TRUE, 0, bytes, p->ho, 0, NULL, NULL);
  clattn_status status = err == CL_SUCCESS ? run(p, NULL) : CLATTN_OPENCL_ERROR;
  if (status == CLATTN_SUCCESS)
    err = clEnqueueReadBuffer(queue, p->o, CL_TRUE, 0, bytes, p->ho, 0, NULL, NULL);
  if (status != CLATTN_SUCCESS || err != CL_SUCCESS) {
    snprintf(p->error, sizeof p->error, "%s", status != CLATTN_SUCCESS
                                                   ? clattn_last_error(p->ctx)
                                                   : clattn_cl_error_name(err));
    return -1;
  }
  for (size_t i = n; i < n + CLATTN__ATUNE_CANARY; i++) {
    if (p->ho[i] != CANARY_VALUE) {
      snprintf(p->error, sizeof p->error, "wrote past O (float %zu after it)", i - n);
      return 0;
    }
  }
  for (size_t i = 0; i < n; i++) {
    if (isnan(p->ho[i])) {
      snprintf(p->error, sizeof p->error, "O[%zu] not written (still NaN)", i);
      return 0;
    }
  }
  for (int s = 0; s < CLATTN__ATUNE_SAMPLES; s++) {
    for (int c = 0; c < p->head_dim; c++) {
      double ref = p->ref[(size_t)s * p->head_dim + c];
      double got = p->ho[(size_t)p->rows[s] * p->head_dim + c];
      if (!(fabs(got - ref) <= 1e-5 + 1e-4 * fabs(ref))) {
        snprintf(p->error, sizeof p->error, "head %d row %d feature %d: %.9g, expected %.9g",
                 p->rows[s] / p->seq, p->rows[s] % p->seq, c, got, ref);
        return 0;
      }
    }
  }
  return 1;
}

clattn_status clattn__atune_time(clattn__atune_problem *p, int repeats, double cutoff,
                                 double *times, int *count) {
  for (int r = 0; r < repeats; r++) {
    cl_event event = NULL;
    clattn_status status = run(p, &event);
    if (status != CLATTN_SUCCESS) return status;
    cl_ulong start = 0, end = 0;
    cl_int err = clWaitForEvents(1, &event);
    if (err == CL_SUCCESS)
      err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof start, &start, NULL);
    if (err == CL_SUCCESS)
      err = clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL);
    clReleaseEvent(event);
    if (err != CL_SUCCESS)
      return clattn__fail_cl(p->ctx, err, "clGetEventProfilingInfo", "a tuning run");
    double seconds = (double)(end - start) * 1e-9;
    times[(*count)++] = seconds;
    if (cutoff > 0.0 && seconds > 3.0 * cutoff) break;
  }
  return CLATTN_SUCCESS;
}

double clattn__atune_gflops(const clattn__atune_problem *p, double seconds) {
  double s = p->seq;
  double pairs = p->masking == CLATTN_TUNE_MASK_CAUSAL ? s * (s + 1.0) / 2.0 : s * s;
  return seconds > 0.0 ? 4.0 * CLATTN__ATUNE_HEADS * pairs * p->head_dim / seconds * 1e-9 : 0.0;
}
