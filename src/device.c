#include "device.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

/* cl_khr_icd: the loader found no platform. Defined here to avoid needing cl_ext.h. */
#ifndef CL_PLATFORM_NOT_FOUND_KHR
#define CL_PLATFORM_NOT_FOUND_KHR -1001
#endif

/* Reads a string property, truncating it to the buffer (device names are short; extension
 * lists get their own full copy in clattn__device_query). */
static cl_int info_string(cl_device_id device, cl_device_info param, char *out, size_t capacity) {
  size_t size = 0;
  cl_int err = clGetDeviceInfo(device, param, 0, NULL, &size);
  if (err != CL_SUCCESS) return err;
  char *full = malloc(size + 1);
  if (!full) return CL_OUT_OF_HOST_MEMORY;
  err = clGetDeviceInfo(device, param, size, full, NULL);
  full[size] = '\0';
  if (err == CL_SUCCESS) snprintf(out, capacity, "%s", full);
  free(full);
  return err;
}

static cl_int platform_string(cl_platform_id platform, cl_platform_info param, char *out,
                              size_t capacity) {
  size_t size = 0;
  cl_int err = clGetPlatformInfo(platform, param, 0, NULL, &size);
  if (err != CL_SUCCESS) return err;
  char *full = malloc(size + 1);
  if (!full) return CL_OUT_OF_HOST_MEMORY;
  err = clGetPlatformInfo(platform, param, size, full, NULL);
  full[size] = '\0';
  if (err == CL_SUCCESS) snprintf(out, capacity, "%s", full);
  free(full);
  return err;
}

static int has_word(const char *list, const char *word) {
  size_t n = strlen(word);
  for (const char *p = list; (p = strstr(p, word)) != NULL; p += n) {
    int starts = p == list || p[-1] == ' ';
    int ends = p[n] == '\0' || p[n] == ' ';
    if (starts && ends) return 1;
  }
  return 0;
}

static char *full_extensions(cl_device_id device) {
  size_t size = 0;
  if (clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, 0, NULL, &size) != CL_SUCCESS) return NULL;
  char *text = malloc(size + 1);
  if (!text) return NULL;
  if (clGetDeviceInfo(device, CL_DEVICE_EXTENSIONS, size, text, NULL) != CL_SUCCESS) size = 0;
  text[size] = '\0';
  return text;
}

