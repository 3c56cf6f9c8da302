/*
 * clattn run's family inputs: the score functions' weight matrices, local-p's W_p and v_p or
 * its positions, each read as float32 (float16 files are widened) and checked against the
 * sizes of Q, K and V. A mismatch names the flag, the shape it needs and the shape it got.
 */
#include <stdio.h>
#include <string.h>

#include "run_family.h"

/* One expected dimension: a size fixed by another input, or free (size < 0) and then
 * returned, with the name it has in messages. */
typedef struct family_dim {
  const char *name;
  int64_t size;
} family_dim;

/* "(A, 6)": the fixed sizes as numbers, the free ones by name. */
static void family_expected(const family_dim *dims, int rank, char *buf, size_t size) {
  size_t used = (size_t)snprintf(buf, size, "(");
  for (int i = 0; i < rank && used < size; ++i) {
    const char *sep = i + 1 < rank ? ", " : rank == 1 ? ",)" : ")";
    if (dims[i].size < 0) {
      used += (size_t)snprintf(buf + used, size - used, "%s%s", dims[i].name, sep);
    } else {
      used += (size_t)snprintf(buf + used, size - used, "%lld%s", (long long)dims[i].size, sep);
    }
  }
}

/* Reads `path` for `flag`: a float32 or float16 array of shape `dims` (free sizes filled
 * in), as float32. `from` names the inputs that fix the sizes. */
static int family_load(const char *flag, const char *path, family_dim *dims, int rank,
                       const char *from, clattn_cli_host_buffer *out) {
  clattn_npy_array a;
  char names[128], expected[128], got[256];
  int rc = clattn_cli_run_read(flag, path, &a);
  if (rc != CLATTN_CLI_OK) {
    return rc;
  }
  int match = a.rank == rank;
  for (int i = 0; match && i < rank; ++i) {
    match = a.shape[i] >= 1 && (dims[i].size < 0 || a.shape[i] == dims[i].size);
  }
  size_t used = (size_t)snprintf(names, sizeof names, "(");
  for (int i = 0; i < rank; ++i) {
    used += (size_t)snprintf(names + used, sizeof names - used, "%s%s", dims[i].name,
                             i + 1 < rank ? ", " : rank == 1 ? ",)" : ")");
  }
  family_expected(dims, rank, expected, sizeof expected);
  clattn_npy_shape_format(a.rank, a.shape, got, sizeof got);
  if (!match) {
    rc = clattn_cli_run_reject(flag, "expected shape %s = %s (from %s), got %s", names, expected,
                               from, got);
  } else if (a.dtype != CLATTN_NPY_F32 && a.dtype != CLATTN_NPY_F16) {
    rc = clattn_cli_run_reject(flag, "expected float32 or float16, got %s",
                               clattn_npy_dtype_name(a.dtype));
  } else {
    for (int i = 0; i < rank; ++i) {
      dims[i].size = a.shape[i];
    }
    rc = clattn_cli_run_to_storage(&a, CLATTN_F32, out);
  }
  clattn_npy_free(&a);
  return rc;
}

/* A free size read from a file, within the library's range for it. */
static int family_range(const char *flag, const char *name, int64_t value, int64_t max) {
  if (value > max) {
    return clattn_cli_run_reject(flag, "%s = %lld exceeds %lld", name, (long long)value,
                                 (long long)max);
  }
  return CLATTN_CLI_OK;
}

static int family_additive(const clattn_cli_run_family *f, clattn_cli_run_problem *p) {
  family_dim w1[2] = {{"A", -1}, {"q_dim", p->q_dim}};
  int rc = family_load("--w1", f->w1_path, w1, 2, "--q", &p->w1);
  if (rc == CLATTN_CLI_OK) {
    p->attn_dim = w1[0].size;
    rc = family_range("--w1", "A", p->attn_dim, 4096);
  }
  family_dim w2[2] = {{"A", p->attn_dim}, {"D", p->head_dim}};
  if (rc == CLATTN_CLI_OK) {
    rc = family_load("--w2", f->w2_path, w2, 2, "--w1 and --k", &p->w2);
  }
  family_dim va[1] = {{"A", p->attn_dim}};
  if (rc == CLATTN_CLI_OK) {
    rc = family_load("--va", f->va_path, va, 1, "--w1", &p->va);
  }
  return rc;
}

static int family_local_p(const clattn_cli_run_family *f, clattn_cli_run_problem *p) {
  if (f->positions_path != NULL) {
    family_dim pos[3] = {{"B", p->batch}, {"Hq", p->q_heads}, {"Sq", p->q_len}};
    return family_load("--positions", f->positions_path, pos, 3, "--q", &p->positions);
  }
  family_dim wp[2] = {{"p_dim", -1}, {"D", p->head_dim}};
  int rc = family_load("--wp", f->wp_path, wp, 2, "--q", &p->wp);
  if (rc == CLATTN_CLI_OK) {
    p->p_dim = wp[0].size;
    rc = family_range("--wp", "p_dim", p->p_dim, 65536);
  }
  family_dim vp[1] = {{"p_dim", p->p_dim}};
  if (rc == CLATTN_CLI_OK) {
    rc = family_load("--vp", f->vp_path, vp, 1, "--wp", &p->vp);
  }
  return rc;
}

int clattn_cli_family_inputs_load(const clattn_cli_run_options *o, clattn_cli_run_problem *p) {
  const clattn_cli_run_family *f = &o->family;
  if (f->score == CLATTN_CLI_SCORE_GENERAL) {
    family_dim w[2] = {{"q_dim", p->q_dim}, {"D", p->head_dim}};
    return family_load("--w", f->w_path, w, 2, "--q and --k", &p->w);
  }
  if (f->score == CLATTN_CLI_SCORE_ADDITIVE) {
    return family_additive(f, p);
  }
  if (f->score == CLATTN_CLI_SCORE_LOCATION) {
    family_dim wa[2] = {{"Skv", p->kv_len}, {"D", p->head_dim}};
    return family_load("--wa", f->wa_path, wa, 2, "--v and --q", &p->wa);
  }
  if (f->local == 1 + CLATTN_LOCAL_P) {
    return family_local_p(f, p);
  }
  if (f->hard && f->draws > INT32_MAX / p->q_len) {
    return clattn_cli_run_reject("--draws",
                                 "%lld draws of %lld queries make more than 2^31 - 1 output rows",
                                 (long long)f->draws, (long long)p->q_len);
  }
  return CLATTN_CLI_OK;
}
