/* Shared machinery of the hard-attention tests:
 *
 *  - a host Philox-4x32-10 and a host copy of cl/hard.cl's Gumbel noise, operation for
 *    operation (fmaf, no contraction), so the noise is reproduced bitwise;
 *  - the host Gumbel-max selection: the fp32 scores as the kernel computes them, the rules
 *    from the double-precision reference (ref_attention_allowed), noise, strict maximum;
 *  - hd_run: one call on real buffers (Q, K, V padded with poison; O filled with NaN inside
 *    its view and canaries in every gap and after its end; indices followed by canaries),
 *    checking that nothing outside the outputs' views changed and that every O row is
 *    exactly the V row of its index (zeros for -1);
 *  - the chi-square p-value (regularized upper incomplete gamma function). */
#ifndef CLATTN_TEST_HARD_SUPPORT_H
#define CLATTN_TEST_HARD_SUPPORT_H

#include <clattn.h>
#include <stdint.h>

#include "attn_harness.h"
#include "hard.h"

/* ---- random numbers of the kernel, on the host ---------------------------------------- */

void hd_philox(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]);
/* -log(-log U), U = (u + 1/2) / 2^24, exactly as cl/hard.cl rounds it (u < 2^24). */
float hd_gumbel_of_bits(uint32_t u);
/* The noise of key j in draw `draw` (offset already added) of row t of head bh. */
float hd_gumbel(uint64_t seed, uint32_t j, uint32_t draw, uint32_t t, uint32_t bh);

/* ---- one problem ----------------------------------------------------------------------- */

typedef struct hd_case hd_case;
/* Edits the dense inputs (q (B,Hq,Sq,D), k (B,Hkv,Skv,D), v (B,Hkv,Skv,Dv)) before upload. */
typedef void (*hd_poke_fn)(const hd_case *c, float *q, float *k, float *v);

struct hd_case {
  const char *name;
  clattn_attention_desc desc; /* shape and rules; lengths, mask, slopes come from below */
  clattn_hard_desc hard;
  clattn_dtype q_type, k_type, v_type, o_type;
  int o_bshd;        /* O in (B, S*draws, H, Dv) order instead of BHSD */
  int64_t o_gap;     /* unused elements after each O row */
  int with_indices;  /* 1: pass an indices buffer */
  const int32_t *kv_lens, *q_lens;
  clattn_mask_type mask_type;
  const void *mask;  /* dense (B, Hq, Sq, Skv) host image: uint8 or float */
  const float *alibi;
  uint64_t data_seed;
  double sigma;      /* of Q and K (V is N(0, 1)) */
  hd_poke_fn poke;
  const clattn__hard_config *config; /* NULL: the library's choice */
  cl_command_queue queue;            /* NULL: the context's */
  cl_uint num_wait;                  /* the call's wait list */
  const cl_event *wait;
  /* Called between the enqueue and the wait for its event (NULL: nothing). */
  void (*after_enqueue)(const hd_case *c, cl_event done);
};

/* Defaults: f32, BHSD, gap 2, indices on, SAMPLE with 1 draw, seed 1, sigma 1. */
void hd_case_init(hd_case *c, const char *name, int64_t batch, int64_t q_heads,
                  int64_t kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                  int64_t v_head_dim);

/* Host data: dense inputs rounded to their storage types. */
typedef struct hd_data {
  float *q, *k, *v;
} hd_data;

void hd_data_make(const hd_case *c, hd_data *data);
void hd_data_free(hd_data *data);

/* What a call produced: indices (B, Hq, Sq, draws) and O as dense (B, Hq, Sq*draws, Dv). */
typedef struct hd_result {
  int32_t *indices;
  float *o;
} hd_result;

/* Runs the case once on `data`, checks canaries, gaps, NaN fill and that O row r holds the
 * V row of indices[r] (zeros for -1; NaN rows only when nan_rows is 1). Ends the test on any
 * failure. */
void hd_run(attn_env *env, const hd_case *c, const hd_data *data, int nan_rows, hd_result *r);
void hd_result_free(hd_result *r);
/* 1 when two results are bitwise equal. */
int hd_result_equal(const hd_case *c, const hd_result *a, const hd_result *b);

/* The reference problem of a case (rules, lengths, mask, slopes and data). */
void hd_ref(const hd_case *c, const hd_data *data, ref_attention *p);

/* The host Gumbel-max choice of draw d (before the offset) of row t of (b, h): -1 for an
 * empty row; *margin gets the gap between the best and second-best perturbed scores
 * (INFINITY with one candidate). NaN scores: the first NaN key (and *margin NaN). */
int hd_choice(const hd_case *c, const hd_data *data, int64_t b, int64_t h, int64_t t,
              int64_t d, float *margin);

/* The fp32 score of (b, h, t, j) as the kernel computes it (no masks). */
float hd_score(const hd_case *c, const hd_data *data, int64_t b, int64_t h, int64_t t,
               int64_t j);

/* P(X >= x) for X chi-square with `dof` degrees of freedom. */
double hd_chi2_pvalue(double x, double dof);

#endif
