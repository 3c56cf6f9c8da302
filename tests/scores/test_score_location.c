/* clattn_attention_location (s = scale * (W_a h_t)_j) against the double-precision reference. */
#include "score_test.h"

int main(void) {
  attn_env env;
  attn_env_init(&env);
  score_case c;

  static const int32_t kv_lens[2] = {37, 11}, q_lens[2] = {9, 13};
  score_case_init(&c, "location lengths (NaN past them), Dv != D", SCORE_LOCATION, 2, 2, 2, 13, 37,
                  19, 24);
  c.kv_lens = kv_lens;
  c.q_lens = q_lens;
  score_run(&env, &c);

  score_case_init(&c, "location causal, GQA, BSHD, ALiBi, scale 0.5", SCORE_LOCATION, 1, 4, 2, 29,
                  29, 19, 24);
  c.desc.causal = 1;
  c.bshd = 1;
  c.alibi = 1;
  c.desc.scale = 0.5f;
  score_run(&env, &c);

  score_case_init(&c, "location Sq > S, causal top-left, window", SCORE_LOCATION, 2, 2, 2, 40, 17,
                  19, 24);
  c.desc.causal = 1;
  c.desc.window_left = 6;
  score_run(&env, &c);

  score_case_init(&c, "location 3 query rows (split-KV decode path)", SCORE_LOCATION, 1, 2, 2, 3,
                  140, 19, 24);
  c.kv_lens = kv_lens;
  score_run(&env, &c);

  attn_env_destroy(&env);
  return check_done("test_score_location");
}
