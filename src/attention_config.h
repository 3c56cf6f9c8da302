/* Choosing the fused kernel's compile-time shape for a device: rows and keys per work-item,
 * vector width and work-group size. Tuning values live here, apart from device quirks. */
#ifndef CLATTN_ATTENTION_CONFIG_H
#define CLATTN_ATTENTION_CONFIG_H

#include "clattn.h"
#include "defines.h"

typedef struct clattn__attention_config {
  int rows;   /* query rows per work-item */
  int tile_k; /* keys per local-memory tile; a multiple of vec */
  int vec;    /* vector width along keys and V features */
  int wg;     /* work-items per work-group */
  int v_direct; /* 1: read V from global memory where used; 0: stage V tiles in local memory */
} clattn__attention_config;

/* The default for the context's device class: CPUs want few work-items with register
 * blocking and wide vectors; GPUs want many work-items, one row each. */
clattn__attention_config clattn__attention_default_config(const clattn_context *ctx);

/* Parses "rows=4,tile_k=16,vec=8,wg=8,v_direct=0" (any subset) over *config; 0 on success. */
int clattn__attention_config_parse(const char *text, clattn__attention_config *config);

/* The configuration a call uses: the context's override (tests, tuning), else the
 * CLATTN_ATTENTION_CONFIG environment variable, else the default; then shrunk until its
 * local memory fits the device. UNSUPPORTED when nothing fits. */
clattn_status clattn__attention_pick_config(clattn_context *ctx, int head_dim, int v_dim,
                                            clattn__attention_config *config);

/* Sets (or with NULL clears) a context's override, for tests and the tuner. */
clattn_status clattn__attention_set_override(clattn_context *ctx,
                                             const clattn__attention_config *config);

/* The kernel's defines for a configuration, head dimensions and storage types. */
void clattn__attention_defines(const clattn__attention_config *config, int head_dim, int v_dim,
                               const clattn_dtype types[4], clattn__defines *defines);

/* Bytes of __local memory the kernel declares for a configuration. */
size_t clattn__attention_local_bytes(const clattn__attention_config *config, int head_dim,
                                     int v_dim);

#endif
