/* Context life cycle, accessors, device facts, extensions, and the argument checks and
 * error messages of every public function that takes pointers. No kernel is built here. */
#include <clattn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "testutil.h"

static void test_options_init(void) {
  clattn_context_options options;
  memset(&options, 0x5a, sizeof options);
  clattn_context_options_init(&options);
  CHECK(options.device == NULL);
  CHECK(options.cache_dir == NULL);
  CHECK_EQ(options.disk_cache, -1);
  CHECK(options.kernel_dir == NULL);
  CHECK(options.binary_dir == NULL);
  CHECK_EQ(options.allow_compile, 1);
}

static void test_create_destroy(void) {
  clattn_context_destroy(NULL);
  check_pass();

  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(NULL, &ctx));
  CHECK(ctx != NULL);
  CHECK(strcmp(clattn_last_error(ctx), "") == 0); /* no failure yet */
  clattn_context_destroy(ctx);

  clattn_context_options options;
  clattn_context_options_init(&options);
  ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &ctx));
  CHECK(ctx != NULL);
  /* Several contexts at once are independent. */
  clattn_context *second = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &second));
  CHECK(second != NULL && second != ctx);
  CHECK(clattn_context_queue(second) != clattn_context_queue(ctx));
  clattn_context_destroy(second);
  clattn_context_destroy(ctx);
}

static void same_info(const clattn_device_info *a, const clattn_device_info *b) {
  CHECK_EQ(a->platform_index, b->platform_index);
  CHECK_EQ(a->device_index, b->device_index);
  CHECK(strcmp(a->name, b->name) == 0);
  CHECK(strcmp(a->vendor, b->vendor) == 0);
  CHECK(strcmp(a->platform_name, b->platform_name) == 0);
  CHECK(strcmp(a->platform_version, b->platform_version) == 0);
  CHECK(strcmp(a->device_version, b->device_version) == 0);
  CHECK(strcmp(a->driver_version, b->driver_version) == 0);
  CHECK(strcmp(a->opencl_c_version, b->opencl_c_version) == 0);
  CHECK_EQ(a->type, b->type);
  CHECK_EQ(a->compute_units, b->compute_units);
  CHECK_EQ(a->max_clock_mhz, b->max_clock_mhz);
  CHECK_EQ(a->global_mem_size, b->global_mem_size);
  CHECK_EQ(a->max_mem_alloc_size, b->max_mem_alloc_size);
  CHECK_EQ(a->local_mem_size, b->local_mem_size);
  CHECK_EQ(a->local_mem_is_dedicated, b->local_mem_is_dedicated);
  CHECK_EQ(a->max_work_group_size, b->max_work_group_size);
  for (int i = 0; i < 3; i++) CHECK_EQ(a->max_work_item_sizes[i], b->max_work_item_sizes[i]);
  CHECK_EQ(a->preferred_vector_width_float, b->preferred_vector_width_float);
  CHECK_EQ(a->mem_base_addr_align, b->mem_base_addr_align);
  CHECK_EQ(a->has_fp16, b->has_fp16);
  CHECK_EQ(a->has_fp64, b->has_fp64);
  CHECK_EQ(a->compiler_available, b->compiler_available);
  CHECK(strcmp(a->extensions, b->extensions) == 0);
}

static void test_device_info(clattn_context *ctx) {
  size_t index = 0, count = 0;
  CHECK_OK(NULL, clattn_select_device(NULL, &index));
  CHECK_STATUS(NULL, clattn_list_devices(NULL, 0, &count), CLATTN_BUFFER_TOO_SMALL);
  CHECK(index < count);
  clattn_device_info *list = calloc(count, sizeof *list);
  CHECK(list != NULL);
  CHECK_OK(NULL, clattn_list_devices(list, count, &count));
  clattn_device_info info;
  memset(&info, 0x5a, sizeof info);
  CHECK_OK(ctx, clattn_context_device_info(ctx, &info));
  same_info(&info, &list[index]);
  free(list);

  /* The accessors return the context's own objects, consistent with each other. */
  cl_context cl_ctx = clattn_context_cl_context(ctx);
  cl_device_id device = clattn_context_cl_device(ctx);
  cl_command_queue queue = clattn_context_queue(ctx);
  CHECK(cl_ctx != NULL && device != NULL && queue != NULL);
  cl_context queue_ctx = NULL;
  cl_device_id queue_device = NULL;
  cl_command_queue_properties props = 0;
  CHECK_CL(clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof queue_ctx, &queue_ctx, NULL));
  CHECK_CL(clGetCommandQueueInfo(queue, CL_QUEUE_DEVICE, sizeof queue_device, &queue_device,
                                 NULL));
  CHECK_CL(clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL));
  CHECK(queue_ctx == cl_ctx);
  CHECK(queue_device == device);
  CHECK(props & CL_QUEUE_PROFILING_ENABLE);
  CHECK(!(props & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE));
  char name[256] = {0};
  CHECK_CL(clGetDeviceInfo(device, CL_DEVICE_NAME, sizeof name - 1, name, NULL));
  CHECK(strcmp(name, info.name) == 0);

  /* The queue works: a buffer round trip through it. */
  cl_int err = CL_SUCCESS;
  cl_mem buffer = clCreateBuffer(cl_ctx, CL_MEM_READ_WRITE, 16 * sizeof(float), NULL, &err);
  CHECK_CL(err);
  float in[16], out[16];
  for (int i = 0; i < 16; i++) in[i] = (float)i * 0.5f, out[i] = -1.0f;
  CHECK_CL(clEnqueueWriteBuffer(queue, buffer, CL_TRUE, 0, sizeof in, in, 0, NULL, NULL));
  CHECK_CL(clEnqueueReadBuffer(queue, buffer, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL));
  CHECK(memcmp(in, out, sizeof in) == 0);
  CHECK_CL(clReleaseMemObject(buffer));
}

