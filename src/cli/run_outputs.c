/*
 * clattn run's outputs: O, LSE and hard attention's indices, each written complete under a
 * temporary name first and renamed into place only once all of them are, so that a failure
 * leaves no partial file behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"

char *clattn_cli_run_temp_name(const char *path) {
  static const char suffix[] = ".clattn-tmp";
  size_t n = strlen(path);
  char *name = malloc(n + sizeof suffix);
  if (name != NULL) {
    memcpy(name, path, n);
    memcpy(name + n, suffix, sizeof suffix);
  }
  return name;
}

int clattn_cli_run_write_temp(const char *argument, const char *temp, clattn_npy_dtype dtype,
                              int rank, const int64_t *shape, const void *data) {
  char error[768];
  if (temp == NULL) {
    return clattn_cli_out_of_memory();
  }
  if (clattn_npy_write(temp, dtype, rank, shape, data, error, sizeof error) != 0) {
    fprintf(stderr, "clattn %s: %s: %s\n", clattn_cli_run_command(), argument, error);
    return CLATTN_CLI_FAILURE;
  }
  return CLATTN_CLI_OK;
}

int clattn_cli_run_rename(const char *argument, const char *temp, const char *path) {
  if (rename(temp, path) != 0) {
    fprintf(stderr, "clattn %s: %s: cannot rename '%s' to '%s': %s\n", clattn_cli_run_command(),
            argument, temp, path, strerror(errno));
    remove(temp);
    return CLATTN_CLI_FAILURE;
  }
  return CLATTN_CLI_OK;
}

/* One file to write. */
typedef struct run_output {
  const char *argument, *path;
  clattn_npy_dtype dtype;
  int rank;
  int64_t shape[4];
  const void *data;
  char *temp;
} run_output;

/* Writes every temporary file, then renames them in order; on a failure removes the
 * temporary files that are left. */
static int run_outputs_commit(run_output *out, int count) {
  int rc = CLATTN_CLI_OK, written = 0;
  for (; written < count && rc == CLATTN_CLI_OK; ++written) {
    out[written].temp = clattn_cli_run_temp_name(out[written].path);
    rc = clattn_cli_run_write_temp(out[written].argument, out[written].temp, out[written].dtype,
                                   out[written].rank, out[written].shape, out[written].data);
  }
  int renamed = 0;
  for (; renamed < count && rc == CLATTN_CLI_OK; ++renamed) {
    rc = clattn_cli_run_rename(out[renamed].argument, out[renamed].temp, out[renamed].path);
  }
  for (int i = renamed; rc != CLATTN_CLI_OK && i < written; ++i) {
    if (out[i].temp != NULL) {
      remove(out[i].temp);
    }
  }
  for (int i = 0; i < written; ++i) {
    free(out[i].temp);
  }
  return rc;
}

int clattn_cli_run_outputs_write(const clattn_cli_run_options *o, const clattn_cli_run_problem *p,
                                 const clattn_cli_run_result *r) {
  int bhsd = o->layout == CLATTN_LAYOUT_BHSD;
  int64_t rows = p->q_len * o->family.draws; /* hard attention: Sq * draws rows */
  run_output out[3];
  int count = 0;
  memset(out, 0, sizeof out);
  out[count++] = (run_output){"--out", o->out_path, CLATTN_NPY_F32, 4,
                              {p->batch, bhsd ? p->q_heads : rows, bhsd ? rows : p->q_heads,
                               p->v_head_dim}, r->o, NULL};
  if (o->lse_path != NULL) {
    out[count++] = (run_output){"--lse", o->lse_path, CLATTN_NPY_F32, 3,
                                {p->batch, bhsd ? p->q_heads : p->q_len,
                                 bhsd ? p->q_len : p->q_heads, 0}, r->lse, NULL};
  }
  if (o->family.indices_path != NULL) {
    out[count++] = (run_output){"--indices", o->family.indices_path, CLATTN_NPY_I32, 4,
                                {p->batch, p->q_heads, p->q_len, o->family.draws}, r->indices,
                                NULL};
  }
  int rc = run_outputs_commit(out, count);
  for (int i = 0; i < count && rc == CLATTN_CLI_OK; ++i) {
    char dims[256];
    printf("wrote %s: %s %s\n", out[i].path, clattn_npy_dtype_name(out[i].dtype),
           clattn_npy_shape_format(out[i].rank, out[i].shape, dims, sizeof dims));
  }
  return rc;
}
