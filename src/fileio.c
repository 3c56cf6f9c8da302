#include "fileio.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

char *clattn__strdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *copy = malloc(n);
  if (copy) memcpy(copy, s, n);
  return copy;
}

char *clattn__next_word(char **p) {
  char *s = *p;
  while (*s == ' ' || *s == '\t') s++;
  if (!*s) return NULL;
  char *word = s;
  while (*s && *s != ' ' && *s != '\t') s++;
  if (*s) *s++ = '\0';
  *p = s;
  return word;
}

char *clattn__path_join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s/%s", a, b);
  return out;
}

int clattn__file_read(const char *path, char **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  char *buffer = NULL;
  size_t used = 0, capacity = 0;
  int result = -1;
  for (;;) {
    if (capacity - used < 4096) {
      size_t grown = capacity ? 2 * capacity : 65536;
      char *bigger = realloc(buffer, grown + 1);
      if (!bigger) {
        errno = ENOMEM;
        break;
      }
      buffer = bigger;
      capacity = grown;
    }
    size_t got = fread(buffer + used, 1, capacity - used, f);
    used += got;
    if (got == 0) {
      if (!ferror(f)) result = 0;
      break;
    }
  }
  fclose(f);
  if (result != 0) {
    free(buffer);
    return -1;
  }
  buffer[used] = '\0';
  *data = buffer;
  *size = used;
  return 0;
}

int clattn__make_dirs(const char *path) {
  char *copy = clattn__strdup(path);
  if (!copy) return -1;
  for (char *p = copy + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(copy, 0755); /* failures show up in the final check */
    *p = '/';
  }
  mkdir(copy, 0755);
  struct stat st;
  int ok = stat(copy, &st) == 0 && S_ISDIR(st.st_mode);
  free(copy);
  return ok ? 0 : -1;
}

/* Opens a new, uniquely named temporary file in dir; returns its descriptor and path. */
static int open_temporary(const char *dir, const char *name, char **path) {
  size_t n = strlen(dir) + strlen(name) + 16;
  *path = malloc(n);
  if (!*path) return -1;
  snprintf(*path, n, "%s/%s.tmp.XXXXXX", dir, name);
  int fd = mkstemp(*path);
  if (fd < 0) {
    free(*path);
    *path = NULL;
  }
  return fd;
}

static int write_all(int fd, const void *data, size_t size) {
  const char *bytes = data;
  while (size > 0) {
    ssize_t n = write(fd, bytes, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    bytes += n;
    size -= (size_t)n;
  }
  return 0;
}

int clattn__file_write_atomic(const char *dir, const char *name, const void *data, size_t size) {
  char *temporary = NULL;
  int fd = open_temporary(dir, name, &temporary);
  if (fd < 0) return -1;
  int ok = write_all(fd, data, size) == 0;
  ok = (close(fd) == 0) && ok;
  /* mkstemp creates 0600; cache entries are as readable as any other cache file. */
  chmod(temporary, 0644);
  char *final = ok ? clattn__path_join(dir, name) : NULL;
  ok = final && rename(temporary, final) == 0;
  if (!ok) unlink(temporary);
  free(final);
  free(temporary);
  return ok ? 0 : -1;
}

int clattn__dir_writable(const char *dir) {
  char *temporary = NULL;
  int fd = open_temporary(dir, ".probe", &temporary);
  if (fd < 0) return 0;
  close(fd);
  unlink(temporary);
  free(temporary);
  return 1;
}
