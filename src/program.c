#include "program.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "binary_cache.h"
#include "context.h"
#include "errors.h"
#include "sha256.h"
#include "sources.h"

struct clattn__program_entry {
  char file[64];
  char options[CLATTN__OPTIONS_CAPACITY];
  cl_program program;
};

/* What one lookup needs on its way through the caches. */
typedef struct request {
  const char *file;
  char options[CLATTN__OPTIONS_CAPACITY];
  char key[65];
  char *source;
  size_t source_size;
} request;

static double now_seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Hashes one length-prefixed field, so that no two field lists hash the same bytes. */
static void hash_field(clattn__sha256 *h, const void *data, size_t size) {
  unsigned char length[8];
  for (int i = 0; i < 8; i++) length[i] = (unsigned char)((uint64_t)size >> (8 * i));
  clattn__sha256_update(h, length, sizeof length);
  clattn__sha256_update(h, data, size);
}

static void compute_key(const clattn_context *ctx, request *r) {
  const char *fields[] = {r->options, ctx->info.name, ctx->info.driver_version,
                          ctx->info.platform_version, clattn_version_string()};
  clattn__sha256 h;
  clattn__sha256_init(&h);
  hash_field(&h, r->source, r->source_size);
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    hash_field(&h, fields[i], strlen(fields[i]));
  clattn__sha256_hex(&h, r->key);
}

static clattn_status prepare_request(clattn_context *ctx, const char *file,
                                     const clattn__defines *defines, request *r) {
  memset(r, 0, sizeof *r);
  r->file = file;
  if (!file || strlen(file) >= sizeof ((clattn__program_entry *)0)->file)
    return clattn__fail(ctx, CLATTN_INVALID_ARGUMENT, "kernel file name is missing or too long");
  if (clattn__defines_render(defines, r->options, sizeof r->options) >= sizeof r->options)
    return clattn__fail(ctx, CLATTN_INTERNAL, "build options for %s exceed %d bytes", file,
                        CLATTN__OPTIONS_CAPACITY - 1);
  clattn_status status =
      clattn__source_load_expanded(ctx, ctx->kernel_dir, file, &r->source, &r->source_size);
  if (status == CLATTN_SUCCESS) compute_key(ctx, r);
  return status;
}

clattn_status clattn__program_identity(clattn_context *ctx, const char *file,
                                       const clattn__defines *defines,
                                       char options[CLATTN__OPTIONS_CAPACITY], char key[65]) {
  request r;
  clattn_status status = prepare_request(ctx, file, defines, &r);
  if (status == CLATTN_SUCCESS) {
    memcpy(options, r.options, sizeof r.options);
    memcpy(key, r.key, sizeof r.key);
  }
  free(r.source);
  return status;
}

static clattn__program_entry *find_entry(clattn_context *ctx, const char *file,
                                         const char *options) {
  for (size_t i = 0; i < ctx->program_count; i++) {
    clattn__program_entry *e = &ctx->programs[i];
    if (strcmp(e->file, file) == 0 && strcmp(e->options, options) == 0) return e;
  }
  return NULL;
}

/* Compiles (or links a binary into) a created program; the log goes into the message. */
static clattn_status build(clattn_context *ctx, cl_program program, const request *r,
                           const char *what) {
  cl_int err = clBuildProgram(program, 1, &ctx->device, r->options, NULL, NULL);
  if (err == CL_SUCCESS) return CLATTN_SUCCESS;
  clattn_status status =
      clattn__fail(ctx, CLATTN_BUILD_FAILED, "clBuildProgram failed with %s (%d) building %s from %s with \"%s\" for %s",
                   clattn_cl_error_name(err), (int)err, r->file, what, r->options, ctx->info.name);
  size_t log_size = 0;
  if (clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &log_size) ==
          CL_SUCCESS && log_size > 1) {
    char *log = malloc(log_size + 1);
    if (log && clGetProgramBuildInfo(program, ctx->device, CL_PROGRAM_BUILD_LOG, log_size, log,
                                     NULL) == CL_SUCCESS) {
      log[log_size] = '\0';
      clattn__append_error(ctx, "; compiler log:\n");
      clattn__append_error(ctx, log);
    }
    free(log);
  }
  return status;
}

static clattn_status from_source(clattn_context *ctx, const request *r, cl_program *out) {
  cl_int err;
  const char *text = r->source;
  cl_program program = clCreateProgramWithSource(ctx->cl_ctx, 1, &text, &r->source_size, &err);
  if (!program) return clattn__fail_cl(ctx, err, "clCreateProgramWithSource", "%s", r->file);
  clattn_status status = build(ctx, program, r, "source");
  if (status != CLATTN_SUCCESS) {
    clReleaseProgram(program);
    return status;
  }
  *out = program;
  return CLATTN_SUCCESS;
}

