#include "attention_config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "device.h"
#include "errors.h"
#include "fileio.h"

/* ---- The built-in table ----------------------------------------------------------------
 *
 * Defaults per device class, used when the tuning file has no entry for a call's key. The
 * first row that matches the device type, the vendor (a part of CL_DEVICE_VENDOR, ignoring
 * case; NULL: any), the storage class and the head dimension wins.
 *
 * Provenance:
 *  - CPU rows were measured on the CI machine (2 vCPU AMD EPYC, PoCL 3.1, AVX-512 capable):
 *    4 rows x 16 keys per work-item, float8, 32 work-items is the README's prefill figure
 *    (~110 GFLOP/s at D=64, fp32), and a cold `clattn tune --quick` there kept none of its
 *    one-step neighbours (all within -3 % .. +2 % at D = 64 and 128, f32, with and without
 *    causal masking). vec=16 does give 512-bit FMAs on PoCL (zmm, where vec=8 gives ymm) but
 *    was no faster (transposes and exp dominate). For D > 128 the accumulator (rows x Dv floats) no
 *    longer fits the 32 vector registers at 4 rows: 2 rows, reasoned, not measured.
 *  - GPU rows are reasoned from the hardware (no GPU was available to measure): one query row
 *    per work-item, float4 loads (16-byte transactions), 32-key tiles of K and V staged in
 *    local memory (2 x 32 x 128 x 4 B = 32 KiB at D=128, within NVIDIA's 48 KiB and AMD's and
 *    Intel's 64 KiB; 16-key tiles above D=128), and work-groups of 4 hardware threads: 4 warps
 *    of 32 on NVIDIA, 4 wavefronts of 64 on AMD, 4 SIMD16 threads on Intel. Other GPUs and
 *    accelerators get a small configuration that fits OpenCL 1.2's minimum 32 KiB of local
 *    memory up to D=128.
 *  - 16-bit storage (f16, bf16) uses the same rows: the conversions are per element and
 *    change the arithmetic intensity little; tune per storage type where it matters.
 */
enum { STORAGE_ANY = -1, STORAGE_F32 = 0, STORAGE_16BIT = 1 };

typedef struct table_row {
  cl_device_type type;
  const char *vendor;
  int storage;           /* STORAGE_* */
  int min_dim, max_dim;  /* head dimension range */
  clattn__attention_config config;
  const char *source;
} table_row;

static const table_row table[] = {
    {CL_DEVICE_TYPE_CPU, NULL, STORAGE_ANY, 1, 128, {4, 16, 8, 32, 0}, "CPU: measured (PoCL)"},
    {CL_DEVICE_TYPE_CPU, NULL, STORAGE_ANY, 129, 1 << 30, {2, 16, 8, 32, 0},
     "CPU, D > 128: reasoned (register budget)"},
    {CL_DEVICE_TYPE_GPU, "NVIDIA", STORAGE_ANY, 1, 128, {1, 32, 4, 128, 0}, "NVIDIA GPU: reasoned"},
    {CL_DEVICE_TYPE_GPU, "NVIDIA", STORAGE_ANY, 129, 1 << 30, {1, 16, 4, 128, 0},
     "NVIDIA GPU, D > 128: reasoned"},
    {CL_DEVICE_TYPE_GPU, "Advanced Micro Devices", STORAGE_ANY, 1, 128, {1, 32, 4, 256, 0},
     "AMD GPU: reasoned"},
    {CL_DEVICE_TYPE_GPU, "AMD", STORAGE_ANY, 1, 128, {1, 32, 4, 256, 0}, "AMD GPU: reasoned"},
    {CL_DEVICE_TYPE_GPU, "Advanced Micro Devices", STORAGE_ANY, 129, 1 << 30, {1, 16, 4, 256, 0},
     "AMD GPU, D > 128: reasoned"},
    {CL_DEVICE_TYPE_GPU, "AMD", STORAGE_ANY, 129, 1 << 30, {1, 16, 4, 256, 0},
     "AMD GPU, D > 128: reasoned"},
    {CL_DEVICE_TYPE_GPU, "Intel", STORAGE_ANY, 1, 128, {1, 32, 4, 64, 0}, "Intel GPU: reasoned"},
    {CL_DEVICE_TYPE_GPU, "Intel", STORAGE_ANY, 129, 1 << 30, {1, 16, 4, 64, 0},
     "Intel GPU, D > 128: reasoned"},
    {CL_DEVICE_TYPE_GPU | CL_DEVICE_TYPE_ACCELERATOR, NULL, STORAGE_ANY, 1, 1 << 30,
     {1, 16, 4, 64, 0}, "other GPU or accelerator: reasoned"},
};

