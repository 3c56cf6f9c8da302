/* Attention forward on random normal data against the double-precision reference: head
 * dimensions and sequence lengths that miss every tile size, Sq != Skv both ways, D != Dv,
 * GQA and MQA, explicit scale and softcap, LSE, under CPU-style and GPU-style kernel
 * configurations. Every case also checks canaries around O and LSE and that a second run is
 * bitwise identical (attn_run). */
#include <stdio.h>
#include <string.h>

#include "attn_harness.h"

typedef struct shape {
  const char *name;
  int64_t B, Hq, Hkv, Sq, Skv, D, Dv;
  const clattn__attention_config *config;
} shape;

/* Q = 0: every attended key has score 0, so O is the plain mean of V and LSE = log(n). */
static void poke_zero_q(const attn_case *c, float *q, float *k, float *v) {
  (void)k;
  (void)v;
  const clattn_attention_desc *d = &c->desc;
  memset(q, 0, (size_t)(d->batch * d->q_heads * d->q_len * d->head_dim) * sizeof *q);
}

/* One-hot V (key j has 1 in feature j % Dv) and integer-valued Q and K in -2 .. 2. */
static void poke_one_hot(const attn_case *c, float *q, float *k, float *v) {
  const clattn_attention_desc *d = &c->desc;
  const int64_t Dv = d->v_head_dim ? d->v_head_dim : d->head_dim;
  const int64_t nq = d->batch * d->q_heads * d->q_len * d->head_dim;
  const int64_t nk = d->batch * d->kv_heads * d->kv_len * d->head_dim;
  for (int64_t i = 0; i < nq; i++) q[i] = (float)((i * 7 + 3) % 5 - 2);
  for (int64_t i = 0; i < nk; i++) k[i] = (float)((i * 11 + 1) % 5 - 2);
  for (int64_t r = 0; r < d->batch * d->kv_heads * d->kv_len; r++)
    for (int64_t e = 0; e < Dv; e++) v[r * Dv + e] = e == (r % d->kv_len) % Dv ? 1.0f : 0.0f;
}

