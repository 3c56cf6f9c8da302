/*
 * clattn demo: clattn at work on a device. It prepares the kernels (cold, then again from
 * the memory cache) and shows the program caches, runs causal multi-head attention on random
 * data, checks it against a double-precision reference and times it, and puts the rate next
 * to the device's FMA ceiling measured with clattn's microkernels.
 */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "demo.h"

/* The ceilings are context for the attention rate, not the point: a short measurement. */
#define CLATTN_CLI_DEMO_REPEATS 3
#define CLATTN_CLI_DEMO_TRIAD_BYTES ((size_t)16u << 20)

void clattn_cli_demo_usage(FILE *out) {
  fputs("usage: clattn demo [--device SEL]\n"
        "\n"
        "Prepares clattn's kernels on the device (timing the compiler and the caches), runs\n"
        "causal multi-head attention (B=1, H=8, S=1024, D=64) on random data, checks it\n"
        "against a double-precision reference on a sample of rows, and reports its median\n"
        "time and GFLOP/s next to the device's FMA ceiling. Exits with 1 when the result is\n"
        "outside the tolerance.\n",
        out);
}

static int clattn_cli_demo_device(clattn_context *ctx) {
  clattn_device_info info;
  clattn_status status = clattn_context_device_info(ctx, &info);
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(ctx, status);
  }
  printf("device    ");
  clattn_cli_device_line_print(stdout, &info);
  return CLATTN_CLI_OK;
}

/* Prepares every variant, timing it, and fills origins[0..count-1]. */
static int clattn_cli_demo_prepare_timed(clattn_context *ctx, clattn_program_origin *origins,
                                         size_t count, double *seconds) {
  double start = clattn_cli_seconds_now();
  clattn_status status = clattn_prepare_kernels(ctx, origins, count);
  *seconds = clattn_cli_seconds_now() - start;
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(ctx, status);
  }
  return CLATTN_CLI_OK;
}

/* One line per variant: where its program came from. */
static void clattn_cli_demo_origins_print(const clattn_kernel_variant *variants,
                                          const clattn_program_origin *origins, size_t count) {
  for (size_t i = 0; i < count; ++i) {
    /* Variants of one file differ only in their options; a prefix is enough to tell them
     * apart here, and 'clattn kernels' shows them in full. */
    const char *options = variants[i].options;
    int long_options = strlen(options) > 48;
    const char *origin = clattn_cli_origin_name(origins[i]);
    if (options[0] == '\0') {
      printf("            %-16s %s\n", variants[i].file, origin);
    } else {
      printf("            %-16s %-10s  %.*s%s\n", variants[i].file, origin,
             long_options ? 45 : 48, options, long_options ? "..." : "");
    }
  }
}

static int clattn_cli_demo_prepare(clattn_context *ctx, const clattn_kernel_variant *variants,
                                   clattn_program_origin *origins, size_t count) {
  double seconds = 0.0;
  int rc = clattn_cli_demo_prepare_timed(ctx, origins, count, &seconds);
  if (rc != CLATTN_CLI_OK) {
    return rc;
  }
  printf("kernels   %zu variant%s ready in %.3f s\n", count, count == 1 ? "" : "s", seconds);
  clattn_cli_demo_origins_print(variants, origins, count);
  /* The second call shows the steady state: every later call finds its programs here. */
  rc = clattn_cli_demo_prepare_timed(ctx, origins, count, &seconds);
  if (rc != CLATTN_CLI_OK) {
    return rc;
  }
  size_t memory = 0;
  for (size_t i = 0; i < count; ++i) {
    memory += origins[i] == CLATTN_ORIGIN_MEMORY;
  }
  printf("again     %.6f s (%zu of %zu from memory)\n", seconds, memory, count);
  return CLATTN_CLI_OK;
}

