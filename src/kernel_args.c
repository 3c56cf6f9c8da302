#include "kernel_args.h"

void clattn__arg(clattn__args *a, size_t size, const void *value) {
  if (a->err == CL_SUCCESS) a->err = clSetKernelArg(a->kernel, a->next, size, value);
  a->next++;
}

void clattn__arg_long(clattn__args *a, int64_t value) {
  cl_long x = value;
  clattn__arg(a, sizeof x, &x);
}

void clattn__arg_int(clattn__args *a, int value) {
  cl_int x = value;
  clattn__arg(a, sizeof x, &x);
}

void clattn__arg_float(clattn__args *a, float value) { clattn__arg(a, sizeof value, &value); }

void clattn__arg_buffer(clattn__args *a, cl_mem buffer) {
  clattn__arg(a, sizeof buffer, buffer ? &buffer : NULL);
}

void clattn__arg_view(clattn__args *a, const clattn_tensor *t) {
  clattn__arg_buffer(a, t ? t->buffer : NULL);
  clattn__arg_long(a, t ? (int64_t)t->offset : 0);
  clattn__arg_long(a, t ? t->stride_batch : 0);
  clattn__arg_long(a, t ? t->stride_head : 0);
  clattn__arg_long(a, t ? t->stride_seq : 0);
}
