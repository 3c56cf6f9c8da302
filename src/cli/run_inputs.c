/*
 * clattn run's inputs: reads the .npy files, checks every shape and type against the others,
 * and converts them to what the device takes. Any mismatch is a command-line error naming
 * the argument, reported before a device is opened.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "npy.h"
#include "run.h"
#include "run_family.h"

/* B, H, S, D of a Q, K or V array in the chosen layout. */
typedef struct run_dims {
  int64_t b, h, s, d;
} run_dims;

/* 'run' or 'heatmap': the two commands share this code and name themselves in messages. */
static const char *command_name = "run";

void clattn_cli_run_set_command(const char *name) { command_name = name; }

const char *clattn_cli_run_command(void) { return command_name; }

int clattn_cli_run_reject(const char *argument, const char *fmt, ...) {
  va_list args;
  fprintf(stderr, "clattn %s: %s: ", command_name, argument);
  va_start(args, fmt);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputc('\n', stderr);
  return CLATTN_CLI_USAGE;
}

/* An unreadable or malformed file is a command-line error: the argument names the wrong
 * file. */
int clattn_cli_run_read(const char *argument, const char *path, clattn_npy_array *a) {
  char error[768];
  if (clattn_npy_read(path, a, error, sizeof error) != 0) {
    return clattn_cli_run_reject(argument, "%s", error);
  }
  return CLATTN_CLI_OK;
}

static const char *run_shape(const clattn_npy_array *a, char *buf, size_t size) {
  return clattn_npy_shape_format(a->rank, a->shape, buf, size);
}

static run_dims run_dims_of(const clattn_npy_array *a, clattn_layout layout) {
  int bhsd = layout == CLATTN_LAYOUT_BHSD;
  run_dims r = {a->shape[0], a->shape[bhsd ? 1 : 2], a->shape[bhsd ? 2 : 1], a->shape[3]};
  return r;
}

/* Q, K and V: 4-D, float32 or float16, no empty dimension, a head dimension clattn takes
 * (any for a Q that the library projects first: `projected`). */
static int run_check_qkv(const char *argument, const clattn_npy_array *a, clattn_layout layout,
                         int projected) {
  char shape[256];
  run_shape(a, shape, sizeof shape);
  if (a->rank != 4) {
    return clattn_cli_run_reject(argument, "expected a 4-D %s array, got shape %s",
                                 layout == CLATTN_LAYOUT_BHSD ? "(B, H, S, D)" : "(B, S, H, D)",
                                 shape);
  }
  if (a->dtype != CLATTN_NPY_F32 && a->dtype != CLATTN_NPY_F16) {
    return clattn_cli_run_reject(argument, "expected float32 or float16, got %s",
                                 clattn_npy_dtype_name(a->dtype));
  }
  for (int i = 0; i < 4; ++i) {
    if (a->shape[i] < 1) {
      return clattn_cli_run_reject(argument, "every dimension must be at least 1, got shape %s",
                                   shape);
    }
  }
  if (!projected && a->shape[3] > CLATTN_MAX_HEAD_DIM) {
    return clattn_cli_run_reject(argument, "head dimension %lld exceeds %d",
                                 (long long)a->shape[3], CLATTN_MAX_HEAD_DIM);
  }
  return CLATTN_CLI_OK;
}

/* K and V against Q: the shapes attention needs to be well defined. Q's features may differ
 * from K's D where a weight matrix maps one to the other (`any_q_dim`); with no K (NULL)
 * V's heads must divide Q's. */
