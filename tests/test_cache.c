/* The program caches: memory and disk hits, rebuilding after corrupt, truncated, garbage and
 * foreign disk entries, switching the disk cache off (environment, option, unusable
 * directory), where the cache lives by default, several threads on one context, and two
 * processes filling one cold cache at once.
 *
 * PoCL runs threads as soon as OpenCL is initialised, so this test never forks after that:
 * the two cache-filling processes are this executable started again with "--child <dir>",
 * launched before the parent makes any OpenCL call. It is started again by the path it was
 * started with (argv[0], as CTest gives it), not /proc/self/exe, which under valgrind is
 * valgrind's own tool binary. */
#include <clattn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "testutil.h"

static double now_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static clattn_context *open_ctx(const char *cache_dir, int disk_cache) {
  clattn_context_options options = tu_options(cache_dir, disk_cache);
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &ctx));
  CHECK(ctx != NULL);
  return ctx;
}

/* Prepares every variant and checks that each came from `expected`. */
static void prepare_expect(clattn_context *ctx, size_t n, clattn_program_origin expected) {
  clattn_program_origin *origins = calloc(n + 1, sizeof *origins);
  CHECK(origins != NULL);
  origins[n] = (clattn_program_origin)77; /* canary */
  CHECK_OK(ctx, clattn_prepare_kernels(ctx, origins, n));
  for (size_t i = 0; i < n; i++) {
    if (origins[i] != expected)
      check_fail(__FILE__, __LINE__, "variant %zu came from origin %d, expected %d", i,
                 (int)origins[i], (int)expected);
    check_pass();
  }
  CHECK_EQ(origins[n], 77);
  free(origins);
}

/* `dir` holds exactly one "<key>.bin" per variant: no temporary or stray files. */
static void check_dir_exactly(const char *dir, const clattn_kernel_variant *variants, size_t n) {
  char *names[64];
  size_t count = tu_list_all(dir, names, 64);
  if (count != n) {
    fprintf(stderr, "%s holds %zu entries, expected %zu:\n", dir, count, n);
    for (size_t i = 0; i < count && i < 64; i++) fprintf(stderr, "  %s\n", names[i]);
  }
  CHECK_EQ(count, n);
  for (size_t i = 0; i < count && i < 64; i++) {
    CHECK(tu_is_cache_name(names[i]));
    int known = 0;
    for (size_t j = 0; j < n; j++)
      if (strncmp(names[i], variants[j].key, 64) == 0) known = 1;
    if (!known) check_fail(__FILE__, __LINE__, "stray file %s/%s", dir, names[i]);
    check_pass();
  }
  tu_free_names(names, count < 64 ? count : 64);
}

static char *entry_path(const char *dir, const char *key) {
  char name[80];
  snprintf(name, sizeof name, "%s.bin", key);
  return tu_join(dir, name);
}

/* ---- two processes ------------------------------------------------------------------ */

static int child_main(const char *dir) {
  clattn_context *ctx = open_ctx(dir, 1);
  size_t n = 0;
  clattn_kernel_variant *variants = tu_variants(ctx, &n);
  CHECK_OK(ctx, clattn_prepare_kernels(ctx, NULL, 0));
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_cache_enabled, 1);
  CHECK_EQ(stats.builds + stats.disk_hits, n);
  CHECK_EQ(stats.disk_rejects, 0); /* a reader never sees a partly written entry */
  printf("child %ld: %llu built, %llu from disk\n", (long)getpid(),
         (unsigned long long)stats.builds, (unsigned long long)stats.disk_hits);
  free(variants);
  clattn_context_destroy(ctx);
  return check_done("test_cache --child");
}

/* This executable: argv[0] where it names a path, else /proc/self/exe. */
static const char *self_exe = "/proc/self/exe";

static pid_t spawn_child(const char *dir) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid == 0) {
    execl(self_exe, "test_cache", "--child", dir, (char *)NULL);
    fprintf(stderr, "exec %s failed: %s\n", self_exe, strerror(errno));
    _exit(127);
  }
  CHECK(pid > 0);
  return pid;
}

