/* Position information (cl/posenc.cl): RoPE, the projection epilogue that fuses a bias with
 * RoPE, and the sinusoidal encoding. The public calls are declared in clattn.h. */
#ifndef CLATTN_POSENC_H
#define CLATTN_POSENC_H

#include <stdint.h>

#include "clattn.h"
#include "variants.h"

/* Epilogue of a projection, in place: x viewed as (B, H, S, D) (strided, float32 or any
 * storage type); adds bias[h*D + d] (float32 buffer, element offset bias_offset; NULL: none)
 * to every element, then rotates heads h < rope_heads with RoPE (rope NULL or style NONE:
 * none) at position position_offset + s (+ positions[b] when positions is not NULL).
 * Arguments are validated by the caller (internal). With neither a bias nor a rotation it
 * enqueues only a marker (so `event` still completes after the wait list). */
clattn_status clattn__bias_rope(clattn_context *ctx, cl_command_queue queue,
                                const clattn_tensor *x, int64_t batch, int64_t heads,
                                int64_t seq, int64_t dim, cl_mem bias, uint64_t bias_offset,
                                const clattn_rope *rope, int64_t rope_heads,
                                int64_t position_offset, cl_mem positions,
                                cl_uint num_wait_events, const cl_event *wait_events,
                                cl_event *event);

/* The posenc.cl variants worth preparing ahead (float32 storage, every RoPE style; the
 * sinusoidal kernel shares the interleaved program), for the registry in variants.c:
 * writes at most `capacity` into out and returns how many there are. */
size_t clattn__posenc_variants(clattn__variant *out, size_t capacity);

#endif
