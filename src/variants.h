/* The registry of kernel variants a context needs: one entry per kernel file, each with the
 * defines chosen for the context's device. Every feature that adds a kernel adds itself
 * here, which keeps `clattn kernels`, warm-up and binary export complete. */
#ifndef CLATTN_VARIANTS_H
#define CLATTN_VARIANTS_H

#include "clattn.h"
#include "defines.h"

typedef struct clattn__variant {
  const char *file;
  clattn__defines defines;
} clattn__variant;

#define CLATTN__MAX_VARIANTS 256

/* Writes the variants ctx needs into out (at most capacity) and returns their number. */
size_t clattn__variants_collect(clattn_context *ctx, clattn__variant *out, size_t capacity);

/* The ceiling microkernels' variant for ctx's device (used by ceilings.c and the registry). */
void clattn__ceiling_variant(const clattn_context *ctx, clattn__variant *variant);

#endif