static void wait_child(pid_t pid) {
  int status = 0;
  pid_t got;
  do {
    got = waitpid(pid, &status, 0);
  } while (got < 0 && errno == EINTR);
  CHECK_EQ(got, pid);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    check_fail(__FILE__, __LINE__, "child %ld ended with wait status %d", (long)pid, status);
  check_pass();
}

/* After both children: a third context finds everything on disk. */
static void check_two_processes(const char *dir) {
  clattn_context *ctx = open_ctx(dir, 1);
  size_t n = 0;
  clattn_kernel_variant *variants = tu_variants(ctx, &n);
  check_dir_exactly(dir, variants, n);
  prepare_expect(ctx, n, CLATTN_ORIGIN_DISK);
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.builds, 0);
  CHECK_EQ(stats.disk_hits, n);
  CHECK_EQ(stats.disk_rejects, 0);
  free(variants);
  clattn_context_destroy(ctx);
}

/* ---- miss, then hit ------------------------------------------------------------------ */

static void test_miss_then_hit(const char *dir) {
  clattn_context *ctx = open_ctx(dir, 1);
  size_t n = 0;
  clattn_kernel_variant *variants = tu_variants(ctx, &n);
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_cache_enabled, 1);
  CHECK(strcmp(stats.cache_dir, dir) == 0);
  CHECK_EQ(stats.memory_hits + stats.prebuilt_loads + stats.disk_hits + stats.builds, 0);
  CHECK_EQ(stats.disk_writes + stats.disk_rejects, 0);

  double t0 = now_seconds();
  prepare_expect(ctx, n, CLATTN_ORIGIN_BUILT);
  double cold = now_seconds() - t0;
  stats = tu_stats(ctx);
  CHECK_EQ(stats.builds, n);
  CHECK_EQ(stats.disk_writes, n);
  CHECK_EQ(stats.disk_hits, 0);
  CHECK_EQ(stats.memory_hits, 0);
  CHECK_EQ(stats.disk_rejects, 0);
  CHECK(stats.build_seconds > 0.0 && stats.build_seconds <= cold + 0.01);
  check_dir_exactly(dir, variants, n);

  /* The same context again: memory. */
  prepare_expect(ctx, n, CLATTN_ORIGIN_MEMORY);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.memory_hits, n);
  CHECK_EQ(stats.builds, n);
  CHECK_EQ(stats.disk_writes, n);
  /* origins with capacity 0 is written nowhere. */
  clattn_program_origin canary = (clattn_program_origin)55;
  CHECK_OK(ctx, clattn_prepare_kernels(ctx, &canary, 0));
  CHECK_EQ(canary, 55);
  clattn_context_destroy(ctx);

  /* A second context in the same process: disk, then memory. */
  ctx = open_ctx(dir, 1);
  t0 = now_seconds();
  prepare_expect(ctx, n, CLATTN_ORIGIN_DISK);
  double warm = now_seconds() - t0;
  stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_hits, n);
  CHECK_EQ(stats.builds, 0);
  CHECK_EQ(stats.disk_writes, 0);
  CHECK_EQ(stats.disk_rejects, 0);
  CHECK(stats.load_seconds > 0.0);
  CHECK(stats.build_seconds == 0.0);
  prepare_expect(ctx, n, CLATTN_ORIGIN_MEMORY);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.memory_hits, n);
  CHECK_EQ(stats.disk_hits, n);
  check_dir_exactly(dir, variants, n);

  /* Programs loaded from disk run correctly (the ceilings check their results). */
  clattn_ceilings ceilings;
  CHECK_OK(ctx, clattn_measure_ceilings(ctx, NULL, 1, 3u << 20, &ceilings));
  CHECK(ceilings.fma_gflops > 0.0 && ceilings.triad_gbps > 0.0);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.builds, 0);
  clattn_context_destroy(ctx);
  /* Not asserted: PoCL's own kernel cache (left alone) can make the "cold" build fast. */
  printf("test_cache: %zu variant(s): cold prepare %.3f s, warm (disk) prepare %.3f s\n", n,
         cold, warm);
  free(variants);
}

