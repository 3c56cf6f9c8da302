/*
 * Shared pieces of the clattn command-line tool: exit codes, option parsing, formatting and
 * failure reporting. The tool uses only the public API in clattn.h, so it doubles as an
 * example of how an application drives the library.
 */
#ifndef CLATTN_CLI_H
#define CLATTN_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "clattn.h"

/* Exit statuses, following the usual Unix convention: 2 means the command line was wrong,
 * 1 means the command was right but could not be carried out. */
enum {
  CLATTN_CLI_OK = 0,
  CLATTN_CLI_FAILURE = 1,
  CLATTN_CLI_USAGE = 2
};

/* One long option a command accepts. `value` is set for options that take an argument
 * ("--name VALUE" or "--name=VALUE"); `flag` is set to 1 for options that do not. Exactly one
 * of the two is non-NULL. `alias` is an optional short spelling such as "-h". */
typedef struct clattn_cli_option {
  const char *name;
  const char *alias;
  const char **value;
  int *flag;
} clattn_cli_option;

/* Everything a command needs from the command line that main() already parsed: the
 * `--device` given before the command name (NULL if none). */
typedef struct clattn_cli_globals {
  const char *device;
} clattn_cli_globals;

/* A command's entry point: argv[0] is the command name, the rest its arguments. */
typedef int (*clattn_cli_command_fn)(int argc, char **argv, const clattn_cli_globals *globals);

/* Parses argv[1..argc-1] against `options` (terminated by an entry whose name is NULL).
 * With `rest` NULL, positional arguments are an error; otherwise parsing stops at the first
 * one and *rest is its index (argc when there is none). On a bad command line prints a
 * message naming `command` ("" for the tool itself) and the offending word to stderr and
 * returns CLATTN_CLI_USAGE; otherwise CLATTN_CLI_OK. The caller then prints its usage. */
int clattn_cli_args_parse(const char *command, int argc, char **argv,
                          const clattn_cli_option *options, int *rest);

/* A command's whole command line (no positional arguments): parses it against `options`,
 * prints `usage` to stderr after a bad line or to stdout when *help was set. Returns -1 when
 * the command is to go on, else the exit code to return (CLATTN_CLI_USAGE, or CLATTN_CLI_OK
 * after --help). */
int clattn_cli_args_command(const char *command, int argc, char **argv,
                            const clattn_cli_option *options, const int *help,
                            void (*usage)(FILE *out));

/* clattn_cli_args_command for a command whose only options are --help and --device, with
 * *device holding the global --device (and getting the command's own). */
int clattn_cli_args_device_only(const char *command, int argc, char **argv, const char **device,
                                void (*usage)(FILE *out));

/* Formats a byte count with binary units ("512 B", "1.5 KiB", "7.8 GiB") into buf. */
const char *clattn_cli_bytes_format(unsigned long long bytes, char *buf, size_t size);

/* "GPU", "CPU", "accelerator" or "other". */
const char *clattn_cli_device_type_name(cl_device_type type);

/* "built", "disk cache", "prebuilt" or "memory". */
const char *clattn_cli_origin_name(clattn_program_origin origin);

/* Prints "clattn: <status name>: <message>" to stderr, where the message is
 * clattn_last_error(ctx) or, when that is empty, the status description. Returns
 * CLATTN_CLI_FAILURE so callers can `return clattn_cli_failure_print(...)`. */
int clattn_cli_failure_print(const clattn_context *ctx, clattn_status status);

/* Reports a host allocation failure in the tool itself, in the same format. */
int clattn_cli_out_of_memory(void);

/* Creates a context on `device` (NULL: CLATTN_DEVICE, else the default). Prints the failure
 * and returns CLATTN_CLI_FAILURE when it cannot, else CLATTN_CLI_OK. */
int clattn_cli_context_open(const char *device, clattn_context **ctx);

/* Fills *variants (malloc'd, caller frees; NULL when there are none) and *count with every
 * kernel variant of the context. Prints the failure and returns CLATTN_CLI_FAILURE when it
 * cannot, else CLATTN_CLI_OK. */
int clattn_cli_variants_list(clattn_context *ctx, clattn_kernel_variant **variants,
                             size_t *count);

/* The one-line description of the context's device used by several commands:
 * "0:0  <name> (CPU, 4 compute units)". */
void clattn_cli_device_line_print(FILE *out, const clattn_device_info *info);

/* Seconds on a monotonic clock, for wall-time measurements. */
double clattn_cli_seconds_now(void);

/* Per-command entry points and usage texts. */
int clattn_cli_devices_run(int argc, char **argv, const clattn_cli_globals *globals);
int clattn_cli_demo_run(int argc, char **argv, const clattn_cli_globals *globals);
int clattn_cli_kernels_run(int argc, char **argv, const clattn_cli_globals *globals);
int clattn_cli_run_run(int argc, char **argv, const clattn_cli_globals *globals);
int clattn_cli_bench_run(int argc, char **argv, const clattn_cli_globals *globals);
void clattn_cli_devices_usage(FILE *out);
void clattn_cli_demo_usage(FILE *out);
void clattn_cli_kernels_usage(FILE *out);
void clattn_cli_run_usage(FILE *out);

#endif /* CLATTN_CLI_H */
