/* Kernel sources: the copies embedded at build time (cmake/embed_kernels.cmake), or files
 * read from a directory for kernel development (CLATTN_KERNEL_DIR); shared kernel code lives
 * in fragments (*.clh) that kernel files include. */
#ifndef CLATTN_SOURCES_H
#define CLATTN_SOURCES_H

#include <stddef.h>

#include "clattn.h"

typedef struct clattn__embedded_source {
  const char *name; /* file name in cl/, e.g. "ceiling.cl" */
  const char *data; /* NUL-terminated */
  size_t size;      /* bytes, without the NUL */
} clattn__embedded_source;

extern const clattn__embedded_source clattn__embedded_sources[];
extern const size_t clattn__embedded_source_count;

/* Loads the text of kernel file `name` from `kernel_dir`, or from the embedded copies when
 * kernel_dir is NULL. On success *text is a malloc'd NUL-terminated copy the caller frees.
 * Statuses: KERNEL_NOT_FOUND (unknown name, or no such file in kernel_dir), IO_ERROR,
 * OUT_OF_HOST_MEMORY, INVALID_ARGUMENT (a name with a path separator). Failures are recorded
 * on ctx (which may be NULL). */
clattn_status clattn__source_load(clattn_context *ctx, const char *kernel_dir,
                                  const char *name, char **text, size_t *size);

/* The same, with every line `#include "fragment"` (a plain file name in the same place:
 * cl/ or kernel_dir, conventionally *.clh) replaced by that fragment's expanded text and a
 * #line directive, so kernels share code without the compiler needing include paths. An
 * OpenCL compiler given -I cl/ builds the unexpanded file the same way. Statuses as
 * clattn__source_load, for the file and its fragments. */
clattn_status clattn__source_load_expanded(clattn_context *ctx, const char *kernel_dir,
                                           const char *name, char **text, size_t *size);

#endif
