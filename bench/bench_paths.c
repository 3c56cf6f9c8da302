#include "bench_paths.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_util.h"
#include "sources.h" /* bench/embedded/: the embedded copies of bench/kernels/ */

/* Work-group sizes asked for; each is lowered to the kernel's CL_KERNEL_WORK_GROUP_SIZE. */
#define BENCH_NAIVE_LOCAL 64
#define BENCH_SCORES_LOCAL 16
#define BENCH_SOFTMAX_LOCAL 64
#define BENCH_PV_LOCAL 16

/* Register blocking of the unfused kernels (see the banner of attention_unfused.cl). */
#define BENCH_SC_ROWS 4
#define BENCH_SC_KEYS 4
#define BENCH_PV_ROWS 8

const char *bench_impl_name(bench_impl impl) {
  static const char *const names[BENCH_IMPLS] = {"fused", "naive", "unfused"};
  return (unsigned)impl < BENCH_IMPLS ? names[impl] : "?";
}

size_t bench_unfused_bytes(const bench_shape *shape) {
  return (size_t)shape->batch * (size_t)shape->heads * (size_t)shape->seq *
         (size_t)shape->seq * sizeof(float);
}

static size_t bench_round_up(size_t x, size_t to) { return (x + to - 1) / to * to; }

static size_t bench_ceil_div(size_t x, size_t by) { return (x + by - 1) / by; }

/* The text of bench/kernels/<file>: the copy embedded at build time, or the file in
 * CLATTN_BENCH_KERNEL_DIR when that is set (kernel development). malloc'd. */
static char *bench_source(const char *file, size_t *length, char *error, size_t cap) {
  const char *dir = getenv("CLATTN_BENCH_KERNEL_DIR");
  if (dir != NULL && *dir != '\0') {
    char file_path[1024];
    snprintf(file_path, sizeof file_path, "%s/%s", dir, file);
    char *text = bench_read_file(file_path, length);
    if (text == NULL) {
      snprintf(error, cap, "cannot read %s (CLATTN_BENCH_KERNEL_DIR)", file_path);
    }
    return text;
  }
  for (size_t i = 0; i < bench_embedded_source_count; ++i) {
    const bench_embedded_source *e = &bench_embedded_sources[i];
    char *text = strcmp(e->name, file) == 0 ? malloc(e->size + 1) : NULL;
    if (text != NULL) {
      memcpy(text, e->data, e->size + 1);
      *length = e->size;
      return text;
    }
  }
  snprintf(error, cap, "no embedded kernel %s", file);
  return NULL;
}

/* Builds bench/kernels/<file> with `options`. */
static int bench_build(bench_path *path, const char *file, const char *options, char *error,
                       size_t cap) {
  size_t length = 0;
  char *source = bench_source(file, &length, error, cap);
  if (source == NULL) {
    return -1;
  }
  cl_context cl_ctx = clattn_context_cl_context(path->ctx);
  cl_device_id device = clattn_context_cl_device(path->ctx);
  const char *sources[1] = {source};
  cl_int err = CL_SUCCESS;
  path->program = clCreateProgramWithSource(cl_ctx, 1, sources, &length, &err);
  free(source);
  if (err != CL_SUCCESS) {
    snprintf(error, cap, "clCreateProgramWithSource(%s): %s", file, clattn_cl_error_name(err));
    return -1;
  }
  err = clBuildProgram(path->program, 1, &device, options, NULL, NULL);
  if (err != CL_SUCCESS) {
    char log[2048] = "";
    clGetProgramBuildInfo(path->program, device, CL_PROGRAM_BUILD_LOG, sizeof log - 1, log,
                          NULL);
    snprintf(error, cap, "clBuildProgram(%s %s): %s\n%s", file, options,
             clattn_cl_error_name(err), log);
    return -1;
  }
  return 0;
}

/* Creates kernel `index` and fits its local size (dimension 0) to what the kernel allows;
 * global[index][0] is then rounded up to a multiple of it. */
static int bench_kernel(bench_path *path, int index, const char *name, size_t local,
                        char *error, size_t cap) {
  cl_int err = CL_SUCCESS;
  size_t limit = 0;
  path->kernels[index] = clCreateKernel(path->program, name, &err);
  if (err == CL_SUCCESS) {
    err = clGetKernelWorkGroupInfo(path->kernels[index], clattn_context_cl_device(path->ctx),
                                   CL_KERNEL_WORK_GROUP_SIZE, sizeof limit, &limit, NULL);
  }
  if (err != CL_SUCCESS) {
    snprintf(error, cap, "creating kernel %s: %s", name, clattn_cl_error_name(err));
    return -1;
  }
  path->kernel_names[index] = name;
  path->local[index][0] = local < limit ? local : limit;
  path->local[index][1] = path->local[index][2] = 1;
  path->global[index][0] = bench_round_up(path->global[index][0], path->local[index][0]);
  return 0;
}

