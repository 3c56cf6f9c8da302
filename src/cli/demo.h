/* The attention part of clattn demo (demo_attention.c), called by cmd_demo.c. */
#ifndef CLATTN_CLI_DEMO_H
#define CLATTN_CLI_DEMO_H

#include "cli.h"

/* Runs causal multi-head attention on random data, checks a sample of rows against the
 * double-precision reference and times it, printing each step. *gflops receives the
 * achieved rate. Returns CLATTN_CLI_OK, or CLATTN_CLI_FAILURE (failure printed) when a call
 * fails or the output is outside the tolerance. */
int clattn_cli_demo_attention(clattn_context *ctx, double *gflops);

#endif /* CLATTN_CLI_DEMO_H */