/* The last resort (CL_DEVICE_TYPE_CUSTOM, ...): the previous GPU default. */
static const table_row fallback = {0, NULL, STORAGE_ANY, 1, 1 << 30, {1, 32, 4, 128, 0},
                                   "any other device: the GPU default"};

static int row_matches(const table_row *r, const clattn_device_info *info,
                       const clattn__attention_key *key) {
  int f32 = key->types[0] == CLATTN_F32 && key->types[1] == CLATTN_F32 &&
            key->types[2] == CLATTN_F32;
  int storage_ok = r->storage == STORAGE_ANY || (r->storage == STORAGE_F32) == f32;
  return (info->type & r->type) && (!r->vendor || clattn__contains_nocase(info->vendor, r->vendor)) &&
         storage_ok && key->head_dim >= r->min_dim && key->head_dim <= r->max_dim;
}

clattn__attention_config clattn__attention_table_config(const clattn_device_info *info,
                                                        const clattn__attention_key *key,
                                                        const char **source) {
  const table_row *row = &fallback;
  for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
    if (row_matches(&table[i], info, key)) {
      row = &table[i];
      break;
    }
  }
  if (source) *source = row->source;
  return row->config;
}

clattn__attention_config clattn__attention_default_config(const clattn_context *ctx) {
  clattn__attention_key key = {{CLATTN_F32, CLATTN_F32, CLATTN_F32}, 64, 64,
                               CLATTN_TUNE_MASK_NONE};
  return clattn__attention_table_config(&ctx->info, &key, NULL);
}

clattn__attention_key clattn__attention_key_make(const clattn_attention_desc *desc, int head_dim,
                                                 int v_dim, const clattn_tensor *const t[3]) {
  clattn__attention_key key;
  for (int i = 0; i < 3; i++) key.types[i] = t[i]->dtype;
  key.head_dim = head_dim;
  key.v_dim = v_dim;
  if (desc->mask.type != CLATTN_MASK_NONE)
    key.masking = CLATTN_TUNE_MASK_TENSOR;
  else if (desc->causal || desc->window_left >= 0 || desc->window_right >= 0)
    key.masking = CLATTN_TUNE_MASK_CAUSAL;
  else
    key.masking = CLATTN_TUNE_MASK_NONE;
  return key;
}

/* ---- Configurations as text ------------------------------------------------------------ */

int clattn__attention_config_valid(const clattn__attention_config *c) {
  int vec_ok = c->vec == 1 || c->vec == 2 || c->vec == 4 || c->vec == 8 || c->vec == 16;
  return vec_ok && c->rows >= 1 && c->rows <= 16 && c->tile_k >= c->vec &&
         c->tile_k % c->vec == 0 && c->tile_k <= 256 && c->wg >= 1 && c->wg <= 1024 &&
         (c->v_direct == 0 || c->v_direct == 1);
}

int clattn__attention_config_parse(const char *text, clattn__attention_config *config) {
  clattn__attention_config c = *config;
  const char *p = text;
  while (p && *p) {
    char name[16];
    int value, used = 0;
    if (sscanf(p, "%15[a-z_]=%d%n", name, &value, &used) != 2) return -1;
    if (!strcmp(name, "rows")) c.rows = value;
    else if (!strcmp(name, "tile_k")) c.tile_k = value;
    else if (!strcmp(name, "vec")) c.vec = value;
    else if (!strcmp(name, "wg")) c.wg = value;
    else if (!strcmp(name, "v_direct")) c.v_direct = value;
    else return -1;
    p += used;
    if (*p == ',') p++;
    else if (*p) return -1;
  }
  if (!clattn__attention_config_valid(&c)) return -1;
  *config = c;
  return 0;
}

void clattn__attention_config_format(const clattn__attention_config *c, char sep, char *buf,
                                     size_t size) {
  snprintf(buf, size, "rows=%d%ctile_k=%d%cvec=%d%cwg=%d%cv_direct=%d", c->rows, sep, c->tile_k,
           sep, c->vec, sep, c->wg, sep, c->v_direct);
}

/* ---- Tuning-file entries ---------------------------------------------------------------- */

static const char *const dtype_names[3] = {"f32", "f16", "bf16"};
static const char *const masking_names[3] = {"none", "causal", "tensor"};

static int dtype_parse(const char *text, size_t length, clattn_dtype *out) {
  for (int i = 0; i < 3; i++) {
    if (strlen(dtype_names[i]) == length && strncmp(text, dtype_names[i], length) == 0) {
      *out = (clattn_dtype)i;
      return 0;
    }
  }
  return -1;
}

