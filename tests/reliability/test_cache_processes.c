/* Processes sharing one disk cache. Two child processes, released at the same moment, fill
 * the same new cache directory with the same kernel variants (the same calls in the same
 * order, so they build and write the same entries at once). Afterwards the directory holds
 * only complete entries (no temporary files), every entry is valid, a new context loads
 * every variant from it (no build, no reject), and the children's results and the new
 * context's are bitwise equal and match the fp64 reference. The parent makes no OpenCL call
 * before the children exit (an OpenCL runtime does not survive fork). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "binary_cache.h"
#include "check.h"
#include "rel_jobs.h"
#include "testutil.h"

enum { CHILDREN = 2 };

/* A child: waits for the parent's go (the pipe closing), runs every job and writes the
 * results to `out`. Exit status 0 on success. */
static int child(int go, const char *cache_dir, const char *out) {
  char byte;
  while (read(go, &byte, 1) < 0 && errno == EINTR) {
  }
  clattn_context_options options = tu_options(cache_dir, 1);
  clattn_context *ctx = NULL;
  if (clattn_context_create(&options, &ctx) != CLATTN_SUCCESS) {
    fprintf(stderr, "child: %s\n", clattn_last_error(NULL));
    return 1;
  }
  FILE *f = fopen(out, "wb");
  int failed = !f;
  for (size_t j = 0; !failed && j < rel_job_count; j++) {
    rel_result r;
    rel_job_run(ctx, NULL, &rel_jobs[j], &r);
    if (!r.ok) fprintf(stderr, "child: %s\n", r.message);
    failed = !r.ok || rel_result_write(f, &r) != 0;
    rel_result_free(&r);
  }
  if (f && fclose(f) != 0) failed = 1;
  clattn_context_destroy(ctx);
  return failed;
}

static void read_results(const char *path, rel_result *results) {
  FILE *f = fopen(path, "rb");
  if (!f) check_fail(__FILE__, __LINE__, "cannot open %s", path);
  for (size_t j = 0; j < rel_job_count; j++)
    if (rel_result_read(f, &results[j]) != 0)
      check_fail(__FILE__, __LINE__, "cannot read result %zu from %s", j, path);
  fclose(f);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  const char *cache_dir = tu_scratch_dir("shared-cache");
  const char *out_dir = tu_scratch_dir("results");
  char *outs[CHILDREN];
  int go[2];
  CHECK_EQ(pipe(go), 0);
  fflush(NULL);
  pid_t pids[CHILDREN];
  for (int c = 0; c < CHILDREN; c++) {
    char name[32];
    snprintf(name, sizeof name, "child%d.bin", c);
    outs[c] = tu_join(out_dir, name);
    pids[c] = fork();
    CHECK(pids[c] >= 0);
    if (pids[c] == 0) {
      close(go[1]);
      _exit(child(go[0], cache_dir, outs[c]));
    }
  }
  close(go[0]);
  close(go[1]); /* both children start now */
  for (int c = 0; c < CHILDREN; c++) {
    int status = 0;
    CHECK_EQ(waitpid(pids[c], &status, 0), pids[c]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
      check_fail(__FILE__, __LINE__, "child %d failed (wait status 0x%x)", c, status);
  }
  printf("%d processes filled %s\n", CHILDREN, cache_dir);

  /* Only complete entries, each with a valid frame for its own key. */
  char *names[512];
  size_t count = tu_list_all(cache_dir, names, 512);
  CHECK(count >= 1 && count <= 512);
  size_t entries = 0;
  for (size_t i = 0; i < count; i++) {
    if (!strcmp(names[i], "tuning")) continue; /* the tuning directory, if any */
    if (!tu_is_cache_name(names[i]))
      check_fail(__FILE__, __LINE__, "%s holds %s, not a cache entry", cache_dir, names[i]);
    char key[65];
    memcpy(key, names[i], 64);
    key[64] = '\0';
    unsigned char *payload = NULL;
    size_t size = 0;
    if (clattn__binary_read(cache_dir, key, 0, &payload, &size) != CLATTN__BINARY_VALID)
      check_fail(__FILE__, __LINE__, "entry %s is not valid", names[i]);
    free(payload);
    entries++;
    check_pass();
  }
  tu_free_names(names, count);
  printf("  %zu entries, all valid, no temporary files\n", entries);

  rel_result results[CHILDREN][16];
  for (int c = 0; c < CHILDREN; c++) read_results(outs[c], results[c]);

  /* A new context: every variant from disk, the same bits, the reference. */
  clattn_context_options options = tu_options(cache_dir, 1);
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &ctx));
  for (size_t j = 0; j < rel_job_count; j++) {
    rel_result r;
    rel_job_run(ctx, NULL, &rel_jobs[j], &r);
    rel_job_check(&rel_jobs[j], &r);
    for (int c = 0; c < CHILDREN; c++)
      if (!rel_result_equal(&r, &results[c][j]))
        check_fail(__FILE__, __LINE__, "%s: child %d's result differs", rel_jobs[j].name, c);
    rel_result_free(&r);
  }
  clattn_cache_stats stats = tu_stats(ctx);
  printf("  new context: %llu disk hits, %llu builds, %llu rejects\n",
         (unsigned long long)stats.disk_hits, (unsigned long long)stats.builds,
         (unsigned long long)stats.disk_rejects);
  CHECK_EQ(stats.builds, 0);
  CHECK_EQ(stats.disk_rejects, 0);
  CHECK_EQ(stats.disk_hits, entries);
  clattn_context_destroy(ctx);
  for (int c = 0; c < CHILDREN; c++) {
    for (size_t j = 0; j < rel_job_count; j++) rel_result_free(&results[c][j]);
    free(outs[c]);
  }
  return check_done("test_cache_processes");
}
