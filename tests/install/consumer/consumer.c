/* Uses an installed clattn the way an application would: the header and the library must
 * agree on the version, the status names must be there, and a context must come up on the
 * default device. Exits non-zero on any failure. */
#include <clattn.h>

#include <stdio.h>
#include <string.h>

int main(void) {
  unsigned linked = clattn_version();
  printf("clattn header %d.%d.%d, library %s (0x%06x)\n", CLATTN_VERSION_MAJOR,
         CLATTN_VERSION_MINOR, CLATTN_VERSION_PATCH, clattn_version_string(), linked);
  if (linked != (unsigned)CLATTN_VERSION_HEX) {
    fprintf(stderr, "FAIL: clattn_version() 0x%06x != CLATTN_VERSION_HEX 0x%06x\n", linked,
            (unsigned)CLATTN_VERSION_HEX);
    return 1;
  }

  const char *name = clattn_status_name(CLATTN_BUILD_FAILED);
  printf("%s\n", name ? name : "(null)");
  if (name == NULL || strcmp(name, "CLATTN_BUILD_FAILED") != 0) {
    fprintf(stderr, "FAIL: clattn_status_name(CLATTN_BUILD_FAILED) is wrong\n");
    return 1;
  }

  clattn_context *ctx = NULL;
  clattn_status st = clattn_context_create(NULL, &ctx);
  if (st != CLATTN_SUCCESS || ctx == NULL) {
    fprintf(stderr, "FAIL: clattn_context_create: %s: %s\n", clattn_status_name(st),
            clattn_last_error(NULL));
    return 1;
  }
  clattn_device_info info;
  st = clattn_context_device_info(ctx, &info);
  if (st != CLATTN_SUCCESS) {
    fprintf(stderr, "FAIL: clattn_context_device_info: %s: %s\n", clattn_status_name(st),
            clattn_last_error(ctx));
    clattn_context_destroy(ctx);
    return 1;
  }
  printf("context on \"%s\" (%s)\n", info.name, info.platform_name);
  clattn_context_destroy(ctx);
  printf("OK\n");
  return 0;
}
