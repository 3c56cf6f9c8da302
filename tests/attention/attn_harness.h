/* Shared machinery of the attention tests: a context, the kernel configurations to
 * exercise, and attn_run, which builds one problem (random normal data laid out in real
 * buffers through views, poison in every gap, canaries around every output), runs
 * clattn_attention_forward, and compares O and LSE with the double-precision reference of
 * tests/ref under DESIGN.md's tolerances, ending the test on any mismatch. */
#ifndef CLATTN_TEST_ATTN_HARNESS_H
#define CLATTN_TEST_ATTN_HARNESS_H

#include <clattn.h>
#include <stdint.h>

#include "attention_config.h"
#include "attention_ref.h"
#include "check.h"
#include "ref_dtype.h"
#include "ref_random.h"

/* DESIGN.md, "Tolerances": |y - ref| <= ATOL + RTOL * |ref| (fp32), plus one ulp of the
 * storage type for f16/bf16 outputs. */
#define ATTN_ATOL 1e-5
#define ATTN_RTOL 1e-4

typedef struct attn_env {
  clattn_context *ctx;
  cl_context cl;
  cl_device_id device;
  cl_command_queue queue;
} attn_env;

/* Creates a context on the default device (ends the test when there is none). */
void attn_env_init(attn_env *env);
void attn_env_destroy(attn_env *env);

/* Kernel configurations: the CPU default and GPU-style ones (one row per work-item, many
 * work-items, local-memory tiles), and a scalar (vec 1) one. */
extern const clattn__attention_config ATTN_CPU;   /* {4, 16, 8, 8} */
extern const clattn__attention_config ATTN_GPU;   /* {1, 32, 4, 64} */
extern const clattn__attention_config ATTN_GPU2;  /* {2, 16, 4, 32} */
extern const clattn__attention_config ATTN_VEC1;  /* {1, 8, 1, 16} */
extern const clattn__attention_config ATTN_DIRECT; /* {4, 16, 8, 8}, V read from global memory */
/* "cpu", "gpu", ... for messages. */
const char *attn_config_name(const clattn__attention_config *config);

typedef enum attn_layout {
  ATTN_BHSD = 0,  /* separate Q, K, V buffers in (B, H, S, D) order; O likewise */
  ATTN_BSHD = 1,  /* separate buffers in (B, S, H, D) order; O likewise */
  ATTN_PACKED = 2 /* one buffer (B, S, Hq*D + Hkv*D + Hkv*Dv) holding q, k, v per token
                   * (a fused QKV projection's output); needs Sq = Skv and one dtype; O BSHD */
} attn_layout;

typedef struct attn_case attn_case;
/* Edits the dense logical inputs (BHSD: q (B,Hq,Sq,D), k (B,Hkv,Skv,D), v (B,Hkv,Skv,Dv))
 * before they are stored, e.g. to plant NaN. */
typedef void (*attn_poke_fn)(const attn_case *c, float *q, float *k, float *v);

struct attn_case {
  const char *name;
  clattn_attention_desc desc; /* shape and options; lengths and mask come from below */
  clattn_dtype q_type, k_type, v_type, o_type;
  attn_layout layout;
  const clattn__attention_config *config; /* NULL: the library's choice */
  int lse;                      /* 1: request and check the LSE output */
  int64_t o_gap;                /* unused elements between rows of O (and of LSE) */
  uint64_t pad;                 /* elements before every view and after its end */
  int broadcast_kv_batch;       /* K and V with stride_batch 0 */
  const int32_t *kv_lens, *q_lens; /* host copies, B entries, or NULL */
  clattn_mask_type mask_type;   /* the mask tensor: its whole buffer image on the host */
  const void *mask;
  size_t mask_bytes;
  uint64_t mask_offset;
  int64_t mask_stride_batch, mask_stride_head, mask_stride_query;
  const float *alibi;           /* ALiBi: Hq host slopes, copied to desc.alibi_slopes; or NULL */
  uint64_t seed;
  double sigma;       /* standard deviation of Q and K (1 by default); V is N(0, 1) */
  attn_poke_fn poke;  /* NULL: none */
  const void *user;   /* for poke */
  int no_repeat;      /* 1: skip the second, bitwise-compared run */
};

/* A case with a shape and the defaults: f32 everywhere, BHSD, library config, LSE on,
 * O rows gapped by 3 elements, pad 5, seed derived from the shape. */
void attn_case_init(attn_case *c, const char *name, int64_t batch, int64_t q_heads,
                    int64_t kv_heads, int64_t q_len, int64_t kv_len, int64_t head_dim,
                    int64_t v_head_dim);

typedef struct attn_report {
  double worst_o, worst_lse; /* largest error / tolerance */
  int64_t nan_o, inf_o;      /* non-finite outputs (matched with the reference) */
  int64_t nan_lse, empty_rows;
} attn_report;

/* Runs and checks one case (twice unless no_repeat, expecting bitwise-equal results);
 * prints one line with the worst error ratios. Ends the test on any failure. */
attn_report attn_run(attn_env *env, const attn_case *c);

/* Compares one output value (stored as `dtype`) with the reference; returns 1 when within
 * tolerance (NaN/inf matched exactly) and writes error / tolerance to *ratio. */
int attn_compare_value(clattn_dtype dtype, float y, double ref, double *ratio);

/* Makes a buffer holding a copy of `bytes` bytes at `data` (ends the test on failure). */
cl_mem attn_buffer(attn_env *env, const void *data, size_t bytes);
/* Reads a whole buffer into `out` (blocking). */
void attn_read(attn_env *env, cl_mem buffer, void *out, size_t bytes);

#endif