#define QUERY(param, field)                                                            \
  do {                                                                                 \
    err = clGetDeviceInfo(device, param, sizeof(field), &(field), NULL);               \
    if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clGetDeviceInfo", #param); \
  } while (0)

clattn_status clattn__device_query(clattn_context *ctx, cl_device_id device,
                                   clattn_device_info *info, char **extensions) {
  memset(info, 0, sizeof *info);
  info->platform_index = info->device_index = ~0u;
  cl_int err;
  cl_platform_id platform;
  QUERY(CL_DEVICE_PLATFORM, platform);
  struct { cl_device_info param; char *out; size_t capacity; } strings[] = {
      {CL_DEVICE_NAME, info->name, sizeof info->name},
      {CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor},
      {CL_DEVICE_VERSION, info->device_version, sizeof info->device_version},
      {CL_DRIVER_VERSION, info->driver_version, sizeof info->driver_version},
      {CL_DEVICE_OPENCL_C_VERSION, info->opencl_c_version, sizeof info->opencl_c_version},
      {CL_DEVICE_EXTENSIONS, info->extensions, sizeof info->extensions}};
  for (size_t i = 0; i < sizeof strings / sizeof strings[0]; i++) {
    err = info_string(device, strings[i].param, strings[i].out, strings[i].capacity);
    if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clGetDeviceInfo", "a string property");
  }
  err = platform_string(platform, CL_PLATFORM_NAME, info->platform_name, sizeof info->platform_name);
  if (err == CL_SUCCESS)
    err = platform_string(platform, CL_PLATFORM_VERSION, info->platform_version,
                          sizeof info->platform_version);
  if (err != CL_SUCCESS) return clattn__fail_cl(ctx, err, "clGetPlatformInfo", "name or version");

  cl_bool compiler = CL_FALSE, linker = CL_FALSE;
  cl_device_local_mem_type local_type = CL_GLOBAL;
  cl_device_fp_config double_config = 0;
  QUERY(CL_DEVICE_TYPE, info->type);
  QUERY(CL_DEVICE_MAX_COMPUTE_UNITS, info->compute_units);
  QUERY(CL_DEVICE_MAX_CLOCK_FREQUENCY, info->max_clock_mhz);
  QUERY(CL_DEVICE_GLOBAL_MEM_SIZE, info->global_mem_size);
  QUERY(CL_DEVICE_MAX_MEM_ALLOC_SIZE, info->max_mem_alloc_size);
  QUERY(CL_DEVICE_LOCAL_MEM_SIZE, info->local_mem_size);
  QUERY(CL_DEVICE_LOCAL_MEM_TYPE, local_type);
  QUERY(CL_DEVICE_MAX_WORK_GROUP_SIZE, info->max_work_group_size);
  QUERY(CL_DEVICE_MAX_WORK_ITEM_SIZES, info->max_work_item_sizes);
  QUERY(CL_DEVICE_PREFERRED_VECTOR_WIDTH_FLOAT, info->preferred_vector_width_float);
  QUERY(CL_DEVICE_MEM_BASE_ADDR_ALIGN, info->mem_base_addr_align);
  QUERY(CL_DEVICE_COMPILER_AVAILABLE, compiler);
  QUERY(CL_DEVICE_LINKER_AVAILABLE, linker);
  if (clGetDeviceInfo(device, CL_DEVICE_DOUBLE_FP_CONFIG, sizeof double_config, &double_config,
                      NULL) != CL_SUCCESS)
    double_config = 0; /* optional before OpenCL 1.2 */
  info->local_mem_is_dedicated = local_type == CL_LOCAL;
  info->compiler_available = compiler == CL_TRUE && linker == CL_TRUE;

  char *all = full_extensions(device);
  if (!all) return clattn__fail(ctx, CLATTN_OUT_OF_HOST_MEMORY, "cannot read device extensions");
  info->has_fp16 = has_word(all, "cl_khr_fp16");
  info->has_fp64 = has_word(all, "cl_khr_fp64") || double_config != 0;
  if (extensions)
    *extensions = all;
  else
    free(all);
  return CLATTN_SUCCESS;
}

int clattn__has_extension_word(const char *list, const char *word) {
  return list && word && *word && has_word(list, word);
}

int clattn__contains_nocase(const char *haystack, const char *needle) {
  size_t n = strlen(needle);
  for (; *haystack; haystack++) {
    size_t i = 0;
    while (i < n && haystack[i] &&
           tolower((unsigned char)haystack[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n) return 1;
  }
  return n == 0;
}

/* Appends one platform's devices to *entries. */
static clattn_status add_platform(cl_platform_id platform, unsigned platform_index,
                                  clattn__device_entry **entries, size_t *count) {
  cl_uint n = 0;
  cl_int err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 0, NULL, &n);
  if (err == CL_DEVICE_NOT_FOUND || n == 0) return CLATTN_SUCCESS;
  if (err != CL_SUCCESS) return clattn__fail_cl(NULL, err, "clGetDeviceIDs", "platform %u", platform_index);
  cl_device_id *devices = malloc(n * sizeof *devices);
  clattn__device_entry *grown = realloc(*entries, (*count + n) * sizeof **entries);
  if (grown) *entries = grown;
  if (!devices || !grown) {
    free(devices);
    return clattn__fail(NULL, CLATTN_OUT_OF_HOST_MEMORY, "out of memory listing devices");
  }
  clattn_status status = CLATTN_SUCCESS;
  err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, n, devices, NULL);
  if (err != CL_SUCCESS) status = clattn__fail_cl(NULL, err, "clGetDeviceIDs", "platform %u", platform_index);
  for (cl_uint d = 0; status == CLATTN_SUCCESS && d < n; d++) {
    clattn__device_entry *entry = &(*entries)[*count];
    status = clattn__device_query(NULL, devices[d], &entry->info, NULL);
    if (status != CLATTN_SUCCESS) break;
    entry->platform = platform;
    entry->device = devices[d];
    entry->info.platform_index = platform_index;
    entry->info.device_index = d;
    (*count)++;
  }
  free(devices);
  return status;
}

clattn_status clattn__devices_enumerate(clattn__device_entry **entries, size_t *count) {
  *entries = NULL;
  *count = 0;
  cl_uint n = 0;
  cl_int err = clGetPlatformIDs(0, NULL, &n);
  if (err == CL_PLATFORM_NOT_FOUND_KHR || n == 0) return CLATTN_SUCCESS; /* no ICD installed */
  if (err != CL_SUCCESS) return clattn__fail_cl(NULL, err, "clGetPlatformIDs", "listing platforms");
  cl_platform_id *platforms = malloc(n * sizeof *platforms);
  if (!platforms) return clattn__fail(NULL, CLATTN_OUT_OF_HOST_MEMORY, "out of memory");
  clattn_status status = CLATTN_SUCCESS;
  err = clGetPlatformIDs(n, platforms, NULL);
  if (err != CL_SUCCESS) status = clattn__fail_cl(NULL, err, "clGetPlatformIDs", "listing platforms");
  for (cl_uint p = 0; status == CLATTN_SUCCESS && p < n; p++)
    status = add_platform(platforms[p], p, entries, count);
  free(platforms);
  if (status != CLATTN_SUCCESS) {
    free(*entries);
    *entries = NULL;
    *count = 0;
  }
  return status;
}

/* Parses "P:D" with decimal indices; returns 1 on a match of that form. */
static int parse_indices(const char *selector, unsigned *platform, unsigned *device) {
  char tail;
  return sscanf(selector, "%u:%u%c", platform, device, &tail) == 2 && isdigit((unsigned char)selector[0]);
}

static size_t default_device(const clattn__device_entry *entries, size_t count) {
  static const cl_device_type preference[] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ACCELERATOR,
                                              CL_DEVICE_TYPE_CPU};
  for (size_t t = 0; t < sizeof preference / sizeof preference[0]; t++)
    for (size_t i = 0; i < count; i++)
      if (entries[i].info.type & preference[t]) return i;
  return 0;
}

