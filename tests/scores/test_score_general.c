/* clattn_attention_general (s = scale * q^T W k) against the double-precision reference. */
#include "score_test.h"

int main(void) {
  attn_env env;
  attn_env_init(&env);
  score_case c;

  score_case_init(&c, "general Sq < Skv, q_dim != D", SCORE_GENERAL, 2, 2, 2, 13, 37, 24, 0);
  c.q_dim = 19;
  score_run(&env, &c);

  score_case_init(&c, "general Sq > Skv, GQA, causal bottom-right, BSHD, ALiBi", SCORE_GENERAL,
                  1, 4, 2, 41, 19, 24, 0);
  c.q_dim = 33;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.bshd = 1;
  c.alibi = 1;
  score_run(&env, &c);

  static const int32_t kv_lens[2] = {30, 7}, q_lens[2] = {21, 12};
  score_case_init(&c, "general lengths (NaN past them), bool mask, scale 1", SCORE_GENERAL, 2, 2,
                  1, 21, 45, 24, 0);
  c.q_dim = 8;
  c.kv_lens = kv_lens;
  c.q_lens = q_lens;
  c.bool_mask = 1;
  c.desc.scale = 1.0f / 8.0f;
  score_run(&env, &c);

  score_case_init(&c, "general one query row (split-KV decode path)", SCORE_GENERAL, 2, 2, 2, 1,
                  150, 24, 0);
  c.q_dim = 40;
  score_run(&env, &c);

  attn_env_destroy(&env);
  return check_done("test_score_general");
}