/* Sets the arguments of kernel `index` from a list of (size, pointer) pairs. */
static int bench_args(bench_path *path, int index, int count, const size_t *sizes,
                      const void *const *values, char *error, size_t cap) {
  for (int i = 0; i < count; ++i) {
    cl_int err = clSetKernelArg(path->kernels[index], (cl_uint)i, sizes[i], values[i]);
    if (err != CL_SUCCESS) {
      snprintf(error, cap, "clSetKernelArg(%s, %d): %s", path->kernel_names[index], i,
               clattn_cl_error_name(err));
      return -1;
    }
  }
  return 0;
}

static int bench_naive_setup(bench_path *path, char *error, size_t cap) {
  const bench_shape *s = &path->shape;
  char options[256];
  snprintf(options, sizeof options, "-cl-std=CL1.2 -DHEAD_DIM=%d", s->dim);
  path->kernel_count = 1;
  path->global[0][0] = (size_t)s->seq;
  path->global[0][1] = (size_t)s->batch * (size_t)s->heads;
  path->global[0][2] = 1;
  if (bench_build(path, "attention_naive.cl", options, error, cap) != 0 ||
      bench_kernel(path, 0, "attention_naive", BENCH_NAIVE_LOCAL, error, cap) != 0) {
    return -1;
  }
  cl_int sq = s->seq, skv = s->seq, causal = s->causal;
  cl_float scale = (cl_float)(1.0 / sqrt((double)s->dim));
  const size_t sizes[] = {sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem), sizeof(cl_mem),
                          sizeof sq, sizeof skv, sizeof scale, sizeof causal};
  const void *const values[] = {&path->q, &path->k, &path->v, &path->o,
                                &sq, &skv, &scale, &causal};
  snprintf(path->config, sizeof path->config, "1 row/work-item, scalar; local %zu",
           path->local[0][0]);
  return bench_args(path, 0, 8, sizes, values, error, cap);
}

/* The widest of 8, 4, 2, 1 that divides x. */
static int bench_vec(int x) {
  int vec = 8;
  while (x % vec != 0) {
    vec /= 2;
  }
  return vec;
}

static int bench_unfused_setup(bench_path *path, char *error, size_t cap) {
  const bench_shape *s = &path->shape;
  size_t bh = (size_t)s->batch * (size_t)s->heads, seq = (size_t)s->seq;
  int vec = bench_vec(s->dim);
  int pv_cols = vec * bench_vec(s->dim / vec > 4 ? 4 : s->dim / vec);
  while (s->dim % pv_cols != 0) {
    pv_cols -= vec;
  }
  char options[256];
  snprintf(options, sizeof options,
           "-cl-std=CL1.2 -DHEAD_DIM=%d -DVEC=%d -DSC_ROWS=%d -DSC_KEYS=%d -DPV_ROWS=%d "
           "-DPV_COLS=%d",
           s->dim, vec, BENCH_SC_ROWS, BENCH_SC_KEYS, BENCH_PV_ROWS, pv_cols);
  cl_int err = CL_SUCCESS;
  path->scores = clCreateBuffer(clattn_context_cl_context(path->ctx), CL_MEM_READ_WRITE,
                                bench_unfused_bytes(s), NULL, &err);
  if (err != CL_SUCCESS) {
    snprintf(error, cap, "clCreateBuffer(score matrix, %zu bytes): %s", bench_unfused_bytes(s),
             clattn_cl_error_name(err));
    return -1;
  }
  path->kernel_count = 3;
  size_t grids[3][3] = {{bench_ceil_div(seq, BENCH_SC_KEYS), bench_ceil_div(seq, BENCH_SC_ROWS), bh},
                        {bh * seq, 1, 1},
                        {bench_ceil_div(seq, BENCH_PV_ROWS), (size_t)(s->dim / pv_cols), bh}};
  memcpy(path->global, grids, sizeof grids);
  if (bench_build(path, "attention_unfused.cl", options, error, cap) != 0 ||
      bench_kernel(path, 0, "attention_scores", BENCH_SCORES_LOCAL, error, cap) != 0 ||
      bench_kernel(path, 1, "attention_softmax", BENCH_SOFTMAX_LOCAL, error, cap) != 0 ||
      bench_kernel(path, 2, "attention_pv", BENCH_PV_LOCAL, error, cap) != 0) {
    return -1;
  }
  cl_int sq = s->seq, skv = s->seq, causal = s->causal;
  cl_long rows = (cl_long)(bh * seq);
  cl_float scale = (cl_float)(1.0 / sqrt((double)s->dim));
  const size_t m = sizeof(cl_mem);
  const size_t scores_sizes[] = {m, m, m, sizeof sq, sizeof skv, sizeof scale, sizeof causal};
  const void *const scores_values[] = {&path->q, &path->k, &path->scores, &sq, &skv, &scale,
                                       &causal};
  const size_t softmax_sizes[] = {m, sizeof rows, sizeof skv};
  const void *const softmax_values[] = {&path->scores, &rows, &skv};
  const size_t pv_sizes[] = {m, m, m, sizeof sq, sizeof skv, sizeof causal};
  const void *const pv_values[] = {&path->scores, &path->v, &path->o, &sq, &skv, &causal};
  snprintf(path->config, sizeof path->config,
           "scores %dx%d float%d, local %zu; softmax local %zu; pv %dx%d float%d, local %zu",
           BENCH_SC_ROWS, BENCH_SC_KEYS, vec, path->local[0][0], path->local[1][0],
           BENCH_PV_ROWS, pv_cols, vec, path->local[2][0]);
  if (bench_args(path, 0, 7, scores_sizes, scores_values, error, cap) != 0 ||
      bench_args(path, 1, 3, softmax_sizes, softmax_values, error, cap) != 0 ||
      bench_args(path, 2, 6, pv_sizes, pv_values, error, cap) != 0) {
    return -1;
  }
  return 0;
}

