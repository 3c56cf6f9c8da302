/* Scratch files and directories for tests, under $CLATTN_TEST_SCRATCH (set by CTest per
 * test) or /tmp/clattn-test-<pid>. */
#ifndef CLATTN_TEST_SCRATCH_H
#define CLATTN_TEST_SCRATCH_H

#include <stddef.h>

/* Returns a freshly emptied directory "<scratch root>/<name>" (static buffer per call
 * site is not needed: the result is malloc'd and lives until exit). */
const char *scratch_dir(const char *name);
/* Removes a file or a directory tree; missing paths are fine. */
void scratch_remove(const char *path);
/* Writes `size` bytes to `path`; returns 0 on success. */
int scratch_write(const char *path, const void *data, size_t size);
/* Reads a whole file; returns a malloc'd buffer (NUL-terminated) and its size, or NULL. */
char *scratch_read(const char *path, size_t *size);
/* Lists the regular files of `dir` whose names end with `suffix`; returns how many and
 * writes up to `capacity` malloc'd full paths into `paths`. */
size_t scratch_list(const char *dir, const char *suffix, char **paths, size_t capacity);

#endif