/* ---- several threads on one context --------------------------------------------------- */

typedef struct prepare_job {
  clattn_context *ctx;
  clattn_status status;
} prepare_job;

static void *prepare_thread(void *arg) {
  prepare_job *job = arg;
  job->status = clattn_prepare_kernels(job->ctx, NULL, 0);
  return NULL;
}

static void test_threads(const char *warm_dir) {
  clattn_context *ctx = open_ctx(warm_dir, 1);
  size_t n = 0;
  clattn_kernel_variant *variants = tu_variants(ctx, &n);
  prepare_job jobs[4];
  pthread_t threads[4];
  for (int i = 0; i < 4; i++) {
    jobs[i].ctx = ctx;
    jobs[i].status = CLATTN_INTERNAL;
    CHECK_EQ(pthread_create(&threads[i], NULL, prepare_thread, &jobs[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    CHECK_EQ(pthread_join(threads[i], NULL), 0);
    CHECK_STATUS(ctx, jobs[i].status, CLATTN_SUCCESS);
  }
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.builds, 0);
  CHECK_EQ(stats.memory_hits + stats.disk_hits, 4 * n);
  CHECK(stats.disk_hits >= n);
  prepare_expect(ctx, n, CLATTN_ORIGIN_MEMORY);
  check_dir_exactly(warm_dir, variants, n);
  free(variants);
  clattn_context_destroy(ctx);
}

/* ---- damaged entries ------------------------------------------------------------------ */

/* A valid entry under another key: another variant's, or one built from a changed copy of
 * ceiling.cl when there is only one variant. */
static char *foreign_entry(const char *warm_dir, const clattn_kernel_variant *variants,
                           size_t n, size_t *size) {
  char *path = NULL;
  if (n >= 2) {
    path = entry_path(warm_dir, variants[1].key);
  } else {
    const char *kernels = tu_scratch_dir("foreign_kernels");
    const char *cache = tu_scratch_dir("foreign_cache");
    tu_copy_kernels(kernels);
    char *source = tu_join(kernels, "ceiling.cl");
    tu_append(source, "\n/* a different source, so a different key */\n");
    free(source);
    clattn_context_options options = tu_options(cache, 1);
    options.kernel_dir = kernels;
    clattn_context *ctx = NULL;
    CHECK_OK(NULL, clattn_context_create(&options, &ctx));
    size_t m = 0;
    clattn_kernel_variant *other = tu_variants(ctx, &m);
    CHECK_EQ(m, 1);
    CHECK(strcmp(other[0].key, variants[0].key) != 0);
    prepare_expect(ctx, m, CLATTN_ORIGIN_BUILT);
    path = entry_path(cache, other[0].key);
    free(other);
    clattn_context_destroy(ctx);
  }
  char *data = scratch_read(path, size);
  CHECK(data != NULL);
  free(path);
  return data;
}

static void test_damaged_entries(const char *dir) {
  clattn_context *probe = open_ctx(dir, 1);
  size_t n = 0;
  clattn_kernel_variant *variants = tu_variants(probe, &n);
  clattn_context_destroy(probe);
  char *path = entry_path(dir, variants[0].key);
  size_t size = 0;
  char *valid = scratch_read(path, &size);
  CHECK(valid != NULL);
  CHECK(size > 200); /* a frame plus a real device binary */
  size_t foreign_size = 0;
  char *foreign = foreign_entry(dir, variants, n, &foreign_size);

  size_t room = (size > foreign_size ? size : foreign_size) + 4096;
  char *damaged = malloc(room);
  CHECK(damaged != NULL);
  static const char *kinds[] = {"flip-middle", "flip-last",  "flip-first", "truncate-half",
                                "truncate-1",  "truncate-8", "empty",      "garbage",
                                "foreign"};
  for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
    const char *kind = kinds[k];
    size_t damaged_size = size;
    memcpy(damaged, valid, size);
    if (!strcmp(kind, "flip-middle")) damaged[size / 2] ^= 0x40;
    else if (!strcmp(kind, "flip-last")) damaged[size - 1] ^= 0x01;
    else if (!strcmp(kind, "flip-first")) damaged[0] ^= 0x20;
    else if (!strcmp(kind, "truncate-half")) damaged_size = size / 2;
    else if (!strcmp(kind, "truncate-1")) damaged_size = size - 1;
    else if (!strcmp(kind, "truncate-8")) damaged_size = 8;
    else if (!strcmp(kind, "empty")) damaged_size = 0;
    else if (!strcmp(kind, "garbage")) {
      damaged_size = 4000;
      for (size_t i = 0; i < damaged_size; i++) damaged[i] = (char)((i * 131u + 7u) & 0xff);
    } else {
      memcpy(damaged, foreign, foreign_size);
      damaged_size = foreign_size;
    }
    CHECK_EQ(scratch_write(path, damaged, damaged_size), 0);

    clattn_context *ctx = open_ctx(dir, 1);
    clattn_program_origin *origins = calloc(n, sizeof *origins);
    CHECK(origins != NULL);
    clattn_status status = clattn_prepare_kernels(ctx, origins, n);
    if (status != CLATTN_SUCCESS)
      check_fail(__FILE__, __LINE__, "%s entry: prepare gave %s: %s", kind,
                 clattn_status_name(status), clattn_last_error(ctx));
    check_pass();
    clattn_cache_stats stats = tu_stats(ctx);
    if (stats.disk_rejects != 1 || stats.builds != 1 || stats.disk_writes != 1 ||
        origins[0] != CLATTN_ORIGIN_BUILT)
      check_fail(__FILE__, __LINE__,
                 "%s entry: disk_rejects %llu, builds %llu, disk_writes %llu, origin %d "
                 "(expected 1, 1, 1, BUILT)",
                 kind, (unsigned long long)stats.disk_rejects,
                 (unsigned long long)stats.builds, (unsigned long long)stats.disk_writes,
                 (int)origins[0]);
    check_pass();
    CHECK_EQ(stats.disk_hits, n - 1);
    for (size_t i = 1; i < n; i++) CHECK_EQ(origins[i], CLATTN_ORIGIN_DISK);
    free(origins);
    clattn_context_destroy(ctx);

    /* The damaged file was replaced by a valid one, with no temporary left behind. */
    size_t now_size = 0;
    char *now_data = scratch_read(path, &now_size);
    CHECK(now_data != NULL);
    CHECK(now_size > 200);
    CHECK(now_size != damaged_size || memcmp(now_data, damaged, now_size) != 0);
    free(now_data);
    check_dir_exactly(dir, variants, n);
  }

  /* The rewritten entry is good: the next context loads everything from disk. */
  clattn_context *ctx = open_ctx(dir, 1);
  prepare_expect(ctx, n, CLATTN_ORIGIN_DISK);
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_rejects, 0);
  CHECK_EQ(stats.builds, 0);
  clattn_context_destroy(ctx);

  free(damaged);
  free(foreign);
  free(valid);
  free(path);
  free(variants);
}

