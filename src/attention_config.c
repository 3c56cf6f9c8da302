#include "attention_config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "context.h"
#include "errors.h"

clattn__attention_config clattn__attention_default_config(const clattn_context *ctx) {
  clattn__attention_config cpu = {4, 16, 8, 32, 0}, gpu = {1, 32, 4, 128, 0};
  return (ctx->info.type & CL_DEVICE_TYPE_CPU) ? cpu : gpu;
}

static int valid(const clattn__attention_config *c) {
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
  if (!valid(&c)) return -1;
  *config = c;
  return 0;
}

static int round_up(int x, int to) { return (x + to - 1) / to * to; }

size_t clattn__attention_local_bytes(const clattn__attention_config *config, int head_dim,
                                     int v_dim) {
  size_t floats = (size_t)head_dim * config->tile_k;
  if (!config->v_direct) floats += (size_t)config->tile_k * round_up(v_dim, config->vec);
  return floats * sizeof(float) + 2 * sizeof(int);
}

clattn_status clattn__attention_set_override(clattn_context *ctx,
                                             const clattn__attention_config *config) {
  if (config && !valid(config))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "invalid attention configuration");
  clattn__mutex_lock(&ctx->lock);
  ctx->attention_override_set = config != NULL;
  if (config) ctx->attention_override = *config;
  clattn__mutex_unlock(&ctx->lock);
  return CLATTN_SUCCESS;
}

clattn_status clattn__attention_pick_config(clattn_context *ctx, int head_dim, int v_dim,
                                            clattn__attention_config *config) {
  clattn__attention_config c = clattn__attention_default_config(ctx);
  const char *env = getenv("CLATTN_ATTENTION_CONFIG");
  if (env && *env && clattn__attention_config_parse(env, &c) != 0)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "CLATTN_ATTENTION_CONFIG=\"%s\" is not of the form "
                        "rows=R,tile_k=T,vec=V,wg=W,v_direct=0|1 with valid values", env);
  clattn__mutex_lock(&ctx->lock);
  if (ctx->attention_override_set) c = ctx->attention_override;
  clattn__mutex_unlock(&ctx->lock);
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
