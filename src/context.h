/* The context object. Only host code in src/ sees its fields. */
#ifndef CLATTN_CONTEXT_H
#define CLATTN_CONTEXT_H

#include "clattn.h"
#include "attention_config.h"
#include "mutex.h"
#include "tuning.h"

#define CLATTN__ERROR_CAPACITY 32768 /* enough for a compiler log's interesting part */

typedef struct clattn__program_entry clattn__program_entry;

struct clattn_context {
  cl_context cl_ctx;     /* retained by clattn */
  cl_device_id device;   /* retained by clattn */
  cl_command_queue queue; /* created by clattn, in-order, profiling enabled */
  clattn_device_info info;
  char *extensions;      /* the device's complete extension string */
  char *kernel_dir;      /* NULL: embedded sources */
  char *binary_dir;      /* NULL: no prebuilt binaries */
  char *cache_dir;       /* NULL: disk cache disabled */
  int can_compile;       /* the device has a compiler and the options allow it */

  clattn__mutex lock;    /* guards everything below */
  clattn__program_entry *programs;
  size_t program_count, program_capacity;
  clattn_cache_stats stats;
  clattn__tuning_status tuning; /* what the device's tuning file did (tuning.c) */
  int attention_override_set;
  clattn__attention_config attention_override;
  char error[CLATTN__ERROR_CAPACITY];
};

#endif