clattn_status clattn__device_pick(const clattn__device_entry *entries, size_t count,
                                  const char *selector, size_t *index) {
  const char *origin = "selector";
  if (!selector || !*selector) {
    selector = getenv("CLATTN_DEVICE");
    origin = "CLATTN_DEVICE";
  }
  if (count == 0)
    return clattn__fail(NULL, CLATTN_DEVICE_NOT_FOUND,
                        "no OpenCL device found: is an OpenCL driver installed (for CPUs, the "
                        "Debian package pocl-opencl-icd)?");
  if (!selector || !*selector) {
    *index = default_device(entries, count);
    return CLATTN_SUCCESS;
  }
  unsigned platform, device;
  int by_index = parse_indices(selector, &platform, &device);
  for (size_t i = 0; i < count; i++) {
    const clattn_device_info *info = &entries[i].info;
    int match = by_index ? info->platform_index == platform && info->device_index == device
                         : clattn__contains_nocase(info->name, selector);
    if (match) {
      *index = i;
      return CLATTN_SUCCESS;
    }
  }
  return clattn__fail(NULL, CLATTN_DEVICE_NOT_FOUND,
                      "%s \"%s\" matches no device (use \"P:D\" indices or part of a device "
                      "name; `clattn devices` lists them)", origin, selector);
}

clattn_status clattn_list_devices(clattn_device_info *out, size_t capacity, size_t *count) {
  if (!count) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "count must not be NULL");
  if (!out && capacity > 0)
    return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "out must not be NULL when capacity > 0");
  clattn__device_entry *entries;
  size_t n;
  clattn_status status = clattn__devices_enumerate(&entries, &n);
  if (status != CLATTN_SUCCESS) return status;
  for (size_t i = 0; i < n && i < capacity; i++) out[i] = entries[i].info;
  free(entries);
  *count = n;
  if (capacity < n)
    return clattn__fail(NULL, CLATTN_BUFFER_TOO_SMALL,
                        "out has room for %zu devices; there are %zu", capacity, n);
  return CLATTN_SUCCESS;
}

clattn_status clattn_select_device(const char *selector, size_t *index) {
  if (!index) return clattn__fail(NULL, CLATTN_INVALID_ARGUMENT, "index must not be NULL");
  clattn__device_entry *entries;
  size_t n;
  clattn_status status = clattn__devices_enumerate(&entries, &n);
  if (status == CLATTN_SUCCESS) status = clattn__device_pick(entries, n, selector, index);
  free(entries);
  return status;
}