static void test_extensions(clattn_context *ctx) {
  clattn_device_info info;
  CHECK_OK(ctx, clattn_context_device_info(ctx, &info));
  CHECK_EQ(clattn_context_has_extension(ctx, "cl_khr_fp64"), info.has_fp64);
  CHECK_EQ(clattn_context_has_extension(ctx, "cl_khr_fp16"), info.has_fp16);
  if (strstr(info.platform_name, "Portable Computing Language"))
    CHECK_EQ(clattn_context_has_extension(ctx, "cl_khr_fp64"), 1);
  CHECK_EQ(clattn_context_has_extension(ctx, "cl_clattn_made_up_extension"), 0);
  CHECK_EQ(clattn_context_has_extension(ctx, ""), 0);
  CHECK_EQ(clattn_context_has_extension(ctx, NULL), 0);
  CHECK_EQ(clattn_context_has_extension(NULL, "cl_khr_fp64"), 0);

  /* Exact names only: every listed extension is found, its prefixes and suffixes are not. */
  char list[sizeof info.extensions];
  memcpy(list, info.extensions, sizeof list);
  size_t listed = 0;
  char *save = NULL;
  for (char *ext = strtok_r(list, " ", &save); ext; ext = strtok_r(NULL, " ", &save)) {
    CHECK_EQ(clattn_context_has_extension(ctx, ext), 1);
    size_t len = strlen(ext);
    char shorter[256];
    if (len > 1 && len < sizeof shorter) {
      memcpy(shorter, ext, len - 1);
      shorter[len - 1] = '\0';
      /* A prefix may itself be a real extension (cl_khr_fp16 vs cl_khr_fp16x): skip it. */
      char padded[sizeof info.extensions + 3];
      snprintf(padded, sizeof padded, " %s ", info.extensions);
      char needle[260];
      snprintf(needle, sizeof needle, " %s ", shorter);
      if (!strstr(padded, needle)) CHECK_EQ(clattn_context_has_extension(ctx, shorter), 0);
      snprintf(needle, sizeof needle, " %s ", ext + 1);
      if (!strstr(padded, needle)) CHECK_EQ(clattn_context_has_extension(ctx, ext + 1), 0);
    }
    listed++;
  }
  CHECK(listed >= 1);
  char two[64];
  snprintf(two, sizeof two, "cl_khr_fp64 cl_khr_fp64");
  CHECK_EQ(clattn_context_has_extension(ctx, two), 0);
}

/* Every public function that takes pointers rejects NULL ones, names the argument, and
 * leaves its outputs alone. */
