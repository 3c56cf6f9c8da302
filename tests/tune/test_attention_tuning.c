/* Attention configurations without a search: the built-in table per device class (fake
 * device info), the mask class of a call, tuning-file attention lines (round trip, malformed
 * lines rejected with their numbers), and what a context does with them: tuned entries are
 * picked before the table, CLATTN_ATTENTION_CONFIG and the override still win, and
 * CLATTN_TUNING=0 ignores them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_config.h"
#include "context.h"
#include "tune_util.h"

static clattn_device_info fake(cl_device_type type, const char *vendor) {
  clattn_device_info info;
  memset(&info, 0, sizeof info);
  info.type = type;
  snprintf(info.vendor, sizeof info.vendor, "%s", vendor);
  info.local_mem_size = 65536;
  info.max_work_group_size = 1024;
  return info;
}

static clattn__attention_key key_of(clattn_dtype t, int d, clattn_tune_masking m) {
  clattn__attention_key k = {{t, t, t}, d, d, m};
  return k;
}

static void check_config(clattn__attention_config c, int rows, int tile_k, int vec, int wg,
                         int v_direct) {
  CHECK_EQ(c.rows, rows);
  CHECK_EQ(c.tile_k, tile_k);
  CHECK_EQ(c.vec, vec);
  CHECK_EQ(c.wg, wg);
  CHECK_EQ(c.v_direct, v_direct);
}

static void test_table(void) {
  const char *source = NULL;
  clattn__attention_key f32 = key_of(CLATTN_F32, 64, CLATTN_TUNE_MASK_NONE);
  clattn__attention_key bf16 = key_of(CLATTN_BF16, 64, CLATTN_TUNE_MASK_CAUSAL);
  clattn__attention_key big = key_of(CLATTN_F32, 256, CLATTN_TUNE_MASK_NONE);
  clattn_device_info cpu = fake(CL_DEVICE_TYPE_CPU, "AuthenticAMD");
  check_config(clattn__attention_table_config(&cpu, &f32, &source), 4, 16, 8, 32, 0);
  CHECK_CONTAINS(source, "measured");
  check_config(clattn__attention_table_config(&cpu, &bf16, NULL), 4, 16, 8, 32, 0);
  check_config(clattn__attention_table_config(&cpu, &big, &source), 2, 16, 8, 32, 0);
  CHECK_CONTAINS(source, "reasoned");
  clattn_device_info nvidia = fake(CL_DEVICE_TYPE_GPU, "NVIDIA Corporation");
  check_config(clattn__attention_table_config(&nvidia, &f32, &source), 1, 32, 4, 128, 0);
  CHECK_CONTAINS(source, "NVIDIA");
  check_config(clattn__attention_table_config(&nvidia, &big, NULL), 1, 16, 4, 128, 0);
  clattn_device_info amd = fake(CL_DEVICE_TYPE_GPU, "Advanced Micro Devices, Inc.");
  check_config(clattn__attention_table_config(&amd, &f32, &source), 1, 32, 4, 256, 0);
  CHECK_CONTAINS(source, "AMD");
  clattn_device_info intel = fake(CL_DEVICE_TYPE_GPU, "Intel(R) Corporation");
  check_config(clattn__attention_table_config(&intel, &f32, &source), 1, 32, 4, 64, 0);
  CHECK_CONTAINS(source, "Intel");
  clattn_device_info other = fake(CL_DEVICE_TYPE_GPU, "ARM");
  check_config(clattn__attention_table_config(&other, &f32, &source), 1, 16, 4, 64, 0);
  clattn_device_info fpga = fake(CL_DEVICE_TYPE_ACCELERATOR, "Intel(R) Corporation");
  check_config(clattn__attention_table_config(&fpga, &f32, &source), 1, 16, 4, 64, 0);
  CHECK_CONTAINS(source, "accelerator");
  clattn_device_info custom = fake(CL_DEVICE_TYPE_CUSTOM, "Acme");
  check_config(clattn__attention_table_config(&custom, &f32, &source), 1, 32, 4, 128, 0);
  /* Every default of the table fits what it is meant for. */
  const clattn_device_info *all[] = {&cpu, &nvidia, &amd, &intel, &other, &fpga, &custom};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    clattn__attention_config c = clattn__attention_table_config(all[i], &f32, NULL);
    CHECK(clattn__attention_config_valid(&c));
    CHECK(clattn__attention_local_bytes(&c, 128, 128) <= 32768 + 8);
  }
}

