/* Status names and messages, OpenCL error names and the version: the pieces every other
 * message is built from. */
#include <clattn.h>
#include <stdio.h>
#include <string.h>

#include "check.h"

typedef struct expected_status {
  clattn_status status;
  int code;
  const char *name;
  const char *text;
} expected_status;

/* The table the header's list describes, built independently of the library's switch. */
static const expected_status expected[] = {
#define EXPECTED_ENTRY(name, code, text) {CLATTN_##name, code, "CLATTN_" #name, text},
    CLATTN_STATUS_MAP(EXPECTED_ENTRY)
#undef EXPECTED_ENTRY
};
static const size_t expected_count = sizeof expected / sizeof expected[0];

static void test_every_status(void) {
  CHECK(expected_count >= 12);
  for (size_t i = 0; i < expected_count; i++) {
    const expected_status *e = &expected[i];
    CHECK_EQ((int)e->status, e->code);
    const char *name = clattn_status_name(e->status);
    const char *text = clattn_status_string(e->status);
    CHECK(name != NULL && text != NULL);
    if (strcmp(name, e->name) != 0)
      check_fail(__FILE__, __LINE__, "status %d is named \"%s\", expected \"%s\"", e->code, name,
                 e->name);
    check_pass();
    if (strcmp(text, e->text) != 0)
      check_fail(__FILE__, __LINE__, "status %s reads \"%s\", expected \"%s\"", e->name, text,
                 e->text);
    check_pass();
    /* Static strings: asking twice gives the same pointer. */
    CHECK(clattn_status_name(e->status) == name);
    CHECK(clattn_status_string(e->status) == text);
    for (size_t j = 0; j < i; j++) {
      const expected_status *other = &expected[j];
      CHECK(other->code != e->code);
      CHECK(strcmp(clattn_status_name(other->status), name) != 0);
      CHECK(strcmp(clattn_status_string(other->status), text) != 0);
    }
  }
  CHECK_EQ(CLATTN_SUCCESS, 0);
}

static void test_unknown_status(void) {
  const clattn_status unknowns[] = {(clattn_status)1, (clattn_status)-12, (clattn_status)-98,
                                    (clattn_status)-100, (clattn_status)12345};
  for (size_t i = 0; i < sizeof unknowns / sizeof unknowns[0]; i++) {
    const char *name = clattn_status_name(unknowns[i]);
    CHECK(name != NULL);
    if (strcmp(name, "CLATTN_UNKNOWN_STATUS") != 0)
      check_fail(__FILE__, __LINE__, "status %d is named \"%s\"", (int)unknowns[i], name);
    check_pass();
    const char *text = clattn_status_string(unknowns[i]);
    CHECK(text != NULL && text[0] != '\0');
    for (size_t j = 0; j < expected_count; j++) CHECK(strcmp(text, expected[j].text) != 0);
  }
}

