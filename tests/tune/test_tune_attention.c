/* A real attention search, kept tiny (one entry, two candidates, S=96): it validates and
 * times candidates, reports progress, writes the winner (or, when nothing beat the default
 * on this run, the test writes the best candidate itself: speed is never asserted), and a new
 * context picks the tuned configuration from the file and computes attention that matches the
 * double-precision reference of tests/ref on every element. Also: bad options. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attention_config.h"
#include "attention_ref.h"
#include "context.h"
#include "ref_random.h"
#include "tune_util.h"

#define D 40
#define SEQ 96

typedef struct progress_log {
  int calls, last_step, last_total;
} progress_log;

static void on_progress(void *user, int step, int total, const char *entry, const char *config,
                        double gflops, double seconds) {
  progress_log *log = user;
  log->calls++;
  if (step != log->last_step + 1 || strcmp(entry, "f32 d40 causal") != 0 || !config[0] ||
      gflops < 0.0 || seconds < 0.0)
    check_fail(__FILE__, __LINE__, "progress %d/%d %s %s %g %g", step, total, entry, config,
               gflops, seconds);
  log->last_step = step;
  log->last_total = total;
}

/* Causal attention, B=1, H=2, Sq=SEQ, Skv=SEQ+13 (bottom-right), f32, checked element by
 * element against the reference, with a canary after O. */
static void check_attention(clattn_context *ctx) {
  const int64_t heads = 2, sq = SEQ, skv = SEQ + 13, canary = 64;
  size_t nq = (size_t)(heads * sq * D), nk = (size_t)(heads * skv * D);
  float *q = malloc(nq * sizeof *q), *k = malloc(nk * sizeof *k), *v = malloc(nk * sizeof *v);
  float *o = malloc((nq + canary) * sizeof *o);
  double *ref = malloc(nq * sizeof *ref);
  CHECK(q && k && v && o && ref);
  ref_rng rng;
  ref_rng_seed(&rng, 42);
  ref_rng_fill_normal(&rng, q, nq, 1.0);
  ref_rng_fill_normal(&rng, k, nk, 1.0);
  ref_rng_fill_normal(&rng, v, nk, 1.0);
  for (size_t i = 0; i < nq + canary; i++) o[i] = i < nq ? NAN : 555.0f;
  cl_context cl_ctx = clattn_context_cl_context(ctx);
  cl_int err = CL_SUCCESS;
  cl_mem bq = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, nq * 4, q, &err);
  CHECK_CL(err);
  cl_mem bk = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, nk * 4, k, &err);
  CHECK_CL(err);
  cl_mem bv = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, nk * 4, v, &err);
  CHECK_CL(err);
  cl_mem bo = clCreateBuffer(cl_ctx, CL_MEM_COPY_HOST_PTR, (nq + canary) * 4, o, &err);
  CHECK_CL(err);
  clattn_attention_desc desc;
  clattn_attention_desc_init(&desc);
  desc.batch = 1;
  desc.q_heads = desc.kv_heads = heads;
  desc.q_len = sq;
  desc.kv_len = skv;
  desc.head_dim = D;
  desc.causal = 1;
  desc.alignment = CLATTN_ALIGN_BOTTOM_RIGHT;
  clattn_tensor tq = {bq, CLATTN_F32, 0, heads * sq * D, sq * D, D};
  clattn_tensor tk = {bk, CLATTN_F32, 0, heads * skv * D, skv * D, D}, tv = tk, to = tq;
  tv.buffer = bv;
  to.buffer = bo;
  CHECK_OK(ctx, clattn_attention_forward(ctx, NULL, &desc, &tq, &tk, &tv, &to, NULL, 0, NULL,
                                         NULL));
  CHECK_CL(clEnqueueReadBuffer(clattn_context_queue(ctx), bo, CL_TRUE, 0, (nq + canary) * 4, o,
                               0, NULL, NULL));
  ref_attention p;
  ref_attention_init(&p, 1, heads, heads, sq, skv, D, D);
  ref_attention_from_desc(&p, &desc);
  p.q = q;
  p.k = k;
  p.v = v;
  CHECK_EQ(ref_attention_forward(&p, ref, NULL), 0);
  for (size_t i = 0; i < nq; i++)
    if (!(fabs(o[i] - ref[i]) <= 1e-5 + 1e-4 * fabs(ref[i])))
      check_fail(__FILE__, __LINE__, "O[%zu] = %.9g, expected %.9g", i, o[i], ref[i]);
  for (size_t i = nq; i < nq + canary; i++)
    if (o[i] != 555.0f) check_fail(__FILE__, __LINE__, "canary %zu overwritten", i - nq);
  check_pass();
  cl_mem buffers[] = {bq, bk, bv, bo};
  for (int i = 0; i < 4; i++) clReleaseMemObject(buffers[i]);
  free(q);
  free(k);
  free(v);
  free(o);
  free(ref);
}

