/* The --wrap functions of fault_cl.h. Each faultable wrapper asks should_fail() first; each
 * creating wrapper records the new object, retains and releases adjust its count, and an
 * object dropped to zero leaves the table. Objects the table does not know (CLBlast's, the
 * platform's) are passed through untouched. */
#include "fault_cl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- counting and failing ------------------------------------------------------------ */

static int counting;
static long armed_at, counted;
static const char *fired;
static cl_int fired_error;
static const char *call_log[FAULT_LOG_CAPACITY];

void fault_on(void) { counting = 1; }

clattn_status fault_off(clattn_status status) {
  counting = 0;
  return status;
}

void fault_arm(long n) {
  armed_at = n < 0 ? 0 : n;
  counted = 0;
  fired = NULL;
  fired_error = CL_SUCCESS;
}

void fault_disarm(void) { armed_at = -1; }

long fault_count(void) { return counted; }

const char *fault_fired(cl_int *error) {
  if (error) *error = fired_error;
  return fired;
}

const char *fault_call_name(long n) {
  return n >= 1 && n <= FAULT_LOG_CAPACITY && call_log[n - 1] ? call_log[n - 1] : "?";
}

/* Counts a faultable call; 1 when it is the one to fail (then *err gets `error`). */
static int should_fail(const char *name, cl_int error, cl_int *err) {
  if (!counting) return 0;
  counted++;
  if (!armed_at && counted <= FAULT_LOG_CAPACITY) call_log[counted - 1] = name;
  if (counted != armed_at) return 0;
  fired = name;
  fired_error = error;
  if (err) *err = error;
  return 1;
}

/* ---- the object table ------------------------------------------------------------------ */

typedef struct object {
  const void *handle;
  const char *creator;
  long serial;
  long refs;
} object;

static object *objects;
static long object_count, object_capacity, serial;

static object *find(const void *handle) {
  for (long i = 0; handle && i < object_count; i++)
    if (objects[i].handle == handle) return &objects[i];
  return NULL;
}

static void created(const void *handle, const char *creator) {
  if (!handle) return;
  object *known = find(handle); /* a handle the driver reused after we lost track of it */
  if (known) {
    known->refs++;
    return;
  }
  if (object_count == object_capacity) {
    long grown = object_capacity ? 2 * object_capacity : 256;
    object *bigger = realloc(objects, (size_t)grown * sizeof *bigger);
    if (!bigger) {
      fprintf(stderr, "fault_cl: out of memory for the object table\n");
      return;
    }
    objects = bigger;
    object_capacity = grown;
  }
  objects[object_count++] = (object){handle, creator, ++serial, 1};
}

static void retained(const void *handle) {
  object *o = find(handle);
  if (o) o->refs++;
}

static void released(const void *handle) {
  object *o = find(handle);
  if (o && --o->refs == 0) *o = objects[--object_count];
}

long fault_live(void) { return object_count; }
long fault_serial(void) { return serial; }

long fault_print_live(long since) {
  long n = 0;
  for (long i = 0; i < object_count; i++) {
    if (objects[i].serial <= since) continue;
    fprintf(stderr, "  live: %p from %s (object #%ld, %ld references)\n", objects[i].handle,
            objects[i].creator, objects[i].serial, objects[i].refs);
    n++;
  }
  return n;
}

/* ---- wrappers --------------------------------------------------------------------------- */

/* Every __wrap_X needs a prototype (-Wmissing-prototypes); __real_X is the library's X. */
#define DECLARE(ret, name, params) \
  ret __real_##name params;        \
  ret __wrap_##name params;

DECLARE(cl_mem, clCreateBuffer, (cl_context, cl_mem_flags, size_t, void *, cl_int *))
DECLARE(cl_event, clCreateUserEvent, (cl_context, cl_int *))
DECLARE(cl_context, clCreateContext,
        (const cl_context_properties *, cl_uint, const cl_device_id *,
         void(CL_CALLBACK *)(const char *, const void *, size_t, void *), void *, cl_int *))
