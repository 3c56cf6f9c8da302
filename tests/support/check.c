#include "check.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static unsigned long checks_passed;

void check_fail(const char *file, int line, const char *fmt, ...) {
  va_list args;
  fprintf(stderr, "%s:%d: FAILED: ", file, line);
  va_start(args, fmt);
  vfprintf(stderr, fmt, args);
  va_end(args);
  fputc('\n', stderr);
  exit(1);
}

void check_pass(void) { checks_passed++; }

int check_done(const char *test_name) {
  printf("%s: %lu checks passed\n", test_name, checks_passed);
  return checks_passed > 0 ? 0 : 1; /* a test that checked nothing is a broken test */
}
