/*
 * clattn bench: usage and command line.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "bench_cases.h"

#define BENCH_CLI_DEFAULT_REPEATS 7
static const int bench_cli_default_seqs[] = {128, 256, 512, 1024, 2048, 4096, 8192, 16384};
static const int bench_cli_quick_seqs[] = {256, 1024};

void bench_cli_usage(FILE *out) {
  fputs("usage: clattn bench [--quick] [--cases LIST] [--seq LIST] [--repeats N]\n"
        "                    [--json FILE] [--plot FILE.png] [--peers] [--device SEL]\n"
        "\n"
        "Measures clattn on the device in one process: every figure is the median of N\n"
        "runs with the slowest and fastest, in GFLOP/s or GB/s and as a share of the FMA\n"
        "or triad ceiling measured in the same run (clattn_measure_ceilings).\n"
        "\n"
        "Cases (--cases, comma-separated; default all):\n"
        "  prefill  attention forward, B=1 H=8 Sq=Skv=S, D 64 and 128, causal or not:\n"
        "           clattn's fused kernel against a naive kernel and an unfused path\n"
        "           (scores, softmax, P V), with the same checks as bench_attention\n"
        "  decode   one query token over 4096 cached keys, D=128, Hq=32, Hkv 32 and 8:\n"
        "           split-KV against the one-pass kernel, GB/s of K and V\n"
        "  mha      the attention layer (clattn_mha_forward), S=1024 E=512 H=8\n"
        "  gemm     its CLBlast projections (QKV and output), as the layer calls them\n"
        "  family   additive, local-m and hard (argmax) attention against softmax\n"
        "\n"
        "Options:\n"
        "  --quick         a short run: S 256 and 1024, smaller layer and family shapes\n"
        "  --seq LIST      prefill sequence lengths, comma-separated (at most 8;\n"
        "                  default 128,256,...,16384)\n"
        "  --repeats N     timed runs per figure, 5 .. 100 (default 7, --quick 5)\n"
        "  --json FILE     also write every figure as JSON\n"
        "  --plot FILE     draw prefill GFLOP/s against S (D=64) as a PNG (800 x 500)\n"
        "  --peers         also time NumPy and PyTorch on the prefill shapes\n"
        "                  (bench/peers/; each is skipped with a note when missing)\n"
        "  --device SEL    the device, as for 'clattn devices'\n"
        "\n"
        "The naive path is skipped above 100 GFLOP per run and the unfused path when\n"
        "its score matrix does not fit the device. Timed runs of the paths of one case\n"
        "alternate, so that load changes hit them alike; compare ratios, not absolute\n"
        "figures from different runs. Progress goes to stderr.\n"
        "\n"
        "Exit status: 0 done; 2 a wrong command line; 1 a path failed or gave a wrong\n"
        "answer, or a file could not be written.\n",
        out);
}

static int bench_cli_reject(const char *what, const char *value) {
  fprintf(stderr, "clattn bench: %s '%s'\n", what, value);
  return CLATTN_CLI_USAGE;
}

static int bench_cli_cases_parse(const char *list, unsigned *sections) {
  static const char *const names[] = {"prefill", "decode", "mha", "gemm", "family"};
  char token[32];
  *sections = 0;
  for (const char *p = list;; p += strcspn(p, ",") + 1) {
    size_t n = strcspn(p, ",");
    unsigned bit = 0;
    for (unsigned i = 0; n < sizeof token && i < sizeof names / sizeof names[0]; ++i) {
      bit = strlen(names[i]) == n && strncmp(p, names[i], n) == 0 ? 1u << i : bit;
    }
    if (bit == 0) {
      snprintf(token, sizeof token, "%.*s", (int)(n < 31 ? n : 31), p);
      return bench_cli_reject("unknown case", token);
    }
    *sections |= bit;
    if (p[n] == '\0') {
      return CLATTN_CLI_OK;
    }
  }
}

static int bench_cli_seqs_parse(const char *list, bench_cli_options *o) {
  o->seq_count = 0;
  for (const char *p = list;; ++p) {
    long value = 0;
    size_t used = bench_number(p, 1L << 20, &value);
    if (used == 0 || (p[used] != ',' && p[used] != '\0') ||
        o->seq_count == BENCH_CLI_MAX_SEQS) {
      return bench_cli_reject("--seq wants up to 8 positive lengths, e.g. 128,1024; got", list);
    }
    o->seqs[o->seq_count++] = (int)value;
    p += used;
    if (*p == '\0') {
      return CLATTN_CLI_OK;
    }
  }
}

int bench_cli_args_parse(int argc, char **argv, const clattn_cli_globals *globals,
                         bench_cli_options *o, int *help) {
  const char *cases = NULL, *seqs = NULL, *repeats = NULL;
  memset(o, 0, sizeof *o);
  o->device = globals->device;
  const clattn_cli_option options[] = {
      {"--help", "-h", NULL, help},       {"--quick", NULL, NULL, &o->quick},
      {"--cases", NULL, &cases, NULL},    {"--seq", NULL, &seqs, NULL},
      {"--repeats", NULL, &repeats, NULL}, {"--json", NULL, &o->json, NULL},
      {"--plot", NULL, &o->plot, NULL},   {"--peers", NULL, NULL, &o->peers},
      {"--device", NULL, &o->device, NULL}, {NULL, NULL, NULL, NULL},
  };
  int rc = clattn_cli_args_parse("bench", argc, argv, options, NULL);
  if (rc != CLATTN_CLI_OK || *help) {
    return rc;
  }
  o->sections = BENCH_CLI_PREFILL | BENCH_CLI_DECODE | BENCH_CLI_MHA | BENCH_CLI_GEMM |
                BENCH_CLI_FAMILY;
  if (cases != NULL && (rc = bench_cli_cases_parse(cases, &o->sections)) != CLATTN_CLI_OK) {
    return rc;
  }
  const int *defaults = o->quick ? bench_cli_quick_seqs : bench_cli_default_seqs;
  o->seq_count = o->quick ? 2 : 8;
  memcpy(o->seqs, defaults, (size_t)o->seq_count * sizeof *defaults);
  if (seqs != NULL && (rc = bench_cli_seqs_parse(seqs, o)) != CLATTN_CLI_OK) {
    return rc;
  }
  long n = o->quick ? BENCH_CLI_MIN_REPEATS : BENCH_CLI_DEFAULT_REPEATS;
  if (repeats != NULL && (bench_number(repeats, BENCH_MAX_RUNS, &n) != strlen(repeats) ||
                          n < BENCH_CLI_MIN_REPEATS)) {
    return bench_cli_reject("--repeats wants 5 .. 100 (medians of at least 5 runs); got",
                            repeats);
  }
  o->repeats = (int)n;
  return CLATTN_CLI_OK;
}
