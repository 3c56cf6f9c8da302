/* Spatial attention (clattn_attention_spatial): the validated call that both layouts run.
 * spatial.c validates and runs NHWC maps through the fused kernel; spatial_planes.c runs
 * NCHW maps through CLBlast products and cl/spatial.cl. */
#ifndef CLATTN_SPATIAL_H
#define CLATTN_SPATIAL_H

#include "attention_validate.h"
#include "clattn.h"

typedef struct clattn__spatial_call {
  /* The attention over the map's positions: one head, Skv = H*W keys, D = Dv = C. */
  clattn_attention_desc desc;
  clattn__attention_shape shape;
  /* The map's positions as a (B, 1, H*W, C) view (stride_seq C). For NHWC these are the keys
   * and values themselves; an NCHW map occupies exactly the same bytes per batch, so the
   * view also stands for it in bounds and overlap checks. */
  clattn_tensor positions;
  int64_t stride_batch; /* the map's, after its default */
} clattn__spatial_call;

/* The NCHW path, for a call that clattn_attention_spatial validated. */
clattn_status clattn__spatial_planes(clattn_context *ctx, cl_command_queue queue,
                                     const clattn__spatial_call *call, const clattn_tensor *q,
                                     const clattn_feature_map *map, const clattn_tensor *o,
                                     const clattn_tensor *weights, cl_uint num_wait_events,
                                     const cl_event *wait_events, cl_event *event);

#endif
