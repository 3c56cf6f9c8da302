/* Wrapping the caller's cl_context and cl_device_id: clattn retains each exactly once,
 * releases exactly what it retained or created (programs, kernels and buffers included),
 * leaves the caller's queue alone, and rejects devices that are not in the context.
 *
 * Reference counts are compared against a baseline measured on the same implementation:
 * PoCL's command queues (and programs and buffers) retain their context, so "up by exactly
 * one" means one plus what clattn's own queue adds, which we measure with a queue of ours. */
#include <clattn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"

static cl_platform_id platform;
static cl_device_id device;
static cl_uint queue_refs(cl_command_queue q);
static unsigned device_platform_index, device_device_index;

static cl_uint context_refs(cl_context c) {
  cl_uint refs = 0;
  CHECK_CL(clGetContextInfo(c, CL_CONTEXT_REFERENCE_COUNT, sizeof refs, &refs, NULL));
  return refs;
}

/* PoCL drops the references its worker threads hold on finished commands (and through them
 * on a released queue and its context) a little after the work is done, so a count that
 * should fall back is polled for up to two seconds; a real leak stays up. */
static cl_uint context_refs_settled(cl_context c, cl_uint expected) {
  cl_uint refs = context_refs(c);
  for (int i = 0; i < 200 && refs != expected; i++) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
    refs = context_refs(c);
  }
  return refs;
}

static cl_uint queue_refs_settled(cl_command_queue q, cl_uint expected) {
  cl_uint refs = queue_refs(q);
  for (int i = 0; i < 200 && refs != expected; i++) {
    struct timespec pause = {0, 10 * 1000 * 1000};
    nanosleep(&pause, NULL);
    refs = queue_refs(q);
  }
  return refs;
}

static cl_uint queue_refs(cl_command_queue q) {
  cl_uint refs = 0;
  CHECK_CL(clGetCommandQueueInfo(q, CL_QUEUE_REFERENCE_COUNT, sizeof refs, &refs, NULL));
  return refs;
}

static cl_uint device_refs(cl_device_id d) {
  cl_uint refs = 0;
  CHECK_CL(clGetDeviceInfo(d, CL_DEVICE_REFERENCE_COUNT, sizeof refs, &refs, NULL));
  return refs;
}

static cl_uint mem_refs(cl_mem m) {
  cl_uint refs = 0;
  CHECK_CL(clGetMemObjectInfo(m, CL_MEM_REFERENCE_COUNT, sizeof refs, &refs, NULL));
  return refs;
}

/* The first device of the first platform that has one, and its list position. */
static void find_device(void) {
  cl_uint count = 0;
  CHECK_CL(clGetPlatformIDs(0, NULL, &count));
  CHECK(count >= 1);
  cl_platform_id *platforms = calloc(count, sizeof *platforms);
  CHECK(platforms != NULL);
  CHECK_CL(clGetPlatformIDs(count, platforms, NULL));
  for (cl_uint p = 0; p < count; p++) {
    cl_uint n = 0;
    if (clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 1, &device, &n) == CL_SUCCESS && n) {
      platform = platforms[p];
      device_platform_index = p;
      device_device_index = 0;
      break;
    }
  }
  free(platforms);
  CHECK(device != NULL);
}

/* How much one command queue on (c, d) adds to the context's and the device's counts. */
static void queue_adds(cl_context c, cl_device_id d, cl_uint *to_context, cl_uint *to_device) {
  cl_uint c0 = context_refs(c), d0 = device_refs(d);
  cl_int err = CL_SUCCESS;
  cl_command_queue q = clCreateCommandQueue(c, d, CL_QUEUE_PROFILING_ENABLE, &err);
  CHECK_CL(err);
  *to_context = context_refs(c) - c0;
  *to_device = device_refs(d) - d0;
  CHECK_CL(clReleaseCommandQueue(q));
  CHECK_EQ(context_refs(c), c0);
  CHECK_EQ(device_refs(d), d0);
}