static void test_key_make(void) {
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  cl_mem none = NULL;
  clattn_tensor q = {none, CLATTN_F32, 0, 0, 0, 0}, k = q, v = q;
  k.dtype = CLATTN_F16;
  v.dtype = CLATTN_BF16;
  const clattn_tensor *t[3] = {&q, &k, &v};
  clattn__attention_key key = clattn__attention_key_make(&desc, 64, 32, t);
  CHECK_EQ(key.masking, CLATTN_TUNE_MASK_NONE);
  CHECK_EQ(key.types[1], CLATTN_F16);
  CHECK_EQ(key.types[2], CLATTN_BF16);
  CHECK_EQ(key.v_dim, 32);
  desc.window_left = 16;
  CHECK_EQ(clattn__attention_key_make(&desc, 64, 64, t).masking, CLATTN_TUNE_MASK_CAUSAL);
  desc.window_left = -1;
  desc.causal = 1;
  CHECK_EQ(clattn__attention_key_make(&desc, 64, 64, t).masking, CLATTN_TUNE_MASK_CAUSAL);
  desc.mask.type = CLATTN_MASK_BOOL;
  CHECK_EQ(clattn__attention_key_make(&desc, 64, 64, t).masking, CLATTN_TUNE_MASK_TENSOR);
}

static const char *const good_lines =
    "# comment\n"
    "attention v1 f32 d64 causal rows=2 tile_k=32 vec=16 wg=16 v_direct=1  # 99.5 GFLOP/s\n"
    "attention v1 f16/f32/bf16 d128 tensor rows=1 tile_k=8 vec=4 wg=64 v_direct=0\n";

static void test_round_trip(void) {
  clattn__tuning_file file, again;
  char messages[1024];
  CHECK_EQ(clattn__tuning_parse(good_lines, &file, messages, sizeof messages), 0);
  CHECK_EQ(file.count, 0);
  CHECK_EQ(file.attention_count, 2);
  const clattn__attention_entry *e = &file.attention[0];
  CHECK_EQ(e->key.head_dim, 64);
  CHECK_EQ(e->key.v_dim, 64);
  CHECK_EQ(e->key.masking, CLATTN_TUNE_MASK_CAUSAL);
  check_config(e->config, 2, 32, 16, 16, 1);
  CHECK(strcmp(e->note, "99.5 GFLOP/s") == 0);
  e = &file.attention[1];
  CHECK_EQ(e->key.types[0], CLATTN_F16);
  CHECK_EQ(e->key.types[1], CLATTN_F32);
  CHECK_EQ(e->key.types[2], CLATTN_BF16);
  CHECK_EQ(e->key.masking, CLATTN_TUNE_MASK_TENSOR);
  char *text = clattn__tuning_format(&file, "header");
  CHECK(text != NULL);
  CHECK_CONTAINS(text, "\nattention v1 f32 d64 causal rows=2 tile_k=32 vec=16 wg=16 v_direct=1"
                       "  # 99.5 GFLOP/s\n");
  CHECK_CONTAINS(text, "\nattention v1 f16/f32/bf16 d128 tensor rows=1 tile_k=8 vec=4 wg=64 "
                       "v_direct=0\n");
  CHECK_EQ(clattn__tuning_parse(text, &again, messages, sizeof messages), 0);
  CHECK_EQ(again.attention_count, 2);
  for (int i = 0; i < 2; i++) {
    CHECK(clattn__attention_key_equal(&again.attention[i].key, &file.attention[i].key));
    CHECK(memcmp(&again.attention[i].config, &file.attention[i].config,
                 sizeof again.attention[i].config) == 0);
    CHECK(strcmp(again.attention[i].note, file.attention[i].note) == 0);
  }
  free(text);
  /* Setting replaces by key and adds new keys. */
  clattn__attention_entry extra = file.attention[0];
  extra.config.rows = 8;
  CHECK_EQ(clattn__tuning_set_attention(&file, &extra), 0);
  CHECK_EQ(file.attention_count, 2);
  CHECK_EQ(file.attention[0].config.rows, 8);
  extra.key.head_dim = extra.key.v_dim = 80;
  CHECK_EQ(clattn__tuning_set_attention(&file, &extra), 0);
  CHECK_EQ(file.attention_count, 3);
}

