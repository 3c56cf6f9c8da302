/* Device listing and selection: the list against OpenCL's own answers, the default choice,
 * "P:D" and name selectors, failures, and CLATTN_DEVICE precedence. */
#include <clattn.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static clattn_device_info *devices;
static size_t device_count;

/* Case-insensitive substring test, the rule the header gives for name selectors. */
static int contains_nocase(const char *haystack, const char *needle) {
  size_t n = strlen(needle);
  for (const char *h = haystack; *h; h++) {
    size_t i = 0;
    while (i < n && h[i] &&
           tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
      i++;
    if (i == n) return 1;
  }
  return n == 0;
}

static void load_devices(void) {
  size_t count = 12345;
  /* capacity 0 with out NULL: the count only. */
  CHECK_STATUS(NULL, clattn_list_devices(NULL, 0, &count), CLATTN_BUFFER_TOO_SMALL);
  CHECK(count >= 1 && count < 1000); /* this machine has PoCL */
  devices = calloc(count + 1, sizeof *devices);
  CHECK(devices != NULL);
  /* One spare entry with a canary: capacity above the count writes exactly `count`. */
  memset(&devices[count], 0x5a, sizeof devices[count]);
  size_t again = 0;
  CHECK_OK(NULL, clattn_list_devices(devices, count + 1, &again));
  CHECK_EQ(again, count);
  const unsigned char *canary = (const unsigned char *)&devices[count];
  for (size_t i = 0; i < sizeof devices[count]; i++) CHECK_EQ(canary[i], 0x5a);
  device_count = count;
}

static cl_device_id raw_device(unsigned platform, unsigned device) {
  cl_uint platform_count = 0;
  CHECK_CL(clGetPlatformIDs(0, NULL, &platform_count));
  CHECK(platform < platform_count);
  cl_platform_id *platforms = calloc(platform_count, sizeof *platforms);
  CHECK(platforms != NULL);
  CHECK_CL(clGetPlatformIDs(platform_count, platforms, NULL));
  cl_uint count = 0;
  CHECK_CL(clGetDeviceIDs(platforms[platform], CL_DEVICE_TYPE_ALL, 0, NULL, &count));
  CHECK(device < count);
  cl_device_id *ids = calloc(count, sizeof *ids);
  CHECK(ids != NULL);
  CHECK_CL(clGetDeviceIDs(platforms[platform], CL_DEVICE_TYPE_ALL, count, ids, NULL));
  cl_device_id id = ids[device];
  free(ids);
  free(platforms);
  return id;
}

/* The (platform, device) positions OpenCL itself gives, in order; the list must match. */
static void test_list_positions(void) {
  cl_uint platform_count = 0;
  CHECK_CL(clGetPlatformIDs(0, NULL, &platform_count));
  cl_platform_id *platforms = calloc(platform_count, sizeof *platforms);
  CHECK(platforms != NULL);
  CHECK_CL(clGetPlatformIDs(platform_count, platforms, NULL));
  size_t at = 0;
  for (cl_uint p = 0; p < platform_count; p++) {
    cl_uint count = 0;
    cl_int err = clGetDeviceIDs(platforms[p], CL_DEVICE_TYPE_ALL, 0, NULL, &count);
    if (err == CL_DEVICE_NOT_FOUND) count = 0;
    else CHECK_CL(err);
    for (cl_uint d = 0; d < count; d++, at++) {
      CHECK(at < device_count);
      CHECK_EQ(devices[at].platform_index, p);
      CHECK_EQ(devices[at].device_index, d);
    }
  }
  CHECK_EQ(at, device_count);
  free(platforms);
}

/* Each entry agrees with what OpenCL itself reports, and the fields are sane. */
static void test_list_fields(void) {
  for (size_t i = 0; i < device_count; i++) {
    const clattn_device_info *d = &devices[i];
    CHECK(d->name[0] != '\0');
    CHECK(memchr(d->name, '\0', sizeof d->name) != NULL);
    CHECK(d->platform_name[0] != '\0');
    CHECK(strncmp(d->device_version, "OpenCL ", 7) == 0);
    CHECK(strncmp(d->platform_version, "OpenCL ", 7) == 0);
    CHECK_CONTAINS(d->opencl_c_version, "OpenCL C");
    CHECK(d->type != 0);
    CHECK(d->compute_units >= 1);
    CHECK(d->max_work_group_size >= 1);
    CHECK(d->max_work_item_sizes[0] >= 1);
    CHECK(d->local_mem_size > 0);
    CHECK(d->global_mem_size > 0);
    CHECK(d->max_mem_alloc_size > 0 && d->max_mem_alloc_size <= d->global_mem_size);
    CHECK(d->mem_base_addr_align > 0);
    CHECK(d->local_mem_is_dedicated == 0 || d->local_mem_is_dedicated == 1);
    CHECK(d->compiler_available == 0 || d->compiler_available == 1);
    /* OpenCL 3.0 devices may report fp64 through CL_DEVICE_DOUBLE_FP_CONFIG alone. */
    if (strstr(d->extensions, "cl_khr_fp64")) CHECK_EQ(d->has_fp64, 1);
    CHECK(d->has_fp16 == (strstr(d->extensions, "cl_khr_fp16") != NULL));
    if (strstr(d->platform_name, "Portable Computing Language")) {
      CHECK_EQ(d->compiler_available, 1);
      CHECK_EQ(d->local_mem_is_dedicated, 0); /* PoCL's CPU device emulates local memory */
    }

    /* Against OpenCL's own answers for the same (platform, device) position. */
    cl_device_id id = raw_device(d->platform_index, d->device_index);
    char name[256] = {0};
    cl_uint units = 0;
    cl_ulong local = 0;
    size_t group = 0;
    cl_device_type type = 0;
    CHECK_CL(clGetDeviceInfo(id, CL_DEVICE_NAME, sizeof name - 1, name, NULL));
    CHECK_CL(clGetDeviceInfo(id, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof units, &units, NULL));
    CHECK_CL(clGetDeviceInfo(id, CL_DEVICE_LOCAL_MEM_SIZE, sizeof local, &local, NULL));
    CHECK_CL(clGetDeviceInfo(id, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof group, &group, NULL));
    CHECK_CL(clGetDeviceInfo(id, CL_DEVICE_TYPE, sizeof type, &type, NULL));
    CHECK(strcmp(name, d->name) == 0);
    CHECK_EQ(units, d->compute_units);
    CHECK_EQ(local, d->local_mem_size);
    CHECK_EQ(group, d->max_work_group_size);
    CHECK_EQ(type, d->type);
  }
}

static void test_list_errors(void) {
  /* A capacity below the count: the first entries are written, the status says so. */
  clattn_device_info *some = calloc(device_count, sizeof *some);
  CHECK(some != NULL);
  size_t count = 0;
  if (device_count > 1) {
    CHECK_STATUS(NULL, clattn_list_devices(some, device_count - 1, &count),
                 CLATTN_BUFFER_TOO_SMALL);
    CHECK_EQ(count, device_count);
    CHECK(strcmp(some[0].name, devices[0].name) == 0);
  }
  count = 777;
  clattn_device_info one;
  memset(&one, 0, sizeof one);
  CHECK_STATUS(NULL, clattn_list_devices(&one, 0, &count), CLATTN_BUFFER_TOO_SMALL);
  CHECK_EQ(count, device_count);
  CHECK_EQ(one.name[0], '\0'); /* capacity 0 writes nothing */
  free(some);

  CHECK_STATUS(NULL, clattn_list_devices(&one, 1, NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "count");
  count = 777;
  CHECK_STATUS(NULL, clattn_list_devices(NULL, 1, &count), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "out");
  CHECK_EQ(count, 777); /* outputs are written only on success */
}

/* The header's default: first GPU, else first accelerator, else first CPU, else first. */
static size_t expected_default(void) {
  const cl_device_type order[] = {CL_DEVICE_TYPE_GPU, CL_DEVICE_TYPE_ACCELERATOR,
                                  CL_DEVICE_TYPE_CPU};
  for (size_t t = 0; t < 3; t++)
    for (size_t i = 0; i < device_count; i++)
      if (devices[i].type & order[t]) return i;
  return 0;
}

/* The first device whose name contains `text`, ignoring case; device_count when none. */
static size_t expected_by_name(const char *text) {
  for (size_t i = 0; i < device_count; i++)
    if (contains_nocase(devices[i].name, text)) return i;
  return device_count;
}

static void test_select(void) {
  unsetenv("CLATTN_DEVICE");
  size_t index = 999;
  CHECK_OK(NULL, clattn_select_device(NULL, &index));
  CHECK_EQ(index, expected_default());
  index = 999;
  CHECK_OK(NULL, clattn_select_device("", &index));
  CHECK_EQ(index, expected_default());

  for (size_t i = 0; i < device_count; i++) {
    char selector[64];
    snprintf(selector, sizeof selector, "%u:%u", devices[i].platform_index,
             devices[i].device_index);
    index = 999;
    CHECK_OK(NULL, clattn_select_device(selector, &index));
    CHECK_EQ(index, i);

    /* The full name, the same in upper case, and a piece from the middle in mixed case. */
    const char *name = devices[i].name;
    index = 999;
    CHECK_OK(NULL, clattn_select_device(name, &index));
    CHECK_EQ(index, expected_by_name(name));
    char upper[256], piece[8];
    size_t len = strlen(name);
    for (size_t k = 0; k <= len; k++) upper[k] = (char)toupper((unsigned char)name[k]);
    index = 999;
    CHECK_OK(NULL, clattn_select_device(upper, &index));
    CHECK_EQ(index, expected_by_name(name));
    if (len >= 4) {
      size_t start = len / 3, n = len - start < 6 ? len - start : 6;
      for (size_t k = 0; k < n; k++)
        piece[k] = (char)(k % 2 ? toupper((unsigned char)name[start + k])
                                : tolower((unsigned char)name[start + k]));
      piece[n] = '\0';
      index = 999;
      CHECK_OK(NULL, clattn_select_device(piece, &index));
      CHECK_EQ(index, expected_by_name(piece));
    }
  }
  if (expected_by_name("pthread") < device_count) {
    index = 999;
    CHECK_OK(NULL, clattn_select_device("PThread", &index));
    CHECK_EQ(index, expected_by_name("pthread"));
  }
}

static void expect_not_found(const char *selector) {
  size_t index = 4242;
  CHECK_STATUS(NULL, clattn_select_device(selector, &index), CLATTN_DEVICE_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(NULL), selector);
  CHECK_EQ(index, 4242);
}

static void test_select_not_found(void) {
  unsetenv("CLATTN_DEVICE");
  expect_not_found("no-such-device-xyzzy");
  char selector[64];
  snprintf(selector, sizeof selector, "%u:0", devices[device_count - 1].platform_index + 1u);
  expect_not_found(selector);
  snprintf(selector, sizeof selector, "0:%zu", device_count + 7);
  expect_not_found(selector);
  expect_not_found("99999999999999999999:0");
  expect_not_found("-1:0");

  CHECK_STATUS(NULL, clattn_select_device("0:0", NULL), CLATTN_INVALID_ARGUMENT);
  CHECK_CONTAINS(clattn_last_error(NULL), "index");
}

/* CLATTN_DEVICE is used only when no explicit selector is given. */
static void test_env_precedence(void) {
  size_t index = 999;
  setenv("CLATTN_DEVICE", "no-such-device-from-env", 1);
  CHECK_STATUS(NULL, clattn_select_device(NULL, &index), CLATTN_DEVICE_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(NULL), "no-such-device-from-env");
  CHECK_STATUS(NULL, clattn_select_device("", &index), CLATTN_DEVICE_NOT_FOUND);
  CHECK_EQ(index, 999);
  CHECK_OK(NULL, clattn_select_device("0:0", &index));
  CHECK_EQ(index, 0);

  /* The same precedence in clattn_context_create (no kernels are built here). */
  clattn_context *ctx = (clattn_context *)&index; /* a sentinel: must stay untouched */
  clattn_context_options options;
  clattn_context_options_init(&options);
  CHECK_STATUS(NULL, clattn_context_create(&options, &ctx), CLATTN_DEVICE_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(NULL), "no-such-device-from-env");
  CHECK(ctx == (clattn_context *)&index);
  CHECK_STATUS(NULL, clattn_context_create(NULL, &ctx), CLATTN_DEVICE_NOT_FOUND);
  CHECK(ctx == (clattn_context *)&index);

  size_t last = device_count - 1;
  char selector[64];
  snprintf(selector, sizeof selector, "%u:%u", devices[last].platform_index,
           devices[last].device_index);
  options.device = selector;
  ctx = NULL;
  CHECK_OK(NULL, clattn_context_create(&options, &ctx));
  CHECK(ctx != NULL);
  clattn_device_info info;
  CHECK_OK(ctx, clattn_context_device_info(ctx, &info));
  CHECK_EQ(info.platform_index, devices[last].platform_index);
  CHECK_EQ(info.device_index, devices[last].device_index);
  clattn_context_destroy(ctx);

  /* A valid environment selector is honoured, by position and by name. */
  setenv("CLATTN_DEVICE", selector, 1);
  index = 999;
  CHECK_OK(NULL, clattn_select_device(NULL, &index));
  CHECK_EQ(index, last);
  char lower[256];
  size_t len = strlen(devices[last].name);
  for (size_t k = 0; k <= len; k++) lower[k] = (char)tolower((unsigned char)devices[last].name[k]);
  setenv("CLATTN_DEVICE", lower, 1);
  index = 999;
  CHECK_OK(NULL, clattn_select_device(NULL, &index));
  CHECK_EQ(index, expected_by_name(lower));
  /* ...and an explicit, failing selector is not rescued by a valid environment. */
  CHECK_STATUS(NULL, clattn_select_device("no-such-device-explicit", &index),
               CLATTN_DEVICE_NOT_FOUND);
  CHECK_CONTAINS(clattn_last_error(NULL), "no-such-device-explicit");
  options.device = "no-such-device-explicit";
  ctx = NULL;
  CHECK_STATUS(NULL, clattn_context_create(&options, &ctx), CLATTN_DEVICE_NOT_FOUND);
  CHECK(ctx == NULL);
  unsetenv("CLATTN_DEVICE");
}

int main(void) {
  unsetenv("CLATTN_DEVICE");
  load_devices();
  test_list_positions();
  test_list_fields();
  test_list_errors();
  test_select();
  test_select_not_found();
  test_env_precedence();
  free(devices);
  return check_done("test_devices");
}