/* The caller's context still works: a buffer round trip on a queue of the caller's. */
static void check_context_works(cl_context c, cl_device_id d) {
  cl_int err = CL_SUCCESS;
  cl_command_queue q = clCreateCommandQueue(c, d, 0, &err);
  CHECK_CL(err);
  cl_mem buffer = clCreateBuffer(c, CL_MEM_READ_WRITE, 64 * sizeof(int), NULL, &err);
  CHECK_CL(err);
  int in[64], out[64];
  for (int i = 0; i < 64; i++) in[i] = i * 7 - 3, out[i] = 0;
  CHECK_CL(clEnqueueWriteBuffer(q, buffer, CL_TRUE, 0, sizeof in, in, 0, NULL, NULL));
  CHECK_CL(clEnqueueReadBuffer(q, buffer, CL_TRUE, 0, sizeof out, out, 0, NULL, NULL));
  CHECK(memcmp(in, out, sizeof in) == 0);
  CHECK_CL(clReleaseMemObject(buffer));
  CHECK_CL(clReleaseCommandQueue(q));
}

static void test_wrap(cl_context cl_ctx) {
  cl_uint base = context_refs(cl_ctx), by_queue = 0, by_queue_dev = 0;
  queue_adds(cl_ctx, device, &by_queue, &by_queue_dev);

  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create_from_cl(cl_ctx, device, NULL, &ctx));
  CHECK(ctx != NULL);
  CHECK_EQ(context_refs(cl_ctx), base + 1 + by_queue);
  CHECK(clattn_context_cl_context(ctx) == cl_ctx);
  CHECK(clattn_context_cl_device(ctx) == device);
  cl_command_queue queue = clattn_context_queue(ctx);
  CHECK(queue != NULL);
  cl_context queue_ctx = NULL;
  cl_command_queue_properties props = 0;
  CHECK_CL(clGetCommandQueueInfo(queue, CL_QUEUE_CONTEXT, sizeof queue_ctx, &queue_ctx, NULL));
  CHECK_CL(clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof props, &props, NULL));
  CHECK(queue_ctx == cl_ctx);
  CHECK(props & CL_QUEUE_PROFILING_ENABLE);
  clattn_device_info info;
  CHECK_OK(ctx, clattn_context_device_info(ctx, &info));
  CHECK_EQ(info.platform_index, device_platform_index);
  CHECK_EQ(info.device_index, device_device_index);

  /* A second wrapper on the same context retains it once more. */
  clattn_context *second = NULL;
  CHECK_OK(NULL, clattn_context_create_from_cl(cl_ctx, device, NULL, &second));
  CHECK_EQ(context_refs(cl_ctx), base + 2 * (1 + by_queue));
  clattn_context_destroy(second);
  CHECK_EQ(context_refs_settled(cl_ctx, base + 1 + by_queue), base + 1 + by_queue);
  clattn_context_destroy(ctx);
  CHECK_EQ(context_refs_settled(cl_ctx, base), base);
  check_context_works(cl_ctx, device);

  /* options.device is ignored when wrapping. */
  clattn_context_options options;
  clattn_context_options_init(&options);
  options.device = "no-such-device-ignored-by-interop";
  options.disk_cache = 0;
  ctx = NULL;
  CHECK_OK(NULL, clattn_context_create_from_cl(cl_ctx, device, &options, &ctx));
  CHECK(clattn_context_cl_device(ctx) == device);
  clattn_context_destroy(ctx);
  CHECK_EQ(context_refs_settled(cl_ctx, base), base);
}

/* Real work through a wrapper, on the caller's own queue and on clattn's: afterwards every
 * program, kernel and buffer clattn made is gone (on PoCL each of them holds the context),
 * and the caller's queue and buffer keep exactly the references the caller gave them. */