/* ---- the disk cache switched off -------------------------------------------------------- */

/* Copies the warm entries into a fresh directory and returns it. */
static const char *populated_copy(const char *name, const char *warm_dir,
                                  const clattn_kernel_variant *variants, size_t n) {
  const char *dir = tu_scratch_dir(name);
  for (size_t i = 0; i < n; i++) {
    char *from = entry_path(warm_dir, variants[i].key);
    char *to = entry_path(dir, variants[i].key);
    tu_copy_file(from, to);
    free(from);
    free(to);
  }
  return dir;
}

/* Every entry in `dir` is still byte-equal to its twin in `warm_dir`. */
static void check_untouched(const char *dir, const char *warm_dir,
                            const clattn_kernel_variant *variants, size_t n) {
  check_dir_exactly(dir, variants, n);
  for (size_t i = 0; i < n; i++) {
    char *a_path = entry_path(dir, variants[i].key);
    char *b_path = entry_path(warm_dir, variants[i].key);
    size_t a_size = 0, b_size = 0;
    char *a = scratch_read(a_path, &a_size);
    char *b = scratch_read(b_path, &b_size);
    CHECK(a != NULL && b != NULL);
    CHECK(a_size == b_size && memcmp(a, b, a_size) == 0);
    free(a);
    free(b);
    free(a_path);
    free(b_path);
  }
}

