/* The variant registry and the public calls built on it: listing, warm-up, export. */
#include "variants.h"

#include <stdlib.h>
#include <string.h>

#include "attention_config.h"
#include "binary_cache.h"
#include "context.h"
#include "errors.h"
#include "fileio.h"
#include "posenc.h"
#include "program.h"

void clattn__ceiling_variant(const clattn_context *ctx, clattn__variant *variant) {
  variant->file = "ceiling.cl";
  clattn__defines_init(&variant->defines);
  /* CPUs need explicit vectors (8 floats fill the 256-bit units PoCL targets); on GPUs each
   * work-item is one SIMD lane and wide vectors only add register pressure. */
  int cpu = (ctx->info.type & CL_DEVICE_TYPE_CPU) != 0;
  clattn__defines_set_int(&variant->defines, "VEC", cpu ? 8 : 1);
  clattn__defines_set_int(&variant->defines, "CHAINS", 8);
}

/* The variants prepared and exported by default: fp32 attention at the head dimensions
 * most models use, the fp32 KV-cache append, and the fp32 kernels of the attention layer. Other shapes, storage types and the decode
 * kernels (one variant per query rows per KV head) build on first use. */
static const int standard_head_dims[] = {64, 128};

size_t clattn__variants_collect(clattn_context *ctx, clattn__variant *out, size_t capacity) {
  size_t count = 0;
  if (count < capacity) clattn__ceiling_variant(ctx, &out[count]);
  count++;
  const clattn_dtype f32[4] = {CLATTN_F32, CLATTN_F32, CLATTN_F32, CLATTN_F32};
  for (size_t i = 0; i < sizeof standard_head_dims / sizeof standard_head_dims[0]; i++) {
    clattn__attention_config config;
    int d = standard_head_dims[i];
    if (clattn__attention_pick_config(ctx, d, d, &config) != CLATTN_SUCCESS) continue;
    if (count < capacity) {
      out[count].file = "attention_fwd.cl";
      clattn__attention_defines(&config, d, d, f32, &out[count].defines);
    }
    count++;
  }
  /* The KV cache's append kernel, fp32 into an fp32 cache, contiguous and paged. */
  for (int paged = 0; paged <= 1; paged++) {
    if (count < capacity) {
      static const char *names[5] = {"K_SRC", "V_SRC", "K_DST", "V_DST", "PAGED"};
      out[count].file = "kv_append.cl";
      clattn__defines_init(&out[count].defines);
      for (int i = 0; i < 5; i++)
        clattn__defines_set_int(&out[count].defines, names[i], i == 4 ? paged : 0);
    }
    count++;
  }
  /* The attention layer's bias + RoPE pass (every style) and its head-averaging kernel. */
  count += clattn__posenc_variants(count < capacity ? out + count : NULL,
                                   count < capacity ? capacity - count : 0);
  if (count < capacity) {
    out[count].file = "mha.cl";
    clattn__defines_init(&out[count].defines);
  }
  count++;
  return count;
}

/* Collects into a heap array: variant lists outgrow a comfortable stack frame. */
static clattn_status collect(clattn_context *ctx, clattn__variant **variants, size_t *count) {
  *count = 0;
  *variants = malloc(CLATTN__MAX_VARIANTS * sizeof **variants);
  if (!*variants) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  *count = clattn__variants_collect(ctx, *variants, CLATTN__MAX_VARIANTS);
  if (*count > CLATTN__MAX_VARIANTS) {
    free(*variants);
    *variants = NULL;
    return clattn__fail(ctx, CLATTN_INTERNAL, "more than %d kernel variants", CLATTN__MAX_VARIANTS);
  }
  return CLATTN_SUCCESS;
}

clattn_status clattn_kernel_variants(clattn_context *ctx, clattn_kernel_variant *out,
                                     size_t capacity, size_t *count) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!count) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "count must not be NULL");
  if (!out && capacity > 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "out must not be NULL when capacity > 0");
  clattn__variant *variants;
  size_t n;
  clattn_status status = collect(ctx, &variants, &n);
  /* Every identity is computed, listed or not, so that an unreadable source is reported
   * however large the caller's array is. */
  for (size_t i = 0; status == CLATTN_SUCCESS && i < n; i++) {
    clattn_kernel_variant item;
    memset(&item, 0, sizeof item);
    strncpy(item.file, variants[i].file, sizeof item.file - 1);
    status = clattn__program_identity(ctx, variants[i].file, &variants[i].defines, item.options,
                                      item.key);
    if (status == CLATTN_SUCCESS && i < capacity) out[i] = item;
  }
  free(variants);
  if (status != CLATTN_SUCCESS) return status;
  *count = n;
  if (capacity < n)
    return clattn__fail(ctx, CLATTN_BUFFER_TOO_SMALL, "out has room for %zu variants; there are %zu",
                        capacity, n);
  return CLATTN_SUCCESS;
}

clattn_status clattn_prepare_kernels(clattn_context *ctx, clattn_program_origin *origins,
                                     size_t capacity) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!origins && capacity > 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "origins must not be NULL when capacity > 0");
  clattn__variant *variants;
  size_t n;
  clattn_status status = collect(ctx, &variants, &n);
  if (status != CLATTN_SUCCESS) return status;
  for (size_t i = 0; status == CLATTN_SUCCESS && i < n; i++) {
    cl_program program;
    clattn_program_origin origin;
    status = clattn__program_get(ctx, variants[i].file, &variants[i].defines, &program, &origin);
    if (status == CLATTN_SUCCESS && i < capacity) origins[i] = origin;
  }
  free(variants);
  return status;
}

static clattn_status export_one(clattn_context *ctx, const clattn__variant *variant,
                                const char *dir) {
  cl_program program;
  char options[CLATTN__OPTIONS_CAPACITY], key[65];
  clattn_status status = clattn__program_get(ctx, variant->file, &variant->defines, &program, NULL);
  if (status == CLATTN_SUCCESS)
    status = clattn__program_identity(ctx, variant->file, &variant->defines, options, key);
  unsigned char *binary = NULL;
  size_t size = 0;
  if (status == CLATTN_SUCCESS) status = clattn__program_binary(ctx, program, &binary, &size);
  if (status == CLATTN_SUCCESS && clattn__binary_write(dir, key, binary, size) != 0)
    status = clattn__fail(ctx, CLATTN_IO_ERROR, "cannot write %s/%s.bin", dir, key);
  free(binary);
  return status;
}

clattn_status clattn_export_binaries(clattn_context *ctx, const char *dir) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!dir || !*dir) return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "dir must not be NULL or empty");
  if (clattn__make_dirs(dir) != 0)
    return clattn__fail(ctx, CLATTN_IO_ERROR, "cannot create directory %s", dir);
  clattn__variant *variants;
  size_t n;
  clattn_status status = collect(ctx, &variants, &n);
  for (size_t i = 0; status == CLATTN_SUCCESS && i < n; i++)
    status = export_one(ctx, &variants[i], dir);
  free(variants);
  return status;
}