static int run_check_consistent(const run_dims *q, const run_dims *k, const run_dims *v,
                                int any_q_dim) {
  if (k == NULL) {
    if (v->b != q->b) {
      return clattn_cli_run_reject("--v", "batch %lld does not match --q's batch %lld",
                                   (long long)v->b, (long long)q->b);
    }
    if (q->h % v->h != 0) {
      return clattn_cli_run_reject("--v", "%lld heads do not divide --q's %lld heads",
                                   (long long)v->h, (long long)q->h);
    }
    return CLATTN_CLI_OK;
  }
  if (k->b != q->b) {
    return clattn_cli_run_reject("--k", "batch %lld does not match --q's batch %lld",
                                 (long long)k->b, (long long)q->b);
  }
  if (!any_q_dim && k->d != q->d) {
    return clattn_cli_run_reject("--k", "head dimension %lld does not match --q's %lld",
                                 (long long)k->d, (long long)q->d);
  }
  if (q->h % k->h != 0) {
    return clattn_cli_run_reject("--k", "%lld heads do not divide --q's %lld heads",
                                 (long long)k->h, (long long)q->h);
  }
  if (v->b != q->b) {
    return clattn_cli_run_reject("--v", "batch %lld does not match --q's batch %lld",
                                 (long long)v->b, (long long)q->b);
  }
  if (v->h != k->h) {
    return clattn_cli_run_reject("--v", "%lld heads do not match --k's %lld heads",
                                 (long long)v->h, (long long)k->h);
  }
  if (v->s != k->s) {
    return clattn_cli_run_reject("--v", "sequence length %lld does not match --k's %lld",
                                 (long long)v->s, (long long)k->s);
  }
  return CLATTN_CLI_OK;
}

static float run_float_at(const clattn_npy_array *a, uint64_t i) {
  if (a->dtype == CLATTN_NPY_F16) {
    return clattn_cli_half_to_float(((const uint16_t *)a->data)[i]);
  }
  return ((const float *)a->data)[i];
}

/* Converts a float32 or float16 array to the storage type. When the types already agree the
 * array's own data is taken over instead of copied. */
int clattn_cli_run_to_storage(clattn_npy_array *a, clattn_dtype dtype,
                              clattn_cli_host_buffer *out) {
  size_t item = clattn_dtype_size(dtype);
  if ((a->dtype == CLATTN_NPY_F32 && dtype == CLATTN_F32) ||
      (a->dtype == CLATTN_NPY_F16 && dtype == CLATTN_F16)) {
    out->data = a->data;
    out->bytes = (size_t)a->count * item;
    a->data = NULL;
    return CLATTN_CLI_OK;
  }
  if (a->count > SIZE_MAX / item || (out->data = malloc((size_t)a->count * item)) == NULL) {
    return clattn_cli_out_of_memory();
  }
  out->bytes = (size_t)a->count * item;
  for (uint64_t i = 0; i < a->count; ++i) {
    float x = run_float_at(a, i);
    if (dtype == CLATTN_F32) {
      ((float *)out->data)[i] = x;
    } else if (dtype == CLATTN_F16) {
      ((uint16_t *)out->data)[i] = clattn_cli_float_to_half(x);
    } else {
      ((uint16_t *)out->data)[i] = clattn_cli_float_to_bf16(x);
    }
  }
  return CLATTN_CLI_OK;
}

/* Expands a mask of broadcast shape `dims` (rank 4) to rows of Skv keys: the key dimension
 * must be contiguous for the kernel, the others broadcast through zero strides. */
static int run_mask_expand(const clattn_npy_array *m, const int64_t dims[4], int64_t kv_len,
                           clattn_cli_run_problem *p) {
  int boolean = m->dtype == CLATTN_NPY_BOOL || m->dtype == CLATTN_NPY_U8;
  size_t item = boolean ? 1 : sizeof(float);
  uint64_t rows = (uint64_t)dims[0] * (uint64_t)dims[1] * (uint64_t)dims[2];
  if (rows > SIZE_MAX / item / (uint64_t)kv_len ||
      (p->mask.data = malloc((size_t)rows * (size_t)kv_len * item)) == NULL) {
    return clattn_cli_out_of_memory();
  }
  p->mask.bytes = (size_t)rows * (size_t)kv_len * item;
  for (uint64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < kv_len; ++j) {
      uint64_t from = r * (uint64_t)dims[3] + (dims[3] == 1 ? 0 : (uint64_t)j);
      uint64_t to = r * (uint64_t)kv_len + (uint64_t)j;
      if (boolean) {
        ((unsigned char *)p->mask.data)[to] = ((const unsigned char *)m->data)[from];
      } else {
        ((float *)p->mask.data)[to] = run_float_at(m, from);
      }
    }
  }
  p->mask_type = boolean ? CLATTN_MASK_BOOL : CLATTN_MASK_ADDITIVE;
  p->mask_stride_query = dims[2] == 1 ? 0 : kv_len;
  p->mask_stride_head = dims[1] == 1 ? 0 : dims[2] * kv_len;
  p->mask_stride_batch = dims[0] == 1 ? 0 : dims[1] * dims[2] * kv_len;
  return CLATTN_CLI_OK;
}

