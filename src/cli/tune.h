/*
 * clattn tune: searches parameters for the device and stores them in its tuning file, which
 * every later context on the device applies. Each kind of tuning is a target selected by its
 * own flag (--gemm: CLBlast's GEMM kernel); targets run in turn on one context.
 */
#ifndef CLATTN_CLI_TUNE_H
#define CLATTN_CLI_TUNE_H

#include <stdio.h>

#include "cli.h"

int clattn_cli_tune_run(int argc, char **argv, const clattn_cli_globals *globals);
void clattn_cli_tune_usage(FILE *out);

#endif