/* Loads a binary; fails quietly (NULL) since the caller falls back to the next source. */
static cl_program from_binary(clattn_context *ctx, const request *r,
                              const unsigned char *binary, size_t size) {
  cl_int err, binary_status;
  cl_program program =
      clCreateProgramWithBinary(ctx->cl_ctx, 1, &ctx->device, &size, &binary, &binary_status, &err);
  if (!program) return NULL;
  if (clBuildProgram(program, 1, &ctx->device, r->options, NULL, NULL) != CL_SUCCESS) {
    clReleaseProgram(program);
    return NULL;
  }
  return program;
}

/* Tries "<dir>/<key>.bin"; returns the program or NULL, and counts rejected entries. */
static cl_program try_directory(clattn_context *ctx, const request *r, const char *dir,
                                int allow_raw, uint64_t *rejects) {
  unsigned char *binary = NULL;
  size_t size = 0;
  clattn__binary_state state = clattn__binary_read(dir, r->key, allow_raw, &binary, &size);
  cl_program program = state == CLATTN__BINARY_VALID ? from_binary(ctx, r, binary, size) : NULL;
  free(binary);
  if (state != CLATTN__BINARY_MISSING && !program && rejects) (*rejects)++;
  return program;
}

clattn_status clattn__program_binary(clattn_context *ctx, cl_program program,
                                     unsigned char **binary, size_t *size) {
  cl_int err = clGetProgramInfo(program, CL_PROGRAM_BINARY_SIZES, sizeof *size, size, NULL);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clGetProgramInfo", "CL_PROGRAM_BINARY_SIZES");
  if (*size == 0) return clattn__fail(ctx, CLATTN_UNSUPPORTED, "the driver returned an empty program binary");
  *binary = malloc(*size);
  if (!*binary) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  err = clGetProgramInfo(program, CL_PROGRAM_BINARIES, sizeof *binary, binary, NULL);
  if (err != CL_SUCCESS) {
    free(*binary);
    *binary = NULL;
    return clattn__fail_cl(ctx, err, "clGetProgramInfo", "CL_PROGRAM_BINARIES");
  }
  return CLATTN_SUCCESS;
}

/* Saves a freshly built program in the disk cache. A failed write only costs a later
 * rebuild, so it is not the call's failure: its message goes to the thread's buffer. */
static int save_to_disk(clattn_context *ctx, cl_program program, const request *r) {
  unsigned char *binary = NULL;
  size_t size = 0;
  int written = clattn__program_binary(NULL, program, &binary, &size) == CLATTN_SUCCESS &&
                clattn__binary_write(ctx->cache_dir, r->key, binary, size) == 0;
  free(binary);
  return written;
}

/* Finds or makes the program outside the lock, so that one slow build never blocks other
 * threads' cache hits. */
static clattn_status obtain(clattn_context *ctx, const request *r, cl_program *program,
                            clattn_program_origin *origin, uint64_t *rejects, int *written) {
  *program = NULL;
  if (ctx->binary_dir) {
    *program = try_directory(ctx, r, ctx->binary_dir, 1, NULL);
    *origin = CLATTN_ORIGIN_PREBUILT;
  }
  if (!*program && ctx->cache_dir) {
    *program = try_directory(ctx, r, ctx->cache_dir, 0, rejects);
    *origin = CLATTN_ORIGIN_DISK;
  }
  if (*program) return CLATTN_SUCCESS;
  if (!ctx->can_compile)
    return clattn__fail(ctx, CLATTN_NO_COMPILER,
                        "%s cannot compile %s here (%s) and no valid prebuilt binary %s.bin was "
                        "found in %s; build it offline with options \"%s\" (`clattn kernels` "
                        "lists every variant)",
                        ctx->info.name, r->file,
                        ctx->info.compiler_available ? "compilation disabled by allow_compile"
                                                     : "the device has no compiler",
                        r->key, ctx->binary_dir ? ctx->binary_dir : "(no binary_dir given)",
                        r->options);
  *origin = CLATTN_ORIGIN_BUILT;
  clattn_status status = from_source(ctx, r, program);
  if (status == CLATTN_SUCCESS && ctx->cache_dir) *written = save_to_disk(ctx, *program, r);
  return status;
}

