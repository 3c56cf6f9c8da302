/* Programs: the per-context memory cache and the path memory → prebuilt directory → disk
 * cache → compiler that fills it. */
#ifndef CLATTN_PROGRAM_H
#define CLATTN_PROGRAM_H

#include "clattn.h"
#include "defines.h"

#define CLATTN__OPTIONS_CAPACITY 1024

/* Gets the program for kernel file `file` built with `defines`. The program is owned by
 * the context (valid until it is destroyed); `origin` may be NULL. Thread-safe. */
clattn_status clattn__program_get(clattn_context *ctx, const char *file,
                                  const clattn__defines *defines, cl_program *program,
                                  clattn_program_origin *origin);

/* The options string and cache key of (file, defines) on ctx's device, as used by
 * clattn__program_get. Loads the source to hash it. */
clattn_status clattn__program_identity(clattn_context *ctx, const char *file,
                                       const clattn__defines *defines,
                                       char options[CLATTN__OPTIONS_CAPACITY], char key[65]);

/* Copies a built program's device binary into a malloc'd buffer. */
clattn_status clattn__program_binary(clattn_context *ctx, cl_program program,
                                     unsigned char **binary, size_t *size);

/* Creates kernel `name` of a program, with a message naming it on failure. */
clattn_status clattn__kernel_create(clattn_context *ctx, cl_program program, const char *name,
                                    cl_kernel *kernel);

/* The largest work-group `kernel` accepts on ctx's device (CL_KERNEL_WORK_GROUP_SIZE). On
 * failure the kernel is released, *kernel set to NULL, and the message names the kernel. */
clattn_status clattn__kernel_work_group_limit(clattn_context *ctx, cl_kernel *kernel,
                                              const char *name, size_t *limit);

/* Releases every cached program; for clattn_context_destroy. */
void clattn__programs_release(clattn_context *ctx);

#endif
