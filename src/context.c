/* Creating and destroying contexts: device choice, OpenCL objects, cache directories. */
#include "context.h"

#include <stdlib.h>
#include <string.h>

#include "device.h"
#include "errors.h"
#include "fileio.h"
#include "program.h"

void clattn_context_options_init(clattn_context_options *options) {
  if (!options) return;
  memset(options, 0, sizeof *options);
  options->disk_cache = -1;
  options->allow_compile = 1;
}

static const char *option_or_env(const char *option, const char *variable) {
  if (option && *option) return option;
  const char *value = getenv(variable);
  return value && *value ? value : NULL;
}

/* $CLATTN_CACHE_DIR, else $XDG_CACHE_HOME/clattn, else $HOME/.cache/clattn (malloc'd). */
static char *default_cache_dir(void) {
  const char *dir = getenv("CLATTN_CACHE_DIR");
  if (dir && *dir) return clattn__strdup(dir);
  const char *xdg = getenv("XDG_CACHE_HOME");
  if (xdg && *xdg) return clattn__path_join(xdg, "clattn");
  const char *home = getenv("HOME");
  return home && *home ? clattn__path_join(home, ".cache/clattn") : NULL;
}

static int disk_cache_wanted(const clattn_context_options *options) {
  if (options->disk_cache >= 0) return options->disk_cache != 0;
  const char *env = getenv("CLATTN_CACHE");
  return !(env && strcmp(env, "0") == 0);
}

/* Picks the disk cache directory, or none when disabled or unusable: an unwritable cache
 * must never stop the library from working, only from remembering. */
static char *resolve_cache_dir(const clattn_context_options *options) {
  if (!disk_cache_wanted(options)) return NULL;
  char *dir = options->cache_dir && *options->cache_dir ? clattn__strdup(options->cache_dir)
                                                        : default_cache_dir();
  if (dir && (clattn__make_dirs(dir) != 0 || !clattn__dir_writable(dir))) {
    free(dir);
    dir = NULL;
  }
  return dir;
}

/* Fills the parts of a context common to both constructors. cl_ctx and device are already
 * retained and stored, so clattn_context_destroy can clean up after any failure here. */
