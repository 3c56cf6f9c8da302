/*
 * clattn devices: every platform and device, with the facts that decide how kernels are
 * configured, and which device a context would pick and why.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void clattn_cli_devices_usage(FILE *out) {
  fputs("usage: clattn devices [--device SEL]\n"
        "\n"
        "Lists every OpenCL platform and device. The device marked '*' is the one a context\n"
        "uses: SEL when given, else $CLATTN_DEVICE, else the first GPU, accelerator or CPU.\n",
        out);
}

/* Why the default device is the default, from its type (see clattn_select_device). */
static const char *clattn_cli_default_reason(cl_device_type type) {
  if (type & CL_DEVICE_TYPE_GPU) {
    return "default: the first GPU";
  }
  if (type & CL_DEVICE_TYPE_ACCELERATOR) {
    return "default: the first accelerator (no GPU)";
  }
  if (type & CL_DEVICE_TYPE_CPU) {
    return "default: the first CPU (no GPU or accelerator)";
  }
  return "default: the first device";
}

/* Fills *devices (malloc'd, caller frees) and *count with every device. */
static int clattn_cli_devices_list(clattn_device_info **devices, size_t *count) {
  size_t total = 0;
  clattn_status status = clattn_list_devices(NULL, 0, &total);
  if (status != CLATTN_SUCCESS && status != CLATTN_BUFFER_TOO_SMALL) {
    return clattn_cli_failure_print(NULL, status);
  }
  *devices = NULL;
  *count = 0;
  if (total == 0) {
    return CLATTN_CLI_OK;
  }
  *devices = calloc(total, sizeof **devices);
  if (*devices == NULL) {
    return clattn_cli_out_of_memory();
  }
  size_t now = 0;
  status = clattn_list_devices(*devices, total, &now);
  /* A device that appeared between the two calls is simply not shown. */
  if (status != CLATTN_SUCCESS && status != CLATTN_BUFFER_TOO_SMALL) {
    return clattn_cli_failure_print(NULL, status);
  }
  *count = now < total ? now : total;
  return CLATTN_CLI_OK;
}

/* Picks the device to mark and the reason shown beside it; *index is (size_t)-1 when no
 * device is selected. The reason is written into `reason`. */
static int clattn_cli_devices_mark(const char *device, const clattn_device_info *devices,
                                   size_t *index, char *reason, size_t size) {
  const char *env = getenv("CLATTN_DEVICE");
  *index = (size_t)-1;
  clattn_status status = clattn_select_device(device, index);
  if (status != CLATTN_SUCCESS) {
    *index = (size_t)-1;
    return clattn_cli_failure_print(NULL, status);
  }
  if (device != NULL && device[0] != '\0') {
    snprintf(reason, size, "selected by --device %s", device);
  } else if (env != NULL && env[0] != '\0') {
    snprintf(reason, size, "selected by CLATTN_DEVICE=%s", env);
  } else {
    snprintf(reason, size, "%s", clattn_cli_default_reason(devices[*index].type));
  }
  return CLATTN_CLI_OK;
}

static void clattn_cli_device_print(const clattn_device_info *d, const char *mark) {
  char global[32], alloc[32], local[32];
  printf("%c %u:%u  %s%s%s%s\n", mark != NULL ? '*' : ' ', d->platform_index, d->device_index,
         d->name, mark != NULL ? "  [" : "", mark != NULL ? mark : "", mark != NULL ? "]" : "");
  printf("       type            %s, %u compute units", clattn_cli_device_type_name(d->type),
         (unsigned)d->compute_units);
  /* Some drivers report 0 MHz when they do not know the clock. */
  if (d->max_clock_mhz > 0) {
    printf(", %u MHz", (unsigned)d->max_clock_mhz);
  }
  printf("\n");
  printf("       global memory   %s, max allocation %s\n",
         clattn_cli_bytes_format(d->global_mem_size, global, sizeof global),
         clattn_cli_bytes_format(d->max_mem_alloc_size, alloc, sizeof alloc));
  printf("       local memory    %s, %s\n",
         clattn_cli_bytes_format(d->local_mem_size, local, sizeof local),
         d->local_mem_is_dedicated ? "dedicated" : "emulated in global memory");
  printf("       max work-group  %zu work-items\n", d->max_work_group_size);
  printf("       fp16 / fp64     %s / %s\n", d->has_fp16 ? "yes" : "no",
         d->has_fp64 ? "yes" : "no");
  printf("       compiler        %s\n",
         d->compiler_available ? "available" : "none (needs prebuilt binaries)");
  printf("       OpenCL          %s; %s\n", d->device_version, d->opencl_c_version);
  printf("       driver          %s\n", d->driver_version);
}

static void clattn_cli_devices_print(const clattn_device_info *devices, size_t count,
                                     size_t marked, const char *reason) {
  for (size_t i = 0; i < count; ++i) {
    const clattn_device_info *d = &devices[i];
    if (i == 0 || d->platform_index != devices[i - 1].platform_index) {
      printf("%sPlatform %u: %s (%s)\n", i == 0 ? "" : "\n", d->platform_index,
             d->platform_name, d->platform_version);
    }
    clattn_cli_device_print(d, i == marked ? reason : NULL);
  }
  printf("\nPick a device with --device P:D (or part of its name) or CLATTN_DEVICE=P:D.\n");
}

static int clattn_cli_devices_none(void) {
  fputs("clattn: no OpenCL device found.\n"
        "Install an OpenCL driver for your hardware, or PoCL to run on the CPU:\n"
        "  sudo apt-get install pocl-opencl-icd\n"
        "and check that /etc/OpenCL/vendors/ lists it (clinfo -l shows what is visible).\n",
        stderr);
  return CLATTN_CLI_FAILURE;
}

int clattn_cli_devices_run(int argc, char **argv, const clattn_cli_globals *globals) {
  const char *device = globals->device;
  int done = clattn_cli_args_device_only("devices", argc, argv, &device, clattn_cli_devices_usage);
  if (done >= 0) {
    return done;
  }
  clattn_device_info *devices = NULL;
  size_t count = 0;
  int rc = clattn_cli_devices_list(&devices, &count);
  if (rc == CLATTN_CLI_OK && count == 0) {
    rc = clattn_cli_devices_none();
  }
  if (rc == CLATTN_CLI_OK) {
    size_t marked = (size_t)-1;
    char reason[512] = "";
    /* The list is printed even when the selection fails: it is what the user needs to fix
     * the selector. The exit status still reports the failure. */
    rc = clattn_cli_devices_mark(device, devices, &marked, reason, sizeof reason);
    clattn_cli_devices_print(devices, count, marked, reason);
  }
  free(devices);
  return rc;
}