static void test_work_releases_everything(cl_context cl_ctx) {
  cl_uint base = context_refs(cl_ctx);
  cl_int err = CL_SUCCESS;
  cl_command_queue caller_queue =
      clCreateCommandQueue(cl_ctx, device, CL_QUEUE_PROFILING_ENABLE, &err);
  CHECK_CL(err);
  cl_mem caller_buffer = clCreateBuffer(cl_ctx, CL_MEM_READ_WRITE, 4096, NULL, &err);
  CHECK_CL(err);
  cl_uint with_caller_objects = context_refs(cl_ctx);
  CHECK_EQ(queue_refs_settled(caller_queue, 1), 1);
  CHECK_EQ(mem_refs(caller_buffer), 1);

  clattn_context_options options;
  clattn_context_options_init(&options);
  options.disk_cache = 0;
  clattn_context *ctx = NULL;
  CHECK_OK(NULL, clattn_context_create_from_cl(cl_ctx, device, &options, &ctx));
  clattn_ceilings ceilings = {0.0, 0.0};
  CHECK_OK(ctx, clattn_measure_ceilings(ctx, caller_queue, 1, 3u << 20, &ceilings));
  CHECK(ceilings.fma_gflops > 0.0 && ceilings.triad_gbps > 0.0);
  CHECK_EQ(queue_refs_settled(caller_queue, 1), 1);
  CHECK_OK(ctx, clattn_measure_ceilings(ctx, NULL, 1, 3u << 20, &ceilings));
  CHECK(ceilings.fma_gflops > 0.0 && ceilings.triad_gbps > 0.0);
  CHECK_EQ(queue_refs_settled(caller_queue, 1), 1);
  CHECK_EQ(mem_refs(caller_buffer), 1);
  clattn_context_destroy(ctx);

  CHECK_EQ(context_refs_settled(cl_ctx, with_caller_objects), with_caller_objects);
  CHECK_EQ(queue_refs_settled(caller_queue, 1), 1);
  CHECK_EQ(mem_refs(caller_buffer), 1);
  /* The caller's queue still works after clattn is gone. */
  char in[4096], out[4096];
  memset(in, 0x3c, sizeof in);
  memset(out, 0, sizeof out);
  CHECK_CL(clEnqueueWriteBuffer(caller_queue, caller_buffer, CL_TRUE, 0, sizeof in, in, 0, NULL,
                                NULL));
  CHECK_CL(clEnqueueReadBuffer(caller_queue, caller_buffer, CL_TRUE, 0, sizeof out, out, 0, NULL,
                               NULL));
  CHECK(memcmp(in, out, sizeof in) == 0);
  CHECK_CL(clReleaseMemObject(caller_buffer));
  CHECK_CL(clReleaseCommandQueue(caller_queue));
  CHECK_EQ(context_refs_settled(cl_ctx, base), base);
}