/* "f32" (Q, K, V alike) or "f32/f16/f16". */
static int types_parse(const char *text, clattn_dtype types[3]) {
  const char *p = text;
  int n = 0;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t length = slash ? (size_t)(slash - p) : strlen(p);
    if (n == 3 || dtype_parse(p, length, &types[n]) != 0) return -1;
    n++;
    if (!slash) break;
    p = slash + 1;
  }
  if (n == 1) types[1] = types[2] = types[0];
  return n == 1 || n == 3 ? 0 : -1;
}

int clattn__attention_entry_parse(char *rest, clattn__attention_entry *e, char *why,
                                  size_t size) {
  memset(e, 0, sizeof *e);
  char *version = clattn__next_word(&rest), *types = clattn__next_word(&rest);
  char *dim = clattn__next_word(&rest);
  char *masking = clattn__next_word(&rest);
  if (!version || !types || !dim || !masking) {
    snprintf(why, size, "expected 'attention v%d <f32|f16|bf16> d<D> <none|causal|tensor> "
             "rows=R tile_k=T vec=V wg=W v_direct=0|1'", CLATTN__ATTENTION_LINE_VERSION);
    return -1;
  }
  char *end = NULL;
  long v = version[0] == 'v' ? strtol(version + 1, &end, 10) : -1;
  if (v != CLATTN__ATTENTION_LINE_VERSION || !end || *end) {
    snprintf(why, size, "attention record version '%.32s': this clattn reads v%d (re-run "
             "clattn tune)", version, CLATTN__ATTENTION_LINE_VERSION);
    return -1;
  }
  if (types_parse(types, e->key.types) != 0) {
    snprintf(why, size, "attention: bad storage '%.32s' (f32, f16, bf16, or q/k/v)", types);
    return -1;
  }
  long d = dim[0] == 'd' && isdigit((unsigned char)dim[1]) ? strtol(dim + 1, &end, 10) : -1;
  if (d < 1 || d > CLATTN_MAX_HEAD_DIM || *end) {
    snprintf(why, size, "attention: bad head dimension '%.32s' (d1 .. d%d)", dim,
             CLATTN_MAX_HEAD_DIM);
    return -1;
  }
  e->key.head_dim = e->key.v_dim = (int)d;
  int m = 0;
  while (m < 3 && strcmp(masking, masking_names[m]) != 0) m++;
  if (m == 3) {
    snprintf(why, size, "attention: bad masking '%.32s' (none, causal, tensor)", masking);
    return -1;
  }
  e->key.masking = (clattn_tune_masking)m;
  /* The configuration: every field, each once, as NAME=VALUE words. */
  char joined[256] = "";
  int count = 0;
  for (char *word; (word = clattn__next_word(&rest)) != NULL; count++) {
    size_t used = strlen(joined);
    if (used + strlen(word) + 2 >= sizeof joined) break;
    snprintf(joined + used, sizeof joined - used, "%s%s", used ? "," : "", word);
  }
  clattn__attention_config c = {0, 0, 0, 0, -1};
  const char *fields[] = {"rows=", "tile_k=", "vec=", "wg=", "v_direct="};
  int complete = count == 5;
  for (int i = 0; complete && i < 5; i++) complete = strstr(joined, fields[i]) != NULL;
  if (!complete || clattn__attention_config_parse(joined, &c) != 0) {
    snprintf(why, size, "attention: '%.120s' is not rows=R tile_k=T vec=V wg=W v_direct=0|1 "
             "with valid values", joined);
    return -1;
  }
  e->config = c;
  return 0;
}

void clattn__attention_key_format(const clattn__attention_key *key, char *buf, size_t size) {
  char types[32];
  if (key->types[0] == key->types[1] && key->types[1] == key->types[2])
    snprintf(types, sizeof types, "%s", dtype_names[key->types[0]]);
  else
    snprintf(types, sizeof types, "%s/%s/%s", dtype_names[key->types[0]],
             dtype_names[key->types[1]], dtype_names[key->types[2]]);
  snprintf(buf, size, "%s d%d %s", types, key->head_dim, masking_names[key->masking]);
}

void clattn__attention_entry_format(const clattn__attention_entry *e, char *buf, size_t size) {
  char key[64], config[96];
  clattn__attention_key_format(&e->key, key, sizeof key);
  clattn__attention_config_format(&e->config, ' ', config, sizeof config);
  snprintf(buf, size, "attention v%d %s %s", CLATTN__ATTENTION_LINE_VERSION, key, config);
}

int clattn__attention_key_equal(const clattn__attention_key *a, const clattn__attention_key *b) {
  return a->types[0] == b->types[0] && a->types[1] == b->types[1] &&
         a->types[2] == b->types[2] && a->head_dim == b->head_dim && a->v_dim == b->v_dim &&
         a->masking == b->masking;
}

/* ---- Picking ------------------------------------------------------------------------------ */

static int round_up(int x, int to) { return (x + to - 1) / to * to; }