/* A context that must neither read nor write the (populated) cache directory, nor create a
 * missing one. */
static void expect_cache_off(clattn_context *ctx, const char *dir, const char *warm_dir,
                             const clattn_kernel_variant *variants, size_t n) {
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_cache_enabled, 0);
  CHECK(strcmp(stats.cache_dir, "") == 0);
  prepare_expect(ctx, n, CLATTN_ORIGIN_BUILT);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.builds, n);
  CHECK_EQ(stats.disk_hits + stats.disk_writes + stats.disk_rejects, 0);
  check_untouched(dir, warm_dir, variants, n);
}

static void test_cache_off(const char *warm_dir) {
  clattn_context *probe = open_ctx(warm_dir, 1);
  size_t n = 0;
  clattn_kernel_variant *variants = tu_variants(probe, &n);
  clattn_context_destroy(probe);
  char *missing = tu_join(tu_scratch_dir("off_missing"), "not/created");

  /* CLATTN_CACHE=0 with the default option. */
  setenv("CLATTN_CACHE", "0", 1);
  const char *dir = populated_copy("off_env", warm_dir, variants, n);
  clattn_context *ctx = open_ctx(dir, -1);
  expect_cache_off(ctx, dir, warm_dir, variants, n);
  clattn_context_destroy(ctx);
  ctx = open_ctx(missing, -1);
  CHECK_EQ(tu_stats(ctx).disk_cache_enabled, 0);
  clattn_context_destroy(ctx);
  CHECK(!tu_exists(missing));
  /* An explicit 1 overrides the environment. */
  ctx = open_ctx(dir, 1);
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_cache_enabled, 1);
  CHECK(strcmp(stats.cache_dir, dir) == 0);
  clattn_context_destroy(ctx);
  unsetenv("CLATTN_CACHE");

  /* options.disk_cache = 0. */
  dir = populated_copy("off_option", warm_dir, variants, n);
  ctx = open_ctx(dir, 0);
  expect_cache_off(ctx, dir, warm_dir, variants, n);
  clattn_context_destroy(ctx);
  ctx = open_ctx(missing, 0);
  CHECK_EQ(tu_stats(ctx).disk_cache_enabled, 0);
  clattn_context_destroy(ctx);
  CHECK(!tu_exists(missing));

  /* Other values of CLATTN_CACHE leave it on. */
  setenv("CLATTN_CACHE", "1", 1);
  ctx = open_ctx(dir, -1);
  CHECK_EQ(tu_stats(ctx).disk_cache_enabled, 1);
  clattn_context_destroy(ctx);
  unsetenv("CLATTN_CACHE");
  free(missing);
  free(variants);
}

/* A cache directory that cannot be created (under a regular file; chmod does not stop
 * root) or that is itself a file: the disk cache is off and everything else works. */
