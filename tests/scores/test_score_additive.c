/* clattn_attention_additive (s = scale * v^T tanh(W1 q + W2 k)) against the double-precision
 * reference, with A below, at and above the kernel's chunk of features (64). */
#include <stdlib.h>

#include "score_test.h"

int main(void) {
  attn_env env;
  attn_env_init(&env);
  score_case c;

  score_case_init(&c, "additive A=1, Sq < Skv, q_dim != D", SCORE_ADDITIVE, 2, 2, 2, 13, 37, 24, 20);
  c.attn_dim = 1;
  c.q_dim = 11;
  score_run(&env, &c);

  score_case_init(&c, "additive A=7, Sq > Skv, GQA, causal bottom-right, BSHD", SCORE_ADDITIVE, 1,
                  4, 2, 41, 19, 24, 20);
  c.attn_dim = 7;
  c.desc.causal = 1;
  c.desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  c.bshd = 1;
  score_run(&env, &c);

  static const int32_t kv_lens[2] = {30, 7}, q_lens[2] = {21, 12};
  score_case_init(&c, "additive A=64, lengths (NaN past them), bool mask", SCORE_ADDITIVE, 2, 2, 1,
                  21, 45, 24, 20);
  c.attn_dim = 64;
  c.kv_lens = kv_lens;
  c.q_lens = q_lens;
  c.bool_mask = 1;
  score_run(&env, &c);

  score_case_init(&c, "additive A=100 (two chunks), ALiBi, window, scale 0.7", SCORE_ADDITIVE, 1, 2,
                  2, 33, 50, 24, 20);
  c.attn_dim = 100;
  c.alibi = 1;
  c.desc.window_left = 9;
  c.desc.window_right = 4;
  c.desc.scale = 0.7f;
  score_run(&env, &c);

  /* A GPU-style shape (one row per work-item, many work-items, narrower vectors). */
  if (setenv("CLATTN_ADDITIVE_CONFIG", "rows=1,tile_k=32,vec=4,wg=16", 1) != 0)
    check_fail(__FILE__, __LINE__, "setenv failed");
  score_case_init(&c, "additive A=100, GPU-style config, lengths, mask", SCORE_ADDITIVE, 2, 2, 1,
                  21, 45, 24, 20);
  c.attn_dim = 100;
  c.kv_lens = kv_lens;
  c.q_lens = q_lens;
  c.bool_mask = 1;
  c.desc.causal = 1;
  score_run(&env, &c);
  unsetenv("CLATTN_ADDITIVE_CONFIG");

  attn_env_destroy(&env);
  return check_done("test_score_additive");
}
