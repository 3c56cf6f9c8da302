/*
 * The .npy header: a Python dict literal such as
 *
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
 *
 * parsed by a small recursive-descent reader that never looks past the header's last byte.
 * It accepts exactly what NumPy writes (and reads): the three keys once each, in any order,
 * single- or double-quoted strings without escapes, shape a tuple of non-negative integers
 * (Python 2's "3L" suffix included), and only whitespace after the closing brace.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "npy_internal.h"

typedef struct npy_parser {
  const char *p, *end;
  char *error;
  size_t error_size;
} npy_parser;

typedef struct npy_type_entry {
  const char *code; /* kind and size, after the byte-order character */
  clattn_npy_dtype dtype;
} npy_type_entry;

static const npy_type_entry npy_types[] = {
    {"f4", CLATTN_NPY_F32}, {"f2", CLATTN_NPY_F16}, {"b1", CLATTN_NPY_BOOL},
    {"u1", CLATTN_NPY_U8},  {"i4", CLATTN_NPY_I32}, {"i8", CLATTN_NPY_I64},
};

int clattn__npy_fail(char *error, size_t error_size, const char *fmt, ...) {
  if (error != NULL && error_size > 0) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error, error_size, fmt, args);
    va_end(args);
  }
  return -1;
}

int clattn__npy_host_is_little_endian(void) {
  const uint16_t one = 1;
  unsigned char first;
  memcpy(&first, &one, 1);
  return first == 1;
}

static void npy_skip_space(npy_parser *ps) {
  while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' || *ps->p == '\n' || *ps->p == '\r')) {
    ps->p++;
  }
}

/* Consumes `ch` (after whitespace) and returns 1, or returns 0 and consumes nothing else. */
static int npy_take(npy_parser *ps, char ch) {
  npy_skip_space(ps);
  if (ps->p < ps->end && *ps->p == ch) {
    ps->p++;
    return 1;
  }
  return 0;
}

static int npy_peek(npy_parser *ps, char ch) {
  npy_skip_space(ps);
  return ps->p < ps->end && *ps->p == ch;
}

static int npy_take_word(npy_parser *ps, const char *word) {
  size_t n = strlen(word);
  npy_skip_space(ps);
  if ((size_t)(ps->end - ps->p) >= n && memcmp(ps->p, word, n) == 0) {
    ps->p += n;
    return 1;
  }
  return 0;
}

/* A quoted string of printable ASCII without escapes, NUL-terminated into `out`. Only
 * printable characters are accepted so that the string can go into a one-line message. */
static int npy_read_string(npy_parser *ps, char *out, size_t size, const char *what) {
  npy_skip_space(ps);
  if (ps->p >= ps->end || (*ps->p != '\'' && *ps->p != '"')) {
    return clattn__npy_fail(ps->error, ps->error_size, "malformed header: expected %s", what);
  }
  char quote = *ps->p++;
  size_t n = 0;
  while (ps->p < ps->end && *ps->p != quote) {
    unsigned char ch = (unsigned char)*ps->p;
    if (ch < 0x20 || ch > 0x7e || ch == '\\' || n + 1 >= size) {
      return clattn__npy_fail(ps->error, ps->error_size, "malformed header: unsupported %s",
                              what);
    }
    out[n++] = *ps->p++;
  }
  if (ps->p >= ps->end) {
    return clattn__npy_fail(ps->error, ps->error_size, "malformed header: unterminated string");
  }
  ps->p++;
  out[n] = '\0';
  return 0;
}

static int npy_read_dim(npy_parser *ps, int64_t *value) {
  npy_skip_space(ps);
  if (ps->p < ps->end && *ps->p == '-') {
    return clattn__npy_fail(ps->error, ps->error_size, "negative dimension in 'shape'");
  }
  if (ps->p >= ps->end || *ps->p < '0' || *ps->p > '9') {
    return clattn__npy_fail(ps->error, ps->error_size, "malformed header: bad 'shape' tuple");
  }
  int64_t v = 0;
  while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
    int digit = *ps->p - '0';
    if (v > (INT64_MAX - digit) / 10) {
      return clattn__npy_fail(ps->error, ps->error_size, "a dimension in 'shape' is too large");
    }
    v = v * 10 + digit;
    ps->p++;
  }
  if (ps->p < ps->end && (*ps->p == 'L' || *ps->p == 'l')) {
    ps->p++; /* Python 2 long literal, as old NumPy wrote */
  }
  *value = v;
  return 0;
}

static int npy_read_shape(npy_parser *ps, clattn_npy_array *a) {
  if (!npy_take(ps, '(')) {
    return clattn__npy_fail(ps->error, ps->error_size, "malformed header: 'shape' is not a tuple");
  }
  int n = 0;
  int comma = 0;
  while (!npy_take(ps, ')')) {
    if (n == CLATTN_NPY_MAX_RANK) {
      return clattn__npy_fail(ps->error, ps->error_size, "more than %d dimensions",
                              CLATTN_NPY_MAX_RANK);
    }
    if (npy_read_dim(ps, &a->shape[n]) != 0) {
      return -1;
    }
    n++;
    comma = npy_take(ps, ',');
    if (!comma && !npy_peek(ps, ')')) {
      return clattn__npy_fail(ps->error, ps->error_size, "malformed header: bad 'shape' tuple");
    }
  }
  if (n == 1 && !comma) { /* "(3)" is a parenthesised integer in Python, not a tuple */
    return clattn__npy_fail(ps->error, ps->error_size, "malformed header: 'shape' is not a tuple");
  }
  a->rank = n;
  return 0;
}