DECLARE(cl_command_queue, clCreateCommandQueue,
        (cl_context, cl_device_id, cl_command_queue_properties, cl_int *))
DECLARE(cl_program, clCreateProgramWithSource,
        (cl_context, cl_uint, const char **, const size_t *, cl_int *))
DECLARE(cl_program, clCreateProgramWithBinary,
        (cl_context, cl_uint, const cl_device_id *, const size_t *, const unsigned char **,
         cl_int *, cl_int *))
DECLARE(cl_int, clBuildProgram,
        (cl_program, cl_uint, const cl_device_id *, const char *,
         void(CL_CALLBACK *)(cl_program, void *), void *))
DECLARE(cl_kernel, clCreateKernel, (cl_program, const char *, cl_int *))
DECLARE(cl_int, clEnqueueNDRangeKernel,
        (cl_command_queue, cl_kernel, cl_uint, const size_t *, const size_t *, const size_t *,
         cl_uint, const cl_event *, cl_event *))
DECLARE(cl_int, clEnqueueWriteBuffer,
        (cl_command_queue, cl_mem, cl_bool, size_t, size_t, const void *, cl_uint,
         const cl_event *, cl_event *))
DECLARE(cl_int, clEnqueueReadBuffer,
        (cl_command_queue, cl_mem, cl_bool, size_t, size_t, void *, cl_uint, const cl_event *,
         cl_event *))
DECLARE(cl_int, clEnqueueFillBuffer,
        (cl_command_queue, cl_mem, const void *, size_t, size_t, size_t, cl_uint,
         const cl_event *, cl_event *))
DECLARE(cl_int, clEnqueueCopyBuffer,
        (cl_command_queue, cl_mem, cl_mem, size_t, size_t, size_t, cl_uint, const cl_event *,
         cl_event *))
DECLARE(cl_int, clEnqueueMarkerWithWaitList, (cl_command_queue, cl_uint, const cl_event *, cl_event *))
DECLARE(cl_int, clEnqueueBarrierWithWaitList, (cl_command_queue, cl_uint, const cl_event *, cl_event *))

