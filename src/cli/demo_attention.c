/*
 * clattn demo's attention: causal multi-head self-attention on random normal data, checked
 * against the double-precision host reference on a sample of rows, then timed with OpenCL
 * profiling events (one warm-up, the median of several runs).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention_ref.h"
#include "demo.h"

#define DEMO_BATCH 1
#define DEMO_HEADS 8
#define DEMO_SEQ 1024
#define DEMO_DIM 64
#define DEMO_RUNS 5
#define DEMO_SAMPLE 8 /* the reference checks every 8th row of each head */
#define DEMO_ATOL 1e-5
#define DEMO_RTOL 1e-4

typedef struct demo_state {
  size_t elements; /* of each of Q, K, V and O */
  float *q, *k, *v, *o;
  cl_mem bq, bk, bv, bo;
} demo_state;

/* splitmix64: a fixed seed gives the same inputs, so the same output, on every run. */
static uint64_t demo_random(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* Standard normal values by the Box-Muller transform. */
static void demo_fill_normal(float *x, size_t n, uint64_t *state) {
  const double two_pi = 6.283185307179586;
  for (size_t i = 0; i < n; i += 2) {
    double u1 = ((double)(demo_random(state) >> 11) + 0.5) * 0x1p-53;
    double u2 = (double)(demo_random(state) >> 11) * 0x1p-53;
    double r = sqrt(-2.0 * log(u1));
    x[i] = (float)(r * cos(two_pi * u2));
    if (i + 1 < n) {
      x[i + 1] = (float)(r * sin(two_pi * u2));
    }
  }
}

static void demo_release(demo_state *s) {
  cl_mem *buffers[4] = {&s->bq, &s->bk, &s->bv, &s->bo};
  for (int i = 0; i < 4; ++i) {
    if (*buffers[i] != NULL) {
      clReleaseMemObject(*buffers[i]);
    }
  }
  free(s->q);
  free(s->k);
  free(s->v);
  free(s->o);
}

static int demo_setup(clattn_context *ctx, demo_state *s) {
  uint64_t seed = 20240611u;
  s->elements = (size_t)DEMO_BATCH * DEMO_HEADS * DEMO_SEQ * DEMO_DIM;
  s->q = malloc(s->elements * sizeof(float));
  s->k = malloc(s->elements * sizeof(float));
  s->v = malloc(s->elements * sizeof(float));
  s->o = malloc(s->elements * sizeof(float));
  if (s->q == NULL || s->k == NULL || s->v == NULL || s->o == NULL) {
    return clattn_cli_out_of_memory();
  }
  demo_fill_normal(s->q, s->elements, &seed);
  demo_fill_normal(s->k, s->elements, &seed);
  demo_fill_normal(s->v, s->elements, &seed);
  float *hosts[4] = {s->q, s->k, s->v, NULL};
  cl_mem *buffers[4] = {&s->bq, &s->bk, &s->bv, &s->bo};
  for (int i = 0; i < 4; ++i) {
    cl_int err = CL_SUCCESS;
    cl_mem_flags flags = hosts[i] != NULL ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR
                                          : CL_MEM_WRITE_ONLY;
    *buffers[i] = clCreateBuffer(clattn_context_cl_context(ctx), flags,
                                 s->elements * sizeof(float), hosts[i], &err);
    if (err != CL_SUCCESS) {
      *buffers[i] = NULL;
      fprintf(stderr, "clattn: %s: clCreateBuffer failed: %s\n",
              clattn_status_name(CLATTN_OPENCL_ERROR), clattn_cl_error_name(err));
      return CLATTN_CLI_FAILURE;
    }
  }
  return CLATTN_CLI_OK;
}

/* One forward call, waited for; *seconds is the kernel's device time from its profiling
 * event, or the wall time when the device gives none. */
static int demo_call(clattn_context *ctx, const demo_state *s, double *seconds) {
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = DEMO_BATCH;
  desc.q_heads = desc.kv_heads = DEMO_HEADS;
  desc.q_len = desc.kv_len = DEMO_SEQ;
  desc.head_dim = DEMO_DIM;
  desc.causal = 1;
  clattn_tensor t[4];
  cl_mem buffers[4] = {s->bq, s->bk, s->bv, s->bo};
  for (int i = 0; i < 4; ++i) {
    t[i] = clattn_tensor_contiguous(buffers[i], CLATTN_F32, CLATTN_LAYOUT_BHSD, DEMO_HEADS,
                                    DEMO_SEQ, DEMO_DIM, 0);
  }
  cl_event event = NULL;
  double start = clattn_cli_seconds_now();
  clattn_status status = clattn_attention_forward(ctx, NULL, &desc, &t[0], &t[1], &t[2], &t[3],
                                                  NULL, 0, NULL, &event);
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(ctx, status);
  }
  cl_int err = clWaitForEvents(1, &event);
  *seconds = clattn_cli_seconds_now() - start;
  cl_ulong begin = 0, end = 0;
  if (err == CL_SUCCESS &&
      clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_START, sizeof begin, &begin, NULL) ==
          CL_SUCCESS &&
      clGetEventProfilingInfo(event, CL_PROFILING_COMMAND_END, sizeof end, &end, NULL) ==
          CL_SUCCESS &&
      end > begin) {
    *seconds = 1e-9 * (double)(end - begin);
  }
  clReleaseEvent(event);
  if (err != CL_SUCCESS) {
    fprintf(stderr, "clattn: %s: clWaitForEvents failed: %s\n",
            clattn_status_name(CLATTN_OPENCL_ERROR), clattn_cl_error_name(err));
    return CLATTN_CLI_FAILURE;
  }
  return CLATTN_CLI_OK;
}