static void test_cl_error_names(void) {
  static const struct {
    cl_int code;
    const char *name;
  } known[] = {
      {CL_SUCCESS, "CL_SUCCESS"},
      {CL_DEVICE_NOT_FOUND, "CL_DEVICE_NOT_FOUND"},
      {CL_COMPILER_NOT_AVAILABLE, "CL_COMPILER_NOT_AVAILABLE"},
      {CL_MEM_OBJECT_ALLOCATION_FAILURE, "CL_MEM_OBJECT_ALLOCATION_FAILURE"},
      {-5, "CL_OUT_OF_RESOURCES"},
      {CL_OUT_OF_HOST_MEMORY, "CL_OUT_OF_HOST_MEMORY"},
      {CL_PROFILING_INFO_NOT_AVAILABLE, "CL_PROFILING_INFO_NOT_AVAILABLE"},
      {CL_BUILD_PROGRAM_FAILURE, "CL_BUILD_PROGRAM_FAILURE"},
      {CL_INVALID_VALUE, "CL_INVALID_VALUE"},
      {CL_INVALID_DEVICE, "CL_INVALID_DEVICE"},
      {CL_INVALID_CONTEXT, "CL_INVALID_CONTEXT"},
      {CL_INVALID_COMMAND_QUEUE, "CL_INVALID_COMMAND_QUEUE"},
      {CL_INVALID_MEM_OBJECT, "CL_INVALID_MEM_OBJECT"},
      {CL_INVALID_BINARY, "CL_INVALID_BINARY"},
      {CL_INVALID_BUILD_OPTIONS, "CL_INVALID_BUILD_OPTIONS"},
      {CL_INVALID_PROGRAM_EXECUTABLE, "CL_INVALID_PROGRAM_EXECUTABLE"},
      {CL_INVALID_KERNEL_NAME, "CL_INVALID_KERNEL_NAME"},
      {CL_INVALID_KERNEL_ARGS, "CL_INVALID_KERNEL_ARGS"},
      {CL_INVALID_WORK_GROUP_SIZE, "CL_INVALID_WORK_GROUP_SIZE"},
      {CL_INVALID_EVENT_WAIT_LIST, "CL_INVALID_EVENT_WAIT_LIST"},
      {CL_INVALID_BUFFER_SIZE, "CL_INVALID_BUFFER_SIZE"},
      {CL_INVALID_GLOBAL_WORK_SIZE, "CL_INVALID_GLOBAL_WORK_SIZE"},
      {CL_INVALID_PROPERTY, "CL_INVALID_PROPERTY"},
      {CL_INVALID_COMPILER_OPTIONS, "CL_INVALID_COMPILER_OPTIONS"},
      {CL_INVALID_DEVICE_PARTITION_COUNT, "CL_INVALID_DEVICE_PARTITION_COUNT"},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
    const char *name = clattn_cl_error_name(known[i].code);
    CHECK(name != NULL);
    if (strcmp(name, known[i].name) != 0)
      check_fail(__FILE__, __LINE__, "OpenCL error %d is named \"%s\", expected \"%s\"",
                 (int)known[i].code, name, known[i].name);
    check_pass();
  }
  /* Codes no OpenCL version defines still get a static, non-empty name that is not one of
   * the real ones (a message must never claim the wrong error). */
  const cl_int unknown[] = {1, -20, -29, -98, -12345, 424242};
  for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
    const char *name = clattn_cl_error_name(unknown[i]);
    CHECK(name != NULL && name[0] != '\0');
    for (size_t j = 0; j < sizeof known / sizeof known[0]; j++)
      CHECK(strcmp(name, known[j].name) != 0);
    CHECK_CONTAINS(name, "UNKNOWN");
  }
}

static void test_version(void) {
  CHECK_EQ(CLATTN_VERSION_HEX, (CLATTN_VERSION_MAJOR << 16) | (CLATTN_VERSION_MINOR << 8) |
                                   CLATTN_VERSION_PATCH);
  CHECK_EQ(clattn_version(), CLATTN_VERSION_HEX);
  char expected_text[32];
  snprintf(expected_text, sizeof expected_text, "%d.%d.%d", CLATTN_VERSION_MAJOR,
           CLATTN_VERSION_MINOR, CLATTN_VERSION_PATCH);
  const char *text = clattn_version_string();
  CHECK(text != NULL);
  if (strcmp(text, expected_text) != 0)
    check_fail(__FILE__, __LINE__, "version string \"%s\", expected \"%s\"", text, expected_text);
  check_pass();
  CHECK(clattn_version_string() == text);
  /* The runtime number and the string describe the same version. */
  unsigned major = 0, minor = 0, patch = 0;
  CHECK_EQ(sscanf(text, "%u.%u.%u", &major, &minor, &patch), 3);
  CHECK_EQ((major << 16) | (minor << 8) | patch, clattn_version());
}

int main(void) {
  test_every_status();
  test_unknown_status();
  test_cl_error_names();
  test_version();
  return check_done("test_status");
}
