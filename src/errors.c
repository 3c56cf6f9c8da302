/* Failure messages: on the context when there is one, otherwise per thread. The buffers are
 * fixed so that a pointer returned by clattn_last_error never dangles, even when another
 * thread records a newer failure on the same context. */
#include "errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "context.h"

static _Thread_local char thread_error[CLATTN__ERROR_CAPACITY];

static char *error_buffer(clattn_context *ctx) { return ctx ? ctx->error : thread_error; }

static void record(clattn_context *ctx, const char *prefix, const char *fmt, va_list args) {
  char message[CLATTN__ERROR_CAPACITY];
  int used = snprintf(message, sizeof message, "%s", prefix);
  if (used < 0) used = 0;
  if ((size_t)used < sizeof message) vsnprintf(message + used, sizeof message - (size_t)used, fmt, args);
  if (ctx) clattn__mutex_lock(&ctx->lock);
  memcpy(error_buffer(ctx), message, sizeof message);
  if (ctx) clattn__mutex_unlock(&ctx->lock);
}

clattn_status clattn__fail(clattn_context *ctx, clattn_status status, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  record(ctx, "", fmt, args);
  va_end(args);
  return status;
}

clattn_status clattn__fail_cl(clattn_context *ctx, cl_int err, const char *call,
                              const char *fmt, ...) {
  char prefix[256];
  snprintf(prefix, sizeof prefix, "%s failed with %s (%d): ", call, clattn_cl_error_name(err),
           (int)err);
  va_list args;
  va_start(args, fmt);
  record(ctx, prefix, fmt, args);
  va_end(args);
  return err == CL_OUT_OF_HOST_MEMORY ? CLATTN_OUT_OF_HOST_MEMORY : CLATTN_OPENCL_ERROR;
}

void clattn__append_error(clattn_context *ctx, const char *text) {
  if (ctx) clattn__mutex_lock(&ctx->lock);
  char *buffer = error_buffer(ctx);
  size_t used = strlen(buffer);
  if (used + 1 < CLATTN__ERROR_CAPACITY)
    snprintf(buffer + used, CLATTN__ERROR_CAPACITY - used, "%s", text);
  if (ctx) clattn__mutex_unlock(&ctx->lock);
}

const char *clattn_last_error(const clattn_context *ctx) {
  return ctx ? ctx->error : thread_error;
}

void clattn__text_append(char *buf, size_t size, const char *fmt, ...) {
  if (!buf || size == 0) return;
  size_t used = strnlen(buf, size);
  if (used + 1 >= size) return;
  va_list args;
  va_start(args, fmt);
  vsnprintf(buf + used, size - used, fmt, args);
  va_end(args);
}
