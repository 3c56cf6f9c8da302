/*
 * clattn run on the device: one buffer per input, one clattn_attention_forward call (or one
 * of the family's, run_family.c), and the outputs read back and widened to float32. Everything goes through the public API and the
 * context's own queue, exactly as an application would do it.
 */
#include <stdlib.h>
#include <string.h>

#include "half.h"
#include "run.h"
#include "run_family.h"

/* The device objects of one run; all NULL until created. */
typedef struct run_buffers {
  cl_mem q, k, v, o, lse, mask, kv_lens, q_lens;
} run_buffers;

int clattn_cli_run_buffer_create(clattn_context *ctx, const char *what, const void *host,
                             size_t bytes, cl_mem *out) {
  cl_int err = CL_SUCCESS;
  cl_mem_flags flags = host != NULL ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR : CL_MEM_WRITE_ONLY;
  *out = clCreateBuffer(clattn_context_cl_context(ctx), flags, bytes, (void *)host, &err);
  if (err != CL_SUCCESS) {
    *out = NULL;
    fprintf(stderr, "clattn: %s: clCreateBuffer for %s (%zu bytes) failed: %s\n",
            clattn_status_name(CLATTN_OPENCL_ERROR), what, bytes, clattn_cl_error_name(err));
    return CLATTN_CLI_FAILURE;
  }
  return CLATTN_CLI_OK;
}

static int run_buffers_create(clattn_context *ctx, const clattn_cli_run_options *o,
                              const clattn_cli_run_problem *p, run_buffers *b) {
  size_t rows = (size_t)(p->batch * p->q_heads * p->q_len);
  size_t o_bytes = rows * (size_t)o->family.draws * (size_t)p->v_head_dim *
                   clattn_dtype_size(o->dtype);
  /* Optional inputs have no host data and optional outputs no size when absent. */
  const struct {
    const char *what;
    const void *host;
    size_t bytes;
    cl_mem *buffer;
  } all[8] = {
      {"--q", p->q.data, p->q.bytes, &b->q},
      {"--k", p->k.data, p->k.bytes, &b->k},
      {"--v", p->v.data, p->v.bytes, &b->v},
      {"--out", NULL, o_bytes, &b->o},
      {"--lse", NULL, o->lse_path != NULL ? rows * sizeof(float) : 0, &b->lse},
      {"--mask", p->mask.data, p->mask.bytes, &b->mask},
      {"--kv-lens", p->kv_lens.data, p->kv_lens.bytes, &b->kv_lens},
      {"--q-lens", p->q_lens.data, p->q_lens.bytes, &b->q_lens},
  };
  int rc = CLATTN_CLI_OK;
  for (int i = 0; i < 8 && rc == CLATTN_CLI_OK; ++i) {
    if (all[i].bytes > 0) {
      rc = clattn_cli_run_buffer_create(ctx, all[i].what, all[i].host, all[i].bytes, all[i].buffer);
    }
  }
  return rc;
}

static void run_buffers_release(run_buffers *b) {
  cl_mem *all[8] = {&b->q, &b->k, &b->v, &b->o, &b->lse, &b->mask, &b->kv_lens, &b->q_lens};
  for (int i = 0; i < 8; ++i) {
    if (*all[i] != NULL) {
      clReleaseMemObject(*all[i]);
      *all[i] = NULL;
    }
  }
}

static void run_desc_fill(const clattn_cli_run_options *o, const clattn_cli_run_problem *p,
                          const run_buffers *b, clattn_attention_desc *desc) {
  clattn_attention_desc_init(desc);
  desc->batch = p->batch;
  desc->q_heads = p->q_heads;
  desc->kv_heads = p->kv_heads;
  desc->q_len = p->q_len;
  desc->kv_len = p->kv_len;
  desc->head_dim = p->head_dim;
  desc->v_head_dim = p->v_head_dim;
  desc->scale = o->scale;
  desc->softcap = o->softcap;
  desc->causal = o->causal;
  desc->alignment = o->alignment;
  desc->window_left = o->window_left;
  desc->window_right = o->window_right;
  desc->kv_lens = b->kv_lens;
  desc->q_lens = b->q_lens;
  if (p->mask_type != CLATTN_MASK_NONE) {
    desc->mask.type = p->mask_type;
    desc->mask.buffer = b->mask;
    desc->mask.offset = 0;
    desc->mask.stride_batch = p->mask_stride_batch;
    desc->mask.stride_head = p->mask_stride_head;
    desc->mask.stride_query = p->mask_stride_query;
  }
}

