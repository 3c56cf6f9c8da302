/* Threads sharing one context. Four threads, each with its own queue, start together on a
 * context whose disk cache directory is new (a cold cache: nothing in memory or on disk):
 * all first run the same call (so they build and write the same variant at the same
 * moment), then calls of their own (shapes, storage types, split-KV decode, attention
 * weights, ALiBi), twice. Every result must be bitwise equal to the same call run by one
 * thread on a second context with its own cold cache, and within tolerance of the fp64
 * reference. Afterwards a third context on the threads' cache directory loads every
 * variant from disk (no build, no reject) and gives the same bits again. Also run under
 * ThreadSanitizer (the `tsan` preset). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "rel_jobs.h"
#include "testutil.h"

enum { THREADS = 4, PASSES = 2, MAX_JOBS = 8 };

typedef struct worker {
  int index;
  clattn_context *ctx;
  pthread_barrier_t *start;
  size_t jobs[MAX_JOBS], job_count;
  rel_result results[PASSES][MAX_JOBS];
  char error[256];
} worker;

/* Thread t runs job 0, then the jobs j >= 1 with (j - 1) % THREADS == t. */
static void assign(worker *w) {
  w->jobs[w->job_count++] = 0;
  for (size_t j = 1; j < rel_job_count; j++)
    if ((j - 1) % THREADS == (size_t)w->index) w->jobs[w->job_count++] = j;
}

static void *work(void *arg) {
  worker *w = arg;
  cl_int err;
  cl_command_queue queue = clCreateCommandQueue(clattn_context_cl_context(w->ctx),
                                                clattn_context_cl_device(w->ctx), 0, &err);
  pthread_barrier_wait(w->start);
  if (!queue) {
    snprintf(w->error, sizeof w->error, "clCreateCommandQueue: %s", clattn_cl_error_name(err));
    return NULL;
  }
  for (int pass = 0; pass < PASSES; pass++)
    for (size_t i = 0; i < w->job_count; i++)
      rel_job_run(w->ctx, queue, &rel_jobs[w->jobs[i]], &w->results[pass][i]);
  clReleaseCommandQueue(queue);
  return NULL;
}

static clattn_context *open_context(const char *cache_dir) {
  clattn_context_options options = tu_options(cache_dir, 1);
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &ctx));
  return ctx;
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (rel_job_count > MAX_JOBS) check_fail(__FILE__, __LINE__, "MAX_JOBS is too small");
  const char *threads_dir = tu_scratch_dir("threads-cache");
  const char *single_dir = tu_scratch_dir("single-cache");

  printf("%d threads, one context, cold cache:\n", THREADS);
  clattn_context *ctx = open_context(threads_dir);
  pthread_barrier_t start;
  CHECK_EQ(pthread_barrier_init(&start, NULL, THREADS), 0);
  static worker workers[THREADS];
  pthread_t threads[THREADS];
  for (int t = 0; t < THREADS; t++) {
    workers[t].index = t;
    workers[t].ctx = ctx;
    workers[t].start = &start;
    assign(&workers[t]);
    CHECK_EQ(pthread_create(&threads[t], NULL, work, &workers[t]), 0);
  }
  for (int t = 0; t < THREADS; t++) CHECK_EQ(pthread_join(threads[t], NULL), 0);
  pthread_barrier_destroy(&start);

  /* Then one thread, its own cold cache: what the threads must have
   * computed. */
  printf("one thread, cold cache:\n");
  clattn_context *single = open_context(single_dir);
  rel_result expected[MAX_JOBS];
  for (size_t j = 0; j < rel_job_count; j++) {
    rel_job_run(single, NULL, &rel_jobs[j], &expected[j]);
    rel_job_check(&rel_jobs[j], &expected[j]);
  }
  clattn_context_destroy(single);

  for (int t = 0; t < THREADS; t++) {
    worker *w = &workers[t];
    if (w->error[0]) check_fail(__FILE__, __LINE__, "thread %d: %s", t, w->error);
    for (int pass = 0; pass < PASSES; pass++)
      for (size_t i = 0; i < w->job_count; i++) {
        const rel_result *got = &w->results[pass][i];
        if (!got->ok) check_fail(__FILE__, __LINE__, "thread %d: %s", t, got->message);
        if (!rel_result_equal(got, &expected[w->jobs[i]]))
          check_fail(__FILE__, __LINE__, "thread %d, pass %d: %s differs from the one-thread run",
                     t, pass, rel_jobs[w->jobs[i]].name);
        check_pass();
      }
    printf("  thread %d: %zu calls x %d passes bitwise equal to one thread\n", t, w->job_count,
           PASSES);
  }
  clattn_cache_stats threaded = tu_stats(ctx);
  printf("  cache: %llu builds, %llu disk writes, %llu memory hits, %llu rejects\n",
         (unsigned long long)threaded.builds, (unsigned long long)threaded.disk_writes,
         (unsigned long long)threaded.memory_hits, (unsigned long long)threaded.disk_rejects);
  CHECK(threaded.builds >= 1);
  CHECK_EQ(threaded.disk_hits, 0); /* the cache was cold */
  CHECK_EQ(threaded.disk_rejects, 0);
  CHECK(threaded.memory_hits >= 1);
  clattn_context_destroy(ctx);

  /* Everything the threads wrote loads: a new context builds nothing and gets the same bits. */
  printf("a new context on the threads' cache:\n");
  ctx = open_context(threads_dir);
  for (size_t j = 0; j < rel_job_count; j++) {
    rel_result again;
    rel_job_run(ctx, NULL, &rel_jobs[j], &again);
    if (!rel_result_equal(&again, &expected[j]))
      check_fail(__FILE__, __LINE__, "%s from the disk cache: %s", rel_jobs[j].name,
                 again.ok ? "differs from the one-thread run" : again.message);
    check_pass();
    rel_result_free(&again);
  }
  clattn_cache_stats warm = tu_stats(ctx);
  printf("  %llu disk hits, %llu builds, %llu rejects\n", (unsigned long long)warm.disk_hits,
         (unsigned long long)warm.builds, (unsigned long long)warm.disk_rejects);
  CHECK_EQ(warm.builds, 0);
  CHECK_EQ(warm.disk_rejects, 0);
  CHECK(warm.disk_hits >= 1);
  clattn_context_destroy(ctx);

  for (int t = 0; t < THREADS; t++)
    for (int pass = 0; pass < PASSES; pass++)
      for (size_t i = 0; i < workers[t].job_count; i++) rel_result_free(&workers[t].results[pass][i]);
  for (size_t j = 0; j < rel_job_count; j++) rel_result_free(&expected[j]);
  return check_done("test_concurrency");
}
