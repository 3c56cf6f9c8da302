/* Pieces shared by the .npy reader's files; not part of the tool's interface. */
#ifndef CLATTN_CLI_NPY_INTERNAL_H
#define CLATTN_CLI_NPY_INTERNAL_H

#include "npy.h"

/* Writes the message to `error` (when there is room) and returns -1. */
int clattn__npy_fail(char *error, size_t error_size, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

int clattn__npy_host_is_little_endian(void);

/* Parses the header dict of `size` bytes (not NUL-terminated) into a->dtype, a->rank and
 * a->shape; *swap is set when the data's byte order differs from the host's. */
int clattn__npy_header_parse(const char *text, size_t size, clattn_npy_array *a, int *swap,
                             char *error, size_t error_size);

#endif /* CLATTN_CLI_NPY_INTERNAL_H */