size_t clattn__attention_local_bytes(const clattn__attention_config *config, int head_dim,
                                     int v_dim) {
  size_t floats = (size_t)head_dim * config->tile_k;
  if (!config->v_direct) floats += (size_t)config->tile_k * round_up(v_dim, config->vec);
  return floats * sizeof(float) + 2 * sizeof(int);
}

clattn_status clattn__attention_set_override(clattn_context *ctx,
                                             const clattn__attention_config *config) {
  if (config && !clattn__attention_config_valid(config))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "invalid attention configuration");
  clattn__mutex_lock(&ctx->lock);
  ctx->attention_override_set = config != NULL;
  if (config) ctx->attention_override = *config;
  clattn__mutex_unlock(&ctx->lock);
  return CLATTN_SUCCESS;
}

int clattn__attention_get_override(clattn_context *ctx, clattn__attention_config *config) {
  clattn__mutex_lock(&ctx->lock);
  int set = ctx->attention_override_set;
  if (set) *config = ctx->attention_override;
  clattn__mutex_unlock(&ctx->lock);
  return set;
}

/* The tuned entry for the key, if the context's tuning file had one (caller holds the lock). */
static int tuned_find(const clattn_context *ctx, const clattn__attention_key *key,
                      clattn__attention_config *config) {
  const clattn__tuning_status *st = &ctx->tuning;
  for (int i = 0; i < st->attention_count; i++) {
    if (clattn__attention_key_equal(&st->attention[i].key, key)) {
      *config = st->attention[i].config;
      return 1;
    }
  }
  return 0;
}

clattn_status clattn__attention_pick_config_for(clattn_context *ctx,
                                                const clattn__attention_key *key,
                                                clattn__attention_config *config) {
  clattn__attention_config c = clattn__attention_table_config(&ctx->info, key, NULL);
  const char *env = getenv("CLATTN_ATTENTION_CONFIG");
  int from_env = env && *env;
  if (from_env && clattn__attention_config_parse(env, &c) != 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "CLATTN_ATTENTION_CONFIG=\"%s\" is not of the form "
                        "rows=R,tile_k=T,vec=V,wg=W,v_direct=0|1 with valid values", env);
  clattn__mutex_lock(&ctx->lock);
  if (ctx->attention_override_set) c = ctx->attention_override;
  else if (!from_env) tuned_find(ctx, key, &c);
  clattn__mutex_unlock(&ctx->lock);
  int head_dim = key->head_dim, v_dim = key->v_dim;
  /* Fewer keys per tile until the tiles fit in local memory; the work-group size is
   * checked against the built kernel by the caller. */
  while (clattn__attention_local_bytes(&c, head_dim, v_dim) > ctx->info.local_mem_size &&
         c.tile_k > c.vec)
    c.tile_k = c.tile_k / 2 / c.vec * c.vec > 0 ? c.tile_k / 2 / c.vec * c.vec : c.vec;
  if (clattn__attention_local_bytes(&c, head_dim, v_dim) > ctx->info.local_mem_size)
    return clattn__fail(ctx, CLATTN_UNSUPPORTED,
                        "head dimensions D=%d, Dv=%d need %zu bytes of local memory; %s has %llu",
                        head_dim, v_dim, clattn__attention_local_bytes(&c, head_dim, v_dim),
                        ctx->info.name, (unsigned long long)ctx->info.local_mem_size);
  *config = c;
  return CLATTN_SUCCESS;
}

clattn_status clattn__attention_pick_config(clattn_context *ctx, int head_dim, int v_dim,
                                            clattn__attention_config *config) {
  clattn__attention_key key = {{CLATTN_F32, CLATTN_F32, CLATTN_F32}, head_dim, v_dim,
                               CLATTN_TUNE_MASK_NONE};
  return clattn__attention_pick_config_for(ctx, &key, config);
}

void clattn__attention_defines(const clattn__attention_config *config, int head_dim, int v_dim,
                               const clattn_dtype types[4], clattn__defines *defines) {
  static const char *type_names[4] = {"Q_TYPE", "K_TYPE", "V_TYPE", "O_TYPE"};
  clattn__defines_init(defines);
  clattn__defines_set_int(defines, "HEAD_DIM", head_dim);
  clattn__defines_set_int(defines, "V_DIM", v_dim);
  clattn__defines_set_int(defines, "ROWS", config->rows);
  clattn__defines_set_int(defines, "TILE_K", config->tile_k);
  clattn__defines_set_int(defines, "VEC", config->vec);
  clattn__defines_set_int(defines, "WG", config->wg);
  clattn__defines_set_int(defines, "STAGE_V", !config->v_direct);
  for (int i = 0; i < 4; i++) clattn__defines_set_int(defines, type_names[i], types[i]);
}