static void test_malformed(void) {
  static const struct {
    const char *line, *message;
  } cases[] = {
      {"attention", "expected 'attention v1"},
      {"attention v2 f32 d64 none rows=4 tile_k=16 vec=8 wg=32 v_direct=0", "version 'v2'"},
      {"attention v1 f64 d64 none rows=4 tile_k=16 vec=8 wg=32 v_direct=0", "bad storage 'f64'"},
      {"attention v1 f32/f16 d64 none rows=4 tile_k=16 vec=8 wg=32 v_direct=0", "bad storage"},
      {"attention v1 f32 d0 none rows=4 tile_k=16 vec=8 wg=32 v_direct=0", "bad head dimension"},
      {"attention v1 f32 d999 none rows=4 tile_k=16 vec=8 wg=32 v_direct=0", "bad head dim"},
      {"attention v1 f32 64 none rows=4 tile_k=16 vec=8 wg=32 v_direct=0", "bad head dim"},
      {"attention v1 f32 d64 window rows=4 tile_k=16 vec=8 wg=32 v_direct=0", "bad masking"},
      {"attention v1 f32 d64 none rows=4 tile_k=16 vec=8 wg=32", "is not rows=R"},
      {"attention v1 f32 d64 none rows=4 tile_k=16 vec=3 wg=32 v_direct=0", "valid values"},
      {"attention v1 f32 d64 none rows=4 tile_k=12 vec=8 wg=32 v_direct=0", "valid values"},
      {"attention v1 f32 d64 none rows=4 rows=4 vec=8 wg=32 v_direct=0", "is not rows=R"},
      {"attention v1 f32 d64 causal rows=4 tile_k=16 vec=8 wg=32 v_direct=0",
       "f32 d64 causal given again"},
  };
  char text[4096];
  snprintf(text, sizeof text, "%s", good_lines); /* lines 1-3 */
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t used = strlen(text);
    snprintf(text + used, sizeof text - used, "%s\n", cases[i].line);
  }
  clattn__tuning_file file;
  char messages[4096];
  int n = (int)(sizeof cases / sizeof cases[0]);
  CHECK_EQ(clattn__tuning_parse(text, &file, messages, sizeof messages), n);
  CHECK_EQ(file.attention_count, 2);
  for (int i = 0; i < n; i++) {
    char expected[256];
    snprintf(expected, sizeof expected, "line %d: ", 4 + i);
    const char *at = strstr(messages, expected);
    if (!at) check_fail(__FILE__, __LINE__, "no message for line %d in:\n%s", 4 + i, messages);
    const char *eol = strchr(at, '\n');
    char message[512];
    snprintf(message, sizeof message, "%.*s", (int)(eol ? eol - at : (long)strlen(at)), at);
    CHECK_CONTAINS(message, cases[i].message);
  }
}

/* Writes the device's tuning file into `dir`; returns its path (malloc'd). */
static char *write_device_file(clattn_context *ctx, const char *dir, const char *text) {
  clattn_device_info info;
  CHECK_OK(ctx, clattn_context_device_info(ctx, &info));
  char key[17], name[32];
  clattn__tuning_device_key(&info, key);
  snprintf(name, sizeof name, "%s.tune", key);
  CHECK_EQ(clattn__tuning_write(dir, name, text), 0);
  return tu_join(dir, name);
}

