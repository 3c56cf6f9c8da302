/*
 * clattn kernels: the kernel variants a device needs, named as the prebuilt-binary directory
 * expects them, so they can be compiled on one machine and loaded on a device that has no
 * compiler (FPGAs, some embedded GPUs).
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void clattn_cli_kernels_usage(FILE *out) {
  fputs("usage: clattn kernels [--device SEL] [--export DIR]\n"
        "\n"
        "Lists every kernel variant the device needs: its source file, the binary file name\n"
        "\"<key>.bin\" and the build options. With --export DIR, builds (or loads) each one\n"
        "and writes the binaries into DIR, created if missing, for loading with\n"
        "CLATTN_BINARY_DIR=DIR on a device of the same kind without a compiler.\n",
        out);
}

static void clattn_cli_kernels_table(const clattn_kernel_variant *variants, size_t count) {
  int width = (int)strlen("file");
  for (size_t i = 0; i < count; ++i) {
    int len = (int)strlen(variants[i].file);
    width = len > width ? len : width;
  }
  printf("%-3s %-*s %-68s %s\n", "#", width, "file", "binary", "options");
  for (size_t i = 0; i < count; ++i) {
    const clattn_kernel_variant *v = &variants[i];
    printf("%-3zu %-*s %s.bin %s\n", i, width, v->file, v->key,
           v->options[0] != '\0' ? v->options : "(none)");
  }
}

/* 1 when DIR/<key>.bin exists and can be opened. */
static int clattn_cli_binary_exists(const char *dir, const char *key) {
  size_t dir_len = strlen(dir);
  size_t size = dir_len + strlen(key) + sizeof "/.bin";
  char *path = malloc(size);
  if (path == NULL) {
    return 0;
  }
  int slash = dir_len > 0 && dir[dir_len - 1] == '/';
  snprintf(path, size, "%s%s%s.bin", dir, slash ? "" : "/", key);
  FILE *f = fopen(path, "rb");
  free(path);
  if (f == NULL) {
    return 0;
  }
  fclose(f);
  return 1;
}

static int clattn_cli_kernels_export(clattn_context *ctx, const char *dir,
                                     const clattn_kernel_variant *variants, size_t count) {
  clattn_status status = clattn_export_binaries(ctx, dir);
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(ctx, status);
  }
  /* Count what is really on disk rather than trusting the status alone. */
  size_t written = 0;
  for (size_t i = 0; i < count; ++i) {
    written += (size_t)clattn_cli_binary_exists(dir, variants[i].key);
  }
  printf("\nExported %zu of %zu %s to %s\n", written, count, count == 1 ? "binary" : "binaries",
         dir);
  if (written != count) {
    fprintf(stderr, "clattn: %zu binaries are missing from %s after the export\n",
            count - written, dir);
    return CLATTN_CLI_FAILURE;
  }
  printf("To load them on a device of the same kind without a compiler, set\n"
         "  CLATTN_BINARY_DIR=%s\n"
         "or options.binary_dir, with options.allow_compile = 0 to forbid compiling.\n",
         dir);
  return CLATTN_CLI_OK;
}

static int clattn_cli_kernels_steps(clattn_context *ctx, const char *export_dir) {
  clattn_device_info info;
  clattn_status status = clattn_context_device_info(ctx, &info);
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(ctx, status);
  }
  clattn_kernel_variant *variants = NULL;
  size_t count = 0;
  int rc = clattn_cli_variants_list(ctx, &variants, &count);
  if (rc == CLATTN_CLI_OK) {
    printf("device  ");
    clattn_cli_device_line_print(stdout, &info);
    printf("%zu kernel variant%s\n\n", count, count == 1 ? "" : "s");
    clattn_cli_kernels_table(variants, count);
  }
  if (rc == CLATTN_CLI_OK && export_dir != NULL) {
    rc = clattn_cli_kernels_export(ctx, export_dir, variants, count);
  }
  free(variants);
  return rc;
}

int clattn_cli_kernels_run(int argc, char **argv, const clattn_cli_globals *globals) {
  const char *device = globals->device;
  const char *export_dir = NULL;
  int help = 0;
  const clattn_cli_option options[] = {
      {"--help", "-h", NULL, &help},
      {"--device", NULL, &device, NULL},
      {"--export", NULL, &export_dir, NULL},
      {NULL, NULL, NULL, NULL},
  };
  int done = clattn_cli_args_command("kernels", argc, argv, options, &help,
                                     clattn_cli_kernels_usage);
  if (done >= 0) {
    return done;
  }
  if (export_dir != NULL && export_dir[0] == '\0') {
    fputs("clattn kernels: --export needs a directory\n", stderr);
    clattn_cli_kernels_usage(stderr);
    return CLATTN_CLI_USAGE;
  }
  clattn_context *ctx = NULL;
  int rc = clattn_cli_context_open(device, &ctx);
  if (rc == CLATTN_CLI_OK) {
    rc = clattn_cli_kernels_steps(ctx, export_dir);
  }
  clattn_context_destroy(ctx);
  return rc;
}
