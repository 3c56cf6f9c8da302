/* What other host code may know of a KV cache besides the public API. */
#ifndef CLATTN_KV_CACHE_H
#define CLATTN_KV_CACHE_H

#include "clattn.h"

/* The cache's descriptor, v_head_dim and num_blocks resolved. */
const clattn_kv_cache_desc *clattn__kv_cache_desc(const clattn_kv_cache *cache);

#endif