static void test_unusable_dir(void) {
  const char *root = tu_scratch_dir("unusable");
  char *blocker = tu_join(root, "file");
  CHECK_EQ(scratch_write(blocker, "not a directory\n", 16), 0);
  char *under = tu_join(blocker, "sub");

  clattn_context *ctx = open_ctx(blocker, 1);
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_cache_enabled, 0);
  CHECK(strcmp(stats.cache_dir, "") == 0);
  clattn_context_destroy(ctx);

  ctx = open_ctx(under, -1);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_cache_enabled, 0);
  CHECK(strcmp(stats.cache_dir, "") == 0);
  size_t n = 0;
  clattn_kernel_variant *variants = tu_variants(ctx, &n);
  prepare_expect(ctx, n, CLATTN_ORIGIN_BUILT);
  stats = tu_stats(ctx);
  CHECK_EQ(stats.builds, n);
  CHECK_EQ(stats.disk_writes + stats.disk_hits, 0);
  clattn_context_destroy(ctx);

  size_t size = 0;
  char *text = scratch_read(blocker, &size);
  CHECK(text != NULL && size == 16 && strcmp(text, "not a directory\n") == 0);
  CHECK_EQ(tu_list_all(root, NULL, 0), 1);
  free(text);
  free(variants);
  free(under);
  free(blocker);
}

/* Where the cache lives when options.cache_dir is NULL (no kernels are built here). */
static void expect_default_dir(const char *expected) {
  clattn_context *ctx = open_ctx(NULL, -1);
  clattn_cache_stats stats = tu_stats(ctx);
  CHECK_EQ(stats.disk_cache_enabled, 1);
  if (strcmp(stats.cache_dir, expected) != 0)
    check_fail(__FILE__, __LINE__, "default cache dir \"%s\", expected \"%s\"", stats.cache_dir,
               expected);
  check_pass();
  clattn_context_destroy(ctx);
}

static void test_default_dirs(void) {
  const char *saved_cache_dir = getenv("CLATTN_CACHE_DIR");
  char *saved = saved_cache_dir ? strdup(saved_cache_dir) : NULL; /* setenv may reuse it */
  const char *root = tu_scratch_dir("defaults");

  char *env_dir = tu_join(root, "from_env");
  setenv("CLATTN_CACHE_DIR", env_dir, 1);
  expect_default_dir(env_dir);

  unsetenv("CLATTN_CACHE_DIR");
  char *xdg = tu_join(root, "xdg");
  setenv("XDG_CACHE_HOME", xdg, 1);
  char *xdg_expected = tu_join(xdg, "clattn");
  expect_default_dir(xdg_expected);

  unsetenv("XDG_CACHE_HOME");
  const char *saved_home_env = getenv("HOME");
  char *saved_home = saved_home_env ? strdup(saved_home_env) : NULL;
  char *home = tu_join(root, "home");
  setenv("HOME", home, 1);
  char *home_expected = tu_join(home, ".cache/clattn");
  expect_default_dir(home_expected);

  if (saved_home) setenv("HOME", saved_home, 1);
  if (saved) setenv("CLATTN_CACHE_DIR", saved, 1);
  free(saved_home);
  free(saved);
  free(home_expected);
  free(home);
  free(xdg_expected);
  free(xdg);
  free(env_dir);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--child") == 0) return child_main(argv[2]);
  if (argc > 0 && strchr(argv[0], '/') != NULL) self_exe = argv[0];
  unsetenv("CLATTN_CACHE");
  unsetenv("CLATTN_KERNEL_DIR");
  unsetenv("CLATTN_BINARY_DIR");
  unsetenv("CLATTN_DEVICE");

  /* Both children start before this process touches OpenCL. */
  const char *shared = tu_scratch_dir("two_processes");
  pid_t first = spawn_child(shared);
  pid_t second = spawn_child(shared);
  wait_child(first);
  wait_child(second);

  const char *warm = tu_scratch_dir("warm");
  test_miss_then_hit(warm);
  check_two_processes(shared);
  test_threads(warm);
  test_damaged_entries(warm);
  test_cache_off(warm);
  test_unusable_dir();
  test_default_dirs();
  return check_done("test_cache");
}
