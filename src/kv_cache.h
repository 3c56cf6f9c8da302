/* What other host code may know of a KV cache besides the public API. */
#ifndef CLATTN_KV_CACHE_H
#define CLATTN_KV_CACHE_H

#include "clattn.h"

/* The cache's descriptor, v_head_dim and num_blocks resolved. */
const clattn_kv_cache_desc *clattn__kv_cache_desc(const clattn_kv_cache *cache);

/* Shortens every sequence b to lengths[b] tokens (at most its length), returning freed blocks
 * to the pool: undoes an append whose call failed later (clattn_mha_step). Host state only,
 * like clattn_kv_cache_reset; what the append's kernel writes beyond the lengths is unused. */
void clattn__kv_cache_truncate(clattn_kv_cache *cache, const int32_t *lengths);

#endif
