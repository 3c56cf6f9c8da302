#include "sources.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "fileio.h"

static clattn_status load_from_dir(clattn_context *ctx, const char *dir, const char *name,
                                   char **text, size_t *size) {
  char *path = clattn__path_join(dir, name);
  if (!path) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  clattn_status status = CLATTN_SUCCESS;
  if (clattn__file_read(path, text, size) != 0) {
    if (errno == ENOENT)
      status = clattn__fail(ctx, CLATTN_KERNEL_NOT_FOUND,
                            "kernel source %s not found in kernel directory %s", name, dir);
    else
      status = clattn__fail(ctx, CLATTN_IO_ERROR, "cannot read kernel source %s: %s", path,
                            strerror(errno));
  }
  free(path);
  return status;
}

static clattn_status load_embedded(clattn_context *ctx, const char *name, char **text,
                                   size_t *size) {
  for (size_t i = 0; i < clattn__embedded_source_count; i++) {
    const clattn__embedded_source *source = &clattn__embedded_sources[i];
    if (strcmp(source->name, name) != 0) continue;
    *text = malloc(source->size + 1);
    if (!*text) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
    memcpy(*text, source->data, source->size + 1);
    *size = source->size;
    return CLATTN_SUCCESS;
  }
  return clattn__fail(ctx, CLATTN_KERNEL_NOT_FOUND, "no embedded kernel source named %s",
                      name);
}

clattn_status clattn__source_load(clattn_context *ctx, const char *kernel_dir,
                                  const char *name, char **text, size_t *size) {
  if (!name || !*name || strchr(name, '/') || strchr(name, '\\'))
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "kernel source name \"%s\" must be a plain file name",
                        name ? name : "(null)");
  if (!text || !size)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "text and size must not be NULL");
  return kernel_dir ? load_from_dir(ctx, kernel_dir, name, text, size)
                    : load_embedded(ctx, name, text, size);
}

/* ---- includes --------------------------------------------------------------------------- */

#define INCLUDE_DEPTH 4 /* fragments may include fragments, this deep */

/* A growing text buffer. */
typedef struct text_buffer {
  char *data;
  size_t size, capacity;
  int failed;
} text_buffer;

static void append(text_buffer *t, const char *data, size_t size) {
  if (t->failed) return;
  if (t->size + size + 1 > t->capacity) {
    size_t capacity = t->capacity ? t->capacity : 4096;
    while (t->size + size + 1 > capacity) capacity *= 2;
    char *grown = realloc(t->data, capacity);
    if (!grown) {
      t->failed = 1;
      return;
    }
    t->data = grown;
    t->capacity = capacity;
  }
  memcpy(t->data + t->size, data, size);
  t->size += size;
  t->data[t->size] = '\0';
}

/* The file name of a line `#include "name"` (a plain name, nothing else on the line but
 * spaces), copied into name; 0 when the line is something else. */
static int include_name(const char *line, size_t length, char *name, size_t capacity) {
  static const char directive[] = "#include \"";
  size_t n = sizeof directive - 1;
  if (length < n || memcmp(line, directive, n) != 0) return 0;
  const char *end = memchr(line + n, '"', length - n);
  if (!end || (size_t)(end - line - n) >= capacity) return 0;
  for (const char *p = end + 1; p < line + length; p++)
    if (*p != ' ' && *p != '\t' && *p != '\r') return 0;
  memcpy(name, line + n, (size_t)(end - line - n));
  name[end - line - n] = '\0';
  return name[0] != '\0';
}

static clattn_status expand(clattn_context *ctx, const char *kernel_dir, const char *name,
                            int depth, text_buffer *out) {
  if (depth > INCLUDE_DEPTH)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT,
                        "kernel source %s: includes nested deeper than %d", name, INCLUDE_DEPTH);
  char *text = NULL;
  size_t size = 0;
  clattn_status status = clattn__source_load(ctx, kernel_dir, name, &text, &size);
  if (status != CLATTN_SUCCESS) return status;
  size_t line_number = 1;
  for (size_t at = 0; at < size && status == CLATTN_SUCCESS; line_number++) {
    const char *line = text + at, *newline = memchr(line, '\n', size - at);
    size_t length = newline ? (size_t)(newline - line) : size - at;
    char fragment[128];
    if (include_name(line, length, fragment, sizeof fragment)) {
      status = expand(ctx, kernel_dir, fragment, depth + 1, out);
      char restore[64]; /* compiler messages keep the including file's line numbers */
      int n = snprintf(restore, sizeof restore, "\n#line %zu\n", line_number + 1);
      append(out, restore, (size_t)n);
    } else {
      append(out, line, length + (newline ? 1 : 0));
    }
    at += length + (newline ? 1 : 0);
  }
  free(text);
  if (status == CLATTN_SUCCESS && out->failed)
    status = clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory expanding %s", name);
  return status;
}

clattn_status clattn__source_load_expanded(clattn_context *ctx, const char *kernel_dir,
                                           const char *name, char **text, size_t *size) {
  if (!text || !size)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "text and size must not be NULL");
  text_buffer out = {NULL, 0, 0, 0};
  append(&out, "", 0); /* an empty source is still a NUL-terminated string */
  clattn_status status = expand(ctx, kernel_dir, name, 0, &out);
  if (status == CLATTN_SUCCESS && out.failed)
    status = clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory expanding %s", name);
  if (status != CLATTN_SUCCESS) {
    free(out.data);
    return status;
  }
  *text = out.data;
  *size = out.size;
  return CLATTN_SUCCESS;
}
