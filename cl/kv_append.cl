/*
 * KV cache append: copies the keys and values of new tokens into the cache, converting the
 * storage type (f32, f16, bf16 → the cache's; stores round to nearest even).
 *
 * One work-group copies one token's K row (HEAD_DIM features) and V row (V_DIM features)
 * of one (sequence, KV head); its work-items stride over the features:
 *
 *   group (0, t * heads + h, b):  src row (b, h, t)  →  cache row (b, h, starts[b] + t)
 *                                  (skipped when t >= counts[b])
 *
 * Contiguous cache: row (b, h, pos) is at b*sb + h*sh + pos*ss. Paged (PAGED 1): the
 * sequence's block table gives the pool block of logical block pos / block_size, and sb is
 * the stride between pool blocks: table[b][pos / block_size]*sb + h*sh + (pos % bs)*ss.
 * `meta` holds the host's per-sequence int32 arrays: lengths [0, B), starts [B, 2B) and
 * counts [2B, 3B).
 */
#ifndef K_SRC
#define K_SRC 0 /* storage of the new keys: 0 f32, 1 f16, 2 bf16 */
#endif
#ifndef V_SRC
#define V_SRC 0 /* storage of the new values */
#endif
#ifndef K_DST
#define K_DST 0 /* storage of the cache's keys */
#endif
#ifndef V_DST
#define V_DST 0 /* storage of the cache's values */
#endif
#ifndef PAGED
#define PAGED 0 /* 1: the cache is a block pool addressed through block tables */
#endif

#include "storage.clh"

/* Element offset of cache row (b, h, pos). */
inline long cache_row(long sb, long sh, long ss, int b, int h, int pos,
                      __global const int *block_table, long table_stride, int block_size) {
#if PAGED
  return (long)block_table[(long)b * table_stride + pos / block_size] * sb + (long)h * sh +
         (long)(pos % block_size) * ss;
#else
  return (long)b * sb + (long)h * sh + (long)pos * ss;
#endif
}

__kernel void kv_append(__global const STORAGE(K_SRC) *k_src, long k_off, long k_sb, long k_sh,
                        long k_ss, __global const STORAGE(V_SRC) *v_src, long v_off, long v_sb,
                        long v_sh, long v_ss, __global STORAGE(K_DST) *k_dst, long kd_sb,
                        long kd_sh, long kd_ss, __global STORAGE(V_DST) *v_dst, long vd_sb,
                        long vd_sh, long vd_ss, const int batch, const int heads,
                        const int head_dim, const int v_dim, __global const int *meta,
                        __global const int *block_table, const long table_stride,
                        const int block_size) {
  const int b = get_group_id(2);
  const int t = get_group_id(1) / heads;
  const int h = get_group_id(1) % heads;
  if (t >= meta[2 * batch + b]) return; /* this sequence takes fewer tokens */
  const int pos = meta[batch + b] + t;
  const int lid = get_local_id(0), step = get_local_size(0);

  const long ks = k_off + (long)b * k_sb + (long)h * k_sh + (long)t * k_ss;
  const long kd = cache_row(kd_sb, kd_sh, kd_ss, b, h, pos, block_table, table_stride, block_size);
  for (int d = lid; d < head_dim; d += step) STORE(K_DST, k_dst, kd + d, LOAD(K_SRC, k_src, ks + d));

  const long vs = v_off + (long)b * v_sb + (long)h * v_sh + (long)t * v_ss;
  const long vd = cache_row(vd_sb, vd_sh, vd_ss, b, h, pos, block_table, table_stride, block_size);
  for (int d = lid; d < v_dim; d += step) STORE(V_DST, v_dst, vd + d, LOAD(V_SRC, v_src, vs + d));
}
