/* The shape part of an attention descriptor, which every test harness sets the same way. */
#ifndef CLATTN_TEST_SHAPES_H
#define CLATTN_TEST_SHAPES_H

#include <clattn.h>
#include <stdint.h>

/* clattn_attention_desc_init, then the seven sizes. */
static inline void test_desc_shape(clattn_attention_desc *d, int64_t batch, int64_t q_heads,
                                   int64_t kv_heads, int64_t q_len, int64_t kv_len,
                                   int64_t head_dim, int64_t v_head_dim) {
  clattn_attention_desc_init(d);
  d->batch = batch;
  d->q_heads = q_heads;
  d->kv_heads = kv_heads;
  d->q_len = q_len;
  d->kv_len = kv_len;
  d->head_dim = head_dim;
  d->v_head_dim = v_head_dim;
}

#endif
