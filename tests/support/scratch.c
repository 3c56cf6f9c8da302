#include "scratch.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *join(const char *a, const char *b) {
  size_t n = strlen(a) + strlen(b) + 2;
  char *out = malloc(n);
  if (out) snprintf(out, n, "%s/%s", a, b);
  return out;
}

static void make_dirs(const char *path) {
  char buf[4096];
  snprintf(buf, sizeof buf, "%s", path);
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      mkdir(buf, 0755);
      *p = '/';
    }
  }
  mkdir(buf, 0755);
}

void scratch_remove(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    chmod(path, 0755); /* tests make directories read-only; undo that first */
    DIR *dir = opendir(path);
    if (dir) {
      struct dirent *entry;
      while ((entry = readdir(dir)) != NULL) {
        if (!strcmp(entry->d_name, ".") || !strcmp(entry->d_name, "..")) continue;
        char *child = join(path, entry->d_name);
        if (child) scratch_remove(child);
        free(child);
      }
      closedir(dir);
    }
    rmdir(path);
  } else {
    unlink(path);
  }
}

const char *scratch_dir(const char *name) {
  const char *root = getenv("CLATTN_TEST_SCRATCH");
  char fallback[64];
  if (!root || !*root) {
    snprintf(fallback, sizeof fallback, "/tmp/clattn-test-%ld", (long)getpid());
    root = fallback;
  }
  /* Kept reachable until exit, so LeakSanitizer does not count them as leaks. */
  static char *volatile kept[256]; /* volatile: an unread static is optimised away */
  static size_t n_kept;
  char *path = join(root, name);
  if (!path) return NULL;
  if (n_kept < sizeof kept / sizeof kept[0]) kept[n_kept++] = path;
  scratch_remove(path);
  make_dirs(path);
  return path;
}

int scratch_write(const char *path, const void *data, size_t size) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  size_t written = fwrite(data, 1, size, f);
  return (fclose(f) == 0 && written == size) ? 0 : -1;
}

char *scratch_read(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *data = NULL;
  long length;
  if (fseek(f, 0, SEEK_END) == 0 && (length = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
    data = malloc((size_t)length + 1);
    if (data && fread(data, 1, (size_t)length, f) == (size_t)length) {
      data[length] = '\0';
      if (size) *size = (size_t)length;
    } else {
      free(data);
      data = NULL;
    }
  }
  fclose(f);
  return data;
}

size_t scratch_list(const char *dir, const char *suffix, char **paths, size_t capacity) {
  size_t count = 0, suffix_len = strlen(suffix);
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *entry;
  while ((entry = readdir(d)) != NULL) {
    size_t len = strlen(entry->d_name);
    if (len < suffix_len || strcmp(entry->d_name + len - suffix_len, suffix) != 0) continue;
    if (count < capacity) paths[count] = join(dir, entry->d_name);
    count++;
  }
  closedir(d);
  return count;
}
