#include "sources.h"

#include <errno.h>
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
