/*
 * clattn run --weights / --heatmap and clattn heatmap on the device: buffers for Q, K, the
 * mask and the lengths, one clattn_attention_weights call into a float32 (B, Hq, Sq, Skv)
 * buffer, read back. The LSE that probabilities need is computed by the library.
 */
#include <stdlib.h>
#include <string.h>

#include "heatmap.h"

static cl_mem weights_buffer(clattn_context *ctx, const char *what, const void *host,
                             size_t bytes, int *rc) {
  cl_int err = CL_SUCCESS;
  cl_mem_flags flags = host != NULL ? CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR : CL_MEM_WRITE_ONLY;
  cl_mem m = clCreateBuffer(clattn_context_cl_context(ctx), flags, bytes, (void *)host, &err);
  if (err != CL_SUCCESS) {
    fprintf(stderr, "clattn: %s: clCreateBuffer for %s (%zu bytes) failed: %s\n",
            clattn_status_name(CLATTN_OPENCL_ERROR), what, bytes, clattn_cl_error_name(err));
    *rc = CLATTN_CLI_FAILURE;
    return NULL;
  }
  return m;
}

static int weights_on_context(clattn_context *ctx, const clattn_cli_run_options *o,
                              const clattn_cli_run_problem *p, int mode, float *out,
                              size_t count) {
  int rc = CLATTN_CLI_OK;
  cl_mem q = weights_buffer(ctx, "--q", p->q.data, p->q.bytes, &rc);
  cl_mem k = rc == CLATTN_CLI_OK ? weights_buffer(ctx, "--k", p->k.data, p->k.bytes, &rc) : NULL;
  cl_mem w = rc == CLATTN_CLI_OK ? weights_buffer(ctx, "the weights", NULL, count * sizeof(float), &rc) : NULL;
  cl_mem mask = NULL, kv_lens = NULL, q_lens = NULL;
  if (rc == CLATTN_CLI_OK && p->mask.data != NULL) {
    mask = weights_buffer(ctx, "--mask", p->mask.data, p->mask.bytes, &rc);
  }
  if (rc == CLATTN_CLI_OK && p->kv_lens.data != NULL) {
    kv_lens = weights_buffer(ctx, "--kv-lens", p->kv_lens.data, p->kv_lens.bytes, &rc);
  }
  if (rc == CLATTN_CLI_OK && p->q_lens.data != NULL) {
    q_lens = weights_buffer(ctx, "--q-lens", p->q_lens.data, p->q_lens.bytes, &rc);
  }
  if (rc == CLATTN_CLI_OK) {
    clattn_attention_desc desc;
    clattn_attention_desc_init(&desc);
    desc.batch = p->batch;
    desc.q_heads = p->q_heads;
    desc.kv_heads = p->kv_heads;
    desc.q_len = p->q_len;
    desc.kv_len = p->kv_len;
    desc.head_dim = p->head_dim;
    desc.scale = o->scale;
    desc.softcap = o->softcap;
    desc.causal = o->causal;
    desc.alignment = o->alignment;
    desc.window_left = o->window_left;
    desc.window_right = o->window_right;
    desc.kv_lens = kv_lens;
    desc.q_lens = q_lens;
    if (p->mask_type != CLATTN_MASK_NONE) {
      desc.mask.type = p->mask_type;
      desc.mask.buffer = mask;
      desc.mask.stride_batch = p->mask_stride_batch;
      desc.mask.stride_head = p->mask_stride_head;
      desc.mask.stride_query = p->mask_stride_query;
    }
    clattn_tensor qt = clattn_tensor_contiguous(q, p->q_dtype, o->layout, p->q_heads, p->q_len,
                                                p->head_dim, 0);
    clattn_tensor kt = clattn_tensor_contiguous(k, p->k_dtype, o->layout, p->kv_heads, p->kv_len,
                                                p->head_dim, 0);
    /* (B, Hq, Sq, Skv): a BHSD view whose "features" are the keys. */
    clattn_tensor wt = clattn_tensor_contiguous(w, CLATTN_F32, CLATTN_LAYOUT_BHSD, p->q_heads,
                                                p->q_len, p->kv_len, 0);
    clattn_status status = clattn_attention_weights(ctx, NULL, &desc, &qt, &kt, NULL,
                                                    (clattn_weights_mode)mode, &wt, 0, NULL, NULL);
    if (status != CLATTN_SUCCESS) {
      rc = clattn_cli_failure_print(ctx, status);
    }
  }
  if (rc == CLATTN_CLI_OK) {
    cl_int err = clEnqueueReadBuffer(clattn_context_queue(ctx), w, CL_TRUE, 0,
                                     count * sizeof(float), out, 0, NULL, NULL);
    if (err != CL_SUCCESS) {
      fprintf(stderr, "clattn: %s: clEnqueueReadBuffer failed: %s\n",
              clattn_status_name(CLATTN_OPENCL_ERROR), clattn_cl_error_name(err));
      rc = CLATTN_CLI_FAILURE;
    }
  }
  clFinish(clattn_context_queue(ctx));
  cl_mem all[6] = {q, k, w, mask, kv_lens, q_lens};
  for (int i = 0; i < 6; ++i) {
    if (all[i] != NULL) {
      clReleaseMemObject(all[i]);
    }
  }
  return rc;
}

int clattn_cli_run_weights(const clattn_cli_run_options *o, const clattn_cli_run_problem *p,
                           int mode, float **weights) {
  size_t count = (size_t)(p->batch * p->q_heads * p->q_len * p->kv_len);
  *weights = malloc(count * sizeof(float));
  if (*weights == NULL) {
    return clattn_cli_out_of_memory();
  }
  clattn_context *ctx = NULL;
  int rc = clattn_cli_context_open(o->device, &ctx);
  if (rc == CLATTN_CLI_OK) {
    rc = weights_on_context(ctx, o, p, mode, *weights, count);
  }
  clattn_context_destroy(ctx);
  if (rc != CLATTN_CLI_OK) {
    free(*weights);
    *weights = NULL;
  }
  return rc;
}
