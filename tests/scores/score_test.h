/* Test runner of the classic score functions: builds one problem (normal random data in real
 * buffers behind strided views, NaN in every gap and at masked K/V/Q positions, a canary value
 * around every output), runs clattn_attention_general / _additive / _location, compares O and
 * LSE with score_ref under DESIGN.md's tolerances, runs it again expecting bitwise-equal
 * output, and ends the test on any mismatch. */
#ifndef CLATTN_TEST_SCORE_TEST_H
#define CLATTN_TEST_SCORE_TEST_H

#include "attn_harness.h"
#include "score_ref.h"

typedef struct score_case {
  const char *name;
  score_kind kind;
  clattn_attention_desc desc;  /* shape and rules; lengths, mask and ALiBi come from below */
  int64_t q_dim;               /* general, additive: features of q (0: D) */
  int64_t attn_dim;            /* additive: A */
  const int32_t *kv_lens, *q_lens; /* host, B entries, or NULL; masked K/V/Q rows hold NaN */
  int bool_mask;   /* 1: a random bool mask whose key 1 of batch 0 is masked for every row
                    * (K and V hold NaN there) */
  int alibi;       /* 1: ALiBi with clattn_alibi_slopes(Hq) */
  int bshd;        /* 1: q, k, v and o in (B, S, H, D) order, so the GEMM rows of q are not
                    * one matrix */
  uint64_t seed;
} score_case;

void score_case_init(score_case *c, const char *name, score_kind kind, int64_t batch,
                     int64_t q_heads, int64_t kv_heads, int64_t q_len, int64_t kv_len,
                     int64_t head_dim, int64_t v_head_dim);

/* Runs and checks one case on `queue` (NULL: the context's); returns the worst error ratio. */
double score_run(attn_env *env, const score_case *c);

/* Buffers for hand-made calls (errors, queues): a view's image filled with NaN around the
 * data; `data` NULL leaves NaN everywhere. */
typedef struct score_tensor {
  cl_mem buffer;
  clattn_tensor view;
  size_t floats; /* of the whole buffer */
} score_tensor;
score_tensor score_tensor_make(attn_env *env, const float *dense, int64_t batch, int64_t heads,
                               int64_t seq, int64_t dim, int bshd);
void score_tensor_release(score_tensor *t);
/* Reads a view back into dense BHSD order; checks that everything outside it is untouched. */
void score_tensor_read(attn_env *env, const score_tensor *t, int64_t batch, int64_t heads,
                       int64_t seq, int64_t dim, float *dense);

#endif
