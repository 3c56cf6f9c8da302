/* Replays fuzz inputs without libFuzzer: every file named on the command line, and every file
 * in each directory named, goes once through the target's LLVMFuzzerTestOneInput. A broken
 * invariant or a sanitizer report ends the process with an error. Fails when a path is
 * missing or no input was found at all, so that an emptied corpus cannot pass silently.
 *
 *   fuzz_<target>_replay PATH...   */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int replay_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open '%s'\n", path);
    return -1;
  }
  size_t cap = 4096, size = 0, n;
  uint8_t *data = malloc(cap);
  while (data && (n = fread(data + size, 1, cap - size, f)) > 0) {
    size += n;
    if (size == cap) {
      uint8_t *bigger = realloc(data, cap *= 2);
      if (!bigger) free(data);
      data = bigger;
    }
  }
  int failed = !data || ferror(f);
  fclose(f);
  if (failed) {
    fprintf(stderr, "replay: cannot read '%s'\n", path);
    free(data);
    return -1;
  }
  /* An exact-size copy, so that ASan sees a read one past the input's end. */
  uint8_t *exact = malloc(size ? size : 1);
  if (!exact) {
    free(data);
    return -1;
  }
  if (size) memcpy(exact, data, size);
  free(data);
  LLVMFuzzerTestOneInput(exact, size);
  free(exact);
  return 0;
}

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Replays the regular files of a directory in name order (hidden files such as .gitkeep are
 * skipped); adds their number to *count. */
static int replay_dir(const char *dir, int *count) {
  DIR *d = opendir(dir);
  if (!d) {
    fprintf(stderr, "replay: cannot open directory '%s'\n", dir);
    return -1;
  }
  char **names = NULL;
  size_t used = 0;
  int rc = 0;
  for (struct dirent *e; rc == 0 && (e = readdir(d)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    size_t length = strlen(dir) + strlen(e->d_name) + 2;
    char **grown = realloc(names, (used + 1) * sizeof *names);
    char *path = malloc(length);
    if (!grown || !path) {
      free(path);
      if (grown) names = grown;
      rc = -1;
      break;
    }
    names = grown;
    snprintf(path, length, "%s/%s", dir, e->d_name);
    names[used++] = path;
  }
  closedir(d);
  if (used) qsort(names, used, sizeof *names, compare_names);
  for (size_t i = 0; i < used; i++) {
    struct stat st;
    if (rc == 0 && stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
      rc = replay_file(names[i]);
      (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return rc;
}

int main(int argc, char **argv) {
  int count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat st;
    if (stat(argv[i], &st) != 0) {
      fprintf(stderr, "replay: '%s' does not exist\n", argv[i]);
      return 1;
    }
    int rc = S_ISDIR(st.st_mode) ? replay_dir(argv[i], &count) : (count++, replay_file(argv[i]));
    if (rc != 0) return 1;
  }
  if (count == 0) {
    fprintf(stderr, "replay: no input files\n");
    return 1;
  }
  printf("replay: %d inputs passed\n", count);
  return 0;
}
