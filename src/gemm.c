/* CLBlast GEMMs with clattn's ordering rules (see gemm.h). */
#include "gemm.h"

#include <clblast_c.h>

#include "errors.h"

int clattn__queue_out_of_order(cl_command_queue queue) {
  cl_command_queue_properties properties = 0;
  if (clGetCommandQueueInfo(queue, CL_QUEUE_PROPERTIES, sizeof properties, &properties, NULL) !=
      CL_SUCCESS)
    return 1; /* unknown: the barrier that assumes the worst costs little */
  return (properties & CL_QUEUE_OUT_OF_ORDER_EXEC_MODE_ENABLE) != 0;
}

/* CLBlast's statuses are OpenCL's below -1000 and its own above; name the common ones. */
static const char *clblast_status_name(CLBlastStatusCode status) {
  switch (status) {
    case CLBlastNotImplemented: return "CLBlastNotImplemented";
    case CLBlastInvalidLocalMemUsage: return "CLBlastInvalidLocalMemUsage";
    case CLBlastNoHalfPrecision: return "CLBlastNoHalfPrecision";
    case CLBlastInvalidMatrixA: return "CLBlastInvalidMatrixA";
    case CLBlastInvalidMatrixB: return "CLBlastInvalidMatrixB";
    case CLBlastInvalidMatrixC: return "CLBlastInvalidMatrixC";
    case CLBlastInsufficientMemoryA: return "CLBlastInsufficientMemoryA";
    case CLBlastInsufficientMemoryB: return "CLBlastInsufficientMemoryB";
    case CLBlastInsufficientMemoryC: return "CLBlastInsufficientMemoryC";
    case CLBlastInvalidLocalThreadsTotal: return "CLBlastInvalidLocalThreadsTotal";
    case CLBlastInvalidLocalThreadsDim: return "CLBlastInvalidLocalThreadsDim";
    case CLBlastUnknownError: return "CLBlastUnknownError";
    default: return clattn_cl_error_name((cl_int)status);
  }
}

clattn_status clattn__sgemm(clattn_context *ctx, cl_command_queue queue, int64_t m, int64_t n,
                            int64_t k, float alpha, const clattn__matrix *a,
                            const clattn__matrix *b, int b_transposed, float beta,
                            const clattn__matrix *c, cl_uint num_wait_events,
                            const cl_event *wait_events, cl_event *event) {
  cl_int err = CL_SUCCESS;
  if (num_wait_events > 0)
    err = clEnqueueBarrierWithWaitList(queue, num_wait_events, wait_events, NULL);
  if (err != CL_SUCCESS)
    return clattn__fail_cl(ctx, err, "clEnqueueBarrierWithWaitList", "before a CLBlast GEMM");
  int out_of_order = clattn__queue_out_of_order(queue);
  cl_event done = NULL;
  CLBlastStatusCode status = CLBlastSgemm(
      CLBlastLayoutRowMajor, CLBlastTransposeNo, b_transposed ? CLBlastTransposeYes : CLBlastTransposeNo,
      (size_t)m, (size_t)n, (size_t)k, alpha, a->buffer, (size_t)a->offset, (size_t)a->ld,
      b->buffer, (size_t)b->offset, (size_t)b->ld, beta, c->buffer, (size_t)c->offset,
      (size_t)c->ld, &queue, (event && !out_of_order) ? &done : NULL);
  if (status != CLBlastSuccess)
    return clattn__fail(ctx, status == CLBlastNotImplemented ? CLATTN_UNSUPPORTED : CLATTN_OPENCL_ERROR,
                        "CLBlastSgemm(%lld x %lld x %lld) failed: %s (%d)", (long long)m,
                        (long long)n, (long long)k, clblast_status_name(status), (int)status);
  if (out_of_order) {
    /* CLBlast may enqueue several kernels for one GEMM, each waiting only on its own
     * predecessors: a barrier orders everything after all of them. */
    err = clEnqueueBarrierWithWaitList(queue, 0, NULL, event);
    if (err != CL_SUCCESS)
      return clattn__fail_cl(ctx, err, "clEnqueueBarrierWithWaitList", "after a CLBlast GEMM");
  } else if (event) {
    *event = done;
  }
  return CLATTN_SUCCESS;
}
