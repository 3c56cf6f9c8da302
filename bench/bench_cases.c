#include "bench_cases.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t bench_number(const char *text, long max, long *value) {
  char *end = NULL;
  errno = 0;
  long v = strtol(text, &end, 10);
  if (errno != 0 || end == text || v < 1 || v > max || text[0] == '-' || text[0] == '+') {
    return 0;
  }
  *value = v;
  return (size_t)(end - text);
}

void bench_case_set(bench_case *c, const char *name, const bench_shape *shape) {
  memset(c, 0, sizeof *c);
  snprintf(c->name, sizeof c->name, "%s", name);
  c->shape = *shape;
  double seq = (double)shape->seq;
  double pairs = shape->causal ? seq * (seq + 1.0) / 2.0 : seq * seq;
  c->flops = 4.0 * (double)shape->batch * (double)shape->heads * pairs * (double)shape->dim;
}

int bench_case_parse(const char *token, bench_case *c) {
  long seq = 0, heads = -1, dim = 64, batch = 1, value = 0;
  int causal = 0;
  size_t used = bench_number(token, 1L << 24, &seq);
  if (used == 0 || strlen(token) >= sizeof c->name) {
    return -1;
  }
  for (const char *p = token + used; *p != '\0';) {
    char key = *p++;
    if (key == 'c' && !causal) {
      causal = 1;
      continue;
    }
    long max = key == 'd' ? CLATTN_MAX_HEAD_DIM : 4096;
    used = bench_number(p, max, &value);
    if (used == 0 || (key != 'h' && key != 'd' && key != 'b')) {
      return -1;
    }
    *(key == 'h' ? &heads : key == 'd' ? &dim : &batch) = value;
    p += used;
  }
  if (heads < 0) {
    heads = seq > BENCH_LONG_SEQ ? 1 : 8;
  }
  double elems = (double)batch * (double)heads * (double)seq * (double)dim;
  if (elems * sizeof(float) > 1e12) {
    return -1;
  }
  bench_shape shape = {(int)batch, (int)heads, (int)seq, (int)dim, causal};
  bench_case_set(c, token, &shape);
  return 0;
}

int bench_cases_parse(const char *who, const char *list, bench_case *cases) {
  char token[64];
  int count = 0;
  for (const char *p = list;;) {
    size_t n = strcspn(p, ",");
    if (n == 0 || n >= sizeof token || count == BENCH_MAX_CASES) {
      return -1;
    }
    memcpy(token, p, n);
    token[n] = '\0';
    if (bench_case_parse(token, &cases[count]) != 0) {
      fprintf(stderr, "%s: bad case \"%s\"\n", who, token);
      return -1;
    }
    ++count;
    if (p[n] == '\0') {
      return count;
    }
    p += n + 1;
  }
}
