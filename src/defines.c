#include "defines.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Always first: clattn's kernels are OpenCL C 1.2, and a fixed prefix keeps keys stable. */
static const char base_options[] = "-cl-std=CL1.2";

static int valid_name(const char *name) {
  if (!name || !(isalpha((unsigned char)name[0]) || name[0] == '_')) return 0;
  for (const char *p = name; *p; p++)
    if (!(isalnum((unsigned char)*p) || *p == '_')) return 0;
  return strlen(name) < CLATTN__DEFINE_TEXT;
}

static int valid_value(const char *value) {
  if (!value || !*value) return 0;
  for (const char *p = value; *p; p++)
    if (isspace((unsigned char)*p) || *p == '"' || *p == '\'' || *p == '\\') return 0;
  return strlen(value) < CLATTN__DEFINE_TEXT;
}

void clattn__defines_init(clattn__defines *defines) { defines->count = 0; }

int clattn__defines_set(clattn__defines *defines, const char *name, const char *value) {
  if (!valid_name(name) || !valid_value(value)) return -1;
  size_t at = 0;
  while (at < defines->count && strcmp(defines->items[at].name, name) < 0) at++;
  if (at < defines->count && strcmp(defines->items[at].name, name) == 0) {
    snprintf(defines->items[at].value, CLATTN__DEFINE_TEXT, "%s", value);
    return 0;
  }
  if (defines->count == CLATTN__MAX_DEFINES) return -1;
  memmove(&defines->items[at + 1], &defines->items[at],
          (defines->count - at) * sizeof defines->items[0]);
  snprintf(defines->items[at].name, CLATTN__DEFINE_TEXT, "%s", name);
  snprintf(defines->items[at].value, CLATTN__DEFINE_TEXT, "%s", value);
  defines->count++;
  return 0;
}

int clattn__defines_set_int(clattn__defines *defines, const char *name, long long value) {
  char text[32];
  snprintf(text, sizeof text, "%lld", value);
  return clattn__defines_set(defines, name, text);
}

size_t clattn__defines_render(const clattn__defines *defines, char *out, size_t capacity) {
  size_t needed = strlen(base_options);
  if (capacity > 0) snprintf(out, capacity, "%s", base_options);
  for (size_t i = 0; i < defines->count; i++) {
    char item[2 * CLATTN__DEFINE_TEXT + 8];
    int n = snprintf(item, sizeof item, " -D%s=%s", defines->items[i].name,
                     defines->items[i].value);
    if (needed < capacity) snprintf(out + needed, capacity - needed, "%s", item);
    needed += (size_t)n;
  }
  return needed;
}

long long clattn__defines_get_int(const clattn__defines *defines, const char *name,
                                  long long fallback) {
  for (size_t i = 0; i < defines->count; i++)
    if (strcmp(defines->items[i].name, name) == 0) return atoll(defines->items[i].value);
  return fallback;
}