static void test_null_arguments(clattn_context *ctx) {
  clattn_context *out_ctx = (clattn_context *)&out_ctx; /* sentinel */
  CHECK_STATUS(NULL, clattn_context_create(NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");

  cl_context cl_ctx = clattn_context_cl_context(ctx);
  cl_device_id device = clattn_context_cl_device(ctx);
  CHECK_STATUS(NULL, clattn_context_create_from_cl(NULL, device, NULL, &out_ctx),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "cl_ctx");
  CHECK_STATUS(NULL, clattn_context_create_from_cl(cl_ctx, NULL, NULL, &out_ctx),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "device");
  CHECK_STATUS(NULL, clattn_context_create_from_cl(cl_ctx, device, NULL, NULL),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
  CHECK(out_ctx == (clattn_context *)&out_ctx);

  size_t count = 4242;
  clattn_device_info info;
  CHECK_STATUS(NULL, clattn_list_devices(&info, 1, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "count");
  CHECK_STATUS(NULL, clattn_list_devices(NULL, 3, &count), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "out");
  CHECK_EQ(count, 4242);
  CHECK_STATUS(NULL, clattn_select_device(NULL, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "index");

  /* Context functions with ctx NULL report through the context-less message. */
  CHECK_STATUS(NULL, clattn_context_device_info(NULL, &info), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
  CHECK_STATUS(ctx, clattn_context_device_info(ctx, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "info");

  clattn_kernel_variant variant;
  CHECK_STATUS(NULL, clattn_kernel_variants(NULL, &variant, 1, &count), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
  CHECK_STATUS(ctx, clattn_kernel_variants(ctx, NULL, 1, &count), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "out");
  CHECK_STATUS(ctx, clattn_kernel_variants(ctx, &variant, 1, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "count");
  CHECK_EQ(count, 4242);

  clattn_cache_stats stats;
  CHECK_STATUS(NULL, clattn_context_cache_stats(NULL, &stats), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
  CHECK_STATUS(ctx, clattn_context_cache_stats(ctx, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "stats");

  CHECK_STATUS(NULL, clattn_prepare_kernels(NULL, NULL, 0), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");

  char *dir = tu_join(tu_scratch_dir("null_args"), "export");
  CHECK_STATUS(NULL, clattn_export_binaries(NULL, dir), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
  CHECK_STATUS(ctx, clattn_export_binaries(ctx, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "dir");
  CHECK(!tu_exists(dir));
  free(dir);

  clattn_ceilings ceilings = {-1.0, -1.0};
  CHECK_STATUS(NULL, clattn_measure_ceilings(NULL, NULL, 1, 4096, &ceilings),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "ctx");
  CHECK_STATUS(ctx, clattn_measure_ceilings(ctx, NULL, 1, 4096, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(ctx), "out");
  CHECK_EQ(ceilings.fma_gflops, -1.0);

  /* The accessors of a NULL context give NULL rather than crashing. */
  CHECK(clattn_context_cl_context(NULL) == NULL);
  CHECK(clattn_context_cl_device(NULL) == NULL);
  CHECK(clattn_context_queue(NULL) == NULL);
  CHECK(clattn_last_error(NULL) != NULL);

  /* None of this cost the context any cache work. */
  clattn_cache_stats after = tu_stats(ctx);
  CHECK_EQ(after.builds, 0);
  CHECK_EQ(after.disk_hits + after.prebuilt_loads + after.memory_hits, 0);
}

/* A failure on one context does not show on another, and the context-less message is
 * separate from both. */
static void test_error_isolation(clattn_context *ctx) {
  clattn_context *other = NULL;
  CHECK_OK(NULL, clattn_context_create(NULL, &other));
  CHECK(strcmp(clattn_last_error(other), "") == 0);
  CHECK_STATUS(ctx, clattn_context_cache_stats(ctx, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK(strcmp(clattn_last_error(other), "") == 0);
  size_t index = 0;
  CHECK_STATUS(NULL, clattn_select_device("no-such-device-isolation", &index),
               CLATTN_DEVICE_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(NULL), "no-such-device-isolation");
  CHECK(strstr(clattn_last_error(ctx), "no-such-device-isolation") == NULL);
  CHECK(strcmp(clattn_last_error(other), "") == 0);
  /* A failing context call reports on the context, not on the thread. */
  CHECK_STATUS(other, clattn_context_device_info(other, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "no-such-device-isolation");
  clattn_context_destroy(other);
}

typedef struct thread_result {
  char initial[256];
  char after[256];
  clattn_status status;
} thread_result;

static void *thread_main(void *arg) {
  thread_result *result = arg;
  snprintf(result->initial, sizeof result->initial, "%s", clattn_last_error(NULL));
  size_t index = 0;
  result->status = clattn_select_device("no-such-device-in-thread", &index);
  snprintf(result->after, sizeof result->after, "%s", clattn_last_error(NULL));
  return NULL;
}

/* The context-less message is per thread. */
static void test_thread_local_error(void) {
  size_t index = 0;
  CHECK_STATUS(NULL, clattn_select_device("no-such-device-main", &index), CLATTN_DEVICE_NOT_FOUND);
  thread_result result;
  memset(&result, 0, sizeof result);
  pthread_t thread;
  CHECK_EQ(pthread_create(&thread, NULL, thread_main, &result), 0);
  CHECK_EQ(pthread_join(thread, NULL), 0);
  CHECK(strcmp(result.initial, "") == 0);
  CHECK_EQ(result.status, CLATTN_DEVICE_NOT_FOUND);
  CHECK_CONTAINS(result.after, "no-such-device-in-thread");
  CHECK_CONTAINS(clattn_last_error(NULL), "no-such-device-main");
}

/* Failed creation leaves *ctx alone and explains itself. */
static void test_create_failure(void) {
  clattn_context *ctx = (clattn_context *)&ctx;
  clattn_context_options options;
  clattn_context_options_init(&options);
  options.device = "no-such-device-create";
  CHECK_STATUS(NULL, clattn_context_create(&options, &ctx), CLATTN_DEVICE_NOT_FOUND);
  CHECK(ctx == (clattn_context *)&ctx);
  CHECK_CONTAINS(clattn_last_error(NULL), "no-such-device-create");
  CHECK_STATUS(NULL, clattn_context_create(&options, NULL), CLATTN_INVALID_ARGUMENT);
}

int main(void) {
  unsetenv("CLATTN_DEVICE");
  unsetenv("CLATTN_KERNEL_DIR");
  unsetenv("CLATTN_BINARY_DIR");
  test_options_init();
  test_create_destroy();
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(NULL, &ctx));
  test_device_info(ctx);
  test_extensions(ctx);
  test_null_arguments(ctx);
  test_error_isolation(ctx);
  test_thread_local_error();
  test_create_failure();
  clattn_context_destroy(ctx);
  return check_done("test_context");
}