int bench_path_setup(bench_path *path, bench_impl impl, clattn_context *ctx,
                     const bench_shape *shape, cl_mem q, cl_mem k, cl_mem v, cl_mem o,
                     char *error, size_t cap) {
  memset(path, 0, sizeof *path);
  path->impl = impl;
  path->ctx = ctx;
  path->shape = *shape;
  path->q = q;
  path->k = k;
  path->v = v;
  path->o = o;
  if (impl == BENCH_NAIVE) {
    return bench_naive_setup(path, error, cap);
  }
  if (impl == BENCH_UNFUSED) {
    return bench_unfused_setup(path, error, cap);
  }
  path->kernel_count = 1;
  snprintf(path->config, sizeof path->config, "clattn_attention_forward (library defaults)");
  return 0;
}

static int bench_fused_enqueue(bench_path *path, cl_event *event, char *error, size_t cap) {
  const bench_shape *s = &path->shape;
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = s->batch;
  desc.q_heads = desc.kv_heads = s->heads;
  desc.q_len = desc.kv_len = s->seq;
  desc.head_dim = s->dim;
  desc.causal = s->causal;
  clattn_tensor tq = clattn_tensor_contiguous(path->q, CLATTN_F32, CLATTN_LAYOUT_BHSD,
                                              s->heads, s->seq, s->dim, 0);
  clattn_tensor tk = clattn_tensor_contiguous(path->k, CLATTN_F32, CLATTN_LAYOUT_BHSD,
                                              s->heads, s->seq, s->dim, 0);
  clattn_tensor tv = clattn_tensor_contiguous(path->v, CLATTN_F32, CLATTN_LAYOUT_BHSD,
                                              s->heads, s->seq, s->dim, 0);
  clattn_tensor to = clattn_tensor_contiguous(path->o, CLATTN_F32, CLATTN_LAYOUT_BHSD,
                                              s->heads, s->seq, s->dim, 0);
  clattn_status status = clattn_attention_forward(path->ctx, NULL, &desc, &tq, &tk, &tv, &to,
                                                  NULL, 0, NULL, event);
  if (status != CLATTN_SUCCESS) {
    snprintf(error, cap, "clattn_attention_forward: %s: %s", clattn_status_name(status),
             clattn_last_error(path->ctx));
    return -1;
  }
  return 0;
}

int bench_path_enqueue(bench_path *path, cl_event *events, char *error, size_t cap) {
  if (path->impl == BENCH_FUSED) {
    return bench_fused_enqueue(path, &events[0], error, cap);
  }
  cl_command_queue queue = clattn_context_queue(path->ctx);
  for (int i = 0; i < path->kernel_count; ++i) {
    cl_int err = clEnqueueNDRangeKernel(queue, path->kernels[i], 3, NULL, path->global[i],
                                        path->local[i], 0, NULL, &events[i]);
    if (err != CL_SUCCESS) {
      snprintf(error, cap, "clEnqueueNDRangeKernel(%s): %s", path->kernel_names[i],
               clattn_cl_error_name(err));
      clFinish(queue);
      for (int j = 0; j < i; ++j) {
        clReleaseEvent(events[j]);
      }
      return -1;
    }
  }
  return 0;
}

void bench_path_release(bench_path *path) {
  for (int i = 0; i < BENCH_MAX_KERNELS; ++i) {
    if (path->kernels[i] != NULL) {
      clReleaseKernel(path->kernels[i]);
    }
  }
  if (path->program != NULL) {
    clReleaseProgram(path->program);
  }
  if (path->scores != NULL) {
    clReleaseMemObject(path->scores);
  }
  memset(path, 0, sizeof *path);
}
