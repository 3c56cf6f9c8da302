/* Build options from a sorted list of -D defines, so that equal configurations always give
 * byte-equal option strings and therefore equal cache keys, whatever order they were set. */
#ifndef CLATTN_DEFINES_H
#define CLATTN_DEFINES_H

#include <stddef.h>

#define CLATTN__MAX_DEFINES 48
#define CLATTN__DEFINE_TEXT 64

typedef struct clattn__define {
  char name[CLATTN__DEFINE_TEXT];
  char value[CLATTN__DEFINE_TEXT];
} clattn__define;

typedef struct clattn__defines {
  size_t count;
  clattn__define items[CLATTN__MAX_DEFINES]; /* kept sorted by name */
} clattn__defines;

/* Empties the list. */
void clattn__defines_init(clattn__defines *defines);
/* Sets NAME to VALUE, replacing an earlier value. NAME must be a C identifier and VALUE must
 * not contain whitespace or quotes. Returns 0, or -1 when either is invalid, too long, or
 * the list is full. */
int clattn__defines_set(clattn__defines *defines, const char *name, const char *value);
int clattn__defines_set_int(clattn__defines *defines, const char *name, long long value);
/* Writes "-cl-std=CL1.2 -DA=1 -DB=2 ..." (names ascending) into out, NUL-terminated, and
 * returns the length the whole string needs (not counting the NUL), like snprintf. */
size_t clattn__defines_render(const clattn__defines *defines, char *out, size_t capacity);

/* The integer value of NAME, or fallback when it is not set. */
long long clattn__defines_get_int(const clattn__defines *defines, const char *name,
                                  long long fallback);

#endif