/* The mask: NumPy broadcasting to (B, Hq, Sq, Skv), leading dimensions prepended as 1. */
static int run_mask_load(const char *path, clattn_cli_run_problem *p) {
  clattn_npy_array m;
  char shape[256];
  int rc = clattn_cli_run_read("--mask", path, &m);
  if (rc != CLATTN_CLI_OK) {
    return rc;
  }
  run_shape(&m, shape, sizeof shape);
  const int64_t target[4] = {p->batch, p->q_heads, p->q_len, p->kv_len};
  int64_t dims[4] = {1, 1, 1, 1};
  for (int i = 0; i < m.rank && m.rank <= 4; ++i) {
    dims[4 - m.rank + i] = m.shape[i];
  }
  if (m.rank > 4) {
    rc = clattn_cli_run_reject("--mask", "expected at most 4 dimensions, got shape %s", shape);
  } else if (m.dtype == CLATTN_NPY_I32 || m.dtype == CLATTN_NPY_I64) {
    rc = clattn_cli_run_reject("--mask", "expected bool, uint8, float32 or float16, got %s",
                               clattn_npy_dtype_name(m.dtype));
  }
  for (int i = 0; i < 4 && rc == CLATTN_CLI_OK; ++i) {
    if (dims[i] != 1 && dims[i] != target[i]) {
      rc = clattn_cli_run_reject("--mask",
                                 "shape %s does not broadcast to (B, Hq, Sq, Skv) = "
                                 "(%lld, %lld, %lld, %lld)",
                                 shape, (long long)target[0], (long long)target[1],
                                 (long long)target[2], (long long)target[3]);
    }
  }
  if (rc == CLATTN_CLI_OK) {
    rc = run_mask_expand(&m, dims, p->kv_len, p);
  }
  clattn_npy_free(&m);
  return rc;
}

/* Per-batch lengths: 1-D int32 or int64 of B entries, each within 0 .. limit. */
static int run_lens_load(const char *argument, const char *path, int64_t batch, int64_t limit,
                         const char *limit_name, clattn_cli_host_buffer *out) {
  clattn_npy_array a;
  char shape[256];
  int rc = clattn_cli_run_read(argument, path, &a);
  if (rc != CLATTN_CLI_OK) {
    return rc;
  }
  run_shape(&a, shape, sizeof shape);
  if (a.rank != 1 || a.shape[0] != batch) {
    rc = clattn_cli_run_reject(argument, "expected a 1-D array of %lld lengths (one per batch), "
                               "got shape %s", (long long)batch, shape);
  } else if (a.dtype != CLATTN_NPY_I32 && a.dtype != CLATTN_NPY_I64) {
    rc = clattn_cli_run_reject(argument, "expected int32 or int64, got %s",
                               clattn_npy_dtype_name(a.dtype));
  } else if ((out->data = malloc((size_t)batch * sizeof(int32_t))) == NULL) {
    rc = clattn_cli_out_of_memory();
  }
  for (int64_t i = 0; rc == CLATTN_CLI_OK && i < batch; ++i) {
    int64_t value = a.dtype == CLATTN_NPY_I32 ? ((const int32_t *)a.data)[i]
                                              : ((const int64_t *)a.data)[i];
    if (value < 0 || value > limit) {
      rc = clattn_cli_run_reject(argument, "length %lld at index %lld is outside 0 .. %lld (%s)",
                                 (long long)value, (long long)i, (long long)limit, limit_name);
    } else {
      ((int32_t *)out->data)[i] = (int32_t)value;
    }
  }
  out->bytes = (size_t)batch * sizeof(int32_t);
  clattn_npy_free(&a);
  return rc;
}

/* Q, K and V, checked and converted; fills the problem's sizes. Q (and K for the additive
 * score) stay float32 where the library projects them with CLBlast; --score location reads
 * no K. */