static void test_null_and_foreign(cl_context cl_ctx) {
  cl_uint base = context_refs(cl_ctx);
  clattn_context *ctx = (clattn_context *)&ctx; /* sentinel */
  CHECK_STATUS(NULL, clattn_context_create_from_cl(NULL, device, NULL, &ctx),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "cl_ctx");
  CHECK_STATUS(NULL, clattn_context_create_from_cl(cl_ctx, NULL, NULL, &ctx),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "device");
  CHECK_STATUS(NULL, clattn_context_create_from_cl(cl_ctx, device, NULL, NULL),
               CLATTN_INVALID_ARGUMENT);
  CHECK(ctx == (clattn_context *)&ctx);
  CHECK_EQ(context_refs(cl_ctx), base);

  /* A device that is not in the context: a sub-device of the context's own device is a
   * different cl_device_id, and the root device is not in a sub-device's context. */
  cl_device_partition_property props[] = {CL_DEVICE_PARTITION_EQUALLY, 1, 0};
  cl_device_id subs[64];
  cl_uint sub_count = 0;
  if (clCreateSubDevices(device, props, 64, subs, &sub_count) != CL_SUCCESS || sub_count == 0) {
    printf("test_interop: no sub-devices on this device; foreign-device checks skipped\n");
    return;
  }
  if (sub_count > 64) sub_count = 64;
  CHECK_STATUS(NULL, clattn_context_create_from_cl(cl_ctx, subs[0], NULL, &ctx),
               CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "device");
  CHECK(ctx == (clattn_context *)&ctx);
  CHECK_EQ(context_refs(cl_ctx), base);

  cl_int err = CL_SUCCESS;
  cl_context sub_ctx = clCreateContext(NULL, 1, &subs[0], NULL, NULL, &err);
  CHECK_CL(err);
  /* PoCL 3.1 reports the root device in CL_CONTEXT_DEVICES of a context made on one of its
   * sub-devices, so membership is whatever that query says; check the rest only where the
   * implementation reports the sub-device, as OpenCL requires. */
  cl_device_id listed = NULL;
  CHECK_CL(clGetContextInfo(sub_ctx, CL_CONTEXT_DEVICES, sizeof listed, &listed, NULL));
  if (listed != subs[0]) {
    printf("test_interop: this OpenCL reports device %p, not sub-device %p, for a sub-device "
           "context; sub-device wrapping checks skipped\n",
           (void *)listed, (void *)subs[0]);
  } else {
    cl_uint sub_base = context_refs(sub_ctx);
    cl_uint dev_base = device_refs(subs[0]);
    CHECK_STATUS(NULL, clattn_context_create_from_cl(sub_ctx, device, NULL, &ctx),
                 CLATTN_INVALID_ARGUMENT);
    CHECK(ctx == (clattn_context *)&ctx);
    CHECK_EQ(context_refs(sub_ctx), sub_base);
    CHECK_EQ(device_refs(subs[0]), dev_base);

    /* Wrapping the sub-device itself works; it is not in clattn_list_devices, so its
     * positions are ~0u, and the sub-device (whose count is real) is retained once. */
    cl_uint by_queue = 0, by_queue_dev = 0;
    queue_adds(sub_ctx, subs[0], &by_queue, &by_queue_dev);
    ctx = NULL;
    CHECK_OK(NULL, clattn_context_create_from_cl(sub_ctx, subs[0], NULL, &ctx));
    CHECK_EQ(context_refs(sub_ctx), sub_base + 1 + by_queue);
    CHECK_EQ(device_refs(subs[0]), dev_base + 1 + by_queue_dev);
    clattn_device_info info;
    CHECK_OK(ctx, clattn_context_device_info(ctx, &info));
    CHECK_EQ(info.platform_index, ~0u);
    CHECK_EQ(info.device_index, ~0u);
    CHECK(info.compute_units >= 1);
    clattn_context_destroy(ctx);
    CHECK_EQ(context_refs_settled(sub_ctx, sub_base), sub_base);
    CHECK_EQ(device_refs(subs[0]), dev_base);
    check_context_works(sub_ctx, subs[0]);
  }

  CHECK_CL(clReleaseContext(sub_ctx));
  for (cl_uint i = 0; i < sub_count; i++) CHECK_CL(clReleaseDevice(subs[i]));
}

int main(void) {
  find_device();
  cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
  cl_int err = CL_SUCCESS;
  cl_context cl_ctx = clCreateContext(props, 1, &device, NULL, NULL, &err);
  CHECK_CL(err);
  CHECK_EQ(context_refs(cl_ctx), 1);

  test_wrap(cl_ctx);
  test_null_and_foreign(cl_ctx);
  test_work_releases_everything(cl_ctx);

  CHECK_EQ(context_refs_settled(cl_ctx, 1), 1);
  check_context_works(cl_ctx, device);
  CHECK_CL(clReleaseContext(cl_ctx));
  return check_done("test_interop");
}
