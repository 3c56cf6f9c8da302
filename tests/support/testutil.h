/* Header-only helpers shared by the context, cache and kernel tests: paths, directory
 * listings, copies of the kernel sources, and the variant list of a context. Everything is
 * static inline so that a test that uses only some of them compiles without warnings. */
#ifndef CLATTN_TEST_TESTUTIL_H
#define CLATTN_TEST_TESTUTIL_H

#include <clattn.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "check.h"
#include "scratch.h"

/* Returns malloc'd "<a>/<b>"; a test without memory cannot go on, so NULL ends it. */
static inline char *tu_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *out = malloc(n);
  if (!out) check_fail(__FILE__, __LINE__, "out of memory");
  snprintf(out, n, "%s/%s", a, b);
  return out;
}

/* scratch_dir, with the returned path kept reachable until exit so that LeakSanitizer does
 * not report the "lives until exit" buffers of a test that keeps them in locals. */
static inline const char *tu_scratch_dir(const char *name) {
  static const char *kept[128];
  static size_t kept_count;
  const char *dir = scratch_dir(name);
  if (!dir) check_fail(__FILE__, __LINE__, "cannot make scratch directory %s", name);
  if (kept_count < sizeof kept / sizeof kept[0]) kept[kept_count++] = dir;
  return dir;
}

/* The repository root, which CTest passes in CLATTN_SOURCE_DIR. */
static inline const char *tu_source_dir(void) {
  const char *dir = getenv("CLATTN_SOURCE_DIR");
  if (!dir || !*dir) check_fail(__FILE__, __LINE__, "CLATTN_SOURCE_DIR is not set");
  return dir;
}

static inline int tu_exists(const char *path) {
  struct stat st;
  return stat(path, &st) == 0;
}

/* Every entry of `dir` except "." and "..", hidden files included (temporary files often
 * start with a dot). Up to `capacity` malloc'd base names go to `names`; returns how many
 * entries there are, or 0 when the directory cannot be opened. */
static inline size_t tu_list_all(const char *dir, char **names, size_t capacity) {
  size_t count = 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *entry;
  while ((entry = readdir(d)) != NULL) {
    if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
    if (count < capacity && names) {
      names[count] = malloc(strlen(entry->d_name) + 1);
      if (names[count]) strcpy(names[count], entry->d_name);
    }
    count++;
  }
  closedir(d);
  return count;
}

static inline void tu_free_names(char **names, size_t count) {
  for (size_t i = 0; i < count; i++) free(names[i]);
}

/* 1 when `name` is "<64 lowercase hex digits>.bin". */
static inline int tu_is_cache_name(const char *name) {
  if (strlen(name) != 68 || strcmp(name + 64, ".bin") != 0) return 0;
  for (int i = 0; i < 64; i++)
    if (!((name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f'))) return 0;
  return 1;
}

/* Copies `src` to `dst` byte for byte; ends the test on failure. */
static inline void tu_copy_file(const char *src, const char *dst) {
  size_t size = 0;
  char *data = scratch_read(src, &size);
  if (!data) check_fail(__FILE__, __LINE__, "cannot read %s", src);
  if (scratch_write(dst, data, size) != 0) check_fail(__FILE__, __LINE__, "cannot write %s", dst);
  free(data);
}

/* Copies every $CLATTN_SOURCE_DIR/cl/ *.cl file and *.clh fragment into `dst` (an existing
 * directory); returns how many files were copied. */
static inline size_t tu_copy_kernels(const char *dst) {
  char *cl_dir = tu_join(tu_source_dir(), "cl");
  static const char *const suffixes[2] = {".cl", ".clh"};
  size_t total = 0;
  for (int k = 0; k < 2; k++) {
    char *paths[256];
    size_t count = scratch_list(cl_dir, suffixes[k], paths, 256);
    if (count > 256) check_fail(__FILE__, __LINE__, "too many kernel files in %s", cl_dir);
    for (size_t i = 0; i < count; i++) {
      const char *base = strrchr(paths[i], '/');
      char *target = tu_join(dst, base ? base + 1 : paths[i]);
      tu_copy_file(paths[i], target);
      free(target);
      free(paths[i]);
    }
    total += count;
  }
  free(cl_dir);
  return total;
}

/* Appends text to a file; ends the test on failure. */
static inline void tu_append(const char *path, const char *text) {
  FILE *f = fopen(path, "ab");
  if (!f || fputs(text, f) < 0 || fclose(f) != 0)
    check_fail(__FILE__, __LINE__, "cannot append to %s", path);
}

/* The context's kernel variants as a malloc'd array (at least one entry, or the test
 * ends); *count gets how many. */
static inline clattn_kernel_variant *tu_variants(clattn_context *ctx, size_t *count) {
  size_t n = 0;
  clattn_status status = clattn_kernel_variants(ctx, NULL, 0, &n);
  if (status != CLATTN_BUFFER_TOO_SMALL || n == 0)
    check_fail(__FILE__, __LINE__, "clattn_kernel_variants(capacity 0) gave %s, count %zu: %s",
               clattn_status_name(status), n, clattn_last_error(ctx));
  clattn_kernel_variant *variants = calloc(n, sizeof *variants);
  if (!variants) check_fail(__FILE__, __LINE__, "out of memory");
  size_t again = 0;
  status = clattn_kernel_variants(ctx, variants, n, &again);
  if (status != CLATTN_SUCCESS || again != n)
    check_fail(__FILE__, __LINE__, "clattn_kernel_variants gave %s, count %zu (expected %zu): %s",
               clattn_status_name(status), again, n, clattn_last_error(ctx));
  *count = n;
  return variants;
}

/* Options with the defaults, then the cache directory and disk-cache switch set. */
static inline clattn_context_options tu_options(const char *cache_dir, int disk_cache) {
  clattn_context_options options;
  clattn_context_options_init(&options);
  options.cache_dir = cache_dir;
  options.disk_cache = disk_cache;
  return options;
}

static inline clattn_cache_stats tu_stats(const clattn_context *ctx) {
  clattn_cache_stats stats;
  memset(&stats, 0, sizeof stats);
  clattn_status status = clattn_context_cache_stats(ctx, &stats);
  if (status != CLATTN_SUCCESS)
    check_fail(__FILE__, __LINE__, "clattn_context_cache_stats gave %s: %s",
               clattn_status_name(status), clattn_last_error(ctx));
  return stats;
}

#endif