/* Objects created by a call that returns them (clCreateX). */
#define CREATE(ret, name, error, params, args)             \
  ret __wrap_##name params {                               \
    if (should_fail(#name, error, errcode_ret)) return NULL; \
    ret made = __real_##name args;                         \
    created(made, #name);                                  \
    return made;                                           \
  }

CREATE(cl_mem, clCreateBuffer, CL_MEM_OBJECT_ALLOCATION_FAILURE,
       (cl_context c, cl_mem_flags f, size_t s, void *h, cl_int *errcode_ret),
       (c, f, s, h, errcode_ret))
CREATE(cl_event, clCreateUserEvent, CL_OUT_OF_RESOURCES, (cl_context c, cl_int *errcode_ret),
       (c, errcode_ret))
CREATE(cl_context, clCreateContext, CL_OUT_OF_HOST_MEMORY,
       (const cl_context_properties *p, cl_uint n, const cl_device_id *d,
        void(CL_CALLBACK *notify)(const char *, const void *, size_t, void *), void *u,
        cl_int *errcode_ret),
       (p, n, d, notify, u, errcode_ret))
CREATE(cl_command_queue, clCreateCommandQueue, CL_OUT_OF_RESOURCES,
       (cl_context c, cl_device_id d, cl_command_queue_properties p, cl_int *errcode_ret),
       (c, d, p, errcode_ret))
CREATE(cl_program, clCreateProgramWithSource, CL_OUT_OF_RESOURCES,
       (cl_context c, cl_uint n, const char **s, const size_t *l, cl_int *errcode_ret),
       (c, n, s, l, errcode_ret))
CREATE(cl_program, clCreateProgramWithBinary, CL_INVALID_BINARY,
       (cl_context c, cl_uint n, const cl_device_id *d, const size_t *l,
        const unsigned char **b, cl_int *st, cl_int *errcode_ret),
       (c, n, d, l, b, st, errcode_ret))
CREATE(cl_kernel, clCreateKernel, CL_INVALID_KERNEL_NAME,
       (cl_program p, const char *name, cl_int *errcode_ret), (p, name, errcode_ret))

cl_int __wrap_clBuildProgram(cl_program p, cl_uint n, const cl_device_id *d, const char *o,
                             void(CL_CALLBACK *notify)(cl_program, void *), void *u) {
  cl_int err;
  if (should_fail("clBuildProgram", CL_BUILD_PROGRAM_FAILURE, &err)) return err;
  return __real_clBuildProgram(p, n, d, o, notify, u);
}

/* Commands, which create an event when asked for one. */
#define ENQUEUE(name, params, args)                                  \
  cl_int __wrap_##name params {                                      \
    cl_int err;                                                      \
    if (should_fail(#name, CL_OUT_OF_RESOURCES, &err)) return err;   \
    err = __real_##name args;                                        \
    if (err == CL_SUCCESS && event) created(*event, #name);          \
    return err;                                                      \
  }

ENQUEUE(clEnqueueNDRangeKernel,
        (cl_command_queue q, cl_kernel k, cl_uint dim, const size_t *off, const size_t *g,
         const size_t *l, cl_uint n, const cl_event *w, cl_event *event),
        (q, k, dim, off, g, l, n, w, event))
ENQUEUE(clEnqueueWriteBuffer,
        (cl_command_queue q, cl_mem b, cl_bool blocking, size_t off, size_t size, const void *p,
         cl_uint n, const cl_event *w, cl_event *event),
        (q, b, blocking, off, size, p, n, w, event))
ENQUEUE(clEnqueueReadBuffer,
        (cl_command_queue q, cl_mem b, cl_bool blocking, size_t off, size_t size, void *p,
         cl_uint n, const cl_event *w, cl_event *event),
        (q, b, blocking, off, size, p, n, w, event))
ENQUEUE(clEnqueueFillBuffer,
        (cl_command_queue q, cl_mem b, const void *pattern, size_t pattern_size, size_t off,
         size_t size, cl_uint n, const cl_event *w, cl_event *event),
        (q, b, pattern, pattern_size, off, size, n, w, event))
ENQUEUE(clEnqueueCopyBuffer,
        (cl_command_queue q, cl_mem src, cl_mem dst, size_t src_off, size_t dst_off, size_t size,
         cl_uint n, const cl_event *w, cl_event *event),
        (q, src, dst, src_off, dst_off, size, n, w, event))
ENQUEUE(clEnqueueMarkerWithWaitList,
        (cl_command_queue q, cl_uint n, const cl_event *w, cl_event *event), (q, n, w, event))
ENQUEUE(clEnqueueBarrierWithWaitList,
        (cl_command_queue q, cl_uint n, const cl_event *w, cl_event *event), (q, n, w, event))

/* Reference counts. */
#define REFCOUNT(type, retain, release)               \
  cl_int __real_##retain(type);                       \
  cl_int __wrap_##retain(type);                       \
  cl_int __real_##release(type);                      \
  cl_int __wrap_##release(type);                      \
  cl_int __wrap_##retain(type x) {                    \
    cl_int err = __real_##retain(x);                  \
    if (err == CL_SUCCESS) retained(x);               \
    return err;                                       \
  }                                                   \
  cl_int __wrap_##release(type x) {                   \
    cl_int err = __real_##release(x);                 \
    if (err == CL_SUCCESS) released(x);               \
    return err;                                       \
  }

REFCOUNT(cl_mem, clRetainMemObject, clReleaseMemObject)
REFCOUNT(cl_event, clRetainEvent, clReleaseEvent)
REFCOUNT(cl_program, clRetainProgram, clReleaseProgram)
REFCOUNT(cl_kernel, clRetainKernel, clReleaseKernel)
REFCOUNT(cl_command_queue, clRetainCommandQueue, clReleaseCommandQueue)
REFCOUNT(cl_context, clRetainContext, clReleaseContext)