static int demo_compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The warm-up, then DEMO_RUNS timed calls; prints the times and the rate. */
static int demo_time(clattn_context *ctx, const demo_state *s, double *gflops) {
  double first = 0.0, wall = 0.0, times[DEMO_RUNS];
  double start = clattn_cli_seconds_now();
  int rc = demo_call(ctx, s, &first);
  wall = clattn_cli_seconds_now() - start;
  for (int i = 0; i < DEMO_RUNS && rc == CLATTN_CLI_OK; ++i) {
    rc = demo_call(ctx, s, &times[i]);
  }
  if (rc != CLATTN_CLI_OK) {
    return rc;
  }
  qsort(times, DEMO_RUNS, sizeof times[0], demo_compare_doubles);
  double median = times[DEMO_RUNS / 2];
  /* Causal: query i attends keys 0..i, so S(S+1)/2 pairs per head, each 2D FLOPs for the
   * score and 2D for the weighted sum of V. */
  double pairs = (double)DEMO_SEQ * (DEMO_SEQ + 1) / 2.0;
  double flops = 4.0 * DEMO_BATCH * DEMO_HEADS * DEMO_DIM * pairs;
  *gflops = flops / median * 1e-9;
  /* Some drivers (PoCL among them) finish compiling a kernel on its first launch, which is
   * why the warm-up is shown apart from the timed runs. */
  printf("          first call %.3f s (warm-up), then median of %d: %.4f s (%.4f .. %.4f)\n",
         wall, DEMO_RUNS, median, times[0], times[DEMO_RUNS - 1]);
  printf("          %.1f GFLOP/s (%.2f GFLOP = 4*B*H*D * S(S+1)/2 unmasked query-key pairs)\n",
         *gflops, flops * 1e-9);
  return CLATTN_CLI_OK;
}

/* Worst |err| / (atol + rtol |ref|) over every DEMO_SAMPLE-th row of each head (rows
 * h, h + 8, ... in head h, so that all rows modulo 8 are covered). NaN counts as infinite. */
static double demo_check(const demo_state *s, size_t *rows) {
  clattn_cli_ref ref;
  memset(&ref, 0, sizeof ref);
  ref.batch = DEMO_BATCH;
  ref.q_heads = ref.kv_heads = DEMO_HEADS;
  ref.q_len = ref.kv_len = DEMO_SEQ;
  ref.head_dim = ref.v_head_dim = DEMO_DIM;
  ref.q = s->q;
  ref.k = s->k;
  ref.v = s->v;
  ref.scale = 1.0 / sqrt((double)DEMO_DIM);
  ref.causal = 1;
  ref.window_left = ref.window_right = -1;
  double scores[DEMO_SEQ], out[DEMO_DIM], lse = 0.0, worst = 0.0;
  *rows = 0;
  for (int64_t b = 0; b < DEMO_BATCH; ++b) {
    for (int64_t h = 0; h < DEMO_HEADS; ++h) {
      for (int64_t i = h % DEMO_SAMPLE; i < DEMO_SEQ; i += DEMO_SAMPLE) {
        clattn_cli_ref_row(&ref, b, h, i, scores, out, &lse);
        const float *o = s->o + ((b * DEMO_HEADS + h) * DEMO_SEQ + i) * DEMO_DIM;
        for (int d = 0; d < DEMO_DIM; ++d) {
          double ratio = fabs((double)o[d] - out[d]) / (DEMO_ATOL + DEMO_RTOL * fabs(out[d]));
          worst = isnan(ratio) ? INFINITY : ratio > worst ? ratio : worst;
        }
        ++*rows;
      }
    }
  }
  return worst;
}

static int demo_verify(clattn_context *ctx, demo_state *s) {
  cl_int err = clEnqueueReadBuffer(clattn_context_queue(ctx), s->bo, CL_TRUE, 0,
                                   s->elements * sizeof(float), s->o, 0, NULL, NULL);
  if (err != CL_SUCCESS) {
    fprintf(stderr, "clattn: %s: clEnqueueReadBuffer failed: %s\n",
            clattn_status_name(CLATTN_OPENCL_ERROR), clattn_cl_error_name(err));
    return CLATTN_CLI_FAILURE;
  }
  size_t rows = 0;
  double worst = demo_check(s, &rows);
  int pass = worst <= 1.0;
  printf("check     max error %.3g of the tolerance |err| <= 1e-5 + 1e-4*|ref| (%s)\n", worst,
         pass ? "pass" : "FAIL");
  printf("          %zu rows (every %dth of each head) against a double-precision reference\n",
         rows, DEMO_SAMPLE);
  if (!pass) {
    fprintf(stderr, "clattn demo: the device's output is %.3g times the tolerance away from "
            "the reference\n", worst);
    return CLATTN_CLI_FAILURE;
  }
  return CLATTN_CLI_OK;
}

int clattn_cli_demo_attention(clattn_context *ctx, double *gflops) {
  demo_state s;
  memset(&s, 0, sizeof s);
  printf("attention causal self-attention, B=%d H=%d S=%d D=%d, float32, random normal data\n",
         DEMO_BATCH, DEMO_HEADS, DEMO_SEQ, DEMO_DIM);
  int rc = demo_setup(ctx, &s);
  if (rc == CLATTN_CLI_OK) {
    rc = demo_time(ctx, &s, gflops);
  }
  if (rc == CLATTN_CLI_OK) {
    rc = demo_verify(ctx, &s);
  }
  demo_release(&s);
  return rc;
}