int main(void) {
  /* What clattn picks for GPUs (attention_config.c): 128 work-items of one row each. */
  static const clattn__attention_config gpu_default = {1, 32, 4, 128, 0};
  attn_env env;
  attn_env_init(&env);
  const shape shapes[] = {
      {"D1 Sq17 Skv113", 2, 2, 2, 17, 113, 1, 1, &ATTN_CPU},
      {"D8 Sq113 Skv17", 2, 3, 3, 113, 17, 8, 8, &ATTN_GPU},
      {"D40 Sq203 Skv1024", 1, 1, 1, 203, 1024, 40, 40, &ATTN_CPU},
      {"D59 Sq2 Skv203", 3, 2, 2, 2, 203, 59, 59, &ATTN_VEC1},
      {"D64 Sq1024 Skv1023", 1, 2, 2, 1024, 1023, 64, 64, &ATTN_CPU},
      {"D64 Sq1023 Skv1024", 1, 1, 1, 1023, 1024, 64, 64, &ATTN_GPU},
      {"D80 Sq1 Skv1024", 2, 4, 4, 1, 1024, 80, 80, &ATTN_GPU},
      {"D128 Sq1023 Skv113", 1, 2, 2, 1023, 113, 128, 128, &ATTN_GPU2},
      {"D256 Sq113 Skv203", 1, 2, 2, 113, 203, 256, 256, &ATTN_CPU},
      {"D64 Sq1 Skv1", 2, 2, 2, 1, 1, 64, 64, &ATTN_CPU},
      {"D64 Sq2 Skv1", 1, 3, 3, 2, 1, 64, 64, &ATTN_GPU},
      {"D64 Sq17 Skv2", 2, 1, 1, 17, 2, 64, 64, &ATTN_CPU},
      {"D64 Dv40 Sq113 Skv203", 2, 2, 2, 113, 203, 64, 40, &ATTN_GPU2},
      {"D40 Dv128 Sq203 Skv17", 1, 2, 2, 203, 17, 40, 128, &ATTN_CPU},
      {"D256 Dv8 Sq17 Skv203", 1, 2, 2, 17, 203, 256, 8, &ATTN_GPU},
      {"GQA 8/2 D64 Sq113 Skv203", 2, 8, 2, 113, 203, 64, 64, &ATTN_CPU},
      {"GQA 8/2 D64 Sq203 Skv113", 1, 8, 2, 203, 113, 64, 64, &ATTN_GPU},
      {"MQA 4/1 D64 Sq17 Skv1023", 2, 4, 1, 17, 1023, 64, 64, &ATTN_CPU},
      {"MQA 8/1 D64 Sq113 Skv113", 1, 8, 1, 113, 113, 64, 64, &ATTN_GPU},
      {"default config D64 Sq203 Skv113", 1, 2, 2, 203, 113, 64, 64, NULL},
      {"direct V: D59 Dv37 Sq113 Skv203", 2, 2, 1, 113, 203, 59, 37, &ATTN_DIRECT},
      {"direct V: D64 Sq1023 Skv1024 GQA", 1, 4, 2, 1023, 1024, 64, 64, &ATTN_DIRECT},
      {"D512 (CLATTN_MAX_HEAD_DIM) Sq113 Skv203", 1, 2, 2, 113, 203, 512, 512, &ATTN_GPU},
      {"GPU default wg128 D128 Sq203 Skv1024", 1, 2, 2, 203, 1024, 128, 128, &gpu_default},
  };
  printf("shapes:\n");
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    const shape *s = &shapes[i];
    attn_case c;
    attn_case_init(&c, s->name, s->B, s->Hq, s->Hkv, s->Sq, s->Skv, s->D, s->Dv);
    c.config = s->config;
    c.no_repeat = s->Sq * s->Skv > 200000; /* the big ones: determinism is checked elsewhere */
    attn_run(&env, &c);
  }

  printf("scale and softcap:\n");
  {
    attn_case c;
    attn_case_init(&c, "scale 0.3 D64 Sq113 Skv203", 2, 2, 2, 113, 203, 64, 64);
    c.desc.scale = 0.3f;
    c.config = &ATTN_CPU;
    attn_run(&env, &c);
    c.config = &ATTN_GPU;
    attn_run(&env, &c);
    attn_case_init(&c, "scale -0.2 D64 Sq17 Skv203", 2, 2, 2, 17, 203, 64, 64);
    c.desc.scale = -0.2f;
    c.config = &ATTN_CPU;
    attn_run(&env, &c);
    attn_case_init(&c, "softcap 2 scale 1 D64 Sq113 Skv203", 2, 2, 2, 113, 203, 64, 64);
    c.desc.scale = 1.0f;
    c.desc.softcap = 2.0f; /* scores ~ N(0, 64): the cap matters */
    c.config = &ATTN_CPU;
    attn_run(&env, &c);
    c.config = &ATTN_GPU;
    attn_run(&env, &c);
    attn_case_init(&c, "softcap 30 D64 Sq17 Skv1023", 1, 2, 2, 17, 1023, 64, 64);
    c.desc.softcap = 30.0f;
    c.sigma = 3.0;
    c.config = &ATTN_GPU2;
    attn_run(&env, &c);
    /* Sharp softmax: Q, K ~ N(0, 2.3^2), scores ~ N(0, 5^2) (up to ~25). fp32 rounds a
     * score of magnitude |s| by ~|s| * 6e-8, so much sharper scores exceed the fp32 budget of
     * DESIGN.md by rounding alone (scores ~ N(0, 9^2) reach error/tolerance ~1.5). */
    attn_case_init(&c, "sharp scores D128 Sq1023 Skv113", 1, 2, 2, 1023, 113, 128, 128);
    c.desc.scale = 0.085f;
    c.sigma = 2.3;
    c.config = &ATTN_GPU2;
    attn_run(&env, &c);
  }

  printf("exact data:\n");
  {
    attn_case c;
    attn_case_init(&c, "Q = 0: uniform weights, causal", 2, 2, 2, 113, 203, 64, 64);
    c.desc.causal = 1;
    c.poke = poke_zero_q;
    c.config = &ATTN_CPU;
    attn_run(&env, &c);
    c.config = &ATTN_GPU;
    attn_run(&env, &c);
    attn_case_init(&c, "one-hot V, integer Q and K, scale 0.25", 2, 2, 2, 113, 203, 64, 64);
    c.desc.scale = 0.25f;
    c.poke = poke_one_hot;
    c.config = &ATTN_CPU;
    attn_run(&env, &c);
    c.config = &ATTN_GPU;
    attn_run(&env, &c);
  }

  attn_env_destroy(&env);
  return check_done("test_attention_basic");
}
