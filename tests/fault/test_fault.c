/* Fault injection: every OpenCL allocation, program build, kernel creation and enqueue that
 * clattn makes in a whole workflow (fault_workflow.c) is made to fail in turn (fault_cl.c).
 * For the n-th such call the test checks that
 *  - the clattn call that made it returns a failure status, with a message naming the OpenCL
 *    call and its error, and leaves the caller's event pointer alone; or, for a disk-cache
 *    binary that cannot be loaded, succeeds by compiling instead;
 *  - the caller's outputs of that call are untouched (their NaN and canary fill) or completely
 *    and correctly written, never partly;
 *  - retrying the call without the fault succeeds and the rest of the workflow then gives
 *    bitwise the clean run's results: the context, caches and layer still work and lost
 *    nothing (a KV cache holds exactly what it held before the failed call);
 *  - once the test destroys what it made, no OpenCL object clattn created is left alive.
 * The walk runs twice: with the disk cache (programs come from binaries) and without it
 * (programs are compiled). test_fault tries every FAULT_STRIDE-th call; test_fault_long (label
 * fault-long) tries every call. clattn_context_create, which makes its own cl_context and
 * applies a tuning file, gets its own walk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "context.h"
#include "fault_cl.h"
#include "fault_workflow.h"
#include "tuning.h"

#ifndef FAULT_STRIDE
#define FAULT_STRIDE 1
#endif

/* 1 when the message names the call that failed and its error code. */
static int names_failure(const char *message, const char *call, cl_int error) {
  return strstr(message, call) && strstr(message, clattn_cl_error_name(error));
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

/* Each output of the failed step is as it was, or completely written. */
static void check_outputs_after_failure(fw *w, const fw_step *step, long n) {
  fw_read_outputs(w);
  for (int j = 0; step->outputs[j] >= 0; j++) {
    const fw_output *o = &w->out[step->outputs[j]];
    size_t view = o->floats - FW_CANARY;
    if (step->partial && same(o->seen + view, o->initial + view, FW_CANARY)) {
      check_pass();
      continue;
    }
    if (!same(o->seen, o->initial, o->floats) && !same(o->seen, o->golden, o->floats))
      check_fail(__FILE__, __LINE__, "call %ld (%s) failed inside %s and left %s partly written",
                 n, fault_call_name(n), step->name, o->name);
    check_pass();
  }
}

static void finish_event(cl_event event) {
  if (!event) return;
  CHECK_CL(clWaitForEvents(1, &event));
  CHECK_CL(clReleaseEvent(event));
}

/* Runs step i with the fault armed; on its failure, checks it and retries without the fault.
 * Returns 1 when the step failed, 0 otherwise. */
static int run_step(fw *w, int i, long n, int *absorbed) {
  const fw_step *step = &FW_STEPS[i];
  int fired_before = fault_fired(NULL) != NULL;
  cl_event event = NULL;
  clattn_status status = step->run(w, &event);
  cl_int error;
  const char *fired = fired_before ? NULL : fault_fired(&error);
  if (status == CLATTN_SUCCESS) {
    finish_event(event);
    /* Only a disk-cache or prebuilt binary that fails to load may be absorbed (compiled). */
    if (fired && strcmp(fired, "clCreateProgramWithBinary") && strcmp(fired, "clBuildProgram"))
      check_fail(__FILE__, __LINE__, "call %ld (%s, %s) failed inside %s, which still succeeded",
                 n, fired, clattn_cl_error_name(error), step->name);
    *absorbed += fired != NULL;
    return 0;
  }
  const char *message = clattn_last_error(w->ctx);
  if (!fired)
    check_fail(__FILE__, __LINE__, "%s failed with %s without an injected fault: %s", step->name,
               clattn_status_name(status), message);
  if (!names_failure(message, fired, error))
    check_fail(__FILE__, __LINE__, "call %ld: %s failed (%s) in %s with %s but the message does "
               "not name both: \"%s\"", n, fired, clattn_cl_error_name(error), step->name,
               clattn_status_name(status), message);
  CHECK(event == NULL);
  check_outputs_after_failure(w, step, n);
  fault_disarm();
  status = step->run(w, &event);
  if (status != CLATTN_SUCCESS)
    check_fail(__FILE__, __LINE__, "call %ld: retrying %s after the fault gave %s: %s", n,
               step->name, clattn_status_name(status), clattn_last_error(w->ctx));
  finish_event(event);
  return 1;
}

/* The whole workflow with the n-th call failing (n = 0: none); returns the failed step or -1. */
static int run_workflow(fw *w, long n, int *absorbed) {
  long live = fault_live(), since = fault_serial();
  fw_reset_outputs(w);
  fault_arm(n);
  int failed = -1;
  for (int i = 0; i < FW_STEP_COUNT; i++)
    if (run_step(w, i, n, absorbed)) failed = i;
  if (n > 0 && !fault_fired(NULL))
    check_fail(__FILE__, __LINE__, "call %ld (%s) was never made", n, fault_call_name(n));
  fault_disarm();
  fw_read_outputs(w);
  if (n == 0) {
    if (fault_live() <= live) check_fail(__FILE__, __LINE__, "the object table saw no objects");
    for (int j = 0; j < w->out_count; j++)
      memcpy(w->out[j].golden, w->out[j].seen, w->out[j].floats * sizeof(float));
  }
  for (int j = 0; j < w->out_count; j++)
    if (!same(w->out[j].seen, w->out[j].golden, w->out[j].floats))
      check_fail(__FILE__, __LINE__, "after call %ld (%s) failed, %s differs from the clean run",
                 n, fault_call_name(n), w->out[j].name);
  fw_end_run(w);
  if (fault_live() != live) {
    fprintf(stderr, "call %ld (%s) failed; objects left:\n", n, fault_call_name(n));
    fault_print_live(since);
    check_fail(__FILE__, __LINE__, "%ld OpenCL objects leaked", fault_live() - live);
  }
  check_pass();
  return failed;
}

/* Every stride-th call of the workflow, with the disk cache on or off. */
static void walk(fw *w, int disk_cache, long stride) {
  w->options.disk_cache = disk_cache;
  int absorbed = 0;
  run_workflow(w, 0, &absorbed);
  long total = fault_count();
  printf("disk cache %s: %ld faultable calls in the workflow; trying every %ld%s\n",
         disk_cache ? "on" : "off", total, stride, stride == 1 ? "" : " (test_fault_long: all)");
  int failures[64] = {0};
  const char *from = getenv("FAULT_FROM"); /* for debugging: start the walk there */
  for (long n = from ? atol(from) : 1; n <= total; n += stride) {
    int step = run_workflow(w, n, &absorbed);
    if (step >= 0) failures[step]++;
  }
  for (int i = 0; i < FW_STEP_COUNT; i++)
    if (failures[i]) printf("  %3d faults failed %s\n", failures[i], FW_STEPS[i].name);
  printf("  %3d faults absorbed (a binary failed to load and was compiled instead)\n", absorbed);
}

/* ---- clattn_context_create ------------------------------------------------------------- */

/* A tuning file for the device, so that creating a context applies one. */
static void write_tuning_file(clattn_context *ctx) {
  const char *dir = getenv("CLATTN_TUNING_DIR");
  if (!dir || !*dir) check_fail(__FILE__, __LINE__, "CLATTN_TUNING_DIR is not set");
  char key[17];
  clattn__tuning_device_key(&ctx->info, key);
  if (clattn__tuning_write(dir, strcat(strcpy((char[32]){0}, key), ".tune"),
                           "clblast GemmRoutine 32 XGEMM_MIN_INDIRECT_SIZE=64\n") != 0)
    check_fail(__FILE__, __LINE__, "cannot write the tuning file in %s", dir);
}

static void check_tuning_applied(clattn_context *ctx) {
  clattn__tuning_status tuning;
  CHECK_OK(ctx, clattn__context_tuning(ctx, &tuning));
  CHECK_EQ(tuning.state, CLATTN__TUNING_APPLIED);
}

static void walk_context_create(void) {
  long live = fault_live();
  clattn_context *ctx = NULL;
  fault_arm(0);
  CHECK_OK(NULL, FAULT_CALL(clattn_context_create(NULL, &ctx)));
  long total = fault_count();
  check_tuning_applied(ctx);
  clattn_context_destroy(ctx);
  CHECK_EQ(fault_live(), live);
  for (long n = 1; n <= total; n++) {
    clattn_context *untouched = (clattn_context *)&ctx;
    ctx = untouched;
    fault_arm(n);
    clattn_status status = FAULT_CALL(clattn_context_create(NULL, &ctx));
    cl_int error;
    const char *fired = fault_fired(&error);
    CHECK(fired != NULL && status != CLATTN_SUCCESS);
    if (!names_failure(clattn_last_error(NULL), fired, error))
      check_fail(__FILE__, __LINE__, "%s failed in clattn_context_create; message: \"%s\"", fired,
                 clattn_last_error(NULL));
    CHECK(ctx == untouched);
    CHECK_EQ(fault_live(), live);
    fault_disarm();
    CHECK_OK(NULL, clattn_context_create(NULL, &ctx));
    check_tuning_applied(ctx);
    clattn_context_destroy(ctx);
    CHECK_EQ(fault_live(), live);
  }
  printf("clattn_context_create: %ld faultable calls, each failed cleanly\n", total);
}

int main(void) {
  setvbuf(stdout, NULL, _IOLBF, 0);
  clattn_context *boot = NULL;
  CHECK_OK(NULL, clattn_context_create(NULL, &boot));
  write_tuning_file(boot);
  printf("device: %s\n", boot->info.name);
  cl_device_id device = clattn_context_cl_device(boot);
  cl_platform_id platform;
  CHECK_CL(clGetDeviceInfo(device, CL_DEVICE_PLATFORM, sizeof platform, &platform, NULL));
  clattn_context_destroy(boot);
  walk_context_create();

  cl_context_properties properties[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)platform, 0};
  cl_int err;
  cl_context cl = clCreateContext(properties, 1, &device, NULL, NULL, &err);
  CHECK_CL(err);
  cl_command_queue queue = clCreateCommandQueue(cl, device, 0, &err);
  CHECK_CL(err);
  long live = fault_live();
  fw w;
  fw_init(&w, cl, device, queue);
  walk(&w, 1, FAULT_STRIDE);
  walk(&w, 0, FAULT_STRIDE);
  fw_free(&w);
  CHECK_CL(clReleaseCommandQueue(queue));
  CHECK_CL(clReleaseContext(cl));
  CHECK_EQ(fault_live(), live - 2);
  return check_done("test_fault");
}