static int clattn_cli_demo_cache(const clattn_context *ctx, int *disk_enabled) {
  clattn_cache_stats stats;
  clattn_status status = clattn_context_cache_stats(ctx, &stats);
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(ctx, status);
  }
  *disk_enabled = stats.disk_cache_enabled;
  printf("cache     %s\n", stats.disk_cache_enabled ? stats.cache_dir : "disabled");
  printf("          %llu built (%.3f s), %llu from disk, %llu prebuilt (%.3f s loading), "
         "%llu written, %llu rejected\n",
         (unsigned long long)stats.builds, stats.build_seconds,
         (unsigned long long)stats.disk_hits, (unsigned long long)stats.prebuilt_loads,
         stats.load_seconds, (unsigned long long)stats.disk_writes,
         (unsigned long long)stats.disk_rejects);
  return CLATTN_CLI_OK;
}

static int clattn_cli_demo_ceilings(clattn_context *ctx, double attention_gflops) {
  clattn_ceilings ceilings;
  char triad[32];
  double start = clattn_cli_seconds_now();
  clattn_status status = clattn_measure_ceilings(ctx, NULL, CLATTN_CLI_DEMO_REPEATS,
                                                 CLATTN_CLI_DEMO_TRIAD_BYTES, &ceilings);
  double seconds = clattn_cli_seconds_now() - start;
  if (status != CLATTN_SUCCESS) {
    return clattn_cli_failure_print(ctx, status);
  }
  printf("ceilings  FMA %.1f GFLOP/s, triad %.1f GB/s (median of %d, %s triad, %.2f s)\n",
         ceilings.fma_gflops, ceilings.triad_gbps, CLATTN_CLI_DEMO_REPEATS,
         clattn_cli_bytes_format(CLATTN_CLI_DEMO_TRIAD_BYTES, triad, sizeof triad), seconds);
  if (ceilings.fma_gflops > 0.0) {
    printf("          attention ran at %.0f%% of the FMA ceiling\n",
           100.0 * attention_gflops / ceilings.fma_gflops);
  }
  return CLATTN_CLI_OK;
}

static void clattn_cli_demo_hint(int disk_enabled) {
  if (disk_enabled) {
    puts("\nThe kernels are now in the disk cache: in a new process they load from there\n"
         "instead of being compiled (run 'clattn demo' again to see it).");
  } else {
    puts("\nThe disk cache is disabled, so every new process compiles the kernels again.");
  }
  puts("Run your own arrays with 'clattn run --q Q.npy --k K.npy --v V.npy --out O.npy'.");
}

/* The demo proper, on an open context. */
static int clattn_cli_demo_steps(clattn_context *ctx) {
  clattn_kernel_variant *variants = NULL;
  clattn_program_origin *origins = NULL;
  size_t count = 0;
  int disk_enabled = 0;
  double gflops = 0.0;
  int rc = clattn_cli_demo_device(ctx);
  if (rc == CLATTN_CLI_OK) {
    rc = clattn_cli_variants_list(ctx, &variants, &count);
  }
  if (rc == CLATTN_CLI_OK && count > 0) {
    origins = calloc(count, sizeof *origins);
    rc = origins != NULL ? CLATTN_CLI_OK : clattn_cli_out_of_memory();
  }
  if (rc == CLATTN_CLI_OK) {
    rc = clattn_cli_demo_prepare(ctx, variants, origins, count);
  }
  if (rc == CLATTN_CLI_OK) {
    rc = clattn_cli_demo_cache(ctx, &disk_enabled);
  }
  if (rc == CLATTN_CLI_OK) {
    rc = clattn_cli_demo_attention(ctx, &gflops);
  }
  if (rc == CLATTN_CLI_OK) {
    rc = clattn_cli_demo_ceilings(ctx, gflops);
  }
  if (rc == CLATTN_CLI_OK) {
    clattn_cli_demo_hint(disk_enabled);
  }
  free(origins);
  free(variants);
  return rc;
}

int clattn_cli_demo_run(int argc, char **argv, const clattn_cli_globals *globals) {
  const char *device = globals->device;
  int done = clattn_cli_args_device_only("demo", argc, argv, &device, clattn_cli_demo_usage);
  if (done >= 0) {
    return done;
  }
  clattn_context *ctx = NULL;
  int rc = clattn_cli_context_open(device, &ctx);
  if (rc == CLATTN_CLI_OK) {
    rc = clattn_cli_demo_steps(ctx);
  }
  clattn_context_destroy(ctx);
  return rc;
}
