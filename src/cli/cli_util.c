/* Formatting, timing and failure reporting shared by the commands. */
#include <stdlib.h>
#include <time.h>

#include "cli.h"

const char *clattn_cli_bytes_format(unsigned long long bytes, char *buf, size_t size) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double value = (double)bytes;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < sizeof units / sizeof units[0]) {
    value /= 1024.0;
    ++unit;
  }
  if (unit == 0) {
    snprintf(buf, size, "%llu B", bytes);
  } else if (value == (double)(unsigned long long)value) {
    /* Whole numbers ("64 KiB") read better than "64.0 KiB", and device limits usually are. */
    snprintf(buf, size, "%.0f %s", value, units[unit]);
  } else {
    snprintf(buf, size, "%.1f %s", value, units[unit]);
  }
  return buf;
}

const char *clattn_cli_device_type_name(cl_device_type type) {
  /* A device may report several type bits; the most specific one names it. */
  if (type & CL_DEVICE_TYPE_GPU) {
    return "GPU";
  }
  if (type & CL_DEVICE_TYPE_ACCELERATOR) {
    return "accelerator";
  }
  if (type & CL_DEVICE_TYPE_CPU) {
    return "CPU";
  }
  return "other";
}

const char *clattn_cli_origin_name(clattn_program_origin origin) {
  switch (origin) {
    case CLATTN_ORIGIN_MEMORY:
      return "memory";
    case CLATTN_ORIGIN_PREBUILT:
      return "prebuilt";
    case CLATTN_ORIGIN_DISK:
      return "disk cache";
    case CLATTN_ORIGIN_BUILT:
      return "built";
  }
  return "unknown";
}

int clattn_cli_failure_print(const clattn_context *ctx, clattn_status status) {
  const char *message = clattn_last_error(ctx);
  if (message == NULL || message[0] == '\0') {
    message = clattn_status_string(status);
  }
  fprintf(stderr, "clattn: %s: %s\n", clattn_status_name(status), message);
  return CLATTN_CLI_FAILURE;
}

int clattn_cli_out_of_memory(void) {
  /* clattn_last_error(NULL) may hold an unrelated earlier message, so it is not used here. */
  fprintf(stderr, "clattn: %s: %s\n", clattn_status_name(CLATTN_OUT_OF_HOST_MEMORY),
          clattn_status_string(CLATTN_OUT_OF_HOST_MEMORY));
  return CLATTN_CLI_FAILURE;
}

int clattn_cli_context_open(const char *device, clattn_context **ctx) {
  clattn_context_options options;
  clattn_context_options_init(&options);
  options.device = device;
  clattn_status status = clattn_context_create(&options, ctx);
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(NULL, status);
  }
  return CLATTN_CLI_OK;
}

void clattn_cli_device_line_print(FILE *out, const clattn_device_info *info) {
  if (info->platform_index == ~0u) {
    fprintf(out, "?:?  %s", info->name);
  } else {
    fprintf(out, "%u:%u  %s", info->platform_index, info->device_index, info->name);
  }
  fprintf(out, " (%s, %u compute units)\n", clattn_cli_device_type_name(info->type),
          (unsigned)info->compute_units);
}

double clattn_cli_seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int clattn_cli_variants_list(clattn_context *ctx, clattn_kernel_variant **variants,
                             size_t *count) {
  size_t total = 0;
  *variants = NULL;
  *count = 0;
  clattn_status status = clattn_kernel_variants(ctx, NULL, 0, &total);
  if (status != CLATTN_SUCCESS && status != CLATTN_BUFFER_TOO_SMALL) {
    return clattn_cli_failure_print(ctx, status);
  }
  if (total == 0) {
    return CLATTN_CLI_OK;
  }
  *variants = calloc(total, sizeof **variants);
  if (*variants == NULL) {
    return clattn_cli_out_of_memory();
  }
  /* The list depends only on the context's configuration, so it cannot grow in between. */
  status = clattn_kernel_variants(ctx, *variants, total, count);
  if (status != CLATTN_SUCCESS) {
    free(*variants);
    *variants = NULL;
    *count = 0;
    return clattn_cli_failure_print(ctx, status);
  }
  return CLATTN_CLI_OK;
}
