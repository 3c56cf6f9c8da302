/*
 * clattn bench --peers: runs the scripts in bench/peers as subprocesses on the prefill
 * shapes. Each script times itself (medians of the same number of runs, after a warm-up) and prints one
 * JSON line; the peers get the device's compute units as their thread count, so that a CPU
 * device and the peer use the same cores.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#ifndef CLATTN_PEERS_SOURCE_DIR
#define CLATTN_PEERS_SOURCE_DIR "bench/peers"
#endif
#ifndef CLATTN_PEERS_INSTALL_DIR
#define CLATTN_PEERS_INSTALL_DIR "/usr/local/share/clattn/peers"
#endif

typedef struct bench_peer {
  const char *impl, *script;
} bench_peer;

static const bench_peer bench_peers[2] = {{"numpy", "numpy_attention.py"},
                                          {"torch sdpa", "torch_sdpa.py"}};

/* The directory holding the scripts: $CLATTN_PEERS_DIR, the source tree, or the install. */
static const char *bench_peers_dir(void) {
  const char *dir = getenv("CLATTN_PEERS_DIR");
  if (dir != NULL && *dir != '\0') {
    return dir;
  }
  return access(CLATTN_PEERS_SOURCE_DIR "/numpy_attention.py", R_OK) == 0
             ? CLATTN_PEERS_SOURCE_DIR
             : CLATTN_PEERS_INSTALL_DIR;
}

/* The number after "key": in a JSON line; 0 when absent. */
static int bench_json_number(const char *text, const char *key, double *value) {
  char pattern[48];
  snprintf(pattern, sizeof pattern, "\"%s\": ", key);
  const char *p = strstr(text, pattern);
  char *end = NULL;
  if (p != NULL) {
    *value = strtod(p + strlen(pattern), &end);
  }
  return p != NULL && end != p + strlen(pattern);
}

/* The string after "key": (no escapes expected) into out; 0 when absent. */
static int bench_json_text(const char *text, const char *key, char *out, size_t cap) {
  char pattern[48];
  snprintf(pattern, sizeof pattern, "\"%s\": \"", key);
  const char *p = strstr(text, pattern);
  if (p == NULL) {
    return 0;
  }
  p += strlen(pattern);
  snprintf(out, cap, "%.*s", (int)strcspn(p, "\""), p);
  return 1;
}

/* The Python interpreter the peers run with: $CLATTN_BENCH_PYTHON, else python3 from PATH. */
static const char *bench_peers_python(void) {
  const char *python = getenv("CLATTN_BENCH_PYTHON");
  return python && *python ? python : "python3";
}

/* Runs one script and reads its last output line into line[cap]; returns the exit status
 * (127: the shell found no interpreter). */
static int bench_peer_exec(const bench_peer *peer, const bench_case *c, int repeats,
                           unsigned threads, char *line, size_t cap) {
  char command[1536];
  const bench_shape *s = &c->shape;
  snprintf(command, sizeof command,
           "OMP_NUM_THREADS=%u OPENBLAS_NUM_THREADS=%u MKL_NUM_THREADS=%u '%s' '%s/%s' "
           "--batch %d --heads %d --seq %d --dim %d%s --repeats %d --threads %u 2>&1",
           threads, threads, threads, bench_peers_python(), bench_peers_dir(), peer->script, s->batch, s->heads,
           s->seq, s->dim, s->causal ? " --causal" : "", repeats, threads);
  FILE *p = popen(command, "r");
  if (p == NULL) {
    snprintf(line, cap, "cannot start a shell");
    return -1;
  }
  char buffer[1024];
  line[0] = '\0';
  while (fgets(buffer, sizeof buffer, p) != NULL) {
    snprintf(line, cap, "%.*s", (int)strcspn(buffer, "\n"), buffer);
  }
  int status = pclose(p);
  return status == -1 ? -1 : (status >> 8) & 0xff;
}

void bench_cli_peers_case(const bench_cli_options *o, bench_cli_report *r, const bench_case *c) {
  unsigned threads = r->device.compute_units > 0 ? r->device.compute_units : 1;
  const bench_result *fused = &c->results[BENCH_FUSED];
  for (int i = 0; i < 2; ++i) {
    char *note = r->peer_notes[i];
    if (note[0] != '\0') {
      continue; /* skipped once: missing for every case */
    }
    char line[512], why[160];
    fprintf(stderr, "clattn bench: %s: %s\n", c->name, bench_peers[i].impl);
    int status = bench_peer_exec(&bench_peers[i], c, o->repeats, threads, line, sizeof line);
    double median = 0.0, low = 0.0, high = 0.0, runs = 0.0;
    if (status == 127) {
      snprintf(note, sizeof r->peer_notes[i], "%s skipped: %.200s not found",
               bench_peers[i].impl, bench_peers_python());
    } else if (bench_json_text(line, "skipped", why, sizeof why)) {
      snprintf(note, sizeof r->peer_notes[i], "%s skipped: %.200s", bench_peers[i].impl, why);
    } else if (status != 0 || !bench_json_number(line, "median_s", &median) ||
               !bench_json_number(line, "min_s", &low) ||
               !bench_json_number(line, "max_s", &high) ||
               !bench_json_number(line, "runs", &runs)) {
      snprintf(note, sizeof r->peer_notes[i], "%s skipped: %s/%s failed (status %d): %.150s",
               bench_peers[i].impl, bench_peers_dir(), bench_peers[i].script, status, line);
    }
    if (note[0] != '\0') {
      continue;
    }
    bench_cli_row *row = bench_cli_row_add(r, "prefill", c->name, bench_peers[i].impl);
    if (row == NULL) {
      return;
    }
    row->seq = c->shape.seq;
    row->dim = c->shape.dim;
    row->causal = c->shape.causal;
    row->ok = median > 0.0;
    row->median_s = median;
    row->median = median > 0.0 ? c->flops / median * 1e-9 : 0.0;
    row->low = high > 0.0 ? c->flops / high * 1e-9 : 0.0;
    row->high = low > 0.0 ? c->flops / low * 1e-9 : 0.0;
    row->runs = (int)runs;
    row->vs_ref = fused->state == BENCH_OK && fused->median_s > 0.0 ? median / fused->median_s
                                                                    : 0.0;
    bench_json_text(line, "version", why, sizeof why);
    snprintf(row->note, sizeof row->note, "%s %s, %u threads, wall time", bench_peers[i].impl,
             why, threads);
  }
}