/* Maps a descr such as "<f4" to a type; rejects big-endian and unsupported types. */
static int npy_resolve_descr(const char *descr, clattn_npy_dtype *dtype, int *swap, char *error,
                             size_t error_size) {
  const npy_type_entry *found = NULL;
  if (strlen(descr) == 3) {
    for (size_t i = 0; i < sizeof npy_types / sizeof npy_types[0]; ++i) {
      if (strcmp(descr + 1, npy_types[i].code) == 0) {
        found = &npy_types[i];
      }
    }
  }
  char order = descr[0];
  if (found != NULL && clattn_npy_dtype_size(found->dtype) == 1 &&
      strchr("<>|=", order) != NULL && order != '\0') {
    *dtype = found->dtype;
    *swap = 0;
    return 0;
  }
  if (found != NULL && order == '>') {
    return clattn__npy_fail(error, error_size,
                            "big-endian dtype '%s' is not supported (save it with "
                            "a.astype('<%s'))",
                            descr, descr + 1);
  }
  if (found != NULL && (order == '<' || order == '=')) {
    *dtype = found->dtype;
    *swap = order == '<' && !clattn__npy_host_is_little_endian();
    return 0;
  }
  return clattn__npy_fail(error, error_size,
                          "unsupported dtype '%s' (supported: float32 '<f4', float16 '<f2', "
                          "bool '|b1', uint8 '|u1', int32 '<i4', int64 '<i8')",
                          descr);
}

/* Parses one key's value. `which`: 0 descr, 1 fortran_order, 2 shape. */
static int npy_read_value(npy_parser *ps, int which, char *descr, size_t descr_size,
                          int *fortran, clattn_npy_array *a) {
  if (which == 0) {
    if (npy_peek(ps, '[')) {
      return clattn__npy_fail(ps->error, ps->error_size,
                              "structured dtypes (a 'descr' list) are not supported");
    }
    return npy_read_string(ps, descr, descr_size, "'descr' string");
  }
  if (which == 1) {
    if (npy_take_word(ps, "True")) {
      *fortran = 1;
    } else if (npy_take_word(ps, "False")) {
      *fortran = 0;
    } else {
      return clattn__npy_fail(ps->error, ps->error_size,
                              "malformed header: 'fortran_order' is not True or False");
    }
    return 0;
  }
  return npy_read_shape(ps, a);
}

static int npy_read_dict(npy_parser *ps, char *descr, size_t descr_size, int *fortran,
                         clattn_npy_array *a) {
  static const char *const keys[3] = {"descr", "fortran_order", "shape"};
  int seen[3] = {0, 0, 0};
  if (!npy_take(ps, '{')) {
    return clattn__npy_fail(ps->error, ps->error_size, "malformed header: not a dictionary");
  }
  while (!npy_take(ps, '}')) {
    char key[32];
    int which = -1;
    if (npy_read_string(ps, key, sizeof key, "a quoted key") != 0) {
      return -1;
    }
    for (int i = 0; i < 3; ++i) {
      which = strcmp(key, keys[i]) == 0 ? i : which;
    }
    if (which < 0 || seen[which]) {
      return clattn__npy_fail(ps->error, ps->error_size, "malformed header: %s key '%s'",
                              which < 0 ? "unexpected" : "duplicate", key);
    }
    seen[which] = 1;
    if (!npy_take(ps, ':')) {
      return clattn__npy_fail(ps->error, ps->error_size, "malformed header: no ':' after '%s'",
                              key);
    }
    if (npy_read_value(ps, which, descr, descr_size, fortran, a) != 0) {
      return -1;
    }
    if (!npy_take(ps, ',') && !npy_peek(ps, '}')) {
      return clattn__npy_fail(ps->error, ps->error_size, "malformed header: expected ',' or '}'");
    }
  }
  for (int i = 0; i < 3; ++i) {
    if (!seen[i]) {
      return clattn__npy_fail(ps->error, ps->error_size, "malformed header: no '%s' key",
                              keys[i]);
    }
  }
  return 0;
}

int clattn__npy_header_parse(const char *text, size_t size, clattn_npy_array *a, int *swap,
                             char *error, size_t error_size) {
  npy_parser ps = {text, text + size, error, error_size};
  char descr[32] = "";
  int fortran = 0;
  if (npy_read_dict(&ps, descr, sizeof descr, &fortran, a) != 0) {
    return -1;
  }
  npy_skip_space(&ps);
  if (ps.p != ps.end) {
    return clattn__npy_fail(error, error_size, "malformed header: data after the dictionary");
  }
  if (npy_resolve_descr(descr, &a->dtype, swap, error, error_size) != 0) {
    return -1;
  }
  /* Column-major order only differs from row-major when two dimensions exceed 1. */
  int long_dims = 0;
  for (int i = 0; i < a->rank; ++i) {
    long_dims += a->shape[i] > 1;
  }
  if (fortran && long_dims > 1) {
    return clattn__npy_fail(error, error_size,
                            "fortran_order True (column-major) arrays are not supported (save "
                            "np.ascontiguousarray(a) instead)");
  }
  return 0;
}