static void test_search(void) {
  const char *dir = tu_scratch_dir("search");
  setenv("CLATTN_TUNING_DIR", dir, 1);
  clattn_context *ctx = tt_context();
  clattn_attention_tune_options options;
  clattn_attention_tune_options_init(&options);
  options.quick = 1;
  options.dtypes = 1u << CLATTN_F32;
  options.head_dims[0] = D;
  options.maskings = 1u << CLATTN_TUNE_MASK_CAUSAL;
  options.seq_len = SEQ;
  options.max_candidates = 2;
  options.repeats = 2;
  progress_log log = {0, 0, 0};
  options.progress = on_progress;
  options.user = &log;
  clattn_attention_tune_result *result = calloc(1, sizeof *result);
  CHECK(result != NULL);
  CHECK_OK(ctx, clattn_tune_attention(ctx, &options, result));
  CHECK_EQ(result->count, 1);
  const clattn_attention_tune_entry *e = &result->entries[0];
  printf("default %.2f GFLOP/s (%s), best %.2f (%s), kept %d\n", e->default_gflops,
         e->default_config, e->tuned_gflops, e->config, e->stored);
  CHECK_EQ(e->head_dim, D);
  CHECK_EQ(e->masking, CLATTN_TUNE_MASK_CAUSAL);
  CHECK_EQ(e->candidates_tried, 2);
  CHECK_EQ(e->candidates_failed, 0);
  CHECK(e->default_gflops > 0.0 && e->tuned_gflops > 0.0);
  CHECK_EQ(log.calls, 2);
  CHECK_EQ(log.last_total, 2);
  clattn__attention_config best = clattn__attention_default_config(ctx);
  CHECK_EQ(clattn__attention_config_parse(e->config, &best), 0);
  clattn__attention_key key = {{CLATTN_F32, CLATTN_F32, CLATTN_F32}, D, D,
                               CLATTN_TUNE_MASK_CAUSAL};
  clattn__attention_config picked;
  if (e->stored) {
    CHECK(result->file[0] != '\0');
    CHECK_OK(ctx, clattn__attention_pick_config_for(ctx, &key, &picked)); /* in force now */
    CHECK_EQ(picked.rows, best.rows);
  } else {
    CHECK(result->file[0] == '\0');
    clattn__tuning_status st = tt_status(ctx);
    clattn__tuning_file file;
    memset(&file, 0, sizeof file);
    clattn__attention_entry entry = {key, best, "written by the test"};
    clattn__tuning_set_attention(&file, &entry);
    char *text = clattn__tuning_format(&file, "test");
    const char *slash = strrchr(st.path, '/');
    CHECK(text && slash && clattn__tuning_write(dir, slash + 1, text) == 0);
    free(text);
  }
  clattn_context_destroy(ctx);
  free(result);

  ctx = tt_context();
  CHECK_OK(ctx, clattn__attention_pick_config_for(ctx, &key, &picked));
  CHECK(memcmp(&picked, &best, sizeof best) == 0);
  check_attention(ctx);
  clattn_context_destroy(ctx);
}

static void test_bad_options(void) {
  clattn_context *ctx = tt_context();
  clattn_attention_tune_options o;
  clattn_attention_tune_result *r = calloc(1, sizeof *r);
  CHECK(r != NULL);
  CHECK_STATUS(ctx, clattn_tune_attention(ctx, NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_STATUS(NULL, clattn_tune_attention(NULL, NULL, r), CLATTN_INVALID_ARGUMENT);
  clattn_attention_tune_options_init(&o);
  o.seq_len = 10;
  CHECK_STATUS(ctx, clattn_tune_attention(ctx, &o, r), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "seq_len");
  clattn_attention_tune_options_init(&o);
  o.dtypes = 8;
  CHECK_STATUS(ctx, clattn_tune_attention(ctx, &o, r), CLATTN_INVALID_ARGUMENT);
  clattn_attention_tune_options_init(&o);
  o.head_dims[0] = 1000;
  CHECK_STATUS(ctx, clattn_tune_attention(ctx, &o, r), CLATTN_INVALID_ARGUMENT);
  clattn_attention_tune_options_init(&o);
  for (int i = 0; i < 8; i++) o.head_dims[i] = 8 * (i + 1); /* 3 x 8 x 3 = 72 entries */
  CHECK_STATUS(ctx, clattn_tune_attention(ctx, &o, r), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "entries");
  free(r);
  clattn_context_destroy(ctx);
}

int main(void) {
  test_bad_options();
  test_search();
  return check_done("test_tune_attention");
}