/* Reads a device array back into a new float32 host array. */
static int run_read_back(clattn_context *ctx, cl_mem buffer, clattn_dtype dtype, size_t count,
                         float **out) {
  size_t item = clattn_dtype_size(dtype);
  void *raw = malloc(count * item);
  *out = malloc(count * sizeof(float));
  if (raw == NULL || *out == NULL) {
    free(raw);
    free(*out);
    *out = NULL;
    return clattn_cli_out_of_memory();
  }
  cl_int err = clEnqueueReadBuffer(clattn_context_queue(ctx), buffer, CL_TRUE, 0, count * item,
                                   raw, 0, NULL, NULL);
  if (err != CL_SUCCESS) {
    free(raw);
    free(*out);
    *out = NULL;
    fprintf(stderr, "clattn: %s: clEnqueueReadBuffer failed: %s\n",
            clattn_status_name(CLATTN_OPENCL_ERROR), clattn_cl_error_name(err));
    return CLATTN_CLI_FAILURE;
  }
  for (size_t i = 0; i < count; ++i) {
    if (dtype == CLATTN_F32) {
      (*out)[i] = ((const float *)raw)[i];
    } else if (dtype == CLATTN_F16) {
      (*out)[i] = clattn_cli_half_to_float(((const uint16_t *)raw)[i]);
    } else {
      (*out)[i] = clattn_cli_bf16_to_float(((const uint16_t *)raw)[i]);
    }
  }
  free(raw);
  return CLATTN_CLI_OK;
}

static int run_on_context(clattn_context *ctx, const clattn_cli_run_options *o,
                          const clattn_cli_run_problem *p, clattn_cli_run_result *result) {
  run_buffers b;
  clattn_attention_desc desc;
  memset(&b, 0, sizeof b);
  int rc = run_buffers_create(ctx, o, p, &b);
  if (rc == CLATTN_CLI_OK) {
    run_desc_fill(o, p, &b, &desc);
    clattn_tensor q = clattn_tensor_contiguous(b.q, p->q_dtype, o->layout, p->q_heads,
                                               p->q_len, p->q_dim, 0);
    clattn_tensor k = clattn_tensor_contiguous(b.k, p->k_dtype, o->layout, p->kv_heads,
                                               p->kv_len, p->head_dim, 0);
    clattn_tensor v = clattn_tensor_contiguous(b.v, o->dtype, o->layout, p->kv_heads,
                                               p->kv_len, p->v_head_dim, 0);
    /* Hard attention's O has Sq * draws rows: row t * draws + d is query t's draw d. */
    clattn_tensor out = clattn_tensor_contiguous(b.o, o->dtype, o->layout, p->q_heads,
                                                 p->q_len * o->family.draws, p->v_head_dim, 0);
    /* LSE is a (B, H, S) or (B, S, H) array: the same layouts with a feature size of 1. */
    clattn_tensor lse = clattn_tensor_contiguous(b.lse, CLATTN_F32, o->layout, p->q_heads,
                                                 p->q_len, 1, 0);
    const clattn_cli_family_call call = {&desc, &q, b.k != NULL ? &k : NULL, &v, &out,
                                         b.lse != NULL ? &lse : NULL};
    rc = clattn_cli_family_run(ctx, o, p, &call, result);
  }
  size_t rows = (size_t)(p->batch * p->q_heads * p->q_len);
  if (rc == CLATTN_CLI_OK) {
    rc = run_read_back(ctx, b.o, o->dtype, rows * (size_t)o->family.draws * (size_t)p->v_head_dim,
                       &result->o);
  }
  if (rc == CLATTN_CLI_OK && b.lse != NULL) {
    rc = run_read_back(ctx, b.lse, CLATTN_F32, rows, &result->lse);
  }
  /* The blocking reads finished the kernel; a failure may have left commands queued. */
  clFinish(clattn_context_queue(ctx));
  run_buffers_release(&b);
  return rc;
}

int clattn_cli_run_device(const clattn_cli_run_options *o, const clattn_cli_run_problem *p,
                          clattn_cli_run_result *result) {
  clattn_context *ctx = NULL;
  memset(result, 0, sizeof *result);
  int rc = clattn_cli_context_open(o->device, &ctx);
  if (rc == CLATTN_CLI_OK) {
    rc = run_on_context(ctx, o, p, result);
  }
  clattn_context_destroy(ctx);
  if (rc != CLATTN_CLI_OK) {
    clattn_cli_run_result_free(result);
  }
  return rc;
}

void clattn_cli_run_result_free(clattn_cli_run_result *result) {
  free(result->o);
  free(result->lse);
  free(result->indices);
  result->o = NULL;
  result->lse = NULL;
  result->indices = NULL;
}
