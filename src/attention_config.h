/* Choosing the fused kernel's compile-time shape for a device: rows and keys per work-item,
 * vector width and work-group size. Tuning values live here, apart from device quirks.
 *
 * A call's configuration comes from, in order: the context's override (tests, the tuner),
 * CLATTN_ATTENTION_CONFIG, a tuned entry of the device's tuning file for the call's key
 * (storage types, head dimension, masking), and the built-in table of defaults per device
 * class (attention_config.c, with where each value comes from). */
#ifndef CLATTN_ATTENTION_CONFIG_H
#define CLATTN_ATTENTION_CONFIG_H

#include <stddef.h>

#include "clattn.h"
#include "defines.h"

typedef struct clattn__attention_config {
  int rows;   /* query rows per work-item */
  int tile_k; /* keys per local-memory tile; a multiple of vec */
  int vec;    /* vector width along keys and V features */
  int wg;     /* work-items per work-group */
  int v_direct; /* 1: read V from global memory where used; 0: stage V tiles in local memory */
} clattn__attention_config;

/* What a configuration is chosen for. */
typedef struct clattn__attention_key {
  clattn_dtype types[3]; /* storage of Q, K, V */
  int head_dim, v_dim;
  clattn_tune_masking masking;
} clattn__attention_key;

/* A tuned configuration as the tuning file holds it: one line
 *   attention v1 f32 d64 causal rows=4 tile_k=16 vec=8 wg=32 v_direct=0  # note
 * "v1" is the version of the kernel's configuration meaning (CLATTN__ATTENTION_LINE_VERSION;
 * lines of another version are rejected, so a kernel change that alters what the numbers
 * mean invalidates old files); the storage is one name for Q, K and V alike or "q/k/v"
 * (f32, f16, bf16); "dN" the head dimension (Dv = D); masking none, causal (also sliding
 * windows) or tensor. */
#define CLATTN__ATTENTION_LINE_VERSION 1
typedef struct clattn__attention_entry {
  clattn__attention_key key; /* v_dim = head_dim */
  clattn__attention_config config;
  char note[96]; /* the line's trailing comment without '#' (measured figures), may be "" */
} clattn__attention_entry;

/* The key of a call (masking from the descriptor's causal, window and mask tensor). */
clattn__attention_key clattn__attention_key_make(const clattn_attention_desc *desc, int head_dim,
                                                 int v_dim, const clattn_tensor *const t[3]);

/* The built-in default for a device and key, and (may be NULL) where its values come from. */
clattn__attention_config clattn__attention_table_config(const clattn_device_info *info,
                                                        const clattn__attention_key *key,
                                                        const char **source);

/* The built-in default for the context's device, f32 at D = 64 with no mask. */
clattn__attention_config clattn__attention_default_config(const clattn_context *ctx);

/* Parses "rows=4,tile_k=16,vec=8,wg=8,v_direct=0" (any subset) over *config; 0 on success. */
int clattn__attention_config_parse(const char *text, clattn__attention_config *config);
/* "rows=4,tile_k=16,vec=8,wg=32,v_direct=0" with `sep` between the fields (',' or ' '). */
void clattn__attention_config_format(const clattn__attention_config *config, char sep,
                                     char *buf, size_t size);

/* Parses the words after "attention" of a tuning-file line (modified in place); 0, or -1
 * with the reason in `why`. */
int clattn__attention_entry_parse(char *rest, clattn__attention_entry *entry, char *why,
                                  size_t size);
/* The line without "#" comment or newline: "attention v1 f32 d64 causal rows=4 ...". */
void clattn__attention_entry_format(const clattn__attention_entry *entry, char *buf,
                                    size_t size);
/* "f32 d64 causal": the key as the file and messages name it. */
void clattn__attention_key_format(const clattn__attention_key *key, char *buf, size_t size);
int clattn__attention_key_equal(const clattn__attention_key *a, const clattn__attention_key *b);

/* The configuration a call uses (see the top of this file); then shrunk until its local
 * memory fits the device. UNSUPPORTED when nothing fits. */
clattn_status clattn__attention_pick_config_for(clattn_context *ctx,
                                                const clattn__attention_key *key,
                                                clattn__attention_config *config);
/* The same for f32 storage and no mask. */
clattn_status clattn__attention_pick_config(clattn_context *ctx, int head_dim, int v_dim,
                                            clattn__attention_config *config);

/* Sets (or with NULL clears) a context's override, for tests and the tuner. */
clattn_status clattn__attention_set_override(clattn_context *ctx,
                                             const clattn__attention_config *config);
/* 1 and *config when the context has an override, else 0. */
int clattn__attention_get_override(clattn_context *ctx, clattn__attention_config *config);

/* The kernel's defines for a configuration, head dimensions and storage types. */
void clattn__attention_defines(const clattn__attention_config *config, int head_dim, int v_dim,
                               const clattn_dtype types[4], clattn__defines *defines);

/* Bytes of __local memory the kernel declares for a configuration. */
size_t clattn__attention_local_bytes(const clattn__attention_config *config, int head_dim,
                                     int v_dim);

/* 1 when the fields are within the kernel's limits (vec 1..16 power of two, tile_k a
 * multiple of vec, ...). */
int clattn__attention_config_valid(const clattn__attention_config *config);

#endif
