/*
 * clattn: the command-line tool. main() parses the options that come before the command
 * name, then hands the rest of the command line to the command.
 */
#include <string.h>

#include "cli.h"
#include "heatmap.h"
#include "tune.h"

typedef struct clattn_cli_command {
  const char *name;
  clattn_cli_command_fn run;
  const char *summary;
} clattn_cli_command;

static const clattn_cli_command clattn_cli_commands[] = {
    {"devices", clattn_cli_devices_run, "list OpenCL platforms and devices, marking the default"},
    {"demo", clattn_cli_demo_run, "run causal attention on random data, check it, time it"},
    {"run", clattn_cli_run_run, "run attention on .npy files: Q, K, V [, mask, lengths] -> O"},
    {"heatmap", clattn_cli_heatmap_run, "draw one head's attention weights as a PNG heatmap"},
    {"kernels", clattn_cli_kernels_run, "list kernel variants and export their binaries"},
    {"tune", clattn_cli_tune_run, "tune attention (and CLBlast's GEMM) for the device"},
    {"bench", clattn_cli_bench_run, "measure attention, decode, the layer and the family here"},
};

static void clattn_cli_usage(FILE *out) {
  fputs("usage: clattn [--device SEL] <command> [options]\n"
        "       clattn --help | --version\n"
        "\n"
        "Runs attention on any OpenCL device.\n"
        "\n"
        "Commands:\n",
        out);
  for (size_t i = 0; i < sizeof clattn_cli_commands / sizeof clattn_cli_commands[0]; ++i) {
    fprintf(out, "  %-9s %s\n", clattn_cli_commands[i].name, clattn_cli_commands[i].summary);
  }
  fputs("\n"
        "Options:\n"
        "  --device SEL   the device: \"P:D\" (platform and device index, as 'clattn devices'\n"
        "                 shows) or part of its name; default: $CLATTN_DEVICE, else the\n"
        "                 first GPU, accelerator or CPU\n"
        "  -h, --help     show this help and exit\n"
        "  -V, --version  show the version and exit\n"
        "\n"
        "Examples:\n"
        "  clattn demo\n"
        "  clattn run --q q.npy --k k.npy --v v.npy --out o.npy --causal bottom-right\n"
        "  clattn heatmap --q q.npy --k k.npy --causal top-left --out weights.png\n"
        "\n"
        "Environment: CLATTN_DEVICE, CLATTN_CACHE_DIR, CLATTN_CACHE=0 (no disk cache),\n"
        "CLATTN_BINARY_DIR (prebuilt kernels), CLATTN_KERNEL_DIR (kernel sources).\n"
        "Run 'clattn <command> --help' for the options of a command.\n",
        out);
}

/* Prints the version; warns when the shared library found at run time is not the one this
 * tool was compiled against, which is the usual cause of otherwise baffling failures. */
static int clattn_cli_version_print(void) {
  printf("clattn %s\n", clattn_version_string());
  unsigned linked = clattn_version();
  if (linked != (unsigned)CLATTN_VERSION_HEX) {
    fprintf(stderr,
            "clattn: warning: built with the clattn %d.%d.%d header but running with the "
            "%u.%u.%u library\n",
            CLATTN_VERSION_MAJOR, CLATTN_VERSION_MINOR, CLATTN_VERSION_PATCH,
            (linked >> 16) & 0xffu, (linked >> 8) & 0xffu, linked & 0xffu);
  }
  return CLATTN_CLI_OK;
}

static const clattn_cli_command *clattn_cli_command_find(const char *name) {
  for (size_t i = 0; i < sizeof clattn_cli_commands / sizeof clattn_cli_commands[0]; ++i) {
    if (strcmp(clattn_cli_commands[i].name, name) == 0) {
      return &clattn_cli_commands[i];
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  clattn_cli_globals globals = {NULL};
  int help = 0;
  int version = 0;
  int first = argc;
  const clattn_cli_option options[] = {
      {"--help", "-h", NULL, &help},
      {"--version", "-V", NULL, &version},
      {"--device", NULL, &globals.device, NULL},
      {NULL, NULL, NULL, NULL},
  };
  if (clattn_cli_args_parse("", argc, argv, options, &first) != CLATTN_CLI_OK) {
    clattn_cli_usage(stderr);
    return CLATTN_CLI_USAGE;
  }
  if (help) {
    clattn_cli_usage(stdout);
    return CLATTN_CLI_OK;
  }
  if (version) {
    return clattn_cli_version_print();
  }
  if (first >= argc) {
    fputs("clattn: no command given\n", stderr);
    clattn_cli_usage(stderr);
    return CLATTN_CLI_USAGE;
  }
  const clattn_cli_command *command = clattn_cli_command_find(argv[first]);
  if (command == NULL) {
    fprintf(stderr, "clattn: unknown command '%s'\n", argv[first]);
    clattn_cli_usage(stderr);
    return CLATTN_CLI_USAGE;
  }
  return command->run(argc - first, argv + first, &globals);
}