static clattn_status context_init(clattn_context *ctx, const clattn_context_options *options) {
  if (clattn__mutex_init(&ctx->lock) != 0)
    return clattn__fail(NULL, CLATTN_INTERNAL, "cannot initialise a mutex");
  clattn_status status = clattn__device_query(NULL, ctx->device, &ctx->info, &ctx->extensions);
  if (status != CLATTN_SUCCESS) return status;
  cl_int err;
  ctx->queue = clCreateCommandQueue(ctx->cl_ctx, ctx->device, CL_QUEUE_PROFILING_ENABLE, &err);
  if (!ctx->queue) return clattn__fail_cl(NULL, err, "clCreateCommandQueue", "the default queue");
  const char *kernel_dir = option_or_env(options->kernel_dir, "CLATTN_KERNEL_DIR");
  const char *binary_dir = option_or_env(options->binary_dir, "CLATTN_BINARY_DIR");
  ctx->kernel_dir = clattn__strdup(kernel_dir);
  ctx->binary_dir = clattn__strdup(binary_dir);
  if ((kernel_dir && !ctx->kernel_dir) || (binary_dir && !ctx->binary_dir))
    return clattn__fail(NULL, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  ctx->cache_dir = resolve_cache_dir(options);
  ctx->stats.disk_cache_enabled = ctx->cache_dir != NULL;
  if (ctx->cache_dir) {
    size_t n = strlen(ctx->cache_dir);
    if (n >= sizeof ctx->stats.cache_dir) n = sizeof ctx->stats.cache_dir - 1;
    memcpy(ctx->stats.cache_dir, ctx->cache_dir, n);
  }
  ctx->can_compile = ctx->info.compiler_available && options->allow_compile;
  /* CLBlast parameters from the device's tuning file; a bad or missing file is only noted. */
  clattn__tuning_context_init(ctx, options);
  return CLATTN_SUCCESS;
}

/* Sets the device's indices from the platform/device listing, so that a wrapped device
 * reports the same P:D that `clattn devices` shows. */
static void locate_device(clattn_context *ctx) {
  clattn__device_entry *entries;
  size_t count;
  if (clattn__devices_enumerate(&entries, &count) != CLATTN_SUCCESS) return;
  for (size_t i = 0; i < count; i++) {
    if (entries[i].device != ctx->device) continue;
    ctx->info.platform_index = entries[i].info.platform_index;
    ctx->info.device_index = entries[i].info.device_index;
  }
  free(entries);
}

static clattn_status finish_create(clattn_context *ctx, const clattn_context_options *options,
                                   clattn_context **out) {
  clattn_context_options defaults;
  if (!options) {
    clattn_context_options_init(&defaults);
    options = &defaults;
  }
  clattn_status status = context_init(ctx, options);
  if (status != CLATTN_SUCCESS) {
    clattn_context_destroy(ctx);
    return status;
  }
  *out = ctx;
  return CLATTN_SUCCESS;
}

clattn_status clattn_context_create(const clattn_context_options *options,
                                    clattn_context **ctx) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  clattn__device_entry *entries;
  size_t count, index = 0;
  clattn_status status = clattn__devices_enumerate(&entries, &count);
  if (status == CLATTN_SUCCESS)
    status = clattn__device_pick(entries, count, options ? options->device : NULL, &index);
  if (status != CLATTN_SUCCESS) {
    free(entries);
    return status;
  }
  cl_device_id device = entries[index].device;
  cl_context_properties properties[] = {CL_CONTEXT_PLATFORM,
                                        (cl_context_properties)entries[index].platform, 0};
  unsigned platform_index = entries[index].info.platform_index;
  unsigned device_index = entries[index].info.device_index;
  free(entries);

  clattn_context *created = calloc(1, sizeof *created);
  if (!created) return clattn__fail(NULL, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  cl_int err;
  created->cl_ctx = clCreateContext(properties, 1, &device, NULL, NULL, &err);
  if (!created->cl_ctx) {
    free(created);
    return clattn__fail_cl(NULL, err, "clCreateContext", "device %u:%u", platform_index,
                           device_index);
  }
  created->device = device;
  clRetainDevice(device); /* balanced by destroy, as for wrapped devices */
  status = finish_create(created, options, ctx);
  if (status == CLATTN_SUCCESS) {
    (*ctx)->info.platform_index = platform_index;
    (*ctx)->info.device_index = device_index;
  }
  return status;
}

static int context_has_device(cl_context cl_ctx, cl_device_id device, cl_int *err) {
  size_t size = 0;
  *err = clGetContextInfo(cl_ctx, CL_CONTEXT_DEVICES, 0, NULL, &size);
  if (*err != CL_SUCCESS) return 0;
  cl_device_id *devices = malloc(size ? size : 1);
  if (!devices) return 0;
  *err = clGetContextInfo(cl_ctx, CL_CONTEXT_DEVICES, size, devices, NULL);
  int found = 0;
  for (size_t i = 0; *err == CL_SUCCESS && i < size / sizeof *devices; i++)
    found |= devices[i] == device;
  free(devices);
  return found;
}

clattn_status clattn_context_create_from_cl(cl_context cl_ctx, cl_device_id device,
                                            const clattn_context_options *options,
                                            clattn_context **ctx) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!cl_ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "cl_ctx must not be NULL");
  if (!device) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "device must not be NULL");
  cl_int err;
  if (!context_has_device(cl_ctx, device, &err)) {
    if (err != CL_SUCCESS)
      return clattn__fail_cl(NULL, err, "clGetContextInfo", "cl_ctx is not a valid context");
    return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "device does not belong to cl_ctx");
  }
  clattn_context *created = calloc(1, sizeof *created);
  if (!created) return clattn__fail(NULL, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  clRetainContext(cl_ctx);
  clRetainDevice(device);
  created->cl_ctx = cl_ctx;
  created->device = device;
  clattn_status status = finish_create(created, options, ctx);
  if (status == CLATTN_SUCCESS) locate_device(*ctx);
  return status;
}

void clattn_context_destroy(clattn_context *ctx) {
  if (!ctx) return;
  clattn__programs_release(ctx);
  if (ctx->queue) clReleaseCommandQueue(ctx->queue);
  if (ctx->device) clReleaseDevice(ctx->device);
  if (ctx->cl_ctx) clReleaseContext(ctx->cl_ctx);
  free(ctx->extensions);
  free(ctx->kernel_dir);
  free(ctx->binary_dir);
  free(ctx->cache_dir);
  clattn__mutex_destroy(&ctx->lock);
  free(ctx);
}

cl_context clattn_context_cl_context(const clattn_context *ctx) { return ctx ? ctx->cl_ctx : NULL; }
cl_device_id clattn_context_cl_device(const clattn_context *ctx) { return ctx ? ctx->device : NULL; }
cl_command_queue clattn_context_queue(const clattn_context *ctx) { return ctx ? ctx->queue : NULL; }

clattn_status clattn_context_device_info(const clattn_context *ctx, clattn_device_info *info) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  if (!info)
    return clattn__fail((clattn_context *)ctx, CLATTN_INVALID_ARGUMENT, "info must not be NULL");
  *info = ctx->info;
  return CLATTN_SUCCESS;
}

int clattn_context_has_extension(const clattn_context *ctx, const char *extension) {
  return ctx && clattn__has_extension_word(ctx->extensions, extension);
}

clattn_status clattn_context_cache_stats(const clattn_context *ctx, clattn_cache_stats *stats) {
  if (!ctx) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "ctx must not be NULL");
  clattn_context *mutable_ctx = (clattn_context *)ctx; /* the lock is not logically state */
  if (!stats) return clattn__fail(mutable_ctx, CLATTN_INVALID_ARGUMENT, "stats must not be NULL");
  clattn__mutex_lock(&mutable_ctx->lock);
  *stats = ctx->stats;
  clattn__mutex_unlock(&mutable_ctx->lock);
  return CLATTN_SUCCESS;
}
