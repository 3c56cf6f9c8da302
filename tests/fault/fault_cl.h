/* Fault injection into the OpenCL API, for tests only (not part of the installed library).
 *
 * A test executable linked with `-Wl,--wrap=<call>` for the calls below (tests/fault/
 * CMakeLists.txt) gets fault_cl.c's __wrap_<call> in place of every reference to <call> in
 * its own objects and in the static libclattn: they count the calls that can fail and make a
 * chosen one fail with a realistic error code, and they keep a table of the OpenCL objects
 * created through them with their reference counts. CLBlast is a shared library, so its own
 * OpenCL calls are neither counted nor failed, and objects it creates are not in the table.
 *
 * Calls that can be failed, by class:
 *   allocation  clCreateBuffer, clCreateUserEvent, clCreateContext, clCreateCommandQueue
 *   build       clCreateProgramWithSource, clCreateProgramWithBinary, clBuildProgram
 *   kernel      clCreateKernel
 *   enqueue     clEnqueueNDRangeKernel, clEnqueue{Write,Read,Fill,Copy}Buffer,
 *               clEnqueueMarkerWithWaitList, clEnqueueBarrierWithWaitList
 * Single-threaded: the test's thread makes every wrapped call. */
#ifndef CLATTN_TEST_FAULT_CL_H
#define CLATTN_TEST_FAULT_CL_H

#include <clattn.h>

/* Counting (and failing) happens only while on, so a test counts the library's calls and not
 * its own set-up. fault_on/fault_off bracket one library call; see FAULT_CALL. */
void fault_on(void);
clattn_status fault_off(clattn_status status);
#define FAULT_CALL(expr) (fault_on(), fault_off(expr))

/* Restarts the count at 0 and makes the n-th counted call from now fail (n >= 1), or none
 * (n = 0). */
void fault_arm(long n);
/* Nothing more fails, and the names of calls are no longer recorded, until fault_arm. */
void fault_disarm(void);
/* Calls counted since fault_arm. */
long fault_count(void);
/* The name of the call that was failed since fault_arm, and its error code; NULL when none. */
const char *fault_fired(cl_int *error);
/* The name of the n-th counted call of the last run armed with 0 (n >= 1; "?" when unknown):
 * for messages. Recorded for the first FAULT_LOG_CAPACITY calls. */
#define FAULT_LOG_CAPACITY 4096
const char *fault_call_name(long n);

/* OpenCL objects created through the wrapped calls (buffers, events, programs, kernels,
 * queues, contexts) whose reference count has not dropped to zero. */
long fault_live(void);
/* Prints the live objects created after `since` (a value of fault_serial()) to stderr,
 * each with the call that created it; returns how many there are. */
long fault_print_live(long since);
/* A counter of objects created so far, for fault_print_live. */
long fault_serial(void);

#endif
