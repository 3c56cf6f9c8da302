/* Recording failures: every failing internal path ends in one of these, which store the
 * message on the context (or, without one, in a thread-local buffer) and return the status,
 * so that `return clattn__fail(...)` reads naturally. */
#ifndef CLATTN_ERRORS_H
#define CLATTN_ERRORS_H

#include "clattn.h"

#if defined(__GNUC__)
#define CLATTN__PRINTF(fmt_index, first_arg) __attribute__((format(printf, fmt_index, first_arg)))
#else
#define CLATTN__PRINTF(fmt_index, first_arg)
#endif

/* Records "<message>" for `status` on ctx (NULL: this thread's context-less message). */
clattn_status clattn__fail(clattn_context *ctx, clattn_status status, const char *fmt, ...)
    CLATTN__PRINTF(3, 4);

/* Records "<call> failed with <CL_NAME> (<code>): <message>" and returns OPENCL_ERROR, or
 * OUT_OF_HOST_MEMORY for CL_OUT_OF_HOST_MEMORY. */
clattn_status clattn__fail_cl(clattn_context *ctx, cl_int err, const char *call,
                              const char *fmt, ...) CLATTN__PRINTF(4, 5);

/* Appends a long text (a compiler log) to the message recorded last on ctx. */
void clattn__append_error(clattn_context *ctx, const char *text);

/* Appends formatted text to the NUL-terminated text in buf (size bytes; NULL or full: nothing
 * happens), truncating. */
void clattn__text_append(char *buf, size_t size, const char *fmt, ...) CLATTN__PRINTF(3, 4);

#endif
