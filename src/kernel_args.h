/* Setting a kernel's arguments in order: each call takes the next index, and the first
 * failure is kept, so a whole argument list is set and checked once. */
#ifndef CLATTN_KERNEL_ARGS_H
#define CLATTN_KERNEL_ARGS_H

#include <stdint.h>

#include "clattn.h"

typedef struct clattn__args {
  cl_kernel kernel;
  cl_uint next; /* index of the next argument */
  cl_int err;   /* the first clSetKernelArg failure, or CL_SUCCESS */
} clattn__args;

void clattn__arg(clattn__args *a, size_t size, const void *value);
void clattn__arg_long(clattn__args *a, int64_t value); /* as cl_long */
void clattn__arg_int(clattn__args *a, int value);      /* as cl_int */
void clattn__arg_float(clattn__args *a, float value);
/* A NULL cl_mem passes a NULL pointer to the kernel (an absent optional input). */
void clattn__arg_buffer(clattn__args *a, cl_mem buffer);
/* A view as five arguments: buffer, offset, batch, head and sequence strides (cl_long);
 * NULL gives a NULL buffer and zeros. */
void clattn__arg_view(clattn__args *a, const clattn_tensor *t);

#endif