static void test_context(void) {
  const char *dir = tu_scratch_dir("context");
  setenv("CLATTN_TUNING_DIR", dir, 1);
  unsetenv("CLATTN_ATTENTION_CONFIG");
  clattn_context *probe = tt_context();
  char text[2048];
  snprintf(text, sizeof text, "%sattention v1 f32 d64 none rows=9\n", good_lines);
  char *path = write_device_file(probe, dir, text);
  clattn_context_destroy(probe);

  clattn_context *ctx = tt_context();
  clattn__tuning_status st = tt_status(ctx);
  CHECK_EQ(st.state, CLATTN__TUNING_APPLIED);
  CHECK_EQ(st.attention_count, 2);
  CHECK_EQ(st.rejected, 1);
  CHECK_CONTAINS(st.note, "line 4: attention: 'rows=9'");
  CHECK_CONTAINS(st.summary, "attention: 2 tuned entries");
  clattn__attention_config c;
  clattn__attention_key tuned = key_of(CLATTN_F32, 64, CLATTN_TUNE_MASK_CAUSAL);
  CHECK_OK(ctx, clattn__attention_pick_config_for(ctx, &tuned, &c));
  check_config(c, 2, 32, 16, 16, 1);
  /* Other maskings, head dimensions, Dv != D and storage types get the table. */
  clattn__attention_config table = clattn__attention_table_config(&ctx->info, &tuned, NULL);
  clattn__attention_key others[4] = {key_of(CLATTN_F32, 64, CLATTN_TUNE_MASK_NONE),
                                     key_of(CLATTN_F32, 80, CLATTN_TUNE_MASK_CAUSAL),
                                     key_of(CLATTN_F16, 64, CLATTN_TUNE_MASK_CAUSAL), tuned};
  others[3].v_dim = 32;
  for (int i = 0; i < 4; i++) {
    CHECK_OK(ctx, clattn__attention_pick_config_for(ctx, &others[i], &c));
    CHECK_EQ(c.rows, table.rows);
    CHECK_EQ(c.vec, table.vec);
  }
  /* CLATTN_ATTENTION_CONFIG wins over the tuned entry (over the table's values), and the
   * override over both. */
  setenv("CLATTN_ATTENTION_CONFIG", "wg=8", 1);
  CHECK_OK(ctx, clattn__attention_pick_config_for(ctx, &tuned, &c));
  check_config(c, table.rows, table.tile_k, table.vec, 8, table.v_direct);
  clattn__attention_config forced = {1, 8, 8, 4, 0};
  CHECK_OK(ctx, clattn__attention_set_override(ctx, &forced));
  CHECK_OK(ctx, clattn__attention_pick_config_for(ctx, &tuned, &c));
  check_config(c, 1, 8, 8, 4, 0);
  CHECK_OK(ctx, clattn__attention_set_override(ctx, NULL));
  unsetenv("CLATTN_ATTENTION_CONFIG");
  clattn_context_destroy(ctx);

  /* Re-tuning CLBlast keeps the attention records. */
  clattn__tuning_file file;
  memset(&file, 0, sizeof file);
  clattn__tuning_keep_attention(path, &file);
  CHECK_EQ(file.attention_count, 2);

  setenv("CLATTN_TUNING", "0", 1);
  ctx = tt_context();
  st = tt_status(ctx);
  CHECK_EQ(st.attention_count, 0);
  CHECK_OK(ctx, clattn__attention_pick_config_for(ctx, &tuned, &c));
  CHECK_EQ(c.rows, table.rows);
  clattn_context_destroy(ctx);
  unsetenv("CLATTN_TUNING");
  free(path);
}

int main(void) {
  test_table();
  test_key_make();
  test_round_trip();
  test_malformed();
  test_context();
  return check_done("test_attention_tuning");
}
