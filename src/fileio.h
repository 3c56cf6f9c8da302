/* The few file operations clattn needs, kept in one place so that portability fixes land
 * once: whole-file reads, directory creation, and atomic whole-file writes. */
#ifndef CLATTN_FILEIO_H
#define CLATTN_FILEIO_H

#include <stddef.h>

/* Reads a whole file into a malloc'd, NUL-terminated buffer. Returns 0, or -1 with errno
 * set (ENOENT when missing). */
int clattn__file_read(const char *path, char **data, size_t *size);
/* Creates a directory and its parents (like mkdir -p). Returns 0 when it exists afterwards. */
int clattn__make_dirs(const char *path);
/* Writes data to "<dir>/<name>" through a temporary file in the same directory and a
 * rename, so readers see either the old file or the complete new one, never a part, even
 * with several processes writing at once. Returns 0 or -1. */
int clattn__file_write_atomic(const char *dir, const char *name, const void *data, size_t size);
/* 1 when a file can be created in dir (checked by creating and removing one), else 0. */
int clattn__dir_writable(const char *dir);
/* Returns malloc'd "<a>/<b>", or NULL. */
char *clattn__path_join(const char *a, const char *b);
/* Returns a malloc'd copy of s (NULL for NULL). */
char *clattn__strdup(const char *s);
/* Splits off the next space- or tab-separated word of *p (modified in place: the word is
 * NUL-terminated, *p moves past it); NULL at the end. For the lines of text files. */
char *clattn__next_word(char **p);

#endif