static int run_qkv_load(const clattn_cli_run_options *o, clattn_cli_run_problem *p) {
  static const char *const names[3] = {"--q", "--k", "--v"};
  clattn_cli_score score = o->family.score;
  int no_k = score == CLATTN_CLI_SCORE_LOCATION;
  int projected = score >= CLATTN_CLI_SCORE_GENERAL;
  const char *paths[3] = {o->q_path, no_k ? NULL : o->k_path, o->v_path};
  clattn_cli_host_buffer *outs[3] = {&p->q, &p->k, &p->v};
  p->q_dtype = projected || (o->family.local && o->family.wp_path != NULL) ? CLATTN_F32 : o->dtype;
  p->k_dtype = score == CLATTN_CLI_SCORE_ADDITIVE ? CLATTN_F32 : o->dtype;
  const clattn_dtype dtypes[3] = {p->q_dtype, p->k_dtype, o->dtype};
  clattn_npy_array arrays[3];
  run_dims dims[3];
  int rc = CLATTN_CLI_OK;
  memset(arrays, 0, sizeof arrays);
  memset(dims, 0, sizeof dims);
  for (int i = 0; i < 3 && rc == CLATTN_CLI_OK; ++i) {
    if (paths[i] == NULL) {
      continue;
    }
    rc = clattn_cli_run_read(names[i], paths[i], &arrays[i]);
    if (rc == CLATTN_CLI_OK) {
      rc = run_check_qkv(names[i], &arrays[i], o->layout, i == 0 && projected);
    }
    if (rc == CLATTN_CLI_OK) {
      dims[i] = run_dims_of(&arrays[i], o->layout);
    }
  }
  if (rc == CLATTN_CLI_OK) {
    rc = run_check_consistent(&dims[0], no_k ? NULL : &dims[1], &dims[2],
                              score == CLATTN_CLI_SCORE_GENERAL ||
                                  score == CLATTN_CLI_SCORE_ADDITIVE);
  }
  for (int i = 0; i < 3 && rc == CLATTN_CLI_OK; ++i) {
    if (paths[i] != NULL) {
      rc = clattn_cli_run_to_storage(&arrays[i], dtypes[i], outs[i]);
    }
  }
  if (rc == CLATTN_CLI_OK) {
    p->batch = dims[0].b;
    p->q_heads = dims[0].h;
    p->q_len = dims[0].s;
    p->q_dim = dims[0].d;
    /* Location attention's D is Q's own (W_a is Skv x D); its keys are V's positions. */
    p->head_dim = no_k ? dims[0].d : dims[1].d;
    p->kv_heads = dims[no_k ? 2 : 1].h;
    p->kv_len = dims[no_k ? 2 : 1].s;
    p->v_head_dim = dims[2].d;
  }
  for (int i = 0; i < 3; ++i) {
    clattn_npy_free(&arrays[i]);
  }
  return rc;
}

int clattn_cli_run_inputs_load(const clattn_cli_run_options *o, clattn_cli_run_problem *p) {
  memset(p, 0, sizeof *p);
  p->mask_type = CLATTN_MASK_NONE;
  int rc = run_qkv_load(o, p);
  if (rc == CLATTN_CLI_OK && o->mask_path != NULL) {
    rc = run_mask_load(o->mask_path, p);
  }
  if (rc == CLATTN_CLI_OK && o->kv_lens_path != NULL) {
    rc = run_lens_load("--kv-lens", o->kv_lens_path, p->batch, p->kv_len, "the keys' Skv",
                       &p->kv_lens);
  }
  if (rc == CLATTN_CLI_OK && o->q_lens_path != NULL) {
    rc = run_lens_load("--q-lens", o->q_lens_path, p->batch, p->q_len, "the queries' Sq",
                       &p->q_lens);
  }
  if (rc == CLATTN_CLI_OK) {
    rc = clattn_cli_family_inputs_load(o, p);
  }
  return rc;
}

void clattn_cli_run_problem_free(clattn_cli_run_problem *p) {
  clattn_cli_host_buffer *buffers[14] = {&p->q,  &p->k,  &p->v,  &p->mask, &p->kv_lens,
                                         &p->q_lens, &p->w, &p->w1, &p->w2, &p->va,
                                         &p->wa, &p->wp, &p->vp, &p->positions};
  for (int i = 0; i < 14; ++i) {
    free(buffers[i]->data);
    buffers[i]->data = NULL;
    buffers[i]->bytes = 0;
  }
}
