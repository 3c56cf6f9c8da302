/* Shared machinery of the local-attention tests: lt_run builds one problem (random normal
 * data in gapped, padded views; K and V rows that no query attends poisoned with 1e30 and
 * NaN; outputs pre-filled with NaN and followed by canaries), runs clattn_attention_local
 * twice (bitwise-equal results expected), and compares O and LSE with local_ref.c under
 * DESIGN.md's tolerances, ending the test on any mismatch. */
#ifndef CLATTN_TEST_LOCAL_HARNESS_H
#define CLATTN_TEST_LOCAL_HARNESS_H

#include <clattn.h>
#include <stdint.h>

#include "attn_harness.h"
#include "local_ref.h"

typedef enum lt_layout {
  LT_BHSD = 0,  /* (B, H, S, D) with 3 unused elements after every row */
  LT_BSHD = 1,  /* (B, S, H, D) likewise */
  LT_SPLIT = 2  /* BHSD with 7 more elements between heads: q's rows are not one matrix */
} lt_layout;

typedef struct lt_case lt_case;
/* Edits the dense inputs q (B,Hq,Sq,D), k (B,Hkv,Skv,D), v (B,Hkv,Skv,Dv) before poisoning. */
typedef void (*lt_poke_fn)(const lt_case *c, float *q, float *k, float *v);

struct lt_case {
  const char *name;
  clattn_attention_desc desc; /* shape and rules; lengths, mask and ALiBi come from below */
  clattn_local_mode mode;
  int64_t window;
  int gaussian;
  const float *positions; /* local-p: host (B, Hq, Sq) p_t, or NULL */
  int64_t p_dim;          /* local-p without positions: random W_p (p_dim x D) and v_p */
  double v_p_sigma;       /* spread of v_p (larger: p_t nearer both edges); 0: 3 */
  const int32_t *kv_lens, *q_lens;
  const float *alibi;         /* Hq slopes, or NULL */
  clattn_mask_type mask_type; /* dense (B, Hq, Sq, Skv) host image in `mask` */
  const void *mask;
  lt_layout layout;
  clattn_dtype kv_type; /* storage of K and V (Q and O float32) */
  int no_lse;
  uint64_t seed;
  lt_poke_fn poke;
  cl_command_queue queue; /* NULL: the context's */
  /* 1: the call waits for a user event, and O must still hold its fill (read through the
   * context's own queue) until the test completes that event. */
  int gated;
  float *o_out; /* non-NULL: receives O densely (B, Hq, Sq, Dv) */
};

/* A case with a shape and the defaults: local-m, window 3, Gaussian on, BHSD, LSE on. */
void lt_case_init(lt_case *c, const char *name, int64_t batch, int64_t q_heads,
                  int64_t kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                  int64_t v_head_dim);

typedef struct lt_report {
  double worst;           /* largest error / tolerance */
  int64_t empty_rows;     /* rows with LSE -inf */
  int64_t nan_rows;       /* rows with LSE NaN */
  int64_t poisoned_keys;  /* K/V rows that held poison */
  int64_t edge_low, edge_high; /* rows whose window was cut at 0 / at S_b - 1 */
} lt_report;

lt_report lt_run(attn_env *env, const lt_case *c);

#endif