static clattn_status remember(clattn_context *ctx, const request *r, cl_program *program) {
  clattn_status status = CLATTN_SUCCESS;
  clattn__program_entry *existing = find_entry(ctx, r->file, r->options);
  if (existing) { /* another thread got there first: share its program */
    clReleaseProgram(*program);
    *program = existing->program;
    return status;
  }
  if (ctx->program_count == ctx->program_capacity) {
    size_t grown = ctx->program_capacity ? 2 * ctx->program_capacity : 16;
    clattn__program_entry *bigger = realloc(ctx->programs, grown * sizeof *bigger);
    if (!bigger) {
      clReleaseProgram(*program);
      *program = NULL;
      return CLATTN_OUT_OF_HOST_MEMORY;
    }
    ctx->programs = bigger;
    ctx->program_capacity = grown;
  }
  clattn__program_entry *e = &ctx->programs[ctx->program_count++];
  snprintf(e->file, sizeof e->file, "%s", r->file);
  memcpy(e->options, r->options, sizeof e->options);
  e->program = *program;
  return status;
}

static void count(clattn_context *ctx, clattn_program_origin origin, double seconds,
                  uint64_t rejects, int written) {
  clattn_cache_stats *s = &ctx->stats;
  s->disk_rejects += rejects;
  s->disk_writes += (uint64_t)written;
  if (origin == CLATTN_ORIGIN_BUILT) {
    s->builds++;
    s->build_seconds += seconds;
  } else {
    if (origin == CLATTN_ORIGIN_PREBUILT) s->prebuilt_loads++;
    if (origin == CLATTN_ORIGIN_DISK) s->disk_hits++;
    s->load_seconds += seconds;
  }
}

clattn_status clattn__program_get(clattn_context *ctx, const char *file,
                                  const clattn__defines *defines, cl_program *program,
                                  clattn_program_origin *origin) {
  request r;
  clattn_program_origin found = CLATTN_ORIGIN_MEMORY;
  char options[CLATTN__OPTIONS_CAPACITY];
  clattn__defines_render(defines, options, sizeof options);
  clattn__mutex_lock(&ctx->lock);
  clattn__program_entry *hit = file ? find_entry(ctx, file, options) : NULL;
  if (hit) {
    ctx->stats.memory_hits++;
    *program = hit->program;
  }
  clattn__mutex_unlock(&ctx->lock);
  if (hit) {
    if (origin) *origin = CLATTN_ORIGIN_MEMORY;
    return CLATTN_SUCCESS;
  }

  clattn_status status = prepare_request(ctx, file, defines, &r);
  uint64_t rejects = 0;
  int written = 0;
  double start = now_seconds();
  if (status == CLATTN_SUCCESS) status = obtain(ctx, &r, program, &found, &rejects, &written);
  double seconds = now_seconds() - start;
  free(r.source);
  clattn__mutex_lock(&ctx->lock);
  ctx->stats.disk_rejects += status == CLATTN_SUCCESS ? 0 : rejects;
  if (status == CLATTN_SUCCESS) {
    count(ctx, found, seconds, rejects, written);
    status = remember(ctx, &r, program);
  }
  clattn__mutex_unlock(&ctx->lock);
  if (status == CLATTN_OUT_OF_HOST_MEMORY)
    return clattn__fail(ctx, status, "out of memory caching a program");
  if (status == CLATTN_SUCCESS && origin) *origin = found;
  return status;
}

clattn_status clattn__kernel_create(clattn_context *ctx, cl_program program, const char *name,
                                    cl_kernel *kernel) {
  cl_int err;
  *kernel = clCreateKernel(program, name, &err);
  if (!*kernel) return clattn__fail_cl(ctx, err, "clCreateKernel", "kernel %s", name);
  return CLATTN_SUCCESS;
}

clattn_status clattn__kernel_work_group_limit(clattn_context *ctx, cl_kernel *kernel,
                                              const char *name, size_t *limit) {
  cl_int err = clGetKernelWorkGroupInfo(*kernel, ctx->device, CL_KERNEL_WORK_GROUP_SIZE,
                                        sizeof *limit, limit, NULL);
  if (err == CL_SUCCESS) return CLATTN_SUCCESS;
  clReleaseKernel(*kernel);
  *kernel = NULL;
  return clattn__fail_cl(ctx, err, "clGetKernelWorkGroupInfo", "kernel %s", name);
}

void clattn__programs_release(clattn_context *ctx) {
  for (size_t i = 0; i < ctx->program_count; i++) clReleaseProgram(ctx->programs[i].program);
  free(ctx->programs);
  ctx->programs = NULL;
  ctx->program_count = ctx->program_capacity = 0;
}
