/* Enumerating OpenCL devices, reading their facts, and choosing one. */
#ifndef CLATTN_DEVICE_H
#define CLATTN_DEVICE_H

#include "clattn.h"

typedef struct clattn__device_entry {
  cl_platform_id platform;
  cl_device_id device;
  clattn_device_info info;
} clattn__device_entry;

/* Lists every device of every platform into a malloc'd array (NULL with count 0 when there
 * is none). Failures are recorded without a context. */
clattn_status clattn__devices_enumerate(clattn__device_entry **entries, size_t *count);

/* Resolves a selector (see clattn_select_device; NULL or "" consults CLATTN_DEVICE and then
 * the default rule) to an index into entries. */
clattn_status clattn__device_pick(const clattn__device_entry *entries, size_t count,
                                  const char *selector, size_t *index);

/* Fills *info for one device (indices left as ~0u) and, when extensions is not NULL, a
 * malloc'd copy of its complete extension string. */
clattn_status clattn__device_query(clattn_context *ctx, cl_device_id device,
                                   clattn_device_info *info, char **extensions);

/* 1 when the space-separated list holds exactly that word. */
int clattn__has_extension_word(const char *list, const char *word);

/* 1 when `needle` occurs in `haystack` ignoring ASCII case (device selectors, vendor and
 * platform names); an empty needle always occurs. */
int clattn__contains_nocase(const char *haystack, const char *needle);

#endif
